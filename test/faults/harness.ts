/** Shared pieces of the fault suite. */
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BIN, type CliEnv, runCli} from '../helpers/cli.js'

/** Kill iterations per scenario: a few in `npm test`, hundreds in `npm run test:faults`. */
export const ITERATIONS = Number(process.env.FAULT_ITERATIONS ?? 6)

/** Rounds of the push-against-gc race: the soak's point is the kills, so these stay modest. */
export const RACE_ROUNDS = Math.min(ITERATIONS, 25)

/** A test timeout that grows with the number of iterations. */
export const TIMEOUT = 120_000 + ITERATIONS * 15_000

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A directory of `count` files of `size` bytes each, all new content. */
export function freshModel(dir: string, count: number, size: number): string {
  mkdirSync(dir, {recursive: true})
  for (let i = 0; i < count; i++) {
    const block = randomBytes(64 * 1024)
    const buf = Buffer.alloc(size)
    for (let o = 0; o < size; o += block.length) block.copy(buf, o)
    writeFileSync(join(dir, `part-${i}.bin`), buf)
  }
  return dir
}

/** Start the CLI in the background; `exited` resolves with its exit code (null when killed). */
export function startCli(ctx: CliEnv, args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], {cwd: ctx.cwd, env: ctx.env, stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c) => (stdout += c))
  child.stderr.on('data', (c) => (stderr += c))
  const exited = new Promise<{code: number | null; stdout: string; stderr: string}>((resolve) =>
    child.on('close', (code) => resolve({code, stdout, stderr})),
  )
  return {child, exited}
}

/** `modelreg verify --json` must exit 0 with no problems. */
export async function expectVerifies(ctx: CliEnv, label: string): Promise<void> {
  const r = await runCli(ctx, ['verify', '--json'])
  if (r.code !== 0) throw new Error(`${label}: verify exited ${r.code}: ${r.stdout}${r.stderr}`)
  const report = r.json()
  if (!report.ok || report.problems.length) throw new Error(`${label}: verify found ${JSON.stringify(report.problems)}`)
}

/** The version numbers of a model, ascending. */
export async function versionNumbers(ctx: CliEnv, model: string): Promise<number[]> {
  const r = await runCli(ctx, ['models', 'list-versions', model, '--limit', '10000', '--json'])
  if (r.code !== 0) return []
  return (r.json().items as {version: number}[]).map((v) => v.version).sort((a, b) => a - b)
}
