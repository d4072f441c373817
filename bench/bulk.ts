// bulk: one UPDATE of all 100,000 seeded orders in one statement → the time until its last event
// reaches a socket.io client, for (a) orders-live and the references (b) naive and (c) original
// shape, interleaved: all three run at once on their own databases, and each repetition updates
// each pipeline's table in turn. The statement's own duration is printed beside it: the floor.

import { io, type Socket } from 'socket.io-client';
import type { Benchmark } from './lib/benchmark.js';
import { type BenchDatabase, SEED_ROWS } from './lib/database.js';
import { startOrdersLiveOnOwn } from './lib/orders-live.js';
import { REFERENCES, startReference } from './lib/references.js';
import { fmt, spread } from './lib/stats.js';

const REPETITIONS = 3;
/** A pipeline that has not delivered the whole statement by then has failed the figure. */
const DEADLINE_MS = 120_000;
const TARGET_MS = 5_000;

interface Pipeline {
  label: string;
  db: BenchDatabase;
  /** Resolves when `count` events have arrived since it was called. */
  receive(count: number): Promise<number>;
}

export const bulk: Benchmark = {
  name: 'bulk',
  title: 'a 100,000-row UPDATE in one statement → its last event on a client, (a) against (b) and (c)',
  async run(ctx) {
    const pipelines: Pipeline[] = [];
    ctx.progress('(a) orders-live, every role in one process');
    const { db: dbA, server } = await startOrdersLiveOnOwn(
      ctx,
      { database: 'bulk_orders_live', exchange: 'bulk' },
      { name: 'bulk orders-live' },
    );
    pipelines.push({
      label: '(a) orders-live',
      db: dbA,
      receive: await counter(server.url, 'events', ctx.defer),
    });
    for (const reference of REFERENCES) {
      const label = `${reference.id} ${reference.label}`;
      ctx.progress(label);
      const { db, url } = await startReference(ctx, reference, `bulk_${reference.key}`);
      pipelines.push({ label, db, receive: await counter(url, 'order', ctx.defer) });
    }

    const delivered = new Map<string, number[]>();
    const statement = new Map<string, number[]>();
    const repetitions = ctx.quick ? 1 : REPETITIONS;
    for (let rep = 1; rep <= repetitions; rep++) {
      for (const p of pipelines) {
        ctx.progress(`repetition ${rep}/${repetitions}: ${p.label}`);
        const arrived = p.receive(SEED_ROWS);
        const started = performance.now();
        // Every row really changes (status flips), so every row is one event.
        await p.db.pool.query(
          "UPDATE orders SET status = CASE WHEN status = 'shipped' THEN 'delivered' ELSE 'shipped' END",
        );
        const committed = performance.now();
        const last = await arrived;
        (statement.get(p.label) ?? statement.set(p.label, []).get(p.label)!).push(committed - started);
        (delivered.get(p.label) ?? delivered.set(p.label, []).get(p.label)!).push(last - committed);
      }
    }

    const rows = pipelines.map((p) => {
      const d = spread(delivered.get(p.label)!);
      const s = spread(statement.get(p.label)!);
      return [
        p.label,
        `${fmt(d.median, 0)} (${fmt(d.min, 0)}–${fmt(d.max, 0)})`,
        `${fmt(s.median, 0)} (${fmt(s.min, 0)}–${fmt(s.max, 0)})`,
        fmt(SEED_ROWS / ((d.median + s.median) / 1000), 0),
      ];
    });
    const ours = spread(delivered.get('(a) orders-live')!);
    return {
      method: [
        `${fmt(SEED_ROWS, 0)} seeded orders per pipeline, each in its own database; one UPDATE changes the status of every row (${repetitions} repetitions, the pipelines in turn within each).`,
        'Commit → last event = from the moment the autocommit UPDATE returned to the moment the one socket.io-client of that pipeline (in the bench process, websocket transport) had received as many events as the statement changed rows.',
        'Statement = the UPDATE itself, capture or NOTIFY included: the floor under the figure.',
      ],
      tables: [
        {
          title: 'One 100,000-row UPDATE: median (min–max) ms',
          columns: [
            'pipeline',
            'commit → last event on the client',
            'the statement itself',
            'events/s overall',
          ],
          rows,
        },
      ],
      targets: [
        {
          what: '100,000-row UPDATE: commit → last event on a client, (a)',
          goal: `≤ ${fmt(TARGET_MS, 0)} ms`,
          measured: `${fmt(ours.median, 0)} ms (${fmt(ours.min, 0)}–${fmt(ours.max, 0)})`,
          met: ours.max <= TARGET_MS,
        },
      ],
      notes: [],
      data: { delivered: Object.fromEntries(delivered), statement: Object.fromEntries(statement) },
    };
  },
};

/**
 * One socket.io client counting what arrives as `event` (`events` carries an array of envelopes,
 * `order` one row); receive(n) resolves with the clock when n more have come.
 */
async function counter(
  url: string,
  event: 'events' | 'order',
  defer: (fn: () => unknown) => void,
): Promise<(count: number) => Promise<number>> {
  const socket: Socket = io(url, { transports: ['websocket'], reconnection: false });
  defer(() => socket.close());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  let received = 0;
  let goal = Number.POSITIVE_INFINITY;
  let done: ((at: number) => void) | undefined;
  socket.on(event, (payload: unknown) => {
    received += Array.isArray(payload) ? payload.length : 1;
    if (received >= goal) done?.(performance.now());
  });
  return (count) =>
    new Promise<number>((resolve, reject) => {
      goal = received + count;
      const timer = setTimeout(
        () =>
          reject(
            new Error(`${url}: ${received - (goal - count)} of ${count} events after ${DEADLINE_MS} ms`),
          ),
        DEADLINE_MS,
      );
      done = (at) => {
        clearTimeout(timer);
        done = undefined;
        resolve(at);
      };
    });
}
