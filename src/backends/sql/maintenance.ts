/**
 * verify and gc, for every SQL engine and blob store. verify re-hashes every blob the store
 * references (like `git fsck`); gc removes what nothing references, but only after a grace
 * period, so a blob a push in progress has just stored (or just found present) is never taken
 * from under it. gc decides and removes inside one write transaction that holds the blob lock
 * exclusively (see Dialect.sharedBlobLock): no version or checkpoint can claim a blob meanwhile,
 * and one that committed before sees its blobs referenced here.
 */
import {createHash} from 'node:crypto'
import type {GcOptions, GcReport, VerifyProblem, VerifyQuery, VerifyReport} from '../backend.js'
import type {BlobStore, IncompleteUpload, StoredBlob} from '../blobs.js'
import {invalid, notFound} from '../errors.js'
import {mapLimit} from '../pool.js'
import {nameKey, parseSelector, validateName} from '../validation.js'
import type {SqlDriver} from './driver.js'
import {all, effect, get, run, type Task} from './task.js'

/** A temp file or multipart upload younger than this is an upload in progress, whatever the grace. */
const INCOMPLETE_FLOOR_SECONDS = 15 * 60

interface Use {
  size: number
  sizes: Set<number>
  versions: Set<string>
  checkpoints: Set<string>
}

