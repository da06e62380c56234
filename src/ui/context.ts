/** What a page handler gets: the backend as the viewer sees it, the viewer, the URL's parts. */
import type {Backend} from '../backends/backend.js'
import {RegistryError} from '../backends/errors.js'
import {nameKey} from '../backends/validation.js'
import type {PageShell, Viewer} from './layout.js'

export interface PageContext {
  /** Scoped to the viewer's project when the token is limited to one. */
  backend: Backend
  viewer: Viewer
  params: Record<string, string>
  query: URLSearchParams
}

export interface PageResult {
  status?: number
  shell: PageShell
}

export type PageHandler = (ctx: PageContext) => Promise<PageResult>

/** A project-limited viewer touches only its project, as with a Bearer token on the API. */
export function requireProject(ctx: PageContext, project: string): void {
  const limit = ctx.viewer.project
  if (limit !== null && nameKey(limit) !== nameKey(project)) {
    throw new RegistryError('permission_denied', `${ctx.viewer.name ? `token "${ctx.viewer.name}"` : 'this session'} is limited to project "${limit}"`)
  }
}

/** A query parameter's single value (the first, when repeated), trimmed; undefined when empty. */
export function queryValue(query: URLSearchParams, name: string): string | undefined {
  const value = query.get(name)?.trim()
  return value ? value : undefined
}

/** A non-negative integer query parameter, clamped; the default when missing or malformed. */
export function queryInt(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const value = query.get(name)
  if (value === null || !/^\d{1,9}$/.test(value)) return fallback
  return Math.min(Number(value), max)
}
