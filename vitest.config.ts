import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real processes, real SQLite files, real servers: forks keep native modules and signals simple.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    disableConsoleIntercept: true,
    globalSetup: ['test/helpers/global-setup.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
})
