/**
 * export, import and copy (docs/move.md, "Move, back up and restore"). The archive format, version 2:
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
 * Import reads the archive once, checking everything (entry names, every blob's sha256 and
 * size, every record's shape, no record twice, the trailer) and writing nothing the target
 * shows: the blobs it lacks are staged as they arrive, hashed on the way (into a local store's
 * own temp area, which later puts them in place without reading them again; for a server, the
 * archive's own bytes when it is an uncompressed file, else a temporary file), the records and
 * points into a temporary spool. Only when the whole archive checks out does the second pass
 * read the spool back: each record's staged blobs are put in place, then the record restored,
 * each model and each run all-or-nothing, and a run's points handed to the store's columnar
 * ingest (Backend.logMetricSeries). Whatever was staged and not used is dropped.
 */
import {createReadStream} from 'node:fs'
import {type FileHandle, mkdtemp, open, rm, unlink} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PassThrough, Readable, type Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createHash} from 'node:crypto'
import {createGzip} from 'node:zlib'
import type {Backend, BlobStaging, HistoryDigests, MetricPoint, MetricSeriesChunk, ModelHistory, RestoreResult, RunHistory} from '../../backends/backend.js'
import {writeFully} from '../../backends/digest.js'
import {fromFsError, integrity, invalid, RegistryError} from '../../backends/errors.js'
import {hashBody, hashRange, StreamHasher} from '../../backends/stream-hasher.js'
import type {FileRange} from '../../backends/blobs.js'
import {validateModelHistory, validateRunHistory} from '../../backends/sql/restore.js'
import {nameKey, SeriesTimes, validateSeriesChunk} from '../../backends/validation.js'
import {blobsOf, readModelHistory, readRunHistory, runsSelected, type Selection, selectedModels, selectedProjects, selectedRuns} from './history.js'
import {readTar, readTarFile, type TarEntry, TarWriter} from './tar.js'

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

/**
 * Write the selection as an archive to a stream (gzipped with `gzip`), or to a file opened for
 * writing (faster: positional writes, and blob bytes written from where they were read).
 */
export async function exportArchive(source: Backend, selection: Selection, out: Writable | FileHandle, options: {gzip?: boolean; progress?: Progress} = {}): Promise<MoveReport & {bytes: number}> {
  if (options.gzip && !('pipe' in out)) throw new Error('exportArchive: gzip needs a stream')
  const gzip = options.gzip ? createGzip() : null
  const done = gzip ? pipeline(gzip, out as Writable) : null
  done?.catch(() => {}) // awaited below; not an unhandled rejection meanwhile
  const tar = new TarWriter(gzip ?? out)
  const hasher = StreamHasher.open()
  try {
    const report = await writeArchive(source, selection, tar, hasher, options.progress)
    if (gzip) {
      gzip.end()
      await done
    }
    return {...report, bytes: tar.bytes}
  } finally {
    await hasher.close()
  }
}

