import * as Flags from '@oclif/core/flags'
import type {EventQuery, EventType, Page, RegistryEvent} from '../../backends/backend.js'
import {EVENT_TYPES} from '../../backends/backend.js'
import {invalid} from '../../backends/errors.js'
import {quote} from '../../backends/validation.js'
import {BaseCommand} from '../../cli/base-command.js'
import {TAG_STYLE} from '../../cli/color.js'
import {tableFlags} from '../../cli/flags.js'
import {type Column, formatTime, renderTable, stdoutIsTerminal, terminalWidth} from '../../cli/output.js'
import {truncateToWidth} from '../../cli/display-width.js'

/** "2026-11-01T10:00:00Z", or a duration back from now: 90s, 30m, 2h, 7d, 1w. */
export function parseSince(text: string, now = Date.now()): string {
  const match = /^(\d+)\s*([smhdw])$/.exec(text.trim())
  if (match) {
    const unit = {s: 1, m: 60, h: 3600, d: 86_400, w: 604_800}[match[2] as 's' | 'm' | 'h' | 'd' | 'w']
    return new Date(now - Number(match[1]) * unit * 1000).toISOString()
  }
  const time = new Date(text)
  if (Number.isNaN(time.getTime())) throw invalid(`--since ${quote(text)}: expected an ISO 8601 time or a duration such as 30m, 2h, 7d`)
  return time.toISOString()
}

function eventRow(e: RegistryEvent): unknown[] {
  return [e.id, formatTime(e.time), e.type, e.project, e.model ?? '', e.version ?? '', e.tag ?? '', e.actor]
}

const HEADERS: Column[] = [
  {header: 'ID', priority: 3},
  {header: 'TIME', priority: 2},
  {header: 'TYPE'},
  {header: 'PROJECT', truncate: true, priority: 4},
  {header: 'MODEL', truncate: true},
  {header: 'VERSION', priority: 2},
  {header: 'TAG', truncate: true, priority: 2, style: TAG_STYLE},
  {header: 'ACTOR', truncate: true, priority: 3},
]

export default class Events extends BaseCommand<typeof Events> {
  static override summary = 'List change events (model created, version pushed, tag moved ...); --follow streams new ones.'
  static override description =
    'Every change writes one event in the same transaction. Without --since, shows the most recent events, oldest first. With --follow, keeps running and prints new events as they happen (NDJSON with --json) until interrupted.'

  static override examples = [
    '<%= config.bin %> events',
    '<%= config.bin %> events --model credit-risk --type tag.set --since 7d',
    '<%= config.bin %> events --follow --json | jq -c \'select(.type == "version.created")\'',
  ]

  static override flags = {
    type: Flags.string({multiple: true, multipleNonGreedy: true, delimiter: ',', options: [...EVENT_TYPES], description: 'Only events of this type; repeatable, or comma-separated.'}),
    model: Flags.string({description: 'Only events of this model.'}),
    since: Flags.string({description: 'Only events at or after this time (ISO 8601) or within this duration (30m, 2h, 7d).'}),
    limit: Flags.integer({default: 50, min: 1, description: 'At most this many events.'}),
    'all-projects': Flags.boolean({default: false, description: 'Events of every project, not only the current one.'}),
    follow: Flags.boolean({char: 'f', default: false, description: 'Keep running and print new events as they happen.'}),
    ...tableFlags,
  }

  private query(): EventQuery {
    return {
      project: this.flags['all-projects'] ? undefined : this.project,
      model: this.flags.model,
      types: this.flags.type as EventType[] | undefined,
      since: this.flags.since === undefined ? undefined : parseSince(this.flags.since),
    }
  }

  async run(): Promise<Page<RegistryEvent> | undefined> {
    const query = this.query()
    const backend = await this.backend()
    let page: Page<RegistryEvent>
    if (query.since === undefined) {
      page = await backend.listEvents({...query, order: 'desc', limit: this.flags.limit})
      page = {...page, items: page.items.reverse()}
    } else {
      page = await backend.listEvents({...query, order: 'asc', limit: this.flags.limit})
    }
    if (!this.flags.follow) {
      if (page.total === 0) this.note('No events match.')
      this.table(HEADERS, page.items.map(eventRow))
      return page
    }
    await this.follow(page.items, query)
    return undefined
  }

  private async follow(initial: RegistryEvent[], query: EventQuery): Promise<void> {
    const json = this.jsonEnabled()
    const print = (events: RegistryEvent[]) => {
      if (events.length === 0) return
      if (json) process.stdout.write(events.map((e) => `${JSON.stringify(e)}\n`).join(''))
      // Rows come one at a time, so they cannot be aligned; each is still kept to one line.
      else if (stdoutIsTerminal()) process.stdout.write(`${events.map((e) => fitLine(eventRow(e).join('  '))).join('\n')}\n`)
      else process.stdout.write(`${renderTable(HEADERS, events.map(eventRow))}\n`)
    }
    const width = terminalWidth(process.stdout)
    const fitLine = (line: string) => (this.flags.wide ? line : truncateToWidth(line.replace(/[\u0000-\u001F\u007F-\u009F]/g, '\uFFFD'), width))
    print(initial)
    const backend = await this.backend()
    const abort = new AbortController()
    const stop = () => abort.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    const after = initial.length ? initial[initial.length - 1].id : undefined
    for await (const event of backend.followEvents({...query, since: undefined, after_id: after}, abort.signal)) print([event])
  }
}
