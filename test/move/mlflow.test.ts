/**
 * import mlflow: file-store trees laid out as MLflow 2.x writes them (mlflow/store/tracking/file_store.py,
 * mlflow/store/model_registry/file_store.py), and a stand-in tracking server answering REST API 2.0
 * with MLflow's documented response shapes, paging included. Checked through the CLI's --json reads.
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {mkdirSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'
import {LocalBackend} from '../../src/backends/local/local-backend.js'
import {importMlflow} from '../../src/registry/move/mlflow/import.js'
import {RestSource} from '../../src/registry/move/mlflow/rest.js'
import {makeCliEnv, runCli, type CliEnv} from '../helpers/cli.js'
import {tempDir} from '../helpers/tmp.js'

const T0 = 1_700_000_000_000
const RUN1 = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'
const RUN2 = 'b1b2c3d4e5f60718293a4b5c6d7e8f91'
const RUN3 = 'c1b2c3d4e5f60718293a4b5c6d7e8f92'
const RUN4 = 'd1b2c3d4e5f60718293a4b5c6d7e8f93'
const TRASHED = 'e1b2c3d4e5f60718293a4b5c6d7e8f94'
const RUNNING = 'f1b2c3d4e5f60718293a4b5c6d7e8f95'

/** Writes files the way MLflow's file store does: meta.yaml by yaml.safe_dump, one file per key. */
class MlrunsTree {
  constructor(readonly root: string) {
    mkdirSync(join(root, '.trash'), {recursive: true})
    mkdirSync(join(root, 'models'), {recursive: true})
  }

  private write(path: string, content: string | Buffer): void {
    mkdirSync(join(path, '..'), {recursive: true})
    writeFileSync(path, content)
  }

  experiment(id: string, name: string, options: {tags?: Record<string, string>; time?: number} = {}): void {
    const dir = join(this.root, id)
    this.write(
      join(dir, 'meta.yaml'),
      stringify({artifact_location: pathToFileURL(dir).href, creation_time: options.time ?? T0, experiment_id: id, last_update_time: options.time ?? T0, lifecycle_stage: 'active', name}),
    )
    for (const [k, v] of Object.entries(options.tags ?? {})) this.write(join(dir, 'tags', ...k.split('/')), v)
  }

  run(
    exp: string,
    id: string,
    r: {name: string; status: number; start: number; end: number | null; user?: string; lifecycle?: string; params?: Record<string, string>; tags?: Record<string, string>; metrics?: Record<string, string[]>; artifacts?: Record<string, string>},
  ): void {
    const dir = join(this.root, exp, id)
    this.write(
      join(dir, 'meta.yaml'),
      stringify({
        artifact_uri: pathToFileURL(join(dir, 'artifacts')).href,
        end_time: r.end,
        entry_point_name: '',
        experiment_id: exp,
        lifecycle_stage: r.lifecycle ?? 'active',
        run_id: id,
        run_name: r.name,
        run_uuid: id,
        source_name: '',
        source_type: 4,
        source_version: '',
        start_time: r.start,
        status: r.status,
        tags: [],
        user_id: r.user ?? 'alice',
      }),
    )
    for (const [k, v] of Object.entries(r.params ?? {})) this.write(join(dir, 'params', ...k.split('/')), v)
    for (const [k, v] of Object.entries({'mlflow.runName': r.name, 'mlflow.user': r.user ?? 'alice', ...r.tags})) this.write(join(dir, 'tags', ...k.split('/')), v)
    for (const [k, lines] of Object.entries(r.metrics ?? {})) this.write(join(dir, 'metrics', ...k.split('/')), `${lines.join('\n')}\n`)
    mkdirSync(join(dir, 'artifacts'), {recursive: true})
    for (const [k, v] of Object.entries(r.artifacts ?? {})) this.write(join(dir, 'artifacts', ...k.split('/')), v)
  }

  artifactUri(exp: string, run: string, path: string): string {
    return pathToFileURL(join(this.root, exp, run, 'artifacts', path)).href
  }

