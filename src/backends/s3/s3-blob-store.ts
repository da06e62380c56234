/**
 * Blobs in an S3-compatible bucket (AWS S3, Ceph RGW, MinIO): `<prefix>/blobs/sha256/ab/<rest>`,
 * the directory store's layout. Same rules as the directory: bytes are hashed while they are sent,
 * and a blob's key only ever holds complete content of that digest, because the store itself
 * checks what it receives:
 *
 * - up to `multipartThreshold` (64 MiB): one PUT whose x-amz-content-sha256 is the blob's digest,
 *   so the store refuses a body that does not hash to it (400 XAmzContentSHA256Mismatch) and
 *   keeps nothing; `If-None-Match: *` so an existing blob is never rewritten.
 * - larger: a multipart upload, each part buffered and sent with its own sha256; the upload is
 *   completed only if the whole stream had the digest and size, else aborted. Parts grow with the
 *   blob so 10,000 of them reach 5 TiB; parts too large to buffer (blobs over ~312 GiB with the
 *   defaults) are streamed with aws-chunked signatures, which have the store check every 1 MiB.
 *
 * Ceph RGW 16 differs from AWS in ways this relies on not: CompleteMultipartUpload answers an
 * empty ETag and ignores If-None-Match (so the size is confirmed with a HEAD, and completing only
 * verified content makes overwriting harmless); it ignores x-amz-checksum-* (not used).
 */
import {createHmac, randomBytes} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {PassThrough, Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {type BlobSource, type BlobStore, type IncompleteUpload, isLocalFile, type PresignedUpload, proveBlob, type StoredBlob} from '../blobs.js'
import {CHUNK_SIZE, DigestStream, EMPTY_SHA256} from '../digest.js'
import {fromFsError, integrity, invalid, notFound, RegistryError} from '../errors.js'
import {validateDigest} from '../validation.js'
import {encodeKey, errorCodeOf, isNetworkError, S3Client, type S3Response, sha256Hex} from './s3-client.js'
import {childrenNamed, childText, type XmlElement} from './xml.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
/** S3's limits: a part is 5 MiB at least (but the last), an upload 10,000 parts, a PUT or a copy 5 GiB. */
const MIN_PART = 5 * MiB
const MAX_PARTS = 10_000
const MAX_PUT = 5 * GiB
const MAX_OBJECT = 5 * 1024 * GiB

export interface S3BlobStoreConfig {
  bucket: string
  /** Keys go under `<prefix>/`; '' for the bucket's root. */
  prefix: string
  /** http(s)://host[:port] */
  endpoint: string
  region: string
  /** `endpoint/bucket/key` instead of `bucket.endpoint/key` (what RGW and MinIO usually need). */
  forcePathStyle: boolean
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
  /** Blobs up to this size go up as one PUT (at most 5 GiB). Default 64 MiB. */
  multipartThreshold?: number
  /** The smallest part (5 MiB at least); parts grow so that a blob fits in `maxParts`. Default 16 MiB. */
  partSize?: number
  /** Part buffers of one upload, together; a part larger than half of it is streamed instead. Default 64 MiB. */
  partMemory?: number
  /** Parts sent at once while the next one is read (memory allowing). Default 2. */
  partsInFlight?: number
  /** Default 10,000 (S3's limit); lower only to test. */
  maxParts?: number
  /** Objects up to this size are copied with one CopyObject, larger ones in parts (S3's limit: 5 GiB). */
  copyThreshold?: number
  /** Smallest part of a copy in parts. Default 1 GiB. */
  copyPartSize?: number
  /** Keys per listing request (S3's limit: 1000). */
  pageSize?: number
  /** Hand out presigned URLs (presignGet, presignPut). Default off. */
  presign?: boolean
  connections?: number
  timeoutMs?: number
}

interface PartPlan {
  partSize: number
  /** Parts too large to buffer go up as aws-chunked streams, one at a time. */
  streamed: boolean
  inFlight: number
}

/** Where a write reads from: the source piped through a DigestStream that hashes, counts and caps it. */
interface Input {
  meter: DigestStream
  /** The source's own failure (a file that cannot be read, a client that went away), if any. */
  sourceError(): unknown
  /** Stop reading: the source is destroyed too. */
  close(): void
}

/** Reads exact amounts from a stream of chunks. */
class ByteReader {
  private leftover: Buffer | null = null
  private ended = false
  private readonly chunks: AsyncIterator<Buffer>

  constructor(stream: Readable) {
    this.chunks = stream[Symbol.asyncIterator]()
  }

  /** Fill `target[0, length)` as far as the stream goes; the number of bytes filled. */
  async fill(target: Buffer, length = target.length): Promise<number> {
    let filled = 0
    while (filled < length) {
      let chunk = this.leftover
      this.leftover = null
      if (!chunk) {
        if (this.ended) break
        const next = await this.chunks.next()
        if (next.done) {
          this.ended = true
          break
        }
        chunk = next.value as Buffer
      }
      const take = Math.min(chunk.length, length - filled)
      chunk.copy(target, filled, 0, take)
      filled += take
      if (take < chunk.length) this.leftover = chunk.subarray(take)
    }
    return filled
  }

  /** Read to the end (the meter refuses bytes past the declared size). */
  async drain(): Promise<void> {
    const scratch = Buffer.allocUnsafe(1)
    while ((await this.fill(scratch)) > 0) {
      // only reachable if the meter let extra bytes through, which it does not
    }
  }
}

const discard = (source: BlobSource) => {
  if (!isLocalFile(source)) source.destroy()
}

const header = (response: S3Response, name: string): string | undefined => {
  const value = response.headers[name]
  return Array.isArray(value) ? value[0] : value
}

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)

