/**
 * Reading a small file whole, with a size limit checked before the bytes are: a 100 MB
 * --metadata-file, a FIFO or /dev/zero is refused after reading at most the limit, not parsed
 * for half a minute in gigabytes of memory. Every file the CLI and the server read whole
 * comes through here.
 */
import {closeSync, fstatSync, openSync, readSync} from 'node:fs'
import {fromFsError, invalid} from '../backends/errors.js'

const KiB = 1024
const MiB = 1024 * KiB

/** The largest file of each kind that is read whole. */
export const FILE_LIMITS = {
  /** The user config, .modelreg.yaml, the server config: settings and a few profiles. */
  config: 64 * KiB,
  /** --metadata-file and --params-file: metadata is at most 64 KiB as JSON; YAML may be longer. */
  metadata: 1 * MiB,
  /**
   * Sync files: a project, its runs and short metric series (the whole file is parsed in
   * memory: roughly 1.5 s and 200 MB per MiB of numbers); long series go through `runs log`.
   */
  sync: 4 * MiB,
  /** A TLS certificate chain or key (PEM). */
  tls: 1 * MiB,
} as const

const CHUNK = 64 * KiB

/**
 * The bytes of `path`, refused once they pass `maxBytes`. `label` names the file in messages,
 * e.g. "--metadata-file meta.yaml".
 */
export function readBoundedFile(path: string, maxBytes: number, label: string): Buffer {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (error) {
    throw fromFsError(error, label)
  }
  try {
    const stat = fstatSync(fd)
    if (stat.isFile() && stat.size > maxBytes) {
      throw invalid(`${label} is ${stat.size} bytes (${binarySize(stat.size)}); the limit for this file is ${binarySize(maxBytes)}`)
    }
    // Whatever stat said (a FIFO, a device, a file still growing), read one byte past the limit at most.
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, maxBytes + 1 - total))
      const n = readSync(fd, chunk, 0, chunk.length, null)
      if (n === 0) break
      chunks.push(chunk.subarray(0, n))
      total += n
      if (total > maxBytes) throw invalid(`${label} is larger than the ${binarySize(maxBytes)} limit for this file (reading stopped there)`)
    }
    return Buffer.concat(chunks, total)
  } catch (error) {
    throw fromFsError(error, label)
  } finally {
    closeSync(fd)
  }
}

/** 65536 -> "64 KiB", 104857600 -> "100 MiB", 1572864 -> "1.5 MiB". */
function binarySize(bytes: number): string {
  const [value, unit] = bytes >= MiB ? [bytes / MiB, 'MiB'] : bytes >= KiB ? [bytes / KiB, 'KiB'] : [bytes, 'bytes']
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`
}
