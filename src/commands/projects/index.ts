import {Flags} from '@oclif/core'
import type {Page, Project} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {formatTime} from '../../cli/output.js'

export default class Projects extends BaseCommand<typeof Projects> {
  static override summary = 'List projects.'
  static override aliases = ['projects:list', 'project:list']
  static override examples = ['<%= config.bin %> projects', "<%= config.bin %> projects --json | jq -r '.items[].name'"]

  static override flags = {
    limit: Flags.integer({default: 100, min: 1, description: 'At most this many projects.'}),
    offset: Flags.integer({default: 0, min: 0, description: 'Skip this many projects first.'}),
  }

  async run(): Promise<Page<Project>> {
    const backend = await this.backend()
    const page = await backend.listProjects({limit: this.flags.limit, offset: this.flags.offset})
    if (page.total === 0) this.note('No projects yet: one is created on the first write (default: "default").')
    this.table(
      ['NAME', 'MODELS', 'CREATED', {header: 'DESCRIPTION', max: 60}],
      page.items.map((p) => [p.name, p.model_count, formatTime(p.created_at), p.description]),
    )
    return page
  }
}
