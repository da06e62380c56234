/**
 * Shell completion, computed by modelreg itself so that bash, zsh and fish complete alike:
 * commands and topics, flags, flag values with fixed options, and for references the model
 * names and `model:tag` / `model:N` of the configured store (run ids for run arguments).
 * The shell scripts (see completionScript) ask `modelreg __complete -- WORDS...` and show
 * one candidate a line; nothing at all means "complete file names".
 */
import type {Command, Config} from '@oclif/core'
import type {Backend} from '../backends/backend.js'

type FlagSpec = {type?: string; char?: string; hidden?: boolean; options?: readonly string[]; aliases?: string[]}

export type ArgKind = 'ref' | 'model' | 'run' | 'experiment' | 'project' | null

/** What a positional argument names, from its name and description. */
export function argKind(name: string, description = ''): ArgKind {
  if (name === 'ref' || name === 'from' || name === 'to' || name === 'selection') return 'ref'
  if (name === 'run') return 'run'
  if (name === 'name' && /^Model name|^Only this model/.test(description)) return 'model'
  if (name === 'name' && /^Experiment name/.test(description)) return 'experiment'
  if (name === 'name' && /^Project name/.test(description)) return 'project'
  return null
}

const GLOBAL_VALUE_FLAGS = new Set(['-p', '--project', '--profile'])

export interface Completion {
  /** Candidates for the word being typed. */
  words: string[]
  /** The store to read names from, when the word is a reference, a run, ...: what kind, in which project. */
  lookup?: {kind: Exclude<ArgKind, null>; project: string | null; prefix: string}
}

/** Everything but the store lookups: which command, which flag, which argument. */
export function complete(config: Config, typed: string[]): Completion {
  const words = typed.length === 0 ? [''] : typed
  const current = words[words.length - 1]
  const before = words.slice(0, -1)
  let project: string | null = null
  // Global flags first (modelreg -p team-a models ...), as bin/run.js accepts them.
  let i = 0
  while (i < before.length && before[i].startsWith('-')) {
    if (GLOBAL_VALUE_FLAGS.has(before[i])) {
      if (before[i] !== '--profile') project = before[i + 1] ?? null
      i += 2
    } else i++
  }
  if (i > before.length) return {words: []} // the current word is a global flag's value
  if (i === before.length && before.length > 0 && GLOBAL_VALUE_FLAGS.has(before[before.length - 1])) return {words: []}
  const commands = config.commands.filter((c) => !c.hidden)
  // The longest run of words naming a command.
  let command: Command.Loadable | undefined
  let end = i
  for (let n = before.length; n > i; n--) {
    const found = config.findCommand(before.slice(i, n).join(':'))
    if (found && !found.hidden) {
      command = found
      end = n
      break
    }
  }
  // The next word of a command's name (`models` is a command and the topic of `models push`).
  const path = before.slice(i)
  const next = new Set<string>()
  if (!command || end === before.length) {
    for (const c of commands) {
      const parts = c.id.split(':')
      if (parts.length <= path.length || path.some((w, k) => parts[k] !== w)) continue
      if (parts[path.length].startsWith(current)) next.add(parts[path.length])
    }
  }
  const subcommands = [...next].sort()
  if (!command) return {words: subcommands}
  if (subcommands.length > 0 && !current.startsWith('-')) return {words: subcommands}
  const flags = {...(command.flags as Record<string, FlagSpec>), json: {type: 'boolean'}} as Record<string, FlagSpec>
  const byWord = new Map<string, [string, FlagSpec]>()
  for (const [name, flag] of Object.entries(flags)) {
    byWord.set(`--${name}`, [name, flag])
    for (const alias of flag.aliases ?? []) byWord.set(`--${alias}`, [name, flag])
    if (flag.char) byWord.set(`-${flag.char}`, [name, flag])
  }
  // Positionals typed so far, skipping flags and their values.
  let position = 0
  for (let k = end; k < before.length; k++) {
    const word = before[k]
    if (word === '--') continue
    if (word.startsWith('-')) {
      const flag = byWord.get(word.split('=')[0])
      if (flag?.[0] === 'project' && !word.includes('=')) project = before[k + 1] ?? project
      if (flag && flag[1].type === 'option' && !word.includes('=')) k++
      continue
    }
    position++
  }
  const previous = before[before.length - 1]
  const valueOf = previous !== undefined && before.length > end ? byWord.get(previous) : undefined
  if (valueOf && valueOf[1].type === 'option') {
    if (valueOf[1].options) return {words: valueOf[1].options.filter((o) => o.startsWith(current))}
    if (valueOf[0] === 'project' || valueOf[0] === 'experiment') return {words: [], lookup: {kind: valueOf[0], project, prefix: current}}
    return {words: []}
  }
  if (current.startsWith('-')) {
    const names = Object.entries(flags)
      .filter(([, f]) => !f.hidden)
      .map(([name]) => `--${name}`)
      .filter((w) => w.startsWith(current))
    return {words: names.sort()}
  }
  const args = Object.entries((command.args ?? {}) as Record<string, {description?: string; multiple?: boolean}>)
  const arg = args[Math.min(position, args.length - 1)]
  if (!arg || (position >= args.length && command.strict !== false && !arg[1].multiple)) return {words: []}
  const kind = argKind(arg[0], arg[1].description)
  return kind ? {words: [], lookup: {kind, project, prefix: current}} : {words: []}
}

