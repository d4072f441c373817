// The one backoff: exponential with full jitter, capped. No I/O.
//
// With the defaults (base 100 ms, cap 10 s) attempt n waits a random time in
// [0, min(cap, base·2^n)]: ≤100, ≤200, ≤400, ≤800, ≤1600, ≤3200, ≤6400, ≤10000, ≤10000 … ms.
// Callers reset the attempt counter only after the guarded operation succeeded.

export interface BackoffOptions {
  /** First ceiling. @default 100 */
  baseMs?: number;
  /** Largest wait. @default 10000 */
  capMs?: number;
  /** Source of randomness in [0, 1), replaceable in tests. @default Math.random */
  random?: () => number;
}

export function backoffDelayMs(attempt: number, options: BackoffOptions = {}): number {
  const { baseMs = 100, capMs = 10_000, random = Math.random } = options;
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(random() * ceiling);
}
