-- SLA policies and deadlines: properties of the deadline functions on random
-- instants, the policy choice, the deadline task's marks, and bad input with its
-- SQLSTATE (WO511 invalid policy, WO512 unknown policy, WO513 invalid deadline
-- argument; WO501 unknown calendar; WO404 an extension with months).
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(118);
\o /dev/null
\i test/fixtures/intake_map.sql
\o

-- error_at_commit(statements, check) runs statements, then the deferred check
-- (a constraint trigger) as at commit, and returns its error as 'SQLSTATE: message'
-- or 'no error'; all of it is rolled back, in a subtransaction of its own.  (Not a
-- SAVEPOINT around pgTAP's own calls: its record of a test made inside one goes
-- with it.)
CREATE FUNCTION pg_temp.error_at_commit(statements text, check_name text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE statements;
    EXECUTE format('SET CONSTRAINTS %s IMMEDIATE', check_name);
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN CASE WHEN SQLSTATE = 'P0001' AND SQLERRM = 'no error' THEN 'no error' ELSE SQLSTATE || ': ' || SQLERRM END;
END
$f$;

-- Random instants over 2025-2026, and the shipped policies' amounts on each clock.
CREATE TEMP TABLE starts AS
SELECT '2025-01-01 00:00+08'::timestamptz + random() * interval '700 days' AS start
  FROM generate_series(1, 200);
CREATE TEMP TABLE clocks (clock text, amount interval);
INSERT INTO clocks VALUES ('calendar_hours', '30 minutes'), ('calendar_hours', '24 hours'),
    ('calendar_hours', '1 second'), ('working_hours', '2 hours'), ('working_hours', '40 hours'),
    ('working_days', '1 day'), ('working_days', '5 days'), ('working_days', '15 days');

SELECT is((SELECT count(*) FROM starts, clocks
            WHERE workorder.deadline_after(start, clock, amount) <= start), 0::bigint,
          'a deadline is after its start, on every clock');
SELECT is((SELECT count(*) FROM starts, clocks
            WHERE clock = 'working_hours'
              AND workorder.working_time_between(start, workorder.deadline_after(start, clock, amount)) <> amount), 0::bigint,
          'a working_hours deadline is its amount of working time after the start');
SELECT is((SELECT count(*) FROM starts, clocks
            WHERE clock = 'calendar_hours' AND workorder.deadline_after(start, clock, amount) - start <> amount), 0::bigint,
          'a calendar_hours deadline is its amount of elapsed time after the start');
SELECT is((SELECT count(*) FROM starts, clocks
            WHERE clock = 'working_days'
              AND workorder.deadline_after(start, clock, amount) <> workorder.add_working_days(start, extract(day FROM amount)::integer)),
          0::bigint, 'a working_days deadline is add_working_days');
SELECT is((SELECT count(*) FROM starts, clocks, (VALUES (0.5), (0.8), (0.99)) f(fraction),
                  LATERAL (SELECT workorder.deadline_after(start, clock, amount) AS due) d
            WHERE NOT workorder.sla_warn_at(start, d.due, clock, f.fraction) BETWEEN start AND d.due), 0::bigint,
          'the warning instant lies between the start and the deadline');
SELECT is((SELECT count(*) FROM starts, clocks,
                  LATERAL (SELECT workorder.deadline_after(start, clock, amount) AS due) d
            WHERE clock = 'calendar_hours'
              AND workorder.sla_warn_at(start, d.due, clock, 0.8) <> start + (d.due - start) * 0.8), 0::bigint,
          'a calendar warning is at 80 % of the span');

-- Resume: the shift equals the paused working time.
CREATE TEMP TABLE pauses AS
SELECT s.start AS paused_from, s.start + random() * interval '5 days' AS paused_to,
       s.start + interval '3 days' + random() * interval '10 days' AS due
  FROM starts s;
SELECT is((SELECT count(*) FROM pauses
            WHERE workorder.working_time_between(paused_from, paused_to) > '0'::interval
              AND workorder.working_time_between(due, workorder.sla_shift(due, 'working_days', paused_from, paused_to))
                  <> workorder.working_time_between(paused_from, paused_to)), 0::bigint,
          'resume moves a working deadline by exactly the paused working time');
SELECT is((SELECT count(*) FROM pauses
            WHERE workorder.sla_shift(due, 'calendar_hours', paused_from, paused_to) - due <> paused_to - paused_from),
          0::bigint, 'resume moves a calendar deadline by the elapsed pause');
SELECT is((SELECT count(*) FROM pauses
            WHERE workorder.working_time_between(paused_from, paused_to) = '0'::interval
              AND workorder.sla_shift(due, 'working_days', paused_from, paused_to) <> due), 0::bigint,
          'a pause outside working hours does not move a working deadline');
SELECT is((SELECT count(*) FROM pauses
            WHERE workorder.sla_extend(due, 'working_hours', '3 hours') <= due
               OR workorder.sla_extend(due, 'working_days', '2 days') <= due), 0::bigint,
          'an extension moves a deadline later');

-- The policy choice: rule > priority > category > standard.
INSERT INTO workorder.sla_priority_policies VALUES ('low', 'complex');
SELECT is(workorder.choose_sla_policy(NULL, 'normal', 'CITY_VENDOR'), 'standard', 'the category''s (inherited) policy');
SELECT is(workorder.choose_sla_policy(NULL, 'normal', 'CITY_BUILDING'), 'complex', 'the category''s own policy');
SELECT is(workorder.choose_sla_policy(NULL, 'urgent', 'CITY_BUILDING'), 'urgent', 'urgent priority over the category');
SELECT is(workorder.choose_sla_policy(NULL, 'low', 'CITY_VENDOR'), 'complex', 'a mapped priority over the category');
SELECT is((SELECT string_agg(sla_policy, ',' ORDER BY step) FROM workorder.route_steps('CITY_VENDOR', 'hotline', '{990401,990401001,990401001001}', 'low', '摊贩')
             WHERE matched),
          'complex', 'explain_route''s steps show the policy the order gets: a mapped priority''s over the category''s (they showed the category''s)');
SELECT is(workorder.choose_sla_policy((SELECT id FROM workorder.routing_rules WHERE position = 20), 'low', 'MARKET_FOOD'),
          'urgent', 'the rule''s policy over the priority');
SELECT is(workorder.choose_sla_policy(NULL, 'normal', NULL), 'standard', 'no category: standard');
-- (A name no policy has is refused on write since 0.5, below; rows from before may have one.)
SET LOCAL session_replication_role = replica;
UPDATE workorder.categories SET sla_policy = 'nosuch' WHERE code = 'CITY_BUILDING';
SET LOCAL session_replication_role = origin;
UPDATE workorder.categories SET name = name WHERE code = 'CITY_BUILDING';
SELECT is(workorder.choose_sla_policy(NULL, 'normal', 'CITY_BUILDING'), 'standard', 'a category naming no policy: standard');

-- The deadline task marks each crossing once.
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('gone', 'calendar_hours', '1 second', 'calendar_hours', '2 seconds');
INSERT INTO workorder.sla_priority_policies VALUES ('high', 'gone');
CREATE TEMP TABLE late AS
SELECT (workorder.submit('hotline', 'T-' || i, '0301', '摊贩' || i, lon => 121.02, lat => 31.05, priority => 'high')).id
  FROM generate_series(1, 5) i;
SELECT is((SELECT count(*) FROM late JOIN workorder.orders o USING (id) WHERE o.next_check_at = o.accept_due_at), 5::bigint,
          'the first check of a dispatched order is at its earliest deadline');
SELECT pg_sleep(greatest(0, extract(epoch FROM now() + interval '2.2 seconds' - clock_timestamp())));
SELECT is((SELECT rows FROM workorder.task_deadline_check()), 10, 'one pass marks every order accept overdue and overdue');
SELECT is((SELECT rows FROM workorder.task_deadline_check()), 0, 'a second pass marks nothing');
SELECT is((SELECT count(*) FROM late JOIN workorder.orders o USING (id)
            WHERE o.overdue AND o.accept_overdue AND o.warned AND o.next_check_at IS NULL), 5::bigint,
          'the marks are set and nothing is left to check');
SELECT is((SELECT count(*) FROM late JOIN workorder.order_events e ON e.order_id = late.id
            WHERE e.action IN ('overdue', 'accept_overdue', 'deadline_warning')), 10::bigint,
          'one overdue and one accept_overdue event each, no warning after the deadline');
SELECT is((SELECT count(*) FROM late JOIN workorder.notifications n ON n.order_id = late.id), 10::bigint,
          'each event has its notification');

-- One order whose marks cannot be logged is skipped and named, and the others are
-- marked.  (The first error rolled back the whole pass, and every pass after met
-- that order first: no order was warned or marked overdue again.)
CREATE TEMP TABLE late2 AS
SELECT (workorder.submit('hotline', 'T2-' || i, '0301', '摊贩二' || i, lon => 121.02, lat => 31.05, priority => 'high')).id
  FROM generate_series(1, 3) i;
CREATE FUNCTION pg_temp.refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.order_id = (SELECT min(id) FROM late2) THEN
        RAISE EXCEPTION 'a broken order';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_one BEFORE INSERT ON workorder.notifications FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_one();
SELECT pg_sleep(greatest(0, extract(epoch FROM now() + interval '2.2 seconds' - clock_timestamp())));
SET client_min_messages = error;
SELECT task_deadline_check AS pass FROM workorder.task_deadline_check() \gset
SET client_min_messages = warning;
SELECT is((:'pass'::workorder.task_outcome).rows, 4, 'a pass with one broken order marks the other two, accept overdue and overdue');
SELECT ok((:'pass'::workorder.task_outcome).detail LIKE format('%%1 orders failed and were skipped (ids %s): a broken order', (SELECT min(id) FROM late2)),
          '... and names the order it skipped, with its error');
SELECT is((SELECT array_agg(o.overdue ORDER BY o.id) FROM late2 JOIN workorder.orders o USING (id)), '{f,t,t}'::boolean[],
          '... which stays unmarked and due');
DROP TRIGGER refuse_one ON workorder.notifications;

-- Bad input.
SELECT throws_ok($$SELECT workorder.deadline_after(now(), 'working_hours', '1 day')$$, 'WO513', NULL,
                 'a days part on an hours clock is WO513');
SELECT throws_ok($$SELECT workorder.deadline_after(now(), 'working_days', '1 day 2 hours')$$, 'WO513', NULL,
                 'a time part on working_days is WO513');
SELECT throws_ok($$SELECT workorder.deadline_after(now(), 'lunar', '1 hour')$$, 'WO513', NULL, 'an unknown clock is WO513');
SELECT throws_ok($$SELECT workorder.sla_policy('nosuch')$$, 'WO512', NULL, 'an unknown policy is WO512');
SELECT throws_ok($$INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount, warn_fraction)
                   VALUES ('x', 'working_hours', '1 hour', 'working_days', '5 days', 0)$$, 'WO511', NULL,
                 'a warn_fraction of 0 is WO511');
