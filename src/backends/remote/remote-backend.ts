/**
 * The Backend over HTTP: a mechanical translation through the shared route table. It does no
 * validation of its own (the server's engine does), so local and remote answer alike.
 */
import {pipeline, type Readable} from 'node:stream'
import {DigestStream, EMPTY_SHA256, hashFile} from '../digest.js'
import type {Backend, BlobInfo, LocalFileSource, BlobStream, EventQuery, MetricLogOptions, MetricPoint, MetricPointInput, MetricPointsInput, MetricQuery, MetricSeriesChunk, RegistryEvent} from '../backend.js'
import {RegistryError} from '../errors.js'
import {validateDigest, validateSeriesChunk} from '../validation.js'
import {encodeMetricLogQuery, JSON_ROUTES, type JsonMethod, STREAM_ROUTES} from '../../protocol/routes.js'
import {HttpClient, type HttpClientOptions} from './http-client.js'

/** S3 takes at most 5 GiB in one PUT; larger blobs go through the server in parts. */
const MAX_PRESIGNED_PUT = 5 * 1024 ** 3

type JsonCalls = {[K in JsonMethod]: Backend[K]}

/** NDJSON in chunks of about 64 KB, so a large batch is not a write per point. */
async function* toNdjson(points: MetricPointsInput): AsyncIterable<string> {
  let chunk = ''
  for await (const item of points) {
    if (Array.isArray(item)) for (const point of item as readonly MetricPointInput[]) chunk += `${JSON.stringify(point)}\n`
    else chunk += `${JSON.stringify(item)}\n`
    if (chunk.length >= 65_536) {
      yield chunk
      chunk = ''
    }
  }
  if (chunk) yield chunk
}

/** Series chunks as the NDJSON lines the server's metrics route takes, in chunks of about 64 KB. */
async function* seriesToNdjson(chunks: AsyncIterable<MetricSeriesChunk>): AsyncIterable<string> {
  let text = ''
  let before = 0
  for await (const chunk of chunks) {
    // The same check as the store's: the server takes lines, in which increasing steps are not a rule.
    const c = validateSeriesChunk(chunk, before)
    before += c.steps.length
    const head = `{"name":${JSON.stringify(c.name)},"split":${JSON.stringify(c.split)},"step":`
    for (let i = 0; i < c.steps.length; i++) {
      text += `${head}${c.steps[i]},"value":${JSON.stringify(c.values[i])},"time":${JSON.stringify(c.times[i])}}\n`
      if (text.length >= 65_536) {
        yield text
        text = ''
      }
    }
  }
  if (text) yield text
}

function jsonCall<K extends JsonMethod>(method: K) {
  return function (this: RemoteBackend, ...args: Parameters<Backend[K]>): ReturnType<Backend[K]> {
    const route = JSON_ROUTES[method]
    return this.http.json(route, (route.encode as (...a: unknown[]) => ReturnType<typeof route.encode>)(...args)) as ReturnType<Backend[K]>
  }
}

// The JSON methods are generated from the route table below; this declares them for the compiler.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface RemoteBackend extends JsonCalls {}

export class RemoteBackend implements Backend {
  readonly kind = 'remote' as const
  readonly location: string
  readonly http: HttpClient
  /** Whether the server hands out presigned URLs for blobs (s3.presign): unknown until asked once. */
  private presigns: boolean | undefined

  constructor(options: HttpClientOptions) {
    this.http = new HttpClient(options)
    this.location = this.http.url
  }

  async close(): Promise<void> {
    await this.http.close()
  }

  async *followEvents(query: EventQuery, signal: AbortSignal): AsyncIterable<RegistryEvent> {
    const {params, query: wire} = JSON_ROUTES.listEvents.encode({...query, since: undefined, order: undefined, limit: undefined, offset: undefined})
    yield* this.http.lines<RegistryEvent>(STREAM_ROUTES.followEvents, {params, query: wire}, signal)
  }

  async logMetrics(run: string, points: MetricPointsInput, options?: MetricLogOptions): Promise<{count: number}> {
    return this.http.sendLines(STREAM_ROUTES.logMetrics, {run}, toNdjson(points), encodeMetricLogQuery(options))
  }

  async logMetricsNdjson(run: string, ndjson: AsyncIterable<Buffer | string>, options?: MetricLogOptions): Promise<{count: number}> {
    return this.http.sendLines(STREAM_ROUTES.logMetrics, {run}, ndjson, encodeMetricLogQuery(options))
  }

  /**
   * The server takes points as NDJSON: the chunks go as lines, each with its time. Series
   * chunks are a run's own history (import, copy), taken even after its end, as locally.
   */
  async logMetricSeries(run: string, chunks: AsyncIterable<MetricSeriesChunk>): Promise<{count: number}> {
    return this.http.sendLines(STREAM_ROUTES.logMetrics, {run}, seriesToNdjson(chunks), encodeMetricLogQuery({allow_finished: true}))
  }

