import * as Args from '@oclif/core/args'
import {invalid} from '../backends/errors.js'
import {BaseCommand} from '../cli/base-command.js'
import {completionScript, type Shell, SHELLS} from '../cli/complete.js'

export default class Completion extends BaseCommand<typeof Completion> {
  static override summary = 'Print the shell completion script for bash, zsh or fish.'
  static override description = `Completes commands, flags and flag values, and for references the model names, tags and version numbers of the configured store (run ids for runs). The script asks "modelreg __complete" for the candidates, so it follows the configuration, the profile and -p of the line being typed.`
  static override examples = [
    '<%= config.bin %> completion bash > ~/.local/share/bash-completion/completions/<%= config.bin %>',
    '<%= config.bin %> completion zsh > "${fpath[1]}/_<%= config.bin %>"',
    '<%= config.bin %> completion fish > ~/.config/fish/completions/<%= config.bin %>.fish',
    'source <(<%= config.bin %> completion bash)',
  ]

  static override args = {
    shell: Args.string({required: false, description: 'bash, zsh or fish (default: from $SHELL).'}),
  }

  async run(): Promise<{shell: Shell; script: string}> {
    const fromEnv = (process.env.SHELL ?? '').split('/').pop() ?? ''
    const shell = (this.args.shell ?? (SHELLS.includes(fromEnv as Shell) ? fromEnv : 'bash')) as Shell
    if (!SHELLS.includes(shell)) throw invalid(`no completion for shell "${shell}": choose bash, zsh or fish`)
    const script = completionScript(shell, this.config.bin)
    if (!this.jsonEnabled()) process.stdout.write(script)
    return {shell, script}
  }
}
