/**
 * The archive's tar layer: a minimal ustar writer (entries whose size is known when they start)
 * and a reader that hands entries over one at a time as async streams, so the caller's pace sets
 * the reading pace (constant memory whatever the archive holds). gzip is recognized by its magic
 * number and undone with node:zlib. Only regular files are accepted: links, devices, directories
 * and PAX/GNU extensions are refused by the reader's caller through `type`.
 */
import {createGunzip} from 'node:zlib'
import type {FileHandle} from 'node:fs/promises'
import type {Readable, Writable} from 'node:stream'
import {once} from 'node:events'
import {writeFully} from '../../backends/digest.js'
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

/** Positional writes to a file that may be in flight at once. */
const FILE_WRITES_AT_ONCE = 8

/**
 * Writes entries to a stream, waiting for it to drain (the writer never runs ahead of the
 * reader), or to a file, with positional writes that overlap (and, for writeBorrowed, without
 * copying the caller's buffer).
 */
export class TarWriter {
  bytes = 0
  private readonly inFlight = new Set<Promise<void>>()
  private failure: unknown = null
  private open: {path: string; size: number; start: number} | null = null

  constructor(private readonly out: Writable | FileHandle) {}

  private get file(): FileHandle | null {
    return typeof (this.out as FileHandle).datasync === 'function' ? (this.out as FileHandle) : null
  }

  /** Write `chunk`, which is the writer's to keep. */
  private async write(chunk: Buffer): Promise<void> {
    const file = this.file
    if (!file) {
      this.bytes += chunk.length
      const out = this.out as Writable
      if (!out.write(chunk)) await once(out, 'drain')
      return
    }
    if (this.failure) throw this.failure
    while (this.inFlight.size >= FILE_WRITES_AT_ONCE) await Promise.race(this.inFlight)
    this.track(writeFully(file, chunk, this.bytes))
    this.bytes += chunk.length
  }

  private track(write: Promise<void>): Promise<void> {
    const tracked = write.then(
      () => {
        this.inFlight.delete(tracked)
      },
      (error: unknown) => {
        this.inFlight.delete(tracked)
        this.failure ??= error
        throw error
      },
    )
    tracked.catch(() => {}) // kept in failure, thrown by the next write or finish
    this.inFlight.add(tracked)
    return tracked
  }

  async entry(path: string, data: Buffer | string, mtime?: Date): Promise<void> {
    const body = typeof data === 'string' ? Buffer.from(data) : data
    const pad = padding(body.length)
    // Header, body and padding in one write (a record is one write, not three).
    await this.write(Buffer.concat([tarHeader(path, body.length, mtime), body, ...(pad ? [Buffer.alloc(pad)] : [])]))
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

  /** Start an entry of `size` bytes, to be written with writeBorrowed, then end(). */
  async begin(path: string, size: number, mtime?: Date): Promise<void> {
    await this.write(tarHeader(path, size, mtime))
    this.open = {path, size, start: this.bytes}
  }

  /**
   * Write the next bytes of the entry begun; the returned promise settles once `chunk` may be
   * used again (its write is done, or it was copied). Call in order; no need to wait between calls.
   */
  writeBorrowed(chunk: Buffer): Promise<void> {
    const entry = this.open
    if (!entry) throw new Error('writeBorrowed outside an entry')
    if (this.bytes + chunk.length - entry.start > entry.size) throw new Error(`${entry.path}: more than the ${entry.size} bytes announced`)
    if (this.failure) return Promise.reject(this.failure)
    const file = this.file
    if (!file) return this.write(Buffer.from(chunk))
    const write = this.track(writeFully(file, chunk, this.bytes))
    this.bytes += chunk.length
    return write
  }

  /** End the entry begun: exactly its size must have been written. */
  async end(): Promise<void> {
    const entry = this.open
    if (!entry) throw new Error('end outside an entry')
    this.open = null
    const written = this.bytes - entry.start
    if (written !== entry.size) throw new Error(`${entry.path}: ${written} bytes, ${entry.size} announced`)
    const pad = padding(entry.size)
    if (pad) await this.write(Buffer.alloc(pad))
  }

  /** Two zero blocks end a tar archive; for a file, every write is waited for. */
  async finish(): Promise<void> {
    await this.write(Buffer.alloc(BLOCK * 2))
    await Promise.all(this.inFlight)
    if (this.failure) throw this.failure
  }
}

export interface TarEntry {
  path: string
  /** '0' for a regular file; anything else is refused by the archive reader. */
  type: string
  size: number
  /** Where its bytes start in the (uncompressed) tar stream. */
  offset: number
  /**
   * The tar file itself, when it is read from one (readTarFile): the body is `size` bytes at
   * `offset`, which the caller may read where they are instead of through `body`.
   */
  file?: FileHandle
  /** The entry's bytes; must be read to the end (or skipped: left unread) before the next entry. */
  body: AsyncIterable<Buffer>
}

/** Pulls exact byte counts out of a chunked stream. */
class ByteSource {
  private chunks: Buffer[] = []
  private buffered = 0
  private done = false
  /** Bytes handed out so far. */
  position = 0
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
    this.buffered -= n
    this.position += n
    const first = this.chunks[0]
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    // Across chunks: copy only the n bytes (the next chunk may be a MiB).
    const out = Buffer.allocUnsafe(n)
    for (let at = 0; at < n; ) {
      const chunk = this.chunks[0]
      const k = Math.min(chunk.length, n - at)
      chunk.copy(out, at, 0, k)
      at += k
      if (k === chunk.length) this.chunks.shift()
      else this.chunks[0] = chunk.subarray(k)
    }
    return out
  }

