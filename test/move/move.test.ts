/** export, import and copy: lossless round trips, idempotence, conflicts, hostile archives. */
import {createHash} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {PassThrough, Readable} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backends/backend.js'
import {LocalBackend} from '../../src/backends/local/local-backend.js'
import {RemoteBackend} from '../../src/backends/remote/remote-backend.js'
import {parseSelection} from '../../src/registry/move/history.js'
import {copyStore, exportArchive, importArchive} from '../../src/registry/move/move.js'
import {readTar, tarHeader, TarWriter} from '../../src/registry/move/tar.js'
import {pushCheckpoint, pushVersion} from '../../src/registry/push.js'
import {collect, files, fromArray} from '../contract/helpers.js'
import {makeCliEnv, runCli} from '../helpers/cli.js'
import {startTestServer, type TestServer} from '../helpers/server.js'
import {tempDir} from '../helpers/tmp.js'

const everything = parseSelection([], {defaultProject: 'default'})
const local = (home = join(tempDir('move-'), 'store')) => new LocalBackend({home, actor: 'mover@example.com'})

async function seed(b: Backend, work: string, points = 20_000): Promise<{run: string}> {
  const push = (model: string, content: string, extra = {}) =>
    pushVersion(b, {project: 'default', model, paths: [files(join(work, createHash('sha256').update(model + content).digest('hex').slice(0, 8)), {'model.pkl': content})], author: 'alice@example.com', ...extra})
  const run = await b.createRun('default', {experiment: 'exp', name: 'r1', params: {lr: 0.1}, author: 'alice@example.com'})
  await b.logMetrics(run.id, fromArray(Array.from({length: points}, (_, i) => ({name: 'loss', value: 1 / (i + 1), step: i, time: new Date(1_700_000_000_000 + i).toISOString()}))))
  await b.setDataset(run.id, {tag: 'train', uri: 's3://bucket/train'})
  const ckpt = (await pushCheckpoint(b, run.id, [files(join(work, 'ckpt'), {'w.bin': 'weights'})], {step: 10}))
  await b.updateRun(run.id, {status: 'completed'})
  await push('credit-risk', 'one', {comment: 'first'})
  await push('credit-risk', 'two', {tags: ['staging']})
  await push('credit-risk', 'three', {run_id: run.id})
  await b.setTag('default', 'credit-risk', 'prod', '1')
  await b.setTag('default', 'credit-risk', 'prod', '2')
  await b.setTag('default', 'credit-risk', 'prod', '3')
  await b.deleteVersion('default', 'credit-risk', 3)
  await b.registerCheckpoint('team-a', 'churn', ckpt.uuid, {author: 'bob@example.com'})
  await b.updateModel('team-a', 'churn', {description: 'churn model', labels: {env: 'prod'}})
  return {run: run.id}
}

const noIds = <T extends {id?: unknown}>(items: T[]) => items.map(({id: _id, ...rest}) => rest)

/** Every read a user makes, to compare two stores (event ids aside). */
async function snapshot(b: Backend, run: string) {
  const out: Record<string, unknown> = {}
  out.projects = (await b.listProjects()).items
  for (const p of (await b.listProjects()).items.map((x) => x.name)) {
    out[`${p}/models`] = (await b.listModels(p)).items
    out[`${p}/log`] = noIds((await b.modelLog(p)).items)
    for (const m of (await b.listModels(p)).items) {
      out[`${p}/${m.name}/versions`] = (await b.listVersions(p, m.name)).items
      out[`${p}/${m.name}/tags`] = await b.listTags(p, m.name)
      for (const v of (await b.listVersions(p, m.name)).items) out[`${p}/${m.name}:${v.version}`] = await b.getVersion(p, m.name, String(v.version))
    }
  }
  // The journal's order across models is the order they were restored in (event ids are not
  // kept); each model's own events keep theirs: a stable sort by project and model.
  const key = (e: {project: string; model: string | null}) => `${e.project}\u0000${e.model}`
  out.events = noIds((await b.listEvents({limit: 10_000})).items.filter((e) => e.model !== null))
    .map((e) => ({...e, data: {...e.data, token: undefined}}))
    .sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0))
  out.run = await b.getRun(run)
  out.metrics = await collect(b.readMetrics(run))
  out.experiments = (await b.listExperiments('default')).items
  return out
}

