/** The OpenAPI 3.1 document of the HTTP API, generated from the route table. */
import {ERROR_CODES} from '../backends/errors.js'
import {ALL_ROUTES, type RouteSpec} from './routes.js'

type Schema = Record<string, unknown>

const str = {type: 'string'}
const int = {type: 'integer'}
const nullable = (schema: Schema): Schema => ({anyOf: [schema, {type: 'null'}]})
const ref = (name: string): Schema => ({$ref: `#/components/schemas/${name}`})
const obj = (properties: Record<string, Schema>, required: string[] = Object.keys(properties)): Schema => ({
  type: 'object',
  properties,
  required,
})
const page = (item: string): Schema => obj({items: {type: 'array', items: ref(item)}, total: int, limit: int, offset: int})
const time = {type: 'string', format: 'date-time'}
const jsonObject = {type: 'object', additionalProperties: true}
const stringMap = {type: 'object', additionalProperties: {type: 'string'}}
const numberMap = {type: 'object', additionalProperties: {type: 'number'}}

const FILE = obj({path: str, size: int, sha256: {type: 'string', pattern: '^[0-9a-f]{64}$'}, mode: {type: 'integer', enum: [0o644, 0o755]}})
const SOURCE = obj({
  host: nullable(str),
  git: nullable(obj({commit: str, branch: nullable(str), dirty: {type: 'boolean'}, remote: nullable(str)})),
  ci: nullable(obj({provider: str, job: nullable(str), run_id: nullable(str), url: nullable(str)})),
})
const VERSION_SUMMARY: Record<string, Schema> = {
  project: str,
  model: str,
  version: int,
  tags: {type: 'array', items: str},
  comment: str,
  author: str,
  created_at: time,
  metadata: jsonObject,
  metrics: numberMap,
  framework: nullable(str),
  format: nullable(str),
  size: int,
  file_count: int,
  attachment_count: int,
  source: ref('Source'),
}