/** The store's names for a lookup: at most `limit`, those starting with the prefix. */
export async function lookupNames(backend: Backend, lookup: NonNullable<Completion['lookup']>, defaultProject: string, limit = 200): Promise<string[]> {
  const {prefix} = lookup
  // "team-a/credit-risk:prod": a project in the reference wins.
  const slash = prefix.indexOf('/')
  const project = slash > 0 && lookup.kind !== 'run' ? prefix.slice(0, slash) : (lookup.project ?? defaultProject)
  const lead = slash > 0 && lookup.kind !== 'run' ? prefix.slice(0, slash + 1) : ''
  const rest = prefix.slice(lead.length)
  const starts = (s: string) => s.startsWith(rest)
  switch (lookup.kind) {
    case 'project':
      return (await backend.listProjects({limit})).items.map((p) => p.name).filter((n) => n.startsWith(prefix))
    case 'experiment':
      return (await backend.listExperiments(project, {limit})).items.map((e) => e.name).filter((n) => n.startsWith(prefix))
    case 'run':
      return (await backend.listRuns(project, {limit: 50})).items.map((r) => r.id).filter((id) => id.startsWith(prefix))
    case 'model':
    case 'ref': {
      const colon = rest.indexOf(':')
      if (lookup.kind === 'ref' && colon > 0) {
        const model = rest.slice(0, colon)
        const tags = await backend.listTags(project, model)
        const versions = (await backend.listVersions(project, model, {limit: 20})).items.map((v) => String(v.version))
        return [...new Set([...tags.map((t) => t.tag), ...versions])].map((s) => `${lead}${model}:${s}`).filter((s) => s.startsWith(prefix))
      }
      const models = (await backend.listModels(project, {limit, ...(rest ? {search: rest} : {})})).items.map((m) => m.name)
      return models.filter(starts).map((n) => `${lead}${n}`)
    }
  }
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

/** The script a shell sources; it asks `BIN __complete` for candidates. */
export function completionScript(shell: Shell, bin: string): string {
  const fn = `_${bin.replace(/[^A-Za-z0-9_]/g, '_')}_complete`
  switch (shell) {
    case 'bash':
      return `# ${bin} completion for bash: source it, or save it as ~/.local/share/bash-completion/completions/${bin}
${fn}() {
  local line="\${COMP_LINE:0:\$COMP_POINT}"
  local -a words
  read -r -a words <<< "$line"
  [[ "$line" =~ [[:space:]]$ ]] && words+=("")
  local cur="\${words[\${#words[@]}-1]}"
  local IFS=$'\\n'
  local out
  out=$("\${words[0]}" __complete -- "\${words[@]:1}" 2>/dev/null) || return 0
  COMPREPLY=($(compgen -W "$out" -- "$cur"))
  # bash splits words at ':' too: offer only what follows the last ':' of the word.
  if [[ "$cur" == *:* && "$COMP_WORDBREAKS" == *:* ]]; then
    local drop="\${cur%:*}:"
    COMPREPLY=("\${COMPREPLY[@]#"$drop"}")
  fi
}
complete -o default -F ${fn} ${bin}
`
    case 'zsh':
      return `#compdef ${bin}
# ${bin} completion for zsh: save it as _${bin} in a directory on $fpath, or source it after compinit
${fn}() {
  local -a candidates
  candidates=("\${(@f)$(\${words[1]} __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if (( \${#candidates[@]} )) && [[ -n "\${candidates[1]}" ]]; then
    compadd -Q -S '' -- "\${candidates[@]}"
  else
    _files
  fi
}
compdef ${fn} ${bin}
`
    case 'fish':
      return `# ${bin} completion for fish: save it as ~/.config/fish/completions/${bin}.fish
function ${fn}
  set -l words (commandline -opc) (commandline -ct)
  ${bin} __complete -- $words[2..-1] 2>/dev/null
end
complete -c ${bin} -f -a '(${fn})'
complete -c ${bin} -n 'test -z (${fn} | string collect)' -F
`
  }
}
