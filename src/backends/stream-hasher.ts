/**
 * sha256 of byte streams on worker threads: the main thread reads and writes (in the thread
 * pool) while the other cores hash, instead of hashing between its reads and writes (sha256 is
 * most of the CPU an export or an import of blobs costs), and two streams (two blobs) hash at
 * once. Bytes go through slots of shared memory, so nothing is copied to a worker: the caller
 * fills a slot (reads into it, or copies a chunk into it), hands it to a stream's update(), and
 * may write it elsewhere meanwhile; the slot is free again once it is hashed and the caller
 * released it. Without the compiled worker (running from sources) or with one core, it hashes
 * here, at once.
 */
import {createHash, type Hash} from 'node:crypto'
import type {FileHandle} from 'node:fs/promises'
import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {Worker} from 'node:worker_threads'
import {distPath} from '../package-root.js'

/** tsc's dist/backends/stream-hash-worker.js, wherever this code was bundled. */
const workerScript = (): string => distPath('backends', 'stream-hash-worker.js')
export const SLOT_BYTES = 4 * 1024 * 1024
const SLOTS = 8
const WORKERS = 2

export interface HashSlot {
  readonly buffer: Buffer
  /** The caller is done with the slot (its write finished, or there was none). */
  release(): void
}

/** One stream's bytes, slot after slot, then its digest. */
export interface HashStream {
  /** Hash the slot's first `length` bytes, next in this stream. */
  update(slot: HashSlot, length: number): void
  /** The stream's sha256 (hex), once every slot handed over is hashed. */
  digest(): Promise<string>
}

/** To a worker: hash `length` bytes of slot `slot`, or end its stream and answer the digest. */
export type HashRequest = {slot: number; length: number} | {digest: true}
/** From a worker: slot `slot` is hashed, or its stream's digest. */
export type HashAnswer = {slot: number} | {digest: string}

class Slot implements HashSlot {
  holds = 0
  constructor(
    readonly index: number,
    readonly buffer: Buffer,
    private readonly free: (slot: Slot) => void,
  ) {}

  hold(): void {
    this.holds++
  }

  release(): void {
    if (--this.holds === 0) this.free(this)
  }
}

/** A worker, and the digests asked of it, in order. */
interface HashWorker {
  worker: Worker
  digests: ((digest: string) => void)[]
}

export class StreamHasher {
  private readonly slots: Slot[]
  private readonly idle: Slot[]
  private readonly waiting: ((slot: Slot) => void)[] = []
  private next = 0
  private failure: Error | null = null

  private constructor(private readonly workers: HashWorker[]) {
    const memory = workers.length > 0 ? new SharedArrayBuffer(SLOT_BYTES * SLOTS) : null
    this.slots = Array.from({length: SLOTS}, (_, i) => new Slot(i, memory ? Buffer.from(memory, i * SLOT_BYTES, SLOT_BYTES) : Buffer.allocUnsafe(SLOT_BYTES), (slot) => this.freed(slot)))
    this.idle = [...this.slots]
    for (const w of workers) {
      w.worker.postMessage({memory, slotBytes: SLOT_BYTES})
      w.worker.on('message', (m: HashAnswer) => {
        if ('slot' in m) this.slots[m.slot].release()
        else w.digests.shift()?.(m.digest)
      })
      w.worker.on('error', (error) => this.fail(error))
    }
  }

  /** On workers when there are cores to run them and the compiled worker to run; else here. Close it when done. */
  static open(): StreamHasher {
    const cores = availableParallelism()
    const count = existsSync(workerScript()) && cores >= 2 ? Math.min(WORKERS, cores) : 0
    return new StreamHasher(Array.from({length: count}, () => ({worker: new Worker(workerScript()), digests: []})))
  }

  /** One that hashes here, at once (no workers to close). */
  static inline(): StreamHasher {
    return new StreamHasher([])
  }

  /** A free slot, once there is one. */
  async slot(): Promise<HashSlot> {
    this.check()
    const slot = this.idle.pop() ?? (await new Promise<Slot>((resolve) => this.waiting.push(resolve)))
    this.check()
    slot.hold()
    return slot
  }

  /**
   * A new stream, on the next worker in turn. A stream's digest must be asked for before the
   * stream after the next one starts (each worker hashes its streams one after the other).
   */
  stream(): HashStream {
    if (this.workers.length === 0) {
      const hash: Hash = createHash('sha256')
      return {
        update: (slot, length) => hash.update(slot.buffer.subarray(0, length)),
        digest: async () => hash.digest('hex'),
      }
    }
    const w = this.workers[this.next++ % this.workers.length]
    return {
      update: (slot, length) => {
        ;(slot as Slot).hold()
        w.worker.postMessage({slot: (slot as Slot).index, length} satisfies HashRequest)
      },
      digest: async () => {
        this.check()
        const answer = new Promise<string>((resolve) => w.digests.push(resolve))
        w.worker.postMessage({digest: true} satisfies HashRequest)
        const digest = await answer
        this.check()
        return digest
      },
    }
  }

