/**
 * The one error type that crosses layer boundaries, and the one table that maps its codes to
 * process exit codes (CLI) and HTTP statuses (server, and back again on the client).
 */

export const ERROR_CODES = {
  invalid_argument: {exit: 2, http: 400},
  payload_too_large: {exit: 2, http: 413},
  method_not_allowed: {exit: 2, http: 405},
  not_found: {exit: 3, http: 404},
  already_exists: {exit: 4, http: 409},
  conflict: {exit: 4, http: 409},
  unauthenticated: {exit: 5, http: 401},
  permission_denied: {exit: 5, http: 403},
  integrity: {exit: 6, http: 422},
  unavailable: {exit: 7, http: 503},
  storage_full: {exit: 1, http: 507},
  range_not_satisfiable: {exit: 1, http: 416},
  internal: {exit: 1, http: 500},
} as const satisfies Record<string, {exit: number; http: number}>

export type ErrorCode = keyof typeof ERROR_CODES

export const EXIT_CODES = {
  ok: 0,
  error: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  auth: 5,
  integrity: 6,
  unreachable: 7,
} as const

export class RegistryError extends Error {
  readonly code: ErrorCode
  readonly details?: Record<string, unknown>

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message)
    this.name = 'RegistryError'
    this.code = code
    if (details) this.details = details
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http
  }

  /** The stable error shape: the same in --json output and in the HTTP error envelope. */
  toJSON(): {code: ErrorCode; message: string} {
    return {code: this.code, message: this.message}
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value)
}

/** The code a client assumes when a response carries no recognisable error envelope. */
export function errorCodeForHttpStatus(status: number): ErrorCode {
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    if (entry.http === status) return code as ErrorCode
  }
  if (status >= 500) return 'internal'
  return 'invalid_argument'
}

export const invalid = (message: string, details?: Record<string, unknown>) => new RegistryError('invalid_argument', message, details)
export const notFound = (message: string, details?: Record<string, unknown>) => new RegistryError('not_found', message, details)
export const alreadyExists = (message: string, details?: Record<string, unknown>) => new RegistryError('already_exists', message, details)
export const conflict = (message: string, details?: Record<string, unknown>) => new RegistryError('conflict', message, details)
export const integrity = (message: string, details?: Record<string, unknown>) => new RegistryError('integrity', message, details)

/** Translate a file-system error at the edge where it happens. */
export function fromFsError(error: unknown, what: string): RegistryError {
  if (error instanceof RegistryError) return error
  const err = error as NodeJS.ErrnoException
  switch (err?.code) {
    case 'ENOENT':
      return notFound(`${what}: no such file or directory`)
    case 'EEXIST':
      return alreadyExists(`${what}: already exists`)
    case 'EACCES':
    case 'EPERM':
      return new RegistryError('permission_denied', `${what}: permission denied`)
    case 'ENOSPC':
    case 'EDQUOT':
      return new RegistryError('storage_full', `${what}: no space left on device; free some space and retry (nothing was committed)`)
    case 'EISDIR':
      return invalid(`${what}: is a directory`)
    case 'ENOTDIR':
      return invalid(`${what}: a path component is not a directory`)
    case 'EROFS':
      return new RegistryError('permission_denied', `${what}: read-only file system`)
    default:
      return new RegistryError('internal', `${what}: ${err?.message ?? String(error)}`)
  }
}
