import { defineConfig } from 'vitest/config';

// Two projects, by what a test needs. `unit`: only the code (no database, no broker, no global
// setup), seconds — `npm run test:unit`. `integration`: the real PostgreSQL and RabbitMQ, from a
// template database the global setup migrates once per run; it holds test/e2e as well, because
// a second project with the same setup would migrate and drop the same template a second time.
// `npm test` picks the folders by path. The fault matrix has its own config (vitest.chaos.config.ts).
const SERVICES_SETUP = ['test/setup/global.ts'];

export default defineConfig({
  test: {
    // Two cores: more workers only make the integration tests contend for them. Vitest 4 runs
    // the projects of one `sequence.groupOrder` in one pool, so this caps both together.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // A worker per file costs less than a process, and nothing here needs one of its own.
          pool: 'threads',
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: SERVICES_SETUP,
          // A process per file (as before): what one file leaves open dies with it.
          pool: 'forks',
        },
      },
    ],
  },
});
