/**
 * What every part of the local engine shares: the database, the blob directory, a cache of
 * prepared statements, transactions, and the event journal (one event per change, written in
 * the same transaction as the change).
 */
import type {Statement} from 'better-sqlite3'
import {mkdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import type {EventType, JsonObject} from '../backend.js'
import {fromFsError, invalid, RegistryError} from '../errors.js'
import {nameKey} from '../validation.js'
import {BlobStore} from './blob-store.js'
import {type Db, openDatabase, readTransaction, writeTransaction} from './database.js'
import {GuardedDatabase} from './database-guard.js'
import {get, run, runSync, type SqlStatement, type Task} from '../sql/task.js'

export interface ProjectRow {
  id: number
  name: string
  name_key: string
  description: string
  created_at: string
}

export interface EventFields {
  project: string
  model?: string | null
  modelId?: number | null
  version?: number | null
  tag?: string | null
  data?: JsonObject
}

/** The one answer for a blob that is not there, or not in the caller's view: the two look alike. */
export const missingBlob = (digest: string): RegistryError => invalid(`blob ${digest} is not in the store; upload it before committing`, {digest})

export const now = (): string => new Date().toISOString()
export const parseJson = <T>(text: string): T => JSON.parse(text) as T

interface Shared {
  home: string
  database: GuardedDatabase
  blobs: BlobStore
  statements: Map<string, Statement<unknown[], unknown>>
}

export interface StoreOptions {
  /** Told once, in one line, when the store stops taking writes (its files were removed or replaced). */
  onBroken?: (message: string) => void
}

export class Store {
  readonly home: string
  readonly blobs: BlobStore
  private readonly database: GuardedDatabase
  private readonly statements: Map<string, Statement<unknown[], unknown>>

  private constructor(
    shared: Shared,
    /** Who is acting, recorded on events: a name, or a function asked on the first change. */
    private actorSource: string | (() => string),
    /** Merged into every event's data (the server: the token that authorized the change). */
    readonly eventContext?: JsonObject,
    /**
     * The one project this handle may see into (the server: a token limited to a project), or
     * null for all. Blobs and checkpoints outside its view behave exactly as missing ones.
     */
    readonly projectScope: string | null = null,
  ) {
    this.home = shared.home
    this.database = shared.database
    this.blobs = shared.blobs
    this.statements = shared.statements
  }

  /** The connection (it is replaced if the database's WAL had to be reopened: do not keep it). */
  get db(): Db {
    return this.database.db
  }

  /** Who is acting (looked up on first use, so reads never pay for it). */
  get actor(): string {
    if (typeof this.actorSource === 'function') this.actorSource = this.actorSource()
    return this.actorSource
  }

  static open(home: string, actor: string | (() => string), options: StoreOptions = {}): Store {
    try {
      mkdirSync(home, {recursive: true, mode: 0o700})
    } catch (error) {
      throw fromFsError(error, `creating the store directory ${home}`)
    }
    const file = join(home, 'registry.db')
    const statements = new Map<string, Statement<unknown[], unknown>>()
    const database = new GuardedDatabase(file, () => openDatabase(file), () => statements.clear(), options.onBroken)
    return new Store({home, database, blobs: new BlobStore(home), statements}, actor)
  }

  /** The same store, acting as someone else, confined to `projectScope` (null: all projects). */
  as(actor: string, eventContext?: JsonObject, projectScope: string | null = null): Store {
    return new Store({home: this.home, database: this.database, blobs: this.blobs, statements: this.statements}, actor, eventContext, projectScope)
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

  *findProject(name: string): Task<ProjectRow | undefined> {
    return yield* get<ProjectRow>('SELECT * FROM projects WHERE name_key = ?', nameKey(name))
  }

  /** The project, created (with its event) on first write. Inside a write transaction. */
  *ensureProject(name: string): Task<ProjectRow> {
    const existing = yield* this.findProject(name)
    if (existing) return existing
    const time = now()
    const row = (yield* get<{id: number}>('INSERT INTO projects (name, name_key, created_at) VALUES (?, ?, ?) RETURNING id', name, nameKey(name), time)) as {id: number}
    yield* this.event('project.created', {project: name})
    return {id: row.id, name, name_key: nameKey(name), description: '', created_at: time}
  }

  *event(type: EventType, fields: EventFields): Task<void> {
    yield* run(
      `INSERT INTO events (time, type, project, project_key, model, model_key, model_id, version, tag, actor, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      now(),
      type,
      fields.project,
      nameKey(fields.project),
      fields.model ?? null,
      fields.model ? nameKey(fields.model) : null,
      fields.modelId ?? null,
      fields.version ?? null,
      fields.tag ?? null,
      this.actor,
      JSON.stringify(this.eventContext ? {...fields.data, ...this.eventContext} : (fields.data ?? {})),
    )
  }

  /**
   * Make sure a blob a version or checkpoint is about to reference is stored whole, and mark it
   * used now so that gc leaves it alone. Inside the write transaction that commits.
   */
  *claimBlob(digest: string, size: number, time: string, project: string): Task<void> {
    if (!(yield* this.blobVisible(digest))) throw missingBlob(digest)
    let actual: number | null = null
    try {
      const info = statSync(this.blobs.pathOf(digest))
      if (info.isFile()) actual = info.size
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fromFsError(error, `checking blob ${digest}`)
    }
    if (actual === null) throw missingBlob(digest)
    if (actual !== size) throw new RegistryError('integrity', `blob ${digest} is ${actual} bytes in the store, but the manifest says ${size}`, {digest})
    yield* this.touchBlob(digest, size, time)
    yield* this.grantBlob(digest, project)
  }

  /** Whether this handle's view includes the blob (always, without a scope). */
  *blobVisible(digest: string): Task<boolean> {
    if (this.projectScope === null) return true
    return (yield* get('SELECT 1 FROM blob_grants WHERE digest = ? AND project_key = ?', digest, nameKey(this.projectScope))) !== undefined
  }

  /** Let `project` see a stored blob (its row must exist: touchBlob first). */
  *grantBlob(digest: string, project: string): Task<void> {
    yield* run('INSERT INTO blob_grants (digest, project_key) VALUES (?, ?) ON CONFLICT DO NOTHING', digest, nameKey(project))
  }

  /** Record a blob as stored and used now (gc spares recently used blobs). */
  *touchBlob(digest: string, size: number, time: string): Task<void> {
    yield* run(
      `INSERT INTO blobs (digest, size, created_at, touched_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (digest) DO UPDATE SET touched_at = excluded.touched_at`,
      digest,
      size,
      time,
      time,
    )
  }
}

function isTask<T>(value: T | Task<T>): value is Task<T> {
  return typeof value === 'object' && value !== null && typeof (value as Task<T>).next === 'function' && typeof (value as Task<T>).throw === 'function'
}
