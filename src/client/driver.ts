// Runs a session (session.ts): performs its commands — links through the transport, snapshot
// loads, one timer — and feeds back what happened. Inputs are queued, so a listener that calls
// close() or reconnect() from inside a delivery is handled after the current command. Nothing
// thrown stops the queue: a callback's error goes to onError, a link that cannot be made is lost.

import type { Order, OrderEvent } from '../contract/events.js';
import type { EventFilter } from '../contract/socket.js';
import { ListenerError, toOrdersLiveError } from './errors.js';
import { reportToConsole } from './listeners.js';
import type { LiveStatus, Session, SessionCommand, SessionInput } from './session.js';
import { loadSnapshot } from './snapshot.js';
import type { Link, Transport } from './transport.js';

export interface DriverOptions {
  session: Session;
  /** Gateways, tried in turn. */
  urls: readonly string[];
  /** Where the snapshot comes from (GET /orders), tried in turn. */
  apiUrls: readonly string[];
  path: string;
  token: () => string | undefined;
  /** The filter sent to the gateway at each (re)connect. */
  filter: () => EventFilter | undefined;
  transport: Transport;
  fetch: typeof fetch;
  /** A snapshot was accepted (the session's position is its own): replace the model with it. */
  onSnapshot?(orders: Order[]): void;
  onDeliver(events: OrderEvent[]): void;
  onStatus(status: LiveStatus, detail?: string): void;
  /** Also told, as a non-fatal ListenerError, when one of these callbacks threw. */
  onError(error: Error, fatal: boolean): void;
}

/** The callback each command calls, to name the one that threw (Link.close: the transport's). */
const CALLBACKS: Partial<Record<SessionCommand['type'], string>> = {
  disconnect: 'Link.close',
  snapshot: 'onSnapshot',
  deliver: 'onDeliver',
  status: 'onStatus',
  error: 'onError',
};

export interface Driver {
  send(input: SessionInput): void;
  /** Sends a new filter on the open link, if any (it is also used from the next connect). */
  subscribe(filter: EventFilter | undefined): Promise<void>;
}

export function createDriver(options: DriverOptions): Driver {
  const { session } = options;
  const queue: SessionInput[] = [];
  let running = false;
  let current: { link: number; handle: Link } | undefined;
  let loaded: { load: number; orders: Order[] } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function send(input: SessionInput): void {
    queue.push(input);
    if (running) return;
    running = true;
    try {
      for (let next = queue.shift(); next; next = queue.shift()) {
        for (const command of session.handle(next)) {
          // Each command runs whatever the one before it threw: a disconnect or a wait left out
          // would leave the session waiting for a link or a timer that does not exist.
          try {
            perform(command);
          } catch (e) {
            threw(command, e);
          }
        }
      }
    } finally {
      running = false;
    }
  }

  function threw(command: SessionCommand, e: unknown): void {
    const error = new ListenerError(CALLBACKS[command.type] ?? command.type, e);
    // onError is not told that onError threw: that could go on forever.
    if (command.type === 'error') {
      reportToConsole(error);
      return;
    }
    try {
      options.onError(error, false);
    } catch (again) {
      reportToConsole(new ListenerError('onError', again));
    }
  }

  function perform(command: SessionCommand): void {
    switch (command.type) {
      case 'connect':
        connect(command.link, command.url, command.since, command.epoch);
        break;
      case 'disconnect':
        if (current?.link === command.link) {
          const { handle } = current;
          current = undefined;
          handle.close();
        }
        break;
      case 'load':
        void load(command.load, command.url);
        break;
      case 'snapshot': {
        const accepted = loaded?.load === command.load ? loaded.orders : undefined;
        loaded = undefined;
        if (accepted) options.onSnapshot?.(accepted);
        break;
      }
      case 'wait':
        clearTimeout(timer);
        timer = command.ms === null ? undefined : setTimeout(() => send({ type: 'timer' }), command.ms);
        break;
      case 'deliver':
        options.onDeliver(command.events);
        break;
      case 'status':
        options.onStatus(command.status, command.detail);
        break;
      case 'error':
        options.onError(command.error, command.fatal);
        break;
    }
  }

  function connect(link: number, url: number, since: number | undefined, epoch: number | undefined): void {
    let handle: Link;
    try {
      const auth = { token: options.token(), since, epoch, filter: options.filter() };
      handle = options.transport(
        { url: options.urls[url % options.urls.length]!, path: options.path, auth: dropUndefined(auth) },
        {
          open: () => send({ type: 'open', link }),
          events: (events) => send({ type: 'events', link, events }),
          ready: (position, epoch) =>
            send({ type: 'ready', link, position, ...(epoch === undefined ? {} : { epoch }) }),
          resync: (reason) => send({ type: 'resync', link, reason }),
          lost: (reason, refusal) => send({ type: 'lost', link, reason, ...(refusal ? { refusal } : {}) }),
        },
      );
    } catch (e) {
      // The token function or the transport threw: a link that never opened, retried as one.
      send({
        type: 'lost',
        link,
        reason: `cannot open a link: ${e instanceof Error ? e.message : String(e)}`,
      });
      return;
    }
    current = { link, handle };
  }

  async function load(number: number, url: number): Promise<void> {
    const base = options.apiUrls[url % options.apiUrls.length]!;
    try {
      const snapshot = await loadSnapshot(options.fetch, base, options.token());
      // The session says whether it still wants this load (a 'snapshot' command) or not.
      loaded = { load: number, orders: snapshot.orders };
      const { position, epoch } = snapshot;
      send({ type: 'loaded', load: number, position, ...(epoch === undefined ? {} : { epoch }) });
    } catch (e) {
      send({ type: 'load-failed', load: number, error: toOrdersLiveError(e) });
    }
  }

  return {
    send,
    async subscribe(filter) {
      await current?.handle.subscribe(filter);
    },
  };
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