  async *readMetrics(run: string, query: MetricQuery = {}): AsyncIterable<MetricPoint> {
    const abort = new AbortController()
    try {
      yield* this.http.lines<MetricPoint>(STREAM_ROUTES.readMetrics, {params: {run}, query: {name: query.name, split: query.split}}, abort.signal, true)
    } finally {
      abort.abort()
    }
  }

  async putBlob(digest: string, size: number, open: () => Readable): Promise<BlobInfo & {stored: boolean}> {
    validateDigest(digest)
    if (this.presigns !== false) {
      // With s3.presign on, the bytes go straight to the bucket, which checks their sha256; the server only commits them.
      const upload = await this.askUrl(this.http.json<{url: string | null; headers?: Record<string, string>; upload?: string; stored?: boolean}>(STREAM_ROUTES.blobUploadUrl, {
        params: {digest},
        query: {},
        body: {size},
      }))
      if (upload && upload.url === null && upload.stored === false) return {digest, size, stored: false} // in the store and in view already
      if (upload?.url && upload.headers && upload.upload) {
        this.presigns = true
        await this.http.putPresigned(upload.url, upload.headers, open)
        return this.http.json(STREAM_ROUTES.commitBlobUpload, {params: {digest, upload: upload.upload}, query: {}, body: {size}})
      }
      // Off on this server (or too large for one PUT: then it says so per blob).
      if (upload === null || size <= MAX_PRESIGNED_PUT) this.presigns = false
    }
    return this.http.upload(STREAM_ROUTES.putBlob, {digest}, size, open)
  }

  /**
   * Whether the server hands out presigned uploads, asked once before a fresh file is hashed
   * for one: without them the file goes through the server in one pass (hashed as it is sent),
   * not read twice. The question names the empty blob, which stores nothing unless bytes follow.
   */
  private async presignsUploads(): Promise<boolean> {
    if (this.presigns === undefined) {
      const answer = await this.askUrl(this.http.json<{url: string | null; stored?: boolean}>(STREAM_ROUTES.blobUploadUrl, {params: {digest: EMPTY_SHA256}, query: {}, body: {size: 0}}))
      this.presigns = answer !== null && (answer.url !== null || answer.stored === false)
    }
    return this.presigns
  }

  async storeBlob(size: number, open: () => Readable, file?: LocalFileSource): Promise<BlobInfo & {stored: boolean}> {
    if (file && size <= MAX_PRESIGNED_PUT && (await this.presignsUploads())) {
      // A presigned upload names its digest up front: hash the file first, then send it straight to the bucket.
      const {digest, size: hashed} = await hashFile(file.path)
      if (hashed !== size) throw new RegistryError('integrity', `expected ${size} bytes, got ${hashed}; nothing was stored`)
      return this.putBlob(digest, size, open)
    }
    // Hash what we send, and hold the server to it: its digest must be the one we computed.
    let sent: DigestStream | undefined
    const result = await this.http.upload<BlobInfo & {stored: boolean}>(STREAM_ROUTES.storeBlob, {}, size, () => {
      sent = new DigestStream(size)
      return pipeline(open(), sent, () => {})
    })
    const ours = sent?.digest()
    if (!ours || result.digest !== ours || result.size !== size) {
      throw new RegistryError('integrity', `the server stored the upload as ${result.digest}, but the bytes sent hash to ${ours}`)
    }
    return result
  }

  /** A presigned-URL answer, or null for a 404: a server that predates them, or a blob it lacks. */
  private async askUrl<T extends {url: string | null}>(answer: Promise<T>): Promise<T | null> {
    try {
      return await answer
    } catch (error) {
      if (error instanceof RegistryError && error.code === 'not_found') return null
      throw error
    }
  }

  async openBlob(digest: string, options: {offset?: number; project?: string} = {}): Promise<BlobStream> {
    validateDigest(digest)
    const offset = options.offset ?? 0
    if (this.presigns !== false) {
      // A missing blob is not_found here too; the plain download below then says so.
      const answer = await this.askUrl(this.http.json<{url: string | null}>(STREAM_ROUTES.blobDownloadUrl, {params: {digest}, query: {project: options.project}}))
      if (answer?.url) return this.http.downloadPresigned(answer.url, offset)
      if (answer) this.presigns = false
    }
    const blob = await this.http.download(STREAM_ROUTES.openBlob, {digest}, {project: options.project}, offset)
    if (!Number.isSafeInteger(blob.size)) throw new RegistryError('internal', `the server sent blob ${digest} without a size`)
    return blob
  }
}

for (const method of Object.keys(JSON_ROUTES) as JsonMethod[]) {
  Object.defineProperty(RemoteBackend.prototype, method, {value: jsonCall(method), writable: true, configurable: true})
}
