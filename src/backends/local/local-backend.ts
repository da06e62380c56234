/**
 * The local store: the SQL engine over SQLite (store.ts) and a blob directory, under
 * $MODELREG_HOME. Also what a server on one machine runs, so its SQLite-only extras live here:
 * the read-cache stamp and the database-file guard.
 */
import type {JsonObject} from '../backend.js'
import type {BlobStore} from '../blobs.js'
import {SqlEngine} from '../sql/engine.js'
import {Session} from '../sql/session.js'
import {get} from '../sql/task.js'
import {BlobStore as DirectoryBlobStore} from './blob-store.js'
import {SqliteDriver, Store} from './store.js'

export interface LocalBackendOptions {
  /** The store's directory ($MODELREG_HOME). */
  home: string
  /** Who acts: a name, or a function asked on the first change. */
  actor: string | (() => string)
  /** Told once, in one line, if the store stops taking writes (its database files were removed or replaced). */
  onBroken?: (message: string) => void
  /** Where blob bytes go (default: the directory's blobs/; a server may use a bucket). */
  blobs?: BlobStore
}

export class LocalBackend extends SqlEngine {
  readonly store: Store

  constructor(options: LocalBackendOptions | {store: Store; blobs: BlobStore; session: Session}) {
    const store = 'store' in options ? options.store : Store.open(options.home, {onBroken: options.onBroken})
    const driver = new SqliteDriver(store)
    const blobs = ('session' in options ? options.blobs : options.blobs) ?? new DirectoryBlobStore(store.home)
    super(store.home, driver, blobs, 'session' in options ? options.session : new Session(driver.dialect, options.actor))
    this.store = store
  }

  protected override derive(session: Session): LocalBackend {
    return this.sharing(new LocalBackend({store: this.store, blobs: this.blobs, session}))
  }

  override withActor(actor: string, context?: JsonObject, projectScope: string | null = null): LocalBackend {
    return this.derive(this.session.as(actor, context, projectScope))
  }

  /**
   * A value that changes whenever the database may have: another connection committed
   * (SQLite's data_version) or this one changed a row (total_changes, which counts rolled-back
   * changes too, so it errs towards "changed"). The server's read cache is valid while it holds.
   */
  override async changeStamp(): Promise<string> {
    const row = this.store.sync(get<{v: number; c: number}>('SELECT data_version AS v, total_changes() AS c FROM pragma_data_version')) as {v: number; c: number}
    return `${this.store.generation}:${row.v}:${row.c}`
  }

  override checkStore(): string | null {
    return this.store.checkFiles()
  }
}
