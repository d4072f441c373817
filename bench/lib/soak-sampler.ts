// One soak sample: each process's RSS and open files from /proc, heap used and event-loop delay
// p99 from its /metrics (prom-client resets the delay histogram at every scrape, so the p99 is the
// last interval's); PostgreSQL's connections to the soak's database; RabbitMQ's connections,
// channels and queues of the soak's exchange (rabbitmqctl, the broker has no management plugin
// here). Asynchronous throughout: nothing here blocks the writers in the same process.

import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import type pg from 'pg';
import { readProc } from './proc-stats.js';
import { metricValue, scrapeMetrics } from './prometheus.js';
import type { ProcessSample } from './soak-report.js';

const run = promisify(execFile);

export interface Sampled {
  name: string;
  pid: number;
  /** An orders-live process: its /metrics. Absent: the caller supplies heap and delay. */
  url?: string;
}

export async function sampleProcess(
  p: Sampled,
): Promise<Omit<ProcessSample, 'heapUsedBytes' | 'loopDelayP99Ms'> & Partial<ProcessSample>> {
  const { rssBytes } = readProc(p.pid);
  const openFds = (await readdir(`/proc/${p.pid}/fd`)).length;
  if (!p.url) return { rssBytes, openFds };
  const m = await scrapeMetrics(p.url);
  return {
    rssBytes,
    openFds,
    heapUsedBytes: metricValue(m, 'orders_live_nodejs_heap_size_used_bytes'),
    loopDelayP99Ms: metricValue(m, 'orders_live_nodejs_eventloop_lag_p99_seconds') * 1000,
  };
}

export async function databaseConnections(pool: pg.Pool, database: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
    [database],
  );
  return rows[0]!.n;
}

/** The soak's own objects on the broker: connections named after its exchange, their channels,
 * and the queues bound to its exchanges. */
export async function brokerCounts(
  exchange: string,
): Promise<{ connections: number; channels: number; queues: number }> {
  const [connections, bindings] = await Promise.all([
    run('rabbitmqctl', ['list_connections', '-q', '--no-table-headers', 'channels', 'client_properties']),
    run('rabbitmqctl', [
      'list_bindings',
      '-q',
      '--no-table-headers',
      'source_name',
      'destination_name',
      'destination_kind',
    ]),
  ]);
  let conns = 0;
  let channels = 0;
  for (const line of connections.stdout.split('\n')) {
    if (!line.includes(exchange)) continue;
    conns++;
    channels += Number(line.split('\t')[0]) || 0;
  }
  const queues = new Set<string>();
  for (const line of bindings.stdout.split('\n')) {
    const [source, destination, kind] = line.split('\t');
    if (kind === 'queue' && source?.startsWith(exchange)) queues.add(destination!);
  }
  return { connections: conns, channels, queues: queues.size };
}
