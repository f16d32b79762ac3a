-- SLA policies and deadlines (issue 4, SLA part): the clocks on fixed instants,
-- the policy an order gets, its deadlines at intake and through the lifecycle,
-- the deadline task, and bad input.  Everything runs in one transaction that is
-- rolled back; inside it now() stands still, so deadlines counted from now() are
-- compared with deadline_after() of now().
\set ON_ERROR_ROLLBACK on
BEGIN;
SET client_min_messages = warning;
SET TIME ZONE 'Asia/Shanghai';
SET DateStyle = ISO, YMD;  -- psql variables below carry instants as text
SET IntervalStyle = postgres;
\i test/fixtures/intake_map.sql

-- The shipped policies.
SELECT name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount, warn_fraction, shipped
  FROM workorder.sla_policies ORDER BY name;

-- Each clock from fixed instants: Friday 2026-01-09 16:00, and the eve of the 2025
-- National Day holiday (2025-09-30 17:00).
SELECT s.start, c.clock, c.amount, workorder.deadline_after(s.start, c.clock, c.amount) AS deadline
  FROM (VALUES ('2026-01-09 16:00+08'::timestamptz), ('2025-09-30 17:00+08')) s(start),
       (VALUES ('calendar_hours', '30 minutes'::interval), ('calendar_hours', '24 hours'),
               ('working_hours', '2 hours'), ('working_days', '0 days'), ('working_days', '1 day'),
               ('working_days', '5 days')) c(clock, amount)
 ORDER BY 1, 2, 3;
-- The warning instant: 80 % of the span, on the clock.
SELECT workorder.sla_warn_at('2026-01-09 16:00+08', '2026-01-10 16:00+08', 'calendar_hours', 0.8) AS calendar_warn,
       workorder.sla_warn_at('2026-01-09 16:00+08', workorder.deadline_after('2026-01-09 16:00+08', 'working_days', '5 days'),
                             'working_days', 0.8) AS working_warn;
-- A suspension from Friday 17:00 to Monday 10:00 moves a working deadline by its
-- working time, a calendar deadline by its length.
SELECT workorder.working_time_between('2026-01-09 17:00+08', '2026-01-12 10:00+08') AS paused_working,
       workorder.sla_shift('2026-01-16 18:00+08', 'working_days', '2026-01-09 17:00+08', '2026-01-12 10:00+08') AS working_shifted,
       workorder.sla_shift('2026-01-16 18:00+08', 'calendar_hours', '2026-01-09 17:00+08', '2026-01-12 10:00+08') AS calendar_shifted;
-- An extension: days are working days on the working clocks.
SELECT workorder.sla_extend('2026-01-09 18:00+08', 'working_days', '2 days') AS two_working_days,
       workorder.sla_extend('2026-01-09 18:00+08', 'working_hours', '4 hours') AS four_working_hours,
       workorder.sla_extend('2026-01-09 18:00+08', 'calendar_hours', '2 days') AS two_calendar_days;

-- Which policy: rule > priority > category > standard.
INSERT INTO workorder.sla_priority_policies VALUES ('low', 'complex');
CREATE FUNCTION pg_temp.sla_case(ref text, category text, description text, lon float8, lat float8,
                                 priority workorder.order_priority DEFAULT 'normal')
RETURNS TABLE (ref text, status workorder.order_status, sla_policy text, accept_ok boolean, resolve_ok boolean,
               warn_ok boolean, accept_span interval, resolve_span interval, next_check_ok boolean)
LANGUAGE sql AS $$
    SELECT o.channel_ref, o.status, o.sla_policy,
           o.accept_due_at = workorder.deadline_after(now(), p.accept_clock, p.accept_amount),
           o.resolve_due_at = workorder.deadline_after(o.received_at, p.resolve_clock, p.resolve_amount),
           o.warn_at = workorder.sla_warn_at(o.received_at, o.resolve_due_at, p.resolve_clock, p.warn_fraction),
           CASE WHEN p.accept_clock = 'working_hours' THEN workorder.working_time_between(o.received_at, o.accept_due_at)
                WHEN p.accept_clock = 'calendar_hours' THEN o.accept_due_at - o.received_at END,
           CASE WHEN p.resolve_clock = 'calendar_hours' THEN o.resolve_due_at - o.received_at END,
           o.next_check_at = LEAST(o.warn_at, o.accept_due_at, o.resolve_due_at)
      FROM workorder.submit('hotline', ref, category, description, lon => lon, lat => lat, priority => priority) o
      LEFT JOIN workorder.sla_policies p ON p.name = o.sla_policy
