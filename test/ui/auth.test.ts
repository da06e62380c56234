/** Sign-in for the UI: the login form, the cookie's attributes, what the cookie may do on the API, project limits, and the bundle's files. */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startTestServer, type TestServer} from '../helpers/server.js'
import {tempDir} from '../helpers/tmp.js'
import {seed, type Seeded} from './seed.js'

let srv: TestServer
let data: Seeded
const assetDir = join(tempDir('modelreg-ui-assets-'), 'assets')

beforeAll(async () => {
  mkdirSync(assetDir, {recursive: true})
  writeFileSync(join(assetDir, 'app.js'), 'export const x = 1\n')
  writeFileSync(join(assetDir, 'app.css'), '.mr-chart { min-height: 10rem }\n')
  process.env.MODELREG_UI_ASSETS = assetDir
  srv = await startTestServer()
  delete process.env.MODELREG_UI_ASSETS
  data = await seed(srv.server.backend)
})
afterAll(async () => {
  await srv?.close()
})

async function call(path: string, init: {method?: string; headers?: Record<string, string>; body?: string} = {}) {
  const r = await request(`${srv.url}${path}`, {method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body})
  const text = await r.body.text()
  return {status: r.statusCode, headers: r.headers, text}
}

async function login(token: string, next = '/', headers: Record<string, string> = {}) {
  return call('/login', {
    method: 'POST',
    headers: {'content-type': 'application/x-www-form-urlencoded', ...headers},
    body: new URLSearchParams({token, next}).toString(),
  })
}

function cookieOf(setCookie: string | string[] | undefined): string {
  const header = Array.isArray(setCookie) ? setCookie[0] : (setCookie as string)
  return header.split(';')[0]
}

describe('sign-in', () => {
  it('shows the login form (a page: 200) instead of any page without a cookie, and with a bad one', async () => {
    for (const path of ['/', '/projects/vision', `/runs/${data.runA}`, '/events']) {
      for (const headers of [{}, {cookie: 'modelreg_session=mr_not-a-real-token-at-all-000000000000000000000'}] as Record<string, string>[]) {
        const r = await call(path, {headers})
        expect(r.status, path).toBe(200)
        expect(r.text).toContain('id="mr-login-form"')
        expect(r.text).not.toContain('resnet')
        expect(r.headers['content-security-policy']).toMatch(/^default-src 'none'; script-src 'self'/)
        // Not no-referrer: under it a browser posts the form with `Origin: null`, which is refused.
        expect(r.headers['referrer-policy']).toBe('same-origin')
      }
    }
  })

  it('a token posted to /login is exchanged for an HttpOnly, SameSite=Strict, Path=/ cookie, then pages open', async () => {
    const token = await srv.token('read')
    const r = await login(token, '/projects/vision')
    expect(r.status).toBe(303)
    expect(r.headers.location).toBe('/projects/vision')
    const setCookie = String(r.headers['set-cookie'])
    expect(setCookie).toMatch(/^modelreg_session=mr_[A-Za-z0-9_-]+; /)
    expect(setCookie).toContain('HttpOnly')
    expect(setCookie).toContain('SameSite=Strict')
    expect(setCookie).toContain('Path=/')
    expect(setCookie).not.toContain('Secure') // plain HTTP here; Secure is added with TLS
    expect(r.headers.location).not.toContain(token)
    const page = await call('/projects/vision', {headers: {cookie: cookieOf(r.headers['set-cookie'])}})
    expect(page.status).toBe(200)
    expect(page.text).toContain('resnet')
    expect(page.text).not.toContain(token)
  })

  it('a wrong token gets the form again with its message and no cookie; an off-site next is ignored', async () => {
    const bad = await login('mr_not-a-real-token-at-all-000000000000000000000')
    expect(bad.status).toBe(200)
    expect(bad.headers['set-cookie']).toBeUndefined()
    expect(bad.text).toContain('id="mr-login-error"')
    const token = await srv.token('read')
    for (const next of ['//evil.example/', 'https://evil.example/', '/\\evil.example']) {
      const r = await login(token, next)
      expect(r.headers.location, next).toBe('/')
    }
  })

  it('refuses a login posted from another site (Origin or Sec-Fetch-Site), accepts its own origin', async () => {
    const token = await srv.token('read')
    const foreign = await login(token, '/', {origin: 'https://evil.example'})
    expect(foreign.status).toBe(403)
    expect(foreign.headers['set-cookie']).toBeUndefined()
    const crossSite = await login(token, '/', {'sec-fetch-site': 'cross-site'})
    expect(crossSite.status).toBe(403)
    expect(crossSite.headers['set-cookie']).toBeUndefined()
    const own = await login(token, '/', {origin: srv.url, 'sec-fetch-site': 'same-origin'})
    expect(own.status).toBe(303)
  })

  it('logout clears the cookie', async () => {
    const r = await call('/logout', {method: 'POST', headers: {cookie: 'modelreg_session=x'}})
    expect(r.status).toBe(303)
    expect(r.headers.location).toBe('/login')
    expect(String(r.headers['set-cookie'])).toMatch(/^modelreg_session=; .*Max-Age=0/)
  })

  it('a revoked token no longer opens pages', async () => {
    const token = await srv.token('read', null, 'short-lived')
    const cookie = cookieOf((await login(token)).headers['set-cookie'])
    expect((await call('/', {headers: {cookie}})).status).toBe(200)
    await srv.server.tokens.revoke('short-lived')
    const after = await call('/', {headers: {cookie}})
    expect(after.status).toBe(200)
    expect(after.text).toContain('id="mr-login-form"')
    expect(after.text).not.toContain('vision')
  })
})