const STREAMING = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
const CHUNK_SIGNATURE = ';chunk-signature='

/** Bytes on the wire of an aws-chunked body carrying `length` bytes in `chunk`-sized chunks. */
function chunkedLength(length: number, chunk: number): number {
  const frame = (n: number) => n.toString(16).length + CHUNK_SIGNATURE.length + 64 + 2 + n + 2
  const full = Math.floor(length / chunk)
  const rest = length % chunk
  return full * frame(chunk) + (rest ? frame(rest) : 0) + frame(0)
}

const BLOB_KEY = /^blobs\/sha256\/([0-9a-f]{2})\/([0-9a-f]{62})$/
const TMP_KEY = /^tmp\/(?:ingest|upload)-[0-9a-f]{32}$/

export class S3BlobStore implements BlobStore {
  readonly description: string
  readonly bucket: string
  readonly prefix: string
  private readonly client: S3Client
  /** `<prefix>/`, or '' */
  private readonly root: string
  private readonly multipartThreshold: number
  private readonly partSize: number
  private readonly partMemory: number
  private readonly partsInFlight: number
  private readonly maxParts: number
  private readonly copyThreshold: number
  private readonly copyPartSize: number
  private readonly pageSize: number
  readonly presigns: boolean

  constructor(config: S3BlobStoreConfig) {
    if (!config.bucket) throw invalid('S3: a bucket is required')
    this.bucket = config.bucket
    this.prefix = normalizePrefix(config.prefix)
    this.root = this.prefix ? `${this.prefix}/` : ''
    this.description = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`
    this.client = new S3Client({
      endpoint: config.endpoint,
      bucket: config.bucket,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      sessionToken: config.sessionToken,
      connections: config.connections,
      timeoutMs: config.timeoutMs,
    })
    this.multipartThreshold = Math.min(config.multipartThreshold ?? 64 * MiB, MAX_PUT)
    this.partSize = Math.max(config.partSize ?? 16 * MiB, MIN_PART)
    this.partMemory = config.partMemory ?? 64 * MiB
    this.partsInFlight = Math.max(1, config.partsInFlight ?? 2)
    this.maxParts = Math.min(config.maxParts ?? MAX_PARTS, MAX_PARTS)
    this.copyThreshold = Math.min(config.copyThreshold ?? MAX_PUT, MAX_PUT)
    this.copyPartSize = Math.min(Math.max(config.copyPartSize ?? GiB, MIN_PART), MAX_PUT)
    this.pageSize = Math.min(Math.max(config.pageSize ?? 1000, 1), 1000)
    this.presigns = config.presign ?? false
  }

  /**
   * The configuration for `s3://bucket/prefix` from the usual AWS variables: AWS_ACCESS_KEY_ID,
   * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION or AWS_DEFAULT_REGION, and the
   * endpoint from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (AWS's regional endpoint otherwise).
   * A custom endpoint means path-style addressing unless `forcePathStyle` says otherwise.
   */
  static configFromUrl(url: string, env: NodeJS.ProcessEnv = process.env, options: {forcePathStyle?: boolean} = {}): S3BlobStoreConfig {
    const match = /^s3:\/\/([^/?#]+)(?:\/([^?#]*))?$/.exec(url)
    if (!match) throw invalid(`invalid S3 URL ${JSON.stringify(url)}: expected s3://bucket[/prefix]`)
    const bucket = match[1]
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw invalid(`invalid S3 bucket name ${JSON.stringify(bucket)}: 3 to 63 lower-case letters, digits, dots and hyphens`)
    let prefix: string
    try {
      prefix = decodeURIComponent(match[2] ?? '')
    } catch {
      throw invalid(`invalid S3 URL ${JSON.stringify(url)}: bad percent-encoding in the prefix`)
    }
    const accessKeyId = env.AWS_ACCESS_KEY_ID
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY
    if (!accessKeyId || !secretAccessKey) throw invalid(`S3 credentials missing for ${url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`)
    const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1'
    const custom = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL
    return {
      bucket,
      prefix: normalizePrefix(prefix),
      endpoint: custom || `https://s3.${region}.amazonaws.com`,
      region,
      // A dotted bucket name does not match a TLS certificate as a host name: path style too.
      forcePathStyle: options.forcePathStyle ?? (Boolean(custom) || bucket.includes('.')),
      accessKeyId,
      secretAccessKey,
      ...(env.AWS_SESSION_TOKEN ? {sessionToken: env.AWS_SESSION_TOKEN} : {}),
    }
  }

  static fromUrl(url: string, env: NodeJS.ProcessEnv = process.env, options: {forcePathStyle?: boolean} = {}): S3BlobStore {
    return new S3BlobStore(S3BlobStore.configFromUrl(url, env, options))
  }

  async close(): Promise<void> {
    await this.client.close()
  }

  /** At server start: the bucket exists and these credentials may list it (one cheap request). */
  async check(): Promise<void> {
    const response = await this.client.send({
      method: 'GET',
      query: {'list-type': '2', 'max-keys': '1', prefix: this.root},
      what: `listing ${this.description}`,
    })
    await response.body.dump()
  }

  private blobKey(digest: string): string {
    validateDigest(digest)
    return `${this.root}blobs/sha256/${digest.slice(0, 2)}/${digest.slice(2)}`
  }

  async size(digest: string): Promise<number | null> {
    return this.objectSize(this.blobKey(digest), `looking up blob ${digest}`)
  }

  private async objectSize(key: string, what: string): Promise<number | null> {
    const response = await this.client.send({method: 'HEAD', key, what, accept: [404]})
    await response.body.dump().catch(() => {})
    if (response.status === 404) return null
    const length = Number(header(response, 'content-length'))
    if (!Number.isSafeInteger(length)) throw new RegistryError('internal', `the object store at ${this.client.endpoint} answered ${what} without a Content-Length`)
    return length
  }

  async put(digest: string, size: number, source: BlobSource): Promise<boolean> {
    let existing: number | null
    try {
      checkSize(size)
      existing = await this.size(digest)
    } catch (error) {
      discard(source)
      throw error
    }
    if (existing === size) {
      discard(source)
      return false
    }
    const key = this.blobKey(digest)
    // An object of another size under a content address is damage: replace it.
    const replace = existing !== null
    const what = `storing blob ${digest}`
    if (size <= CHUNK_SIZE) {
      const input = this.openInput(source, size)
      const body = await this.readAll(input, size)
      input.meter.verify(digest, size, `blob ${digest}`)
      return this.putBuffer(key, body, digest, replace, what)
    }
    if (size <= this.multipartThreshold) return this.putStream(key, digest, size, source, replace, what)
    const input = this.openInput(source, size)
    await this.uploadMultipart(key, size, input, what, (meter) => meter.verify(digest, size, `blob ${digest}`))
    return true
  }

  async ingest(size: number, source: BlobSource): Promise<{digest: string; stored: boolean}> {
    try {
      checkSize(size)
    } catch (error) {
      discard(source)
      throw error
    }
    const input = this.openInput(source, size)
    const expectSize = (meter: DigestStream) => {
      if (meter.bytes !== size) throw integrity(`expected ${size} bytes, got ${meter.bytes}; nothing was stored`, {expected_size: size, actual_size: meter.bytes})
    }
    // Up to one part: hash it in memory, then it is an ordinary put.
    if (size <= this.partSize) {
      const body = await this.readAll(input, size)
      expectSize(input.meter)
      const digest = input.meter.digest()
      const key = this.blobKey(digest)
      const existing = await this.size(digest)
      if (existing === size) return {digest, stored: false}
      return {digest, stored: await this.putBuffer(key, body, digest, existing !== null, `storing blob ${digest}`)}
    }
    // Larger: the key is known only at the end. Upload to a temporary key in parts (each checked
    // by the store), then copy it into place on the store's side and delete the temporary key.
    const tmp = `${this.root}tmp/ingest-${randomBytes(16).toString('hex')}`
    await this.uploadMultipart(tmp, size, input, 'storing an ingested blob', expectSize)
    const digest = input.meter.digest()
    try {
      const key = this.blobKey(digest)
      const existing = await this.size(digest)
      if (existing === size) return {digest, stored: false}
      await this.copy(tmp, key, size, `storing blob ${digest}`)
      await this.confirmSize(key, size, `storing blob ${digest}`)
      return {digest, stored: true}
    } finally {
      await this.deleteKey(tmp, 'removing a temporary upload').catch(() => {})
    }
  }

  async prove(digest: string, size: number, source: BlobSource): Promise<void> {
    return proveBlob(digest, size, source)
  }

  async open(digest: string, offset = 0): Promise<{stream: Readable; size: number}> {
    const key = this.blobKey(digest)
    const what = `reading blob ${digest}`
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RegistryError('range_not_satisfiable', `offset ${offset} is outside blob ${digest}`)
    const response = await this.client.send({method: 'GET', key, what, headers: offset > 0 ? {range: `bytes=${offset}-`} : {}, accept: [404, 416]})
    if (response.status === 404 || response.status === 416) {
      const answer = await this.client.errorAnswer(response)
      if (answer.code === 'NoSuchBucket') throw this.client.failure(answer, what)
      const size = response.status === 416 ? await this.size(digest) : null
      if (size === null) throw notFound(`blob ${digest} is not in the store`)
      // S3 refuses a range starting at the end; the directory store answers an empty stream.
      if (offset === size) return {stream: Readable.from([]), size}
      throw new RegistryError('range_not_satisfiable', `offset ${offset} is outside blob ${digest} (${size} bytes)`)
    }
    let size: number
    if (response.status === 206) {
      const match = /\/(\d+)$/.exec(header(response, 'content-range') ?? '')
      if (!match) {
        response.body.destroy()
        throw new RegistryError('internal', `the object store at ${this.client.endpoint} answered ${what} with a partial body and no Content-Range`)
      }
      size = Number(match[1])
    } else {
      if (offset > 0) {
        response.body.destroy()
        throw new RegistryError('internal', `the object store at ${this.client.endpoint} ignored the Range of ${what}`)
      }
      size = Number(header(response, 'content-length'))
    }
    // A connection lost mid-transfer surfaces as `unavailable`, naming the endpoint.
    const body = response.body
    const out = new PassThrough({highWaterMark: CHUNK_SIZE})
    body.on('error', (error) => out.destroy(isNetworkError(error) ? this.client.unreachable(error) : error))
    out.on('close', () => body.destroy())
    body.pipe(out)
    return {stream: out, size}
  }

  async *list(): AsyncIterable<StoredBlob> {
    for await (const object of this.listObjects(`${this.root}blobs/sha256/`)) {
      const match = BLOB_KEY.exec(object.key.slice(this.root.length))
      if (match) yield {digest: match[1] + match[2], size: object.size, modified: object.modified}
    }
  }

  async remove(digest: string): Promise<void> {
    await this.deleteKey(this.blobKey(digest), `removing blob ${digest}`)
  }

  /**
   * Multipart uploads under the prefix that were never completed or aborted (a killed put), and
   * temporary objects of ingests that never got copied into place. An upload's id is
   * `<key under the prefix>#<upload id>`, a temporary object's its key under the prefix.
   */
  async *listIncomplete(): AsyncIterable<IncompleteUpload> {
    let marker: Record<string, string> = {}
    for (;;) {
      const response = await this.client.send({
        method: 'GET',
        query: {uploads: '', prefix: this.root, 'max-uploads': String(this.pageSize), ...marker},
        what: `listing unfinished uploads in ${this.description}`,
      })
      const root = await this.client.xml(response, 'listing unfinished uploads')
      for (const upload of childrenNamed(root, 'Upload')) {
        const key = childText(upload, 'Key') ?? ''
        const uploadId = childText(upload, 'UploadId') ?? ''
        const relative = key.slice(this.root.length)
        if (!key.startsWith(this.root) || !uploadId || !(BLOB_KEY.test(relative) || TMP_KEY.test(relative))) continue
        const parts = await this.partsOf(key, uploadId)
        if (!parts) continue // finished meanwhile
        const initiated = Date.parse(childText(upload, 'Initiated') ?? '') || 0
        yield {id: `${relative}#${uploadId}`, size: parts.size, modified: Math.max(initiated, parts.modified)}
      }
      if (childText(root, 'IsTruncated') !== 'true') break
      marker = {'key-marker': childText(root, 'NextKeyMarker') ?? '', 'upload-id-marker': childText(root, 'NextUploadIdMarker') ?? ''}
    }
    for await (const object of this.listObjects(`${this.root}tmp/`)) {
      const relative = object.key.slice(this.root.length)
      if (TMP_KEY.test(relative)) yield {id: relative, size: object.size, modified: object.modified}
    }
  }

  async removeIncomplete(id: string): Promise<void> {
    const hash = id.indexOf('#')
    const relative = hash === -1 ? id : id.slice(0, hash)
    if (hash === -1 ? !TMP_KEY.test(relative) : !(BLOB_KEY.test(relative) || TMP_KEY.test(relative)) || hash === id.length - 1) {
      throw invalid(`invalid incomplete upload id ${JSON.stringify(id)}`)
    }
    if (hash === -1) {
      await this.deleteKey(this.root + relative, 'removing a temporary upload')
      return
    }
    await this.abort(this.root + relative, id.slice(hash + 1))
  }

  /** A URL that reads the blob for `seconds` without credentials. */
  async presignGet(digest: string, seconds: number): Promise<string> {
    this.checkPresign(seconds)
    return this.client.presign('GET', this.blobKey(digest), seconds)
  }

  /**
   * A URL that uploads the blob for `seconds` to a temporary key of its own, and the headers to
   * send with it: x-amz-content-sha256 is signed as the digest, so the store refuses any other
   * body, as it does for put(). commitUpload() then moves it into place. The upload goes to a
   * key of its own rather than the blob's so that only a client that sent the bytes can commit
   * it: an object already under the blob's key proves nothing about the caller.
   */
  async presignUpload(digest: string, size: number, seconds: number): Promise<PresignedUpload> {
    this.checkPresign(seconds)
    checkSize(size)
    if (size > MAX_PUT) throw invalid(`a presigned upload is one PUT, at most 5 GiB; blob ${digest} has ${size} bytes`)
    const upload = randomBytes(16).toString('hex')
    const url = await this.client.presign('PUT', this.uploadKey(upload), seconds, {'x-amz-content-sha256': digest})
    return {url, headers: {'x-amz-content-sha256': digest, 'content-length': String(size)}, upload}
  }

  /**
   * Move a presigned upload into place: it must be there with `size` bytes (the store checked
   * its sha256 against the signed digest as it arrived). False when the blob was stored already.
   */
  async commitUpload(digest: string, size: number, upload: string): Promise<boolean> {
    if (!/^[0-9a-f]{32}$/.test(upload)) throw invalid(`invalid upload id ${JSON.stringify(upload)}`)
    const tmp = this.uploadKey(upload)
    const what = `storing blob ${digest}`
    const received = await this.objectSize(tmp, what)
    if (received === null) throw notFound(`upload ${upload} of blob ${digest} was not received (or was committed already); upload the bytes again`)
    try {
      if (received !== size) throw integrity(`upload ${upload} has ${received} bytes, expected ${size}; nothing was stored`, {expected_size: size, actual_size: received})
      if ((await this.size(digest)) === size) return false
      await this.copy(tmp, this.blobKey(digest), size, what)
      await this.confirmSize(this.blobKey(digest), size, what)
      return true
    } finally {
      await this.deleteKey(tmp, 'removing a temporary upload').catch(() => {})
    }
  }

  private uploadKey(upload: string): string {
    return `${this.root}tmp/upload-${upload}`
  }

  private checkPresign(seconds: number): void {
    if (!this.presigns) throw invalid(`presigned URLs are off for ${this.description} (s3.presign)`)
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 604_800) throw invalid('a presigned URL lasts 1 second to 7 days')
  }

  // ------------------------------------------------------------------------------------ writes

  private openInput(source: BlobSource, size: number): Input {
    const meter = new DigestStream(size)
    let failure: unknown = null
    const from = isLocalFile(source) ? createReadStream(source.path, {highWaterMark: CHUNK_SIZE}) : source
    if (isLocalFile(source) && source.onBytes) {
      const onBytes = source.onBytes
      from.on('data', (chunk: Buffer) => onBytes(chunk.length))
    }
    from.once('error', (error: unknown) => {
      failure ??= error
    })
    pipeline(from, meter).catch(() => {}) // failures surface where the meter is read
    return {
      meter,
      sourceError: () => failure,
      close: () => {
        if (!meter.destroyed) meter.destroy()
        from.destroy()
      },
    }
  }

  /** What to throw when writing failed: the source's own failure first, then the meter's verdict. */
  private inputFailure(input: Input, error: unknown, size: number, what: string): unknown {
    const sourceError = input.sourceError()
    if (sourceError) return sourceError instanceof RegistryError ? sourceError : fromFsError(sourceError, 'receiving a blob')
    if (error instanceof RegistryError) return error
    if (errorCodeOf(error) === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH' || error instanceof ShortInput) {
      return integrity(`${what}: expected ${size} bytes, got ${input.meter.bytes}`, {expected_size: size, actual_size: input.meter.bytes})
    }
    if (isNetworkError(error)) return this.client.unreachable(error)
    return error
  }

  private async readAll(input: Input, size: number): Promise<Buffer> {
    const body = Buffer.allocUnsafe(size)
    try {
      const reader = new ByteReader(input.meter)
      const got = await reader.fill(body)
      await reader.drain()
      return body.subarray(0, got)
    } catch (error) {
      input.close()
      throw this.inputFailure(input, error, size, 'receiving a blob')
    }
  }

  /** One PUT of verified bytes (sent again on a transient failure). False if a racing put stored it first. */
  private async putBuffer(key: string, body: Buffer, digest: string, replace: boolean, what: string): Promise<boolean> {
    const response = await this.client.send({
      method: 'PUT',
      key,
      body,
      payloadHash: digest,
      headers: {'content-type': 'application/octet-stream', ...(replace ? {} : {'if-none-match': '*'})},
      what,
      accept: [412],
    })
    await response.body.dump().catch(() => {})
    return response.status !== 412
  }

  /** One streamed PUT that the store checks against the digest; hashed here too as it goes. */
  private async putStream(key: string, digest: string, size: number, source: BlobSource, replace: boolean, what: string): Promise<boolean> {
    const input = this.openInput(source, size)
    let response: S3Response
    try {
      response = await this.client.send({
        method: 'PUT',
        key,
        body: input.meter,
        contentLength: size,
        payloadHash: digest,
        headers: {'content-type': 'application/octet-stream', ...(replace ? {} : {'if-none-match': '*'})},
        what,
        accept: [412],
      })
    } catch (error) {
      input.close()
      const failure = this.inputFailure(input, error, size, `blob ${digest}`)
      if (failure instanceof RegistryError && failure.code === 'integrity' && input.meter.bytes === size) {
        // The store found another digest: say which, as the directory store does.
        input.meter.verify(digest, size, `blob ${digest}`)
      }
      throw failure
    }
    await response.body.dump().catch(() => {})
    if (response.status === 412) {
      input.close()
      return false
    }
    try {
      input.meter.verify(digest, size, `blob ${digest}`)
    } catch (error) {
      // Only a store that ignores x-amz-content-sha256 gets here: take the bad object back.
      await this.deleteKey(key, `removing a bad copy of blob ${digest}`).catch(() => {})
      throw error
    }
    return true
  }

  private partPlan(size: number): PartPlan {
    const needed = Math.ceil(Math.ceil(size / this.maxParts) / MiB) * MiB
    const partSize = Math.max(this.partSize, needed)
    const buffers = Math.floor(this.partMemory / partSize)
    if (buffers < 2) return {partSize, streamed: true, inFlight: 1}
    return {partSize, streamed: false, inFlight: Math.min(this.partsInFlight, buffers - 1)}
  }

  /**
   * A multipart upload of `size` bytes from `input` to `key`, completed only if `accept` passes
   * once every byte was read and hashed; aborted on any failure.
   */
  private async uploadMultipart(key: string, size: number, input: Input, what: string, accept: (meter: DigestStream) => void): Promise<void> {
    let uploadId: string | undefined
    try {
      const created = await this.client.send({method: 'POST', key, query: {uploads: ''}, headers: {'content-type': 'application/octet-stream'}, what})
      uploadId = childText(await this.client.xml(created, what), 'UploadId')
      if (!uploadId) throw new RegistryError('internal', `the object store at ${this.client.endpoint} answered ${what} without an UploadId`)
      const parts = await this.uploadParts(key, uploadId, size, input)
      accept(input.meter)
      await this.complete(key, uploadId, parts, what)
      uploadId = undefined
      await this.confirmSize(key, size, what)
    } catch (error) {
      input.close()
      if (uploadId) await this.abort(key, uploadId).catch(() => {})
      throw this.inputFailure(input, error, size, what)
    }
  }

  private async uploadParts(key: string, uploadId: string, size: number, input: Input): Promise<{number: number; etag: string}[]> {
    const plan = this.partPlan(size)
    const reader = new ByteReader(input.meter)
    const parts: {number: number; etag: string}[] = []
    const running = new Set<Promise<void>>()
    const free: Buffer[] = []
    let failed: {error: unknown} | null = null
    let offset = 0
    try {
      for (let number = 1; offset < size && !failed; number++) {
        const length = Math.min(plan.partSize, size - offset)
        if (plan.streamed) {
          parts.push({number, etag: await this.uploadStreamedPart(key, uploadId, number, length, reader)})
        } else {
          const buffer = free.pop() ?? Buffer.allocUnsafe(plan.partSize)
          const got = await reader.fill(buffer, length)
          if (got < length) throw new ShortInput()
          const task = this.uploadPart(key, uploadId, number, buffer.subarray(0, length)).then(
            (etag) => {
              parts.push({number, etag})
              free.push(buffer)
            },
            (error: unknown) => {
              failed ??= {error}
            },
          )
          running.add(task)
          void task.then(() => running.delete(task))
          while (running.size >= plan.inFlight) await Promise.race(running)
        }
        offset += length
      }
    } finally {
      // No part may still be on its way when the caller aborts the upload.
      await Promise.all(running)
    }
    if (failed) throw (failed as {error: unknown}).error
    await reader.drain()
    return parts.sort((a, b) => a.number - b.number)
  }

  private async uploadPart(key: string, uploadId: string, number: number, body: Buffer): Promise<string> {
    const response = await this.client.send({
      method: 'PUT',
      key,
      query: {partNumber: String(number), uploadId},
      body,
      what: `uploading part ${number} of ${key}`,
    })
    await response.body.dump().catch(() => {})
    return header(response, 'etag') ?? ''
  }

  /** A part too large to buffer, sent as aws-chunked: every 1 MiB chunk's sha256 is signed, and checked by the store. */
  private async uploadStreamedPart(key: string, uploadId: string, number: number, length: number, reader: ByteReader): Promise<string> {
    const url = this.client.url(key, {partNumber: String(number), uploadId})
    const datetime = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '')
    const {headers, signature} = await this.client.sign('PUT', url, {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(length),
      'x-amz-content-sha256': STREAMING,
    }, datetime)
    const signingKey = this.client.signingKey(datetime.slice(0, 8))
    const scope = this.client.scope(datetime.slice(0, 8))
    async function* frames(): AsyncGenerator<Buffer> {
      let previous = signature
      const sign = (data: Buffer) => {
        previous = createHmac('sha256', signingKey)
          .update(['AWS4-HMAC-SHA256-PAYLOAD', datetime, scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n'))
          .digest('hex')
        return previous
      }
      for (let left = length; left > 0; ) {
        const data = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, left))
        if ((await reader.fill(data)) < data.length) throw new ShortInput()
        yield Buffer.from(`${data.length.toString(16)}${CHUNK_SIGNATURE}${sign(data)}\r\n`)
        yield data
        yield Buffer.from('\r\n')
        left -= data.length
      }
      yield Buffer.from(`0${CHUNK_SIGNATURE}${sign(Buffer.alloc(0))}\r\n\r\n`)
    }
    const response = await this.client.sendSigned({
      method: 'PUT',
      url,
      headers: {...headers, 'content-length': String(chunkedLength(length, CHUNK_SIZE))},
      body: Readable.from(frames(), {objectMode: false}),
      what: `uploading part ${number} of ${key}`,
    })
    await response.body.dump().catch(() => {})
    return header(response, 'etag') ?? ''
  }

  private async complete(key: string, uploadId: string, parts: {number: number; etag: string}[], what: string): Promise<void> {
    const xml = `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts
      .map((p) => `<Part><PartNumber>${p.number}</PartNumber><ETag>${escapeXml(p.etag)}</ETag></Part>`)
      .join('')}</CompleteMultipartUpload>`
    const response = await this.client.send({
      method: 'POST',
      key,
      query: {uploadId},
      body: Buffer.from(xml),
      headers: {'content-type': 'application/xml'},
      what,
    })
    await this.expectNoError(response, what)
  }

  /** CompleteMultipartUpload and copies may answer 200 and carry an error in the body. */
  private async expectNoError(response: S3Response, what: string): Promise<XmlElement> {
    const root = await this.client.xml(response, what)
    if (root.name === 'Error') {
      throw this.client.failure({status: response.status, code: childText(root, 'Code') ?? '', message: childText(root, 'Message') ?? ''}, what)
    }
    return root
  }

  /** RGW answers CompleteMultipartUpload with an empty ETag: the object's size is checked instead. */
  private async confirmSize(key: string, size: number, what: string): Promise<void> {
    const stored = await this.objectSize(key, what)
    if (stored !== size) {
      throw new RegistryError('internal', `the object store at ${this.client.endpoint} holds ${stored ?? 'no'} bytes after ${what}, not ${size}`)
    }
  }

  private async abort(key: string, uploadId: string): Promise<void> {
    const response = await this.client.send({method: 'DELETE', key, query: {uploadId}, what: `aborting an upload to ${key}`, accept: [404]})
    await response.body.dump().catch(() => {})
  }

  private async deleteKey(key: string, what: string): Promise<void> {
    const response = await this.client.send({method: 'DELETE', key, what, accept: [404]})
    await response.body.dump().catch(() => {})
  }

  /** Server-side copy: CopyObject up to `copyThreshold`, UploadPartCopy ranges beyond. */
  private async copy(from: string, to: string, size: number, what: string): Promise<void> {
    const source = `/${encodeKey(this.bucket)}/${encodeKey(from)}`
    if (size <= this.copyThreshold) {
      const response = await this.client.send({method: 'PUT', key: to, headers: {'x-amz-copy-source': source}, what})
      await this.expectNoError(response, what)
      return
    }
    const partSize = Math.max(this.copyPartSize, Math.ceil(size / this.maxParts))
    const created = await this.client.send({method: 'POST', key: to, query: {uploads: ''}, what})
    const uploadId = childText(await this.client.xml(created, what), 'UploadId')
    if (!uploadId) throw new RegistryError('internal', `the object store at ${this.client.endpoint} answered ${what} without an UploadId`)
    try {
      const parts: {number: number; etag: string}[] = []
      for (let offset = 0, number = 1; offset < size; offset += partSize, number++) {
        const end = Math.min(offset + partSize, size) - 1
        const response = await this.client.send({
          method: 'PUT',
          key: to,
          query: {partNumber: String(number), uploadId},
          headers: {'x-amz-copy-source': source, 'x-amz-copy-source-range': `bytes=${offset}-${end}`},
          what,
        })
        parts.push({number, etag: childText(await this.expectNoError(response, what), 'ETag') ?? ''})
      }
      await this.complete(to, uploadId, parts, what)
    } catch (error) {
      await this.abort(to, uploadId).catch(() => {})
      throw error
    }
  }

  // ------------------------------------------------------------------------------------ listings

  private async *listObjects(prefix: string): AsyncIterable<{key: string; size: number; modified: number}> {
    let token: string | undefined
    do {
      const response = await this.client.send({
        method: 'GET',
        query: {'list-type': '2', prefix, 'max-keys': String(this.pageSize), ...(token ? {'continuation-token': token} : {})},
        what: `listing ${this.description}`,
      })
      const root = await this.client.xml(response, `listing ${this.description}`)
      for (const object of childrenNamed(root, 'Contents')) {
        const key = childText(object, 'Key')
        const size = Number(childText(object, 'Size'))
        if (key === undefined || !Number.isSafeInteger(size)) continue
        yield {key, size, modified: Date.parse(childText(object, 'LastModified') ?? '') || 0}
      }
      token = childText(root, 'IsTruncated') === 'true' ? childText(root, 'NextContinuationToken') : undefined
    } while (token)
  }

  /** Total size and last activity of an unfinished upload's parts; null when it is gone. */
  private async partsOf(key: string, uploadId: string): Promise<{size: number; modified: number} | null> {
    let size = 0
    let modified = 0
    let marker: string | undefined
    for (;;) {
      const response = await this.client.send({
        method: 'GET',
        key,
        query: {uploadId, 'max-parts': '1000', ...(marker ? {'part-number-marker': marker} : {})},
        what: `listing the parts of an upload to ${key}`,
        accept: [404],
      })
      if (response.status === 404) {
        await response.body.dump().catch(() => {})
        return null
      }
      const root = await this.client.xml(response, 'listing parts')
      for (const part of childrenNamed(root, 'Part')) {
        size += Number(childText(part, 'Size')) || 0
        modified = Math.max(modified, Date.parse(childText(part, 'LastModified') ?? '') || 0)
      }
      if (childText(root, 'IsTruncated') !== 'true') return {size, modified}
      marker = childText(root, 'NextPartNumberMarker')
      if (!marker) return {size, modified}
    }
  }
}

/** A source that ended before its declared size (said as integrity by inputFailure). */
class ShortInput extends Error {}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw invalid(`invalid blob size ${size}`)
  if (size > MAX_OBJECT) throw invalid(`a blob of ${size} bytes is larger than S3 can store in one object (5 TiB)`)
}

function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '')
  if (!trimmed) return ''
  for (const segment of trimmed.split('/')) {
    if (!segment || segment === '.' || segment === '..') throw invalid(`invalid S3 prefix ${JSON.stringify(prefix)}: empty, "." and ".." segments are not allowed`)
  }
  return trimmed
}
