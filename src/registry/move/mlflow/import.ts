/**
 * `import mlflow`: an MLflow file store or tracking server into a modelreg store, through the same
 * restore operation as `import` (docs/move.md, "Coming from MLflow", has the mapping for people).
 *
 * Runs keep their ids; registered model versions keep their numbers (with their gaps); times and
 * users are kept. A model the store already has (an earlier import) is read back from the store
 * and only what is new in MLflow is appended to its history: new versions, tag moves, changed
 * description or labels. So a second import writes nothing, and a third picks up what MLflow
 * gained in between. Whatever cannot be carried over is listed in the report, never dropped
 * silently.
 */
import {createHash} from 'node:crypto'
import {createReadStream, createWriteStream} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {parse as parseYaml} from 'yaml'
import type {
  Backend,
  Dataset,
  FileEntry,
  HistoryEvent,
  Json,
  JsonObject,
  Lineage,
  MetricPointInput,
  MetricSummary,
  ModelHistory,
  RunHistory,
  RunStatus,
  SourceInfo,
  Tag,
  VersionRecord,
} from '../../../backends/backend.js'
import {RegistryError} from '../../../backends/errors.js'
import {canonical} from '../../../backends/sql/restore.js'
import {LATEST, LIMITS, nameKey, validateFilePath, validateLabelKey, validateMetadata, validateMetricName, validateTag} from '../../../backends/validation.js'
import {readModelHistory} from '../history.js'
import {emptyReport, type MoveReport, type Progress, restore} from '../move.js'
import {localPath} from './file-store.js'
import type {ArtifactFile, MlExperiment, MlflowSource, MlModelVersion, MlRegisteredModel, MlRun} from './source.js'

/** Something MLflow holds that modelreg did not take as it is: skipped, renamed or reduced. */
export interface Unmapped {
  /** experiment, experiment_tag, run, run_tag, dataset, metric, artifacts, model, model_tag, version, alias, stage, lineage */
  kind: string
  /** What it is on the MLflow side: `run 3f2a…`, `model credit risk version 2` … */
  mlflow: string
  reason: string
}

/** The `--json` shape of `import mlflow`: the move report, plus experiments and what was not mapped. */
export interface MlflowReport extends MoveReport {
  source: string
  project: string
  experiments: {written: number; unchanged: number}
  unmapped: Unmapped[]
}

const RUN_STATUS: Record<string, RunStatus> = {RUNNING: 'running', SCHEDULED: 'queued', FINISHED: 'completed', FAILED: 'failed', KILLED: 'killed'}
const STAGES: Record<string, string> = {production: 'production', staging: 'staging', archived: 'archived'}
const DELETED_STAGE = 'deleted_internal'
const RUN_ID = /^[0-9a-f]{6,32}$/
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
/** Tags that carry what modelreg holds in fields of its own (they are kept as tags as well). */
const GIT_COMMIT = 'mlflow.source.git.commit'
const GIT_BRANCH = 'mlflow.source.git.branch'
const GIT_REMOTE = 'mlflow.source.git.repoURL'
const NOTE = 'mlflow.note.content'
const IMPORTER = 'mlflow-import'

const iso = (ms: number | null | undefined, fallback = 0): string => new Date(ms === null || ms === undefined || !Number.isFinite(ms) ? fallback : ms).toISOString()

/** A modelreg name for an MLflow one: letters, digits, '.', '_', '-', starting with a letter or digit. */
export function modelregName(name: string): string | null {
  const cleaned = name
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, LIMITS.nameLength)
  return cleaned || null
}

/** MLflow params are strings; numbers and booleans that read back as the same text become JSON numbers and booleans. */
export function paramValue(text: string): Json {
  if (text === 'true') return true
  if (text === 'false') return false
  if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(text)) {
    const n = Number(text)
    if (Number.isFinite(n) && String(n) === text) return n
  }
  return text
}

function fits(check: () => unknown): boolean {
  try {
    check()
    return true
  } catch {
    return false
  }
}

const labelValueProblem = (value: string): string | null =>
  value.length > LIMITS.labelValueLength ? `its value is longer than ${LIMITS.labelValueLength} characters` : CONTROL.test(value) ? 'its value spans lines or holds control characters' : null

interface RunEntry {
  run: MlRun
  history: RunHistory
}

