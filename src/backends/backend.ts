/**
 * The one contract every backend implements: the local engine (SQLite + blob directory) and the
 * remote client (HTTP to a modelreg server) alike. Entity shapes here are also the wire shapes
 * and the `--json` shapes, so their fields are snake_case and every field is always present.
 *
 * Every method is async, takes plain data and returns plain data, so that an HTTP
 * implementation is a mechanical translation. Validation lives in validation.ts and is applied
 * by the implementation that owns the data (the local engine, also behind the server).
 */
import type {Readable} from 'node:stream'
import type {FileRange} from './blobs.js'
import type {StreamHasher} from './stream-hasher.js'

export type Json = null | boolean | number | string | Json[] | {[key: string]: Json}
export type JsonObject = {[key: string]: Json}

// ---------------------------------------------------------------------------------------------
// Paging

export interface PageQuery {
  limit?: number
  offset?: number
}

export interface Page<T> {
  items: T[]
  /** Number of items matching the query, ignoring limit and offset. */
  total: number
  limit: number
  offset: number
}

export const DEFAULT_PAGE_LIMIT = 100
export const MAX_PAGE_LIMIT = 10_000

// ---------------------------------------------------------------------------------------------
// Entities

export interface Project {
  name: string
  description: string
  created_at: string
  model_count: number
}

export interface Model {
  project: string
  name: string
  description: string
  owner: string | null
  task: string | null
  metadata: JsonObject
  labels: Record<string, string>
  created_at: string
  updated_at: string
  /** Live versions. */
  version_count: number
  /** Highest live version number, or null when the model has none. */
  latest_version: number | null
}

export interface FileEntry {
  /** Relative POSIX path inside the version (see validation.validateFilePath). */
  path: string
  size: number
  /** Lower-case hex sha256 of the content. */
  sha256: string
  /** Permission bits: 0o644 or 0o755. */
  mode: number
}

export interface GitSource {
  commit: string
  branch: string | null
  dirty: boolean
  remote: string | null
}

export interface CiSource {
  provider: string
  job: string | null
  run_id: string | null
  url: string | null
}

export interface SourceInfo {
  host: string | null
  git: GitSource | null
  ci: CiSource | null
}

export interface VersionSummary {
  project: string
  model: string
  version: number
  tags: string[]
  comment: string
  author: string
  created_at: string
  metadata: JsonObject
  metrics: Record<string, number>
  framework: string | null
  format: string | null
  /** Total bytes of the model files (attachments excluded). */
  size: number
  file_count: number
  attachment_count: number
  source: SourceInfo
}

export interface Version extends VersionSummary {
  files: FileEntry[]
  attachments: FileEntry[]
  /** Where the version came from, as it was when the version was made (null: pushed without --run). */
  lineage: Lineage | null
}

/**
 * A snapshot taken when the version is made, so it survives the run being deleted later.
 * Metric keys are `name` for a series without split and `name[split]` for one with.
 */
export interface Lineage {
  run: {id: string; name: string | null; experiment: string; status: RunStatus} | null
  checkpoint: {uuid: string; step: number | null} | null
  params: JsonObject
  /** Each series' last value when the version was made. */
  metrics: Record<string, number>
  datasets: Dataset[]
}

export interface Tag {
  tag: string
  version: number
  updated_at: string
}

export interface TagMove {
  project: string
  model: string
  tag: string
  version: number
  /** The version the tag pointed at before, or null when it is new. */
  previous: number | null
}

export interface TagOptions {
  expect_previous?: number | null
}

export interface TagRemoval {
  project: string
  model: string
  tag: string
  version: number
}

export type EventType =
  | 'project.created'
  | 'model.created'
  | 'model.updated'
  | 'model.deleted'
  | 'version.created'
  | 'version.deleted'
  | 'tag.set'
  | 'tag.removed'
  | 'experiment.created'
  | 'experiment.updated'
  | 'run.created'
  | 'run.updated'
  | 'run.deleted'
  | 'checkpoint.created'

export const EVENT_TYPES: readonly EventType[] = [
  'project.created',
  'model.created',
  'model.updated',
  'model.deleted',
  'version.created',
  'version.deleted',
  'tag.set',
  'tag.removed',
  'experiment.created',
  'experiment.updated',
  'run.created',
  'run.updated',
  'run.deleted',
  'checkpoint.created',
]

