/**
 * Progress on a terminal that reports no size (CI runners, `docker run -t`, IDE terminals):
 * a push and a download under `script` (a pseudo-terminal of 0 columns) finish, and their
 * progress output stays small, on both backends.
 */
import {spawn} from 'node:child_process'
import {closeSync, openSync, readFileSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {BACKENDS, makeBackendEnv} from '../helpers/backends.js'
import {BIN, type CliEnv} from '../helpers/cli.js'

const MB = 1024 * 1024
const LIMIT = 1024 * 1024

const sh = (word: string) => `'${word.replaceAll("'", "'\\''")}'`

/**
 * The CLI on a pseudo-terminal whose size is 0x0, as `script -qec CMD /dev/null` gives one.
 * The whole group is killed if it runs past `timeoutMs` or writes more than 1 MiB.
 */
function onZeroWidthTerminal(ctx: CliEnv, args: string[], timeoutMs = 30_000): Promise<{code: number | null; output: Buffer; killed: string | null}> {
  // script starts the command in a session of its own: it records its pid, to be killed too.
  const pidFile = join(ctx.cwd, 'cli.pid')
  const command = `stty cols 0 rows 0 2>/dev/null; echo $$ > ${sh(pidFile)}; exec ${[process.execPath, BIN, ...args].map(sh).join(' ')}`
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {cwd: ctx.cwd, env: {...ctx.env, TERM: 'xterm'}, stdio: ['pipe', 'pipe', 'pipe'], detached: true})
    const chunks: Buffer[] = []
    let size = 0
    let killed: string | null = null
    const kill = (why: string) => {
      killed ??= why
      const pids = [-(child.pid as number)]
      try {
        pids.push(Number(readFileSync(pidFile, 'utf8')))
      } catch {
        // not started yet
      }
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
    }
    const timer = setTimeout(() => kill(`still running after ${timeoutMs} ms`), timeoutMs)
    const take = (c: Buffer) => {
      chunks.push(c)
      size += c.length
      if (size > LIMIT) kill(`wrote more than ${LIMIT} bytes`)
    }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, output: Buffer.concat(chunks), killed})
    })
    child.stdin.end()
  })
}

describe.each(BACKENDS)('progress on a terminal of 0 columns, %s', (backend) => {
  let ctx: CliEnv
  beforeAll(async () => {
    ctx = await makeBackendEnv(backend)
    const fd = openSync(join(ctx.cwd, 'big.bin'), 'w')
    const block = Buffer.alloc(MB)
    for (let i = 0; i < 24; i++) writeSync(fd, block.fill(i + 1))
    closeSync(fd)
  })

  it('a push and a download finish (exit 0) and write a few KB, every frame one line of at most 80 columns', async () => {
    for (const args of [
      ['models', 'push', 'big', 'big.bin'],
      ['models', 'download', 'big', '-o', 'out'],
    ]) {
      const r = await onZeroWidthTerminal(ctx, args)
      const text = r.output.toString('utf8')
      expect(r.killed, `${args.join(' ')}: ${text.slice(0, 500)}`).toBeNull()
      expect(r.code, text.slice(-500)).toBe(0)
      expect(r.output.length).toBeLessThan(100 * 1024)
      expect(text).toMatch(args[1] === 'push' ? /Pushed big:1 \(25\.2 MB in 1 file/ : /Downloaded big:1 to .* \(1 file, 25\.2 MB, verified\)/)
      // A frame is "\r", the text, erase to end of line; none may wrap on an 80-column screen.
      for (const [frame, visible] of text.matchAll(/\r([^\r\n\u001B]*)\u001B\[K/g)) {
        expect([...visible].length, JSON.stringify(frame)).toBeLessThan(80)
      }
    }
  })
})
