/** Starting and stopping a modelreg server over a local engine. */
import {mkdirSync} from 'node:fs'
import {createServer as createHttpServer, type Server} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import type {AddressInfo} from 'node:net'
import {fromFsError, invalid} from '../backends/errors.js'
import type {SqlEngine} from '../backends/sql/engine.js'
import {FILE_LIMITS, readBoundedFile} from '../config/bounded-file.js'
import {App} from './app.js'
import {isLoopback, type ServerConfig} from './config.js'
import {Metrics} from './metrics.js'
import {openServerStores} from './stores.js'
import type {TokenStore} from './tokens.js'
import type {UiSessions} from '../ui/sessions.js'

/** How often the server checks that its database files are still the ones it opened. */
const FILE_CHECK_MS = 2000

export interface RunningServer {
  url: string
  port: number
  server: Server
  backend: SqlEngine
  tokens: TokenStore
  /** Stop accepting, let in-flight requests finish (up to `graceMs`), then release the store. */
  close(graceMs?: number): Promise<void>
}

export interface StartOptions {
  /** Allow a non-loopback address with auth off. */
  insecure?: boolean
  log?: (line: string) => void
  /** Apply missing PostgreSQL migrations at start (default); false (--no-migrate): refuse to start without them. */
  migrate?: boolean
  /** Browser sessions for the UI (`modelreg ui` creates one-time sign-in codes in it). */
  sessions?: UiSessions
  /** Keep the token database here instead of data_dir (`modelreg ui`: a private temp dir, not the user's store). */
  tokensDir?: string
}

export async function startServer(config: ServerConfig, options: StartOptions = {}): Promise<RunningServer> {
  if (!config.auth.enabled && !isLoopback(config.host) && !options.insecure) {
    throw invalid(
      `refusing to serve ${config.host} without auth: anyone who can reach it could read and change the registry; turn auth on, listen on 127.0.0.1, or pass --insecure`,
    )
  }
  // Read before anything is created: a missing or oversized file leaves no data directory behind.
  const tls =
    config.tls.cert && config.tls.key
      ? {
          cert: readBoundedFile(config.tls.cert, FILE_LIMITS.tls, `TLS certificate ${config.tls.cert}`),
          key: readBoundedFile(config.tls.key, FILE_LIMITS.tls, `TLS key ${config.tls.key}`),
        }
      : null
  try {
    mkdirSync(config.data_dir, {recursive: true, mode: 0o700})
  } catch (error) {
    throw fromFsError(error, `creating the data directory ${config.data_dir}`)
  }
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const {engine: backend, tokens} = await openServerStores(config, {onBroken: (message: string) => log(message), migrate: options.migrate, tokensDir: options.tokensDir})
  // Notice a database file removed or replaced under the server between writes too (/healthz then fails).
  const fileCheck = setInterval(() => backend.checkStore(), FILE_CHECK_MS)
  fileCheck.unref()
  const metrics = new Metrics()
  const app = new App({backend, tokens, config, metrics, log, sessions: options.sessions})
  const serverOptions = {
    // Slow-drip clients: headers must arrive in time; an idle socket is closed; but a request
    // body that keeps moving (a large upload) is never cut off by a total-time limit.
    headersTimeout: config.limits.headers_timeout_ms,
    // How often Node checks for the headers timeout (its default, 30 s, would let a drip live long).
    connectionsCheckingInterval: Math.max(250, Math.min(1000, Math.floor(config.limits.headers_timeout_ms / 2))),
    requestTimeout: 0,
    keepAliveTimeout: 5_000,
    maxHeaderSize: 16 * 1024,
  }
  let server: Server
  if (tls) {
    server = createHttpsServer({...serverOptions, ...tls}, app.handle) as unknown as Server
  } else {
    server = createHttpServer(serverOptions, app.handle)
  }
  server.timeout = config.limits.idle_timeout_ms
  server.maxHeadersCount = 100
  // A malformed request gets a plain 400 and the connection is dropped.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    const status =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request'
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    else socket.destroy()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      clearInterval(fileCheck)
      backend.close().catch(() => {})
      void tokens.close()
      if (error.code === 'EADDRINUSE') reject(invalid(`${config.host}:${config.port} is already in use; pick another --port`))
      else if (error.code === 'EACCES') reject(invalid(`not allowed to listen on ${config.host}:${config.port}`))
      else reject(fromFsError(error, `listening on ${config.host}:${config.port}`))
    })
    server.listen(config.port, config.host, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  const scheme = config.tls.cert ? 'https' : 'http'
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host
  let closing: Promise<void> | undefined
  return {
    url: `${scheme}://${hostForUrl}:${port}`,
    port,
    server,
    backend,
    tokens,
    close(graceMs = 30_000) {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref())
        await Promise.race([app.drain(), deadline])
        server.closeAllConnections()
        await closed
        clearInterval(fileCheck)
        await backend.close()
        void tokens.close()
      })()
      return closing
    },
  }
}
