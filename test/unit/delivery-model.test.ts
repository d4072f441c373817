// The delivery path as a model: the ordered stream (sequencer + its read loop), the fanout and
// resume, driven with no PostgreSQL and no RabbitMQ through random interleavings — broker
// deliveries repeated, reordered and lost; log reads that resolve at any moment or fail;
// retention holes; clients that connect from any position, replay, go live and drop off. After
// every step, for every client: positions go up by exactly one, nothing twice, nothing skipped
// without a resync. Once everything is delivered, every client that was not told to resync stands
// at the log's last position.
//
// The fakes are the log (a Map the model writes and trims), the broker (a queue the model
// feeds, shuffles and drops from) and the rooms (clients in a list). The client loop mirrors
// socket-server.ts: one resume action per step, and `live` joins in the same step as the
// `next()` that found the cursor at the head.

import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../src/contract/events.js';
import { createFanout, type Fanout, type LiveRooms } from '../../src/gateway/fanout.js';
import { createGatewayMetrics } from '../../src/gateway/metrics.js';
import { createOrderedStream, type OrderedStream } from '../../src/gateway/ordered-stream.js';
import { createResume, type Resume } from '../../src/gateway/resume.js';
import { createLogger } from '../../src/log.js';
import { envelope } from '../helpers/events.js';

type Op =
  | { op: 'commit'; count: number }
  | { op: 'publish'; count: number }
  | { op: 'republish'; back: number; count: number }
  | { op: 'deliver'; count: number }
  | { op: 'swap'; i: number; j: number }
  | { op: 'drop'; count: number }
  | { op: 'catchUp'; back: number }
  | { op: 'resolveRead'; ok: boolean }
  | { op: 'tick' }
  | { op: 'retention'; keep: number }
  | { op: 'connect'; back: number; fromLive: boolean }
  | { op: 'step'; client: number }
  | { op: 'resolveClientRead'; client: number }
  | { op: 'disconnect'; client: number }
  | { op: 'reconnect'; client: number };

const small = fc.integer({ min: 1, max: 6 });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('commit' as const), count: small }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('publish' as const), count: small }), weight: 3 },
  {
    arbitrary: fc.record({ op: fc.constant('republish' as const), back: fc.nat(8), count: small }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant('deliver' as const), count: small }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('swap' as const), i: fc.nat(6), j: fc.nat(6) }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant('drop' as const), count: fc.integer({ min: 1, max: 3 }) }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant('catchUp' as const), back: fc.nat(4) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('resolveRead' as const), ok: fc.boolean() }), weight: 3 },
  { arbitrary: fc.constant({ op: 'tick' as const }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('retention' as const), keep: fc.nat(30) }), weight: 1 },
  {
    // Near the live head or the log's end, behind or (negative) ahead of it.
    arbitrary: fc.record({
      op: fc.constant('connect' as const),
      back: fc.integer({ min: -3, max: 15 }),
      fromLive: fc.boolean(),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant('step' as const), client: fc.nat(5) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('resolveClientRead' as const), client: fc.nat(5) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('disconnect' as const), client: fc.nat(5) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('reconnect' as const), client: fc.nat(5) }), weight: 1 },
);

interface Deferred {
  from: number;
  to: number;
  resolve(events: OrderEvent[]): void;
  reject(error: Error): void;
}

/** A client as socket-server.ts serves it, with what it saw. */
interface Client {
  since: number;
  last: number;
  connected: boolean;
  live: boolean;
  resynced: boolean;
  resume: Resume | null;
  read: { from: number; to: number } | null;
  violations: string[];
}

class World {
  readonly log = new Map<number, OrderEvent>();
  committed = 0;
  published = 0;
  broker: number[] = [];
  reads: Deferred[] = [];
  readonly clients: Client[] = [];
  readonly stream: OrderedStream;
  readonly fanout: Fanout;
  /** What the ordered stream emitted, checked like a client: the sequencer alone must be exact. */
  readonly emitted = { last: 0, violations: [] as string[] };
  private lastHead = 0;
  private lastStreamHead = 0;

