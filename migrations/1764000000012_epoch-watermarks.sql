-- Up Migration

-- The watermarks belong to the history they were written in (invariant 9). A leader deposed by a
-- failover flushes what RabbitMQ confirmed as it goes; when that write reaches the promoted
-- standby it sets a watermark above the standby's log, and the next leader would start its
-- confirm window there: what it numbers below stays unpublished and a starting gateway begins
-- past it. So whoever becomes leader first brings both watermarks down to the last position this
-- server numbered (no position above it was ever confirmed here), and the bridge writes its
-- watermarks only while bridge_state still names the epoch it numbered under.
CREATE OR REPLACE FUNCTION order_events_epoch() RETURNS int
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
  UPDATE bridge_state
  SET epoch = chosen,
      confirmed_through = least(confirmed_through, last_numbered),
      events_confirmed_through = least(events_confirmed_through, last_numbered)
  WHERE id = 1
    AND (epoch <> chosen OR confirmed_through > last_numbered OR events_confirmed_through > last_numbered);
  RETURN chosen;
END
$$;

-- Down Migration

CREATE OR REPLACE FUNCTION order_events_epoch() RETURNS int
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
