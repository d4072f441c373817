// `liveOrders()`: an exact, live copy of the orders table (or of the part a filter selects).
// It loads every page of GET /orders, follows the stream after the snapshot's X-Event-Position,
// applies an event only where its version is newer, resumes with `since` on every reconnect (on
// the next gateway when one goes away) and reloads the snapshot on `resync`.
//
// The filter is applied here, not by the gateway: an order that leaves the filter (shipped →
// delivered, when following shipped ones) must be seen leaving, and the gateway filters by the
// new status. So the whole table is followed and the view is what matches.

import type { Order, OrderEvent } from '../contract/events.js';
import type { EventFilter } from '../contract/socket.js';
import { createDriver, type Driver } from './driver.js';
import type { OrdersLiveError } from './errors.js';
import { checkFilter, orderMatches } from './filter.js';
import { createListeners } from './listeners.js';
import { type ConnectOptions, listOf, resolveConnectOptions } from './options.js';
import { type AppliedChange, createOrderSet } from './order-set.js';
import { createSession, type LiveStatus, type SessionStats } from './session.js';
import { SessionView } from './session-view.js';

export interface LiveOrdersOptions extends ConnectOptions {
  /** Where GET /orders is served, tried in turn. @default the gateway URLs */
  apiUrl?: string | readonly string[];
  /** Only orders with these statuses, or this order. */
  filter?: EventFilter;
}

/** How an order's place in the view changed. */
export type ChangeKind =
  /** It entered the view: inserted, or changed into the filter. */
  | 'added'
  | 'updated'
  /** It left the view: deleted, or changed out of the filter. */
  | 'removed'
  /** TRUNCATE: the view is empty. */
  | 'cleared';

export interface OrderChange {
  kind: ChangeKind;
  /** The event that made the change. */
  event: OrderEvent;
  /** The order as the view had it before (added, cleared: undefined). */
  previous: Order | undefined;
}

export interface LiveOrdersEvents {
  /** One change of the view; `order` is the order now, undefined when it left the view. */
  change: (change: OrderChange, order: Order | undefined) => void;
  status: (status: LiveStatus, detail: string | undefined) => void;
  /** Every event received, once and in order, applied or not; `live` is false while catching up. */
  event: (event: OrderEvent, live: boolean) => void;
  /** The whole view was replaced (a snapshot, or a new filter): read all() again. */
  reset: () => void;
  /**
   * Something failed; `fatal` when the live set closed because of it. A listener that threw is a
   * ListenerError, never fatal; one thrown by an 'error' listener goes to console.error.
   */
  error: (error: OrdersLiveError, fatal: boolean) => void;
}

export interface LiveOrders {
  get(id: number): Order | undefined;
  /** The orders in the view, in no particular order. */
  all(): Order[];
  readonly size: number;
  /** The last position applied; undefined before the first snapshot. */
  readonly position: number | undefined;
  /**
   * The epoch of the log `position` belongs to (invariant 9 of docs/design.md): when the database
   * fails over to a standby that lacked events, it changes and the view is reloaded.
   */
  readonly epoch: number | undefined;
  readonly status: LiveStatus;
  /** Duplicates dropped and gaps resumed over: a correct gateway sends neither. */
  readonly stats: Readonly<SessionStats>;
  /** Adds a listener; returns the function that removes it. One that throws breaks nothing. */
  on<K extends keyof LiveOrdersEvents>(type: K, listener: LiveOrdersEvents[K]): () => void;
  /**
   * Loads and follows; resolves when first live (or closed by close() before), rejects with the
   * error that closed it otherwise. The same error also reaches the 'error' listeners.
   */
  start(): Promise<void>;
  /** Changes the view's filter (a `reset` follows); the stream is not interrupted. */
  setFilter(filter: EventFilter | undefined): void;
  /** Connects again now, e.g. once the token has changed. */
  reconnect(): void;
  close(): void;
}

/**
 * Creates a live set without starting it, so listeners can be added first; `start()` starts it.
 * @throws {BadFilterError} when `filter` is not one the contract allows.
 */
export function createLiveOrders(options: LiveOrdersOptions): LiveOrders {
  return new LiveSet(options);
}

// Its methods are arrow functions, bound: an application may hand `orders.close` or `orders.get`
// on as a callback.
class LiveSet extends SessionView implements LiveOrders {
  private readonly rows = createOrderSet();
  // Guarded: a listener that throws costs neither the model an event nor the driver a command.
  private readonly listeners = createListeners<LiveOrdersEvents>();
  private readonly driver: Driver;
  private filter: EventFilter | undefined;
  private started: Promise<void> | undefined;
  /** By close(): nothing is called after, a new filter's reset included. */
  private closed = false;

