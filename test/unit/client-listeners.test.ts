// An application's listener that throws never breaks the stream (src/client/listeners.ts): the
// live set still applies every event, recovers from gaps, resyncs and lost links, and the error
// reaches the 'error' listeners as a non-fatal ListenerError. After close() no listener is called.
// Random interleavings: client-listeners-model.test.ts.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createLiveOrders,
  events,
  type LiveOrders,
  type LiveOrdersEvents,
  type Order,
  type OrderEvent,
} from '../../src/client/index.js';
import { type FakeLink, type FakeSnapshot, fakeGateways, snapshotApi } from '../helpers/client-fakes.js';
import { orderRow as order, orderEvent } from '../helpers/events.js';

const until = (check: () => boolean) => vi.waitFor(() => expect(check()).toBe(true), { timeout: 2_000 });
const update = (position: number, row: Order): OrderEvent => orderEvent(position, 'update', row);
const versions = (orders: LiveOrders) =>
  Object.fromEntries(orders.all().map((o) => [o.id, o.version] as const));

/** A live set over fake gateways; what its listeners were told, and what escaped into the transport. */
function liveSet(serve: () => FakeSnapshot) {
  const gw = fakeGateways();
  const api = snapshotApi(serve);
  const orders = createLiveOrders({
    url: ['http://a', 'http://b'],
    transport: gw.transport,
    fetch: api.fetch,
  });
  const errors: { error: unknown; fatal: boolean }[] = [];
  const escaped: unknown[] = [];
  const lost = new Set<FakeLink>();
  return {
    gw,
    api,
    orders,
    errors,
    escaped,
    lost,
    /** Calls a link handler as the transport would; an exception thrown back into it is a defect. */
    fromGateway(call: () => void): void {
      try {
        call();
      } catch (e) {
        escaped.push(e);
      }
    },
    /** Registers the recorder of errors, after whatever the test added first. */
    recordErrors(): void {
      orders.on('error', (error, fatal) => errors.push({ error, fatal }));
    },
  };
}

type Harness = ReturnType<typeof liveSet>;

async function goLive(h: Harness, position: number): Promise<void> {
  void h.orders.start();
  await until(() => h.gw.links.length === 1);
  h.fromGateway(() => h.gw.last().on.open());
  h.fromGateway(() => h.gw.last().on.ready(position));
  expect(h.orders.status).toBe('live');
}

/** After the backoff a new link opens on the next gateway, the old ones closed (or lost), and it goes live. */
async function expectRecovers(h: Harness, linksBefore: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(10_000);
  await until(() => h.gw.links.length > linksBefore);
  expect(h.gw.links.slice(0, -1).every((link) => link.closed || h.lost.has(link))).toBe(true);
  const link = h.gw.last();
  h.fromGateway(() => link.on.open());
  h.fromGateway(() => link.on.ready(link.request.auth.since!));
  expect(h.orders.status).toBe('live');
  expect(h.escaped).toEqual([]);
}

const listenerError = (listener: keyof LiveOrdersEvents, cause: unknown) => ({
  error: expect.objectContaining({ code: 'listener-threw', listener, cause }),
  fatal: false,
});

