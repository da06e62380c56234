/**
 * What an SQL engine needs from its database: transactions that run tasks (see task.ts), and
 * the few places where SQLite and PostgreSQL spell things differently (the dialect).
 */
import type {Task} from './task.js'

/** The SQL type of a column bound as an array (see Dialect.columnRows). */
export type ColumnType = 'bigint' | 'text' | 'float8'

export interface Dialect {
  readonly name: 'sqlite' | 'postgres'
  /** A top-level key of a JSON text column, as a value comparable with a bound JSON value (see jsonValue). */
  jsonField(column: string, key: string): {sql: string; params: unknown[]}
  /** A bound value to compare with jsonField: SQLite compares plain values, PostgreSQL jsonb. */
  jsonValue(value: unknown): {sql: string; params: unknown[]}
  /** The text of a jsonField (for LIKE). */
  jsonText(column: string, key: string): {sql: string; params: unknown[]}
  /** `expr IN (the whole numbers of a JSON array bound as one parameter)`. */
  inJsonNumbers(expr: string): string
  /** `expr IN (the strings of a JSON array bound as one parameter)`. */
  inJsonStrings(expr: string): string
  /**
   * An aggregate of `expr` over a group's rows, in `orderBy`'s order, as a JSON array: an empty
   * one for no rows. SQLite gives its text, PostgreSQL the array itself (see jsonArray).
   */
  jsonAgg(expr: string, orderBy: string): string
  /** Case-insensitive LIKE. */
  readonly ilike: string
  /** An ORDER BY expression for text that sorts ignoring case. */
  nocase(expr: string): string
  /** False, as `NOT COALESCE(condition, false)` needs it. */
  readonly falseValue: string
  /** Appended to a SELECT of a row the transaction will change, so concurrent writers queue. */
  readonly forUpdate: string
  /**
   * Appended to a SELECT of a row that rows the transaction inserts belong to (a run, for its
   * metric points, which have no foreign key: see PostgreSQL migration 5): the row cannot be
   * deleted until the transaction ends, while others may take the same lock.
   */
  readonly forKeyShare: string
  /**
   * Taken by every transaction that records or claims a blob row, so that a gc sweeping the
   * blob store (which holds it exclusively) looks atomic to them; null where every write
   * transaction is exclusive anyway (SQLite).
   */
  readonly sharedBlobLock: string | null
  /** Taken by gc's sweep: the same lock, exclusively. */
  readonly exclusiveBlobLock: string | null
  /** A query whose rows `{problem}` are damage the database itself reports (verify), or null. */
  readonly databaseCheck: string | null
  /** A query whose one row `{v}` moves with every event written, or null (see SqlEngine.changeStamp). */
  readonly eventCounter: string | null
  /**
   * The statement that appends an event (columns: time, type, project, project_key, model,
   * model_key, model_id, version, tag, actor, data): ids must be in commit order.
   */
  readonly insertEvent: string
  /**
   * Many rows for an INSERT bound a column at a time, where the database takes arrays as
   * parameters: `select(types)` is a SELECT of rows from one array parameter per column, of
   * these SQL types (PostgreSQL: `SELECT * FROM unnest(?::bigint[], ?::text[], ...)`);
   * `params(types, flat)` those parameters for rows given one after another in `flat`
   * (`types.length` values each); one statement carries up to `maxRows` rows. Null where rows
   * are bound one by one as `VALUES (?, ...), ...` (SQLite: no arrays, and its work per row is
   * the same either way).
   */
  readonly columnRows: {
    select(types: readonly ColumnType[]): string
    params(types: readonly ColumnType[], flat: readonly unknown[]): unknown[]
    readonly maxRows: number
  } | null
}

/** A follower's line to the database's notifications (see SqlDriver.watchEvents). */
export interface EventWatch {
  /** Whether notifications arrive now (the listening connection is up); when not, poll often. */
  readonly live: boolean
  /** No more wake-ups for this follower (the last one to stop lets the listening connection go). */
  stop(): void
}

export interface SqlDriver {
  readonly dialect: Dialect
  /** A read transaction: every statement of the task sees one snapshot. */
  read<T>(body: () => Task<T>): Promise<T>
  /**
   * A write transaction. The body may run more than once (the database was busy, or a
   * concurrent writer won a race): it must not have effects outside the database.
   */
  write<T>(what: string, body: () => Task<T>): Promise<T>
  /** One statement on its own, outside any transaction: the first row (cheap checks). */
  peek?<T>(sql: string, ...params: unknown[]): Promise<T | undefined>
  /**
   * One statement on its own, outside any transaction: every row. A statement sees one snapshot
   * by itself, so a read that fits in one needs no transaction round trips. Absent where a
   * transaction costs nothing (SQLite): such reads run in read().
   */
  peekAll?<T>(sql: string, ...params: unknown[]): Promise<T[]>
  /**
   * Call `onWake` soon after any transaction that wrote events commits, through any connection
   * of any process on this database (and schema); also whenever such news may have been missed
   * (the listening connection was just established, or re-established after a loss). The caller
   * reads again after each: a wake-up says that something may have changed, never what. Absent
   * where the database cannot tell (SQLite): followers poll.
   */
  watchEvents?(onWake: () => void): EventWatch
  close(): Promise<void>
}
