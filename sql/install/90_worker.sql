-- workorder install script, part 90: the background work.
--
-- The periodic work of a database is a list of tasks, workorder.worker_tasks, run
-- in order.  Each task is a function returning a workorder.task_outcome: how many
-- rows it handled, a line for the run log, and the instant it is next due (NULL
-- when it has nothing scheduled).  workorder.run_task(task) runs one task; the
-- background worker of the database (src/worker.c, started by the launcher when the
-- module is in shared_preload_libraries) calls it once per task, each in its own
-- transaction, and sleeps until the earliest instant returned, at most
-- workorder.worker_naptime.  Without preloading, workorder.run_due_work() runs all
-- the tasks in the caller's transaction (a pg_cron job can call it every minute);
-- it is safe to run while a worker runs.
--
-- Either way, a task runs in a subtransaction of its own inside run_task(): one task
-- that fails is rolled back, written to the run log with ok = false and the error,
-- and the others still run.  Each task takes a transaction-level lock first, with
-- workorder.try_lock_xact (the extension's own, part 03, which no session outside
-- the extension can hold to keep a task from running): two sessions never run the
-- same task at once, and neither waits for the other (the one that does not get
-- the lock skips the task).
--
-- Later issues plug their tasks in by adding a row to workorder.worker_tasks
-- (deadline warnings, overdue marking, escalation, outbox retries, ...).
--
-- Settings (workorder.settings rows, per database):
--   worker_enabled     'off' makes this database's worker idle (default 'on'); the
--                      setting workorder.worker_enabled (postgresql.conf) does the
--                      same for every database
--   drain_batch_rows   inbox rows one drain takes (default 1000)
--   run_log_retention  run log rows older than this are deleted (default '7 days')
--   run_log_max_rows   the run log keeps at most this many rows (default 10000)
--
-- Notifications: a later issue will NOTIFY the channel 'workorder' with a JSON
-- payload when background work changes an order (a deadline warning, an order
-- overdue), for connectors that LISTEN.  Waking a worker is not done by NOTIFY,
-- which a background worker cannot receive, but by workorder.wake_worker().

-- worker_runs is the run log: one row per task run that handled rows or failed.
CREATE TABLE workorder.worker_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    task        text NOT NULL,
    ok          boolean NOT NULL,
    detail      text,
    rows        integer NOT NULL DEFAULT 0,
    backend_pid integer NOT NULL DEFAULT pg_catalog.pg_backend_pid()
);
REVOKE ALL ON workorder.worker_runs FROM PUBLIC;
COMMENT ON TABLE workorder.worker_runs IS
    'Run log of the background tasks: one row per run that handled rows or failed; trimmed by the task trim_run_log.';
COMMENT ON COLUMN workorder.worker_runs.detail IS 'what the task did, or the error (message and SQLSTATE) when ok is false';
COMMENT ON COLUMN workorder.worker_runs.rows IS 'rows the task handled';
COMMENT ON COLUMN workorder.worker_runs.backend_pid IS 'the process that ran the task: a worker, or a session calling run_due_work()';

-- task_outcome is what a task function returns.
CREATE TYPE workorder.task_outcome AS (
    rows     integer,      -- rows handled; a run with 0 rows that did not fail is not logged
    detail   text,         -- a line for the run log
    next_due timestamptz   -- when the task wants to run again; NULL: nothing scheduled
);

-- task_failed_orders is the end of a task's detail that names the orders it skipped
-- because their work failed: '' when none failed, else how many, the first 20 ids
-- and the first error.  (The worker logs the detail in workorder.worker_runs.)
CREATE FUNCTION workorder.task_failed_orders(failed bigint[], first_error text)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN COALESCE(pg_catalog.cardinality(failed), 0) OPERATOR(pg_catalog.=) 0 THEN ''
                ELSE pg_catalog.format('; %s orders failed and were skipped (ids %s%s): %s',
                                       pg_catalog.cardinality(failed),
                                       pg_catalog.array_to_string(failed[1:20], ', '),
                                       CASE WHEN pg_catalog.cardinality(failed) OPERATOR(pg_catalog.>) 20 THEN ', ...' ELSE '' END,
                                       COALESCE(first_error, 'no message')) END
$$;

