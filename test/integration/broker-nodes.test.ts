// Several broker nodes (RABBITMQ_URL as a list), from outside: the whole system as a process,
// given a node that is down and two that are up (two TCP proxies in front of the one local
// RabbitMQ, so a "node" can go away without touching the broker others use). It starts past the
// dead one, /readyz says which node each AMQP link is on, and when that node goes away every
// link moves to the next while a client following the log gets every position once.

import net from 'node:net';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type EventStream, events } from '../../src/client/index.js';
import { startProxy, type TcpProxy } from '../chaos/tcp-proxy.js';
import { startSystem, systemEnv, type TestSystem } from '../e2e/system.js';
import { useExchange } from '../helpers/amqp.js';
import { useTestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

const db = useTestDatabase();
const exchange = useExchange();
let pool: pg.Pool;
let system: TestSystem | undefined;
let stream: EventStream | undefined;
const proxies: TcpProxy[] = [];

beforeAll(() => {
  pool = db.pool();
});
// Registered after useTestDatabase(), so it runs before the database's leak check.
afterAll(async () => {
  stream?.close();
  await system?.stop();
  for (const proxy of proxies) await proxy.close().catch(() => undefined);
  await pool.end();
});

/** A port nothing listens on: a node that is down. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function brokers(): Promise<Record<string, string | null>> {
  const response = await fetch(`${system!.url}/readyz`);
  return ((await response.json()) as { brokers: Record<string, string | null> }).brokers;
}

async function insertOrders(n: number): Promise<void> {
  await pool.query(
    "INSERT INTO orders (customer_name, product_name) SELECT 'customer ' || i, 'product' FROM generate_series(1, $1::int) i",
    [n],
  );
}

it('starts past a node that is down, and moves every link to the next node when its node goes away', async () => {
  const [a, b] = await Promise.all([startProxy(5672), startProxy(5672)]);
  proxies.push(a, b);
  const url = (port: number) => `amqp://guest:guest@127.0.0.1:${port}`;
  system = await startSystem({
    ...systemEnv(db, exchange),
    RABBITMQ_URL: [url(await deadPort()), url(a.port), url(b.port)].join(','),
  });
  const positions: number[] = [];
  stream = events({ url: system.url, since: 0 });
  void (async () => {
    for await (const event of stream!) positions.push(event.position);
  })();

  await insertOrders(100);
  await waitFor(() => positions.length >= 100, { what: 'the first 100 events' });
  const onA = `127.0.0.1:${a.port}`;
  await waitFor(async () => Object.values(await brokers()).every((node) => node === onA), {
    what: `every link on ${onA}`,
  });
  expect(Object.keys(await brokers()).sort()).toEqual(['bridge-events', 'bridge-feed', 'gateway']);

  await a.close(); // the node goes away: its connections drop, and it refuses new ones
  await insertOrders(100);
  const onB = `127.0.0.1:${b.port}`;
  await waitFor(async () => Object.values(await brokers()).every((node) => node === onB), {
    timeoutMs: 20_000,
    what: `every link on ${onB} (now ${JSON.stringify(await brokers().catch(() => null))})`,
  });
  await waitFor(() => positions.length >= 200, { timeoutMs: 20_000, what: 'all 200 events' });
  expect(positions).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
});
