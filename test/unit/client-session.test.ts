// The client's snapshot-and-resume (src/client/session.ts), driven with no socket and no server:
// a simulated gateway that replays from `since`, repeats and skips positions, drops links,
// refuses tokens and asks for resyncs, in random interleavings. After every step the events
// delivered go up by exactly one (or restart after a snapshot); once the faults stop, the
// session catches up with the head and every position is delivered once.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestError } from '../../src/client/errors.js';
import {
  createSession,
  type Session,
  type SessionCommand,
  type SessionInput,
  type SessionOptions,
} from '../../src/client/session.js';
import type { OrderEvent } from '../../src/contract/events.js';
import { envelope, envelopes, positions } from '../helpers/events.js';

const RETRY = { baseMs: 500, capMs: 5_000, random: () => 0.5 };

function options(overrides: Partial<SessionOptions> = {}): SessionOptions {
  return {
    urls: 2,
    snapshot: false,
    since: 0,
    contiguous: true,
    refusalIsFatal: true,
    retry: RETRY,
    ...overrides,
  };
}

const of = <T extends SessionCommand['type']>(commands: SessionCommand[], type: T) =>
  commands.filter((c): c is Extract<SessionCommand, { type: T }> => c.type === type);

describe('client session', () => {
  it('resumes after the last delivered position on the next gateway after a drop', () => {
    const session = createSession(options());
    expect(session.handle({ type: 'start' })).toContainEqual({ type: 'connect', link: 1, url: 0, since: 0 });
    session.handle({ type: 'open', link: 1 });
    expect(
      of(session.handle({ type: 'events', link: 1, events: envelopes(1, 3) }), 'deliver')[0]!.events,
    ).toEqual(envelopes(1, 3));
    const lost = session.handle({ type: 'lost', link: 1, reason: 'transport close' });
    expect(of(lost, 'wait')).toEqual([{ type: 'wait', ms: 250 }]);
    // A late event from the dead link changes nothing.
    expect(session.handle({ type: 'events', link: 1, events: [envelope(4)] })).toEqual([]);
    expect(session.handle({ type: 'timer' })).toEqual([{ type: 'connect', link: 2, url: 1, since: 3 }]);
  });

  it('drops repeated positions and resumes over a gap instead of skipping it', () => {
    const session = createSession(options());
    session.handle({ type: 'start' });
    session.handle({ type: 'events', link: 1, events: envelopes(1, 2) });
    expect(session.handle({ type: 'events', link: 1, events: envelopes(2, 2) })).toEqual([]);
    const gap = session.handle({ type: 'events', link: 1, events: [envelope(3), envelope(5)] });
    expect(of(gap, 'deliver')[0]!.events).toEqual([envelope(3)]);
    expect(of(gap, 'disconnect')).toEqual([{ type: 'disconnect', link: 1 }]);
    expect(session.stats).toEqual({ duplicates: 1, gaps: 1 });
    expect(session.handle({ type: 'timer' })).toEqual([{ type: 'connect', link: 2, url: 1, since: 3 }]);
  });

  it('takes positions as they come when the gateway filters', () => {
    const session = createSession(options({ contiguous: false }));
    session.handle({ type: 'start' });
    const commands = session.handle({ type: 'events', link: 1, events: [envelope(2), envelope(7)] });
    expect(positions(of(commands, 'deliver')[0]!.events)).toEqual([2, 7]);
    expect(session.stats.gaps).toBe(0);
  });

  it('reloads the snapshot on resync and follows from its position; without snapshots it fails', () => {
    const live = createSession(options({ snapshot: true, since: undefined }));
    expect(live.handle({ type: 'start' })).toContainEqual({ type: 'load', load: 1, url: 0 });
    expect(live.handle({ type: 'loaded', load: 1, position: 40 })).toEqual([
      { type: 'snapshot', load: 1 },
      { type: 'connect', link: 1, url: 0, since: 40 },
    ]);
    const resync = live.handle({ type: 'resync', link: 1, reason: 'position older than retention' });
    expect(resync).toContainEqual({
      type: 'status',
      status: 'reloading',
      detail: 'position older than retention',
    });
    expect(resync).toContainEqual({ type: 'load', load: 2, url: 0 });
    expect(live.handle({ type: 'loaded', load: 2, position: 90 })).toEqual([
      { type: 'snapshot', load: 2 },
      { type: 'connect', link: 2, url: 0, since: 90 },
    ]);

    const stream = createSession(options({ since: 5 }));
    stream.handle({ type: 'start' });
    const failed = stream.handle({ type: 'resync', link: 1, reason: 'position older than retention' });
    expect(of(failed, 'error')[0]).toMatchObject({ fatal: true, error: { code: 'resync', position: 5 } });
    expect(stream.status).toBe('closed');
  });

  it('retries a refused token slowly unless refusals are fatal; a refused filter always ends it', () => {
    const patient = createSession(options({ refusalIsFatal: false }));
    patient.handle({ type: 'start' });
    const refused = patient.handle(refusedWith(401, 'unauthorized'));
    expect(patient.status).toBe('unauthorized');
    expect(of(refused, 'wait')[0]!.ms).toBe(5_000);
    expect(of(patient.handle({ type: 'reconnect' }), 'connect')).toHaveLength(1);

    const strict = createSession(options());
    strict.handle({ type: 'start' });
    strict.handle(refusedWith(401, 'unauthorized'));
    expect(strict.status).toBe('closed');

    const filtered = createSession(options({ refusalIsFatal: false }));
    filtered.handle({ type: 'start' });
    const bad = filtered.handle(refusedWith(400, 'invalid handshake auth: filter.status.0: Invalid option'));
    expect(of(bad, 'error')[0]).toMatchObject({ fatal: true, error: { code: 'bad-filter' } });
  });

  it('ignores a snapshot that a newer load replaced, and retries a failed one with backoff', () => {
    const session = createSession(options({ snapshot: true, since: undefined }));
    session.handle({ type: 'start' });
    const failed = session.handle({ type: 'load-failed', load: 1, error: new RequestError(0, 'no answer') });
    expect(of(failed, 'error')[0]).toMatchObject({ fatal: false });
    expect(session.handle({ type: 'timer' })).toEqual([{ type: 'load', load: 2, url: 1 }]);
    expect(session.handle({ type: 'loaded', load: 1, position: 3 })).toEqual([]);
    expect(of(session.handle({ type: 'loaded', load: 2, position: 7 }), 'connect')[0]!.since).toBe(7);
  });

  it('lets reconnect() start nothing before start(), and replace a load that carries the old token', () => {
    const session = createSession(options({ snapshot: true, since: undefined, refusalIsFatal: false }));
    expect(session.handle({ type: 'reconnect' })).toEqual([]);
    expect(of(session.handle({ type: 'start' }), 'load')).toEqual([{ type: 'load', load: 1, url: 0 }]);
    expect(of(session.handle({ type: 'reconnect' }), 'load')).toEqual([{ type: 'load', load: 2, url: 0 }]);
    expect(session.handle({ type: 'loaded', load: 1, position: 5 })).toEqual([]);
    expect(of(session.handle({ type: 'loaded', load: 2, position: 6 }), 'connect')[0]!.since).toBe(6);
  });

  it('closes on a refused handshake with the reason, and reconnect() tries again; close() is final', () => {
    const session = createSession(options({ snapshot: true, since: undefined, refusalIsFatal: false }));
    session.handle({ type: 'start' });
    session.handle({ type: 'loaded', load: 1, position: 0 });
    const message = 'invalid handshake auth: token: Too big';
    const refused = session.handle({ type: 'lost', link: 1, reason: 'x', refusal: { status: 400, message } });
    expect(refused).toContainEqual({ type: 'status', status: 'closed', detail: message });
    expect(of(session.handle({ type: 'reconnect' }), 'connect')).toEqual([
      { type: 'connect', link: 2, url: 0, since: 0 },
    ]);
    session.handle({ type: 'close' });
    expect(session.handle({ type: 'reconnect' })).toEqual([]);
  });

  it('reports a refused token once, not at every slow retry', () => {
    const session = createSession(options({ refusalIsFatal: false }));
    session.handle({ type: 'start' });
    const refusal = { status: 401, message: 'unauthorized' };
    expect(of(session.handle({ type: 'lost', link: 1, reason: 'x', refusal }), 'status')).toHaveLength(1);
    session.handle({ type: 'timer' });
    expect(of(session.handle({ type: 'lost', link: 2, reason: 'x', refusal }), 'status')).toEqual([]);
  });

  it('stops receiving while paused and resumes after its position', () => {
    const session = createSession(options());
    session.handle({ type: 'start' });
    session.handle({ type: 'events', link: 1, events: envelopes(1, 4) });
    expect(session.handle({ type: 'pause' })).toEqual([{ type: 'disconnect', link: 1 }]);
    expect(session.handle({ type: 'lost', link: 1, reason: 'io client disconnect' })).toEqual([]);
    expect(session.handle({ type: 'resume' })).toEqual([{ type: 'connect', link: 2, url: 0, since: 4 }]);
  });
});

