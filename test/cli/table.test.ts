/**
 * Tables for people fit the terminal: long cells cut with … by display width, the least useful
 * columns dropped when cutting is not enough, everything with --wide; TSV untouched. Colour
 * follows NO_COLOR, FORCE_COLOR and --color/--no-color, and never counts towards a width.
 */
import {describe, expect, it} from 'vitest'
import {colorEnabled} from '../../src/cli/color.js'
import {displayWidth, stripAnsi, truncateToWidth} from '../../src/cli/display-width.js'
import {type Column, fitColumns, renderTable, terminalWidth} from '../../src/cli/output.js'
import {statusStyle} from '../../src/cli/color.js'
import {LOG_COLUMNS} from '../../src/commands/models/log.js'

const AUTHOR = 'a.very.long.author.name@some-company.example.com'
const COMMENT = 'first version: gradient boosting with 500 trees, tuned on the validation split — 日本語のコメント 🚀'

/** The columns of `models list-versions`. */
const VERSION_COLUMNS: Column[] = ([
  'VERSION',
  {header: 'TAGS', truncate: true},
  {header: 'AUTHOR', truncate: true, priority: 3},
  {header: 'CREATED', priority: 2},
  {header: 'SIZE', priority: 3},
  {header: 'FILES', priority: 4},
  {header: 'COMMENT', truncate: true, minWidth: 20, priority: 2},
] as (Column | string)[]).map((c) => (typeof c === 'string' ? {header: c} : c))

const VERSION_ROWS = [
  [12, 'latest', AUTHOR, '3 minutes ago', '25.2 MB', 1, 'second'],
  [11, 'prod,staging,champion,canary-eu-west-1', AUTHOR, '2 days ago', '1.2 GB', 14, COMMENT],
  [10, '', 'ci@example.com', '3 weeks ago', '3 B', 1, ''],
]

const lines = (text: string) => text.split('\n')
const widest = (text: string) => Math.max(...lines(text).map((l) => displayWidth(l)))
const headers = (text: string) => lines(text)[0].split(/\s{2,}/)

describe('display width', () => {
  it('counts East Asian wide characters and emoji as two, marks and colour codes as nothing', () => {
    expect(displayWidth('abc')).toBe(3)
    expect(displayWidth('日本語')).toBe(6)
    expect(displayWidth('한국어')).toBe(6)
    expect(displayWidth('ＡＢ')).toBe(4)
    expect(displayWidth('🚀')).toBe(2)
    expect(displayWidth('👨‍👩‍👧')).toBe(2)
    expect(displayWidth('🇫🇷')).toBe(2)
    expect(displayWidth('❤️')).toBe(2)
    expect(displayWidth('é')).toBe(1) // e + combining acute
    expect(displayWidth('café…')).toBe(5)
    expect(displayWidth('\u001B[32mgreen\u001B[39m')).toBe(5)
  })

  it('cuts by columns, never in the middle of a wide character, and ends with …', () => {
    expect(truncateToWidth('abcdef', 4)).toBe('abc…')
    expect(truncateToWidth('abc', 3)).toBe('abc')
    expect(truncateToWidth('日本語のコメント', 6)).toBe('日本…')
    expect(truncateToWidth('日本語のコメント', 7)).toBe('日本語…')
    expect(truncateToWidth('go 🚀🚀', 5)).toBe('go …')
    for (let w = 1; w <= 20; w++) expect(displayWidth(truncateToWidth(COMMENT, w))).toBeLessThanOrEqual(w)
  })
})

