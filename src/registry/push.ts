/**
 * Pushing a version, the same way on every backend (as container registries do it): hash the
 * files while streaming them, ask the backend which digests it lacks, upload only those (several
 * at a time), then commit the version in one call. A push killed at any point leaves no version,
 * at most unreferenced blobs that gc reclaims.
 */
import {randomBytes} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {pipeline, Transform, type TransformCallback} from 'node:stream'
import type {Backend, Checkpoint, CheckpointCreate, FileEntry, VersionCreate, VersionCreated} from '../backends/backend.js'
import {CHUNK_SIZE} from '../backends/digest.js'
import {hashFiles} from '../backends/hash-pool.js'
import {invalid, RegistryError} from '../backends/errors.js'
import {
  validateMetadata,
  validateMetrics,
  validateName,
  validateOptionalShortText,
  validateShortText,
  validateTag,
  validateText,
} from '../backends/validation.js'
import {collectFiles, type LocalFile} from './files.js'
import {mapLimit} from '../backends/pool.js'

export interface TransferProgress {
  phase: 'scanning' | 'hashing' | 'uploading' | 'committing' | 'downloading'
  bytesDone: number
  bytesTotal: number
}

/** What a version records, with local paths in place of the manifest the push computes. */
export interface PushInput extends Omit<VersionCreate, 'files' | 'attachments' | 'request_id'> {
  project: string
  model: string
  /** Files and directories to store. */
  paths: string[]
  /** Files to attach. */
  attachments?: string[]
  /** Parallel uploads. */
  concurrency?: number
  onProgress?: (progress: TransferProgress) => void
}

export interface TransferStats {
  files: number
  bytes: number
}

export interface PushResult extends VersionCreated {
  /** Blobs sent to the store by this push. */
  uploaded: TransferStats
  /** Files whose content the store already held (deduplicated). */
  reused: TransferStats
}

class CountingStream extends Transform {
  constructor(private readonly onBytes: (n: number) => void) {
    super({highWaterMark: CHUNK_SIZE})
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.onBytes(chunk.length)
    callback(null, chunk)
  }
}

/** Everything a push can check before reading a byte, checked up front so bad input costs nothing. */
function validatePushInput(input: PushInput): void {
  validateName('project', input.project)
  validateName('model', input.model)
  if (input.paths.length === 0) throw invalid('name at least one file or directory to push')
  if (input.comment !== undefined) validateText(input.comment, 'comment')
  validateShortText(input.author, 'author')
  validateMetadata(input.metadata)
  validateMetrics(input.metrics)
  validateOptionalShortText(input.framework, 'framework')
  validateOptionalShortText(input.format, 'format')
  for (const tag of input.tags ?? []) validateTag(tag)
}

export interface Uploaded {
  files: FileEntry[]
  attachments: FileEntry[]
  uploaded: TransferStats
  reused: TransferStats
  /** Upload again whatever the store lacks now (a gc with no grace removed it meanwhile). */
  restore(): Promise<void>
}

/**
 * Commit, and should the store have lost a blob between upload and commit (only a gc run
 * with no grace period can do that), upload it again and commit again.
 */
async function commitWithBlobs<T>(stored: Uploaded, commit: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await commit()
    } catch (error) {
      const lost = error instanceof RegistryError && error.code === 'invalid_argument' && /^blob [0-9a-f]{64} is not in the store/.test(error.message)
      if (!lost || attempt >= 3) throw error
      await stored.restore()
    }
  }
}

/**
 * Make sure the store holds every file's content, and return the manifests to commit.
 *
 * A file the parent version has at the same path with the same size is probably unchanged:
 * it is hashed first (on two cores when there is a lot), and uploaded only if the store lacks
 * its digest, so a re-push of an unchanged directory reads each file once and sends nothing.
 * Any other file is probably new: it goes to the store in one pass, hashed on the way (the
 * store names it by its digest), instead of being read twice.
 */
