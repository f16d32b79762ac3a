-- The lifecycle: every (action, status) pair that workorder.order_actions does not
-- allow is WO401; every pair it allows lands in its status and appends exactly one
-- event (one on each order for merge and unmerge) with the right statuses, actor
-- and note; event numbers have no gaps; WO402, WO403 and WO404 for unknown orders,
-- unfit units and bad arguments; and nobody changes orders or events directly.
-- Run from the repository root.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;

\o /dev/null
\i test/fixtures/lifecycle_map.sql
\o

-- The number of tests follows the matrix: one per illegal pair, one per status for
-- its WO401 detail and one for its being unchanged, four per allowed transition
-- (five for merge and unmerge), one WO402 per action, and 137 others.
SELECT plan(
      (SELECT count(*)::integer FROM unnest(enum_range(NULL::workorder.order_status)) s
        CROSS JOIN (SELECT DISTINCT action FROM workorder.order_actions) a
        WHERE NOT EXISTS (SELECT 1 FROM workorder.order_actions x WHERE x.action = a.action AND x.from_status = s))
    + 2 * (SELECT count(*)::integer FROM unnest(enum_range(NULL::workorder.order_status)))
    + (SELECT sum(CASE WHEN action IN ('merge', 'unmerge') THEN 5 ELSE 4 END)::integer FROM workorder.order_actions)
    + (SELECT count(DISTINCT action)::integer FROM workorder.order_actions)
    + 141);

CREATE TEMP SEQUENCE refs;
CREATE TEMP TABLE fixture (name text PRIMARY KEY, id bigint NOT NULL);

-- report submits a report with an unknown category: a 'new' order at the center.
CREATE FUNCTION pg_temp.report() RETURNS bigint LANGUAGE sql AS $$
    SELECT (workorder.submit('hotline', 'TAP-' || nextval('pg_temp.refs'), '9999', '生命周期测试',
                             lon => 116.05, lat => 25.05)).id
$$;

-- The master every merge in the generated tests goes to.
INSERT INTO fixture VALUES ('master', pg_temp.report());
SELECT id AS master FROM fixture WHERE name = 'master' \gset
\o /dev/null
SELECT workorder.dispatch(:master, 'C-990801', 'D-water');
\o

-- order_in returns a new order, brought into a status through the actions.
CREATE FUNCTION pg_temp.order_in(status workorder.order_status) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    made bigint := pg_temp.report();
    master bigint := (SELECT f.id FROM fixture f WHERE f.name = 'master');
BEGIN
    IF status IN ('dispatched', 'accepted', 'suspended', 'resolved', 'closed') THEN
        PERFORM workorder.dispatch(made, 'C-990801', 'B-um-990801001');
    END IF;
    IF status IN ('accepted', 'suspended', 'resolved', 'closed') THEN
        PERFORM workorder.accept(made, 'B-um-990801001');
    END IF;
    IF status = 'suspended' THEN
        PERFORM workorder.suspend(made, 'B-um-990801001', '等待');
    END IF;
    IF status IN ('resolved', 'closed') THEN
        PERFORM workorder.resolve(made, 'B-um-990801001', '已处理');
    END IF;
    IF status = 'closed' THEN
        PERFORM workorder.close(made, 'C-990801');
    END IF;
    IF status = 'merged' THEN
        PERFORM workorder.merge(made, master, 'C-990801');
    END IF;
    IF status = 'cancelled' THEN
        PERFORM workorder.cancel(made, 'C-990801', '无效');
    END IF;
    IF (SELECT o.status FROM workorder.orders o WHERE o.id = made) IS DISTINCT FROM status THEN
        RAISE EXCEPTION 'order_in could not bring an order into status %', status;
    END IF;
    RETURN made;
END
$$;

