/**
 * Serialized answers to the registry's most frequent reads (a version, a model, a list), kept
 * while what they show is unchanged. The stamp (see SqlEngine.changeStampSince) is taken before
 * the read runs, so an answer computed while another process committed is stored under the
 * older stamp and dropped on the next request: the cache can only err towards reading again.
 * Authentication and authorization run before the cache is consulted, on every request.
 *
 * When the stamp moves, a store that can tell what changed in between (in the same read as the
 * stamp: the project and model of every event written since, the journal every change to a
 * cached answer writes to) has only those answers dropped: a push to one model leaves the
 * cached reads of the others, and a replica's cache survives what the other replicas write
 * elsewhere. An answer about a whole project (its models, its log) goes with any change in that
 * project; a change with no model (the project itself) takes every answer of its project. When
 * the store cannot tell, everything goes.
 */
import {nameKey} from '../backends/validation.js'

export const CACHEABLE_ROUTES: ReadonlySet<string> = new Set(['getProject', 'listModels', 'getModel', 'modelLog', 'listVersions', 'getVersion', 'listTags'])

const MAX_ENTRIES = 1024
const MAX_BODY_BYTES = 256 * 1024

/** What an answer is about: a project, and a model of it or (null) the project as a whole. */
export interface CacheScope {
  project: string
  model: string | null
}

/**
 * The store's stamp, and what changed since `since` as `project/model` keys (`project/` for the
 * project itself), or null when it cannot say.
 */
export type StampSince = (since: string | null) => Promise<{stamp: string | null; changed: string[] | null}>

interface Entry {
  body: Buffer
  project: string
  model: string | null
}

export class ReadCache {
  private stamp: string | null = null
  private readonly entries = new Map<string, Entry>()

  /**
   * `currentStamp(since)` gives the store's stamp (null when it cannot tell cheaply whether it
   * changed: then nothing is kept), and what changed since the stamp the cache holds, when it can
   * say so in the same read.
   */
  constructor(private readonly currentStamp: StampSince) {}

  /** The stamp to store an answer under (null: do not store); drops what changed since the last one. */
  async check(): Promise<string | null> {
    const since = this.stamp
    const {stamp, changed} = await this.currentStamp(since)
    if (stamp === null || stamp !== this.stamp) this.moveTo(stamp, since, changed)
    return stamp
  }

  private moveTo(stamp: string | null, since: string | null, changedSince: string[] | null): void {
    const from = this.stamp
    // What changed is known from the stamp this read started from; if another read moved the
    // cache on meanwhile (writes going on), everything goes: erring towards reading again.
    const changed = from !== null && from === since ? changedSince : null
    if (changed === null) this.entries.clear()
    else if (changed.length > 0) this.drop(changed)
    this.stamp = stamp
  }

  private drop(changed: string[]): void {
    const models = new Set<string>()
    const projects = new Set<string>()
    const wholeProjects = new Set<string>()
    for (const key of changed) {
      const slash = key.indexOf('/')
      const project = key.slice(0, slash)
      const model = key.slice(slash + 1)
      projects.add(project)
      if (model === '') wholeProjects.add(project)
      else models.add(key)
    }
    for (const [key, entry] of this.entries) {
      if (!projects.has(entry.project)) continue
      if (entry.model === null || wholeProjects.has(entry.project) || models.has(`${entry.project}/${entry.model}`)) this.entries.delete(key)
    }
  }

  get(key: string): Buffer | undefined {
    const entry = this.entries.get(key)
    if (entry) {
      // Least recently used goes first: re-insert at the end.
      this.entries.delete(key)
      this.entries.set(key, entry)
    }
    return entry?.body
  }

  set(key: string, stamp: string | null, body: Buffer, scope: CacheScope): void {
    if (stamp === null || stamp !== this.stamp || body.length > MAX_BODY_BYTES) return
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string)
    this.entries.set(key, {body, project: nameKey(scope.project), model: scope.model === null ? null : nameKey(scope.model)})
  }
}
