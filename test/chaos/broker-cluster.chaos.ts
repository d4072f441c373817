// The fault matrix scaled out (docs/design.md, "Scaling out"): a RabbitMQ cluster of three nodes
// started by the test itself, HAProxy in front of two api+gateway processes, two bridges; every
// process is given the three nodes' URLs, starting on different nodes; writers through HAProxy
// and as SQL; observers built on the client library that know HAProxy's address only. One fault
// per scenario, then the checks of test/chaos/verify.ts: every observer has every position
// exactly once and the table rebuilt. CHAOS_PROFILE=long runs longer loads.

import { writeFileSync } from 'node:fs';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { projectPath } from '../../src/paths.js';
import { useTestDatabase } from '../helpers/db.js';
import { randomSuffix } from '../helpers/names.js';
import { waitFor } from '../helpers/wait.js';
import { type Cluster, type Member, startCluster } from './cluster.js';
import { createClusterConsumer } from './cluster-consumer.js';
import { type Haproxy, startHaproxy } from './haproxy.js';
import { loadProgress, runLoad } from './load.js';
import {
  brokerLinksOf,
  cutWhileHolding,
  leaderLockHolder,
  linkMovedOff,
  socketClientsOf,
} from './member-probes.js';
import { Observer } from './observer.js';
import { type RabbitCluster, startRabbitCluster } from './rabbit-cluster.js';
import { saveRun } from './results.js';
import { type ScenarioReport, verifyRun } from './verify.js';

const LONG = process.env.CHAOS_PROFILE === 'long';
/** Changes per second of the writer load (half SQL, half API). */
const RATE = Number(process.env.CHAOS_RATE ?? 1_000);
const LOAD_MS = LONG ? 20_000 : 6_000;
const OBSERVERS = 4;
/**
 * The node each process's URL list starts on: the bridges share one, each gateway has its own,
 * so stopping the leader bridge's node leaves the gateways' links alone, and stopping a gateway's
 * node leaves the bridges' alone.
 */
const FIRST_NODE: Record<Member, number> = { 'gateway-a': 0, 'gateway-b': 1, 'bridge-a': 2, 'bridge-b': 2 };
const GATEWAYS = ['gateway-a', 'gateway-b'] as const;
/** A link whose node stopped is on another within a backoff step or two. */
const MOVE_TIMEOUT_MS = 20_000;

const reports: ScenarioReport[] = [];
const db = useTestDatabase();
const exchange = `test.${randomSuffix()}.orders.events`;
const runPid = inject('runPid');
let brokers: RabbitCluster | undefined;
let pool: pg.Pool;

beforeAll(async () => {
  pool = db.pool({ application_name: 'psql', max: 8 });
  brokers = await startRabbitCluster({ runPid });
}, 120_000);
const startedAt = new Date().toISOString();
afterAll(async () => {
  await pool.end();
  // The exchange and queues go with the nodes' data.
  await brokers?.close();
  saveRun({
    suite: 'broker-cluster',
    profile: LONG ? 'long' : 'short',
    rate: RATE,
    loadMs: LOAD_MS,
    startedAt,
    reports,
  });
}, 120_000);
beforeEach(async () => {
  // Every scenario begins with the whole cluster: a node an earlier fault stopped boots again.
  for (const node of brokers!.nodes) if (!node.running) await brokers!.start(node);
  await pool.query(
    'TRUNCATE orders RESTART IDENTITY; TRUNCATE order_events RESTART IDENTITY; TRUNCATE order_event_batches',
  );
  await pool.query(
    "UPDATE bridge_state SET last_position = 0, confirmed_through = 0, events_confirmed_through = 0; UPDATE bridge_doorbell SET quiet_until = '-infinity'",
  );
}, 120_000);

interface Run {
  cluster: Cluster;
  brokers: RabbitCluster;
  haproxy: Haproxy;
  /** Resolves once `fraction` of the load's time has passed, with events reaching observers. */
  progress(fraction: number): Promise<void>;
  /** Said in the report: what the fault hit. */
  detail(text: string): void;
}

/** Starts the system behind HAProxy, observers and load; runs `fault` during the load; verifies. */
async function scenario(name: string, fault: (run: Run) => Promise<void>): Promise<void> {
  const nodes = brokers!;
  // An integration: a quorum queue on the per-event exchange, bound before the system starts.
  const integration = await createClusterConsumer(rotate(nodes.urls(), 1), exchange);
  let cluster: Cluster | undefined;
  let haproxy: Haproxy | undefined;
  const observers: Observer[] = [];
  let detail: string | undefined;
  // A fault that fails ends the load at once: the next scenario starts on a quiet database.
  const stopLoad = new AbortController();
  let loading: ReturnType<typeof runLoad> | undefined;
  try {
    cluster = await startCluster(
      { DATABASE_URL: db.url, AMQP_EXCHANGE: exchange, MIGRATE_ON_START: 'false' },
      (member) => ({ RABBITMQ_URL: rotate(nodes.urls(), FIRST_NODE[member]).join(',') }),
    );
    const system = cluster;
    haproxy = await startHaproxy({
      runPid,
      backends: GATEWAYS.map((m) => ({
        name: m,
        port: Number(new URL(system.url(m)).port),
      })),
    });
    const entry = haproxy.url;
    // Two of each kind of application; HAProxy's round robin spreads them over the gateways.
    for (let i = 0; i < OBSERVERS; i++)
      observers.push(new Observer(i < OBSERVERS / 2 ? 'events' : 'live', [entry]));
    let loadStarted = Number.POSITIVE_INFINITY;
    const run: Run = {
      cluster: system,
      brokers: nodes,
      haproxy,
      progress: loadProgress(LOAD_MS, observers, () => loadStarted),
      detail: (text) => {
        detail = text;
      },
    };
    loadStarted = Date.now();
    loading = runLoad({
      pool,
      apiUrls: () => [entry],
      rate: RATE,
      durationMs: LOAD_MS,
      signal: stopLoad.signal,
    });
    await fault(run);
    const load = await loading;
    const report = await verifyRun(name, pool, observers, load, integration);
    report.detail = detail;
    reports.push(report);
    console.log(`[chaos] ${name}: ${detail}`);
    expect(report.lost).toBe(0);
    expect(report.duplicates).toBe(0);
    expect(load.rateLimited, 'API writes refused by RATE_LIMIT').toBe(0);
  } finally {
    stopLoad.abort();
    await loading?.catch(() => undefined);
    for (const o of observers) o.stop();
    await integration.close();
    await cluster?.stopAll();
    const prefix = projectPath('test-output', 'chaos', `cluster-${name.replace(/\W+/g, '-')}`);
    cluster?.saveLogs(prefix);
    if (haproxy) {
      await haproxy.close();
      writeFileSync(`${prefix}-haproxy.log`, haproxy.output());
    }
  }
}

