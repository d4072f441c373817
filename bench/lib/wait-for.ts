// Waiting for a condition (the project's one waitFor) and a pacing delay.

export { type WaitOptions, waitFor } from '../../src/lib/wait.js';

/** A pacing delay (never used to wait for another process: that is what waitFor is for). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
