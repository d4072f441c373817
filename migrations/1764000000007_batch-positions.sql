-- Up Migration

-- Positions per batch instead of per row (issue 17; invariant 3 allows it). Numbering used to
-- UPDATE every captured row — a second row version, two index entries and a dead tuple per event,
-- ~30 µs each: 3 s of database work for a 100,000-row UPDATE. Now the leader numbers everything
-- committed since its last numbering in one statement that writes one row per batch of up to
-- BRIDGE_BATCH_SIZE events: its first and last position and the event ids in position order. An
-- event row is written once, by the writer, and never touched again.
--
-- What is new is decided the way PgQ cuts batches, by transaction snapshots. The leader keeps the
-- snapshot its last numbering ran under (bridge_state.numbered_snapshot). The events not yet
-- numbered are exactly those of transactions that snapshot did not see: transactions that had
-- not started (txid >= its xmax) and those in progress then (txid in its xip list). Of those, a
-- numbering statement takes the ones committed before its own snapshot, in capture (id) order,
-- and records that snapshot. Both sets are index lookups on order_events (txid), however long
-- an old transaction stays open. A transaction's rows become visible all at once, and one that
-- follows another on the same order commits after it, so an order's events keep their order.

-- Writers wait until this migration commits: what it numbers and the snapshot it records must
-- see the same committed events.
LOCK TABLE order_events IN EXCLUSIVE MODE;

CREATE TABLE order_event_batches (
  first_position bigint      PRIMARY KEY,
  last_position  bigint      NOT NULL,
  -- order_events.id of each event, in position order: ids[n] has position first_position + n - 1.
  ids            bigint[]    NOT NULL,
  -- When the bridge numbered the batch: every envelope of the batch carries it.
  published_at   timestamptz NOT NULL,
  CHECK (last_position = first_position + cardinality(ids) - 1)
);
-- Batches are confirmed whole and in order: "the batch holding position P" is a lookup here.
CREATE UNIQUE INDEX order_event_batches_last_idx ON order_event_batches (last_position);

CREATE INDEX order_events_txid_idx ON order_events (txid);