$$;
-- category CITY (standard)
SELECT * FROM pg_temp.sla_case('S-01', '0301', '西南村路口有流动摊贩占道', 121.02, 31.05);
-- category CITY_BUILDING (complex)
SELECT * FROM pg_temp.sla_case('S-02', '0302', '西街道有人加建铁皮房', 121.02, 31.15);
-- priority urgent over the category (no mapping row: urgent -> urgent)
SELECT * FROM pg_temp.sla_case('S-03', '0301', '路口摊贩堵塞消防通道', 121.02, 31.05, 'urgent');
-- priority low is mapped to complex
SELECT * FROM pg_temp.sla_case('S-04', '0301', '路边摊贩', 121.02, 31.05, 'low');
-- the rule (20: urgent) over the priority mapping (low: complex)
SELECT * FROM pg_temp.sla_case('S-05', '0901', '饭店吃完后全家腹泻', 121.15, 31.05, 'low');
-- a NULL mapping turns the urgent default off: the category's policy
INSERT INTO workorder.sla_priority_policies VALUES ('urgent', NULL);
SELECT * FROM pg_temp.sla_case('S-06', '0301', '路口摊贩', 121.02, 31.05, 'urgent');
-- an unrouted order has no deadlines until it is dispatched
SELECT status, sla_policy, accept_due_at, resolve_due_at, next_check_at
  FROM workorder.submit('hotline', 'S-07', 'nosuch', '不知道是什么', lon => 121.02, lat => 31.05);

-- dispatch(): accept counts from the dispatch, resolve from receipt.
SELECT id AS s7 FROM workorder.orders WHERE channel_ref = 'S-07' \gset
-- The action counts from the instant it runs (clock_timestamp(), not the start of
-- the transaction): during working hours that instant moves the deadline, so it is
-- bounded by the instants before the call and of the event the action logged.
SELECT clock_timestamp() AS before_dispatch \gset
SELECT sla_policy, resolve_due_at = workorder.deadline_after(received_at, 'working_days', '5 days') AS resolve_ok
  FROM workorder.dispatch(:s7, 'C-990401', 'D-um');
SELECT o.accept_due_at BETWEEN workorder.deadline_after(:'before_dispatch', 'working_hours', '2 hours')
                           AND workorder.deadline_after(e.at, 'working_hours', '2 hours') AS accept_from_dispatch
  FROM workorder.orders o, workorder.order_history(:s7) e
 WHERE o.id = :s7 AND e.action = 'dispatch';
-- accept keeps accept_due_at; next_check_at no longer looks at it.
SELECT status, accept_due_at IS NOT NULL AS accept_kept, next_check_at = LEAST(warn_at, resolve_due_at) AS next_check_ok
  FROM workorder.accept(:s7, 'D-um');
-- suspend pauses: no check while suspended; resume moves the deadline by the pause.
SELECT resolve_due_at AS due_before FROM workorder.orders WHERE id = :s7 \gset
SELECT status, next_check_at FROM workorder.suspend(:s7, 'D-um', '等待审批');
SELECT status, resolve_due_at >= :'due_before' AS not_earlier, next_check_at IS NOT NULL AS checked_again
  FROM workorder.resume(:s7, 'D-um');
-- the deadline moved by at most the suspension's working time (none at night)
SELECT workorder.working_time_between(:'due_before', o.resolve_due_at)
       BETWEEN interval '0' AND workorder.working_time_between((e.details ->> 'suspended_at')::timestamptz, e.at) AS moved_by_pause
  FROM workorder.orders o, workorder.order_history(:s7) e
 WHERE o.id = :s7 AND e.action = 'resume';
-- an approved extension moves the deadline on the policy's clock.
SELECT resolve_due_at AS due_before FROM workorder.orders WHERE id = :s7 \gset
SELECT (workorder.request_extension(:s7, 'D-um', '2 days', '需要协调')).pending_extension;
SELECT resolve_due_at = workorder.sla_extend(:'due_before', 'working_days', '2 days') AS extended_two_working_days
  FROM workorder.approve_extension(:s7, 'C-990401');
SELECT details ->> 'extension' AS extension,
       (details ->> 'new_resolve_due_at')::timestamptz = workorder.sla_extend(:'due_before', 'working_days', '2 days') AS logged
  FROM workorder.order_history(:s7) ORDER BY seq DESC LIMIT 1;