// The simulation: a log whose head grows, and a gateway that serves each link from its `since`.
// With `fork`, the log goes back (a failover that lost events) and a new epoch numbers after it;
// the gateway resyncs a live link above the fork and a handshake above what its epoch shares.
type Step =
  | { op: 'commit'; count: number }
  | { op: 'fork'; back: number }
  | { op: 'open' }
  | { op: 'send'; count: number }
  | { op: 'repeat'; count: number }
  | { op: 'skip' }
  | { op: 'ready' }
  | { op: 'lose' }
  | { op: 'refuse' }
  | { op: 'resync' }
  | { op: 'timer' }
  | { op: 'loadDone'; ok: boolean }
  | { op: 'reconnect' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('commit' as const), count: fc.integer({ min: 1, max: 5 }) }),
  fc.constant({ op: 'open' as const }),
  fc.record({ op: fc.constant('send' as const), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant('repeat' as const), count: fc.integer({ min: 1, max: 3 }) }),
  fc.constant({ op: 'skip' as const }),
  fc.constant({ op: 'ready' as const }),
  fc.constant({ op: 'lose' as const }),
  fc.constant({ op: 'refuse' as const }),
  fc.constant({ op: 'resync' as const }),
  fc.constant({ op: 'timer' as const }),
  fc.record({ op: fc.constant('loadDone' as const), ok: fc.boolean() }),
  fc.constant({ op: 'reconnect' as const }),
  fc.record({ op: fc.constant('fork' as const), back: fc.integer({ min: 1, max: 4 }) }),
);

