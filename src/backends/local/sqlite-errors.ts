/** SQLite's failures that users can act on, as modelreg's errors. It imports no SQLite: the CLI's error path loads it too. */
import {statfsSync} from 'node:fs'
import {RegistryError} from '../errors.js'

/** Whether the file system holding `dir` is (nearly) out of space. */
function diskFull(dir: string | undefined): boolean {
  if (!dir) return false
  try {
    const fs = statfsSync(dir)
    return fs.bavail * fs.bsize < 1024 * 1024
  } catch {
    return false
  }
}

/** `error` as a RegistryError when SQLite says something users can act on; otherwise `error` itself. */
export function translateSqliteError(error: unknown, what: string, dir?: string): unknown {
  const code = (error as {code?: string})?.code
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return error
  // A full disk shows up as SQLITE_FULL, or as an I/O error growing the WAL or its index.
  if (code === 'SQLITE_FULL' || (code.startsWith('SQLITE_IOERR') && diskFull(dir))) return new RegistryError('storage_full', `${what}: no space left for the registry database; free some space and retry (nothing was committed)`)
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new RegistryError('integrity', `${what}: the registry database is damaged (${code}); run modelreg verify and restore from a backup`)
  }
  // The WAL or its index vanished under another process that still has the store open: that
  // process holds commits this one cannot read.
  if (code === 'SQLITE_IOERR_SHORT_READ') {
    return new RegistryError(
      'integrity',
      `${what}: the registry database's files do not fit together (${code}): its -wal file was likely removed while another process had the store open; stop the processes using this store (a server, a script) so they can save their data, then retry`,
    )
  }
  if (code.startsWith('SQLITE_READONLY')) return new RegistryError('permission_denied', `${what}: the registry database is read-only`)
  if (code.startsWith('SQLITE_CANTOPEN')) return new RegistryError('permission_denied', `${what}: cannot open the registry database (${code})`)
  return error
}

