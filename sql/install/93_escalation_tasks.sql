-- workorder install script, part 93: the escalation task (issue 4, escalation).
--
-- It comes after part 90 (worker_tasks), part 86 (the chain) and part 92.
--
-- escalate reads the orders whose next_escalation_at has come (the partial index
-- orders_next_escalation_idx), oldest first, at most escalation_batch_rows (a
-- workorder.settings row; default 1000) per run, skipping rows locked by an action,
-- and does every step whose instant has come, in step order, each once: a worker
-- that was down for a day does all the steps that fell due, in order.  A step is
-- done when its row of workorder.order_escalations is inserted; the row, the action
-- (supervised, escalated_to), the event 'escalate' and orders.escalation_step are
-- written in the same transaction, so a crash loses all of them or none, and a
-- second session (run_due_work() beside the worker) that reaches the order waits
-- for the row lock, sees the step done and goes on from there (the primary key is
-- the last guard).  Each step is also written to workorder.notifications (kind
-- 'escalate', due_at the step's instant) and announced on NOTIFY workorder.
--
-- task_escalate takes an optional instant now (default clock_timestamp()) so that
-- tests can travel in time: SELECT * FROM workorder.task_escalate('2026-02-01').

CREATE FUNCTION workorder.task_escalate(now timestamptz DEFAULT NULL)
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    batch integer := GREATEST(workorder.setting('escalation_batch_rows', '1000')::integer, 1);
    t timestamptz := COALESCE(now, pg_catalog.clock_timestamp());
    leader text := workorder.setting('district_leader', 'district leader');
    o workorder.orders;
    s record;
    due timestamptz;
    target text;
    last_step integer;
    done_step integer;
    seen integer := 0;
    steps integer := 0;
    payload jsonb;
    order_steps integer;
    failed bigint[] := '{}';
    first_error text;
    outcome workorder.task_outcome;
BEGIN
    FOR o IN SELECT * FROM workorder.orders x
              WHERE x.next_escalation_at OPERATOR(pg_catalog.<=) t
              ORDER BY x.next_escalation_at
              LIMIT batch
                FOR NO KEY UPDATE SKIP LOCKED LOOP
        seen := seen OPERATOR(pg_catalog.+) 1;
        -- Each order on its own: one whose steps cannot be computed (its calendar
        -- broken, say) is reported and skipped, and the others are escalated.  (The
        -- first error ended the task, and every run after met the same order first:
        -- no order of any policy was escalated again.)
        order_steps := 0;
        BEGIN
            -- The row as it is now (another session may have moved it on before we locked it).
            SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) o.id;
            IF o.next_escalation_at IS NULL OR o.next_escalation_at OPERATOR(pg_catalog.>) t THEN
                CONTINUE;
            END IF;
            last_step := o.escalation_step;
            FOR s IN SELECT e.step, e.after, e.action FROM workorder.sla_escalation_steps e
                      WHERE e.policy OPERATOR(pg_catalog.=) o.sla_policy AND e.step OPERATOR(pg_catalog.>) o.escalation_step
                      ORDER BY e.step LOOP
                due := workorder.escalation_at(o, s.after);
                EXIT WHEN due OPERATOR(pg_catalog.>) t;
                INSERT INTO workorder.order_escalations (order_id, step, action)
                VALUES (o.id, s.step, s.action)
                ON CONFLICT DO NOTHING
                RETURNING step INTO done_step;
                last_step := s.step;
                CONTINUE WHEN done_step IS NULL;   -- done already: never twice
                done_step := NULL;
                target := NULL;
                IF s.action OPERATOR(pg_catalog.=) 'escalate_parent' THEN
                    -- An order without a main unit (returned, or never routed) is
                    -- its dispatching center's to deal with: the center's parent
                    -- hears.  (It went to nobody.)  A unit with no active one above
                    -- it (a district department) is supervised by the center that
                    -- dispatched the order (part 86).
                    target := workorder.escalation_recipient(COALESCE(o.main_unit, o.dispatching_unit),
                                                             o.dispatching_unit);
                ELSIF s.action OPERATOR(pg_catalog.=) 'escalate_leader' THEN
                    target := leader;
                END IF;
                UPDATE workorder.orders x
                   SET supervised = x.supervised OR (s.action OPERATOR(pg_catalog.=) 'supervise'),
                       escalated_to = COALESCE(target, x.escalated_to)
                 WHERE x.id OPERATOR(pg_catalog.=) o.id
                RETURNING * INTO o;
                PERFORM workorder.log_event(o, 'escalate', 'system', o.status,
                    pg_catalog.format('escalation step %s: %s%s', s.step, s.action,
                                      COALESCE(' to ' OPERATOR(pg_catalog.||) target,
                                               CASE WHEN s.action OPERATOR(pg_catalog.=) 'escalate_parent'
                                                    THEN ' (no active unit above ' OPERATOR(pg_catalog.||)
                                                         COALESCE(o.main_unit, o.dispatching_unit, 'the order')
                                                         OPERATOR(pg_catalog.||) ')' END, '')),
                    pg_catalog.jsonb_build_object('step', s.step, 'action', s.action, 'to', target,
                                                  'due_at', due, 'sla_policy', o.sla_policy));
                payload := pg_catalog.jsonb_build_object('kind', 'escalate', 'order_id', o.id, 'ticket', o.ticket::text,
                                                         'step', s.step, 'action', s.action, 'to', target,
                                                         'due_at', due, 'at', pg_catalog.clock_timestamp());
                PERFORM workorder.announce(o.id, 'escalate', payload);
                order_steps := order_steps OPERATOR(pg_catalog.+) 1;
            END LOOP;
            -- escalation_step moves on; the trigger orders_escalation_next sets next_escalation_at.
            UPDATE workorder.orders x SET escalation_step = last_step WHERE x.id OPERATOR(pg_catalog.=) o.id;
            steps := steps OPERATOR(pg_catalog.+) order_steps;
        EXCEPTION WHEN OTHERS THEN
            failed := failed OPERATOR(pg_catalog.||) o.id;
            first_error := COALESCE(first_error, SQLERRM);
            RAISE WARNING 'escalation of order % (id %) failed: %', o.ticket, o.id, SQLERRM
                USING ERRCODE = SQLSTATE,
                      HINT = 'The order is skipped until its cause is fixed; the other orders are escalated.';
        END;
    END LOOP;
    outcome.rows := steps;
    outcome.detail := pg_catalog.format('%s orders checked: %s escalation steps done', seen, steps)
        OPERATOR(pg_catalog.||) workorder.task_failed_orders(failed, first_error);
    -- A full batch runs again at once, unless it failed whole: orders that fail stay
    -- due and come first, and the task would spin on them.
    IF seen OPERATOR(pg_catalog.>=) batch
       AND pg_catalog.cardinality(failed) OPERATOR(pg_catalog.<) seen THEN
        outcome.next_due := pg_catalog.now();
    ELSE
        SELECT x.next_escalation_at INTO outcome.next_due FROM workorder.orders x
         WHERE x.next_escalation_at IS NOT NULL AND x.id OPERATOR(pg_catalog.<>) ALL (failed)
         ORDER BY x.next_escalation_at LIMIT 1;
        -- Still due: skipped, locked by a transaction still open.  Look again in
        -- a second, as for the inbox, not at once (the worker would spin).
        IF outcome.next_due OPERATOR(pg_catalog.<=) t THEN
            outcome.next_due := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) interval '1 second';
        END IF;
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_escalate(timestamptz) FROM PUBLIC;

