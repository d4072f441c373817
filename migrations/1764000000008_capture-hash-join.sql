-- Up Migration

-- The update capture joins the statement's old and new rows (two transition tables) by id.
-- PL/pgSQL plans that INSERT once per connection, at its first run, from the row count of that
-- first statement's transition tables, and keeps the plan for every later statement: a
-- connection whose first UPDATE changed one row got a nested loop, and every later bulk UPDATE
-- on it paid rows × rows comparisons. Measured on one connection after a 1-row UPDATE: 2,000 rows
-- took 346 ms and 5,000 rows 1,900 ms, against 51 and 97 ms on a fresh connection; writers whose
-- statements grew under load slowed down further with every statement (BENCHMARKS.md,
-- throughput). Without nested loops the join is a hash join whatever the first statement was;
-- a single-row UPDATE costs the same within the noise of pgbench (8 writers, 3 runs each).
ALTER FUNCTION orders_capture_update() SET enable_nestloop = off;

-- Down Migration

ALTER FUNCTION orders_capture_update() RESET enable_nestloop;
