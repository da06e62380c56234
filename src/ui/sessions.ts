/**
 * Sign-in for the UI. A browser keeps its credential in one cookie (HttpOnly, SameSite=Strict,
 * Path=/, Secure over TLS), never in a URL or in script-readable storage. On a server the cookie
 * holds the API token the person typed into the login form, checked like a Bearer token on every
 * request (so a revocation takes effect at once, on every replica). `modelreg ui` has no token
 * database: it prints a URL with a one-time code, which the first request exchanges for a random
 * session secret kept in this process's memory (as Jupyter does); the code is then spent.
 */
import {createHash, randomBytes} from 'node:crypto'
import type {TokenInfo} from '../server/tokens.js'

export const COOKIE_NAME = 'modelreg_session'

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex')

export class UiSessions {
  /** What the login form tells a person who has no sign-in (null: paste a server token). */
  constructor(readonly signInHint: string | null = null) {}

  private readonly codes = new Map<string, TokenInfo>()
  private readonly sessions = new Map<string, TokenInfo>()

  /** A one-time code that signs a browser in as `who` (read-only pages: the scope is read). */
  createCode(who: TokenInfo): string {
    const code = randomBytes(24).toString('base64url')
    this.codes.set(hashOf(code), who)
    return code
  }

  /** Spend a code: a new session secret, or null when the code is unknown or already used. */
  redeem(code: string): string | null {
    if (!/^[A-Za-z0-9_-]{16,128}$/.test(code)) return null
    const key = hashOf(code)
    const who = this.codes.get(key)
    if (!who) return null
    this.codes.delete(key)
    const secret = `ms_${randomBytes(32).toString('base64url')}`
    this.sessions.set(hashOf(secret), who)
    return secret
  }

  lookup(secret: string): TokenInfo | null {
    if (!secret.startsWith('ms_')) return null
    return this.sessions.get(hashOf(secret)) ?? null
  }

  end(secret: string): void {
    this.sessions.delete(hashOf(secret))
  }
}

/** A synthetic identity for `modelreg ui`'s single user. */
export function localViewer(name: string): TokenInfo {
  return {id: 0, name, scope: 'read', project: null, prefix: 'ms_', created_at: new Date().toISOString(), last_used_at: null, revoked_at: null}
}

/** The value of one cookie in a Cookie header, or null. */
export function readCookie(header: string | string[] | undefined, name: string): string | null {
  if (typeof header !== 'string') return null
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim()
      return value.length > 0 && value.length <= 256 ? value : null
    }
  }
  return null
}

export function sessionCookie(value: string, secure: boolean): string {
  return `${COOKIE_NAME}=${value}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`
}

export function clearedCookie(secure: boolean): string {
  return `${COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`
}
