/** SIGKILL a pushing client (local and remote) and the server, at random moments, over and over. */
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {BACKENDS, makeBackendEnv} from '../helpers/backends.js'
import {makeCliEnv, runCli} from '../helpers/cli.js'
import {createToken, spawnServerProcess} from '../helpers/server.js'
import {tempDir} from '../helpers/tmp.js'
import {expectVerifies, freshModel, ITERATIONS, sleep, startCli, TIMEOUT, versionNumbers} from './harness.js'

describe.each(BACKENDS)('a %s push killed at random moments', (backend) => {
  it(`leaves a store that verifies, and the retry succeeds (${ITERATIONS} kills)`, async () => {
    const ctx = await makeBackendEnv(backend)
    // One push timed end to end, to spread the kills over all of its phases.
    const started = Date.now()
    expect((await runCli(ctx, ['models', 'push', 'victim', freshModel(join(ctx.cwd, 'm0'), 6, 1024 * 1024)])).code).toBe(0)
    const duration = Math.max(Date.now() - started, 100)
    let committed = 1
    let inFlight = 0
    for (let i = 1; i <= ITERATIONS; i++) {
      const dir = freshModel(join(ctx.cwd, `m${i}`), 6, 1024 * 1024)
      const push = startCli(ctx, ['models', 'push', 'victim', dir, '--json'])
      await sleep(Math.random() * duration * 1.3)
      push.child.kill('SIGKILL')
      const result = await push.exited
      if (result.code === 0) committed++
      // Killed after its commit (a local push between its COMMIT and its exit, a remote one after
      // its commit request left): the version may be there, and then it is whole (verified below).
      else inFlight++
      await expectVerifies(ctx, `after kill ${i}`)
      // The same push again: it succeeds, and reuses whatever blobs the killed one stored.
      const retry = await runCli(ctx, ['models', 'push', 'victim', dir, '--json'])
      expect(retry.code, retry.stderr).toBe(0)
      committed++
    }
    // Every push that committed has a number; numbers are never duplicated.
    const numbers = await versionNumbers(ctx, 'victim')
    expect(numbers.length).toBeGreaterThanOrEqual(committed)
    expect(numbers.length).toBeLessThanOrEqual(committed + inFlight)
    expect(new Set(numbers).size).toBe(numbers.length)
    await expectVerifies(ctx, 'at the end')
  }, TIMEOUT)
})

describe('the server killed at random moments', () => {
  it(`never leaves a broken version; pushes succeed after a restart (${ITERATIONS} kills)`, async () => {
    const dataDir = join(tempDir('kill-server-'), 'data')
    const token = await createToken(dataDir)
    let server = await spawnServerProcess(dataDir, 0, ['--quiet'])
    const ctx = makeCliEnv({MODELREG_URL: server.url, MODELREG_TOKEN: token})
    const local = makeCliEnv({MODELREG_HOME: dataDir})
    try {
      for (let i = 1; i <= ITERATIONS; i++) {
        const dir = freshModel(join(ctx.cwd, `s${i}`), 4, 1024 * 1024)
        const push = startCli(ctx, ['models', 'push', 'served', dir])
        await sleep(20 + Math.random() * 400)
        await server.stop('SIGKILL')
        await push.exited
        // The server's own store, checked directly.
        await expectVerifies(local, `server store after kill ${i}`)
        server = await spawnServerProcess(dataDir, server.port, ['--quiet'])
        const retry = await runCli(ctx, ['models', 'push', 'served', dir])
        expect(retry.code, retry.stderr).toBe(0)
      }
      await expectVerifies(ctx, 'through the server')
      const numbers = await versionNumbers(ctx, 'served')
      expect(new Set(numbers).size).toBe(numbers.length)
      expect(numbers.length).toBeGreaterThanOrEqual(ITERATIONS)
    } finally {
      await server.stop()
    }
  }, TIMEOUT)
})
