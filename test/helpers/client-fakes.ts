// A fake transport and a fake GET /orders for the client library's unit tests: links the test
// drives by hand (open, events, ready, resync, lost), and snapshots it serves or fails on demand.

import type { LinkHandlers, LinkRequest, Transport } from '../../src/client/index.js';
import type { Order } from '../../src/contract/events.js';
import type { EventFilter } from '../../src/contract/socket.js';

export interface FakeLink {
  request: LinkRequest;
  on: LinkHandlers;
  closed: boolean;
  filters: (EventFilter | undefined)[];
}

export function fakeGateways() {
  const links: FakeLink[] = [];
  const transport: Transport = (request, on) => {
    const link: FakeLink = { request, on, closed: false, filters: [] };
    links.push(link);
    return {
      close() {
        link.closed = true;
      },
      async subscribe(filter) {
        link.filters.push(filter);
      },
    };
  };
  return { transport, links, last: () => links.at(-1)! };
}

export interface FakeSnapshot {
  orders: Order[];
  position: number;
}

/** GET /orders in one page: what `serve` returns when the request is made, or no answer if it throws. */
export function snapshotApi(serve: () => FakeSnapshot) {
  let requests = 0;
  const fetchFn = (async () => {
    requests += 1;
    const { orders, position } = serve();
    return new Response(JSON.stringify({ orders, next: null }), {
      headers: { 'Content-Type': 'application/json', 'X-Event-Position': String(position) },
    });
  }) as unknown as typeof fetch;
  return {
    fetch: fetchFn,
    get requests() {
      return requests;
    },
  };
}

/** GET /orders answered only when the test says so: `answer()` serves the oldest request waiting. */
export function heldSnapshotApi() {
  const waiting: { resolve: (r: Response) => void; reject: (e: Error) => void }[] = [];
  const fetchFn = (() =>
    new Promise<Response>((resolve, reject) => waiting.push({ resolve, reject }))) as unknown as typeof fetch;
  return {
    fetch: fetchFn,
    get waiting() {
      return waiting.length;
    },
    /** Answers the oldest request with `snapshot`, or as a server that does not answer. */
    answer(snapshot: FakeSnapshot | Error): void {
      const request = waiting.shift();
      if (!request) return;
      if (snapshot instanceof Error) {
        request.reject(snapshot);
        return;
      }
      // Not a real Response: its body would be read through a stream, this one in microtasks only,
      // so one turn of the event loop delivers the snapshot.
      const body = { orders: snapshot.orders, next: null };
      const headers = new Headers({ 'X-Event-Position': String(snapshot.position) });
      request.resolve({ ok: true, status: 200, headers, json: async () => body } as unknown as Response);
    },
  };
}
