// baseline: the e2e-latency measurement for the reference pipelines, so the report shows what
// orders-live's guarantees cost: (b) the naive pattern (bench/naive-server.ts: row trigger NOTIFY
// with the row as payload → one LISTEN connection → Socket.IO emit, no log, no broker) and (c) the
// original system's shape (bench/original-server.ts: the same NOTIFY → RabbitMQ without confirms →
// a consumer → emit). When e2e-latency ran in the same run, all three are put side by side.

import { E2E_RATES, E2E_SHAPE, latencyMethod, QUICK_SECONDS } from './e2e-latency.js';
import type { BenchContext, Benchmark } from './lib/benchmark.js';
import { NAIVE_CHANNEL, naiveNotify } from './lib/capture-variants.js';
import { createBenchDatabase } from './lib/database.js';
import {
  type LatencyResult,
  type LatencyStep,
  latencyTable,
  measureLatencySteps,
} from './lib/latency-steps.js';
import type { Table } from './lib/report.js';
import { benchExchangeName } from './lib/settings.js';
import { fmt } from './lib/stats.js';

/** A reference pipeline: the naive row trigger in its database, and a server started on it. */
export interface Reference {
  key: 'naive' | 'original';
  label: string;
  script: string;
  args(dbUrl: string, ctx: BenchContext): string[];
  describe: string;
}

export const REFERENCES: readonly Reference[] = [
  {
    key: 'naive',
    label: '(b) naive',
    script: 'bench/naive-server.ts',
    args: (dbUrl) => [dbUrl],
    describe: `(b) bench/naive-server.ts: an AFTER UPDATE row trigger runs pg_notify('${NAIVE_CHANNEL}', row_to_json(NEW)::text); each notification is one io.emit('order', row).`,
  },
  {
    key: 'original',
    label: '(c) original shape',
    script: 'bench/original-server.ts',
    args: (dbUrl, ctx) => [dbUrl, ctx.settings.rabbitmqUrl, benchExchangeName('original')],
    describe:
      '(c) bench/original-server.ts: the same trigger; each notification is published to RabbitMQ (a fanout exchange, no publisher confirms), consumed with automatic acks in the same process and emitted.',
  },
];

/** Starts a reference pipeline on its own database; returns its URL and the database. */
export async function startReference(ctx: BenchContext, reference: Reference, dbName: string) {
  const db = await createBenchDatabase(ctx.settings, dbName);
  ctx.defer(() => db.drop());
  for (const sql of naiveNotify(NAIVE_CHANNEL)) await db.pool.query(sql);
  const server = ctx.processes.spawn(
    `${reference.key} server`,
    reference.script,
    reference.args(db.url, ctx),
  );
  ctx.defer(() => server.kill());
  const started = await server.waitForLog((l) => typeof l.url === 'string', 'the "started" line');
  return { db, url: String(started.url), server };
}

export const baseline: Benchmark = {
  name: 'baseline',
  title: 'the reference pipelines (b) naive and (c) original shape, same measurement as e2e-latency',
  async run(ctx) {
    const seconds = ctx.quick ? QUICK_SECONDS : E2E_SHAPE.secondsPerRepetition;
    const results = new Map<Reference['key'], LatencyResult>();
    for (const reference of REFERENCES) {
      ctx.progress(`${reference.label}: database with the naive row trigger, and its server`);
      const { db, url, server } = await startReference(ctx, reference, `baseline_${reference.key}`);
      results.set(
        reference.key,
        await measureLatencySteps(ctx, {
          ...E2E_SHAPE,
          name: `baseline ${reference.key}`,
          db,
          url,
          mode: 'row',
          rates: E2E_RATES,
          secondsPerRepetition: seconds,
        }),
      );
      await server.kill();
    }
    const naive = results.get('naive')!;
    const original = results.get('original')!;
    const e2e = ctx.earlier.get('e2e-latency')?.data as { steps: LatencyStep[] } | undefined;
    return {
      method: [
        ...latencyMethod(seconds, naive.clock),
        "Versioning trigger kept, capture triggers dropped, in each reference's own database.",
        ...REFERENCES.map((r) => r.describe),
      ],
      tables: [
        latencyTable('(b) naive pipeline: commit → client latency', naive.steps),
        latencyTable('(c) original shape: commit → client latency', original.steps),
        ...(e2e ? [sideBySide(e2e.steps, naive.steps, original.steps)] : []),
      ],
      targets: [],
      notes: e2e
        ? []
        : [
            'Run together with e2e-latency (`npm run bench -- e2e-latency baseline`) for the side-by-side table.',
          ],
      data: { naive, original },
    };
  },
};

function sideBySide(
  ours: readonly LatencyStep[],
  naive: readonly LatencyStep[],
  original: readonly LatencyStep[],
): Table {
  const cell = (s: LatencyStep | undefined) => (s ? `${fmt(s.latency.p50)} / ${fmt(s.latency.p99)}` : '–');
  return {
    title: 'orders-live (a) against the references (same run, same method): p50 / p99 ms',
    columns: [
      'rate/s',
      '(a) orders-live',
      '(b) naive',
      '(c) original shape',
      '(a) ÷ (b) p50',
      '(a) ÷ (c) p50',
    ],
    rows: ours.map((o) => {
      const n = naive.find((s) => s.rate === o.rate);
      const c = original.find((s) => s.rate === o.rate);
      return [
        fmt(o.rate, 0),
        cell(o),
        cell(n),
        cell(c),
        n ? fmt(o.latency.p50 / n.latency.p50) : '–',
        c ? fmt(o.latency.p50 / c.latency.p50) : '–',
      ];
    }),
  };
}
