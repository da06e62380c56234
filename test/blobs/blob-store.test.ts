/**
 * One behaviour suite for every BlobStore: the directory store, and the S3 store against the
 * real Ceph RGW that `bash scripts/test-services.sh start` runs (MODELREG_TEST_S3_* from
 * `eval "$(bash scripts/test-services.sh env)"`). Each S3 run writes under its own random prefix
 * and removes what it wrote.
 */
import {randomBytes} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {PassThrough, Readable} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {EMPTY_SHA256} from '../../src/backends/digest.js'
import {S3BlobStore} from '../../src/backends/s3/s3-blob-store.js'
import {tempDir} from '../helpers/tmp.js'
import {
  collect,
  config,
  directorySubject,
  emptyAll,
  expectNothingStored,
  haveS3,
  makeS3,
  MiB,
  readAll,
  rejection,
  s3Subject,
  sha256,
  sleep,
  streamOf,
  type Subject,
  type Tuning,
} from './stores.js'

/** Tuning under which a 12 MiB blob is a multipart upload of 5 MiB parts on S3. */
const SMALL_PARTS: Tuning = {multipartThreshold: 5 * MiB, partSize: 5 * MiB}

function blobStoreSuite(name: string, setup: () => Promise<Subject | null>): void {
  describe(name, () => {
    let subject: Subject | null = null
    let unusable: unknown = null
    beforeAll(async () => {
      try {
        subject = await setup()
      } catch (error) {
        unusable = error
      }
    })
    afterAll(async () => {
      await subject?.cleanup()
    })
    /** A case that needs the subject: each fails if it could not be set up; absent (reason logged once), each returns. */
    const test = (title: string, body: (subject: Subject) => Promise<void>) =>
      it(title, async () => {
        if (unusable) throw unusable
        if (!subject) return
        await body(subject)
      })

    test('put, size, open: a round trip, and a second put is a no-op that consumes nothing', async ({make}) => {
      const store = await make()
      const data = randomBytes(300_000)
      const digest = sha256(data)
      expect(await store.size(digest)).toBeNull()
      expect(await store.put(digest, data.length, streamOf(data))).toBe(true)
      expect(await store.size(digest)).toBe(data.length)
      const {stream, size} = await store.open(digest)
      expect(size).toBe(data.length)
      expect((await readAll(stream)).equals(data)).toBe(true)
      const again = streamOf(data)
      expect(await store.put(digest, data.length, again)).toBe(false)
      expect(again.destroyed).toBe(true)
      expect(await collect(store.list())).toEqual([{digest, size: data.length, modified: expect.any(Number)}])
    })

    test('the empty blob', async ({make}) => {
      const store = await make()
      expect(await store.put(EMPTY_SHA256, 0, Readable.from([]))).toBe(true)
      expect(await store.size(EMPTY_SHA256)).toBe(0)
      const {stream, size} = await store.open(EMPTY_SHA256)
      expect(size).toBe(0)
      expect((await readAll(stream)).length).toBe(0)
      expect((await collect(store.list())).map((b) => b.digest)).toEqual([EMPTY_SHA256])
    })

    test('a 70 MiB blob from a local file (multipart on S3), read back whole and from an offset', async ({make}) => {
      const store = await make()
      const data = randomBytes(70 * MiB)
      const digest = sha256(data)
      const path = join(tempDir('blob-store-'), 'big.bin')
      writeFileSync(path, data)
      let reported = 0
      expect(await store.put(digest, data.length, {path, onBytes: (n) => (reported += n)})).toBe(true)
      expect(reported).toBe(data.length)
      expect(await store.size(digest)).toBe(data.length)
      const whole = await store.open(digest)
      expect(sha256(await readAll(whole.stream))).toBe(digest)
      const offset = 70 * MiB - 12345
      const tail = await store.open(digest, offset)
      expect(tail.size).toBe(data.length)
      expect((await readAll(tail.stream)).equals(data.subarray(offset))).toBe(true)
    })

    test('open: ranges, the end, past the end, a missing blob', async ({make}) => {
      const store = await make()
      const data = randomBytes(10_000)
      const digest = sha256(data)
      await store.put(digest, data.length, streamOf(data))
      const part = await store.open(digest, 9000)
      expect(part.size).toBe(10_000)
      expect((await readAll(part.stream)).equals(data.subarray(9000))).toBe(true)
      const end = await store.open(digest, 10_000)
      expect((await readAll(end.stream)).length).toBe(0)
      expect((await rejection(store.open(digest, 10_001))).code).toBe('range_not_satisfiable')
      const missing = sha256('not stored')
      const error = await rejection(store.open(missing))
      expect(error.code).toBe('not_found')
      expect(error.message).toBe(`blob ${missing} is not in the store`)
    })

    // On S3: a small blob is hashed in memory, then sent; a larger one streams to the store,
    // which checks it against the digest; a large one goes in parts.
    for (const [label, size, tuning] of [
      ['small', 300_000, {}],
      ['one streamed PUT', 3 * MiB, {}],
      ['multipart', 12 * MiB, SMALL_PARTS],
    ] as const) {
      test(`a body whose sha256 is not the digest is refused and leaves nothing (${label})`, async ({make}) => {
        const store = await make(tuning)
        const data = randomBytes(size)
        const claimed = sha256(randomBytes(16))
        const error = await rejection(store.put(claimed, size, streamOf(data)))
        expect(error.code).toBe('integrity')
        expect(error.message).toContain('sha256 mismatch')
        await expectNothingStored(store, claimed)
      })

      test(`a body shorter or longer than the size is refused and leaves nothing (${label})`, async ({make}) => {
        const store = await make(tuning)
        const data = randomBytes(size)
        const digest = sha256(data)
        const short = await rejection(store.put(digest, size, streamOf(data.subarray(0, size - 1000))))
        expect(short.code).toBe('integrity')
        expect(short.message).toContain(`expected ${size} bytes, got ${size - 1000}`)
        await expectNothingStored(store, digest)
        const long = await rejection(store.put(digest, size, streamOf(Buffer.concat([data, randomBytes(1000)]))))
        expect(long.code).toBe('integrity')
        expect(long.message).toContain(`larger than the expected ${size} bytes`)
        await expectNothingStored(store, digest)
      })

      test(`two concurrent puts of one blob both succeed (${label})`, async ({make}) => {
        const store = await make(tuning)
        const data = randomBytes(size)
        const digest = sha256(data)
        const results = await Promise.all([store.put(digest, size, streamOf(data)), store.put(digest, size, streamOf(data))])
        expect(results).toContain(true)
        expect(await store.size(digest)).toBe(size)
        expect(sha256(await readAll((await store.open(digest)).stream))).toBe(digest)
        expect(await collect(store.listIncomplete())).toEqual([])
      })
    }

    test('ingest: the store names the content; again it is not stored twice; a short body stores nothing', async ({make}) => {
      const store = await make(SMALL_PARTS)
      for (const size of [1000, 12 * MiB]) {
        const data = randomBytes(size)
        const digest = sha256(data)
        expect(await store.ingest(size, streamOf(data))).toEqual({digest, stored: true})
        expect(await store.ingest(size, streamOf(data))).toEqual({digest, stored: false})
        expect(await store.size(digest)).toBe(size)
        expect(sha256(await readAll((await store.open(digest)).stream))).toBe(digest)
        await store.remove(digest)
        const short = await rejection(store.ingest(size, streamOf(data.subarray(1))))
        expect(short.code).toBe('integrity')
        await expectNothingStored(store, digest)
      }
    })

    test('prove: hashes only, stores nothing, refuses what is not the blob', async ({make}) => {
      const store = await make()
      const data = randomBytes(100_000)
      const digest = sha256(data)
      await store.prove(digest, data.length, streamOf(data))
      expect((await rejection(store.prove(digest, data.length, streamOf(randomBytes(100_000))))).code).toBe('integrity')
      expect((await rejection(store.prove(digest, data.length + 1, streamOf(data)))).message).toContain(`expected ${data.length + 1} bytes`)
      await expectNothingStored(store, digest)
    })

    test('list reads every blob, in pages; remove takes one away, twice is fine', async ({make}) => {
      const store = await make({pageSize: 2})
      const digests: string[] = []
      for (let i = 0; i < 7; i++) {
        const data = Buffer.from(`blob number ${i}`)
        digests.push(sha256(data))
        await store.put(sha256(data), data.length, streamOf(data))
      }
      const listed = await collect(store.list())
      expect(listed.map((b) => b.digest).sort()).toEqual([...digests].sort())
      for (const blob of listed) {
        expect(blob.size).toBe(13)
        expect(Math.abs(blob.modified - Date.now())).toBeLessThan(5 * 60_000)
      }
      await store.remove(digests[3])
      await store.remove(digests[3])
      expect(await store.size(digests[3])).toBeNull()
      expect((await collect(store.list())).map((b) => b.digest).sort()).toEqual(digests.filter((_, i) => i !== 3).sort())
    })

    test('an unfinished write is listed as incomplete, and removed', async ({make}) => {
      const store = await make(SMALL_PARTS)
      const data = randomBytes(12 * MiB)
      const digest = sha256(data)
      const source = new PassThrough()
      source.write(data.subarray(0, 6 * MiB))
      const put = store.put(digest, data.length, source)
      put.catch(() => {})
      let incomplete: {id: string; size: number; modified: number}[] = []
      for (let i = 0; i < 200 && !incomplete.some((u) => u.size > 0); i++) {
        await sleep(50)
        incomplete = await collect(store.listIncomplete())
      }
      expect(incomplete).toHaveLength(1)
      expect(incomplete[0].size).toBeGreaterThan(0)
      expect(Math.abs(incomplete[0].modified - Date.now())).toBeLessThan(5 * 60_000)
      await store.removeIncomplete(incomplete[0].id)
      await store.removeIncomplete(incomplete[0].id)
      expect(await collect(store.listIncomplete())).toEqual([])
      source.destroy(new Error('the client went away'))
      await expect(put).rejects.toThrow()
      await expectNothingStored(store, digest)
    })
  })
}

