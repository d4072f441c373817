// The batches between numbering and RabbitMQ's confirms, in position order: the relay numbers the
// next batch while earlier ones wait for their confirms (at most `capacity` in flight), and the
// watermark moves only over a prefix whose every batch is confirmed. Confirms may come back in any
// order; the watermark never passes a batch still waiting. Pure: no I/O, no clock.

export interface ConfirmWindow {
  /** Batches numbered and handed to the publisher, not yet under the watermark. */
  readonly inFlight: number;
  /** No room for another batch until the oldest is confirmed. */
  readonly full: boolean;
  /** The watermark: every position up to it is confirmed. */
  readonly watermark: number;
  /** A batch ending at `last` (above every earlier one) goes out; returns its id for confirm(). */
  add(last: number): number;
  /**
   * Batch `id` was confirmed. Returns the new watermark when it moved (the batches it covers
   * leave the window), or null when an older batch still waits.
   */
  confirm(id: number): number | null;
}

export function createConfirmWindow(capacity: number, watermark: number): ConfirmWindow {
  if (!(capacity >= 1)) throw new RangeError('a confirm window holds at least one batch');
  const batches: { id: number; last: number; confirmed: boolean }[] = [];
  let nextId = 0;
  let mark = watermark;

  return {
    get inFlight() {
      return batches.length;
    },
    get full() {
      return batches.length >= capacity;
    },
    get watermark() {
      return mark;
    },
    add(last) {
      const previous = batches.at(-1)?.last ?? mark;
      if (!(last > previous)) throw new RangeError(`batch ending at ${last} is not above ${previous}`);
      if (batches.length >= capacity) throw new RangeError('the confirm window is full');
      const id = nextId++;
      batches.push({ id, last, confirmed: false });
      return id;
    },
    confirm(id) {
      const batch = batches.find((b) => b.id === id);
      if (!batch) throw new RangeError(`batch ${id} is not in flight`);
      batch.confirmed = true;
      let moved = false;
      while (batches[0]?.confirmed) {
        mark = batches.shift()!.last;
        moved = true;
      }
      return moved ? mark : null;
    },
  };
}
