/**
 * Human output. On a terminal: aligned tables with headers and relative times. Piped: header-
 * less tab-separated values with ISO times, one record a line, for cut/awk/sort.
 */
import {loadTable} from '../lazy.js'

export function stdoutIsTerminal(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.MODELREG_NO_TTY
}

/**
 * The width to draw for on a terminal stream. A pseudo-terminal without a size (CI runners,
 * `docker run -t`, `script`, some IDEs) reports 0 columns, and some streams report none: both
 * are taken as 80, so no caller ever divides by zero or draws for an infinitely narrow screen.
 */
export function terminalWidth(stream: {columns?: number} = process.stderr): number {
  const columns = stream.columns
  return typeof columns === 'number' && Number.isFinite(columns) && columns > 0 ? Math.floor(columns) : 80
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

function truncate(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text
}

export interface Column {
  header: string
  /** On a terminal, longer cells are cut to this many characters. */
  max?: number
}

/** Render rows as a table (terminal) or as TSV without a header (pipe). */
export function renderTable(columns: (Column | string)[], rows: unknown[][]): string {
  const cols = columns.map((c) => (typeof c === 'string' ? {header: c} : c))
  const terminal = stdoutIsTerminal()
  if (!terminal) return rows.map((row) => row.map((cell) => clean(cell)).join('\t')).join('\n')
  if (rows.length === 0) return ''
  const Table = loadTable()
  const table = new Table({
    head: cols.map((c) => c.header),
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '  ',
    },
    style: {head: [], border: [], 'padding-left': 0, 'padding-right': 0},
    wordWrap: false,
  })
  for (const row of rows) table.push(row.map((cell, i) => truncate(clean(cell), cols[i]?.max ?? 200)))
  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
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
