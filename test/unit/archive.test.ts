/** Hostile archives: every trick is refused whole, and nothing is left behind. */
import {mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {gzipSync} from 'node:zlib'
import {Header} from 'tar'
import {beforeAll, describe, expect, it} from 'vitest'
import {DEFAULT_ARCHIVE_LIMITS, extractToTemp} from '../../src/registry/archive.js'
import {makeCliEnv, runCli} from '../helpers/cli.js'
import {storeSnapshot} from '../helpers/store.js'
import {tempDir} from '../helpers/tmp.js'

interface Entry {
  path: string
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO'
  body?: Buffer | string
  linkpath?: string
}

/** A tar archive with exactly these headers (no sanitizing, as an attacker would write it). */
export function makeTar(entries: Entry[]): Buffer {
  const blocks: Buffer[] = []
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '')
    const header = new Header({path: e.path, type: e.type ?? 'File', size: e.type && e.type !== 'File' ? 0 : body.length, mode: 0o644, mtime: new Date(0), linkpath: e.linkpath})
    header.encode()
    blocks.push(header.block as Buffer)
    if (!e.type || e.type === 'File') {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512))
    }
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}

let scratch: string
beforeAll(() => {
  scratch = tempDir('archive-tmp-')
  process.env.TMPDIR = scratch
})

const leftovers = () => readdirSync(scratch).filter((f) => f.startsWith('modelreg-archive-'))

describe('reading archives modelreg did not write', () => {
  it('extracts regular files and directories, gzip or not', async () => {
    const tar = makeTar([{path: './', type: 'Directory'}, {path: 'sub/', type: 'Directory'}, {path: 'sub/a.txt', body: 'A'}, {path: './b.txt', body: 'B'}])
    for (const bytes of [tar, gzipSync(tar)]) {
      const out = await extractToTemp(Readable.from([bytes]))
      expect(readdirSync(out.dir).sort()).toEqual(['b.txt', 'sub'])
      expect(out).toMatchObject({files: 2, bytes: 2})
      await out.cleanup()
    }
    expect(leftovers()).toEqual([])
  })

  it.each([
    ['an absolute path', [{path: '/etc/cron.d/evil', body: 'x'}], /absolute path/],
    ['a .. segment', [{path: 'a/../../escape.txt', body: 'x'}], /"\.\." segment/],
    ['a leading ..', [{path: '../escape.txt', body: 'x'}], /"\.\." segment/],
    ['a symbolic link', [{path: 'link', type: 'SymbolicLink', linkpath: '/etc/passwd'}], /SymbolicLink/],
    ['a hard link', [{path: 'ok.txt', body: 'x'}, {path: 'hard', type: 'Link', linkpath: 'ok.txt'}], /is a Link/],
    ['a character device', [{path: 'tty', type: 'CharacterDevice'}], /CharacterDevice/],
    ['a block device', [{path: 'sda', type: 'BlockDevice'}], /BlockDevice/],
    ['a FIFO', [{path: 'pipe', type: 'FIFO'}], /FIFO/],
    ['a backslash path', [{path: 'a\\..\\..\\b', body: 'x'}], /backslash/],
    ['a Windows device name', [{path: 'CON', body: 'x'}], /reserved device name/],
    ['a path twice', [{path: 'same.txt', body: 'x'}, {path: 'same.txt', body: 'y'}], /twice/],
    ['excessive depth', [{path: `${'d/'.repeat(70)}f.txt`, body: 'x'}], /nested deeper than 64/],
    ['a file after a link to the same place', [{path: 'x', type: 'SymbolicLink', linkpath: '/tmp'}, {path: 'x/y', body: 'x'}], /SymbolicLink/],
  ] as [string, Entry[], RegExp][])('refuses %s, leaving nothing behind', async (_label, entries, message) => {
    await expect(extractToTemp(Readable.from([makeTar(entries)]))).rejects.toThrow(message)
    expect(leftovers()).toEqual([])
  })

  it('refuses files and totals over the limits, and decompression bombs', async () => {
    const limits = {...DEFAULT_ARCHIVE_LIMITS, maxFileBytes: 1000, maxTotalBytes: 5000, maxEntries: 3, bombFloorBytes: 1024 * 1024, maxRatio: 50}
    await expect(extractToTemp(Readable.from([makeTar([{path: 'big', body: Buffer.alloc(2000)}])]), limits)).rejects.toMatchObject({code: 'payload_too_large'})
    const many = makeTar(Array.from({length: 6}, (_, i) => ({path: `f${i}`, body: Buffer.alloc(900)})))
    await expect(extractToTemp(Readable.from([many]), limits)).rejects.toThrow(/more than 3 entries|more than 5000 bytes/)
    const bomb = gzipSync(makeTar([{path: 'zeros', body: Buffer.alloc(20 * 1024 * 1024)}]))
    expect(bomb.length).toBeLessThan(100_000)
    await expect(extractToTemp(Readable.from([bomb]), {...limits, maxFileBytes: 1e9, maxTotalBytes: 1e9})).rejects.toThrow(/decompression bomb/)
    await expect(extractToTemp(Readable.from([Buffer.from('this is not a tar archive, not even close')]))).rejects.toMatchObject({code: 'invalid_argument'})
    expect(leftovers()).toEqual([])
  })

  it('models push --from-tar refuses a hostile archive with one line, and the store does not change', async () => {
    const ctx = makeCliEnv({TMPDIR: scratch})
    writeFileSync(join(ctx.cwd, 'good.tar'), makeTar([{path: 'model.bin', body: 'weights'}]))
    expect((await runCli(ctx, ['models', 'push', 'm', '--from-tar', 'good.tar'])).code).toBe(0)
    const before = storeSnapshot(ctx.home)
    for (const entries of [[{path: '../../evil', body: 'x'}], [{path: 'l', type: 'SymbolicLink', linkpath: '/'}]] as Entry[][]) {
      writeFileSync(join(ctx.cwd, 'bad.tar'), makeTar(entries))
      const r = await runCli(ctx, ['models', 'push', 'm', '--from-tar', 'bad.tar'])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/^Error: archive entry [^\n]+\n$/)
      const piped = await runCli(ctx, ['models', 'push', 'm', '--from-tar', '-'], {input: makeTar(entries)})
      expect(piped.code).toBe(2)
    }
    expect(storeSnapshot(ctx.home)).toEqual(before)
    expect(leftovers()).toEqual([])
    mkdirSync(join(ctx.cwd, 'empty'))
    expect((await runCli(ctx, ['models', 'push', 'm'])).code).toBe(2)
  })
})