class MlflowImport {
  readonly report: MlflowReport
  private readonly runs = new Map<string, RunEntry>()
  private readonly mlRuns = new Map<string, MlRun>()
  private readonly blobsSeen = new Set<string>()
  private spool: string | null = null

  constructor(
    private readonly target: Backend,
    private readonly source: MlflowSource,
    private readonly project: string,
    dryRun: boolean,
    private readonly progress?: Progress,
  ) {
    this.report = {source: source.location, project, ...emptyReport(dryRun), experiments: {written: 0, unchanged: 0}, unmapped: []}
  }

  private unmapped(kind: string, mlflow: string, reason: string): void {
    this.report.unmapped.push({kind, mlflow, reason})
  }

  async run(): Promise<MlflowReport> {
    try {
      await this.experiments()
      await this.models()
    } finally {
      if (this.spool) await rm(this.spool, {recursive: true, force: true})
    }
    return this.report
  }

  // -------------------------------------------------------------------------------------------
  // experiments and runs

  private async experiments(): Promise<void> {
    const names = new Map<string, string>()
    for await (const exp of this.source.experiments()) {
      const what = `experiment ${exp.id} (${exp.name})`
      if (exp.lifecycle_stage === 'deleted') {
        this.unmapped('experiment', what, 'deleted in MLflow: not imported, nor its runs')
        continue
      }
      const name = modelregName(exp.name)
      if (!name) {
        this.unmapped('experiment', what, 'its name has no letter or digit to make a modelreg name of: not imported, nor its runs')
        continue
      }
      if (names.has(nameKey(name))) {
        this.unmapped('experiment', what, `its modelreg name ${name} is taken by experiment ${names.get(nameKey(name))}: not imported, nor its runs`)
        continue
      }
      names.set(nameKey(name), exp.id)
      if (name !== exp.name) this.unmapped('experiment', what, `imported as ${name} (modelreg names use letters, digits, '.', '_' and '-')`)
      for (const key of Object.keys(exp.tags)) {
        if (key !== NOTE) this.unmapped('experiment_tag', `${what} tag ${key}`, 'modelreg experiments have no tags')
      }
      const record: RunHistory['experiment'] = {
        name,
        description: exp.tags[NOTE] ?? '',
        owner: null,
        framework: null,
        created_at: iso(exp.creation_time ?? exp.last_update_time),
        updated_at: iso(exp.last_update_time ?? exp.creation_time),
      }
      const existed = await this.target.getExperiment(this.project, name).then(
        () => true,
        (error) => {
          if (error instanceof RegistryError && error.code === 'not_found') return false
          throw error
        },
      )
      let imported = 0
      for await (const run of this.source.runs(exp)) {
        this.mlRuns.set(run.id, run)
        if (run.lifecycle_stage === 'deleted') {
          this.unmapped('run', `run ${run.id} (${run.run_name ?? 'no name'})`, 'deleted in MLflow: not imported')
          continue
        }
        if (await this.importRun(exp, record, run)) imported++
      }
      if (existed) this.report.experiments.unchanged++
      else {
        this.report.experiments.written++
        if (imported === 0 && !this.report.dry_run) await this.target.createExperiment(this.project, name, {description: record.description})
      }
    }
  }

  private async importRun(exp: MlExperiment, experiment: RunHistory['experiment'], run: MlRun): Promise<boolean> {
    const what = `run ${run.id}`
    try {
      const built = await this.buildRun(exp, experiment, run)
      if (!built) return false
      const result = await restore(this.target, this.report, {run: built.history})
      this.runs.set(run.id, {run, history: built.history})
      if (result?.points_needed) {
        if (this.report.dry_run) this.report.metric_points.written += built.points.length
        else {
          const points = built.points
          const {count} = await this.target.logMetrics(
            run.id,
            (async function* () {
              for (let i = 0; i < points.length; i += 10_000) yield points.slice(i, i + 10_000)
            })(),
            {allow_finished: true}, // the run's own history, after its record and status
          )
          this.report.metric_points.written += count
        }
      }
      await this.uncoveredArtifacts(run)
      this.progress?.(what)
      return result !== null
    } catch (error) {
      if (error instanceof RegistryError && error.code === 'invalid_argument') {
        this.unmapped('run', what, `not imported: ${error.message}`)
        return false
      }
      throw error
    }
  }

