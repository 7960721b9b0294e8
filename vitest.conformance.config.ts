import { defineConfig } from 'vitest/config'

// Conformance checks against the independent oracles in ../shared/oracles.
// Not part of `npm test`: a fresh clone has no ../shared.
export default defineConfig({
  test: {
    include: ['test/conformance/**/*.test.ts'],
    testTimeout: 30_000,
  },
})
