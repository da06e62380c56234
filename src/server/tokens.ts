/**
 * Bearer tokens: shown once at creation, stored only as a sha256 hash, compared in constant
 * time, checked per project and per action, deny by default.
 */
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import {mkdirSync} from 'node:fs'
import type {Statement} from 'better-sqlite3'
import {join} from 'node:path'
import {alreadyExists, fromFsError, invalid, notFound} from '../backends/errors.js'
import {type Db, openDatabase, writeTransaction} from '../backends/local/database.js'
import type {Migration} from '../backends/local/migrations.js'
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

const TOKEN_MIGRATIONS: readonly Migration[] = [
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

export class TokenStore {
  private readonly db: Db
  private readonly cache = new Map<string, {info: TokenInfo; lastUsed: number}>()
  private cacheVersion = -1
  private dataVersionStatement?: Statement

  constructor(dataDir: string) {
    try {
      mkdirSync(dataDir, {recursive: true, mode: 0o700})
    } catch (error) {
      throw fromFsError(error, `creating the data directory ${dataDir}`)
    }
    this.db = openDatabase(join(dataDir, 'tokens.db'), {migrations: TOKEN_MIGRATIONS, what: 'token'})
  }

  close(): void {
    if (this.db.open) this.db.close()
  }

  private get dataVersion(): Statement {
    this.dataVersionStatement ??= this.db.prepare('PRAGMA data_version').pluck()
    return this.dataVersionStatement
  }

  create(name: string, scope: string, project: string | null): {token: string; info: TokenInfo} {
    validateName('project', name) // token names follow the same rules
    if (!(SCOPES as readonly string[]).includes(scope)) throw invalid(`scope must be one of ${SCOPES.join(', ')}, not ${quote(scope)}`)
    if (project !== null) validateName('project', project)
    const token = `mr_${randomBytes(32).toString('base64url')}`
    return writeTransaction(this.db, 'creating a token', () => {
      if (this.db.prepare('SELECT 1 FROM tokens WHERE name_key = ? AND revoked_at IS NULL').get(nameKey(name))) {
        throw alreadyExists(`a token named ${quote(name)} already exists; revoke it first or pick another name`)
      }
      const info = this.db
        .prepare('INSERT INTO tokens (name, name_key, hash, prefix, scope, project, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id')
        .get(name, nameKey(name), hashOf(token), token.slice(0, 7), scope, project, new Date().toISOString()) as {id: number}
      this.cache.clear()
      return {token, info: this.get(info.id)}
    })
  }

  private get(id: number): TokenInfo {
    return this.db.prepare('SELECT id, name, scope, project, prefix, created_at, last_used_at, revoked_at FROM tokens WHERE id = ?').get(id) as TokenInfo
  }

  list(): TokenInfo[] {
    return this.db.prepare('SELECT id, name, scope, project, prefix, created_at, last_used_at, revoked_at FROM tokens ORDER BY id').all() as TokenInfo[]
  }

  revoke(nameOrId: string): TokenInfo {
    return writeTransaction(this.db, 'revoking a token', () => {
      const row = (/^[0-9]+$/.test(nameOrId)
        ? this.db.prepare('SELECT id FROM tokens WHERE id = ? AND revoked_at IS NULL').get(Number(nameOrId))
        : this.db.prepare('SELECT id FROM tokens WHERE name_key = ? AND revoked_at IS NULL').get(nameKey(nameOrId))) as {id: number} | undefined
      if (!row) throw notFound(`no active token ${quote(nameOrId)}`)
      this.db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ?').run(new Date().toISOString(), row.id)
      this.cache.clear()
      return this.get(row.id)
    })
  }

  /**
   * The active token this secret belongs to, or null. Every request asks, so answers are kept
   * in memory for as long as the token database is unchanged: SQLite's data_version moves
   * whenever another connection (a `server tokens revoke` from another process) commits, and
   * this store's own writes clear the cache, so a revocation takes effect on the next request.
   */
  authenticate(secret: string): TokenInfo | null {
    if (!/^mr_[A-Za-z0-9_-]{43}$/.test(secret)) return null
    const version = this.dataVersion.get() as number
    if (version !== this.cacheVersion) {
      this.cache.clear()
      this.cacheVersion = version
    }
    // Keyed by the secret itself (held in memory by every request anyway), to skip the hash;
    // only secrets that matched an active token are kept.
    let entry = this.cache.get(secret)
    if (!entry) {
      const digest = hashOf(secret)
      const row = this.db.prepare('SELECT id, hash FROM tokens WHERE hash = ? AND revoked_at IS NULL').get(digest) as {id: number; hash: string} | undefined
      if (!row || !timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(digest, 'hex'))) return null
      const info = this.get(row.id)
      entry = {info, lastUsed: info.last_used_at ? Date.parse(info.last_used_at) : 0}
      this.cache.set(secret, entry)
    }
    const now = Date.now()
    // Record use, at most once a minute per token, so reads do not turn into writes.
    if (now - entry.lastUsed > 60_000) {
      entry.lastUsed = now
      try {
        this.db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(new Date(now).toISOString(), entry.info.id)
      } catch {
        // busy: the next request records it
      }
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