interface SimLink {
  id: number;
  cursor: number;
  open: boolean;
  /** The handshake's epoch (of its `since`). */
  epoch: number | undefined;
}

class Simulation {
  head = 0;
  link: SimLink | undefined;
  timer = false;
  load: number | undefined;
  /** `position:epoch` of each event delivered since the last snapshot. */
  delivered: string[] = [];
  /** Where the delivered positions restart: after each snapshot. */
  base = 0;
  /** forked_after of each epoch: epoch e is forks[e - 1]. */
  forks = [0];

  get epoch(): number {
    return this.forks.length;
  }

  /** The epoch position `p` has in the log's history now: the latest one forked below it. */
  epochOf(p: number): number {
    for (let e = this.epoch; e > 1; e--) if (this.forks[e - 1]! < p) return e;
    return 1;
  }

  /** The last position epoch `e` shares with the current one. */
  sharedWith(e: number): number {
    if (e === this.epoch) return Number.POSITIVE_INFINITY;
    return Math.min(...this.forks.slice(e));
  }

  /**
   * The epochs in which position `p` names the event it names now. Past the latest fork only the
   * current one; at or below it also those that share `p` (a fork right at the session's position
   * changes nothing it holds: it learns the new epoch with the next event).
   */
  epochsNaming(p: number): number[] {
    return Array.from({ length: this.epoch }, (_, i) => i + 1).filter((e) => this.sharedWith(e) >= p);
  }