async function writeArchive(source: Backend, selection: Selection, tar: TarWriter, hasher: StreamHasher, progress?: Progress): Promise<MoveReport> {
  const report = emptyReport()
  const written = new Set<string>()
  let seq = 0
  const name = (kind: string) => `records/${String(++seq).padStart(8, '0')}.${kind}.json`
  await tar.entry(
    'modelreg-archive.json',
    `${JSON.stringify({format: ARCHIVE_FORMAT, version: ARCHIVE_VERSION, created_at: new Date().toISOString(), source: source.location, selection}, null, 2)}\n`,
  )
  const mismatch = (digest: string) => integrity(`blob ${digest} in the source does not match its digest; run 'modelreg verify'`)
  const wrongSize = (digest: string, size: number, actual: number) => integrity(`blob ${digest} is ${actual} bytes in the source, its manifest says ${size}; run 'modelreg verify'`)
  /**
   * A local store's blob: read into the hasher's slots, each hashed on a worker while it is
   * written; its digest is checked when the worker gets there (the next blob is read
   * meanwhile), and before the archive is finished.
   */
  const checks: Promise<void>[] = []
  const copyFile = async (path: string, digest: string, size: number) => {
    const handle = await open(path, 'r')
    try {
      const actual = (await handle.stat()).size
      if (actual !== size) throw wrongSize(digest, size, actual)
      await tar.begin(`blobs/sha256/${digest}`, size)
      // Released once written; a failed write is thrown by the tar's next write.
      const {digest: hashed} = await hashRange(hasher, handle, 0, size, {write: (chunk) => tar.writeBorrowed(chunk), short: (read) => wrongSize(digest, size, read)})
      await tar.end()
      const check = hashed.then((d) => {
        if (d !== digest) throw mismatch(digest)
      })
      check.catch(() => {}) // awaited before the archive ends
      checks.push(check)
    } finally {
      await handle.close()
    }
  }
  const writeBlobs = async (blobs: Map<string, number>, project: string) => {
    for (const [digest, size] of blobs) {
      if (written.has(digest)) continue
      const path = (await source.localBlobPath?.(digest)) ?? null
      if (path) await copyFile(path, digest, size)
      else {
        const blob = await source.openBlob(digest, {project})
        if (blob.size !== size) throw wrongSize(digest, size, blob.size)
        const hash = createHash('sha256')
        await tar.streamEntry(`blobs/sha256/${digest}`, size, (async function* () {
          for await (const chunk of blob.stream as AsyncIterable<Buffer>) {
            hash.update(chunk)
            yield chunk
          }
        })())
        if (hash.digest('hex') !== digest) throw mismatch(digest)
      }
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
      progress?.(`model ${item.history.project.name}/${item.history.model.name}`)
    } else {
      await writeBlobs(blobsOf(item.history, selection.since), item.history.project.name)
      await tar.entry(name('run'), JSON.stringify(item.history))
      report.runs.written++
      report.checkpoints.written += item.history.checkpoints.length
      for await (const {json, points} of seriesJsonOf(source, item.history.run.id)) {
        await tar.entry(name('points'), json)
        report.metric_points.written += points
      }
      progress?.(`run ${item.history.run.id}`)
    }
  }
  await Promise.all(checks)
  await tar.entry('modelreg-archive-end.json', `${JSON.stringify({records: seq, blobs: written.size, bytes: report.blobs.bytes})}\n`)
  await tar.finish()
  return report
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

type ArchiveRecord = {model: ModelHistory} | {run: RunHistory} | {points: MetricSeriesChunk[]}

/**
 * The first pass: check the whole archive. Blobs go to `blob`, which must read them to the end
 * and verify them; records and points, checked, are copied as they are into `spool`.
 */
async function check(
  entries: AsyncIterable<TarEntry>,
  on: {blob: (digest: string, size: number, body: AsyncIterable<Buffer> | FileRange) => Promise<void>; spool: TarWriter},
): Promise<{records: number; blobs: number}> {
  let version = 0
  let trailer: {records: number; blobs: number} | null = null
  let records = 0
  const blobs = new Set<string>()
  const models = new Set<string>()
  const runs = new Set<string>()
  let lastRun: string | null = null
  const times = new SeriesTimes()
  for await (const entry of entries) {
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
      try {
        await on.blob(digest, entry.size, entry.file ? {file: entry.file, position: entry.offset} : entry.body)
      } catch (error) {
        throw error instanceof RegistryError && error.code === 'integrity' ? forged(digest) : error
      }
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
    } else {
      if (!lastRun) throw invalid(`archive entry ${path}: metric points that follow no run`)
      // Spooled checked, as doubles and lines: the second pass parses no number again.
      const encoded = pointsEntry(version, body, path, times).map(encodePoints)
      await on.spool.entry(path, Buffer.concat(encoded.flatMap((b) => [uint32(b.length), b])))
      continue
    }
    await on.spool.entry(path, body)
  }
  if (!version) throw invalid('not a modelreg archive: it is empty')
  if (!trailer) throw invalid('the archive has no end record: it is truncated')
  if (trailer.records !== records || trailer.blobs !== blobs.size) throw invalid(`the archive's end record says ${trailer.records} records and ${trailer.blobs} blobs, it holds ${records} and ${blobs.size}`)
  return {records, blobs: blobs.size}
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}

/**
 * Points as the spool keeps them between the passes, checked already: a JSON header
 * ({name, split, n}, its length first as 4 bytes), the steps and the values as doubles, the
 * times (as stored: no newline in them) a line each. Read back without parsing a number.
 */
function encodePoints(chunk: MetricSeriesChunk): Buffer {
  const head = Buffer.from(JSON.stringify({name: chunk.name, split: chunk.split, n: chunk.steps.length}))
  const n = chunk.steps.length
  const numbers = new Float64Array(2 * n)
  for (let i = 0; i < n; i++) {
    numbers[i] = chunk.steps[i]
    numbers[n + i] = chunk.values[i]
  }
  const length = Buffer.alloc(4)
  length.writeUInt32LE(head.length)
  return Buffer.concat([length, head, Buffer.from(numbers.buffer), Buffer.from(chunk.times.join('\n'))])
}