export interface RegistryEvent {
  id: number
  time: string
  type: EventType
  project: string
  model: string | null
  version: number | null
  tag: string | null
  actor: string
  data: JsonObject
}

/** One line of `models:log`: a push, a tag move or removal, or a deletion. */
export interface LogEntry {
  id: number
  time: string
  type: EventType
  project: string
  model: string
  version: number | null
  tag: string | null
  /** For tag moves: the version the tag left. */
  previous: number | null
  /** Tags the version carries now (empty when the version is gone). */
  tags: string[]
  author: string
  comment: string
}

export interface DeleteResult {
  project: string
  model: string
  /** Version numbers removed. */
  versions: number[]
  /** Whether the whole model (not only a version) was removed. */
  model_deleted: boolean
}

// ---------------------------------------------------------------------------------------------
// Inputs

export const MODEL_SORT_FIELDS = ['name', 'description', 'creation_time', 'last_updated_time'] as const
export type ModelSortField = (typeof MODEL_SORT_FIELDS)[number]
export type SortOrder = 'asc' | 'desc'

export interface ModelQuery extends PageQuery {
  sort_by?: ModelSortField
  order_by?: SortOrder
  /** Case-insensitive substring of the name. */
  name?: string
  /** Case-insensitive substring of the description. */
  description?: string
  /** Every label given must match exactly. */
  labels?: Record<string, string>
}

export interface ModelCreate {
  description?: string
  owner?: string | null
  task?: string | null
  metadata?: JsonObject
  labels?: Record<string, string>
}

export interface ModelPatch {
  description?: string
  owner?: string | null
  task?: string | null
  /** Merged into the existing metadata at the top level (Determined's add_metadata). */
  metadata?: JsonObject
  /** Top-level metadata keys to remove (Determined's remove_metadata). */
  unset?: string[]
  /** Labels to add or change. */
  labels?: Record<string, string>
  /** Label keys to remove. */
  unlabel?: string[]
}

export interface VersionCreate {
  files: FileEntry[]
  attachments?: FileEntry[]
  comment?: string
  author: string
  metadata?: JsonObject
  metrics?: Record<string, number>
  framework?: string | null
  format?: string | null
  /** Tags set on the new version in the same transaction. */
  tags?: string[]
  source?: SourceInfo
  /**
   * A client-chosen id (16-64 characters of [A-Za-z0-9_-]) that makes the call idempotent: a
   * second call with the same id for the same model returns the version the first one made
   * instead of making another. Lets a client retry a push whose answer it never received.
   */
  request_id?: string
  /** Link the version to a run: its params, datasets and final metrics become the lineage. */
  run_id?: string
  /** Dataset references to record in the lineage (added to the run's, same tag wins). */
  datasets?: DatasetInput[]
}

export interface VersionCreated {
  version: Version
  /** True when this push created the model. */
  model_created: boolean
}

export interface VersionQuery extends PageQuery {
  /** Filter language over version fields: see filter.ts (e.g. `metrics.auc > 0.8 and tags = 'prod'`). */
  where?: string
  /** version (the default), created_at, author, metrics.KEY or metadata.KEY: versions without the field go last. */
  sort_by?: string
  /** desc (the default) or asc. */
  order_by?: SortOrder
}

export interface EventQuery extends PageQuery {
  project?: string
  model?: string
  types?: EventType[]
  /** ISO 8601 time: only events at or after it. */
  since?: string
  /** Only events with an id greater than this (for following). */
  after_id?: number
  order?: SortOrder
}

export interface LogQuery extends PageQuery {
  model?: string
}

export interface BlobInfo {
  digest: string
  size: number
}

export interface BlobStream {
  stream: Readable
  /** Size of the whole blob, whatever the offset. */
  size: number
}

// ---------------------------------------------------------------------------------------------
// Experiment tracking

export const RUN_STATUSES = ['queued', 'running', 'completed', 'failed', 'killed'] as const
export type RunStatus = (typeof RUN_STATUSES)[number]
/** Statuses a run ends in; a finished run's status never changes again. */
export const FINISHED_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'killed']

