import { defineConfig } from 'vitest/config';

// The fault matrix: separate from the main suite because it runs the whole system four times
// over and must have the machine to itself. `npm test` runs its short profile after the rest.
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    globalSetup: ['test/setup/global.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
