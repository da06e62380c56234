/**
 * Shell completion: the scripts for bash, zsh and fish, and the candidates they ask modelreg
 * for (commands, flags, flag values, model names, tags and run ids of the configured store).
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {BIN, type CliEnv, makeCliEnv, runCli} from '../helpers/cli.js'

describe('shell completion', () => {
  let ctx: CliEnv
  let run: string
  beforeAll(async () => {
    ctx = makeCliEnv()
    writeFileSync(join(ctx.cwd, 'w.bin'), 'weights')
    for (let i = 0; i < 2; i++) expect((await runCli(ctx, ['models', 'push', 'credit-risk', join(ctx.cwd, 'w.bin'), '-m', `v${i}`, '--json'])).code).toBe(0)
    expect((await runCli(ctx, ['models', 'tag', 'credit-risk:1', 'prod', '--json'])).code).toBe(0)
    expect((await runCli(ctx, ['-p', 'team-a', 'models', 'create', 'churn', '--json'])).code).toBe(0)
    run = (await runCli(ctx, ['runs', 'start', '-e', 'baseline', '--json'])).json().id
  })

  const candidates = async (...words: string[]) => {
    const r = await runCli(ctx, ['__complete', '--', ...words])
    expect(r.code, r.stderr).toBe(0)
    return r.stdout.split('\n').filter(Boolean)
  }

  it('offers commands, subcommands, flags and flag values', async () => {
    expect(await candidates('mod')).toEqual(['model', 'models'])
    expect(await candidates('models', '')).toEqual(expect.arrayContaining(['push', 'show', 'tag', 'list-versions']))
    expect(await candidates('models', 'sh')).toEqual(['show'])
    expect(await candidates('models', 'push', 'x', '--co')).toEqual(['--color', '--comment'])
    expect(await candidates('models', 'list', '--sort-by', '')).toEqual(['name', 'description', 'creation_time', 'last_updated_time'])
    expect(await candidates('')).toEqual(expect.arrayContaining(['models', 'runs', 'server', 'completion']))
    expect(await candidates('')).not.toContain('__complete')
  })

  it('offers the store\'s model names, tags and versions, and run ids', async () => {
    expect(await candidates('models', 'show', 'cr')).toEqual(['credit-risk'])
    expect(await candidates('models', 'show', 'credit-risk:')).toEqual(['credit-risk:latest', 'credit-risk:prod', 'credit-risk:2', 'credit-risk:1'])
    expect(await candidates('models', 'diff', 'credit-risk:1', 'credit-risk:p')).toEqual(['credit-risk:prod'])
    // The project of the line: -p before or after the command, or in the reference.
    expect(await candidates('-p', 'team-a', 'models', 'show', '')).toEqual(['churn'])
    expect(await candidates('models', 'show', '--project', 'team-a', 'ch')).toEqual(['churn'])
    expect(await candidates('models', 'show', 'team-a/')).toEqual(['team-a/churn'])
    expect(await candidates('runs', 'show', '')).toEqual([run])
    expect(await candidates('runs', '-e', '')).toEqual(['baseline'])
    // An argument that is a file: nothing, so the shell completes file names.
    expect(await candidates('models', 'push', 'credit-risk', '')).toEqual([])
  })

  it('prints a script for bash, zsh and fish; --json gives it as data; another shell is refused', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = await runCli(ctx, ['completion', shell])
      expect(r.code).toBe(0)
      expect(r.stdout).toContain('__complete --')
      expect(r.stdout).toContain('modelreg')
      expect((await runCli(ctx, ['completion', shell, '--json'])).json()).toEqual({shell, script: r.stdout})
    }
    const bad = await runCli(ctx, ['completion', 'tcsh'])
    expect([bad.code, bad.stderr.trim()]).toEqual([2, 'Error: no completion for shell "tcsh": choose bash, zsh or fish'])
  })

  it('completes in a real bash, words with ":" included', async () => {
    const bin = join(ctx.cwd, 'bin')
    mkdirSync(bin, {recursive: true})
    symlinkSync(BIN, join(bin, 'modelreg'))
    const script = (await runCli(ctx, ['completion', 'bash'])).stdout
    writeFileSync(join(ctx.cwd, 'completion.bash'), script)
    const probe = (line: string) =>
      `COMP_LINE=${JSON.stringify(line)}; COMP_POINT=\${#COMP_LINE}; COMP_WORDBREAKS=$' \\t\\n"\\'><=;|&(:'; _modelreg_complete; echo "\${COMPREPLY[*]}"`
    const lines = ['modelreg models sh', 'modelreg models show credit-risk:p', 'modelreg models tag credit-risk:']
    const r = spawnSync('bash', ['-c', `source ${join(ctx.cwd, 'completion.bash')}\n${lines.map(probe).join('\n')}`], {
      env: {...ctx.env, PATH: `${bin}:${process.env.PATH}`},
      encoding: 'utf8',
    })
    expect(r.stderr).toBe('')
    // bash takes ":" as a word break: what follows the last ":" replaces the word's tail.
    expect(r.stdout.split('\n').slice(0, 3)).toEqual(['show', 'prod', 'latest prod 2 1'])
  })
})
