// What the running members of the system say about themselves, asked as an operator would: the
// broker node each AMQP link is on (/readyz), the socket clients of a gateway (/metrics), which
// bridge's session holds the leader lock and which sessions are a process's (PostgreSQL's views,
// matched to the process by its sockets' ports).

import type pg from 'pg';
import { waitFor } from '../helpers/wait.js';
import type { Cluster, Member } from './cluster.js';
import { localPortsOf } from './process-sockets.js';

/** The broker node (`host:port`, null: not connected) of each AMQP link of a member, from /readyz (200 or 503). */
export async function brokerLinksOf(
  cluster: Cluster,
  member: Member,
): Promise<Record<string, string | null>> {
  const res = await fetch(`${cluster.url(member)}/readyz`);
  const body = (await res.json()) as { brokers?: Record<string, string | null> };
  if (!body.brokers) throw new Error(`${member}'s /readyz names no broker nodes`);
  return body.brokers;
}

/** Waits until the member's `link` is connected to a node other than `not`; returns that node. */
export function linkMovedOff(
  cluster: Cluster,
  member: Member,
  link: string,
  not: string,
  timeoutMs: number,
): Promise<string> {
  return waitFor(
    async () => {
      const node = (await brokerLinksOf(cluster, member))[link];
      return node && node !== not ? node : null;
    },
    { timeoutMs, intervalMs: 100, what: `${member}'s ${link} link on a node other than ${not}` },
  );
}

/** Socket clients connected to the gateway now (its orders_live_gateway_clients gauge). */
export async function socketClientsOf(cluster: Cluster, member: Member): Promise<number> {
  const metrics = await (await fetch(`${cluster.url(member)}/metrics`)).text();
  const match = /^orders_live_gateway_clients (\d+)/m.exec(metrics);
  if (!match) throw new Error(`${member}'s /metrics has no orders_live_gateway_clients`);
  return Number(match[1]);
}

/** The bridge whose session holds the leader lock, once one does. */
export function leaderLockHolder(pool: pg.Pool, database: string, cluster: Cluster): Promise<Member> {
  return waitFor(
    async () => {
      const { rows } = await pool.query<{ client_port: number }>(
        `SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND a.datname = $1`,
        [database],
      );
      const port = rows[0]?.client_port;
      return (['bridge-a', 'bridge-b'] as const).find(
        (m) => port && localPortsOf(cluster.pid(m)).includes(port),
      );
    },
    { timeoutMs: 30_000, what: 'a bridge holding the leader lock' },
  );
}

export interface CutSession {
  terminated: boolean;
  /** The session held the leader lock. */
  leads: boolean;
  /** Positions numbered and not yet confirmed when it was cut, `first–last` (or the one). */
  held: string;
}

/**
 * Terminates every PostgreSQL session of process `pid`, in the one statement that sees positions
 * numbered and not yet confirmed (a batch in flight); tries again until it does.
 */
export function cutWhileHolding(pool: pg.Pool, database: string, pid: number): Promise<CutSession[]> {
  return waitFor(
    async () => {
      const { rows } = await pool.query<CutSession>(
        // The lock holders are read once, before the first row is projected: read per row, a
        // session terminated in an earlier row may already have let go of the lock.
        `WITH held AS (
           SELECT CASE WHEN last_position = confirmed_through + 1 THEN last_position::text
                       ELSE confirmed_through + 1 || '–' || last_position END AS held
           FROM bridge_state
           WHERE id = 1 AND last_position > confirmed_through
         ), locks AS MATERIALIZED (
           SELECT coalesce(array_agg(pid), '{}') AS pids FROM pg_locks
           WHERE locktype = 'advisory' AND granted
         )
         SELECT held.held, pg_terminate_backend(a.pid) AS terminated, a.pid = ANY(locks.pids) AS leads
         FROM held, locks, pg_stat_activity a
         WHERE a.datname = $1 AND a.client_port = ANY($2::int[])`,
        [database, localPortsOf(pid)],
      );
      return rows.length > 0 ? rows : null;
    },
    {
      timeoutMs: 10_000,
      intervalMs: 5,
      what: `process ${pid}'s sessions while a batch is numbered, unconfirmed`,
    },
  );
}
