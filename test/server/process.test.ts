/** A real server process: killed mid-upload and mid-download, stopped gracefully, measured. */
import {createHash} from 'node:crypto'
import {spawn} from 'node:child_process'
import {closeSync, createReadStream, existsSync, mkdirSync, openSync, readdirSync, statSync, writeFileSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {request} from 'undici'
import {describe, expect, it} from 'vitest'
import {BIN, type CliEnv, makeCliEnv, runCli, watchPeakRss} from '../helpers/cli.js'
import {createToken, spawnServerProcess} from '../helpers/server.js'
import {tempDir} from '../helpers/tmp.js'

const MB = 1024 * 1024

function bigFile(path: string, size: number, seed: number): string {
  const fd = openSync(path, 'w')
  const block = Buffer.alloc(MB)
  for (let i = 0; i * MB < size; i++) {
    block.fill((i + seed) % 251)
    block.writeUInt32LE(i, 0)
    writeSync(fd, block, 0, Math.min(MB, size - i * MB))
  }
  closeSync(fd)
  return path
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, {highWaterMark: MB})) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Resolve once `probe` returns true (polled), or fail after `ms`. */
async function waitUntil(probe: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function filesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : []
}

/** Start the CLI in the background. */
function startCli(ctx: CliEnv, args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], {cwd: ctx.cwd, env: ctx.env, stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c) => (stdout += c))
  child.stderr.on('data', (c) => (stderr += c))
  const done = new Promise<{code: number | null; stdout: string; stderr: string}>((resolve) => child.on('close', (code) => resolve({code, stdout, stderr})))
  return {child, done}
}

