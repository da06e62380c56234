/**
 * export, import and copy (README, "Move, back up and restore"). The archive format, version 2:
 *
 *   modelreg-archive.json            header: {format: "modelreg-archive", version: 2, created_at, source, selection}
 *   blobs/sha256/<digest>            a blob's bytes, each blob once, before the first record naming it
 *   records/<n>.model.json           a model's whole history (Backend.restoreModel's ModelHistory)
 *   records/<n>.run.json             a run without its points (RunHistory)
 *   records/<n>.points.json          up to 10,000 consecutive points of one series of that run, as columns:
 *                                    {name, split, steps: [...], values: [...], times: [...]}, steps increasing
 *   modelreg-archive-end.json        trailer: {records, blobs, bytes}; an archive without it is truncated
 *
 * Version 1 (still read) had `records/<n>.points.ndjson` instead: up to 10,000 points of the
 * run, one {name,split,step,value,time} a line. Columns cost no object per point to write or
 * read, and the local store writes them (json_group_array) without a JavaScript value per point.
 *
 * A plain tar (ustar), gzipped when the file name ends in .gz or with --gzip (zstd is not in
 * Node 20's zlib). Entries are written and read one at a time: memory stays flat whatever the
 * size, except for the set of blob digests already written (64 bytes each).
 *
 * Import reads the archive twice (stdin is spooled to a temporary file first): the first pass
 * checks everything (entry names, every blob's sha256 and size, every record's shape, no record
 * twice, the trailer) and writes nothing; the second stores the blobs the target lacks and
 * restores the records, each model and each run all-or-nothing, a run's points through the
 * store's columnar ingest (Backend.logMetricSeries).
 */
import {createReadStream, createWriteStream} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PassThrough, Readable, type Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createHash} from 'node:crypto'
import {createGzip} from 'node:zlib'
import type {Backend, HistoryDigests, MetricPoint, MetricSeriesChunk, ModelHistory, RestoreResult, RunHistory} from '../../backends/backend.js'
import {integrity, invalid, RegistryError} from '../../backends/errors.js'
import {validateModelHistory, validateRunHistory} from '../../backends/sql/restore.js'
import {nameKey, SeriesTimes, validateSeriesChunk} from '../../backends/validation.js'
import {blobsOf, readModelHistory, readRunHistory, runsSelected, type Selection, selectedModels, selectedProjects, selectedRuns} from './history.js'
import {readTar, TarWriter} from './tar.js'

export const ARCHIVE_FORMAT = 'modelreg-archive'
export const ARCHIVE_VERSION = 2
/** The versions this modelreg reads. */
const READABLE_VERSIONS = [1, 2]
const POINTS_PER_ENTRY = 10_000
const MAX_RECORD_BYTES = 256 * 1024 * 1024

export interface Conflict {
  kind: 'model' | 'run'
  project: string
  name: string
  message: string
}

/** The `--json` shape of export, import and copy. */
export interface MoveReport {
  dry_run: boolean
  models: {written: number; unchanged: number; conflicts: number}
  versions: {written: number; unchanged: number}
  runs: {written: number; unchanged: number; conflicts: number}
  checkpoints: {written: number; unchanged: number}
  metric_points: {written: number}
  blobs: {written: number; unchanged: number; bytes: number}
  conflicts: Conflict[]
}

export function emptyReport(dryRun = false): MoveReport {
  return {
    dry_run: dryRun,
    models: {written: 0, unchanged: 0, conflicts: 0},
    versions: {written: 0, unchanged: 0},
    runs: {written: 0, unchanged: 0, conflicts: 0},
    checkpoints: {written: 0, unchanged: 0},
    metric_points: {written: 0},
    blobs: {written: 0, unchanged: 0, bytes: 0},
    conflicts: [],
  }
}

export interface Progress {
  (what: string): void
}

function count(report: MoveReport, result: RestoreResult): void {
  const kind = result.kind === 'model' ? report.models : report.runs
  if (result.outcome === 'unchanged') kind.unchanged++
  else kind.written++
  const inner = result.kind === 'model' ? report.versions : report.checkpoints
  inner.written += result.written
  inner.unchanged += result.unchanged
}

/** Restore one record; a conflict is counted and listed, anything else stops the move. */
export async function restore(target: Backend, report: MoveReport, record: {model: ModelHistory} | {run: RunHistory}): Promise<RestoreResult | null> {
  try {
    const result = 'model' in record ? await target.restoreModel(record.model, {dry_run: report.dry_run}) : await target.restoreRun(record.run, {dry_run: report.dry_run})
    count(report, result)
    return result
  } catch (error) {
    if (!(error instanceof RegistryError) || error.code !== 'conflict') throw error
    const conflict: Conflict =
      'model' in record
        ? {kind: 'model', project: record.model.project.name, name: record.model.model.name, message: error.message}
        : {kind: 'run', project: record.run.project.name, name: record.run.run.id, message: error.message}
    report.conflicts.push(conflict)
    if (conflict.kind === 'model') report.models.conflicts++
    else report.runs.conflicts++
    return null
  }
}

