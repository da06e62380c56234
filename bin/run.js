#!/usr/bin/env node
import {setFlagsFromString} from 'node:v8'
import {execute} from '../dist/bundle/main.js'

// undici parses HTTP with a WebAssembly module; V8's optimizing tier compiles it with about
// 36 MB of transient memory, twice the rest of the CLI. The baseline tier parses as fast for
// this (bodies pass through untouched) and keeps the client's peak memory low.
setFlagsFromString('--liftoff-only')

/**
 * Global flags typed before the command (`modelreg -p team-a models`, `modelreg --profile team
 * verify`), as git, kubectl and det users type them: moved after it, where oclif reads them.
 */
function globalFlagsLast(argv) {
  const moved = []
  let i = 0
  for (; i < argv.length; i++) {
    const word = argv[i]
    if ((word === '-p' || word === '--project' || word === '--profile') && i + 1 < argv.length) moved.push(word, argv[++i])
    else if (/^(--project=|--profile=|-p.)/.test(word) || ['--json', '--color', '--no-color'].includes(word)) moved.push(word)
    else break
  }
  if (moved.length === 0 || i === argv.length) return argv
  const rest = argv.slice(i)
  const end = rest.indexOf('--')
  return end === -1 ? [...rest, ...moved] : [...rest.slice(0, end), ...moved, ...rest.slice(end)]
}

await execute({dir: import.meta.url, args: globalFlagsLast(process.argv.slice(2))})
