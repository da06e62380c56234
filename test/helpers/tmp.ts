import {existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll} from 'vitest'
import {LocalBackend} from '../../src/backends/local/local-backend.js'

const made: string[] = []
const DAMAGE_MARK = '.damaged-on-purpose'

/** Stores (directories holding registry.db) under dir, a few levels deep. */
function storesUnder(dir: string, depth = 4): string[] {
  if (depth < 0 || !existsSync(dir)) return []
  if (existsSync(join(dir, 'registry.db'))) return [dir]
  const out: string[] = []
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    if (entry.isDirectory() && entry.name !== 'blobs' && entry.name !== 'node_modules') out.push(...storesUnder(join(dir, entry.name), depth - 1))
  }
  return out
}

afterAll(async () => {
  // Every store a test leaves behind must verify clean, unless the test damaged it on purpose.
  const failures: string[] = []
  for (const dir of made) {
    for (const home of storesUnder(dir)) {
      if (existsSync(join(home, DAMAGE_MARK))) continue
      const backend = new LocalBackend({home, actor: 'test-teardown'})
      try {
        const report = await backend.verify()
        if (!report.ok) failures.push(`${home}: ${report.problems.map((p) => p.message).join('; ')}`)
      } finally {
        await backend.close()
      }
    }
  }
  for (const dir of made.splice(0)) rmSync(dir, {recursive: true, force: true})
  if (failures.length) throw new Error(`stores left behind do not verify:\n${failures.join('\n')}`)
})

/** A fresh temp directory, removed after the test file (after its stores are verified). */
export function tempDir(prefix = 'modelreg-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

/** Mark a store as damaged by the test itself, so the teardown does not verify it. */
export function markDamaged(home: string): void {
  writeFileSync(join(home, DAMAGE_MARK), 'this test damages the store on purpose\n')
}
