/** A store made by an older modelreg opens in this one: its schema is migrated in place, whole. */
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {openDatabase} from '../../src/backends/local/database.js'
import {LocalBackend} from '../../src/backends/local/local-backend.js'
import {MIGRATIONS} from '../../src/backends/local/migrations.js'
import {tempDir} from '../helpers/tmp.js'

describe('schema migrations', () => {
  it('brings a version-3 store to the latest schema, counting the models it already had', async () => {
    const home = tempDir('modelreg-migrate-')
    const old = openDatabase(join(home, 'registry.db'), {migrations: MIGRATIONS.filter((m) => m.version <= 3)})
    const t = '2026-01-01T00:00:00.000Z'
    old.prepare("INSERT INTO projects (id, name, name_key, created_at) VALUES (1, 'default', 'default', ?), (2, 'other', 'other', ?)").run(t, t)
    const model = old.prepare('INSERT INTO models (project_id, name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
    for (const name of ['a', 'b', 'c']) model.run(1, name, name, t, t)
    model.run(2, 'd', 'd', t, t)
    expect(old.pragma('user_version', {simple: true})).toBe(3)
    old.close()

    const backend = new LocalBackend({home, actor: 'test'})
    try {
      const applied = backend.store.db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()
      expect(applied).toEqual(MIGRATIONS.map((m) => m.version))
      expect(backend.store.db.pragma('user_version', {simple: true})).toBe(MIGRATIONS.at(-1)?.version)
      const counts = () => backend.listProjects().then((page) => page.items.map((p) => [p.name, p.model_count]))
      expect(await counts()).toEqual([
        ['default', 3],
        ['other', 1],
      ])
      expect((await backend.listModels('default')).total).toBe(3)
      // The count follows creations and deletions from now on.
      await backend.createModel('default', 'e')
      await backend.deleteModel('other', 'd')
      expect(await counts()).toEqual([
        ['default', 4],
        ['other', 0],
      ])
      expect((await backend.listModels('default', {limit: 1})).total).toBe(4)
      expect((await backend.listModels('default', {name: 'e'})).total).toBe(1)
    } finally {
      await backend.close()
    }
  })

  it("reads a log from the log's own index on both databases: their partial indexes are made with the engine's condition", async () => {
    const {PG_MIGRATIONS} = await import('../../src/backends/postgres/migrations.js')
    const {LOG_EVENTS} = await import('../../src/backends/sql/engine.js')
    for (const migrations of [MIGRATIONS, PG_MIGRATIONS]) {
      const text = migrations.map((m) => m.sql).join('\n')
      for (const index of ['events_log_by_model', 'events_log_by_project']) expect(text).toMatch(new RegExp(`CREATE INDEX ${index} ON events\\((model_id|project_key), id\\) WHERE ${LOG_EVENTS.replace(/[()]/g, '\\$&')};`))
    }
    const backend = new LocalBackend({home: tempDir('modelreg-log-index-'), actor: 'test'})
    try {
      const plan = (where: string) =>
        (backend.store.db.prepare(`EXPLAIN QUERY PLAN SELECT e.*, (SELECT COUNT(*) FROM events WHERE ${where}) AS n FROM events e WHERE ${where} ORDER BY e.id DESC LIMIT 20`).all(1, 1) as {detail: string}[])
          .map((r) => r.detail)
          .join('; ')
      expect(plan(`model_id = ? AND ${LOG_EVENTS}`)).toMatch(/events_log_by_model.*events_log_by_model/)
      expect(plan(`project_key = ? AND ${LOG_EVENTS}`)).toMatch(/events_log_by_project.*events_log_by_project/)
    } finally {
      await backend.close()
    }
  })
})