export interface Experiment {
  project: string
  name: string
  description: string
  owner: string | null
  framework: string | null
  created_at: string
  updated_at: string
  run_count: number
}

export interface ExperimentCreate {
  description?: string
  owner?: string | null
  framework?: string | null
}

export type ExperimentPatch = ExperimentCreate

export interface RunCreate {
  experiment: string
  name?: string | null
  /** Default: running (start_time set now); queued leaves start_time empty until it runs. */
  status?: 'queued' | 'running'
  params?: JsonObject
  tags?: Record<string, string>
  author: string
  source?: SourceInfo
}

export interface RunPatch {
  status?: RunStatus
  name?: string | null
  tags?: Record<string, string>
}

/** One series' summary: key is `name` or `name[split]`. */
export interface MetricSummary {
  name: string
  split: string
  last: number
  last_step: number
  min: number
  max: number
  count: number
}

export interface RunSummary {
  id: string
  project: string
  experiment: string
  name: string | null
  status: RunStatus
  params: JsonObject
  tags: Record<string, string>
  /** Each series' last value, by key (`name` or `name[split]`). */
  metrics: Record<string, number>
  author: string
  created_at: string
  start_time: string | null
  end_time: string | null
}

export interface Run extends RunSummary {
  source: SourceInfo
  metric_summaries: MetricSummary[]
  datasets: Dataset[]
  checkpoints: CheckpointSummary[]
  /** Model versions made from this run (by push --run or register). */
  versions: {project: string; model: string; version: number}[]
}

export interface RunQuery extends PageQuery {
  experiment?: string
  status?: RunStatus[]
  /** Exact matches on params (values compared as JSON). */
  params?: JsonObject
  /** Filter language: see filter.ts (e.g. `params.lr < 0.01 and metrics.acc > 0.9`). */
  where?: string
  /** name, status, created_at, start_time, end_time, params.KEY, metrics.KEY, tags.KEY. */
  sort_by?: string
  order_by?: SortOrder
}

/** A file on this machine holding a blob's bytes, with a progress callback. */
export interface LocalFileSource {
  path: string
  onBytes?: (n: number) => void
}

export interface MetricPointInput {
  name: string
  value: number
  /** Default: one past the series' last step (0 for a new series). */
  step?: number
  /** Default: "" (no split). */
  split?: string
  /** Default: now. */
  time?: string
}

/** Points to log, streamed: each item a point or an array of points. */
export type MetricPointsInput = AsyncIterable<MetricPointInput | readonly MetricPointInput[]>

/**
 * Consecutive points of one series as columns, steps increasing, every point with its time
 * (how archives carry points: no object per point to make, parse or check).
 */
export interface MetricSeriesChunk {
  name: string
  split: string
  steps: number[]
  values: number[]
  times: string[]
}

/** See Backend.blobStaging. */
export interface BlobStaging {
  /**
   * Write `body` to the store's temp area, hashing it on the way (on the hasher's workers): it
   * fails with `integrity` unless it is exactly `size` bytes with sha256 `digest`, and then
   * nothing is kept. It resolves once the bytes are written; the digest may still be on its way
   * (see verified). The blob is not in the store (nor seen by anyone) until commit.
   */
  stage(digest: string, size: number, body: AsyncIterable<Buffer> | FileRange): Promise<void>
  /** Once every blob staged so far is checked: fails with `integrity` (details.digest) for one that is not what it claims. */
  verified(): Promise<void>
  /**
   * Put staged blobs in place (each flushed first) and record them, as putBlob does; one
   * answer per digest: false when the store had that blob already.
   */
  commit(digests: string[]): Promise<boolean[]>
  /** Whether `digest` is staged and not committed yet. */
  has(digest: string): boolean
  /** Remove every staged blob not committed (the staging is done with). */
  discard(): Promise<void>
}

export interface MetricPoint {
  name: string
  split: string
  step: number
  value: number
  time: string
}

export interface MetricQuery {
  name?: string
  split?: string
}

export interface MetricLogOptions {
  /**
   * Take points for a run that has finished (completed, failed or killed), which otherwise
   * refuses them (a conflict): an evaluation after training, a restore of the run's history.
   */
  allow_finished?: boolean
}

