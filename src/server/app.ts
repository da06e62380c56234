/**
 * The HTTP front of a Backend. It decodes a request through the shared route table, checks the
 * token, calls the engine, and encodes the answer; it holds no registry logic of its own.
 */
import type {IncomingMessage, ServerResponse} from 'node:http'
import {PassThrough, type Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import type {EventQuery, MetricPointInput} from '../backends/backend.js'
import {ERROR_CODES, invalid, RegistryError} from '../backends/errors.js'
import type {SqlEngine} from '../backends/sql/engine.js'
import {isJsonObject, validateDigest} from '../backends/validation.js'
import {parsePointLines, splitLineChunks} from '../protocol/lines.js'
import {buildOpenApi} from '../protocol/openapi.js'
import {compileRoutes, decodeEventQuery, decodeMetricLogQuery, JSON_ROUTES, type JsonMethod, type QueryValues, type RouteSpec, STREAM_ROUTES} from '../protocol/routes.js'
import {isLoopback, type ServerConfig} from './config.js'
import type {Metrics} from './metrics.js'
import {CACHEABLE_ROUTES, type CacheScope, ReadCache} from './read-cache.js'
import {projectAllows, scopeAllows, type TokenInfo, type TokenStore} from './tokens.js'
import type {AssetFiles} from '../ui/assets.js'
import {isUiPath, UiRouter} from '../ui/router.js'
import {UiSessions} from '../ui/sessions.js'

const MAX_JSON_DEPTH = 32
const MAX_NDJSON_LINE = 64 * 1024
const KEEPALIVE_MS = 15_000

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
}

const SECURITY_HEADER_LIST = Object.entries(SECURITY_HEADERS)

const BLOB_URL_ROUTES = new Set<string>([STREAM_ROUTES.blobDownloadUrl.id, STREAM_ROUTES.blobUploadUrl.id, STREAM_ROUTES.commitBlobUpload.id])
const MANIFEST_ROUTES = new Set<string>([JSON_ROUTES.createVersion.id, JSON_ROUTES.missingBlobs.id, JSON_ROUTES.restoreModel.id, JSON_ROUTES.restoreRun.id])

export interface AppOptions {
  backend: SqlEngine
  tokens: TokenStore
  config: ServerConfig
  metrics: Metrics
  log: (line: string) => void
  /** Browser sessions (`modelreg ui` hands out one-time sign-in codes through it). */
  sessions?: UiSessions
  /** Where the UI's static files are (default: dist/ui/assets). */
  assets?: AssetFiles
}

interface Context {
  req: IncomingMessage
  res: ServerResponse
  route: RouteSpec
  params: Record<string, string>
  query: QueryValues
  token: TokenInfo | null
  backend: SqlEngine
  /** For a cacheable read: the read cache's stamp, asked for as the request arrived. */
  stamp: Promise<string | null> | null
}

/** A plain point ({...} with no object or array inside) cannot nest: only others are scanned. */
function refuseDeepNesting(text: string, where: string): void {
  if ((text.indexOf('{', text.indexOf('{') + 1) >= 0 || text.includes('[')) && jsonDepth(text) > MAX_JSON_DEPTH) throw invalid(`${where}: nested too deeply`)
}

/** Largest nesting depth of a JSON text, found without parsing it (so no recursion to overflow). */
export function jsonDepth(text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) max = Math.max(max, ++depth)
    else if (c === 125 || c === 93) depth--
  }
  return max
}

function queryValues(search: URLSearchParams): QueryValues {
  const out: QueryValues = {}
  for (const key of new Set(search.keys())) {
    const all = search.getAll(key)
    out[key] = all.length === 1 ? all[0] : all
  }
  return out
}

/** Write, and wait for the socket to drain when it is full; false when the client is gone. */
function writeWithBackpressure(res: ServerResponse, chunk: string): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false)
  if (res.write(chunk)) return Promise.resolve(true)
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain)
      res.off('close', onClose)
      resolve(ok)
    }
    const onDrain = () => done(true)
    const onClose = () => done(false)
    res.on('drain', onDrain)
    res.on('close', onClose)
  })
}

