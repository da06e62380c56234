/**
 * The registry's engine, written once for every SQL database: the rules of models, versions,
 * tags and events (validation from validation.ts, numbering, merges, tag history, event shapes,
 * row-to-entity mapping) as tasks that a driver runs in its transactions (sql/task.ts). The
 * local store is this engine over SQLite and a blob directory (local/local-backend.ts); a
 * server that scales out runs it over PostgreSQL and S3. The server wraps whichever it has.
 */
import type {Readable} from 'node:stream'
import type {
  Backend,
  BlobInfo,
  BlobStaging,
  BlobStream,
  Checkpoint,
  CheckpointCreate,
  CheckpointSummary,
  Dataset,
  DatasetInput,
  DeleteResult,
  Experiment,
  ExperimentCreate,
  ExperimentPatch,
  GcOptions,
  GcReport,
  Lineage,
  ModelHistory,
  HistoryDigestQuery,
  HistoryDigests,
  RestoreOptions,
  RestoreResult,
  RunHistory,
  LocalFileSource,
  MetricPoint,
  MetricLogOptions,
  MetricPointsInput,
  MetricSeriesChunk,
  MetricDownsample,
  MetricDownsampleQuery,
  MetricQuery,
  RegisterInput,
  Run,
  RunCreate,
  RunPatch,
  RunQuery,
  RunSummary,
  EventQuery,
  EventType,
  FileEntry,
  JsonObject,
  LogEntry,
  LogQuery,
  Model,
  ModelCreate,
  ModelPatch,
  ModelQuery,
  Page,
  PageQuery,
  Project,
  RegistryEvent,
  SourceInfo,
  Tag,
  TagMove,
  TagOptions,
  TagRemoval,
  Version,
  VersionCreate,
  VersionCreated,
  VersionQuery,
  VersionSummary,
  VerifyQuery,
  VerifyReport,
} from '../backend.js'
import {EVENT_TYPES, MODEL_SORT_FIELDS} from '../backend.js'
import {alreadyExists, conflict, invalid, notFound} from '../errors.js'
import {compileFilter, type FieldResolver, fieldSql} from '../filter.js'
import {
  LATEST,
  LIMITS,
  nameKey,
  parseSelector,
  quote,
  validateDatasetInput,
  validateDigest,
  validateFileEntries,
  validateLabelKey,
  validateLabels,
  validateMetadata,
  validateMetadataKeys,
  validateMetrics,
  validateName,
  validateOptionalShortText,
  validatePage,
  validateShortText,
  validateRequestId,
  validateTag,
  validateText,
  validateUuid,
} from '../validation.js'
import type {BlobStore, PresignedUpload, StagedBlob} from '../blobs.js'
import type {StreamHasher} from '../stream-hasher.js'
import type {Dialect, SqlDriver} from './driver.js'
import {emptySource, type EventFields, missingBlob, type ModelRow, now, pageSql, parseJson, type ProjectRow, Session, versionFields, type VersionRow} from './session.js'
import {mapLimit} from '../pool.js'
import type {Maintenance} from './maintenance.js'
import {Restore} from './restore.js'
import {Tracking} from './tracking.js'
import {all, count, done, get, pageOf, run, type Task} from './task.js'

interface PreparedVersion {
  files: FileEntry[]
  attachments: FileEntry[]
  comment: string
  author: string
  metadata: JsonObject
  metrics: Record<string, number>
  framework: string | null
  format: string | null
  tags: string[]
  source: SourceInfo
  requestId: string | null
}

interface EventRow {
  id: number
  time: string
  type: EventType
  project: string
  model: string | null
  model_id: number | null
  version: number | null
  tag: string | null
  actor: string
  data: string
}

/** Past this many events since a cache's stamp, it drops everything rather than read them. */
const MAX_CHANGES_BETWEEN = 1000

/** The event count in a stamp changeStamp gave, or null. */
function eventCount(stamp: string): number | null {
  const match = /^events:(\d+)$/.exec(stamp)
  return match ? Number(match[1]) : null
}

const MODEL_SELECT = `
  SELECT m.*, p.name AS project_name,
    (SELECT COUNT(*) FROM versions v WHERE v.model_id = m.id) AS version_count,
    (SELECT MAX(number) FROM versions v WHERE v.model_id = m.id) AS latest_version
  FROM models m JOIN projects p ON p.id = m.project_id`

const SORT_COLUMNS: Record<(typeof MODEL_SORT_FIELDS)[number], (d: Dialect) => string> = {
  name: () => 'm.name_key',
  description: (d) => d.nocase('m.description'),
  creation_time: () => 'm.created_at',
  last_updated_time: () => 'm.updated_at',
}

/** Fields a version filter may name. */
const VERSION_FIELDS: FieldResolver = {
  describe: 'version, author, comment, created_at, framework, format, tags, metadata.KEY or metrics.KEY',
  field(name) {
    const plain: Record<string, string> = {
      version: 'v.number',
      author: 'v.author',
      comment: 'v.comment',
      created_at: 'v.created_at',
      framework: 'v.framework',
      format: 'v.format',
      run: 'v.run_uid',
    }
    if (plain[name]) return {sql: plain[name], params: []}
    if (name.startsWith('metadata.') && name.length > 9) return {json: {column: 'v.metadata', key: name.slice(9)}}
    if (name.startsWith('metrics.') && name.length > 8) return {json: {column: 'v.metrics', key: name.slice(8)}}
    return null
  },
  special(name, op, value, fail) {
    if (name !== 'tags') return null
    if (op !== '=' && op !== '!=') fail('tags takes = or != (whether the version carries the tag)')
    if (typeof value !== 'string') fail("tags is compared with a quoted tag name, e.g. tags = 'prod'")
    const has =
      nameKey(value as string) === LATEST
        ? {sql: '(v.number = (SELECT MAX(x.number) FROM versions x WHERE x.model_id = v.model_id))', params: []}
        : {sql: 'EXISTS (SELECT 1 FROM tags t WHERE t.version_id = v.id AND t.name_key = ?)', params: [nameKey(value as string)]}
    return op === '=' ? has : {sql: `(NOT ${has.sql})`, params: has.params}
  },
}

const LOG_EVENT_TYPES: EventType[] = ['version.created', 'version.deleted', 'tag.set', 'tag.removed']
/**
 * The log's events as a condition, in the text both databases' partial indexes were made with
 * (migrations: SQLite 6, PostgreSQL 4): a database uses such an index only for a query whose
 * condition it can match to the index's, literal values and not parameters.
 */
export const LOG_EVENTS = `type IN (${LOG_EVENT_TYPES.map((t) => `'${t}'`).join(', ')})`

/** How long a presigned URL lasts. */
const PRESIGN_SECONDS = 3600
/** A presigned upload is one PUT: S3 takes at most 5 GiB in one; larger blobs go through the server in parts. */
const MAX_PRESIGNED_PUT = 5 * 1024 ** 3

function inSeconds(seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toISOString()
}

/** How often a follower reads again when nothing new woke it (see SqlEngine.followEvents). */
export interface FollowTiming {
  /** When nothing can wake it sooner: SQLite, or PostgreSQL while its listening connection is down. */
  pollMs: number
  /** While notifications wake it (PostgreSQL): only a safety net, should one be lost. */
  fallbackMs: number
}

/**
 * The default; MODELREG_TEST_FOLLOW_POLL_MS (for tests only) sets both, so that with a long one
 * nothing but a notification can bring a follower an event sooner.
 */
export function followTiming(env: NodeJS.ProcessEnv = process.env): FollowTiming {
  const forced = Number(env.MODELREG_TEST_FOLLOW_POLL_MS)
  if (Number.isFinite(forced) && forced > 0) return {pollMs: forced, fallbackMs: forced}
  return {pollMs: 250, fallbackMs: 1000}
}

/**
 * A follower's doorbell: rung by notifications, waited on between reads. A ring that comes while
 * the follower is not waiting (it is reading) is kept, so the next wait ends at once.
 */
