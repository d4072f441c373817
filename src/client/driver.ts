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
import type { Link, LinkHandlers, Transport } from './transport.js';

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
  return new SessionDriver(options);
}

class SessionDriver implements Driver {
  private readonly queue: SessionInput[] = [];
  private running = false;
  private current: { link: number; handle: Link } | undefined;
  private loaded: { load: number; orders: Order[] } | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: DriverOptions) {}

  send(input: SessionInput): void {
    this.queue.push(input);
    if (this.running) return;
    this.running = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        for (const command of this.options.session.handle(next)) {
          // Each command runs whatever the one before it threw: a disconnect or a wait left out
          // would leave the session waiting for a link or a timer that does not exist.
          try {
            this.perform(command);
          } catch (e) {
            this.threw(command, e);
          }
        }
      }
    } finally {
      this.running = false;
    }
  }

  async subscribe(filter: EventFilter | undefined): Promise<void> {
    await this.current?.handle.subscribe(filter);
  }

  private threw(command: SessionCommand, e: unknown): void {
    const error = new ListenerError(CALLBACKS[command.type] ?? command.type, e);
    // onError is not told that onError threw: that could go on forever.
    if (command.type === 'error') {
      reportToConsole(error);
      return;
    }
    try {
      this.options.onError(error, false);
    } catch (again) {
      reportToConsole(new ListenerError('onError', again));
    }
  }

  private perform(command: SessionCommand): void {
    switch (command.type) {
      case 'connect':
        this.connect(command.link, command.url, command.since, command.epoch);
        break;
      case 'disconnect':
        this.disconnect(command.link);
        break;
      case 'load':
        void this.load(command.load, command.url);
        break;
      case 'snapshot':
        this.snapshot(command.load);
        break;
      case 'wait':
        this.wait(command.ms);
        break;
      case 'deliver':
        this.options.onDeliver(command.events);
        break;
      case 'status':
        this.options.onStatus(command.status, command.detail);
        break;
      case 'error':
        this.options.onError(command.error, command.fatal);
        break;
    }
  }

  private connect(link: number, url: number, since: number | undefined, epoch: number | undefined): void {
    const { options } = this;
    let handle: Link;
    try {
      const auth = { token: options.token(), since, epoch, filter: options.filter() };
      const request = { url: options.urls[url % options.urls.length]!, path: options.path };
      handle = options.transport({ ...request, auth: dropUndefined(auth) }, this.handlers(link));
    } catch (e) {
      // The token function or the transport threw: a link that never opened, retried as one.
      this.send({
        type: 'lost',
        link,
        reason: `cannot open a link: ${e instanceof Error ? e.message : String(e)}`,
      });
      return;
    }
    this.current = { link, handle };
  }

  /** What link number `link` reports, as inputs. */
  private handlers(link: number): LinkHandlers {
    return {
      open: () => this.send({ type: 'open', link }),
      events: (events) => this.send({ type: 'events', link, events }),
      ready: (position, epoch) => this.send({ type: 'ready', link, position, epoch }),
      resync: (reason) => this.send({ type: 'resync', link, reason }),
      lost: (reason, refusal) => this.send({ type: 'lost', link, reason, ...(refusal ? { refusal } : {}) }),
    };
  }

  private disconnect(link: number): void {
    if (this.current?.link !== link) return;
    const { handle } = this.current;
    this.current = undefined;
    handle.close();
  }

  private async load(number: number, url: number): Promise<void> {
    const base = this.options.apiUrls[url % this.options.apiUrls.length]!;
    try {
      const snapshot = await loadSnapshot(this.options.fetch, base, this.options.token());
      // The session says whether it still wants this load (a 'snapshot' command) or not.
      this.loaded = { load: number, orders: snapshot.orders };
      const { position, epoch } = snapshot;
      this.send({ type: 'loaded', load: number, position, epoch });
    } catch (e) {
      this.send({ type: 'load-failed', load: number, error: toOrdersLiveError(e) });
    }
  }

  private snapshot(load: number): void {
    const accepted = this.loaded?.load === load ? this.loaded.orders : undefined;
    this.loaded = undefined;
    if (accepted) this.options.onSnapshot?.(accepted);
  }

  private wait(ms: number | null): void {
    clearTimeout(this.timer);
    this.timer = ms === null ? undefined : setTimeout(() => this.send({ type: 'timer' }), ms);
  }
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