// ---------------------------------------------------------------------------------------------
// the records of a selection, as export and copy walk them

type Item = {kind: 'model'; history: ModelHistory} | {kind: 'run'; history: RunHistory}

async function* items(source: Backend, selection: Selection): AsyncIterable<Item> {
  for await (const project of selectedProjects(source, selection)) {
    for await (const {model, version} of selectedModels(source, selection, project)) {
      yield {kind: 'model', history: await readModelHistory(source, project, model, version)}
    }
    for await (const id of selectedRuns(source, selection, project)) yield {kind: 'run', history: await readRunHistory(source, id)}
  }
}

/** A blob's bytes from a backend, as putBlob's `open` wants them (a stream made at once). */
async function blobSource(source: Backend, digest: string, project: string): Promise<{open: () => Readable; file?: {path: string}}> {
  const path = (await source.localBlobPath?.(digest)) ?? null
  if (path) return {open: () => createReadStream(path), file: {path}}
  return {
    open: () => {
      const out = new PassThrough()
      source.openBlob(digest, {project}).then(
        (blob) => pipeline(blob.stream, out).catch((error) => out.destroy(error)),
        (error) => out.destroy(error),
      )
      return out
    },
  }
}

// ---------------------------------------------------------------------------------------------
// metric points as series chunks

/** Points in name, split, step order, as series chunks of at most `max` points each. */
async function* seriesChunks(points: AsyncIterable<MetricPoint>, max: number): AsyncIterable<MetricSeriesChunk> {
  let chunk: MetricSeriesChunk | null = null
  for await (const p of points) {
    if (!chunk || chunk.name !== p.name || chunk.split !== p.split || chunk.steps.length >= max || p.step <= (chunk.steps.at(-1) as number)) {
      if (chunk) yield chunk
      chunk = {name: p.name, split: p.split, steps: [], values: [], times: []}
    }
    chunk.steps.push(p.step)
    chunk.values.push(p.value)
    chunk.times.push(p.time)
  }
  if (chunk) yield chunk
}

/** A run's points from any backend as chunk JSON texts: made by a local store's database, else put together here. */
async function* seriesJsonOf(source: Backend, run: string): AsyncIterable<{json: string; points: number}> {
  if (source.readMetricSeriesJson) {
    yield* source.readMetricSeriesJson(run, POINTS_PER_ENTRY)
    return
  }
  for await (const chunk of seriesChunks(source.readMetrics(run), POINTS_PER_ENTRY)) yield {json: JSON.stringify(chunk), points: chunk.steps.length}
}

/** A run's points from any backend as chunks (copy). */
async function* seriesOf(source: Backend, run: string): AsyncIterable<MetricSeriesChunk> {
  if (!source.readMetricSeriesJson) {
    yield* seriesChunks(source.readMetrics(run), POINTS_PER_ENTRY)
    return
  }
  for await (const {json} of source.readMetricSeriesJson(run, POINTS_PER_ENTRY)) yield JSON.parse(json) as MetricSeriesChunk
}

// ---------------------------------------------------------------------------------------------
// export