  /** Stop the workers (callers close in a finally: a live worker keeps the process running). */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()))
  }

  private freed(slot: Slot): void {
    const next = this.waiting.shift()
    if (next) next(slot)
    else this.idle.push(slot)
  }

  private fail(error: Error): void {
    this.failure ??= error
    // Whoever waits is woken, to see the failure.
    for (const resolve of this.waiting.splice(0)) resolve(this.slots[0])
    for (const w of this.workers) for (const resolve of w.digests.splice(0)) resolve('')
  }

  private check(): void {
    if (this.failure) throw this.failure
  }
}

/**
 * Hash a chunked body on `hasher` (chunks copied into its slots, a slot handed over whenever it
 * is full), calling `each` with every chunk as it comes (to write it: the next chunk is not
 * asked for until it returns). Resolves once the body is read, with its length and a promise
 * of its digest (which may still be on its way).
 */
export async function hashBody(hasher: StreamHasher, body: AsyncIterable<Buffer>, each?: (chunk: Buffer) => Promise<void> | void): Promise<{bytes: number; digest: Promise<string>}> {
  const stream = hasher.stream()
  let slot: HashSlot | null = null
  let fill = 0
  let bytes = 0
  try {
    for await (const chunk of body) {
      bytes += chunk.length
      for (let at = 0; at < chunk.length; ) {
        slot ??= await hasher.slot()
        const n = Math.min(chunk.length - at, slot.buffer.length - fill)
        chunk.copy(slot.buffer, fill, at, at + n)
        fill += n
        at += n
        if (fill === slot.buffer.length) {
          stream.update(slot, fill)
          slot.release()
          slot = null
          fill = 0
        }
      }
      await each?.(chunk)
    }
    if (slot) {
      stream.update(slot, fill)
      slot.release()
      slot = null
    }
  } catch (error) {
    slot?.release()
    // Ends the stream all the same: the worker's next stream must start afresh.
    stream.digest().catch(() => {})
    throw error
  }
  const digest = stream.digest()
  digest.catch(() => {}) // the caller awaits it; not an unhandled rejection meanwhile
  return {bytes, digest}
}

/**
 * Hash `size` bytes of a file from `position`, read straight into `hasher`'s slots (no copy),
 * handing each slot to `write` (with its offset in the range) while it is hashed: reading the
 * next slot, hashing and writing overlap. A slot is free again once hashed and written. A file
 * that ends early fails with `short(bytes read)`. Resolves once the range is read, with a
 * promise of its digest and one of its writes being done (both may still be on their way: the
 * caller reads on meanwhile).
 */
export async function hashRange(
  hasher: StreamHasher,
  from: FileHandle,
  position: number,
  size: number,
  options: {write?: (chunk: Buffer, at: number) => Promise<unknown>; short: (read: number) => Error},
): Promise<{digest: Promise<string>; written: Promise<void>}> {
  const stream = hasher.stream()
  const writes: Promise<unknown>[] = []
  let failure: unknown = null
  const settled = () => Promise.all(writes).then(() => {
    if (failure) throw failure
  })
  try {
    for (let done = 0; done < size; ) {
      if (failure) throw failure
      const slot = await hasher.slot()
      let bytesRead: number
      try {
        ;({bytesRead} = await from.read(slot.buffer, 0, Math.min(slot.buffer.length, size - done), position + done))
      } catch (error) {
        slot.release()
        throw error
      }
      if (bytesRead === 0) {
        slot.release()
        throw options.short(done)
      }
      stream.update(slot, bytesRead)
      if (options.write) {
        let started: Promise<unknown>
        try {
          started = options.write(slot.buffer.subarray(0, bytesRead), done)
        } catch (error) {
          slot.release()
          throw error
        }
        // Never rejects: a failure is kept, and thrown by `written` (or by the next slot's turn).
        writes.push(
          started.then(
            () => slot.release(),
            (error: unknown) => {
              slot.release()
              failure ??= error
            },
          ),
        )
      } else slot.release()
      done += bytesRead
    }
  } catch (error) {
    await Promise.all(writes)
    // Ends the stream all the same: the worker's next stream must start afresh.
    stream.digest().catch(() => {})
    throw error
  }
  const digest = stream.digest()
  const written = settled()
  digest.catch(() => {}) // the caller awaits them; not unhandled rejections meanwhile
  written.catch(() => {})
  return {digest, written}
}
