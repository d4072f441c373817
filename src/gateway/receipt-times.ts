// When each feed message was received, until its last event is broadcast: the gateway's own
// stage (received → emitted) for /metrics. Pure. Bounded: a message whose events never go out
// (all repeats, or a gap the log cannot fill yet) is dropped once newer ones pass it or once
// MAX_RECEIPTS wait.

/** Receipts kept at most; the oldest go first. */
export const MAX_RECEIPTS = 10_000;

export interface ReceiptTimes {
  /** A message ending at position `through` was received at `at` (ms). */
  received(through: number, at: number): void;
  /** Positions up to `through` were broadcast at `now` (ms): the waits (ms) of the messages they end. */
  broadcast(through: number, now: number): number[];
  readonly size: number;
}

export function createReceiptTimes(capacity = MAX_RECEIPTS): ReceiptTimes {
  let waiting: { through: number; at: number }[] = [];
  let head = 0;
  return {
    received(through, at) {
      waiting.push({ through, at });
      if (waiting.length - head > capacity) head += 1;
    },
    broadcast(through, now) {
      const waits: number[] = [];
      while (head < waiting.length && waiting[head]!.through <= through) {
        waits.push(Math.max(0, now - waiting[head]!.at));
        head += 1;
      }
      // Compact once the consumed part is the larger: amortised O(1) per receipt.
      if (head > 0 && head >= waiting.length - head) {
        waiting = waiting.slice(head);
        head = 0;
      }
      return waits;
    },
    get size() {
      return waiting.length - head;
    },
  };
}
