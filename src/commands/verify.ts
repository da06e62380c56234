import * as Args from '@oclif/core/args'
import type {VerifyQuery, VerifyReport} from '../backends/backend.js'
import {EXIT_CODES} from '../backends/errors.js'
import {parseRef} from '../backends/validation.js'
import {BaseCommand} from '../cli/base-command.js'
import {formatBytes} from '../cli/output.js'

export default class Verify extends BaseCommand<typeof Verify> {
  static override summary = 'Check the store: the database, and every referenced blob present with the right size and digest.'
  static override description = `Without REF, the whole store (every project, version and checkpoint), the database's own integrity check included; with REF, one model (a bare name: all its versions) or one version (name:3, name:prod). Against a server, the server checks its own store.

Exits 0 when nothing is wrong, 6 when something is, listing each problem with the versions and checkpoints it affects. Temp files of interrupted writes and unreferenced blobs are reported as warnings (gc reclaims them), not as damage.`

  static override examples = ['<%= config.bin %> verify', '<%= config.bin %> verify credit-risk:prod', "<%= config.bin %> verify --json | jq '.problems[].versions[]'"]

  static override args = {
    ref: Args.string({required: false, description: '[project/]name[:version|tag]; default: the whole store.'}),
  }

  async run(): Promise<VerifyReport> {
    let query: VerifyQuery = {}
    if (this.args.ref) {
      const ref = parseRef(this.args.ref)
      query = {project: ref.project ?? this.project, model: ref.name, selector: ref.explicit ? ref.selector : undefined}
    }
    const backend = await this.backend()
    const report = await backend.verify(query)
    const {checked} = report
    for (const problem of report.problems) this.say(`${problem.kind}: ${problem.message}`)
    for (const warning of report.warnings) this.note(`warning: ${warning.message}`)
    const what = `${checked.versions} version${checked.versions === 1 ? '' : 's'}, ${checked.checkpoints} checkpoint${checked.checkpoints === 1 ? '' : 's'}, ${checked.blobs} blob${checked.blobs === 1 ? '' : 's'} (${formatBytes(checked.bytes)} hashed)`
    this.say(
      report.ok
        ? `Verified ${report.scope}: ${what}. No problems.`
        : `Verified ${report.scope}: ${what}. ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}.`,
    )
    if (!report.ok) {
      if (this.jsonEnabled()) this.logJson(report)
      this.exit(EXIT_CODES.integrity)
    }
    return report
  }
}
