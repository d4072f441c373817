// The watermark writer: raises of both watermarks fold into one write at most every
// WATERMARK_EVERY_MS, a flush writes at once, and a failed write is retried by the next raise or
// flush.

import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWatermarkWriter } from '../../src/bridge/watermark.js';

/** A database whose watermark UPDATEs are recorded and answered when the test says. */
function fakeDb() {
  const writes: string[] = [];
  /** The epoch each write was conditioned on, or null. */
  const epochs: (number | null)[] = [];
  const answers: { resolve(): void; reject(e: Error): void }[] = [];
  const db = {
    query(sql: string) {
      writes.push(
        [...sql.matchAll(/(\w+) = greatest\(\w+, (\d+)\)/g)].map((m) => `${m[1]![0]}${m[2]}`).join(' '),
      );
      const epoch = /AND epoch = (\d+)/.exec(sql)?.[1];
      epochs.push(epoch === undefined ? null : Number(epoch));
      return new Promise<void>((resolve, reject) => answers.push({ resolve, reject }));
    },
  } as unknown as Pick<pg.Pool, 'query'>;
  const answer = async (error?: Error) => {
    const next = answers.shift()!;
    if (error) next.reject(error);
    else next.resolve();
    await vi.advanceTimersByTimeAsync(0);
  };
  return { db, writes, epochs, answer, pending: () => answers.length };
}

/** A writer at a 20 ms interval over a fake database, and its handle on the feed's watermark. */
function fakeWriter(onError: (e: unknown) => void = () => undefined) {
  const fake = fakeDb();
  const writer = createWatermarkWriter(fake.db, onError, 20);
  /** Answers the write in flight, flushes, and returns every write made. */
  const flushed = async () => {
    await fake.answer();
    await writer.flush();
    return fake.writes;
  };
  return { ...fake, writer, feed: writer.of('confirmed_through'), flushed };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('createWatermarkWriter', () => {
  it('writes the first raise at once and folds later ones into one write per interval', async () => {
    const { feed: writer, writes, answer } = fakeWriter();
    writer.raise(1);
    expect(writes).toEqual(['c1']);
    for (let p = 2; p <= 10; p++) writer.raise(p);
    await answer();
    expect(writes).toEqual(['c1']); // the next waits for the interval
    await vi.advanceTimersByTimeAsync(19);
    expect(writes).toEqual(['c1']);
    await vi.advanceTimersByTimeAsync(1);
    expect(writes).toEqual(['c1', 'c10']);
    await answer();
    writer.raise(5); // lower: nothing to write
    await vi.advanceTimersByTimeAsync(100);
    expect(writes).toEqual(['c1', 'c10']);
  });

  it('writes at once on flush, without waiting for the interval', async () => {
    const { feed: writer, writes, answer } = fakeWriter();
    writer.raise(3);
    await answer();
    writer.raise(7);
    const flushed = writer.flush();
    expect(writes).toEqual(['c3', 'c7']);
    await answer();
    await flushed;
    await vi.advanceTimersByTimeAsync(100);
    expect(writes).toEqual(['c3', 'c7']); // the timer the raise set was cleared
  });

  it('reports a failed write and writes the position again with the next raise', async () => {
    const errors: unknown[] = [];
    const { feed: writer, writes, answer } = fakeWriter((e) => errors.push(e));
    writer.raise(4);
    await answer(new Error('connection lost'));
    expect(errors).toHaveLength(1);
    writer.raise(6);
    await vi.advanceTimersByTimeAsync(20);
    expect(writes).toEqual(['c4', 'c6']);
    await answer();
    await writer.flush();
    expect(writes).toEqual(['c4', 'c6']);
  });
});

describe('createWatermarkWriter with both watermarks', () => {
  it('carries both in one UPDATE, each only when it moved', async () => {
    const { writer, writes, answer } = fakeWriter();
    writer.of('confirmed_through').raise(10);
    expect(writes).toEqual(['c10']);
    writer.of('events_confirmed_through').raise(4);
    writer.of('confirmed_through').raise(12);
    await answer();
    await vi.advanceTimersByTimeAsync(20);
    expect(writes).toEqual(['c10', 'c12 e4']);
    await answer();
    writer.of('events_confirmed_through').raise(9);
    const flushed = writer.flush();
    expect(writes).toEqual(['c10', 'c12 e4', 'e9']);
    await answer();
    await flushed;
  });
});

describe('createWatermarkWriter after reset (a new leadership)', () => {
  it('writes a raise below what it wrote before, as the new primary lags the old', async () => {
    const { writer, feed, writes, answer, flushed } = fakeWriter();
    feed.raise(100);
    await answer();
    writer.reset(2);
    feed.raise(40);
    await vi.advanceTimersByTimeAsync(20);
    expect(writes).toEqual(['c100', 'c40']);
    expect(await flushed()).toEqual(['c100', 'c40']);
  });

  it('lets a write of the old generation finish without marking the new one written', async () => {
    const { writer, feed, writes, answer, pending, flushed } = fakeWriter();
    feed.raise(100);
    expect(pending()).toBe(1);
    writer.reset(2); // the old write is still in flight
    feed.raise(100); // the same position again, now in the new history
    await answer(); // the old write lands: it must not count as this generation's
    await vi.advanceTimersByTimeAsync(20);
    expect(writes).toEqual(['c100', 'c100']);
    expect(await flushed()).toEqual(['c100', 'c100']);
  });

  it('writes each watermark under the epoch of the leadership that started the write', async () => {
    const { writer, feed, epochs, answer, flushed } = fakeWriter();
    writer.reset(1);
    feed.raise(100);
    writer.reset(2); // the write of epoch 1 is still in flight
    feed.raise(40);
    await answer();
    await vi.advanceTimersByTimeAsync(20);
    await flushed();
    expect(epochs).toEqual([1, 2]);
  });

  it('drops a timer of the old generation', async () => {
    const { writer, feed, writes, answer } = fakeWriter();
    feed.raise(1);
    await answer();
    feed.raise(50); // waits for the interval
    writer.reset(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(writes).toEqual(['c1']);
  });
});
