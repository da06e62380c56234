#!/usr/bin/env node
/**
 * Bundles the CLI for start-up time: the entry (oclif's execute), every command and hook from
 * tsc's output in dist/, into dist/bundle/ with esbuild. Each command stays its own file (the
 * oclif manifest points at them, and a command loads only what it imports); code that several
 * share, oclif included, goes into shared chunks, so a command loads a handful of files instead
 * of a hundred modules through Node's ESM loader. Lazy imports stay lazy (their own chunks).
 * The library (dist/index.js), the worker scripts and the web UI are tsc's files, unbundled.
 * Run by `npm run build` after tsc and before `oclif manifest`.
 */
import {readdirSync, rmSync, statSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import * as esbuild from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const out = join(dist, 'bundle')

// The help class (package.json's oclif.helpClass) shares the bundle's oclif, loaded only for help.
const entryPoints = {main: join(dist, 'cli', 'entry.js'), 'cli/help': join(dist, 'cli', 'help.js')}
function addTree(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) addTree(path)
    else if (name.endsWith('.js')) entryPoints[relative(dist, path).slice(0, -3)] = path
  }
}
addTree(join(dist, 'commands'))
addTree(join(dist, 'hooks'))

rmSync(out, {recursive: true, force: true})
await esbuild.build({
  entryPoints,
  outdir: out,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Whitespace and syntax only: names stay, so stack traces and error names read as in the source.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  // better-sqlite3 loads a native addon; typescript and ts-node are oclif's optional development
  // dependencies (it requires them only to run .ts commands), never used by the package.
  external: ['better-sqlite3', 'typescript', 'ts-node'],
  // oclif and other CommonJS dependencies call require(); ESM output needs a real one.
  banner: {js: "import {createRequire as __modelregCreateRequire} from 'node:module'; const require = __modelregCreateRequire(import.meta.url);"},
  logLevel: 'warning',
})
