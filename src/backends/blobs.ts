/**
 * Where blob bytes live: a directory (the local store, a server on one machine) or an
 * S3-compatible bucket (servers that scale out). One small interface, as restic's backends:
 * the engine decides what a blob means (rows, grants, gc); a store only keeps bytes, and keeps
 * a blob's final name for complete, verified content.
 *
 * Keys are `blobs/sha256/ab/<rest of digest>` under the store's root or prefix.
 */
import type {Readable} from 'node:stream'
import type {LocalFileSource} from './backend.js'

/** What a write reads: a stream (an HTTP body), or a file on this machine (a local push). */
export type BlobSource = Readable | LocalFileSource

export const isLocalFile = (source: BlobSource): source is LocalFileSource => typeof (source as LocalFileSource).path === 'string' && !('pipe' in source)

export interface StoredBlob {
  digest: string
  size: number
  /** Last modification, in ms since the epoch (gc spares recent ones). */
  modified: number
}

/** A write that did not finish: a temp file, or an S3 multipart upload. */
export interface IncompleteUpload {
  id: string
  size: number
  modified: number
}

export interface BlobStore {
  /** For messages: `directory /srv/modelreg` or `s3://bucket/prefix`. */
  readonly description: string

  /** Size of a stored blob, or null when there is none. */
  size(digest: string): Promise<number | null>

  /**
   * Store `source` as blob `digest`, hashing it on the way: nothing is stored (integrity error)
   * unless it is exactly `size` bytes with that sha256. False when the blob was already there.
   */
  put(digest: string, size: number, source: BlobSource): Promise<boolean>

  /** Store bytes whose digest the caller does not know yet; answers with it. */
  ingest(size: number, source: BlobSource): Promise<{digest: string; stored: boolean}>

  /** Hash `source` without storing it; refuse it (integrity) unless it is the blob `digest` of `size` bytes. */
  prove(digest: string, size: number, source: BlobSource): Promise<void>

  /** The blob's bytes from `offset` (the reader verifies what it reads). */
  open(digest: string, offset?: number): Promise<{stream: Readable; size: number}>

  /** Every stored blob, read in pages (verify, gc). */
  list(): AsyncIterable<StoredBlob>

  /** Remove a blob (gc, after the engine forgot it). Missing is fine. */
  remove(digest: string): Promise<void>

  /** The same, synchronously, where the store can (a directory: gc inside a SQLite transaction). */
  removeSync?(digest: string): void

  /** Writes that never finished (a killed upload). */
  listIncomplete(): AsyncIterable<IncompleteUpload>

  /** Remove an unfinished write (gc). Missing is fine. */
  removeIncomplete(id: string): Promise<void>

  /** A file on this machine holding the blob, when the store is a directory (fast local copies). */
  localPath?(digest: string): string

  close?(): Promise<void>
}
