import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {TagMove} from '../../backends/backend.js'
import {invalid} from '../../backends/errors.js'
import {parseVersionNumber} from '../../backends/validation.js'
import {BaseCommand} from '../../cli/base-command.js'
import {resolveRef} from '../../cli/flags.js'

export default class ModelsTag extends BaseCommand<typeof ModelsTag> {
  static override summary = 'Create or move a tag (prod, staging, champion ...) onto a version.'
  static override description =
    '"latest" is implicit (always the highest version) and cannot be set by hand; a tag cannot be all digits. Every move is kept and shown by models:log. With --expect, the move happens only if the tag still points where you expect (exit 4 otherwise), so two promotions cannot silently overwrite each other.'

  static override aliases = ['model:tag']
  static override examples = [
    '<%= config.bin %> models tag credit-risk:3 prod',
    '<%= config.bin %> models tag credit-risk:staging prod --expect 2',
    '<%= config.bin %> models tag credit-risk champion --json',
  ]

  static override args = {
    ref: Args.string({required: true, description: 'The version to tag: [project/]name[:version|tag].'}),
    tag: Args.string({required: true, description: 'Tag name.'}),
  }

  static override flags = {
    expect: Flags.string({description: 'Only move the tag if it currently points at this version ("none": only if it does not exist yet).'}),
  }

  async run(): Promise<TagMove> {
    const ref = resolveRef(this.args.ref, this.project)
    let expect: number | null | undefined
    if (this.flags.expect !== undefined) {
      if (this.flags.expect === 'none') expect = null
      else if (/^[0-9]+$/.test(this.flags.expect)) expect = parseVersionNumber(this.flags.expect)
      else throw invalid('--expect takes a version number or "none"')
    }
    const backend = await this.backend()
    const move = await backend.setTag(ref.project, ref.name, this.args.tag, ref.selector, {expect_previous: expect})
    const what =
      move.previous === null ? '' : move.previous === move.version ? ' (already there)' : ` (moved from version ${move.previous})`
    this.say(`Tagged ${move.model}:${move.version} as ${move.tag}${what}.`)
    return move
  }
}
