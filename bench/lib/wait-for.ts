// Waiting for a condition instead of sleeping: polls `predicate` until it returns a truthy value,
// or fails after the timeout with what it waited for and the last value or error seen.

export interface WaitOptions {
  /** @default 10000 */
  timeoutMs?: number;
  /** @default 20 */
  intervalMs?: number;
  /** Named in the timeout error. */
  what?: string;
}

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
    await sleep(intervalMs);
  }
}

/** A pacing delay (never used to wait for another process: that is what waitFor is for). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
