/**
 * The docs run as written: the ```sh blocks of README.md and of every docs/*.md are run in
 * order, one bash per file (as a person types them into one terminal), with `set -e` and
 * pipefail, in a sandbox: a fresh MODELREG_HOME, HOME, XDG_CONFIG_HOME and TMPDIR, a temporary
 * working directory that has the checkout's bin/, scripts/, examples/ and clients/ linked in (as a
 * clone has them), and `modelreg` on PATH as this checkout's bin/run.js. A command that fails
 * fails the test with its file and line.
 *
 * The convention (docs/development.md, "The docs test"): commands are ```sh blocks; output and
 * other languages use their own tag (```text, ```yaml ...). A ```sh block that cannot run here
 * carries `<!-- not run: REASON -->` on the line before it; one that needs the test services
 * carries `<!-- needs services: REASON -->` and runs when PostgreSQL and S3 are up (in CI they
 * must be; elsewhere it says so and is left out). Nothing is skipped silently: the first test
 * checks that every block is one of these.
 */
import {spawn} from 'node:child_process'
import {mkdirSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {postgresUrl, s3Config} from '../helpers/services.js'
import {BIN, ROOT} from '../helpers/cli.js'
import {tempDir} from '../helpers/tmp.js'
import {type CodeBlock, codeBlocks, docFiles, readDoc} from './markdown.js'

/** Tags that mean shell but are not the convention's ```sh (they would escape the test). */
const OTHER_SHELL_TAGS = new Set(['', 'bash', 'shell', 'console', 'zsh', 'fish', 'shell-session', 'sh-session', 'shellsession', 'terminal'])
/** What the working directory links in from the checkout, as a clone has them. */
const CLONE_ENTRIES = ['bin', 'clients', 'examples', 'scripts']
/** Per file: the blocks run in one bash, whatever they start in the background is stopped after. */
const FILE_TIMEOUT_MS = 100_000
/** Files run side by side, this many at a time: most of their time is process start-up and fsync. */
const AT_ONCE = 3

type Plan = {block: CodeBlock; run: true} | {block: CodeBlock; run: false; reason: string} | {block: CodeBlock; services: string}

/** What to do with each ```sh block of a file, and the problems that break the convention. */
function plan(file: string): {plans: Plan[]; problems: string[]} {
  const plans: Plan[] = []
  const problems: string[] = []
  for (const block of codeBlocks(file, readDoc(file))) {
    const where = `${file}:${block.line}`
    const marker = block.marker
    if (OTHER_SHELL_TAGS.has(block.lang)) {
      problems.push(`${where}: a block tagged "${block.lang}": commands go in \`\`\`sh (run by this test), output in \`\`\`text`)
      continue
    }
    if (block.lang !== 'sh') {
      if (marker !== undefined && /^(not run|needs services):/.test(marker)) problems.push(`${where}: a run marker before a ${block.lang} block (only \`\`\`sh blocks are run)`)
      continue
    }
    if (marker === undefined) {
      plans.push({block, run: true})
      continue
    }
    const notRun = /^not run:\s*(.*)$/.exec(marker)
    const services = /^needs services:\s*(.*)$/.exec(marker)
    if (notRun && notRun[1].length >= 10) plans.push({block, run: false, reason: notRun[1]})
    else if (services && services[1].length >= 10) plans.push({block, services: services[1]})
    else problems.push(`${where}: the comment before this block is not "<!-- not run: REASON -->" or "<!-- needs services: REASON -->" with a reason: <!--${marker}-->`)
  }
  return {plans, problems}
}

const files = docFiles()
const plans = new Map(files.map((file) => [file, plan(file)]))

/** Whether PostgreSQL and S3 are there for blocks that need them (said once, loudly, when not; in CI a failing test). */
const needing = [...plans.values()].flatMap((p) => p.plans).filter((p): p is Extract<Plan, {services: string}> => 'services' in p)
const what = `the docs blocks that need the test services (${needing.map((p) => `${p.block.file}:${p.block.line}`).join(', ')})`
const servicesUp = needing.length > 0 && Boolean(postgresUrl(what) && s3Config(what))

interface Script {
  text: string
  /** Script line (1-based) -> "file:line" of the Markdown it came from. */
  origin: string[]
}

/** The blocks of a file that run, as one bash script, each line mapped back to the Markdown. */
function script(file: string, runnable: CodeBlock[]): Script {
  const lines = ['set -eE -o pipefail', `trap 'echo "docs-block-failed $? $LINENO" >&2' ERR`]
  const origin = ['', '']
  for (const block of runnable) {
    block.body.split('\n').forEach((line, i) => {
      lines.push(line)
      origin.push(`${file}:${block.line + 1 + i}`)
    })
  }
  return {text: `${lines.join('\n')}\n`, origin: ['', ...origin]}
}

interface Sandbox {
  cwd: string
  env: NodeJS.ProcessEnv
}

function sandbox(): Sandbox {
  const base = tempDir('modelreg-docs-')
  const dirs = {home: join(base, 'home'), xdg: join(base, 'xdg'), tmp: join(base, 'tmp'), path: join(base, 'path'), cwd: join(base, 'work')}
  for (const dir of Object.values(dirs)) mkdirSync(dir, {recursive: true})
  for (const entry of CLONE_ENTRIES) symlinkSync(join(ROOT, entry), join(dirs.cwd, entry))
  symlinkSync(BIN, join(dirs.path, 'modelreg'))
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    // A user's own settings stay out; the test services' addresses (MODELREG_TEST_*) stay in.
    if (key.startsWith('MODELREG_') && !key.startsWith('MODELREG_TEST_')) continue
    if (['FORCE_COLOR', 'NO_COLOR', 'DISPLAY', 'WAYLAND_DISPLAY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3'].includes(key)) continue
    env[key] = value
  }
  Object.assign(env, {
    HOME: dirs.home,
    XDG_CONFIG_HOME: dirs.xdg,
    TMPDIR: dirs.tmp,
    MODELREG_HOME: join(base, 'store'),
    PATH: `${dirs.path}:${process.env.PATH}`,
    GIT_CONFIG_NOSYSTEM: '1',
  })
  return {cwd: dirs.cwd, env}
}

