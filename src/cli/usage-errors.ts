/**
 * oclif's parse errors in the product's words: one line that says what is wrong and what the
 * command takes (`missing argument TO (the newer reference); usage: modelreg models diff FROM
 * TO`), instead of oclif's several lines (`Missing 1 required arg:\nto  The newer
 * reference.\nSee more help with --help`). Usage mistakes are exit 2, as every usage error.
 *
 * Most of oclif's parse errors carry no fields, only text: they are read by their (stable,
 * English) wording, and the details (a flag's allowed values, an argument's description) come
 * from the command's own definition.
 */
import {RegistryError} from '../backends/errors.js'
import {quote} from '../backends/validation.js'
import {nearest} from './suggest.js'

interface ArgShape {
  name?: string
  description?: string
  required?: boolean
  multiple?: boolean
  hidden?: boolean
}

export interface FlagShape {
  char?: string
  aliases?: string[]
  description?: string
  summary?: string
  required?: boolean
  hidden?: boolean
  options?: readonly string[]
  type?: string
}

/** What these messages need to know of a command. */
export interface CommandShape {
  bin: string
  /** Its id (`models:diff`). */
  id: string
  args: Record<string, ArgShape>
  /** Every flag it takes, global ones and --json included. */
  flags: Record<string, FlagShape>
}

