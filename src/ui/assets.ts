/**
 * Static files for the UI: the browser bundle esbuild writes to dist/ui/assets/ (app.js, app.css,
 * source maps), and the base stylesheet, which lives in this module so that pages are styled
 * even without the bundle. Names are one plain path segment (no directory traversal); a file is
 * read once and kept while its size and mtime are unchanged.
 */
import {createHash} from 'node:crypto'
import {readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {distPath} from '../package-root.js'
import {BASE_CSS} from './base-css.js'

/** dist/ui/assets, wherever this module runs from (src/ in tests, dist/, the CLI bundle). */
export const defaultAssetDir = (): string => distPath('ui', 'assets')

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

export interface Asset {
  body: Buffer
  type: string
  /** First 16 hex digits of the content's sha256: the `?v=` of links, and the ETag. */
  hash: string
}

function typeOf(name: string): string | null {
  const dot = name.lastIndexOf('.')
  return dot > 0 ? (TYPES[name.slice(dot).toLowerCase()] ?? null) : null
}

function hashOf(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 16)
}

export class AssetFiles {
  private readonly cache = new Map<string, {key: string; asset: Asset}>()
  private readonly base: Asset

  constructor(readonly dir: string = process.env.MODELREG_UI_ASSETS ?? defaultAssetDir()) {
    const body = Buffer.from(BASE_CSS)
    this.base = {body, type: TYPES['.css'], hash: hashOf(body)}
  }

  /** The file served at /assets/NAME, or null (a bad name or a missing file are alike). */
  get(name: string): Asset | null {
    if (name === 'base.css') return this.base
    if (!NAME_RE.test(name) || name.includes('..')) return null
    const type = typeOf(name)
    if (!type) return null
    const file = join(this.dir, name)
    let key: string
    try {
      const stat = statSync(file)
      if (!stat.isFile()) return null
      key = `${stat.size}:${stat.mtimeMs}`
    } catch {
      return null
    }
    const cached = this.cache.get(name)
    if (cached?.key === key) return cached.asset
    let body: Buffer
    try {
      body = readFileSync(file)
    } catch {
      return null
    }
    const asset = {body, type, hash: hashOf(body)}
    this.cache.set(name, {key, asset})
    return asset
  }

  /** A link to an asset that changes whenever its content does (so it can be cached for good), or null when it is missing. */
  href(name: string): string | null {
    const asset = this.get(name)
    return asset ? `/assets/${name}?v=${asset.hash}` : null
  }
}
