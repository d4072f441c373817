// The private PostgreSQL of test/chaos/pg-cluster.ts, proven before fault scenarios build on it:
// a crash keeps what was committed and nothing else; an asynchronous standby streams, lacks what
// it never received, and promoted behind the re-targeted proxy takes the writes; a synchronous one
// holds every commit before COMMIT returns. Afterwards no cluster of this file is left, and the
// shared server on 5432 runs as before.

import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPgCluster, type PgCluster, type PgClusterOptions, type PgNode } from '../chaos/pg-cluster.js';
import { type ClusterListing, listPgClusters, runPidOf } from '../chaos/postgresql-common.js';
import { startProxy, type TcpProxy } from '../chaos/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

const runPid = inject('runPid');
const clusters: PgCluster[] = [];
const proxies: TcpProxy[] = [];
const clients: pg.Client[] = [];

async function makeCluster(options: Omit<PgClusterOptions, 'runPid'> = {}): Promise<PgCluster> {
  const cluster = await createPgCluster({ runPid, ...options });
  clusters.push(cluster);
  return cluster;
}

/** A connection kept open across faults: its errors are expected, its end is awaited. */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'orders-live-test' });
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  return client;
}

async function sql<T = Record<string, unknown>>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'orders-live-test' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Resolves when the connection is gone (events.once would reject on the 'error' that comes first). */
const ended = (client: pg.Client) => new Promise<void>((resolve) => client.once('end', () => resolve()));
const ids = async (url: string) =>
  (await sql<{ id: number }>(url, 'SELECT id FROM t ORDER BY id')).map((r) => r.id);
const inRecovery = async (url: string) =>
  (await sql<{ r: boolean }>(url, 'SELECT pg_is_in_recovery() AS r'))[0]!.r;
const proxyUrl = (proxy: TcpProxy, database = 'postgres') =>
  `postgres://postgres@127.0.0.1:${proxy.port}/${database}`;

/** The query of migration 0011's order_events_timeline() (this database is not migrated). */
const TIMELINE_QUERY = (() => {
  const migration = readFileSync(
    new URL('../../migrations/1764000000011_log-epochs.sql', import.meta.url),
    'utf8',
  );
  const body = /CREATE FUNCTION order_events_timeline\(\)[^$]*\$\$(.*?)\$\$;/s.exec(migration)?.[1];
  if (!body) throw new Error('order_events_timeline() not found in migration 0011');
  return `${body.trim()} AS t`;
})();
/** The server's timeline as the log's epochs read it (invariant 9). */
const timeline = async (url: string) => (await sql<{ t: number }>(url, TIMELINE_QUERY))[0]!.t;

/** The clusters that are no test's (`main` on 5432 here): they must be as they were. */
const othersThan = (clusters: ClusterListing[]) => clusters.filter((c) => runPidOf(c.name) === null);
let before: ClusterListing[];

beforeAll(async () => {
  before = othersThan(await listPgClusters());
});

afterAll(async () => {
  const names = new Set(clusters.flatMap((c) => c.nodes.map((n) => n.name)));
  for (const client of clients) await client.end().catch(() => undefined);
  for (const proxy of proxies) await proxy.close();
  await Promise.all(clusters.map((c) => c.close()));
  const after = await listPgClusters();
  // Clusters of other files or runs may come and go meanwhile; none of this file's may stay.
  expect(after.filter((c) => names.has(c.name))).toEqual([]);
  expect(othersThan(after)).toEqual(before);
});

describe('a primary', () => {
  it('crashed with stop -m immediate, starts again with every committed row and no other', async () => {
    const cluster = await makeCluster();
    const url = await cluster.migrate();
    await sql(
      url,
      "INSERT INTO orders (customer_name, product_name) SELECT 'c' || i, 'p' FROM generate_series(1, 50) i",
    );
    const open = await connect(url);
    await open.query('BEGIN');
    await open.query("INSERT INTO orders (customer_name, product_name) VALUES ('never', 'committed')");
    const cut = ended(open);

    await cluster.crash();
    await cut;
    expect(cluster.primary.running).toBe(false);
    await expect(sql(url, 'SELECT 1')).rejects.toThrow(/ECONNREFUSED/);

    await cluster.start();
    const [counts] = await sql(
      url,
      'SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM order_events)::int AS events',
    );
    expect(counts).toEqual({ orders: 50, events: 50 });
    // It takes writes again, captured as before.
    await sql(url, "INSERT INTO orders (customer_name, product_name) VALUES ('after', 'restart')");
    expect((await sql(url, 'SELECT count(*)::int AS n FROM order_events'))[0]).toEqual({ n: 51 });
  });
});

