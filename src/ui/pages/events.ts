/**
 * `/events` (optionally `?project=P`, `?model=M`): recent change events, newest first. The
 * bundle may follow the NDJSON stream from `data-after` on `.mr-events` to add new ones live.
 */
import {EVENT_TYPES, type EventType} from '../../backends/backend.js'
import {type PageContext, type PageResult, queryInt, queryValue, requireProject} from '../context.js'
import {html, path} from '../html.js'
import {pager, time} from '../layout.js'

export async function eventsPage(ctx: PageContext): Promise<PageResult> {
  const asked = queryValue(ctx.query, 'project')
  if (asked !== undefined) requireProject(ctx, asked)
  const project = asked ?? ctx.viewer.project ?? undefined
  const model = queryValue(ctx.query, 'model')
  const types = ctx.query.getAll('type').filter((t): t is EventType => (EVENT_TYPES as readonly string[]).includes(t))
  const limit = queryInt(ctx.query, 'limit', 100, 1000)
  const offset = queryInt(ctx.query, 'offset', 0, 1e9)
  if (project !== undefined) await ctx.backend.getProject(project)
  const page = await ctx.backend.listEvents({project, model, types: types.length ? types : undefined, order: 'desc', limit, offset})
  const newest = page.items.reduce((max, e) => Math.max(max, e.id), 0)
  const target = (e: (typeof page.items)[number]) => {
    if (e.model !== null && e.version !== null && e.type !== 'version.deleted') return html`<a href="${path('projects', e.project, 'models', e.model, 'versions', e.version)}">${e.model}:${e.version}</a>`
    if (e.model !== null && e.type !== 'model.deleted') return html`<a href="${path('projects', e.project, 'models', e.model)}">${e.model}</a>`
    const run = typeof e.data.run === 'string' ? e.data.run : typeof e.data.id === 'string' && e.type.startsWith('run.') ? e.data.id : null
    if (run && e.type !== 'run.deleted') return html`<a href="${path('runs', run)}">run ${run}</a>`
    if (typeof e.data.experiment === 'string') return html`<a href="${path('projects', e.project, 'experiments', e.data.experiment)}">${e.data.experiment}</a>`
    return html`${e.model ?? ''}`
  }
  const scope = [project ? `in ${project}` : '', model ? `for ${model}` : ''].filter(Boolean).join(' ')
  return {
    shell: {
      id: 'events',
      title: `Events${scope ? ` ${scope}` : ''}`,
      project,
      crumbs: project ? [['Projects', '/'], [project, path('projects', project)], ['Events']] : [['Projects', '/'], ['Events']],
      body: html`<h1>Events${scope ? ` ${scope}` : ''}</h1>
<form class="mr-filters" method="get" action="/events" id="mr-events-filter">
${project !== undefined ? html`<input type="hidden" name="project" value="${project}">` : ''}
<label>Model <input type="search" name="model" value="${model ?? ''}"></label>
<label>Type <select name="type"><option value="">any</option>${EVENT_TYPES.map((t) => html`<option value="${t}"${types.length === 1 && types[0] === t ? html` selected` : ''}>${t}</option>`)}</select></label>
<button type="submit">Filter</button>
</form>
<div class="mr-events" id="mr-events" data-after="${newest}"${project !== undefined ? html` data-project="${project}"` : ''}${model !== undefined ? html` data-model="${model}"` : ''}>
${
  page.items.length
    ? html`<div class="mr-table-wrap"><table id="mr-events-table"><thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Project</th><th scope="col">What</th><th scope="col">Tag</th><th scope="col">Actor</th></tr></thead>
<tbody>${page.items.map(
        (e) => html`<tr id="event-${e.id}" data-id="${e.id}"><td>${time(e.time)}</td><td><code>${e.type}</code></td><td><a href="${path('projects', e.project)}">${e.project}</a></td><td>${target(e)}</td><td>${e.tag ? html`<span class="mr-tag">${e.tag}</span>` : ''}</td><td>${e.actor}</td></tr>\n`,
      )}</tbody></table></div>`
    : html`<p class="mr-muted">No events.</p>`
}
</div>
${pager('/events', {project, model, type: types, limit: limit === 100 ? undefined : limit}, {offset, limit, total: page.total, shown: page.items.length})}`,
    },
  }
}
