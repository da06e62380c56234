/** `/`: every project the viewer may see. */
import {nameKey} from '../../backends/validation.js'
import {type PageContext, type PageResult, queryInt} from '../context.js'
import {html, path} from '../html.js'
import {pager, table, time} from '../layout.js'

export async function projectsPage(ctx: PageContext): Promise<PageResult> {
  const limit = queryInt(ctx.query, 'limit', 100, 1000)
  const offset = queryInt(ctx.query, 'offset', 0, 1e9)
  let page = await ctx.backend.listProjects({limit, offset})
  const only = ctx.viewer.project
  if (only !== null) {
    const items = page.items.filter((p) => nameKey(p.name) === nameKey(only))
    page = {...page, items, total: items.length, offset: 0}
  }
  const rows = page.items.map((p) => [
    html`<a href="${path('projects', p.name)}">${p.name}</a>`,
    p.description,
    String(p.model_count),
    html`<a href="${path('projects', p.name, 'experiments')}">experiments</a> · <a href="${path('projects', p.name, 'runs')}">runs</a>`,
    time(p.created_at),
  ])
  return {
    shell: {
      id: 'projects',
      title: 'Projects',
      body: html`<h1>Projects</h1>
${table('mr-projects', ['Project', 'Description', {label: 'Models', numeric: true}, 'Tracking', 'Created'], rows, {empty: 'No projects yet: push a model or start a run to create one.'})}
${pager('/', {limit: limit === 100 ? undefined : limit}, {offset: page.offset, limit, total: page.total, shown: page.items.length})}`,
    },
  }
}
