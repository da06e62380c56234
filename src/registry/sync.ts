/**
 * `sync FILE`: make the registry match a YAML or JSON description of a project's experiments,
 * runs (params, tags, datasets, metrics, status) and models (with files to push), as ModelDB's
 * sync_all does. Idempotent: what already matches is left alone, so a second run changes nothing.
 */
import {readFile} from 'node:fs/promises'
import {dirname, isAbsolute, resolve} from 'node:path'
import {parse as parseYaml} from 'yaml'
import type {Backend, FileEntry, JsonObject, MetricPointInput, RunStatus, RunSummary, SourceInfo} from '../backends/backend.js'
import {RUN_STATUSES} from '../backends/backend.js'
import {hashFile} from '../backends/digest.js'
import {fromFsError, invalid, RegistryError} from '../backends/errors.js'
import {metricKey} from '../backends/filter.js'
import {isJsonObject, quote, validateName} from '../backends/validation.js'
import {datasetReference} from './datasets.js'
import {collectFiles} from './files.js'
import {pushVersion} from './push.js'

export interface SyncChange {
  kind: 'project' | 'experiment' | 'run' | 'model' | 'version' | 'tag'
  name: string
  action: 'created' | 'updated'
  /** What changed, for updates (params, metrics, status ...). */
  fields: string[]
}

export interface SyncReport {
  project: string
  changes: SyncChange[]
  unchanged: number
}

export interface SyncOptions {
  author: string
  source?: SourceInfo
  /** The project when the file names none. */
  defaultProject: string
}

type Raw = Record<string, unknown>

function obj(value: unknown, where: string): Raw {
  if (value === undefined || value === null) return {}
  if (!isJsonObject(value)) throw invalid(`sync file: ${where} must be a mapping`)
  return value as Raw
}

function list(value: unknown, where: string): unknown[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw invalid(`sync file: ${where} must be a list`)
  return value
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw invalid(`sync file: ${where} must be a string`)
  return value
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (isJsonObject(value)) return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Raw)[k])]))
  return value
}

/** The points a run's `metrics:` mapping describes (see examples/sync.yaml for the forms). */
export function metricPoints(metrics: Raw, where: string): MetricPointInput[] {
  const points: MetricPointInput[] = []
  const series = (name: string, split: string, value: unknown, at: string) => {
    if (typeof value === 'number') points.push({name, split, step: 0, value})
    else if (Array.isArray(value)) {
      value.forEach((v, step) => {
        if (typeof v === 'number') points.push({name, split, step, value: v})
        else if (isJsonObject(v) && typeof (v as Raw).value === 'number') {
          const p = v as Raw
          points.push({name, split: typeof p.split === 'string' ? p.split : split, step: typeof p.step === 'number' ? p.step : step, value: p.value as number})
        } else throw invalid(`sync file: ${at}[${step}] must be a number or {step, value}`)
      })
    } else throw invalid(`sync file: ${at} must be a number, a list of numbers, or a mapping of split to those`)
  }
  for (const [name, value] of Object.entries(metrics)) {
    if (isJsonObject(value)) for (const [split, v] of Object.entries(value as Raw)) series(name, split, v, `${where}.${name}.${split}`)
    else series(name, '', value, `${where}.${name}`)
  }
  return points
}

/** The manifest a push of these paths would make, without storing anything. */
async function localManifest(paths: string[]): Promise<FileEntry[]> {
  const out: FileEntry[] = []
  for (const file of await collectFiles(paths)) {
    const {digest, size} = await hashFile(file.source)
    out.push({path: file.path, size, sha256: digest, mode: file.mode})
  }
  return out
}

export async function loadSyncFile(file: string): Promise<Raw> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw fromFsError(error, `sync file ${file}`)
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (error) {
    throw invalid(`sync file ${file} is neither valid YAML nor JSON: ${(error as Error).message.split('\n')[0]}`)
  }
  return obj(doc, 'the file')
}

