-- workorder install script, part 65: the lifecycle actions.
--
-- One function per action of the lifecycle (DESIGN.md, "Order lifecycle").  Each
-- one locks the order (workorder.order_for_action: WO402 for an unknown order, WO401
-- when its status does not allow the action), checks its arguments, changes the
-- order, appends exactly one event to workorder.order_events (merge and unmerge
-- append one to each of the two orders), and returns the order as it left it.
-- workorder.order_actions decides which statuses allow an action and which status
-- it leads to.  The actions run as the tables' owner (SECURITY DEFINER): they are
-- the only way, besides submit(), that an order changes.
--
-- The arguments every action takes:
--   order_id  the order's id
--   actor     who acts: the acting unit's code or a user's name (1 to 200 characters)
--   note / reason / result
--             free text, at most 2000 characters; a reason (and a comment's note,
--             and a resolve's result) is required.  It becomes the event's note.
--
-- status_reason says why an order is in its status when the status alone does not
-- say it: an action that changes the status sets it to its reason (returned,
-- suspended, cancelled, reopened, failed verification, unmerged) or clears it.
--
-- An extension request is pending only while the order is accepted or suspended:
-- an action that leaves those statuses drops it, and its event records the dropped
-- extension.  Intervals in event details are ISO 8601 text ("P5D"), whatever the
-- session's IntervalStyle.

-- action_error raises an error about an action on an order: the message names the
-- order by ticket and id, and the action.
CREATE FUNCTION workorder.action_error(o workorder.orders, action text, sqlstate text,
                                       problem text, detail text, hint text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.raise_error(sqlstate,
        pg_catalog.format('order %s (id %s): %s: %s', o.ticket, o.id, action, problem),
        detail, hint);
END
$$;

-- action_text checks the free text of an action (a note, a reason, a result) and
-- returns it without surrounding blanks (spaces, tabs, line breaks, and the
-- ideographic space U+3000 that Chinese input methods type); blank is NULL.  A
-- required text that is missing, any text over 2000 characters, and one with a
-- control character (control_character_at, part 60), is WO404.
CREATE FUNCTION workorder.action_text(o workorder.orders, action text, what text,
                                      value text, required boolean)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    trimmed text := workorder.trim_blanks(value);
    control_at integer;
BEGIN
    IF trimmed OPERATOR(pg_catalog.=) '' THEN
        trimmed := NULL;
    END IF;
    IF trimmed IS NULL AND required THEN
        PERFORM workorder.action_error(o, action, 'WO404',
            pg_catalog.format('a %s is required', what),
            pg_catalog.format('The %s is %s.', what, COALESCE(pg_catalog.quote_literal(pg_catalog.left(value, 40)), 'NULL')),
            pg_catalog.format('Write the %s: 1 to 2000 characters.', what));
    END IF;
    IF pg_catalog.length(trimmed) OPERATOR(pg_catalog.>) 2000 THEN
        PERFORM workorder.action_error(o, action, 'WO404',
            pg_catalog.format('the %s is too long', what),
            pg_catalog.format('The %s has %s characters; it begins %s.', what, pg_catalog.length(trimmed),
                              pg_catalog.quote_literal(pg_catalog.left(trimmed, 40))),
            pg_catalog.format('Keep the %s to 2000 characters; put longer material in an attachment.', what));
    END IF;
    control_at := workorder.control_character_at(trimmed);
    IF control_at IS NOT NULL THEN
        PERFORM workorder.action_error(o, action, 'WO404',
            pg_catalog.format('the %s has a control character', what),
            pg_catalog.format('Character %s of the %s is U+%s.', control_at, what,
                              pg_catalog.upper(pg_catalog.lpad(pg_catalog.to_hex(pg_catalog.ascii(
                                  pg_catalog.substr(trimmed, control_at, 1))), 4, '0'))),
            pg_catalog.format('Remove the control characters from the %s; tabs and line breaks are accepted.', what));
    END IF;
    RETURN trimmed;
END
$$;

-- action_unit returns the unit an action names, or raises WO404 when none is named
-- and WO403 when it does not exist or is inactive.  what says which unit it is in
-- the action ("unit", "assisting unit").
CREATE FUNCTION workorder.action_unit(o workorder.orders, action text, what text, code text)
RETURNS workorder.units
LANGUAGE plpgsql
AS $$
DECLARE
    u workorder.units;
    shown text;
BEGIN
    IF code IS NULL OR pg_catalog.btrim(code) OPERATOR(pg_catalog.=) '' THEN
        PERFORM workorder.action_error(o, action, 'WO404',
            pg_catalog.format('no %s given', what),
            pg_catalog.format('The %s is %s.', what, COALESCE(pg_catalog.quote_literal(code), 'NULL')),
            'Pass the code of an active unit from workorder.units.');
    END IF;
    SELECT * INTO u FROM workorder.units x WHERE x.code OPERATOR(pg_catalog.=) action_unit.code;
    IF NOT FOUND THEN
        -- Named by its first 40 characters, control characters shown as '?', as
        -- submit() names an unknown code: a code of 100,000 characters made an
        -- error of 200 kB, and a line break and an escape sequence in it forged
        -- lines in the client's log.
        shown := pg_catalog.left(pg_catalog.regexp_replace(code, '[[:cntrl:]]', '?', 'g'), 40)
                 OPERATOR(pg_catalog.||) CASE WHEN pg_catalog.length(code) OPERATOR(pg_catalog.>) 40 THEN '...' ELSE '' END;
        PERFORM workorder.action_error(o, action, 'WO403',
            pg_catalog.format('%s %s does not exist', what, shown),
            pg_catalog.format('There is no unit with code %s%s.', pg_catalog.quote_literal(shown),
                              CASE WHEN shown OPERATOR(pg_catalog.<>) code
                                   THEN pg_catalog.format(' (of %s characters)', pg_catalog.length(code)) ELSE '' END),
            'Check the code against workorder.units (codes are case-sensitive).');
    END IF;
    IF NOT u.active THEN
        PERFORM workorder.action_error(o, action, 'WO403',
            pg_catalog.format('%s %s (%s) is inactive', what, u.code, u.name),
            pg_catalog.format('Unit %s has active = false.', u.code),
            'Choose an active unit; a unit that was merged or dissolved has a successor.');
    END IF;
    RETURN u;
END
$$;

-- action_status returns the status an action leads to from a status: the matrix's
-- to_status, or the same status when that is NULL.
CREATE FUNCTION workorder.action_status(action text, from_status workorder.order_status)
RETURNS workorder.order_status
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    to_status workorder.order_status;
BEGIN
    SELECT COALESCE(a.to_status, a.from_status) INTO to_status FROM workorder.order_actions a
     WHERE a.action OPERATOR(pg_catalog.=) action_status.action
       AND a.from_status OPERATOR(pg_catalog.=) action_status.from_status;
    RETURN to_status;
END
$$;

-- interval_iso writes an interval in ISO 8601 ("P5DT2H"), which reads back with
-- ::interval under any IntervalStyle: the event log must not depend on a session.
CREATE FUNCTION workorder.interval_iso(i interval)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET IntervalStyle = 'iso_8601'
AS $$
BEGIN
    RETURN i::text;
END
$$;

-- interval_has_negative_part says whether an interval's years, months, days or time
-- (hours, minutes, seconds) are below zero, whatever its sum: a working-time clock counts
-- each part on its own (days as working days, part 85), where '-1 day 48 hours' is
-- not one day.  Extensions (request_extension) and escalation steps (part 86) are
-- refused with one.
CREATE FUNCTION workorder.interval_has_negative_part(i interval)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
SELECT pg_catalog.date_part('year', i) OPERATOR(pg_catalog.<) 0
    OR pg_catalog.date_part('month', i) OPERATOR(pg_catalog.<) 0
    OR pg_catalog.date_part('day', i) OPERATOR(pg_catalog.<) 0
    OR (i OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => pg_catalog.date_part('day', i)::integer,
                                                          months => pg_catalog.date_part('month', i)::integer,
                                                          years => pg_catalog.date_part('year', i)::integer))
       OPERATOR(pg_catalog.<) '0'::interval
$$;

-- dropped_extension is the event detail of a pending extension request that an
-- action drops by leaving accepted/suspended: {"dropped_extension": "P5D"}, or {}.
CREATE FUNCTION workorder.dropped_extension(o workorder.orders)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    IF o.pending_extension IS NULL THEN
        RETURN '{}';
    END IF;
    RETURN pg_catalog.jsonb_build_object('dropped_extension', workorder.interval_iso(o.pending_extension));
END
$$;

-- dispatcher returns the unit that becomes the order's dispatching unit when actor
-- dispatches it: the actor when it is an active center's code, else the current one.
-- A caller whose rights are limited to its unit names only its own unit so: the
-- dispatching unit decides who sees the order, and a town's dispatcher passing
-- another center's code as the actor handed the order, reporter and all, to that
-- center.
CREATE FUNCTION workorder.dispatcher(actor text, current_unit text)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    who workorder.caller_context;
BEGIN
    IF actor IS NOT DISTINCT FROM current_unit
       OR NOT EXISTS (SELECT 1 FROM workorder.units u
                       WHERE u.code OPERATOR(pg_catalog.=) actor
                         AND u.kind OPERATOR(pg_catalog.=) 'center' AND u.active) THEN
        RETURN current_unit;
    END IF;
    -- Who is calling is asked only when the actor would move the order.
    who := workorder.caller();
    IF who.unrestricted OR actor OPERATOR(pg_catalog.=) who.unit_code THEN
        RETURN actor;
    END IF;
    RETURN current_unit;
END
$$;

-- action_done logs the event of an action (after is the order as the action left
-- it) and returns the order read again, so that event_count counts the event.
-- An action that takes a suspected duplicate out of new without a review (a
-- dispatch, a merge or a cancel by hand) settles the suspicion: its dedup check
-- records the action, by whom and when, as its review.  Returned to new later,
-- the order is no suspect waiting for review again (suspected_duplicates would
-- list it, and dedup would pass it over as a candidate, a master with reports
-- merged into it included).
CREATE FUNCTION workorder.action_done(after workorder.orders, action text, actor text,
                                      old_status workorder.order_status, note text,
                                      details jsonb DEFAULT '{}', old_unit text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql
AS $$
DECLARE
    o workorder.orders;
BEGIN
    PERFORM workorder.log_event(after, action, actor, old_status, note, details, old_unit);
    IF old_status OPERATOR(pg_catalog.=) 'new' AND after.status OPERATOR(pg_catalog.<>) 'new' THEN
        UPDATE workorder.dedup_checks c
           SET review = action_done.action, reviewed_by = action_done.actor, reviewed_at = pg_catalog.now()
         WHERE c.order_id OPERATOR(pg_catalog.=) after.id
           AND c.decision OPERATOR(pg_catalog.=) 'review' AND c.review IS NULL;
    END IF;
    SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) after.id;
    RETURN o;
END
$$;

-- dispatch sends a new order to its main unit, with optional assisting units (each
-- active, listed once, not the main unit).  An actor that is a center's code
-- becomes the dispatching unit, to which a return goes back.
CREATE FUNCTION workorder.dispatch(order_id bigint, actor text, unit text, note text DEFAULT NULL,
                                   assisting_units text[] DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'dispatch');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'dispatch', 'note', note, false);
    main workorder.units := workorder.action_unit(o, 'dispatch', 'unit', unit);
    helpers text[] := '{}';
    helper text;
    after workorder.orders;