export async function exportArchive(source: Backend, selection: Selection, out: Writable, options: {gzip?: boolean; progress?: Progress} = {}): Promise<MoveReport & {bytes: number}> {
  const report = emptyReport()
  const gzip = options.gzip ? createGzip() : null
  const sink: Writable = gzip ?? out
  const done = gzip ? pipeline(gzip, out) : null
  const tar = new TarWriter(sink)
  const written = new Set<string>()
  let seq = 0
  const name = (kind: string) => `records/${String(++seq).padStart(8, '0')}.${kind}.json`
  await tar.entry(
    'modelreg-archive.json',
    `${JSON.stringify({format: ARCHIVE_FORMAT, version: ARCHIVE_VERSION, created_at: new Date().toISOString(), source: source.location, selection}, null, 2)}\n`,
  )
  const writeBlobs = async (blobs: Map<string, number>, project: string) => {
    for (const [digest, size] of blobs) {
      if (written.has(digest)) continue
      const blob = await source.openBlob(digest, {project})
      if (blob.size !== size) throw integrity(`blob ${digest} is ${blob.size} bytes in the source, its manifest says ${size}; run 'modelreg verify'`)
      const hash = createHash('sha256')
      await tar.streamEntry(`blobs/sha256/${digest}`, size, (async function* () {
        for await (const chunk of blob.stream as AsyncIterable<Buffer>) {
          hash.update(chunk)
          yield chunk
        }
      })())
      if (hash.digest('hex') !== digest) throw integrity(`blob ${digest} in the source does not match its digest; run 'modelreg verify'`)
      written.add(digest)
      report.blobs.written++
      report.blobs.bytes += size
    }
  }
  for await (const item of items(source, selection)) {
    if (item.kind === 'model') {
      await writeBlobs(blobsOf(item.history, selection.since), item.history.project.name)
      await tar.entry(name('model'), JSON.stringify(item.history))
      report.models.written++
      report.versions.written += item.history.versions.length
      options.progress?.(`model ${item.history.project.name}/${item.history.model.name}`)
    } else {
      await writeBlobs(blobsOf(item.history, selection.since), item.history.project.name)
      await tar.entry(name('run'), JSON.stringify(item.history))
      report.runs.written++
      report.checkpoints.written += item.history.checkpoints.length
      for await (const {json, points} of seriesJsonOf(source, item.history.run.id)) {
        await tar.entry(name('points'), json)
        report.metric_points.written += points
      }
      options.progress?.(`run ${item.history.run.id}`)
    }
  }
  await tar.entry('modelreg-archive-end.json', `${JSON.stringify({records: seq, blobs: written.size, bytes: report.blobs.bytes})}\n`)
  await tar.finish()
  if (gzip) {
    gzip.end()
    await done
  }
  return {...report, bytes: tar.bytes}
}

// ---------------------------------------------------------------------------------------------
// import

const ENTRY = {
  1: /^(?:modelreg-archive\.json|modelreg-archive-end\.json|blobs\/sha256\/[0-9a-f]{64}|records\/[0-9]{8}\.(?:model|run)\.json|records\/[0-9]{8}\.points\.ndjson)$/,
  2: /^(?:modelreg-archive\.json|modelreg-archive-end\.json|blobs\/sha256\/[0-9a-f]{64}|records\/[0-9]{8}\.(?:model|run|points)\.json)$/,
} as Record<number, RegExp>

async function text(body: AsyncIterable<Buffer>, size: number, path: string): Promise<string> {
  if (size > MAX_RECORD_BYTES) throw invalid(`archive entry ${path} is ${size} bytes, more than a record may be (${MAX_RECORD_BYTES})`)
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

function parse(text: string, path: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw invalid(`archive entry ${path} is not valid JSON`)
  }
}

/** A version 1 points entry: NDJSON lines, as series chunks. */
function ndjsonPoints(text: string, path: string): MetricSeriesChunk[] {
  const points = text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line, i) => {
      const p = parse(line, `${path} line ${i + 1}`) as MetricPoint
      if (typeof p !== 'object' || p === null || typeof p.name !== 'string' || typeof p.value !== 'number' || !Number.isSafeInteger(p.step) || typeof p.time !== 'string') {
        throw invalid(`archive entry ${path} line ${i + 1} is not a metric point`)
      }
      return {...p, split: p.split ?? ''}
    })
  const chunks: MetricSeriesChunk[] = []
  for (const p of points) {
    const last = chunks.at(-1)
    if (last && last.name === p.name && last.split === p.split && p.step > (last.steps.at(-1) as number)) {
      last.steps.push(p.step)
      last.values.push(p.value)
      last.times.push(p.time)
    } else chunks.push({name: p.name, split: p.split, steps: [p.step], values: [p.value], times: [p.time]})
  }
  return chunks
}

/** A points entry of either version as checked series chunks. */
function pointsEntry(version: number, body: string, path: string, times: SeriesTimes): MetricSeriesChunk[] {
  const chunks = version === 1 ? ndjsonPoints(body, path) : [parse(body, path) as MetricSeriesChunk]
  try {
    return chunks.map((chunk) => validateSeriesChunk(chunk, 0, times))
  } catch (error) {
    throw invalid(`archive entry ${path}: ${(error as Error).message}`)
  }
}

