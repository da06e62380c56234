import {existsSync} from 'node:fs'
import {join} from 'node:path'
import * as Flags from '@oclif/core/flags'
import {conflict} from '../../backends/errors.js'
import {BaseCommand} from '../../cli/base-command.js'
import {PROJECT_FILE, userConfigPath} from '../../config/config.js'
import {PROJECT_CONFIG_TEMPLATE, USER_CONFIG_TEMPLATE, writeFileAtomic} from '../../config/config-file.js'

export default class ConfigInit extends BaseCommand<typeof ConfigInit> {
  static override summary = 'Write a commented configuration file to start from.'
  static override examples = ['<%= config.bin %> config init', '<%= config.bin %> config init --local   # ./.modelreg.yaml for this directory']

  static override flags = {
    local: Flags.boolean({default: false, description: `Write ./${PROJECT_FILE} (settings for this directory) instead of the user config.`}),
    force: Flags.boolean({default: false, description: 'Overwrite an existing file.'}),
  }

  async run(): Promise<{file: string}> {
    const file = this.flags.local ? join(process.cwd(), PROJECT_FILE) : userConfigPath()
    if (existsSync(file) && !this.flags.force) throw conflict(`${file} already exists; use --force to overwrite it, or config set to change one value`)
    await writeFileAtomic(file, this.flags.local ? PROJECT_CONFIG_TEMPLATE : USER_CONFIG_TEMPLATE)
    this.say(`Wrote ${file}`)
    return {file}
  }
}
