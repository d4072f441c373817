// Resume (src/gateway/resume.ts): invariant 6 — a client that connects with `since: P` receives
// every event after P, then goes live, with no gap and no repeat; an expired P gets `resync`.

import { describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../src/contract/events.js';
import { createReplayRing } from '../../src/gateway/replay-ring.js';
import { createResume, type LiveView } from '../../src/gateway/resume.js';
import { envelopes, positions } from '../helpers/events.js';

function view(head: number, memory?: { from: number }): LiveView {
  const ring = createReplayRing(1_000, (memory?.from ?? head + 1) - 1);
  ring.append(envelopes(memory?.from ?? head + 1, head));
  return { head, recent: (after, limit) => (memory ? ring.after(after, limit) : null) };
}

describe('resume', () => {
  it('goes live at once when the client is at the head', () => {
    expect(createResume(50).next(view(50))).toEqual({ type: 'live', position: 50 });
  });

  it('waits when the client is ahead of this gateway', () => {
    expect(createResume(60).next(view(50))).toEqual({ type: 'ahead', since: 60 });
  });

  it('replays from memory in pages, then goes live', () => {
    const resume = createResume(10, 4);
    const live = view(20, { from: 1 });
    const sent: number[] = [];
    for (let action = resume.next(live); action.type !== 'live'; action = resume.next(live)) {
      expect(action.type).toBe('send');
      sent.push(...positions((action as { events: OrderEvent[] }).events));
    }
    expect(sent).toEqual(positions(envelopes(11, 20)));
    expect(resume.cursor).toBe(20);
  });

  it('reads the log when memory does not reach back, in pages up to the head', () => {
    const resume = createResume(0, 1_000);
    expect(resume.next(view(2_500))).toEqual({ type: 'read', from: 1, to: 1_000 });
    expect(resume.readDone(envelopes(1, 1_000)).type).toBe('send');
    expect(resume.next(view(2_500))).toEqual({ type: 'read', from: 1_001, to: 2_000 });
  });

  it('tells a client older than retention to resync', () => {
    const resume = createResume(0);
    resume.next(view(100));
    expect(resume.readDone(envelopes(40, 100))).toEqual({
      type: 'resync',
      reason: 'position older than retention',
    });
  });

  it('sends only what continues the cursor when the log has a hole, and resyncs at the hole', () => {
    const resume = createResume(0);
    resume.next(view(10));
    const first = resume.readDone([...envelopes(1, 3), ...envelopes(6, 10)]);
    expect(positions((first as { events: OrderEvent[] }).events)).toEqual([1, 2, 3]);
    expect(resume.next(view(10))).toEqual({ type: 'read', from: 4, to: 10 });
    expect(resume.readDone(envelopes(6, 10)).type).toBe('resync');
  });

  it('refuses to be driven out of order', () => {
    const resume = createResume(0);
    expect(() => resume.readDone([])).toThrow();
    resume.next(view(10));
    expect(() => resume.next(view(10))).toThrow();
  });
});
