/**
 * The HTTP API, written once: every route's method, path, required scope, and how a Backend
 * call becomes a request (client) and a request becomes the same Backend call (server). The
 * OpenAPI document is generated from this table too, so the three cannot drift apart.
 */
import type {Backend, EventQuery, EventType, JsonObject, MetricLogOptions, ModelHistory, ModelQuery, RunHistory, ModelSortField, PageQuery, RunQuery, RunStatus, SortOrder} from '../backends/backend.js'
import {invalid} from '../backends/errors.js'
import {isJsonObject, quote} from '../backends/validation.js'

export const API_PREFIX = '/api/v1'

/** What a token must allow. `public` routes need no token at all. */
export type Action = 'public' | 'read' | 'write' | 'admin'
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export type QueryValues = Record<string, string | string[] | undefined>

/** A request as the codecs see it: path parameters, query and the parsed JSON body. */
export interface WireRequest {
  params: Record<string, string>
  query: QueryValues
  body?: unknown
}

export interface RouteSpec {
  id: string
  method: HttpMethod
  /** OpenAPI-style template: /api/v1/projects/{project}/models */
  path: string
  action: Action
  summary: string
  /** json: JSON in and out; blob-upload / blob-download: raw bytes; ndjson: a stream of lines out; ndjson-upload: in; text: plain text. */
  kind: 'json' | 'blob-upload' | 'blob-download' | 'ndjson' | 'ndjson-upload' | 'text'
  /** Safe to retry after a network failure. */
  idempotent: boolean
  /** Documented query parameters. */
  query?: string[]
  /** Component schema of the JSON request body. */
  requestSchema?: string
  /** Component schema of the JSON response (or "ndjson" / "binary"). */
  responseSchema?: string
  /** HTTP status of a success. */
  status?: number
  /** The answer may take minutes (the server works through the whole store first). */
  longRunning?: boolean
}

/** The Backend methods that are plain JSON calls. */
export type JsonMethod = Exclude<
  keyof Backend,
  | 'kind'
  | 'location'
  | 'close'
  | 'followEvents'
  | 'putBlob'
  | 'storeBlob'
  | 'localBlobPath'
  | 'blobStaging'
  | 'openBlob'
  | 'logMetrics'
  | 'logMetricsNdjson'
  | 'logMetricSeries'
  | 'readMetrics'
  | 'readMetricSeriesJson'
>

export interface JsonRoute<K extends JsonMethod> extends RouteSpec {
  kind: 'json'
  backend: K
  encode(...args: Parameters<Backend[K]>): WireRequest
  decode(request: WireRequest): Parameters<Backend[K]>
}

// ---------------------------------------------------------------------------------------------
// query and body decoding (the server checks shapes here, then the engine applies the rules)

function one(query: QueryValues, name: string): string | undefined {
  const value = query[name]
  if (Array.isArray(value)) {
    if (value.length > 1) throw invalid(`query parameter ${name} given more than once`)
    return value[0]
  }
  return value
}

function many(query: QueryValues, name: string): string[] {
  const value = query[name]
  if (value === undefined) return []
  return Array.isArray(value) ? value : [value]
}

function int(query: QueryValues, name: string): number | undefined {
  const text = one(query, name)
  if (text === undefined) return undefined
  if (!/^[0-9]{1,15}$/.test(text)) throw invalid(`query parameter ${name} must be a whole number, not ${quote(text)}`)
  return Number(text)
}

function page(query: QueryValues): PageQuery {
  return {limit: int(query, 'limit'), offset: int(query, 'offset')}
}

function pageQuery(q: PageQuery | undefined): QueryValues {
  return {limit: q?.limit?.toString(), offset: q?.offset?.toString()}
}

function body(request: WireRequest): Record<string, unknown> {
  if (request.body === undefined) return {}
  if (!isJsonObject(request.body)) throw invalid('the request body must be a JSON object')
  return request.body as Record<string, unknown>
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') throw invalid(`${what} must be a string`)
  return value
}

function optionalStr(value: unknown, what: string): string | undefined {
  return value === undefined ? undefined : str(value, what)
}

