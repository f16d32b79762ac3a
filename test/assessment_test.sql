-- Assessment: the callback through a channel (idempotent; redo on an unsatisfied
-- verdict when the policy says so, per category subtree; WO801, WO802, WO404,
-- WO401, WO402), and the scores' definitions on a hand-written event log (an open
-- order marked overdue counts as late; a late resolve after the mark counts once;
-- only the first resolve after an assignment counts for the resolution rate; a redo
-- counts at the resolve it undoes; local days in the district's zone; weights,
-- ranks and lists), with WO811 and WO812 for bad settings and ranges.
-- Run from the repository root.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;

\o /dev/null
\i test/fixtures/lifecycle_map.sql
SELECT workorder.load_channels('[{"code": "sms", "name": "短信回访", "kind": "hotline"},
                                 {"code": "gen", "name": "generated", "kind": "hotline", "replies": false}]');
\o

SELECT plan(80);

CREATE TEMP SEQUENCE refs;
-- resolved_order returns a new order of category CITY_VENDOR, resolved by B-um-990801001.
CREATE FUNCTION pg_temp.resolved_order() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    made bigint := (workorder.submit('hotline', 'TAP-' || nextval('pg_temp.refs'), '9999', '回访测试',
                                     lon => 116.05, lat => 25.05)).id;
BEGIN
    PERFORM workorder.dispatch(made, 'C-990801', 'B-um-990801001');
    PERFORM workorder.accept(made, 'B-um-990801001');
    PERFORM workorder.resolve(made, 'B-um-990801001', '已处理');
    RETURN made;
END
$$;

-- ---------------------------------------------------------------- the callback
SELECT pg_temp.resolved_order() AS a \gset
SELECT is((workorder.callback(:a, 'sms', 'CB-1', 'satisfied', '很满意', 'agent-7')).verdict, 'satisfied',
          'a callback through a channel returns its record');
SELECT is((SELECT ROW(action, actor, details)::text FROM workorder.order_history(:a) ORDER BY seq DESC LIMIT 1),
          ROW('callback', 'agent-7', '{"channel": "sms", "satisfaction": "satisfied", "callback_ref": "CB-1"}'::jsonb)::text,
          'it is logged as a callback event with the verdict, channel and reference');
SELECT is((SELECT satisfaction FROM workorder.orders WHERE id = :a), 'satisfied', 'the order keeps the verdict');
SELECT is((SELECT event_count FROM workorder.orders WHERE id = :a), 5, 'five events so far');
SELECT is((SELECT ROW(c.id, c.event_seq)::text FROM workorder.callback(:a, 'sms', 'CB-1', 'satisfied', '很满意', 'agent-7') c),
          (SELECT ROW(c.id, c.event_seq)::text FROM workorder.callbacks c WHERE c.callback_ref = 'CB-1'),
          'a retry returns the first record');
SELECT is((SELECT event_count FROM workorder.orders WHERE id = :a), 5, 'and writes no second event');

SELECT is((SELECT count(*)::integer FROM workorder.callbacks WHERE callback_ref = 'CB-1'), 1, 'nor a second record');
SELECT throws_ok(format('SELECT workorder.callback(%s, %L, %L, %L, NULL, %L)', :a, 'sms', 'CB-1', 'unsatisfied', 'agent-7'),
                 'WO802', NULL, 'the same reference with another verdict is WO802');
SELECT throws_ok(format('SELECT workorder.callback(%s, %L, %L, %L, NULL, %L)', :a, 'nowhere', 'CB-9', 'satisfied', 'agent-7'),
                 'WO801', NULL, 'an unknown channel is WO801');
SELECT throws_ok(format('SELECT workorder.callback(%s, %L, %L, %L, NULL, %L)', :a, 'sms', '  ', 'satisfied', 'agent-7'),
                 'WO801', NULL, 'a blank reference is WO801');
SELECT throws_ok(format('SELECT workorder.callback(%s, %L, %L, %L, NULL, %L)', :a, 'sms', repeat('x', 129), 'satisfied', 'agent-7'),
                 'WO801', NULL, 'a reference over 128 characters is WO801');
SELECT throws_ok(format('SELECT workorder.callback(%s, %L, %L, %L, NULL, %L)', :a, 'sms', E'CB-\x01', 'satisfied', 'agent-7'),
                 'WO801', NULL, 'a reference with a control character is WO801, as a report''s is WO302');
