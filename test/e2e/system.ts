// The whole system (`orders-live start`, all roles) as a child process on its own database and
// exchange, the way an operator runs it; the dashboard, API and socket share its one port.

import type { TestDatabase } from '../helpers/db.js';
import { RABBITMQ_URL } from '../helpers/names.js';
import { type CliProcess, startCli } from '../helpers/process.js';

/** tsx compiles on start; on two busy cores that can take a while. */
const START_TIMEOUT_MS = 60_000;

export interface TestSystem {
  readonly url: string;
  readonly port: number;
  readonly process: CliProcess;
  /** SIGTERM and wait for the exit (a graceful stop). */
  stop(): Promise<void>;
}

export function systemEnv(db: TestDatabase, exchange: string, extra: Record<string, string> = {}) {
  return {
    DATABASE_URL: db.url,
    RABBITMQ_URL,
    AMQP_EXCHANGE: exchange,
    MIGRATE_ON_START: 'false',
    HOST: '127.0.0.1',
    ...extra,
  };
}

/** Starts the system on `port` (0: any free one) and waits for "orders-live started". */
export async function startSystem(env: Record<string, string>, port = 0): Promise<TestSystem> {
  const process = startCli(['start', '--port', String(port)], env);
  const started = await process.waitForLog({ msg: 'orders-live started' }, START_TIMEOUT_MS);
  const url = String(started.url);
  return {
    url,
    port: Number(new URL(url).port),
    process,
    async stop() {
      await process.kill('SIGTERM');
    },
  };
}