function labelsQuery(labels: Record<string, string> | undefined): string[] | undefined {
  const pairs = Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`)
  return pairs.length ? pairs : undefined
}

function decodeLabels(pairs: string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined
  const labels: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw invalid(`label filter must be KEY=VALUE, not ${quote(pair)}`)
    labels[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return labels
}

function eventQuery(q: EventQuery | undefined): QueryValues {
  return {
    project: q?.project,
    model: q?.model,
    type: q?.types?.length ? q.types : undefined,
    since: q?.since,
    after_id: q?.after_id?.toString(),
    order: q?.order,
    ...pageQuery(q),
  }
}

/** logMetrics' options as the query of its NDJSON upload, and back. */
export function encodeMetricLogQuery(options: MetricLogOptions | undefined): QueryValues {
  return {allow_finished: options?.allow_finished ? 'true' : undefined}
}

export function decodeMetricLogQuery(query: QueryValues): MetricLogOptions {
  return {allow_finished: one(query, 'allow_finished') === 'true'}
}

export function decodeEventQuery(query: QueryValues): EventQuery {
  const types = many(query, 'type')
  return {
    project: one(query, 'project'),
    model: one(query, 'model'),
    types: types.length ? (types as EventType[]) : undefined,
    since: one(query, 'since'),
    after_id: int(query, 'after_id'),
    order: one(query, 'order') as SortOrder | undefined,
    ...page(query),
  }
}

export const EVENT_QUERY_PARAMS = ['project', 'model', 'type', 'since', 'after_id', 'order', 'limit', 'offset']

function encodeParams(params: JsonObject | undefined): string[] | undefined {
  const pairs = Object.entries(params ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`)
  return pairs.length ? pairs : undefined
}

function decodeParams(pairs: string[]): JsonObject | undefined {
  if (pairs.length === 0) return undefined
  const params: JsonObject = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw invalid(`param filter must be KEY=JSON, not ${quote(pair)}`)
    try {
      params[pair.slice(0, eq)] = JSON.parse(pair.slice(eq + 1))
    } catch {
      throw invalid(`param filter ${quote(pair)}: the value is not JSON`)
    }
  }
  return params
}

function runQuery(q: RunQuery | undefined): QueryValues {
  return {
    experiment: q?.experiment,
    status: q?.status?.length ? q.status : undefined,
    param: encodeParams(q?.params),
    where: q?.where,
    sort_by: q?.sort_by,
    order_by: q?.order_by,
    ...pageQuery(q),
  }
}

function decodeRunQuery(query: QueryValues): RunQuery {
  const status = many(query, 'status')
  return {
    experiment: one(query, 'experiment'),
    status: status.length ? (status as RunStatus[]) : undefined,
    params: decodeParams(many(query, 'param')),
    where: one(query, 'where'),
    sort_by: one(query, 'sort_by'),
    order_by: one(query, 'order_by') as SortOrder | undefined,
    ...page(query),
  }
}

const P = `${API_PREFIX}/projects/{project}`
const M = `${P}/models/{model}`
const R = `${API_PREFIX}/runs/{run}`

function route<K extends JsonMethod>(spec: Omit<JsonRoute<K>, 'kind'>): JsonRoute<K> {
  return {kind: 'json', ...spec}
}