describe('a listener that throws', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('costs the model no event: position is the last one applied', async () => {
    const h = liveSet(() => ({ orders: [order(1, 1), order(2, 1)], position: 100 }));
    const boom = new Error('boom');
    h.orders.on('change', (change) => {
      if (change.event.position === 101) throw boom;
    });
    h.recordErrors();
    await goLive(h, 100);
    h.fromGateway(() => h.gw.last().on.events([update(101, order(1, 2)), update(102, order(2, 2))]));
    expect(h.orders.position).toBe(102);
    expect(versions(h.orders)).toEqual({ 1: 2, 2: 2 });
    h.fromGateway(() => h.gw.last().on.events([update(103, order(1, 3))]));
    expect(h.orders.position).toBe(103);
    expect(versions(h.orders)).toEqual({ 1: 3, 2: 2 });
    expect(h.errors).toEqual([listenerError('change', boom)]);
    expect(h.escaped).toEqual([]);
    h.orders.close();
  });

  for (const type of ['change', 'event'] as const) {
    it(`in a gap ('${type}') leaves the old link closed and resumes on the next gateway`, async () => {
      const h = liveSet(() => ({ orders: [order(1, 1)], position: 100 }));
      const boom = new Error('boom');
      h.orders.on(type, () => {
        throw boom;
      });
      h.recordErrors();
      await goLive(h, 100);
      // 102 is missing: 101 is delivered, then the link is dropped to resume after 101.
      h.fromGateway(() => h.gw.last().on.events([update(101, order(1, 2)), update(103, order(1, 4))]));
      expect(h.orders.status).toBe('reconnecting');
      expect(h.gw.last().closed).toBe(true);
      await expectRecovers(h, 1);
      expect(h.gw.last().request).toMatchObject({ url: 'http://b', auth: { since: 101 } });
      expect(h.errors).toEqual([listenerError(type, boom)]);
      h.orders.close();
    });
  }

  it("on 'status' reconnecting still reconnects after a lost link", async () => {
    const h = liveSet(() => ({ orders: [order(1, 1)], position: 100 }));
    const boom = new Error('boom');
    h.orders.on('status', (status) => {
      if (status === 'reconnecting') throw boom;
    });
    h.recordErrors();
    await goLive(h, 100);
    const link = h.gw.last();
    h.lost.add(link);
    h.fromGateway(() => link.on.lost('transport close'));
    await expectRecovers(h, 1);
    expect(h.errors).toEqual([listenerError('status', boom)]);
    h.orders.close();
  });

  it("on 'reset' after a resync still connects after the new snapshot", async () => {
    let snapshot: FakeSnapshot = { orders: [order(1, 1)], position: 100 };
    const h = liveSet(() => snapshot);
    const boom = new Error('boom');
    let resets = 0;
    h.orders.on('reset', () => {
      resets += 1;
      if (resets === 2) throw boom;
    });
    h.recordErrors();
    await goLive(h, 100);
    snapshot = { orders: [order(1, 7), order(9, 1)], position: 500 };
    h.fromGateway(() => h.gw.last().on.resync('position older than retention'));
    expect(h.orders.status).toBe('reloading');
    await expectRecovers(h, 1);
    expect(h.gw.last().request.auth.since).toBe(500);
    expect(versions(h.orders)).toEqual({ 1: 7, 9: 1 });
    expect(h.errors).toEqual([listenerError('reset', boom)]);
    h.orders.close();
  });

  it("on 'error' after a failed snapshot still retries; it goes to console.error, once", async () => {
    let failures = 1;
    const h = liveSet(() => {
      if (failures-- > 0) throw new Error('connection refused');
      return { orders: [order(1, 1)], position: 100 };
    });
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const boom = new Error('boom');
    h.orders.on('error', () => {
      throw boom;
    });
    h.recordErrors();
    void h.orders.start();
    await until(() => h.errors.length === 1);
    expect(h.errors[0]).toMatchObject({ error: { code: 'request-failed' }, fatal: false });
    await expectRecovers(h, 0);
    expect(h.api.requests).toBe(2);
    expect(consoleError).toHaveBeenCalledTimes(1);
    expect(consoleError.mock.calls[0]![0]).toMatchObject({
      code: 'listener-threw',
      listener: 'error',
      cause: boom,
    });
    expect(h.errors).toHaveLength(1);
    h.orders.close();
  });
});

describe('a listener that throws with no error listener', () => {
  it('goes to console.error', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const h = liveSet(() => ({ orders: [], position: 100 }));
      const boom = new Error('boom');
      h.orders.on('event', () => {
        throw boom;
      });
      await goLive(h, 100);
      h.fromGateway(() => h.gw.last().on.events([update(101, order(1, 1))]));
      expect(h.orders.position).toBe(101);
      expect(consoleError).toHaveBeenCalledTimes(1);
      expect(consoleError.mock.calls[0]![0]).toMatchObject({ listener: 'event', cause: boom });
      h.orders.close();
    } finally {
      consoleError.mockRestore();
    }
  });
});

describe('after close()', () => {
  it('calls no listener, not even for a new filter', async () => {
    const h = liveSet(() => ({ orders: [order(1, 1, 'shipped'), order(2, 1)], position: 100 }));
    await goLive(h, 100);
    h.orders.close();
    const calls: string[] = [];
    for (const type of ['change', 'status', 'event', 'reset', 'error'] as const)
      h.orders.on(type, () => void calls.push(type));
    h.orders.setFilter({ status: ['shipped'] });
    expect(h.orders.all().map((o) => o.id)).toEqual([1]);
    expect(calls).toEqual([]);
  });
});

describe("events()' onStatus that throws", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('does not stop the stream from resuming; it goes to console.error', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const gw = fakeGateways();
    const boom = new Error('boom');
    const stream = events({
      url: ['http://a', 'http://b'],
      since: 0,
      transport: gw.transport,
      onStatus: (status) => {
        if (status === 'reconnecting') throw boom;
      },
    });
    gw.last().on.open();
    gw.last().on.ready(0);
    expect(() => gw.last().on.lost('transport close')).not.toThrow();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(gw.links).toHaveLength(2);
    expect(consoleError.mock.calls[0]![0]).toMatchObject({ code: 'listener-threw', listener: 'onStatus' });
    stream.close();
    expect(gw.last().closed).toBe(true);
  });
});
