// `npm run soak [-- --minutes N]`: the whole system for N minutes (30 by default) under a steady
// load, watched for what only time shows. Processes as in production: an api, a leader and a
// standby bridge, two gateways. Load: 1,000 changes/s, nine in ten from SQL writers (as psql
// would), one in ten through the REST API; 500 socket clients in a process of their own that keep
// connecting, resuming and leaving (lib/soak-check.ts: each checks its stream across all its
// connections); an integration queue bound to the per-event exchange; retention every minute on a
// two-minute window. Every 10 s: each process's RSS, heap used, event-loop delay p99 and open
// files, and the database's and the broker's connections, channels and queues. At the end: every
// client caught up and checked exactly once, the slopes after the warm-up against the targets
// (lib/soak-report.ts), a chart. Reports in bench/results/soak-<time>.{json,md,svg}; exit 1 when a
// target is missed.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import amqp from 'amqplib';
import type pg from 'pg';
import { deleteTopology } from '../src/amqp/topology.js';
import { ORDER_STATUSES } from '../src/contract/events.js';
import { createBenchDatabase, waitForPipelineIdle } from './lib/database.js';
import { codeRevision, describeMachine } from './lib/machine.js';
import { type OrdersLiveProcess, startOrdersLive } from './lib/orders-live.js';
import { runPacedWrites } from './lib/paced-writer.js';
import { type ChildHandle, createProcessGroup, ROOT } from './lib/process-group.js';
import { createProgress } from './lib/progress.js';
import { benchExchangeName, loadBenchSettings } from './lib/settings.js';
import { fullStreamCheck } from './lib/soak-check.js';
import type { SoakClientsStatus, SoakReply, SoakRequest } from './lib/soak-protocol.js';
import { judgeSoak, type SoakSample, soakChart, soakTables } from './lib/soak-report.js';
import { brokerCounts, databaseConnections, sampleProcess } from './lib/soak-sampler.js';
import { sleep, waitFor } from './lib/wait-for.js';

const USAGE = `usage: npm run soak [-- --minutes N] [--clients N] [--rate N]

  --minutes N   how long the load runs (default 30); the first 5 minutes (a third of a shorter
                run) are warm-up, left out of the slopes
  --clients N   socket clients (default 500), 20 of them on the whole stream, the rest one order each
  --rate N      changes per second (default 1000), one in ten through the REST API`;

const SAMPLE_EVERY_MS = 10_000;
/** Orders the writers cycle through: each changes every ~2 s at 1,000/s. */
const ORDERS = 2_000;
const FULL_STREAM_CLIENTS = 20;
const REST_SHARE = 0.1;
const SETTLE_TIMEOUT_MS = 180_000;
/** The system's settings for the soak: retention runs every minute and deletes. */
const SYSTEM_ENV = { EVENT_RETENTION: '2m' };

const progress = createProgress('soak');

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '30' },
      clients: { type: 'string', default: '500' },
      rate: { type: 'string', default: '1000' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (name: 'minutes' | 'clients' | 'rate') => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n <= 0) {
      console.error(`soak: --${name} must be a positive number, not "${values[name]}"`);
      process.exit(2);
    }
    return n;
  };
  return { minutes: number('minutes'), clients: Math.round(number('clients')), rate: number('rate') };
}