class Doorbell {
  private rung = false
  private answer: (() => void) | null = null

  ring(): void {
    this.rung = true
    this.answer?.()
  }

  /** Until a ring, `ms`, or the signal aborts. */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const answer = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', answer)
        this.answer = null
        this.rung = false
        resolve()
      }
      const timer = setTimeout(answer, ms)
      if (this.rung || signal.aborted) return answer()
      this.answer = answer
      signal.addEventListener('abort', answer, {once: true})
    })
  }
}

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

export class SqlEngine implements Backend {
  readonly kind = 'local' as const
  readonly tracking: Tracking
  readonly dialect: Dialect
  /** Shared with the engines derived from this one (withActor): one driver, closed once for all. */
  protected lifecycle = {closed: false, followers: new Set<Doorbell>()}

  constructor(
    readonly location: string,
    readonly driver: SqlDriver,
    readonly blobs: BlobStore,
    readonly session: Session,
    readonly follow: FollowTiming = followTiming(),
  ) {
    this.dialect = driver.dialect
    this.tracking = new Tracking(driver, session, (files) => this.checkStored(files))
  }

  /** The same engine acting for someone else (see Session.as). */
  protected derive(session: Session): SqlEngine {
    return this.sharing(new SqlEngine(this.location, this.driver, this.blobs, session, this.follow))
  }

  /** A derived engine knows when the driver it shares with this one is closed. */
  protected sharing<T extends SqlEngine>(derived: T): T {
    derived.lifecycle = this.lifecycle
    return derived
  }

  /**
   * The same engine, recording `actor` on the events it writes, and `context` in their data
   * (the server: the person the client names, and the token that authorized the change).
   * With `projectScope`, it sees only what that project may see (a project-limited token).
   */
  withActor(actor: string, context?: JsonObject, projectScope: string | null = null): SqlEngine {
    return this.derive(this.session.as(actor, context, projectScope))
  }

  /** verify and gc: loaded when asked for, not on every start. */
  private async maintenance(): Promise<Maintenance> {
    const {Maintenance} = await import('./maintenance.js')
    return new Maintenance(this.driver, this.blobs)
  }

  async verify(query?: VerifyQuery): Promise<VerifyReport> {
    // A model or version that does not exist is not found, with the message every other
    // command gives: checking nothing and reporting no problems would let a CI gate pass on a typo.
    if (query?.project !== undefined && query.model !== undefined) await this.requireTarget(query.project, query.model, query.selector)
    return (await this.maintenance()).verify(query)
  }

  async gc(options?: GcOptions): Promise<GcReport> {
    return (await this.maintenance()).gc(options)
  }

  /** A model, or a version of it, that does not exist is not found (verify checks this before anything else). */
  protected async requireTarget(project: string, model: string, selector?: string): Promise<void> {
    validateName('project', project)
    validateName('model', model)
    await this.read(function* () {
      const row = yield* this.requireModel(project, model)
      if (selector !== undefined) yield* this.resolveVersion(row, selector)
    })
  }

  async close(): Promise<void> {
    this.lifecycle.closed = true
    for (const doorbell of this.lifecycle.followers) doorbell.ring() // they see the engine closed and end
    await this.driver.close()
    await this.blobs.close?.()
  }

  // -------------------------------------------------------------------------------------------
  // helpers

  /** A write transaction around a task (`this` inside it is this engine). */
  protected write<T>(what: string, body: (this: SqlEngine) => Task<T>): Promise<T> {
    return this.driver.write(what, () => body.call(this))
  }

  /** A read transaction around a task: every statement sees one snapshot. */
  protected read<T>(body: (this: SqlEngine) => Task<T>): Promise<T> {
    return this.driver.read(() => body.call(this))
  }

  private *findProject(name: string): Task<ProjectRow | undefined> {
    return yield* this.session.findProject(name)
  }

  private *ensureProject(name: string): Task<ProjectRow> {
    return yield* this.session.ensureProject(name)
  }

  private *event(type: EventType, fields: EventFields): Task<void> {
    yield* this.session.event(type, fields)
  }

  private *findModel(project: string, name: string): Task<ModelRow | undefined> {
    return yield* get<ModelRow>(`${MODEL_SELECT} WHERE p.name_key = ? AND m.name_key = ?`, nameKey(project), nameKey(name))
  }

  private *requireModel(project: string, name: string): Task<ModelRow> {
    const row = yield* this.findModel(project, name)
    if (!row) throw notFound(`model ${quote(name)} not found in project ${quote(project)}`, {project, model: name})
    return row
  }

  /**
   * The model, locked for the rest of the write transaction (PostgreSQL: FOR UPDATE), read
   * after the lock is held: a concurrent writer on another replica waits, then sees this one's
   * change (tag compare-and-set, metadata merges, deletes).
   */
  private *lockModel(project: string, name: string): Task<ModelRow> {
    const row = yield* this.requireModel(project, name)
    if (!this.dialect.forUpdate) return row
    yield* get(`SELECT id FROM models WHERE id = ?${this.dialect.forUpdate}`, row.id)
    return yield* this.requireModel(project, name)
  }

  private *touchModel(modelId: number): Task<void> {
    yield* run('UPDATE models SET updated_at = ? WHERE id = ?', now(), modelId)
  }

  private toModel(row: ModelRow): Model {
    return {
      project: row.project_name,
      name: row.name,
      description: row.description,
      owner: row.owner,
      task: row.task,
      metadata: parseJson(row.metadata),
      labels: parseJson(row.labels),
      created_at: row.created_at,
      updated_at: row.updated_at,
      version_count: row.version_count,
      latest_version: row.latest_version,
    }
  }

  private *tagsOf(model: ModelRow, versionId: number, number: number): Task<string[]> {
    const tags = (yield* all<{name: string}>('SELECT name FROM tags WHERE version_id = ? ORDER BY name_key', versionId)).map((r) => r.name)
    return model.latest_version === number ? [LATEST, ...tags] : tags
  }

  /**
   * `v.*` of versions, each with its tags as `tag_names` (see toSummary): read with the version
   * in one statement, not one more per version.
   */
  private get taggedVersion(): string {
    return `v.*, (SELECT ${this.dialect.jsonAgg('t.name', 't.name_key')} FROM tags t WHERE t.version_id = v.id) AS tag_names`
  }

  /** The version's tags come with it when it was read with taggedVersion; else they are read here. */
  private *toSummary(model: ModelRow, row: VersionRow & {tag_names?: string | string[]}): Task<VersionSummary> {
    // SQLite gives the aggregate as JSON text, PostgreSQL as the array.
    const tags = typeof row.tag_names === 'string' ? parseJson<string[]>(row.tag_names) : row.tag_names
    return {
      project: model.project_name,
      model: model.name,
      version: row.number,
      tags: tags ? (model.latest_version === row.number ? [LATEST, ...tags] : tags) : yield* this.tagsOf(model, row.id, row.number),
      ...versionFields(row),
      size: row.size,
      file_count: row.file_count,
      attachment_count: row.attachment_count,
    }
  }

  private *toVersion(model: ModelRow, row: VersionRow): Task<Version> {
    const entries = yield* all<FileEntry & {kind: string}>('SELECT kind, path, size, sha256, mode FROM version_files WHERE version_id = ? ORDER BY path', row.id)
    const files: FileEntry[] = []
    const attachments: FileEntry[] = []
    for (const {kind, ...entry} of entries) (kind === 'file' ? files : attachments).push(entry)
    return {...(yield* this.toSummary(model, row)), files, attachments, lineage: row.lineage ? parseJson<Lineage>(row.lineage) : null}
  }

