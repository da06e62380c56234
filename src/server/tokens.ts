/**
 * Bearer tokens: shown once at creation, stored only as a sha256 hash, compared in constant
 * time, checked per project and per action, deny by default.
 */
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import {join} from 'node:path'
import {alreadyExists, invalid, notFound} from '../backends/errors.js'
import type {Migration} from '../backends/local/migrations.js'
import {SqliteDriver, Store} from '../backends/local/store.js'
import type {SqlDriver} from '../backends/sql/driver.js'
import {all, get, run} from '../backends/sql/task.js'
import {nameKey, quote, validateName} from '../backends/validation.js'
import type {Action} from '../protocol/routes.js'

export const SCOPES = ['read', 'write', 'admin'] as const
export type Scope = (typeof SCOPES)[number]

export interface TokenInfo {
  id: number
  name: string
  scope: Scope
  /** The only project the token may touch, or null for all. */
  project: string | null
  /** The first characters of the token, to recognise it. */
  prefix: string
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

export const TOKEN_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tokens',
    sql: `
      CREATE TABLE tokens (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL,
        name_key     TEXT NOT NULL,
        hash         TEXT NOT NULL UNIQUE,
        prefix       TEXT NOT NULL,
        scope        TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
        project      TEXT,
        created_at   TEXT NOT NULL,
        last_used_at TEXT,
        revoked_at   TEXT
      );
      CREATE UNIQUE INDEX tokens_active_name ON tokens(name_key) WHERE revoked_at IS NULL;
    `,
  },
]

const RANK: Record<Scope, number> = {read: 1, write: 2, admin: 3}
const hashOf = (token: string) => createHash('sha256').update(token).digest('hex')
const TOKEN_COLUMNS = 'id, name, scope, project, prefix, created_at, last_used_at, revoked_at'

/**
 * The server's tokens, in its database: tokens.db beside a SQLite store, or the registry's own
 * PostgreSQL database (so every replica sees a revocation at once). One set of rules (tasks,
 * see backends/sql/task.ts) for both.
 */
export class TokenStore {
  private readonly cache = new Map<string, {info: TokenInfo; lastUsed: number}>()
  private cacheStamp: string | null = null

  constructor(
    private readonly driver: SqlDriver,
    /** Changes whenever the tokens may have (a cheap check); null: look every token up every time. */
    private readonly stamp: () => string | null | Promise<string | null> = () => null,
  ) {}

  /** tokens.db in a server's data directory. */
  static inDirectory(dataDir: string): TokenStore {
    const store = Store.openFile(join(dataDir, 'tokens.db'), {migrations: TOKEN_MIGRATIONS, what: 'token'})
    const dataVersion = store.db.prepare('PRAGMA data_version').pluck()
    return new TokenStore(new SqliteDriver(store), () => String(dataVersion.get()))
  }

  close(): Promise<void> {
    return this.driver.close()
  }

  async create(name: string, scope: string, project: string | null): Promise<{token: string; info: TokenInfo}> {
    validateName('project', name) // token names follow the same rules
    if (!(SCOPES as readonly string[]).includes(scope)) throw invalid(`scope must be one of ${SCOPES.join(', ')}, not ${quote(scope)}`)
    if (project !== null) validateName('project', project)
    const token = `mr_${randomBytes(32).toString('base64url')}`
    const info = await this.driver.write('creating a token', function* () {
      if (yield* get('SELECT 1 AS one FROM tokens WHERE name_key = ? AND revoked_at IS NULL', nameKey(name))) {
        throw alreadyExists(`a token named ${quote(name)} already exists; revoke it first or pick another name`)
      }
      return (yield* get<TokenInfo>(
        `INSERT INTO tokens (name, name_key, hash, prefix, scope, project, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ${TOKEN_COLUMNS}`,
        name,
        nameKey(name),
        hashOf(token),
        token.slice(0, 7),
        scope,
        project,
        new Date().toISOString(),
      )) as TokenInfo
    })
    this.cache.clear()
    return {token, info}
  }

  list(): Promise<TokenInfo[]> {
    return this.driver.read(() => all<TokenInfo>(`SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY id`))
  }

  async revoke(nameOrId: string): Promise<TokenInfo> {
    const info = await this.driver.write('revoking a token', function* () {
      const row = /^[0-9]+$/.test(nameOrId)
        ? yield* get<{id: number}>('SELECT id FROM tokens WHERE id = ? AND revoked_at IS NULL', Number(nameOrId))
        : yield* get<{id: number}>('SELECT id FROM tokens WHERE name_key = ? AND revoked_at IS NULL', nameKey(nameOrId))
      if (!row) throw notFound(`no active token ${quote(nameOrId)}`)
      return (yield* get<TokenInfo>(`UPDATE tokens SET revoked_at = ? WHERE id = ? RETURNING ${TOKEN_COLUMNS}`, new Date().toISOString(), row.id)) as TokenInfo
    })
    this.cache.clear()
    return info
  }

  /**
   * The active token this secret belongs to, or null. Every request asks, so answers are kept
   * in memory for as long as the token database is unchanged: SQLite's data_version moves
   * whenever another connection (a `server tokens revoke` from another process) commits, and
   * PostgreSQL's `tokens` counter whenever any replica or command creates, revokes or removes a
   * token (a trigger, migration 3). Either way a revocation takes effect on the next request.
   */
  async authenticate(secret: string): Promise<TokenInfo | null> {
    if (!/^mr_[A-Za-z0-9_-]{43}$/.test(secret)) return null
    const stamp = await this.stamp()
    if (stamp === null || stamp !== this.cacheStamp) {
      this.cache.clear()
      this.cacheStamp = stamp
    }
    // Keyed by the secret itself (held in memory by every request anyway), to skip the hash;
    // only secrets that matched an active token are kept.
    let entry = this.cache.get(secret)
    if (!entry) {
      const digest = hashOf(secret)
      const row = await this.driver.read(() => get<TokenInfo & {hash: string}>(`SELECT ${TOKEN_COLUMNS}, hash FROM tokens WHERE hash = ? AND revoked_at IS NULL`, digest))
      if (!row || !timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(digest, 'hex'))) return null
      const {hash: _hash, ...info} = row
      entry = {info, lastUsed: info.last_used_at ? Date.parse(info.last_used_at) : 0}
      if (stamp !== null) this.cache.set(secret, entry)
    }
    const now = Date.now()
    // Record use, at most once a minute per token, so reads do not turn into writes.
    if (now - entry.lastUsed > 60_000) {
      entry.lastUsed = now
      const id = entry.info.id
      await this.driver.write('recording token use', () => run('UPDATE tokens SET last_used_at = ? WHERE id = ?', new Date(now).toISOString(), id)).catch(() => {
        // busy: the next request records it
      })
    }
    return entry.info
  }
}

/** Whether a token's scope allows an action (deny by default). */
export function scopeAllows(scope: Scope, action: Action): boolean {
  if (action === 'public') return true
  if (action === 'read') return RANK[scope] >= RANK.read
  if (action === 'write') return RANK[scope] >= RANK.write
  if (action === 'admin') return RANK[scope] >= RANK.admin
  return false
}

/** Whether a token may touch a project. */
export function projectAllows(token: TokenInfo, project: string | null | undefined): boolean {
  if (token.project === null) return true
  return project !== null && project !== undefined && nameKey(project) === nameKey(token.project)
}
