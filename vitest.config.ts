import { defineConfig } from 'vitest/config';

// `tandem-source` resolves workspace packages to their TypeScript sources, so tests
// run without a build step; published packages resolve to dist/ (see docs/decisions).
const conditions = ['tandem-source', 'import', 'module', 'node', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['tandem-source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'property-tests/**/*.test.ts'],
    // Each file runs in its own forked process: one WebGPU device per file, crashes contained.
    pool: 'forks',
    reporters: ['default', './scripts/summary-reporter.ts'],
    setupFiles: ['./scripts/vitest-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
