import * as Args from '@oclif/core/args'
import type {Model, Version} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {tableFlags} from '../../cli/flags.js'
import {renderModel, renderVersion} from '../../cli/render.js'
import {parseRef} from '../../backends/validation.js'

export default class ModelsDescribe extends BaseCommand<typeof ModelsDescribe> {
  static override summary = 'Show a model and its latest version.'
  static override aliases = ['model:describe']
  static override examples = ['<%= config.bin %> models describe credit-risk', '<%= config.bin %> model describe team-a/mnist_cnn --json']

  static override args = {
    name: Args.string({required: true, description: 'Model name, optionally as project/name.'}),
  }

  static override flags = {...tableFlags}

  async run(): Promise<{model: Model; latest: Version | null}> {
    const ref = parseRef(this.args.name)
    const project = ref.project ?? this.project
    const backend = await this.backend()
    const model = await backend.getModel(project, ref.name)
    const latest = model.latest_version === null ? null : await backend.getVersion(project, model.name, 'latest')
    this.say(renderModel(model))
    this.say()
    this.say(latest ? `Latest version:\n\n${renderVersion(latest, this.listingWidth())}` : 'No versions yet.')
    return {model, latest}
  }
}
