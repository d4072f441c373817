// PostgreSQL itself fails (issue 29): the system as four processes reaches a primary of the test's
// own (pg-cluster.ts) through a TCP proxy (tcp-proxy.ts) — one address that survives a failover.
// Under a mixed API + SQL write load, with observers on the client library and an integration
// queue, the primary is crashed (`stop -m immediate`) while positions are numbered and not yet
// confirmed, and started again, or a synchronous standby is promoted behind the proxy. The
// processes keep running and must reconnect by themselves. After each fault, once the load
// stops: the checks of verify.ts, and every position an observer or the integration queue was
// delivered still names the same event in the log (pg-faults.ts). CHAOS_PROFILE=long crashes 20
// times, and once more while the per-event relay trails the feed and retention deletes.

import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { projectPath } from '../../src/paths.js';
import { createTestConsumer, type TestConsumer, useExchange } from '../helpers/amqp.js';
import { RABBITMQ_URL } from '../helpers/names.js';
import { waitFor } from '../helpers/wait.js';
import { type Cluster, startCluster } from './cluster.js';
import { type LoadResult, runLoad } from './load.js';
import { Observer } from './observer.js';
import { createPgCluster, type PgCluster, type PgNode } from './pg-cluster.js';
import {
  apiAgain,
  comparePositions,
  crashWhileNumbering,
  detachStandby,
  type FeedCounts,
  feedCounts,
  leaderAgain,
  liveAgain,
  type PositionCheck,
  summarizeMs,
} from './pg-faults.js';
import { listPgClusters } from './postgresql-common.js';
import { saveRun } from './results.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';
import { type ScenarioReport, verifyRun } from './verify.js';

const LONG = process.env.CHAOS_PROFILE === 'long';
/** Changes per second of the writer load (half SQL, half API). */
const RATE = Number(process.env.CHAOS_RATE ?? 1_000);
/** Each round's load: one fault in it, then the checks. */
const LOAD_MS = 6_000;
const CRASHES = LONG ? 20 : 1;
const OBSERVERS = 4;
/** A crash comes early enough in its round that this much load follows it, mostly after the restart. */
const LOAD_AFTER_CRASH_MS = 3_000;
/** A round's fault, its recovery and checks; 20 rounds must fit the test's time. */
const ROUND_TIMEOUT_MS = 60_000;

const runPid = inject('runPid');
const exchange = useExchange();
const reports: ScenarioReport[] = [];
const nodeNames = new Set<string>();
const startedAt = new Date().toISOString();

afterAll(async () => {
  saveRun({
    suite: 'postgres',
    profile: LONG ? 'long' : 'short',
    rate: RATE,
    loadMs: LOAD_MS,
    startedAt,
    reports,
  });
  // Every cluster of this file was dropped (each scenario drops its own, failed or not).
  expect((await listPgClusters()).filter((c) => nodeNames.has(c.name))).toEqual([]);
});

interface System {
  pg: PgCluster;
  proxy: TcpProxy;
  /** The writers' SQL and the checks, through the proxy as the system's connections. */
  pool: pg.Pool;
  cluster: Cluster;
  observers: Observer[];
  integration: TestConsumer;
}

/**
 * A private PostgreSQL (and a standby when asked) behind the proxy, the system on it, observers
 * and an integration queue bound to the per-event exchange; runs `body`, then removes all of it.
 */
async function withSystem(
  name: string,
  options: { standby?: 'sync' | 'async'; env?: Record<string, string>; liveOnly?: boolean },
  body: (system: System) => Promise<void>,
): Promise<void> {
  const database = await createPgCluster({ runPid, standby: options.standby });
  for (const node of database.nodes) nodeNames.add(node.name);
  let proxy: TcpProxy | undefined;
  let pool: pg.Pool | undefined;
  let integration: TestConsumer | undefined;
  let cluster: Cluster | undefined;
  const observers: Observer[] = [];
  try {
    const direct = new URL(await database.migrate());
    proxy = await startProxy(database.primary.port);
    direct.port = String(proxy.port);
    const url = direct.toString();
    pool = new pg.Pool({ connectionString: url, application_name: 'psql', max: 8 });
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    integration = await createTestConsumer(exchange);
    cluster = await startCluster({
      DATABASE_URL: url,
      RABBITMQ_URL,
      AMQP_EXCHANGE: exchange,
      MIGRATE_ON_START: 'false',
      ...options.env,
    });
    const urls = cluster.allGatewayUrls();
    for (let i = 0; i < OBSERVERS; i++)
      observers.push(
        new Observer(
          i < OBSERVERS / 2 && !options.liveOnly ? 'events' : 'live',
          i % 2 === 0 ? urls : [...urls].reverse(),
        ),
      );
    await body({ pg: database, proxy, pool, cluster, observers, integration });
  } finally {
    for (const o of observers) o.stop();
    await integration?.close();
    await cluster?.stopAll();
    cluster?.saveLogs(projectPath('test-output', 'chaos', `pg-${name.replace(/\W+/g, '-')}`));
    await pool?.end();
    await proxy?.close();
    await database.close();
  }
}

