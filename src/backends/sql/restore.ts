/**
 * Restoring history (import, copy): a model's versions with their numbers, times and authors,
 * its tag history and events, and runs with their ids and checkpoints with their UUIDs, written
 * as they were in the store they came from. Written once for every SQL database, like the engine.
 *
 * All-or-nothing per model and per run: one transaction each. Idempotent: what the store holds
 * already is compared, never written twice. A store may hold an earlier part of a model's history
 * (an earlier import, then more pushes at the source): its events are then a prefix of the
 * history's, its versions equal to theirs, and the rest is appended. Anything else that differs
 * is a conflict, and the model is left as it was.
 *
 * Event ids are not kept: restored events are appended to this store's journal (so `events
 * --follow` and the server's caches see them as new), with their original time, type, actor and
 * data.
 */
import {createHash} from 'node:crypto'
import type {
  CheckpointRecord,
  Dataset,
  FileEntry,
  HistoryDigestQuery,
  HistoryDigests,
  HistoryEvent,
  JsonObject,
  Lineage,
  MetricSummary,
  ModelHistory,
  RestoreOptions,
  RestoreResult,
  RunHistory,
  SourceInfo,
  Tag,
  VersionRecord,
} from '../backend.js'
import {EVENT_TYPES, RUN_STATUSES} from '../backend.js'
import {conflict, invalid} from '../errors.js'
import {
  isJsonObject,
  LATEST,
  nameKey,
  quote,
  validateDatasetInput,
  validateFileEntries,
  validateLabels,
  validateMetadata,
  validateMetrics,
  validateName,
  validateOptionalShortText,
  validateRunId,
  validateShortText,
  validateTag,
  validateText,
  validateUuid,
} from '../validation.js'
import type {SqlDriver} from './driver.js'
import {type ModelRow as SessionModelRow, parseJson, type Session, storedSource, versionFields, type VersionRow} from './session.js'
import {all, get, run, type Task} from './task.js'

/** Records longer than this are refused (a model's history travels as one JSON document). */
export const RESTORE_LIMITS = {versions: 100_000, events: 1_000_000, checkpoints: 100_000}

