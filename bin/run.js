#!/usr/bin/env node
import {setFlagsFromString} from 'node:v8'
import {execute} from '@oclif/core/execute'

// undici parses HTTP with a WebAssembly module; V8's optimizing tier compiles it with about
// 36 MB of transient memory, twice the rest of the CLI. The baseline tier parses as fast for
// this (bodies pass through untouched) and keeps the client's peak memory low.
setFlagsFromString('--liftoff-only')

await execute({dir: import.meta.url})
