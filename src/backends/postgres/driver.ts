/**
 * The SQL engine's driver for PostgreSQL: a small pool, READ COMMITTED write transactions that
 * take row locks (version numbers from a counter column, events from a counter row), snapshot
 * reads, and a retry of the whole transaction when a concurrent writer won a race (a unique
 * key, a serialization failure or a deadlock): the retry then sees the winner's row.
 */
import pg from 'pg'
import {RegistryError} from '../errors.js'
import type {ColumnType, Dialect, EventWatch, SqlDriver} from '../sql/driver.js'
import {runAsync, type SqlStatement, type Task} from '../sql/task.js'
import {EVENT_CHANNEL_SQL, EventListener} from './listener.js'
import {PG_MIGRATIONS, PG_SCHEMA_VERSION} from './migrations.js'

// BIGINT (int8) and COUNT(*) arrive as numbers: every value the registry keeps fits in 2^53.
pg.types.setTypeParser(20, (text: string) => Number(text))
// NUMERIC (SUM of BIGINTs) likewise.
pg.types.setTypeParser(1700, (text: string) => Number(text))

/** The advisory lock gc holds exclusively while it sweeps the blob store (one per schema). */
export const BLOB_LOCK = "hashtext(current_schema() || ' modelreg blobs')"

/** How PostgreSQL spells what differs from SQLite (see sql/driver.ts). */
export const POSTGRES: Dialect = {
  name: 'postgres',
  jsonField: (column, key) => ({sql: `(${column}::jsonb -> ?)`, params: [key]}),
  jsonValue: (value) => ({sql: '?::jsonb', params: [JSON.stringify(value)]}),
  jsonText: (column, key) => ({sql: `(${column}::jsonb ->> ?)`, params: [key]}),
  // = ANY (an array), not IN (a subquery): a prepared statement's generic plan then probes the
  // column's index for each element instead of hashing the whole table (tags: 2.4 -> 0.1 ms).
  inJsonNumbers: (expr) => `${expr} = ANY (ARRAY(SELECT (jsonb_array_elements_text(?::jsonb))::bigint))`,
  inJsonStrings: (expr) => `${expr} = ANY (ARRAY(SELECT jsonb_array_elements_text(?::jsonb)))`,
  jsonAgg: (expr, orderBy) => `COALESCE(json_agg(${expr} ORDER BY ${orderBy}), '[]'::json)`,
  ilike: 'ILIKE',
  nocase: (expr) => `lower(${expr})`,
  falseValue: 'false',
  forUpdate: ' FOR UPDATE',
  forKeyShare: ' FOR KEY SHARE',
  sharedBlobLock: `SELECT pg_advisory_xact_lock_shared(${BLOB_LOCK})`,
  exclusiveBlobLock: `SELECT pg_advisory_xact_lock(${BLOB_LOCK})`,
  // Metric points hang on their run by the engine's locks, not a foreign key (migration 5).
  databaseCheck: `SELECT 'metric points of a run that is gone (run id ' || m.run_id || ', ' || COUNT(*) || ' points)' AS problem
    FROM metrics m WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = m.run_id) GROUP BY m.run_id ORDER BY m.run_id`,
  eventCounter: "SELECT value AS v FROM counters WHERE name = 'events'",
  // The event's id from the counter row, and a notification to the schema's followers (see
  // listener.ts): delivered at commit, and only once per transaction however many events it
  // writes (PostgreSQL folds a transaction's identical notifications into one).
  insertEvent: `WITH c AS (UPDATE counters SET value = value + 1 WHERE name = 'events' RETURNING value),
      n AS (SELECT pg_notify(${EVENT_CHANNEL_SQL}, '') AS notified)
    INSERT INTO events (id, time, type, project, project_key, model, model_key, model_id, version, tag, actor, data)
    SELECT c.value, ?, ?, ?, ?, ?, ?, ?::bigint, ?::bigint, ?, ?, ? FROM c, n`,
  columnRows: {
    select: (types) => `SELECT * FROM unnest(${types.map((t) => `?::${t}[]`).join(', ')})`,
    params: (types, flat) => types.map((type, column) => arrayLiteral(type, flat, types.length, column)),
    maxRows: 10_000,
  },
}

