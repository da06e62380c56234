/** The restore part of the backend contract (run from backendContract): history written as it was. */
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import type {Backend, ModelHistory, RunHistory} from '../../src/backends/backend.js'
import {pushCheckpoint, pushVersion} from '../../src/registry/push.js'
import {files, rejects} from './helpers.js'

const T = (n: number) => new Date(Date.UTC(2023, 0, n)).toISOString()

export function restoreContract(ctx: () => {backend: Backend; work: string}): void {
  const b = () => ctx().backend

  /** Blobs in the store, and a history naming them: versions 1 and 3 (2 was deleted), numbered up to 4. */
  async function history(): Promise<ModelHistory> {
    const pushed = await pushVersion(b(), {project: 'scratch', model: 'blobs', paths: [files(join(ctx().work, 'r'), {'a.bin': 'aaa', 'b.bin': 'bbb'})], author: 'x@example.com'})
    const [a, bb] = pushed.version.files
    const v = (number: number, file: typeof a, day: number) => ({
      number,
      comment: `v${number}`,
      author: 'ada@example.com',
      created_at: T(day),
      metadata: {k: number},
      metrics: {auc: number / 10},
      framework: null,
      format: null,
      source: {host: 'box', git: null, ci: null},
      files: [file],
      attachments: [],
      lineage: null,
    })
    const event = (type: ModelHistory['events'][number]['type'], day: number, version: number | null, tag: string | null = null, data = {}) => ({time: T(day), type, version, tag, actor: 'ada@example.com', data})
    return {
      project: {name: 'restored', description: 'from elsewhere', created_at: T(1)},
      model: {name: 'old-model', description: 'kept', owner: 'ada', task: null, metadata: {m: 1}, labels: {env: 'prod'}, created_at: T(1), updated_at: T(9), last_number: 4},
      versions: [v(1, a, 2), v(3, bb, 4)],
      tags: [{tag: 'prod', version: 1, updated_at: T(8)}],
      events: [
        event('model.created', 1, null),
        event('version.created', 2, 1, null, {author: 'ada@example.com', comment: 'v1'}),
        event('version.created', 3, 2),
        event('version.created', 4, 3),
        event('version.created', 5, 4),
        event('version.deleted', 6, 2),
        event('version.deleted', 7, 4),
        event('tag.set', 8, 1, 'prod', {previous: null}),
      ],
    }
  }

  describe('restore', () => {
    it('writes a model history with its numbers, times and authors; again changes nothing; numbering continues', async () => {
      const h = await history()
      const dry = await b().restoreModel(h, {dry_run: true})
      expect(dry).toMatchObject({outcome: 'created', dry_run: true})
      await rejects(b().getModel('restored', 'old-model'), 'not_found')
      expect(await b().restoreModel(h)).toMatchObject({kind: 'model', outcome: 'created', written: 2})
      const versions = (await b().listVersions('restored', 'old-model')).items
      expect(versions.map((v) => [v.version, v.author, v.created_at, v.tags])).toEqual([
        [3, 'ada@example.com', T(4), ['latest']],
        [1, 'ada@example.com', T(2), ['prod']],
      ])
      expect((await b().getProject('restored')).description).toBe('from elsewhere')
      const log = (await b().modelLog('restored', {model: 'old-model'})).items
      expect(log.map((e) => [e.type, e.version, e.time])).toEqual([...h.events].reverse().filter((e) => e.type !== 'model.created').map((e) => [e.type, e.version, e.time]))
      expect(await b().restoreModel(h)).toMatchObject({outcome: 'unchanged', written: 0, unchanged: 2})
      const next = await pushVersion(b(), {project: 'restored', model: 'old-model', paths: [files(join(ctx().work, 'n'), {'n.bin': 'new'})], author: 'x@example.com'})
      expect(next.version.version).toBe(5)
    })

    it('a history that differs from the store is a conflict and writes nothing; a later part of the same one is appended', async () => {
      const h = await history()
      const early = {...h, versions: [h.versions[0]], tags: [], events: h.events.slice(0, 2), model: {...h.model, last_number: 1}}
      expect(await b().restoreModel(early)).toMatchObject({outcome: 'created', written: 1})
      expect(await b().restoreModel(h)).toMatchObject({outcome: 'updated', written: 1, unchanged: 1})
      const changed = {...h, versions: [h.versions[0], {...h.versions[1], comment: 'rewritten'}]}
      await rejects(b().restoreModel(changed), 'conflict')
      expect((await b().getVersion('restored', 'old-model', '3')).comment).toBe('v3')
      await rejects(b().restoreModel({...h, model: {...h.model, last_number: 'x' as unknown as number}}), 'invalid_argument')
    })

    it('writes a run with its id and checkpoint UUIDs; points are asked for until they are all there', async () => {
      const source = await b().createRun('default', {experiment: 'e', author: 'x@example.com'})
      const ck = await pushCheckpoint(b(), source.id, [files(join(ctx().work, 'c'), {'w.bin': 'w'})], {step: 1})
      const h: RunHistory = {
        project: {name: 'restored', description: '', created_at: T(1)},
        experiment: {name: 'exp', description: 'd', owner: null, framework: 'torch', created_at: T(1), updated_at: T(1)},
        run: {id: 'abcdef012345', name: 'r', status: 'completed', params: {lr: 0.1}, tags: {}, author: 'ada@example.com', source: {host: null, git: null, ci: null}, created_at: T(2), start_time: T(2), end_time: T(3)},
        datasets: [{tag: 'train', uri: 's3://b/t', sha256: null, size: null, metadata: {}, updated_at: T(2)}],
        checkpoints: [{uuid: '0b7c7f4e-9a43-4f55-9d6e-2d3c8a1b2c3d', step: 5, metrics: {}, metadata: {}, created_at: T(2), files: ck.files}],
        metric_summaries: [{name: 'loss', split: '', last: 0.5, last_step: 1, min: 0.5, max: 1, count: 2}],
      }
      expect(await b().restoreRun(h)).toMatchObject({kind: 'run', outcome: 'created', points_needed: true})
      const run = await b().getRun('abcdef012345')
      expect(run).toMatchObject({status: 'completed', created_at: T(2), end_time: T(3), author: 'ada@example.com'})
      expect(run.checkpoints.map((c) => c.uuid)).toEqual(['0b7c7f4e-9a43-4f55-9d6e-2d3c8a1b2c3d'])
      expect(await b().restoreRun(h)).toMatchObject({outcome: 'updated', points_needed: true})
      const {fromArray} = await import('./helpers.js')
      // The restored run is completed already: its own points come after it, allowed.
      await b().logMetrics(h.run.id, fromArray([{name: 'loss', step: 0, value: 1, time: T(2)}, {name: 'loss', step: 1, value: 0.5, time: T(2)}]), {allow_finished: true})
      expect(await b().restoreRun(h)).toMatchObject({outcome: 'unchanged', points_needed: false})
      await rejects(b().restoreRun({...h, run: {...h.run, params: {lr: 1}}}), 'conflict')
      await rejects(b().restoreRun({...h, run: {...h.run, id: 'abcdef999999'}}), 'conflict') // its checkpoint UUID is taken
      const digests = await b().historyDigests('restored')
      expect(digests.runs).toEqual([{id: 'abcdef012345', digest: expect.stringMatching(/^[0-9a-f]{64}$/), checkpoints: 1}])
      await b().logMetrics(h.run.id, fromArray([{name: 'loss', step: 2, value: 0.25, time: T(3)}]), {allow_finished: true})
      expect((await b().historyDigests('restored')).runs[0].digest).not.toBe(digests.runs[0].digest)
      expect((await b().historyDigests('restored', {runs: false})).runs).toEqual([])
    })

    it('history digests: equal for the same history, different once it changes; none for a missing project', async () => {
      expect(await b().historyDigests('nowhere')).toEqual({project: 'nowhere', models: [], runs: []})
      const h = await history()
      await b().restoreModel(h)
      await b().restoreModel({...h, project: {...h.project, name: 'restored-2'}})
      const one = await b().historyDigests('restored')
      const two = await b().historyDigests('restored-2')
      expect(one.models).toEqual([{name: 'old-model', digest: expect.stringMatching(/^[0-9a-f]{64}$/), versions: 2}])
      expect(two.models).toEqual(one.models)
      await b().setTag('restored-2', 'old-model', 'prod', '3')
      const moved = (await b().historyDigests('restored-2')).models[0].digest
      expect(moved).not.toBe(one.models[0].digest)
      await b().updateModel('restored-2', 'old-model', {labels: {env: 'dev'}})
      expect((await b().historyDigests('restored-2')).models[0].digest).not.toBe(moved)
      expect((await b().historyDigests('restored')).models).toEqual(one.models)
    })
  })
}