  constructor() {
    const rooms: LiveRooms = {
      size: () => this.liveClients().length,
      emit: (_room, events) => {
        for (const c of this.liveClients()) this.receive(c, events);
      },
      resync: () => {
        for (const c of this.liveClients()) this.resync(c);
      },
    };
    this.fanout = createFanout({
      rooms,
      start: 0,
      metrics: createGatewayMetrics(new Registry()),
      recentEvents: 8,
    });
    this.stream = createOrderedStream({
      start: 0,
      log: createLogger('silent'),
      source: {
        range: (from, to) =>
          new Promise((resolve, reject) => {
            this.reads.push({ from, to, resolve, reject });
          }),
      },
      emit: (events) => {
        this.receive(this.emitted, events);
        this.fanout.push(events);
      },
      skip: (range) => {
        if (range.from !== this.emitted.last + 1)
          this.emitted.violations.push(`skip ${range.from}–${range.to} after ${this.emitted.last}`);
        this.emitted.last = range.to;
        this.fanout.skip(range);
      },
      retryDelayMs: () => 0,
    });
  }

  liveClients(): Client[] {
    return this.clients.filter((c) => c.connected && c.live);
  }

  readLog(from: number, to: number): OrderEvent[] {
    const out: OrderEvent[] = [];
    for (let p = from; p <= Math.min(to, this.committed); p++) {
      const event = this.log.get(p);
      if (event) out.push(event);
    }
    return out;
  }

  receive(client: Pick<Client, 'last' | 'violations'>, events: readonly OrderEvent[]): void {
    for (const event of events) {
      if (event.position !== client.last + 1)
        client.violations.push(`after ${client.last} got ${event.position}`);
      client.last = Math.max(client.last, event.position);
    }
  }

  resync(client: Client): void {
    client.resynced = true;
    client.connected = false;
    client.live = false;
  }

  connect(client: Client): void {
    client.connected = true;
    client.live = false;
    client.read = null;
    client.resume = createResume(client.last, 3);
  }

  /** One action of the client's resume, as socket-server.ts performs it. */
  step(client: Client): void {
    if (!client.connected || client.live || client.read || !client.resume) return;
    const action = client.resume.next(this.fanout);
    switch (action.type) {
      case 'ahead':
        // The real driver waits up to 5 s, then asks the log whether the position exists.
        if (action.since > this.committed) this.resync(client);
        return;
      case 'send':
        this.receive(client, action.events);
        return;
      case 'read':
        client.read = { from: action.from, to: action.to };
        return;
      case 'resync':
        this.resync(client);
        return;
      case 'live':
        client.live = true;
        return;
    }
  }

  resolveClientRead(client: Client): void {
    if (!client.read || !client.resume || !client.connected) return;
    const { from, to } = client.read;
    client.read = null;
    const action = client.resume.readDone(this.readLog(from, to));
    if (action.type === 'send') this.receive(client, action.events);
    else if (action.type === 'resync') this.resync(client);
  }

