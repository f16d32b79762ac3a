-- Background work: the task list, run_task(), run_due_work() and run_due_tasks(), the run log and
-- its trimming, a failing task, bad input and privileges.  The database's own worker
-- is first made idle (the settings row worker_enabled), so that it never runs a task
-- at the moment this test does; the rest runs in one transaction that is rolled back.
-- What the workers do is tested live in test/scenario/worker_*.t.
SET client_min_messages = warning;
INSERT INTO workorder.settings (name, value, description)
VALUES ('worker_enabled', 'off', 'worker test: the worker idles while run_task() is tested');
SELECT workorder.wake_worker() IS NOT NULL AS asked;
-- Wait (up to 10 s) until the worker idles.  Without preloading there is no worker.
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM workorder.worker_status s
                               WHERE s.datname = current_database()
                                 AND s.pid IS NOT NULL AND s.state <> 'disabled');
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT count(*) AS busy_workers FROM workorder.worker_status s
 WHERE s.datname = current_database() AND s.pid IS NOT NULL AND s.state <> 'disabled';

\set ON_ERROR_ROLLBACK on
BEGIN;
DELETE FROM workorder.worker_runs;

-- The tasks, in the order a pass runs them.
SELECT task, position, function, description FROM workorder.worker_tasks ORDER BY position;
SELECT * FROM workorder.due_tasks();

