/** What a failed connection means, for the two HTTP clients (the modelreg server's and S3's). */

/** Codes of failures to reach or keep talking to a peer (as opposed to an answer it gave). */
export const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
])

/** The error's code, or its cause's (undici wraps socket errors). */
export const errorCodeOf = (error: unknown): string | undefined => {
  const err = error as {code?: string; cause?: {code?: string}} | undefined
  return err?.code ?? err?.cause?.code
}

export const isNetworkError = (error: unknown): boolean => NETWORK_CODES.has(errorCodeOf(error) ?? '')

/** A few words for people: `connection refused`, `host not found` ... */
export function describeNetworkError(error: unknown): string {
  switch (errorCodeOf(error)) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found'
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'connection timed out'
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'no answer in time'
    case 'UND_ERR_BODY_TIMEOUT':
      return 'the transfer stalled'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to host'
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'EPIPE':
      return 'connection lost'
    default:
      return (error as {message?: string})?.message ?? String(error)
  }
}
