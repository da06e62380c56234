/** `/projects/P`: the models of a project, searchable by name, description and labels, sorted like `models --sort-by`. */
import {MODEL_SORT_FIELDS, type ModelSortField, type SortOrder} from '../../backends/backend.js'
import {invalid} from '../../backends/errors.js'
import {type PageContext, type PageResult, queryInt, queryValue, requireProject} from '../context.js'
import {html, path} from '../html.js'
import {labels, pager, table, time} from '../layout.js'

const SORT_LABELS: Record<ModelSortField, string> = {
  name: 'Name',
  description: 'Description',
  creation_time: 'Created',
  last_updated_time: 'Last updated',
}

export function parseLabels(values: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const value of values) {
    for (const part of value.split(',')) {
      const text = part.trim()
      if (!text) continue
      const eq = text.indexOf('=')
      if (eq <= 0) throw invalid(`a label filter is key=value, not ${JSON.stringify(text)}`)
      out[text.slice(0, eq).trim()] = text.slice(eq + 1).trim()
    }
  }
  return out
}

export async function modelsPage(ctx: PageContext): Promise<PageResult> {
  const project = ctx.params.project
  requireProject(ctx, project)
  const q = ctx.query
  const name = queryValue(q, 'name')
  const description = queryValue(q, 'description')
  const labelText = q.getAll('label').filter((l) => l.trim() !== '')
  const sortParam = queryValue(q, 'sort') ?? 'name'
  const sort = (MODEL_SORT_FIELDS as readonly string[]).includes(sortParam) ? (sortParam as ModelSortField) : 'name'
  const order: SortOrder = queryValue(q, 'order') === 'desc' ? 'desc' : queryValue(q, 'order') === 'asc' ? 'asc' : sort === 'name' || sort === 'description' ? 'asc' : 'desc'
  const limit = queryInt(q, 'limit', 50, 1000)
  const offset = queryInt(q, 'offset', 0, 1e9)
  // The project itself first: a missing project is a 404, not an empty list.
  const info = await ctx.backend.getProject(project)
  const page = await ctx.backend.listModels(project, {name, description, labels: parseLabels(labelText), sort_by: sort, order_by: order, limit, offset})
  const base = path('projects', project)
  const keep = {name, description, label: labelText, sort: sort === 'name' ? undefined : sort, order: q.get('order') ? order : undefined, limit: limit === 50 ? undefined : limit}
  const rows = page.items.map((m) => [
    html`<a href="${path('projects', project, 'models', m.name)}">${m.name}</a>`,
    html`<span class="mr-description">${m.description}</span>`,
    labels(m.labels),
    m.latest_version === null ? '' : html`<a href="${path('projects', project, 'models', m.name, 'versions', m.latest_version)}">${m.latest_version}</a>`,
    String(m.version_count),
    time(m.created_at),
    time(m.updated_at),
  ])
  return {
    shell: {
      id: 'models',
      title: `Models in ${project}`,
      project,
      crumbs: [['Projects', '/'], [project]],
      body: html`<h1>Models in ${project}</h1>
${info.description ? html`<p class="mr-description">${info.description}</p>` : ''}
<form class="mr-filters" method="get" action="${base}" role="search" id="mr-model-search">
<label>Name contains <input type="search" name="name" value="${name ?? ''}"></label>
<label>Description contains <input type="search" name="description" value="${description ?? ''}"></label>
<label>Labels (k=v, comma-separated) <input type="text" name="label" value="${labelText.join(',')}" placeholder="env=prod"></label>
<label>Sort by <select name="sort">${MODEL_SORT_FIELDS.map((f) => html`<option value="${f}"${f === sort ? html` selected` : ''}>${SORT_LABELS[f]}</option>`)}</select></label>
<label>Order <select name="order"><option value="asc"${order === 'asc' ? html` selected` : ''}>ascending</option><option value="desc"${order === 'desc' ? html` selected` : ''}>descending</option></select></label>
<button type="submit">Search</button>
</form>
${table('mr-models', ['Model', 'Description', 'Labels', {label: 'Latest', numeric: true}, {label: 'Versions', numeric: true}, 'Created', 'Updated'], rows, {
  empty: name || description || labelText.length ? 'No model matches.' : 'No models in this project yet.',
})}
${pager(base, keep, {offset, limit, total: page.total, shown: page.items.length})}`,
    },
  }
}
