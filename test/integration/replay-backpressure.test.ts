// Replay is bounded in bytes per client: 20 websocket clients that ask for the whole log of
// 100,000 events and then never read must not cost the gateway their replay in memory, and a
// normal client keeps receiving live events meanwhile. The gateway is the real CLI
// (`start --role gateway`) in its own process, so its resident memory is its own.
//
// Before, replay pages went out without waiting and the slow-client check counted packets: the
// issue measured the gateway's RSS going from 208 MiB to 1,860 MiB within 20 s in this setup.
// With pages sent unawaited but the byte budget in place, the clients are cut off instead of
// served (the last assertion fails). The memory bound asserted is the issue's: 200 MiB.

import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Bridge } from '../../src/bridge/bridge.js';
import { lastPublishedPosition } from '../../src/db/event-log.js';
import { useExchange } from '../helpers/amqp.js';
import { createTestBridge } from '../helpers/bridge.js';
import { useTestDatabase } from '../helpers/db.js';
import { RABBITMQ_URL } from '../helpers/names.js';
import { startCli } from '../helpers/process.js';
import { connectClient } from '../helpers/socket-client.js';
import { waitFor } from '../helpers/wait.js';

const LOG_EVENTS = 100_000;
const SILENT_CLIENTS = 20;
const RSS_BOUND_MIB = 200;

const db = useTestDatabase();
const exchange = useExchange();
let pool: pg.Pool;
let bridge: Bridge;

beforeAll(async () => {
  pool = db.pool({ application_name: 'psql' });
  bridge = createTestBridge({ db, pool, exchange });
  await bridge.start();
  await pool.query(
    `INSERT INTO orders (customer_name, product_name)
     SELECT 'Customer ' || i, 'Product ' || (i % 100) FROM generate_series(1, ${LOG_EVENTS}) i`,
  );
  await waitFor(async () => (await lastPublishedPosition(pool)) >= LOG_EVENTS, {
    timeoutMs: 60_000,
    what: `${LOG_EVENTS} events published`,
  });
}, 120_000);

afterAll(async () => {
  await bridge?.stop();
  await pool?.end();
});

/** Resident memory of a process, in MiB. */
function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? Number.NaN) / 1024;
}

/** A raw websocket that asks for a replay from position 0, then stops reading. */
function silentClient(url: string): WebSocket {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  ws.once('message', () => {
    // The engine.io open packet: now connect to the namespace with `since: 0`, and stop reading.
    ws.send('40{"since":0}');
    ws.pause();
  });
  ws.on('error', () => undefined);
  return ws;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return Number(match?.[1] ?? 0);
}

const emittedTotal = (url: string) => metric(url, 'orders_live_gateway_events_emitted_total');

describe('replay backpressure', () => {
  it('holds 20 silent replaying clients within 200 MiB while a normal client stays live', async () => {
    const gateway = startCli(['start', '--role', 'gateway', '--port', '0'], {
      DATABASE_URL: db.url,
      RABBITMQ_URL,
      AMQP_EXCHANGE: exchange,
      MIGRATE_ON_START: 'false',
    });
    const silent: WebSocket[] = [];
    const normal = { close: () => undefined } as { close(): void };
    try {
      const url = String((await gateway.waitForLog({ msg: 'orders-live started' })).url);
      const pid = gateway.child.pid!;
      const live = connectClient(url);
      Object.assign(normal, live);
      const start = await live.waitReady();
      expect(start).toBe(LOG_EVENTS);
      const before = rssMiB(pid);
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMiB(pid));
      }, 50);
      try {
        for (let i = 0; i < SILENT_CLIENTS; i++) silent.push(silentClient(url));
        // Replay runs until every silent client has stopped taking: the emitted count stops growing.
        let previous = -1;
        await waitFor(
          async () => {
            const now = await emittedTotal(url);
            const settled = now > 0 && now === previous;
            previous = now;
            return settled;
          },
          { timeoutMs: 30_000, intervalMs: 1_000, what: 'replay to the silent clients to stall' },
        );
        // Live events still reach the normal client while 20 replays are stalled.
        await pool.query("UPDATE orders SET status = 'shipped' WHERE id <= 500");
        await live.waitPosition(LOG_EVENTS + 500, 20_000);
        expect(live.positions().at(-1)).toBe(LOG_EVENTS + 500);
        expect(live.resyncs).toEqual([]);
        peak = Math.max(peak, rssMiB(pid));
      } finally {
        clearInterval(sampler);
      }
      const sentToSilent = (await emittedTotal(url)) - 500;
      console.log(
        `[backpressure] RSS ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB; ` +
          `events sent to the ${SILENT_CLIENTS} silent clients: ${sentToSilent} of ${SILENT_CLIENTS * LOG_EVENTS}`,
      );
      expect(peak - before).toBeLessThanOrEqual(RSS_BOUND_MIB);
      // The bound holds because the replays were held back (a page waits for the client to take
      // the one before), not because they were fast, nor because the clients were cut off: a
      // replaying client holds one page, far below the byte budget that disconnects live ones.
      expect(sentToSilent).toBeLessThan(SILENT_CLIENTS * LOG_EVENTS);
      expect(await metric(url, 'orders_live_gateway_slow_client_disconnects_total')).toBe(0);
    } finally {
      normal.close();
      for (const ws of silent) ws.terminate();
      await gateway.kill('SIGTERM');
    }
  }, 120_000);
});
