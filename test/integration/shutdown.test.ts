// SIGTERM to the all-roles process (api + bridge + gateway on one HTTP server): new connections
// refused at once, sockets told to reconnect, the in-flight request answered within the HTTP
// deadline with `Connection: close`, the pool kept for it until last, exit 0.

import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { useExchange } from '../helpers/amqp.js';
import { useTestDatabase } from '../helpers/db.js';
import { type CliProcess, cliEnv, startCli } from '../helpers/process.js';
import { connectClient } from '../helpers/socket-client.js';
import { waitFor } from '../helpers/wait.js';

const db = useTestDatabase();
const exchange = useExchange();

/** The HTTP role's default close deadline (src/api/http-server.ts), counted from the signal. */
const HTTP_CLOSE_DEADLINE_MS = 5_000;
/** The whole stop's deadline (STOP_DEADLINE_MS in src/main.ts). */
const STOP_DEADLINE_MS = 10_000;

async function startSystem(): Promise<{ proc: CliProcess; url: string }> {
  const proc = startCli(['start', '--port', '0'], cliEnv(db, exchange));
  const line = await proc.waitForLog({ msg: 'orders-live started' });
  // Every role fully up: the gateway's consumer and the bridge's lock finish connecting after
  // start() returns, and a stop racing them is not what this file is about.
  await proc.waitForLog({ msg: 'consuming' });
  await proc.waitForLog({ msg: 'became leader' });
  return { proc, url: String(line.url) };
}

describe('stopping the all-roles process', () => {
  it('refuses new connections, tells sockets to reconnect, finishes the in-flight request, exits 0', async () => {
    const { proc, url } = await startSystem();
    const client = connectClient(url, {}, { reconnection: true });
    const disconnects: { reason: string; willReconnect: boolean }[] = [];
    client.socket.on('disconnect', (reason) =>
      disconnects.push({ reason, willReconnect: client.socket.active }),
    );
    const order = openRequest(url, 'POST', '/orders', { customer_name: 'late', product_name: 'p' });
    try {
      await client.waitReady();
      await order.accepted;

      proc.child.kill('SIGTERM');
      await waitFor(async () => (await connectTo(url)) === 'ECONNREFUSED', {
        what: 'new connections to be refused',
      });
      const res = await order.finish();
      expect(res.status).toBe(201);
      expect(res.headers.connection).toBe('close');
      expect(JSON.parse(res.body)).toMatchObject({ customer_name: 'late' });

      await waitFor(() => disconnects.length > 0, { what: 'the socket to be disconnected' });
      // "transport close" is a reason socket.io-client reconnects on by itself (`active` stays
      // true); "io server disconnect" would leave it disconnected for good.
      expect(disconnects).toEqual([{ reason: 'transport close', willReconnect: true }]);
      expect(await proc.exited).toEqual({ code: 0, signal: null });
      expect(proc.logs.map((l) => l.msg)).toContain('stopped');
    } finally {
      client.close();
      order.abort();
    }
  });

  it('cuts a request still open at the HTTP deadline and still exits 0', async () => {
    const { proc, url } = await startSystem();
    const order = openRequest(url, 'POST', '/orders', { customer_name: 'never', product_name: 'p' });
    try {
      await order.accepted;
      const signalledAt = Date.now();
      proc.child.kill('SIGTERM');
      // The body never comes: the request is in flight until the HTTP role cuts it.
      await expect(order.response).rejects.toThrow(/socket hang up|ECONNRESET/);
      // Cut by the HTTP role's deadline, not by the process's.
      expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(HTTP_CLOSE_DEADLINE_MS - 100);
      expect(Date.now() - signalledAt).toBeLessThan(STOP_DEADLINE_MS);
      expect(await proc.exited).toEqual({ code: 0, signal: null });
      expect(proc.logs.map((l) => l.msg)).toEqual(
        expect.arrayContaining(['requests still open at the deadline: closing them', 'stopped']),
      );
    } finally {
      order.abort();
    }
  });
});

interface OpenRequest {
  /** Resolves once the server has taken the request (it answered `100 Continue`). */
  accepted: Promise<void>;
  response: Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>;
  /** Sends the body and waits for the response. */
  finish(): OpenRequest['response'];
  abort(): void;
}

/**
 * A request held in flight without a sleep: its headers go first with `Expect: 100-continue`,
 * and Node's server answers `100 Continue` as it hands the request to the app, so `accepted`
 * means the server is serving it; the app then waits for the body until `finish()`.
 */
function openRequest(base: string, method: string, path: string, json: unknown): OpenRequest {
  const body = JSON.stringify(json);
  // Keep-alive, as browsers and fetch ask: only then does `Connection: close` in the answer say
  // something (with agent: false, Node's client asks for close itself).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const req = http.request(new URL(path, base), {
    method,
    agent,
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      expect: '100-continue',
    },
  });
  const accepted = new Promise<void>((resolve, reject) => {
    req.once('continue', resolve);
    req.once('error', reject);
  });
  const response = new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      req.once('error', reject);
      req.once('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.once('error', reject);
      });
    },
  );
  // Each is awaited by the test that needs it; unobserved, a cut request must not fail the run.
  accepted.catch(() => undefined);
  response.catch(() => undefined);
  req.flushHeaders();
  return {
    accepted,
    response,
    finish() {
      req.end(body);
      return response;
    },
    abort() {
      req.destroy();
      agent.destroy();
    },
  };
}

/** Opens a TCP connection to the url's port: 'connected', or the error's code. */
function connectTo(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}
