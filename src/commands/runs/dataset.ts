import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {Dataset} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseMetaPairs} from '../../cli/flags.js'
import {formatBytes} from '../../cli/output.js'
import {datasetReference} from '../../registry/datasets.js'

export default class RunsDataset extends BaseCommand<typeof RunsDataset> {
  static override summary = 'Record a tagged dataset a run used (train, test ...): a path or URI, optional digest and metadata.'
  static override description =
    'The path or URI is recorded exactly as given. With --hash, a local file is recorded with its sha256 and size; a local directory with the sha256 of its manifest (a "<sha256>  <path>" line per file, sorted). --hash reads the path as written (a missing path is not found, exit 3) and refuses symbolic links that lead out of the directory, sockets, FIFOs, devices, /proc-like file systems, and trees deeper than 64 levels or larger than a million entries. Recording the same tag again replaces it.'

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
    const input = await datasetReference(this.args.tag, this.args.path, {metadata, hash: this.flags.hash})
    const backend = await this.backend()
    const dataset = await backend.setDataset(this.args.run, input)
    this.say(`Recorded dataset ${dataset.tag}: ${dataset.uri}${dataset.sha256 ? ` (sha256 ${dataset.sha256}, ${formatBytes(dataset.size ?? 0)})` : ''}.`)
    return dataset
  }
}
