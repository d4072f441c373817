// Clients that resume from a position this gateway has not reached yet (it restarted, or its
// queue is behind another gateway's) wait for its head. One watch serves all of them: it checks
// them whenever the head moves, and reads the log's last position at most once per
// HEAD_REFRESH_MS however many wait — 1,000 waiting clients cost one query per interval, not one
// each every 10 ms. A client whose position the log does not have yet is told so at once; one
// still ahead after AHEAD_WAIT_MS is told to resync.

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
  const { refreshMs = HEAD_REFRESH_MS, waitMs = AHEAD_WAIT_MS } = options;
  const waiters = new Set<Waiter>();
  let timer: NodeJS.Timeout | undefined;
  let reading = false;
  /** The log's last position as last read, and when that read started (Date.now()). */
  let logHead: { position: number; readAt: number } | undefined;

  function settle(w: Waiter, outcome: AheadOutcome): void {
    waiters.delete(w);
    w.resolve(outcome);
  }

  /** Settles every waiter that can be, from what is known now. */
  function check(): void {
    const head = options.head();
    const now = Date.now();
    for (const w of waiters) {
      if (w.gone()) settle(w, 'gone');
      else if (head >= w.since) settle(w, 'reached');
      else if (logHead && logHead.readAt >= w.arrivedAt && w.since > logHead.position)
        settle(w, 'position unknown');
      else if (now > w.deadline) settle(w, 'position ahead of this server');
    }
    if (waiters.size === 0) {
      clearInterval(timer);
      timer = undefined;
      logHead = undefined;
    }
  }

  /** One read of the log's last position for all waiters; none while one is in flight. */
  async function refresh(): Promise<void> {
    if (reading || waiters.size === 0) return;
    reading = true;
    try {
      const readAt = Date.now();
      logHead = { position: await options.lastPosition(), readAt };
    } catch (e) {
      options.onError?.(e);
    } finally {
      reading = false;
    }
    check();
  }

  return {
    wait(since, gone) {
      return new Promise<AheadOutcome>((resolve) => {
        const now = Date.now();
        const waiter: Waiter = { since, arrivedAt: now, deadline: now + waitMs, gone, resolve };
        waiters.add(waiter);
        check();
        if (!waiters.has(waiter)) return;
        if (!timer) {
          timer = setInterval(() => {
            check();
            void refresh();
          }, refreshMs);
          void refresh();
        }
      });
    },
    advanced() {
      if (waiters.size > 0) check();
    },
    get waiting() {
      return waiters.size;
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
      for (const w of waiters) settle(w, 'gone');
    },
  };
}
