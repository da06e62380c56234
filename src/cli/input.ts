import {createReadStream} from 'node:fs'
import type {Readable} from 'node:stream'
import {fromFsError} from '../backends/errors.js'

/** A file ("-": stdin), opened: a missing or unreadable file fails here, with a one-line error. */
export async function openInput(file: string, what: string, highWaterMark = 256 * 1024): Promise<Readable> {
  if (file === '-') return process.stdin
  const stream = createReadStream(file, {highWaterMark})
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve())
    stream.once('error', (error: Error) => reject(fromFsError(error, `${what} ${file}`)))
  })
  return stream
}
