import {describe, expect, it} from 'vitest'
import {compileFilter, type FieldResolver, parseFilter} from '../../src/backends/filter.js'
import {SQLITE} from '../../src/backends/local/store.js'

const show = (source: string): string => {
  const walk = (n: ReturnType<typeof parseFilter>): string => {
    switch (n.kind) {
      case 'and':
      case 'or':
        return `(${walk(n.left)} ${n.kind} ${walk(n.right)})`
      case 'not':
        return `(not ${walk(n.operand)})`
      case 'compare':
        return `${n.field} ${n.op} ${JSON.stringify(n.value)}`
    }
  }
  return walk(parseFilter(source))
}

const fields: FieldResolver = {describe: 'a, b, metrics.*', field: (name) => (name === 'a' || name === 'b' || name.startsWith('metrics.') ? {sql: name.replace('.', '_'), params: []} : null)}

describe('filter language', () => {
  it('parses every operator and value kind', () => {
    expect(show("a = 'x'")).toBe('a = "x"')
    expect(show('a != 1')).toBe('a != 1')
    expect(show('a <> 1')).toBe('a != 1')
    expect(show('a < -1.5')).toBe('a < -1.5')
    expect(show('a <= 1e-3')).toBe('a <= 0.001')
    expect(show('a > .5')).toBe('a > 0.5')
    expect(show('a >= 2')).toBe('a >= 2')
    expect(show("a LIKE 'x%'")).toBe('a like "x%"')
    expect(show("a not like \"y%\"")).toBe('a not like "y%"')
    expect(show('a = true and b = false or a = null')).toBe('((a = true and b = false) or a = null)')
    expect(show("a = 'it\\'s'")).toBe('a = "it\'s"')
    expect(show('metrics.loss[valid] < 0.3')).toBe('metrics.loss[valid] < 0.3')
    expect(show('metrics.val/loss:x < 1')).toBe('metrics.val/loss:x < 1')
  })

  it('and binds tighter than or; parentheses and not group', () => {
    expect(show('a = 1 or b = 2 and a = 3')).toBe('(a = 1 or (b = 2 and a = 3))')
    expect(show('(a = 1 or b = 2) and a = 3')).toBe('((a = 1 or b = 2) and a = 3)')
    expect(show('a = 1 and b = 2 or a = 3 and b = 4')).toBe('((a = 1 and b = 2) or (a = 3 and b = 4))')
    expect(show('not a = 1 and b = 2')).toBe('((not a = 1) and b = 2)')
    expect(show('not (a = 1 or b = 2)')).toBe('(not (a = 1 or b = 2))')
    expect(show('((a = 1))')).toBe('a = 1')
    expect(show('A = 1 AND b = 2 OR NOT a = 3')).toBe('((A = 1 and b = 2) or (not a = 3))')
  })

  it.each([
    ['', /empty/],
    ['a', /column 2: expected an operator/],
    ['a =', /column 4: expected a value/],
    ['a = 1 and', /column 10: expected a field name/],
    ['a = 1 b = 2', /column 7: unexpected "b"/],
    ['(a = 1', /column 7: expected "\)" to close the "\(" at column 1/],
    ['a = 1)', /column 6: unexpected "\)"/],
    ["a = 'open", /column 5: unterminated string/],
    ['a # 1', /column 3: unexpected character "#"/],
    ['a like 1', /column 8: like takes a quoted pattern/],
    ['a < null', /column 5: null can only be compared with = or !=/],
    ['= 1', /column 1: expected a field name, not "="/],
  ])('refuses %j with the column', (source, message) => {
    expect(() => parseFilter(source)).toThrow(message)
  })

  it('compiles to bound SQL: values never become SQL text', () => {
    const sql = compileFilter("a = 'x\\' OR 1=1 --' and metrics.acc > 0.9 or not b = true", fields, SQLITE)
    expect(sql.sql).toBe('(((a = ?) AND (metrics_acc > ?)) OR (NOT COALESCE((b = ?), 0)))')
    expect(sql.params).toEqual(["x' OR 1=1 --", 0.9, 1])
    expect(compileFilter('a = null', fields, SQLITE)).toEqual({sql: '(a IS NULL)', params: []})
    expect(() => compileFilter('zzz = 1', fields, SQLITE)).toThrow(/column 1: unknown field "zzz"; use a, b, metrics\.\*/)
  })
})
