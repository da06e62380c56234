import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {VersionCreated} from '../../backends/backend.js'
import {invalid} from '../../backends/errors.js'
import {parseRef} from '../../backends/validation.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseMetaPairs} from '../../cli/flags.js'
import {collectSource, resolveAuthor} from '../../registry/provenance.js'
import {newRequestId} from '../../registry/push.js'

export default class ModelsRegister extends BaseCommand<typeof ModelsRegister> {
  static override summary = "Register a run's checkpoint as a new version of a model (no bytes copied), with its lineage."
  static override description =
    "The version's files are the checkpoint's; its lineage records the run, experiment, checkpoint, datasets, params and final metrics, and survives the run being deleted later. The model is created if needed."

  static override aliases = ['model:register']
  static override examples = [
    '<%= config.bin %> model register mnist_cnn 6a24d772-f1f7-4655-9061-22d582afd96c',
    '<%= config.bin %> models register credit-risk $CKPT -m "best of the sweep" --tag staging',
  ]

  static override args = {
    name: Args.string({required: true, description: 'Model name, optionally as project/name.'}),
    checkpoint: Args.string({required: true, description: 'Checkpoint UUID.'}),
  }

  static override flags = {
    comment: Flags.string({char: 'm', aliases: ['message'], description: 'What this version is.'}),
    tag: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Tag the new version; repeatable.'}),
    meta: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Metadata KEY=VALUE; repeatable.'}),
  }

  async run(): Promise<VersionCreated> {
    const ref = parseRef(this.args.name)
    if (ref.explicit) throw invalid(`register into a model name, not a version or tag (${this.args.name})`)
    const metadata = parseMetaPairs(this.flags.meta, '--meta')
    const author = resolveAuthor(this.settings().author)
    const source = await collectSource()
    const backend = await this.backend()
    const created = await backend.registerCheckpoint(ref.project ?? this.project, ref.name, this.args.checkpoint, {
      author,
      source,
      comment: this.flags.comment,
      tags: this.flags.tag,
      metadata,
      request_id: newRequestId(),
    })
    const v = created.version
    if (created.model_created) this.say(`Created model ${v.model} in project ${v.project}.`)
    this.say(`Registered checkpoint ${this.args.checkpoint} as ${v.model}:${v.version}${v.tags.length ? ` (${v.tags.join(', ')})` : ''}.`)
    return created
  }
}
