-- The escalation chain (issue 4, escalation): the shipped chains, a policy with
-- tiny calendar_hours amounts whose steps are done by calling the task with a
-- given "now" (time travel), each step once and in order, the actions (supervise,
-- parent unit, district leader), reopen starting a new chain, and bad steps (WO521).
-- Everything runs in one transaction that is rolled back; now() stands still.
\set ON_ERROR_ROLLBACK on
BEGIN;
SET client_min_messages = warning;
SET TIME ZONE 'Asia/Shanghai';
SET DateStyle = ISO, YMD;
SET IntervalStyle = postgres;
\i test/fixtures/intake_map.sql

-- The shipped chains.
SELECT policy, step, after, action, shipped FROM workorder.sla_escalation_steps ORDER BY policy, step;
-- The instant of an order's step: working days after a working deadline, elapsed
-- time on calendar_hours (orders received on Monday 2026-01-05, due Friday).
SELECT workorder.escalation_at(s.o, '1 day') AS standard_one_day,
       workorder.escalation_at(s.o, '0') AS standard_zero,
       workorder.escalation_at(u.o, '2 hours') AS urgent_two_hours
  FROM (SELECT jsonb_populate_record(NULL::workorder.orders,
                 '{"sla_policy": "standard", "received_at": "2026-01-05 09:00+08", "resolve_due_at": "2026-01-09 18:00+08"}') AS o) s,
       (SELECT jsonb_populate_record(NULL::workorder.orders,
                 '{"sla_policy": "urgent", "received_at": "2026-01-05 09:00+08", "resolve_due_at": "2026-01-09 18:00+08"}') AS o) u;

-- A policy of seconds: resolve in 10 s, steps at 0, 1, 2 and 3 seconds after.
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('tiny', 'calendar_hours', '5 seconds', 'calendar_hours', '10 seconds');
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES
    ('tiny', 1, '0', 'remind'), ('tiny', 2, '1 second', 'supervise'),
    ('tiny', 3, '2 seconds', 'escalate_parent'), ('tiny', 4, '3 seconds', 'escalate_leader');
INSERT INTO workorder.sla_priority_policies VALUES ('low', 'tiny');
INSERT INTO workorder.settings (name, value, description) VALUES ('district_leader', '王区长', 'the district leader');
CREATE TEMP TABLE t AS
SELECT o.id, o.channel_ref, o.main_unit FROM (VALUES ('E-1'), ('E-2')) r(ref),
       LATERAL workorder.submit('hotline', r.ref, '0301', '西南村路口有流动摊贩占道', lon => 121.02, lat => 31.05,
                                priority => 'low') o;
SELECT t.channel_ref, o.sla_policy, o.resolve_due_at - now() AS resolve_in, o.escalation_step,
       o.next_escalation_at - now() AS next_escalation_in
  FROM t JOIN workorder.orders o USING (id) ORDER BY 1;

-- Before the deadline: nothing.
SELECT rows, detail FROM workorder.task_escalate(now() + interval '9 seconds');
-- At the deadline: step 1 of both.
SELECT rows, detail FROM workorder.task_escalate(now() + interval '10 seconds');
-- Run twice at the same instant: nothing more.
SELECT rows, detail FROM workorder.task_escalate(now() + interval '10.5 seconds');
-- E-2 is accepted and resolved: its chain stops.
SELECT o.status FROM workorder.accept((SELECT id FROM t WHERE channel_ref = 'E-2'), 'tester') o;
SELECT o.status FROM workorder.resolve((SELECT id FROM t WHERE channel_ref = 'E-2'), 'tester', '已处理') o;
-- Long after (a worker down for an hour): E-1 does steps 2, 3 and 4, in order.
SELECT rows, detail FROM workorder.task_escalate(now() + interval '1 hour');
SELECT rows, detail FROM workorder.task_escalate(now() + interval '2 hours');
SELECT t.channel_ref, e.step, e.action FROM t JOIN workorder.order_escalations e ON e.order_id = t.id ORDER BY 1, 2;
SELECT t.channel_ref, v.seq, v.actor, v.details->>'step' AS step, v.details->>'action' AS action, v.details->>'to' AS "to"
  FROM t JOIN workorder.order_events v ON v.order_id = t.id WHERE v.action = 'escalate' ORDER BY 1, 2;
SELECT t.channel_ref, t.main_unit, o.supervised, o.escalated_to, o.escalation_step, o.next_escalation_at
  FROM t JOIN workorder.orders o USING (id) ORDER BY 1;
SELECT kind, payload->>'step' AS step, payload->>'action' AS action FROM workorder.notifications
 WHERE kind = 'escalate' ORDER BY id;

-- Reopen starts a new chain from the fresh deadline: E-2 is closed, then reopened.
SELECT o.status FROM workorder.close((SELECT id FROM t WHERE channel_ref = 'E-2'), 'tester') o;
SELECT o.status FROM workorder.reopen((SELECT id FROM t WHERE channel_ref = 'E-2'), 'tester', '群众不满意') o;
-- The fresh deadline counts from the instant of the reopen (its event).
SELECT v.at AS reopened_at FROM workorder.order_events v JOIN t ON t.id = v.order_id
 WHERE t.channel_ref = 'E-2' AND v.action = 'reopen' \gset
