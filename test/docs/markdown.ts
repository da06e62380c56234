/**
 * Reading the docs as the tests need them: the Markdown files (README.md and docs/*.md), their
 * headings' anchors as GitHub makes them, their links, and their fenced code blocks with the
 * marker comment in front of each.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {ROOT} from '../helpers/cli.js'

/** README.md, then docs/*.md, as paths relative to the checkout. */
export function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`)
  return ['README.md', ...docs]
}

export const readDoc = (file: string): string => readFileSync(join(ROOT, file), 'utf8')

/** Lines outside fenced code blocks, with their 1-based line numbers. */
function proseLines(markdown: string): {line: number; text: string}[] {
  const out: {line: number; text: string}[] = []
  let fence = false
  markdown.split('\n').forEach((text, i) => {
    if (/^\s*```/.test(text)) fence = !fence
    else if (!fence) out.push({line: i + 1, text})
  })
  return out
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens (github-slugger). */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replaceAll(' ', '-')
}

/** Every anchor a file's headings make (a repeated one gets -1, -2 ... as on GitHub). */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const {text} of proseLines(markdown)) {
    const heading = /^#{1,6} (.*)$/.exec(text)
    if (!heading) continue
    const base = slug(heading[1])
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    out.add(count === 0 ? base : `${base}-${count}`)
  }
  return out
}

export interface Link {
  line: number
  target: string
}

/** Inline links and images outside code blocks and code spans. */
export function links(markdown: string): Link[] {
  const out: Link[] = []
  for (const {line, text} of proseLines(markdown)) {
    const prose = text.replace(/`[^`]*`/g, '``')
    for (const match of prose.matchAll(/\]\(([^)\s]+)\)/g)) out.push({line, target: match[1]})
  }
  return out
}

export interface CodeBlock {
  file: string
  /** The line of the opening fence (1-based). */
  line: number
  /** What follows the opening ``` ('' when nothing does). */
  lang: string
  body: string
  /** The HTML comment on the nearest non-blank line before the fence, if any. */
  marker?: string
}

export function codeBlocks(file: string, markdown: string): CodeBlock[] {
  const lines = markdown.split('\n')
  const out: CodeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(.*)$/.exec(lines[i])
    if (!open) continue
    let end = i + 1
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end])) end++
    if (end === lines.length) throw new Error(`${file}:${i + 1}: a code block that is never closed`)
    let before = i - 1
    while (before >= 0 && lines[before].trim() === '') before--
    const comment = before >= 0 ? /^<!--(.*)-->\s*$/.exec(lines[before].trim()) : null
    out.push({file, line: i + 1, lang: open[2].trim(), body: lines.slice(i + 1, end).join('\n'), marker: comment?.[1].trim()})
    i = end
  }
  return out
}
