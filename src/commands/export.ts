import {createWriteStream} from 'node:fs'
import {open, rename, rm} from 'node:fs/promises'
import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {pipeline} from 'node:stream/promises'
import {PassThrough} from 'node:stream'
import {invalid} from '../backends/errors.js'
import {BaseCommand} from '../cli/base-command.js'
import {endProgress, progressLine, selectionFromFlags, summarize} from '../cli/move-output.js'
import {exportArchive, type MoveReport} from '../registry/move/move.js'

export default class Export extends BaseCommand<typeof Export> {
  static override summary = 'Write models, their whole history, runs and blobs to an archive (a backup, or to move them).'
  static override description = `SELECTION: model names ([project/]name) or single versions (name:3); --project P for a whole project; nothing (or --all) for the whole store, experiments and runs included. The archive keeps version numbers (with the gaps deleted versions left), authors, times, comments, sources, metrics, lineage, tags and every tag move, the model events, runs with their ids, params, datasets, every metric point, and checkpoints with their UUIDs; each blob once. --since TIME writes only what changed since then (an incremental backup: import it on top of the full one).

The format is a tar stream (gzip with --gzip or an .gz name; zstd is not available in Node 20), described in docs/move.md under "Move, back up and restore".`

  static override examples = [
    '<%= config.bin %> export -o backup.tar.gz',
    '<%= config.bin %> export credit-risk team-a/churn:3 -o models.tar',
    '<%= config.bin %> export --project team-a --experiments -o - | ssh backup "cat > team-a.tar"',
    '<%= config.bin %> export --since 2024-05-01T00:00:00Z -o incremental.tar.gz',
  ]

  static override args = {
    selection: Args.string({required: false, multiple: true, description: 'Models to export: [project/]name or name:VERSION (none: everything).'}),
  }

  static override flags = {
    output: Flags.string({char: 'o', required: true, description: 'The archive file, or - for stdout.'}),
    all: Flags.boolean({default: false, description: 'The whole store (the default without a selection).'}),
    experiments: Flags.boolean({default: false, description: 'With a selection: also its projects\' experiments and runs.'}),
    since: Flags.string({description: 'Only models and runs changed at or after this ISO 8601 time, and the blobs of versions and checkpoints made since.'}),
    gzip: Flags.boolean({default: false, description: 'Compress with gzip (the default when the file name ends in .gz or .tgz).'}),
  }

  async run(): Promise<MoveReport & {bytes: number}> {
    const flags = this.flags
    const selection = selectionFromFlags(this.positionals, flags, this.project)
    const toStdout = flags.output === '-'
    if (toStdout && process.stdout.isTTY) throw invalid('refusing to write an archive to a terminal: use -o FILE or pipe it')
    if (toStdout && this.jsonEnabled()) throw invalid('--json prints the report on stdout: write the archive to a file with -o FILE')
    const gzip = flags.gzip || /\.(t?gz)$/i.test(flags.output)
    const backend = await this.backend()
    const progress = progressLine(this.jsonEnabled())
    let report: MoveReport & {bytes: number}
    if (toStdout) {
      report = await exportArchive(backend, selection, process.stdout, {gzip, progress})
    } else {
      // Written beside its final name and renamed at the end: a failed export leaves no half archive.
      const partial = `${flags.output}.partial`
      try {
        if (gzip) {
          const out = new PassThrough()
          const done = pipeline(out, createWriteStream(partial, {mode: 0o600}))
          done.catch(() => {}) // awaited below; not an unhandled rejection meanwhile
          try {
            report = await exportArchive(backend, selection, out, {gzip, progress})
            out.end()
            await done
          } catch (error) {
            out.destroy()
            await done.catch(() => {})
            throw error
          }
        } else {
          // Uncompressed: the archive is written to the file directly (positional writes).
          const file = await open(partial, 'w', 0o600)
          try {
            report = await exportArchive(backend, selection, file, {progress})
          } finally {
            await file.close()
          }
        }
        await rename(partial, flags.output)
      } catch (error) {
        await rm(partial, {force: true})
        throw error
      } finally {
        endProgress(progress)
      }
    }
    if (!toStdout) for (const line of summarize(report, 'exported')) this.say(line)
    else for (const line of summarize(report, 'exported')) this.note(line)
    return report
  }
}
