import { defineConfig } from 'vitest/config'

// The default suite: everything under src/ and test/ except the conformance checks,
// which read ../shared and run as their own step of .ci/run.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['test/conformance/**', 'node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
})
