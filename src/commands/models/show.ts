import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {Version} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {resolveRef, tableFlags} from '../../cli/flags.js'
import {renderVersion} from '../../cli/render.js'
import {pagePaths, pageUrl} from '../../ui/urls.js'

export default class ModelsShow extends BaseCommand<typeof ModelsShow> {
  static override summary = 'Show one version: metadata, metrics, files, attachments, tags and source.'
  static override aliases = ['model:show']
  static override examples = [
    '<%= config.bin %> models show credit-risk:latest',
    '<%= config.bin %> models:show credit-risk:3',
    "<%= config.bin %> models show team-a/credit-risk:prod --json | jq -r '.files[].sha256'",
    '<%= config.bin %> models show credit-risk:prod --url   # the version\'s web page on the server',
  ]

  static override flags = {
    url: Flags.boolean({aliases: ['web'], default: false, description: "Print the version's web page URL (with a server) instead of the details; --json: {\"url\"}."}),
    ...tableFlags,
  }

  static override args = {
    ref: Args.string({required: true, description: '[project/]name[:version|tag]; a bare name means latest.'}),
  }

  async run(): Promise<Version | {url: string}> {
    const ref = resolveRef(this.args.ref, this.project)
    if (this.flags.url) pageUrl(this.settings(), '/') // refuse before any request when there is no server
    const backend = await this.backend()
    const version = await backend.getVersion(ref.project, ref.name, ref.selector)
    if (this.flags.url) {
      // The version's number, not the tag: a shared link keeps showing what was shared.
      const url = pageUrl(this.settings(), pagePaths.version(version.project, version.model, version.version))
      this.say(url)
      return {url}
    }
    this.say(renderVersion(version, this.listingWidth()))
    return version
  }
}