/** Split a request target into its path and query, without normalizing the path. */
export function splitTarget(target: string): {pathname: string; search: URLSearchParams} {
  let rest = target
  const absolute = /^https?:\/\/[^/]*/i.exec(rest)
  if (absolute) rest = rest.slice(absolute[0].length) || '/'
  const q = rest.indexOf('?')
  return {pathname: q >= 0 ? rest.slice(0, q) : rest, search: new URLSearchParams(q >= 0 ? rest.slice(q + 1) : '')}
}

function hostOf(header: string): string {
  // "[::1]:8470" -> "::1", "example.com:443" -> "example.com"
  const match = /^\[([^\]]+)\](?::\d+)?$/.exec(header)
  if (match) return match[1].toLowerCase()
  return header.replace(/:\d+$/, '').toLowerCase()
}

/**
 * What the client actually got, for the request log and metrics: the status when the response
 * went out whole; `timeout` or `aborted` when the connection closed before any response (the
 * idle timeout cut it, or the client or the server dropped it); `206-aborted` and the like when
 * a status line went out but the body was cut off. res.statusCode alone says 200 for a
 * response never sent.
 */
export function responseOutcome(res: ServerResponse, outcome: {timedOut: boolean; wroteSomething: boolean}): string {
  if (res.writableFinished) return String(res.statusCode)
  const cut = outcome.timedOut ? 'timeout' : 'aborted'
  // headersSent alone is not enough: an error answer written after the socket was destroyed
  // sets it, yet the client got nothing.
  return res.headersSent && outcome.wroteSomething ? `${res.statusCode}-${cut}` : cut
}

export class App {
  private readonly match = compileRoutes()
  private readonly cache = new ReadCache((since) => this.options.backend.changeStampSince(since))
  private readonly streams = new Set<AbortController>()
  private readonly allowedHosts: Set<string> | null
  private active = 0
  /** The last Host header found allowed (most requests repeat it). */
  private lastHost: string | undefined
  private idleWaiters: (() => void)[] = []
  readonly ui: UiRouter

  constructor(private readonly options: AppOptions) {
    const {config} = options
    this.ui = new UiRouter({backend: options.backend, tokens: options.tokens, config, sessions: options.sessions ?? new UiSessions(), assets: options.assets, log: options.log})
    const hosts = config.allowed_hosts.map((h) => hostOf(h))
    if (isLoopback(config.host)) {
      this.allowedHosts = new Set(['localhost', '127.0.0.1', '::1', hostOf(config.host), ...hosts])
    } else if (hosts.length > 0) {
      this.allowedHosts = new Set([hostOf(config.host), ...hosts])
    } else {
      this.allowedHosts = null // a public address without a host list: any Host (auth protects)
    }
  }

