import * as Args from '@oclif/core/args'
import type {Experiment, RunSummary} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {statusStyle} from '../../cli/color.js'
import {renderFields} from '../../cli/output.js'
import {alignRows, metricsInline, runDuration, timeWithAge} from '../../cli/render.js'

export default class ExperimentsShow extends BaseCommand<typeof ExperimentsShow> {
  static override summary = 'Show an experiment and its latest runs.'
  static override aliases = ['experiment:show']
  static override examples = ['<%= config.bin %> experiments show wav2vec-lid -p langtech', '<%= config.bin %> experiments show churn-hpo --json']

  static override args = {
    name: Args.string({required: true, description: 'Experiment name.'}),
  }

  async run(): Promise<{experiment: Experiment; runs: RunSummary[]}> {
    const backend = await this.backend()
    const experiment = await backend.getExperiment(this.project, this.args.name)
    const runs = (await backend.listRuns(this.project, {experiment: experiment.name, limit: 20})).items
    this.say(
      renderFields([
        ['Experiment', experiment.name],
        ['Project', experiment.project],
        ['Description', experiment.description],
        ['Owner', experiment.owner],
        ['Framework', experiment.framework],
        ['Runs', experiment.run_count],
        ['Created', timeWithAge(experiment.created_at)],
      ]),
    )
    if (runs.length) {
      this.say(`\nLatest runs:\n${alignRows([['ID', 'NAME', 'STATUS', 'DURATION', 'METRICS'], ...runs.map((r) => [r.id, r.name ?? '', r.status, runDuration(r), metricsInline(r.metrics)])], '  ', (row, i) => (i === 2 ? statusStyle(row[i]) : undefined))}`)
    }
    return {experiment, runs}
  }
}
