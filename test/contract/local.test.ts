import type {BlobStore} from '../../src/backends/local/blob-store.js'
import {join} from 'node:path'
import {LocalBackend} from '../../src/backends/local/local-backend.js'
import {tempDir} from '../helpers/tmp.js'
import {backendContract, fileBlobs} from './suite.js'

backendContract('local', async () => {
  const home = join(tempDir('contract-local-'), 'store')
  const backend = new LocalBackend({home, actor: 'contract@example.com'})
  return {backend, engine: backend, home, blobs: fileBlobs((digest) => (backend.blobs as BlobStore).pathOf(digest))}
})
