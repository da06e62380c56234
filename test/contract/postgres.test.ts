/**
 * The backend contract on PostgreSQL (the engine directly, blobs in a directory): needs the
 * test services (scripts/test-services.sh start). Each test gets its own schema.
 */
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import pg from 'pg'
import {describe, expect, it} from 'vitest'
import {BlobStore} from '../../src/backends/local/blob-store.js'
import {arrayLiteral} from '../../src/backends/postgres/driver.js'
import {openPostgresEngine} from '../../src/backends/postgres/open.js'
import {postgresUrl} from '../helpers/services.js'
import {tempDir} from '../helpers/tmp.js'
import {backendContract, fileBlobs} from './suite.js'

const url = postgresUrl('the PostgreSQL contract suite')

if (url) {
  backendContract('postgres (engine -> PostgreSQL + blob directory)', async () => {
    const home = join(tempDir('contract-pg-'), 'store')
    const blobs = new BlobStore(home)
    const backend = await openPostgresEngine({url, schema: `contract_${randomBytes(6).toString('hex')}`, blobs, actor: 'contract@example.com', poolSize: 4})
    return {backend, home, blobs: fileBlobs((digest) => blobs.pathOf(digest))}
  })

  describe('column arrays (Dialect.columnRows)', () => {
    it('reads back every text and double exactly', async () => {
      const texts = ['', 'NULL', 'null', ' lead', 'trail ', 'a,b', '{x}', '"quoted"', 'back\\slash\\', '\\"', "it's", 'tab\tnew\nline', 'ünï©ødé 🙂', 'x'.repeat(5000)]
      const numbers = [0, -0, 1, -1, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 0.1 + 0.2, 1 / 3, 2 ** 53 - 1, -(2 ** 53), 1e21, 1e-7, 123456789.12345679]
      const whole = (i: number) => (i % 2 ? Number.MAX_SAFE_INTEGER - i : -i - 1)
      const rows = numbers.flatMap((n, i) => [texts[i % texts.length], n, whole(i)])
      const client = new pg.Client({connectionString: url})
      await client.connect()
      try {
        const types = ['text', 'float8', 'bigint'] as const
        const params = types.map((type, column) => arrayLiteral(type, rows, 3, column))
        const result = await client.query('SELECT t, f, b FROM unnest($1::text[], $2::float8[], $3::bigint[]) WITH ORDINALITY AS u(t, f, b, n) ORDER BY n', params)
        // -0 comes back as 0, as from a scalar parameter (and from SQLite).
        expect(result.rows.map((r) => [r.t, r.f, Number(r.b)])).toEqual(numbers.map((n, i) => [texts[i % texts.length], Object.is(n, -0) ? 0 : n, whole(i)]))
        expect((await client.query('SELECT t FROM unnest($1::text[]) AS u(t)', [arrayLiteral('text', texts, 1, 0)])).rows.map((r) => r.t)).toEqual(texts)
        expect((await client.query('SELECT t FROM unnest($1::text[]) AS u(t)', [arrayLiteral('text', [null, 'x', undefined], 1, 0)])).rows.map((r) => r.t)).toEqual([null, 'x', null])
      } finally {
        await client.end()
      }
    })
  })
}