-- worker_tasks lists the tasks, in the order a pass runs them.  The extension's
-- scripts make them (shipped), and pg_dump leaves them out while they are as
-- shipped: CREATE EXTENSION makes them again.  An admin may change a task (its
-- position, say), add one, or delete one (the district does not purge its history):
-- a changed or added task is dumped, and restored over the shipped one; a deleted
-- one is recorded in worker_tasks_removed, whose restore deletes the shipped task
-- again.  Before, none of it was dumped, and a restore brought back, for one, the
-- purge the district had stopped.
CREATE TABLE workorder.worker_tasks (
    task        text PRIMARY KEY,
    position    integer NOT NULL UNIQUE,
    function    regproc NOT NULL,
    description text NOT NULL,
    shipped     boolean NOT NULL DEFAULT false
);
SELECT pg_catalog.pg_extension_config_dump('workorder.worker_tasks', 'WHERE NOT shipped');
REVOKE ALL ON workorder.worker_tasks FROM PUBLIC;
COMMENT ON TABLE workorder.worker_tasks IS
    'The background tasks, run in position order by the worker and by run_due_work(); function returns workorder.task_outcome.';
COMMENT ON COLUMN workorder.worker_tasks.shipped IS
    'True while the task is exactly as the extension''s scripts made it; pg_dump leaves such a task out.';

-- worker_tasks_before_write keeps the shipped flag: a change of a task clears it.
-- A restored task takes the place of the shipped one of its name, and a restored
-- task at a position a shipped one holds moves that one aside (before the first
-- task: a position no task holds; minus its position could be a district task's):
-- in the source that task was moved or deleted, and its own row or its removal,
-- restored too, puts it right.
CREATE FUNCTION workorder.worker_tasks_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        -- (Not the updates this trigger makes below: a shipped task moved aside is
        -- still as shipped for the removal that may follow.)
        IF pg_catalog.pg_trigger_depth() OPERATOR(pg_catalog.=) 1
           AND (NEW.task, NEW.position, NEW.function, NEW.description)
               IS DISTINCT FROM (OLD.task, OLD.position, OLD.function, OLD.description) THEN
            NEW.shipped := false;
        END IF;
        RETURN NEW;
    END IF;
    IF workorder.loaded_by_restore('workorder.worker_tasks') THEN
        UPDATE workorder.worker_tasks t
           SET position = (SELECT pg_catalog.min(x.position) FROM workorder.worker_tasks x) OPERATOR(pg_catalog.-) 1
         WHERE t.position OPERATOR(pg_catalog.=) NEW.position AND t.task OPERATOR(pg_catalog.<>) NEW.task
           AND t.shipped;
        UPDATE workorder.worker_tasks t
           SET position = NEW.position, function = NEW.function, description = NEW.description, shipped = NEW.shipped
         WHERE t.task OPERATOR(pg_catalog.=) NEW.task AND t.shipped;
        IF FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER worker_tasks_before_write
    BEFORE INSERT OR UPDATE ON workorder.worker_tasks
    FOR EACH ROW EXECUTE FUNCTION workorder.worker_tasks_before_write();

-- worker_tasks_removed lists the tasks a district deleted (see worker_tasks).
-- Every deleted name is recorded (a changed shipped task is no longer shipped, and
-- deleting it left the shipped one to come back too); the record stays when a task
-- of that name is made again.  Dumped whole.
CREATE TABLE workorder.worker_tasks_removed (
    task       text PRIMARY KEY,
    removed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('workorder.worker_tasks_removed', '');
REVOKE ALL ON workorder.worker_tasks_removed FROM PUBLIC;
COMMENT ON TABLE workorder.worker_tasks_removed IS
    'Background tasks deleted by the district: kept by pg_dump, so that a restore deletes the shipped ones again.';

-- A deleted task is recorded (record_removal, part 85), a truncated one too.
CREATE TRIGGER worker_tasks_removed
    AFTER DELETE ON workorder.worker_tasks
    FOR EACH ROW EXECUTE FUNCTION workorder.record_removal('workorder.worker_tasks_removed', 'task');
CREATE TRIGGER worker_tasks_truncated
    BEFORE TRUNCATE ON workorder.worker_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.record_removal('workorder.worker_tasks_removed', 'task');

-- worker_tasks_removed_after_insert deletes the task a record names while it is
-- still as shipped: on a restore, the one CREATE EXTENSION made again (a task the
-- district made again under that name is its own, and stays).  Not a record the
-- triggers above write: their task is deleted already, or about to be truncated.
CREATE FUNCTION workorder.worker_tasks_removed_after_insert()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF pg_catalog.pg_trigger_depth() OPERATOR(pg_catalog.>) 1 THEN
        RETURN NULL;
    END IF;
    DELETE FROM workorder.worker_tasks t WHERE t.task OPERATOR(pg_catalog.=) NEW.task AND t.shipped;
    RETURN NULL;
END
$$;
CREATE TRIGGER worker_tasks_removed_after_insert
    AFTER INSERT ON workorder.worker_tasks_removed
    FOR EACH ROW EXECUTE FUNCTION workorder.worker_tasks_removed_after_insert();
ALTER TABLE workorder.worker_tasks_removed ENABLE ALWAYS TRIGGER worker_tasks_removed_after_insert;

-- task_drain_inbox makes orders of pending inbox rows, one batch per run.  A full
-- batch means there may be more: it is due again at once; so do rows never tried
-- that no drain holds (a batch whose rows partly failed for a reason not their own,
-- and wait for a retry, was counted partial: the drain waited a second between
-- batches, and transient failures of 1 % of the rows cut its rate to a third).
-- Rows never tried that another drain holds: due in a second; otherwise the task
-- is due when the first retry is (a second from now at the earliest, for a due
-- retry that another drain holds).
CREATE FUNCTION workorder.task_drain_inbox()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    batch integer := workorder.setting('drain_batch_rows', '1000')::integer;
    drained record;
    outcome workorder.task_outcome;
BEGIN
    outcome.rows := 0;
    IF pg_catalog.to_regprocedure('workorder.drain_inbox(integer)') IS NULL THEN
        RETURN outcome;
    END IF;
    SELECT d.accepted, d.rejected INTO drained FROM workorder.drain_inbox(batch) d;
    outcome.rows := drained.accepted OPERATOR(pg_catalog.+) drained.rejected;
    outcome.detail := pg_catalog.format('%s accepted, %s rejected', drained.accepted, drained.rejected);
    IF outcome.rows OPERATOR(pg_catalog.>=) batch
       OR EXISTS (SELECT FROM workorder.inbox i
                   WHERE i.state OPERATOR(pg_catalog.=) 'pending' AND i.retry_at IS NULL
                   LIMIT 1 FOR KEY SHARE SKIP LOCKED) THEN
        outcome.next_due := pg_catalog.now();
    ELSIF EXISTS (SELECT FROM workorder.inbox i
                   WHERE i.state OPERATOR(pg_catalog.=) 'pending' AND i.retry_at IS NULL) THEN
        outcome.next_due := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) interval '1 second';
    ELSE
        -- NULL when no row waits for a retry (GREATEST would skip the NULL).
        SELECT GREATEST(pg_catalog.min(i.retry_at), pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) interval '1 second')
          INTO outcome.next_due
          FROM workorder.inbox i
         WHERE i.state OPERATOR(pg_catalog.=) 'pending' AND i.retry_at IS NOT NULL
        HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0;
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_drain_inbox() FROM PUBLIC;