  model(name: string, m: {description?: string; time: number; updated?: number; tags?: Record<string, string>; aliases?: Record<string, number>}): void {
    const dir = join(this.root, 'models', name)
    this.write(join(dir, 'meta.yaml'), stringify({aliases: {}, creation_timestamp: m.time, description: m.description ?? null, last_updated_timestamp: m.updated ?? m.time, name}))
    for (const [k, v] of Object.entries(m.tags ?? {})) this.write(join(dir, 'tags', k), v)
    for (const [k, v] of Object.entries(m.aliases ?? {})) this.write(join(dir, 'aliases', k), String(v))
  }

  version(name: string, v: {version: number; time: number; stage?: string; source: string; run?: string; description?: string; tags?: Record<string, string>; updated?: number}): void {
    const dir = join(this.root, 'models', name, `version-${v.version}`)
    this.write(
      join(dir, 'meta.yaml'),
      stringify({
        aliases: [],
        creation_timestamp: v.time,
        current_stage: v.stage ?? 'None',
        description: v.description ?? null,
        last_updated_timestamp: v.updated ?? v.time,
        name,
        run_id: v.run ?? null,
        run_link: '',
        source: v.source,
        status: 'READY',
        status_message: null,
        storage_location: v.source,
        user_id: null,
        version: v.version,
      }),
    )
    for (const [k, val] of Object.entries(v.tags ?? {})) this.write(join(dir, 'tags', k), val)
  }
}

const MLMODEL = 'artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n  sklearn:\n    sklearn_version: 1.3.0\nrun_id: x\n'

/** The tree of the tests: two experiments (one deleted), runs of every status, a model with aliases, stages, a deleted and an unreachable version. */
function seedTree(root: string): MlrunsTree {
  const t = new MlrunsTree(root)
  t.experiment('0', 'Default')
  t.experiment('1', 'churn training', {tags: {'mlflow.note.content': 'Churn models', team: 'risk'}, time: T0 - 1000})
  t.run('1', RUN1, {
    name: 'bold-fox-1',
    status: 3,
    start: T0,
    end: T0 + 60_000,
    params: {lr: '0.01', layers: '3', optimizer: 'adam', 'lr_schedule': '1e-05'},
    tags: {'mlflow.source.git.commit': 'abc123def456', 'mlflow.source.name': 'train.py', 'mlflow.source.type': 'LOCAL', 'mlflow.log-model.history': JSON.stringify([{run_id: RUN1, artifact_path: 'model', flavors: {sklearn: {}}, utc_time_created: 'x'.repeat(300)}])},
    metrics: {
      loss: Array.from({length: 10}, (_, i) => `${T0 + i * 1000} ${1 / (i + 1)} ${i}`),
      'val/acc': [`${T0} 0.5 0`, `${T0 + 1000} 0.75 1`],
    },
    artifacts: {'model/MLmodel': MLMODEL, 'model/model.pkl': 'pickle-bytes-1', 'plots/loss.txt': 'a plot'},
  })
  t.run('1', RUN2, {
    name: 'calm-owl-2',
    status: 4,
    start: T0 + 100_000,
    end: T0 + 110_000,
    user: 'bob',
    params: {lr: '0.1'},
    // Logged without a step three times (all at step 0, the two-field form too), and a NaN.
    metrics: {loss: [`${T0 + 100_000} 0.9`, `${T0 + 101_000} 0.8 0`, `${T0 + 102_000} 0.7 0`, `${T0 + 103_000} NaN 1`]},
    artifacts: {'model/MLmodel': MLMODEL, 'model/model.pkl': 'pickle-bytes-2'},
  })
  t.run('1', RUNNING, {name: 'still-going', status: 1, start: T0 + 150_000, end: null, metrics: {loss: [`${T0 + 150_000} 0.4 0`]}})
  t.run('1', RUN3, {name: 'gone-3', status: 5, start: T0 + 200_000, end: T0 + 200_500, lifecycle: 'deleted'})
  // A deleted experiment, moved to .trash as MLflow does.
  t.experiment('2', 'old')
  t.run('2', TRASHED, {name: 'old-run', status: 3, start: T0, end: T0 + 1})
  renameSync(join(root, '2'), join(root, '.trash', '2'))
  const meta = join(root, '.trash', '2', 'meta.yaml')
  writeFileSync(meta, stringify({artifact_location: 'x', creation_time: T0, experiment_id: '2', last_update_time: T0 + 5, lifecycle_stage: 'deleted', name: 'old'}))

  t.model('credit-risk', {description: 'Credit risk scorer', time: T0 + 300_000, updated: T0 + 400_000, tags: {team: 'risk', 'long note': 'not a label key'}, aliases: {champion: 3}})
  t.version('credit-risk', {version: 1, time: T0 + 300_000, stage: 'Archived', source: t.artifactUri('1', RUN1, 'model'), run: RUN1, description: 'first cut', tags: {validated: 'true'}, updated: T0 + 350_000})
  t.version('credit-risk', {version: 2, time: T0 + 310_000, stage: 'Deleted_Internal', source: t.artifactUri('1', RUN1, 'model'), run: RUN1})
  t.version('credit-risk', {version: 3, time: T0 + 320_000, stage: 'Production', source: t.artifactUri('1', RUN2, 'model'), run: RUN2, updated: T0 + 360_000})
  t.version('credit-risk', {version: 4, time: T0 + 330_000, stage: 'Staging', source: 's3://bucket/models/credit-risk/4'})
  return t
}

