import {createHash, randomBytes} from 'node:crypto'
import {Readable} from 'node:stream'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {MiB, type Subject} from './stores.js'

/**
 * A 200 MB put from a stream, in a process of its own (vitest runs each test file in a fresh
 * fork): the RSS it grows by is the store's, not what earlier cases left to the allocator.
 */
export function memoryCase(name: string, setup: () => Promise<Subject | null>, limitMiB: number): void {
  let subject: Subject | null = null
  let unusable: unknown = null
  beforeAll(async () => {
    try {
      subject = await setup()
    } catch (error) {
      unusable = error
    }
  })
  afterAll(async () => {
    await subject?.cleanup()
  })
  it(`${name}: a 200 MB put from a stream grows RSS by less than ${limitMiB} MiB`, async () => {
    if (unusable) throw unusable
    if (!subject) return
    const store = await subject.make()
    const size = 200 * 1000 * 1000
    const block = randomBytes(MiB)
    const count = Math.ceil(size / MiB)
    // Each chunk differs (its first 8 bytes count), so nothing could be deduplicated. The digest
    // is computed in one reused buffer so that the measurement starts from a quiet heap.
    const hash = createHash('sha256')
    for (let i = 0; i < count; i++) {
      block.writeBigUInt64BE(BigInt(i), 0)
      hash.update(block.subarray(0, Math.min(MiB, size - i * MiB)))
    }
    const digest = hash.digest('hex')
    const chunkAt = (i: number) => {
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, size - i * MiB)))
      chunk.writeBigUInt64BE(BigInt(i), 0)
      return chunk
    }
    const before = process.memoryUsage().rss
    let peak = before
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10)
    const started = Date.now()
    try {
      const source = Readable.from((function* () {
        for (let i = 0; i < count; i++) yield chunkAt(i)
      })())
      expect(await store.put(digest, size, source)).toBe(true)
    } finally {
      clearInterval(sampler)
    }
    peak = Math.max(peak, process.memoryUsage().rss)
    const growth = (peak - before) / MiB
    console.log(`${name}: 200 MB put from a stream in ${Date.now() - started} ms; RSS ${(before / MiB).toFixed(0)} MiB before, grew by ${growth.toFixed(0)} MiB at most`)
    expect(growth).toBeLessThan(limitMiB)
    expect(await store.size(digest)).toBe(size)
  })
}
