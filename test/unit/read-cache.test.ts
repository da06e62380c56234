/** The server's read cache: what a moved stamp drops, given what the store says changed. */
import {describe, expect, it} from 'vitest'
import {ReadCache} from '../../src/server/read-cache.js'

/**
 * A cache over a store whose stamp is `stamp`; `changes(since)` is what the store says changed
 * since a stamp, in the stamp's own read (null: it cannot say). Every read is recorded.
 */
function cacheOver(changes: (since: string) => string[] | null) {
  let stamp: string | null = 'events:1'
  const asked: (string | null)[] = []
  /** Held back until released, to interleave two reads (see hold). */
  let gate: Promise<void> | null = null
  const cache = new ReadCache(async (since) => {
    asked.push(since)
    const now = stamp
    if (gate) await gate
    return {stamp: now, changed: since === null ? null : since === now ? [] : changes(since)}
  })
  const body = (text: string) => Buffer.from(text)
  /** Fill the cache under the current stamp: two models' answers and the project's list, and another project's. */
  async function fill() {
    const s = await cache.check()
    cache.set('m1', s, body('m1'), {project: 'P', model: 'One'})
    cache.set('m2', s, body('m2'), {project: 'P', model: 'two'})
    cache.set('list', s, body('list'), {project: 'P', model: null})
    cache.set('q', s, body('q'), {project: 'q', model: 'one'})
  }
  const kept = () => ['m1', 'm2', 'list', 'q'].filter((key) => cache.get(key) !== undefined)
  const hold = () => {
    let release = () => {}
    gate = new Promise<void>((resolve) => (release = resolve))
    return () => {
      gate = null
      release()
    }
  }
  return {cache, fill, kept, asked, hold, move: (to: string | null) => (stamp = to)}
}

describe('read cache', () => {
  it('keeps everything while the stamp holds, asking the store with the stamp it has', async () => {
    const c = cacheOver(() => [])
    await c.fill()
    await c.cache.check()
    expect(c.kept()).toEqual(['m1', 'm2', 'list', 'q'])
    expect(c.asked).toEqual([null, 'events:1'])
  })

  it("drops a changed model's answers and its project's lists, matching names without case", async () => {
    const c = cacheOver((since) => (since === 'events:1' ? ['p/one'] : null))
    await c.fill()
    c.move('events:3')
    await c.cache.check()
    expect(c.kept()).toEqual(['m2', 'q'])
  })

  it("drops a whole project's answers for a change to the project itself", async () => {
    const c = cacheOver(() => ['p/'])
    await c.fill()
    c.move('events:2')
    await c.cache.check()
    expect(c.kept()).toEqual(['q'])
  })

  it('drops everything when the store cannot tell what changed', async () => {
    const c = cacheOver(() => null)
    await c.fill()
    c.move('events:2')
    await c.cache.check()
    expect(c.kept()).toEqual([])
  })

  it('keeps nothing under a null stamp, and stores nothing computed under an older one', async () => {
    const c = cacheOver(() => [])
    const old = await c.cache.check()
    c.move('events:2')
    await c.cache.check()
    c.cache.set('late', old, Buffer.from('late'), {project: 'p', model: 'one'})
    expect(c.cache.get('late')).toBeUndefined()
    c.move(null)
    const none = await c.cache.check()
    c.cache.set('none', none, Buffer.from('none'), {project: 'p', model: 'one'})
    expect(c.cache.get('none')).toBeUndefined()
  })

  it('drops everything when another read moved the cache on while this one asked', async () => {
    // Each read is told what changed since the stamp it started from: only p/two.
    const c = cacheOver(() => ['p/two'])
    await c.fill()
    c.move('events:2')
    const release = c.hold()
    const first = c.cache.check()
    const second = c.cache.check()
    release()
    await Promise.all([first, second])
    // The first moved to events:2 dropping m2 and the list; the second saw that stamp and did nothing.
    expect(c.kept()).toEqual(['m1', 'q'])
    // Two reads from events:2 that end at different stamps: whichever comes second finds the
    // cache moved on from where it started, and everything goes.
    c.move('events:3')
    const release2 = c.hold()
    const slow = c.cache.check()
    c.move('events:4')
    release2()
    await Promise.all([slow, c.cache.check()])
    expect(c.kept()).toEqual([])
  })
})
