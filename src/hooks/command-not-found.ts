import type {Hook} from '@oclif/core'
import {paint, setColorFlag} from '../cli/color.js'
import {nearest} from '../cli/suggest.js'

/**
 * An unknown command is a usage error (exit 2) with a one-line hint, not oclif's exit 127: the
 * nearest commands by edit distance (`models psuh` -> `models push`, `modles` -> `models`).
 * oclif hands over every word typed as the id; the command part is as many words as the
 * suggested command has, and only that is quoted.
 */
const hook: Hook<'command_not_found'> = async function (options) {
  const words = options.id.split(':')
  // Commands by their own names (not their aliases, which would double every suggestion), and topics that hold one.
  const commands = this.config.commands.filter((c) => !c.hidden).map((c) => c.id)
  const topics = this.config.topics.map((t) => t.name).filter((topic) => commands.some((id) => id.startsWith(`${topic}:`)))
  const ids = [...commands, ...topics]
  const byLength = new Map<number, string[]>()
  for (const id of new Set(ids)) {
    const n = id.split(':').length
    if (n <= words.length) byLength.set(n, [...(byLength.get(n) ?? []), id.replaceAll(':', ' ')])
  }
  // The longest command the typed words come close to: `models psuh x` is `models psuh` + an argument.
  let typed = words[0]
  let close: string[] = []
  for (const n of [...byLength.keys()].sort((a, b) => b - a)) {
    const phrase = words.slice(0, n).join(' ')
    const found = nearest(phrase, byLength.get(n) ?? [])
    if (found.length > 0) {
      typed = phrase
      close = found
      break
    }
  }
  const hint = close.length ? `; did you mean ${close.map((c) => `"${c}"`).join(' or ')}?` : ` (run '${this.config.bin} --help' for the list)`
  const message = `unknown command "${typed}"${hint}`
  if (options.argv?.includes('--json')) {
    process.stdout.write(`${JSON.stringify({error: {code: 'invalid_argument', message}}, null, 2)}\n`)
  } else {
    const argv = options.argv ?? []
    setColorFlag(argv.includes('--no-color') ? false : argv.includes('--color') ? true : undefined)
    process.stderr.write(`${paint('red', 'Error:', process.stderr)} ${message}\n`)
  }
  this.exit(2)
}

export default hook
