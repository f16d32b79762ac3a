-- BI views and reports: every workorder.bi_* view of this part is documented, keeps
-- personal data out (no reporter, phone, description, address or coordinates, and
-- no value of them), and answers from the orders; the daily briefing and monthly
-- assessment write their snapshot and replace it when rerun; WO821 for a future or
-- infinite period.  Run from the repository root.
\set QUIET 1
SET client_min_messages = warning;
-- The other session of the concurrent briefings below (a dblink connection).
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT format('dbname=%s port=%s host=%s user=%s', current_database(), current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1), current_user) AS other \gset
SELECT dblink_connect('other', :'other') \gset
BEGIN;

\o /dev/null
\i test/fixtures/lifecycle_map.sql
\o

SELECT plan(47);

CREATE TEMP TABLE views (name text PRIMARY KEY);
INSERT INTO views VALUES ('bi_open_orders'), ('bi_overdue_orders'), ('bi_backlog'), ('bi_escalations'),
    ('bi_unit_scores'), ('bi_unit_rankings'), ('bi_channel_volumes'), ('bi_category_trends'),
    ('bi_daily_briefings'), ('bi_monthly_assessments');

SELECT is((SELECT count(*)::integer FROM views v
            WHERE to_regclass('workorder.' || v.name) IS NOT NULL
              AND obj_description(('workorder.' || v.name)::regclass, 'pg_class') IS NOT NULL),
          10, 'the ten views exist and each has a comment (the report snapshots too: the analysts read no base table)');
SELECT is((SELECT array_agg(v.name || '.' || a.attname ORDER BY 1)
             FROM views v JOIN pg_attribute a ON a.attrelid = ('workorder.' || v.name)::regclass AND a.attnum > 0
            WHERE a.attname ~ '^(reporter.*|.*phone.*|description|address|location|lon|lat|geom.*)$'),
          NULL, 'no view has a column for the reporter, the phone, free text or coordinates');
SELECT is((SELECT count(*)::integer FROM views v
            WHERE has_table_privilege('public', 'workorder.' || v.name, 'SELECT')),
          0, 'PUBLIC cannot read them (the roles issue grants the analyst role)');

-- An order with personal data, dispatched, and its text nowhere in the views.
SELECT (workorder.submit('hotline', 'BI-1', '0301', '张三在门口摆摊 13912345678', lon => 116.05, lat => 25.05,
                         address => '幸福路8号', reporter_name => '李四', reporter_phone => '13800000000')).id AS a \gset
SELECT is((SELECT count(*)::integer FROM workorder.bi_open_orders WHERE order_id = :a), 1, 'an open order is in bi_open_orders');
SELECT is((SELECT ROW(town_code, town_name, unit_code, category_name)::text FROM workorder.bi_open_orders WHERE order_id = :a),
          (SELECT ROW(area_chain[2], '甲街道', main_unit, '占道经营')::text FROM workorder.orders WHERE id = :a),
          'with its town and unit and category by name');
CREATE FUNCTION pg_temp.leaks() RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    v text;
    found text[] := '{}';
    n integer;
BEGIN
    FOR v IN SELECT name FROM views LOOP
        EXECUTE format('SELECT count(*) FROM workorder.%I t WHERE t::text ~ ''(13912345678|13800000000|李四|张三|幸福路)''', v)
           INTO n;
        IF n > 0 THEN
            found := found || v;
        END IF;
    END LOOP;
    RETURN found;
END
$$;
SELECT is(pg_temp.leaks(), '{}', 'no value of the reporter, the phone, the description or the address shows in any view');
SELECT is((SELECT orders_received FROM workorder.bi_channel_volumes
            WHERE channel_code = 'hotline' AND day = (now() AT TIME ZONE 'Asia/Shanghai')::date), 1::bigint,
          'bi_channel_volumes counts it on its local day');
SELECT is((SELECT ROW(open_orders, awaiting_acceptance)::text FROM workorder.bi_backlog
            WHERE unit_code = (SELECT main_unit FROM workorder.orders WHERE id = :a)),
          ROW(1, 1)::text, 'bi_backlog counts it for its unit and town');
SELECT is((SELECT orders_received FROM workorder.bi_category_trends WHERE category_code = 'CITY_VENDOR'), 1::bigint,
          'bi_category_trends counts it in its category');
