/** A worker thread that hashes files, so two files hash at once on two cores. */
import {parentPort} from 'node:worker_threads'
import {hashFile} from './digest.js'

const REPORT_EVERY = 16 * 1024 * 1024

parentPort?.on('message', async ({id, path}: {id: number; path: string}) => {
  let unreported = 0
  try {
    const result = await hashFile(path, (n) => {
      unreported += n
      if (unreported >= REPORT_EVERY) {
        parentPort?.postMessage({id, progress: unreported})
        unreported = 0
      }
    })
    parentPort?.postMessage({id, progress: unreported, result})
  } catch (error) {
    const err = error as NodeJS.ErrnoException
    parentPort?.postMessage({id, error: {code: err.code, message: err.message}})
  }
})
