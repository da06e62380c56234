/** Configuration: flags > env > .modelreg.yaml > profile > user config > defaults; tokens masked. */
import {mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {makeCliEnv, runCli} from '../helpers/cli.js'

describe('config', () => {
  it('init writes a commented user config once; set/get/show round-trip with sources', async () => {
    const ctx = makeCliEnv({MODELREG_HOME: '', MODELREG_AUTHOR: ''})
    let r = await runCli(ctx, ['config', 'init', '--json'])
    expect(r.code).toBe(0)
    const file = r.json().file
    expect(file).toBe(join(ctx.env.XDG_CONFIG_HOME as string, 'modelreg', 'config.yaml'))
    expect(readFileSync(file, 'utf8')).toContain('# modelreg client configuration.')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect((await runCli(ctx, ['config', 'init'])).code).toBe(4)

    r = await runCli(ctx, ['config', 'get', 'home', '--json'])
    expect(r.json()).toEqual({key: 'home', value: join(ctx.env.HOME as string, '.modelreg'), source: 'default'})

    await runCli(ctx, ['config', 'set', 'project', 'churn'])
    expect(readFileSync(file, 'utf8')).toContain('# modelreg client configuration.') // comments kept
    r = await runCli(ctx, ['config', 'get', 'project'])
    expect(r.stdout).toBe('churn\n')
    r = await runCli(ctx, ['config', 'get', 'project', '--json'], {env: {MODELREG_PROJECT: 'from-env'}})
    expect(r.json()).toEqual({key: 'project', value: 'from-env', source: 'env'})
    r = await runCli(ctx, ['config', 'get', 'project', '-p', 'from-flag', '--json'], {env: {MODELREG_PROJECT: 'from-env'}})
    expect(r.json()).toMatchObject({value: 'from-flag', source: 'flag'})

    // .modelreg.yaml in a parent directory applies below it, under env and flags.
    const repo = join(ctx.cwd, 'repo')
    mkdirSync(join(repo, 'sub'), {recursive: true})
    writeFileSync(join(repo, '.modelreg.yaml'), 'project: fraud\n')
    r = await runCli(ctx, ['config', 'get', 'project', '--json'], {cwd: join(repo, 'sub')})
    expect(r.json()).toMatchObject({value: 'fraud', source: 'project-file'})

    await runCli(ctx, ['config', 'set', 'author', 'me@example.com'])
    await runCli(ctx, ['config', 'set', '--unset', 'author'])
    expect((await runCli(ctx, ['config', 'get', 'author', '--json'])).json().source).toBe('default')
    for (const bad of [['config', 'set', 'nonsense', 'x'], ['config', 'get', 'nonsense'], ['config', 'set', 'backend', 'ftp'], ['config', 'set', 'project']]) {
      const e = await runCli(ctx, bad)
      expect(e.code, bad.join(' ')).toBe(2)
      expect(e.stderr).toMatch(/^Error: [^\n]+\n$/)
    }
  })

  it('a server URL given above the backend setting selects the server; a backend given above the URL wins', async () => {
    const ctx = makeCliEnv()
    await runCli(ctx, ['config', 'set', 'backend', 'local'])
    let r = await runCli(ctx, ['config', 'get', 'backend', '--json'], {env: {MODELREG_URL: 'http://127.0.0.1:9'}})
    expect(r.json()).toEqual({key: 'backend', value: 'remote', source: 'env'})
    // Really used: the command goes to that (closed) port, and says it cannot reach it.
    r = await runCli(ctx, ['models', '--json'], {env: {MODELREG_URL: 'http://127.0.0.1:9'}})
    expect(r.code).toBe(7)
    await runCli(ctx, ['config', 'set', '--unset', 'backend'])
    await runCli(ctx, ['config', 'set', 'url', 'http://127.0.0.1:9'])
    r = await runCli(ctx, ['config', 'get', 'backend', '--json'])
    expect(r.json()).toEqual({key: 'backend', value: 'remote', source: 'user-config'})
    r = await runCli(ctx, ['config', 'get', 'backend', '--json'], {env: {MODELREG_BACKEND: 'local'}})
    expect(r.json()).toEqual({key: 'backend', value: 'local', source: 'env'})
    expect((await runCli(ctx, ['models', '--json'], {env: {MODELREG_BACKEND: 'local'}})).code).toBe(0)
  })

  it('profiles select settings; show masks the token', async () => {
    const ctx = makeCliEnv()
    await runCli(ctx, ['config', 'set', 'profiles.team.project', 'team-a'])
    await runCli(ctx, ['config', 'set', 'profiles.team.token', 'mr_supersecrettoken123'])
    let r = await runCli(ctx, ['config', 'show', '--profile', 'team', '--json'])
    expect(r.json().values.project).toEqual({value: 'team-a', source: 'profile'})
    expect(r.json().values.token.value).not.toContain('supersecret')
    expect(r.json().values.profile).toEqual({value: 'team', source: 'flag'})
    r = await runCli(ctx, ['config', 'show', '--profile', 'team'])
    expect(r.stdout).not.toContain('supersecret')
    r = await runCli(ctx, ['config', 'get', 'token', '--reveal'], {env: {MODELREG_PROFILE: 'team'}})
    expect(r.stdout).toBe('mr_supersecrettoken123\n')
    r = await runCli(ctx, ['config', 'show', '--profile', 'nope'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^Error: profile "nope" is not defined in .* \(known: team\)/)
    // A profile's project applies to commands.
    writeFileSync(join(ctx.cwd, 'w.bin'), 'w')
    expect((await runCli(ctx, ['models', 'push', 'm', 'w.bin', '--profile', 'team', '--json'])).json().version.project).toBe('team-a')
  })

  it('show names the author a push will record, and where it comes from, when none is configured', async () => {
    const ctx = makeCliEnv({MODELREG_AUTHOR: ''})
    // No git identity in this HOME: the login name, as a push records it.
    const shown = (await runCli(ctx, ['config', 'show', '--json'])).json().values.author
    expect(shown.source).toMatch(/^(git|system)$/)
    writeFileSync(join(ctx.cwd, 'w.bin'), 'w')
    const pushed = (await runCli(ctx, ['models', 'push', 'm', 'w.bin', '--json'])).json().version.author
    expect(shown.value).toBe(pushed)
    const configured = (await runCli(ctx, ['config', 'show', '--json'], {env: {MODELREG_AUTHOR: 'ana@example.com'}})).json().values.author
    expect(configured).toEqual({value: 'ana@example.com', source: 'env'})
  })

  it('a broken config file gives a one-line error, not a stack trace', async () => {
    const ctx = makeCliEnv()
    mkdirSync(join(ctx.env.XDG_CONFIG_HOME as string, 'modelreg'), {recursive: true})
    writeFileSync(join(ctx.env.XDG_CONFIG_HOME as string, 'modelreg', 'config.yaml'), 'project: [unclosed\n')
    const r = await runCli(ctx, ['models'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^Error: config file \S+\/config\.yaml:\d+: not valid YAML: [^\n]*\n$/)
  })
})
