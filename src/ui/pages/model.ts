/**
 * `/projects/P/models/M`: description, metadata, labels, the versions table (key metrics as
 * columns), the tag history (`models log`) and one metric across versions (a chart the bundle
 * draws, over the same values in a plain table).
 */
import type {VersionSummary} from '../../backends/backend.js'
import {type PageContext, type PageResult, queryInt, queryValue, requireProject} from '../context.js'
import {html, path} from '../html.js'
import {bytes, fields, keyValues, labels, num, pager, table, tags, time} from '../layout.js'

/** Metric keys as columns: the most common on the page first, at most this many. */
const METRIC_COLUMNS = 6

export function metricColumns(versions: {metrics: Record<string, number>}[], max = METRIC_COLUMNS): string[] {
  const counts = new Map<string, number>()
  for (const v of versions) for (const key of Object.keys(v.metrics)) counts.set(key, (counts.get(key) ?? 0) + 1)
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, max)
    .map(([key]) => key)
}

export async function modelPage(ctx: PageContext): Promise<PageResult> {
  const {project, model: name} = ctx.params
  requireProject(ctx, project)
  const limit = queryInt(ctx.query, 'limit', 50, 1000)
  const offset = queryInt(ctx.query, 'offset', 0, 1e9)
  const model = await ctx.backend.getModel(project, name)
  const [versions, log] = await Promise.all([
    ctx.backend.listVersions(project, name, {limit, offset}),
    ctx.backend.modelLog(project, {model: name, limit: 50}),
  ])
  const base = path('projects', project, 'models', name)
  const versionHref = (v: number) => path('projects', project, 'models', name, 'versions', v)
  const metricKeys = metricColumns(versions.items)
  const chosen = queryValue(ctx.query, 'metric') ?? metricKeys[0]
  const versionRows = versions.items.map((v: VersionSummary) => [
    html`<a href="${versionHref(v.version)}">${v.version}</a>`,
    tags(v.tags),
    v.author,
    time(v.created_at),
    html`<span class="mr-description">${v.comment}</span>`,
    bytes(v.size),
    ...metricKeys.map((k) => num(v.metrics[k])),
  ])
  const logRows = log.items.map((e) => [
    time(e.time),
    e.type === 'version.created' ? 'pushed' : e.type === 'tag.set' ? 'tag moved' : e.type === 'tag.removed' ? 'tag removed' : e.type === 'version.deleted' ? 'deleted' : e.type,
    e.version === null ? '' : html`<a href="${versionHref(e.version)}">${e.version}</a>`,
    e.tag === null ? '' : html`<span class="mr-tag">${e.tag}</span>${e.previous !== null ? html` <span class="mr-muted">(from ${e.previous})</span>` : ''}`,
    e.author,
    html`<span class="mr-description">${e.comment}</span>`,
  ])
  // The chosen metric across the versions on this page, oldest first (the chart's x axis).
  const series = chosen ? versions.items.filter((v) => v.metrics[chosen] !== undefined).sort((a, b) => a.version - b.version) : []
  const allMetricKeys = [...new Set(versions.items.flatMap((v) => Object.keys(v.metrics)))].sort()
  const chart = chosen
    ? html`<h2 id="version-metric">${chosen} across versions</h2>
<form class="mr-filters" method="get" action="${base}#version-metric" id="mr-metric-picker">
<label>Metric <select name="metric">${allMetricKeys.map((k) => html`<option value="${k}"${k === chosen ? html` selected` : ''}>${k}</option>`)}</select></label>
<button type="submit">Show</button>
</form>
<div class="mr-version-chart" id="mr-version-chart" data-project="${project}" data-model="${name}" data-metric="${chosen}"></div>
${table('mr-version-metric', [{label: 'Version', numeric: true}, {label: chosen, numeric: true}, 'Time'], series.map((v) => [html`<a href="${versionHref(v.version)}">${v.version}</a>`, num(v.metrics[chosen]), time(v.created_at)]), {
  empty: `No version on this page records ${chosen}.`,
})}`
    : ''
  return {
    shell: {
      id: 'model',
      title: `${name} · ${project}`,
      project,
      crumbs: [['Projects', '/'], [project, path('projects', project)], [name]],
      body: html`<h1>${name}</h1>
${model.description ? html`<p class="mr-description" id="mr-model-description">${model.description}</p>` : html`<p class="mr-muted" id="mr-model-description">No description.</p>`}
${fields('mr-model-fields', [
  ['Project', project],
  ['Owner', model.owner],
  ['Task', model.task],
  ['Labels', labels(model.labels)],
  ['Versions', String(model.version_count)],
  ['Latest', model.latest_version === null ? null : html`<a href="${versionHref(model.latest_version)}">${model.latest_version}</a>`],
  ['Created', time(model.created_at)],
  ['Updated', time(model.updated_at)],
])}
<h2 id="versions">Versions</h2>
${table('mr-versions', [{label: 'Version', numeric: true}, 'Tags', 'Author', 'Time', 'Comment', {label: 'Size', numeric: true}, ...metricKeys.map((k) => ({label: k, numeric: true}))], versionRows, {
  empty: 'No versions yet.',
})}
${pager(base, {limit: limit === 50 ? undefined : limit, metric: queryValue(ctx.query, 'metric')}, {offset, limit, total: versions.total, shown: versions.items.length})}
${chart}
<h2 id="metadata">Metadata</h2>
${keyValues('mr-model-metadata', model.metadata, 'No metadata.')}
<h2 id="history">Tag history</h2>
${table('mr-model-log', ['Time', 'Change', {label: 'Version', numeric: true}, 'Tag', 'Author', 'Comment'], logRows, {empty: 'No history.'})}
${log.total > log.items.length ? html`<p class="mr-muted">The ${log.items.length} most recent of ${log.total} changes (all of them: <code>modelreg models log ${name}</code>).</p>` : ''}`,
    },
  }
}
