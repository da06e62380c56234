/**
 * Reads and parses an NDJSON file of metric points on its own thread, so that parsing the next
 * chunk overlaps with the main thread writing the last one. At most IN_FLIGHT chunks wait for
 * the main thread at any time: memory stays flat whatever the file's size.
 */
import {createReadStream} from 'node:fs'
import {parentPort, workerData} from 'node:worker_threads'
import {parsePointLines, splitLineChunks} from '../protocol/lines.js'
import {PointEncoder} from './points-codec.js'

const IN_FLIGHT = 2
const {file, label} = workerData as {file: string; label: string}
let credits = IN_FLIGHT
let wake: (() => void) | null = null
parentPort?.on('message', () => {
  credits++
  wake?.()
})

async function main(): Promise<void> {
  const encoder = new PointEncoder()
  let n = 0
  for await (const lines of splitLineChunks(createReadStream(file, {highWaterMark: 256 * 1024}))) {
    let points
    try {
      points = parsePointLines(lines, n, {label})
    } catch (error) {
      parentPort?.postMessage({error: {message: (error as Error).message}})
      return
    }
    n += lines.length
    while (credits === 0) await new Promise<void>((resolve) => (wake = resolve))
    wake = null
    credits--
    const columns = encoder.encode(points)
    parentPort?.postMessage({columns}, [columns.name.buffer, columns.split.buffer, columns.step.buffer, columns.value.buffer] as ArrayBuffer[])
  }
  parentPort?.postMessage({done: true})
}

main().catch((error: NodeJS.ErrnoException) => parentPort?.postMessage({error: {message: error.message, code: error.code}}))
