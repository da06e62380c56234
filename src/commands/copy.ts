import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {Backend} from '../backends/backend.js'
import {BaseCommand} from '../cli/base-command.js'
import {conflictExit, endProgress, openNamedBackend, progressLine, selectionFromFlags, summarize} from '../cli/move-output.js'
import {copyStore, type MoveReport} from '../registry/move/move.js'

export default class Copy extends BaseCommand<typeof Copy> {
  static override summary = 'Copy models (whole history), runs and blobs straight from one store to another.'
  static override description = `SELECTION as for export: model names, name:3, --project P, or nothing (--all) for everything, experiments and runs included. The source is the configured store, or --from; the target is --to: a profile name, a server URL (token from --to-token or MODELREG_TO_TOKEN), or a local store directory.

No temporary file: records are read from the source and restored into the target one model or run at a time, and only the blobs the target lacks are sent. Interrupted, it resumes when run again; a second run moves nothing. Conflicts as for import (exit 4).`

  static override examples = [
    '<%= config.bin %> copy --to team-server',
    '<%= config.bin %> copy credit-risk --to https://registry.example.com --to-token "$ADMIN_TOKEN"',
    '<%= config.bin %> copy --from team-server --to ./laptop-store --project team-a',
  ]

  static override args = {
    selection: Args.string({required: false, multiple: true, description: 'Models to copy: [project/]name or name:VERSION (none: everything).'}),
  }

  static override flags = {
    to: Flags.string({required: true, description: 'Target: a profile, a server URL, or a local store directory.'}),
    from: Flags.string({description: 'Source (default: the configured store): a profile, a server URL, or a local store directory.'}),
    'to-token': Flags.string({description: 'Token for a --to URL (default: MODELREG_TO_TOKEN).'}),
    'from-token': Flags.string({description: 'Token for a --from URL (default: MODELREG_FROM_TOKEN).'}),
    all: Flags.boolean({default: false, description: 'Everything (the default without a selection).'}),
    experiments: Flags.boolean({default: false, description: "With a selection: also its projects' experiments and runs."}),
    since: Flags.string({description: 'Only models and runs changed at or after this ISO 8601 time.'}),
    'dry-run': Flags.boolean({default: false, description: 'Say what would be copied; write nothing.'}),
  }

  private target?: Backend
  private source?: Backend

  async run(): Promise<MoveReport> {
    const flags = this.flags
    const selection = selectionFromFlags(this.positionals, flags, this.project)
    this.source = flags.from ? await openNamedBackend(flags.from, flags['from-token'] ?? process.env.MODELREG_FROM_TOKEN, this.config.userAgent) : await this.backend()
    this.target = await openNamedBackend(flags.to, flags['to-token'] ?? process.env.MODELREG_TO_TOKEN, this.config.userAgent)
    const progress = progressLine(this.jsonEnabled())
    let report: MoveReport
    try {
      report = await copyStore(this.source, this.target, selection, {dryRun: flags['dry-run'], progress})
    } finally {
      endProgress(progress)
    }
    for (const line of summarize(report, 'copied')) this.say(line)
    const exit = conflictExit(report)
    if (exit !== null) {
      if (this.jsonEnabled()) this.logJson(report)
      this.exit(exit)
    }
    return report
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    await this.target?.close().catch(() => {})
    if (this.source && this.source !== this.openedBackend) await this.source.close().catch(() => {})
    await super.finally(error)
  }
}