async function sha256Of(blobs: BlobStore, digest: string): Promise<string> {
  const hash = createHash('sha256')
  const {stream} = await blobs.open(digest)
  for await (const chunk of stream) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

export class Maintenance {
  constructor(
    private readonly driver: SqlDriver,
    private readonly blobs: BlobStore,
  ) {}

  private *references(query: VerifyQuery): Task<{uses: Map<string, Use>; versions: number; checkpoints: number; database: string[]}> {
    const whole = query.project === undefined
    const database: string[] = []
    if (whole && this.driver.dialect.databaseCheck) {
      for (const row of yield* all<{problem: string}>(this.driver.dialect.databaseCheck)) database.push(row.problem)
    }
    const where: string[] = []
    const params: unknown[] = []
    if (query.project !== undefined) {
      where.push('p.name_key = ?')
      params.push(nameKey(query.project))
    }
    if (query.model !== undefined) {
      where.push('m.name_key = ?')
      params.push(nameKey(query.model))
    }
    const versionRows = yield* all<{id: number; number: number; model_id: number; model: string; project: string}>(
      `SELECT v.id, v.number, v.model_id, m.name AS model, p.name AS project FROM versions v JOIN models m ON m.id = v.model_id JOIN projects p ON p.id = m.project_id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`,
      ...params,
    )
    let chosen = versionRows
    if (query.selector !== undefined) {
      const s = parseSelector(query.selector)
      if (s.kind === 'version') chosen = versionRows.filter((v) => v.number === s.version)
      else if (s.kind === 'latest') chosen = versionRows.length ? [versionRows.reduce((a, b) => (a.number > b.number ? a : b))] : []
      else {
        const tagged = yield* get<{version_id: number}>('SELECT version_id FROM tags WHERE model_id = ? AND name_key = ?', versionRows[0]?.model_id ?? -1, nameKey(s.tag))
        chosen = versionRows.filter((v) => v.id === tagged?.version_id)
      }
    }
    const uses = new Map<string, Use>()
    const use = (digest: string, size: number): Use => {
      let u = uses.get(digest)
      if (!u) {
        u = {size, sizes: new Set(), versions: new Set(), checkpoints: new Set()}
        uses.set(digest, u)
      }
      u.sizes.add(size)
      return u
    }
    for (const v of chosen) {
      for (const f of yield* all<{sha256: string; size: number}>('SELECT sha256, size FROM version_files WHERE version_id = ?', v.id)) {
        use(f.sha256, f.size).versions.add(`${v.project}/${v.model}:${v.number}`)
      }
    }
    let checkpoints = 0
    if (query.model === undefined) {
      const rows = yield* all<{uuid: string; sha256: string; size: number}>(
        `SELECT c.uuid, f.sha256, f.size FROM checkpoint_files f JOIN checkpoints c ON c.id = f.checkpoint_id JOIN runs r ON r.id = c.run_id
         JOIN experiments e ON e.id = r.experiment_id JOIN projects p ON p.id = e.project_id ${query.project !== undefined ? 'WHERE p.name_key = ?' : ''}`,
        ...(query.project !== undefined ? [nameKey(query.project)] : []),
      )
      const seen = new Set<string>()
      for (const row of rows) {
        use(row.sha256, row.size).checkpoints.add(row.uuid)
        seen.add(row.uuid)
      }
      checkpoints = seen.size
    }
    return {uses, versions: chosen.length, checkpoints, database}
  }

  private *referencedDigests(): Task<Set<string>> {
    return new Set((yield* all<{sha256: string}>('SELECT sha256 FROM version_files UNION SELECT sha256 FROM checkpoint_files')).map((r) => r.sha256))
  }

  async verify(query: VerifyQuery = {}): Promise<VerifyReport> {
    if (query.model !== undefined && query.project === undefined) throw invalid('verify: a model needs its project')
    if (query.selector !== undefined && query.model === undefined) throw invalid('verify: a version needs its model')
    if (query.project !== undefined) validateName('project', query.project)
    if (query.model !== undefined) validateName('model', query.model)
    if (query.selector !== undefined) parseSelector(query.selector)
    const whole = query.project === undefined
    const problems: VerifyProblem[] = []

    // One snapshot of what references what.
    const {uses, versions, checkpoints, database} = await this.driver.read(() => this.references(query))
    for (const message of database) problems.push({kind: 'database', blob: null, message: `database: ${message}`, versions: [], checkpoints: []})
    // Checked before by the engine; this catches a version deleted since.
    if (query.selector !== undefined && versions === 0) throw notFound(`version ${query.model}:${query.selector} not found`)

    // Every referenced blob: present, the right size, the right digest.
    let bytes = 0
    await mapLimit([...uses.entries()], 2, async ([digest, u]) => {
      const who = {versions: [...u.versions].sort(), checkpoints: [...u.checkpoints].sort()}
      const users = [...who.versions, ...who.checkpoints.map((c) => `checkpoint ${c}`)].join(', ')
      if (u.sizes.size > 1) {
        problems.push({kind: 'manifest', blob: digest, message: `blob ${digest} is recorded with different sizes (${[...u.sizes].join(', ')}) by ${users}`, ...who})
      }
      const size = await this.blobs.size(digest)
      if (size === null) {
        problems.push({kind: 'blob_missing', blob: digest, message: `blob ${digest} is missing; used by ${users}`, ...who})
        return
      }
      if (size !== u.size) {
        problems.push({kind: 'blob_size', blob: digest, message: `blob ${digest} is ${size} bytes, expected ${u.size}; used by ${users}`, ...who})
        return
      }
      const actual = await sha256Of(this.blobs, digest)
      bytes += size
      if (actual !== digest) problems.push({kind: 'blob_digest', blob: digest, message: `blob ${digest} does not match its digest (it hashes to ${actual}); used by ${users}`, ...who})
    })
    problems.sort((a, b) => (a.kind + (a.blob ?? '')).localeCompare(b.kind + (b.blob ?? '')))

    const warnings: VerifyReport['warnings'] = []
    if (whole) {
      const incomplete = await collect(this.blobs.listIncomplete())
      if (incomplete.length) {
        const incompleteBytes = incomplete.reduce((sum, t) => sum + t.size, 0)
        warnings.push({
          kind: 'temp_file',
          message: `${incomplete.length} unfinished upload(s) in ${this.blobs.description} (gc removes them)`,
          count: incomplete.length,
          bytes: incompleteBytes,
        })
      }
      const referenced = await this.driver.read(() => this.referencedDigests())
      const orphans = (await collect(this.blobs.list())).filter((b) => !referenced.has(b.digest))
      if (orphans.length) {
        const orphanBytes = orphans.reduce((sum, b) => sum + b.size, 0)
        warnings.push({kind: 'unreferenced_blobs', message: `${orphans.length} blob(s) that nothing references (gc reclaims them)`, count: orphans.length, bytes: orphanBytes})
      }
    }
    const scope = whole ? 'the whole store' : query.model === undefined ? `project ${query.project}` : `${query.project}/${query.model}${query.selector ? `:${query.selector}` : ''}`
    return {ok: problems.length === 0, scope, checked: {versions, checkpoints, blobs: uses.size, bytes}, problems, warnings}
  }

  /** Decide, and unless a dry run, forget and remove, under the exclusive blob lock. */
  private *sweep(stored: Map<string, StoredBlob>, cutoff: number, dryRun: boolean, report: GcReport): Task<void> {
    // Counted afresh each time (a busy database runs the transaction again).
    report.blobs = {count: 0, bytes: 0}
    report.kept_recent = {count: 0, bytes: 0}
    const {exclusiveBlobLock} = this.driver.dialect
    if (exclusiveBlobLock) yield* get(exclusiveBlobLock)
    const referenced = yield* this.referencedDigests()
    const rows = new Map((yield* all<{digest: string; size: number; touched_at: string}>('SELECT digest, size, touched_at FROM blobs')).map((r) => [r.digest, r]))
    const doomed: string[] = []
    for (const digest of new Set([...stored.keys(), ...rows.keys()])) {
      if (referenced.has(digest)) continue
      const object = stored.get(digest)
      const row = rows.get(digest)
      const lastUse = Math.max(row ? Date.parse(row.touched_at) : 0, object?.modified ?? 0)
      const size = object?.size ?? Number(row?.size ?? 0)
      if (lastUse > cutoff) {
        report.kept_recent.count++
        report.kept_recent.bytes += size
        continue
      }
      doomed.push(digest)
      if (object) {
        report.blobs.count++
        report.blobs.bytes += size
      }
    }
    if (dryRun) return
    const {blobs} = this
    for (const digest of doomed) {
      yield* run('DELETE FROM blobs WHERE digest = ?', digest)
      if (stored.has(digest)) yield* effect(`removing blob ${digest} from ${blobs.description}`, () => blobs.remove(digest), blobs.removeSync && (() => blobs.removeSync?.(digest)))
    }
  }

  async gc(options: GcOptions = {}): Promise<GcReport> {
    const grace = options.grace_seconds ?? 3600
    if (!Number.isFinite(grace) || grace < 0) throw invalid('grace must be 0 seconds or more')
    const dryRun = options.dry_run ?? false
    if (!dryRun && !this.driver.dialect.exclusiveBlobLock && !this.blobs.removeSync) {
      // SQLite's transactions cannot wait for a bucket, and removing objects after the commit
      // could take one from under a push that uploads it again meanwhile.
      throw invalid(`gc of ${this.blobs.description} needs the registry's metadata in PostgreSQL; with SQLite it can only report (--dry-run)`)
    }
    const cutoff = Date.now() - grace * 1000
    const report: GcReport = {dry_run: dryRun, blobs: {count: 0, bytes: 0}, temp_files: {count: 0, bytes: 0}, kept_recent: {count: 0, bytes: 0}}
    // Listed first (a blob stored after this is recent, so spared); decided under the lock.
    const stored = new Map((await collect(this.blobs.list())).map((b) => [b.digest, b]))
    await this.driver.write('collecting garbage', () => this.sweep(stored, cutoff, dryRun, report))

    const incompleteCutoff = Math.min(cutoff, Date.now() - INCOMPLETE_FLOOR_SECONDS * 1000)
    const stale: IncompleteUpload[] = (await collect(this.blobs.listIncomplete())).filter((u) => u.modified <= incompleteCutoff)
    for (const upload of stale) {
      report.temp_files.count++
      report.temp_files.bytes += upload.size
      if (!dryRun) await this.blobs.removeIncomplete(upload.id)
    }
    return report
  }
}
