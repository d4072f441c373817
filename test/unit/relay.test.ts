// The feed relay against a fake change log and a fake broker, with fast-check's scheduler deciding
// when every statement and every confirm comes back: numbering goes on while confirms are out,
// confirms arrive in any order, publishes fail (a failed connection fails everything it carried),
// statements fail before or after they committed, the operator deletes events. Whatever happens:
//   - the watermark (in memory and as written) never passes a position RabbitMQ did not confirm;
//   - batches reach the broker, per connection, as one contiguous run that starts right above
//     the watermark (nothing is handed over ahead of a batch that must be republished);
//   - once failures stop, every event is published, and `onPublished` saw every position exactly
//     once, in order.

import fc from 'fast-check';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { FeedBatch, FeedLog } from '../../src/bridge/feed-log.js';
import type { Publisher } from '../../src/bridge/publisher.js';
import { createRelay } from '../../src/bridge/relay.js';
import { createWatermarkWriter } from '../../src/bridge/watermark.js';
import type { RawEvent } from '../../src/db/event-log.js';
import { rawEvent } from '../helpers/events.js';
import { fakePublisher } from '../helpers/fake-publisher.js';

type Fault = 'none' | 'publish' | 'before-commit' | 'after-commit' | 'delete';

interface World {
  log: FeedLog;
  publisher: Publisher;
  db: { query(sql: string): Promise<unknown> };
  /** Commits `n` events. */
  commit(n: number): void;
  /** Faults are drawn from the plan until it is exhausted, or stopped. */
  stopFaults(): void;
  readonly written: number;
  readonly committed: number;
  readonly confirmed: ReadonlySet<number>;
  readonly deleted: ReadonlySet<number>;
  /** Per connection, the batches handed to it, as [first, last], and the watermark then. */
  readonly connections: { batches: [number, number][]; startMark: number }[];
  allSettled(): Promise<void>;
  violations: string[];
}

function createWorld(s: fc.Scheduler, faults: Fault[], relayMark: () => number): World {
  let committed = 0;
  let numbered = 0;
  let faulting = true;
  let written = 0;
  const batches: { first: number; last: number }[] = [];
  const confirmed = new Set<number>();
  const deleted = new Set<number>();
  const connections: World['connections'] = [];
  const pending: { reject(e: Error): void }[] = [];
  let open = false;
  /** A publish failed and the relay has not reopened: publishes fail, as the real publisher's do. */
  let broken = false;
  const settling: Promise<unknown>[] = [];
  const violations: string[] = [];
  const fault = (): Fault => (faulting ? (faults.shift() ?? 'none') : 'none');
  const event = rawEvent;
  const withEvents = (b: { first: number; last: number }): FeedBatch => {
    const events: RawEvent[] = [];
    for (let p = b.first; p <= b.last; p++) if (!deleted.has(p)) events.push(event(p));
    return { ...b, events };
  };
  const statement = <T>(label: string, run: () => T): Promise<T> => {
    const f = fault();
    if (f === 'delete' && numbered > 0) deleted.add(1 + (committed % numbered));
    if (f === 'before-commit') return s.schedule(Promise.reject(new Error(`${label} failed`)), label);
    const value = run();
    if (f === 'after-commit') return s.schedule(Promise.reject(new Error(`${label}: answer lost`)), label);
    return s.schedule(Promise.resolve(value), label);
  };
  const checkMark = (mark: number, who: string) => {
    for (let p = 1; p <= mark; p++)
      if (!confirmed.has(p) && !deleted.has(p)) violations.push(`${who} ${mark} passes unconfirmed ${p}`);
  };

  const log: FeedLog = {
    number(batchSize, _at, read) {
      return statement('number', () => {
        const fresh: { first: number; last: number }[] = [];
        for (let p = numbered + 1; p <= committed; p += batchSize)
          fresh.push({ first: p, last: Math.min(committed, p + batchSize - 1) });
        batches.push(...fresh);
        numbered = committed;
        return { batches: fresh.slice(0, read).map(withEvents), through: fresh.length > 0 ? numbered : 0 };
      });
    },
    numbered(after, limit) {
      return statement('numbered', () =>
        batches
          .filter((b) => b.last > after)
          .slice(0, limit)
          .map(withEvents),
      );
    },
    confirmedThrough() {
      return statement('confirmedThrough', () => written);
    },
  };

  const reopen = async () => {
    broken = false;
  };
  const publisher = fakePublisher(
    (events, onWritten) => {
      if (broken) return s.schedule(Promise.reject(new Error('not reopened')), 'refused');
      if (events.length === 0) return Promise.resolve();
      if (!open) {
        connections.push({ batches: [], startMark: relayMark() });
        open = true;
      }
      const connection = connections.at(-1)!;
      connection.batches.push([events[0]!.position, events.at(-1)!.position]);
      onWritten?.();
      const f = fault();
      let reject: (e: Error) => void = () => {};
      const answer = new Promise<void>((resolve, fail) => {
        reject = fail;
        // Confirmed (or nacked) whenever the scheduler says; a dropped connection fails it first.
        void s.schedule(Promise.resolve(), 'confirm').then(() => {
          if (f !== 'publish') {
            for (const e of events) confirmed.add(e.position);
            resolve();
          } else {
            // The connection is dropped at once, but the publisher answers only once the drop is
            // done: a batch handed over meanwhile goes out on a new connection.
            open = false;
            broken = true;
            const dropped = pending.splice(0);
            void s.schedule(Promise.resolve(), 'dropped').then(() => {
              for (const p of dropped) p.reject(new Error('channel closed'));
              fail(new Error('nacked'));
            });
          }
        });
      });
      pending.push({ reject });
      settling.push(answer.catch(() => undefined));
      return answer;
    },
    { reopen },
  );

  const db = {
    query(sql: string) {
      const value = Number(/greatest\(\w+, (\d+)\)/.exec(sql)?.[1]);
      return statement('watermark', () => {
        checkMark(value, 'written watermark');
        written = Math.max(written, value);
      });
    },
  };

  return {
    log,
    publisher,
    db,
    commit(n) {
      committed += n;
    },
    stopFaults() {
      faulting = false;
    },
    get written() {
      return written;
    },
    get committed() {
      return committed;
    },
    confirmed,
    deleted,
    connections,
    async allSettled() {
      while (settling.length > 0) await Promise.all(settling.splice(0));
    },
    violations,
  };
}

