/**
 * `/projects/P/runs` and `/projects/P/experiments/E`: the runs table. Params and last metrics as
 * columns (picked with `col=params.lr&col=metrics.loss`; by default the keys of the runs shown),
 * sorted by any of them (`sort`, `order`), filtered with the `--where` language (`where`, with
 * the CLI's positioned error messages), paged by the backend (`limit`, `offset`), so a page
 * costs the same at 100k runs. Checkboxes pick runs to compare (a GET form to the compare page).
 */
import {RUN_STATUSES, type RunStatus, type RunSummary, type SortOrder} from '../../backends/backend.js'
import {RegistryError} from '../../backends/errors.js'
import {type PageContext, type PageResult, queryInt, queryValue, requireProject} from '../context.js'
import {html, path, type SafeHtml, withQuery} from '../html.js'
import {jsonInline, num, pager, time} from '../layout.js'

const MAX_AUTO_COLUMNS = 8
const DEFAULT_LIMIT = 50

/** The caret under a `--where` expression at the column its error names ("invalid filter at column N"). */
export function whereCaret(where: string, message: string): string | null {
  const match = /at column (\d+)/.exec(message)
  if (!match) return null
  const column = Math.min(Number(match[1]), where.length + 1)
  return `${where}\n${' '.repeat(column - 1)}^`
}

function columnValue(run: RunSummary, key: string): SafeHtml | string {
  if (key.startsWith('params.')) {
    const value = run.params[key.slice(7)]
    return typeof value === 'number' ? num(value) : jsonInline(value)
  }
  const value = run.metrics[key.slice(8)]
  return num(value)
}

/** `params.lr` as a header that may break after the dot (long keys make wide tables). */
function columnLabel(key: string): SafeHtml {
  const dot = key.indexOf('.')
  return html`<span class="mr-muted">${key.slice(0, dot + 1)}</span><wbr>${key.slice(dot + 1)}`
}

function autoColumns(runs: RunSummary[]): string[] {
  const params = new Set<string>()
  const metrics = new Set<string>()
  for (const r of runs) {
    for (const k of Object.keys(r.params)) params.add(k)
    for (const k of Object.keys(r.metrics)) metrics.add(k)
  }
  return [
    ...[...params].sort().slice(0, MAX_AUTO_COLUMNS).map((k) => `params.${k}`),
    ...[...metrics].sort().slice(0, MAX_AUTO_COLUMNS).map((k) => `metrics.${k}`),
  ]
}

