/**
 * Lines from a byte stream, pulled chunk by chunk: the reader sets the pace (unlike readline's
 * iterator, which keeps reading ahead while a slow consumer works), so memory stays flat.
 */
import {StringDecoder} from 'node:string_decoder'
import type {MetricPointInput} from '../backends/backend.js'
import {invalid, RegistryError} from '../backends/errors.js'
import {isJsonObject} from '../backends/validation.js'

export async function* splitLines(source: AsyncIterable<Buffer | string>, maxLine = Number.POSITIVE_INFINITY): AsyncIterable<string> {
  for await (const lines of splitLineChunks(source, maxLine)) yield* lines
}

/**
 * The same lines, an array per chunk read: for hot paths (a million metric points) where an
 * await per line would cost more than the work done on it.
 */
export async function* splitLineChunks(source: AsyncIterable<Buffer | string>, maxLine = Number.POSITIVE_INFINITY): AsyncIterable<string[]> {
  const decoder = new StringDecoder('utf8')
  let rest = ''
  let line = 0
  for await (const chunk of source) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk))
    const lines: string[] = []
    let start = 0
    let newline = text.indexOf('\n')
    while (newline >= 0) {
      line++
      lines.push(text.charCodeAt(newline - 1) === 13 ? text.slice(start, newline - 1) : text.slice(start, newline))
      start = newline + 1
      newline = text.indexOf('\n', start)
    }
    rest = text.slice(start)
    if (lines.length > 0) yield lines
    if (rest.length > maxLine) throw new RegistryError('payload_too_large', `line ${line + 1} is longer than ${maxLine} characters`)
  }
  rest += decoder.end()
  if (rest.length > 0) yield [rest]
}

/**
 * NDJSON lines to metric points, blank lines skipped (the backend validates each point). An
 * error names the line in the whole input: `before` lines came earlier; `label` (e.g. "--file
 * points.ndjson") goes first; `check` may refuse a line before it is parsed.
 */
export function parsePointLines(lines: string[], before: number, options: {label?: string; check?: (text: string, where: string) => void} = {}): MetricPointInput[] {
  const points: MetricPointInput[] = []
  const prefix = options.label ? `${options.label} ` : ''
  let n = before
  for (const line of lines) {
    n++
    if (line.trim() === '') continue
    options.check?.(line, `${prefix}line ${n}`)
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      throw invalid(`${prefix}line ${n}: not valid JSON`)
    }
    if (!isJsonObject(value)) throw invalid(`${prefix}line ${n}: expected an object like {"name": "loss", "value": 0.3, "step": 1}`)
    points.push(value as unknown as MetricPointInput)
  }
  return points
}