SELECT is((SELECT count(*)::integer FROM workorder.bi_overdue_orders), 0, 'nothing is overdue yet');

-- The daily briefing of today: one row, replaced when rerun.
SELECT is((SELECT ROW(orders_received, orders_dispatched, received_by_channel)::text
             FROM workorder.report_daily_briefing((now() AT TIME ZONE 'Asia/Shanghai')::date)),
          ROW(1, 1, '{"hotline": 1}'::jsonb)::text, 'the briefing counts the day''s submit and dispatch events');
SELECT workorder.accept(:a, (SELECT main_unit FROM workorder.orders WHERE id = :a)) IS NOT NULL AS accepted \gset
SELECT is((SELECT orders_accepted FROM workorder.report_daily_briefing((now() AT TIME ZONE 'Asia/Shanghai')::date)), 1,
          'rerun, it sees the accept');
SELECT is((SELECT count(*)::integer FROM workorder.daily_briefings), 1, 'and replaced its row');
-- A citizen's verdict given twice on one handling (the form retried, satisfied
-- then basically satisfied) counts once, as the scores count it: the briefing
-- counted both.
SAVEPOINT verdicts;
SELECT workorder.resolve(:a, (SELECT main_unit FROM workorder.orders WHERE id = :a), '已劝离') IS NOT NULL AS resolved \gset
SELECT workorder.callback(:a, 'C-990801', 'unsatisfied', '表格填错') IS NOT NULL AS first_verdict \gset
SELECT workorder.callback(:a, 'C-990801', 'basically_satisfied') IS NOT NULL AS second_verdict \gset
SELECT is((SELECT ROW(callbacks, callbacks_satisfied)::text
             FROM workorder.report_daily_briefing((now() AT TIME ZONE 'Asia/Shanghai')::date)),
          ROW(1, 1)::text, 'the briefing counts one verdict per report and handling, the last, as the scores do');
ROLLBACK TO SAVEPOINT verdicts;
-- ... also when the two verdicts fall on two days: the replaced one is taken back on
-- its own day, as the scores take it back.  (It was taken back on the later one's
-- day: that day had more satisfied verdicts than verdicts, and no rate.)  A log
-- written by hand: an SMS verdict at 23:50, the callback desk's at 00:10.
INSERT INTO workorder.orders (ticket, channel_code, channel_ref, description, location, location_match,
                              in_jurisdiction, received_at, status, event_count)
VALUES (workorder.make_ticket('2026-03-01', 900001), 'hotline', 'RPT-2DAYS', '两天的回访',
        ST_SetSRID(ST_MakePoint(116.05, 25.05), 4326), 'contained', true, '2026-03-01 10:00+08', 'resolved', 5);
INSERT INTO workorder.order_events (order_id, seq, at, action, actor, new_status, unit_code, details)
SELECT o.id, e.seq, e.at::timestamptz, e.action, 'reports_test', 'resolved', 'B-um-990801001', e.details::jsonb
  FROM workorder.orders o,
       (VALUES (1, '2026-03-01 10:00+08', 'dispatch', '{}'),
               (2, '2026-03-01 11:00+08', 'accept', '{"deadline": "on_time"}'),
               (3, '2026-03-02 10:00+08', 'resolve', '{"deadline": "on_time"}'),
               (4, '2026-03-02 23:50+08', 'callback', '{"satisfaction": "unsatisfied"}'),
               (5, '2026-03-03 00:10+08', 'callback', '{"satisfaction": "satisfied"}')) e(seq, at, action, details)
 WHERE o.channel_ref = 'RPT-2DAYS';
SELECT is((SELECT ROW(callbacks, callbacks_satisfied, satisfaction_rate)::text FROM workorder.report_daily_briefing('2026-03-02'))
          || ' ' || (SELECT ROW(callbacks, callbacks_satisfied, satisfaction_rate)::text FROM workorder.report_daily_briefing('2026-03-03')),
          '(0,0,) (1,1,1.0000)',
          'a verdict replaced the next day counts on neither day, the one that replaced it on its own day, as in the scores');
INSERT INTO workorder.score_progress (processed_through) SELECT max(id) FROM workorder.order_events
    ON CONFLICT (singleton) DO UPDATE SET processed_through = EXCLUDED.processed_through;