const ESCAPED = /["\\]/

/**
 * One column of rows (given one after another, `width` values each) as the text of a
 * PostgreSQL array, which the statement casts (`?::float8[]`). A number is written as
 * String(number) gives it, the shortest digits that read back as the same double, as
 * node-postgres writes a scalar (-0 as "0": SQLite's REAL columns keep no -0 either); text
 * is quoted, `"` and `\` escaped. Built here rather than by node-postgres (which takes JS arrays
 * too, but runs two regular expressions over every element): measured here, 3.5-5.6 µs a
 * metric point for its six columns that way, 0.7-1.3 this way.
 */
export function arrayLiteral(type: ColumnType, flat: readonly unknown[], width: number, column: number): string {
  const elements = new Array<string>(Math.ceil((flat.length - column) / width))
  for (let i = column, n = 0; i < flat.length; i += width, n++) {
    const value = flat[i]
    if (value === null || value === undefined) elements[n] = 'NULL'
    else if (type !== 'text') elements[n] = String(value)
    else {
      const text = String(value)
      elements[n] = ESCAPED.test(text) ? `"${text.replace(/["\\]/g, '\\$&')}"` : `"${text}"`
    }
  }
  return `{${elements.join(',')}}`
}

/** SQLSTATEs after which the transaction is run again: a concurrent writer won a race. */
const RETRY_STATES = new Set(['40001', '40P01', '23505'])
const MAX_ATTEMPTS = 12

const numbered = new Map<string, string>()

/** `?` placeholders as PostgreSQL's `$1, $2 ...` (outside quoted text), cached per statement text. */
export function numberPlaceholders(sql: string): string {
  let out = numbered.get(sql)
  if (out !== undefined) return out
  let n = 0
  let quoted = false
  out = ''
  for (const c of sql) {
    if (c === "'") quoted = !quoted
    out += c === '?' && !quoted ? `$${++n}` : c
  }
  if (numbered.size > 5000) numbered.clear()
  numbered.set(sql, out)
  return out
}

export interface PgOptions {
  /** postgres://user:password@host:5432/database */
  url: string
  /** The schema the registry's tables live in (default: the connection's, usually public). */
  schema?: string
  /** Connections in the pool (default 10). */
  poolSize?: number
}

/** Where the database is, without its password: for messages. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}`
  } catch {
    return 'the database'
  }
}

/** A PostgreSQL failure as the error modelreg reports everywhere: one line, no secrets. */
export function translatePgError(error: unknown, what: string, url: string): RegistryError {
  if (error instanceof RegistryError) return error
  const e = error as {code?: string; message?: string}
  const where = describeDatabase(url)
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ECONNRESET':
    case '57P01':
    case '57P03':
      return new RegistryError('unavailable', `${what}: cannot reach the database at ${where} (${e.code}); is PostgreSQL running there?`)
    case '28P01':
    case '28000':
      return new RegistryError('permission_denied', `${what}: the database at ${where} refused the login (check the user and password)`)
    case '3D000':
      return new RegistryError('unavailable', `${what}: the database at ${where} does not exist (create it first)`)
    case '53100':
      return new RegistryError('storage_full', `${what}: the database at ${where} is out of disk space; nothing was committed`)
    case '25006':
      return new RegistryError('unavailable', `${what}: the database at ${where} is read-only (a standby?)`)
    default:
      return new RegistryError('internal', `${what}: database error${e.code ? ` ${e.code}` : ''}: ${(e.message ?? String(error)).split('\n')[0]}`)
  }
}

