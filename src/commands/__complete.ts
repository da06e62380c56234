import {BaseCommand} from '../cli/base-command.js'
import {complete, lookupNames} from '../cli/complete.js'

/** What the completion scripts ask: the candidates for the last word, one a line. Never fails loudly. */
export default class Complete extends BaseCommand<typeof Complete> {
  static override hidden = true
  static override strict = false
  static override summary = 'Completion candidates for a command line (used by the completion scripts).'
  static override examples = ['<%= config.bin %> __complete -- models show cre']

  async run(): Promise<{words: string[]}> {
    let words: string[] = []
    try {
      const result = complete(this.config, this.positionals)
      words = result.words
      if (result.lookup) {
        if (result.lookup.project) (this.flags as {project?: string}).project = result.lookup.project
        words = await lookupNames(await this.backend(), result.lookup, this.project)
      }
    } catch {
      words = [] // a store that cannot be read completes nothing, quietly
    }
    if (!this.jsonEnabled()) for (const word of words) process.stdout.write(`${word}\n`)
    return {words}
  }
}
