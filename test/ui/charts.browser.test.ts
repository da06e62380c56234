/**
 * The chart bundle in real Chromium (Debian's, driven by playwright-core), against a real
 * seeded server with auth on. The page (ui-src/demo.html) and the bundle are served from the
 * same origin as the API by a small proxy that adds the test's token to API requests (the
 * session cookie is the UI server's business, not this suite's), under the UI's exact CSP.
 * Screenshots go to test-output/ui/.
 */
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync} from 'node:fs'
import {createServer, request, type Server} from 'node:http'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Browser, BrowserContext, Page} from 'playwright-core'
import type {MetricPointInput} from '../../src/backends/backend.js'
import {run as exec} from '../../src/backends/sql/task.js'
import {pushVersion} from '../../src/registry/push.js'
import {fromArray, files} from '../contract/helpers.js'
import {startTestServer, type TestServer} from '../helpers/server.js'
import {tempDir} from '../helpers/tmp.js'

const CHROMIUM = '/usr/bin/chromium'
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'"
const ROOT = join(import.meta.dirname, '..', '..')
const SHOTS = join(ROOT, 'test-output', 'ui')
const BIG = 1_000_000

// What the functions handed to page.evaluate see in the page (this project compiles without the DOM's types).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any
declare function getComputedStyle(element: unknown): {backgroundColor: string}

