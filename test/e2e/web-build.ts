// The e2e tests load web/dist as the server serves it. A fresh clone has none: build it once,
// under a lock directory, so two test files starting together do not build over each other.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const INDEX = `${ROOT}web/dist/index.html`;
const CLIENT = `${ROOT}web/dist/client/orders-live-client.js`;
const LOCK = `${ROOT}web/.build-lock`;

export async function ensureWebBuilt(): Promise<void> {
  if (existsSync(INDEX) && existsSync(CLIENT)) return;
  try {
    mkdirSync(LOCK);
  } catch {
    // Another file is building: wait for its result.
    await waitFor(() => existsSync(INDEX) && existsSync(CLIENT) && !existsSync(LOCK), {
      timeoutMs: 120_000,
      what: 'web/dist',
    });
    return;
  }
  try {
    execFileSync('npm', ['run', '-s', 'build:web'], { cwd: ROOT, stdio: 'inherit' });
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
