/**
 * Dataset references, the one way `runs dataset`, `models push --dataset`, `sync` and the
 * library record them: the string given is kept verbatim, and a digest (when asked for) is of
 * exactly the path given, read without rewriting it and within bounds.
 */
import {createHash} from 'node:crypto'
import {type Dirent, type Stats} from 'node:fs'
import {opendir, realpath, stat, statfs} from 'node:fs/promises'
import {isAbsolute, sep} from 'node:path'
import type {DatasetInput, JsonObject} from '../backends/backend.js'
import {fromFsError, invalid, notFound, RegistryError} from '../backends/errors.js'
import {quote} from '../backends/validation.js'
import {hashFile} from '../backends/digest.js'

/** A directory walk stops with an error past these: a dataset is not a whole file system. */
export const DATASET_LIMITS = {depth: 64, entries: 1_000_000}

const URI_RE = /^[a-z][a-z0-9+.-]*:\/\//i
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/

/**
 * File systems whose files are not data (statfs magic numbers): their files report a size of
 * 0 or 4096 whatever they hold, some never end or block on read, and /proc links everywhere.
 */
const PSEUDO_FILE_SYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x1cd1, 'devpts'],
  [0xcafe4a11, 'bpf'],
  [0x6165676c, 'pstore'],
  [0x62656570, 'configfs'],
  [0x65735543, 'fusectl'],
  [0x42494e4d, 'binfmt_misc'],
  [0xde5e81e4, 'efivarfs'],
  [0xf97cff8c, 'selinuxfs'],
  [0x6e736673, 'nsfs'],
  [0x19800202, 'mqueue'],
])

export interface DatasetReferenceOptions {
  metadata?: JsonObject
  /** Record the sha256 and size of the local file or directory. */
  hash?: boolean
  /** Where a relative path is read from (a sync file's directory); default the working directory. */
  base?: string
  /** What the messages call the path: "dataset path", "sync file: run x dataset train path". */
  what?: string
}

/**
 * The dataset to record: `uri` is exactly the string given (no resolving, no normalizing); with
 * `hash`, the local file's sha256 and size, or a directory's manifest sha256 (see datasetDigest).
 */
export async function datasetReference(tag: string, given: string, options: DatasetReferenceOptions = {}): Promise<DatasetInput> {
  const what = options.what ?? 'dataset path'
  let digest: {sha256: string; size: number} | null = null
  if (options.hash) {
    if (URI_RE.test(given)) throw invalid(`${what} ${quote(given)}: --hash works on local files and directories, not URIs`)
    digest = await datasetDigest(given, {base: options.base, what})
  }
  return {tag, uri: given, metadata: options.metadata, sha256: digest?.sha256 ?? null, size: digest?.size ?? null}
}

interface Walk {
  given: string
  what: string
  rootReal: string
  entries: number
  devices: Map<number, string | null>
  files: {path: string; source: string; size: number}[]
}

/**
 * sha256 and size of a local file; for a directory, the sha256 of its manifest (one
 * "<sha256>  <relative path>" line per file, sorted, as sha256sum prints them).
 *
 * The path is handed to the file system exactly as written: "x/.." needs "x" to exist, as in
 * a shell. Inside a directory, a symbolic link is followed only if it stays inside it; one
 * that leads out is refused. Sockets, FIFOs and devices are refused, so are pseudo file
 * systems (/proc, /sys ...), a tree deeper than 64 levels or larger than a million entries,
 * and a file that reads longer than its size.
 */
