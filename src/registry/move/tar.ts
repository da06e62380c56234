/**
 * The archive's tar layer: a minimal ustar writer (entries whose size is known when they start)
 * and a reader that hands entries over one at a time as async streams, so the caller's pace sets
 * the reading pace (constant memory whatever the archive holds). gzip is recognized by its magic
 * number and undone with node:zlib. Only regular files are accepted: links, devices, directories
 * and PAX/GNU extensions are refused by the reader's caller through `type`.
 */
import {createGunzip} from 'node:zlib'
import type {Readable, Writable} from 'node:stream'
import {once} from 'node:events'
import {invalid} from '../../backends/errors.js'

const BLOCK = 512

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0'
}

/** A ustar header for a regular file. */
export function tarHeader(path: string, size: number, mtime: Date = new Date(0)): Buffer {
  if (Buffer.byteLength(path) > 100) throw new Error(`tar entry name too long: ${path}`)
  const h = Buffer.alloc(BLOCK)
  h.write(path, 0, 100, 'utf8')
  h.write(octal(0o644, 8), 100)
  h.write(octal(0, 8), 108)
  h.write(octal(0, 8), 116)
  h.write(octal(size, 12), 124)
  h.write(octal(Math.floor(mtime.getTime() / 1000), 12), 136)
  h.write('        ', 148)
  h.write('0', 156)
  h.write('ustar\u000000', 257)
  let sum = 0
  for (const byte of h) sum += byte
  h.write(octal(sum, 7) + ' ', 148)
  return h
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK

/** Writes entries to a stream, waiting for it to drain: the writer never runs ahead of the reader. */
export class TarWriter {
  bytes = 0
  constructor(private readonly out: Writable) {}

  private async write(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length
    if (!this.out.write(chunk)) await once(this.out, 'drain')
  }

  async entry(path: string, data: Buffer | string, mtime?: Date): Promise<void> {
    const body = typeof data === 'string' ? Buffer.from(data) : data
    await this.write(tarHeader(path, body.length, mtime))
    if (body.length) await this.write(body)
    const pad = padding(body.length)
    if (pad) await this.write(Buffer.alloc(pad))
  }

  /** An entry whose bytes stream in; exactly `size` must come, or the archive would be corrupt. */
  async streamEntry(path: string, size: number, body: AsyncIterable<Buffer>, mtime?: Date): Promise<void> {
    await this.write(tarHeader(path, size, mtime))
    let written = 0
    for await (const chunk of body) {
      written += chunk.length
      if (written > size) throw new Error(`${path}: more than the ${size} bytes announced`)
      await this.write(chunk)
    }
    if (written !== size) throw new Error(`${path}: ${written} bytes, ${size} announced`)
    const pad = padding(size)
    if (pad) await this.write(Buffer.alloc(pad))
  }

  /** Two zero blocks end a tar archive. */
  async finish(): Promise<void> {
    await this.write(Buffer.alloc(BLOCK * 2))
  }
}

export interface TarEntry {
  path: string
  /** '0' for a regular file; anything else is refused by the archive reader. */
  type: string
  size: number
  /** The entry's bytes; must be read to the end (or `skip`ped) before the next entry. */
  body: AsyncIterable<Buffer>
}

/** Pulls exact byte counts out of a chunked stream. */
class ByteSource {
  private chunks: Buffer[] = []
  private buffered = 0
  private done = false
  constructor(private readonly iterator: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.done) {
      const next = await this.iterator.next()
      if (next.done) this.done = true
      else {
        const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value)
        this.chunks.push(chunk)
        this.buffered += chunk.length
      }
    }
    return this.buffered >= n
  }

  /** Exactly n bytes, or null at the end of the input. */
  async take(n: number): Promise<Buffer | null> {
    if (!(await this.fill(n))) return null
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)
    this.chunks = all.length > n ? [all.subarray(n)] : []
    this.buffered -= n
    return all.subarray(0, n)
  }

  /** Up to `max` bytes (at least one), or null at the end. */
  async some(max: number): Promise<Buffer | null> {
    if (!(await this.fill(1))) return null
    const first = this.chunks[0]
    if (first.length <= max) {
      this.chunks.shift()
      this.buffered -= first.length
      return first
    }
    this.chunks[0] = first.subarray(max)
    this.buffered -= max
    return first.subarray(0, max)
  }
}

function parseOctal(field: Buffer, what: string): number {
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim()
  if (!/^[0-7]*$/.test(text)) throw invalid(`not a valid archive: a tar header's ${what} is not a number`)
  return text === '' ? 0 : parseInt(text, 8)
}

/** Undo gzip when the stream starts with its magic number. */
async function* maybeGunzip(input: Readable): AsyncIterable<Buffer> {
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const first = await iterator.next()
  if (first.done) return
  const rest = async function* () {
    yield first.value
    for (;;) {
      const next = await iterator.next()
      if (next.done) return
      yield next.value
    }
  }
  if (first.value[0] === 0x1f && first.value[1] === 0x8b) {
    const gunzip = createGunzip()
    const {Readable} = await import('node:stream')
    Readable.from(rest()).on('error', (e) => gunzip.destroy(e)).pipe(gunzip)
    yield* gunzip as AsyncIterable<Buffer>
  } else yield* rest()
}

/** The entries of a (possibly gzipped) tar stream, one after the other. */
export async function* readTar(input: Readable): AsyncGenerator<TarEntry> {
  const source = new ByteSource(maybeGunzip(input)[Symbol.asyncIterator]())
  for (;;) {
    const header = await source.take(BLOCK)
    if (!header) throw invalid('the archive ends before its end marker: it is truncated')
    if (header.every((b) => b === 0)) return
    let sum = 0
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]
    if (parseOctal(header.subarray(148, 156), 'checksum') !== sum) throw invalid('not a valid archive: a tar header checksum does not match')
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '')
    const prefix = header.subarray(257, 263).toString('latin1').startsWith('ustar') ? header.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '') : ''
    const path = prefix ? `${prefix}/${name}` : name
    const type = String.fromCharCode(header[156] || 0x30)
    const size = parseOctal(header.subarray(124, 136), 'size')
    let left = size
    let finished = false
    const body = async function* (): AsyncGenerator<Buffer> {
      while (left > 0) {
        const chunk = await source.some(Math.min(left, 1024 * 1024))
        if (!chunk) throw invalid(`the archive ends inside ${JSON.stringify(path)}: it is truncated or lies about its size`)
        left -= chunk.length
        yield chunk
      }
      finished = true
    }
    const entry: TarEntry = {path, type: type === '\0' ? '0' : type, size, body: body()}
    yield entry
    // Whatever the caller did not read is skipped here.
    while (!finished && left > 0) {
      const chunk = await source.some(Math.min(left, 1024 * 1024))
      if (!chunk) throw invalid(`the archive ends inside ${JSON.stringify(path)}: it is truncated`)
      left -= chunk.length
    }
    const pad = padding(size)
    if (pad && !(await source.take(pad))) throw invalid('the archive is truncated')
  }
}
