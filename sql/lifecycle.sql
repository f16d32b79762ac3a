-- The lifecycle: every action on orders that came in through submit(), their event
-- log, and illegal actions refused with their messages.  Everything runs in one
-- transaction that is rolled back, so no other test sees these orders.
\set ON_ERROR_ROLLBACK on
BEGIN;
SET client_min_messages = warning;
SET IntervalStyle = postgres;  -- pg_regress sets postgres_verbose; this reads better

\i test/fixtures/lifecycle_map.sql
\i test/fixtures/error_of.sql

-- Orders are named by a letter here: tickets and ids depend on the day and on
-- other tests.  intake is the number of events submit() logged.
CREATE TEMP TABLE label (name text PRIMARY KEY, id bigint NOT NULL UNIQUE, intake integer NOT NULL);
CREATE FUNCTION pg_temp.report(name text, category text, description text, lon float8, lat float8)
RETURNS TABLE (name text, status workorder.order_status, main_unit text, dispatching_unit text,
               has_reason boolean, intake integer)
LANGUAGE sql AS $$
    INSERT INTO label
    SELECT name, o.id, o.event_count
      FROM workorder.submit('hotline', 'L-' || name, category, description, lon => lon, lat => lat) o;
    SELECT l.name, o.status, o.main_unit, o.dispatching_unit, o.status_reason IS NOT NULL, l.intake
      FROM label l JOIN workorder.orders o ON o.id = l.id WHERE l.name = report.name;
$$;

