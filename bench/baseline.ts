// baseline: the e2e-latency measurement for the naive pattern (bench/naive-server.ts: row trigger
// NOTIFY with the row as payload → one LISTEN connection → Socket.IO emit, no log, no broker), so
// the report shows what orders-live's guarantees cost. When e2e-latency ran in the same run, the
// two are put side by side.

import { E2E_RATES, E2E_SHAPE, latencyMethod, QUICK_SECONDS } from './e2e-latency.js';
import type { Benchmark } from './lib/benchmark.js';
import { NAIVE_CHANNEL, naiveNotify } from './lib/capture-variants.js';
import { createBenchDatabase } from './lib/database.js';
import { type LatencyStep, latencyTable, measureLatencySteps } from './lib/latency-steps.js';
import type { Table } from './lib/report.js';
import { fmt } from './lib/stats.js';

export const baseline: Benchmark = {
  name: 'baseline',
  title: 'the naive pattern (row NOTIFY → LISTEN → emit), same measurement as e2e-latency',
  async run(ctx) {
    ctx.progress('database with the naive row trigger, and the naive server');
    const db = await createBenchDatabase(ctx.settings, 'baseline');
    ctx.defer(() => db.drop());
    for (const sql of naiveNotify(NAIVE_CHANNEL)) await db.pool.query(sql);
    const server = ctx.processes.spawn('naive server', 'bench/naive-server.ts', [db.url]);
    ctx.defer(() => server.kill());
    const started = await server.waitForLog((l) => l.msg === 'naive server started', 'the "started" line');
    const seconds = ctx.quick ? QUICK_SECONDS : E2E_SHAPE.secondsPerRepetition;
    const result = await measureLatencySteps(ctx, {
      ...E2E_SHAPE,
      name: 'baseline',
      db,
      url: String(started.url),
      mode: 'row',
      rates: E2E_RATES,
      secondsPerRepetition: seconds,
    });
    const e2e = ctx.earlier.get('e2e-latency')?.data as { steps: LatencyStep[] } | undefined;
    return {
      method: [
        ...latencyMethod(seconds, result.clock),
        `Pipeline: bench/naive-server.ts in a child process; versioning trigger kept, capture triggers dropped, an AFTER UPDATE row trigger runs pg_notify('${NAIVE_CHANNEL}', row_to_json(NEW)::text); each notification is one io.emit('order', row).`,
      ],
      tables: [
        latencyTable('Naive pipeline: commit → client latency', result.steps),
        ...(e2e ? [sideBySide(e2e.steps, result.steps)] : []),
      ],
      targets: [],
      notes: e2e
        ? []
        : [
            'Run together with e2e-latency (`npm run bench -- e2e-latency baseline`) for the side-by-side table.',
          ],
      data: result,
    };
  },
};

function sideBySide(ours: readonly LatencyStep[], naive: readonly LatencyStep[]): Table {
  return {
    title: 'orders-live against the naive pattern (same run, same method)',
    columns: [
      'rate/s',
      'orders-live p50 / p99 ms',
      'naive p50 / p99 ms',
      'p50 ×',
      'p99 ×',
      'orders-live / naive achieved/s',
    ],
    rows: ours.map((o) => {
      const n = naive.find((s) => s.rate === o.rate);
      if (!n) return [fmt(o.rate, 0), `${fmt(o.latency.p50)} / ${fmt(o.latency.p99)}`, '–', '–', '–', '–'];
      return [
        fmt(o.rate, 0),
        `${fmt(o.latency.p50)} / ${fmt(o.latency.p99)}`,
        `${fmt(n.latency.p50)} / ${fmt(n.latency.p99)}`,
        fmt(o.latency.p50 / n.latency.p50),
        fmt(o.latency.p99 / n.latency.p99),
        `${fmt(o.achievedRate.median, 0)} / ${fmt(n.achievedRate.median, 0)}`,
      ];
    }),
  };
}
