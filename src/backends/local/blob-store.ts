/**
 * Content-addressed blob directory: `blobs/sha256/ab/<rest of digest>`. A blob is written to a
 * temp file in `tmp/` (same file system) while it is hashed, fsynced, made read-only and renamed
 * into place, so a blob's final name only ever holds complete, verified bytes. Blobs are never
 * modified afterwards; only gc deletes.
 */
import {randomBytes} from 'node:crypto'
import {createReadStream, createWriteStream, constants as fsConstants, unlinkSync} from 'node:fs'
import {chmod, mkdir, open, readdir, rename, stat, unlink} from 'node:fs/promises'
import {join} from 'node:path'
import type {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {CHUNK_SIZE, copyFileHashing, DigestStream, WriteBehind} from '../digest.js'
import {fromFsError, integrity, notFound, RegistryError} from '../errors.js'
import {type BlobSource, type BlobStore as BlobStoreInterface, type IncompleteUpload, isLocalFile, proveBlob, type StoredBlob} from '../blobs.js'
import {validateDigest} from '../validation.js'

export const TEMP_PREFIX = 'blob-'
export const TEMP_SUFFIX = '.tmp'

export type {BlobSource} from '../blobs.js'


export class BlobStore implements BlobStoreInterface {
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
  async put(digest: string, size: number, source: BlobSource): Promise<boolean> {
    if ((await this.size(digest)) === size) {
      if (!isLocalFile(source)) source.destroy()
      return false
    }
    const written = await this.writeTemp(digest.slice(0, 16), source, size)
    try {
      if (written.bytes !== size) {
        throw integrity(`blob ${digest}: expected ${size} bytes, got ${written.bytes}`, {expected_size: size, actual_size: written.bytes})
      }
      if (written.digest !== digest) {
        throw integrity(`blob ${digest}: sha256 mismatch (expected ${digest}, got ${written.digest})`, {expected: digest, actual: written.digest})
      }
      await this.commitTemp(written.tmp, digest)
      return true
    } catch (error) {
      await unlink(written.tmp).catch(() => {})
      throw error instanceof RegistryError ? error : fromFsError(error, `storing blob ${digest}`)
    }
  }

  /**
   * Content of unknown digest into the store, hashed on the way: one pass over the bytes. If
   * the store already had that content, the temp file is dropped (nothing changes).
   */
  async ingest(size: number, source: BlobSource): Promise<{digest: string; stored: boolean}> {
    const written = await this.writeTemp('ingest', source, size)
    try {
      if (written.bytes !== size) throw new RegistryError('integrity', `expected ${size} bytes, got ${written.bytes}; nothing was stored`)
      if ((await this.size(written.digest)) === size) {
        await unlink(written.tmp)
        return {digest: written.digest, stored: false}
      }
      await this.commitTemp(written.tmp, written.digest)
      return {digest: written.digest, stored: true}
    } catch (error) {
      await unlink(written.tmp).catch(() => {})
      throw error instanceof RegistryError ? error : fromFsError(error, 'storing a blob')
    }
  }

  /** Hash `source` without storing it; refuse it unless it is the blob `digest` of `size` bytes (see proveBlob). */
  prove(digest: string, size: number, source: BlobSource): Promise<void> {
    return proveBlob(digest, size, source)
  }

  /**
   * Write the bytes to a new temp file, hashing exactly what is written, and fsync it. A local
   * file is copied with reused buffers and overlapped reads and writes; a stream is piped.
   */
  private async writeTemp(label: string, source: BlobSource, size: number): Promise<{tmp: string; digest: string; bytes: number}> {
    const tmp = await this.tempFile(label)
    let handle
    try {
      handle = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600)
    } catch (error) {
      if (!isLocalFile(source)) source.destroy()
      throw fromFsError(error, 'creating a temp file in the blob store')
    }
    try {
      let result: {digest: string; bytes: number}
      if (isLocalFile(source)) {
        result = await copyFileHashing(source.path, handle, source.onBytes)
      } else {
        const meter = new DigestStream(size)
        const file = handle
        const behind = new WriteBehind(() => file.datasync())
        meter.on('data', (chunk: Buffer) => behind.wrote(chunk.length))
        await pipeline(source, meter, createWriteStream('', {fd: handle.fd, autoClose: false, highWaterMark: CHUNK_SIZE}))
        await behind.settle()
        result = {digest: meter.digest(), bytes: meter.bytes}
      }
      await handle.sync()
      await handle.close()
      return {tmp, ...result}
    } catch (error) {
      await handle.close().catch(() => {})
      await unlink(tmp).catch(() => {})
      if (error instanceof RegistryError) throw error
      throw fromFsError(error, 'storing a blob')
    }
  }

  /** Make a complete, fsynced temp file the blob `digest`: read-only, renamed into place. */
  private async commitTemp(tmp: string, digest: string): Promise<void> {
    await chmod(tmp, 0o444)
    const shard = join(this.blobsDir, digest.slice(0, 2))
    await this.ensureDir(shard)
    await rename(tmp, this.pathOf(digest))
    await this.syncDir(shard)
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

  // -------------------------------------------------------------------------------------------
  // the rest of the BlobStore interface (verify and gc of the local store still walk the directory themselves)

  get description(): string {
    return `directory ${this.home}`
  }

  localPath(digest: string): string {
    return this.pathOf(digest)
  }

  async *list(): AsyncIterable<StoredBlob> {
    let shards: string[]
    try {
      shards = await readdir(this.blobsDir)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw fromFsError(error, this.blobsDir)
    }
    for (const shard of shards.sort()) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue
      for (const name of (await readdir(join(this.blobsDir, shard))).sort()) {
        if (!/^[0-9a-f]{62}$/.test(name)) continue
        try {
          const info = await stat(join(this.blobsDir, shard, name))
          if (info.isFile()) yield {digest: shard + name, size: info.size, modified: info.mtimeMs}
        } catch {
          // removed meanwhile
        }
      }
    }
  }

  async remove(digest: string): Promise<void> {
    await unlink(this.pathOf(digest)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw fromFsError(error, `removing blob ${digest}`)
    })
  }

  removeSync(digest: string): void {
    try {
      unlinkSync(this.pathOf(digest))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fromFsError(error, `removing blob ${digest}`)
    }
  }

  async *listIncomplete(): AsyncIterable<IncompleteUpload> {
    let names: string[]
    try {
      names = await readdir(this.tmpDir)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw fromFsError(error, this.tmpDir)
    }
    for (const name of names) {
      try {
        const info = await stat(join(this.tmpDir, name))
        if (info.isFile()) yield {id: name, size: info.size, modified: info.mtimeMs}
      } catch {
        // removed meanwhile
      }
    }
  }

  async removeIncomplete(id: string): Promise<void> {
    if (id.includes('/') || id.includes('\\') || id.startsWith('.')) return
    await unlink(join(this.tmpDir, id)).catch(() => {})
  }
}
