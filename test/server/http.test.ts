/** The server as an attacker or a careless client meets it: auth on every route, limits, headers. */
import type {BlobStore} from '../../src/backends/local/blob-store.js'
import {createHash} from 'node:crypto'
import {existsSync, readdirSync} from 'node:fs'
import {connect} from 'node:net'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {Client, request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ALL_ROUTES, fillPath, type RouteSpec} from '../../src/protocol/routes.js'
import {startTestServer, type TestServer} from '../helpers/server.js'

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
const DIGEST = sha('sweep')
const PARAMS: Record<string, string> = {
  project: 'default',
  upload: '0'.repeat(32),
  model: 'm',
  selector: 'latest',
  tag: 'prod',
  version: '1',
  digest: DIGEST,
  experiment: 'e',
  run: 'abcdef123456',
  name: 'loss',
  uuid: '00000000-0000-4000-8000-000000000000',
}

let srv: TestServer
const logs: string[] = []

beforeAll(async () => {
  srv = await startTestServer({limits: {...(await import('../../src/server/config.js')).defaultServerConfig().limits, headers_timeout_ms: 1500, idle_timeout_ms: 1500}}, (line) =>
    logs.push(line),
  )
})
afterAll(async () => {
  await srv?.close()
})

async function call(route: RouteSpec, token?: string, extra: {headers?: Record<string, string>; body?: string | Buffer} = {}) {
  const headers: Record<string, string> = {...extra.headers}
  if (token) headers.authorization = `Bearer ${token}`
  let body = extra.body
  if (body === undefined && route.kind === 'blob-upload') {
    body = 'sweep'
    headers['content-length'] = '5'
  } else if (body === undefined && route.kind === 'ndjson-upload') {
    body = '{"name": "x", "value": 1}\n'
    headers['content-type'] = 'application/x-ndjson'
  } else if (body === undefined && ['POST', 'PUT', 'PATCH'].includes(route.method)) {
    body = '{}'
    headers['content-type'] = 'application/json'
  }
  const response = await request(`${srv.url}${fillPath(route.path, PARAMS)}`, {method: route.method, headers, body})
  const text = route.method === 'HEAD' ? '' : await response.body.text()
  return {status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text)}
}

describe('authentication and scopes on every route', () => {
  it('every non-public route answers 401 without a token, and public ones answer 200', async () => {
    for (const route of ALL_ROUTES) {
      const r = await call(route)
      if (route.action === 'public') {
        expect(r.status, `${route.method} ${route.path}`).toBe(200)
      } else {
        expect(r.status, `${route.method} ${route.path}`).toBe(401)
        if (route.method !== 'HEAD') expect(r.json().error.code).toBe('unauthenticated')
      }
    }
    const bad = await call(ALL_ROUTES.find((r) => r.id === 'listProjects') as RouteSpec, 'mr_not-a-real-token-at-all-000000000000000000000')
    expect(bad.status).toBe(401)
  })

  it('a read token is refused (403) on every route that writes, a write token on every admin route', async () => {
    const read = await srv.token('read')
    const write = await srv.token('write')
    let checked = 0
    for (const route of ALL_ROUTES) {
      if (route.action === 'write' || route.action === 'admin') {
        const r = await call(route, read)
        expect(r.status, `${route.method} ${route.path}`).toBe(403)
        expect(r.json().error.code).toBe('permission_denied')
        checked++
      }
      if (route.action === 'admin') {
        expect((await call(route, write)).status, `${route.method} ${route.path}`).toBe(403)
      }
    }
    expect(checked).toBeGreaterThan(8)
  })

  it('a token limited to a project cannot touch another one', async () => {
    const admin = srv.adminToken
    const limited = await srv.token('write', 'credit')
    const json = (method: string, path: string, token: string, body?: unknown) =>
      request(`${srv.url}${path}`, {
        method: method as 'GET',
        headers: {authorization: `Bearer ${token}`, ...(body ? {'content-type': 'application/json'} : {})},
        body: body ? JSON.stringify(body) : undefined,
      }).then(async (r) => ({status: r.statusCode, body: await r.body.json().catch(() => null)}))
    expect((await json('POST', '/api/v1/projects/credit/models', limited, {name: 'ok'})).status).toBe(201)
    expect((await json('POST', '/api/v1/projects/other/models', limited, {name: 'no'})).status).toBe(403)
    expect((await json('GET', '/api/v1/projects/other/models', limited)).status).toBe(403)
    expect((await json('POST', '/api/v1/projects', limited, {name: 'other2'})).status).toBe(403)
    await json('POST', '/api/v1/projects/other/models', admin, {name: 'secret'})
    const projects = await json('GET', '/api/v1/projects', limited)
    expect((projects.body as {items: {name: string}[]}).items.map((p) => p.name)).toEqual(['credit'])
    const events = await json('GET', '/api/v1/events', limited)
    expect((events.body as {items: {project: string}[]}).items.every((e) => e.project === 'credit')).toBe(true)
    expect((await json('GET', '/api/v1/events?project=other', limited)).status).toBe(403)
    expect((await json('GET', `/api/v1/blobs/sha256/${DIGEST}?project=other`, limited)).status).toBe(403)
  })
})