SELECT workorder.recompute_scores('2026-03-01', '2026-03-31') IS NOT NULL AS recomputed \gset
SELECT is((SELECT string_agg(ROW(s.period_start, s.callbacks, s.callbacks_satisfied)::text, ' ' ORDER BY s.period_start)
             FROM workorder.unit_scores s
            WHERE s.period_kind = 'day' AND s.period_start IN ('2026-03-02', '2026-03-03')
              AND s.unit_code = 'B-um-990801001'),
          '(2026-03-02,0,0) (2026-03-03,1,1)', '... which count them so');
ROLLBACK TO SAVEPOINT verdicts;
SELECT is((SELECT day FROM workorder.report_daily_briefing()), (now() AT TIME ZONE 'Asia/Shanghai')::date - 1,
          'by default it reports yesterday in the district''s zone');
SELECT throws_ok($$SELECT workorder.report_daily_briefing((now() AT TIME ZONE 'Asia/Shanghai')::date + 1)$$, 'WO821', NULL,
                 'a day in the future is WO821');
SELECT throws_ok($$SELECT workorder.report_daily_briefing('infinity')$$, 'WO821', NULL, 'an infinite day is WO821');
SELECT throws_ok($$SELECT workorder.report_daily_briefing('4714-11-24 BC')$$, 'WO821', NULL,
                 'the first day of the range of dates is WO821 (it has no start in the zone: 22008 before)');

-- One day is one lock, whatever the session's DateStyle: the key was the day as
-- text, so two sessions of two styles did not wait for each other, and the second
-- failed on the first's key (23505).  Here both runs are this session's: they hold
-- one lock of the briefings between them, not two (the extension's own, part 03:
-- objsubid 22351, keyed by the day written YYYY-MM-DD).
SET LOCAL DateStyle = 'ISO, YMD';
SELECT workorder.report_daily_briefing((now() AT TIME ZONE 'Asia/Shanghai')::date - 2) IS NOT NULL AS iso_run \gset
SET LOCAL DateStyle = 'SQL, DMY';
SELECT workorder.report_daily_briefing((now() AT TIME ZONE 'Asia/Shanghai')::date - 2) IS NOT NULL AS sql_run \gset
SET LOCAL DateStyle = 'ISO, YMD';
SELECT is((SELECT count(*)::integer FROM pg_locks l
            WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.objsubid = 22351
              AND l.classid::bigint = (hashtext('workorder.daily_briefings')::bigint & 4294967295)
              AND l.objid::bigint = (hashtext(to_char((now() AT TIME ZONE 'Asia/Shanghai')::date - 2, 'YYYY-MM-DD'))::bigint & 4294967295)),
          1, 'a day''s briefing takes one lock in any DateStyle, keyed by the day written YYYY-MM-DD');

-- Two runs for one day at once: the second waits for the first, then replaces its
-- row (it failed on the first's key).  The other run is a dblink session, which
-- holds its briefing uncommitted while it sleeps; its row is removed at the end.
SELECT set_config('rt.other_pid', pid::text, false) AS other_pid FROM dblink('other', 'SELECT pg_backend_pid()') AS t(pid integer) \gset
SELECT dblink_send_query('other', $$SELECT (workorder.report_daily_briefing('2020-01-01')).day, pg_sleep(1)$$) \gset
DO $$
BEGIN
    FOR i IN 1..600 LOOP   -- until the other run sleeps, its briefing written (at most 30 s)
        EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = current_setting('rt.other_pid')::integer
                                                             AND wait_event = 'PgSleep');
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT lives_ok($$SELECT workorder.report_daily_briefing('2020-01-01')$$,
                'a second run for the same day, while the first is uncommitted, waits and then replaces its row');
SELECT is((SELECT count(*)::integer FROM workorder.daily_briefings WHERE day = '2020-01-01'), 1, '... one row of the day');