  private async buildRun(exp: MlExperiment, experiment: RunHistory['experiment'], run: MlRun): Promise<{history: RunHistory; points: MetricPointInput[]} | null> {
    const what = `run ${run.id}`
    if (!RUN_ID.test(run.id)) {
      this.unmapped('run', what, 'its id is not 6-32 lower-case hex characters, as modelreg run ids are: not imported')
      return null
    }
    const status = RUN_STATUS[run.status]
    if (!status) {
      this.unmapped('run', what, `unknown status ${run.status}: not imported`)
      return null
    }
    let name: string | null = null
    if (run.run_name) {
      name = modelregName(run.run_name)
      if (name !== run.run_name) this.unmapped('run', `${what} name ${run.run_name}`, name ? `named ${name} (modelreg names use letters, digits, '.', '_' and '-'); the tag mlflow.runName keeps the original` : 'not a usable name: the run has none')
    }
    const tags: Record<string, string> = {}
    for (const [key, value] of Object.entries(run.tags).sort(([a], [b]) => a.localeCompare(b))) {
      const why = !fits(() => validateLabelKey(key))
        ? `its key is not a modelreg tag key (1-${LIMITS.labelKeyLength} letters, digits, '.', '_', '-', '/')`
        : key === 'mlflow.log-model.history'
          ? "MLflow's record of the models the run logged; registered versions come in as model versions"
          : labelValueProblem(value)
      if (why) this.unmapped('run_tag', `${what} tag ${key}`, `not imported: ${why}`)
      else if (Object.keys(tags).length >= LIMITS.labelCount) this.unmapped('run_tag', `${what} tag ${key}`, `not imported: a modelreg run holds at most ${LIMITS.labelCount} tags`)
      else tags[key] = value
    }
    const params: JsonObject = {}
    for (const [key, value] of Object.entries(run.params)) params[key] = paramValue(value)
    const commit = run.tags[GIT_COMMIT]
    const source: SourceInfo = {
      host: null,
      git: commit ? {commit, branch: run.tags[GIT_BRANCH] || null, dirty: false, remote: run.tags[GIT_REMOTE] || null} : null,
      ci: null,
    }
    const created = iso(run.start_time ?? exp.creation_time)
    const datasets: Dataset[] = []
    const used = new Set<string>()
    for (const input of run.inputs) {
      let tag = input.context && fits(() => validateTag(input.context)) ? (input.context as string) : 'dataset'
      for (let n = 2; used.has(nameKey(tag)); n++) tag = `${input.context && fits(() => validateTag(input.context)) ? input.context : 'dataset'}-${n}`
      used.add(nameKey(tag))
      datasets.push({
        tag,
        uri: (input.source || input.name || 'mlflow-dataset').slice(0, 4096),
        sha256: null,
        size: null,
        metadata: {name: input.name, digest: input.digest, source_type: input.source_type, ...(input.context ? {context: input.context} : {})},
        updated_at: created,
      })
    }
    const {points, summaries} = await this.metrics(run)
    const history: RunHistory = {
      project: {name: this.project, description: '', created_at: created},
      experiment,
      run: {
        id: run.id,
        name,
        status,
        params,
        tags,
        author: run.user_id || run.tags['mlflow.user'] || 'unknown',
        source,
        created_at: created,
        start_time: status === 'queued' || run.start_time === null ? null : iso(run.start_time),
        end_time: run.end_time === null || run.end_time === 0 ? null : iso(run.end_time),
      },
      datasets,
      checkpoints: [],
      metric_summaries: summaries,
    }
    return {history, points}
  }

