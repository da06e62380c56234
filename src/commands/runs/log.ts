import {Args, Flags} from '@oclif/core'
import type {MetricPointInput, MetricPointsInput} from '../../backends/backend.js'
import {invalid} from '../../backends/errors.js'
import {isJsonObject} from '../../backends/validation.js'
import {BaseCommand} from '../../cli/base-command.js'
import {splitLineChunks} from '../../protocol/lines.js'
import {parseMetricPairs} from '../../cli/flags.js'
import {openInput} from '../../cli/input.js'

/** NDJSON points from a file or stdin, one a line, streamed (never read whole), an array a chunk. */
async function* readPoints(file: string): AsyncIterable<MetricPointInput[]> {
  const input = await openInput(file, '--file')
  let n = 0
  for await (const lines of splitLineChunks(input)) {
    const points: MetricPointInput[] = []
    for (const line of lines) {
      n++
      if (line.trim() === '') continue
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch {
        throw invalid(`--file ${file} line ${n}: not valid JSON`)
      }
      if (!isJsonObject(value)) throw invalid(`--file ${file} line ${n}: expected an object like {"name": "loss", "value": 0.3, "step": 1}`)
      points.push(value as unknown as MetricPointInput)
    }
    yield points
  }
}

export default class RunsLog extends BaseCommand<typeof RunsLog> {
  static override summary = 'Log metric points: single values, or NDJSON batches from a file or stdin.'
  static override description = `Single points: runs log RUN loss=0.31 acc=0.9 [--step N] [--split train]. Batches: runs log RUN --file points.ndjson (or - for stdin), one {"name","value","step","split","time"} a line; streamed, never loaded whole.

Logging the same (name, split, step) again replaces the value, so retrying a batch never duplicates points. A point without a step goes one past its series' last step.`

  static override aliases = ['run:log']
  static override strict = false
  static override examples = [
    '<%= config.bin %> runs log $RUN loss=0.31 --step 3 --split train',
    '<%= config.bin %> runs log $RUN accuracy=0.91 rmse=3.2 --step 3 --split valid',
    '<%= config.bin %> runs log $RUN --file metrics.ndjson',
    'python train.py | <%= config.bin %> runs log $RUN --file -',
  ]

  static override args = {
    run: Args.string({required: true, description: 'Run id.'}),
    point: Args.string({required: false, description: 'NAME=VALUE pairs.'}),
  }

  static override flags = {
    step: Flags.integer({min: 0, description: 'Step (epoch, iteration) of the points given as NAME=VALUE.'}),
    split: Flags.string({description: 'Split of the points given as NAME=VALUE (train, valid, test ...).'}),
    file: Flags.string({char: 'f', description: 'NDJSON points to log ("-" for stdin).'}),
  }

  async run(): Promise<{run: string; count: number}> {
    const [run, ...pairs] = this.positionals
    let points: MetricPointsInput
    if (this.flags.file !== undefined) {
      if (pairs.length > 0) throw invalid('give either NAME=VALUE points or --file, not both')
      if (this.flags.step !== undefined || this.flags.split !== undefined) throw invalid('--step and --split apply to NAME=VALUE points; in --file each line carries its own')
      points = readPoints(this.flags.file)
    } else {
      if (pairs.length === 0) throw invalid('give NAME=VALUE points, or --file FILE')
      const values = parseMetricPairs(pairs, 'point')
      points = (async function* (step, split) {
        for (const [name, value] of Object.entries(values)) yield {name, value, step, split}
      })(this.flags.step, this.flags.split)
    }
    const backend = await this.backend()
    const {count} = await backend.logMetrics(run, points)
    this.say(`Logged ${count} point${count === 1 ? '' : 's'}.`)
    return {run, count}
  }
}