const json = async (env: CliEnv, args: string[]) => {
  const r = await runCli(env, [...args, '--json'])
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`)
  return r.json()
}

describe('import mlflow from a file store', () => {
  const root = join(tempDir('mlruns-'), 'mlruns')
  let tree: MlrunsTree
  const env = makeCliEnv()

  beforeAll(() => {
    tree = seedTree(root)
  })

  it('imports experiments, runs with every metric point, and models with their numbers, stages and aliases', async () => {
    const first = await runCli(env, ['import', 'mlflow', root, '--json'])
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    const report = first.json()
    expect(report.models).toEqual({written: 1, unchanged: 0, conflicts: 0})
    expect(report.versions).toEqual({written: 2, unchanged: 0})
    expect(report.runs).toEqual({written: 3, unchanged: 0, conflicts: 0})
    expect(report.metric_points.written).toBe(10 + 2 + 1 + 1)
    expect(report.experiments).toEqual({written: 2, unchanged: 0})
    expect(report.blobs.written).toBe(3) // MLmodel once (same bytes), two pickles
    const unmapped = report.unmapped.map((u: {kind: string; mlflow: string}) => `${u.kind} ${u.mlflow}`)
    expect(unmapped).toEqual(
      expect.arrayContaining([
        'experiment experiment 1 (churn training)',
        'experiment_tag experiment 1 (churn training) tag team',
        'experiment experiment 2 (old)',
        `run run ${RUN3} (gone-3)`,
        `run_tag run ${RUN1} tag mlflow.log-model.history`,
        `metric run ${RUN2} metric loss`,
        'version model credit-risk version 4',
        'stage model credit-risk version 4 stage Staging',
        `artifacts run ${RUN1} artifacts plots`,
      ]),
    )
    // Nothing about the deleted experiment's run beyond the experiment itself, nothing about covered artifacts.
    expect(unmapped.filter((u: string) => u.includes(TRASHED))).toEqual([])
    expect(unmapped.filter((u: string) => u.startsWith(`artifacts run ${RUN2}`))).toEqual([])
    const folded = report.unmapped.filter((u: {kind: string; mlflow: string}) => u.mlflow === `run ${RUN2} metric loss`).map((u: {reason: string}) => u.reason)
    expect(folded).toEqual([expect.stringContaining('1 of 4 points not imported'), expect.stringContaining('2 of 4 points share a step')])

    // Runs, field by field.
    const runs = await json(env, ['runs', 'list', '--experiment', 'churn-training'])
    expect(runs.items.map((r: {id: string}) => r.id).sort()).toEqual([RUN1, RUN2, RUNNING])
    expect(await json(env, ['runs', 'show', RUNNING])).toMatchObject({status: 'running', end_time: null})
    const r1 = await json(env, ['runs', 'show', RUN1])
    expect(r1).toMatchObject({
      id: RUN1,
      experiment: 'churn-training',
      name: 'bold-fox-1',
      status: 'completed',
      author: 'alice',
      created_at: new Date(T0).toISOString(),
      start_time: new Date(T0).toISOString(),
      end_time: new Date(T0 + 60_000).toISOString(),
      params: {lr: 0.01, layers: 3, optimizer: 'adam', lr_schedule: '1e-05'},
      source: {git: {commit: 'abc123def456', branch: null, dirty: false, remote: null}},
      metrics: {loss: 0.1, 'val/acc': 0.75},
    })
    expect(r1.tags).toMatchObject({'mlflow.runName': 'bold-fox-1', 'mlflow.user': 'alice', 'mlflow.source.name': 'train.py', 'mlflow.source.git.commit': 'abc123def456'})
    expect(r1.tags['mlflow.log-model.history']).toBeUndefined()
    expect(r1.versions).toEqual([{project: 'default', model: 'credit-risk', version: 1}])
    const r2 = await json(env, ['runs', 'show', RUN2])
    expect(r2).toMatchObject({status: 'failed', author: 'bob', params: {lr: 0.1}, metrics: {loss: 0.7}})
    const points = await json(env, ['runs', 'metrics', RUN1])
    expect(points.points.filter((p: {name: string}) => p.name === 'loss')).toEqual(
      Array.from({length: 10}, (_, i) => ({name: 'loss', split: '', step: i, value: 1 / (i + 1), time: new Date(T0 + i * 1000).toISOString()})),
    )
    expect((await json(env, ['runs', 'metrics', RUN2])).points).toEqual([{name: 'loss', split: '', step: 0, value: 0.7, time: new Date(T0 + 102_000).toISOString()}])
    const experiments = await json(env, ['experiments'])
    expect(experiments.items.map((e: {name: string; description: string}) => [e.name, e.description]).sort()).toEqual([
      ['Default', ''],
      ['churn-training', 'Churn models'],
    ])

    // The model: numbers kept (2 deleted, 4 out of reach), tags from stages and aliases.
    const model = await json(env, ['models', 'describe', 'credit-risk'])
    expect(model.model).toMatchObject({name: 'credit-risk', description: 'Credit risk scorer', labels: {team: 'risk'}, metadata: {'long note': 'not a label key'}, created_at: new Date(T0 + 300_000).toISOString()})
    const versions = await json(env, ['models', 'list-versions', 'credit-risk'])
    expect(versions.items.map((v: {version: number; tags: string[]; author: string; comment: string; created_at: string}) => [v.version, v.tags.filter((t: string) => t !== 'latest').sort(), v.author, v.comment, v.created_at])).toEqual([
      [3, ['champion', 'production'], 'bob', '', new Date(T0 + 320_000).toISOString()],
      [1, ['archived'], 'alice', 'first cut', new Date(T0 + 300_000).toISOString()],
    ])
    const v1 = await json(env, ['models', 'show', 'credit-risk:1'])
    expect(v1).toMatchObject({
      version: 1,
      framework: 'sklearn',
      format: 'mlflow',
      metadata: {validated: 'true', 'mlflow.run_id': RUN1, 'mlflow.source': tree.artifactUri('1', RUN1, 'model')},
      source: {git: {commit: 'abc123def456'}},
      lineage: {run: {id: RUN1, name: 'bold-fox-1', experiment: 'churn-training', status: 'completed'}, params: {lr: 0.01}, metrics: {loss: 0.1}},
    })
    expect(v1.files.map((f: {path: string; size: number}) => [f.path, f.size])).toEqual([
      ['MLmodel', MLMODEL.length],
      ['model.pkl', 'pickle-bytes-1'.length],
    ])
    const log = await json(env, ['models', 'log', 'credit-risk'])
    expect(log.items.map((e: {type: string; version: number; tag: string | null}) => `${e.type}:${e.version}${e.tag ? `:${e.tag}` : ''}`).sort()).toEqual(
      ['tag.set:1:archived', 'tag.set:3:champion', 'tag.set:3:production', 'version.created:1', 'version.created:3'].sort(),
    )
    // Numbering continues after the highest number MLflow gave out (4, out of reach).
    writeFileSync(join(env.cwd, 'next.bin'), 'next')
    const pushed = await json(env, ['models', 'push', 'credit-risk', join(env.cwd, 'next.bin')])
    expect(pushed.version.version).toBe(5)
    expect((await runCli(env, ['models', 'delete', 'credit-risk:5', '--yes'])).code).toBe(0)
  })

  it('imports nothing twice, and picks up what is new on the next run', async () => {
    const again = (await runCli(env, ['import', 'mlflow', pathToFileURL(root).href, '--json'])).json()
    expect(again).toMatchObject({
      models: {written: 0, unchanged: 1, conflicts: 0},
      versions: {written: 0},
      runs: {written: 0, unchanged: 3, conflicts: 0},
      metric_points: {written: 0},
      blobs: {written: 0},
      experiments: {written: 0, unchanged: 2},
    })
    // The running run logs two more points.
    writeFileSync(join(root, '1', RUNNING, 'metrics', 'loss'), [`${T0 + 150_000} 0.4 0`, `${T0 + 151_000} 0.3 1`, `${T0 + 152_000} 0.2 2`].join('\n') + '\n')
    // MLflow gains a run, a version from it (after modelreg's own 5), and the champion alias moves.
    tree.run('1', RUN4, {name: 'new-run', status: 3, start: T0 + 500_000, end: T0 + 510_000, params: {lr: '0.02'}, metrics: {loss: [`${T0 + 500_000} 0.05 0`]}, artifacts: {'model/model.pkl': 'pickle-bytes-4'}})
    tree.version('credit-risk', {version: 6, time: T0 + 520_000, source: `runs:/${RUN4}/model`, run: RUN4, description: 'retrained'})
    tree.model('credit-risk', {description: 'Credit risk scorer', time: T0 + 300_000, updated: T0 + 530_000, tags: {team: 'risk', 'long note': 'not a label key'}, aliases: {champion: 6}})
    const dry = (await runCli(env, ['import', 'mlflow', root, '--json', '--dry-run'])).json()
    expect(dry).toMatchObject({dry_run: true, runs: {written: 2}, versions: {written: 1}})
    expect((await json(env, ['runs', 'list'])).items).toHaveLength(3)
    const third = (await runCli(env, ['import', 'mlflow', root, '--json'])).json()
    expect(third).toMatchObject({models: {written: 1, unchanged: 0}, versions: {written: 1, unchanged: 2}, runs: {written: 2, unchanged: 2}, metric_points: {written: 1 + 3}, blobs: {written: 1}})
    expect((await json(env, ['runs', 'metrics', RUNNING])).points.map((p: {step: number; value: number}) => [p.step, p.value])).toEqual([
      [0, 0.4],
      [1, 0.3],
      [2, 0.2],
    ])
    const versions = await json(env, ['models', 'list-versions', 'credit-risk'])
    expect(versions.items.map((v: {version: number; tags: string[]}) => [v.version, v.tags.filter((t: string) => t !== 'latest').sort()])).toEqual([
      [6, ['champion']],
      [3, ['production']],
      [1, ['archived']],
    ])
    expect((await json(env, ['models', 'show', 'credit-risk:6'])).lineage.run.id).toBe(RUN4)
    const fourth = (await runCli(env, ['import', 'mlflow', root, '--json'])).json()
    expect(fourth).toMatchObject({models: {written: 0, unchanged: 1}, runs: {written: 0, unchanged: 4}, versions: {written: 0}})
    // The human summary ends with what was not carried over.
    const human = await runCli(env, ['import', 'mlflow', root])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/Not carried over as it is in MLflow \(\d+ items\):/)
    expect(human.stdout).toMatch(/ version +model credit-risk version 4: /)
    expect(human.stdout).not.toContain('artifacts model')
  })

  it('leaves `import FILE` to the archive import, and fails clearly on a missing directory', async () => {
    const other = makeCliEnv()
    const missing = await runCli(other, ['import', 'mlflow', join(root, 'nope'), '--json'])
    expect(missing.code).toBe(3)
    expect(missing.json().error.code).toBe('not_found')
    const archive = await runCli(other, ['import', join(root, 'not-an-archive.tar')])
    expect(archive.code).not.toBe(0)
    expect(archive.stderr).not.toMatch(/mlflow/i)
  })
})

// ---------------------------------------------------------------------------------------------
// the REST path

interface StandIn {
  url: string
  requests: string[]
  close(): Promise<void>
}

/** A tracking server that answers as MLflow 2.x does, two items a page whatever max_results says. */
async function standIn(token: string): Promise<StandIn> {
  const requests: string[] = []
  const experiments = [
    {experiment_id: '0', name: 'Default', artifact_location: 'mlflow-artifacts:/0', lifecycle_stage: 'active', last_update_time: T0, creation_time: T0, tags: []},
    {experiment_id: '7', name: 'vision', artifact_location: 'mlflow-artifacts:/7', lifecycle_stage: 'active', last_update_time: T0 + 5, creation_time: T0, tags: [{key: 'mlflow.note.content', value: 'Image models'}]},
    {experiment_id: '8', name: 'scrap', artifact_location: 'mlflow-artifacts:/8', lifecycle_stage: 'deleted', last_update_time: T0, creation_time: T0, tags: []},
  ]
  const run = (id: string, status: string, start: number, metrics: string[]) => ({
    info: {run_id: id, run_uuid: id, run_name: `run-${id.slice(0, 4)}`, experiment_id: '7', user_id: 'carol', status, start_time: start, end_time: status === 'RUNNING' ? undefined : start + 1000, artifact_uri: `mlflow-artifacts:/7/${id}/artifacts`, lifecycle_stage: 'active'},
    data: {metrics: metrics.map((key) => ({key, value: 0, timestamp: start, step: 0})), params: [{key: 'epochs', value: '3'}], tags: [{key: 'mlflow.runName', value: `run-${id.slice(0, 4)}`}, {key: 'mlflow.source.git.commit', value: 'feedbeef'}, {key: 'mlflow.source.git.branch', value: 'main'}]},
    inputs: {dataset_inputs: [{tags: [{key: 'mlflow.data.context', value: 'train'}], dataset: {name: 'mnist', digest: 'd41d8cd9', source_type: 'http', source: '{"url": "https://example.com/mnist"}'}}]},
  })
  const runs = [run(RUN1, 'FINISHED', T0, ['loss', 'acc']), run(RUN2, 'KILLED', T0 + 10, ['loss']), run(RUN3, 'FINISHED', T0 + 20, [])]
  const history: Record<string, {key: string; value: number; timestamp: number; step: number}[]> = {
    [`${RUN1}/loss`]: Array.from({length: 5}, (_, i) => ({key: 'loss', value: 1 - i / 10, timestamp: T0 + i, step: i})),
    [`${RUN1}/acc`]: [{key: 'acc', value: 0.9, timestamp: T0 + 4, step: 4}],
    [`${RUN2}/loss`]: [{key: 'loss', value: 2, timestamp: T0 + 10, step: 0}],
  }
  const models = [
    {name: 'digits', creation_timestamp: T0 + 100, last_updated_timestamp: T0 + 200, description: 'Digit classifier', tags: [{key: 'owner', value: 'vision-team'}], aliases: [{alias: 'champion', version: '2'}], latest_versions: []},
  ]
  const mv = (version: string, stage: string, source: string, runId: string) => ({
    name: 'digits',
    version,
    creation_timestamp: T0 + 100 + Number(version),
    last_updated_timestamp: T0 + 150,
    user_id: 'carol@example.com',
    current_stage: stage,
    description: `v${version}`,
    source,
    run_id: runId,
    status: 'READY',
    run_link: '',
    tags: [{key: 'accuracy', value: '0.9'}],
    aliases: version === '2' ? ['champion'] : [],
  })
  // Version 2 was deleted: a REST server does not list it (its number stays a gap).
  const versions = [mv('1', 'Staging', `mlflow-artifacts:/7/${RUN1}/artifacts/model`, RUN1), mv('3', 'Production', `runs:/${RUN2}/model`, RUN2)]
  versions[1].aliases = []
  models[0].aliases = [{alias: 'champion', version: '3'}]
  const artifacts: Record<string, string> = {
    [`7/${RUN1}/artifacts/model/MLmodel`]: MLMODEL,
    [`7/${RUN1}/artifacts/model/data/weights.bin`]: 'w'.repeat(5000),
    [`7/${RUN2}/artifacts/model/MLmodel`]: MLMODEL,
    [`7/${RUN2}/artifacts/model/data/weights.bin`]: 'v'.repeat(3000),
  }
  const page = <T,>(items: T[], token: string | undefined, size = 2) => {
    const start = token ? Number(Buffer.from(token, 'base64').toString()) : 0
    const next = start + size < items.length ? Buffer.from(String(start + size)).toString('base64') : undefined
    return {items: items.slice(start, start + size), next}
  }
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url as string, 'http://x')
    requests.push(`${req.method} ${url.pathname}${url.search}`)
    let body = ''
    for await (const chunk of req) body += chunk
    const input = body ? JSON.parse(body) : {}
    const send = (status: number, value: unknown) => {
      res.writeHead(status, {'content-type': 'application/json'})
      res.end(JSON.stringify(value))
    }
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, {error_code: 'UNAUTHENTICATED', message: 'You are not authenticated.'})
    const q = url.searchParams
    switch (url.pathname) {
      case '/api/2.0/mlflow/experiments/search': {
        const p = page(experiments, input.page_token)
        return send(200, {experiments: p.items, ...(p.next ? {next_page_token: p.next} : {})})
      }
      case '/api/2.0/mlflow/runs/search': {
        const p = page(
          runs.filter((r) => input.experiment_ids.includes(r.info.experiment_id)),
          input.page_token,
        )
        return send(200, {runs: p.items, ...(p.next ? {next_page_token: p.next} : {})})
      }
      case '/api/2.0/mlflow/metrics/get-history': {
        const p = page(history[`${q.get('run_id')}/${q.get('metric_key')}`] ?? [], q.get('page_token') ?? undefined)
        return send(200, {metrics: p.items, ...(p.next ? {next_page_token: p.next} : {})})
      }
      case '/api/2.0/mlflow/registered-models/search': {
        const p = page(models, q.get('page_token') ?? undefined, 1)
        return send(200, {registered_models: p.items, ...(p.next ? {next_page_token: p.next} : {})})
      }
      case '/api/2.0/mlflow/model-versions/search': {
        const name = /^name='(.*)'$/.exec(q.get('filter') ?? '')?.[1]
        const p = page(
          versions.filter((v) => v.name === name),
          q.get('page_token') ?? undefined,
          1,
        )
        return send(200, {model_versions: p.items, ...(p.next ? {next_page_token: p.next} : {})})
      }
      case '/api/2.0/mlflow-artifacts/artifacts': {
        const dir = q.get('path') ?? ''
        const children = new Map<string, {path: string; is_dir: boolean; file_size?: number}>()
        for (const [path, content] of Object.entries(artifacts)) {
          if (!path.startsWith(`${dir}/`)) continue
          const [head, ...rest] = path.slice(dir.length + 1).split('/')
          children.set(head, rest.length ? {path: head, is_dir: true} : {path: head, is_dir: false, file_size: content.length})
        }
        return send(200, children.size ? {files: [...children.values()]} : {})
      }
      default: {
        const prefix = '/api/2.0/mlflow-artifacts/artifacts/'
        const path = decodeURIComponent(url.pathname.slice(prefix.length))
        if (url.pathname.startsWith(prefix) && artifacts[path] !== undefined) {
          res.writeHead(200, {'content-type': 'application/octet-stream'})
          return res.end(artifacts[path])
        }
        return send(404, {error_code: 'RESOURCE_DOES_NOT_EXIST', message: `no ${url.pathname}`})
      }
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as {port: number}
  return {url: `http://127.0.0.1:${address.port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve()))}
}