SELECT throws_ok(format('SELECT workorder.callback(%s, %L, %L, %L, NULL, %L)', :a, repeat('s', 100000), 'CB-9', 'satisfied', 'agent-7'),
                 'WO801', 'callback: unknown or inactive channel ''' || repeat('s', 40) || '''',
                 'an unknown channel of 100000 characters is named by its first 40');
SELECT throws_ok(format('SELECT workorder.callback(%s, %L, %L, %L, NULL, %L)', :a, 'sms', 'CB-2', '满意', 'agent-7'),
                 'WO404', NULL, 'a verdict that is not one of the three is WO404');
SELECT throws_ok(format('SELECT workorder.callback(%s, %L, %L, %L, NULL, %L)', -1, 'sms', 'CB-3', 'satisfied', 'agent-7'),
                 'WO402', NULL, 'an unknown order is WO402');
SELECT is((SELECT count(*)::integer FROM workorder.callbacks), 1, 'refused callbacks record nothing');

-- Not yet resolved: WO401.
SELECT (workorder.submit('hotline', 'TAP-open', '9999', '未处理', lon => 116.05, lat => 25.05)).id AS fresh \gset
SELECT throws_ok(format('SELECT workorder.callback(%s, %L, %L, %L, NULL, %L)', :fresh, 'sms', 'CB-4', 'satisfied', 'agent-7'),
                 'WO401', NULL, 'a callback on an order that is not resolved is WO401');

-- A report merged into a master: its citizen heard the master's result, and the
-- verdict is the master's, logged on the master with the report named, counted for
-- the master's unit.  (It was WO401 on the report, and the report's channel could not
-- record it on the master.)
SELECT pg_temp.resolved_order() AS merged_master \gset
SELECT (workorder.submit('hotline', 'TAP-MERGED', '9999', '同一件事', lon => 116.05, lat => 25.05)).id AS merged_report \gset
SELECT workorder.merge(:merged_report, :merged_master, 'C-990801') IS NOT NULL AS merged \gset
SELECT is((SELECT ROW(c.order_id, c.verdict)::text FROM workorder.callback(:merged_report, 'sms', 'CB-M1', 'satisfied', '修好了', 'agent-7') c),
          ROW(:merged_report, 'satisfied')::text, 'a callback on a report merged into a resolved master is taken, and its record names the report');
SELECT is((SELECT ROW(action, unit_code, details ->> 'report_order_id', details ->> 'satisfaction')::text
             FROM workorder.order_history(:merged_master) ORDER BY seq DESC LIMIT 1),
          ROW('callback', 'B-um-990801001', :merged_report::text, 'satisfied')::text,
          '... logged on the master, for its unit, with the report named');
SELECT is((SELECT ROW(m.satisfaction, r.status)::text FROM workorder.orders m, workorder.orders r
            WHERE m.id = :merged_master AND r.id = :merged_report),
          ROW('satisfied', 'merged')::text, '... the master keeps the verdict, the report stays merged');
SELECT is((SELECT c.id FROM workorder.callback(:merged_report, 'sms', 'CB-M1', 'satisfied', '修好了', 'agent-7') c),
          (SELECT c.id FROM workorder.callbacks c WHERE c.callback_ref = 'CB-M1'), '... and a retry returns that record');
SELECT (workorder.submit('hotline', 'TAP-OPEN-M', '9999', '开着的主单', lon => 116.05, lat => 25.05)).id AS open_master \gset
SELECT (workorder.submit('hotline', 'TAP-OPEN-R', '9999', '开着的重复', lon => 116.05, lat => 25.05)).id AS open_report \gset
SELECT workorder.merge(:open_report, :open_master, 'C-990801') IS NOT NULL AS merged \gset
SELECT throws_ok(format('SELECT workorder.callback(%s, %L, %L, %L, NULL, %L)', :open_report, 'sms', 'CB-M2', 'satisfied', 'agent-7'),
                 'WO401', NULL, 'a callback on a report whose master is not resolved is WO401');

-- A unit's parent serves its area or one above it, and is not below it: a village
-- center moved under another town's center gave that town's staff its orders.
SELECT throws_ok($$UPDATE workorder.units SET parent_code = 'C-990801002' WHERE code = 'C-990801001001'$$, 'WO211',
                 'unit C-990801001001 (甲一村工作站) has a parent that serves another place',
                 'a village center under another town''s center is WO211');
SELECT throws_ok($$SELECT workorder.load_unit('{"code": "D-um", "name": "城管局", "kind": "department", "level": "district",
                     "department_kind": "urban_management", "area_code": "990801", "parent_code": "B-um-990801001"}')$$,
                 'WO211', 'unit D-um (element 1 of the batch) was not loaded: unit D-um (城管局) has a parent that serves another place',
                 '... so is a district department under a town branch, through the loader');
UPDATE workorder.units SET parent_code = 'D-um' WHERE code = 'D-water';
SELECT throws_ok($$UPDATE workorder.units SET parent_code = 'D-water' WHERE code = 'D-um'$$, 'WO211',
                 'unit D-um (城管局) would be its own ancestor', 'a unit under one of its own units is WO211');
UPDATE workorder.units SET parent_code = NULL WHERE code = 'D-water';

-- A unit the log names keeps its code (the log is not rewritten: recomputed scores
-- and assessments lost a renamed unit); one the log does not name may change it.
SELECT throws_ok($$UPDATE workorder.units SET code = 'B-um-990801001X' WHERE code = 'B-um-990801001'$$, 'WO211', NULL,
                 'a unit named in the event log cannot change its code');
SELECT code AS quiet_unit FROM workorder.units u
 WHERE NOT EXISTS (SELECT 1 FROM workorder.order_events e WHERE e.unit_code = u.code)
   AND NOT EXISTS (SELECT 1 FROM workorder.units c WHERE c.parent_code = u.code) ORDER BY code LIMIT 1 \gset
SELECT lives_ok(format($$UPDATE workorder.units SET code = %L WHERE code = %L$$, :'quiet_unit' || '-new', :'quiet_unit'),
                'a unit the log does not name may');
UPDATE workorder.units SET code = :'quiet_unit' WHERE code = :'quiet_unit' || '-new';
-- Nor is it deleted (the log named a unit that did not exist, and its facts dropped
-- out of the scores); one nothing names may be.
SELECT throws_ok($$DELETE FROM workorder.units WHERE code = 'B-um-990801001'$$, 'WO211',
                 'unit B-um-990801001 (甲街道城管中队) is named by orders or the event log and stays',
                 'a unit named in the event log cannot be deleted');
SAVEPOINT quiet_delete;
SELECT lives_ok(format($$DELETE FROM workorder.units WHERE code = %L$$, :'quiet_unit'), 'a unit nothing names may');
ROLLBACK TO SAVEPOINT quiet_delete;

-- Redo: off by default, on by the setting, off again for a category subtree.
SELECT pg_temp.resolved_order() AS b \gset
SELECT is((SELECT ROW(c.verdict, c.redo)::text FROM workorder.callback(:b, 'sms', 'CB-5', 'unsatisfied', '没解决', 'agent-7') c),
          ROW('unsatisfied', false)::text, 'by default an unsatisfied verdict does not reopen');
SELECT is((SELECT status::text FROM workorder.orders WHERE id = :b), 'resolved', 'the order stays resolved');
INSERT INTO workorder.settings VALUES ('callback_redo_on_unsatisfied', 'on', 'redo on unsatisfied');
SELECT pg_temp.resolved_order() AS c \gset
SELECT is((workorder.callback(:c, 'sms', 'CB-6', 'unsatisfied', '没解决', 'agent-7')).redo, true,
          'with the setting on, an unsatisfied verdict reopens (redo)');
SELECT is((SELECT ROW(status, redo_count, satisfaction)::text FROM workorder.orders WHERE id = :c),
          ROW('dispatched'::workorder.order_status, 1, NULL::text)::text,
          'the order is dispatched again, redo_count 1, the verdict kept in the reopen event');
SELECT is((SELECT array_agg(action ORDER BY seq)::text FROM workorder.order_history(:c) WHERE seq > 4),
          '{callback,reopen}', 'the callback event, then the reopen event');
SELECT is((workorder.callback(:c, 'sms', 'CB-6', 'unsatisfied', '没解决', 'agent-7')).redo, true,
          'a retry after the redo returns the record, though the order is no longer resolved');
SELECT is((SELECT event_count FROM workorder.orders WHERE id = :c), 6, 'and reopens nothing twice');
SELECT pg_temp.resolved_order() AS long_note \gset
SELECT is((workorder.callback(:long_note, 'sms', 'CB-long', 'unsatisfied', repeat('差', 1990), 'agent-7')).redo, true,
          'a note of 1990 characters, valid for a callback, still reopens (the reopen''s reason, over 2000 with its prefix, used to refuse it)');
SELECT is((SELECT array_agg(note ORDER BY seq) FROM workorder.order_history(:long_note) WHERE action IN ('callback', 'reopen')),
          ARRAY[repeat('差', 1990), 'unsatisfied callback (回访不满意)'],
          '... the callback event has the note whole; the reopen''s reason, which goes out to the channels, does not quote it');
SELECT pg_temp.resolved_order() AS d \gset
SELECT is((workorder.callback(:d, 'sms', 'CB-7', 'basically_satisfied', NULL, 'agent-7')).redo, false,
          'basically satisfied never reopens');
INSERT INTO workorder.callback_redo_policies VALUES ('CITY', false);
SELECT (workorder.submit('hotline', 'TAP-vendor', '0301', '占道经营', lon => 116.05, lat => 25.05)).id AS e \gset
SELECT workorder.accept(:e, (SELECT main_unit FROM workorder.orders WHERE id = :e)) IS NOT NULL AS accepted \gset
SELECT workorder.resolve(:e, (SELECT main_unit FROM workorder.orders WHERE id = :e), '已处理') IS NOT NULL AS resolved \gset
SELECT is((workorder.callback(:e, 'sms', 'CB-8', 'unsatisfied', NULL, 'agent-7')).redo, false,
          'a policy row on the parent category CITY turns redo off for CITY_VENDOR');
SELECT is((workorder.callback(:e, 'C-990801', 'satisfied', '电话回访')).status::text, 'resolved',
          'the center''s own callback(order, actor, satisfaction, note) still works');

-- ---------------------------------------------------------------- the scores
-- A hand-written log (the generator's shape), on units D-um and D-water, in
-- Asia/Shanghai: order 1 is resolved on time on 2026-03-02, order 2 is marked
-- overdue on 2026-03-02 and still open, order 3 is resolved late (unmarked) on
-- 2026-03-03 and resolved again after a failed verification, then reopened on
-- 2026-03-04; an event at 23:30 UTC on 2026-03-01 falls on the local 2026-03-02.
CREATE FUNCTION pg_temp.log(ref text, steps jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    made bigint;
BEGIN
    INSERT INTO workorder.orders (ticket, channel_code, channel_ref, description, location, location_match,
                                  in_jurisdiction, received_at, status, event_count)
    VALUES (workorder.make_ticket('2026-03-01', nextval('pg_temp.refs')::integer + 500000), 'gen', ref, 'x',
            ST_SetSRID(ST_MakePoint(116.1, 25.1), 4326), 'contained', true, '2026-03-01', 'new',
            jsonb_array_length(steps))
    RETURNING id INTO made;
    INSERT INTO workorder.order_events (order_id, seq, at, action, actor, new_status, unit_code, details)
    SELECT made, e.n, (e.s ->> 'at')::timestamptz, e.s ->> 'a', 'tap', 'new', e.s ->> 'u',
           COALESCE(e.s -> 'x', '{}')
      FROM jsonb_array_elements(steps) WITH ORDINALITY e(s, n);
END
$$;
DELETE FROM workorder.unit_scores;
SELECT pg_temp.log('S-1', '[{"a": "dispatch", "u": "D-um", "at": "2026-03-01 23:30Z"},
    {"a": "accept", "u": "D-um", "at": "2026-03-02 01:00Z", "x": {"deadline": "on_time"}},
    {"a": "resolve", "u": "D-um", "at": "2026-03-02 02:00Z", "x": {"deadline": "on_time"}},
    {"a": "callback", "u": "D-um", "at": "2026-03-02 03:00Z", "x": {"satisfaction": "basically_satisfied"}}]');
SELECT pg_temp.log('S-2', '[{"a": "dispatch", "u": "D-um", "at": "2026-03-02 01:00Z"},
    {"a": "accept_overdue", "u": "D-um", "at": "2026-03-02 04:00Z"},
    {"a": "accept", "u": "D-um", "at": "2026-03-02 05:00Z", "x": {"deadline": "overdue"}},
    {"a": "overdue", "u": "D-um", "at": "2026-03-02 09:00Z"}]');
SELECT pg_temp.log('S-3', '[{"a": "dispatch", "u": "D-um", "at": "2026-03-02 06:00Z"},
    {"a": "accept", "u": "D-um", "at": "2026-03-02 07:00Z", "x": {"deadline": "late"}},
    {"a": "resolve", "u": "D-um", "at": "2026-03-03 02:00Z", "x": {"deadline": "late"}},
    {"a": "resolve", "u": "D-um", "at": "2026-03-03 03:00Z", "x": {"deadline": "late"}},
    {"a": "callback", "u": "D-um", "at": "2026-03-03 04:00Z", "x": {"satisfaction": "unsatisfied"}},
    {"a": "reopen", "u": "D-um", "at": "2026-03-04 02:00Z"}]');
SELECT pg_temp.log('S-4', '[{"a": "dispatch", "u": "D-water", "at": "2026-03-02 02:00Z"},
    {"a": "return", "u": null, "at": "2026-03-02 03:00Z"}]');
-- The task takes committed ids only; inside this test's transaction, move the
-- watermark by hand to where the task would put it after the commit.
INSERT INTO workorder.score_progress (processed_through) SELECT max(id) FROM workorder.order_events
    ON CONFLICT (singleton) DO UPDATE SET processed_through = EXCLUDED.processed_through;
SELECT ok(workorder.recompute_scores('2026-03-01', '2026-03-31') > 0, 'recompute_scores writes rows');

SELECT is((SELECT ROW(orders_assigned, accepts_on_time, accepts_judged, resolves_on_time, resolves_judged, overdue)::text
             FROM workorder.unit_scores WHERE unit_code = 'D-um' AND period_kind = 'day' AND period_start = '2026-03-02'),
          ROW(3, 1, 3, 1, 2, 1)::text,
          '2026-03-02 (local): 3 assignments; accepts: 1 on time of 3 judged (a late one, an accept_overdue mark); resolves: 1 on time of 2 (the open order marked overdue is late)');
SELECT is((SELECT on_time_completion_rate FROM workorder.unit_scores
            WHERE unit_code = 'D-um' AND period_kind = 'day' AND period_start = '2026-03-02'),
          0.5000, 'so the on-time completion rate is 0.5, not 1/1');
SELECT is((SELECT ROW(resolves, resolves_on_time, resolves_judged, callbacks, callbacks_satisfied)::text
             FROM workorder.unit_scores WHERE unit_code = 'D-um' AND period_kind = 'day' AND period_start = '2026-03-03'),
          ROW(2, 0, 2, 1, 0)::text, '2026-03-03: two late resolves judged, one unsatisfied callback');
SELECT is((SELECT ROW(orders_assigned, cohort_resolved, resolution_rate, redone)::text
             FROM workorder.unit_scores WHERE unit_code = 'D-um' AND period_kind = 'month' AND period_start = '2026-03-01'),
          ROW(4, 2, 0.5000, 1)::text,
          'March: 4 assignments (the reopen is one), 2 resolved at their assignment (a second resolve counts once), 1 redo');
SELECT is((SELECT redone FROM workorder.unit_scores
            WHERE unit_code = 'D-um' AND period_kind = 'day' AND period_start = '2026-03-03'),
          1, 'the redo counts on the day of the resolve it undoes');
SELECT is((SELECT ROW(orders_assigned, cohort_returned, return_rate)::text FROM workorder.unit_scores
            WHERE unit_code = 'D-water' AND period_kind = 'week' AND period_start = '2026-03-02'),
          ROW(1, 1, 1.0000)::text, 'a return counts for the unit that returned it, at its assignment');
SELECT is((SELECT satisfaction_rate FROM workorder.unit_scores
            WHERE unit_code = 'D-um' AND period_kind = 'month' AND period_start = '2026-03-01'),
          0.5000, 'satisfaction: basically satisfied counts as satisfied; 1 of 2');
SELECT is((SELECT composite FROM workorder.unit_scores
            WHERE unit_code = 'D-um' AND period_kind = 'month' AND period_start = '2026-03-01'),
          round((0.3333 + 0.5000 + 0.5000) / 3, 4), 'the composite is the mean of the three rates by default');
SELECT is((SELECT array_agg(unit_code || ':' || rank ORDER BY rank) FROM workorder.unit_scores
            WHERE period_kind = 'month' AND period_start = '2026-03-01' AND unit_kind = 'department'),
          '{D-um:1,D-water:2}', 'ranks among units of the same kind');
-- A unit that changes kind (a reorganisation) is ranked with its new peers at once,
-- in every period, as recompute_scores ranks it: the incremental scores kept the kind
-- a row was first written with, and the two disagreed until a recompute.
SAVEPOINT reorganised;
UPDATE workorder.units SET kind = 'branch', level = 'town', area_code = '990801002', parent_code = 'D-env',
                          department_kind = 'environment'
 WHERE code = 'D-water';
SELECT is((SELECT array_agg(unit_code || ':' || unit_kind || ':' || rank ORDER BY unit_code) FROM workorder.unit_scores
            WHERE period_kind = 'month' AND period_start = '2026-03-01' AND unit_code IN ('D-um', 'D-water')),
          '{D-um:department:1,D-water:branch:1}', 'a unit that changes kind is ranked with its new peers at once');
CREATE TEMP TABLE scores_before AS SELECT * FROM workorder.unit_scores;
SELECT workorder.recompute_scores('2026-03-01', '2026-03-31') IS NOT NULL AS again \gset
SELECT set_eq('SELECT * FROM workorder.unit_scores', 'SELECT * FROM scores_before',
              '... every row as recompute_scores makes it');
ROLLBACK TO SAVEPOINT reorganised;
INSERT INTO workorder.settings VALUES ('score_list_min_orders', '1', 'list every unit'),
                                      ('score_weights', '{"satisfaction_rate": 1}', 'satisfaction only');
SELECT workorder.recompute_scores('2026-03-01', '2026-03-31') IS NOT NULL AS again \gset
SELECT is((SELECT ROW(composite, list)::text FROM workorder.unit_scores
            WHERE unit_code = 'D-um' AND period_kind = 'month' AND period_start = '2026-03-01'),
          ROW(0.5000, 'black')::text, 'weights are a setting; below score_black_below is the black list');
INSERT INTO workorder.settings VALUES ('district_time_zone', 'UTC', 'another zone');
SELECT workorder.recompute_scores() IS NOT NULL AS again \gset
SELECT is((SELECT orders_assigned FROM workorder.unit_scores
            WHERE unit_code = 'D-um' AND period_kind = 'day' AND period_start = '2026-03-01'),
          1, 'periods are local days of district_time_zone');
-- An approved extension that withdrew an overdue mark takes the mark back, on the
-- mark's day: the order is judged once, by its resolve within the new deadline.
SELECT pg_temp.log('S-5', '[{"a": "dispatch", "u": "D-water", "at": "2026-04-05 01:00Z"},
    {"a": "accept", "u": "D-water", "at": "2026-04-05 02:00Z", "x": {"deadline": "on_time"}},
    {"a": "overdue", "u": "D-water", "at": "2026-04-05 09:00Z"},
    {"a": "approve_extension", "u": "D-water", "at": "2026-04-06 02:00Z", "x": {"overdue_withdrawn": true}},
    {"a": "resolve", "u": "D-water", "at": "2026-04-07 02:00Z", "x": {"deadline": "on_time"}}]');
INSERT INTO workorder.score_progress (processed_through) SELECT max(id) FROM workorder.order_events
    ON CONFLICT (singleton) DO UPDATE SET processed_through = EXCLUDED.processed_through;
SELECT workorder.recompute_scores('2026-04-01', '2026-04-30') IS NOT NULL AS april \gset
SELECT results_eq($$SELECT period_start, resolves_on_time, resolves_judged, overdue, extensions FROM workorder.unit_scores
                     WHERE unit_code = 'D-water' AND period_kind = 'day' AND period_start >= '2026-04-05' ORDER BY 1$$,
                  $$VALUES ('2026-04-05'::date, 0, 0, 0, 0), ('2026-04-06', 0, 0, 0, 1), ('2026-04-07', 1, 1, 0, 0)$$,
                  'an overdue mark withdrawn by an approved extension is taken back on its own day; the resolve is judged on time');
SELECT is((SELECT ROW(resolves_judged, on_time_completion_rate, overdue)::text FROM workorder.unit_scores
            WHERE unit_code = 'D-water' AND period_kind = 'month' AND period_start = '2026-04-01'),
          ROW(1, 1.0000, 0)::text, '... so April judges the order once, on time (it was 1 of 2)');
-- So does a deadline recomputed after a calendar change that withdrew one (a holiday
-- plan loaded late put the deadline after the mark).
SELECT pg_temp.log('S-5R', '[{"a": "dispatch", "u": "D-water", "at": "2026-04-20 01:00Z"},
    {"a": "accept", "u": "D-water", "at": "2026-04-20 02:00Z", "x": {"deadline": "on_time"}},
    {"a": "overdue", "u": "D-water", "at": "2026-04-20 09:00Z"},
    {"a": "deadline_recomputed", "u": "D-water", "at": "2026-04-21 02:00Z", "x": {"overdue_withdrawn": true}},
    {"a": "resolve", "u": "D-water", "at": "2026-04-22 02:00Z", "x": {"deadline": "on_time"}}]');
INSERT INTO workorder.score_progress (processed_through) SELECT max(id) FROM workorder.order_events
    ON CONFLICT (singleton) DO UPDATE SET processed_through = EXCLUDED.processed_through;
SELECT workorder.recompute_scores('2026-04-01', '2026-04-30') IS NOT NULL AS april \gset
SELECT results_eq($$SELECT period_start, resolves_on_time, resolves_judged, overdue, extensions FROM workorder.unit_scores
                     WHERE unit_code = 'D-water' AND period_kind = 'day' AND period_start >= '2026-04-20' ORDER BY 1$$,
                  $$VALUES ('2026-04-20'::date, 0, 0, 0, 0), ('2026-04-22', 1, 1, 0, 0)$$,
                  'an overdue mark withdrawn by a recomputed deadline is taken back on its own day, no extension counted');
-- A merge or a cancel takes back the assignment it ends: a merged report is resolved
-- with its master, a cancelled order by nobody.  A returned order that is cancelled
-- later ended its assignment by the return, which counts.
SELECT pg_temp.log('S-6', '[{"a": "dispatch", "u": "D-water", "at": "2026-05-05 01:00Z"},
    {"a": "merge", "u": null, "at": "2026-05-05 02:00Z"}]');
SELECT pg_temp.log('S-7', '[{"a": "dispatch", "u": "D-water", "at": "2026-05-05 01:00Z"},
    {"a": "accept", "u": "D-water", "at": "2026-05-05 01:30Z", "x": {"deadline": "on_time"}},
    {"a": "cancel", "u": null, "at": "2026-05-06 02:00Z"}]');
SELECT pg_temp.log('S-8', '[{"a": "dispatch", "u": "D-water", "at": "2026-05-05 01:00Z"},
    {"a": "return", "u": null, "at": "2026-05-05 03:00Z"},
    {"a": "cancel", "u": null, "at": "2026-05-05 04:00Z"}]');
SELECT pg_temp.log('S-10', '[{"a": "dispatch", "u": "D-water", "at": "2026-05-05 01:00Z"},
    {"a": "merge", "u": null, "at": "2026-05-05 02:00Z"},
    {"a": "unmerge", "u": null, "at": "2026-05-05 03:00Z"},
    {"a": "merge", "u": null, "at": "2026-05-05 04:00Z"},
    {"a": "unmerge", "u": null, "at": "2026-05-05 05:00Z"},
    {"a": "cancel", "u": null, "at": "2026-05-05 06:00Z"}]');
SELECT pg_temp.log('S-9', '[{"a": "dispatch", "u": "D-water", "at": "2026-05-05 01:00Z"},
    {"a": "accept", "u": "D-water", "at": "2026-05-05 01:30Z", "x": {"deadline": "on_time"}},
    {"a": "resolve", "u": "D-water", "at": "2026-05-05 05:00Z", "x": {"deadline": "on_time"}}]');
INSERT INTO workorder.score_progress (processed_through) SELECT max(id) FROM workorder.order_events
    ON CONFLICT (singleton) DO UPDATE SET processed_through = EXCLUDED.processed_through;
SELECT workorder.recompute_scores('2026-05-01', '2026-05-31') IS NOT NULL AS may \gset
SELECT is((SELECT ROW(orders_assigned, cohort_resolved, cohort_returned, resolution_rate, return_rate)::text
             FROM workorder.unit_scores
            WHERE unit_code = 'D-water' AND period_kind = 'day' AND period_start = '2026-05-05'),
          ROW(2, 1, 1, 0.5000, 0.5000)::text,
          'a merged and a cancelled order leave their unit''s assignments once, also merged, unmerged, merged again and cancelled (5 dispatches, 2 assignments: 1 resolved, 1 returned)');
SELECT is((SELECT count(*)::integer FROM workorder.unit_scores
            WHERE unit_code = 'D-water' AND period_kind = 'day' AND period_start = '2026-05-06'), 0,
          '... counted at the assignment, not on the day of the cancel');
-- A reassignment takes back the assignment it ends, as a merge or a cancel does: a
-- dispatcher's misroute is not the first unit's to resolve.  (It stayed in that unit's
-- orders_assigned, never resolved: enough of them put it on the black list.)
SELECT pg_temp.log('S-11', '[{"a": "dispatch", "u": "D-water", "at": "2026-05-07 01:00Z"},
    {"a": "reassign", "u": "D-um", "at": "2026-05-07 02:00Z"},
    {"a": "accept", "u": "D-um", "at": "2026-05-07 02:30Z", "x": {"deadline": "on_time"}},
    {"a": "resolve", "u": "D-um", "at": "2026-05-07 05:00Z", "x": {"deadline": "on_time"}}]');
INSERT INTO workorder.score_progress (processed_through) SELECT max(id) FROM workorder.order_events
    ON CONFLICT (singleton) DO UPDATE SET processed_through = EXCLUDED.processed_through;
SELECT workorder.recompute_scores('2026-05-07', '2026-05-07') IS NOT NULL AS may \gset
SELECT is((SELECT string_agg(unit_code || ' ' || orders_assigned || ' ' || cohort_resolved, ', ' ORDER BY unit_code)
             FROM workorder.unit_scores
            WHERE unit_code IN ('D-water', 'D-um') AND period_kind = 'day' AND period_start = '2026-05-07'
              AND orders_assigned > 0),
          'D-um 1 1', 'a reassigned order counts for the unit it went to, and not against the unit it was taken from');
-- An order marked overdue while it waited unassigned (returned) is judged late at
-- the resolve of the unit it went to: the mark named no unit, and the resolve after
-- it said overdue, so neither counted, and the late order was in nobody's rate.
SELECT pg_temp.log('V-0', '[{"a": "dispatch", "u": "D-water", "at": "2026-07-10 01:00Z"},
    {"a": "return", "u": null, "at": "2026-07-10 02:00Z"},
    {"a": "overdue", "u": null, "at": "2026-07-10 09:00Z"},
    {"a": "dispatch", "u": "D-um", "at": "2026-07-11 01:00Z"},
    {"a": "resolve", "u": "D-um", "at": "2026-07-11 02:00Z", "x": {"deadline": "overdue"}}]');
INSERT INTO workorder.score_progress (processed_through) SELECT max(id) FROM workorder.order_events
    ON CONFLICT (singleton) DO UPDATE SET processed_through = EXCLUDED.processed_through;
SELECT workorder.recompute_scores('2026-07-10', '2026-07-11') IS NOT NULL AS july \gset
SELECT is((SELECT ROW(resolves, resolves_on_time, resolves_judged, on_time_completion_rate)::text FROM workorder.unit_scores
            WHERE unit_code = 'D-um' AND period_kind = 'day' AND period_start = '2026-07-11'),
          ROW(1, 0, 1, 0.0000)::text, 'a resolve after a mark made while the order was unassigned is judged late');

-- A merge, a cancel or a reassign that takes back an assignment takes back the
-- overdue mark made in it too, unless it was withdrawn, and the order is judged at
-- the resolve of the unit it went to.  (The unit kept a late order it no longer had,
-- and the unit that resolved it late was never judged.)  A return keeps the mark:
-- the unit handed the order back late.  August, UTC days.
SELECT pg_temp.log('R-1', '[{"a": "dispatch", "u": "D-water", "at": "2026-08-03 01:00Z"},
    {"a": "overdue", "u": "D-water", "at": "2026-08-03 09:00Z"},
    {"a": "reassign", "u": "D-um", "at": "2026-08-04 01:00Z"},
    {"a": "resolve", "u": "D-um", "at": "2026-08-04 02:00Z", "x": {"deadline": "overdue"}}]');
SELECT pg_temp.log('R-2', '[{"a": "dispatch", "u": "D-water", "at": "2026-08-10 01:00Z"},
    {"a": "overdue", "u": "D-water", "at": "2026-08-10 09:00Z"},
    {"a": "approve_extension", "u": "D-water", "at": "2026-08-10 10:00Z", "x": {"overdue_withdrawn": true}},
    {"a": "reassign", "u": "D-um", "at": "2026-08-11 01:00Z"},
    {"a": "resolve", "u": "D-um", "at": "2026-08-11 02:00Z", "x": {"deadline": "on_time"}}]');
SELECT pg_temp.log('R-3', '[{"a": "dispatch", "u": "D-water", "at": "2026-08-17 01:00Z"},
    {"a": "overdue", "u": "D-water", "at": "2026-08-17 09:00Z"},
    {"a": "reassign", "u": "D-um", "at": "2026-08-18 01:00Z"},
    {"a": "approve_extension", "u": "D-um", "at": "2026-08-18 02:00Z", "x": {"overdue_withdrawn": true}},
    {"a": "resolve", "u": "D-um", "at": "2026-08-18 03:00Z", "x": {"deadline": "on_time"}}]');
SELECT pg_temp.log('R-4', '[{"a": "dispatch", "u": "D-water", "at": "2026-08-24 01:00Z"},
    {"a": "overdue", "u": "D-water", "at": "2026-08-24 09:00Z"},
    {"a": "return", "u": null, "at": "2026-08-24 10:00Z"},
    {"a": "dispatch", "u": "D-um", "at": "2026-08-25 01:00Z"},
    {"a": "resolve", "u": "D-um", "at": "2026-08-25 02:00Z", "x": {"deadline": "overdue"}}]');
SELECT pg_temp.log('R-5', '[{"a": "dispatch", "u": "D-water", "at": "2026-08-27 01:00Z"},
    {"a": "overdue", "u": "D-water", "at": "2026-08-27 09:00Z"},
    {"a": "merge", "u": null, "at": "2026-08-28 01:00Z"}]');
-- The next unit's extension is its own: it does not wipe the mark of the unit that
-- returned the order late (it did, and that unit's lateness counted nowhere).
SELECT pg_temp.log('R-6', '[{"a": "dispatch", "u": "D-water", "at": "2026-08-29 01:00Z"},
    {"a": "overdue", "u": "D-water", "at": "2026-08-29 09:00Z"},
    {"a": "return", "u": null, "at": "2026-08-29 10:00Z"},
    {"a": "dispatch", "u": "D-um", "at": "2026-08-30 01:00Z"},
    {"a": "approve_extension", "u": "D-um", "at": "2026-08-30 02:00Z", "x": {"overdue_withdrawn": true}},
    {"a": "resolve", "u": "D-um", "at": "2026-08-30 03:00Z", "x": {"deadline": "on_time"}}]');
INSERT INTO workorder.score_progress (processed_through) SELECT max(id) FROM workorder.order_events
    ON CONFLICT (singleton) DO UPDATE SET processed_through = EXCLUDED.processed_through;
SELECT workorder.recompute_scores('2026-08-01', '2026-08-31') IS NOT NULL AS august \gset
SELECT results_eq($$SELECT unit_code, period_start, orders_assigned, resolves_on_time, resolves_judged, overdue
                      FROM workorder.unit_scores
                     WHERE period_kind = 'day' AND period_start BETWEEN '2026-08-01' AND '2026-08-31'
                       AND (orders_assigned, resolves_on_time, resolves_judged, overdue) <> (0, 0, 0, 0)
                     ORDER BY 1, 2$$,
                  $$VALUES ('D-um', '2026-08-04'::date, 1, 0, 1, 0),
                           ('D-um', '2026-08-11', 1, 1, 1, 0),
                           ('D-um', '2026-08-18', 1, 1, 1, 0),
                           ('D-um', '2026-08-25', 1, 0, 0, 0),
                           ('D-um', '2026-08-30', 1, 1, 1, 0),
                           ('D-water', '2026-08-24', 1, 0, 1, 1),
                           ('D-water', '2026-08-29', 1, 0, 1, 1)$$,
                  'a mark made in an assignment a reassign or a merge takes back goes with it, once, and the resolve after it is judged; a return keeps it, also past the next unit''s extension');

-- One verdict per report and resolve: a citizen's later verdict on the same handling
-- replaces the earlier (a retried form; the channel's verdict, then the center's),
-- at it; a merged report's citizen has a verdict of their own; after a reopen and a
-- new resolve, a verdict is a new one.  (Each counted: one order's verdicts
-- outweighed the rest.)  Days here are UTC (district_time_zone, above).
SELECT pg_temp.log('V-1', '[{"a": "dispatch", "u": "D-water", "at": "2026-06-01 01:00Z"},
    {"a": "resolve", "u": "D-water", "at": "2026-06-01 02:00Z", "x": {"deadline": "on_time"}},
    {"a": "callback", "u": "D-water", "at": "2026-06-01 03:00Z", "x": {"satisfaction": "unsatisfied"}},
    {"a": "callback", "u": "D-water", "at": "2026-06-01 04:00Z", "x": {"satisfaction": "satisfied"}},
    {"a": "callback", "u": "D-water", "at": "2026-06-02 04:00Z", "x": {"satisfaction": "satisfied"}},
    {"a": "callback", "u": "D-water", "at": "2026-06-02 05:00Z", "x": {"satisfaction": "satisfied", "report_order_id": "999"}},
    {"a": "reopen", "u": "D-water", "at": "2026-06-03 01:00Z"},
    {"a": "resolve", "u": "D-water", "at": "2026-06-03 02:00Z", "x": {"deadline": "on_time"}},
    {"a": "callback", "u": "D-water", "at": "2026-06-03 03:00Z", "x": {"satisfaction": "unsatisfied"}}]');
-- A unit with no order assigned in June, and a satisfied verdict on a May order.
SELECT pg_temp.log('V-2', '[{"a": "dispatch", "u": "D-um", "at": "2026-05-20 01:00Z"},
    {"a": "resolve", "u": "D-um", "at": "2026-05-20 02:00Z", "x": {"deadline": "on_time"}},
    {"a": "callback", "u": "D-um", "at": "2026-06-04 03:00Z", "x": {"satisfaction": "satisfied"}}]');
INSERT INTO workorder.score_progress (processed_through) SELECT max(id) FROM workorder.order_events
    ON CONFLICT (singleton) DO UPDATE SET processed_through = EXCLUDED.processed_through;
SELECT workorder.recompute_scores('2026-06-01', '2026-06-30') IS NOT NULL AS june \gset
SELECT results_eq($$SELECT period_start, callbacks, callbacks_satisfied FROM workorder.unit_scores
                     WHERE unit_code = 'D-water' AND period_kind = 'day' AND period_start BETWEEN '2026-06-01' AND '2026-06-30' ORDER BY 1$$,
                  $$VALUES ('2026-06-01'::date, 0, 0), ('2026-06-02', 2, 2), ('2026-06-03', 1, 0)$$,
                  'a later verdict of the same citizen on the same handling takes the earlier''s back, on its day; the merged report''s citizen and the verdict after the redo count');
SELECT is((SELECT ROW(callbacks, callbacks_satisfied, satisfaction_rate)::text FROM workorder.unit_scores
            WHERE unit_code = 'D-water' AND period_kind = 'month' AND period_start = '2026-06-01'),
          ROW(3, 2, 0.6667)::text, '... so June has three verdicts, two satisfied (it was five, three)');
SELECT is((SELECT array_agg(unit_code || ':' || COALESCE(rank::text, '-') ORDER BY unit_code) FROM workorder.unit_scores
            WHERE period_kind = 'month' AND period_start = '2026-06-01' AND unit_code IN ('D-um', 'D-water')),
          '{D-um:-,D-water:1}',
          'a unit with no order assigned in the period is not ranked (its one satisfied verdict on a May order ranked it first)');
SELECT throws_ok($$SELECT workorder.recompute_scores('infinity', NULL)$$, 'WO812', NULL,
                 'an infinite day is WO812');
SELECT throws_ok($$SELECT workorder.recompute_scores('5874897-12-31', NULL)$$, 'WO812', NULL,
                 'a day beyond the range of timestamps (the last date) is WO812, not 22008');
SELECT throws_ok($$SELECT workorder.recompute_scores('294277-01-01', '294277-01-01')$$, 'WO812', NULL,
                 'the first day after the last timestamp is WO812');
SELECT throws_ok($$SELECT workorder.recompute_scores('4714-11-30 BC', NULL)$$, 'WO812', NULL,
                 'a day whose month starts before the first timestamp is WO812');
SELECT throws_ok($$SELECT workorder.recompute_scores(NULL, '4714-11-24 BC')$$, 'WO812', NULL,
                 'the first date as to_day is WO812 too');
SELECT lives_ok($$SELECT workorder.recompute_scores('294276-12-31', '294276-12-31')$$,
                'the last day of the range of timestamps is a valid range');
SELECT lives_ok($$SELECT workorder.recompute_scores('4714-12-01 BC', '4714-12-01 BC')$$,
                'the first day whose month is within the range of timestamps is a valid range');
-- (Rows written with the settings check off, as before it existed: the check at
-- write time is settings_test.sql's.)
ALTER TABLE workorder.settings DISABLE TRIGGER settings_before_write;
UPDATE workorder.settings SET value = '{"satisfaction": 1}' WHERE name = 'score_weights';
SELECT throws_ok('SELECT workorder.recompute_scores()', 'WO811', NULL, 'an unknown rate in score_weights is WO811');
UPDATE workorder.settings SET value = 'Mars/Olympus' WHERE name = 'district_time_zone';
SELECT throws_ok('SELECT workorder.recompute_scores()', 'WO811', NULL, 'an unknown time zone is WO811');
ALTER TABLE workorder.settings ENABLE TRIGGER settings_before_write;
SELECT throws_ok($$SELECT workorder.recompute_scores('2026-03-31', '2026-03-01')$$, 'WO812', NULL,
                 'a range that ends before it begins is WO812');

-- Every number the settings check lets through is read as that number (the scores
-- read digits and one point only, and a value such as '.95', written without
-- complaint, failed every score_update pass: the scores stopped).
CREATE TEMP TABLE score_values (name text, value text, number numeric);
INSERT INTO score_values VALUES ('score_red_at_least', '.95', 0.95), ('score_red_at_least', '+0.95', 0.95),
    ('score_red_at_least', '9.5e-1', 0.95), ('score_red_at_least', '1.', 1), ('score_black_below', ' 0.5 ', 0.5),
    ('score_list_min_orders', '+10', 10), ('score_list_min_orders', '-0', 0), ('score_batch_events', '+100', 100);
CREATE FUNCTION pg_temp.score_values_misread() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v record;
    misread text[] := '{}';
BEGIN
    FOR v IN SELECT * FROM score_values LOOP
        INSERT INTO workorder.settings (name, value, description) VALUES (v.name, v.value, 'assessment_test')
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
        IF workorder.score_number(v.name, '7') IS DISTINCT FROM v.number THEN
            misread := misread || (v.name || '=' || v.value);
        END IF;
    END LOOP;
    RETURN array_to_string(misread, ', ');
END
$$;
SELECT is(pg_temp.score_values_misread(), '',
          'every value of a score number the settings check accepts is read as that number (.95, +10, 9.5e-1, ...)');
-- What only a row written past the check can hold is WO811.
SET CONSTRAINTS ALL IMMEDIATE;
ALTER TABLE workorder.settings DISABLE TRIGGER settings_before_write;
ALTER TABLE workorder.settings DISABLE TRIGGER settings_score_lists;
UPDATE workorder.settings SET value = 'NaN' WHERE name = 'score_red_at_least';
SELECT throws_ok($$SELECT workorder.score_number('score_red_at_least', '0.95')$$, 'WO811', NULL, 'a stored NaN is WO811');
UPDATE workorder.settings SET value = '-1' WHERE name = 'score_red_at_least';
SELECT throws_ok($$SELECT workorder.score_number('score_red_at_least', '0.95')$$, 'WO811', NULL, 'a stored negative number is WO811');
UPDATE workorder.settings SET value = 'Infinity' WHERE name = 'score_red_at_least';
SELECT throws_ok($$SELECT workorder.score_number('score_red_at_least', '0.95')$$, 'WO811', NULL, 'a stored infinity is WO811');
ALTER TABLE workorder.settings ENABLE TRIGGER settings_before_write;
ALTER TABLE workorder.settings ENABLE TRIGGER settings_score_lists;

SELECT * FROM finish();
ROLLBACK;
