import {spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {BIN, makeCliEnv, runCli} from '../helpers/cli.js'

describe('events', () => {
  it('lists the latest events oldest first, with filters', async () => {
    const ctx = makeCliEnv()
    writeFileSync(join(ctx.cwd, 'w.bin'), 'w')
    await runCli(ctx, ['models', 'push', 'a', 'w.bin'])
    await runCli(ctx, ['models', 'push', 'b', 'w.bin', '--tag', 'prod'])
    let r = await runCli(ctx, ['events', '--json'])
    expect(r.json().items.map((e: {type: string}) => e.type)).toEqual([
      'project.created',
      'model.created',
      'version.created',
      'model.created',
      'version.created',
      'tag.set',
    ])
    r = await runCli(ctx, ['events', '--limit', '2', '--json'])
    expect(r.json().items.map((e: {type: string}) => e.type)).toEqual(['version.created', 'tag.set'])
    r = await runCli(ctx, ['events', '--model', 'a', '--type', 'version.created', '--json'])
    expect(r.json().items).toHaveLength(1)
    expect(r.json().items[0]).toMatchObject({model: 'a', version: 1, actor: 'tester@example.com'})
    r = await runCli(ctx, ['events', '--since', '1h', '--json'])
    expect(r.json().total).toBe(6)
    r = await runCli(ctx, ['events', '--since', 'last tuesday'])
    expect(r.code).toBe(2)
    r = await runCli(ctx, ['events', '-p', 'other', '--json'])
    expect(r.json().total).toBe(0)
    r = await runCli(ctx, ['events', '-p', 'other', '--all-projects', '--json'])
    expect(r.json().total).toBe(6)
    r = await runCli(ctx, ['events'])
    expect(r.stdout.trim().split('\n')).toHaveLength(6)
  })

  it('--follow --json streams new events as NDJSON until interrupted', async () => {
    const ctx = makeCliEnv()
    writeFileSync(join(ctx.cwd, 'w.bin'), 'w')
    await runCli(ctx, ['models', 'create', 'before'])
    const follower = spawn(process.execPath, [BIN, 'events', '--follow', '--json', '--type', 'version.created'], {cwd: ctx.cwd, env: ctx.env})
    let out = ''
    follower.stdout.on('data', (c) => (out += c))
    const waitFor = async (predicate: () => boolean) => {
      for (let i = 0; i < 200 && !predicate(); i++) await new Promise((r) => setTimeout(r, 50))
    }
    await new Promise((r) => setTimeout(r, 500))
    await runCli(ctx, ['models', 'push', 'after', 'w.bin'])
    await runCli(ctx, ['models', 'push', 'after', 'w.bin'])
    await waitFor(() => out.trim().split('\n').length >= 2)
    follower.kill('SIGINT')
    const code = await new Promise((r) => follower.on('exit', (c) => r(c)))
    expect(code).toBe(0)
    const lines = out.trim().split('\n').map((l) => JSON.parse(l))
    expect(lines.map((e) => [e.type, e.model, e.version])).toEqual([
      ['version.created', 'after', 1],
      ['version.created', 'after', 2],
    ])
  })
})
