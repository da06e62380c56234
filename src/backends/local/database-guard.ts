/**
 * A SQLite connection that notices when its files are removed or replaced under it.
 *
 * SQLite keeps writing to the files it opened: when `registry.db-wal` is deleted (a cleanup
 * script, a copy of the `.db` alone, a network file system) while a long-lived process has the
 * store open, its commits go to an unlinked file and vanish at the next crash. So before each
 * write transaction, and when writes settle, the identity (device, inode) of the database, its
 * WAL and its shared-memory index are compared with the ones this connection opened:
 * - WAL or index gone or replaced: everything committed is still reachable through the open
 *   handles, so it is checkpointed into the main file and the connection reopened; nothing
 *   acknowledged is lost.
 * - the main file gone or replaced: this process can no longer write where others read. It
 *   saves what it holds (VACUUM INTO a file beside the database), stops writing, and says why.
 */
import {statSync} from 'node:fs'
import {basename} from 'node:path'
import {RegistryError} from '../errors.js'
import type {Db} from './database.js'

/** How long after the last write the WAL is checkpointed into the main file. */
const SETTLE_MS = 1000

interface FileId {
  dev: number
  ino: number
}

/** A file's identity; null when it does not exist; undefined when that cannot be told now (then nothing is concluded). */
function idOf(path: string): FileId | null | undefined {
  try {
    const info = statSync(path)
    return {dev: info.dev, ino: info.ino}
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined
  }
}

/** Whether the file at a path is still the one recorded (true when either cannot be told). */
function unchanged(now: FileId | null | undefined, recorded: FileId | null | undefined): boolean {
  if (now === undefined || recorded === undefined) return true
  return now !== null && recorded !== null && now.dev === recorded.dev && now.ino === recorded.ino
}

export class GuardedDatabase {
  /** The current connection (replaced when the WAL had to be reopened). */
  db: Db
  /** Counts reopenings: a cache keyed on the connection's counters must include it. */
  generation = 0
  private ids!: {main: FileId | null | undefined; wal: FileId | null | undefined; shm: FileId | null | undefined}
  private broken: RegistryError | null = null
  private settleTimer: NodeJS.Timeout | null = null

  constructor(
    private readonly file: string,
    private readonly open: () => Db,
    /** Told when the connection was replaced (prepared statements belong to the old one). */
    private readonly reopened: () => void,
    /** Told once, when the store stops taking writes. */
    private readonly onBroken: (message: string) => void = () => {},
  ) {
    this.db = open()
    this.record()
  }

  private record(): void {
    this.ids = {main: idOf(this.file), wal: idOf(`${this.file}-wal`), shm: idOf(`${this.file}-shm`)}
  }

  /** Why the store takes no writes, or null when it is fine. Checks the files first. */
  check(): string | null {
    if (this.broken || !this.db.open) return this.broken?.message ?? null
    if (!unchanged(idOf(this.file), this.ids.main)) {
      this.stop(`${basename(this.file)} was removed or replaced while this process had it open`)
      return (this.broken as RegistryError | null)?.message ?? null
    }
    const wal = idOf(`${this.file}-wal`)
    const shm = idOf(`${this.file}-shm`)
    // A WAL this connection never had (none when it opened) is not a replacement of its own.
    const walChanged = this.ids.wal !== null && !unchanged(wal, this.ids.wal)
    const shmChanged = this.ids.shm !== null && !unchanged(shm, this.ids.shm)
    if (walChanged || shmChanged) this.rescueWal(walChanged ? '-wal' : '-shm')
    else {
      if (this.ids.wal === null) this.ids.wal = wal
      if (this.ids.shm === null) this.ids.shm = shm
    }
    return this.broken ? (this.broken as RegistryError).message : null
  }

  /** Before a write transaction: throws when the store can take no writes. */
  ensureWritable(): void {
    if (this.db.inTransaction) return
    this.check()
    if (this.broken) throw this.broken
  }

  /** After a write transaction: checkpoint into the main file once writes settle. */
  wrote(): void {
    if (this.settleTimer) this.settleTimer.refresh()
    else {
      this.settleTimer = setTimeout(() => this.settle(), SETTLE_MS)
      this.settleTimer.unref()
    }
  }

  private settle(): void {
    this.settleTimer = null
    if (!this.db.open || this.db.inTransaction) return
    try {
      if (this.check() === null) this.db.pragma('wal_checkpoint(PASSIVE)')
    } catch {
      // A busy or failing checkpoint is retried after the next write; SQLite also checkpoints on its own.
    }
  }

  /** The WAL or its index was removed or replaced: move what it holds into the main file, then reopen. */
  private rescueWal(which: string): void {
    const name = `${basename(this.file)}${which}`
    let complete = false
    try {
      const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as {busy: number; log: number; checkpointed: number}[]
      complete = result.busy === 0 && result.log === result.checkpointed
    } catch {
      complete = false
    }
    if (!complete) {
      this.stop(`${name} was removed or replaced while this process had the store open, and its contents could not be moved into ${basename(this.file)}`)
      return
    }
    try {
      this.db.close()
      this.db = this.open()
      this.generation++
      this.record()
      this.reopened()
    } catch (error) {
      this.broken = new RegistryError('unavailable', `${name} was removed or replaced while this process had the store open; reopening the store failed: ${(error as Error).message}`)
      this.onBroken(this.broken.message)
    }
  }

  /** Stop taking writes; save what this connection still reaches beside the database. */
  private stop(reason: string): void {
    let saved = ''
    const rescue = `${this.file}.rescued-${new Date().toISOString().replace(/[:.]/g, '-')}`
    try {
      this.db.prepare('VACUUM INTO ?').run(rescue)
      saved = `; what this process held is saved in ${rescue}`
    } catch {
      saved = '; what this process held could not be saved'
    }
    this.broken = new RegistryError(
      'unavailable',
      `the store stopped taking writes: ${reason}${saved}. Stop this process, put the right database in place, and run modelreg verify. Keep the store on a local file system and never delete its -wal or -shm files while it is open.`,
    )
    this.onBroken(this.broken.message)
  }

  close(): void {
    if (this.settleTimer) clearTimeout(this.settleTimer)
    this.settleTimer = null
    if (this.db.open) this.db.close()
  }
}
