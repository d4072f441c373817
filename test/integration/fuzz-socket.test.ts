// Property-based fuzzing of the Socket.IO handshake and `subscribe` (fault matrix): random auth
// payloads and subscribe requests against real gateways (RabbitMQ consumer, PostgreSQL log reads;
// no bridge, so the head stays at position 0).
//
// Properties: a handshake under a foreign Host (without tokens) or from a foreign page's Origin is
// refused before any packet; an invalid handshake gets connect_error `invalid handshake auth: …` (status 400), a
// valid one with a wrong token `unauthorized: …` (401) when tokens are configured, and a valid one
// `ready` (or `resync` for a position this server never had); an invalid subscribe gets
// { ok: false, error } and the connection stays usable; nothing crashes a gateway, a normal client
// still gets `ready` after every property, and `orders_live_gateway_clients` always comes back to
// the number of open clients. Each handshake case opens a socket, so runs stay around 100.
// On failure fast-check prints the seed and the shrunk counterexample.

import fc from 'fast-check';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTokenVerifier } from '../../src/api/auth.js';
import { createOriginPolicy, handshakeProblem } from '../../src/api/origin-policy.js';
import type { ApiToken } from '../../src/config.js';
import type { EventFilter, HandshakeAuth } from '../../src/contract/socket.js';
import { createLogger } from '../../src/log.js';
import { useExchange } from '../helpers/amqp.js';
import { useTestDatabase } from '../helpers/db.js';
import { startTestGateway } from '../helpers/gateway.js';
import { connectClient, type TestClient } from '../helpers/socket-client.js';
import { waitFor } from '../helpers/wait.js';
import {
  edgeNumber,
  hostileText,
  isPlainObject,
  isStatus,
  isWholeIn,
  jsonValue,
  MAX_ID,
  nested,
  nestingKind,
  throughJson,
  validStatus,
} from './fuzz-values.js';

const db = useTestDatabase();
const exchange = useExchange();
const log = createLogger('silent');
const TOKEN = 'fuzz-token-0123456789abcdef';
/** contract/socket.ts: longer tokens are refused before they are compared. */
const MAX_TOKEN_LENGTH = 1_000;
/** Payloads stay below the server's 64 kB maxHttpBufferSize; larger ones are tested on their own. */
const MAX_PAYLOAD_BYTES = 48 * 1024;
const ACK_TIMEOUT_MS = 2_000;
const TEST_TIMEOUT_MS = 60_000;

function runs<T>(numRuns: number): fc.Parameters<T> {
  return { numRuns, interruptAfterTimeLimit: 45_000, markInterruptAsFailure: true };
}

interface TestGateway {
  url: string;
  registry: Registry;
  /** The auth a well-behaved client sends. */
  auth: HandshakeAuth;
  stop(): Promise<void>;
}

let pool: pg.Pool;
/** Without tokens: everyone may connect. */
let open: TestGateway;
/** With API tokens: the handshake needs TOKEN. */
let guarded: TestGateway;
const clients = new Set<TestClient>();

beforeAll(async () => {
  pool = db.pool({ application_name: 'orders-live-gateway' });
  open = await startGateway([]);
  guarded = await startGateway([{ name: 'fuzz', token: TOKEN, access: 'read' }]);
});

afterEach(async () => {
  closeAll();
  // Whatever the property did, each gateway serves a normal client and counts it right.
  for (const gw of [open, guarded]) {
    await expectClients(gw, 0);
    const normal = connect(gw, gw.auth);
    expect(await normal.waitReady(5_000)).toBe(0);
    expect(await clientsGauge(gw)).toBe(1);
    closeAll();
    await expectClients(gw, 0);
  }
});

afterAll(async () => {
  closeAll();
  await guarded?.stop();
  await open?.stop();
  await pool?.end();
});

async function startGateway(tokens: ApiToken[]): Promise<TestGateway> {
  const policy = createOriginPolicy({
    tokensRequired: tokens.length > 0,
    allowedHosts: [],
    allowedOrigins: [],
  });
  const gw = await startTestGateway({
    pool,
    exchange,
    verifyToken: tokens.length > 0 ? createTokenVerifier(tokens) : undefined,
    admit: (req) => handshakeProblem(policy, req.headers),
    log,
  });
  return {
    url: gw.url,
    registry: gw.registry,
    auth: tokens.length > 0 ? { token: TOKEN } : {},
    stop: gw.stop,
  };
}

