/** The CLI as a user runs it: the seeds' sessions, human output, --json shapes, exit codes. */
import {execFileSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {BACKENDS, makeBackendEnv} from '../helpers/backends.js'
import {type CliEnv, makeCliEnv, runCli} from '../helpers/cli.js'
import {storeSnapshot} from '../helpers/store.js'
import {markDamaged} from '../helpers/tmp.js'

function write(dir: string, tree: Record<string, string>): string {
  for (const [path, content] of Object.entries(tree)) {
    mkdirSync(join(dir, path, '..'), {recursive: true})
    writeFileSync(join(dir, path), content)
  }
  return dir
}

describe.each(BACKENDS)('roro-style session (models:*) on %s', (backend) => {
  let ctx: CliEnv
  beforeAll(async () => {
    ctx = await makeBackendEnv(backend)
    write(ctx.cwd, {'model.pkl': 'serialized model v1', 'log.txt': 'training log'})
  })

  it('creates, pushes, logs, shows and downloads', async () => {
    let r = await runCli(ctx, ['models:create', 'credit-risk'])
    expect(r).toMatchObject({code: 0, stderr: ''})
    expect(r.stdout).toBe('Created model credit-risk in project default.\n')

    r = await runCli(ctx, [
      'models:push',
      'credit-risk',
      'model.pkl',
      '-m',
      'Built new model using the data till June 2017',
      '--meta',
      'Input-Data-Source=s3://credit-risk-dataset-201706',
      '--metric',
      'Accuracy=0.89',
      '--attach',
      'log.txt',
    ])
    expect(r.code).toBe(0)
    // Both lines count the attachment: 1 file + 1 attachment were stored as 2 files.
    expect(r.stdout).toContain('Pushed credit-risk:1 (19 B in 1 file + 1 attachment; tags: latest)\nStored 2 files (31 B).\n')

    r = await runCli(ctx, ['models'])
    expect(r.stdout.split('\t').slice(0, 3)).toEqual(['credit-risk', '1', '1'])

    r = await runCli(ctx, ['models:log'])
    expect(r.code).toBe(0)
    const fields = r.stdout.trim().split('\t')
    expect(fields[0]).toMatch(/^\d{4}-\d\d-\d\dT/) // ISO time when piped
    expect(fields.slice(1)).toEqual(['credit-risk:1', 'push', 'latest', 'tester@example.com', 'Built new model using the data till June 2017'])

    r = await runCli(ctx, ['models:show', 'credit-risk:latest'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('credit-risk:1  (latest)')
    expect(r.stdout).toMatch(/Author:\s+tester@example.com/)
    expect(r.stdout).toMatch(/Input-Data-Source\s+s3:\/\/credit-risk-dataset-201706/)
    expect(r.stdout).toMatch(/Accuracy\s+0.89/)
    expect(r.stdout).toMatch(/model.pkl\s+19 B\s+[0-9a-f]{64}/)
    expect(r.stdout).toMatch(/Attachments:\n\s+log.txt/)

    r = await runCli(ctx, ['models:download', 'credit-risk:1', '-o', 'dl', '--attachments'])
    expect(r.code).toBe(0)
    expect(readFileSync(join(ctx.cwd, 'dl/model.pkl'), 'utf8')).toBe('serialized model v1')
    expect(readFileSync(join(ctx.cwd, 'dl/attachments/log.txt'), 'utf8')).toBe('training log')
  })

  it('the space form and the colon form are the same command', async () => {
    const a = await runCli(ctx, ['models:log', 'credit-risk', '--json'])
    const b = await runCli(ctx, ['models', 'log', 'credit-risk', '--json'])
    expect(a.code).toBe(0)
    expect(b.json()).toEqual(a.json())
    const list = [await runCli(ctx, ['models', '--json']), await runCli(ctx, ['models:list', '--json']), await runCli(ctx, ['model', 'list', '--json'])]
    expect(list.map((x) => x.code)).toEqual([0, 0, 0])
    expect(list[1].json()).toEqual(list[0].json())
    expect(list[2].json()).toEqual(list[0].json())
  })

  it('models:save is push; a re-push of the same file stores nothing new', async () => {
    const r = await runCli(ctx, ['models:save', 'credit-risk', 'model.pkl', '--json'])
    expect(r.code).toBe(0)
    expect(r.json()).toMatchObject({version: {version: 2}, uploaded: {files: 0, bytes: 0}, reused: {files: 1, bytes: 19}, model_created: false})
  })
})

describe.each(BACKENDS)('Determined-style session (model *) on %s', (backend) => {
  let ctx: CliEnv
  beforeAll(async () => {
    ctx = await makeBackendEnv(backend)
  })

  it('create, list with sort and order, describe, list-versions newest first', async () => {
    expect((await runCli(ctx, ['model', 'create', 'mnist_cnn', '--description', 'a character recognition model'])).code).toBe(0)
    expect((await runCli(ctx, ['model', 'create', 'mnist_pytorch'])).code).toBe(0)
    write(ctx.cwd, {'ckpt/weights.h5': 'w1'})
    for (let i = 0; i < 3; i++) {
      writeFileSync(join(ctx.cwd, 'ckpt/weights.h5'), `w${i}`)
      expect((await runCli(ctx, ['models', 'push', 'mnist_cnn', 'ckpt', '--framework', 'tensorflow-1.14.0', '--format', 'h5'])).code).toBe(0)
    }
    const list = await runCli(ctx, ['model', 'list', '--sort-by', 'creation_time', '--order-by', 'desc', '--json'])
    expect(list.json().items.map((m: {name: string}) => m.name)).toEqual(['mnist_pytorch', 'mnist_cnn'])
    const described = await runCli(ctx, ['model', 'describe', 'mnist_cnn', '--json'])
    expect(described.json()).toMatchObject({
      model: {name: 'mnist_cnn', description: 'a character recognition model', version_count: 3, latest_version: 3},
      latest: {version: 3, framework: 'tensorflow-1.14.0', format: 'h5', files: [{path: 'weights.h5'}]},
    })
    const human = await runCli(ctx, ['model', 'describe', 'mnist_cnn'])
    expect(human.stdout).toContain('Latest version:')
    const versions = await runCli(ctx, ['model', 'list-versions', 'mnist_cnn', '--json'])
    expect(versions.json().items.map((v: {version: number}) => v.version)).toEqual([3, 2, 1])
    const empty = await runCli(ctx, ['model', 'describe', 'mnist_pytorch'])
    expect(empty.stdout).toContain('No versions yet.')
  })

  it('merges metadata at the top level like add_metadata and removes keys like remove_metadata', async () => {
    await runCli(ctx, ['model', 'update', 'mnist_cnn', '--set', 'key=value'])
    await runCli(ctx, ['model', 'update', 'mnist_cnn', '--metadata', '{"metrics": {"test_set_loss": 0.091}}'])
    let r = await runCli(ctx, ['model', 'update', 'mnist_cnn', '--metadata', '{"metrics": {"test_set_acc": 0.97}}', '--json'])
    expect(r.json().metadata).toEqual({key: 'value', metrics: {test_set_acc: 0.97}})
    r = await runCli(ctx, ['model', 'update', 'mnist_cnn', '--unset', 'key', '--label', 'env=prod', '--json'])
    expect(r.json()).toMatchObject({metadata: {metrics: {test_set_acc: 0.97}}, labels: {env: 'prod'}})
    r = await runCli(ctx, ['model', 'update', 'mnist_cnn'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^Error: nothing to update/)
  })
})

describe.each(BACKENDS)('tags, log, diff, delete on %s', (backend) => {
  let ctx: CliEnv
  beforeAll(async () => {
    ctx = await makeBackendEnv(backend)
  })

  it('moves tags, keeps every move in the log, and guards moves with --expect', async () => {
    write(ctx.cwd, {'m/a.txt': 'one', 'm/b.txt': 'same'})
    await runCli(ctx, ['models', 'push', 'credit-risk', 'm', '--metric', 'auc=0.8', '--meta', 'data=june'])
    writeFileSync(join(ctx.cwd, 'm/a.txt'), 'two')
    write(ctx.cwd, {'m/c.txt': 'new'})
    await runCli(ctx, ['models', 'push', 'credit-risk', 'm', '--metric', 'auc=0.85', '--meta', 'data=july', '--tag', 'staging'])
    let r = await runCli(ctx, ['models', 'tag', 'credit-risk:1', 'prod'])
    expect(r.stdout).toBe('Tagged credit-risk:1 as prod.\n')
    r = await runCli(ctx, ['models', 'tag', 'credit-risk:staging', 'prod', '--expect', '1'])
    expect(r.stdout).toBe('Tagged credit-risk:2 as prod (moved from version 1).\n')
    r = await runCli(ctx, ['models', 'tag', 'credit-risk:1', 'prod', '--expect', '1'])
    expect(r.code).toBe(4)
    expect(r.stderr).toMatch(/^Error: tag "prod" of model "credit-risk" points at version 2, expected it to point at version 1/)
    for (const bad of ['latest', '42']) {
      r = await runCli(ctx, ['models', 'tag', 'credit-risk:1', bad])
      expect(r.code).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
    r = await runCli(ctx, ['models', 'tags', 'credit-risk', '--json'])
    expect(r.json().tags.map((t: {tag: string; version: number}) => `${t.tag}=${t.version}`)).toEqual(['latest=2', 'prod=2', 'staging=2'])
    r = await runCli(ctx, ['models', 'untag', 'credit-risk', 'staging'])
    expect(r.stdout).toBe('Removed tag staging from credit-risk (it was on version 2).\n')
    r = await runCli(ctx, ['models', 'log', 'credit-risk', '--json'])
    expect(r.json().items.map((e: {type: string; tag: string | null; version: number}) => [e.type, e.tag, e.version])).toEqual([
      ['tag.removed', 'staging', 2],
      ['tag.set', 'prod', 2],
      ['tag.set', 'prod', 1],
      ['tag.set', 'staging', 2],
      ['version.created', null, 2],
      ['version.created', null, 1],
    ])
    r = await runCli(ctx, ['models', 'log', 'credit-risk'])
    expect(r.stdout).toContain('\ttag prod (from 1)\t')
  })

  it('diffs two versions: files, metrics, metadata', async () => {
    const r = await runCli(ctx, ['models', 'diff', 'credit-risk:1', 'credit-risk:2', '--json'])
    expect(r.code).toBe(0)
    const d = r.json()
    expect(d.from).toBe('default/credit-risk:1')
    expect(d.files.added.map((f: {path: string}) => f.path)).toEqual(['c.txt'])
    expect(d.files.changed.map((f: {path: string}) => f.path)).toEqual(['a.txt'])
    expect(d.files.unchanged).toBe(1)
    expect(d.metrics.changed.auc.from).toBe(0.8)
    expect(d.metrics.changed.auc.to).toBe(0.85)
    expect(d.metadata.changed).toEqual({data: {from: 'june', to: 'july'}})
    const human = await runCli(ctx, ['models', 'diff', 'credit-risk:1', 'credit-risk:prod'])
    expect(human.stdout).toContain('credit-risk:1 -> credit-risk:2')
    expect(human.stdout).toMatch(/\+\s+c.txt/)
    expect(human.stdout).toMatch(/~\s+auc\s+0.8 -> 0.85 \(\+0.05\)/)
  })

  it('deletes only with --yes when stdin is not a terminal, and never reuses a number', async () => {
    const before = storeSnapshot(ctx.storeHome)
    let r = await runCli(ctx, ['models', 'delete', 'credit-risk:2'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('Error: refusing to delete without --yes when stdin is not a terminal\n')
    expect(storeSnapshot(ctx.storeHome)).toEqual(before)
    r = await runCli(ctx, ['models', 'delete', 'credit-risk:prod', '--yes'])
    expect(r.code).toBe(2)
    r = await runCli(ctx, ['models', 'delete', 'credit-risk:2', '--yes', '--json'])
    expect(r.json()).toEqual({project: 'default', model: 'credit-risk', versions: [2], model_deleted: false})
    r = await runCli(ctx, ['models', 'push', 'credit-risk', 'm', '--json'])
    expect(r.json().version.version).toBe(3)
    r = await runCli(ctx, ['models', 'delete', 'credit-risk', '-y'])
    expect(r.stdout).toBe('Deleted model credit-risk (2 versions).\n')
    expect((await runCli(ctx, ['models', 'show', 'credit-risk'])).code).toBe(3)
  })
})

describe.each(BACKENDS)('downloads on %s', (backend) => {
  let ctx: CliEnv

  beforeAll(async () => {
    ctx = await makeBackendEnv(backend)
    write(ctx.cwd, {'src/nested/deep/a.bin': 'A'.repeat(5000), 'src/empty': '', 'src/run.sh': '#!/bin/sh\necho hi\n'})
    chmodSync(join(ctx.cwd, 'src/run.sh'), 0o755)
    expect((await runCli(ctx, ['models', 'push', 'm', 'src'])).code).toBe(0)
  })

  it('writes a directory, refuses to overwrite without --force', async () => {
    let r = await runCli(ctx, ['models', 'download', 'm', '-o', 'out'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Downloaded m:1 to .*out \(3 files, 5.0 KB, verified\)\.\n$/)
    expect(readFileSync(join(ctx.cwd, 'out/nested/deep/a.bin'), 'utf8')).toBe('A'.repeat(5000))
    expect(execFileSync('sh', [join(ctx.cwd, 'out/run.sh')]).toString()).toBe('hi\n')
    r = await runCli(ctx, ['models', 'download', 'm', '-o', 'out'])
    expect(r.code).toBe(4)
    expect(r.stderr).toMatch(/^Error: 3 files already exist in .*; use --force/)
    r = await runCli(ctx, ['models', 'download', 'm', '-o', 'out', '--force', '--json'])
    expect(r.json()).toMatchObject({ref: 'default/m:1', bytes: 5018, files: [{path: 'empty'}, {path: 'nested/deep/a.bin'}, {path: 'run.sh'}]})
  })

  it('streams a tar to stdout with -o - and writes one with --tar', async () => {
    // Not execFileSync: the remote variant's server runs in this process and must keep answering.
    const streamed = await runCli(ctx, ['models', 'download', 'm', '-o', '-'])
    expect(streamed.code, streamed.stderr).toBe(0)
    const tarball = streamed.stdoutBytes
    mkdirSync(join(ctx.cwd, 'x'))
    execFileSync('tar', ['-x', '-C', join(ctx.cwd, 'x')], {input: tarball})
    expect(readFileSync(join(ctx.cwd, 'x/nested/deep/a.bin'), 'utf8')).toBe('A'.repeat(5000))
    let r = await runCli(ctx, ['models', 'download', 'm', '--tar', 'm.tar'])
    expect(r.code).toBe(0)
    expect(execFileSync('tar', ['-tf', join(ctx.cwd, 'm.tar')]).toString().split('\n').filter(Boolean).sort()).toEqual([
      'empty',
      'nested/deep/a.bin',
      'run.sh',
    ])
    r = await runCli(ctx, ['models', 'download', 'm', '--tar', 'm.tar'])
    expect(r.code).toBe(4)
    r = await runCli(ctx, ['models', 'download', 'm', '-o', '-', '--json'])
    expect(r.code).toBe(2)
    expect(r.json().error.code).toBe('invalid_argument')
  })

  it('a damaged blob stops the download with exit 6 and nothing at the final path', async () => {
    const shown = (await runCli(ctx, ['models', 'show', 'm', '--json'])).json()
    const digest = shown.files.find((f: {path: string}) => f.path === 'nested/deep/a.bin').sha256
    const blob = join(ctx.storeHome, 'blobs/sha256', digest.slice(0, 2), digest.slice(2))
    markDamaged(ctx.storeHome)
    chmodSync(blob, 0o644)
    writeFileSync(blob, `${'A'.repeat(4999)}B`)
    const r = await runCli(ctx, ['models', 'download', 'm', '-o', 'bad'])
    expect(r.code).toBe(6)
    expect(r.stderr).toMatch(/^Error: file "nested\/deep\/a.bin": sha256 mismatch/)
    expect(existsSync(join(ctx.cwd, 'bad/nested/deep/a.bin'))).toBe(false)
    const t = await runCli(ctx, ['models', 'download', 'm', '--tar', 'bad.tar'])
    expect(t.code).toBe(6)
    expect(existsSync(join(ctx.cwd, 'bad.tar'))).toBe(false)
  })
})

describe.each(BACKENDS)('--json, errors and exit codes on %s', (backend) => {
  let ctx: CliEnv
  beforeAll(async () => {
    ctx = await makeBackendEnv(backend)
  })

  it('prints one-line errors with documented exit codes, and JSON errors on stdout with --json', async () => {
    const cases: [string[], number, string][] = [
      [['models', 'show', 'nope'], 3, 'not_found'],
      [['models', 'show', 'a:b:c'], 2, 'invalid_argument'],
      [['models', 'show', 'm:'], 2, 'invalid_argument'],
      [['models', 'show', ':t'], 2, 'invalid_argument'],
      [['models', 'create', '../evil'], 2, 'invalid_argument'],
      [['models', 'create', 'a/b/c'], 2, 'invalid_argument'],
      [['models', 'create', 'x'.repeat(129)], 2, 'invalid_argument'],
      [['models', 'create', 'bad\u0001name'], 2, 'invalid_argument'],
      [['models', 'create'], 2, 'invalid_argument'],
      [['models', 'create', 'ok', '--no-such-flag'], 2, 'invalid_argument'],
      [['models', '--sort-by', 'size'], 2, 'invalid_argument'],
      [['models', 'push', 'm', 'does-not-exist.bin'], 3, 'not_found'],
      [['models', 'push', 'm:3', 'x'], 2, 'invalid_argument'],
      [['models', 'push', 'm', 'x', '--metric', 'acc=high'], 2, 'invalid_argument'],
      [['models', 'push', 'm', 'x', '--meta', 'novalue'], 2, 'invalid_argument'],
      [['models', 'create', 'ok', '--metadata', '[1]'], 2, 'invalid_argument'],
      [['nonsense'], 2, 'invalid_argument'],
    ]
    for (const [args, code, errorCode] of cases) {
      const human = await runCli(ctx, args)
      expect(human.code, args.join(' ')).toBe(code)
      expect(human.stdout, args.join(' ')).toBe('')
      expect(human.stderr, args.join(' ')).toMatch(/^Error: [^\n]+\n$/)
      const json = await runCli(ctx, [...args, '--json'])
      expect(json.code, args.join(' ')).toBe(code)
      expect(json.json(), args.join(' ')).toEqual({error: {code: errorCode, message: expect.any(String)}})
    }
    expect(storeSnapshot(ctx.storeHome)).toEqual({counts: expect.any(Object), blobs: []})
    expect((await runCli(ctx, ['models', '--json'])).json()).toEqual({items: [], total: 0, limit: 100, offset: 0})
  })

  it('never takes a missing argument from piped stdin', async () => {
    const r = await runCli(ctx, ['models', 'log', '--json'], {input: 'not-a-model\n'})
    expect(r.code, r.stderr).toBe(0)
  })

  it('a model name that differs only in case is the same model', async () => {
    expect((await runCli(ctx, ['models', 'create', 'Credit-Risk'])).code).toBe(0)
    const r = await runCli(ctx, ['models', 'create', 'credit-risk'])
    expect(r.code).toBe(4)
    expect(r.stderr).toBe('Error: model "Credit-Risk" already exists in project "default"\n')
    expect((await runCli(ctx, ['models', 'describe', 'CREDIT-RISK', '--json'])).json().model.name).toBe('Credit-Risk')
  })

  it('-p selects the project; a reference can name one', async () => {
    write(ctx.cwd, {'w.bin': 'w'})
    expect((await runCli(ctx, ['models', 'push', 'wav2vec', 'w.bin', '-p', 'langtech'])).code).toBe(0)
    expect((await runCli(ctx, ['models', 'show', 'langtech/wav2vec:1', '--json'])).json().project).toBe('langtech')
    expect((await runCli(ctx, ['models', '-p', 'langtech', '--json'])).json().total).toBe(1)
    const projects = (await runCli(ctx, ['projects', '--json'])).json()
    expect(projects.items.map((p: {name: string}) => p.name)).toEqual(['default', 'langtech'])
    expect((await runCli(ctx, ['projects', 'create', 'churn', '-d', 'churn prediction'])).stdout).toBe('Created project churn.\n')
  })
})

describe('every command', () => {
  const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '../../oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, {examples?: unknown[]; flags: Record<string, unknown>; summary?: string}>
  }

  it('has --json, a summary and at least one example', () => {
    const ids = Object.keys(manifest.commands)
    expect(ids.length).toBeGreaterThan(15)
    for (const id of ids) {
      const command = manifest.commands[id]
      expect(command.flags, id).toHaveProperty('json')
      expect(command.summary, id).toBeTruthy()
      expect(command.examples?.length, id).toBeGreaterThan(0)
    }
  })

  it('help: the same text as --help, the command as data with --json, exit 3 for an unknown one', async () => {
    const ctx = makeCliEnv()
    const text = await runCli(ctx, ['help', 'models', 'push'])
    expect(text.code).toBe(0)
    expect(text.stdout).toBe((await runCli(ctx, ['models', 'push', '--help'])).stdout)
    const data = await runCli(ctx, ['help', 'models', 'push', '--json'])
    expect(data.code).toBe(0)
    const command = JSON.parse(data.stdout)
    expect(command).toMatchObject({id: 'models push', summary: expect.any(String)})
    expect(command.flags.map((f: {name: string}) => f.name)).toEqual(expect.arrayContaining(['json', 'comment', 'tag', 'metric']))
    expect(command.examples[0]).toMatch(/^modelreg models push /)
    const list = JSON.parse((await runCli(ctx, ['help', '--json'])).stdout)
    expect(list.commands.map((c: {id: string}) => c.id)).toEqual(expect.arrayContaining(['models push', 'runs log', 'server start', 'help']))
    const unknown = await runCli(ctx, ['help', 'nope'])
    expect([unknown.code, unknown.stderr.trim()]).toEqual([3, `Error: unknown command "nope" (run 'modelreg help' for the list)`])
    expect(existsSync(ctx.home)).toBe(false) // help never opens the store
  })

  it('shows its example in --help', async () => {
    const ctx = makeCliEnv()
    const r = await runCli(ctx, ['models', 'push', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('EXAMPLES')
    expect(r.stdout).toContain('$ modelreg models push credit-risk model.pkl')
    expect(existsSync(ctx.home)).toBe(false) // --help never opens the store
  })
})
