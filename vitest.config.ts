import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    // Two cores here: run files in two workers, and give the subprocess-heavy ones time.
    maxWorkers: 2,
    testTimeout: 60_000,
  },
});
