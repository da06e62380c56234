/**
 * `/projects/P/compare?run=A&run=B…`: runs side by side. Params in one table (`?changed=1`
 * hides the params equal in every run), last metrics in another, and one overlaid chart per
 * metric (`.mr-compare`, drawn by the bundle).
 */
import {isDeepStrictEqual} from 'node:util'
import {invalid} from '../../backends/errors.js'
import type {Run} from '../../backends/backend.js'
import {type PageContext, type PageResult, requireProject} from '../context.js'
import {html, path, withQuery} from '../html.js'
import {jsonInline, num} from '../layout.js'

export const MAX_COMPARED = 20

export async function comparePage(ctx: PageContext): Promise<PageResult> {
  const {project} = ctx.params
  requireProject(ctx, project)
  const ids = [...new Set(ctx.query.getAll('run').flatMap((r) => r.split(',')).map((r) => r.trim()).filter(Boolean))]
  if (ids.length > MAX_COMPARED) throw invalid(`compare at most ${MAX_COMPARED} runs at once (${ids.length} picked)`)
  await ctx.backend.getProject(project)
  const runs: Run[] = []
  for (const id of ids) {
    const run = await ctx.backend.getRun(id)
    if (run.project !== project) throw invalid(`run ${run.id} belongs to project ${run.project}, not ${project}`)
    runs.push(run)
  }
  const changedOnly = ctx.query.get('changed') === '1'
  const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort()
  const differs = (key: string) => runs.some((r) => !isDeepStrictEqual(r.params[key], runs[0].params[key]))
  const shownParams = changedOnly ? paramKeys.filter(differs) : paramKeys
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort()
  const metricNames = [...new Set(runs.flatMap((r) => r.metric_summaries.map((s) => s.name)))].sort()
  const runIds = runs.map((r) => r.id)
  const base = path('projects', project, 'compare')
  const head = html`<thead><tr><th scope="col">Run</th>${runs.map((r) => html`<th scope="col"><a href="${path('runs', r.id)}">${r.name ?? r.id}</a></th>`)}</tr></thead>`
  return {
    shell: {
      id: 'compare',
      title: `Compare runs · ${project}`,
      project,
      crumbs: [['Projects', '/'], [project, path('projects', project)], ['Runs', path('projects', project, 'runs')], ['Compare']],
      body: html`<h1>Compare ${runs.length} run${runs.length === 1 ? '' : 's'}</h1>
${
  runs.length < 2
    ? html`<p class="mr-muted" id="mr-compare-hint">Pick two or more runs with the checkboxes in the <a href="${path('projects', project, 'runs')}">runs table</a>.</p>`
    : ''
}
${
  runs.length
    ? html`<h2 id="params">Params</h2>
<p>${
        changedOnly
          ? html`Showing the ${shownParams.length} params that differ. <a href="${withQuery(base, {run: runIds})}" id="mr-show-all-params">Show all ${paramKeys.length}</a>`
          : html`<a href="${withQuery(base, {run: runIds, changed: '1'})}" id="mr-hide-unchanged">Hide unchanged params</a>`
      }</p>
<div class="mr-table-wrap"><table id="mr-compare-params">${head}<tbody>${shownParams.map(
        (k) => html`<tr${differs(k) ? html` class="mr-diff-changed"` : ''}><th scope="row"><code>${k}</code></th>${runs.map((r) => html`<td>${jsonInline(r.params[k])}</td>`)}</tr>`,
      )}</tbody></table></div>
<h2 id="metrics">Last metrics</h2>
<div class="mr-table-wrap"><table id="mr-compare-metrics">${head}<tbody>${metricKeys.map(
        (k) => html`<tr><th scope="row"><code>${k}</code></th>${runs.map((r) => html`<td class="mr-num">${num(r.metrics[k])}</td>`)}</tr>`,
      )}</tbody></table></div>
<h2 id="charts">Charts</h2>
<section class="mr-charts" id="mr-compare-charts">${metricNames.map(
        (name) => html`<figure><figcaption>${name}</figcaption><div class="mr-compare" data-runs="${runIds.join(',')}" data-metric="${name}"></div></figure>`,
      )}</section>`
    : ''
}`,
    },
  }
}