/** `list` starting at its `first` element, the rest in order after it. */
function rotate<T>(list: readonly T[], first: number): T[] {
  return list.map((_, i) => list[(first + i) % list.length]!);
}

describe.sequential('fault matrix on a broker cluster behind HAProxy', () => {
  it('stop the broker node the leader bridge publishes to', () =>
    scenario('stop the leader bridge’s broker node', async ({ cluster, brokers, progress, detail }) => {
      await progress(0.3);
      const leader = await cluster.leader();
      const feed = await waitFor(async () => (await brokerLinksOf(cluster, leader))['bridge-feed'], {
        what: `${leader}'s feed link connected`,
      });
      const node = brokers.nodeAt(feed);
      await brokers.stop(node);
      const moved = await linkMovedOff(cluster, leader, 'bridge-feed', feed, MOVE_TIMEOUT_MS);
      detail(`${leader} published to ${node.label} (${feed}); stopped it; the feed moved to ${moved}`);
    }));

  it('stop the broker node a gateway consumes from', () =>
    scenario('stop a gateway’s broker node', async ({ cluster, brokers, progress, detail }) => {
      await progress(0.3);
      // A gateway with clients, on a node the leader bridge does not publish to: the fault hits
      // its consumer alone.
      const feed = (await brokerLinksOf(cluster, await cluster.leader()))['bridge-feed'];
      const gateways = await Promise.all(
        GATEWAYS.map(async (m) => ({
          m,
          node: (await brokerLinksOf(cluster, m)).gateway,
          clients: await socketClientsOf(cluster, m),
        })),
      );
      const target = gateways
        .filter((g) => g.node)
        .sort((a, b) => Number(b.node !== feed) - Number(a.node !== feed) || b.clients - a.clients)[0];
      if (!target?.node) throw new Error(`no gateway is consuming: ${JSON.stringify(gateways)}`);
      const node = brokers.nodeAt(target.node);
      await brokers.stop(node);
      const moved = await linkMovedOff(cluster, target.m, 'gateway', target.node, MOVE_TIMEOUT_MS);
      detail(
        `${target.m} (${target.clients} clients) consumed from ${node.label} (${target.node}; the leader ` +
          `bridge published to ${feed}); stopped it; the consumer moved to ${moved}`,
      );
    }));

  it('kill -9 a gateway behind HAProxy, then start it again', () =>
    scenario('kill a gateway behind HAProxy', async ({ cluster, haproxy, progress, detail }) => {
      await progress(0.3);
      const clients = await Promise.all(GATEWAYS.map((m) => socketClientsOf(cluster, m)));
      const victim = GATEWAYS[clients[0]! >= clients[1]! ? 0 : 1]!;
      const on = Math.max(...clients);
      expect(on, 'clients on the gateway to kill').toBeGreaterThan(0);
      await cluster.kill(victim);
      await waitFor(async () => (await haproxy.servers())[victim] === 'DOWN', {
        timeoutMs: 5_000,
        what: `HAProxy taking ${victim} out`,
      });
      await progress(0.6);
      await cluster.start(victim);
      await waitFor(async () => (await haproxy.servers())[victim] === 'UP', {
        timeoutMs: 5_000,
        what: `HAProxy putting ${victim} back`,
      });
      detail(
        `${victim} (${on} clients) killed at 30 % of the load (HAProxy took it out), started again at 60 % (put back)`,
      );
    }));

  it('cut the leader bridge off PostgreSQL while it holds a batch', () =>
    scenario('cut the leader bridge off PostgreSQL', async ({ cluster, progress, detail }) => {
      await progress(0.3);
      const leader = await cluster.leader();
      // Every session of the leader's process, terminated in the statement that sees positions
      // numbered and not yet confirmed: the batch in flight is the leader's to republish, and it
      // has just lost the lock it numbered under.
      const cut = await cutWhileHolding(pool, db.name, cluster.pid(leader));
      expect(cut.every((r) => r.terminated)).toBe(true);
      expect(
        cut.some((r) => r.leads),
        'the leader lock’s session among those cut',
      ).toBe(true);
      const next = await leaderLockHolder(pool, db.name, cluster);
      detail(
        `${cut.length} sessions of ${leader} terminated (its lock session among them) while positions ` +
          `${cut[0]!.held} were numbered and unconfirmed; leader afterwards: ${next}`,
      );
    }));
});