describe('import mlflow from a tracking server (REST API 2.0)', () => {
  let server: StandIn
  beforeAll(async () => {
    server = await standIn('s3cret')
  })
  afterAll(async () => {
    await server?.close()
  })

  it('follows every page token, downloads artifacts through the proxy, and maps runs and versions', async () => {
    const home = join(tempDir('mlflow-rest-'), 'store')
    const target = new LocalBackend({home, actor: 'importer@example.com'})
    try {
      const report = await importMlflow(target, new RestSource(server.url, {token: 's3cret'}), {project: 'vision'})
      expect(report).toMatchObject({
        source: server.url,
        project: 'vision',
        models: {written: 1, conflicts: 0},
        versions: {written: 2},
        runs: {written: 3, conflicts: 0},
        metric_points: {written: 5 + 1 + 1},
        blobs: {written: 3},
        experiments: {written: 2},
      })
      expect(report.unmapped.map((u) => `${u.kind} ${u.mlflow}`)).toEqual(['experiment experiment 8 (scrap)'])
      // Paging: every list was asked for its second page.
      expect(server.requests.some((r) => r.startsWith('GET /api/2.0/mlflow/metrics/get-history') && r.includes('page_token='))).toBe(true)
      expect(server.requests.some((r) => r.startsWith('GET /api/2.0/mlflow/model-versions/search') && r.includes('page_token='))).toBe(true)
      const runs = (await target.listRuns('vision', {limit: 10})).items
      expect(runs.map((r) => r.id).sort()).toEqual([RUN1, RUN2, RUN3])
      const r1 = await target.getRun(RUN1)
      expect(r1).toMatchObject({experiment: 'vision', status: 'completed', author: 'carol', params: {epochs: 3}, source: {git: {commit: 'feedbeef', branch: 'main'}}, metrics: {loss: 0.6, acc: 0.9}})
      expect(r1.datasets).toMatchObject([{tag: 'train', uri: '{"url": "https://example.com/mnist"}', metadata: {name: 'mnist', digest: 'd41d8cd9', context: 'train'}}])
      expect((await target.getRun(RUN2)).status).toBe('killed')
      const points: unknown[] = []
      for await (const p of target.readMetrics(RUN1, {name: 'loss'} as never)) points.push(p)
      expect(points).toHaveLength(5)
      const versions = (await target.listVersions('vision', 'digits')).items
      expect(versions.map((v) => [v.version, v.tags.filter((t: string) => t !== 'latest').sort(), v.author, v.comment])).toEqual([
        [3, ['champion', 'production'], 'carol@example.com', 'v3'],
        [1, ['staging'], 'carol@example.com', 'v1'],
      ])
      const v1 = await target.getVersion('vision', 'digits', '1')
      expect(v1.files.map((f) => [f.path, f.size])).toEqual([
        ['MLmodel', MLMODEL.length],
        ['data/weights.bin', 5000],
      ])
      expect(v1).toMatchObject({framework: 'sklearn', metadata: {accuracy: '0.9'}, lineage: {run: {id: RUN1, experiment: 'vision'}}})
      expect((await target.getModel('vision', 'digits')).labels).toEqual({owner: 'vision-team'})

      const again = await importMlflow(target, new RestSource(server.url, {token: 's3cret'}), {project: 'vision'})
      expect(again).toMatchObject({models: {written: 0, unchanged: 1}, runs: {written: 0, unchanged: 3}, versions: {written: 0}, blobs: {written: 0}, metric_points: {written: 0}})
    } finally {
      await target.close()
    }
  })

  it('through the CLI: the token from MLFLOW_TRACKING_TOKEN, exit 5 without it', async () => {
    const env = makeCliEnv()
    const refused = await runCli(env, ['import', 'mlflow', server.url, '--json'])
    expect(refused.code).toBe(5)
    const ok = await runCli(env, ['import', 'mlflow', server.url, '--json'], {env: {MLFLOW_TRACKING_TOKEN: 's3cret'}})
    expect(ok.code).toBe(0)
    expect(ok.json()).toMatchObject({models: {written: 1}, runs: {written: 3}})
    const unreachable = await runCli(env, ['import', 'mlflow', 'http://127.0.0.1:1', '--json'])
    expect(unreachable.code).toBe(7)
  })
})
