-- SLA policies and deadlines: properties of the deadline functions on random
-- instants, the policy choice, the deadline task's marks, and bad input with its
-- SQLSTATE (WO511 invalid policy, WO512 unknown policy, WO513 invalid deadline
-- argument; WO501 unknown calendar; WO404 an extension with months).
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(42);
\o /dev/null
\i test/fixtures/intake_map.sql
\o

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
SELECT is(workorder.choose_sla_policy((SELECT id FROM workorder.routing_rules WHERE position = 20), 'low', 'MARKET_FOOD'),
          'urgent', 'the rule''s policy over the priority');
SELECT is(workorder.choose_sla_policy(NULL, 'normal', NULL), 'standard', 'no category: standard');
UPDATE workorder.categories SET sla_policy = 'nosuch' WHERE code = 'CITY_BUILDING';
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

SELECT * FROM finish();
ROLLBACK;
