/**
 * Client configuration. Precedence, highest first: command-line flags > environment
 * (MODELREG_*) > the nearest `.modelreg.yaml` from the working directory up > the selected
 * profile > the user config file ($XDG_CONFIG_HOME/modelreg/config.yaml) > defaults.
 */
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {invalid, RegistryError} from '../backends/errors.js'
import {isJsonObject, quote, validateName} from '../backends/validation.js'
import {FILE_LIMITS, readBoundedFile} from './bounded-file.js'
import {parseStrictYaml} from './strict-yaml.js'

export const CONFIG_KEYS = ['backend', 'url', 'token', 'project', 'home', 'author'] as const
export type ConfigKey = (typeof CONFIG_KEYS)[number]
export type ConfigValues = Partial<Record<ConfigKey, string>>

export type ConfigSource = 'flag' | 'env' | 'project-file' | 'profile' | 'user-config' | 'default'

export const ENV_VARS: Record<ConfigKey, string> = {
  backend: 'MODELREG_BACKEND',
  url: 'MODELREG_URL',
  token: 'MODELREG_TOKEN',
  project: 'MODELREG_PROJECT',
  home: 'MODELREG_HOME',
  author: 'MODELREG_AUTHOR',
}

export const PROJECT_FILE = '.modelreg.yaml'

export interface ConfigFile {
  path: string
  values: ConfigValues
  profile?: string
  profiles: Record<string, ConfigValues>
}

export interface ResolvedConfig {
  backend: 'local' | 'remote'
  home: string
  url: string | null
  token: string | null
  project: string
  author: string | null
  profile: string | null
  sources: Record<ConfigKey | 'profile', ConfigSource>
  files: {user: string; project: string | null}
}

export interface ConfigInputs {
  flags?: ConfigValues & {profile?: string}
  env?: NodeJS.ProcessEnv
  cwd?: string
}

export function userConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MODELREG_CONFIG) return resolve(env.MODELREG_CONFIG)
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.length > 0 ? env.XDG_CONFIG_HOME : join(homeDir(env), '.config')
  return join(base, 'modelreg', 'config.yaml')
}

function homeDir(env: NodeJS.ProcessEnv): string {
  return env.HOME && env.HOME.length > 0 ? env.HOME : homedir()
}

export function expandHome(path: string, env: NodeJS.ProcessEnv = process.env): string {
  if (path === '~') return homeDir(env)
  if (path.startsWith('~/')) return join(homeDir(env), path.slice(2))
  return path
}

