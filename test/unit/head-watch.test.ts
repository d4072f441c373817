// Clients ahead of a gateway wait on one watch: it reads the log's last position at most once per
// interval however many wait, lets each go as soon as the head reaches it, and tells the others
// why they must resync.

import { describe, expect, it } from 'vitest';
import { createHeadWatch } from '../../src/gateway/head-watch.js';
import { delay } from '../../src/lib/wait.js';

function watchWith(logHead: () => number, refreshMs = 10, waitMs = 5_000) {
  let head = 100;
  let reads = 0;
  const watch = createHeadWatch({
    head: () => head,
    lastPosition: async () => {
      reads++;
      return logHead();
    },
    refreshMs,
    waitMs,
  });
  return {
    watch,
    reads: () => reads,
    advance(to: number) {
      head = to;
      watch.advanced();
    },
  };
}

describe('createHeadWatch', () => {
  it('costs one read of the log per interval for 1,000 clients ahead, and lets them go as the head passes them', async () => {
    const { watch, reads, advance } = watchWith(() => 2_000);
    const outcomes = Array.from({ length: 1_000 }, (_, i) => watch.wait(101 + i, () => false));
    expect(watch.waiting).toBe(1_000);
    const started = performance.now();
    await delay(200);
    const elapsedIntervals = (performance.now() - started) / 10;
    // One read when the first waited, then at most one per interval.
    expect(reads()).toBeLessThanOrEqual(elapsedIntervals + 2);
    expect(reads()).toBeGreaterThanOrEqual(1);
    advance(600);
    expect(watch.waiting).toBe(500);
    advance(1_100);
    expect(await Promise.all(outcomes)).toEqual(Array(1_000).fill('reached'));
    expect(watch.waiting).toBe(0);
    // Nobody waits: no more reads.
    const after = reads();
    await delay(50);
    expect(reads()).toBe(after);
  });

  it('says a position the log does not have yet is unknown, from a read made after the client came', async () => {
    let logHead = 150;
    const { watch } = watchWith(() => logHead);
    const known = watch.wait(140, () => false);
    const unknown = watch.wait(200, () => false);
    await delay(50);
    logHead = 300; // the other stays: its position is in the log, the head may still reach it
    expect(await unknown).toBe('position unknown');
    watch.stop();
    expect(await known).toBe('gone');
  });

  it('tells a client still ahead after the wait to resync, and lets one that left go quietly', async () => {
    const { watch } = watchWith(() => 10_000, 10, 100);
    let left = false;
    const leaving = watch.wait(500, () => left);
    const ahead = watch.wait(600, () => false);
    left = true;
    expect(await leaving).toBe('gone');
    expect(await ahead).toBe('position ahead of this server');
  });

  it('lets a client at or below the head go at once, without reading the log', async () => {
    const { watch, reads } = watchWith(() => 100);
    expect(await watch.wait(100, () => false)).toBe('reached');
    expect(reads()).toBe(0);
  });
});
