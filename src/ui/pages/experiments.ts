/** `/projects/P/experiments`: the experiments of a project, each linking to its runs table. */
import {type PageContext, type PageResult, queryInt, requireProject} from '../context.js'
import {html, path} from '../html.js'
import {pager, table, time} from '../layout.js'

export async function experimentsPage(ctx: PageContext): Promise<PageResult> {
  const {project} = ctx.params
  requireProject(ctx, project)
  const limit = queryInt(ctx.query, 'limit', 100, 1000)
  const offset = queryInt(ctx.query, 'offset', 0, 1e9)
  await ctx.backend.getProject(project)
  const page = await ctx.backend.listExperiments(project, {limit, offset})
  const rows = page.items.map((e) => [
    html`<a href="${path('projects', project, 'experiments', e.name)}">${e.name}</a>`,
    html`<span class="mr-description">${e.description}</span>`,
    e.owner ?? '',
    e.framework ?? '',
    String(e.run_count),
    time(e.created_at),
    time(e.updated_at),
  ])
  return {
    shell: {
      id: 'experiments',
      title: `Experiments in ${project}`,
      project,
      crumbs: [['Projects', '/'], [project, path('projects', project)], ['Experiments']],
      body: html`<h1>Experiments in ${project}</h1>
<p><a href="${path('projects', project, 'runs')}">All runs of the project</a></p>
${table('mr-experiments', ['Experiment', 'Description', 'Owner', 'Framework', {label: 'Runs', numeric: true}, 'Created', 'Updated'], rows, {empty: 'No experiments yet.'})}
${pager(path('projects', project, 'experiments'), {limit: limit === 100 ? undefined : limit}, {offset, limit, total: page.total, shown: page.items.length})}`,
    },
  }
}