/** A stream whose bytes are kept, to read once written. */
function sink(): {out: PassThrough; bytes: () => Buffer} {
  const out = new PassThrough()
  const chunks: Buffer[] = []
  out.on('data', (c) => chunks.push(c))
  return {out, bytes: () => Buffer.concat(chunks)}
}

async function toFile(b: Backend, path: string, selection = everything): Promise<void> {
  const {out, bytes} = sink()
  await exportArchive(b, selection, out)
  out.end()
  writeFileSync(path, bytes())
}

/** An archive written again entry by entry: `rewrite` writes what stands for each entry (itself, another, more, or nothing). */
async function rewriteArchive(archive: Buffer, rewrite: (tar: TarWriter, path: string, body: Buffer) => Promise<void>): Promise<Buffer> {
  const {out, bytes} = sink()
  const tar = new TarWriter(out)
  for await (const e of readTar(Readable.from([archive]))) await rewrite(tar, e.path, Buffer.concat(await collect(e.body)))
  await tar.finish()
  return bytes()
}

/** A test server for the describe block it is called in, started once before its tests. */
function useTestServer(): {readonly server: TestServer} {
  const holder = {} as {server: TestServer}
  beforeAll(async () => {
    holder.server = await startTestServer()
  })
  afterAll(async () => {
    await holder.server?.close()
  })
  return holder
}

describe('export -> import', () => {
  const ctx = useTestServer()

  it('restores every read into an empty local store and through a server; twice changes nothing; numbering continues', async () => {
    const work = tempDir('move-work-')
    const source = local()
    const {run} = await seed(source, work)
    const archive = join(work, 'a.tar')
    await toFile(source, archive)
    const expected = await snapshot(source, run)

    for (const target of [local(), new RemoteBackend({url: ctx.server.url, token: ctx.server.adminToken, actor: 'x@example.com'})]) {
      const first = await importArchive(target, archive)
      expect(first.conflicts).toEqual([])
      expect(first.models.written).toBe(2)
      expect(first.metric_points.written).toBe(20_000)
      expect(await snapshot(target, run)).toEqual(expected)
      expect((await target.verify()).ok).toBe(true)
      const again = await importArchive(target, archive)
      expect(again).toMatchObject({models: {written: 0, unchanged: 2}, runs: {written: 0, unchanged: 1}, blobs: {written: 0}, metric_points: {written: 0}})
      expect(await snapshot(target, run)).toEqual(expected)
      const next = await pushVersion(target, {project: 'default', model: 'credit-risk', paths: [files(join(work, 'next'), {'m.pkl': 'four'})], author: 'a@example.com'})
      expect(next.version.version).toBe(4) // 3 was deleted at the source: never reused
      await target.close()
    }
    await source.close()
  }, 120_000)

  it('a diverged model is a conflict (left as it is), the others are imported; dry run writes nothing', async () => {
    const work = tempDir('move-work-')
    const source = local()
    await seed(source, work, 10)
    const archive = join(work, 'a.tar')
    await toFile(source, archive)
    const target = local()
    await pushVersion(target, {project: 'default', model: 'credit-risk', paths: [files(join(work, 'other'), {'x.pkl': 'other'})], author: 'eve@example.com'})
    const dry = await importArchive(target, archive, {dryRun: true})
    expect(dry.conflicts.map((c) => c.name)).toEqual(['credit-risk'])
    expect((await target.listProjects()).items.map((p) => p.name)).toEqual(['default'])
    const report = await importArchive(target, archive)
    expect(report.conflicts).toHaveLength(1)
    expect(report.conflicts[0]).toMatchObject({kind: 'model', project: 'default', name: 'credit-risk'})
    expect((await target.listVersions('default', 'credit-risk')).items.map((v) => v.author)).toEqual(['eve@example.com'])
    expect((await target.getModel('team-a', 'churn')).description).toBe('churn model')
    await target.close()
    await source.close()

    const env = makeCliEnv()
    await runCli(env, ['models', 'push', 'credit-risk', join(work, 'other')])
    const cli = await runCli(env, ['import', archive, '--json'])
    expect(cli.code).toBe(4)
    expect(cli.json().conflicts).toHaveLength(1)
    expect(cli.stderr).toContain('conflict: model default/credit-risk')
  }, 120_000)
})