-- A run under REPEATABLE READ whose snapshot is older than another run's committed
-- row of the day cannot see that row to replace it: it fails as a serialization
-- failure (40001), which a client retries, not on the row's key (23505, which it
-- reported before).  Two more dblink sessions: rr, whose snapshot is taken first,
-- and rr_other, which commits the day's briefing after it.
SELECT dblink_connect('rr', :'other') \gset
SELECT dblink_connect('rr_other', :'other') \gset
SELECT dblink_exec('rr', 'BEGIN ISOLATION LEVEL REPEATABLE READ') \gset
SELECT count(*) AS snapshot_taken FROM dblink('rr', 'SELECT 1 FROM workorder.daily_briefings LIMIT 1') AS t(x integer) \gset
SELECT count(*) AS committed FROM dblink('rr_other', $$SELECT (workorder.report_daily_briefing('2020-01-02')).day$$) AS t(d date) \gset
SELECT throws_ok($$SELECT * FROM dblink('rr', 'SELECT (workorder.report_daily_briefing(''2020-01-02'')).day') AS t(d date)$$,
                 '40001', NULL,
                 'a run under REPEATABLE READ that cannot see the day''s newer row fails as a serialization failure');
SELECT dblink_exec('rr', 'ROLLBACK') \gset
SELECT is((SELECT n FROM dblink('rr_other', $$SELECT count(*)::integer FROM workorder.daily_briefings WHERE day = '2020-01-02'$$) AS t(n integer)),
          1, '... and the day keeps the one row the other run committed');
SELECT dblink_exec('rr_other', $$DELETE FROM workorder.daily_briefings WHERE day = '2020-01-02'$$) \gset
SELECT dblink_disconnect('rr') \gset
SELECT dblink_disconnect('rr_other') \gset

-- The monthly assessment recomputes the month from the log and snapshots it.
INSERT INTO workorder.score_progress (processed_through) SELECT max(id) FROM workorder.order_events
    ON CONFLICT (singleton) DO UPDATE SET processed_through = EXCLUDED.processed_through;
SELECT count(*)::integer AS active_units FROM workorder.units WHERE active \gset
SELECT is(workorder.report_monthly_assessment((now() AT TIME ZONE 'Asia/Shanghai')::date), :active_units,
          'the current month: a row for every active unit');
SELECT is((SELECT ROW(unit_code, orders_assigned, on_time_accept_rate)::text FROM workorder.monthly_assessments
            WHERE orders_assigned > 0),
          (SELECT ROW(main_unit, 1, 1.0000)::text FROM workorder.orders WHERE id = :a),
          'the one that had an assignment: the unit, one assignment, accepted on time');
SELECT is((SELECT count(*)::integer FROM workorder.monthly_assessments
            WHERE orders_assigned = 0 AND on_time_accept_rate IS NULL AND composite IS NULL AND rank IS NULL AND list IS NULL),
          :active_units - 1, 'the others are there with no assignment, no rate and no rank (they were missing: not assessed, or idle?)');
SELECT workorder.report_monthly_assessment((now() AT TIME ZONE 'Asia/Shanghai')::date) AS rerun \gset
SELECT is((SELECT count(*)::integer FROM workorder.monthly_assessments), :active_units, 'rerun, it replaces the month''s rows');
SELECT throws_ok($$SELECT workorder.report_monthly_assessment((now() AT TIME ZONE 'Asia/Shanghai')::date + 40)$$, 'WO821', NULL,
                 'a month in the future is WO821');
