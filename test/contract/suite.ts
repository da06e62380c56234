/**
 * THE backend contract: one behaviour suite, run against every Backend implementation (local
 * engine; remote client -> server -> local engine). A behaviour is defined by passing here.
 */
import {chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {beforeEach, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backends/backend.js'
import type {SqlEngine} from '../../src/backends/sql/engine.js'
import {downloadVersion, writeTar} from '../../src/registry/download.js'
import {pushVersion, type PushInput} from '../../src/registry/push.js'
import {markDamaged, tempDir} from '../helpers/tmp.js'
import {files, rejects, sha, streamToBuffer} from './helpers.js'
import {restoreContract} from './restore.js'
import {trackingContract} from './tracking.js'

/** Raw access to where a store keeps blob bytes, behind its back: integrity tests damage them. */
export interface BlobAccess {
  exists(digest: string): Promise<boolean>
  /** Replace a blob's bytes with others (a flipped byte, a truncation). */
  overwrite(digest: string, data: Buffer): Promise<void>
  remove(digest: string): Promise<void>
}

export interface ContractTarget {
  backend: Backend
  /** The directory of the store the backend writes to (the server's data directory for remote). */
  home: string
  /** The store's blob bytes, to damage them in integrity tests. */
  blobs: BlobAccess
  /** The SQL engine under the backend (the server's, for remote): seeds large data fast, behind its back. */
  engine?: SqlEngine
}

/** BlobAccess for a store that keeps blobs as files. */
export function fileBlobs(pathOf: (digest: string) => string): BlobAccess {
  return {
    exists: async (digest) => existsSync(pathOf(digest)),
    overwrite: async (digest, data) => {
      chmodSync(pathOf(digest), 0o644)
      writeFileSync(pathOf(digest), data)
    },
    remove: async (digest) => {
      const {unlinkSync} = await import('node:fs')
      unlinkSync(pathOf(digest))
    },
  }
}

export function backendContract(name: string, open: () => Promise<ContractTarget>): void {
  describe(`Backend contract: ${name}`, () => {
    let target: ContractTarget
    let b: Backend
    let work: string
    const P = 'default'

    beforeEach(async () => {
      target = await open()
      b = target.backend
      work = tempDir('contract-work-')
      return async () => {
        await b.close()
      }
    })

    const push = (model: string, paths: string[], extra: Partial<PushInput> = {}) =>
      pushVersion(b, {project: P, model, paths, author: 'alice@example.com', ...extra})

    const oneFile = (content: string, name = 'model.pkl') => files(join(work, `src-${sha(content).slice(0, 8)}-${name}`), {[name]: content})

    describe('projects', () => {
      it('lists nothing at first, then projects created explicitly or on first write', async () => {
        expect((await b.listProjects()).items).toEqual([])
        const created = await b.createProject('churn', {description: 'churn prediction'})
        expect(created).toMatchObject({name: 'churn', description: 'churn prediction', model_count: 0})
        await b.createModel('langtech', 'wav2vec')
        const page = await b.listProjects()
        expect(page.items.map((p) => p.name)).toEqual(['churn', 'langtech'])
        expect(page.total).toBe(2)
        expect(page.items[1].model_count).toBe(1)
        expect((await b.getProject('LangTech')).name).toBe('langtech')
      })

      it('refuses duplicates (ignoring case), bad names, and unknown projects', async () => {
        await b.createProject('churn')
        await rejects(b.createProject('Churn'), 'already_exists')
        await rejects(b.createProject('../etc'), 'invalid_argument')
        await rejects(b.getProject('nope'), 'not_found')
      })
    })

    describe('models', () => {
      it('creates, finds ignoring case, and refuses a second model that differs only in case', async () => {
        const m = await b.createModel(P, 'Credit-Risk', {
          description: 'scores loans',
          metadata: {dataset_url: 'http://x'},
          labels: {env: 'dev'},
          owner: 'risk-team',
          task: 'classification',
        })
        expect(m).toMatchObject({
          project: P,
          name: 'Credit-Risk',
          description: 'scores loans',
          metadata: {dataset_url: 'http://x'},
          labels: {env: 'dev'},
          owner: 'risk-team',
          task: 'classification',
          version_count: 0,
          latest_version: null,
        })
        expect(m.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        expect((await b.getModel(P, 'credit-risk')).name).toBe('Credit-Risk')
        await rejects(b.createModel(P, 'credit-risk'), 'already_exists')
        await rejects(b.getModel(P, 'missing'), 'not_found')
        await rejects(b.getModel('other', 'credit-risk'), 'not_found')
      })

      it('validates names: length, characters, traversal, control characters', async () => {
        for (const bad of ['', '../x', 'a/b', 'a\u0000b', 'a\nb', '-lead', '.hidden', 'x'.repeat(129), 'sp ace', 'ü']) {
          await rejects(b.createModel(P, bad), 'invalid_argument')
        }
        expect((await b.createModel(P, 'x'.repeat(128))).name).toHaveLength(128)
        expect((await b.createModel(P, '9_a.b-c')).name).toBe('9_a.b-c')
        expect((await b.listModels(P)).total).toBe(2)
      })

      it('lists with sort, order, filters and pages', async () => {
        await b.createModel(P, 'mnist_cnn', {description: 'character recognition (OCR)', labels: {env: 'prod'}})
        await b.createModel(P, 'mnist_pytorch', {description: 'digits', labels: {env: 'dev'}})
        await b.createModel(P, 'bert', {description: 'ocr post-correction', labels: {env: 'prod', pii: 'false'}})
        await b.createModel(P, 'under_score', {description: '100% pure'})
        const names = async (q: Parameters<Backend['listModels']>[1]) => (await b.listModels(P, q)).items.map((m) => m.name)
        expect(await names({})).toEqual(['bert', 'mnist_cnn', 'mnist_pytorch', 'under_score'])
        expect(await names({order_by: 'desc'})).toEqual(['under_score', 'mnist_pytorch', 'mnist_cnn', 'bert'])
        expect(await names({sort_by: 'creation_time'})).toEqual(['mnist_cnn', 'mnist_pytorch', 'bert', 'under_score'])
        expect(await names({sort_by: 'description'})).toEqual(['under_score', 'mnist_cnn', 'mnist_pytorch', 'bert'])
        expect(await names({name: 'MNIST'})).toEqual(['mnist_cnn', 'mnist_pytorch'])
        expect(await names({name: '_'})).toEqual(['mnist_cnn', 'mnist_pytorch', 'under_score'])
        expect(await names({description: 'ocr'})).toEqual(['bert', 'mnist_cnn'])
        expect(await names({description: '%'})).toEqual(['under_score'])
        expect(await names({labels: {env: 'prod'}})).toEqual(['bert', 'mnist_cnn'])
        expect(await names({labels: {env: 'prod', pii: 'false'}})).toEqual(['bert'])
        const page = await b.listModels(P, {limit: 2, offset: 1})
        expect(page).toMatchObject({total: 4, limit: 2, offset: 1})
        expect(page.items.map((m) => m.name)).toEqual(['mnist_cnn', 'mnist_pytorch'])
        await rejects(b.listModels(P, {limit: 0}), 'invalid_argument')
        await rejects(b.listModels(P, {sort_by: 'size' as never}), 'invalid_argument')
        // last_updated_time follows the latest change.
        await b.updateModel(P, 'bert', {description: 'changed'})
        expect((await names({sort_by: 'last_updated_time', order_by: 'desc'}))[0]).toBe('bert')
      })

      it('merges metadata at the top level (Determined add_metadata / remove_metadata) and edits labels', async () => {
        await b.createModel(P, 'm', {metadata: {key: 'value'}, labels: {env: 'dev', pii: 'false'}})
        let m = await b.updateModel(P, 'm', {metadata: {metrics: {test_set_loss: 0.091}}})
        expect(m.metadata).toEqual({key: 'value', metrics: {test_set_loss: 0.091}})
        m = await b.updateModel(P, 'm', {metadata: {metrics: {test_set_acc: 0.97}}})
        expect(m.metadata).toEqual({key: 'value', metrics: {test_set_acc: 0.97}})
        m = await b.updateModel(P, 'm', {unset: ['key']})
        expect(m.metadata).toEqual({metrics: {test_set_acc: 0.97}})
        m = await b.updateModel(P, 'm', {labels: {env: 'prod'}, unlabel: ['pii'], description: 'new', owner: 'me', task: null})
        expect(m).toMatchObject({labels: {env: 'prod'}, description: 'new', owner: 'me', task: null})
        await rejects(b.updateModel(P, 'nope', {description: 'x'}), 'not_found')
        await rejects(b.updateModel(P, 'm', {metadata: {big: 'x'.repeat(70_000)}}), 'invalid_argument')
        await rejects(b.updateModel(P, 'm', {labels: {'bad key': 'x'}}), 'invalid_argument')
      })

      it('refuses metadata that is too large, too deep, or not an object', async () => {
        let deep: Record<string, unknown> = {}
        const root = deep
        for (let i = 0; i < 40; i++) deep = deep.a = {} as Record<string, unknown>
        await rejects(b.createModel(P, 'deep', {metadata: root as never}), 'invalid_argument')
        await rejects(b.createModel(P, 'arr', {metadata: [1, 2] as never}), 'invalid_argument')
        await rejects(b.createModel(P, 'huge', {metadata: {x: 'y'.repeat(70_000)}}), 'invalid_argument')
        expect((await b.listModels(P)).total).toBe(0)
      })
    })

    describe('versions', () => {
      it('numbers versions 1, 2, 3 per model and never reuses a number after a delete', async () => {
        const r1 = await push('m', [oneFile('one')])
        expect(r1.model_created).toBe(true)
        expect(r1.version.version).toBe(1)
        expect((await push('m', [oneFile('two')])).version.version).toBe(2)
        expect((await push('other', [oneFile('x')])).version.version).toBe(1)
        await b.deleteVersion(P, 'm', 2)
        const r3 = await push('m', [oneFile('three')])
        expect(r3.model_created).toBe(false)
        expect(r3.version.version).toBe(3)
        await b.deleteVersion(P, 'm', 3)
        expect((await b.getVersion(P, 'm', 'latest')).version).toBe(1)
        expect((await push('m', [oneFile('four')])).version.version).toBe(4)
        expect((await b.listVersions(P, 'm')).items.map((v) => v.version)).toEqual([4, 1])
        const e = await rejects(b.getVersion(P, 'm', '2'), 'not_found')
        expect(e.message).toContain('deleted')
      })

      it('keeps a manifest of files with relative paths, sizes, digests and modes; attachments apart', async () => {
        const dir = files(join(work, 'model'), {'weights.bin': 'W'.repeat(1000), 'config/params.json': '{"l1": 10}', 'empty': ''})
        chmodSync(join(dir, 'config/params.json'), 0o755)
        const log = files(join(work, 'att'), {'log.txt': 'training log'})
        const r = await push('m', [dir], {
          attachments: [join(log, 'log.txt')],
          comment: 'Built new model using the data till June 2017',
          metadata: {'Input-Data-Source': 's3://credit-risk-dataset-201706', nested: {a: [1, 2]}},
          metrics: {accuracy: 0.89},
          framework: 'sklearn-1.5',
          format: 'pickle',
          source: {host: 'trainbox', git: {commit: 'abc123', branch: 'main', dirty: true, remote: null}, ci: null},
        })
        const v = await b.getVersion(P, 'm', '1')
        expect(v).toEqual(r.version)
        expect(v.files).toEqual([
          {path: 'config/params.json', size: 10, sha256: sha('{"l1": 10}'), mode: 0o755},
          {path: 'empty', size: 0, sha256: sha(''), mode: 0o644},
          {path: 'weights.bin', size: 1000, sha256: sha('W'.repeat(1000)), mode: 0o644},
        ])
        expect(v.attachments).toEqual([{path: 'log.txt', size: 12, sha256: sha('training log'), mode: 0o644}])
        expect(v).toMatchObject({
          project: P,
          model: 'm',
          version: 1,
          tags: ['latest'],
          comment: 'Built new model using the data till June 2017',
          author: 'alice@example.com',
          metadata: {'Input-Data-Source': 's3://credit-risk-dataset-201706', nested: {a: [1, 2]}},
          metrics: {accuracy: 0.89},
          framework: 'sklearn-1.5',
          format: 'pickle',
          size: 1010,
          file_count: 3,
          attachment_count: 1,
          source: {host: 'trainbox', git: {commit: 'abc123', branch: 'main', dirty: true, remote: null}, ci: null},
        })
        const summary = (await b.listVersions(P, 'm')).items[0]
        expect(summary).not.toHaveProperty('files')
        expect(summary).toMatchObject({version: 1, file_count: 3, size: 1010})
      })

      it('sorts versions by a metric (missing last, whatever the order), by time, or by number', async () => {
        const metrics: Record<string, number>[] = [{auc: 0.81}, {auc: 0.9}, {}, {auc: 0.85}]
        for (const [i, m] of metrics.entries()) await push('sorted', [oneFile(`sorted ${i}`)], {metrics: m})
        const order = async (q: Record<string, string>) => (await b.listVersions(P, 'sorted', q)).items.map((v) => v.version)
        expect(await order({sort_by: 'metrics.auc'})).toEqual([2, 4, 1, 3])
        expect(await order({sort_by: 'metrics.auc', order_by: 'asc'})).toEqual([1, 4, 2, 3])
        expect(await order({})).toEqual([4, 3, 2, 1])
        expect(await order({sort_by: 'version', order_by: 'asc'})).toEqual([1, 2, 3, 4])
        expect(await order({sort_by: 'created_at', order_by: 'asc'})).toEqual([1, 2, 3, 4])
        expect((await b.listVersions(P, 'sorted', {sort_by: 'metrics.auc', limit: 1})).items[0].metrics).toEqual({auc: 0.9})
        await rejects(b.listVersions(P, 'sorted', {sort_by: 'tags'}), 'invalid_argument')
        await rejects(b.listVersions(P, 'sorted', {sort_by: 'nope'}), 'invalid_argument')
      })

      it('stores a file unchanged between versions once, and uploads nothing for an identical re-push', async () => {
        const dir = files(join(work, 'model'), {'big.bin': 'B'.repeat(100_000), 'small.txt': 'v1'})
        const first = await push('m', [dir])
        expect(first.uploaded).toEqual({files: 2, bytes: 100_002})
        const again = await push('m', [dir])
        expect(again.uploaded).toEqual({files: 0, bytes: 0})
        expect(again.reused).toEqual({files: 2, bytes: 100_002})
        writeFileSync(join(dir, 'small.txt'), 'v2')
        const third = await push('m', [dir])
        expect(third.uploaded).toEqual({files: 1, bytes: 2})
        expect(third.version.version).toBe(3)
      })

      it('resolves latest, numbers and tags; refuses malformed selectors', async () => {
        await push('m', [oneFile('a')])
        await push('m', [oneFile('b')], {tags: ['staging']})
        expect((await b.getVersion(P, 'm', 'latest')).version).toBe(2)
        expect((await b.getVersion(P, 'M', 'LATEST')).version).toBe(2)
        expect((await b.getVersion(P, 'm', '1')).version).toBe(1)
        expect((await b.getVersion(P, 'm', 'staging')).tags).toEqual(['latest', 'staging'])
        expect((await b.getVersion(P, 'm', 'STAGING')).version).toBe(2)
        await rejects(b.getVersion(P, 'm', 'prod'), 'not_found')
        await rejects(b.getVersion(P, 'm', '9'), 'not_found')
        for (const bad of ['0', '01', '-1', 'a:b', '../x', '']) await rejects(b.getVersion(P, 'm', bad), 'invalid_argument')
        await b.createModel(P, 'empty')
        await rejects(b.getVersion(P, 'empty', 'latest'), 'not_found')
      })

      it('is idempotent for a repeated request_id: the retry gets the first version, not a new one', async () => {
        const content = 'retry me'
        await b.putBlob(sha(content), content.length, () => Readable.from([Buffer.from(content)]))
        const input = {files: [{path: 'x', size: content.length, sha256: sha(content), mode: 0o644}], author: 'a', request_id: 'push-0123456789abcdef'}
        const first = await b.createVersion(P, 'm', input)
        const again = await b.createVersion(P, 'm', input)
        expect(first.model_created).toBe(true)
        expect(again).toEqual({version: first.version, model_created: false})
        expect((await b.createVersion(P, 'm', {...input, request_id: 'push-other-0123456789'})).version.version).toBe(2)
        await rejects(b.createVersion(P, 'm', {...input, request_id: 'short'}), 'invalid_argument')
        expect((await b.listVersions(P, 'm')).total).toBe(2)
      })

      it('refuses a version whose blobs are not stored, and leaves no trace', async () => {
        const missing = sha('never uploaded')
        await rejects(
          b.createVersion(P, 'm', {files: [{path: 'x', size: 14, sha256: missing, mode: 0o644}], author: 'a'}),
          'invalid_argument',
        )
        await rejects(b.getModel(P, 'm'), 'not_found')
        expect((await b.listEvents()).total).toBe(0)
      })

      it('refuses bad manifests: traversal, absolute, backslash, device names, case clashes, file-and-directory', async () => {
        const content = 'x'
        await b.putBlob(sha(content), 1, () => Readable.from([Buffer.from(content)]))
        const entry = (path: string) => ({path, size: 1, sha256: sha(content), mode: 0o644})
        const bad = [
          ['../escape'],
          ['/abs'],
          ['a/../../b'],
          ['a\\b'],
          ['CON'],
          ['sub/aux.txt'],
          ['trailing.'],
          ['a//b'],
          ['ctl\u0007'],
          ['Model.bin', 'model.bin'],
          ['caf\u00e9', 'cafe\u0301'],
          ['a', 'a/b'],
        ]
        for (const paths of bad) {
          await rejects(b.createVersion(P, 'm', {files: paths.map(entry), author: 'a'}), 'invalid_argument')
        }
        await rejects(b.createVersion(P, 'm', {files: [], author: 'a'}), 'invalid_argument')
        await rejects(b.createVersion(P, 'm', {files: [{...entry('x'), mode: 0o4755}], author: 'a'}), 'invalid_argument')
        await rejects(b.createVersion(P, 'm', {files: [entry('x')], author: 'a', metrics: {acc: 'high' as never}}), 'invalid_argument')
        await rejects(b.createVersion(P, 'm', {files: [entry('x')], author: 'a', tags: ['latest']}), 'invalid_argument')
        await rejects(b.getModel(P, 'm'), 'not_found')
      })

      it('refuses a size mismatch between the manifest and the stored blob', async () => {
        await b.putBlob(sha('abc'), 3, () => Readable.from([Buffer.from('abc')]))
        await rejects(b.createVersion(P, 'm', {files: [{path: 'x', size: 4, sha256: sha('abc'), mode: 0o644}], author: 'a'}), 'integrity')
      })

      it('deletes a version (its tags go with it) and a whole model', async () => {
        await push('m', [oneFile('a')], {tags: ['prod']})
        await push('m', [oneFile('b')])
        const del = await b.deleteVersion(P, 'm', 1)
        expect(del).toEqual({project: P, model: 'm', versions: [1], model_deleted: false})
        expect((await b.listTags(P, 'm')).map((t) => t.tag)).toEqual(['latest'])
        await rejects(b.deleteVersion(P, 'm', 1), 'not_found')
        const gone = await b.deleteModel(P, 'M')
        expect(gone).toEqual({project: P, model: 'm', versions: [2], model_deleted: true})
        await rejects(b.getModel(P, 'm'), 'not_found')
        await rejects(b.deleteModel(P, 'm'), 'not_found')
      })
    })

    describe('tags', () => {
      it('creates, moves and removes tags; latest is implicit; all-digit tags are refused', async () => {
        await push('m', [oneFile('a')])
        await push('m', [oneFile('b')])
        expect(await b.setTag(P, 'm', 'prod', '1')).toEqual({project: P, model: 'm', tag: 'prod', version: 1, previous: null})
        expect(await b.setTag(P, 'm', 'prod', '2')).toEqual({project: P, model: 'm', tag: 'prod', version: 2, previous: 1})
        expect(await b.setTag(P, 'm', 'staging', 'prod')).toMatchObject({tag: 'staging', version: 2, previous: null})
        const tags = await b.listTags(P, 'm')
        expect(tags.map((t) => [t.tag, t.version])).toEqual([
          ['latest', 2],
          ['prod', 2],
          ['staging', 2],
        ])
        for (const bad of ['latest', 'LATEST', '123', '../x', 'a b', '']) await rejects(b.setTag(P, 'm', bad, '1'), 'invalid_argument')
        await rejects(b.setTag(P, 'm', 'x', '7'), 'not_found')
        await rejects(b.setTag(P, 'nope', 'x', '1'), 'not_found')
        expect(await b.removeTag(P, 'm', 'PROD')).toEqual({project: P, model: 'm', tag: 'prod', version: 2})
        await rejects(b.removeTag(P, 'm', 'prod'), 'not_found')
        await rejects(b.removeTag(P, 'm', 'latest'), 'invalid_argument')
      })

      it('compare-and-swap: expect_previous refuses a tag that moved meanwhile', async () => {
        await push('m', [oneFile('a')])
        await push('m', [oneFile('b')])
        await b.setTag(P, 'm', 'prod', '1', {expect_previous: null})
        await rejects(b.setTag(P, 'm', 'prod', '2', {expect_previous: null}), 'conflict')
        await rejects(b.setTag(P, 'm', 'prod', '2', {expect_previous: 2}), 'conflict')
        expect((await b.setTag(P, 'm', 'prod', '2', {expect_previous: 1})).version).toBe(2)
        expect((await b.getVersion(P, 'm', 'prod')).version).toBe(2)
      })

      it('keeps every move in the log, newest first, with the version each push got', async () => {
        await push('m', [oneFile('a')], {comment: 'first'})
        await b.setTag(P, 'm', 'prod', '1')
        await push('m', [oneFile('b')], {comment: 'second'})
        await b.setTag(P, 'm', 'prod', '2')
        await b.removeTag(P, 'm', 'prod')
        await push('n', [oneFile('c')], {comment: 'other model'})
        const log = await b.modelLog(P, {model: 'm'})
        expect(log.items.map((e) => [e.type, e.version, e.tag, e.previous, e.comment])).toEqual([
          ['tag.removed', 2, 'prod', null, ''],
          ['tag.set', 2, 'prod', 1, ''],
          ['version.created', 2, null, null, 'second'],
          ['tag.set', 1, 'prod', null, ''],
          ['version.created', 1, null, null, 'first'],
        ])
        expect(log.items[2].tags).toEqual(['latest'])
        expect(log.items[2].author).toBe('alice@example.com')
        const all = await b.modelLog(P)
        expect(all.total).toBe(6)
        expect(all.items[0]).toMatchObject({model: 'n', comment: 'other model'})
        const page = await b.modelLog(P, {model: 'm', limit: 2, offset: 1})
        expect(page.items.map((e) => e.type)).toEqual(['tag.set', 'version.created'])
        expect(page.total).toBe(5)
        // Past the end: no entries, and still the count.
        expect(await b.modelLog(P, {model: 'm', limit: 2, offset: 9})).toMatchObject({items: [], total: 5, offset: 9})
        expect(await b.modelLog(P, {limit: 2, offset: 6})).toMatchObject({items: [], total: 6})
        await rejects(b.modelLog(P, {model: 'missing'}), 'not_found')
      })

      it('gives each listed or logged version all its tags, by name, latest first', async () => {
        await push('m', [oneFile('a')])
        await push('m', [oneFile('b')])
        for (const tag of ['staging', 'Prod', 'canary']) await b.setTag(P, 'm', tag, '1')
        await b.setTag(P, 'm', 'beta', '2')
        const versions = await b.listVersions(P, 'm')
        expect(versions.items.map((v) => [v.version, v.tags])).toEqual([
          [2, ['latest', 'beta']],
          [1, ['canary', 'Prod', 'staging']],
        ])
        expect(versions.total).toBe(2)
        expect((await b.getVersion(P, 'm', 'prod')).tags).toEqual(['canary', 'Prod', 'staging'])
        expect((await b.getVersion(P, 'm', '2')).tags).toEqual(['latest', 'beta'])
        expect((await b.getVersion(P, 'm', 'latest')).tags).toEqual(['latest', 'beta'])
        const created = (await b.modelLog(P, {model: 'm'})).items.filter((e) => e.type === 'version.created')
        expect(created.map((e) => [e.version, e.tags])).toEqual([
          [2, ['latest', 'beta']],
          [1, ['canary', 'Prod', 'staging']],
        ])
        // The project's log says the same of each version.
        const wide = (await b.modelLog(P)).items.filter((e) => e.type === 'version.created')
        expect(wide.map((e) => [e.model, e.version, e.tags])).toEqual([
          ['m', 2, ['latest', 'beta']],
          ['m', 1, ['canary', 'Prod', 'staging']],
        ])
        // A version's tags follow a move.
        await b.setTag(P, 'm', 'canary', '2')
        expect((await b.listVersions(P, 'm')).items.map((v) => v.tags)).toEqual([['latest', 'beta', 'canary'], ['Prod', 'staging']])
        // A deleted version's entries carry no tags; latest moves back to the one before.
        await b.deleteVersion(P, 'm', 2)
        for (const log of [await b.modelLog(P, {model: 'm'}), await b.modelLog(P)]) {
          const created = log.items.filter((e) => e.type === 'version.created')
          expect(created.map((e) => [e.version, e.tags])).toEqual([
            [2, []],
            [1, ['latest', 'Prod', 'staging']],
          ])
        }
      })
    })

    describe('events', () => {
      it('records one event per change and filters by type, model, time and id', async () => {
        const t0 = new Date(Date.now() - 1000).toISOString()
        await b.createModel(P, 'm')
        await push('m', [oneFile('a')])
        await b.setTag(P, 'm', 'prod', '1')
        await b.updateModel(P, 'm', {description: 'x'})
        await push('other', [oneFile('b')])
        const all = await b.listEvents()
        expect(all.items.map((e) => e.type)).toEqual([
          'project.created',
          'model.created',
          'version.created',
          'tag.set',
          'model.updated',
          'model.created',
          'version.created',
        ])
        expect(all.items.every((e, i) => i === 0 || e.id > all.items[i - 1].id)).toBe(true)
        expect(all.items[2]).toMatchObject({project: P, model: 'm', version: 1, type: 'version.created'})
        expect((await b.listEvents({model: 'M'})).total).toBe(4)
        expect((await b.listEvents({types: ['version.created']})).items.map((e) => e.model)).toEqual(['m', 'other'])
        expect((await b.listEvents({since: t0})).total).toBe(7)
        expect((await b.listEvents({since: new Date(Date.now() + 60_000).toISOString()})).total).toBe(0)
        expect((await b.listEvents({after_id: all.items[4].id})).items.map((e) => e.type)).toEqual(['model.created', 'version.created'])
        expect((await b.listEvents({order: 'desc', limit: 1})).items[0].type).toBe('version.created')
        expect((await b.listEvents({project: 'nope'})).total).toBe(0)
        await rejects(b.listEvents({types: ['bogus' as never]}), 'invalid_argument')
        await rejects(b.listEvents({since: 'yesterday-ish'}), 'invalid_argument')
      })
    })

    describe('following events', () => {
      it('yields new events as they happen, filtered, until aborted', async () => {
        await b.createModel(P, 'before')
        const abort = new AbortController()
        const seen: string[] = []
        const following = (async () => {
          for await (const event of b.followEvents({types: ['model.created', 'tag.set']}, abort.signal)) {
            seen.push(`${event.type}:${event.model}`)
            if (seen.length === 3) abort.abort()
          }
        })()
        await new Promise((resolve) => setTimeout(resolve, 300))
        await b.createModel(P, 'one')
        await push('two', [oneFile('x')])
        await b.setTag(P, 'two', 'prod', '1')
        await Promise.race([following, new Promise((_, reject) => setTimeout(() => reject(new Error('follow timed out')), 10_000))])
        expect(seen).toEqual(['model.created:one', 'model.created:two', 'tag.set:two'])
      })

      it('starts after a given event id', async () => {
        await b.createModel(P, 'a')
        const first = (await b.listEvents()).items
        await b.createModel(P, 'b')
        const abort = new AbortController()
        const got: string[] = []
        for await (const event of b.followEvents({after_id: first[first.length - 1].id}, abort.signal)) {
          got.push(`${event.type}:${event.model}`)
          abort.abort()
        }
        expect(got).toEqual(['model.created:b'])
      })
    })

    describe('blobs', () => {
      it('reports missing digests, stores once, and streams back from an offset', async () => {
        const data = Buffer.from('hello blob world')
        const digest = sha(data)
        expect(await b.missingBlobs([digest, digest])).toEqual([digest])
        expect(await b.putBlob(digest, data.length, () => Readable.from([data]))).toEqual({digest, size: data.length, stored: true})
        expect((await b.putBlob(digest, data.length, () => Readable.from([data]))).stored).toBe(false)
        expect(await b.missingBlobs([digest])).toEqual([])
        const whole = await b.openBlob(digest)
        expect(whole.size).toBe(data.length)
        expect((await streamToBuffer(whole.stream)).equals(data)).toBe(true)
        const tail = await b.openBlob(digest, {offset: 6})
        expect((await streamToBuffer(tail.stream)).toString()).toBe('blob world')
        await rejects(b.openBlob(sha('absent')), 'not_found')
        await rejects(b.missingBlobs(['../../etc/passwd']), 'invalid_argument')
        await rejects(b.openBlob('ABC'), 'invalid_argument')
      })

      it('stores content of unknown digest in one pass, names it by its digest, and stores it once', async () => {
        const data = Buffer.from('content the client has not hashed')
        expect(await b.storeBlob(data.length, () => Readable.from([data]))).toEqual({digest: sha(data), size: data.length, stored: true})
        expect(await b.storeBlob(data.length, () => Readable.from([data]))).toEqual({digest: sha(data), size: data.length, stored: false})
        expect(await b.missingBlobs([sha(data)])).toEqual([])
        const short = Buffer.from('too short')
        await rejects(b.storeBlob(100, () => Readable.from([short])), 'integrity')
        await rejects(b.storeBlob(3, () => Readable.from([short])), 'integrity')
        expect(await b.missingBlobs([sha(short)])).toEqual([sha(short)])
        expect(await target.blobs.exists(sha(short))).toBe(false)
      })

      it('given a local file too, stores exactly its bytes, counts them, and still refuses a mismatch', async () => {
        // Over one copy buffer (4 MiB), so the local store's overlapped copy rotates buffers.
        const data = Buffer.alloc(9 * 1024 * 1024 + 123)
        for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i)
        const path = join(work, 'local-source.bin')
        writeFileSync(path, data)
        let counted = 0
        const file = {path, onBytes: (n: number) => (counted += n)}
        const open = () => Readable.from([data.subarray(0, 5_000_000), data.subarray(5_000_000)])
        expect(await b.storeBlob(data.length, open, file)).toEqual({digest: sha(data), size: data.length, stored: true})
        if (b.kind === 'local') expect(counted).toBe(data.length)
        expect(sha(await streamToBuffer((await b.openBlob(sha(data))).stream))).toBe(sha(data))
        // A file that is not what the caller says: nothing is stored.
        const other = join(work, 'other-source.bin')
        writeFileSync(other, 'not the expected content')
        const expected = sha('the expected content!!!!')
        await rejects(b.putBlob(expected, 24, () => Readable.from([readFileSync(other)]), {path: other}), 'integrity')
        expect(await b.missingBlobs([expected])).toEqual([expected])
        await rejects(b.storeBlob(10, () => Readable.from([readFileSync(other)]), {path: other}), 'integrity')
        expect(await b.missingBlobs([sha(readFileSync(other))])).toEqual([sha(readFileSync(other))])
      })

      it('refuses content that does not match its digest or size, and stores nothing', async () => {
        const digest = sha('expected content')
        await rejects(b.putBlob(digest, 16, () => Readable.from([Buffer.from('tampered content')])), 'integrity')
        await rejects(b.putBlob(digest, 10, () => Readable.from([Buffer.from('expected content')])), 'integrity')
        expect(await b.missingBlobs([digest])).toEqual([digest])
        expect(await target.blobs.exists(digest)).toBe(false)
      })
    })

    describe('download', () => {
      it('materializes a version byte for byte, refuses to overwrite, and overwrites with force', async () => {
        const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7)
        const dir = files(join(work, 'src'), {'a/b/c.txt': 'nested', 'empty': '', 'top.txt': 'top'})
        writeFileSync(join(dir, 'big.bin'), big)
        const att = files(join(work, 'att'), {'report.md': '# report'})
        const {version} = await push('m', [dir], {attachments: [join(att, 'report.md')]})
        const out = join(work, 'out')
        const result = await downloadVersion(b, version, out)
        expect(result.files.map((f) => f.path)).toEqual(['a/b/c.txt', 'big.bin', 'empty', 'top.txt'])
        expect(readFileSync(join(out, 'a/b/c.txt'), 'utf8')).toBe('nested')
        expect(readFileSync(join(out, 'big.bin')).equals(big)).toBe(true)
        expect(readFileSync(join(out, 'empty')).length).toBe(0)
        expect(existsSync(join(out, 'attachments'))).toBe(false)
        expect(readdirSync(out).some((f) => f.includes('modelreg-part'))).toBe(false)

        writeFileSync(join(out, 'top.txt'), 'local edit')
        await rejects(downloadVersion(b, version, out), 'conflict')
        expect(readFileSync(join(out, 'top.txt'), 'utf8')).toBe('local edit')
        await downloadVersion(b, version, out, {force: true, attachments: true})
        expect(readFileSync(join(out, 'top.txt'), 'utf8')).toBe('top')
        expect(readFileSync(join(out, 'attachments/report.md'), 'utf8')).toBe('# report')
      })

      it('resumes an interrupted download from its part file and verifies the whole', async () => {
        const data = Buffer.from('0123456789'.repeat(10_000))
        const {version} = await push('m', [files(join(work, 'src'), {'w.bin': data.toString()})])
        const out = join(work, 'out')
        mkdirSync(out)
        const part = join(out, `.w.bin.${sha(data).slice(0, 16)}.modelreg-part`)
        writeFileSync(part, data.subarray(0, 40_000))
        const result = await downloadVersion(b, version, out)
        expect(result.resumed_bytes).toBe(40_000)
        expect(readFileSync(join(out, 'w.bin')).equals(data)).toBe(true)
        expect(existsSync(part)).toBe(false)
        // A part file with wrong bytes is caught by the digest and never becomes the file.
        const out2 = join(work, 'out2')
        mkdirSync(out2)
        writeFileSync(join(out2, `.w.bin.${sha(data).slice(0, 16)}.modelreg-part`), Buffer.alloc(100, 1))
        await rejects(downloadVersion(b, version, out2), 'integrity')
        expect(existsSync(join(out2, 'w.bin'))).toBe(false)
        expect((await downloadVersion(b, version, out2)).resumed_bytes).toBe(0)
        expect(readFileSync(join(out2, 'w.bin')).equals(data)).toBe(true)
      })

      it('never writes through a symbolic link inside the target directory', async () => {
        const {version} = await push('m', [files(join(work, 'src'), {'sub/file.txt': 'x'})])
        const out = join(work, 'out')
        const elsewhere = join(work, 'elsewhere')
        mkdirSync(out)
        mkdirSync(elsewhere)
        const {symlinkSync} = await import('node:fs')
        symlinkSync(elsewhere, join(out, 'sub'))
        await rejects(downloadVersion(b, version, out, {force: true}), 'invalid_argument')
        expect(readdirSync(elsewhere)).toEqual([])
      })

      it('refuses to serve a damaged blob: nothing at the final path, integrity error', async () => {
        const {version} = await push('m', [files(join(work, 'src'), {'w.bin': 'precious weights'})])
        markDamaged(target.home)
        await target.blobs.overwrite(sha('precious weights'), Buffer.from('precious weighTs'))
        const out = join(work, 'out')
        await rejects(downloadVersion(b, version, out), 'integrity')
        expect(existsSync(join(out, 'w.bin'))).toBe(false)
      })

      it('streams a tar archive whose entries are the manifest', async () => {
        const {version} = await push('m', [files(join(work, 'src'), {'d/x.txt': 'xx', 'y.txt': 'yyy'})])
        const chunks: Buffer[] = []
        const {Writable} = await import('node:stream')
        const sink = new Writable({
          write(chunk, _enc, cb) {
            chunks.push(chunk)
            cb()
          },
        })
        const result = await writeTar(b, version, sink)
        expect(result.bytes).toBe(5)
        const archive = Buffer.concat(chunks)
        expect(archive.length % 512).toBe(0)
        const {Parser} = await import('tar')
        const seen: Record<string, string> = {}
        await new Promise<void>((resolve, reject) => {
          const parser = new Parser({
            onReadEntry: (entry) => {
              const parts: Buffer[] = []
              entry.on('data', (c: Buffer) => parts.push(c))
              entry.on('end', () => (seen[entry.path] = Buffer.concat(parts).toString()))
            },
          })
          parser.on('end', resolve)
          parser.on('error', reject)
          parser.end(archive)
        })
        expect(seen).toEqual({'d/x.txt': 'xx', 'y.txt': 'yyy'})
      })
    })

    describe('integrity: verify and gc', () => {
      const blobOf = async (model: string) => (await b.getVersion(P, model, 'latest')).files[0].sha256

      it('verifies a clean store, and names each damaged blob with the versions that use it', async () => {
        await push('flip', [files(join(work, 'a'), {'w.bin': 'flip me'})])
        await push('trunc', [files(join(work, 'b'), {'w.bin': 'truncate me'})])
        await push('gone', [files(join(work, 'c'), {'w.bin': 'delete me'})])
        await push('fine', [files(join(work, 'd'), {'w.bin': 'leave me'})])
        const clean = await b.verify()
        expect(clean).toMatchObject({ok: true, scope: 'the whole store', problems: [], checked: {versions: 4, blobs: 4}})
        markDamaged(target.home)
        await target.blobs.overwrite(await blobOf('flip'), Buffer.from('flip mE'))
        await target.blobs.overwrite(await blobOf('trunc'), Buffer.from('trunc'))
        await target.blobs.remove(await blobOf('gone'))
        const report = await b.verify()
        expect(report.ok).toBe(false)
        const byKind = Object.fromEntries(report.problems.map((p) => [p.kind, p]))
        expect(byKind.blob_digest).toMatchObject({blob: sha('flip me'), versions: ['default/flip:1']})
        expect(byKind.blob_size).toMatchObject({blob: sha('truncate me'), versions: ['default/trunc:1']})
        expect(byKind.blob_missing).toMatchObject({blob: sha('delete me'), versions: ['default/gone:1']})
        expect(report.problems).toHaveLength(3)
        // Scoped to one model: only its blobs.
        expect((await b.verify({project: P, model: 'fine'})).ok).toBe(true)
        expect((await b.verify({project: P, model: 'flip', selector: '1'})).problems.map((p) => p.kind)).toEqual(['blob_digest'])
        await rejects(b.verify({project: P, model: 'fine', selector: '9'}), 'not_found')
        await rejects(b.verify({project: P, model: 'fine', selector: 'no-such-tag'}), 'not_found')
        await rejects(b.verify({project: P, model: 'fnie'}), 'not_found')
        // Downloads refuse every damaged version.
        for (const model of ['flip', 'trunc', 'gone']) {
          const out = join(work, `dl-${model}`)
          await expect(downloadVersion(b, await b.getVersion(P, model, 'latest'), out)).rejects.toMatchObject({code: model === 'gone' ? 'not_found' : 'integrity'})
          expect(existsSync(join(out, 'w.bin'))).toBe(false)
        }
      })

      it('gc removes only what nothing references, after the grace period; a dry run removes nothing', async () => {
        await push('keep', [files(join(work, 'k'), {'w.bin': 'referenced'})])
        await push('drop', [files(join(work, 'd'), {'w.bin': 'soon unreferenced'})])
        await b.deleteModel(P, 'drop')
        const orphan = sha('soon unreferenced')
        // Used a moment ago: the default grace keeps it.
        expect(await b.gc()).toMatchObject({dry_run: false, blobs: {count: 0}, kept_recent: {count: 1, bytes: 17}})
        expect(await b.gc({dry_run: true, grace_seconds: 0})).toMatchObject({dry_run: true, blobs: {count: 1, bytes: 17}})
        expect(await target.blobs.exists(orphan)).toBe(true)
        expect(await b.gc({grace_seconds: 0})).toMatchObject({blobs: {count: 1, bytes: 17}})
        expect(await target.blobs.exists(orphan)).toBe(false)
        expect(await b.missingBlobs([orphan, sha('referenced')])).toEqual([orphan])
        expect(await b.verify()).toMatchObject({ok: true, warnings: []})
        // Gone blobs come back with a push of the same content.
        expect((await push('drop', [files(join(work, 'd2'), {'w.bin': 'soon unreferenced'})])).uploaded.files).toBe(1)
        expect((await b.verify()).ok).toBe(true)
      })
    })

    trackingContract(() => ({target, backend: b, work}))
    restoreContract(() => ({backend: b, work}))
  })
}