BEGIN
    FOREACH helper IN ARRAY COALESCE(dispatch.assisting_units, '{}') LOOP
        PERFORM workorder.action_unit(o, 'dispatch', 'assisting unit', helper);
        IF helper OPERATOR(pg_catalog.=) main.code THEN
            PERFORM workorder.action_error(o, 'dispatch', 'WO403',
                pg_catalog.format('assisting unit %s is the main unit', helper),
                pg_catalog.format('assisting_units is %s.', pg_catalog.left(dispatch.assisting_units::text, 200)),
                'Leave the main unit out of the assisting units.');
        END IF;
        IF helper OPERATOR(pg_catalog.=) ANY (helpers) THEN
            PERFORM workorder.action_error(o, 'dispatch', 'WO403',
                pg_catalog.format('assisting unit %s is listed twice', helper),
                pg_catalog.format('assisting_units is %s.', pg_catalog.left(dispatch.assisting_units::text, 200)),
                'List each assisting unit once.');
        END IF;
        helpers := helpers OPERATOR(pg_catalog.||) helper;
    END LOOP;
    UPDATE workorder.orders x
       SET status = workorder.action_status('dispatch', o.status), status_reason = NULL,
           main_unit = main.code, assisting_units = helpers,
           dispatching_unit = workorder.dispatcher(who, o.dispatching_unit),
           escalated_to = workorder.escalation_after_move(o, main.code, workorder.dispatcher(who, o.dispatching_unit)),
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    after := workorder.sla_dispatched(after, pg_catalog.clock_timestamp());   -- deadlines: part 85
    RETURN workorder.action_done(after, 'dispatch', who, o.status, said,
        pg_catalog.jsonb_build_object('assisting_units', helpers,
                                      'dispatching_unit', after.dispatching_unit),
        o.main_unit);
