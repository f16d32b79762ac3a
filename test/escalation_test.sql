-- The escalation chain: each step once, in order, none skipped when several are due
-- at once, none repeated when the task runs twice; the partial index; suspended and
-- resolved orders wait; bad steps (WO521).
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(67);
\o /dev/null
\i test/fixtures/intake_map.sql
\o

SELECT is((SELECT count(*) FROM workorder.sla_escalation_steps WHERE shipped AND policy IN ('standard', 'urgent', 'complex')),
          12::bigint, 'the shipped chains have four steps for each shipped policy');
SELECT is((SELECT array_agg(action ORDER BY step) FROM workorder.sla_escalation_steps WHERE policy = 'standard'),
          ARRAY['remind', 'supervise', 'escalate_parent', 'escalate_leader'], 'the standard chain, in order');
-- The chains truncated (to load new ones) are recorded as removed, as a deletion of
-- a shipped step is: a restore brought them back beside the new ones.
SAVEPOINT truncated;
TRUNCATE workorder.sla_escalation_steps;
SELECT is((SELECT count(*) FROM workorder.sla_escalation_steps_removed), 12::bigint,
          'a TRUNCATE of the chains records each shipped step as removed');
ROLLBACK TO SAVEPOINT truncated;

INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('tiny', 'calendar_hours', '5 seconds', 'calendar_hours', '10 seconds');
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES
    ('tiny', 1, '0', 'remind'), ('tiny', 2, '1 second', 'supervise'),
    ('tiny', 3, '2 seconds', 'escalate_parent'), ('tiny', 4, '3 seconds', 'escalate_leader'),
    ('tiny', 5, '4 seconds', 'remind');
INSERT INTO workorder.sla_priority_policies VALUES ('low', 'tiny');
CREATE TEMP TABLE t AS
SELECT o.id FROM generate_series(1, 20) g,
       LATERAL workorder.submit('hotline', 'ESC-' || g, '0301', '西南村路口有流动摊贩占道', lon => 121.02, lat => 31.05,
                                priority => 'low') o;

SELECT is((SELECT count(*) FROM workorder.orders o JOIN t USING (id)
            WHERE o.next_escalation_at = o.resolve_due_at), 20::bigint,
          'the first step of a new order is at its resolve deadline');
SELECT is((SELECT rows FROM workorder.task_escalate(now() + interval '9 seconds')), 0,
          'nothing is done before the deadline');
SELECT is((SELECT rows FROM workorder.task_escalate(now() + interval '11.5 seconds')), 40,
          'two steps of each order are due 1.5 s after the deadline');
SELECT is((SELECT count(*) FROM workorder.order_escalations e JOIN t ON t.id = e.order_id WHERE e.step > 2), 0::bigint,
          'no step is done before its instant');
-- A worker down for an hour: the remaining three steps of every order at once.
SELECT is((SELECT rows FROM workorder.task_escalate(now() + interval '1 hour')), 60,
          'all steps due at once are done in one run');
SELECT is((SELECT rows FROM workorder.task_escalate(now() + interval '1 hour')), 0,
          'a second run does nothing');
SELECT is((SELECT rows FROM workorder.task_escalate(now() + interval '2 days')), 0,
          'a later run does nothing: the chain is done');
-- The chains come from the reference cache: a change of a chain after this session
-- loaded it counts at once for the open orders of the policy, and at any later change.
SELECT (workorder.submit('hotline', 'ESC-cache', '0301', '西南村路口有流动摊贩占道', lon => 121.02, lat => 31.05,
                         priority => 'low')).id AS cached_chain \gset
UPDATE workorder.sla_escalation_steps SET after = '30 seconds' WHERE policy = 'tiny' AND step = 1;
SELECT is((SELECT next_escalation_at - resolve_due_at FROM workorder.orders WHERE id = :cached_chain),
          interval '30 seconds', 'a changed step counts at once for the open orders of the policy');
SELECT is((SELECT next_escalation_at - resolve_due_at FROM workorder.accept(:cached_chain, 'tester')),
          interval '30 seconds', '... and at their next change');
-- TRUNCATE takes the chains away as a DELETE of every row does: the open orders'
-- next steps go with them (they stayed), and a chain copied back counts again.
SAVEPOINT truncated_chains;
CREATE TEMP TABLE kept_steps AS SELECT * FROM workorder.sla_escalation_steps;
TRUNCATE workorder.sla_escalation_steps;
SELECT is((SELECT next_escalation_at FROM workorder.orders WHERE id = :cached_chain), NULL,
          'a TRUNCATE of the chains leaves the open orders no next step');
