import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {invalid} from '../../backends/errors.js'
import {BaseCommand} from '../../cli/base-command.js'

export default class RunsDelete extends BaseCommand<typeof RunsDelete> {
  static override summary = 'Delete a run with its metrics, datasets and checkpoints.'
  static override description = 'Model versions made from the run stay whole: they keep their files and a snapshot of their lineage. --yes is required when stdin is not a terminal.'
  static override aliases = ['run:delete']
  static override examples = ['<%= config.bin %> runs delete $RUN --yes']

  static override args = {
    run: Args.string({required: true, description: 'Run id.'}),
  }

  static override flags = {
    yes: Flags.boolean({char: 'y', default: false, description: 'Do not ask for confirmation.'}),
  }

  async run(): Promise<{id: string; project: string; experiment: string}> {
    if (!this.flags.yes) {
      if (!process.stdin.isTTY) throw invalid('refusing to delete without --yes when stdin is not a terminal')
      const {createInterface} = await import('node:readline/promises')
      const rl = createInterface({input: process.stdin, output: process.stderr})
      const answer = await rl.question(`Delete run ${this.args.run} and its metrics and checkpoints? [y/N] `)
      rl.close()
      if (!/^y(es)?$/i.test(answer.trim())) throw invalid('not deleted (not confirmed)')
    }
    const backend = await this.backend()
    const deleted = await backend.deleteRun(this.args.run)
    this.say(`Deleted run ${deleted.id} from experiment ${deleted.experiment}.`)
    return deleted
  }
}