-- task_trim_run_log deletes run log rows older than run_log_retention and keeps at
-- most run_log_max_rows - 1 of the rest, the newest, leaving the last place to its
-- own line.  It is the last task of a pass, so after a pass the log never holds more
-- than run_log_max_rows rows.
CREATE FUNCTION workorder.task_trim_run_log()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    retention_text text := workorder.setting('run_log_retention', '7 days');
    retention interval := retention_text::interval;
    max_rows integer := GREATEST(workorder.setting('run_log_max_rows', '10000')::integer, 1);
    expired bigint;
    surplus bigint := 0;
    last_dropped bigint;
    outcome workorder.task_outcome;
BEGIN
    DELETE FROM workorder.worker_runs r
     WHERE r.started_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) retention);
    GET DIAGNOSTICS expired = ROW_COUNT;
    SELECT r.id INTO last_dropped FROM workorder.worker_runs r
     ORDER BY r.id DESC OFFSET (max_rows OPERATOR(pg_catalog.-) 1) LIMIT 1;
    IF last_dropped IS NOT NULL THEN
        DELETE FROM workorder.worker_runs r WHERE r.id OPERATOR(pg_catalog.<=) last_dropped;
        GET DIAGNOSTICS surplus = ROW_COUNT;
    END IF;
    outcome.rows := expired OPERATOR(pg_catalog.+) surplus;
    outcome.detail := pg_catalog.format('%s rows older than %s and %s rows over %s deleted',
                                        expired, retention_text, surplus, max_rows);
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_trim_run_log() FROM PUBLIC;

