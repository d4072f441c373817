// The fanout (src/gateway/fanout.ts) with fake rooms: the broadcast stream only goes up by one —
// repeats are dropped, a hole resyncs every live client instead of a silent jump — and events
// are grouped per tick.

import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../src/contract/events.js';
import { continueStream, createFanout, type LiveRooms } from '../../src/gateway/fanout.js';
import { createGatewayMetrics } from '../../src/gateway/metrics.js';
import { envelope, envelopes, positions } from '../helpers/events.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

function fakeRooms(members: Record<string, number>) {
  const sent: { room: string; positions: number[] }[] = [];
  const resyncs: { room: string; reason: string }[] = [];
  const rooms: LiveRooms = {
    size: (room) => members[room] ?? 0,
    emit: (room, events: OrderEvent[]) => void sent.push({ room, positions: positions(events) }),
    resync: (room, reason) => void resyncs.push({ room, reason }),
  };
  return { rooms, sent, resyncs };
}

describe('continueStream', () => {
  it('splits what continues the stream from repeats and holes', () => {
    const { parts, refused, through } = continueStream(2, [1, 2, 3, 4, 7, 8, 8, 5].map(envelope));
    expect(refused).toBe(4); // 1, 2, the second 8, and 5 (behind the stream once 7 went out)
    expect(through).toBe(8);
    expect(parts.map((p) => ('hole' in p ? p.hole : positions(p.events)))).toEqual([
      [3, 4],
      { from: 5, to: 6 },
      [7, 8],
    ]);
  });
});

describe('fanout', () => {
  it('groups one tick of events into one message per room that has clients', async () => {
    const { rooms, sent } = fakeRooms({ 'live:all': 2 });
    const fanout = createFanout({ rooms, start: 0, metrics: createGatewayMetrics(new Registry()) });
    fanout.push(envelopes(1, 2));
    fanout.push([envelope(3)]);
    expect(fanout.head).toBe(0);
    await tick();
    expect(sent).toEqual([{ room: 'live:all', positions: [1, 2, 3] }]);
    expect(fanout.head).toBe(3);
    expect(positions(fanout.recent(1, 10)!)).toEqual([2, 3]);
    fanout.stop();
  });

  it('drops repeats and resyncs live clients at a hole, then continues after it', async () => {
    const { rooms, sent, resyncs } = fakeRooms({ 'live:all': 1 });
    const metrics = createGatewayMetrics(new Registry());
    const fanout = createFanout({ rooms, start: 0, metrics });
    fanout.push(envelopes(1, 3));
    fanout.push([envelope(2), envelope(6)]);
    await tick();
    expect(sent).toEqual([
      { room: 'live:all', positions: [1, 2, 3] },
      { room: 'live:all', positions: [6] },
    ]);
    expect(resyncs).toEqual([{ room: 'live:all', reason: 'positions 4–5 are missing from the change log' }]);
    expect((await metrics.duplicates.get()).values[0]!.value).toBe(1);
    // Memory cannot serve a resume from before the hole: only the log can, and it will resync.
    expect(fanout.recent(3, 10)).toBeNull();
    expect(positions(fanout.recent(5, 10)!)).toEqual([6]);
    fanout.stop();
  });

  it('flushes at once when a full batch is waiting', () => {
    const { rooms, sent } = fakeRooms({ 'live:all': 1 });
    const fanout = createFanout({ rooms, start: 0, metrics: createGatewayMetrics(new Registry()) });
    fanout.push(envelopes(1, 500));
    expect(fanout.head).toBe(500);
    expect(sent).toHaveLength(1);
    fanout.stop();
  });

  it('forks back: queued events above the fork are dropped, live clients resync, the ring restarts', async () => {
    const { rooms, sent, resyncs } = fakeRooms({ 'live:all': 2 });
    const fanout = createFanout({ rooms, start: 0, metrics: createGatewayMetrics(new Registry()) });
    fanout.push(envelopes(1, 6));
    await tick();
    fanout.push(envelopes(7, 8)); // queued for the next tick
    fanout.fork(4, 'the change log is at epoch 2 (was 1)');
    await tick();
    expect(sent).toEqual([{ room: 'live:all', positions: [1, 2, 3, 4, 5, 6] }]);
    expect(resyncs).toEqual([{ room: 'live:all', reason: 'the change log is at epoch 2 (was 1)' }]);
    expect(fanout.head).toBe(4);
    expect(fanout.recent(2, 10)).toBeNull();
    expect(fanout.forkedSince(0)).toBe(4);
    expect(fanout.forkedSince(1)).toBeNull();
    fanout.push(envelopes(5, 5));
    await tick();
    expect(sent.at(-1)).toEqual({ room: 'live:all', positions: [5] });
    fanout.stop();
  });

  it('does nothing at a fork at or above what it sent', async () => {
    const { rooms, resyncs } = fakeRooms({ 'live:all': 1 });
    const fanout = createFanout({ rooms, start: 0, metrics: createGatewayMetrics(new Registry()) });
    fanout.push(envelopes(1, 3));
    await tick();
    fanout.fork(3, 'epoch 2');
    expect(resyncs).toEqual([]);
    expect(fanout.forks).toBe(0);
    expect(positions(fanout.recent(0, 10)!)).toEqual([1, 2, 3]);
    fanout.stop();
  });
});
