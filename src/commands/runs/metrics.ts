import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../../cli/base-command.js'
import {stdoutIsTerminal} from '../../cli/output.js'

/** Write to stdout, waiting when the pipe is full, so a large series streams in constant memory. */
function write(text: string): Promise<void> | void {
  if (process.stdout.write(text)) return
  return new Promise((resolve) => process.stdout.once('drain', () => resolve()))
}

export default class RunsMetrics extends BaseCommand<typeof RunsMetrics> {
  static override summary = 'Print the full metric series of a run (streamed): table, csv, ndjson or json.'
  static override aliases = ['run:metrics']
  static override examples = [
    '<%= config.bin %> runs metrics $RUN',
    '<%= config.bin %> runs metrics $RUN --name loss --split valid --format csv > loss.csv',
    "<%= config.bin %> runs metrics $RUN --format ndjson | jq -c 'select(.step % 10 == 0)'",
  ]

  static override args = {
    run: Args.string({required: true, description: 'Run id.'}),
  }

  static override flags = {
    name: Flags.string({description: 'Only this metric.'}),
    split: Flags.string({description: 'Only this split ("" for points without one).'}),
    format: Flags.string({options: ['table', 'csv', 'ndjson', 'json'], default: 'table', description: 'Output format (--json means json).'}),
  }

  async run(): Promise<void> {
    const format = this.jsonEnabled() ? 'json' : this.flags.format
    const backend = await this.backend()
    const series = backend.readMetrics(this.args.run, {name: this.flags.name, split: this.flags.split})
    const terminal = stdoutIsTerminal()
    let first = true
    let buffer = ''
    const flush = async (force = false) => {
      if (buffer.length >= 65_536 || (force && buffer)) {
        const text = buffer
        buffer = ''
        await write(text)
      }
    }
    if (format === 'csv') buffer += 'name,split,step,value,time\n'
    if (format === 'json') buffer += `{"run": ${JSON.stringify(this.args.run)}, "points": [`
    if (format === 'table' && terminal) buffer += `${'NAME'.padEnd(20)}  ${'SPLIT'.padEnd(8)}  ${'STEP'.padStart(8)}  VALUE\n`
    let count = 0
    for await (const p of series) {
      count++
      switch (format) {
        case 'csv':
          buffer += `${p.name},${p.split},${p.step},${p.value},${p.time}\n`
          break
        case 'ndjson':
          buffer += `${JSON.stringify(p)}\n`
          break
        case 'json':
          buffer += `${first ? '\n  ' : ',\n  '}${JSON.stringify(p)}`
          break
        default:
          buffer += terminal
            ? `${p.name.padEnd(20)}  ${p.split.padEnd(8)}  ${String(p.step).padStart(8)}  ${p.value}\n`
            : `${p.name}\t${p.split}\t${p.step}\t${p.value}\t${p.time}\n`
      }
      first = false
      await flush()
    }
    if (format === 'json') buffer += `${count ? '\n' : ''}]}\n`
    await flush(true)
    if (count === 0 && format === 'table') this.note('No points logged yet.')
  }
}
