import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'property-tests/**/*.test.ts'],
    // Files run in separate forked processes: a WebGPU device per file, and a crash stays contained.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