  /** Stop event streams and wait for in-flight requests to finish. */
  async drain(): Promise<void> {
    for (const stream of this.streams) stream.abort()
    if (this.active === 0) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint()
    this.active++
    for (const [name, value] of SECURITY_HEADER_LIST) res.setHeader(name, value)
    if (this.options.config.tls.cert) res.setHeader('strict-transport-security', 'max-age=31536000')
    // Filled in by dispatch as soon as known: the route template (never the raw URL) and who.
    const label = {route: 'unmatched', actor: '-'}
    // Node destroys a socket idle for `idle_timeout_ms`; this listener only notes that it did.
    const socket = req.socket
    const bytesBefore = socket.bytesWritten
    let timedOut = false
    const onTimeout = () => {
      timedOut = true
    }
    socket.on('timeout', onTimeout)
    res.on('close', () => {
      socket.off('timeout', onTimeout)
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const status = responseOutcome(res, {timedOut, wroteSomething: socket.bytesWritten > bytesBefore})
      this.options.metrics.observe(req.method ?? '-', label.route, status, seconds)
      if (this.options.config.log_requests) {
        this.options.log(`${new Date().toISOString()} ${req.method} ${label.route} ${status} ${(seconds * 1000).toFixed(1)}ms ${label.actor}`)
      }
      if (--this.active === 0) for (const wake of this.idleWaiters.splice(0)) wake()
    })
    void this.dispatch(req, res, label)
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, label: {route: string; actor: string}): Promise<void> {
    try {
      this.checkHost(req)
      this.checkOrigin(req)
      // The raw path, not a URL object: URL parsing would resolve ".." and "%2e%2e" segments
      // and so route a request somewhere other than where its path says.
      const {pathname, search} = splitTarget(req.url ?? '/')
      if (isUiPath(pathname)) return await this.ui.handle(req, res, pathname, search, label)
      const found = this.match(req.method ?? 'GET', pathname)
      if (!found.route) {
        if (found.allowed.length > 0) {
          const allowed = [...new Set(found.allowed)].join(', ')
          res.setHeader('allow', allowed)
          throw new RegistryError('method_not_allowed', `${req.method} is not allowed here (allowed: ${allowed})`)
        }
        throw new RegistryError('not_found', 'no such API route')
      }
      const route = found.route.spec
      label.route = route.path
      // A cacheable read asks whether the store changed while its token is looked up: two
      // queries at once rather than one after the other (the stamp is still taken before the read).
      const stamp = req.method === 'GET' && CACHEABLE_ROUTES.has(route.id) ? this.cache.check() : null
      stamp?.catch(() => {}) // a failure surfaces where it is awaited
      const token = await this.authenticate(req, route)
      // Events name the person the client says acts (as a local store would), and, when auth
      // is on, the token that allowed the change; the request log names the token.
      const declared = this.declaredActor(req)
      label.actor = token ? token.name : (declared ?? 'anonymous')
      // A project-limited token sees only the blobs of its project: others look missing.
      const backend = this.options.backend.withActor(declared ?? label.actor, token ? {token: token.name} : undefined, token?.project ?? null)
      const ctx: Context = {req, res, route, params: found.params, query: queryValues(search), token, backend, stamp}
      await this.authorizeProject(ctx)
      await this.run(ctx)
    } catch (error) {
      this.fail(res, error)
    }
  }

  private declaredActor(req: IncomingMessage): string | null {
    const header = req.headers['x-modelreg-actor']
    if (typeof header !== 'string' || header.length === 0 || header.length > 512) return null
    try {
      const actor = decodeURIComponent(header)
      // eslint-disable-next-line no-control-regex
      return /[\u0000-\u001f\u007f]/.test(actor) ? null : actor.slice(0, 256)
    } catch {
      return null
    }
  }

  private checkHost(req: IncomingMessage): void {
    if (!this.allowedHosts) return
    const host = req.headers.host
    if (host !== undefined && host === this.lastHost) return // the common case: the same Host again
    if (!host || !this.allowedHosts.has(hostOf(host))) {
      throw new RegistryError('permission_denied', 'this server does not answer to that Host name (add it to allowed_hosts)')
    }
    this.lastHost = host
  }

