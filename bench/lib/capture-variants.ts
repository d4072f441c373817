// The capture variants capture-cost compares, each applied to its own freshly migrated database.
// The versioning trigger (BEFORE UPDATE, per row) stays in every variant, so the ratios isolate
// what capture costs; only the capture triggers, or the doorbell function they call, change.

import { NOTIFY_CHANNEL } from '../../src/contract/events.js';

/** The channel of the baseline's naive pipeline (bench/naive-server.ts). */
export const NAIVE_CHANNEL = 'orders_naive';

export interface CaptureVariant {
  id: 'a' | 'b' | 'c' | 'd' | 'e' | 'f';
  label: string;
  /** A few words for a chart's axis. */
  short: string;
  /** SQL that turns the migrated database into this variant (none: as the migrations ship it). */
  alter: string[];
  /** Runs with a bridge process draining the log (the shipped doorbell may depend on it). */
  bridge: boolean;
}

/** Drops every trigger on orders but the versioning one: whatever the migrations call them. */
export const DROP_CAPTURE_TRIGGERS = `
  DO $$
  DECLARE t text;
  BEGIN
    FOR t IN SELECT tgname FROM pg_trigger
             WHERE tgrelid = 'orders'::regclass AND NOT tgisinternal AND tgname <> 'orders_versioning'
    LOOP
      EXECUTE format('DROP TRIGGER %I ON orders', t);
    END LOOP;
  END $$`;

/** Fails unless the capture still rings through order_events_ring(), which c and d replace. */
const REQUIRE_RING_FUNCTION = `
  DO $$
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'orders_capture_update'
                   AND prosrc LIKE '%order_events_ring%') THEN
      RAISE EXCEPTION 'orders_capture_update() no longer calls order_events_ring(): update bench/lib/capture-variants.ts';
    END IF;
  END $$`;

export const CAPTURE_VARIANTS: readonly CaptureVariant[] = [
  {
    id: 'a',
    label: 'no capture (capture triggers dropped; versioning trigger kept)',
    short: 'no capture',
    alter: [DROP_CAPTURE_TRIGGERS],
    bridge: false,
  },
  {
    id: 'b',
    label: "naive row trigger: pg_notify('orders', row_to_json(NEW)::text), no log",
    short: 'naive row trigger',
    alter: naiveNotify('orders'),
    bridge: false,
  },
  {
    id: 'c',
    label: 'change log, NOTIFY off (order_events_ring() a no-op)',
    short: 'log, NOTIFY off',
    alter: [
      REQUIRE_RING_FUNCTION,
      `CREATE OR REPLACE FUNCTION order_events_ring() RETURNS void LANGUAGE sql AS $$ SELECT NULL::void $$`,
    ],
    bridge: false,
  },
  {
    id: 'd',
    label: 'change log + NOTIFY on every statement',
    short: 'log + NOTIFY every statement',
    alter: [
      REQUIRE_RING_FUNCTION,
      `CREATE OR REPLACE FUNCTION order_events_ring() RETURNS void
       LANGUAGE sql AS $$ SELECT pg_notify('${NOTIFY_CHANNEL}', '') $$`,
    ],
    bridge: false,
  },
  {
    id: 'e',
    label: 'shipped: migrations as they are, a bridge draining',
    short: 'shipped + bridge draining',
    alter: [],
    bridge: true,
  },
  {
    // The writers' side of (e) alone: the shipped triggers read a lease that is always held, so
    // they never ring, and no bridge numbers or publishes on the same cores meanwhile.
    id: 'f',
    label: "shipped doorbell, lease held, no bridge (the writers' share of (e))",
    short: "shipped, writers' share",
    alter: ["UPDATE bridge_doorbell SET quiet_until = 'infinity' WHERE id = 1"],
    bridge: false,
  },
];

/** The naive pattern: capture triggers gone, a row trigger sends each new row as the payload. */
export function naiveNotify(channel: string): string[] {
  return [
    DROP_CAPTURE_TRIGGERS,
    `CREATE FUNCTION bench_naive_notify() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN PERFORM pg_notify('${channel}', row_to_json(NEW)::text); RETURN NULL; END $$`,
    `CREATE TRIGGER bench_naive_notify AFTER UPDATE ON orders
     FOR EACH ROW EXECUTE FUNCTION bench_naive_notify()`,
  ];
}
