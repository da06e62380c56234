/**
 * A full disk and a damaged store. The disk-full case runs on a real 24 MiB tmpfs when the
 * machine lets the test mount one (it does here: root); otherwise on an injected ENOSPC at the
 * write layer (a preload that fails writes past a budget). docs/integrity.md says which ran.
 */
import {execFileSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readdirSync, rmSync, unlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {BACKENDS, makeBackendEnv} from '../helpers/backends.js'
import {makeCliEnv, runCli} from '../helpers/cli.js'
import {listFiles} from '../helpers/store.js'
import {markDamaged, tempDir} from '../helpers/tmp.js'
import {expectVerifies, freshModel} from './harness.js'

const mounted: string[] = []
afterAll(() => {
  for (const dir of mounted) execFileSync('umount', [dir])
})

function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], {stdio: 'ignore'})
    mounted.push(dir)
    return true
  } catch {
    return false
  }
}

const PRELOAD = join(import.meta.dirname, 'enospc-preload.cjs')

describe('a full disk', () => {
  it('fails the write with a clear message, keeps the store consistent, and works again once space is freed', async () => {
    const base = tempDir('diskfull-')
    const mount = join(base, 'small')
    mkdirSync(mount)
    const real = !process.env.FORCE_ENOSPC_INJECTION && mountTmpfs(mount, '24m')
    const home = join(mount, 'store')
    const ctx = makeCliEnv({MODELREG_HOME: home, ...(real ? {} : {NODE_OPTIONS: `--require ${PRELOAD}`, ENOSPC_BUDGET_BYTES: String(16 * 1024 * 1024)})})
    process.stdout.write(`disk-full test: ${real ? 'a 24 MiB tmpfs' : 'an injected ENOSPC (tmpfs could not be mounted)'}\n`)
    expect((await runCli(ctx, ['models', 'push', 'm', freshModel(join(ctx.cwd, 'small'), 1, 1024 * 1024)])).code).toBe(0)

    // A 32 MiB file does not fit.
    const big = freshModel(join(ctx.cwd, 'big'), 1, 32 * 1024 * 1024)
    const full = await runCli(ctx, ['models', 'push', 'm', big])
    expect(full.code).toBe(1)
    expect(full.stderr).toMatch(/^Error: [^\n]*no space left[^\n]*\n$/)
    expect(readdirSync(join(home, 'tmp'))).toEqual([]) // no partial file anywhere
    expect((await runCli(ctx, ['models', 'list-versions', 'm', '--json'])).json().total).toBe(1)
    await expectVerifies(ctx, 'after ENOSPC on a blob')

    if (real) {
      // Fill the disk to the last byte: now even the database cannot grow.
      const filler = join(mount, 'filler')
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=64'], {stdio: 'ignore'})
      } catch {
        // dd stops when the disk is full, as intended
      }
      const db = await runCli(ctx, ['models', 'create', `no-room-${Date.now()}`])
      expect(db.code).toBe(1)
      expect(db.stderr).toMatch(/^Error: [^\n]*no space left[^\n]*\n$/)
      unlinkSync(filler)
    }
    // Space freed: everything works again, and nothing was half-written.
    const again = await runCli(ctx, ['models', 'push', 'm', freshModel(join(ctx.cwd, 'after'), 2, 1024 * 1024), '--json'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.json().version.version).toBe(2)
    await expectVerifies(ctx, 'after space was freed')
  })
})

describe.each(BACKENDS)('a damaged store on %s', (backend) => {
  it('a flipped byte, a truncated and a deleted blob: each reported by verify (exit 6) and refused by download', async () => {
    const ctx = await makeBackendEnv(backend)
    for (const model of ['flip', 'trunc', 'gone', 'fine']) {
      expect((await runCli(ctx, ['models', 'push', model, freshModel(join(ctx.cwd, model), 1, 256 * 1024)])).code).toBe(0)
    }
    const blobOf = async (model: string) => {
      const digest = (await runCli(ctx, ['models', 'show', model, '--json'])).json().files[0].sha256 as string
      return join(ctx.storeHome, 'blobs', 'sha256', digest.slice(0, 2), digest.slice(2))
    }
    markDamaged(ctx.storeHome)
    const flip = await blobOf('flip')
    chmodSync(flip, 0o644)
    const bytes = Buffer.from(execFileSync('cat', [flip]))
    bytes[1000] ^= 0x01
    writeFileSync(flip, bytes)
    const trunc = await blobOf('trunc')
    chmodSync(trunc, 0o644)
    writeFileSync(trunc, bytes.subarray(0, 100))
    rmSync(await blobOf('gone'))

    const report = await runCli(ctx, ['verify', '--json'])
    expect(report.code).toBe(6)
    const problems = report.json().problems as {kind: string; versions: string[]}[]
    expect(problems.map((p) => `${p.kind} ${p.versions.join(',')}`).sort()).toEqual([
      'blob_digest default/flip:1',
      'blob_missing default/gone:1',
      'blob_size default/trunc:1',
    ])
    const human = await runCli(ctx, ['verify'])
    expect(human.code).toBe(6)
    expect(human.stdout).toMatch(/^blob_digest: blob [0-9a-f]{64} does not match its digest/m)
    expect(human.stdout).toMatch(/3 problems\.\n$/)
    expect((await runCli(ctx, ['verify', 'fine'])).code).toBe(0)
    for (const model of ['flip', 'trunc', 'gone']) {
      const out = join(ctx.cwd, `out-${model}`)
      const r = await runCli(ctx, ['models', 'download', model, '-o', out])
      expect(r.code, model).toBe(model === 'gone' ? 3 : 6)
      expect(existsSync(join(out, 'part-0.bin'))).toBe(false)
      expect(listFiles(out).filter((f) => !f.includes('modelreg-part'))).toEqual([])
    }
  })
})