SELECT is(workorder.report_monthly_assessment((date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai') + interval '1 month - 1 day')::date), :active_units,
          'the last day of the current month names the current month, as any of its days (a later day than today was WO821)');
SELECT throws_ok($$SELECT workorder.report_monthly_assessment('4714-11-24 BC')$$, 'WO821', NULL,
                 'a month before the range of timestamps is WO821 (22008 before)');

-- A month that has ended is published only once the scores have counted all of it:
-- with the watermark behind its events (the worker off, or held back by a
-- transaction left open), the snapshot was silently short.  (In a savepoint: the
-- views below are read on this day's order alone.)
SAVEPOINT ended_month;
SELECT workorder.intake_received_at(now() - interval '70 days') IS NULL AS dated \gset
SELECT (workorder.submit('hotline', 'BI-OLD', '0301', '上上个月的报告', lon => 116.05, lat => 25.05)).main_unit AS old_unit \gset
SELECT ((now() - interval '70 days') AT TIME ZONE 'Asia/Shanghai')::date AS old_day \gset
SELECT throws_ok(format('SELECT workorder.report_monthly_assessment(%L)', :'old_day'), 'WO822', NULL,
                 'an ended month with events past the scores'' watermark is WO822');
SELECT is((SELECT count(*)::integer FROM workorder.monthly_assessments WHERE month = date_trunc('month', :'old_day'::date)), 0,
          '... and nothing of it is written');
SELECT lives_ok(format('SELECT workorder.report_monthly_assessment(%L)', (:'old_day'::date + interval '1 month')::date),
                'an uncounted event of an earlier month does not hold back the next month''s report');
UPDATE workorder.score_progress SET processed_through = (SELECT max(id) FROM workorder.order_events);
SELECT workorder.report_monthly_assessment(:'old_day') AS old_written \gset
SELECT is((SELECT count(*) || ' ' || sum(orders_assigned) FROM workorder.monthly_assessments
            WHERE month = date_trunc('month', :'old_day'::date)),
          :active_units || ' 0',
          'once the watermark has passed them, the month is written; the report it received is not assigned in it (made from the inbox today, it was sent to its unit today)');
SELECT workorder.report_monthly_assessment((now() AT TIME ZONE 'Asia/Shanghai')::date) AS current_rerun \gset
SELECT is((SELECT string_agg(unit_code || ' ' || orders_assigned, ', ') FROM workorder.monthly_assessments
            WHERE month = date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai') AND unit_code = :'old_unit'),
          :'old_unit' || ' ' || (SELECT count(*) FROM workorder.orders WHERE main_unit = :'old_unit'),
          '... it counts in this month, with its unit''s other order');
ROLLBACK TO SAVEPOINT ended_month;

-- "Overdue now" is an open order past its deadline: the flag the deadline machinery
-- sets stays on an order resolved late, which counted as overdue now for ever.
UPDATE workorder.orders SET overdue = true WHERE id = :a;
\o /dev/null
SELECT workorder.log_event(o, 'escalate', 'system', o.status, 'escalation step 1: remind', '{"step": 1, "action": "remind"}')
  FROM workorder.orders o WHERE o.id = :a;
\o
SELECT is((SELECT ROW(c.overdue_now, e.overdue_now)::text
             FROM workorder.bi_category_trends c, workorder.bi_escalations e
            WHERE c.category_code = 'CITY_VENDOR' AND e.order_id = :a),
          ROW(1, true)::text, 'an accepted order past its deadline is overdue now in bi_category_trends and bi_escalations');
SELECT workorder.resolve(:a, (SELECT main_unit FROM workorder.orders WHERE id = :a), 'done') IS NOT NULL AS resolved \gset
SELECT is((SELECT ROW(c.overdue_now, e.overdue_now, e.status_now)::text
             FROM workorder.bi_category_trends c, workorder.bi_escalations e
            WHERE c.category_code = 'CITY_VENDOR' AND e.order_id = :a),
          ROW(0, false, 'resolved')::text, '... and no longer once it is resolved, as in bi_overdue_orders');
SELECT is((SELECT count(*)::integer FROM workorder.bi_overdue_orders WHERE order_id = :a), 0,
          '... which does not list it either');

-- Every verdict counts in bi_category_trends: an unsatisfied one that sends the order
-- back to be redone too (the view read orders.satisfaction, which the redo clears,
-- and showed 100 % satisfied).
INSERT INTO workorder.settings VALUES ('callback_redo_on_unsatisfied', 'on', 'reports_test');
SELECT (workorder.callback(:a, 'C-990801', 'unsatisfied', '还在摆摊')).status AS after_callback \gset
SELECT is(:'after_callback'::text, 'dispatched', 'an unsatisfied verdict sends the order back to be redone');
SELECT is((SELECT ROW(with_verdict, satisfied)::text FROM workorder.bi_category_trends WHERE category_code = 'CITY_VENDOR'),
          ROW(1, 0)::text, 'bi_category_trends counts that verdict, unsatisfied');
-- ... and still once the redone order is merged into another report of the event:
-- the callback is the merged order's own, in its own month and category (the
-- view left merged orders' verdicts out, and the log's callback counted nowhere).
SELECT (workorder.submit('hotline', 'BI-MASTER', '0301', '同一处摆摊', lon => 116.05, lat => 25.05)).id AS a_master \gset
SELECT workorder.merge(:a, :a_master, 'C-990801', '同一事件') IS NOT NULL AS merged \gset
SELECT is((SELECT ROW(sum(with_verdict), sum(satisfied))::text FROM workorder.bi_category_trends WHERE category_code = 'CITY_VENDOR'),
          ROW(1, 0)::text, '... and after the order is merged into another: every callback of the log counts once');

-- An escalation step belongs to the unit it was done to: a reassignment after it does
-- not move it to the new unit, nor a return leave it with none.
SELECT (workorder.submit('hotline', 'BI-2', '0301', '占道经营', lon => 116.06, lat => 25.06)).id AS b \gset
SELECT main_unit AS b_unit FROM workorder.orders WHERE id = :b \gset
\o /dev/null
SELECT workorder.log_event(o, 'escalate', 'system', o.status, 'escalation step 1: remind', '{"step": 1, "action": "remind"}')
  FROM workorder.orders o WHERE o.id = :b;
SELECT workorder.reassign(:b, 'C-990801', 'D-water', '改派');
\o
SELECT is((SELECT unit_code FROM workorder.bi_escalations WHERE order_id = :b), :'b_unit',
          'bi_escalations keeps the unit a step was done to after the order is reassigned');

-- A merged report counts in its own month: a report of 1 November merged into an
-- order of 31 October is one of October's orders and reports, and one of November's
-- reports (it counted in October, as its master's report_count, and October changed
-- with every late merge).
SELECT workorder.intake_received_at('2026-10-31 23:50+08') IS NULL AS dated \gset
SELECT (workorder.submit('hotline', 'BI-OCT', '0701', '十月最后一晚路面积水', lon => 116.05, lat => 25.05)).id AS oct \gset
SELECT workorder.intake_received_at('2026-11-01 00:10+08') IS NULL AS dated \gset
SELECT (workorder.submit('hotline', 'BI-NOV', '0701', '同一处积水，十一月报', lon => 116.05, lat => 25.05)).id AS nov \gset
SELECT workorder.merge(:nov, :oct, 'C-990801') IS NOT NULL AS merged \gset
SELECT is((SELECT array_agg(month || ' ' || orders_received || ' ' || reports ORDER BY month) FROM workorder.bi_category_trends
            WHERE category_code = 'WATER' AND month IN ('2026-10-01', '2026-11-01')),
          ARRAY['2026-10-01 1 1', '2026-11-01 0 1'],
          'bi_category_trends counts a merged report in its own month and category, not its master''s');
SELECT is((SELECT ROW(with_verdict, satisfied)::text FROM workorder.bi_category_trends
            WHERE category_code = 'WATER' AND month = '2026-11-01'),
          ROW(0, 0)::text, '... and a month whose only report was merged has 0 verdicts, not NULL');

-- The district's zone is looked up once per query, not once per order: score_zone()
-- is plpgsql with a subtransaction for its setting, and ran for every row of orders.
SELECT count(workorder.submit('hotline', 'BI-Z-' || i, '0301', '占道', lon => 116.05, lat => 25.05)) FROM generate_series(1, 20) i;
SET LOCAL track_functions = 'all';
CREATE TEMP TABLE zone_calls (view_name text, calls bigint);
CREATE FUNCTION pg_temp.zone_calls(view_name text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    before bigint := COALESCE(pg_stat_get_xact_function_calls('workorder.score_zone'::regproc), 0);
BEGIN
    EXECUTE format('SELECT count(v::text) FROM workorder.%I v', view_name);
    RETURN COALESCE(pg_stat_get_xact_function_calls('workorder.score_zone'::regproc), 0) - before;
END
$$;
SELECT is((SELECT array_agg(v || ' ' || pg_temp.zone_calls(v) ORDER BY v)
             FROM unnest(ARRAY['bi_open_orders', 'bi_channel_volumes', 'bi_category_trends', 'bi_escalations']) v),
          ARRAY['bi_category_trends 1', 'bi_channel_volumes 1', 'bi_escalations 1', 'bi_open_orders 1'],
          'each view calls score_zone() once per query, not once per order (21 orders here)');
SET LOCAL track_functions = 'none';

SELECT * FROM finish();
ROLLBACK;
SELECT count(*) AS drained FROM dblink_get_result('other') AS t(day date, slept text) \gset
SELECT count(*) AS drained FROM dblink_get_result('other') AS t(day date, slept text) \gset
SELECT dblink_exec('other', $$DELETE FROM workorder.daily_briefings WHERE day = '2020-01-01'$$) \gset
SELECT dblink_disconnect('other') \gset
DROP EXTENSION dblink;
