/**
 * The backend contract on PostgreSQL (the engine directly, blobs in a directory): needs the
 * test services (scripts/test-services.sh start). Each test gets its own schema.
 */
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import {BlobStore} from '../../src/backends/local/blob-store.js'
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
    return {backend, engine: backend, home, blobs: fileBlobs((digest) => blobs.pathOf(digest))}
  })
}