// -------------------------------------------------------------------------------------- directory

blobStoreSuite('directory BlobStore', directorySubject)

// -------------------------------------------------------------------------------------- S3 (Ceph RGW)

blobStoreSuite('S3BlobStore on Ceph RGW', s3Subject)

describe('S3BlobStore: what only S3 has', () => {
  const test = (title: string, body: () => Promise<void>) =>
    it(title, async () => {
      if (!haveS3()) return
      await body()
    })
  afterAll(emptyAll)

  test('a missing bucket is one clear error', async () => {
    const store = makeS3({bucket: 'modelreg-no-such-bucket'})
    const error = await rejection(store.check())
    expect(error.code).toBe('not_found')
    expect(error.message).toBe(`bucket "modelreg-no-such-bucket" does not exist at ${config!.endpoint} (create it first)`)
    for (const size of [1000, 3 * MiB, 12 * MiB]) {
      const data = randomBytes(size)
      const tuned = makeS3({bucket: 'modelreg-no-such-bucket', multipartThreshold: 5 * MiB, partSize: 5 * MiB})
      const source = streamOf(data)
      expect((await rejection(tuned.put(sha256(data), size, source))).message).toContain('(create it first)')
      expect(source.destroyed).toBe(true)
    }
  })

  test('removeIncomplete takes only ids listIncomplete gives', async () => {
    const store = makeS3()
    for (const id of ['../../etc/passwd', 'blobs/sha256/ab/cd', 'tmp/other', 'tmp/ingest-0123#']) {
      expect((await rejection(store.removeIncomplete(id))).code).toBe('invalid_argument')
    }
  })

  test('a prefix with characters that need escaping (in the URL, the signature and the XML listing)', async () => {
    const store = makeS3({prefix: `${config!.prefix}/odd & <chars> + "spaces" 'n' ü`, pageSize: 1})
    const digests: string[] = []
    for (const text of ['one', 'two']) {
      const data = Buffer.from(text)
      digests.push(sha256(data))
      await store.put(sha256(data), data.length, streamOf(data))
    }
    expect((await collect(store.list())).map((b) => b.digest).sort()).toEqual(digests.sort())
    expect(store.description).toContain('odd & <chars>')
  })

  test('a wrong secret is permission_denied, and the secret is never in the message', async () => {
    const secretAccessKey = 'wrong-secret-0123456789-abcdefghij'
    const store = makeS3({secretAccessKey})
    const error = await rejection(store.check())
    expect(error.code).toBe('permission_denied')
    expect(error.message).toContain('SignatureDoesNotMatch')
    const size = await rejection(store.size(sha256('x')))
    expect(size.code).toBe('permission_denied')
    for (const message of [error.message, size.message]) {
      expect(message).not.toContain(secretAccessKey)
      expect(message).not.toContain(config!.secretAccessKey)
      expect(message).not.toContain(config!.accessKeyId)
    }
  })

  test('an unreachable endpoint is unavailable, naming it', async () => {
    const store = makeS3({endpoint: 'http://127.0.0.1:9'})
    const error = await rejection(store.check())
    expect(error.code).toBe('unavailable')
    expect(error.message).toBe('cannot reach the object store at http://127.0.0.1:9: connection refused')
    expect((await rejection(store.size(sha256('x')))).code).toBe('unavailable')
  })

  test('parts too large to buffer go up as aws-chunked streams, checked chunk by chunk', async () => {
    // Two parts at most, 8 MiB of part memory: 6 MiB parts are streamed.
    const store = makeS3({multipartThreshold: 5 * MiB, partSize: 5 * MiB, maxParts: 2, partMemory: 8 * MiB})
    const data = randomBytes(12 * MiB - 100)
    const digest = sha256(data)
    expect(await store.put(digest, data.length, streamOf(data))).toBe(true)
    expect(sha256(await readAll((await store.open(digest)).stream))).toBe(digest)
    await store.remove(digest)
    const error = await rejection(store.put(digest, data.length, streamOf(randomBytes(data.length))))
    expect(error.code).toBe('integrity')
    await expectNothingStored(store, digest)
  })

  test('ingest of more than one copy part goes into place by UploadPartCopy', async () => {
    const store = makeS3({partSize: 5 * MiB, copyThreshold: 6 * MiB, copyPartSize: 5 * MiB})
    const data = randomBytes(13 * MiB)
    const digest = sha256(data)
    expect(await store.ingest(data.length, streamOf(data))).toEqual({digest, stored: true})
    expect(await store.size(digest)).toBe(data.length)
    expect(sha256(await readAll((await store.open(digest)).stream))).toBe(digest)
    expect(await collect(store.listIncomplete())).toEqual([])
  })

  test('presigned URLs: GET reads the blob; an upload is stored only once committed, and the store refuses other bytes', async () => {
    const {request} = await import('undici')
    const store = makeS3({presign: true})
    const data = randomBytes(50_000)
    const digest = sha256(data)
    const put = await store.presignUpload(digest, data.length, 60)
    expect(put.url).not.toContain(config!.secretAccessKey)
    const bad = await request(put.url, {method: 'PUT', headers: put.headers, body: randomBytes(data.length)})
    expect(bad.statusCode).toBe(400)
    await bad.body.dump()
    // Nothing arrived: the commit says so and stores nothing.
    expect((await rejection(store.commitUpload(digest, data.length, put.upload))).code).toBe('not_found')
    expect(await store.size(digest)).toBeNull()
    const good = await request(put.url, {method: 'PUT', headers: put.headers, body: data})
    expect(good.statusCode).toBe(200)
    await good.body.dump()
    expect(await store.size(digest)).toBeNull() // not in place until committed
    expect((await rejection(store.commitUpload(digest, data.length + 1, put.upload))).code).toBe('integrity')
    expect(await store.size(digest)).toBeNull()
    // A size mismatch removed the upload; a fresh one commits.
    const again = await store.presignUpload(digest, data.length, 60)
    const sent = await request(again.url, {method: 'PUT', headers: again.headers, body: data})
    await sent.body.dump()
    expect(await store.commitUpload(digest, data.length, again.upload)).toBe(true)
    expect(await collect(store.listIncomplete())).toEqual([])
    // An upload whose blob is stored already commits as "not stored" and leaves nothing behind.
    const third = await store.presignUpload(digest, data.length, 60)
    await (await request(third.url, {method: 'PUT', headers: third.headers, body: data})).body.dump()
    expect(await store.commitUpload(digest, data.length, third.upload)).toBe(false)
    expect(await collect(store.listIncomplete())).toEqual([])
    expect((await rejection(store.commitUpload(digest, data.length, '../x'))).code).toBe('invalid_argument')
    const got = await request(await store.presignGet(digest, 60))
    expect(got.statusCode).toBe(200)
    expect(Buffer.from(await got.body.arrayBuffer()).equals(data)).toBe(true)
    expect((await rejection(makeS3().presignGet(digest, 60))).code).toBe('invalid_argument')
  })
})

