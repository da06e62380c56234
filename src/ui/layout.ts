/** The page shell (head, skip link, top navigation, breadcrumbs) and the small formatters pages share. */
import {formatBytes} from '../cli/output.js'
import type {AssetFiles} from './assets.js'
import {html, type HtmlValue, join, path, SafeHtml, withQuery} from './html.js'

export interface Viewer {
  /** Whether the server asks for a token (then a signed-in viewer can log out). */
  authEnabled: boolean
  /** The token (or `modelreg ui` session) the viewer signed in with, or null. */
  name: string | null
  /** The only project the viewer may see, or null for all. */
  project: string | null
}

export interface PageShell {
  /** A stable name for the page kind, on <body data-page>. */
  id: string
  title: string
  crumbs?: [label: string, href?: string][]
  /** The project the page is about, for the navigation. */
  project?: string
  body: SafeHtml
  /** Go to this same-site path at once (a meta refresh: no script needed). */
  refresh?: string
}

export function renderPage(assets: AssetFiles, viewer: Viewer | null, shell: PageShell): string {
  const appCss = assets.href('app.css')
  const appJs = assets.href('app.js')
  const p = shell.project
  const nav: [string, string][] = [['Projects', '/']]
  if (p !== undefined) {
    nav.push(['Models', path('projects', p)], ['Experiments', path('projects', p, 'experiments')], ['Runs', path('projects', p, 'runs')], ['Events', withQuery('/events', {project: p})])
  } else nav.push(['Events', '/events'])
  const crumbs = shell.crumbs ?? []
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
${shell.refresh ? html`<meta http-equiv="refresh" content="0;url=${shell.refresh}">` : ''}
<title>${shell.title} · modelreg</title>
<link rel="stylesheet" href="${assets.href('base.css')}">
${appCss ? html`<link rel="stylesheet" href="${appCss}">` : ''}
${appJs ? html`<script type="module" src="${appJs}"></script>` : ''}
</head>
<body data-page="${shell.id}">
<a class="mr-skip" href="#main">Skip to content</a>
<header class="mr-top">
<a class="mr-brand" href="/">modelreg</a>
<nav aria-label="Main"><ul>${nav.map(([label, href]) => html`<li><a href="${href}">${label}</a></li>`)}</ul></nav>
${
  viewer?.authEnabled && viewer.name !== null
    ? html`<form class="mr-inline-form" method="post" action="/logout"><span class="mr-muted">${viewer.name}${viewer.project ? ` (${viewer.project})` : ''}</span> <button type="submit" class="mr-secondary" id="mr-logout">Log out</button></form>`
    : ''
}
</header>
<main id="main" tabindex="-1">
${
  crumbs.length
    ? html`<nav class="mr-crumbs" aria-label="Breadcrumb"><ol>${crumbs.map(([label, href], i) =>
        href && i < crumbs.length - 1 ? html`<li><a href="${href}">${label}</a></li>` : html`<li aria-current="page">${label}</li>`,
      )}</ol></nav>`
    : ''
}
${shell.body}
</main>
</body>
</html>
`
  return doc.text
}

/** A time as text every viewer reads the same (UTC), machine-readable in datetime. */
export function time(iso: string | null | undefined): SafeHtml {
  if (!iso) return html``
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return html`${iso}`
  const text = `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`
  return html`<time datetime="${iso}">${text}</time>`
}

/** A number short enough for a table cell; the exact value in the title. */
export function num(value: number | null | undefined): SafeHtml {
  if (value === null || value === undefined) return html``
  const short = Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)))
  return short === String(value) ? html`${short}` : html`<span title="${String(value)}">${short}</span>`
}

export function bytes(n: number | null | undefined): SafeHtml {
  if (n === null || n === undefined) return html``
  return html`<span title="${n} bytes">${formatBytes(n)}</span>`
}

/** A JSON value inline: strings as they are, anything else as compact JSON. */
export function jsonInline(value: unknown): string {
  if (value === undefined) return ''
  if (typeof value === 'string') return value
  return JSON.stringify(value)
}

export interface Column {
  label: HtmlValue
  numeric?: boolean
  /** Extra attributes-free class for the header cell. */
  className?: string
}

/** A table in a scrolling wrapper; cells are HtmlValues (escaped unless SafeHtml). */
export function table(id: string, columns: (Column | string)[], rows: HtmlValue[][], options: {caption?: string; empty?: string; rowIds?: string[]} = {}): SafeHtml {
  const cols = columns.map((c) => (typeof c === 'string' ? {label: c} : c))
  if (rows.length === 0) return html`<p class="mr-muted" id="${id}">${options.empty ?? 'Nothing here yet.'}</p>`
  return html`<div class="mr-table-wrap"><table id="${id}">${options.caption ? html`<caption class="mr-muted">${options.caption}</caption>` : ''}
<thead><tr>${cols.map((c) => html`<th scope="col"${c.numeric ? html` class="mr-num"` : ''}>${c.label}</th>`)}</tr></thead>
<tbody>
${rows.map(
  (row, r) =>
    html`<tr${options.rowIds ? html` id="${options.rowIds[r]}"` : ''}>${row.map((cell, i) => html`<td${cols[i]?.numeric ? html` class="mr-num"` : ''}>${cell}</td>`)}</tr>\n`,
)}</tbody></table></div>`
}

/** Definition list of fields; empty values are left out. */
export function fields(id: string, entries: [string, HtmlValue][]): SafeHtml {
  const shown = entries.filter(([, v]) => v !== null && v !== undefined && v !== '' && !(v instanceof SafeHtml && v.text === ''))
  return html`<dl class="mr-fields" id="${id}">${shown.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`
}

/** A key/value table for metadata, params and metrics objects. */
export function keyValues(id: string, object: Record<string, unknown>, empty: string): SafeHtml {
  const keys = Object.keys(object).sort()
  return table(id, ['Key', 'Value'], keys.map((k) => [html`<code>${k}</code>`, typeof object[k] === 'number' ? num(object[k] as number) : jsonInline(object[k])]), {empty})
}

export function labels(values: Record<string, string>): SafeHtml {
  return join(Object.entries(values).map(([k, v]) => html`<span class="mr-label">${k}=${v}</span>`), ' ')
}

export function tags(values: string[]): SafeHtml {
  return join(values.map((t) => html`<span class="mr-tag">${t}</span>`), ' ')
}

/** Previous/next links for a page of results (the query of the page kept, its offset moved). */
export function pager(base: string, query: Record<string, string | number | string[] | undefined | null>, page: {offset: number; limit: number; total: number; shown: number}): SafeHtml {
  const {offset, limit, total, shown} = page
  if (total === 0) return html``
  const first = offset + 1
  const last = offset + shown
  const prev = offset > 0 ? withQuery(base, {...query, offset: Math.max(0, offset - limit) || undefined}) : null
  const next = last < total ? withQuery(base, {...query, offset: offset + limit}) : null
  return html`<nav class="mr-pager" aria-label="Pages"><span class="mr-muted">${shown === 0 ? `none of ${total}` : `${first}–${last} of ${total}`}</span>
${prev ? html`<a href="${prev}" rel="prev" class="mr-prev">Previous</a>` : ''}
${next ? html`<a href="${next}" rel="next" class="mr-next">Next</a>` : ''}</nav>`
}