/** What to chart: a range of one metric's series, cut into buckets. */
export interface MetricDownsampleQuery {
  /** The splits to answer (default: every split of the metric; "" is the series without one). */
  splits?: string[]
  /** The x axis: step (default), or time in milliseconds since the epoch. */
  x?: 'step' | 'time'
  /** How many buckets the range is cut into (default 500, at most 2000); each gives at most 4 points. */
  buckets?: number
  /** The range of x to answer, both ends included (default: the whole series). */
  from?: number
  to?: number
}

/**
 * One split of a downsampled series: every point in the range when it holds at most 4 per
 * bucket, otherwise per bucket (a range of steps) its first, lowest, highest and last point,
 * so a line drawn through them covers what the full series draws at that width.
 */
export interface DownsampledSeries {
  split: string
  /** Points of the series in the range. */
  count: number
  /** True when the answer holds every point in the range. */
  exact: boolean
  /** The points, in columns, ordered by step: time in milliseconds since the epoch. */
  step: number[]
  time: number[]
  value: number[]
}

export interface MetricDownsample {
  run: string
  name: string
  x: 'step' | 'time'
  buckets: number
  series: DownsampledSeries[]
}

export interface DatasetInput {
  tag: string
  /** A path or URI (s3://...). */
  uri: string
  sha256?: string | null
  size?: number | null
  metadata?: JsonObject
}

export interface Dataset {
  tag: string
  uri: string
  sha256: string | null
  size: number | null
  metadata: JsonObject
  updated_at: string
}

export interface CheckpointCreate {
  files: FileEntry[]
  step?: number | null
  metrics?: Record<string, number>
  metadata?: JsonObject
  /** Makes the call idempotent, as for versions. */
  request_id?: string
}

export interface CheckpointSummary {
  uuid: string
  run_id: string
  project: string
  experiment: string
  step: number | null
  metrics: Record<string, number>
  metadata: JsonObject
  size: number
  file_count: number
  created_at: string
}

export interface Checkpoint extends CheckpointSummary {
  files: FileEntry[]
}

export interface RegisterInput {
  author: string
  comment?: string
  tags?: string[]
  metadata?: JsonObject
  source?: SourceInfo
  request_id?: string
}

// ---------------------------------------------------------------------------------------------
// Integrity and space

export interface VerifyQuery {
  /** Only this project's versions and checkpoints (with model: only that model's versions). */
  project?: string
  model?: string
  /** With model: only this version ('latest', a number or a tag). */
  selector?: string
}

export type VerifyProblemKind = 'database' | 'blob_missing' | 'blob_size' | 'blob_digest' | 'manifest'

export interface VerifyProblem {
  kind: VerifyProblemKind
  /** The blob concerned, if any. */
  blob: string | null
  message: string
  /** The versions that use the blob: `project/model:3`. */
  versions: string[]
  /** The checkpoints that use the blob (UUIDs). */
  checkpoints: string[]
}

export interface VerifyReport {
  /** True when nothing is wrong (warnings do not count). */
  ok: boolean
  /** What was checked: "the whole store" or a reference. */
  scope: string
  checked: {versions: number; checkpoints: number; blobs: number; bytes: number}
  problems: VerifyProblem[]
  /** Leftovers that are not damage: temp files of interrupted writes, blobs nothing uses (gc reclaims both). */
  warnings: {kind: 'temp_file' | 'unreferenced_blobs'; message: string; count: number; bytes: number}[]
}

export interface GcOptions {
  dry_run?: boolean
  /** Spare what was written or used more recently than this (default 3600). */
  grace_seconds?: number
}

export interface GcReport {
  dry_run: boolean
  /** Unreferenced blobs removed (or that would be, with dry_run). */
  blobs: {count: number; bytes: number}
  /** Stale temp files of interrupted writes removed. */
  temp_files: {count: number; bytes: number}
  /** Unreferenced but recently used (a push may be about to reference them): kept. */
  kept_recent: {count: number; bytes: number}
}

// ---------------------------------------------------------------------------------------------
// Restoring history (export/import/copy): admin-only writes that keep numbers, ids and times

