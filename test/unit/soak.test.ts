// The soak's pure parts (bench/lib/soak-check.ts, soak-report.ts): a client's stream check across
// resumes, and the verdict from samples (slopes, flat counts, event-loop delay).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fullStreamCheck, orderCheck } from '../../bench/lib/soak-check.js';
import { flatness, judgeSoak, type SoakSample, theilSenSlope } from '../../bench/lib/soak-report.js';
import type { OrderEvent } from '../../src/contract/events.js';

function ev(position: number, orderId = 1, version = position): OrderEvent {
  return { position, order_id: orderId, version } as OrderEvent;
}

describe('soak stream check', () => {
  it('passes a stream delivered once in order over any split into connections', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.array(fc.integer({ min: 0, max: 200 })), (n, cuts) => {
        const check = fullStreamCheck(0);
        const events = Array.from({ length: n }, (_, i) => ev(i + 1));
        const bounds = [...new Set([0, ...cuts.filter((c) => c < n), n])].sort((a, b) => a - b);
        for (let i = 1; i < bounds.length; i++) {
          check.take(events.slice(bounds[i - 1], bounds[i]));
          check.ready(check.since); // each connection's replay ends where the client stands
        }
        expect([check.repeats, check.gaps, check.last, check.received]).toEqual([0, 0, n, n]);
      }),
    );
  });

  it('counts any event delivered twice, and any left out, whatever the position', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 100 }), fc.nat(), fc.boolean(), (n, at, twice) => {
        const k = 1 + (at % (n - 2));
        const check = fullStreamCheck(0);
        const positions = Array.from({ length: n }, (_, i) => i + 1);
        const sent = twice
          ? [...positions.slice(0, k + 1), k, ...positions.slice(k + 1)]
          : positions.filter((p) => p !== k + 1);
        check.take(sent.map((p) => ev(p)));
        expect(twice ? check.repeats : check.gaps).toBe(1);
        expect(twice ? check.gaps : check.repeats).toBe(0);
      }),
    );
  });

  it('sees a gap when a full-stream client is told it is ready past what it was sent', () => {
    const check = fullStreamCheck(10);
    check.take([ev(11), ev(12)]);
    check.ready(15);
    expect(check.gaps).toBe(1);
    check.take([ev(16)]);
    expect([check.gaps, check.repeats, check.last]).toEqual([1, 0, 16]);
  });

  it('follows one order by its versions: other positions between are fine, a version lost or repeated is not', () => {
    const check = orderCheck(7, 100, 3);
    check.take([ev(105, 7, 4), ev(230, 7, 5)]);
    check.ready(400);
    check.take([ev(401, 7, 6)]);
    expect([check.gaps, check.repeats, check.last]).toEqual([0, 0, 6]);
    check.take([ev(402, 7, 8), ev(403, 7, 8), ev(404, 9, 1)]);
    expect([check.gaps, check.repeats]).toEqual([2, 1]);
  });

  it('starts over after a resync at the snapshot, taking the next version of the order as its start', () => {
    const check = orderCheck(7, 0, 1);
    check.restart(500);
    check.take([ev(400, 7, 2)]);
    expect(check.repeats).toBe(1);
    check.take([ev(501, 7, 40), ev(502, 7, 41)]);
    expect([check.gaps, check.repeats, check.last]).toEqual([0, 1, 41]);
  });
});

function sample(t: number, heapMiB: number, fds = 50, delay = 5, queues = 4): SoakSample {
  const p = { rssBytes: 2 ** 27, heapUsedBytes: heapMiB * 2 ** 20, loopDelayP99Ms: delay, openFds: fds };
  return { t, processes: { gateway: p, load: { ...p, heapUsedBytes: 2 ** 20 * t } }, counts: { queues } };
}

describe('soak verdict', () => {
  const minutes = (n: number) => Array.from({ length: n * 6 }, (_, i) => (i + 1) * 10);
  const gateway = (v: ReturnType<typeof judgeSoak>) => v.processes.find((p) => p.name === 'gateway')!;

  it('passes a heap that saws up and down around a level, and leaves the load generator out', () => {
    const samples = minutes(30).map((t) => sample(t, 40 + ((t / 10) % 7) * 3));
    const verdict = judgeSoak(samples, 300, (n) => n === 'gateway');
    expect(Math.abs(gateway(verdict).heapSlope)).toBeLessThan(2 ** 20);
    expect(verdict.processes.find((p) => p.name === 'load')!.heapSlope).toBeGreaterThan(2 ** 20);
    expect(verdict.ok).toBe(true);
  });

  it('fails a heap that climbs 2 MiB every 10 minutes under the same sawtooth', () => {
    const samples = minutes(30).map((t) => sample(t, 40 + ((t / 10) % 7) * 3 + (t / 600) * 2));
    const verdict = judgeSoak(samples, 300, (n) => n === 'gateway');
    expect(gateway(verdict).heapSlope / 2 ** 20).toBeCloseTo(2, 0);
    expect(verdict.ok).toBe(false);
  });

  it('fails on an event-loop delay over 50 ms, a growing file count, or a growing queue count', () => {
    const base = minutes(30);
    const slow = judgeSoak(
      base.map((t) => sample(t, 40, 50, t === 900 ? 80 : 5)),
      300,
      () => true,
    );
    expect(slow.ok).toBe(false);
    const fds = judgeSoak(
      base.map((t) => sample(t, 40, 50 + Math.floor(t / 60))),
      300,
      () => true,
    );
    expect(gateway(fds).fds.ok).toBe(false);
    const queues = judgeSoak(
      base.map((t) => sample(t, 40, 50, 5, 4 + Math.floor(t / 300))),
      300,
      () => true,
    );
    expect(queues.counts[0]!.ok).toBe(false);
    const gatewayOnly = (n: string) => n === 'gateway';
    expect(
      judgeSoak(
        base.map((t) => sample(t, 40)),
        300,
        gatewayOnly,
      ).ok,
    ).toBe(true);
  });

  it('judges nothing from a run too short to have samples after the warm-up', () => {
    expect(
      judgeSoak(
        minutes(5).map((t) => sample(t, 40)),
        300,
        () => true,
      ).ok,
    ).toBe(false);
  });

  it('takes a churning count as flat and a slow climb as not', () => {
    const churn = Array.from(
      { length: 150 },
      (_, i) => [i * 10, 480 + ((i * 37) % 41) - 20] as [number, number],
    );
    expect(flatness('sockets', churn).ok).toBe(true);
    const climb = churn.map(([t, v]) => [t, v + t / 20] as [number, number]);
    expect(flatness('sockets', climb).ok).toBe(false);
    expect(
      theilSenSlope([
        [0, 0],
        [1, 2],
        [2, 4],
        [3, 6],
        [4, 100],
      ]),
    ).toBe(2);
  });
});
