/** A personal server (`server start --no-auth` on loopback) and a missing bundle: pages open without sign-in and work without JavaScript. */
import {request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startTestServer, type TestServer} from '../helpers/server.js'
import {tempDir} from '../helpers/tmp.js'
import {seed} from './seed.js'

let srv: TestServer

beforeAll(async () => {
  process.env.MODELREG_UI_ASSETS = tempDir('modelreg-ui-no-bundle-')
  srv = await startTestServer({auth: {enabled: false}})
  delete process.env.MODELREG_UI_ASSETS
  await seed(srv.server.backend)
})
afterAll(async () => {
  await srv?.close()
})

describe('without auth and without the bundle', () => {
  it('pages open without a cookie, with no sign-out button and no link to a missing bundle', async () => {
    const r = await request(`${srv.url}/projects/vision/models/resnet`)
    const text = await r.body.text()
    expect(r.statusCode).toBe(200)
    expect(text).toContain('id="mr-versions"')
    expect(text).toContain('id="mr-version-metric"') // the chart's values, as a table
    expect(text).not.toContain('mr-logout')
    expect(text).not.toContain('/assets/app.js')
    expect(text).not.toContain('/assets/app.css')
    expect(text).toContain('/assets/base.css?v=')
    const missing = await request(`${srv.url}/assets/app.js`)
    expect(missing.statusCode).toBe(404)
    await missing.body.text()
  })

  it('HEAD answers like GET, without a body', async () => {
    const r = await request(`${srv.url}/projects/vision`, {method: 'HEAD'})
    expect(r.statusCode).toBe(200)
    expect(r.headers['content-security-policy']).toMatch(/^default-src 'none'/)
    expect(await r.body.text()).toBe('')
  })

  it('/login goes straight to the pages', async () => {
    const r = await request(`${srv.url}/login?next=/events`)
    expect(r.statusCode).toBe(303)
    expect(r.headers.location).toBe('/events')
    await r.body.text()
  })
})
