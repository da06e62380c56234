import {existsSync} from 'node:fs'
import {resolve} from 'node:path'
import * as Flags from '@oclif/core/flags'
import {conflict} from '../../backends/errors.js'
import {BaseCommand} from '../../cli/base-command.js'
import {writeFileAtomic} from '../../config/config-file.js'
import {SERVER_CONFIG_TEMPLATE} from '../../server/config.js'

export default class ServerInitConfig extends BaseCommand<typeof ServerInitConfig> {
  static override summary = 'Write a commented server config (listen address, data directory, auth, limits, TLS).'
  static override examples = [
    '<%= config.bin %> server init-config',
    '<%= config.bin %> server init-config -o /etc/modelreg/server.yaml',
    '<%= config.bin %> server init-config -o -   # print it',
  ]

  static override flags = {
    output: Flags.string({char: 'o', default: 'modelreg-server.yaml', description: 'Where to write it ("-" for stdout).'}),
    force: Flags.boolean({default: false, description: 'Overwrite an existing file.'}),
  }

  async run(): Promise<{file: string | null}> {
    if (this.flags.output === '-') {
      if (!this.jsonEnabled()) process.stdout.write(SERVER_CONFIG_TEMPLATE)
      return {file: null}
    }
    const file = resolve(this.flags.output)
    if (existsSync(file) && !this.flags.force) throw conflict(`${file} already exists; use --force to overwrite it`)
    await writeFileAtomic(file, SERVER_CONFIG_TEMPLATE, 0o600)
    this.say(`Wrote ${file}. Edit it, then: modelreg server start --config ${this.flags.output}`)
    return {file}
  }
}