  /**
   * Every point of every metric. modelreg holds one value per step: of points MLflow logged at the
   * same step (a metric logged without a step is all at step 0), the latest is kept.
   */
  private async metrics(run: MlRun): Promise<{points: MetricPointInput[]; summaries: MetricSummary[]}> {
    const points: MetricPointInput[] = []
    const summaries: MetricSummary[] = []
    for (const key of run.metric_keys) {
      const what = `run ${run.id} metric ${key}`
      if (!fits(() => validateMetricName(key))) {
        this.unmapped('metric', what, "not imported: not a modelreg metric name (letters, digits, '_', '.', '-', '/', ':')")
        continue
      }
      const byStep = new Map<number, {timestamp: number; value: number}>()
      let bad = 0
      let total = 0
      for await (const p of this.source.metricHistory(run, key)) {
        total++
        if (!Number.isFinite(p.value) || !Number.isSafeInteger(p.step) || p.step < 0) {
          bad++
          continue
        }
        const seen = byStep.get(p.step)
        if (!seen || p.timestamp > seen.timestamp || (p.timestamp === seen.timestamp && p.value >= seen.value)) byStep.set(p.step, {timestamp: p.timestamp, value: p.value})
      }
      if (bad) this.unmapped('metric', what, `${bad} of ${total} points not imported: NaN or infinite values, or negative steps`)
      const folded = total - bad - byStep.size
      if (folded) this.unmapped('metric', what, `${folded} of ${total} points share a step with a later point; modelreg keeps one value per step (the latest)`)
      if (byStep.size === 0) continue
      const steps = [...byStep.keys()].sort((a, b) => a - b)
      let min = Number.POSITIVE_INFINITY
      let max = Number.NEGATIVE_INFINITY
      for (const step of steps) {
        const p = byStep.get(step) as {timestamp: number; value: number}
        min = Math.min(min, p.value)
        max = Math.max(max, p.value)
        points.push({name: key, value: p.value, step, time: iso(p.timestamp)})
      }
      const lastStep = steps[steps.length - 1]
      summaries.push({name: key, split: '', last: (byStep.get(lastStep) as {value: number}).value, last_step: lastStep, min, max, count: steps.length})
    }
    return {points, summaries}
  }

  /** Run artifacts that no model version takes: said once per run, by top-level entry. */
  private readonly covered = new Map<string, Set<string>>()
  private async uncoveredArtifacts(run: MlRun): Promise<void> {
    const top = await this.source.topArtifacts(run)
    if (top.length) this.pendingArtifacts.set(run.id, top)
  }
  private readonly pendingArtifacts = new Map<string, string[]>()

  // -------------------------------------------------------------------------------------------
  // registered models and versions

  private async models(): Promise<void> {
    const names = new Map<string, string>()
    for await (const m of this.source.registeredModels()) {
      const what = `model ${m.name}`
      const name = modelregName(m.name)
      if (!name) {
        this.unmapped('model', what, 'its name has no letter or digit to make a modelreg name of: not imported')
        continue
      }
      if (names.has(nameKey(name))) {
        this.unmapped('model', what, `its modelreg name ${name} is taken by model ${names.get(nameKey(name))}: not imported`)
        continue
      }
      names.set(nameKey(name), m.name)
      if (name !== m.name) this.unmapped('model', what, `imported as ${name} (modelreg names use letters, digits, '.', '_' and '-')`)
      try {
        const history = await this.buildModel(m, name)
        if (history) await restore(this.target, this.report, {model: history})
        this.progress?.(what)
      } catch (error) {
        if (error instanceof RegistryError && error.code === 'invalid_argument') this.unmapped('model', what, `not imported: ${error.message}`)
        else throw error
      }
    }
    // Run artifacts outside every version's files.
    for (const [run, top] of this.pendingArtifacts) {
      const covered = this.covered.get(run) ?? new Set()
      const left = top.filter((entry) => !covered.has(entry))
      if (left.length) this.unmapped('artifacts', `run ${run} artifacts ${left.join(', ')}`, 'not imported: modelreg takes run artifacts only as the files of registered model versions')
    }
  }

  private async existing(name: string): Promise<ModelHistory | null> {
    try {
      return await readModelHistory(this.target, this.project, name)
    } catch (error) {
      if (error instanceof RegistryError && error.code === 'not_found') return null
      throw error
    }
  }