describe('renderTable on a terminal', () => {
  it.each([40, 80, 200])('at %i columns no line is wider than the terminal', (width) => {
    const text = renderTable(VERSION_COLUMNS, VERSION_ROWS, {terminal: true, width, color: false})
    expect(widest(text)).toBeLessThanOrEqual(width)
    expect(lines(text)).toHaveLength(4)
    // The version and the tags (which may be cut, never dropped) are always there.
    expect(headers(text).slice(0, 2)).toEqual(['VERSION', 'TAGS'])
    for (const [i, row] of VERSION_ROWS.entries()) expect(lines(text)[i + 1].startsWith(String(row[0]))).toBe(true)
  })

  it('at 200 columns shows every column and cuts only what cannot fit', () => {
    const text = renderTable(VERSION_COLUMNS, VERSION_ROWS, {terminal: true, width: 200, color: false})
    expect(headers(text)).toEqual(['VERSION', 'TAGS', 'AUTHOR', 'CREATED', 'SIZE', 'FILES', 'COMMENT'])
    expect(text).toContain(AUTHOR)
    expect(text).toContain('prod,staging,champion,canary-eu-west-1')
    expect(text).toContain('first version: gradient boosting')
    expect(text).toContain('…')
  })

  it('at 80 columns cuts the long cells with …, and drops the least useful column only when cutting is not enough', () => {
    const text = renderTable(VERSION_COLUMNS, VERSION_ROWS, {terminal: true, width: 80, color: false})
    expect(headers(text)).toEqual(['VERSION', 'TAGS', 'AUTHOR', 'CREATED', 'SIZE', 'COMMENT'])
    expect(text).not.toContain(AUTHOR)
    expect(text).toMatch(/a\.very\.long\S*…/)
    expect(text).toMatch(/first version: gra\S*…/)
    // With short cells, nothing is dropped.
    const short = renderTable(VERSION_COLUMNS, [[1, 'prod', 'me@example.com', 'just now', '3 B', 1, 'first']], {terminal: true, width: 80, color: false})
    expect(headers(short)).toEqual(['VERSION', 'TAGS', 'AUTHOR', 'CREATED', 'SIZE', 'FILES', 'COMMENT'])
    expect(text).toContain('25.2 MB')
    expect(text).toContain('3 minutes ago')
  })

  it('at 40 columns drops the least useful columns first (highest priority number, then rightmost)', () => {
    const text = renderTable(VERSION_COLUMNS, VERSION_ROWS, {terminal: true, width: 40, color: false})
    const shown = headers(text)
    expect(shown).not.toContain('FILES')
    expect(shown).not.toContain('AUTHOR')
    expect(shown).not.toContain('SIZE')
    expect(shown).toContain('CREATED')
  })

  it("models log at 80 columns keeps each event whole: the author gives way, not what moved", () => {
    const rows = [
      ['just now', 'credit-risk:2', 'untag staging', '', 'maintainers@users.noreply.example.com', ''],
      ['just now', 'credit-risk:2', 'tag prod (from 1)', '', 'maintainers@users.noreply.example.com', ''],
      ['just now', 'credit-risk:2', 'push', '', 'maintainers@users.noreply.example.com', 'July data'],
      ['just now', 'credit-risk:1', 'tag prod', 'latest', 'maintainers@users.noreply.example.com', ''],
      ['just now', 'credit-risk:1', 'push', 'latest', 'maintainers@users.noreply.example.com', 'Built new model using the data till June 2017'],
    ]
    const text = renderTable(LOG_COLUMNS, rows, {terminal: true, width: 80, color: false})
    expect(widest(text)).toBeLessThanOrEqual(80)
    expect(headers(text)).toEqual(['DATE', 'VERSION', 'EVENT', 'TAGS', 'COMMENT'])
    expect(lines(text).slice(1, 3)).toEqual(['just now  credit-risk:2  untag staging', 'just now  credit-risk:2  tag prod (from 1)'])
  })

  it('--wide shows everything uncut, whatever the width', () => {
    const text = renderTable(VERSION_COLUMNS, VERSION_ROWS, {terminal: true, width: 40, wide: true, color: false})
    expect(headers(text)).toEqual(['VERSION', 'TAGS', 'AUTHOR', 'CREATED', 'SIZE', 'FILES', 'COMMENT'])
    expect(text).toContain(AUTHOR)
    expect(text).toContain(COMMENT)
    expect(text).not.toContain('…')
  })

  it('aligns columns by display width when cells hold wide characters', () => {
    const text = renderTable(['NAME', 'NOTE'], [['日本語', 'x'], ['abc', 'y']], {terminal: true, width: 80, color: false})
    const [, a, b] = lines(text)
    expect(displayWidth(a.slice(0, a.indexOf('x')))).toBe(displayWidth(b.slice(0, b.indexOf('y'))))
  })

  it('cuts even essential columns rather than wrap, and shows control characters instead of obeying them', () => {
    const text = renderTable(['NAME', 'ID'], [['x'.repeat(60), 'y'.repeat(30)], ['evil\u001B[2Jname', 'z']], {terminal: true, width: 40, color: false})
    expect(widest(text)).toBeLessThanOrEqual(40)
    expect(text).not.toContain('\u001B')
    expect(text).toContain('evil\uFFFD[2Jname')
  })

  it('colours cells after fitting: the codes take no room and a coloured table is as wide as a plain one', () => {
    const columns: (Column | string)[] = ['ID', {header: 'STATUS', style: statusStyle}, {header: 'METRICS', truncate: true}]
    const rows = [
      ['r1', 'completed', 'loss=0.12 accuracy=0.97 '.repeat(6)],
      ['r2', 'failed', ''],
      ['r3', 'running', 'loss=0.5'],
    ]
    for (const width of [40, 80, 200]) {
      const plain = renderTable(columns, rows, {terminal: true, width, color: false})
      const coloured = renderTable(columns, rows, {terminal: true, width, color: true})
      expect(coloured).toContain('\u001B[32mcompleted\u001B[39m')
      expect(coloured).toContain('\u001B[31mfailed\u001B[39m')
      expect(coloured).toContain('\u001B[33mrunning\u001B[39m')
      expect(stripAnsi(coloured)).toBe(plain)
      expect(widest(coloured)).toBeLessThanOrEqual(width)
    }
  })

  it('fitColumns keeps what fits and drops by priority', () => {
    const cols: Column[] = [{header: 'A'}, {header: 'B', priority: 2}, {header: 'C', priority: 3}, {header: 'D', truncate: true, priority: 2}]
    expect(fitColumns(cols, [10, 10, 10, 30], 100)).toEqual({shown: [0, 1, 2, 3], widths: [10, 10, 10, 30]})
    expect(fitColumns(cols, [10, 10, 10, 30], 50)).toEqual({shown: [0, 1, 2, 3], widths: [10, 10, 10, 14]})
    expect(fitColumns(cols, [10, 10, 10, 30], 40).shown).toEqual([0, 1, 3])
    expect(fitColumns(cols, [10, 10, 10, 30], 20).shown).toEqual([0])
  })
})

