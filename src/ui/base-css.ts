/** The base stylesheet of every page, served at /assets/base.css (the bundle's app.css adds chart styles). */
export const BASE_CSS = `/* modelreg base styles: light and dark, readable from a phone to a desktop */
:root {
  color-scheme: light dark;
  --bg: #ffffff;
  --fg: #1b1f24;
  --muted: #57606a;
  --border: #d0d7de;
  --panel: #f6f8fa;
  --accent: #0b5cad;
  --accent-fg: #ffffff;
  --danger: #b42318;
  --danger-bg: #fdecea;
  --ok: #1a7f37;
  --added: #e6f4ea;
  --removed: #fdecea;
  --changed: #fff8c5;
  --focus: #e36209;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1419;
    --fg: #e6edf3;
    --muted: #9da7b3;
    --border: #30363d;
    --panel: #161b22;
    --accent: #58a6ff;
    --accent-fg: #0f1419;
    --danger: #ff7b72;
    --danger-bg: #3b1614;
    --ok: #3fb950;
    --added: #12301c;
    --removed: #3b1614;
    --changed: #3a3313;
    --focus: #f0883e;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
a { color: var(--accent); }
a:hover { text-decoration-thickness: 2px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.mr-skip {
  position: absolute; left: 0.5rem; top: -3rem; z-index: 10;
  background: var(--accent); color: var(--accent-fg); padding: 0.5rem 0.75rem; border-radius: 4px;
}
.mr-skip:focus { top: 0.5rem; }
header.mr-top {
  display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1.25rem;
  padding: 0.6rem 1rem; border-bottom: 1px solid var(--border); background: var(--panel);
}
header.mr-top .mr-brand { font-weight: 700; color: var(--fg); text-decoration: none; }
header.mr-top nav ul { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; list-style: none; margin: 0; padding: 0; }
header.mr-top form { margin-left: auto; }
main { max-width: 1240px; margin: 0 auto; padding: 1rem; }
nav.mr-crumbs ol { display: flex; flex-wrap: wrap; gap: 0.25rem; list-style: none; margin: 0 0 0.5rem; padding: 0; color: var(--muted); }
nav.mr-crumbs li + li::before { content: "/"; margin-right: 0.25rem; color: var(--muted); }
h1 { font-size: 1.5rem; margin: 0.25rem 0 0.75rem; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 0.5rem; }
p.mr-muted, .mr-muted { color: var(--muted); }
.mr-description { white-space: pre-wrap; overflow-wrap: anywhere; }
code, pre, .mr-mono { font-family: var(--mono); font-size: 0.9em; }
pre { background: var(--panel); border: 1px solid var(--border); border-radius: 4px; padding: 0.5rem 0.75rem; overflow-x: auto; }
.mr-table-wrap { overflow-x: auto; border: 1px solid var(--border); border-radius: 4px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--border); vertical-align: top; }
th { background: var(--panel); font-weight: 600; white-space: nowrap; }
th.mr-col { white-space: normal; min-width: 6ch; }
td time, td.mr-num { white-space: nowrap; }
tbody tr:last-child td { border-bottom: 0; }
td.mr-num, th.mr-num { text-align: right; font-variant-numeric: tabular-nums; }
td.mr-hash { font-family: var(--mono); font-size: 0.85em; overflow-wrap: anywhere; min-width: 12ch; }
dl.mr-fields { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0; }
dl.mr-fields dt { color: var(--muted); }
dl.mr-fields dd { margin: 0; overflow-wrap: anywhere; }
.mr-tag, .mr-label, .mr-status {
  display: inline-block; padding: 0 0.45rem; margin: 0 0.2rem 0.2rem 0; border-radius: 999px;
  border: 1px solid var(--border); background: var(--panel); font-size: 0.85em; white-space: nowrap;
}
.mr-status-completed { color: var(--ok); }
.mr-status-failed, .mr-status-killed { color: var(--danger); }
form.mr-filters { display: flex; flex-wrap: wrap; gap: 0.5rem 0.75rem; align-items: flex-end; margin: 0.5rem 0 1rem; }
form.mr-filters label { display: flex; flex-direction: column; gap: 0.15rem; font-size: 0.9em; color: var(--muted); }
form.mr-filters .mr-grow { flex: 1 1 24rem; }
input, select, button { font: inherit; color: inherit; }
input[type="text"], input[type="search"], input[type="password"], select {
  background: var(--bg); border: 1px solid var(--border); border-radius: 4px; padding: 0.3rem 0.5rem; min-height: 2.1rem; max-width: 100%;
}
button, .mr-button {
  background: var(--accent); color: var(--accent-fg); border: 1px solid var(--accent); border-radius: 4px;
  padding: 0.3rem 0.8rem; min-height: 2.1rem; cursor: pointer; text-decoration: none; display: inline-block;
}
button.mr-secondary { background: transparent; color: var(--accent); }
fieldset.mr-columns { border: 1px solid var(--border); border-radius: 4px; margin: 0 0 1rem; padding: 0.5rem 0.75rem; }
fieldset.mr-columns label { display: inline-flex; gap: 0.3rem; margin-right: 1rem; white-space: nowrap; }
details.mr-picker summary { cursor: pointer; margin-bottom: 0.5rem; }
.mr-error { border: 1px solid var(--danger); background: var(--danger-bg); color: var(--fg); border-radius: 4px; padding: 0.5rem 0.75rem; margin: 0.5rem 0 1rem; }
.mr-error pre { background: transparent; border: 0; padding: 0; margin: 0.25rem 0 0; }
nav.mr-pager { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; margin: 0.75rem 0; }
.mr-diff-added { background: var(--added); }
.mr-diff-removed { background: var(--removed); }
.mr-diff-changed { background: var(--changed); }
ol.mr-lineage { display: flex; flex-wrap: wrap; align-items: stretch; gap: 0.5rem 1.5rem; list-style: none; padding: 0; margin: 0; }
ol.mr-lineage > li { position: relative; border: 1px solid var(--border); border-radius: 6px; padding: 0.5rem 0.75rem; background: var(--panel); min-width: 10rem; }
/* The arrow sits in the gap between two boxes, not inside the second one. */
ol.mr-lineage > li + li::before { content: "\\2192"; position: absolute; left: -0.75rem; top: 50%; transform: translate(-50%, -50%); color: var(--muted); }
ol.mr-lineage h3 { font-size: 0.85rem; margin: 0 0 0.25rem; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
.mr-chart, .mr-version-chart, .mr-compare { min-height: 2rem; margin: 0.5rem 0 1rem; }
section.mr-charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 34rem), 1fr)); gap: 1rem; margin-bottom: 1rem; }
section.mr-charts > figure { margin: 0; border: 1px solid var(--border); border-radius: 4px; padding: 0.5rem; }
section.mr-charts figcaption { font-weight: 600; }
/* In a captioned card the chart needs no frame of its own. */
section.mr-charts > figure > .mr-chart, section.mr-charts > figure > .mr-compare { border: 0; padding: 0; margin: 0.25rem 0 0; }
form.mr-login { max-width: 28rem; display: flex; flex-direction: column; gap: 0.75rem; }
form.mr-login input { width: 100%; }
.mr-inline-form { display: inline; }
@media (max-width: 640px) {
  body { font-size: 14px; }
  main { padding: 0.75rem 0.5rem; }
  th, td { padding: 0.3rem 0.4rem; }
  dl.mr-fields { grid-template-columns: 1fr; }
  dl.mr-fields dt { margin-top: 0.4rem; }
}
`