SELECT throws_ok($$INSERT INTO workorder.sla_policies (name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount)
                   VALUES ('x', 'nosuch', 'working_hours', '1 hour', 'working_days', '5 days')$$, 'WO501', NULL,
                 'an unknown calendar is WO501');
SELECT throws_ok($$INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
                   VALUES ('x', 'working_hours', '1 hour', 'working_days', '40000 days')$$, 'WO511', NULL,
                 'a resolve amount of 40000 working days is WO511 (it passed, and every dispatch of the policy failed with WO503)');
SELECT throws_ok($$INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
                   VALUES ('x', 'calendar_hours', '10001 hours', 'working_days', '5 days')$$, 'WO511', NULL,
                 '... and an accept amount over 10000 hours');
-- The caps count hours, not the calendar: on a calendar open an hour a week, 9000
-- working hours never end within the calendar's 100 years, and every report of
-- the policy's categories was refused at intake.  A calendar with no hours yet is
-- not asked (it is being set up).
INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('sparse', 'an hour a week', 'Asia/Shanghai');
SELECT lives_ok($$INSERT INTO workorder.sla_policies (name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount)
                  VALUES ('sparse-early', 'sparse', 'working_hours', '2 hours', 'working_hours', '9000 hours')$$,
                'a policy on a calendar with no working hours yet is not counted on it');
-- ... but the hours it is given must fit it, at commit (here made immediate).
SELECT is(pg_temp.error_at_commit($$INSERT INTO workorder.calendar_hours (calendar_code, isodow, starts, ends)
                                     VALUES ('sparse', 1, '09:00', '10:00')$$,
                                   'workorder.calendar_hours_keep_policies'),
          'WO502: the working hours of calendar sparse are too few for an SLA policy on it',
          '... and the hours it is then given must fit it (WO502 at commit)');
DELETE FROM workorder.sla_policies WHERE name = 'sparse-early';
INSERT INTO workorder.calendar_hours (calendar_code, isodow, starts, ends) VALUES ('sparse', 1, '09:00', '10:00');
SELECT throws_ok($$INSERT INTO workorder.sla_policies (name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount)
                   VALUES ('sparse-long', 'sparse', 'working_hours', '2 hours', 'working_hours', '9000 hours')$$,
                 'WO511', 'SLA policy sparse-long cannot be met on calendar sparse',
                 'a policy whose deadline never ends within 100 years on its calendar is WO511, not every intake WO503');
SELECT lives_ok($$INSERT INTO workorder.sla_policies (name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount)
                  VALUES ('sparse-short', 'sparse', 'working_hours', '2 hours', 'working_hours', '20 hours')$$,
                '... one that ends is taken');
