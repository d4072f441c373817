// The live set (src/client/live-orders.ts) against a reference model, through random steps of a
// simulated log, gateway and GET /orders — events in order, repeats, gaps, lost and refused
// links, resyncs, snapshots answered late or not at all, reconnect(), setFilter(), close() — while
// listeners of every event throw at random steps. After every step: each listener error reached
// 'error' as a non-fatal ListenerError (an 'error' listener's, console.error); the listeners that
// do not throw saw every position once, in order, restarting only after a reset; all() is the
// reference table at `position` under the filter; after close() nothing is called.

import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import {
  createLiveOrders,
  type EventFilter,
  ListenerError,
  type LiveOrders,
  type LiveOrdersEvents,
  type Order,
} from '../../src/client/index.js';
import { type FakeLink, fakeGateways, heldSnapshotApi } from '../helpers/client-fakes.js';
import { OrderLog } from '../helpers/order-log.js';

const TYPES = ['change', 'status', 'event', 'reset', 'error'] as const satisfies (keyof LiveOrdersEvents)[];
const FILTERS: (EventFilter | undefined)[] = [undefined, { status: ['pending', 'shipped'] }, { order_id: 2 }];

type Step =
  | { op: 'commit'; changes: number[] }
  | { op: 'open' | 'skip' | 'ready' | 'lose' | 'refuse' | 'resync' | 'timer' | 'reconnect' | 'close' }
  | { op: 'send' | 'repeat'; count: number }
  | { op: 'answer'; ok: boolean }
  | { op: 'filter'; filter: number };

const simple = (op: Exclude<Step, { op: 'commit' | 'send' | 'repeat' | 'answer' | 'filter' }>['op']) =>
  fc.constant({ op } as Step);
const count = (max: number) => fc.integer({ min: 1, max });
// Weighted so that most runs follow the stream a while: a close ends what can happen.
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      op: fc.constant('commit' as const),
      changes: fc.array(fc.nat(99), { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 10, arbitrary: fc.record({ op: fc.constant('send' as const), count: count(4) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('repeat' as const), count: count(3) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('answer' as const), ok: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('filter' as const), filter: fc.nat(FILTERS.length - 1) }),
  },
  ...(['open', 'ready', 'timer'] as const).map((op) => ({ weight: 5, arbitrary: simple(op) })),
  ...(['skip', 'lose', 'refuse', 'resync', 'reconnect'] as const).map((op) => ({
    weight: 1,
    arbitrary: simple(op),
  })),
  { weight: 1, arbitrary: simple('close') },
);
/** Which listeners throw during the step: a bit per entry of TYPES, none half the time. */
const throwsArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 31 }));

const matches = (order: Order, filter: EventFilter | undefined) =>
  (filter?.order_id === undefined || order.id === filter.order_id) &&
  (filter?.status === undefined || filter.status.includes(order.status));
const byId = (orders: Iterable<Order>) => [...orders].sort((a, b) => a.id - b.id);

/** Listeners that throw when told to, registered first; then the recorders, which never throw. */
class Observer {
  /** Bits of TYPES: whose throwers throw now. */
  throwing = 0;
  closed = false;
  readonly thrown: { type: string; error: Error }[] = [];
  readonly reported: { listener: string; cause: unknown; fatal: boolean }[] = [];
  readonly problems: string[] = [];
  /** Built from 'change' and 'reset' alone: what an application keeping its own copy would hold. */
  mirror = new Map<number, Order>();
  private expected: number | undefined;

  constructor(orders: LiveOrders) {
    TYPES.forEach((type, bit) => {
      orders.on(type, (() => this.maybeThrow(type, bit)) as never);
    });
    orders.on('reset', () => {
      this.called('reset');
      this.expected = orders.position;
      this.mirror = new Map(orders.all().map((order) => [order.id, order]));
    });
    orders.on('event', (event) => {
      this.called('event');
      const want = this.expected === undefined ? undefined : this.expected + 1;
      if (event.position !== want) this.problems.push(`event ${event.position}, expected ${want}`);
      this.expected = event.position;
    });
    orders.on('change', (change, order) => {
      this.called('change');
      if (change.kind === 'cleared') this.mirror.clear();
      else if (order) this.mirror.set(order.id, order);
      else this.mirror.delete(change.previous!.id);
    });
    orders.on('status', () => this.called('status'));
    orders.on('error', (error, fatal) => {
      this.called('error');
      if (error instanceof ListenerError)
        this.reported.push({ listener: error.listener, cause: error.cause, fatal });
    });
  }

  private called(type: string): void {
    if (this.closed) this.problems.push(`'${type}' listener called after close()`);
  }

  private maybeThrow(type: string, bit: number): void {
    this.called(type);
    if ((this.throwing & (1 << bit)) === 0) return;
    const error = new Error(`the ${type} listener failed`);
    this.thrown.push({ type, error });
    throw error;
  }
}

interface SimLink {
  fake: FakeLink;
  /** The last position the gateway sent on it. */
  cursor: number;
  open: boolean;
  /** Reported lost: the transport calls nothing more. */
  gone: boolean;
}

/** A live set over a simulated gateway that serves each link from its `since`, and a held GET /orders. */
class Simulation {
  readonly log = new OrderLog();
  readonly gw = fakeGateways();
  readonly api = heldSnapshotApi();
  readonly orders = createLiveOrders({
    url: ['http://a', 'http://b'],
    transport: this.gw.transport,
    fetch: this.api.fetch,
  });
  readonly observer = new Observer(this.orders);
  filter: EventFilter | undefined;
  private link: SimLink | undefined;

