import { defineConfig } from 'vitest/config';

// The fault matrices: one RabbitMQ node (scenarios.chaos.ts), a three-node RabbitMQ cluster
// with the gateways behind HAProxy (broker-cluster.chaos.ts), and PostgreSQL itself crashing or
// failing over behind a TCP proxy (postgres.chaos.ts). Separate from the main suite
// because they run the whole system over and over and must have the machine to itself, one file
// at a time. `npm test` runs their short profiles after the rest (the broker cluster's: ~75 s on
// 2 cores, its three nodes' boot included; PostgreSQL's: 26–48 s on a busy box); `npm run
// test:chaos` the long ones (~5 min for the broker matrices, ~3 min for PostgreSQL's).
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
