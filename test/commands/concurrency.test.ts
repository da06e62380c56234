/** Many processes writing one model at once: every push succeeds, numbers 1..N exactly, no SQLITE_BUSY. */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {makeCliEnv, runCli} from '../helpers/cli.js'
import {checkStore} from '../helpers/store.js'

describe('concurrent writers', () => {
  it('8 processes each pushing 25 versions of one model end with versions 1..200', async () => {
    const ctx = makeCliEnv()
    const workers = 8
    const each = 25
    const results = await Promise.all(
      Array.from({length: workers}, async (_, w) => {
        const seen: {code: number; version?: number; stderr: string}[] = []
        for (let i = 0; i < each; i++) {
          const file = join(ctx.cwd, `w${w}-${i}.bin`)
          // Half the pushes share content, so blob writes race too.
          writeFileSync(file, i % 2 === 0 ? `shared ${i}` : `worker ${w} push ${i}`)
          const r = await runCli(ctx, ['models', 'push', 'racy', file, '--json', '-m', `w${w} #${i}`])
          seen.push({code: r.code, version: r.code === 0 ? r.json().version.version : undefined, stderr: r.stderr})
        }
        return seen
      }),
    )
    const all = results.flat()
    expect(all.filter((r) => r.code !== 0)).toEqual([])
    expect(all.map((r) => r.stderr).join('')).not.toMatch(/SQLITE_BUSY|locked/i)
    const versions = all.map((r) => r.version as number).sort((a, b) => a - b)
    expect(versions).toEqual(Array.from({length: workers * each}, (_, i) => i + 1))
    const listed = await runCli(ctx, ['models', 'list-versions', 'racy', '--limit', '1000', '--json'])
    expect(listed.json().total).toBe(200)
    expect(checkStore(ctx.home)).toEqual({versions: 200, problems: []})
  })
})