/** JSON with object keys sorted: two equal records give the same text whatever their key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(sortKeys(value))
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value as object).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key])
    return out
  }
  return value
}

function time(value: unknown, what: string): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw invalid(`${what} must be an ISO 8601 time`)
  return value
}

function optionalTime(value: unknown, what: string): string | null {
  return value === null || value === undefined ? null : time(value, what)
}

function list<T>(value: unknown, what: string, max: number): T[] {
  if (!Array.isArray(value)) throw invalid(`${what} must be a list`)
  if (value.length > max) throw invalid(`too many ${what} (${value.length}, at most ${max})`)
  return value as T[]
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (!isJsonObject(value)) throw invalid(`${what} must be an object`)
  return value as Record<string, unknown>
}

function source(value: unknown): SourceInfo {
  const s = {host: null, git: null, ci: null, ...object(value ?? {}, 'source')} as SourceInfo
  validateMetadata(s as unknown as JsonObject, 'source')
  return s
}

function validateProject(value: unknown): {name: string; description: string; created_at: string} {
  const p = object(value, 'project')
  return {name: validateName('project', p.name), description: validateText(p.description ?? '', 'project description'), created_at: time(p.created_at, 'project created_at')}
}

function validateVersion(value: unknown, model: string): VersionRecord {
  const v = object(value, 'version')
  const number = v.number
  if (!Number.isSafeInteger(number) || (number as number) < 1) throw invalid(`model ${quote(model)}: invalid version number ${quote(number)}`)
  const files = validateFileEntries(v.files, 'files')
  if (files.length === 0) throw invalid(`model ${quote(model)} version ${number} has no files`)
  if (v.lineage !== null && v.lineage !== undefined && !isJsonObject(v.lineage)) throw invalid(`model ${quote(model)} version ${number}: lineage must be an object or null`)
  return {
    number: number as number,
    comment: validateText(v.comment ?? '', 'comment'),
    author: validateShortText(v.author, 'author'),
    created_at: time(v.created_at, `version ${number} created_at`),
    metadata: validateMetadata(v.metadata),
    metrics: validateMetrics(v.metrics),
    framework: validateOptionalShortText(v.framework, 'framework'),
    format: validateOptionalShortText(v.format, 'format'),
    source: source(v.source),
    files,
    attachments: validateFileEntries(v.attachments ?? [], 'attachments'),
    lineage: (v.lineage ?? null) as Lineage | null,
  }
}

function validateEvent(value: unknown, model: string, index: number): HistoryEvent {
  const e = object(value, 'event')
  if (!EVENT_TYPES.includes(e.type as never)) throw invalid(`model ${quote(model)} event ${index + 1}: unknown type ${quote(e.type)}`)
  const version = e.version ?? null
  if (version !== null && (!Number.isSafeInteger(version) || (version as number) < 1)) throw invalid(`model ${quote(model)} event ${index + 1}: invalid version`)
  return {
    time: time(e.time, `model ${quote(model)} event ${index + 1} time`),
    type: e.type as HistoryEvent['type'],
    version: version as number | null,
    tag: e.tag === null || e.tag === undefined ? null : validateShortText(e.tag, 'tag'),
    actor: validateShortText(e.actor, 'actor'),
    data: validateMetadata(e.data ?? {}, 'event data'),
  }
}

/** Check a model's history whole, before any transaction: shape, limits, and that it holds together. */
export function validateModelHistory(h: ModelHistory): ModelHistory {
  object(h, 'history')
  const project = validateProject(h.project)
  const m = object(h.model, 'model')
  const name = validateName('model', m.name)
  const lastNumber = m.last_number
  if (!Number.isSafeInteger(lastNumber) || (lastNumber as number) < 0) throw invalid(`model ${quote(name)}: invalid last_number`)
  const versions = list<unknown>(h.versions, 'versions', RESTORE_LIMITS.versions).map((v) => validateVersion(v, name))
  const numbers = new Set<number>()
  for (const v of versions) {
    if (numbers.has(v.number)) throw invalid(`model ${quote(name)} has version ${v.number} twice`)
    if (v.number > (lastNumber as number)) throw invalid(`model ${quote(name)} version ${v.number} is above its last_number ${lastNumber}`)
    numbers.add(v.number)
  }
  versions.sort((a, b) => a.number - b.number)
  const seenTags = new Set<string>()
  const tags = list<Record<string, unknown>>(h.tags, 'tags', 10_000).map((t): Tag => {
    const tag = validateTag(object(t, 'tag').tag)
    if (nameKey(tag) === LATEST) throw invalid(`model ${quote(name)}: "latest" is implicit and cannot be restored as a tag`)
    if (seenTags.has(nameKey(tag))) throw invalid(`model ${quote(name)} has tag ${quote(tag)} twice`)
    seenTags.add(nameKey(tag))
    if (!numbers.has(t.version as number)) throw invalid(`model ${quote(name)}: tag ${quote(tag)} points at version ${quote(t.version)}, which the history does not hold`)
    return {tag, version: t.version as number, updated_at: time(t.updated_at, `tag ${tag} updated_at`)}
  })
  const events = list<unknown>(h.events, 'events', RESTORE_LIMITS.events).map((e, i) => validateEvent(e, name, i))
  return {
    project,
    model: {
      name,
      description: validateText(m.description ?? '', 'description'),
      owner: validateOptionalShortText(m.owner, 'owner'),
      task: validateOptionalShortText(m.task, 'task'),
      metadata: validateMetadata(m.metadata),
      labels: validateLabels(m.labels),
      created_at: time(m.created_at, 'model created_at'),
      updated_at: time(m.updated_at, 'model updated_at'),
      last_number: lastNumber as number,
    },
    versions,
    tags,
    events,
  }
}

function validateCheckpoint(value: unknown): CheckpointRecord {
  const c = object(value, 'checkpoint')
  const files = validateFileEntries(c.files, 'files')
  if (files.length === 0) throw invalid(`checkpoint ${quote(c.uuid)} has no files`)
  const step = c.step ?? null
  if (step !== null && (!Number.isSafeInteger(step) || (step as number) < 0)) throw invalid('checkpoint step must be a whole number >= 0')
  return {
    uuid: validateUuid(c.uuid),
    step: step as number | null,
    metrics: validateMetrics(c.metrics),
    metadata: validateMetadata(c.metadata),
    created_at: time(c.created_at, 'checkpoint created_at'),
    files,
  }
}