INSERT INTO workorder.sla_escalation_steps SELECT * FROM kept_steps;
SELECT is((SELECT next_escalation_at - resolve_due_at FROM workorder.orders WHERE id = :cached_chain),
          interval '30 seconds', '... and the chains loaded back count again');
ROLLBACK TO SAVEPOINT truncated_chains;
-- An admin, who is granted the chains, changes one too: the open orders' update is
-- the extension's own (it was refused, 42501 on orders, to any role but the owner).
CREATE ROLE esc_test_admin IN ROLE workorder_admin;
SET LOCAL ROLE esc_test_admin;
UPDATE workorder.sla_escalation_steps SET after = '35 seconds' WHERE policy = 'tiny' AND step = 1;
RESET ROLE;
SELECT is((SELECT next_escalation_at - resolve_due_at FROM workorder.orders WHERE id = :cached_chain),
          interval '35 seconds', 'an admin changes a chain, and it counts for the open orders');
SET LOCAL ROLE esc_test_admin;
UPDATE workorder.sla_escalation_steps SET after = '30 seconds' WHERE policy = 'tiny' AND step = 1;
RESET ROLE;
DELETE FROM workorder.sla_escalation_steps WHERE policy = 'tiny' AND step = 2;
SELECT is((SELECT rows FROM workorder.task_escalate(now() + interval '11 seconds')), 0,
          '... so step 1 is not done before its 30 seconds');
SELECT is((SELECT rows FROM workorder.task_escalate(now() + interval '41 seconds')), 4,
          'steps 1, 3, 4 and 5 at 41 seconds: step 2 is gone');
SELECT is((SELECT array_agg((v.details->>'step')::int ORDER BY v.seq) FROM workorder.order_events v
            WHERE v.order_id = :cached_chain AND v.action = 'escalate'),
          ARRAY[1, 3, 4, 5], '... in step order, without the deleted step');
SELECT is((SELECT count(*) FROM (SELECT v.order_id, count(*) AS n,
                                        array_agg((v.details->>'step')::int ORDER BY v.seq) AS steps
                                   FROM workorder.order_events v JOIN t ON t.id = v.order_id
                                  WHERE v.action = 'escalate' GROUP BY v.order_id) x
            WHERE x.n = 5 AND x.steps = ARRAY[1, 2, 3, 4, 5]), 20::bigint,
          'every order has one escalate event per step, in step order');
SELECT is((SELECT count(*) FROM workorder.order_escalations e JOIN t ON t.id = e.order_id), 100::bigint,
          'one order_escalations row per order and step');
SELECT is((SELECT count(*) FROM workorder.orders o JOIN t USING (id)
            WHERE o.supervised AND o.escalated_to = 'district leader' AND o.escalation_step = 5
              AND o.next_escalation_at IS NULL), 20::bigint,
          'supervised, escalated to the district leader, chain done, nothing next');
SELECT throws_ok($$INSERT INTO workorder.order_escalations (order_id, step, action)
                   SELECT id, 1, 'remind' FROM t LIMIT 1$$, '23505', NULL,
                 'the primary key refuses a second row of a step');

-- A step too long for the calendar is refused when it is written (it passed, and
-- then every submit or dispatch of the policy failed, with 22008 or WO503).
SELECT throws_ok($$INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('tiny', 6, '107000000 days', 'remind')$$,
                 'WO521', NULL, 'a step after 107 million days is refused (WO521)');
SELECT throws_ok($$INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('tiny', 6, '1001 days', 'remind')$$,
                 'WO521', NULL, '... as is one after more than 1000 days');
-- A step with an unknown action or policy is the project's error, with what to do
-- (they were a bare check violation, 23514, and foreign key error, 23503).
SELECT throws_ok($$INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('tiny', 6, '1 day', 'escalate')$$,
                 'WO521', 'invalid action of escalation step 6 of policy tiny', 'a step with an unknown action is refused (WO521)');
SELECT throws_ok($$INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('nosuch', 1, '1 day', 'remind')$$,
                 'WO512', 'unknown SLA policy ''nosuch'' for escalation step ''1''', 'a step of an unknown policy is refused (WO512)');
