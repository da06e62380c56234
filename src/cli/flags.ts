/** Shared flags, and parsing of the repeated `k=v` flags (--meta, --set, --metric, --label) and references. */
import * as Flags from '@oclif/core/flags'
import type {DatasetInput, Json, JsonObject} from '../backends/backend.js'
import {invalid} from '../backends/errors.js'
import {FILE_LIMITS, readBoundedFile} from '../config/bounded-file.js'
import {parseStrictYaml} from '../config/strict-yaml.js'
import {datasetReference} from '../registry/datasets.js'
import {isJsonObject, parseLooseValue, parseRef, quote, validateLabels, validateMetadata, validateMetrics, type ModelRef} from '../backends/validation.js'

function splitPair(text: string, flag: string): [string, string] {
  const eq = text.indexOf('=')
  if (eq <= 0) throw invalid(`${flag} expects KEY=VALUE, got ${quote(text)}`)
  const key = text.slice(0, eq)
  // Assigning it would change the object's prototype instead of adding a key.
  if (key === '__proto__') throw invalid(`${flag}: the key "__proto__" is not allowed`)
  return [key, text.slice(eq + 1)]
}

/** --meta k=v / --set k=v: a value that parses as JSON is stored as JSON, else as a string. */
export function parseMetaPairs(pairs: string[] | undefined, flag: string): JsonObject {
  const out: JsonObject = {}
  for (const pair of pairs ?? []) {
    const [key, value] = splitPair(pair, flag)
    out[key] = parseLooseValue(value)
  }
  return validateMetadata(out, flag)
}

/** --metric k=v: numbers only. */
export function parseMetricPairs(pairs: string[] | undefined, flag = '--metric'): Record<string, number> {
  const out: Record<string, number> = {}
  for (const pair of pairs ?? []) {
    const [key, value] = splitPair(pair, flag)
    const number = value.trim() === '' ? Number.NaN : Number(value)
    if (!Number.isFinite(number)) throw invalid(`${flag} ${quote(key)} must be a number, got ${quote(value)}`)
    out[key] = number
  }
  return validateMetrics(out)
}

/** --label k=v: strings. */
export function parseLabelPairs(pairs: string[] | undefined, flag = '--label'): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of pairs ?? []) {
    const [key, value] = splitPair(pair, flag)
    out[key] = value
  }
  return validateLabels(out)
}

/** --metadata '{"k": ...}': a JSON object. */
export function parseJsonObject(text: string | undefined, flag: string): JsonObject {
  if (text === undefined) return {}
  let value: Json
  try {
    value = JSON.parse(text) as Json
  } catch (error) {
    throw invalid(`${flag} is not valid JSON: ${(error as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${flag} must be a JSON object`)
  return validateMetadata(value, flag)
}

/** A reference with the project filled in from configuration when it names none. */
export function resolveRef(text: string, project: string): ModelRef & {project: string} {
  const ref = parseRef(text)
  return {...ref, project: ref.project ?? project}
}

/** --wide, for the commands that print a table. */
export const tableFlags = {
  wide: Flags.boolean({default: false, description: 'Show every column in full, however wide (a terminal otherwise cuts long cells with … and drops the least useful columns).'}),
}

/** --limit and --offset for a list of `what`. */
export function pageFlags(what: string, defaultLimit = 100) {
  return {
    limit: Flags.integer({default: defaultLimit, min: 1, max: 10_000, description: `At most this many ${what}.`}),
    offset: Flags.integer({default: 0, min: 0, description: `Skip this many ${what} first.`}),
  }
}

/** --dataset TAG=PATH_OR_URI. */
export async function parseDatasetPairs(pairs: string[] | undefined, flag = '--dataset'): Promise<DatasetInput[] | undefined> {
  if (!pairs?.length) return undefined
  // The same reference `runs dataset` records: the path or URI exactly as written.
  return Promise.all(pairs.map((pair) => datasetReference(...splitPair(pair, flag))))
}

/** A YAML or JSON file holding one mapping (YAML is a superset of JSON). */
export async function readObjectFile(path: string, flag: string): Promise<JsonObject> {
  const source = `${flag} ${path}`
  const value = parseStrictYaml(readBoundedFile(path, FILE_LIMITS.metadata, source).toString('utf8'), source)
  if (!isJsonObject(value)) throw invalid(`${flag} ${path} must hold a mapping (a JSON object)`)
  return validateMetadata(JSON.parse(JSON.stringify(value)), `${flag} ${path}`)
}

/** "0", "90s", "30m", "2h", "7d" -> seconds. */
export function parseDurationSeconds(text: string, flag: string): number {
  const match = /^(\d+)\s*([smhdw]?)$/.exec(text.trim())
  if (!match) throw invalid(`${flag} ${quote(text)}: expected a duration such as 0, 90s, 30m, 2h or 7d`)
  const unit = {'': 1, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800}[match[2] as '' | 's' | 'm' | 'h' | 'd' | 'w']
  return Number(match[1]) * unit
}
