/**
 * `sync FILE`: make the registry match a YAML or JSON description of a project's experiments,
 * runs (params, tags, datasets, metrics, status) and models (with files to push), as ModelDB's
 * sync_all does. Idempotent: what already matches is left alone, so a second run changes nothing.
 */
import {dirname, isAbsolute, resolve} from 'node:path'
import type {Backend, DatasetInput, FileEntry, JsonObject, MetricPointInput, RunStatus, RunSummary, SourceInfo} from '../backends/backend.js'
import {FINISHED_STATUSES, RUN_STATUSES} from '../backends/backend.js'
import {hashFile} from '../backends/digest.js'
import {invalid, RegistryError} from '../backends/errors.js'
import {metricKey} from '../backends/filter.js'
import {
  isJsonObject,
  metricPointProblem,
  quote,
  validateDatasetInput,
  validateLabels,
  validateMetadata,
  validateMetricName,
  validateMetrics,
  validateName,
  validateSplit,
  validateTag,
  validateText,
} from '../backends/validation.js'
import {FILE_LIMITS, readBoundedFile} from '../config/bounded-file.js'
import {parseStrictYaml} from '../config/strict-yaml.js'
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
  /** What a person should know about how the file was read (e.g. which of several runs of one name was meant). */
  notes: string[]
}

