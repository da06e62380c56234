/** A small registry for UI tests: two projects, models (one described as `<script>`), versions, runs, metrics, a checkpoint and lineage. */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {Backend} from '../../src/backends/backend.js'
import {pushCheckpoint, pushVersion} from '../../src/registry/push.js'
import {tempDir} from '../helpers/tmp.js'

export const XSS = '<script>alert("x")</script>'

export interface Seeded {
  runA: string
  runB: string
  checkpoint: string
  digest: string
}

async function* points(n: number, split: string, scale: number) {
  for (let step = 0; step < n; step++) yield {name: 'loss', split, step, value: scale / (step + 1)}
  yield {name: 'accuracy', step: 0, value: 0.5 * scale}
}

export async function seed(backend: Backend): Promise<Seeded> {
  const dir = tempDir('modelreg-ui-seed-')
  const file = join(dir, 'model.bin')
  writeFileSync(file, 'weights v1\n')
  const file2 = join(dir, 'model2.bin')
  writeFileSync(file2, 'weights v2, longer\n')
  const notes = join(dir, 'notes.md')
  writeFileSync(notes, '# notes\n')
  const ckptFile = join(dir, 'ckpt.pt')
  writeFileSync(ckptFile, 'checkpoint bytes\n')

  await backend.createProject('vision', {description: 'Image models'})
  await backend.createModel('vision', 'resnet', {description: 'A classifier', metadata: {arch: 'resnet50', layers: 50}, labels: {env: 'prod'}})
  await backend.createModel('vision', 'evil', {description: XSS, metadata: {[XSS]: XSS}, labels: {team: 'red'}})
  const runA = await backend.createRun('vision', {experiment: 'sweep', name: 'run-a', params: {lr: 0.01, layers: 50, opt: 'adam'}, author: 'ana'})
  const runB = await backend.createRun('vision', {experiment: 'sweep', name: 'run-b', params: {lr: 0.001, layers: 50, opt: 'adam'}, author: 'ana'})
  await backend.logMetrics(runA.id, points(20, 'train', 1))
  await backend.logMetrics(runB.id, points(20, 'val', 2))
  await backend.setDataset(runA.id, {tag: 'train', uri: 's3://data/train.parquet', sha256: 'a'.repeat(64), size: 1234})
  const ckpt = await pushCheckpoint(backend, runA.id, [ckptFile], {step: 19, metrics: {loss: 0.05}})
  await backend.updateRun(runA.id, {status: 'completed'})
  const v1 = await pushVersion(backend, {project: 'vision', model: 'resnet', paths: [file], author: 'ana', comment: 'first', metrics: {auc: 0.81, f1: 0.7}, tags: ['staging'], metadata: {epochs: 10}})
  await pushVersion(backend, {
    project: 'vision',
    model: 'resnet',
    paths: [file2],
    attachments: [notes],
    author: 'bob',
    comment: 'second',
    metrics: {auc: 0.86, f1: 0.72},
    tags: ['prod'],
    metadata: {epochs: 20},
    run_id: runA.id,
    source: {host: 'box', git: {commit: 'c0ffee1234', branch: 'main', dirty: true, remote: null}, ci: {provider: 'github', job: 'train', run_id: '42', url: 'https://ci.example/run/42'}},
  })
  await backend.registerCheckpoint('vision', 'resnet', ckpt.uuid, {author: 'ana', comment: 'from checkpoint'})
  await pushVersion(backend, {project: 'other', model: 'secret', paths: [file], author: 'eve', comment: 'other project'})
  await backend.createRun('other', {experiment: 'hidden', name: 'run-x', params: {a: 1}, author: 'eve'})
  return {runA: runA.id, runB: runB.id, checkpoint: ckpt.uuid, digest: v1.version.files[0].sha256}
}
