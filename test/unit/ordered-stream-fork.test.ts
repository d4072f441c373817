// The ordered stream across a fork of the log (invariant 9): a failover to a standby whose log
// ends at K, whose bridge numbers new events after K under epoch 2. Whatever order the broker
// brings old and new events in, what the stream emits — with every fork cutting the view back —
// ends as the new history, and each emit continues the view exactly (a hole resyncs the clients,
// who reload up to it; only the old history, before the new epoch is known, may have one).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../src/contract/events.js';
import type { EpochRow } from '../../src/db/event-log.js';
import { createEpochs } from '../../src/gateway/epochs.js';
import { createOrderedStream, MAX_PARKED } from '../../src/gateway/ordered-stream.js';
import type { PositionRange } from '../../src/gateway/sequencer.js';
import { waitFor } from '../../src/lib/wait.js';
import { createLogger } from '../../src/log.js';
import { envelope } from '../helpers/events.js';

/** Position p of epoch `epoch` (its txid tells the two histories apart). */
function event(position: number, epoch: number): OrderEvent {
  return { ...envelope(position), epoch, txid: `${epoch}:${position}` };
}

const history = (from: number, to: number, epoch: number) =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => event(from + i, epoch));

/**
 * A stream whose log is `log` (the new primary's) and whose epoch table is `epochRows()`; the
 * view is what a live client holds: emits append, a fork cuts it back.
 */
function harness(log: () => OrderEvent[], epochRows: () => EpochRow[], knownRows: EpochRow[]) {
  const view: OrderEvent[] = [];
  const forks: number[] = [];
  const skips: PositionRange[] = [];
  const broken: string[] = [];
  const known = createEpochs(knownRows);
  let reading = 0;
  const stream = createOrderedStream({
    start: 0,
    source: {
      async range(from, to) {
        reading++;
        try {
          return log().filter((e) => e.position >= from && e.position <= to);
        } finally {
          reading--;
        }
      },
    },
    log: createLogger('silent'),
    emit(events) {
      for (const e of events) {
        if (e.position !== view.length + 1) broken.push(`emitted ${e.position} after ${view.length}`);
        view.push(e);
      }
    },
    // A hole resyncs every live client: they reload what the log has up to it. Only the old
    // history, as seen before the new epoch was known, may have one: the new log has none, and a
    // position it lacks is one its primary has not written yet (skipping it loses that event).
    skip(range) {
      skips.push(range);
      const newest = Math.max(0, ...epochRows().map((row) => row.epoch));
      if (known.current === newest) broken.push(`skipped ${range.from}–${range.to} of the new history`);
      while (view.length < range.to) view.push(log()[view.length] ?? event(view.length + 1, 0));
    },
    retryDelayMs: () => 1,
    epochs: { known, read: async () => epochRows() },
    fork(position) {
      forks.push(position);
      view.length = Math.min(view.length, position);
    },
  });
  return { stream, view, forks, skips, broken, reading: () => reading };
}

const txids = (events: readonly OrderEvent[]) => events.map((e) => e.txid);

