import {resolve} from 'node:path'
import * as Flags from '@oclif/core/flags'
import {expandHome} from '../config/config.js'
import type {Backend} from '../backends/backend.js'
import {loadServerConfig, type ServerConfig} from '../server/config.js'

/** --config and --data-dir, shared by the server commands. */
export const serverLocationFlags = {
  config: Flags.string({char: 'c', description: 'Server config file (YAML, from server init-config).', env: 'MODELREG_SERVER_CONFIG'}),
  'data-dir': Flags.string({description: 'Data directory (overrides the config file; default ~/.modelreg-server).'}),
}

/** The config file, then the environment (MODELREG_DATABASE_URL, MODELREG_BLOBS_URL), then flags. */
export function serverConfigFrom(flags: {config?: string; 'data-dir'?: string}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const config = loadServerConfig(flags.config)
  if (env.MODELREG_DATABASE_URL) config.metadata = env.MODELREG_DATABASE_URL
  if (env.MODELREG_BLOBS_URL) config.blobs = env.MODELREG_BLOBS_URL
  if (flags['data-dir']) config.data_dir = resolve(expandHome(flags['data-dir']))
  return config
}

/** The engine over a server's store, opened from its config (server verify, server gc): no migrations, no tokens. */
export async function openServerEngine(flags: {config?: string; 'data-dir'?: string}): Promise<Backend> {
  const {openServerStores} = await import('../server/stores.js')
  const {engine, tokens} = await openServerStores(serverConfigFrom(flags), {migrate: false})
  await tokens.close()
  return engine
}