const ANSI = /\u001B\[[0-9;]*m/g

/** `models diff FROM TO`, `models push NAME [PATH...]`, `export [SELECTION...] --output <value>`: the arguments and the required flags. */
export function usageLine(command: CommandShape): string {
  const words = [command.bin, ...command.id.split(':')]
  for (const [name, arg] of Object.entries(command.args)) {
    if (arg.hidden) continue
    const word = `${name.toUpperCase()}${arg.multiple ? '...' : ''}`
    words.push(arg.required ? word : `[${word}]`)
  }
  for (const [name, flag] of Object.entries(command.flags)) {
    if (flag.required && !flag.hidden) words.push(`--${name}`, flag.options ? flag.options.join('|') : '<value>')
  }
  return words.join(' ')
}

/** A description as a parenthesis: `(the newer reference)`. */
function aside(description: string | undefined): string {
  let text = (description ?? '').trim().replace(/(?<!\.)\.$/, '')
  if (!text) return ''
  // "Run id" -> "run id", "A name" -> "a name", but "NAME to delete ..." and "MLflow ..." keep their capitals.
  if (/^[A-Z](?![A-Z])/.test(text)) text = text[0].toLowerCase() + text.slice(1)
  return ` (${text})`
}

/** "A", "A and B", "A, B and C". */
function listed(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`
}

function flagOf(command: CommandShape, name: string): FlagShape | undefined {
  return command.flags[name] ?? Object.values(command.flags).find((f) => f.aliases?.includes(name))
}

function oneOf(options: readonly string[]): string {
  return `use one of ${options.join(', ')}`
}

/** `unknown flag --messsage; did you mean -m, --comment?`: the nearest of the command's flags, by any of its names. */
function unknownFlags(command: CommandShape, typed: string[]): RegistryError {
  const flags = command.flags
  const shown = (name: string) => (flags[name].char ? `-${flags[name].char}, --${name}` : `--${name}`)
  const byName = new Map<string, string>()
  for (const [name, flag] of Object.entries(flags)) {
    if (flag.hidden) continue
    for (const alias of [name, ...(flag.aliases ?? [])]) byName.set(alias, name)
  }
  const parts = typed.map((raw) => {
    const word = raw.replace(/^-+/, '').split('=')[0]
    const close = [...new Set(nearest(word, byName.keys()).map((alias) => byName.get(alias) as string))]
    return close.length ? `${raw}; did you mean ${close.map(shown).join(' or ')}?` : raw
  })
  return new RegistryError('invalid_argument', `unknown flag ${parts.join(', unknown flag ')} (see --help)`)
}

/** `Expected an integer greater than or equal to 1 but received: -3` -> `expected an integer of at least 1`. */
function expected(inner: string): {value?: string; want: string} {
  let m = /^Expected an integer but received: ([\s\S]*)$/.exec(inner)
  if (m) return {value: m[1], want: 'expected an integer'}
  m = /^Expected an integer greater than or equal to (\S+) but received: ([\s\S]*)$/.exec(inner)
  if (m) return {value: m[2], want: `expected an integer of at least ${m[1]}`}
  m = /^Expected an integer less than or equal to (\S+) but received: ([\s\S]*)$/.exec(inner)
  if (m) return {value: m[2], want: `expected an integer of at most ${m[1]}`}
  return {want: inner.trim().replace(/\s*\n\s*/g, ' ')}
}

/**
 * The one-line error for an oclif parse error, or undefined when `error` is not one (it is
 * then the command's own, and already says what it means).
 */
export function usageError(error: unknown, command: CommandShape): RegistryError | undefined {
  const err = error as Error & {args?: unknown; flags?: unknown}
  const kind = err?.constructor?.name ?? ''
  const message = String(err?.message ?? '')
    .replace(ANSI, '')
    .replace(/\nSee more help with --help$/, '')
  // The command's own errors say what they mean; oclif only wraps those thrown by a flag's parser.
  if (error instanceof RegistryError && !message.startsWith('Parsing --')) return undefined
  const usage = `usage: ${usageLine(command)}`
  const fail = (text: string) => new RegistryError(error instanceof RegistryError ? error.code : 'invalid_argument', text)

  if (kind === 'NonExistentFlagsError' && Array.isArray(err.flags)) return unknownFlags(command, err.flags as string[])
  if (kind === 'RequiredArgsError' && Array.isArray(err.args)) {
    const missing = (err.args as ArgShape[]).map((arg) => `${(arg.name ?? '').toUpperCase()}${aside(arg.description)}`)
    return fail(`missing argument${missing.length === 1 ? '' : 's'} ${listed(missing)}; ${usage}`)
  }
  if (kind === 'UnexpectedArgsError' && Array.isArray(err.args)) {
    const extra = (err.args as unknown[]).map((a) => quote(String(a)))
    const takes = Object.values(command.args).some((arg) => !arg.hidden) ? usage : `${command.bin} ${command.id.replaceAll(':', ' ')} takes no arguments (see --help)`
    return fail(`unexpected argument${extra.length === 1 ? '' : 's'} ${extra.join(', ')}; ${takes}`)
  }
  if (kind === 'FailedFlagValidationError') {
    const reasons = message
      .split('\n')
      .slice(1)
      .map((line) => line.trim())
      .filter(Boolean)
    const missing = reasons.map((r) => /^Missing required flag (\S+)$/.exec(r)?.[1])
    if (missing.length > 0 && missing.every(Boolean)) {
      const names = (missing as string[]).map((name) => `--${name}${aside(flagOf(command, name)?.description)}`)
      return fail(`missing flag${names.length === 1 ? '' : 's'} ${listed(names)}; ${usage}`)
    }
    return fail(`${reasons.map((r) => r[0].toLowerCase() + r.slice(1)).join('; ')} (see --help)`)
  }

  let m = /^Expected --([^=\s]+)=([\s\S]*) to be one of: [\s\S]*$/.exec(message)
  if (m) {
    const options = flagOf(command, m[1])?.options ?? []
    return fail(`invalid value ${quote(m[2])} for --${m[1]}: ${oneOf(options)}`)
  }
  m = /^Flag --(\S+) expects (?:a value|one of these values: [\s\S]*)$/.exec(message)
  if (m) {
    const options = flagOf(command, m[1])?.options
    return fail(`missing value for --${m[1]}${options ? `: ${oneOf(options)}` : ' (see --help)'}`)
  }
  m = /^Flag --(\S+) can only be specified once$/.exec(message)
  if (m) return fail(`--${m[1]} given more than once; it takes one value (see --help)`)
  m = /^Parsing --(\S+) \n\t([\s\S]*)$/.exec(message)
  if (m) {
    const {value, want} = expected(m[2])
    return fail(value === undefined ? `invalid value for --${m[1]}: ${want}` : `invalid value ${quote(value)} for --${m[1]}: ${want}`)
  }
  m = /^Expected ([\s\S]*) to be one of: ([\s\S]*)$/.exec(message)
  if (m && kind === 'ArgInvalidOptionError') return fail(`invalid argument ${quote(m[1])}: ${oneOf(m[2].split(', '))}; ${usage}`)
  return undefined
}