describe('archive formats and ways in and out', () => {
  const ctx = useTestServer()

  it('reads archives of format version 1 (points as NDJSON lines)', async () => {
    const work = tempDir('move-work-')
    const source = local()
    const {run} = await seed(source, work, 25_000)
    const v2 = join(work, 'a.tar')
    await toFile(source, v2)
    const v1 = join(work, 'v1.tar')
    const rewritten = await rewriteArchive(readFileSync(v2), async (tar, path, body) => {
      if (path === 'modelreg-archive.json') await tar.entry(path, JSON.stringify({...JSON.parse(body.toString()), version: 1}))
      else if (path.endsWith('.points.json')) {
        const c = JSON.parse(body.toString()) as {name: string; split: string; steps: number[]; values: number[]; times: string[]}
        await tar.entry(path.replace(/\.json$/, '.ndjson'), c.steps.map((step, i) => `${JSON.stringify({name: c.name, split: c.split, step, value: c.values[i], time: c.times[i]})}\n`).join(''))
      } else await tar.entry(path, body)
    })
    writeFileSync(v1, rewritten)
    const target = local()
    expect(await importArchive(target, v1)).toMatchObject({conflicts: [], metric_points: {written: 25_000}})
    expect(await snapshot(target, run)).toEqual(await snapshot(source, run))
    await target.close()
    await source.close()
  }, 120_000)

  it('through the CLI: to a file, gzipped, to stdout; from a file, from stdin, into a server; a damaged blob fails the export and leaves no archive', async () => {
    const env = makeCliEnv()
    const work = tempDir('move-work-')
    const source = new LocalBackend({home: env.home, actor: 'a@example.com'})
    const {run} = await seed(source, work, 30_000)
    const expected = await snapshot(source, run)
    const plain = join(work, 'a.tar')
    const gz = join(work, 'a.tar.gz')
    for (const [file, gzipped] of [[plain, false], [gz, true]] as const) {
      const made = await runCli(env, ['export', '-o', file, '--json'])
      expect(made.code, made.stderr).toBe(0)
      expect(made.json()).toMatchObject({models: {written: 2}, runs: {written: 1}, metric_points: {written: 30_000}})
      expect(readFileSync(file).subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(gzipped)
    }
    const piped = await runCli(env, ['export', '-o', '-'])
    expect(piped.code, piped.stderr).toBe(0)
    const ways: [string, string[], Buffer | undefined][] = [
      ['file', ['import', plain], undefined],
      ['gzipped file', ['import', gz], undefined],
      ['stdin', ['import', '-'], piped.stdoutBytes],
      ['gzipped stdin', ['import', '-'], readFileSync(gz)],
    ]
    for (const [way, args, input] of ways) {
      const into = makeCliEnv()
      const result = await runCli(into, [...args, '--json'], {input})
      expect(result.code, `${way}: ${result.stderr}`).toBe(0)
      expect(result.json(), way).toMatchObject({conflicts: [], metric_points: {written: 30_000}})
      const target = new LocalBackend({home: into.home, actor: 'x@example.com'})
      expect(await snapshot(target, run), way).toEqual(expected)
      expect((await target.verify()).ok, way).toBe(true)
      await target.close()
    }
    // Into a server: from the archive's own bytes (a plain file), or staged first (gzip, stdin).
    for (const [way, file] of [['gzipped', gz], ['plain', plain]]) {
      const fresh = await startTestServer()
      const remote = new RemoteBackend({url: fresh.url, token: fresh.adminToken, actor: 'x@example.com'})
      expect(await importArchive(remote, file), way).toMatchObject({conflicts: [], metric_points: {written: 30_000}})
      expect(await snapshot(remote, run), way).toEqual(expected)
      await remote.close()
      await fresh.close()
    }
    const remote = new RemoteBackend({url: ctx.server.url, token: ctx.server.adminToken, actor: 'x@example.com'})
    expect(await importArchive(remote, '-', {stdin: (await import('node:stream')).Readable.from([piped.stdoutBytes])})).toMatchObject({conflicts: []})
    expect(await snapshot(remote, run)).toEqual(expected)
    await remote.close()

    // A blob damaged in the source store: the export fails (exit 6), and leaves nothing behind.
    const {chmodSync, existsSync, readdirSync} = await import('node:fs')
    const shard = readdirSync(join(env.home, 'blobs', 'sha256'))[0]
    const blob = join(env.home, 'blobs', 'sha256', shard, readdirSync(join(env.home, 'blobs', 'sha256', shard))[0])
    const bytes = readFileSync(blob)
    bytes[0] ^= 0xff
    chmodSync(blob, 0o644)
    writeFileSync(blob, bytes)
    const broken = join(work, 'broken.tar')
    const failed = await runCli(env, ['export', '-o', broken])
    expect(failed.code, failed.stderr).toBe(6)
    expect(failed.stderr).toContain('does not match its digest')
    expect([existsSync(broken), existsSync(`${broken}.partial`)]).toEqual([false, false])
    bytes[0] ^= 0xff
    writeFileSync(blob, bytes) // mended: the stores a test leaves behind must verify
    chmodSync(blob, 0o444)
    await source.close()
  }, 180_000)
})

describe('import killed', () => {
  it('killed with SIGKILL at random points, an import leaves the store consistent, and running it again finishes it', async () => {
    const work = tempDir('move-work-')
    const source = local()
    const {run} = await seed(source, work, 200_000)
    const {randomBytes} = await import('node:crypto')
    const {existsSync, mkdirSync} = await import('node:fs')
    for (let m = 0; m < 6; m++) {
      const dir = join(work, `bulk-${m}`)
      mkdirSync(dir, {recursive: true})
      writeFileSync(join(dir, 'weights.bin'), randomBytes(2 * 1024 * 1024))
      await pushVersion(source, {project: 'bulk', model: `bulk-${m}`, paths: [dir], author: 'carol@example.com'})
    }
    const expected = await snapshot(source, run)
    const archive = join(work, 'a.tar')
    await toFile(source, archive)
    await source.close()
    const {spawn} = await import('node:child_process')
    const {BIN} = await import('../helpers/cli.js')
    const importInto = (home: string) => spawn(process.execPath, [BIN, 'import', archive, '--json'], {env: {...process.env, MODELREG_HOME: home, MODELREG_NO_PROGRESS: '1'}, stdio: 'ignore'})
    const exited = (child: ReturnType<typeof importInto>) => new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    // How long a whole import takes here, to spread the kills over it.
    const started = Date.now()
    expect(await exited(importInto(join(tempDir('move-target-'), 'store')))).toBe(0)
    const whole = Date.now() - started
    const rounds = 6
    let partial = 0
    for (let i = 0; i < rounds; i++) {
      const home = join(tempDir('move-target-'), 'store')
      const child = importInto(home)
      const done = exited(child)
      let when: string
      if (i < 2) {
        // Anywhere: mostly while the archive is checked (nothing may be written then).
        const at = Math.floor(whole * Math.random())
        when = `${at} ms of ${whole}`
        await new Promise((r) => setTimeout(r, at))
      } else {
        // While it writes: after its first blob is in place (the second pass has begun).
        const blobs = join(home, 'blobs', 'sha256')
        while (!existsSync(blobs) && (await Promise.race([done.then(() => true), new Promise((r) => setTimeout(() => r(false), 2))])) === false);
        const at = Math.floor(400 * Math.random())
        when = `${at} ms into the second pass`
        await new Promise((r) => setTimeout(r, at))
      }
      child.kill('SIGKILL')
      const code = await done
      const target = local(home)
      expect((await target.verify()).ok, `round ${i}: killed ${when}`).toBe(true)
      const again = await importArchive(target, archive)
      const wrote = again.models.written + again.runs.written + again.blobs.written
      if (code === null && wrote > 0 && wrote < 16) partial++
      if (process.env.MOVE_TEST_LOG) console.log(`round ${i}: killed ${when} (${code === null ? 'killed' : 'had finished'}); the re-run wrote ${again.models.written} models, ${again.runs.written} runs, ${again.blobs.written} blobs, ${again.metric_points.written} points`)
      expect(again.conflicts, `round ${i}`).toEqual([])
      expect(await snapshot(target, run), `round ${i}`).toEqual(expected)
      expect(await importArchive(target, archive), `round ${i}`).toMatchObject({models: {written: 0}, runs: {written: 0}, blobs: {written: 0}, metric_points: {written: 0}})
      expect((await target.verify()).ok).toBe(true)
      await target.close()
    }
    // At least one kill landed after something was written and before all of it was.
    expect(partial).toBeGreaterThan(0)
  }, 180_000)
})

describe('hostile archives', () => {
  const header = `${JSON.stringify({format: 'modelreg-archive', version: 1})}\n`
  async function archive(entries: [string, Buffer | string][], end = true): Promise<string> {
    const {out, bytes} = sink()
    const tar = new TarWriter(out)
    for (const [path, data] of entries) await tar.entry(path, data)
    if (end) await tar.finish()
    const path = join(tempDir('hostile-'), 'x.tar')
    writeFileSync(path, bytes())
    return path
  }
  const good = async () => {
    const work = tempDir('move-work-')
    const source = local()
    await seed(source, work, 10)
    const path = join(work, 'a.tar')
    await toFile(source, path)
    await source.close()
    return readFileSync(path)
  }

  it('refuses path tricks, a blob that does not match its digest, colliding records, lying sizes and truncation; nothing is written', async () => {
    const digest = createHash('sha256').update('real').digest('hex')
    const cases: [string, string, RegExp][] = [
      ['path', await archive([['modelreg-archive.json', header], ['../../etc/passwd', 'x']]), /not part of a modelreg archive/],
      ['absolute', await archive([['modelreg-archive.json', header], ['/blobs/sha256/' + digest, 'real']]), /not part of a modelreg archive/],
      ['digest', await archive([['modelreg-archive.json', header], [`blobs/sha256/${digest}`, 'fake'], ['modelreg-archive-end.json', '{"records":0,"blobs":1}']]), /does not match its digest/],
      ['no end', await archive([['modelreg-archive.json', header]]), /no end record|truncated/],
    ]
    // A good archive with one model record twice: colliding records.
    const bytes = await good()
    const dup = join(tempDir('hostile-'), 'dup.tar')
    let model: Buffer | null = null
    const twice = await rewriteArchive(bytes, async (tar, path, body) => {
      if (path === 'modelreg-archive-end.json') {
        await tar.entry('records/99999999.model.json', model as Buffer)
        const end = JSON.parse(body.toString())
        await tar.entry(path, JSON.stringify({...end, records: end.records + 1}))
        return
      }
      if (path.endsWith('.model.json') && !model) model = body
      await tar.entry(path, body)
    })
    writeFileSync(dup, twice)
    cases.push(['collide', dup, /twice: its records collide/])
    // A size field that lies: the header claims more bytes than the archive holds.
    const lying = Buffer.concat([tarHeader('modelreg-archive.json', header.length), Buffer.from(header.padEnd(512, '\0')), tarHeader(`blobs/sha256/${digest}`, 1_000_000), Buffer.from('real'.padEnd(512, '\0'))])
    const lyingPath = join(tempDir('hostile-'), 'lying.tar')
    writeFileSync(lyingPath, lying)
    cases.push(['lying size', lyingPath, /truncated|lies about its size/])
    // A points entry that breaks the rules, after every blob and record of a good archive.
    const withPoints = async (name: string, points: string) => {
      let replaced = false
      const rewritten = await rewriteArchive(bytes, async (tar, path, body) => {
        if (path.endsWith('.points.json') && !replaced) {
          replaced = true
          await tar.entry(path, points)
        } else await tar.entry(path, body)
      })
      const path = join(tempDir('hostile-'), `${name}.tar`)
      writeFileSync(path, rewritten)
      return path
    }
    const T = '2024-01-01T00:00:00.000Z'
    cases.push(['points not JSON', await withPoints('json', '{"name": "loss", "split": "", "steps": [0'), /not valid JSON/])
    cases.push(['steps going back', await withPoints('back', JSON.stringify({name: 'loss', split: '', steps: [2, 1], values: [1, 2], times: [T, T]})), /increasing/])
    cases.push(['value not a number', await withPoints('value', JSON.stringify({name: 'loss', split: '', steps: [0, 1], values: [1, 'x'], times: [T, T]})), /finite number/])
    cases.push(['time not a time', await withPoints('time', JSON.stringify({name: 'loss', split: '', steps: [0, 1], values: [1, 2], times: [T, 'later']})), /ISO 8601/])
    const {existsSync, readdirSync} = await import('node:fs')
    for (const [name, path, message] of cases) {
      const home = join(tempDir('move-'), 'store')
      const target = local(home)
      await expect(importArchive(target, path), name).rejects.toThrow(message)
      expect((await target.listProjects()).items, name).toEqual([])
      expect(await target.missingBlobs([digest]), name).toEqual([digest])
      // Nothing staged is left behind either.
      expect(existsSync(join(home, 'tmp')) ? readdirSync(join(home, 'tmp')) : [], name).toEqual([])
      expect(existsSync(join(home, 'blobs')) ? readdirSync(join(home, 'blobs', 'sha256')) : [], name).toEqual([])
      await target.close()
    }
    const env = makeCliEnv()
    const cli = await runCli(env, ['import', cases[0][1]])
    expect(cli.code).toBe(2)
    expect(cli.stderr.trim().split('\n')).toHaveLength(1)
    // The CLI hashes on worker threads: a forged blob is found there too (exit 6), nothing kept.
    const forged = await runCli(env, ['import', cases[2][1]])
    expect(forged.code, forged.stderr).toBe(6)
    expect(forged.stderr).toContain('does not match its digest')
    expect(existsSync(join(env.home, 'tmp')) ? readdirSync(join(env.home, 'tmp')) : []).toEqual([])
  }, 120_000)
})

describe('copy', () => {
  it('local -> server -> another local ends identical; a second run moves nothing', async () => {
    const server = await startTestServer()
    const work = tempDir('move-work-')
    const source = local()
    const {run} = await seed(source, work, 5_000)
    const remote = new RemoteBackend({url: server.url, token: server.adminToken, actor: 'x@example.com'})
    const first = await copyStore(source, remote, everything)
    expect(first.blobs.written).toBeGreaterThan(0)
    const second = await copyStore(source, remote, everything)
    expect(second).toMatchObject({blobs: {written: 0, bytes: 0}, models: {written: 0}, runs: {written: 0}, metric_points: {written: 0}})
    const last = local()
    await copyStore(remote, last, everything)
    expect(await snapshot(last, run)).toEqual(await snapshot(source, run))
    expect((await copyStore(remote, last, everything)).blobs.bytes).toBe(0)
    for (const b of [source, remote, last]) await b.close()
    await server.close()
  }, 120_000)

  it('an unchanged store costs one digest request per project and side; a change after the first copy is found', async () => {
    const server = await startTestServer()
    const work = tempDir('move-work-')
    const source = local()
    const {run} = await seed(source, work, 1_000)
    // Count the reads that fetch a whole history: none may happen for what is unchanged.
    const reads: string[] = []
    const counted = new Proxy(source, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver)
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          if (['getVersion', 'listEvents', 'getRun', 'getCheckpoint', 'readMetrics', 'listVersions'].includes(String(key))) reads.push(String(key))
          return value.apply(target, args)
        }
      },
    }) as Backend
    const remote = new RemoteBackend({url: server.url, token: server.adminToken, actor: 'x@example.com'})
    for (const target of [local(), remote]) {
      await copyStore(source, target, everything)
      reads.length = 0
      const again = await copyStore(counted, target, everything)
      expect(again).toMatchObject({models: {written: 0, unchanged: 2, conflicts: 0}, versions: {written: 0, unchanged: 3}, runs: {written: 0, unchanged: 1}, blobs: {written: 0, bytes: 0}})
      expect(reads).toEqual([])
    }
    // Changed at the source after the first copy: a new version, a tag move, a description, a run's new points.
    await pushVersion(source, {project: 'default', model: 'credit-risk', paths: [files(join(work, 'four'), {'m.pkl': 'four'})], author: 'alice@example.com'})
    await source.setTag('default', 'credit-risk', 'prod', '1')
    await source.updateModel('team-a', 'churn', {description: 'churn model, v2'})
    await source.logMetrics(run, fromArray([{name: 'loss', value: 0.5, step: 5_000, time: new Date(1_800_000_000_000).toISOString()}]), {allow_finished: true})
    for (const target of [remote]) {
      const changed = await copyStore(counted, target, everything)
      expect(changed).toMatchObject({models: {written: 2, unchanged: 0, conflicts: 0}, versions: {written: 1}, runs: {written: 1}, metric_points: {written: 1_001}, blobs: {written: 1}})
      expect(await snapshot(target, run)).toEqual(await snapshot(source, run))
      reads.length = 0
      expect(await copyStore(counted, target, everything)).toMatchObject({models: {written: 0, unchanged: 2}, runs: {written: 0, unchanged: 1}, blobs: {written: 0}})
      expect(reads).toEqual([])
    }
    // Changed at the target instead: still a conflict, found and reported, nothing overwritten.
    await remote.setTag('default', 'credit-risk', 'prod', '2')
    const diverged = await copyStore(source, remote, everything)
    expect(diverged.conflicts.map((c) => `${c.kind} ${c.project}/${c.name}`)).toEqual(['model default/credit-risk'])
    expect((await remote.listTags('default', 'credit-risk')).find((t) => t.tag === 'prod')?.version).toBe(2)
    await source.close()
    await remote.close()
    await server.close()
  }, 120_000)

  it('killed with SIGKILL at random points (local -> server -> another local), each re-run finishes it; a last run moves nothing', async () => {
    const work = tempDir('move-work-')
    const env = makeCliEnv()
    const source = new LocalBackend({home: env.home, actor: 'a@example.com'})
    const {run} = await seed(source, work, 10_000)
    // More to move, so a kill can land between blobs, between models, inside a run's points.
    for (let m = 0; m < 8; m++) {
      for (let v = 0; v < 2; v++) {
        const dir = join(work, `bulk-${m}-${v}`)
        const {randomBytes} = await import('node:crypto')
        const {mkdirSync} = await import('node:fs')
        mkdirSync(dir, {recursive: true})
        writeFileSync(join(dir, 'weights.bin'), randomBytes(1024 * 1024))
        // 'bulk' sorts before 'default': these move first, the run's points last.
        await pushVersion(source, {project: 'bulk', model: `bulk-${m}`, paths: [dir], author: 'carol@example.com'})
      }
    }
    const expected = await snapshot(source, run)
    const {spawn} = await import('node:child_process')
    const {BIN} = await import('../helpers/cli.js')
    const copy = (args: string[]) => spawn(process.execPath, [BIN, 'copy', ...args, '--json'], {env: {...env.env, MODELREG_NO_PROGRESS: '1'}, cwd: env.cwd, stdio: 'ignore'})
    const exited = (child: ReturnType<typeof copy>) => new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    const servers: TestServer[] = []
    const targets: Backend[] = []
    // Records and blobs (not points: a run's points are sent whole again when some are missing).
    const records = (r: any) => r.models.written + r.runs.written + r.blobs.written
    // Each server counts the requests it answered; a kill comes after a random number of them.
    const serve = async () => {
      const counter = {n: 0, at: Number.POSITIVE_INFINITY, kill: () => {}}
      const server = await startTestServer({}, (line) => {
        if (/ (GET|POST|PUT|HEAD|PATCH|DELETE) /.test(line) && ++counter.n >= counter.at) counter.kill()
      })
      servers.push(server)
      return {server, counter}
    }

    // A whole copy, counted: local -> server (the server is the next leg's source), server -> local.
    const hub = await serve()
    const full = await runCli(env, ['copy', '--to', hub.server.url, '--to-token', hub.server.adminToken, '--json'])
    expect(full.code, full.stderr).toBe(0)
    const toServer = hub.counter.n
    const fromHub = ['--from', hub.server.url, '--from-token', hub.server.adminToken]
    const before = hub.counter.n
    const fullBack = await runCli(env, ['copy', ...fromHub, '--to', join(tempDir('move-target-'), 'store'), '--json'])
    expect(fullBack.code, fullBack.stderr).toBe(0)
    const fromServer = hub.counter.n - before

    // Rounds: a fresh target, a copy killed after a random number of requests (strata over the
    // whole copy, so the rounds spread from early to late), a re-run, the end state, a last run.
    let partial = 0
    const rounds = 4
    for (let i = 0; i < rounds; i++) {
      const back = i === rounds - 1
      const total = back ? fromServer : toServer
      const kill = 1 + Math.min(total - 2, Math.floor(((total - 1) * (back ? Math.random() : i + Math.random())) / (back ? 1 : rounds - 1)))
      let args: string[]
      let backend: Backend
      let counter: {n: number; at: number; kill: () => void}
      if (back) {
        const home = join(tempDir('move-target-'), 'store')
        args = [...fromHub, '--to', home]
        backend = new LocalBackend({home, actor: 'a@example.com'})
        counter = hub.counter
        counter.at = counter.n + kill
      } else {
        const s = await serve()
        args = ['--to', s.server.url, '--to-token', s.server.adminToken]
        backend = new RemoteBackend({url: s.server.url, token: s.server.adminToken, actor: 'x@example.com'})
        counter = s.counter
        counter.at = kill
      }
      targets.push(backend)
      const child = copy(args)
      counter.kill = () => child.kill('SIGKILL')
      const code = await exited(child)
      counter.at = Number.POSITIVE_INFINITY
      expect(code, `round ${i}: killed after request ${kill} of ${total}, yet it finished`).toBe(null)
      const again = await runCli(env, ['copy', ...args, '--json'])
      expect(again.code, again.stderr).toBe(0)
      const report = again.json()
      expect(report.conflicts).toEqual([])
      const whole = (back ? fullBack : full).json()
      if (records(report) < records(whole)) partial++
      if (process.env.MOVE_TEST_LOG) console.log(`round ${i}: killed after request ${kill} of ${total}; the re-run wrote ${records(report)} records and blobs of ${records(whole)}, ${report.metric_points.written} points`)
      expect(await snapshot(backend, run)).toEqual(expected)
      const last = await runCli(env, ['copy', ...args, '--json'])
      expect(last.json()).toMatchObject({blobs: {written: 0, bytes: 0}, models: {written: 0}, runs: {written: 0}, metric_points: {written: 0}, conflicts: []})
    }
    // At least one kill landed after something was written (the others may have been earlier).
    expect(partial).toBeGreaterThan(0)
    for (const b of targets) await b.close()
    await source.close()
    for (const s of servers) await s.close()
  }, 120_000)
})