ALTER TABLE bridge_state ADD COLUMN numbered_snapshot pg_snapshot;
-- The per-event exchange has a cursor of its own since the gateways read the batched feed: the
-- last position RabbitMQ confirmed there. It follows confirmed_through (the feed's) and never
-- passes it; retention keeps what it has not reached. What was confirmed before went out per
-- event already.
ALTER TABLE bridge_state ADD COLUMN events_confirmed_through bigint NOT NULL DEFAULT 0;
UPDATE bridge_state SET events_confirmed_through = confirmed_through;

-- Existing positions move into batches of at most 500 consecutive positions.
INSERT INTO order_event_batches (first_position, last_position, ids, published_at)
SELECT min(position), max(position), array_agg(id ORDER BY position), min(published_at)
FROM (
  SELECT id, position, coalesce(published_at, clock_timestamp()) AS published_at,
         position - row_number() OVER (ORDER BY position) AS run
  FROM order_events WHERE position IS NOT NULL
) AS numbered
GROUP BY run, (position - 1) / 500;

-- Events captured but not numbered yet are numbered here, after the last position, so that the
-- snapshot recorded below (which sees them) does not skip them. A writer held by the lock above
-- is in that snapshot's xip list, so the bridge numbers its events.
WITH waiting AS (
  SELECT id, row_number() OVER (ORDER BY id) AS n FROM order_events WHERE position IS NULL
), base AS (SELECT last_position FROM bridge_state WHERE id = 1)
INSERT INTO order_event_batches (first_position, last_position, ids, published_at)
SELECT base.last_position + min(n), base.last_position + max(n), array_agg(id ORDER BY n), clock_timestamp()
FROM waiting, base
GROUP BY base.last_position, (n - 1) / 500;

ALTER TABLE order_events DROP COLUMN position, DROP COLUMN published_at;

UPDATE bridge_state SET
  last_position = coalesce((SELECT max(last_position) FROM order_event_batches), last_position),
  numbered_snapshot = pg_current_snapshot();
ALTER TABLE bridge_state ALTER COLUMN numbered_snapshot SET NOT NULL;

-- Event ids, positions and batch times for positions lo..hi: the one way every reader (the relay,
-- the gateway's gap fill and replay, GET /events, the views) goes from positions to events. It
-- reads the batches from the one holding lo up to hi, through the primary key.
CREATE FUNCTION order_event_positions(lo bigint, hi bigint)
RETURNS TABLE ("position" bigint, id bigint, published_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT b.first_position + u.n - 1, u.id, b.published_at
  FROM order_event_batches b
  CROSS JOIN LATERAL unnest(b.ids) WITH ORDINALITY AS u(id, n)
  WHERE b.first_position BETWEEN
          coalesce((SELECT max(first_position) FROM order_event_batches WHERE first_position <= lo), lo)
          AND hi
    AND b.first_position + u.n - 1 BETWEEN lo AND hi
$$;

-- An event's wire envelope (docs/design.md, "Wire contract") as JSON text, made where the event
-- lives: the relay hands the text to RabbitMQ as it is, and the gateway's gap fill, replay and
-- GET /events parse the same text, so every path carries the same bytes. Timestamps are RFC 3339
-- in UTC with `Z`: microseconds for the capture time and the order's own, milliseconds for
-- published_at.
CREATE FUNCTION order_events_utc(t text, fmt text DEFAULT 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT to_char(t::timestamptz AT TIME ZONE 'UTC', fmt)
$$;

CREATE FUNCTION order_event_envelope(e order_events, pos bigint, published timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT json_build_object(
    'position', pos,
    'op', e.op,
    'order_id', e.order_id,
    'version', e.version,
    'order', e."order" || jsonb_build_object(
      'created_at', order_events_utc(e."order" ->> 'created_at'),
      'updated_at', order_events_utc(e."order" ->> 'updated_at')),
    'changes', CASE WHEN e.changes ? 'created_at' THEN e.changes || jsonb_build_object('created_at',
      jsonb_build_array(order_events_utc(e.changes -> 'created_at' ->> 0), order_events_utc(e.changes -> 'created_at' ->> 1)))
      ELSE e.changes END,
    'source', e.source,
    'actor', e.actor,
    'txid', e.txid::text,
    'occurred_at', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'published_at', to_char(published AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text
$$;

-- The numbered log as a table, for psql and the tests: every numbered event with its position and
-- publishing time. It reads every batch; programs read ranges through order_event_positions().
CREATE VIEW order_event_log AS
  SELECT b.first_position + u.n - 1 AS position, b.published_at, e.*
  FROM order_event_batches b
  CROSS JOIN LATERAL unnest(b.ids) WITH ORDINALITY AS u(id, n)
  JOIN order_events e ON e.id = u.id;

-- Events captured and not yet numbered (committed ones only: a statement sees nothing else): the
-- bridge's numbering statement, the backlog and the tests read them here. Two index range scans
-- on txid, written so that the planner knows them for ranges: transactions that started after the
-- recorded snapshot (bounded above by the current snapshot's xmax, which every visible row is
-- below anyway), and those in progress when it was taken (its xip list; all below its xmax).
CREATE FUNCTION order_events_unnumbered() RETURNS SETOF order_events
LANGUAGE sql STABLE AS $$
  SELECT e.* FROM order_events e
  WHERE e.txid >= (SELECT pg_snapshot_xmax(numbered_snapshot)::text::bigint FROM bridge_state WHERE id = 1)
    AND e.txid < pg_snapshot_xmax(pg_current_snapshot())::text::bigint
  UNION ALL
  SELECT e.* FROM order_events e
  WHERE e.txid = ANY (ARRAY(
    SELECT x::text::bigint FROM bridge_state, pg_snapshot_xip(numbered_snapshot) AS x WHERE id = 1))
$$;

CREATE OR REPLACE FUNCTION order_events_backlog(OUT events bigint, OUT oldest timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT
    (SELECT count(*) FROM order_events_unnumbered()) + (s.last_position - s.confirmed_through),
    least(
      (SELECT min(occurred_at) FROM order_events_unnumbered()),
      (SELECT e.occurred_at FROM order_event_batches b JOIN order_events e ON e.id = b.ids[1]
       WHERE b.first_position = s.confirmed_through + 1))
  FROM bridge_state s WHERE s.id = 1
$$;

-- The estimate for /metrics: ids newer than the newest id of the last batch, plus what is
-- numbered and not confirmed. A few index pages at any backlog; it misses events of transactions
-- that commit late (ids below that newest id) and counts ids of rolled-back writes.
CREATE OR REPLACE FUNCTION order_events_backlog_estimate(OUT events bigint, OUT oldest timestamptz)
LANGUAGE sql STABLE AS $$
  WITH numbered AS (
    SELECT coalesce((SELECT max(x) FROM unnest(
      (SELECT ids FROM order_event_batches ORDER BY first_position DESC LIMIT 1)) AS x), 0) AS through
  )
  SELECT
    greatest(coalesce((SELECT max(id) FROM order_events), 0) - numbered.through, 0)
      + (s.last_position - s.confirmed_through),
    least(
      (SELECT occurred_at FROM order_events WHERE id > numbered.through ORDER BY id LIMIT 1),
      (SELECT e.occurred_at FROM order_event_batches b JOIN order_events e ON e.id = b.ids[1]
       WHERE b.first_position = s.confirmed_through + 1))
  FROM bridge_state s, numbered WHERE s.id = 1
$$;

-- Down Migration

DROP FUNCTION IF EXISTS order_events_backlog_estimate();
DROP FUNCTION IF EXISTS order_events_backlog();
DROP FUNCTION IF EXISTS order_events_unnumbered();
DROP VIEW IF EXISTS order_event_log;
DROP FUNCTION IF EXISTS order_event_envelope(order_events, bigint, timestamptz);
DROP FUNCTION IF EXISTS order_events_utc(text, text);
DROP FUNCTION IF EXISTS order_event_positions(bigint, bigint);

ALTER TABLE order_events ADD COLUMN position bigint CONSTRAINT order_events_position_key UNIQUE,
  ADD COLUMN published_at timestamptz;
UPDATE order_events e SET position = b.first_position + u.n - 1, published_at = b.published_at
FROM order_event_batches b CROSS JOIN LATERAL unnest(b.ids) WITH ORDINALITY AS u(id, n)
WHERE e.id = u.id;
CREATE INDEX order_events_unpositioned_idx ON order_events (id) WHERE position IS NULL;

ALTER TABLE bridge_state DROP COLUMN numbered_snapshot, DROP COLUMN events_confirmed_through;
DROP INDEX IF EXISTS order_events_txid_idx;
DROP TABLE IF EXISTS order_event_batches;

CREATE FUNCTION order_events_backlog(OUT events bigint, OUT oldest timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT
    (SELECT count(*) FROM order_events WHERE position IS NULL) + (s.last_position - s.confirmed_through),
    least(
      (SELECT min(occurred_at) FROM order_events WHERE position IS NULL),
      (SELECT occurred_at FROM order_events WHERE position = s.confirmed_through + 1))
  FROM bridge_state s WHERE s.id = 1
$$;

CREATE FUNCTION order_events_backlog_estimate(OUT events bigint, OUT oldest timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT
    coalesce((SELECT max(id) FROM order_events)
      - (SELECT id FROM order_events WHERE position IS NULL ORDER BY id LIMIT 1) + 1, 0)
      + (s.last_position - s.confirmed_through),
    least(
      (SELECT occurred_at FROM order_events WHERE position IS NULL ORDER BY id LIMIT 1),
      (SELECT occurred_at FROM order_events WHERE position = s.confirmed_through + 1))
  FROM bridge_state s WHERE s.id = 1
$$;
