import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {invalid} from '../../backends/errors.js'
import {quote} from '../../backends/validation.js'
import {BaseCommand} from '../../cli/base-command.js'
import {CONFIG_KEYS, type ConfigSource, effectiveValues} from '../../config/config.js'

export default class ConfigGet extends BaseCommand<typeof ConfigGet> {
  static override summary = 'Print one effective configuration value.'
  static override examples = ['<%= config.bin %> config get project', '<%= config.bin %> config get home', '<%= config.bin %> config get token --reveal']

  static override args = {
    key: Args.string({required: true, description: `One of ${[...CONFIG_KEYS, 'profile'].join(', ')}.`}),
  }

  static override flags = {
    reveal: Flags.boolean({default: false, description: 'Print the token itself instead of a masked form.'}),
  }

  async run(): Promise<{key: string; value: string | null; source: ConfigSource}> {
    const key = this.args.key
    if (key !== 'profile' && !(CONFIG_KEYS as readonly string[]).includes(key)) {
      throw invalid(`unknown config key ${quote(key)}: use one of ${[...CONFIG_KEYS, 'profile'].join(', ')}`)
    }
    const c = this.settings()
    const value = effectiveValues(c, this.flags.reveal)[key as keyof ReturnType<typeof effectiveValues>] ?? null
    this.say(value ?? '')
    return {key, value, source: c.sources[key as keyof typeof c.sources]}
  }
}
