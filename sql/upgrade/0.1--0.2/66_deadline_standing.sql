-- workorder 0.1 -> 0.2, assessment part 1: accept and resolve events say how they
-- stood against their deadline (details.deadline), for the scores; callback moves
-- to part 66 (install/66_callback.sql replaces it).

-- deadline_standing says how an action stands against a deadline, for the event's
-- details and the scores (part 94): 'none' (no deadline), 'overdue' (already
-- marked overdue by the deadline task, which logged that event), 'late' (past the
-- deadline, not yet marked) or 'on_time'.
CREATE FUNCTION workorder.deadline_standing(due_at timestamptz, marked_overdue boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN CASE WHEN due_at IS NULL THEN 'none'
                WHEN marked_overdue THEN 'overdue'
                WHEN pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>) due_at THEN 'late'
                ELSE 'on_time' END;
END
$$;

-- plain_action takes an action that only moves the order to the status the matrix
-- gives, with an optional note: accept and close.  An accept's event says how it
-- stood against the accept deadline ({"deadline": "on_time"}, see deadline_standing).
CREATE OR REPLACE FUNCTION workorder.plain_action(order_id bigint, actor text, note text, action text)
RETURNS workorder.orders
LANGUAGE plpgsql
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, action);
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, action, 'note', note, false);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status(action, o.status), status_reason = NULL,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    -- An accept says how it stood against its deadline, for the scores (part 94).
    RETURN workorder.action_done(after, action, who, o.status, said,
        CASE WHEN action OPERATOR(pg_catalog.=) 'accept'
             THEN pg_catalog.jsonb_build_object('deadline',
                      workorder.deadline_standing(o.accept_due_at, o.accept_overdue))
             ELSE '{}' END);
END
$$;

-- resolve: the unit reports the order handled.  The result (what was done) is kept
-- in orders.result and is the event's note; the event says how it stood against the
-- resolve deadline ({"deadline": "late"}, see deadline_standing).
CREATE OR REPLACE FUNCTION workorder.resolve(order_id bigint, actor text, result text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'resolve');
    who text := workorder.check_actor(actor);
    outcome text := workorder.action_text(o, 'resolve', 'result', result, true);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status('resolve', o.status), status_reason = NULL,
           result = outcome, pending_extension = NULL, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'resolve', who, o.status, outcome,
        pg_catalog.jsonb_build_object('deadline', workorder.deadline_standing(o.resolve_due_at, o.overdue))
            OPERATOR(pg_catalog.||) workorder.dropped_extension(o));
END
$$;
