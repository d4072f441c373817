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
  return new BatchWindow(capacity, watermark);
}

class BatchWindow implements ConfirmWindow {
  private readonly batches: { id: number; last: number; confirmed: boolean }[] = [];
  private nextId = 0;

  constructor(
    private readonly capacity: number,
    private mark: number,
  ) {}

  get inFlight(): number {
    return this.batches.length;
  }

  get full(): boolean {
    return this.batches.length >= this.capacity;
  }

  get watermark(): number {
    return this.mark;
  }

  add(last: number): number {
    const previous = this.batches.at(-1)?.last ?? this.mark;
    if (!(last > previous)) throw new RangeError(`batch ending at ${last} is not above ${previous}`);
    if (this.batches.length >= this.capacity) throw new RangeError('the confirm window is full');
    const id = this.nextId++;
    this.batches.push({ id, last, confirmed: false });
    return id;
  }

  confirm(id: number): number | null {
    const batch = this.batches.find((b) => b.id === id);
    if (!batch) throw new RangeError(`batch ${id} is not in flight`);
    batch.confirmed = true;
    let moved = false;
    while (this.batches[0]?.confirmed) {
      this.mark = this.batches.shift()!.last;
      moved = true;
    }
    return moved ? this.mark : null;
  }
}
