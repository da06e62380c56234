/**
 * Presigned URLs (`s3.presign: true`): blob bytes go straight between the client and the bucket
 * (Ceph RGW), the server only hands out URLs and commits uploads. The digest is still enforced by
 * the store, and a project sees only its own blobs. Needs the test services.
 */
import {createHash, randomBytes} from 'node:crypto'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeCliEnv, runCli} from '../helpers/cli.js'
import {postgresUrl, s3Config} from '../helpers/services.js'
import {startTestServer, type TestServer} from '../helpers/server.js'

const url = postgresUrl('the presigned URL tests')
const s3 = s3Config('the presigned URL tests')

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

if (url && s3) {
  describe('presigned URLs on PostgreSQL + S3', () => {
    let srv: TestServer
    beforeAll(async () => {
      process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId
      process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey
      const id = randomBytes(5).toString('hex')
      srv = await startTestServer({
        metadata: url,
        blobs: `s3://${s3.bucket}/presign-${id}`,
        database: {pool_size: 4, schema: `presign_${id}`},
        s3: {endpoint: s3.endpoint, region: s3.region, force_path_style: true, presign: true},
      })
    })
    afterAll(() => srv?.close())

    /** The server's byte counters from /metrics. */
    async function bytesThroughServer(): Promise<{received: number; sent: number}> {
      const text = await (await fetch(`${srv.url}/metrics`, {headers: {authorization: `Bearer ${srv.adminToken}`}})).text()
      const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1])
      return {received: value('modelreg_http_received_bytes_total'), sent: value('modelreg_http_sent_bytes_total')}
    }

    async function api(method: string, path: string, token: string, body?: unknown): Promise<{status: number; json: any}> {
      const response = await request(`${srv.url}/api/v1${path}`, {
        method: method as 'GET',
        headers: {authorization: `Bearer ${token}`, ...(body === undefined ? {} : {'content-type': 'application/json'})},
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      return {status: response.statusCode, json: await response.body.json()}
    }

    it('a push and a download through the CLI move the bytes past the server, verified', async () => {
      const ctx = makeCliEnv({MODELREG_URL: srv.url, MODELREG_TOKEN: srv.adminToken})
      const dir = join(ctx.cwd, 'model')
      mkdirSync(dir)
      const big = randomBytes(6 * 1024 * 1024)
      writeFileSync(join(dir, 'weights.bin'), big)
      writeFileSync(join(dir, 'config.json'), '{"layers": 3}')
      const before = await bytesThroughServer()
      const pushed = await runCli(ctx, ['models', 'push', 'direct', dir, '--json'])
      expect(pushed.code, pushed.stderr).toBe(0)
      const out = join(ctx.cwd, 'out')
      const pulled = await runCli(ctx, ['models', 'download', 'direct:1', '-o', out, '--json'])
      expect(pulled.code, pulled.stderr).toBe(0)
      expect(sha256(readFileSync(join(out, 'weights.bin')))).toBe(sha256(big))
      expect(readFileSync(join(out, 'config.json'), 'utf8')).toBe('{"layers": 3}')
      const after = await bytesThroughServer()
      // Only JSON went through the server: the manifest, URLs, commits.
      expect(after.received - before.received).toBeLessThan(64 * 1024)
      expect(after.sent - before.sent).toBeLessThan(64 * 1024)
      const verify = await srv.server.backend.verify({})
      expect(verify.ok).toBe(true)
    })

    it('bytes that do not match the digest are refused by the store: no object, no row', async () => {
      const data = randomBytes(40_000)
      const digest = sha256(data)
      const given = await api('POST', `/blobs/sha256/${digest}/uploads`, srv.adminToken, {size: data.length})
      expect(given.status).toBe(200)
      expect(given.json.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//)
      expect(given.json.url).not.toContain(s3.secretAccessKey)
      const bad = await request(given.json.url, {method: 'PUT', headers: given.json.headers, body: randomBytes(data.length)})
      expect(bad.statusCode).toBe(400)
      await bad.body.dump()
      const commit = await api('POST', `/blobs/sha256/${digest}/uploads/${given.json.upload}`, srv.adminToken, {size: data.length})
      expect([commit.status, commit.json.error.code]).toEqual([404, 'not_found'])
      expect((await api('POST', '/blobs/missing', srv.adminToken, {digests: [digest]})).json).toEqual([digest])
      expect(await srv.server.backend.blobs.size(digest)).toBeNull()
      // The same URL with the right bytes, committed twice: stored once, then the upload is gone.
      const good = await request(given.json.url, {method: 'PUT', headers: given.json.headers, body: data})
      expect(good.statusCode).toBe(200)
      await good.body.dump()
      const first = await api('POST', `/blobs/sha256/${digest}/uploads/${given.json.upload}`, srv.adminToken, {size: data.length})
      expect([first.status, first.json]).toEqual([201, {digest, size: data.length, stored: true}])
      const again = await api('POST', `/blobs/sha256/${digest}/uploads/${given.json.upload}`, srv.adminToken, {size: data.length})
      expect(again.status).toBe(404)
      expect((await api('POST', '/blobs/missing', srv.adminToken, {digests: [digest]})).json).toEqual([])
    })

    it("a project's token gets no URL for another project's blob until it uploads the bytes itself", async () => {
      const a = await srv.token('write', 'team-a')
      const b = await srv.token('write', 'team-b')
      const secret = randomBytes(30_000)
      const digest = sha256(secret)
      const upload = async (token: string) => {
        const given = await api('POST', `/blobs/sha256/${digest}/uploads`, token, {size: secret.length})
        const sent = await request(given.json.url, {method: 'PUT', headers: given.json.headers, body: secret})
        await sent.body.dump()
        return api('POST', `/blobs/sha256/${digest}/uploads/${given.json.upload}`, token, {size: secret.length})
      }
      expect((await upload(a)).status).toBe(201)
      const readA = await api('GET', `/blobs/sha256/${digest}/url?project=team-a`, a)
      expect(readA.status).toBe(200)
      expect(Buffer.from(await (await request(readA.json.url)).body.arrayBuffer()).equals(secret)).toBe(true)
      // team-b: not found, exactly as a blob nobody has.
      const missing = sha256(randomBytes(8))
      const readB = await api('GET', `/blobs/sha256/${digest}/url?project=team-b`, b)
      const absent = await api('GET', `/blobs/sha256/${missing}/url?project=team-b`, b)
      expect([readB.status, readB.json.error.code]).toEqual([404, 'not_found'])
      expect(readB.json.error.message).toBe(absent.json.error.message.replace(missing, digest))
      expect((await api('GET', `/blobs/sha256/${digest}/url?project=team-a`, b)).status).toBe(403)
      // A URL taken but never used proves nothing: the commit finds no upload, and the blob stays out of view.
      const given = await api('POST', `/blobs/sha256/${digest}/uploads`, b, {size: secret.length})
      expect((await api('POST', `/blobs/sha256/${digest}/uploads/${given.json.upload}`, b, {size: secret.length})).status).toBe(404)
      expect((await api('POST', '/blobs/missing', b, {digests: [digest]})).json).toEqual([digest])
      // Sending the bytes is the proof.
      expect((await upload(b)).json).toEqual({digest, size: secret.length, stored: false})
      expect((await api('POST', '/blobs/missing', b, {digests: [digest]})).json).toEqual([])
      expect((await api('GET', `/blobs/sha256/${digest}/url?project=team-b`, b)).status).toBe(200)
    })

    it('refuses a malformed size, upload id or digest in one line', async () => {
      const digest = sha256(Buffer.from('x'))
      const noSize = await api('POST', `/blobs/sha256/${digest}/uploads`, srv.adminToken, {})
      expect([noSize.status, noSize.json.error.message]).toEqual([400, 'the body must be {"size": <bytes>}'])
      const badId = await api('POST', `/blobs/sha256/${digest}/uploads/not-an-id`, srv.adminToken, {size: 1})
      expect([badId.status, badId.json.error.message]).toEqual([400, 'invalid upload id "not-an-id"'])
      expect((await api('POST', '/blobs/sha256/abc/uploads', srv.adminToken, {size: 1})).status).toBe(400)
    })
  })
}
