/** Human renderings of registry entities, shared by the commands that show them. */
import type {FileEntry, Model, SourceInfo, Version, VersionSummary} from '../backends/backend.js'
import {formatRef} from '../backends/validation.js'
import {formatBytes, formatJsonInline, relativeTime, renderFields} from './output.js'

/** Columns aligned with two spaces, indented; always aligned (used inside summaries). */
export function alignRows(rows: string[][], indent = '  '): string {
  if (rows.length === 0) return ''
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows
    .map((r) =>
      (indent + r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).trimEnd(),
    )
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

export function versionHeadline(v: VersionSummary): string {
  return `${formatRef(v.model, v.version)}${v.tags.length ? `  (${v.tags.join(', ')})` : ''}`
}

export function renderVersion(v: Version): string {
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
  sections.push(`Files:\n${alignRows(fileRows(v.files))}`)
  if (v.attachments.length) sections.push(`Attachments:\n${alignRows(fileRows(v.attachments))}`)
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
