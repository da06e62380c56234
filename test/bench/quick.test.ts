/**
 * `npm run bench -- --quick` as a smoke test: every case runs and reports a figure, a baseline
 * and a ratio. Speed is not asserted (machines differ and are noisy); `npm run bench` measures.
 */
import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {tempDir} from '../helpers/tmp.js'

const ROOT = join(import.meta.dirname, '..', '..')

describe('npm run bench -- --quick', () => {
  it('runs every case and reports each as data', {timeout: 600_000}, async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bench', 'run.js'), '--quick', '--json'], {
      cwd: ROOT,
      env: {...process.env, BENCH_TMPDIR: tempDir('modelreg-bench-test-')},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (c) => (out += c))
    child.stderr.on('data', (c) => (err += c))
    const [code] = await once(child, 'close')
    expect(code, err).toBe(0)
    const report = JSON.parse(out) as {quick: boolean; machine: {cores: number; node: string}; results: {case: string; modelreg: number; baseline: number; ratio: number; goal: string; ok: boolean | null}[]}
    expect(report.quick).toBe(true)
    expect(report.machine.node).toBe(process.version)
    const cases = report.results.map((r) => r.case.replace(/\d[\d,.]* ?(MiB|GiB|points)/g, 'N'))
    expect(cases).toEqual([
      'start-up: modelreg --version',
      'start-up: models show m:latest --json',
      'local push, N file',
      'local download, N',
      're-push of an unchanged N directory',
      'remote push, N',
      'remote download, N',
      'metric ingest, N, local',
      'metric ingest, N, remote',
      'at scale: models:log NAME',
      'at scale: model list-versions NAME --limit 20',
      'at scale: models --sort-by last_updated_time --limit 20',
      'at scale: models:show NAME:TAG',
      'at scale, server: GET /projects/{p}/log?model=',
      'at scale, server: GET /projects/{p}/models/{m}/versions?limit=20',
      'at scale, server: GET /projects/{p}/models?sort_by=last_updated_time&limit=20',
      'at scale, server: GET /projects/{p}/models/{m}/versions/prod',
      'server reads: GET a version, 32 connections',
      'memory: client, N push and download (local, remote)',
      'memory: server, N up and down',
    ])
    for (const r of report.results) {
      expect(Number.isFinite(r.modelreg) && r.modelreg > 0, r.case).toBe(true)
      expect(Number.isFinite(r.baseline) && r.baseline > 0, r.case).toBe(true)
      expect(r.ratio, r.case).toBeCloseTo(r.modelreg / r.baseline, 6)
      expect(typeof r.ok === 'boolean', r.case).toBe(true)
    }
    // The re-push stored no new bytes.
    expect(report.results.find((r) => r.case.startsWith('re-push'))).toMatchObject({new_bytes_stored: 0})
  })
})
