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
import {CHUNK_SIZE, copyFileHashing, DigestStream, WriteBehind, writeFully} from '../digest.js'
import {hashBody, hashRange, type StreamHasher} from '../stream-hasher.js'
import {fromFsError, integrity, notFound, RegistryError} from '../errors.js'
import {type BlobSource, type BlobStore as BlobStoreInterface, type FileRange, type IncompleteUpload, isLocalFile, proveBlob, type StagedBlob, type StoredBlob} from '../blobs.js'
import {validateDigest} from '../validation.js'

export const TEMP_PREFIX = 'blob-'
export const TEMP_SUFFIX = '.tmp'

export type {BlobSource} from '../blobs.js'

/** Staged files flushed at once, in the background: the thread pool (4 threads) also reads and writes. */
const FLUSHES_AT_ONCE = 2

export class BlobStore implements BlobStoreInterface {
  readonly blobsDir: string
  readonly tmpDir: string
  private readonly madeDirs = new Set<string>()
  /** Flushes of staged files waiting for their turn, and how many run. */
  private readonly flushQueue: (() => void)[] = []
  private flushing = 0

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

  /**
   * Write a blob's bytes to a temp file as they arrive, hashing them on `hasher`'s workers
   * meanwhile. From a file range, it resolves once the bytes are read: their writes finish, the
   * digest is checked and the file flushed (two at a time) in the background, so that the next
   * blob is read meanwhile and a run of blobs is not a wait for the hash and the disk after
   * each; commitStaged waits for all of it. From a stream, each chunk is written while the next
   * is read.
   */
  async stage(digest: string, size: number, body: AsyncIterable<Buffer> | FileRange, hasher: StreamHasher): Promise<StagedBlob> {
    validateDigest(digest)
    const tmp = await this.tempFile(digest.slice(0, 16))
    let handle
    try {
      handle = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600)
    } catch (error) {
      throw fromFsError(error, 'creating a temp file in the blob store')
    }
    const file = handle
    const behind = new WriteBehind(() => file.datasync())
    const failed = async (error: unknown) => {
      await behind.settle().catch(() => {})
      await file.close().catch(() => {})
      await unlink(tmp).catch(() => {})
      throw error instanceof RegistryError ? error : fromFsError(error, `storing blob ${digest}`)
    }
    let hashed: Promise<string>
    let written: Promise<void>
    try {
      if ('file' in body) {
        // Read straight into the hasher's slots and written from them: no copy.
        ;({digest: hashed, written} = await hashRange(hasher, body.file, body.position, size, {
          write: (chunk, at) => writeFully(file, chunk, at).then(() => behind.wrote(chunk.length)),
          short: (read) => integrity(`blob ${digest}: expected ${size} bytes, got ${read}`, {expected_size: size, actual_size: read, digest}),
        }))
      } else {
        let position = 0
        // The write in flight (one at a time, while the next chunk is read and copied to the hasher).
        const pending: {write: Promise<void> | null} = {write: null}
        try {
          ;({digest: hashed} = await hashBody(hasher, body, async (chunk) => {
            if (position + chunk.length > size) throw integrity(`blob ${digest}: more than the ${size} bytes expected`, {expected_size: size, digest})
            if (pending.write) await pending.write
            const n = chunk.length
            pending.write = writeFully(file, chunk, position).then(() => behind.wrote(n))
            position += n
          }))
          await pending.write
        } catch (error) {
          await pending.write?.catch(() => {})
          throw error
        }
        if (position !== size) throw integrity(`blob ${digest}: expected ${size} bytes, got ${position}`, {expected_size: size, actual_size: position, digest})
        written = Promise.resolve()
      }
    } catch (error) {
      return failed(error)
    }
    const verified = written
      .then(async () => {
        await behind.settle()
        await file.close()
      }, failed)
      .then(() => hashed)
      .then(
        async (actual) => {
          if (actual === digest) return
          await unlink(tmp).catch(() => {})
          throw integrity(`blob ${digest}: sha256 mismatch (expected ${digest}, got ${actual})`, {expected: digest, actual, digest})
        },
        async (error: unknown) => {
          await file.close().catch(() => {})
          await unlink(tmp).catch(() => {})
          throw error
        },
      )
    const flushed = verified.then(() => this.flushLater(tmp))
    verified.catch(() => {}) // observed by the caller and commitStaged; not an unhandled rejection meanwhile
    flushed.catch(() => {})
    return {digest, size, id: tmp, verified, flushed}
  }

  private async flushLater(path: string): Promise<void> {
    if (this.flushing >= FLUSHES_AT_ONCE) await new Promise<void>((resolve) => this.flushQueue.push(resolve))
    this.flushing++
    try {
      await syncPath(path)
    } catch (error) {
      throw fromFsError(error, 'flushing a blob to disk')
    } finally {
      this.flushing--
      this.flushQueue.shift()?.()
    }
  }

  async commitStaged(blob: StagedBlob): Promise<boolean> {
    try {
      await blob.flushed
      if ((await this.size(blob.digest)) === blob.size) {
        await unlink(blob.id)
        return false
      }
      await this.commitTemp(blob.id, blob.digest)
      return true
    } catch (error) {
      await unlink(blob.id).catch(() => {})
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new RegistryError('unavailable', `blob ${blob.digest}: its staged copy was removed meanwhile (a gc?); run the import again`)
      throw error instanceof RegistryError ? error : fromFsError(error, `storing blob ${blob.digest}`)
    }
  }

  async discardStaged(blob: StagedBlob): Promise<void> {
    await unlink(blob.id).catch(() => {})
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
    await syncPath(dir).catch(() => {})
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

/** fsync a file or a directory by its path. */
async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
