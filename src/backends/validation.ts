/**
 * Rules for names, tags, references, metadata and file paths: one home, used by every backend,
 * by the server (through the local engine it wraps) and by the CLI before it sends anything.
 */
import {type DatasetInput, type FileEntry, type Json, type JsonObject, MAX_PAGE_LIMIT, type MetricSeriesChunk, type PageQuery, DEFAULT_PAGE_LIMIT} from './backend.js'
import {invalid} from './errors.js'

export const LIMITS = {
  nameLength: 128,
  textLength: 16_384,
  shortTextLength: 256,
  metadataBytes: 65_536,
  metadataDepth: 16,
  metadataKeyLength: 256,
  labelCount: 64,
  labelKeyLength: 63,
  labelValueLength: 256,
  metricCount: 1024,
  metricNameLength: 128,
  tagsPerPush: 32,
  filePathBytes: 4096,
  fileSegmentBytes: 255,
  filesPerVersion: 100_000,
} as const

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const DIGITS_RE = /^[0-9]+$/
const DIGEST_RE = /^[0-9a-f]{64}$/
const LABEL_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/
const METRIC_RE = /^[A-Za-z0-9_][A-Za-z0-9_.\-/:]*$/
const SPLIT_RE = /^[A-Za-z0-9_-]{1,32}$/
const RUN_ID_RE = /^[0-9a-f]{6,32}$/
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
// C0 controls, DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/
const WINDOWS_DEVICE_RE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i

/** Quote a value for an error message so that hostile input stays on one line. */
export function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value)
  const clipped = text.length > 80 ? `${text.slice(0, 77)}...` : text
  return JSON.stringify(clipped)
}

export type NameKind = 'model' | 'project' | 'experiment'

export function validateName(kind: NameKind, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw invalid(`${kind} name is required`)
  if (name.length > LIMITS.nameLength || !NAME_RE.test(name)) {
    throw invalid(
      `invalid ${kind} name ${quote(name)}: use 1-${LIMITS.nameLength} letters, digits, '.', '_' or '-', starting with a letter or digit`,
    )
  }
  return name
}

/** Names are unique ignoring case: "Credit-Risk" and "credit-risk" are the same model. */
export function nameKey(name: string): string {
  return name.toLowerCase()
}

export const LATEST = 'latest'

export function validateTag(tag: unknown): string {
  if (typeof tag !== 'string' || tag.length === 0) throw invalid('tag is required')
  if (tag.length > LIMITS.nameLength || !NAME_RE.test(tag)) {
    throw invalid(`invalid tag ${quote(tag)}: use 1-${LIMITS.nameLength} letters, digits, '.', '_' or '-', starting with a letter or digit`)
  }
  if (DIGITS_RE.test(tag)) throw invalid(`invalid tag ${quote(tag)}: a tag cannot be all digits (it would read as a version number)`)
  if (nameKey(tag) === LATEST) throw invalid(`tag "latest" is implicit (always the highest version) and cannot be set or removed by hand`)
  return tag
}

export type Selector = {kind: 'latest'} | {kind: 'version'; version: number} | {kind: 'tag'; tag: string}

export function parseVersionNumber(text: string, context = text): number {
  if (!DIGITS_RE.test(text)) throw invalid(`invalid version ${quote(context)}: expected a positive whole number`)
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1 || (text.length > 1 && text.startsWith('0'))) {
    throw invalid(`invalid version ${quote(context)}: expected a positive whole number without leading zeros`)
  }
  return n
}

/** A version selector: "latest", a version number, or a tag. */
export function parseSelector(selector: unknown): Selector {
  if (typeof selector !== 'string' || selector.length === 0) throw invalid('version or tag is required')
  if (DIGITS_RE.test(selector)) return {kind: 'version', version: parseVersionNumber(selector)}
  if (nameKey(selector) === LATEST) return {kind: 'latest'}
  if (selector.length > LIMITS.nameLength || !NAME_RE.test(selector)) {
    throw invalid(`invalid version or tag ${quote(selector)}: expected a version number, "latest" or a tag`)
  }
  return {kind: 'tag', tag: selector}
}

export function selectorText(selector: Selector): string {
  switch (selector.kind) {
    case 'latest':
      return LATEST
    case 'version':
      return String(selector.version)
    case 'tag':
      return selector.tag
  }
}

