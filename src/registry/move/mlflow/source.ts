/**
 * What `import mlflow` reads, whatever the MLflow source: a file store directory (`mlruns/`) or a
 * tracking server over REST API 2.0. The shapes follow MLflow's own entities (service.proto,
 * model_registry.proto) with times in epoch milliseconds, so both readers are mechanical.
 */
import type {Readable} from 'node:stream'

export interface MlExperiment {
  id: string
  name: string
  artifact_location: string | null
  /** active | deleted */
  lifecycle_stage: string
  creation_time: number | null
  last_update_time: number | null
  tags: Record<string, string>
}

export interface MlRun {
  id: string
  experiment_id: string
  run_name: string | null
  user_id: string | null
  /** RUNNING | SCHEDULED | FINISHED | FAILED | KILLED */
  status: string
  start_time: number | null
  end_time: number | null
  artifact_uri: string | null
  lifecycle_stage: string
  params: Record<string, string>
  tags: Record<string, string>
  /** The run's metric keys (their latest values are not needed: the history is read). */
  metric_keys: string[]
  /** Datasets the run logged as inputs (MLflow 2.4+), as MLflow describes them. */
  inputs: {name: string; digest: string; source_type: string; source: string; context: string | null}[]
}

export interface MlMetricPoint {
  timestamp: number
  value: number
  step: number
}

export interface MlRegisteredModel {
  name: string
  creation_timestamp: number | null
  last_updated_timestamp: number | null
  description: string
  tags: Record<string, string>
  /** alias -> version number */
  aliases: Record<string, number>
}

export interface MlModelVersion {
  name: string
  version: number
  creation_timestamp: number | null
  last_updated_timestamp: number | null
  user_id: string | null
  /** None | Staging | Production | Archived, or Deleted_Internal (a deleted version, file store only) */
  current_stage: string
  description: string
  source: string | null
  run_id: string | null
  status: string | null
  tags: Record<string, string>
}

/** A file under an artifact location: its path below that location, and how to read it. */
export interface ArtifactFile {
  path: string
  size: number
  /** An absolute path on this machine, when the artifact store is a local directory. */
  local: string | null
  /** Otherwise, a download. */
  open: (() => Promise<Readable>) | null
  executable: boolean
}

/** The files under an artifact location, or why they cannot be read. */
export type Artifacts = {files: ArtifactFile[]} | {unreachable: string}

export interface MlflowSource {
  /** For messages and the report: the directory or URL. */
  readonly location: string
  /** All experiments, deleted ones included (lifecycle_stage deleted). */
  experiments(): AsyncIterable<MlExperiment>
  /** An experiment's runs, deleted ones included. */
  runs(experiment: MlExperiment): AsyncIterable<MlRun>
  /** A metric's every point, in the order MLflow holds them. */
  metricHistory(run: MlRun, key: string): AsyncIterable<MlMetricPoint>
  registeredModels(): AsyncIterable<MlRegisteredModel>
  /** A model's versions; a file store also yields deleted ones (stage Deleted_Internal). */
  modelVersions(model: MlRegisteredModel): Promise<MlModelVersion[]>
  /** The files of a model version's source (`runs:/RUN/PATH`, `mlflow-artifacts:/...`, a path or file:// URI). */
  artifacts(uri: string, runs: (id: string) => MlRun | undefined): Promise<Artifacts>
  /** The top-level entries of a run's artifact root (to say which are not part of a model version). */
  topArtifacts(run: MlRun): Promise<string[]>
  close(): Promise<void>
}

/** `runs:/RUN_ID/some/path` -> {run, path}. */
export function parseRunsUri(uri: string): {run: string; path: string} | null {
  const match = /^runs:\/+([^/]+)(?:\/(.*))?$/.exec(uri)
  if (!match) return null
  return {run: match[1], path: (match[2] ?? '').replace(/\/+$/, '')}
}

/** Joins an artifact URI and a relative path. */
export function joinUri(base: string, path: string): string {
  if (!path) return base
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`
}
