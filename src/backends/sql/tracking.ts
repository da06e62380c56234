/**
 * Experiment tracking on the local engine: experiments, runs, metric series, datasets,
 * checkpoints, and the lineage snapshots that versions keep.
 */
import {randomBytes, randomUUID} from 'node:crypto'
import type {
  Checkpoint,
  CheckpointCreate,
  CheckpointSummary,
  Dataset,
  DatasetInput,
  Experiment,
  ExperimentCreate,
  ExperimentPatch,
  FileEntry,
  JsonObject,
  Lineage,
  MetricPoint,
  MetricPointInput,
  MetricLogOptions,
  MetricPointsInput,
  MetricSeriesChunk,
  MetricDownsample,
  MetricDownsampleQuery,
  DownsampledSeries,
  MetricQuery,
  MetricSummary,
  Page,
  PageQuery,
  Run,
  RunCreate,
  RunPatch,
  RunQuery,
  RunStatus,
  RunSummary,
} from '../backend.js'
import {FINISHED_STATUSES, RUN_STATUSES} from '../backend.js'
import {alreadyExists, conflict, invalid, notFound} from '../errors.js'
import {compileFilter, type FieldResolver, fieldSql, metricKey, parseMetricKey, type SqlFragment} from '../filter.js'
import {
  isJsonObject,
  LIMITS,
  metricPointProblem,
  nameKey,
  quote,
  validateDatasetInput,
  validateFileEntries,
  validateLabels,
  validateMetadata,
  validateMetricName,
  validateMetrics,
  validateName,
  validateOptionalShortText,
  validatePage,
  validateRequestId,
  validateShortText,
  validateSeriesChunk,
  validateSplit,
  validateTime,
  validateText,
  validateUuid,
  SeriesTimes,
} from '../validation.js'
import type {ColumnType, SqlDriver} from './driver.js'
import {emptySource, now, pageSql, parseJson, storedSource, type ProjectRow, type Session} from './session.js'
import {all, count, get, run as exec, type Task} from './task.js'

interface ExperimentRow {
  id: number
  project_id: number
  project_name: string
  name: string
  description: string
  owner: string | null
  framework: string | null
  created_at: string
  updated_at: string
  run_count: number
}

export interface RunRow {
  id: number
  uid: string
  experiment_id: number
  experiment_name: string
  project_name: string
  name: string | null
  status: RunStatus
  params: string
  tags: string
  author: string
  source: string
  created_at: string
  start_time: string | null
  end_time: string | null
}

interface CheckpointRow {
  id: number
  uuid: string
  run_id: number
  run_uid: string
  project_name: string
  experiment_name: string
  step: number | null
  metrics: string
  metadata: string
  size: number
  file_count: number
  created_at: string
}

const EXPERIMENT_SELECT = `
  SELECT e.*, p.name AS project_name, (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.id) AS run_count
  FROM experiments e JOIN projects p ON p.id = e.project_id`

const RUN_SELECT = `
  SELECT r.*, e.name AS experiment_name, p.name AS project_name
  FROM runs r JOIN experiments e ON e.id = r.experiment_id JOIN projects p ON p.id = e.project_id`

const CHECKPOINT_SELECT = `
  SELECT c.*, r.uid AS run_uid, e.name AS experiment_name, p.name AS project_name
  FROM checkpoints c JOIN runs r ON r.id = c.run_id JOIN experiments e ON e.id = r.experiment_id JOIN projects p ON p.id = e.project_id`

const BATCH = 10_000
/** Buckets of a downsampled series by default, and at most (each gives at most 4 points). */
const DOWNSAMPLE_BUCKETS = 500
const MAX_DOWNSAMPLE_BUCKETS = 2000
/** The latest time a Date can hold. */
const MAX_TIME_MS = 8.64e15
/**
 * Rows an INSERT bound as VALUES carries (a remainder gets its own, cached, statement); a
 * dialect that binds column arrays says its own (Dialect.columnRows).
 */
const ROWS_PER_VALUES = 50

/**
 * A metric point logged again replaces the value; its time changes only when the value does
 * or when a time is given, so a retried batch leaves the series exactly as it was. A row that
 * would not change is left alone (PostgreSQL would write a new version of it all the same).
 */
const POINTS = {
  insert: 'INSERT INTO metrics (run_id, name, split, step, value, time)',
  types: ['bigint', 'text', 'text', 'bigint', 'float8', 'text'] as const satisfies readonly ColumnType[],
  upsert: (explicitTime: boolean) =>
    explicitTime
      ? `ON CONFLICT (run_id, name, split, step) DO UPDATE SET time = excluded.time, value = excluded.value
         WHERE excluded.value != metrics.value OR excluded.time != metrics.time`
      : `ON CONFLICT (run_id, name, split, step) DO UPDATE SET time = excluded.time, value = excluded.value
         WHERE excluded.value != metrics.value`,
}

/** A series' last point moves only forwards (a batch that repeats older steps leaves it). */
const SERIES = {
  insert: 'INSERT INTO metric_series (run_id, name, split, last_step, last_value)',
  types: ['bigint', 'text', 'text', 'bigint', 'float8'] as const satisfies readonly ColumnType[],
  upsert: `ON CONFLICT (run_id, name, split) DO UPDATE SET last_step = excluded.last_step, last_value = excluded.last_value
    WHERE excluded.last_step >= metric_series.last_step`,
}
const FINISHED = FINISHED_STATUSES
const STATUS_ORDER: Record<RunStatus, number> = {queued: 0, running: 1, completed: 2, failed: 2, killed: 2}

/** Fields a run filter or sort may name. */
const RUN_FIELDS: FieldResolver = {
  describe: 'id, name, status, experiment, author, created_at, start_time, end_time, params.KEY, tags.KEY or metrics.NAME[split]',
  field(name) {
    const plain: Record<string, string> = {
      id: 'r.uid',
      name: 'r.name',
      status: 'r.status',
      experiment: 'e.name',
      author: 'r.author',
      created_at: 'r.created_at',
      start_time: 'r.start_time',
      end_time: 'r.end_time',
    }
    if (plain[name]) return {sql: plain[name], params: []}
    if (name.startsWith('params.') && name.length > 7) return {json: {column: 'r.params', key: name.slice(7)}}
    if (name.startsWith('tags.') && name.length > 5) return {json: {column: 'r.tags', key: name.slice(5)}}
    if (name.startsWith('metrics.') && name.length > 8) {
      const {name: metric, split} = parseMetricKey(name.slice(8))
      return {sql: '(SELECT s.last_value FROM metric_series s WHERE s.run_id = r.id AND s.name = ? AND s.split = ?)', params: [metric, split]}
    }
    return null
  },
}

function validateStatus(status: unknown): RunStatus {
  if (typeof status !== 'string' || !(RUN_STATUSES as readonly string[]).includes(status)) {
    throw invalid(`invalid status ${quote(status)}: use one of ${RUN_STATUSES.join(', ')}`)
  }
  return status as RunStatus
}

/**
 * A finished run takes no more points: its series are what it ended with (as its status is),
 * unless the caller means it (an evaluation after training, a restore of the run's history).
 */
