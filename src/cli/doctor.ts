// `orders-live doctor`: checks every link of the pipeline and says what is wrong and how to fix
// it. Each check is independent; a failed link does not hide the others.

import pg from 'pg';
import { LEADER_LOCK_KEY_SQL } from '../bridge/leader-lock.js';
import { backlog } from '../db/event-log.js';
import { migrationStatus } from '../db/migrate.js';
import { pgCode, toError } from '../lib/errors.js';
import type { Logger } from '../log.js';
import { checkBroker } from './doctor-broker.js';

export interface DoctorOptions {
  databaseUrl: string;
  /** The broker's nodes (RABBITMQ_URL): each is checked. */
  rabbitmqUrls: readonly string[];
  exchange: string;
  /** Shown in messages instead of the URLs (passwords hidden). */
  shownDatabaseUrl: string;
  /** Where a running orders-live answers (its /readyz says which broker node each link is on). */
  systemUrl: string;
  log: Logger;
}

export interface Finding {
  ok: boolean;
  /** Warnings do not fail the run. */
  warning?: boolean;
  check: string;
  detail: string;
}

const TRIGGERS = [
  'orders_versioning',
  'orders_capture_insert',
  'orders_capture_update',
  'orders_capture_delete',
  'orders_capture_truncate',
];
const MIGRATE_HINT = 'run "orders-live migrate" (npm run migrate)';
/** A backlog older than this means no bridge is publishing. */
const LAG_WARN_S = 10;

