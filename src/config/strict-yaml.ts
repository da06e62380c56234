/**
 * The one YAML parser for the files modelreg is given: --metadata-file and --params-file, the
 * user config and .modelreg.yaml, sync files, the server config. Plain YAML 1.2 (and so JSON)
 * only. A tag (`!!python/object/apply:…`, `!anything`, even `!!str`), a duplicate key, a second
 * document, a `%YAML 1.1` document, a mapping used as a key, aliases that expand too far, or
 * anything the yaml library would warn about is an error of one line naming the file and line:
 * never a quietly changed value, never the library's warning block on stderr.
 */
import type {Document} from 'yaml'
import {invalid, type RegistryError} from '../backends/errors.js'
import {quote} from '../backends/validation.js'
import {loadYaml} from '../lazy.js'

/** yaml's own default, stated: how often one anchor's content may be repeated through aliases. */
const MAX_ALIAS_COUNT = 100

/**
 * A checked Document (for callers that edit the file and keep its comments). `source` names the
 * file in messages, e.g. "config file /home/me/.modelreg.yaml".
 */
export function parseStrictYamlDocument(text: string, source: string): Document.Parsed {
  const yaml = loadYaml()
  // logLevel "error": warnings are collected on the document instead of printed, and a second
  // document is still reported as an error ("silent" would drop that error).
  const doc = yaml.parseDocument(text, {logLevel: 'error', prettyErrors: false, schema: 'core', version: '1.2', uniqueKeys: true})
  const fail = (offset: number, problem: string): RegistryError => invalid(`${source}:${lineOf(text, offset)}: ${problem}`)

  const error = doc.errors[0]
  if (error) {
    if (error.code === 'DUPLICATE_KEY') throw fail(error.pos[0], `duplicate key${keyNamedAt(doc, error.pos[0])}`)
    if (error.code === 'MULTIPLE_DOCS') throw fail(error.pos[0], 'more than one YAML document (modelreg reads one)')
    throw fail(error.pos[0], `not valid YAML: ${firstLine(error.message)}`)
  }
  if (doc.directives?.yaml.explicit && doc.directives.yaml.version !== '1.2') {
    // Read as 1.2, a 1.1 file's `yes`, `0777` or `<<` would quietly mean something else.
    throw fail(/^%YAML/m.exec(text)?.index ?? 0, `YAML ${doc.directives.yaml.version} is not read (modelreg reads YAML 1.2): remove the %YAML line`)
  }
  let refusal: RegistryError | null = null
  yaml.visit(doc, {
    Node(_key, node) {
      if (node.tag) {
        const shown = doc.directives?.tagString(node.tag) ?? node.tag
        const known = doc.schema.tags.some((t) => t.tag === node.tag)
        // A block collection's range starts below its tag: point at the tag itself.
        const start = node.range?.[0] ?? 0
        const at = text.lastIndexOf(shown, start)
        refusal = fail(at === -1 ? start : at, `${known ? `YAML tag ${shown} is not allowed` : `unknown YAML tag ${shown}`} (modelreg reads plain YAML only)`)
        return yaml.visit.BREAK
      }
      return undefined
    },
    Alias(_key, alias) {
      if (alias.resolve(doc) === undefined) {
        refusal = fail(alias.range?.[0] ?? 0, `alias *${alias.source} names no anchor defined before it`)
        return yaml.visit.BREAK
      }
      return undefined
    },
    Pair(_key, pair) {
      if (yaml.isCollection(pair.key)) {
        refusal = fail(pair.key.range?.[0] ?? 0, 'a mapping key must be a plain value, not a list or a mapping')
        return yaml.visit.BREAK
      }
      return undefined
    },
  })
  if (refusal) throw refusal
  const warning = doc.warnings[0]
  if (warning) throw fail(warning.pos[0], firstLine(warning.message))
  return doc
}

/** The plain value a strict YAML (or JSON) text holds; null for an empty file. */
export function parseStrictYaml(text: string, source: string): unknown {
  const doc = parseStrictYamlDocument(text, source)
  try {
    return doc.toJS({maxAliasCount: MAX_ALIAS_COUNT})
  } catch (error) {
    if (!(error instanceof ReferenceError && /alias count/i.test(error.message))) throw error
    // Name the line of the first alias: the library does not say which one went too far.
    let offset = 0
    loadYaml().visit(doc, {
      Alias(_key, alias) {
        offset = alias.range?.[0] ?? 0
        return loadYaml().visit.BREAK
      },
    })
    throw invalid(`${source}:${lineOf(text, offset)}: YAML aliases expand too far (over ${MAX_ALIAS_COUNT} nodes repeated from one anchor); write the values out`)
  }
}

/** ` "name"` for the key of a mapping entry that starts at `offset`, if one does. */
function keyNamedAt(doc: Document.Parsed, offset: number): string {
  let name = ''
  loadYaml().visit(doc, {
    Pair(_key, pair) {
      const key = pair.key as {range?: number[]; value?: unknown} | null
      if (key?.range?.[0] !== offset) return undefined
      name = ` ${quote(String(key.value))}`
      return loadYaml().visit.BREAK
    },
  })
  return name
}

/** The 1-based line of a character offset. */
function lineOf(text: string, offset: number): number {
  let line = 1
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++
  return line
}

function firstLine(message: string): string {
  return message.split('\n')[0]
}
