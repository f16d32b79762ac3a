-- workorder install script, part 92: the deadline task (issue 4, SLA part).
--
-- It comes after part 90 (worker_tasks) and part 85 (the SLA columns of orders).
--
-- deadline_check reads the orders whose next_check_at has come (the partial index
-- orders_next_check_idx: its cost does not grow with the number of open orders),
-- oldest first, at most deadline_batch_rows (a workorder.settings row; default
-- 1000) per run, skipping rows locked by an action, and for each:
--   * warn_at passed (not yet warned): event 'deadline_warning', warned = true;
--     when the resolve deadline has passed too, no warning is logged (the order is
--     overdue instead), but warned is set;
--   * accept_due_at passed while still dispatched: event 'accept_overdue',
--     accept_overdue = true;
--   * resolve_due_at passed while new, dispatched or accepted: overdue = true and
--     event 'overdue'.
-- Each is logged once (the marks are on the row, which the task locks), through
-- workorder.log_event with actor 'system', so the event log and the outbox trigger
-- see it.  Each is also written to workorder.notifications, with the payload
--   {"kind": "overdue", "order_id": 42, "ticket": "...", "due_at": "...", "at": "..."}
-- (kind is deadline_warning, accept_overdue or overdue; due_at the instant crossed:
-- warn_at, accept_due_at or resolve_due_at), and announced with
--   NOTIFY workorder, '{"kind": "overdue", "notification_id": 7}'
-- (workorder.announce), delivered when the task commits.
-- The task is next due at the earliest next_check_at (one row of the index), or at
-- once after a full batch.  The orders trigger orders_sla_next_check wakes the
-- worker when an action sets a next_check_at within the worker's naptime, so an
-- order is marked within about the length of one pass after its deadline.