  /** The log's history now, since the last snapshot: what delivered must end as. */
  history(): string[] {
    return Array.from({ length: this.head - this.base }, (_, i) => this.base + i + 1).map(
      (p) => `${p}:${this.epochOf(p)}`,
    );
  }

  private event(position: number): OrderEvent {
    return { ...envelope(position), epoch: this.epochOf(position) };
  }

  constructor(
    readonly session: Session,
    readonly snapshot: boolean,
  ) {}

  run(commands: SessionCommand[]): void {
    for (const c of commands) {
      if (c.type === 'connect')
        this.link = { id: c.link, cursor: c.since ?? this.head, open: false, epoch: c.epoch };
      if (c.type === 'disconnect' && this.link?.id === c.link) this.link = undefined;
      if (c.type === 'wait') this.timer = c.ms !== null;
      if (c.type === 'load') this.load = c.load;
      if (c.type === 'deliver') {
        for (const event of c.events) {
          const expected = this.base + this.delivered.length + 1;
          if (event.position !== expected)
            throw new Error(`delivered ${event.position}, expected ${expected}`);
          this.delivered.push(`${event.position}:${event.epoch}`);
        }
        // The position it now holds goes with the epoch of the event that brought it.
        const epoch = c.events.at(-1)?.epoch;
        if (this.session.epoch !== epoch) throw new Error(`holds epoch ${this.session.epoch} after ${epoch}`);
      }
    }
  }

  /** Sends (link.cursor, cursor + count] as the gateway would. */
  private send(count: number): OrderEvent[] {
    const link = this.link!;
    const to = Math.min(this.head, link.cursor + count);
    const events = Array.from({ length: Math.max(0, to - link.cursor) }, (_, i) =>
      this.event(link.cursor + 1 + i),
    );
    link.cursor = to;
    return events;
  }