/** Walk an archive: checks everything, hands blobs and records to the callbacks. */
async function walk(
  input: Readable,
  on: {blob?: (digest: string, size: number, body: AsyncIterable<Buffer>) => Promise<void>; record?: (record: {model: ModelHistory} | {run: RunHistory} | {points: MetricSeriesChunk[]; run: string}) => Promise<void>},
): Promise<{records: number; blobs: number}> {
  let version = 0
  let trailer: {records: number; blobs: number} | null = null
  let records = 0
  const blobs = new Set<string>()
  const models = new Set<string>()
  const runs = new Set<string>()
  let lastRun: string | null = null
  const times = new SeriesTimes()
  for await (const entry of readTar(input)) {
    const path = entry.path
    if (trailer) throw invalid(`archive entry ${JSON.stringify(path)} comes after the archive's end record`)
    if (entry.type !== '0' || !(ENTRY[version] ?? ENTRY[2]).test(path)) {
      throw invalid(`the archive holds ${JSON.stringify(path)}${entry.type !== '0' ? ` (tar type ${entry.type})` : ''}, which is not part of a modelreg archive: refused, nothing was imported`)
    }
    if (!version) {
      if (path !== 'modelreg-archive.json') throw invalid('not a modelreg archive: it does not start with modelreg-archive.json')
      const h = parse(await text(entry.body, entry.size, path), path) as {format?: string; version?: number}
      if (h?.format !== ARCHIVE_FORMAT) throw invalid('not a modelreg archive: its header names another format')
      if (!READABLE_VERSIONS.includes(h.version as number)) throw invalid(`this archive is format version ${h.version}; this modelreg reads versions ${READABLE_VERSIONS.join(' and ')}: upgrade modelreg`)
      version = h.version as number
      continue
    }
    if (path === 'modelreg-archive.json') throw invalid('the archive has two headers')
    if (path === 'modelreg-archive-end.json') {
      trailer = parse(await text(entry.body, entry.size, path), path) as {records: number; blobs: number}
      continue
    }
    if (path.startsWith('blobs/')) {
      const digest = path.slice('blobs/sha256/'.length)
      if (blobs.has(digest)) throw invalid(`the archive holds blob ${digest} twice`)
      blobs.add(digest)
      const hash = createHash('sha256')
      let size = 0
      const body = (async function* () {
        for await (const chunk of entry.body) {
          hash.update(chunk)
          size += chunk.length
          yield chunk
        }
      })()
      if (on.blob) await on.blob(digest, entry.size, body)
      else for await (const _ of body) void _
      if (size !== entry.size || hash.digest('hex') !== digest) throw integrity(`the archive's blob ${digest} does not match its digest: the archive is damaged or forged; nothing was imported`)
      continue
    }
    records++
    const body = await text(entry.body, entry.size, path)
    if (path.endsWith('.model.json')) {
      const model = parse(body, path) as ModelHistory
      try {
        validateModelHistory(model)
      } catch (error) {
        throw invalid(`archive entry ${path}: ${(error as Error).message}`)
      }
      const key = `${nameKey(model.project.name)}/${nameKey(model.model.name)}`
      if (models.has(key)) throw invalid(`the archive holds model ${model.project.name}/${model.model.name} twice: its records collide`)
      models.add(key)
      lastRun = null
      await on.record?.({model})
    } else if (path.endsWith('.run.json')) {
      const run = parse(body, path) as RunHistory
      try {
        validateRunHistory(run)
      } catch (error) {
        throw invalid(`archive entry ${path}: ${(error as Error).message}`)
      }
      if (runs.has(run.run.id)) throw invalid(`the archive holds run ${run.run.id} twice: its records collide`)
      runs.add(run.run.id)
      lastRun = run.run.id
      await on.record?.({run})
    } else {
      if (!lastRun) throw invalid(`archive entry ${path}: metric points that follow no run`)
      // Checked in the first pass too (an optional call would not even evaluate its argument).
      const points = pointsEntry(version, body, path, times)
      await on.record?.({points, run: lastRun})
    }
  }
  if (!version) throw invalid('not a modelreg archive: it is empty')
  if (!trailer) throw invalid('the archive has no end record: it is truncated')
  if (trailer.records !== records || trailer.blobs !== blobs.size) throw invalid(`the archive's end record says ${trailer.records} records and ${trailer.blobs} blobs, it holds ${records} and ${blobs.size}`)
  return {records, blobs: blobs.size}
}

/**
 * Import an archive file (`-`: stdin, spooled to a temporary file first, so that the archive is
 * checked whole before anything is written).
 */