  private async buildModel(m: MlRegisteredModel, name: string): Promise<ModelHistory | null> {
    const what = `model ${m.name}`
    const all = await this.source.modelVersions(m)
    const live = all.filter((v) => v.current_stage.toLowerCase() !== DELETED_STAGE)
    const base = await this.existing(name)

    // Model fields: tags become labels where they fit, metadata otherwise.
    const labels: Record<string, string> = {}
    const metadata: JsonObject = {}
    for (const [key, value] of Object.entries(m.tags).sort(([a], [b]) => a.localeCompare(b))) {
      if (fits(() => validateLabelKey(key)) && !labelValueProblem(value) && Object.keys(labels).length < LIMITS.labelCount) labels[key] = value
      else metadata[key] = value
    }
    if (name !== m.name) metadata['mlflow.name'] = m.name
    validateMetadata(metadata)
    const lastNumber = Math.max(base?.model.last_number ?? 0, ...all.map((v) => v.version))

    // Versions: those the store has stay as they are; new ones are appended.
    const versions: VersionRecord[] = [...(base?.versions ?? [])]
    const have = new Map(versions.map((v) => [v.number, v]))
    const added: VersionRecord[] = []
    for (const v of live) {
      const vwhat = `${what} version ${v.version}`
      const fromRun = v.run_id ? this.runs.get(v.run_id) : undefined
      if (fromRun && v.source) this.cover(fromRun.run.id, v.source, fromRun.run)
      const stored = have.get(v.version)
      if (stored) {
        const now = this.versionFields(v)
        if (stored.comment !== now.comment || canonical(stored.metadata) !== canonical(now.metadata)) {
          this.unmapped('version', vwhat, 'its description or tags changed in MLflow after it was imported; modelreg versions do not change: kept as first imported')
        }
        continue
      }
      if (base && v.version <= base.model.last_number) {
        this.unmapped('version', vwhat, `not in the store, which numbered up to ${base.model.last_number} already (it was deleted there, or could not be imported before); numbers are never reused`)
        continue
      }
      const record = await this.buildVersion(m, v)
      if (record) {
        versions.push(record)
        added.push(record)
      }
    }
    versions.sort((a, b) => a.number - b.number)
    if (!base && versions.length === 0) {
      this.unmapped('model', what, 'none of its versions could be imported (see above); a modelreg model is made by its first version: not imported')
      return null
    }
    const numbers = new Set(versions.map((v) => v.number))

    // Tags: aliases, then stages (the highest version in a stage); an alias wins over a stage of the same name.
    const desired = new Map<string, {tag: string; version: number; time: string}>()
    const byStage = new Map<string, MlModelVersion[]>()
    for (const v of live) {
      const stage = v.current_stage.toLowerCase()
      if (stage === 'none' || stage === '') continue
      if (!STAGES[stage]) {
        this.unmapped('stage', `${what} version ${v.version} stage ${v.current_stage}`, 'not a stage modelreg knows (Production, Staging, Archived): no tag made')
        continue
      }
      byStage.set(stage, [...(byStage.get(stage) ?? []), v])
    }
    for (const [stage, list] of byStage) {
      const top = list.reduce((a, b) => (b.version > a.version ? b : a))
      for (const v of list) {
        if (v !== top) this.unmapped('stage', `${what} version ${v.version} stage ${v.current_stage}`, `a tag names one version: ${STAGES[stage]} is on version ${top.version}, the highest in that stage`)
      }
      if (numbers.has(top.version)) desired.set(STAGES[stage], {tag: STAGES[stage], version: top.version, time: iso(top.last_updated_timestamp ?? top.creation_timestamp)})
      else this.unmapped('stage', `${what} version ${top.version} stage ${top.current_stage}`, 'its version is not in the store: no tag made')
    }
    for (const [alias, version] of Object.entries(m.aliases).sort(([a], [b]) => a.localeCompare(b))) {
      const awhat = `${what} alias ${alias}`
      if (!fits(() => validateTag(alias))) {
        this.unmapped('alias', awhat, "not a modelreg tag (letters, digits, '.', '_', '-'; not all digits; not latest): no tag made")
        continue
      }
      if (!numbers.has(version)) {
        this.unmapped('alias', awhat, `its version ${version} is not in the store: no tag made`)
        continue
      }
      const stage = desired.get(nameKey(alias))
      if (stage && stage.version !== version) this.unmapped('stage', `${what} stage ${alias}`, `the alias ${alias} (version ${version}) takes the tag; the stage's version ${stage.version} gets none`)
      desired.set(nameKey(alias), {tag: alias, version, time: iso(m.last_updated_timestamp ?? m.creation_timestamp)})
    }

    // The history: the store's as it is, plus what MLflow has that it has not.
    const events: HistoryEvent[] = [...(base?.events ?? [])]
    const firstAuthor = added[0]?.author ?? 'unknown'
    const created = base ? base.model.created_at : iso(m.creation_timestamp ?? m.last_updated_timestamp)
    if (!base) events.push({time: created, type: 'model.created', version: null, tag: null, actor: firstAuthor, data: {}})
    for (const v of added) {
      events.push({
        time: v.created_at,
        type: 'version.created',
        version: v.number,
        tag: null,
        actor: v.author,
        data: {
          author: v.author,
          comment: v.comment,
          size: v.files.reduce((sum, f) => sum + f.size, 0),
          file_count: v.files.length,
          attachment_count: 0,
          ...(v.lineage?.run ? {run: v.lineage.run.id} : {}),
        },
      })
    }
    const tags = new Map<string, Tag>((base?.tags ?? []).map((t) => [nameKey(t.tag), t]))
    // Tags an earlier import made and MLflow no longer has go; tags made in modelreg stay.
    const fromMlflow = new Set<string>()
    for (const e of base?.events ?? []) {
      if (e.tag && (e.type === 'tag.set' || e.type === 'tag.removed')) {
        if (e.data?.source === 'mlflow') fromMlflow.add(nameKey(e.tag))
        else fromMlflow.delete(nameKey(e.tag))
      }
    }
    for (const [key, t] of [...tags]) {
      if (desired.has(key) || !fromMlflow.has(key)) continue
      tags.delete(key)
      events.push({time: iso(m.last_updated_timestamp), type: 'tag.removed', version: t.version, tag: t.tag, actor: IMPORTER, data: {source: 'mlflow'}})
    }
    for (const [key, d] of desired) {
      const current = tags.get(key)
      if (current && current.version === d.version) continue
      tags.set(key, {tag: d.tag, version: d.version, updated_at: d.time})
      events.push({time: d.time, type: 'tag.set', version: d.version, tag: d.tag, actor: IMPORTER, data: {previous: current?.version ?? null, source: 'mlflow'}})
    }
    for (const key of tags.keys()) if (key === LATEST) tags.delete(key)

    const model: ModelHistory['model'] = {
      name: base?.model.name ?? name,
      description: m.description,
      owner: base?.model.owner ?? null,
      task: base?.model.task ?? null,
      metadata: {...(base?.model.metadata ?? {}), ...metadata},
      labels: {...(base?.model.labels ?? {}), ...labels},
      created_at: created,
      updated_at: iso(m.last_updated_timestamp ?? m.creation_timestamp),
      last_number: lastNumber,
    }
    if (base) {
      const changed = (['description', 'metadata', 'labels'] as const).filter((k) => canonical(base.model[k]) !== canonical(model[k]))
      if (changed.length) events.push({time: model.updated_at, type: 'model.updated', version: null, tag: null, actor: IMPORTER, data: {changed: [...changed], source: 'mlflow'}})
      if (events.length === base.events.length && base.model.last_number === lastNumber) return base
    }
    return {project: base?.project ?? {name: this.project, description: '', created_at: created}, model, versions, tags: [...tags.values()], events}
  }