  step(s: Step): void {
    const { session } = this;
    const link = this.link;
    switch (s.op) {
      case 'commit':
        this.head += s.count;
        return;
      case 'fork': {
        // A stream without snapshots ends with ResyncError at a fork: the model wants it live.
        if (!this.snapshot) return;
        const k = Math.max(0, this.head - s.back);
        this.forks.push(k);
        this.head = k;
        if (link?.open && link.cursor > k)
          this.run(session.handle({ type: 'resync', link: link.id, reason: 'the log went back' }));
        return;
      }
      case 'timer':
        if (!this.timer) return;
        this.timer = false;
        this.run(session.handle({ type: 'timer' }));
        return;
      case 'loadDone': {
        if (this.load === undefined) return;
        const load = this.load;
        this.load = undefined;
        if (!s.ok) {
          this.run(session.handle({ type: 'load-failed', load, error: new RequestError(503, 'busy') }));
          return;
        }
        this.base = this.head;
        this.delivered = [];
        this.run(session.handle({ type: 'loaded', load, position: this.head, epoch: this.epoch }));
        return;
      }
      case 'reconnect':
        this.run(session.handle({ type: 'reconnect' }));
        return;
    }
    if (!link) return;
    const id = link.id;
    if (s.op === 'open') {
      if (link.open) return;
      link.open = true;
      this.run(session.handle({ type: 'open', link: id }));
      // The gateway's handshake check: a position its epoch no longer shares, or one ahead.
      const shared = link.epoch === undefined ? Number.POSITIVE_INFINITY : this.sharedWith(link.epoch);
      if (link.cursor > Math.min(shared, this.head) && this.snapshot)
        this.run(session.handle({ type: 'resync', link: id, reason: 'position unknown' }));
      return;
    }
    if (!link.open) {
      if (s.op === 'lose') this.run(session.handle({ type: 'lost', link: id, reason: 'connect_error' }));
      return;
    }
    switch (s.op) {
      case 'send':
        this.run(session.handle({ type: 'events', link: id, events: this.send(s.count) }));
        return;
      case 'repeat': {
        const from = Math.max(1, link.cursor - s.count + 1);
        const again = Array.from({ length: Math.max(0, link.cursor - from + 1) }, (_, i) =>
          this.event(from + i),
        );
        this.run(session.handle({ type: 'events', link: id, events: again }));
        return;
      }
      case 'skip':
        if (link.cursor < this.head) link.cursor += 1;
        return;
      case 'ready':
        if (link.cursor !== this.head) return;
        this.run(session.handle({ type: 'ready', link: id, position: link.cursor, epoch: this.epoch }));
        if (session.status === 'live' && session.epoch !== this.epoch)
          throw new Error(`live at epoch ${session.epoch}, the gateway's is ${this.epoch}`);
        return;
      case 'lose':
        this.run(session.handle({ type: 'lost', link: id, reason: 'transport close' }));
        return;
      case 'refuse':
        this.run(
          session.handle({
            type: 'lost',
            link: id,
            reason: 'x',
            refusal: { status: 401, message: 'unauthorized' },
          }),
        );
        return;
      case 'resync':
        if (!this.snapshot) return;
        this.run(session.handle({ type: 'resync', link: id, reason: 'position older than retention' }));
        return;
    }
  }

  /** No more faults: whatever is pending completes, until the session stands live at the head. */
  settle(): void {
    for (
      let i = 0;
      i < 100 && !(this.session.status === 'live' && this.session.position === this.head);
      i++
    ) {
      if (this.load !== undefined) this.step({ op: 'loadDone', ok: true });
      else if (this.timer) this.step({ op: 'timer' });
      else if (this.link && !this.link.open) this.step({ op: 'open' });
      else if (this.link) {
        this.step({ op: 'send', count: this.head });
        this.step({ op: 'ready' });
      } else this.step({ op: 'reconnect' });
    }
  }
}

