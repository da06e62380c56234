/** Every page over plain HTTP, against a seeded server with auth on: content, escaping, 404s, CSP. */
import {request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startTestServer, type TestServer} from '../helpers/server.js'
import {seed, type Seeded} from './seed.js'

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
      if (process.env.UI_DUMP) (await import('node:fs')).writeFileSync(`${process.env.UI_DUMP}/${path.replace(/[^a-z0-9]+/gi, '_')}.html`, r.text)
    }
  })
})

describe('escaping', () => {
  it('a model described as <script> renders as text, on every page that shows it', async () => {
    const {XSS} = await import('./seed.js')
    for (const path of ['/projects/vision', '/projects/vision/models/evil', '/projects/vision?description=%3Cscript']) {
      const r = await get(path)
      expect(r.status, path).toBe(200)
      expect(r.text, path).not.toContain(XSS)
      expect(r.text, path).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;')
      expectNoInline(r.text)
    }
  })

  it('query values echoed into forms are escaped', async () => {
    const r = await get(`/projects/vision/runs?where=${encodeURIComponent('name = "x"><script>alert(1)</script>')}`)
    expect(r.text).not.toContain('<script>alert(1)')
    expect(r.text).toContain('&quot;&gt;&lt;script&gt;')
  })
})

describe('missing things and errors', () => {
  it('answers 404 pages for missing projects, models, versions, runs, experiments and paths', async () => {
    for (const path of [
      '/projects/nope',
      '/projects/vision/models/nope',
      '/projects/vision/models/resnet/versions/99',
      '/projects/vision/models/resnet/versions/no-such-tag',
      '/projects/vision/experiments/nope',
      '/runs/ffffffffffff',
      '/no/such/page',
      '/projects/%E0%A4%A',
    ]) {
      const r = await get(path)
      expect(r.status, path).toBe(404)
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(r.headers['content-security-policy']).toMatch(/^default-src 'none'; script-src 'self'/)
      expect(r.text).toContain('id="mr-error"')
      expect(r.text).toContain('data-page="not-found"')
    }
  })

  it('unknown API paths stay JSON errors', async () => {
    const r = await get('/api/v1/nope')
    expect(r.status).toBe(404)
    expect(JSON.parse(r.text).error.code).toBe('not_found')
  })

  it('pages are read-only: POST is 405', async () => {
    const r = await request(`${srv.url}/projects/vision`, {method: 'POST', headers: {cookie}, body: ''})
    expect(r.statusCode).toBe(405)
    expect(r.headers.allow).toBe('GET, HEAD')
    await r.body.text()
  })

  it('a bad --where shows the CLI message with its column and a caret, and keeps the form', async () => {
    const r = await get(`/projects/vision/runs?where=${encodeURIComponent('params.lr < and x')}`)
    expect(r.status).toBe(200) // a page that explains the filter, not a failed load
    expect(r.text).toContain('id="mr-where-error"')
    expect(r.text).toMatch(/invalid filter at column 13: /)
    expect(r.text).toContain('params.lr &lt; and x\n            ^')
    expect(r.text).toContain('id="mr-where"')
  })

  it('a good --where filters the runs, sorting and picked columns apply', async () => {
    const r = await get(`/projects/vision/runs?where=${encodeURIComponent('params.lr < 0.005')}&sort=params.lr&order=asc&picked=1&col=params.lr`)
    expect(r.status).toBe(200)
    expect(r.text).toContain('run-b')
    expect(r.text).not.toContain('>run-a<')
    expect(r.text).toContain('aria-sort="ascending"')
    expect(r.text).toContain('<th scope="col" class="mr-num mr-col" aria-sort="ascending"><a href="/projects/vision/runs?where=params.lr+%3C+0.005&amp;sort=params.lr')
    expect(r.text).not.toContain('<th scope="col" class="mr-num mr-col"><a href="/projects/vision/runs?where=params.lr+%3C+0.005&amp;sort=params.opt')
  })

  it('compare hides unchanged params on request', async () => {
    const all = await get(`/projects/vision/compare?run=${data.runA}&run=${data.runB}`)
    expect(all.text).toContain('<code>opt</code>')
    const changed = await get(`/projects/vision/compare?run=${data.runA}&run=${data.runB}&changed=1`)
    expect(changed.text).toContain('<code>lr</code>')
    expect(changed.text).not.toContain('<code>opt</code>')
  })

  it('pages the runs table through the backend (limit and offset)', async () => {
    const first = await get('/projects/vision/runs?limit=1')
    expect(first.text).toContain('1–1 of 2')
    expect(first.text).toContain('rel="next"')
    const second = await get('/projects/vision/runs?limit=1&offset=1')
    expect(second.text).toContain('2–2 of 2')
    expect(second.text).toContain('rel="prev"')
  })
})

describe('assets', () => {
  it('serves base.css with its content type, an ETag, and immutable caching only for the hashed link', async () => {
    const page = await get('/')
    const href = /href="(\/assets\/base\.css\?v=[0-9a-f]+)"/.exec(page.text)?.[1] as string
    const r = await get(href)
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('text/css; charset=utf-8')
    expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(r.text).toContain('prefers-color-scheme: dark')
    const plain = await get('/assets/base.css')
    expect(plain.headers['cache-control']).toBe('no-cache')
    const again = await request(`${srv.url}/assets/base.css`, {headers: {'if-none-match': String(r.headers.etag)}})
    expect(again.statusCode).toBe(304)
    await again.body.text()
  })

  it('refuses traversal and unknown names with 404, and needs no sign-in', async () => {
    for (const path of ['/assets/../package.json', '/assets/%2e%2e/package.json', '/assets/..%2fpackage.json', '/assets/sub/app.js', '/assets/.hidden.js', '/assets/nope.js', '/assets/app.exe']) {
      const r = await request(`${srv.url}${path}`)
      expect(r.statusCode, path).toBe(404)
      await r.body.text()
    }
  })
})
