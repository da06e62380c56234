import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {Page, VersionSummary} from '../../backends/backend.js'
import {parseRef} from '../../backends/validation.js'
import {BaseCommand} from '../../cli/base-command.js'
import {pageFlags, tableFlags} from '../../cli/flags.js'
import {TAG_STYLE} from '../../cli/color.js'
import {formatBytes, formatTime} from '../../cli/output.js'

export default class ModelsListVersions extends BaseCommand<typeof ModelsListVersions> {
  static override summary = 'List the versions of a model, newest first (or by --sort-by, e.g. a metric).'
  static override aliases = ['model:list-versions', 'models:versions']
  static override examples = [
    '<%= config.bin %> model list-versions credit-risk',
    '<%= config.bin %> models list-versions credit-risk --limit 5',
    "<%= config.bin %> models list-versions credit-risk --json | jq '.items[] | {version, metrics}'",
    "<%= config.bin %> models list-versions credit-risk --where \"metrics.auc >= 0.85 and author like '%@example.com'\"",
    '<%= config.bin %> models list-versions credit-risk --sort-by metrics.auc --limit 1   # the best version',
  ]

  static override args = {
    name: Args.string({required: true, description: 'Model name, optionally as project/name.'}),
  }

  static override flags = {
    where: Flags.string({char: 'w', description: "Filter: metadata.KEY, metrics.KEY, tags, author, version, framework ... e.g. \"metrics.auc > 0.8 and tags != 'prod'\"."}),
    'sort-by': Flags.string({description: 'version (default), created_at, author, metrics.KEY or metadata.KEY; versions without it last.'}),
    'order-by': Flags.string({options: ['asc', 'desc'], default: 'desc', description: 'Sort order (desc: the highest first).'}),
    ...pageFlags('versions'),
    ...tableFlags,
  }

  async run(): Promise<Page<VersionSummary>> {
    const ref = parseRef(this.args.name)
    const backend = await this.backend()
    const page = await backend.listVersions(ref.project ?? this.project, ref.name, {
      where: this.flags.where,
      sort_by: this.flags['sort-by'],
      order_by: this.flags['order-by'] as 'asc' | 'desc',
      limit: this.flags.limit,
      offset: this.flags.offset,
    })
    if (page.total === 0) this.note(this.flags.where ? 'No versions match.' : `Model ${ref.name} has no versions yet.`)
    this.table(
      [
        'VERSION',
        {header: 'TAGS', truncate: true, style: TAG_STYLE},
        {header: 'AUTHOR', truncate: true, priority: 3},
        {header: 'CREATED', priority: 2},
        {header: 'SIZE', priority: 3},
        {header: 'FILES', priority: 4},
        {header: 'COMMENT', truncate: true, minWidth: 20, priority: 2},
      ],
      page.items.map((v) => [v.version, v.tags.join(','), v.author, formatTime(v.created_at), formatBytes(v.size), v.file_count, v.comment]),
    )
    return page
  }
}
