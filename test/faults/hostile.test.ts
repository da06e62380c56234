/** Hostile input across the surface, every case on both backends: one line, the right code, no change. */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {BACKENDS, makeBackendEnv} from '../helpers/backends.js'
import {type CliEnv, runCli} from '../helpers/cli.js'
import {storeSnapshot} from '../helpers/store.js'

const deepJson = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`

/** [what, argv, exit code]; "@dir:" arguments are replaced by a directory made from the listed file names. */
const CASES: [string, string[], number][] = [
  ['traversal in a model name', ['models', 'create', '../etc'], 2],
  ['a slash in a model name', ['models', 'create', 'a/b/c'], 2],
  ['an over-long name', ['models', 'create', 'n'.repeat(129)], 2],
  ['a newline in a name', ['models', 'create', 'bad\nname'], 2],
  ['an escape character in a name', ['models', 'create', 'bad\u001bname'], 2],
  ['a non-ASCII name', ['models', 'create', 'mödel'], 2],
  ['a name that looks like a flag', ['models', 'create', '--evil'], 2],
  ['traversal in a project', ['models', 'create', 'ok', '-p', '../p'], 2],
  ['tag latest', ['models', 'tag', 'target:1', 'latest'], 2],
  ['an all-digit tag', ['models', 'tag', 'target:1', '2024'], 2],
  ['a tag with a space', ['models', 'tag', 'target:1', 'bad tag'], 2],
  ['a traversal tag', ['models', 'tag', 'target:1', '../x'], 2],
  ['a reference with two colons', ['models', 'show', 'a:b:c'], 2],
  ['a reference ending in a colon', ['models', 'show', 'target:'], 2],
  ['a reference without a name', ['models', 'show', ':prod'], 2],
  ['a reference with two slashes', ['models', 'show', 'p/q/r'], 2],
  ['version zero', ['models', 'show', 'target:0'], 2],
  ['a __proto__ metadata key', ['models', 'update', 'target', '--set', '__proto__={"polluted": true}'], 2],
  ['a control character in a metadata key', ['models', 'update', 'target', '--set', 'a\u0007b=1'], 2],
  ['a metadata value over 64 KiB', ['models', 'update', 'target', '--set', `big=${'x'.repeat(70_000)}`], 2],
  ['metadata 100 levels deep', ['models', 'update', 'target', '--metadata', deepJson(100)], 2],
  ['metadata that is not an object', ['models', 'update', 'target', '--metadata', '[1, 2]'], 2],
  ['metadata that is not JSON', ['models', 'update', 'target', '--metadata', '{"a": '], 2],
  ['a label key with a space', ['models', 'update', 'target', '--label', 'bad key=v'], 2],
  ['an infinite metric', ['models', 'push', 'target', '@file', '--metric', 'acc=1e999'], 2],
  ['a metric that is not a number', ['models', 'push', 'target', '@file', '--metric', 'acc=NaN'], 2],
  ['a Windows device file name', ['models', 'push', 'target', '@dir:CON'], 2],
  ['a device name with an extension', ['models', 'push', 'target', '@dir:nul.txt'], 2],
  ['a backslash in a file name', ['models', 'push', 'target', '@dir:a\\b'], 2],
  ['file names differing only in case', ['models', 'push', 'target', '@dir:Weights.bin,weights.bin'], 2],
  ['file names differing only in normalization', ['models', 'push', 'target', '@dir:caf\u00e9,cafe\u0301'], 2],
  ['a run id that is not hex', ['runs', 'show', 'zzzzzzzz'], 2],
  ['a run id with traversal', ['runs', 'show', '../../x'], 2],
  ['a filter with SQL in it', ['runs', '--where', "name = 'x' or 1=1; drop table runs"], 2],
  ['a filter on an unknown field', ['runs', '--where', 'password = 1'], 2],
  ['a checkpoint id that is not a UUID', ['checkpoints', 'download', '../../etc/passwd'], 2],
  ['a missing model', ['models', 'show', 'missing'], 3],
  ['a duplicate model', ['models', 'create', 'TARGET'], 4],
]

describe.each(BACKENDS)('hostile input on %s', (backend) => {
  let ctx: CliEnv
  beforeAll(async () => {
    ctx = await makeBackendEnv(backend)
    writeFileSync(join(ctx.cwd, 'file.bin'), 'weights')
    expect((await runCli(ctx, ['models', 'push', 'target', 'file.bin'])).code).toBe(0)
  })

  it.each(CASES)('%s', async (_what, argv, code) => {
    const before = storeSnapshot(ctx.storeHome)
    const args = argv.map((arg) => {
      if (arg === '@file') return join(ctx.cwd, 'file.bin')
      if (!arg.startsWith('@dir:')) return arg
      const dir = join(ctx.cwd, `d-${Math.random().toString(36).slice(2)}`)
      mkdirSync(dir)
      for (const name of arg.slice(5).split(',')) writeFileSync(join(dir, name), `content of ${name}`)
      return dir
    })
    const r = await runCli(ctx, args)
    expect(r.code, r.stderr).toBe(code)
    expect(r.stderr).toMatch(/^Error: [^\n]+\n$/)
    expect(r.stdout).toBe('')
    expect(storeSnapshot(ctx.storeHome)).toEqual(before)
    const json = await runCli(ctx, [...args, '--json'])
    expect(json.code).toBe(code)
    expect(Object.keys(json.json().error)).toEqual(['code', 'message'])
  })

  it('still answers afterwards, and the store verifies', async () => {
    expect((await runCli(ctx, ['models', 'show', 'target', '--json'])).json().version).toBe(1)
    expect((await runCli(ctx, ['verify'])).code).toBe(0)
  })
})
