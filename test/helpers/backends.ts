import {afterAll} from 'vitest'
import {type CliEnv, makeCliEnv} from './cli.js'
import {startTestServer, type TestServer} from './server.js'

const servers: TestServer[] = []
afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

export const BACKENDS = ['local', 'remote'] as const

/**
 * A CLI user on the given backend: local (a fresh store) or remote (a fresh server on
 * 127.0.0.1, reached through MODELREG_URL with an admin token).
 */
export async function makeBackendEnv(kind: 'local' | 'remote', extra: NodeJS.ProcessEnv = {}): Promise<CliEnv> {
  if (kind === 'local') return makeCliEnv(extra)
  const server = await startTestServer()
  servers.push(server)
  const ctx = makeCliEnv({MODELREG_URL: server.url, MODELREG_TOKEN: server.adminToken, ...extra})
  return {...ctx, storeHome: server.dataDir, backend: 'remote'}
}