-- Nothing to do: no rows handled, nothing logged, nothing scheduled but the next
-- day's ticket row (ticket_day, at the next midnight in Beijing; today's is made
-- first, so that its run has nothing to do either).
SELECT workorder.prepare_ticket_day() IS NOT NULL AS today_ready;
SELECT * FROM workorder.run_task('drain_inbox');
SELECT * FROM workorder.run_task('trim_run_log');
SELECT workorder.run_due_work()
       = ((now() AT TIME ZONE 'Asia/Shanghai')::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai' AS next_due_is_midnight;
SELECT count(*) AS logged FROM workorder.worker_runs;

-- A backlog larger than a batch: a full batch is due again at once, the rest is
-- drained by the next run, which schedules nothing.  (The channel is unknown, so the
-- rows are rejected: processed all the same.)
INSERT INTO workorder.settings (name, value, description) VALUES ('drain_batch_rows', '2', 'worker test');
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
SELECT 'no-such-channel', 'WK-' || i, '0301', '测试', '122.05', '30.05' FROM generate_series(1, 3) i;
SELECT ok, rows, detail, next_due = now() AS due_at_once FROM workorder.run_task('drain_inbox');
SELECT ok, rows, detail, next_due FROM workorder.run_task('drain_inbox');
SELECT state, error_code, count(*) FROM workorder.inbox WHERE channel_ref LIKE 'WK-%' GROUP BY 1, 2;
SELECT task, ok, rows, detail, backend_pid = pg_backend_pid() AS by_me
  FROM workorder.worker_runs ORDER BY id;

-- A task that fails is rolled back alone, logged with ok = false and reported with a
-- WARNING; the tasks after it still run.
CREATE FUNCTION public.worker_test_broken() RETURNS workorder.task_outcome
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM workorder.settings WHERE name = 'drain_batch_rows';
    RETURN (1 / 0, 'never', NULL)::workorder.task_outcome;
END
$$;
-- A task's function must be a member of the extension (run_task runs as the owner).
ALTER EXTENSION workorder ADD FUNCTION public.worker_test_broken();
INSERT INTO workorder.worker_tasks (task, position, function, description)
VALUES ('broken', 150, 'public.worker_test_broken', 'worker test: always fails');
SELECT * FROM workorder.due_tasks();
SELECT * FROM workorder.run_task('broken');
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('no-such-channel', 'WK-4', '0301', '测试', '122.05', '30.05');
SELECT workorder.run_due_work()
       = ((now() AT TIME ZONE 'Asia/Shanghai')::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai' AS next_due_is_midnight;
SELECT value AS batch_setting_kept FROM workorder.settings WHERE name = 'drain_batch_rows';
SELECT task, ok, rows, detail FROM workorder.worker_runs ORDER BY id;
DELETE FROM workorder.worker_tasks WHERE task = 'broken';

-- Trimming: rows past the retention go, and of the rest the newest are kept, with
-- the last place left for the trim's own line.  The retention is 24 hours, not
-- 1 day: pg_regress runs in PST8PDT, where now() - '1 day' is 23 or 25 hours ago
-- for a day after a daylight-saving switch.
INSERT INTO workorder.settings (name, value, description)
VALUES ('run_log_max_rows', '3', 'worker test'), ('run_log_retention', '24 hours', 'worker test');
INSERT INTO workorder.worker_runs (started_at, finished_at, task, ok, detail, rows)
SELECT now() - i * interval '1 hour', now() - i * interval '1 hour', 'filler', true, i || ' hours ago', 1
  FROM generate_series(30, 1, -1) i;
SELECT ok, rows, detail, next_due FROM workorder.run_task('trim_run_log');
SELECT task, detail, rows FROM workorder.worker_runs ORDER BY id;

-- Bad input: an unknown task.
\set SHOW_CONTEXT never
SELECT * FROM workorder.run_task('no_such_task');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM workorder.run_task(NULL);
\echo :LAST_ERROR_SQLSTATE
\set SHOW_CONTEXT errors

-- The wake functions answer whether there is something to wake, and never fail.
SELECT workorder.wake_launcher() IS NOT NULL AS launcher_asked,
       workorder.wake_worker() IS NOT NULL AS worker_asked;

-- Nothing is granted to PUBLIC; the run log's rows are not kept by pg_dump, the
-- tasks are, but for those still as shipped (CREATE EXTENSION makes them).
SELECT p AS function, has_function_privilege('public', p, 'EXECUTE') AS public_may_execute
  FROM unnest(ARRAY['workorder.run_due_work()', 'workorder.run_task(text)', 'workorder.due_tasks()',
                    'workorder.wake_launcher()', 'workorder.wake_worker()', 'workorder.worker_slots()',
                    'workorder.task_drain_inbox()', 'workorder.task_trim_run_log()']::regprocedure[]) p;
SELECT c AS relation, has_table_privilege('public', c, 'SELECT') AS public_may_select
  FROM unnest(ARRAY['workorder.worker_runs', 'workorder.worker_tasks', 'workorder.worker_status']::regclass[]) c;
SELECT cfg.oid::regclass AS dumped_worker_table, cfg.condition
  FROM pg_extension e, unnest(e.extconfig, e.extcondition) cfg(oid, condition)
 WHERE e.extname = 'workorder'
   AND cfg.oid IN ('workorder.worker_runs'::regclass, 'workorder.worker_tasks'::regclass, 'workorder.worker_tasks_removed'::regclass)
 ORDER BY 1::text;
ROLLBACK;

-- run_due_tasks(), for pg_cron, runs each task in a READ COMMITTED transaction of
-- its own, committed: under a session default of REPEATABLE READ the inbox is
-- drained (run_due_work() runs in its caller's transaction, where intake refuses,
-- WO307), and the tasks that log a run log them from transactions of their own.
-- (An old run gives the trim something to do; today's ticket row is made first, so
-- that whether ticket_day has work does not depend on the hour.)
SELECT workorder.prepare_ticket_day() IS NOT NULL AS today_ready;
DELETE FROM workorder.worker_runs;
INSERT INTO workorder.worker_runs (started_at, finished_at, task, ok, detail, rows)
VALUES (now() - interval '30 days', now() - interval '30 days', 'filler', true, 'a month ago', 1);
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('no-such-channel', 'WK-CALL', '0301', '测试', '122.05', '30.05');
SET default_transaction_isolation = 'repeatable read';
CALL workorder.run_due_tasks();
RESET default_transaction_isolation;
SELECT state, error_code FROM workorder.inbox WHERE channel_ref = 'WK-CALL';
SELECT task, ok, rows FROM workorder.worker_runs WHERE task IN ('drain_inbox', 'trim_run_log') ORDER BY id;
SELECT count(DISTINCT xmin::text) = count(*) AS each_its_own_transaction, count(*) >= 2 AS two_or_more
  FROM workorder.worker_runs;
-- Inside a transaction block it cannot commit.
BEGIN;
\set SHOW_CONTEXT never
CALL workorder.run_due_tasks();
\set SHOW_CONTEXT errors
ROLLBACK;
DELETE FROM workorder.inbox WHERE channel_ref = 'WK-CALL';
DELETE FROM workorder.worker_runs;

-- The worker works again.
DELETE FROM workorder.settings WHERE name = 'worker_enabled';
SELECT workorder.wake_worker() IS NOT NULL AS asked;
