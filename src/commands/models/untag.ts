import * as Args from '@oclif/core/args'
import type {TagRemoval} from '../../backends/backend.js'
import {parseRef} from '../../backends/validation.js'
import {BaseCommand} from '../../cli/base-command.js'

export default class ModelsUntag extends BaseCommand<typeof ModelsUntag> {
  static override summary = 'Remove a tag from a model.'
  static override aliases = ['model:untag']
  static override examples = ['<%= config.bin %> models untag credit-risk staging']

  static override args = {
    name: Args.string({required: true, description: 'Model name, optionally as project/name.'}),
    tag: Args.string({required: true, description: 'Tag to remove.'}),
  }

  async run(): Promise<TagRemoval> {
    const ref = parseRef(this.args.name)
    const backend = await this.backend()
    const removal = await backend.removeTag(ref.project ?? this.project, ref.name, this.args.tag)
    this.say(`Removed tag ${removal.tag} from ${removal.model} (it was on version ${removal.version}).`)
    return removal
  }
}
