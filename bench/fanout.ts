// fanout: 1,000 socket.io clients (a child process) on one gateway process at 100 events/s:
// delivery latency, and the gateway's CPU and memory. The bridge runs in its own process so the
// gateway's figures are its own.

import type pg from 'pg';
import type { Benchmark } from './lib/benchmark.js';
import { deleteExchange } from './lib/broker.js';
import { type ClientFleet, startClientFleet } from './lib/client-fleet.js';
import { createBenchDatabase, SEED_ROWS } from './lib/database.js';
import type { FleetWindow } from './lib/fleet-protocol.js';
import { type OrdersLiveProcess, startOrdersLive } from './lib/orders-live.js';
import { runPacedWrites, type WriteStats } from './lib/paced-writer.js';
import { type ProcUsage, readProc, sampleMachineCpu, sampleProc } from './lib/proc-stats.js';
import { histogramDelta, histogramQuantile, readHistogram, scrapeMetrics } from './lib/prometheus.js';
import { benchExchangeName } from './lib/settings.js';
import { concatSamples, fmt, fmtSpread, type LatencySummary, spread, summarizeLatency } from './lib/stats.js';

const CLIENTS = 1_000;
const RATE = 100;
const REPETITIONS = 3;
const SECONDS = 6;
const QUICK_SECONDS = 3;
const WRITERS = 2;
const MIB = 1024 ** 2;
/** Above this a single-threaded client process is saturated. */
const CLIENT_BOUND_CORES = 0.9;
/** Above this (of 2 cores) every process waits for CPU. */
const MACHINE_BOUND_CORES = 1.9;

interface Rep {
  writes: WriteStats;
  latency: LatencySummary;
  gateway: ProcUsage;
  clients: ProcUsage;
  machineCpuCores: number;
  emitDelayP50Ms: number;
  emitDelayP99Ms: number;
  missing: number;
  duplicates: number;
  gaps: number;
}

export const fanout: Benchmark = {
  name: 'fanout',
  title: '1,000 socket.io clients at 100 events/s: latency, gateway CPU and RSS',
  async run(ctx) {
    ctx.progress('database, a bridge process and a gateway process (api,gateway)');
    const db = await createBenchDatabase(ctx.settings, 'fanout');
    ctx.defer(() => db.drop());
    const exchange = benchExchangeName('fanout');
    ctx.defer(() => deleteExchange(ctx.settings.rabbitmqUrl, exchange));
    const common = { databaseUrl: db.url, rabbitmqUrl: ctx.settings.rabbitmqUrl, exchange };
    const bridge = await startOrdersLive(ctx.processes, {
      ...common,
      name: 'fanout bridge',
      roles: 'bridge',
    });
    ctx.defer(() => bridge.kill());
    const gateway = await startOrdersLive(ctx.processes, {
      ...common,
      name: 'fanout gateway',
      roles: 'api,gateway',
    });
    ctx.defer(() => gateway.kill());
    const idleRss = readProc(gateway.pid).rssBytes;
    ctx.progress(`connecting ${CLIENTS} socket.io clients (child process)`);
    const connectStarted = performance.now();
    const fleet = await startClientFleet(ctx.processes, {
      name: 'fanout clients',
      url: gateway.url,
      count: CLIENTS,
      mode: 'envelope',
    });
    ctx.defer(() => fleet.close());
    const connectMs = performance.now() - connectStarted;
    const connectedRss = readProc(gateway.pid).rssBytes;
    const writers: pg.Client[] = [];
    for (let i = 0; i < WRITERS; i++) writers.push(await db.connect('orders-live-bench-writer'));
    ctx.defer(() => Promise.all(writers.map((w) => w.end())));
    const write = (ms: number) =>
      runPacedWrites({
        clients: writers,
        rate: RATE,
        durationMs: ms,
        rows: SEED_ROWS,
        maxRowsPerStatement: 10,
        onCommit: (k, at) => fleet.commit(k, at),
      });
    ctx.progress('warm-up: 1 s (not measured)');
    await write(1_000);
    await settle(fleet);
    await fleet.collect();
    const seconds = ctx.quick ? QUICK_SECONDS : SECONDS;
    const reps: Rep[] = [];
    const windows: FleetWindow[] = [];
    for (let i = 1; i <= REPETITIONS; i++) {
      const rep = await measure(fleet, gateway, () => write(seconds * 1000));
      windows.push(rep.window);
      reps.push(rep.rep);
      ctx.progress(
        `rep ${i}: p50 ${fmt(rep.rep.latency.p50)} ms, p99 ${fmt(rep.rep.latency.p99)} ms; gateway ${fmt(rep.rep.gateway.cpuCores)} cores, ` +
          `${fmt(rep.rep.gateway.maxRssBytes / MIB, 0)} MiB`,
      );
    }
    const pooled = summarizeLatency(concatSamples(windows.map((w) => w.latencies)));
    return report(reps, pooled, { idleRss, connectedRss, connectMs, seconds });
  },
};

