/**
 * HTTP to a modelreg server through undici: one connection pool per server (connections are
 * reused), timeouts on connect, headers and body, and retries with backoff for requests that
 * are safe to repeat. Every failure becomes a RegistryError; an unreachable server is
 * `unavailable` (exit 7) and names the URL.
 */
import {createInterface} from 'node:readline'
import {PassThrough, Readable} from 'node:stream'
import {Agent, Pool} from 'undici'
import {CHUNK_SIZE} from '../digest.js'
import {errorCodeForHttpStatus, isErrorCode, RegistryError} from '../errors.js'
import {describeNetworkError, isNetworkError} from '../network-errors.js'
import {encodeQuery, fillPath, type QueryValues, type RouteSpec, type WireRequest} from '../../protocol/routes.js'

export interface HttpClientOptions {
  url: string
  token: string | null
  /** Sent so that a server without auth can record who acted. */
  /** Who acts, for the events a change records: a name, or a function asked on the first change. */
  actor?: string | (() => string)
  userAgent?: string
  /** Attempts for a retryable request, the first included. */
  attempts?: number
  connections?: number
}

const RETRYABLE_STATUS = new Set([502, 503, 504])

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export class HttpClient {
  readonly url: string
  private readonly pool: Pool
  /** For presigned URLs: bytes straight to and from the object store, made on first use. */
  private direct: Agent | null = null
  private readonly basePath: string
  private readonly headers: Record<string, string>
  private readonly attempts: number
  private actor: string | (() => string) | undefined

  constructor(options: HttpClientOptions) {
    let parsed: URL
    try {
      parsed = new URL(options.url)
    } catch {
      throw new RegistryError('invalid_argument', `invalid server URL ${JSON.stringify(options.url)}: expected http(s)://host[:port]`)
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new RegistryError('invalid_argument', `invalid server URL ${JSON.stringify(options.url)}: expected http:// or https://`)
    }
    if (parsed.username || parsed.password) {
      throw new RegistryError('invalid_argument', 'put the token in MODELREG_TOKEN or a profile, not in the server URL')
    }
    this.url = `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`
    this.basePath = parsed.pathname.replace(/\/+$/, '')
    this.pool = new Pool(parsed.origin, {
      connections: options.connections ?? 8,
      connect: {timeout: 10_000},
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
      keepAliveTimeout: 10_000,
    })
    this.headers = {'user-agent': options.userAgent ?? 'modelreg'}
    if (options.token) this.headers.authorization = `Bearer ${options.token}`
    this.actor = options.actor
    this.attempts = options.attempts ?? 4
  }

  /** The actor goes with changes only (reads record nothing), so reads never need to find it. */
  private actorHeader(method: string): Record<string, string> {
    if (method === 'GET' || method === 'HEAD' || !this.actor) return {}
    if (typeof this.actor === 'function') this.actor = this.actor()
    return {'x-modelreg-actor': encodeURIComponent(this.actor)}
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => {})
    await this.direct?.close().catch(() => {})
  }

  private objectStore(): Agent {
    this.direct ??= new Agent({connections: 8, connect: {timeout: 10_000}, headersTimeout: 60_000, bodyTimeout: 60_000, keepAliveTimeout: 10_000})
    return this.direct
  }

  /**
   * PUT a blob to a presigned URL the server handed out. The URL and its signed headers are
   * the only credentials; the store refuses bytes whose sha256 is not the signed one. Retried on
   * network failures (the upload key is the client's own, so a repeat is harmless).
   */
  async putPresigned(url: string, headers: Record<string, string>, open: () => Readable): Promise<void> {
    const host = new URL(url).host
    for (let attempt = 1; ; attempt++) {
      let response
      try {
        response = await this.objectStore().request({origin: new URL(url).origin, path: pathOf(url), method: 'PUT', headers, body: open()})
      } catch (error) {
        if ((error as {code?: string}).code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') {
          throw new RegistryError('integrity', `content is not the declared ${headers['content-length'] ?? ''} bytes; nothing was stored`)
        }
        if (!isNetworkError(error)) throw new RegistryError('internal', `upload to the object store at ${host} failed: ${(error as Error).message}`)
        if (attempt >= this.attempts) throw new RegistryError('unavailable', `cannot reach the object store at ${host}: ${describeNetworkError(error)}`)
        await sleep(backoff(attempt))
        continue
      }
      if (response.statusCode < 300) {
        await response.body.dump().catch(() => {})
        return
      }
      if (RETRYABLE_STATUS.has(response.statusCode) && attempt < this.attempts) {
        await response.body.dump().catch(() => {})
        await sleep(backoff(attempt))
        continue
      }
      throw await objectStoreFailure(host, response.statusCode, response.body)
    }
  }

  /** GET a blob from a presigned URL, from `offset`: the stream and the blob's whole size. */
  async downloadPresigned(url: string, offset: number): Promise<{stream: Readable; size: number}> {
    const host = new URL(url).host
    let response
    try {
      response = await this.objectStore().request({origin: new URL(url).origin, path: pathOf(url), method: 'GET', headers: offset > 0 ? {range: `bytes=${offset}-`} : {}})
    } catch (error) {
      if (!isNetworkError(error)) throw new RegistryError('internal', `download from the object store at ${host} failed: ${(error as Error).message}`)
      throw new RegistryError('unavailable', `cannot reach the object store at ${host}: ${describeNetworkError(error)}`)
    }
    if (response.statusCode >= 300) throw await objectStoreFailure(host, response.statusCode, response.body)
    return this.bodyStream(response, offset, `the object store at ${host}`, (error) => new RegistryError('unavailable', `lost the object store at ${host}: ${describeNetworkError(error)}`))
  }

  private unreachable(error: unknown): RegistryError {
    return new RegistryError('unavailable', `cannot reach the modelreg server at ${this.url}: ${describeNetworkError(error)}`)
  }

  /** Turn an error response into the RegistryError the server meant. */
  private async failure(statusCode: number, body: Readable & {text(): Promise<string>}): Promise<RegistryError> {
    let text = ''
    try {
      text = (await body.text()).slice(0, 65_536)
    } catch {
      // the body is gone; the status says enough
    }
    try {
      const envelope = JSON.parse(text) as {error?: {code?: unknown; message?: unknown}}
      if (envelope.error && isErrorCode(envelope.error.code) && typeof envelope.error.message === 'string') {
        return new RegistryError(envelope.error.code, envelope.error.message)
      }
    } catch {
      // not our envelope (a proxy's page, say)
    }
    const code = errorCodeForHttpStatus(statusCode)
    return new RegistryError(code, `the server at ${this.url} answered HTTP ${statusCode}${text && text.length < 200 ? `: ${text.trim()}` : ''}`)
  }

  /**
   * Send a request, retrying network failures and 502/503/504 when the route is idempotent.
   * Returns the response for a 2xx; throws a RegistryError otherwise.
   */
  private async send(
    route: RouteSpec,
    wire: WireRequest,
    extra: {headers?: Record<string, string>; body?: () => Readable | string; signal?: AbortSignal; bodyTimeout?: number} = {},
  ) {
    const path = `${this.basePath}${fillPath(route.path, wire.params)}${encodeQuery(wire.query)}`
    const attempts = route.idempotent ? this.attempts : 1
    for (let attempt = 1; ; attempt++) {
      let response
      try {
        response = await this.pool.request({
          method: route.method,
          path,
          headers: {...this.headers, ...this.actorHeader(route.method), ...extra.headers},
          body: extra.body?.(),
          signal: extra.signal,
          bodyTimeout: extra.bodyTimeout,
          ...(route.longRunning ? {headersTimeout: 0} : {}),
        })
      } catch (error) {
        if (extra.signal?.aborted) throw error
        if (error instanceof RegistryError) throw error
        if ((error as {code?: string}).code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') {
          throw new RegistryError('integrity', `content is not the declared ${extra.headers?.['content-length'] ?? ''} bytes; nothing was stored`)
        }
        if (isPlainHttpAnswer(error)) {
          throw new RegistryError('unavailable', `the server at ${this.url} speaks plain HTTP, not HTTPS: use ${this.url.replace(/^https:/, 'http:')} (or give the server a TLS certificate)`)
        }
        if (!isNetworkError(error)) throw new RegistryError('internal', `request to ${this.url} failed: ${(error as Error).message}`)
        if (attempt >= attempts) throw this.unreachable(error)
        await sleep(backoff(attempt))
        continue
      }
      if (response.statusCode < 300) return response
      if (RETRYABLE_STATUS.has(response.statusCode) && attempt < attempts) {
        await response.body.dump().catch(() => {})
        await sleep(backoff(attempt))
        continue
      }
      throw await this.failure(response.statusCode, response.body)
    }
  }

  async json<T>(route: RouteSpec, wire: WireRequest): Promise<T> {
    const hasBody = wire.body !== undefined
    const payload = hasBody ? JSON.stringify(wire.body) : undefined
    const response = await this.send(route, wire, {
      headers: hasBody ? {'content-type': 'application/json'} : {},
      body: payload === undefined ? undefined : () => payload,
    })
    try {
      return (await response.body.json()) as T
    } catch (error) {
      if (isNetworkError(error)) throw this.unreachable(error)
      throw new RegistryError('internal', `the server at ${this.url} sent a response that is not JSON`)
    }
  }

  /** POST a stream of NDJSON lines (sent once: a stream cannot be replayed). */
  async sendLines<T>(route: RouteSpec, params: Record<string, string>, lines: AsyncIterable<string | Buffer>, query: QueryValues = {}): Promise<T> {
    const response = await this.send(route, {params, query}, {headers: {'content-type': 'application/x-ndjson'}, body: () => Readable.from(lines)})
    return (await response.body.json()) as T
  }

  async upload<T>(route: RouteSpec, params: Record<string, string>, size: number, open: () => Readable): Promise<T> {
    const response = await this.send(
      route,
      {params, query: {}},
      {headers: {'content-type': 'application/octet-stream', 'content-length': String(size)}, body: open},
    )
    return (await response.body.json()) as T
  }

  async download(route: RouteSpec, params: Record<string, string>, query: Record<string, string | undefined>, offset: number): Promise<{stream: Readable; size: number}> {
    const response = await this.send(route, {params, query}, {headers: offset > 0 ? {range: `bytes=${offset}-`} : {}})
    return this.bodyStream(response, offset, `the server at ${this.url}`, (error) => this.unreachable(error))
  }

  /** A download's body and the blob's whole size, from a 200 or a 206 (Content-Range). */
  private async bodyStream(
    response: {statusCode: number; headers: Record<string, string | string[] | undefined>; body: Readable & {dump(): Promise<void>}},
    offset: number,
    who: string,
    lost: (error: unknown) => RegistryError,
  ): Promise<{stream: Readable; size: number}> {
    const header = (name: string) => {
      const value = response.headers[name]
      return Array.isArray(value) ? value[0] : value
    }
    let size: number
    if (response.statusCode === 206) {
      const match = /\/(\d+)$/.exec(header('content-range') ?? '')
      if (!match) throw new RegistryError('internal', `${who} sent a partial response without Content-Range`)
      size = Number(match[1])
    } else {
      if (offset > 0) {
        // The server ignored the range: skip what we already have.
        await response.body.dump()
        throw new RegistryError('internal', `${who} does not support resuming downloads`)
      }
      size = Number(header('content-length') ?? Number.NaN)
    }
    // A connection lost mid-transfer surfaces as `unavailable` (exit 7) naming the server.
    const body = response.body
    const out = new PassThrough({highWaterMark: CHUNK_SIZE})
    body.on('error', (error) => out.destroy(isNetworkError(error) ? lost(error) : error))
    out.on('close', () => body.destroy())
    body.pipe(out)
    return {stream: out, size}
  }

  /**
   * An NDJSON response: each non-empty line parsed. A `finite` stream ends with its body; an
   * endless one (following events) ends only when the signal aborts.
   */
  async *lines<T>(route: RouteSpec, wire: WireRequest, signal: AbortSignal, finite = false): AsyncIterable<T> {
    let response
    try {
      response = await this.send(route, wire, {signal, bodyTimeout: 0})
    } catch (error) {
      if (signal.aborted) return
      throw error
    }
    const reader = createInterface({input: response.body as unknown as Readable, crlfDelay: Number.POSITIVE_INFINITY})
    try {
      for await (const line of reader) {
        if (line.trim() === '') continue
        yield JSON.parse(line) as T
      }
    } catch (error) {
      if (signal.aborted) return
      if (isNetworkError(error)) throw this.unreachable(error)
      throw error
    } finally {
      reader.close()
    }
    if (!signal.aborted && !finite) throw new RegistryError('unavailable', `the modelreg server at ${this.url} closed the event stream`)
  }
}