  /** Up to `max` bytes (at least one), or null at the end. */
  async some(max: number): Promise<Buffer | null> {
    if (!(await this.fill(1))) return null
    const first = this.chunks[0]
    if (first.length <= max) {
      this.chunks.shift()
      this.buffered -= first.length
      this.position += first.length
      return first
    }
    this.chunks[0] = first.subarray(max)
    this.buffered -= max
    this.position += max
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

/** A header block's entry, or null for the zero block that ends an archive. */
function parseHeader(header: Buffer): {path: string; type: string; size: number} | null {
  if (header.every((b) => b === 0)) return null
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]
  if (parseOctal(header.subarray(148, 156), 'checksum') !== sum) throw invalid('not a valid archive: a tar header checksum does not match')
  const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '')
  const prefix = header.subarray(257, 263).toString('latin1').startsWith('ustar') ? header.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '') : ''
  const type = String.fromCharCode(header[156] || 0x30)
  return {path: prefix ? `${prefix}/${name}` : name, type: type === '\0' ? '0' : type, size: parseOctal(header.subarray(124, 136), 'size')}
}

const truncatedInside = (path: string) => invalid(`the archive ends inside ${JSON.stringify(path)}: it is truncated or lies about its size`)

/** The entries of a (possibly gzipped) tar stream, one after the other. */
export async function* readTar(input: Readable): AsyncGenerator<TarEntry> {
  const source = new ByteSource(maybeGunzip(input)[Symbol.asyncIterator]())
  for (;;) {
    const header = await source.take(BLOCK)
    if (!header) throw invalid('the archive ends before its end marker: it is truncated')
    const parsed = parseHeader(header)
    if (!parsed) return
    const {path, type, size} = parsed
    let left = size
    let finished = false
    const body = async function* (): AsyncGenerator<Buffer> {
      while (left > 0) {
        const chunk = await source.some(Math.min(left, 1024 * 1024))
        if (!chunk) throw truncatedInside(path)
        left -= chunk.length
        yield chunk
      }
      finished = true
    }
    yield {path, type, size, offset: source.position, body: body()}
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

/**
 * The entries of an uncompressed tar file, read with positional reads: a body left unread is
 * skipped without reading it, and the caller may read a body where it is (entry.file), into
 * buffers of its own. The file's length is known, so an entry that claims more bytes than the
 * file holds is refused before anything reads it.
 */
export async function* readTarFile(handle: FileHandle): AsyncGenerator<TarEntry> {
  const length = (await handle.stat()).size
  let position = 0
  for (;;) {
    const header = Buffer.alloc(BLOCK)
    const {bytesRead} = position + BLOCK <= length ? await handle.read(header, 0, BLOCK, position) : {bytesRead: 0}
    if (bytesRead < BLOCK) throw invalid('the archive ends before its end marker: it is truncated')
    const parsed = parseHeader(header)
    if (!parsed) return
    const {path, type, size} = parsed
    const offset = position + BLOCK
    if (offset + size > length) throw truncatedInside(path)
    const body = async function* (): AsyncGenerator<Buffer> {
      for (let at = 0; at < size; ) {
        const chunk = Buffer.allocUnsafe(Math.min(size - at, 4 * 1024 * 1024))
        const {bytesRead: n} = await handle.read(chunk, 0, chunk.length, offset + at)
        if (n === 0) throw truncatedInside(path)
        at += n
        yield n === chunk.length ? chunk : chunk.subarray(0, n)
      }
    }
    yield {path, type, size, offset, file: handle, body: body()}
    position = offset + size + padding(size)
  }
}
