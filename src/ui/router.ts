/**
 * Everything the server answers outside /api/v1, /healthz and /metrics: the read-only pages,
 * /assets/NAME, and sign-in (/login, /logout). Pages read only through the Backend, as the
 * viewer's token allows (scope and project, exactly as on the API), and every one is sent with
 * a strict CSP: no inline script or style anywhere.
 */
import type {IncomingMessage, ServerResponse} from 'node:http'
import {RegistryError} from '../backends/errors.js'
import type {SqlEngine} from '../backends/sql/engine.js'
import type {ServerConfig} from '../server/config.js'
import type {TokenInfo, TokenStore} from '../server/tokens.js'
import {AssetFiles} from './assets.js'
import type {PageContext, PageHandler, PageResult} from './context.js'
import {type PageShell, renderPage, type Viewer} from './layout.js'
import {comparePage} from './pages/compare.js'
import {eventsPage} from './pages/events.js'
import {experimentsPage} from './pages/experiments.js'
import {errorShell, loginShell, signedInShell} from './pages/login.js'
import {modelPage} from './pages/model.js'
import {modelsPage} from './pages/models.js'
import {projectsPage} from './pages/projects.js'
import {runPage} from './pages/run.js'
import {runsPage} from './pages/runs.js'
import {versionPage} from './pages/version.js'
import {clearedCookie, COOKIE_NAME, readCookie, sessionCookie, UiSessions} from './sessions.js'

export const UI_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

const MAX_LOGIN_BODY = 8 * 1024

interface PageRoute {
  template: string
  pattern: RegExp
  names: string[]
  handler: PageHandler
}

function pageRoute(template: string, handler: PageHandler): PageRoute {
  const names: string[] = []
  const source = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name)
    return '([^/]+)'
  })
  return {template, names, handler, pattern: new RegExp(`^${source}${template === '/' ? '' : '/?'}$`)}
}

export const PAGE_ROUTES: PageRoute[] = [
  pageRoute('/', projectsPage),
  pageRoute('/projects/{project}', modelsPage),
  pageRoute('/projects/{project}/models/{model}', modelPage),
  pageRoute('/projects/{project}/models/{model}/versions/{selector}', versionPage),
  pageRoute('/projects/{project}/experiments', experimentsPage),
  pageRoute('/projects/{project}/experiments/{experiment}', runsPage),
  pageRoute('/projects/{project}/runs', runsPage),
  pageRoute('/projects/{project}/compare', comparePage),
  pageRoute('/runs/{run}', runPage),
  pageRoute('/events', eventsPage),
]

/** Paths the UI answers: everything but the API and the operations endpoints. */
export function isUiPath(pathname: string): boolean {
  return !(pathname === '/api' || pathname.startsWith('/api/') || pathname === '/healthz' || pathname === '/metrics')
}

