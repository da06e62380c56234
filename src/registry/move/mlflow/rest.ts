/**
 * A running MLflow tracking server, over REST API 2.0 (service.proto, model_registry.proto,
 * mlflow_artifacts.proto). Every list is paged with page_token / next_page_token. Artifacts come
 * through the artifacts proxy (`mlflow-artifacts:/...` URIs, `/api/2.0/mlflow-artifacts/artifacts`),
 * or from this machine when a run's artifact URI is a local path.
 *
 * Credentials as MLflow's own client takes them: MLFLOW_TRACKING_TOKEN (bearer), or
 * MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (basic).
 */
import {Readable} from 'node:stream'
import {request} from 'undici'
import {RegistryError} from '../../../backends/errors.js'
import {describeNetworkError, isNetworkError} from '../../../backends/network-errors.js'
import {localArtifacts, localPath} from './file-store.js'
import {type ArtifactFile, type Artifacts, joinUri, type MlExperiment, type MlflowSource, type MlMetricPoint, type MlModelVersion, type MlRegisteredModel, type MlRun, parseRunsUri} from './source.js'

type Json = Record<string, any>

const PAGE = Number(process.env.MODELREG_MLFLOW_PAGE_SIZE) || 1000
const PROXY = 'mlflow-artifacts:'

const num = (value: unknown): number | null => (value === null || value === undefined || value === '' ? null : Number(value))
const pairs = (list: unknown): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const item of (list as {key: string; value?: string}[] | undefined) ?? []) out[item.key] = item.value ?? ''
  return out
}

export interface RestCredentials {
  token?: string | null
  username?: string | null
  password?: string | null
}

export class RestSource implements MlflowSource {
  readonly location: string
  private readonly base: string
  private readonly headers: Record<string, string>

