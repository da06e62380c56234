/**
 * Hashing many files: on worker threads (one per core, at most two here) when there is enough
 * to hash for it to pay, on the main thread otherwise. A single file cannot be hashed in
 * parallel (sha256 is sequential), so a lone file always hashes here.
 */
import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {Worker} from 'node:worker_threads'
import {hashFile} from './digest.js'
import {fromFsError} from './errors.js'
import {mapLimit} from './pool.js'
import {distPath} from '../package-root.js'

const WORTH_IT_BYTES = 64 * 1024 * 1024
const worker = (): string => distPath('backends', 'hash-worker.js')

export interface HashJob {
  path: string
  size: number
}

export async function hashFiles(jobs: HashJob[], onBytes: (n: number) => void): Promise<{digest: string; size: number}[]> {
  const total = jobs.reduce((sum, j) => sum + j.size, 0)
  const threads = Math.min(2, availableParallelism(), jobs.length)
  // The worker is tsc's dist/backends/hash-worker.js; without a built dist/, hash here.
  if (threads < 2 || total < WORTH_IT_BYTES || !existsSync(worker())) {
    return mapLimit(jobs, 1, (job) => hashFile(job.path, onBytes).catch((error) => Promise.reject(fromFsError(error, job.path))))
  }
  const workers = Array.from({length: threads}, () => new Worker(worker()))
  try {
    // Biggest first, so that the two threads finish together.
    const order = jobs.map((job, index) => ({job, index})).sort((a, b) => b.job.size - a.job.size)
    const results = new Array<{digest: string; size: number}>(jobs.length)
    let next = 0
    await Promise.all(
      workers.map(async (worker) => {
        while (next < order.length) {
          const {job, index} = order[next++]
          results[index] = await new Promise((resolve, reject) => {
            const done = () => {
              worker.off('message', onMessage)
              worker.off('error', onError)
            }
            const onError = (error: Error) => {
              done()
              reject(error)
            }
            const onMessage = (m: {id: number; progress?: number; result?: {digest: string; size: number}; error?: {code?: string; message: string}}) => {
              if (m.id !== index) return
              if (m.progress) onBytes(m.progress)
              if (m.error) {
                done()
                reject(fromFsError(Object.assign(new Error(m.error.message), {code: m.error.code}), job.path))
              } else if (m.result) {
                done()
                resolve(m.result)
              }
            }
            worker.on('message', onMessage)
            worker.on('error', onError)
            worker.postMessage({id: index, path: job.path})
          })
        }
      }),
    )
    return results
  } finally {
    await Promise.all(workers.map((w) => w.terminate()))
  }
}
