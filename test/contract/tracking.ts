/** The experiment-tracking part of the backend contract (run from backendContract). */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import type {Backend, MetricPointInput, RunSummary} from '../../src/backends/backend.js'
import {metricKey, parseMetricKey} from '../../src/backends/filter.js'
import {downloadFiles, downloadVersion} from '../../src/registry/download.js'
import {pushCheckpoint, pushVersion} from '../../src/registry/push.js'
import {collect, files, fromArray, rejects, sha} from './helpers.js'
import type {ContractTarget} from './suite.js'
import {run as exec} from '../../src/backends/sql/task.js'

const P = 'default'
const AUTHOR = 'trainer@example.com'

export function trackingContract(ctx: () => {target: ContractTarget; backend: Backend; work: string}): void {
  const b = () => ctx().backend
  const work = () => ctx().work
  const run = (experiment = 'exp', extra: Partial<Parameters<Backend['createRun']>[1]> = {}) => b().createRun(P, {experiment, author: AUTHOR, ...extra})
  const log = (id: string, points: MetricPointInput[]) => b().logMetrics(id, fromArray(points))

  describe('experiments', () => {
    it('creates, lists, gets and updates experiments; a run creates its experiment', async () => {
      const e = await b().createExperiment(P, 'wav2vec-lid', {description: 'language id', owner: 'you@example.com', framework: 'pytorch'})
      expect(e).toMatchObject({project: P, name: 'wav2vec-lid', description: 'language id', owner: 'you@example.com', framework: 'pytorch', run_count: 0})
      await rejects(b().createExperiment(P, 'WAV2VEC-LID'), 'already_exists')
      await rejects(b().createExperiment(P, '../x'), 'invalid_argument')
      await run('auto-created')
      const page = await b().listExperiments(P)
      expect(page.items.map((x) => [x.name, x.run_count])).toEqual([
        ['auto-created', 1],
        ['wav2vec-lid', 0],
      ])
      expect((await b().updateExperiment(P, 'wav2vec-lid', {framework: 'pytorch-2.3'})).framework).toBe('pytorch-2.3')
      await rejects(b().getExperiment(P, 'nope'), 'not_found')
    })
  })

  describe('runs', () => {
    it('starts a run with params, source and times; finishes it once', async () => {
      const r = await run('exp', {name: 'lr-0.1', params: {lr: 0.1, layers: 12}, source: {host: 'box', git: null, ci: null}})
      expect(r.id).toMatch(/^[0-9a-f]{12}$/)
      expect(r).toMatchObject({project: P, experiment: 'exp', name: 'lr-0.1', status: 'running', params: {lr: 0.1, layers: 12}, author: AUTHOR, end_time: null})
      expect(r.source.host).toBe('box')
      expect(r.start_time).toBe(r.created_at)
      expect((await b().getRun(r.id.slice(0, 7))).id).toBe(r.id)
      // A re-run of the same script: a new run with the same name (the id is what is unique).
      const again = await run('exp', {name: 'lr-0.1'})
      expect(again.id).not.toBe(r.id)
      expect(again.name).toBe('lr-0.1')
      const named = await b().listRuns(P, {experiment: 'exp', where: "name = 'lr-0.1'"})
      expect(named.items.map((x) => x.id).sort()).toEqual([r.id, again.id].sort())
      await b().updateRun(again.id, {name: 'lr-0.1-rerun'})
      await b().updateRun(again.id, {name: 'lr-0.1'})
      const done = await b().updateRun(r.id, {status: 'completed'})
      expect(done.status).toBe('completed')
      expect(done.end_time).not.toBeNull()
      await rejects(b().updateRun(r.id, {status: 'failed'}), 'conflict')
      await rejects(b().getRun('ffffffffffff'), 'not_found')
      await rejects(b().getRun('not-hex'), 'invalid_argument')
      await rejects(b().updateRun(r.id, {status: 'bogus' as never}), 'invalid_argument')
    })

    it('queued runs get a start time when they start running, and cannot go back', async () => {
      const r = await run('exp', {status: 'queued'})
      expect(r).toMatchObject({status: 'queued', start_time: null})
      const running = await b().updateRun(r.id, {status: 'running'})
      expect(running.start_time).not.toBeNull()
      await rejects(b().updateRun(r.id, {status: 'queued'}), 'conflict')
      expect((await b().updateRun(r.id, {status: 'killed'})).status).toBe('killed')
    })

    it('params: new keys are added, the same value is fine, a different value is a conflict unless overwrite', async () => {
      const r = await run('exp', {params: {lr: 0.1}})
      expect(await b().setRunParams(r.id, {batch: 32, lr: 0.1})).toEqual({lr: 0.1, batch: 32})
      const e = await rejects(b().setRunParams(r.id, {lr: 0.2}), 'conflict')
      expect(e.message).toContain('--overwrite')
      expect(await b().setRunParams(r.id, {lr: 0.2}, {overwrite: true})).toEqual({lr: 0.2, batch: 32})
      expect((await b().getRun(r.id)).params).toEqual({lr: 0.2, batch: 32})
    })
  })

  describe('metric series', () => {
    it('logs points, replaces a repeated (name, split, step), and reads the series back in order', async () => {
      const r = await run()
      const batch: MetricPointInput[] = [
        {name: 'loss', split: 'train', step: 0, value: 0.9},
        {name: 'loss', split: 'train', step: 1, value: 0.5},
        {name: 'loss', split: 'valid', step: 0, value: 1.0},
        {name: 'loss', split: 'valid', step: 1, value: 0.7},
        {name: 'rmse', step: 0, value: 3.5, time: '2026-01-01T00:00:00Z'},
      ]
      expect(await log(r.id, batch)).toEqual({count: 5})
      // A retried batch changes nothing.
      expect(await log(r.id, batch)).toEqual({count: 5})
      const series = await collect(b().readMetrics(r.id))
      expect(series.map((p) => [p.name, p.split, p.step, p.value])).toEqual([
        ['loss', 'train', 0, 0.9],
        ['loss', 'train', 1, 0.5],
        ['loss', 'valid', 0, 1.0],
        ['loss', 'valid', 1, 0.7],
        ['rmse', '', 0, 3.5],
      ])
      expect(series[4].time).toBe('2026-01-01T00:00:00.000Z')
      await log(r.id, [{name: 'loss', split: 'valid', step: 1, value: 0.6}])
      expect((await collect(b().readMetrics(r.id, {name: 'loss', split: 'valid'}))).map((p) => p.value)).toEqual([1.0, 0.6])
      const shown = await b().getRun(r.id)
      expect(shown.metrics).toEqual({'loss[train]': 0.5, 'loss[valid]': 0.6, rmse: 3.5})
      expect(shown.metric_summaries.find((m) => m.split === 'valid')).toEqual({name: 'loss', split: 'valid', last: 0.6, last_step: 1, min: 0.6, max: 1, count: 2})
    })

    it('numbers points without a step after the series\' last step', async () => {
      const r = await run()
      await log(r.id, [{name: 'acc', value: 0.1}, {name: 'acc', value: 0.2}])
      await log(r.id, [{name: 'acc', value: 0.3}, {name: 'acc', step: 10, value: 0.4}, {name: 'acc', value: 0.5}])
      expect((await collect(b().readMetrics(r.id))).map((p) => [p.step, p.value])).toEqual([
        [0, 0.1],
        [1, 0.2],
        [2, 0.3],
        [10, 0.4],
        [11, 0.5],
      ])
    })

    it('streams batches larger than one transaction', async () => {
      const r = await run()
      async function* many() {
        for (let i = 0; i < 12_345; i++) yield {name: 'loss', step: i, value: 1 / (i + 1)}
      }
      expect(await b().logMetrics(r.id, many())).toEqual({count: 12_345})
      let n = 0
      let ok = true
      for await (const p of b().readMetrics(r.id)) {
        if (p.step !== n || p.value !== 1 / (n + 1)) ok = false
        n++
      }
      expect([n, ok]).toEqual([12_345, true])
      expect((await b().getRun(r.id)).metric_summaries[0]).toMatchObject({count: 12_345, last_step: 12_344, min: 1 / 12_345, max: 1})
    })

    it('takes points one by one and in arrays; a repeat within a batch keeps the last; times move only with the value', async () => {
      const r = await run()
      const timed = '2025-05-05T05:05:05.000Z'
      async function* mixed(): AsyncIterable<MetricPointInput | MetricPointInput[]> {
        yield {name: 'loss', step: 0, value: 1}
        // 120 points in one array: more than one INSERT's worth, given times mixed in.
        yield Array.from({length: 120}, (_, i) => (i % 7 === 3 ? {name: 'loss', step: i + 1, value: i, time: timed} : {name: 'loss', step: i + 1, value: i}))
        yield [
          {name: 'loss', step: 5, value: -1},
          {name: 'loss', step: 5, value: -2},
        ]
        yield {name: 'acc', value: 0.5}
      }
      expect(await b().logMetrics(r.id, mixed())).toEqual({count: 124})
      const series = await collect(b().readMetrics(r.id, {name: 'loss'}))
      expect(series.length).toBe(121)
      expect(series.find((p) => p.step === 5)?.value).toBe(-2)
      expect(series.find((p) => p.step === 4)?.time).toBe(timed)
      expect(series.find((p) => p.step === 60)?.value).toBe(59)
      const before = series.find((p) => p.step === 60)?.time
      await new Promise((resolve) => setTimeout(resolve, 5))
      await log(r.id, [{name: 'loss', step: 60, value: 59}])
      expect((await collect(b().readMetrics(r.id, {name: 'loss'}))).find((p) => p.step === 60)?.time).toBe(before)
      await log(r.id, [{name: 'loss', step: 60, value: 58}])
      const changed = (await collect(b().readMetrics(r.id, {name: 'loss'}))).find((p) => p.step === 60)
      expect(changed?.value).toBe(58)
      expect(changed?.time).not.toBe(before)
      expect((await b().getRun(r.id)).metrics).toEqual({loss: 119, acc: 0.5})
    })

    it('takes points as series chunks with their times; again changes nothing; old and new steps mixed; a bad chunk writes nothing', async () => {
      const r = await run()
      const T = (i: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString()
      // Exact doubles, extremes included, and more points than one statement and one chunk read back hold.
      const special = [5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 0.1 + 0.2, 1 / 3, -1e-300, 123456789.12345679, 2 ** 53 + 2]
      const n = 1_234
      const loss = {name: 'loss', split: 'train', steps: Array.from({length: n}, (_, i) => i * 2), values: Array.from({length: n}, (_, i) => (i % 2 ? 1 / (i + 1) : special[(i / 2) % special.length])), times: Array.from({length: n}, (_, i) => T(i % 90))}
      // A time not in the stored form is stored in it.
      const acc = {name: 'acc', split: '', steps: [0, 5, 9], values: [0.1, 0.2, 0.3], times: ['2024-01-01T00:00:00Z', T(1), T(2)]}
      expect(await b().logMetricSeries(r.id, fromArray([loss, acc]))).toEqual({count: n + 3})
      const all = await collect(b().readMetrics(r.id))
      expect(all.filter((p) => p.name === 'acc')).toEqual([
        {name: 'acc', split: '', step: 0, value: 0.1, time: T(0)},
        {name: 'acc', split: '', step: 5, value: 0.2, time: T(1)},
        {name: 'acc', split: '', step: 9, value: 0.3, time: T(2)},
      ])
      expect(all.filter((p) => p.name === 'loss').map((p) => [p.split, p.step, p.value, p.time])).toEqual(loss.steps.map((step, i) => ['train', step, loss.values[i], loss.times[i]]))
      expect(await b().logMetricSeries(r.id, fromArray([loss]))).toEqual({count: n})
      expect(await collect(b().readMetrics(r.id))).toEqual(all)
      // Steps at or below the series' last replace their points (a point again, or a changed one); those above are new.
      await b().logMetricSeries(r.id, fromArray([{name: 'acc', split: '', steps: [5, 9, 12], values: [0.2, 0.35, 0.4], times: [T(1), T(3), T(4)]}]))
      expect((await collect(b().readMetrics(r.id, {name: 'acc'}))).map((p) => [p.step, p.value, p.time])).toEqual([
        [0, 0.1, T(0)],
        [5, 0.2, T(1)],
        [9, 0.35, T(3)],
        [12, 0.4, T(4)],
      ])
      expect((await b().getRun(r.id)).metric_summaries.find((m) => m.name === 'acc')).toMatchObject({last: 0.4, last_step: 12, count: 4})
      const bad = (chunk: Record<string, unknown>) => rejects(b().logMetricSeries(r.id, fromArray([{name: 'new', split: '', steps: [0, 1], values: [1, 2], times: [T(0), T(1)], ...chunk} as never])), 'invalid_argument')
      await bad({steps: [1, 1]})
      await bad({steps: [2, 1]})
      await bad({steps: [-1, 0]})
      await bad({values: [1, Number.NaN]})
      await bad({values: [1]})
      await bad({times: [T(0), 'yesterday']})
      await bad({name: '../x'})
      expect((await b().getRun(r.id)).metric_summaries.map((m) => m.name).sort()).toEqual(['acc', 'loss'])
    })

    it('a local store reads a run back as series chunk JSON, made by its database: the same points, chunk by chunk', async () => {
      const read = b().readMetricSeriesJson?.bind(b())
      if (!read) return // remote backends read points with readMetrics
      const r = await run()
      const T = (i: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString()
      await log(r.id, [
        ...Array.from({length: 25}, (_, i) => ({name: 'loss', split: 'train', step: i * 3, value: 1 / 3 + i, time: T(i)})),
        ...Array.from({length: 7}, (_, i) => ({name: 'loss', split: 'valid', step: i, value: -i * 1e-300, time: T(i)})),
        {name: 'acc', step: 4, value: 5e-324, time: T(9)},
      ])
      const chunks = await collect(read(r.id, 10))
      expect(chunks.map((c) => c.points)).toEqual([1, 10, 10, 5, 7])
      const parsed = chunks.map((c) => JSON.parse(c.json) as {name: string; split: string; steps: number[]; values: number[]; times: string[]})
      expect(parsed.map((c) => `${c.name}[${c.split}]`)).toEqual(['acc[]', 'loss[train]', 'loss[train]', 'loss[train]', 'loss[valid]'])
      const points = parsed.flatMap((c) => c.steps.map((step, i) => ({name: c.name, split: c.split, step, value: c.values[i], time: c.times[i]})))
      expect(points).toEqual(await collect(b().readMetrics(r.id)))
      expect(await collect(read(r.id, 1000))).toHaveLength(3)
      await rejects(collect(read(r.id, 0)), 'invalid_argument')
    })

    it('a large batch of interleaved series, repeated and unordered steps, given and implicit times: as a point-by-point model says', async () => {
      const r = await run()
      // Exact doubles, extremes included; -0 comes back as 0 (SQLite's REAL columns keep no -0).
      const special = [5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 0.1 + 0.2, 1 / 3, -1e-300, 123456789.12345679, 2 ** 53 + 2, -0]
      let seed = 42
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        return seed % n
      }
      const given = (k: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, k)).toISOString()
      // The model: each (name, split, step) the last point's value; its time the given one, or
      // the batch's (null here) when none was given and the value changed.
      type Row = {value: number; time: string | null}
      const rows = new Map<string, Map<number, Row>>()
      const lastOf = new Map<string, {step: number; value: number}>()
      const apply = (points: MetricPointInput[]) => {
        for (const p of points) {
          const key = metricKey(p.name, p.split ?? '')
          let series = rows.get(key)
          if (!series) rows.set(key, (series = new Map()))
          const last = lastOf.get(key)
          const step = p.step ?? (last ? last.step + 1 : 0)
          const value = Object.is(p.value, -0) ? 0 : p.value
          const old = series.get(step)
          const time = p.time ? new Date(p.time).toISOString() : old && old.value === value ? old.time : null
          series.set(step, {value, time})
          if (!last || step >= last.step) lastOf.set(key, {step, value})
        }
      }
      const seriesNames: Array<[string, string | undefined]> = [
        ['loss', 'train'],
        ['loss', 'valid'],
        ['loss', undefined],
        ['acc', 'valid'],
      ]
      // 61 more series with a few points each: more than one statement's worth of series.
      for (let i = 0; i < 61; i++) seriesNames.push([`layer.${i}/grad_norm`, i % 2 ? 'train' : undefined])
      const batchOf = (n: number): MetricPointInput[] =>
        Array.from({length: n}, (_, i) => {
          const [name, split] = seriesNames[random(8) === 0 ? 4 + random(61) : random(4)]
          const point: MetricPointInput = {name, ...(split ? {split} : {}), value: random(5) === 0 ? special[random(special.length)] : random(1000) / 7}
          // Steps: mostly none (after the series' last), else a small step that repeats often, in any order.
          if (random(3) > 0) point.step = random(60)
          if (random(4) === 0) point.time = given(i)
          return point
        })
      const logged = async (batch: MetricPointInput[]) => {
        const start = new Date().toISOString()
        expect(await log(r.id, batch)).toEqual({count: batch.length})
        const end = new Date().toISOString()
        // Rows the batch wrote with its own time: they must all show one time, within the call.
        const batchTimes = new Set<string>()
        for (const p of await collect(b().readMetrics(r.id))) {
          const row = rows.get(metricKey(p.name, p.split))?.get(p.step)
          if (row && row.time === null) {
            batchTimes.add(p.time)
            row.time = p.time
          }
        }
        expect(batchTimes.size).toBe(1)
        for (const t of batchTimes) expect(t >= start && t <= end, t).toBe(true)
      }
      const first = batchOf(400)
      apply(first)
      await logged(first)
      // The second batch: points of the first again, repeats within the batch ...
      const second = batchOf(2500)
      second.push(...first.slice(0, 80), ...second.slice(0, 120).map((p) => ({...p, step: p.step ?? 3})))
      apply(second)
      // ... and, for some rows as they now are: the same value without a time (the row keeps
      // its time), a time then the same value without (the given time stays), a time then
      // another value without (the batch's time).
      const tail: MetricPointInput[] = []
      let k = 0
      for (const [key, series] of rows) {
        for (const [step, row] of series) {
          if (k++ % 4 !== 0) continue
          const {name, split} = parseMetricKey(key)
          const point = {name, ...(split ? {split} : {}), step, value: row.value}
          if (k % 3 === 0) tail.push(point)
          else if (k % 3 === 1) tail.push({...point, time: given(k)}, point)
          else tail.push({...point, time: given(k)}, {...point, value: row.value + 1})
        }
      }
      apply(tail)
      second.push(...tail)
      await logged(second)
      const expected = [...rows.entries()]
        .flatMap(([key, series]) => [...series.entries()].map(([step, row]) => ({...parseMetricKey(key), step, value: row.value, time: row.time})))
        .sort((a, c) => (a.name !== c.name ? (a.name < c.name ? -1 : 1) : a.split !== c.split ? (a.split < c.split ? -1 : 1) : a.step - c.step))
      const stored = await collect(b().readMetrics(r.id))
      expect(stored.map((p) => ({name: p.name, split: p.split, step: p.step, value: p.value, time: p.time}))).toEqual(expected)
      expect(stored.filter((p) => special.includes(p.value)).length).toBeGreaterThan(10)
      const shown = await b().getRun(r.id)
      expect(shown.metrics).toEqual(Object.fromEntries([...lastOf.entries()].map(([key, last]) => [key, last.value])))
      for (const summary of shown.metric_summaries) {
        const key = metricKey(summary.name, summary.split)
        const values = [...(rows.get(key)?.values() ?? [])].map((row) => row.value)
        expect(summary).toEqual({...summary, last: lastOf.get(key)?.value, last_step: lastOf.get(key)?.step, count: values.length, min: Math.min(...values), max: Math.max(...values)})
      }
      expect(shown.metric_summaries.length).toBe(rows.size)
    })

    it('a finished run takes no more points unless allow_finished (an evaluation after training); one finished while points stream in takes none after', async () => {
      for (const status of ['completed', 'failed', 'killed'] as const) {
        const r = await run()
        await log(r.id, [{name: 'loss', step: 0, value: 1}])
        await b().updateRun(r.id, {status})
        const e = await rejects(log(r.id, [{name: 'loss', step: 1, value: 0.5}]), 'conflict')
        expect(e.message).toBe(`run ${r.id} already finished (${status}): it takes no more points; use --allow-finished to add some after its end`)
        await rejects(b().logMetrics(r.id, fromArray([{name: 'loss', step: 1, value: 0.5}]), {allow_finished: false}), 'conflict')
        expect(await b().logMetrics(r.id, fromArray([{name: 'accuracy', split: 'test', value: 0.93}]), {allow_finished: true})).toEqual({count: 1})
        const points = (await collect(b().readMetrics(r.id))).map((p) => [p.name, p.split, p.step, p.value])
        expect(points).toEqual([
          ['accuracy', 'test', 0, 0.93],
          ['loss', '', 0, 1],
        ])
        expect((await b().getRun(r.id)).status).toBe(status)
      }
      // A queued or running run takes them, as always.
      const queued = await run('exp', {status: 'queued'})
      expect(await log(queued.id, [{name: 'loss', value: 1}])).toEqual({count: 1})

      // Refused before the first point is read: a file or stdin is not consumed for nothing.
      const done = await run()
      await b().updateRun(done.id, {status: 'completed'})
      let read = 0
      async function* counted() {
        for (let i = 0; i < 3; i++) {
          read++
          yield {name: 'loss', value: i}
        }
      }
      await rejects(b().logMetrics(done.id, counted()), 'conflict')
      if (b().kind !== 'remote') expect(read).toBe(0) // a client streams its body before the answer comes

      // Finished while points stream in: each batch's transaction checks again, so nothing after the finish is stored.
      const s = await run()
      async function* stream() {
        for (let i = 0; i < 10_000; i++) yield {name: 'loss', step: i, value: i}
        await b().updateRun(s.id, {status: 'killed'})
        yield {name: 'loss', step: 10_000, value: 1}
      }
      const refused = b().logMetrics(s.id, stream())
      if (b().kind !== 'remote') await rejects(refused, 'conflict')
      else {
        // Through a server the 409 may come while the client still writes the body, and the closed
        // connection is what the client sees (EPIPE): the refusal holds either way.
        const e = await refused.then(() => null, (error: {code?: string}) => error)
        expect(['conflict', 'unavailable']).toContain(e?.code)
      }
      const steps = (await collect(b().readMetrics(s.id))).map((p) => p.step)
      expect(steps).not.toContain(10_000)
      // Locally the first batch (10,000 points) was committed before the finish; a server may see the finish first.
      if (b().kind !== 'remote') expect(steps.length).toBe(10_000)
      else expect([0, 10_000]).toContain(steps.length)
    })

    it('refuses bad points with the point number, and unknown runs', async () => {
      const r = await run()
      const e = await rejects(log(r.id, [{name: 'ok', value: 1}, {name: 'bad name!', value: 1}]), 'invalid_argument')
      expect(e.message).toMatch(/metric point 2/)
      await rejects(log(r.id, [{name: 'x', value: Number.NaN}]), 'invalid_argument')
      await rejects(log(r.id, [{name: 'x', value: 1, step: -1}]), 'invalid_argument')
      await rejects(log(r.id, [{name: 'x', value: 1, split: 'a b'}]), 'invalid_argument')
      await rejects(log(r.id, [{name: 'x', value: 'high' as never}]), 'invalid_argument')
      await rejects(log('abcdef012345', [{name: 'x', value: 1}]), 'not_found')
      await rejects(collect(b().readMetrics('abcdef012345')), 'not_found')
    })
  })

  describe('downsampled metric series', () => {
    const down = (id: string, name: string, q?: Parameters<Backend['downsampleMetrics']>[2]) => b().downsampleMetrics(id, name, q)
    const pairs = (s: {step: number[]; value: number[]}) => s.step.map((step, i) => [step, s.value[i]])

    it('answers a small series exactly, per split, and a zoomed range of it', async () => {
      const r = await run()
      const t0 = Date.parse('2026-01-01T00:00:00Z')
      const points: MetricPointInput[] = []
      for (let i = 0; i < 50; i++) {
        points.push({name: 'loss', split: 'train', step: i, value: 1 / (i + 1), time: new Date(t0 + i * 1000).toISOString()})
        if (i % 10 === 0) points.push({name: 'loss', split: 'valid', step: i, value: 2 / (i + 1), time: new Date(t0 + i * 1000).toISOString()})
      }
      await log(r.id, points)
      const all = await down(r.id, 'loss')
      expect(all).toMatchObject({run: r.id, name: 'loss', x: 'step', buckets: 500})
      expect(all.series.map((s) => [s.split, s.count, s.exact, s.step.length])).toEqual([
        ['train', 50, true, 50],
        ['valid', 5, true, 5],
      ])
      expect(pairs(all.series[1])).toEqual([0, 10, 20, 30, 40].map((i) => [i, 2 / (i + 1)]))
      expect(all.series[0].time[3]).toBe(t0 + 3000)
      const zoom = await down(r.id, 'loss', {splits: ['train'], from: 10, to: 14})
      expect(zoom.series.map((s) => [s.split, s.count, s.exact])).toEqual([['train', 5, true]])
      expect(pairs(zoom.series[0])).toEqual([10, 11, 12, 13, 14].map((i) => [i, 1 / (i + 1)]))
      // x = time: the range is in milliseconds since the epoch.
      const byTime = await down(r.id, 'loss', {x: 'time', from: t0 + 20_000, to: t0 + 21_000})
      expect(byTime.series.map((s) => [s.split, s.step])).toEqual([
        ['train', [20, 21]],
        ['valid', [20]],
      ])
      expect(byTime.series[0].time).toEqual([t0 + 20_000, t0 + 21_000])
      const empty = await down(r.id, 'loss', {splits: ['train'], from: 1000})
      expect(empty.series).toEqual([{split: 'train', count: 0, exact: true, step: [], time: [], value: []}])
      expect((await down(r.id, 'nothing')).series).toEqual([])
      await rejects(down(r.id, 'loss', {buckets: 0}), 'invalid_argument')
      await rejects(down(r.id, 'loss', {buckets: 2001}), 'invalid_argument')
      await rejects(down(r.id, 'loss', {x: 'epoch' as never}), 'invalid_argument')
      await rejects(down(r.id, 'loss', {from: 5, to: 4}), 'invalid_argument')
      await rejects(down(r.id, 'bad name!'), 'invalid_argument')
      await rejects(down('abcdef012345', 'loss'), 'not_found')
    })

    it('cuts a long series into at most 4 points a bucket, keeping each bucket\'s extremes and the ends', async () => {
      const r = await run()
      // 10,000 points: a saw-tooth with one spike up and one down, both kept whatever the buckets.
      const value = (i: number) => (i === 4321 ? 9 : i === 7777 ? -9 : (i % 97) / 97)
      async function* series() {
        for (let i = 0; i < 10_000; i += 1000) yield Array.from({length: 1000}, (_, j) => ({name: 'acc', step: i + j, value: value(i + j)}))
      }
      await b().logMetrics(r.id, series())
      for (const buckets of [1, 7, 100]) {
        const answer = await down(r.id, 'acc', {buckets})
        const s = answer.series[0]
        expect([s.split, s.count, s.exact]).toEqual(['', 10_000, false])
        expect(s.step.length).toBeLessThanOrEqual(4 * buckets)
        expect(s.step.length).toBe(s.value.length)
        expect(Math.max(...s.value)).toBe(9)
        expect(Math.min(...s.value)).toBe(-9)
        expect([s.step[0], s.step[s.step.length - 1]]).toEqual([0, 9999])
        expect([...s.step].sort((a, b) => a - b)).toEqual(s.step)
        // Every point answered is a point of the series.
        for (let i = 0; i < s.step.length; i++) expect(s.value[i]).toBe(value(s.step[i]))
      }
      // Zoomed in: the range's own extremes and ends.
      const zoom = (await down(r.id, 'acc', {buckets: 10, from: 5000, to: 8000})).series[0]
      expect([zoom.count, zoom.exact, zoom.step[0], zoom.step[zoom.step.length - 1]]).toEqual([3001, false, 5000, 8000])
      expect(Math.min(...zoom.value)).toBe(-9)
      expect(Math.max(...zoom.value)).toBe(96 / 97)
      // Few enough points in the range for every one of them to be sent.
      const near = (await down(r.id, 'acc', {buckets: 10, from: 4300, to: 4339})).series[0]
      expect([near.count, near.exact, near.step.length]).toEqual([40, true, 40])
    })

    it('answers a 1M-point series with a few thousand points', async () => {
      const r = await run()
      const total = 1_000_000
      const engine = ctx().target.engine
      if (engine) {
        // Written behind the backend's back: logging a million points is not what this tests.
        await engine.driver.write('seeding a long series', function* () {
          yield* exec(
            `INSERT INTO metrics (run_id, name, split, step, value, time)
             WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < ${total - 1})
             SELECT (SELECT id FROM runs WHERE uid = ?), 'loss', s.split, g.i,
               CASE WHEN g.i = 123457 AND s.split = 'train' THEN -3.0 WHEN g.i = 654321 AND s.split = 'train' THEN 5.0 ELSE (g.i % 1000) / 1000.0 END, ?
             FROM g CROSS JOIN (SELECT 'train' AS split UNION ALL SELECT 'valid') s WHERE s.split = 'train' OR g.i % 10 = 0`,
            r.id,
            '2026-01-01T00:00:00.000Z',
          )
          yield* exec(
            `INSERT INTO metric_series (run_id, name, split, last_step, last_value)
             SELECT (SELECT id FROM runs WHERE uid = ?), 'loss', s.split, ${total - 1}, 0.999 FROM (SELECT 'train' AS split UNION ALL SELECT 'valid') s`,
            r.id,
          )
        })
      } else {
        async function* series() {
          for (let i = 0; i < total; i += 10_000) {
            yield Array.from({length: 10_000}, (_, j) => {
              const step = i + j
              return {name: 'loss', split: 'train', step, value: step === 123457 ? -3 : step === 654321 ? 5 : (step % 1000) / 1000}
            })
          }
        }
        await b().logMetrics(r.id, series())
      }
      const started = performance.now()
      const answer = await down(r.id, 'loss', {splits: ['train'], buckets: 500})
      const took = performance.now() - started
      const s = answer.series[0]
      expect([s.split, s.count, s.exact]).toEqual(['train', total, false])
      expect(s.step.length).toBeLessThanOrEqual(2000)
      expect(Math.min(...s.value)).toBe(-3)
      expect(Math.max(...s.value)).toBe(5)
      expect([s.step[0], s.step[s.step.length - 1]]).toEqual([0, total - 1])
      const zoom = (await down(r.id, 'loss', {splits: ['train'], buckets: 500, from: 654_000, to: 655_000})).series[0]
      expect([zoom.count, zoom.exact, Math.max(...zoom.value)]).toEqual([1001, true, 5])
      process.stderr.write(`downsampling 1M points to ${s.step.length}: ${took.toFixed(0)} ms\n`)
    })
  })

  describe('datasets and checkpoints', () => {
    it('records tagged datasets, replacing a tag', async () => {
      const r = await run()
      await b().setDataset(r.id, {tag: 'train', uri: '/path/to/train', metadata: {num_cols: 15, dist: 'random'}})
      await b().setDataset(r.id, {tag: 'test', uri: 's3://bucket/test', sha256: sha('test'), size: 4})
      const replaced = await b().setDataset(r.id, {tag: 'train', uri: '/path/to/train-v2'})
      expect(replaced).toMatchObject({tag: 'train', uri: '/path/to/train-v2', sha256: null, metadata: {}})
      expect((await b().getRun(r.id)).datasets.map((d) => [d.tag, d.uri])).toEqual([
        ['test', 's3://bucket/test'],
        ['train', '/path/to/train-v2'],
      ])
      await rejects(b().setDataset(r.id, {tag: '123', uri: 'x'}), 'invalid_argument')
      await rejects(b().setDataset(r.id, {tag: 'train', uri: ''}), 'invalid_argument')
    })

    it('stores checkpoint files deduplicated, gives them a UUID, and downloads them verified', async () => {
      const r = await run()
      const dir = files(join(work(), 'ckpt'), {'model.pt': 'weights-epoch-1', 'opt/state.bin': 'optimizer'})
      const c = await pushCheckpoint(b(), r.id, [dir], {step: 100, metrics: {loss: 0.42}})
      expect(c.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(c).toMatchObject({run_id: r.id, experiment: 'exp', step: 100, metrics: {loss: 0.42}, file_count: 2, size: 24})
      expect(c.uploaded.files).toBe(2)
      const again = await pushCheckpoint(b(), r.id, [dir], {step: 200})
      expect(again.uploaded).toEqual({files: 0, bytes: 0})
      expect((await b().listCheckpoints(r.id)).map((x) => x.step)).toEqual([100, 200])
      const got = await b().getCheckpoint(c.uuid)
      expect(got.files.map((f) => f.path)).toEqual(['model.pt', 'opt/state.bin'])
      const out = join(work(), 'restored')
      await downloadFiles(b(), {ref: `checkpoint ${c.uuid}`, project: got.project, created_at: got.created_at, files: got.files}, out)
      expect(readFileSync(join(out, 'opt/state.bin'), 'utf8')).toBe('optimizer')
      await rejects(b().getCheckpoint('00000000-0000-4000-8000-000000000000'), 'not_found')
      await rejects(b().getCheckpoint('nope'), 'invalid_argument')
      await rejects(b().createCheckpoint(r.id, {files: [{path: 'x', size: 3, sha256: sha('never stored'), mode: 0o644}]}), 'invalid_argument')
    })
  })

  describe('registration and lineage', () => {
    it('registers a checkpoint as a version without copying bytes; lineage survives deleting the run', async () => {
      const r = await run('mnist', {name: 'best', params: {lr: 0.01}})
      await b().setDataset(r.id, {tag: 'train', uri: '/data/train', metadata: {rows: 60000}})
      await log(r.id, [
        {name: 'loss', split: 'valid', step: 0, value: 0.3},
        {name: 'accuracy', step: 0, value: 0.97},
      ])
      const c = await pushCheckpoint(b(), r.id, [files(join(work(), 'ck'), {'w.h5': 'trained weights'})], {step: 5, metrics: {accuracy: 0.98}})
      const {version, model_created: created} = await b().registerCheckpoint(P, 'mnist_cnn', c.uuid, {author: AUTHOR, comment: 'best run', tags: ['staging']})
      expect(created).toBe(true)
      expect(version).toMatchObject({model: 'mnist_cnn', version: 1, comment: 'best run', tags: ['latest', 'staging'], metrics: {accuracy: 0.98, 'loss[valid]': 0.3}})
      expect(version.files).toEqual(c.files)
      expect(version.lineage).toMatchObject({
        run: {id: r.id, name: 'best', experiment: 'mnist', status: 'running'},
        checkpoint: {uuid: c.uuid, step: 5},
        params: {lr: 0.01},
        metrics: {accuracy: 0.97, 'loss[valid]': 0.3},
        datasets: [{tag: 'train', uri: '/data/train', metadata: {rows: 60000}}],
      })
      expect((await b().getRun(r.id)).versions).toEqual([{project: P, model: 'mnist_cnn', version: 1}])
      // Registering again with the same request id is one version; a new request is another.
      await rejects(b().registerCheckpoint(P, 'mnist_cnn', '00000000-0000-4000-8000-000000000000', {author: AUTHOR}), 'not_found')

      await b().deleteRun(r.id)
      await rejects(b().getRun(r.id), 'not_found')
      await rejects(b().getCheckpoint(c.uuid), 'not_found')
      const kept = await b().getVersion(P, 'mnist_cnn', 'staging')
      expect(kept.lineage?.run?.id).toBe(r.id)
      const out = join(work(), 'registered')
      await downloadVersion(b(), kept, out)
      expect(readFileSync(join(out, 'w.h5'), 'utf8')).toBe('trained weights')
    })

    it('links a pushed version to a run, and records datasets given with the push', async () => {
      const r = await run('exp', {params: {depth: 4}})
      await log(r.id, [{name: 'auc', value: 0.81}])
      const pushed = await pushVersion(b(), {
        project: P,
        model: 'churn',
        paths: [files(join(work(), 'm'), {'m.pkl': 'model'})],
        author: AUTHOR,
        run_id: r.id,
        datasets: [{tag: 'test', uri: 's3://b/test.csv'}],
      })
      expect(pushed.version.lineage).toMatchObject({run: {id: r.id}, checkpoint: null, params: {depth: 4}, metrics: {auc: 0.81}, datasets: [{tag: 'test'}]})
      const plain = await pushVersion(b(), {project: P, model: 'churn', paths: [files(join(work(), 'm2'), {'m.pkl': 'model 2'})], author: AUTHOR})
      expect(plain.version.lineage).toBeNull()
      await rejects(
        pushVersion(b(), {project: P, model: 'churn', paths: [files(join(work(), 'm3'), {'m.pkl': 'x'})], author: AUTHOR, run_id: 'ffffffffffff'}),
        'not_found',
      )
      expect((await b().listVersions(P, 'churn')).total).toBe(2)
    })
  })

  describe('finding runs', () => {
    async function seed(): Promise<RunSummary[]> {
      const specs: [string, Record<string, number | string>, Record<string, number>, 'completed' | 'failed' | null, string][] = [
        ['a', {lr: 0.1, opt: 'sgd'}, {accuracy: 0.81, loss: 0.5}, 'completed', 'cnn'],
        ['b', {lr: 0.01, opt: 'adam'}, {accuracy: 0.93, loss: 0.2}, 'completed', 'cnn'],
        ['c', {lr: 0.001, opt: 'adam'}, {accuracy: 0.88}, 'failed', 'rnn'],
        ['d', {lr: 0.01, opt: 'sgd'}, {}, null, 'rnn'],
      ]
      for (const [name, params, metrics, status, experiment] of specs) {
        const r = await run(experiment, {name, params, tags: {team: name === 'a' ? 'vision' : 'speech'}})
        await log(
          r.id,
          Object.entries(metrics).map(([k, v]) => ({name: k, value: v})),
        )
        if (status) await b().updateRun(r.id, {status})
      }
      return (await b().listRuns(P)).items
    }
    const names = async (q: Parameters<Backend['listRuns']>[1]) => (await b().listRuns(P, q)).items.map((r) => r.name)

    it('filters by experiment, status and params; sorts by metrics with missing values last', async () => {
      const all = await seed()
      expect(all.map((r) => r.name)).toEqual(['d', 'c', 'b', 'a']) // newest first
      expect(all.find((r) => r.name === 'b')?.metrics).toEqual({accuracy: 0.93, loss: 0.2})
      expect(await names({experiment: 'rnn'})).toEqual(['d', 'c'])
      expect(await names({status: ['completed']})).toEqual(['b', 'a'])
      expect(await names({params: {opt: 'adam'}})).toEqual(['c', 'b'])
      expect(await names({params: {lr: 0.01}})).toEqual(['d', 'b'])
      expect(await names({sort_by: 'metrics.accuracy', order_by: 'desc'})).toEqual(['b', 'c', 'a', 'd'])
      expect(await names({sort_by: 'metrics.accuracy', order_by: 'asc'})).toEqual(['a', 'c', 'b', 'd'])
      expect(await names({sort_by: 'params.lr', order_by: 'asc', limit: 2})).toEqual(['c', 'b'])
      expect(await names({sort_by: 'name', order_by: 'asc', offset: 3})).toEqual(['d'])
      await rejects(b().listRuns(P, {sort_by: 'bogus'}), 'invalid_argument')
    })

    it('--where: every operator, and/or precedence, parentheses, not, and errors at a position', async () => {
      await seed()
      expect(await names({where: 'metrics.accuracy > 0.85', sort_by: 'name', order_by: 'asc'})).toEqual(['b', 'c'])
      expect(await names({where: 'metrics.accuracy >= 0.88', sort_by: 'name', order_by: 'asc'})).toEqual(['b', 'c'])
      expect(await names({where: 'metrics.accuracy < 0.88', sort_by: 'name', order_by: 'asc'})).toEqual(['a'])
      expect(await names({where: 'metrics.accuracy <= 0.88', sort_by: 'name', order_by: 'asc'})).toEqual(['a', 'c'])
      expect(await names({where: "params.opt = 'adam'", sort_by: 'name', order_by: 'asc'})).toEqual(['b', 'c'])
      expect(await names({where: "params.opt != 'adam'", sort_by: 'name', order_by: 'asc'})).toEqual(['a', 'd'])
      expect(await names({where: "tags.team LIKE 'spe%'", sort_by: 'name', order_by: 'asc'})).toEqual(['b', 'c', 'd'])
      expect(await names({where: "name not like 'a%'", sort_by: 'name', order_by: 'asc'})).toEqual(['b', 'c', 'd'])
      // and binds tighter than or
      expect(await names({where: "status = 'failed' or status = 'completed' and params.lr = 0.1", sort_by: 'name', order_by: 'asc'})).toEqual(['a', 'c'])
      expect(await names({where: "(status = 'failed' or status = 'completed') and params.lr = 0.1", sort_by: 'name', order_by: 'asc'})).toEqual(['a'])
      expect(await names({where: "not (params.opt = 'sgd')", sort_by: 'name', order_by: 'asc'})).toEqual(['b', 'c'])
      expect(await names({where: 'metrics.loss = null', sort_by: 'name', order_by: 'asc'})).toEqual(['c', 'd'])
      expect(await names({where: "experiment = 'cnn' AND metrics.loss < 0.3"})).toEqual(['b'])
      for (const [bad, column] of [
        ['metrics.accuracy >', 19],
        ['params.lr = 0.1 and', 20],
        ['(status = 1', 12],
        ['bogus = 1', 1],
        ['name ~ 1', 6],
        ["name = 'open", 8],
        ['name = 1 status = 2', 10],
      ] as const) {
        const e = await rejects(b().listRuns(P, {where: bad}), 'invalid_argument')
        expect(e.message, bad).toContain(`column ${column}`)
      }
    })

    it('--where on versions: metadata, metrics, tags and author', async () => {
      const push = (content: string, extra: object) =>
        pushVersion(b(), {project: P, model: 'w', paths: [files(join(work(), `w-${content}`), {'f.bin': content})], author: AUTHOR, ...extra})
      await push('1', {metadata: {data: 'june'}, metrics: {auc: 0.7}})
      await push('2', {metadata: {data: 'july'}, metrics: {auc: 0.9}, tags: ['prod']})
      await push('3', {metadata: {data: 'july'}, metrics: {auc: 0.8}, author: 'other@example.com'})
      const versions = async (where: string) => (await b().listVersions(P, 'w', {where})).items.map((v) => v.version)
      expect(await versions("metadata.data = 'july'")).toEqual([3, 2])
      expect(await versions('metrics.auc > 0.75')).toEqual([3, 2])
      expect(await versions("tags = 'prod'")).toEqual([2])
      expect(await versions("tags != 'prod'")).toEqual([3, 1])
      expect(await versions("tags = 'latest'")).toEqual([3])
      expect(await versions(`author = '${AUTHOR}' and metrics.auc < 0.85`)).toEqual([1])
      expect((await b().listVersions(P, 'w', {where: "metadata.data = 'july'"})).total).toBe(2)
      await rejects(b().listVersions(P, 'w', {where: "tags > 'a'"}), 'invalid_argument')
      await rejects(b().listVersions(P, 'w', {where: 'params.x = 1'}), 'invalid_argument')
    })
  })
}
