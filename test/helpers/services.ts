/**
 * The services some suites need (PostgreSQL, Ceph RGW as S3), started by scripts/test-services.sh.
 * In CI they must be there: a suite that finds them missing fails loudly. Elsewhere it says so
 * in one line and runs nothing.
 */
import {describe, it} from 'vitest'

function missing(what: string, variable: string): void {
  const reason = `${what} needs ${variable} (run: bash scripts/test-services.sh start; eval "$(bash scripts/test-services.sh env)")`
  if (process.env.CI) {
    describe(what, () => {
      it('has its test services', () => {
        throw new Error(`${reason}: CI must start them`)
      })
    })
  } else {
    process.stderr.write(`not run: ${reason}\n`)
  }
}

/** The test database's URL, or undefined (after saying why) when the services are not running. */
export function postgresUrl(what: string): string | undefined {
  const url = process.env.MODELREG_TEST_DATABASE_URL
  if (!url) missing(what, 'MODELREG_TEST_DATABASE_URL')
  return url
}