function decodePoints(bytes: Buffer): MetricSeriesChunk {
  const headLength = bytes.readUInt32LE(0)
  const head = JSON.parse(bytes.toString('utf8', 4, 4 + headLength)) as {name: string; split: string; n: number}
  const n = head.n
  const numbers = new Float64Array(2 * n)
  const start = 4 + headLength
  Buffer.from(numbers.buffer).set(bytes.subarray(start, start + 16 * n))
  const steps = new Array<number>(n)
  const values = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    steps[i] = numbers[i]
    values[i] = numbers[n + i]
  }
  const times = n === 0 ? [] : bytes.toString('utf8', start + 16 * n).split('\n')
  return {name: head.name, split: head.split, steps, values, times}
}

/** The second pass: the spooled records, parsed again (they were checked), points as chunks. */
async function* replay(spool: FileHandle): AsyncIterable<ArchiveRecord> {
  for await (const entry of readTarFile(spool)) {
    const chunks: Buffer[] = []
    for await (const chunk of entry.body) chunks.push(chunk)
    const body = Buffer.concat(chunks)
    if (entry.path.endsWith('.model.json')) yield {model: JSON.parse(body.toString('utf8')) as ModelHistory}
    else if (entry.path.endsWith('.run.json')) yield {run: JSON.parse(body.toString('utf8')) as RunHistory}
    else {
      const points: MetricSeriesChunk[] = []
      for (let at = 0; at < body.length; ) {
        const length = body.readUInt32LE(at)
        points.push(decodePoints(body.subarray(at + 4, at + 4 + length)))
        at += 4 + length
      }
      yield {points}
    }
  }
}

/**
 * Read a blob to the end, hashing it on `hasher`. Resolves once it is read, with the check of
 * its digest (integrity unless it is `size` bytes with sha256 `digest`), which may still be on
 * its way: the next blob is read meanwhile.
 */
async function verifyBlob(hasher: StreamHasher, digest: string, size: number, body: AsyncIterable<Buffer> | FileRange): Promise<{check: Promise<void>}> {
  const wrong = () => integrity(`blob ${digest} does not match its digest`, {digest})
  let actual: Promise<string>
  if ('file' in body) ({digest: actual} = await hashRange(hasher, body.file, body.position, size, {short: wrong}))
  else {
    let bytes: number
    ;({bytes, digest: actual} = await hashBody(hasher, body))
    if (bytes !== size) throw wrong()
  }
  const check = actual.then((d) => {
    if (d !== digest) throw wrong()
  })
  check.catch(() => {}) // awaited by whoever asked; not an unhandled rejection meanwhile
  return {check}
}

type Staging = BlobStaging

/**
 * Staging for a target without its own (a server): the blob is verified as it arrives and then
 * sent with putBlob in the second pass, from the archive itself when it is an uncompressed file
 * (the server hashes what it receives again, so the bytes read the second time are checked
 * too), else from a temporary file written as it was verified.
 */
function sendLater(target: Backend, hasher: StreamHasher, dir: string, archive: string | null): Staging {
  const staged = new Map<string, {size: number; file: string; start: number; temporary: boolean}>()
  const checks: Promise<void>[] = []
  return {
    async stage(digest, size, body) {
      if (archive !== null && 'file' in body) {
        checks.push((await verifyBlob(hasher, digest, size, body)).check)
        staged.set(digest, {size, file: archive, start: body.position, temporary: false})
        return
      }
      const file = join(dir, digest)
      const handle = await open(file, 'wx', 0o600)
      let position = 0
      try {
        const wrong = () => integrity(`blob ${digest} does not match its digest`, {digest})
        let actual: Promise<string>
        if ('file' in body) {
          let written: Promise<void>
          ;({digest: actual, written} = await hashRange(hasher, body.file, body.position, size, {write: (chunk, at) => writeFully(handle, chunk, at), short: wrong}))
          await written
        }
        else {
          let bytes: number
          ;({bytes, digest: actual} = await hashBody(hasher, body, async (chunk) => {
            await writeFully(handle, chunk, position)
            position += chunk.length
          }))
          if (bytes !== size) throw wrong()
        }
        const check = actual.then((d) => {
          if (d !== digest) throw wrong()
        })
        check.catch(() => {}) // awaited by verified()
        checks.push(check)
      } finally {
        await handle.close()
      }
      staged.set(digest, {size, file, start: 0, temporary: true})
    },
    verified: async () => {
      await Promise.all(checks)
    },
    has: (digest) => staged.has(digest),
    async commit(digests) {
      const out: boolean[] = []
      for (const digest of digests) {
        const blob = staged.get(digest)
        if (!blob) throw invalid(`blob ${digest} is not staged`)
        staged.delete(digest)
        const open = () => (blob.size === 0 ? Readable.from([]) : createReadStream(blob.file, {start: blob.start, end: blob.start + blob.size - 1, highWaterMark: 1024 * 1024}))
        const result = await target.putBlob(digest, blob.size, open, blob.temporary ? {path: blob.file} : undefined)
        if (blob.temporary) await unlink(blob.file).catch(() => {})
        out.push(result.stored)
      }
      return out
    },
    async discard() {
      staged.clear()
    },
  }
}

