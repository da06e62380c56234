import type {Experiment, Page} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {pageFlags, tableFlags} from '../../cli/flags.js'
import {formatTime} from '../../cli/output.js'

export default class Experiments extends BaseCommand<typeof Experiments> {
  static override summary = 'List the experiments in a project.'
  static override aliases = ['experiments:list', 'experiment:list']
  static override examples = ['<%= config.bin %> experiments', '<%= config.bin %> experiments -p langtech --json']

  static override flags = {...pageFlags('experiments'), ...tableFlags}

  async run(): Promise<Page<Experiment>> {
    const backend = await this.backend()
    const page = await backend.listExperiments(this.project, {limit: this.flags.limit, offset: this.flags.offset})
    if (page.total === 0) this.note(`No experiments in project ${this.project} yet: runs:start --experiment NAME creates one.`)
    this.table(
      [
        'NAME',
        {header: 'RUNS', priority: 2},
        {header: 'OWNER', truncate: true, priority: 3},
        {header: 'FRAMEWORK', truncate: true, priority: 4},
        {header: 'UPDATED', priority: 2},
        {header: 'DESCRIPTION', truncate: true, minWidth: 20, priority: 3},
      ],
      page.items.map((e) => [e.name, e.run_count, e.owner ?? '', e.framework ?? '', formatTime(e.updated_at), e.description]),
    )
    return page
  }
}
