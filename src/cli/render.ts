/** Human renderings of registry entities, shared by the commands that show them. */
import type {CheckpointSummary, FileEntry, Lineage, Model, Run, SourceInfo, Version, VersionSummary} from '../backends/backend.js'
import {formatRef} from '../backends/validation.js'
import {paint, type Style, statusStyle, TAG_STYLE} from './color.js'
import {displayWidth, truncateToWidth} from './display-width.js'
import {formatBytes, formatJsonInline, relativeTime, renderFields} from './output.js'

/**
 * Columns aligned with two spaces, indented; always aligned (used inside summaries). `styleOf`
 * colours cells when colour is on for stdout, after the widths are measured. With `fit`, the
 * columns listed in `cut` are cut with …, in that order and to no less than 12 columns each, to
 * keep rows inside `width`.
 */
export function alignRows(
  rows: string[][],
  indent = '  ',
  styleOf?: (row: string[], column: number) => Style | undefined,
  fit?: {width: number; cut: number[]},
): string {
  if (rows.length === 0) return ''
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => displayWidth(r[i] ?? ''))))
  if (fit) {
    let excess = indent.length + widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1) - fit.width
    for (const i of fit.cut) {
      const cut = Math.max(0, Math.min(excess, widths[i] - 12))
      widths[i] -= cut
      excess -= cut
    }
    rows = rows.map((r) => r.map((cell, i) => truncateToWidth(cell, widths[i])))
  }
  return rows
    .map((r) => {
      const cells = r.map((cell, i) => {
        // Padding stays outside the colour codes, which take no room on the screen.
        const shown = styleOf ? paint(styleOf(r, i), cell) : cell
        return i === r.length - 1 ? shown : shown + ' '.repeat(Math.max(0, widths[i] - displayWidth(cell)))
      })
      return (indent + cells.join('  ')).trimEnd()
    })
    .join('\n')
}

export function timeWithAge(iso: string): string {
  return `${iso} (${relativeTime(iso)})`
}

export function describeSource(source: SourceInfo): string {
  const parts: string[] = []
  if (source.git) {
    const where = [source.git.branch, source.git.dirty ? 'dirty' : null].filter(Boolean).join(', ')
    parts.push(`git ${source.git.commit.slice(0, 12)}${where ? ` (${where})` : ''}`)
  }
  if (source.host) parts.push(`host ${source.host}`)
  if (source.ci) {
    const ci = source.ci
    parts.push(`${ci.provider}${ci.job ? ` job ${ci.job}` : ''}${ci.run_id ? ` #${ci.run_id}` : ''}${ci.url ? ` ${ci.url}` : ''}`)
  }
  return parts.join('; ')
}

export function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}

function fileRows(files: FileEntry[]): string[][] {
  return files.map((f) => [f.path, formatBytes(f.size), f.sha256, f.mode === 0o755 ? 'x' : ''])
}

/** On a terminal (and without --wide), the width to keep listings inside; undefined means uncut. */
export interface RenderWidth {
  width?: number
}

export function versionHeadline(v: VersionSummary): string {
  return `${formatRef(v.model, v.version)}${v.tags.length ? `  (${v.tags.map((t) => paint(TAG_STYLE, t)).join(', ')})` : ''}`
}

export function renderVersion(v: Version, {width}: RenderWidth = {}): string {
  // A digest's first characters are enough to recognise it; the path is what people read.
  const fit = width === undefined ? undefined : {width, cut: [2, 0]}
  const sections = [
    versionHeadline(v),
    renderFields([
      ['Project', v.project],
      ['Author', v.author],
      ['Created', timeWithAge(v.created_at)],
      ['Comment', v.comment],
      ['Framework', v.framework],
      ['Format', v.format],
      ['Size', `${formatBytes(v.size)} in ${v.file_count} file${v.file_count === 1 ? '' : 's'}`],
      ['Source', describeSource(v.source)],
    ]),
  ]
  const metrics = Object.entries(v.metrics)
  if (metrics.length) sections.push(`Metrics:\n${alignRows(metrics.map(([k, n]) => [k, String(n)]))}`)
  const metadata = Object.entries(v.metadata)
  if (metadata.length) sections.push(`Metadata:\n${alignRows(metadata.map(([k, value]) => [k, formatJsonInline(value)]))}`)
  if (v.lineage) sections.push(renderLineage(v.lineage))
  sections.push(`Files:\n${alignRows(fileRows(v.files), '  ', undefined, fit)}`)
  if (v.attachments.length) sections.push(`Attachments:\n${alignRows(fileRows(v.attachments), '  ', undefined, fit)}`)
  return sections.join('\n\n')
}

