/**
 * The registry's SQL is written once, for SQLite and PostgreSQL alike: an operation is a
 * generator that yields the statements it needs and receives their results. The SQLite driver
 * answers synchronously inside one better-sqlite3 transaction (no await, so nothing else runs
 * on the connection meanwhile); the PostgreSQL driver awaits each on its pooled client. The
 * rules live in the generators, the drivers only carry statements.
 *
 *   const row = yield* get<ModelRow>('SELECT * FROM models WHERE id = ?', id)
 *
 * Statements use `?` placeholders; the PostgreSQL driver numbers them.
 */

export interface SqlStatement {
  kind: 'get' | 'all' | 'run'
  sql: string
  params: unknown[]
}

/**
 * Something a transaction does besides SQL (gc removing a blob while it holds the lock that
 * keeps blob writers out): synchronous drivers call `sync`, asynchronous ones await `async`.
 */
export interface SideEffect {
  kind: 'effect'
  what: string
  sync?: () => unknown
  async: () => Promise<unknown>
}

/** An operation's body: yields statements, returns its result. */
export type Task<T> = Generator<SqlStatement | SideEffect, T, unknown>

/** A side effect inside a transaction (see SideEffect). */
export function* effect(what: string, async: () => Promise<unknown>, sync?: () => unknown): Task<unknown> {
  return yield {kind: 'effect', what, async, sync}
}

/** The first row, or undefined. */
export function* get<T>(sql: string, ...params: unknown[]): Task<T | undefined> {
  return (yield {kind: 'get', sql, params}) as T | undefined
}

/** Every row. */
export function* all<T>(sql: string, ...params: unknown[]): Task<T[]> {
  return (yield {kind: 'all', sql, params}) as T[]
}

/** A statement that returns no rows; its result is the number of rows it changed. */
export function* run(sql: string, ...params: unknown[]): Task<number> {
  return (yield {kind: 'run', sql, params}) as number
}

/** A task that returns a value without any statement (for branches that need none). */
// eslint-disable-next-line require-yield
export function* done<T>(value: T): Task<T> {
  return value
}

/**
 * Drive a task to its end, answering each statement with `execute` as it comes (synchronous
 * drivers). A statement's error is thrown into the task, so `try` inside a task works.
 */
export function runSync<T>(task: Task<T>, execute: (statement: SqlStatement) => unknown): T {
  let step = task.next()
  while (!step.done) {
    let result: unknown
    try {
      const next = step.value
      if (next.kind === 'effect') {
        if (!next.sync) throw new Error(`${next.what} cannot be done inside this database's transactions`)
        result = next.sync()
      } else result = execute(next)
    } catch (error) {
      step = task.throw(error)
      continue
    }
    step = task.next(result)
  }
  return step.value
}

/** The same for drivers whose statements take time (PostgreSQL). */
export async function runAsync<T>(task: Task<T>, execute: (statement: SqlStatement) => Promise<unknown>): Promise<T> {
  let step = task.next()
  while (!step.done) {
    let result: unknown
    try {
      const next = step.value
      result = next.kind === 'effect' ? await next.async() : await execute(next)
    } catch (error) {
      step = task.throw(error)
      continue
    }
    step = task.next(result)
  }
  return step.value
}

/** The number a `SELECT COUNT(*) AS n ...` (or any single `n` column) gives. */
export function* count(sql: string, ...params: unknown[]): Task<number> {
  const row = yield* get<{n: number | string}>(sql, ...params)
  return Number(row?.n ?? 0)
}

/** A page of results as every list returns it. */
export function pageOf<T>(items: T[], total: number, page: {limit: number; offset: number}): {items: T[]; total: number; limit: number; offset: number} {
  return {items, total, limit: page.limit, offset: page.offset}
}
