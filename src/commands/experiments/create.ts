import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {Experiment} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'

export default class ExperimentsCreate extends BaseCommand<typeof ExperimentsCreate> {
  static override summary = 'Create an experiment (a group of related runs).'
  static override aliases = ['experiment:create']
  static override examples = [
    '<%= config.bin %> experiments create wav2vec-lid -p langtech --owner you@example.com --framework pytorch',
    '<%= config.bin %> experiments create churn-hpo --description "hyperparameter search for the churn model"',
  ]

  static override args = {
    name: Args.string({required: true, description: 'Experiment name.'}),
  }

  static override flags = {
    description: Flags.string({char: 'd', description: 'What the experiment is about.'}),
    owner: Flags.string({description: 'Who owns it.'}),
    framework: Flags.string({description: 'ML framework (pytorch, tensorflow, sklearn ...).'}),
  }

  async run(): Promise<Experiment> {
    const backend = await this.backend()
    const experiment = await backend.createExperiment(this.project, this.args.name, {
      description: this.flags.description,
      owner: this.flags.owner,
      framework: this.flags.framework,
    })
    this.say(`Created experiment ${experiment.name} in project ${experiment.project}.`)
    return experiment
  }
}