function checkTakesPoints(run: {uid: string; status: RunStatus}, options: MetricLogOptions): void {
  if (FINISHED.includes(run.status) && !options.allow_finished) {
    throw conflict(`run ${run.uid} already finished (${run.status}): it takes no more points; use --allow-finished to add some after its end`)
  }
}


/** Points of series chunks written in one transaction (each commit flushes). */
const SERIES_BATCH = 100_000
/** Rows a series chunk's INSERT carries (SQLite: fewer statements is most of what is left to save). */
const SERIES_ROWS_PER_VALUES = 500

export class Tracking {
  /** INSERT texts of rowsStatement, by kind (and row count, as VALUES); the store caches their statements. */
  private readonly rowStatements = new Map<string, string>()

  constructor(
    private readonly driver: SqlDriver,
    private readonly session: Session,
    /** Before a commit: every blob it names is in the blob store (see SqlEngine.checkStored). */
    private readonly checkStored: (files: FileEntry[]) => Promise<void>,
  ) {}

  /** A write transaction around a task (`this` inside it is this object). */
  private write<T>(what: string, body: (this: Tracking) => Task<T>): Promise<T> {
    return this.driver.write(what, () => body.call(this))
  }

  /** A read transaction around a task. */
  private read<T>(body: (this: Tracking) => Task<T>): Promise<T> {
    return this.driver.read(() => body.call(this))
  }

  // -------------------------------------------------------------------------------------------
  // experiments

  private *findExperiment(project: string, name: string): Task<ExperimentRow | undefined> {
    return yield* get<ExperimentRow>(`${EXPERIMENT_SELECT} WHERE p.name_key = ? AND e.name_key = ?`, nameKey(project), nameKey(name))
  }

  private *requireExperiment(project: string, name: string): Task<ExperimentRow> {
    const row = yield* this.findExperiment(project, name)
    if (!row) throw notFound(`experiment ${quote(name)} not found in project ${quote(project)}`)
    return row
  }

  private toExperiment(row: ExperimentRow): Experiment {
    return {
      project: row.project_name,
      name: row.name,
      description: row.description,
      owner: row.owner,
      framework: row.framework,
      created_at: row.created_at,
      updated_at: row.updated_at,
      run_count: row.run_count,
    }
  }

  private experimentFields(input: ExperimentCreate) {
    return {
      description: input.description === undefined ? undefined : validateText(input.description, 'description'),
      owner: input.owner === undefined ? undefined : validateOptionalShortText(input.owner, 'owner'),
      framework: input.framework === undefined ? undefined : validateOptionalShortText(input.framework, 'framework'),
    }
  }

  /** The experiment, created with its event if missing. Call inside a write transaction. */
  private *ensureExperiment(project: ProjectRow, name: string, input: ExperimentCreate = {}): Task<ExperimentRow> {
    const existing = yield* this.findExperiment(project.name, name)
    if (existing) return existing
    const fields = this.experimentFields(input)
    const time = now()
    yield* exec(
      'INSERT INTO experiments (project_id, name, name_key, description, owner, framework, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      project.id,
      name,
      nameKey(name),
      fields.description ?? '',
      fields.owner ?? null,
      fields.framework ?? null,
      time,
      time,
    )
    yield* this.session.event('experiment.created', {project: project.name, data: {experiment: name}})
    return yield* this.requireExperiment(project.name, name)
  }

  async listExperiments(project: string, query?: PageQuery): Promise<Page<Experiment>> {
    validateName('project', project)
    const page = validatePage(query)
    const limit = pageSql(page)
    return this.read(function* () {
      const total = yield* count('SELECT COUNT(*) AS n FROM experiments e JOIN projects p ON p.id = e.project_id WHERE p.name_key = ?', nameKey(project))
      const rows = yield* all<ExperimentRow>(`${EXPERIMENT_SELECT} WHERE p.name_key = ? ORDER BY e.name_key ${limit.sql}`, nameKey(project), ...limit.params)
      return {items: rows.map((r) => this.toExperiment(r)), total, ...page}
    })
  }

  async createExperiment(project: string, name: string, input: ExperimentCreate = {}): Promise<Experiment> {
    validateName('project', project)
    validateName('experiment', name)
    this.experimentFields(input)
    return this.write('creating an experiment', function* () {
      const existing = yield* this.findExperiment(project, name)
      if (existing) throw alreadyExists(`experiment ${quote(existing.name)} already exists in project ${quote(existing.project_name)}`)
      return this.toExperiment(yield* this.ensureExperiment(yield* this.session.ensureProject(project), name, input))
    })
  }

  async getExperiment(project: string, name: string): Promise<Experiment> {
    validateName('project', project)
    validateName('experiment', name)
    return this.read(function* () {
      return this.toExperiment(yield* this.requireExperiment(project, name))
    })
  }

  async updateExperiment(project: string, name: string, patch: ExperimentPatch): Promise<Experiment> {
    validateName('project', project)
    validateName('experiment', name)
    const fields = this.experimentFields(patch)
    return this.write('updating an experiment', function* () {
      const row = yield* this.lockExperiment(project, name)
      const next = {
        description: fields.description ?? row.description,
        owner: fields.owner === undefined ? row.owner : fields.owner,
        framework: fields.framework === undefined ? row.framework : fields.framework,
      }
      if (next.description === row.description && next.owner === row.owner && next.framework === row.framework) return this.toExperiment(row)
      yield* exec('UPDATE experiments SET description = ?, owner = ?, framework = ?, updated_at = ? WHERE id = ?', next.description, next.owner, next.framework, now(), row.id)
      yield* this.session.event('experiment.updated', {project: row.project_name, data: {experiment: row.name}})
      return this.toExperiment(yield* this.requireExperiment(project, name))
    })
  }

  // -------------------------------------------------------------------------------------------
  // runs

  /** A run by id, or by a unique prefix of at least 6 characters. */
  *resolveRun(ref: string): Task<RunRow> {
    if (typeof ref !== 'string' || !/^[0-9a-f]{6,32}$/.test(ref)) throw invalid(`invalid run id ${quote(ref)}: expected 6-32 lower-case hex characters`)
    const exact = yield* get<RunRow>(`${RUN_SELECT} WHERE r.uid = ?`, ref)
    if (exact) return exact
    const matches = yield* all<RunRow>(`${RUN_SELECT} WHERE r.uid >= ? AND r.uid < ? LIMIT 2`, ref, `${ref}g`)
    if (matches.length === 0) throw notFound(`run ${quote(ref)} not found`)
    if (matches.length > 1) throw invalid(`run id prefix ${quote(ref)} is ambiguous; give more characters`)
    return matches[0]
  }

  /** The run, locked for the rest of the write transaction and read after the lock is held (see SqlEngine.lockModel). */
  private *lockRun(ref: string): Task<RunRow> {
    const row = yield* this.resolveRun(ref)
    if (!this.driver.dialect.forUpdate) return row
    yield* get(`SELECT id FROM runs WHERE id = ?${this.driver.dialect.forUpdate}`, row.id)
    return yield* this.resolveRun(row.uid)
  }

