/**
 * The CLI as a person sees it on a terminal (a pseudo-terminal from `script`, sized with `stty
 * cols`): tables fit 40, 80 and 200 columns, --wide shows everything, colour appears there and
 * only there. Piped, the same commands write TSV and JSON without a cut or a colour code.
 */
import {spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {displayWidth, stripAnsi} from '../../src/cli/display-width.js'
import {BIN, type CliEnv, makeCliEnv, runCli} from '../helpers/cli.js'

const sh = (word: string) => `'${word.replaceAll("'", "'\\''")}'`
const ESC = '\u001B['
const AUTHOR = 'a.very.long.author.name@some-company.example.com'
const COMMENT = 'first version: gradient boosting with 500 trees, tuned on the validation split — 日本語のコメント 🚀'

/** Run the CLI on a pseudo-terminal `cols` wide; stdout and stderr both land in `output`. */
function onTerminal(ctx: CliEnv, args: string[], cols: number, env: NodeJS.ProcessEnv = {}): Promise<{code: number | null; output: string}> {
  const command = `stty cols ${cols} rows 50 2>/dev/null; exec ${[process.execPath, BIN, ...args].map(sh).join(' ')}`
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {cwd: ctx.cwd, env: {...ctx.env, TERM: 'xterm', ...env}, stdio: ['pipe', 'pipe', 'pipe']})
    const chunks: Buffer[] = []
    child.stdout.on('data', (c) => chunks.push(c))
    child.stderr.on('data', (c) => chunks.push(c))
    child.on('error', reject)
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, output: Buffer.concat(chunks).toString('utf8').replaceAll('\r\n', '\n')})
    })
    child.stdin.end()
  })
}

const visibleLines = (output: string) => stripAnsi(output).split('\n').filter((l) => l.length > 0)