END
$$;

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
CREATE FUNCTION workorder.plain_action(order_id bigint, actor text, note text, action text)
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

-- accept: the main unit signs for a dispatched order.
CREATE FUNCTION workorder.accept(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
    RETURN workorder.plain_action(order_id, actor, note, 'accept');
END
$$;

-- return_order (退单): the main unit hands the order back, with a reason, to the
-- dispatching center; it is new again, with no unit, and return_count counts it.
-- The event's old_unit is the unit that returned it.
CREATE FUNCTION workorder.return_order(order_id bigint, actor text, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'return');
    who text := workorder.check_actor(actor);
    why text := workorder.action_text(o, 'return', 'reason', reason, true);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status('return', o.status),
           status_reason = pg_catalog.format('returned by %s: %s', COALESCE(o.main_unit, who), why),
           main_unit = NULL, assisting_units = '{}', pending_extension = NULL,
           escalated_to = workorder.escalation_after_move(o, o.dispatching_unit, o.dispatching_unit),
           return_count = x.return_count OPERATOR(pg_catalog.+) 1,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'return', who, o.status, why,
        pg_catalog.jsonb_build_object('return_count', after.return_count,
                                      'assisting_units', o.assisting_units)
            OPERATOR(pg_catalog.||) workorder.dropped_extension(o),
        o.main_unit);
END
$$;

-- reassign: a dispatched or accepted order goes to another main unit and waits for
-- it to sign.  The event has the old unit and the new one.  The new unit leaves the
-- assisting units if it was one; an actor that is a center's code becomes the
-- dispatching unit, as in dispatch.
CREATE FUNCTION workorder.reassign(order_id bigint, actor text, unit text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'reassign');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'reassign', 'note', note, false);
    main workorder.units := workorder.action_unit(o, 'reassign', 'unit', unit);
    after workorder.orders;
BEGIN
    IF main.code OPERATOR(pg_catalog.=) o.main_unit THEN
        PERFORM workorder.action_error(o, 'reassign', 'WO403',
            pg_catalog.format('unit %s is already the main unit', main.code),
            pg_catalog.format('The order is %s with %s.', o.status, o.main_unit),
            'Reassign to a different unit.');
    END IF;
    UPDATE workorder.orders x
       SET status = workorder.action_status('reassign', o.status), status_reason = NULL,
           main_unit = main.code,
           assisting_units = pg_catalog.array_remove(x.assisting_units, main.code),
           dispatching_unit = workorder.dispatcher(who, o.dispatching_unit),
           pending_extension = NULL,
           escalated_to = workorder.escalation_after_move(o, main.code, workorder.dispatcher(who, o.dispatching_unit)),
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    after := workorder.sla_dispatched(after, pg_catalog.clock_timestamp());   -- a fresh accept deadline: part 85
    RETURN workorder.action_done(after, 'reassign', who, o.status, said,
        workorder.dropped_extension(o), o.main_unit);