interface Outcome {
  code: number | null
  stdout: string
  stderr: string
  timedOut: boolean
}

let running = 0
const waiting: (() => void)[] = []

/** Run a script when a slot is free (AT_ONCE), with bash in its own process group; afterwards stop whatever it left running. */
async function runScript(text: string, box: Sandbox): Promise<Outcome> {
  if (running >= AT_ONCE) await new Promise<void>((resolve) => waiting.push(resolve))
  running++
  try {
    return await runBash(text, box)
  } finally {
    running--
    waiting.shift()?.()
  }
}

function runBash(text: string, box: Sandbox): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', text, 'docs-blocks'], {cwd: box.cwd, env: box.env, detached: true, stdio: ['ignore', 'pipe', 'pipe']})
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c) => out.push(c))
    child.stderr.on('data', (c) => err.push(c))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      signalGroup(child.pid as number, 'SIGKILL')
    }, FILE_TIMEOUT_MS)
    child.on('error', reject)
    child.on('exit', async (code) => {
      clearTimeout(timer)
      await stopGroup(child.pid as number)
      resolve({code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut})
    })
  })
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false // no process left in the group
  }
}

/** SIGTERM what the blocks started in the background (servers stop gracefully on it), then SIGKILL after 5 s. */
async function stopGroup(pgid: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return
  const until = Date.now() + 5000
  while (Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    if (!signalGroup(pgid, 0)) return
  }
  signalGroup(pgid, 'SIGKILL')
}

const lines = (blocks: CodeBlock[]) => blocks.reduce((n, b) => n + b.body.split('\n').length, 0)

describe('docs: the shell blocks run as written', () => {
  it('every ```sh block is run, or says why not; no commands hide under another tag', () => {
    const problems = [...plans.values()].flatMap((p) => p.problems)
    expect(problems).toEqual([])
    const all = [...plans.values()].flatMap((p) => p.plans)
    expect(all.filter((p) => 'run' in p && p.run).length).toBeGreaterThan(10)
    for (const p of all) if ('reason' in p) process.stdout.write(`not run (says the doc): ${p.block.file}:${p.block.line}: ${p.reason}\n`)
  })

  const runnable = files
    .map((file) => {
      const blocks = plans.get(file)?.plans.filter((p) => ('run' in p && p.run) || ('services' in p && servicesUp)).map((p) => p.block) ?? []
      return {file, blocks}
    })
    .filter((f) => f.blocks.length > 0)
    // The longest first, so that it does not start last.
    .sort((a, b) => lines(b.blocks) - lines(a.blocks))

  it.concurrent.each(runnable)('$file', async ({file, blocks}) => {
    const {text, origin} = script(file, blocks)
    const result = await runScript(text, sandbox())
    const failed = /docs-block-failed (\d+) (\d+)/.exec(result.stderr)
    const where = failed ? origin[Number(failed[2])] ?? `script line ${failed[2]}` : 'the end of the file'
    const tail = result.stderr.split('\n').filter((l) => !l.startsWith('docs-block-failed')).slice(-15).join('\n')
    expect(
      {code: result.code, timedOut: result.timedOut},
      `${file}: ${result.timedOut ? `still running after ${FILE_TIMEOUT_MS / 1000} s` : `exit ${failed?.[1] ?? result.code} at ${where}`}\n--- stderr (last lines) ---\n${tail}\n--- stdout (last lines) ---\n${result.stdout.split('\n').slice(-10).join('\n')}`,
    ).toEqual({code: 0, timedOut: false})
  })
})
