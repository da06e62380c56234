/**
 * Content-addressed blob directory: `blobs/sha256/ab/<rest of digest>`. A blob is written to a
 * temp file in `tmp/` (same file system) while it is hashed, fsynced, made read-only and renamed
 * into place, so a blob's final name only ever holds complete, verified bytes. Blobs are never
 * modified afterwards; only gc deletes.
 */
import {randomBytes} from 'node:crypto'
import {createReadStream, createWriteStream, constants as fsConstants} from 'node:fs'
import {chmod, mkdir, open, rename, stat, unlink} from 'node:fs/promises'
import {join} from 'node:path'
import type {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {CHUNK_SIZE, DigestStream} from '../digest.js'
import {fromFsError, notFound, RegistryError} from '../errors.js'
import {validateDigest} from '../validation.js'

export const TEMP_PREFIX = 'blob-'
export const TEMP_SUFFIX = '.tmp'

export class BlobStore {
  readonly blobsDir: string
  readonly tmpDir: string
  private readonly madeDirs = new Set<string>()

  constructor(readonly home: string) {
    this.blobsDir = join(home, 'blobs', 'sha256')
    this.tmpDir = join(home, 'tmp')
  }

  /** The only place a file-system path is built from a digest, and only from a validated one. */
  pathOf(digest: string): string {
    validateDigest(digest)
    return join(this.blobsDir, digest.slice(0, 2), digest.slice(2))
  }

  async size(digest: string): Promise<number | null> {
    try {
      const info = await stat(this.pathOf(digest))
      return info.isFile() ? info.size : null
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw fromFsError(error, `blob ${digest}`)
    }
  }

  /**
   * Stream `source` into the store under `digest`. Returns false when the blob was already
   * present (nothing written). Throws `integrity` (and stores nothing) when the content does
   * not hash to `digest` or is not `size` bytes long.
   */
  async put(digest: string, size: number, source: Readable): Promise<boolean> {
    const finalPath = this.pathOf(digest)
    if ((await this.size(digest)) === size) {
      source.destroy()
      return false
    }
    await this.ensureDir(this.tmpDir)
    const tmp = join(this.tmpDir, `${TEMP_PREFIX}${digest.slice(0, 16)}-${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`)
    let handle
    try {
      handle = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600)
    } catch (error) {
      source.destroy()
      throw fromFsError(error, 'creating a temp file in the blob store')
    }
    const meter = new DigestStream(size)
    try {
      await pipeline(source, meter, createWriteStream('', {fd: handle.fd, autoClose: false, highWaterMark: CHUNK_SIZE}))
      meter.verify(digest, size, `blob ${digest}`)
      await handle.sync()
      await handle.close()
      handle = undefined
      await chmod(tmp, 0o444)
      await this.ensureDir(join(this.blobsDir, digest.slice(0, 2)))
      await rename(tmp, finalPath)
      await this.syncDir(join(this.blobsDir, digest.slice(0, 2)))
      return true
    } catch (error) {
      await handle?.close().catch(() => {})
      await unlink(tmp).catch(() => {})
      if (error instanceof RegistryError) throw error
      throw fromFsError(error, `storing blob ${digest}`)
    }
  }

  /**
   * Stream content of unknown digest into the store, hashing it on the way: one pass over the
   * bytes. If the store already had that content, the temp file is dropped (nothing changes).
   */
  async ingest(size: number, source: Readable): Promise<{digest: string; stored: boolean}> {
    const tmp = await this.tempFile('ingest')
    let handle
    try {
      handle = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600)
    } catch (error) {
      source.destroy()
      throw fromFsError(error, 'creating a temp file in the blob store')
    }
    const meter = new DigestStream(size)
    try {
      await pipeline(source, meter, createWriteStream('', {fd: handle.fd, autoClose: false, highWaterMark: CHUNK_SIZE}))
      if (meter.bytes !== size) throw new RegistryError('integrity', `expected ${size} bytes, got ${meter.bytes}; nothing was stored`)
      const digest = meter.digest()
      if ((await this.size(digest)) === size) {
        await handle.close()
        handle = undefined
        await unlink(tmp)
        return {digest, stored: false}
      }
      await handle.sync()
      await handle.close()
      handle = undefined
      await chmod(tmp, 0o444)
      const shard = join(this.blobsDir, digest.slice(0, 2))
      await this.ensureDir(shard)
      await rename(tmp, this.pathOf(digest))
      await this.syncDir(shard)
      return {digest, stored: true}
    } catch (error) {
      await handle?.close().catch(() => {})
      await unlink(tmp).catch(() => {})
      if (error instanceof RegistryError) throw error
      throw fromFsError(error, 'storing a blob')
    }
  }

  private async tempFile(label: string): Promise<string> {
    await this.ensureDir(this.tmpDir)
    return join(this.tmpDir, `${TEMP_PREFIX}${label}-${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`)
  }

  /** A read stream from `offset`. The reader verifies what it reads. */
  async open(digest: string, offset = 0): Promise<{stream: Readable; size: number}> {
    const size = await this.size(digest)
    if (size === null) throw notFound(`blob ${digest} is not in the store`)
    if (offset < 0 || offset > size) throw new RegistryError('range_not_satisfiable', `offset ${offset} is outside blob ${digest} (${size} bytes)`)
    const stream = createReadStream(this.pathOf(digest), {start: offset, highWaterMark: CHUNK_SIZE})
    return {stream, size}
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return
    await mkdir(dir, {recursive: true})
    this.madeDirs.add(dir)
  }

  private async syncDir(dir: string): Promise<void> {
    // Make the rename durable. Some file systems refuse fsync on a directory; that is not fatal.
    try {
      const handle = await open(dir, 'r')
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
    } catch {
      // best effort
    }
  }
}