SELECT throws_ok($$INSERT INTO workorder.sla_priority_policies (priority, policy) VALUES ('normal', 'nosuch')$$,
                 'WO512', 'unknown SLA policy ''nosuch'' for priority ''normal''', '... and so is a priority mapped to one');

-- A failed verification sends the order back to work under the same deadline: its
-- chain stays done (it used to start again, every step firing a second time); a
-- reopen, which gives a new deadline, starts a new one.
SELECT min(id) AS failed_check, max(id) AS redone FROM t \gset
SELECT count(workorder.accept(o.id, o.main_unit)) AS accepted FROM workorder.orders o WHERE o.id IN (:failed_check, :redone) \gset
SELECT count(workorder.resolve(o.id, o.main_unit, '已处理')) AS resolved FROM workorder.orders o WHERE o.id IN (:failed_check, :redone) \gset
SELECT (workorder.verify(:failed_check, 'C-990401', false, '未处理好')).status AS sent_back \gset
SELECT is((SELECT ROW(status, escalation_step, escalated_to)::text FROM workorder.orders WHERE id = :failed_check),
          ROW('accepted', 5, 'district leader')::text, 'a failed verification keeps the chain done and whom it reached');
SELECT is((SELECT rows FROM workorder.task_escalate(now() + interval '1 hour')), 0, '... and no step fires again');
SELECT (workorder.reopen(:redone, 'C-990401', '群众不满意')).status AS reopened \gset
SELECT is((SELECT ROW(status, escalation_step, escalated_to IS NULL)::text FROM workorder.orders WHERE id = :redone),
          ROW('dispatched', 0, true)::text, 'a reopen starts a new chain');
-- The steps of the chain the reopen ended stay in the BI view and the day's briefing:
-- they are read from the log (a reopen deletes the order's order_escalations rows,
-- and with them they vanished from both).
SELECT is((SELECT string_agg(step || ' ' || action, ', ' ORDER BY step) FROM workorder.bi_escalations WHERE order_id = :redone),
          '1 remind, 2 supervise, 3 escalate_parent, 4 escalate_leader, 5 remind',
          'bi_escalations keeps the five steps done before the reopen');
SELECT is((workorder.report_daily_briefing((now() AT TIME ZONE workorder.score_zone())::date)).escalation_steps,
          (SELECT count(*)::integer FROM workorder.order_events WHERE action = 'escalate'
              AND at >= (now() AT TIME ZONE workorder.score_zone())::date::timestamp AT TIME ZONE workorder.score_zone()),
          'the day''s briefing counts every escalate event of the day, those of the ended chain too');
-- (Resolved again, so that its new chain does not run into the tests below.)
SELECT (workorder.accept(:redone, main_unit)).status AS accepted_again FROM workorder.orders WHERE id = :redone \gset
SELECT (workorder.resolve(:redone, main_unit, '已处理')).status AS resolved_again FROM workorder.orders WHERE id = :redone \gset

-- A suspended order waits; resolving ends the chain.
CREATE TEMP TABLE u AS
SELECT o.id FROM generate_series(1, 2) g,
       LATERAL workorder.submit('hotline', 'ESC-U' || g, '0301', '西南村路口有流动摊贩占道', lon => 121.02, lat => 31.05,
                                priority => 'low') o;
\o /dev/null
SELECT workorder.accept(id, 'tester') FROM u;
SELECT workorder.suspend(min(id), 'tester', '等待配件') FROM u;
SELECT workorder.resolve(max(id), 'tester', '已处理') FROM u;
\o
SELECT is((SELECT count(*) FROM workorder.orders o JOIN u USING (id) WHERE o.next_escalation_at IS NOT NULL), 0::bigint,
          'suspended and resolved orders have no next escalation');
SELECT is((SELECT rows FROM workorder.task_escalate(now() + interval '1 day')), 0,
          'nor are they escalated');