/** One event of a model's history as it was recorded (its id is not kept: the target numbers it). */
export interface HistoryEvent {
  time: string
  type: EventType
  version: number | null
  tag: string | null
  actor: string
  data: JsonObject
}

/** A version as restore writes it: its number, time and author kept. */
export interface VersionRecord {
  number: number
  comment: string
  author: string
  created_at: string
  metadata: JsonObject
  metrics: Record<string, number>
  framework: string | null
  format: string | null
  source: SourceInfo
  files: FileEntry[]
  attachments: FileEntry[]
  lineage: Lineage | null
}

/**
 * A model's whole history: its fields, its live versions (numbers with their gaps), the highest
 * number it ever gave out, its tags as they are now, and its events (pushes, tag moves, deletions,
 * updates) oldest first. Restoring it into a store that has a prefix of it (an earlier import)
 * appends the rest; into one that differs, it is a conflict.
 */
export interface ModelHistory {
  project: {name: string; description: string; created_at: string}
  model: {
    name: string
    description: string
    owner: string | null
    task: string | null
    metadata: JsonObject
    labels: Record<string, string>
    created_at: string
    updated_at: string
    /** The highest version number ever given out (numbering continues after it). */
    last_number: number
  }
  versions: VersionRecord[]
  tags: Tag[]
  events: HistoryEvent[]
}

/** A checkpoint as restore writes it: its UUID and time kept. */
export interface CheckpointRecord {
  uuid: string
  step: number | null
  metrics: Record<string, number>
  metadata: JsonObject
  created_at: string
  files: FileEntry[]
}

/**
 * A run without its metric points: they follow through logMetrics with their times (a repeated
 * point changes nothing). `metric_summaries` says what the series hold once they are all there,
 * so a second restore knows whether points are missing (an interrupted import) or differ (a conflict).
 */
export interface RunHistory {
  project: {name: string; description: string; created_at: string}
  experiment: {name: string; description: string; owner: string | null; framework: string | null; created_at: string; updated_at: string}
  run: {
    id: string
    name: string | null
    status: RunStatus
    params: JsonObject
    tags: Record<string, string>
    author: string
    source: SourceInfo
    created_at: string
    start_time: string | null
    end_time: string | null
  }
  datasets: Dataset[]
  checkpoints: CheckpointRecord[]
  metric_summaries: MetricSummary[]
}

export interface RestoreOptions {
  /** Compare and report, write nothing. */
  dry_run?: boolean
}

export interface RestoreResult {
  kind: 'model' | 'run'
  project: string
  /** The model's name or the run's id. */
  name: string
  /** created: it was not there; updated: the store had an earlier part of its history; unchanged: all of it. */
  outcome: 'created' | 'updated' | 'unchanged'
  /** Versions or checkpoints written, and those already there. */
  written: number
  unchanged: number
  /** Runs: whether metric points are still to be sent (logMetrics, with their times). */
  points_needed: boolean
  dry_run: boolean
}

/**
 * Digests of the histories in one project, as restore compares them: a model's fields,
 * last_number, versions, tags and events; a run's fields, datasets, checkpoints and metric
 * summaries. Two stores with the same digest for a model (or run) hold the same history of it,
 * and restoring it again would change nothing: copy skips reading those.
 */
export interface HistoryDigests {
  project: string
  models: {name: string; digest: string; versions: number}[]
  runs: {id: string; digest: string; checkpoints: number}[]
}

export interface HistoryDigestQuery {
  /** Include the runs (their metric summaries cost a pass over their points). Default true. */
  runs?: boolean
}

// ---------------------------------------------------------------------------------------------
// The interface

export interface Backend {
  readonly kind: 'local' | 'remote'
  /** Where the data is: a directory or a URL (for messages). */
  readonly location: string

  close(): Promise<void>

  // projects
  listProjects(query?: PageQuery): Promise<Page<Project>>
  createProject(name: string, input?: {description?: string}): Promise<Project>
  getProject(name: string): Promise<Project>

  // models
  listModels(project: string, query?: ModelQuery): Promise<Page<Model>>
  createModel(project: string, name: string, input?: ModelCreate): Promise<Model>
  getModel(project: string, name: string): Promise<Model>
  updateModel(project: string, name: string, patch: ModelPatch): Promise<Model>
  deleteModel(project: string, name: string): Promise<DeleteResult>
  modelLog(project: string, query?: LogQuery): Promise<Page<LogEntry>>

