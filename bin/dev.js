#!/usr/bin/env node
// Development entry: recompile src/ (incremental), re-bundle the CLI (scripts/build-cli.mjs) and
// run it without the cached manifest, so a new or renamed command is picked up without
// `npm run build`.
import {spawnSync} from 'node:child_process'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const built = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--incremental', '--tsBuildInfoFile', join(root, 'dist', '.dev.tsbuildinfo')], {stdio: 'inherit'})
if (built.status !== 0) process.exit(built.status ?? 1)
const bundled = spawnSync(process.execPath, [join(root, 'scripts', 'build-cli.mjs')], {stdio: 'inherit'})
if (bundled.status !== 0) process.exit(bundled.status ?? 1)

const {execute} = await import('../dist/bundle/main.js')
await execute({dir: import.meta.url, loadOptions: {root, ignoreManifest: true}})
