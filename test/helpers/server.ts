import {join} from 'node:path'
import {defaultServerConfig, type ServerConfig} from '../../src/server/config.js'
import {type RunningServer, startServer} from '../../src/server/server.js'
import {tempDir} from './tmp.js'

export interface TestServer {
  server: RunningServer
  url: string
  dataDir: string
  /** An admin token, for clients that should be allowed everything. */
  adminToken: string
  token(scope: 'read' | 'write' | 'admin', project?: string | null, name?: string): Promise<string>
  close(): Promise<void>
}

/** A real modelreg server on 127.0.0.1 with a random port, over a fresh data directory. */
export async function startTestServer(overrides: Partial<ServerConfig> = {}, log: (line: string) => void = () => {}): Promise<TestServer> {
  const dataDir = join(tempDir('modelreg-server-'), 'data')
  const config: ServerConfig = {...defaultServerConfig(), host: '127.0.0.1', port: 0, data_dir: dataDir, log_requests: true, ...overrides}
  const server = await startServer(config, {log})
  let n = 0
  const token = async (scope: 'read' | 'write' | 'admin', project: string | null = null, name = `t${++n}-${scope}`) =>
    (await server.tokens.create(name, scope, project)).token
  const adminToken = await token('admin', null, 'admin')
  return {server, url: server.url, dataDir, adminToken, token, close: () => server.close(2000)}
}

/** A token made directly in a server's store, as `server tokens create` does (with its config file, if any). */
export async function createToken(dataDir: string, scope: 'read' | 'write' | 'admin' = 'admin', project: string | null = null, name = 'admin', configPath?: string): Promise<string> {
  const {TokenStore} = await import('../../src/server/tokens.js')
  const {openTokenStore} = await import('../../src/server/stores.js')
  const {loadServerConfig} = await import('../../src/server/config.js')
  const store = configPath ? await openTokenStore(loadServerConfig(configPath)) : TokenStore.inDirectory(dataDir)
  try {
    return (await store.create(name, scope, project)).token
  } finally {
    await store.close()
  }
}

export interface ServerProcess {
  url: string
  port: number
  child: import('node:child_process').ChildProcess
  stderr: () => string
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** `modelreg server start` as a real child process (for kill tests): resolves once it listens. */
export async function spawnServerProcess(dataDir: string, port = 0, extraArgs: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const {spawn} = await import('node:child_process')
  const {BIN} = await import('./cli.js')
  const child = spawn(process.execPath, [BIN, 'server', 'start', '--data-dir', dataDir, '--port', String(port), '--json', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {PATH: process.env.PATH, HOME: dataDir, ...extraEnv},
  })
  let err = ''
  child.stderr?.on('data', (c) => (err += c))
  const banner = await new Promise<{url: string}>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (c) => {
      out += c
      const line = out.split('\n')[0]
      if (out.includes('\n')) resolve(JSON.parse(line))
    })
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)))
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    url: banner.url,
    port: Number(new URL(banner.url).port),
    child,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      child.kill(signal)
      return exited
    },
  }
}
