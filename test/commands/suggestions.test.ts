/**
 * What a person meets in the first minutes: a typo gets the command or flag meant, and global
 * flags work before the command as after it (git, kubectl and det habits).
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {editDistance, nearest} from '../../src/cli/suggest.js'
import {makeCliEnv, runCli} from '../helpers/cli.js'

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