describe('a project-limited token sees only its project\'s blobs', () => {
  /** Every route that takes a digest (in its path or its body), or a checkpoint whose files it would reach. */
  const DIGEST_ROUTES = new Set(['missingBlobs', 'storeBlob', 'createVersion', 'createCheckpoint', 'registerCheckpoint'])
  const send = async (method: string, path: string, token: string, body?: unknown, raw?: Buffer) => {
    const headers: Record<string, string> = {authorization: `Bearer ${token}`}
    if (raw) headers['content-length'] = String(raw.length)
    else if (body !== undefined) headers['content-type'] = 'application/json'
    const r = await request(`${srv.url}${path}`, {method: method as 'GET', headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body))})
    const text = method === 'HEAD' ? '' : await r.body.text()
    let json: any = null
    try {
      json = JSON.parse(text)
    } catch {}
    return {status: r.statusCode, text, json}
  }
  /** An answer with the digest (or uuid) blanked out: what a caller can learn from it. */
  const shape = (r: {status: number; text: string}, ...secrets: string[]) => {
    let text = r.text
    for (const s of secrets) text = text.split(s).join('<X>')
    return `${r.status} ${text}`
  }

  it('every digest-taking route answers for another project\'s blob exactly as for a missing one, until the bytes are uploaded', async () => {
    const admin = srv.adminToken
    const secret = Buffer.from('team-b weights: not for team-a')
    const B = sha(secret)
    const absent = Buffer.from('bytes nobody ever uploaded, of the same length!')
    const X = sha(absent)
    const U = '00000000-0000-4000-8000-0000000000ff'
    // team-b holds the blob, in a version and in a checkpoint.
    expect((await send('PUT', `/api/v1/blobs/sha256/${B}`, admin, undefined, secret)).status).toBe(201)
    const file = (digest: string, size = secret.length) => ({author: 'test', files: [{path: 'w.bin', size, sha256: digest, mode: 0o644}]})
    expect((await send('POST', '/api/v1/projects/team-b/models/secret/versions', admin, file(B))).status).toBe(201)
    const runB = (await send('POST', '/api/v1/projects/team-b/runs', admin, {experiment: 'e', author: 'test'})).json.id
    const checkpointB = (await send('POST', `/api/v1/runs/${runB}/checkpoints`, admin, file(B))).json.uuid
    expect(checkpointB, JSON.stringify(runB)).toMatch(/^[0-9a-f-]{36}$/)

    const a = await srv.token('write', 'team-a')
    const checked = new Set<string>()
    const same = async (id: string, probe: (digest: string) => Promise<{status: number; text: string}>, expectStatus: number) => {
      const hidden = await probe(B)
      const missing = await probe(X)
      expect(hidden.status, id).toBe(expectStatus)
      expect(shape(hidden, B), id).toBe(shape(missing, X))
      checked.add(id)
    }
    expect((await send('POST', '/api/v1/blobs/missing', a, {digests: [B, X]})).json).toEqual([B, X])
    checked.add('missingBlobs')
    await same('headBlob', (d) => send('HEAD', `/api/v1/blobs/sha256/${d}?project=team-a`, a), 404)
    await same('openBlob', (d) => send('GET', `/api/v1/blobs/sha256/${d}?project=team-a`, a), 404)
    await same('blobDownloadUrl', (d) => send('GET', `/api/v1/blobs/sha256/${d}/url?project=team-a`, a), 404)
    // Presigned uploads are off on a directory store: "send it to the server", whatever the blob.
    await same('blobUploadUrl', (d) => send('POST', `/api/v1/blobs/sha256/${d}/uploads`, a, {size: secret.length}), 200)
    expect((await send('POST', `/api/v1/blobs/sha256/${B}/uploads`, a, {size: secret.length})).json).toEqual({url: null})
    await same('commitBlobUpload', (d) => send('POST', `/api/v1/blobs/sha256/${d}/uploads/${'0'.repeat(32)}`, a, {size: secret.length}), 400)
    // A manifest naming it, with the right size or a wrong one (which must not reveal the real size).
    await same('createVersion', (d) => send('POST', '/api/v1/projects/team-a/models/m/versions', a, file(d)), 400)
    await same('createVersion', (d) => send('POST', '/api/v1/projects/team-a/models/m/versions', a, file(d, 3)), 400)
    const runA = (await send('POST', '/api/v1/projects/team-a/runs', a, {experiment: 'e', author: 'test'})).json.id
    await same('createCheckpoint', (d) => send('POST', `/api/v1/runs/${runA}/checkpoints`, a, file(d)), 400)
    // Another project's checkpoint is not there for it either.
    const register = (uuid: string) => send('POST', '/api/v1/projects/team-a/models/m/register', a, {checkpoint: uuid, author: 'test'})
    expect(shape(await register(checkpointB), checkpointB)).toBe(shape(await register(U), U))
    expect((await register(checkpointB)).status).toBe(404)
    checked.add('registerCheckpoint')
    // Wrong bytes under its digest prove nothing: refused, and the blob stays out of view.
    const forged = Buffer.alloc(secret.length, 'x')
    expect((await send('PUT', `/api/v1/blobs/sha256/${B}`, a, undefined, forged)).status).toBe(422)
    expect((await send('POST', '/api/v1/blobs/missing', a, {digests: [B]})).json).toEqual([B])
    // The bytes themselves: now team-a has the blob too (stored once, not twice).
    const put = await send('PUT', `/api/v1/blobs/sha256/${B}`, a, undefined, secret)
    expect([put.status, put.json]).toEqual([200, {digest: B, size: secret.length, stored: false}])
    checked.add('putBlob')
    expect((await send('POST', '/api/v1/blobs/missing', a, {digests: [B]})).json).toEqual([])
    expect((await send('POST', '/api/v1/projects/team-a/models/m/versions', a, file(B))).status).toBe(201)
    const got = await send('GET', `/api/v1/blobs/sha256/${B}?project=team-a`, a)
    expect([got.status, got.text]).toEqual([200, secret.toString()])
    // Uploading without knowing the digest proves it the same way (a third project).
    const c = await srv.token('write', 'team-c')
    expect((await send('POST', '/api/v1/blobs/missing', c, {digests: [B]})).json).toEqual([B])
    const stored = await send('POST', '/api/v1/blobs', c, undefined, secret)
    expect([stored.status, stored.json]).toEqual([200, {digest: B, size: secret.length, stored: false}])
    checked.add('storeBlob')
    expect((await send('POST', '/api/v1/blobs/missing', c, {digests: [B]})).json).toEqual([])
    // A token for all projects sees every blob.
    expect((await send('POST', '/api/v1/blobs/missing', await await srv.token('write'), {digests: [B, X]})).json).toEqual([X])

    const digestRoutes = ALL_ROUTES.filter((r) => r.path.includes('{digest}') || DIGEST_ROUTES.has(r.id)).map((r) => r.id)
    expect([...checked].sort()).toEqual([...new Set(digestRoutes)].sort())
  })
})