-- notifications keeps what the deadline task announced, for clients that were not
-- listening, for retention_notifications (the task purge_history, part 97, which
-- the index on at serves).
CREATE TABLE workorder.notifications (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES workorder.orders (id),
    kind     text NOT NULL,
    at       timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    payload  jsonb NOT NULL
);
CREATE INDEX notifications_at_idx ON workorder.notifications (at);
SELECT pg_catalog.pg_extension_config_dump('workorder.notifications', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.notifications_id_seq', '');
REVOKE ALL ON workorder.notifications FROM PUBLIC;
COMMENT ON TABLE workorder.notifications IS
    'Deadline warnings and overdue marks (payload: kind, order_id, ticket, due_at, at), escalation steps, and outbox messages that died (kind outbox_dead: message_id, channel, message_kind, attempts, last_error) or were delivered after all (kind outbox_delivered_after_dead); NOTIFY channel workorder carries only each row''s kind and id (workorder.announce).';

-- announce records a notice of an order (a row of workorder.notifications, with its
-- payload) and sends NOTIFY workorder with {"kind", "notification_id"} and nothing
-- more: LISTEN needs no privilege in PostgreSQL, so every role that can connect hears
-- the channel (the payload carried the ticket, the escalation's unit and a
-- connector's last error, to roles that may read none of them), and NOTIFY needs none
-- either, so anyone can send a forged one.  A listener takes the notice as a wake-up
-- and reads the row under its own privileges.
CREATE FUNCTION workorder.announce(order_id bigint, kind text, payload jsonb)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    notification_id bigint;
BEGIN
    INSERT INTO workorder.notifications (order_id, kind, payload)
    VALUES (announce.order_id, announce.kind, announce.payload)
    RETURNING id INTO notification_id;
    PERFORM pg_catalog.pg_notify('workorder',
        pg_catalog.jsonb_build_object('kind', announce.kind, 'notification_id', notification_id)::text);
    RETURN notification_id;
END
$$;
REVOKE ALL ON FUNCTION workorder.announce(bigint, text, jsonb) FROM PUBLIC;

-- deadline_event logs one deadline event of an order and announces it.
CREATE FUNCTION workorder.deadline_event(o workorder.orders, kind text, due_at timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    payload jsonb := pg_catalog.jsonb_build_object('kind', kind, 'order_id', o.id, 'ticket', o.ticket::text,
                                                   'due_at', due_at, 'at', pg_catalog.clock_timestamp());
BEGIN
    PERFORM workorder.log_event(o, kind, 'system', o.status,
        pg_catalog.format('%s: due at %s', kind, due_at),
        pg_catalog.jsonb_build_object('due_at', due_at, 'sla_policy', o.sla_policy));
    PERFORM workorder.announce(o.id, kind, payload);
END
$$;
REVOKE ALL ON FUNCTION workorder.deadline_event(workorder.orders, text, timestamptz) FROM PUBLIC;

CREATE FUNCTION workorder.task_deadline_check()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    batch integer := GREATEST(workorder.setting('deadline_batch_rows', '1000')::integer, 1);
    o workorder.orders;
    t timestamptz;
    open boolean;
    warn boolean;
    late_accept boolean;
    late boolean;
    checked_until timestamptz;
    seen integer := 0;
    warnings integer := 0;
    late_accepts integer := 0;
    lates integer := 0;
    failed bigint[] := '{}';
    first_error text;
    outcome workorder.task_outcome;
BEGIN
    -- The instant is taken once, into a variable: a comparison with clock_timestamp()
    -- (volatile) would be a filter over every row of the index, not an index bound.
    checked_until := pg_catalog.clock_timestamp();
    FOR o IN SELECT * FROM workorder.orders x
              WHERE x.next_check_at OPERATOR(pg_catalog.<=) checked_until
              ORDER BY x.next_check_at
              LIMIT batch
                FOR NO KEY UPDATE SKIP LOCKED LOOP
        seen := seen OPERATOR(pg_catalog.+) 1;
        t := pg_catalog.clock_timestamp();
        open := o.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted}'::workorder.order_status[]);
        late := open AND NOT o.overdue AND o.resolve_due_at OPERATOR(pg_catalog.<=) t;
        warn := open AND NOT o.warned AND NOT o.overdue AND o.warn_at OPERATOR(pg_catalog.<=) t;
        late_accept := o.status OPERATOR(pg_catalog.=) 'dispatched' AND NOT o.accept_overdue
                       AND o.accept_due_at OPERATOR(pg_catalog.<=) t;
        -- Each order on its own, as task_escalate has it: one whose events cannot
        -- be logged (a broken row, a lock timeout) is reported and skipped, and the
        -- others are marked.  (The first error rolled back the whole batch, and every
        -- run after met the same order first: no order was warned or marked
        -- overdue again.)
        BEGIN
            UPDATE workorder.orders x
               SET warned = x.warned OR warn OR late,
                   accept_overdue = x.accept_overdue OR late_accept,
                   overdue = x.overdue OR late,
                   next_check_at = NULL   -- recomputed by the trigger orders_sla_next_check
             WHERE x.id OPERATOR(pg_catalog.=) o.id
            RETURNING * INTO o;
            IF warn AND NOT late THEN
                PERFORM workorder.deadline_event(o, 'deadline_warning', o.warn_at);
            END IF;
            IF late_accept THEN
                PERFORM workorder.deadline_event(o, 'accept_overdue', o.accept_due_at);
            END IF;
            IF late THEN
                PERFORM workorder.deadline_event(o, 'overdue', o.resolve_due_at);
            END IF;
            -- Counted once the order's marks are all in.
            warnings := warnings OPERATOR(pg_catalog.+) (warn AND NOT late)::integer;
            late_accepts := late_accepts OPERATOR(pg_catalog.+) late_accept::integer;
            lates := lates OPERATOR(pg_catalog.+) late::integer;
        EXCEPTION WHEN OTHERS THEN
            failed := failed OPERATOR(pg_catalog.||) o.id;
            first_error := COALESCE(first_error, SQLERRM);
            RAISE WARNING 'deadline check of order % (id %) failed: %', o.ticket, o.id, SQLERRM
                USING ERRCODE = SQLSTATE,
                      HINT = 'The order is skipped until its cause is fixed; the other orders are checked.';
        END;
    END LOOP;
    outcome.rows := warnings OPERATOR(pg_catalog.+) late_accepts OPERATOR(pg_catalog.+) lates;
    outcome.detail := pg_catalog.format('%s orders checked: %s warnings, %s accept overdue, %s overdue',
                                        seen, warnings, late_accepts, lates)
        OPERATOR(pg_catalog.||) workorder.task_failed_orders(failed, first_error);
    -- A full batch runs again at once, unless it failed whole: orders that fail stay
    -- due and come first, and the task would spin on them.
    IF seen OPERATOR(pg_catalog.>=) batch
       AND pg_catalog.cardinality(failed) OPERATOR(pg_catalog.<) seen THEN
        outcome.next_due := pg_catalog.now();
    ELSE
        SELECT x.next_check_at INTO outcome.next_due FROM workorder.orders x
         WHERE x.next_check_at IS NOT NULL AND x.id OPERATOR(pg_catalog.<>) ALL (failed)
         ORDER BY x.next_check_at LIMIT 1;
        -- Still due: skipped, locked by a transaction still open.  Look again in
        -- a second, as for the inbox, not at once (the worker would spin).
        IF outcome.next_due OPERATOR(pg_catalog.<=) checked_until THEN
            outcome.next_due := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) interval '1 second';
        END IF;
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_deadline_check() FROM PUBLIC;

-- After the inbox drain (100), so that orders it made are checked in the same pass;
-- before outbox_expire (500) and the run log trim (1000, which must stay last).
INSERT INTO workorder.worker_tasks (task, position, function, description, shipped) VALUES
    ('deadline_check', 200, 'workorder.task_deadline_check',
     'log deadline warnings, accept overdue and overdue marks of orders whose next_check_at has come', true);
