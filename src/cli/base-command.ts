/**
 * The base of every command: global flags, lazy configuration and backend (so `--help` never
 * opens a database), `--json` as a contract (the returned value is the JSON), and one place
 * where errors become one line and an exit code.
 */
import {Command} from '@oclif/core/command'
import * as Errors from '@oclif/core/errors'
import * as Flags from '@oclif/core/flags'
import type {Interfaces} from '@oclif/core'
import type {Backend} from '../backends/backend.js'
import {translateSqliteError} from '../backends/local/sqlite-errors.js'
import {ERROR_CODES, RegistryError} from '../backends/errors.js'
import {type ConfigValues, resolveConfig, type ResolvedConfig} from '../config/config.js'
import {paint, setColorFlag} from './color.js'
import {openBackend} from './open-backend.js'
import {type Column, renderTable, stdoutIsTerminal, terminalWidth} from './output.js'
import {type CommandShape, type FlagShape, usageError} from './usage-errors.js'

export type FlagsOf<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type ArgsOf<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/** Turn anything thrown into a RegistryError with a one-line message. */
export function toRegistryError(error: unknown): RegistryError {
  if (error instanceof RegistryError) return error
  const err = error as Error & {oclif?: {exit?: number}; code?: string}
  const firstLines = (err?.message ?? String(error))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith('See more help'))
  if (err?.oclif?.exit === 2 || err?.constructor?.name?.endsWith('ValidationError') || err?.constructor?.name === 'NonExistentFlagsError') {
    return new RegistryError('invalid_argument', `${firstLines.join(' ').replace(/\s+/g, ' ')} (see --help)`)
  }
  if (typeof err?.code === 'string' && err.code.startsWith('SQLITE_')) {
    const translated = translateSqliteError(err, 'using the registry')
    if (translated instanceof RegistryError) return translated
    return new RegistryError('internal', `registry database error (${err.code}): ${firstLines[0] ?? ''}`)
  }
  return new RegistryError('internal', firstLines.join(' ') || 'unexpected error')
}

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    project: Flags.string({
      char: 'p',
      description: 'Project to work in (default: MODELREG_PROJECT, config, else "default").',
      helpGroup: 'GLOBAL',
    }),
    profile: Flags.string({
      description: 'Configuration profile to use (see config:show).',
      helpGroup: 'GLOBAL',
    }),
    color: Flags.boolean({
      allowNo: true,
      description: 'Colour on a terminal (the default; NO_COLOR and FORCE_COLOR are honoured); --no-color turns it off, --color forces it.',
      helpGroup: 'GLOBAL',
    }),
  }

  protected flags!: FlagsOf<T>
  protected args!: ArgsOf<T>
  /** Every positional argument, in order (for commands with `strict = false`). */
  protected positionals: string[] = []
  private resolved?: ResolvedConfig
  protected openedBackend?: Backend

  /** Flags that map onto configuration keys (url, home, ...), for commands that offer them. */
  protected configFlags(): ConfigValues {
    return {}
  }

  public override async init(): Promise<void> {
    await super.init()
    const {args, argv, flags} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      // oclif would read a missing argument from piped stdin; stdin is data here (runs log --file -).
      args: Object.fromEntries(Object.entries(this.ctor.args).map(([name, arg]) => [name, {...arg, ignoreStdin: true}])),
      strict: this.ctor.strict,
    })
    this.flags = flags as FlagsOf<T>
    setColorFlag((flags as {color?: boolean}).color)
    this.args = args as ArgsOf<T>
    this.positionals = argv as string[]
  }

  protected settings(): ResolvedConfig {
    const flags = this.flags as {project?: string; profile?: string}
    this.resolved ??= resolveConfig({flags: {...this.configFlags(), project: flags.project, profile: flags.profile}})
    return this.resolved
  }

  protected get project(): string {
    return this.settings().project
  }

  protected async backend(): Promise<Backend> {
    this.openedBackend ??= await openBackend(this.settings(), this.config.userAgent)
    return this.openedBackend
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    await this.openedBackend?.close().catch(() => {})
    await super.finally(error)
  }

  protected override logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`)
  }

  protected override toErrorJson(error: unknown): unknown {
    return {error: toRegistryError(error).toJSON()}
  }

  /**
   * Ctrl-C during a transfer: one line instead of a bare death, and the shell's exit code for
   * SIGINT (130). Nothing half-written is visible: a version or checkpoint is committed in one
   * transaction at the end, and a download lands in part files that the next run resumes.
   */
  protected exitOnInterrupt(what: 'push' | 'download'): void {
    process.once('SIGINT', () => {
      const message =
        what === 'download'
          ? 'interrupted: nothing was committed; run the same command again to resume'
          : 'interrupted: nothing was committed; run the same command again'
      if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify({error: {code: 'interrupted', message}}, null, 2)}\n`)
      else process.stderr.write(`\n${message}\n`)
      process.exit(130)
    })
  }

  /** Human-only output: suppressed with --json. */
  protected say(message = ''): void {
    if (!this.jsonEnabled()) process.stdout.write(`${message}\n`)
  }

  /**
   * A table for people, fitted to the terminal's width unless --wide (TSV when piped, never
   * cut); nothing at all when there are no rows.
   */
  protected table(columns: (Column | string)[], rows: unknown[][]): void {
    if (rows.length > 0) this.say(renderTable(columns, rows, {wide: (this.flags as {wide?: boolean}).wide}))
  }

  /** The width human listings keep inside: the terminal's, unless piped or --wide (then uncut). */
  protected listingWidth(): {width?: number} {
    return (this.flags as {wide?: boolean}).wide || !stdoutIsTerminal() ? {} : {width: terminalWidth(process.stdout)}
  }

  /** Notes for people (stderr), suppressed with --json. */
  protected note(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${message}\n`)
  }

  /** What a usage error needs to know of this command: its arguments and every flag it takes. */
  private shape(): CommandShape {
    const ctor = this.ctor as typeof BaseCommand
    const json: Record<string, FlagShape> = ctor.enableJsonFlag ? {json: {description: 'Format output as json.'}} : {}
    return {bin: this.config.bin, id: this.id ?? ctor.id, args: ctor.args ?? {}, flags: {...ctor.baseFlags, ...ctor.flags, ...json}}
  }

  protected override async catch(error: Error & {exitCode?: number}): Promise<never> {
    if (error instanceof Errors.ExitError) throw error
    const registryError = usageError(error, this.shape()) ?? toRegistryError(error)
    if (process.env.MODELREG_DEBUG && !(error instanceof RegistryError)) process.stderr.write(`${error?.stack ?? error}\n`)
    if (this.jsonEnabled()) this.logJson(this.toErrorJson(registryError))
    else {
      // The flags were not parsed when parsing is what failed: read --color / --no-color from the words typed.
      if (this.flags === undefined) setColorFlag(this.argv.includes('--no-color') ? false : this.argv.includes('--color') ? true : undefined)
      process.stderr.write(`${paint('red', 'Error:', process.stderr)} ${registryError.message}\n`)
    }
    this.exit(ERROR_CODES[registryError.code].exit)
  }
}