  async step(s: Step): Promise<void> {
    this.act(s);
    // A turn of the event loop: a snapshot answered is loaded (microtasks only) before the next step.
    await new Promise((resolve) => setImmediate(resolve));
  }

  private act(s: Step): void {
    switch (s.op) {
      case 'commit':
        for (const choice of s.changes) this.log.commit(choice);
        return;
      case 'answer':
        this.api.answer(s.ok ? this.log.snapshot() : new Error('no answer'));
        return;
      case 'timer':
        vi.advanceTimersByTime(10_000);
        return;
      case 'reconnect':
        this.orders.reconnect();
        return;
      case 'filter':
        this.filter = FILTERS[s.filter];
        this.orders.setFilter(this.filter);
        return;
      case 'close':
        this.orders.close();
        this.observer.closed = true;
        return;
    }
    const link = this.current();
    if (link) this.drive(link, s);
  }

  /** The newest link, served from its `since`; undefined once closed or lost. */
  current(): SimLink | undefined {
    const fake = this.gw.links.at(-1);
    if (fake && fake !== this.link?.fake)
      this.link = { fake, cursor: fake.request.auth.since ?? this.log.head, open: false, gone: false };
    const link = this.link;
    return link && !link.gone && !link.fake.closed ? link : undefined;
  }

  /** What the gateway does on the link. An exception thrown back into a handler fails the run. */
  private drive(link: SimLink, s: Step): void {
    const on = link.fake.on;
    if (s.op === 'open' && !link.open) {
      link.open = true;
      on.open();
    } else if (s.op === 'lose' || (s.op === 'refuse' && !link.open)) {
      link.gone = true;
      if (s.op === 'lose') on.lost('transport close');
      else on.lost('unauthorized', { status: 401, message: 'unauthorized' });
    } else if (!link.open) {
      return;
    } else if (s.op === 'send') {
      const to = Math.min(this.log.head, link.cursor + s.count);
      const events = this.log.events.slice(link.cursor, to);
      link.cursor = to;
      if (events.length > 0) on.events(events);
    } else if (s.op === 'repeat') {
      const events = this.log.events.slice(Math.max(0, link.cursor - s.count), link.cursor);
      if (events.length > 0) on.events(events);
    } else if (s.op === 'skip') {
      link.cursor = Math.min(this.log.head, link.cursor + 1);
    } else if (s.op === 'ready' && link.cursor === this.log.head) {
      on.ready(link.cursor);
    } else if (s.op === 'resync') {
      on.resync('position older than retention');
    }
  }

  /** No more faults nor throws: whatever is pending completes, until live at the head. */
  async settle(): Promise<void> {
    this.observer.throwing = 0;
    for (let i = 0; i < 100 && !this.observer.closed && !this.caughtUp(); i++) {
      const link = this.current();
      if (this.api.waiting > 0) await this.step({ op: 'answer', ok: true });
      else if (vi.getTimerCount() > 0) await this.step({ op: 'timer' });
      else if (link && !link.open) await this.step({ op: 'open' });
      else if (link) {
        await this.step({ op: 'send', count: this.log.head });
        await this.step({ op: 'ready' });
      } else await this.step({ op: 'reconnect' });
    }
  }

  /** The first snapshot answered and the link live, nothing thrown: where half the runs begin. */
  async goLive(): Promise<void> {
    await this.step({ op: 'answer', ok: true });
    await this.step({ op: 'open' });
    await this.step({ op: 'ready' });
  }

  caughtUp(): boolean {
    return this.orders.status === 'live' && this.orders.position === this.log.head;
  }

  /** What must hold after every step. */
  check(consoleErrors: unknown[]): void {
    const { observer, orders } = this;
    expect(observer.problems).toEqual([]);
    const thrownBy = (error: boolean) => observer.thrown.filter((t) => (t.type === 'error') === error);
    expect(observer.reported).toEqual(
      thrownBy(false).map((t) => ({ listener: t.type, cause: t.error, fatal: false })),
    );
    expect(consoleErrors).toEqual(
      thrownBy(true).map((t) => expect.objectContaining({ listener: 'error', cause: t.error })),
    );
    if (observer.closed || orders.position === undefined) return;
    const want = byId(this.log.tableAt(orders.position).filter((order) => matches(order, this.filter)));
    expect(byId(orders.all())).toEqual(want);
    expect(byId(observer.mirror.values())).toEqual(want);
  }
}

describe('live orders with listeners that throw, through random steps', () => {
  let consoleError: MockInstance<typeof console.error>;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('reports every listener error, delivers every position once and in order, keeps the model exact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(fc.tuple(stepArb, throwsArb), { maxLength: 80, size: 'max' }),
        async (live, steps) => {
          consoleError.mockClear();
          const sim = new Simulation();
          const consoleErrors = () => consoleError.mock.calls.map((call) => call[0]);
          try {
            void sim.orders.start();
            if (live) await sim.goLive();
            for (const [s, throws] of steps) {
              sim.observer.throwing = throws;
              await sim.step(s);
              sim.check(consoleErrors());
            }
            await sim.settle();
            sim.check(consoleErrors());
            if (!sim.observer.closed) expect(sim.caughtUp()).toBe(true);
          } finally {
            sim.orders.close();
            vi.clearAllTimers();
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
