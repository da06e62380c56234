/**
 * Human output. On a terminal: aligned tables with headers and relative times. Piped: header-
 * less tab-separated values with ISO times, one record a line, for cut/awk/sort.
 */
import {colorEnabled, painter, type Style} from './color.js'
import {displayWidth, truncateToWidth} from './display-width.js'

export function stdoutIsTerminal(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.MODELREG_NO_TTY
}

/**
 * The width to draw for on a terminal stream. A pseudo-terminal without a size (CI runners,
 * `docker run -t`, `script`, some IDEs) reports 0 columns, and some streams report none: then
 * `COLUMNS` when it holds a positive number, else 80, so no caller ever divides by zero or draws
 * for an infinitely narrow screen.
 */
export function terminalWidth(stream: {columns?: number} = process.stderr, env: {COLUMNS?: string} = process.env): number {
  const columns = stream.columns
  if (typeof columns === 'number' && Number.isFinite(columns) && columns > 0) return Math.floor(columns)
  const fromEnv = Number(env.COLUMNS)
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 80
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB']

export function formatBytes(bytes: number): string {
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`
}

export function relativeTime(iso: string, now: number = Date.now()): string {
  const then = new Date(iso).getTime()
  if (Number.isNaN(then)) return iso
  const seconds = Math.round((now - then) / 1000)
  if (seconds < 0) return 'just now'
  if (seconds < 45) return 'just now'
  const steps: [number, string][] = [
    [60, 'minute'],
    [3600, 'hour'],
    [86_400, 'day'],
    [30 * 86_400, 'month'],
    [365 * 86_400, 'year'],
  ]
  let chosen: [number, string] = steps[0]
  for (const step of steps) if (seconds >= step[0]) chosen = step
  if (seconds >= 7 * 86_400 && seconds < 30 * 86_400) chosen = [7 * 86_400, 'week']
  const n = Math.max(1, Math.round(seconds / chosen[0]))
  return `${n} ${chosen[1]}${n === 1 ? '' : 's'} ago`
}

/** A time for a table cell: relative on a terminal, ISO 8601 when piped. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return ''
  return stdoutIsTerminal() ? relativeTime(iso) : iso
}

/** One record a line, one field a column, whatever the data holds. */
function clean(cell: unknown): string {
  const text = cell === null || cell === undefined ? '' : String(cell)
  return text.replace(/[\r\n\t]+/g, ' ')
}

/** On a terminal, control characters in the data (escape sequences among them) are shown, not obeyed. */
function cleanForTerminal(cell: unknown): string {
  // eslint-disable-next-line no-control-regex
  return clean(cell).replace(/[\u0000-\u001F\u007F-\u009F]/g, '\uFFFD')
}

export interface Column {
  header: string
  /**
   * Which columns stay when the terminal is too narrow even with long cells cut: 1 (the
   * default) is kept longest; the highest number drops first (the rightmost among equals).
   */
  priority?: number
  /** Long cells may be cut with `…` to fit the terminal (comments, e-mails, tag lists ...). */
  truncate?: boolean
  /** The narrowest a truncated column gets (default: its header's width, at least 10). */
  minWidth?: number
  /** Colour of a cell on a terminal, from its value. */
  style?: Style | ((cell: unknown) => Style | undefined)
}

export interface TableOptions {
  /** Draw for a terminal (aligned, fitted) rather than write TSV (default: is stdout a terminal). */
  terminal?: boolean
  /** Columns available (default: stdout's width, 80 when unknown). */
  width?: number
  /** Everything, uncut, however wide (--wide). */
  wide?: boolean
  /** Colour cells that have a style (default: the colour rules for stdout). */
  color?: boolean
}

const GAP = 2

/** Narrow the widest of `widths` (not below `mins`) until they fit in `budget`; false if they cannot. */
function shrink(widths: number[], mins: number[], budget: number): boolean {
  let excess = widths.reduce((a, b) => a + b, 0) - budget
  const room = widths.reduce((sum, w, i) => sum + (w - mins[i]), 0)
  if (excess > room) return false
  while (excess > 0) {
    let widest = -1
    for (let i = 0; i < widths.length; i++) if (widths[i] > mins[i] && (widest === -1 || widths[i] > widths[widest])) widest = i
    widths[widest]--
    excess--
  }
  return true
}

/**
 * Which columns to show and how wide, for `width` terminal columns: first cut the cells that
 * may be cut, then drop the least important columns, and as a last resort cut any column.
 */
export function fitColumns(columns: Column[], natural: number[], width: number): {shown: number[]; widths: number[]} {
  const shown = columns.map((_, i) => i)
  for (;;) {
    const widths = shown.map((i) => natural[i])
    const budget = width - GAP * (shown.length - 1)
    const mins = shown.map((i) => {
      const c = columns[i]
      return c.truncate ? Math.min(natural[i], c.minWidth ?? Math.max(displayWidth(c.header), 10)) : natural[i]
    })
    if (shrink(widths, mins, budget)) return {shown, widths}
    const droppable = shown.filter((i) => (columns[i].priority ?? 1) > 1)
    if (droppable.length > 0) {
      let drop = droppable[0]
      for (const i of droppable) if ((columns[i].priority ?? 1) >= (columns[drop].priority ?? 1)) drop = i
      shown.splice(shown.indexOf(drop), 1)
      continue
    }
    if (shrink(widths, widths.map(() => 1), budget)) return {shown, widths}
    if (shown.length === 1) return {shown, widths: [Math.max(1, width)]}
    shown.pop()
  }
}

/** Render rows as a table (terminal) or as TSV without a header (pipe). */
export function renderTable(columns: (Column | string)[], rows: unknown[][], options: TableOptions = {}): string {
  const cols = columns.map((c) => (typeof c === 'string' ? {header: c} : c))
  const terminal = options.terminal ?? stdoutIsTerminal()
  if (!terminal) return rows.map((row) => row.map((cell) => clean(cell)).join('\t')).join('\n')
  if (rows.length === 0) return ''
  const cells = rows.map((row) => cols.map((_, i) => cleanForTerminal(row[i])))
  const natural = cols.map((c, i) => Math.max(displayWidth(c.header), ...cells.map((row) => displayWidth(row[i]))))
  const {shown, widths} = options.wide ? {shown: cols.map((_, i) => i), widths: natural} : fitColumns(cols, natural, options.width ?? terminalWidth(process.stdout))
  const paint = painter(options.color ?? colorEnabled(process.stdout))
  const line = (texts: string[], styles: (Style | undefined)[]) =>
    shown
      .map((col, k) => {
        const text = truncateToWidth(texts[col], widths[k])
        const padding = k === shown.length - 1 ? '' : ' '.repeat(Math.max(0, widths[k] - displayWidth(text)))
        return paint(styles[col], text) + padding
      })
      .join(' '.repeat(GAP))
      .trimEnd()
  const styleOf = (c: Column, cell: unknown) => (typeof c.style === 'function' ? c.style(cell) : c.style)
  return [
    line(
      cols.map((c) => c.header),
      [],
    ),
    ...rows.map((row, r) =>
      line(
        cells[r],
        cols.map((c, i) => styleOf(c, row[i])),
      ),
    ),
  ].join('\n')
}

/** Aligned "key: value" lines for a summary of one thing. */
export function renderFields(fields: [string, unknown][]): string {
  const shown = fields.filter(([, value]) => value !== undefined && value !== null && value !== '')
  const width = Math.max(0, ...shown.map(([key]) => key.length))
  return shown.map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${String(value)}`).join('\n')
}

export function formatJsonInline(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}
