/** `modelreg ui` as a user runs it: a loopback URL whose one-time code signs in once. */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {request} from 'undici'
import {describe, expect, it} from 'vitest'
import {canOpenBrowser} from '../../src/commands/ui.js'
import {BIN, makeCliEnv, runCli} from '../helpers/cli.js'
import {startTestServer} from '../helpers/server.js'
import {seed} from './seed.js'

describe('modelreg ui', () => {
  it('prints a loopback URL whose one-time code is exchanged for the cookie once, then stops on SIGTERM', async () => {
    const env = makeCliEnv()
    const push = await runCli(env, ['models', 'create', 'demo', '--description', 'made for the ui'])
    expect(push.code).toBe(0)
    const child = spawn(process.execPath, [BIN, 'ui', '--no-open', '--json'], {cwd: env.cwd, env: {...env.env, DISPLAY: ':0'}, stdio: ['ignore', 'pipe', 'pipe']})
    let err = ''
    child.stderr.on('data', (c) => (err += c))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    const banner = await new Promise<{url: string; base_url: string; home: string; opened: boolean}>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (c) => {
        out += c
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]))
      })
      child.on('exit', (code) => reject(new Error(`ui exited with ${code}: ${err}`)))
    })
    try {
      expect(banner.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/login\?once=[A-Za-z0-9_-]{32}$/)
      expect(banner.opened).toBe(false)
      expect(banner.home).toBe(env.home)
      const first = await request(banner.url)
      const firstText = await first.body.text()
      expect(first.statusCode).toBe(200)
      expect(firstText).toContain('<meta http-equiv="refresh" content="0;url=/">')
      const setCookie = String(first.headers['set-cookie'])
      expect(setCookie).toMatch(/^modelreg_session=ms_[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Strict$/)
      const cookie = setCookie.split(';')[0]
      const page = await request(`${banner.base_url}/projects/default`, {headers: {cookie}})
      expect(page.statusCode).toBe(200)
      expect(await page.body.text()).toContain('made for the ui')
      const api = await request(`${banner.base_url}/api/v1/projects/default/models`, {headers: {cookie}})
      expect(api.statusCode).toBe(200)
      await api.body.text()
      const again = await request(banner.url)
      expect(again.statusCode).toBe(200)
      expect(again.headers['set-cookie']).toBeUndefined()
      expect(await again.body.text()).toContain('already used')
      const without = await request(`${banner.base_url}/`)
      expect(without.statusCode).toBe(200)
      const withoutText = await without.body.text()
      expect(withoutText).toContain('id="mr-login-hint"')
      expect(withoutText).not.toContain('id="mr-login-form"') // no token database to check a token against
      // The token database the server code needs is not left in the user's store.
      expect(existsSync(join(env.home, 'tokens.db'))).toBe(false)
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
  })

  it('opens a browser only on a desktop, never in CI', () => {
    expect(canOpenBrowser({DISPLAY: ':0'}, 'linux')).toBe(true)
    expect(canOpenBrowser({WAYLAND_DISPLAY: 'wayland-0'}, 'linux')).toBe(true)
    expect(canOpenBrowser({}, 'linux')).toBe(false)
    expect(canOpenBrowser({}, 'darwin')).toBe(true)
    expect(canOpenBrowser({CI: 'true', DISPLAY: ':0'}, 'linux')).toBe(false)
    expect(canOpenBrowser({CI: '1'}, 'darwin')).toBe(false)
  })

  it('has --help with examples', async () => {
    const r = await runCli(makeCliEnv(), ['ui', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('--no-open')
    expect(r.stdout).toContain('EXAMPLES')
  })
})

describe('--url on models show and runs show', () => {
  it('prints the page of the version (by number) and of the run on the server in use', async () => {
    const srv = await startTestServer()
    try {
      const data = await seed(srv.server.backend)
      const env = makeCliEnv({MODELREG_URL: srv.url, MODELREG_TOKEN: srv.adminToken})
      const version = await runCli(env, ['models', 'show', 'vision/resnet:prod', '--url'])
      expect(version.code, version.stderr).toBe(0)
      expect(version.stdout.trim()).toBe(`${srv.url}/projects/vision/models/resnet/versions/2`)
      const run = await runCli(env, ['runs', 'show', data.runA.slice(0, 8), '--web', '--json'])
      expect(run.code, run.stderr).toBe(0)
      expect(run.json()).toEqual({url: `${srv.url}/runs/${data.runA}`})
      const cookie = `modelreg_session=${srv.adminToken}`
      for (const url of [version.stdout.trim(), run.json<{url: string}>().url]) {
        const page = await request(url, {headers: {cookie}})
        expect(page.statusCode, url).toBe(200)
        await page.body.text()
      }
    } finally {
      await srv.close()
    }
  })

  it('a local store has no pages to link: exit 2, pointing at modelreg ui', async () => {
    const r = await runCli(makeCliEnv(), ['models', 'show', 'x', '--url'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('modelreg ui')
  })
})