-- After deadline_check (200), so that an order is marked overdue before it is escalated.
INSERT INTO workorder.worker_tasks (task, position, function, description, shipped) VALUES
    ('escalate', 210, 'workorder.task_escalate',
     'do the due escalation steps of orders whose next_escalation_at has come', true);

-- calendar_recompute (issue 4, second part) consumes workorder.calendar_changes:
-- it takes the pending rows (at most 1000 a run, SKIP LOCKED), and for each finds
-- the open orders (new, dispatched, accepted, suspended) whose policy uses that
-- calendar and whose deadline window touches the changed days: from received_at to
-- the latest of resolve_due_at, accept_due_at and next_escalation_at (a day of margin
-- on each side, in the calendar's time zone; a suspended order's window has no end,
-- since resume will move its deadline; a change with NULL days touches every order
-- on the calendar).  For each such order the deadlines are computed again from the
-- order's facts (workorder.sla_recomputed), under the policy's terms in force when
-- the clock started (sla_policy_versions, part 85), not as they are now:
--   resolve_due_at  deadline_after(start) where start is received_at, or the instant
--                   of the last 'reopen' or 'unmerge' event; then, in event order after start,
--                   every 'resume' (the pause suspended_at .. + suspended_for, as
--                   sla_shift) and every 'approve_extension' (its extension, as
--                   sla_extend) is applied again on the new calendar;
--   warn_at         sla_warn_at(start, the first deadline) moved the same way; kept
--                   as it is once the warning has been given;
--   accept_due_at   from the instant of the last dispatch/reassign/reopen event, only
--                   while the order is dispatched and not yet marked accept_overdue.
-- The events' instants differ from the instants the actions used by a few
-- microseconds, so a recomputed instant within one second of the stored one counts
-- as unchanged and the stored one is kept.  An order whose deadlines changed gets an
-- event 'deadline_recomputed' (actor 'system', details {old: {...}, new: {...},
-- calendar}); an unchanged one gets nothing.  The marks warned and accept_overdue
-- stay: what was announced stands.  An open order marked overdue whose new resolve
-- deadline is still ahead is overdue no more, as after an approved extension
-- (approve_extension, part 65): the mark was made against a deadline the calendar
-- now puts later (a holiday plan loaded late), the deadline task watches the new
-- one, and the scores take the mark back (the event says "overdue_withdrawn":
-- true).  Before, the mark stayed, and the order was never checked again.
-- next_check_at and next_escalation_at follow the new instants (their triggers).
-- The change rows are deleted in the same transaction.

