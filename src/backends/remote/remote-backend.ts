/**
 * The Backend over HTTP: a mechanical translation through the shared route table. It does no
 * validation of its own (the server's engine does), so local and remote answer alike.
 */
import {pipeline, type Readable} from 'node:stream'
import {DigestStream} from '../digest.js'
import type {Backend, BlobInfo, BlobStream, EventQuery, MetricPoint, MetricPointInput, MetricPointsInput, MetricQuery, RegistryEvent} from '../backend.js'
import {RegistryError} from '../errors.js'
import {validateDigest} from '../validation.js'
import {JSON_ROUTES, type JsonMethod, STREAM_ROUTES} from '../../protocol/routes.js'
import {HttpClient, type HttpClientOptions} from './http-client.js'

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

  async logMetrics(run: string, points: MetricPointsInput): Promise<{count: number}> {
    return this.http.sendLines(STREAM_ROUTES.logMetrics, {run}, toNdjson(points))
  }

  async logMetricsNdjson(run: string, ndjson: AsyncIterable<Buffer | string>): Promise<{count: number}> {
    return this.http.sendLines(STREAM_ROUTES.logMetrics, {run}, ndjson)
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
    return this.http.upload(STREAM_ROUTES.putBlob, {digest}, size, open)
  }

  async storeBlob(size: number, open: () => Readable): Promise<BlobInfo & {stored: boolean}> {
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

  async openBlob(digest: string, options: {offset?: number; project?: string} = {}): Promise<BlobStream> {
    validateDigest(digest)
    const offset = options.offset ?? 0
    const blob = await this.http.download(STREAM_ROUTES.openBlob, {digest}, {project: options.project}, offset)
    if (!Number.isSafeInteger(blob.size)) throw new RegistryError('internal', `the server sent blob ${digest} without a size`)
    return blob
  }
}

for (const method of Object.keys(JSON_ROUTES) as JsonMethod[]) {
  Object.defineProperty(RemoteBackend.prototype, method, {value: jsonCall(method), writable: true, configurable: true})
}
