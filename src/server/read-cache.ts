/**
 * Serialized answers to the registry's most frequent reads (a version, a model, a list), kept
 * while the database is unchanged. The stamp (see SqlEngine.changeStamp) is taken before
 * the read runs, so an answer computed while another process committed is stored under the
 * older stamp and dropped on the next request: the cache can only err towards reading again.
 * Authentication and authorization run before the cache is consulted, on every request.
 */
export const CACHEABLE_ROUTES: ReadonlySet<string> = new Set(['getProject', 'listModels', 'getModel', 'modelLog', 'listVersions', 'getVersion', 'listTags'])

const MAX_ENTRIES = 1024
const MAX_BODY_BYTES = 256 * 1024

export class ReadCache {
  private stamp: string | null = null
  private readonly entries = new Map<string, Buffer>()

  /** `currentStamp` gives null when the store cannot tell cheaply whether it changed: then nothing is kept. */
  constructor(private readonly currentStamp: () => Promise<string | null>) {}

  /** The stamp to store an answer under (null: do not store); clears the cache if the database changed. */
  async check(): Promise<string | null> {
    const stamp = await this.currentStamp()
    if (stamp !== this.stamp || stamp === null) {
      this.entries.clear()
      this.stamp = stamp
    }
    return stamp
  }

  get(key: string): Buffer | undefined {
    const body = this.entries.get(key)
    if (body) {
      // Least recently used goes first: re-insert at the end.
      this.entries.delete(key)
      this.entries.set(key, body)
    }
    return body
  }

  set(key: string, stamp: string | null, body: Buffer): void {
    if (stamp === null || stamp !== this.stamp || body.length > MAX_BODY_BYTES) return
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string)
    this.entries.set(key, body)
  }
}
