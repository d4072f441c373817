// Waiting for a condition with a timeout instead of a fixed sleep: the project's one waitFor.

export { type WaitOptions, waitFor } from '../../src/lib/wait.js';
