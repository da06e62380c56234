import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../cli/base-command.js'
import {collectSource, resolveAuthor} from '../registry/provenance.js'
import {type SyncReport, syncFile} from '../registry/sync.js'

export default class Sync extends BaseCommand<typeof Sync> {
  static override summary = 'Create or update a project, experiments, runs and models from one YAML or JSON file.'
  static override description = `The file describes experiments with their runs (params, tags, datasets, metric series, status) and models (metadata, labels, and files to push, linked to a run). sync creates what is missing and updates what differs, so running it twice changes nothing the second time. Runs are found again by experiment and name (when several runs share a name, the newest; the output says so). The whole file is checked, and every path it names read, before anything is written: a mistake anywhere leaves the store unchanged, and so does a finished run asked to change status or to take new points (--allow-finished lets it take them). Paths are relative to the file. See examples/sync.yaml.`

  static override examples = ['<%= config.bin %> sync examples/sync.yaml', '<%= config.bin %> sync project.json --json | jq .changes']

  static override args = {
    file: Args.string({required: true, description: 'The YAML or JSON file.'}),
  }

  static override flags = {
    'allow-finished': Flags.boolean({default: false, description: "Log the file's new points to runs that have finished, too."}),
  }

  async run(): Promise<SyncReport> {
    const author = resolveAuthor(this.settings().author)
    const source = await collectSource()
    const backend = await this.backend()
    const report = await syncFile(backend, this.args.file, {author, source, defaultProject: this.project, allowFinished: this.flags['allow-finished']})
    for (const note of report.notes) this.say(`note: ${note}`)
    if (report.changes.length === 0) this.say(`No changes (${report.unchanged} already up to date in project ${report.project}).`)
    else {
      for (const c of report.changes) this.say(`${c.action} ${c.kind} ${c.name}${c.fields.length ? ` (${c.fields.join(', ')})` : ''}`)
      this.say(`${report.changes.length} change${report.changes.length === 1 ? '' : 's'}, ${report.unchanged} unchanged, in project ${report.project}.`)
    }
    return report
  }
}
