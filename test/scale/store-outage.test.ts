/**
 * The object store going away in the middle of an upload through the server (PostgreSQL + S3,
 * the store reached through a TCP relay that the test cuts): the client hears why, from the
 * server, instead of "connection lost"; nothing is half-written; once the store is back, the
 * same push goes through. Needs the test services.
 */
import {randomBytes} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {createConnection, createServer, type Server, type Socket} from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeCliEnv, runCli} from '../helpers/cli.js'
import {postgresUrl, s3Config} from '../helpers/services.js'
import {startTestServer, type TestServer} from '../helpers/server.js'

const url = postgresUrl('the object-store outage test')
const s3 = s3Config('the object-store outage test')

/** A TCP relay to the store that can be cut (every connection dropped, the port closed) and opened again on the same port. */
class Relay {
  private server: Server | null = null
  private readonly sockets = new Set<Socket>()
  port = 0
  /** Bytes relayed towards the store since it was opened; past `cutAfter`, the relay is cut. */
  private sent = 0
  cutAfter = Number.POSITIVE_INFINITY
  cut = false

  constructor(private readonly target: URL) {}

  async open(): Promise<void> {
    this.sent = 0
    this.cut = false
    this.server = createServer((client) => {
      const upstream = createConnection({host: this.target.hostname, port: Number(this.target.port)})
      for (const [socket, other] of [[client, upstream], [upstream, client]]) {
        this.sockets.add(socket)
        socket.on('close', () => {
          this.sockets.delete(socket)
          other.destroy()
        })
        socket.on('error', () => other.destroy())
      }
      client.on('data', (chunk: Buffer) => {
        this.sent += chunk.length
        if (this.sent > this.cutAfter) void this.close()
      })
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve))
    this.port = (this.server.address() as {port: number}).port
  }

  async close(): Promise<void> {
    if (!this.server) return
    const server = this.server
    this.server = null
    this.cut = true
    for (const socket of this.sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  }
}

if (url && s3) {
  describe('the object store failing part-way through an upload', () => {
    let srv: TestServer
    const relay = new Relay(new URL(s3.endpoint))
    beforeAll(async () => {
      process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId
      process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey
      await relay.open()
      const id = randomBytes(5).toString('hex')
      srv = await startTestServer({
        metadata: url,
        blobs: `s3://${s3.bucket}/outage-${id}`,
        database: {pool_size: 4, schema: `outage_${id}`},
        s3: {endpoint: `http://127.0.0.1:${relay.port}`, region: s3.region, force_path_style: true, presign: false},
      })
    })
    afterAll(async () => {
      await srv?.close()
      await relay.close()
    })

    it('reaches the client as the store being unreachable, writes nothing, and the push goes through once it is back', async () => {
      const ctx = makeCliEnv({MODELREG_URL: srv.url, MODELREG_TOKEN: srv.adminToken})
      const file = join(ctx.cwd, 'weights.bin')
      writeFileSync(file, randomBytes(96 * 1024 * 1024))
      // The store goes away once 24 MiB of the 96 reached it: the client is still sending.
      relay.cutAfter = 24 * 1024 * 1024
      const failed = await runCli(ctx, ['models', 'push', 'm', file])
      expect(relay.cut).toBe(true)
      expect(failed.code).toBe(7)
      expect(failed.stderr).toBe(`Error: cannot reach the object store at http://127.0.0.1:${relay.port}: connection refused\n`)
      const missing = await runCli(ctx, ['models', 'show', 'm'])
      expect(missing.code).toBe(3)

      await relay.open()
      relay.cutAfter = Number.POSITIVE_INFINITY
      const pushed = await runCli(ctx, ['models', 'push', 'm', file, '--json'])
      expect(pushed.code, pushed.stderr).toBe(0)
      expect(pushed.json().version.version).toBe(1)
      const verified = await runCli(ctx, ['verify', '--json'])
      expect(verified.code, verified.stdout).toBe(0)
    })
  })
}