/** What a fault reports: positions in flight, and when the database took connections again. */
interface FaultResult {
  held: string;
  /** When the crash command was given. */
  crashedAt: number;
  /** When the database took connections again (started, or promoted with the proxy re-targeted). */
  upAt: number;
}

interface Round {
  report: ScenarioReport;
  load: LoadResult;
  fault: FaultResult;
  /** From the crash until the database took connections again. */
  downMs: number;
  /** From the crash until a bridge led again. */
  leaderMs: number;
  /** From the crash until every gateway's API read orders again. */
  apiMs: number;
  /** From the crash until every observer had an event captured after the database's return. */
  liveMs: number;
  positions: PositionCheck;
  /** Positions retention had deleted by the checks. */
  deleted: number;
}

/**
 * One round: the load, `fault` once `faultAtMs` of it passed (with events flowing), the load's
 * end, and the checks. `last`: the observers stop after it.
 */
async function round(
  system: System,
  name: string,
  options: { faultAtMs: number; last: boolean; retention?: boolean },
  fault: (system: System) => Promise<FaultResult>,
): Promise<Round> {
  const { pool, observers, cluster, integration } = system;
  const stopLoad = new AbortController();
  const started = Date.now();
  const loading = runLoad({
    pool,
    apiUrls: () => cluster.gatewayUrls(),
    rate: RATE,
    durationMs: LOAD_MS,
    signal: stopLoad.signal,
  });
  try {
    await waitFor(
      () => Date.now() - started >= options.faultAtMs && observers.some((o) => o.stats.received >= 100),
      { timeoutMs: LOAD_MS + 30_000, what: `${options.faultAtMs} ms of the load, events flowing` },
    );
    const result = await fault(system);
    const [liveAt, leaderAt, apiAt] = await Promise.all([
      liveAgain(pool, observers, result.upAt),
      leaderAgain(cluster, result.crashedAt),
      apiAgain(cluster),
    ]);
    const times = {
      downMs: result.upAt - result.crashedAt,
      leaderMs: leaderAt - result.crashedAt,
      apiMs: apiAt - result.crashedAt,
      liveMs: liveAt - result.crashedAt,
    };
    const load = await loading;
    const report = await verifyRun(name, pool, observers, load, integration, {
      keepObservers: !options.last,
      retention: options.retention,
    });
    const positions = await comparePositions(pool, observers, integration);
    expect(positions.mismatches).toEqual([]);
    const { rows } = await pool.query<{ deleted: number }>(
      'SELECT (coalesce(min(first_position), 1) - 1)::int AS deleted FROM order_event_batches',
    );
    return { report, load, fault: result, ...times, positions, deleted: rows[0]!.deleted };
  } finally {
    stopLoad.abort();
    await loading.catch(() => undefined);
  }
}

/** The primary crashed while positions are in flight, then started again at once. */
async function crashAndStart({ pg: database, pool }: System): Promise<FaultResult> {
  const { held, crashedAt } = await crashWhileNumbering(database, pool);
  await database.start();
  return { held, crashedAt, upAt: Date.now() };
}

/** Rounds of load, each with a crash at a random moment (the first at 30 % in the short profile). */
async function crashRounds(
  name: string,
  crashes: number,
  options: { env?: Record<string, string>; retention?: boolean } = {},
): Promise<{ rounds: Round[]; feed: FeedCounts }> {
  const rounds: Round[] = [];
  let feed: FeedCounts | undefined;
  await withSystem(name, { env: options.env }, async (system) => {
    for (let i = 0; i < crashes; i++) {
      const latest = LOAD_MS - LOAD_AFTER_CRASH_MS;
      const faultAtMs = LONG
        ? Math.round(0.1 * LOAD_MS + Math.random() * (latest - 0.1 * LOAD_MS))
        : 0.3 * LOAD_MS;
      const last = i === crashes - 1;
      rounds.push(
        await round(system, name, { faultAtMs, last, retention: options.retention }, crashAndStart),
      );
    }
    feed = await feedCounts(system.cluster);
  });
  return { rounds, feed: feed! };
}