export async function importArchive(target: Backend, file: string, options: {dryRun?: boolean; stdin?: Readable; progress?: Progress} = {}): Promise<MoveReport> {
  let path = file
  let spool: string | null = null
  if (file === '-') {
    spool = await mkdtemp(join(tmpdir(), 'modelreg-import-'))
    path = join(spool, 'archive')
    await pipeline(options.stdin ?? process.stdin, createWriteStream(path, {mode: 0o600}))
  }
  try {
    const open = () => createReadStream(path, {highWaterMark: 1024 * 1024})
    // Pass 1: check everything, write nothing.
    await walk(open(), {})
    const report = emptyReport(options.dryRun === true)
    // Pass 2: blobs the target lacks, then the records.
    let pointsFor: string | null = null
    await walk(open(), {
      blob: async (digest, size, body) => {
        const [missing] = await target.missingBlobs([digest])
        if (!missing) {
          report.blobs.unchanged++
          for await (const _ of body) void _
          return
        }
        report.blobs.written++
        report.blobs.bytes += size
        if (report.dry_run) {
          for await (const _ of body) void _
          return
        }
        let opened = false
        await target.putBlob(digest, size, () => {
          if (opened) throw new RegistryError('unavailable', `blob ${digest} could not be sent; run the import again`)
          opened = true
          return Readable.from(body)
        })
      },
      record: async (record) => {
        if ('points' in record) {
          if (pointsFor !== record.run || report.dry_run) return
          const {count} = await target.logMetricSeries(record.run, (async function* () {
            yield* record.points
          })())
          report.metric_points.written += count
          return
        }
        const result = await restore(target, report, record)
        pointsFor = result && result.kind === 'run' && result.points_needed ? result.name : null
        options.progress?.('model' in record ? `model ${record.model.project.name}/${record.model.model.name}` : `run ${record.run.run.id}`)
      },
    })
    return report
  } finally {
    if (spool) await rm(spool, {recursive: true, force: true})
  }
}

// ---------------------------------------------------------------------------------------------
// copy

/** A project's history digests, by name key; null when the backend cannot say (an older server). */
async function digestsOf(backend: Backend, project: string, runs: boolean): Promise<{models: Map<string, {digest: string; versions: number}>; runs: Map<string, {digest: string; checkpoints: number}>} | null> {
  let d: HistoryDigests
  try {
    d = await backend.historyDigests(project, {runs})
  } catch (error) {
    if (error instanceof RegistryError && (error.code === 'not_found' || error.code === 'method_not_allowed')) return null
    throw error
  }
  return {models: new Map(d.models.map((m) => [nameKey(m.name), m])), runs: new Map(d.runs.map((r) => [r.id, r]))}
}

/**
 * Straight from one backend to another: only the blobs the target lacks move. Each project
 * starts with one digest request to either side (Backend.historyDigests): a model or run whose
 * history digests agree is unchanged, and is neither read nor sent. Only the others are read
 * whole and restored (which compares them again, in the target's transaction).
 */
export async function copyStore(source: Backend, target: Backend, selection: Selection, options: {dryRun?: boolean; progress?: Progress} = {}): Promise<MoveReport> {
  const report = emptyReport(options.dryRun === true)
  const copyItem = async (item: Item) => {
    const blobs = blobsOf(item.history, selection.since)
    const missing = new Set(blobs.size ? await target.missingBlobs([...blobs.keys()]) : [])
    report.blobs.unchanged += blobs.size - missing.size
    for (const digest of missing) {
      const size = blobs.get(digest) as number
      report.blobs.written++
      report.blobs.bytes += size
      if (report.dry_run) continue
      const {open, file} = await blobSource(source, digest, item.history.project.name)
      await target.putBlob(digest, size, open, file)
    }
    const result = await restore(target, report, item.kind === 'model' ? {model: item.history} : {run: item.history})
    if (item.kind === 'run' && result?.points_needed && !report.dry_run) {
      const id = item.history.run.id
      const {count} = await target.logMetricSeries(id, seriesOf(source, id))
      report.metric_points.written += count
    }
  }
  for await (const project of selectedProjects(source, selection)) {
    const runs = runsSelected(selection, project)
    const [mine, theirs] = await Promise.all([digestsOf(source, project, runs), digestsOf(target, project, runs)])
    for await (const {model, version} of selectedModels(source, selection, project)) {
      const s = mine?.models.get(nameKey(model))
      const t = theirs?.models.get(nameKey(model))
      if (version === null && s && t && s.digest === t.digest) {
        report.models.unchanged++
        report.versions.unchanged += t.versions
      } else await copyItem({kind: 'model', history: await readModelHistory(source, project, model, version)})
      options.progress?.(`model ${project}/${model}`)
    }
    for await (const id of selectedRuns(source, selection, project)) {
      const s = mine?.runs.get(id)
      const t = theirs?.runs.get(id)
      if (s && t && s.digest === t.digest) {
        report.runs.unchanged++
        report.checkpoints.unchanged += t.checkpoints
      } else await copyItem({kind: 'run', history: await readRunHistory(source, id)})
      options.progress?.(`run ${id}`)
    }
  }
  return report
}