async function main(argv: string[]): Promise<number> {
  const opts = options(argv);
  const warmupS = Math.min(300, (opts.minutes * 60) / 3);
  const settings = loadBenchSettings();
  const group = createProcessGroup();
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanUp = async () => {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => progress(`cleanup: ${String(e)}`));
    cleanups.length = 0;
  };
  // Interrupted: the children die at once; the database and the broker's objects go within 15 s.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.on(signal, () => {
      progress(`${signal}: cleaning up`);
      group.killAllNow();
      setTimeout(() => process.exit(130), 15_000).unref();
      void cleanUp().finally(() => process.exit(130));
    });
  process.on('exit', () => group.killAllNow());

  const started = new Date();
  try {
    progress(
      `${opts.minutes} min at ${opts.rate} changes/s, ${opts.clients} clients; warm-up ${(warmupS / 60).toFixed(1)} min`,
    );
    const machine = await describeMachine(settings);
    const revision = await codeRevision(ROOT);
    const db = await createBenchDatabase(settings, 'soak', ORDERS);
    cleanups.push(() => db.drop());
    const exchange = benchExchangeName('soak');
    cleanups.push(() => deleteBrokerObjects(settings.rabbitmqUrl, exchange));

    const system: Record<string, OrdersLiveProcess> = {};
    const base = { databaseUrl: db.url, rabbitmqUrl: settings.rabbitmqUrl, exchange, env: SYSTEM_ENV };
    for (const [name, roles] of [
      ['api', 'api'],
      ['bridge-a', 'bridge'],
      ['bridge-b', 'bridge'],
      ['gateway-a', 'gateway'],
      ['gateway-b', 'gateway'],
    ] as const)
      system[name] = await startOrdersLive(group, { ...base, name, roles });
    cleanups.push(() => group.stopAll());
    progress(`system up: ${Object.keys(system).join(', ')}`);

    const integration = await startIntegration(settings.rabbitmqUrl, exchange);
    cleanups.push(() => integration.close());

    const orderIds = Array.from({ length: ORDERS }, (_, i) => i + 1);
    const clients = startClients(group);
    cleanups.push(() => clients.close());
    await clients.call({
      type: 'start',
      gatewayUrls: [system['gateway-a']!.url, system['gateway-b']!.url],
      apiUrl: system.api!.url,
      count: opts.clients,
      fullStream: Math.min(FULL_STREAM_CLIENTS, opts.clients),
      orderIds,
      since: 0,
      versions: await versionsOf(db.pool),
    });
    await waitFor(async () => (await clients.status()).connected >= opts.clients * 0.9, {
      timeoutMs: 60_000,
      what: 'the clients to connect',
    });

    const durationMs = opts.minutes * 60_000;
    const writers = await Promise.all([db.connect('soak-writer-1'), db.connect('soak-writer-2')]);
    cleanups.push(() => Promise.all(writers.map((w) => w.end())));
    const loadStart = performance.now();
    const sqlWrites = runPacedWrites({
      clients: writers,
      rate: opts.rate * (1 - REST_SHARE),
      durationMs,
      rows: ORDERS,
      maxRowsPerStatement: 20,
      onCommit: () => undefined,
    });
    const restWrites = runRestWrites(system.api!.url, opts.rate * REST_SHARE, durationMs);

    const samples: SoakSample[] = [];
    const ownDelay = monitorEventLoopDelay({ resolution: 10 });
    ownDelay.enable();
    let lastClients: SoakClientsStatus | undefined;
    const writing = Promise.all([sqlWrites, restWrites]);
    let done = false;
    void writing.finally(() => {
      done = true;
    });
    while (!done) {
      const wake = loadStart + (samples.length + 1) * SAMPLE_EVERY_MS;
      while (!done && performance.now() < wake)
        await Promise.race([writing, sleep(wake - performance.now())]);
      if (done) break;
      const t = (performance.now() - loadStart) / 1000;
      lastClients = await clients.status();
      const sample = await takeSample(t, system, db, exchange, clients.pid, lastClients, ownDelay);
      samples.push(sample);
      progress(sampleLine(sample, lastClients, integration.check.received));
    }
    const [sqlStats, restStats] = await writing;
    progress(
      `writers done: ${sqlStats.events} SQL changes (${sqlStats.achievedRate.toFixed(0)}/s), ` +
        `${restStats.changes} REST (${restStats.failures} failed)`,
    );

    // The end: everything published, every client back and caught up, the integration too.
    await waitForPipelineIdle(db);
    const head = await lastPosition(db.pool);
    const versions = await versionsOf(db.pool);
    let behind = Number.NaN;
    await waitFor(
      async () => {
        behind = Number(await clients.call({ type: 'settle', target: { head, versions } }));
        return behind === 0 && integration.check.last >= head;
      },
      { timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 500, what: `every client at position ${head}` },
    ).catch((e: unknown) => progress(`not settled: ${behind} clients behind; ${String(e)}`));
    const final = await clients.status();

    const systemNames = new Set(Object.keys(system));
    const verdict = judgeSoak(samples, warmupS, (name) => systemNames.has(name));
    const streamsOk = final.repeats === 0 && final.gaps === 0 && behind === 0;
    const ic = integration.check;
    const integrationOk = ic.repeats === 0 && ic.gaps === 0 && ic.last === head;
    const ok = verdict.ok && streamsOk && integrationOk;

    const name = `soak-${started.toISOString().replace(/[:.]/g, '-')}`;
    const dir = join(ROOT, 'bench', 'results');
    await mkdir(dir, { recursive: true });
    const caption = `${started.toISOString().slice(0, 16)}Z · ${machine.nproc} cores · ${machine.cpuModel} · ${revision}`;
    const chart = soakChart(
      samples,
      warmupS,
      `Soak: heap used per process, ${opts.minutes} min at ${opts.rate}/s`,
      caption,
    );
    const markdown = [
      `# Soak, ${started.toISOString()}`,
      '',
      `\`npm run soak -- --minutes ${opts.minutes}\` · ${opts.rate} changes/s (${REST_SHARE * 100} % REST) · ` +
        `${opts.clients} clients (${FULL_STREAM_CLIENTS} whole stream) · revision ${revision} · ` +
        `${machine.nproc} cores, ${machine.cpuModel}, Node ${machine.node}, ${machine.postgres}, ${machine.rabbitmq}`,
      '',
      `Load: ${sqlStats.events} SQL changes at ${sqlStats.achievedRate.toFixed(0)}/s, ${restStats.changes} through REST ` +
        `(${restStats.failures} failed); log head ${head}. Samples every ${SAMPLE_EVERY_MS / 1000} s; ` +
        `${verdict.samplesAfterWarmup} after the ${warmupS / 60}-minute warm-up.`,
      '',
      soakTables(verdict),
      '',
      `Clients: ${final.clients}, ${final.connects} connections made, ${final.leaves} left; ` +
        `${final.received} events received; repeats ${final.repeats}, gaps ${final.gaps}, resyncs ${final.resyncs}; ` +
        `${behind} not caught up at the end.${final.problems.length ? ` First problems: ${final.problems.join('; ')}` : ''}`,
      '',
      `Integration queue: ${ic.received} messages, last position ${ic.last} of ${head}; repeats ${ic.repeats}, gaps ${ic.gaps}.`,
      '',
      `Verdict: ${ok ? 'every target met' : '**a target was missed**'}.`,
      '',
    ].join('\n');
    await writeFile(
      join(dir, `${name}.json`),
      JSON.stringify({ opts, machine, revision, samples, verdict, final, integration: ic, head }, null, 1),
    );
    await writeFile(join(dir, `${name}.md`), markdown);
    await writeFile(join(dir, `${name}.svg`), chart);
    await writeFile(join(dir, 'latest-soak.md'), markdown);
    await writeFile(join(dir, 'latest-soak.svg'), chart);
    process.stdout.write(`${markdown}\n`);
    progress(`reports: bench/results/${name}.{json,md,svg}`);
    return ok ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

function sampleLine(s: SoakSample, c: SoakClientsStatus, integrationReceived: number): string {
  const heaps = Object.entries(s.processes)
    .map(([n, p]) => `${n} ${(p.heapUsedBytes / 2 ** 20).toFixed(0)}`)
    .join(' ');
  return (
    `${(s.t / 60).toFixed(1)} min · clients ${c.connected}/${c.clients} connected, ${c.received} events, ` +
    `repeats ${c.repeats} gaps ${c.gaps} resyncs ${c.resyncs} · integration ${integrationReceived} · heap MiB: ${heaps} · ` +
    Object.entries(s.counts)
      .map(([n, v]) => `${n} ${v}`)
      .join(' ')
  );
}

async function takeSample(
  t: number,
  system: Record<string, OrdersLiveProcess>,
  db: { pool: pg.Pool; name: string },
  exchange: string,
  clientsPid: number,
  clients: SoakClientsStatus,
  ownDelay: ReturnType<typeof monitorEventLoopDelay>,
): Promise<SoakSample> {
  const processes: SoakSample['processes'] = {};
  for (const [name, p] of Object.entries(system)) {
    const s = await sampleProcess({ name, pid: p.pid, url: p.url });
    processes[name] = { heapUsedBytes: 0, loopDelayP99Ms: 0, ...s };
  }
  const clientProc = await sampleProcess({ name: 'clients', pid: clientsPid });
  processes.clients = {
    ...clientProc,
    heapUsedBytes: clients.heapUsedBytes,
    loopDelayP99Ms: clients.loopDelayP99Ms,
  };
  const own = await sampleProcess({ name: 'writers', pid: process.pid });
  processes.writers = {
    ...own,
    heapUsedBytes: process.memoryUsage().heapUsed,
    loopDelayP99Ms: ownDelay.percentile(99) / 1e6,
  };
  ownDelay.reset();
  const broker = await brokerCounts(exchange);
  return {
    t,
    processes,
    counts: {
      'PostgreSQL connections': await databaseConnections(db.pool, db.name),
      'RabbitMQ connections': broker.connections,
      'RabbitMQ channels': broker.channels,
      'RabbitMQ queues': broker.queues,
    },
  };
}

/** Changes through PATCH /orders/:id at `rate` a second, on a clock like the SQL writers'. */
async function runRestWrites(apiUrl: string, rate: number, durationMs: number) {
  const start = performance.now();
  let issued = 0;
  let changes = 0;
  let failures = 0;
  const total = Math.round((rate * durationMs) / 1000);
  const inFlight = new Set<Promise<void>>();
  while (issued < total) {
    const due = start + (issued * 1000) / rate;
    if (performance.now() < due) await sleep(due - performance.now());
    const id = 1 + Math.floor(Math.random() * ORDERS);
    const status = ORDER_STATUSES[issued % ORDER_STATUSES.length];
    issued++;
    const request = fetch(`${apiUrl}/orders/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status }),
    })
      .then(async (res) => {
        await res.body?.cancel();
        if (res.ok) changes++;
        else failures++;
      })
      .catch(() => {
        failures++;
      })
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
    if (inFlight.size >= 32) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return { changes, failures };
}

/** An integration: a queue of its own bound to the per-event exchange, checked like a client. */
async function startIntegration(url: string, exchange: string) {
  const connection = await amqp.connect(url, {
    clientProperties: { connection_name: `soak-integration ${exchange}` },
  });
  const channel = await connection.createChannel();
  const queue = `${exchange}.soak-integration`;
  await channel.assertQueue(queue, { durable: false });
  await channel.bindQueue(queue, exchange, '#');
  await channel.prefetch(500);
  const check = fullStreamCheck(0);
  await channel.consume(queue, (message) => {
    if (!message) return;
    check.take([JSON.parse(message.content.toString())]);
    channel.ack(message);
  });
  return {
    check,
    async close() {
      await channel.deleteQueue(queue).catch(() => undefined);
      await connection.close().catch(() => undefined);
    },
  };
}

async function deleteBrokerObjects(url: string, exchange: string): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    await deleteTopology(channel, exchange);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

function startClients(group: ReturnType<typeof createProcessGroup>) {
  const child: ChildHandle = group.spawn('clients', 'bench/soak-clients.ts', [], { ipc: true });
  const waiting = new Map<number, (reply: SoakReply) => void>();
  let nextId = 1;
  child.child.on('message', (reply: SoakReply) => {
    waiting.get(reply.id)?.(reply);
    waiting.delete(reply.id);
  });
  type Request = SoakRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;
  const call = (request: Request): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (!child.running) return reject(new Error(`the clients exited:\n${child.output()}`));
      const id = nextId++;
      waiting.set(id, (reply) => (reply.ok ? resolve(reply.value) : reject(new Error(reply.error))));
      child.child.send({ ...request, id });
    });
  return {
    pid: child.pid,
    call,
    status: () => call({ type: 'status' }) as Promise<SoakClientsStatus>,
    async close() {
      const asked = child.running ? call({ type: 'close' }).catch(() => undefined) : undefined;
      await Promise.race([asked, sleep(2_000)]);
      await child.kill('SIGKILL');
    },
  };
}

async function versionsOf(pool: pg.Pool): Promise<Record<number, number>> {
  const { rows } = await pool.query<{ id: string; version: number }>('SELECT id, version FROM orders');
  return Object.fromEntries(rows.map((r) => [Number(r.id), r.version]));
}

async function lastPosition(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ p: string }>(
    'SELECT last_position AS p FROM bridge_state WHERE id = 1',
  );
  return Number(rows[0]!.p);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`soak: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
