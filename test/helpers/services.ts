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

export interface S3TestConfig {
  endpoint: string
  bucket: string
  region: string
  accessKeyId: string
  secretAccessKey: string
}

/** The test bucket (Ceph RGW), or undefined (after saying why) when the services are not running. */
export function s3Config(what: string): S3TestConfig | undefined {
  const env = process.env
  if (!env.MODELREG_TEST_S3_ENDPOINT || !env.MODELREG_TEST_S3_BUCKET || !env.MODELREG_TEST_S3_ACCESS_KEY_ID || !env.MODELREG_TEST_S3_SECRET_ACCESS_KEY) {
    missing(what, 'MODELREG_TEST_S3_ENDPOINT')
    return undefined
  }
  return {
    endpoint: env.MODELREG_TEST_S3_ENDPOINT,
    bucket: env.MODELREG_TEST_S3_BUCKET,
    region: env.MODELREG_TEST_S3_REGION ?? 'us-east-1',
    accessKeyId: env.MODELREG_TEST_S3_ACCESS_KEY_ID,
    secretAccessKey: env.MODELREG_TEST_S3_SECRET_ACCESS_KEY,
  }
}