-- calendar_recompute: an order with a suspension and an approved extension is
-- computed again from its events without a false change; a holiday inside its
-- window moves it, with one event.
CREATE TEMP TABLE w AS
SELECT o.id FROM workorder.submit('hotline', 'ESC-W', '0301', '西南村路口有流动摊贩占道', lon => 121.02, lat => 31.05) o;
\o /dev/null
SELECT workorder.accept(id, 'tester') FROM w;
SELECT workorder.suspend(id, 'tester', '等待配件') FROM w;
SELECT workorder.resume(id, 'tester') FROM w;
SELECT workorder.request_extension(id, 'tester', interval '2 days', '工程量大') FROM w;
SELECT workorder.approve_extension(id, 'leader') FROM w;
\o
DELETE FROM workorder.calendar_changes;
INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what) VALUES ('cn', NULL, NULL, 'hours');
SELECT is((SELECT rows FROM workorder.run_task('calendar_recompute')), 0,
          'a change that moves nothing gives no new deadline');
SELECT is((SELECT count(*) FROM workorder.order_events v WHERE v.action = 'deadline_recomputed'), 0::bigint,
          '... and no deadline_recomputed event');
-- A deadline is counted from the instant its action is logged, as the recompute
-- counts it (it was counted from the start of the action's transaction, and a
-- recompute moved it by the transaction's length, with a deadline_recomputed event).
CREATE TEMP TABLE late_tx AS
SELECT o.id FROM workorder.submit('hotline', 'ESC-TX', '0301', '西南村路口有流动摊贩占道', lon => 121.02, lat => 31.05,
                                  priority => 'low') o;
SELECT pg_sleep(greatest(0, extract(epoch FROM now() + interval '2 seconds' - clock_timestamp())));
\o /dev/null
SELECT workorder.reassign(t.id, 'tester', (SELECT u.code FROM workorder.units u
                                            WHERE u.active AND u.kind = 'department' AND u.code <> o.main_unit
                                            ORDER BY u.code LIMIT 1), '换单位')
  FROM late_tx t JOIN workorder.orders o USING (id);
\o
SELECT is((SELECT abs(extract(epoch FROM o.accept_due_at - (e.at + interval '5 seconds'))) < 0.1
             FROM late_tx t JOIN workorder.orders o USING (id)
             JOIN workorder.order_events e ON e.order_id = o.id AND e.action = 'reassign'),
          true, 'a reassignment late in a long transaction counts its accept deadline from its event');
INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what) VALUES ('cn', NULL, NULL, 'hours');
SELECT is((SELECT rows FROM workorder.run_task('calendar_recompute')), 0, '... so a recompute finds nothing to move');
\o /dev/null
SELECT workorder.load_calendar_days('cn', jsonb_build_array(jsonb_build_object(
           'day', workorder.add_working_days(now(), 1)::date, 'kind', 'holiday', 'name', '测试假日')));
\o
SELECT is((SELECT rows FROM workorder.run_task('calendar_recompute')), 1, 'a holiday in the window moves one order');
SELECT is((SELECT count(*) FROM w
            WHERE (SELECT abs(extract(epoch FROM o.resolve_due_at
                      - workorder.sla_extend(workorder.sla_shift(workorder.deadline_after(o.received_at, 'working_days', '5 days'),
                                                                 'working_days', s.at, r.at),
                                             'working_days', '2 days'))) < 1
                     FROM workorder.orders o
                     JOIN workorder.order_events s ON s.order_id = o.id AND s.action = 'suspend'
                     JOIN workorder.order_events r ON r.order_id = o.id AND r.action = 'resume'
                    WHERE o.id = w.id)), 1::bigint,
          'a holiday in the window: the deadline is the new 5 working days, shifted by the suspension, plus the 2-day extension');
SELECT is((SELECT count(*) FROM workorder.order_events v JOIN w ON v.order_id = w.id
            WHERE v.action = 'deadline_recomputed'), 1::bigint, 'one deadline_recomputed event');
-- An open order marked overdue against a deadline that a calendar change puts ahead
-- (a holiday plan loaded late) is overdue no more, and its new deadline is watched;
-- the mark stayed, and the order was never checked again.
UPDATE workorder.orders o SET overdue = true FROM w WHERE o.id = w.id;
\o /dev/null
SELECT workorder.load_calendar_days('cn', jsonb_build_array(jsonb_build_object(
           'day', workorder.add_working_days(now(), 2)::date, 'kind', 'holiday', 'name', '测试假日二')));
\o
SELECT is((SELECT rows FROM workorder.run_task('calendar_recompute')), 1, 'a second holiday moves the order again');
SELECT is((SELECT (o.overdue, o.resolve_due_at > now(), o.next_check_at IS NOT NULL)::text
             FROM workorder.orders o JOIN w USING (id)), '(f,t,t)',
          '... its overdue mark is withdrawn, as after an approved extension, and the new deadline is watched');
