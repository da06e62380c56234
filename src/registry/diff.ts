/** What changed between two versions: files, metadata and metrics. */
import {isDeepStrictEqual} from 'node:util'
import type {FileEntry, Json, JsonObject, Version} from '../backends/backend.js'
import {formatRef} from '../backends/validation.js'

export interface FileChange {
  path: string
  from: {size: number; sha256: string; mode: number}
  to: {size: number; sha256: string; mode: number}
}

export interface ValueChanges<T> {
  added: Record<string, T>
  removed: Record<string, T>
  changed: Record<string, {from: T; to: T}>
}

export interface VersionDiff {
  from: string
  to: string
  files: {added: FileEntry[]; removed: FileEntry[]; changed: FileChange[]; unchanged: number}
  attachments: {added: FileEntry[]; removed: FileEntry[]; changed: FileChange[]; unchanged: number}
  metadata: ValueChanges<Json>
  metrics: ValueChanges<number> & {changed: Record<string, {from: number; to: number; delta: number}>}
  fields: Record<string, {from: Json; to: Json}>
  identical: boolean
}

function diffFiles(a: FileEntry[], b: FileEntry[]): VersionDiff['files'] {
  const before = new Map(a.map((f) => [f.path, f]))
  const after = new Map(b.map((f) => [f.path, f]))
  const result: VersionDiff['files'] = {added: [], removed: [], changed: [], unchanged: 0}
  for (const [path, f] of after) {
    const old = before.get(path)
    if (!old) result.added.push(f)
    else if (old.sha256 !== f.sha256 || old.mode !== f.mode) {
      result.changed.push({path, from: {size: old.size, sha256: old.sha256, mode: old.mode}, to: {size: f.size, sha256: f.sha256, mode: f.mode}})
    } else result.unchanged++
  }
  for (const [path, f] of before) if (!after.has(path)) result.removed.push(f)
  return result
}

function diffValues<T extends Json>(a: Record<string, T>, b: Record<string, T>): ValueChanges<T> {
  const result: ValueChanges<T> = {added: {}, removed: {}, changed: {}}
  for (const [key, value] of Object.entries(b)) {
    if (!Object.hasOwn(a, key)) result.added[key] = value
    else if (!isDeepStrictEqual(a[key], value)) result.changed[key] = {from: a[key], to: value}
  }
  for (const [key, value] of Object.entries(a)) if (!Object.hasOwn(b, key)) result.removed[key] = value
  return result
}

const isEmpty = (changes: {added: object; removed: object; changed: object}) =>
  Object.keys(changes.added).length + Object.keys(changes.removed).length + Object.keys(changes.changed).length === 0

export function diffVersions(a: Version, b: Version): VersionDiff {
  const files = diffFiles(a.files, b.files)
  const attachments = diffFiles(a.attachments, b.attachments)
  const metadata = diffValues<Json>(a.metadata, b.metadata)
  const plain = diffValues<number>(a.metrics, b.metrics)
  const metrics = {
    ...plain,
    changed: Object.fromEntries(Object.entries(plain.changed).map(([k, {from, to}]) => [k, {from, to, delta: to - from}])),
  }
  const fields: Record<string, {from: Json; to: Json}> = {}
  const fa = {framework: a.framework, format: a.format} as JsonObject
  const fb = {framework: b.framework, format: b.format} as JsonObject
  for (const key of Object.keys(fa)) if (!isDeepStrictEqual(fa[key], fb[key])) fields[key] = {from: fa[key], to: fb[key]}
  const identical =
    files.added.length + files.removed.length + files.changed.length === 0 &&
    attachments.added.length + attachments.removed.length + attachments.changed.length === 0 &&
    isEmpty(metadata) &&
    isEmpty(metrics) &&
    Object.keys(fields).length === 0
  return {
    from: formatRef(a.model, a.version, a.project),
    to: formatRef(b.model, b.version, b.project),
    files,
    attachments,
    metadata,
    metrics,
    fields,
    identical,
  }
}
