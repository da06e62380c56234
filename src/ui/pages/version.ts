/**
 * `/projects/P/models/M/versions/V` (V: a number, a tag or `latest`): files with download links
 * (the blob route, which streams the stored bytes), attachments, metadata, metrics, source,
 * lineage (datasets -> run -> checkpoint -> this version) and a diff against another version
 * picked in a form (`?diff=OTHER`, as `models diff OTHER V`).
 */
import type {FileEntry, Version} from '../../backends/backend.js'
import {diffVersions, type VersionDiff} from '../../registry/diff.js'
import {type PageContext, type PageResult, queryValue, requireProject} from '../context.js'
import {html, path, type SafeHtml, withQuery} from '../html.js'
import {bytes, fields, jsonInline, keyValues, table, tags, time} from '../layout.js'

function downloadHref(project: string, file: FileEntry): string {
  return withQuery(`/api/v1/blobs/sha256/${file.sha256}`, {project})
}

function fileTable(id: string, project: string, files: FileEntry[], empty: string): SafeHtml {
  const base = (p: string) => p.slice(p.lastIndexOf('/') + 1)
  return table(
    id,
    ['Path', {label: 'Size', numeric: true}, 'sha256', 'Download'],
    files.map((f) => [
      html`<code>${f.path}</code>`,
      bytes(f.size),
      html`<span class="mr-hash">${f.sha256}</span>`,
      html`<a href="${downloadHref(project, f)}" download="${base(f.path)}" class="mr-download">download</a>`,
    ]),
    {empty},
  )
}

function sourceFields(v: Version): SafeHtml {
  const {git, ci, host} = v.source
  if (!git && !ci && !host) return html`<p class="mr-muted" id="mr-source">No source recorded.</p>`
  const ciUrl = ci?.url && /^https?:\/\//i.test(ci.url) ? ci.url : null
  return fields('mr-source', [
    ['Git commit', git ? html`<code>${git.commit}</code>` : null],
    ['Branch', git?.branch],
    ['Dirty', git ? (git.dirty ? 'yes (uncommitted changes)' : 'no') : null],
    ['Remote', git?.remote],
    ['CI', ci ? `${ci.provider}${ci.job ? ` · ${ci.job}` : ''}${ci.run_id ? ` · ${ci.run_id}` : ''}` : null],
    ['CI job', ciUrl ? html`<a href="${ciUrl}" rel="noopener noreferrer">${ciUrl}</a>` : (ci?.url ?? null)],
    ['Host', host],
  ])
}

function lineage(v: Version): SafeHtml {
  const l = v.lineage
  if (!l) return html`<p class="mr-muted" id="mr-lineage">No lineage: this version was pushed without a run.</p>`
  const runHref = l.run ? path('runs', l.run.id) : null
  return html`<ol class="mr-lineage" id="mr-lineage">
<li class="mr-lineage-datasets"><h3>Datasets</h3>${
    l.datasets.length
      ? html`<ul>${l.datasets.map((d) => html`<li><strong>${d.tag}</strong>: <code>${d.uri}</code>${d.sha256 ? html` <span class="mr-muted mr-mono" title="${d.sha256}">${d.sha256.slice(0, 12)}</span>` : ''}</li>`)}</ul>`
      : html`<span class="mr-muted">none recorded</span>`
  }</li>
<li class="mr-lineage-run"><h3>Run</h3>${
    l.run && runHref
      ? html`<a href="${runHref}">${l.run.name ?? l.run.id}</a><br><span class="mr-muted">${l.run.experiment} · ${l.run.status}</span>`
      : html`<span class="mr-muted">none</span>`
  }</li>
<li class="mr-lineage-checkpoint"><h3>Checkpoint</h3>${
    l.checkpoint && runHref
      ? html`<a href="${runHref}#checkpoint-${l.checkpoint.uuid}" class="mr-mono">${l.checkpoint.uuid.slice(0, 8)}</a>${l.checkpoint.step !== null ? html`<br><span class="mr-muted">step ${l.checkpoint.step}</span>` : ''}`
      : html`<span class="mr-muted">none</span>`
  }</li>
<li class="mr-lineage-version"><h3>Version</h3><strong>${v.model}:${v.version}</strong></li>
</ol>
${Object.keys(l.params).length ? html`<h3>Run params at the time</h3>${keyValues('mr-lineage-params', l.params, '')}` : ''}`
}

