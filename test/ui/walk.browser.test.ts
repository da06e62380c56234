/**
 * A walk through the real pages in real Chromium (Debian's, driven by playwright-core), against
 * a real seeded server with auth on: refused without a token, signed in through the form, every
 * page opened, runs filtered and compared, a chart drawn, lineage followed, a file downloaded and
 * checked. On every page: no console errors, no CSP violations, no failed requests.
 *
 * Screenshots: docs/web-ui.md's (1280x800, full page) go to test-output/ui/, and to docs/screenshots/
 * with MODELREG_UPDATE_SCREENSHOTS=1 (so a test run leaves the tree as it was); phone-width dark
 * ones to test-output/ui/ (not committed).
 */
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Browser, BrowserContext, Page} from 'playwright-core'
import type {Backend, MetricPointInput} from '../../src/backends/backend.js'
import {pushCheckpoint, pushVersion} from '../../src/registry/push.js'
import {palettize} from '../helpers/png.js'
import {startTestServer, type TestServer} from '../helpers/server.js'
import {tempDir} from '../helpers/tmp.js'

const CHROMIUM = '/usr/bin/chromium'
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const ROOT = join(import.meta.dirname, '..', '..')
const SHOTS = join(ROOT, 'test-output', 'ui')
const DOCS = process.env.MODELREG_UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'screenshots') : SHOTS
const MAX_SHOT = 200 * 1024
/** resnet's version registered from the best run's checkpoint (four pushed before it). */
const VERSION = 5
const RUNS_VIEW = 'sort=metrics.accuracy[val]&col=params.lr&col=params.weight_decay&col=metrics.accuracy[val]&col=metrics.loss[train]&col=metrics.loss[val]'

// What the functions handed to page.evaluate see in the page (this project compiles without the DOM's types).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any

interface Seeded {
  runs: string[]
  /** The run version VERSION was registered from (through its checkpoint). */
  best: string
  checkpoint: string
  weights: {path: string; sha256: string}
}