describe('the cookie on the API', () => {
  it('works for GET and HEAD, as the token would', async () => {
    const cookie = cookieOf((await login(await srv.token('read'))).headers['set-cookie'])
    const models = await call('/api/v1/projects/vision/models', {headers: {cookie}})
    expect(models.status).toBe(200)
    expect(JSON.parse(models.text).items.map((m: {name: string}) => m.name)).toContain('resnet')
    const metrics = await call(`/api/v1/runs/${data.runA}/metrics?name=loss`, {headers: {cookie}})
    expect(metrics.status).toBe(200)
    expect(metrics.text.trim().split('\n')).toHaveLength(20)
    const blob = await call(`/api/v1/blobs/sha256/${data.digest}?project=vision`, {headers: {cookie}})
    expect(blob.status).toBe(200)
    expect(blob.text).toBe('weights v1\n')
    const head = await call(`/api/v1/blobs/sha256/${data.digest}?project=vision`, {method: 'HEAD', headers: {cookie}})
    expect(head.status).toBe(200)
  })

  it('never authorizes a change, whatever the token behind it may do', async () => {
    const cookie = cookieOf((await login(srv.adminToken)).headers['set-cookie'])
    const create = await call('/api/v1/projects', {method: 'POST', headers: {cookie, 'content-type': 'application/json'}, body: '{"name": "made-by-cookie"}'})
    expect(create.status).toBe(401)
    const tag = await call('/api/v1/projects/vision/models/resnet/tags/hacked', {method: 'PUT', headers: {cookie, 'content-type': 'application/json'}, body: '{"selector": "1"}'})
    expect(tag.status).toBe(401)
    const del = await call('/api/v1/projects/vision/models/resnet', {method: 'DELETE', headers: {cookie}})
    expect(del.status).toBe(401)
    expect((await srv.server.backend.getModel('vision', 'resnet')).name).toBe('resnet')
  })

  it('is refused without a valid cookie', async () => {
    const r = await call('/api/v1/projects', {headers: {cookie: 'modelreg_session=nope'}})
    expect(r.status).toBe(401)
  })
})

describe('a project-limited token', () => {
  it('sees only its project, on pages and on the API', async () => {
    const cookie = cookieOf((await login(await srv.token('read', 'vision'))).headers['set-cookie'])
    const projects = await call('/', {headers: {cookie}})
    expect(projects.status).toBe(200)
    expect(projects.text).toContain('/projects/vision')
    expect(projects.text).not.toContain('/projects/other')
    for (const path of ['/projects/other', '/projects/other/models/secret', '/projects/other/models/secret/versions/1', '/projects/other/runs', '/events?project=other']) {
      const r = await call(path, {headers: {cookie}})
      expect(r.status, path).toBe(403)
      expect(r.text).not.toContain('other project')
    }
    const otherRun = (await srv.server.backend.listRuns('other')).items[0].id
    expect((await call(`/runs/${otherRun}`, {headers: {cookie}})).status).toBe(403)
    const events = await call('/events', {headers: {cookie}})
    expect(events.status).toBe(200)
    expect(events.text).not.toContain('secret')
    expect((await call('/api/v1/projects/other/models', {headers: {cookie}})).status).toBe(403)
    expect((await call('/projects/vision/models/resnet', {headers: {cookie}})).status).toBe(200)
  })
})

describe('the bundle', () => {
  it('pages link app.js and app.css by content hash; they are served with the right types', async () => {
    const cookie = cookieOf((await login(await srv.token('read'))).headers['set-cookie'])
    const page = await call('/', {headers: {cookie}})
    const js = /<script type="module" src="(\/assets\/app\.js\?v=[0-9a-f]{16})"><\/script>/.exec(page.text)?.[1]
    const css = /<link rel="stylesheet" href="(\/assets\/app\.css\?v=[0-9a-f]{16})">/.exec(page.text)?.[1]
    expect(js).toBeDefined()
    expect(css).toBeDefined()
    const jsFile = await call(js as string)
    expect(jsFile.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(jsFile.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(jsFile.text).toBe('export const x = 1\n')
    const cssFile = await call(css as string)
    expect(cssFile.headers['content-type']).toBe('text/css; charset=utf-8')
  })
})
