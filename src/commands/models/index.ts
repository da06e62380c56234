import * as Flags from '@oclif/core/flags'
import type {Model, Page} from '../../backends/backend.js'
import {MODEL_SORT_FIELDS} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseLabelPairs, pageFlags, tableFlags} from '../../cli/flags.js'
import {formatTime} from '../../cli/output.js'
import {labelsText} from '../../cli/render.js'

export default class Models extends BaseCommand<typeof Models> {
  static override summary = 'List the models in a project.'
  static override aliases = ['models:list', 'model:list']
  static override examples = [
    '<%= config.bin %> models',
    '<%= config.bin %> models --sort-by last_updated_time --order-by desc --limit 10',
    '<%= config.bin %> model list --name mnist --label env=prod',
    "<%= config.bin %> models --json | jq -r '.items[].name'",
  ]

  static override flags = {
    'sort-by': Flags.string({options: [...MODEL_SORT_FIELDS], default: 'name', description: 'Field to sort by.'}),
    'order-by': Flags.string({options: ['asc', 'desc'], default: 'asc', description: 'Sort order.'}),
    name: Flags.string({description: 'Only models whose name contains this text (case-insensitive).'}),
    description: Flags.string({description: 'Only models whose description contains this text (case-insensitive).'}),
    label: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Only models with this label (KEY=VALUE); repeatable.'}),
    ...pageFlags('models'),
    ...tableFlags,
  }

  async run(): Promise<Page<Model>> {
    const backend = await this.backend()
    const page = await backend.listModels(this.project, {
      sort_by: this.flags['sort-by'] as (typeof MODEL_SORT_FIELDS)[number],
      order_by: this.flags['order-by'] as 'asc' | 'desc',
      name: this.flags.name,
      description: this.flags.description,
      labels: parseLabelPairs(this.flags.label),
      limit: this.flags.limit,
      offset: this.flags.offset,
    })
    if (page.items.length === 0 && page.total === 0) {
      this.note(`No models in project ${this.project} yet. Create one with: modelreg models create NAME`)
    }
    this.table(
      [
        'NAME',
        {header: 'VERSIONS', priority: 3},
        {header: 'LATEST', priority: 2},
        {header: 'DESCRIPTION', truncate: true, minWidth: 20, priority: 3},
        {header: 'LABELS', truncate: true, priority: 4},
        {header: 'UPDATED', priority: 2},
      ],
      page.items.map((m) => [m.name, m.version_count, m.latest_version ?? '', m.description, labelsText(m.labels), formatTime(m.updated_at)]),
    )
    if (page.total > page.offset + page.items.length) this.note(`Showing ${page.items.length} of ${page.total}; use --offset to see more.`)
    return page
  }
}
