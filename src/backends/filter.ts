/**
 * The `--where` filter language, compiled to SQL with bound parameters (never spliced text):
 *
 *   expr       := or
 *   or         := and ("or" and)*
 *   and        := not ("and" not)*
 *   not        := "not" not | "(" expr ")" | comparison
 *   comparison := field op value
 *   op         := "=" | "!=" | "<" | "<=" | ">" | ">=" | "like" | "not like"
 *   value      := number | 'text' | "text" | true | false | null
 *
 * Keywords are case-insensitive; `and` binds tighter than `or`. A field that is missing on a row
 * never matches (except `= null`). Errors name the column where the input went wrong.
 */
import {invalid} from './errors.js'

export type FilterValue = string | number | boolean | null

export type FilterNode =
  | {kind: 'and'; left: FilterNode; right: FilterNode}
  | {kind: 'or'; left: FilterNode; right: FilterNode}
  | {kind: 'not'; operand: FilterNode}
  | {kind: 'compare'; field: string; op: string; value: FilterValue; column: number}

interface Token {
  kind: 'field' | 'op' | 'string' | 'number' | 'lparen' | 'rparen' | 'keyword' | 'end'
  text: string
  value?: FilterValue
  column: number
}

const KEYWORDS = new Set(['and', 'or', 'not', 'like', 'true', 'false', 'null'])
const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_.\-/:]*(\[[A-Za-z0-9_-]+\])?/
const NUMBER_RE = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/

function fail(source: string, column: number, message: string): never {
  const near = source.slice(column - 1, column + 19)
  throw invalid(`invalid filter at column ${column}: ${message}${near ? ` (near ${JSON.stringify(near)})` : ' (at the end)'}`)
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < source.length) {
    const c = source[i]
    const column = i + 1
    if (/\s/.test(c)) {
      i++
      continue
    }
    if (c === '(' || c === ')') {
      tokens.push({kind: c === '(' ? 'lparen' : 'rparen', text: c, column})
      i++
      continue
    }
    const op = /^(<=|>=|!=|<>|=|<|>)/.exec(source.slice(i))
    if (op) {
      tokens.push({kind: 'op', text: op[1] === '<>' ? '!=' : op[1], column})
      i += op[1].length
      continue
    }
    if (c === "'" || c === '"') {
      let j = i + 1
      let text = ''
      while (j < source.length && source[j] !== c) {
        if (source[j] === '\\' && j + 1 < source.length) j++
        text += source[j]
        j++
      }
      if (j >= source.length) fail(source, column, 'unterminated string')
      tokens.push({kind: 'string', text: source.slice(i, j + 1), value: text, column})
      i = j + 1
      continue
    }
    const number = NUMBER_RE.exec(source.slice(i))
    if (number && (c === '-' || /[\d.]/.test(c))) {
      tokens.push({kind: 'number', text: number[0], value: Number(number[0]), column})
      i += number[0].length
      continue
    }
    const word = FIELD_RE.exec(source.slice(i))
    if (word) {
      const lower = word[0].toLowerCase()
      if (KEYWORDS.has(lower)) tokens.push({kind: 'keyword', text: lower, column})
      else tokens.push({kind: 'field', text: word[0], column})
      i += word[0].length
      continue
    }
    fail(source, column, `unexpected character ${JSON.stringify(c)}`)
  }
  tokens.push({kind: 'end', text: '', column: source.length + 1})
  return tokens
}

export function parseFilter(source: string): FilterNode {
  if (source.trim() === '') throw invalid('invalid filter: it is empty')
  if (source.length > 4096) throw invalid('invalid filter: longer than 4096 characters')
  const tokens = tokenize(source)
  let pos = 0
  let depth = 0
  const peek = () => tokens[pos]
  const next = () => tokens[pos++]
  const isKeyword = (word: string) => peek().kind === 'keyword' && peek().text === word

  const parseOr = (): FilterNode => {
    let left = parseAnd()
    while (isKeyword('or')) {
      next()
      left = {kind: 'or', left, right: parseAnd()}
    }
    return left
  }
  const parseAnd = (): FilterNode => {
    let left = parseNot()
    while (isKeyword('and')) {
      next()
      left = {kind: 'and', left, right: parseNot()}
    }
    return left
  }
  const parseNot = (): FilterNode => {
    if (isKeyword('not')) {
      next()
      return {kind: 'not', operand: parseNot()}
    }
    if (peek().kind === 'lparen') {
      const open = next()
      if (++depth > 32) fail(source, open.column, 'parentheses nested too deeply')
      const inner = parseOr()
      if (peek().kind !== 'rparen') fail(source, peek().column, `expected ")" to close the "(" at column ${open.column}`)
      next()
      depth--
      return inner
    }
    return parseComparison()
  }
  const parseComparison = (): FilterNode => {
    const field = next()
    if (field.kind !== 'field') fail(source, field.column, field.kind === 'end' ? 'expected a field name' : `expected a field name, not ${JSON.stringify(field.text)}`)
    let op: string
    const t = next()
    if (t.kind === 'op') op = t.text
    else if (t.kind === 'keyword' && t.text === 'like') op = 'like'
    else if (t.kind === 'keyword' && t.text === 'not' && isKeyword('like')) {
      next()
      op = 'not like'
    } else fail(source, t.column, `expected an operator (= != < <= > >= like) after ${JSON.stringify(field.text)}`)
    const v = next()
    let value: FilterValue
    if (v.kind === 'string' || v.kind === 'number') value = v.value as FilterValue
    else if (v.kind === 'keyword' && (v.text === 'true' || v.text === 'false')) value = v.text === 'true'
    else if (v.kind === 'keyword' && v.text === 'null') value = null
    else fail(source, v.column, `expected a value (a number, 'text', true, false or null) after "${op}"`)
    if ((op === 'like' || op === 'not like') && typeof value !== 'string') fail(source, v.column, 'like takes a quoted pattern')
    if (value === null && op !== '=' && op !== '!=') fail(source, v.column, 'null can only be compared with = or !=')
    return {kind: 'compare', field: field.text, op, value, column: field.column}
  }

  const tree = parseOr()
  if (peek().kind !== 'end') fail(source, peek().column, `unexpected ${JSON.stringify(peek().text)}; combine comparisons with and / or`)
  return tree
}

