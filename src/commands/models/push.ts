import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {invalid} from '../../backends/errors.js'
import {formatRef, parseRef, validateMetadata} from '../../backends/validation.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseDatasetPairs, parseMetaPairs, parseMetricPairs, readObjectFile} from '../../cli/flags.js'
import {openInput} from '../../cli/input.js'
import {formatBytes} from '../../cli/output.js'
import {startProgress} from '../../cli/progress.js'
import {collectSource, resolveAuthor} from '../../registry/provenance.js'
import {type PushResult, pushVersion} from '../../registry/push.js'

export default class ModelsPush extends BaseCommand<typeof ModelsPush> {
  static override summary = 'Push files or directories as a new version of a model.'
  static override description = `Creates the model if it does not exist. Files are stored by content (sha256): a file that did not change since an earlier version is not stored again. A directory keeps its relative paths; a file is stored under its base name.

Recorded automatically: author (MODELREG_AUTHOR, else git user.email, else the OS user), time, host, the git commit/branch/dirty state when run in a work tree, and the CI job when run in CI.`

  static override aliases = ['models:save', 'model:push']
  static override examples = [
    '<%= config.bin %> models push credit-risk model.pkl -m "Built new model using the data till June 2017"',
    '<%= config.bin %> models push credit-risk ./out --meta Input-Data-Source=s3://credit-risk-dataset-201706 --metric accuracy=0.89 --attach log.txt',
    '<%= config.bin %> models push mnist_cnn ./checkpoint --framework pytorch-2.3 --format pt --tag staging --metadata-file meta.yaml',
    '<%= config.bin %> models push churn ./model --run $RUN --dataset train=s3://bucket/train.csv',
    'tar -cz -C build . | <%= config.bin %> models push churn --from-tar -',
  ]

  static override args = {
    name: Args.string({required: true, description: 'Model name, optionally as project/name.'}),
    path: Args.string({required: false, multiple: true, description: 'Files or directories to store (one or more).'}),
  }

  static override flags = {
    comment: Flags.string({char: 'm', aliases: ['message'], description: 'What changed in this version.'}),
    meta: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Metadata KEY=VALUE (JSON values are parsed); repeatable.'}),
    'metadata-file': Flags.string({description: 'Metadata from a YAML or JSON file (--meta wins on the same key).'}),
    metric: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Metric NAME=NUMBER; repeatable.'}),
    attach: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Attach a file (logs, reports), kept apart from the model files; repeatable.'}),
    tag: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Tag the new version (e.g. staging); repeatable.'}),
    framework: Flags.string({description: 'Framework and version, e.g. pytorch-2.3, sklearn-1.5.'}),
    format: Flags.string({description: 'Serialization format, e.g. pickle, onnx, safetensors.'}),
    run: Flags.string({description: 'The run that produced it: its params, datasets and final metrics become the lineage.'}),
    dataset: Flags.string({multiple: true, multipleNonGreedy: true, description: 'A dataset reference TAG=PATH_OR_URI for the lineage; repeatable.'}),
    'from-tar': Flags.string({
      description:
        'Store the files of a tar archive (gzip too; "-" for stdin). Refused whole if any entry is a link, device or FIFO, has an absolute or ".." path, or the archive is a decompression bomb.',
    }),
  }

  async run(): Promise<PushResult> {
    this.exitOnInterrupt('push')
    const [nameArg, ...givenPaths] = this.positionals
    if (givenPaths.length === 0 && !this.flags['from-tar']) throw invalid('name the files or directories to push, or --from-tar ARCHIVE')
    const ref = parseRef(nameArg)
    if (ref.explicit) throw invalid(`push to a model name, not a version or tag (${nameArg}); use --tag to tag the new version`)
    const project = ref.project ?? this.project
    const fileMetadata = this.flags['metadata-file'] ? await readObjectFile(this.flags['metadata-file'], '--metadata-file') : {}
    const metadata = validateMetadata({...fileMetadata, ...parseMetaPairs(this.flags.meta, '--meta')})
    const metrics = parseMetricPairs(this.flags.metric)
    const author = resolveAuthor(this.settings().author)
    const source = await collectSource()
    // An archive is extracted (checked entry by entry) into a private temp directory first.
    let paths = givenPaths
    let archive: Awaited<ReturnType<typeof import('../../registry/archive.js').extractToTemp>> | undefined
    if (this.flags['from-tar']) {
      const {extractToTemp} = await import('../../registry/archive.js')
      archive = await extractToTemp(await openInput(this.flags['from-tar'], '--from-tar', 1024 * 1024))
      paths = [...givenPaths, archive.dir]
    }
    const backend = await this.backend()
    const progress = await startProgress()
    let result: PushResult
    try {
      result = await pushVersion(backend, {
        project,
        model: ref.name,
        paths,
        attachments: this.flags.attach,
        comment: this.flags.comment,
        author,
        metadata,
        metrics,
        framework: this.flags.framework,
        format: this.flags.format,
        tags: this.flags.tag,
        source,
        run_id: this.flags.run,
        datasets: await parseDatasetPairs(this.flags.dataset),
        onProgress: (p) => progress.update(p),
      })
    } finally {
      progress.stop()
      await archive?.cleanup()
    }
    const v = result.version
    if (result.model_created) this.say(`Created model ${v.model} in project ${v.project}.`)
    // Attachments are stored files too: both lines count them, so the numbers add up.
    const attached = v.attachment_count > 0 ? ` + ${v.attachment_count} attachment${v.attachment_count === 1 ? '' : 's'}` : ''
    const count = `${v.file_count} file${v.file_count === 1 ? '' : 's'}${attached}`
    this.say(`Pushed ${formatRef(v.model, v.version)} (${formatBytes(v.size)} in ${count}${v.tags.length ? `; tags: ${v.tags.join(', ')}` : ''})`)
    const plural = (n: number) => `${n} file${n === 1 ? '' : 's'}`
    const reused = result.reused.files > 0 ? `; ${plural(result.reused.files)} unchanged, not stored again` : ''
    this.say(`Stored ${plural(result.uploaded.files)} (${formatBytes(result.uploaded.bytes)})${reused}.`)
    return result
  }
}
