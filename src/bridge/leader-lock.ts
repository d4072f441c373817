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
  return new AdvisoryLeaderLock(options);
}

class AdvisoryLeaderLock implements LeaderLock {
  readonly name = 'leader-lock';
  private readonly stopController = new AbortController();
  private current: LeaderState = 'unknown';
  private loop: Promise<void> | undefined;

  constructor(private readonly options: LeaderLockOptions) {}

  get state(): LeaderState {
    return this.current;
  }

  async start(): Promise<void> {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    await this.loop;
    this.setState('unknown');
  }

  private setState(next: LeaderState): void {
    if (next === this.current) return;
    this.current = next;
    this.options.log.info({ state: next }, next === 'leader' ? 'became leader' : `bridge is ${next}`);
    this.options.onStateChange?.(next);
  }

  private async run(): Promise<void> {
    const stopped = this.stopController.signal;
    for (let attempt = 0; !stopped.aborted; attempt++) {
      try {
        await this.session();
        attempt = -1; // the session connected and ended: start the backoff afresh
      } catch (e) {
        if (stopped.aborted) break;
        this.options.log.warn({ err: toError(e), attempt }, 'leader lock session failed; retrying');
      }
      if (stopped.aborted) break;
      this.setState('unknown');
      this.options.onReconnect?.();
      await delay(Math.max(this.options.retryMs / 2, backoffDelayMs(Math.max(attempt, 0))), stopped);
    }
  }

  /** One connection: contends for the lock until it is lost or stopped, and leads while it holds it. */
  private async session(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.databaseUrl,
      application_name: 'orders-live-bridge',
      keepAlive: true,
    });
    const lost = new AbortController();
    const onLost = (err?: Error) => {
      if (!lost.signal.aborted) {
        if (!this.stopController.signal.aborted)
          this.options.log.warn({ err }, 'leader lock connection lost');
        lost.abort();
      }
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    const stopListener = () => lost.abort();
    this.stopController.signal.addEventListener('abort', stopListener, { once: true });
    try {
      await client.connect();
      await this.contend(client, lost);
    } finally {
      this.stopController.signal.removeEventListener('abort', stopListener);
      lost.abort();
      await client.end().catch(() => undefined);
    }
  }

  private async contend(client: pg.Client, lost: AbortController): Promise<void> {
    while (!lost.signal.aborted) {
      const { rows } = await client.query<{ acquired: boolean }>(LOCK_SQL);
      if (rows[0]?.acquired) {
        this.setState('leader');
        await Promise.all([this.options.lead({ client, signal: lost.signal }), this.heartbeat(client, lost)]);
        return;
      }
      this.setState('standby');
      await delay(this.options.retryMs, lost.signal);
    }
  }

  // A dead peer is noticed by the next query; this query runs when nothing else does.
  private async heartbeat(client: pg.Client, lost: AbortController): Promise<void> {
    while (!lost.signal.aborted) {
      await delay(this.options.retryMs, lost.signal);
      if (lost.signal.aborted) return;
      await client.query('SELECT 1').catch((e: unknown) => {
        this.options.log.warn({ err: toError(e) }, 'leader lock heartbeat failed');
        lost.abort();
      });
    }
  }
}
