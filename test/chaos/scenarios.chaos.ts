// The fault matrix (the promise of docs/design.md, from a user's side): the system as four
// processes, a mixed API + SQL write load, observers built on the client library — and
// one fault per scenario. After a quiet period every observer must have every position exactly
// once and the table rebuilt exactly (test/chaos/verify.ts). CHAOS_PROFILE=long runs longer loads.

import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { projectPath } from '../../src/paths.js';
import { closeBrokerConnections, createTestConsumer, useExchange } from '../helpers/amqp.js';
import { useTestDatabase } from '../helpers/db.js';
import { RABBITMQ_URL } from '../helpers/names.js';
import { waitFor } from '../helpers/wait.js';
import { type Cluster, startCluster } from './cluster.js';
import { loadProgress, runLoad } from './load.js';
import { Observer } from './observer.js';
import { saveRun } from './results.js';
import { startProxy } from './tcp-proxy.js';
import { type ScenarioReport, verifyRun } from './verify.js';

const LONG = process.env.CHAOS_PROFILE === 'long';
/** Changes per second of the writer load (half SQL, half API). */
const RATE = Number(process.env.CHAOS_RATE ?? 1_000);
const LOAD_MS = LONG ? 20_000 : 6_000;
const OBSERVERS = 4;

const reports: ScenarioReport[] = [];
const db = useTestDatabase();
const exchange = useExchange();
let pool: pg.Pool;

beforeAll(() => {
  pool = db.pool({ application_name: 'psql', max: 8 });
});
const startedAt = new Date().toISOString();
afterAll(async () => {
  await pool.end();
  // The on-demand long run keeps its results with the code (README links them), beside the
  // broker cluster's; a series (scripts/chaos-series.ts) writes them itself, every run together.
  saveRun({
    suite: 'single-node',
    profile: LONG ? 'long' : 'short',
    rate: RATE,
    loadMs: LOAD_MS,
    startedAt,
    reports,
  });
});
beforeEach(async () => {
  await pool.query(
    'TRUNCATE orders RESTART IDENTITY; TRUNCATE order_events RESTART IDENTITY; TRUNCATE order_event_batches',
  );
  await pool.query(
    "UPDATE bridge_state SET last_position = 0, confirmed_through = 0, events_confirmed_through = 0; UPDATE bridge_doorbell SET quiet_until = '-infinity'",
  );
});

interface Run {
  cluster: Cluster;
  observers: Observer[];
  /** Resolves once `fraction` of the load's time has passed, with events reaching observers. */
  progress(fraction: number): Promise<void>;
}

/** Starts the cluster, observers and load; runs `fault` during the load; verifies. */
async function scenario(
  name: string,
  fault: (run: Run) => Promise<void>,
  rabbitmqUrl = RABBITMQ_URL,
): Promise<void> {
  // An integration: one queue on the per-event exchange, bound before the system starts.
  const integration = await createTestConsumer(exchange);
  const cluster = await startCluster({
    DATABASE_URL: db.url,
    RABBITMQ_URL: rabbitmqUrl,
    AMQP_EXCHANGE: exchange,
    MIGRATE_ON_START: 'false',
  });
  // Two of each kind of application, each kind starting on either gateway.
  const observers = Array.from({ length: OBSERVERS }, (_, i) => {
    const urls = cluster.allGatewayUrls();
    return new Observer(i < OBSERVERS / 2 ? 'events' : 'live', i % 2 === 0 ? urls : [...urls].reverse());
  });
  try {
    let loadStarted = Number.POSITIVE_INFINITY;
    const run: Run = {
      cluster,
      observers,
      // A fault goes in once that share of the load's time has passed and events are flowing.
      progress: loadProgress(LOAD_MS, observers, () => loadStarted),
    };
    loadStarted = Date.now();
    const loading = runLoad({ pool, apiUrls: () => cluster.gatewayUrls(), rate: RATE, durationMs: LOAD_MS });
    await fault(run);
    const load = await loading;
    const report = await verifyRun(name, pool, observers, load, integration);
    reports.push(report);
    expect(report.lost).toBe(0);
    expect(report.duplicates).toBe(0);
    expect(load.rateLimited, 'API writes refused by RATE_LIMIT').toBe(0);
  } finally {
    for (const o of observers) o.stop();
    await integration.close();
    await cluster.stopAll();
    cluster.saveLogs(projectPath('test-output', 'chaos', name.replace(/\W+/g, '-')));
  }
}

describe.sequential('fault matrix', () => {
  it('kill -9 the leader bridge', () =>
    scenario('kill the leader bridge', async ({ cluster, progress }) => {
      await progress(0.3);
      await cluster.kill(await cluster.leader());
    }));

  it('kill -9 the standby bridge', () =>
    scenario('kill the standby bridge', async ({ cluster, progress }) => {
      await progress(0.3);
      const leader = await cluster.leader();
      await cluster.kill(leader === 'bridge-a' ? 'bridge-b' : 'bridge-a');
    }));

  it('kill -9 both bridges, then restart them', () =>
    scenario('kill both bridges and restart', async ({ cluster, progress }) => {
      await progress(0.3);
      await Promise.all([cluster.kill('bridge-a'), cluster.kill('bridge-b')]);
      await Promise.all([cluster.start('bridge-a'), cluster.start('bridge-b')]);
    }));

  it('kill -9 a gateway with clients on it', () =>
    scenario('kill a gateway', async ({ cluster, progress }) => {
      await progress(0.3);
      await cluster.kill('gateway-a');
    }));

  it('close the system’s RabbitMQ connections, twice', () =>
    scenario('close RabbitMQ connections twice', async ({ progress }) => {
      await progress(0.25);
      expect(await closeBrokerConnections(exchange)).toBeGreaterThanOrEqual(3);
      await progress(0.6);
      expect(await closeBrokerConnections(exchange)).toBeGreaterThanOrEqual(3);
    }));

  it('terminate every PostgreSQL backend of the system', () =>
    scenario('terminate PostgreSQL backends', async ({ progress }) => {
      await progress(0.3);
      const { rowCount } = await pool.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'orders-live%'",
        [db.name],
      );
      // Both bridges' lock sessions and LISTEN, and the gateways' pools, at the least.
      expect(rowCount).toBeGreaterThanOrEqual(4);
    }));

  it('stall the link to RabbitMQ for 5 s', async () => {
    const proxy = await startProxy(Number(new URL(RABBITMQ_URL).port || 5672));
    const viaProxy = new URL(RABBITMQ_URL);
    viaProxy.port = String(proxy.port);
    try {
      await scenario(
        'stall RabbitMQ for 5 s',
        async ({ progress }) => {
          await progress(0.2);
          proxy.stall();
          const stalledAt = Date.now();
          await waitFor(() => Date.now() - stalledAt >= 5_000, {
            timeoutMs: 6_000,
            intervalMs: 100,
            what: 'the 5 s stall',
          });
          proxy.resume();
        },
        viaProxy.toString(),
      );
    } finally {
      await proxy.close();
    }
  });

  it('restart the whole system mid-load', () =>
    scenario('restart everything', async ({ cluster, progress }) => {
      await progress(0.3);
      await Promise.all(
        ['gateway-a', 'gateway-b', 'bridge-a', 'bridge-b'].map((m) => cluster.kill(m as never)),
      );
      await Promise.all(
        ['gateway-a', 'gateway-b', 'bridge-a', 'bridge-b'].map((m) => cluster.start(m as never)),
      );
    }));
});