/** The scenario's report: the last round's (its counts cover every round), with the rounds' sums. */
function summarize(name: string, rounds: readonly Round[], feed: FeedCounts, what: string): ScenarioReport {
  const last = rounds.at(-1)!;
  const held = rounds.map((r) => r.fault.held);
  const report: ScenarioReport = {
    ...last.report,
    scenario: name,
    confirmedChanges: rounds.reduce((sum, r) => sum + r.load.committed.size, 0),
    failedWrites: rounds.reduce((sum, r) => sum + r.load.failed, 0),
    settleMs: Math.max(...rounds.map((r) => r.report.settleMs)),
    faults: rounds.length,
    detail:
      `${what}; numbered, unconfirmed when the probe last looked: ${held.slice(0, 3).join(', ')}` +
      `${held.length > 3 ? ', …' : ''}; from the crash: the database up again in ` +
      `${summarizeMs(rounds.map((r) => r.downMs))}, a bridge leading in ${summarizeMs(rounds.map((r) => r.leaderMs))}, ` +
      `every gateway's API reading in ${summarizeMs(rounds.map((r) => r.apiMs))}, every observer live ` +
      `(an event captured after the database was up) in ${summarizeMs(rounds.map((r) => r.liveMs))}; ` +
      `the bridges published ${feed.published} events on the feed for ${last.report.written} positions ` +
      `(${feed.published - last.report.written} again after a crash), the gateways dropped ` +
      `${feed.duplicatesDropped} repeated positions and read ${feed.gapFilled} from the log to fill gaps; ` +
      `${last.positions.compared} delivered positions compared with the log, 0 differ` +
      (last.deleted > 0 ? `; retention had deleted positions 1–${last.deleted}` : ''),
  };
  console.log(`[chaos] ${name}: ${report.detail}`);
  return report;
}