END
$$;

-- suspend: the clock stops while the order waits on something outside the unit's
-- hands.  The reason is the event's note and the order's status_reason.
CREATE FUNCTION workorder.suspend(order_id bigint, actor text, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'suspend');
    who text := workorder.check_actor(actor);
    why text := workorder.action_text(o, 'suspend', 'reason', reason, true);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status('suspend', o.status), status_reason = why,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'suspend', who, o.status, why);
END
$$;

-- resume: the clock runs again.  The event records the suspension it ends (when it
-- began, its event's seq, and how long it lasted), so that deadlines can be moved
-- by it.
CREATE FUNCTION workorder.resume(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'resume');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'resume', 'note', note, false);
    began workorder.order_events;
    after workorder.orders;
BEGIN
    SELECT * INTO began FROM workorder.order_events e
     WHERE e.order_id OPERATOR(pg_catalog.=) o.id AND e.action OPERATOR(pg_catalog.=) 'suspend'
     ORDER BY e.seq DESC LIMIT 1;
    UPDATE workorder.orders x
       SET status = workorder.action_status('resume', o.status), status_reason = NULL,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    after := workorder.sla_resumed(after, began.at, pg_catalog.clock_timestamp());   -- part 85
    RETURN workorder.action_done(after, 'resume', who, o.status, said,
        pg_catalog.jsonb_build_object(
            'suspended_seq', began.seq,
            'suspended_at', began.at,
            'suspended_for', workorder.interval_iso(pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) began.at)));
END
$$;

-- request_extension asks for more time to resolve: more than 0 and at most 90 days,
-- one request at a time.
CREATE FUNCTION workorder.request_extension(order_id bigint, actor text, extension interval, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'request_extension');
    who text := workorder.check_actor(actor);
    why text := workorder.action_text(o, 'request_extension', 'reason', reason, true);
    after workorder.orders;
BEGIN
    -- A month has no fixed number of working days: refused (the days of an
    -- extension are working days on a working-time policy, part 85).
    IF pg_catalog.date_part('month', extension) OPERATOR(pg_catalog.<>) 0
       OR pg_catalog.date_part('year', extension) OPERATOR(pg_catalog.<>) 0 THEN
        PERFORM workorder.action_error(o, 'request_extension', 'WO404',
            'the extension has a months part',
            pg_catalog.format('The extension is %s.', extension),
            'Ask in days and hours, e.g. interval ''30 days''; on a working-time policy the days are working days.');
    END IF;
    IF extension IS NULL
       OR extension OPERATOR(pg_catalog.<=) '0'::interval
       OR extension OPERATOR(pg_catalog.>) '90 days'::interval THEN
        PERFORM workorder.action_error(o, 'request_extension', 'WO404',
            'the extension must be more than 0 and at most 90 days',
            pg_catalog.format('The extension is %s.', COALESCE(extension::text, 'NULL')),
            'Ask for a positive interval of at most 90 days, e.g. interval ''5 days''.');
    END IF;
    -- A negative part was dropped by a working-time clock: '-1 day 48 hours' passed
    -- as 1 day and added 48 working hours, '-1000 days 24048 hours' 13 years.
    IF workorder.interval_has_negative_part(extension) THEN
        PERFORM workorder.action_error(o, 'request_extension', 'WO404',
            'the extension has a negative part',
            pg_catalog.format('The extension is %s.', extension),
            'Ask in days and hours that are both positive or zero, e.g. interval ''2 days 4 hours''.');
    END IF;
    -- On a working-time policy hours are working hours: '2159 hours' is less than
    -- 90 days of 24 hours, and moved a deadline by 300 working days.  The cap is on
    -- what the extension does: the deadline no later than 90 days would move it.
    IF (SELECT e.resolve_due_at FROM workorder.sla_extended(o, extension) e)
       OPERATOR(pg_catalog.>) (SELECT e.resolve_due_at FROM workorder.sla_extended(o, '90 days') e) THEN
        PERFORM workorder.action_error(o, 'request_extension', 'WO404',
            'the extension must be more than 0 and at most 90 days',
            pg_catalog.format('The extension is %s; it would move the deadline from %s to %s, past %s, where 90 days would.',
                              extension, o.resolve_due_at,
                              (SELECT e.resolve_due_at FROM workorder.sla_extended(o, extension) e),
                              (SELECT e.resolve_due_at FROM workorder.sla_extended(o, '90 days') e)),
            'Ask for at most 90 days; on a working-time policy hours are working hours, e.g. interval ''5 days''.');
    END IF;
    IF o.pending_extension IS NOT NULL THEN
        PERFORM workorder.action_error(o, 'request_extension', 'WO404',
            'an extension request is already pending',
            pg_catalog.format('The pending request is for %s.', o.pending_extension),
            'Approve or reject the pending request first.');
    END IF;
    UPDATE workorder.orders x
       SET pending_extension = extension, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'request_extension', who, o.status, why,
        pg_catalog.jsonb_build_object('extension', workorder.interval_iso(extension)));
