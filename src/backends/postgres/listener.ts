/**
 * Wake-ups for event followers on PostgreSQL: every transaction that writes an event also
 * notifies a channel named after its schema (see POSTGRES.insertEvent), and PostgreSQL delivers
 * that at commit to every connection listening on it, whichever replica committed. A driver keeps
 * ONE listening connection, opened when the first follower asks and closed when the last one
 * stops, shared by all the followers of the process; after a connection loss it connects again
 * (backing off), and wakes everyone once it listens again, so that they read what committed in
 * between. A notification carries nothing: followers always read `id > last`, so a lost one costs
 * only time (their fallback poll).
 */
import pg from 'pg'
import type {EventWatch} from '../sql/driver.js'

/**
 * The channel of the connection's schema, as an SQL expression (the writer and the listener
 * compute it the same way, from current_schema()): several schemas may share one database, and
 * a channel is an identifier, at most 63 bytes, so a schema name of any length is hashed.
 */
export const EVENT_CHANNEL_SQL = "'modelreg_events_' || left(md5(current_schema()), 16)"

const RETRY_FIRST_MS = 100
const RETRY_MAX_MS = 5000

export class EventListener {
  private readonly wakers = new Set<() => void>()
  /** The listening connection, or the one being opened; null when there is none. */
  private client: pg.Client | null = null
  private channel: string | null = null
  private retry: NodeJS.Timeout | null = null
  private failures = 0
  private closed = false
  /** Whether the connection listens now. */
  live = false

  constructor(private readonly config: pg.ClientConfig) {}

  watch(onWake: () => void): EventWatch {
    if (this.closed) return {live: false, stop() {}}
    const waker = () => onWake()
    this.wakers.add(waker)
    if (!this.client && !this.retry) void this.connect()
    const live = () => this.live && this.wakers.has(waker)
    const stop = () => {
      if (!this.wakers.delete(waker)) return
      if (this.wakers.size === 0) void this.disconnect()
    }
    return {
      get live() {
        return live()
      },
      stop,
    }
  }

  /** How many followers are waiting on it (for tests: an aborted follower must not stay). */
  get watchers(): number {
    return this.wakers.size
  }

  /** The server process of the listening connection, or null (for tests that cut it). */
  get backendPid(): number | null {
    return this.live ? ((this.client as unknown as {processID?: number} | null)?.processID ?? null) : null
  }

  async close(): Promise<void> {
    this.closed = true
    this.wakers.clear()
    await this.disconnect()
  }

  private wakeAll(): void {
    for (const wake of [...this.wakers]) wake()
  }

  private async connect(): Promise<void> {
    this.retry = null
    if (this.closed || this.wakers.size === 0 || this.client) return
    const client = new pg.Client(this.config)
    this.client = client
    const lost = () => this.lost(client)
    client.on('error', lost)
    client.on('end', lost)
    client.on('notification', (message) => {
      if (client === this.client && message.channel === this.channel) this.wakeAll()
    })
    try {
      await client.connect()
      const row = (await client.query(`SELECT ${EVENT_CHANNEL_SQL} AS channel`)).rows[0] as {channel: string | null} | undefined
      if (!row?.channel) throw new Error('no schema to listen on')
      await client.query(`LISTEN "${row.channel}"`)
      if (client !== this.client) return
      this.channel = row.channel
      this.live = true
      this.failures = 0
      // What committed before LISTEN took effect was announced to no one: read again.
      this.wakeAll()
    } catch {
      this.lost(client)
    }
  }

  /** The connection broke (or could not be made): followers poll, and a new one is tried soon. */
  private lost(client: pg.Client): void {
    if (client !== this.client) return
    this.client = null
    this.channel = null
    this.live = false
    client.end().catch(() => {})
    if (this.closed || this.wakers.size === 0) return
    // Followers waiting for a notification go back to polling often until it listens again.
    this.wakeAll()
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.failures++)
    this.retry = setTimeout(() => void this.connect(), delay)
    this.retry.unref()
  }

  private async disconnect(): Promise<void> {
    if (this.retry) clearTimeout(this.retry)
    this.retry = null
    const client = this.client
    this.client = null
    this.channel = null
    this.live = false
    this.failures = 0
    await client?.end().catch(() => {})
  }
}
