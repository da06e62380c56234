/** sha256 while streaming: the one way bytes are hashed on push, store, upload and download. */
import {createHash, type Hash} from 'node:crypto'
import {open} from 'node:fs/promises'
import {Transform, type TransformCallback} from 'node:stream'
import {integrity} from './errors.js'

/** Read and write in chunks this large: big enough to keep syscalls off the profile. */
export const CHUNK_SIZE = 1024 * 1024

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/**
 * A pass-through stream that hashes and counts what flows through it. With `expectSize`, it
 * fails as soon as more bytes arrive than expected, so an oversized body is cut off early.
 */
export class DigestStream extends Transform {
  private readonly hash: Hash = createHash('sha256')
  bytes = 0
  private digestHex: string | undefined

  constructor(private readonly expectSize?: number) {
    super({highWaterMark: CHUNK_SIZE})
  }

  /** Start from a prefix already on disk (resumed downloads). */
  seed(chunk: Buffer): void {
    this.hash.update(chunk)
    this.bytes += chunk.length
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length
    if (this.expectSize !== undefined && this.bytes > this.expectSize) {
      callback(integrity(`content is larger than the expected ${this.expectSize} bytes`))
      return
    }
    this.hash.update(chunk)
    callback(null, chunk)
  }

  digest(): string {
    this.digestHex ??= this.hash.digest('hex')
    return this.digestHex
  }

  /** Throw `integrity` unless what went through has the expected digest and size. */
  verify(expectDigest: string, expectSize: number, what: string): void {
    if (this.bytes !== expectSize) {
      throw integrity(`${what}: expected ${expectSize} bytes, got ${this.bytes}`, {expected_size: expectSize, actual_size: this.bytes})
    }
    const actual = this.digest()
    if (actual !== expectDigest) {
      throw integrity(`${what}: sha256 mismatch (expected ${expectDigest}, got ${actual})`, {expected: expectDigest, actual})
    }
  }
}

const HASH_READ = 4 * 1024 * 1024

/**
 * sha256 and size of a file. Two buffers, reused: the next read runs (in the thread pool)
 * while the current chunk is hashed, and memory stays at 8 MiB whatever the file's size.
 */
export async function hashFile(path: string, onBytes?: (n: number) => void): Promise<{digest: string; size: number}> {
  const hash = createHash('sha256')
  const handle = await open(path, 'r')
  try {
    const buffers = [Buffer.allocUnsafe(HASH_READ), Buffer.allocUnsafe(HASH_READ)]
    let current = 0
    let size = 0
    let pending = handle.read(buffers[0], 0, HASH_READ, null)
    for (;;) {
      const {bytesRead} = await pending
      if (bytesRead === 0) break
      const chunk = buffers[current]
      current ^= 1
      pending = handle.read(buffers[current], 0, HASH_READ, null)
      hash.update(chunk.subarray(0, bytesRead))
      size += bytesRead
      onBytes?.(bytesRead)
    }
    return {digest: hash.digest('hex'), size}
  } finally {
    await handle.close()
  }
}
