// The live heap of a standby bridge over time: `node --expose-gc --import tsx bench/standby-heap.ts
// [minutes]` (15 by default). A standby only retries the leader lock (LEADER_RETRY_MS); it
// allocates so little that V8 rarely runs a full collection, so the heap-used the soak reads from
// /metrics climbs until one does. Here a full collection runs before each reading, every 15 s, so
// what grows is what is kept. Its own database, dropped at the end; the lock is held by another
// session for the whole run.

import pg from 'pg';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createBridge } from '../src/bridge/bridge.js';
import { LEADER_LOCK_KEY_SQL } from '../src/bridge/leader-lock.js';
import { loadConfig } from '../src/config.js';
import { migrate } from '../src/db/migrate.js';
import { createLogger } from '../src/log.js';
import { admin } from './lib/database.js';
import { loadBenchSettings, withDatabase } from './lib/settings.js';
import { sleep } from './lib/wait-for.js';

const minutes = Number(process.argv[2] ?? 15);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('standby-heap: run it with node --expose-gc --import tsx bench/standby-heap.ts');
  process.exit(2);
}
const settings = loadBenchSettings();
const name = 'orders_live_bench_standby_heap';
const url = withDatabase(settings.adminUrl, name);
await admin(settings, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
await admin(settings, (c) => c.query(`CREATE DATABASE ${name}`));
try {
  await migrate(url, { direction: 'up', log: createLogger('warn') });
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  await holder.query(`SELECT pg_advisory_lock(${LEADER_LOCK_KEY_SQL})`);
  const config = loadConfig({ DATABASE_URL: url });
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const bridge = createBridge({
    databaseUrl: url,
    rabbitmqUrls: config.rabbitmqUrls,
    exchange: 'bench.standby-heap.orders.events',
    config: config.bridge,
    pool,
    registry,
    log: createLogger('warn'),
  });
  await bridge.start();
  const started = performance.now();
  for (let i = 0; i <= minutes * 4; i++) {
    await registry.metrics(); // as a scrape would
    gc();
    gc();
    const heap = process.memoryUsage().heapUsed / 2 ** 20;
    console.log(
      `${((performance.now() - started) / 1000).toFixed(0).padStart(5)} s  live heap ${heap.toFixed(3)} MiB  ${bridge.state}`,
    );
    await sleep(15_000);
  }
  await bridge.stop();
  await pool.end();
  await holder.end();
} finally {
  await admin(settings, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