  constructor(options: LiveOrdersOptions) {
    const filter = checkFilter(options.filter);
    const connect = resolveConnectOptions(options);
    const apiUrls = listOf(options.apiUrl);
    super(
      createSession({ urls: connect.urls.length, snapshot: true, contiguous: true, refusalIsFatal: false }),
    );
    this.filter = filter;
    const { emit } = this.listeners;
    this.driver = createDriver({
      ...connect,
      apiUrls: apiUrls.length > 0 ? apiUrls : connect.apiUrls,
      session: this.session,
      filter: () => undefined,
      onSnapshot: (orders) => this.loaded(orders),
      onDeliver: (events) => this.received(events),
      onStatus: (status, detail) => emit('status', status, detail),
      onError: (error, fatal) => emit('error', error as OrdersLiveError, fatal),
    });
  }

  get size(): number {
    if (!this.filter) return this.rows.size;
    let n = 0;
    for (const order of this.rows.values()) if (orderMatches(order, this.filter)) n += 1;
    return n;
  }

  get = (id: number): Order | undefined => {
    const order = this.rows.get(id);
    return order && orderMatches(order, this.filter) ? order : undefined;
  };

  all = (): Order[] => [...this.rows.values()].filter((order) => orderMatches(order, this.filter));

  on: LiveOrders['on'] = this.listeners.on;

  start = (): Promise<void> => {
    if (this.started) return this.started;
    this.started = new Promise<void>((resolve, reject) => {
      const off = [
        this.on('status', (status) => {
          // Closed by the application before it was live: nothing went wrong.
          if (status === 'live' || status === 'closed') done();
        }),
        this.on('error', (error, fatal) => {
          if (fatal) done(error);
        }),
      ];
      function done(error?: Error): void {
        for (const remove of off) remove();
        if (error) reject(error);
        else resolve();
      }
      this.driver.send({ type: 'start' });
    });
    // Errors also reach 'error' listeners: an application that does not await start() must
    // not die of an unhandled rejection.
    this.started.catch(() => undefined);
    return this.started;
  };

  setFilter = (next: EventFilter | undefined): void => {
    this.filter = checkFilter(next);
    if (!this.closed) this.listeners.emit('reset');
  };

  reconnect = (): void => this.driver.send({ type: 'reconnect' });

  close = (): void => {
    this.closed = true;
    this.driver.send({ type: 'close' });
  };

  private loaded(orders: Order[]): void {
    this.rows.load(orders);
    this.listeners.emit('reset');
  }

  private received(events: OrderEvent[]): void {
    const live = this.session.status === 'live';
    for (const event of events) {
      const applied = this.rows.apply(event);
      this.listeners.emit('event', event, live);
      if (applied) this.emitChange(applied, event);
    }
  }

  private emitChange(applied: AppliedChange, event: OrderEvent): void {
    const { emit } = this.listeners;
    if (applied.kind === 'truncate') {
      emit('change', { kind: 'cleared', event, previous: undefined }, undefined);
      return;
    }
    const before =
      applied.kind === 'update' ? applied.previous : applied.kind === 'delete' ? applied.order : undefined;
    const after = applied.kind === 'delete' ? undefined : applied.order;
    const was = before !== undefined && orderMatches(before, this.filter);
    const is = after !== undefined && orderMatches(after, this.filter);
    if (was && is) emit('change', { kind: 'updated', event, previous: before }, after);
    else if (is) emit('change', { kind: 'added', event, previous: undefined }, after);
    else if (was) emit('change', { kind: 'removed', event, previous: before }, undefined);
  }
}

/**
 * An exact, live copy of the orders table: resolves once the snapshot is loaded and the stream
 * is live. A refused token rejects with UnauthorizedError (and closes), rather than retrying.
 * @throws {BadFilterError} when `filter` is not one the contract allows.
 */
export async function liveOrders(options: LiveOrdersOptions): Promise<LiveOrders> {
  const orders = createLiveOrders(options);
  let refused: OrdersLiveError | undefined;
  const off = orders.on('error', (error) => {
    if (error.code !== 'unauthorized') return;
    refused = error;
    orders.close();
  });
  try {
    await orders.start();
  } finally {
    off();
  }
  if (refused) throw refused;
  return orders;
}
