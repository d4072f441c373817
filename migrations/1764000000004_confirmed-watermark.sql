-- Up Migration

-- "Published" becomes a watermark instead of a second UPDATE of every event row: batches are
-- confirmed in position order, so the events RabbitMQ has confirmed are exactly those with
-- position <= confirmed_through. Each event is now written twice (captured, numbered) instead of
-- three times. `published_at` is stamped when the bridge numbers a batch (the time it then
-- publishes it, the same value as in the envelope).
ALTER TABLE bridge_state ADD COLUMN confirmed_through bigint NOT NULL DEFAULT 0;
UPDATE bridge_state SET confirmed_through = coalesce(
  (SELECT max(position) FROM order_events WHERE published_at IS NOT NULL), 0);
-- Numbered but unconfirmed rows get the stamp they will be republished with.
UPDATE order_events SET published_at = clock_timestamp() WHERE position IS NOT NULL AND published_at IS NULL;
DROP INDEX IF EXISTS order_events_unpublished_idx;

-- What is still to publish: events not yet numbered, plus numbered ones above the watermark, and
-- the capture time of the oldest of them. One definition for the bridge's metrics, doctor and
-- the tests.
CREATE FUNCTION order_events_backlog(OUT events bigint, OUT oldest timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT
    (SELECT count(*) FROM order_events WHERE position IS NULL) + (s.last_position - s.confirmed_through),
    least(
      (SELECT min(occurred_at) FROM order_events WHERE position IS NULL),
      (SELECT occurred_at FROM order_events WHERE position = s.confirmed_through + 1))
  FROM bridge_state s WHERE s.id = 1
$$;

-- Down Migration

DROP FUNCTION IF EXISTS order_events_backlog();
CREATE INDEX order_events_unpublished_idx ON order_events (position)
  WHERE position IS NOT NULL AND published_at IS NULL;
UPDATE order_events e SET published_at = NULL
  FROM bridge_state s WHERE e.position > s.confirmed_through;
ALTER TABLE bridge_state DROP COLUMN confirmed_through;
