// Global setup: migrate one template database per test run; every test file clones it
// (test/helpers/db.ts). Databases left by runs that died are dropped here, and so are the broker
// nodes and HAProxy processes of the broker-cluster fault matrix (test/chaos/broker-cluster.chaos.ts)
// and the tests' own PostgreSQL clusters (test/chaos/pg-cluster.ts), which run outside the test
// process and carry the run's pid in their names as the databases do.

import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/log.js';
import { removeHaproxyOfRuns } from '../chaos/haproxy.js';
import { removePgClustersOfRuns } from '../chaos/postgresql-common.js';
import { removeBrokerNodesOfRuns } from '../chaos/rabbit-cluster.js';
import { ADMIN_URL, databaseUrl, TEST_DB_PREFIX } from '../helpers/names.js';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
    /** The vitest run's pid, in the names of what a run starts outside its processes. */
    runPid: number;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const admin = new pg.Client({ connectionString: ADMIN_URL, application_name: 'orders-live-test-setup' });
  await admin.connect();
  try {
    await dropDatabasesOfDeadRuns(admin);
    await removeLeftovers((pid) => pid !== process.pid && !isAlive(pid));
    const template = `${TEST_DB_PREFIX}${process.pid}_template`;
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(template)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(template)}`);
    await migrate(databaseUrl(template), { direction: 'up', log: createLogger('warn') });
    project.provide('templateDatabase', template);
    project.provide('runPid', process.pid);
  } finally {
    await admin.end();
  }
  return async () => {
    const client = new pg.Client({ connectionString: ADMIN_URL });
    await client.connect();
    try {
      await dropDatabases(client, (name) => name.startsWith(`${TEST_DB_PREFIX}${process.pid}_`));
    } finally {
      await client.end();
    }
    // The suite stops its own; these are what a test worker that died could not.
    await removeLeftovers((pid) => pid === process.pid);
  };
}

/**
 * Broker nodes, HAProxy processes and PostgreSQL clusters of the runs `isOver` names (by the pid
 * in their names).
 */
async function removeLeftovers(isOver: (pid: number) => boolean): Promise<void> {
  const which = (pid: number) => Number.isInteger(pid) && pid > 0 && isOver(pid);
  const nodes = await removeBrokerNodesOfRuns(which);
  const proxies = removeHaproxyOfRuns(which);
  const clusters = await removePgClustersOfRuns(which);
  const removed = [...nodes, ...proxies, ...clusters];
  if (removed.length > 0)
    console.warn(`test setup: removed broker nodes, proxies and clusters left behind: ${removed.join(', ')}`);
}

async function dropDatabasesOfDeadRuns(admin: pg.Client): Promise<void> {
  await dropDatabases(admin, (name) => {
    const pid = Number(name.slice(TEST_DB_PREFIX.length).split('_')[0]);
    return Number.isInteger(pid) && pid !== process.pid && !isAlive(pid);
  });
}

async function dropDatabases(admin: pg.Client, which: (name: string) => boolean): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname DESC`,
    [`${TEST_DB_PREFIX}%`],
  );
  // Clones first (descending order puts "_template" after its clones' numbers only by luck, so
  // drop everything that is not a template before the templates).
  const names = rows.map((r) => r.datname).filter(which);
  const ordered = [
    ...names.filter((n) => !n.endsWith('_template')),
    ...names.filter((n) => n.endsWith('_template')),
  ];
  for (const name of ordered)
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
