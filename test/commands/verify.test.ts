/** verify from the CLI, on both backends: a missing model, version or tag is not found (exit 3), never "No problems". */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {BACKENDS, makeBackendEnv} from '../helpers/backends.js'
import {type CliEnv, runCli} from '../helpers/cli.js'

describe.each(BACKENDS)('verify on %s', (backend) => {
  let ctx: CliEnv
  beforeAll(async () => {
    ctx = await makeBackendEnv(backend)
    writeFileSync(join(ctx.cwd, 'w.bin'), 'weights')
    const pushed = await runCli(ctx, ['models', 'push', 'credit-risk', 'w.bin', '--tag', 'prod'])
    expect(pushed.code, pushed.stderr).toBe(0)
  })
  const cli = (args: string[]) => runCli(ctx, args)

  it('a model, a version and a tag that exist verify clean (exit 0)', async () => {
    for (const ref of ['credit-risk', 'credit-risk:1', 'credit-risk:prod', 'default/credit-risk:latest']) {
      const r = await cli(['verify', ref])
      expect(r.code, `${ref}: ${r.stderr}`).toBe(0)
      expect(r.stdout).toMatch(/^Verified default\/credit-risk.*: 1 version, 0 checkpoints, 1 blob \(7 B hashed\)\. No problems\.\n$/)
    }
  })

  it('a misspelled model is not found (exit 3), with the message every command gives, never "0 versions ... No problems"', async () => {
    const r = await cli(['verify', 'credit-rsik'])
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe('Error: model "credit-rsik" not found in project "default"\n')
    expect(r.stderr).toBe((await cli(['models', 'show', 'credit-rsik'])).stderr)
    const json = await cli(['verify', 'credit-rsik', '--json'])
    expect(json.code).toBe(3)
    expect(json.json()).toEqual({error: {code: 'not_found', message: 'model "credit-rsik" not found in project "default"'}})
    expect((await cli(['verify', 'elsewhere/credit-risk'])).code).toBe(3)
  })

  it('a missing version or tag is not found (exit 3), as models show says it', async () => {
    for (const [ref, message] of [
      ['credit-risk:9', 'Error: version 9 of model "credit-risk" does not exist (its newest is 1)\n'],
      ['credit-risk:staging', 'Error: model "credit-risk" has no tag "staging" (its tags: latest, prod)\n'],
    ]) {
      const r = await cli(['verify', ref])
      expect(r.code, ref).toBe(3)
      expect(r.stderr).toBe(message)
      expect(r.stderr).toBe((await cli(['models', 'show', ref])).stderr)
    }
  })
})