/** A raw websocket upgrade to the gateway with the headers given: Engine.IO's open packet or a refusal. */
function openWebsocket(gw: TestGateway, headers: Record<string, string>): Promise<'open' | 'refused'> {
  const url = `${gw.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('message', (data) => {
      ws.terminate();
      resolve(String(data).startsWith('0{') ? 'open' : 'refused');
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode === 400 ? 'refused' : 'open');
    });
    ws.once('error', reject);
  });
}

function connect(gw: TestGateway, auth: unknown): TestClient {
  const client = connectClient(gw.url, auth as HandshakeAuth);
  clients.add(client);
  return client;
}

function closeAll(): void {
  for (const client of clients) client.close();
  clients.clear();
}

async function clientsGauge(gw: TestGateway): Promise<number> {
  const metric = await gw.registry.getSingleMetric('orders_live_gateway_clients')!.get();
  return metric.values[0]?.value ?? 0;
}

async function expectClients(gw: TestGateway, n: number): Promise<void> {
  await waitFor(async () => (await clientsGauge(gw)) === n, {
    timeoutMs: 5_000,
    intervalMs: 5,
    what: `orders_live_gateway_clients to be ${n}`,
  });
}

type Outcome =
  | { kind: 'ready'; position: number }
  | { kind: 'resync'; reason: string }
  | { kind: 'refused'; message: string; status: unknown }
  | { kind: 'closed'; reason: string };

/** Connects with `auth` and waits for how the handshake ends; the client stays open if it got in. */
async function handshake(gw: TestGateway, auth: unknown): Promise<Outcome> {
  const client = connect(gw, auth);
  let closed: string | undefined;
  client.socket.on('disconnect', (reason) => {
    closed = reason;
  });
  await waitFor(() => client.ready.length > 0 || client.errors.length > 0 || closed !== undefined, {
    timeoutMs: 10_000,
    intervalMs: 5,
    what: `the handshake with ${JSON.stringify(auth)?.slice(0, 200)} to end`,
  });
  const error = client.errors[0] as (Error & { data?: { status?: unknown } }) | undefined;
  if (error) return { kind: 'refused', message: error.message, status: error.data?.status };
  if (client.ready[0]) return { kind: 'ready', position: client.ready[0].position };
  if (client.resyncs[0]) return { kind: 'resync', reason: client.resyncs[0].reason };
  return { kind: 'closed', reason: closed ?? '' };
}

// ---------------------------------------------------------------------------------------------
// Oracles: the socket contract of docs/operations.md and contract/socket.ts, on what the server receives

function isValidFilter(filter: unknown): boolean {
  if (!isPlainObject(filter)) return false;
  const { status, order_id, ...rest } = filter;
  return (
    Object.keys(rest).length === 0 &&
    (status === undefined || (Array.isArray(status) && status.length <= 5 && status.every(isStatus))) &&
    (order_id === undefined || isWholeIn(order_id, 1, MAX_ID))
  );
}

function isValidAuth(auth: Record<string, unknown>): boolean {
  const { token, since, filter } = auth;
  return (
    // The limit counts characters (code points), as zod's string max does: 600 emoji are 1,200
    // UTF-16 units and fit (seed 1254466149 found the model counting units).
    (token === undefined || (typeof token === 'string' && [...token].length <= MAX_TOKEN_LENGTH)) &&
    (since === undefined || isWholeIn(since, 0, MAX_ID)) &&
    (filter === undefined || isValidFilter(filter))
  );
}

/** What a handshake with `auth` (as received) must end in, on `gw`. */
function expectedOutcome(gw: TestGateway, auth: Record<string, unknown>): Outcome['kind'] {
  if (!isValidAuth(auth)) return 'refused';
  if (gw === guarded && auth.token !== TOKEN) return 'refused';
  // Nothing was ever published here: the head is 0, and any later position is unknown.
  return auth.since === undefined || auth.since === 0 ? 'ready' : 'resync';
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

// 1,000 deep at most: socket.io-client's encoder recurses (hasBinary) and overflows a bit beyond.
const deepValue = fc
  .tuple(fc.integer({ min: 50, max: 1_000 }), nestingKind, fc.constantFrom(null, 1, 'shipped', TOKEN))
  .map(([depth, kind, leaf]) => nested(depth, kind, leaf));
const hugeArray = fc
  .tuple(fc.integer({ min: 100, max: 4_000 }), fc.constantFrom<unknown>('shipped', 1, null, {}))
  .map(([n, item]) => Array<unknown>(n).fill(item));
/** Anything a field could hold: random JSON, edge numbers, hostile text, deep or huge. */
const anyValue = fc.oneof(
  { weight: 4, arbitrary: jsonValue },
  { weight: 1, arbitrary: deepValue },
  { weight: 1, arbitrary: hugeArray },
);

const statusList = fc.oneof(
  { weight: 4, arbitrary: fc.array(validStatus, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.array(validStatus, { minLength: 6, maxLength: 8 }) },
  {
    weight: 2,
    arbitrary: fc.array(fc.oneof(validStatus, hostileText, jsonValue), { minLength: 1, maxLength: 5 }),
  },
  { weight: 1, arbitrary: anyValue },
);
const orderId = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: MAX_ID }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, MAX_ID + 1, '1') },
  { weight: 1, arbitrary: edgeNumber },
  { weight: 1, arbitrary: anyValue },
);
const extraMembers = fc.dictionary(
  fc.oneof(hostileText, fc.constantFrom('__proto__', 'constructor', 'toString', 'pid', 'offset')),
  jsonValue,
  { maxKeys: 2 },
);
const filter = fc.oneof(
  { weight: 4, arbitrary: fc.record({ status: statusList, order_id: orderId }, { requiredKeys: [] }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.record({ status: statusList, order_id: orderId }, { requiredKeys: [] }), extraMembers)
      .map(([known, extra]) => ({ ...extra, ...known })),
  },
  { weight: 1, arbitrary: anyValue },
);
const since = fc.oneof(
  { weight: 3, arbitrary: fc.oneof(fc.constantFrom(0, -0, 1, MAX_ID), fc.integer({ min: 0, max: MAX_ID })) },
  { weight: 2, arbitrary: fc.constantFrom(-1, 0.5, 1.5, MAX_ID + 1, 1e300, -1e300, '0', '5', null) },
  { weight: 1, arbitrary: edgeNumber },
  { weight: 1, arbitrary: anyValue },
);
const token = fc.oneof(
  { weight: 3, arbitrary: fc.constant(TOKEN) },
  { weight: 2, arbitrary: hostileText },
  {
    weight: 1,
    arbitrary: fc.constantFrom(`${TOKEN} `, TOKEN.toUpperCase(), 'x'.repeat(MAX_TOKEN_LENGTH + 1)),
  },
  { weight: 1, arbitrary: anyValue },
);

const fitsPayload = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '') < MAX_PAYLOAD_BYTES;

const authObject: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(fc.record({ token, since, filter }, { requiredKeys: [] }), extraMembers, fc.boolean())
  .map(([known, extra, withExtra]) => (withExtra ? { ...extra, ...known } : known))
  .filter(fitsPayload);

const subscribeRequest: fc.Arbitrary<Record<string, unknown>> = fc
  .oneof(
    { weight: 4, arbitrary: fc.record({ filter }, { requiredKeys: [] }) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.record({ filter }), extraMembers).map(([r, extra]) => ({ ...extra, ...r })),
    },
  )
  .filter(fitsPayload);

const VALID_SUBSCRIBE = { filter: { status: ['shipped' as const], order_id: 1 } };

// ---------------------------------------------------------------------------------------------

describe('handshake', () => {
  for (const which of ['without tokens', 'with tokens'] as const) {
    it(
      `ends every handshake as the contract says (${which})`,
      async () => {
        const gw = which === 'with tokens' ? guarded : open;
        await fc.assert(
          fc.asyncProperty(authObject, async (auth) => {
            const received = throughJson(auth) as Record<string, unknown>;
            const expected = expectedOutcome(gw, received);
            const outcome = await handshake(gw, auth);
            // A failing run closes its client too, or shrinking would count it against the next
            // run and report a wrong client count instead of the real failure.
            try {
              expect(outcome.kind, JSON.stringify(outcome)).toBe(expected);
              if (outcome.kind === 'refused') {
                const invalid = !isValidAuth(received);
                expect(outcome.message).toMatch(invalid ? /^invalid handshake auth: \S/ : /^unauthorized: /);
                expect(outcome.status).toBe(invalid ? 400 : 401);
                expect(await clientsGauge(gw)).toBe(0);
              }
              if (outcome.kind === 'ready') {
                expect(outcome.position).toBe(0);
                expect(await clientsGauge(gw)).toBe(1);
              }
              if (outcome.kind === 'resync') expect(outcome.reason).toBe('position unknown');
            } finally {
              closeAll();
            }
            await expectClients(gw, 0);
          }),
          runs(100),
        );
      },
      TEST_TIMEOUT_MS,
    );
  }

  it('limits a token to 1,000 characters, not UTF-16 units', async () => {
    const wide = await handshake(open, { token: '😀'.repeat(1_000) });
    expect(wide).toEqual({ kind: 'ready', position: 0 });
    closeAll();
    await expectClients(open, 0);
    const long = await handshake(open, { token: '😀'.repeat(1_001) });
    expect(long).toMatchObject({ kind: 'refused', status: 400 });
    closeAll();
  });

  it(
    'survives an auth that is not an object: refused, closed, or read as no auth',
    async () => {
      // socket.io-parser, not the gateway, decides here: it closes the transport for a CONNECT
      // payload that is not an object, and reads null (and a leading number, as a packet id) as
      // no payload. Either way the gateway must stay up and count right.
      const notAnObject = fc.oneof(
        hostileText,
        edgeNumber,
        fc.array(jsonValue, { maxLength: 5 }),
        fc.constantFrom(null, true, false),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('open', 'guarded'), notAnObject, async (which, auth) => {
          const gw = which === 'open' ? open : guarded;
          const outcome = await handshake(gw, auth);
          if (outcome.kind === 'ready') expect(gw).toBe(open);
          if (outcome.kind === 'refused')
            expect(outcome.message).toMatch(/^(invalid handshake auth|unauthorized): /);
          if (outcome.kind === 'closed') expect(outcome.reason).toMatch(/^(transport close|parse error)$/);
          expect(outcome.kind).not.toBe('resync');
          closeAll();
          await expectClients(gw, 0);
        }),
        runs(30),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'opens the websocket only under a loopback Host (without tokens) and for no Origin or its own',
    async () => {
      const port = new URL(open.url).port;
      const host = fc.oneof(
        fc.constantFrom(`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`),
        fc.domain().map((d) => `${d}:${port}`),
        fc.constantFrom('attacker.example', `127.0.0.1.nip.io:${port}`, `localhost.example:${port}`),
      );
      const origin = fc.option(
        fc.oneof(
          fc.constant('own'),
          fc.webUrl().map((u) => new URL(u).origin),
          fc.constantFrom('null', 'file://', 'http://localhost', `http://127.0.0.1:${Number(port) + 1}`),
        ),
        { nil: undefined },
      );
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('open', 'guarded'),
          host,
          origin,
          async (which, hostValue, originValue) => {
            const gw = which === 'open' ? open : guarded;
            const headers: Record<string, string> = { host: hostValue };
            if (originValue !== undefined)
              headers.origin = originValue === 'own' ? `http://${hostValue}` : originValue;
            const name = hostValue.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
            const loopbackHost =
              ['127.0.0.1', 'localhost', '::1'].includes(name) || name.endsWith('.localhost');
            const admitted =
              (gw === guarded || loopbackHost) && (originValue === undefined || originValue === 'own');
            expect(await openWebsocket(gw, headers), JSON.stringify(headers)).toBe(
              admitted ? 'open' : 'refused',
            );
            await expectClients(gw, 0);
          },
        ),
        runs(100),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it('closes a handshake larger than 64 kB (maxHttpBufferSize) and keeps serving', async () => {
    const outcome = await handshake(open, { token: 'x'.repeat(70 * 1024) });
    expect(outcome).toEqual({ kind: 'closed', reason: 'transport close' });
    await expectClients(open, 0);
  });
});