if (!existsSync(CHROMIUM)) {
  const reason = `the browser tests need ${CHROMIUM} (apt-get install -y chromium)`
  if (process.env.CI) {
    describe('a walk through the pages in Chromium', () => {
      it('has Chromium', () => {
        throw new Error(`${reason}: CI must install it (.ci/run)`)
      })
    })
  } else {
    process.stderr.write(`not run: test/ui/walk.browser.test.ts (${reason})\n`)
  }
} else {
  describe('a walk through the pages in Chromium', () => {
    let srv: TestServer
    let browser: Browser
    let context: BrowserContext
    let data: Seeded
    let token: string
    /** Everything wrong seen on any page of the walk: console errors, CSP violations, failed requests. */
    const problems: string[] = []
    /** Requests a test makes to see them fail (by URL): their failure is not a problem. */
    const deliberate = new Set<string>()

    /** Reports console errors, page errors, CSP violations and failed requests of every page of a context. */
    async function watch(ctx: BrowserContext): Promise<void> {
      await ctx.addInitScript("document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))")
      ctx.on('page', (page) => {
        page.on('console', (m) => {
          if (deliberate.has(m.location().url) && /^Failed to load resource/.test(m.text())) return
          if (m.type() === 'error' || /Content.Security.Policy/i.test(m.text())) problems.push(`${page.url()}: console: ${m.text()}`)
        })
        page.on('pageerror', (e) => problems.push(`${page.url()}: page error: ${e.message}`))
        page.on('response', (r) => {
          if (r.status() >= 400 && !deliberate.has(r.url())) problems.push(`${page.url()}: ${r.request().method()} ${r.url()} answered ${r.status()}`)
        })
        page.on('requestfailed', (r) => {
          // The events page's live stream is cut when the page is left: that one is meant.
          if (r.failure()?.errorText === 'net::ERR_ABORTED' && new URL(r.url()).pathname === '/api/v1/events/stream') return
          problems.push(`${page.url()}: ${r.method()} ${r.url()} failed: ${r.failure()?.errorText}`)
        })
      })
    }

    beforeAll(async () => {
      srv = await startTestServer()
      token = await srv.token('read', null, 'walker')
      data = await seed(srv.server.backend)
      const {chromium} = await import('playwright-core')
      browser = await chromium.launch({executablePath: CHROMIUM, args: CHROMIUM_ARGS})
      context = await browser.newContext({viewport: {width: 1280, height: 800}, acceptDownloads: true})
      await watch(context)
      mkdirSync(DOCS, {recursive: true})
      mkdirSync(SHOTS, {recursive: true})
    })

    afterAll(async () => {
      await browser?.close()
      await srv?.close()
    })

    /** The walk's pages share one signed-in context: open one, wait for its charts, check it. */
    async function visit(path: string, check: (page: Page) => Promise<void> = async () => {}): Promise<Page> {
      const page = await context.newPage()
      const before = problems.length
      const answer = await page.goto(`${srv.url}${path}`)
      expect(answer?.status(), path).toBe(200)
      await charted(page)
      await check(page)
      expect(problems.slice(before), path).toEqual([])
      return page
    }

    /** Every chart of the page has loaded once (the bundle counts its loads on the host). */
    const charted = (page: Page) =>
      page.waitForFunction(() => [...document.querySelectorAll('.mr-chart, .mr-compare, .mr-version-chart')].every((e: any) => Number(e.dataset.loads ?? 0) >= 1), null, {timeout: 30_000})

    /** Non-blank pixels of a chart canvas. */
    const inked = (page: Page, selector: string) =>
      page.evaluate((selector) => {
        const canvas = document.querySelector(`${selector} canvas`)
        if (!canvas) return -1
        const pixels: Uint8ClampedArray = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data
        let n = 0
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) n++
        return n
      }, selector)

    async function shot(page: Page, name: string): Promise<void> {
      const file = join(DOCS, `${name}.png`)
      await page.screenshot({path: file, fullPage: true})
      palettize(file)
      expect(statSync(file).size, file).toBeLessThan(MAX_SHOT)
    }

    it('refuses every page without a token: the login form, and no registry data', async () => {
      const fresh = await browser.newContext()
      await watch(fresh)
      const page = await fresh.newPage()
      const before = problems.length
      for (const path of ['/', '/projects/vision/models/resnet', `/runs/${data.runs[0]}`]) {
        const answer = await page.goto(`${srv.url}${path}`)
        expect(answer?.status(), path).toBe(200)
        expect(await page.locator('#mr-login-form').count(), path).toBe(1)
        expect(await page.content(), path).not.toContain('resnet-50 on')
      }
      // The API itself still says 401 without a token (fetched from the page: same origin, no cookie).
      deliberate.add(`${srv.url}/api/v1/projects`)
      expect(await page.evaluate(() => fetch('/api/v1/projects').then((r) => r.status))).toBe(401)
      expect(problems.slice(before)).toEqual([])
      await fresh.close()
    })

    it('signs in with a token through the form: an HttpOnly, SameSite=Strict cookie, then the page asked for', async () => {
      const page = await context.newPage()
      const before = problems.length
      await page.goto(`${srv.url}/projects/vision`)
      await page.fill('#mr-token', 'mr_not-a-real-token-at-all-000000000000000000000')
      await Promise.all([page.waitForURL(/\/login$/), page.click('#mr-login-form button[type=submit]')])
      expect(await page.locator('#mr-login-error').textContent()).toMatch(/not valid/)
      expect(await context.cookies()).toEqual([])
      await page.fill('#mr-token', token)
      await Promise.all([page.waitForURL(`${srv.url}/projects/vision`), page.click('#mr-login-form button[type=submit]')])
      const cookies = await context.cookies()
      expect(cookies).toHaveLength(1)
      expect(cookies[0]).toMatchObject({name: 'modelreg_session', httpOnly: true, sameSite: 'Strict', secure: false, path: '/'})
      expect(page.url()).not.toContain(token)
      // Scripts cannot read it.
      expect(await page.evaluate(() => document.cookie)).toBe('')
      expect(await page.locator('main h1').textContent()).toContain('vision')
      expect(await page.locator('#mr-logout').count()).toBe(1)
      expect(problems.slice(before)).toEqual([])
      await page.close()
    })

    it('Tab reaches the skip link first, and it moves focus to the content', async () => {
      const page = await visit('/projects/vision/models/resnet')
      await page.keyboard.press('Tab')
      expect(await page.evaluate(() => document.activeElement?.className)).toBe('mr-skip')
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content')
      await page.keyboard.press('Enter')
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('main')
      await page.close()
    })

    it('walks the projects, models (with a search), a model and a version', async () => {
      let page = await visit('/', async (p) => {
        expect(await p.locator('main table a', {hasText: 'vision'}).count()).toBe(1)
      })
      await Promise.all([page.waitForURL(/\/projects\/vision$/), page.click('main table a >> text=vision')])
      await charted(page)
      expect(await page.locator('main tbody tr').count()).toBe(3)
      await page.fill('#mr-model-search input[name=name]', 'res')
      await Promise.all([page.waitForURL(/name=res/), page.press('#mr-model-search input[name=name]', 'Enter')])
      const names = await page.locator('main tbody tr td:first-child').allTextContents()
      expect(names).toEqual(['resnet'])
      await page.close()

      page = await visit('/projects/vision/models/resnet', async (p) => {
        expect(await p.locator('#mr-model-description').textContent()).toContain('resnet-50 on')
        expect(await inked(p, '#mr-version-chart')).toBeGreaterThan(300)
      })
      await shot(page, 'model')
      await Promise.all([page.waitForURL(new RegExp(`/versions/${VERSION}$`)), page.click(`#mr-versions a[href$="/versions/${VERSION}"]`)])
      await page.close()

      page = await visit(`/projects/vision/models/resnet/versions/${VERSION}`, async (p) => {
        expect(await p.locator('#mr-lineage .mr-lineage-datasets').textContent()).toContain('s3://datasets/imagenet-subset')
        expect(await p.locator('main').textContent()).toContain(data.weights.sha256)
      })
      await shot(page, 'version')
      await page.close()
    })

    it('downloads a file from the version page, with the sha256 the page shows', async () => {
      const page = await visit(`/projects/vision/models/resnet/versions/${VERSION}`)
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('tr:has-text("model.safetensors") a.mr-download')])
      expect(download.suggestedFilename()).toBe('model.safetensors')
      const saved = await download.path()
      expect(createHash('sha256').update(readFileSync(saved)).digest('hex')).toBe(data.weights.sha256)
      await page.close()
    })

    it('follows the lineage: datasets -> run -> checkpoint -> version', async () => {
      const page = await visit(`/projects/vision/models/resnet/versions/${VERSION}`)
      await Promise.all([page.waitForURL(new RegExp(`/runs/${data.best}$`)), page.click('#mr-lineage .mr-lineage-run a')])
      await charted(page)
      expect(await page.locator('#mr-run-datasets').textContent()).toContain('s3://datasets/imagenet-subset')
      await page.goBack()
      await Promise.all([page.waitForURL(new RegExp(`/runs/${data.best}#checkpoint-${data.checkpoint}$`)), page.click('#mr-lineage .mr-lineage-checkpoint a')])
      expect(await page.locator(`#checkpoint-${data.checkpoint}`).count()).toBe(1)
      expect(await page.evaluate(() => document.querySelector(':target')?.id)).toBe(`checkpoint-${data.checkpoint}`)
      await Promise.all([page.waitForURL(new RegExp(`/versions/${VERSION}$`)), page.click(`#mr-run-versions a[href$="/versions/${VERSION}"]`)])
      expect(await page.locator('main h1').textContent()).toContain(String(VERSION))
      expect(problems).toEqual([])
      await page.close()
    })

    it('walks experiments and the runs table; --where narrows it, a bad one is explained where it went wrong', async () => {
      let page = await visit('/projects/vision/experiments', async (p) => {
        expect(await p.locator('main table a', {hasText: 'lr-sweep'}).count()).toBe(1)
      })
      await Promise.all([page.waitForURL(/\/experiments\/lr-sweep$/), page.click('main table a >> text=lr-sweep')])
      await charted(page)
      expect(await page.locator('#mr-runs tbody tr').count()).toBe(data.runs.length)
      await page.close()

      // The picture in docs/web-ui.md: columns picked, sorted by a metric.
      page = await visit(`/projects/vision/experiments/lr-sweep?${RUNS_VIEW}`, async (p) => {
        expect(await p.locator('#mr-runs thead th').count()).toBe(5 + 5)
        expect(await p.locator('#mr-runs tbody tr td:nth-child(2)').first().textContent()).toBe(data.best)
      })
      await shot(page, 'runs')
      await page.close()

      page = await visit('/projects/vision/experiments/lr-sweep')
      await page.fill('#mr-where', 'params.lr <= 0.001 and metrics.accuracy[val] > 0.55')
      await Promise.all([page.waitForURL(/where=/), page.press('#mr-where', 'Enter')])
      // lr 0.001 and 0.0003 learn well enough; lower ones do not get there.
      const shown = await page.locator('#mr-runs tbody tr').evaluateAll((rows: any[]) => rows.map((r) => r.id))
      expect(shown.sort()).toEqual([data.runs[4], data.runs[5]].map((id) => `run-${id}`).sort())

      await page.fill('#mr-where', 'params.lr < and x')
      await Promise.all([page.waitForURL(/where=params.lr/), page.press('#mr-where', 'Enter')])
      expect(await page.locator('#mr-where-error strong').textContent()).toMatch(/^invalid filter at column 13: /)
      expect(await page.locator('#mr-where-error pre').textContent()).toBe('params.lr < and x\n            ^')
      expect(await page.getAttribute('#mr-where', 'aria-invalid')).toBe('true')
      expect(await page.inputValue('#mr-where')).toBe('params.lr < and x')
      expect(problems).toEqual([])
      await page.close()
    })

    it('opens a run: every chart canvas is drawn', async () => {
      const page = await visit(`/runs/${data.best}`, async (p) => {
        const charts = await p.locator('.mr-chart').count()
        expect(charts).toBe(2)
        for (const metric of ['accuracy', 'loss']) expect(await inked(p, `#metric-${metric} .mr-chart`), metric).toBeGreaterThan(500)
        // Each chart is titled once (its figure's caption), not twice.
        expect(await p.locator('#metric-loss').getByText('loss', {exact: true}).count()).toBe(1)
        expect(await p.locator('#metric-loss .u-legend').textContent()).toMatch(/train.*val/)
      })
      await shot(page, 'run')
      await page.close()
    })

    it('compares two runs picked with the checkboxes', async () => {
      const page = await visit('/projects/vision/experiments/lr-sweep')
      await page.check(`#run-${data.runs[0]} .mr-compare-pick`)
      await page.check(`#run-${data.runs[1]} .mr-compare-pick`)
      await Promise.all([page.waitForURL(/\/compare\?/), page.click('#mr-compare-button')])
      await charted(page)
      const url = new URL(page.url())
      expect(url.searchParams.getAll('run').sort()).toEqual([data.runs[0], data.runs[1]].sort())
      expect(await page.locator('#mr-compare-params thead th').count()).toBe(3)
      expect(await inked(page, '.mr-compare')).toBeGreaterThan(500)
      expect(await page.locator('.mr-compare .u-legend').first().textContent()).toContain(data.runs[1])
      await page.click('#mr-hide-unchanged')
      expect(await page.locator('#mr-compare-params tbody tr').allTextContents()).toEqual([expect.stringMatching(/^lr/)])
      expect(problems).toEqual([])
      await page.close()
    })

    it('shows the events', async () => {
      const page = await visit('/events?project=vision', async (p) => {
        expect(await p.locator('#mr-events-table tbody tr').count()).toBeGreaterThan(5)
        expect(await p.locator('#mr-events-table').textContent()).toContain('version.created')
      })
      await page.close()
    })

    it('reads on a phone in dark mode', async () => {
      const phone = await browser.newContext({viewport: {width: 390, height: 844}, colorScheme: 'dark', deviceScaleFactor: 1})
      await phone.addCookies(await context.cookies())
      await watch(phone)
      const before = problems.length
      for (const [name, path] of [
        ['model', '/projects/vision/models/resnet'],
        ['version', `/projects/vision/models/resnet/versions/${VERSION}`],
        ['runs', '/projects/vision/experiments/lr-sweep'],
        ['run', `/runs/${data.best}`],
      ]) {
        const page = await phone.newPage()
        await page.goto(`${srv.url}${path}`)
        await charted(page)
        // Nothing wider than the screen but the tables' own scrolling wrappers.
        expect(await page.evaluate(() => document.documentElement.scrollWidth), name).toBeLessThanOrEqual(390)
        await page.screenshot({path: join(SHOTS, `walk-${name}-phone-dark.png`), fullPage: true})
        await page.close()
      }
      expect(problems.slice(before)).toEqual([])
      await phone.close()
    })

    it('saw no console error, CSP violation or failed request on any page', () => {
      writeFileSync(join(SHOTS, 'walk-problems.txt'), problems.join('\n'))
      expect(problems).toEqual([])
    })
  })
}

