/**
 * Signed S3 requests over one undici pool. aws4fetch computes the SigV4 signature (headers or
 * query string); undici sends. Every failure becomes a RegistryError here, at the edge: an
 * unreachable endpoint is `unavailable`, a refused signature `permission_denied` with S3's error
 * code, a missing bucket one clear line. Requests whose body can be sent again (none, or a
 * buffer) are retried on network failures and 500/502/503/504; a streamed body is sent once.
 * Messages name the endpoint and bucket, never a key id, secret or signature.
 */
import {createHash, createHmac, webcrypto} from 'node:crypto'
import type {IncomingHttpHeaders} from 'node:http'
import type {Readable} from 'node:stream'
import {AwsV4Signer} from 'aws4fetch'
import {type Dispatcher, Pool} from 'undici'
import {EMPTY_SHA256} from '../digest.js'
import {type ErrorCode, RegistryError} from '../errors.js'
import {childText, parseXml, type XmlElement, XmlError} from './xml.js'
import {describeNetworkError, errorCodeOf, isNetworkError} from '../network-errors.js'

export interface S3Endpoint {
  /** http(s)://host[:port], no path. */
  endpoint: string
  bucket: string
  region: string
  forcePathStyle: boolean
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
  connections?: number
  /** Connect, and wait for an answer or for more of a body, this long. Default 120 s. */
  timeoutMs?: number
  /** Attempts for a request that can be sent again, the first included. Default 3. */
  attempts?: number
}

export interface S3Call {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE'
  /** The object's full key; none for a request on the bucket. */
  key?: string
  query?: Record<string, string>
  headers?: Record<string, string>
  body?: Buffer | Readable
  /** Required with a streamed body. */
  contentLength?: number
  /** x-amz-content-sha256: the body's hex sha256 (computed here for a buffer), or a STREAMING-* mode. */
  payloadHash?: string
  /** What the request does, for messages: `storing blob 3f…`. */
  what: string
  /** Statuses >= 300 handed back instead of thrown (404 on HEAD, 412 on a conditional PUT). */
  accept?: number[]
}

export interface S3Response {
  status: number
  headers: IncomingHttpHeaders
  body: Readable & {text(): Promise<string>; dump(): Promise<void>}
}

const RETRYABLE_STATUS = new Set([500, 502, 503, 504])
/** Worth another attempt: the connection broke or stalled. Refused and not-found fail fast. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED'])

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export {errorCodeOf, isNetworkError}

/** RFC 3986 encoding, as SigV4 canonicalizes: what is sent is what is signed. */
export const encodeRfc3986 = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

export const encodeKey = (key: string) => key.split('/').map(encodeRfc3986).join('/')

export const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex')

/** Bodies from this size are hashed off the main thread, which meanwhile hashes the blob's stream. */
const HASH_ELSEWHERE_BYTES = 1024 * 1024

/** A body's hex sha256; a large one on libuv's thread pool (WebCrypto), so the event loop goes on. */
async function bodySha256(body: Buffer): Promise<string> {
  if (body.length < HASH_ELSEWHERE_BYTES) return sha256Hex(body)
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', body)).toString('hex')
}

/** An S3 error answer: its code and message (empty when the body was not S3's XML). */
export interface S3ErrorAnswer {
  status: number
  code: string
  message: string
}

export function readErrorXml(status: number, text: string): S3ErrorAnswer {
  try {
    const root = parseXml(text)
    if (root.name === 'Error') return {status, code: childText(root, 'Code') ?? '', message: childText(root, 'Message') ?? ''}
  } catch {
    // a proxy's page, or no body (HEAD): the status says what there is to say
  }
  return {status, code: '', message: ''}
}

const PERMISSION_HINTS: Record<string, string> = {
  InvalidAccessKeyId: 'check the access key id',
  SignatureDoesNotMatch: 'check the secret access key',
  ExpiredToken: 'the session token has expired',
  InvalidToken: 'check the session token',
  RequestTimeTooSkewed: "check this machine's clock",
  AccessDenied: 'the credentials may not do this',
}

export class S3Client {
  readonly endpoint: string
  readonly bucket: string
  readonly region: string
  private readonly origin: string
  private readonly basePath: string
  private readonly pool: Pool
  private readonly attempts: number
  /** aws4fetch's cache of derived signing keys (one per day, region and service). */
  private readonly signingKeys = new Map<string, ArrayBuffer>()