-- task_ticket_day makes today's row of ticket_days (Beijing's day, as tickets'), in
-- a transaction of its own and before the inbox is drained (prepare_ticket_day,
-- part 10), and is due again at the next midnight in Beijing.
CREATE FUNCTION workorder.task_ticket_day()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    today date := (pg_catalog.now() AT TIME ZONE 'Asia/Shanghai')::date;
    outcome workorder.task_outcome;
BEGIN
    IF workorder.prepare_ticket_day(today) THEN
        outcome.rows := 1;
        outcome.detail := pg_catalog.format('made the row of ticket day %s', today);
    ELSE
        outcome.rows := 0;
        outcome.detail := pg_catalog.format('the row of ticket day %s was there', today);
    END IF;
    outcome.next_due := (today OPERATOR(pg_catalog.+) 1)::timestamp AT TIME ZONE 'Asia/Shanghai';
    RETURN outcome;
END
$$;

INSERT INTO workorder.worker_tasks (task, position, function, description, shipped) VALUES
    ('ticket_day', 10, 'workorder.task_ticket_day',
     'make today''s row of ticket_days before the day''s first report, so that no report waits for another''s commit', true),
    ('drain_inbox', 100, 'workorder.task_drain_inbox', 'make orders of pending workorder.inbox rows', true),
    ('trim_run_log', 1000, 'workorder.task_trim_run_log', 'keep workorder.worker_runs within its retention and size', true);

-- restore_sessions names the session that created the extension in a restore: one
-- with row_security off, which pg_dump's scripts and pg_restore both set first (a
-- session of one's own rarely does; the extension's script runs with
-- check_function_bodies off whoever runs it, so that setting cannot tell).  Its
-- rows are not dumped (it is no configuration table), and one whose session has
-- ended holds nothing back.
CREATE TABLE workorder.restore_sessions (
    pid integer NOT NULL,
    backend_start timestamptz NOT NULL,
    PRIMARY KEY (pid, backend_start)
);
COMMENT ON TABLE workorder.restore_sessions IS
    'The session that created the extension in a restore (row_security off): the worker runs no task while it is connected.';
INSERT INTO workorder.restore_sessions (pid, backend_start)
SELECT a.pid, a.backend_start FROM pg_catalog.pg_stat_activity a
 WHERE a.pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()
   AND pg_catalog.current_setting('row_security') OPERATOR(pg_catalog.=) 'off';

-- due_tasks lists the tasks a pass runs, in order; none while pg_restore is
-- connected to this database, nor while the session that created the extension in
-- a restore is (restore_sessions: psql running a pg_dump script).  A restore that
-- is not one transaction creates the extension (which starts the worker) before it
-- loads the data: no task may act on a half-restored database (make today's row of
-- ticket_days, which the restored rows then collide with, so that the table's whole
-- COPY fails; drain restored inbox rows before the orders and the sequences are
-- back; log events that the restore then brings again).
CREATE FUNCTION workorder.due_tasks()
RETURNS SETOF text
LANGUAGE sql STABLE
SECURITY DEFINER
AS $$
    SELECT t.task FROM workorder.worker_tasks t
     WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                        WHERE (a.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()
                               AND a.application_name OPERATOR(pg_catalog.=) 'pg_restore')
                           OR EXISTS (SELECT 1 FROM workorder.restore_sessions r
                                       WHERE r.pid OPERATOR(pg_catalog.=) a.pid
                                         AND r.backend_start OPERATOR(pg_catalog.=) a.backend_start))
     ORDER BY t.position
$$;
REVOKE ALL ON FUNCTION workorder.due_tasks() FROM PUBLIC;

