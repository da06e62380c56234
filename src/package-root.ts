/**
 * Files of the built package, found from wherever this code runs: dist/ (tsc's output, the
 * library), dist/bundle/ (the CLI, bundled by scripts/build-cli.mjs into chunks at other depths)
 * or src/ (the tests). Worker scripts and the web UI's assets are always read from dist/.
 */
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

let root: string | undefined

/** The directory that holds modelreg's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root
  const start = dirname(fileURLToPath(import.meta.url))
  let dir = start
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error(`modelreg's package.json was not found above ${start}`)
    dir = up
  }
  root = dir
  return root
}

/** A path under the package's dist/ directory. */
export const distPath = (...parts: string[]): string => join(packageRoot(), 'dist', ...parts)
