/** The worker of StreamHasher: hashes slots of shared memory in the order they are handed over. */
import {createHash, type Hash} from 'node:crypto'
import {parentPort} from 'node:worker_threads'
import type {HashAnswer, HashRequest} from './stream-hasher.js'

let slots: Buffer[] = []
let hash: Hash | null = null

parentPort?.on('message', (m: HashRequest | {memory: SharedArrayBuffer; slotBytes: number}) => {
  if ('memory' in m) {
    slots = Array.from({length: m.memory.byteLength / m.slotBytes}, (_, i) => Buffer.from(m.memory, i * m.slotBytes, m.slotBytes))
    return
  }
  if ('digest' in m) {
    const digest = (hash ?? createHash('sha256')).digest('hex')
    hash = null
    parentPort?.postMessage({digest} satisfies HashAnswer)
    return
  }
  ;(hash ??= createHash('sha256')).update(slots[m.slot].subarray(0, m.length))
  parentPort?.postMessage({slot: m.slot} satisfies HashAnswer)
})
