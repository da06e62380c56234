import {BaseCommand} from '../../cli/base-command.js'
import {tableFlags} from '../../cli/flags.js'
import {CONFIG_KEYS, type ConfigSource, effectiveValues} from '../../config/config.js'
import {unconfiguredAuthor} from '../../registry/provenance.js'

export interface ConfigReport {
  values: Record<string, {value: string | null; source: ConfigSource | 'git' | 'system'}>
  files: {user: string; project: string | null}
}

export default class ConfigShow extends BaseCommand<typeof ConfigShow> {
  static override summary = 'Show the effective configuration and where each value comes from (tokens masked).'
  static override examples = ['<%= config.bin %> config show', '<%= config.bin %> config show --profile team --json']

  static override flags = {...tableFlags}

  async run(): Promise<ConfigReport> {
    const c = this.settings()
    const values: ConfigReport['values'] = {}
    const raw = effectiveValues(c)
    for (const key of [...CONFIG_KEYS, 'profile'] as const) values[key] = {value: raw[key], source: c.sources[key]}
    if (!values.author.value) {
      // What a push will record: git's user.email here, else the login name.
      const {author, source} = unconfiguredAuthor()
      values.author = {value: author, source}
    }
    this.table(['KEY', {header: 'VALUE', truncate: true}, {header: 'SOURCE', truncate: true, priority: 2}], Object.entries(values).map(([k, v]) => [k, v.value ?? '', v.source]))
    this.say()
    this.say(`User config:    ${c.files.user}`)
    this.say(`Project config: ${c.files.project ?? '(none)'}`)
    return {values, files: c.files}
  }
}
