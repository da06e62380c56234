import * as Flags from '@oclif/core/flags'
import {invalid} from '../../backends/errors.js'
import {BaseCommand} from '../../cli/base-command.js'
import {isLoopback} from '../../server/config.js'
import {serverConfigFrom, serverLocationFlags} from '../../cli/server-flags.js'

export default class ServerStart extends BaseCommand<typeof ServerStart> {
  static override summary = 'Serve the registry over HTTP to a team (the same commands work against it).'
  static override description = `Logs one line per request (time, method, route, status, duration, token name) on stderr. Stops gracefully on SIGTERM or SIGINT: no new requests, in-flight ones finish, then exit.

Listens on 127.0.0.1 unless told otherwise. With auth on (the default), every request but /healthz and /api/v1/openapi.json needs a bearer token from "server tokens create". It refuses a non-loopback address with auth off unless --insecure is given.`

  static override examples = [
    '<%= config.bin %> server start --data-dir /srv/modelreg',
    '<%= config.bin %> server start --config modelreg-server.yaml --host 0.0.0.0 --port 8470',
    '<%= config.bin %> server start --no-auth   # loopback only: a personal server without tokens',
    'MODELREG_DATABASE_URL=postgres://modelreg@db/modelreg MODELREG_BLOBS_URL=s3://models/prod <%= config.bin %> server start --host 0.0.0.0',
  ]

  static override flags = {
    ...serverLocationFlags,
    host: Flags.string({description: 'Address to listen on (default 127.0.0.1).'}),
    port: Flags.integer({char: 'P', min: 0, max: 65_535, description: 'Port (default 8470; 0 picks a free one).'}),
    auth: Flags.boolean({allowNo: true, description: 'Require tokens (default: on, or as the config says).'}),
    insecure: Flags.boolean({default: false, description: 'Allow a non-loopback address with auth off.'}),
    quiet: Flags.boolean({char: 'q', default: false, description: 'Do not log each request.'}),
    migrate: Flags.boolean({allowNo: true, default: true, description: 'Apply missing PostgreSQL migrations first (--no-migrate: refuse to start without them; see server migrate).'}),
  }

  async run(): Promise<void> {
    const config = serverConfigFrom(this.flags)
    if (this.flags.host !== undefined) config.host = this.flags.host
    if (this.flags.port !== undefined) config.port = this.flags.port
    if (this.flags.auth !== undefined) config.auth.enabled = this.flags.auth
    if (this.flags.quiet) config.log_requests = false
    if (config.host === '') throw invalid('--host cannot be empty')
    const {startServer} = await import('../../server/server.js')
    const running = await startServer(config, {insecure: this.flags.insecure, migrate: this.flags.migrate})
    const banner = {url: running.url, data_dir: config.data_dir, store: running.backend.location, auth: config.auth.enabled, pid: process.pid}
    if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(banner)}\n`)
    else {
      process.stderr.write(
        `modelreg server listening on ${running.url} (data: ${running.backend.location}; auth: ${config.auth.enabled ? 'on' : 'OFF'})\n`,
      )
      if (!config.auth.enabled && !isLoopback(config.host)) process.stderr.write('WARNING: auth is off on a non-loopback address (--insecure)\n')
      if (config.auth.enabled && (await running.tokens.list()).every((t) => t.revoked_at !== null)) {
        process.stderr.write(`No tokens yet: create one with: modelreg server tokens create --name NAME --scope admin --data-dir ${config.data_dir}\n`)
      }
    }
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.stderr.write(`${signal}: finishing in-flight requests, then stopping\n`)
        resolve()
      }
      process.once('SIGTERM', () => stop('SIGTERM'))
      process.once('SIGINT', () => stop('SIGINT'))
    })
    await running.close()
    process.stderr.write('stopped\n')
  }
}