export async function runsPage(ctx: PageContext): Promise<PageResult> {
  const {project} = ctx.params
  const experiment = ctx.params.experiment as string | undefined
  requireProject(ctx, project)
  const q = ctx.query
  const where = queryValue(q, 'where')
  const sort = queryValue(q, 'sort') ?? 'created_at'
  const order: SortOrder = queryValue(q, 'order') === 'asc' ? 'asc' : 'desc'
  const statuses = q.getAll('status').filter((s): s is RunStatus => (RUN_STATUSES as readonly string[]).includes(s))
  const limit = queryInt(q, 'limit', DEFAULT_LIMIT, 1000)
  const offset = queryInt(q, 'offset', 0, 1e9)
  const picked = q.get('picked') === '1'
  const chosenColumns = q.getAll('col').filter((c) => /^(params|metrics)\.\S/.test(c)).slice(0, 64)

  const exp = experiment !== undefined ? await ctx.backend.getExperiment(project, experiment) : null
  if (!exp) await ctx.backend.getProject(project)
  let page: {items: RunSummary[]; total: number}
  let problem: {message: string; caret: string | null} | null = null
  try {
    page = await ctx.backend.listRuns(project, {experiment, where, sort_by: sort, order_by: order, status: statuses.length ? statuses : undefined, limit, offset})
  } catch (error) {
    if (!(error instanceof RegistryError) || error.code !== 'invalid_argument') throw error
    page = {items: [], total: 0}
    problem = {message: error.message, caret: where !== undefined && /filter/.test(error.message) ? whereCaret(where, error.message) : null}
  }
  const columns = picked || chosenColumns.length ? chosenColumns : autoColumns(page.items)
  const offered = [...new Set([...columns, ...autoColumns(page.items)])]
  const base = experiment !== undefined ? path('projects', project, 'experiments', experiment) : path('projects', project, 'runs')
  const keep = {
    where,
    status: statuses,
    sort: sort === 'created_at' ? undefined : sort,
    order: order === 'desc' ? undefined : order,
    col: picked || chosenColumns.length ? columns : undefined,
    picked: picked ? '1' : undefined,
    limit: limit === DEFAULT_LIMIT ? undefined : limit,
  }
  const sortLink = (key: string, label: string | SafeHtml, numeric = false) => {
    const active = sort === key
    const nextOrder = active && order === 'desc' ? 'asc' : 'desc'
    const href = withQuery(base, {...keep, sort: key, order: nextOrder === 'desc' ? undefined : nextOrder, offset: undefined})
    return html`<th scope="col"${numeric ? html` class="mr-num mr-col"` : ''}${active ? html` aria-sort="${order === 'asc' ? 'ascending' : 'descending'}"` : ''}><a href="${href}">${label}</a>${active ? (order === 'asc' ? ' ▲' : ' ▼') : ''}</th>`
  }
  const hidden = (names: Record<string, string | string[] | undefined>) =>
    Object.entries(names).flatMap(([k, v]) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((one) => html`<input type="hidden" name="${k}" value="${one}">`)))
  const title = exp ? `Runs of ${exp.name}` : `Runs in ${project}`
  const rows = page.items.map(
    (r) => html`<tr id="run-${r.id}">
<td><input type="checkbox" name="run" value="${r.id}" aria-label="Compare run ${r.name ?? r.id}" class="mr-compare-pick"></td>
<td><a href="${path('runs', r.id)}" class="mr-mono">${r.id}</a></td>
<td>${r.name ?? ''}</td>
${experiment === undefined ? html`<td><a href="${path('projects', project, 'experiments', r.experiment)}">${r.experiment}</a></td>` : ''}
<td><span class="mr-status mr-status-${r.status}">${r.status}</span></td>
<td>${time(r.start_time ?? r.created_at)}</td>
${columns.map((c) => html`<td class="mr-num">${columnValue(r, c)}</td>`)}
</tr>`,
  )
  const crumbs: [string, string?][] = [['Projects', '/'], [project, path('projects', project)]]
  if (exp) crumbs.push(['Experiments', path('projects', project, 'experiments')], [exp.name])
  else crumbs.push(['Runs'])
  return {
    // A bad filter is a page that explains it (200), not a failed load.
    status: 200,
    shell: {
      id: 'runs',
      title: `${title} · ${project}`,
      project,
      crumbs,
      body: html`<h1>${title}</h1>
${exp?.description ? html`<p class="mr-description">${exp.description}</p>` : ''}
<form class="mr-filters" method="get" action="${base}" role="search" id="mr-runs-filter">
<label class="mr-grow"><span>Filter (<code>--where</code>)</span> <input type="search" name="where" id="mr-where" value="${where ?? ''}" placeholder="metrics.accuracy &gt; 0.9 and params.lr &lt;= 0.01" spellcheck="false" autocomplete="off"${problem ? html` aria-invalid="true" aria-describedby="mr-where-error"` : ''}></label>
<label>Status <select name="status"><option value="">any</option>${RUN_STATUSES.map((s) => html`<option value="${s}"${statuses.length === 1 && statuses[0] === s ? html` selected` : ''}>${s}</option>`)}</select></label>
${hidden({sort: keep.sort, order: keep.order, col: keep.col, picked: keep.picked, limit: keep.limit === undefined ? undefined : String(keep.limit)})}
<button type="submit">Filter</button>
</form>
${
  problem
    ? html`<div class="mr-error" role="alert" id="mr-where-error"><strong>${problem.message}</strong>${problem.caret ? html`<pre>${problem.caret}</pre>` : ''}</div>`
    : ''
}
<details class="mr-picker" id="mr-column-picker"><summary>Columns (${columns.length})</summary>
<form method="get" action="${base}">
${hidden({where, status: statuses, sort: keep.sort, order: keep.order, limit: keep.limit === undefined ? undefined : String(keep.limit)})}
<input type="hidden" name="picked" value="1">
<fieldset class="mr-columns"><legend>Params and metrics to show</legend>
${offered.length ? offered.map((c) => html`<label><input type="checkbox" name="col" value="${c}"${columns.includes(c) ? html` checked` : ''}> ${c}</label>`) : html`<span class="mr-muted">No params or metrics on this page.</span>`}
</fieldset>
<label>Add a column <input type="text" name="col" placeholder="params.KEY or metrics.NAME"></label>
<button type="submit">Apply</button>
</form></details>
${
  page.items.length
    ? html`<form method="get" action="${path('projects', project, 'compare')}" id="mr-compare-form">
<div class="mr-table-wrap"><table id="mr-runs">
<thead><tr><th scope="col"><span class="mr-muted" title="pick runs to compare">⇄</span></th><th scope="col">ID</th>${sortLink('name', 'Name')}${experiment === undefined ? html`<th scope="col">Experiment</th>` : ''}${sortLink('status', 'Status')}${sortLink('start_time', 'Started')}${columns.map((c) => sortLink(c, columnLabel(c), true))}</tr></thead>
<tbody>
${rows}
</tbody></table></div>
<p><button type="submit" id="mr-compare-button">Compare selected runs</button></p>
</form>`
    : html`<p class="mr-muted" id="mr-runs">${problem ? 'Fix the filter to see runs.' : where || statuses.length ? 'No run matches.' : 'No runs yet.'}</p>`
}
${pager(base, keep, {offset, limit, total: page.total, shown: page.items.length})}`,
    },
  }
}
