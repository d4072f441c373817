// Clients that resume from a position this gateway has not reached yet (it restarted, or its
// queue is behind another gateway's) wait for its head. One watch serves all of them: it checks
// them whenever the head moves, and reads the log's last position at most once per
// HEAD_REFRESH_MS however many wait — 1,000 waiting clients cost one query per interval, not one
// each every 10 ms. A client whose position the log does not have yet is told so at once; one
// still ahead after AHEAD_WAIT_MS is told to resync. A failed read goes to onError; the next
// interval reads again.

/** How often the log's last position is read while anyone waits. */
export const HEAD_REFRESH_MS = 100;
/** How long a client that is ahead of this gateway waits for it before being told to resync. */
export const AHEAD_WAIT_MS = 5_000;

export type AheadOutcome = 'reached' | 'position unknown' | 'position ahead of this server' | 'gone';

export interface HeadWatchOptions {
  /** The last position this gateway has broadcast. */
  head(): number;
  /** The log's last numbered position. */
  lastPosition(): Promise<number>;
  /** @default HEAD_REFRESH_MS */
  refreshMs?: number;
  /** @default AHEAD_WAIT_MS */
  waitMs?: number;
  onError?(error: unknown): void;
}

export interface HeadWatch {
  /**
   * Resolves once the head reaches `since` ('reached'), when the log has no such position yet,
   * after the wait, or when `gone()` turns true (the client left).
   */
  wait(since: number, gone: () => boolean): Promise<AheadOutcome>;
  /** The head moved: waiters it reached go on now. */
  advanced(): void;
  /** Clients waiting. */
  readonly waiting: number;
  stop(): void;
}

interface Waiter {
  since: number;
  /** Date.now() when it began to wait: only a read started after it can call it unknown. */
  arrivedAt: number;
  deadline: number;
  gone(): boolean;
  resolve(outcome: AheadOutcome): void;
}

export function createHeadWatch(options: HeadWatchOptions): HeadWatch {
  return new SharedHeadWatch(options);
}

class SharedHeadWatch implements HeadWatch {
  readonly #options: HeadWatchOptions;
  readonly #refreshMs: number;
  readonly #waitMs: number;
  readonly #waiters = new Set<Waiter>();
  #timer: NodeJS.Timeout | undefined;
  #reading = false;
  /** The log's last position as last read, and when that read started (Date.now()). */
  #logHead: { position: number; readAt: number } | undefined;

  constructor(options: HeadWatchOptions) {
    this.#options = options;
    this.#refreshMs = options.refreshMs ?? HEAD_REFRESH_MS;
    this.#waitMs = options.waitMs ?? AHEAD_WAIT_MS;
  }

  get waiting(): number {
    return this.#waiters.size;
  }

  wait(since: number, gone: () => boolean): Promise<AheadOutcome> {
    return new Promise<AheadOutcome>((resolve) => {
      const now = Date.now();
      const waiter: Waiter = { since, arrivedAt: now, deadline: now + this.#waitMs, gone, resolve };
      this.#waiters.add(waiter);
      this.#check();
      if (!this.#waiters.has(waiter)) return;
      if (!this.#timer) {
        this.#timer = setInterval(() => {
          this.#check();
          void this.#refresh();
        }, this.#refreshMs);
        void this.#refresh();
      }
    });
  }

  advanced(): void {
    if (this.#waiters.size > 0) this.#check();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const w of this.#waiters) this.#settle(w, 'gone');
  }

  #settle(w: Waiter, outcome: AheadOutcome): void {
    this.#waiters.delete(w);
    w.resolve(outcome);
  }

  /** Settles every waiter that can be, from what is known now. */
  #check(): void {
    const head = this.#options.head();
    const now = Date.now();
    for (const w of this.#waiters) {
      if (w.gone()) this.#settle(w, 'gone');
      else if (head >= w.since) this.#settle(w, 'reached');
      else if (this.#unknownTo(w)) this.#settle(w, 'position unknown');
      else if (now > w.deadline) this.#settle(w, 'position ahead of this server');
    }
    if (this.#waiters.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#logHead = undefined;
    }
  }

  /** Whether a read started after `w` began to wait found the log short of its position. */
  #unknownTo(w: Waiter): boolean {
    const logHead = this.#logHead;
    return logHead !== undefined && logHead.readAt >= w.arrivedAt && w.since > logHead.position;
  }

  /** One read of the log's last position for all waiters; none while one is in flight. */
  async #refresh(): Promise<void> {
    if (this.#reading || this.#waiters.size === 0) return;
    this.#reading = true;
    try {
      const readAt = Date.now();
      this.#logHead = { position: await this.#options.lastPosition(), readAt };
    } catch (e) {
      this.#options.onError?.(e);
    } finally {
      this.#reading = false;
    }
    this.#check();
  }
}