const faultArb = fc.constantFrom<Fault>(
  'none',
  'none',
  'none',
  'none',
  'publish',
  'before-commit',
  'after-commit',
  'delete',
);

describe('createRelay (fake log and broker, any interleaving)', () => {
  it('never moves the watermark past an unconfirmed batch, hands over in order per connection, and publishes everything exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 10 }),
        fc.array(faultArb, { maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        async (s, commits, faults, capacity, batchSize) => {
          let relay: ReturnType<typeof createRelay> | undefined;
          const world = createWorld(s, [...faults], () => relay?.confirmedThrough ?? 0);
          const published: number[] = [];
          relay = createRelay({
            publisher: world.publisher,
            watermark: createWatermarkWriter(
              world.db as unknown as Pick<pg.Pool, 'query'>,
              () => undefined,
            ).of('confirmed_through'),
            batchSize,
            lingerMs: 0,
            capacity,
            onPublished(events) {
              published.push(...events.map((e) => e.position));
            },
          });
          const signal = new AbortController().signal;
          const drain = async () => {
            try {
              return await relay!.drain(world.log, signal);
            } catch {
              return -1;
            }
          };
          const run = async () => {
            for (const n of commits) {
              world.commit(n);
              await drain();
            }
            world.stopFaults();
            // Until every committed event is confirmed (or deleted) and the watermark says so.
            for (let round = 0; round < 100; round++) {
              await drain();
              await world.allSettled();
              if (relay!.confirmedThrough === world.committed) break;
            }
            // A watermark write that failed before faults stopped fails one settle; the next writes.
            await relay!.settle(0).catch(() => relay!.settle(0));
          };
          await s.waitFor(run());

          expect(world.violations).toEqual([]);
          expect(relay.confirmedThrough).toBe(world.committed);
          expect(world.written).toBe(world.committed);
          for (let p = 1; p <= world.committed; p++)
            expect(world.confirmed.has(p) || world.deleted.has(p), `position ${p}`).toBe(true);
          // Every position once, in order, as the watermark passed it (one the operator deleted
          // before it went out is not sent).
          expect(published.every((p, i) => i === 0 || p > published[i - 1]!)).toBe(true);
          const sent = new Set(published);
          for (let p = 1; p <= world.committed; p++)
            if (!world.deleted.has(p)) expect(sent.has(p), `position ${p} published`).toBe(true);
          // Per connection: one contiguous run, from right above the watermark when it opened.
          for (const { batches, startMark } of world.connections) {
            let last = startMark;
            for (const [first, end] of batches) {
              const skipped = Array.from({ length: first - last - 1 }, (_, i) => last + 1 + i);
              expect(
                skipped.every((p) => world.deleted.has(p)),
                `batch ${first}–${end} after ${last}`,
              ).toBe(true);
              last = end;
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