export const SCHEMAS: Record<string, Schema> = {
  Error: obj({error: obj({code: {type: 'string', enum: Object.keys(ERROR_CODES)}, message: str})}),
  Health: obj({status: {type: 'string', const: 'ok'}}),
  OpenApi: jsonObject,
  Project: obj({name: str, description: str, created_at: time, model_count: int}),
  ProjectCreate: obj({name: str, description: str}, ['name']),
  ProjectPage: page('Project'),
  Model: obj({
    project: str,
    name: str,
    description: str,
    owner: nullable(str),
    task: nullable(str),
    metadata: jsonObject,
    labels: stringMap,
    created_at: time,
    updated_at: time,
    version_count: int,
    latest_version: nullable(int),
  }),
  ModelCreate: obj({name: str, description: str, owner: nullable(str), task: nullable(str), metadata: jsonObject, labels: stringMap}, ['name']),
  ModelPatch: obj(
    {
      description: str,
      owner: nullable(str),
      task: nullable(str),
      metadata: jsonObject,
      unset: {type: 'array', items: str},
      labels: stringMap,
      unlabel: {type: 'array', items: str},
    },
    [],
  ),
  ModelPage: page('Model'),
  File: FILE,
  Source: SOURCE,
  VersionSummary: obj(VERSION_SUMMARY),
  Version: obj({
    ...VERSION_SUMMARY,
    files: {type: 'array', items: ref('File')},
    attachments: {type: 'array', items: ref('File')},
    lineage: nullable(ref('Lineage')),
  }),
  VersionPage: page('VersionSummary'),
  VersionCreate: obj(
    {
      files: {type: 'array', items: ref('File')},
      attachments: {type: 'array', items: ref('File')},
      comment: str,
      author: str,
      metadata: jsonObject,
      metrics: numberMap,
      framework: nullable(str),
      format: nullable(str),
      tags: {type: 'array', items: str},
      source: ref('Source'),
      request_id: {type: 'string', pattern: '^[A-Za-z0-9_-]{16,64}$'},
      run_id: str,
      datasets: {type: 'array', items: {allOf: [ref('DatasetInput'), obj({tag: str})]}},
    },
    ['files', 'author'],
  ),
  VersionCreated: obj({version: ref('Version'), model_created: {type: 'boolean'}}),
  DeleteResult: obj({project: str, model: str, versions: {type: 'array', items: int}, model_deleted: {type: 'boolean'}}),
  Tag: obj({tag: str, version: int, updated_at: time}),
  TagList: {type: 'array', items: ref('Tag')},
  TagSet: obj({selector: str, expect_previous: nullable(int)}, ['selector']),
  TagMove: obj({project: str, model: str, tag: str, version: int, previous: nullable(int)}),
  TagRemoval: obj({project: str, model: str, tag: str, version: int}),
  LogEntry: obj({
    id: int,
    time,
    type: str,
    project: str,
    model: str,
    version: nullable(int),
    tag: nullable(str),
    previous: nullable(int),
    tags: {type: 'array', items: str},
    author: str,
    comment: str,
  }),
  LogPage: page('LogEntry'),
  Event: obj({id: int, time, type: str, project: str, model: nullable(str), version: nullable(int), tag: nullable(str), actor: str, data: jsonObject}),
  EventPage: page('Event'),
  Experiment: obj({project: str, name: str, description: str, owner: nullable(str), framework: nullable(str), created_at: time, updated_at: time, run_count: int}),
  ExperimentCreate: obj({name: str, description: str, owner: nullable(str), framework: nullable(str)}, []),
  ExperimentPage: page('Experiment'),
  RunCreate: obj(
    {
      experiment: str,
      name: nullable(str),
      status: {type: 'string', enum: ['queued', 'running']},
      params: jsonObject,
      tags: stringMap,
      author: str,
      source: ref('Source'),
    },
    ['experiment', 'author'],
  ),
  RunPatch: obj({status: {type: 'string', enum: ['queued', 'running', 'completed', 'failed', 'killed']}, name: nullable(str), tags: stringMap}, []),
  RunSummary: obj({
    id: str,
    project: str,
    experiment: str,
    name: nullable(str),
    status: str,
    params: jsonObject,
    tags: stringMap,
    metrics: numberMap,
    author: str,
    created_at: time,
    start_time: nullable(time),
    end_time: nullable(time),
  }),
  Run: {
    allOf: [
      ref('RunSummary'),
      obj({
        source: ref('Source'),
        metric_summaries: {
          type: 'array',
          items: obj({name: str, split: str, last: {type: 'number'}, last_step: int, min: {type: 'number'}, max: {type: 'number'}, count: int}),
        },
        datasets: {type: 'array', items: ref('Dataset')},
        checkpoints: {type: 'array', items: ref('CheckpointSummary')},
        versions: {type: 'array', items: obj({project: str, model: str, version: int})},
      }),
    ],
  },
  RunPage: page('RunSummary'),
  RunDeleted: obj({id: str, project: str, experiment: str}),
  ParamsSet: obj({params: jsonObject, overwrite: {type: 'boolean'}}, ['params']),
  Params: jsonObject,
  MetricPoint: obj({name: str, split: str, step: int, value: {type: 'number'}, time}),
  MetricPointInput: obj({name: str, value: {type: 'number'}, step: int, split: str, time}, ['name', 'value']),
  MetricCount: obj({count: int}),
  MetricDownsample: obj({
    run: str,
    name: str,
    x: {type: 'string', enum: ['step', 'time']},
    buckets: int,
    series: {
      type: 'array',
      items: obj({
        split: str,
        count: int,
        exact: {type: 'boolean'},
        step: {type: 'array', items: int},
        time: {type: 'array', items: int, description: 'milliseconds since the epoch'},
        value: {type: 'array', items: {type: 'number'}},
      }),
    },
  }),
  DatasetInput: obj({uri: str, sha256: nullable(str), size: nullable(int), metadata: jsonObject}, ['uri']),
  Dataset: obj({tag: str, uri: str, sha256: nullable(str), size: nullable(int), metadata: jsonObject, updated_at: time}),
  CheckpointCreate: obj(
    {files: {type: 'array', items: ref('File')}, step: nullable(int), metrics: numberMap, metadata: jsonObject, request_id: str},
    ['files'],
  ),
  CheckpointSummary: obj({
    uuid: str,
    run_id: str,
    project: str,
    experiment: str,
    step: nullable(int),
    metrics: numberMap,
    metadata: jsonObject,
    size: int,
    file_count: int,
    created_at: time,
  }),
  Checkpoint: {allOf: [ref('CheckpointSummary'), obj({files: {type: 'array', items: ref('File')}})]},
  CheckpointList: {type: 'array', items: ref('CheckpointSummary')},
  RegisterInput: obj(
    {checkpoint: str, author: str, comment: str, tags: {type: 'array', items: str}, metadata: jsonObject, source: ref('Source'), request_id: str},
    ['checkpoint', 'author'],
  ),
  Lineage: obj({
    run: nullable(obj({id: str, name: nullable(str), experiment: str, status: str})),
    checkpoint: nullable(obj({uuid: str, step: nullable(int)})),
    params: jsonObject,
    metrics: numberMap,
    datasets: {type: 'array', items: ref('Dataset')},
  }),
  VerifyQuery: obj({project: str, model: str, selector: str}, []),
  VerifyReport: obj({
    ok: {type: 'boolean'},
    scope: str,
    checked: obj({versions: int, checkpoints: int, blobs: int, bytes: int}),
    problems: {
      type: 'array',
      items: obj({
        kind: {type: 'string', enum: ['database', 'blob_missing', 'blob_size', 'blob_digest', 'manifest']},
        blob: nullable(str),
        message: str,
        versions: {type: 'array', items: str},
        checkpoints: {type: 'array', items: str},
      }),
    },
    warnings: {type: 'array', items: obj({kind: str, message: str, count: int, bytes: int})},
  }),
  GcOptions: obj({dry_run: {type: 'boolean'}, grace_seconds: {type: 'number'}}, []),
  GcReport: obj({dry_run: {type: 'boolean'}, blobs: obj({count: int, bytes: int}), temp_files: obj({count: int, bytes: int}), kept_recent: obj({count: int, bytes: int})}),
  DigestList: obj({digests: {type: 'array', items: {type: 'string', pattern: '^[0-9a-f]{64}$'}}}),
  /** The answer to a missing-blob query: the digests the caller must upload, as a bare array. */
  MissingDigests: {type: 'array', items: {type: 'string', pattern: '^[0-9a-f]{64}$'}},
  BlobStored: obj({digest: str, size: int, stored: {type: 'boolean'}}),
  /** A model's whole history (see docs/move.md; Backend.restoreModel). */
  RestoreModel: obj({
    project: obj({name: str, description: str, created_at: time}),
    model: obj({
      name: str,
      description: str,
      owner: nullable(str),
      task: nullable(str),
      metadata: jsonObject,
      labels: stringMap,
      created_at: time,
      updated_at: time,
      last_number: int,
    }),
    versions: {
      type: 'array',
      items: obj({
        number: int,
        comment: str,
        author: str,
        created_at: time,
        metadata: jsonObject,
        metrics: numberMap,
        framework: nullable(str),
        format: nullable(str),
        source: SOURCE,
        files: {type: 'array', items: FILE},
        attachments: {type: 'array', items: FILE},
        lineage: nullable(jsonObject),
      }),
    },
    tags: {type: 'array', items: obj({tag: str, version: int, updated_at: time})},
    events: {type: 'array', items: obj({time, type: str, version: nullable(int), tag: nullable(str), actor: str, data: jsonObject})},
  }),
  /** A run without its metric points (Backend.restoreRun). */
  RestoreRun: obj({
    project: obj({name: str, description: str, created_at: time}),
    experiment: obj({name: str, description: str, owner: nullable(str), framework: nullable(str), created_at: time, updated_at: time}),
    run: jsonObject,
    datasets: {type: 'array', items: jsonObject},
    checkpoints: {type: 'array', items: obj({uuid: str, step: nullable(int), metrics: numberMap, metadata: jsonObject, created_at: time, files: {type: 'array', items: FILE}})},
    metric_summaries: {type: 'array', items: jsonObject},
  }),
  RestoreResult: obj({
    kind: {type: 'string', enum: ['model', 'run']},
    project: str,
    name: str,
    outcome: {type: 'string', enum: ['created', 'updated', 'unchanged']},
    written: int,
    unchanged: int,
    points_needed: {type: 'boolean'},
    dry_run: {type: 'boolean'},
  }),
  HistoryDigests: obj({
    project: str,
    models: {type: 'array', items: obj({name: str, digest: str, versions: int})},
    runs: {type: 'array', items: obj({id: str, digest: str, checkpoints: int})},
  }),
  BlobSize: obj({size: int}),
  /** A presigned read, or url null: read through the server. */
  BlobUrl: {
    oneOf: [obj({url: str, size: int, expires_at: str}), obj({url: {type: 'null'}})],
  },
  /**
   * A presigned upload (PUT url with these headers, then commit `upload`); or url null with
   * stored false: the blob is in the store and in view already, send nothing; or url null
   * alone: upload through the server.
   */
  BlobUpload: {
    oneOf: [
      obj({url: str, headers: {type: 'object', additionalProperties: str}, upload: {type: 'string', pattern: '^[0-9a-f]{32}$'}, expires_at: str}),
      obj({url: {type: 'null'}, digest: str, size: int, stored: {const: false}}),
      obj({url: {type: 'null'}}),
    ],
  },
}

