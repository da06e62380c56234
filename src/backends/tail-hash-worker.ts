/**
 * A worker thread that hashes a file while another thread writes it (FileTailHasher): told how
 * far the file is written, it reads that far back from the page cache and hashes it; told the
 * end, it answers with the digest of everything from byte 0.
 */
import {createHash} from 'node:crypto'
import {closeSync, openSync, readSync} from 'node:fs'
import {parentPort, workerData} from 'node:worker_threads'

const READ = 4 * 1024 * 1024
const fd = openSync((workerData as {path: string}).path, 'r')
const hash = createHash('sha256')
const buffer = Buffer.allocUnsafe(READ)
let hashed = 0
let written = 0
let end: number | null = null

function pump(): void {
  try {
    while (hashed < written) {
      const n = readSync(fd, buffer, 0, Math.min(READ, written - hashed), hashed)
      if (n === 0) throw new Error(`the file ended at ${hashed} bytes, before the ${written} written`)
      hash.update(buffer.subarray(0, n))
      hashed += n
    }
    if (end !== null && hashed >= end) {
      closeSync(fd)
      parentPort?.postMessage({digest: hash.digest('hex'), bytes: hashed})
    }
  } catch (error) {
    const err = error as NodeJS.ErrnoException
    parentPort?.postMessage({error: {code: err.code, message: err.message}})
  }
}

parentPort?.on('message', (message: {written: number; end?: boolean}) => {
  written = Math.max(written, message.written)
  if (message.end) end = message.written
  pump()
})