END
$$;

-- approve_extension grants the pending request: the resolve deadline, when there is
-- one, moves by the extension.  The event has the extension and both deadlines.
-- An order marked overdue whose new deadline is still ahead is overdue no more: the
-- center granted the time, so the deadline task watches the new deadline, and the
-- scores take the mark back (part 94; the event says "overdue_withdrawn": true).
-- Before, the mark stayed: the order was "overdue" against a deadline days ahead,
-- and the task, which looks no further at an order marked overdue, never saw the
-- new one missed.  A warning is given once (sla_extended, part 85), and escalation
-- steps done stay done.
CREATE FUNCTION workorder.approve_extension(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'approve_extension');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'approve_extension', 'note', note, false);
    new_resolve_due_at timestamptz;
    new_warn_at timestamptz;
    withdrawn boolean;
    after workorder.orders;
BEGIN
    IF o.pending_extension IS NULL THEN
        PERFORM workorder.action_error(o, 'approve_extension', 'WO404',
            'no extension request is pending', 'pending_extension is NULL.',
            'The unit asks first, with workorder.request_extension().');
    END IF;
    -- On the policy's clock (part 85).
    SELECT e.resolve_due_at, e.warn_at INTO new_resolve_due_at, new_warn_at
      FROM workorder.sla_extended(o, o.pending_extension) e;
    withdrawn := o.overdue AND COALESCE(new_resolve_due_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp(), false);
    UPDATE workorder.orders x
       SET resolve_due_at = new_resolve_due_at, warn_at = new_warn_at,
           overdue = x.overdue AND NOT withdrawn,
           pending_extension = NULL, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'approve_extension', who, o.status, said,
        pg_catalog.jsonb_build_object('extension', workorder.interval_iso(o.pending_extension),
                                      'old_resolve_due_at', o.resolve_due_at,
                                      'new_resolve_due_at', after.resolve_due_at)
            OPERATOR(pg_catalog.||) CASE WHEN withdrawn THEN '{"overdue_withdrawn": true}'::jsonb
                                         ELSE '{}'::jsonb END);
END
$$;

-- reject_extension refuses the pending request; the deadline stays.
CREATE FUNCTION workorder.reject_extension(order_id bigint, actor text, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'reject_extension');
    who text := workorder.check_actor(actor);
    why text := workorder.action_text(o, 'reject_extension', 'reason', reason, true);
    after workorder.orders;
BEGIN
    IF o.pending_extension IS NULL THEN
        PERFORM workorder.action_error(o, 'reject_extension', 'WO404',
            'no extension request is pending', 'pending_extension is NULL.',
            'There is nothing to reject.');
    END IF;
    UPDATE workorder.orders x
       SET pending_extension = NULL, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'reject_extension', who, o.status, why,
        pg_catalog.jsonb_build_object('extension', workorder.interval_iso(o.pending_extension)));
END
$$;

-- resolve: the unit reports the order handled.  The result (what was done) is kept
-- in orders.result and is the event's note; the event says how it stood against the
-- resolve deadline ({"deadline": "late"}, see deadline_standing).
CREATE FUNCTION workorder.resolve(order_id bigint, actor text, result text)
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

-- inactive_unit_note is what an order's status_reason adds when an action that
-- would send it back to its unit finds the unit deactivated, and sends it to new
-- for a dispatcher instead (verify, reopen_locked): '; its unit X (name) is
-- inactive, for a dispatcher'; NULL when the unit is active, or there is none.
CREATE FUNCTION workorder.inactive_unit_note(unit_code text)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.format('; its unit %s (%s) is inactive, for a dispatcher', u.code, u.name)
      FROM workorder.units u
     WHERE u.code OPERATOR(pg_catalog.=) unit_code AND NOT u.active
$$;

-- verify: the center checks the result.  Passed, the order stays resolved; failed,
-- it goes back to the unit (accepted) with the failure as its status_reason, or,
-- as reopen_locked() has it, to new without a unit when the unit has been
-- deactivated since: accepted by a unit no handler can sign for, it stayed open
-- collecting overdue marks.  Its deadlines stand either way (the unit's work was
-- due then; a dispatch sets the new unit's acceptance deadline).
CREATE FUNCTION workorder.verify(order_id bigint, actor text, passed boolean, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'verify');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'verify', 'note', note, false);
    gone text;
    after workorder.orders;
