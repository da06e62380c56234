/** Turning the paths a user names into the files of a version. */
import {readdir, realpath, stat} from 'node:fs/promises'
import {basename, join, resolve} from 'node:path'
import {fromFsError, invalid} from '../backends/errors.js'
import {pathCollisionKey, quote, validateFilePath} from '../backends/validation.js'

export interface LocalFile {
  /** Absolute path on this machine. */
  source: string
  /** Path inside the version. */
  path: string
  size: number
  mode: number
}

/**
 * Expand files and directories into a flat, sorted list. A file is stored under its base name;
 * a directory's files under their paths relative to it. Symbolic links are followed (loops are
 * refused); sockets, FIFOs and devices are refused. Two entries that would land on the same
 * path (also ignoring case or Unicode normalization) are refused.
 */
export async function collectFiles(paths: string[], what = 'file'): Promise<LocalFile[]> {
  const out: LocalFile[] = []
  for (const input of paths) {
    const absolute = resolve(input)
    let info
    try {
      info = await stat(absolute)
    } catch (error) {
      throw fromFsError(error, `${what} ${quote(input)}`)
    }
    if (info.isDirectory()) {
      const before = out.length
      await walk(absolute, '', out, new Set([await realpath(absolute)]))
      if (out.length === before) throw invalid(`directory ${quote(input)} holds no files`)
    } else if (info.isFile()) {
      out.push({source: absolute, path: checkedPath(basename(absolute), absolute), size: info.size, mode: modeOf(info.mode)})
    } else {
      throw invalid(`${what} ${quote(input)} is not a regular file or directory`)
    }
  }
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const seen = new Map<string, LocalFile>()
  for (const file of out) {
    const key = pathCollisionKey(file.path)
    const other = seen.get(key)
    if (other) {
      throw invalid(
        other.path === file.path
          ? `two ${what}s would both be stored as ${quote(file.path)} (${other.source} and ${file.source}); push them from one directory or rename one`
          : `${quote(other.path)} and ${quote(file.path)} differ only in case or Unicode normalization; they would overwrite each other on some systems`,
      )
    }
    seen.set(key, file)
  }
  return out
}

function modeOf(mode: number): number {
  return mode & 0o111 ? 0o755 : 0o644
}

function checkedPath(path: string, source: string): string {
  try {
    return validateFilePath(path)
  } catch (error) {
    throw invalid(`cannot push ${quote(source)}: ${(error as Error).message}`)
  }
}

async function walk(dir: string, prefix: string, out: LocalFile[], ancestors: Set<string>): Promise<void> {
  let entries
  try {
    entries = await readdir(dir, {withFileTypes: true})
  } catch (error) {
    throw fromFsError(error, `reading directory ${quote(dir)}`)
  }
  for (const entry of entries) {
    const source = join(dir, entry.name)
    const path = prefix ? `${prefix}/${entry.name}` : entry.name
    let info
    try {
      info = await stat(source)
    } catch (error) {
      if (entry.isSymbolicLink()) throw invalid(`symbolic link ${quote(source)} points at nothing`)
      throw fromFsError(error, quote(source))
    }
    if (info.isDirectory()) {
      const real = await realpath(source)
      if (ancestors.has(real)) throw invalid(`symbolic link loop at ${quote(source)}`)
      await walk(source, path, out, new Set([...ancestors, real]))
    } else if (info.isFile()) {
      out.push({source, path: checkedPath(path, source), size: info.size, mode: modeOf(info.mode)})
    } else {
      throw invalid(`${quote(source)} is not a regular file or directory (sockets, FIFOs and devices cannot be pushed)`)
    }
  }
}
