// `events()`: the change log as an async iterator of envelopes, exactly once and in order, for
// integrations that keep their own state. It resumes after the last position it received on
// every reconnect, moves to the next gateway when one goes away, and stops receiving while the
// consumer is behind (then resumes where it stopped, so memory stays bounded).

import type { OrderEvent } from '../contract/events.js';
import type { EventFilter } from '../contract/socket.js';
import { createDriver } from './driver.js';
import { ListenerError } from './errors.js';
import { checkFilter } from './filter.js';
import { reportToConsole } from './listeners.js';
import { type ConnectOptions, resolveConnectOptions } from './options.js';
import { createSession, type LiveStatus, type SessionStats } from './session.js';

export interface EventsOptions extends ConnectOptions {
  /** Receive the events after this position; without it, from the moment of connecting. */
  since?: number;
  /**
   * The epoch of `since` (the `epoch` of the stream that gave it): a position the log's history
   * no longer has then ends the iteration with ResyncError instead of resuming.
   */
  epoch?: number;
  /** Only events of orders with these statuses, or of this order (the gateway filters). */
  filter?: EventFilter;
  /** Ends the iteration (it returns, without an error). */
  signal?: AbortSignal;
  /**
   * Told of every status change: 'live' once caught up, 'reconnecting' with the reason, … What it
   * throws goes to console.error (a ListenerError); the stream goes on.
   */
  onStatus?: (status: LiveStatus, detail: string | undefined) => void;
}

export interface EventStream extends AsyncIterableIterator<OrderEvent> {
  /** The last position received (delivered or waiting in the buffer); undefined before `ready`. */
  readonly position: number | undefined;
  /**
   * The epoch of the log `position` belongs to, once known. A failover that changes it under
   * positions already received ends the iteration with ResyncError.
   */
  readonly epoch: number | undefined;
  /** Events received and not yet taken by the consumer. */
  readonly buffered: number;
  readonly status: LiveStatus;
  /** Duplicates dropped and gaps resumed over: a correct gateway sends neither. */
  readonly stats: Readonly<SessionStats>;
  /** Replaces the filter, from the next events on (and for every reconnect). */
  setFilter(filter: EventFilter | undefined): Promise<void>;
  /** Ends the iteration; a pending next() resolves as done. */
  close(): void;
}

/** Buffered events above which receiving pauses, and below which it resumes. */
const HIGH_WATER = 10_000;
const LOW_WATER = 1_000;

/**
 * Follows the change log from `since` (or from now), exactly once and in order.
 *
 * @throws {BadFilterError} at once, when `filter` is not one the contract allows.
 * The iteration throws UnauthorizedError when the token is refused, and ResyncError when the
 * gateway cannot serve the position (older than retention): rebuild from a snapshot then.
 */
export function events(options: EventsOptions): EventStream {
  let filter = checkFilter(options.filter);
  const connect = resolveConnectOptions(options);
  const session = createSession({
    urls: connect.urls.length,
    snapshot: false,
    since: options.since,
    epoch: options.epoch,
    contiguous: filter === undefined,
    refusalIsFatal: true,
  });
  const buffer: OrderEvent[] = [];
  let failure: Error | undefined;
  let done = false;
  let paused = false;
  let wake: (() => void) | undefined;

  const driver = createDriver({
    ...connect,
    session,
    filter: () => filter,
    onDeliver(events) {
      buffer.push(...events);
      if (!paused && buffer.length >= HIGH_WATER) {
        paused = true;
        driver.send({ type: 'pause' });
      }
      wakeUp();
    },
    onStatus(status, detail) {
      // The stream has no error listener to tell: a callback that throws is written to the console.
      try {
        options.onStatus?.(status, detail);
      } catch (e) {
        reportToConsole(new ListenerError('onStatus', e));
      }
    },
    onError(error, fatal) {
      if (!fatal) return;
      failure = error;
      wakeUp();
    },
  });

  function wakeUp(): void {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  }

  function close(): void {
    if (done) return;
    done = true;
    driver.send({ type: 'close' });
    wakeUp();
  }

  options.signal?.addEventListener('abort', close, { once: true });
  if (options.signal?.aborted) close();
  else driver.send({ type: 'start' });

  const stream: EventStream = {
    get position() {
      return buffer.at(-1)?.position ?? session.position;
    },
    get epoch() {
      return session.epoch;
    },
    get buffered() {
      return buffer.length;
    },
    get status() {
      return session.status;
    },
    stats: session.stats,
    async setFilter(next) {
      filter = checkFilter(next);
      driver.send({ type: 'filtered', filtered: filter !== undefined });
      await driver.subscribe(filter);
    },
    close,
    async next() {
      for (;;) {
        const event = buffer.shift();
        if (event) {
          if (paused && buffer.length <= LOW_WATER) {
            paused = false;
            driver.send({ type: 'resume' });
          }
          return { value: event, done: false };
        }
        if (failure) {
          const error = failure;
          failure = undefined;
          done = true;
          throw error;
        }
        if (done) return { value: undefined, done: true };
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    async return() {
      close();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
