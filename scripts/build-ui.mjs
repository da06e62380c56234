#!/usr/bin/env node
/**
 * Builds the web UI's bundle (ui-src/) into dist/ui/assets/: app.js (our code and uPlot, one
 * minified file) and app.css (uPlot's styles and ours). No CDN: the package ships both files.
 * Prints their sizes, gzipped too. Run by `npm run build`; `--watch` rebuilds on change;
 * `--out=DIR` writes elsewhere.
 */
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {gzipSync} from 'node:zlib'
import * as esbuild from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
// --out=DIR builds elsewhere (the browser tests build their own copy).
const outArg = process.argv.find((a) => a.startsWith('--out='))
const out = outArg ? outArg.slice(6) : join(root, 'dist', 'ui', 'assets')
const require = createRequire(import.meta.url)

const jsOptions = {
  entryPoints: [join(root, 'ui-src', 'app.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'none',
  logLevel: 'warning',
}

async function buildCss() {
  const uplotCss = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8')
  const ours = readFileSync(join(root, 'ui-src', 'app.css'), 'utf8')
  const {code} = await esbuild.transform(`${uplotCss}\n${ours}`, {loader: 'css', minify: true, legalComments: 'none'})
  writeFileSync(join(out, 'app.css'), code)
}

function report() {
  for (const name of ['app.js', 'app.css']) {
    const bytes = readFileSync(join(out, name))
    process.stdout.write(`${join(out, name)}: ${(bytes.length / 1024).toFixed(1)} KB, ${(gzipSync(bytes, {level: 9}).length / 1024).toFixed(1)} KB gzipped\n`)
  }
}

mkdirSync(out, {recursive: true})
if (process.argv.includes('--watch')) {
  const context = await esbuild.context({...jsOptions, plugins: [{name: 'css', setup: (b) => b.onEnd(() => buildCss().then(report))}]})
  await context.watch()
} else {
  await esbuild.build(jsOptions)
  await buildCss()
  report()
}