  constructor(private readonly options: S3Endpoint) {
    let parsed: URL
    try {
      parsed = new URL(options.endpoint)
    } catch {
      throw new RegistryError('invalid_argument', `invalid S3 endpoint ${JSON.stringify(options.endpoint)}: expected http(s)://host[:port]`)
    }
    if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.username || parsed.password || parsed.search || parsed.pathname.replace(/\/+$/, '') !== '') {
      throw new RegistryError('invalid_argument', `invalid S3 endpoint ${JSON.stringify(parsed.origin)}: expected http(s)://host[:port] with no path or credentials`)
    }
    this.endpoint = parsed.origin
    this.bucket = options.bucket
    this.region = options.region
    if (options.forcePathStyle) {
      this.origin = parsed.origin
      this.basePath = `/${encodeRfc3986(options.bucket)}`
    } else {
      this.origin = `${parsed.protocol}//${options.bucket}.${parsed.host}`
      this.basePath = ''
    }
    const timeout = options.timeoutMs ?? 120_000
    this.pool = new Pool(this.origin, {
      connections: options.connections ?? 16,
      connect: {timeout: Math.min(timeout, 10_000)},
      headersTimeout: timeout,
      bodyTimeout: timeout,
      keepAliveTimeout: 10_000,
    })
    this.attempts = options.attempts ?? 3
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => {})
  }

  /** The URL of an object (or the bucket), with a query string encoded as it will be signed. */
  url(key: string | undefined, query: Record<string, string> = {}): URL {
    const path = key === undefined ? `${this.basePath}/` : `${this.basePath}/${encodeKey(key)}`
    const search = Object.entries(query)
      .map(([k, v]) => (v === '' ? encodeRfc3986(k) : `${encodeRfc3986(k)}=${encodeRfc3986(v)}`))
      .join('&')
    return new URL(`${this.origin}${path}${search ? `?${search}` : ''}`)
  }

  private signer(method: string, url: URL, headers: Record<string, string>, extra: {signQuery?: boolean; datetime?: string} = {}): AwsV4Signer {
    return new AwsV4Signer({
      method,
      url: url.toString(),
      headers,
      accessKeyId: this.options.accessKeyId,
      secretAccessKey: this.options.secretAccessKey,
      sessionToken: this.options.sessionToken,
      service: 's3',
      region: this.region,
      cache: this.signingKeys,
      ...extra,
    })
  }

  /** Headers of a signed request (Authorization, X-Amz-Date, ...), with the seed signature for aws-chunked bodies. */
  async sign(method: string, url: URL, headers: Record<string, string>, datetime?: string): Promise<{headers: Record<string, string>; signature: string}> {
    const signer = this.signer(method, url, headers, {datetime})
    const signed = await signer.sign()
    const out: Record<string, string> = {}
    signed.headers.forEach((value, name) => {
      out[name] = value
    })
    return {headers: out, signature: /Signature=([0-9a-f]{64})/.exec(out.authorization ?? '')?.[1] ?? ''}
  }

  /** A query-string-signed URL valid for `seconds`; `headers` are signed too and must be sent with it. */
  async presign(method: string, key: string, seconds: number, headers: Record<string, string> = {}): Promise<string> {
    const url = this.url(key, {'X-Amz-Expires': String(seconds)})
    const signed = await this.signer(method, url, headers, {signQuery: true}).sign()
    return signed.url.toString()
  }

  /** The key that signs aws-chunked chunk signatures (SigV4's derived key for that day). */
  signingKey(date: string): Buffer {
    const step = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest()
    return step(step(step(step(`AWS4${this.options.secretAccessKey}`, date), this.region), 's3'), 'aws4_request')
  }

  scope(date: string): string {
    return `${date}/${this.region}/s3/aws4_request`
  }

  unreachable(error: unknown): RegistryError {
    return new RegistryError('unavailable', `cannot reach the object store at ${this.endpoint}: ${describeNetworkError(error)}`)
  }

  /**
   * Send a request. Answers with the response for a 2xx or an `accept`ed status; throws the
   * RegistryError for anything else.
   */
  async send(call: S3Call): Promise<S3Response> {
    const streamed = call.body !== undefined && !Buffer.isBuffer(call.body)
    const attempts = streamed ? 1 : this.attempts
    const payloadHash = call.payloadHash ?? (Buffer.isBuffer(call.body) ? await bodySha256(call.body) : EMPTY_SHA256)
    const url = this.url(call.key, call.query)
    for (let attempt = 1; ; attempt++) {
      const {headers} = await this.sign(call.method, url, {...call.headers, 'x-amz-content-sha256': payloadHash})
      const length = Buffer.isBuffer(call.body) ? call.body.length : call.contentLength
      if (length !== undefined) headers['content-length'] = String(length)
      const result = await this.dispatch(call.method, url, headers, call.body, call.accept)
      if ('response' in result) return result.response
      const transient = 'status' in result ? RETRYABLE_STATUS.has(result.status) : TRANSIENT_CODES.has(errorCodeOf(result.error) ?? '')
      if (attempt < attempts && transient) {
        await sleep(backoff(attempt))
        continue
      }
      if ('error' in result) throw isNetworkError(result.error) ? this.unreachable(result.error) : result.error
      throw this.failure(result, call.what)
    }
  }

  /** Send a request signed by the caller (an aws-chunked body): once, errors mapped as send's. */
  async sendSigned(call: {method: string; url: URL; headers: Record<string, string>; body: Readable; what: string}): Promise<S3Response> {
    const result = await this.dispatch(call.method, call.url, call.headers, call.body)
    if ('response' in result) return result.response
    if ('error' in result) throw isNetworkError(result.error) ? this.unreachable(result.error) : result.error
    throw this.failure(result, call.what)
  }

  /** One attempt: the response, the error answer (body read), or the error undici threw. */
  private async dispatch(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: Buffer | Readable | undefined,
    accept: number[] = [],
  ): Promise<{response: S3Response} | S3ErrorAnswer | {error: unknown}> {
    let raw
    try {
      raw = await this.pool.request({method: method as Dispatcher.HttpMethod, path: `${url.pathname}${url.search}`, headers, body})
    } catch (error) {
      return {error}
    }
    const response: S3Response = {status: raw.statusCode, headers: raw.headers, body: raw.body as unknown as S3Response['body']}
    if (response.status < 300 || accept.includes(response.status)) return {response}
    return this.errorAnswer(response)
  }

  /** The error an answer carries (its body read, at most 64 KiB). */
  async errorAnswer(response: S3Response): Promise<S3ErrorAnswer> {
    let text = ''
    try {
      text = (await response.body.text()).slice(0, 65_536)
    } catch {
      // the body is gone; the status says enough
    }
    return readErrorXml(response.status, text)
  }

  /** Parse an XML answer; an unreadable one is the store's fault, said as such. */
  async xml(response: S3Response, what: string): Promise<XmlElement> {
    let text: string
    try {
      text = await response.body.text()
    } catch (error) {
      throw isNetworkError(error) ? this.unreachable(error) : error
    }
    try {
      return parseXml(text)
    } catch (error) {
      if (!(error instanceof XmlError)) throw error
      throw new RegistryError('internal', `the object store at ${this.endpoint} sent an unreadable answer to ${what}: ${error.message}`)
    }
  }

  /** The RegistryError for an S3 error answer. */
  failure(answer: S3ErrorAnswer, what: string): RegistryError {
    const {status, code, message} = answer
    const said = code ? `${code}${message ? `: ${message.slice(0, 200)}` : ''}` : `HTTP ${status}`
    const at = `the object store at ${this.endpoint}`
    if (code === 'NoSuchBucket') return new RegistryError('not_found', `bucket "${this.bucket}" does not exist at ${this.endpoint} (create it first)`)
    if (code === 'QuotaExceeded' || status === 507) return new RegistryError('storage_full', `${at} refused ${what}: ${said} (the bucket or user is over its quota)`)
    if (code === 'XAmzContentSHA256Mismatch' || code === 'BadDigest') return new RegistryError('integrity', `${at} refused ${what}: ${said}; nothing was stored`)
    if (status === 403 || status === 401) {
      const hint = PERMISSION_HINTS[code] ?? (code ? '' : 'access denied or wrong credentials')
      return new RegistryError('permission_denied', `${at} refused ${what} in bucket "${this.bucket}": ${said}${hint ? ` (${hint})` : ''}`)
    }
    if (status === 416 || code === 'InvalidRange') return new RegistryError('range_not_satisfiable', `${at} refused ${what}: ${said}`)
    if (status === 404) return new RegistryError('not_found', `${at}: ${what}: ${said}`)
    // 408/RequestTimeout: the store could not take the bytes in time (RGW over a full OSD answers so).
    if (RETRYABLE_STATUS.has(status) || status === 408 || code === 'SlowDown' || code === 'ServiceUnavailable' || code === 'RequestTimeout') {
      return new RegistryError('unavailable', `${at} failed ${what}: ${said}`)
    }
    const codeFor: ErrorCode = status === 400 && code === 'AuthorizationHeaderMalformed' ? 'invalid_argument' : 'internal'
    return new RegistryError(codeFor, `${at} refused ${what}: ${said}`)
  }
}

const backoff = (attempt: number) => Math.min(2000, 100 * 2 ** (attempt - 1)) * (0.5 + Math.random())
