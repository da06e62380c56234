import {join} from 'node:path'
import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../../cli/base-command.js'
import {PROJECT_FILE, userConfigPath} from '../../config/config.js'
import {configKeyPath, isSecretKey, setConfigValue} from '../../config/config-file.js'

export default class ConfigSet extends BaseCommand<typeof ConfigSet> {
  static override summary = 'Set a value in the user config (or ./.modelreg.yaml with --local).'
  static override examples = [
    '<%= config.bin %> config set project churn',
    '<%= config.bin %> config set profiles.team.url https://modelreg.example.com',
    '<%= config.bin %> config set profile team',
    '<%= config.bin %> config set --local project fraud',
    '<%= config.bin %> config set --unset author',
  ]

  static override args = {
    key: Args.string({required: true, description: 'backend, url, token, project, home, author, profile, or profiles.NAME.KEY.'}),
    value: Args.string({required: false, description: 'The value (omit with --unset).'}),
  }

  static override flags = {
    local: Flags.boolean({default: false, description: `Write ./${PROJECT_FILE} instead of the user config.`}),
    unset: Flags.boolean({default: false, description: 'Remove the key instead of setting it.'}),
  }

  async run(): Promise<{key: string; value: string | null; file: string}> {
    const {key, value} = this.args
    configKeyPath(key)
    if (!this.flags.unset && value === undefined) this.error('give a VALUE, or --unset to remove the key', {exit: 2})
    const file = this.flags.local ? join(process.cwd(), PROJECT_FILE) : userConfigPath()
    const newValue = this.flags.unset ? null : (value as string)
    await setConfigValue(file, key, newValue)
    const shown = newValue === null ? '(unset)' : isSecretKey(key) ? '(hidden)' : newValue
    this.say(`${key} = ${shown} in ${file}`)
    return {key, value: isSecretKey(key) && newValue !== null ? '(hidden)' : newValue, file}
  }
}
