import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {MetricPointsInput} from '../../backends/backend.js'
import {invalid, RegistryError} from '../../backends/errors.js'
import {BaseCommand} from '../../cli/base-command.js'
import {parseMetricPairs} from '../../cli/flags.js'
import {openInput} from '../../cli/input.js'
import {readPoints} from '../../cli/points-reader.js'

export default class RunsLog extends BaseCommand<typeof RunsLog> {
  static override summary = 'Log metric points: single values, or NDJSON batches from a file or stdin.'
  static override description = `Single points: runs log RUN loss=0.31 acc=0.9 [--step N] [--split train]. Batches: runs log RUN --file points.ndjson (or - for stdin), one {"name","value","step","split","time"} a line; streamed, never loaded whole.

Logging the same (name, split, step) again replaces the value, so retrying a batch never duplicates points. A point without a step goes one past its series' last step.

A run that has finished (completed, failed, killed) takes no more points: that is a conflict (exit 4), unless --allow-finished says they belong to it (an evaluation after training).`

  static override aliases = ['run:log']
  static override examples = [
    '<%= config.bin %> runs log $RUN loss=0.31 --step 3 --split train',
    '<%= config.bin %> runs log $RUN accuracy=0.91 rmse=3.2 --step 3 --split valid',
    '<%= config.bin %> runs log $RUN --file metrics.ndjson',
    '<%= config.bin %> runs log $RUN test_accuracy=0.93 --split test --allow-finished',
    'python train.py | <%= config.bin %> runs log $RUN --file -',
  ]

  static override args = {
    run: Args.string({required: true, description: 'Run id.'}),
    point: Args.string({required: false, multiple: true, description: 'NAME=VALUE pairs.'}),
  }

  static override flags = {
    step: Flags.integer({min: 0, description: 'Step (epoch, iteration) of the points given as NAME=VALUE.'}),
    split: Flags.string({description: 'Split of the points given as NAME=VALUE (train, valid, test ...).'}),
    file: Flags.string({char: 'f', description: 'NDJSON points to log ("-" for stdin).'}),
    'allow-finished': Flags.boolean({default: false, description: 'Log to a run that has finished (an evaluation after training); refused without it.'}),
  }

  async run(): Promise<{run: string; count: number}> {
    const [run, ...pairs] = this.positionals
    let points: MetricPointsInput
    const {file} = this.flags
    const options = {allow_finished: this.flags['allow-finished']}
    if (file !== undefined) {
      if (pairs.length > 0) throw invalid('give either NAME=VALUE points or --file, not both')
      if (this.flags.step !== undefined || this.flags.split !== undefined) throw invalid('--step and --split apply to NAME=VALUE points; in --file each line carries its own')
      const backend = await this.backend()
      if (backend.logMetricsNdjson) {
        // A server parses the lines itself: send them as they are.
        const input = await openInput(file, '--file')
        const {count} = await backend.logMetricsNdjson(run, input, options).catch((error: unknown) => {
          if (error instanceof RegistryError && error.code === 'invalid_argument' && /^line \d+: /.test(error.message)) throw invalid(`--file ${file} ${error.message}`)
          throw error
        })
        this.say(`Logged ${count} point${count === 1 ? '' : 's'}.`)
        return {run, count}
      }
      points = readPoints(file)
    } else {
      if (pairs.length === 0) throw invalid('give NAME=VALUE points, or --file FILE')
      const values = parseMetricPairs(pairs, 'point')
      points = (async function* (step, split) {
        for (const [name, value] of Object.entries(values)) yield {name, value, step, split}
      })(this.flags.step, this.flags.split)
    }
    const backend = await this.backend()
    const {count} = await backend.logMetrics(run, points, options)
    this.say(`Logged ${count} point${count === 1 ? '' : 's'}.`)
    return {run, count}
  }
}
