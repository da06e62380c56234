import {resolve} from 'node:path'
import * as Flags from '@oclif/core/flags'
import {expandHome} from '../config/config.js'
import {loadServerConfig, type ServerConfig} from '../server/config.js'

/** --config and --data-dir, shared by the server commands. */
export const serverLocationFlags = {
  config: Flags.string({char: 'c', description: 'Server config file (YAML, from server init-config).', env: 'MODELREG_SERVER_CONFIG'}),
  'data-dir': Flags.string({description: 'Data directory (overrides the config file; default ~/.modelreg-server).'}),
}

export function serverConfigFrom(flags: {config?: string; 'data-dir'?: string}): ServerConfig {
  const config = loadServerConfig(flags.config)
  if (flags['data-dir']) config.data_dir = resolve(expandHome(flags['data-dir']))
  return config
}
