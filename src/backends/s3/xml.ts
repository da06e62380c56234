/**
 * The XML S3 answers with (listings, multipart replies, errors): elements, text and the five
 * named entities plus character references; attributes, comments, processing instructions and
 * the doctype are skipped, CDATA is text. Small and strict: anything malformed is an error, so a
 * proxy's HTML page is never read as an empty listing.
 */

export interface XmlElement {
  /** Local name: a namespace prefix (`s3:Key`) is dropped. */
  name: string
  children: XmlElement[]
  /** The element's own text (not its children's), entities decoded. */
  text: string
}

export class XmlError extends Error {}

const NAMED: Record<string, string> = {lt: '<', gt: '>', amp: '&', quot: '"', apos: "'"}

export function decodeEntities(raw: string): string {
  if (!raw.includes('&')) return raw
  return raw.replace(/&([^;&\s]{1,10});/g, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10)
      if (!Number.isInteger(code) || code < 0 || code > 0x10ffff || !/^#(x[0-9a-f]+|[0-9]+)$/i.test(ref)) throw new XmlError(`bad character reference ${whole}`)
      return String.fromCodePoint(code)
    }
    const named = NAMED[ref]
    if (named === undefined) throw new XmlError(`unknown entity ${whole}`)
    return named
  })
}

const localName = (qualified: string) => qualified.slice(qualified.indexOf(':') + 1)

/** Parse a document; returns its root element. */
export function parseXml(source: string): XmlElement {
  const stack: XmlElement[] = []
  let root: XmlElement | undefined
  let i = 0
  const n = source.length
  const appendText = (text: string) => {
    const top = stack.at(-1)
    if (top) top.text += text
    else if (text.trim()) throw new XmlError('text outside the root element')
  }
  while (i < n) {
    const lt = source.indexOf('<', i)
    if (lt === -1) {
      appendText(decodeEntities(source.slice(i)))
      break
    }
    if (lt > i) appendText(decodeEntities(source.slice(i, lt)))
    if (source.startsWith('<?', lt)) {
      i = skipPast(source, lt, '?>')
    } else if (source.startsWith('<!--', lt)) {
      i = skipPast(source, lt, '-->')
    } else if (source.startsWith('<![CDATA[', lt)) {
      const end = source.indexOf(']]>', lt)
      if (end === -1) throw new XmlError('unterminated CDATA')
      appendText(source.slice(lt + 9, end))
      i = end + 3
    } else if (source.startsWith('<!', lt)) {
      i = skipPast(source, lt, '>')
    } else if (source[lt + 1] === '/') {
      const gt = source.indexOf('>', lt)
      if (gt === -1) throw new XmlError('unterminated closing tag')
      const name = localName(source.slice(lt + 2, gt).trim())
      const open = stack.pop()
      if (!open || open.name !== name) throw new XmlError(`unexpected </${name}>`)
      i = gt + 1
    } else {
      const gt = tagEnd(source, lt)
      let inner = source.slice(lt + 1, gt)
      const selfClosing = inner.endsWith('/')
      if (selfClosing) inner = inner.slice(0, -1)
      const match = /^([^\s/>]+)/.exec(inner)
      if (!match) throw new XmlError('element without a name')
      const element: XmlElement = {name: localName(match[1]), children: [], text: ''}
      const parent = stack.at(-1)
      if (parent) parent.children.push(element)
      else if (root) throw new XmlError('more than one root element')
      else root = element
      if (!selfClosing) stack.push(element)
      i = gt + 1
    }
  }
  if (stack.length) throw new XmlError(`<${stack.at(-1)!.name}> is not closed`)
  if (!root) throw new XmlError('no element')
  return root
}

function skipPast(source: string, from: number, terminator: string): number {
  const end = source.indexOf(terminator, from)
  if (end === -1) throw new XmlError(`unterminated ${source.slice(from, from + 4)}`)
  return end + terminator.length
}

/** The `>` closing a start tag, skipping quoted attribute values (which may hold `>`). */
function tagEnd(source: string, from: number): number {
  let quote = ''
  for (let i = from + 1; i < source.length; i++) {
    const c = source[i]
    if (quote) {
      if (c === quote) quote = ''
    } else if (c === '"' || c === "'") quote = c
    else if (c === '>') return i
    else if (c === '<') break
  }
  throw new XmlError('unterminated start tag')
}

export const childrenNamed = (element: XmlElement, name: string): XmlElement[] => element.children.filter((c) => c.name === name)

/** Text of the first child `name`, or undefined when there is none. */
export function childText(element: XmlElement, name: string): string | undefined {
  return element.children.find((c) => c.name === name)?.text
}