  private checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin
    if (origin === undefined) return
    // The server's own pages (same scheme and Host, the Host already checked) may send an Origin.
    const own = `${this.options.config.tls.cert ? 'https' : 'http'}://${req.headers.host ?? ''}`
    if (origin.toLowerCase() === own.toLowerCase()) return
    if (!this.options.config.allowed_origins.includes(origin)) {
      throw new RegistryError('permission_denied', 'cross-origin requests are refused (add the origin to allowed_origins)')
    }
  }

  private async authenticate(req: IncomingMessage, route: RouteSpec): Promise<TokenInfo | null> {
    if (route.action === 'public' || !this.options.config.auth.enabled) return null
    const header = req.headers.authorization
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null
    let token: TokenInfo | null
    if (match) token = await this.options.tokens.authenticate(match[1])
    else if ((req.method === 'GET' || req.method === 'HEAD') && header === undefined && typeof req.headers.cookie === 'string') {
      // The UI's bundle reads the API with the browser's sign-in cookie: for reads only, so a
      // cookie can never change anything (no cross-site request forgery to defend against).
      token = await this.ui.cookieIdentity(req)
      if (!token) throw new RegistryError('unauthenticated', 'the sign-in cookie is not valid (expired session or revoked token): sign in again')
    } else throw new RegistryError('unauthenticated', 'this server requires a token: set MODELREG_TOKEN or a profile token')
    if (!token) throw new RegistryError('unauthenticated', 'the token is not valid (unknown or revoked)')
    if (!scopeAllows(token.scope, route.action)) {
      throw new RegistryError('permission_denied', `this needs a token with ${route.action} scope; token "${token.name}" has ${token.scope}`)
    }
    return token
  }

  /** A token limited to one project touches only that project. */
  private async authorizeProject(ctx: Context): Promise<void> {
    const {token, route, params} = ctx
    if (!token || token.project === null) return
    const denied = () => new RegistryError('permission_denied', `token "${token.name}" is limited to project "${token.project}"`)
    if (params.project !== undefined) {
      if (!projectAllows(token, params.project)) throw denied()
      return
    }
    // Runs and checkpoints have ids unique across projects: authorize by the project that owns them.
    if (params.run !== undefined || params.uuid !== undefined) {
      const owner = params.run !== undefined ? await ctx.backend.tracking.projectOfRun(params.run) : await ctx.backend.tracking.projectOfCheckpoint(params.uuid)
      if (owner !== null && !projectAllows(token, owner)) throw denied()
      if (owner === null) throw new RegistryError('not_found', params.run !== undefined ? `run ${JSON.stringify(params.run)} not found` : `checkpoint ${params.uuid} not found`)
      return
    }
    switch (route.id) {
      case 'listEvents':
      case 'followEvents': {
        const asked = ctx.query.project
        if (asked !== undefined && (Array.isArray(asked) || !projectAllows(token, asked))) throw denied()
        ctx.query = {...ctx.query, project: token.project}
        return
      }
      case 'openBlob':
      case 'headBlob':
      case 'blobDownloadUrl': {
        const project = ctx.query.project
        if (typeof project !== 'string' || !projectAllows(token, project)) throw denied()
        return // the backend is scoped to the token's project: a blob outside it is not found
      }
      case 'missingBlobs':
      case 'putBlob':
      case 'storeBlob':
      case 'blobUploadUrl':
      case 'commitBlobUpload':
      case 'listProjects':
      case 'createProject':
        return // checked in the handler (createProject) or answered in the token's view of the blobs
      default:
        throw denied()
    }
  }

  private async run(ctx: Context): Promise<void> {
    const {route} = ctx
    switch (route.kind) {
      case 'json':
        if (route.id === 'healthz') {
          const problem = this.options.backend.checkStore()
          if (problem) throw new RegistryError('unavailable', problem)
          return this.sendJson(ctx.res, 200, {status: 'ok'})
        }
        if (route.id === 'openapi') return this.sendJson(ctx.res, 200, buildOpenApi())
        if (BLOB_URL_ROUTES.has(route.id)) return this.blobUrl(ctx)
        return this.runJson(ctx)
      case 'text':
        return this.sendText(ctx.res, this.options.metrics.render(await ctx.backend.blobStats()))
      case 'blob-upload':
        return this.upload(ctx)
      case 'blob-download':
        return this.download(ctx)
      case 'ndjson':
        return route.id === 'readMetrics' ? this.streamMetrics(ctx) : this.follow(ctx)
      case 'ndjson-upload':
        return this.ingestMetrics(ctx)
    }
  }

  private async runJson(ctx: Context): Promise<void> {
    const route = JSON_ROUTES[ctx.route.id as JsonMethod]
    const limit = MANIFEST_ROUTES.has(route.id) ? this.options.config.limits.manifest_body_bytes : this.options.config.limits.json_body_bytes
    const body = ctx.req.method === 'GET' || ctx.req.method === 'DELETE' ? undefined : await this.readJson(ctx.req, limit)
    const args = route.decode({params: ctx.params, query: ctx.query, body})
    if (route.id === 'createProject' && ctx.token?.project && !projectAllows(ctx.token, args[0] as string)) {
      throw new RegistryError('permission_denied', `token "${ctx.token.name}" is limited to project "${ctx.token.project}"`)
    }
    const cacheKey = ctx.stamp ? `${route.id} ${ctx.req.url}` : null
    const stamp = ctx.stamp ? await ctx.stamp : null
    if (cacheKey) {
      const cached = this.cache.get(cacheKey)
      if (cached) return this.sendBody(ctx.res, route.status ?? 200, cached)
    }
    const backend = ctx.backend as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
    let result = await backend[route.backend](...args)
    if (cacheKey) {
      const body = Buffer.from(JSON.stringify(result))
      this.cache.set(cacheKey, stamp, body, cacheScope(route.id, args))
      return this.sendBody(ctx.res, route.status ?? 200, body)
    }
    if (route.id === 'listProjects' && ctx.token?.project) {
      // A project-limited token sees its own project only.
      const page = result as {items: {name: string}[]; limit: number; offset: number}
      const items = page.items.filter((p) => projectAllows(ctx.token as TokenInfo, p.name))
      result = {...page, items, total: items.length}
    }
    this.sendJson(ctx.res, route.status ?? 200, result)
  }

  private async readJson(req: IncomingMessage, limit: number): Promise<unknown> {
    const type = req.headers['content-type']
    const declared = Number(req.headers['content-length'] ?? Number.NaN)
    if (Number.isFinite(declared) && declared > limit) {
      throw new RegistryError('payload_too_large', `request body too large (${declared} bytes, at most ${limit})`)
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > limit) throw new RegistryError('payload_too_large', `request body too large (more than ${limit} bytes)`)
      chunks.push(chunk as Buffer)
    }
    this.options.metrics.bytesIn += size
    if (size === 0) return undefined
    if (typeof type !== 'string' || !/^application\/json\b/i.test(type)) throw invalid('the request body must be application/json')
    const text = Buffer.concat(chunks).toString('utf8')
    if (jsonDepth(text) > MAX_JSON_DEPTH) throw invalid(`request body is nested too deeply (at most ${MAX_JSON_DEPTH} levels)`)
    try {
      return JSON.parse(text)
    } catch {
      throw invalid('the request body is not valid JSON')
    }
  }

  /** The declared size of a blob upload, checked against the limits. */
  private uploadSize(req: IncomingMessage): number {
    if (req.headers['transfer-encoding']) throw invalid('send blobs with a Content-Length, not chunked')
    const length = req.headers['content-length']
    if (length === undefined || !/^[0-9]{1,15}$/.test(length)) throw invalid('a blob upload needs a Content-Length')
    const size = Number(length)
    if (size > this.options.config.limits.max_blob_bytes) {
      throw new RegistryError('payload_too_large', `blob too large (${size} bytes, at most ${this.options.config.limits.max_blob_bytes})`)
    }
    return size
  }

  private async upload(ctx: Context): Promise<void> {
    const {req} = ctx
    if (ctx.route.id === 'storeBlob') {
      const size = this.uploadSize(req)
      const result = await ctx.backend.storeBlob(size, () => uploadBody(req))
      this.options.metrics.bytesIn += size
      return this.sendJson(ctx.res, result.stored ? 201 : 200, result)
    }
    const digest = validateDigest(ctx.params.digest)
    const size = this.uploadSize(req)
    if ((await ctx.backend.visibleBlobSize(digest)) === size) {
      // Already stored and in the caller's view (another client won the race): take the bytes, keep the
      // connection, and record the blob used so gc spares it.
      req.resume()
      await new Promise((resolve, reject) => req.on('end', resolve).on('error', reject))
      this.options.metrics.bytesIn += size
      await ctx.backend.recordBlob(digest, size)
      return this.sendJson(ctx.res, 200, {digest, size, stored: false})
    }
    const result = await ctx.backend.putBlob(digest, size, () => uploadBody(req))
    this.options.metrics.bytesIn += size
    this.sendJson(ctx.res, result.stored ? 201 : 200, result)
  }

  /** Presigned URLs (s3.presign on): bytes go straight between client and bucket; {"url": null} otherwise. */
  private async blobUrl(ctx: Context): Promise<void> {
    const digest = validateDigest(ctx.params.digest)
    if (ctx.route.id === 'blobDownloadUrl') return this.sendJson(ctx.res, 200, (await ctx.backend.blobDownloadUrl(digest)) ?? {url: null})
    const body = await this.readJson(ctx.req, this.options.config.limits.json_body_bytes)
    const size = isJsonObject(body) ? body.size : undefined
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid('the body must be {"size": <bytes>}')
    if (size > this.options.config.limits.max_blob_bytes) {
      throw new RegistryError('payload_too_large', `blob too large (${size} bytes, at most ${this.options.config.limits.max_blob_bytes})`)
    }
    if (ctx.route.id === 'blobUploadUrl') return this.sendJson(ctx.res, 200, (await ctx.backend.blobUploadUrl(digest, size)) ?? {url: null})
    const result = await ctx.backend.commitBlobUpload(digest, size, ctx.params.upload ?? '')
    this.sendJson(ctx.res, result.stored ? 201 : 200, result)
  }

  private async download(ctx: Context): Promise<void> {
    const digest = validateDigest(ctx.params.digest)
    const size = await ctx.backend.visibleBlobSize(digest)
    if (size === null) throw new RegistryError('not_found', `blob ${digest} is not in the store`)
    const {res} = ctx
    let start = 0
    let end = size - 1
    const range = ctx.req.headers.range
    if (range !== undefined) {
      const match = /^bytes=(\d*)-(\d*)$/.exec(range)
      const from = match?.[1] ? Number(match[1]) : Number.NaN
      const to = match?.[2] ? Number(match[2]) : size - 1
      if (!match || Number.isNaN(from) || from > to || (from >= size && size > 0) || (size === 0 && from > 0)) {
        res.setHeader('content-range', `bytes */${size}`)
        throw new RegistryError('range_not_satisfiable', `range ${JSON.stringify(range)} is outside blob ${digest} (${size} bytes)`)
      }
      start = from
      end = Math.min(to, size - 1)
    }
    const length = Math.max(0, end - start + 1)
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'content-length': length,
      'accept-ranges': 'bytes',
      etag: `"sha256:${digest}"`,
    }
    if (range !== undefined) headers['content-range'] = `bytes ${start}-${end}/${size}`
    res.writeHead(range !== undefined ? 206 : 200, headers)
    if (ctx.route.method === 'HEAD' || length === 0) {
      res.end()
      return
    }
    const {stream} = await ctx.backend.openBlob(digest, {offset: start})
    let sent = 0
    stream.on('data', (chunk: Buffer) => (sent += chunk.length))
    try {
      await pipeline(stream, res)
    } catch {
      // The client went away (or the disk failed mid-read): nothing more to say on this response.
      res.destroy()
    } finally {
      this.options.metrics.bytesOut += sent
    }
  }

  private async follow(ctx: Context): Promise<void> {
    const query: EventQuery = decodeEventQuery(ctx.query)
    const abort = new AbortController()
    this.streams.add(abort)
    ctx.req.on('close', () => abort.abort())
    ctx.res.writeHead(200, {'content-type': 'application/x-ndjson; charset=utf-8'})
    ctx.res.flushHeaders()
    const keepalive = setInterval(() => ctx.res.write('\n'), KEEPALIVE_MS)
    try {
      for await (const event of ctx.backend.followEvents(query, abort.signal)) {
        const line = `${JSON.stringify(event)}\n`
        this.options.metrics.bytesOut += line.length
        ctx.res.write(line)
      }
    } finally {
      clearInterval(keepalive)
      this.streams.delete(abort)
      ctx.res.end()
    }
  }

  /** Metric points from an NDJSON body, parsed line by line as they arrive (never whole). */
  private async ingestMetrics(ctx: Context): Promise<void> {
    const type = ctx.req.headers['content-type']
    if (typeof type !== 'string' || !/^application\/(x-)?ndjson\b/i.test(type)) throw invalid('send metric points as application/x-ndjson')
    const metrics = this.options.metrics
    async function* points(req: IncomingMessage): AsyncIterable<MetricPointInput[]> {
      let line = 0
      const counted = (async function* () {
        for await (const chunk of req as AsyncIterable<Buffer>) {
          metrics.bytesIn += chunk.length
          yield chunk
        }
      })()
      for await (const lines of splitLineChunks(counted, MAX_NDJSON_LINE)) {
        yield parsePointLines(lines, line, {check: refuseDeepNesting})
        line += lines.length
      }
    }
    const result = await ctx.backend.logMetrics(ctx.params.run, points(ctx.req), decodeMetricLogQuery(ctx.query))
    this.sendJson(ctx.res, 200, result)
  }

  private async streamMetrics(ctx: Context): Promise<void> {
    const name = typeof ctx.query.name === 'string' ? ctx.query.name : undefined
    const split = typeof ctx.query.split === 'string' ? ctx.query.split : undefined
    const series = ctx.backend.readMetrics(ctx.params.run, {name, split})[Symbol.asyncIterator]()
    // The first page decides the status: a missing run is a 404, not an empty 200.
    let next = await series.next()
    ctx.res.writeHead(200, {'content-type': 'application/x-ndjson; charset=utf-8'})
    let chunk = ''
    while (!next.done) {
      chunk += `${JSON.stringify(next.value)}\n`
      if (chunk.length >= 65_536) {
        this.options.metrics.bytesOut += chunk.length
        if (!(await writeWithBackpressure(ctx.res, chunk))) return // the client went away
        chunk = ''
      }
      next = await series.next()
    }
    this.options.metrics.bytesOut += chunk.length
    ctx.res.end(chunk)
  }

  private sendJson(res: ServerResponse, status: number, value: unknown): void {
    this.sendBody(res, status, Buffer.from(JSON.stringify(value)))
  }

  private sendBody(res: ServerResponse, status: number, body: Buffer): void {
    this.options.metrics.bytesOut += body.length
    res.writeHead(status, {'content-type': 'application/json; charset=utf-8', 'content-length': body.length})
    res.end(body)
  }

  private sendText(res: ServerResponse, text: string): void {
    const body = Buffer.from(text)
    this.options.metrics.bytesOut += body.length
    res.writeHead(200, {'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': body.length})
    res.end(body)
  }

  private fail(res: ServerResponse, error: unknown): void {
    const registryError =
      error instanceof RegistryError ? error : new RegistryError('internal', `internal error: ${(error as Error)?.message ?? String(error)}`)
    if (!(error instanceof RegistryError)) this.options.log(`internal error: ${(error as Error)?.stack ?? String(error)}`)
    if (res.headersSent) {
      res.destroy()
      return
    }
    const body = Buffer.from(JSON.stringify({error: registryError.toJSON()}))
    res.writeHead(ERROR_CODES[registryError.code].http, {'content-type': 'application/json; charset=utf-8', 'content-length': body.length})
    res.end(body)
    if (!res.req.complete) drainRest(res.req)
  }
}