export async function datasetDigest(given: string, options: {base?: string; what?: string} = {}): Promise<{sha256: string; size: number}> {
  const what = options.what ?? 'dataset path'
  // Concatenated, not joined: path.join would resolve "..", and the file system must see it.
  const path = options.base && !isAbsolute(given) ? `${options.base}${sep}${given}` : given
  let info: Stats
  try {
    info = await stat(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(`${what} ${quote(given)} does not exist (it is read exactly as written)`)
    throw fromFsError(error, `${what} ${quote(given)}`)
  }
  const walk: Walk = {given, what, rootReal: '', entries: 0, devices: new Map(), files: []}
  await checkFileSystem(walk, path, info, null)
  if (info.isFile()) {
    const {digest, size} = await hashBounded(walk, path, info.size, given)
    return {sha256: digest, size}
  }
  if (!info.isDirectory()) throw invalid(`${what} ${quote(given)} is not a regular file or directory`)
  walk.rootReal = await realpath(path)
  await walkDirectory(walk, path, '', 1, new Set([walk.rootReal]))
  walk.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const manifest = createHash('sha256')
  let size = 0
  for (const file of walk.files) {
    const {digest, size: n} = await hashBounded(walk, file.source, file.size, inside(walk, file.path))
    manifest.update(`${digest}  ${file.path}\n`)
    size += n
  }
  return {sha256: manifest.digest('hex'), size}
}

/** A path inside the walk as the user would type it: the path given, then the relative path. */
function inside(walk: Walk, path: string): string {
  return `${walk.given}${walk.given.endsWith('/') ? '' : '/'}${path}`
}

async function walkDirectory(walk: Walk, dir: string, prefix: string, depth: number, ancestors: Set<string>): Promise<void> {
  const shown = (path: string) => quote(inside(walk, path))
  if (depth > DATASET_LIMITS.depth) {
    throw invalid(`${walk.what} ${quote(walk.given)} is deeper than ${DATASET_LIMITS.depth} directory levels (at ${shown(prefix)}); hash a smaller directory`)
  }
  let handle
  try {
    handle = await opendir(dir)
  } catch (error) {
    throw fromFsError(error, `reading directory ${prefix ? shown(prefix) : quote(walk.given)}`)
  }
  // Streamed, so a directory with millions of entries is counted as it is read, not loaded.
  const entries: Dirent[] = []
  try {
    for await (const entry of handle) {
      if (++walk.entries > DATASET_LIMITS.entries) {
        throw invalid(`${walk.what} ${quote(walk.given)} holds more than ${DATASET_LIMITS.entries} entries; hash a smaller directory`)
      }
      entries.push(entry)
    }
  } catch (error) {
    throw error instanceof RegistryError ? error : fromFsError(error, `reading directory ${prefix ? shown(prefix) : quote(walk.given)}`)
  }
  for (const entry of entries) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name
    if (CONTROL_RE.test(entry.name)) throw invalid(`${shown(path)} has control characters in its name; it cannot be listed in a manifest`)
    const source = `${dir}${sep}${entry.name}`
    let real: string | null = null
    if (entry.isSymbolicLink()) {
      try {
        real = await realpath(source)
      } catch {
        throw invalid(`symbolic link ${shown(path)} points at nothing`)
      }
      if (real !== walk.rootReal && !real.startsWith(walk.rootReal.endsWith(sep) ? walk.rootReal : walk.rootReal + sep)) {
        throw invalid(`symbolic link ${shown(path)} leads out of ${quote(walk.given)} (to ${quote(real)}); refusing to hash it: hash the target directly or copy it in`)
      }
    }
    let info: Stats
    try {
      info = await stat(source)
    } catch (error) {
      throw fromFsError(error, shown(path))
    }
    await checkFileSystem(walk, source, info, path)
    if (info.isDirectory()) {
      real ??= await realpath(source)
      if (ancestors.has(real)) throw invalid(`symbolic link loop at ${shown(path)}`)
      await walkDirectory(walk, source, path, depth + 1, new Set([...ancestors, real]))
    } else if (info.isFile()) {
      walk.files.push({path, source, size: info.size})
    } else {
      throw invalid(`${shown(path)} is not a regular file or directory (sockets, FIFOs and devices cannot be hashed)`)
    }
  }
}

/** Refuse pseudo file systems; statfs is asked once per device (mount) met. */
async function checkFileSystem(walk: Walk, path: string, info: Stats, relative: string | null): Promise<void> {
  let name = walk.devices.get(info.dev)
  if (name === undefined) {
    const type = await statfs(path).then(
      (s) => s.type >>> 0,
      () => 0,
    )
    name = PSEUDO_FILE_SYSTEMS.get(type) ?? null
    walk.devices.set(info.dev, name)
  }
  if (!name) return
  const where = relative === null ? '' : ` (at ${quote(inside(walk, relative))})`
  throw invalid(`${walk.what} ${quote(walk.given)} leads into a ${name} file system${where}, which holds no data to hash`)
}

/** A file that reads longer than its size is still being written, or is not an ordinary file. */
async function hashBounded(walk: Walk, source: string, size: number, shown: string): Promise<{digest: string; size: number}> {
  let read = 0
  try {
    return await hashFile(source, (n) => {
      read += n
      if (read > size) throw invalid(`${quote(shown)} reads longer than its size of ${size} bytes (it is growing, or not an ordinary file); ${walk.what} not hashed`)
    })
  } catch (error) {
    throw fromFsError(error, quote(shown))
  }
}
