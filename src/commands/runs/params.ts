import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {JsonObject} from '../../backends/backend.js'
import {invalid} from '../../backends/errors.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseMetaPairs} from '../../cli/flags.js'
import {formatJsonInline} from '../../cli/output.js'
import {alignRows} from '../../cli/render.js'

export default class RunsParams extends BaseCommand<typeof RunsParams> {
  static override summary = "Set a run's params (hyperparameters, config)."
  static override description = 'Setting an existing param to a different value is a conflict (exit 4) unless --overwrite; the same value again is fine.'
  static override aliases = ['run:params']
  static override examples = ['<%= config.bin %> runs params $RUN lr=0.01 batch_size=64 optimizer=adam', '<%= config.bin %> runs params $RUN lr=0.001 --overwrite']

  static override args = {
    run: Args.string({required: true, description: 'Run id.'}),
    param: Args.string({required: false, multiple: true, description: 'KEY=VALUE pairs (JSON values are parsed).'}),
  }

  static override flags = {
    overwrite: Flags.boolean({default: false, description: 'Allow changing params that already have a different value.'}),
  }

  async run(): Promise<{run: string; params: JsonObject}> {
    const [run, ...pairs] = this.positionals
    if (pairs.length === 0) throw invalid('give at least one KEY=VALUE param')
    const params = parseMetaPairs(pairs, 'param')
    const backend = await this.backend()
    const all = await backend.setRunParams(run, params, {overwrite: this.flags.overwrite})
    this.say(alignRows(Object.entries(all).map(([k, v]) => [k, formatJsonInline(v)]), ''))
    return {run, params: all}
  }
}
