import {createHash} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'
import Database from 'better-sqlite3'

/** Every file under a directory, relative, sorted. */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  const walk = (d: string) => {
    for (const entry of readdirSync(d, {withFileTypes: true})) {
      const full = join(d, entry.name)
      if (entry.isDirectory()) walk(full)
      else out.push(relative(dir, full))
    }
  }
  walk(dir)
  return out.sort()
}

/** Row counts of every table plus the blob files: equal snapshots mean an unchanged store. */
export function storeSnapshot(home: string): Record<string, unknown> {
  const dbFile = join(home, 'registry.db')
  const counts: Record<string, number> = {}
  if (existsSync(dbFile)) {
    const db = new Database(dbFile, {readonly: true})
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as {name: string}[]
      for (const {name} of tables) counts[name] = (db.prepare(`SELECT COUNT(*) AS n FROM "${name}"`).get() as {n: number}).n
    } finally {
      db.close()
    }
  }
  return {counts, blobs: listFiles(join(home, 'blobs'))}
}

export interface StoreCheck {
  versions: number
  problems: string[]
}

/**
 * Independent check of a local store (not through modelreg's code): every file of every visible
 * version has its blob, with the right size and sha256, and SQLite's integrity check passes.
 */
export function checkStore(home: string): StoreCheck {
  const db = new Database(join(home, 'registry.db'), {readonly: true})
  const problems: string[] = []
  try {
    const integrity = db.pragma('integrity_check', {simple: true})
    if (integrity !== 'ok') problems.push(`integrity_check: ${integrity}`)
    const rows = db
      .prepare('SELECT v.id, v.number, f.path, f.size, f.sha256 FROM versions v JOIN version_files f ON f.version_id = v.id')
      .all() as {id: number; number: number; path: string; size: number; sha256: string}[]
    const versions = (db.prepare('SELECT COUNT(*) AS n FROM versions').get() as {n: number}).n
    const checked = new Map<string, string | null>()
    for (const row of rows) {
      if (!checked.has(row.sha256)) {
        const file = join(home, 'blobs', 'sha256', row.sha256.slice(0, 2), row.sha256.slice(2))
        if (!existsSync(file)) checked.set(row.sha256, 'missing')
        else if (statSync(file).size !== row.size) checked.set(row.sha256, 'wrong size')
        else if (createHash('sha256').update(readFileSync(file)).digest('hex') !== row.sha256) checked.set(row.sha256, 'wrong digest')
        else checked.set(row.sha256, null)
      }
      const problem = checked.get(row.sha256)
      if (problem) problems.push(`version ${row.number} file ${row.path}: blob ${row.sha256} ${problem}`)
    }
    const empty = db.prepare('SELECT number FROM versions v WHERE NOT EXISTS (SELECT 1 FROM version_files f WHERE f.version_id = v.id)').all()
    for (const v of empty as {number: number}[]) problems.push(`version ${v.number} has no files`)
    return {versions, problems}
  } finally {
    db.close()
  }
}
