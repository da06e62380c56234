import * as Flags from '@oclif/core/flags'
import type {Backend, Model, ModelQuery, Page} from '../../backends/backend.js'
import {MODEL_SORT_FIELDS} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseLabelPairs, pageFlags, tableFlags} from '../../cli/flags.js'
import {formatTime} from '../../cli/output.js'
import {labelsText} from '../../cli/render.js'

const SORT_KEY: Record<(typeof MODEL_SORT_FIELDS)[number], (m: Model) => string> = {
  name: (m) => m.name.toLowerCase(),
  description: (m) => m.description.toLowerCase(),
  creation_time: (m) => m.created_at,
  last_updated_time: (m) => m.updated_at,
}

/** One page of the models of every project, in the requested order: each project's first offset+limit, merged. */
async function acrossProjects(backend: Backend, query: ModelQuery & {limit: number; offset: number}): Promise<Page<Model>> {
  const wanted = query.offset + query.limit
  const items: Model[] = []
  let total = 0
  for (let offset = 0; ; offset += 500) {
    const projects = await backend.listProjects({limit: 500, offset})
    for (const project of projects.items) {
      const page = await backend.listModels(project.name, {...query, limit: Math.max(wanted, 1), offset: 0})
      total += page.total
      items.push(...page.items)
    }
    if (offset + projects.items.length >= projects.total || projects.items.length === 0) break
  }
  const key = SORT_KEY[query.sort_by ?? 'name']
  const sign = query.order_by === 'desc' ? -1 : 1
  items.sort((a, b) => sign * (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0) || (a.project < b.project ? -1 : 1))
  return {items: items.slice(query.offset, wanted), total, limit: query.limit, offset: query.offset}
}

export default class Models extends BaseCommand<typeof Models> {
  static override summary = 'List the models in a project (or every project with --all-projects).'
  static override aliases = ['models:list', 'model:list']
  static override examples = [
    '<%= config.bin %> models',
    '<%= config.bin %> models --sort-by last_updated_time --order-by desc --limit 10',
    '<%= config.bin %> model list --name mnist --label env=prod',
    "<%= config.bin %> models --json | jq -r '.items[].name'",
    '<%= config.bin %> models --all-projects --sort-by last_updated_time --order-by desc',
  ]

  static override flags = {
    'sort-by': Flags.string({options: [...MODEL_SORT_FIELDS], default: 'name', description: 'Field to sort by.'}),
    'order-by': Flags.string({options: ['asc', 'desc'], default: 'asc', description: 'Sort order.'}),
    name: Flags.string({description: 'Only models whose name contains this text (case-insensitive).'}),
    description: Flags.string({description: 'Only models whose description contains this text (case-insensitive).'}),
    label: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Only models with this label (KEY=VALUE); repeatable.'}),
    'all-projects': Flags.boolean({char: 'A', default: false, description: 'Models of every project (that the token can see), with a PROJECT column.'}),
    ...pageFlags('models'),
    ...tableFlags,
  }

  async run(): Promise<Page<Model>> {
    const backend = await this.backend()
    const query = {
      sort_by: this.flags['sort-by'] as (typeof MODEL_SORT_FIELDS)[number],
      order_by: this.flags['order-by'] as 'asc' | 'desc',
      name: this.flags.name,
      description: this.flags.description,
      labels: parseLabelPairs(this.flags.label),
      limit: this.flags.limit,
      offset: this.flags.offset,
    }
    const all = this.flags['all-projects']
    const page = all ? await acrossProjects(backend, query) : await backend.listModels(this.project, query)
    if (page.items.length === 0 && page.total === 0) {
      this.note(all ? 'No models in any project yet.' : `No models in project ${this.project} yet. Create one with: modelreg models create NAME`)
    }
    const row = (m: Model) => [m.name, m.version_count, m.latest_version ?? '', m.description, labelsText(m.labels), formatTime(m.updated_at)]
    this.table(
      [
        ...(all ? [{header: 'PROJECT', priority: 2}] : []),
        'NAME',
        {header: 'VERSIONS', priority: 3},
        {header: 'LATEST', priority: 2},
        {header: 'DESCRIPTION', truncate: true, minWidth: 20, priority: 3},
        {header: 'LABELS', truncate: true, priority: 4},
        {header: 'UPDATED', priority: 2},
      ],
      page.items.map((m) => (all ? [m.project, ...row(m)] : row(m))),
    )
    if (page.total > page.offset + page.items.length) this.note(`Showing ${page.items.length} of ${page.total}; use --offset to see more.`)
    return page
  }
}