/** How much of a body answered early is read and dropped before the connection is cut. */
const DRAIN_BYTES = 64 * 1024 * 1024
const DRAIN_MS = 10_000

/**
 * The rest of a request answered before its body was read (an error part-way through an
 * upload), read and dropped: a client still sending then reads the answer, where closing on
 * unread bytes would reset the connection under it and it would hear "connection lost". Once
 * the body is through, the connection serves the next request; past DRAIN_BYTES or DRAIN_MS
 * it is cut.
 */
function drainRest(req: IncomingMessage): void {
  req.unpipe()
  let left = DRAIN_BYTES
  const cut = () => req.socket.destroy()
  const timer = setTimeout(cut, DRAIN_MS)
  timer.unref()
  req.on('data', (chunk: Buffer) => {
    left -= chunk.length
    if (left < 0) cut()
  })
  req.once('close', () => clearTimeout(timer))
  req.resume()
}

/**
 * An upload's body as a blob store reads it. A store that fails part-way (the object store
 * down, the disk full) destroys what it reads from; were that the request, the connection would
 * go with it, and the client would hear "connection lost" instead of why. Only this pipe goes:
 * fail() answers, then reads the rest. A client that goes away fails it as it would the request.
 */
function uploadBody(req: IncomingMessage): Readable {
  const body = new PassThrough({highWaterMark: 1024 * 1024})
  req.on('error', (error) => body.destroy(error))
  req.on('close', () => {
    if (!req.complete) body.destroy(Object.assign(new Error('aborted'), {code: 'ECONNRESET'}))
  })
  return req.pipe(body)
}

/**
 * What a cacheable read is about (see ReadCache): its project, and its model for a model's
 * routes and a log asked for one model; null for the project's lists.
 */
function cacheScope(route: string, args: unknown[]): CacheScope {
  const [project, second] = args as [string, unknown]
  if (typeof second === 'string') return {project, model: second}
  const model = route === 'modelLog' ? (second as {model?: string} | undefined)?.model : undefined
  return {project, model: model ?? null}
}
