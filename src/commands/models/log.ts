import * as Args from '@oclif/core/args'
import type {LogEntry, Page} from '../../backends/backend.js'
import {parseRef} from '../../backends/validation.js'
import {BaseCommand} from '../../cli/base-command.js'
import {pageFlags, tableFlags} from '../../cli/flags.js'
import {TAG_STYLE} from '../../cli/color.js'
import {type Column, formatTime} from '../../cli/output.js'

export function describeLogEntry(e: LogEntry): string {
  switch (e.type) {
    case 'version.created':
      return 'push'
    case 'version.deleted':
      return 'delete'
    case 'tag.set':
      return e.previous === null ? `tag ${e.tag}` : `tag ${e.tag} (from ${e.previous})`
    case 'tag.removed':
      return `untag ${e.tag}`
    default:
      return e.type
  }
}

/**
 * The log's table. The event is never cut ("tag prod (from 1)" cut to "tag prod (…" loses what
 * moved): on a narrow terminal the author goes first, then the tags.
 */
export const LOG_COLUMNS: Column[] = [
  {header: 'DATE', priority: 2},
  {header: 'VERSION'},
  {header: 'EVENT'},
  {header: 'TAGS', truncate: true, priority: 3, style: TAG_STYLE},
  {header: 'AUTHOR', truncate: true, priority: 3},
  {header: 'COMMENT', truncate: true, minWidth: 20, priority: 2},
]

export default class ModelsLog extends BaseCommand<typeof ModelsLog> {
  static override summary = 'Show the history of saves and tag moves, newest first.'
  static override aliases = ['model:log']
  static override examples = ['<%= config.bin %> models log', '<%= config.bin %> models log credit-risk', '<%= config.bin %> models:log credit-risk --limit 5 --json']

  static override args = {
    name: Args.string({required: false, description: 'Only this model (default: every model in the project).'}),
  }

  static override flags = {
    ...pageFlags('entries', 50),
    ...tableFlags,
  }

  async run(): Promise<Page<LogEntry>> {
    const ref = this.args.name ? parseRef(this.args.name) : null
    const backend = await this.backend()
    const page = await backend.modelLog(ref?.project ?? this.project, {model: ref?.name, limit: this.flags.limit, offset: this.flags.offset})
    if (page.total === 0) this.note('Nothing logged yet.')
    this.table(
      LOG_COLUMNS,
      page.items.map((e) => [formatTime(e.time), e.version === null ? e.model : `${e.model}:${e.version}`, describeLogEntry(e), e.tags.join(','), e.author, e.comment]),
    )
    return page
  }
}
