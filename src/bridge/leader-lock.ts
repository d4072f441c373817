// Leader election: a session-level PostgreSQL advisory lock on a dedicated connection. The lock
// lives exactly as long as that connection, so a killed bridge (or a terminated session) frees it
// at once and a standby, retrying every `retryMs`, takes over. The leader does its writes on the
// same connection: a bridge whose lock connection died cannot number another event.

import pg from 'pg';
import { backoffDelayMs } from '../lib/backoff.js';
import { toError } from '../lib/errors.js';
import type { Service } from '../lib/service.js';
import { delay } from '../lib/wait.js';
import type { Logger } from '../log.js';

/** The advisory lock's key, as SQL: hashtextextended makes a stable bigint from a readable name. */
export const LEADER_LOCK_KEY_SQL = "hashtextextended('orders-live:bridge-leader', 0)";
/** One lock per database. */
const LOCK_SQL = `SELECT pg_try_advisory_lock(${LEADER_LOCK_KEY_SQL}) AS acquired`;

export type LeaderState = 'unknown' | 'standby' | 'leader';

export interface Leadership {
  /** The connection holding the lock; the leader's writes go through it. */
  readonly client: pg.Client;
  /** Aborted the moment the lock connection is lost or the lock is stopped. */
  readonly signal: AbortSignal;
}

export interface LeaderLockOptions {
  databaseUrl: string;
  retryMs: number;
  log: Logger;
  /** Runs while this process leads; must return promptly once `signal` aborts. */
  lead(leadership: Leadership): Promise<void>;
  onStateChange?(state: LeaderState): void;
  onReconnect?(): void;
}

export interface LeaderLock extends Service {
  readonly state: LeaderState;
}

export function createLeaderLock(options: LeaderLockOptions): LeaderLock {
  const { databaseUrl, retryMs, log, lead } = options;
  const stopController = new AbortController();
  let state: LeaderState = 'unknown';
  let loop: Promise<void> | undefined;

  const setState = (next: LeaderState) => {
    if (next === state) return;
    state = next;
    log.info({ state }, next === 'leader' ? 'became leader' : `bridge is ${next}`);
    options.onStateChange?.(next);
  };

  async function session(): Promise<void> {
    const client = new pg.Client({
      connectionString: databaseUrl,
      application_name: 'orders-live-bridge',
      keepAlive: true,
    });
    const lost = new AbortController();
    const onLost = (err?: Error) => {
      if (!lost.signal.aborted) {
        if (!stopController.signal.aborted) log.warn({ err }, 'leader lock connection lost');
        lost.abort();
      }
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    const stopListener = () => lost.abort();
    stopController.signal.addEventListener('abort', stopListener, { once: true });
    try {
      await client.connect();
      while (!lost.signal.aborted) {
        const { rows } = await client.query<{ acquired: boolean }>(LOCK_SQL);
        if (rows[0]?.acquired) {
          setState('leader');
          await Promise.all([lead({ client, signal: lost.signal }), heartbeat(client, lost)]);
          return;
        }
        setState('standby');
        await delay(retryMs, lost.signal);
      }
    } finally {
      stopController.signal.removeEventListener('abort', stopListener);
      lost.abort();
      await client.end().catch(() => undefined);
    }
  }

  // A dead peer is noticed by the next query; this query runs when nothing else does.
  async function heartbeat(client: pg.Client, lost: AbortController): Promise<void> {
    while (!lost.signal.aborted) {
      await delay(retryMs, lost.signal);
      if (lost.signal.aborted) return;
      await client.query('SELECT 1').catch((e: unknown) => {
        log.warn({ err: toError(e) }, 'leader lock heartbeat failed');
        lost.abort();
      });
    }
  }

  async function run(): Promise<void> {
    for (let attempt = 0; !stopController.signal.aborted; attempt++) {
      try {
        await session();
        attempt = -1; // the session connected and ended: start the backoff afresh
      } catch (e) {
        if (stopController.signal.aborted) break;
        log.warn({ err: toError(e), attempt }, 'leader lock session failed; retrying');
      }
      if (stopController.signal.aborted) break;
      setState('unknown');
      options.onReconnect?.();
      await delay(Math.max(retryMs / 2, backoffDelayMs(Math.max(attempt, 0))), stopController.signal);
    }
  }

  return {
    name: 'leader-lock',
    get state() {
      return state;
    },
    async start() {
      loop ??= run();
    },
    async stop() {
      stopController.abort();
      await loop;
      setState('unknown');
    },
  };
}
