/** Hostile input: one-line error, the documented exit code, and no change to the store. */
import {existsSync, mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {describe, expect, it} from 'vitest'
import {makeCliEnv, runCli} from '../helpers/cli.js'
import {storeSnapshot} from '../helpers/store.js'

describe('bad input', () => {
  it('refuses hostile names and references without touching the store', async () => {
    const ctx = makeCliEnv()
    writeFileSync(join(ctx.cwd, 'w.bin'), 'weights')
    expect((await runCli(ctx, ['models', 'push', 'good', 'w.bin'])).code).toBe(0)
    const before = storeSnapshot(ctx.home)
    const names = ['../escape', '..', 'a/../../b', '/abs', 'x'.repeat(129), 'new\nline', 'tab\tname', 'bell\u0007', 'sp ace', '-flag-like']
    for (const name of names) {
      for (const args of [
        ['models', 'create', name],
        ['models', 'push', name, 'w.bin'],
        ['models', 'show', name],
        ['models', 'tag', `good:1`, name],
        ['models', 'create', 'fine', '-p', name],
      ]) {
        const r = await runCli(ctx, args)
        expect(r.code, JSON.stringify(args)).toBe(2)
        expect(r.stderr, JSON.stringify(args)).toMatch(/^Error: [^\n]+\n$/)
      }
    }
    for (const ref of ['a:b:c', 'good:', ':t', 'p/q/r', '/good', 'good:0', 'good:01', 'good:-1', 'good:../x']) {
      const r = await runCli(ctx, ['models', 'show', ref])
      expect(r.code, ref).toBe(2)
      expect(r.stderr, ref).toMatch(/^Error: invalid (reference|version|version or tag)[^\n]*\n$/)
    }
    expect(storeSnapshot(ctx.home)).toEqual(before)
  })

  it('refuses to push files whose names are unsafe elsewhere, and stores nothing', async () => {
    const ctx = makeCliEnv()
    writeFileSync(join(ctx.cwd, 'ok.bin'), 'ok')
    expect((await runCli(ctx, ['models', 'push', 'm', 'ok.bin'])).code).toBe(0)
    const before = storeSnapshot(ctx.home)
    const cases: Record<string, string[]> = {
      device: ['CON'],
      deviceWithExt: ['aux.txt'],
      backslash: ['a\\b'],
      trailingDot: ['name.'],
      control: ['x\u0001y'],
      caseOnly: ['Model.bin', 'model.bin'],
      normalization: ['caf\u00e9.txt', 'cafe\u0301.txt'],
    }
    for (const [label, fileNames] of Object.entries(cases)) {
      const dir = join(ctx.cwd, label)
      mkdirSync(dir)
      for (const name of fileNames) writeFileSync(join(dir, name), `content of ${name}`)
      const r = await runCli(ctx, ['models', 'push', 'm', dir])
      expect(r.code, label).toBe(2)
      expect(r.stderr, label).toMatch(/^Error: [^\n]+\n$/)
    }
    expect(storeSnapshot(ctx.home)).toEqual(before)
  })

  it('a manifest path that would leave the target directory is refused at download, nothing written', async () => {
    const ctx = makeCliEnv()
    writeFileSync(join(ctx.cwd, 'w.bin'), 'weights')
    expect((await runCli(ctx, ['models', 'push', 'm', 'w.bin'])).code).toBe(0)
    // Forge a hostile manifest straight into the database (as a compromised store would hold).
    const db = new Database(join(ctx.home, 'registry.db'))
    db.prepare("UPDATE version_files SET path = '../../escaped.txt'").run()
    db.close()
    const out = join(ctx.cwd, 'deep', 'out')
    const r = await runCli(ctx, ['models', 'download', 'm', '-o', out])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^Error: invalid file path "..\/..\/escaped.txt"/)
    expect(existsSync(join(ctx.cwd, 'escaped.txt'))).toBe(false)
    expect(existsSync(join(ctx.cwd, 'deep', 'escaped.txt'))).toBe(false)
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([])
    const t = await runCli(ctx, ['models', 'download', 'm', '-o', '-'])
    expect(t.code).toBe(2)
    expect(t.stdout).toBe('')
  })
})
