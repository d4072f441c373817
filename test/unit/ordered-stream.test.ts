// The ordered stream (src/gateway/ordered-stream.ts): the sequencer's I/O edge with a fake log —
// reads one at a time, retried after a failure, holes reported between the events around them.

import { describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../src/contract/events.js';
import { createOrderedStream } from '../../src/gateway/ordered-stream.js';
import type { PositionRange } from '../../src/gateway/sequencer.js';
import { waitFor } from '../../src/lib/wait.js';
import { createLogger } from '../../src/log.js';
import { envelope, envelopes, positions } from '../helpers/events.js';

function harness(range: (from: number, to: number) => Promise<OrderEvent[]>) {
  const out: (number | PositionRange)[] = [];
  const stream = createOrderedStream({
    start: 0,
    source: { range },
    log: createLogger('silent'),
    emit: (events) => out.push(...positions(events)),
    skip: (hole) => out.push(hole),
    retryDelayMs: () => 1,
  });
  return { stream, out };
}

describe('ordered stream', () => {
  it('retries a failed read until the log answers', async () => {
    let calls = 0;
    const { stream, out } = harness(async (from, to) => {
      calls++;
      if (calls < 3) throw new Error('connection terminated');
      return envelopes(from, to);
    });
    stream.offer(envelope(4));
    await waitFor(() => out.length === 4, { timeoutMs: 2_000, what: 'the gap filled' });
    expect(out).toEqual([1, 2, 3, 4]);
    expect(calls).toBe(3);
    stream.stop();
  });

  it('reports a hole between the events before and after it', async () => {
    const { stream, out } = harness(async () => [...envelopes(1, 2), ...envelopes(6, 9)]);
    stream.offer(envelope(10));
    await waitFor(() => out.length >= 7, { timeoutMs: 2_000, what: 'the read' });
    expect(out).toEqual([1, 2, { from: 3, to: 5 }, 6, 7, 8, 9, 10]);
    stream.stop();
  });

  it('emits nothing after stop', async () => {
    let release: (events: OrderEvent[]) => void = () => {};
    const { stream, out } = harness(() => new Promise((resolve) => (release = resolve)));
    stream.offer(envelope(3));
    stream.stop();
    release(envelopes(1, 2));
    await new Promise((resolve) => setImmediate(resolve));
    expect(out).toEqual([]);
  });
});
