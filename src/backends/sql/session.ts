/**
 * Who is acting and what they may see, and the steps every write shares: projects made on first
 * use, the event journal (one event per change, in the same transaction), and the blob rows and
 * grants that say which stored bytes a version may name.
 */
import type {EventType, JsonObject, SourceInfo} from '../backend.js'
import {integrity, invalid, type RegistryError} from '../errors.js'
import {nameKey} from '../validation.js'
import type {Dialect} from './driver.js'
import {get, run, type Task} from './task.js'

export interface ProjectRow {
  id: number
  name: string
  name_key: string
  description: string
  created_at: string
}

/** A row of models as MODEL_SELECT reads it (with its project's name and version counts). */
export interface ModelRow {
  id: number
  project_id: number
  project_name: string
  name: string
  name_key: string
  description: string
  owner: string | null
  task: string | null
  metadata: string
  labels: string
  created_at: string
  updated_at: string
  last_number: number
  version_count: number
  latest_version: number | null
}

/** A row of versions. */
export interface VersionRow {
  id: number
  model_id: number
  number: number
  comment: string
  author: string
  created_at: string
  metadata: string
  metrics: string
  framework: string | null
  format: string | null
  source: string
  size: number
  file_count: number
  attachment_count: number
  run_uid: string | null
  lineage: string | null
}

export interface EventFields {
  project: string
  model?: string | null
  modelId?: number | null
  version?: number | null
  tag?: string | null
  data?: JsonObject
}

export const now = (): string => new Date().toISOString()
export const parseJson = <T>(text: string): T => JSON.parse(text) as T

/** Where something came from, when nothing was recorded. */
export const emptySource = (): SourceInfo => ({host: null, git: null, ci: null})

/** A stored source column (JSON), with what it lacks as null. */
export const storedSource = (text: string): SourceInfo => ({...emptySource(), ...parseJson<Partial<SourceInfo>>(text)})

/** What a version row says of itself, as every read of a version shows it (summaries, histories). */
export function versionFields(row: VersionRow) {
  return {
    comment: row.comment,
    author: row.author,
    created_at: row.created_at,
    metadata: parseJson<JsonObject>(row.metadata),
    metrics: parseJson<Record<string, number>>(row.metrics),
    framework: row.framework,
    format: row.format,
    source: storedSource(row.source),
  }
}

/**
 * `LIMIT n` (and `OFFSET ?` past the first page) for a page validatePage checked: the limit in the
 * text, so PostgreSQL plans a prepared read for the rows it really takes. With the limit a
 * parameter, its generic plan assumes a tenth of the table, so it plans every call afresh
 * (0.2-0.3 ms of a 20-model page at 10k models). Few texts: a limit is 1 to 1,000, and an
 * offset stays a parameter.
 */
export function pageSql(page: {limit: number; offset: number}): {sql: string; params: number[]} {
  if (!Number.isSafeInteger(page.limit) || page.limit < 1) throw new Error(`not a checked page limit: ${page.limit}`)
  return page.offset > 0 ? {sql: `LIMIT ${page.limit} OFFSET ?`, params: [page.offset]} : {sql: `LIMIT ${page.limit}`, params: []}
}

/** The one answer for a blob that is not there, or not in the caller's view: the two look alike. */
export const missingBlob = (digest: string): RegistryError => invalid(`blob ${digest} is not in the store; upload it before committing`, {digest})

export class Session {
  constructor(
    readonly dialect: Dialect,
    /** Who is acting, recorded on events: a name, or a function asked on the first change. */
    private actorSource: string | (() => string),
    /** Merged into every event's data (the server: the token that authorized the change). */
    readonly eventContext?: JsonObject,
    /**
     * The one project this session may see into (the server: a token limited to a project), or
     * null for all. Blobs and checkpoints outside its view behave exactly as missing ones.
     */
    readonly projectScope: string | null = null,
  ) {}

  /** Who is acting (looked up on first use, so reads never pay for it). */
  get actor(): string {
    if (typeof this.actorSource === 'function') this.actorSource = this.actorSource()
    return this.actorSource
  }