describe('on a terminal', () => {
  let ctx: CliEnv
  let failedRun: string
  beforeAll(async () => {
    ctx = makeCliEnv({MODELREG_AUTHOR: AUTHOR})
    writeFileSync(join(ctx.cwd, 'model.pkl'), 'weights')
    const ok = async (args: string[]) => {
      const r = await runCli(ctx, args)
      expect(r.code, r.stderr).toBe(0)
      return r
    }
    await ok(['models', 'create', 'credit-risk', '--description', 'A credit risk model trained on the 2024 loan book, with monotone constraints and calibrated probabilities', '--label', 'env=prod', '--label', 'team=risk'])
    await ok(['models', 'push', 'credit-risk', 'model.pkl', '-m', COMMENT, '--tag', 'prod', '--tag', 'staging', '--tag', 'champion-eu-west-1'])
    writeFileSync(join(ctx.cwd, 'model.pkl'), 'better weights')
    await ok(['models', 'push', 'credit-risk', 'model.pkl', '-m', 'second', '--metric', 'auc=0.91'])
    const started = async (name: string) => (await ok(['runs', 'start', '-e', 'a-rather-long-experiment-name', '-n', name, '--json'])).json<{id: string}>().id
    const done = await started('trial-1')
    await ok(['runs', 'log', done, 'validation_loss=0.1234', 'accuracy=0.97'])
    await ok(['runs', 'finish', done])
    failedRun = await started('trial-2')
    await ok(['runs', 'finish', failedRun, '--status', 'failed'])
  })

  it.each([40, 80, 200])('at %i columns no table line is wider than the screen', async (cols) => {
    for (const args of [['models', 'list-versions', 'credit-risk'], ['models', 'log'], ['models'], ['runs'], ['experiments'], ['events'], ['models', 'tags', 'credit-risk']]) {
      const r = await onTerminal(ctx, args, cols)
      expect(r.code, r.output).toBe(0)
      const lines = visibleLines(r.output)
      expect(lines.length, args.join(' ')).toBeGreaterThan(1)
      for (const line of lines) expect(displayWidth(line), `${args.join(' ')} at ${cols}: ${JSON.stringify(line)}`).toBeLessThanOrEqual(cols)
    }
  })

  it('cuts long cells with … at 80 columns, shows them whole at 200 and with --wide', async () => {
    const at80 = stripAnsi((await onTerminal(ctx, ['models', 'list-versions', 'credit-risk'], 80)).output)
    expect(at80).toMatch(/^VERSION +TAGS/)
    expect(at80).not.toContain(AUTHOR)
    expect(at80).toContain('…')
    const at200 = stripAnsi((await onTerminal(ctx, ['models', 'list-versions', 'credit-risk'], 200)).output)
    expect(at200).toContain(AUTHOR)
    expect(at200).toContain('champion-eu-west-1,prod,staging')
    const wide = stripAnsi((await onTerminal(ctx, ['models', 'list-versions', 'credit-risk', '--wide'], 80)).output)
    expect(wide).toContain(AUTHOR)
    expect(wide).toContain(COMMENT)
  })

  it('models show keeps its file list inside 80 columns by cutting digests, whole with --wide or piped', async () => {
    const sha = (await runCli(ctx, ['models', 'show', 'credit-risk:2', '--json'])).json().files[0].sha256 as string
    const shown = stripAnsi((await onTerminal(ctx, ['models', 'show', 'credit-risk:2'], 80)).output)
    const files = shown.slice(shown.indexOf('Files:')).split('\n').filter(Boolean)
    expect(files[1]).toMatch(new RegExp(`^  model\\.pkl +14 B +${sha.slice(0, 12)}\\S*…$`))
    for (const line of files) expect(displayWidth(line)).toBeLessThanOrEqual(80)
    expect(stripAnsi((await onTerminal(ctx, ['models', 'show', 'credit-risk:2', '--wide'], 80)).output)).toContain(sha)
    expect((await runCli(ctx, ['models', 'show', 'credit-risk:2'])).stdout).toContain(sha)
  })

  it('a terminal that reports no width is drawn for COLUMNS, else 80', async () => {
    const unsized = visibleLines((await onTerminal(ctx, ['models', 'list-versions', 'credit-risk'], 0)).output)
    for (const line of unsized) expect(displayWidth(line)).toBeLessThanOrEqual(80)
    expect(Math.max(...unsized.map((l) => displayWidth(l)))).toBeGreaterThan(60)
    const fromEnv = visibleLines((await onTerminal(ctx, ['models', 'list-versions', 'credit-risk'], 0, {COLUMNS: '50'})).output)
    for (const line of fromEnv) expect(displayWidth(line)).toBeLessThanOrEqual(50)
  })

  it('colours tags, run statuses, diff marks and the Error: prefix', async () => {
    const versions = await onTerminal(ctx, ['models', 'list-versions', 'credit-risk'], 120)
    expect(versions.output).toContain(`${ESC}36mlatest${ESC}39m`)
    expect(versions.output).toContain(`${ESC}36mchampion-eu-west-1,`)
    const runs = await onTerminal(ctx, ['runs'], 120)
    expect(runs.output).toContain(`${ESC}32mcompleted${ESC}39m`)
    expect(runs.output).toContain(`${ESC}31mfailed${ESC}39m`)
    const show = await onTerminal(ctx, ['runs', 'show', failedRun], 120)
    expect(show.output).toContain(`${ESC}31mfailed${ESC}39m`)
    const diff = await onTerminal(ctx, ['models', 'diff', 'credit-risk:1', 'credit-risk:2'], 120)
    expect(stripAnsi(diff.output)).toMatch(/~ +model\.pkl/)
    expect(diff.output).toContain(`${ESC}33m~${ESC}39m  ${ESC}33mmodel.pkl${ESC}39m`)
    expect(diff.output).toContain(`${ESC}32m+${ESC}39m  ${ESC}32mauc${ESC}39m`)
    const error = await onTerminal(ctx, ['models', 'show', 'no-such-model'], 120)
    expect(error.code).toBe(3)
    expect(error.output).toContain(`${ESC}31mError:${ESC}39m`)
  })

  it('no colour with NO_COLOR, FORCE_COLOR=0, --no-color (before or after the command) or --json', async () => {
    const cases: [string[], NodeJS.ProcessEnv][] = [
      [['models', 'list-versions', 'credit-risk'], {NO_COLOR: '1'}],
      [['runs'], {FORCE_COLOR: '0'}],
      [['runs', '--no-color'], {}],
      [['--no-color', 'models', 'diff', 'credit-risk:1', 'credit-risk:2'], {}],
      [['models', 'show', 'no-such-model', '--no-color'], {}],
      [['models', 'list-versions', 'credit-risk', '--json'], {FORCE_COLOR: '1'}],
    ]
    for (const [args, env] of cases) {
      const r = await onTerminal(ctx, args, 120, env)
      expect(r.output, `${args.join(' ')} ${JSON.stringify(env)}`).not.toContain(ESC)
      expect(r.output.length).toBeGreaterThan(10)
    }
  })

  it('piped: TSV and JSON whole and without colour, even with FORCE_COLOR; FORCE_COLOR colours human text', async () => {
    for (const env of [{}, {FORCE_COLOR: '1'}]) {
      const tsv = await runCli(ctx, ['models', 'list-versions', 'credit-risk'], {env})
      expect(tsv.stdout).not.toContain(ESC)
      expect(tsv.stdout).toContain(`1\tchampion-eu-west-1,prod,staging\t${AUTHOR}\t`)
      expect(tsv.stdout).toContain(COMMENT)
      const json = await runCli(ctx, ['runs', '--json'], {env})
      expect(json.stdout).not.toContain(ESC)
      expect(json.json().items).toHaveLength(2)
    }
    const plain = await runCli(ctx, ['models', 'diff', 'credit-risk:1', 'credit-risk:2'])
    expect(plain.stdout).not.toContain(ESC)
    const plainError = await runCli(ctx, ['models', 'show', 'no-such-model'])
    expect(plainError.stderr).toMatch(/^Error: /)
    const forced = await runCli(ctx, ['models', 'diff', 'credit-risk:1', 'credit-risk:2'], {env: {FORCE_COLOR: '1'}})
    expect(forced.stdout).toContain(`${ESC}33m`)
    const forcedError = await runCli(ctx, ['models', 'show', 'no-such-model'], {env: {FORCE_COLOR: '1'}})
    expect(forcedError.stderr).toContain(`${ESC}31mError:${ESC}39m`)
  })
})