export async function diagnose(options: DoctorOptions): Promise<Finding[]> {
  const findings: Finding[] = [];
  const add = (f: Finding) => findings.push(f);
  const client = new pg.Client({
    connectionString: options.databaseUrl,
    application_name: 'orders-live-doctor',
    connectionTimeoutMillis: 5_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    add({ ok: true, check: 'postgres', detail: `reachable at ${options.shownDatabaseUrl}` });
    await checkDatabase(client, options, add);
  } catch (e) {
    add({ ok: false, check: 'postgres', detail: postgresProblem(e, options.shownDatabaseUrl) });
  } finally {
    await client.end().catch(() => undefined);
  }
  await checkBroker(options, add);
  await checkRunningLinks(options, add);
  return findings;
}

async function checkDatabase(
  client: pg.Client,
  options: DoctorOptions,
  add: (f: Finding) => void,
): Promise<void> {
  const status = await migrationStatus(options.databaseUrl, options.log);
  add(
    status.pending.length === 0
      ? { ok: true, check: 'migrations', detail: `${status.applied.length} applied, none pending` }
      : { ok: false, check: 'migrations', detail: `pending: ${status.pending.join(', ')} — ${MIGRATE_HINT}` },
  );
  const { rows } = await client.query<{ tgname: string; tgenabled: string }>(
    "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = to_regclass('public.orders') AND NOT tgisinternal",
  );
  const present = new Map(rows.map((r) => [r.tgname, r.tgenabled]));
  const missing = TRIGGERS.filter((t) => !present.has(t));
  const disabled = TRIGGERS.filter((t) => present.get(t) === 'D');
  if (missing.length > 0) {
    add({
      ok: false,
      check: 'triggers',
      detail: `missing on orders: ${missing.join(', ')} — changes are not captured; re-create them: "orders-live migrate down --count 2 && orders-live migrate" (keeps no events), or restore them from migrations/`,
    });
  } else if (disabled.length > 0) {
    add({
      ok: false,
      check: 'triggers',
      detail: `disabled: ${disabled.join(', ')} — run ALTER TABLE orders ENABLE TRIGGER ${disabled[0]} (each)`,
    });
  } else {
    add({ ok: true, check: 'triggers', detail: 'capture and versioning triggers present and enabled' });
  }
  await checkNotify(options, add);
  await checkBridge(client, add);
}

async function checkNotify(options: DoctorOptions, add: (f: Finding) => void): Promise<void> {
  const listener = new pg.Client({
    connectionString: options.databaseUrl,
    application_name: 'orders-live-doctor',
  });
  listener.on('error', () => undefined);
  try {
    await listener.connect();
    await listener.query('LISTEN orders_live_doctor');
    const started = performance.now();
    const heard = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2_000);
      listener.once('notification', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    await listener.query("SELECT pg_notify('orders_live_doctor', 'ping')");
    add(
      (await heard)
        ? {
            ok: true,
            check: 'notify',
            detail: `LISTEN/NOTIFY round trip in ${(performance.now() - started).toFixed(1)} ms`,
          }
        : {
            ok: false,
            check: 'notify',
            detail:
              'a NOTIFY did not come back within 2 s: check for a connection pooler in transaction mode between the app and PostgreSQL',
          },
    );
  } catch (e) {
    add({ ok: false, check: 'notify', detail: toError(e).message });
  } finally {
    await listener.end().catch(() => undefined);
  }
}

async function checkBridge(client: pg.Client, add: (f: Finding) => void): Promise<void> {
  const leader = await client.query(`
    SELECT a.application_name, a.client_addr FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND ((l.classid::bigint << 32) | l.objid::bigint) = ${LEADER_LOCK_KEY_SQL}`);
  add(
    leader.rowCount
      ? { ok: true, check: 'bridge', detail: 'a bridge holds the leader lock' }
      : {
          ok: false,
          check: 'bridge',
          detail: 'no bridge leader: start one ("orders-live start --role bridge", or npm start)',
        },
  );
  const { count, lagSeconds: lag } = await backlog(client);
  add(
    count > 0 && (lag ?? 0) > LAG_WARN_S
      ? {
          ok: false,
          check: 'backlog',
          detail: `${count} events unpublished, oldest ${Math.round(lag ?? 0)} s old: is a bridge running and RabbitMQ reachable?`,
        }
      : { ok: true, check: 'backlog', detail: `${count} events waiting to be published` },
  );
  const { rows } = await client.query<{ behind: string }>(
    'SELECT confirmed_through - events_confirmed_through AS behind FROM bridge_state WHERE id = 1',
  );
  const behind = Number(rows[0]?.behind ?? 0);
  add({
    ok: true,
    check: 'integrations',
    detail:
      behind > 0
        ? `${behind} events published to the gateways are not yet on the per-event exchange (it catches up behind them)`
        : 'the per-event exchange has every published event',
  });
}

/** Why PostgreSQL could not be used, and what to do: the server may be up with the database missing. */
function postgresProblem(e: unknown, shownUrl: string): string {
  const err = toError(e);
  const code = pgCode(e);
  if (code === '3D000')
    return `the database of ${shownUrl} does not exist (the server answered): "orders-live start" creates it, or create it yourself (createdb)`;
  if (code === '28P01' || code === '28000')
    return `PostgreSQL refused the login for ${shownUrl} (${err.message}): check the user and password in DATABASE_URL`;
  return `cannot reach ${shownUrl} (${err.message}): start PostgreSQL ("docker compose up -d postgres") or set DATABASE_URL`;
}

/** Which broker node each AMQP link of the process at `systemUrl` is on, from its /readyz. */
async function checkRunningLinks(options: DoctorOptions, add: (f: Finding) => void): Promise<void> {
  let brokers: Record<string, string | null> | undefined;
  try {
    const response = await fetch(`${options.systemUrl}/readyz`, { signal: AbortSignal.timeout(3_000) });
    brokers = ((await response.json()) as { brokers?: Record<string, string | null> }).brokers;
  } catch {
    add({ ok: true, check: 'links', detail: `no orders-live answers at ${options.systemUrl} (not checked)` });
    return;
  }
  if (!brokers) {
    add({
      ok: true,
      check: 'links',
      detail: `the process at ${options.systemUrl} uses no broker (api role only)`,
    });
    return;
  }
  const links = Object.entries(brokers);
  const idle = links.filter(([, node]) => node === null).map(([link]) => link);
  add({
    ok: true,
    // A standby bridge holds no broker connection; a gateway or a leader without one is waiting.
    warning: idle.includes('gateway'),
    check: 'links',
    detail: `at ${options.systemUrl}: ${links.map(([link, node]) => `${link} on ${node ?? 'no node'}`).join(', ')}`,
  });
}