export function renderLineage(l: Lineage): string {
  const lines = ['Lineage:']
  if (l.run) lines.push(`  run         ${l.run.id}${l.run.name ? ` (${l.run.name})` : ''} in experiment ${l.run.experiment}, ${l.run.status} when recorded`)
  if (l.checkpoint) lines.push(`  checkpoint  ${l.checkpoint.uuid}${l.checkpoint.step === null ? '' : ` at step ${l.checkpoint.step}`}`)
  const params = Object.entries(l.params)
  if (params.length) lines.push(`  params      ${params.map(([k, v]) => `${k}=${formatJsonInline(v)}`).join(' ')}`)
  const metrics = Object.entries(l.metrics)
  if (metrics.length) lines.push(`  metrics     ${metrics.map(([k, v]) => `${k}=${v}`).join(' ')}`)
  for (const d of l.datasets) lines.push(`  dataset     ${d.tag}: ${d.uri}${d.sha256 ? ` sha256:${d.sha256.slice(0, 12)}` : ''}`)
  return lines.join('\n')
}

/** "3m 12s", "1h 4m", "0.4s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${(ms / 1000).toFixed(1)}s`
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${s % 60}s`
  const h = Math.floor(m / 60)
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`
}

export function runDuration(r: {start_time: string | null; end_time: string | null}, now = Date.now()): string {
  if (!r.start_time) return ''
  const end = r.end_time ? Date.parse(r.end_time) : now
  return `${formatDuration(end - Date.parse(r.start_time))}${r.end_time ? '' : '+'}`
}

export function metricsInline(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k}=${Number(v.toPrecision(6))}`)
    .join(' ')
}

export function checkpointRows(checkpoints: CheckpointSummary[]): string[][] {
  return checkpoints.map((c) => [c.uuid, c.step === null ? '' : String(c.step), `${c.file_count}`, formatBytes(c.size), metricsInline(c.metrics)])
}

export function renderRun(r: Run): string {
  const sections = [
    `run ${r.id}${r.name ? `  (${r.name})` : ''}`,
    renderFields([
      ['Project', r.project],
      ['Experiment', r.experiment],
      ['Status', paint(statusStyle(r.status), r.status)],
      ['Author', r.author],
      ['Created', timeWithAge(r.created_at)],
      ['Started', r.start_time ? timeWithAge(r.start_time) : null],
      ['Ended', r.end_time ? timeWithAge(r.end_time) : null],
      ['Duration', runDuration(r)],
      ['Tags', labelsText(r.tags)],
      ['Source', describeSource(r.source)],
    ]),
  ]
  const params = Object.entries(r.params)
  if (params.length) sections.push(`Params:\n${alignRows(params.map(([k, v]) => [k, formatJsonInline(v)]))}`)
  if (r.metric_summaries.length) {
    sections.push(
      `Metrics:\n${alignRows([
        ['NAME', 'SPLIT', 'LAST', 'MIN', 'MAX', 'STEPS'],
        ...r.metric_summaries.map((m) => [m.name, m.split, String(m.last), String(m.min), String(m.max), String(m.count)]),
      ])}`,
    )
  }
  if (r.datasets.length) {
    sections.push(`Datasets:\n${alignRows(r.datasets.map((d) => [d.tag, d.uri, d.sha256 ? `sha256:${d.sha256.slice(0, 12)}` : '', Object.keys(d.metadata).length ? JSON.stringify(d.metadata) : '']))}`)
  }
  if (r.checkpoints.length) sections.push(`Checkpoints:\n${alignRows([['UUID', 'STEP', 'FILES', 'SIZE', 'METRICS'], ...checkpointRows(r.checkpoints)])}`)
  if (r.versions.length) sections.push(`Versions:\n${alignRows(r.versions.map((v) => [`${v.project}/${v.model}:${v.version}`]))}`)
  return sections.join('\n\n')
}

export function renderModel(m: Model): string {
  return renderFields([
    ['Model', m.name],
    ['Project', m.project],
    ['Description', m.description],
    ['Owner', m.owner],
    ['Task', m.task],
    ['Labels', labelsText(m.labels)],
    ['Metadata', Object.keys(m.metadata).length ? JSON.stringify(m.metadata) : null],
    ['Versions', `${m.version_count}${m.latest_version === null ? '' : ` (latest: ${m.latest_version})`}`],
    ['Created', timeWithAge(m.created_at)],
    ['Updated', timeWithAge(m.updated_at)],
  ])
}
