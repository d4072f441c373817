// PostgreSQL of the test's own, for the faults the shared server on 5432 must never suffer: a
// primary and standbys streaming from it (synchronous or not), on free ports, crashed with
// `stop -m immediate`, started again, promoted, dropped. Node names carry the pid of the vitest
// run (`olt_<pid>_<suffix>_n1`): a later run drops what a dead run left (removePgClustersOfRuns,
// postgresql-common.ts, from the global setup). Give the system one address that survives a
// failover with a proxy (tcp-proxy.ts, `retarget`). On the 2-core box (medians of 5): a primary
// 1.9 s, a standby 1.5 s, a crash 0.2 s and the start after it 0.5 s, a promotion 0.2 s, dropping
// three nodes 1.2 s.

import { chown, copyFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { ensureDatabase, migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/log.js';
import { randomSuffix } from '../helpers/names.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from './free-port.js';
import {
  asPostgres,
  CLUSTER_PREFIX,
  CONFIG_ROOT,
  createCluster,
  DATA_ROOT,
  dropCluster,
  promoteCluster,
  removeClusters,
  type StopMode,
  startCluster,
  stopCluster,
  writeConf,
} from './postgresql-common.js';

const READY_TIMEOUT_MS = 30_000;

/**
 * `deposed`: a primary whose standby was promoted. Nothing rewinds it: started again it is a
 * second primary (split brain), which a test may want.
 */
export type PgRole = 'primary' | 'standby' | 'deposed';

export interface PgNode {
  /** The cluster's name, `olt_<run pid>_<suffix>_n1`; a standby's application_name too. */
  readonly name: string;
  /** `n1`, `n2`, …: the node's place in the cluster, for reports. */
  readonly label: string;
  /** Its TCP port on 127.0.0.1; the same across restarts. */
  readonly port: number;
  readonly role: PgRole;
  readonly running: boolean;
  /** `postgres://postgres@127.0.0.1:<port>/<database>` (trust authentication). */
  url(database?: string): string;
}

export interface PgCluster {
  /** The node that takes writes: the first one, until a standby is promoted. */
  readonly primary: PgNode;
  readonly nodes: readonly PgNode[];
  /** A standby streamed from the primary (pg_basebackup); `sync`: the primary's commits wait for it. */
  addStandby(options?: { sync?: boolean }): Promise<PgNode>;
  /**
   * Creates `database` on the primary when missing and applies the project's migrations.
   * @default database 'orders_live'
   * @returns its URL on the primary
   */
  migrate(database?: string): Promise<string>;
  /** `stop -m immediate`: every process killed, no checkpoint; the next start recovers from WAL. */
  crash(node?: PgNode): Promise<void>;
  /** `stop -m fast`: a clean shutdown. */
  stop(node?: PgNode): Promise<void>;
  /** Starts a stopped node and waits until it accepts connections (a standby: read-only ones). */
  start(node?: PgNode): Promise<void>;
  /** A crash, then a start. */
  restart(node?: PgNode): Promise<void>;
  /** Promotes a standby and waits until it takes writes; it becomes the primary, the old one `deposed`. */
  promote(standby: PgNode): Promise<void>;
  /** Waits until the standby has replayed all the primary had written when this was called. */
  caughtUp(standby: PgNode): Promise<void>;
  /** Stops every node and drops its cluster (configuration, data, log). Idempotent. */
  close(): Promise<void>;
}

export interface PgClusterOptions {
  /** The vitest run's pid (`inject('runPid')`), in every node's name. */
  runPid: number;
  /** A standby made with the primary, synchronous or not. @default none */
  standby?: 'sync' | 'async';
}

interface NodeState extends PgNode {
  role: PgRole;
  running: boolean;
  /** Names of the standbys this node's commits wait for, while it is the primary. */
  readonly syncStandbys: string[];
}

/** A primary (node n1), and the standby the options ask for, started. */
export async function createPgCluster(options: PgClusterOptions): Promise<PgCluster> {
  const group = `${CLUSTER_PREFIX}${options.runPid}_${randomSuffix()}`;
  const nodes: NodeState[] = [];
  let primary: NodeState;
  let closed = false;
  const state = (node: PgNode | undefined) => (node ?? primary) as NodeState;
  const nextNode = async (role: PgRole) => {
    const node = newNode(`${group}_n${nodes.length + 1}`, await freePort(), role);
    nodes.push(node);
    return node;
  };

  const cluster: PgCluster = {
    get primary() {
      return primary;
    },
    nodes,
    async addStandby({ sync = false } = {}) {
      const standby = await nextNode('standby');
      await makeStandby(primary, standby);
      if (sync) await makeSynchronous(primary, standby);
      return standby;
    },
    migrate: (database = 'orders_live') => migrateDatabase(primary.url(database)),
    crash: (node) => stopNode(state(node), 'immediate'),
    stop: (node) => stopNode(state(node), 'fast'),
    start: (node) => startNode(state(node)),
    async restart(node) {
      await stopNode(state(node), 'immediate');
      await startNode(state(node));
    },
    async promote(node) {
      await promoteNode(state(node));
      primary.role = 'deposed';
      primary = state(node);
    },
    caughtUp: (node) => replayed(primary, state(node)),
    async close() {
      if (closed) return;
      closed = true;
      // Killed first: pg_dropcluster would stop them with a checkpoint.
      await Promise.all(nodes.map((n) => (n.running ? stopNode(n, 'immediate').catch(() => null) : null)));
      await Promise.all(nodes.map((n) => dropCluster(n.name)));
    },
  };

  try {
    primary = await nextNode('primary');
    await createCluster(primary.name, primary.port);
    await startNode(primary);
    if (options.standby) await cluster.addStandby({ sync: options.standby === 'sync' });
  } catch (e) {
    closed = true;
    await removeClusters((name) => name.startsWith(`${group}_`));
    throw e;
  }
  return cluster;
}

function newNode(name: string, port: number, role: PgRole): NodeState {
  return {
    name,
    label: name.slice(name.lastIndexOf('_') + 1),
    port,
    role,
    running: false,
    syncStandbys: [],
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
  };
}

/**
 * pg_basebackup into an empty directory that pg_createcluster then takes as an existing cluster
 * (moving the configuration to /etc, setting port, paths and cluster_name): no initdb whose result
 * would be thrown away (saves the ~1.5 s of one). The configuration is the primary's
 * postgresql.conf; its conf.d, where the synchronous standbys are named, stays behind.
 */
async function makeStandby(primary: NodeState, node: NodeState): Promise<void> {
  const dataDir = join(DATA_ROOT, node.name);
  // DATA_ROOT is root's: the directory is made here, the backup fills it as postgres.
  const { uid, gid } = await stat(join(DATA_ROOT, primary.name));
  await mkdir(dataDir, { mode: 0o700 });
  await chown(dataDir, uid, gid);
  // --checkpoint=fast: the default spreads the starting checkpoint over minutes on a busy primary.
  // --no-sync, as initdb's for a primary. -R: standby.signal, and a primary_conninfo with this
  // application_name, the one synchronous_standby_names names.
  const source = `host=127.0.0.1 port=${primary.port} user=postgres application_name=${node.name}`;
  await asPostgres('pg_basebackup', [
    ...['-d', source, '-D', dataDir, '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync'],
  ]);
  for (const file of ['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf']) {
    await copyFile(join(CONFIG_ROOT, primary.name, file), join(dataDir, file));
    await chown(join(dataDir, file), uid, gid);
  }
  await createCluster(node.name, node.port, dataDir);
  await startNode(node);
}

/** Names `standby` in the primary's synchronous_standby_names and waits until it is `sync`. */
async function makeSynchronous(primary: NodeState, standby: NodeState): Promise<void> {
  primary.syncStandbys.push(standby.name);
  const names = primary.syncStandbys.map((n) => `"${n}"`).join(', ');
  await writeConf(
    primary.name,
    'olt-synchronous.conf',
    `synchronous_standby_names = '${names}'\nsynchronous_commit = on\n`,
  );
  await sql(primary.url(), 'SELECT pg_reload_conf()');
  const query = 'SELECT sync_state FROM pg_stat_replication WHERE application_name = $1';
  await waitFor(async () => (await sql(primary.url(), query, [standby.name]))[0]?.sync_state === 'sync', {
    timeoutMs: READY_TIMEOUT_MS,
    what: `${standby.name} a synchronous standby of ${primary.name}`,
  });
}

async function startNode(node: NodeState): Promise<void> {
  await startCluster(node.name);
  node.running = true;
  await waitFor(async () => (await sql(node.url(), 'SELECT 1 AS ok'))[0]?.ok, {
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 50,
    what: `${node.name} accepting connections on ${node.port}`,
  });
}

async function stopNode(node: NodeState, mode: StopMode): Promise<void> {
  await stopCluster(node.name, mode);
  node.running = false;
}

async function promoteNode(standby: NodeState): Promise<void> {
  if (standby.role !== 'standby') throw new Error(`${standby.name} is ${standby.role}, not a standby`);
  await promoteCluster(standby.name);
  await waitFor(async () => (await sql(standby.url(), 'SELECT NOT pg_is_in_recovery() AS ok'))[0]?.ok, {
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 50,
    what: `${standby.name} out of recovery`,
  });
  standby.role = 'primary';
}

async function replayed(primary: NodeState, standby: NodeState): Promise<void> {
  const [row] = await sql(primary.url(), 'SELECT pg_current_wal_lsn()::text AS lsn');
  const lsn = row!.lsn as string;
  const query = 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok';
  await waitFor(async () => (await sql(standby.url(), query, [lsn]))[0]?.ok, {
    timeoutMs: READY_TIMEOUT_MS,
    what: `${standby.name} replaying up to ${lsn}`,
  });
}

async function migrateDatabase(url: string): Promise<string> {
  const log = createLogger('warn');
  await ensureDatabase(url, log);
  await migrate(url, { direction: 'up', log });
  return url;
}

/** One statement on a connection of its own. */
async function sql(url: string, text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'orders-live-test-pg-cluster' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}