-- run_task runs one task and returns how it went: ok, the rows it handled, the line
-- it wrote to the run log (or the error) and the instant it is next due (NULL: nothing
-- scheduled).  When another session is running the task it returns at once, with ok
-- NULL, due again in a second.  An error of the task rolls back the task alone, is logged with ok = false,
-- and is returned with ok = false, after a WARNING.  An unknown task is an error
-- (WO901).  A task whose function is not a member of the extension is not run, and
-- fails as a task does, its detail naming WO902: run_task runs as the extension's
-- owner, and admins may edit worker_tasks, so a function of their own there would
-- have run with the owner's rights (a superuser's).  Only the extension's owner can
-- make a function a member (ALTER EXTENSION workorder ADD FUNCTION).
CREATE FUNCTION workorder.run_task(task text,
                                   OUT ok boolean, OUT rows integer, OUT detail text,
                                   OUT next_due timestamptz)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    task_function regproc;
    started timestamptz := pg_catalog.clock_timestamp();
    outcome workorder.task_outcome;
    err_code text;
    err_message text;
    err_detail text;
    err_context text;
BEGIN
    SELECT t.function INTO task_function FROM workorder.worker_tasks t
     WHERE t.task OPERATOR(pg_catalog.=) run_task.task;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO901', 'unknown background task',
            pg_catalog.format('The task is %s.', COALESCE(pg_catalog.quote_literal(task), 'NULL')),
            'workorder.due_tasks() lists the tasks.');
    END IF;
    rows := 0;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                      AND d.objid OPERATOR(pg_catalog.=) task_function::pg_catalog.oid
                      AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
                      AND d.refobjid OPERATOR(pg_catalog.=)
                          (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'workorder')
                      AND d.deptype OPERATOR(pg_catalog.=) 'e') THEN
        -- Not run, and a failure like a task's own (logged, a WARNING, ok = false),
        -- so that one such row does not stop run_due_work()'s other tasks.
        ok := false;
        detail := pg_catalog.format('not run: function %s is not a member of extension workorder, '
                                    'and a task runs with the rights of the extension''s owner (SQLSTATE WO902)',
                                    task_function);
        INSERT INTO workorder.worker_runs (started_at, finished_at, task, ok, detail)
        VALUES (started, pg_catalog.clock_timestamp(), task, false, run_task.detail);
        RAISE WARNING USING MESSAGE = pg_catalog.format('background task %s failed: %s', task, detail);
        RETURN;
    END IF;
    IF NOT workorder.try_lock_xact('workorder.worker_tasks', task) THEN
        detail := 'skipped: another session is running it';
        next_due := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) interval '1 second';
        RETURN;
    END IF;
    BEGIN
        EXECUTE pg_catalog.format('SELECT * FROM %s()', task_function) INTO outcome;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS err_code = RETURNED_SQLSTATE,
                                err_message = MESSAGE_TEXT,
                                err_detail = PG_EXCEPTION_DETAIL,
                                err_context = PG_EXCEPTION_CONTEXT;
        ok := false;
        detail := pg_catalog.format('%s%s (SQLSTATE %s)', err_message,
                                    COALESCE('. ' OPERATOR(pg_catalog.||) NULLIF(err_detail, ''), ''), err_code);
        INSERT INTO workorder.worker_runs (started_at, finished_at, task, ok, detail)
        VALUES (started, pg_catalog.clock_timestamp(), task, false, run_task.detail);
        -- Where it failed, in the task: the warning's own context is this function's
        -- RAISE, and the log said which task failed but not which statement.
        RAISE WARNING USING MESSAGE = pg_catalog.format('background task %s failed: %s', task, detail),
                            DETAIL = pg_catalog.format('It failed in: %s.',
                                                       pg_catalog.replace(COALESCE(NULLIF(err_context, ''), 'no context'),
                                                                          E'\n', '; '));
        RETURN;
    END;
    ok := true;
    rows := COALESCE(outcome.rows, 0);
    detail := outcome.detail;
    next_due := outcome.next_due;
    IF rows OPERATOR(pg_catalog.>) 0 THEN
        INSERT INTO workorder.worker_runs (started_at, finished_at, task, ok, detail, rows)
        VALUES (started, pg_catalog.clock_timestamp(), task, true, run_task.detail, run_task.rows);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION workorder.run_task(text) FROM PUBLIC;
COMMENT ON FUNCTION workorder.run_task(text) IS
    'Runs one background task (see workorder.worker_tasks); returns whether it went well, its rows and detail, and when it is next due.';

-- run_due_work runs every task, in order, in the caller's transaction, and returns
-- the earliest instant one of them is next due, or NULL.  A pg_cron job calls
-- run_due_tasks() below instead, which commits each task.
CREATE FUNCTION workorder.run_due_work()
RETURNS timestamptz
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    t text;
    next_due timestamptz;
