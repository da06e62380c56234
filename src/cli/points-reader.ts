/**
 * NDJSON metric points from a file or stdin, streamed (never read whole), an array per chunk.
 * A large file is read and parsed on a worker thread while the main thread writes what came
 * before (parsing is a fifth of the work, and there are two cores); stdin, a small file, or a
 * run from sources without the compiled worker parse here.
 */
import {existsSync, statSync} from 'node:fs'
import {Worker} from 'node:worker_threads'
import type {MetricPointInput} from '../backends/backend.js'
import {fromFsError, invalid} from '../backends/errors.js'
import {parsePointLines, splitLineChunks} from '../protocol/lines.js'
import {distPath} from '../package-root.js'
import {openInput} from './input.js'
import {PointDecoder, type PointColumns} from './points-codec.js'

const workerScript = (): string => distPath('cli', 'points-worker.js')
const WORTH_A_THREAD_BYTES = 8 * 1024 * 1024

export function readPoints(file: string, label = `--file ${file}`): AsyncIterable<MetricPointInput[]> {
  let size = 0
  if (file !== '-') {
    try {
      size = statSync(file).size
    } catch {
      size = 0 // openInput below reports it
    }
  }
  return size >= WORTH_A_THREAD_BYTES && existsSync(workerScript()) ? readOnWorker(file, label) : readHere(file, label)
}

async function* readHere(file: string, label: string): AsyncIterable<MetricPointInput[]> {
  const input = await openInput(file, '--file')
  let n = 0
  for await (const lines of splitLineChunks(input)) {
    yield parsePointLines(lines, n, {label})
    n += lines.length
  }
}

type Message = {columns: PointColumns} | {done: true} | {error: {message: string; code?: string}}

async function* readOnWorker(file: string, label: string): AsyncIterable<MetricPointInput[]> {
  // A small young generation: the worker's garbage is per chunk, and two full-size heaps would
  // add tens of MB to the peak for nothing.
  const worker = new Worker(workerScript(), {workerData: {file, label}, resourceLimits: {maxYoungGenerationSizeMb: 4}})
  const inbox: Message[] = []
  let wake: (() => void) | null = null
  let failure: Error | null = null
  worker.on('message', (m: Message) => {
    inbox.push(m)
    wake?.()
  })
  worker.on('error', (error) => {
    failure = error
    wake?.()
  })
  const decoder = new PointDecoder()
  try {
    for (;;) {
      while (inbox.length === 0 && !failure) await new Promise<void>((resolve) => (wake = resolve))
      wake = null
      if (failure) throw failure
      const m = inbox.shift() as Message
      if ('done' in m) return
      if ('error' in m) {
        if (m.error.code) throw fromFsError(Object.assign(new Error(m.error.message), {code: m.error.code}), `--file ${file}`)
        throw invalid(m.error.message)
      }
      const points = decoder.decode(m.columns)
      worker.postMessage(1) // room for one more chunk
      yield points
    }
  } finally {
    await worker.terminate()
  }
}