// ---------------------------------------------------------------------------------------------
// compiling to SQL

export interface SqlFragment {
  sql: string
  params: unknown[]
}

/** A field: an SQL expression, or a top-level key of a JSON text column (the dialect spells it). */
export type FieldRef = SqlFragment | {json: {column: string; key: string}}

/** How one target (runs, versions) maps a field name to an SQL expression. */
export interface FieldResolver {
  /** Known fields, for error messages. */
  describe: string
  /** The field, or null when unknown. */
  field(name: string): FieldRef | null
  /** Special comparisons (set membership such as version tags), or null for the generic one. */
  special?(name: string, op: string, value: FilterValue, fail: (message: string) => never): SqlFragment | null
}

/** What SQLite and PostgreSQL spell differently in a filter (see sql/driver.ts). */
export interface FilterDialect {
  jsonField(column: string, key: string): SqlFragment
  jsonValue(value: unknown): SqlFragment
  jsonText(column: string, key: string): SqlFragment
  readonly falseValue: string
}

const SQL_OPS: Record<string, string> = {'=': '=', '!=': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=', like: 'LIKE', 'not like': 'NOT LIKE'}

/** A field as an SQL expression (for sorting too), or null when unknown. */
export function fieldSql(resolver: FieldResolver, name: string, dialect: FilterDialect): SqlFragment | null {
  const field = resolver.field(name)
  if (!field) return null
  return 'json' in field ? dialect.jsonField(field.json.column, field.json.key) : field
}

export function compileFilter(source: string, resolver: FieldResolver, dialect: FilterDialect): SqlFragment {
  const tree = parseFilter(source)
  const walk = (node: FilterNode): SqlFragment => {
    if (node.kind === 'and' || node.kind === 'or') {
      const l = walk(node.left)
      const r = walk(node.right)
      return {sql: `(${l.sql} ${node.kind.toUpperCase()} ${r.sql})`, params: [...l.params, ...r.params]}
    }
    if (node.kind === 'not') {
      const inner = walk(node.operand)
      return {sql: `(NOT COALESCE(${inner.sql}, ${dialect.falseValue}))`, params: inner.params}
    }
    const failHere = (message: string): never => fail(source, node.column, message)
    const special = resolver.special?.(node.field, node.op, node.value, failHere)
    if (special) return special
    const field = resolver.field(node.field)
    if (!field) failHere(`unknown field ${JSON.stringify(node.field)}; use ${resolver.describe}`)
    const ref = field as FieldRef
    const like = node.op === 'like' || node.op === 'not like'
    const expr = 'json' in ref ? (like ? dialect.jsonText : dialect.jsonField)(ref.json.column, ref.json.key) : ref
    if (node.value === null) return {sql: `(${expr.sql} ${node.op === '=' ? 'IS' : 'IS NOT'} NULL)`, params: expr.params}
    // A plain column holds no JSON booleans: true and false compare as 1 and 0 there.
    const plain = typeof node.value === 'boolean' ? (node.value ? 1 : 0) : node.value
    const value = 'json' in ref && !like ? dialect.jsonValue(node.value) : {sql: '?', params: [plain]}
    return {sql: `(${expr.sql} ${SQL_OPS[node.op]} ${value.sql})`, params: [...expr.params, ...value.params]}
  }
  return walk(tree)
}

/** Split `name[split]` into its parts. */
export function parseMetricKey(key: string): {name: string; split: string} {
  const match = /^(.+?)(?:\[([A-Za-z0-9_-]+)\])?$/.exec(key)
  return match ? {name: match[1], split: match[2] ?? ''} : {name: key, split: ''}
}

export function metricKey(name: string, split: string): string {
  return split ? `${name}[${split}]` : name
}

/** `$."key"`: a JSON path for one top-level key (keys come from the tokenizer: no quotes). */
export function jsonPath(key: string): string {
  return `$."${key.replace(/"/g, '')}"`
}