BEGIN
    IF passed IS NULL THEN
        PERFORM workorder.action_error(o, 'verify', 'WO404',
            'passed must be true or false', 'passed is NULL.',
            'Pass true when the result holds, false to send the order back to the unit.');
    END IF;
    IF NOT passed THEN
        gone := workorder.inactive_unit_note(o.main_unit);
    END IF;
    UPDATE workorder.orders x
       SET status = CASE WHEN passed THEN workorder.action_status('verify', o.status)
                         WHEN gone IS NULL THEN 'accepted'::workorder.order_status
                         ELSE 'new'::workorder.order_status END,
           status_reason = CASE WHEN passed THEN x.status_reason
                                ELSE 'verification failed' OPERATOR(pg_catalog.||)
                                     COALESCE(': ' OPERATOR(pg_catalog.||) said, '') OPERATOR(pg_catalog.||)
                                     COALESCE(gone, '') END,
           main_unit = CASE WHEN gone IS NULL THEN x.main_unit END,
           assisting_units = CASE WHEN gone IS NULL THEN x.assisting_units ELSE '{}' END,
           -- Sent to the dispatching center, escalated to its parent, as a return
           -- is (it stayed with the parent of the unit out of use).
           escalated_to = CASE WHEN gone IS NULL THEN x.escalated_to
                               ELSE workorder.escalation_after_move(o, o.dispatching_unit, o.dispatching_unit) END,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'verify', who, o.status, said,
        pg_catalog.jsonb_build_object('passed', passed)
            OPERATOR(pg_catalog.||) CASE WHEN gone IS NULL THEN '{}'::jsonb
                                         ELSE pg_catalog.jsonb_build_object('inactive_unit', o.main_unit) END,
        CASE WHEN gone IS NOT NULL THEN o.main_unit END);
END
$$;

-- callback (回访): part 66.

-- close: the order is done.
CREATE FUNCTION workorder.close(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
    RETURN workorder.plain_action(order_id, actor, note, 'close');
END
$$;

-- reopen (重办): a resolved or closed order is sent back to the same main unit to be
-- done again.  redo_count counts it; the result and the satisfaction are cleared
-- and kept in the event.
CREATE FUNCTION workorder.reopen(order_id bigint, actor text, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'reopen');
BEGIN
    RETURN workorder.reopen_locked(o, workorder.check_actor(actor), reason);
END
$$;

-- reopen_locked reopens order o, locked by its caller, whose status allows it
-- (resolved or closed): the body of reopen(), also what an unsatisfied callback
-- does when the policy says so (part 66).  That reopen follows from the callback,
-- which the caller may record (a connector may), not from a right of the caller to
-- reopen orders, so it does not pass the access check again.  Not granted to anyone.
--
-- An order whose unit has been deactivated since (merged into another, dissolved)
-- goes back to new, without a unit, for a dispatcher: sent back to that unit it sat
-- where no handler could sign for it, collecting overdue marks.
CREATE FUNCTION workorder.reopen_locked(o workorder.orders, who text, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql
AS $$
DECLARE
    why text := workorder.action_text(o, 'reopen', 'reason', reason, true);
    gone text := workorder.inactive_unit_note(o.main_unit);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = CASE WHEN gone IS NULL THEN workorder.action_status('reopen', o.status)
                         ELSE 'new'::workorder.order_status END,
           status_reason = 'reopened: ' OPERATOR(pg_catalog.||) why OPERATOR(pg_catalog.||) COALESCE(gone, ''),
           main_unit = CASE WHEN gone IS NULL THEN x.main_unit END,
           assisting_units = CASE WHEN gone IS NULL THEN x.assisting_units ELSE '{}' END,
           redo_count = x.redo_count OPERATOR(pg_catalog.+) 1,
           result = NULL, satisfaction = NULL, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    -- Fresh deadlines (part 85) on either path: the redo's clock starts now.  An
    -- order sent back to new for a dispatcher kept its old ones, long past, so it was
    -- overdue at once and its whole escalation chain ran again, and dispatch() kept
    -- them.  (accept_due_at is not checked while it is new; dispatch() sets another.)
    after := workorder.sla_dispatched(after, pg_catalog.clock_timestamp(), true);
    RETURN workorder.action_done(after, 'reopen', who, o.status, why,
        pg_catalog.jsonb_build_object('redo_count', after.redo_count,
                                      'result', o.result, 'satisfaction', o.satisfaction)
            OPERATOR(pg_catalog.||) CASE WHEN gone IS NULL THEN '{}'::jsonb
                                         ELSE pg_catalog.jsonb_build_object('inactive_unit', o.main_unit) END,
        CASE WHEN gone IS NOT NULL THEN o.main_unit END);
END
$$;

-- merge: a duplicate follows its master, which counts its reports.  The master must
-- exist, differ, and be neither merged (no chains) nor cancelled; an order that
-- has duplicates merged into it cannot itself be merged.  Both rows are locked in
-- id order, so two merges of the same pair cannot deadlock.  The master gets a
-- 'merged_in' event.
CREATE FUNCTION workorder.merge(order_id bigint, master_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders;
    m workorder.orders;
    who text;
    said text;
    after workorder.orders;
    master_after workorder.orders;
BEGIN
    PERFORM 1 FROM workorder.orders x
     WHERE x.id OPERATOR(pg_catalog.=) ANY (ARRAY[merge.order_id, merge.master_id])
     ORDER BY x.id FOR NO KEY UPDATE;
    o := workorder.order_for_action(order_id, 'merge');
    who := workorder.check_actor(actor);
    said := workorder.action_text(o, 'merge', 'note', note, false);
    IF merge.master_id IS NULL THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404', 'a master order is required',
            'master_id is NULL.', 'Pass the id of the order this one duplicates.');
    END IF;
    IF merge.master_id OPERATOR(pg_catalog.=) o.id THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404', 'an order cannot be merged into itself',
            pg_catalog.format('master_id is %s.', merge.master_id),
            'Pass the id of the order this one duplicates.');
    END IF;
    SELECT * INTO m FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) merge.master_id;
    IF NOT FOUND THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404',
            pg_catalog.format('master order %s does not exist', merge.master_id),
            pg_catalog.format('master_id is %s.', merge.master_id),
            'Check the master''s id; find it by ticket in workorder.orders.');
    END IF;
    -- The master counts the report and logs it: the caller must be one who may read
    -- it (WO951), as for any order it writes to, before anything of it is told.
    PERFORM workorder.check_order_access(m, NULL);
    IF m.status OPERATOR(pg_catalog.=) 'merged' THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404',
            pg_catalog.format('master order %s (id %s) is itself merged', m.ticket, m.id),
            pg_catalog.format('It is merged into order %s (id %s).',
                              (SELECT x.ticket FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) m.master_id),
                              m.master_id),
            'Merge into the master''s master instead: duplicates of one event share one master.');
    END IF;
    IF m.status OPERATOR(pg_catalog.=) 'cancelled' THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404',
            pg_catalog.format('master order %s (id %s) is cancelled', m.ticket, m.id),
            pg_catalog.format('Its status_reason is %s.', COALESCE(pg_catalog.quote_literal(m.status_reason), 'NULL')),
            'Merge into an order that is being handled, or cancel this one too.');
    END IF;
    -- A suspected duplicate waiting for review is no master yet: its review may
    -- merge it, and an order with reports merged into it cannot be merged (below),
    -- so the reports taken meanwhile stuck it in review for good.
    IF m.status OPERATOR(pg_catalog.=) 'new' AND EXISTS (
           SELECT 1 FROM workorder.dedup_checks c
            WHERE c.order_id OPERATOR(pg_catalog.=) m.id
              AND c.decision OPERATOR(pg_catalog.=) 'review' AND c.review IS NULL) THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404',
            pg_catalog.format('master order %s (id %s) is a suspected duplicate waiting for review', m.ticket, m.id),
            pg_catalog.format('Its check at intake flagged it (score %s); it is in workorder.suspected_duplicates.',
                              (SELECT pg_catalog.round(c.score::numeric, 3) FROM workorder.dedup_checks c
                                WHERE c.order_id OPERATOR(pg_catalog.=) m.id)),
            'Review it first with workorder.review_duplicate(), then merge into the order that is the event''s master.');
    END IF;
    IF EXISTS (SELECT 1 FROM workorder.orders x WHERE x.master_id OPERATOR(pg_catalog.=) o.id) THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404',
            'other orders are merged into this one',
            pg_catalog.format('Merged into it: %s.',
                              (SELECT pg_catalog.string_agg(x.ticket::text, ', ' ORDER BY x.id) FROM workorder.orders x
                                WHERE x.master_id OPERATOR(pg_catalog.=) o.id)),
            'Unmerge them first, or merge them and this one into the same master one by one.');
    END IF;
    -- The order leaves its unit (the merge event names it, as old_unit): merged, it
    -- is the master's to handle, and its former handler kept reading the reporter's
    -- name and phone, and commenting on it, for good.
    UPDATE workorder.orders x
       SET status = workorder.action_status('merge', o.status), status_reason = NULL,
           master_id = m.id, pending_extension = NULL,
           main_unit = NULL, assisting_units = '{}', escalated_to = NULL,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    UPDATE workorder.orders x
       SET report_count = x.report_count OPERATOR(pg_catalog.+) o.report_count,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) m.id
    RETURNING * INTO master_after;
    after := workorder.action_done(after, 'merge', who, o.status, said,
        pg_catalog.jsonb_build_object('master_id', m.id, 'master_ticket', m.ticket::text,
                                      'report_count', o.report_count)
            OPERATOR(pg_catalog.||) workorder.dropped_extension(o),
        o.main_unit);
    PERFORM workorder.log_event(master_after, 'merged_in', who, m.status, said,
        pg_catalog.jsonb_build_object('order_id', o.id, 'ticket', o.ticket::text,
                                      'report_count', o.report_count));
    RETURN after;
