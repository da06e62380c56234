/**
 * Where blob bytes live: a directory (the local store, a server on one machine) or an
 * S3-compatible bucket (servers that scale out). One small interface, as restic's backends:
 * the engine decides what a blob means (rows, grants, gc); a store only keeps bytes, and keeps
 * a blob's final name for complete, verified content.
 *
 * Keys are `blobs/sha256/ab/<rest of digest>` under the store's root or prefix.
 */
import {type Readable, Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import type {FileHandle} from 'node:fs/promises'
import type {LocalFileSource} from './backend.js'
import type {StreamHasher} from './stream-hasher.js'
import {DigestStream, hashFile} from './digest.js'
import {fromFsError, integrity, RegistryError} from './errors.js'

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

/** Bytes where they are in a file (a blob in an uncompressed archive): read straight into a hasher's slots. */
export interface FileRange {
  file: FileHandle
  position: number
}

/** A blob written to the store's temp area and verified, not under its name yet (see BlobStore.stage). */
export interface StagedBlob {
  digest: string
  size: number
  /** The temp file. */
  id: string
  /** Settles once its digest is checked (integrity when it does not match; the temp file is then gone). */
  verified: Promise<void>
  /** Settles once it is verified and flushed to disk (both happen in the background). */
  flushed: Promise<void>
}

/** Where and how a client sends a blob's bytes straight to the store. */
export interface PresignedUpload {
  url: string
  headers: Record<string, string>
  upload: string
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

  /**
   * Write `body` to the temp area, hashing it on `hasher`: nothing is kept (integrity) unless it
   * is exactly `size` bytes with sha256 `digest`. Resolves once the bytes are written; the
   * digest is checked and the file flushed in the background (see StagedBlob), and it is not
   * the blob `digest` until commitStaged (import: blobs are checked as they arrive, kept once
   * the whole archive is). Only a store that writes temp files itself has it (a directory).
   */
  stage?(digest: string, size: number, body: AsyncIterable<Buffer> | FileRange, hasher: StreamHasher): Promise<StagedBlob>

  /** Put a staged blob in place, as put would have. False when the blob was there already (the temp file is dropped). */
  commitStaged?(blob: StagedBlob): Promise<boolean>

  /** Drop a staged blob. */
  discardStaged?(blob: StagedBlob): Promise<void>

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

  /** True when the store hands out presigned URLs (S3 with `s3.presign` on): then the methods below work. */
  readonly presigns?: boolean

  /** A URL that reads the blob for `seconds` without credentials (the reader still verifies the bytes). */
  presignGet?(digest: string, seconds: number): Promise<string>

  /** A URL that uploads the blob for `seconds`, the headers to send with it, and the upload's id for commitUpload; the store checks the digest. */
  presignUpload?(digest: string, size: number, seconds: number): Promise<PresignedUpload>

  /** Put a presigned upload in place once its bytes are there. False when the blob was stored already. */
  commitUpload?(digest: string, size: number, upload: string): Promise<boolean>

  /** A file on this machine holding the blob, when the store is a directory (fast local copies). */
  localPath?(digest: string): string

  close?(): Promise<void>
}

/**
 * Hash `source` without storing it, and refuse it (integrity) unless it is exactly the blob
 * `digest` of `size` bytes: a client shows it holds the bytes of a blob it cannot see yet. The
 * same for every store, since nothing is stored.
 */
export async function proveBlob(digest: string, size: number, source: BlobSource): Promise<void> {
  let result: {digest: string; bytes: number}
  try {
    if (isLocalFile(source)) {
      const hashed = await hashFile(source.path, source.onBytes)
      result = {digest: hashed.digest, bytes: hashed.size}
    } else {
      const meter = new DigestStream(size)
      await pipeline(source, meter, new Writable({write: (_chunk, _encoding, done) => done()}))
      result = {digest: meter.digest(), bytes: meter.bytes}
    }
  } catch (error) {
    if (!isLocalFile(source)) source.destroy()
    if (error instanceof RegistryError) throw error
    throw fromFsError(error, 'receiving a blob')
  }
  if (result.bytes !== size) throw integrity(`blob ${digest}: expected ${size} bytes, got ${result.bytes}`, {expected_size: size, actual_size: result.bytes})
  if (result.digest !== digest) throw integrity(`blob ${digest}: sha256 mismatch (expected ${digest}, got ${result.digest})`, {expected: digest, actual: result.digest})
}
