/**
 * The database's files removed or replaced under a live process (a cleanup script deleting
 * `registry.db-wal`, a copy of the `.db` alone): no acknowledged version is lost, and a process
 * that can no longer write says so in one line.
 */
import {spawn} from 'node:child_process'
import {readdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {request} from 'undici'
import {describe, expect, it} from 'vitest'
import {LocalBackend} from '../../src/backends/local/local-backend.js'
import {makeCliEnv, ROOT, runCli} from '../helpers/cli.js'
import {createToken, spawnServerProcess} from '../helpers/server.js'
import {tempDir} from '../helpers/tmp.js'

async function health(url: string): Promise<{status: number; body: any}> {
  const r = await request(`${url}/healthz`)
  return {status: r.statusCode, body: await r.body.json()}
}

/** The versions of `model` in a store directory, and whether verify finds it clean. */
async function versionsIn(home: string, model: string): Promise<{versions: number[]; ok: boolean}> {
  const backend = new LocalBackend({home, actor: 'test'})
  try {
    const page = await backend.listVersions('default', model)
    const report = await backend.verify()
    return {versions: page.items.map((v) => v.version).sort((a, b) => a - b), ok: report.ok}
  } finally {
    await backend.close()
  }
}

describe('database files removed under a live process', () => {
  it('a server whose -wal is deleted between pushes loses no acknowledged version, even killed right after', async () => {
    const dataDir = join(tempDir('wal-gone-'), 'data')
    const token = await createToken(dataDir)
    let server = await spawnServerProcess(dataDir)
    const ctx = makeCliEnv({MODELREG_URL: server.url, MODELREG_TOKEN: token})
    const push = async (n: number) => {
      writeFileSync(join(ctx.cwd, 'model.bin'), `weights ${n}`)
      const r = await runCli(ctx, ['models', 'push', 'm', join(ctx.cwd, 'model.bin'), '--json'])
      expect(r.code, r.stderr).toBe(0)
      return r.json().version.version as number
    }
    try {
      expect([await push(1), await push(2)]).toEqual([1, 2])
      rmSync(join(dataDir, 'registry.db-wal'))
      expect(await push(3)).toBe(3)
      // Deleted again, and this time only the periodic check (or /healthz) notices before the kill.
      rmSync(join(dataDir, 'registry.db-wal'))
      expect((await health(server.url)).status).toBe(200)
      expect(await push(4)).toBe(4)
      rmSync(join(dataDir, 'registry.db-wal'))
      rmSync(join(dataDir, 'registry.db-shm'))
      await new Promise((resolve) => setTimeout(resolve, 2500))
    } finally {
      await server.stop('SIGKILL')
    }
    expect(await versionsIn(dataDir, 'm')).toEqual({versions: [1, 2, 3, 4], ok: true})
    server = await spawnServerProcess(dataDir, server.port)
    try {
      expect(await push(5)).toBe(5)
      const log = await runCli(ctx, ['models', 'list-versions', 'm', '--json'])
      expect(log.json().items.map((v: {version: number}) => v.version)).toEqual([5, 4, 3, 2, 1])
    } finally {
      await server.stop()
    }
  })

  it('a server whose database file is deleted stops writing, fails /healthz in one line, and saves what it held', async () => {
    const dataDir = join(tempDir('db-gone-'), 'data')
    const token = await createToken(dataDir)
    const server = await spawnServerProcess(dataDir)
    const ctx = makeCliEnv({MODELREG_URL: server.url, MODELREG_TOKEN: token})
    writeFileSync(join(ctx.cwd, 'model.bin'), 'weights')
    try {
      expect((await runCli(ctx, ['models', 'push', 'm', join(ctx.cwd, 'model.bin')])).code).toBe(0)
      expect((await runCli(ctx, ['models', 'tag', 'm:1', 'prod'])).code).toBe(0)
      for (const suffix of ['', '-wal', '-shm']) rmSync(join(dataDir, `registry.db${suffix}`), {force: true})
      const h = await health(server.url)
      expect(h.status).toBe(503)
      expect(h.body.error.code).toBe('unavailable')
      expect(h.body.error.message).toMatch(/^the store stopped taking writes: registry\.db was removed or replaced while this process had it open; what this process held is saved in .*registry\.db\.rescued-/)
      const refused = await runCli(ctx, ['models', 'push', 'm', join(ctx.cwd, 'model.bin')])
      expect(refused.code).toBe(7)
      expect(refused.stderr.trim().split('\n')).toHaveLength(1)
      expect(refused.stderr).toMatch(/stopped taking writes/)
      expect(server.stderr()).toMatch(/the store stopped taking writes/)
    } finally {
      await server.stop('SIGKILL')
    }
    // The rescued copy holds the version and its tag: put in place, the store is whole again.
    const rescued = readdirSync(dataDir).filter((f) => f.startsWith('registry.db.rescued-'))
    expect(rescued).toHaveLength(1)
    renameSync(join(dataDir, rescued[0]), join(dataDir, 'registry.db'))
    const backend = new LocalBackend({home: dataDir, actor: 'test'})
    try {
      expect((await backend.listTags('default', 'm')).map((t) => [t.tag, t.version])).toContainEqual(['prod', 1])
      expect((await backend.verify()).ok).toBe(true)
    } finally {
      await backend.close()
    }
  })

  it('the library notices too: a long-lived process keeps every version when its -wal is deleted', async () => {
    const home = join(tempDir('wal-lib-'), 'store')
    // A child that pushes, waits to be told, pushes again, reports, and is then SIGKILLed.
    const model = join(home, '..', 'model.bin')
    const script = `
      import {openRegistry} from 'modelreg'
      import {writeFileSync} from 'node:fs'
      const registry = await openRegistry({home: ${JSON.stringify(home)}, backend: 'local'})
      const push = async (n) => {
        writeFileSync(${JSON.stringify(model)}, 'weights ' + n)
        const r = await registry.push('m', [${JSON.stringify(model)}])
        process.stdout.write('pushed ' + r.version.version + '\\n')
      }
      await push(1)
      process.stdin.once('data', async () => { await push(2); await push(3); setInterval(() => {}, 1000) })
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {cwd: ROOT, env: {PATH: process.env.PATH, HOME: home, MODELREG_AUTHOR: 'lib'}, stdio: ['pipe', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.on('data', (c) => (out += c))
    child.stderr.on('data', (c) => (err += c))
    const until = async (text: string) => {
      const deadline = Date.now() + 30_000
      while (!out.includes(text)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`child: ${out} ${err}`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    await until('pushed 1')
    rmSync(join(home, 'registry.db-wal'))
    child.stdin.write('go\n')
    await until('pushed 3')
    child.kill('SIGKILL')
    await new Promise((resolve) => child.on('close', resolve))
    expect(await versionsIn(home, 'm')).toEqual({versions: [1, 2, 3], ok: true})
  })

  it('a CLI command that meets a store whose -wal vanished under another process says so in one line', async () => {
    const ctx = makeCliEnv()
    writeFileSync(join(ctx.cwd, 'model.bin'), 'weights')
    expect((await runCli(ctx, ['models', 'push', 'm', join(ctx.cwd, 'model.bin')])).code).toBe(0)
    // Another program (an older tool, a sqlite3 shell) holds the database open with commits in its WAL.
    const other = new Database(join(ctx.home, 'registry.db'))
    try {
      other.pragma('journal_mode = WAL')
      other.prepare("INSERT INTO projects (name, name_key, created_at) VALUES ('x', 'x', 't')").run()
      rmSync(join(ctx.home, 'registry.db-wal'))
      for (const args of [['models'], ['models', 'push', 'm', join(ctx.cwd, 'model.bin')]]) {
        const r = await runCli(ctx, args)
        expect(r.code, args.join(' ')).toBe(6)
        expect(r.stderr.trim().split('\n')).toHaveLength(1)
        expect(r.stderr).toMatch(/-wal file was likely removed while another process had the store open/)
        expect(r.stderr).not.toMatch(/disk I\/O error/)
      }
    } finally {
      other.close()
    }
  })
})