if (!existsSync(CHROMIUM)) {
  const reason = `the browser tests need ${CHROMIUM} (apt-get install -y chromium)`
  if (process.env.CI) {
    describe('charts in Chromium', () => {
      it('has Chromium', () => {
        throw new Error(`${reason}: CI must install it (.ci/run)`)
      })
    })
  } else {
    process.stderr.write(`not run: test/ui/charts.browser.test.ts (${reason})\n`)
  }
} else {
  describe('charts in Chromium', () => {
    let srv: TestServer
    let proxy: Server
    let base: string
    let browser: Browser
    let context: BrowserContext
    const ids = {RUN: '', OTHER: '', BIG: '', MODEL: 'iris'}

    beforeAll(async () => {
      const assets = tempDir('ui-assets-')
      execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-ui.mjs'), `--out=${assets}`], {stdio: 'pipe'})
      srv = await startTestServer()
      const token = await srv.token('read')
      await seed(srv, ids)
      proxy = serve(srv.url, token, assets, ids)
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
      base = `http://127.0.0.1:${(proxy.address() as {port: number}).port}`
      const {chromium} = await import('playwright-core')
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      })
      context = await browser.newContext({viewport: {width: 1280, height: 800}})
      mkdirSync(SHOTS, {recursive: true})
    })

    afterAll(async () => {
      await browser?.close()
      await new Promise((resolve) => proxy?.close(resolve))
      await srv?.close()
    })

    /** A page with the demo's charts, recording console errors, CSP violations and every downsampled answer. */
    async function open(p?: Page): Promise<{page: Page; problems: string[]; answers: {url: URL; points: number; count: number}[]; settled: () => Promise<unknown>}> {
      const page = p ?? (await context.newPage())
      const problems: string[] = []
      const answers: {url: URL; points: number; count: number}[] = []
      page.on('console', (m) => {
        if (m.type() === 'error' || /Content.Security.Policy/i.test(m.text())) problems.push(`console: ${m.text()}`)
      })
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
      const reading: Promise<void>[] = []
      page.on('response', (r) => {
        const url = new URL(r.url())
        if (!url.pathname.endsWith('/downsampled')) return
        reading.push(
          r.json().then((body: {series: {step: number[]; count: number}[]}) => {
            answers.push({url, points: body.series.reduce((n, s) => n + s.step.length, 0), count: body.series.reduce((n, s) => n + s.count, 0)})
          }),
        )
      })
      // The answers the page has had so far, read.
      const settled = () => Promise.all(reading).then(() => answers)
      await page.addInitScript("document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))")
      await page.goto(`${base}/`)
      await page.waitForFunction(() => [...document.querySelectorAll('.mr-chart, .mr-compare, .mr-version-chart')].every((e) => Number(e.dataset.loads ?? 0) >= 1), null, {timeout: 30_000})
      await settled()
      return {page, problems, answers, settled}
    }

    /** Non-blank pixels of the chart's canvas (uPlot draws the lines there). */
    const inked = (page: Page, id: string) =>
      page.evaluate((id) => {
        const canvas = document.querySelector(`#${id} canvas`)
        if (!canvas) return -1
        const data: Uint8ClampedArray = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data
        let n = 0
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++
        return n
      }, id)

    it('draws every chart under the strict CSP, with no console errors', async () => {
      const {page, problems} = await open()
      const csp = await page.evaluate(() => fetch('/').then((r) => r.headers.get('content-security-policy')))
      expect(csp).toBe(CSP)
      for (const id of ['run-loss', 'big', 'compare', 'versions']) {
        expect(await inked(page, id), id).toBeGreaterThan(500)
        expect(await page.textContent(`#${id} .mr-chart-status`), id).toBe('')
      }
      // Legends name the splits and the runs.
      expect(await page.locator('#run-loss .u-legend').textContent()).toMatch(/train.*valid/)
      expect(await page.locator('#compare .u-legend').textContent()).toContain(ids.OTHER)
      await page.screenshot({path: join(SHOTS, 'charts.png'), fullPage: true})
      expect(problems).toEqual([])
      await page.close()
    })

    it('sends a 1M-point series to the browser as a few thousand points', async () => {
      const {page, problems, answers} = await open()
      const big = answers.filter((a) => a.url.pathname.includes(ids.BIG))
      expect(big.length).toBe(1)
      expect(big[0].count).toBe(BIG)
      expect(big[0].points).toBeGreaterThan(100)
      expect(big[0].points).toBeLessThanOrEqual(4000)
      expect(problems).toEqual([])
      await page.close()
    })

    it('zooms by dragging: fetches the range again, then resets', async () => {
      const {page, problems, answers, settled} = await open()
      const over = page.locator('#big .u-over')
      const box = await over.boundingBox()
      if (!box) throw new Error('no plot area')
      const before = answers.length
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2)
      await page.mouse.down()
      await page.mouse.move(box.x + box.width * 0.62, box.y + box.height / 2, {steps: 5})
      await page.mouse.up()
      await page.waitForFunction(() => Number(document.querySelector('#big').dataset.loads) >= 2)
      await settled()
      const zoomed = answers.slice(before).find((a) => a.url.pathname.includes(ids.BIG))
      if (!zoomed) throw new Error('no downsampled request after the drag')
      const from = Number(zoomed.url.searchParams.get('from'))
      const to = Number(zoomed.url.searchParams.get('to'))
      expect(from).toBeGreaterThan(BIG * 0.55)
      expect(to).toBeLessThan(BIG * 0.67)
      expect(zoomed.count).toBe(to - from + 1)
      expect(zoomed.points).toBeLessThanOrEqual(4000)
      expect(await inked(page, 'big')).toBeGreaterThan(500)
      await page.locator('#big').screenshot({path: join(SHOTS, 'chart-zoomed.png')})
      await page.locator('#big button', {hasText: 'reset zoom'}).click()
      await page.waitForFunction(() => Number(document.querySelector('#big').dataset.loads) >= 3)
      await settled()
      expect(answers.at(-1)?.url.searchParams.has('from')).toBe(false)
      expect(problems).toEqual([])
      await page.close()
    })

    it('switches to a log scale and to time on x', async () => {
      const {page, problems, answers, settled} = await open()
      await page.locator('#run-loss button', {hasText: 'log scale'}).click()
      expect(await page.locator('#run-loss button', {hasText: 'log scale'}).getAttribute('aria-pressed')).toBe('true')
      expect(await inked(page, 'run-loss')).toBeGreaterThan(500)
      await page.locator('#run-loss button', {hasText: 'x: step'}).click()
      await page.waitForFunction(() => Number(document.querySelector('#run-loss').dataset.loads) >= 2)
      await settled()
      expect(answers.at(-1)?.url.searchParams.get('x')).toBe('time')
      expect(await inked(page, 'run-loss')).toBeGreaterThan(500)
      await page.locator('#run-loss').screenshot({path: join(SHOTS, 'chart-log-time.png')})
      expect(problems).toEqual([])
      await page.close()
    })

    it('follows the events stream live', async () => {
      const {page, problems} = await open()
      await page.waitForFunction(() => document.querySelector('#events').dataset.live === 'true')
      await srv.server.backend.createModel('default', 'live-model', {description: '<script>alert(1)</script>'})
      await page.waitForFunction(() => document.querySelector('#events').textContent.includes('live-model'), null, {timeout: 15_000})
      expect(await page.locator('#events li').first().textContent()).toContain('model.created')
      expect(problems).toEqual([])
      await page.close()
    })

    it('is readable in dark mode and at a phone width', async () => {
      const dark = await browser.newContext({viewport: {width: 390, height: 844}, colorScheme: 'dark'})
      const {page, problems} = await open(await dark.newPage())
      expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(13, 17, 23)')
      expect(await inked(page, 'run-loss')).toBeGreaterThan(500)
      const width = await page.evaluate(() => document.querySelector('#run-loss canvas').getBoundingClientRect().width as number)
      expect(width).toBeLessThanOrEqual(390)
      await page.screenshot({path: join(SHOTS, 'charts-dark-phone.png'), fullPage: true})
      expect(problems).toEqual([])
      await dark.close()
    })
  })
}

