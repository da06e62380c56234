/**
 * The backend contract through a server that scales out: remote client -> HTTP -> server ->
 * PostgreSQL + S3 (Ceph RGW), with presigned URLs on, so blobs go straight between client and bucket. Needs the test services (scripts/test-services.sh start). Each
 * test gets a fresh server over its own schema and bucket prefix.
 */
import {randomBytes} from 'node:crypto'
import {afterAll} from 'vitest'
import {RemoteBackend} from '../../src/backends/remote/remote-backend.js'
import {S3Client} from '../../src/backends/s3/s3-client.js'
import {postgresUrl, s3Config} from '../helpers/services.js'
import {startTestServer, type TestServer} from '../helpers/server.js'
import {backendContract} from './suite.js'

const url = postgresUrl('the contract suite through a server on PostgreSQL + S3')
const s3 = s3Config('the contract suite through a server on PostgreSQL + S3')

if (url && s3) {
  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey
  const raw = new S3Client({endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, forcePathStyle: true, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey})
  let current: TestServer | undefined
  afterAll(async () => {
    await current?.close()
    await raw.close()
  })

  backendContract('remote (HTTP -> server -> PostgreSQL + S3)', async () => {
    await current?.close()
    const id = randomBytes(6).toString('hex')
    const prefix = `contract-${id}`
    current = await startTestServer({
      metadata: url,
      blobs: `s3://${s3.bucket}/${prefix}`,
      database: {pool_size: 4, schema: `scale_${id}`},
      s3: {endpoint: s3.endpoint, region: s3.region, force_path_style: true, presign: true},
    })
    const srv = current
    const key = (digest: string) => `${prefix}/blobs/sha256/${digest.slice(0, 2)}/${digest.slice(2)}`
    const backend = new RemoteBackend({url: srv.url, token: srv.adminToken, actor: 'contract@example.com'})
    return {
      backend,
      engine: srv.server.backend,
      home: srv.dataDir,
      blobs: {
        exists: async (digest) => (await srv.server.backend.blobs.size(digest)) !== null,
        overwrite: async (digest, data) => {
          const response = await raw.send({method: 'PUT', key: key(digest), body: data, what: 'damaging a blob'})
          await response.body.dump()
        },
        remove: (digest) => srv.server.backend.blobs.remove(digest),
      },
    }
  })
}