/** Where to go after signing in: a path on this server only (never `//host` or a scheme). */
export function safeNext(value: string | null | undefined): string {
  if (!value || value.length > 2048 || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/'
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return '/'
  return value
}

export interface UiOptions {
  backend: SqlEngine
  tokens: TokenStore
  config: ServerConfig
  sessions: UiSessions
  assets?: AssetFiles
  log: (line: string) => void
}

export class UiRouter {
  readonly assets: AssetFiles
  private readonly secure: boolean

  constructor(private readonly options: UiOptions) {
    this.assets = options.assets ?? new AssetFiles()
    this.secure = Boolean(options.config.tls.cert)
  }

  /** Who the browser's cookie signs in (a `modelreg ui` session or an API token), or null. */
  async cookieIdentity(req: IncomingMessage): Promise<TokenInfo | null> {
    const secret = readCookie(req.headers.cookie, COOKIE_NAME)
    if (!secret) return null
    return this.options.sessions.lookup(secret) ?? (await this.options.tokens.authenticate(secret))
  }

  async handle(req: IncomingMessage, res: ServerResponse, pathname: string, search: URLSearchParams, label: {route: string; actor: string}): Promise<void> {
    const method = req.method ?? 'GET'
    if (pathname.startsWith('/assets/')) {
      label.route = '/assets/{name}'
      return this.asset(req, res, pathname.slice('/assets/'.length), search)
    }
    if (pathname === '/favicon.ico') {
      label.route = pathname
      res.writeHead(204, {'cache-control': 'public, max-age=86400'})
      res.end()
      return
    }
    if (pathname === '/login' || pathname === '/logout') {
      label.route = pathname
      if (pathname === '/login' && (method === 'GET' || method === 'HEAD')) return this.loginPage(req, res, search)
      if (method === 'POST') return pathname === '/login' ? this.login(req, res) : this.logout(req, res)
      return this.sendError(req, res, new RegistryError('method_not_allowed', `${method} is not allowed here`), pathname === '/login' ? 'GET, HEAD, POST' : 'POST')
    }
    let found: {route: PageRoute; match: RegExpExecArray} | null = null
    for (const route of PAGE_ROUTES) {
      const match = route.pattern.exec(pathname)
      if (match) {
        found = {route, match}
        break
      }
    }
    if (!found) {
      label.route = 'ui-unmatched'
      return this.sendError(req, res, new RegistryError('not_found', `there is no page at ${pathname}`))
    }
    label.route = found.route.template
    if (method !== 'GET' && method !== 'HEAD') return this.sendError(req, res, new RegistryError('method_not_allowed', `${method} is not allowed here: the web UI is read-only`), 'GET, HEAD')
    let info: TokenInfo | null = null
    if (this.options.config.auth.enabled) {
      info = await this.cookieIdentity(req)
      if (!info) {
        const target = req.url ?? '/'
        // The login form is a page like any other (200): a browser logs a 401 document as a failed load.
        // The API keeps answering 401 without a token.
        return this.sendPage(req, res, 200, null, loginShell(safeNext(target.startsWith('/') ? target : pathname), null, this.options.sessions.signInHint))
      }
      label.actor = info.name
    }
    const viewer: Viewer = {authEnabled: this.options.config.auth.enabled, name: info?.name ?? null, project: info?.project ?? null}
    const params: Record<string, string> = {}
    try {
      found.route.names.forEach((name, i) => (params[name] = decodeURIComponent(found.match[i + 1])))
    } catch {
      return this.sendError(req, res, new RegistryError('not_found', `there is no page at ${pathname}`), undefined, viewer)
    }
    const backend = info ? this.options.backend.withActor(info.name, {token: info.name}, info.project) : this.options.backend
    const ctx: PageContext = {backend, viewer, params, query: search}
    let result: PageResult
    try {
      result = await found.route.handler(ctx)
    } catch (error) {
      return this.sendError(req, res, error, undefined, viewer)
    }
    this.sendPage(req, res, result.status ?? 200, viewer, result.shell)
  }

  private sendPage(req: IncomingMessage, res: ServerResponse, status: number, viewer: Viewer | null, shell: PageShell, headers: Record<string, string> = {}): void {
    const body = Buffer.from(renderPage(this.assets, viewer, shell))
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': body.length,
      'content-security-policy': UI_CSP,
      // Not the API's no-referrer: under it a browser sends `Origin: null` with the login and
      // logout forms, which the origin check must refuse. same-origin still sends nothing to
      // other sites (a CI link, a dataset URI).
      'referrer-policy': 'same-origin',
      ...headers,
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  private sendError(req: IncomingMessage, res: ServerResponse, error: unknown, allow?: string, viewer: Viewer | null = null): void {
    const registryError = error instanceof RegistryError ? error : new RegistryError('internal', 'internal error (see the server log)')
    if (!(error instanceof RegistryError)) this.options.log(`internal error: ${(error as Error)?.stack ?? String(error)}`)
    if (res.headersSent) {
      res.destroy()
      return
    }
    const {status, shell} = errorShell(registryError)
    this.sendPage(req, res, status, viewer, shell, allow ? {allow} : {})
  }

  private asset(req: IncomingMessage, res: ServerResponse, name: string, search: URLSearchParams): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, {allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8'})
      res.end('method not allowed\n')
      return
    }
    const asset = this.assets.get(name)
    if (!asset) {
      res.writeHead(404, {'content-type': 'text/plain; charset=utf-8'})
      res.end(req.method === 'HEAD' ? undefined : 'no such asset\n')
      return
    }
    const etag = `"${asset.hash}"`
    // A link carrying the content's hash (`?v=`) names these bytes for good; any other asks again.
    const cache = search.get('v') === asset.hash ? 'public, max-age=31536000, immutable' : 'no-cache'
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, {etag, 'cache-control': cache})
      res.end()
      return
    }
    res.writeHead(200, {'content-type': asset.type, 'content-length': asset.body.length, etag, 'cache-control': cache})
    res.end(req.method === 'HEAD' ? undefined : asset.body)
  }

  private async loginPage(req: IncomingMessage, res: ServerResponse, search: URLSearchParams): Promise<void> {
    const next = safeNext(search.get('next'))
    const once = search.get('once')
    if (once !== null) {
      const secret = this.options.sessions.redeem(once)
      if (!secret) {
        return this.sendPage(req, res, 200, null, loginShell(next, 'This sign-in link was already used or is not valid.', this.options.sessions.signInHint))
      }
      // A page that moves on by itself, not a redirect: when the browser came from elsewhere (a
      // file xdg-open opened), a redirect would stay cross-site and the SameSite=Strict cookie
      // would not go with it; a navigation started by this page is same-site.
      return this.sendPage(req, res, 200, null, signedInShell(next), {'set-cookie': sessionCookie(secret, this.secure)})
    }
    if (!this.options.config.auth.enabled || (await this.cookieIdentity(req))) {
      res.writeHead(303, {location: next, 'content-length': 0})
      res.end()
      return
    }
    this.sendPage(req, res, 200, null, loginShell(next, null, this.options.sessions.signInHint))
  }

  /** A form POST: refused from another site (the server's Origin check ran already; Sec-Fetch-Site too when sent). */
  private checkFormOrigin(req: IncomingMessage): void {
    const site = req.headers['sec-fetch-site']
    if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
      throw new RegistryError('permission_denied', 'sign-in and sign-out are accepted only from this site\'s own pages')
    }
  }

  private async readForm(req: IncomingMessage): Promise<URLSearchParams> {
    const type = req.headers['content-type']
    if (typeof type !== 'string' || !/^application\/x-www-form-urlencoded\b/i.test(type)) {
      throw new RegistryError('invalid_argument', 'send the form as application/x-www-form-urlencoded')
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > MAX_LOGIN_BODY) throw new RegistryError('payload_too_large', 'the form is too large')
      chunks.push(chunk as Buffer)
    }
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let form: URLSearchParams
    try {
      this.checkFormOrigin(req)
      form = await this.readForm(req)
    } catch (error) {
      if (!req.complete) res.setHeader('connection', 'close')
      return this.sendError(req, res, error)
    }
    const next = safeNext(form.get('next'))
    if (!this.options.config.auth.enabled) {
      res.writeHead(303, {location: next, 'content-length': 0})
      res.end()
      return
    }
    const token = (form.get('token') ?? '').trim()
    const info = token ? await this.options.tokens.authenticate(token) : null
    if (!info) return this.sendPage(req, res, 200, null, loginShell(next, 'That token is not valid (unknown or revoked).', this.options.sessions.signInHint))
    res.writeHead(303, {location: next, 'set-cookie': sessionCookie(token, this.secure), 'content-length': 0})
    res.end()
  }

  private async logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      this.checkFormOrigin(req)
    } catch (error) {
      return this.sendError(req, res, error)
    }
    req.resume()
    const secret = readCookie(req.headers.cookie, COOKIE_NAME)
    if (secret) this.options.sessions.end(secret)
    res.writeHead(303, {location: this.options.config.auth.enabled ? '/login' : '/', 'set-cookie': clearedCookie(this.secure), 'content-length': 0})
    res.end()
  }
}
