/** A million metric points through `runs log --file`, on both backends: flat memory, exact read-back. */
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {createWriteStream} from 'node:fs'
import {join} from 'node:path'
import {once} from 'node:events'
import {describe, expect, it} from 'vitest'
import {splitLines} from '../../src/protocol/lines.js'
import {BACKENDS, makeBackendEnv} from '../helpers/backends.js'
import {BIN, runCli, runCliMeasured} from '../helpers/cli.js'

const MB = 1024 * 1024
const POINTS = 1_000_000

/** Points in storage order (name, split, step), each with its own time; returns the canonical digest. */
async function writePoints(file: string): Promise<string> {
  const out = createWriteStream(file, {highWaterMark: MB})
  const digest = createHash('sha256')
  const per = POINTS / 4
  for (const name of ['acc', 'loss']) {
    for (const split of ['train', 'valid']) {
      let chunk = ''
      for (let step = 0; step < per; step++) {
        const value = Math.sin(step + name.length + split.length) / (step + 1)
        const time = new Date(Date.UTC(2026, 0, 1) + step * 1000).toISOString()
        chunk += `${JSON.stringify({name, value, step, split, time})}\n`
        digest.update(`${name}|${split}|${step}|${value}|${time}\n`)
        if (chunk.length > 512 * 1024) {
          if (!out.write(chunk)) await once(out, 'drain')
          chunk = ''
        }
      }
      out.write(chunk)
    }
  }
  out.end()
  await once(out, 'finish')
  return digest.digest('hex')
}

describe.each(BACKENDS)('a million metric points on %s', (backend) => {
  it('are logged under 200 MB of memory and read back exactly; a retry changes nothing', async () => {
    const ctx = await makeBackendEnv(backend)
    const file = join(ctx.cwd, 'points.ndjson')
    const expected = await writePoints(file)
    const run = (await runCli(ctx, ['runs', 'start', '-e', 'big'])).stdout.trim()
    const logged = await runCliMeasured(ctx, ['runs', 'log', run, '--file', file, '--json'])
    expect(logged.code, logged.stderr).toBe(0)
    expect(logged.json()).toEqual({run, count: POINTS})
    expect(logged.peakRss).toBeGreaterThan(0)
    expect(logged.peakRss).toBeLessThan(200 * MB)

    const readBack = async () => {
      const child = spawn(process.execPath, [BIN, 'runs', 'metrics', run, '--format', 'ndjson'], {cwd: ctx.cwd, env: ctx.env, stdio: ['ignore', 'pipe', 'inherit']})
      const digest = createHash('sha256')
      let count = 0
      for await (const line of splitLines(child.stdout)) {
        if (!line) continue
        const p = JSON.parse(line)
        digest.update(`${p.name}|${p.split}|${p.step}|${p.value}|${p.time}\n`)
        count++
      }
      const [code] = await once(child, 'close')
      return {code, count, digest: digest.digest('hex')}
    }
    expect(await readBack()).toEqual({code: 0, count: POINTS, digest: expected})
    // Retrying the same batch leaves the series as it was.
    expect((await runCli(ctx, ['runs', 'log', run, '--file', file])).code).toBe(0)
    expect(await readBack()).toEqual({code: 0, count: POINTS, digest: expected})
  })
})

describe.each(BACKENDS)('a large points file with a fault deep inside, on %s (parsed on a worker thread, or by the server)', (backend) => {
  const LINES = 150_000 // about 9 MB: over the size that is parsed off the main thread

  async function fileWith(ctx: {cwd: string}, at: number, bad: string): Promise<string> {
    const file = join(ctx.cwd, `faulty-${at}.ndjson`)
    const out = createWriteStream(file)
    let chunk = ''
    for (let i = 1; i <= LINES; i++) {
      chunk += i === at ? `${bad}\n` : `{"name":"loss","value":${1 / i},"step":${i},"split":"train"}\n`
      if (chunk.length > 256 * 1024) {
        if (!out.write(chunk)) await once(out, 'drain')
        chunk = ''
      }
    }
    out.end(chunk)
    await once(out, 'finish')
    return file
  }

  it('names the line that is not JSON or not an object, and the point whose value is wrong', async () => {
    const ctx = await makeBackendEnv(backend)
    const run = (await runCli(ctx, ['runs', 'start', '-e', 'faulty'])).stdout.trim()
    const notJson = await fileWith(ctx, 140_001, '{"name": "loss", "value": ')
    let r = await runCli(ctx, ['runs', 'log', run, '--file', notJson])
    expect([r.code, r.stderr.trim()]).toEqual([2, `Error: --file ${notJson} line 140001: not valid JSON`])
    const notObject = await fileWith(ctx, 120_000, '[1, 2]')
    r = await runCli(ctx, ['runs', 'log', run, '--file', notObject])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`--file ${notObject} line 120000: expected an object`)
    const wrongValue = await fileWith(ctx, 130_000, '{"name": "loss", "value": "high", "step": 5}')
    r = await runCli(ctx, ['runs', 'log', run, '--file', wrongValue])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('metric point 130000 (loss): value must be a finite number')
    const blankAndGivenTimes = await fileWith(ctx, 100, '')
    r = await runCli(ctx, ['runs', 'log', run, '--file', blankAndGivenTimes, '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({run, count: LINES - 1})
  })
})
