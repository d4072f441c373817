// The doorbell: LISTEN on the capture channel through pg-listen, plus a slow poll. A notification,
// a (re)connect and every poll tick all ring; the relay then drains the log, which is the truth.
// So a notification missed during a reconnect only delays an event by at most one poll interval.
//
// pg-listen is unmaintained and wrapped thinly here: its retry options are set explicitly (its
// defaults give up after 3 s), and its `error` — a reconnect it could not complete — is treated as
// fatal for the subscriber: it is closed and a fresh one is made, with backoff, while the poll
// carries on.

import pgListen from 'pg-listen';
import { NOTIFY_CHANNEL } from '../contract/events.js';
import { backoffDelayMs } from '../lib/backoff.js';
import { toError } from '../lib/errors.js';
import type { Service } from '../lib/service.js';
import { delay } from '../lib/wait.js';
import type { Logger } from '../log.js';

type Subscriber = ReturnType<typeof pgListen.default>;

/** pg-listen's liveness query ("paranoid checking"): a silently dead LISTEN is found in ≤ 5 s. */
const LIVENESS_CHECK_MS = 5_000;

export interface DoorbellOptions {
  databaseUrl: string;
  pollIntervalMs: number;
  log: Logger;
  ring(reason: 'notification' | 'connected' | 'poll'): void;
  onReconnect?(): void;
}

export type Doorbell = Service;

export function createDoorbell({
  databaseUrl,
  pollIntervalMs,
  log,
  ring,
  onReconnect,
}: DoorbellOptions): Doorbell {
  const stopped = new AbortController();
  let subscriber: Subscriber | undefined;
  let poll: NodeJS.Timeout | undefined;
  let connecting: Promise<void> | undefined;

  function createSubscriber(): Subscriber {
    const sub = pgListen.default(
      { connectionString: databaseUrl, application_name: 'orders-live-listen' },
      {
        parse: (s: string) => s,
        serialize: (s: unknown) => String(s),
        paranoidChecking: LIVENESS_CHECK_MS,
        retryLimit: Number.POSITIVE_INFINITY,
        retryTimeout: Number.POSITIVE_INFINITY,
        retryInterval: (attempt: number) => backoffDelayMs(attempt, { capMs: 5_000 }),
      },
    );
    sub.notifications.on(NOTIFY_CHANNEL, () => ring('notification'));
    sub.events.on('connected', () => {
      if (stopped.signal.aborted) {
        void sub.close().catch(() => undefined);
        return;
      }
      ring('connected');
    });
    sub.events.on('reconnect', (attempt: number) => {
      // Throwing here ends pg-listen's retry loop: a stopped doorbell must not reconnect.
      if (stopped.signal.aborted) throw new Error('doorbell stopped');
      if (attempt === 1) {
        log.warn('LISTEN connection lost; reconnecting');
        onReconnect?.();
      }
    });
    sub.events.on('error', (err: Error) => {
      if (stopped.signal.aborted) return;
      log.error({ err }, 'LISTEN subscriber failed; replacing it');
      void sub.close().catch(() => undefined);
      if (subscriber === sub) subscriber = undefined;
      connecting ??= connect().finally(() => {
        connecting = undefined;
      });
    });
    return sub;
  }

  async function connect(): Promise<void> {
    for (let attempt = 0; !stopped.signal.aborted; attempt++) {
      const sub = createSubscriber();
      try {
        await sub.connect();
        await sub.listenTo(NOTIFY_CHANNEL);
        subscriber = sub;
        if (stopped.signal.aborted) {
          await sub.close();
          return;
        }
        // Drain once now that LISTEN is in place: anything committed before it has no bell.
        ring('connected');
        return;
      } catch (e) {
        await sub.close().catch(() => undefined);
        log.warn({ err: toError(e), attempt }, 'cannot LISTEN yet; the poll covers until it can');
        await delay(backoffDelayMs(attempt, { capMs: 5_000 }), stopped.signal);
      }
    }
  }

  return {
    name: 'doorbell',
    async start() {
      poll = setInterval(() => ring('poll'), pollIntervalMs);
      connecting = connect().finally(() => {
        connecting = undefined;
      });
      // Start does not wait for LISTEN: the poll already guarantees progress.
    },
    async stop() {
      stopped.abort();
      clearInterval(poll);
      await connecting;
      await subscriber?.close().catch(() => undefined);
      subscriber = undefined;
    },
  };
}
