/**
 * HTML templates that escape by default: every value interpolated into `html`...`` is escaped
 * unless it is itself the result of `html` (or `raw`, for text this module made safe). A model
 * described as `<script>` renders as text.
 */

export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text
  }
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | HtmlValue[]

const ESCAPES: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;'}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c])
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return ''
  if (value instanceof SafeHtml) return value.text
  if (Array.isArray(value)) return value.map(render).join('')
  return escapeHtml(String(value))
}

/** A template whose interpolations are escaped (arrays are joined, null/undefined/false render nothing). */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]
  return new SafeHtml(out)
}

/** Text already safe (made here from escaped parts). Never call it with data. */
export function raw(text: string): SafeHtml {
  return new SafeHtml(text)
}

/** Join fragments with a separator. */
export function join(parts: HtmlValue[], separator: HtmlValue = ''): SafeHtml {
  const sep = render(separator)
  return new SafeHtml(parts.map(render).join(sep))
}

/** A path from segments, each percent-encoded: `/projects/a%20b/models/m`. */
export function path(...segments: (string | number)[]): string {
  return `/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`
}

/** A URL with a query; undefined, null and empty values are left out; arrays repeat the key. */
export function withQuery(base: string, query: Record<string, string | number | string[] | undefined | null>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    if (Array.isArray(value)) for (const v of value) search.append(key, v)
    else search.append(key, String(value))
  }
  const text = search.toString()
  return text ? `${base}?${text}` : base
}
