-- Up Migration

-- Epochs of the log (invariant 9 of docs/design.md). A position means something only within one
-- history of the log. After an asynchronous failover the promoted standby's log ends before
-- positions clients already saw, and the new primary hands those positions out again to other
-- events. Each history is an epoch: the bridge leader opens a new one when the server's timeline
-- is not the one the latest epoch was numbered on, and records the last position the new epoch
-- shares with the one before (forked_after). Batches carry the epoch they were numbered under and
-- so does every envelope: a gateway or client that meets a newer epoch knows which positions it
-- holds from another history, and makes those clients resync.

-- The server's timeline. The WAL file name's first 8 hex digits: they name the new timeline as soon
-- as the standby is promoted, where pg_control_checkpoint() reports it only after the
-- end-of-recovery checkpoint. A test that plays a failover on one database replaces this function.
CREATE FUNCTION order_events_timeline() RETURNS int
LANGUAGE sql VOLATILE AS $$
  SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int
$$;

CREATE TABLE log_epochs (
  epoch        int         PRIMARY KEY,
  timeline     int         NOT NULL,
  -- The last position this epoch shares with the one before: positions above it are its own.
  forked_after bigint      NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now()
);
-- What is numbered already is epoch 1.
INSERT INTO log_epochs (epoch, timeline, forked_after) VALUES (1, order_events_timeline(), 0);

-- The epoch the leader numbers under (set by order_events_epoch(), read by the numbering).
ALTER TABLE bridge_state ADD COLUMN epoch int NOT NULL DEFAULT 1;
ALTER TABLE order_event_batches ADD COLUMN epoch int NOT NULL DEFAULT 1;

-- Called by the bridge when it becomes leader, before it numbers anything: opens a new epoch when
-- the timeline changed since the latest one (a promoted standby), forked after the last position
-- numbered on this server, and returns the epoch to number under. The bridge_state row lock
-- serialises two callers.
CREATE FUNCTION order_events_epoch() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  last_numbered bigint;
  latest log_epochs;
  current_timeline int := order_events_timeline();
  chosen int;
BEGIN
  SELECT last_position INTO last_numbered FROM bridge_state WHERE id = 1 FOR UPDATE;
  SELECT * INTO latest FROM log_epochs ORDER BY epoch DESC LIMIT 1;
  IF NOT FOUND OR latest.timeline <> current_timeline THEN
    INSERT INTO log_epochs (epoch, timeline, forked_after)
    VALUES (coalesce(latest.epoch, 0) + 1, current_timeline, last_numbered)
    RETURNING epoch INTO chosen;
  ELSE
    chosen := latest.epoch;
  END IF;
  UPDATE bridge_state SET epoch = chosen WHERE id = 1 AND epoch <> chosen;
  RETURN chosen;
END
$$;

-- The envelope (0010) with the epoch of its batch as one more key, last. The three-argument form
-- stays as it was (envelope.test.ts compares it with 0007's).
CREATE FUNCTION order_event_envelope(e order_events, pos bigint, published timestamptz, epoch int) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT left(order_event_envelope(e, pos, published), -1) || ',"epoch":' || coalesce(epoch::text, 'null') || '}'
$$;

-- 0007's mapping from positions to events, with each batch's epoch.
DROP FUNCTION order_event_positions(bigint, bigint);
CREATE FUNCTION order_event_positions(lo bigint, hi bigint)
RETURNS TABLE ("position" bigint, id bigint, published_at timestamptz, epoch int)
LANGUAGE sql STABLE AS $$
  SELECT b.first_position + u.n - 1, u.id, b.published_at, b.epoch
  FROM order_event_batches b
  CROSS JOIN LATERAL unnest(b.ids) WITH ORDINALITY AS u(id, n)
  WHERE b.first_position BETWEEN
          coalesce((SELECT max(first_position) FROM order_event_batches WHERE first_position <= lo), lo)
          AND hi
    AND b.first_position + u.n - 1 BETWEEN lo AND hi
$$;

CREATE OR REPLACE VIEW order_event_log AS
  SELECT b.first_position + u.n - 1 AS position, b.published_at, e.*, b.epoch
  FROM order_event_batches b
  CROSS JOIN LATERAL unnest(b.ids) WITH ORDINALITY AS u(id, n)
  JOIN order_events e ON e.id = u.id;

-- Down Migration

DROP VIEW IF EXISTS order_event_log;
CREATE VIEW order_event_log AS
  SELECT b.first_position + u.n - 1 AS position, b.published_at, e.*
  FROM order_event_batches b
  CROSS JOIN LATERAL unnest(b.ids) WITH ORDINALITY AS u(id, n)
  JOIN order_events e ON e.id = u.id;

DROP FUNCTION IF EXISTS order_event_positions(bigint, bigint);
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

DROP FUNCTION IF EXISTS order_event_envelope(order_events, bigint, timestamptz, int);
DROP FUNCTION IF EXISTS order_events_epoch();
ALTER TABLE order_event_batches DROP COLUMN IF EXISTS epoch;
ALTER TABLE bridge_state DROP COLUMN IF EXISTS epoch;
DROP TABLE IF EXISTS log_epochs;
DROP FUNCTION IF EXISTS order_events_timeline();
