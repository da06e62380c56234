/**
 * The CLI runs from dist/bundle/ (scripts/build-cli.mjs), where a module's own location is a
 * chunk's: paths relative to import.meta.url would point nowhere, and a worker that is not
 * found is silently replaced by hashing on the main thread. Files are found from the package
 * root instead (src/package-root.ts); this checks that nothing in the bundle does otherwise and
 * that the worker scripts the code starts are there.
 */
import {readdirSync, readFileSync, statSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {expect, it} from 'vitest'
import {distPath} from '../../src/package-root.js'

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? jsFiles(path) : name.endsWith('.js') ? [path] : []
  })
}

it('the bundle resolves no file relative to its own chunk (new URL("./…", import.meta.url))', () => {
  const offenders = jsFiles(distPath('bundle')).filter((file) => /new URL\(\s*["'`]\.{1,2}\//.test(readFileSync(file, 'utf8')))
  expect(offenders).toEqual([])
})

it('the worker scripts the code starts are built where distPath looks for them', () => {
  for (const worker of [['backends', 'hash-worker.js'], ['backends', 'stream-hash-worker.js'], ['cli', 'points-worker.js']]) {
    expect(existsSync(distPath(...worker)), worker.join('/')).toBe(true)
  }
})