  /** The same database, acting as someone else, confined to `projectScope` (null: all projects). */
  as(actor: string, eventContext?: JsonObject, projectScope: string | null = null): Session {
    return new Session(this.dialect, actor, eventContext, projectScope)
  }

  *findProject(name: string): Task<ProjectRow | undefined> {
    return yield* get<ProjectRow>('SELECT * FROM projects WHERE name_key = ?', nameKey(name))
  }

  /** The project, created (with its event) on first write; safe against a concurrent creator. */
  *ensureProject(name: string, restored?: {description: string; created_at: string}): Task<ProjectRow> {
    const existing = yield* this.findProject(name)
    if (existing) return existing
    const time = restored?.created_at ?? now()
    const inserted = yield* get<{id: number}>(
      'INSERT INTO projects (name, name_key, created_at) VALUES (?, ?, ?) ON CONFLICT (name_key) DO NOTHING RETURNING id',
      name,
      nameKey(name),
      time,
    )
    if (!inserted) return (yield* this.findProject(name)) as ProjectRow
    if (restored) {
      if (restored.description) yield* run('UPDATE projects SET description = ? WHERE id = ?', restored.description, inserted.id)
      yield* this.eventAs('project.created', {project: name}, time, this.actor, {})
    } else yield* this.event('project.created', {project: name})
    return {id: inserted.id, name, name_key: nameKey(name), description: restored?.description ?? '', created_at: time}
  }

  *event(type: EventType, fields: EventFields): Task<void> {
    yield* this.eventAs(type, fields, now(), this.actor, this.eventContext ? {...fields.data, ...this.eventContext} : (fields.data ?? {}))
  }

  /**
   * An event written as it was recorded elsewhere (restore): its time, actor and data kept. Its
   * id is the next in this store's journal, like any other event's.
   */
  *eventAs(type: EventType, fields: EventFields, time: string, actor: string, data: JsonObject): Task<void> {
    yield* run(
      this.dialect.insertEvent,
      time,
      type,
      fields.project,
      nameKey(fields.project),
      fields.model ?? null,
      fields.model ? nameKey(fields.model) : null,
      fields.modelId ?? null,
      fields.version ?? null,
      fields.tag ?? null,
      actor,
      JSON.stringify(data),
    )
  }

  /**
   * Make sure a blob a version or checkpoint of `project` is about to name is stored whole and
   * in the caller's view, mark it used now (gc spares it), and let the project see it from now
   * on. Inside the write transaction that commits. A blob has a row only once its bytes are whole.
   */
  *claimBlob(digest: string, size: number, time: string, project: string): Task<void> {
    yield* this.blobLock()
    if (!(yield* this.blobVisible(digest))) throw missingBlob(digest)
    const row = yield* get<{size: number}>('SELECT size FROM blobs WHERE digest = ?', digest)
    if (!row) throw missingBlob(digest)
    if (Number(row.size) !== size) throw integrity(`blob ${digest} is ${row.size} bytes in the store, but the manifest says ${size}`, {digest})
    yield* this.touchBlob(digest, size, time)
    yield* this.grantBlob(digest, project)
  }

  /** Whether this session's view includes the blob (always, without a scope). */
  *blobVisible(digest: string): Task<boolean> {
    if (this.projectScope === null) return true
    return (yield* get('SELECT 1 AS one FROM blob_grants WHERE digest = ? AND project_key = ?', digest, nameKey(this.projectScope))) !== undefined
  }

  /** Let `project` see a stored blob (its row must exist: touchBlob first). */
  *grantBlob(digest: string, project: string): Task<void> {
    yield* run('INSERT INTO blob_grants (digest, project_key) VALUES (?, ?) ON CONFLICT DO NOTHING', digest, nameKey(project))
  }

  /** Wait for a gc sweeping the blob store, and keep it away until this transaction ends. */
  *blobLock(): Task<void> {
    if (this.dialect.sharedBlobLock) yield* get(this.dialect.sharedBlobLock)
  }

  /** Record a blob as stored whole and used now (gc spares recently used blobs). */
  *touchBlob(digest: string, size: number, time: string): Task<void> {
    yield* this.blobLock()
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