END
$$;

-- unmerge: a merged order was not a duplicate after all.  It leaves its master
-- (which stops counting its reports) and is new again, with no unit, for a
-- dispatcher.  The master gets an 'unmerged_out' event.
CREATE FUNCTION workorder.unmerge(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    seen_master bigint;
    o workorder.orders;
    m workorder.orders;
    who text;
    said text;
    after workorder.orders;
    master_after workorder.orders;
    locked boolean := false;
BEGIN
    -- Lock the order and its master in id order.  The master is read before the
    -- lock; when a concurrent merge or unmerge moved the order meanwhile, the locks
    -- are given back (the subtransaction is rolled back) and taken again, in order.
    -- (The new master was locked after the order, out of id order, and a merge
    -- beside it deadlocked: 40P01.)
    FOR attempt IN 1..5 LOOP
        SELECT x.master_id INTO seen_master FROM workorder.orders x
         WHERE x.id OPERATOR(pg_catalog.=) unmerge.order_id;
        BEGIN
            PERFORM 1 FROM workorder.orders x
             WHERE x.id OPERATOR(pg_catalog.=) ANY (ARRAY[unmerge.order_id, seen_master])
             ORDER BY x.id FOR NO KEY UPDATE;
            IF (SELECT x.master_id FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) unmerge.order_id)
               IS DISTINCT FROM seen_master THEN
                RAISE EXCEPTION USING ERRCODE = 'WO40M', MESSAGE = 'moved while unmerge waited';
            END IF;
            locked := true;
        EXCEPTION WHEN SQLSTATE 'WO40M' THEN
            NULL;   -- locks given back: read the master again
        END;
        EXIT WHEN locked;
    END LOOP;
    IF NOT locked THEN
        PERFORM workorder.raise_error('WO404',
            pg_catalog.format('order %s was merged or unmerged by others while unmerge waited', order_id),
            pg_catalog.format('It moved to another master five times running; it is now under %s.',
                              COALESCE(seen_master::text, 'none')),
            'Try again once the other merges and unmerges of the order are done.');
    END IF;
    o := workorder.order_for_action(order_id, 'unmerge');
    who := workorder.check_actor(actor);
    said := workorder.action_text(o, 'unmerge', 'note', note, false);
    SELECT * INTO m FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) o.master_id FOR NO KEY UPDATE;
    -- The master's count goes down and its log gets a line: the caller must be one
    -- who may read it (WO951), as merge() asks.
    PERFORM workorder.check_order_access(m, NULL);
    UPDATE workorder.orders x
       SET status = workorder.action_status('unmerge', o.status),
           status_reason = pg_catalog.format('unmerged from %s', m.ticket),
           master_id = NULL, main_unit = NULL, assisting_units = '{}',
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    -- Fresh deadlines from now, as a reopen that sends an order back to new has: its
    -- clock stood while it was someone else's (merged orders are not watched), and
    -- kept, the old deadline made it overdue at once (a suspended order merged by
    -- mistake lost its pause too).  The recompute counts from the unmerge as well,
    -- and the trigger orders_escalation_next starts a new escalation chain, as for
    -- a reopen: the steps done before the merge were against the old deadline.
    after := workorder.sla_dispatched(after, pg_catalog.clock_timestamp(), true);
    UPDATE workorder.orders x
       SET report_count = x.report_count OPERATOR(pg_catalog.-) o.report_count,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) m.id
    RETURNING * INTO master_after;
    after := workorder.action_done(after, 'unmerge', who, o.status, said,
        pg_catalog.jsonb_build_object('master_id', m.id, 'master_ticket', m.ticket::text,
                                      'report_count', o.report_count),
        o.main_unit);
    PERFORM workorder.log_event(master_after, 'unmerged_out', who, m.status, said,
        pg_catalog.jsonb_build_object('order_id', o.id, 'ticket', o.ticket::text,
                                      'report_count', o.report_count));
    RETURN after;