SELECT throws_ok($$UPDATE workorder.sla_policies SET calendar_code = 'sparse', resolve_clock = 'working_hours',
                          resolve_amount = '9000 hours' WHERE name = 'standard'$$,
                 'WO511', 'SLA policy standard cannot be met on calendar sparse',
                 '... and so is a shipped policy changed to one that never ends');
-- So is an escalation step (9000 hours passed the cap of 1000 days, and every submit()
-- of the policy failed in the chain's trigger, WO503) ...
SELECT throws_ok($$INSERT INTO workorder.sla_escalation_steps (policy, step, after, action)
                   VALUES ('sparse-short', 1, '9000 hours', 'remind')$$,
                 'WO521', 'escalation step 1 of policy sparse-short cannot be reached on its calendar',
                 'an escalation step that never ends on its policy''s calendar is WO521');
-- ... and a calendar's hours cut below what a policy on it needs, at commit (here
-- made immediate): the policy was accepted on a 40-hour week.
INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('office', '办公', 'Asia/Shanghai');
INSERT INTO workorder.calendar_hours SELECT 'office', d, '08:00', '16:00' FROM generate_series(1, 5) d;
INSERT INTO workorder.sla_policies (name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('office-long', 'office', 'working_hours', '1 hour', 'working_hours', '9000 hours');
SELECT is(pg_temp.error_at_commit($$DELETE FROM workorder.calendar_hours WHERE calendar_code = 'office' AND isodow > 1;
                                     UPDATE workorder.calendar_hours SET ends = '08:30' WHERE calendar_code = 'office'$$,
                                   'workorder.calendar_hours_keep_policies'),
          'WO502: the working hours of calendar office are too few for an SLA policy on it',
          'hours cut below what a policy on the calendar needs are WO502 at commit');
-- ... and so are hours cut below what an earlier version on the calendar needs: its
-- orders are held to it, and every recompute of them failed.
SELECT is(pg_temp.error_at_commit($$UPDATE workorder.sla_policy_versions SET valid_from = valid_from - interval '1 day'
                                      WHERE name = 'office-long';
                                     UPDATE workorder.sla_policies SET calendar_code = 'cn', resolve_amount = '40 hours'
                                      WHERE name = 'office-long';
                                     DELETE FROM workorder.calendar_hours WHERE calendar_code = 'office' AND isodow > 1;
                                     UPDATE workorder.calendar_hours SET ends = '08:30' WHERE calendar_code = 'office'$$,
                                   'workorder.calendar_hours_keep_policies'),
          'WO502: the working hours of calendar office are too few for an SLA policy on it',
          '... also for an earlier version of a policy on the calendar');
-- A policy moved to a calendar (or clock) on which a step of its chain never ends is
-- WO511: every submit() of it failed (WO503).
INSERT INTO workorder.sla_policies (name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('movable', 'cn', 'working_hours', '2 hours', 'working_hours', '20 hours');
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('movable', 1, '9000 hours', 'remind');
SELECT throws_ok($$UPDATE workorder.sla_policies SET calendar_code = 'sparse' WHERE name = 'movable'$$,
                 'WO511', 'SLA policy movable cannot be met on calendar sparse',
                 'a policy moved to a calendar on which a step of its chain never ends is WO511');
SELECT throws_ok($$SELECT workorder.request_extension(o.id, 'x', '1 month', 'r')
                     FROM workorder.accept((SELECT id FROM late ORDER BY id LIMIT 1), 'x') o$$, 'WO404', NULL,
                 'an extension with months is WO404');


-- Extensions with a negative part are refused (a working-time clock counts days and
-- hours apart, and dropped the negative one: '-1 day 48 hours' added 48 hours).
SELECT (SELECT id FROM late ORDER BY id LIMIT 1) AS lt \gset
SELECT workorder.accept(:lt, 'x') IS NOT NULL AS accepted \gset
SELECT throws_ok(format($$SELECT workorder.request_extension(%s, 'x', %L, 'r')$$, :lt, v), 'WO404',
                 format('order %s (id %s): request_extension: the extension has a negative part',
                        (SELECT ticket FROM workorder.orders WHERE id = :lt), :lt),
                 format('an extension of %s is WO404', v))
  FROM unnest(ARRAY['-1 day 48 hours', '1 day -23 hours', '-1000 days 24048 hours']) v;
SELECT is((SELECT pending_extension FROM workorder.orders WHERE id = :lt), NULL, '... and none is left pending');

-- An approved extension whose new deadline is ahead withdraws the overdue mark: the
-- order is not overdue now, and the new deadline is watched.
SELECT workorder.request_extension(:lt, 'x', '1 hour', 'waiting for parts') IS NOT NULL AS requested \gset
SELECT is((SELECT ROW(overdue, warned, next_check_at IS NULL)::text FROM workorder.orders WHERE id = :lt),
          ROW(true, true, true)::text, 'an overdue order is marked, warned, and not watched any more');
SELECT workorder.approve_extension(:lt, 'x') IS NOT NULL AS approved \gset
SELECT is((SELECT ROW(overdue, resolve_due_at > clock_timestamp(), next_check_at = resolve_due_at)::text
             FROM workorder.orders WHERE id = :lt),
          ROW(false, true, true)::text,
          'approving an extension to a deadline ahead clears overdue, and the next check is the new deadline');
SELECT is((SELECT details ->> 'overdue_withdrawn' FROM workorder.order_events
            WHERE order_id = :lt AND action = 'approve_extension'), 'true', '... and its event says the mark was withdrawn');
SELECT is((SELECT count(*)::integer FROM workorder.bi_overdue_orders WHERE order_id = :lt), 0,
          '... so the order is not in bi_overdue_orders');
-- An extension too short to reach past now leaves the mark.
SELECT (SELECT id FROM late ORDER BY id OFFSET 1 LIMIT 1) AS lt2 \gset
SELECT workorder.accept(:lt2, 'x') IS NOT NULL AS accepted \gset
UPDATE workorder.orders SET resolve_due_at = clock_timestamp() - interval '1 hour' WHERE id = :lt2;
SELECT workorder.request_extension(:lt2, 'x', '1 second', 'r') IS NOT NULL AS requested \gset
SELECT workorder.approve_extension(:lt2, 'x') IS NOT NULL AS approved \gset
SELECT is((SELECT ROW(overdue, resolve_due_at < clock_timestamp())::text FROM workorder.orders WHERE id = :lt2),
          ROW(true, true)::text, 'an extension whose new deadline is past already leaves the order overdue');
SELECT is((SELECT details ? 'overdue_withdrawn' FROM workorder.order_events
            WHERE order_id = :lt2 AND action = 'approve_extension'), false, '... and withdraws nothing');

-- calendar_hours is elapsed time, whatever the session's TimeZone: in New York the
-- clocks go forward on 2026-03-08, and a day was 23 hours there.
SELECT current_setting('TimeZone') AS saved_zone \gset
SELECT set_config('TimeZone', 'America/New_York', true) IS NOT NULL AS in_new_york \gset
SELECT is(workorder.sla_hours('4 days 2 hours')::text, '98:00:00', 'sla_hours folds days into hours, 24 each');
SELECT is(extract(epoch FROM workorder.sla_shift('2026-03-06 10:00+08', 'calendar_hours', '2026-03-01 10:00+08', '2026-03-05 10:00+08')
                             - '2026-03-06 10:00+08'::timestamptz) / 3600, 96::numeric,
          'a pause of 96 hours moves a calendar_hours deadline by 96 hours across a change of daylight saving time');
SELECT is(extract(epoch FROM workorder.sla_extend('2026-03-07 10:00+08', 'calendar_hours', '2 days')
                             - '2026-03-07 10:00+08'::timestamptz) / 3600, 48::numeric,
          '... an extension of 2 days by 48 hours');
SELECT is(extract(epoch FROM workorder.sla_warn_at('2026-03-03 10:00+08', '2026-03-13 10:00+08', 'calendar_hours', 0.8)
                             - '2026-03-03 10:00+08'::timestamptz) / 3600, 192::numeric,
          '... and the warning of a 240-hour deadline comes at 192 hours');
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('cal240', 'calendar_hours', '2 hours', 'calendar_hours', '240 hours');
DELETE FROM workorder.sla_priority_policies WHERE priority = 'low';
INSERT INTO workorder.sla_priority_policies VALUES ('low', 'cal240');
SELECT is((SELECT extract(epoch FROM i.warn_at - '2026-03-03 10:00+08'::timestamptz) / 3600
             FROM workorder.sla_intake(NULL, 'low', 'CITY_VENDOR', '2026-03-03 10:00+08') i), 192::numeric,
          '... also at intake, in C');
SELECT set_config('TimeZone', :'saved_zone', true) IS NOT NULL AS zone_back \gset

-- An approved extension keeps the warning as far before the new deadline as it was
-- before the old one: moved by the extension itself, both snapped to the end of
-- the same working day, and a warning due with the deadline is never given.
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('wh8', 'working_hours', '1 hour', 'working_hours', '8 hours');
UPDATE workorder.sla_priority_policies SET policy = 'wh8' WHERE priority = 'low';
SELECT (workorder.submit('hotline', 'SLA-EXT', '0301', '路口摆摊', lon => 121.02, lat => 31.05, priority => 'low')).id AS ext \gset
SELECT workorder.accept(:ext, 'x') IS NOT NULL AS accepted \gset
SELECT workingtime AS lead_before FROM (SELECT workorder.working_time_between(warn_at, resolve_due_at) AS workingtime
                                          FROM workorder.orders WHERE id = :ext) w \gset
SELECT workorder.request_extension(:ext, 'x', '1 day', '等配件') IS NOT NULL AS requested \gset
SELECT workorder.approve_extension(:ext, 'x') IS NOT NULL AS approved \gset
SELECT is((SELECT workorder.working_time_between(warn_at, resolve_due_at) FROM workorder.orders WHERE id = :ext),
          :'lead_before'::interval, 'after an extension the warning comes as much working time before the deadline as before');
SELECT ok((SELECT warn_at < resolve_due_at FROM workorder.orders WHERE id = :ext), '... so it comes before the deadline');
SELECT is((SELECT (r.resolve_due_at, r.warn_at)::text FROM workorder.orders o, workorder.sla_recomputed(o) r WHERE o.id = :ext),
          (SELECT (resolve_due_at, warn_at)::text FROM workorder.orders WHERE id = :ext),
          '... and recomputing the order from its events gives the same deadline and warning');

-- The 90-day cap on an extension is on what it does: on a working-time policy hours
-- are working hours, and '2159 hours' (under 90 days of 24 hours) were 300 working days.
SELECT throws_ok(format($$SELECT workorder.request_extension(%s, 'x', '2159 hours', 'r')$$, :ext), 'WO404',
                 format('order %s (id %s): request_extension: the extension must be more than 0 and at most 90 days',
                        (SELECT ticket FROM workorder.orders WHERE id = :ext), :ext),
                 'an extension of 2159 working hours is more than 90 days would move the deadline: WO404');
SELECT lives_ok(format($$SELECT workorder.request_extension(%s, 'x', '90 days', 'r')$$, :ext),
                '... while 90 days is taken');

-- A calendar change while an order is resolved: it is recomputed too, so that a
-- failed verification brings it back with the deadline of the calendar as it is.
UPDATE workorder.sla_priority_policies SET policy = 'standard' WHERE priority = 'low';
SELECT (workorder.submit('hotline', 'SLA-RES', '0301', '路口堆物', lon => 121.02, lat => 31.05, priority => 'low')).id AS res \gset
SELECT workorder.accept(:res, 'x') IS NOT NULL AS accepted \gset
SELECT workorder.resolve(:res, 'x', '已清理') IS NOT NULL AS resolved \gset
SELECT resolve_due_at AS res_due_before FROM workorder.orders WHERE id = :res \gset
DELETE FROM workorder.calendar_changes;
INSERT INTO workorder.calendar_days (calendar_code, day, kind, name)
SELECT 'cn', min(d)::date, 'holiday', 'test' FROM generate_series(current_date + 1, current_date + 12, interval '1 day') d
 WHERE extract(isodow FROM d) < 6 AND NOT EXISTS (SELECT 1 FROM workorder.calendar_days c WHERE c.calendar_code = 'cn' AND c.day = d::date);
SELECT ok((SELECT rows FROM workorder.run_task('calendar_recompute')) >= 1, 'a holiday added: calendar_recompute runs');
SELECT ok((SELECT resolve_due_at > :'res_due_before'::timestamptz FROM workorder.orders WHERE id = :res),
          '... and moves the deadline of a resolved order a working day later');
SELECT is((SELECT resolve_due_at FROM workorder.verify(:res, 'x', false, '没清干净')),
          (SELECT r.resolve_due_at FROM workorder.orders o, workorder.sla_recomputed(o) r WHERE o.id = :res),
          '... so that a failed verification brings it back with the deadline of the calendar as it is');

-- An order is held to the terms in force when its clock started: a policy changed
-- since (meant for new orders) does not reach it when a calendar change makes its
-- deadlines be computed again.  (They were computed with the policy as it is now:
-- 48 hours instead of the 24 it was received under, blamed on the calendar.)
INSERT INTO workorder.sla_policies (name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('versions', 'cn', 'calendar_hours', '2 hours', 'calendar_hours', '24 hours');
-- (In one transaction every change is valid from its start: the version is dated an hour back.)
UPDATE workorder.sla_policy_versions SET valid_from = now() - interval '1 hour' WHERE name = 'versions';
SELECT workorder.intake_received_at(now() - interval '30 minutes') IS NULL AS dated \gset
SELECT (workorder.submit('hotline', 'SLA-VER', '0301', '路口占道', lon => 121.02, lat => 31.05)).id AS ver \gset
-- (The order is put under the policy by hand, as its owner may: the route's policy
-- would be chosen before it.)
UPDATE workorder.orders SET sla_policy = 'versions', resolve_due_at = received_at + interval '24 hours' WHERE id = :ver;
SELECT is((SELECT r.resolve_due_at - o.received_at FROM workorder.orders o, workorder.sla_recomputed(o) r WHERE o.id = :ver),
          interval '24 hours', 'an order received under a policy of 24 hours is due in 24 hours');
UPDATE workorder.sla_policies SET resolve_amount = '48 hours' WHERE name = 'versions';
SELECT is((SELECT count(*)::integer FROM workorder.sla_policy_versions WHERE name = 'versions'), 2,
          'the change of the policy''s terms is kept as a version of its own');
SELECT is((SELECT r.resolve_due_at - o.received_at FROM workorder.orders o, workorder.sla_recomputed(o) r WHERE o.id = :ver),
          interval '24 hours', 'computed again after the policy changed, its deadline stays 24 hours after receipt');
SELECT is((workorder.sla_terms('versions', now() - interval '50 minutes')).resolve_amount, interval '24 hours',
          'sla_terms gives the terms in force at an instant ...');
SELECT is((workorder.sla_terms('versions', now())).resolve_amount, interval '48 hours', '... and the new ones from the change on');
-- The actions count on those terms too (sla_order_terms), not on the policy as it is
-- now: the recompute and they disagreed, and each calendar change moved deadlines
-- that an action had set back to what the terms said.
UPDATE workorder.sla_policies SET resolve_clock = 'working_days', resolve_amount = '5 days' WHERE name = 'versions';
SELECT main_unit AS ver_unit, resolve_due_at AS ver_due FROM workorder.orders WHERE id = :ver \gset
\o /dev/null
SELECT workorder.accept(:ver, :'ver_unit');
SELECT workorder.request_extension(:ver, :'ver_unit', '2 days', '等待配件');
\o
SELECT is((workorder.approve_extension(:ver, 'C-990401', '同意')).resolve_due_at, :'ver_due'::timestamptz + interval '48 hours',
          'an extension moves the deadline on the clock of the terms the order was received under (calendar hours, not working days)');
SELECT resolve_due_at AS ver_due FROM workorder.orders WHERE id = :ver \gset
SELECT is((SELECT r.resolve_due_at FROM workorder.orders o, workorder.sla_recomputed(o) r WHERE o.id = :ver), :'ver_due'::timestamptz,
          '... and the recompute agrees with it');
SELECT is((SELECT r.resolve_due_at FROM workorder.orders o,
                  workorder.sla_resumed(o, now() - interval '3 hours', now()) r WHERE o.id = :ver) - :'ver_due'::timestamptz,
          interval '3 hours', 'a resume adds back a pause of 3 hours on the same clock');
-- A held order dispatched after the change: its resolve clock started at receipt.
UPDATE workorder.orders SET status = 'new', main_unit = NULL, resolve_due_at = NULL, warn_at = NULL WHERE id = :ver;
SELECT is((SELECT resolve_due_at - received_at FROM workorder.dispatch(:ver, 'C-990401', :'ver_unit')), interval '24 hours',
          'a dispatch counts the resolve deadline from receipt on the terms in force then (24 hours, not 5 working days)');

-- A negative or monthly extension is refused (the working clocks ignored it, and
-- calendar_hours moved the deadline back).
SELECT throws_ok($$SELECT workorder.sla_extend(now(), 'working_days', '-3 days')$$, 'WO513',
                 'invalid extension for sla_extend', 'sla_extend refuses a negative extension (WO513)');
SELECT throws_ok($$SELECT workorder.sla_extend(now(), 'calendar_hours', '1 month')$$, 'WO513',
                 'invalid extension for sla_extend', '... and one of months');

-- A renamed calendar takes its policies with it; one in use is not deleted.
SAVEPOINT renamed;
UPDATE workorder.calendars SET code = 'cn-renamed' WHERE code = 'cn';
SELECT is((SELECT count(*) FROM workorder.sla_policies WHERE calendar_code = 'cn'), 0::bigint,
          'a renamed calendar takes its policies with it');
SELECT is((workorder.submit('hotline', 'SLA-REN', '0301', '路口乱贴', lon => 121.02, lat => 31.05)).resolve_due_at IS NOT NULL,
          true, '... and submit() still finds the calendar of its policy (it failed: unknown calendar "cn")');
ROLLBACK TO SAVEPOINT renamed;
-- A calendar a policy uses keeps some working hours (with none, no deadline can be
-- counted on it: every submit, dispatch and task run for its orders failed).
SET CONSTRAINTS workorder.calendar_hours_keep_policies IMMEDIATE;
SELECT throws_ok($$DELETE FROM workorder.calendar_hours WHERE calendar_code = 'cn'$$, 'WO502',
                 'calendar cn would have no working hours, and SLA policies use it',
                 'a calendar a policy uses is not left without working hours (WO502)');
SAVEPOINT unused_calendar;
INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('spare', '备用', 'Asia/Shanghai');
INSERT INTO workorder.calendar_hours (calendar_code, isodow, starts, ends) VALUES ('spare', 1, '09:00', '17:00');
SELECT lives_ok($$DELETE FROM workorder.calendar_hours WHERE calendar_code = 'spare'$$,
                '... one no policy uses may be');
ROLLBACK TO SAVEPOINT unused_calendar;
SET CONSTRAINTS workorder.calendar_hours_keep_policies DEFERRED;
SET CONSTRAINTS workorder.calendars_delete_policies IMMEDIATE;
SELECT throws_ok($$DELETE FROM workorder.calendars WHERE code = 'cn'$$, 'WO502',
                 'calendar cn is used by SLA policies and cannot be deleted',
                 'a calendar a policy uses is not deleted (WO502)');
-- Nor one that only an earlier version of a policy is on: its orders are held to
-- those terms (with the calendar gone they were counted on the policy's calendar of
-- now, silently, at the next calendar change).
SELECT is(pg_temp.error_at_commit($$INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('six', '六天', 'Asia/Shanghai');
                                     INSERT INTO workorder.calendar_hours SELECT 'six', d, '09:00', '17:00' FROM generate_series(1, 6) d;
                                     INSERT INTO workorder.sla_policies (name, calendar_code, accept_clock, accept_amount,
                                                                         resolve_clock, resolve_amount)
                                     VALUES ('p6', 'six', 'working_hours', '2 hours', 'working_days', '5 days');
                                     UPDATE workorder.sla_policy_versions SET valid_from = valid_from - interval '1 day' WHERE name = 'p6';
                                     UPDATE workorder.sla_policies SET calendar_code = 'cn' WHERE name = 'p6';
                                     DELETE FROM workorder.calendars WHERE code = 'six'$$,
                                   'workorder.calendars_delete_policies'),
          'WO502: calendar six is used by SLA policies and cannot be deleted',
          '... nor one an earlier version of a policy is on (WO502)');

-- The names of SLA policies stay true.  A rule or category naming no policy was
-- taken, and its orders silently got another; a renamed or deleted policy left its
-- orders on a name with no escalation chain, which stopped for good (a closed order
-- comes back with reopen or unmerge).
SET CONSTRAINTS workorder.calendars_delete_policies DEFERRED;
SELECT throws_ok($$INSERT INTO workorder.routing_rules (position, name, category_code, target, unit_code, sla_policy)
                   VALUES (5, 'misspelt', 'CITY_VENDOR', 'unit', 'D-um', 'urgnet')$$, 'WO512',
                 'unknown SLA policy ''urgnet'' for routing rule ''misspelt''',
                 'a routing rule naming no SLA policy is refused (WO512)');
SELECT throws_ok($$UPDATE workorder.categories SET sla_policy = 'nope' WHERE code = 'WATER'$$, 'WO512',
                 'unknown SLA policy ''nope'' for category ''WATER''', '... and so is a category');
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('named', 'calendar_hours', '1 hour', 'calendar_hours', '48 hours');
SELECT throws_ok($$UPDATE workorder.sla_policies SET name = 'renamed' WHERE name = 'named'$$, 'WO511',
                 'SLA policy named cannot be renamed', 'a policy is not renamed (WO511), used or not');
UPDATE workorder.routing_rules SET sla_policy = 'named' WHERE position = 30;
UPDATE workorder.categories SET sla_policy = 'named' WHERE code = 'CITY_BUILDING';
SELECT (workorder.submit('camera', 'SLA-NAMED', 'vendor', '路口摊贩占道', lon => 121.02, lat => 31.05)).sla_policy AS named_policy \gset
SELECT is(:'named_policy'::text, 'named', 'the fixture: an order takes the policy of its rule');
SET CONSTRAINTS workorder.sla_policies_delete IMMEDIATE;
SELECT throws_ok($$DELETE FROM workorder.sla_policies WHERE name = 'named'$$, 'WO511',
                 'SLA policy named is in use and cannot be deleted', 'a policy that rules, categories or orders name is not deleted');
UPDATE workorder.routing_rules SET sla_policy = NULL WHERE sla_policy = 'named';
UPDATE workorder.categories SET sla_policy = NULL WHERE sla_policy = 'named';
SELECT workorder.cancel(o.id, 'C-990401', '测试') FROM workorder.orders o WHERE o.channel_ref = 'SLA-NAMED' \gset
SELECT throws_like($$DELETE FROM workorder.sla_policies WHERE name = 'named'$$, '%in use and cannot be deleted%',
                   '... also when only a cancelled order names it');
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('unused', 'calendar_hours', '1 hour', 'calendar_hours', '48 hours');
SELECT lives_ok($$DELETE FROM workorder.sla_policies WHERE name = 'unused'$$, 'a policy nothing names is deleted');
SET CONSTRAINTS workorder.sla_policies_delete DEFERRED;

-- An order intake held (here a suspected duplicate, rejected on review) and a
-- dispatcher sent on by hand gets the policy of the rule routing would choose for it:
-- a food poisoning report got five working days instead of its rule's urgent 24 hours.
SAVEPOINT held;
DELETE FROM workorder.settings WHERE name = 'dedup_enabled';
INSERT INTO workorder.dedup_rules (category_code, merge_threshold, review_threshold) VALUES ('MARKET_FOOD', 0.99, 0.1);
SELECT (workorder.submit('hotline', 'FP-1', '0901', '某饭店顾客食物中毒 腹泻', lon => 121.02, lat => 31.05)).sla_policy AS first_policy \gset
SELECT id AS held FROM workorder.submit('hotline', 'FP-2', '0901', '隔壁饭店也有人腹泻', lon => 121.0201, lat => 31.0501) \gset
SELECT is((SELECT status::text || ' ' || :'first_policy' FROM workorder.review_duplicate(:held, 'C-990401', 'reject')), 'new urgent',
          'the fixture: the first report is urgent by its rule, the second held for review and rejected');
SELECT is((SELECT sla_policy FROM workorder.dispatch(:held, 'C-990401', 'D-market')), 'urgent',
          'a held order dispatched by hand gets the policy of the rule routing would choose for it');
RELEASE SAVEPOINT held;

-- A reopen gives the redo fresh deadlines also when its unit has been deactivated
-- and the order goes back to new for a dispatcher.  (It kept the old ones, long
-- past: the deadline task marked it overdue at once, its whole chain ran again up
-- to the district leader, and the dispatch after kept them too.)
SAVEPOINT redo_new;
SELECT workorder.intake_received_at(now() - interval '20 days') IS NULL AS dated \gset
SELECT (workorder.submit('hotline', 'SLA-REDO', '0301', '路口堆放杂物', lon => 121.02, lat => 31.05)).id AS redo \gset
SELECT main_unit AS redo_unit FROM workorder.orders WHERE id = :redo \gset
\o /dev/null
SELECT workorder.accept(:redo, :'redo_unit');
SELECT workorder.resolve(:redo, :'redo_unit', '已处理');
UPDATE workorder.units SET active = false WHERE code = :'redo_unit';
SELECT workorder.reopen(:redo, 'C-990401', '群众反映仍未处理');
SELECT * FROM workorder.task_deadline_check();
SELECT * FROM workorder.task_escalate();
\o
SELECT is((SELECT ROW(o.status, o.resolve_due_at, o.overdue, o.warned, o.escalation_step)::text
             FROM workorder.orders o, workorder.sla_policies p
            WHERE o.id = :redo AND p.name = o.sla_policy),
          (SELECT ROW('new'::workorder.order_status,
                      workorder.deadline_after(v.at, p.resolve_clock, p.resolve_amount, p.calendar_code), false, false, 0)::text
             FROM workorder.orders o JOIN workorder.sla_policies p ON p.name = o.sla_policy
             JOIN workorder.order_events v ON v.order_id = o.id AND v.action = 'reopen'
            WHERE o.id = :redo),
          'a reopen to new counts the resolve deadline from the reopen; the deadline and escalation tasks leave it alone');
SELECT is((SELECT count(*) FROM workorder.order_events WHERE order_id = :redo AND action IN ('overdue', 'escalate', 'deadline_warning')),
          0::bigint, '... with no overdue, warning or escalate event');
UPDATE workorder.units SET active = true WHERE code = :'redo_unit';
SELECT resolve_due_at AS redo_due FROM workorder.orders WHERE id = :redo \gset
SELECT is((SELECT ROW(status, resolve_due_at, overdue)::text FROM workorder.dispatch(:redo, 'C-990401', :'redo_unit')),
          ROW('dispatched'::workorder.order_status, :'redo_due'::timestamptz, false)::text,
          'the dispatcher''s dispatch keeps the redo''s deadline');
SELECT is((SELECT next_escalation_at FROM workorder.orders WHERE id = :redo), :'redo_due'::timestamptz,
          '... and its chain starts at that deadline');
RELEASE SAVEPOINT redo_new;

-- An order merged by mistake and unmerged gets fresh deadlines from the unmerge:
-- merged, its clock stood (merged orders are not watched), and kept, its old
-- deadline made it overdue at once, a pause it was in lost too.
SAVEPOINT unmerged;
SELECT workorder.intake_received_at(now() - interval '20 days') IS NULL AS dated \gset
SELECT (workorder.submit('hotline', 'SLA-UNM', '0301', '桥下有人占道经营卖水果', lon => 121.03, lat => 31.03)).id AS unm \gset
SELECT (workorder.submit('hotline', 'SLA-UNM-M', '0301', '北门有人卖菜', lon => 121.15, lat => 31.15)).id AS unm_master \gset
\o /dev/null
SELECT workorder.accept(:unm, main_unit) FROM workorder.orders WHERE id = :unm;
SELECT * FROM workorder.task_escalate();
SELECT workorder.suspend(:unm, main_unit, '等待产权单位确认') FROM workorder.orders WHERE id = :unm;
SELECT workorder.merge(:unm, :unm_master, 'C-990401', '误并');
SELECT workorder.unmerge(:unm, 'C-990401', '不是同一事件');
SELECT * FROM workorder.task_deadline_check();
\o
SELECT is((SELECT ROW(o.status, o.overdue, o.resolve_due_at)::text
             FROM workorder.orders o WHERE o.id = :unm),
          (SELECT ROW('new'::workorder.order_status, false,
                      workorder.deadline_after(v.at, p.resolve_clock, p.resolve_amount, p.calendar_code))::text
             FROM workorder.orders o JOIN workorder.sla_policies p ON p.name = o.sla_policy
             JOIN workorder.order_events v ON v.order_id = o.id AND v.action = 'unmerge'
            WHERE o.id = :unm),
          'an unmerged order''s resolve deadline counts from the unmerge, and it is not overdue');
SELECT is((SELECT r.resolve_due_at = o.resolve_due_at FROM workorder.orders o, workorder.sla_recomputed(o) r WHERE o.id = :unm),
          true, '... and the recompute counts from the unmerge too');
SELECT is((SELECT count(*) FROM workorder.order_events WHERE order_id = :unm AND action = 'overdue'), 0::bigint,
          '... with no overdue event');
SELECT is((SELECT ROW(o.escalation_step, o.escalated_to IS NULL,
                      (SELECT count(*) FROM workorder.order_escalations e WHERE e.order_id = o.id),
                      (SELECT count(*) > 0 FROM workorder.order_events v WHERE v.order_id = o.id AND v.action = 'escalate'))::text
             FROM workorder.orders o WHERE o.id = :unm),
          ROW(0, true, 0::bigint, true)::text,
          '... and a new escalation chain: the steps done before the merge (against the old deadline) are history');

RELEASE SAVEPOINT unmerged;

-- One order whose deadlines cannot be computed (its calendar broken within this
-- transaction: the check that refuses it waits for the commit) is reported and
-- skipped by the escalation and recompute tasks; the other orders go on.  (The
-- first error ended either task, for every order, on every run.)
SAVEPOINT broken;
INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('fragile', '易碎', 'Asia/Shanghai');
INSERT INTO workorder.calendar_hours (calendar_code, isodow, starts, ends)
SELECT 'fragile', isodow, starts, ends FROM workorder.calendar_hours WHERE calendar_code = 'cn';
INSERT INTO workorder.sla_policies (name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('fragile', 'fragile', 'working_hours', '2 hours', 'working_days', '1 day');
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('fragile', 1, '1 hour', 'remind');
SELECT workorder.intake_received_at(now() - interval '30 days') IS NULL AS dated \gset
SELECT (workorder.submit('hotline', 'SLA-FRAGILE', '0301', '路灯不亮', lon => 121.02, lat => 31.05)).id AS fragile \gset
UPDATE workorder.orders SET sla_policy = 'fragile' WHERE id = :fragile;
SELECT workorder.intake_received_at(now() - interval '25 days') IS NULL AS dated \gset
SELECT (workorder.submit('hotline', 'SLA-STURDY', '0301', '井盖破损', lon => 121.03, lat => 31.06)).id AS sturdy \gset
DELETE FROM workorder.calendar_hours WHERE calendar_code = 'fragile';
SET client_min_messages = error;   -- (each task warns of the order it skips)
-- A batch that failed whole does not make the task due again at once: the orders
-- that fail stay due and come first, and it spun on them.
INSERT INTO workorder.settings (name, value, description) VALUES ('escalation_batch_rows', '1', 'sla_test')
ON CONFLICT (name) DO UPDATE SET value = '1';
SELECT is((SELECT next_due > now() FROM workorder.task_escalate(now() + interval '60 days')), true,
          'a batch of escalations that all failed does not make the task due again at once');
DELETE FROM workorder.settings WHERE name = 'escalation_batch_rows';
SELECT detail AS escalate_detail FROM workorder.task_escalate(now() + interval '60 days') \gset
SELECT is((SELECT ROW(count(*) FILTER (WHERE order_id = :fragile), count(*) FILTER (WHERE order_id = :sturdy) > 0)::text
             FROM workorder.order_escalations),
          ROW(0, true)::text, 'the escalation task skips the order it cannot escalate and escalates the others');
SELECT matches(:'escalate_detail'::text, '1 orders failed and were skipped \(ids ' || :fragile || '\): calendar "?fragile"? cannot be used',
               '... and its run''s detail names the order and the error');
INSERT INTO workorder.calendar_days (calendar_code, day, kind, name) VALUES ('cn', current_date + 400, 'holiday', '测试假日');
SELECT detail AS recompute_detail FROM workorder.task_calendar_recompute() \gset
SET client_min_messages = warning;
SELECT matches(:'recompute_detail'::text, '1 orders failed and were skipped \(ids ' || :fragile || '\)',
               'the recompute task names the order it cannot recompute ...');
SELECT is((SELECT count(*) FROM workorder.calendar_changes), 0::bigint, '... and still consumes the changes');
RELEASE SAVEPOINT broken;

-- Intake counts on those terms too: a report received under the policy's earlier
-- terms (dated by the inbox or its connector) and made an order after they changed
-- gets the deadline of then, the one the recompute counts; one received now gets the
-- terms as they are.  (Intake counted on the terms as they are, and the next
-- calendar change moved the first order's deadline, blamed on the calendar.)
UPDATE workorder.sla_priority_policies SET policy = 'versions' WHERE priority = 'low';
-- (Reports of their own, not duplicates of the orders above at the same spot.)
INSERT INTO workorder.settings (name, value, description) VALUES ('dedup_enabled', 'off', 'sla_test')
    ON CONFLICT (name) DO UPDATE SET value = 'off';
SELECT workorder.intake_received_at(now() - interval '30 minutes') IS NULL AS dated \gset
SELECT (workorder.submit('hotline', 'SLA-VER-LATE', '0301', '路口占道 晚到', lon => 121.02, lat => 31.05, priority => 'low')).id AS ver_late \gset
SELECT is((SELECT ROW(sla_policy, resolve_due_at = received_at + interval '24 hours')::text FROM workorder.orders WHERE id = :ver_late),
          ROW('versions', true)::text,
          'a report received under a policy''s earlier terms gets their deadline at intake (24 calendar hours)');
SELECT is((SELECT r.resolve_due_at FROM workorder.orders o, workorder.sla_recomputed(o) r WHERE o.id = :ver_late),
          (SELECT resolve_due_at FROM workorder.orders WHERE id = :ver_late),
          '... the deadline the recompute counts');
SELECT (workorder.submit('hotline', 'SLA-VER-NOW', '0301', '路口占道 现报', lon => 121.02, lat => 31.05, priority => 'low')).id AS ver_now \gset
SELECT is((SELECT resolve_due_at FROM workorder.orders WHERE id = :ver_now),
          (SELECT workorder.deadline_after(received_at, 'working_days', '5 days') FROM workorder.orders WHERE id = :ver_now),
          '... while a report received now gets the terms as they are (5 working days)');

-- A change's version is dated when the change commits (its deferred checks: here made
-- immediate), not when its transaction began: intake reads the policy without a
-- lock, and an order received while the change was open got the old terms, which
-- the version said were no longer in force for it.
SAVEPOINT dated;
UPDATE workorder.sla_policies SET resolve_amount = '10 days' WHERE name = 'complex';
SET CONSTRAINTS workorder.sla_policy_versions_dated IMMEDIATE;
SELECT (SELECT max(valid_from) > now() FROM workorder.sla_policy_versions WHERE name = 'complex') AS dated_after_start \gset
ROLLBACK TO SAVEPOINT dated;
RELEASE SAVEPOINT dated;
SET CONSTRAINTS workorder.sla_policy_versions_dated DEFERRED;
SELECT is(:'dated_after_start'::boolean, true,
          'a policy change''s version is dated at the change''s commit, not at its transaction''s start');

-- A deleted policy is recorded, so that a restore deletes the one CREATE EXTENSION
-- made again (pg_dump leaves shipped policies out): a district without urgent got
-- it back, with its 30 minutes to accept every urgent report, and its chain.
SAVEPOINT removed;
UPDATE workorder.routing_rules SET sla_policy = NULL WHERE sla_policy = 'urgent';
DELETE FROM workorder.sla_policies WHERE name = 'urgent';
SELECT (SELECT count(*) FROM workorder.sla_policies_removed WHERE name = 'urgent') AS urgent_recorded,
       (SELECT count(*) FROM workorder.sla_escalation_steps_removed WHERE policy = 'urgent') AS urgent_steps_recorded \gset
ROLLBACK TO SAVEPOINT removed;
RELEASE SAVEPOINT removed;
SELECT is(:urgent_recorded::bigint, 1::bigint, 'a deleted policy is recorded in sla_policies_removed');
SELECT is(:urgent_steps_recorded::bigint, 0::bigint, '... and its shipped steps, gone with it, need no record of their own');
-- As pg_restore writes the record after CREATE EXTENSION made the shipped rows.
SAVEPOINT restored;
INSERT INTO workorder.sla_policies_removed (name) VALUES ('urgent');
SELECT (SELECT count(*) FROM workorder.sla_policies WHERE name = 'urgent')
       + (SELECT count(*) FROM workorder.sla_policy_versions WHERE name = 'urgent')
       + (SELECT count(*) FROM workorder.sla_escalation_steps WHERE policy = 'urgent') AS urgent_left \gset
ROLLBACK TO SAVEPOINT restored;
RELEASE SAVEPOINT restored;
SELECT is(:urgent_left::bigint, 0::bigint, 'a restored record deletes the shipped policy it names, its version and its chain');
-- A district that deleted complex and made its own: the restore brings its terms
-- over the shipped ones (in place), and its record takes the shipped chain away.
SAVEPOINT made_again;
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('complex', 'calendar_hours', '2 hours', 'calendar_hours', '48 hours');
INSERT INTO workorder.sla_policies_removed (name) VALUES ('complex');
SELECT (SELECT p.shipped || ' ' || p.accept_amount || ' ' || (SELECT count(*) FROM workorder.sla_escalation_steps s WHERE s.policy = p.name)
               || ' ' || (SELECT count(*) FROM workorder.sla_policy_versions v WHERE v.name = p.name AND v.shipped)
          FROM workorder.sla_policies p WHERE p.name = 'complex') AS complex_made_again,
       (SELECT count(*) FROM workorder.sla_escalation_steps_removed) AS steps_recorded \gset
ROLLBACK TO SAVEPOINT made_again;
RELEASE SAVEPOINT made_again;
SELECT is(:'complex_made_again'::text, 'false 02:00:00 0 0',
          'a record of a policy made again keeps the district''s terms, without the shipped chain and version');
SELECT is(:steps_recorded::bigint, 0::bigint, '... and records no step of its own');
-- TRUNCATE ... CASCADE (to load policies anew) records every policy; its deferred
-- checks then run on rows of the table as truncated (a deletion made by the record
-- queued one for a row the TRUNCATE took away, and the commit failed reading it).
-- Last: the test's transaction rolls it back.
CREATE TEMP TABLE policies_before_truncate AS SELECT name FROM workorder.sla_policies;
-- (The versions this transaction wrote are dated first: a table with deferred
-- trigger events pending is not truncated.)
SET CONSTRAINTS workorder.sla_policy_versions_dated IMMEDIATE;
TRUNCATE workorder.sla_policies CASCADE;
SELECT lives_ok('SET CONSTRAINTS ALL IMMEDIATE', 'a TRUNCATE of the policies reaches its commit checks');
SELECT is((SELECT count(*) || ' ' || count(r.name) FROM policies_before_truncate b
             LEFT JOIN workorder.sla_policies_removed r USING (name)),
          (SELECT count(*) || ' ' || count(*) FROM policies_before_truncate),
          '... and records every policy it removed');

SELECT * FROM finish();
ROLLBACK;
