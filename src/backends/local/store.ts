/**
 * A SQLite database of modelreg's: one connection (guarded against its files being replaced,
 * see database-guard.ts), a cache of prepared statements, and transactions that run tasks
 * (see sql/task.ts).
 */
import type {Statement} from 'better-sqlite3'
import {mkdirSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fromFsError} from '../errors.js'
import {jsonPath} from '../filter.js'
import type {Dialect, SqlDriver} from '../sql/driver.js'
import {runSync, type SqlStatement, type Task} from '../sql/task.js'
import {type Db, openDatabase, type OpenOptions, readTransaction, writeTransaction} from './database.js'
import {GuardedDatabase} from './database-guard.js'

export interface StoreOptions {
  /** Told once, in one line, when the store stops taking writes (its files were removed or replaced). */
  onBroken?: (message: string) => void
}

/** How SQLite spells what differs from PostgreSQL (see sql/driver.ts). */
export const SQLITE: Dialect = {
  name: 'sqlite',
  jsonField: (column, key) => ({sql: `json_extract(${column}, ?)`, params: [jsonPath(key)]}),
  // json_extract gives 1/0 for JSON true/false, and JSON text for objects and arrays.
  jsonValue: (value) =>
    value !== null && typeof value === 'object'
      ? {sql: 'json(?)', params: [JSON.stringify(value)]}
      : {sql: '?', params: [typeof value === 'boolean' ? (value ? 1 : 0) : value]},
  jsonText: (column, key) => ({sql: `json_extract(${column}, ?)`, params: [jsonPath(key)]}),
  inJsonNumbers: (expr) => `${expr} IN (SELECT value FROM json_each(?))`,
  inJsonStrings: (expr) => `${expr} IN (SELECT value FROM json_each(?))`,
  jsonAgg: (expr, orderBy) => `json_group_array(${expr} ORDER BY ${orderBy})`,
  ilike: 'LIKE',
  nocase: (expr) => `${expr} COLLATE NOCASE`,
  falseValue: '0',
  forUpdate: '',
  forKeyShare: '',
  sharedBlobLock: null,
  exclusiveBlobLock: null,
  // The local store's stamp is SQLite's own data_version (LocalBackend.changeStamp).
  eventCounter: null,
  databaseCheck: `SELECT integrity_check AS problem FROM pragma_integrity_check WHERE integrity_check != 'ok'
    UNION ALL SELECT COUNT(*) || ' rows break a foreign key' AS problem FROM pragma_foreign_key_check HAVING COUNT(*) > 0`,
  insertEvent: `INSERT INTO events (time, type, project, project_key, model, model_key, model_id, version, tag, actor, data)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  columnRows: null,
}

export class Store {
  /** The directory the database is in. */
  readonly home: string
  private readonly database: GuardedDatabase
  private readonly statements = new Map<string, Statement<unknown[], unknown>>()

  private constructor(file: string, open: OpenOptions, options: StoreOptions) {
    this.home = dirname(file)
    this.database = new GuardedDatabase(file, () => openDatabase(file, open), () => this.statements.clear(), options.onBroken)
  }

  /** The connection (it is replaced if the database's WAL had to be reopened: do not keep it). */
  get db(): Db {
    return this.database.db
  }

  /** The registry's database in a store directory (created if missing). */
  static open(home: string, options: StoreOptions = {}): Store {
    return Store.openFile(join(home, 'registry.db'), {}, options)
  }

  /** Any SQLite database of modelreg's (the registry's, a server's tokens), in a directory created if missing. */
  static openFile(file: string, open: OpenOptions, options: StoreOptions = {}): Store {
    try {
      mkdirSync(dirname(file), {recursive: true, mode: 0o700})
    } catch (error) {
      throw fromFsError(error, `creating the directory ${dirname(file)}`)
    }
    return new Store(file, open, options)
  }

  /** Why the store takes no writes (its files were removed or replaced), or null when it is fine. */
  checkFiles(): string | null {
    return this.database.check()
  }

  /** Changes whenever the connection is replaced (see GuardedDatabase). */
  get generation(): number {
    return this.database.generation
  }

  close(): void {
    this.database.close()
  }

  stmt(sql: string): Statement<unknown[], unknown> {
    let statement = this.statements.get(sql)
    if (!statement) {
      statement = this.db.prepare(sql)
      this.statements.set(sql, statement)
    }
    return statement
  }

  /** Answer one statement of a task (see sql/task.ts) on this connection. */
  readonly execute = (statement: SqlStatement): unknown => {
    const prepared = this.stmt(statement.sql)
    switch (statement.kind) {
      case 'get':
        return prepared.get(statement.params)
      case 'all':
        return prepared.all(statement.params)
      case 'run':
        return prepared.run(statement.params).changes
    }
  }

  /** Run a task here and now (each statement on its own, or inside the caller's transaction). */
  sync<T>(task: Task<T>): T {
    return runSync(task, this.execute)
  }

  /** A write transaction around `body` (a task, or a plain function while code moves to tasks). */
  write<T>(what: string, body: () => Task<T>): T
  write<T>(what: string, body: () => T): T
  write<T>(what: string, body: () => T | Task<T>): T {
    const outermost = !this.db.inTransaction
    if (outermost) this.database.ensureWritable()
    const result = writeTransaction(this.db, what, () => this.settle(body()))
    if (outermost) this.database.wrote()
    return result
  }

  /** A read transaction: every statement of `body` sees one snapshot. */
  read<T>(body: () => Task<T>): T
  read<T>(body: () => T): T
  read<T>(body: () => T | Task<T>): T {
    return readTransaction(this.db, () => this.settle(body()))
  }

  private settle<T>(result: T | Task<T>): T {
    return isTask(result) ? runSync(result, this.execute) : result
  }
}

function isTask<T>(value: T | Task<T>): value is Task<T> {
  return typeof value === 'object' && value !== null && typeof (value as Task<T>).next === 'function' && typeof (value as Task<T>).throw === 'function'
}

/** The SQLite store as an engine's driver: its transactions are synchronous, so tasks run without awaiting. */
export class SqliteDriver implements SqlDriver {
  readonly dialect = SQLITE

  constructor(readonly store: Store) {}

  async read<T>(body: () => Task<T>): Promise<T> {
    return this.store.read(body)
  }

  async write<T>(what: string, body: () => Task<T>): Promise<T> {
    return this.store.write(what, body)
  }

  async close(): Promise<void> {
    this.store.close()
  }
}
