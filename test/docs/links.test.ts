/**
 * The README is the front door and docs/*.md the reference: every relative link between them
 * (and to files of the repository, screenshots included) points at a file that exists and, with
 * a #fragment, at a heading of that file; the README's map names every page, and every page
 * leads back to it.
 */
import {existsSync} from 'node:fs'
import {dirname, join, normalize} from 'node:path'
import {describe, expect, it} from 'vitest'
import {ROOT} from '../helpers/cli.js'
import {anchors, docFiles, links, readDoc} from './markdown.js'

describe('docs: links and anchors', () => {
  const files = docFiles()

  it.each(files)('%s: every relative link and anchor resolves', (file) => {
    const broken: string[] = []
    for (const {line, target} of links(readDoc(file))) {
      if (/^[a-z]+:/i.test(target)) continue // http(s):, mailto: ...
      const [path, fragment] = target.split('#') as [string, string | undefined]
      const resolved = path === '' ? file : normalize(join(dirname(file), decodeURIComponent(path)))
      if (!existsSync(join(ROOT, resolved))) {
        broken.push(`${file}:${line}: ${target} (no file ${resolved})`)
        continue
      }
      if (fragment !== undefined && resolved.endsWith('.md') && !anchors(readDoc(resolved)).has(fragment)) {
        broken.push(`${file}:${line}: ${target} (no heading #${fragment} in ${resolved})`)
      }
    }
    expect(broken).toEqual([])
  })

  it("the README's map links every page of docs/, and every page links back", () => {
    const readme = readDoc('README.md')
    const mapped = new Set(links(readme).map((l) => l.target.split('#')[0]))
    for (const page of files.slice(1)) {
      expect(mapped, `README.md does not link ${page}`).toContain(page)
      expect(links(readDoc(page)).map((l) => l.target.split('#')[0]), `${page} does not link the README`).toContain('../README.md')
    }
  })

  it('stays the front door: what modelreg is, the quick start, the concepts and the map', () => {
    const readme = readDoc('README.md')
    expect([...anchors(readme)]).toEqual(['modelreg', 'quick-start', 'concepts', 'documentation'])
    expect(readme.split('\n').length).toBeLessThan(200)
  })
})