END
$$;

-- cancel: the order is invalid (spam, a test call, not a matter for the center).
CREATE FUNCTION workorder.cancel(order_id bigint, actor text, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'cancel');
    who text := workorder.check_actor(actor);
    why text := workorder.action_text(o, 'cancel', 'reason', reason, true);
    after workorder.orders;
BEGIN
    -- A master cannot be cancelled under its duplicates: they are real reports of a
    -- real event, and would be left merged into an order nobody handles.
    IF EXISTS (SELECT 1 FROM workorder.orders x WHERE x.master_id OPERATOR(pg_catalog.=) o.id) THEN
        PERFORM workorder.action_error(o, 'cancel', 'WO404',
            'other orders are merged into this one',
            pg_catalog.format('Merged into it: %s.',
                              (SELECT pg_catalog.string_agg(x.ticket::text, ', ' ORDER BY x.id) FROM workorder.orders x
                                WHERE x.master_id OPERATOR(pg_catalog.=) o.id)),
            'Unmerge them first (each may then be cancelled or handled on its own).');
    END IF;
    UPDATE workorder.orders x
       SET status = workorder.action_status('cancel', o.status), status_reason = why,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'cancel', who, o.status, why);
END
$$;

-- supervise (督办): a leader flags the order for attention.  The status stays.
CREATE FUNCTION workorder.supervise(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'supervise');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'supervise', 'note', note, false);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status('supervise', o.status), supervised = true,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'supervise', who, o.status, said,
        pg_catalog.jsonb_build_object('already_supervised', o.supervised));
END
$$;

-- comment: a note on the order, in any status.
CREATE FUNCTION workorder.comment(order_id bigint, actor text, note text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'comment');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'comment', 'note', note, true);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status('comment', o.status), updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'comment', who, o.status, said);
END
$$;

-- order_history returns the events of an order, in order (seq 1, 2, ...); WO402 when
-- there is no such order.  It reads with the caller's privileges.
CREATE FUNCTION workorder.order_history(order_id bigint)
RETURNS SETOF workorder.order_events
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) order_history.order_id) THEN
        PERFORM workorder.raise_error('WO402',
            pg_catalog.format('order %s does not exist', COALESCE(order_history.order_id::text, 'NULL')),
            'There is no order with that id.',
            'Check the order id; find an order by its ticket with SELECT id FROM workorder.orders WHERE ticket = ''...''.');
    END IF;
    RETURN QUERY SELECT * FROM workorder.order_events e
                  WHERE e.order_id OPERATOR(pg_catalog.=) order_history.order_id
                  ORDER BY e.seq;
END
$$;
