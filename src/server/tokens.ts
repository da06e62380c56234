/**
 * Bearer tokens: shown once at creation, stored only as a sha256 hash, compared in constant
 * time, checked per project and per action, deny by default.
 */
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import {mkdirSync} from 'node:fs'
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
      return this.get(row.id)
    })
  }

  /** The active token this secret belongs to, or null. */
  authenticate(secret: string): TokenInfo | null {
    if (!/^mr_[A-Za-z0-9_-]{43}$/.test(secret)) return null
    const digest = hashOf(secret)
    const row = this.db.prepare('SELECT id, hash, last_used_at FROM tokens WHERE hash = ? AND revoked_at IS NULL').get(digest) as
      | {id: number; hash: string; last_used_at: string | null}
      | undefined
    if (!row || !timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(digest, 'hex'))) return null
    const now = new Date()
    // Record use, at most once a minute per token, so reads do not turn into writes.
    if (!row.last_used_at || now.getTime() - Date.parse(row.last_used_at) > 60_000) {
      try {
        this.db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(now.toISOString(), row.id)
      } catch {
        // busy: the next request records it
      }
    }
    return this.get(row.id)
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
