/**
 * Several identical servers on one PostgreSQL database and one S3 bucket (Ceph RGW): what a
 * team behind a load balancer relies on. Needs the test services (scripts/test-services.sh).
 */
import {spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {closeSync, openSync, writeFileSync, writeSync} from 'node:fs'
import {type AddressInfo, connect, createServer, type Socket} from 'node:net'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {PgDriver} from '../../src/backends/postgres/driver.js'
import {Session} from '../../src/backends/sql/session.js'
import {all, effect, get, type Task} from '../../src/backends/sql/task.js'
import {BIN, type CliEnv, makeCliEnv, runCli} from '../helpers/cli.js'
import {createToken, type ServerProcess, spawnServerProcess} from '../helpers/server.js'
import {postgresUrl, s3Config} from '../helpers/services.js'
import {tempDir} from '../helpers/tmp.js'

const url = postgresUrl('the replica tests')
const s3 = s3Config('the replica tests')

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

if (url && s3) {
  /** A server config over a fresh schema and bucket prefix, and the environment its processes need. */
  function scaleSetup() {
    const id = randomBytes(5).toString('hex')
    const dir = tempDir('replicas-')
    const config = join(dir, 'server.yaml')
    writeFileSync(config, `data_dir: ${join(dir, 'data')}\nmetadata: ${url}\nblobs: s3://${s3!.bucket}/replicas-${id}\ndatabase:\n  schema: replicas_${id}\n  pool_size: 4\ns3:\n  endpoint: ${s3!.endpoint}\n`)
    const env = {AWS_ACCESS_KEY_ID: s3!.accessKeyId, AWS_SECRET_ACCESS_KEY: s3!.secretAccessKey}
    return {config, env, dataDir: join(dir, 'data'), schema: `replicas_${id}`}
  }

  async function startReplicas(setup: ReturnType<typeof scaleSetup>, count: number, env: NodeJS.ProcessEnv = {}): Promise<ServerProcess[]> {
    return Promise.all(Array.from({length: count}, () => spawnServerProcess(setup.dataDir, 0, ['--config', setup.config, '--quiet'], {...setup.env, ...env})))
  }

  /** Until `check` holds, at most `ceiling` ms (then fail, saying what was awaited). */
  async function waitFor(what: string, check: () => boolean | Promise<boolean>, ceiling = 10_000): Promise<void> {
    const start = Date.now()
    while (!(await check())) {
      if (Date.now() - start > ceiling) throw new Error(`waited ${ceiling} ms for ${what}`)
      await sleep(20)
    }
  }

  function cliFor(server: ServerProcess, token: string): CliEnv {
    return makeCliEnv({MODELREG_URL: server.url, MODELREG_TOKEN: token})
  }

  describe('replicas on one PostgreSQL database and one bucket', () => {
    it('start together on an empty database: both come up, and the schema is applied once', async () => {
      const setup = scaleSetup()
      const replicas = await startReplicas(setup, 3)
      const driver = new PgDriver({url, schema: setup.schema, poolSize: 1})
      try {
        const applied = await driver.read(function* () {
          return yield* get<{n: number; versions: string}>("SELECT COUNT(*) AS n, string_agg(version::text, ',' ORDER BY version) AS versions FROM schema_migrations")
        })
        expect(applied).toEqual({n: 6, versions: '1,2,3,4,5,6'})
        for (const r of replicas) expect((await fetch(`${r.url}/healthz`)).status).toBe(200)
      } finally {
        await driver.close()
        await Promise.all(replicas.map((r) => r.stop()))
      }
    })

    it('16 processes pushing to one model through two replicas get versions 1..16 exactly; a --expect race has one winner', async () => {
      const setup = scaleSetup()
      const token = await createToken(setup.dataDir, 'admin', null, 'admin', setup.config)
      const [a, b] = await startReplicas(setup, 2)
      try {
        const pushes = Array.from({length: 16}, (_, i) => {
          const ctx = cliFor(i % 2 ? b : a, token)
          writeFileSync(join(ctx.cwd, 'w.bin'), `weights ${i}`)
          return runCli(ctx, ['models', 'push', 'shared', join(ctx.cwd, 'w.bin'), '--json'])
        })
        const results = await Promise.all(pushes)
        for (const r of results) expect(r.code, r.stderr).toBe(0)
        expect(results.map((r) => r.json().version.version).sort((x: number, y: number) => x - y)).toEqual(Array.from({length: 16}, (_, i) => i + 1))
        const listed = (await runCli(cliFor(a, token), ['models', 'list-versions', 'shared', '--json', '--limit', '100'])).json()
        expect(listed.items.map((v: {version: number}) => v.version)).toEqual(Array.from({length: 16}, (_, i) => 16 - i))
        // Eight clients try to set a tag that is not set yet, through both replicas: one wins.
        const tags = await Promise.all(
          Array.from({length: 8}, (_, i) => runCli(cliFor(i % 2 ? b : a, token), ['models', 'tag', `shared:${i + 1}`, 'prod', '--expect', 'none', '--json'])),
        )
        expect(tags.filter((r) => r.code === 0)).toHaveLength(1)
        expect(tags.filter((r) => r.code === 4)).toHaveLength(7)
        const verify = await runCli(makeCliEnv(setup.env), ['server', 'verify', '--config', setup.config, '--json'])
        expect(verify.code, verify.stderr).toBe(0)
        expect(verify.json()).toMatchObject({ok: true, checked: {versions: 16, blobs: 16}})
      } finally {
        await Promise.all([a.stop(), b.stop()])
      }
    })

    it("a replica's read cache never serves an answer another replica's write changed", async () => {
      const setup = scaleSetup()
      const token = await createToken(setup.dataDir, 'admin', null, 'admin', setup.config)
      const [a, b] = await startReplicas(setup, 2)
      try {
        const viaA = cliFor(a, token)
        const viaB = cliFor(b, token)
        for (let i = 1; i <= 3; i++) {
          writeFileSync(join(viaB.cwd, 'w.bin'), `weights ${i}`)
          expect((await runCli(viaB, ['models', 'push', 'cached', join(viaB.cwd, 'w.bin'), '--json'])).code).toBe(0)
          // Asked twice through A: the second answer may come from A's cache, and must be as fresh.
          for (let twice = 0; twice < 2; twice++) {
            const shown = await runCli(viaA, ['models', 'show', 'cached', '--json'])
            expect(shown.json().version).toBe(i)
          }
          expect((await runCli(viaB, ['models', 'tag', `cached:${i}`, 'prod', '--json'])).code).toBe(0)
          expect((await runCli(viaA, ['models', 'show', 'cached:prod', '--json'])).json().version).toBe(i)
        }
      } finally {
        await Promise.all([a.stop(), b.stop()])
      }
    })

    it("a write to one model drops only that model's answers (and the project's lists) from another replica's cache", async () => {
      const setup = scaleSetup()
      const token = await createToken(setup.dataDir, 'admin', null, 'admin', setup.config)
      const [a, b] = await startReplicas(setup, 2)
      const driver = new PgDriver({url, schema: setup.schema, poolSize: 1})
      const headers = {authorization: `Bearer ${token}`}
      const getA = async (path: string) => {
        const response = await fetch(`${a.url}/api/v1/projects/default${path}`, {headers})
        expect(response.status, path).toBe(200)
        return (await response.json()) as Record<string, unknown> & {items: Record<string, unknown>[]}
      }
      try {
        const viaB = cliFor(b, token)
        for (const name of ['other', 'pushed']) expect((await runCli(viaB, ['models', 'create', name, '-d', `about ${name}`, '--json'])).code).toBe(0)
        // A caches the two models, their logs and the project's list.
        for (let twice = 0; twice < 2; twice++) {
          expect((await getA('/models/other')).description).toBe('about other')
          expect((await getA('/models/pushed')).version_count).toBe(0)
          expect((await getA('/log?model=pushed')).total).toBe(0)
          expect((await getA('/models')).total).toBe(2)
        }
        // Behind every server's back (no event: no replica can know), then a push through B.
        await driver.write('a test', function* () {
          yield* get("UPDATE models SET description = 'changed unannounced' WHERE name = 'other' RETURNING id")
        })
        writeFileSync(join(viaB.cwd, 'w.bin'), 'weights')
        expect((await runCli(viaB, ['models', 'push', 'pushed', join(viaB.cwd, 'w.bin'), '--json'])).code).toBe(0)
        // What the push changed is read afresh through A...
        expect((await getA('/models/pushed')).version_count).toBe(1)
        expect((await getA('/log?model=pushed')).total).toBe(1)
        const listed = await getA('/models')
        expect(listed.items.find((m) => m.name === 'other')?.description).toBe('changed unannounced')
        // ...while the other model's answer was kept: A still serves what it cached.
        expect((await getA('/models/other')).description).toBe('about other')
        // A change to that model (an event) drops it too.
        expect((await runCli(viaB, ['models', 'update', 'other', '-d', 'about other, again', '--json'])).code).toBe(0)
        expect((await getA('/models/other')).description).toBe('about other, again')
      } finally {
        await driver.close()
        await Promise.all([a.stop(), b.stop()])
      }
    })

    it("a token revoked elsewhere stops working on every replica at its next request, though replicas keep known tokens in memory", async () => {
      const setup = scaleSetup()
      const admin = await createToken(setup.dataDir, 'admin', null, 'admin', setup.config)
      const reader = await createToken(setup.dataDir, 'read', null, 'reader', setup.config)
      const [a, b] = await startReplicas(setup, 2)
      try {
        const list = (server: ServerProcess, token: string) => runCli(cliFor(server, token), ['models', '--json'])
        // Known to both replicas (and kept by them) before it is revoked.
        for (const server of [a, b]) for (let twice = 0; twice < 2; twice++) expect((await list(server, reader)).code).toBe(0)
        const {openTokenStore} = await import('../../src/server/stores.js')
        const {loadServerConfig} = await import('../../src/server/config.js')
        const store = await openTokenStore(loadServerConfig(setup.config))
        try {
          await store.revoke('reader')
        } finally {
          await store.close()
        }
        for (const server of [a, b]) {
          const refused = await list(server, reader)
          expect(refused.code).not.toBe(0)
          expect(refused.json().error.code).toBe('unauthenticated')
          expect((await list(server, admin)).code).toBe(0)
        }
        // A token created meanwhile works at once on both.
        const fresh = await createToken(setup.dataDir, 'read', null, 'fresh', setup.config)
        for (const server of [a, b]) expect((await list(server, fresh)).code).toBe(0)
      } finally {
        await Promise.all([a.stop(), b.stop()])
      }
    })

    it('a follower on one replica is woken by a notification when another commits: it sees its events, in commit order, without polling', async () => {
      const setup = scaleSetup()
      const token = await createToken(setup.dataDir, 'admin', null, 'admin', setup.config)
      // Followers that would poll only once a minute: what reaches them within the test's
      // ceiling was announced by PostgreSQL (LISTEN/NOTIFY).
      const [a, b] = await startReplicas(setup, 2, {MODELREG_TEST_FOLLOW_POLL_MS: '60000'})
      const viaB = cliFor(b, token)
      expect((await runCli(viaB, ['models', 'create', 'first', '--json'])).code).toBe(0)
      const follower = spawn(process.execPath, [BIN, 'events', '--follow', '--json', '--all-projects'], {env: {...cliFor(a, token).env}, stdio: ['ignore', 'pipe', 'pipe']})
      let out = ''
      follower.stdout.on('data', (c) => (out += c))
      const events = () => out.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as {id: number; type: string; model: string | null})
      const channel = `modelreg_events_${createHash('md5').update(setup.schema).digest('hex').slice(0, 16)}`
      const driver = new PgDriver({url, poolSize: 1})
      try {
        // The follower has what was there (it starts after it), and A listens for the schema.
        await waitFor('the follower to start', () => out.includes('"first"'))
        await waitFor('replica A to listen', async () => {
          const row = await driver.peek<{n: number}>("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE state = 'idle' AND query = ?", `LISTEN "${channel}"`)
          return row?.n === 1
        })
        expect((await runCli(viaB, ['models', 'create', 'followed', '--json'])).code).toBe(0)
        writeFileSync(join(viaB.cwd, 'w.bin'), 'weights')
        expect((await runCli(viaB, ['models', 'push', 'followed', join(viaB.cwd, 'w.bin'), '--json'])).code).toBe(0)
        await waitFor('the events on the follower', () => events().some((e) => e.type === 'version.created'))
        const seen = events()
        expect(seen.filter((e) => e.model === 'followed').map((e) => e.type)).toEqual(['model.created', 'version.created'])
        expect(seen.map((e) => e.id)).toEqual([...seen.map((e) => e.id)].sort((x, y) => x - y))
      } finally {
        follower.kill()
        await driver.close()
        await Promise.all([a.stop(), b.stop()])
      }
    })
  })

  /** A load balancer in miniature: each new connection goes to the first replica that accepts it. */
  async function failoverProxy(targets: ServerProcess[]): Promise<{url: string; sent: number[]; close(): Promise<void>}> {
    const sockets = new Set<Socket>()
    /** Bytes forwarded to each replica. */
    const sent = targets.map(() => 0)
    const proxy = createServer((client) => {
      sockets.add(client)
      client.on('close', () => sockets.delete(client))
      const attempt = (i: number) => {
        if (i >= targets.length) return client.destroy()
        const upstream = connect(targets[i].port, '127.0.0.1')
        upstream.once('error', () => {
          upstream.destroy()
          if (!upstream.readyState || upstream.readyState === 'closed') attempt(i + 1)
        })
        upstream.once('connect', () => {
          sockets.add(upstream)
          upstream.on('close', () => sockets.delete(upstream))
          upstream.on('error', () => client.destroy())
          client.on('error', () => upstream.destroy())
          client.on('data', (chunk: Buffer) => (sent[i] += chunk.length))
          client.pipe(upstream).pipe(client)
        })
      }
      attempt(0)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()))
    return {
      url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      sent,
      close: () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy()
          proxy.close(() => resolve())
        }),
    }
  }

  describe('a replica killed mid-upload', () => {
    it('the push goes on through the other replica and succeeds; the store verifies; every blob row has its object', async () => {
      const setup = scaleSetup()
      const token = await createToken(setup.dataDir, 'admin', null, 'admin', setup.config)
      const [a, b] = await startReplicas(setup, 2)
      const lb = await failoverProxy([a, b])
      try {
        const ctx = makeCliEnv({MODELREG_URL: lb.url, MODELREG_TOKEN: token})
        const file = join(ctx.cwd, 'big.bin')
        const fd = openSync(file, 'w')
        const block = randomBytes(1024 * 1024)
        for (let i = 0; i < 96; i++) {
          block.writeUInt32LE(i, 0)
          writeSync(fd, block)
        }
        closeSync(fd)
        const push = spawn(process.execPath, [BIN, 'models', 'push', 'big', file, '--json'], {cwd: ctx.cwd, env: ctx.env, stdio: ['ignore', 'pipe', 'pipe']})
        let out = ''
        let err = ''
        push.stdout.on('data', (c) => (out += c))
        push.stderr.on('data', (c) => (err += c))
        const done = new Promise<number | null>((resolve) => push.on('close', resolve))
        // Kill the replica that takes the upload once 16 MiB of it went there.
        while (lb.sent[0] < 16 * 1024 * 1024 && push.exitCode === null) await sleep(5)
        expect(push.exitCode).toBeNull()
        await a.stop('SIGKILL')
        expect(await done, err).toBe(0)
        expect(lb.sent[1]).toBeGreaterThan(0)
        expect(JSON.parse(out).version.version).toBe(1)
        const verify = await runCli(makeCliEnv(setup.env), ['server', 'verify', '--config', setup.config, '--json'])
        expect(verify.code, verify.stderr).toBe(0)
        expect(verify.json()).toMatchObject({ok: true, checked: {versions: 1, blobs: 1}})
        // Every blob row has its object (rows are written only once an object is whole).
        const {openServerStores} = await import('../../src/server/stores.js')
        const {loadServerConfig} = await import('../../src/server/config.js')
        Object.assign(process.env, setup.env)
        const {engine, tokens} = await openServerStores(loadServerConfig(setup.config), {migrate: false})
        try {
          const driver = new PgDriver({url, schema: setup.schema, poolSize: 1})
          const rows = await driver.read(() => all<{digest: string; size: number}>('SELECT digest, size FROM blobs'))
          await driver.close()
          expect(rows.length).toBeGreaterThan(0)
          for (const row of rows) expect(await engine.blobs.size(row.digest)).toBe(row.size)
        } finally {
          await engine.close()
          await tokens.close()
        }
      } finally {
        await lb.close()
        await b.stop()
      }
    })
  })

  describe('a mix: SQLite metadata with blobs in S3', () => {
    it('pushes, downloads and verifies; gc reports but refuses to remove objects it cannot remove under its lock', async () => {
      const {LocalBackend} = await import('../../src/backends/local/local-backend.js')
      const {S3BlobStore} = await import('../../src/backends/s3/s3-blob-store.js')
      const {pushVersion} = await import('../../src/registry/push.js')
      const {downloadVersion} = await import('../../src/registry/download.js')
      const home = join(tempDir('mix-'), 'store')
      const blobs = new S3BlobStore({bucket: s3.bucket, prefix: `mix-${randomBytes(5).toString('hex')}`, endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey})
      const backend = new LocalBackend({home, actor: 'test', blobs})
      try {
        const work = tempDir('mix-work-')
        writeFileSync(join(work, 'w.bin'), 'weights in a bucket')
        const {version} = await pushVersion(backend, {project: 'default', model: 'm', paths: [join(work, 'w.bin')], author: 'test'})
        await downloadVersion(backend, version, join(work, 'out'))
        expect((await backend.verify()).ok).toBe(true)
        await backend.deleteModel('default', 'm')
        expect(await backend.gc({dry_run: true, grace_seconds: 0})).toMatchObject({blobs: {count: 1}})
        await expect(backend.gc({grace_seconds: 0})).rejects.toMatchObject({code: 'invalid_argument', message: expect.stringMatching(/needs the registry's metadata in PostgreSQL/)})
      } finally {
        await backend.close()
      }
    })
  })

  describe('event ids on PostgreSQL', () => {
    it('are in commit order: a follower reading id > last skips none, even with slow, overlapping transactions', async () => {
      const schema = `events_${randomBytes(5).toString('hex')}`
      const drivers = [new PgDriver({url, schema, poolSize: 6}), new PgDriver({url, schema, poolSize: 6})]
      await drivers[0].migrate()
      const session = new Session(drivers[0].dialect, 'test')
      const seen: number[] = []
      let done = false
      const follow = (async () => {
        let last = 0
        while (!done || last < 40) {
          const rows = await drivers[1].read(() => all<{id: number}>('SELECT id FROM events WHERE id > ? ORDER BY id', last))
          for (const {id} of rows) {
            seen.push(id)
            last = id
          }
          await sleep(5)
        }
      })()
      // 40 writers, each holding its transaction open for a random while after taking its event id.
      await Promise.all(
        Array.from({length: 40}, (_, i) =>
          drivers[i % 2].write('writing an event slowly', function* (): Task<void> {
            yield* session.event('project.created', {project: `p${i}`})
            yield* effect('waiting', () => sleep(Math.random() * 60))
          }),
        ),
      )
      done = true
      await follow
      await Promise.all(drivers.map((d) => d.close()))
      expect(seen).toEqual(Array.from({length: 40}, (_, i) => i + 1))
    })
  })
}
