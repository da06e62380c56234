/**
 * Smaller PNGs for screenshots kept in the repository: Chromium writes 8-bit RGB(A) quickly
 * compressed. A page is flat colours plus anti-aliased text and lines, so this rewrites it with a
 * palette: exact when it has at most 256 colours; otherwise the 256 most used colours (the page's
 * own, which cover nearly every pixel) and each rarer one (an edge shade) drawn as the nearest of
 * them. An image this does not read (interlaced, 16-bit, translucent with too many colours) is
 * left as it is.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {crc32, deflateSync, inflateSync} from 'node:zlib'

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'latin1')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0)
  return Buffer.concat([head, data, crc])
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c
  const pa = Math.abs(p - a)
  const pb = Math.abs(p - b)
  const pc = Math.abs(p - c)
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
}

/** Rewrites `file` with a palette when it has at most 256 colours; returns whether it did. */
export function palettize(file: string): boolean {
  const png = readFileSync(file)
  if (!png.subarray(0, 8).equals(SIGNATURE)) return false
  let offset = 8
  let header: Buffer | null = null
  const data: Buffer[] = []
  while (offset < png.length) {
    const length = png.readUInt32BE(offset)
    const type = png.toString('latin1', offset + 4, offset + 8)
    const body = png.subarray(offset + 8, offset + 8 + length)
    if (type === 'IHDR') header = body
    else if (type === 'IDAT') data.push(body)
    offset += 12 + length
  }
  if (!header) return false
  const width = header.readUInt32BE(0)
  const height = header.readUInt32BE(4)
  const [depth, colorType, , , interlace] = [header[8], header[9], header[10], header[11], header[12]]
  if (depth !== 8 || interlace !== 0 || (colorType !== 2 && colorType !== 6)) return false
  const bpp = colorType === 6 ? 4 : 3
  const stride = width * bpp
  const raw = inflateSync(Buffer.concat(data))
  const pixels = Buffer.alloc(stride * height)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    const out = y * stride
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? pixels[out + x - bpp] : 0
      const b = y > 0 ? pixels[out - stride + x] : 0
      const c = x >= bpp && y > 0 ? pixels[out - stride + x - bpp] : 0
      const predictor = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : paeth(a, b, c)
      pixels[out + x] = (line[x] + predictor) & 0xff
    }
  }
  const keyAt = (p: number) => (colorType === 6 ? pixels.readUInt32BE(p) : (pixels[p] << 16) | (pixels[p + 1] << 8) | pixels[p + 2]) >>> 0
  const counts = new Map<number, number>()
  for (let p = 0; p < pixels.length; p += bpp) {
    const key = keyAt(p)
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  if (counts.size > 256 && colorType === 6) return false
  const kept = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 256).map(([key]) => key)
  const index = new Map<number, number>(kept.map((key, i) => [key, i]))
  const rgbOf = (key: number) => (colorType === 6 ? key >>> 8 : key)
  for (const key of counts.keys()) {
    if (index.has(key)) continue
    const rgb = rgbOf(key)
    let best = 0
    let bestDistance = Infinity
    for (const [i, candidate] of kept.entries()) {
      const c = rgbOf(candidate)
      const dr = ((rgb >>> 16) & 0xff) - ((c >>> 16) & 0xff)
      const dg = ((rgb >>> 8) & 0xff) - ((c >>> 8) & 0xff)
      const db = (rgb & 0xff) - (c & 0xff)
      const distance = 3 * dr * dr + 4 * dg * dg + 2 * db * db
      if (distance < bestDistance) {
        bestDistance = distance
        best = i
      }
    }
    index.set(key, best)
  }
  const indexed = Buffer.alloc((width + 1) * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) indexed[y * (width + 1) + 1 + x] = index.get(keyAt(y * stride + x * bpp)) as number
  }
  const palette = Buffer.alloc(kept.length * 3)
  const alpha = Buffer.alloc(kept.length)
  for (const [i, key] of kept.entries()) {
    const rgb = rgbOf(key)
    palette[i * 3] = (rgb >>> 16) & 0xff
    palette[i * 3 + 1] = (rgb >>> 8) & 0xff
    palette[i * 3 + 2] = rgb & 0xff
    alpha[i] = colorType === 6 ? key & 0xff : 255
  }
  const ihdr = Buffer.from(header)
  ihdr[8] = 8
  ihdr[9] = 3
  const chunks = [chunk('IHDR', ihdr), chunk('PLTE', palette)]
  if (alpha.some((v) => v !== 255)) chunks.push(chunk('tRNS', alpha))
  chunks.push(chunk('IDAT', deflateSync(indexed, {level: 9, memLevel: 9})), chunk('IEND', Buffer.alloc(0)))
  const smaller = Buffer.concat([SIGNATURE, ...chunks])
  if (smaller.length >= png.length) return false
  writeFileSync(file, smaller)
  return true
}
