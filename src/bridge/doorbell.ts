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

export function createDoorbell(options: DoorbellOptions): Doorbell {
  return new ListenDoorbell(options);
}

class ListenDoorbell implements Doorbell {
  readonly name = 'doorbell';
  private readonly stopped = new AbortController();
  private subscriber: Subscriber | undefined;
  private poll: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;

  constructor(private readonly options: DoorbellOptions) {}

  async start(): Promise<void> {
    this.poll = setInterval(() => this.options.ring('poll'), this.options.pollIntervalMs);
    this.connecting = this.connectInBackground();
    // Start does not wait for LISTEN: the poll already guarantees progress.
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    clearInterval(this.poll);
    await this.connecting;
    await this.subscriber?.close().catch(() => undefined);
    this.subscriber = undefined;
  }

  private connectInBackground(): Promise<void> {
    return this.connect().finally(() => {
      this.connecting = undefined;
    });
  }

  private async connect(): Promise<void> {
    const { log, ring } = this.options;
    for (let attempt = 0; !this.stopped.signal.aborted; attempt++) {
      const sub = this.createSubscriber();
      try {
        await sub.connect();
        await sub.listenTo(NOTIFY_CHANNEL);
        this.subscriber = sub;
        if (this.stopped.signal.aborted) {
          await sub.close();
          return;
        }
        // Drain once now that LISTEN is in place: anything committed before it has no bell.
        ring('connected');
        return;
      } catch (e) {
        await sub.close().catch(() => undefined);
        log.warn({ err: toError(e), attempt }, 'cannot LISTEN yet; the poll covers until it can');
        await delay(backoffDelayMs(attempt, { capMs: 5_000 }), this.stopped.signal);
      }
    }
  }

  private createSubscriber(): Subscriber {
    const sub = pgListen.default(
      { connectionString: this.options.databaseUrl, application_name: 'orders-live-listen' },
      {
        parse: (s: string) => s,
        serialize: (s: unknown) => String(s),
        paranoidChecking: LIVENESS_CHECK_MS,
        retryLimit: Number.POSITIVE_INFINITY,
        retryTimeout: Number.POSITIVE_INFINITY,
        retryInterval: (attempt: number) => backoffDelayMs(attempt, { capMs: 5_000 }),
      },
    );
    sub.notifications.on(NOTIFY_CHANNEL, () => this.options.ring('notification'));
    sub.events.on('connected', () => this.connected(sub));
    sub.events.on('reconnect', (attempt: number) => this.reconnecting(attempt));
    sub.events.on('error', (err: Error) => this.failed(sub, err));
    return sub;
  }

  private connected(sub: Subscriber): void {
    if (this.stopped.signal.aborted) {
      void sub.close().catch(() => undefined);
      return;
    }
    this.options.ring('connected');
  }

  private reconnecting(attempt: number): void {
    // Throwing here ends pg-listen's retry loop: a stopped doorbell must not reconnect.
    if (this.stopped.signal.aborted) throw new Error('doorbell stopped');
    if (attempt === 1) {
      this.options.log.warn('LISTEN connection lost; reconnecting');
      this.options.onReconnect?.();
    }
  }

  private failed(sub: Subscriber, err: Error): void {
    if (this.stopped.signal.aborted) return;
    this.options.log.error({ err }, 'LISTEN subscriber failed; replacing it');
    void sub.close().catch(() => undefined);
    if (this.subscriber === sub) this.subscriber = undefined;
    this.connecting ??= this.connectInBackground();
  }
}