  // versions
  /** Newest first. */
  listVersions(project: string, model: string, query?: VersionQuery): Promise<Page<VersionSummary>>
  /** selector: 'latest', a version number, or a tag. */
  getVersion(project: string, model: string, selector: string): Promise<Version>
  /**
   * Commit a version whose blobs are already stored (see missingBlobs/putBlob). The model is
   * created if it does not exist. The version is numbered and made visible atomically.
   */
  createVersion(project: string, model: string, input: VersionCreate): Promise<VersionCreated>
  deleteVersion(project: string, model: string, version: number): Promise<DeleteResult>

  // tags
  listTags(project: string, model: string): Promise<Tag[]>
  /**
   * Create or move a tag onto a version (selector as in getVersion, so `prod` can be moved to
   * where `staging` points). With expect_previous, fail with `conflict` unless the tag currently
   * points at that version (null: unless the tag does not exist): a compare-and-swap for CI.
   */
  setTag(project: string, model: string, tag: string, selector: string, options?: TagOptions): Promise<TagMove>
  removeTag(project: string, model: string, tag: string): Promise<TagRemoval>

  // events
  listEvents(query?: EventQuery): Promise<Page<RegistryEvent>>
  /**
   * Events after `query.after_id` (default: from now on), oldest first, as they happen, until
   * `signal` aborts. Paging fields and `order` do not apply.
   */
  followEvents(query: EventQuery, signal: AbortSignal): AsyncIterable<RegistryEvent>

  // experiments
  listExperiments(project: string, query?: PageQuery): Promise<Page<Experiment>>
  createExperiment(project: string, name: string, input?: ExperimentCreate): Promise<Experiment>
  getExperiment(project: string, name: string): Promise<Experiment>
  updateExperiment(project: string, name: string, patch: ExperimentPatch): Promise<Experiment>

  // runs (ids are unique across projects)
  /** Start a run in an experiment (created if missing). */
  createRun(project: string, input: RunCreate): Promise<Run>
  /** By id, or by a unique id prefix of at least 6 characters. */
  getRun(run: string): Promise<Run>
  listRuns(project: string, query?: RunQuery): Promise<Page<RunSummary>>
  /** Change status (queued -> running -> completed | failed | killed), name or tags. */
  updateRun(run: string, patch: RunPatch): Promise<Run>
  /** Set params; changing an existing one to a different value is a conflict unless overwrite. */
  setRunParams(run: string, params: JsonObject, options?: {overwrite?: boolean}): Promise<JsonObject>
  deleteRun(run: string): Promise<{id: string; project: string; experiment: string}>

  // metric series
  /**
   * Log points, streamed; the same (name, split, step) again replaces the value, so a retried
   * batch never duplicates points. Points come one at a time or in arrays (a reader that
   * parses a chunk of lines at once hands over the whole chunk). Returns how many were written.
   * A finished run takes no more points unless allow_finished (a conflict, checked before the
   * first point is read and again in every batch's transaction).
   */
  logMetrics(run: string, points: MetricPointsInput, options?: MetricLogOptions): Promise<{count: number}>
  /**
   * The same, for points that are NDJSON text already (a file, stdin): a remote backend sends
   * the bytes as they are, and the server parses them once, instead of this process parsing
   * and re-encoding them. A backend without it takes parsed points (logMetrics). Bad lines are
   * reported as `line N: ...`, counted from the start of the text.
   */
  logMetricsNdjson?(run: string, ndjson: AsyncIterable<Buffer | string>, options?: MetricLogOptions): Promise<{count: number}>
  /**
   * Log points given as series chunks (import, copy): as logMetrics with every point's time
   * given, without an object per point. Returns how many were written.
   */
  logMetricSeries(run: string, chunks: AsyncIterable<MetricSeriesChunk>): Promise<{count: number}>
  /** The full series, streamed, ordered by name, split, step. */
  readMetrics(run: string, query?: MetricQuery): AsyncIterable<MetricPoint>
  /**
   * A local store's points as MetricSeriesChunk JSON texts of at most `max` points each, with
   * their counts, made by the database itself (export, copy), ordered as readMetrics. Remote
   * backends do not have it: readMetrics.
   */
  readMetricSeriesJson?(run: string, max: number): AsyncIterable<{json: string; points: number}>
  /**
   * A metric's series cut down to what a chart can show (see DownsampledSeries): a million
   * points answer with a few thousand, and the extremes of every bucket survive. The run's
   * metric names and splits are its metric_summaries (getRun).
   */
  downsampleMetrics(run: string, name: string, query?: MetricDownsampleQuery): Promise<MetricDownsample>

