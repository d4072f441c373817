// The real orders-live CLI as a child process (`start --role … --port 0`) on a benchmark's
// database and exchange; resolves once it logged its URL and answers /readyz with 200.

import type { BenchContext } from './benchmark.js';
import { deleteExchange } from './broker.js';
import { type BenchDatabase, createBenchDatabase } from './database.js';
import type { ChildHandle, ProcessGroup } from './process-group.js';
import { benchExchangeName } from './settings.js';
import { waitFor } from './wait-for.js';

export interface OrdersLiveOptions {
  /** Names the child in progress lines and errors. */
  name: string;
  databaseUrl: string;
  rabbitmqUrl: string;
  exchange: string;
  /** e.g. "bridge" or "api,gateway"; all roles when absent. */
  roles?: string;
  /** Wait until /readyz answers 200. @default true */
  waitReady?: boolean;
  /** Another checkout of orders-live to run instead of this one (BENCH_AGAINST). */
  root?: string;
  /** Settings of this run over the defaults (the soak's retention, say). */
  env?: Record<string, string>;
}

export interface OrdersLiveProcess extends ChildHandle {
  /** http://127.0.0.1:<port> */
  readonly url: string;
}

export async function startOrdersLive(
  group: ProcessGroup,
  options: OrdersLiveOptions,
): Promise<OrdersLiveProcess> {
  const args = ['start', '--port', '0', ...(options.roles ? ['--role', options.roles] : [])];
  // Every setting a local .env might also set is given explicitly: the environment wins over it.
  const child = group.spawn(options.name, 'src/main.ts', args, {
    cwd: options.root,
    env: {
      DATABASE_URL: options.databaseUrl,
      RABBITMQ_URL: options.rabbitmqUrl,
      AMQP_EXCHANGE: options.exchange,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      API_TOKENS: '',
      MIGRATE_ON_START: 'true',
      CREATE_DATABASE: 'false',
      ...tuningFromEnvironment(),
      ...options.env,
    },
  });
  const started = await child.waitForLog((l) => l.msg === 'orders-live started', 'the "started" line');
  const url = String(started.url);
  if (options.waitReady ?? true) {
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: `${options.name} /readyz`,
    });
  }
  return Object.assign(child, { url });
}

/**
 * orders-live on a database and an exchange of its own, all three removed when the run ends.
 */
export async function startOrdersLiveOnOwn(
  ctx: BenchContext,
  names: { database: string; exchange: string },
  options: Omit<OrdersLiveOptions, 'databaseUrl' | 'rabbitmqUrl' | 'exchange'>,
): Promise<{ db: BenchDatabase; server: OrdersLiveProcess }> {
  const db = await createBenchDatabase(ctx.settings, names.database);
  ctx.defer(() => db.drop());
  const exchange = benchExchangeName(names.exchange);
  ctx.defer(() => deleteExchange(ctx.settings.rabbitmqUrl, exchange));
  const server = await startOrdersLive(ctx.processes, {
    ...options,
    databaseUrl: db.url,
    rabbitmqUrl: ctx.settings.rabbitmqUrl,
    exchange,
  });
  ctx.defer(() => server.kill());
  return { db, server };
}

/**
 * The tuning knobs a benchmark run may set for the system under test (e.g.
 * `GATEWAY_PREFETCH=50 npm run bench -- e2e-latency`); nothing else of the bench's environment
 * reaches it.
 */
function tuningFromEnvironment(): Record<string, string> {
  const knobs = [
    'GATEWAY_PREFETCH',
    'GATEWAY_MAX_BUFFERED_BYTES',
    'BRIDGE_BATCH_SIZE',
    'BRIDGE_LINGER_MS',
    'BRIDGE_POLL_MS',
  ];
  return Object.fromEntries(knobs.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));
}
