import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {Model} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseJsonObject, parseLabelPairs} from '../../cli/flags.js'

export default class ModelsCreate extends BaseCommand<typeof ModelsCreate> {
  static override summary = 'Create a model (a named repository of versions).'
  static override aliases = ['model:create']
  static override examples = [
    '<%= config.bin %> models create credit-risk',
    '<%= config.bin %> model create mnist_cnn --description "a character recognition model" --metadata \'{"dataset_url": "http://yann.lecun.com/exdb/mnist/"}\'',
    '<%= config.bin %> models create wav2vec -p langtech --owner you@example.com --task asr --label env=dev',
  ]

  static override args = {
    name: Args.string({required: true, description: 'Model name: 1-128 letters, digits, ".", "_" or "-".'}),
  }

  static override flags = {
    description: Flags.string({char: 'd', description: 'What the model is for.'}),
    metadata: Flags.string({description: 'Metadata as a JSON object.'}),
    label: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Label KEY=VALUE (e.g. env=prod); repeatable.'}),
    owner: Flags.string({description: 'Owner (a person or team).'}),
    task: Flags.string({description: 'Task the model solves (e.g. classification, asr).'}),
  }

  async run(): Promise<Model> {
    const metadata = parseJsonObject(this.flags.metadata, '--metadata')
    const labels = parseLabelPairs(this.flags.label)
    const backend = await this.backend()
    const model = await backend.createModel(this.project, this.args.name, {
      description: this.flags.description,
      metadata,
      labels,
      owner: this.flags.owner,
      task: this.flags.task,
    })
    this.say(`Created model ${model.name} in project ${model.project}.`)
    return model
  }
}
