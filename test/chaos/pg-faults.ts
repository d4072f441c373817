// Faults of PostgreSQL itself for the fault scenarios of postgres.chaos.ts, and what is checked
// after them: the primary crashed while positions are numbered and not yet confirmed, how long
// the system takes to bring live events again, and whether every position an observer (or the
// integration queue) was delivered still names the same event in the log.

import pg from 'pg';
import type { TestConsumer } from '../helpers/amqp.js';
import { waitFor } from '../helpers/wait.js';
import type { Cluster, Member } from './cluster.js';
import { fingerprint, type Observer } from './observer.js';
import type { PgCluster, PgNode } from './pg-cluster.js';

/** Positions numbered and not yet confirmed in bridge_state, `first–last`, as a probe saw them. */
const HELD_SQL = `SELECT CASE WHEN last_position = confirmed_through + 1 THEN last_position::text
    ELSE confirmed_through + 1 || '–' || last_position END AS held
  FROM bridge_state WHERE id = 1 AND last_position > confirmed_through`;

/**
 * Waits until the log has positions numbered and not yet confirmed (a batch in flight, or its
 * confirm not yet written), then crashes the primary (`stop -m immediate`). Returns what the
 * probe saw, and when the crash command was given.
 */
export async function crashWhileNumbering(
  cluster: PgCluster,
  pool: pg.Pool,
): Promise<{ held: string; crashedAt: number }> {
  const held = await waitFor(async () => (await pool.query<{ held: string }>(HELD_SQL)).rows[0]?.held, {
    timeoutMs: 10_000,
    intervalMs: 5,
    what: 'positions numbered and not yet confirmed',
  });
  const crashedAt = Date.now();
  await cluster.crash();
  return { held, crashedAt };
}

/**
 * When (ms since the epoch) every observer had been delivered an event captured at or after
 * `since` (the clock is the machine's, PostgreSQL's and this process's alike). One such event is
 * written here, as psql would, for when the load ended before the database came back (a crash
 * and start took up to 3.5 s on the busy 2-core box).
 */
export async function liveAgain(
  pool: pg.Pool,
  observers: readonly Observer[],
  since: number,
  timeoutMs = 30_000,
): Promise<number> {
  await waitFor(
    () => pool.query("INSERT INTO orders (customer_name, product_name) VALUES ('probe', 'after the fault')"),
    { timeoutMs, what: 'a write after the fault' },
  );
  await waitFor(() => observers.every((o) => o.stats.lastOccurredAt >= since), {
    timeoutMs,
    intervalMs: 10,
    what: `every observer delivered an event captured after ${new Date(since).toISOString()}`,
  });
  return Date.now();
}

/**
 * When a bridge logged that it became the leader, at or after `since` (a bridge may lead again
 * before the test has seen the database up).
 */
export async function leaderAgain(cluster: Cluster, since: number, timeoutMs = 30_000): Promise<number> {
  const at = await waitFor(
    () =>
      (['bridge-a', 'bridge-b'] as const)
        .flatMap((m) => cluster.logs(m))
        .find((l) => l.msg === 'became leader' && Number(l.time) >= since)?.time,
    { timeoutMs, what: 'a bridge leading again' },
  );
  return Number(at);
}

/** When every gateway's API read orders again (GET /orders?limit=1), asked from now on. */
export async function apiAgain(cluster: Cluster, timeoutMs = 30_000): Promise<number> {
  const answering = new Set<string>();
  await waitFor(
    async () => {
      const urls = cluster.gatewayUrls();
      for (const url of urls) {
        if (answering.has(url)) continue;
        const res = await fetch(`${url}/orders?limit=1`).catch(() => null);
        await res?.body?.cancel();
        if (res?.status === 200) answering.add(url);
      }
      return urls.every((u) => answering.has(u));
    },
    { timeoutMs, intervalMs: 10, what: 'every gateway reading orders again' },
  );
  return Date.now();
}