export interface ModelRef {
  /** null when the reference names no project (the configured one applies). */
  project: string | null
  name: string
  /** "latest" when the reference has no ":version" or ":tag" part. */
  selector: string
  /** Whether the reference spelled out a version or tag. */
  explicit: boolean
}

const REF_HELP = 'expected [project/]name[:version|tag], e.g. credit-risk, credit-risk:3 or team-a/credit-risk:prod'

/** Parse `[project/]name[:version|tag]`. */
export function parseRef(ref: unknown): ModelRef {
  if (typeof ref !== 'string' || ref.length === 0) throw invalid(`a model reference is required: ${REF_HELP}`)
  if (CONTROL_RE.test(ref) || ref.length > 2 * LIMITS.nameLength + 2 + LIMITS.nameLength) {
    throw invalid(`invalid reference ${quote(ref)}: ${REF_HELP}`)
  }
  const slash = ref.split('/')
  if (slash.length > 2) throw invalid(`invalid reference ${quote(ref)}: more than one '/'; ${REF_HELP}`)
  const [projectPart, rest] = slash.length === 2 ? [slash[0], slash[1]] : [null, slash[0]]
  const colon = rest.split(':')
  if (colon.length > 2) throw invalid(`invalid reference ${quote(ref)}: more than one ':'; ${REF_HELP}`)
  const [namePart, selectorPart] = colon
  if (projectPart !== null && projectPart.length === 0) throw invalid(`invalid reference ${quote(ref)}: empty project before '/'; ${REF_HELP}`)
  if (namePart.length === 0) throw invalid(`invalid reference ${quote(ref)}: missing model name; ${REF_HELP}`)
  if (selectorPart !== undefined && selectorPart.length === 0) {
    throw invalid(`invalid reference ${quote(ref)}: nothing after ':'; ${REF_HELP}`)
  }
  const within = <T>(check: () => T): T => {
    try {
      return check()
    } catch (error) {
      throw invalid(`invalid reference ${quote(ref)}: ${(error as Error).message}`)
    }
  }
  const project = projectPart === null ? null : within(() => validateName('project', projectPart))
  const name = within(() => validateName('model', namePart))
  if (selectorPart === undefined) return {project, name, selector: LATEST, explicit: false}
  within(() => parseSelector(selectorPart))
  return {project, name, selector: selectorPart, explicit: true}
}

export function formatRef(model: string, version: number | string, project?: string | null): string {
  return `${project ? `${project}/` : ''}${model}:${version}`
}

export function validateDigest(digest: unknown): string {
  if (typeof digest !== 'string' || !DIGEST_RE.test(digest)) {
    throw invalid(`invalid digest ${quote(digest)}: expected 64 lower-case hex characters of a sha256`)
  }
  return digest
}

const REQUEST_ID_RE = /^[A-Za-z0-9_-]{16,64}$/

export function validateRequestId(id: unknown): string {
  if (typeof id !== 'string' || !REQUEST_ID_RE.test(id)) throw invalid('request_id must be 16-64 characters of letters, digits, "_" or "-"')
  return id
}

export function validateText(value: unknown, what: string, max: number = LIMITS.textLength): string {
  if (typeof value !== 'string') throw invalid(`${what} must be a string`)
  if (value.length > max) throw invalid(`${what} is too long (${value.length} characters, at most ${max})`)
  if (value.includes('\u0000')) throw invalid(`${what} contains a NUL character`)
  return value
}

/** A one-line value (author, framework, format, owner, task). */
export function validateShortText(value: unknown, what: string): string {
  const text = validateText(value, what, LIMITS.shortTextLength)
  if (CONTROL_RE.test(text)) throw invalid(`${what} ${quote(text)} contains control characters`)
  return text
}

export function validateOptionalShortText(value: unknown, what: string): string | null {
  if (value === undefined || value === null || value === '') return null
  return validateShortText(value, what)
}

function checkJsonValue(value: unknown, path: string, depth: number): void {
  if (depth > LIMITS.metadataDepth) throw invalid(`metadata is nested too deeply at ${path} (at most ${LIMITS.metadataDepth} levels)`)
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(`metadata value at ${path} is not a finite number`)
    return
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkJsonValue(item, `${path}[${i}]`, depth + 1))
    return
  }
  if (typeof value === 'object') {
    if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
      throw invalid(`metadata value at ${path} is not plain JSON`)
    }
    for (const [key, item] of Object.entries(value)) {
      checkMetadataKey(key, path)
      checkJsonValue(item, `${path}.${key}`, depth + 1)
    }
    return
  }
  throw invalid(`metadata value at ${path} is not JSON`)
}

