/** What export, import and copy print, and how they end: exit 4 when some records conflict. */
import type {Backend} from '../backends/backend.js'
import {EXIT_CODES, invalid} from '../backends/errors.js'
import {ENV_VARS, resolveConfig} from '../config/config.js'
import {parseSelection, type Selection} from '../registry/move/history.js'
import type {MoveReport} from '../registry/move/move.js'
import {resolveAuthor} from '../registry/provenance.js'
import {openBackend} from './open-backend.js'
import {formatBytes} from './output.js'

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

export function summarize(report: MoveReport, verb: string): string[] {
  const lines = [
    `${report.dry_run ? `Would have ${verb}` : verb[0].toUpperCase() + verb.slice(1)} ${plural(report.models.written, 'model')} (${plural(report.versions.written, 'version')}), ` +
      `${plural(report.runs.written, 'run')} (${plural(report.checkpoints.written, 'checkpoint')}, ${plural(report.metric_points.written, 'metric point')}), ` +
      `${plural(report.blobs.written, 'blob')} (${formatBytes(report.blobs.bytes)}).`,
  ]
  const unchanged = report.models.unchanged + report.runs.unchanged
  if (unchanged || report.blobs.unchanged) lines.push(`Already there, unchanged: ${plural(report.models.unchanged, 'model')}, ${plural(report.runs.unchanged, 'run')}, ${plural(report.blobs.unchanged, 'blob')}.`)
  return lines
}

/** A terminal-only line per record moved, on stderr. */
export function progressLine(json: boolean): ((what: string) => void) | undefined {
  if (json || !process.stderr.isTTY || process.env.MODELREG_NO_PROGRESS) return undefined
  return (what) => process.stderr.write(`\r\u001B[K${what.slice(0, 150)}`)
}

export function endProgress(progress: ((what: string) => void) | undefined): void {
  if (progress) process.stderr.write('\r\u001B[K')
}

/** Conflicts: listed on stderr (and in the JSON), then exit 4. */
export function conflictExit(report: MoveReport): number | null {
  if (report.conflicts.length === 0) return null
  for (const c of report.conflicts) process.stderr.write(`conflict: ${c.kind} ${c.kind === 'model' ? `${c.project}/${c.name}` : c.name}: ${c.message}\n`)
  return EXIT_CODES.conflict
}

/**
 * The other end of a copy: a URL (a server; its token from `token`), a directory (a local store),
 * or a profile name from the configuration.
 */
export async function openNamedBackend(spec: string, token: string | undefined, userAgent: string): Promise<Backend> {
  if (/^https?:\/\//i.test(spec)) {
    const {RemoteBackend} = await import('../backends/remote/remote-backend.js')
    const config = resolveConfig({})
    return new RemoteBackend({url: spec, token: token ?? null, actor: () => resolveAuthor(config.author), userAgent})
  }
  if (spec.startsWith('/') || spec.startsWith('.') || spec.startsWith('~') || spec.includes('/')) {
    const {LocalBackend} = await import('../backends/local/local-backend.js')
    const home = spec.startsWith('~') ? spec.replace(/^~/, process.env.HOME ?? '~') : spec
    const config = resolveConfig({})
    return new LocalBackend({home, actor: () => resolveAuthor(config.author)})
  }
  // A profile named here is the other store: its own home, url and token, not the environment's
  // (MODELREG_HOME, MODELREG_URL... describe the store the command would otherwise use).
  const env = {...process.env}
  for (const key of ['backend', 'url', 'token', 'home'] as const) delete env[ENV_VARS[key]]
  const config = resolveConfig({flags: {profile: spec}, env})
  return openBackend(token ? {...config, token} : config, userAgent)
}


/**
 * The selection export and copy act on: the refs given, else the project named with -p, else
 * (with --all, or nothing at all) the whole store.
 */
export function selectionFromFlags(
  refs: string[],
  flags: {all: boolean; experiments: boolean; since?: string; project?: string},
  defaultProject: string,
): Selection {
  if (flags.all && refs.length > 0) throw invalid('--all means the whole store: give no model names with it')
  return parseSelection(refs, {
    defaultProject,
    projects: refs.length === 0 && flags.project && !flags.all ? [flags.project] : [],
    experiments: flags.experiments,
    since: flags.since ?? null,
    all: flags.all,
  })
}
