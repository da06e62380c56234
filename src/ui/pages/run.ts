/**
 * `/runs/ID`: a run's params, metric series (one chart per metric, its splits overlaid: the
 * bundle draws `.mr-chart`), datasets, checkpoints and the versions made from it.
 */
import type {MetricSummary, Run} from '../../backends/backend.js'
import {type PageContext, type PageResult, requireProject} from '../context.js'
import {html, path, type SafeHtml, withQuery} from '../html.js'
import {bytes, fields, keyValues, labels, num, table, time} from '../layout.js'

/** Summaries grouped by metric name, splits in order. */
export function metricGroups(summaries: MetricSummary[]): Map<string, MetricSummary[]> {
  const groups = new Map<string, MetricSummary[]>()
  for (const s of [...summaries].sort((a, b) => (a.name === b.name ? (a.split < b.split ? -1 : 1) : a.name < b.name ? -1 : 1))) {
    const list = groups.get(s.name) ?? []
    list.push(s)
    groups.set(s.name, list)
  }
  return groups
}

function duration(run: Run): string {
  if (!run.start_time) return ''
  const end = run.end_time ? Date.parse(run.end_time) : null
  if (end === null) return 'running'
  const seconds = Math.max(0, Math.round((end - Date.parse(run.start_time)) / 1000))
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  return h ? `${h}h ${m}m ${s}s` : m ? `${m}m ${s}s` : `${s}s`
}

function charts(run: Run): SafeHtml {
  const groups = metricGroups(run.metric_summaries)
  if (groups.size === 0) return html`<p class="mr-muted" id="mr-run-charts">No metrics logged.</p>`
  return html`<section class="mr-charts" id="mr-run-charts">${[...groups].map(
    ([name, splits]) => html`<figure id="metric-${name}"><figcaption>${name}</figcaption>
<div class="mr-chart" data-run="${run.id}" data-metric="${name}" data-splits="${splits.map((s) => s.split).join(',')}"></div>
<p class="mr-muted">${splits.map((s, i) => html`${i ? ' · ' : ''}${s.split || 'no split'}: last ${num(s.last)} at step ${s.last_step} (${s.count} points)`)} · <a href="${withQuery(`/api/v1/runs/${encodeURIComponent(run.id)}/metrics`, {name})}" type="application/x-ndjson">series (NDJSON)</a></p>
</figure>`,
  )}</section>`
}

export async function runPage(ctx: PageContext): Promise<PageResult> {
  const run = await ctx.backend.getRun(ctx.params.run)
  requireProject(ctx, run.project)
  const project = run.project
  const summaryRows = [...metricGroups(run.metric_summaries).values()].flat().map((s) => [html`<code>${s.name}</code>`, s.split, num(s.last), String(s.last_step), num(s.min), num(s.max), String(s.count)])
  const {git, ci, host} = run.source
  return {
    shell: {
      id: 'run',
      title: `Run ${run.name ?? run.id} · ${project}`,
      project,
      crumbs: [['Projects', '/'], [project, path('projects', project)], [run.experiment, path('projects', project, 'experiments', run.experiment)], [run.name ?? run.id]],
      body: html`<h1>${run.name ?? run.id} <span class="mr-status mr-status-${run.status}">${run.status}</span></h1>
${fields('mr-run-fields', [
  ['ID', html`<code>${run.id}</code>`],
  ['Experiment', html`<a href="${path('projects', project, 'experiments', run.experiment)}">${run.experiment}</a>`],
  ['Author', run.author],
  ['Created', time(run.created_at)],
  ['Started', time(run.start_time)],
  ['Ended', time(run.end_time)],
  ['Duration', duration(run)],
  ['Tags', labels(run.tags)],
  ['Git', git ? html`<code>${git.commit}</code>${git.branch ? ` on ${git.branch}` : ''}${git.dirty ? ' (dirty)' : ''}` : null],
  ['CI', ci ? (ci.url && /^https?:\/\//i.test(ci.url) ? html`<a href="${ci.url}" rel="noopener noreferrer">${ci.provider}${ci.job ? ` · ${ci.job}` : ''}</a>` : `${ci.provider}${ci.job ? ` · ${ci.job}` : ''}`) : null],
  ['Host', host],
])}
<p><a href="${withQuery(path('projects', project, 'compare'), {run: [run.id]})}">Compare with other runs</a></p>
<h2 id="metrics">Metrics</h2>
${charts(run)}
${table('mr-run-metrics', ['Metric', 'Split', {label: 'Last', numeric: true}, {label: 'Last step', numeric: true}, {label: 'Min', numeric: true}, {label: 'Max', numeric: true}, {label: 'Points', numeric: true}], summaryRows, {empty: ''})}
<h2 id="params">Params</h2>
${keyValues('mr-run-params', run.params, 'No params.')}
<h2 id="datasets">Datasets</h2>
${table('mr-run-datasets', ['Tag', 'URI', 'sha256', {label: 'Size', numeric: true}, 'Updated'], run.datasets.map((d) => [html`<strong>${d.tag}</strong>`, html`<code>${d.uri}</code>`, html`<span class="mr-hash">${d.sha256 ?? ''}</span>`, bytes(d.size), time(d.updated_at)]), {empty: 'No datasets.'})}
<h2 id="checkpoints">Checkpoints</h2>
${table(
  'mr-run-checkpoints',
  ['UUID', {label: 'Step', numeric: true}, 'Metrics', {label: 'Size', numeric: true}, {label: 'Files', numeric: true}, 'Created'],
  run.checkpoints.map((c) => [
    html`<code>${c.uuid}</code>`,
    c.step === null ? '' : String(c.step),
    Object.entries(c.metrics).map(([k, v]) => `${k}=${Number(v.toPrecision(6))}`).join(' '),
    bytes(c.size),
    String(c.file_count),
    time(c.created_at),
  ]),
  {empty: 'No checkpoints.', rowIds: run.checkpoints.map((c) => `checkpoint-${c.uuid}`)},
)}
<h2 id="versions">Model versions made from this run</h2>
${
  run.versions.length
    ? html`<ul id="mr-run-versions">${run.versions.map((v) => html`<li><a href="${path('projects', v.project, 'models', v.model, 'versions', v.version)}">${v.project}/${v.model}:${v.version}</a></li>`)}</ul>`
    : html`<p class="mr-muted" id="mr-run-versions">None yet.</p>`
}`,
    },
  }
}
