import type {BlobStore} from '../../src/backends/local/blob-store.js'
import {afterAll, beforeAll} from 'vitest'
import {RemoteBackend} from '../../src/backends/remote/remote-backend.js'
import {startTestServer, type TestServer} from '../helpers/server.js'
import {backendContract, fileBlobs} from './suite.js'

let server: TestServer
let current: TestServer | undefined

beforeAll(async () => {
  server = await startTestServer()
})
afterAll(async () => {
  await server?.close()
  await current?.close()
})

// Each test gets a fresh server (a fresh store), as each local test gets a fresh directory.
backendContract('remote (HTTP -> server -> local engine)', async () => {
  await current?.close()
  current = await startTestServer()
  const backend = new RemoteBackend({url: current.url, token: current.adminToken, actor: 'contract@example.com'})
  const srv = current
  return {backend, engine: srv.server.backend, home: srv.dataDir, blobs: fileBlobs((digest) => (srv.server.backend.blobs as BlobStore).pathOf(digest))}
})
