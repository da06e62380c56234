/**
 * The web UI's one script: it finds the elements the server-rendered pages leave for it and
 * draws them with uPlot. Every read is a same-origin API call (the session cookie rides along);
 * no markup is built from strings, so nothing a user typed can become HTML, and no style
 * attribute is written (the CSP allows neither): uPlot sets styles through the CSSOM.
 *
 *   <div class="mr-chart" data-run="ID" data-metric="loss" data-splits="train,valid">
 *   <div class="mr-version-chart" data-project="P" data-model="M" data-metric="auc">
 *   <div class="mr-compare" data-runs="ID1,ID2" data-metric="loss">
 *   <ol class="mr-events-live" data-project="P">
 */
import uPlot, {type AlignedData, type Options, type Series} from 'uplot'

const API = '/api/v1'

interface DownsampledSeries {
  split: string
  count: number
  exact: boolean
  step: number[]
  time: number[]
  value: number[]
}

interface Downsample {
  series: DownsampledSeries[]
}

type XAxis = 'step' | 'time'

/** One line of a chart: its label, and its points as x (step or seconds) and y. */
interface Line {
  label: string
  x: number[]
  y: number[]
}

class ApiError extends Error {}

async function api<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(`${API}${path}`, {credentials: 'same-origin', headers: {accept: 'application/json'}, signal})
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`
    try {
      const body = (await response.json()) as {error?: {message?: string}}
      if (body.error?.message) message = body.error.message
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(message)
  }
  return (await response.json()) as T
}

const enc = encodeURIComponent

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s, i, all) => s !== '' && all.indexOf(s) === i)
}

// -------------------------------------------------------------------------------------------
// colours: from the stylesheet, so light and dark follow prefers-color-scheme

function palette(host: Element): {fg: string; grid: string; lines: string[]} {
  const css = getComputedStyle(host)
  const get = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback
  const lines: string[] = []
  for (let i = 1; i <= 8; i++) lines.push(get(`--mr-line-${i}`, '#1f77b4'))
  return {fg: get('--mr-fg', '#222'), grid: get('--mr-grid', 'rgba(0,0,0,0.08)'), lines}
}

/** uPlot's aligned data for lines with different x values (splits logged at different steps). */
function align(lines: Line[], log: boolean): AlignedData {
  const ys = (y: number[]) => (log ? y.map((v) => (v > 0 ? v : null)) : y)
  if (lines.length === 1) return [lines[0].x, ys(lines[0].y)] as AlignedData
  return uPlot.join(lines.map((l) => [l.x, ys(l.y)] as AlignedData)) as AlignedData
}

// -------------------------------------------------------------------------------------------
// one chart: toolbar (log scale, step/time, reset zoom), a status line, and the plot

interface ChartSource {
  /** The lines for an x range (undefined: everything) and a number of buckets. */
  load(x: XAxis, range: [number, number] | undefined, buckets: number, signal: AbortSignal): Promise<Line[]>
  /** Whether x can be switched to time. */
  timeAxis: boolean
  /** Whether points are drawn (few, e.g. versions) instead of only lines. */
  points?: boolean
  xLabel?: (x: XAxis) => string
}

const HEIGHT = 260
const WHOLE_INCREMENTS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500].flatMap((n) => [n, n * 1e3, n * 1e6]).sort((a, b) => a - b)

function compact(n: number): string {
  if (Math.abs(n) >= 1e6) return `${+(n / 1e6).toFixed(2)}M`
  if (Math.abs(n) >= 1e4) return `${+(n / 1e3).toFixed(1)}k`
  return String(n)
}

class Chart {
  private plot: uPlot | null = null
  private x: XAxis = 'step'
  private log = false
  private range: [number, number] | undefined
  private lines: Line[] = []
  private request: AbortController | null = null
  private readonly body: HTMLDivElement
  private readonly status: HTMLParagraphElement
  private readonly reset: HTMLButtonElement
  private readonly resizer: ResizeObserver

  constructor(
    private readonly host: HTMLElement,
    private readonly title: string,
    private readonly source: ChartSource,
  ) {
    host.classList.add('mr-chart-ready')
    const bar = el('div', 'mr-chart-bar')
    // A chart in a <figure> with its own caption (the run and compare pages) is titled once, by
    // the caption; the bar then keeps only its buttons, on the right.
    const captioned = host.parentElement?.tagName === 'FIGURE' && host.parentElement.querySelector(':scope > figcaption') !== null
    bar.append(captioned ? el('span', 'mr-chart-title mr-chart-spacer') : el('span', 'mr-chart-title', title))
    const logButton = this.button('log scale', () => {
      this.log = !this.log
      logButton.setAttribute('aria-pressed', String(this.log))
      this.draw()
    })
    logButton.setAttribute('aria-pressed', 'false')
    bar.append(logButton)
    if (source.timeAxis) {
      const xButton = this.button('x: step', () => {
        this.x = this.x === 'step' ? 'time' : 'step'
        xButton.textContent = `x: ${this.x}`
        this.range = undefined
        void this.fetch()
      })
      bar.append(xButton)
    }
    this.reset = this.button('reset zoom', () => {
      this.range = undefined
      void this.fetch()
    })
    this.reset.hidden = true
    bar.append(this.reset)
    this.status = el('p', 'mr-chart-status')
    this.status.setAttribute('role', 'status')
    this.body = el('div', 'mr-chart-plot')
    host.replaceChildren(bar, this.body, this.status)
    let width = this.width()
    this.resizer = new ResizeObserver(() => {
      const now = this.width()
      if (this.plot && now !== width) {
        width = now
        this.plot.setSize({width: now, height: HEIGHT})
      }
    })
    this.resizer.observe(host)
    void this.fetch()
  }

  private button(text: string, onClick: () => void): HTMLButtonElement {
    const b = el('button', 'mr-chart-button', text)
    b.type = 'button'
    b.addEventListener('click', onClick)
    return b
  }

  private width(): number {
    return Math.max(200, Math.floor(this.host.clientWidth || 600))
  }

  /** Buckets: about one per two pixels (each gives at most 4 points). */
  private buckets(): number {
    return Math.min(2000, Math.max(20, Math.round(this.width() / 2)))
  }

  private async fetch(): Promise<void> {
    this.request?.abort()
    const request = new AbortController()
    this.request = request
    this.host.setAttribute('aria-busy', 'true')
    try {
      this.lines = await this.source.load(this.x, this.range, this.buckets(), request.signal)
      if (request.signal.aborted) return
      this.status.textContent = this.lines.some((l) => l.x.length) ? '' : 'No points in this range.'
      this.reset.hidden = this.range === undefined
      this.draw()
    } catch (error) {
      if (request.signal.aborted) return
      this.status.textContent = `Could not load ${this.title}: ${(error as Error).message}`
    } finally {
      if (this.request === request) {
        this.host.removeAttribute('aria-busy')
        this.host.dataset.loads = String(Number(this.host.dataset.loads ?? '0') + 1)
      }
    }
  }

  private draw(): void {
    this.plot?.destroy()
    const colors = palette(this.host)
    const time = this.x === 'time'
    const series: Series[] = [{label: time ? 'time' : (this.source.xLabel?.(this.x) ?? 'step')}]
    this.lines.forEach((line, i) => {
      series.push({
        label: line.label,
        stroke: colors.lines[i % colors.lines.length],
        width: 1.5,
        spanGaps: true,
        points: {show: this.source.points ?? false},
      })
    })
    const axis = {stroke: colors.fg, grid: {stroke: colors.grid, width: 1}, ticks: {stroke: colors.grid, width: 1}}
    // Steps and versions are whole numbers; long runs' steps read better as 250k than 250,000.
    const xAxis = time ? {...axis} : {...axis, space: 60, incrs: WHOLE_INCREMENTS, values: (_u: uPlot, ticks: number[]) => ticks.map(compact)}
    const options: Options = {
      width: this.width(),
      height: HEIGHT,
      series,
      // Versions (drawn as points) get half a version of room on each side, so the first and
      // last points and their labels are not on the plot's edges.
      scales: {x: this.source.points ? {time, range: (_u, min, max) => [min - 0.5, max + 0.5]} : {time}, y: this.log ? {distr: 3} : {}},
      axes: [xAxis, {...axis, size: 60}],
      // Room on the right for the last x label (centred on the plot's edge, it would be cut).
      padding: [12, 18, 0, 0],
      cursor: {drag: {x: true, y: false, setScale: false}},
      legend: {live: true},
      hooks: {setSelect: [(u) => this.zoom(u)]},
    }
    this.plot = new uPlot(options, align(this.lines, this.log), this.body)
  }

  /** A drag selected an x range: fetch that range again, downsampled for the new width. */
  private zoom(u: uPlot): void {
    if (u.select.width < 2) return
    let from = u.posToVal(u.select.left, 'x')
    let to = u.posToVal(u.select.left + u.select.width, 'x')
    u.setSelect({left: 0, top: 0, width: 0, height: 0}, false)
    if (this.x === 'time') {
      from *= 1000
      to *= 1000
    }
    const lo = Math.max(0, Math.floor(from))
    const hi = Math.max(lo, Math.ceil(to))
    this.range = [lo, hi]
    void this.fetch()
  }
}

// -------------------------------------------------------------------------------------------
// the sources: a run's metric, a metric across runs, a metric across a model's versions

function downsampledPath(run: string, metric: string, splits: string[], x: XAxis, range: [number, number] | undefined, buckets: number): string {
  const q = new URLSearchParams({x, buckets: String(buckets)})
  for (const s of splits) q.append('split', s)
  if (range) {
    q.set('from', String(range[0]))
    q.set('to', String(range[1]))
  }
  return `/runs/${enc(run)}/metrics/${enc(metric)}/downsampled?${q}`
}

function toLines(answer: Downsample, x: XAxis, label: (split: string) => string): Line[] {
  return answer.series.map((s) => {
    if (x === 'step') return {label: label(s.split), x: s.step, y: s.value}
    // By time: uPlot's time axis counts seconds; the points come ordered by step, so sort them.
    const order = s.time.map((_, i) => i).sort((a, b) => s.time[a] - s.time[b] || a - b)
    return {label: label(s.split), x: order.map((i) => s.time[i] / 1000), y: order.map((i) => s.value[i])}
  })
}

function runChart(host: HTMLElement): void {
  const run = host.dataset.run
  const metric = host.dataset.metric
  if (!run || !metric) return
  const splits = list(host.dataset.splits)
  new Chart(host, metric, {
    timeAxis: true,
    async load(x, range, buckets, signal) {
      const answer = await api<Downsample>(downsampledPath(run, metric, splits, x, range, buckets), signal)
      return toLines(answer, x, (split) => split || metric)
    },
  })
}

function compareChart(host: HTMLElement): void {
  const runs = list(host.dataset.runs)
  const metric = host.dataset.metric
  if (!runs.length || !metric) return
  new Chart(host, metric, {
    timeAxis: true,
    async load(x, range, buckets, signal) {
      const answers = await Promise.all(runs.map((run) => api<Downsample>(downsampledPath(run, metric, [], x, range, buckets), signal)))
      return answers.flatMap((answer, i) => toLines(answer, x, (split) => (split ? `${runs[i]} ${split}` : runs[i])))
    },
  })
}

interface VersionPage {
  items: {version: number; metrics: Record<string, number>}[]
  total: number
}

function versionChart(host: HTMLElement): void {
  const {project, model, metric} = host.dataset
  if (!project || !model || !metric) return
  new Chart(host, `${metric} by version`, {
    timeAxis: false,
    points: true,
    xLabel: () => 'version',
    async load(_x, range, _buckets, signal) {
      const points: [number, number][] = []
      for (let offset = 0; ; offset += 1000) {
        const page = await api<VersionPage>(`/projects/${enc(project)}/models/${enc(model)}/versions?limit=1000&offset=${offset}`, signal)
        for (const v of page.items) {
          const value = v.metrics[metric]
          if (typeof value === 'number' && (!range || (v.version >= range[0] && v.version <= range[1]))) points.push([v.version, value])
        }
        if (page.items.length < 1000 || offset + 1000 >= page.total) break
      }
      points.sort((a, b) => a[0] - b[0])
      return [{label: metric, x: points.map((p) => p[0]), y: points.map((p) => p[1])}]
    },
  })
}

// -------------------------------------------------------------------------------------------
// the live events feed: the NDJSON follow stream, newest on top

interface EventLine {
  id: number
  time: string
  type: string
  project: string
  model: string | null
  version: number | null
  tag: string | null
  actor: string
}

const MAX_EVENTS = 200

function eventsFeed(host: HTMLElement): void {
  let after: number | undefined
  let delay = 1000
  const stop = new AbortController()
  addEventListener('pagehide', () => stop.abort(), {once: true})
  const show = (e: EventLine) => {
    const item = el('li', 'mr-event')
    const when = el('time', 'mr-event-time', new Date(e.time).toLocaleString())
    when.dateTime = e.time
    const what = [e.project, e.model && `/${e.model}`, e.version !== null && `:${e.version}`, e.tag && ` (${e.tag})`].filter(Boolean).join('')
    item.append(when, el('span', 'mr-event-type', e.type), el('span', 'mr-event-subject', what), el('span', 'mr-event-actor', e.actor))
    host.prepend(item)
    while (host.children.length > MAX_EVENTS) host.lastElementChild?.remove()
  }
  const follow = async (): Promise<void> => {
    const q = new URLSearchParams()
    if (host.dataset.project) q.set('project', host.dataset.project)
    if (after !== undefined) q.set('after_id', String(after))
    const response = await fetch(`${API}/events/stream?${q}`, {credentials: 'same-origin', signal: stop.signal})
    if (!response.ok || !response.body) throw new ApiError(`${response.status} ${response.statusText}`)
    host.dataset.live = 'true'
    delay = 1000
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    let rest = ''
    for (;;) {
      const {value, done} = await reader.read()
      if (done) return
      rest += value
      const lines = rest.split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) {
        if (!line.trim()) continue // a keep-alive
        const event = JSON.parse(line) as EventLine
        after = event.id
        show(event)
      }
    }
  }
  const loop = async () => {
    while (!stop.signal.aborted) {
      try {
        await follow()
      } catch {
        if (stop.signal.aborted) return
      }
      host.dataset.live = 'false'
      await new Promise((resolve) => setTimeout(resolve, delay))
      delay = Math.min(delay * 2, 30_000)
    }
  }
  void loop()
}

// -------------------------------------------------------------------------------------------

function hydrate(): void {
  const each = (selector: string, start: (host: HTMLElement) => void) => {
    for (const host of document.querySelectorAll<HTMLElement>(selector)) {
      if (host.dataset.hydrated) continue
      host.dataset.hydrated = 'true'
      start(host)
    }
  }
  each('.mr-chart', runChart)
  each('.mr-compare', compareChart)
  each('.mr-version-chart', versionChart)
  each('.mr-events-live', eventsFeed)
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', hydrate)
else hydrate()
