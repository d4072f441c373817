-- Up Migration

-- The bridge leader's counter: the last position it handed out. Positions come from this row,
-- not from a sequence, because a sequence leaves gaps on rollback and positions must not; the
-- row lock also serialises two would-be leaders. Retention may delete every old event: the
-- counter still never goes back.
CREATE TABLE bridge_state (
  id            integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  last_position bigint  NOT NULL DEFAULT 0
);
INSERT INTO bridge_state DEFAULT VALUES;

-- Down Migration

DROP TABLE IF EXISTS bridge_state;
