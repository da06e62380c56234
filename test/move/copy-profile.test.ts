/** copy --to/--from PROFILE: the named profile is the other store, whatever the environment says. */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {expect, it} from 'vitest'
import {makeCliEnv, runCli} from '../helpers/cli.js'
import {tempDir} from '../helpers/tmp.js'

it('copy --to PROFILE writes to the profile\'s home even with MODELREG_HOME set (to the source)', async () => {
  const env = makeCliEnv()
  const target = join(tempDir('copy-profile-'), 'store')
  const configDir = join(env.env.XDG_CONFIG_HOME!, 'modelreg')
  mkdirSync(configDir, {recursive: true})
  writeFileSync(join(configDir, 'config.yaml'), `profiles:\n  backup:\n    backend: local\n    home: ${target}\n`)
  writeFileSync(join(env.cwd, 'w.bin'), 'weights')
  expect((await runCli(env, ['models', 'push', 'credit-risk', 'w.bin'])).code).toBe(0)
  const copied = await runCli(env, ['copy', '--to', 'backup', '--json'])
  expect(copied.code).toBe(0)
  expect(copied.json().models.written).toBe(1)
  const there = await runCli(env, ['models', 'show', 'credit-risk', '--json'], {env: {...env.env, MODELREG_HOME: target}})
  expect(there.json()).toMatchObject({model: 'credit-risk', version: 1})
  // And back: --from the profile, into the environment's store, finds nothing to move.
  const back = await runCli(env, ['copy', '--from', 'backup', '--to', env.home, '--json'])
  expect(back.code).toBe(0)
  expect(back.json().models.written).toBe(0)
}, 60_000)
