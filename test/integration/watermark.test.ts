// The relays' watermarks are committed without waiting for the WAL flush (watermark.ts). What must
// hold around that: a watermark only ever rises, the relaxed commit stays confined to its own
// UPDATE — the leader's next statement on the same connection is the numbering, which must stay
// durable — a failed write leaves the connection usable, with no transaction left open, and a
// write of one epoch moves nothing once bridge_state names another (invariant 9).

import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { raiseWatermark, raiseWatermarks } from '../../src/bridge/watermark.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase();
let pool: pg.Pool;
let client: pg.PoolClient;

beforeAll(async () => {
  pool = db.pool({ max: 2 });
  client = await pool.connect();
});
afterAll(async () => {
  client?.release();
  await pool?.end();
});
beforeEach(async () => {
  await pool.query('UPDATE bridge_state SET confirmed_through = 0, events_confirmed_through = 0');
});

const watermarks = async () =>
  (
    await pool.query<{ feed: number; events: number }>(
      'SELECT confirmed_through::int AS feed, events_confirmed_through::int AS events FROM bridge_state',
    )
  ).rows[0];

it('raises each watermark on its own and never lowers it', async () => {
  await raiseWatermark(client, 'confirmed_through', 40);
  await raiseWatermark(client, 'events_confirmed_through', 25);
  await raiseWatermark(client, 'confirmed_through', 30);
  expect(await watermarks()).toEqual({ feed: 40, events: 25 });
});

it('relaxes the commit of its own UPDATE only: the connection stays synchronous afterwards', async () => {
  await raiseWatermark(client, 'confirmed_through', 1);
  const { rows } = await client.query<{ mode: string; open: boolean }>(
    "SELECT current_setting('synchronous_commit') AS mode, now() <> statement_timestamp() AS open",
  );
  expect(rows[0]).toEqual({ mode: 'on', open: false });
});

it('leaves no transaction open when the write fails', async () => {
  await client.query('ALTER TABLE bridge_state ADD CONSTRAINT watermark_cap CHECK (confirmed_through < 100)');
  try {
    await expect(raiseWatermark(client, 'confirmed_through', 500)).rejects.toThrow(/watermark_cap/);
    const { rows } = await client.query<{ ok: number }>('SELECT 1 AS ok');
    expect(rows[0]?.ok).toBe(1);
    await raiseWatermark(client, 'confirmed_through', 50);
    expect((await watermarks())?.feed).toBe(50);
  } finally {
    await client.query('ALTER TABLE bridge_state DROP CONSTRAINT watermark_cap');
  }
});

it("moves nothing once bridge_state names another epoch than the write's", async () => {
  const epoch = (await pool.query<{ e: number }>('SELECT epoch AS e FROM bridge_state')).rows[0]!.e;
  await raiseWatermarks(client, { confirmed_through: 30, events_confirmed_through: 20 }, epoch);
  expect(await watermarks()).toEqual({ feed: 30, events: 20 });
  await raiseWatermarks(client, { confirmed_through: 90, events_confirmed_through: 90 }, epoch + 1);
  expect(await watermarks()).toEqual({ feed: 30, events: 20 });
  await expect(raiseWatermarks(client, { confirmed_through: 1 }, 0)).rejects.toThrow(RangeError);
});

it('refuses a position that is not a non-negative integer', async () => {
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 60]) {
    await expect(raiseWatermark(client, 'confirmed_through', bad)).rejects.toThrow(RangeError);
  }
  expect((await watermarks())?.feed).toBe(0);
});
