/** Writing client config files: comments kept, written atomically, readable only by the owner. */
import {randomBytes} from 'node:crypto'
import {mkdir, rename, writeFile} from 'node:fs/promises'
import {dirname} from 'node:path'
import {fromFsError, invalid, RegistryError} from '../backends/errors.js'
import {quote} from '../backends/validation.js'
import {FILE_LIMITS, readBoundedFile} from './bounded-file.js'
import {CONFIG_KEYS, type ConfigKey} from './config.js'
import {parseStrictYamlDocument} from './strict-yaml.js'

export const USER_CONFIG_TEMPLATE = `# modelreg client configuration.
# Precedence: flags > MODELREG_* environment > .modelreg.yaml (nearest) > profile > this file.

# Where data lives: "local" (SQLite + blob directory under home) or "remote" (a modelreg server).
backend: local

# The local store's directory (MODELREG_HOME).
# home: ~/.modelreg

# The project used when -p/--project is not given.
project: default

# Who is recorded as the author of pushes (default: git user.email, else the OS user).
# author: you@example.com

# The profile used when --profile / MODELREG_PROFILE is not given.
# profile: team

# Named sets of settings, selected with --profile NAME or MODELREG_PROFILE=NAME.
profiles: {}
#  team:
#    backend: remote
#    url: https://modelreg.example.com
#    token: mr_...          # prefer MODELREG_TOKEN in CI
`

export const PROJECT_CONFIG_TEMPLATE = `# modelreg settings for this directory and below (overrides the user config).
# project: default
# profile: team
`

export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await mkdir(dirname(path), {recursive: true})
    await writeFile(tmp, text, {mode, flag: 'wx'})
    await rename(tmp, path)
  } catch (error) {
    throw fromFsError(error, `writing ${path}`)
  }
}

/** The key path a `config set` key names: a top-level key, "profile", or profiles.NAME.KEY. */
export function configKeyPath(key: string): string[] {
  if (key === 'profile' || (CONFIG_KEYS as readonly string[]).includes(key)) return [key]
  const parts = key.split('.')
  if (parts.length === 3 && parts[0] === 'profiles' && parts[1].length > 0 && (CONFIG_KEYS as readonly string[]).includes(parts[2])) {
    return parts
  }
  throw invalid(`unknown config key ${quote(key)}: use one of ${[...CONFIG_KEYS, 'profile'].join(', ')}, or profiles.NAME.KEY`)
}

export async function setConfigValue(path: string, key: string, value: string | null): Promise<void> {
  const keyPath = configKeyPath(key)
  if (keyPath[0] === 'backend' || keyPath[2] === 'backend') {
    if (value !== null && value !== 'local' && value !== 'remote') throw invalid('backend must be "local" or "remote"')
  }
  const source = `config file ${path}`
  let text = ''
  try {
    text = readBoundedFile(path, FILE_LIMITS.config, source).toString('utf8')
  } catch (error) {
    if (!(error instanceof RegistryError && error.code === 'not_found')) throw error
  }
  const doc = parseStrictYamlDocument(text, source)
  if (value === null) doc.deleteIn(keyPath)
  else doc.setIn(keyPath, value)
  await writeFileAtomic(path, doc.toString())
}

export function isSecretKey(key: ConfigKey | string): boolean {
  return key === 'token' || key.endsWith('.token')
}
