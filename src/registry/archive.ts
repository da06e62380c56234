/**
 * Reading tar archives modelreg did not write (`models push --from-tar`), refusing anything that
 * could write outside the target or exhaust the machine: absolute paths, `..` segments, links of
 * any kind, devices and FIFOs, excessive depth, too many entries, files or totals over a limit,
 * and decompression bombs. One bad entry rejects the whole archive, and nothing is left behind.
 */
import {createWriteStream} from 'node:fs'
import {mkdir, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {type Readable, Transform, type TransformCallback} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {Parser, type ReadEntry} from 'tar'
import {CHUNK_SIZE} from '../backends/digest.js'
import {fromFsError, invalid, RegistryError} from '../backends/errors.js'
import {quote, validateFilePath} from '../backends/validation.js'

export interface ArchiveLimits {
  maxEntries: number
  maxDepth: number
  maxFileBytes: number
  maxTotalBytes: number
  /** Uncompressed / compressed bytes beyond which (past bombFloorBytes) a gzip is a bomb. */
  maxRatio: number
  bombFloorBytes: number
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxEntries: 100_000,
  maxDepth: 64,
  maxFileBytes: 1024 ** 4,
  maxTotalBytes: 4 * 1024 ** 4,
  maxRatio: 200,
  bombFloorBytes: 64 * 1024 * 1024,
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile'])

class Meter extends Transform {
  bytes = 0
  constructor(private readonly onBytes: (total: number) => void) {
    super({highWaterMark: CHUNK_SIZE})
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length
    try {
      this.onBytes(this.bytes)
      callback(null, chunk)
    } catch (error) {
      callback(error as Error)
    }
  }
}

/** The path an entry may be extracted to, or an error saying why it may not. */
function entryPath(entry: ReadEntry, limits: ArchiveLimits): string {
  const raw = entry.path
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) throw invalid(`archive entry ${quote(raw)} has an absolute path`)
  const path = raw.replace(/^(\.\/)+/, '').replace(/\/+$/, '')
  if (path.split('/').includes('..')) throw invalid(`archive entry ${quote(raw)} has a ".." segment`)
  if (path.split('/').length > limits.maxDepth) throw invalid(`archive entry ${quote(raw)} is nested deeper than ${limits.maxDepth} levels`)
  try {
    return validateFilePath(path)
  } catch (error) {
    throw invalid(`archive entry ${quote(raw)}: ${(error as Error).message}`)
  }
}

/**
 * Extract a (possibly gzipped) tar stream into `dest`, which must be a new, empty directory.
 * Throws `invalid_argument` (or `payload_too_large`) for a refused archive; the caller removes
 * `dest` then.
 */
export async function extractArchive(input: Readable, dest: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<{files: number; bytes: number}> {
  let entries = 0
  let files = 0
  let expanded = 0
  let failure: Error | null = null
  const writes: Promise<void>[] = []
  const compressed = new Meter(() => {})

  return new Promise((resolve, reject) => {
    const fail = (error: unknown) => {
      if (failure) return
      failure = error instanceof RegistryError ? error : invalid(`not a readable tar archive: ${(error as Error)?.message ?? error}`)
      input.destroy()
      parser.abort(failure)
      reject(failure)
    }
    const countExpanded = (n: number) => {
      expanded += n
      if (expanded > limits.maxTotalBytes) throw new RegistryError('payload_too_large', `archive expands to more than ${limits.maxTotalBytes} bytes`)
      if (expanded > limits.bombFloorBytes && expanded > compressed.bytes * limits.maxRatio) {
        throw new RegistryError('payload_too_large', `archive expands more than ${limits.maxRatio} times its compressed size: refused as a decompression bomb`)
      }
    }
    const parser = new Parser({
      strict: true,
      noResume: true,
      maxMetaEntrySize: 1024 * 1024,
      // Our own ratio check (with a floor, so that a small, very compressible archive passes) decides.
      maxDecompressionRatio: Number.MAX_SAFE_INTEGER,
      onReadEntry: (entry: ReadEntry) => {
        if (failure) {
          entry.resume()
          return
        }
        try {
          if (++entries > limits.maxEntries) throw invalid(`archive has more than ${limits.maxEntries} entries`)
          if (entry.type === 'Directory') {
            if (/^(\.\/?)+$/.test(entry.path)) {
              entry.resume() // the archive's own root
              return
            }
            const path = entryPath(entry, limits)
            entry.resume()
            writes.push(mkdir(join(dest, ...path.split('/')), {recursive: true}).then(() => undefined))
            return
          }
          if (!FILE_TYPES.has(entry.type)) {
            throw invalid(`archive entry ${quote(entry.path)} is a ${entry.type}; only regular files and directories are accepted`)
          }
          const path = entryPath(entry, limits)
          if (entry.size > limits.maxFileBytes) throw new RegistryError('payload_too_large', `archive entry ${quote(entry.path)} is larger than ${limits.maxFileBytes} bytes`)
          files++
          const segments = path.split('/')
          const target = join(dest, ...segments)
          const mode = (entry.mode ?? 0o644) & 0o111 ? 0o755 : 0o644
          const write = (async () => {
            await mkdir(join(dest, ...segments.slice(0, -1)), {recursive: true})
            let last = 0
            const counting = new Meter((total) => {
              countExpanded(total - last)
              last = total
            })
            // "wx": a second entry with the same path is refused, never written over the first.
            await pipeline(entry, counting, createWriteStream(target, {flags: 'wx', mode, highWaterMark: CHUNK_SIZE}))
          })().catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'EEXIST') throw invalid(`archive has ${quote(path)} twice`)
            if (error instanceof RegistryError) throw error
            throw fromFsError(error, `extracting ${quote(path)}`)
          })
          write.catch(fail)
          writes.push(write)
        } catch (error) {
          entry.resume()
          fail(error)
        }
      },
    })
    parser.on('error', fail)
    parser.on('end', () => {
      if (failure) return
      Promise.all(writes).then(
        () => (failure ? undefined : resolve({files, bytes: expanded})),
        fail,
      )
    })
    pipeline(input, compressed, parser).catch(fail)
  })
}

/** Extract into a fresh private temp directory; on any failure it is removed before the error surfaces. */
export async function extractToTemp(input: Readable, limits?: ArchiveLimits): Promise<{dir: string; files: number; bytes: number; cleanup: () => Promise<void>}> {
  const dir = await mkdtemp(join(tmpdir(), 'modelreg-archive-'))
  const cleanup = () => rm(dir, {recursive: true, force: true})
  try {
    const result = await extractArchive(input, dir, limits)
    if (result.files === 0) throw invalid('the archive holds no files')
    return {dir, ...result, cleanup}
  } catch (error) {
    await cleanup()
    throw error
  }
}