SELECT is((SELECT v.details ->> 'overdue_withdrawn' FROM workorder.order_events v JOIN w ON v.order_id = w.id
            WHERE v.action = 'deadline_recomputed' ORDER BY v.seq DESC LIMIT 1), 'true',
          '... and its event says so, for the scores');

SELECT throws_ok($$INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('tiny', 6, '1 month', 'remind')$$,
                 'WO521', NULL, 'an escalation step with months is WO521');
SELECT throws_ok($$INSERT INTO workorder.sla_escalation_steps (policy, step, after, action)
                   VALUES ('tiny', 7, '1 day -20 hours', 'remind')$$,
                 'WO521', NULL, 'an escalation step with a negative part is WO521 (''1 day -20 hours'' counted as 1 working day)');

-- escalate_parent goes to the first active unit up the tree: a town center taken out
-- of use (a reorganisation) got escalations nobody read.  And once escalated to a
-- parent, an order is escalated to its main unit's parent: a reassign moves it to the
-- new unit's (a water bureau's order read as escalated to the urban management
-- bureau), a return clears it, a dispatch after the return sets it again; the
-- district leader stays.
SAVEPOINT parent_walk;
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('walk', 'calendar_hours', '5 seconds', 'calendar_hours', '10 seconds');
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES
    ('walk', 1, '0', 'escalate_parent'), ('walk', 2, '2 seconds', 'escalate_leader');
INSERT INTO workorder.sla_priority_policies VALUES ('high', 'walk')
    ON CONFLICT (priority) DO UPDATE SET policy = EXCLUDED.policy;
UPDATE workorder.units SET active = false WHERE code = 'C-990401001';
SELECT id AS walked, resolve_due_at AS walked_due FROM workorder.submit('hotline', 'ESC-WALK', '0301', '西南村路口有流动摊贩占道',
                                                   lon => 121.02, lat => 31.05, priority => 'high') \gset
SELECT is((SELECT main_unit || ' ' || sla_policy FROM workorder.orders WHERE id = :walked), 'C-990401001001 walk',
          'the fixture: a village center''s order, on a chain that escalates to the parent at the deadline');
SELECT count(*) FROM workorder.task_escalate(:'walked_due'::timestamptz + interval '1 second') \gset
SELECT is((SELECT ROW(escalation_step, escalated_to)::text FROM workorder.orders WHERE id = :walked),
          ROW(1, 'C-990401')::text,
          'escalate_parent passes over a parent out of use to the first active unit up the tree');
SELECT is((SELECT escalated_to FROM workorder.reassign(:walked, 'C-990401', 'B-um-990401001')), 'D-um',
          'a reassigned order is escalated to its new unit''s parent, not its former unit''s');
SELECT is((SELECT escalated_to FROM workorder.return_order(:walked, 'B-um-990401001', '不属于本单位')), NULL,
          '... a returned one to its dispatching center''s parent: none above the district''s center');
SELECT is((SELECT escalated_to FROM workorder.dispatch(:walked, 'C-990401', 'C-990401001001')), 'C-990401',
          '... and dispatched again, to its new unit''s parent');
SELECT count(*) FROM workorder.task_escalate(:'walked_due'::timestamptz + interval '2.5 seconds') \gset
SELECT is((SELECT escalated_to FROM workorder.reassign(:walked, 'C-990401', 'B-um-990401001')), 'district leader',
          'one escalated to the district leader stays so');
-- A district department has no unit above it: its order is escalated to the center
-- that dispatched it, which supervises the departments (the step reached nobody,
-- and was done).  An order the district's center holds itself has nobody above it:
-- its event says so.
SELECT id AS dept, resolve_due_at AS dept_due FROM workorder.submit('hotline', 'ESC-DEPT', '0302', '西街道有人加建铁皮房',
                                                  lon => 121.02, lat => 31.15, priority => 'high') \gset
SELECT id AS unrouted FROM workorder.submit('hotline', 'ESC-NONE', '0302', '东街道有人加建铁皮房',
                                            lon => 121.02, lat => 31.16, priority => 'high') \gset
