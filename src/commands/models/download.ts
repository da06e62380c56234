import {createWriteStream} from 'node:fs'
import {rename, stat, unlink} from 'node:fs/promises'
import {resolve} from 'node:path'
import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {conflict, fromFsError, invalid} from '../../backends/errors.js'
import {BaseCommand} from '../../cli/base-command.js'
import {resolveRef} from '../../cli/flags.js'
import {formatBytes} from '../../cli/output.js'
import {startProgress} from '../../cli/progress.js'
import {type DownloadResult, downloadVersion, writeTar} from '../../registry/download.js'
import type {Backend, Version} from '../../backends/backend.js'
import type {DownloadOptions} from '../../registry/download.js'

async function tarToFile(backend: Backend, version: Version, file: string, force: boolean, options: DownloadOptions): Promise<DownloadResult> {
  const target = resolve(file)
  const exists = await stat(target).then(
    () => true,
    () => false,
  )
  if (exists && !force) throw conflict(`${target} already exists; use --force to overwrite`)
  const partial = `${target}.modelreg-part`
  const out = createWriteStream(partial, {mode: 0o644})
  const opened = new Promise<void>((resolveOpen, reject) => {
    out.once('open', () => resolveOpen())
    out.once('error', reject)
  })
  try {
    await opened
    const result = await writeTar(backend, version, out, options)
    await new Promise<void>((resolveEnd, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolveEnd())))
    await rename(partial, target)
    return {...result, directory: target}
  } catch (error) {
    out.destroy()
    await unlink(partial).catch(() => {})
    throw fromFsError(error, `writing ${target}`)
  }
}

export default class ModelsDownload extends BaseCommand<typeof ModelsDownload> {
  static override summary = "Download a version's files, verifying every byte against its digest."
  static override description =
    'Files are written next to their final name, checked against the sha256 in the manifest, then renamed into place: a file that fails its digest is never left at its final path (exit 6). An interrupted download resumes where it stopped when run again.'

  static override aliases = ['model:download']
  static override examples = [
    '<%= config.bin %> models download credit-risk:latest',
    '<%= config.bin %> models download credit-risk:prod -o ./models/credit-risk --attachments',
    '<%= config.bin %> models download credit-risk:3 --tar credit-risk-3.tar',
    '<%= config.bin %> models download credit-risk -o - | tar -x -C /srv/model',
  ]

  static override args = {
    ref: Args.string({required: true, description: '[project/]name[:version|tag]; a bare name means latest.'}),
  }

  static override flags = {
    output: Flags.string({char: 'o', default: '.', description: 'Directory to write into; "-" writes a tar stream to stdout.'}),
    tar: Flags.string({description: 'Write a tar archive to this file instead of a directory.'}),
    attachments: Flags.boolean({default: false, description: 'Also download the attachments (under attachments/).'}),
    force: Flags.boolean({char: 'f', default: false, description: 'Overwrite files that already exist (with -o -: write the archive to a terminal).'}),
  }

  async run(): Promise<DownloadResult> {
    this.exitOnInterrupt('download')
    const ref = resolveRef(this.args.ref, this.project)
    const toStdout = this.flags.output === '-'
    if (toStdout && this.jsonEnabled()) throw invalid('-o - writes the archive to stdout, which --json needs for itself; use --tar FILE with --json')
    if (toStdout && process.stdout.isTTY && !this.flags.force) {
      throw invalid('-o - would write a tar archive to the terminal; pipe it (| tar -x) or redirect it (> model.tar), or add --force')
    }
    if (toStdout && this.flags.tar) throw invalid('give either -o - or --tar FILE, not both')
    const backend = await this.backend()
    const version = await backend.getVersion(ref.project, ref.name, ref.selector)
    const progress = await startProgress()
    const options = {attachments: this.flags.attachments, force: this.flags.force, onProgress: progress.update}
    let result: DownloadResult
    try {
      if (toStdout) {
        result = await writeTar(backend, version, process.stdout, options)
        return result
      }
      result = this.flags.tar
        ? await tarToFile(backend, version, this.flags.tar, this.flags.force, options)
        : await downloadVersion(backend, version, this.flags.output, options)
    } finally {
      progress.stop()
    }
    const count = `${result.files.length} file${result.files.length === 1 ? '' : 's'}`
    this.say(`Downloaded ${version.model}:${version.version} to ${result.directory} (${count}, ${formatBytes(result.bytes)}, verified).`)
    return result
  }
}
