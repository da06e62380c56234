import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../../cli/base-command.js'
import {conflictExit, endProgress, progressLine, summarize} from '../../cli/move-output.js'
import {importMlflow, type MlflowReport} from '../../registry/move/mlflow/import.js'
import {FileStoreSource} from '../../registry/move/mlflow/file-store.js'
import {RestSource} from '../../registry/move/mlflow/rest.js'
import type {MlflowSource} from '../../registry/move/mlflow/source.js'

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

export default class ImportMlflow extends BaseCommand<typeof ImportMlflow> {
  static override summary = 'Import experiments, runs and registered models from MLflow (a tracking server or an mlruns/ directory).'
  static override description = `URI: an MLflow tracking server (http(s)://host:port; credentials from MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD), or a file store directory (mlruns/ or file:///...).

Experiments become experiments and runs become runs (same ids, status, times, params, tags, every metric point with its step and time; git tags become the run's source) in the project (-p). Registered models become models, their versions keep their numbers (gaps too), times, users and descriptions (as comments); their files are the artifacts under the version's source; aliases and stages (production, staging, archived) become tags; version tags become metadata; a version made from a run keeps it as lineage.

Run it again to pick up what is new: nothing is imported twice. What cannot be carried over is listed at the end (and under "unmapped" with --json). Into a server, the token needs admin scope. The mapping is in docs/move.md under "Coming from MLflow".`

  static override examples = [
    '<%= config.bin %> import mlflow ./mlruns',
    '<%= config.bin %> import mlflow http://mlflow.internal:5000 -p team-a --dry-run',
    'MLFLOW_TRACKING_TOKEN=... <%= config.bin %> import mlflow https://mlflow.example.com --json',
  ]

  static override args = {
    uri: Args.string({required: true, description: 'An MLflow tracking server URL, or a file store directory: mlruns/, file:///...'}),
  }

  static override flags = {
    'dry-run': Flags.boolean({default: false, description: 'Read MLflow and say what would be imported; write nothing (artifact bytes are not read: files are counted as listed).'}),
  }

  async run(): Promise<MlflowReport> {
    const uri = this.args.uri
    const source: MlflowSource = /^https?:\/\//i.test(uri) ? RestSource.fromEnv(uri) : await FileStoreSource.open(uri)
    const backend = await this.backend()
    const progress = progressLine(this.jsonEnabled())
    let report: MlflowReport
    try {
      report = await importMlflow(backend, source, {project: this.project, dryRun: this.flags['dry-run'], progress})
    } finally {
      endProgress(progress)
      await source.close()
    }
    for (const line of summarize(report, 'imported')) this.say(line)
    this.say(`Experiments: ${report.experiments.written} new, ${report.experiments.unchanged} already there (project ${report.project}).`)
    if (report.unmapped.length) {
      this.say('')
      this.say(`Not carried over as it is in MLflow (${plural(report.unmapped.length, 'item')}):`)
      for (const u of report.unmapped) this.say(`  ${u.kind.padEnd(14)} ${u.mlflow}: ${u.reason}`)
    }
    const exit = conflictExit(report)
    if (exit !== null) {
      if (this.jsonEnabled()) this.logJson(report)
      this.exit(exit)
    }
    return report
  }
}
