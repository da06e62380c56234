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
import {CHUNK_SIZE, hashFile} from '../backends/digest.js'
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

async function hashAll(files: LocalFile[], onBytes: (n: number) => void): Promise<FileEntry[]> {
  return mapLimit(files, 2, async (file) => {
    const {digest, size} = await hashFile(file.source, onBytes)
    if (size !== file.size) throw invalid(`file ${file.source} changed while it was being pushed (size ${file.size} -> ${size}); retry`)
    return {path: file.path, size, sha256: digest, mode: file.mode}
  })
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
 * Make sure the store holds every file's content: hash, ask which digests are missing, upload
 * only those (several at a time). Returns the manifests to commit.
 */
export async function uploadFiles(
  backend: Backend,
  paths: string[],
  attachmentPaths: string[],
  options: {concurrency?: number; onProgress?: (progress: TransferProgress) => void} = {},
): Promise<Uploaded> {
  const progress = options.onProgress ?? (() => {})
  progress({phase: 'scanning', bytesDone: 0, bytesTotal: 0})
  const files = await collectFiles(paths)
  const attachments = await collectFiles(attachmentPaths, 'attachment')
  const all = [...files, ...attachments]
  const totalBytes = all.reduce((sum, f) => sum + f.size, 0)

  let hashed = 0
  const entries = await hashAll(all, (n) => {
    hashed += n
    progress({phase: 'hashing', bytesDone: hashed, bytesTotal: totalBytes})
  })

  const sources = new Map<string, LocalFile>()
  all.forEach((file, i) => {
    if (!sources.has(entries[i].sha256)) sources.set(entries[i].sha256, file)
  })
  const upload = async (digests: string[], onBytes: (n: number) => void) =>
    mapLimit(digests, options.concurrency ?? (backend.kind === 'remote' ? 4 : 2), async (digest) => {
      const file = sources.get(digest) as LocalFile
      try {
        await backend.putBlob(digest, file.size, () =>
          pipeline(createReadStream(file.source, {highWaterMark: CHUNK_SIZE}), new CountingStream(onBytes), () => {}),
        )
      } catch (error) {
        if (error instanceof RegistryError && error.code === 'integrity') {
          throw new RegistryError('integrity', `file ${file.source} changed while it was being pushed; nothing was committed, retry`)
        }
        throw error
      }
    })

  // One upload per missing digest, from the first local file that has it.
  const missing = await backend.missingBlobs([...sources.keys()])
  const uploads = new Map(missing.map((digest) => [digest, sources.get(digest) as LocalFile]))
  const uploadBytes = [...uploads.values()].reduce((sum, f) => sum + f.size, 0)
  let sent = 0
  progress({phase: 'uploading', bytesDone: 0, bytesTotal: uploadBytes})
  await upload(missing, (n) => {
    sent += n
    progress({phase: 'uploading', bytesDone: sent, bytesTotal: uploadBytes})
  })
  progress({phase: 'committing', bytesDone: uploadBytes, bytesTotal: uploadBytes})
  const uploadedDigests = new Set(uploads.keys())
  const reused = entries.filter((e) => !uploadedDigests.has(e.sha256))
  return {
    files: entries.slice(0, files.length),
    attachments: entries.slice(files.length),
    uploaded: {files: uploads.size, bytes: uploadBytes},
    reused: {files: reused.length, bytes: reused.reduce((sum, e) => sum + e.size, 0)},
    async restore() {
      await upload(await backend.missingBlobs([...sources.keys()]), () => {})
    },
  }
}

/** A client-chosen id that makes a commit safe to retry: a repeat returns the first result. */
export function newRequestId(): string {
  return randomBytes(18).toString('base64url')
}

export async function pushVersion(backend: Backend, input: PushInput): Promise<PushResult> {
  validatePushInput(input)
  const stored = await uploadFiles(backend, input.paths, input.attachments ?? [], input)
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