/** Two runs with train/valid loss, one with a 1M-point series, a model with three versions. */
async function seed(srv: TestServer, ids: {RUN: string; OTHER: string; BIG: string; MODEL: string}): Promise<void> {
  const backend = srv.server.backend
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  for (const key of ['RUN', 'OTHER'] as const) {
    const run = await backend.createRun('default', {experiment: 'charts', name: key.toLowerCase(), author: 'ui@example.com'})
    ids[key] = run.id
    const scale = key === 'RUN' ? 1 : 1.3
    const points: MetricPointInput[] = []
    for (let i = 0; i < 3000; i++) {
      const time = new Date(t0 + i * 1000 + (i > 1500 ? 600_000 : 0)).toISOString()
      points.push({name: 'loss', split: 'train', step: i, value: (scale * 2) / (1 + i / 100) + 0.05 * Math.sin(i), time})
      if (i % 50 === 0) points.push({name: 'loss', split: 'valid', step: i, value: (scale * 2.2) / (1 + i / 120), time})
    }
    await backend.logMetrics(run.id, fromArray([points]))
  }
  const big = await backend.createRun('default', {experiment: 'charts', name: 'big', author: 'ui@example.com'})
  ids.BIG = big.id
  // A million points, written straight into the store: logging them is not what these tests test.
  await backend.driver.write('seeding a long series', function* () {
    yield* exec(
      `INSERT INTO metrics (run_id, name, split, step, value, time)
       WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < ${BIG - 1})
       SELECT (SELECT id FROM runs WHERE uid = ?), 'loss', '', i, 1.0 / (1 + i / 10000.0) + ((i * 7919) % 1000) / 20000.0, ? FROM g`,
      big.id,
      '2026-01-01T00:00:00.000Z',
    )
    yield* exec(`INSERT INTO metric_series (run_id, name, split, last_step, last_value) SELECT id, 'loss', '', ${BIG - 1}, 0.01 FROM runs WHERE uid = ?`, big.id)
  })
  const work = tempDir('ui-seed-')
  for (const [i, auc] of [0.71, 0.78, 0.83].entries()) {
    await pushVersion(backend, {project: 'default', model: ids.MODEL, paths: [files(join(work, `v${i}`), {'model.bin': `weights ${i}`})], author: 'ui@example.com', metrics: {auc}})
  }
}

/**
 * The demo page and the bundle from this origin, under the UI's CSP; /api/ proxied to the
 * server with the test's token (streamed both ways, so the events stream stays live).
 */
function serve(api: string, token: string, assets: string, ids: Record<string, string>): Server {
  const target = new URL(api)
  const fill = (text: string, ids: Record<string, string>) => text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => escapeHtml(ids[k] ?? ''))
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname.startsWith('/api/')) {
      const upstream = request(
        {host: target.hostname, port: target.port, method: req.method, path: req.url, headers: {...req.headers, host: target.host, authorization: `Bearer ${token}`}},
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          res.flushHeaders()
          answer.pipe(res)
        },
      )
      upstream.on('error', () => res.destroy())
      req.pipe(upstream)
      res.on('close', () => upstream.destroy())
      return
    }
    const asset = /^\/assets\/(app\.js|app\.css|demo\.css)$/.exec(url.pathname)
    if (asset) {
      const file = asset[1] === 'demo.css' ? join(ROOT, 'ui-src', 'demo.css') : join(assets, asset[1])
      res.writeHead(200, {'content-type': asset[1].endsWith('.js') ? 'text/javascript' : 'text/css', 'content-security-policy': CSP})
      res.end(readFileSync(file))
      return
    }
    if (url.pathname === '/') {
      res.writeHead(200, {'content-type': 'text/html; charset=utf-8', 'content-security-policy': CSP})
      res.end(fill(readFileSync(join(ROOT, 'ui-src', 'demo.html'), 'utf8'), ids))
      return
    }
    res.writeHead(404).end()
  })
  return server
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
