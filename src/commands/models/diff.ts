import * as Args from '@oclif/core/args'
import {BaseCommand} from '../../cli/base-command.js'
import {diffStyle} from '../../cli/color.js'
import {resolveRef} from '../../cli/flags.js'
import {formatBytes, formatJsonInline} from '../../cli/output.js'
import {alignRows} from '../../cli/render.js'
import {diffVersions, type VersionDiff} from '../../registry/diff.js'

/** A row of a diff in the colour of its mark: + green, - red, ~ yellow. */
const byMark = (row: string[]) => diffStyle(row[0])

function renderDiff(d: VersionDiff, project: string): string {
  const short = (ref: string) => (ref.startsWith(`${project}/`) ? ref.slice(project.length + 1) : ref)
  const out: string[] = [`${short(d.from)} -> ${short(d.to)}`]
  if (d.identical) return `${out[0]}\nNo differences.`
  for (const [title, files] of [
    ['Files', d.files],
    ['Attachments', d.attachments],
  ] as const) {
    const rows: string[][] = [
      ...files.added.map((f) => ['+', f.path, formatBytes(f.size)]),
      ...files.removed.map((f) => ['-', f.path, formatBytes(f.size)]),
      ...files.changed.map((f) => ['~', f.path, `${formatBytes(f.from.size)} -> ${formatBytes(f.to.size)}`]),
    ]
    if (rows.length) out.push(`${title} (${files.unchanged} unchanged):\n${alignRows(rows, '  ', byMark)}`)
  }
  const metrics: string[][] = [
    ...Object.entries(d.metrics.added).map(([k, v]) => ['+', k, String(v)]),
    ...Object.entries(d.metrics.removed).map(([k, v]) => ['-', k, String(v)]),
    ...Object.entries(d.metrics.changed).map(([k, c]) => ['~', k, `${c.from} -> ${c.to} (${c.delta >= 0 ? '+' : ''}${Number(c.delta.toPrecision(6))})`]),
  ]
  if (metrics.length) out.push(`Metrics:\n${alignRows(metrics, '  ', byMark)}`)
  const metadata: string[][] = [
    ...Object.entries(d.metadata.added).map(([k, v]) => ['+', k, formatJsonInline(v)]),
    ...Object.entries(d.metadata.removed).map(([k, v]) => ['-', k, formatJsonInline(v)]),
    ...Object.entries(d.metadata.changed).map(([k, c]) => ['~', k, `${formatJsonInline(c.from)} -> ${formatJsonInline(c.to)}`]),
  ]
  if (metadata.length) out.push(`Metadata:\n${alignRows(metadata, '  ', byMark)}`)
  const fields = Object.entries(d.fields).map(([k, c]) => ['~', k, `${formatJsonInline(c.from)} -> ${formatJsonInline(c.to)}`])
  if (fields.length) out.push(`Fields:\n${alignRows(fields, '  ', byMark)}`)
  return out.join('\n\n')
}

export default class ModelsDiff extends BaseCommand<typeof ModelsDiff> {
  static override summary = 'Show what changed between two versions: files, metadata and metrics.'
  static override aliases = ['model:diff']
  static override examples = [
    '<%= config.bin %> models diff credit-risk:2 credit-risk:3',
    '<%= config.bin %> models diff credit-risk:prod credit-risk:latest --json',
  ]

  static override args = {
    from: Args.string({required: true, description: 'The older reference.'}),
    to: Args.string({required: true, description: 'The newer reference.'}),
  }

  async run(): Promise<VersionDiff> {
    const a = resolveRef(this.args.from, this.project)
    const b = resolveRef(this.args.to, this.project)
    const backend = await this.backend()
    const [from, to] = await Promise.all([backend.getVersion(a.project, a.name, a.selector), backend.getVersion(b.project, b.name, b.selector)])
    const diff = diffVersions(from, to)
    this.say(renderDiff(diff, this.project))
    return diff
  }
}
