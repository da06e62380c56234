import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {Run} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {renderRun} from '../../cli/render.js'
import {pagePaths, pageUrl} from '../../ui/urls.js'

export default class RunsShow extends BaseCommand<typeof RunsShow> {
  static override summary = "Show a run: params, each metric's last, min and max, datasets, checkpoints, versions, status and timings."
  static override aliases = ['run:show']
  static override examples = [
    '<%= config.bin %> runs show $RUN',
    "<%= config.bin %> runs show 3f9a1c --json | jq '.metric_summaries'",
    "<%= config.bin %> runs show 3f9a1c --url   # the run's web page (charts) on the server",
  ]

  static override flags = {
    url: Flags.boolean({aliases: ['web'], default: false, description: "Print the run's web page URL (with a server) instead of the details; --json: {\"url\"}."}),
  }

  static override args = {
    run: Args.string({required: true, description: 'Run id, or a unique prefix of 6+ characters.'}),
  }

  async run(): Promise<Run | {url: string}> {
    if (this.flags.url) pageUrl(this.settings(), '/') // refuse before any request when there is no server
    const backend = await this.backend()
    const run = await backend.getRun(this.args.run)
    if (this.flags.url) {
      const url = pageUrl(this.settings(), pagePaths.run(run.id))
      this.say(url)
      return {url}
    }
    this.say(renderRun(run))
    return run
  }
}
