import * as Flags from '@oclif/core/flags'
import type {GcReport} from '../backends/backend.js'
import {BaseCommand} from '../cli/base-command.js'
import {parseDurationSeconds} from '../cli/flags.js'
import {formatBytes} from '../cli/output.js'

export default class Gc extends BaseCommand<typeof Gc> {
  static override summary = 'Reclaim space: remove blobs no version, checkpoint or attachment references, and stale temp files.'
  static override description = `Anything written or used more recently than --grace (default 1h) is kept, so a push in progress never loses a blob it has just stored or found present; a push and a gc at the same moment both succeed. Against a server, the server collects its own store.`

  static override examples = ['<%= config.bin %> gc --dry-run', '<%= config.bin %> gc', '<%= config.bin %> gc --grace 0   # also what was used a moment ago']

  static override flags = {
    'dry-run': Flags.boolean({default: false, description: 'Report what would be removed; remove nothing.'}),
    grace: Flags.string({default: '1h', description: 'Keep what was used more recently than this (0, 90s, 30m, 2h, 7d).'}),
  }

  async run(): Promise<GcReport> {
    const grace = parseDurationSeconds(this.flags.grace, '--grace')
    const backend = await this.backend()
    const report = await backend.gc({dry_run: this.flags['dry-run'], grace_seconds: grace})
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
    const verb = report.dry_run ? 'Would remove' : 'Removed'
    this.say(
      `${verb} ${plural(report.blobs.count, 'unreferenced blob')} (${formatBytes(report.blobs.bytes)}) and ${plural(report.temp_files.count, 'stale temp file')} (${formatBytes(report.temp_files.bytes)}).`,
    )
    if (report.kept_recent.count) {
      this.say(`Kept ${plural(report.kept_recent.count, 'unreferenced blob')} (${formatBytes(report.kept_recent.bytes)}) used within the last ${this.flags.grace}.`)
    }
    return report
  }
}
