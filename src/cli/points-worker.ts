/**
 * Reads and parses an NDJSON file of metric points on its own thread, so that parsing the next
 * chunk overlaps with the main thread writing the last one. At most IN_FLIGHT chunks wait for
 * the main thread at any time: memory stays flat whatever the file's size.
 */
import {createReadStream} from 'node:fs'
import {parentPort, workerData} from 'node:worker_threads'
import {isJsonObject} from '../backends/validation.js'
import {splitLineChunks} from '../protocol/lines.js'
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
    const points: unknown[] = []
    for (const line of lines) {
      n++
      if (line.trim() === '') continue
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch {
        parentPort?.postMessage({error: {message: `${label} line ${n}: not valid JSON`}})
        return
      }
      if (!isJsonObject(value)) {
        parentPort?.postMessage({error: {message: `${label} line ${n}: expected an object like {"name": "loss", "value": 0.3, "step": 1}`}})
        return
      }
      points.push(value)
    }
    while (credits === 0) await new Promise<void>((resolve) => (wake = resolve))
    wake = null
    credits--
    const columns = encoder.encode(points)
    parentPort?.postMessage({columns}, [columns.name.buffer, columns.split.buffer, columns.step.buffer, columns.value.buffer] as ArrayBuffer[])
  }
  parentPort?.postMessage({done: true})
}

main().catch((error: NodeJS.ErrnoException) => parentPort?.postMessage({error: {message: error.message, code: error.code}}))