export function validateRunHistory(h: RunHistory): RunHistory {
  object(h, 'history')
  const project = validateProject(h.project)
  const e = object(h.experiment, 'experiment')
  const r = object(h.run, 'run')
  const id = validateRunId(r.id)
  if (!RUN_STATUSES.includes(r.status as never)) throw invalid(`run ${id}: invalid status ${quote(r.status)}`)
  const datasets = list<Dataset>(h.datasets, 'datasets', 10_000).map((d) => ({...validateDatasetInput(d), updated_at: time(d.updated_at, 'dataset updated_at')}))
  const checkpoints = list<unknown>(h.checkpoints, 'checkpoints', RESTORE_LIMITS.checkpoints).map(validateCheckpoint)
  const uuids = new Set(checkpoints.map((c) => c.uuid))
  if (uuids.size !== checkpoints.length) throw invalid(`run ${id} has a checkpoint twice`)
  const summaries = list<MetricSummary>(h.metric_summaries, 'metric_summaries', 100_000).map((s) => {
    object(s, 'metric summary')
    for (const field of ['last', 'last_step', 'min', 'max', 'count'] as const) if (typeof s[field] !== 'number') throw invalid(`run ${id}: metric summary ${field} must be a number`)
    return {name: String(s.name), split: String(s.split ?? ''), last: s.last, last_step: s.last_step, min: s.min, max: s.max, count: s.count}
  })
  return {
    project,
    experiment: {
      name: validateName('experiment', e.name),
      description: validateText(e.description ?? '', 'description'),
      owner: validateOptionalShortText(e.owner, 'owner'),
      framework: validateOptionalShortText(e.framework, 'framework'),
      created_at: time(e.created_at, 'experiment created_at'),
      updated_at: time(e.updated_at, 'experiment updated_at'),
    },
    run: {
      id,
      name: r.name === null || r.name === undefined || r.name === '' ? null : validateName('model', r.name),
      status: r.status as RunHistory['run']['status'],
      params: validateMetadata(r.params, 'params'),
      tags: validateLabels(r.tags),
      author: validateShortText(r.author, 'author'),
      source: source(r.source),
      created_at: time(r.created_at, 'run created_at'),
      start_time: optionalTime(r.start_time, 'run start_time'),
      end_time: optionalTime(r.end_time, 'run end_time'),
    },
    datasets,
    checkpoints,
    metric_summaries: summaries,
  }
}

/** The model columns restore reads (its own query, without version counts). */
type ModelRow = Omit<SessionModelRow, 'version_count' | 'latest_version'>

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
const byPath = (a: {path: string}, b: {path: string}) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)

/** A version as a history holds it (what restore writes and compares). */
function versionRecord(row: VersionRow, files: FileEntry[], attachments: FileEntry[]): VersionRecord {
  return {
    number: Number(row.number),
    ...versionFields(row),
    files,
    attachments,
    lineage: row.lineage ? parseJson<Lineage>(row.lineage) : null,
  }
}

const eventKey = (e: HistoryEvent) => canonical({time: e.time, type: e.type, version: e.version, tag: e.tag, actor: e.actor, data: e.data})

export class Restore {
  constructor(
    private readonly driver: SqlDriver,
    private readonly session: Session,
    /** Before a commit: every blob it names is in the blob store. */
    private readonly checkStored: (files: FileEntry[]) => Promise<void>,
  ) {}

  private transaction<T>(dryRun: boolean, what: string, body: (this: Restore) => Task<T>): Promise<T> {
    return dryRun ? this.driver.read(() => body.call(this)) : this.driver.write(what, () => body.call(this))
  }

  private *lock(table: 'models' | 'runs', id: number, dryRun: boolean): Task<void> {
    if (!dryRun && this.driver.dialect.forUpdate) yield* get(`SELECT id FROM ${table} WHERE id = ?${this.driver.dialect.forUpdate}`, id)
  }

  private *versionsOf(modelId: number): Task<VersionRecord[]> {
    const rows = yield* all<VersionRow>('SELECT * FROM versions WHERE model_id = ? ORDER BY number', modelId)
    const out: VersionRecord[] = []
    for (const row of rows) {
      const entries = yield* all<FileEntry & {kind: string}>('SELECT kind, path, size, sha256, mode FROM version_files WHERE version_id = ? ORDER BY path', row.id)
      const files: FileEntry[] = []
      const attachments: FileEntry[] = []
      for (const {kind, ...entry} of entries) (kind === 'file' ? files : attachments).push({...entry, size: Number(entry.size), mode: Number(entry.mode)})
      out.push(versionRecord(row, files, attachments))
    }
    return out
  }