export interface SyncOptions {
  author: string
  source?: SourceInfo
  /** The project when the file names none. */
  defaultProject: string
  /** Log the file's new points to runs that have finished too (see MetricLogOptions). */
  allowFinished?: boolean
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

/** The points a run's `metrics:` mapping describes (see examples/sync.yaml for the forms), each checked. */
export function metricPoints(metrics: Raw, where: string): MetricPointInput[] {
  const points: MetricPointInput[] = []
  const add = (point: MetricPointInput, at: string) => {
    try {
      validateMetricName(point.name)
      validateSplit(point.split)
    } catch (error) {
      throw invalid(`sync file: ${at}: ${(error as Error).message}`)
    }
    const problem = metricPointProblem(point.value, point.step)
    if (problem) throw invalid(`sync file: ${at}: ${problem}`)
    points.push(point)
  }
  const series = (name: string, split: string, value: unknown, at: string) => {
    if (typeof value === 'number') add({name, split, step: 0, value}, at)
    else if (Array.isArray(value)) {
      value.forEach((v, step) => {
        if (typeof v === 'number') add({name, split, step, value: v}, `${at}[${step}]`)
        else if (isJsonObject(v) && typeof (v as Raw).value === 'number') {
          const p = v as Raw
          add({name, split: typeof p.split === 'string' ? p.split : split, step: p.step === undefined ? step : (p.step as number), value: p.value as number}, `${at}[${step}]`)
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
  const source = `sync file ${file}`
  return obj(parseStrictYaml(readBoundedFile(file, FILE_LIMITS.sync, source).toString('utf8'), source), 'the file')
}

// ---------------------------------------------------------------------------------------------
// The plan: the whole file read and checked, every path it names hashed, before anything is
// written. A file with a mistake anywhere leaves the store as it was.

interface PlannedRun {
  name: string
  label: string
  params: JsonObject
  tags: Record<string, string>
  status: RunStatus | undefined
  datasets: DatasetInput[]
  points: MetricPointInput[]
}

interface PlannedExperiment {
  name: string
  wanted: {description?: string; owner?: string; framework?: string}
  runs: PlannedRun[]
}

interface PlannedPush {
  paths: string[]
  manifest: FileEntry[]
  /** EXPERIMENT/RUN-NAME as the file gives it. */
  run: string | undefined
  metadata: JsonObject
  metrics: Record<string, number>
  comment: string | undefined
  tags: string[]
}

interface PlannedModel {
  name: string
  wanted: {description?: string; owner?: string; task?: string; metadata: JsonObject; labels: Record<string, string>}
  push: PlannedPush | null
}

interface SyncPlan {
  project: string
  description: string | undefined
  experiments: PlannedExperiment[]
  models: PlannedModel[]
}

/** Check a registry rule on a value from the file, naming where in the file it is. */
function checked<T>(where: string, check: () => T): T {
  try {
    return check()
  } catch (error) {
    if (error instanceof RegistryError && !error.message.startsWith('sync file')) throw new RegistryError(error.code, `sync file: ${where}: ${error.message}`, error.details)
    throw error
  }
}

async function planRun(r: Raw, experiment: string, base: string, where: string): Promise<PlannedRun> {
  const name = optionalString(r.name, `${where}.name`)
  if (!name) throw invalid(`sync file: every run of experiment ${experiment} needs a name (it is how sync finds it again)`)
  checked(`${where}.name`, () => validateName('model', name))
  const label = `${experiment}/${name}`
  const params = checked(`run ${label} params`, () => validateMetadata(obj(r.params, `run ${label} params`), 'params'))
  const tags = checked(`run ${label} tags`, () => validateLabels(Object.fromEntries(Object.entries(obj(r.tags, `run ${label} tags`)).map(([k, v]) => [k, String(v)]))))
  const status = optionalString(r.status, `run ${label} status`) as RunStatus | undefined
  if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status)) throw invalid(`sync file: run ${label} status must be one of ${RUN_STATUSES.join(', ')}`)
  const datasets: DatasetInput[] = []
  for (const [tag, rawDataset] of Object.entries(obj(r.datasets, `run ${label} datasets`))) {
    const at = `run ${label} dataset ${tag}`
    const d = typeof rawDataset === 'string' ? {path: rawDataset} : obj(rawDataset, at)
    const given = optionalString(d.path ?? d.uri, `${at} path`)
    if (!given) throw invalid(`sync file: ${at} needs a path or uri`)
    const input = await datasetReference(tag, given, {metadata: obj(d.metadata, `${at} metadata`) as JsonObject, hash: d.hash === true, base, what: `sync file: ${at} path`})
    datasets.push(checked(at, () => validateDatasetInput(input)))
  }
  const points = metricPoints(obj(r.metrics, `run ${label} metrics`), `run ${label} metrics`)
  return {name, label, params, tags, status, datasets, points}
}

async function planModel(m: Raw, index: number, local: (path: string) => string): Promise<PlannedModel> {
  const name = optionalString(m.name, `models[${index}].name`)
  if (!name) throw invalid(`sync file: models[${index}] needs a name`)
  checked(`models[${index}].name`, () => validateName('model', name))
  const description = optionalString(m.description, `model ${name} description`)
  if (description !== undefined) checked(`model ${name} description`, () => validateText(description, 'description'))
  const wanted = {
    description,
    owner: optionalString(m.owner, `model ${name} owner`),
    task: optionalString(m.task, `model ${name} task`),
    metadata: checked(`model ${name} metadata`, () => validateMetadata(obj(m.metadata, `model ${name} metadata`))),
    labels: checked(`model ${name} labels`, () => validateLabels(Object.fromEntries(Object.entries(obj(m.labels, `model ${name} labels`)).map(([k, v]) => [k, String(v)])))),
  }
  const raw = m.push === undefined ? null : obj(m.push, `model ${name} push`)
  if (!raw) return {name, wanted, push: null}
  const paths = list(raw.paths ?? (raw.path === undefined ? undefined : [raw.path]), `model ${name} push.paths`).map((p) => local(String(p)))
  if (paths.length === 0) throw invalid(`sync file: model ${name} push needs paths`)
  const metrics = checked(`model ${name} push.metrics`, () => validateMetrics(obj(raw.metrics, `model ${name} push.metrics`)))
  const comment = optionalString(raw.comment, `model ${name} push.comment`)
  if (comment !== undefined) checked(`model ${name} push.comment`, () => validateText(comment, 'comment'))
  const push: PlannedPush = {
    paths,
    // Every file hashed now: a path that is missing or unreadable stops the sync before it writes.
    manifest: await checkedManifest(paths, `model ${name} push`),
    run: optionalString(raw.run, `model ${name} push.run`),
    metadata: checked(`model ${name} push.metadata`, () => validateMetadata(obj(raw.metadata, `model ${name} push.metadata`))),
    metrics,
    comment,
    tags: list(raw.tags, `model ${name} push.tags`).map((t) => checked(`model ${name} push.tags`, () => validateTag(String(t)))),
  }
  return {name, wanted, push}
}

async function checkedManifest(paths: string[], where: string): Promise<FileEntry[]> {
  try {
    return await localManifest(paths)
  } catch (error) {
    if (error instanceof RegistryError) throw new RegistryError(error.code, `sync file: ${where}: ${error.message}`, error.details)
    throw error
  }
}

async function planSync(doc: Raw, file: string, defaultProject: string): Promise<SyncPlan> {
  const base = dirname(resolve(file))
  const local = (path: string) => (isAbsolute(path) ? path : resolve(base, path))
  const project = optionalString(doc.project, 'project') ?? defaultProject
  checked('project', () => validateName('project', project))
  const description = optionalString(doc.description, 'description')
  const experiments: PlannedExperiment[] = []
  for (const [i, rawExperiment] of list(doc.experiments, 'experiments').entries()) {
    const e = obj(rawExperiment, `experiments[${i}]`)
    const name = optionalString(e.name, `experiments[${i}].name`)
    if (!name) throw invalid(`sync file: experiments[${i}] needs a name`)
    checked(`experiments[${i}].name`, () => validateName('experiment', name))
    const runs: PlannedRun[] = []
    for (const [j, rawRun] of list(e.runs, `experiment ${name} runs`).entries()) {
      runs.push(await planRun(obj(rawRun, `experiment ${name} runs[${j}]`), name, base, `experiment ${name} runs[${j}]`))
    }
    experiments.push({
      name,
      wanted: {
        description: optionalString(e.description, `experiment ${name} description`),
        owner: optionalString(e.owner, `experiment ${name} owner`),
        framework: optionalString(e.framework, `experiment ${name} framework`),
      },
      runs,
    })
  }
  const models: PlannedModel[] = []
  for (const [i, rawModel] of list(doc.models, 'models').entries()) models.push(await planModel(obj(rawModel, `models[${i}]`), i, local))
  return {project, description, experiments, models}
}

// ---------------------------------------------------------------------------------------------
// Applying the plan

type Change = (kind: SyncChange['kind'], name: string, action: SyncChange['action'], fields?: string[]) => void

/** The run a name means: the newest of that name in the experiment (a re-run makes another). */
async function findRun(backend: Backend, project: string, experiment: string, name: string, notes: string[]): Promise<RunSummary | null> {
  let page
  try {
    // Run names are checked (letters, digits, '.', '_', '-'), so they quote safely.
    page = await backend.listRuns(project, {experiment, where: `name = '${name}'`, sort_by: 'created_at', order_by: 'desc', limit: 1})
  } catch (error) {
    if (error instanceof RegistryError && error.code === 'not_found') return null
    throw error
  }
  const run = page.items[0] ?? null
  if (run && page.total > 1) {
    const note = `experiment ${experiment} has ${page.total} runs named ${quote(name)}: using the newest (${run.id})`
    if (!notes.includes(note)) notes.push(note)
  }
  return run
}

export async function syncFile(backend: Backend, file: string, options: SyncOptions): Promise<SyncReport> {
  const plan = await planSync(await loadSyncFile(file), file, options.defaultProject)
  const {project} = plan
  const report: SyncReport = {project, changes: [], unchanged: 0, notes: []}
  const change: Change = (kind, name, action, fields = []) => report.changes.push({kind, name, action, fields})
  const same = () => report.unchanged++

  // What the plan finds in the store, read before the first write: a run that finished cannot
  // change status nor take more points, and a model's push may name a run that only the store knows.
  const found = new Map<PlannedRun, RunSummary | null>()
  for (const e of plan.experiments) {
    for (const r of e.runs) {
      const run = await findRun(backend, project, e.name, r.name, report.notes)
      if (run && FINISHED_STATUSES.includes(run.status)) {
        if (r.status !== undefined && r.status !== run.status) {
          throw new RegistryError('conflict', `sync file: run ${r.label} already finished (${run.status}); its status cannot change to ${r.status}`)
        }
        const points = options.allowFinished ? [] : await missingPoints(backend, run.id, r.points)
        if (points.length > 0) {
          const n = `${points.length} new or changed point${points.length === 1 ? '' : 's'}`
          throw new RegistryError('conflict', `sync file: run ${r.label} already finished (${run.status}): it takes no more points (the file has ${n}); use --allow-finished to add them after its end`)
        }
      }
      found.set(r, run)
    }
  }
  const inFile = new Set(plan.experiments.flatMap((e) => e.runs.map((r) => r.label.toLowerCase())))
  for (const m of plan.models) {
    const ref = m.push?.run
    if (!ref || inFile.has(ref.toLowerCase())) continue
    const [experiment, runName, extra] = ref.split('/')
    const run = experiment && runName && extra === undefined ? await findRun(backend, project, experiment, runName, report.notes) : null
    if (!run) throw invalid(`sync file: model ${m.name} push.run ${quote(ref)} is not a run (expected EXPERIMENT/RUN-NAME)`)
  }

  try {
    await backend.getProject(project)
    same()
  } catch (error) {
    if (!(error instanceof RegistryError && error.code === 'not_found')) throw error
    await backend.createProject(project, {description: plan.description})
    change('project', project, 'created')
  }

  const runIds = new Map<string, string>()
  for (const e of plan.experiments) {
    let existing
    try {
      existing = await backend.getExperiment(project, e.name)
    } catch (error) {
      if (!(error instanceof RegistryError && error.code === 'not_found')) throw error
    }
    if (!existing) {
      await backend.createExperiment(project, e.name, e.wanted)
      change('experiment', e.name, 'created')
    } else {
      const fields = (Object.keys(e.wanted) as (keyof typeof e.wanted)[]).filter((k) => e.wanted[k] !== undefined && e.wanted[k] !== (existing[k] ?? undefined))
      if (fields.length) {
        await backend.updateExperiment(project, e.name, e.wanted)
        change('experiment', e.name, 'updated', fields)
      } else same()
    }
    for (const r of e.runs) runIds.set(r.label.toLowerCase(), await applyRun(backend, project, e.name, r, found.get(r) ?? null, options, change, same))
  }

  for (const m of plan.models) await applyModel(backend, project, m, runIds, report.notes, options, change, same)
  return report
}

/** The file's points that the run lacks or holds with another value. */
async function missingPoints(backend: Backend, run: string, points: MetricPointInput[]): Promise<MetricPointInput[]> {
  if (points.length === 0) return []
  const have = new Map<string, number>()
  for await (const p of backend.readMetrics(run)) have.set(`${metricKey(p.name, p.split)}@${p.step}`, p.value)
  return points.filter((p) => have.get(`${metricKey(p.name, p.split ?? '')}@${p.step}`) !== p.value)
}

async function applyRun(
  backend: Backend,
  project: string,
  experiment: string,
  r: PlannedRun,
  existing: RunSummary | null,
  options: SyncOptions,
  change: Change,
  same: () => void,
): Promise<string> {
  const fields: string[] = []
  let run = existing
  let created = false
  if (!run) {
    run = await backend.createRun(project, {
      experiment,
      name: r.name,
      params: r.params,
      tags: r.tags,
      author: options.author,
      source: options.source,
      status: r.status === 'queued' ? 'queued' : 'running',
    })
    created = true
  } else {
    if (!sameJson({...run.params, ...r.params}, run.params)) {
      await backend.setRunParams(run.id, r.params, {overwrite: true})
      fields.push('params')
    }
    if (!sameJson({...run.tags, ...r.tags}, run.tags)) {
      await backend.updateRun(run.id, {tags: r.tags})
      fields.push('tags')
    }
  }
  const full = await backend.getRun(run.id)

  for (const wanted of r.datasets) {
    const current = full.datasets.find((x) => x.tag === wanted.tag)
    if (!current || current.uri !== wanted.uri || current.sha256 !== wanted.sha256 || !sameJson(current.metadata, wanted.metadata)) {
      await backend.setDataset(run.id, wanted)
      if (!fields.includes('datasets')) fields.push('datasets')
    }
  }

  // metrics: only points that are missing or different
  const missing = await missingPoints(backend, run.id, r.points)
  if (missing.length) {
    await backend.logMetrics(
      run.id,
      (async function* () {
        yield* missing
      })(),
      {allow_finished: options.allowFinished},
    )
    fields.push('metrics')
  }

  // status last: a finished run's status cannot change
  if (r.status !== undefined && r.status !== full.status) {
    await backend.updateRun(run.id, {status: r.status})
    fields.push('status')
  }
  if (created) change('run', r.label, 'created')
  else if (fields.length) change('run', r.label, 'updated', fields)
  else same()
  return run.id
}

async function applyModel(
  backend: Backend,
  project: string,
  m: PlannedModel,
  runIds: Map<string, string>,
  notes: string[],
  options: SyncOptions,
  change: Change,
  same: () => void,
): Promise<void> {
  const {name, wanted} = m
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

  const push = m.push
  if (!push) return
  let runId: string | undefined
  if (push.run) {
    runId = runIds.get(push.run.toLowerCase())
    if (!runId) {
      const [experiment, runName] = push.run.split('/')
      runId = (await findRun(backend, project, experiment, runName, notes))?.id
      if (!runId) throw invalid(`sync file: model ${name} push.run ${quote(push.run)} is not a run (expected EXPERIMENT/RUN-NAME)`)
    }
  }

  // Push only when the latest version differs from what the file describes.
  let latest = null
  if (model.latest_version !== null) latest = await backend.getVersion(project, name, 'latest')
  const sameFiles =
    latest !== null &&
    sameJson(
      latest.files.map((f) => [f.path, f.sha256, f.mode]),
      push.manifest.map((f) => [f.path, f.sha256, f.mode]),
    )
  const sameFields =
    latest !== null &&
    sameJson(latest.metadata, push.metadata) &&
    sameJson(latest.metrics, push.metrics) &&
    (push.comment === undefined || latest.comment === push.comment) &&
    (runId === undefined || latest.lineage?.run?.id === runId)
  let version = latest?.version ?? null
  if (!(sameFiles && sameFields)) {
    const pushed = await pushVersion(backend, {
      project,
      model: name,
      paths: push.paths,
      author: options.author,
      source: options.source,
      comment: push.comment,
      metadata: push.metadata,
      metrics: push.metrics,
      run_id: runId,
    })
    version = pushed.version.version
    change('version', `${name}:${version}`, 'created')
  } else same()
  for (const tag of push.tags) {
    const move = await backend.setTag(project, name, tag, String(version))
    if (move.previous !== move.version) change('tag', `${name}:${tag}`, move.previous === null ? 'created' : 'updated', [`-> ${move.version}`])
  }
}
