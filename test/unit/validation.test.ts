import {describe, expect, it} from 'vitest'
import {parseRef, parseSelector, validateFilePath, validateName, validateTag} from '../../src/backends/validation.js'
import {parseMetaPairs, parseMetricPairs} from '../../src/cli/flags.js'
import {parseSince} from '../../src/commands/events/index.js'
import {formatBytes, relativeTime} from '../../src/cli/output.js'

describe('references', () => {
  it('parses [project/]name[:version|tag]', () => {
    expect(parseRef('credit-risk')).toEqual({project: null, name: 'credit-risk', selector: 'latest', explicit: false})
    expect(parseRef('credit-risk:3')).toEqual({project: null, name: 'credit-risk', selector: '3', explicit: true})
    expect(parseRef('credit-risk:prod')).toMatchObject({selector: 'prod'})
    expect(parseRef('team-a/credit-risk:latest')).toEqual({project: 'team-a', name: 'credit-risk', selector: 'latest', explicit: true})
  })

  it.each(['', 'a:b:c', 'm:', ':t', '/m', 'p/', 'p/q/r', 'm:0', 'm:007', 'm:-1', 'm:a b', 'p//m', 'm\n'])('refuses %j', (ref) => {
    expect(() => parseRef(ref)).toThrowError(/^invalid reference|^a model reference is required/)
  })

  it('selectors: latest, numbers, tags', () => {
    expect(parseSelector('latest')).toEqual({kind: 'latest'})
    expect(parseSelector('LATEST')).toEqual({kind: 'latest'})
    expect(parseSelector('12')).toEqual({kind: 'version', version: 12})
    expect(parseSelector('prod')).toEqual({kind: 'tag', tag: 'prod'})
  })
})

describe('names and tags', () => {
  it('accepts the documented alphabet and lengths', () => {
    for (const ok of ['a', 'A9', '0model', 'mnist_cnn', 'credit-risk.v2', 'x'.repeat(128)]) expect(validateName('model', ok)).toBe(ok)
    for (const bad of ['', '_x', '.x', '-x', 'a/b', 'a b', 'é', 'x'.repeat(129), 'a\u0000']) expect(() => validateName('model', bad)).toThrow()
  })

  it('tags: not latest, not all digits', () => {
    expect(validateTag('prod')).toBe('prod')
    expect(validateTag('v1')).toBe('v1')
    expect(() => validateTag('latest')).toThrow(/implicit/)
    expect(() => validateTag('2024')).toThrow(/all digits/)
  })
})

describe('file paths', () => {
  it('accepts relative POSIX paths', () => {
    for (const ok of ['a', 'a/b/c.txt', 'weights.safetensors', 'dir with space/x', 'unicode/ünï.txt', 'colon:ok']) expect(validateFilePath(ok)).toBe(ok)
  })
  it.each(['', '/etc/passwd', '../x', 'a/../b', './a', 'a/./b', 'a//b', 'a/', 'C:/x', 'a\\b', 'CON', 'nul.txt', 'LPT1', 'x.', 'x ', 'a\u0000b', 'a\nb'])(
    'refuses %j',
    (path) => {
      expect(() => validateFilePath(path)).toThrow(/invalid file path|required/)
    },
  )
})

describe('flag values', () => {
  it('--meta parses JSON values, keeps other text as strings', () => {
    expect(parseMetaPairs(['n=3', 'f=0.5', 'b=true', 'o={"a":1}', 's=s3://bucket/key', 'e=', 'eq=a=b'], '--meta')).toEqual({
      n: 3,
      f: 0.5,
      b: true,
      o: {a: 1},
      s: 's3://bucket/key',
      e: '',
      eq: 'a=b',
    })
    expect(() => parseMetaPairs(['novalue'], '--meta')).toThrow(/KEY=VALUE/)
  })
  it('--metric wants numbers', () => {
    expect(parseMetricPairs(['acc=0.9', 'loss=1e-3'])).toEqual({acc: 0.9, loss: 0.001})
    for (const bad of ['acc=', 'acc=high', 'acc=NaN', 'acc=Infinity']) expect(() => parseMetricPairs([bad])).toThrow()
  })
  it('--since takes ISO times and durations', () => {
    const now = Date.parse('2026-11-22T12:00:00Z')
    expect(parseSince('2h', now)).toBe('2026-11-22T10:00:00.000Z')
    expect(parseSince('7d', now)).toBe('2026-11-15T12:00:00.000Z')
    expect(parseSince('2026-01-01', now)).toBe('2026-01-01T00:00:00.000Z')
    expect(() => parseSince('soon', now)).toThrow()
  })
})

describe('output', () => {
  it('formats sizes and relative times', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(999)).toBe('999 B')
    expect(formatBytes(1500)).toBe('1.5 KB')
    expect(formatBytes(1_073_741_824)).toBe('1.1 GB')
    const now = Date.parse('2026-11-22T12:00:00Z')
    expect(relativeTime('2026-11-22T11:59:50Z', now)).toBe('just now')
    expect(relativeTime('2026-11-22T11:57:00Z', now)).toBe('3 minutes ago')
    expect(relativeTime('2026-11-22T10:00:00Z', now)).toBe('2 hours ago')
    expect(relativeTime('2026-11-20T12:00:00Z', now)).toBe('2 days ago')
    expect(relativeTime('2026-11-08T12:00:00Z', now)).toBe('2 weeks ago')
    expect(relativeTime('2025-11-22T12:00:00Z', now)).toBe('1 year ago')
  })
})
