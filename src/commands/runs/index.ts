import * as Flags from '@oclif/core/flags'
import type {Page, RunSummary} from '../../backends/backend.js'
import {RUN_STATUSES} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'
import {statusStyle} from '../../cli/color.js'
import {pageFlags, parseMetaPairs, tableFlags} from '../../cli/flags.js'
import {formatJsonInline, formatTime} from '../../cli/output.js'
import {metricsInline, runDuration} from '../../cli/render.js'
import {parseMetricKey, metricKey} from '../../backends/filter.js'

export default class Runs extends BaseCommand<typeof Runs> {
  static override summary = 'Find runs: by experiment, status, params, a filter; sorted by any field or metric.'
  static override description = `--where takes a small filter language: comparisons (= != < <= > >= like, not like) on name, status, experiment, author, id, created_at, start_time, end_time, params.KEY, tags.KEY and metrics.NAME (a metric's last value; metrics.NAME[SPLIT] for a series with a split), combined with and, or, not and parentheses. Strings are quoted: status = 'completed'. A field a run lacks never matches.`

  static override aliases = ['runs:list', 'run:list']
  static override examples = [
    '<%= config.bin %> runs --experiment mnist --status completed',
    "<%= config.bin %> runs --where \"metrics.accuracy > 0.9 and params.lr <= 0.01\" --sort-by metrics.accuracy --order-by desc --limit 5",
    "<%= config.bin %> runs --where \"(status = 'completed' or status = 'killed') and metrics.loss[valid] < 0.3\"",
    '<%= config.bin %> runs --sort-by "metrics.loss[valid]" --order-by asc --limit 1 --json | jq -r ".items[0].id"',
  ]

  static override flags = {
    experiment: Flags.string({char: 'e', description: 'Only runs of this experiment.'}),
    status: Flags.string({multiple: true, multipleNonGreedy: true, delimiter: ',', options: [...RUN_STATUSES], description: 'Only runs with this status; repeatable, or comma-separated (--status completed,killed).'}),
    param: Flags.string({multiple: true, multipleNonGreedy: true, description: 'Only runs with this param value KEY=VALUE; repeatable.'}),
    where: Flags.string({char: 'w', description: 'A filter (see above).'}),
    'sort-by': Flags.string({default: 'created_at', description: 'name, status, created_at, start_time, end_time, params.KEY, metrics.NAME ...'}),
    'order-by': Flags.string({options: ['asc', 'desc'], default: 'desc', description: 'Sort order (runs missing the field come last).'}),
    ...pageFlags('runs', 50),
    ...tableFlags,
  }

  async run(): Promise<Page<RunSummary>> {
    const backend = await this.backend()
    const sortBy = this.flags['sort-by']
    const page = await backend.listRuns(this.project, {
      experiment: this.flags.experiment,
      status: this.flags.status as RunSummary['status'][] | undefined,
      params: this.flags.param ? parseMetaPairs(this.flags.param, '--param') : undefined,
      where: this.flags.where,
      sort_by: sortBy,
      order_by: this.flags['order-by'] as 'asc' | 'desc',
      limit: this.flags.limit,
      offset: this.flags.offset,
    })
    if (page.total === 0) this.note('No runs match.')
    // A column for the sort key when it is a param or a metric, so the order is visible.
    const extra = sortBy.startsWith('metrics.') || sortBy.startsWith('params.') ? sortBy : null
    const extraValue = (r: RunSummary) => {
      if (!extra) return []
      if (extra.startsWith('params.')) return [formatJsonInline(r.params[extra.slice(7)] ?? '')]
      const {name, split} = parseMetricKey(extra.slice(8))
      return [r.metrics[metricKey(name, split)] ?? '']
    }
    this.table(
      [
        'ID',
        {header: 'NAME', truncate: true, priority: 2},
        {header: 'EXPERIMENT', truncate: true, priority: 3},
        {header: 'STATUS', style: statusStyle},
        {header: 'STARTED', priority: 3},
        {header: 'DURATION', priority: 4},
        ...(extra ? [{header: extra.toUpperCase(), truncate: true, minWidth: 8}] : []),
        {header: 'METRICS', truncate: true, minWidth: 20, priority: 2},
      ],
      page.items.map((r) => [r.id, r.name ?? '', r.experiment, r.status, formatTime(r.start_time), runDuration(r), ...extraValue(r), metricsInline(r.metrics)]),
    )
    if (page.total > page.offset + page.items.length) this.note(`Showing ${page.items.length} of ${page.total}; use --offset to see more.`)
    return page
  }
}