  private versionFields(v: MlModelVersion): {comment: string; metadata: JsonObject} {
    return {
      comment: v.description ?? '',
      metadata: {...v.tags, ...(v.source ? {'mlflow.source': v.source} : {}), ...(v.run_id ? {'mlflow.run_id': v.run_id} : {})},
    }
  }

  /** A new version: its files stored, its lineage from the run it came from. */
  private async buildVersion(m: MlRegisteredModel, v: MlModelVersion): Promise<VersionRecord | null> {
    const what = `model ${m.name} version ${v.version}`
    if (!v.source) {
      this.unmapped('version', what, 'it names no source: no files to import, not imported')
      return null
    }
    const found = await this.source.artifacts(v.source, (id) => this.mlRuns.get(id))
    if ('unreachable' in found) {
      this.unmapped('version', what, `its files are out of reach: ${found.unreachable}; not imported (its number stays unused)`)
      return null
    }
    for (const f of found.files) {
      if (!fits(() => validateFilePath(f.path))) {
        this.unmapped('version', what, `its file ${JSON.stringify(f.path)} is not a path modelreg can keep: not imported`)
        return null
      }
    }
    const files: FileEntry[] = []
    let mlmodel: string | null = null
    for (const f of found.files) {
      const stored = await this.storeFile(f, f.path === 'MLmodel')
      files.push(stored.entry)
      if (stored.text !== null) mlmodel = stored.text
    }
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    const entry = v.run_id ? this.runs.get(v.run_id) : undefined
    if (v.run_id && !entry) this.unmapped('lineage', `${what} run ${v.run_id}`, 'the run was not imported (deleted in MLflow, or not in this source): the version has no lineage; its metadata keeps mlflow.run_id')
    const run = entry?.history.run
    const metrics: Record<string, number> = {}
    for (const s of entry?.history.metric_summaries ?? []) if (Object.keys(metrics).length < LIMITS.metricCount) metrics[s.name] = s.last
    const lineage: Lineage | null = run
      ? {run: {id: run.id, name: run.name, experiment: entry.history.experiment.name, status: run.status}, checkpoint: null, params: run.params, metrics, datasets: entry.history.datasets}
      : null
    const {comment, metadata} = this.versionFields(v)
    validateMetadata(metadata)
    return {
      number: v.version,
      comment,
      author: v.user_id || run?.author || 'unknown',
      created_at: iso(v.creation_timestamp),
      metadata,
      metrics,
      framework: mlmodel === null ? null : framework(mlmodel),
      format: mlmodel === null ? null : 'mlflow',
      source: run?.source ?? {host: null, git: null, ci: null},
      files,
      attachments: [],
      lineage,
    }
  }