export async function uploadFiles(
  backend: Backend,
  paths: string[],
  attachmentPaths: string[],
  options: {concurrency?: number; onProgress?: (progress: TransferProgress) => void; parent?: {files: FileEntry[]; attachments: FileEntry[]}} = {},
): Promise<Uploaded> {
  const progress = options.onProgress ?? (() => {})
  progress({phase: 'scanning', bytesDone: 0, bytesTotal: 0})
  const files = await collectFiles(paths)
  const attachments = await collectFiles(attachmentPaths, 'attachment')
  const all = [...files, ...attachments]
  const concurrency = options.concurrency ?? (backend.kind === 'remote' ? 4 : 2)
  const known = [new Map(options.parent?.files.map((f) => [f.path, f.size])), new Map(options.parent?.attachments.map((f) => [f.path, f.size]))]
  const likelyUnchanged = (file: LocalFile, i: number) => known[i < files.length ? 0 : 1].get(file.path) === file.size
  const entries = new Array<FileEntry>(all.length)
  const sources = new Map<string, LocalFile>()
  const uploaded = new Set<string>()

  const putByDigest = async (digests: string[], onBytes: (n: number) => void) =>
    mapLimit(digests, concurrency, async (digest) => {
      const file = sources.get(digest) as LocalFile
      try {
        await backend.putBlob(
          digest,
          file.size,
          () => pipeline(createReadStream(file.source, {highWaterMark: CHUNK_SIZE}), new CountingStream(onBytes), () => {}),
          {path: file.source, onBytes},
        )
      } catch (error) {
        if (error instanceof RegistryError && error.code === 'integrity') {
          throw new RegistryError('integrity', `file ${file.source} changed while it was being pushed; nothing was committed, retry`)
        }
        throw error
      }
    })

  // Probably unchanged: hash, ask, upload what is missing.
  const check = all.map((file, i) => ({file, i})).filter(({file, i}) => likelyUnchanged(file, i))
  if (check.length) {
    const total = check.reduce((sum, c) => sum + c.file.size, 0)
    let hashed = 0
    const digests = await hashFiles(
      check.map((c) => ({path: c.file.source, size: c.file.size})),
      (n) => progress({phase: 'hashing', bytesDone: (hashed += n), bytesTotal: total}),
    )
    check.forEach(({file, i}, k) => {
      if (digests[k].size !== file.size) throw invalid(`file ${file.source} changed while it was being pushed (size ${file.size} -> ${digests[k].size}); retry`)
      entries[i] = {path: file.path, size: file.size, sha256: digests[k].digest, mode: file.mode}
      if (!sources.has(digests[k].digest)) sources.set(digests[k].digest, file)
    })
    const missing = await backend.missingBlobs([...new Set(check.map(({i}) => entries[i].sha256))])
    let sent = 0
    const missingBytes = missing.reduce((sum, d) => sum + (sources.get(d) as LocalFile).size, 0)
    await putByDigest(missing, (n) => progress({phase: 'uploading', bytesDone: (sent += n), bytesTotal: missingBytes}))
    for (const digest of missing) uploaded.add(digest)
  }

  // Probably new: one pass each, hashed on the way in.
  const fresh = all.map((file, i) => ({file, i})).filter(({file, i}) => !likelyUnchanged(file, i))
  if (fresh.length) {
    const total = fresh.reduce((sum, c) => sum + c.file.size, 0)
    let sent = 0
    await mapLimit(fresh, concurrency, async ({file, i}) => {
      const onBytes = (n: number) => progress({phase: 'uploading', bytesDone: (sent += n), bytesTotal: total})
      const result = await backend
        .storeBlob(file.size, () => pipeline(createReadStream(file.source, {highWaterMark: CHUNK_SIZE}), new CountingStream(onBytes), () => {}), {path: file.source, onBytes})
        .catch((error) => {
        if (error instanceof RegistryError && error.code === 'integrity') {
          throw new RegistryError('integrity', `file ${file.source} changed while it was being pushed; nothing was committed, retry`)
        }
        throw error
      })
      entries[i] = {path: file.path, size: file.size, sha256: result.digest, mode: file.mode}
      if (!sources.has(result.digest)) sources.set(result.digest, file)
      if (result.stored) uploaded.add(result.digest)
    })
  }

  progress({phase: 'committing', bytesDone: 0, bytesTotal: 0})
  const counted = new Set<string>()
  let uploadedBytes = 0
  let reusedFiles = 0
  let reusedBytes = 0
  for (const entry of entries) {
    if (uploaded.has(entry.sha256) && !counted.has(entry.sha256)) {
      counted.add(entry.sha256)
      uploadedBytes += entry.size
    } else {
      reusedFiles++
      reusedBytes += entry.size
    }
  }
  return {
    files: entries.slice(0, files.length),
    attachments: entries.slice(files.length),
    uploaded: {files: counted.size, bytes: uploadedBytes},
    reused: {files: reusedFiles, bytes: reusedBytes},
    async restore() {
      await putByDigest(await backend.missingBlobs([...sources.keys()]), () => {})
    },
  }
}

/** A client-chosen id that makes a commit safe to retry: a repeat returns the first result. */
export function newRequestId(): string {
  return randomBytes(18).toString('base64url')
}

export async function pushVersion(backend: Backend, input: PushInput): Promise<PushResult> {
  validatePushInput(input)
  // The model's latest version tells which files are probably unchanged (see uploadFiles).
  let parent: {files: FileEntry[]; attachments: FileEntry[]} | undefined
  try {
    parent = await backend.getVersion(input.project, input.model, 'latest')
  } catch (error) {
    if (!(error instanceof RegistryError && error.code === 'not_found')) throw error
  }
  const stored = await uploadFiles(backend, input.paths, input.attachments ?? [], {...input, parent})
  const requestId = newRequestId()
  const created = await commitWithBlobs(stored, () => backend.createVersion(input.project, input.model, {
    files: stored.files,
    attachments: stored.attachments,
    comment: input.comment,
    author: input.author,
    metadata: input.metadata,
    metrics: input.metrics,
    framework: input.framework,
    format: input.format,
    tags: input.tags,
    source: input.source,
    run_id: input.run_id,
    datasets: input.datasets,
    request_id: requestId,
  }))
  return {...created, uploaded: stored.uploaded, reused: stored.reused}
}

export interface CheckpointPushResult extends Checkpoint {
  uploaded: TransferStats
  reused: TransferStats
}

/** Store files as a checkpoint of a run (deduplicated like versions). */
export async function pushCheckpoint(
  backend: Backend,
  run: string,
  paths: string[],
  input: Omit<CheckpointCreate, 'files' | 'request_id'> & {concurrency?: number; onProgress?: (progress: TransferProgress) => void} = {},
): Promise<CheckpointPushResult> {
  if (paths.length === 0) throw invalid('name at least one file or directory to store')
  const stored = await uploadFiles(backend, paths, [], input)
  const requestId = newRequestId()
  const checkpoint = await commitWithBlobs(stored, () =>
    backend.createCheckpoint(run, {files: stored.files, step: input.step, metrics: input.metrics, metadata: input.metadata, request_id: requestId}),
  )
  return {...checkpoint, uploaded: stored.uploaded, reused: stored.reused}
}
