/**
 * What moves: the selection (`credit-risk`, `team-a/credit-risk:3`, a project, everything),
 * enumerated page by page from any Backend, and each model's and run's history read into the
 * records restore writes (Backend.restoreModel / restoreRun). Export and copy share it.
 */
import type {Backend, CheckpointRecord, FileEntry, HistoryEvent, ModelHistory, RegistryEvent, RunHistory, VersionRecord} from '../../backends/backend.js'
import {invalid} from '../../backends/errors.js'
import {LATEST, nameKey, parseSelector, quote, validateName} from '../../backends/validation.js'

const PAGE = 1000
/** Reads in flight at once when a history needs one per version or checkpoint. */
const READ_CONCURRENCY = 8

/** fn over items, at most `limit` at a time, results in the items' order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return out
}

export interface Selection {
  /** Models: project, name, and optionally one version number. Empty with `projects` empty: everything. */
  models: {project: string; model: string; version: number | null}[]
  /** Whole projects. */
  projects: string[]
  /** Include experiments and runs (always when everything is selected). */
  experiments: boolean
  /** Only what changed at or after this time (ISO 8601). */
  since: string | null
}

/** `credit-risk`, `team-a/credit-risk`, `team-a/credit-risk:3` (a version number; tags name no history). */
export function parseSelection(refs: string[], options: {defaultProject: string; projects?: string[]; experiments?: boolean; since?: string | null; all?: boolean}): Selection {
  const models: Selection['models'] = []
  for (const ref of refs) {
    const slash = ref.indexOf('/')
    const project = slash >= 0 ? ref.slice(0, slash) : options.defaultProject
    const rest = slash >= 0 ? ref.slice(slash + 1) : ref
    const colon = rest.indexOf(':')
    const model = colon >= 0 ? rest.slice(0, colon) : rest
    let version: number | null = null
    if (colon >= 0) {
      const selector = parseSelector(rest.slice(colon + 1))
      if (selector.kind !== 'version') throw invalid(`${quote(ref)}: export and copy take a version number (team-a/credit-risk:3), not a tag or latest`)
      version = selector.version
    }
    models.push({project: validateName('project', project), model: validateName('model', model), version})
  }
  const since = options.since ?? null
  if (since !== null && Number.isNaN(Date.parse(since))) throw invalid(`invalid time ${quote(since)} for --since: expected ISO 8601 (2024-05-01 or 2024-05-01T12:00:00Z)`)
  const projects = (options.projects ?? []).map((p) => validateName('project', p))
  const everything = options.all === true || (models.length === 0 && projects.length === 0)
  return {models, projects, experiments: everything || options.experiments === true, since: since === null ? null : new Date(since).toISOString()}
}

export function isEverything(selection: Selection): boolean {
  return selection.models.length === 0 && selection.projects.length === 0
}

async function* pages<T>(read: (offset: number) => Promise<{items: T[]; total: number}>): AsyncIterable<T> {
  for (let offset = 0; ; offset += PAGE) {
    const page = await read(offset)
    for (const item of page.items) yield item
    if (page.items.length < PAGE) return
  }
}

/** The projects a selection spans, in name order. */
export async function* selectedProjects(source: Backend, selection: Selection): AsyncIterable<string> {
  if (!isEverything(selection)) {
    const names = new Map<string, string>()
    for (const p of [...selection.projects, ...selection.models.map((m) => m.project)]) if (!names.has(nameKey(p))) names.set(nameKey(p), p)
    yield* [...names.values()]
    return
  }
  for await (const p of pages((offset) => source.listProjects({limit: PAGE, offset}))) yield p.name
}

/** The models to move in a project: [name, version or null]. */
export async function* selectedModels(source: Backend, selection: Selection, project: string): AsyncIterable<{model: string; version: number | null}> {
  const whole = isEverything(selection) || selection.projects.some((p) => nameKey(p) === nameKey(project))
  if (whole) {
    for await (const m of pages((offset) => source.listModels(project, {limit: PAGE, offset}))) {
      if (selection.since && m.updated_at < selection.since) continue
      yield {model: m.name, version: null}
    }
    return
  }
  for (const m of selection.models) if (nameKey(m.project) === nameKey(project)) yield {model: m.model, version: m.version}
}

/** Whether a selection moves a project's runs (with --experiments, or everything). */
export function runsSelected(selection: Selection, project: string): boolean {
  if (!selection.experiments) return false
  return isEverything(selection) || selection.projects.some((p) => nameKey(p) === nameKey(project)) || selection.models.some((m) => nameKey(m.project) === nameKey(project))
}

/** The runs to move in a project (with --experiments, or everything). */
export async function* selectedRuns(source: Backend, selection: Selection, project: string): AsyncIterable<string> {
  if (!runsSelected(selection, project)) return
  for await (const r of pages((offset) => source.listRuns(project, {limit: PAGE, offset, sort_by: 'created_at', order_by: 'asc'}))) {
    const since = selection.since
    if (since && r.created_at < since && (r.end_time ?? '') < since && (r.end_time !== null || r.status === 'queued')) continue
    yield r.id
  }
}

