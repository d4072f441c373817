// What a soak client checks of its stream, apart from the socket: a full-stream client sees every
// position once, in order, across all its connections; a client following one order (an order_id
// filter) sees that order's versions once and in order (every change of a row raises its version
// by one, so a lost or repeated event shows as a jump or a repeat). Pure, for unit tests.

import type { OrderEvent } from '../../src/contract/events.js';

export interface StreamCheck {
  /** The position this client resumes after (`since` of its next connection). */
  readonly since: number;
  /** Full stream: the last position; one order: that order's last version (0 before any). */
  readonly last: number;
  readonly received: number;
  readonly repeats: number;
  readonly gaps: number;
  /** The first few violations, for the report. */
  readonly problems: readonly string[];
  take(events: readonly OrderEvent[]): void;
  /** The gateway said `ready`: the client stands at `position`. */
  ready(position: number): void;
  /** After a resync the client starts over at a snapshot taken at `position`; a client of one
   * order takes the next version it sees as its start. */
  restart(position: number): void;
}

const MAX_PROBLEMS = 5;

/** A client of the whole stream, resuming after `since`. */
export function fullStreamCheck(since: number): StreamCheck {
  return makeCheck(since, since, true, (event, last) => ({ value: event.position, expected: last + 1 }));
}

/** A client of one order (its filter), resuming after `since`, the order at `version` then. */
export function orderCheck(orderId: number, since: number, version: number): StreamCheck {
  return makeCheck(since, version, false, (event, last) => {
    if (event.order_id !== orderId) return { value: Number.NaN, expected: last + 1, foreign: true };
    return { value: event.version ?? Number.NaN, expected: last + 1 };
  });
}

type Step = (event: OrderEvent, last: number) => { value: number; expected: number; foreign?: boolean };

function makeCheck(since: number, last: number, full: boolean, step: Step): StreamCheck {
  const problems: string[] = [];
  const note = (problem: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(problem);
  };
  const check = {
    since,
    last,
    received: 0,
    repeats: 0,
    gaps: 0,
    problems,
    take(events: readonly OrderEvent[]) {
      for (const event of events) {
        check.received++;
        if (event.position <= check.since) {
          check.repeats++;
          note(`position ${event.position} again (after ${check.since})`);
          continue;
        }
        const { value, expected, foreign } = step(event, check.last);
        check.since = event.position;
        if (foreign) {
          check.gaps++;
          note(`position ${event.position}: an event of order ${event.order_id}, not the one followed`);
        } else if (Number.isNaN(check.last)) {
          check.last = value;
        } else if (value < expected) {
          check.repeats++;
          note(`${value} again at position ${event.position} (expected ${expected})`);
        } else {
          if (value > expected) {
            check.gaps++;
            note(`${expected}..${value - 1} missing before position ${event.position}`);
          }
          check.last = value;
        }
      }
    },
    ready(position: number) {
      // A full-stream client has been sent everything up to where the gateway says it stands.
      if (full && position > check.since) {
        check.gaps++;
        note(`ready at ${position} after ${check.since}: ${check.since + 1}..${position} never sent`);
        check.last = position;
      }
      check.since = Math.max(check.since, position);
    },
    restart(position: number) {
      check.since = position;
      check.last = full ? position : Number.NaN;
    },
  };
  return check;
}