async function measure(fleet: ClientFleet, gateway: OrdersLiveProcess, write: () => Promise<WriteStats>) {
  const before = await scrapeMetrics(gateway.url);
  const gw = sampleProc(gateway.pid);
  const cl = sampleProc(fleet.pid);
  const machine = sampleMachineCpu();
  const writes = await write();
  const missing = (await settle(fleet)).pending;
  const usage = { gateway: gw.stop(), clients: cl.stop(), machineCpuCores: machine.stop() };
  const window = await fleet.collect();
  const after = await scrapeMetrics(gateway.url);
  const name = 'orders_live_gateway_emit_delay_seconds';
  const emit = histogramDelta(readHistogram(after, name), readHistogram(before, name));
  const rep: Rep = {
    writes,
    latency: summarizeLatency(window.latencies),
    ...usage,
    emitDelayP50Ms: histogramQuantile(emit, 0.5) * 1000,
    emitDelayP99Ms: histogramQuantile(emit, 0.99) * 1000,
    missing,
    duplicates: window.duplicates,
    gaps: window.gaps,
  };
  return { rep, window };
}

async function settle(fleet: ClientFleet) {
  try {
    return await fleet.waitDelivered(30_000);
  } catch {
    return fleet.status();
  }
}

function report(
  reps: Rep[],
  pooled: LatencySummary,
  setup: { idleRss: number; connectedRss: number; connectMs: number; seconds: number },
) {
  const p99 = spread(reps.map((r) => r.latency.p99));
  return {
    method: [
      `One bridge process (start --role bridge) and one gateway process (start --role api,gateway), default settings; ${CLIENTS} socket.io-client clients (websocket) in one child process, connected ${50} at a time.`,
      `${WRITERS} writer connections paced at ${RATE} single-row updates/s; ${REPETITIONS} repetitions of ${setup.seconds} s after a 1 s warm-up. Latency = client receipt − commit, every client, every event (clock method as in e2e-latency).`,
      'CPU from /proc/<pid>/stat (utime + stime) over each repetition, in cores (1.0 = one core busy); RSS = largest VmRSS sampled every 200 ms. The clients share the same 2 cores, so their CPU is shown too.',
    ],
    tables: [
      {
        title: `Per repetition (${RATE} events/s × ${CLIENTS} clients)`,
        columns: [
          'rep',
          'events/s',
          'p50 ms',
          'p99 ms',
          'max ms',
          'gateway CPU',
          'gateway RSS MiB',
          'clients CPU',
          'machine CPU',
          'emit delay p50/p99 ms',
          'missing/dup/gap',
        ],
        rows: reps.map((r, i) => [
          String(i + 1),
          fmt(r.writes.achievedRate, 0),
          fmt(r.latency.p50),
          fmt(r.latency.p99),
          fmt(r.latency.max),
          fmt(r.gateway.cpuCores),
          fmt(r.gateway.maxRssBytes / MIB, 0),
          fmt(r.clients.cpuCores),
          fmt(r.machineCpuCores),
          `${fmt(r.emitDelayP50Ms)} / ${fmt(r.emitDelayP99Ms)}`,
          `${r.missing}/${r.duplicates}/${r.gaps}`,
        ]),
      },
      {
        title: 'Summary',
        columns: ['figure', 'value'],
        rows: [
          [
            'latency p50 / p95 / p99 / max ms (all reps)',
            `${fmt(pooled.p50)} / ${fmt(pooled.p95)} / ${fmt(pooled.p99)} / ${fmt(pooled.max)}`,
          ],
          ['receipts', String(pooled.count)],
          ['gateway CPU, cores: median (min–max)', fmtSpread(spread(reps.map((r) => r.gateway.cpuCores)))],
          [
            'gateway RSS MiB: idle → 1,000 clients → max under load',
            `${fmt(setup.idleRss / MIB, 0)} → ${fmt(setup.connectedRss / MIB, 0)} → ${fmt(Math.max(...reps.map((r) => r.gateway.maxRssBytes)) / MIB, 0)}`,
          ],
          ['time to connect 1,000 clients (all ready)', `${fmt(setup.connectMs / 1000, 1)} s`],
        ],
      },
    ],
    targets: [
      {
        what: 'p99 at 100 events/s, 1,000 clients',
        goal: '≤ 100 ms',
        measured: `${fmt(pooled.p99)} ms (per rep ${fmtSpread(p99)})`,
        met: pooled.p99 <= 100,
      },
    ],
    notes: clientBound(reps),
    data: { reps, pooled, setup },
  };
}

/** Says so when the clients' process, not the gateway, was the bottleneck of a repetition. */
function clientBound(reps: Rep[]): string[] {
  const busy = reps.filter((r) => r.clients.cpuCores >= CLIENT_BOUND_CORES).length;
  const saturated = reps.filter((r) => r.machineCpuCores >= MACHINE_BOUND_CORES).length;
  const notes: string[] = [];
  if (busy > 0)
    notes.push(
      `In ${busy} of ${reps.length} repetitions the clients' process used ≥ ${CLIENT_BOUND_CORES} core (one Node thread is at most 1): ` +
        'receipts queued in the clients, so the latencies include client-side waiting.',
    );
  if (saturated > 0)
    notes.push(
      `In ${saturated} of ${reps.length} repetitions the whole machine was ≥ ${MACHINE_BOUND_CORES} of its cores busy: the gateway, the clients, PostgreSQL, RabbitMQ and anything else running competed for CPU.`,
    );
  return notes;
}
