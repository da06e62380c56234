/** SIGKILL a push at random moments: the store stays consistent and the next push works. */
import {spawn} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {BIN, makeCliEnv, runCli} from '../helpers/cli.js'
import {checkStore} from '../helpers/store.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('killed pushes', () => {
  it('a push killed with SIGKILL at random moments (24 times) never leaves a broken version', async () => {
    const ctx = makeCliEnv()
    const src = join(ctx.cwd, 'model')
    mkdirSync(src)
    // Time one whole push to spread the kills over all of its phases.
    for (let f = 0; f < 12; f++) writeFileSync(join(src, `part-${f}.bin`), Buffer.alloc(1024 * 1024, f))
    const started = Date.now()
    expect((await runCli(ctx, ['models', 'push', 'crashy', src])).code).toBe(0)
    const duration = Date.now() - started
    let committed = 1
    for (let i = 0; i < 24; i++) {
      // New content each time, so every push has blobs to write.
      writeFileSync(join(src, `part-${i % 12}.bin`), Buffer.alloc(1024 * 1024, 100 + i))
      const child = spawn(process.execPath, [BIN, 'models', 'push', 'crashy', src, '--json'], {cwd: ctx.cwd, env: ctx.env, stdio: 'ignore'})
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
      await sleep(Math.floor(Math.random() * duration * 1.2))
      child.kill('SIGKILL')
      if ((await exited) === 0) committed++
      const check = checkStore(ctx.home)
      expect(check.problems, `after kill ${i}`).toEqual([])
      expect(check.versions).toBeGreaterThanOrEqual(committed)
    }
    const r = await runCli(ctx, ['models', 'push', 'crashy', src, '--json'])
    expect(r.code).toBe(0)
    const check = checkStore(ctx.home)
    expect(check.problems).toEqual([])
    // Numbers are dense among committed versions, and the last push got the highest.
    const versions = (await runCli(ctx, ['models', 'list-versions', 'crashy', '--limit', '1000', '--json'])).json()
    expect(versions.items[0].version).toBe(r.json().version.version)
    expect(versions.total).toBe(check.versions)
  })
})
