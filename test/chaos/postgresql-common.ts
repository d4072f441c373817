// Debian's postgresql-common for the tests' own PostgreSQL servers, one cluster at a time:
// create, start, stop, promote, drop, list, and the sweep of a dead run's leftovers. Only clusters
// named `olt_<run pid>_…` are ever touched: never the shared `main`. Every command is an
// asynchronous child process, so the event loop of the test calling it keeps running. Needs root:
// pg_createcluster writes under /etc and /var/lib, and pg_ctl and pg_basebackup run as postgres.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The major version of Debian's PostgreSQL the clusters are made with (the shared server's). */
export const PG_VERSION = process.env.TEST_PG_VERSION ?? '15';
/** `olt_<run pid>_…`: the clusters removePgClustersOfRuns may drop, and no others. */
export const CLUSTER_PREFIX = 'olt_';
export const CONFIG_ROOT = `/etc/postgresql/${PG_VERSION}`;
export const DATA_ROOT = `/var/lib/postgresql/${PG_VERSION}`;
const PG_CTL = `/usr/lib/postgresql/${PG_VERSION}/bin/pg_ctl`;
/** pg_basebackup of a busy primary, or a crash recovery, can take a while on 2 cores. */
const COMMAND_TIMEOUT_MS = 60_000;

export type StopMode = 'fast' | 'immediate';

/** What `npm test` says when the tests cannot make clusters (scripts/check-test-setup.ts); null when they can. */
export function postgresqlCommonProblem(): string | null {
  if (!existsSync('/usr/bin/pg_createcluster') || !existsSync(PG_CTL))
    return `Debian's postgresql-common and PostgreSQL ${PG_VERSION} not found (the tests' own PostgreSQL clusters, test/chaos/pg-cluster.ts, need pg_createcluster and ${PG_CTL}): install postgresql-${PG_VERSION}, or set TEST_PG_VERSION`;
  if (process.getuid?.() !== 0)
    return 'the tests make PostgreSQL clusters of their own (test/chaos/pg-cluster.ts) and need root for it';
  return null;
}

/**
 * pg_createcluster on `port`, trust authentication, listening on 127.0.0.1 only (the port was
 * found free there, not on ::1), started by hand only (a machine that boots does not start a test's
 * leftovers). With `dataDir`, an existing data directory (a base backup) is taken as the cluster,
 * with no initdb. Without it, initdb --no-sync: its fsync guards against an OS crash, which no
 * test makes.
 */
export async function createCluster(name: string, port: number, dataDir?: string): Promise<void> {
  const common = [PG_VERSION, name, '--port', String(port), '--start-conf=manual', '--quiet'];
  await command(
    'pg_createcluster',
    dataDir ? [...common, '-d', dataDir] : [...common, '--', '--auth=trust', '--no-sync'],
  );
  // Not `pg_createcluster -o`: it writes 127.0.0.1 unquoted, which the server cannot parse.
  await writeConf(name, 'olt-node.conf', "listen_addresses = '127.0.0.1'\n");
}

/** Writes `file` into the cluster's conf.d (its own: a base backup does not copy it). */
export async function writeConf(name: string, file: string, text: string): Promise<void> {
  await writeFile(join(CONFIG_ROOT, name, 'conf.d', file), text);
}

/**
 * Starts the server and waits until it is ready (pg_ctl -w). pg_ctl itself, with the command
 * line pg_ctlcluster builds: `pg_ctlcluster start` sleeps at least 2 s (0.5 s polls, then three
 * psql probes 0.5 s apart) for a server that is up in ~0.3 s.
 */
export async function startCluster(name: string): Promise<void> {
  const config = join(CONFIG_ROOT, name, 'postgresql.conf');
  const log = logFile(name);
  const args = ['start', '-w', '-t', '60', '-s', '-D', join(DATA_ROOT, name), '-l', log];
  await asPostgres(PG_CTL, [...args, '-o', `-c config_file=${config}`]).catch(async (e: unknown) => {
    const tail = await readFile(log, 'utf8').then(
      (text) => text.slice(-2000),
      () => '',
    );
    throw new Error(`${(e as Error).message}\n${log}:\n${tail}`);
  });
}