  private *resolveVersion(model: ModelRow, selector: string): Task<VersionRow> {
    const parsed = parseSelector(selector)
    const label = `${model.name}:${selector}`
    let row: VersionRow | undefined
    switch (parsed.kind) {
      case 'latest':
        row = yield* get<VersionRow>(`SELECT ${this.taggedVersion} FROM versions v WHERE v.model_id = ? ORDER BY v.number DESC LIMIT 1`, model.id)
        if (!row) throw notFound(`model ${quote(model.name)} has no versions yet; push one with 'modelreg models push ${model.name} PATH'`)
        return row
      case 'version':
        row = yield* get<VersionRow>(`SELECT ${this.taggedVersion} FROM versions v WHERE v.model_id = ? AND v.number = ?`, model.id, parsed.version)
        if (!row) {
          const why = parsed.version <= model.last_number ? 'was deleted' : 'does not exist'
          const newest = model.latest_version === null ? 'it has no versions' : `its newest is ${model.latest_version}`
          throw notFound(`version ${parsed.version} of model ${quote(model.name)} ${why} (${newest})`, {ref: label})
        }
        return row
      case 'tag': {
        row = yield* get<VersionRow>(`SELECT ${this.taggedVersion} FROM tags tag JOIN versions v ON v.id = tag.version_id WHERE tag.model_id = ? AND tag.name_key = ?`, model.id, nameKey(parsed.tag))
        if (row) return row
        // Say which tags there are: the one meant is usually among them.
        const tags = (yield* all<{name: string}>('SELECT name FROM tags WHERE model_id = ? ORDER BY name_key LIMIT 21', model.id)).map((t) => t.name)
        const known = model.latest_version === null ? [] : [LATEST, ...tags.slice(0, 20)]
        const list = known.length === 0 ? 'it has no versions yet' : `its tags: ${known.join(', ')}${tags.length > 20 ? ', …' : ''}`
        throw notFound(`model ${quote(model.name)} has no tag ${quote(parsed.tag)} (${list})`, {ref: label})
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // projects

  async listProjects(query?: PageQuery): Promise<Page<Project>> {
    const page = validatePage(query)
    const limit = pageSql(page)
    return this.read(function* () {
      const total = (yield* count('SELECT COUNT(*) AS n FROM projects'))
      const rows = yield* all<ProjectRow & {model_count: number}>(`SELECT p.* FROM projects p ORDER BY p.name_key ${limit.sql}`, ...limit.params)
      return pageOf(
        rows.map((r) => ({name: r.name, description: r.description, created_at: r.created_at, model_count: r.model_count})),
        total,
        page,
      )
    })
  }

  async createProject(name: string, input: {description?: string} = {}): Promise<Project> {
    validateName('project', name)
    const description = input.description === undefined ? '' : validateText(input.description, 'description')
    return this.write('creating a project', function* () {
      const existing = yield* this.findProject(name)
      if (existing) throw alreadyExists(`project ${quote(existing.name)} already exists`)
      const row = yield* this.ensureProject(name)
      if (description) yield* run('UPDATE projects SET description = ? WHERE id = ?', description, row.id)
      return {name: row.name, description, created_at: row.created_at, model_count: 0}
    })
  }

  async getProject(name: string): Promise<Project> {
    validateName('project', name)
    return this.read(function* () {
      const row = yield* this.findProject(name)
      if (!row) throw notFound(`project ${quote(name)} not found`)
      const models = yield* count('SELECT COUNT(*) AS n FROM models WHERE project_id = ?', row.id)
      return {name: row.name, description: row.description, created_at: row.created_at, model_count: models}
    })
  }

  // -------------------------------------------------------------------------------------------
  // models

  async listModels(project: string, query: ModelQuery = {}): Promise<Page<Model>> {
    validateName('project', project)
    const page = validatePage(query)
    const limit = pageSql(page)
    const sortBy = query.sort_by ?? 'name'
    if (!MODEL_SORT_FIELDS.includes(sortBy)) throw invalid(`cannot sort models by ${quote(sortBy)}: use one of ${MODEL_SORT_FIELDS.join(', ')}`)
    const order = query.order_by ?? 'asc'
    if (order !== 'asc' && order !== 'desc') throw invalid(`order must be asc or desc, not ${quote(order)}`)
    // The project's id first (below): with it a constant, PostgreSQL reads a page of a sorted
    // list from the (project_id, column) index instead of sorting every model (10 ms at 10k).
    const where = ['m.project_id = ?']
    const params: unknown[] = []
    if (query.name) {
      where.push(`m.name_key LIKE ? ESCAPE '\\'`)
      params.push(likePattern(query.name.toLowerCase()))
    }
    if (query.description) {
      where.push(`m.description ${this.dialect.ilike} ? ESCAPE '\\'`)
      params.push(likePattern(query.description))
    }
    for (const [key, value] of Object.entries(validateLabels(query.labels))) {
      const label = this.dialect.jsonText('m.labels', key)
      where.push(`${label.sql} = ?`)
      params.push(...label.params, value)
    }
    const clause = where.join(' AND ')
    return this.read(function* () {
      const projectRow = yield* get<{id: number; n: number}>('SELECT id, model_count AS n FROM projects WHERE name_key = ?', nameKey(project))
      if (!projectRow) return pageOf<Model>([], 0, page)
      // Unfiltered, the project's count is kept by triggers: no need to count 100,000 rows.
      const total = where.length === 1 ? Number(projectRow.n) : yield* count(`SELECT COUNT(*) AS n FROM models m WHERE ${clause}`, projectRow.id, ...params)
      const rows = yield* all<ModelRow>(
        `${MODEL_SELECT} WHERE ${clause} ORDER BY ${SORT_COLUMNS[sortBy](this.dialect)} ${order}, m.id ${order} ${limit.sql}`,
        projectRow.id,
        ...params,
        ...limit.params,
      )
      return pageOf(
        rows.map((r) => this.toModel(r)),
        total,
        page,
      )
    })
  }

  async createModel(project: string, name: string, input: ModelCreate = {}): Promise<Model> {
    validateName('project', project)
    validateName('model', name)
    const fields = {
      description: input.description === undefined ? '' : validateText(input.description, 'description'),
      owner: validateOptionalShortText(input.owner, 'owner'),
      task: validateOptionalShortText(input.task, 'task'),
      metadata: validateMetadata(input.metadata),
      labels: validateLabels(input.labels),
    }
    return this.write('creating a model', function* () {
      const existing = yield* this.findModel(project, name)
      if (existing) throw alreadyExists(`model ${quote(existing.name)} already exists in project ${quote(existing.project_name)}`)
      const row = yield* this.insertModel(project, name, fields)
      return this.toModel(row)
    })
  }

  private *insertModel(
    project: string,
    name: string,
    fields: {description: string; owner: string | null; task: string | null; metadata: JsonObject; labels: Record<string, string>},
  ): Task<ModelRow> {
    const projectRow = yield* this.ensureProject(project)
    const time = now()
    const inserted = (yield* get<{id: number}>(
      `INSERT INTO models (project_id, name, name_key, description, owner, task, metadata, labels, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      projectRow.id,
      name,
      nameKey(name),
      fields.description,
      fields.owner,
      fields.task,
      JSON.stringify(fields.metadata),
      JSON.stringify(fields.labels),
      time,
      time,
    )) as {id: number}
    yield* this.event('model.created', {project: projectRow.name, model: name, modelId: inserted.id})
    return yield* this.requireModel(projectRow.name, name)
  }

  async getModel(project: string, name: string): Promise<Model> {
    validateName('project', project)
    validateName('model', name)
    return this.read(function* () {
      return this.toModel(yield* this.requireModel(project, name))
    })
  }

  async updateModel(project: string, name: string, patch: ModelPatch): Promise<Model> {
    validateName('project', project)
    validateName('model', name)
    const description = patch.description === undefined ? undefined : validateText(patch.description, 'description')
    const owner = patch.owner === undefined ? undefined : validateOptionalShortText(patch.owner, 'owner')
    const task = patch.task === undefined ? undefined : validateOptionalShortText(patch.task, 'task')
    const merge = patch.metadata === undefined ? {} : validateMetadata(patch.metadata)
    const unset = validateMetadataKeys(patch.unset)
    const labels = validateLabels(patch.labels)
    const unlabel = (patch.unlabel ?? []).map((key) => validateLabelKey(key))
    return this.write('updating a model', function* () {
      const row = yield* this.lockModel(project, name)
      const metadata: JsonObject = {...parseJson<JsonObject>(row.metadata), ...merge}
      for (const key of unset) delete metadata[key]
      validateMetadata(metadata)
      const nextLabels: Record<string, string> = {...parseJson<Record<string, string>>(row.labels), ...labels}
      for (const key of unlabel) delete nextLabels[key]
      validateLabels(nextLabels)
      const changes: JsonObject = {}
      if (description !== undefined && description !== row.description) changes.description = description
      if (owner !== undefined && owner !== row.owner) changes.owner = owner
      if (task !== undefined && task !== row.task) changes.task = task
      if (JSON.stringify(metadata) !== row.metadata) changes.metadata = metadata
      if (JSON.stringify(nextLabels) !== row.labels) changes.labels = nextLabels
      if (Object.keys(changes).length === 0) return this.toModel(row)
      yield* run(
        `UPDATE models SET description = ?, owner = ?, task = ?, metadata = ?, labels = ?, updated_at = ? WHERE id = ?`,
        description ?? row.description,
        owner === undefined ? row.owner : owner,
        task === undefined ? row.task : task,
        JSON.stringify(metadata),
        JSON.stringify(nextLabels),
        now(),
        row.id,
      )
      yield* this.event('model.updated', {project: row.project_name, model: row.name, modelId: row.id, data: {changed: Object.keys(changes)}})
      return this.toModel(yield* this.requireModel(project, name))
    })
  }

  async deleteModel(project: string, name: string): Promise<DeleteResult> {
    validateName('project', project)
    validateName('model', name)
    return this.write('deleting a model', function* () {
      const row = yield* this.lockModel(project, name)
      const versions = (yield* all<{number: number}>('SELECT number FROM versions WHERE model_id = ? ORDER BY number', row.id)).map((r) => r.number)
      yield* run('DELETE FROM tags WHERE model_id = ?', row.id)
      yield* run('DELETE FROM versions WHERE model_id = ?', row.id)
      yield* run('DELETE FROM models WHERE id = ?', row.id)
      yield* this.event('model.deleted', {project: row.project_name, model: row.name, modelId: row.id, data: {versions}})
      return {project: row.project_name, model: row.name, versions, model_deleted: true}
    })
  }

  async modelLog(project: string, query: LogQuery = {}): Promise<Page<LogEntry>> {
    validateName('project', project)
    const model = query.model === undefined ? undefined : validateName('model', query.model)
    const page = validatePage(query)
    const limit = pageSql(page)
    const tagNames = this.dialect.jsonAgg('t.name', 't.name_key')
    // One statement, so one snapshot without a transaction (on PostgreSQL one round trip, where
    // BEGIN and three statements took four): how many events the log holds, a page of them, and
    // the tags each logged version carries now. A scope row always comes, with a page past the
    // end too; for a model, none means there is no such model.
    const rows = await this.readRows<EventRow & {total_rows: number | string; latest_version: number | null; tag_names: string | string[] | null}>(
      model !== undefined
        ? `WITH scope AS (
             SELECT m.id, (SELECT MAX(number) FROM versions v WHERE v.model_id = m.id) AS latest_version,
               (SELECT COUNT(*) FROM events WHERE model_id = m.id AND ${LOG_EVENTS}) AS total_rows
             FROM models m JOIN projects p ON p.id = m.project_id WHERE p.name_key = ? AND m.name_key = ?),
           page AS (SELECT * FROM events WHERE model_id = (SELECT id FROM scope) AND ${LOG_EVENTS} ORDER BY id DESC ${limit.sql}),
           tagged AS (
             SELECT v.number, ${tagNames} AS tag_names FROM tags t JOIN versions v ON v.id = t.version_id
             WHERE t.model_id = (SELECT id FROM scope) GROUP BY v.number)
           SELECT s.total_rows, s.latest_version, e.*, tagged.tag_names
           FROM scope s LEFT JOIN page e ON 1 = 1 LEFT JOIN tagged ON tagged.number = e.version ORDER BY e.id DESC`
        : `WITH scope AS (SELECT COUNT(*) AS total_rows FROM events WHERE project_key = ? AND ${LOG_EVENTS}),
           page AS (SELECT * FROM events WHERE project_key = ? AND ${LOG_EVENTS} ORDER BY id DESC ${limit.sql})
           SELECT s.total_rows, (SELECT MAX(number) FROM versions v WHERE v.model_id = e.model_id) AS latest_version, e.*,
             (SELECT ${tagNames} FROM versions v JOIN tags t ON t.version_id = v.id WHERE v.model_id = e.model_id AND v.number = e.version) AS tag_names
           FROM scope s LEFT JOIN page e ON 1 = 1 ORDER BY e.id DESC`,
      ...(model !== undefined ? [nameKey(project), nameKey(model)] : [nameKey(project), nameKey(project)]),
      ...limit.params,
    )
    if (rows.length === 0) throw notFound(`model ${quote(model ?? '')} not found in project ${quote(project)}`, {project, model})
    const entries = rows
      .filter((row) => row.id !== null)
      .map((row): LogEntry => {
        const data = parseJson<JsonObject>(row.data)
        // SQLite gives the aggregate as JSON text, PostgreSQL as the array; a version that is gone has none.
        const tags = (typeof row.tag_names === 'string' ? parseJson<string[]>(row.tag_names) : row.tag_names) ?? []
        return {
          id: Number(row.id),
          time: row.time,
          type: row.type,
          project: row.project,
          model: row.model ?? '',
          version: row.version,
          tag: row.tag,
          previous: typeof data.previous === 'number' ? data.previous : null,
          tags: row.version !== null && row.latest_version === row.version ? [LATEST, ...tags] : tags,
          author: typeof data.author === 'string' ? data.author : row.actor,
          comment: typeof data.comment === 'string' ? data.comment : '',
        }
      })
    return pageOf(entries, Number(rows[0].total_rows), page)
  }

  /**
   * A read that is one statement: it sees one snapshot on its own, so where the database allows
   * it runs outside a transaction (PostgreSQL: no BEGIN and COMMIT around it).
   */
  private readRows<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    if (this.driver.peekAll) return this.driver.peekAll<T>(sql, ...params)
    return this.read(function* () {
      return yield* all<T>(sql, ...params)
    })
  }

  // -------------------------------------------------------------------------------------------
  // versions

  async listVersions(project: string, model: string, query: VersionQuery = {}): Promise<Page<VersionSummary>> {
    validateName('project', project)
    validateName('model', model)
    const page = validatePage(query)
    const limit = pageSql(page)
    const filter = query.where ? compileFilter(query.where, VERSION_FIELDS, this.dialect) : null
    const order = query.order_by ?? 'desc'
    if (order !== 'asc' && order !== 'desc') throw invalid(`order must be asc or desc, not ${quote(order)}`)
    const sortBy = query.sort_by ?? 'version'
    const sort = fieldSql(VERSION_FIELDS, sortBy, this.dialect)
    if (!sort || sortBy === 'tags') throw invalid(`cannot sort versions by ${quote(sortBy)}: use version, author, comment, created_at, framework, format, metadata.KEY or metrics.KEY`)
    // Versions without the field go last, whatever the order; equals by number, in the same order.
    const nullsLast = sortBy === 'version' ? '' : `(${sort.sql}) IS NULL, `
    return this.read(function* () {
      const row = yield* this.requireModel(project, model)
      const where = filter ? `v.model_id = ? AND ${filter.sql}` : 'v.model_id = ?'
      const params = filter ? [row.id, ...filter.params] : [row.id]
      const total = filter ? yield* count(`SELECT COUNT(*) AS n FROM versions v WHERE ${where}`, ...params) : row.version_count
      const rows = yield* all<VersionRow>(
        `SELECT ${this.taggedVersion} FROM versions v WHERE ${where} ORDER BY ${nullsLast}${sort.sql} ${order}, v.number ${order} ${limit.sql}`,
        ...params,
        ...(nullsLast ? sort.params : []),
        ...sort.params,
        ...limit.params,
      )
      const items: VersionSummary[] = []
      for (const v of rows) items.push(yield* this.toSummary(row, v))
      return pageOf(items, total, page)
    })
  }

  async getVersion(project: string, model: string, selector: string): Promise<Version> {
    validateName('project', project)
    validateName('model', model)
    return this.read(function* () {
      const row = yield* this.requireModel(project, model)
      return yield* this.toVersion(row, yield* this.resolveVersion(row, selector))
    })
  }

  /** Check everything a new version carries, before taking the write lock. */
  private prepareVersion(input: Omit<VersionCreate, 'run_id' | 'datasets'>, needFiles = true): PreparedVersion {
    const files = validateFileEntries(input.files, 'files')
    const attachments = validateFileEntries(input.attachments, 'attachments')
    if (needFiles && files.length === 0) throw invalid('a version needs at least one file')
    const tags = (input.tags ?? []).map((tag) => validateTag(tag))
    if (tags.length > LIMITS.tagsPerPush) throw invalid(`too many tags (${tags.length}, at most ${LIMITS.tagsPerPush})`)
    const source = {...emptySource(), ...(input.source ?? {})}
    validateMetadata(source, 'source')
    return {
      files,
      attachments,
      comment: input.comment === undefined ? '' : validateText(input.comment, 'comment'),
      author: validateShortText(input.author, 'author'),
      metadata: validateMetadata(input.metadata),
      metrics: validateMetrics(input.metrics),
      framework: validateOptionalShortText(input.framework, 'framework'),
      format: validateOptionalShortText(input.format, 'format'),
      tags,
      source,
      requestId: input.request_id === undefined ? null : validateRequestId(input.request_id),
    }
  }

  /**
   * Number and commit a version. Runs inside the write transaction: every blob it names must
   * be in place, whole; the model is created if missing; tags move in the same transaction.
   */
  private *commitVersion(
    project: string,
    model: string,
    v: PreparedVersion,
    origin: () => Task<{lineage: Lineage | null; runUid: string | null}>,
  ): Task<VersionCreated> {
    const time = now()
    let modelRow = yield* this.findModel(project, model)
    if (modelRow && v.requestId) {
      // The same push again (a retry whose first answer was lost): answer as the first time.
      const earlier = yield* get<VersionRow>('SELECT * FROM versions WHERE model_id = ? AND request_id = ?', modelRow.id, v.requestId)
      if (earlier) return {version: yield* this.toVersion(modelRow, earlier), model_created: false}
    }
    for (const entry of [...v.files, ...v.attachments]) yield* this.session.claimBlob(entry.sha256, entry.size, time, project)
    const {lineage, runUid} = yield* origin()
    const modelCreated = !modelRow
    if (!modelRow) modelRow = yield* this.insertModel(project, model, {description: '', owner: null, task: null, metadata: {}, labels: {}})
    const {last_number: number} = (yield* get<{last_number: number}>(
      'UPDATE models SET last_number = last_number + 1, updated_at = ? WHERE id = ? RETURNING last_number',
      time,
      modelRow.id,
    )) as {last_number: number}
    const size = v.files.reduce((sum, f) => sum + f.size, 0)
    const {id: versionId} = (yield* get<{id: number}>(
      `INSERT INTO versions (model_id, number, comment, author, created_at, metadata, metrics, framework, format, source, size, file_count, attachment_count, request_id, run_uid, lineage)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      modelRow.id,
      number,
      v.comment,
      v.author,
      time,
      JSON.stringify(v.metadata),
      JSON.stringify(v.metrics),
      v.framework,
      v.format,
      JSON.stringify(v.source),
      size,
      v.files.length,
      v.attachments.length,
      v.requestId,
      runUid,
      lineage ? JSON.stringify(lineage) : null,
    )) as {id: number}
    const insertFile = 'INSERT INTO version_files (version_id, kind, path, size, sha256, mode) VALUES (?, ?, ?, ?, ?, ?)'
    for (const f of v.files) yield* run(insertFile, versionId, 'file', f.path, f.size, f.sha256, f.mode)
    for (const f of v.attachments) yield* run(insertFile, versionId, 'attachment', f.path, f.size, f.sha256, f.mode)
    yield* this.event('version.created', {
      project: modelRow.project_name,
      model: modelRow.name,
      modelId: modelRow.id,
      version: number,
      data: {
        author: v.author,
        comment: v.comment,
        size,
        file_count: v.files.length,
        attachment_count: v.attachments.length,
        ...(runUid ? {run: runUid} : {}),
        ...(lineage?.checkpoint ? {checkpoint: lineage.checkpoint.uuid} : {}),
      },
    })
    for (const tag of v.tags) yield* this.moveTag(modelRow, tag, versionId, number, time)
    const fresh = yield* this.requireModel(project, model)
    return {version: yield* this.toVersion(fresh, yield* this.resolveVersion(fresh, String(number))), model_created: modelCreated}
  }

  async createVersion(project: string, model: string, input: VersionCreate): Promise<VersionCreated> {
    validateName('project', project)
    validateName('model', model)
    const prepared = this.prepareVersion(input)
    this.tracking.checkDatasetsLimit(input.datasets)
    const datasets = input.datasets ?? []
    for (const d of datasets) validateDatasetInput(d)
    const tracking = this.tracking
    await this.checkStored([...prepared.files, ...prepared.attachments])
    return this.write('pushing a version', function* () {
      return yield* this.commitVersion(project, model, prepared, function* () {
        if (input.run_id !== undefined && input.run_id !== null) {
          const run = yield* tracking.resolveRun(input.run_id)
          return {lineage: yield* tracking.lineageOf(run, null, datasets), runUid: run.uid}
        }
        return {lineage: datasets.length ? tracking.datasetsOnlyLineage(datasets) : null, runUid: null}
      })
    })
  }

  async registerCheckpoint(project: string, model: string, uuid: string, input: RegisterInput): Promise<VersionCreated> {
    validateName('project', project)
    validateName('model', model)
    validateUuid(uuid)
    const prepared = this.prepareVersion({files: [], ...input}, false)
    const files = await this.read(function* () {
      return (yield* this.tracking.requireCheckpoint(uuid)).checkpoint.files
    })
    await this.checkStored(files)
    return this.write('registering a checkpoint', function* () {
      const {row, checkpoint} = yield* this.tracking.requireCheckpoint(uuid)
      const run = yield* this.tracking.resolveRun(row.run_uid)
      const lineage = yield* this.tracking.lineageOf(run, {uuid: checkpoint.uuid, step: checkpoint.step})
      // The checkpoint's files, by reference: no byte is copied.
      const v: PreparedVersion = {...prepared, files: checkpoint.files, metrics: {...lineage.metrics, ...checkpoint.metrics, ...prepared.metrics}}
      return yield* this.commitVersion(project, model, v, () => done({lineage, runUid: run.uid}))
    })
  }

  async deleteVersion(project: string, model: string, version: number): Promise<DeleteResult> {
    validateName('project', project)
    validateName('model', model)
    if (!Number.isSafeInteger(version) || version < 1) throw invalid(`invalid version ${quote(version)}`)
    return this.write('deleting a version', function* () {
      const row = yield* this.lockModel(project, model)
      const versionRow = yield* this.resolveVersion(row, String(version))
      const tags = yield* all<{name: string}>('SELECT name FROM tags WHERE version_id = ?', versionRow.id)
      for (const tag of tags) {
        yield* this.event('tag.removed', {project: row.project_name, model: row.name, modelId: row.id, version, tag: tag.name, data: {reason: 'version deleted'}})
      }
      yield* run('DELETE FROM tags WHERE version_id = ?', versionRow.id)
      yield* run('DELETE FROM versions WHERE id = ?', versionRow.id)
      yield* this.touchModel(row.id)
      yield* this.event('version.deleted', {project: row.project_name, model: row.name, modelId: row.id, version})
      return {project: row.project_name, model: row.name, versions: [version], model_deleted: false}
    })
  }

  // -------------------------------------------------------------------------------------------
  // experiment tracking (tracking.ts)

  listExperiments(project: string, query?: PageQuery): Promise<Page<Experiment>> {
    return this.tracking.listExperiments(project, query)
  }

  createExperiment(project: string, name: string, input?: ExperimentCreate): Promise<Experiment> {
    return this.tracking.createExperiment(project, name, input)
  }

  getExperiment(project: string, name: string): Promise<Experiment> {
    return this.tracking.getExperiment(project, name)
  }

  updateExperiment(project: string, name: string, patch: ExperimentPatch): Promise<Experiment> {
    return this.tracking.updateExperiment(project, name, patch)
  }

  createRun(project: string, input: RunCreate): Promise<Run> {
    return this.tracking.createRun(project, input)
  }

  getRun(run: string): Promise<Run> {
    return this.tracking.getRun(run)
  }

  listRuns(project: string, query?: RunQuery): Promise<Page<RunSummary>> {
    return this.tracking.listRuns(project, query)
  }

  updateRun(run: string, patch: RunPatch): Promise<Run> {
    return this.tracking.updateRun(run, patch)
  }

  setRunParams(run: string, params: JsonObject, options?: {overwrite?: boolean}): Promise<JsonObject> {
    return this.tracking.setRunParams(run, params, options)
  }

  deleteRun(run: string): Promise<{id: string; project: string; experiment: string}> {
    return this.tracking.deleteRun(run)
  }

  logMetrics(run: string, points: MetricPointsInput, options?: MetricLogOptions): Promise<{count: number}> {
    return this.tracking.logMetrics(run, points, options)
  }

  logMetricSeries(run: string, chunks: AsyncIterable<MetricSeriesChunk>): Promise<{count: number}> {
    return this.tracking.logMetricSeries(run, chunks)
  }

  readMetrics(run: string, query?: MetricQuery): AsyncIterable<MetricPoint> {
    return this.tracking.readMetrics(run, query)
  }

  readMetricSeriesJson(run: string, max: number): AsyncIterable<{json: string; points: number}> {
    return this.tracking.readMetricSeriesJson(run, max)
  }

  downsampleMetrics(run: string, name: string, query?: MetricDownsampleQuery): Promise<MetricDownsample> {
    return this.tracking.downsampleMetrics(run, name, query)
  }

  setDataset(run: string, input: DatasetInput): Promise<Dataset> {
    return this.tracking.setDataset(run, input)
  }

  createCheckpoint(run: string, input: CheckpointCreate): Promise<Checkpoint> {
    return this.tracking.createCheckpoint(run, input)
  }

  getCheckpoint(uuid: string): Promise<Checkpoint> {
    return this.tracking.getCheckpoint(uuid)
  }

  listCheckpoints(run: string): Promise<CheckpointSummary[]> {
    return this.tracking.listCheckpoints(run)
  }

  // -------------------------------------------------------------------------------------------
  // restore (restore.ts)

  restoreModel(history: ModelHistory, options?: RestoreOptions): Promise<RestoreResult> {
    return new Restore(this.driver, this.session, (files) => this.checkStored(files)).restoreModel(history, options)
  }

  restoreRun(history: RunHistory, options?: RestoreOptions): Promise<RestoreResult> {
    return new Restore(this.driver, this.session, (files) => this.checkStored(files)).restoreRun(history, options)
  }

  historyDigests(project: string, query?: HistoryDigestQuery): Promise<HistoryDigests> {
    return new Restore(this.driver, this.session, (files) => this.checkStored(files)).historyDigests(project, query)
  }

  // -------------------------------------------------------------------------------------------
  // tags

  async listTags(project: string, model: string): Promise<Tag[]> {
    validateName('project', project)
    validateName('model', model)
    return this.read(function* () {
      const row = yield* this.requireModel(project, model)
      const tags = yield* all<Tag>(
        'SELECT t.name AS tag, v.number AS version, t.updated_at FROM tags t JOIN versions v ON v.id = t.version_id WHERE t.model_id = ? ORDER BY t.name_key',
        row.id,
      )
      if (row.latest_version === null) return tags
      const latest = (yield* get<{created_at: string}>('SELECT created_at FROM versions WHERE model_id = ? AND number = ?', row.id, row.latest_version)) as {
        created_at: string
      }
      return [{tag: LATEST, version: row.latest_version, updated_at: latest.created_at}, ...tags]
    })
  }

  async setTag(project: string, model: string, tag: string, selector: string, options: TagOptions = {}): Promise<TagMove> {
    validateName('project', project)
    validateName('model', model)
    validateTag(tag)
    return this.write('tagging a version', function* () {
      const row = yield* this.lockModel(project, model)
      const target = yield* this.resolveVersion(row, selector)
      const current = yield* get<{number: number}>('SELECT v.number FROM tags t JOIN versions v ON v.id = t.version_id WHERE t.model_id = ? AND t.name_key = ?', row.id, nameKey(tag))
      const previous = current?.number ?? null
      if (options.expect_previous !== undefined && options.expect_previous !== previous) {
        const state = previous === null ? 'is not set' : `points at version ${previous}`
        const expected = options.expect_previous === null ? 'not to be set' : `to point at version ${options.expect_previous}`
        throw conflict(`tag ${quote(tag)} of model ${quote(row.name)} ${state}, expected it ${expected}; someone moved it meanwhile`)
      }
      if (previous !== target.number) yield* this.moveTag(row, tag, target.id, target.number, now())
      return {project: row.project_name, model: row.name, tag, version: target.number, previous}
    })
  }

  private *moveTag(model: ModelRow, tag: string, versionId: number, number: number, time: string): Task<void> {
    const current = yield* get<{number: number}>('SELECT v.number FROM tags t JOIN versions v ON v.id = t.version_id WHERE t.model_id = ? AND t.name_key = ?', model.id, nameKey(tag))
    if (current?.number === number) return
    yield* run(
      `INSERT INTO tags (model_id, name_key, name, version_id, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (model_id, name_key) DO UPDATE SET name = excluded.name, version_id = excluded.version_id, updated_at = excluded.updated_at`,
      model.id,
      nameKey(tag),
      tag,
      versionId,
      time,
    )
    yield* this.touchModel(model.id)
    yield* this.event('tag.set', {
      project: model.project_name,
      model: model.name,
      modelId: model.id,
      version: number,
      tag,
      data: {previous: current?.number ?? null},
    })
  }

  async removeTag(project: string, model: string, tag: string): Promise<TagRemoval> {
    validateName('project', project)
    validateName('model', model)
    validateTag(tag)
    return this.write('removing a tag', function* () {
      const row = yield* this.lockModel(project, model)
      const current = yield* get<{name: string; number: number}>(
        'SELECT t.name, v.number FROM tags t JOIN versions v ON v.id = t.version_id WHERE t.model_id = ? AND t.name_key = ?',
        row.id,
        nameKey(tag),
      )
      if (!current) throw notFound(`model ${quote(row.name)} has no tag ${quote(tag)}`)
      yield* run('DELETE FROM tags WHERE model_id = ? AND name_key = ?', row.id, nameKey(tag))
      yield* this.touchModel(row.id)
      yield* this.event('tag.removed', {project: row.project_name, model: row.name, modelId: row.id, version: current.number, tag: current.name})
      return {project: row.project_name, model: row.name, tag: current.name, version: current.number}
    })
  }

  // -------------------------------------------------------------------------------------------
  // events

  async listEvents(query: EventQuery = {}): Promise<Page<RegistryEvent>> {
    const page = validatePage(query)
    const limit = pageSql(page)
    const where: string[] = []
    const params: unknown[] = []
    if (query.project !== undefined) {
      where.push('project_key = ?')
      params.push(nameKey(validateName('project', query.project)))
    }
    if (query.model !== undefined) {
      where.push('model_key = ?')
      params.push(nameKey(validateName('model', query.model)))
    }
    if (query.types?.length) {
      for (const type of query.types) {
        if (!EVENT_TYPES.includes(type)) throw invalid(`unknown event type ${quote(type)}: use one of ${EVENT_TYPES.join(', ')}`)
      }
      where.push(`type IN (${query.types.map(() => '?').join(', ')})`)
      params.push(...query.types)
    }
    if (query.since !== undefined) {
      const since = new Date(query.since)
      if (Number.isNaN(since.getTime())) throw invalid(`invalid time ${quote(query.since)}: expected ISO 8601`)
      where.push('time >= ?')
      params.push(since.toISOString())
    }
    if (query.after_id !== undefined) {
      if (!Number.isSafeInteger(query.after_id) || query.after_id < 0) throw invalid('after_id must be a whole number')
      where.push('id > ?')
      params.push(query.after_id)
    }
    const order = query.order ?? 'asc'
    if (order !== 'asc' && order !== 'desc') throw invalid(`order must be asc or desc, not ${quote(order)}`)
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
    return this.read(function* () {
      const total = yield* count(`SELECT COUNT(*) AS n FROM events ${clause}`, ...params)
      const rows = yield* all<EventRow>(`SELECT * FROM events ${clause} ORDER BY id ${order} ${limit.sql}`, ...params, ...limit.params)
      return pageOf(
        rows.map((row) => ({
          id: row.id,
          time: row.time,
          type: row.type,
          project: row.project,
          model: row.model,
          version: row.version,
          tag: row.tag,
          actor: row.actor,
          data: parseJson<JsonObject>(row.data),
        })),
        total,
        page,
      )
    })
  }

  /**
   * New events, read `id > last` again and again: right after a notification that some were
   * committed (PostgreSQL, through any replica), else after a poll interval (see FollowTiming).
   * Every wake-up only says "read again", so a notification lost or late costs time, never events.
   */
  async *followEvents(query: EventQuery, signal: AbortSignal): AsyncIterable<RegistryEvent> {
    const filter: EventQuery = {...query, since: undefined, order: 'asc', offset: 0, limit: 1000}
    const doorbell = new Doorbell()
    // Watching before the first read: whatever commits after it rings.
    const watch = this.driver.watchEvents?.(() => doorbell.ring())
    this.lifecycle.followers.add(doorbell)
    try {
      let after = query.after_id ?? (await this.lastEventId())
      while (!signal.aborted && !this.lifecycle.closed) {
        // Read before the page: every event up to `last` has committed then (ids are in commit
        // order), so the page sees them all, and one that commits after the page was read has
        // a larger id.
        const last = await this.lastEventId()
        const page = await this.listEvents({...filter, after_id: after})
        for (const event of page.items) yield event
        if (page.items.length > 0) {
          after = page.items[page.items.length - 1].id
          continue
        }
        // No match up to `last`: skip past the events that exist but do not match the filter.
        after = Math.max(after, last)
        await doorbell.wait(watch?.live ? this.follow.fallbackMs : this.follow.pollMs, signal)
      }
    } catch (error) {
      // The engine was closed under the follower (a server shutting down): the stream ends.
      if (!this.lifecycle.closed) throw error
    } finally {
      this.lifecycle.followers.delete(doorbell)
      watch?.stop()
    }
  }

  private lastEventId(): Promise<number> {
    return this.read(() => count('SELECT COALESCE(MAX(id), 0) AS n FROM events'))
  }

  // -------------------------------------------------------------------------------------------
  // beyond the Backend interface: what the server that wraps this engine needs

  /**
   * A value that stays the same while what the server caches has not changed (see
   * server/read-cache.ts), or null when this store cannot tell cheaply (then nothing is cached).
   * Every change to a cached answer (models, versions, tags, the log) writes an event in its
   * transaction, so the event counter is such a value, shared by every replica: one indexed
   * read instead of the several a cached answer would take.
   */
  async changeStamp(): Promise<string | null> {
    if (!this.driver.peek || !this.dialect.eventCounter) return null
    const row = await this.driver.peek<{v: number}>(this.dialect.eventCounter)
    return row ? `events:${row.v}` : null
  }

  /**
   * The change stamp and, in the same read, what changed since `since` (an earlier stamp): the
   * `project/model` of every event written in between (`project/` for one about the project
   * itself), or null when this store cannot tell (then everything counts as changed): stamps
   * that are not event counts, out of order, more than MAX_CHANGES_BETWEEN apart, or a journal
   * with ids missing in between. A cache that has a stamp learns in one round trip both whether
   * the store moved and what moved.
   */
  async changeStampSince(since: string | null): Promise<{stamp: string | null; changed: string[] | null}> {
    const a = since === null ? null : eventCount(since)
    if (a === null || !this.driver.peek || !this.dialect.eventCounter) return {stamp: await this.changeStamp(), changed: null}
    // The events after `since`, up to the counter (and at most MAX_CHANGES_BETWEEN of them).
    const range = 'FROM events WHERE id > ? AND id <= c.v AND id <= ?'
    const row = await this.driver.peek<{v: number | string; n: number | string; keys: string | string[]}>(
      `SELECT c.v, (SELECT COUNT(*) ${range}) AS n, (SELECT ${this.dialect.jsonAgg("project_key || '/' || COALESCE(model_key, '')", 'id')} ${range}) AS keys FROM (${this.dialect.eventCounter}) c`,
      a,
      a + MAX_CHANGES_BETWEEN,
      a,
      a + MAX_CHANGES_BETWEEN,
    )
    if (!row) return {stamp: null, changed: null}
    const b = Number(row.v)
    const complete = b >= a && Number(row.n) === b - a
    return {stamp: `events:${b}`, changed: complete ? (typeof row.keys === 'string' ? parseJson<string[]>(row.keys) : row.keys) : null}
  }

  /** Why the store takes no writes, or null when it is fine (/healthz). */
  checkStore(): string | null {
    return null
  }

  /** Count and bytes of stored blobs (for /metrics). */
  blobStats(): Promise<{count: number; bytes: number}> {
    return this.read(function* () {
      const row = yield* get<{count: number | string; bytes: number | string}>('SELECT COUNT(*) AS count, COALESCE(SUM(size), 0) AS bytes FROM blobs')
      return {count: Number(row?.count ?? 0), bytes: Number(row?.bytes ?? 0)}
    })
  }

  /**
   * Before a commit: every blob it names is in the blob store. (Inside the commit, the claim
   * checks the blob's row, under the lock a gc sweep holds: so a blob gc removed meanwhile
   * fails the commit, and the client uploads it again.)
   */
  async checkStored(entries: FileEntry[]): Promise<void> {
    const digests = [...new Set(entries.map((e) => e.sha256))]
    await mapLimit(digests, 8, async (digest) => {
      if ((await this.blobs.size(digest)) === null) throw missingBlob(digest)
    })
  }

  // -------------------------------------------------------------------------------------------
  // blobs: a blob has a row once its bytes are stored whole; a project-limited session sees
  // the blobs granted to its project (see Session.claimBlob)

  /** The stored blobs among `digests` that this session may see, with their sizes. */
  private *visibleBlobs(digests: string[]): Task<Map<string, number>> {
    const out = new Map<string, number>()
    const scope = this.session.projectScope
    for (let i = 0; i < digests.length; i += 5000) {
      const chunk = digests.slice(i, i + 5000)
      const rows = yield* all<{digest: string; size: number | string}>(
        `SELECT b.digest, b.size FROM blobs b WHERE ${this.dialect.inJsonStrings('b.digest')}` +
          (scope === null ? '' : ' AND EXISTS (SELECT 1 FROM blob_grants g WHERE g.digest = b.digest AND g.project_key = ?)'),
        JSON.stringify(chunk),
        ...(scope === null ? [] : [nameKey(scope)]),
      )
      for (const row of rows) out.set(row.digest, Number(row.size))
    }
    return out
  }

  /**
   * Which of `digests` this session may rely on: stored, in its view, and (for a directory,
   * where a file can be damaged behind the store's back) really on disk with that size.
   */
  private async presentBlobs(digests: string[]): Promise<Map<string, number>> {
    const present = await this.read(function* () {
      return yield* this.visibleBlobs(digests)
    })
    if (this.blobs.localPath) {
      for (const [digest, size] of present) if ((await this.blobs.size(digest)) !== size) present.delete(digest)
    }
    return present
  }

  /**
   * A blob's size as the blob store has it, when the blob is in this session's view; else null
   * (the two look alike). Downloads use it: damaged bytes are served and fail the client's check.
   */
  async visibleBlobSize(digest: string): Promise<number | null> {
    validateDigest(digest)
    const visible = await this.read(function* () {
      return yield* this.session.blobVisible(digest)
    })
    return visible ? this.blobs.size(digest) : null
  }

  async missingBlobs(digests: string[]): Promise<string[]> {
    if (!Array.isArray(digests)) throw invalid('digests must be a list')
    const unique = [...new Set(digests.map((d) => validateDigest(d)))]
    const present = await this.presentBlobs(unique)
    if (present.size > 0) {
      // A writer is about to rely on these: record that, so gc spares them.
      await this.write('recording blob use', function* () {
        const time = now()
        for (const [digest, size] of present) yield* this.session.touchBlob(digest, size, time)
      })
    }
    return unique.filter((digest) => !present.has(digest))
  }

  async putBlob(digest: string, size: number, open: () => Readable, file?: LocalFileSource): Promise<BlobInfo & {stored: boolean}> {
    validateDigest(digest)
    if (!Number.isSafeInteger(size) || size < 0) throw invalid(`invalid blob size ${quote(size)}`)
    let stored: boolean
    const visible = await this.read(function* () {
      return yield* this.session.blobVisible(digest)
    })
    if (!visible && (await this.blobs.size(digest)) === size) {
      // Stored, but outside the caller's view: the upload proves it has the bytes.
      await this.blobs.prove(digest, size, file ?? open())
      stored = false
    } else stored = await this.blobs.put(digest, size, file ?? open())
    await this.recordBlob(digest, size)
    return {digest, size, stored}
  }

  async storeBlob(size: number, open: () => Readable, file?: LocalFileSource): Promise<BlobInfo & {stored: boolean}> {
    if (!Number.isSafeInteger(size) || size < 0) throw invalid(`invalid blob size ${quote(size)}`)
    const {digest, stored} = await this.blobs.ingest(size, file ?? open())
    await this.recordBlob(digest, size)
    return {digest, size, stored}
  }

  /**
   * Staged blobs (see Backend.blobStaging): the blob store's temp files, recorded on commit as
   * putBlob records a blob. Not for a project-limited session (a blob it cannot see would need
   * the proof putBlob asks for).
   */
  blobStaging(hasher: StreamHasher): BlobStaging | null {
    const blobs = this.blobs
    if (!blobs.stage || !blobs.commitStaged || !blobs.discardStaged || this.session.projectScope !== null) return null
    const staged = new Map<string, StagedBlob>()
    return {
      stage: async (digest, size, body) => {
        validateDigest(digest)
        if (!Number.isSafeInteger(size) || size < 0) throw invalid(`invalid blob size ${quote(size)}`)
        if (staged.has(digest)) throw invalid(`blob ${digest} is staged already`)
        staged.set(digest, await (blobs.stage as NonNullable<BlobStore['stage']>).call(blobs, digest, size, body, hasher))
      },
      verified: async () => {
        await Promise.all([...staged.values()].map((blob) => blob.verified))
      },
      has: (digest) => staged.has(digest),
      commit: async (digests) => {
        const blobsToCommit = digests.map((digest) => {
          const blob = staged.get(digest)
          if (!blob) throw invalid(`blob ${digest} is not staged`)
          return blob
        })
        for (const digest of digests) staged.delete(digest)
        // A few at once: each waits for its flush and its directory's; together they share the disk's.
        const stored = await mapLimit(blobsToCommit, 8, (blob) => (blobs.commitStaged as NonNullable<BlobStore['commitStaged']>).call(blobs, blob))
        if (blobsToCommit.length > 0) {
          await this.write('recording blobs', function* () {
            const time = now()
            for (const blob of blobsToCommit) yield* this.session.touchBlob(blob.digest, blob.size, time)
          })
        }
        return stored
      },
      discard: async () => {
        const left = [...staged.values()]
        staged.clear()
        await mapLimit(left, 8, (blob) => (blobs.discardStaged as NonNullable<BlobStore['discardStaged']>).call(blobs, blob))
      },
    }
  }

  /**
   * A blob whose bytes this session's client sent and the store hashed (or that is in its view
   * and stored whole already): recorded, used now, and in its view.
   */
  recordBlob(digest: string, size: number): Promise<void> {
    return this.write('recording a blob', function* () {
      yield* this.session.touchBlob(digest, size, now())
      if (this.session.projectScope !== null) yield* this.session.grantBlob(digest, this.session.projectScope)
    })
  }

  /**
   * A presigned URL that reads the blob straight from the store, when the store hands them out
   * and the blob is in this session's view; else null (the client reads through the server).
   */
  async blobDownloadUrl(digest: string): Promise<{url: string; size: number; expires_at: string} | null> {
    const size = await this.visibleBlobSize(digest)
    if (size === null) throw notFound(`blob ${digest} is not in the store`)
    if (!this.blobs.presigns || !this.blobs.presignGet) return null
    return {url: await this.blobs.presignGet(digest, PRESIGN_SECONDS), size, expires_at: inSeconds(PRESIGN_SECONDS)}
  }

  /**
   * Where the client sends a blob's bytes straight to the store (a presigned PUT whose digest
   * the store enforces), or null: send them to the server. Nothing is recorded until
   * commitBlobUpload, so a URL nobody uses leaves nothing behind but a temporary object gc removes.
   */
  async blobUploadUrl(digest: string, size: number): Promise<(PresignedUpload & {expires_at: string}) | (BlobInfo & {url: null; stored: false}) | null> {
    validateDigest(digest)
    if (!Number.isSafeInteger(size) || size < 0) throw invalid(`invalid blob size ${quote(size)}`)
    if (!this.blobs.presigns || !this.blobs.presignUpload || size > MAX_PRESIGNED_PUT) return null
    if ((await this.visibleBlobSize(digest)) === size) {
      // Stored and in the caller's view: nothing to send; recorded as used so gc spares it.
      await this.recordBlob(digest, size)
      return {url: null, digest, size, stored: false}
    }
    return {...(await this.blobs.presignUpload(digest, size, PRESIGN_SECONDS)), expires_at: inSeconds(PRESIGN_SECONDS)}
  }

  /** A presigned upload's bytes are in the store: put them in place and record the blob, as putBlob does. */
  async commitBlobUpload(digest: string, size: number, upload: string): Promise<BlobInfo & {stored: boolean}> {
    validateDigest(digest)
    if (!Number.isSafeInteger(size) || size < 0) throw invalid(`invalid blob size ${quote(size)}`)
    if (!this.blobs.presigns || !this.blobs.commitUpload) throw invalid(`presigned uploads are off for ${this.blobs.description}`)
    const stored = await this.blobs.commitUpload(digest, size, upload)
    await this.recordBlob(digest, size)
    return {digest, size, stored}
  }

  async localBlobPath(digest: string): Promise<string | null> {
    if (!this.blobs.localPath) return null
    return (await this.visibleBlobSize(digest)) === null ? null : this.blobs.localPath(digest)
  }

  async openBlob(digest: string, options: {offset?: number; project?: string} = {}): Promise<BlobStream> {
    validateDigest(digest)
    const visible = await this.read(function* () {
      return yield* this.session.blobVisible(digest)
    })
    if (!visible) throw notFound(`blob ${digest} is not in the store`)
    return this.blobs.open(digest, options.offset ?? 0)
  }
}