SELECT resolve_due_at AS unrouted_due FROM workorder.return_order(:unrouted, 'D-um', '不属于本单位') \gset
SELECT is((SELECT string_agg(ROW(main_unit, dispatching_unit, sla_policy)::text, ' ' ORDER BY id) FROM workorder.orders
            WHERE id IN (:dept, :unrouted)),
          '(D-um,C-990401,walk) (,C-990401,walk)',
          'the fixture: a district department''s order, and one returned to the district''s center, on the chain');
SELECT count(*) FROM workorder.task_escalate(GREATEST(:'dept_due'::timestamptz, :'unrouted_due'::timestamptz) + interval '1 second') \gset
SELECT is((SELECT ROW(escalation_step, escalated_to)::text FROM workorder.orders WHERE id = :dept),
          ROW(1, 'C-990401')::text,
          'escalate_parent of a district department''s order goes to the center that dispatched it');
SELECT is((SELECT string_agg(note, ' | ' ORDER BY order_id) FROM workorder.order_events
            WHERE order_id IN (:dept, :unrouted) AND action = 'escalate' AND details ->> 'step' = '1'),
          'escalation step 1: escalate_parent to C-990401 | escalation step 1: escalate_parent (no active unit above C-990401)',
          '... and the event of one that reaches nobody says so');
RELEASE SAVEPOINT parent_walk;

-- An order without a main unit is its dispatching center's: a town center's order
-- returned to it, still not dispatched again at the deadline, is escalated to the
-- center's parent (it was escalated to nobody, and the step was done).
SAVEPOINT returned_walk;
UPDATE workorder.units SET active = true WHERE code = 'C-990401001';
SELECT id AS held FROM workorder.submit('hotline', 'ESC-HELD', '0301', '西南村路口有流动摊贩占道',
                                        lon => 121.02, lat => 31.05, priority => 'high') \gset
SELECT (workorder.return_order(:held, main_unit, '不属于本单位')).status FROM workorder.orders WHERE id = :held \gset
SELECT (workorder.dispatch(:held, 'C-990401001', 'C-990401001001')).dispatching_unit AS held_center \gset
SELECT resolve_due_at AS held_due FROM workorder.return_order(:held, 'C-990401001001', '退回镇中心') \gset
SELECT is((SELECT ROW(status, main_unit, dispatching_unit)::text FROM workorder.orders WHERE id = :held),
          ROW('new'::workorder.order_status, NULL::text, 'C-990401001')::text,
          'the fixture: an order the town center dispatched, returned to it');
SELECT count(*) FROM workorder.task_escalate(:'held_due'::timestamptz + interval '1 second') \gset
SELECT is((SELECT ROW(escalation_step, escalated_to)::text FROM workorder.orders WHERE id = :held),
          ROW(1, 'C-990401')::text,
          'escalate_parent of an order without a main unit goes to its dispatching center''s parent');
SELECT is((SELECT note FROM workorder.order_events WHERE order_id = :held AND action = 'escalate'),
          'escalation step 1: escalate_parent to C-990401', '... and its event says to whom');
SELECT is((SELECT escalated_to FROM workorder.dispatch(:held, 'C-990401001', 'C-990401001001')), 'C-990401001',
          'dispatched again, it is escalated to its new unit''s parent');
SELECT is((SELECT escalated_to FROM workorder.return_order(:held, 'C-990401001001', '再次退回')), 'C-990401',
          '... and returned again, to its center''s parent, not to nobody');
-- Dispatched by another center to a district department, which has no unit above
-- it: escalated to the center that dispatched it now, as the escalate task would
-- record (it recorded the center before the dispatch).
SELECT is((SELECT dispatching_unit || ' ' || escalated_to FROM workorder.dispatch(:held, 'C-990401', 'D-um')),
          'C-990401 C-990401', 'a district department''s order dispatched by another center is escalated to that center');
-- A failed verification whose unit is out of use sends the order to its dispatching
-- center, escalated to that center's parent, as a return does (it stayed with the
-- department's recipient): the district's center has none.
SELECT (workorder.accept(:held, 'D-um')).status AS accepted \gset
SELECT (workorder.resolve(:held, 'D-um', '已处理')).status AS resolved \gset
UPDATE workorder.units SET active = false WHERE code = 'D-um';
SELECT is((SELECT ROW(status, main_unit, escalated_to)::text FROM workorder.verify(:held, 'C-990401', false, '没有处理')),
          ROW('new'::workorder.order_status, NULL::text, NULL::text)::text,
          'a failed verification of an order whose unit is out of use moves its escalation to the dispatching center''s parent');
