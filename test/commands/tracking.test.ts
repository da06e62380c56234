/** Experiment tracking from the CLI, on both backends: the seeds' training loops, sync, the library. */
import {execFileSync, spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {BACKENDS, makeBackendEnv} from '../helpers/backends.js'
import {type CliEnv, ROOT, runCli} from '../helpers/cli.js'

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')

describe.each(BACKENDS)('experiment tracking on %s', (backend) => {
  let ctx: CliEnv
  beforeAll(async () => {
    ctx = await makeBackendEnv(backend)
  })
  const cli = (args: string[], options?: Parameters<typeof runCli>[2]) => runCli(ctx, args, options)
  const ok = async (args: string[], options?: Parameters<typeof runCli>[2]) => {
    const r = await cli(args, options)
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    return r
  }

  it('a training loop: per-epoch train and valid loss, a metric, datasets, a checkpoint; the best run is registered and tagged', async () => {
    const runs: Record<string, string> = {}
    for (const lr of [0.1, 0.01]) {
      const started = await ok(['runs', 'start', '--experiment', 'mnist', '--name', `lr-${lr}`, '--param', `lr=${lr}`, '--param', 'epochs=3', '-p', 'vision'])
      const id = started.stdout.trim()
      expect(id).toMatch(/^[0-9a-f]{12}$/)
      expect(started.stderr).toContain(`Started run ${id} (lr-${lr}) in experiment mnist.`)
      runs[lr] = id
      await ok(['runs', 'dataset', id, 'train', '/path/to/train', '--meta', 'num_cols=15', '--meta', 'dist=random'])
      for (let epoch = 0; epoch < 3; epoch++) {
        const train = 1 / (epoch + 1) / (lr * 100)
        await ok(['runs', 'log', id, `loss=${train}`, '--step', String(epoch), '--split', 'train'])
        await ok(['runs', 'log', id, `loss=${train * 1.2}`, `rmse=${3 - epoch * lr * 10}`, '--step', String(epoch), '--split', 'valid'])
      }
      mkdirSync(join(ctx.cwd, `ckpt-${lr}`), {recursive: true})
      writeFileSync(join(ctx.cwd, `ckpt-${lr}`, 'model.pt'), `weights lr=${lr}`)
      const ck = await ok(['runs', 'checkpoint', id, `ckpt-${lr}`, '--step', '2', '--metric', 'val_loss=0.2'])
      expect(ck.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/)
      const finished = await ok(['runs', 'finish', id])
      expect(finished.stdout).toMatch(new RegExp(`^Run ${id} completed after \\d`))
    }
    const best = await ok(['runs', '-p', 'vision', '--experiment', 'mnist', '--sort-by', 'metrics.loss[valid]', '--order-by', 'asc', '--limit', '1', '--json'])
    expect(best.json().items.map((r: {id: string}) => r.id)).toEqual([runs[0.1]])
    const listed = await ok(['runs', '-p', 'vision', '--sort-by', 'metrics.loss[valid]', '--order-by', 'asc'])
    expect(listed.stdout.split('\n')[0].split('\t').slice(0, 4)).toEqual([runs[0.1], 'lr-0.1', 'mnist', 'completed'])
    const ckpts = await ok(['checkpoints', runs[0.1], '--json'])
    const uuid = ckpts.json().checkpoints[0].uuid
    const registered = await ok(['model', 'register', 'vision/mnist_cnn', uuid, '--tag', 'champion', '-m', 'best of the sweep'])
    expect(registered.stdout).toContain(`Registered checkpoint ${uuid} as mnist_cnn:1 (latest, champion).`)
    const shown = await ok(['models', 'show', 'vision/mnist_cnn:champion'])
    expect(shown.stdout).toContain(`run         ${runs[0.1]} (lr-0.1) in experiment mnist, completed when recorded`)
    expect(shown.stdout).toContain(`checkpoint  ${uuid} at step 2`)
    expect(shown.stdout).toMatch(/params\s+lr=0.1 epochs=3/)
    expect(shown.stdout).toMatch(/dataset\s+train: \/path\/to\/train/)
    const json = (await ok(['models', 'show', 'vision/mnist_cnn:champion', '--json'])).json()
    expect(json.lineage.metrics['loss[valid]']).toBeCloseTo(0.04)
    expect(json.metrics.val_loss).toBe(0.2)
    const run = await ok(['runs', 'show', runs[0.1]])
    expect(run.stdout).toMatch(/loss\s+valid\s+0.0(4|399)\d*\s+0.0(4|399)\d*\s+0.12\d*\s+3\n/)
    expect(run.stdout).toContain('vision/mnist_cnn:1')
    expect(run.stdout).toMatch(/Duration:\s+\d/)
    // The registered version's files download and verify.
    await ok(['models', 'download', 'vision/mnist_cnn:champion', '-o', 'served'])
    expect(readFileSync(join(ctx.cwd, 'served', 'model.pt'), 'utf8')).toBe('weights lr=0.1')
    await ok(['checkpoints', 'download', uuid, '-o', 'ck-out'])
    expect(readFileSync(join(ctx.cwd, 'ck-out', 'model.pt'), 'utf8')).toBe('weights lr=0.1')
    // Deleting the run later does not break the version.
    await ok(['runs', 'delete', runs[0.1], '--yes'])
    expect((await cli(['runs', 'show', runs[0.1]])).code).toBe(3)
    const after = (await ok(['models', 'show', 'vision/mnist_cnn:1', '--json'])).json()
    expect(after.lineage.run.id).toBe(runs[0.1])
    await ok(['models', 'download', 'vision/mnist_cnn:1', '-o', 'served-again'])
  })

  it('runs log --file: NDJSON batches, a retried batch leaves the series unchanged, errors name the line', async () => {
    const id = (await ok(['runs', 'start', '-e', 'batches'])).stdout.trim()
    const lines = Array.from({length: 2500}, (_, i) => JSON.stringify({name: 'loss', split: i % 2 ? 'valid' : 'train', step: Math.floor(i / 2), value: 1 / (i + 1)}))
    writeFileSync(join(ctx.cwd, 'points.ndjson'), `${lines.join('\n')}\n`)
    expect((await ok(['runs', 'log', id, '--file', 'points.ndjson', '--json'])).json()).toEqual({run: id, count: 2500})
    const first = (await ok(['runs', 'metrics', id, '--format', 'ndjson'])).stdout
    expect(first.trim().split('\n')).toHaveLength(2500)
    await ok(['runs', 'log', id, '--file', 'points.ndjson'])
    expect((await ok(['runs', 'metrics', id, '--format', 'ndjson'])).stdout).toBe(first)
    const stdin = await ok(['runs', 'log', id, '--file', '-'], {input: '{"name": "acc", "value": 0.5}\n{"name": "acc", "value": 0.6}\n'})
    expect(stdin.stdout).toBe('Logged 2 points.\n')
    writeFileSync(join(ctx.cwd, 'bad.ndjson'), '{"name": "acc", "value": 1}\nnot json\n')
    const bad = await cli(['runs', 'log', id, '--file', 'bad.ndjson'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe('Error: --file bad.ndjson line 2: not valid JSON\n')
    const badValue = await cli(['runs', 'log', id, '--file', '-'], {input: '{"name": "acc", "value": "high"}\n'})
    expect(badValue.code).toBe(2)
    expect(badValue.stderr).toMatch(/^Error: metric point 1 \(acc\): value must be a finite number\n$/)
    expect((await cli(['runs', 'log', id, '--file', 'missing.ndjson'])).code).toBe(3)
  })

  it('runs metrics prints the full series as table, csv, ndjson or json', async () => {
    const id = (await ok(['runs', 'start', '-e', 'formats'])).stdout.trim()
    await ok(['runs', 'log', id, 'loss=0.5', 'acc=0.7', '--step', '0', '--split', 'valid'])
    await ok(['runs', 'log', id, 'loss=0.25', '--step', '1', '--split', 'valid'])
    const csv = (await ok(['runs', 'metrics', id, '--format', 'csv', '--name', 'loss'])).stdout.split('\n')
    expect(csv[0]).toBe('name,split,step,value,time')
    expect(csv.slice(1, 3).map((l) => l.split(',').slice(0, 4).join(','))).toEqual(['loss,valid,0,0.5', 'loss,valid,1,0.25'])
    const json = (await ok(['runs', 'metrics', id, '--json'])).json()
    expect(json.run).toBe(id)
    expect(json.points.map((p: {name: string; step: number; value: number}) => [p.name, p.step, p.value])).toEqual([
      ['acc', 0, 0.7],
      ['loss', 0, 0.5],
      ['loss', 1, 0.25],
    ])
    const table = (await ok(['runs', 'metrics', id])).stdout.trim().split('\n')
    expect(table[0].split('\t').slice(0, 4)).toEqual(['acc', 'valid', '0', '0.7'])
    const empty = await ok(['runs', 'metrics', id, '--name', 'nothing', '--format', 'json'])
    expect(empty.json()).toEqual({run: id, points: []})
  })

  it('params conflict unless --overwrite; datasets record sha256 with --hash', async () => {
    const id = (await ok(['runs', 'start', '-e', 'params', '--param', 'lr=0.1'])).stdout.trim()
    await ok(['runs', 'params', id, 'batch=32', 'lr=0.1'])
    const conflict = await cli(['runs', 'params', id, 'lr=0.2'])
    expect(conflict.code).toBe(4)
    expect(conflict.stderr).toMatch(/^Error: param "lr" of run [0-9a-f]+ is already 0.1; use --overwrite to change it to 0.2\n$/)
    expect((await ok(['runs', 'params', id, 'lr=0.2', '--overwrite', '--json'])).json().params).toEqual({lr: 0.2, batch: 32})

    writeFileSync(join(ctx.cwd, 'train.csv'), 'a,b\n1,2\n')
    mkdirSync(join(ctx.cwd, 'shards/x'), {recursive: true})
    writeFileSync(join(ctx.cwd, 'shards/x/1.bin'), 'one')
    writeFileSync(join(ctx.cwd, 'shards/2.bin'), 'two')
    const file = (await ok(['runs', 'dataset', id, 'train', 'train.csv', '--hash', '--json'])).json()
    expect(file).toMatchObject({tag: 'train', uri: 'train.csv', sha256: sha('a,b\n1,2\n'), size: 8})
    const dir = (await ok(['runs', 'dataset', id, 'shards', 'shards', '--hash', '--json'])).json()
    expect(dir.sha256).toBe(sha(`${sha('two')}  2.bin\n${sha('one')}  x/1.bin\n`))
    expect(dir.size).toBe(6)
    const uri = (await ok(['runs', 'dataset', id, 'test', 's3://bucket/test.csv', '--meta', 'rows=100', '--json'])).json()
    expect(uri).toMatchObject({uri: 's3://bucket/test.csv', sha256: null, metadata: {rows: 100}})
    expect((await cli(['runs', 'dataset', id, 'x', 's3://bucket/x', '--hash'])).code).toBe(2)
  })

  it('datasets: the path is recorded verbatim; --hash reads exactly that path, stays inside it and refuses what is not data', async () => {
    const id = (await ok(['runs', 'start', '-e', 'datasets'])).stdout.trim()
    // "x;/../" is not the working directory: "x;" does not exist, so neither does the path.
    const missing = await cli(['runs', 'dataset', id, 't', 'x;/../', '--hash'])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toBe('Error: dataset path "x;/../" does not exist (it is read exactly as written)\n')
    expect((await ok(['runs', 'dataset', id, 't', 'x;/../', '--json'])).json()).toMatchObject({uri: 'x;/../', sha256: null})
    writeFileSync(join(ctx.cwd, 'ds.csv'), 'a\n')
    expect((await cli(['runs', 'dataset', id, 't', 'ds.csv/..', '--hash'])).code).toBe(3)
    mkdirSync(join(ctx.cwd, 'ds/sub'), {recursive: true})
    writeFileSync(join(ctx.cwd, 'ds/a.csv'), 'a\n')
    expect((await ok(['runs', 'dataset', id, 't', './ds/sub/..', '--hash', '--json'])).json()).toMatchObject({uri: './ds/sub/..', sha256: sha(`${sha('a\n')}  a.csv\n`), size: 2})
    const pushed = await ok(['models', 'push', 'ds-model', 'ds.csv', '--dataset', 'train=x;/../', '--json'])
    expect(pushed.json().version.lineage.datasets).toEqual([expect.objectContaining({tag: 'train', uri: 'x;/../'})])

    // A link that stays inside is followed; one that leads out is refused, with the reason.
    symlinkSync('../a.csv', join(ctx.cwd, 'ds/sub/inside.csv'))
    expect((await ok(['runs', 'dataset', id, 't', 'ds', '--hash', '--json'])).json().size).toBe(4)
    symlinkSync('/etc', join(ctx.cwd, 'ds/sub/etc'))
    const out = await cli(['runs', 'dataset', id, 't', 'ds', '--hash'])
    expect(out.code).toBe(2)
    expect(out.stderr).toBe('Error: symbolic link "ds/sub/etc" leads out of "ds" (to "/etc"); refusing to hash it: hash the target directly or copy it in\n')
    rmSync(join(ctx.cwd, 'ds/sub/etc'))

    // Not data: /proc, a FIFO, a tree deeper than 64 levels. Each stops at once with one line.
    const proc = await cli(['runs', 'dataset', id, 't', '/proc', '--hash'])
    expect(proc.code).toBe(2)
    expect(proc.stderr).toBe('Error: dataset path "/proc" leads into a proc file system, which holds no data to hash\n')
    execFileSync('mkfifo', [join(ctx.cwd, 'ds/sub/pipe')])
    const fifo = await cli(['runs', 'dataset', id, 't', 'ds', '--hash'])
    expect(fifo.code).toBe(2)
    expect(fifo.stderr).toBe('Error: "ds/sub/pipe" is not a regular file or directory (sockets, FIFOs and devices cannot be hashed)\n')
    mkdirSync(join(ctx.cwd, 'deep', ...Array.from({length: 70}, () => 'd')), {recursive: true})
    const deep = await cli(['runs', 'dataset', id, 't', 'deep', '--hash'])
    expect(deep.code).toBe(2)
    expect(deep.stderr).toMatch(/^Error: dataset path "deep" is deeper than 64 directory levels \(at "deep\/d\/d\/.*"\); hash a smaller directory\n$/)
    const shown = (await ok(['runs', 'show', id, '--json'])).json()
    expect(shown.datasets.map((d: {uri: string}) => d.uri)).toEqual(['ds'])
  })

  it('--where finds runs and versions; a bad filter names the column', async () => {
    for (const [name, acc] of [
      ['w1', 0.7],
      ['w2', 0.95],
    ] as const) {
      const id = (await ok(['runs', 'start', '-e', 'where', '--name', name, '--param', 'opt=adam'])).stdout.trim()
      await ok(['runs', 'log', id, `accuracy=${acc}`])
    }
    const found = await ok(['runs', '--where', "metrics.accuracy > 0.9 and params.opt = 'adam'", '--json'])
    expect(found.json().items.map((r: {name: string}) => r.name)).toEqual(['w2'])
    const bad = await cli(['runs', '--where', 'metrics.accuracy >> 0.9'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^Error: invalid filter at column 19: expected a value/)
    writeFileSync(join(ctx.cwd, 'f.bin'), 'v1')
    await ok(['models', 'push', 'filtered', 'f.bin', '--metric', 'auc=0.7'])
    writeFileSync(join(ctx.cwd, 'f.bin'), 'v2')
    await ok(['models', 'push', 'filtered', 'f.bin', '--metric', 'auc=0.9', '--tag', 'prod'])
    const versions = await ok(['models', 'list-versions', 'filtered', '--where', "metrics.auc > 0.8 and tags = 'prod'", '--json'])
    expect(versions.json().items.map((v: {version: number}) => v.version)).toEqual([2])
  })

  it('experiments: create, list, show', async () => {
    await ok(['experiments', 'create', 'wav2vec-lid', '-p', 'langtech', '--owner', 'you@example.com', '--framework', 'pytorch'])
    const listed = await ok(['experiments', '-p', 'langtech', '--json'])
    expect(listed.json().items).toEqual([expect.objectContaining({name: 'wav2vec-lid', owner: 'you@example.com', framework: 'pytorch', run_count: 0})])
    expect((await cli(['experiments', 'create', 'wav2vec-lid', '-p', 'langtech'])).code).toBe(4)
    const shown = await ok(['experiments', 'show', 'wav2vec-lid', '-p', 'langtech'])
    expect(shown.stdout).toMatch(/Framework:\s+pytorch/)
    expect((await cli(['experiments', 'show', 'nope'])).code).toBe(3)
  })

  it('sync of the example file creates everything once; the second run reports no changes', async () => {
    const file = join(ROOT, 'examples', 'sync.yaml')
    const first = await ok(['sync', file, '--json'])
    expect(first.json().changes.map((c: {kind: string; name: string; action: string}) => `${c.action} ${c.kind} ${c.name}`)).toEqual([
      'created project churn',
      'created experiment baseline',
      'created run baseline/l1-10',
      'created run baseline/l1-100',
      'created model churn-lr',
      'created version churn-lr:1',
      'created tag churn-lr:staging',
    ])
    const second = await ok(['sync', file])
    expect(second.stdout).toMatch(/^No changes \(\d+ already up to date in project churn\)\.\n$/)
    expect((await ok(['sync', file, '--json'])).json().changes).toEqual([])
    const model = (await ok(['models', 'show', 'churn/churn-lr:staging', '--json'])).json()
    expect(model.lineage.run.name).toBe('l1-10')
    expect(model.lineage.datasets.map((d: {tag: string}) => d.tag)).toEqual(['test', 'train'])
    expect(model.lineage.datasets[1].sha256).toBe(sha(readFileSync(join(ROOT, 'examples/churn/data/train.csv'))))
    const runs = (await ok(['runs', '-p', 'churn', '--sort-by', 'metrics.accuracy', '--json'])).json()
    expect(runs.items.map((r: {name: string; status: string}) => `${r.name}:${r.status}`)).toEqual(['l1-10:completed', 'l1-100:completed'])
    const series = (await ok(['runs', 'metrics', runs.items[0].id, '--name', 'loss', '--split', 'valid', '--json'])).json()
    expect(series.points.map((p: {value: number}) => p.value)).toEqual([0.7, 0.58, 0.49])
  })

  const trainExample = (project: string) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'examples', 'train.mjs')], {cwd: ROOT, env: {...ctx.env, EXAMPLE_PROJECT: project}})
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (c) => (stdout += c))
      child.stderr.on('data', (c) => (stderr += c))
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`exit ${code}: ${stderr}`))))
    })

  it('the library example (import {openRegistry} from "modelreg") logs a loop and registers the best run, and can be run again', async () => {
    const result = JSON.parse(await trainExample('lib'))
    expect(result).toMatchObject({name: 'lr-0.1', model: 'mnist-cnn', version: 1, tags: ['latest', 'champion']})
    const version = (await ok(['models', 'show', 'lib/mnist-cnn:champion', '--json'])).json()
    expect(version.lineage.run.id).toBe(result.best)
    expect(version.lineage.datasets[0]).toMatchObject({tag: 'train', uri: 's3://mnist/train'})
    // Re-running a training script is a new run with the same name, as in MLflow or W&B.
    const again = JSON.parse(await trainExample('lib'))
    expect(again).toMatchObject({name: 'lr-0.1', model: 'mnist-cnn', version: 2, tags: ['latest', 'champion']})
    const runs = (await ok(['runs', '-p', 'lib', '--experiment', 'mnist-cnn', '--where', "name = 'lr-0.1'", '--json'])).json()
    expect(runs.items).toHaveLength(2)
    expect(runs.items.map((r: {id: string}) => r.id)).toContain(result.best)
  })

  it('sync checks the whole file, and every path it names, before it writes anything', async () => {
    const dir = join(ctx.cwd, 'sync-bad')
    mkdirSync(dir, {recursive: true})
    writeFileSync(join(dir, 'model.bin'), 'weights')
    const events = async () => (await ok(['events', '--all-projects', '--json', '--limit', '1000'])).json().items.length
    const before = await events()
    const file = (body: string) => {
      const path = join(dir, 'project.yaml')
      writeFileSync(path, `project: half-written\nexperiments:\n  - name: e\n    runs:\n      - name: r\n        status: completed\n        metrics: {loss: [0.5, 0.4]}\nmodels:\n  - name: m\n    push: {paths: [model.bin]}\n${body}`)
      return path
    }
    const cases: [string, string, number, RegExp][] = [
      ['a bad metric value', `  - name: m2\n    push: {paths: [model.bin], metrics: {acc: high}}\n`, 2, /metric "acc" must be a finite number/],
      ['a metric series with a string', '', 2, /loss\[1\] must be a number/],
      ['a push path that does not exist', `  - name: m3\n    push: {paths: [missing.bin]}\n`, 3, /missing\.bin/],
      ['a bad tag', `  - name: m4\n    push: {paths: [model.bin], tags: [latest]}\n`, 2, /tag/],
      ['a run pointing nowhere', `  - name: m5\n    push: {paths: [model.bin], run: e/nope}\n`, 2, /push\.run "e\/nope" is not a run/],
    ]
    for (const [what, body, code, message] of cases) {
      const path = file(body)
      if (what === 'a metric series with a string') {
        writeFileSync(path, readFileSync(path, 'utf8').replace('[0.5, 0.4]', '[0.5, oops]'))
      }
      const r = await cli(['sync', path])
      expect(r.code, `${what}: ${r.stderr}`).toBe(code)
      expect(r.stderr.trim().split('\n'), what).toHaveLength(1)
      expect(r.stderr, what).toMatch(message)
      expect(await events(), `${what} wrote something`).toBe(before)
    }
    expect((await ok(['projects', '--json'])).json().items.map((p: {name: string}) => p.name)).not.toContain('half-written')
    // The same file without its mistake goes through whole.
    const good = await ok(['sync', file(''), '--json'])
    expect(good.json().changes.map((c: {kind: string}) => c.kind)).toEqual(['project', 'experiment', 'run', 'model', 'version'])
    // Its finished run cannot be set running again: refused before anything is written.
    const after = await events()
    writeFileSync(join(dir, 'project.yaml'), readFileSync(join(dir, 'project.yaml'), 'utf8').replace('status: completed', 'status: running').replace('[0.5, 0.4]', '[0.5, 0.3]'))
    const refused = await cli(['sync', join(dir, 'project.yaml')])
    expect(refused.code, refused.stderr).toBe(4)
    expect(refused.stderr).toMatch(/already finished \(completed\)/)
    expect(await events()).toBe(after)
    // Nor take new points: refused before anything is written, unless --allow-finished.
    writeFileSync(join(dir, 'project.yaml'), readFileSync(join(dir, 'project.yaml'), 'utf8').replace('status: running', 'status: completed'))
    const points = await cli(['sync', join(dir, 'project.yaml')])
    expect([points.code, points.stderr]).toEqual([
      4,
      'Error: sync file: run e/r already finished (completed): it takes no more points (the file has 1 new or changed point); use --allow-finished to add them after its end\n',
    ])
    expect(await events()).toBe(after)
    const allowed = await ok(['sync', join(dir, 'project.yaml'), '--allow-finished', '--json'])
    expect(allowed.json().changes).toEqual([{kind: 'run', name: 'e/r', action: 'updated', fields: ['metrics']}])
    const run = (await ok(['runs', '-p', 'half-written', '--json'])).json().items[0]
    expect([run.status, run.metrics.loss]).toEqual(['completed', 0.3])
  })

  it('runs log on a finished run: refused in one line (exit 4), single points, --file and stdin alike; --allow-finished adds them', async () => {
    const id = (await ok(['runs', 'start', '--experiment', 'eval', '--name', 'done', '-p', 'late'])).stdout.trim()
    await ok(['runs', 'log', id, 'loss=0.3', '--step', '0'])
    await ok(['runs', 'finish', id, '--status', 'failed'])
    const line = `run ${id} already finished (failed): it takes no more points; use --allow-finished to add some after its end`
    writeFileSync(join(ctx.cwd, 'late.ndjson'), '{"name":"loss","step":1,"value":0.2}\n')
    for (const args of [[id, 'loss=0.2', '--step', '1'], [id, '--file', 'late.ndjson'], [id, '--file', '-']]) {
      const r = await cli(['runs', 'log', ...args], {input: '{"name":"loss","step":1,"value":0.2}\n'})
      expect([r.code, r.stderr, r.stdout], args.join(' ')).toEqual([4, `Error: ${line}\n`, ''])
      const json = await cli(['runs', 'log', ...args, '--json'], {input: '{"name":"loss","step":1,"value":0.2}\n'})
      expect([json.code, json.stderr, json.json()], `${args.join(' ')} --json`).toEqual([4, '', {error: {code: 'conflict', message: line}}])
    }
    const late = await ok(['runs', 'log', id, 'accuracy=0.91', '--split', 'test', '--allow-finished'])
    expect(late.stdout).toBe('Logged 1 point.\n')
    await ok(['runs', 'log', id, '--file', 'late.ndjson', '--allow-finished'])
    const shown = (await ok(['runs', 'show', id, '--json'])).json()
    expect([shown.status, shown.metrics]).toEqual(['failed', {loss: 0.2, 'accuracy[test]': 0.91}])
  })

  it('sync finds a run by name: the newest of several, and says so', async () => {
    const dir = join(ctx.cwd, 'sync-rerun')
    mkdirSync(dir, {recursive: true})
    const older = (await ok(['runs', 'start', '--experiment', 'sweep', '--name', 'trial-1', '-p', 'rerun'])).stdout.trim()
    const newer = (await ok(['runs', 'start', '--experiment', 'sweep', '--name', 'trial-1', '-p', 'rerun'])).stdout.trim()
    expect(newer).not.toBe(older)
    const path = join(dir, 'p.yaml')
    writeFileSync(path, 'project: rerun\nexperiments:\n  - name: sweep\n    runs:\n      - name: trial-1\n        params: {lr: 0.1}\n')
    const r = await ok(['sync', path])
    expect(r.stdout).toContain(`note: experiment sweep has 2 runs named "trial-1": using the newest (${newer})`)
    expect((await ok(['runs', 'show', newer, '--json'])).json().params).toEqual({lr: 0.1})
    expect((await ok(['runs', 'show', older, '--json'])).json().params).toEqual({})
    expect((await ok(['sync', path, '--json'])).json().notes).toHaveLength(1)
  })
})

describe('the library is importable by its package name', () => {
  it('exports openRegistry and the error type', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', "import * as m from 'modelreg'; console.log(Object.keys(m).sort().join(','))"], {cwd: ROOT})
    const names = out.toString().trim().split(',')
    for (const name of ['openRegistry', 'Registry', 'RunHandle', 'RegistryError', 'pushVersion', 'downloadVersion', 'syncFile']) expect(names).toContain(name)
  })
})
