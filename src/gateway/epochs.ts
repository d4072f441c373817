// The log's epochs as this gateway knows them (log_epochs, migration 0011; invariant 9): which
// positions of a client's epoch are still the log's. Pure: the gateway reads the rows and hands
// them over; an epoch it has not read yet shares nothing until it has.

import type { EpochRow } from '../db/event-log.js';

export interface Epochs {
  /** The latest epoch known: the history the gateway now follows (0 before any is known). */
  readonly current: number;
  /** Whether `epoch` is one of the known ones. */
  knows(epoch: number): boolean;
  /**
   * The last position `epoch` shares with the current one: Infinity for the current epoch, 0 for
   * one not known (nothing of it can be trusted).
   */
  sharedWith(epoch: number): number;
  /** Replaces what is known with these rows (every epoch, any order). */
  update(rows: readonly EpochRow[]): void;
}

export function createEpochs(rows: readonly EpochRow[] = []): Epochs {
  /** forked_after by epoch. */
  let known = new Map<number, number>();
  let current = 0;

  function update(next: readonly EpochRow[]): void {
    known = new Map(next.map((row) => [row.epoch, row.forkedAfter]));
    current = Math.max(0, ...known.keys());
  }
  update(rows);

  return {
    get current() {
      return current;
    },
    knows: (epoch) => known.has(epoch),
    sharedWith(epoch) {
      if (epoch === current) return Number.POSITIVE_INFINITY;
      if (!known.has(epoch) || epoch > current) return 0;
      // Each later epoch forked from the one before it: the history shared is the shortest fork.
      let shared = Number.POSITIVE_INFINITY;
      for (const [later, forkedAfter] of known) {
        if (later > epoch && later <= current) shared = Math.min(shared, forkedAfter);
      }
      return shared;
    },
    update,
  };
}