/** The nearest .modelreg.yaml from `cwd` upwards, if any. */
export function findProjectFile(cwd: string): string | null {
  let dir = resolve(cwd)
  for (;;) {
    const candidate = join(dir, PROJECT_FILE)
    if (existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
}

function pickValues(raw: Record<string, unknown>, where: string): ConfigValues {
  const values: ConfigValues = {}
  for (const key of CONFIG_KEYS) {
    const value = raw[key]
    if (value === undefined || value === null) continue
    if (typeof value !== 'string' && typeof value !== 'number') throw invalid(`${where}: ${key} must be a string`)
    values[key] = String(value)
  }
  return values
}

export function readConfigFile(path: string): ConfigFile | null {
  const source = `config file ${path}`
  let text: string
  try {
    text = readBoundedFile(path, FILE_LIMITS.config, source).toString('utf8')
  } catch (error) {
    if (error instanceof RegistryError && error.code === 'not_found') return null
    throw error
  }
  const raw = parseStrictYaml(text, source) ?? {}
  if (!isJsonObject(raw)) throw invalid(`config file ${path} must hold a YAML mapping`)
  const profiles: Record<string, ConfigValues> = {}
  if (raw.profiles !== undefined && raw.profiles !== null) {
    if (!isJsonObject(raw.profiles)) throw invalid(`config file ${path}: profiles must be a mapping of name to settings`)
    for (const [name, settings] of Object.entries(raw.profiles)) {
      if (!isJsonObject(settings)) throw invalid(`config file ${path}: profile ${quote(name)} must be a mapping`)
      profiles[name] = pickValues(settings, `${path} (profile ${name})`)
    }
  }
  const profile = raw.profile === undefined || raw.profile === null ? undefined : String(raw.profile)
  return {path, values: pickValues(raw, path), profile, profiles}
}

export function resolveConfig(inputs: ConfigInputs = {}): ResolvedConfig {
  const env = inputs.env ?? process.env
  const flags = inputs.flags ?? {}
  const userPath = userConfigPath(env)
  const user = readConfigFile(userPath)
  const projectPath = findProjectFile(inputs.cwd ?? process.cwd())
  const projectFile = projectPath ? readConfigFile(projectPath) : null

  // Which profile, if any.
  let profile: string | null = null
  let profileSource: ConfigSource = 'default'
  const profileChoices: [string | undefined, ConfigSource][] = [
    [flags.profile, 'flag'],
    [env.MODELREG_PROFILE, 'env'],
    [projectFile?.profile, 'project-file'],
    [user?.profile, 'user-config'],
  ]
  for (const [value, source] of profileChoices) {
    if (value) {
      profile = value
      profileSource = source
      break
    }
  }
  let profileValues: ConfigValues = {}
  if (profile !== null) {
    const found = projectFile?.profiles[profile] ?? user?.profiles[profile]
    if (!found) {
      const known = [...new Set([...Object.keys(user?.profiles ?? {}), ...Object.keys(projectFile?.profiles ?? {})])]
      throw invalid(
        `profile ${quote(profile)} is not defined in ${userPath}${known.length ? ` (known: ${known.join(', ')})` : ''}; add it under "profiles:"`,
      )
    }
    profileValues = found
  }

  const envValues: ConfigValues = {}
  for (const key of CONFIG_KEYS) {
    const value = env[ENV_VARS[key]]
    if (value !== undefined && value !== '') envValues[key] = value
  }

  const layers: [ConfigValues, ConfigSource][] = [
    [pickFlags(flags), 'flag'],
    [envValues, 'env'],
    [projectFile?.values ?? {}, 'project-file'],
    [profileValues, 'profile'],
    [user?.values ?? {}, 'user-config'],
  ]
  const sources = {profile: profileSource} as ResolvedConfig['sources']
  const pick = (key: ConfigKey): string | undefined => {
    for (const [values, source] of layers) {
      if (values[key] !== undefined) {
        sources[key] = source
        return values[key]
      }
    }
    sources[key] = 'default'
    return undefined
  }

  const url = pick('url') ?? null
  const token = pick('token') ?? null
  const backendValue = pick('backend')
  let backend: 'local' | 'remote'
  if (backendValue !== undefined && backendValue !== 'local' && backendValue !== 'remote') {
    throw invalid(`backend must be "local" or "remote", not ${quote(backendValue)} (from ${sources.backend})`)
  }
  // A URL given where it takes precedence over the backend setting means that server:
  // MODELREG_URL (or --url) reaches it even when a config file says `backend: local`.
  const rank = (source: ConfigSource) => layers.findIndex(([, s]) => s === source)
  if (url && (backendValue === undefined || rank(sources.url) < rank(sources.backend))) {
    backend = 'remote'
    sources.backend = sources.url
  } else if (backendValue === undefined) {
    backend = 'local'
    sources.backend = 'default'
  } else {
    backend = backendValue
  }
  if (backend === 'remote' && !url) {
    throw invalid('the remote backend needs a server URL: set MODELREG_URL, --url, or "url" in a profile')
  }
  const home = resolve(expandHome(pick('home') ?? join(homeDir(env), '.modelreg'), env))
  const project = pick('project') ?? 'default'
  validateName('project', project)
  const author = pick('author') ?? null
  return {backend, home, url, token, project, author, profile, sources, files: {user: userPath, project: projectPath}}
}

function pickFlags(flags: ConfigInputs['flags'] & object): ConfigValues {
  const values: ConfigValues = {}
  for (const key of CONFIG_KEYS) {
    const value = flags[key]
    if (value !== undefined && value !== '') values[key] = value
  }
  return values
}

export function maskToken(token: string | null): string | null {
  if (!token) return token
  if (token.length <= 8) return '****'
  return `${token.slice(0, 4)}…${'*'.repeat(4)}`
}

/** The effective value of every key (and the profile), the token masked unless revealed. */
export function effectiveValues(c: ResolvedConfig, reveal = false): Record<ConfigKey | 'profile', string | null> {
  return {
    backend: c.backend,
    url: c.url,
    token: reveal ? c.token : maskToken(c.token),
    project: c.project,
    home: c.home,
    author: c.author,
    profile: c.profile,
  }
}
