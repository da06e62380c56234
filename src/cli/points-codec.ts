/**
 * Metric points in columns, to cross from the parsing thread to the main one cheaply: numbers
 * travel in typed arrays (moved, not copied), names and splits as indexes into a table of
 * strings sent once. A point that is not of the plain shape (a string value, an odd step...)
 * travels as itself, so the backend judges it with its usual message.
 */
import type {MetricPointInput} from '../backends/backend.js'

const NONE = 0xffffffff

export interface PointColumns {
  /** Strings first seen in this chunk, appended to the table in order. */
  strings: string[]
  name: Uint32Array
  split: Uint32Array
  /** NaN: no step. */
  step: Float64Array
  value: Float64Array
  /** Only when some point in the chunk gives a time. */
  time: (string | null)[] | null
  /** Points not of the plain shape, by position. */
  odd: [number, unknown][]
}

export class PointEncoder {
  private readonly ids = new Map<string, number>()

  encode(points: unknown[]): PointColumns {
    const n = points.length
    const strings: string[] = []
    const id = (s: string): number => {
      let i = this.ids.get(s)
      if (i === undefined) {
        i = this.ids.size
        this.ids.set(s, i)
        strings.push(s)
      }
      return i
    }
    const columns: PointColumns = {strings, name: new Uint32Array(n), split: new Uint32Array(n), step: new Float64Array(n), value: new Float64Array(n), time: null, odd: []}
    for (let i = 0; i < n; i++) {
      const p = points[i] as Record<string, unknown>
      const {name, split, step, value, time} = p
      const plain =
        typeof name === 'string' &&
        (split === undefined || typeof split === 'string') &&
        typeof value === 'number' &&
        (step === undefined || step === null || typeof step === 'number') &&
        (time === undefined || time === null || typeof time === 'string')
      if (!plain) {
        columns.odd.push([i, p])
        continue
      }
      columns.name[i] = id(name)
      columns.split[i] = split === undefined ? NONE : id(split)
      columns.step[i] = step === undefined || step === null ? Number.NaN : step
      columns.value[i] = value
      if (typeof time === 'string') {
        columns.time ??= new Array<string | null>(n).fill(null)
        columns.time[i] = time
      }
    }
    return columns
  }
}

export class PointDecoder {
  private readonly table: string[] = []

  decode(c: PointColumns): MetricPointInput[] {
    for (const s of c.strings) this.table.push(s)
    const odd = new Map(c.odd)
    const out = new Array<MetricPointInput>(c.value.length)
    for (let i = 0; i < out.length; i++) {
      const given = odd.get(i)
      if (given !== undefined) {
        out[i] = given as MetricPointInput
        continue
      }
      const point: MetricPointInput = {name: this.table[c.name[i]], value: c.value[i]}
      if (c.split[i] !== NONE) point.split = this.table[c.split[i]]
      if (!Number.isNaN(c.step[i])) point.step = c.step[i]
      const time = c.time?.[i]
      if (time !== undefined && time !== null) point.time = time
      out[i] = point
    }
    return out
  }
}
