/**
 * verify and gc for the local engine. verify re-hashes every blob the store references (like
 * `git fsck`); gc removes what nothing references, but only after a grace period, so a blob a
 * push in progress has just stored (or just found present) is never taken from under it.
 */
import {createReadStream} from 'node:fs'
import {readdir, stat, unlink} from 'node:fs/promises'
import {join} from 'node:path'
import {createHash} from 'node:crypto'
import {unlinkSync} from 'node:fs'
import type {GcOptions, GcReport, VerifyProblem, VerifyQuery, VerifyReport} from '../backend.js'
import {CHUNK_SIZE} from '../digest.js'
import {fromFsError, invalid, notFound} from '../errors.js'
import {nameKey, parseSelector, validateName} from '../validation.js'
import {mapLimit} from '../pool.js'
import type {Store} from './store.js'

const DIGEST_NAME = /^[0-9a-f]{62}$/
const TEMP_FLOOR_SECONDS = 15 * 60

interface Use {
  size: number
  sizes: Set<number>
  versions: Set<string>
  checkpoints: Set<string>
}

interface BlobFile {
  digest: string
  size: number
  mtimeMs: number
  path: string
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, {highWaterMark: CHUNK_SIZE})) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export class Maintenance {
  constructor(private readonly store: Store) {}

  /** Every blob file on disk. */
  private async blobFiles(): Promise<BlobFile[]> {
    const root = this.store.blobs.blobsDir
    const out: BlobFile[] = []
    let shards: string[]
    try {
      shards = await readdir(root)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return out
      throw fromFsError(error, root)
    }
    for (const shard of shards) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue
      for (const name of await readdir(join(root, shard))) {
        if (!DIGEST_NAME.test(name)) continue
        const path = join(root, shard, name)
        try {
          const info = await stat(path)
          if (info.isFile()) out.push({digest: shard + name, size: info.size, mtimeMs: info.mtimeMs, path})
        } catch {
          // removed meanwhile
        }
      }
    }
    return out
  }

  private async tempFiles(): Promise<{path: string; size: number; mtimeMs: number}[]> {
    const dir = this.store.blobs.tmpDir
    let names: string[]
    try {
      names = await readdir(dir)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw fromFsError(error, dir)
    }
    const out = []
    for (const name of names) {
      try {
        const info = await stat(join(dir, name))
        if (info.isFile()) out.push({path: join(dir, name), size: info.size, mtimeMs: info.mtimeMs})
      } catch {
        // removed meanwhile
      }
    }
    return out
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
    const {uses, versions, checkpoints, database} = this.store.read(() => {
      const database: string[] = []
      if (whole) {
        const rows = this.store.db.pragma('integrity_check') as {integrity_check: string}[]
        for (const row of rows) if (row.integrity_check !== 'ok') database.push(row.integrity_check)
        const fk = this.store.db.pragma('foreign_key_check') as unknown[]
        if (fk.length) database.push(`${fk.length} rows break a foreign key`)
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
      const versionRows = this.store.db
        .prepare(
          `SELECT v.id, v.number, v.model_id, m.name AS model, p.name AS project FROM versions v JOIN models m ON m.id = v.model_id JOIN projects p ON p.id = m.project_id
           ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`,
        )
        .all(...params) as {id: number; number: number; model_id: number; model: string; project: string}[]
      let chosen = versionRows
      if (query.selector !== undefined) {
        const s = parseSelector(query.selector)
        if (s.kind === 'version') chosen = versionRows.filter((v) => v.number === s.version)
        else if (s.kind === 'latest') chosen = versionRows.length ? [versionRows.reduce((a, b) => (a.number > b.number ? a : b))] : []
        else {
          const tagged = this.store.db
            .prepare('SELECT version_id FROM tags WHERE model_id = ? AND name_key = ?')
            .get(versionRows[0]?.model_id ?? -1, nameKey(s.tag)) as {version_id: number} | undefined
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
      const filesOf = this.store.db.prepare('SELECT sha256, size FROM version_files WHERE version_id = ?')
      for (const v of chosen) {
        for (const f of filesOf.all(v.id) as {sha256: string; size: number}[]) use(f.sha256, f.size).versions.add(`${v.project}/${v.model}:${v.number}`)
      }
      let checkpointCount = 0
      if (query.model === undefined) {
        const rows = this.store.db
          .prepare(
            `SELECT c.uuid, f.sha256, f.size FROM checkpoint_files f JOIN checkpoints c ON c.id = f.checkpoint_id JOIN runs r ON r.id = c.run_id
             JOIN experiments e ON e.id = r.experiment_id JOIN projects p ON p.id = e.project_id ${query.project !== undefined ? 'WHERE p.name_key = ?' : ''}`,
          )
          .all(...(query.project !== undefined ? [nameKey(query.project)] : [])) as {uuid: string; sha256: string; size: number}[]
        const seen = new Set<string>()
        for (const row of rows) {
          use(row.sha256, row.size).checkpoints.add(row.uuid)
          seen.add(row.uuid)
        }
        checkpointCount = seen.size
      }
      return {uses, versions: chosen.length, checkpoints: checkpointCount, database}
    })
    for (const message of database) problems.push({kind: 'database', blob: null, message: `database: ${message}`, versions: [], checkpoints: []})
    // Checked before by the backend; this catches a version deleted since.
    if (query.selector !== undefined && versions === 0) throw notFound(`version ${query.model}:${query.selector} not found`)

    // Every referenced blob: present, the right size, the right digest.
    let bytes = 0
    const entries = [...uses.entries()]
    await mapLimit(entries, 2, async ([digest, u]) => {
      const path = this.store.blobs.pathOf(digest)
      const who = {versions: [...u.versions].sort(), checkpoints: [...u.checkpoints].sort()}
      const users = [...who.versions, ...who.checkpoints.map((c) => `checkpoint ${c}`)].join(', ')
      if (u.sizes.size > 1) {
        problems.push({kind: 'manifest', blob: digest, message: `blob ${digest} is recorded with different sizes (${[...u.sizes].join(', ')}) by ${users}`, ...who})
      }
      let size: number
      try {
        size = (await stat(path)).size
      } catch {
        problems.push({kind: 'blob_missing', blob: digest, message: `blob ${digest} is missing; used by ${users}`, ...who})
        return
      }
      if (size !== u.size) {
        problems.push({kind: 'blob_size', blob: digest, message: `blob ${digest} is ${size} bytes, expected ${u.size}; used by ${users}`, ...who})
        return
      }
      const actual = await sha256Of(path)
      bytes += size
      if (actual !== digest) problems.push({kind: 'blob_digest', blob: digest, message: `blob ${digest} does not match its digest (it hashes to ${actual}); used by ${users}`, ...who})
    })
    problems.sort((a, b) => (a.kind + (a.blob ?? '')).localeCompare(b.kind + (b.blob ?? '')))

    const warnings: VerifyReport['warnings'] = []
    if (whole) {
      const temps = await this.tempFiles()
      if (temps.length) {
        const tempBytes = temps.reduce((sum, t) => sum + t.size, 0)
        warnings.push({kind: 'temp_file', message: `${temps.length} temp file(s) of interrupted writes in ${this.store.blobs.tmpDir} (gc removes them)`, count: temps.length, bytes: tempBytes})
      }
      const referenced = this.store.read(() => this.referencedDigests())
      const orphans = (await this.blobFiles()).filter((f) => !referenced.has(f.digest))
      if (orphans.length) {
        const orphanBytes = orphans.reduce((sum, f) => sum + f.size, 0)
        warnings.push({kind: 'unreferenced_blobs', message: `${orphans.length} blob(s) that nothing references (gc reclaims them)`, count: orphans.length, bytes: orphanBytes})
      }
    }
    const scope = whole ? 'the whole store' : query.model === undefined ? `project ${query.project}` : `${query.project}/${query.model}${query.selector ? `:${query.selector}` : ''}`
    return {ok: problems.length === 0, scope, checked: {versions, checkpoints, blobs: uses.size, bytes}, problems, warnings}
  }

  private referencedDigests(): Set<string> {
    const rows = this.store.db.prepare('SELECT sha256 FROM version_files UNION SELECT sha256 FROM checkpoint_files').all() as {sha256: string}[]
    return new Set(rows.map((r) => r.sha256))
  }

  async gc(options: GcOptions = {}): Promise<GcReport> {
    const grace = options.grace_seconds ?? 3600
    if (!Number.isFinite(grace) || grace < 0) throw invalid('grace must be 0 seconds or more')
    const dryRun = options.dry_run ?? false
    const cutoff = Date.now() - grace * 1000
    const files = await this.blobFiles()
    const report: GcReport = {dry_run: dryRun, blobs: {count: 0, bytes: 0}, temp_files: {count: 0, bytes: 0}, kept_recent: {count: 0, bytes: 0}}

    // Decide and delete under the write lock: no version or checkpoint can commit meanwhile, and
    // one that committed before sees its blobs referenced here.
    this.store.write('collecting garbage', () => {
      const referenced = this.referencedDigests()
      const rows = new Map(
        (this.store.db.prepare('SELECT digest, size, touched_at FROM blobs').all() as {digest: string; size: number; touched_at: string}[]).map((r) => [r.digest, r]),
      )
      const onDisk = new Map(files.map((f) => [f.digest, f]))
      const doomed: string[] = []
      for (const digest of new Set([...onDisk.keys(), ...rows.keys()])) {
        if (referenced.has(digest)) continue
        const file = onDisk.get(digest)
        const row = rows.get(digest)
        const lastUse = Math.max(row ? Date.parse(row.touched_at) : 0, file?.mtimeMs ?? 0)
        const size = file?.size ?? row?.size ?? 0
        if (lastUse > cutoff) {
          report.kept_recent.count++
          report.kept_recent.bytes += size
          continue
        }
        doomed.push(digest)
        if (file) {
          report.blobs.count++
          report.blobs.bytes += size
        }
      }
      if (dryRun) return
      const forget = this.store.db.prepare('DELETE FROM blobs WHERE digest = ?')
      for (const digest of doomed) {
        forget.run(digest)
        const file = onDisk.get(digest)
        if (file) {
          try {
            unlinkSync(file.path)
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fromFsError(error, `removing ${file.path}`)
          }
        }
      }
    })

    // A temp file is an upload in progress while it is being written (a live upload keeps
    // touching it), so it goes only when idle for TEMP_FLOOR_SECONDS, whatever the grace.
    const tempCutoff = Math.min(cutoff, Date.now() - TEMP_FLOOR_SECONDS * 1000)
    for (const temp of await this.tempFiles()) {
      if (temp.mtimeMs > tempCutoff) continue
      report.temp_files.count++
      report.temp_files.bytes += temp.size
      if (!dryRun) await unlink(temp.path).catch(() => {})
    }
    return report
  }
}
