/**
 * Interrupts and mistakes a person makes in the first minutes: Ctrl-C (SIGINT) in the middle of
 * a transfer (one line, exit 130, nothing half-written), https:// against a plain-HTTP server.
 */
import {spawn, spawnSync} from 'node:child_process'
import {closeSync, ftruncateSync, openSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {BIN, makeCliEnv, runCli} from '../helpers/cli.js'
import {startTestServer} from '../helpers/server.js'

describe('Ctrl-C during a transfer', () => {
  it('a push interrupted mid-upload says so in one line, exits 130 and commits nothing', async () => {
    const ctx = makeCliEnv()
    const big = join(ctx.cwd, 'weights.bin')
    const fd = openSync(big, 'w')
    ftruncateSync(fd, 3 * 1024 ** 3) // sparse: quick to make, seconds to hash and copy
    closeSync(fd)
    expect((await runCli(ctx, ['models', 'create', 'big', '--json'])).code).toBe(0)
    const child = spawn(process.execPath, [BIN, 'models', 'push', 'big', big], {cwd: ctx.cwd, env: ctx.env, stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (c) => (stderr += c))
    // Interrupt once the upload has begun: the store's temporary blob file exists.
    const started = Date.now()
    const {readdirSync, existsSync} = await import('node:fs')
    const tmp = join(ctx.home, 'tmp')
    while (!(existsSync(tmp) && readdirSync(tmp).length > 0) && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 20))
    child.kill('SIGINT')
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
    expect([code, stderr.trim()]).toEqual([130, 'interrupted: nothing was committed; run the same command again'])
    const versions = await runCli(ctx, ['models', 'list-versions', 'big', '--json'])
    expect(versions.json().items).toEqual([])
    const verify = await runCli(ctx, ['verify', '--json'])
    expect(verify.code, verify.stdout).toBe(0)
  }, 120_000)

  it('https:// against a plain-HTTP server: exit 7 and says so, not OpenSSL\'s text', async () => {
    const srv = await startTestServer()
    try {
      const https = srv.url.replace('http:', 'https:')
      const ctx = makeCliEnv({MODELREG_URL: https, MODELREG_TOKEN: srv.adminToken})
      const r = await runCli(ctx, ['models', 'list'])
      expect([r.code, r.stderr.trim()]).toEqual([7, `Error: the server at ${https} speaks plain HTTP, not HTTPS: use ${srv.url} (or give the server a TLS certificate)`])
    } finally {
      await srv.close()
    }
  })

  it('models download -o - on a terminal refuses to write the archive there, unless --force', async () => {
    const ctx = makeCliEnv()
    writeFileSync(join(ctx.cwd, 'w.bin'), 'weights')
    expect((await runCli(ctx, ['models', 'push', 'm', join(ctx.cwd, 'w.bin'), '--json'])).code).toBe(0)
    const onTerminal = (args: string) =>
      spawnSync('script', ['-qec', `${process.execPath} ${BIN} models download m -o - ${args}; echo "exit=$?"`, '/dev/null'], {cwd: ctx.cwd, env: {...ctx.env, TERM: 'xterm', NO_COLOR: '1'}, encoding: 'latin1'})
    const refused = onTerminal('')
    expect(refused.stdout).toContain('Error: -o - would write a tar archive to the terminal; pipe it (| tar -x) or redirect it (> model.tar), or add --force')
    expect(refused.stdout).toContain('exit=2')
    const forced = onTerminal('--force')
    expect(forced.stdout).toContain('exit=0')
    expect(forced.stdout).toContain('w.bin')
    // Piped, as always: the archive.
    const piped = await runCli(ctx, ['models', 'download', 'm', '-o', '-'])
    expect(piped.code).toBe(0)
    expect(piped.stdoutBytes.subarray(257, 262).toString()).toBe('ustar')
  })
})
