-- Up Migration

-- The doorbell rings only when the bridge may be waiting. PostgreSQL serialises the commits of
-- notifying transactions on one global lock, so a NOTIFY per statement costs writers most of
-- the database's throughput under concurrency (docs/design.md, "What the doorbell costs").
-- While the bridge leader is draining it holds a lease here (`quiet_until` in the future) and
-- polls; the capture triggers then skip the NOTIFY. When it goes idle it lets the lease go,
-- drains once more and sleeps until the bell or its slow poll. A bridge that dies stops renewing
-- the lease: within LEASE seconds writers ring again, so with no bridge running the trigger rings.
CREATE TABLE bridge_doorbell (
  id          integer     PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  quiet_until timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO bridge_doorbell DEFAULT VALUES;

CREATE OR REPLACE FUNCTION order_events_ring() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  -- A missing row reads as NULL: ring. clock_timestamp(), not now(): a long transaction must not
  -- see a lease as still valid because the transaction started while it was.
  IF (SELECT quiet_until FROM bridge_doorbell WHERE id = 1) > clock_timestamp() THEN
    RETURN;
  END IF;
  PERFORM pg_notify('order_events', '');
END
$$;

-- Event rows carry the order as to_jsonb made it; its timestamps would follow the writing
-- session's TimeZone (+01:00 from one psql, +00:00 from another). Fixed to UTC for all writers.
ALTER FUNCTION orders_capture_insert() SET timezone = 'UTC';
ALTER FUNCTION orders_capture_update() SET timezone = 'UTC';
ALTER FUNCTION orders_capture_delete() SET timezone = 'UTC';

-- Down Migration

ALTER FUNCTION orders_capture_insert() RESET timezone;
ALTER FUNCTION orders_capture_update() RESET timezone;
ALTER FUNCTION orders_capture_delete() RESET timezone;

CREATE OR REPLACE FUNCTION order_events_ring() RETURNS void
LANGUAGE sql AS $$
  SELECT pg_notify('order_events', '')
$$;

DROP TABLE IF EXISTS bridge_doorbell;
