// The product shell from a user's side: `start`, `tail`, `demo`, `doctor` and a graceful stop,
// each run as the real CLI in a child process.

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useExchange } from '../helpers/amqp.js';
import { useTestDatabase } from '../helpers/db.js';
import { type CliProcess, cliEnv, startCli } from '../helpers/process.js';
import { connectClient, span } from '../helpers/socket-client.js';
import { waitFor } from '../helpers/wait.js';

const db = useTestDatabase();
const exchange = useExchange();
let pool: pg.Pool;
const env = () => cliEnv(db, exchange);

beforeAll(() => {
  pool = db.pool({ application_name: 'psql' });
});
afterAll(() => pool.end());

async function startSystem(port = 0): Promise<{ proc: CliProcess; url: string }> {
  const proc = startCli(['start', '--port', String(port)], env());
  const line = await proc.waitForLog({ msg: 'orders-live started' });
  await proc.waitForLog({ msg: 'became leader' });
  return { proc, url: String(line.url) };
}

async function runToEnd(args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 30_000) {
  const proc = startCli(args, { ...env(), ...extraEnv });
  const exit = await Promise.race([
    proc.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${args.join(' ')} still running`)), timeoutMs),
    ),
  ]);
  return { code: exit.code, output: proc.output() };
}

async function unpublished(): Promise<number> {
  const { rows } = await pool.query('SELECT events::int AS n FROM order_events_backlog()');
  return rows[0].n;
}

describe('start', () => {
  it('exits non-zero with one clear line when PostgreSQL cannot be reached', async () => {
    const { code, output } = await runToEnd(['start'], {
      DATABASE_URL: 'postgres://app:s3cret@127.0.0.1:1/orders',
    });
    expect(code).toBe(1);
    expect(output.trim()).toBe(
      'orders-live: cannot reach PostgreSQL at postgres://app:***@127.0.0.1:1/orders (ECONNREFUSED): start it with "docker compose up -d postgres" (or "pg_ctlcluster 15 main start"), or point DATABASE_URL at a running server',
    );
  });

  it('exits non-zero with one clear line when RabbitMQ cannot be reached', async () => {
    const { code, output } = await runToEnd(['start'], { RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:1' });
    expect(code).toBe(1);
    expect(output).toMatch(
      /^orders-live: cannot reach RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1 \(ECONNREFUSED\): start it with/,
    );
    expect(output).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('shows a person a banner and readable log lines (LOG_FORMAT=pretty, as on a terminal)', async () => {
    const proc = startCli(['start', '--port', '0'], { ...env(), LOG_FORMAT: 'pretty' });
    try {
      const leaderLine = /^\d\d:\d\d:\d\d\.\d{3} {2}INFO {3}bridge\/leader-lock {2}became leader/m;
      // The bridge takes its lock in the background: its line may follow the banner.
      await waitFor(() => proc.stdout().includes('Ctrl-C stops it.') && leaderLine.test(proc.stdout()), {
        timeoutMs: 30_000,
        what: 'the banner and the bridge becoming leader',
      });
      const out = proc.stdout();
      expect(out).toContain('orders-live is running: api, bridge, gateway');
      expect(out).toMatch(/ {2}dashboard {2}http:\/\/127\.0\.0\.1:\d+\//);
      expect(out).toMatch(/ {2}socket {5}ws:\/\/127\.0\.0\.1:\d+\/socket\.io/);
      expect(out).toContain(`database   ${db.url.replace(/:[^:@/]*@/, ':***@')}`);
      expect(out).toMatch(leaderLine);
      expect(out).not.toMatch(/^\{"level"/m);
    } finally {
      await proc.kill('SIGTERM');
    }
  });

  it('names every bad variable at once', async () => {
    const { code, output } = await runToEnd(['start'], { PORT: 'eighty', GATEWAY_PREFETCH: '0' });
    expect(code).toBe(1);
    expect(output).toContain('PORT must be');
    expect(output).toContain('GATEWAY_PREFETCH must be');
  });

  it('stops on SIGTERM under load with exit 0, and a restart loses nothing', async () => {
    const { proc, url } = await startSystem();
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await pool.query(
          "INSERT INTO orders (customer_name, product_name) SELECT 'c', 'p' FROM generate_series(1, 50)",
        );
      }
    })();
    await waitFor(
      async () => (await pool.query('SELECT confirmed_through::int AS n FROM bridge_state')).rows[0].n > 500,
      {
        what: 'load flowing',
      },
    );
    const stoppedAt = Date.now();
    expect(await proc.kill('SIGTERM')).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    writing = false;
    await writer;

    const port = new URL(url).port;
    const again = await startSystem(Number(port));
    await waitFor(async () => (await unpublished()) === 0, {
      timeoutMs: 30_000,
      what: 'the restarted bridge to publish the rest',
    });
    const { rows } = await pool.query(
      'SELECT (SELECT count(*) FROM order_events)::int AS n, (SELECT max(position) FROM order_event_log)::int AS max',
    );
    expect(rows[0].max).toBe(rows[0].n);
    const client = connectClient(again.url, { since: 0 });
    try {
      await client.waitReady(20_000);
      // `ready` comes at the restarted gateway's head, which may still be catching up with the
      // log: the rest follows live. Every position once, in order, either way.
      await client.waitPosition(rows[0].n);
      expect(client.positions()).toEqual(span(1, rows[0].n));
    } finally {
      client.close();
      await again.proc.kill('SIGTERM');
    }
  });
});

describe('tail, demo and doctor against a running system', () => {
  let system: { proc: CliProcess; url: string };
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system.proc.kill('SIGTERM');
  });

  it('tail prints live events and resumes with --since', async () => {
    const tail = startCli(['tail', '--json', '--url', system.url], env());
    await waitFor(() => tail.output().includes('live at position'), { what: 'tail to be live' });
    await pool.query(
      "INSERT INTO orders (customer_name, product_name) VALUES ('Tailed', 'p1'), ('Tailed', 'p2')",
    );
    await pool.query("UPDATE orders SET status = 'shipped' WHERE customer_name = 'Tailed'");
    const lines = () =>
      tail
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { position: number; op: string; order: { customer_name: string } });
    await waitFor(() => lines().filter((e) => e.order?.customer_name === 'Tailed').length === 4, {
      what: 'four tailed events',
    });
    expect(await tail.kill('SIGINT')).toBe(0);
    const seen = lines().filter((e) => e.order?.customer_name === 'Tailed');
    expect(seen.map((e) => e.op)).toEqual(['insert', 'insert', 'update', 'update']);

    const resumed = startCli(['tail', '--since', String(seen[1]!.position), '--url', system.url], env());
    await waitFor(() => resumed.output().includes('live at position'), { what: 'resumed tail to be live' });
    const text = resumed.output();
    expect(text).toContain(`#${seen[2]!.position} `);
    expect(text).toContain(`#${seen[3]!.position} `);
    expect(text).not.toContain(`#${seen[1]!.position} `);
    expect(text).toMatch(/update\s+order \d+ v2 status: pending → shipped/);
    await resumed.kill('SIGINT');
  });

  it('demo writes about rate × duration changes through the API and SQL', async () => {
    const before = (await pool.query('SELECT source, count(*)::int AS n FROM order_events GROUP BY source'))
      .rows;
    const count = (source: string, rows: { source: string; n: number }[]) =>
      rows.find((r) => r.source === source)?.n ?? 0;
    const { code, output } = await runToEnd([
      'demo',
      '--rate',
      '200',
      '--duration',
      '3',
      '--orders',
      '20',
      '--url',
      system.url,
    ]);
    expect(code).toBe(0);
    expect(output).toMatch(/demo: 600\/600 changes \(\d+ api, \d+ sql, 0 failed\)/);
    const after = (await pool.query('SELECT source, count(*)::int AS n FROM order_events GROUP BY source'))
      .rows;
    const api = count('api', after) - count('api', before);
    const sql = count('sql', after) - count('sql', before);
    // 600 timed changes plus up to 20 setup orders; each change is one event.
    expect(api + sql).toBeGreaterThanOrEqual(600);
    expect(api + sql).toBeLessThanOrEqual(620);
    expect(api).toBeGreaterThan(250);
    expect(sql).toBeGreaterThan(250);
  });

  it('tail --json writes nothing but JSON lines on stdout', async () => {
    const tail = startCli(['tail', '--json', '--url', system.url], env());
    await waitFor(() => tail.output().includes('live at position'), { what: 'tail to be live' });
    await pool.query("INSERT INTO orders (customer_name, product_name) VALUES ('Json', 'only')");
    await waitFor(() => tail.stdout().includes('"Json"'), { what: 'the event on stdout' });
    await tail.kill('SIGINT');
    const lines = tail.stdout().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    // Each line is an envelope; the insert is there whole, and nothing else (the "live" line) is.
    const envelopes = lines.map((line) => JSON.parse(line));
    expect(envelopes.every((e) => Number.isInteger(e.position) && typeof e.op === 'string')).toBe(true);
    expect(envelopes.find((e) => e.order?.customer_name === 'Json')).toMatchObject({
      op: 'insert',
      source: 'sql',
      order: { customer_name: 'Json', product_name: 'only', version: 1 },
    });
  });

  it('demo stopped early reports what it did, not what it planned', async () => {
    const events = async () =>
      (await pool.query("SELECT count(*)::int AS n FROM order_events WHERE source IN ('api', 'sql')")).rows[0]
        .n;
    const before = await events();
    const demo = startCli(
      ['demo', '--rate', '100', '--duration', '60', '--orders', '1', '--url', system.url],
      env(),
    );
    await waitFor(() => /demo: (\d{3,})\/6000/.test(demo.output()), {
      timeoutMs: 20_000,
      what: '100 changes',
    });
    expect(await demo.kill('SIGINT')).toBe(0);
    const last = [
      ...demo.output().matchAll(/demo: (\d+)\/6000 changes \((\d+) api, (\d+) sql, (\d+) failed\)/g),
    ].at(-1)!;
    const [done, api, sql, failed] = last.slice(1).map(Number) as [number, number, number, number];
    expect(demo.output()).toContain(', stopped');
    expect(done).toBe(api + sql + failed);
    expect(done).toBeLessThan(6000);
    // Every change it counted is one event in the log (wait for the last ones to commit).
    const seeded = Number(/demo: created (\d+) orders/.exec(demo.output())?.[1] ?? 0);
    await waitFor(async () => (await events()) - before === seeded + api + sql, {
      what: `${seeded + api + sql} new events`,
    });
    // The first line already counts only the timed run: no setup orders in it, no rate from a blink.
    const first = /demo: (\d+)\/6000 changes \((\d+) api, (\d+) sql, \d+ failed\)(, \d+\/s)?/.exec(
      demo.output(),
    )!;
    expect(Number(first[2]) + Number(first[3])).toBeLessThanOrEqual(Number(first[1]));
  });

  it('doctor tells a missing database from a server that is down', async () => {
    const missing = db.url.replace(/\/[^/]+$/, '/orders_live_no_such_database');
    const { code, output } = await runToEnd(['doctor'], { DATABASE_URL: missing });
    expect(code).toBe(1);
    expect(output).toMatch(
      /✗ postgres\s+the database of .*orders_live_no_such_database does not exist \(the server answered\)/,
    );
    expect(output).not.toContain('start PostgreSQL');
  });

  it('doctor checks every broker node and says which node each link of the running system is on', async () => {
    await waitFor(async () => (await fetch(`${system.url}/readyz`)).ok, { what: 'the system ready' });
    const { code, output } = await runToEnd(['doctor'], {
      PORT: new URL(system.url).port,
      RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:1,amqp://guest:guest@127.0.0.1:5672',
    });
    expect(output).toMatch(
      /! rabbitmq\s+cannot reach amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1 \(.+\): the roles use the other nodes/,
    );
    expect(output).toMatch(/✓ rabbitmq\s+reachable at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:5672/);
    expect(output).toMatch(
      /links\s+at http:\/\/127\.0\.0\.1:\d+: bridge-feed on 127\.0\.0\.1:5672, bridge-events on .+, gateway on 127\.0\.0\.1:5672/,
    );
    // A node down while another answers is a warning, not a failure.
    expect(code).toBe(0);
  });

  it('doctor passes on a healthy system and names dropped triggers', async () => {
    const healthy = await runToEnd(['doctor']);
    expect(healthy.output).toContain('all checks passed');
    expect(healthy.code).toBe(0);
    await pool.query('DROP TRIGGER orders_capture_update ON orders');
    try {
      const broken = await runToEnd(['doctor']);
      expect(broken.code).toBe(1);
      expect(broken.output).toMatch(/✗ triggers\s+missing on orders: orders_capture_update/);
    } finally {
      await pool.query(
        'CREATE TRIGGER orders_capture_update AFTER UPDATE ON orders REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orders_capture_update()',
      );
    }
  });
});