BEGIN
    FOR t IN SELECT d.task FROM workorder.due_tasks() d(task) LOOP
        next_due := LEAST(next_due, (SELECT r.next_due FROM workorder.run_task(t) r));
    END LOOP;
    RETURN next_due;
END
$$;
REVOKE ALL ON FUNCTION workorder.run_due_work() FROM PUBLIC;
COMMENT ON FUNCTION workorder.run_due_work() IS
    'Runs every background task of this database now; safe beside a running worker; returns the next due instant, or NULL.';

-- run_due_tasks does what run_due_work does, as the worker does it: each task in a
-- transaction of its own, READ COMMITTED, committed before the next begins, with
-- lock waits bounded by workorder.task_lock_timeout (10 s when the module is not
-- loaded).  A function runs every task in its caller's one transaction: it held
-- each task's lock, and so kept the worker from it, until the last task ended;
-- its writes and notifications waited as long; one lock wait held the whole run
-- (a pg_cron job waited a minute behind an open transaction); and under REPEATABLE
-- READ intake refused to drain the inbox.  It is what a pg_cron job should call:
-- CALL workorder.run_due_tasks().  A procedure that commits: not inside a
-- transaction block.  (Not SECURITY DEFINER, nor given a search_path, which a
-- procedure that commits may not have: every name in it is qualified, and
-- run_task, which it calls, runs as the owner.)
CREATE PROCEDURE workorder.run_due_tasks()
LANGUAGE plpgsql
AS $$
DECLARE
    tasks text[] := ARRAY(SELECT d.task FROM workorder.due_tasks() d(task));
    t text;
BEGIN
    -- Each transaction is set READ COMMITTED by its first statement, right after
    -- the COMMIT that began it (the loop's next step would be a query before it).
    COMMIT;
    SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
    FOREACH t IN ARRAY tasks LOOP
        PERFORM pg_catalog.set_config('lock_timeout',
                                      COALESCE(pg_catalog.current_setting('workorder.task_lock_timeout', true), '10s'),
                                      true);
        PERFORM workorder.run_task(t);
        COMMIT;
        SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
    END LOOP;
END
$$;
REVOKE ALL ON PROCEDURE workorder.run_due_tasks() FROM PUBLIC;
COMMENT ON PROCEDURE workorder.run_due_tasks() IS
    'Runs every background task of this database now, each in its own READ COMMITTED transaction, committed; for pg_cron: CALL workorder.run_due_tasks().';

-- wake_launcher makes the launcher look at every database when the transaction
-- commits; wake_worker makes this database's worker make a pass when it commits.
-- Each returns whether there is a launcher (a worker) to wake; without the module in
-- shared_preload_libraries there is none, and they do nothing.
CREATE FUNCTION workorder.wake_launcher()
RETURNS boolean
AS 'MODULE_PATHNAME', 'workorder_wake_launcher'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION workorder.wake_launcher() FROM PUBLIC;

CREATE FUNCTION workorder.wake_worker()
RETURNS boolean
AS 'MODULE_PATHNAME', 'workorder_wake_worker'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION workorder.wake_worker() FROM PUBLIC;

-- worker_slots reads the launcher's table of worker slots in shared memory: one row
-- per database that has a worker, or is held by a DROP DATABASE.
CREATE FUNCTION workorder.worker_slots(
    OUT datid oid, OUT datname name, OUT pid integer, OUT state text,
    OUT started_at timestamptz, OUT last_pass_at timestamptz,
    OUT passes bigint, OUT failures bigint,
    OUT last_error text, OUT last_error_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'workorder_worker_slots'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION workorder.worker_slots() FROM PUBLIC;

-- worker_status shows the workers of every database of the cluster.
CREATE VIEW workorder.worker_status AS
SELECT s.datid, s.datname, s.pid, s.state, s.started_at, s.last_pass_at,
       s.passes, s.failures, s.last_error, s.last_error_at
  FROM workorder.worker_slots() s;
REVOKE ALL ON workorder.worker_status FROM PUBLIC;
COMMENT ON VIEW workorder.worker_status IS
    'The background workers of the cluster: state (starting, checking, running, disabled, no extension, exited, held), passes and last error.';

-- The launcher starts this database's worker as soon as this CREATE EXTENSION commits.
SELECT workorder.wake_launcher();
