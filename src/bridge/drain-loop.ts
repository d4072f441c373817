// When the leader drains: the state machine behind the idle-flag doorbell (docs/design.md,
// "What the doorbell costs").
//
//   ringing  the lease is released, so every capturing statement rings NOTIFY; the leader sleeps
//            until the bell, a LISTEN reconnect or the slow poll, then drains until caught up and
//            sleeps again. Each event wakes it at once.
//   leased   while its drains hand over LEASE_ABOVE events/s or more (lease-policy.ts), the
//            leader holds the lease (bridge_doorbell.quiet_until in the future), so writers skip
//            the NOTIFY — and its global commit lock — while it polls every ACTIVE_POLL_MS. Once
//            the rate over the last RELEASE_AFTER_MS is below half that, it releases the lease,
//            drains once more (catching what was written while writers still saw the lease), and
//            writers ring again.
//
// The rare race — a statement read the lease just before it was released and commits after the
// last drain — is caught by the slow poll: no event waits longer than the poll interval.
// A failed drain is counted, logged and retried with backoff; a leader that dies leased lets the
// lease lapse within LEASE_MS.

import type pg from 'pg';
import { backoffDelayMs } from '../lib/backoff.js';
import { toError } from '../lib/errors.js';
import { delay } from '../lib/wait.js';
import type { Logger } from '../log.js';
import { createLeasePolicy, type LeasePolicy } from './lease-policy.js';

/** Poll period while leased: bounds the extra latency the skipped NOTIFY costs (~1 ms mean). */
export const ACTIVE_POLL_MS = 2;
/** How long the rate must stay low before the lease goes: a dip does not flip the mode. */
export const RELEASE_AFTER_MS = 250;
/** Lease length: writers ring again at most this long after a leader died while active. */
export const LEASE_MS = 2_000;
const RENEW_EVERY_MS = LEASE_MS / 4;

export type RingReason = 'notification' | 'connected' | 'poll';

export interface DrainLoopOptions {
  /** The leader's lock connection: lease writes go through it. */
  client: Pick<pg.Client, 'query'>;
  signal: AbortSignal;
  /**
   * Publishes what is waiting (a bounded amount): how many events it handed over, and whether it
   * stopped with more waiting.
   */
  drain(): Promise<{ handed: number; more: boolean }>;
  /** The rate (events/s) from which the lease is held; 0: whenever there is work. */
  leaseAbovePerSecond: number;
  log: Logger;
  onFailure(): void;
  onModeChange?(mode: 'idle' | 'active'): void;
}

export interface DrainLoop {
  ring(reason: RingReason): void;
  /** Resolves when the signal aborted and the lease was released. */
  readonly done: Promise<void>;
}

export function runDrainLoop(options: DrainLoopOptions): DrainLoop {
  return new LeasedDrainLoop(options);
}

const TAKE_LEASE_SQL =
  "UPDATE bridge_doorbell SET quiet_until = clock_timestamp() + $1 * interval '1 millisecond' WHERE id = 1";
const RELEASE_LEASE_SQL = "UPDATE bridge_doorbell SET quiet_until = '-infinity' WHERE id = 1";

class LeasedDrainLoop implements DrainLoop {
  readonly done: Promise<void>;
  private readonly signal: AbortSignal;
  private readonly policy: LeasePolicy;
  private rung: RingReason | undefined;
  private wake: (() => void) | undefined;
  private leased = false;
  private renewedAt = 0;

  constructor(private readonly options: DrainLoopOptions) {
    this.signal = options.signal;
    this.signal.addEventListener('abort', () => this.wake?.(), { once: true });
    this.policy = createLeasePolicy({
      leaseAbovePerSecond: options.leaseAbovePerSecond,
      releaseAfterMs: RELEASE_AFTER_MS,
    });
    this.done = this.run();
  }

  ring(reason: RingReason): void {
    this.rung = reason === 'notification' || !this.rung ? reason : this.rung;
    this.wake?.();
  }

  private async run(): Promise<void> {
    let mustDrain = true; // a new leader catches up first
    let reason: RingReason | undefined;
    for (let attempt = 0; !this.signal.aborted; ) {
      try {
        if (mustDrain) await this.busy(reason);
        mustDrain = false;
        reason = await this.nextRing();
        if (this.signal.aborted) break;
        mustDrain = reason !== undefined;
        attempt = 0;
      } catch (e) {
        if (this.signal.aborted) break;
        this.options.onFailure();
        this.options.log.warn({ err: toError(e), attempt }, 'relay failed; retrying');
        await delay(backoffDelayMs(attempt++), this.signal);
        mustDrain = true;
      }
    }
    // Let writers ring for whoever leads next; a dead connection lets the lease lapse instead.
    if (this.leased) this.options.onModeChange?.('idle');
    await this.releaseLease().catch(() => undefined);
  }

  /** Drains until caught up, holding the lease while the rate calls for it; returns unleased. */
  private async busy(reason: RingReason | undefined): Promise<void> {
    // Leasing on any work: a bell means writes are coming, so writers stop ringing before the drain.
    if (this.options.leaseAbovePerSecond === 0 && reason === 'notification') await this.hold(Date.now());
    for (;;) {
      if (this.signal.aborted) return;
      const { handed, more } = await this.options.drain();
      const now = Date.now();
      const wanted = this.policy.observe(handed, now);
      if (wanted && (!this.leased || now - this.renewedAt >= RENEW_EVERY_MS)) await this.hold(now);
      else if (!wanted && this.leased) {
        await this.release();
        continue; // once more: what writers committed while they still saw the lease
      }
      if (more) continue;
      if (!this.leased) return; // writers ring: sleep until the bell
      // Leased, a poll every ACTIVE_POLL_MS even after work: numbering again at once made a
      // durable commit for every event or two, each a WAL flush a writer then waited behind
      // (one pgbench writer: 0.35× of its rate without capture, against 0.68×).
      await delay(ACTIVE_POLL_MS, this.signal);
    }
  }

  private nextRing(): Promise<RingReason | undefined> {
    if (this.rung || this.signal.aborted) return Promise.resolve(this.takeRing());
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve(this.takeRing());
      };
    });
  }

  private takeRing(): RingReason | undefined {
    const reason = this.rung;
    this.rung = undefined;
    return reason;
  }

  private async hold(now: number): Promise<void> {
    await this.options.client.query(TAKE_LEASE_SQL, [LEASE_MS]);
    this.renewedAt = now;
    if (!this.leased) this.options.onModeChange?.('active');
    this.leased = true;
  }

  private async release(): Promise<void> {
    this.rung = undefined; // bells from before the lease was taken: the next drain takes their events
    await this.releaseLease();
    this.leased = false;
    this.options.onModeChange?.('idle');
  }

  private releaseLease() {
    return this.options.client.query(RELEASE_LEASE_SQL);
  }
}