  private *lockExperiment(project: string, name: string): Task<ExperimentRow> {
    const row = yield* this.requireExperiment(project, name)
    if (!this.driver.dialect.forUpdate) return row
    yield* get(`SELECT id FROM experiments WHERE id = ?${this.driver.dialect.forUpdate}`, row.id)
    return yield* this.requireExperiment(project, name)
  }

  /** The project a run belongs to (the server authorizes project-limited tokens with it). */
  async projectOfRun(ref: string): Promise<string | null> {
    try {
      return (
        await this.read(function* () {
          return yield* this.resolveRun(ref)
        })
      ).project_name
    } catch {
      return null
    }
  }

  async projectOfCheckpoint(uuid: string): Promise<string | null> {
    const row = await this.read(() => get<CheckpointRow>(`${CHECKPOINT_SELECT} WHERE c.uuid = ?`, uuid))
    return row?.project_name ?? null
  }

  private *lastValues(runIds: number[]): Task<Map<number, Record<string, number>>> {
    const out = new Map<number, Record<string, number>>(runIds.map((id) => [id, {}]))
    if (runIds.length === 0) return out
    for (let i = 0; i < runIds.length; i += 500) {
      const chunk = runIds.slice(i, i + 500)
      const rows = yield* all<{run_id: number; name: string; split: string; last_value: number}>(
        `SELECT run_id, name, split, last_value FROM metric_series WHERE run_id IN (${chunk.map(() => '?').join(', ')}) ORDER BY name, split`,
        ...chunk,
      )
      for (const row of rows) (out.get(row.run_id) as Record<string, number>)[metricKey(row.name, row.split)] = row.last_value
    }
    return out
  }

  private toRunSummary(row: RunRow, metrics: Record<string, number>): RunSummary {
    return {
      id: row.uid,
      project: row.project_name,
      experiment: row.experiment_name,
      name: row.name,
      status: row.status,
      params: parseJson(row.params),
      tags: parseJson(row.tags),
      metrics,
      author: row.author,
      created_at: row.created_at,
      start_time: row.start_time,
      end_time: row.end_time,
    }
  }

  private *toRun(row: RunRow): Task<Run> {
    const aggregates = new Map(
      (
        yield* all<{name: string; split: string; min: number; max: number; count: number}>(
          'SELECT name, split, MIN(value) AS min, MAX(value) AS max, COUNT(*) AS count FROM metrics WHERE run_id = ? GROUP BY name, split',
          row.id,
        )
      ).map((a) => [`${a.name}\u0000${a.split}`, a]),
    )
    const series = yield* all<{name: string; split: string; last_step: number; last_value: number}>(
      'SELECT name, split, last_step, last_value FROM metric_series WHERE run_id = ? ORDER BY name, split',
      row.id,
    )
    const summaries: MetricSummary[] = series.map((s) => {
      const a = aggregates.get(`${s.name}\u0000${s.split}`)
      return {name: s.name, split: s.split, last: s.last_value, last_step: s.last_step, min: a?.min ?? s.last_value, max: a?.max ?? s.last_value, count: a?.count ?? 0}
    })
    const metrics: Record<string, number> = {}
    for (const m of summaries) metrics[metricKey(m.name, m.split)] = m.last
    const versions = yield* all<{project: string; model: string; version: number}>(
      `SELECT p.name AS project, m.name AS model, v.number AS version FROM versions v JOIN models m ON m.id = v.model_id JOIN projects p ON p.id = m.project_id
       WHERE v.run_uid = ? ORDER BY v.id`,
      row.uid,
    )
    return {
      ...this.toRunSummary(row, metrics),
      source: storedSource(row.source),
      metric_summaries: summaries,
      datasets: yield* this.datasetsOf(row.id),
      checkpoints: (yield* all<CheckpointRow>(`${CHECKPOINT_SELECT} WHERE c.run_id = ? ORDER BY c.id`, row.id)).map((c) => this.toCheckpointSummary(c)),
      versions,
    }
  }

