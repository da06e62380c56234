import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../../cli/base-command.js'
import {formatBytes} from '../../cli/output.js'
import {startProgress} from '../../cli/progress.js'
import {type DownloadResult, downloadFiles} from '../../registry/download.js'

export default class CheckpointsDownload extends BaseCommand<typeof CheckpointsDownload> {
  static override summary = "Download a checkpoint's files, verifying every byte against its digest."
  static override aliases = ['checkpoint:download']
  static override examples = ['<%= config.bin %> checkpoints download 6a24d772-f1f7-4655-9061-22d582afd96c -o ./ckpt']

  static override args = {
    uuid: Args.string({required: true, description: 'Checkpoint UUID.'}),
  }

  static override flags = {
    output: Flags.string({char: 'o', default: '.', description: 'Directory to write into.'}),
    force: Flags.boolean({char: 'f', default: false, description: 'Overwrite files that already exist.'}),
  }

  async run(): Promise<DownloadResult> {
    const backend = await this.backend()
    const checkpoint = await backend.getCheckpoint(this.args.uuid)
    const progress = await startProgress()
    let result: DownloadResult
    try {
      result = await downloadFiles(
        backend,
        {ref: `checkpoint ${checkpoint.uuid}`, project: checkpoint.project, created_at: checkpoint.created_at, files: checkpoint.files},
        this.flags.output,
        {force: this.flags.force, onProgress: (p) => progress.update(p)},
      )
    } finally {
      progress.stop()
    }
    this.say(`Downloaded checkpoint ${checkpoint.uuid} to ${result.directory} (${result.files.length} files, ${formatBytes(result.bytes)}, verified).`)
    return result
  }
}
