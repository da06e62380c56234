import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {loadHelpClass} from '@oclif/core/help'
import type {Command} from '@oclif/core'
import {notFound} from '../backends/errors.js'
import {quote} from '../backends/validation.js'
import {BaseCommand} from '../cli/base-command.js'
import {commandDocs} from '../cli/docs-pages.js'
import {usageLine} from '../cli/usage-errors.js'

interface CommandSummary {
  id: string
  summary: string
  aliases: string[]
  /** The command's section of the docs, relative to the repository (docs/commands.md#models-push). */
  docs: string
}

interface CommandHelp extends CommandSummary {
  description: string
  usage: string
  args: {name: string; description: string; required: boolean}[]
  flags: {name: string; char: string | null; description: string; takes_value: boolean; multiple: boolean}[]
  examples: string[]
}

const summaryOf = (c: Command.Loadable, all: Command.Loadable[]): CommandSummary => ({
  id: c.id.replaceAll(':', ' '),
  summary: c.summary ?? '',
  aliases: c.aliases.map((a) => a.replaceAll(':', ' ')),
  docs: commandDocs(c, all),
})

/**
 * Help is oclif's (the same text as --help); with --json, the command list or one command's
 * arguments, flags and examples as data, for tools that wrap modelreg.
 */
export default class Help extends BaseCommand<typeof Help> {
  static override summary = 'Show help for modelreg or for one command (--json: as data).'
  static override strict = false
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help models push', '<%= config.bin %> help runs log --json | jq -r ".flags[].name"']

  static override args = {
    command: Args.string({required: false, description: 'Command to show help for (e.g. models push).'}),
  }

  static override flags = {
    'nested-commands': Flags.boolean({char: 'n', description: 'Include all nested commands in the list.'}),
  }

  async run(): Promise<{commands: CommandSummary[]} | CommandHelp> {
    const words = this.positionals.filter((word) => !word.startsWith('-'))
    const bin = this.config.bin
    // oclif lists each alias as a command of its own (naming itself among its aliases): skip those.
    const usable = this.config.commands.filter((c) => !c.hidden && !c.aliases.includes(c.id))
    const id = words.join(':')
    if (words.length > 0 && !this.config.findCommand(id) && !this.config.findTopic(id)) {
      throw notFound(`unknown command ${quote(words.join(' '))} (run '${bin} help' for the list)`)
    }
    if (!this.jsonEnabled()) {
      const HelpClass = await loadHelpClass(this.config)
      await new HelpClass(this.config, {all: this.flags['nested-commands']}).showHelp(this.positionals)
    }
    if (words.length === 0) {
      return {commands: usable.map((c) => summaryOf(c, this.config.commands)).sort((a, b) => a.id.localeCompare(b.id))}
    }
    const command = this.config.findCommand(id)
    if (!command) {
      // A topic: the commands under it.
      return {commands: usable.filter((c) => c.id.startsWith(`${id}:`)).map((c) => summaryOf(c, this.config.commands))}
    }
    const shown = command.id.replaceAll(':', ' ')
    return {
      id: shown,
      summary: command.summary ?? '',
      aliases: command.aliases.map((a) => a.replaceAll(':', ' ')),
      docs: commandDocs(command, this.config.commands),
      description: command.description ?? '',
      usage: usageLine({bin, id: command.id, args: command.args, flags: command.flags}),
      args: Object.entries(command.args).map(([name, arg]) => ({name, description: arg.description ?? '', required: Boolean(arg.required)})),
      flags: Object.entries(command.flags)
        .filter(([, flag]) => !flag.hidden)
        .map(([name, flag]) => ({
          name,
          char: flag.char ?? null,
          description: flag.summary ?? flag.description ?? '',
          takes_value: flag.type === 'option',
          multiple: flag.type === 'option' && Boolean(flag.multiple),
        })),
      examples: (command.examples ?? []).map((e) => (typeof e === 'string' ? e : e.command).replaceAll('<%= config.bin %>', bin)),
    }
  }
}