describe('an asynchronous standby', () => {
  let cluster: PgCluster;
  let proxy: TcpProxy;

  it('streams what the primary commits', async () => {
    cluster = await makeCluster({ standby: 'async' });
    const [primary, standby] = cluster.nodes as [PgNode, PgNode];
    proxy = await startProxy(primary.port);
    proxies.push(proxy);
    await sql(proxyUrl(proxy), 'CREATE TABLE t (id int PRIMARY KEY)');
    await sql(proxyUrl(proxy), 'INSERT INTO t SELECT generate_series(1, 100)');
    const replication = 'SELECT state, sync_state FROM pg_stat_replication WHERE application_name = $1';
    const [link] = await waitFor(
      async () => {
        const rows = await sql(primary.url(), replication, [standby.name]);
        return rows[0]?.state === 'streaming' ? rows : null;
      },
      { what: `${standby.name} streaming` },
    );
    expect(link).toEqual({ state: 'streaming', sync_state: 'async' });
    await cluster.caughtUp(standby);
    expect(await ids(standby.url())).toHaveLength(100);
    expect(await inRecovery(standby.url())).toBe(true);
  });

  it('the proxy, re-targeted, cuts the connections it carries and sends new ones to the new target', async () => {
    const [primary, standby] = cluster.nodes as [PgNode, PgNode];
    const held = await connect(proxyUrl(proxy));
    expect((await held.query('SELECT pg_is_in_recovery() AS r')).rows).toEqual([{ r: false }]);
    const cut = ended(held);
    proxy.retarget(standby.port);
    await cut;
    expect(await inRecovery(proxyUrl(proxy))).toBe(true);
    proxy.retarget(primary.port);
    expect(await inRecovery(proxyUrl(proxy))).toBe(false);
  });

  it('promoted after the primary crashed, lacks what it never received and takes the writes behind the proxy', async () => {
    const [primary, standby] = cluster.nodes as [PgNode, PgNode];
    const timelineBefore = await timeline(proxyUrl(proxy));
    // Row 101 reaches the primary only: the standby is down, then the primary crashes.
    await cluster.crash(standby);
    await sql(proxyUrl(proxy), 'INSERT INTO t VALUES (101)');
    await cluster.crash(primary);
    await cluster.start(standby);
    await cluster.promote(standby);
    proxy.retarget(standby.port);

    expect(cluster.primary).toBe(standby);
    expect(primary.role).toBe('deposed');
    expect(await inRecovery(proxyUrl(proxy))).toBe(false);
    // The new timeline shows at once, before the checkpoint pg_control_checkpoint() waits for.
    expect(await timeline(proxyUrl(proxy))).toBe(timelineBefore + 1);
    expect(await ids(proxyUrl(proxy))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await sql(proxyUrl(proxy), 'INSERT INTO t VALUES (101), (102)');
    expect((await ids(standby.url())).slice(-2)).toEqual([101, 102]);
  });
});

describe('a synchronous standby', () => {
  it("holds a commit before COMMIT returns: the primary's commit waits while it is down, and none is lost by a failover", async () => {
    const cluster = await makeCluster({ standby: 'sync' });
    const [primary, standby] = cluster.nodes as [PgNode, PgNode];
    const replication = await sql(primary.url(), 'SELECT sync_state FROM pg_stat_replication');
    expect(replication).toEqual([{ sync_state: 'sync' }]);
    await sql(primary.url(), 'CREATE TABLE t (id int PRIMARY KEY)');

    // With the standby down, a commit sits in SyncRep until the standby is back.
    await cluster.crash(standby);
    const writer = await connect(primary.url());
    const [{ pid }] = (await writer.query('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
    const committed = writer.query('INSERT INTO t VALUES (0)');
    const waiting = "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'SyncRep'";
    await waitFor(async () => (await sql(primary.url(), waiting, [pid])).length === 1, {
      what: 'the commit waiting for the standby',
    });
    await cluster.start(standby);
    await committed;

    // Every COMMIT that returned is on the standby: the primary crashes right after the last.
    // (On its disk: synchronous_commit = on waits for the flush, not for the replay that makes a
    // row visible to a read on the standby; `remote_apply` would.)
    for (let id = 1; id <= 50; id++) await writer.query('INSERT INTO t VALUES ($1)', [id]);
    await cluster.crash(primary);
    await cluster.promote(standby);
    expect(await ids(standby.url())).toEqual(Array.from({ length: 51 }, (_, i) => i));
  });
});
