import { defineConfig } from 'vitest/config';

// Libraries are consumed from source ("source" export condition), so tests need no build step.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: [
      'libs/*/{src,test}/**/*.test.ts',
      'services/*/{src,test}/**/*.test.ts',
      'scripts/**/*.test.ts',
      'tests/**/*.test.ts',
      'bench/**/*.test.ts',
    ],
    globalSetup: ['./scripts/test-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