-- unlabel replaces, in a text (or JSON), each order's ticket and id with <name>:
-- what is left does not depend on the day or on other tests.
CREATE FUNCTION pg_temp.unlabel(t text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    l record;
BEGIN
    FOR l IN SELECT label.name, o.id, o.ticket::text AS ticket
               FROM label JOIN workorder.orders o USING (id) LOOP
        t := replace(t, l.ticket || ' (id ' || l.id || ')', '<' || l.name || '>');
        t := replace(t, l.ticket, '<' || l.name || '>');
        t := regexp_replace(t, '(order|id|master_id is) ' || l.id || '\M', '\1 <' || l.name || '>', 'g');
        t := regexp_replace(t, '("order_id"|"master_id"): ' || l.id || '\M', '\1: "<' || l.name || '>"', 'g');
    END LOOP;
    RETURN t;
END
$$;

-- Errors are shown through pg_temp.try (test/fixtures/error_of.sql), masked by
-- unlabel.
CREATE FUNCTION pg_temp.masked(t text) RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.unlabel(t)
$$;

-- history shows the events an order got after intake, without timestamps; details
-- name orders by letter, and say only whether a suspension's time was recorded.
CREATE FUNCTION pg_temp.history(name text)
RETURNS TABLE (seq integer, action text, actor text, old_status workorder.order_status,
               new_status workorder.order_status, unit_code text, old_unit text, note text, details jsonb)
LANGUAGE sql AS $$
    SELECT e.seq, e.action, e.actor, e.old_status, e.new_status, e.unit_code, e.old_unit, e.note,
           pg_temp.unlabel((e.details - '{suspended_at,suspended_for,old_resolve_due_at,new_resolve_due_at}'::text[])::text)::jsonb
           || CASE WHEN e.details ? 'suspended_at'
                   THEN jsonb_build_object('suspension_timed', e.details ->> 'suspended_at' IS NOT NULL
                                                               AND e.details ->> 'suspended_for' IS NOT NULL)
                   ELSE '{}' END
           || CASE WHEN e.details ? 'new_resolve_due_at'
                   THEN jsonb_build_object('deadlines_recorded', e.details ->> 'old_resolve_due_at' IS NOT NULL
                                                                 AND e.details ->> 'new_resolve_due_at' IS NOT NULL)
                   ELSE '{}' END
      FROM label l, workorder.order_history(l.id) e
     WHERE l.name = history.name AND e.seq > l.intake
     ORDER BY e.seq;
$$;

-- Intake: vendors are a town matter for the town's urban-management branch, water
-- a district matter for the water department; an unknown category stays 'new' at
-- the dispatch center.
SELECT * FROM pg_temp.report('A', '0301', '乙镇菜市场门口占道卖水果', 116.15, 25.05);
SELECT * FROM pg_temp.report('B', '9999', '不知道归谁管', 116.05, 25.05);
SELECT * FROM pg_temp.report('C', '0701', '甲街道水管爆裂', 116.05, 25.10);
SELECT * FROM pg_temp.report('D', '0701', '甲街道水管爆裂，路面全是水', 116.05, 25.10);
SELECT * FROM pg_temp.report('E', '0701', '水管爆了', 116.05, 25.10);
SELECT * FROM pg_temp.report('F', '9999', '测试电话', 116.05, 25.05);
SELECT * FROM pg_temp.report('G', '0301', '甲街道夜市占道', 116.05, 25.15);
SELECT id AS a FROM label WHERE name = 'A' \gset
SELECT id AS b FROM label WHERE name = 'B' \gset
SELECT id AS c FROM label WHERE name = 'C' \gset
SELECT id AS d FROM label WHERE name = 'D' \gset
SELECT id AS e FROM label WHERE name = 'E' \gset
SELECT id AS f FROM label WHERE name = 'F' \gset
SELECT id AS g FROM label WHERE name = 'G' \gset

-- A: the happy path.  The branch signs, resolves; the center's verification fails
-- once and sends it back, then passes; the citizen is satisfied; closed.
SELECT status, main_unit, event_count FROM workorder.accept(:a, 'B-um-990801002', '已签收');
SELECT status, result, event_count FROM workorder.resolve(:a, 'B-um-990801002', '  已劝离摊贩  ');
SELECT status, status_reason, result, event_count FROM workorder.verify(:a, 'C-990801', false, '现场仍有摊贩');
SELECT status, status_reason, result, event_count FROM workorder.resolve(:a, 'B-um-990801002', '已劝离摊贩并设置围挡');
SELECT status, status_reason, event_count FROM workorder.verify(:a, 'C-990801', true);
SELECT status, satisfaction, event_count FROM workorder.callback(:a, 'C-990801', 'satisfied', '市民表示满意');
SELECT status, satisfaction, event_count FROM workorder.close(:a, 'C-990801');
-- A callback is still taken after closing.
SELECT status, satisfaction, event_count FROM workorder.callback(:a, 'C-990801', 'basically_satisfied');
-- Reopen (重办): back to the same unit, counted; result and satisfaction go to the event.
SELECT status, main_unit, status_reason, redo_count, result, satisfaction, event_count
  FROM workorder.reopen(:a, 'C-990801', '摊贩又回来了');
SELECT status, redo_count, event_count FROM workorder.accept(:a, 'B-um-990801002');
SELECT status, redo_count, event_count FROM workorder.resolve(:a, 'B-um-990801002', '已取缔');
SELECT status, redo_count, event_count FROM workorder.close(:a, 'C-990801', '复核通过');
SELECT * FROM pg_temp.history('A');

-- B: dispatched by hand with an assisting unit, returned (退单), dispatched again by
-- the town center (which becomes the dispatching unit), reassigned.
SELECT status, main_unit, assisting_units, dispatching_unit, status_reason, event_count
  FROM workorder.dispatch(:b, 'C-990801', 'B-um-990801001', '请城管处理', ARRAY['D-water']);
SELECT status, main_unit, assisting_units, dispatching_unit, status_reason, return_count, event_count
  FROM workorder.return_order(:b, 'B-um-990801001', '不属于城管职责');
SELECT status, main_unit, assisting_units, dispatching_unit, status_reason, return_count, event_count
  FROM workorder.dispatch(:b, 'C-990801001', 'C-990801001001', assisting_units => ARRAY['B-um-990801001', 'D-um']);
SELECT status, main_unit, event_count FROM workorder.accept(:b, 'C-990801001001');
-- Reassigning to an assisting unit takes it out of the assisting units.
SELECT status, main_unit, assisting_units, dispatching_unit, event_count
  FROM workorder.reassign(:b, 'C-990801001', 'D-um', '改由区城管局处理');
SELECT status, main_unit, event_count FROM workorder.accept(:b, 'D-um');
-- Suspend and resume; the resume event records the suspension it ends.
SELECT status, status_reason, event_count FROM workorder.suspend(:b, 'D-um', '等待业主提供材料');
SELECT status, status_reason, event_count FROM workorder.resume(:b, 'D-um', '材料已到');
-- Extensions: one pending at a time; approving moves the deadline on the order's
-- SLA clock (sla_extend, part 85) and records the extension; rejecting keeps it.
SELECT to_json(resolve_due_at) #>> '{}' AS b_due, p.resolve_clock AS b_clock
  FROM workorder.orders o JOIN workorder.sla_policies p ON p.name = o.sla_policy WHERE o.id = :b \gset
SELECT status, pending_extension, resolve_due_at = :'b_due' AS deadline_kept, event_count
  FROM workorder.request_extension(:b, 'D-um', '5 days', '需要协调三个部门');
SELECT status, pending_extension, resolve_due_at = workorder.sla_extend(:'b_due', :'b_clock', '5 days') AS deadline_moved,
       event_count FROM workorder.approve_extension(:b, 'C-990801', '同意');
SELECT status, pending_extension, event_count FROM workorder.suspend(:b, 'D-um', '等待天气');
SELECT status, pending_extension, event_count FROM workorder.request_extension(:b, 'D-um', '2 weeks', '雨季');
SELECT status, pending_extension, resolve_due_at = workorder.sla_extend(:'b_due', :'b_clock', '5 days') AS deadline_kept,
       event_count FROM workorder.reject_extension(:b, 'C-990801', '时限已延长过一次');
SELECT status, pending_extension, event_count FROM workorder.resume(:b, 'D-um');
-- Supervision (督办) flags the order; comments go anywhere.
SELECT status, supervised, event_count FROM workorder.supervise(:b, '区领导王某', '请加快办理');
SELECT status, supervised, event_count FROM workorder.comment(:b, '区领导王某', '已电话催办');
-- Resolving drops a pending extension request, and says so in the event.
SELECT status, pending_extension, event_count FROM workorder.request_extension(:b, 'D-um', '3 days', '以防万一');
SELECT status, pending_extension, result, event_count FROM workorder.resolve(:b, 'D-um', '已处理完毕');
SELECT * FROM pg_temp.history('B');

-- Merge: D and E report the same burst pipe as C.  C counts their reports; each
-- merge is one event on the duplicate and one on the master.  Unmerging E sends it
-- back to a dispatcher, without a unit.
SELECT status, master_id = :c AS follows_c, event_count FROM workorder.merge(:d, :c, 'C-990801', '同一爆管');
SELECT status, master_id = :c AS follows_c, event_count FROM workorder.merge(:e, :c, 'C-990801');
SELECT report_count, event_count FROM workorder.orders WHERE id = :c;
SELECT status, master_id, main_unit, event_count FROM workorder.unmerge(:e, 'C-990801', '不是同一处');
SELECT pg_temp.unlabel(status_reason) AS status_reason FROM workorder.orders WHERE id = :e;
SELECT report_count, event_count FROM workorder.orders WHERE id = :c;
SELECT * FROM pg_temp.history('C');
SELECT * FROM pg_temp.history('D');
SELECT * FROM pg_temp.history('E');

-- Cancel a prank call; it can still be commented on.
SELECT status, status_reason, event_count FROM workorder.cancel(:f, 'C-990801', '骚扰电话');
SELECT status, event_count FROM workorder.comment(:f, 'C-990801', '号码已加入黑名单');
SELECT * FROM pg_temp.history('F');

-- Illegal actions.  What the status does not allow is WO401, with the allowed ones.
SELECT pg_temp.try(format('SELECT workorder.accept(%s, %L)', :b, 'D-um'));
SELECT pg_temp.try(format('SELECT workorder.close(%s, %L)', :f, 'C-990801'));
SELECT pg_temp.try(format('SELECT workorder.dispatch(%s, %L, %L)', :d, 'C-990801', 'D-water'));
SELECT pg_temp.try(format('SELECT workorder.supervise(%s, %L)', :a, '区领导王某'));
-- Units that do not exist, are inactive, or do not fit the action: WO403.
SELECT pg_temp.try(format('SELECT workorder.dispatch(%s, %L, %L)', :e, 'C-990801', 'D-nowhere'));
SELECT pg_temp.try(format('SELECT workorder.dispatch(%s, %L, %L)', :e, 'C-990801', 'D-env'));
SELECT pg_temp.try(format('SELECT workorder.dispatch(%s, %L, %L, assisting_units => %L)', :e, 'C-990801', 'D-water', '{D-um,D-um}'));
SELECT pg_temp.try(format('SELECT workorder.dispatch(%s, %L, %L, assisting_units => %L)', :e, 'C-990801', 'D-water', '{D-water}'));
SELECT pg_temp.try(format('SELECT workorder.reassign(%s, %L, %L)', :c, 'C-990801', 'D-water'));
-- Missing or bad arguments: WO404.
SELECT pg_temp.try(format('SELECT workorder.cancel(%s, %L, %L)', :e, 'C-990801', '   '));
SELECT pg_temp.try(format('SELECT workorder.comment(%s, %L, %L)', :e, 'C-990801', repeat('很长', 1001)));
SELECT pg_temp.try(format('SELECT workorder.dispatch(%s, %L, NULL)', :e, 'C-990801'));
SELECT pg_temp.try(format('SELECT workorder.merge(%s, %s, %L)', :e, :d, 'C-990801'));
SELECT pg_temp.try(format('SELECT workorder.merge(%s, %s, %L)', :e, :e, 'C-990801'));
SELECT pg_temp.try(format('SELECT workorder.merge(%s, %s, %L)', :e, :f, 'C-990801'));
SELECT pg_temp.try(format('SELECT workorder.merge(%s, 0, %L)', :e, 'C-990801'));
SELECT pg_temp.try(format('SELECT workorder.merge(%s, %s, %L)', :c, :e, 'C-990801'));
SELECT pg_temp.try(format('SELECT workorder.verify(%s, %L, NULL)', :b, 'C-990801'));
SELECT pg_temp.try(format('SELECT workorder.callback(%s, %L, %L)', :b, 'C-990801', 'happy'));
SELECT (workorder.accept(:g, 'B-um-990801001')).status;
SELECT pg_temp.try(format('SELECT workorder.request_extension(%s, %L, %L, %L)', :g, 'B-um-990801001', '91 days', '太久'));
SELECT pg_temp.try(format('SELECT workorder.request_extension(%s, %L, %L, %L)', :g, 'B-um-990801001', '-1 day', '负数'));
SELECT pg_temp.try(format('SELECT workorder.approve_extension(%s, %L)', :g, 'C-990801'));
SELECT (workorder.request_extension(:g, 'B-um-990801001', '1 day', '需要一天')).pending_extension;
SELECT pg_temp.try(format('SELECT workorder.request_extension(%s, %L, %L, %L)', :g, 'B-um-990801001', '2 days', '再要两天'));
-- Refused actions wrote nothing: each order's last event is still its event_count.
SELECT name, o.status, o.event_count, (SELECT max(seq) FROM workorder.order_events e WHERE e.order_id = o.id) AS last_seq
  FROM label JOIN workorder.orders o USING (id) ORDER BY name;

-- Errors that name no ticket, shown as psql shows them.
\set SHOW_CONTEXT never
SELECT workorder.accept(0, 'C-990801');
SELECT workorder.comment(:g, '   ', '谁?');
SELECT * FROM workorder.order_history(0);
-- The event log is append-only, even for the superuser.
\set VERBOSITY terse
UPDATE workorder.order_events SET note = '改写' WHERE order_id = :g;
DELETE FROM workorder.order_events WHERE order_id = :g;
\set VERBOSITY default
\set SHOW_CONTEXT errors
ROLLBACK;
