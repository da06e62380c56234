import {createHash} from 'node:crypto'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {Readable} from 'node:stream'
import {expect} from 'vitest'

export const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')

/** Write a tree of files under dir; returns dir. */
export function files(dir: string, tree: Record<string, string>): string {
  for (const [path, content] of Object.entries(tree)) {
    const full = join(dir, path)
    mkdirSync(join(full, '..'), {recursive: true})
    writeFileSync(full, content)
  }
  return dir
}

/** Expect a rejection with this error code and a one-line message. */
export async function rejects(promise: Promise<unknown>, code: string): Promise<Error & {code: string}> {
  try {
    await promise
  } catch (error) {
    expect((error as {code?: string}).code, (error as Error).message).toBe(code)
    expect((error as Error).message).not.toContain('\n')
    return error as Error & {code: string}
  }
  throw new Error(`expected a rejection with code ${code}`)
}

export async function streamToBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

export async function* fromArray<T>(items: T[]): AsyncIterable<T> {
  for (const item of items) yield item
}
