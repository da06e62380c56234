import {createInterface} from 'node:readline/promises'
import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {DeleteResult} from '../../backends/backend.js'
import {invalid, RegistryError} from '../../backends/errors.js'
import {parseRef, parseVersionNumber} from '../../backends/validation.js'
import {BaseCommand} from '../../cli/base-command.js'

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({input: process.stdin, output: process.stderr})
  try {
    const answer = await rl.question(`${question} [y/N] `)
    return /^y(es)?$/i.test(answer.trim())
  } finally {
    rl.close()
  }
}

export default class ModelsDelete extends BaseCommand<typeof ModelsDelete> {
  static override summary = 'Delete a model, or one version of it.'
  static override description =
    'Version numbers are never reused: after deleting version 3, the next push is still 4. Tags on a deleted version are removed. Stored files are reclaimed later by gc. When stdin is not a terminal, --yes is required.'

  static override aliases = ['model:delete']
  static override examples = ['<%= config.bin %> models delete credit-risk:2', '<%= config.bin %> models delete old-model --yes']

  static override args = {
    ref: Args.string({required: true, description: 'NAME to delete the model, NAME:VERSION to delete one version.'}),
  }

  static override flags = {
    yes: Flags.boolean({char: 'y', default: false, description: 'Do not ask for confirmation.'}),
  }

  async run(): Promise<DeleteResult> {
    const ref = parseRef(this.args.ref)
    const project = ref.project ?? this.project
    let version: number | null = null
    if (ref.explicit) {
      if (!/^[0-9]+$/.test(ref.selector)) throw invalid(`delete a version by its number (e.g. ${ref.name}:3), not by a tag`)
      version = parseVersionNumber(ref.selector)
    }
    const backend = await this.backend()
    if (!this.flags.yes) {
      if (!process.stdin.isTTY) throw invalid('refusing to delete without --yes when stdin is not a terminal')
      const model = await backend.getModel(project, ref.name)
      const what =
        version === null
          ? `model ${model.name} and its ${model.version_count} version${model.version_count === 1 ? '' : 's'}`
          : `version ${version} of ${model.name}`
      if (!(await confirm(`Delete ${what} from project ${model.project}?`))) {
        throw new RegistryError('invalid_argument', 'not deleted (not confirmed)')
      }
    }
    const result = version === null ? await backend.deleteModel(project, ref.name) : await backend.deleteVersion(project, ref.name, version)
    this.say(
      result.model_deleted
        ? `Deleted model ${result.model} (${result.versions.length} version${result.versions.length === 1 ? '' : 's'}).`
        : `Deleted version ${result.versions[0]} of ${result.model}.`,
    )
    return result
  }
}