/** Every Backend call that is plain JSON, keyed by method name. */
export const JSON_ROUTES = {
  listProjects: route({
    id: 'listProjects',
    backend: 'listProjects',
    method: 'GET',
    path: `${API_PREFIX}/projects`,
    action: 'read',
    idempotent: true,
    summary: 'List projects.',
    query: ['limit', 'offset'],
    responseSchema: 'ProjectPage',
    encode: (query) => ({params: {}, query: pageQuery(query)}),
    decode: (r) => [page(r.query)],
  }),
  createProject: route({
    id: 'createProject',
    backend: 'createProject',
    method: 'POST',
    path: `${API_PREFIX}/projects`,
    action: 'write',
    idempotent: false,
    status: 201,
    summary: 'Create a project.',
    requestSchema: 'ProjectCreate',
    responseSchema: 'Project',
    encode: (name, input) => ({params: {}, query: {}, body: {name, ...input}}),
    decode: (r) => {
      const {name, description} = body(r)
      return [str(name, 'name'), {description: optionalStr(description, 'description')}]
    },
  }),
  getProject: route({
    id: 'getProject',
    backend: 'getProject',
    method: 'GET',
    path: P,
    action: 'read',
    idempotent: true,
    summary: 'Get a project.',
    responseSchema: 'Project',
    encode: (name) => ({params: {project: name}, query: {}}),
    decode: (r) => [r.params.project],
  }),
  listModels: route({
    id: 'listModels',
    backend: 'listModels',
    method: 'GET',
    path: `${P}/models`,
    action: 'read',
    idempotent: true,
    summary: 'List models, sorted, filtered and paged.',
    query: ['sort_by', 'order_by', 'name', 'description', 'label', 'limit', 'offset'],
    responseSchema: 'ModelPage',
    encode: (project, q?: ModelQuery) => ({
      params: {project},
      query: {sort_by: q?.sort_by, order_by: q?.order_by, name: q?.name, description: q?.description, label: labelsQuery(q?.labels), ...pageQuery(q)},
    }),
    decode: (r) => [
      r.params.project,
      {
        sort_by: one(r.query, 'sort_by') as ModelSortField | undefined,
        order_by: one(r.query, 'order_by') as SortOrder | undefined,
        name: one(r.query, 'name'),
        description: one(r.query, 'description'),
        labels: decodeLabels(many(r.query, 'label')),
        ...page(r.query),
      },
    ],
  }),
  createModel: route({
    id: 'createModel',
    backend: 'createModel',
    method: 'POST',
    path: `${P}/models`,
    action: 'write',
    idempotent: false,
    status: 201,
    summary: 'Create a model.',
    requestSchema: 'ModelCreate',
    responseSchema: 'Model',
    encode: (project, name, input) => ({params: {project}, query: {}, body: {name, ...input}}),
    decode: (r) => {
      const {name, ...input} = body(r)
      return [r.params.project, str(name, 'name'), input]
    },
  }),
  getModel: route({
    id: 'getModel',
    backend: 'getModel',
    method: 'GET',
    path: M,
    action: 'read',
    idempotent: true,
    summary: 'Get a model.',
    responseSchema: 'Model',
    encode: (project, model) => ({params: {project, model}, query: {}}),
    decode: (r) => [r.params.project, r.params.model],
  }),
  updateModel: route({
    id: 'updateModel',
    backend: 'updateModel',
    method: 'PATCH',
    path: M,
    action: 'write',
    idempotent: false,
    summary: "Change a model's description, owner, task, metadata (top-level merge) or labels.",
    requestSchema: 'ModelPatch',
    responseSchema: 'Model',
    encode: (project, model, patch) => ({params: {project, model}, query: {}, body: patch}),
    decode: (r) => [r.params.project, r.params.model, body(r)],
  }),
  deleteModel: route({
    id: 'deleteModel',
    backend: 'deleteModel',
    method: 'DELETE',
    path: M,
    action: 'admin',
    idempotent: false,
    summary: 'Delete a model and all its versions.',
    responseSchema: 'DeleteResult',
    encode: (project, model) => ({params: {project, model}, query: {}}),
    decode: (r) => [r.params.project, r.params.model],
  }),
  modelLog: route({
    id: 'modelLog',
    backend: 'modelLog',
    method: 'GET',
    path: `${P}/log`,
    action: 'read',
    idempotent: true,
    summary: 'Pushes, tag moves and deletions, newest first.',
    query: ['model', 'limit', 'offset'],
    responseSchema: 'LogPage',
    encode: (project, q) => ({params: {project}, query: {model: q?.model, ...pageQuery(q)}}),
    decode: (r) => [r.params.project, {model: one(r.query, 'model'), ...page(r.query)}],
  }),
  listVersions: route({
    id: 'listVersions',
    backend: 'listVersions',
    method: 'GET',
    path: `${M}/versions`,
    action: 'read',
    idempotent: true,
    summary: 'List versions, newest first or by sort_by (version, created_at, author, metrics.KEY, metadata.KEY); `where` filters them (filter language).',
    query: ['where', 'sort_by', 'order_by', 'limit', 'offset'],
    responseSchema: 'VersionPage',
    encode: (project, model, q) => ({params: {project, model}, query: {where: q?.where, sort_by: q?.sort_by, order_by: q?.order_by, ...pageQuery(q)}}),
    decode: (r) => [
      r.params.project,
      r.params.model,
      {where: one(r.query, 'where'), sort_by: one(r.query, 'sort_by'), order_by: one(r.query, 'order_by') as SortOrder | undefined, ...page(r.query)},
    ],
  }),
  getVersion: route({
    id: 'getVersion',
    backend: 'getVersion',
    method: 'GET',
    path: `${M}/versions/{selector}`,
    action: 'read',
    idempotent: true,
    summary: 'Get a version by number, tag or "latest".',
    responseSchema: 'Version',
    encode: (project, model, selector) => ({params: {project, model, selector}, query: {}}),
    decode: (r) => [r.params.project, r.params.model, r.params.selector],
  }),
  createVersion: route({
    id: 'createVersion',
    backend: 'createVersion',
    method: 'POST',
    path: `${M}/versions`,
    action: 'write',
    // Retrying is safe because the client sends a request_id: a repeat returns the first result.
    idempotent: true,
    status: 201,
    summary: 'Commit a version whose blobs are stored (creates the model if needed).',
    requestSchema: 'VersionCreate',
    responseSchema: 'VersionCreated',
    encode: (project, model, input) => ({params: {project, model}, query: {}, body: input}),
    decode: (r) => [r.params.project, r.params.model, body(r) as never],
  }),
  deleteVersion: route({
    id: 'deleteVersion',
    backend: 'deleteVersion',
    method: 'DELETE',
    path: `${M}/versions/{version}`,
    action: 'admin',
    idempotent: false,
    summary: 'Delete one version (its number is never reused).',
    responseSchema: 'DeleteResult',
    encode: (project, model, version) => ({params: {project, model, version: String(version)}, query: {}}),
    decode: (r) => {
      if (!/^[0-9]{1,15}$/.test(r.params.version)) throw invalid(`invalid version ${quote(r.params.version)}`)
      return [r.params.project, r.params.model, Number(r.params.version)]
    },
  }),
  listTags: route({
    id: 'listTags',
    backend: 'listTags',
    method: 'GET',
    path: `${M}/tags`,
    action: 'read',
    idempotent: true,
    summary: 'List tags (latest first).',
    responseSchema: 'TagList',
    encode: (project, model) => ({params: {project, model}, query: {}}),
    decode: (r) => [r.params.project, r.params.model],
  }),
  setTag: route({
    id: 'setTag',
    backend: 'setTag',
    method: 'PUT',
    path: `${M}/tags/{tag}`,
    action: 'write',
    idempotent: true,
    summary: 'Create or move a tag, optionally only if it points where expected.',
    requestSchema: 'TagSet',
    responseSchema: 'TagMove',
    encode: (project, model, tag, selector, options) => ({params: {project, model, tag}, query: {}, body: {selector, ...options}}),
    decode: (r) => {
      const b = body(r)
      const expect = b.expect_previous
      if (expect !== undefined && expect !== null && (typeof expect !== 'number' || !Number.isSafeInteger(expect))) {
        throw invalid('expect_previous must be a version number or null')
      }
      return [r.params.project, r.params.model, r.params.tag, str(b.selector, 'selector'), expect === undefined ? {} : {expect_previous: expect as number | null}]
    },
  }),
  removeTag: route({
    id: 'removeTag',
    backend: 'removeTag',
    method: 'DELETE',
    path: `${M}/tags/{tag}`,
    action: 'write',
    idempotent: false,
    summary: 'Remove a tag.',
    responseSchema: 'TagRemoval',
    encode: (project, model, tag) => ({params: {project, model, tag}, query: {}}),
    decode: (r) => [r.params.project, r.params.model, r.params.tag],
  }),
  listEvents: route({
    id: 'listEvents',
    backend: 'listEvents',
    method: 'GET',
    path: `${API_PREFIX}/events`,
    action: 'read',
    idempotent: true,
    summary: 'List change events.',
    query: EVENT_QUERY_PARAMS,
    responseSchema: 'EventPage',
    encode: (q) => ({params: {}, query: eventQuery(q)}),
    decode: (r) => [decodeEventQuery(r.query)],
  }),
  listExperiments: route({
    id: 'listExperiments',
    backend: 'listExperiments',
    method: 'GET',
    path: `${P}/experiments`,
    action: 'read',
    idempotent: true,
    summary: 'List experiments.',
    query: ['limit', 'offset'],
    responseSchema: 'ExperimentPage',
    encode: (project, q) => ({params: {project}, query: pageQuery(q)}),
    decode: (r) => [r.params.project, page(r.query)],
  }),
  createExperiment: route({
    id: 'createExperiment',
    backend: 'createExperiment',
    method: 'POST',
    path: `${P}/experiments`,
    action: 'write',
    idempotent: false,
    status: 201,
    summary: 'Create an experiment.',
    requestSchema: 'ExperimentCreate',
    responseSchema: 'Experiment',
    encode: (project, name, input) => ({params: {project}, query: {}, body: {name, ...input}}),
    decode: (r) => {
      const {name, ...input} = body(r)
      return [r.params.project, str(name, 'name'), input]
    },
  }),
  getExperiment: route({
    id: 'getExperiment',
    backend: 'getExperiment',
    method: 'GET',
    path: `${P}/experiments/{experiment}`,
    action: 'read',
    idempotent: true,
    summary: 'Get an experiment.',
    responseSchema: 'Experiment',
    encode: (project, name) => ({params: {project, experiment: name}, query: {}}),
    decode: (r) => [r.params.project, r.params.experiment],
  }),
  updateExperiment: route({
    id: 'updateExperiment',
    backend: 'updateExperiment',
    method: 'PATCH',
    path: `${P}/experiments/{experiment}`,
    action: 'write',
    idempotent: true,
    summary: "Change an experiment's description, owner or framework.",
    requestSchema: 'ExperimentCreate',
    responseSchema: 'Experiment',
    encode: (project, name, patch) => ({params: {project, experiment: name}, query: {}, body: patch}),
    decode: (r) => [r.params.project, r.params.experiment, body(r)],
  }),
  createRun: route({
    id: 'createRun',
    backend: 'createRun',
    method: 'POST',
    path: `${P}/runs`,
    action: 'write',
    idempotent: false,
    status: 201,
    summary: 'Start a run (its experiment is created if missing).',
    requestSchema: 'RunCreate',
    responseSchema: 'Run',
    encode: (project, input) => ({params: {project}, query: {}, body: input}),
    decode: (r) => [r.params.project, body(r) as never],
  }),
  listRuns: route({
    id: 'listRuns',
    backend: 'listRuns',
    method: 'GET',
    path: `${P}/runs`,
    action: 'read',
    idempotent: true,
    summary: 'Find runs: by experiment, status, params, a filter, sorted by any field or metric.',
    query: ['experiment', 'status', 'param', 'where', 'sort_by', 'order_by', 'limit', 'offset'],
    responseSchema: 'RunPage',
    encode: (project, q) => ({params: {project}, query: runQuery(q)}),
    decode: (r) => [r.params.project, decodeRunQuery(r.query)],
  }),
  getRun: route({
    id: 'getRun',
    backend: 'getRun',
    method: 'GET',
    path: R,
    action: 'read',
    idempotent: true,
    summary: 'A run: params, metric summaries, datasets, checkpoints, versions, timings.',
    responseSchema: 'Run',
    encode: (run) => ({params: {run}, query: {}}),
    decode: (r) => [r.params.run],
  }),
  updateRun: route({
    id: 'updateRun',
    backend: 'updateRun',
    method: 'PATCH',
    path: R,
    action: 'write',
    idempotent: true,
    summary: "Change a run's status (finish it), name or tags.",
    requestSchema: 'RunPatch',
    responseSchema: 'Run',
    encode: (run, patch) => ({params: {run}, query: {}, body: patch}),
    decode: (r) => [r.params.run, body(r)],
  }),
  setRunParams: route({
    id: 'setRunParams',
    backend: 'setRunParams',
    method: 'PUT',
    path: `${R}/params`,
    action: 'write',
    idempotent: true,
    summary: 'Set params; a different value for an existing one is a conflict unless overwrite.',
    requestSchema: 'ParamsSet',
    responseSchema: 'Params',
    encode: (run, params, options) => ({params: {run}, query: {}, body: {params, overwrite: options?.overwrite ?? false}}),
    decode: (r) => {
      const b = body(r)
      if (b.overwrite !== undefined && typeof b.overwrite !== 'boolean') throw invalid('overwrite must be true or false')
      return [r.params.run, b.params as JsonObject, {overwrite: b.overwrite as boolean | undefined}]
    },
  }),
  deleteRun: route({
    id: 'deleteRun',
    backend: 'deleteRun',
    method: 'DELETE',
    path: R,
    action: 'admin',
    idempotent: false,
    summary: 'Delete a run with its metrics, datasets and checkpoints (versions made from it stay whole).',
    responseSchema: 'RunDeleted',
    encode: (run) => ({params: {run}, query: {}}),
    decode: (r) => [r.params.run],
  }),
  downsampleMetrics: route({
    id: 'downsampleMetrics',
    backend: 'downsampleMetrics',
    method: 'GET',
    path: `${R}/metrics/{name}/downsampled`,
    action: 'read',
    idempotent: true,
    summary:
      "A metric's series cut down for a chart: per split, every point in the range when few, else each bucket's first, lowest, highest and last point (x: step or time in ms; from/to: the range of x; split: repeated or comma-separated).",
    query: ['split', 'x', 'buckets', 'from', 'to'],
    responseSchema: 'MetricDownsample',
    encode: (run, name, q) => ({
      params: {run, name},
      query: {split: q?.splits?.length ? q.splits : undefined, x: q?.x, buckets: q?.buckets?.toString(), from: q?.from?.toString(), to: q?.to?.toString()},
    }),
    decode: (r) => {
      const splits = many(r.query, 'split')
      const x = one(r.query, 'x')
      return [
        r.params.run,
        r.params.name,
        {
          splits: splits.length ? splits.flatMap((s) => s.split(',')) : undefined,
          x: x as 'step' | 'time' | undefined,
          buckets: int(r.query, 'buckets'),
          from: int(r.query, 'from'),
          to: int(r.query, 'to'),
        },
      ]
    },
  }),
  setDataset: route({
    id: 'setDataset',
    backend: 'setDataset',
    method: 'PUT',
    path: `${R}/datasets/{tag}`,
    action: 'write',
    idempotent: true,
    summary: 'Record (or replace) the dataset with this tag.',
    requestSchema: 'DatasetInput',
    responseSchema: 'Dataset',
    encode: (run, input) => {
      const {tag, ...rest} = input
      return {params: {run, tag}, query: {}, body: rest}
    },
    decode: (r) => [r.params.run, {...body(r), tag: r.params.tag} as never],
  }),
  createCheckpoint: route({
    id: 'createCheckpoint',
    backend: 'createCheckpoint',
    method: 'POST',
    path: `${R}/checkpoints`,
    action: 'write',
    idempotent: true,
    status: 201,
    summary: 'Commit a checkpoint whose blobs are stored.',
    requestSchema: 'CheckpointCreate',
    responseSchema: 'Checkpoint',
    encode: (run, input) => ({params: {run}, query: {}, body: input}),
    decode: (r) => [r.params.run, body(r) as never],
  }),
  listCheckpoints: route({
    id: 'listCheckpoints',
    backend: 'listCheckpoints',
    method: 'GET',
    path: `${R}/checkpoints`,
    action: 'read',
    idempotent: true,
    summary: "A run's checkpoints.",
    responseSchema: 'CheckpointList',
    encode: (run) => ({params: {run}, query: {}}),
    decode: (r) => [r.params.run],
  }),
  getCheckpoint: route({
    id: 'getCheckpoint',
    backend: 'getCheckpoint',
    method: 'GET',
    path: `${API_PREFIX}/checkpoints/{uuid}`,
    action: 'read',
    idempotent: true,
    summary: 'A checkpoint and its files.',
    responseSchema: 'Checkpoint',
    encode: (uuid) => ({params: {uuid}, query: {}}),
    decode: (r) => [r.params.uuid],
  }),
  registerCheckpoint: route({
    id: 'registerCheckpoint',
    backend: 'registerCheckpoint',
    method: 'POST',
    path: `${M}/register`,
    action: 'write',
    idempotent: true,
    status: 201,
    summary: "A new version from a checkpoint's files (no bytes copied), with lineage.",
    requestSchema: 'RegisterInput',
    responseSchema: 'VersionCreated',
    encode: (project, model, uuid, input) => ({params: {project, model}, query: {}, body: {checkpoint: uuid, ...input}}),
    decode: (r) => {
      const {checkpoint, ...input} = body(r)
      return [r.params.project, r.params.model, str(checkpoint, 'checkpoint'), input as never]
    },
  }),
  verify: route({
    id: 'verify',
    backend: 'verify',
    longRunning: true,
    method: 'POST',
    path: `${API_PREFIX}/verify`,
    action: 'admin',
    idempotent: true,
    summary: "Check the server's store: the database, and every referenced blob's presence, size and digest.",
    requestSchema: 'VerifyQuery',
    responseSchema: 'VerifyReport',
    encode: (query) => ({params: {}, query: {}, body: query ?? {}}),
    decode: (r) => {
      const b = body(r)
      return [{project: optionalStr(b.project, 'project'), model: optionalStr(b.model, 'model'), selector: optionalStr(b.selector, 'selector')}]
    },
  }),
  gc: route({
    id: 'gc',
    backend: 'gc',
    longRunning: true,
    method: 'POST',
    path: `${API_PREFIX}/gc`,
    action: 'admin',
    idempotent: true,
    summary: 'Remove blobs nothing references and stale temp files, sparing recently used ones.',
    requestSchema: 'GcOptions',
    responseSchema: 'GcReport',
    encode: (options) => ({params: {}, query: {}, body: options ?? {}}),
    decode: (r) => {
      const b = body(r)
      if (b.dry_run !== undefined && typeof b.dry_run !== 'boolean') throw invalid('dry_run must be true or false')
      if (b.grace_seconds !== undefined && typeof b.grace_seconds !== 'number') throw invalid('grace_seconds must be a number')
      return [{dry_run: b.dry_run as boolean | undefined, grace_seconds: b.grace_seconds as number | undefined}]
    },
  }),
  restoreModel: route({
    id: 'restoreModel',
    backend: 'restoreModel',
    method: 'POST',
    path: `${API_PREFIX}/restore/models`,
    action: 'admin',
    idempotent: true,
    summary:
      "Write a model's whole history as it was elsewhere (import, copy): version numbers, times, authors, tags and events kept, all-or-nothing. The same history again changes nothing; a model that differs is a 409 conflict. Blobs first (blobs/missing, then PUT).",
    requestSchema: 'RestoreModel',
    responseSchema: 'RestoreResult',
    encode: (history, options) => ({params: {}, query: {dry_run: options?.dry_run ? 'true' : undefined}, body: history}),
    decode: (r) => [body(r) as unknown as ModelHistory, {dry_run: one(r.query, 'dry_run') === 'true'}],
    query: ['dry_run'],
  }),
  restoreRun: route({
    id: 'restoreRun',
    backend: 'restoreRun',
    method: 'POST',
    path: `${API_PREFIX}/restore/runs`,
    action: 'admin',
    idempotent: true,
    summary:
      'Write a run with its id, datasets and checkpoints (UUIDs kept), all-or-nothing; its metric points follow through POST /runs/{run}/metrics with their times. The answer says whether points are still needed.',
    requestSchema: 'RestoreRun',
    responseSchema: 'RestoreResult',
    encode: (history, options) => ({params: {}, query: {dry_run: options?.dry_run ? 'true' : undefined}, body: history}),
    decode: (r) => [body(r) as unknown as RunHistory, {dry_run: one(r.query, 'dry_run') === 'true'}],
    query: ['dry_run'],
  }),
  historyDigests: route({
    id: 'historyDigests',
    backend: 'historyDigests',
    method: 'GET',
    path: `${P}/history-digests`,
    action: 'read',
    idempotent: true,
    summary:
      "Digests of every model's and run's history in the project, as restore compares them (copy skips what the target already holds unchanged). A project that does not exist has none.",
    query: ['runs'],
    responseSchema: 'HistoryDigests',
    encode: (project, query) => ({params: {project}, query: {runs: query?.runs === false ? 'false' : undefined}}),
    decode: (r) => {
      const runs = one(r.query, 'runs')
      if (runs !== undefined && runs !== 'true' && runs !== 'false') throw invalid('query parameter runs must be true or false')
      return [r.params.project, {runs: runs !== 'false'}]
    },
  }),
  missingBlobs: route({
    id: 'missingBlobs',
    backend: 'missingBlobs',
    method: 'POST',
    path: `${API_PREFIX}/blobs/missing`,
    action: 'write',
    idempotent: true,
    summary: 'Which of these digests the server lacks (one request for many).',
    requestSchema: 'DigestList',
    responseSchema: 'MissingDigests',
    encode: (digests) => ({params: {}, query: {}, body: {digests}}),
    decode: (r) => {
      const {digests} = body(r)
      if (!Array.isArray(digests)) throw invalid('digests must be a list')
      if (digests.length > 100_000) throw invalid('at most 100000 digests per request')
      return [digests as string[]]
    },
  }),
} satisfies {[K in JsonMethod]: JsonRoute<K>}