  // datasets
  /** Record (or replace) the dataset with this tag. */
  setDataset(run: string, input: DatasetInput): Promise<Dataset>

  // checkpoints
  /** Commit a checkpoint whose blobs are stored; returns it with its new UUID. */
  createCheckpoint(run: string, input: CheckpointCreate): Promise<Checkpoint>
  getCheckpoint(uuid: string): Promise<Checkpoint>
  listCheckpoints(run: string): Promise<CheckpointSummary[]>
  /** A new version from a checkpoint's files (no bytes copied), with its lineage. */
  registerCheckpoint(project: string, model: string, uuid: string, input: RegisterInput): Promise<VersionCreated>

  // integrity and space
  /** Check the store: the database, and every referenced blob's presence, size and digest. */
  verify(query?: VerifyQuery): Promise<VerifyReport>
  /** Remove blobs nothing references and stale temp files, sparing anything used recently. */
  gc(options?: GcOptions): Promise<GcReport>

  // restore (admin): history written as it was, for import and copy
  /**
   * Write a model's whole history (numbers, times, authors, tag history, events) all-or-nothing.
   * The same history again changes nothing; a store whose model differs fails with `conflict`
   * and keeps its model as it was. Every blob the versions name must be stored first.
   */
  restoreModel(history: ModelHistory, options?: RestoreOptions): Promise<RestoreResult>
  /** Write a run with its id, datasets and checkpoints (UUIDs kept), all-or-nothing; as restoreModel. */
  restoreRun(history: RunHistory, options?: RestoreOptions): Promise<RestoreResult>
  /** Digests of a project's model and run histories (empty lists for a project that does not exist). */
  historyDigests(project: string, query?: HistoryDigestQuery): Promise<HistoryDigests>

  // blobs (content-addressed by sha256)
  /** The digests, of those given, that the store does not hold. */
  missingBlobs(digests: string[]): Promise<string[]>
  /**
   * Store a blob. The content is hashed while it is received; a digest or size mismatch stores
   * nothing and fails with `integrity`. `open` may be called more than once (retries).
   * `file`, when the bytes are a file on this machine, lets a local store copy it directly
   * (faster than a stream; still hashed as written); a remote one streams `open()`.
   */
  putBlob(digest: string, size: number, open: () => Readable, file?: LocalFileSource): Promise<BlobInfo & {stored: boolean}>
  /**
   * Store content whose digest the caller does not know yet (one pass instead of hashing first):
   * the store hashes it while receiving it and names it by that digest. Nothing is stored
   * unless exactly `size` bytes arrive. Returns the digest, and whether it was new.
   */
  storeBlob(size: number, open: () => Readable, file?: LocalFileSource): Promise<BlobInfo & {stored: boolean}>
  /**
   * A local store's file holding a blob, for a download to copy directly (and verify as it
   * copies), or null when it is missing. Remote backends do not have it: they stream.
   */
  localBlobPath?(digest: string): Promise<string | null>
  /**
   * A local store's staging area (import): blobs written into its temp area and verified as they
   * arrive (hashed on `hasher`, whose workers the caller owns), made part of the store later
   * without being read again, or dropped. Null where the blob store has none (a bucket);
   * remote backends do not have it: putBlob.
   */
  blobStaging?(hasher: StreamHasher): BlobStaging | null
  /**
   * Read a blob from an offset. The caller verifies the digest of what it reads. `project`
   * names the project whose version references the blob, which a server uses to authorize a
   * token limited to that project.
   */
  openBlob(digest: string, options?: {offset?: number; project?: string}): Promise<BlobStream>
}
