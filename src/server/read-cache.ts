/**
 * Serialized answers to the registry's most frequent reads (a version, a model, a list), kept
 * while the database is unchanged. The stamp (see LocalBackend.changeStamp) is taken before
 * the read runs, so an answer computed while another process committed is stored under the
 * older stamp and dropped on the next request: the cache can only err towards reading again.
 * Authentication and authorization run before the cache is consulted, on every request.
 */
export const CACHEABLE_ROUTES: ReadonlySet<string> = new Set(['getProject', 'listModels', 'getModel', 'modelLog', 'listVersions', 'getVersion', 'listTags'])

const MAX_ENTRIES = 1024
const MAX_BODY_BYTES = 256 * 1024

export class ReadCache {
  private stamp = ''
  private readonly entries = new Map<string, Buffer>()

  constructor(private readonly currentStamp: () => string) {}

  /** The stamp to store an answer under; clears the cache if the database changed. */
  check(): string {
    const stamp = this.currentStamp()
    if (stamp !== this.stamp) {
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

  set(key: string, stamp: string, body: Buffer): void {
    if (stamp !== this.stamp || body.length > MAX_BODY_BYTES) return
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string)
    this.entries.set(key, body)
  }
}
