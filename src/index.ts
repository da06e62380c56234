/**
 * modelreg as a library for Node scripts: the same Backend the CLI uses, configured the same
 * way (options > MODELREG_* environment > .modelreg.yaml > profile > user config), with typed
 * helpers for the common jobs.
 *
 *   import {openRegistry} from 'modelreg'
 *   const registry = await openRegistry({project: 'mnist'})
 *   const run = await registry.startRun('baseline', {params: {lr: 0.01}})
 *   await run.log({loss: 0.31}, {step: 1, split: 'train'})
 *   await run.finish()
 *   await registry.close()
 */
import type {
  Backend,
  Checkpoint,
  Dataset,
  JsonObject,
  MetricPointInput,
  Run,
  RunStatus,
  SourceInfo,
  TagMove,
  Version,
  VersionCreated,
} from './backends/backend.js'
import {openBackend} from './cli/open-backend.js'
import {type ConfigValues, resolveConfig, type ResolvedConfig} from './config/config.js'
import {type DownloadOptions, type DownloadResult, downloadVersion} from './registry/download.js'
import {datasetReference} from './registry/datasets.js'
import {collectSource, resolveAuthor} from './registry/provenance.js'
import {type CheckpointPushResult, newRequestId, type PushInput, type PushResult, pushCheckpoint, pushVersion} from './registry/push.js'
import {parseRef} from './backends/validation.js'

export type * from './backends/backend.js'
export {ERROR_CODES, EXIT_CODES, type ErrorCode, RegistryError} from './backends/errors.js'
export {type DownloadResult, downloadVersion, downloadFiles, writeTar} from './registry/download.js'
export {type PushResult, pushCheckpoint, pushVersion, uploadFiles} from './registry/push.js'
export {syncFile, type SyncReport} from './registry/sync.js'
export {type ResolvedConfig, resolveConfig} from './config/config.js'

export interface OpenOptions extends ConfigValues {
  /** A profile from the user config. */
  profile?: string
  /** Where .modelreg.yaml is looked for (default: the working directory). */
  cwd?: string
  /** The environment to read MODELREG_* from (default: process.env). */
  env?: NodeJS.ProcessEnv
}

/** Open the registry the configuration names (a local store by default, or a server). */
export async function openRegistry(options: OpenOptions = {}): Promise<Registry> {
  const {profile, cwd, env, ...values} = options
  const config = resolveConfig({flags: {...values, profile}, env, cwd})
  const backend = await openBackend(config, 'modelreg-node')
  const author = resolveAuthor(config.author, cwd)
  const source = await collectSource(cwd ?? process.cwd(), env ?? process.env)
  return new Registry(backend, config, author, source)
}

export class Registry {
  constructor(
    /** The Backend itself: every operation the CLI has, typed. */
    readonly backend: Backend,
    readonly config: ResolvedConfig,
    /** Recorded as the author of what this registry pushes. */
    readonly author: string,
    readonly source: SourceInfo,
  ) {}

  get project(): string {
    return this.config.project
  }

  /** Push files and directories as a new version (the model is created if needed). */
  push(model: string, paths: string[], options: Partial<Omit<PushInput, 'model' | 'paths'>> = {}): Promise<PushResult> {
    return pushVersion(this.backend, {project: this.project, author: this.author, source: this.source, ...options, model, paths})
  }

  /** A version by reference: `name`, `name:3`, `name:prod`, `project/name:tag`. */
  getVersion(ref: string): Promise<Version> {
    const r = parseRef(ref)
    return this.backend.getVersion(r.project ?? this.project, r.name, r.selector)
  }

  /** Download a version's files into a directory, verified. */
  async download(ref: string, directory: string, options: DownloadOptions = {}): Promise<DownloadResult> {
    return downloadVersion(this.backend, await this.getVersion(ref), directory, options)
  }

  tag(ref: string, tag: string, options: {expectPrevious?: number | null} = {}): Promise<TagMove> {
    const r = parseRef(ref)
    return this.backend.setTag(r.project ?? this.project, r.name, tag, r.selector, {expect_previous: options.expectPrevious})
  }

  /** Start a run in an experiment (created if missing). */
  async startRun(experiment: string, options: {name?: string; params?: JsonObject; tags?: Record<string, string>; queued?: boolean} = {}): Promise<RunHandle> {
    const run = await this.backend.createRun(this.project, {
      experiment,
      name: options.name,
      params: options.params,
      tags: options.tags,
      status: options.queued ? 'queued' : 'running',
      author: this.author,
      source: this.source,
    })
    return new RunHandle(this, run.id)
  }

  /** A handle on an existing run. */
  run(id: string): RunHandle {
    return new RunHandle(this, id)
  }

  /** Register a checkpoint as a new version of a model, with its lineage. */
  register(model: string, checkpoint: string, options: {comment?: string; tags?: string[]; metadata?: JsonObject} = {}): Promise<VersionCreated> {
    return this.backend.registerCheckpoint(this.project, model, checkpoint, {...options, author: this.author, source: this.source, request_id: newRequestId()})
  }

  close(): Promise<void> {
    return this.backend.close()
  }
}

/** One run, for a training loop. */
export class RunHandle {
  constructor(
    private readonly registry: Registry,
    readonly id: string,
  ) {}

  /** Log values at one step: `run.log({loss: 0.3, acc: 0.9}, {step: 3, split: 'valid'})`. */
  async log(values: Record<string, number>, options: {step?: number; split?: string} = {}): Promise<void> {
    const points = Object.entries(values).map(([name, value]) => ({name, value, step: options.step, split: options.split}))
    await this.logPoints(points)
  }

  /** Log many points, streamed: an array, or any (async) iterable of points. */
  logPoints(points: Iterable<MetricPointInput> | AsyncIterable<MetricPointInput>): Promise<{count: number}> {
    const stream = (async function* () {
      yield* points
    })()
    return this.registry.backend.logMetrics(this.id, stream)
  }

  params(params: JsonObject, options: {overwrite?: boolean} = {}): Promise<JsonObject> {
    return this.registry.backend.setRunParams(this.id, params, options)
  }

  /** Record a dataset (the uri exactly as given); with hash, a local path's sha256 is recorded too. */
  async dataset(tag: string, uri: string, options: {metadata?: JsonObject; hash?: boolean} = {}): Promise<Dataset> {
    return this.registry.backend.setDataset(this.id, await datasetReference(tag, uri, options))
  }

  checkpoint(paths: string[], options: {step?: number; metrics?: Record<string, number>; metadata?: JsonObject} = {}): Promise<CheckpointPushResult & Checkpoint> {
    return pushCheckpoint(this.registry.backend, this.id, paths, options)
  }

  finish(status: Extract<RunStatus, 'completed' | 'failed' | 'killed'> = 'completed'): Promise<Run> {
    return this.registry.backend.updateRun(this.id, {status})
  }

  get(): Promise<Run> {
    return this.registry.backend.getRun(this.id)
  }
}
