/**
 * An MLflow file store (`mlruns/`), read as MLflow 2.x writes it (mlflow/store/tracking/file_store.py,
 * mlflow/store/model_registry/file_store.py):
 *
 *   <exp_id>/meta.yaml                  experiment; deleted ones move to .trash/<exp_id>/
 *   <exp_id>/tags/<key>                 experiment tags (a key with '/' is a nested path)
 *   <exp_id>/datasets/<id>/meta.yaml    datasets logged as run inputs
 *   <exp_id>/<run_id>/meta.yaml         run: status as an int (1 RUNNING ... 5 KILLED), times in ms
 *   <exp_id>/<run_id>/metrics/<key>     lines "timestamp value [step]"
 *   <exp_id>/<run_id>/params/<key>, tags/<key>, inputs/<id>/meta.yaml, artifacts/
 *   models/<name>/meta.yaml             registered model; tags/<key>, aliases/<alias> (file holds the version)
 *   models/<name>/version-<n>/meta.yaml version (current_stage Deleted_Internal: deleted); tags/<key>
 */
import {createReadStream} from 'node:fs'
import {readdir, readFile, stat} from 'node:fs/promises'
import {join, relative, resolve, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parse as parseYaml} from 'yaml'
import {invalid, notFound} from '../../../backends/errors.js'
import {quote} from '../../../backends/validation.js'
import {type ArtifactFile, type Artifacts, type MlExperiment, type MlflowSource, type MlMetricPoint, type MlModelVersion, type MlRegisteredModel, type MlRun, parseRunsUri} from './source.js'

const RUN_STATUS: Record<number, string> = {1: 'RUNNING', 2: 'SCHEDULED', 3: 'FINISHED', 4: 'FAILED', 5: 'KILLED'}
const RESERVED = new Set(['tags', 'datasets'])

/** A local path from a path or a file:// URI; null for any other scheme. */
export function localPath(uri: string): string | null {
  if (uri.startsWith('file:')) return fileURLToPath(uri.startsWith('file://') ? uri : `file://${uri.slice('file:'.length)}`)
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri)) return null
  return resolve(uri)
}

async function entries(dir: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await readdir(dir, {withFileTypes: true})
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return []
    throw error
  }
}

async function yamlFile(path: string): Promise<Record<string, unknown> | null> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  const value = parseYaml(text) as unknown
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : {}
}

/** Every file under dir, as POSIX paths relative to it (MLflow stores a key with '/' as nested files). */
async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const e of await entries(dir)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name
    if (e.isDirectory()) out.push(...(await filesUnder(join(dir, e.name), rel)))
    else if (e.isFile()) out.push(rel)
  }
  return out.sort()
}

/** A folder of one-file-per-key values (params/, tags/). */
async function keyValues(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const key of await filesUnder(dir)) out[key] = await readFile(join(dir, ...key.split('/')), 'utf8')
  return out
}

const num = (value: unknown): number | null => (value === null || value === undefined || value === '' ? null : Number(value))
const str = (value: unknown): string | null => (value === null || value === undefined ? null : String(value))

export class FileStoreSource implements MlflowSource {
  readonly location: string
  private readonly root: string
  /** run id -> its directory */
  private readonly runDirs = new Map<string, string>()

  private constructor(root: string) {
    this.root = root
    this.location = root
  }

  static async open(uri: string): Promise<FileStoreSource> {
    const root = localPath(uri)
    if (!root) throw invalid(`${quote(uri)} is not a directory or a file:// URI`)
    const info = await stat(root).catch(() => null)
    if (!info?.isDirectory()) throw notFound(`MLflow file store ${quote(root)} does not exist or is not a directory`)
    return new FileStoreSource(root)
  }