describe('server process', () => {
  it('killed during an upload: the push fails clearly, no version appears, and the same push succeeds after a restart', async () => {
    const dataDir = join(tempDir('kill-up-'), 'data')
    const token = await createToken(dataDir)
    let server = await spawnServerProcess(dataDir)
    const ctx = makeCliEnv({MODELREG_URL: server.url, MODELREG_TOKEN: token})
    const file = bigFile(join(ctx.cwd, 'weights.bin'), 256 * MB, 1)
    const push = startCli(ctx, ['models', 'push', 'big', file])
    // Kill the server once it is writing the blob.
    await waitUntil(() => filesIn(join(dataDir, 'tmp')).some((f) => statSync(join(dataDir, 'tmp', f)).size > 0))
    await server.stop('SIGKILL')
    const failed = await push.done
    expect(failed.code).toBe(7)
    expect(failed.stdout).toBe('')
    expect(failed.stderr).toMatch(new RegExp(`^Error: cannot reach the modelreg server at ${server.url.replace(/\./g, '\\.')}`))
    expect(failed.stderr.trim().split('\n')).toHaveLength(1)

    server = await spawnServerProcess(dataDir, server.port)
    try {
      const none = await runCli(ctx, ['models', 'show', 'big', '--json'])
      expect(none.code).toBe(3)
      const again = await runCli(ctx, ['models', 'push', 'big', file, '--json'])
      expect(again.code, again.stderr).toBe(0)
      expect(again.json().version.version).toBe(1)
      const out = join(ctx.cwd, 'out')
      expect((await runCli(ctx, ['models', 'download', 'big', '-o', out])).code).toBe(0)
      expect(await sha256(join(out, 'weights.bin'))).toBe(await sha256(file))
    } finally {
      await server.stop()
    }
  })

  it('killed during a download: nothing at the final path; the retry resumes and verifies', async () => {
    const dataDir = join(tempDir('kill-down-'), 'data')
    const token = await createToken(dataDir)
    let server = await spawnServerProcess(dataDir)
    const ctx = makeCliEnv({MODELREG_URL: server.url, MODELREG_TOKEN: token})
    const file = bigFile(join(ctx.cwd, 'weights.bin'), 256 * MB, 2)
    expect((await runCli(ctx, ['models', 'push', 'big', file])).code).toBe(0)
    const out = join(ctx.cwd, 'out')
    const download = startCli(ctx, ['models', 'download', 'big', '-o', out, '--json'])
    const part = () => filesIn(out).find((f) => f.endsWith('.modelreg-part'))
    await waitUntil(() => {
      const name = part()
      return name !== undefined && statSync(join(out, name)).size > 8 * MB
    })
    await server.stop('SIGKILL')
    const failed = await download.done
    expect(failed.code).toBe(7)
    expect(existsSync(join(out, 'weights.bin'))).toBe(false)
    const kept = part()
    expect(kept).toBeDefined()
    const keptBytes = statSync(join(out, kept as string)).size

    server = await spawnServerProcess(dataDir, server.port)
    try {
      const retry = await runCli(ctx, ['models', 'download', 'big', '-o', out, '--json'])
      expect(retry.code, retry.stderr).toBe(0)
      expect(retry.json().resumed_bytes).toBeGreaterThanOrEqual(keptBytes)
      expect(retry.json().resumed_bytes).toBeGreaterThan(0)
      expect(await sha256(join(out, 'weights.bin'))).toBe(await sha256(file))
      expect(part()).toBeUndefined()
    } finally {
      await server.stop()
    }
  })

  it('a resumed download hashes the kept prefix too: a part file with wrong bytes is refused (exit 6) and removed, the next download succeeds', async () => {
    const dataDir = join(tempDir('tail-hash-'), 'data')
    const token = await createToken(dataDir)
    const server = await spawnServerProcess(dataDir)
    try {
      const ctx = makeCliEnv({MODELREG_URL: server.url, MODELREG_TOKEN: token})
      const file = bigFile(join(ctx.cwd, 'weights.bin'), 96 * MB, 3)
      expect((await runCli(ctx, ['models', 'push', 'big', file])).code).toBe(0)
      const digest = await sha256(file)
      const out = join(ctx.cwd, 'out')
      mkdirSync(out)
      // A "kept prefix" of 10 MB that is not the blob's: resuming would append the right rest.
      const part = join(out, `.weights.bin.${digest.slice(0, 16)}.modelreg-part`)
      writeFileSync(part, Buffer.alloc(10 * MB, 7))
      const refused = await runCli(ctx, ['models', 'download', 'big', '-o', out, '--json'])
      expect(refused.code).toBe(6)
      expect(refused.json().error.message).toMatch(/sha256 mismatch/)
      expect(existsSync(part)).toBe(false)
      expect(existsSync(join(out, 'weights.bin'))).toBe(false)
      const retry = await runCli(ctx, ['models', 'download', 'big', '-o', out, '--json'])
      expect(retry.code, retry.stderr).toBe(0)
      expect(retry.json().resumed_bytes).toBe(0)
      expect(await sha256(join(out, 'weights.bin'))).toBe(digest)
    } finally {
      await server.stop()
    }
  })

  it('stops gracefully on SIGTERM: a download in flight completes, then the server exits 0', async () => {
    const dataDir = join(tempDir('graceful-'), 'data')
    const token = await createToken(dataDir)
    const server = await spawnServerProcess(dataDir)
    const ctx = makeCliEnv({MODELREG_URL: server.url, MODELREG_TOKEN: token})
    const file = bigFile(join(ctx.cwd, 'w.bin'), 128 * MB, 3)
    const pushed = await runCli(ctx, ['models', 'push', 'm', file, '--json'])
    const digest = pushed.json().version.files[0].sha256
    const response = await request(`${server.url}/api/v1/blobs/sha256/${digest}`, {headers: {authorization: `Bearer ${token}`}})
    const hash = createHash('sha256')
    let signalled = false
    let exit: Promise<number | null> | undefined
    for await (const chunk of response.body) {
      hash.update(chunk as Buffer)
      if (!signalled) {
        signalled = true
        exit = server.stop('SIGTERM')
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
    expect(hash.digest('hex')).toBe(digest)
    expect(await exit).toBe(0)
    expect(server.stderr()).toMatch(/SIGTERM: finishing in-flight requests/)
  })

  it('stays under 250 MB of resident memory while a large file goes up and comes down', async () => {
    const dataDir = join(tempDir('server-mem-'), 'data')
    const token = await createToken(dataDir)
    const server = await spawnServerProcess(dataDir, 0, ['--quiet'])
    const watch = watchPeakRss(server.child.pid as number)
    try {
      const ctx = makeCliEnv({MODELREG_URL: server.url, MODELREG_TOKEN: token})
      const file = bigFile(join(ctx.cwd, 'w.bin'), 384 * MB, 4)
      expect((await runCli(ctx, ['models', 'push', 'm', file])).code).toBe(0)
      expect((await runCli(ctx, ['models', 'download', 'm', '-o', join(ctx.cwd, 'out')])).code).toBe(0)
      const peak = watch.stop()
      expect(peak).toBeGreaterThan(0)
      expect(peak).toBeLessThan(250 * MB)
    } finally {
      watch.stop()
      await server.stop()
    }
  })
})
