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

const TAIL_STEP = 8 * 1024 * 1024

/**
 * Hashes a file on a worker thread while this thread writes it: after each write, `written(n)`
 * says the file is whole up to byte n; `finish(n)` answers with the digest of bytes 0..n. What
 * is hashed is read back from the file (the page cache), so the bytes checked are the bytes
 * written, and the thread that receives them does not also spend a core on sha256. A download
 * of 1 GiB hashes about 0.75 s here that this thread no longer spends.
 */
export class FileTailHasher {
  private readonly worker: Worker
  private posted = 0
  private readonly result: Promise<{digest: string; bytes: number}>

  /** A hasher, or null when the worker script is missing (no built dist/): hash in-thread then. */
  static start(path: string): FileTailHasher | null {
    return existsSync(tailWorker()) ? new FileTailHasher(path) : null
  }

  private constructor(path: string) {
    this.worker = new Worker(tailWorker(), {workerData: {path}, resourceLimits: {maxYoungGenerationSizeMb: 4}})
    this.result = new Promise((resolve, reject) => {
      this.worker.once('message', (message: {digest?: string; bytes?: number; error?: {code?: string; message: string}}) => {
        if (message.error) reject(fromFsError(Object.assign(new Error(message.error.message), {code: message.error.code}), path))
        else resolve({digest: message.digest!, bytes: message.bytes!})
      })
      this.worker.once('error', reject)
    })
    this.result.catch(() => {}) // seen by finish()
  }

  /** The file is written up to byte `n` (told to the worker every 8 MiB). */
  written(n: number): void {
    if (n - this.posted < TAIL_STEP) return
    this.posted = n
    this.worker.postMessage({written: n})
  }

  /** The digest of bytes 0..n, once the worker has read them; the worker then ends. */
  async finish(n: number): Promise<{digest: string; bytes: number}> {
    this.worker.postMessage({written: n, end: true})
    try {
      return await this.result
    } finally {
      await this.worker.terminate()
    }
  }

  /** Stop without a result (the download failed). */
  stop(): void {
    void this.worker.terminate()
  }
}

const tailWorker = (): string => distPath('backends', 'tail-hash-worker.js')