  private *eventsOf(modelId: number): Task<HistoryEvent[]> {
    const rows = yield* all<HistoryEvent & {data: string}>('SELECT time, type, version, tag, actor, data FROM events WHERE model_id = ? ORDER BY id', modelId)
    return rows.map((r) => ({time: r.time, type: r.type, version: r.version === null ? null : Number(r.version), tag: r.tag, actor: r.actor, data: parseJson<JsonObject>(r.data)}))
  }

  private *tagsOf(modelId: number): Task<Tag[]> {
    return yield* all<Tag>('SELECT t.name AS tag, v.number AS version, t.updated_at FROM tags t JOIN versions v ON v.id = t.version_id WHERE t.model_id = ? ORDER BY t.name_key', modelId)
  }

  async restoreModel(input: ModelHistory, options: RestoreOptions = {}): Promise<RestoreResult> {
    const h = validateModelHistory(input)
    const dryRun = options.dry_run === true
    const files = h.versions.flatMap((v) => [...v.files, ...v.attachments])
    if (!dryRun) await this.checkStored(files)
    const label = `${h.project.name}/${h.model.name}`
    const result = (outcome: RestoreResult['outcome'], written: number, unchanged: number): RestoreResult => ({
      kind: 'model',
      project: h.project.name,
      name: h.model.name,
      outcome,
      written,
      unchanged,
      points_needed: false,
      dry_run: dryRun,
    })
    return this.transaction(dryRun, 'restoring a model', function* () {
      const found = yield* get<{id: number}>(
        'SELECT m.id FROM models m JOIN projects p ON p.id = m.project_id WHERE p.name_key = ? AND m.name_key = ?',
        nameKey(h.project.name),
        nameKey(h.model.name),
      )
      if (!found) {
        if (dryRun) return result('created', h.versions.length, 0)
        const project = yield* this.session.ensureProject(h.project.name, h.project)
        const {id} = (yield* get<{id: number}>(
          `INSERT INTO models (project_id, name, name_key, description, owner, task, metadata, labels, created_at, updated_at, last_number)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
          project.id,
          h.model.name,
          nameKey(h.model.name),
          h.model.description,
          h.model.owner,
          h.model.task,
          JSON.stringify(h.model.metadata),
          JSON.stringify(h.model.labels),
          h.model.created_at,
          h.model.updated_at,
          h.model.last_number,
        )) as {id: number}
        yield* this.writeHistory(h, id, project.name, h.versions, h.events)
        return result('created', h.versions.length, 0)
      }
      yield* this.lock('models', found.id, dryRun)
      const row = (yield* get<ModelRow>('SELECT m.*, p.name AS project_name FROM models m JOIN projects p ON p.id = m.project_id WHERE m.id = ?', found.id)) as ModelRow
      const differs = (why: string) => conflict(`model ${label} differs from the one being imported (${why}); it was left as it is`, {project: row.project_name, model: row.name})
      // The store's events must be where the history starts: the same pushes, moves and deletions.
      const events = yield* this.eventsOf(row.id)
      if (events.length > h.events.length) throw differs(`the store has ${events.length - h.events.length} more events`)
      for (let i = 0; i < events.length; i++) {
        if (eventKey(events[i]) !== eventKey(h.events[i])) {
          const e = events[i]
          throw differs(`its event ${i + 1} (${e.type}${e.version === null ? '' : ` of version ${e.version}`}${e.tag ? ` tag ${e.tag}` : ''} at ${e.time}) is not in the history`)
        }
      }
      if (Number(row.last_number) > h.model.last_number) throw differs(`the store has numbered up to version ${row.last_number}`)
      const mine = new Map(h.versions.map((v) => [v.number, v]))
      const existing = yield* this.versionsOf(row.id)
      for (const v of existing) {
        const theirs = mine.get(v.number)
        if (!theirs) throw differs(`the store has version ${v.number}, the history does not`)
        if (canonical(theirs) !== canonical(v)) throw differs(`version ${v.number} has different content`)
      }
      const have = new Set(existing.map((v) => v.number))
      const missing = h.versions.filter((v) => !have.has(v.number))
      for (const v of missing) {
        if (v.number <= Number(row.last_number)) throw differs(`the store deleted version ${v.number} or never had it`)
      }
      const fields = (m: {description: string; owner: string | null; task: string | null; metadata: unknown; labels: unknown; created_at: string}) =>
        canonical({description: m.description, owner: m.owner, task: m.task, metadata: m.metadata, labels: m.labels, created_at: m.created_at})
      const storeFields = {...row, metadata: parseJson(row.metadata), labels: parseJson(row.labels)}
      const tags = yield* this.tagsOf(row.id)
      const upToDate = events.length === h.events.length && missing.length === 0 && Number(row.last_number) === h.model.last_number
      if (upToDate) {
        if (fields(storeFields) !== fields(h.model)) throw differs('its description, metadata, labels, owner or task')
        if (canonical(tags.map((t) => ({...t, version: Number(t.version)}))) !== canonical([...h.tags].sort((a, b) => (nameKey(a.tag) < nameKey(b.tag) ? -1 : 1)))) throw differs('its tags')
        return result('unchanged', 0, existing.length)
      }
      if (row.created_at !== h.model.created_at) throw differs('it was created at another time')
      if (dryRun) return result('updated', missing.length, existing.length)
      yield* run(
        'UPDATE models SET description = ?, owner = ?, task = ?, metadata = ?, labels = ?, updated_at = ?, last_number = ? WHERE id = ?',
        h.model.description,
        h.model.owner,
        h.model.task,
        JSON.stringify(h.model.metadata),
        JSON.stringify(h.model.labels),
        h.model.updated_at,
        h.model.last_number,
        row.id,
      )
      yield* this.writeHistory(h, row.id, row.project_name, missing, h.events.slice(events.length))
      return result('updated', missing.length, existing.length)
    })
  }

  /** Versions, tags (as the history has them now) and events, for a model row that exists. */
  private *writeHistory(h: ModelHistory, modelId: number, project: string, versions: VersionRecord[], events: HistoryEvent[]): Task<void> {
    const claimTime = new Date().toISOString()
    for (const v of versions) {
      for (const f of [...v.files, ...v.attachments]) yield* this.session.claimBlob(f.sha256, f.size, claimTime, project)
      const size = v.files.reduce((sum, f) => sum + f.size, 0)
      const {id} = (yield* get<{id: number}>(
        `INSERT INTO versions (model_id, number, comment, author, created_at, metadata, metrics, framework, format, source, size, file_count, attachment_count, request_id, run_uid, lineage)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        modelId,
        v.number,
        v.comment,
        v.author,
        v.created_at,
        JSON.stringify(v.metadata),
        JSON.stringify(v.metrics),
        v.framework,
        v.format,
        JSON.stringify(v.source),
        size,
        v.files.length,
        v.attachments.length,
        null,
        v.lineage?.run?.id ?? null,
        v.lineage ? JSON.stringify(v.lineage) : null,
      )) as {id: number}
      const insertFile = 'INSERT INTO version_files (version_id, kind, path, size, sha256, mode) VALUES (?, ?, ?, ?, ?, ?)'
      for (const f of v.files) yield* run(insertFile, id, 'file', f.path, f.size, f.sha256, f.mode)
      for (const f of v.attachments) yield* run(insertFile, id, 'attachment', f.path, f.size, f.sha256, f.mode)
    }
    yield* run('DELETE FROM tags WHERE model_id = ?', modelId)
    for (const t of h.tags) {
      const version = (yield* get<{id: number}>('SELECT id FROM versions WHERE model_id = ? AND number = ?', modelId, t.version)) as {id: number}
      yield* run('INSERT INTO tags (model_id, name_key, name, version_id, updated_at) VALUES (?, ?, ?, ?, ?)', modelId, nameKey(t.tag), t.tag, version.id, t.updated_at)
    }
    for (const e of events) {
      yield* this.session.eventAs(e.type, {project, model: h.model.name, modelId, version: e.version, tag: e.tag}, e.time, e.actor, e.data)
    }
  }

  async restoreRun(input: RunHistory, options: RestoreOptions = {}): Promise<RestoreResult> {
    const h = validateRunHistory(input)
    const dryRun = options.dry_run === true
    if (!dryRun) await this.checkStored(h.checkpoints.flatMap((c) => c.files))
    const r = h.run
    const result = (outcome: RestoreResult['outcome'], written: number, unchanged: number, pointsNeeded: boolean): RestoreResult => ({
      kind: 'run',
      project: h.project.name,
      name: r.id,
      outcome,
      written,
      unchanged,
      points_needed: pointsNeeded,
      dry_run: dryRun,
    })
    return this.transaction(dryRun, 'restoring a run', function* () {
      const found = yield* get<{id: number}>('SELECT id FROM runs WHERE uid = ?', r.id)
      if (found) {
        yield* this.lock('runs', found.id, dryRun)
        const differs = (why: string) => conflict(`run ${r.id} differs from the one being imported (${why}); it was left as it is`, {run: r.id})
        const stored = yield* this.runAsRecord(found.id)
        if (canonical(stored.run) !== canonical(h.run)) throw differs('its status, params, tags, name, author, source or times')
        if (stored.project !== nameKey(h.project.name) || stored.experiment !== nameKey(h.experiment.name)) throw differs('it is in another project or experiment')
        if (canonical(stored.datasets) !== canonical(h.datasets)) throw differs('its datasets')
        if (canonical(stored.checkpoints) !== canonical(h.checkpoints)) throw differs('its checkpoints')
        // Points: all there, or some of them (an import that stopped part-way), or a conflict.
        const theirs = new Map(h.metric_summaries.map((s) => [`${s.name}\u0000${s.split}`, s]))
        let complete = stored.summaries.length === h.metric_summaries.length
        for (const s of stored.summaries) {
          const t = theirs.get(`${s.name}\u0000${s.split}`)
          if (!t || s.count > t.count) throw differs(`its metric ${s.name}${s.split ? `[${s.split}]` : ''} has more points`)
          if (canonical(s) !== canonical(t)) {
            if (s.count === t.count) throw differs(`its metric ${s.name}${s.split ? `[${s.split}]` : ''} has other values`)
            complete = false
          }
        }
        return complete ? result('unchanged', 0, h.checkpoints.length, false) : result('updated', 0, h.checkpoints.length, true)
      }
      for (const c of h.checkpoints) {
        const other = yield* get<{uid: string}>('SELECT r.uid FROM checkpoints c JOIN runs r ON r.id = c.run_id WHERE c.uuid = ?', c.uuid)
        if (other) throw conflict(`checkpoint ${c.uuid} belongs to run ${other.uid} in this store, not to run ${r.id}; run ${r.id} was not imported`, {run: r.id})
      }
      if (dryRun) return result('created', h.checkpoints.length, 0, h.metric_summaries.length > 0)
      const project = yield* this.session.ensureProject(h.project.name, h.project)
      let experiment = yield* get<{id: number; name: string}>('SELECT id, name FROM experiments WHERE project_id = ? AND name_key = ?', project.id, nameKey(h.experiment.name))
      if (!experiment) {
        const e = h.experiment
        experiment = (yield* get<{id: number; name: string}>(
          'INSERT INTO experiments (project_id, name, name_key, description, owner, framework, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, name',
          project.id,
          e.name,
          nameKey(e.name),
          e.description,
          e.owner,
          e.framework,
          e.created_at,
          e.updated_at,
        )) as {id: number; name: string}
        yield* this.session.eventAs('experiment.created', {project: project.name}, e.created_at, e.owner ?? r.author, {experiment: e.name})
      }
      const {id: runId} = (yield* get<{id: number}>(
        `INSERT INTO runs (uid, experiment_id, name, name_key, status, params, tags, author, source, created_at, start_time, end_time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        r.id,
        experiment.id,
        r.name,
        r.name ? nameKey(r.name) : null,
        r.status,
        JSON.stringify(r.params),
        JSON.stringify(r.tags),
        r.author,
        JSON.stringify(r.source),
        r.created_at,
        r.start_time,
        r.end_time,
      )) as {id: number}
      const base = {run: r.id, experiment: experiment.name}
      yield* this.session.eventAs('run.created', {project: project.name}, r.created_at, r.author, {...base, name: r.name, status: r.start_time ? 'running' : 'queued', restored: true})
      for (const d of h.datasets) {
        yield* run(
          'INSERT INTO datasets (run_id, tag, uri, sha256, size, metadata, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          runId,
          d.tag,
          d.uri,
          d.sha256,
          d.size,
          JSON.stringify(d.metadata),
          d.updated_at,
        )
      }
      const claimTime = new Date().toISOString()
      for (const c of h.checkpoints) {
        for (const f of c.files) yield* this.session.claimBlob(f.sha256, f.size, claimTime, project.name)
        const {id} = (yield* get<{id: number}>(
          'INSERT INTO checkpoints (uuid, run_id, step, metrics, metadata, size, file_count, created_at, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
          c.uuid,
          runId,
          c.step,
          JSON.stringify(c.metrics),
          JSON.stringify(c.metadata),
          c.files.reduce((sum, f) => sum + f.size, 0),
          c.files.length,
          c.created_at,
          null,
        )) as {id: number}
        for (const f of c.files) yield* run('INSERT INTO checkpoint_files (checkpoint_id, path, size, sha256, mode) VALUES (?, ?, ?, ?, ?)', id, f.path, f.size, f.sha256, f.mode)
        yield* this.session.eventAs('checkpoint.created', {project: project.name}, c.created_at, r.author, {...base, checkpoint: c.uuid, step: c.step})
      }
      if (r.end_time) yield* this.session.eventAs('run.updated', {project: project.name}, r.end_time, r.author, {...base, changed: ['status'], status: r.status})
      return result('created', h.checkpoints.length, 0, h.metric_summaries.length > 0)
    })
  }

  /**
   * Digests of a project's histories (Backend.historyDigests): what restoreModel and restoreRun
   * compare, hashed, for every model and run of the project in a handful of statements (no
   * statement per version or per run), so that a copy of an unchanged store asks each side once.
   */
  async historyDigests(project: string, query: HistoryDigestQuery = {}): Promise<HistoryDigests> {
    validateName('project', project)
    const withRuns = query.runs !== false
    return this.driver.read(() => this.digestsOf(project, withRuns))
  }

  private *digestsOf(name: string, withRuns: boolean): Task<HistoryDigests> {
    const p = yield* this.session.findProject(name)
    if (!p) return {project: name, models: [], runs: []}
    const out: HistoryDigests = {project: p.name, models: [], runs: []}
    const models = yield* all<ModelRow>('SELECT * FROM models WHERE project_id = ? ORDER BY id', p.id)
    if (models.length > 0) {
      const versionRows = yield* all<VersionRow & {model_id: number}>(
        'SELECT v.* FROM versions v JOIN models m ON m.id = v.model_id WHERE m.project_id = ? ORDER BY v.model_id, v.number',
        p.id,
      )
      const fileRows = yield* all<FileEntry & {kind: string; version_id: number}>(
        'SELECT f.version_id, f.kind, f.path, f.size, f.sha256, f.mode FROM version_files f JOIN versions v ON v.id = f.version_id JOIN models m ON m.id = v.model_id WHERE m.project_id = ?',
        p.id,
      )
      const tagRows = yield* all<Tag & {model_id: number; name_key: string}>(
        'SELECT t.model_id, t.name_key, t.name AS tag, v.number AS version, t.updated_at FROM tags t JOIN versions v ON v.id = t.version_id JOIN models m ON m.id = t.model_id WHERE m.project_id = ?',
        p.id,
      )
      const eventRows = yield* all<HistoryEvent & {model_id: number; data: string}>(
        'SELECT e.model_id, e.time, e.type, e.version, e.tag, e.actor, e.data FROM events e WHERE e.model_id IN (SELECT id FROM models WHERE project_id = ?) ORDER BY e.id',
        p.id,
      )
      const files = new Map<number, {files: FileEntry[]; attachments: FileEntry[]}>()
      for (const {version_id, kind, ...f} of fileRows) {
        const id = Number(version_id)
        let entry = files.get(id)
        if (!entry) files.set(id, (entry = {files: [], attachments: []}))
        ;(kind === 'file' ? entry.files : entry.attachments).push({path: f.path, size: Number(f.size), sha256: f.sha256, mode: Number(f.mode)})
      }
      const group = <T extends {model_id: number}>(rows: T[]) => {
        const map = new Map<number, T[]>()
        for (const row of rows) {
          const id = Number(row.model_id)
          const list = map.get(id)
          if (list) list.push(row)
          else map.set(id, [row])
        }
        return map
      }
      const versions = group(versionRows)
      const tags = group(tagRows)
      const events = group(eventRows)
      for (const m of models) {
        const vs = (versions.get(Number(m.id)) ?? []).map((row): VersionRecord => {
          const f = files.get(Number(row.id)) ?? {files: [], attachments: []}
          return versionRecord(row, f.files.sort(byPath), f.attachments.sort(byPath))
        })
        const ts = (tags.get(Number(m.id)) ?? [])
          .sort((a, b) => (a.name_key < b.name_key ? -1 : a.name_key > b.name_key ? 1 : 0))
          .map((t) => ({tag: t.tag, version: Number(t.version), updated_at: t.updated_at}))
        const es = (events.get(Number(m.id)) ?? []).map((e) => eventKey({time: e.time, type: e.type, version: e.version === null ? null : Number(e.version), tag: e.tag, actor: e.actor, data: parseJson<JsonObject>(e.data)}))
        const fields = {
          description: m.description,
          owner: m.owner,
          task: m.task,
          metadata: parseJson(m.metadata),
          labels: parseJson(m.labels),
          created_at: m.created_at,
          last_number: Number(m.last_number),
        }
        out.models.push({name: m.name, digest: sha256(canonical({fields, versions: vs, tags: ts, events: es})), versions: vs.length})
      }
    }
    if (!withRuns) return out
    const runs = yield* all<{id: number}>('SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE e.project_id = ? ORDER BY r.id', p.id)
    for (const {id} of runs) {
      const record = yield* this.runAsRecord(Number(id))
      const summaries = [...record.summaries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.split < b.split ? -1 : a.split > b.split ? 1 : 0))
      out.runs.push({id: record.run.id, digest: sha256(canonical({...record, summaries})), checkpoints: record.checkpoints.length})
    }
    return out
  }

  /** A stored run in the shape of a RunHistory, to compare. */
  private *runAsRecord(runId: number): Task<{project: string; experiment: string; run: RunHistory['run']; datasets: Dataset[]; checkpoints: CheckpointRecord[]; summaries: MetricSummary[]}> {
    const row = (yield* get<Record<string, unknown>>(
      `SELECT r.*, e.name_key AS experiment_key, p.name_key AS project_key FROM runs r JOIN experiments e ON e.id = r.experiment_id JOIN projects p ON p.id = e.project_id WHERE r.id = ?`,
      runId,
    )) as Record<string, string | null>
    const datasets = (yield* all<Dataset & {metadata: string}>('SELECT tag, uri, sha256, size, metadata, updated_at FROM datasets WHERE run_id = ? ORDER BY tag', runId)).map((d) => ({
      ...d,
      size: d.size === null ? null : Number(d.size),
      metadata: parseJson<JsonObject>(d.metadata as unknown as string),
    }))
    const checkpoints: CheckpointRecord[] = []
    for (const c of yield* all<{id: number; uuid: string; step: number | null; metrics: string; metadata: string; created_at: string}>('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY id', runId)) {
      const files = (yield* all<FileEntry>('SELECT path, size, sha256, mode FROM checkpoint_files WHERE checkpoint_id = ? ORDER BY path', c.id)).map((f) => ({...f, size: Number(f.size), mode: Number(f.mode)}))
      checkpoints.push({uuid: c.uuid, step: c.step === null ? null : Number(c.step), metrics: parseJson(c.metrics), metadata: parseJson(c.metadata), created_at: c.created_at, files})
    }
    const aggregates = yield* all<{name: string; split: string; min: number; max: number; count: number | string}>(
      'SELECT name, split, MIN(value) AS min, MAX(value) AS max, COUNT(*) AS count FROM metrics WHERE run_id = ? GROUP BY name, split',
      runId,
    )
    const series = new Map((yield* all<{name: string; split: string; last_step: number; last_value: number}>('SELECT * FROM metric_series WHERE run_id = ?', runId)).map((s) => [`${s.name}\u0000${s.split}`, s]))
    const summaries = aggregates.map((a) => {
      const s = series.get(`${a.name}\u0000${a.split}`)
      return {name: a.name, split: a.split, last: Number(s?.last_value), last_step: Number(s?.last_step), min: Number(a.min), max: Number(a.max), count: Number(a.count)}
    })
    return {
      project: row.project_key as string,
      experiment: row.experiment_key as string,
      run: {
        id: row.uid as string,
        name: row.name,
        status: row.status as RunHistory['run']['status'],
        params: parseJson(row.params as string),
        tags: parseJson(row.tags as string),
        author: row.author as string,
        source: storedSource(row.source as string),
        created_at: row.created_at as string,
        start_time: row.start_time,
        end_time: row.end_time,
      },
      datasets,
      checkpoints,
      summaries,
    }
  }
}
