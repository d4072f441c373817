-- Up Migration

-- One order's history (GET /orders/:id/events, issue 20): its events by order id, newest first,
-- and each event's position through the batch whose ids hold it. The order index is one more
-- entry per captured row, in the writer's transaction (bench capture-cost measures it); the
-- batches' GIN index is written by the bridge, once per batch, through its pending list.
-- Built without CONCURRENTLY (migrations run in a transaction): on a large log, writes wait for
-- the build.
CREATE INDEX order_events_order_idx ON order_events (order_id, id) WHERE order_id IS NOT NULL;
CREATE INDEX order_event_batches_ids_idx ON order_event_batches USING gin (ids);

-- Down Migration

DROP INDEX IF EXISTS order_event_batches_ids_idx;
DROP INDEX IF EXISTS order_events_order_idx;
