// `events()`: the change log as an async iterator of envelopes, exactly once and in order, for
// integrations that keep their own state. It resumes after the last position it received on
// every reconnect, moves to the next gateway when one goes away, and stops receiving while the
// consumer is behind (then resumes where it stopped, so memory stays bounded).

import type { OrderEvent } from '../contract/events.js';
import type { EventFilter } from '../contract/socket.js';
import { createDriver, type Driver } from './driver.js';
import { ListenerError } from './errors.js';
import { checkFilter } from './filter.js';
import { reportToConsole } from './listeners.js';
import { type ConnectOptions, resolveConnectOptions } from './options.js';
import { createSession, type LiveStatus, type SessionStats } from './session.js';
import { SessionView } from './session-view.js';

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
  return new LogStream(options);
}

// Its methods are arrow functions, bound: an application may hand `stream.close` on as a callback.
class LogStream extends SessionView implements EventStream {
  private readonly buffer: OrderEvent[] = [];
  private readonly driver: Driver;
  private filter: EventFilter | undefined;
  private failure: Error | undefined;
  private done = false;
  private paused = false;
  private wake: (() => void) | undefined;

  constructor(private readonly options: EventsOptions) {
    const filter = checkFilter(options.filter);
    const connect = resolveConnectOptions(options);
    super(
      createSession({
        urls: connect.urls.length,
        snapshot: false,
        since: options.since,
        epoch: options.epoch,
        contiguous: filter === undefined,
        refusalIsFatal: true,
      }),
    );
    this.filter = filter;
    this.driver = createDriver({
      ...connect,
      session: this.session,
      filter: () => this.filter,
      onDeliver: (events) => this.received(events),
      onStatus: (status, detail) => this.statusChanged(status, detail),
      onError: (error, fatal) => this.failed(error, fatal),
    });
    options.signal?.addEventListener('abort', this.close, { once: true });
    if (options.signal?.aborted) this.close();
    else this.driver.send({ type: 'start' });
  }

  override get position(): number | undefined {
    return this.buffer.at(-1)?.position ?? this.session.position;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  setFilter = async (next: EventFilter | undefined): Promise<void> => {
    this.filter = checkFilter(next);
    this.driver.send({ type: 'filtered', filtered: this.filter !== undefined });
    await this.driver.subscribe(this.filter);
  };

  close = (): void => {
    if (this.done) return;
    this.done = true;
    this.letGoOfSignal();
    this.driver.send({ type: 'close' });
    this.wakeUp();
  };

  next = async (): Promise<IteratorResult<OrderEvent>> => {
    for (;;) {
      const event = this.buffer.shift();
      if (event) {
        if (this.paused && this.buffer.length <= LOW_WATER) {
          this.paused = false;
          this.driver.send({ type: 'resume' });
        }
        return { value: event, done: false };
      }
      if (this.failure) {
        const error = this.failure;
        this.failure = undefined;
        this.done = true;
        throw error;
      }
      if (this.done) return { value: undefined, done: true };
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  };

  return = async (): Promise<IteratorResult<OrderEvent>> => {
    this.close();
    return { value: undefined, done: true };
  };

  [Symbol.asyncIterator] = (): EventStream => this;

  private received(events: OrderEvent[]): void {
    this.buffer.push(...events);
    if (!this.paused && this.buffer.length >= HIGH_WATER) {
      this.paused = true;
      this.driver.send({ type: 'pause' });
    }
    this.wakeUp();
  }

  private statusChanged(status: LiveStatus, detail: string | undefined): void {
    // The stream has no error listener to tell: a callback that throws is written to the console.
    try {
      this.options.onStatus?.(status, detail);
    } catch (e) {
      reportToConsole(new ListenerError('onStatus', e));
    }
  }

  private failed(error: Error, fatal: boolean): void {
    if (!fatal) return;
    this.failure = error;
    this.letGoOfSignal();
    this.wakeUp();
  }

  /**
   * An ended stream no longer listens: a long-lived signal shared by many short streams would
   * otherwise keep each one reachable, its buffer of up to HIGH_WATER events included.
   */
  private letGoOfSignal(): void {
    this.options.signal?.removeEventListener('abort', this.close);
  }

  private wakeUp(): void {
    const resolve = this.wake;
    this.wake = undefined;
    resolve?.();
  }
}