SELECT o.status, o.escalation_step, o.escalated_to,
       make_interval(secs => round(extract(epoch FROM o.next_escalation_at - :'reopened_at'::timestamptz))) AS next_escalation_in,
       (SELECT count(*) FROM workorder.order_escalations e WHERE e.order_id = o.id) AS steps_kept
  FROM workorder.orders o JOIN t USING (id) WHERE t.channel_ref = 'E-2';
SELECT rows, detail FROM workorder.task_escalate(:'reopened_at'::timestamptz + interval '11 seconds');
SELECT count(*) AS escalate_events FROM workorder.order_events v JOIN t ON t.id = v.order_id
 WHERE t.channel_ref = 'E-2' AND v.action = 'escalate';

-- A changed chain: a change clears the shipped flag, a no-op update keeps it, and
-- the next step of open orders moves (E-2's next step, 3, moves by 1 hour).
SELECT make_interval(secs => round(extract(epoch FROM o.next_escalation_at - :'reopened_at'::timestamptz))) AS next_escalation_in
  FROM workorder.orders o JOIN t USING (id) WHERE t.channel_ref = 'E-2';
UPDATE workorder.sla_escalation_steps SET after = '1 hour 2 seconds' WHERE policy = 'tiny' AND step = 3;
SELECT make_interval(secs => round(extract(epoch FROM o.next_escalation_at - :'reopened_at'::timestamptz))) AS next_escalation_in
  FROM workorder.orders o JOIN t USING (id) WHERE t.channel_ref = 'E-2';
UPDATE workorder.sla_escalation_steps SET shipped = shipped WHERE policy = 'standard' AND step = 1;
SELECT policy, step, shipped FROM workorder.sla_escalation_steps WHERE policy = 'standard' AND step = 1;
UPDATE workorder.sla_escalation_steps SET after = '1 hour' WHERE policy = 'standard' AND step = 1;
SELECT policy, step, after, shipped FROM workorder.sla_escalation_steps WHERE policy = 'standard' AND step = 1;

-- Calendar recompute: a holiday loaded into cn inside the window of an open order
-- (the next working day after intake) moves its working-day deadline by one working
-- day; an order on calendar_hours (urgent) keeps its deadline and gets no event.
DELETE FROM workorder.calendar_changes;
CREATE TEMP TABLE r AS
SELECT o.id, o.channel_ref, o.resolve_due_at AS old_due, o.warn_at AS old_warn FROM (VALUES ('R-1', 'normal'), ('R-2', 'urgent')) v(ref, prio),
       LATERAL workorder.submit('hotline', v.ref, '0301', '西南村路口有流动摊贩占道', lon => 121.02, lat => 31.05,
                                priority => v.prio::workorder.order_priority) o;
SELECT r.channel_ref, o.sla_policy FROM r JOIN workorder.orders o USING (id) ORDER BY 1;
SELECT rows FROM workorder.run_task('calendar_recompute');
SELECT (SELECT inserted FROM workorder.load_calendar_days('cn',
            pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'day', workorder.add_working_days(now(), 1)::date, 'kind', 'holiday', 'name', '测试假日')))) AS holidays_loaded;
SELECT calendar_code, first_day = last_day AS one_day, what FROM workorder.calendar_changes;
SELECT rows FROM workorder.run_task('calendar_recompute');
SELECT count(*) AS changes_left FROM workorder.calendar_changes;
SELECT r.channel_ref,
       o.resolve_due_at <> r.old_due AS due_moved,
       o.resolve_due_at = workorder.deadline_after(o.received_at, p.resolve_clock, p.resolve_amount) AS due_is_recomputed,
       o.resolve_due_at = workorder.add_working_days(r.old_due, 1) AS one_working_day_later,
       o.warn_at = workorder.sla_warn_at(o.received_at, o.resolve_due_at, p.resolve_clock, p.warn_fraction) AS warn_is_recomputed,
       (SELECT count(*) FROM workorder.order_events v WHERE v.order_id = o.id AND v.action = 'deadline_recomputed') AS events,
       (SELECT (v.details->'old'->>'resolve_due_at')::timestamptz = r.old_due
               AND (v.details->'new'->>'resolve_due_at')::timestamptz = o.resolve_due_at
          FROM workorder.order_events v WHERE v.order_id = o.id AND v.action = 'deadline_recomputed') AS event_old_new
  FROM r JOIN workorder.orders o USING (id) JOIN workorder.sla_policies p ON p.name = o.sla_policy ORDER BY 1;
-- A change outside every window (ten years on) looks at no order.
SELECT (SELECT inserted FROM workorder.load_calendar_days('cn',
            '[{"day": "2036-06-02", "kind": "holiday", "name": "远期假日"}]')) AS holidays_loaded;
SELECT rows, detail ~ ' 0 orders looked at, 0 with new deadlines' AS no_order FROM workorder.run_task('calendar_recompute');

-- Bad steps.
\set VERBOSITY terse
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('tiny', 0, '0', 'remind');
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('tiny', 5, '1 month', 'remind');
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('tiny', 5, '-1 hour', 'remind');
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('tiny', 5, '1 hour', 'shout');
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('nosuch', 1, '1 hour', 'remind');
\set VERBOSITY default

-- The task is registered after deadline_check.
SELECT task, position FROM workorder.worker_tasks WHERE task IN ('deadline_check', 'escalate') ORDER BY position;
ROLLBACK;
