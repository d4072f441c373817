-- Up Migration

-- The durable change log. The capture triggers write one row per changed order inside the
-- writer's own transaction, so a change and its event commit or roll back together. `position`
-- stays null until the bridge leader numbers the event; `published_at` stays null until RabbitMQ
-- has confirmed it.
CREATE TABLE order_events (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  position     bigint      CONSTRAINT order_events_position_key UNIQUE,
  op           text        NOT NULL CHECK (op IN ('insert', 'update', 'delete', 'truncate')),
  order_id     bigint,
  version      integer,
  "order"      jsonb,
  changes      jsonb,
  source       text        NOT NULL CHECK (source IN ('api', 'sql')),
  actor        text        NOT NULL,
  txid         bigint      NOT NULL,
  occurred_at  timestamptz NOT NULL,
  published_at timestamptz,
  CHECK ((op = 'truncate') = (order_id IS NULL))
);

-- The bridge's hot reads: events still to be numbered (in capture order) and numbered events
-- still to be confirmed (in position order). Both indexes stay as small as the backlog.
CREATE INDEX order_events_unpositioned_idx ON order_events (id) WHERE position IS NULL;
CREATE INDEX order_events_unpublished_idx ON order_events (position)
  WHERE position IS NOT NULL AND published_at IS NULL;

-- Who made the change, computed once per statement. `orders_live.source = 'api'` is set with
-- SET LOCAL by the API; anything else (psql, any SQL client) is 'sql'. `orders_live.actor`, when
-- set, names the API caller; otherwise the actor is the database user and application_name.
CREATE FUNCTION order_events_context(OUT source text, OUT actor text, OUT txid bigint, OUT at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT
    CASE current_setting('orders_live.source', true) WHEN 'api' THEN 'api' ELSE 'sql' END,
    coalesce(
      nullif(current_setting('orders_live.actor', true), ''),
      current_user || coalesce('/' || nullif(current_setting('application_name'), ''), '')),
    pg_current_xact_id()::text::bigint,
    clock_timestamp()
$$;

-- The doorbell: one NOTIFY per capturing statement (PostgreSQL also folds identical notifications
-- of one transaction into one). Kept in its own function so the ringing policy can change alone.
CREATE FUNCTION order_events_ring() RETURNS void
LANGUAGE sql AS $$
  SELECT pg_notify('order_events', '')
$$;

-- {column: [old, new]} for every column that changed, but version and updated_at, which change
-- with every real update and say nothing on their own.
CREATE FUNCTION order_events_changes(old_row jsonb, new_row jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(n.key, jsonb_build_array(old_row -> n.key, n.value)), '{}'::jsonb)
  FROM jsonb_each(new_row) AS n
  WHERE n.key NOT IN ('version', 'updated_at') AND (old_row -> n.key) IS DISTINCT FROM n.value
$$;

CREATE FUNCTION orders_capture_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ctx record := order_events_context();
  n bigint;
BEGIN
  INSERT INTO order_events (op, order_id, version, "order", source, actor, txid, occurred_at)
  SELECT 'insert', r.id, r.version, to_jsonb(r), ctx.source, ctx.actor, ctx.txid, ctx.at
  FROM new_rows AS r;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN PERFORM order_events_ring(); END IF;
  RETURN NULL;
END
$$;

-- An update event only where the versioning trigger bumped the version, i.e. a column really
-- changed: `UPDATE orders SET status = status` captures nothing.
CREATE FUNCTION orders_capture_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ctx record := order_events_context();
  n bigint;
BEGIN
  INSERT INTO order_events (op, order_id, version, "order", changes, source, actor, txid, occurred_at)
  SELECT 'update', r.id, r.version, to_jsonb(r), order_events_changes(to_jsonb(o), to_jsonb(r)),
         ctx.source, ctx.actor, ctx.txid, ctx.at
  FROM new_rows AS r JOIN old_rows AS o ON o.id = r.id
  WHERE r.version <> o.version;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN PERFORM order_events_ring(); END IF;
  RETURN NULL;
END
$$;

-- A delete carries the last row and version + 1: a tombstone newer than any snapshot that still
-- shows the row, so "apply when the version is newer" removes it (docs/design.md, invariant 8).
CREATE FUNCTION orders_capture_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ctx record := order_events_context();
  n bigint;
BEGIN
  INSERT INTO order_events (op, order_id, version, "order", source, actor, txid, occurred_at)
  SELECT 'delete', o.id, o.version + 1, to_jsonb(o), ctx.source, ctx.actor, ctx.txid, ctx.at
  FROM old_rows AS o;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN PERFORM order_events_ring(); END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION orders_capture_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ctx record := order_events_context();
BEGIN
  INSERT INTO order_events (op, source, actor, txid, occurred_at)
  VALUES ('truncate', ctx.source, ctx.actor, ctx.txid, ctx.at);
  PERFORM order_events_ring();
  RETURN NULL;
END
$$;

CREATE TRIGGER orders_capture_insert AFTER INSERT ON orders
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION orders_capture_insert();
CREATE TRIGGER orders_capture_update AFTER UPDATE ON orders
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION orders_capture_update();
CREATE TRIGGER orders_capture_delete AFTER DELETE ON orders
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION orders_capture_delete();
CREATE TRIGGER orders_capture_truncate AFTER TRUNCATE ON orders
  FOR EACH STATEMENT EXECUTE FUNCTION orders_capture_truncate();

-- Down Migration

DROP TRIGGER IF EXISTS orders_capture_truncate ON orders;
DROP TRIGGER IF EXISTS orders_capture_delete ON orders;
DROP TRIGGER IF EXISTS orders_capture_update ON orders;
DROP TRIGGER IF EXISTS orders_capture_insert ON orders;
DROP FUNCTION IF EXISTS orders_capture_truncate();
DROP FUNCTION IF EXISTS orders_capture_delete();
DROP FUNCTION IF EXISTS orders_capture_update();
DROP FUNCTION IF EXISTS orders_capture_insert();
DROP FUNCTION IF EXISTS order_events_changes(jsonb, jsonb);
DROP FUNCTION IF EXISTS order_events_ring();
DROP FUNCTION IF EXISTS order_events_context();
DROP TABLE IF EXISTS order_events;
