/** The SQL engine over PostgreSQL and a blob store: what a server that scales out runs. */
import type {BlobStore} from '../blobs.js'
import {type FollowTiming, SqlEngine} from '../sql/engine.js'
import {Session} from '../sql/session.js'
import {describeDatabase, PgDriver} from './driver.js'

export interface PostgresEngineOptions {
  url: string
  schema?: string
  poolSize?: number
  blobs: BlobStore
  actor: string | (() => string)
  /** Apply missing migrations first (default); otherwise refuse a database that lacks them. */
  migrate?: boolean
  /** How often followers read again when not woken (default: followTiming()). */
  follow?: FollowTiming
}

export async function openPostgresEngine(options: PostgresEngineOptions): Promise<SqlEngine> {
  const driver = new PgDriver({url: options.url, schema: options.schema, poolSize: options.poolSize})
  try {
    if (options.migrate ?? true) await driver.migrate()
    else await driver.checkSchema()
  } catch (error) {
    await driver.close().catch(() => {})
    throw error
  }
  return new SqlEngine(`${describeDatabase(options.url)} + ${options.blobs.description}`, driver, options.blobs, new Session(driver.dialect, options.actor), options.follow)
}
