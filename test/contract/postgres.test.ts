/**
 * The backend contract on PostgreSQL (the engine directly, blobs in a directory): needs the
 * test services (scripts/test-services.sh start). Each test gets its own schema.
 */
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import pg from 'pg'
import {describe, expect, it} from 'vitest'
import type {RegistryEvent} from '../../src/backends/backend.js'
import {BlobStore} from '../../src/backends/local/blob-store.js'
import {arrayLiteral, PgDriver} from '../../src/backends/postgres/driver.js'
import {openPostgresEngine} from '../../src/backends/postgres/open.js'
import {all} from '../../src/backends/sql/task.js'
import type {SqlEngine} from '../../src/backends/sql/engine.js'
import {postgresUrl} from '../helpers/services.js'
import {tempDir} from '../helpers/tmp.js'
import {backendContract, fileBlobs} from './suite.js'

const url = postgresUrl('the PostgreSQL contract suite')

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Until `check` holds, at most `ceiling` ms (then fail, saying what was awaited). */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, ceiling = 10_000): Promise<void> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > ceiling) throw new Error(`waited ${ceiling} ms for ${what}`)
    await sleep(10)
  }
}

if (url) {
  backendContract('postgres (engine -> PostgreSQL + blob directory)', async () => {
    const home = join(tempDir('contract-pg-'), 'store')
    const blobs = new BlobStore(home)
    const backend = await openPostgresEngine({url, schema: `contract_${randomBytes(6).toString('hex')}`, blobs, actor: 'contract@example.com', poolSize: 4})
    return {backend, engine: backend, home, blobs: fileBlobs((digest) => blobs.pathOf(digest))}
  })

  describe('postgres: followers are woken by LISTEN/NOTIFY', () => {
    // Followers that would poll only once a minute: an event that reaches one within the
    // test's ceiling was brought by a notification.
    const NEVER = {pollMs: 60_000, fallbackMs: 60_000}

    /** Two engines on one schema, as two replicas have: a follower on `a`, writes through `b`. */
    async function twoEngines(): Promise<{a: SqlEngine; b: SqlEngine; driver: PgDriver; close(): Promise<void>}> {
      const schema = `notify_${randomBytes(6).toString('hex')}`
      const open = () => openPostgresEngine({url: url!, schema, blobs: new BlobStore(tempDir('notify-pg-')), actor: 'notify@example.com', poolSize: 2, follow: NEVER})
      const a = await open()
      const b = await open()
      return {a, b, driver: a.driver as PgDriver, close: async () => void (await Promise.all([a.close(), b.close()]))}
    }

    /** A follower on `engine` from `after`, collecting what it yields, and its count of finished reads. */
    function follow(engine: SqlEngine, after: number) {
      const driver = engine.driver as PgDriver
      const read = driver.read.bind(driver)
      const state = {reads: 0, seen: [] as RegistryEvent[]}
      driver.read = (body) => read(body).finally(() => state.reads++)
      const abort = new AbortController()
      const done = (async () => {
        for await (const event of engine.followEvents({after_id: after}, abort.signal)) state.seen.push(event)
      })()
      done.catch(() => {}) // handled where stop() awaits it, however early it fails
      return {state, done, stop: async () => (abort.abort(), await done)}
    }

    it('a follower on one engine sees an event written through another, though it would poll only once a minute', async () => {
      const {a, b, driver, close} = await twoEngines()
      try {
        await b.createModel('p', 'before')
        const last = (await b.listEvents({order: 'desc', limit: 1})).items[0].id
        // The listening connection up before the follower starts, so that nothing but a
        // notification wakes it: its look at the last id, its first read, then it waits.
        const primer = driver.watchEvents(() => {})
        await waitFor('the listening connection', () => primer.live)
        const follower = follow(a, last)
        await waitFor('the follower to wait', () => follower.state.reads >= 2)
        await sleep(50)
        expect(follower.state.seen).toEqual([])
        expect(follower.state.reads).toBe(2)
        // A new project and its model: one transaction, two events, one notification.
        await b.createModel('q', 'after')
        await waitFor('the events on the follower', () => follower.state.seen.length >= 2)
        expect(follower.state.seen.map((e) => `${e.type}:${e.project}/${e.model ?? ''}`)).toEqual(['project.created:q/', 'model.created:q/after'])
        await follower.stop()
        expect(driver.listener.watchers).toBe(1)
        primer.stop()
        // The last follower gone, so is the listening connection.
        expect(driver.listener.watchers).toBe(0)
        await waitFor('the listening connection to close', () => driver.listener.backendPid === null && !driver.listener.live)
      } finally {
        await close()
      }
    })

    it('a lost listening connection is made again, and following goes on without missing an event', async () => {
      const {a, b, driver, close} = await twoEngines()
      try {
        await b.createModel('p', 'before')
        const last = (await b.listEvents({order: 'desc', limit: 1})).items[0].id
        const follower = follow(a, last)
        await waitFor('the listening connection', () => driver.listener.backendPid !== null)
        const cut = driver.listener.backendPid!
        await b.createModel('p', 'first')
        await waitFor('the first event', () => follower.state.seen.length === 1)
        // Another connection ends the listening one, as a restart or a network cut would.
        const terminated = await (b.driver as PgDriver).peek<{done: boolean}>('SELECT pg_terminate_backend(?) AS done', cut)
        expect(terminated?.done).toBe(true)
        // Written while the listener is (most likely) down, announced to no one: the follower
        // reads it when the new connection listens, which wakes every follower.
        await b.createModel('p', 'meanwhile')
        await waitFor('a new listening connection', () => driver.listener.backendPid !== null && driver.listener.backendPid !== cut)
        await waitFor('the event written meanwhile', () => follower.state.seen.length === 2)
        await b.createModel('p', 'later')
        await waitFor('the events after the cut', () => follower.state.seen.length === 3)
        expect(follower.state.seen.map((e) => e.model)).toEqual(['first', 'meanwhile', 'later'])
        await follower.stop()
        expect(driver.listener.watchers).toBe(0)
      } finally {
        await close()
      }
    })

    it('an event that commits between two reads of a follower is not skipped', async () => {
      const {a, b, driver, close} = await twoEngines()
      try {
        await b.createModel('p', 'before')
        const last = (await b.listEvents({order: 'desc', limit: 1})).items[0].id
        // Right after the follower's first read that finds nothing new, before its next read.
        const read = driver.read.bind(driver)
        let written = false
        driver.read = async (body) => {
          const result = await read(body)
          const page = result as {items?: unknown[]}
          if (!written && Array.isArray(page?.items) && page.items.length === 0) {
            written = true
            await b.createModel('p', 'between')
          }
          return result
        }
        const follower = follow(a, last)
        await waitFor('the event written between two reads', () => follower.state.seen.length === 1)
        expect(follower.state.seen.map((e) => e.model)).toEqual(['between'])
        await follower.stop()
      } finally {
        await close()
      }
    })

    it('closing the engine closes the listening connection', async () => {
      const {a, driver, close} = await twoEngines()
      let closed = false
      try {
        const follower = follow(a, 0)
        await waitFor('the listening connection', () => driver.listener.backendPid !== null)
        const pid = driver.listener.backendPid
        await close()
        closed = true
        // The follower ends on its own, without an error, once its engine is closed.
        await waitFor('the follower to end', async () => (await Promise.race([follower.done.then(() => true), sleep(10).then(() => false)])))
        await follower.stop()
        expect(driver.listener.live).toBe(false)
        const probe = new PgDriver({url: url!, poolSize: 1})
        try {
          const alive = async () => (await probe.peek<{n: number}>('SELECT COUNT(*) AS n FROM pg_stat_activity WHERE pid = ?', pid))?.n
          await waitFor('its server process to end', async () => (await alive()) === 0)
        } finally {
          await probe.close()
        }
      } finally {
        if (!closed) await close()
      }
    })
  })

  describe('postgres: prepared statements', () => {
    it('reads keep working when another replica changes the schema under a prepared statement', async () => {
      const schema = `prepared_${randomBytes(5).toString('hex')}`
      const driver = new PgDriver({url: url!, schema, poolSize: 1})
      const admin = new PgDriver({url: url!, poolSize: 1})
      try {
        await admin.pool.query(`CREATE SCHEMA ${schema}`)
        await admin.pool.query(`CREATE TABLE ${schema}.t (a INTEGER)`)
        await admin.pool.query(`INSERT INTO ${schema}.t VALUES (1)`)
        const read = () => driver.read(() => all<Record<string, unknown>>('SELECT * FROM t'))
        // Named and planned on the connection, then used again.
        expect(await read()).toEqual([{a: 1}])
        expect(await read()).toEqual([{a: 1}])
        expect((await driver.pool.query("SELECT count(*)::int AS n FROM pg_prepared_statements")).rows[0].n).toBeGreaterThan(0)
        // Another process adds a column: the prepared SELECT * would now "change result type".
        await admin.pool.query(`ALTER TABLE ${schema}.t ADD COLUMN b TEXT DEFAULT 'x'`)
        expect(await read()).toEqual([{a: 1, b: 'x'}])
        expect(await read()).toEqual([{a: 1, b: 'x'}])
      } finally {
        await driver.close()
        await admin.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {})
        await admin.close()
      }
    })
  })

  describe('column arrays (Dialect.columnRows)', () => {
    it('reads back every text and double exactly', async () => {
      const texts = ['', 'NULL', 'null', ' lead', 'trail ', 'a,b', '{x}', '"quoted"', 'back\\slash\\', '\\"', "it's", 'tab\tnew\nline', 'ünï©ødé 🙂', 'x'.repeat(5000)]
      const numbers = [0, -0, 1, -1, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 0.1 + 0.2, 1 / 3, 2 ** 53 - 1, -(2 ** 53), 1e21, 1e-7, 123456789.12345679]
      const whole = (i: number) => (i % 2 ? Number.MAX_SAFE_INTEGER - i : -i - 1)
      const rows = numbers.flatMap((n, i) => [texts[i % texts.length], n, whole(i)])
      const client = new pg.Client({connectionString: url})
      await client.connect()
      try {
        const types = ['text', 'float8', 'bigint'] as const
        const params = types.map((type, column) => arrayLiteral(type, rows, 3, column))
        const result = await client.query('SELECT t, f, b FROM unnest($1::text[], $2::float8[], $3::bigint[]) WITH ORDINALITY AS u(t, f, b, n) ORDER BY n', params)
        // -0 comes back as 0, as from a scalar parameter (and from SQLite).
        expect(result.rows.map((r) => [r.t, r.f, Number(r.b)])).toEqual(numbers.map((n, i) => [texts[i % texts.length], Object.is(n, -0) ? 0 : n, whole(i)]))
        expect((await client.query('SELECT t FROM unnest($1::text[]) AS u(t)', [arrayLiteral('text', texts, 1, 0)])).rows.map((r) => r.t)).toEqual(texts)
        expect((await client.query('SELECT t FROM unnest($1::text[]) AS u(t)', [arrayLiteral('text', [null, 'x', undefined], 1, 0)])).rows.map((r) => r.t)).toEqual([null, 'x', null])
      } finally {
        await client.end()
      }
    })
  })

  describe('postgres: metric points hang on their run without a foreign key', () => {
    it('a run deleted while its points stream in leaves none of them; verify names points whose run is gone', async () => {
      const schema = `points_${randomBytes(6).toString('hex')}`
      const engine = await openPostgresEngine({url: url!, schema, blobs: new BlobStore(tempDir('points-pg-')), actor: 'points@example.com', poolSize: 4})
      const admin = new pg.Client({connectionString: url!, options: `-c search_path=${schema}`})
      await admin.connect()
      try {
        const orphans = async () => Number((await admin.query('SELECT COUNT(*) AS n FROM metrics m WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = m.run_id)')).rows[0].n)
        expect((await admin.query("SELECT COUNT(*) AS n FROM pg_constraint WHERE conrelid = 'metrics'::regclass AND contype = 'f'")).rows[0].n).toBe(0)
        for (const when of [1, 3, 6]) {
          const run = await engine.tracking.createRun('p', {experiment: 'e', author: 'points@example.com'})
          // Batches of 10,000 points; the run is deleted once `when` of them went in, while more follow.
          let sent = 0
          let deleting: Promise<unknown> | undefined
          const points = async function* () {
            for (let batch = 0; batch < 10; batch++) {
              if (batch === when) deleting = engine.tracking.deleteRun(run.id)
              yield Array.from({length: 10_000}, (_, i) => ({name: 'loss', step: batch * 10_000 + i, value: i}))
              sent++
            }
          }
          const logged = await engine.tracking.logMetrics(run.id, points()).then(
            () => 'all',
            (error: {code?: string}) => error.code,
          )
          await deleting
          expect(['all', 'not_found']).toContain(logged)
          expect(sent).toBeGreaterThan(when - 1)
          expect(await orphans()).toBe(0)
        }
        expect((await engine.verify()).problems).toEqual([])
        // Points whose run is gone (written behind the engine's back) are named by verify.
        const run = await engine.tracking.createRun('p', {experiment: 'e', author: 'points@example.com'})
        await engine.tracking.logMetrics(run.id, [{name: 'loss', step: 1, value: 1}])
        await admin.query('DELETE FROM runs WHERE uid = $1', [run.id])
        const report = await engine.verify()
        expect(report.ok).toBe(false)
        expect(report.problems.map((p) => p.message)).toEqual([expect.stringMatching(/^database: metric points of a run that is gone \(run id \d+, 1 points\)$/)])
      } finally {
        await admin.end()
        await engine.close()
      }
    })
  })

  describe('postgres: triggers', () => {
    it("keep counting in the registry's schema for a session whose search_path is elsewhere", async () => {
      const schema = `triggers_${randomBytes(6).toString('hex')}`
      const engine = await openPostgresEngine({url: url!, schema, blobs: new BlobStore(tempDir('triggers-pg-')), actor: 'triggers@example.com', poolSize: 2})
      // An operator's session: the default search_path (public), tables named with their schema.
      const admin = new pg.Client({connectionString: url!})
      await admin.connect()
      try {
        await engine.createModel('p', 'one')
        await engine.createModel('p', 'two')
        expect((await engine.getProject('p')).model_count).toBe(2)
        await admin.query(`DELETE FROM ${schema}.models WHERE name = 'two'`)
        expect((await engine.getProject('p')).model_count).toBe(1)
        const before = Number((await admin.query(`SELECT value FROM ${schema}.counters WHERE name = 'tokens'`)).rows[0].value)
        await admin.query(`INSERT INTO ${schema}.tokens (name, name_key, hash, prefix, scope, created_at) VALUES ('ops', 'ops', 'x', 'mr_x', 'read', 'now')`)
        expect(Number((await admin.query(`SELECT value FROM ${schema}.counters WHERE name = 'tokens'`)).rows[0].value)).toBe(before + 1)
      } finally {
        await admin.end()
        await engine.close()
      }
    })
  })

  describe('postgres: what changed between two change stamps', () => {
    it('names the project and model of every event since a stamp, in the stamp\'s own read; null when it cannot tell', async () => {
      const engine = await openPostgresEngine({url: url!, schema: `stamps_${randomBytes(6).toString('hex')}`, blobs: new BlobStore(tempDir('stamps-pg-')), actor: 'stamps@example.com', poolSize: 2})
      try {
        await engine.createModel('P', 'One')
        const first = await engine.changeStampSince(null)
        expect(first.changed).toBeNull()
        expect(first.stamp).toMatch(/^events:\d+$/)
        const from = first.stamp as string
        // Nothing since: the same stamp, nothing changed.
        expect(await engine.changeStampSince(from)).toEqual({stamp: from, changed: []})
        await engine.createModel('P', 'Two')
        await engine.updateModel('p', 'one', {description: 'changed'})
        await engine.createProject('q')
        const moved = await engine.changeStampSince(from)
        expect(moved.changed).toEqual(['p/two', 'p/one', 'q/'])
        // Ahead of the store, or not an event stamp: the stamp, changes unknown.
        const ahead = `events:${Number((moved.stamp as string).slice(7)) + 5}`
        expect(await engine.changeStampSince(ahead)).toEqual({stamp: moved.stamp, changed: null})
        expect(await engine.changeStampSince('other:1')).toEqual({stamp: moved.stamp, changed: null})
        // A stamp from further back than the journal's last 1,000 events: the stamp, changes unknown.
        for (let i = 0; i < 3; i++) await engine.updateModel('p', 'two', {description: `d${i}`})
        const far = await engine.changeStampSince(`events:${Number(from.slice(7)) - 1000}`)
        expect(far).toEqual({stamp: expect.stringMatching(/^events:/), changed: null})
      } finally {
        await engine.close()
      }
    })
  })
}
