/**
 * Colour for people, never for programs. On when the stream is a terminal, unless `--no-color`,
 * `NO_COLOR` (any non-empty value) or `TERM=dumb` say otherwise; `FORCE_COLOR` (1, 2, 3, or empty)
 * turns it on even when piped, `FORCE_COLOR=0` turns it off, and it wins over `NO_COLOR`, as in
 * Node itself. `--color` forces it too. JSON and tab-separated output are never coloured, whatever
 * is set: callers only paint human text.
 */
import {styleText} from 'node:util'

export type Style = Parameters<typeof styleText>[0]

/** The --color / --no-color flag of this process, when one was given. */
let flagChoice: boolean | undefined

export function setColorFlag(choice: boolean | undefined): void {
  flagChoice = choice
}

interface ColorEnv {
  NO_COLOR?: string
  FORCE_COLOR?: string
  TERM?: string
}

export function colorEnabled(stream: {isTTY?: boolean} = process.stdout, env: ColorEnv = process.env, flag = flagChoice): boolean {
  if (flag !== undefined) return flag
  const force = env.FORCE_COLOR
  if (force !== undefined) return !['0', 'false'].includes(force.trim().toLowerCase())
  if (env.NO_COLOR) return false
  if (env.TERM === 'dumb') return false
  return Boolean(stream.isTTY)
}

/**
 * Node 20.12 to 20.18 always emit the codes; later versions check the stream themselves, with
 * rules of their own. The decision is made above, so the stream check is turned off.
 */
function style(format: Style, text: string): string {
  return styleText(format, text, {validateStream: false})
}

/** `text` in `format` when colour is on for `stream`; `text` unchanged otherwise. */
export function paint(format: Style | undefined, text: string, stream: {isTTY?: boolean} = process.stdout): string {
  if (!format || text === '' || !colorEnabled(stream)) return text
  return style(format, text)
}

/** A painter bound to one decision, for renderers that colour many cells. */
export type Painter = (format: Style | undefined, text: string) => string

export function painter(enabled: boolean): Painter {
  return (format, text) => (enabled && format && text !== '' ? style(format, text) : text)
}

const STATUS_STYLES: Record<string, Style> = {
  completed: 'green',
  failed: 'red',
  running: 'yellow',
  queued: 'cyan',
  killed: 'dim',
}

export function statusStyle(status: unknown): Style | undefined {
  return STATUS_STYLES[String(status)]
}

export const TAG_STYLE: Style = 'cyan'

const DIFF_STYLES: Record<string, Style> = {'+': 'green', '-': 'red', '~': 'yellow'}

export function diffStyle(mark: string): Style | undefined {
  return DIFF_STYLES[mark]
}
