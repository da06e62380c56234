/** Every page over plain HTTP, against a seeded server with auth on: content, escaping, 404s, CSP. */
import {request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startTestServer, type TestServer} from '../helpers/server.js'
import {seed, type Seeded, XSS} from './seed.js'

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'"

let srv: TestServer
let data: Seeded
let cookie: string

beforeAll(async () => {
  srv = await startTestServer()
  data = await seed(srv.server.backend)
  const token = await srv.token('read')
  cookie = `modelreg_session=${token}`
})
afterAll(async () => {
  await srv?.close()
})

async function get(path: string, headers: Record<string, string> = {}) {
  const r = await request(`${srv.url}${path}`, {headers: {cookie, ...headers}})
  const text = await r.body.text()
  return {status: r.statusCode, headers: r.headers, text}
}

/** Every inline <script> or style= / <style> would break the CSP. */
function expectNoInline(text: string) {
  expect(text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
  expect(text).not.toMatch(/<style\b/)
  expect(text).not.toMatch(/\sstyle=/)
  expect(text).not.toMatch(/\son[a-z]+=/)
}

function pages(d: Seeded): [string, string[]][] {
  return [
    ['/', ['vision', 'Image models', 'id="mr-projects"']],
    ['/projects/vision', ['resnet', 'A classifier', 'env=prod', 'id="mr-models"']],
    ['/projects/vision?name=res&sort=last_updated_time&order=desc', ['resnet']],
    ['/projects/vision/models/resnet', ['A classifier', 'resnet50', 'id="mr-versions"', 'staging', 'prod', 'class="mr-version-chart"', 'data-metric="auc"', 'id="mr-model-log"', 'first', 'second']],
    ['/projects/vision/models/resnet?metric=f1', ['data-metric="f1"', '0.72']],
    ['/projects/vision/models/resnet/versions/2', ['model2.bin', 'notes.md', 'c0ffee1234', 'main', 'https://ci.example/run/42', 'id="mr-lineage"', `/runs/${d.runA}`, 's3://data/train.parquet', 'download=']],
    ['/projects/vision/models/resnet/versions/prod?diff=1', ['id="mr-diff-result"', 'model.bin', 'model2.bin', 'auc']],
    ['/projects/vision/models/resnet/versions/latest', ['from checkpoint', `#checkpoint-${d.checkpoint}`]],
    ['/projects/vision/experiments', ['sweep', 'id="mr-experiments"']],
    ['/projects/vision/experiments/sweep', ['run-a', 'run-b', 'params.lr', 'metrics.loss[train]', 'id="mr-runs"']],
    ['/projects/vision/runs', ['run-a', 'run-b', 'id="mr-compare-form"']],
    [`/runs/${d.runA}`, ['run-a', 'class="mr-chart"', `data-run="${d.runA}"`, 'data-metric="loss"', 'data-splits="train"', 's3://data/train.parquet', `checkpoint-${d.checkpoint}`, 'resnet:2']],
    [`/projects/vision/compare?run=${d.runA}&run=${d.runB}`, ['class="mr-compare"', `data-runs="${d.runA},${d.runB}"`, 'id="mr-compare-params"', 'opt']],
    ['/events', ['version.created', 'tag.set', 'id="mr-events"']],
    ['/events?project=vision', ['version.created']],
  ]
}

describe('pages', () => {
  it('every page answers 200 with its content, the CSP, and no inline script or style', async () => {
    for (const [path, needles] of pages(data)) {
      const r = await get(path)
      expect(r.status, path).toBe(200)
      expect(r.headers['content-type'], path).toBe('text/html; charset=utf-8')
      expect(r.headers['content-security-policy'], path).toMatch(new RegExp(`^${CSP.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(; frame-ancestors 'none')?$`))
      expect(r.headers['x-content-type-options']).toBe('nosniff')
      for (const needle of needles) expect(r.text, `${path} should contain ${needle}`).toContain(needle)
      expect(r.text).toContain('<link rel="stylesheet" href="/assets/base.css?v=')
      expectNoInline(r.text)
    }
  })
})