/** Routes that are not plain JSON calls. */
export const STREAM_ROUTES = {
  followEvents: {
    id: 'followEvents',
    method: 'GET',
    path: `${API_PREFIX}/events/stream`,
    action: 'read',
    kind: 'ndjson',
    idempotent: true,
    summary: 'Follow events as they happen: NDJSON, one event a line, blank lines as keep-alives.',
    query: EVENT_QUERY_PARAMS,
    responseSchema: 'ndjson',
  },
  logMetrics: {
    id: 'logMetrics',
    method: 'POST',
    path: `${R}/metrics`,
    action: 'write',
    kind: 'ndjson-upload',
    idempotent: false,
    summary:
      'Log metric points: an NDJSON body, one {"name","value","step","split","time"} a line, streamed; a repeated (name, split, step) replaces. A finished run refuses them (409) unless allow_finished=true.',
    query: ['allow_finished'],
    responseSchema: 'MetricCount',
  },
  readMetrics: {
    id: 'readMetrics',
    method: 'GET',
    path: `${R}/metrics`,
    action: 'read',
    kind: 'ndjson',
    idempotent: true,
    summary: 'The full series, as NDJSON, ordered by name, split and step.',
    query: ['name', 'split'],
    responseSchema: 'ndjson-metric',
  },
  storeBlob: {
    id: 'storeBlob',
    method: 'POST',
    path: `${API_PREFIX}/blobs`,
    action: 'write',
    kind: 'blob-upload',
    idempotent: true,
    summary: 'Upload a blob whose digest the client does not know yet: the server hashes it while receiving it and answers with the digest.',
    responseSchema: 'BlobStored',
  },
  putBlob: {
    id: 'putBlob',
    method: 'PUT',
    path: `${API_PREFIX}/blobs/sha256/{digest}`,
    action: 'write',
    kind: 'blob-upload',
    idempotent: true,
    summary: 'Upload a blob. The server hashes while receiving and stores nothing unless digest and size match.',
    responseSchema: 'BlobStored',
  },
  openBlob: {
    id: 'openBlob',
    method: 'GET',
    path: `${API_PREFIX}/blobs/sha256/{digest}`,
    action: 'read',
    kind: 'blob-download',
    idempotent: true,
    summary: 'Download a blob; supports Range for resuming.',
    query: ['project'],
    responseSchema: 'binary',
  },
  headBlob: {
    id: 'headBlob',
    method: 'HEAD',
    path: `${API_PREFIX}/blobs/sha256/{digest}`,
    action: 'read',
    kind: 'blob-download',
    idempotent: true,
    summary: "A blob's size (Content-Length), without its bytes.",
    query: ['project'],
    responseSchema: 'binary',
  },
  blobDownloadUrl: {
    id: 'blobDownloadUrl',
    method: 'GET',
    path: `${API_PREFIX}/blobs/sha256/{digest}/url`,
    action: 'read',
    kind: 'json',
    idempotent: true,
    summary: 'A presigned URL that reads the blob straight from the object store (s3.presign on), or {"url": null}: read it from this server. The reader still verifies the sha256.',
    query: ['project'],
    responseSchema: 'BlobUrl',
  },
  blobUploadUrl: {
    id: 'blobUploadUrl',
    method: 'POST',
    path: `${API_PREFIX}/blobs/sha256/{digest}/uploads`,
    action: 'write',
    kind: 'json',
    idempotent: true,
    summary: 'Where to PUT a blob straight to the object store (s3.presign on; the store refuses bytes with another sha256), or {"url": null}: upload it to this server. Commit it afterwards.',
    requestSchema: 'BlobSize',
    responseSchema: 'BlobUpload',
  },
  commitBlobUpload: {
    id: 'commitBlobUpload',
    method: 'POST',
    path: `${API_PREFIX}/blobs/sha256/{digest}/uploads/{upload}`,
    action: 'write',
    kind: 'json',
    idempotent: false,
    summary: 'Put a presigned upload in place once its bytes are in the object store; answers as an upload to this server does.',
    requestSchema: 'BlobSize',
    responseSchema: 'BlobStored',
  },
} as const satisfies Record<string, RouteSpec>

