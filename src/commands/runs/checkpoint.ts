import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {invalid} from '../../backends/errors.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseMetaPairs, parseMetricPairs} from '../../cli/flags.js'
import {formatBytes} from '../../cli/output.js'
import {startProgress} from '../../cli/progress.js'
import {type CheckpointPushResult, pushCheckpoint} from '../../registry/push.js'

export default class RunsCheckpoint extends BaseCommand<typeof RunsCheckpoint> {
  static override summary = "Store files as a checkpoint of a run and print the checkpoint's UUID."
  static override description = 'Files are stored by content, like versions: unchanged files are not stored again. Register a checkpoint as a model version with models:register.'
  static override aliases = ['run:checkpoint']
  static override examples = [
    'CKPT=$(<%= config.bin %> runs checkpoint $RUN ./ckpt --step 1000 --metric val_loss=0.21)',
    '<%= config.bin %> runs checkpoint $RUN model.pt optimizer.pt --step 5',
  ]

  static override args = {
    run: Args.string({required: true, description: 'Run id.'}),
    path: Args.string({required: true, multiple: true, description: 'Files or directories to store.'}),
  }

  static override flags = {
    step: Flags.integer({min: 0, description: 'The step (batch, epoch) the checkpoint was taken at.'}),
    metric: Flags.string({multiple: true, multipleNonGreedy: true, description: 'A metric NAME=NUMBER at this checkpoint; repeatable.'}),
    meta: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Metadata KEY=VALUE; repeatable.'}),
  }

  async run(): Promise<CheckpointPushResult> {
    this.exitOnInterrupt('push')
    const [run, ...paths] = this.positionals
    if (paths.length === 0) throw invalid('name at least one file or directory to store')
    const metrics = parseMetricPairs(this.flags.metric)
    const metadata = parseMetaPairs(this.flags.meta, '--meta')
    const backend = await this.backend()
    const progress = await startProgress()
    let checkpoint: CheckpointPushResult
    try {
      checkpoint = await pushCheckpoint(backend, run, paths, {step: this.flags.step, metrics, metadata, onProgress: (p) => progress.update(p)})
    } finally {
      progress.stop()
    }
    this.say(checkpoint.uuid)
    this.note(
      `Stored checkpoint ${checkpoint.uuid} of run ${checkpoint.run_id} (${checkpoint.file_count} file${checkpoint.file_count === 1 ? '' : 's'}, ${formatBytes(checkpoint.size)}; ${formatBytes(checkpoint.uploaded.bytes)} new).`,
    )
    return checkpoint
  }
}