  /** Note which top-level artifact entries of a run a version's source covers. */
  private cover(runId: string, source: string, run: MlRun): void {
    let rel: string | null = null
    const runs = /^runs:\/+[^/]+\/?(.*)$/.exec(source)
    if (runs) rel = runs[1]
    else if (run.artifact_uri) {
      const root = localPath(run.artifact_uri) ?? run.artifact_uri
      const at = localPath(source) ?? source
      if (at === root || at.startsWith(`${root}/`)) rel = at.slice(root.length).replace(/^\/+/, '')
    }
    if (rel === null) return
    const set = this.covered.get(runId) ?? new Set<string>()
    const top = rel.split('/')[0]
    if (top === '') for (const e of this.pendingArtifacts.get(runId) ?? []) set.add(e)
    else set.add(top)
    this.covered.set(runId, set)
  }

  /**
   * One file into the store, unless it has it already (asked by digest). A download goes to a
   * temporary file first, hashed on the way, so that the store is offered bytes whose digest is known.
   */
  private async storeFile(f: ArtifactFile, wantText: boolean): Promise<{entry: FileEntry; text: string | null}> {
    const mode = f.executable ? 0o755 : 0o644
    if (this.report.dry_run) {
      // A dry run reads no artifact bytes: it counts the files as they are listed.
      const digest = createHash('sha256').update(`dry-run:${f.local ?? ''}:${f.path}`).digest('hex')
      this.countBlob(digest, f.size, true)
      return {entry: {path: f.path, size: f.size, sha256: digest, mode}, text: null}
    }
    let path = f.local
    let temp: string | null = null
    if (!path) {
      this.spool ??= await mkdtemp(join(tmpdir(), 'modelreg-mlflow-'))
      temp = join(this.spool, `${this.blobsSeen.size}-${Math.random().toString(36).slice(2)}`)
      await pipeline(await (f.open as () => Promise<NodeJS.ReadableStream>)(), createWriteStream(temp, {mode: 0o600}))
      path = temp
    }
    try {
      const hash = createHash('sha256')
      let size = 0
      await pipeline(
        createReadStream(path),
        new Writable({
          write(chunk: Buffer, _enc, done) {
            hash.update(chunk)
            size += chunk.length
            done()
          },
        }),
      )
      const digest = hash.digest('hex')
      const [missing] = await this.target.missingBlobs([digest])
      if (missing) {
        const from = path
        await this.target.putBlob(digest, size, () => createReadStream(from), {path: from})
      }
      this.countBlob(digest, size, Boolean(missing))
      const text = wantText && size < 1024 * 1024 ? await readFile(path, 'utf8') : null
      return {entry: {path: f.path, size, sha256: digest, mode}, text}
    } finally {
      if (temp) await rm(temp, {force: true})
    }
  }

  private countBlob(digest: string, size: number, written: boolean): void {
    if (this.blobsSeen.has(digest)) return
    this.blobsSeen.add(digest)
    if (written) {
      this.report.blobs.written++
      this.report.blobs.bytes += size
    } else this.report.blobs.unchanged++
  }
}

/** The framework an MLmodel file names: its first flavor other than python_function. */
function framework(mlmodel: string): string | null {
  try {
    const flavors = Object.keys(((parseYaml(mlmodel) as {flavors?: Record<string, unknown>}) ?? {}).flavors ?? {})
    return flavors.find((f) => f !== 'python_function') ?? flavors[0] ?? null
  } catch {
    return null
  }
}

/** Import everything an MLflow source holds into `project` of the target store. */
export async function importMlflow(target: Backend, source: MlflowSource, options: {project: string; dryRun?: boolean; progress?: Progress}): Promise<MlflowReport> {
  return new MlflowImport(target, source, options.project, options.dryRun === true, options.progress).run()
}