-- sla_recomputed returns an order's deadlines computed again from its facts.
CREATE FUNCTION workorder.sla_recomputed(o workorder.orders,
                                         OUT resolve_due_at timestamptz, OUT warn_at timestamptz,
                                         OUT accept_due_at timestamptz)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    p workorder.sla_policy_versions;
    start timestamptz;
    start_seq integer;
    dispatched_at timestamptz;
    e record;
    paused_from timestamptz;
    paused_to timestamptz;
    extended_due timestamptz;
BEGIN
    resolve_due_at := o.resolve_due_at;
    warn_at := o.warn_at;
    accept_due_at := o.accept_due_at;
    IF o.resolve_due_at IS NULL THEN
        RETURN;
    END IF;
    SELECT c.at, c.seq INTO start, start_seq FROM workorder.sla_clock_start(o) c;
    -- The policy's terms when the clock started (sla_policy_versions, part 85), not
    -- as they are now.
    p := workorder.sla_terms(o.sla_policy, start);
    IF p.name IS NULL THEN
        RETURN;
    END IF;
    resolve_due_at := workorder.deadline_after(start, p.resolve_clock, p.resolve_amount, p.calendar_code);
    IF NOT o.warned THEN
        warn_at := workorder.sla_warn_at(start, resolve_due_at, p.resolve_clock, p.warn_fraction, p.calendar_code);
    END IF;
    FOR e IN SELECT v.action, v.details FROM workorder.order_events v
              WHERE v.order_id OPERATOR(pg_catalog.=) o.id AND v.seq OPERATOR(pg_catalog.>) start_seq
                AND v.action IN ('resume', 'approve_extension')
              ORDER BY v.seq LOOP
        IF e.action OPERATOR(pg_catalog.=) 'resume' THEN
            paused_from := (e.details OPERATOR(pg_catalog.->>) 'suspended_at')::timestamptz;
            -- suspended_for is elapsed time ('P4D' is 96 hours in any TimeZone).
            paused_to := paused_from OPERATOR(pg_catalog.+)
                         workorder.sla_hours((e.details OPERATOR(pg_catalog.->>) 'suspended_for')::interval);
            resolve_due_at := workorder.sla_shift(resolve_due_at, p.resolve_clock, paused_from, paused_to,
                                                  p.calendar_code);
            IF NOT o.warned THEN
                warn_at := workorder.sla_shift(warn_at, p.resolve_clock, paused_from, paused_to, p.calendar_code);
            END IF;
        ELSIF e.details OPERATOR(pg_catalog.?) 'extension' THEN
            extended_due := workorder.sla_extend(resolve_due_at, p.resolve_clock,
                (e.details OPERATOR(pg_catalog.->>) 'extension')::interval, p.calendar_code);
            IF NOT o.warned THEN
                warn_at := workorder.sla_warn_moved(warn_at, resolve_due_at, extended_due, p.resolve_clock,
                                                    p.calendar_code);
            END IF;
            resolve_due_at := extended_due;
        END IF;
    END LOOP;
    IF o.status OPERATOR(pg_catalog.=) 'dispatched' AND NOT o.accept_overdue THEN
        SELECT v.at INTO dispatched_at FROM workorder.order_events v
         WHERE v.order_id OPERATOR(pg_catalog.=) o.id AND v.action IN ('dispatch', 'reassign', 'reopen')
         ORDER BY v.seq DESC LIMIT 1;
        IF dispatched_at IS NOT NULL THEN
            p := workorder.sla_terms(o.sla_policy, dispatched_at);
            accept_due_at := workorder.deadline_after(dispatched_at, p.accept_clock, p.accept_amount, p.calendar_code);
        END IF;
    END IF;