describe('client session across epochs of the log (invariant 9)', () => {
  const at = (position: number, epoch: number): OrderEvent => ({ ...envelope(position), epoch });

  function loaded(position = 10, epoch = 1) {
    const session = createSession(options({ snapshot: true, since: undefined }));
    session.handle({ type: 'start' });
    const commands = session.handle({ type: 'loaded', load: 1, position, epoch });
    return { session, commands };
  }

  it("sends the snapshot's epoch with its position, and the epoch of the last event after a drop", () => {
    const { session, commands } = loaded(10, 1);
    expect(of(commands, 'connect')).toEqual([{ type: 'connect', link: 1, url: 0, since: 10, epoch: 1 }]);
    // The gateway found 10 shared with epoch 2 and replays its events after it.
    expect(of(session.handle({ type: 'events', link: 1, events: [at(11, 2)] }), 'deliver')).toHaveLength(1);
    expect(session.epoch).toBe(2);
    session.handle({ type: 'lost', link: 1, reason: 'transport close' });
    expect(session.handle({ type: 'timer' })).toEqual([
      { type: 'connect', link: 2, url: 1, since: 11, epoch: 2 },
    ]);
  });

  it('reloads when an event of a newer epoch comes at or below its position', () => {
    const { session } = loaded(10, 1);
    const reload = session.handle({ type: 'events', link: 1, events: [at(9, 2)] });
    expect(of(reload, 'deliver')).toEqual([]);
    expect(of(reload, 'disconnect')).toEqual([{ type: 'disconnect', link: 1 }]);
    expect(of(reload, 'load')).toEqual([{ type: 'load', load: 2, url: 0 }]);
    expect(session.status).toBe('reloading');
    expect(of(session.handle({ type: 'loaded', load: 2, position: 9, epoch: 2 }), 'connect')).toEqual([
      { type: 'connect', link: 2, url: 0, since: 9, epoch: 2 },
    ]);
  });

  it('delivers what came before the event of another history, then reloads', () => {
    const { session } = loaded(10, 1);
    const reload = session.handle({ type: 'events', link: 1, events: [at(11, 1), at(12, 1), at(12, 2)] });
    expect(of(reload, 'deliver')[0]!.events.map((e) => e.position)).toEqual([11, 12]);
    expect(of(reload, 'load')).toHaveLength(1);
  });

  it('reloads on an event of an older epoch', () => {
    const { session } = loaded(10, 2);
    expect(of(session.handle({ type: 'events', link: 1, events: [at(11, 1)] }), 'load')).toHaveLength(1);
  });

  it('reloads on a ready of a newer epoch below its position, and takes one at its position', () => {
    const behind = loaded(10, 1).session;
    expect(of(behind.handle({ type: 'ready', link: 1, position: 8, epoch: 2 }), 'load')).toHaveLength(1);
    const same = loaded(10, 1).session;
    expect(same.handle({ type: 'ready', link: 1, position: 10, epoch: 2 })).toEqual([
      { type: 'status', status: 'live' },
    ]);
    expect(same.epoch).toBe(2);
  });

  it('ends a stream without snapshots with ResyncError when the history changed under it', () => {
    const stream = createSession(options({ since: 10, epoch: 1 }));
    expect(stream.handle({ type: 'start' })).toContainEqual({
      type: 'connect',
      link: 1,
      url: 0,
      since: 10,
      epoch: 1,
    });
    const failed = stream.handle({ type: 'events', link: 1, events: [at(10, 2)] });
    expect(of(failed, 'error')[0]).toMatchObject({ fatal: true, error: { code: 'resync', position: 10 } });
    expect(stream.status).toBe('closed');
  });

  it('takes any epoch while it knows none (a server before epochs, or live from now)', () => {
    const session = createSession(options({ since: undefined }));
    session.handle({ type: 'start' });
    session.handle({ type: 'ready', link: 1, position: 5 });
    expect(session.epoch).toBeUndefined();
    expect(of(session.handle({ type: 'events', link: 1, events: [at(6, 3)] }), 'deliver')).toHaveLength(1);
    expect(session.epoch).toBe(3);
  });
});

describe('client session through random interleavings', () => {
  for (const snapshot of [false, true]) {
    it(`delivers every position once, in order (${snapshot ? 'live orders' : 'events'})`, () => {
      fc.assert(
        fc.property(fc.array(stepArb, { maxLength: 80 }), (steps) => {
          const session = createSession(
            options({ snapshot, since: snapshot ? undefined : 0, refusalIsFatal: false }),
          );
          const sim = new Simulation(session, snapshot);
          sim.run(session.handle({ type: 'start' }));
          for (const s of steps) sim.step(s);
          sim.settle();
          expect(session.status).toBe('live');
          expect(session.position).toBe(sim.head);
          expect(sim.delivered).toEqual(sim.history());
          if (snapshot) expect(sim.epochsNaming(session.position!)).toContain(session.epoch);
        }),
        {
          numRuns: 500,
          // Found in CI: the log forks right at the position the session stands live at.
          examples: [
            [[{ op: 'loadDone', ok: true }, { op: 'open' }, { op: 'ready' }, { op: 'fork', back: 1 }]],
          ],
        },
      );
    });
  }
});

/** The first link lost because the gateway refused its handshake. */
function refusedWith(status: number, message: string): SessionInput {
  return { type: 'lost', link: 1, reason: 'x', refusal: { status, message } };
}