/** An https:// request answered in plain HTTP: OpenSSL reads the reply as a record of an unknown version. */
function isPlainHttpAnswer(error: unknown): boolean {
  const e = error as {code?: string; message?: string; cause?: {code?: string}}
  return e?.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || e?.cause?.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/.test(e?.message ?? '')
}

function pathOf(url: string): string {
  const parsed = new URL(url)
  return `${parsed.pathname}${parsed.search}`
}

/** An object store's error response (S3 XML: <Code>, <Message>) as one line; a digest mismatch is `integrity`. */
async function objectStoreFailure(host: string, statusCode: number, body: Readable & {text(): Promise<string>}): Promise<RegistryError> {
  const text = await body.text().catch(() => '')
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? ''
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? ''
  if (code === 'XAmzContentSHA256Mismatch' || code === 'BadDigest') {
    return new RegistryError('integrity', `the object store at ${host} refused the upload: its bytes do not have the expected sha256; nothing was stored`)
  }
  const detail = [code, message].filter(Boolean).join(': ')
  return new RegistryError(errorCodeForHttpStatus(statusCode), `the object store at ${host} answered HTTP ${statusCode}${detail ? ` (${detail})` : ''}`)
}

function backoff(attempt: number): number {
  const base = 200 * 2 ** (attempt - 1)
  return base + Math.random() * base
}
