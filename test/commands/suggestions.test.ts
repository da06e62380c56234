/**
 * What a person meets in the first minutes: a typo gets the command or flag meant, and global
 * flags work before the command as after it (git, kubectl and det habits).
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {editDistance, nearest} from '../../src/cli/suggest.js'
import {makeCliEnv, ROOT, runCli} from '../helpers/cli.js'

describe('suggestions', () => {
  it('measures edits, a swap of neighbours counting as one', () => {
    expect(editDistance('psuh', 'push')).toBe(1)
    expect(editDistance('modles', 'models')).toBe(1)
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(nearest('lgo', ['log', 'list', 'logs-x'])).toEqual(['log'])
    expect(nearest('zzzz', ['log', 'list'])).toEqual([])
  })

  it('an unknown command names the nearest commands, quoting only the command', async () => {
    const ctx = makeCliEnv()
    const cases: [string[], string][] = [
      [['models', 'psuh', 'credit-risk', 'model.pkl'], 'Error: unknown command "models psuh"; did you mean "models push"?'],
      [['modles'], 'Error: unknown command "modles"; did you mean "models"?'],
      [['modles', 'list'], 'Error: unknown command "modles list"; did you mean "models list"?'],
      [['runs', 'lgo', 'r1'], 'Error: unknown command "runs lgo"; did you mean "runs log"?'],
      [['server', 'strat'], 'Error: unknown command "server strat"; did you mean "server start"?'],
      [['frobnicate'], "Error: unknown command \"frobnicate\" (run 'modelreg --help' for the list)"],
    ]
    for (const [args, line] of cases) {
      const r = await runCli(ctx, args)
      expect([r.code, r.stderr.trim(), r.stdout], args.join(' ')).toEqual([2, line, ''])
    }
    const json = await runCli(ctx, ['models', 'psuh', '--json'])
    expect(json.code).toBe(2)
    expect(json.json()).toEqual({error: {code: 'invalid_argument', message: 'unknown command "models psuh"; did you mean "models push"?'}})
  })

  it('an unknown flag names the nearest flag of that command, by any of its names', async () => {
    const ctx = makeCliEnv()
    writeFileSync(join(ctx.cwd, 'w.bin'), 'weights')
    const r = await runCli(ctx, ['models', 'push', 'm', join(ctx.cwd, 'w.bin'), '--messsage', 'hi'])
    expect([r.code, r.stderr.trim()]).toEqual([2, 'Error: unknown flag --messsage; did you mean -m, --comment? (see --help)'])
    const sort = await runCli(ctx, ['models', 'list', '--sortby', 'name', '--json'])
    expect([sort.code, sort.json().error.message]).toEqual([2, 'unknown flag --sortby; did you mean --sort-by? (see --help)'])
    const none = await runCli(ctx, ['models', 'list', '--zzzzzz'])
    expect([none.code, none.stderr.trim()]).toEqual([2, 'Error: unknown flag --zzzzzz (see --help)'])
    // git's habit: --message is -m's long name too.
    const pushed = await runCli(ctx, ['models', 'push', 'm', join(ctx.cwd, 'w.bin'), '--message', 'as in git', '--json'])
    expect(pushed.json().version.comment).toBe('as in git')
  })
})

describe('global flags before the command', () => {
  it('-p/--project, --profile and --json work before the command as after it', async () => {
    const ctx = makeCliEnv()
    writeFileSync(join(ctx.cwd, 'w.bin'), 'weights')
    const before = await runCli(ctx, ['-p', 'team-a', 'models', 'push', 'm', join(ctx.cwd, 'w.bin'), '--json'])
    expect(before.code, before.stderr).toBe(0)
    expect(before.json().version).toMatchObject({project: 'team-a', version: 1})
    const listed = await runCli(ctx, ['--project', 'team-a', '--json', 'models', 'list'])
    expect(listed.json()).toEqual((await runCli(ctx, ['models', 'list', '--project', 'team-a', '--json'])).json())
    expect(listed.json().items.map((m: {name: string}) => m.name)).toEqual(['m'])
    expect((await runCli(ctx, ['--project=team-a', 'models', 'show', 'm', '--json'])).json().project).toBe('team-a')
    expect((await runCli(ctx, ['-pteam-a', 'models', 'show', 'm', '--json'])).json().project).toBe('team-a')
    const profile = await runCli(ctx, ['--profile', 'nope', 'verify'])
    expect([profile.code, profile.stderr]).toEqual([2, expect.stringContaining('profile "nope" is not defined')])
    // A value after "--" stays an argument.
    const literal = await runCli(ctx, ['-p', 'team-a', 'models', 'show', '--', 'm', '--json'])
    expect(literal.code).not.toBe(0)
  })
})

describe('models --all-projects', () => {
  it('lists the models of every project in one order, with their project, paged', async () => {
    const ctx = makeCliEnv()
    for (const [project, name] of [['team-b', 'alpha'], ['default', 'credit-risk'], ['team-a', 'beta'], ['team-a', 'zeta']]) {
      expect((await runCli(ctx, ['models', 'create', name, '-p', project, '--json'])).code).toBe(0)
    }
    const all = (await runCli(ctx, ['models', '--all-projects', '--json'])).json()
    expect(all.total).toBe(4)
    expect(all.items.map((m: {project: string; name: string}) => `${m.project}/${m.name}`)).toEqual(['team-b/alpha', 'team-a/beta', 'default/credit-risk', 'team-a/zeta'])
    const page = (await runCli(ctx, ['models', '-A', '--order-by', 'desc', '--limit', '2', '--offset', '1', '--json'])).json()
    expect(page.items.map((m: {name: string}) => m.name)).toEqual(['credit-risk', 'beta'])
    const table = await runCli(ctx, ['models', '-A'])
    expect(table.stdout.split('\n')[0].split('\t').slice(0, 2)).toEqual(['team-b', 'alpha'])
  })
})

describe("oclif's texts in the product's words", () => {
  it('a missing or extra argument, a missing flag or value, a value not allowed: one line, exit 2, nothing on stdout', async () => {
    const ctx = makeCliEnv()
    const cases: [string[], string][] = [
      [['models', 'diff', 'a'], 'missing argument TO (the newer reference); usage: modelreg models diff FROM TO'],
      [['model', 'diff'], 'missing arguments FROM (the older reference) and TO (the newer reference); usage: modelreg models diff FROM TO'],
      [['models', 'show'], 'missing argument REF ([project/]name[:version|tag]; a bare name means latest); usage: modelreg models show REF'],
      [['models', 'push'], 'missing argument NAME (model name, optionally as project/name); usage: modelreg models push NAME [PATH...]'],
      [['runs', 'checkpoint', 'abcdef'], 'missing argument PATH (files or directories to store); usage: modelreg runs checkpoint RUN PATH...'],
      [['runs', 'dataset'], 'missing arguments RUN (run id), TAG (what the data was for: train, valid, test ...) and PATH (a local path or a URI); usage: modelreg runs dataset RUN TAG PATH'],
      [['models', 'diff', 'a', 'b', 'c'], 'unexpected argument "c"; usage: modelreg models diff FROM TO'],
      [['models', 'tags', 'm', 'prod', 'x'], 'unexpected arguments "prod", "x"; usage: modelreg models tags NAME'],
      [['runs', '--status', 'running', 'mnist'], 'unexpected argument "mnist"; modelreg runs takes no arguments (see --help)'],
      [['runs', 'start'], 'missing flag --experiment (experiment to start the run in); usage: modelreg runs start --experiment <value>'],
      [['export'], 'missing flag --output (the archive file, or - for stdout); usage: modelreg export [SELECTION...] --output <value>'],
      [
        ['server', 'tokens', 'create'],
        'missing flags --name (a name for the token, shown in logs and events) and --scope (what the token may do); usage: modelreg server tokens create --name <value> --scope read|write|admin',
      ],
      [['runs', 'list', '--status'], 'missing value for --status: use one of queued, running, completed, failed, killed'],
      [['runs', 'start', '--experiment'], 'missing value for --experiment (see --help)'],
      [['runs', 'list', '--status', 'done'], 'invalid value "done" for --status: use one of queued, running, completed, failed, killed'],
      [['runs', '--status', 'completed,done'], 'invalid value "done" for --status: use one of queued, running, completed, failed, killed'],
      [['runs', 'finish', 'abcdef', '--status', 'queued'], 'invalid value "queued" for --status: use one of completed, failed, killed, running'],
      [['models', 'list', '--sort-by', 'size'], 'invalid value "size" for --sort-by: use one of name, description, creation_time, last_updated_time'],
      [['models', 'list', '--limit', 'ten'], 'invalid value "ten" for --limit: expected an integer'],
      [['models', 'list', '--limit', '0'], 'invalid value "0" for --limit: expected an integer of at least 1'],
      [['runs', 'start', '-e', 'a', '-e', 'b'], '--experiment given more than once; it takes one value (see --help)'],
    ]
    for (const [args, message] of cases) {
      const r = await runCli(ctx, args)
      expect([r.code, r.stderr, r.stdout], args.join(' ')).toEqual([2, `Error: ${message}\n`, ''])
      const json = await runCli(ctx, [...args, '--json'])
      expect([json.code, json.stderr], `${args.join(' ')} --json`).toEqual([2, ''])
      expect(json.json(), `${args.join(' ')} --json`).toEqual({error: {code: 'invalid_argument', message}})
    }
  }, 120_000)

  it('usage lines show what each command takes: one name, then the repeatable arguments', async () => {
    const ctx = makeCliEnv()
    const usage = async (...words: string[]) => (await runCli(ctx, ['help', ...words, '--json'])).json().usage
    expect(await usage('models', 'push')).toBe('modelreg models push NAME [PATH...]')
    expect(await usage('runs', 'log')).toBe('modelreg runs log RUN [POINT...]')
    expect(await usage('runs', 'params')).toBe('modelreg runs params RUN [PARAM...]')
    expect(await usage('runs', 'checkpoint')).toBe('modelreg runs checkpoint RUN PATH...')
    expect(await usage('copy')).toBe('modelreg copy [SELECTION...] --to <value>')
    // oclif's own --help says the same.
    const help = (await runCli(ctx, ['models', 'push', '--help'])).stdout
    expect(help).toContain('$ modelreg models push NAME [PATH...] [--json]')
    expect(help).not.toContain('NAME...')
    for (const words of [['runs', 'log'], ['runs', 'params'], ['runs', 'checkpoint'], ['export']]) {
      expect((await runCli(ctx, [...words, '--help'])).stdout, words.join(' ')).not.toMatch(/\b(RUN|NAME)\.\.\./)
    }
    expect((await runCli(ctx, ['export', '--help'])).stdout).toContain('$ modelreg export [SELECTION...] -o <value>')
  })

  it('every value a flag lists among its options is accepted', async () => {
    const ctx = makeCliEnv()
    writeFileSync(join(ctx.cwd, 'w.bin'), 'weights')
    expect((await runCli(ctx, ['models', 'push', 'm', join(ctx.cwd, 'w.bin'), '--json'])).code).toBe(0)
    const run = (await runCli(ctx, ['runs', 'start', '-e', 'e', '--json'])).json().id
    expect((await runCli(ctx, ['runs', 'log', run, 'loss=0.5', '--json'])).code).toBe(0)
    const queued = async () => (await runCli(ctx, ['runs', 'start', '-e', 'e', '--queued', '--json'])).json().id
    // How to try each flag that has options; a new one fails here until it is added.
    const tries: Record<string, (value: string) => Promise<string[]>> = {
      'runs --status': async (v) => ['runs', '--status', v, '--json'],
      'runs --order-by': async (v) => ['runs', '--order-by', v, '--json'],
      'runs:finish --status': async (v) => ['runs', 'finish', await queued(), '--status', v, '--json'],
      'runs:metrics --format': async (v) => ['runs', 'metrics', run, '--format', v],
      'events --type': async (v) => ['events', '--type', v, '--json'],
      'models --sort-by': async (v) => ['models', '--sort-by', v, '--json'],
      'models --order-by': async (v) => ['models', '--order-by', v, '--json'],
      'models:list-versions --order-by': async (v) => ['models', 'list-versions', 'm', '--order-by', v, '--json'],
      'server:tokens:create --scope': async (v) => ['server', 'tokens', 'create', '--data-dir', join(ctx.cwd, 'server'), '--name', `t-${v}`, '--scope', v, '--json'],
    }
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, {options?: string[]}>}>}
    const listed = Object.entries(manifest.commands).flatMap(([id, c]) =>
      Object.entries(c.flags)
        .filter(([, f]) => f.options)
        .map(([name, f]) => [`${id} --${name}`, f.options as string[]] as const),
    )
    expect(listed.map(([key]) => key).sort()).toEqual(Object.keys(tries).sort())
    for (const [key, options] of listed) {
      for (const value of options) {
        const r = await runCli(ctx, await tries[key](value))
        expect([r.code, r.stderr], `${key} ${value}`).toEqual([0, ''])
      }
    }
  }, 120_000)
})