/**
 * A project as a team would have it: a learning-rate sweep of eight runs with train and val
 * curves, a dataset and a checkpoint on the best run, and a model with three versions, the last
 * registered from that checkpoint.
 */
async function seed(backend: Backend): Promise<Seeded> {
  const dir = tempDir('modelreg-walk-')
  await backend.createProject('vision', {description: 'Image classifiers'})
  await backend.createModel('vision', 'resnet', {
    description: 'resnet-50 on a 100-class ImageNet subset',
    metadata: {arch: 'resnet50', input: '224x224', classes: 100},
    labels: {team: 'vision', task: 'classification'},
  })
  await backend.createModel('vision', 'vit-small', {description: 'A small vision transformer', labels: {team: 'vision'}})
  await backend.createModel('vision', 'mobilenet', {description: 'For phones', labels: {team: 'edge'}})
  const t0 = Date.parse('2026-03-02T09:00:00Z')
  const lrs = [0.1, 0.03, 0.01, 0.003, 0.001, 0.0003, 0.0001, 0.00003]
  const runs: string[] = []
  for (const [i, lr] of lrs.entries()) {
    const run = await backend.createRun('vision', {
      experiment: 'lr-sweep',
      name: `lr-${lr}`,
      params: {lr, batch_size: 256, optimizer: 'adamw', epochs: 30, weight_decay: 0.05},
      author: 'ana@example.com',
    })
    runs.push(run.id)
    // Best near lr=0.001; too high diverges a little, too low learns slowly.
    const quality = 1 / (1 + Math.abs(Math.log10(lr) + 3) * 0.6)
    const points: MetricPointInput[] = []
    for (let step = 0; step < 600; step++) {
      const time = new Date(t0 + i * 3_600_000 + step * 5000).toISOString()
      const progress = 1 - Math.exp(-step / (60 + 200 * (1 - quality)))
      const noise = 0.04 * Math.sin(step * 1.7 + i) * Math.exp(-step / 400)
      points.push({name: 'loss', split: 'train', step, value: 2.5 - 2.2 * quality * progress + noise, time})
      if (step % 20 === 0) {
        points.push({name: 'loss', split: 'val', step, value: 2.6 - 2.0 * quality * progress + noise / 2, time})
        points.push({name: 'accuracy', split: 'val', step, value: 0.01 + 0.8 * quality * progress, time})
      }
    }
    await backend.logMetrics(runs[i], (async function* () {
      yield points
    })())
    await backend.updateRun(runs[i], {status: i === 7 ? 'failed' : 'completed'})
  }
  const best = runs[4]
  await backend.setDataset(best, {tag: 'train', uri: 's3://datasets/imagenet-subset/train', sha256: createHash('sha256').update('train').digest('hex'), size: 12_400_000_000})
  await backend.setDataset(best, {tag: 'val', uri: 's3://datasets/imagenet-subset/val', sha256: createHash('sha256').update('val').digest('hex'), size: 510_000_000})

  const write = (name: string, text: string) => {
    const file = join(dir, name)
    writeFileSync(file, text)
    return file
  }
  for (const [n, auc] of [0.79, 0.82, 0.84, 0.88].entries()) {
    const version = join(dir, `v${n + 1}`)
    mkdirSync(version)
    writeFileSync(join(version, 'model.safetensors'), `weights ${n}\n`.repeat(1000))
    writeFileSync(join(version, 'config.json'), JSON.stringify({arch: 'resnet50', classes: 100}))
    await pushVersion(backend, {
      project: 'vision',
      model: 'resnet',
      paths: [join(version, 'model.safetensors'), join(version, 'config.json')],
      author: 'ana@example.com',
      comment: ['baseline', 'more augmentation', 'label smoothing', 'longer schedule'][n],
      metrics: {auc, top1: auc - 0.1},
      tags: n === 3 ? ['staging'] : [],
      run_id: runs[n % 4],
    })
  }
  const weights = write('model.safetensors', 'the best weights\n'.repeat(4096))
  const ckpt = await pushCheckpoint(backend, best, [weights, write('config.json', JSON.stringify({arch: 'resnet50', classes: 100}))], {step: 599, metrics: {auc: 0.91, top1: 0.81}})
  await backend.registerCheckpoint('vision', 'resnet', ckpt.uuid, {
    author: 'ana@example.com',
    comment: 'best of the lr sweep',
    tags: ['prod'],
    metadata: {framework: 'pytorch 2.6', precision: 'bf16'},
    source: {host: 'gpu-07', git: {commit: '9f2c1e4b7a0d3c5e8f1a2b4c6d8e0f1a3b5c7d9e', branch: 'main', dirty: false, remote: null}, ci: {provider: 'github', job: 'train', run_id: '4211', url: 'https://ci.example/runs/4211'}},
  })
  return {runs, best, checkpoint: ckpt.uuid, weights: {path: weights, sha256: createHash('sha256').update(readFileSync(weights)).digest('hex')}}
}