/** What the members say they did on the feed, summed over both of each (their /metrics). */
export interface FeedCounts {
  /** Events the bridges published and had confirmed, republished ones again. */
  published: number;
  /** Repeated positions the gateways dropped (a republish after a crash). */
  duplicatesDropped: number;
  /** Events the gateways read from the log to fill a gap. */
  gapFilled: number;
}

export async function feedCounts(cluster: Cluster): Promise<FeedCounts> {
  const metrics = async (members: readonly Member[]) =>
    (await Promise.all(members.map(async (m) => (await fetch(`${cluster.url(m)}/metrics`)).text()))).join(
      '\n',
    );
  const sum = (text: string, name: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  const [bridges, gateways] = await Promise.all([
    metrics(['bridge-a', 'bridge-b']),
    metrics(['gateway-a', 'gateway-b']),
  ]);
  return {
    published: sum(bridges, 'orders_live_bridge_published_total'),
    duplicatesDropped: sum(gateways, 'orders_live_gateway_duplicates_dropped_total'),
    gapFilled: sum(gateways, 'orders_live_gateway_gap_filled_total'),
  };
}

/** Position → fingerprint (observer.ts) of every event the log holds. */
const LOG_SQL = `SELECT position::int,
    coalesce(order_id::text, 'null') || ':' || coalesce(version::text, 'null') || ':' || op
    || '|' || txid
    || '|' || to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    || '|' || to_char(published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS fp
  FROM order_event_log`;

export interface PositionCheck {
  /** Positions compared with the log (each observer's, then the integration queue's). */
  compared: number;
  /** Positions delivered that the log no longer holds: retention deleted them. */
  retained: number;
  /** Positions whose event the log names differently from what was delivered (the first 10). */
  mismatches: { who: string; position: number; delivered: string; log: string | null }[];
}

/**
 * Compares what each observer and the integration queue were delivered at each position with the
 * event the log names there now. Positions below the log's oldest are counted apart (retention);
 * a position missing above it is a mismatch.
 */
export async function comparePositions(
  pool: pg.Pool,
  observers: readonly Observer[],
  integration: TestConsumer,
): Promise<PositionCheck> {
  const { rows } = await pool.query<{ position: number; fp: string }>(LOG_SQL);
  const log = new Map(rows.map((r) => [r.position, r.fp]));
  let oldest = Number.POSITIVE_INFINITY;
  for (const position of log.keys()) oldest = Math.min(oldest, position);
  const check: PositionCheck = { compared: 0, retained: 0, mismatches: [] };
  const compare = (who: string, position: number, delivered: string) => {
    if (position < oldest) {
      check.retained++;
      return;
    }
    check.compared++;
    const logged = log.get(position) ?? null;
    if (logged !== delivered && check.mismatches.length < 10)
      check.mismatches.push({ who, position, delivered, log: logged });
  };
  for (const [i, o] of observers.entries())
    for (const [position, delivered] of o.seen) compare(`observer ${i} (${o.kind})`, position, delivered);
  for (const { event } of integration.messages) compare('integration', event.position, fingerprint(event));
  return check;
}

/** p50 and max of a list of milliseconds, for the reports. */
export function summarizeMs(values: readonly number[]): string {
  if (values.length === 0) return 'none';
  const sorted = [...values].sort((a, b) => a - b);
  const p50 = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return values.length === 1 ? `${p50} ms` : `p50 ${p50} ms, max ${sorted.at(-1)} ms (${values.length})`;
}

/**
 * Cuts a standby off its primary (an empty primary_conninfo, reloaded): what the primary commits
 * from now on the standby never gets, as when the link to an asynchronous standby breaks.
 */
export async function detachStandby(standby: PgNode): Promise<void> {
  const client = new pg.Client({ connectionString: standby.url('postgres') });
  await client.connect();
  try {
    await client.query("ALTER SYSTEM SET primary_conninfo = ''");
    await client.query('SELECT pg_reload_conf()');
    await waitFor(async () => (await client.query('SELECT 1 FROM pg_stat_wal_receiver')).rowCount === 0, {
      timeoutMs: 10_000,
      what: `${standby.label} to stop receiving`,
    });
  } finally {
    await client.end();
  }
}