async function openArchive(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r')
  } catch (error) {
    throw fromFsError(error, path)
  }
}

/** Whether a file starts with gzip's magic number. */
async function gzipped(path: string): Promise<boolean> {
  const handle = await openArchive(path)
  try {
    const {buffer, bytesRead} = await handle.read(Buffer.alloc(2), 0, 2, 0)
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b
  } finally {
    await handle.close()
  }
}

const forged = (digest: unknown) => integrity(`the archive's blob ${digest} does not match its digest: the archive is damaged or forged; nothing was imported`)

/**
 * Import an archive file (`-`: stdin). The whole archive is checked before anything is written
 * (see the top of this file).
 */
export async function importArchive(target: Backend, file: string, options: {dryRun?: boolean; stdin?: Readable; progress?: Progress} = {}): Promise<MoveReport> {
  const report = emptyReport(options.dryRun === true)
  const fromStdin = file === '-'
  const plainFile = !fromStdin && !(await gzipped(file))
  const work = await mkdtemp(join(tmpdir(), 'modelreg-import-'))
  const hasher = StreamHasher.open()
  let staging: Staging | null = null
  let archive: FileHandle | null = null
  let spool: FileHandle | null = null
  try {
    staging = report.dry_run ? null : (target.blobStaging?.(hasher) ?? sendLater(target, hasher, work, plainFile ? file : null))
    // Pass 1: check everything; stage the blobs the target lacks, spool the records. An
    // uncompressed file is read where its bytes are (blobs straight into the hasher's slots).
    spool = await open(join(work, 'records.tar'), 'w+', 0o600)
    const spooled = new TarWriter(spool)
    if (plainFile) archive = await openArchive(file)
    const stage = staging
    const checks: Promise<void>[] = []
    const handlers = {
      spool: spooled,
      blob: async (digest: string, size: number, body: AsyncIterable<Buffer> | FileRange) => {
        const [missing] = await target.missingBlobs([digest])
        if (!missing || !stage) {
          if (missing) {
            report.blobs.written++
            report.blobs.bytes += size
          } else report.blobs.unchanged++
          checks.push((await verifyBlob(hasher, digest, size, body)).check)
          return
        }
        await stage.stage(digest, size, body)
      },
    }
    if (archive) await check(readTarFile(archive), handlers)
    else await check(readTar(fromStdin ? (options.stdin ?? process.stdin) : createReadStream(file, {highWaterMark: 1024 * 1024})), handlers)
    // Every blob's digest, as its hash comes back (the reads went on meanwhile).
    await Promise.all([...checks, staging?.verified()]).catch((error: unknown) => {
      throw error instanceof RegistryError && error.code === 'integrity' ? forged(error.details?.digest) : error
    })
    await spooled.finish()

    // Pass 2: the records, each after its staged blobs are put in place.
    const commitFor = async (history: ModelHistory | RunHistory) => {
      if (!stage) return
      const named = [...blobsOf(history).entries()].filter(([digest]) => stage.has(digest))
      if (named.length === 0) return
      const stored = await stage.commit(named.map(([digest]) => digest))
      named.forEach(([, size], i) => {
        if (stored[i]) {
          report.blobs.written++
          report.blobs.bytes += size
        } else report.blobs.unchanged++
      })
    }
    const records = replay(spool)[Symbol.asyncIterator]()
    let next = await records.next()
    while (!next.done) {
      const record = next.value
      if ('points' in record) {
        // Points of a run that needs none (unchanged, or a conflict): skipped.
        next = await records.next()
        continue
      }
      await commitFor('model' in record ? record.model : record.run)
      const result = await restore(target, report, record)
      options.progress?.('model' in record ? `model ${record.model.project.name}/${record.model.model.name}` : `run ${record.run.run.id}`)
      next = await records.next()
      if (!('run' in record) || !result?.points_needed || report.dry_run) continue
      // The run's points are the entries that follow it.
      const chunks = async function* (): AsyncIterable<MetricSeriesChunk> {
        while (!next.done && 'points' in next.value) {
          yield* next.value.points
          next = await records.next()
        }
      }
      const {count} = await target.logMetricSeries(record.run.run.id, chunks())
      report.metric_points.written += count
    }
    return report
  } finally {
    await staging?.discard().catch(() => {})
    await hasher.close()
    await archive?.close()
    await spool?.close()
    await rm(work, {recursive: true, force: true})
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
