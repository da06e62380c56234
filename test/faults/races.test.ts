/** Writers racing each other and racing gc, on both backends. */
import {createHash} from 'node:crypto'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {BACKENDS, makeBackendEnv} from '../helpers/backends.js'
import {runCli} from '../helpers/cli.js'
import {listFiles} from '../helpers/store.js'
import {expectVerifies, freshModel, RACE_ROUNDS, startCli, TIMEOUT, versionNumbers} from './harness.js'

describe.each(BACKENDS)('races on %s', (backend) => {
  it('16 concurrent writers on one model: every push succeeds, numbers 1..N exactly', async () => {
    const ctx = await makeBackendEnv(backend)
    const writers = 16
    const each = 3
    const results = await Promise.all(
      Array.from({length: writers}, async (_, w) => {
        const codes: number[] = []
        for (let i = 0; i < each; i++) {
          const dir = freshModel(join(ctx.cwd, `w${w}-${i}`), 1, 4096)
          const r = await runCli(ctx, ['models', 'push', 'crowded', dir])
          codes.push(r.code)
          if (r.code !== 0) throw new Error(r.stderr)
        }
        return codes
      }),
    )
    expect(results.flat().every((c) => c === 0)).toBe(true)
    expect(await versionNumbers(ctx, 'crowded')).toEqual(Array.from({length: writers * each}, (_, i) => i + 1))
    await expectVerifies(ctx, 'after the crowd')
  })

  it('two processes uploading the same new blob at once both succeed; it is stored once', async () => {
    const ctx = await makeBackendEnv(backend)
    const dir = freshModel(join(ctx.cwd, 'same'), 1, 48 * 1024 * 1024)
    const digest = createHash('sha256').update(readFileSync(join(dir, 'part-0.bin'))).digest('hex')
    const [a, b] = [startCli(ctx, ['models', 'push', 'twin-a', dir]), startCli(ctx, ['models', 'push', 'twin-b', dir])]
    const [ra, rb] = await Promise.all([a.exited, b.exited])
    expect([ra.code, rb.code], ra.stderr + rb.stderr).toEqual([0, 0])
    expect(listFiles(join(ctx.storeHome, 'blobs')).filter((f) => f.endsWith(digest.slice(2)))).toHaveLength(1)
    expect(readdirSync(join(ctx.storeHome, 'tmp'))).toEqual([])
    await expectVerifies(ctx, 'after the twins')
  })

  it(`a push racing gc --grace 0: both succeed and the version verifies (${RACE_ROUNDS} rounds)`, async () => {
    const ctx = await makeBackendEnv(backend)
    for (let i = 0; i < RACE_ROUNDS; i++) {
      // Garbage for gc to chew on: a version deleted each round.
      const junk = freshModel(join(ctx.cwd, `junk${i}`), 2, 512 * 1024)
      expect((await runCli(ctx, ['models', 'push', 'junk', junk])).code).toBe(0)
      expect((await runCli(ctx, ['models', 'delete', 'junk', '--yes'])).code).toBe(0)
      const dir = freshModel(join(ctx.cwd, `keep${i}`), 3, 1024 * 1024)
      const push = startCli(ctx, ['models', 'push', 'kept', dir, '--json'])
      const gc = startCli(ctx, ['gc', '--grace', '0', '--json'])
      const [p, g] = await Promise.all([push.exited, gc.exited])
      expect(p.code, p.stderr).toBe(0)
      expect(g.code, g.stderr).toBe(0)
      const version = JSON.parse(p.stdout).version.version
      expect((await runCli(ctx, ['verify', `kept:${version}`])).code).toBe(0)
      expect((await runCli(ctx, ['models', 'download', `kept:${version}`, '-o', join(ctx.cwd, `dl${i}`)])).code).toBe(0)
    }
    await expectVerifies(ctx, 'after push/gc races')
  }, TIMEOUT)
})
