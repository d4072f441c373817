// e2e-latency: commit → socket.io-client receipt through the whole pipeline (one `start` process
// with every role), 10 clients, at paced 100, 1,000 and 5,000 updates/s.

import type { Benchmark } from './lib/benchmark.js';
import { deleteExchange } from './lib/broker.js';
import { createBenchDatabase } from './lib/database.js';
import { latencyTable, measureLatencySteps, stagesTable } from './lib/latency-steps.js';
import { startOrdersLive } from './lib/orders-live.js';
import { benchExchangeName } from './lib/settings.js';
import { fmt } from './lib/stats.js';

export const E2E_RATES = [100, 1_000, 5_000] as const;
export const E2E_SHAPE = {
  clients: 10,
  repetitions: 3,
  secondsPerRepetition: 4,
  writers: 4,
  maxRowsPerStatement: 100,
};
export const QUICK_SECONDS = 2;

/** How the latencies of e2e-latency and baseline are measured; both print it. */
export function latencyMethod(
  seconds: number,
  clocks: { offsetMs: number; uncertaintyMs: number },
): string[] {
  return [
    `Writers: ${E2E_SHAPE.writers} connections paced by the clock (event i due at start + i/rate); each statement takes every due row (≤ ${E2E_SHAPE.maxRowsPerStatement}): one row per statement while the writers keep up, more when they fall behind (rows/stmt column). ${E2E_SHAPE.repetitions} repetitions of ${seconds} s per rate after a 1 s warm-up.`,
    'Latency = client receipt − commit, per event and per client. The commit time is taken in the bench process when the autocommit UPDATE … RETURNING id, version returns; the clients (a child process) key receipts by (order id, version).',
    `Both processes read performance.timeOrigin + performance.now(); the child's offset was measured by IPC round trips (best of 30): ${fmt(clocks.offsetMs, 3)} ms ± ${fmt(clocks.uncertaintyMs, 3)} ms, and corrected for.`,
    `${E2E_SHAPE.clients} socket.io-client clients (websocket transport) in one child process.`,
  ];
}

export const e2eLatency: Benchmark = {
  name: 'e2e-latency',
  title: 'commit → socket.io client, 10 clients, all roles in one process',
  async run(ctx) {
    ctx.progress('database and an orders-live process with every role');
    const db = await createBenchDatabase(ctx.settings, 'e2e_latency');
    ctx.defer(() => db.drop());
    const exchange = benchExchangeName('e2e-latency');
    ctx.defer(() => deleteExchange(ctx.settings.rabbitmqUrl, exchange));
    const server = await startOrdersLive(ctx.processes, {
      name: 'e2e orders-live',
      databaseUrl: db.url,
      rabbitmqUrl: ctx.settings.rabbitmqUrl,
      exchange,
    });
    ctx.defer(() => server.kill());
    const seconds = ctx.quick ? QUICK_SECONDS : E2E_SHAPE.secondsPerRepetition;
    const result = await measureLatencySteps(ctx, {
      ...E2E_SHAPE,
      name: 'e2e-latency',
      db,
      url: server.url,
      mode: 'envelope',
      rates: E2E_RATES,
      secondsPerRepetition: seconds,
      metricsUrl: server.url,
    });
    const at1000 = result.steps.find((s) => s.rate === 1_000)!;
    return {
      method: [
        ...latencyMethod(seconds, result.clock),
        'Pipeline: `start --port 0` (api, bridge, gateway in one process, default settings), its own database and a random AMQP_EXCHANGE.',
        "Stages: published_at is taken by the bridge as it starts numbering a batch (ms resolution, same machine clock), so commit→published_at is the doorbell or active poll, published_at→client is numbering + broker + gateway + socket (client 0 only). Bridge batches and gateway emit delay are deltas of /metrics over each rate; batches overlap (up to 4 wait for confirms at once), so batch ms is each batch's numbering → confirm, not a step of a serial loop.",
      ],
      tables: [
        latencyTable('Commit → client latency (all clients, all repetitions)', result.steps),
        stagesTable('Where the time goes', result.steps),
      ],
      targets: [
        {
          what: 'p50 at 1,000/s (issue 17)',
          goal: '≤ 2 ms',
          measured: `${fmt(at1000.latency.p50)} ms`,
          met: at1000.latency.p50 <= 2,
        },
        {
          what: 'p99 at 1,000/s (issue 17)',
          goal: '≤ 5 ms',
          measured: `${fmt(at1000.latency.p99)} ms`,
          met: at1000.latency.p99 <= 5,
        },
      ],
      notes: [],
      data: result,
    };
  },
};