  async createRun(project: string, input: RunCreate): Promise<Run> {
    validateName('project', project)
    validateName('experiment', input.experiment)
    const name = input.name === undefined || input.name === null || input.name === '' ? null : validateName('model', input.name)
    const status = input.status ?? 'running'
    if (status !== 'queued' && status !== 'running') throw invalid('a run starts as queued or running')
    const params = validateMetadata(input.params, 'params')
    const tags = validateLabels(input.tags)
    const author = validateShortText(input.author, 'author')
    const source = {...emptySource(), ...(input.source ?? {})}
    validateMetadata(source, 'source')
    return this.write('starting a run', function* () {
      const projectRow = yield* this.session.ensureProject(project)
      const experiment = yield* this.ensureExperiment(projectRow, input.experiment)
      let uid = randomBytes(6).toString('hex')
      while (yield* get('SELECT 1 FROM runs WHERE uid = ?', uid)) uid = randomBytes(6).toString('hex')
      const time = now()
      yield* exec(
        `INSERT INTO runs (uid, experiment_id, name, name_key, status, params, tags, author, source, created_at, start_time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        uid,
        experiment.id,
        name,
        name ? nameKey(name) : null,
        status,
        JSON.stringify(params),
        JSON.stringify(tags),
        author,
        JSON.stringify(source),
        time,
        status === 'running' ? time : null,
      )
      yield* this.session.event('run.created', {project: projectRow.name, data: {run: uid, experiment: experiment.name, name, status}})
      return yield* this.toRun(yield* this.resolveRun(uid))
    })
  }

  async getRun(ref: string): Promise<Run> {
    return this.read(function* () {
      return yield* this.toRun(yield* this.resolveRun(ref))
    })
  }

  async listRuns(project: string, query: RunQuery = {}): Promise<Page<RunSummary>> {
    validateName('project', project)
    const page = validatePage(query)
    const limit = pageSql(page)
    const where: string[] = ['p.name_key = ?']
    const params: unknown[] = [nameKey(project)]
    if (query.experiment !== undefined) {
      where.push('e.name_key = ?')
      params.push(nameKey(validateName('experiment', query.experiment)))
    }
    if (query.status?.length) {
      where.push(`r.status IN (${query.status.map(() => '?').join(', ')})`)
      params.push(...query.status.map((s) => validateStatus(s)))
    }
    const dialect = this.driver.dialect
    for (const [key, value] of Object.entries(validateMetadata(query.params ?? {}, 'param filter'))) {
      const field = dialect.jsonField('r.params', key)
      if (value === null) where.push(`${field.sql} IS NULL`)
      else {
        const bound = dialect.jsonValue(value)
        where.push(`${field.sql} = ${bound.sql}`)
        params.push(...field.params, ...bound.params)
        continue
      }
      params.push(...field.params)
    }
    if (query.where) {
      const filter = compileFilter(query.where, RUN_FIELDS, dialect)
      where.push(filter.sql)
      params.push(...filter.params)
    }
    const order = query.order_by ?? 'desc'
    if (order !== 'asc' && order !== 'desc') throw invalid(`order must be asc or desc, not ${quote(order)}`)
    const sortBy = query.sort_by ?? 'created_at'
    const sort: SqlFragment | null = fieldSql(RUN_FIELDS, sortBy, dialect)
    if (!sort) throw invalid(`cannot sort runs by ${quote(sortBy)}: use ${RUN_FIELDS.describe}`)
    const clause = where.join(' AND ')
    return this.read(function* () {
      const total = yield* count(`SELECT COUNT(*) AS n FROM runs r JOIN experiments e ON e.id = r.experiment_id JOIN projects p ON p.id = e.project_id WHERE ${clause}`, ...params)
      // Rows without the sort field go last, whatever the order. created_at is never null: without
      // that term an experiment's newest runs are read from its index (runs_by_experiment) instead
      // of sorting all of them for one page (400 ms at 100k runs).
      const nullsLast = sortBy === 'created_at' ? '' : `(${sort.sql}) IS NULL, `
      const rows = yield* all<RunRow>(
        `${RUN_SELECT} WHERE ${clause} ORDER BY ${nullsLast}${sort.sql} ${order}, r.id ${order} ${limit.sql}`,
        ...params,
        ...(nullsLast ? sort.params : []),
        ...sort.params,
        ...limit.params,
      )
      const last = yield* this.lastValues(rows.map((r) => r.id))
      return {items: rows.map((r) => this.toRunSummary(r, last.get(r.id) ?? {})), total, ...page}
    })
  }

  async updateRun(ref: string, patch: RunPatch): Promise<Run> {
    const status = patch.status === undefined ? undefined : validateStatus(patch.status)
    const name = patch.name === undefined ? undefined : patch.name === null || patch.name === '' ? null : validateName('model', patch.name)
    const tags = patch.tags === undefined ? undefined : validateLabels(patch.tags)
    return this.write('updating a run', function* () {
      const row = yield* this.lockRun(ref)
      const changes: JsonObject = {}
      let startTime = row.start_time
      let endTime = row.end_time
      if (status !== undefined && status !== row.status) {
        if (FINISHED.includes(row.status)) throw conflict(`run ${row.uid} already finished (${row.status}); its status cannot change`)
        if (STATUS_ORDER[status] < STATUS_ORDER[row.status]) throw conflict(`run ${row.uid} is ${row.status}; it cannot go back to ${status}`)
        const time = now()
        if (status === 'running' || (FINISHED.includes(status) && !startTime)) startTime ??= time
        if (FINISHED.includes(status)) endTime = time
        changes.status = status
      }
      if (name !== undefined && name !== row.name) changes.name = name
      const nextTags = tags === undefined ? parseJson<Record<string, string>>(row.tags) : {...parseJson<Record<string, string>>(row.tags), ...tags}
      validateLabels(nextTags)
      if (JSON.stringify(nextTags) !== row.tags) changes.tags = nextTags
      if (Object.keys(changes).length === 0) return yield* this.toRun(row)
      yield* exec(
        'UPDATE runs SET status = ?, name = ?, name_key = ?, tags = ?, start_time = ?, end_time = ? WHERE id = ?',
        status ?? row.status,
        name === undefined ? row.name : name,
        name === undefined ? (row.name ? nameKey(row.name) : null) : name ? nameKey(name) : null,
        JSON.stringify(nextTags),
        startTime,
        endTime,
        row.id,
      )
      yield* this.session.event('run.updated', {
        project: row.project_name,
        data: {run: row.uid, experiment: row.experiment_name, changed: Object.keys(changes), ...(status ? {status} : {})},
      })
      return yield* this.toRun(yield* this.resolveRun(row.uid))
    })
  }

  async setRunParams(ref: string, params: JsonObject, options: {overwrite?: boolean} = {}): Promise<JsonObject> {
    if (!isJsonObject(params)) throw invalid('params must be an object')
    validateMetadata(params, 'params')
    return this.write('setting run params', function* () {
      const row = yield* this.lockRun(ref)
      const current = parseJson<JsonObject>(row.params)
      const changed: string[] = []
      for (const [key, value] of Object.entries(params)) {
        if (Object.hasOwn(current, key)) {
          if (JSON.stringify(current[key]) === JSON.stringify(value)) continue
          if (!options.overwrite) {
            throw conflict(`param ${quote(key)} of run ${row.uid} is already ${JSON.stringify(current[key])}; use --overwrite to change it to ${JSON.stringify(value)}`)
          }
        }
        current[key] = value
        changed.push(key)
      }
      validateMetadata(current, 'params')
      if (changed.length > 0) {
        yield* exec('UPDATE runs SET params = ? WHERE id = ?', JSON.stringify(current), row.id)
        yield* this.session.event('run.updated', {project: row.project_name, data: {run: row.uid, experiment: row.experiment_name, changed: ['params'], params: changed}})
      }
      return current
    })
  }

  async deleteRun(ref: string): Promise<{id: string; project: string; experiment: string}> {
    return this.write('deleting a run', function* () {
      const row = yield* this.lockRun(ref)
      // Its points first: they have no foreign key to cascade (see holdRun).
      yield* exec('DELETE FROM metrics WHERE run_id = ?', row.id)
      yield* exec('DELETE FROM runs WHERE id = ?', row.id)
      yield* this.session.event('run.deleted', {project: row.project_name, data: {run: row.uid, experiment: row.experiment_name}})
      return {id: row.uid, project: row.project_name, experiment: row.experiment_name}
    })
  }

  // -------------------------------------------------------------------------------------------
  // metric series

  async logMetrics(ref: string, points: MetricPointsInput, options: MetricLogOptions = {}): Promise<{count: number}> {
    const run = await this.read(function* () {
      return yield* this.resolveRun(ref)
    })
    // Refused before the first point is read (a file, stdin, a request body) ...
    checkTakesPoints(run, options)
    let batch: MetricPointInput[] = []
    let count = 0
    for await (const item of points) {
      if (Array.isArray(item)) for (const point of item as readonly MetricPointInput[]) batch.push(point)
      else batch.push(item as MetricPointInput)
      if (batch.length >= BATCH) {
        count += await this.writeBatch(run, batch, count, options)
        batch = []
      }
    }
    if (batch.length > 0) count += await this.writeBatch(run, batch, count, options)
    return {count}
  }

  /**
   * Points as series chunks (import, copy): a run's own history, so taken even after its end (no
   * finished-run check); each chunk checked in tight loops, no object per point;
   * chunks gathered into transactions of about SERIES_BATCH points.
   */
  async logMetricSeries(ref: string, chunks: AsyncIterable<MetricSeriesChunk>): Promise<{count: number}> {
    const run = await this.read(function* () {
      return yield* this.resolveRun(ref)
    })
    const times = new SeriesTimes()
    let batch: MetricSeriesChunk[] = []
    let size = 0
    let count = 0
    for await (const chunk of chunks) {
      const checked = validateSeriesChunk(chunk, count + size, times)
      if (checked.steps.length === 0) continue
      batch.push(checked)
      size += checked.steps.length
      if (size >= SERIES_BATCH) {
        count += await this.writeSeries(run, batch)
        batch = []
        size = 0
      }
    }
    if (size > 0) count += await this.writeSeries(run, batch)
    return {count}
  }

  /**
   * Checked chunks in one transaction. A chunk's steps above its series' last are new rows
   * (plain INSERTs); those at or below it (a repeated import) are upserts with their times, so
   * a point logged again changes nothing.
   */
  private writeSeries(run: RunRow, chunks: MetricSeriesChunk[]): Promise<number> {
    const columns = this.driver.dialect.columnRows !== null
    const perStatement = columns ? this.rowsPerStatement : SERIES_ROWS_PER_VALUES
    return this.write('logging metrics', function* () {
      yield* this.holdRun(run)
      let count = 0
      for (const c of chunks) {
        const known = yield* get<{last_step: number}>('SELECT last_step FROM metric_series WHERE run_id = ? AND name = ? AND split = ?', run.id, c.name, c.split)
        const last = known ? Number(known.last_step) : -1
        const n = c.steps.length
        let fresh = 0
        while (fresh < n && c.steps[fresh] <= last) fresh++
        for (const [from, to, upsert] of [[0, fresh, true], [fresh, n, false]] as const) {
          for (let i = from; i < to; i += perStatement) {
            const end = Math.min(to, i + perStatement)
            if (!upsert && !columns) {
              // New rows: the run, name and split bound once, three values a row.
              const flat = new Array<unknown>(3 + (end - i) * 3)
              flat[0] = run.id
              flat[1] = c.name
              flat[2] = c.split
              for (let j = i, k = 3; j < end; j++, k += 3) {
                flat[k] = c.steps[j]
                flat[k + 1] = c.values[j]
                flat[k + 2] = c.times[j]
              }
              yield* exec(this.newSeriesRows(end - i), ...flat)
              continue
            }
            const flat = new Array<unknown>((end - i) * 6)
            for (let j = i, k = 0; j < end; j++, k += 6) {
              flat[k] = run.id
              flat[k + 1] = c.name
              flat[k + 2] = c.split
              flat[k + 3] = c.steps[j]
              flat[k + 4] = c.values[j]
              flat[k + 5] = c.times[j]
            }
            const {sql, params} = this.rowsStatement(upsert ? 'points, timed' : 'points, new', POINTS.insert, POINTS.types, upsert ? POINTS.upsert(true) : '', flat)
            yield* exec(sql, ...params)
          }
        }
        const {sql, params} = this.rowsStatement('series', SERIES.insert, SERIES.types, SERIES.upsert, [run.id, c.name, c.split, c.steps[n - 1], c.values[n - 1]])
        yield* exec(sql, ...params)
        count += n
      }
      return count
    })
  }

  /**
   * An INSERT of `rows` new points of one series binding three values a row, the run, name and
   * split once: SQLite's caller spends as much time binding values as SQLite spends inserting
   * them, and this binds half as many (1M points: 2.3 s -> 1.7 s here).
   */
  private newSeriesRows(rows: number): string {
    const key = `series rows ${rows}`
    let sql = this.rowStatements.get(key)
    if (!sql) {
      sql = `${POINTS.insert} SELECT c.run_id, c.name, c.split, v.column1, v.column2, v.column3
        FROM (SELECT ? AS run_id, ? AS name, ? AS split) c, (VALUES ${Array.from({length: rows}, () => '(?, ?, ?)').join(', ')}) v`
      this.rowStatements.set(key, sql)
    }
    return sql
  }

  /**
   * A run's points as MetricSeriesChunk JSON texts (export), each series from its start in
   * chunks of at most `max` points. SQLite writes the JSON itself (its numbers are the shortest
   * text that reads back as the same double), so no row becomes a JavaScript value; other
   * databases' pages are put together here.
   */
  async *readMetricSeriesJson(ref: string, max: number): AsyncIterable<{json: string; points: number}> {
    if (!Number.isSafeInteger(max) || max < 1) throw invalid('max must be a whole number >= 1')
    const run = await this.read(function* () {
      return yield* this.resolveRun(ref)
    })
    const sqlite = this.driver.dialect.name === 'sqlite'
    let after: {name: string; split: string} | null = null
    for (;;) {
      // The next series: another split of the same name, else the next name (two seeks in the
      // key; a row-value comparison on (name, split) would scan the rest of the name's rows).
      const from: {name: string; split: string} | null = after
      const series: {name: string; split: string} | undefined = await this.read(function* (): Task<{name: string; split: string} | undefined> {
        if (!from) return yield* get<{name: string; split: string}>('SELECT name, split FROM metrics WHERE run_id = ? ORDER BY name, split LIMIT 1', run.id)
        return (
          (yield* get<{name: string; split: string}>('SELECT name, split FROM metrics WHERE run_id = ? AND name = ? AND split > ? ORDER BY split LIMIT 1', run.id, from.name, from.split)) ??
          (yield* get<{name: string; split: string}>('SELECT name, split FROM metrics WHERE run_id = ? AND name > ? ORDER BY name, split LIMIT 1', run.id, from.name))
        )
      })
      if (!series) return
      const {name, split} = series
      let step = -1
      for (;;) {
        const since = step
        let text: string
        let n: number
        if (sqlite) {
          // The subquery's order is the arrays' (it is not flattened: it has a LIMIT).
          const row = await this.read(() =>
            get<{chunk: string; n: number; last: number | null}>(
              `SELECT json_object('name', ?, 'split', ?, 'steps', json_group_array(step), 'values', json_group_array(value), 'times', json_group_array(time)) AS chunk,
                 COUNT(*) AS n, MAX(step) AS last
               FROM (SELECT step, value, time FROM metrics WHERE run_id = ? AND name = ? AND split = ? AND step > ? ORDER BY step LIMIT ?)`,
              name, split, run.id, name, split, since, max,
            ),
          )
          n = Number(row?.n ?? 0)
          if (n === 0) break
          text = (row as {chunk: string}).chunk
          step = Number((row as {last: number}).last)
        } else {
          const rows = await this.read(() =>
            all<{step: number; value: number; time: string}>('SELECT step, value, time FROM metrics WHERE run_id = ? AND name = ? AND split = ? AND step > ? ORDER BY step LIMIT ?', run.id, name, split, since, max),
          )
          n = rows.length
          if (n === 0) break
          text = JSON.stringify({name, split, steps: rows.map((r) => Number(r.step)), values: rows.map((r) => Number(r.value)), times: rows.map((r) => r.time)})
          step = Number(rows[n - 1].step)
        }
        yield {json: text, points: n}
        if (n < max) break
      }
      after = {name, split}
    }
  }

  /** The most rows one rowsStatement may carry. */
  private get rowsPerStatement(): number {
    return this.driver.dialect.columnRows?.maxRows ?? ROWS_PER_VALUES
  }

  /**
   * One statement inserting many rows at once (binding values row by row costs more than the
   * database's work per row): `insert` (INSERT INTO table (columns)), the rows, then `tail`.
   * `flat` holds the rows one after another, `types.length` values each; they are bound as one
   * array per column where the dialect takes arrays, else as VALUES, the text cached per row
   * count (so a full statement's is reused).
   */
  private rowsStatement(kind: string, insert: string, types: readonly ColumnType[], tail: string, flat: unknown[]): {sql: string; params: unknown[]} {
    const width = types.length
    const rows = flat.length / width
    const columnRows = this.driver.dialect.columnRows
    const key = columnRows ? kind : `${kind} ${rows}`
    let sql = this.rowStatements.get(key)
    if (!sql) {
      const row = `(${types.map(() => '?').join(', ')})`
      sql = `${insert} ${columnRows ? columnRows.select(types) : `VALUES ${Array.from({length: rows}, () => row).join(', ')}`}\n${tail}`
      this.rowStatements.set(key, sql)
    }
    return {sql, params: columnRows ? columnRows.params(types, flat) : flat}
  }

  /**
   * The run that a transaction's metric points belong to, held until the transaction ends: a
   * deleteRun waits for it, then deletes the points with the run. Metric points have no foreign
   * key (PostgreSQL migration 5): its check cost a row lock per point.
   */
  private *holdRun(run: RunRow): Task<{status: RunStatus}> {
    const current = yield* get<{status: RunStatus}>(`SELECT status FROM runs WHERE id = ?${this.driver.dialect.forKeyShare}`, run.id)
    if (!current) throw notFound(`run ${quote(run.uid)} not found`)
    return current
  }

  /** One transaction per batch: points upserted, each touched series' last point kept. */
  private writeBatch(run: RunRow, batch: MetricPointInput[], before: number, options: MetricLogOptions): Promise<number> {
    const time = now()
    // Checked before the write lock is taken; into flat arrays (a million points make a lot of
    // garbage otherwise), names and splits checked once per run of equal ones.
    const count = batch.length
    const names = new Array<string>(count)
    const splits = new Array<string>(count)
    const steps = new Array<number | undefined>(count)
    const values = new Array<number>(count)
    const times = new Array<string>(count)
    const explicits = new Array<boolean>(count)
    // The names of the batch's series, to read their last steps in one query.
    const seriesNames = new Set<string>()
    let lastName: unknown
    let lastSplit: unknown
    let name = ''
    let split = ''
    const where = (i: number) => `metric point ${before + i + 1}`
    for (let i = 0; i < count; i++) {
      const p = batch[i]
      if (!p || typeof p !== 'object') throw invalid(`${where(i)} must be an object with name and value`)
      if (p.name !== lastName || p.split !== lastSplit || i === 0) {
        try {
          name = validateMetricName(p.name)
          split = validateSplit(p.split)
        } catch (error) {
          throw invalid(`${where(i)}: ${(error as Error).message}`)
        }
        lastName = p.name
        lastSplit = p.split
        seriesNames.add(name)
      }
      const problem = metricPointProblem(p.value, p.step)
      if (problem) throw invalid(`${where(i)} (${name}): ${problem}`)
      const explicit = p.time !== undefined && p.time !== null
      names[i] = name
      splits[i] = split
      steps[i] = p.step ?? undefined
      values[i] = p.value
      times[i] = explicit ? validateTime(p.time, () => `${where(i)} time`) : time
      explicits[i] = explicit
    }
    const perStatement = this.rowsPerStatement
    return this.write('logging metrics', function* () {
      // ... and in every batch's transaction: the run may have finished (or gone) since.
      const current = yield* this.holdRun(run)
      checkTakesPoints({uid: run.uid, status: current.status}, options)
      // The last step each series has so far (the names' other splits come along; they are few).
      const lastSteps = new Map<string, number>()
      const known = yield* all<{name: string; split: string; last_step: number}>(
        `SELECT name, split, last_step FROM metric_series WHERE run_id = ? AND ${this.driver.dialect.inJsonStrings('name')}`,
        run.id,
        JSON.stringify([...seriesNames]),
      )
      for (const row of known) lastSteps.set(`${row.name}\u0000${row.split}`, Number(row.last_step))
      const series = new Map<string, {name: string; split: string; lastStep: number; step: number; value: number; statement: number; statementMax: number}>()
      // A point above every step of its series, stored or earlier in the batch, is a new row
      // (no row is above a series' last step): plain INSERTs take those, perStatement at a
      // time, which cost the database less than upserts. A concurrent writer's same new row
      // makes one fail (a unique key), and the driver runs the batch again. No earlier point
      // names a new row, so their statements go before the upserts queued so far.
      let fresh: unknown[] = []
      const flushFresh = function* (this: Tracking): Task<void> {
        if (fresh.length === 0) return
        const points = fresh
        fresh = []
        const {sql, params} = this.rowsStatement('points, new', POINTS.insert, POINTS.types, '', points)
        yield* exec(sql, ...params)
      }.bind(this)
      // The other points are upserts: runs of points with and without a given time, in order,
      // perStatement at a time, after the new rows queued before them.
      let pending: unknown[] = []
      let pendingExplicit = false
      // One statement may not name a (name, split, step) twice (PostgreSQL refuses to update a
      // row twice in one statement): a step not above its series' highest in the statement
      // (a repeat, or out of order) goes into the next one, so the last point wins.
      let statement = 0
      const flush = function* (this: Tracking): Task<void> {
        const rows = pending.length / 6
        if (rows === 0) return
        yield* flushFresh()
        const points = pending
        pending = []
        statement++
        const {sql, params} = this.rowsStatement(pendingExplicit ? 'points, timed' : 'points', POINTS.insert, POINTS.types, POINTS.upsert(pendingExplicit), points)
        yield* exec(sql, ...params)
      }.bind(this)
      for (let i = 0; i < count; i++) {
        const name = names[i]
        const split = splits[i]
        const step = steps[i]
        const value = values[i]
        const at = times[i]
        const explicit = explicits[i]
        const key = `${name}\u0000${split}`
        let s = series.get(key)
        if (!s) {
          s = {name, split, lastStep: lastSteps.get(key) ?? -1, step: -1, value: 0, statement: -1, statementMax: -1}
          series.set(key, s)
        }
        const top = Math.max(s.lastStep, s.step)
        const atStep = step ?? top + 1
        if (atStep > top) {
          fresh.push(run.id, name, split, atStep, value, at)
          if (fresh.length === perStatement * 6) yield* flushFresh()
        } else {
          if (explicit !== pendingExplicit || (s.statement === statement && atStep <= s.statementMax)) {
            yield* flush()
            pendingExplicit = explicit
          }
          if (s.statement !== statement) {
            s.statement = statement
            s.statementMax = atStep
          } else s.statementMax = Math.max(s.statementMax, atStep)
          pending.push(run.id, name, split, atStep, value, at)
          if (pending.length === perStatement * 6) yield* flush()
        }
        if (atStep >= s.step) {
          s.step = atStep
          s.value = value
        }
      }
      yield* flush()
      yield* flushFresh()
      const lasts = [...series.values()].flatMap((s) => [run.id, s.name, s.split, s.step, s.value])
      for (let i = 0; i < lasts.length; i += perStatement * 5) {
        const {sql, params} = this.rowsStatement('series', SERIES.insert, SERIES.types, SERIES.upsert, lasts.slice(i, i + perStatement * 5))
        yield* exec(sql, ...params)
      }
      return count
    })
  }

  async *readMetrics(ref: string, query: MetricQuery = {}): AsyncIterable<MetricPoint> {
    const run = await this.read(function* () {
      return yield* this.resolveRun(ref)
    })
    const name = query.name === undefined ? undefined : validateMetricName(query.name)
    const split = query.split === undefined ? undefined : validateSplit(query.split)
    const filters = ['run_id = ?']
    const base: unknown[] = [run.id]
    if (name !== undefined) {
      filters.push('name = ?')
      base.push(name)
    }
    if (split !== undefined) {
      filters.push('split = ?')
      base.push(split)
    }
    // Pages, not one open cursor: the connection stays free for other requests between them.
    let after: [string, string, number] | null = null
    for (;;) {
      const cursor: string = after ? ' AND (name, split, step) > (?, ?, ?)' : ''
      const page: MetricPoint[] = await this.read(() =>
        all<MetricPoint>(`SELECT name, split, step, value, time FROM metrics WHERE ${filters.join(' AND ')}${cursor} ORDER BY name, split, step LIMIT ${BATCH}`, ...base, ...(after ?? [])),
      )
      for (const point of page) yield point
      if (page.length < BATCH) return
      const last = page[page.length - 1]
      after = [last.name, last.split, last.step]
    }
  }

  async downsampleMetrics(ref: string, metric: string, query: MetricDownsampleQuery = {}): Promise<MetricDownsample> {
    const name = validateMetricName(metric)
    const x = query.x ?? 'step'
    if (x !== 'step' && x !== 'time') throw invalid(`x must be step or time, not ${quote(x)}`)
    const buckets = query.buckets ?? DOWNSAMPLE_BUCKETS
    if (!Number.isSafeInteger(buckets) || buckets < 1 || buckets > MAX_DOWNSAMPLE_BUCKETS) {
      throw invalid(`buckets must be a whole number from 1 to ${MAX_DOWNSAMPLE_BUCKETS}`)
    }
    for (const [what, value] of [['from', query.from], ['to', query.to]] as const) {
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) throw invalid(`${what} must be a whole number >= 0`)
    }
    if (query.from !== undefined && query.to !== undefined && query.from > query.to) throw invalid('from must not be after to')
    const requested = query.splits === undefined ? undefined : [...new Set(query.splits.map((s) => validateSplit(s)))]
    // Times are stored as toISOString() text, so text order is time order: a time range is a text range.
    const iso = (ms: number | undefined, edge: string) => (ms === undefined ? edge : new Date(Math.min(ms, MAX_TIME_MS)).toISOString())
    const timeRange = x === 'time' ? [iso(query.from, ''), iso(query.to, '~')] : []
    const inTime = x === 'time' ? ' AND m.time >= ? AND m.time <= ?' : ''
    const stepFrom = x === 'step' ? (query.from ?? 0) : 0
    const stepTo = x === 'step' ? (query.to ?? Number.MAX_SAFE_INTEGER) : Number.MAX_SAFE_INTEGER
    const series = await this.read(function* () {
      const run = yield* this.resolveRun(ref)
      const splits =
        requested ?? (yield* all<{split: string}>('SELECT split FROM metric_series WHERE run_id = ? AND name = ? ORDER BY split', run.id, name)).map((s) => s.split)
      const out: DownsampledSeries[] = []
      for (const split of splits) {
        // The series' points in range: a range of its key (step), and of time text when x is time.
        const where = `m.run_id = ? AND m.name = ? AND m.split = ? AND m.step >= CAST(? AS BIGINT) AND m.step <= CAST(? AS BIGINT)${inTime}`
        // Three subqueries, not one scan: MIN and MAX of the key alone are index seeks, and the
        // count alone scans faster (a 1M-point series: 80 ms instead of 310 ms in SQLite).
        const range = [run.id, name, split, stepFrom, stepTo, ...timeRange]
        const extent = yield* get<{n: number; lo: number | null; hi: number | null}>(
          `SELECT (SELECT COUNT(*) FROM metrics m WHERE ${where}) AS n, (SELECT MIN(m.step) FROM metrics m WHERE ${where}) AS lo, (SELECT MAX(m.step) FROM metrics m WHERE ${where}) AS hi`,
          ...range, ...range, ...range,
        )
        const n = Number(extent?.n ?? 0)
        let points: {step: number; time: string; value: number}[]
        if (n <= 4 * buckets || extent?.lo == null || extent.hi == null) {
          points = yield* all(`SELECT m.step, m.time, m.value FROM metrics m WHERE ${where} ORDER BY m.step`, run.id, name, split, stepFrom, stepTo, ...timeRange)
        } else {
          // Buckets are ranges of steps (the key's order, so each is an index range, and no sort
          // of the whole range is needed); of each, its first, last, lowest and highest point.
          const lo = Number(extent.lo)
          const width = Math.ceil((Number(extent.hi) - lo + 1) / buckets)
          const count = Math.ceil((Number(extent.hi) - lo + 1) / width)
          const inBucket = `m.run_id = ? AND m.name = ? AND m.split = ? AND m.step >= k.lo AND m.step <= k.hi AND m.step <= CAST(? AS BIGINT)${inTime}`
          const key = [run.id, name, split]
          const bucketed = [...key, Number(extent.hi), ...timeRange]
          const pick = (order: string) => `(SELECT m.step FROM metrics m WHERE ${inBucket} ORDER BY ${order} LIMIT 1)`
          points = yield* all(
            `WITH RECURSIVE b(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM b WHERE i < CAST(? AS BIGINT) - 1),
             k AS (SELECT CAST(? AS BIGINT) + i * CAST(? AS BIGINT) AS lo, CAST(? AS BIGINT) + i * CAST(? AS BIGINT) + CAST(? AS BIGINT) - 1 AS hi FROM b),
             p AS (SELECT ${pick('m.step')} AS s1, ${pick('m.step DESC')} AS s2, ${pick('m.value, m.step')} AS s3, ${pick('m.value DESC, m.step')} AS s4 FROM k)
             SELECT m.step, m.time, m.value FROM metrics m
             WHERE m.run_id = ? AND m.name = ? AND m.split = ? AND m.step IN (SELECT s1 FROM p UNION SELECT s2 FROM p UNION SELECT s3 FROM p UNION SELECT s4 FROM p)
             ORDER BY m.step`,
            count, lo, width, lo, width, width,
            ...bucketed, ...bucketed, ...bucketed, ...bucketed,
            ...key,
          )
        }
        out.push({
          split,
          count: n,
          exact: points.length === n,
          step: points.map((p) => Number(p.step)),
          time: points.map((p) => Date.parse(p.time)),
          value: points.map((p) => Number(p.value)),
        })
      }
      return out
    })
    return {run: ref, name, x, buckets, series}
  }

  // -------------------------------------------------------------------------------------------
  // datasets

  private *datasetsOf(runId: number): Task<Dataset[]> {
    return (yield* all<Dataset & {metadata: string}>('SELECT tag, uri, sha256, size, metadata, updated_at FROM datasets WHERE run_id = ? ORDER BY tag', runId)).map((d) => ({
      ...d,
      metadata: parseJson<JsonObject>(d.metadata as unknown as string),
    }))
  }

  async setDataset(ref: string, input: DatasetInput): Promise<Dataset> {
    const d = validateDatasetInput(input)
    return this.write('recording a dataset', function* () {
      const run = yield* this.resolveRun(ref)
      const time = now()
      yield* exec(
        `INSERT INTO datasets (run_id, tag, uri, sha256, size, metadata, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, tag) DO UPDATE SET uri = excluded.uri, sha256 = excluded.sha256, size = excluded.size, metadata = excluded.metadata, updated_at = excluded.updated_at`,
        run.id,
        d.tag,
        d.uri,
        d.sha256,
        d.size,
        JSON.stringify(d.metadata),
        time,
      )
      yield* this.session.event('run.updated', {project: run.project_name, data: {run: run.uid, experiment: run.experiment_name, changed: ['datasets'], dataset: d.tag}})
      return (yield* this.datasetsOf(run.id)).find((x) => x.tag === d.tag) as Dataset
    })
  }

  // -------------------------------------------------------------------------------------------
  // checkpoints

  private toCheckpointSummary(row: CheckpointRow): CheckpointSummary {
    return {
      uuid: row.uuid,
      run_id: row.run_uid,
      project: row.project_name,
      experiment: row.experiment_name,
      step: row.step,
      metrics: parseJson(row.metrics),
      metadata: parseJson(row.metadata),
      size: row.size,
      file_count: row.file_count,
      created_at: row.created_at,
    }
  }

  private *checkpointFiles(id: number): Task<FileEntry[]> {
    return yield* all<FileEntry>('SELECT path, size, sha256, mode FROM checkpoint_files WHERE checkpoint_id = ? ORDER BY path', id)
  }

  *requireCheckpoint(uuid: string): Task<{row: CheckpointRow; checkpoint: Checkpoint}> {
    validateUuid(uuid)
    const row = yield* get<CheckpointRow>(`${CHECKPOINT_SELECT} WHERE c.uuid = ?`, uuid)
    // A project-limited caller does not see other projects' checkpoints (nor, so, their files).
    const scope = this.session.projectScope
    if (!row || (scope !== null && nameKey(scope) !== nameKey(row.project_name))) throw notFound(`checkpoint ${uuid} not found`)
    return {row, checkpoint: {...this.toCheckpointSummary(row), files: yield* this.checkpointFiles(row.id)}}
  }

  async createCheckpoint(ref: string, input: CheckpointCreate): Promise<Checkpoint> {
    const files = validateFileEntries(input.files, 'files')
    if (files.length === 0) throw invalid('a checkpoint needs at least one file')
    const step = input.step === undefined || input.step === null ? null : input.step
    if (step !== null && (!Number.isSafeInteger(step) || step < 0)) throw invalid('step must be a whole number >= 0')
    const metrics = validateMetrics(input.metrics)
    const metadata = validateMetadata(input.metadata)
    const requestId = input.request_id === undefined ? null : validateRequestId(input.request_id)
    const size = files.reduce((sum, f) => sum + f.size, 0)
    await this.checkStored(files)
    return this.write('committing a checkpoint', function* () {
      const run = yield* this.resolveRun(ref)
      if (requestId) {
        const earlier = yield* get<{uuid: string}>('SELECT uuid FROM checkpoints WHERE run_id = ? AND request_id = ?', run.id, requestId)
        if (earlier) return (yield* this.requireCheckpoint(earlier.uuid)).checkpoint
      }
      const time = now()
      for (const f of files) yield* this.session.claimBlob(f.sha256, f.size, time, run.project_name)
      const uuid = randomUUID()
      const {id} = (yield* get<{id: number}>(
        'INSERT INTO checkpoints (uuid, run_id, step, metrics, metadata, size, file_count, created_at, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
        uuid,
        run.id,
        step,
        JSON.stringify(metrics),
        JSON.stringify(metadata),
        size,
        files.length,
        time,
        requestId,
      )) as {id: number}
      for (const f of files) yield* exec('INSERT INTO checkpoint_files (checkpoint_id, path, size, sha256, mode) VALUES (?, ?, ?, ?, ?)', id, f.path, f.size, f.sha256, f.mode)
      yield* this.session.event('checkpoint.created', {project: run.project_name, data: {run: run.uid, experiment: run.experiment_name, checkpoint: uuid, step}})
      return (yield* this.requireCheckpoint(uuid)).checkpoint
    })
  }

  async getCheckpoint(uuid: string): Promise<Checkpoint> {
    return this.read(function* () {
      return (yield* this.requireCheckpoint(uuid)).checkpoint
    })
  }

  async listCheckpoints(ref: string): Promise<CheckpointSummary[]> {
    return this.read(function* () {
      const run = yield* this.resolveRun(ref)
      return (yield* all<CheckpointRow>(`${CHECKPOINT_SELECT} WHERE c.run_id = ? ORDER BY c.id`, run.id)).map((c) => this.toCheckpointSummary(c))
    })
  }

  // -------------------------------------------------------------------------------------------
  // lineage

  /**
   * What a version made from this run records, as of now: the run, its params, each series'
   * last value, and its datasets (with `extra` ones added, the same tag replacing).
   */
  *lineageOf(run: RunRow, checkpoint: {uuid: string; step: number | null} | null, extra: DatasetInput[] = []): Task<Lineage> {
    const datasets = new Map((yield* this.datasetsOf(run.id)).map((d) => [d.tag, d]))
    const time = now()
    for (const d of extra.map((x) => validateDatasetInput(x))) {
      datasets.set(d.tag, {tag: d.tag, uri: d.uri, sha256: d.sha256, size: d.size, metadata: d.metadata, updated_at: time})
    }
    return {
      run: {id: run.uid, name: run.name, experiment: run.experiment_name, status: run.status},
      checkpoint,
      params: parseJson(run.params),
      metrics: (yield* this.lastValues([run.id])).get(run.id) ?? {},
      datasets: [...datasets.values()].sort((a, b) => (a.tag < b.tag ? -1 : 1)),
    }
  }

  /** A lineage without a run: only datasets given with the push. */
  datasetsOnlyLineage(extra: DatasetInput[]): Lineage {
    const time = now()
    return {
      run: null,
      checkpoint: null,
      params: {},
      metrics: {},
      datasets: extra
        .map((x) => validateDatasetInput(x))
        .map((d) => ({tag: d.tag, uri: d.uri, sha256: d.sha256, size: d.size, metadata: d.metadata, updated_at: time}))
        .sort((a, b) => (a.tag < b.tag ? -1 : 1)),
    }
  }

  checkDatasetsLimit(extra: DatasetInput[] | undefined): void {
    if ((extra?.length ?? 0) > LIMITS.labelCount) throw invalid(`too many datasets (at most ${LIMITS.labelCount})`)
  }
}
