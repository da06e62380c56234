/** Server configuration: a commented YAML file, overridden by server:start flags. */
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'
import {invalid} from '../backends/errors.js'
import {isJsonObject} from '../backends/validation.js'
import {FILE_LIMITS, readBoundedFile} from '../config/bounded-file.js'
import {expandHome} from '../config/config.js'
import {parseStrictYaml} from '../config/strict-yaml.js'

export interface ServerConfig {
  host: string
  port: number
  data_dir: string
  auth: {enabled: boolean}
  limits: {
    /** Largest JSON request body, most routes. */
    json_body_bytes: number
    /** Largest JSON request body for manifests (creating a version, asking for missing blobs). */
    manifest_body_bytes: number
    /** Largest blob a client may upload. */
    max_blob_bytes: number
    /** Time a client has to send its request headers. */
    headers_timeout_ms: number
    /** A connection idle (nothing sent or received) this long is closed; a moving transfer is never cut. */
    idle_timeout_ms: number
  }
  tls: {cert: string | null; key: string | null}
  /** Host header values accepted besides the listen address (and localhost names on loopback). */
  allowed_hosts: string[]
  /** Origins whose browser requests are accepted; by default every cross-origin request is refused. */
  allowed_origins: string[]
  /** One log line per request on stderr. */
  log_requests: boolean
  /** Where metadata lives: `sqlite` (data_dir/registry.db) or a postgres:// URL (env MODELREG_DATABASE_URL). */
  metadata: string
  /** Where blob bytes live: `file` (data_dir/blobs) or s3://bucket/prefix (env MODELREG_BLOBS_URL). */
  blobs: string
  /** pool_size: connections per process; schema: where the tables live (default: the connection's search path). */
  database: {pool_size: number; schema: string | null}
  s3: {endpoint: string | null; region: string | null; force_path_style: boolean | null; presign: boolean}
}

export const DEFAULT_PORT = 8470

export function defaultServerConfig(): ServerConfig {
  return {
    host: '127.0.0.1',
    port: DEFAULT_PORT,
    data_dir: join(homedir(), '.modelreg-server'),
    auth: {enabled: true},
    limits: {
      json_body_bytes: 1024 * 1024,
      manifest_body_bytes: 64 * 1024 * 1024,
      max_blob_bytes: 1024 ** 4,
      headers_timeout_ms: 10_000,
      idle_timeout_ms: 60_000,
    },
    tls: {cert: null, key: null},
    allowed_hosts: [],
    allowed_origins: [],
    log_requests: true,
    metadata: 'sqlite',
    blobs: 'file',
    database: {pool_size: 10, schema: null},
    s3: {endpoint: null, region: null, force_path_style: null, presign: false},
  }
}

export const SERVER_CONFIG_TEMPLATE = `# modelreg server configuration (modelreg server start --config THIS_FILE).
# Flags given to "server start" (--host, --port, --data-dir) override these values.

listen:
  # 127.0.0.1 serves this machine only. To serve a team, use 0.0.0.0 (or one address) and keep
  # auth on: the server refuses a non-loopback address with auth off unless --insecure is given.
  host: 127.0.0.1
  port: ${DEFAULT_PORT}

# Where the registry lives (the same layout as a local store) and the token database.
data_dir: ~/.modelreg-server

auth:
  # Require a bearer token on every request but /healthz and /api/v1/openapi.json.
  # Create tokens with: modelreg server tokens create --name NAME --scope read|write|admin
  enabled: true

limits:
  json_body_bytes: 1048576          # most JSON requests (1 MiB); larger ones get HTTP 413
  manifest_body_bytes: 67108864     # creating a version / asking which blobs are missing (64 MiB)
  max_blob_bytes: 1099511627776     # largest single file (1 TiB)
  headers_timeout_ms: 10000         # a client must send its headers within this time
  idle_timeout_ms: 60000            # close a connection idle this long (a moving upload never is)

tls:
  # PEM files; with both set the server speaks HTTPS.
  cert: null
  key: null

# Host header values accepted besides the listen address. On a loopback address only
# localhost names are accepted, so a web page cannot reach the server by DNS rebinding.
allowed_hosts: []

# Browser origins allowed to call the API. Empty: every request carrying an Origin is refused.
allowed_origins: []

log_requests: true

# Where the registry keeps its data. The defaults keep everything in data_dir on this machine.
# To run several identical servers behind a load balancer, use PostgreSQL and an S3-compatible
# bucket (AWS S3, Ceph RGW, MinIO, R2 ...); data_dir then holds nothing that matters.
metadata: sqlite                    # or postgres://user@db.internal:5432/modelreg (password: PGPASSWORD or the URL)
blobs: file                         # or s3://bucket/prefix (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
database:
  pool_size: 10                     # connections per server process
  schema: null                      # the PostgreSQL schema for modelreg's tables (default: public)
s3:
  endpoint: null                    # e.g. http://rgw.internal:7480 (else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS)
  region: null                      # else AWS_REGION, else us-east-1
  force_path_style: null            # default: path style whenever a custom endpoint is set
  presign: false                    # true: clients send and fetch blob bytes straight to/from the bucket
                                    # (presigned URLs, 1 hour; the bucket must be reachable by clients)
`

function positiveInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw invalid(`server config: ${what} must be a positive whole number`)
  return value
}

function stringList(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw invalid(`server config: ${what} must be a list of strings`)
  return value as string[]
}

export function loadServerConfig(path: string | undefined): ServerConfig {
  const config = defaultServerConfig()
  if (!path) return config
  const source = `server config ${path}`
  const raw = parseStrictYaml(readBoundedFile(path, FILE_LIMITS.config, source).toString('utf8'), source) ?? {}
  if (!isJsonObject(raw)) throw invalid(`server config ${path} must hold a YAML mapping`)
  const r = raw as Record<string, any>
  if (r.listen?.host !== undefined) config.host = String(r.listen.host)
  if (r.listen?.port !== undefined) config.port = positiveInt(r.listen.port, 'listen.port')
  if (r.data_dir !== undefined && r.data_dir !== null) config.data_dir = resolve(expandHome(String(r.data_dir)))
  if (r.auth?.enabled !== undefined) {
    if (typeof r.auth.enabled !== 'boolean') throw invalid('server config: auth.enabled must be true or false')
    config.auth.enabled = r.auth.enabled
  }
  for (const key of Object.keys(config.limits) as (keyof ServerConfig['limits'])[]) {
    if (r.limits?.[key] !== undefined) config.limits[key] = positiveInt(r.limits[key], `limits.${key}`)
  }
  if (r.tls?.cert) config.tls.cert = resolve(expandHome(String(r.tls.cert)))
  if (r.tls?.key) config.tls.key = resolve(expandHome(String(r.tls.key)))
  if (Boolean(config.tls.cert) !== Boolean(config.tls.key)) throw invalid('server config: tls needs both cert and key')
  config.allowed_hosts = stringList(r.allowed_hosts, 'allowed_hosts')
  config.allowed_origins = stringList(r.allowed_origins, 'allowed_origins')
  if (r.log_requests !== undefined) config.log_requests = Boolean(r.log_requests)
  if (r.metadata !== undefined && r.metadata !== null) config.metadata = String(r.metadata)
  if (r.blobs !== undefined && r.blobs !== null) config.blobs = String(r.blobs)
  if (r.database?.pool_size !== undefined) config.database.pool_size = positiveInt(r.database.pool_size, 'database.pool_size')
  if (r.database?.schema) config.database.schema = String(r.database.schema)
  if (r.s3?.endpoint) config.s3.endpoint = String(r.s3.endpoint)
  if (r.s3?.region) config.s3.region = String(r.s3.region)
  if (r.s3?.force_path_style !== undefined && r.s3?.force_path_style !== null) {
    if (typeof r.s3.force_path_style !== 'boolean') throw invalid('server config: s3.force_path_style must be true or false')
    config.s3.force_path_style = r.s3.force_path_style
  }
  if (r.s3?.presign !== undefined) {
    if (typeof r.s3.presign !== 'boolean') throw invalid('server config: s3.presign must be true or false')
    config.s3.presign = r.s3.presign
  }
  return config
}

/** Whether a host name or address is this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h)
}
