import * as Args from '@oclif/core/args'
import type {Tag} from '../../backends/backend.js'
import {parseRef} from '../../backends/validation.js'
import {BaseCommand} from '../../cli/base-command.js'
import {TAG_STYLE} from '../../cli/color.js'
import {tableFlags} from '../../cli/flags.js'
import {formatTime} from '../../cli/output.js'

export default class ModelsTags extends BaseCommand<typeof ModelsTags> {
  static override summary = 'List the tags of a model (latest first, then by name).'
  static override aliases = ['model:tags']
  static override examples = ['<%= config.bin %> models tags credit-risk', "<%= config.bin %> models tags credit-risk --json | jq '.tags'"]

  static override args = {
    name: Args.string({required: true, description: 'Model name, optionally as project/name.'}),
  }

  static override flags = {...tableFlags}

  async run(): Promise<{project: string; model: string; tags: Tag[]}> {
    const ref = parseRef(this.args.name)
    const project = ref.project ?? this.project
    const backend = await this.backend()
    const tags = await backend.listTags(project, ref.name)
    if (tags.length === 0) this.note(`Model ${ref.name} has no versions, so no tags.`)
    this.table(
      [{header: 'TAG', style: TAG_STYLE}, 'VERSION', {header: 'UPDATED', priority: 2}],
      tags.map((t) => [t.tag, t.version, formatTime(t.updated_at)]),
    )
    return {project, model: ref.name, tags}
  }
}
