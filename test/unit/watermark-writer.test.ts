// The watermark writer: raises fold into one write at most every WATERMARK_EVERY_MS, a flush writes
// at once, and a failed write is retried by the next raise or flush.

import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWatermarkWriter } from '../../src/bridge/watermark.js';

/** A database whose watermark UPDATEs are recorded and answered when the test says. */
function fakeDb() {
  const writes: number[] = [];
  const answers: { resolve(): void; reject(e: Error): void }[] = [];
  const db = {
    query(sql: string) {
      writes.push(Number(/greatest\(\w+, (\d+)\)/.exec(sql)![1]));
      return new Promise<void>((resolve, reject) => answers.push({ resolve, reject }));
    },
  } as unknown as Pick<pg.Pool, 'query'>;
  const answer = async (error?: Error) => {
    const next = answers.shift()!;
    if (error) next.reject(error);
    else next.resolve();
    await vi.advanceTimersByTimeAsync(0);
  };
  return { db, writes, answer, pending: () => answers.length };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('createWatermarkWriter', () => {
  it('writes the first raise at once and folds later ones into one write per interval', async () => {
    const { db, writes, answer } = fakeDb();
    const writer = createWatermarkWriter(db, 'confirmed_through', () => undefined, 20);
    writer.raise(1);
    expect(writes).toEqual([1]);
    for (let p = 2; p <= 10; p++) writer.raise(p);
    await answer();
    expect(writes).toEqual([1]); // the next waits for the interval
    await vi.advanceTimersByTimeAsync(19);
    expect(writes).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1);
    expect(writes).toEqual([1, 10]);
    await answer();
    writer.raise(5); // lower: nothing to write
    await vi.advanceTimersByTimeAsync(100);
    expect(writes).toEqual([1, 10]);
  });

  it('writes at once on flush, without waiting for the interval', async () => {
    const { db, writes, answer } = fakeDb();
    const writer = createWatermarkWriter(db, 'confirmed_through', () => undefined, 20);
    writer.raise(3);
    await answer();
    writer.raise(7);
    const flushed = writer.flush();
    expect(writes).toEqual([3, 7]);
    await answer();
    await flushed;
    await vi.advanceTimersByTimeAsync(100);
    expect(writes).toEqual([3, 7]); // the timer the raise set was cleared
  });

  it('reports a failed write and writes the position again with the next raise', async () => {
    const { db, writes, answer } = fakeDb();
    const errors: unknown[] = [];
    const writer = createWatermarkWriter(db, 'confirmed_through', (e) => errors.push(e), 20);
    writer.raise(4);
    await answer(new Error('connection lost'));
    expect(errors).toHaveLength(1);
    writer.raise(6);
    await vi.advanceTimersByTimeAsync(20);
    expect(writes).toEqual([4, 6]);
    await answer();
    const flushed = writer.flush();
    await flushed;
    expect(writes).toEqual([4, 6]);
  });
});