describe('hostile requests', () => {
  const route = (id: string) => ALL_ROUTES.find((r) => r.id === id) as RouteSpec

  it('refuses an oversized JSON body with 413 and stays up', async () => {
    const big = JSON.stringify({name: 'x', description: 'y'.repeat(2 * 1024 * 1024)})
    const r = await call(route('createModel'), srv.adminToken, {body: big, headers: {'content-type': 'application/json'}})
    expect(r.status).toBe(413)
    expect(r.json().error.code).toBe('payload_too_large')
    expect((await call(route('healthz'))).status).toBe(200)
  })

  it('refuses deeply nested JSON and malformed JSON with 400', async () => {
    const deep = `{"name": "d", "metadata": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`
    let r = await call(route('createModel'), srv.adminToken, {body: deep, headers: {'content-type': 'application/json'}})
    expect(r.status).toBe(400)
    expect(r.json().error.message).toMatch(/nested too deeply/)
    r = await call(route('createModel'), srv.adminToken, {body: '{"name": ', headers: {'content-type': 'application/json'}})
    expect(r.status).toBe(400)
    r = await call(route('createModel'), srv.adminToken, {body: 'name=x', headers: {'content-type': 'application/x-www-form-urlencoded'}})
    expect(r.status).toBe(400)
    // Metric points, line by line: a deep line is refused by its number, before it is parsed.
    const run = await srv.server.backend.createRun('default', {experiment: 'deep', author: 'test'})
    const ndjson = `{"name": "a", "value": 1}\n\n{"name": "b", "value": 2, "x": ${'['.repeat(1000)}${']'.repeat(1000)}}\n`
    const lines = await request(`${srv.url}/api/v1/runs/${run.id}/metrics`, {
      method: 'POST',
      headers: {authorization: `Bearer ${srv.adminToken}`, 'content-type': 'application/x-ndjson'},
      body: ndjson,
    })
    expect(lines.statusCode).toBe(400)
    expect(((await lines.body.json()) as {error: {message: string}}).error.message).toBe('line 3: nested too deeply')
    expect((await call(route('healthz'))).status).toBe(200)
  })

  it('refuses cross-origin requests and foreign Host names (DNS rebinding)', async () => {
    let r = await call(route('createModel'), srv.adminToken, {
      body: '{"name": "csrf"}',
      headers: {'content-type': 'application/json', origin: 'https://evil.example'},
    })
    expect(r.status).toBe(403)
    expect(r.json().error.message).toMatch(/cross-origin/)
    r = await call(route('listProjects'), srv.adminToken, {headers: {host: 'evil.example'}})
    expect(r.status).toBe(403)
    r = await call(route('listProjects'), srv.adminToken, {headers: {host: `localhost:${srv.server.port}`}})
    expect(r.status).toBe(200)
    const models = await call(route('listModels'), srv.adminToken)
    expect(models.json().items.map((m: {name: string}) => m.name)).not.toContain('csrf')
  })

  it('refuses oversized headers (431) and stays up', async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(srv.server.port, '127.0.0.1')
      let got = ''
      socket.on('data', (c) => (got += c))
      socket.on('close', () => resolve(got))
      socket.on('error', () => resolve(got))
      socket.write(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`)
    })
    expect(answer).toMatch(/^HTTP\/1.1 431 /)
    expect((await call(route('healthz'))).status).toBe(200)
  })

  it('sends security headers on every response, errors included', async () => {
    for (const r of [await call(route('healthz')), await call(route('listProjects')), await call(route('listProjects'), srv.adminToken)]) {
      expect(r.headers['x-content-type-options']).toBe('nosniff')
      expect(r.headers['x-frame-options']).toBe('DENY')
      expect(r.headers['content-security-policy']).toContain("default-src 'none'")
      expect(r.headers['cache-control']).toBe('no-store')
    }
  })

  it('answers unknown routes with 404 and wrong methods with 405, in the error envelope', async () => {
    let r = await request(`${srv.url}/api/v1/nope`, {headers: {authorization: `Bearer ${srv.adminToken}`}})
    expect(r.statusCode).toBe(404)
    expect(((await r.body.json()) as {error: {code: string}}).error.code).toBe('not_found')
    r = await request(`${srv.url}/api/v1/projects`, {method: 'DELETE', headers: {authorization: `Bearer ${srv.adminToken}`}})
    expect(r.statusCode).toBe(405)
    expect(r.headers.allow).toBe('GET, POST')
    await r.body.dump()
    // Dot segments are not resolved: they reach the engine as names, and are refused there.
    const client = new Client(srv.url)
    for (const path of ['/api/v1/projects/default/models/..', '/api/v1/projects/default/models/%2e%2e%2f%2e%2e', '/api/v1/projects/../models']) {
      const raw = await client.request({method: 'GET', path, headers: {authorization: `Bearer ${srv.adminToken}`}})
      expect(raw.statusCode, path).toBe(400)
      expect(((await raw.body.json()) as {error: {code: string}}).error.code).toBe('invalid_argument')
    }
    await client.close()
  })

  it('a blob whose bytes do not match its digest is refused (422) and leaves nothing behind', async () => {
    const claimed = sha('the real content')
    const r = await request(`${srv.url}/api/v1/blobs/sha256/${claimed}`, {
      method: 'PUT',
      headers: {authorization: `Bearer ${srv.adminToken}`, 'content-length': '16'},
      body: 'fake content!!!!',
    })
    expect(r.statusCode).toBe(422)
    expect(((await r.body.json()) as {error: {code: string}}).error.code).toBe('integrity')
    expect(existsSync((srv.server.backend.blobs as BlobStore).pathOf(claimed))).toBe(false)
    const tmp = join(srv.dataDir, 'tmp')
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([])
    const bad = await request(`${srv.url}/api/v1/blobs/sha256/not-a-digest`, {
      method: 'PUT',
      headers: {authorization: `Bearer ${srv.adminToken}`, 'content-length': '1'},
      body: 'x',
    })
    expect(bad.statusCode).toBe(400)
    await bad.body.dump()
  })

  it('serves Range requests, and refuses ranges outside the blob', async () => {
    const data = Buffer.from('0123456789')
    const put = await request(`${srv.url}/api/v1/blobs/sha256/${sha(data)}`, {
      method: 'PUT',
      headers: {authorization: `Bearer ${srv.adminToken}`, 'content-length': '10'},
      body: data,
    })
    expect(put.statusCode).toBe(201)
    await put.body.dump()
    const auth = {authorization: `Bearer ${srv.adminToken}`}
    let r = await request(`${srv.url}/api/v1/blobs/sha256/${sha(data)}`, {headers: {...auth, range: 'bytes=4-'}})
    expect(r.statusCode).toBe(206)
    expect(r.headers['content-range']).toBe('bytes 4-9/10')
    expect(await r.body.text()).toBe('456789')
    r = await request(`${srv.url}/api/v1/blobs/sha256/${sha(data)}`, {headers: {...auth, range: 'bytes=20-'}})
    expect(r.statusCode).toBe(416)
    expect(r.headers['content-range']).toBe('bytes */10')
    await r.body.dump()
    r = await request(`${srv.url}/api/v1/blobs/sha256/${sha(data)}`, {method: 'HEAD', headers: auth})
    expect(r.statusCode).toBe(200)
    expect(r.headers['content-length']).toBe('10')
    await r.body.dump()
  })

  it('cuts off a client that drips its headers, but not an upload that keeps moving', async () => {
    // Slowloris: a byte of header every 400 ms never completes within headers_timeout (1.5 s).
    const closedAfter = await new Promise<number>((resolve) => {
      const started = Date.now()
      const socket = connect(srv.server.port, '127.0.0.1')
      const header = `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'a'.repeat(40)}`
      let i = 0
      const timer = setInterval(() => {
        if (i < header.length && !socket.destroyed) socket.write(header[i++])
      }, 400)
      socket.on('close', () => {
        clearInterval(timer)
        resolve(Date.now() - started)
      })
      socket.on('error', () => {})
      socket.resume() // read (and drop) whatever the server answers, so its close reaches us
    })
    expect(closedAfter).toBeLessThan(10_000)
    // A 3-second upload, a chunk every 250 ms: longer than every timeout, yet it completes.
    const chunks = Array.from({length: 12}, (_, i) => Buffer.alloc(1000, i))
    const data = Buffer.concat(chunks)
    const slow = Readable.from(
      (async function* () {
        for (const chunk of chunks) {
          await new Promise((resolve) => setTimeout(resolve, 250))
          yield chunk
        }
      })(),
    )
    const r = await request(`${srv.url}/api/v1/blobs/sha256/${sha(data)}`, {
      method: 'PUT',
      headers: {authorization: `Bearer ${srv.adminToken}`, 'content-length': String(data.length)},
      body: slow,
    })
    expect(r.statusCode).toBe(201)
    await r.body.dump()
  })

  it('logs what the client got: an upload stalled until the idle timeout is "timeout", one the client drops is "aborted", never 200', async () => {
    // Content-Length 1000, 10 bytes sent, then silence: the idle timeout (1.5 s) closes it.
    const stalled = async (hangUp: boolean) => {
      const digest = sha(hangUp ? 'dropped' : 'stalled')
      const received = await new Promise<string>((resolve) => {
        const socket = connect(srv.server.port, '127.0.0.1')
        let got = ''
        socket.on('data', (c) => (got += c))
        socket.on('error', () => {})
        socket.on('close', () => resolve(got))
        socket.write(
          `PUT /api/v1/blobs/sha256/${digest} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${srv.adminToken}\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(10)}`,
        )
        if (hangUp) setTimeout(() => socket.destroy(), 300)
      })
      // The line is written when the server sees the close; give it a moment.
      for (let i = 0; i < 50 && !logs.some((l) => l.includes(' PUT /api/v1/blobs/sha256/{digest} ') && l.endsWith(' admin') && l.includes(hangUp ? 'aborted' : 'timeout')); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      return received
    }
    const before = logs.length
    expect(await stalled(false)).toBe('') // the client got no response at all
    expect(await stalled(true)).toBe('')
    const lines = logs.slice(before).filter((l) => l.includes(' PUT /api/v1/blobs/sha256/{digest} '))
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^\S+Z PUT \/api\/v1\/blobs\/sha256\/\{digest\} timeout \d+\.\dms admin$/)
    expect(Number(/ (\d+\.\d)ms /.exec(lines[0])?.[1])).toBeGreaterThanOrEqual(1400)
    expect(lines[1]).toMatch(/^\S+Z PUT \/api\/v1\/blobs\/sha256\/\{digest\} aborted \d+\.\dms admin$/)
    const metrics = await request(`${srv.url}/metrics`, {headers: {authorization: `Bearer ${srv.adminToken}`}})
    const text = await metrics.body.text()
    expect(text).toMatch(/^modelreg_http_requests_total\{route="\/api\/v1\/blobs\/sha256\/\{digest\}",method="PUT",status="timeout"\} 1$/m)
  })

  it('logs one line per request with the route template, never a token', async () => {
    const lines = logs.join('\n')
    expect(lines).toMatch(/ GET \/api\/v1\/projects 200 \d+\.\dms admin/)
    expect(lines).toMatch(/ PUT \/api\/v1\/blobs\/sha256\/\{digest\} 422 /)
    expect(lines).not.toContain(srv.adminToken)
    expect(lines).not.toContain('mr_')
  })
})

describe('operations', () => {
  it('/healthz is public; /metrics needs a token and counts requests, latency, bytes and blobs', async () => {
    const health = await request(`${srv.url}/healthz`)
    expect(await health.body.json()).toEqual({status: 'ok'})
    const metrics = await request(`${srv.url}/metrics`, {headers: {authorization: `Bearer ${srv.adminToken}`}})
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0.0.4/)
    const text = await metrics.body.text()
    expect(text).toMatch(/^modelreg_http_requests_total\{route="\/healthz",method="GET",status="200"\} \d+$/m)
    expect(text).toMatch(/^modelreg_http_request_duration_seconds_bucket\{route="\/healthz",method="GET",le="\+Inf"\} \d+$/m)
    expect(text).toMatch(/^modelreg_http_received_bytes_total \d+$/m)
    expect(text).toMatch(/^modelreg_http_sent_bytes_total [1-9]\d*$/m)
    expect(text).toMatch(/^modelreg_blobs \d+$/m)
    expect(text).toMatch(/^modelreg_blob_bytes \d+$/m)
  })

  it('serves an OpenAPI 3.1 document that matches the routes the server really answers', async () => {
    const doc = (await (await request(`${srv.url}/api/v1/openapi.json`)).body.json()) as {
      openapi: string
      paths: Record<string, Record<string, {operationId: string; security: unknown[]}>>
    }
    expect(doc.openapi).toBe('3.1.0')
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
    expect(documented.sort()).toEqual(ALL_ROUTES.map((r) => `${r.method} ${r.path}`).sort())
    // Every documented operation is routed by the real server (never 404 "no such route" or 405).
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const r = await request(`${srv.url}${fillPath(path, PARAMS)}`, {method: method.toUpperCase() as 'GET'})
        const text = method === 'head' ? '' : await r.body.text()
        expect(r.statusCode, `${method} ${path}`).not.toBe(405)
        expect(text, `${method} ${path}`).not.toContain('no such API route')
        if (method === 'head') await r.body.dump()
      }
    }
    // And an undocumented path is not.
    const r = await request(`${srv.url}/api/v1/undocumented`)
    expect(r.statusCode).toBe(404)
    await r.body.dump()
  })
})

describe('what the server keeps in memory never goes stale', () => {
  const get = async (path: string, token: string) => {
    const r = await request(`${srv.url}${path}`, {headers: {authorization: `Bearer ${token}`}})
    return {status: r.statusCode, json: (await r.body.json()) as Record<string, unknown>}
  }

  it('a token revoked by another process is refused on the very next request', async () => {
    const token = await srv.token('read', null, 'soon-revoked')
    expect((await get('/api/v1/projects', token)).status).toBe(200)
    expect((await get('/api/v1/projects', token)).status).toBe(200) // now answered from memory
    const {TokenStore} = await import('../../src/server/tokens.js')
    const other = TokenStore.inDirectory(srv.dataDir) // its own connection, as `server tokens revoke` would have
    try {
      await other.revoke('soon-revoked')
    } finally {
      await other.close()
    }
    expect((await get('/api/v1/projects', token)).status).toBe(401)
  })

  it('reads see changes made through the server and by other processes on the data directory', async () => {
    const token = srv.adminToken
    const {LocalBackend} = await import('../../src/backends/local/local-backend.js')
    await srv.server.backend.createModel('default', 'cached', {description: 'first'})
    const path = '/api/v1/projects/default/models/cached'
    expect((await get(path, token)).json.description).toBe('first')
    expect((await get(path, token)).json.description).toBe('first')
    // Through the server.
    const patched = await request(`${srv.url}${path}`, {
      method: 'PATCH',
      headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json'},
      body: JSON.stringify({description: 'second'}),
    })
    expect(patched.statusCode).toBe(200)
    await patched.body.dump()
    expect((await get(path, token)).json.description).toBe('second')
    // By another process: a connection of its own on the same database.
    const other = new LocalBackend({home: srv.dataDir, actor: 'cli'})
    try {
      await other.updateModel('default', 'cached', {description: 'third'})
    } finally {
      await other.close()
    }
    expect((await get(path, token)).json.description).toBe('third')
    expect((await get('/api/v1/projects/default/models?limit=500', token)).json.items).toEqual(
      expect.arrayContaining([expect.objectContaining({name: 'cached', description: 'third'})]),
    )
  })
})