/** `immediate`: every server process killed, no checkpoint (a crash); `fast`: a clean shutdown. */
export async function stopCluster(name: string, mode: StopMode): Promise<void> {
  await ctlcluster(name, 'stop', '-m', mode);
}

/** Ends recovery; pg_ctl waits until the server takes writes. */
export async function promoteCluster(name: string): Promise<void> {
  await ctlcluster(name, 'promote');
}

/** pg_dropcluster --stop; whatever it could not remove goes too, its server killed first. */
export async function dropCluster(name: string): Promise<void> {
  if (!(await exists(join(CONFIG_ROOT, name))) && !(await exists(join(DATA_ROOT, name)))) return;
  await command('pg_dropcluster', ['--stop', PG_VERSION, name]).catch(() => undefined);
  await killPostmaster(name);
  for (const path of [join(CONFIG_ROOT, name), join(DATA_ROOT, name), logFile(name)])
    await rm(path, { recursive: true, force: true });
}

/**
 * Drops the test clusters `which` names: registered ones, and the directories of one whose
 * pg_createcluster was cut short. Returns their names.
 */
export async function removeClusters(which: (name: string) => boolean): Promise<string[]> {
  const entries = await Promise.all([CONFIG_ROOT, DATA_ROOT].map((d) => readdir(d).catch(() => [])));
  const names = [...new Set(entries.flat())].filter((n) => n.startsWith(CLUSTER_PREFIX) && which(n));
  await Promise.all(names.map(dropCluster));
  return names.sort();
}

/**
 * Drops the clusters of runs that are over (`isOver(pid)`: the run's pid is gone): a killed run
 * leaves its servers running, holding ports and memory. Returns their names.
 */
export async function removePgClustersOfRuns(isOver: (pid: number) => boolean): Promise<string[]> {
  return removeClusters((name) => {
    const pid = runPidOf(name);
    return pid !== null && isOver(pid);
  });
}

/** The run pid in a test cluster's name; null for any other cluster (`main`). */
export function runPidOf(name: string): number | null {
  if (!name.startsWith(CLUSTER_PREFIX)) return null;
  const pid = Number(name.slice(CLUSTER_PREFIX.length).split('_')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

export interface ClusterListing {
  name: string;
  port: number;
  running: boolean;
}

/** Every cluster of PG_VERSION on the machine, as pg_lsclusters lists them. */
export async function listPgClusters(): Promise<ClusterListing[]> {
  const listed = JSON.parse(await command('pg_lsclusters', ['--json'])) as {
    version: number | string;
    cluster: string;
    port: string;
    running: number;
  }[];
  return listed
    .filter((c) => String(c.version) === PG_VERSION)
    .map((c) => ({ name: c.cluster, port: Number(c.port), running: c.running === 1 }));
}

/** `file args…` as the postgres user (pg_ctl and pg_basebackup refuse to run as root). */
export function asPostgres(file: string, args: string[]): Promise<string> {
  return command('runuser', ['-u', 'postgres', '--', file, ...args]);
}

function logFile(name: string): string {
  return `/var/log/postgresql/postgresql-${PG_VERSION}-${name}.log`;
}

/** SIGKILL for the postmaster in the data directory's pid file, if it runs and is that cluster's. */
async function killPostmaster(name: string): Promise<void> {
  const dataDir = join(DATA_ROOT, name);
  try {
    const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    if ((await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(dataDir)) process.kill(pid, 'SIGKILL');
  } catch {
    // no pid file, or the process is gone
  }
}

async function ctlcluster(name: string, ...args: string[]): Promise<void> {
  // Never through systemctl: these clusters are no systemd units.
  await command('pg_ctlcluster', ['--skip-systemctl-redirect', PG_VERSION, name, ...args]);
}

async function command(file: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(file, args, {
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
      timeout: COMMAND_TIMEOUT_MS,
    });
    return stdout;
  } catch (e) {
    const { stdout, stderr, message } = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')}: ${`${stderr ?? ''}${stdout ?? ''}`.trim() || message}`);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
