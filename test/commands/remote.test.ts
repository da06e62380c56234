/** The CLI against a server: auth failures, an unreachable server, profiles, following events. */
import {spawn} from 'node:child_process'
import {createServer} from 'node:net'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN, makeCliEnv, runCli} from '../helpers/cli.js'
import {startTestServer, type TestServer} from '../helpers/server.js'

let srv: TestServer
beforeAll(async () => {
  srv = await startTestServer()
})
afterAll(async () => {
  await srv?.close()
})

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as {port: number}).port
      s.close(() => resolve(port))
    })
  })
}

describe('remote backend from the CLI', () => {
  it('exit 5 without a token, with a bad token, and with a read token that tries to write', async () => {
    const ctx = makeCliEnv({MODELREG_URL: srv.url})
    writeFileSync(join(ctx.cwd, 'w.bin'), 'w')
    let r = await runCli(ctx, ['models'])
    expect(r.code).toBe(5)
    expect(r.stderr).toBe('Error: this server requires a token: set MODELREG_TOKEN or a profile token\n')
    r = await runCli(ctx, ['models', '--json'], {env: {MODELREG_TOKEN: 'mr_wrongwrongwrongwrongwrongwrongwrongwrongwro'}})
    expect(r.code).toBe(5)
    expect(r.json()).toEqual({error: {code: 'unauthenticated', message: 'the token is not valid (unknown or revoked)'}})
    const read = await srv.token('read')
    r = await runCli(ctx, ['models', 'push', 'm', 'w.bin'], {env: {MODELREG_TOKEN: read}})
    expect(r.code).toBe(5)
    expect(r.stderr).toMatch(/^Error: this needs a token with write scope; token "[^"]+" has read\n$/)
    r = await runCli(ctx, ['models'], {env: {MODELREG_TOKEN: read}})
    expect(r.code).toBe(0)
  })

  it('exit 7 naming the URL when the server cannot be reached', async () => {
    const url = `http://127.0.0.1:${await freePort()}`
    const ctx = makeCliEnv({MODELREG_URL: url, MODELREG_TOKEN: srv.adminToken})
    let r = await runCli(ctx, ['models'])
    expect(r.code).toBe(7)
    expect(r.stderr).toBe(`Error: cannot reach the modelreg server at ${url}: connection refused\n`)
    r = await runCli(ctx, ['models', 'show', 'x:1', '--json'])
    expect(r.code).toBe(7)
    expect(r.json().error.code).toBe('unavailable')
    r = await runCli(ctx, ['models'], {env: {MODELREG_URL: 'ftp://nowhere'}})
    expect(r.code).toBe(2)
  })

  it('a profile points the same commands at the server; config show masks its token', async () => {
    const ctx = makeCliEnv()
    await runCli(ctx, ['config', 'set', 'profiles.team.url', srv.url])
    await runCli(ctx, ['config', 'set', 'profiles.team.token', srv.adminToken])
    writeFileSync(join(ctx.cwd, 'w.bin'), 'weights')
    const pushed = await runCli(ctx, ['models', 'push', 'shared', 'w.bin', '--profile', 'team', '--json'])
    expect(pushed.code, pushed.stderr).toBe(0)
    const listed = await runCli(ctx, ['models', '--json'], {env: {MODELREG_PROFILE: 'team'}})
    expect(listed.json().items.map((m: {name: string}) => m.name)).toContain('shared')
    const local = await runCli(ctx, ['models', '--json'])
    expect(local.json().total).toBe(0) // without the profile: the local store
    const shown = await runCli(ctx, ['config', 'show', '--profile', 'team'])
    expect(shown.stdout).toMatch(/backend\s+remote\s+profile/)
    expect(shown.stdout).not.toContain(srv.adminToken)
    expect(shown.stdout).not.toContain(srv.adminToken.slice(8))
  })

  it('events --follow streams from the server as NDJSON', async () => {
    const ctx = makeCliEnv({MODELREG_URL: srv.url, MODELREG_TOKEN: srv.adminToken})
    writeFileSync(join(ctx.cwd, 'w.bin'), 'w')
    const follower = spawn(process.execPath, [BIN, 'events', '--follow', '--json', '--model', 'followed'], {cwd: ctx.cwd, env: ctx.env})
    let out = ''
    follower.stdout.on('data', (c) => (out += c))
    await new Promise((resolve) => setTimeout(resolve, 700))
    await runCli(ctx, ['models', 'push', 'followed', 'w.bin', '--tag', 'prod'])
    for (let i = 0; i < 200 && out.trim().split('\n').length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    follower.kill('SIGINT')
    expect(await new Promise((resolve) => follower.on('exit', resolve))).toBe(0)
    const events = out.trim().split('\n').map((line) => JSON.parse(line))
    expect(events.map((e) => e.type)).toEqual(['model.created', 'version.created', 'tag.set'])
    expect(events[1]).toMatchObject({model: 'followed', version: 1, actor: 'tester@example.com', data: {token: 'admin'}})
  })
})