export const OPERATION_ROUTES = {
  healthz: {
    id: 'healthz',
    method: 'GET',
    path: '/healthz',
    action: 'public',
    kind: 'json',
    idempotent: true,
    summary: 'Liveness: 200 {"status": "ok"} while the server can read its store.',
    responseSchema: 'Health',
  },
  metrics: {
    id: 'metrics',
    method: 'GET',
    path: '/metrics',
    action: 'read',
    kind: 'text',
    idempotent: true,
    summary: 'Prometheus metrics (text format 0.0.4).',
    responseSchema: 'text',
  },
  openapi: {
    id: 'openapi',
    method: 'GET',
    path: `${API_PREFIX}/openapi.json`,
    action: 'public',
    kind: 'json',
    idempotent: true,
    summary: 'This API, as an OpenAPI 3.1 document.',
    responseSchema: 'OpenApi',
  },
} as const satisfies Record<string, RouteSpec>

export const ALL_ROUTES: RouteSpec[] = [...Object.values(JSON_ROUTES), ...Object.values(STREAM_ROUTES), ...Object.values(OPERATION_ROUTES)]

/** Fill a path template: every value is URL-encoded. */
export function fillPath(template: string, params: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name]
    if (value === undefined) throw new Error(`missing path parameter ${name}`)
    return encodeURIComponent(value)
  })
}

