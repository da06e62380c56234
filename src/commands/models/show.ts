import * as Args from '@oclif/core/args'
import type {Version} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {resolveRef} from '../../cli/flags.js'
import {renderVersion} from '../../cli/render.js'

export default class ModelsShow extends BaseCommand<typeof ModelsShow> {
  static override summary = 'Show one version: metadata, metrics, files, attachments, tags and source.'
  static override aliases = ['model:show']
  static override examples = [
    '<%= config.bin %> models show credit-risk:latest',
    '<%= config.bin %> models:show credit-risk:3',
    "<%= config.bin %> models show team-a/credit-risk:prod --json | jq -r '.files[].sha256'",
  ]

  static override args = {
    ref: Args.string({required: true, description: 'Reference: [project/]name[:version|tag] (a bare name means latest).'}),
  }

  async run(): Promise<Version> {
    const ref = resolveRef(this.args.ref, this.project)
    const backend = await this.backend()
    const version = await backend.getVersion(ref.project, ref.name, ref.selector)
    this.say(renderVersion(version))
    return version
  }
}