describe('subscribe', () => {
  it(
    'answers every subscribe as the contract says, and the connection stays usable',
    async () => {
      const client = connect(open, {});
      await client.waitReady();
      const raw = client.socket as unknown as Socket;
      await fc.assert(
        fc.asyncProperty(subscribeRequest, fc.boolean(), async (request, withAck) => {
          if (withAck) {
            const reply = await raw.timeout(ACK_TIMEOUT_MS).emitWithAck('subscribe', request);
            const filterSent = (throughJson(request) as { filter?: unknown }).filter;
            if (filterSent === undefined || isValidFilter(filterSent)) expect(reply).toEqual({ ok: true });
            else {
              expect(reply).toEqual({ ok: false, error: expect.stringMatching(/^invalid filter: \S/) });
            }
          } else {
            raw.emit('subscribe', request); // no ack: nothing to answer, nothing may break
          }
          const valid = await client.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('subscribe', VALID_SUBSCRIBE);
          expect(valid).toEqual({ ok: true });
          expect(client.socket.connected).toBe(true);
          expect(await clientsGauge(open)).toBe(1);
        }),
        runs(200),
      );
      expect(client.errors).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers a subscribe whose payload is not an object, and the connection stays usable',
    async () => {
      // What the answer says is checked below; here: an answer comes and nothing breaks.
      const client = connect(open, {});
      await client.waitReady();
      const raw = client.socket as unknown as Socket;
      const notAnObject = fc.oneof(
        hostileText,
        edgeNumber,
        fc.array(jsonValue, { maxLength: 5 }),
        fc.constantFrom(null, true),
      );
      await fc.assert(
        fc.asyncProperty(notAnObject, async (request) => {
          const reply = (await raw.timeout(ACK_TIMEOUT_MS).emitWithAck('subscribe', request)) as {
            ok: unknown;
          };
          expect(typeof reply.ok).toBe('boolean');
          const valid = await client.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('subscribe', VALID_SUBSCRIBE);
          expect(valid).toEqual({ ok: true });
          expect(client.socket.connected).toBe(true);
        }),
        runs(50),
      );
    },
    TEST_TIMEOUT_MS,
  );

  // Regression (found by the fuzzing above): a number, string, boolean or null used to be accepted
  // ({ ok: true }) and cleared the client's filter; an array was refused for reading
  // Array.prototype.filter ("expected object, received function").
  it.each([
    { request: 5 },
    { request: 'shipped' },
    { request: null },
    { request: true },
    { request: ['shipped'] },
  ])('refuses a subscribe payload that is not an object: $request', async ({ request }) => {
    const client = connect(open, {});
    await client.waitReady();
    const raw = client.socket as unknown as Socket;
    const reply = await raw.timeout(ACK_TIMEOUT_MS).emitWithAck('subscribe', request);
    expect(reply).toEqual({
      ok: false,
      error: expect.stringMatching(/^invalid /),
    });
    expect(reply.error).not.toMatch(/function/);
  });

  // Regression (found by the fuzzing above): with (request, ack) parameters, a subscribe sent with
  // only an ack had the ack in `request` and was never answered (nor one with two payloads).
  it.each([
    { name: 'only an ack', args: [] },
    { name: 'two payloads and an ack', args: [{ filter: {} }, 'extra'] },
  ])('answers a subscribe sent with $name', async ({ args }) => {
    const client = connect(open, {});
    await client.waitReady();
    const raw = client.socket as unknown as Socket;
    const reply = await raw.timeout(ACK_TIMEOUT_MS).emitWithAck('subscribe', ...args);
    expect(reply).toMatchObject({ ok: expect.any(Boolean) });
  });

  it('closes a connection that sends a subscribe larger than 64 kB, and keeps serving', async () => {
    const client = connect(open, {});
    await client.waitReady();
    let closed: string | undefined;
    client.socket.on('disconnect', (reason) => {
      closed = reason;
    });
    const huge: { filter: EventFilter } = { filter: { status: Array(20_000).fill('shipped') } };
    await expect(client.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('subscribe', huge)).rejects.toThrow();
    await waitFor(() => closed, { what: 'the connection to close' });
    expect(closed).toBe('transport close');
    await expectClients(open, 0);
  });
});
