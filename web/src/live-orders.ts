// The model kept live: the snapshot (every page of GET /orders), then the stream after its
// position (docs/design.md, invariant 8); resume with `since` on every reconnect, and a new
// snapshot on `resync`. Every event is applied to the model the moment it arrives and recorded
// for the next frame; drawing is the caller's business.

import { type AccessBody, type ApiClient, ApiError } from './api-client.js';
import { FEED_LIMIT } from './event-feed.js';
import { LATENCY_SAMPLES } from './latency-meter.js';
import { type ConnectionState, createLiveConnection } from './live-connection.js';
import { loadSnapshot } from './load-snapshot.js';
import { createOrderStore, type OrderStore } from './order-store.js';
import { createPendingChanges, type PendingChanges } from './pending-changes.js';

/** Snapshot retries: 0.5 s, 1 s, 2 s, 4 s, then every 5 s while the API does not answer. */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 5_000;

export interface LiveOrdersOptions {
  api: ApiClient;
  token: () => string | undefined;
  /** Events were applied: `pending` has news for the next frame. */
  onChange: () => void;
  /** The model was replaced by a snapshot: redraw everything. */
  onSnapshot: () => void;
  onState: (state: ConnectionState, detail?: string) => void;
  /** What the token allows, read before each snapshot and whenever the token changes. */
  onAccess: (access: AccessBody) => void;
  /** A snapshot could not be loaded (it is retried); `recovered` clears what was shown. */
  onLoadError: (err: unknown) => void;
  onLoadRecovered: () => void;
}

export interface LiveOrders {
  readonly store: OrderStore;
  readonly pending: PendingChanges;
  /** The last position applied (or of `ready`); undefined before the first snapshot. */
  position(): number | undefined;
  start(): void;
  /**
   * A new token was entered: reads what it allows, and loads the snapshot or connects again if
   * the old one was refused.
   */
  retry(): void;
}

export function createLiveOrders(options: LiveOrdersOptions): LiveOrders {
  const store = createOrderStore();
  const pending = createPendingChanges(FEED_LIMIT, LATENCY_SAMPLES);
  let position: number | undefined;
  let state: ConnectionState = 'connecting';
  /** Set while a load waits for a token: retry() resolves it. */
  let tokenEntered: (() => void) | undefined;

  const connection = createLiveConnection({
    auth: () => ({ token: options.token(), since: position }),
    onEvents(events) {
      // Replayed events are history: only live ones count for the commit → screen latency.
      const live = state === 'live';
      for (const event of events) {
        pending.add(event, store.apply(event), live);
        position = event.position;
      }
      options.onChange();
    },
    onReady(ready) {
      position = ready;
      options.onChange();
    },
    onResync: () => void load(true),
    onState: setState,
  });

  function setState(next: ConnectionState, detail?: string): void {
    state = next;
    options.onState(next, detail);
  }

  /**
   * What the token allows and the snapshot, retried until the API answers; then the stream after
   * its position. Without a valid token (401) it waits for one instead of retrying.
   */
  async function load(resync: boolean): Promise<void> {
    let failed = false;
    for (let attempt = 0; ; attempt += 1) {
      try {
        options.onAccess(await options.api.access());
        const snapshot = await loadSnapshot(options.api);
        store.load(snapshot.orders);
        position = snapshot.position;
        pending.take(); // a resync's leftovers describe the model the snapshot replaced
        options.onSnapshot();
        break;
      } catch (err) {
        if (err instanceof ApiError && err.problem.status === 401) {
          setState('unauthorized', err.problem.detail);
          await new Promise<void>((resolve) => {
            tokenEntered = resolve;
          });
          setState('connecting');
          attempt = -1;
          continue;
        }
        failed = true;
        options.onLoadError(err);
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt)),
        );
      }
    }
    if (failed) options.onLoadRecovered();
    if (resync) connection.reconnect();
    else connection.start();
  }

  return {
    store,
    pending,
    position: () => position,
    start() {
      options.onState('connecting');
      void load(false);
    },
    retry() {
      if (tokenEntered) {
        const resume = tokenEntered;
        tokenEntered = undefined;
        resume();
        return;
      }
      options.api.access().then(options.onAccess, () => undefined);
      if (state === 'unauthorized' || state === 'refused') connection.reconnect();
    },
  };
}
