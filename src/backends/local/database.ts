/**
 * The SQLite side of the local engine: WAL, a busy timeout, IMMEDIATE write transactions with a
 * retry on top of the busy handler, and numbered migrations recorded in the database.
 */
import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import Database, {type Statement} from 'better-sqlite3'
import {RegistryError} from '../errors.js'
import {MIGRATIONS, type Migration} from './migrations.js'
import {translateSqliteError} from './sqlite-errors.js'

export type Db = Database.Database

/** How long one statement waits on another process's lock before SQLite gives up (busy handler). */
const BUSY_TIMEOUT_MS = 15_000
/** How long a write keeps retrying after SQLite gave up, before the user sees an error. */
const WRITE_RETRY_MS = 120_000

const sleepCell = new Int32Array(new SharedArrayBuffer(4))
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms)
}

function isBusy(error: unknown): boolean {
  const code = (error as {code?: string})?.code
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
}

/** Run fn, retrying with jittered backoff while SQLite reports the database busy or locked. */
export function withBusyRetry<T>(fn: () => T, what: string, dir?: string): T {
  const deadline = Date.now() + WRITE_RETRY_MS
  let delay = 5
  for (;;) {
    try {
      return fn()
    } catch (error) {
      if (!isBusy(error)) throw translateSqliteError(error, what, dir)
      if (Date.now() > deadline) {
        throw new RegistryError('unavailable', `${what}: the registry database stayed locked by another process for ${WRITE_RETRY_MS / 1000}s; retry`)
      }
      sleepSync(delay + Math.random() * delay)
      delay = Math.min(delay * 2, 250)
    }
  }
}

let binding: string | null | undefined

/**
 * better-sqlite3's compiled addon, named directly: left to find it, the `bindings` package
 * tries a dozen paths on every start (about 2.5 ms of a 180 ms command). Undefined (the default
 * search) if it is not where npm builds it.
 */
function nativeBinding(): string | undefined {
  if (binding === undefined) {
    try {
      const path = join(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node')
      binding = existsSync(path) ? path : null
    } catch {
      binding = null
    }
  }
  return binding ?? undefined
}

export interface OpenOptions {
  readonly?: boolean
  /** The schema this database follows (default: the registry's). */
  migrations?: readonly Migration[]
  /** What the database is, for messages. */
  what?: string
}

export function openDatabase(file: string, options: OpenOptions = {}): Db {
  const migrations = options.migrations ?? MIGRATIONS
  const what = options.what ?? 'registry'
  let db: Db
  try {
    db = withBusyRetry(
      () => new Database(file, {timeout: BUSY_TIMEOUT_MS, readonly: options.readonly ?? false, nativeBinding: nativeBinding()}),
      `opening the ${what} database`,
      dirname(file),
    )
  } catch (error) {
    if (error instanceof RegistryError) throw error
    throw new RegistryError('internal', `cannot open the ${what} database ${file}: ${(error as Error).message}`)
  }
  try {
    withBusyRetry(() => {
      if (!options.readonly) db.pragma('journal_mode = WAL')
      db.pragma('synchronous = FULL')
      db.pragma('foreign_keys = ON')
      db.pragma('temp_store = MEMORY')
      db.pragma('cache_size = -8000')
    }, `opening the ${what} database`, dirname(file))
    if (!options.readonly) migrate(db, migrations, what)
    else checkSchemaVersion(db, migrations, what)
    return db
  } catch (error) {
    db.close()
    throw error
  }
}

const latestOf = (migrations: readonly Migration[]) => migrations[migrations.length - 1].version

function checkSchemaVersion(db: Db, migrations: readonly Migration[], what: string): number {
  const current = db.pragma('user_version', {simple: true}) as number
  const latest = latestOf(migrations)
  if (current > latest) {
    throw new RegistryError(
      'internal',
      `the ${what} database is at schema version ${current}, newer than this modelreg understands (${latest}); upgrade modelreg`,
    )
  }
  return current
}

function migrate(db: Db, migrations: readonly Migration[], what: string): void {
  const latest = latestOf(migrations)
  if (checkSchemaVersion(db, migrations, what) === latest) return
  withBusyRetry(
    () =>
      db
        .transaction(() => {
          db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            applied_at TEXT NOT NULL
          )`)
          // Re-read inside the write lock: another process may have migrated meanwhile.
          const applied = new Set(
            (db.prepare('SELECT version FROM schema_migrations').all() as {version: number}[]).map((row) => row.version),
          )
          const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          for (const migration of migrations) {
            if (applied.has(migration.version)) continue
            db.exec(migration.sql)
            record.run(migration.version, migration.name, new Date().toISOString())
          }
          db.pragma(`user_version = ${latest}`)
        })
        .immediate(),
    `migrating the ${what} database`,
  )
}

/** A write transaction: BEGIN IMMEDIATE, so the write lock is taken up front and waits politely. */
export function writeTransaction<T>(db: Db, what: string, fn: () => T): T {
  return withBusyRetry(() => db.transaction(fn).immediate(), what, dirname(db.name))
}

const readStatements = new WeakMap<Db, {begin: Statement; commit: Statement; rollback: Statement}>()

/**
 * A read transaction, so that several statements see one snapshot. Reads are the hot path of
 * the server, so this uses BEGIN and COMMIT statements prepared once per connection instead of
 * building a transaction function per call (about a fifth of a small read's cost).
 */
export function readTransaction<T>(db: Db, fn: () => T): T {
  if (db.inTransaction) return fn()
  let statements = readStatements.get(db)
  if (!statements) {
    statements = {begin: db.prepare('BEGIN DEFERRED'), commit: db.prepare('COMMIT'), rollback: db.prepare('ROLLBACK')}
    readStatements.set(db, statements)
  }
  const {begin, commit, rollback} = statements
  return withBusyRetry(
    () => {
      begin.run()
      try {
        const result = fn()
        commit.run()
        return result
      } catch (error) {
        if (db.inTransaction) rollback.run()
        throw error
      }
    },
    'reading the registry',
    dirname(db.name),
  )
}
