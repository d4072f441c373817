// The client library's public API (src/client): liveOrders() and events() over a fake transport
// and a fake fetch — snapshot pages, resume on the next gateway, version rules, the filtered
// view, typed errors, backpressure, the abort signal, methods called detached. The session's
// rules alone: client-session.test.ts.

import { getEventListeners } from 'node:events';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BadFilterError,
  createLiveOrders,
  events,
  liveOrders,
  type Order,
  type OrderEvent,
  RequestError,
  ResyncError,
  UnauthorizedError,
} from '../../src/client/index.js';
import type { EventFilter } from '../../src/contract/socket.js';
import { fakeGateways } from '../helpers/client-fakes.js';
import { envelopes, orderEvent, orderRow, positions } from '../helpers/events.js';

const order = orderRow;
let position = 100;
const change = (op: OrderEvent['op'], row: Order, version = row.version) =>
  orderEvent(++position, op, row, version);

/** GET /orders over `rows`, `pageSize` a page, each page at its own X-Event-Position. */
function fakeApi(
  rows: () => Order[],
  pagePositions: number[],
  options: { status?: number; epoch?: () => number } = {},
) {
  const requests: { url: string; authorization: string | undefined }[] = [];
  const fetchFn = (async (input: string, init?: RequestInit) => {
    const url = new URL(String(input));
    requests.push({
      url: String(input),
      authorization: (init?.headers as Record<string, string>)?.Authorization,
    });
    if (options.status)
      return new Response(JSON.stringify({ status: options.status, detail: 'a valid token is required' }), {
        status: options.status,
        headers: { 'Content-Type': 'application/problem+json' },
      });
    const after = Number(url.searchParams.get('after'));
    const all = rows().filter((r) => r.id > after);
    const page = all.slice(0, 2);
    const at = pagePositions[Math.min(requests.length - 1, pagePositions.length - 1)]!;
    const epoch: Record<string, string> = options.epoch ? { 'X-Event-Epoch': String(options.epoch()) } : {};
    return new Response(JSON.stringify({ orders: page, next: all.length > 2 ? page.at(-1)!.id : null }), {
      headers: { 'Content-Type': 'application/json', 'X-Event-Position': String(at), ...epoch },
    });
  }) as typeof fetch;
  return { fetch: fetchFn, requests };
}

const until = (check: () => boolean) => vi.waitFor(() => expect(check()).toBe(true), { timeout: 2_000 });