END
$$;

-- recompute_keep returns fresh unless it is within a second of stored (or NULL).
CREATE FUNCTION workorder.recompute_keep(stored timestamptz, fresh timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN stored IS NULL OR fresh IS NULL THEN COALESCE(fresh, stored)
                WHEN pg_catalog.abs(pg_catalog.date_part('epoch', fresh OPERATOR(pg_catalog.-) stored))
                     OPERATOR(pg_catalog.<) 1 THEN stored
                ELSE fresh END
$$;

CREATE FUNCTION workorder.task_calendar_recompute()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    changes bigint[];
    o workorder.orders;
    fresh record;
    new_resolve timestamptz;
    new_warn timestamptz;
    new_accept timestamptz;
    old_deadlines jsonb;
    withdrawn boolean;
    seen integer := 0;
    changed integer := 0;
    chosen bigint[];
    failed bigint[] := '{}';
    first_error text;
    waiting bigint;
    -- The statuses whose deadlines follow the calendar: the open ones, and resolved
    -- and merged, which a failed verification and an unmerge bring back to work.
    recomputed constant workorder.order_status[] := '{new,dispatched,accepted,suspended,resolved,merged}';
    outcome workorder.task_outcome;
BEGIN
    SELECT pg_catalog.array_agg(c.id) INTO changes FROM
        (SELECT x.id FROM workorder.calendar_changes x ORDER BY x.id LIMIT 1000 FOR UPDATE SKIP LOCKED) c;
    outcome.rows := 0;
    IF changes IS NULL THEN
        RETURN outcome;
    END IF;
    -- A transaction that was counting deadlines when a change committed counted them
    -- on the calendar as it was, and its orders are not visible here until it ends:
    -- it holds the calendars' lock in share mode (src/calendar.c; keys 1464812364
    -- and 0, objsubid 22351: the extension's own, part 03).  Those holding it when a change is first seen are kept with the
    -- change, and the change waits, queued, until they have all ended; then their
    -- orders are chosen with the others.  (They were not: a submit() still open
    -- when next year's plan was loaded kept a deadline on New Year's Day for good.)
    -- Read, not waited for: the worker must not hang on an idle transaction.
    UPDATE workorder.calendar_changes c
       SET awaited = COALESCE((SELECT pg_catalog.array_agg(l.virtualtransaction)
                                 FROM pg_catalog.pg_locks l
                                WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted
                                  AND l.database OPERATOR(pg_catalog.=)
                                      (SELECT d.oid FROM pg_catalog.pg_database d
                                        WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
                                  AND l.classid OPERATOR(pg_catalog.=) 1464812364::oid
                                  AND l.objid OPERATOR(pg_catalog.=) 0::oid AND l.objsubid OPERATOR(pg_catalog.=) 22351
                                  AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid()), '{}')
     WHERE c.id OPERATOR(pg_catalog.=) ANY (changes) AND c.awaited IS NULL;
    -- One still holds a lock while it has not ended: a backend's transaction (its
    -- virtualxid lock) or a prepared one, which keeps its locks, the calendars'
    -- among them, under the virtual transaction it had, with no pid and no
    -- virtualxid lock (it was not waited for: a submit() prepared by a two-phase
    -- connector kept a deadline on a new holiday for good).
    waiting := (SELECT pg_catalog.count(DISTINCT l.virtualtransaction) FROM pg_catalog.pg_locks l
                 WHERE l.virtualtransaction OPERATOR(pg_catalog.=) ANY (
                       ARRAY(SELECT pg_catalog.unnest(c.awaited) FROM workorder.calendar_changes c
                              WHERE c.id OPERATOR(pg_catalog.=) ANY (changes))));
    IF waiting OPERATOR(pg_catalog.>) 0 THEN
        outcome.detail := pg_catalog.format('%s calendar changes wait for %s transactions that were counting deadlines on the calendars as they were',
                                            pg_catalog.cardinality(changes), waiting);
        outcome.next_due := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) interval '1 second';
        RETURN outcome;
    END IF;
    -- The orders are chosen first and locked one by one, skipping those locked (a
    -- dispatcher's transaction open on one held up every task of the worker); the
    -- changes stay queued, to be looked at again in a second, until every chosen
    -- order was recomputed (recomputing one again changes nothing).
    -- An order is on the calendars of its policy's versions, not only of the policy
    -- as it is now: its deadlines were counted on the version in force when its
    -- clock started (sla_recomputed).  (Chosen by the policy's calendar now, an
    -- order under a policy moved to another calendar since missed the changes of
    -- its own calendar and was recomputed for those of the other.)
    SELECT pg_catalog.array_agg(x.id ORDER BY x.id) INTO chosen FROM workorder.orders x
         WHERE x.status OPERATOR(pg_catalog.=) ANY (recomputed)
           AND x.resolve_due_at IS NOT NULL
           AND EXISTS (
               SELECT 1 FROM workorder.calendar_changes c
                 JOIN workorder.calendars k ON k.code OPERATOR(pg_catalog.=) c.calendar_code
                WHERE c.id OPERATOR(pg_catalog.=) ANY (changes)
                  AND (EXISTS (SELECT 1 FROM workorder.sla_policies p
                                WHERE p.name OPERATOR(pg_catalog.=) x.sla_policy
                                  AND p.calendar_code OPERATOR(pg_catalog.=) c.calendar_code)
                       OR EXISTS (SELECT 1 FROM workorder.sla_policy_versions v
                                   WHERE v.name OPERATOR(pg_catalog.=) x.sla_policy
                                     AND v.calendar_code OPERATOR(pg_catalog.=) c.calendar_code))
                  AND (c.last_day IS NULL
                       OR c.last_day OPERATOR(pg_catalog.>=)
                          ((x.received_at AT TIME ZONE k.time_zone)::date OPERATOR(pg_catalog.-) 1))
                  AND (c.first_day IS NULL OR x.status OPERATOR(pg_catalog.=) 'suspended'
                       OR c.first_day OPERATOR(pg_catalog.<=)
                          ((GREATEST(x.resolve_due_at, x.accept_due_at, x.next_escalation_at)
                            AT TIME ZONE k.time_zone)::date OPERATOR(pg_catalog.+) 1)));
    FOR o IN
        SELECT x.* FROM workorder.orders x
         WHERE x.id OPERATOR(pg_catalog.=) ANY (COALESCE(chosen, '{}'))
           AND x.status OPERATOR(pg_catalog.=) ANY (recomputed)
         ORDER BY x.id
           FOR NO KEY UPDATE OF x SKIP LOCKED LOOP
        seen := seen OPERATOR(pg_catalog.+) 1;
        -- Each order on its own: one whose deadlines cannot be computed is reported
        -- and keeps its deadlines, and the changes are still consumed.  (The first
        -- error ended the task with every change still queued, for good: no order of
        -- any calendar was recomputed again.)
        BEGIN
            SELECT * INTO fresh FROM workorder.sla_recomputed(o);
            new_resolve := workorder.recompute_keep(o.resolve_due_at, fresh.resolve_due_at);
            new_warn := workorder.recompute_keep(o.warn_at, fresh.warn_at);
            new_accept := workorder.recompute_keep(o.accept_due_at, fresh.accept_due_at);
            IF (new_resolve, new_warn, new_accept) IS NOT DISTINCT FROM (o.resolve_due_at, o.warn_at, o.accept_due_at) THEN
                -- The deadlines stay; the escalation instants after them may have moved.
                UPDATE workorder.orders x SET escalation_step = x.escalation_step WHERE x.id OPERATOR(pg_catalog.=) o.id;
                CONTINUE;
            END IF;
            old_deadlines := pg_catalog.jsonb_build_object('resolve_due_at', o.resolve_due_at,
                                                           'warn_at', o.warn_at, 'accept_due_at', o.accept_due_at);
            withdrawn := o.overdue
                         AND o.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted,suspended}'::workorder.order_status[])
                         AND COALESCE(new_resolve OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp(), false);
            UPDATE workorder.orders x
               SET resolve_due_at = new_resolve, warn_at = new_warn, accept_due_at = new_accept,
                   overdue = x.overdue AND NOT withdrawn
             WHERE x.id OPERATOR(pg_catalog.=) o.id
            RETURNING * INTO o;
            PERFORM workorder.log_event(o, 'deadline_recomputed', 'system', o.status,
                pg_catalog.format('deadlines recomputed after a change of calendar %s',
                                  (workorder.sla_order_terms(o)).calendar_code),
                pg_catalog.jsonb_build_object(
                    'old', old_deadlines,
                    'new', pg_catalog.jsonb_build_object('resolve_due_at', o.resolve_due_at,
                                                         'warn_at', o.warn_at, 'accept_due_at', o.accept_due_at))
                OPERATOR(pg_catalog.||) CASE WHEN withdrawn THEN '{"overdue_withdrawn": true}'::jsonb
                                             ELSE '{}'::jsonb END);
            changed := changed OPERATOR(pg_catalog.+) 1;
        EXCEPTION WHEN OTHERS THEN
            failed := failed OPERATOR(pg_catalog.||) o.id;
            first_error := COALESCE(first_error, SQLERRM);
            RAISE WARNING 'recomputing the deadlines of order % (id %) failed: %', o.ticket, o.id, SQLERRM
                USING ERRCODE = SQLSTATE,
                      HINT = 'The order keeps its deadlines; fix the cause, then change its calendar again (or run the task) to recompute it.';
        END;
    END LOOP;
    outcome.rows := changed;
    outcome.detail := pg_catalog.format('%s calendar changes: %s orders looked at, %s with new deadlines',
                                        pg_catalog.cardinality(changes), seen, changed)
        OPERATOR(pg_catalog.||) workorder.task_failed_orders(failed, first_error);
    IF seen OPERATOR(pg_catalog.<) COALESCE(pg_catalog.cardinality(chosen), 0) THEN
        outcome.detail := outcome.detail OPERATOR(pg_catalog.||)
            pg_catalog.format(', %s locked or changed meanwhile: the changes stay queued',
                              pg_catalog.cardinality(chosen) OPERATOR(pg_catalog.-) seen);
        outcome.next_due := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) interval '1 second';
        RETURN outcome;
    END IF;
    DELETE FROM workorder.calendar_changes c WHERE c.id OPERATOR(pg_catalog.=) ANY (changes);
    IF pg_catalog.cardinality(changes) OPERATOR(pg_catalog.>=) 1000 THEN
        outcome.next_due := pg_catalog.now();
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_calendar_recompute() FROM PUBLIC;

-- Before deadline_check (200), so that a pass checks the recomputed deadlines (150 is
-- left free: the worker regression test registers a task there).
INSERT INTO workorder.worker_tasks (task, position, function, description, shipped) VALUES
    ('calendar_recompute', 180, 'workorder.task_calendar_recompute',
     'recompute the deadlines of open orders after a change of their calendar', true);
