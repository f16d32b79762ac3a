-- The per-backend caches (the reference data, src/refcache.c; the calendars,
-- src/calendar.c) and parallel queries.  A lookup made while a parallel query runs
-- cannot take the latest snapshot, and reads with the query's; that copy serves
-- that query only.  (It was kept for the rest of the transaction: under REPEATABLE
-- READ, whose snapshot is the transaction's, every later statement was answered
-- from data older than what the same statement answered without the parallel
-- query in between, until another change came.)  Another session (a dblink
-- connection) commits the changes; this file's transaction is REPEATABLE READ.
\set QUIET 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT format('dbname=%s port=%s host=%s user=%s', current_database(), current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1), current_user) AS other \gset
SELECT dblink_connect('snap_other', :'other') AS connected \gset
SELECT dblink_exec('snap_other', $$
    INSERT INTO workorder.settings (name, value, description) VALUES ('district_leader', 'v1', 'cache_snapshot_test');
    INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('t-snap', 'snap', 'Asia/Shanghai');
    INSERT INTO workorder.calendar_hours (calendar_code, isodow, starts, ends)
    SELECT 't-snap', d, '09:00', '17:00' FROM generate_series(1, 5) d;
    CREATE TABLE public.cache_snapshot_rows AS SELECT g FROM generate_series(1, 1000) g;
    ANALYZE public.cache_snapshot_rows$$) AS made \gset

BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT plan(5);
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;

-- The query the lookups run in is a parallel one (else this file tests nothing).
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
SELECT ok(pg_temp.plan_of($$SELECT count(*), workorder.setting('district_leader', 'none') FROM public.cache_snapshot_rows$$) LIKE '%Gather%',
          'the lookups below run in a parallel query');

-- The transaction's snapshot: taken here.
SELECT is(workorder.setting('district_leader', 'none'), 'v1', 'the setting is v1 when the transaction begins');
SELECT is(workorder.add_working_days('2026-03-16 10:00+08', 1, 't-snap'), '2026-03-17 17:00+08'::timestamptz,
          'a working day after Monday on t-snap is Tuesday');

-- Another session commits a new value and a holiday; then a parallel query looks
-- both up, then plain statements do.
SELECT dblink_exec('snap_other', $$
    UPDATE workorder.settings SET value = 'v2' WHERE name = 'district_leader';
    INSERT INTO workorder.calendar_days (calendar_code, day, kind, name) VALUES ('t-snap', '2026-03-17', 'holiday', 'committed meanwhile')$$)
    AS changed \gset
\o /dev/null
SELECT count(*), workorder.setting('district_leader', 'none'),
       workorder.add_working_days('2026-03-16 10:00+08', 1, 't-snap')
  FROM public.cache_snapshot_rows;
\o
SELECT is(workorder.setting('district_leader', 'none'), 'v2',
          'after a parallel query, a statement reads the setting another session committed, as it does without one');
SELECT is(workorder.add_working_days('2026-03-16 10:00+08', 1, 't-snap'), '2026-03-18 17:00+08'::timestamptz,
          '... and the holiday: a working day after Monday is Wednesday');

SELECT * FROM finish();
ROLLBACK;

SELECT dblink_exec('snap_other', $$
    DELETE FROM workorder.settings WHERE name = 'district_leader';
    DELETE FROM workorder.calendars WHERE code = 't-snap';
    DROP TABLE public.cache_snapshot_rows$$) AS removed \gset
SELECT dblink_disconnect('snap_other') AS disconnected \gset