-- action_sql is a call of an action by its name, with valid arguments for an order
-- that the status allows it on.  An action it does not know is an error, so that a
-- new action in the matrix cannot go untested.
CREATE FUNCTION pg_temp.action_sql(action text, id bigint, actor text, note text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    master bigint := (SELECT f.id FROM fixture f WHERE f.name = 'master');
    call text;
    other_unit text := CASE WHEN (SELECT o.main_unit FROM workorder.orders o WHERE o.id = action_sql.id) = 'D-water'
                            THEN 'D-um' ELSE 'D-water' END;
BEGIN
    call := CASE action
        WHEN 'dispatch' THEN format('SELECT workorder.dispatch(%s, %L, %L, %L)', id, actor, 'D-um', note)
        WHEN 'accept' THEN format('SELECT workorder.accept(%s, %L, %L)', id, actor, note)
        WHEN 'return' THEN format('SELECT workorder.return_order(%s, %L, %L)', id, actor, note)
        WHEN 'reassign' THEN format('SELECT workorder.reassign(%s, %L, %L, %L)', id, actor, other_unit, note)
        WHEN 'suspend' THEN format('SELECT workorder.suspend(%s, %L, %L)', id, actor, note)
        WHEN 'resume' THEN format('SELECT workorder.resume(%s, %L, %L)', id, actor, note)
        WHEN 'request_extension' THEN format('SELECT workorder.request_extension(%s, %L, %L, %L)', id, actor, '2 days', note)
        WHEN 'approve_extension' THEN format('SELECT workorder.approve_extension(%s, %L, %L)', id, actor, note)
        WHEN 'reject_extension' THEN format('SELECT workorder.reject_extension(%s, %L, %L)', id, actor, note)
        WHEN 'resolve' THEN format('SELECT workorder.resolve(%s, %L, %L)', id, actor, note)
        WHEN 'verify' THEN format('SELECT workorder.verify(%s, %L, true, %L)', id, actor, note)
        WHEN 'callback' THEN format('SELECT workorder.callback(%s, %L, %L, %L)', id, actor, 'satisfied', note)
        WHEN 'close' THEN format('SELECT workorder.close(%s, %L, %L)', id, actor, note)
        WHEN 'reopen' THEN format('SELECT workorder.reopen(%s, %L, %L)', id, actor, note)
        WHEN 'merge' THEN format('SELECT workorder.merge(%s, %s, %L, %L)', id, master, actor, note)
        WHEN 'unmerge' THEN format('SELECT workorder.unmerge(%s, %L, %L)', id, actor, note)
        WHEN 'cancel' THEN format('SELECT workorder.cancel(%s, %L, %L)', id, actor, note)
        WHEN 'supervise' THEN format('SELECT workorder.supervise(%s, %L, %L)', id, actor, note)
        WHEN 'comment' THEN format('SELECT workorder.comment(%s, %L, %L)', id, actor, note)
    END;
    IF call IS NULL THEN
        RAISE EXCEPTION 'lifecycle_test knows no call for action %: add it to pg_temp.action_sql', action;
    END IF;
    RETURN call;
END
$$;

-- error_of runs a statement and returns its error: SQLSTATE, message, detail.
CREATE FUNCTION pg_temp.error_of(statement text, OUT state text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
END
$$;

-- 1. Every pair the matrix does not allow is WO401, and changes nothing; the detail
--    lists exactly the actions the matrix allows.
CREATE FUNCTION pg_temp.illegal_pairs(status workorder.order_status) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    made bigint := pg_temp.order_in(status);
    before workorder.orders := (SELECT o FROM workorder.orders o WHERE o.id = made);
    action text;
    first_refused text;
BEGIN
    FOR action IN SELECT DISTINCT a.action FROM workorder.order_actions a
                   WHERE NOT EXISTS (SELECT 1 FROM workorder.order_actions x
                                      WHERE x.action = a.action AND x.from_status = illegal_pairs.status)
                   ORDER BY 1 LOOP
        first_refused := COALESCE(first_refused, action);
        RETURN NEXT throws_ok(pg_temp.action_sql(action, made, 'tap', 'illegal'), 'WO401', NULL,
                              format('%s is refused while %s (WO401)', action, status));
    END LOOP;
    RETURN NEXT is((pg_temp.error_of(pg_temp.action_sql(first_refused, made, 'tap', 'illegal'))).detail,
                   format('Actions allowed while %s: %s.', status,
                          (SELECT string_agg(a.action, ', ' ORDER BY a.action) FROM workorder.order_actions a
                            WHERE a.from_status = illegal_pairs.status)),
                   format('the WO401 detail lists the actions allowed while %s', status));
    RETURN NEXT is((SELECT o FROM workorder.orders o WHERE o.id = made)::text, before::text,
                   format('refused actions leave an order that is %s unchanged', status));
END
$$;
SELECT pg_temp.illegal_pairs(s) FROM unnest(enum_range(NULL::workorder.order_status)) s;

-- 2. Every pair the matrix allows lands in its status and appends one event with the
--    old and new status, the actor and the note.  merge and unmerge append one event
--    to the master too.
CREATE FUNCTION pg_temp.transition(action text, from_status workorder.order_status, to_status workorder.order_status)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    made bigint := pg_temp.order_in(from_status);
    master bigint := (SELECT f.id FROM fixture f WHERE f.name = 'master');
    actor text := 'tap ' || action;
    note text := format('%s while %s', action, from_status);
    events_before integer;
    master_events_before integer;
    master_status workorder.order_status;
    after workorder.orders;
    last workorder.order_events;
    target workorder.order_status := COALESCE(to_status, from_status);
BEGIN
    IF action IN ('approve_extension', 'reject_extension') THEN
        PERFORM workorder.request_extension(made, 'B-um-990801001', '3 days', '需要时间');
    END IF;
    SELECT o.event_count INTO events_before FROM workorder.orders o WHERE o.id = made;
    SELECT o.event_count, o.status INTO master_events_before, master_status FROM workorder.orders o WHERE o.id = master;
    EXECUTE pg_temp.action_sql(action, made, actor, note);
    SELECT * INTO after FROM workorder.orders o WHERE o.id = made;
    SELECT * INTO last FROM workorder.order_events e WHERE e.order_id = made ORDER BY e.seq DESC LIMIT 1;
    RETURN NEXT is(after.status, target, format('%s while %s leaves the order %s', action, from_status, target));
    RETURN NEXT is(after.event_count, events_before + 1, format('%s while %s appends one event', action, from_status));
    RETURN NEXT is((SELECT count(*)::integer FROM workorder.order_events e WHERE e.order_id = made),
                   after.event_count, format('%s while %s: event_count counts the events', action, from_status));
    RETURN NEXT is(ROW(last.seq, last.action, last.actor, last.old_status, last.new_status, last.note)::text,
                   ROW(after.event_count, action, actor, from_status, target, note)::text,
                   format('%s while %s: the event has seq, action, actor, old and new status and note', action, from_status));
    IF action IN ('merge', 'unmerge') THEN
        RETURN NEXT is((SELECT ROW(o.event_count, e.action, e.actor, e.old_status, e.new_status, e.note,
                                   e.details ->> 'order_id')::text
                          FROM workorder.orders o
                          JOIN workorder.order_events e ON e.order_id = o.id AND e.seq = o.event_count
                         WHERE o.id = master),
                       ROW(master_events_before + 1, CASE action WHEN 'merge' THEN 'merged_in' ELSE 'unmerged_out' END,
                           actor, master_status, master_status, note, made::text)::text,
                       format('%s while %s appends one event to the master', action, from_status));
    END IF;
END
$$;
SELECT pg_temp.transition(action, from_status, to_status) FROM workorder.order_actions ORDER BY action, from_status;

-- 3. Events are numbered 1..n per order, without gaps, and order_history returns them in order.
SELECT is((SELECT count(*) FROM workorder.orders o
            WHERE ARRAY(SELECT e.seq FROM workorder.order_events e WHERE e.order_id = o.id ORDER BY e.seq)
                  IS DISTINCT FROM ARRAY(SELECT generate_series(1, o.event_count))),
          0::bigint, 'every order''s events are numbered 1..event_count without gaps');
SELECT is((SELECT count(*) FROM workorder.orders), (SELECT count(DISTINCT order_id) FROM workorder.order_events),
          'every order has events');
SELECT results_eq(format('SELECT seq, action FROM workorder.order_history(%s)', :master),
                  format('SELECT seq, action FROM workorder.order_events WHERE order_id = %s ORDER BY seq', :master),
                  'order_history returns the events in seq order');

-- 4. WO402: an unknown order, for every action; and for order_history.
SELECT throws_ok(pg_temp.action_sql(action, -1, 'tap', 'x'), 'WO402', NULL, action || ' of an unknown order is WO402')
  FROM (SELECT DISTINCT action FROM workorder.order_actions) a ORDER BY action;
SELECT throws_ok('SELECT * FROM workorder.order_history(-1)', 'WO402', NULL, 'order_history of an unknown order is WO402');
SELECT throws_ok('SELECT workorder.accept(NULL, ''tap'')', 'WO402', NULL, 'a NULL order id is WO402');

-- 5. What each action does besides its status.
INSERT INTO fixture VALUES ('a', pg_temp.report()), ('b', pg_temp.report()), ('c', pg_temp.report()),
                           ('d', pg_temp.report()), ('e', pg_temp.report());
SELECT id AS a FROM fixture WHERE name = 'a' \gset
SELECT id AS b FROM fixture WHERE name = 'b' \gset
SELECT id AS c FROM fixture WHERE name = 'c' \gset
SELECT id AS d FROM fixture WHERE name = 'd' \gset
SELECT id AS e FROM fixture WHERE name = 'e' \gset

-- dispatch: main and assisting units; a center actor becomes the dispatching unit, a person does not.
SELECT is((SELECT ROW(main_unit, assisting_units, dispatching_unit, status_reason)::text
             FROM workorder.dispatch(:a, 'C-990801001', 'B-um-990801001', '派单', ARRAY['D-water', 'D-um'])),
          ROW('B-um-990801001', ARRAY['D-water', 'D-um'], 'C-990801001', NULL::text)::text,
          'dispatch sets the main and assisting units, the center actor as dispatching unit, and clears status_reason');
SELECT is((SELECT ROW(unit_code, details)::text FROM workorder.order_history(:a) ORDER BY seq DESC LIMIT 1),
          ROW('B-um-990801001', '{"assisting_units": ["D-water", "D-um"], "dispatching_unit": "C-990801001"}'::jsonb)::text,
          'the dispatch event names the unit, the assisting units and the dispatching unit');
SELECT is((workorder.dispatch(:b, '调度员张三', 'D-um')).dispatching_unit, 'C-990801',
          'a person dispatching leaves the dispatching unit as it was');
-- return: back to the dispatching center, counted, with the returning unit in the event.
SELECT is((SELECT ROW(status, main_unit, assisting_units, dispatching_unit, return_count, status_reason)::text
             FROM workorder.return_order(:a, 'B-um-990801001', '不属本单位')),
          ROW('new'::workorder.order_status, NULL::text, '{}'::text[], 'C-990801001', 1,
              'returned by B-um-990801001: 不属本单位')::text,
          'return: new, no units, same dispatching unit, counted, with the reason');
SELECT is((SELECT ROW(old_unit, unit_code, note)::text FROM workorder.order_history(:a) ORDER BY seq DESC LIMIT 1),
          ROW('B-um-990801001', NULL::text, '不属本单位')::text, 'the return event has the returning unit as old_unit');
SELECT is((SELECT ROW(status, return_count)::text FROM workorder.dispatch(:a, 'C-990801001', 'B-um-990801001')),
          ROW('dispatched'::workorder.order_status, 1)::text, 'a returned order is dispatched again');
-- reassign: old and new unit in the event; the new unit leaves the assisting units.
SELECT is((workorder.dispatch(:c, 'C-990801', 'D-um', assisting_units => ARRAY['D-water', 'B-um-990801001'])).assisting_units,
          ARRAY['D-water', 'B-um-990801001'], 'c is dispatched with two assisting units');
SELECT is((SELECT ROW(main_unit, assisting_units)::text FROM workorder.reassign(:c, 'C-990801', 'D-water', '改派')),
          ROW('D-water', ARRAY['B-um-990801001'])::text, 'reassign changes the main unit and drops it from the assisting units');
SELECT is((SELECT ROW(old_unit, unit_code)::text FROM workorder.order_history(:c) ORDER BY seq DESC LIMIT 1),
          ROW('D-um', 'D-water')::text, 'the reassign event has the old and the new unit');
-- accept, then extensions: approve moves a deadline by the extension and records both.
SELECT is((workorder.accept(:c, 'D-water')).status, 'accepted', 'c is accepted');
UPDATE workorder.orders SET resolve_due_at = '2026-01-10 18:00+08' WHERE id = :c;  -- as the owner, standing in for issue 4
SELECT is((workorder.request_extension(:c, 'D-water', '5 days', '需要协调')).pending_extension, '5 days'::interval,
          'request_extension sets the pending extension');
SELECT is((SELECT ROW(resolve_due_at, pending_extension)::text FROM workorder.approve_extension(:c, 'C-990801')),
          ROW('2026-01-16 18:00+08'::timestamptz, NULL::interval)::text,
          'approve_extension moves the resolve deadline by the extension (5 working days on c''s working-days policy) and clears the request');
SELECT is((SELECT details FROM workorder.order_history(:c) ORDER BY seq DESC LIMIT 1),
          jsonb_build_object('extension', 'P5D', 'old_resolve_due_at', '2026-01-10 18:00+08'::timestamptz,
                             'new_resolve_due_at', '2026-01-16 18:00+08'::timestamptz),
          'the approve event has the extension and both deadlines');
SELECT is((workorder.request_extension(:c, 'D-water', '1 day', '再要一天')).pending_extension, '1 day'::interval,
          'a second request after the first was decided is taken');
SELECT is((SELECT ROW(resolve_due_at, pending_extension)::text FROM workorder.reject_extension(:c, 'C-990801', '不同意')),
          ROW('2026-01-16 18:00+08'::timestamptz, NULL::interval)::text,
          'reject_extension clears the request and keeps the deadline');
-- suspend/resume: the resume event records the suspension it ends.
SELECT is((SELECT ROW(status, status_reason)::text FROM workorder.suspend(:c, 'D-water', '等待审批')),
          ROW('suspended'::workorder.order_status, '等待审批')::text, 'suspend keeps the reason as status_reason');
SELECT is((SELECT ROW(status, status_reason, accept_due_at IS NOT NULL,
                      resolve_due_at >= '2026-01-16 18:00+08'
                      AND workorder.working_time_between('2026-01-16 18:00+08', resolve_due_at) < interval '1 minute')::text
             FROM workorder.resume(:c, 'D-water')),
          ROW('accepted'::workorder.order_status, NULL::text, true, true)::text,
          'resume clears status_reason, keeps the accept deadline, and moves the resolve deadline by the paused working time');
SELECT ok((SELECT (details ->> 'suspended_seq')::integer = seq - 1
                  AND (details ->> 'suspended_at')::timestamptz <= at
                  AND (details ->> 'suspended_for')::interval >= '0'::interval
             FROM workorder.order_history(:c) ORDER BY seq DESC LIMIT 1),
          'the resume event has the suspend event''s seq, when it began and how long it lasted');
-- a pending request is dropped by an action that leaves accepted/suspended.
SELECT is((workorder.request_extension(:c, 'D-water', '2 days', '以防万一')).pending_extension, '2 days'::interval,
          'c has a pending request');
SELECT is((SELECT ROW(status, result, pending_extension)::text FROM workorder.resolve(:c, 'D-water', '  已修复  ')),
          ROW('resolved'::workorder.order_status, '已修复', NULL::interval)::text,
          'resolve stores the trimmed result and drops the pending request');
SELECT is((SELECT details - 'deadline' FROM workorder.order_history(:c) ORDER BY seq DESC LIMIT 1), '{"dropped_extension": "P2D"}'::jsonb,
          'the resolve event records the dropped request');
-- verify: failing sends it back to the unit; passing keeps it resolved.
SELECT is((SELECT ROW(status, status_reason)::text FROM workorder.verify(:c, 'C-990801', false, '未修好')),
          ROW('accepted'::workorder.order_status, 'verification failed: 未修好')::text,
          'a failed verification sends the order back to accepted');
SELECT is((SELECT ROW(new_status, details)::text FROM workorder.order_history(:c) ORDER BY seq DESC LIMIT 1),
          ROW('accepted'::workorder.order_status, '{"passed": false}'::jsonb)::text, 'its event says passed: false');
SELECT is((workorder.resolve(:c, 'D-water', '已修好')).status, 'resolved', 'c is resolved again');
SELECT is((SELECT details - 'deadline' FROM workorder.order_history(:c) ORDER BY seq DESC LIMIT 1), '{}'::jsonb,
          'no request was pending this time');
SELECT is((workorder.verify(:c, 'C-990801', true)).status, 'resolved', 'a passed verification keeps it resolved');
-- callback, close, reopen.
SELECT is((workorder.callback(:c, 'C-990801', 'unsatisfied', '市民不满意')).satisfaction, 'unsatisfied',
          'callback stores the satisfaction');
SELECT is((workorder.close(:c, 'C-990801')).status, 'closed', 'c is closed');
SELECT is((workorder.callback(:c, 'C-990801', 'basically_satisfied')).satisfaction, 'basically_satisfied',
          'callback is taken on a closed order too');
SELECT is((SELECT ROW(status, main_unit, redo_count, result, satisfaction, status_reason)::text
             FROM workorder.reopen(:c, 'C-990801', '市民反映仍未修好')),
          ROW('dispatched'::workorder.order_status, 'D-water', 1, NULL::text, NULL::text, 'reopened: 市民反映仍未修好')::text,
          'reopen sends the order to the same unit, counts it, and clears result and satisfaction');
SELECT is((SELECT details FROM workorder.order_history(:c) ORDER BY seq DESC LIMIT 1),
          '{"redo_count": 1, "result": "已修好", "satisfaction": "basically_satisfied"}'::jsonb,
          'the reopen event keeps the result and the satisfaction');
-- An order whose unit has been deactivated since goes back to new, for a dispatcher
-- (it was sent to the inactive unit, where nobody could sign for it).
SAVEPOINT unit_gone;
\o /dev/null
SELECT workorder.accept(:c, 'D-water');
SELECT workorder.resolve(:c, 'D-water', '再次修好');
UPDATE workorder.units SET active = false WHERE code = 'D-water';
\o
-- So does a failed verification (it was accepted again by the inactive unit).
SAVEPOINT verify_unit_gone;
SELECT is((SELECT ROW(status, main_unit, status_reason)::text FROM workorder.verify(:c, 'C-990801', false, '没修好')),
          ROW('new'::workorder.order_status, NULL::text,
              'verification failed: 没修好; its unit D-water (水务局) is inactive, for a dispatcher')::text,
          'a failed verification of an order whose unit is inactive leaves it new, without a unit, for a dispatcher');
SELECT is((SELECT ROW(new_status, old_unit, details ->> 'inactive_unit', details ->> 'passed')::text
             FROM workorder.order_history(:c) ORDER BY seq DESC LIMIT 1),
          ROW('new'::workorder.order_status, 'D-water', 'D-water', 'false')::text, '... and its event says which unit it left');
ROLLBACK TO SAVEPOINT verify_unit_gone;
SELECT is((SELECT ROW(status, main_unit, redo_count, status_reason)::text
             FROM workorder.reopen(:c, 'C-990801', '又坏了')),
          ROW('new'::workorder.order_status, NULL::text, 2, 'reopened: 又坏了; its unit D-water (水务局) is inactive, for a dispatcher')::text,
          'reopen of an order whose unit is inactive leaves it new, without a unit, for a dispatcher');
SELECT is((SELECT ROW(new_status, old_unit, details ->> 'inactive_unit')::text FROM workorder.order_history(:c) ORDER BY seq DESC LIMIT 1),
          ROW('new'::workorder.order_status, 'D-water', 'D-water')::text, '... and its event says which unit it left');
ROLLBACK TO SAVEPOINT unit_gone;
-- supervise: the flag; comment: the note.
SELECT is((SELECT ROW(status, supervised)::text FROM workorder.supervise(:c, '区长', '限期办结')),
          ROW('dispatched'::workorder.order_status, true)::text, 'supervise sets the flag and keeps the status');
SELECT event_count AS c_events FROM workorder.orders WHERE id = :c \gset
SELECT is((workorder.comment(:c, '区长', '  已批示  ')).event_count, :c_events + 1, 'comment appends an event');
SELECT is((SELECT note FROM workorder.order_history(:c) ORDER BY seq DESC LIMIT 1), '已批示', 'the comment is the trimmed note');
-- cancel.
SELECT is((SELECT ROW(status, status_reason)::text FROM workorder.cancel(:b, 'C-990801', '重复来电')),
          ROW('cancelled'::workorder.order_status, '重复来电')::text, 'cancel keeps the reason as status_reason');
-- merge and unmerge move report counts, and an unmerged order is new without units.
SELECT is((SELECT report_count FROM workorder.orders WHERE id = :a), 1, 'a counts one report');
SELECT is((SELECT ROW(status, master_id)::text FROM workorder.merge(:d, :a, 'C-990801', '同一事件')),
          ROW('merged'::workorder.order_status, :a)::text, 'd is merged into a');
SELECT is((SELECT ROW(status, master_id)::text FROM workorder.merge(:e, :a, 'C-990801')),
          ROW('merged'::workorder.order_status, :a)::text, 'e is merged into a');
SELECT is((SELECT report_count FROM workorder.orders WHERE id = :a), 3, 'a counts three reports');
SELECT is((SELECT details - 'ticket' FROM workorder.order_history(:a) ORDER BY seq DESC LIMIT 1),
          jsonb_build_object('order_id', :e, 'report_count', 1), 'the master''s merged_in event names the duplicate');
SELECT is((SELECT ROW(status, master_id, main_unit, status_reason IS NOT NULL)::text FROM workorder.unmerge(:d, 'C-990801', '不同事件')),
          ROW('new'::workorder.order_status, NULL::bigint, NULL::text, true)::text,
          'unmerge makes the order new, without master or unit, with a reason');
SELECT is((SELECT report_count FROM workorder.orders WHERE id = :a), 2, 'a counts two reports again');

-- 6. WO404: missing and bad arguments, and nothing written.
CREATE FUNCTION pg_temp.refused(call text, sqlstate text, description text)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    events_before bigint := (SELECT count(*) FROM workorder.order_events);
    orders_before text := (SELECT string_agg(o::text, ',' ORDER BY o.id) FROM workorder.orders o);
BEGIN
    RETURN NEXT throws_ok(call, sqlstate, NULL, description);
    RETURN NEXT ok((SELECT count(*) FROM workorder.order_events) = events_before
                   AND (SELECT string_agg(o::text, ',' ORDER BY o.id) FROM workorder.orders o) = orders_before,
                   description || ': nothing written');
END
$$;
-- f is accepted, g is new.
INSERT INTO fixture VALUES ('f', pg_temp.order_in('accepted')), ('g', pg_temp.order_in('new'));
SELECT id AS f FROM fixture WHERE name = 'f' \gset
SELECT id AS g FROM fixture WHERE name = 'g' \gset
SELECT * FROM pg_temp.refused(format('SELECT workorder.accept(%s, NULL)', :a), 'WO404', 'a NULL actor is WO404');
SELECT throws_ok(format('SELECT workorder.comment(%s, %L, %L)', :f, '  ', 'x'), 'WO404', NULL, 'a blank actor is WO404');
SELECT throws_ok(format('SELECT workorder.comment(%s, %L, %L)', :f, repeat('x', 201), 'x'), 'WO404',
                 'the actor is longer than 200 characters',
                 'an actor of 201 characters is WO404, said so (it was reported as missing)');
SELECT * FROM pg_temp.refused(format('SELECT workorder.return_order(%s, %L, %L)', :f, E'bob\x01\x02', 'r'), 'WO404',
                              'an actor with a control character is WO404, as a note with one is (it went into the log)');
SELECT is((SELECT e.state || ' ' || e.detail FROM pg_temp.error_of(format('SELECT workorder.return_order(%s, %L, %L)', :f,
                                                                        E'bob\nERROR:  forged', 'r')) e),
          'WO404 Character 4 of the actor ''bob?ERROR:  forged'' is U+000A.',
          'so is an actor with a line break, shown without it (it passed, and forged a line in the log)');
SELECT * FROM pg_temp.refused(format('SELECT workorder.return_order(%s, %L, NULL)', :f, 'B-um-990801001'), 'WO404',
                              'return without a reason is WO404');
SELECT throws_ok(format('SELECT workorder.return_order(%s, %L, %L)', :f, 'B-um-990801001', E' \t\n\u3000'), 'WO404', NULL,
                 'return with a reason of blanks (tab, line break, ideographic space) is WO404');
SELECT throws_ok(format('SELECT workorder.suspend(%s, %L, NULL)', :f, 'B-um-990801001'), 'WO404', NULL,
                 'suspend without a reason is WO404');
SELECT throws_ok(format('SELECT workorder.request_extension(%s, %L, %L, NULL)', :f, 'B-um-990801001', '1 day'), 'WO404', NULL,
                 'request_extension without a reason is WO404');
SELECT throws_ok(format('SELECT workorder.resolve(%s, %L, %L)', :f, 'B-um-990801001', ''), 'WO404', NULL,
                 'resolve without a result is WO404');
SELECT * FROM pg_temp.refused(format('SELECT workorder.resolve(%s, %L, %L)', :f, 'B-um-990801001', repeat('果', 2001)), 'WO404',
                              'a result over 2000 characters is WO404');
SELECT is((workorder.comment(:f, 'tap', repeat('注', 2000))).status, 'accepted', 'a note of 2000 characters is taken');
SELECT throws_ok(format('SELECT workorder.accept(%s, %L, %L)', :c, 'D-water', repeat('注', 2001)), 'WO404', NULL,
                 'an optional note over 2000 characters is WO404');
SELECT throws_ok(format('SELECT workorder.comment(%s, %L, NULL)', :f, 'tap'), 'WO404', NULL, 'a comment without a note is WO404');
SELECT throws_ok(format('SELECT workorder.cancel(%s, %L, %L)', :g, 'C-990801', ' '), 'WO404', NULL, 'cancel without a reason is WO404');
SELECT throws_ok(format('SELECT workorder.reopen(%s, %L, NULL)', (SELECT pg_temp.order_in('closed')), 'C-990801'), 'WO404', NULL,
                 'reopen without a reason is WO404');
SELECT * FROM pg_temp.refused(format('SELECT workorder.request_extension(%s, %L, NULL, %L)', :f, 'B-um-990801001', 'r'), 'WO404',
                              'a NULL extension is WO404');
SELECT throws_ok(format('SELECT workorder.request_extension(%s, %L, %L, %L)', :f, 'B-um-990801001', '0', 'r'), 'WO404', NULL,
                 'an extension of 0 is WO404');
SELECT throws_ok(format('SELECT workorder.request_extension(%s, %L, %L, %L)', :f, 'B-um-990801001', '-2 days', 'r'), 'WO404', NULL,
                 'a negative extension is WO404');
SELECT throws_ok(format('SELECT workorder.request_extension(%s, %L, %L, %L)', :f, 'B-um-990801001', '90 days 1 second', 'r'), 'WO404', NULL,
                 'an extension over 90 days is WO404');
SELECT is((workorder.request_extension(:f, 'B-um-990801001', '90 days', 'r')).pending_extension, '90 days'::interval,
          'an extension of exactly 90 days is taken');
SELECT * FROM pg_temp.refused(format('SELECT workorder.request_extension(%s, %L, %L, %L)', :f, 'B-um-990801001', '1 day', 'r'), 'WO404',
                              'a second pending request is WO404');
SELECT is((workorder.reject_extension(:f, 'C-990801', '太长')).pending_extension, NULL, 'f''s request is rejected');
SELECT throws_ok(format('SELECT workorder.reject_extension(%s, %L, NULL)', :f, 'C-990801'), 'WO404', NULL,
                 'reject_extension without a pending request (and without a reason) is WO404');
SELECT * FROM pg_temp.refused(format('SELECT workorder.approve_extension(%s, %L)', :f, 'C-990801'), 'WO404',
                              'approve_extension without a pending request is WO404');
SELECT throws_ok(format('SELECT workorder.reject_extension(%s, %L, %L)', :f, 'C-990801', '无'), 'WO404', NULL,
                 'reject_extension without a pending request is WO404');
SELECT is((workorder.request_extension(:f, 'B-um-990801001', '1 day', 'r')).pending_extension, '1 day'::interval, 'f asks again');
SELECT throws_ok(format('SELECT workorder.reject_extension(%s, %L, NULL)', :f, 'C-990801'), 'WO404', NULL,
                 'reject_extension without a reason is WO404');
SELECT is((workorder.resolve(:f, 'B-um-990801001', '已处理')).status, 'resolved', 'f is resolved');
SELECT * FROM pg_temp.refused(format('SELECT workorder.verify(%s, %L, NULL)', :f, 'C-990801'), 'WO404', 'verify with passed NULL is WO404');
SELECT * FROM pg_temp.refused(format('SELECT workorder.callback(%s, %L, %L)', :f, 'C-990801', '满意'), 'WO404',
                              'a satisfaction outside the list is WO404');
SELECT throws_ok(format('SELECT workorder.callback(%s, %L, NULL)', :f, 'C-990801'), 'WO404', NULL, 'a NULL satisfaction is WO404');
SELECT throws_ok(format('SELECT workorder.callback(%s, %L, %L)', :f, 'C-990801', 'Satisfied'), 'WO404', NULL,
                 'satisfaction values are case-sensitive');
-- merge's master: missing, itself, unknown, merged (no chains), cancelled; an order that has duplicates.
SELECT * FROM pg_temp.refused(format('SELECT workorder.merge(%s, NULL, %L)', :g, 'C-990801'), 'WO404', 'merge without a master is WO404');
SELECT throws_ok(format('SELECT workorder.merge(%s, %s, %L)', :g, :g, 'C-990801'), 'WO404', NULL, 'merge into itself is WO404');
SELECT throws_ok(format('SELECT workorder.merge(%s, -1, %L)', :g, 'C-990801'), 'WO404', NULL, 'merge into an unknown order is WO404');
SELECT * FROM pg_temp.refused(format('SELECT workorder.merge(%s, %s, %L)', :g, :e, 'C-990801'), 'WO404',
                              'merge into a merged order (a chain) is WO404');
SELECT throws_ok(format('SELECT workorder.merge(%s, %s, %L)', :g, :b, 'C-990801'), 'WO404', NULL,
                 'merge into a cancelled order is WO404');
SELECT throws_ok(format('SELECT workorder.merge(%s, %s, %L)', :a, :g, 'C-990801'), 'WO404', NULL,
                 'merging an order that has duplicates merged into it is WO404');
SELECT is((workorder.merge(:g, :f, 'C-990801')).master_id, :f::bigint, 'a resolved order can be a master');

-- 7. WO403: units that do not exist, are inactive, or do not fit the action.
INSERT INTO fixture VALUES ('h', pg_temp.order_in('new')), ('i', pg_temp.order_in('dispatched'));
SELECT id AS h FROM fixture WHERE name = 'h' \gset
SELECT id AS i FROM fixture WHERE name = 'i' \gset
SELECT * FROM pg_temp.refused(format('SELECT workorder.dispatch(%s, %L, %L)', :h, 'C-990801', 'D-none'), 'WO403',
                              'dispatch to an unknown unit is WO403');
-- An unknown code is named by its first 40 characters, control characters shown as
-- '?' (a code of 100,000 characters made an error of 200 kB, and a line break and
-- an escape sequence forged lines in the client's log).
SELECT is((SELECT e.message || ' | ' || e.detail
             FROM pg_temp.error_of(format('SELECT workorder.dispatch(%s, %L, %L)', :h, 'C-990801',
                                          E'X\nERROR:  forged\x1b[2K' || repeat('u', 100000))) e),
          format('order %s (id %s): dispatch: unit X?ERROR:  forged?[2K%s... does not exist | There is no unit with code ''X?ERROR:  forged?[2K%s...'' (of 100020 characters).',
                 (SELECT ticket FROM workorder.orders WHERE id = :h), :h, repeat('u', 20), repeat('u', 20)),
          'an unknown unit code is named by its first 40 characters, without its control characters');
SELECT throws_ok(format('SELECT workorder.dispatch(%s, %L, %L)', :h, 'C-990801', 'd-um'), 'WO403', NULL,
                 'unit codes are case-sensitive');
SELECT * FROM pg_temp.refused(format('SELECT workorder.dispatch(%s, %L, %L)', :h, 'C-990801', 'D-env'), 'WO403',
                              'dispatch to an inactive unit is WO403');
SELECT throws_ok(format('SELECT workorder.dispatch(%s, %L, %L, assisting_units => %L)', :h, 'C-990801', 'D-um', '{D-none}'),
                 'WO403', NULL, 'an unknown assisting unit is WO403');
SELECT throws_ok(format('SELECT workorder.dispatch(%s, %L, %L, assisting_units => %L)', :h, 'C-990801', 'D-um', '{D-env}'),
                 'WO403', NULL, 'an inactive assisting unit is WO403');
SELECT throws_ok(format('SELECT workorder.dispatch(%s, %L, %L, assisting_units => %L)', :h, 'C-990801', 'D-um', '{D-water,D-water}'),
                 'WO403', NULL, 'an assisting unit listed twice is WO403');
SELECT throws_ok(format('SELECT workorder.dispatch(%s, %L, %L, assisting_units => %L)', :h, 'C-990801', 'D-um', '{D-um}'),
                 'WO403', NULL, 'the main unit as an assisting unit is WO403');
SELECT throws_ok(format('SELECT workorder.dispatch(%s, %L, NULL)', :h, 'C-990801'), 'WO404', NULL, 'dispatch without a unit is WO404');
SELECT throws_ok(format('SELECT workorder.dispatch(%s, %L, %L, assisting_units => %L)', :h, 'C-990801', 'D-um', '{NULL}'),
                 'WO404', NULL, 'a NULL assisting unit is WO404');
SELECT is((workorder.dispatch(:h, 'C-990801', 'D-um', assisting_units => '{}')).assisting_units, '{}'::text[],
          'an empty list of assisting units is taken');
SELECT * FROM pg_temp.refused(format('SELECT workorder.reassign(%s, %L, %L)', :i, 'C-990801', 'D-none'), 'WO403',
                              'reassign to an unknown unit is WO403');
SELECT throws_ok(format('SELECT workorder.reassign(%s, %L, %L)', :i, 'C-990801', 'D-env'), 'WO403', NULL,
                 'reassign to an inactive unit is WO403');
SELECT * FROM pg_temp.refused(format('SELECT workorder.reassign(%s, %L, %L)', :i, 'C-990801', 'B-um-990801001'), 'WO403',
                              'reassign to the current unit is WO403');
SELECT throws_ok(format('SELECT workorder.reassign(%s, %L, NULL)', :i, 'C-990801'), 'WO404', NULL, 'reassign without a unit is WO404');

-- 8. Nobody changes orders or events directly.  A role granted UPDATE and DELETE on
--    orders, and BYPASSRLS so that row-level security (test/roles_test.sql) does not
--    hide the rows from it first, gets past the privileges and is stopped by the
--    trigger (WO405); on order_events it has no privilege, so the privilege check
--    stops it first (42501).
CREATE ROLE wo_intruder BYPASSRLS;
GRANT USAGE ON SCHEMA workorder TO wo_intruder;
GRANT SELECT, UPDATE, DELETE ON workorder.orders TO wo_intruder;
SET ROLE wo_intruder;
SELECT is((SELECT count(*) FROM workorder.orders WHERE id = :i), 1::bigint, 'the intruder can read orders');
SELECT throws_ok(format('UPDATE workorder.orders SET status = %L WHERE id = %s', 'closed', :i), 'WO405', NULL,
                 'a non-owner granted UPDATE cannot update an order (WO405)');
SELECT throws_ok(format('UPDATE workorder.orders SET supervised = true WHERE id = %s', :i), 'WO405', NULL,
                 'not even a harmless column');
SELECT throws_ok(format('DELETE FROM workorder.orders WHERE id = %s', :i), 'WO405', NULL,
                 'a non-owner granted DELETE cannot delete an order (WO405)');
SELECT throws_ok(format('UPDATE workorder.order_events SET note = %L WHERE order_id = %s', 'x', :i), '42501', NULL,
                 'a role without privileges on order_events is stopped by the privilege check (42501)');
RESET ROLE;
SELECT is((SELECT ROW(status, supervised, event_count)::text FROM workorder.orders WHERE id = :i),
          ROW('dispatched'::workorder.order_status, false, 2)::text, 'the intruder changed nothing');
SELECT throws_ok(format('UPDATE workorder.order_events SET note = %L WHERE order_id = %s', 'x', :i), 'WO405', NULL,
                 'the superuser cannot update events (WO405)');
SELECT throws_ok(format('DELETE FROM workorder.order_events WHERE order_id = %s', :i), 'WO405', NULL,
                 'the superuser cannot delete events (WO405)');
SELECT throws_ok('TRUNCATE workorder.order_events', 'WO405', NULL, 'the superuser cannot truncate events (WO405)');
SELECT is((SELECT count(*) FROM workorder.order_events WHERE order_id = :i), 2::bigint, 'the events are all there');

-- 9. settled_at: when the order last went from open (new, dispatched, accepted,
--    suspended) to settled (resolved, closed, merged, cancelled), NULL while open.
--    Every order the matrix above made, in every status, agrees with its status.
SELECT is((SELECT count(*) FROM workorder.orders
            WHERE (settled_at IS NULL) <> (status IN ('new', 'dispatched', 'accepted', 'suspended'))),
          0::bigint, 'every order is settled exactly when its status is resolved, closed, merged or cancelled');
SELECT cmp_ok((SELECT count(DISTINCT status) FROM workorder.orders), '=',
              (SELECT count(*) FROM unnest(enum_range(NULL::workorder.order_status))),
              'and the orders cover every status');
SELECT pg_temp.order_in('resolved') AS s \gset
SELECT is((SELECT settled_at FROM workorder.orders WHERE id = :s), now(), 'resolve settles the order, at the action''s time');
-- An earlier time stands in for a resolution of days ago (one transaction has one now()).
UPDATE workorder.orders SET settled_at = now() - interval '2 days' WHERE id = :s;
SELECT is((workorder.close(:s, 'C-990801')).settled_at, now() - interval '2 days',
          'closing a resolved order keeps when it was resolved');
SELECT is((workorder.reopen(:s, 'C-990801', '没修好')).settled_at, NULL, 'reopening it clears settled_at');
SELECT pg_temp.order_in('resolved') AS s \gset
SELECT is((workorder.verify(:s, 'C-990801', false, '未修好')).settled_at, NULL,
          'a failed verification, back to accepted, clears it');
SELECT is((workorder.cancel(pg_temp.order_in('dispatched'), 'C-990801', '无效')).settled_at, now(),
          'cancel settles the order');
SELECT pg_temp.order_in('merged') AS s \gset
SELECT is((SELECT settled_at FROM workorder.orders WHERE id = :s), now(), 'merge settles the order');
SELECT is((workorder.unmerge(:s, 'C-990801', '不是同一件事')).settled_at, NULL, 'unmerge clears it');
-- Orders inserted as they are (a migration, a restore): a settled one keeps the time
-- it is given, else is taken to have settled when it was received; an open one has
-- none, whatever it is given.
INSERT INTO workorder.orders (ticket, channel_code, channel_ref, description, location, location_match,
                              in_jurisdiction, received_at, status, settled_at)
VALUES (workorder.make_ticket(current_date - 400, 1), 'hotline', 'TAP-SETTLED-1', '旧工单',
        ST_SetSRID(ST_MakePoint(116.05, 25.05), 4326), 'contained', true, now() - interval '400 days', 'closed',
        now() - interval '390 days'),
       (workorder.make_ticket(current_date - 400, 2), 'hotline', 'TAP-SETTLED-2', '旧工单',
        ST_SetSRID(ST_MakePoint(116.05, 25.05), 4326), 'contained', true, now() - interval '400 days', 'cancelled',
        NULL),
       (workorder.make_ticket(current_date - 400, 3), 'hotline', 'TAP-SETTLED-3', '旧工单',
        ST_SetSRID(ST_MakePoint(116.05, 25.05), 4326), 'contained', true, now() - interval '400 days', 'dispatched',
        now() - interval '390 days');
SELECT results_eq($$SELECT channel_ref, settled_at - received_at FROM workorder.orders
                     WHERE channel_ref LIKE 'TAP-SETTLED-%' ORDER BY channel_ref$$,
                  $$VALUES ('TAP-SETTLED-1', interval '10 days'), ('TAP-SETTLED-2', interval '0'),
                           ('TAP-SETTLED-3', NULL::interval)$$,
                  'an order inserted settled keeps its settled_at, or takes its received_at; an open one has none');

SELECT * FROM finish();
ROLLBACK;
