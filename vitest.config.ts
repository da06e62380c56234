import {configDefaults, defineConfig} from 'vitest/config'

/**
 * Suites that need PostgreSQL and S3 (scripts/test-services.sh). In CI they always run (and fail
 * loudly without the services); elsewhere, without the services, they are left out with a note.
 */
const SERVICE_SUITES = ['test/contract/postgres.test.ts', 'test/contract/scale.test.ts', 'test/scale/**']
const servicesUp = Boolean(process.env.MODELREG_TEST_DATABASE_URL && process.env.MODELREG_TEST_S3_ENDPOINT)
const leftOut = !servicesUp && !process.env.CI
if (leftOut) {
  process.stderr.write(
    `not run: ${SERVICE_SUITES.join(', ')} (they need PostgreSQL and S3: bash scripts/test-services.sh start; eval "$(bash scripts/test-services.sh env)")\n`,
  )
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(leftOut ? SERVICE_SUITES : [])],
    // Real processes, real SQLite files, real servers: forks keep native modules and signals simple.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    disableConsoleIntercept: true,
    globalSetup: ['test/helpers/global-setup.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
})
