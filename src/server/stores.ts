/**
 * What a server keeps its data in, from its config: SQLite and a directory under data_dir (one
 * machine), or PostgreSQL and an S3-compatible bucket (any number of identical replicas), or a
 * mix. The engine and the token store for each; clear one-line errors for a database that cannot
 * be reached or a bucket that does not exist.
 */
import {invalid} from '../backends/errors.js'
import type {BlobStore} from '../backends/blobs.js'
import type {SqlEngine} from '../backends/sql/engine.js'
import type {ServerConfig} from './config.js'
import {TokenStore} from './tokens.js'

const isPostgres = (metadata: string) => /^postgres(ql)?:\/\//i.test(metadata)

function checkMetadata(config: ServerConfig): void {
  if (config.metadata !== 'sqlite' && !isPostgres(config.metadata)) {
    throw invalid(`server config: metadata must be sqlite or a postgres:// URL, not ${JSON.stringify(config.metadata.replace(/\/\/[^@/]*@/, '//…@'))}`)
  }
}

async function openBlobStore(config: ServerConfig): Promise<BlobStore> {
  if (config.blobs === 'file') {
    const {BlobStore: DirectoryBlobStore} = await import('../backends/local/blob-store.js')
    return new DirectoryBlobStore(config.data_dir)
  }
  if (!config.blobs.startsWith('s3://')) throw invalid(`server config: blobs must be file or an s3://bucket/prefix URL, not ${JSON.stringify(config.blobs)}`)
  const {S3BlobStore} = await import('../backends/s3/s3-blob-store.js')
  const env = {...process.env}
  if (config.s3.endpoint) env.AWS_ENDPOINT_URL_S3 = config.s3.endpoint
  if (config.s3.region) env.AWS_REGION = config.s3.region
  const store = new S3BlobStore({
    ...S3BlobStore.configFromUrl(config.blobs, env, config.s3.force_path_style === null ? {} : {forcePathStyle: config.s3.force_path_style}),
    presign: config.s3.presign,
  })
  try {
    await store.check()
  } catch (error) {
    await store.close().catch(() => {})
    throw error
  }
  return store
}

export interface ServerStores {
  engine: SqlEngine
  tokens: TokenStore
}

export interface OpenStoresOptions {
  /** Told once, in one line, if a SQLite store stops taking writes. */
  onBroken?: (message: string) => void
  /** Apply missing PostgreSQL migrations (default); false: refuse a database that lacks them. */
  migrate?: boolean
  /** A SQLite store's token database in this directory instead of data_dir. */
  tokensDir?: string
}

export async function openServerStores(config: ServerConfig, options: OpenStoresOptions = {}): Promise<ServerStores> {
  checkMetadata(config)
  const blobs = await openBlobStore(config)
  try {
    if (isPostgres(config.metadata)) {
      const {openPostgresEngine} = await import('../backends/postgres/open.js')
      const engine = await openPostgresEngine({url: config.metadata, schema: config.database.schema ?? undefined, poolSize: config.database.pool_size, blobs, actor: 'server', migrate: options.migrate})
      return {engine, tokens: await openTokenStore(config)}
    }
    const {LocalBackend} = await import('../backends/local/local-backend.js')
    const engine = new LocalBackend({home: config.data_dir, actor: 'server', blobs, onBroken: options.onBroken})
    return {engine, tokens: TokenStore.inDirectory(options.tokensDir ?? config.data_dir)}
  } catch (error) {
    await blobs.close?.().catch(() => {})
    throw error
  }
}

/** The server's tokens alone (the `server tokens` commands): in PostgreSQL when the registry is. */
export async function openTokenStore(config: ServerConfig): Promise<TokenStore> {
  checkMetadata(config)
  if (!isPostgres(config.metadata)) return TokenStore.inDirectory(config.data_dir)
  const {PgDriver} = await import('../backends/postgres/driver.js')
  const driver = new PgDriver({url: config.metadata, schema: config.database.schema ?? undefined, poolSize: 2})
  try {
    await driver.migrate()
  } catch (error) {
    await driver.close().catch(() => {})
    throw error
  }
  return new TokenStore(driver, async () => {
    const row = await driver.peek<{v: number | string}>("SELECT value AS v FROM counters WHERE name = 'tokens'")
    return row ? `tokens:${row.v}` : null
  })
}

/** `server migrate`: apply PostgreSQL migrations now (replicas started with --no-migrate then just check). */
export async function migrateServerDatabase(config: ServerConfig): Promise<{applied: number[]; database: string}> {
  checkMetadata(config)
  if (!isPostgres(config.metadata)) return {applied: [], database: 'sqlite (migrated when opened)'}
  const {PgDriver, describeDatabase} = await import('../backends/postgres/driver.js')
  const driver = new PgDriver({url: config.metadata, schema: config.database.schema ?? undefined, poolSize: 1})
  try {
    return {...(await driver.migrate()), database: describeDatabase(config.metadata)}
  } finally {
    await driver.close()
  }
}