  async *experiments(): AsyncIterable<MlExperiment> {
    const dirs: string[] = []
    for (const e of await entries(this.root)) if (e.isDirectory() && e.name !== '.trash' && e.name !== 'models') dirs.push(join(this.root, e.name))
    for (const e of await entries(join(this.root, '.trash'))) if (e.isDirectory()) dirs.push(join(this.root, '.trash', e.name))
    const found: {dir: string; meta: Record<string, unknown>}[] = []
    for (const dir of dirs) {
      const meta = await yamlFile(join(dir, 'meta.yaml'))
      if (meta) found.push({dir, meta})
    }
    // Numeric ids in number order: the default experiment (0) first.
    found.sort((a, b) => Number(a.meta.experiment_id) - Number(b.meta.experiment_id) || String(a.meta.experiment_id).localeCompare(String(b.meta.experiment_id)))
    for (const {dir, meta} of found) {
      yield {
        id: String(meta.experiment_id),
        name: String(meta.name ?? meta.experiment_id),
        artifact_location: str(meta.artifact_location),
        lifecycle_stage: String(meta.lifecycle_stage ?? 'active'),
        creation_time: num(meta.creation_time),
        last_update_time: num(meta.last_update_time),
        tags: await keyValues(join(dir, 'tags')),
        dir,
      } as MlExperiment
    }
  }

  async *runs(experiment: MlExperiment): AsyncIterable<MlRun> {
    const dir = (experiment as MlExperiment & {dir: string}).dir
    const datasets = new Map<string, Record<string, unknown>>()
    for (const e of await entries(join(dir, 'datasets'))) {
      const meta = await yamlFile(join(dir, 'datasets', e.name, 'meta.yaml'))
      if (meta) datasets.set(e.name, meta)
    }
    const runs: MlRun[] = []
    for (const e of await entries(dir)) {
      if (!e.isDirectory() || RESERVED.has(e.name)) continue
      const runDir = join(dir, e.name)
      const meta = await yamlFile(join(runDir, 'meta.yaml'))
      if (!meta) continue
      const id = String(meta.run_id ?? meta.run_uuid ?? e.name)
      this.runDirs.set(id, runDir)
      const tags = await keyValues(join(runDir, 'tags'))
      const inputs: MlRun['inputs'] = []
      for (const i of await entries(join(runDir, 'inputs'))) {
        const input = await yamlFile(join(runDir, 'inputs', i.name, 'meta.yaml'))
        const dataset = input ? datasets.get(String(input.source_id)) : undefined
        if (!input || !dataset) continue
        const inputTags = (input.tags ?? {}) as Record<string, string>
        inputs.push({
          name: String(dataset.name ?? ''),
          digest: String(dataset.digest ?? ''),
          source_type: String(dataset.source_type ?? ''),
          source: String(dataset.source ?? ''),
          context: inputTags['mlflow.data.context'] ?? null,
        })
      }
      const status = typeof meta.status === 'number' ? (RUN_STATUS[meta.status] ?? String(meta.status)) : String(meta.status ?? 'RUNNING')
      runs.push({
        id,
        experiment_id: String(meta.experiment_id ?? experiment.id),
        run_name: str(meta.run_name) || tags['mlflow.runName'] || null,
        user_id: str(meta.user_id) || null,
        status,
        start_time: num(meta.start_time),
        end_time: num(meta.end_time),
        artifact_uri: str(meta.artifact_uri),
        lifecycle_stage: String(meta.lifecycle_stage ?? 'active'),
        params: await keyValues(join(runDir, 'params')),
        tags,
        metric_keys: await filesUnder(join(runDir, 'metrics')),
        inputs,
      })
    }
    runs.sort((a, b) => (a.start_time ?? 0) - (b.start_time ?? 0) || a.id.localeCompare(b.id))
    yield* runs
  }

  async *metricHistory(run: MlRun, key: string): AsyncIterable<MlMetricPoint> {
    const dir = this.runDirs.get(run.id) as string
    const text = await readFile(join(dir, 'metrics', ...key.split('/')), 'utf8')
    for (const line of text.split('\n')) {
      const parts = line.trim().split(' ')
      if (parts.length < 2 || parts.length > 3) continue
      yield {timestamp: Number(parts[0]), value: Number(parts[1]), step: parts.length === 3 ? Number(parts[2]) : 0}
    }
  }

