/** Files stream: a large push and download stay small in memory; unchanged files are stored once. */
import {createHash} from 'node:crypto'
import {createReadStream, mkdirSync, openSync, closeSync, writeSync, writeFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {makeCliEnv, runCli, runCliMeasured} from '../helpers/cli.js'
import {listFiles} from '../helpers/store.js'

const MB = 1024 * 1024

/** Write `size` bytes of varied (not all-zero) content without holding it in memory. */
function writeBigFile(path: string, size: number, seed: number): void {
  const fd = openSync(path, 'w')
  const block = Buffer.alloc(MB)
  for (let written = 0, i = 0; written < size; i++) {
    block.writeUInt32LE(seed, 0)
    block.writeUInt32LE(i, 4)
    block.fill(i % 251, 8)
    const n = Math.min(MB, size - written)
    writeSync(fd, block, 0, n)
    written += n
  }
  closeSync(fd)
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, {highWaterMark: MB})) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

function storeBytes(home: string): number {
  return listFiles(home).reduce((sum, f) => sum + statSync(join(home, f)).size, 0)
}

describe('large files', () => {
  it('pushes and downloads a 256 MiB file (with nested paths and an empty file) byte for byte, under 200 MB of memory', async () => {
    const ctx = makeCliEnv()
    const src = join(ctx.cwd, 'src')
    mkdirSync(join(src, 'a/b/c'), {recursive: true})
    writeBigFile(join(src, 'a/b/c/weights.bin'), 256 * MB, 1)
    writeFileSync(join(src, 'empty.txt'), '')
    writeFileSync(join(src, 'a/config.json'), '{"layers": 12}')
    const pushed = await runCliMeasured(ctx, ['models', 'push', 'big', src, '--json'])
    expect(pushed.code, pushed.stderr).toBe(0)
    expect(pushed.peakRss).toBeGreaterThan(0)
    expect(pushed.peakRss).toBeLessThan(200 * MB)
    const out = join(ctx.cwd, 'out')
    const downloaded = await runCliMeasured(ctx, ['models', 'download', 'big', '-o', out, '--json'])
    expect(downloaded.code, downloaded.stderr).toBe(0)
    expect(downloaded.peakRss).toBeLessThan(200 * MB)
    for (const path of ['a/b/c/weights.bin', 'empty.txt', 'a/config.json']) {
      expect(await sha256(join(out, path)), path).toBe(await sha256(join(src, path)))
    }
    expect(listFiles(out)).toEqual(listFiles(src))
  })

  it('pushing the same 100 MB directory twice grows the store by less than 1%', async () => {
    const ctx = makeCliEnv()
    const src = join(ctx.cwd, 'dir')
    mkdirSync(join(src, 'shards'), {recursive: true})
    for (let i = 0; i < 10; i++) writeBigFile(join(src, 'shards', `shard-${i}.bin`), 10 * MB, 100 + i)
    expect((await runCli(ctx, ['models', 'push', 'dedup', src])).code).toBe(0)
    const once = storeBytes(ctx.home)
    expect(once).toBeGreaterThan(100 * MB)
    const again = await runCli(ctx, ['models', 'push', 'dedup', src, '--json'])
    expect(again.json()).toMatchObject({version: {version: 2}, uploaded: {files: 0, bytes: 0}})
    const twice = storeBytes(ctx.home)
    expect((twice - once) / once).toBeLessThan(0.01)
  })
})
