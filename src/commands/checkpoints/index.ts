import * as Args from '@oclif/core/args'
import type {CheckpointSummary} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {tableFlags} from '../../cli/flags.js'
import {formatTime} from '../../cli/output.js'
import {checkpointRows} from '../../cli/render.js'

export default class Checkpoints extends BaseCommand<typeof Checkpoints> {
  static override summary = 'List the checkpoints of a run.'
  static override aliases = ['checkpoints:list', 'checkpoint:list']
  static override examples = ['<%= config.bin %> checkpoints $RUN', "<%= config.bin %> checkpoints $RUN --json | jq -r '.checkpoints | max_by(.step) | .uuid'"]

  static override args = {
    run: Args.string({required: true, description: 'Run id.'}),
  }

  static override flags = {...tableFlags}

  async run(): Promise<{run: string; checkpoints: CheckpointSummary[]}> {
    const backend = await this.backend()
    const checkpoints = await backend.listCheckpoints(this.args.run)
    if (checkpoints.length === 0) this.note('No checkpoints yet: runs:checkpoint RUN PATH stores one.')
    const rows = checkpointRows(checkpoints)
    this.table(
      [
        'UUID',
        {header: 'STEP', priority: 2},
        {header: 'FILES', priority: 4},
        {header: 'SIZE', priority: 3},
        {header: 'METRICS', truncate: true, minWidth: 20, priority: 2},
        {header: 'CREATED', priority: 3},
      ],
      rows.map((row, i) => [...row, formatTime(checkpoints[i].created_at)]),
    )
    return {run: this.args.run, checkpoints}
  }
}