const QUERY_SCHEMAS: Record<string, Schema> = {
  limit: {type: 'integer', minimum: 1},
  offset: {type: 'integer', minimum: 0},
  after_id: {type: 'integer', minimum: 0},
  type: {type: 'array', items: str},
  label: {type: 'array', items: str},
  since: time,
  x: {type: 'string', enum: ['step', 'time']},
  buckets: {type: 'integer', minimum: 1, maximum: 2000},
  from: {type: 'integer', minimum: 0},
  to: {type: 'integer', minimum: 0},
}

function responseContent(route: RouteSpec): Schema {
  switch (route.responseSchema) {
    case 'binary':
      return {'application/octet-stream': {schema: {type: 'string', format: 'binary'}}}
    case 'ndjson':
      return {'application/x-ndjson': {schema: ref('Event')}}
    case 'ndjson-metric':
      return {'application/x-ndjson': {schema: ref('MetricPoint')}}
    case 'text':
      return {'text/plain': {schema: str}}
    default:
      return {'application/json': {schema: ref(route.responseSchema ?? 'OpenApi')}}
  }
}

function operation(route: RouteSpec): Schema {
  const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({name: m[1], in: 'path', required: true, schema: str}))
  const queryParams = (route.query ?? []).map((name) => ({
    name,
    in: 'query',
    required: false,
    schema: QUERY_SCHEMAS[name] ?? str,
    ...(QUERY_SCHEMAS[name]?.type === 'array' ? {style: 'form', explode: true} : {}),
  }))
  const op: Schema = {
    operationId: route.id,
    summary: route.summary,
    'x-modelreg-scope': route.action,
    parameters: [...pathParams, ...queryParams],
    responses: {
      [String(route.status ?? 200)]: {description: 'Success', content: responseContent(route)},
      default: {description: 'An error, with the code that maps to the status', content: {'application/json': {schema: ref('Error')}}},
    },
  }
  if (route.kind === 'blob-download') {
    ;(op.parameters as Schema[]).push({name: 'Range', in: 'header', required: false, schema: str})
    ;(op.responses as Schema)['206'] = {description: 'Partial content', content: responseContent(route)}
  }
  if (route.requestSchema) op.requestBody = {required: true, content: {'application/json': {schema: ref(route.requestSchema)}}}
  if (route.kind === 'ndjson-upload') op.requestBody = {required: true, content: {'application/x-ndjson': {schema: ref('MetricPointInput')}}}
  if (route.kind === 'blob-upload') op.requestBody = {required: true, content: {'application/octet-stream': {schema: {type: 'string', format: 'binary'}}}}
  op.security = route.action === 'public' ? [] : [{bearer: []}]
  return op
}

export function buildOpenApi(): Schema {
  const paths: Record<string, Record<string, Schema>> = {}
  for (const route of ALL_ROUTES) {
    paths[route.path] ??= {}
    paths[route.path][route.method.toLowerCase()] = operation(route)
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'modelreg',
      version: '1',
      description: 'The modelreg registry API. Every error is {"error": {"code", "message"}}; codes map to HTTP statuses one to one.',
    },
    paths,
    components: {
      schemas: SCHEMAS,
      securitySchemes: {bearer: {type: 'http', scheme: 'bearer', description: 'A token from `modelreg server tokens create`.'}},
    },
  }
}