/** Statement texts named (prepared) per connection; more are sent unnamed. */
const MAX_NAMED = 300

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export class PgDriver implements SqlDriver {
  readonly dialect = POSTGRES
  readonly pool: pg.Pool
  /** The one connection that listens for events, shared by every follower (see listener.ts). */
  readonly listener: EventListener
  private readonly url: string
  private readonly schema: string | undefined
  private readonly names = new Map<string, string>()
  private generation = 0

  constructor(options: PgOptions) {
    this.url = options.url
    this.schema = options.schema
    const connection: pg.ClientConfig = {
      connectionString: options.url,
      connectionTimeoutMillis: 10_000,
      ...(options.schema ? {options: `-c search_path=${checkedSchema(options.schema)}`} : {}),
    }
    // Pipelined: a transaction's BEGIN goes out with its first statement, not a round trip ahead.
    this.pool = new pg.Pool({...connection, pipeline: true, max: options.poolSize ?? 10, idleTimeoutMillis: 30_000})
    // An idle connection that breaks (the server restarted) is replaced on the next use.
    this.pool.on('error', () => {})
    // Keepalives: a listening connection is idle, and a dead peer would otherwise go unnoticed.
    this.listener = new EventListener({...connection, application_name: 'modelreg events', keepAlive: true})
  }

  watchEvents(onWake: () => void): EventWatch {
    return this.listener.watch(onWake)
  }

  /**
   * The statement as node-postgres sends it. Statements the engine runs again and again are
   * named, so each connection parses and plans them once (PostgreSQL's plan cache) instead of
   * on every call: much of a short read's time on the server side. Reads only (the latency that
   * matters); writes build texts per call (an insert of N points). Past MAX_NAMED texts (filters
   * make new ones), new texts go unnamed.
   */
  private query(statement: SqlStatement, named: boolean): pg.QueryConfig {
    const text = numberPlaceholders(statement.sql)
    if (!named) return {text, values: statement.params}
    let name = this.names.get(statement.sql)
    if (name === undefined && this.names.size < MAX_NAMED) {
      name = `mr${this.generation}_${this.names.size}`
      this.names.set(statement.sql, name)
    }
    return name === undefined ? {text, values: statement.params} : {name, text, values: statement.params}
  }

  /**
   * A prepared statement can fail once the schema under it changed ("cached plan must not
   * change result type", after another replica migrated): name every statement afresh.
   */
  private forgetPrepared(error: unknown): void {
    if ((error as {code?: string}).code !== '0A000') return
    this.names.clear()
    this.generation++
  }

  private execute(client: pg.PoolClient, statement: SqlStatement, named = false): Promise<unknown> {
    return client.query(this.query(statement, named)).then((result) => {
      switch (statement.kind) {
        case 'get':
          return result.rows[0]
        case 'all':
          return result.rows
        case 'run':
          return result.rowCount ?? 0
      }
    })
  }

  private async connect(what: string): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect()
    } catch (error) {
      throw translatePgError(error, what, this.url)
    }
  }

  async peek<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
    return (await this.peekAll<T>(sql, ...params))[0]
  }

  async peekAll<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.pool.query(this.query({kind: 'all', sql, params}, true))).rows as T[]
      } catch (error) {
        this.forgetPrepared(error)
        if ((error as {code?: string}).code === '0A000' && attempt === 1) continue
        throw translatePgError(error, 'reading the registry', this.url)
      }
    }
  }

  async read<T>(body: () => Task<T>): Promise<T> {
    let client: pg.PoolClient
    let result: T
    for (let attempt = 1; ; attempt++) {
      client = await this.connect('reading the registry')
      try {
        result = await this.transaction(client, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', body, true)
        break
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        client.release()
        this.forgetPrepared(error)
        if ((error as {code?: string}).code === '0A000' && attempt === 1) continue
        throw translatePgError(error, 'reading the registry', this.url)
      }
    }
    // A read-only transaction has nothing to commit that could fail: answer now, and give the
    // connection back to the pool once COMMIT is through (a round trip off every read's path).
    client.query('COMMIT').then(
      () => client.release(),
      (error: Error) => client.release(error),
    )
    return result
  }

  /**
   * BEGIN and the task's statements. The connection pipelines: BEGIN is not waited for, so it
   * goes out together with the first statement (one round trip fewer); its answer is still
   * checked.
   */
  private async transaction<T>(client: pg.PoolClient, begin: string, body: () => Task<T>, named: boolean): Promise<T> {
    const begun = client.query(begin)
    const [, result] = await Promise.all([begun, runAsync(body(), (statement) => this.execute(client, statement, named))])
    return result
  }

  async write<T>(what: string, body: () => Task<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect(what)
      try {
        const result = await this.transaction(client, 'BEGIN', body, false)
        await client.query('COMMIT')
        return result
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        this.forgetPrepared(error)
        const code = (error as {code?: string}).code
        if (code && (RETRY_STATES.has(code) || (code === '0A000' && attempt === 1)) && attempt < MAX_ATTEMPTS) {
          await sleep(Math.random() * 5 * attempt)
          continue
        }
        throw translatePgError(error, what, this.url)
      } finally {
        client.release()
      }
    }
  }

  /** Apply the migrations this database lacks, one replica at a time (an advisory lock). */
  async migrate(): Promise<{applied: number[]}> {
    const client = await this.connect('migrating the registry database')
    const applied: number[] = []
    try {
      if (this.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${checkedSchema(this.schema)}`)
      await client.query("SELECT pg_advisory_lock(hashtext(current_schema() || ' modelreg migrations'))")
      try {
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
        const done = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((r: {version: number}) => r.version))
        const newest = Math.max(0, ...done)
        if (newest > PG_SCHEMA_VERSION) {
          throw new RegistryError(
            'internal',
            `the database at ${describeDatabase(this.url)} is at schema version ${newest}, newer than this modelreg understands (${PG_SCHEMA_VERSION}); upgrade modelreg`,
          )
        }
        for (const migration of PG_MIGRATIONS) {
          if (done.has(migration.version)) continue
          await client.query('BEGIN')
          try {
            await client.query(migration.sql)
            await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, new Date().toISOString()])
            await client.query('COMMIT')
          } catch (error) {
            await client.query('ROLLBACK').catch(() => {})
            throw error
          }
          applied.push(migration.version)
        }
      } finally {
        await client.query("SELECT pg_advisory_unlock(hashtext(current_schema() || ' modelreg migrations'))").catch(() => {})
      }
    } catch (error) {
      throw translatePgError(error, 'migrating the registry database', this.url)
    } finally {
      client.release()
    }
    return {applied}
  }

  /** Refuse a schema this modelreg does not know (newer), or one not migrated yet. */
  async checkSchema(): Promise<void> {
    const client = await this.connect('opening the registry database')
    try {
      const exists = (await client.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")).rows[0].present
      const newest = exists ? Number((await client.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations')).rows[0].v) : 0
      if (newest > PG_SCHEMA_VERSION) {
        throw new RegistryError('internal', `the database at ${describeDatabase(this.url)} is at schema version ${newest}, newer than this modelreg understands (${PG_SCHEMA_VERSION}); upgrade modelreg`)
      }
      if (newest < PG_SCHEMA_VERSION) {
        throw new RegistryError('unavailable', `the database at ${describeDatabase(this.url)} is at schema version ${newest}, this modelreg needs ${PG_SCHEMA_VERSION}: run modelreg server migrate`)
      }
    } catch (error) {
      throw translatePgError(error, 'opening the registry database', this.url)
    } finally {
      client.release()
    }
  }

  async close(): Promise<void> {
    await this.listener.close()
    await this.pool.end()
  }
}

/** A schema name: plain lower-case letters, digits and underscores (it travels in a startup option). */
export function checkedSchema(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new RegistryError('invalid_argument', `invalid schema name ${JSON.stringify(name)}: use lower-case letters, digits and _`)
  return name
}
