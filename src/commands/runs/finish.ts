import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {Run} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {runDuration} from '../../cli/render.js'

export default class RunsFinish extends BaseCommand<typeof RunsFinish> {
  static override summary = 'Finish a run: completed (default), failed or killed. A finished run cannot change status again.'
  static override aliases = ['run:finish']
  static override examples = ['<%= config.bin %> runs finish $RUN', '<%= config.bin %> runs finish $RUN --status failed', '<%= config.bin %> runs finish $RUN --status running   # a queued run starts']

  static override args = {
    run: Args.string({required: true, description: 'Run id, or a unique prefix of 6+ characters.'}),
  }

  static override flags = {
    status: Flags.string({options: ['completed', 'failed', 'killed', 'running'], default: 'completed', description: 'completed, failed or killed; running starts a queued run.'}),
  }

  async run(): Promise<Run> {
    const backend = await this.backend()
    const run = await backend.updateRun(this.args.run, {status: this.flags.status as Run['status']})
    const took = runDuration(run)
    this.say(`Run ${run.id} ${run.status}${took && run.end_time ? ` after ${took}` : ''}.`)
    return run
  }
}