ROLLBACK TO SAVEPOINT returned_walk;

-- The steps run on the terms the deadline is held to: those in force when the
-- order's clock started, not the policy as it is now.  Here the policy counted
-- working days on a calendar of Mondays when the order came, and counts elapsed
-- hours since; a step a working day after the deadline is on a Monday, not a day
-- later.  (They ran on the policy as it is now: a policy moved to elapsed hours
-- escalated its open orders on a Saturday and a Sunday.)
SAVEPOINT escalation_terms;
INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('esc-mon', 'Mondays only', 'Asia/Shanghai');
INSERT INTO workorder.calendar_hours (calendar_code, isodow, starts, ends) VALUES ('esc-mon', 1, '09:00', '17:00');
INSERT INTO workorder.sla_policies (name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('esc-terms', 'esc-mon', 'calendar_hours', '1 hour', 'calendar_hours', '30 hours');
INSERT INTO workorder.sla_policy_versions (name, valid_from, calendar_code, accept_clock, accept_amount,
                                           resolve_clock, resolve_amount, warn_fraction, shipped)
VALUES ('esc-terms', now() - interval '2 hours', 'esc-mon', 'calendar_hours', '1 hour', 'working_days', '1 day', 0.8, false);
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES
    ('esc-terms', 1, '0', 'remind'), ('esc-terms', 2, '1 day', 'supervise');
INSERT INTO workorder.sla_priority_policies VALUES ('high', 'esc-terms')
    ON CONFLICT (priority) DO UPDATE SET policy = EXCLUDED.policy;
SELECT workorder.intake_received_at(now() - interval '1 hour') IS NULL AS dated \gset
SELECT id AS termed, resolve_due_at AS termed_due FROM workorder.submit('hotline', 'ESC-TERMS', '0301', '西南村路口有流动摊贩占道',
                                                   lon => 121.02, lat => 31.05, priority => 'high') \gset
SELECT is(:'termed_due'::timestamptz, workorder.deadline_after(now() - interval '1 hour', 'working_days', '1 day', 'esc-mon'),
          'the fixture: the deadline counts the working days of the terms at receipt');
SELECT count(*) FROM workorder.task_escalate(:'termed_due'::timestamptz + interval '1 second') \gset
SELECT is((SELECT ROW(escalation_step, next_escalation_at)::text FROM workorder.orders WHERE id = :termed),
          ROW(1, workorder.sla_extend(:'termed_due', 'working_days', '1 day', 'esc-mon'))::text,
          'the next step is a working day after the deadline on the order''s terms, not 24 hours on the policy''s new ones');
SELECT is((SELECT workorder.escalation_at(o, '1 day') FROM workorder.orders o WHERE o.id = :termed),
          workorder.sla_extend(:'termed_due', 'working_days', '1 day', 'esc-mon'),
          '... and escalation_at, which the escalation task counts with, says the same');
-- A reopen starts a new chain, on the terms of now, from its first step: also when
-- that step is not at the deadline.  (The UPDATE that set the fresh deadline came
-- before the reopen's event, and the trigger read the terms at receipt from the
-- log: the step a day of elapsed hours after the new deadline was put a working day
-- after it, and ran that much late.)
DELETE FROM workorder.sla_escalation_steps WHERE policy = 'esc-terms' AND step = 1;
SELECT (workorder.accept(:termed, main_unit)).status AS accepted FROM workorder.orders WHERE id = :termed \gset
SELECT (workorder.resolve(:termed, main_unit, '已处理')).status AS resolved FROM workorder.orders WHERE id = :termed \gset
SELECT is((SELECT ROW(escalation_step, next_escalation_at - resolve_due_at)::text
             FROM workorder.reopen(:termed, 'C-990401', '群众反映仍未处理')),
          ROW(0, interval '1 day')::text,
          'a reopened order''s first step is a day of elapsed hours after its fresh deadline, on the terms of now');
SELECT is((SELECT next_escalation_at = workorder.escalation_next(o) FROM workorder.orders o WHERE o.id = :termed), true,
          '... as escalation_next says, reading the log with the reopen in it');
RELEASE SAVEPOINT escalation_terms;

SELECT * FROM finish();
ROLLBACK;
