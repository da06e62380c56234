import type {Experiment, Page} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {pageFlags} from '../../cli/flags.js'
import {formatTime} from '../../cli/output.js'

export default class Experiments extends BaseCommand<typeof Experiments> {
  static override summary = 'List the experiments in a project.'
  static override aliases = ['experiments:list', 'experiment:list']
  static override examples = ['<%= config.bin %> experiments', '<%= config.bin %> experiments -p langtech --json']

  static override flags = {...pageFlags('experiments')}

  async run(): Promise<Page<Experiment>> {
    const backend = await this.backend()
    const page = await backend.listExperiments(this.project, {limit: this.flags.limit, offset: this.flags.offset})
    if (page.total === 0) this.note(`No experiments in project ${this.project} yet: runs:start --experiment NAME creates one.`)
    this.table(
      ['NAME', 'RUNS', 'OWNER', 'FRAMEWORK', 'UPDATED', {header: 'DESCRIPTION', max: 50}],
      page.items.map((e) => [e.name, e.run_count, e.owner ?? '', e.framework ?? '', formatTime(e.updated_at), e.description]),
    )
    return page
  }
}