describe('renderTable piped', () => {
  it('writes tab-separated values without a header, never cut, never coloured', () => {
    const text = renderTable(VERSION_COLUMNS, VERSION_ROWS, {terminal: false, width: 40, color: true})
    expect(lines(text)).toHaveLength(3)
    expect(lines(text)[1]).toBe(['11', 'prod,staging,champion,canary-eu-west-1', AUTHOR, '2 days ago', '1.2 GB', '14', COMMENT].join('\t'))
    expect(text).not.toContain('\u001B')
  })
})

describe('terminal width', () => {
  it('is the stream columns, else COLUMNS, else 80', () => {
    expect(terminalWidth({columns: 123}, {})).toBe(123)
    expect(terminalWidth({columns: 0}, {COLUMNS: '100'})).toBe(100)
    expect(terminalWidth({columns: 0}, {COLUMNS: 'wide'})).toBe(80)
    expect(terminalWidth({}, {})).toBe(80)
  })
})

describe('colour rules', () => {
  const tty = {isTTY: true}
  const pipe = {isTTY: false}
  it('on for a terminal, off when piped', () => {
    expect(colorEnabled(tty, {}, undefined)).toBe(true)
    expect(colorEnabled(pipe, {}, undefined)).toBe(false)
  })
  it('NO_COLOR with any non-empty value turns it off; empty is as unset', () => {
    expect(colorEnabled(tty, {NO_COLOR: '1'}, undefined)).toBe(false)
    expect(colorEnabled(tty, {NO_COLOR: 'false'}, undefined)).toBe(false)
    expect(colorEnabled(tty, {NO_COLOR: ''}, undefined)).toBe(true)
    expect(colorEnabled(tty, {TERM: 'dumb'}, undefined)).toBe(false)
  })
  it('FORCE_COLOR=1..3 (or empty) turns it on even piped and over NO_COLOR; FORCE_COLOR=0 turns it off', () => {
    for (const value of ['', '1', '2', '3', 'true']) expect(colorEnabled(pipe, {FORCE_COLOR: value}, undefined)).toBe(true)
    expect(colorEnabled(pipe, {FORCE_COLOR: '1', NO_COLOR: '1'}, undefined)).toBe(true)
    expect(colorEnabled(tty, {FORCE_COLOR: '0'}, undefined)).toBe(false)
    expect(colorEnabled(tty, {FORCE_COLOR: 'false'}, undefined)).toBe(false)
  })
  it('--no-color and --color win over everything', () => {
    expect(colorEnabled(tty, {FORCE_COLOR: '1'}, false)).toBe(false)
    expect(colorEnabled(pipe, {NO_COLOR: '1'}, true)).toBe(true)
  })
})
