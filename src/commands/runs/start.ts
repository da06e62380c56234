import * as Flags from '@oclif/core/flags'
import type {Run} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseLabelPairs, parseMetaPairs, readObjectFile} from '../../cli/flags.js'
import {collectSource, resolveAuthor} from '../../registry/provenance.js'

export default class RunsStart extends BaseCommand<typeof RunsStart> {
  static override summary = "Start a run in an experiment and print the run's id."
  static override description =
    'The experiment is created if it does not exist. Recorded automatically, as for pushes: author, host, git commit/branch/dirty, CI job, and the start time. Finish the run with runs:finish.'

  static override aliases = ['run:start']
  static override examples = [
    'RUN=$(<%= config.bin %> runs start --experiment mnist --param lr=0.01 --param epochs=10)',
    '<%= config.bin %> runs start -e churn-hpo --name trial-7 --params-file params.yaml --tag team=risk',
    '<%= config.bin %> runs start -e nightly --queued --json | jq -r .id',
  ]

  static override flags = {
    experiment: Flags.string({char: 'e', required: true, description: 'Experiment to start the run in.'}),
    name: Flags.string({char: 'n', description: 'A name, unique in the experiment (e.g. trial-7).'}),
    param: Flags.string({multiple: true, multipleNonGreedy: true, description: 'A param KEY=VALUE (JSON values are parsed); repeatable.'}),
    'params-file': Flags.string({description: 'Params from a YAML or JSON file (--param wins on the same key).'}),
    tag: Flags.string({multiple: true, multipleNonGreedy: true, description: 'A tag KEY=VALUE; repeatable.'}),
    queued: Flags.boolean({default: false, description: 'Record the run as queued (not started yet).'}),
  }

  async run(): Promise<Run> {
    const fileParams = this.flags['params-file'] ? await readObjectFile(this.flags['params-file'], '--params-file') : {}
    const params = {...fileParams, ...parseMetaPairs(this.flags.param, '--param')}
    const tags = parseLabelPairs(this.flags.tag, '--tag')
    const author = resolveAuthor(this.settings().author)
    const source = await collectSource()
    const backend = await this.backend()
    const run = await backend.createRun(this.project, {
      experiment: this.flags.experiment,
      name: this.flags.name,
      status: this.flags.queued ? 'queued' : 'running',
      params,
      tags,
      author,
      source,
    })
    // The id alone on stdout, so that RUN=$(modelreg runs start ...) works.
    this.say(run.id)
    this.note(`Started run ${run.id}${run.name ? ` (${run.name})` : ''} in experiment ${run.experiment}.`)
    return run
  }
}