describe.sequential('PostgreSQL itself fails', () => {
  it(
    `crash the primary (stop -m immediate) ${CRASHES === 1 ? 'once' : `${CRASHES} times`} under load, and start it again`,
    async () => {
      const name = 'crash the PostgreSQL primary';
      const { rounds, feed } = await crashRounds(name, CRASHES);
      reports.push(
        summarize(
          name,
          rounds,
          feed,
          `${CRASHES} crash${CRASHES === 1 ? '' : 'es'}, ${LOAD_MS / 1000} s of load each`,
        ),
      );
    },
    CRASHES * ROUND_TIMEOUT_MS,
  );

  it.runIf(LONG)(
    'crash the primary while the per-event relay trails the feed and retention deletes',
    async () => {
      const name = 'crash the primary, retention on';
      // 500 events/s on the per-event exchange while the feed is busy: it trails the feed by
      // seconds when a crash comes, and retention (run by each new leader) waits for it.
      const crashes = 3;
      const { rounds, feed } = await crashRounds(name, crashes, {
        env: { EVENT_RETENTION: '5s', BRIDGE_EVENTS_RATE: '500' },
        retention: true,
      });
      expect(rounds.at(-1)!.deleted, 'positions deleted by retention').toBeGreaterThan(0);
      reports.push(
        summarize(name, rounds, feed, `${crashes} crashes, EVENT_RETENTION=5s, BRIDGE_EVENTS_RATE=500`),
      );
    },
    3 * ROUND_TIMEOUT_MS,
  );

  it('crash the primary and fail over to its synchronous standby behind the proxy', async () => {
    const name = 'fail over to a synchronous standby';
    let standby: PgNode | undefined;
    let result: Round | undefined;
    let feed: FeedCounts | undefined;
    await withSystem(name, { standby: 'sync' }, async (system) => {
      standby = system.pg.nodes[1]!;
      result = await round(system, name, { faultAtMs: 0.3 * LOAD_MS, last: true }, async (s) => {
        const { held, crashedAt } = await crashWhileNumbering(s.pg, s.pool);
        await s.pg.promote(standby!);
        s.proxy.retarget(standby!.port);
        return { held, crashedAt, upAt: Date.now() };
      });
      feed = await feedCounts(system.cluster);
    });
    expect(result!.report.resyncs).toBe(0);
    reports.push(
      summarize(
        name,
        [result!],
        feed!,
        `the primary crashed, ${standby!.label} (synchronous) promoted, the proxy re-targeted`,
      ),
    );
  });

  it('crash the primary and fail over to an asynchronous standby that missed its last commits', async () => {
    // The standby is cut off, the primary goes on committing and numbering what clients then see,
    // and is crashed: those positions are gone, and the promoted standby numbers others under
    // them. The log's new epoch must make every client that saw one reload; none may keep a view
    // that differs from the table. Only clients that reload (liveOrders) take part: events() ends
    // with ResyncError by design, and its application decides.
    const name = 'fail over to an asynchronous standby';
    let detail = '';
    let report: ScenarioReport | undefined;
    await withSystem(name, { standby: 'async', liveOnly: true }, async (system) => {
      const { pool, observers, cluster } = system;
      const standby = system.pg.nodes[1]!;
      const stopLoad = new AbortController();
      const loading = runLoad({
        pool,
        apiUrls: () => cluster.gatewayUrls(),
        rate: RATE,
        durationMs: 2 * LOAD_MS,
        signal: stopLoad.signal,
      });
      let cut = 0;
      let crashedAt = 0;
      let upAt = 0;
      try {
        await waitFor(() => observers.every((o) => o.stats.received >= 50), {
          timeoutMs: 60_000,
          what: 'events flowing to every observer',
        });
        await detachStandby(standby);
        const { rows } = await pool.query<{ p: number }>('SELECT last_position::int AS p FROM bridge_state');
        cut = rows[0]!.p;
        // Positions the standby will not have, delivered to every client before the crash.
        await waitFor(() => observers.every((o) => (o.lastByEpoch.get(1) ?? 0) > cut + 100), {
          timeoutMs: 30_000,
          what: `every observer past position ${cut + 100} on the primary alone`,
        });
        crashedAt = Date.now();
        await system.pg.crash();
        await system.pg.promote(standby);
        system.proxy.retarget(standby.port);
        upAt = Date.now();
        await loading;
      } finally {
        stopLoad.abort();
        await loading.catch(() => undefined);
      }
      const epochs = await pool.query<{ epoch: number; forked_after: number }>(
        'SELECT epoch, forked_after::int FROM log_epochs ORDER BY epoch',
      );
      expect(epochs.rows.map((r) => r.epoch)).toEqual([1, 2]);
      const fork = epochs.rows[1]!.forked_after;
      const lostHigh = Math.max(...observers.map((o) => o.lastByEpoch.get(1) ?? 0));
      expect(fork).toBeLessThan(lostHigh); // clients saw positions the new primary does not have
      // Settled: every client's set equals the table, after one more change to show it is live.
      await pool.query("UPDATE orders SET status = 'delivered' WHERE id = (SELECT min(id) FROM orders)");
      const table = async () =>
        (
          await pool.query(
            'SELECT id::int, customer_name, product_name, status, version FROM orders ORDER BY id',
          )
        ).rows;
      const view = (o: Observer) =>
        o
          .orders()
          .map(({ id, customer_name, product_name, status, version }) => ({
            id,
            customer_name,
            product_name,
            status,
            version,
          }))
          .sort((a, b) => a.id - b.id);
      let differing = observers.length;
      const quietStarted = Date.now();
      await waitFor(
        async () => {
          const rows = JSON.stringify(await table());
          differing = observers.filter((o) => JSON.stringify(view(o)) !== rows).length;
          return differing === 0;
        },
        { timeoutMs: 60_000, intervalMs: 250, what: 'every observer equal to the table' },
      ).catch(() => undefined);
      expect(differing, 'observers whose orders differ from the table').toBe(0);
      for (const o of observers) {
        // A client that was delivered a position past the fork was told, and reloaded.
        if ((o.lastByEpoch.get(1) ?? 0) > fork) expect(o.stats.resyncs).toBeGreaterThan(0);
        expect(o.stats.duplicates).toBe(0);
        expect(o.stats.gaps).toEqual([]);
      }
      const { rows } = await pool.query<{ max: number; n: number }>(
        'SELECT max(position)::int AS max, count(*)::int AS n FROM order_event_log',
      );
      const load = await loading;
      const resyncs = observers.reduce((sum, o) => sum + o.stats.resyncs, 0);
      detail =
        `the standby cut off at position ${cut}, the primary numbered on to ${lostHigh} (clients saw it), ` +
        `crashed; the standby promoted with its log at ${fork} and the proxy re-targeted in ` +
        `${upAt - crashedAt} ms; epoch 2 forked after ${fork}: ${lostHigh - fork} positions lost and numbered ` +
        `again for other events; ${resyncs} reloads, every one of the ${observers.length} clients equal to ` +
        `the table ${Date.now() - quietStarted} ms after the load ended`;
      report = {
        scenario: name,
        written: rows[0]!.n,
        confirmedChanges: load.committed.size,
        failedWrites: load.failed,
        delivered: observers.map((o) => o.stats.received),
        lost: 0,
        duplicates: observers.reduce((sum, o) => sum + o.stats.duplicates, 0),
        gaps: observers.reduce((sum, o) => sum + o.stats.gaps.length, 0),
        gatewayRepeats: observers.reduce((sum, o) => sum + o.stats.gatewayRepeats, 0),
        gatewayGaps: observers.reduce((sum, o) => sum + o.stats.gatewayGaps, 0),
        resyncs,
        maxLagMs: Math.max(...observers.map((o) => o.stats.maxLagMs)),
        settleMs: Date.now() - quietStarted,
        integrationRepeats: 0,
        faults: 1,
        detail,
      };
    });
    console.log(`[chaos] ${name}: ${detail}`);
    reports.push(report!);
  }, 120_000);
});