function toHistoryEvent(e: RegistryEvent): HistoryEvent {
  return {time: e.time, type: e.type, version: e.version, tag: e.tag, actor: e.actor, data: e.data}
}

/**
 * A model's whole history as the source has it: its events from the model's (last) creation,
 * its live versions with their files, its tags. `version`: only that version (and the events
 * about it), for `credit-risk:3`.
 */
export async function readModelHistory(source: Backend, project: string, name: string, version: number | null = null): Promise<ModelHistory> {
  const [p, m] = await Promise.all([source.getProject(project), source.getModel(project, name)])
  let events: RegistryEvent[] = []
  for await (const e of pages((offset) => source.listEvents({project: p.name, model: m.name, order: 'asc', limit: PAGE, offset}))) {
    // A model deleted and made again under the same name: only the current one's history.
    if (e.type === 'model.created') events = []
    if (e.model !== null && nameKey(e.model) === nameKey(m.name)) events.push(e)
  }
  let lastNumber = m.latest_version ?? 0
  for (const e of events) if (e.type === 'version.created' && e.version !== null) lastNumber = Math.max(lastNumber, e.version)
  const versions: VersionRecord[] = []
  const numbers = version === null ? null : [version]
  if (numbers) {
    const v = await source.getVersion(p.name, m.name, String(version))
    versions.push(toVersionRecord(v))
  } else {
    const summaries: number[] = []
    for await (const v of pages((offset) => source.listVersions(p.name, m.name, {limit: PAGE, offset}))) summaries.push(v.version)
    // Oldest first; a few requests in flight at once (a server answers them in parallel).
    versions.push(...(await mapLimit(summaries.reverse(), READ_CONCURRENCY, async (n) => toVersionRecord(await source.getVersion(p.name, m.name, String(n))))))
  }
  const tags = (await source.listTags(p.name, m.name)).filter((t) => nameKey(t.tag) !== LATEST && (version === null || t.version === version))
  const kept = version === null ? events : events.filter((e) => e.version === null || e.version === version)
  return {
    project: {name: p.name, description: p.description, created_at: p.created_at},
    model: {
      name: m.name,
      description: m.description,
      owner: m.owner,
      task: m.task,
      metadata: m.metadata,
      labels: m.labels,
      created_at: m.created_at,
      updated_at: m.updated_at,
      last_number: lastNumber,
    },
    versions,
    tags,
    events: kept.map(toHistoryEvent),
  }
}

function toVersionRecord(v: Awaited<ReturnType<Backend['getVersion']>>): VersionRecord {
  return {
    number: v.version,
    comment: v.comment,
    author: v.author,
    created_at: v.created_at,
    metadata: v.metadata,
    metrics: v.metrics,
    framework: v.framework,
    format: v.format,
    source: v.source,
    files: v.files,
    attachments: v.attachments,
    lineage: v.lineage,
  }
}

export async function readRunHistory(source: Backend, id: string): Promise<RunHistory> {
  const r = await source.getRun(id)
  const [p, e] = await Promise.all([source.getProject(r.project), source.getExperiment(r.project, r.experiment)])
  const checkpoints: CheckpointRecord[] = await mapLimit(r.checkpoints, READ_CONCURRENCY, async (c) => {
    const full = await source.getCheckpoint(c.uuid)
    return {uuid: full.uuid, step: full.step, metrics: full.metrics, metadata: full.metadata, created_at: full.created_at, files: full.files}
  })
  return {
    project: {name: p.name, description: p.description, created_at: p.created_at},
    experiment: {name: e.name, description: e.description, owner: e.owner, framework: e.framework, created_at: e.created_at, updated_at: e.updated_at},
    run: {
      id: r.id,
      name: r.name,
      status: r.status,
      params: r.params,
      tags: r.tags,
      author: r.author,
      source: r.source,
      created_at: r.created_at,
      start_time: r.start_time,
      end_time: r.end_time,
    },
    datasets: r.datasets,
    checkpoints,
    metric_summaries: r.metric_summaries,
  }
}

/** The blobs a history names, each once, with their sizes; `since`: only those of versions/checkpoints made since. */
export function blobsOf(history: ModelHistory | RunHistory, since: string | null = null): Map<string, number> {
  const out = new Map<string, number>()
  const add = (files: FileEntry[]) => {
    for (const f of files) out.set(f.sha256, f.size)
  }
  if ('model' in history) {
    for (const v of history.versions) if (!since || v.created_at >= since) add([...v.files, ...v.attachments])
  } else for (const c of history.checkpoints) if (!since || c.created_at >= since) add(c.files)
  return out
}
