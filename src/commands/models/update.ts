import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {Model} from '../../backends/backend.js'
import {invalid} from '../../backends/errors.js'
import {parseRef} from '../../backends/validation.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseJsonObject, parseLabelPairs, parseMetaPairs} from '../../cli/flags.js'
import {renderModel} from '../../cli/render.js'

export default class ModelsUpdate extends BaseCommand<typeof ModelsUpdate> {
  static override summary = "Change a model's description, metadata, labels, owner or task."
  static override description =
    'Metadata is merged at the top level, as Determined does: keys given replace the same keys, other keys stay. --unset removes keys.'

  static override aliases = ['model:update']
  static override examples = [
    '<%= config.bin %> models update credit-risk --description "Scores loan applications"',
    '<%= config.bin %> models update mnist_cnn --set git_url=http://github.com/user/repo --metadata \'{"metrics": {"test_set_acc": 0.97}}\'',
    '<%= config.bin %> models update mnist_cnn --unset key --label env=prod --unlabel stage',
  ]

  static override args = {
    name: Args.string({required: true, description: 'Model name, optionally as project/name.'}),
  }

  static override flags = {
    description: Flags.string({char: 'd', description: 'New description.'}),
    set: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Set metadata KEY=VALUE (JSON values are parsed); repeatable.'}),
    metadata: Flags.string({description: 'Merge this JSON object into the metadata (top level).'}),
    unset: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Remove a top-level metadata key; repeatable.'}),
    label: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Add or change a label KEY=VALUE; repeatable.'}),
    unlabel: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Remove a label KEY; repeatable.'}),
    owner: Flags.string({description: 'New owner ("" to clear).'}),
    task: Flags.string({description: 'New task ("" to clear).'}),
  }

  async run(): Promise<Model> {
    const ref = parseRef(this.args.name)
    const f = this.flags
    const metadata = {...parseJsonObject(f.metadata, '--metadata'), ...parseMetaPairs(f.set, '--set')}
    const labels = parseLabelPairs(f.label)
    const nothing =
      f.description === undefined &&
      f.owner === undefined &&
      f.task === undefined &&
      Object.keys(metadata).length === 0 &&
      Object.keys(labels).length === 0 &&
      !f.unset?.length &&
      !f.unlabel?.length
    if (nothing) throw invalid('nothing to update: give --description, --set, --metadata, --unset, --label, --unlabel, --owner or --task')
    const backend = await this.backend()
    const model = await backend.updateModel(ref.project ?? this.project, ref.name, {
      description: f.description,
      owner: f.owner === undefined ? undefined : f.owner || null,
      task: f.task === undefined ? undefined : f.task || null,
      metadata,
      unset: f.unset,
      labels,
      unlabel: f.unlabel,
    })
    this.say(renderModel(model))
    return model
  }
}