function diffSection(d: VersionDiff): SafeHtml {
  if (d.identical) return html`<p id="mr-diff-result">${d.from} → ${d.to}: no differences.</p>`
  const fileRows = (files: VersionDiff['files']) => [
    ...files.added.map((f) => ({cls: 'mr-diff-added', cells: ['+', html`<code>${f.path}</code>`, bytes(f.size)]})),
    ...files.removed.map((f) => ({cls: 'mr-diff-removed', cells: ['−', html`<code>${f.path}</code>`, bytes(f.size)]})),
    ...files.changed.map((f) => ({cls: 'mr-diff-changed', cells: ['~', html`<code>${f.path}</code>`, html`${bytes(f.from.size)} → ${bytes(f.to.size)}`]})),
  ]
  const valueRows = (changes: {added: Record<string, unknown>; removed: Record<string, unknown>; changed: Record<string, {from: unknown; to: unknown; delta?: number}>}) => [
    ...Object.entries(changes.added).map(([k, v]) => ({cls: 'mr-diff-added', cells: ['+', html`<code>${k}</code>`, jsonInline(v)]})),
    ...Object.entries(changes.removed).map(([k, v]) => ({cls: 'mr-diff-removed', cells: ['−', html`<code>${k}</code>`, jsonInline(v)]})),
    ...Object.entries(changes.changed).map(([k, c]) => ({
      cls: 'mr-diff-changed',
      cells: ['~', html`<code>${k}</code>`, `${jsonInline(c.from)} → ${jsonInline(c.to)}${c.delta !== undefined ? ` (${c.delta >= 0 ? '+' : ''}${Number(c.delta.toPrecision(6))})` : ''}`],
    })),
  ]
  const block = (title: string, id: string, rows: {cls: string; cells: (string | SafeHtml)[]}[], note = '') =>
    rows.length
      ? html`<h3>${title}${note}</h3><div class="mr-table-wrap"><table id="${id}"><thead><tr><th scope="col"><span class="mr-muted">±</span></th><th scope="col">Name</th><th scope="col">Value</th></tr></thead><tbody>${rows.map((r) => html`<tr class="${r.cls}">${r.cells.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table></div>`
      : ''
  const fieldRows = Object.entries(d.fields).map(([k, c]) => ({cls: 'mr-diff-changed', cells: ['~', html`<code>${k}</code>`, `${jsonInline(c.from)} → ${jsonInline(c.to)}`]}))
  return html`<div id="mr-diff-result"><p>${d.from} → ${d.to}</p>
${block('Files', 'mr-diff-files', fileRows(d.files), ` (${d.files.unchanged} unchanged)`)}
${block('Attachments', 'mr-diff-attachments', fileRows(d.attachments), ` (${d.attachments.unchanged} unchanged)`)}
${block('Metrics', 'mr-diff-metrics', valueRows(d.metrics))}
${block('Metadata', 'mr-diff-metadata', valueRows(d.metadata))}
${block('Fields', 'mr-diff-fields', fieldRows)}</div>`
}

export async function versionPage(ctx: PageContext): Promise<PageResult> {
  const {project, model, selector} = ctx.params
  requireProject(ctx, project)
  const v = await ctx.backend.getVersion(project, model, selector)
  const against = queryValue(ctx.query, 'diff')
  const [others, other] = await Promise.all([
    ctx.backend.listVersions(project, model, {limit: 500}),
    against !== undefined ? ctx.backend.getVersion(project, model, against) : Promise.resolve(null),
  ])
  const base = path('projects', project, 'models', model, 'versions', selector)
  const diffChoices = others.items.filter((o) => o.version !== v.version)
  const defaultOther = other?.version ?? diffChoices.find((o) => o.version < v.version)?.version ?? diffChoices[0]?.version
  return {
    shell: {
      id: 'version',
      title: `${model}:${v.version} · ${project}`,
      project,
      crumbs: [['Projects', '/'], [project, path('projects', project)], [model, path('projects', project, 'models', model)], [`version ${v.version}`]],
      body: html`<h1>${model} <span class="mr-muted">version</span> ${v.version} ${tags(v.tags)}</h1>
${v.comment ? html`<p class="mr-description" id="mr-version-comment">${v.comment}</p>` : ''}
${fields('mr-version-fields', [
  ['Author', v.author],
  ['Time', time(v.created_at)],
  ['Framework', v.framework],
  ['Format', v.format],
  ['Size', html`${bytes(v.size)} in ${v.file_count} file${v.file_count === 1 ? '' : 's'}`],
  ['Reference', html`<code>${project}/${model}:${v.version}</code>`],
])}
<h2 id="files">Files</h2>
${fileTable('mr-files', project, v.files, 'No files.')}
<h2 id="attachments">Attachments</h2>
${fileTable('mr-attachments', project, v.attachments, 'No attachments.')}
<h2 id="metrics">Metrics</h2>
${keyValues('mr-version-metrics', v.metrics, 'No metrics.')}
<h2 id="metadata">Metadata</h2>
${keyValues('mr-version-metadata', v.metadata, 'No metadata.')}
<h2 id="source">Source</h2>
${sourceFields(v)}
<h2 id="lineage">Lineage</h2>
${lineage(v)}
<h2 id="diff">Compare with another version</h2>
${
  diffChoices.length
    ? html`<form class="mr-filters" method="get" action="${base}#diff" id="mr-diff-form">
<label>From version <select name="diff">${diffChoices.map((o) => html`<option value="${o.version}"${o.version === defaultOther ? html` selected` : ''}>${o.version}${o.tags.length ? ` (${o.tags.join(', ')})` : ''}</option>`)}</select></label>
<button type="submit">Diff</button>
</form>`
    : html`<p class="mr-muted">This is the only version.</p>`
}
${other ? diffSection(diffVersions(other, v)) : ''}`,
    },
  }
}
