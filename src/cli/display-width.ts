/**
 * How many terminal columns a string takes: East Asian wide and fullwidth characters and emoji
 * take two, combining marks and zero-width characters none, colour codes none. Enough to keep
 * a table inside the screen; not a full implementation of UAX #11 (ambiguous-width characters,
 * `…` among them, count one, as terminals outside CJK locales draw them).
 */

const ANSI = /\u001B\[[0-9;]*m/g
const PLAIN = /^[\u0020-\u007E]*$/
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]/u
const EMOJI = /\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F/u

/** Code point ranges drawn two columns wide (East_Asian_Width W and F, emoji aside). */
const WIDE: [number, number][] = [
  [0x1100, 0x115f], // Hangul Jamo initial consonants
  [0x2e80, 0x303e], // CJK radicals, Kangxi, CJK symbols and punctuation
  [0x3041, 0x33ff], // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, CJK compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo extended A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18aff], // Tangut
  [0x1b000, 0x1b2ff], // Kana supplement and extensions, Nushu
  [0x1f200, 0x1f2ff], // enclosed ideographic supplement
  [0x20000, 0x2fffd], // CJK extensions B-F
  [0x30000, 0x3fffd], // CJK extension G and beyond
]

function isWide(codePoint: number): boolean {
  for (const [low, high] of WIDE) {
    if (codePoint < low) return false
    if (codePoint <= high) return true
  }
  return false
}

let segmenter: Intl.Segmenter | undefined

/** User-perceived characters (a flag, a family emoji, an accented letter are one each). */
function graphemes(text: string): Iterable<string> {
  segmenter ??= new Intl.Segmenter(undefined, {granularity: 'grapheme'})
  return [...segmenter.segment(text)].map((s) => s.segment)
}

function graphemeWidth(grapheme: string): number {
  if (EMOJI.test(grapheme)) return 2
  if (ZERO_WIDTH.test(grapheme)) return 0
  return isWide(grapheme.codePointAt(0) as number) ? 2 : 1
}

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '')
}

export function displayWidth(text: string): number {
  if (PLAIN.test(text)) return text.length
  const plain = stripAnsi(text)
  if (PLAIN.test(plain)) return plain.length
  let width = 0
  for (const g of graphemes(plain)) width += graphemeWidth(g)
  return width
}

/** Cut to at most `width` columns, ending in `…` when anything was cut. Expects text without colour codes. */
export function truncateToWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text
  if (width <= 0) return ''
  if (PLAIN.test(text)) return `${text.slice(0, width - 1)}…`
  let out = ''
  let used = 0
  for (const g of graphemes(text)) {
    const w = graphemeWidth(g)
    if (used + w > width - 1) break
    out += g
    used += w
  }
  return `${out}…`
}

/** Pad with spaces to `width` columns (by display width, so wide characters line up). */
export function padToWidth(text: string, width: number): string {
  const missing = width - displayWidth(text)
  return missing > 0 ? text + ' '.repeat(missing) : text
}
