// Timing helpers that never leave a timer behind: a delay, and waiting for a condition instead of
// sleeping (tests and benchmarks). No I/O.

/**
 * Resolves after `ms`, or at once when the signal (any of the signals) aborts. Its listeners are
 * removed when it resolves, so a long-lived signal keeps nothing of it: AbortSignal.any() on
 * Node 20 leaves an entry on a long-lived signal for every call (nodejs/node#55351).
 */
export function delay(ms: number, signal?: AbortSignal | readonly AbortSignal[]): Promise<void> {
  const signals = signal === undefined ? [] : Array.isArray(signal) ? signal : [signal as AbortSignal];
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) return resolve();
    const timer = setTimeout(done, ms);
    for (const s of signals) s.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', done);
      resolve();
    }
  });
}

export interface WaitOptions {
  /** @default 10000 */
  timeoutMs?: number;
  /** @default 20 */
  intervalMs?: number;
  /** Named in the timeout error. */
  what?: string;
}

/**
 * Polls `predicate` until it returns a truthy value, or fails after the timeout with what it
 * waited for and the last value or error seen.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 20, what = 'condition' }: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      last = await predicate();
      if (last) return last as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (performance.now() > deadline) {
      const detail = lastError ? `last error: ${String(lastError)}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${detail})`);
    }
    await delay(intervalMs);
  }
}
