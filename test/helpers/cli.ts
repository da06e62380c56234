import {spawn} from 'node:child_process'
import {mkdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempDir} from './tmp.js'

export const ROOT = join(import.meta.dirname, '..', '..')
export const BIN = join(ROOT, 'bin', 'run.js')

export interface CliResult {
  code: number
  stdout: string
  /** stdout as bytes (for binary output such as a tar stream). */
  stdoutBytes: Buffer
  stderr: string
  /** stdout parsed as JSON (throws if it is not). */
  json: <T = any>() => T
}

export interface CliEnv {
  /** The client's local store (MODELREG_HOME). */
  home: string
  /** Where the data the commands act on lives: the local store, or the server's data directory. */
  storeHome: string
  cwd: string
  env: NodeJS.ProcessEnv
  backend: 'local' | 'remote'
}

/** An isolated user: own HOME, config dir, store, and a fixed author. */
export function makeCliEnv(extra: NodeJS.ProcessEnv = {}): CliEnv {
  const base = tempDir('modelreg-cli-')
  const home = join(base, 'store')
  const cwd = join(base, 'work')
  mkdirSync(cwd, {recursive: true})
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: join(base, 'home'),
    XDG_CONFIG_HOME: join(base, 'xdg'),
    MODELREG_HOME: home,
    MODELREG_AUTHOR: 'tester@example.com',
    GIT_CONFIG_NOSYSTEM: '1',
    ...extra,
  }
  return {home, storeHome: home, cwd, env, backend: 'local'}
}

export function runCli(
  ctx: CliEnv,
  args: string[],
  options: {input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string} = {},
): Promise<CliResult> {
  return spawnCli(ctx, args, options, false)
}

/** Run the CLI and report its peak resident memory as well. */
export function runCliMeasured(ctx: CliEnv, args: string[]): Promise<CliResult & {peakRss: number}> {
  return spawnCli(ctx, args, {}, true) as Promise<CliResult & {peakRss: number}>
}

function spawnCli(
  ctx: CliEnv,
  args: string[],
  options: {input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string},
  measure: boolean,
): Promise<CliResult & {peakRss?: number}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? ctx.cwd,
      env: {...ctx.env, ...options.env},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const watch = measure ? watchPeakRss(child.pid as number) : null
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c) => out.push(c))
    child.stderr.on('data', (c) => err.push(c))
    child.on('error', reject)
    child.on('close', (code) => {
      const bytes = Buffer.concat(out)
      const stdout = bytes.toString('utf8')
      resolve({
        code: code ?? -1,
        stdout,
        stdoutBytes: bytes,
        stderr: Buffer.concat(err).toString('utf8'),
        json: () => JSON.parse(stdout),
        ...(watch ? {peakRss: watch.stop()} : {}),
      })
    })
    child.stdin.end(options.input)
  })
}

/** Peak resident memory of a process (VmHWM, in bytes), read from /proc while it runs. */
export function watchPeakRss(pid: number): {stop(): number} {
  let peak = 0
  const read = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      const match = /VmHWM:\s+(\d+) kB/.exec(status)
      if (match) peak = Math.max(peak, Number(match[1]) * 1024)
    } catch {
      // the process has exited
    }
  }
  const timer = setInterval(read, 20)
  return {
    stop() {
      clearInterval(timer)
      return peak
    },
  }
}
