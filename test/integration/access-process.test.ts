// "Who may do what" as `orders-live start` wires it: the socket handshake judged by Host and
// Origin like the REST API, /metrics moved to its own loopback listener, and every role refusing
// to listen beyond loopback without tokens.

import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useExchange } from '../helpers/amqp.js';
import { useTestDatabase } from '../helpers/db.js';
import { type CliProcess, cliEnv, startCli } from '../helpers/process.js';

const db = useTestDatabase();
const exchange = useExchange();
const env = (extra: Record<string, string> = {}) => cliEnv(db, exchange, extra);
let proc: CliProcess;
let url: string;
let metricsPort: number;

beforeAll(async () => {
  // The free port may be taken by another process before ours binds it: try another one then.
  for (let attempt = 1; ; attempt++) {
    metricsPort = await freePort();
    proc = startCli(['start', '--port', '0'], env({ METRICS_PORT: String(metricsPort) }));
    try {
      url = String((await proc.waitForLog({ msg: 'orders-live started' }, 45_000)).url);
      return;
    } catch (e) {
      if (attempt === 3 || !proc.output().includes('EADDRINUSE')) throw e;
    }
  }
});
afterAll(() => proc?.kill('SIGTERM'));

/** Opens the socket's websocket as a non-browser client would, with the headers given. */
function handshake(
  headers: Record<string, string>,
): Promise<{ opened: boolean; status?: number; body?: string }> {
  const socketUrl = `${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(socketUrl, { headers });
    ws.once('message', (data) => {
      // Engine.IO's open packet: the handshake was admitted.
      ws.close();
      resolve({ opened: String(data).startsWith('0{') });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk;
      });
      res.on('end', () => resolve({ opened: false, status: res.statusCode, body }));
    });
    ws.once('error', reject);
  });
}

describe('the socket handshake', () => {
  it('admits a client without Origin (a CLI, a service) and a page of its own origin', async () => {
    expect(await handshake({})).toEqual({ opened: true });
    expect(await handshake({ origin: new URL(url).origin })).toEqual({ opened: true });
  });

  it('refuses a page of another origin: a cross-site websocket reads nothing', async () => {
    for (const origin of [
      'http://evil.example',
      'null',
      new URL(url).origin.replace('127.0.0.1', 'localhost'),
    ]) {
      const refused = await handshake({ origin });
      expect(refused.opened).toBe(false);
      expect(refused.status).toBe(400);
      expect(refused.body).toMatch(/may not use this server: only its own origin/);
    }
  });

  it('refuses a rebinding Host even from its "own" origin', async () => {
    const port = new URL(url).port;
    const refused = await handshake({
      host: `attacker.example:${port}`,
      origin: `http://attacker.example:${port}`,
    });
    expect(refused).toMatchObject({ opened: false, status: 400 });
    expect(refused.body).toMatch(/Host "attacker.example:\d+" is not a name of this server/);
  });

  it('refuses a long-polling handshake from another origin with 403', async () => {
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, {
      headers: { origin: 'http://evil.example' },
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/may not use this server/);
  });
});

describe('METRICS_PORT', () => {
  it('serves /metrics on 127.0.0.1:METRICS_PORT and not on the main port', async () => {
    const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^orders_live_bridge_is_leader/m);
    const main = await fetch(`${url}/metrics`);
    expect(main.status).toBe(404);
    expect(((await main.json()) as { detail: string }).detail).toBe(
      `/metrics is served on its own listener, 127.0.0.1:${metricsPort} (METRICS_PORT)`,
    );
  });
});

describe('listening beyond loopback', () => {
  it.each(['gateway', 'bridge', 'api'])(
    'refuses to start the %s role on 0.0.0.0 without tokens, in one line',
    async (role) => {
      const refused = startCli(['start', '--role', role, '--port', '0'], env({ HOST: '0.0.0.0' }));
      const exit = await refused.exited;
      expect(exit.code).toBe(1);
      const output = refused.output().trim();
      expect(output.split('\n')).toHaveLength(1);
      expect(output).toMatch(
        /^orders-live: HOST=0.0.0.0 accepts connections from other machines, but no API token is configured/,
      );
    },
  );
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
