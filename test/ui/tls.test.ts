/** Over HTTPS the sign-in cookie is also Secure. */
import {execFileSync} from 'node:child_process'
import {join} from 'node:path'
import {Agent, request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startTestServer, type TestServer} from '../helpers/server.js'
import {tempDir} from '../helpers/tmp.js'

let srv: TestServer
const agent = new Agent({connect: {rejectUnauthorized: false}})

beforeAll(async () => {
  const dir = tempDir('modelreg-ui-tls-')
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], {stdio: 'ignore'})
  srv = await startTestServer({tls: {cert, key}})
})
afterAll(async () => {
  await srv?.close()
  await agent.close()
})

describe('sign-in over TLS', () => {
  it('sets a Secure cookie, and accepts the https origin of the server itself', async () => {
    expect(srv.url).toMatch(/^https:/)
    const token = await srv.token('read')
    const r = await request(`${srv.url}/login`, {
      method: 'POST',
      dispatcher: agent,
      headers: {'content-type': 'application/x-www-form-urlencoded', origin: srv.url},
      body: new URLSearchParams({token, next: '/'}).toString(),
    })
    await r.body.text()
    expect(r.statusCode).toBe(303)
    expect(String(r.headers['set-cookie'])).toMatch(/; HttpOnly; SameSite=Strict; Secure$/)
    const page = await request(`${srv.url}/`, {dispatcher: agent, headers: {cookie: String(r.headers['set-cookie']).split(';')[0]}})
    await page.body.text()
    expect(page.statusCode).toBe(200)
    expect(page.headers['strict-transport-security']).toBeDefined()
  })
})
