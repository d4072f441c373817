-- Up Migration

-- Capture at less than half its former cost per statement (BENCHMARKS.md, "What migration 0005
-- changed in capture cost"). Three things made a single-row UPDATE pay about twice what the log
-- write itself costs:
--   * order_events_context() returned a record: PL/pgSQL ran it as a query of its own, and the
--     INSERT then took its fields as parameters, so PostgreSQL planned the INSERT anew for every
--     statement instead of reusing one plan;
--   * order_events_changes() aggregated over jsonb_each(): a SQL function PostgreSQL cannot
--     inline is parsed and planned again for every statement that calls it;
--   * both ran once per statement, which for the common single-row write is once per row.
-- Now the writer's context comes from scalar SQL functions PostgreSQL inlines into the INSERT's
-- cached plan, evaluated once per statement (as init-plans), and `changes` is built from the
-- columns of orders directly. The events written are the same as before.

CREATE FUNCTION order_events_source() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE current_setting('orders_live.source', true) WHEN 'api' THEN 'api' ELSE 'sql' END
$$;

CREATE FUNCTION order_events_actor() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('orders_live.actor', true), ''),
    current_user || coalesce('/' || nullif(current_setting('application_name'), ''), ''))
$$;

-- {column: [old, new]} for every column that changed, but version and updated_at, which change
-- with every real update and say nothing on their own, and id, which cannot change. A column
-- added to orders must be added here too (test/integration/capture.test.ts checks that every
-- column is covered).
CREATE FUNCTION order_events_changes(o orders, r orders) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'customer_name', CASE WHEN r.customer_name IS DISTINCT FROM o.customer_name
                          THEN jsonb_build_array(o.customer_name, r.customer_name) END,
    'product_name',  CASE WHEN r.product_name IS DISTINCT FROM o.product_name
                          THEN jsonb_build_array(o.product_name, r.product_name) END,
    'status',        CASE WHEN r.status IS DISTINCT FROM o.status
                          THEN jsonb_build_array(o.status, r.status) END,
    'created_at',    CASE WHEN r.created_at IS DISTINCT FROM o.created_at
                          THEN jsonb_build_array(o.created_at, r.created_at) END))
$$;

CREATE OR REPLACE FUNCTION orders_capture_insert() RETURNS trigger
LANGUAGE plpgsql SET timezone = 'UTC' AS $$
BEGIN
  INSERT INTO order_events (op, order_id, version, "order", source, actor, txid, occurred_at)
  SELECT 'insert', r.id, r.version, to_jsonb(r),
         (SELECT order_events_source()), (SELECT order_events_actor()),
         (SELECT pg_current_xact_id()::text::bigint), (SELECT clock_timestamp())
  FROM new_rows AS r;
  IF FOUND THEN PERFORM order_events_ring(); END IF;
  RETURN NULL;
END
$$;

-- An update event only where the versioning trigger bumped the version, i.e. a column really
-- changed: `UPDATE orders SET status = status` captures nothing.
CREATE OR REPLACE FUNCTION orders_capture_update() RETURNS trigger
LANGUAGE plpgsql SET timezone = 'UTC' AS $$
BEGIN
  INSERT INTO order_events (op, order_id, version, "order", changes, source, actor, txid, occurred_at)
  SELECT 'update', r.id, r.version, to_jsonb(r), order_events_changes(o, r),
         (SELECT order_events_source()), (SELECT order_events_actor()),
         (SELECT pg_current_xact_id()::text::bigint), (SELECT clock_timestamp())
  FROM new_rows AS r JOIN old_rows AS o ON o.id = r.id
  WHERE r.version <> o.version;
  IF FOUND THEN PERFORM order_events_ring(); END IF;
  RETURN NULL;
END
$$;

-- A delete carries the last row and version + 1: a tombstone newer than any snapshot that still
-- shows the row, so "apply when the version is newer" removes it (docs/design.md, invariant 8).
CREATE OR REPLACE FUNCTION orders_capture_delete() RETURNS trigger
LANGUAGE plpgsql SET timezone = 'UTC' AS $$
BEGIN
  INSERT INTO order_events (op, order_id, version, "order", source, actor, txid, occurred_at)
  SELECT 'delete', o.id, o.version + 1, to_jsonb(o),
         (SELECT order_events_source()), (SELECT order_events_actor()),
         (SELECT pg_current_xact_id()::text::bigint), (SELECT clock_timestamp())
  FROM old_rows AS o;
  IF FOUND THEN PERFORM order_events_ring(); END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION orders_capture_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO order_events (op, source, actor, txid, occurred_at)
  VALUES ('truncate', order_events_source(), order_events_actor(), pg_current_xact_id()::text::bigint,
          clock_timestamp());
  PERFORM order_events_ring();
  RETURN NULL;
END
$$;

DROP FUNCTION order_events_changes(jsonb, jsonb);
DROP FUNCTION order_events_context();

-- Down Migration

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

CREATE FUNCTION order_events_changes(old_row jsonb, new_row jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(n.key, jsonb_build_array(old_row -> n.key, n.value)), '{}'::jsonb)
  FROM jsonb_each(new_row) AS n
  WHERE n.key NOT IN ('version', 'updated_at') AND (old_row -> n.key) IS DISTINCT FROM n.value
$$;

CREATE OR REPLACE FUNCTION orders_capture_insert() RETURNS trigger
LANGUAGE plpgsql SET timezone = 'UTC' AS $$
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

CREATE OR REPLACE FUNCTION orders_capture_update() RETURNS trigger
LANGUAGE plpgsql SET timezone = 'UTC' AS $$
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

CREATE OR REPLACE FUNCTION orders_capture_delete() RETURNS trigger
LANGUAGE plpgsql SET timezone = 'UTC' AS $$
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

CREATE OR REPLACE FUNCTION orders_capture_truncate() RETURNS trigger
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

DROP FUNCTION order_events_changes(orders, orders);
DROP FUNCTION order_events_actor();
DROP FUNCTION order_events_source();