  async apply(op: Op): Promise<void> {
    switch (op.op) {
      case 'commit':
        for (let i = 0; i < op.count; i++) {
          this.committed++;
          this.log.set(this.committed, envelope(this.committed));
        }
        break;
      case 'publish':
        for (let n = 0; n < op.count && this.published < this.committed; n++)
          this.broker.push(++this.published);
        break;
      case 'republish': {
        // A new leader republishing what was not confirmed, or a deposed one's late publish.
        const from = Math.max(1, this.published - op.back);
        for (let p = from; p <= this.published && p < from + op.count; p++) this.broker.push(p);
        break;
      }
      case 'deliver':
        for (const p of this.broker.splice(0, op.count)) this.stream.offer(envelope(p));
        break;
      case 'swap': {
        const { i, j } = op;
        if (i < this.broker.length && j < this.broker.length)
          [this.broker[i], this.broker[j]] = [this.broker[j]!, this.broker[i]!];
        break;
      }
      case 'drop': // lost with a broker connection
        this.broker.splice(0, op.count);
        break;
      case 'catchUp': // after a consumer reconnect: the confirmed head
        this.stream.catchUp(Math.max(0, this.published - op.back));
        break;
      case 'resolveRead': {
        const read = this.reads.shift();
        if (read && op.ok) read.resolve(this.readLog(read.from, read.to));
        else read?.reject(new Error('connection terminated'));
        break;
      }
      case 'tick':
        await new Promise((resolve) => setImmediate(resolve));
        break;
      case 'retention': // everything older than the newest `keep` positions is deleted
        for (const p of this.log.keys()) if (p <= this.committed - op.keep) this.log.delete(p);
        break;
      case 'connect':
        if (this.clients.length < 6) {
          const since = Math.max(0, (op.fromLive ? this.fanout.head : this.committed) - op.back);
          const client: Client = {
            since,
            last: since,
            connected: false,
            live: false,
            resynced: false,
            resume: null,
            read: null,
            violations: [],
          };
          this.clients.push(client);
          this.connect(client);
        }
        break;
      case 'step':
        if (this.clients[op.client]) this.step(this.clients[op.client]!);
        break;
      case 'resolveClientRead':
        if (this.clients[op.client]) this.resolveClientRead(this.clients[op.client]!);
        break;
      case 'disconnect': {
        const client = this.clients[op.client];
        if (client) Object.assign(client, { connected: false, live: false, read: null });
        break;
      }
      case 'reconnect': {
        const client = this.clients[op.client];
        if (client && !client.connected && !client.resynced) this.connect(client);
        break;
      }
    }
    // Let resolved reads reach the sequencer (microtasks), as the event loop would.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }

  /** The invariants that must hold after every step. */
  check(): void {
    expect(this.emitted.violations, 'the ordered stream').toEqual([]);
    for (const [i, c] of this.clients.entries()) expect(c.violations, `client ${i}`).toEqual([]);
    expect(this.fanout.head).toBeGreaterThanOrEqual(this.lastHead);
    expect(this.stream.head).toBeGreaterThanOrEqual(this.lastStreamHead);
    expect(this.stream.head).toBeGreaterThanOrEqual(this.fanout.head);
    this.lastHead = this.fanout.head;
    this.lastStreamHead = this.stream.head;
  }

  /** Publishes and delivers everything, resolves every read, runs every client to live. */
  async settle(): Promise<void> {
    await this.apply({ op: 'publish', count: Number.MAX_SAFE_INTEGER });
    await this.apply({ op: 'catchUp', back: 0 });
    for (let round = 0; round < 10_000; round++) {
      const busy = this.reads.length > 0 || this.broker.length > 0 || this.fanout.head < this.stream.head;
      const clientsBusy = this.clients.some((c) => c.connected && !c.live);
      if (!busy && !clientsBusy && this.stream.head === this.committed) return;
      await this.apply({ op: 'deliver', count: 100 });
      await this.apply({ op: 'resolveRead', ok: true });
      await this.apply({ op: 'tick' });
      for (const c of this.clients) {
        this.resolveClientRead(c);
        this.step(c);
      }
      this.check();
    }
    throw new Error(
      `did not settle: stream ${this.stream.head}, fanout ${this.fanout.head}, log ${this.committed}`,
    );
  }
}

describe('delivery model', () => {
  it('every client gets every position once and in order, through any interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, { maxLength: 120 }), async (ops) => {
        const world = new World();
        try {
          for (const op of ops) {
            await world.apply(op);
            world.check();
          }
          await world.settle();
          world.check();
          expect(world.fanout.head).toBe(world.committed);
          for (const [i, c] of world.clients.entries()) {
            if (c.resynced || !c.connected) continue;
            expect(c.last, `client ${i} (since ${c.since})`).toBe(world.committed);
          }
        } finally {
          world.stream.stop();
          world.fanout.stop();
        }
      }),
      { numRuns: Number(process.env.MODEL_RUNS ?? 300) },
    );
  });
});