export async function syncFile(backend: Backend, file: string, options: SyncOptions): Promise<SyncReport> {
  const doc = await loadSyncFile(file)
  const base = dirname(resolve(file))
  const local = (path: string) => (isAbsolute(path) ? path : resolve(base, path))
  const project = optionalString(doc.project, 'project') ?? options.defaultProject
  validateName('project', project)
  const report: SyncReport = {project, changes: [], unchanged: 0}
  const change = (kind: SyncChange['kind'], name: string, action: SyncChange['action'], fields: string[] = []) => report.changes.push({kind, name, action, fields})

  // project
  const projectDescription = optionalString(doc.description, 'description')
  try {
    await backend.getProject(project)
    report.unchanged++
  } catch (error) {
    if (!(error instanceof RegistryError && error.code === 'not_found')) throw error
    await backend.createProject(project, {description: projectDescription})
    change('project', project, 'created')
  }

  // experiments and their runs
  const runIds = new Map<string, string>()
  for (const [i, rawExperiment] of list(doc.experiments, 'experiments').entries()) {
    const e = obj(rawExperiment, `experiments[${i}]`)
    const name = optionalString(e.name, `experiments[${i}].name`)
    if (!name) throw invalid(`sync file: experiments[${i}] needs a name`)
    const wanted = {
      description: optionalString(e.description, `experiment ${name} description`),
      owner: optionalString(e.owner, `experiment ${name} owner`),
      framework: optionalString(e.framework, `experiment ${name} framework`),
    }
    let existing
    try {
      existing = await backend.getExperiment(project, name)
    } catch (error) {
      if (!(error instanceof RegistryError && error.code === 'not_found')) throw error
    }
    if (!existing) {
      await backend.createExperiment(project, name, wanted)
      change('experiment', name, 'created')
    } else {
      const fields = (Object.keys(wanted) as (keyof typeof wanted)[]).filter((k) => wanted[k] !== undefined && wanted[k] !== (existing[k] ?? undefined))
      if (fields.length) {
        await backend.updateExperiment(project, name, wanted)
        change('experiment', name, 'updated', fields)
      } else report.unchanged++
    }
    for (const [j, rawRun] of list(e.runs, `experiment ${name} runs`).entries()) {
      const id = await syncRun(backend, project, name, obj(rawRun, `experiment ${name} runs[${j}]`), base, options, change, () => report.unchanged++)
      runIds.set(`${name}/${optionalString(obj(rawRun, '').name, '')}`.toLowerCase(), id)
    }
  }

  // models
  for (const [i, rawModel] of list(doc.models, 'models').entries()) {
    await syncModel(backend, project, obj(rawModel, `models[${i}]`), i, local, runIds, options, change, () => report.unchanged++)
  }
  return report
}

async function findRun(backend: Backend, project: string, experiment: string, name: string): Promise<RunSummary | null> {
  const page = await backend.listRuns(project, {experiment, where: `name = '${name}'`, limit: 1})
  return page.items[0] ?? null
}

async function syncRun(
  backend: Backend,
  project: string,
  experiment: string,
  r: Raw,
  /** The sync file's directory: relative dataset paths are read from there (and recorded as written). */
  base: string,
  options: SyncOptions,
  change: (kind: SyncChange['kind'], name: string, action: SyncChange['action'], fields?: string[]) => void,
  same: () => void,
): Promise<string> {
  const name = optionalString(r.name, `a run of experiment ${experiment}`)
  if (!name) throw invalid(`sync file: every run of experiment ${experiment} needs a name (it is how sync finds it again)`)
  const label = `${experiment}/${name}`
  const params = obj(r.params, `run ${label} params`) as JsonObject
  const tags = Object.fromEntries(Object.entries(obj(r.tags, `run ${label} tags`)).map(([k, v]) => [k, String(v)]))
  const status = optionalString(r.status, `run ${label} status`) as RunStatus | undefined
  if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status)) throw invalid(`sync file: run ${label} status must be one of ${RUN_STATUSES.join(', ')}`)
  const fields: string[] = []

  let run = await findRun(backend, project, experiment, name)
  let created = false
  if (!run) {
    run = await backend.createRun(project, {
      experiment,
      name,
      params,
      tags,
      author: options.author,
      source: options.source,
      status: status === 'queued' ? 'queued' : 'running',
    })
    created = true
  } else {
    if (!sameJson({...run.params, ...params}, run.params)) {
      await backend.setRunParams(run.id, params, {overwrite: true})
      fields.push('params')
    }
    if (!sameJson({...run.tags, ...tags}, run.tags)) {
      await backend.updateRun(run.id, {tags})
      fields.push('tags')
    }
  }
  const full = await backend.getRun(run.id)

  // datasets
  for (const [tag, rawDataset] of Object.entries(obj(r.datasets, `run ${label} datasets`))) {
    const d = typeof rawDataset === 'string' ? {path: rawDataset} : obj(rawDataset, `run ${label} dataset ${tag}`)
    const given = optionalString(d.path ?? d.uri, `run ${label} dataset ${tag} path`)
    if (!given) throw invalid(`sync file: run ${label} dataset ${tag} needs a path or uri`)
    const wanted = await datasetReference(tag, given, {
      metadata: obj(d.metadata, `run ${label} dataset ${tag} metadata`) as JsonObject,
      hash: d.hash === true,
      base,
      what: `sync file: run ${label} dataset ${tag} path`,
    })
    const current = full.datasets.find((x) => x.tag === tag)
    if (!current || current.uri !== wanted.uri || current.sha256 !== wanted.sha256 || !sameJson(current.metadata, wanted.metadata)) {
      await backend.setDataset(run.id, wanted)
      if (!fields.includes('datasets')) fields.push('datasets')
    }
  }

  // metrics: only points that are missing or different
  const wantedPoints = metricPoints(obj(r.metrics, `run ${label} metrics`), `run ${label} metrics`)
  if (wantedPoints.length) {
    const have = new Map<string, number>()
    for await (const p of backend.readMetrics(run.id)) have.set(`${metricKey(p.name, p.split)}@${p.step}`, p.value)
    const missing = wantedPoints.filter((p) => have.get(`${metricKey(p.name, p.split ?? '')}@${p.step}`) !== p.value)
    if (missing.length) {
      await backend.logMetrics(
        run.id,
        (async function* () {
          yield* missing
        })(),
      )
      fields.push('metrics')
    }
  }

  // status last: a finished run's status cannot change
  if (status !== undefined && status !== full.status) {
    await backend.updateRun(run.id, {status})
    fields.push('status')
  }
  if (created) change('run', label, 'created')
  else if (fields.length) change('run', label, 'updated', fields)
  else same()
  return run.id
}