export function encodeQuery(query: QueryValues): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, item)
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

export interface CompiledRoute {
  spec: RouteSpec
  pattern: RegExp
  names: string[]
}

/** Match a request path against the route table: the route, and its decoded parameters. */
export function compileRoutes(routes: RouteSpec[] = ALL_ROUTES): (method: string, path: string) => {route?: CompiledRoute; params: Record<string, string>; allowed: string[]} {
  const compiled: CompiledRoute[] = routes.map((spec) => {
    const names: string[] = []
    const source = spec.path
      .split(/(\{\w+\})/)
      .map((part) => {
        const param = /^\{(\w+)\}$/.exec(part)
        if (!param) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')
        names.push(param[1])
        // Empty segments match too, so that an empty name reaches the engine's own check.
        return '([^/]*)'
      })
      .join('')
    return {spec, pattern: new RegExp(`^${source}$`), names}
  })
  return (method, path) => {
    const allowed: string[] = []
    for (const route of compiled) {
      const match = route.pattern.exec(path)
      if (!match) continue
      allowed.push(route.spec.method)
      if (route.spec.method !== method) continue
      const params: Record<string, string> = {}
      route.names.forEach((name, i) => {
        try {
          params[name] = decodeURIComponent(match[i + 1])
        } catch {
          throw invalid(`malformed path parameter ${name}`)
        }
      })
      return {route, params, allowed}
    }
    return {params: {}, allowed}
  }
}