describe('S3BlobStore.configFromUrl', () => {
  it('s3://bucket/prefix and the usual AWS variables', () => {
    const env = {AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_DEFAULT_REGION: 'eu-west-1'}
    expect(S3BlobStore.configFromUrl('s3://models/team/a/', env)).toEqual({
      bucket: 'models',
      prefix: 'team/a',
      endpoint: 'https://s3.eu-west-1.amazonaws.com',
      region: 'eu-west-1',
      forcePathStyle: false,
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret',
    })
    const custom = S3BlobStore.configFromUrl('s3://models', {...env, AWS_REGION: 'us-east-2', AWS_ENDPOINT_URL: 'http://rgw:7480', AWS_SESSION_TOKEN: 'tok'})
    expect(custom).toMatchObject({prefix: '', endpoint: 'http://rgw:7480', region: 'us-east-2', forcePathStyle: true, sessionToken: 'tok'})
    expect(S3BlobStore.configFromUrl('s3://models', {...env, AWS_ENDPOINT_URL: 'http://a', AWS_ENDPOINT_URL_S3: 'http://b'}).endpoint).toBe('http://b')
    expect(S3BlobStore.configFromUrl('s3://models', {...env, AWS_ENDPOINT_URL: 'http://a'}, {forcePathStyle: false}).forcePathStyle).toBe(false)
    expect(() => S3BlobStore.configFromUrl('s3://models', {})).toThrow(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/)
    expect(() => S3BlobStore.configFromUrl('s3://models/a/../b', env)).toThrow(/prefix/)
    expect(() => S3BlobStore.configFromUrl('https://models', env)).toThrow(/s3:\/\/bucket/)
  })
})