-- months are refused
DO $$
BEGIN
    PERFORM workorder.request_extension((SELECT id FROM workorder.orders WHERE channel_ref = 'S-07'), 'D-um', '1 month', '很久');
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING '% %', SQLSTATE, regexp_replace(SQLERRM, '^order \S+ \(id \d+\): ', 'order <S-07>: ');
END
$$;
-- reopen: fresh deadlines from the reopen instant.
SELECT status FROM workorder.resolve(:s7, 'D-um', '已处理');
SELECT clock_timestamp() AS before_reopen \gset
SELECT status, warned, accept_overdue, overdue
  FROM workorder.reopen(:s7, 'C-990401', '群众不满意');
SELECT o.accept_due_at BETWEEN workorder.deadline_after(:'before_reopen', 'working_hours', '2 hours')
                           AND workorder.deadline_after(e.at, 'working_hours', '2 hours') AS accept_fresh,
       o.resolve_due_at BETWEEN workorder.deadline_after(:'before_reopen', 'working_days', '5 days')
                            AND workorder.deadline_after(e.at, 'working_days', '5 days') AS resolve_fresh
  FROM workorder.orders o, workorder.order_history(:s7) e
 WHERE o.id = :s7 AND e.action = 'reopen';

-- Bad input.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT workorder.deadline_after('2026-01-09 16:00+08', 'working_hours', '1 day');
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.deadline_after('2026-01-09 16:00+08', 'working_days', '36 hours');
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.deadline_after('2026-01-09 16:00+08', 'calendar_hours', '1 month');
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.deadline_after('2026-01-09 16:00+08', 'fortnights', '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.deadline_after('2026-01-09 16:00+08', 'calendar_hours', '-1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.sla_policy('nosuch');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('bad', 'working_hours', '1 day', 'working_days', '5 days');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount, warn_fraction)
VALUES ('bad', 'working_hours', '1 hour', 'working_days', '5 days', 1);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO workorder.sla_policies (name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('bad', 'nosuch', 'working_hours', '1 hour', 'working_days', '5 days');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('bad name', 'working_hours', '1 hour', 'working_days', '5 days');
\echo :LAST_ERROR_SQLSTATE
-- Changing a shipped policy clears the flag; inserting over a shipped one replaces it.
UPDATE workorder.sla_policies SET warn_fraction = 0.75 WHERE name = 'standard';
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount, description)
VALUES ('urgent', 'calendar_hours', '15 minutes', 'calendar_hours', '12 hours', 'restored copy');
SELECT name, accept_amount, resolve_amount, warn_fraction, shipped FROM workorder.sla_policies
 WHERE name IN ('standard', 'urgent') ORDER BY name;
ROLLBACK;

-- The deadline task, in a transaction of its own (now() is its start): a policy
-- of seconds, by priority high.  accept at +1 s, warning at +2 s, resolve at +4 s.
BEGIN;
SET client_min_messages = warning;
SET IntervalStyle = postgres;
\i test/fixtures/intake_map.sql
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('instant', 'calendar_hours', '1 second', 'calendar_hours', '4 seconds');
UPDATE workorder.sla_policies SET warn_fraction = 0.5 WHERE name = 'instant';
INSERT INTO workorder.sla_priority_policies VALUES ('high', 'instant');
SELECT sla_policy, accept_due_at - received_at AS accept_in, resolve_due_at - received_at AS resolve_in,
       warn_at - received_at AS warn_in
  FROM workorder.submit('hotline', 'S-08', '0301', '摊贩', lon => 121.02, lat => 31.05, priority => 'high');
SELECT id AS s8 FROM workorder.orders WHERE channel_ref = 'S-08' \gset
SELECT pg_sleep(greatest(0, extract(epoch FROM (now() + interval '2.5 seconds') - clock_timestamp())));
SELECT rows, detail FROM workorder.task_deadline_check();
SELECT warned, accept_overdue, overdue, next_check_at = resolve_due_at AS next_is_resolve FROM workorder.orders WHERE id = :s8;
SELECT pg_sleep(greatest(0, extract(epoch FROM (now() + interval '4.2 seconds') - clock_timestamp())));
SELECT rows, detail FROM workorder.task_deadline_check();
SELECT rows, detail FROM workorder.task_deadline_check();
SELECT warned, accept_overdue, overdue, next_check_at FROM workorder.orders WHERE id = :s8;
SELECT seq, action, actor, new_status, details - 'due_at' AS details FROM workorder.order_history(:s8) ORDER BY seq;
SELECT kind, payload ->> 'kind' AS payload_kind, (payload ->> 'order_id')::bigint = :s8 AS same_order
  FROM workorder.notifications WHERE order_id = :s8 ORDER BY id;

ROLLBACK;

