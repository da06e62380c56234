import {stat} from 'node:fs/promises'
import {resolve} from 'node:path'
import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {Dataset} from '../../backends/backend.js'
import {invalid} from '../../backends/errors.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseMetaPairs} from '../../cli/flags.js'
import {formatBytes} from '../../cli/output.js'
import {localDigest} from '../../registry/files.js'

export default class RunsDataset extends BaseCommand<typeof RunsDataset> {
  static override summary = 'Record a tagged dataset a run used (train, test ...): a path or URI, optional digest and metadata.'
  static override description =
    'With --hash, a local file is recorded with its sha256 and size; a local directory with the sha256 of its manifest (a "<sha256>  <path>" line per file, sorted). Recording the same tag again replaces it.'

  static override aliases = ['run:dataset']
  static override examples = [
    '<%= config.bin %> runs dataset $RUN train /path/to/train --meta num_cols=15 --meta dist=random',
    '<%= config.bin %> runs dataset $RUN test ./data/test.csv --hash',
    '<%= config.bin %> runs dataset $RUN raw s3://credit-risk-dataset-201706/',
  ]

  static override args = {
    run: Args.string({required: true, description: 'Run id.'}),
    tag: Args.string({required: true, description: 'What the data was for: train, valid, test ...'}),
    path: Args.string({required: true, description: 'A local path or a URI.'}),
  }

  static override flags = {
    meta: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Metadata KEY=VALUE; repeatable.'}),
    hash: Flags.boolean({default: false, description: 'Record the sha256 (local files and directories only).'}),
  }

  async run(): Promise<Dataset> {
    const metadata = parseMetaPairs(this.flags.meta, '--meta')
    const isUri = /^[a-z][a-z0-9+.-]*:\/\//i.test(this.args.path)
    let uri = this.args.path
    let digest: {sha256: string; size: number} | null = null
    if (!isUri) {
      const local = resolve(this.args.path)
      const exists = await stat(local).then(
        () => true,
        () => false,
      )
      if (exists) uri = local
      if (this.flags.hash) {
        if (!exists) throw invalid(`--hash needs a local file or directory; ${local} does not exist`)
        digest = await localDigest(local)
      }
    } else if (this.flags.hash) {
      throw invalid('--hash works on local files and directories, not URIs')
    }
    const backend = await this.backend()
    const dataset = await backend.setDataset(this.args.run, {tag: this.args.tag, uri, metadata, sha256: digest?.sha256 ?? null, size: digest?.size ?? null})
    this.say(`Recorded dataset ${dataset.tag}: ${dataset.uri}${dataset.sha256 ? ` (sha256 ${dataset.sha256}, ${formatBytes(dataset.size ?? 0)})` : ''}.`)
    return dataset
  }
}