  async *registeredModels(): AsyncIterable<MlRegisteredModel> {
    const modelsDir = join(this.root, 'models')
    const names: string[] = []
    for (const e of await entries(modelsDir)) if (e.isDirectory()) names.push(e.name)
    for (const name of names.sort()) {
      const dir = join(modelsDir, name)
      const meta = await yamlFile(join(dir, 'meta.yaml'))
      if (!meta) continue
      const aliases: Record<string, number> = {}
      for (const [alias, version] of Object.entries(await keyValues(join(dir, 'aliases')))) aliases[alias] = Number(version.trim())
      yield {
        name: String(meta.name ?? name),
        creation_timestamp: num(meta.creation_timestamp),
        last_updated_timestamp: num(meta.last_updated_timestamp),
        description: str(meta.description) ?? '',
        tags: await keyValues(join(dir, 'tags')),
        aliases,
        dir,
      } as MlRegisteredModel
    }
  }

  async modelVersions(model: MlRegisteredModel): Promise<MlModelVersion[]> {
    const dir = (model as MlRegisteredModel & {dir: string}).dir
    const out: MlModelVersion[] = []
    for (const e of await entries(dir)) {
      if (!e.isDirectory() || !e.name.startsWith('version-')) continue
      const meta = await yamlFile(join(dir, e.name, 'meta.yaml'))
      if (!meta) continue
      out.push({
        name: String(meta.name ?? model.name),
        version: Number(meta.version ?? e.name.slice('version-'.length)),
        creation_timestamp: num(meta.creation_timestamp),
        last_updated_timestamp: num(meta.last_updated_timestamp),
        user_id: str(meta.user_id) || null,
        current_stage: String(meta.current_stage ?? 'None'),
        description: str(meta.description) ?? '',
        // storage_location: where MLflow resolved a models:/ source to.
        source: str(meta.storage_location) || str(meta.source),
        run_id: str(meta.run_id) || null,
        status: str(meta.status),
        tags: await keyValues(join(dir, e.name, 'tags')),
      })
    }
    return out.sort((a, b) => a.version - b.version)
  }

  async artifacts(uri: string, runs: (id: string) => MlRun | undefined): Promise<Artifacts> {
    let path: string | null
    const fromRun = parseRunsUri(uri)
    if (fromRun) {
      const run = runs(fromRun.run)
      if (!run?.artifact_uri) return {unreachable: `run ${fromRun.run} is not in this file store`}
      const root = localPath(run.artifact_uri)
      if (!root) return {unreachable: `run ${fromRun.run} keeps its artifacts at ${run.artifact_uri}, not on this machine`}
      path = fromRun.path ? join(root, ...fromRun.path.split('/')) : root
    } else {
      path = localPath(uri)
      if (!path) return {unreachable: `${uri} is not on this machine`}
    }
    return localArtifacts(path)
  }

  async topArtifacts(run: MlRun): Promise<string[]> {
    const root = run.artifact_uri ? localPath(run.artifact_uri) : null
    if (!root) return []
    return (await entries(root)).map((e) => e.name).sort()
  }

  async close(): Promise<void> {}
}

/** The files under a local directory (or the one file), with their paths relative to it. */
export async function localArtifacts(path: string): Promise<Artifacts> {
  const info = await stat(path).catch(() => null)
  if (!info) return {unreachable: `${path} does not exist`}
  const one = (abs: string, rel: string, size: number, mode: number): ArtifactFile => ({
    path: rel,
    size,
    local: abs,
    open: async () => createReadStream(abs),
    executable: (mode & 0o111) !== 0,
  })
  if (info.isFile()) return {files: [one(path, path.split(sep).pop() as string, info.size, info.mode)]}
  const files: ArtifactFile[] = []
  for (const rel of await filesUnder(path)) {
    const abs = join(path, ...rel.split('/'))
    const s = await stat(abs)
    files.push(one(abs, relative(path, abs).split(sep).join('/'), s.size, s.mode))
  }
  if (files.length === 0) return {unreachable: `${path} holds no files`}
  return {files}
}
