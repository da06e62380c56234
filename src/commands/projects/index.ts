import type {Page, Project} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {pageFlags, tableFlags} from '../../cli/flags.js'
import {formatTime} from '../../cli/output.js'

export default class Projects extends BaseCommand<typeof Projects> {
  static override summary = 'List projects.'
  static override aliases = ['projects:list', 'project:list']
  static override examples = ['<%= config.bin %> projects', "<%= config.bin %> projects --json | jq -r '.items[].name'"]

  static override flags = {
    ...pageFlags('projects'),
    ...tableFlags,
  }

  async run(): Promise<Page<Project>> {
    const backend = await this.backend()
    const page = await backend.listProjects({limit: this.flags.limit, offset: this.flags.offset})
    if (page.total === 0) this.note('No projects yet: one is created on the first write (default: "default").')
    this.table(
      ['NAME', {header: 'MODELS', priority: 2}, {header: 'CREATED', priority: 3}, {header: 'DESCRIPTION', truncate: true, minWidth: 20, priority: 2}],
      page.items.map((p) => [p.name, p.model_count, formatTime(p.created_at), p.description]),
    )
    return page
  }
}
