import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../cli/base-command.js'

/** Whether a browser can be opened here: a desktop session, not CI. */
export function canOpenBrowser(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): boolean {
  if (env.CI) return false
  if (platform === 'darwin') return true
  return platform === 'linux' && Boolean(env.DISPLAY || env.WAYLAND_DISPLAY)
}

export default class Ui extends BaseCommand<typeof Ui> {
  static override summary = 'Browse the local store in a web browser: models, versions, lineage, runs and metric charts.'
  static override description = `Serves the web UI over the local store ($MODELREG_HOME) on 127.0.0.1 only, through the same server code as "server start", with auth on. It prints a URL carrying a random one-time code: the first request exchanges it for a browser cookie (HttpOnly, SameSite=Strict) and the code is then spent, so other users of this machine cannot open the pages. On a desktop it also opens the browser (with its own one-time code, passed through a private file rather than the command line); never in CI or with --no-open. Stops on Ctrl-C (SIGINT) or SIGTERM.`

  static override examples = [
    '<%= config.bin %> ui',
    '<%= config.bin %> ui --port 8471 --no-open',
    'MODELREG_HOME=./team-store <%= config.bin %> ui --json   # {"url": "http://127.0.0.1:…/login?once=…", …}',
  ]

  static override flags = {
    port: Flags.integer({char: 'P', min: 0, max: 65_535, default: 0, description: 'Port on 127.0.0.1 (default: a free one).'}),
    open: Flags.boolean({allowNo: true, default: true, description: 'Open the browser on a desktop (--no-open: only print the URL).'}),
    verbose: Flags.boolean({default: false, description: 'Log each request on stderr.'}),
  }

  async run(): Promise<void> {
    const settings = this.settings()
    if (settings.backend === 'remote' && settings.url) {
      this.note(`Note: your configuration points at the server ${settings.url}, whose own pages are at ${settings.url.replace(/\/+$/, '')}/; this serves the local store.`)
    }
    const {defaultServerConfig} = await import('../server/config.js')
    const {startServer} = await import('../server/server.js')
    const {UiSessions, localViewer} = await import('../ui/sessions.js')
    const config = {...defaultServerConfig(), host: '127.0.0.1', port: this.flags.port, data_dir: settings.home, log_requests: this.flags.verbose}
    config.auth = {enabled: true}
    // The token database the server code wants: private and thrown away, never in the user's store.
    const privateDir = mkdtempSync(join(tmpdir(), 'modelreg-ui-'))
    const sessions = new UiSessions('This page is served by modelreg ui, which signs a browser in with the one-time link it prints. Run modelreg ui again for a new link.')
    let running: Awaited<ReturnType<typeof startServer>>
    try {
      running = await startServer(config, {sessions, tokensDir: privateDir})
    } catch (error) {
      rmSync(privateDir, {recursive: true, force: true})
      throw error
    }
    const viewer = localViewer(settings.author ?? safeUserName())
    const url = `${running.url}/login?once=${sessions.createCode(viewer)}`
    const opened = this.flags.open && canOpenBrowser() ? this.openBrowser(`${running.url}/login?once=${sessions.createCode(viewer)}`, privateDir) : false
    if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify({url, base_url: running.url, home: settings.home, opened, pid: process.pid})}\n`)
    else {
      process.stdout.write(`${url}\n`)
      process.stderr.write(`modelreg ui: serving ${settings.home} at ${running.url} (the link above works once${opened ? '; a browser was opened with its own' : ''}). Ctrl-C stops.\n`)
    }
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve())
      process.once('SIGINT', () => resolve())
    })
    await running.close(2000)
    rmSync(privateDir, {recursive: true, force: true})
  }

  /**
   * Open the browser on a page that redirects to the sign-in URL, written to a private file (as
   * Jupyter does): a URL on the command line of xdg-open would be visible to other users in ps.
   */
  private openBrowser(url: string, privateDir: string): boolean {
    const file = join(privateDir, 'open.html')
    const safe = url.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
    writeFileSync(file, `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${safe}"><title>modelreg</title><p><a href="${safe}">Open modelreg</a></p>\n`, {mode: 0o600})
    const command = process.platform === 'darwin' ? 'open' : 'xdg-open'
    try {
      const child = spawn(command, [pathToFileURL(file).href], {detached: true, stdio: 'ignore'})
      child.on('error', () => process.stderr.write(`could not run ${command}: open the URL yourself\n`))
      child.unref()
      return true
    } catch {
      return false
    }
  }
}

function safeUserName(): string {
  try {
    return userInfo().username || 'local'
  } catch {
    return 'local'
  }
}
