import * as Args from '@oclif/core/args'
import type {Run} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {renderRun} from '../../cli/render.js'

export default class RunsShow extends BaseCommand<typeof RunsShow> {
  static override summary = "Show a run: params, each metric's last, min and max, datasets, checkpoints, versions, status and timings."
  static override aliases = ['run:show']
  static override examples = ['<%= config.bin %> runs show $RUN', "<%= config.bin %> runs show 3f9a1c --json | jq '.metric_summaries'"]

  static override args = {
    run: Args.string({required: true, description: 'Run id (or a unique prefix of 6+ characters).'}),
  }

  async run(): Promise<Run> {
    const backend = await this.backend()
    const run = await backend.getRun(this.args.run)
    this.say(renderRun(run))
    return run
  }
}
