/**
 * What the blob store tests share: the stores under test (a directory; the S3 store on the real
 * Ceph RGW that `bash scripts/test-services.sh start` runs, configured by MODELREG_TEST_S3_* from
 * `eval "$(bash scripts/test-services.sh env)"`, each run under its own random prefix) and small
 * helpers. Without those variables the S3 cases say why once and return early; under CI they fail.
 */
import {createHash, randomBytes} from 'node:crypto'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {expect} from 'vitest'
import type {BlobStore} from '../../src/backends/blobs.js'
import {RegistryError} from '../../src/backends/errors.js'
import {BlobStore as DirectoryBlobStore} from '../../src/backends/local/blob-store.js'
import {S3BlobStore, type S3BlobStoreConfig} from '../../src/backends/s3/s3-blob-store.js'
import {collect, streamToBuffer as readAll} from '../contract/helpers.js'
import {tempDir} from '../helpers/tmp.js'

export {collect, readAll}

export const MiB = 1024 * 1024

/** Knobs that make the S3 store's multipart paths cheap to reach; the directory store has none. */
export interface Tuning {
  multipartThreshold?: number
  partSize?: number
  partMemory?: number
  maxParts?: number
  copyThreshold?: number
  copyPartSize?: number
  pageSize?: number
}

export interface Subject {
  kind: 'directory' | 's3'
  /** A fresh, empty store. */
  make(tuning?: Tuning): Promise<BlobStore>
  /** Remove everything the suite wrote. */
  cleanup(): Promise<void>
}

export const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex')

/** A stream of `data` in chunks of at most 256 KiB, as an HTTP body arrives. */
export function streamOf(data: Buffer): Readable {
  const chunks: Buffer[] = []
  for (let o = 0; o < data.length; o += 256 * 1024) chunks.push(data.subarray(o, o + 256 * 1024))
  return Readable.from(chunks)
}


export async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(RegistryError)
    return error as RegistryError
  }
  throw new Error('expected a RegistryError, but it resolved')
}

/** Nothing under the blob's name, nothing listed, no unfinished write left behind. */
export async function expectNothingStored(store: BlobStore, digest: string): Promise<void> {
  expect(await store.size(digest)).toBeNull()
  expect(await collect(store.list())).toEqual([])
  expect(await collect(store.listIncomplete())).toEqual([])
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const S3_ENV = ['MODELREG_TEST_S3_ENDPOINT', 'MODELREG_TEST_S3_BUCKET', 'MODELREG_TEST_S3_REGION', 'MODELREG_TEST_S3_ACCESS_KEY_ID', 'MODELREG_TEST_S3_SECRET_ACCESS_KEY']
const RUN_PREFIX = `modelreg-test-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`

/** The test RGW's configuration, or why there is none. */
function s3Config(): {config: S3BlobStoreConfig; reason: null} | {config: null; reason: string} {
  const missing = S3_ENV.filter((name) => !process.env[name])
  if (missing.length) {
    return {config: null, reason: `S3 blob store tests need ${missing.join(', ')}: run \`bash scripts/test-services.sh start\` and \`eval "$(bash scripts/test-services.sh env)"\``}
  }
  const env = process.env as Record<string, string>
  return {
    config: {
      endpoint: env.MODELREG_TEST_S3_ENDPOINT,
      bucket: env.MODELREG_TEST_S3_BUCKET,
      region: env.MODELREG_TEST_S3_REGION,
      accessKeyId: env.MODELREG_TEST_S3_ACCESS_KEY_ID,
      secretAccessKey: env.MODELREG_TEST_S3_SECRET_ACCESS_KEY,
      forcePathStyle: true,
      prefix: RUN_PREFIX,
    },
    reason: null,
  }
}

export const {config, reason} = s3Config()
let told = false

/** True when the RGW is there. Under CI its absence fails the S3 half; elsewhere it is said once and the S3 cases return early. */
export function haveS3(): boolean {
  if (config) return true
  if (process.env.CI) throw new Error(reason)
  if (!told) console.log(`blob-store: S3 half not run: ${reason}`)
  told = true
  return false
}

const made: S3BlobStore[] = []
let storeCount = 0

export function makeS3(tuning: Tuning & Partial<S3BlobStoreConfig> = {}): S3BlobStore {
  const store = new S3BlobStore({...config!, prefix: `${RUN_PREFIX}/${++storeCount}`, ...tuning})
  made.push(store)
  return store
}

export async function emptyAll(): Promise<void> {
  for (const store of made.splice(0)) {
    try {
      for await (const upload of store.listIncomplete()) await store.removeIncomplete(upload.id)
      for await (const blob of store.list()) await store.remove(blob.digest)
    } catch {
      // a store made to fail (missing bucket, wrong secret) has nothing to clean
    }
    await store.close()
  }
}

export const directorySubject = async (): Promise<Subject> => ({
  kind: 'directory',
  make: async () => new DirectoryBlobStore(join(tempDir('blob-store-'), 'store')),
  cleanup: async () => {},
})

/** The S3 store on the test RGW, or null when it is not set up (outside CI). */
export async function s3Subject(): Promise<Subject | null> {
  if (!haveS3()) return null
  await makeS3().check()
  return {kind: 's3', make: async (tuning) => makeS3(tuning), cleanup: emptyAll}
}
