import type {Hook} from '@oclif/core'

/** An unknown command is a usage error (exit 2) with a one-line hint, not oclif's exit 127. */
const hook: Hook<'command_not_found'> = async function (options) {
  const typed = options.id.replaceAll(':', ' ')
  const ids = [...this.config.commandIDs]
  const close = ids.filter((id) => id.startsWith(options.id.split(':')[0])).slice(0, 5)
  const hint = close.length ? `; did you mean: ${close.map((id) => id.replaceAll(':', ' ')).join(', ')}?` : ''
  if (options.argv?.includes('--json')) {
    process.stdout.write(`${JSON.stringify({error: {code: 'invalid_argument', message: `unknown command "${typed}"`}}, null, 2)}\n`)
  } else {
    process.stderr.write(`Error: unknown command "${typed}" (run 'modelreg --help' for the list)${hint}\n`)
  }
  this.exit(2)
}

export default hook