describe('liveOrders', () => {
  beforeEach(() => {
    position = 100;
  });

  it('loads every snapshot page, follows after the lowest page position, applies newer versions only', async () => {
    const gw = fakeGateways();
    const api = fakeApi(() => [order(1, 1), order(2, 3), order(3, 1)], [100, 104]);
    const orders = createLiveOrders({
      url: 'http://gw',
      token: 'secret',
      transport: gw.transport,
      fetch: api.fetch,
    });
    const seen: string[] = [];
    orders.on('change', (c, o) => seen.push(`${c.kind} ${o?.id ?? c.previous?.id} v${o?.version ?? '-'}`));
    // A listener that reads the position on 'reset' gets the snapshot's (the chaos observers did).
    const resets: (number | undefined)[] = [];
    orders.on('reset', () => resets.push(orders.position));
    const started = orders.start();
    await until(() => gw.links.length === 1);
    expect(api.requests.map((r) => r.url)).toEqual([
      'http://gw/orders?after=0&limit=1000',
      'http://gw/orders?after=2&limit=1000',
    ]);
    expect(api.requests[0]!.authorization).toBe('Bearer secret');
    expect(resets).toEqual([100]);
    expect(gw.last().request).toMatchObject({
      url: 'http://gw',
      path: '/socket.io',
      auth: { since: 100, token: 'secret' },
    });
    gw.last().on.open();
    expect(orders.status).toBe('catching-up');
    // Already in the snapshot (order 2 at version 3): skipped. Order 1's update applies.
    gw.last().on.events([change('update', order(2, 3)), change('update', order(1, 2, 'shipped'))]);
    gw.last().on.ready(102);
    await started;
    expect(orders.status).toBe('live');
    gw.last().on.events([change('delete', order(3, 1), 2), change('insert', order(4, 1))]);
    expect(seen).toEqual(['updated 1 v2', 'removed 3 v-', 'added 4 v1']);
    expect(
      orders
        .all()
        .map((o) => o.id)
        .sort(),
    ).toEqual([1, 2, 4]);
    expect(orders.position).toBe(104);
    orders.close();
    expect(gw.last().closed).toBe(true);
  });

  it("follows the log's epoch and reloads when an event of a newer one comes at or below its position", async () => {
    const gw = fakeGateways();
    let table = [order(1, 1), order(2, 1)];
    let epoch = 1;
    const api = fakeApi(() => table, [100], { epoch: () => epoch });
    const orders = createLiveOrders({ url: 'http://gw', transport: gw.transport, fetch: api.fetch });
    const resets: (number | undefined)[] = [];
    orders.on('reset', () => resets.push(orders.epoch));
    const started = orders.start();
    await until(() => gw.links.length === 1);
    expect(gw.last().request.auth).toMatchObject({ since: 100, epoch: 1 });
    gw.last().on.open();
    gw.last().on.ready(100, 1);
    await started;
    gw.last().on.events([{ ...change('update', order(1, 2, 'shipped')), epoch: 1 }]);
    expect(orders.position).toBe(101);
    // The database failed over to a standby whose log ends at 100; its own 101 is another event.
    table = [order(1, 1), order(2, 2, 'cancelled')];
    epoch = 2;
    gw.last().on.events([{ ...orderEvent(101, 'update', order(2, 2, 'cancelled'), 2), epoch: 2 }]);
    expect(gw.last().closed).toBe(true);
    await until(() => gw.links.length === 2);
    expect(resets).toEqual([1, 2]);
    expect(gw.last().request.auth).toMatchObject({ since: 100, epoch: 2 });
    expect(orders.epoch).toBe(2);
    expect(orders.get(1)?.version).toBe(1);
    expect(orders.get(2)?.status).toBe('cancelled');
    orders.close();
  });

  it('loads the snapshot again when the database fails over between two of its pages', async () => {
    const gw = fakeGateways();
    // Epoch 1 had events 96–100, among them order 1's version 2 (shipped); page 1 was read there.
    // The standby promoted before page 2 lacks them: epoch 2's log ends at 95, order 1 at version 1.
    const failedOver = () => api.requests.length > 1;
    const api = fakeApi(
      () => [failedOver() ? order(1, 1) : order(1, 2, 'shipped'), order(2, 1), order(3, 1)],
      [100, 95],
      { epoch: () => (failedOver() ? 2 : 1) },
    );
    const orders = createLiveOrders({ url: 'http://gw', transport: gw.transport, fetch: api.fetch });
    void orders.start();
    await until(() => gw.links.length === 1);
    // Page 2 named another epoch than page 1: the load started over from page 1.
    expect(api.requests.map((r) => new URL(r.url).searchParams.get('after'))).toEqual(['0', '2', '0', '2']);
    expect(gw.last().request.auth).toMatchObject({ since: 95, epoch: 2 });
    gw.last().on.open();
    // Epoch 2's own version 2 of order 1, at a position epoch 1 had used for another change.
    gw.last().on.events([{ ...orderEvent(96, 'update', order(1, 2, 'cancelled')), epoch: 2 }]);
    expect(orders.get(1)).toMatchObject({ version: 2, status: 'cancelled' });
    orders.close();
  });

  it('reports a retryable RequestError when the pages keep naming different epochs', async () => {
    const gw = fakeGateways();
    // Every second page of another epoch: no load ever reads one history.
    const api = fakeApi(() => [order(1, 1), order(2, 1), order(3, 1)], [100], {
      epoch: () => 1 + (api.requests.length % 2),
    });
    const orders = createLiveOrders({ url: 'http://gw', transport: gw.transport, fetch: api.fetch });
    const errors: { error: Error; fatal: boolean }[] = [];
    orders.on('error', (error, fatal) => errors.push({ error, fatal }));
    void orders.start();
    await until(() => errors.length === 1);
    expect(errors[0]!.fatal).toBe(false);
    expect(errors[0]!.error).toBeInstanceOf(RequestError);
    expect(errors[0]!.error.message).toMatch(/epoch 2, then epoch 1.*3 loads in a row/);
    // Three loads of two pages, no link on any of them; the session retries after its backoff.
    expect(api.requests).toHaveLength(6);
    expect(gw.links).toHaveLength(0);
    expect(orders.status).toBe('connecting');
    orders.close();
  });

  it('resumes after its position on the next gateway when the link drops', async () => {
    vi.useFakeTimers();
    try {
      const gw = fakeGateways();
      const api = fakeApi(() => [order(1, 1)], [100]);
      const orders = createLiveOrders({
        url: ['http://a', 'http://b'],
        transport: gw.transport,
        fetch: api.fetch,
      });
      const statuses: string[] = [];
      orders.on('status', (s) => statuses.push(s));
      void orders.start();
      await vi.waitFor(() => expect(gw.links).toHaveLength(1));
      gw.last().on.open();
      gw.last().on.ready(100);
      gw.last().on.events([change('update', order(1, 2))]);
      gw.last().on.lost('transport close');
      await vi.advanceTimersByTimeAsync(1_000);
      expect(gw.links).toHaveLength(2);
      expect(gw.last().request).toMatchObject({ url: 'http://b', auth: { since: 101 } });
      gw.last().on.open();
      gw.last().on.events([change('update', order(1, 2)), change('update', order(1, 3))]);
      expect(orders.stats.duplicates).toBe(0);
      expect(orders.get(1)?.version).toBe(3);
      expect(statuses).toEqual(['catching-up', 'live', 'reconnecting', 'catching-up']);
      orders.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('shows only what the filter selects: orders enter and leave it as their status changes', async () => {
    const gw = fakeGateways();
    const api = fakeApi(() => [order(1, 1, 'shipped'), order(2, 1)], [100]);
    const orders = createLiveOrders({
      url: 'http://gw',
      filter: { status: ['shipped'] },
      transport: gw.transport,
      fetch: api.fetch,
    });
    const seen: string[] = [];
    orders.on('change', (c, o) => seen.push(`${c.kind} ${o?.id ?? c.previous?.id}`));
    let resets = 0;
    orders.on('reset', () => resets++);
    void orders.start();
    await until(() => gw.links.length === 1);
    // The whole table is followed: the gateway gets no filter.
    expect(gw.last().request.auth.filter).toBeUndefined();
    gw.last().on.events([
      change('update', order(2, 2, 'shipped')),
      change('update', order(1, 2, 'delivered')),
    ]);
    expect(seen).toEqual(['added 2', 'removed 1']);
    expect(orders.all().map((o) => o.id)).toEqual([2]);
    expect(orders.get(1)).toBeUndefined();
    orders.setFilter({ status: ['delivered'] });
    expect(resets).toBe(2);
    expect(orders.all().map((o) => o.id)).toEqual([1]);
    expect(() => orders.setFilter({ status: ['lost'] } as unknown as EventFilter)).toThrow(BadFilterError);
    orders.close();
  });

  it('reloads the snapshot on resync and follows from its new position', async () => {
    const gw = fakeGateways();
    let rows = [order(1, 1)];
    const api = fakeApi(() => rows, [100, 500]);
    const orders = createLiveOrders({ url: 'http://gw', transport: gw.transport, fetch: api.fetch });
    void orders.start();
    await until(() => gw.links.length === 1);
    rows = [order(1, 7), order(9, 1)];
    gw.last().on.resync('position older than retention');
    expect(orders.status).toBe('reloading');
    await until(() => gw.links.length === 2);
    expect(gw.last().request.auth.since).toBe(500);
    expect(orders.all().map((o) => `${o.id}v${o.version}`)).toEqual(['1v7', '9v1']);
    orders.close();
  });

  it('rejects with UnauthorizedError when the token is refused, and with BadFilterError at once', async () => {
    const gw = fakeGateways();
    const refused = fakeApi(() => [], [0], { status: 401 });
    await expect(
      liveOrders({ url: 'http://gw', token: 'wrong', transport: gw.transport, fetch: refused.fetch }),
    ).rejects.toBeInstanceOf(UnauthorizedError);
    const api = fakeApi(() => [], [0]);
    const handshake = liveOrders({
      url: 'http://gw',
      token: 'wrong',
      transport: gw.transport,
      fetch: api.fetch,
    });
    await until(() => gw.links.length === 1);
    gw.last().on.lost('unauthorized', {
      status: 401,
      message: 'unauthorized: a valid token is required (auth.token)',
    });
    await expect(handshake).rejects.toBeInstanceOf(UnauthorizedError);
    expect(() => createLiveOrders({ url: 'http://gw', filter: { order_id: -1 } })).toThrow(BadFilterError);
  });

  it('keeps a refused live set waiting for a new token, and reconnect() uses it', async () => {
    const gw = fakeGateways();
    let token = 'old';
    const api = fakeApi(() => [order(1, 1)], [100]);
    const orders = createLiveOrders({
      url: 'http://gw',
      token: () => token,
      transport: gw.transport,
      fetch: api.fetch,
    });
    const errors: string[] = [];
    orders.on('error', (e) => errors.push(e.code));
    void orders.start();
    await until(() => gw.links.length === 1);
    gw.last().on.lost('unauthorized', { status: 401, message: 'unauthorized' });
    expect(orders.status).toBe('unauthorized');
    expect(errors).toEqual(['unauthorized']);
    token = 'new';
    orders.reconnect();
    expect(gw.links).toHaveLength(2);
    expect(gw.last().request.auth).toMatchObject({ token: 'new', since: 100 });
    orders.close();
  });
});

describe('events', () => {
  it('yields every event once, in order, across a reconnect; break closes the link', async () => {
    vi.useFakeTimers();
    try {
      const gw = fakeGateways();
      const stream = events({ url: ['http://a', 'http://b'], since: 10, transport: gw.transport });
      expect(gw.last().request.auth).toEqual({ since: 10 });
      gw.last().on.events(envelopes(11, 13));
      gw.last().on.lost('transport close');
      await vi.advanceTimersByTimeAsync(1_000);
      expect(gw.last().request).toMatchObject({ url: 'http://b', auth: { since: 13 } });
      gw.last().on.events(envelopes(12, 15));
      const got: number[] = [];
      for await (const event of stream) {
        got.push(event.position);
        if (event.position === 15) break;
      }
      expect(got).toEqual([11, 12, 13, 14, 15]);
      expect(gw.last().closed).toBe(true);
      expect(stream.stats.duplicates).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('throws ResyncError when the position cannot be served, BadFilterError for a bad filter', async () => {
    const gw = fakeGateways();
    const stream = events({ url: 'http://gw', since: 3, transport: gw.transport });
    gw.last().on.events(envelopes(4, 4));
    gw.last().on.resync('position older than retention');
    await expect(stream.next()).resolves.toMatchObject({ value: { position: 4 } });
    const error = await stream.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResyncError);
    expect(error).toMatchObject({ position: 4, reason: 'position older than retention' });
    expect(() => events({ url: 'http://gw', filter: { colour: 'red' } as unknown as EventFilter })).toThrow(
      /unknown keys: colour/,
    );
  });

  it('sends a new filter on the open link and on every reconnect', async () => {
    const gw = fakeGateways();
    const stream = events({ url: 'http://gw', transport: gw.transport });
    await stream.setFilter({ order_id: 7 });
    expect(gw.last().filters).toEqual([{ order_id: 7 }]);
    gw.last().on.lost('transport close');
    await until(() => gw.links.length === 2);
    expect(gw.last().request.auth.filter).toEqual({ order_id: 7 });
    stream.close();
    await expect(stream.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('lets go of a shared AbortSignal when it ends: closed, broken out of, or failed', async () => {
    const gw = fakeGateways();
    const { signal } = new AbortController();
    const abortListeners = () => getEventListeners(signal, 'abort').length;
    const closed = events({ url: 'http://gw', since: 0, signal, transport: gw.transport });
    const broken = events({ url: 'http://gw', since: 0, signal, transport: gw.transport });
    const failed = events({ url: 'http://gw', since: 0, signal, transport: gw.transport });
    expect(abortListeners()).toBe(3);
    closed.close();
    expect(abortListeners()).toBe(2);
    gw.links[1]!.on.events(envelopes(1, 1));
    for await (const _ of broken) break;
    expect(abortListeners()).toBe(1);
    // Ended by the gateway: the stream is done whether or not the consumer has read the error yet.
    gw.links[2]!.on.resync('position older than retention');
    expect(abortListeners()).toBe(0);
    await expect(failed.next()).rejects.toBeInstanceOf(ResyncError);
  });

  it('stops receiving while the consumer is behind, then resumes after what it buffered', async () => {
    const gw = fakeGateways();
    const stream = events({ url: 'http://gw', since: 0, transport: gw.transport });
    gw.last().on.events(envelopes(1, 12_000));
    expect(gw.last().closed).toBe(true);
    expect(gw.links).toHaveLength(1);
    const got: number[] = [];
    for (let i = 0; i < 11_000; i++) got.push((await stream.next()).value!.position);
    expect(gw.links).toHaveLength(2);
    expect(gw.last().request.auth.since).toBe(12_000);
    expect(positions(envelopes(1, 11_000))).toEqual(got);
    stream.close();
  });
});

// The docs promise methods that work on their own (`stream.close` handed to a timer, `orders.get`
// to Array#map): they are bound arrow fields. One turned into a prototype method fails here.
describe('methods called detached from their object', () => {
  it('liveOrders: on, start, get, all, setFilter, reconnect and close', async () => {
    const gw = fakeGateways();
    const api = fakeApi(() => [order(1, 1, 'shipped'), order(2, 1)], [100]);
    const { on, start, get, all, setFilter, reconnect, close } = createLiveOrders({
      url: 'http://gw',
      transport: gw.transport,
      fetch: api.fetch,
    });
    const statuses: string[] = [];
    on('status', (status) => statuses.push(status));
    const started = start();
    await until(() => gw.links.length === 1);
    gw.last().on.open();
    gw.last().on.ready(100);
    await started;
    expect([1, 2].map(get).map((o) => o?.id)).toEqual([1, 2]);
    setFilter({ status: ['shipped'] });
    expect(all().map((o) => o.id)).toEqual([1]);
    reconnect();
    expect(gw.links).toHaveLength(2);
    setTimeout(close, 0);
    await until(() => statuses.at(-1) === 'closed');
    expect(gw.last().closed).toBe(true);
  });

  it('events: next, setFilter, the iterator, close and return', async () => {
    const gw = fakeGateways();
    const stream = events({ url: 'http://gw', since: 0, transport: gw.transport });
    const { next, setFilter, close, [Symbol.asyncIterator]: iterator } = stream;
    expect(iterator()).toBe(stream);
    await setFilter({ order_id: 2 });
    expect(gw.last().filters).toEqual([{ order_id: 2 }]);
    gw.last().on.events(envelopes(1, 1));
    await expect(next()).resolves.toMatchObject({ value: { position: 1 }, done: false });
    setTimeout(close, 0);
    await expect(next()).resolves.toEqual({ value: undefined, done: true });
    expect(gw.last().closed).toBe(true);
    const { return: end } = events({ url: 'http://gw', transport: gw.transport });
    await expect(end!()).resolves.toEqual({ value: undefined, done: true });
    expect(gw.last().closed).toBe(true);
  });
});
