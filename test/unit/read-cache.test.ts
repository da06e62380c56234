/** The server's read cache: what a moved stamp drops, given what the store says changed. */
import {describe, expect, it} from 'vitest'
import {type ChangesBetween, ReadCache} from '../../src/server/read-cache.js'

/** A cache over a store whose stamp is `stamp`; `inline` is what it says changed in the stamp's own read (null: it cannot). */
function cacheOver(changes?: ChangesBetween, inline: (since: string | null) => string[] | null = () => null) {
  let stamp: string | null = 'events:1'
  const asked: [string, string][] = []
  const cache = new ReadCache(
    async (since) => ({stamp, changed: since === stamp ? [] : inline(since)}),
    changes &&
      (async (from, to) => {
        asked.push([from, to])
        return changes(from, to)
      }),
  )
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
  return {cache, fill, kept, asked, move: (to: string | null) => (stamp = to)}
}

describe('read cache', () => {
  it('keeps everything while the stamp holds', async () => {
    const c = cacheOver(async () => [])
    await c.fill()
    await c.cache.check()
    expect(c.kept()).toEqual(['m1', 'm2', 'list', 'q'])
    expect(c.asked).toEqual([])
  })

  it("drops a changed model's answers and its project's lists, matching names without case", async () => {
    const c = cacheOver(async () => ['p/one'])
    await c.fill()
    c.move('events:3')
    await c.cache.check()
    expect(c.asked).toEqual([['events:1', 'events:3']])
    expect(c.kept()).toEqual(['m2', 'q'])
  })

  it('takes what changed from the stamp\'s own read when the store gives it, asking nothing more', async () => {
    const c = cacheOver(async () => ['p/two'], (since) => (since === 'events:1' ? ['p/one'] : null))
    await c.fill()
    c.move('events:3')
    await c.cache.check()
    expect(c.asked).toEqual([])
    expect(c.kept()).toEqual(['m2', 'q'])
  })

  it("drops a whole project's answers for a change to the project itself", async () => {
    const c = cacheOver(async () => ['p/'])
    await c.fill()
    c.move('events:2')
    await c.cache.check()
    expect(c.kept()).toEqual(['q'])
  })

  it('drops everything when the store cannot tell what changed, or fails to', async () => {
    for (const changes of [async () => null, async () => Promise.reject(new Error('down')), undefined]) {
      const c = cacheOver(changes)
      await c.fill()
      c.move('events:2')
      await c.cache.check()
      expect(c.kept()).toEqual([])
    }
  })

  it('keeps nothing under a null stamp, and stores nothing computed under an older one', async () => {
    const c = cacheOver(async () => [])
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

  it('applies moves one after another, each from the stamp the previous left', async () => {
    const seen: string[] = []
    const c = cacheOver(async (from, to) => {
      seen.push(`${from}->${to}`)
      await new Promise((resolve) => setTimeout(resolve, 5))
      return to === 'events:3' ? ['p/two'] : ['p/one']
    })
    await c.fill()
    c.move('events:2')
    const first = c.cache.check()
    c.move('events:3')
    const second = c.cache.check()
    await Promise.all([first, second])
    expect(seen).toEqual(['events:1->events:2', 'events:2->events:3'])
    expect(c.kept()).toEqual(['q'])
  })
})