async function syncModel(
  backend: Backend,
  project: string,
  m: Raw,
  index: number,
  local: (path: string) => string,
  runIds: Map<string, string>,
  options: SyncOptions,
  change: (kind: SyncChange['kind'], name: string, action: SyncChange['action'], fields?: string[]) => void,
  same: () => void,
): Promise<void> {
  const name = optionalString(m.name, `models[${index}].name`)
  if (!name) throw invalid(`sync file: models[${index}] needs a name`)
  const wanted = {
    description: optionalString(m.description, `model ${name} description`),
    owner: optionalString(m.owner, `model ${name} owner`),
    task: optionalString(m.task, `model ${name} task`),
    metadata: obj(m.metadata, `model ${name} metadata`) as JsonObject,
    labels: Object.fromEntries(Object.entries(obj(m.labels, `model ${name} labels`)).map(([k, v]) => [k, String(v)])),
  }
  let model
  try {
    model = await backend.getModel(project, name)
  } catch (error) {
    if (!(error instanceof RegistryError && error.code === 'not_found')) throw error
  }
  if (!model) {
    model = await backend.createModel(project, name, wanted)
    change('model', name, 'created')
  } else {
    const fields: string[] = []
    if (wanted.description !== undefined && wanted.description !== model.description) fields.push('description')
    if (wanted.owner !== undefined && wanted.owner !== model.owner) fields.push('owner')
    if (wanted.task !== undefined && wanted.task !== model.task) fields.push('task')
    if (!sameJson({...model.metadata, ...wanted.metadata}, model.metadata)) fields.push('metadata')
    if (!sameJson({...model.labels, ...wanted.labels}, model.labels)) fields.push('labels')
    if (fields.length) {
      await backend.updateModel(project, name, wanted)
      change('model', name, 'updated', fields)
    } else same()
  }

  const push = m.push === undefined ? null : obj(m.push, `model ${name} push`)
  if (!push) return
  const paths = list(push.paths ?? (push.path === undefined ? undefined : [push.path]), `model ${name} push.paths`).map((p) => local(String(p)))
  if (paths.length === 0) throw invalid(`sync file: model ${name} push needs paths`)
  const runRef = optionalString(push.run, `model ${name} push.run`)
  let runId: string | undefined
  if (runRef) {
    runId = runIds.get(runRef.toLowerCase())
    if (!runId) {
      const [experiment, runName] = runRef.split('/')
      const found = experiment && runName ? await findRun(backend, project, experiment, runName) : null
      if (!found) throw invalid(`sync file: model ${name} push.run ${quote(runRef)} is not a run (expected EXPERIMENT/RUN-NAME)`)
      runId = found.id
    }
  }
  const versionMetadata = obj(push.metadata, `model ${name} push.metadata`) as JsonObject
  const metrics = Object.fromEntries(Object.entries(obj(push.metrics, `model ${name} push.metrics`)).map(([k, v]) => [k, Number(v)]))
  const comment = optionalString(push.comment, `model ${name} push.comment`)
  const tags = list(push.tags, `model ${name} push.tags`).map(String)

  // Push only when the latest version differs from what the file describes.
  let latest = null
  if (model.latest_version !== null) latest = await backend.getVersion(project, name, 'latest')
  const manifest = await localManifest(paths)
  const sameFiles =
    latest !== null &&
    sameJson(
      latest.files.map((f) => [f.path, f.sha256, f.mode]),
      manifest.map((f) => [f.path, f.sha256, f.mode]),
    )
  const sameFields =
    latest !== null &&
    sameJson(latest.metadata, versionMetadata) &&
    sameJson(latest.metrics, metrics) &&
    (comment === undefined || latest.comment === comment) &&
    (runId === undefined || latest.lineage?.run?.id === runId)
  let version = latest?.version ?? null
  if (!(sameFiles && sameFields)) {
    const pushed = await pushVersion(backend, {
      project,
      model: name,
      paths,
      author: options.author,
      source: options.source,
      comment,
      metadata: versionMetadata,
      metrics,
      run_id: runId,
    })
    version = pushed.version.version
    change('version', `${name}:${version}`, 'created')
  } else same()
  for (const tag of tags) {
    const move = await backend.setTag(project, name, tag, String(version))
    if (move.previous !== move.version) change('tag', `${name}:${tag}`, move.previous === null ? 'created' : 'updated', [`-> ${move.version}`])
  }
}