function checkMetadataKey(key: string, path: string): void {
  if (key.length === 0 || key.length > LIMITS.metadataKeyLength) {
    throw invalid(`metadata key at ${path} must be 1-${LIMITS.metadataKeyLength} characters`)
  }
  if (CONTROL_RE.test(key)) throw invalid(`metadata key ${quote(key)} at ${path} contains control characters`)
  if (key === '__proto__') throw invalid(`metadata key "__proto__" is not allowed`)
}

/** A metadata object: plain JSON, at most LIMITS.metadataBytes serialized, LIMITS.metadataDepth deep. */
export function validateMetadata(value: unknown, what = 'metadata'): JsonObject {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${what} must be a JSON object`)
  checkJsonValue(value, what, 1)
  const bytes = Buffer.byteLength(JSON.stringify(value))
  if (bytes > LIMITS.metadataBytes) {
    throw invalid(`${what} is too large (${bytes} bytes serialized, at most ${LIMITS.metadataBytes})`)
  }
  return value as JsonObject
}

export function validateMetadataKeys(keys: unknown, what = 'metadata key'): string[] {
  if (keys === undefined || keys === null) return []
  if (!Array.isArray(keys)) throw invalid(`${what}s must be a list`)
  for (const key of keys) {
    if (typeof key !== 'string') throw invalid(`${what} must be a string`)
    checkMetadataKey(key, what)
  }
  return keys as string[]
}

export function validateMetricName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > LIMITS.metricNameLength || !METRIC_RE.test(name)) {
    throw invalid(`invalid metric name ${quote(name)}: use 1-${LIMITS.metricNameLength} letters, digits, '_', '.', '-', '/' or ':'`)
  }
  return name
}

/** A split (train, valid, test ...): "" for none. */
export function validateSplit(split: unknown): string {
  if (split === undefined || split === null || split === '') return ''
  if (typeof split !== 'string' || !SPLIT_RE.test(split)) throw invalid(`invalid split ${quote(split)}: use 1-32 letters, digits, '_' or '-'`)
  return split
}

/** A metric key: `name`, or `name[split]` for a series with a split. */
export function validateMetricKey(key: unknown): string {
  if (typeof key === 'string') {
    const match = /^(.+)\[([^\]]*)\]$/.exec(key)
    if (match) {
      validateMetricName(match[1])
      validateSplit(match[2])
      return key
    }
  }
  return validateMetricName(key)
}

/** What is wrong with a metric point's value and step, or null (its name and split: validateMetricName, validateSplit). */
export function metricPointProblem(value: unknown, step: unknown): string | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'value must be a finite number'
  if (step !== undefined && step !== null && (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0)) return 'step must be a whole number >= 0'
  return null
}

/** An ISO 8601 time, given back as stored: toISOString's form. */
export function validateTime(value: unknown, what: string | (() => string)): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw invalid(`${typeof what === 'string' ? what : what()} must be an ISO 8601 time`)
  return new Date(value).toISOString()
}

/** Points a MetricSeriesChunk may hold. */
export const MAX_SERIES_CHUNK = 100_000

const isDigit = (c: number) => c >= 48 && c <= 57

/**
 * validateTime for a run of times, most of them as stored (toISOString) and close together: a
 * time equal to the one before, or with its date, hour and minute and plain seconds
 * (`SS.sssZ`), is as stored already and needs no parsing. Any other is parsed.
 */
export class SeriesTimes {
  private lastIn: unknown = undefined
  private lastOut = ''
  /** `YYYY-MM-DDTHH:MM:` of the last time that was as stored. */
  private minute = ''

  check(value: unknown, what: () => string): string {
    if (value === this.lastIn) return this.lastOut
    if (typeof value === 'string' && value.length === 24 && this.minute !== '' && value.startsWith(this.minute)) {
      const s = value.charCodeAt(17)
      if (s >= 48 && s <= 53 && isDigit(value.charCodeAt(18)) && value.charCodeAt(19) === 46 && isDigit(value.charCodeAt(20)) && isDigit(value.charCodeAt(21)) && isDigit(value.charCodeAt(22)) && value.charCodeAt(23) === 90) {
        this.lastIn = value
        this.lastOut = value
        return value
      }
    }
    const out = validateTime(value, what)
    this.lastIn = value
    this.lastOut = out
    if (out === value && out.length === 24) this.minute = out.slice(0, 17)
    return out
  }
}

/**
 * A series chunk checked whole, in tight loops: names, whole steps >= 0 increasing, finite
 * values, times (given back as stored). `before`: points that came earlier, for messages.
 */
export function validateSeriesChunk(chunk: unknown, before: number, times: SeriesTimes = new SeriesTimes()): MetricSeriesChunk {
  if (!isJsonObject(chunk)) throw invalid('a metric series chunk must be an object with name, split, steps, values and times')
  const c = chunk as unknown as MetricSeriesChunk
  let name: string
  let split: string
  try {
    name = validateMetricName(c.name)
    split = validateSplit(c.split)
  } catch (error) {
    throw invalid(`metric point ${before + 1}: ${(error as Error).message}`)
  }
  const {steps, values} = c
  if (!Array.isArray(steps) || !Array.isArray(values) || !Array.isArray(c.times) || values.length !== steps.length || c.times.length !== steps.length) {
    throw invalid(`metric series ${name}: steps, values and times must be lists of the same length`)
  }
  const n = steps.length
  if (n > MAX_SERIES_CHUNK) throw invalid(`metric series ${name}: a chunk holds at most ${MAX_SERIES_CHUNK} points, not ${n}`)
  const out = new Array<string>(n)
  let previous = -1
  for (let i = 0; i < n; i++) {
    const step = steps[i]
    const value = values[i]
    if (!Number.isSafeInteger(step) || step <= previous) throw invalid(`metric point ${before + i + 1} (${name}): steps must be whole numbers >= 0, increasing`)
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`metric point ${before + i + 1} (${name}): value must be a finite number`)
    previous = step
    out[i] = times.check(c.times[i], () => `metric point ${before + i + 1} time`)
  }
  return {name, split, steps, values, times: out}
}

/** A dataset reference of a run: a tag, a path or URI kept as given, an optional digest and size, metadata. */
export function validateDatasetInput(input: DatasetInput): DatasetInput & {sha256: string | null; size: number | null; metadata: JsonObject} {
  if (!input || typeof input !== 'object') throw invalid('a dataset must be an object with tag and uri')
  validateTag(input.tag)
  const uri = validateText(input.uri, 'dataset path or URI', 4096)
  if (uri.trim() === '') throw invalid('dataset path or URI is required')
  const sha256 = input.sha256 === undefined || input.sha256 === null ? null : validateDigest(input.sha256)
  const size = input.size === undefined || input.size === null ? null : input.size
  if (size !== null && (!Number.isSafeInteger(size) || size < 0)) throw invalid('dataset size must be a whole number of bytes')
  return {tag: input.tag, uri, sha256, size, metadata: validateMetadata(input.metadata, 'dataset metadata')}
}

export function validateRunId(id: unknown): string {
  if (typeof id !== 'string' || !RUN_ID_RE.test(id)) throw invalid(`invalid run id ${quote(id)}: expected 6-32 lower-case hex characters`)
  return id
}

export function validateUuid(id: unknown, what = 'checkpoint'): string {
  if (typeof id !== 'string' || !UUID_RE.test(id)) throw invalid(`invalid ${what} id ${quote(id)}: expected a UUID`)
  return id
}

export function validateMetrics(value: unknown): Record<string, number> {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('metrics must be an object of name to number')
  const entries = Object.entries(value)
  if (entries.length > LIMITS.metricCount) throw invalid(`too many metrics (${entries.length}, at most ${LIMITS.metricCount})`)
  for (const [name, metric] of entries) {
    validateMetricKey(name)
    if (typeof metric !== 'number' || !Number.isFinite(metric)) throw invalid(`metric ${quote(name)} must be a finite number`)
  }
  return value as Record<string, number>
}

export function validateLabelKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > LIMITS.labelKeyLength || !LABEL_KEY_RE.test(key)) {
    throw invalid(`invalid label key ${quote(key)}: use 1-${LIMITS.labelKeyLength} letters, digits, '.', '_', '-' or '/'`)
  }
  return key
}

export function validateLabels(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('labels must be an object of key to value')
  const entries = Object.entries(value)
  if (entries.length > LIMITS.labelCount) throw invalid(`too many labels (${entries.length}, at most ${LIMITS.labelCount})`)
  for (const [key, label] of entries) {
    validateLabelKey(key)
    if (typeof label !== 'string' || label.length > LIMITS.labelValueLength || CONTROL_RE.test(label)) {
      throw invalid(`label ${quote(key)} must have a one-line value of at most ${LIMITS.labelValueLength} characters`)
    }
  }
  return value as Record<string, string>
}

/**
 * A path inside a version: relative, POSIX separators, no empty, "." or ".." segments, no
 * control characters or backslashes, no Windows device names, no segment ending in a dot or a
 * space. Such a path can be materialized under a target directory on any common OS without
 * escaping it.
 */
export function validateFilePath(path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) throw invalid('file path is required')
  const bad = (why: string) => invalid(`invalid file path ${quote(path)}: ${why}`)
  if (Buffer.byteLength(path) > LIMITS.filePathBytes) throw bad(`longer than ${LIMITS.filePathBytes} bytes`)
  if (CONTROL_RE.test(path)) throw bad('contains control characters')
  if (path.includes('\\')) throw bad('contains a backslash')
  if (path.startsWith('/')) throw bad('is absolute')
  if (/^[A-Za-z]:/.test(path)) throw bad('starts with a drive letter')
  for (const segment of path.split('/')) {
    if (segment === '') throw bad('has an empty segment')
    if (segment === '.' || segment === '..') throw bad(`has a ${quote(segment)} segment`)
    if (Buffer.byteLength(segment) > LIMITS.fileSegmentBytes) throw bad(`has a segment longer than ${LIMITS.fileSegmentBytes} bytes`)
    if (WINDOWS_DEVICE_RE.test(segment)) throw bad(`${quote(segment)} is a reserved device name on Windows`)
    if (segment.endsWith('.') || segment.endsWith(' ')) throw bad('has a segment ending in a dot or a space')
  }
  return path
}

/** The key under which two paths collide on a case-insensitive or normalizing file system. */
export function pathCollisionKey(path: string): string {
  return path.normalize('NFC').toLowerCase()
}

export function validateFileEntries(entries: unknown, what: 'files' | 'attachments'): FileEntry[] {
  if (entries === undefined || entries === null) return []
  if (!Array.isArray(entries)) throw invalid(`${what} must be a list`)
  if (entries.length > LIMITS.filesPerVersion) throw invalid(`too many ${what} (${entries.length}, at most ${LIMITS.filesPerVersion})`)
  const seen = new Map<string, string>()
  const out: FileEntry[] = []
  for (const entry of entries as Partial<FileEntry>[]) {
    if (!entry || typeof entry !== 'object') throw invalid(`each of ${what} must be an object`)
    const path = validateFilePath(entry.path)
    validateDigest(entry.sha256)
    if (typeof entry.size !== 'number' || !Number.isSafeInteger(entry.size) || entry.size < 0) {
      throw invalid(`file ${quote(path)} has an invalid size`)
    }
    const mode = entry.mode === undefined ? 0o644 : entry.mode
    if (mode !== 0o644 && mode !== 0o755) throw invalid(`file ${quote(path)} has an invalid mode (expected 0644 or 0755)`)
    const key = pathCollisionKey(path)
    const other = seen.get(key)
    if (other !== undefined) {
      throw invalid(
        other === path
          ? `${what} list ${quote(path)} twice`
          : `${what} ${quote(other)} and ${quote(path)} differ only in case or Unicode normalization; they would overwrite each other on some systems`,
      )
    }
    seen.set(key, path)
    // Directories and files must not share a name ("a" and "a/b").
    out.push({path, size: entry.size, sha256: entry.sha256 as string, mode})
  }
  const keys = new Set(seen.keys())
  for (const key of keys) {
    let cut = key.lastIndexOf('/')
    while (cut > 0) {
      const parent = key.slice(0, cut)
      if (keys.has(parent)) throw invalid(`${what} ${quote(seen.get(parent))} is both a file and a directory`)
      cut = key.lastIndexOf('/', cut - 1)
    }
  }
  return out
}

export function validatePage(query: PageQuery | undefined): {limit: number; offset: number} {
  const limit = query?.limit ?? DEFAULT_PAGE_LIMIT
  const offset = query?.offset ?? 0
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) throw invalid(`limit must be between 1 and ${MAX_PAGE_LIMIT}`)
  if (!Number.isSafeInteger(offset) || offset < 0) throw invalid('offset must be 0 or more')
  return {limit, offset}
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Parse a command-line value: JSON when it parses as JSON, else the string itself. */
export function parseLooseValue(text: string): Json {
  try {
    return JSON.parse(text) as Json
  } catch {
    return text
  }
}