  constructor(url: string, credentials: RestCredentials = {}) {
    this.base = url.replace(/\/+$/, '')
    this.location = this.base
    this.headers = {accept: 'application/json'}
    if (credentials.token) this.headers.authorization = `Bearer ${credentials.token}`
    else if (credentials.username) this.headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ''}`).toString('base64')}`
  }

  static fromEnv(url: string, env: NodeJS.ProcessEnv = process.env): RestSource {
    return new RestSource(url, {token: env.MLFLOW_TRACKING_TOKEN, username: env.MLFLOW_TRACKING_USERNAME, password: env.MLFLOW_TRACKING_PASSWORD})
  }

  private async call(method: 'GET' | 'POST', path: string, body?: Json, query?: Record<string, string | number | undefined>): Promise<Json> {
    const url = new URL(`${this.base}${path}`)
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v))
    const response = await this.send(url, method, body)
    const text = await response.body.text()
    if (response.statusCode >= 400) throw this.failure(response.statusCode, text, `${method} ${path}`)
    try {
      return text ? (JSON.parse(text) as Json) : {}
    } catch {
      throw new RegistryError('unavailable', `${this.base} answered ${method} ${path} with something that is not JSON: is it an MLflow tracking server?`)
    }
  }

  private async send(url: URL, method: string, body?: Json) {
    try {
      return await request(url, {
        method: method as 'GET',
        headers: body ? {...this.headers, 'content-type': 'application/json'} : this.headers,
        body: body ? JSON.stringify(body) : undefined,
      })
    } catch (error) {
      if (isNetworkError(error)) throw new RegistryError('unavailable', `cannot reach the MLflow server at ${this.base}: ${describeNetworkError(error)}`)
      throw error
    }
  }

  private failure(status: number, text: string, what: string): RegistryError {
    let message = text.slice(0, 300)
    try {
      const parsed = JSON.parse(text) as {message?: string; error_code?: string}
      if (parsed.message) message = `${parsed.error_code ? `${parsed.error_code}: ` : ''}${parsed.message}`
    } catch {
      /* not JSON */
    }
    if (status === 401 || status === 403) {
      return new RegistryError(status === 401 ? 'unauthenticated' : 'permission_denied', `the MLflow server refused ${what} (${status}): set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD`)
    }
    if (status === 404) return new RegistryError('not_found', `the MLflow server has no ${what} (404): ${message}`)
    return new RegistryError('unavailable', `the MLflow server failed ${what} (${status}): ${message}`)
  }

  /** Every item of a paged list. */
  private async *paged(fetchPage: (token: string | undefined) => Promise<Json>, field: string): AsyncIterable<Json> {
    let token: string | undefined
    const seen = new Set<string>()
    for (;;) {
      const page = await fetchPage(token)
      for (const item of (page[field] as Json[] | undefined) ?? []) yield item
      token = page.next_page_token || undefined
      if (!token) return
      if (seen.has(token)) throw new RegistryError('unavailable', `the MLflow server at ${this.base} returned the same page token twice`)
      seen.add(token)
    }
  }

  async *experiments(): AsyncIterable<MlExperiment> {
    const all = this.paged((page_token) => this.call('POST', '/api/2.0/mlflow/experiments/search', {max_results: PAGE, page_token, view_type: 'ALL'}), 'experiments')
    for await (const e of all) {
      yield {
        id: String(e.experiment_id),
        name: String(e.name ?? e.experiment_id),
        artifact_location: e.artifact_location ?? null,
        lifecycle_stage: String(e.lifecycle_stage ?? 'active'),
        creation_time: num(e.creation_time),
        last_update_time: num(e.last_update_time),
        tags: pairs(e.tags),
      }
    }
  }

  async *runs(experiment: MlExperiment): AsyncIterable<MlRun> {
    const all = this.paged(
      (page_token) => this.call('POST', '/api/2.0/mlflow/runs/search', {experiment_ids: [experiment.id], max_results: PAGE, page_token, run_view_type: 'ALL', order_by: ['attributes.start_time ASC']}),
      'runs',
    )
    for await (const r of all) {
      const info = (r.info ?? {}) as Json
      const data = (r.data ?? {}) as Json
      const tags = pairs(data.tags)
      yield {
        id: String(info.run_id ?? info.run_uuid),
        experiment_id: String(info.experiment_id ?? experiment.id),
        run_name: info.run_name || tags['mlflow.runName'] || null,
        user_id: info.user_id || null,
        status: String(info.status ?? 'RUNNING'),
        start_time: num(info.start_time),
        end_time: num(info.end_time),
        artifact_uri: info.artifact_uri ?? null,
        lifecycle_stage: String(info.lifecycle_stage ?? 'active'),
        params: pairs(data.params),
        tags,
        metric_keys: [...new Set(((data.metrics as Json[] | undefined) ?? []).map((m) => String(m.key)))].sort(),
        inputs: ((r.inputs?.dataset_inputs as Json[] | undefined) ?? []).map((i) => ({
          name: String(i.dataset?.name ?? ''),
          digest: String(i.dataset?.digest ?? ''),
          source_type: String(i.dataset?.source_type ?? ''),
          source: String(i.dataset?.source ?? ''),
          context: pairs(i.tags)['mlflow.data.context'] ?? null,
        })),
      }
    }
  }

  async *metricHistory(run: MlRun, key: string): AsyncIterable<MlMetricPoint> {
    const all = this.paged((page_token) => this.call('GET', '/api/2.0/mlflow/metrics/get-history', undefined, {run_id: run.id, metric_key: key, max_results: PAGE, page_token}), 'metrics')
    for await (const m of all) yield {timestamp: Number(m.timestamp ?? 0), value: m.value === undefined ? Number.NaN : Number(m.value), step: Number(m.step ?? 0)}
  }

  async *registeredModels(): AsyncIterable<MlRegisteredModel> {
    const all = this.paged((page_token) => this.call('GET', '/api/2.0/mlflow/registered-models/search', undefined, {max_results: PAGE, page_token}), 'registered_models')
    for await (const m of all) {
      const aliases: Record<string, number> = {}
      for (const a of (m.aliases as {alias: string; version: string}[] | undefined) ?? []) aliases[a.alias] = Number(a.version)
      yield {
        name: String(m.name),
        creation_timestamp: num(m.creation_timestamp),
        last_updated_timestamp: num(m.last_updated_timestamp),
        description: String(m.description ?? ''),
        tags: pairs(m.tags),
        aliases,
      }
    }
  }

  async modelVersions(model: MlRegisteredModel): Promise<MlModelVersion[]> {
    const quoted = model.name.includes("'") ? `"${model.name}"` : `'${model.name}'`
    const out: MlModelVersion[] = []
    const all = this.paged((page_token) => this.call('GET', '/api/2.0/mlflow/model-versions/search', undefined, {filter: `name=${quoted}`, max_results: PAGE, page_token}), 'model_versions')
    for await (const v of all) {
      if (String(v.name) !== model.name) continue
      out.push({
        name: String(v.name),
        version: Number(v.version),
        creation_timestamp: num(v.creation_timestamp),
        last_updated_timestamp: num(v.last_updated_timestamp),
        user_id: v.user_id || null,
        current_stage: String(v.current_stage ?? 'None'),
        description: String(v.description ?? ''),
        source: v.source ?? null,
        run_id: v.run_id || null,
        status: v.status ?? null,
        tags: pairs(v.tags),
      })
    }
    return out.sort((a, b) => a.version - b.version)
  }

  async artifacts(uri: string, runs: (id: string) => MlRun | undefined): Promise<Artifacts> {
    let location = uri
    const fromRun = parseRunsUri(uri)
    if (fromRun) {
      const run = runs(fromRun.run)
      if (!run?.artifact_uri) return {unreachable: `run ${fromRun.run} is not on this MLflow server (or was deleted)`}
      location = joinUri(run.artifact_uri, fromRun.path)
    }
    if (location.startsWith(PROXY)) return this.proxied(location.slice(PROXY.length).replace(/^\/+/, '').replace(/\/+$/, ''))
    const path = localPath(location)
    if (path) {
      const found = await localArtifacts(path)
      if ('files' in found) return found
      return {unreachable: `${location} is not reachable from this machine (${found.unreachable}), and the server does not serve it through its artifacts proxy`}
    }
    return {unreachable: `${location} is in an artifact store modelreg does not read (only the MLflow artifacts proxy and local paths)`}
  }

  /** The files under a path of the artifacts proxy, listed directory by directory. */
  private async proxied(root: string): Promise<Artifacts> {
    const files: ArtifactFile[] = []
    const walk = async (dir: string): Promise<void> => {
      const listing = await this.call('GET', '/api/2.0/mlflow-artifacts/artifacts', undefined, {path: dir})
      for (const f of (listing.files as {path: string; is_dir?: boolean; file_size?: number | string}[] | undefined) ?? []) {
        // The proxy answers with base names (handlers._list_artifacts_mlflow_artifacts); older servers with paths.
        const name = f.path.split('/').pop() as string
        const full = dir ? `${dir}/${name}` : name
        if (f.is_dir) await walk(full)
        else files.push(this.proxiedFile(full, root, Number(f.file_size ?? 0)))
      }
    }
    try {
      await walk(root)
    } catch (error) {
      if (error instanceof RegistryError && error.code === 'not_found') return {unreachable: `the artifacts proxy has nothing at ${PROXY}/${root}`}
      throw error
    }
    if (files.length === 0) {
      // A source that names one file: the listing of a file is empty.
      const head = await this.send(new URL(`${this.base}/api/2.0/mlflow-artifacts/artifacts/${encodePath(root)}`), 'GET')
      if (head.statusCode >= 400) {
        await head.body.dump()
        return {unreachable: `the artifacts proxy has nothing at ${PROXY}/${root}`}
      }
      // Sizes are measured again as the bytes arrive; the listing's are only for the dry run.
      const size = Number(head.headers['content-length'] ?? 0)
      await head.body.dump()
      const name = root.split('/').pop() as string
      return {files: [{...this.proxiedFile(root, root.slice(0, -name.length - 1), size), path: name}]}
    }
    return {files}
  }

  private proxiedFile(full: string, root: string, size: number): ArtifactFile {
    return {
      path: root ? full.slice(root.length + 1) : full,
      size,
      local: null,
      executable: false,
      open: async () => {
        const response = await this.send(new URL(`${this.base}/api/2.0/mlflow-artifacts/artifacts/${encodePath(full)}`), 'GET')
        if (response.statusCode >= 400) throw this.failure(response.statusCode, await response.body.text(), `artifact ${full}`)
        return Readable.from(response.body)
      },
    }
  }

  async topArtifacts(run: MlRun): Promise<string[]> {
    if (!run.artifact_uri) return []
    if (run.artifact_uri.startsWith(PROXY)) {
      try {
        const listing = await this.call('GET', '/api/2.0/mlflow-artifacts/artifacts', undefined, {path: run.artifact_uri.slice(PROXY.length).replace(/^\/+/, '')})
        return ((listing.files as {path: string}[] | undefined) ?? []).map((f) => f.path.split('/').pop() as string).sort()
      } catch {
        return []
      }
    }
    const path = localPath(run.artifact_uri)
    if (!path) return []
    const found = await localArtifacts(path)
    return 'files' in found ? [...new Set(found.files.map((f) => f.path.split('/')[0]))].sort() : []
  }

  async close(): Promise<void> {}
}

const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/')
