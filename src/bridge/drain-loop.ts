// When the leader drains: the state machine behind the idle-flag doorbell (docs/design.md,
// "What the doorbell costs").
//
//   idle    the lease is released, so every capturing statement rings NOTIFY; the leader sleeps
//           until the bell, a LISTEN reconnect or the slow poll, then drains. Work found → active.
//   active  the leader holds the lease (bridge_doorbell.quiet_until in the future), so writers
//           skip the NOTIFY — and its global commit lock — while the leader polls every
//           ACTIVE_POLL_MS. After IDLE_AFTER_MS without work it releases the lease, drains once
//           more (catching what was written while writers still saw the lease) and goes idle.
//
// The rare race — a statement read the lease just before it was released and commits after the
// last drain — is caught by the slow poll: no event waits longer than the poll interval. The
// hysteresis (IDLE_AFTER_MS) keeps a moderate steady load from flipping the mode every event.

import type pg from 'pg';
import { backoffDelayMs } from '../lib/backoff.js';
import { toError } from '../lib/errors.js';
import { delay } from '../lib/wait.js';
import type { Logger } from '../log.js';

/** Poll period while active: bounds the extra latency the skipped NOTIFY costs (~1 ms mean). */
export const ACTIVE_POLL_MS = 2;
/** Quiet time before going idle: at ≥ 4 events/s the leader stays active. */
export const IDLE_AFTER_MS = 250;
/** Lease length: writers ring again at most this long after a leader died while active. */
export const LEASE_MS = 2_000;
const RENEW_EVERY_MS = LEASE_MS / 4;

export type RingReason = 'notification' | 'connected' | 'poll';

export interface DrainLoopOptions {
  /** The leader's lock connection: lease writes go through it. */
  client: Pick<pg.Client, 'query'>;
  signal: AbortSignal;
  /** Publishes what is waiting (a bounded amount); returns how many events it published. */
  drain(): Promise<number>;
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
  const { client, signal, log } = options;
  let rung: RingReason | undefined;
  let wake: (() => void) | undefined;
  signal.addEventListener('abort', () => wake?.(), { once: true });

  const takeLease = () =>
    client.query(
      "UPDATE bridge_doorbell SET quiet_until = clock_timestamp() + $1 * interval '1 millisecond' WHERE id = 1",
      [LEASE_MS],
    );
  const releaseLease = () =>
    client.query("UPDATE bridge_doorbell SET quiet_until = '-infinity' WHERE id = 1");

  function nextRing(): Promise<RingReason | undefined> {
    if (rung || signal.aborted) return Promise.resolve(takeRing());
    return new Promise((resolve) => {
      wake = () => {
        wake = undefined;
        resolve(takeRing());
      };
    });
  }
  function takeRing(): RingReason | undefined {
    const reason = rung;
    rung = undefined;
    return reason;
  }

  /** Active until IDLE_AFTER_MS pass without work; returns once idle (lease released). */
  async function active(): Promise<void> {
    options.onModeChange?.('active');
    await takeLease();
    let renewedAt = Date.now();
    let workedAt = Date.now();
    while (!signal.aborted) {
      const published = await options.drain();
      const now = Date.now();
      if (published > 0) workedAt = now;
      if (now - renewedAt >= RENEW_EVERY_MS) {
        await takeLease();
        renewedAt = now;
      }
      if (now - workedAt >= IDLE_AFTER_MS) {
        rung = undefined; // bells from before the lease was taken: this loop drained their events
        await releaseLease();
        if ((await options.drain()) === 0) break;
        await takeLease();
        renewedAt = workedAt = Date.now();
      } else if (published === 0) {
        await delay(ACTIVE_POLL_MS, signal);
      }
    }
    options.onModeChange?.('idle');
  }

  async function run(): Promise<void> {
    let mustDrain = true; // a new leader catches up first
    for (let attempt = 0; !signal.aborted; ) {
      try {
        if (mustDrain) await active();
        mustDrain = false;
        const reason = await nextRing();
        if (signal.aborted) break;
        // A bell means writes are coming; a poll or reconnect that finds work means so too.
        mustDrain = reason === 'notification' || (reason !== undefined && (await options.drain()) > 0);
        attempt = 0;
      } catch (e) {
        if (signal.aborted) break;
        options.onFailure();
        log.warn({ err: toError(e), attempt }, 'relay failed; retrying');
        await delay(backoffDelayMs(attempt++), signal);
        mustDrain = true;
      }
    }
    // Let writers ring for whoever leads next; a dead connection lets the lease lapse instead.
    await releaseLease().catch(() => undefined);
  }

  return {
    ring(reason) {
      rung = reason === 'notification' || !rung ? reason : rung;
      wake?.();
    },
    done: run(),
  };
}