describe('ordered stream across a fork of the log', () => {
  const K = 5;
  const newLog = [...history(1, K, 1), ...history(K + 1, 8, 2)];
  const rows = [
    { epoch: 1, forkedAfter: 0 },
    { epoch: 2, forkedAfter: K },
  ];

  it('forks back to what the epochs share when an event of a newer epoch arrives', async () => {
    const { stream, view, forks, broken } = harness(
      () => newLog,
      () => rows,
      rows.slice(0, 1),
    );
    for (const e of history(1, 8, 1)) stream.offer(e); // the old primary's 1..8
    expect(view).toHaveLength(8);
    stream.offer(event(6, 2));
    stream.catchUp(8); // the log's head, as the gateway reads it
    await waitFor(() => view.length === 8 && view.at(-1)!.epoch === 2, {
      timeoutMs: 2_000,
      what: 'the fork',
    });
    expect(forks).toEqual([K]);
    expect(txids(view)).toEqual(txids(newLog));
    expect(broken).toEqual([]);
    stream.stop();
  });

  it('drops events of the old epoch above the fork once it knows the new one', async () => {
    const { stream, view, broken } = harness(
      () => newLog,
      () => rows,
      rows,
    );
    for (const e of history(1, 8, 1)) stream.offer(e);
    expect(txids(view)).toEqual(txids(history(1, K, 1)));
    stream.catchUp(8);
    await waitFor(() => view.length === 8, { timeoutMs: 2_000, what: 'the new history read' });
    expect(txids(view)).toEqual(txids(newLog));
    expect(broken).toEqual([]);
    stream.stop();
  });

  it('does not count old events above the fork, parked with a new one, as positions of the new log', async () => {
    // The new primary has written 6 so far; the broker brings it with the old 7 and 8.
    const log = [...history(1, K, 1), event(K + 1, 2)];
    const { stream, view, forks, skips, broken, reading } = harness(
      () => log,
      () => rows,
      rows.slice(0, 1),
    );
    for (const e of history(1, K, 1)) stream.offer(e);
    for (const e of [event(K + 1, 2), event(K + 2, 1), event(K + 3, 1)]) stream.offer(e);
    await waitFor(() => view.length > K && reading() === 0, {
      timeoutMs: 2_000,
      what: 'the new history at 6, nothing read',
    });
    expect(forks).toEqual([K]);
    expect(skips).toEqual([]);
    // Then the new primary writes 7 and 8, and the broker brings them.
    const later = history(K + 2, 8, 2);
    log.push(...later);
    for (const e of later) stream.offer(e);
    await waitFor(() => view.length === 8, { timeoutMs: 2_000, what: 'the new 7 and 8' });
    expect(txids(view)).toEqual(txids(newLog));
    expect(broken).toEqual([]);
    stream.stop();
  });

  it('counts as shed the deliveries it lets go while it reads the epochs', async () => {
    let answer!: (rows: EpochRow[]) => void;
    let shed = 0;
    const view: OrderEvent[] = [];
    const stream = createOrderedStream({
      start: 0,
      source: { range: async () => [] },
      log: createLogger('silent'),
      emit: (events) => view.push(...events),
      skip: () => undefined,
      onShed: (n) => {
        shed += n;
      },
      epochs: {
        known: createEpochs(rows.slice(0, 1)),
        read: () => new Promise((resolve) => (answer = resolve)),
      },
    });
    // An event of epoch 3, which the table does not have yet, then more than can be parked.
    stream.offer(event(1, 3));
    for (let p = 2; p <= MAX_PARKED + 5; p++) stream.offer(event(p, 1));
    expect(shed).toBe(5);
    answer(rows);
    // Still unknown after the read: let go too (the log brings it back).
    await waitFor(() => shed === 6, { timeoutMs: 2_000, what: 'the unknown epoch let go' });
    stream.stop();
  });

  it('forks back to the log head when the log ends before what was sent', async () => {
    const promoted = history(1, K, 1);
    const { stream, view, forks } = harness(
      () => promoted,
      () => rows.slice(0, 1),
      rows.slice(0, 1),
    );
    for (const e of history(1, 8, 1)) stream.offer(e);
    const asked = stream.mark();
    stream.catchUp(K, asked);
    expect(forks).toEqual([K]);
    expect(view).toHaveLength(K);
    expect(stream.head).toBe(K);
    stream.stop();
  });

  it('does not fork on a log head read before later events were sent', () => {
    const { stream, forks } = harness(
      () => newLog,
      () => rows.slice(0, 1),
      rows.slice(0, 1),
    );
    for (const e of history(1, 3, 1)) stream.offer(e);
    const asked = stream.mark(); // head 3: the read answers 3, while 4 and 5 arrive
    for (const e of history(4, 5, 1)) stream.offer(e);
    stream.catchUp(3, asked);
    expect(forks).toEqual([]);
    expect(stream.head).toBe(5);
    stream.stop();
  });

  it('ends as the new history whatever the broker brings, in any order (model)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.oneof(fc.constant('old'), fc.constant('new'), fc.constant('head'), fc.constant('tick')), {
          maxLength: 40,
        }),
        fc.infiniteStream(fc.nat()),
        async (k, oldEnd, newExtra, ops, picks) => {
          const newEnd = k + newExtra;
          const promoted = [...history(1, k, 1), ...history(k + 1, newEnd, 2)];
          const epochRows = [
            { epoch: 1, forkedAfter: 0 },
            { epoch: 2, forkedAfter: k },
          ];
          const oldEvents = history(1, Math.max(oldEnd, k), 1);
          const newEvents = history(k + 1, newEnd, 2);
          const h = harness(
            () => promoted,
            () => epochRows,
            epochRows.slice(0, 1),
          );
          const pick = <T>(list: readonly T[]) => list[picks.next().value % list.length];
          for (const op of ops) {
            if (op === 'old' && oldEvents.length > 0) h.stream.offer(pick(oldEvents)!);
            else if (op === 'new' && newEvents.length > 0) h.stream.offer(pick(newEvents)!);
            else if (op === 'head') h.stream.catchUp(newEnd, h.stream.mark());
            else await new Promise((resolve) => setImmediate(resolve));
          }
          // Everything the new primary has eventually comes: its events, or the head read.
          for (const e of newEvents) h.stream.offer(e);
          h.stream.catchUp(newEnd, h.stream.mark());
          // The gateway compares its head with the log's on a timer.
          await waitFor(
            () => {
              h.stream.catchUp(newEnd, h.stream.mark());
              return txids(h.view).join() === txids(promoted).join();
            },
            {
              timeoutMs: 2_000,
              intervalMs: 1,
              what: `the view to be the new history (view ${txids(h.view)})`,
            },
          );
          expect(h.broken).toEqual([]);
          h.stream.stop();
        },
      ),
      { numRuns: 300 },
    );
  });
});
