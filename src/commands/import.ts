import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../cli/base-command.js'
import {conflictExit, endProgress, progressLine, summarize} from '../cli/move-output.js'
import {importArchive, type MoveReport} from '../registry/move/move.js'

export default class Import extends BaseCommand<typeof Import> {
  static override summary = 'Restore an archive written by export into the configured store, losslessly.'
  static override description = `Version numbers, run ids, checkpoint UUIDs, times, authors, tag history and model events are kept; numbering continues after the highest number the model ever used. The whole archive is checked first (every blob's sha256, every record, no entry outside the format): a damaged or forged archive is refused and nothing is imported.

Each model and each run is imported all-or-nothing. Importing the same archive again changes nothing. A model or run the store already has with other content is a conflict: it is left as it is, the others are imported, the conflicts are listed and the command exits 4. Into a server, the token needs admin scope (the import writes history). Event ids are not kept: imported events are appended to the target's journal with their original times.

From MLflow (a tracking server or an mlruns/ directory): modelreg import mlflow URI.`

  static override examples = ['<%= config.bin %> import backup.tar.gz', '<%= config.bin %> import backup.tar --dry-run', 'ssh backup "cat team-a.tar" | <%= config.bin %> import - --json']

  static override args = {
    file: Args.string({required: true, description: 'The archive, or - for stdin.'}),
  }

  static override flags = {
    'dry-run': Flags.boolean({default: false, description: 'Check the archive and say what would be written; write nothing.'}),
  }

  async run(): Promise<MoveReport> {
    const backend = await this.backend()
    const progress = progressLine(this.jsonEnabled())
    let report: MoveReport
    try {
      report = await importArchive(backend, this.args.file, {dryRun: this.flags['dry-run'], progress})
    } finally {
      endProgress(progress)
    }
    for (const line of summarize(report, 'imported')) this.say(line)
    const exit = conflictExit(report)
    if (exit !== null) {
      if (this.jsonEnabled()) this.logJson(report)
      this.exit(exit)
    }
    return report
  }
}
