-- Roles and row-level security: each group role sees and does what README's
-- Security section says, and nothing more.  Real roles, made members of the
-- group roles and mapped to units and channels, run each statement (SET ROLE,
-- inside rt.run_as); the refused attempts are proven refused with their SQLSTATE:
-- a handler acting on another unit's order, a dispatcher outside its area, an
-- intake connector submitting or claiming for another channel, an analyst reading
-- base tables, direct UPDATE and DELETE.  Everything, roles included, is rolled
-- back.  Run from the repository root.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;

\o /dev/null
\i test/fixtures/lifecycle_map.sql
SELECT workorder.load_channels('[{"code": "rt_app", "name": "随手拍", "kind": "platform", "categories": [
     {"code": "V", "category": "CITY_VENDOR"}]},
    {"code": "video_ai", "name": "视频AI", "kind": "video_ai", "categories": [{"code": "stall", "category": "CITY_VENDOR"}]}]');
\o

SELECT plan(194);

-- The login roles (roles are cluster-wide: the names are this test's own, and the
-- transaction rolls them back).
CREATE ROLE wo_rt_handler_a LOGIN IN ROLE workorder_handler;      -- 甲街道城管中队
CREATE ROLE wo_rt_handler_um LOGIN IN ROLE workorder_handler;     -- 城管局, above both town squadrons
CREATE ROLE wo_rt_handler_unmapped LOGIN IN ROLE workorder_handler;
CREATE ROLE wo_rt_dispatcher_a LOGIN IN ROLE workorder_dispatcher; -- 甲街道指挥中心
CREATE ROLE wo_rt_dispatcher_d LOGIN IN ROLE workorder_dispatcher; -- the district center
CREATE ROLE wo_rt_supervisor_a LOGIN IN ROLE workorder_supervisor; -- a leader of 甲街道
CREATE ROLE wo_rt_supervisor_water LOGIN IN ROLE workorder_supervisor; -- a leader of the water department
CREATE ROLE wo_rt_analyst LOGIN IN ROLE workorder_analyst;
CREATE ROLE wo_rt_intake_hotline LOGIN IN ROLE workorder_intake;
CREATE ROLE wo_rt_intake_app LOGIN IN ROLE workorder_intake;
CREATE ROLE wo_rt_intake_camera LOGIN IN ROLE workorder_intake;
CREATE ROLE wo_rt_intake_unmapped LOGIN IN ROLE workorder_intake;
CREATE ROLE wo_rt_admin LOGIN IN ROLE workorder_admin;
CREATE ROLE wo_rt_nobody LOGIN;
\o /dev/null
SELECT workorder.map_login('wo_rt_handler_a', 'B-um-990801001');
SELECT workorder.map_login('wo_rt_handler_um', 'D-um');
SELECT workorder.map_login('wo_rt_dispatcher_a', 'C-990801001');
SELECT workorder.map_login('wo_rt_dispatcher_d', 'C-990801');
SELECT workorder.map_login('wo_rt_supervisor_a', 'C-990801001');
SELECT workorder.map_login('wo_rt_supervisor_water', 'D-water');
SELECT workorder.map_login('wo_rt_intake_hotline', channel_code => 'hotline');
SELECT workorder.map_login('wo_rt_intake_app', channel_code => 'rt_app');
SELECT workorder.map_login('wo_rt_intake_camera', channel_code => 'video_ai');
\o

-- run_as runs one statement as role r and returns its SQLSTATE ('00000' when it
-- succeeded) and its first value as text (or the error message, and the error's
-- detail).
CREATE SCHEMA rt;
GRANT USAGE ON SCHEMA rt TO PUBLIC;
CREATE FUNCTION rt.run_as(r name, q text, OUT state text, OUT result text, OUT detail text) LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE format('SET LOCAL ROLE %I', r);
        EXECUTE q INTO result;
        state := '00000';
        RESET ROLE;
    EXCEPTION WHEN OTHERS THEN
        state := SQLSTATE;
        result := SQLERRM;
        GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    END;
END
$$;
-- Definer functions owned by the superuser, one calling the other: inside them
-- current_user is the owner, but calling_role() is still the caller.
CREATE FUNCTION rt.who_definer() RETURNS text LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT workorder.calling_role() || ' as ' || current_user $$;
CREATE FUNCTION rt.who_nested() RETURNS text LANGUAGE plpgsql SECURITY DEFINER
    AS $$ BEGIN RETURN rt.who_definer(); END $$;

-- The orders: each is named in a psql variable.
--   vendor_a  hotline, town 甲: routed to 甲's squadron B-um-990801001
--   vendor_b  rt_app, town 乙: routed to 乙's squadron B-um-990801002
--   water_a   hotline, town 甲: routed to the district water department
--   helped_a  hotline, town 甲: dispatched to the water department, 甲's squadron assisting
SELECT (workorder.submit('hotline', 'RT-1', '0301', '占道经营 甲', lon => 116.05, lat => 25.05,
                         reporter_name => '张三', reporter_phone => '13812341234')).id AS vendor_a \gset
SELECT (workorder.submit('rt_app', 'RT-2', 'V', '占道经营 乙', lon => 116.15, lat => 25.05)).id AS vendor_b \gset
SELECT (workorder.submit('hotline', 'RT-3', '0701', '积水 甲', lon => 116.05, lat => 25.06)).id AS water_a \gset
SELECT (workorder.submit('hotline', 'RT-4', '9999', '未分类 甲', lon => 116.05, lat => 25.07)).id AS helped_a \gset
\o /dev/null
SELECT workorder.dispatch(:helped_a, 'C-990801', 'D-water', assisting_units => ARRAY['B-um-990801001']);
\o
SELECT format('SELECT coalesce(array_agg(id ORDER BY id), ''{}'')::text FROM workorder.orders WHERE id IN (%s, %s, %s, %s)',
              :vendor_a, :vendor_b, :water_a, :helped_a) AS mine \gset
SELECT format('SELECT coalesce(array_agg(DISTINCT order_id ORDER BY order_id), ''{}'')::text FROM workorder.order_events WHERE order_id IN (%s, %s, %s, %s)',
              :vendor_a, :vendor_b, :water_a, :helped_a) AS mine_events \gset

SELECT results_eq(
    format('SELECT main_unit, status::text FROM workorder.orders WHERE id IN (%s, %s, %s, %s) ORDER BY id',
           :vendor_a, :vendor_b, :water_a, :helped_a),
    $$VALUES ('B-um-990801001', 'dispatched'), ('B-um-990801002', 'dispatched'),
             ('D-water', 'dispatched'), ('D-water', 'dispatched')$$,
    'the fixture: four orders dispatched to the units the test expects');

-- == Who is calling
SELECT is((rt.run_as('wo_rt_handler_a', 'SELECT workorder.calling_role()::text')).result, 'wo_rt_handler_a',
          'calling_role() is the role taken with SET ROLE, not the session user');
SELECT is((rt.run_as('wo_rt_handler_a', 'SELECT rt.who_definer()')).result, 'wo_rt_handler_a as postgres',
          'inside a SECURITY DEFINER function calling_role() is still the caller, while current_user is the owner');
SELECT is((rt.run_as('wo_rt_handler_a', 'SELECT rt.who_nested()')).result, 'wo_rt_handler_a as postgres',
          'and inside nested definer functions too');
SELECT is(workorder.calling_role()::text, current_user::text, 'without SET ROLE it is the session user');

-- == Handlers: their unit and the units below it, as main or assisting unit
SELECT is((rt.run_as('wo_rt_handler_a', :'mine')).result, format('{%s,%s}', :vendor_a, :helped_a),
          'a handler sees the orders its unit holds and those it assists, nothing else');
SELECT is((rt.run_as('wo_rt_handler_um', :'mine')).result, format('{%s,%s,%s}', :vendor_a, :vendor_b, :helped_a),
          'a department''s handler sees the orders of the branches below it, as main or assisting unit');
SELECT is((rt.run_as('wo_rt_handler_a', :'mine_events')).result, format('{%s,%s}', :vendor_a, :helped_a),
          'a handler sees the events of its orders only');
SELECT is((rt.run_as('wo_rt_handler_unmapped', :'mine')).result, '{}',
          'a handler mapped to no unit sees no order');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT (workorder.accept(%s, ''B-um-990801001'')).status::text', :vendor_a))).result,
          'accepted', 'a handler accepts an order of its own unit');
SELECT is((SELECT db_user FROM workorder.order_events WHERE order_id = :vendor_a AND action = 'accept'), 'wo_rt_handler_a',
          '... and the event log records the role that took the action (SET ROLE), not the session user');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.comment(%s, '' System '', ''系统自动'')', :vendor_a))).state,
          'WO404', 'a handler may not act as the actor system, which names what the center''s machinery does');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT (workorder.comment(%s, ''B-um-990801001'', ''协办意见'')).status::text', :helped_a))).result,
          'dispatched', 'a handler comments on an order it assists');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.accept(%s, ''B-um-990801001'')', :helped_a))).state,
          'WO951', 'a handler may not sign for an order its unit only assists: that is the main unit''s');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.accept(%s, ''B-um-990801001'')', :helped_a))).detail,
          'The role''s workorder groups are workorder_handler, none of which may accept; the order''s main unit is D-water, its assisting units {B-um-990801001}, its area 990801001001.',
          '... and the refusal says whose the order is');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.return_order(%s, ''B-um-990801001'', ''不归我管'')', :helped_a))).state,
          'WO951', '... nor hand it back (it would clear the main unit and count a return against it)');
SELECT is((rt.run_as('wo_rt_handler_um', format('SELECT workorder.accept(%s, ''D-um'')', :helped_a))).state,
          'WO951', '... nor may the handler of a unit above the assisting one');
SELECT is((SELECT status::text || ' ' || main_unit FROM workorder.orders WHERE id = :helped_a), 'dispatched D-water',
          '... the order is as it was');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.accept(%s, ''B-um-990801001'')', :vendor_b))).state,
          'WO951', 'a handler may not accept another unit''s order (WO951)');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.accept(%s, ''x'')', :vendor_b))).result,
          format('role wo_rt_handler_a (unit B-um-990801001) may not accept order id %s', :vendor_b),
          'the refusal of an order the role does not see names the role, its unit, the action and the id passed');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.accept(%s, ''x'')', :vendor_b))).detail,
          'The order is not among those the role''s workorder groups (workorder_handler) see.',
          'and tells nothing of the order: not its ticket, units or area (ids cannot be tried to read orders)');
SELECT matches((rt.run_as('wo_rt_handler_a', format('SELECT workorder.reassign(%s, ''x'', ''B-um-990801002'')', :vendor_a))).result,
          '^role wo_rt_handler_a \(unit B-um-990801001\) may not reassign order \d{8}-\d{6}-\d \(id \d+\)$',
          'the refusal of an action on an order the role sees names the order by its ticket');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.reassign(%s, ''x'', ''B-um-990801002'')', :vendor_a))).detail,
          format('The role''s workorder groups are workorder_handler, none of which may reassign; the order''s main unit is %s, its assisting units %s, its area %s.',
                 o.main_unit, o.assisting_units, o.area_code),
          'and says which of its units and area the role is there for, and that the action is what is missing')
  FROM workorder.orders o WHERE o.id = :vendor_a;
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.resolve(%s, ''x'', ''done'')', :water_a))).state,
          'WO951', 'a handler may not resolve an order of a unit outside its subtree');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.reassign(%s, ''x'', ''B-um-990801002'')', :vendor_a))).state,
          'WO951', 'a handler may not reassign even its own order: reassigning is a dispatcher''s action');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.supervise(%s, ''x'')', :vendor_a))).state,
          'WO951', 'a handler may not supervise');
SELECT is((rt.run_as('wo_rt_handler_unmapped', format('SELECT workorder.accept(%s, ''x'')', :vendor_a))).state,
          'WO951', 'a handler mapped to no unit may not act');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.review_duplicate(%s, ''x'', ''reject'')', :vendor_a))).state,
          'WO951', 'a handler may not review a suspected duplicate, even of its own unit: that is a dispatcher''s call');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT count(*) FROM workorder.explain_dedup(%s)', :water_a))).state,
          'WO951', 'a handler may not read the dedup explanation of an order outside its subtree');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT count(*) FROM workorder.explain_route(%s)', :vendor_a))).state,
          '00000', 'a handler explains the route of its own order');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT count(*) FROM workorder.explain_route(%s)', :vendor_b))).state,
          'WO951', 'but not of another unit''s order');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT count(*) FROM workorder.order_history(%s)', :vendor_b))).state,
          'WO402', 'order_history of an order the handler cannot see: as if it did not exist');
SELECT is((rt.run_as('wo_rt_handler_a', 'SELECT workorder.submit(''hotline'', ''RT-H'', ''0301'', ''x'', lon => 116.05, lat => 25.05)')).state,
          '42501', 'a handler may not submit');
SELECT is((rt.run_as('wo_rt_handler_a', format('UPDATE workorder.orders SET status = ''closed'' WHERE id = %s', :vendor_a))).state,
          '42501', 'a handler may not UPDATE an order directly, even its own');
SELECT is((rt.run_as('wo_rt_handler_a', format('DELETE FROM workorder.orders WHERE id = %s', :vendor_a))).state,
          '42501', 'nor DELETE it');
SELECT is((rt.run_as('wo_rt_handler_a', format('DELETE FROM workorder.order_events WHERE order_id = %s', :vendor_a))).state,
          '42501', 'nor DELETE its events');
SELECT is((rt.run_as('wo_rt_handler_a', format('INSERT INTO workorder.order_events (order_id, seq, action, actor, new_status) VALUES (%s, 99, ''x'', ''x'', ''closed'')', :vendor_a))).state,
          '42501', 'nor forge an event');
SELECT is((rt.run_as('wo_rt_handler_a', 'SELECT count(*)::text FROM workorder.outbox')).state,
          '42501', 'a handler does not read the outbox');
SELECT is((rt.run_as('wo_rt_handler_a', 'SELECT count(*)::text FROM workorder.logins')).state,
          '42501', 'nor the login mapping');
SELECT is((rt.run_as('wo_rt_handler_a', 'SELECT count(*)::text FROM workorder.units')).state,
          '00000', 'it reads the reference data (units)');
SELECT is((rt.run_as('wo_rt_handler_a', 'SELECT (workorder.locate(116.15, 25.05)).area_code')).result,
          '990801002001', 'it locates a point');
SELECT is((rt.run_as('wo_rt_handler_a', 'SELECT workorder.add_working_days(''2026-11-27 16:00+08'', 1)::text')).state,
          '00000', 'and counts working days');

-- Granting UPDATE does not help: no policy lets a role update a row (and the
-- trigger of part 50 would refuse it with WO405 anyway).
GRANT UPDATE, DELETE ON workorder.orders TO wo_rt_handler_a;
SELECT is((rt.run_as('wo_rt_handler_a', format('WITH u AS (UPDATE workorder.orders SET supervised = true WHERE id = %s RETURNING 1) SELECT count(*)::text FROM u', :vendor_a))).result,
          '0', 'a granted UPDATE reaches not even the handler''s own order');
SELECT is((rt.run_as('wo_rt_handler_a', format('WITH d AS (DELETE FROM workorder.orders WHERE id = %s RETURNING 1) SELECT count(*)::text FROM d', :vendor_a))).result,
          '0', 'nor a granted DELETE');
REVOKE UPDATE, DELETE ON workorder.orders FROM wo_rt_handler_a;

-- == Dispatchers: the orders of their center's area
SELECT is((rt.run_as('wo_rt_dispatcher_a', :'mine')).result, format('{%s,%s,%s}', :vendor_a, :water_a, :helped_a),
          'a town dispatcher sees the orders in its town, whoever handles them');
SELECT is((rt.run_as('wo_rt_dispatcher_d', :'mine')).result, format('{%s,%s,%s,%s}', :vendor_a, :vendor_b, :water_a, :helped_a),
          'the district dispatcher sees every order of the district');
SELECT is((rt.run_as('wo_rt_dispatcher_a', format('SELECT (workorder.reassign(%s, ''C-990801001'', ''B-um-990801001'')).main_unit', :water_a))).result,
          'B-um-990801001', 'a dispatcher reassigns an order of its area');
SELECT is((rt.run_as('wo_rt_dispatcher_a', format('SELECT (workorder.reassign(%s, ''C-990801002'', ''D-water'')).dispatching_unit', :water_a))).result,
          'C-990801001',
          'a dispatcher naming another center as the actor does not make it the dispatching unit (who sees the order)');
SELECT is((rt.run_as('wo_rt_dispatcher_a', format('SELECT workorder.reassign(%s, ''C-990801001'', ''D-water'')', :vendor_b))).state,
          'WO951', 'a dispatcher may not reassign an order outside its area');
SELECT is((rt.run_as('wo_rt_dispatcher_a', format('SELECT workorder.cancel(%s, ''C-990801001'', ''spam'')', :vendor_b))).state,
          'WO951', 'nor cancel one');
SELECT is((rt.run_as('wo_rt_dispatcher_a', format('SELECT count(*) FROM workorder.explain_route(%s)', :vendor_b))).state,
          'WO951', 'nor explain its route');
SELECT is((rt.run_as('wo_rt_dispatcher_a', format('SELECT workorder.merge(%s, %s, ''C-990801001'', ''同一件事'')', :vendor_a, :vendor_b))).state,
          'WO951', 'nor merge an order of its own into one outside its area (the master counts it and logs it)');
SELECT is((SELECT report_count || ' ' || status FROM workorder.orders WHERE id = :vendor_b), '1 dispatched',
          '... which is left as it was');
SELECT is((rt.run_as('wo_rt_dispatcher_a', 'SELECT (workorder.submit(''rt_app'', ''RT-D'', ''V'', ''电话转录'', lon => 116.05, lat => 25.05)).status::text')).result,
          'dispatched', 'a dispatcher takes a report for any channel (by phone)');
SELECT is((rt.run_as('wo_rt_dispatcher_a', 'SELECT count(*)::text FROM workorder.bi_orders')).state,
          '42501', 'a dispatcher does not read the analysts'' views');

-- == Supervisors: what their unit's handlers and dispatchers see; supervise, comment
SELECT is((rt.run_as('wo_rt_supervisor_a', :'mine')).result, format('{%s,%s,%s}', :vendor_a, :water_a, :helped_a),
          'a town supervisor sees the orders of its town');
SELECT is((rt.run_as('wo_rt_supervisor_a', format('SELECT (workorder.supervise(%s, ''甲街道领导'')).supervised::text', :vendor_a))).result,
          'true', 'a supervisor supervises (督办) an order of its town');
SELECT is((rt.run_as('wo_rt_supervisor_a', format('SELECT workorder.supervise(%s, ''甲街道领导'')', :vendor_b))).state,
          'WO951', 'but not one of another town');
SELECT is((rt.run_as('wo_rt_supervisor_a', format('SELECT workorder.resolve(%s, ''x'', ''done'')', :vendor_a))).state,
          'WO951', 'a supervisor does not handle orders itself');
-- A department's leader sees its department's orders, as its handlers do: the
-- department serves the whole district, but it is no center.  (It saw every order of
-- the district, reporters' phones included, and supervised other units' orders.)
SELECT is((rt.run_as('wo_rt_supervisor_water', :'mine')).result, format('{%s,%s}', :water_a, :helped_a),
          'a department''s supervisor sees the orders of its department, not every order of its area');
SELECT is((rt.run_as('wo_rt_supervisor_water', format('SELECT workorder.supervise(%s, ''水务局领导'')', :vendor_a))).state,
          'WO951', '... and does not supervise another unit''s order');
SELECT is((rt.run_as('wo_rt_supervisor_water', format('SELECT (workorder.supervise(%s, ''水务局领导'')).supervised::text', :water_a))).result,
          'true', '... but does its own department''s');

-- == Intake connectors: their own channel only
SELECT is((rt.run_as('wo_rt_intake_hotline', 'SELECT (workorder.submit(''hotline'', ''RT-5'', ''0301'', ''占道'', lon => 116.05, lat => 25.05)).channel_code')).result,
          'hotline', 'an intake connector submits for its own channel');
SELECT is((rt.run_as('wo_rt_intake_hotline', 'SELECT workorder.submit(''rt_app'', ''RT-6'', ''V'', ''占道'', lon => 116.05, lat => 25.05)')).state,
          'WO952', 'but not for another channel (WO952)');
SELECT is((rt.run_as('wo_rt_intake_hotline', 'SELECT workorder.submit(''rt_app'', ''RT-2'', ''V'', ''占道经营 乙'', lon => 116.15, lat => 25.05)')).state,
          'WO952', 'not even a retry of another channel''s reference, which would return that order');
SELECT is((rt.run_as('wo_rt_intake_hotline', format('SELECT workorder.submit(%L, ''RT-7'', ''V'', ''占道'', lon => 116.05, lat => 25.05)',
                                                    E'x\n' || repeat('长', 100000)))).result,
          format('intake role wo_rt_intake_hotline may not submit for channel ''x?%s''...', repeat('长', 38)),
          'a connector''s other channel is named by its first 40 characters, without control characters (it was quoted whole)');
SELECT is((rt.run_as('wo_rt_intake_app', 'SELECT (workorder.submit(''rt_app'', ''RT-2'', ''V'', ''占道经营 乙'', lon => 116.15, lat => 25.05)).id')).result,
          :'vendor_b'::text, 'its own channel''s retry returns the order it made');
-- A retry returns the existing order only to a caller who may read it: a
-- dispatcher of another town used to get any order, with the reporter's data, by
-- its channel and reference.
SELECT is((rt.run_as('wo_rt_dispatcher_a', 'SELECT (workorder.submit(''rt_app'', ''RT-2'', ''V'', ''占道经营 乙'', lon => 116.15, lat => 25.05)).reporter_phone')).state,
          'WO951', 'a dispatcher retrying another area''s report is refused (WO951), not handed the order');
SELECT is((rt.run_as('wo_rt_dispatcher_d', 'SELECT (workorder.submit(''rt_app'', ''RT-2'', ''V'', ''占道经营 乙'', lon => 116.15, lat => 25.05)).id')).result,
          :'vendor_b'::text, 'the district center, whose scope it is in, gets it');
SELECT matches((rt.run_as('wo_rt_intake_hotline', 'SELECT workorder.submit(''rt_app'', ''RT-6'', ''V'', ''x'', lon => 116.05, lat => 25.05)')).result,
          '^intake role wo_rt_intake_hotline may not submit for channel ''rt_app''$', 'the refusal names the role and the channel');
SELECT is((rt.run_as('wo_rt_intake_app', :'mine')).result, format('{%s}', :vendor_b),
          'an intake connector sees only its own channel''s orders');
SELECT is((rt.run_as('wo_rt_intake_app', format('SELECT workorder.accept(%s, ''x'')', :vendor_b))).state,
          '42501', 'and takes no action on them');
SELECT is((rt.run_as('wo_rt_intake_hotline', format('SELECT workorder.callback(%s, ''rt_app'', ''CB-1'', ''satisfied'', NULL, ''x'')', :vendor_b))).state,
          'WO952', 'an intake connector may not record a callback through another channel');
SELECT is((rt.run_as('wo_rt_intake_app', format('SELECT workorder.callback(%s, ''rt_app'', ''CB-1'', ''satisfied'', NULL, ''x'')', :vendor_b))).state,
          'WO401', 'through its own, on its channel''s order, the callback passes the access check (and waits for the order to be resolved)');
SELECT is((rt.run_as('wo_rt_intake_app', format('SELECT workorder.callback(%s, ''agent-7'', ''satisfied'')', :vendor_b))).state,
          'WO951', 'a connector may not use the center''s form without a channel and reference (a retry logged the verdict twice)');
-- An unsatisfied verdict that the policy turns into a redo: the connector records
-- the callback, and the reopen follows from it (the connector may not reopen orders
-- itself; this used to fail with WO951, losing the verdict).
SELECT (workorder.accept(:vendor_b, main_unit)).status AS accepted FROM workorder.orders WHERE id = :vendor_b \gset
SELECT (workorder.resolve(:vendor_b, main_unit, '已处理')).status AS resolved FROM workorder.orders WHERE id = :vendor_b \gset
INSERT INTO workorder.settings VALUES ('callback_redo_on_unsatisfied', 'on', 'roles_test');
SELECT is((rt.run_as('wo_rt_intake_app', format('SELECT (workorder.callback(%s, ''rt_app'', ''CB-R'', ''unsatisfied'', ''没解决'', ''x'')).redo::text', :vendor_b))).result,
          'true', 'a connector''s unsatisfied callback reopens the order when the policy says so');
SELECT is((SELECT status::text FROM workorder.orders WHERE id = :vendor_b), 'dispatched', '... the order is handled again');
SELECT is((rt.run_as('wo_rt_intake_app', format('SELECT workorder.reopen(%s, ''x'', ''again'')', :vendor_b))).state,
          '42501', 'while the connector still may not reopen an order itself');
DELETE FROM workorder.settings WHERE name = 'callback_redo_on_unsatisfied';
SELECT cmp_ok((rt.run_as('wo_rt_intake_app', 'SELECT count(*)::text FROM workorder.claim_outbox(''rt_app'', 100, ''1 minute'', ''app-1'')')).result::integer,
              '>', 0, 'an intake connector claims its own channel''s outbox');
SELECT id AS app_message FROM workorder.outbox WHERE channel_code = 'rt_app' AND state = 'claimed' ORDER BY id LIMIT 1 \gset
SELECT id AS hotline_message FROM workorder.outbox WHERE channel_code = 'hotline' ORDER BY id LIMIT 1 \gset
SELECT is((rt.run_as('wo_rt_intake_hotline', 'SELECT count(*) FROM workorder.claim_outbox(''rt_app'')')).state,
          'WO952', 'an intake connector may not claim another channel''s outbox');
SELECT is((rt.run_as('wo_rt_intake_hotline', format('SELECT workorder.ack_outbox(%s)', :app_message))).state,
          'WO601', 'nor acknowledge another channel''s message: to it, the message does not exist (trying ids told whose they were)');
SELECT is((rt.run_as('wo_rt_intake_hotline', format('SELECT workorder.fail_outbox(%s, ''HTTP 500'')', :app_message))).state,
          'WO601', 'nor fail one');
SELECT is((SELECT array_agg(ROW(x.state, x.result ~ '(hotline|rt_app)')::text ORDER BY n)
             FROM unnest(ARRAY[:hotline_message, -1]) WITH ORDINALITY AS m(id, n),
                  rt.run_as('wo_rt_intake_unmapped', format('SELECT workorder.ack_outbox(%s)', m.id)) x),
          ARRAY['(WO952,f)', '(WO952,f)'],
          'a connector login mapped to no channel is refused alike for a message that exists and one that does not (it was told the channel of one that exists)');
DROP ROLE wo_rt_intake_unmapped;
SELECT is((rt.run_as('wo_rt_intake_app', format('SELECT (workorder.ack_outbox(%s, ''app-1'')).state', :app_message))).result,
          'delivered', 'it acknowledges its own message');
SELECT is((rt.run_as('wo_rt_intake_app', 'SELECT string_agg(DISTINCT channel_code, '','') FROM workorder.outbox')).result,
          'rt_app', 'it reads only its own channel''s outbox rows');
SELECT is((rt.run_as('wo_rt_intake_app', 'WITH i AS (INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat) VALUES (''rt_app'', ''RT-I1'', ''V'', ''批量'', ''116.05'', ''25.05'') RETURNING 1) SELECT count(*)::text FROM i')).result,
          '1', 'an intake connector fills the inbox for its own channel');
SELECT is((rt.run_as('wo_rt_intake_app', 'INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat) VALUES (''rt_app'', ''RT-I4'', ''V'', ''批量'', ''116.05'', ''25.05''), (''hotline'', ''RT-I2'', ''0301'', ''批量'', ''116.05'', ''25.05'')')).state,
          'WO952', 'but not for another channel: a batch with one such row is refused (WO952)');
SELECT is((SELECT string_agg(channel_ref, ',' ORDER BY id) FROM workorder.inbox WHERE channel_ref LIKE 'RT-I%'), 'RT-I1',
          'and nothing of that batch was written');
SELECT is((rt.run_as('wo_rt_intake_app', 'SELECT string_agg(DISTINCT channel, '','') FROM workorder.inbox_mine')).result,
          'rt_app', 'it reads back only its own channel''s inbox rows (inbox_mine)');
SELECT is((rt.run_as('wo_rt_intake_app', 'SELECT count(*)::text FROM workorder.inbox')).state,
          '42501', 'and not the inbox table itself');
SELECT is((rt.run_as('wo_rt_intake_app', 'WITH i AS (INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat) VALUES (''rt_app'', ''RT-I5'', ''V'', ''批量'', ''116.05'', ''25.05'') RETURNING id) SELECT count(*)::text FROM i')).state,
          '42501', 'so an INSERT that returns the rows'' columns is refused too (it reads them back by channel_ref)');
SELECT is((rt.run_as('wo_rt_intake_app', 'INSERT INTO workorder.inbox (channel, channel_ref, description, state, order_id) VALUES (''rt_app'', ''RT-I3'', ''x'', ''accepted'', 1)')).state,
          '42501', 'and it cannot write an outcome into the inbox');
SELECT is((rt.run_as('wo_rt_intake_app', 'SELECT workorder.drain_inbox()')).state,
          '42501', 'draining the inbox is the worker''s (and admins'') business');

-- The detection inbox is the camera connector's: detections make video-AI orders.
SELECT is((rt.run_as('wo_rt_intake_camera', 'WITH d AS (INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence) VALUES (''cam-1'', ''stall'', ''2026-10-16 08:00:00'', ''116.05'', ''25.05'', ''0.9'') RETURNING 1) SELECT count(*)::text FROM d')).result,
          '1', 'the detection channel''s connector fills the detection inbox');
SELECT is((rt.run_as('wo_rt_intake_hotline', 'WITH d AS (INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence) VALUES (''cam-2'', ''stall'', ''2026-10-16 08:00:00'', ''116.05'', ''25.05'', ''0.9'') RETURNING 1) SELECT count(*)::text FROM d')).state,
          'WO952', 'another channel''s connector may not (WO952): its detections would make video-AI orders');
SELECT is((rt.run_as('wo_rt_intake_hotline', 'WITH d AS (INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence) VALUES (''cam-2'', ''stall'', ''2026-10-16 08:00:00'', ''116.05'', ''25.05'', ''0.9'') RETURNING 1) SELECT count(*)::text FROM d')).result,
          'intake role wo_rt_intake_hotline may not fill the detection inbox for channel ''video_ai''',
          'the refusal names the login, what it tried and the detection channel');
SELECT is((SELECT string_agg(camera_id, ',' ORDER BY id) FROM workorder.detection_inbox), 'cam-1',
          'and nothing of its statement was written');

-- A connector's report that duplicates another channel's order is merged into it:
-- the merge is intake's own doing, not an action of the connector (which may
-- neither merge nor see the master).  A late report under late policy reopen
-- reopens the resolved master, as the system.  (The map's tests run without
-- dedup; these turn it on.)
UPDATE workorder.settings SET value = 'on' WHERE name = 'dedup_enabled';
SELECT (workorder.submit('hotline', 'RT-M1', '0301', '北门菜市场门口流动摊贩占道经营，堵住路口',
                         lon => 116.06, lat => 25.04)).id AS dup_master \gset
SELECT is((rt.run_as('wo_rt_intake_app', 'SELECT (s.status, s.master_id)::text FROM workorder.submit(''rt_app'', ''RT-M2'', ''V'', ''北门菜市场门口流动摊贩占道经营，堵住路口'', lon => 116.06001, lat => 25.04) s')).result,
          format('(merged,%s)', :dup_master), 'an intake connector''s duplicate of another channel''s order is merged into it');
INSERT INTO workorder.settings (name, value, description) VALUES ('dedup_late_policy', 'reopen', 'roles_test');
\o /dev/null
SELECT workorder.accept(:dup_master, 'x');
SELECT workorder.resolve(:dup_master, 'x', '已清理');
\o
SELECT is((rt.run_as('wo_rt_intake_app', 'SELECT (s.status, s.master_id)::text FROM workorder.submit(''rt_app'', ''RT-M3'', ''V'', ''北门菜市场门口流动摊贩占道经营，堵住路口'', lon => 116.06002, lat => 25.04) s')).result,
          format('(merged,%s)', :dup_master), 'a connector''s late duplicate is merged into the resolved master');
SELECT is((SELECT status::text || ' ' || report_count || ' ' ||
                  (SELECT string_agg(e.action || ':' || e.actor, ',' ORDER BY e.seq) FROM workorder.order_events e
                    WHERE e.order_id = o.id AND e.action IN ('reopen', 'merged_in'))
             FROM workorder.orders o WHERE o.id = :dup_master),
          'dispatched 3 merged_in:system,reopen:system,merged_in:system',
          '... which the system reopened (late policy reopen) and which counts three reports');
UPDATE workorder.settings SET value = 'off' WHERE name = 'dedup_enabled';

-- An admin may edit worker_tasks, but a task runs with the owner's rights: one whose
-- function is not the extension's is refused (it made an admin a superuser).
CREATE TABLE rt.escalated (who text);
GRANT INSERT ON rt.escalated TO PUBLIC;
CREATE FUNCTION rt.own_task() RETURNS workorder.task_outcome LANGUAGE plpgsql AS
$$BEGIN INSERT INTO rt.escalated VALUES (current_user); RETURN ROW(1, current_user::text, NULL::timestamptz)::workorder.task_outcome; END$$;
GRANT EXECUTE ON FUNCTION rt.own_task() TO PUBLIC;
SELECT is((rt.run_as('wo_rt_admin', $$INSERT INTO workorder.worker_tasks VALUES ('rt_own', 99999, 'rt.own_task', 'x') RETURNING task$$)).result,
          'rt_own', 'an admin can add a row to worker_tasks');
SELECT matches((rt.run_as('wo_rt_admin', $$SELECT (workorder.run_task('rt_own'))::text$$)).result,
          '^\(f,0,"not run: function rt.own_task is not a member of extension workorder, .*WO902\)",\)$',
          'but a task whose function is not a member of the extension does not run: a failed run naming WO902');
SELECT is((SELECT count(*) FROM rt.escalated), 0::bigint, '... and its function was not called');
SELECT is((SELECT (workorder.run_task('rt_own')).ok), false, 'the owner''s run_task() does not run it either');
DELETE FROM workorder.worker_tasks WHERE task = 'rt_own';

-- An admin renames a channel: its orders and its outbox messages follow.
SELECT cmp_ok((SELECT count(*) FROM workorder.outbox WHERE channel_code = 'rt_app'), '>', 0::bigint,
              'the app channel has outbox messages');
SELECT is((rt.run_as('wo_rt_admin', $$UPDATE workorder.channels SET code = 'rt_app_2' WHERE code = 'rt_app' RETURNING code$$)).result,
          'rt_app_2', 'an admin renames the channel');
SELECT is((SELECT count(*) FROM workorder.outbox WHERE channel_code = 'rt_app'), 0::bigint,
          '... and no message is left under the old code (they follow as the owner: the admin may not write the outbox)');
UPDATE workorder.channels SET code = 'rt_app' WHERE code = 'rt_app_2';
-- An admin deletes a shipped escalation step, which is recorded for restores (the
-- record was the owner's table: the deletion failed with a bare 42501).
SELECT is((rt.run_as('wo_rt_admin', $$WITH d AS (DELETE FROM workorder.sla_escalation_steps
                                               WHERE policy = 'complex' AND step = 4 RETURNING step)
                                      SELECT count(*)::text FROM d$$)).result,
          '1', 'an admin deletes a shipped escalation step');
SELECT is((SELECT count(*) FROM workorder.sla_escalation_steps_removed WHERE policy = 'complex' AND step = 4), 1::bigint,
          '... and it is recorded, so that a restore deletes it again');
-- And a policy: its record is written with the admin's rights too.
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('rt_unused', 'calendar_hours', '1 hour', 'calendar_hours', '8 hours');
SELECT is((rt.run_as('wo_rt_admin', $$WITH d AS (DELETE FROM workorder.sla_policies WHERE name = 'rt_unused' RETURNING name)
                                      SELECT count(*)::text FROM d$$)).result,
          '1', 'an admin deletes an SLA policy');
SELECT is((SELECT count(*) FROM workorder.sla_policies_removed WHERE name = 'rt_unused'), 1::bigint,
          '... and it is recorded, so that a restore deletes it again');
-- And a background task (the district keeps its history): recorded too, and a task
-- an admin moves is no longer as shipped, so pg_dump keeps it.
SELECT is((rt.run_as('wo_rt_admin', $$WITH d AS (DELETE FROM workorder.worker_tasks WHERE task = 'purge_history' RETURNING task),
                                           m AS (UPDATE workorder.worker_tasks SET position = 990 WHERE task = 'detect_hotspots' RETURNING task)
                                      SELECT (SELECT count(*) FROM d) || ' ' || (SELECT count(*) FROM m)$$)).result,
          '1 1', 'an admin deletes a background task and moves another');
SELECT is((SELECT (SELECT count(*) FROM workorder.worker_tasks_removed WHERE task = 'purge_history') || ' '
                  || (SELECT shipped FROM workorder.worker_tasks WHERE task = 'detect_hotspots')),
          '1 false', '... the deletion is recorded and the moved task is dumped, so that a restore keeps both');

-- == Analysts: the masked views only
-- An order's log is read with its order by the order's key: the policy was order_id
-- IN (SELECT id FROM orders), a hashed sub-plan that read every order the role sees
-- for each read of one order's events (250 ms at 200,000 orders).
CREATE FUNCTION rt.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN ' || q LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT rt.plan_of(%L) ~ %L',
                      format('SELECT * FROM workorder.order_events WHERE order_id = %s', :vendor_a), 'hashed SubPlan'))).result,
          'false', 'a handler''s read of one order''s events does not hash every order it may see');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT count(*)::text FROM workorder.order_events WHERE order_id = %s', :vendor_b))).result,
          '0', '... and still sees no event of an order it may not see');
SELECT is((rt.run_as('wo_rt_analyst', 'SELECT count(*)::text FROM workorder.orders')).state,
          '42501', 'an analyst does not read orders');
SELECT is((rt.run_as('wo_rt_analyst', 'SELECT count(*)::text FROM workorder.order_events')).state,
          '42501', 'nor the event log');
SELECT is((rt.run_as('wo_rt_analyst', 'SELECT count(*)::text FROM workorder.inbox')).state,
          '42501', 'nor the inbox');
SELECT is((rt.run_as('wo_rt_analyst', format('SELECT reporter_name || '' '' || reporter_phone FROM workorder.bi_orders WHERE id = %s', :vendor_a))).result,
          '张* 138****1234', 'bi_orders masks the reporter''s name and phone');
SELECT is((rt.run_as('wo_rt_analyst', format('SELECT round(ST_X(location)::numeric, 6) || '' '' || round(ST_Y(location)::numeric, 6) FROM workorder.bi_orders WHERE id = %s', :vendor_a))).result,
          '116.052500 25.052500', 'and moves the location to the centre of its 0.005 degree cell');
SELECT is((SELECT string_agg(v.viewname || ': ' || r.result, '; ' ORDER BY v.viewname)
             FROM pg_views v, LATERAL rt.run_as('wo_rt_analyst', format('SELECT count(x::text)::text FROM workorder.%I x', v.viewname)) r
            WHERE v.schemaname = 'workorder' AND v.viewname LIKE 'bi\_%' AND r.state <> '00000'), NULL,
          'an analyst reads every column of every bi_ view (four of them called score_zone, which analysts could not run)');
SELECT cmp_ok((SELECT count(*)::integer FROM pg_views WHERE schemaname = 'workorder' AND viewname LIKE 'bi\_%'), '>=', 9,
              'there are bi_ views to read');
SELECT is((rt.run_as('wo_rt_analyst', format('SELECT count(*)::text FROM workorder.bi_orders WHERE id IN (%s, %s, %s, %s)', :vendor_a, :vendor_b, :water_a, :helped_a))).result,
          '4', 'an analyst sees every order, masked');
SELECT is((SELECT count(*)::integer FROM information_schema.columns
            WHERE table_schema = 'workorder' AND table_name = 'bi_orders'
              AND column_name IN ('description', 'address', 'channel_ref', 'attributes', 'result', 'status_reason')),
          0, 'bi_orders has no free-text column');
SELECT is((rt.run_as('wo_rt_analyst', 'SELECT workorder.submit(''hotline'', ''RT-7'', ''0301'', ''x'', lon => 116.05, lat => 25.05)')).state,
          '42501', 'an analyst may not submit');
-- The reference cache serves every role of the backend, so it is loaded with the
-- extension owner's rights whoever loads it: loaded by an analyst (who may not read
-- the settings) setting() failed, and loaded before by anyone it answered.
UPDATE workorder.settings SET value = value WHERE false;   -- the cache loads again at its next use
SELECT is((rt.run_as('wo_rt_analyst', 'SELECT workorder.setting(''no_such_setting'', ''its default'')')).result,
          'its default', 'setting() answers an analyst however the backend''s cache was loaded');

-- == Masking functions
SELECT is(workorder.mask_phone('13812341234'), '138****1234', 'mask_phone: a mobile number');
SELECT is(workorder.mask_phone('+86 138-1234-1234'), '138****1234', 'mask_phone: +86 and separators dropped');
SELECT is(workorder.mask_phone('0757-86281234'), '075*****1234', 'mask_phone: a landline with its area code');
SELECT is(workorder.mask_phone('86281234'), '****1234', 'mask_phone: a local landline of 8 digits keeps only its last four');
SELECT is(workorder.mask_phone('862812345'), '*****2345', '... one of 9 too');
SELECT is(workorder.mask_phone('110'), '*10', 'mask_phone: a short number keeps its last two digits');
SELECT is(workorder.mask_name('欧阳娜娜'), '欧***', 'mask_name keeps the family name''s first character');
SELECT is(workorder.mask_name('李'), '*', 'mask_name: a one-character name is a star');

-- == Admins and those with no role
SELECT is((rt.run_as('wo_rt_admin', :'mine')).result, format('{%s,%s,%s,%s}', :vendor_a, :vendor_b, :water_a, :helped_a),
          'an admin sees every order');
SELECT is((rt.run_as('wo_rt_admin', format('SELECT (workorder.supervise(%s, ''管理员'')).supervised::text', :vendor_b))).result,
          'true', 'and acts on any');
SELECT is((rt.run_as('wo_rt_admin', $$SELECT workorder.load_units('[{"code": "B-water-990801001", "name": "甲水务所", "kind": "branch",
              "level": "town", "department_kind": "water", "parent_code": "D-water", "area_code": "990801001"}]')::text$$)).result,
          '1', 'an admin loads reference data (the loaders run with its privileges)');
SELECT is((rt.run_as('wo_rt_admin', 'SELECT (workorder.map_login(''wo_rt_nobody'', ''B-water-990801001'')).unit_code')).result,
          'B-water-990801001', 'an admin maps logins');
SELECT is((rt.run_as('wo_rt_handler_a', $$SELECT workorder.load_units('[]')$$)).state,
          '42501', 'a handler does not load reference data');
DELETE FROM workorder.logins WHERE role_name = 'wo_rt_nobody';
SELECT is((rt.run_as('wo_rt_nobody', :'mine')).state, '42501', 'a login with no workorder role reads no order');
SELECT is((rt.run_as('wo_rt_nobody', format('SELECT workorder.comment(%s, ''x'', ''y'')', :vendor_a))).state,
          '42501', 'and takes no action');
SELECT is((rt.run_as('wo_rt_nobody', 'SELECT workorder.locate(116.05, 25.05)')).state,
          '42501', 'and calls no function but the ticket type''s');
SELECT is((rt.run_as('wo_rt_analyst', 'SELECT (workorder.make_ticket(''2026-11-26'', 1) OPERATOR(workorder.=) workorder.make_ticket(''2026-11-26'', 1))::text')).result,
          'true', 'the ticket type''s operators stay usable by every role (its functions are PUBLIC)');

-- == The login mapping
SELECT throws_ok($$SELECT workorder.map_login('wo_rt_no_such_role', 'C-990801')$$, 'WO954', NULL,
                 'map_login refuses an unknown role (WO954)');
SELECT throws_ok($$SELECT workorder.map_login('wo_rt_nobody', 'NO-SUCH-UNIT')$$, 'WO954', NULL, 'an unknown unit');
SELECT throws_ok($$SELECT workorder.map_login('wo_rt_nobody', 'D-env')$$, 'WO954', NULL, 'an inactive unit');
SELECT throws_ok($$SELECT workorder.map_login('wo_rt_nobody', channel_code => 'no_such_channel')$$, 'WO954', NULL, 'an unknown channel');
SELECT throws_ok($$SELECT workorder.map_login('wo_rt_nobody')$$, 'WO954', NULL, 'a mapping to nothing');
SELECT is((SELECT string_agg(role_name || ': ' || problem, '; ') FROM workorder.check_logins() WHERE role_name::text LIKE 'wo\_rt\_%'),
          'wo_rt_handler_unmapped: member of workorder_handler but mapped to no unit',
          'check_logins lists the handler mapped to no unit');
-- A login that is a handler through a squad's group role has the handlers' rights,
-- as caller() counts them: it is the one without a unit, not the NOLOGIN group in
-- between (which was named instead, and whose mapping does not reach the login).
SAVEPOINT squad;
CREATE ROLE wo_rt_squad NOLOGIN IN ROLE workorder_handler;
CREATE ROLE wo_rt_wang LOGIN IN ROLE wo_rt_squad;
SELECT is((SELECT string_agg(role_name || ': ' || problem, '; ') FROM workorder.check_logins()
            WHERE role_name IN ('wo_rt_squad', 'wo_rt_wang')),
          'wo_rt_wang: member of workorder_handler but mapped to no unit',
          'check_logins names a login that is a handler through another role, not the group in between');
ROLLBACK TO SAVEPOINT squad;
SELECT is((SELECT workorder.map_login('wo_rt_handler_unmapped', 'B-um-990801002')).unit_code, 'B-um-990801002',
          'map_login maps a login');
SELECT is((rt.run_as('wo_rt_handler_unmapped', :'mine')).result, format('{%s}', :vendor_b),
          'and the login sees its unit''s orders from the next statement on');

-- A mapping is the role's it was made for, not its name's: a role dropped and
-- created again under the name (the next person at the desk) does not inherit it.
-- Keyed by name, the new role read the unit's every order, reporters' phones
-- included, and check_logins() said nothing.
CREATE ROLE wo_rt_reborn LOGIN IN ROLE workorder_handler;
CREATE ROLE wo_rt_reborn_intake LOGIN IN ROLE workorder_intake;
SELECT workorder.map_login('wo_rt_reborn', 'B-um-990801001') IS NOT NULL AS mapped \gset
SELECT workorder.map_login('wo_rt_reborn_intake', channel_code => 'hotline') IS NOT NULL AS mapped \gset
SELECT is((rt.run_as('wo_rt_reborn', :'mine')).result, format('{%s,%s}', :vendor_a, :helped_a),
          'the fixture: a mapped handler sees its unit''s orders');
DROP ROLE wo_rt_reborn;
DROP ROLE wo_rt_reborn_intake;
CREATE ROLE wo_rt_reborn LOGIN IN ROLE workorder_handler;
CREATE ROLE wo_rt_reborn_intake LOGIN IN ROLE workorder_intake;
SELECT is((rt.run_as('wo_rt_reborn', :'mine')).result, '{}',
          'a role created again under a mapped login''s name sees none of the old mapping''s orders');
SELECT is((rt.run_as('wo_rt_reborn_intake',
                     $$SELECT id FROM workorder.submit('hotline', 'RT-REBORN', '0301', '重建角色', lon => 116.05, lat => 25.05)$$)).state,
          'WO952', '... nor may one submit for the old mapping''s channel');
SELECT is((SELECT string_agg(problem, '; ' ORDER BY problem) FROM workorder.check_logins() WHERE role_name = 'wo_rt_reborn'),
          'mapped for a role that was dropped; role wo_rt_reborn is another role, and the mapping does not count for it (map it again if it is meant to); '
          'member of workorder_handler but mapped to no unit',
          'check_logins names the mapping that does not count, and the new role as mapped to no unit');
SELECT workorder.map_login('wo_rt_reborn', 'B-um-990801001') IS NOT NULL AS mapped \gset
SELECT is((rt.run_as('wo_rt_reborn', :'mine')).result, format('{%s,%s}', :vendor_a, :helped_a),
          'mapped again, the new role sees the unit''s orders');
ALTER ROLE wo_rt_reborn RENAME TO wo_rt_reborn_renamed;
CREATE ROLE wo_rt_reborn LOGIN IN ROLE workorder_handler;
SELECT is((rt.run_as('wo_rt_reborn', :'mine')).result, '{}',
          'a role created under a renamed login''s old name does not take its mapping either');
SELECT is((SELECT string_agg(problem, '; ' ORDER BY problem) FROM workorder.check_logins() WHERE role_name = 'wo_rt_reborn'),
          'mapped for a role since renamed to wo_rt_reborn_renamed; the mapping does not count (map wo_rt_reborn, or the new name, again); '
          'member of workorder_handler but mapped to no unit',
          'and check_logins names the rename');

-- == Hardening, checked on the catalogue
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                   WHERE p.pronamespace = 'workorder'::regnamespace AND p.prosecdef
                     AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=pg\_catalog,%')$$,
                'every SECURITY DEFINER function pins its search_path, pg_catalog first');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                   WHERE p.pronamespace = 'workorder'::regnamespace
                     AND has_function_privilege('wo_rt_nobody', p.oid, 'EXECUTE')
                     AND p.proname !~ '^ticket_' AND p.proname NOT IN ('make_ticket', 'raise_error', 'unit_depth')$$,
                'no function but the ticket type''s, raise_error and unit_depth is executable by PUBLIC');
SELECT ok(has_function_privilege('wo_rt_nobody', 'workorder.unit_depth(text)', 'EXECUTE'),
          'unit_depth is, which pg_dump calls as whoever dumps (the units'' dump condition): a read-only backup role could not dump');
SELECT is_empty($$SELECT c.oid::regclass::text FROM pg_class c
                   WHERE c.relnamespace = 'workorder'::regnamespace AND c.relkind IN ('r', 'v', 'm')
                     AND (has_table_privilege('wo_rt_nobody', c.oid, 'SELECT')
                          OR has_table_privilege('wo_rt_nobody', c.oid, 'INSERT'))$$,
                'no table or view is readable or writable by PUBLIC');
-- == What a retried callback tells: only to one who may record it on its order.
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.callback(%s, ''rt_app'', ''CB-R'', ''unsatisfied'', NULL, ''x'')', :vendor_b))).state,
          'WO802', 'a retry of another town''s callback by a handler who may not see it is refused, not answered with the callback');
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT workorder.callback(%s, ''rt_app'', ''CB-R'', ''satisfied'', NULL, ''x'')', :vendor_a))).detail,
          'The reference names the callback of an order you may not record callbacks on.',
          '... and the refusal tells neither the order nor the verdict the reference was recorded with');

-- == Dedup across a town border: a report in 甲 30 m from one in 乙.
UPDATE workorder.settings SET value = 'on' WHERE name = 'dedup_enabled';
SELECT (workorder.submit('hotline', 'RT-B1', '0301', '路口有人占道卖水果', lon => 116.1002, lat => 25.15)).id AS border_b \gset
SELECT (workorder.submit('hotline', 'RT-B2', '0301', '路口有人占道卖水果', lon => 116.0999, lat => 25.15)).id AS border_a \gset
UPDATE workorder.settings SET value = 'off' WHERE name = 'dedup_enabled';
\o /dev/null
SELECT workorder.merge(:border_a, :border_b, 'C-990801') FROM workorder.orders WHERE id = :border_a AND status <> 'merged';
\o
SELECT is((SELECT master_id FROM workorder.orders WHERE id = :border_a), :border_b::bigint,
          'the fixture: 甲''s report is merged into 乙''s');
SELECT is((rt.run_as('wo_rt_dispatcher_a', format('SELECT string_agg(concat_ws(''/'', candidate_id, candidate_ticket, candidate_status, candidate_category, score), '','') FROM workorder.explain_dedup(%s)', :border_a))).result,
          (SELECT string_agg(concat_ws('/', score), ',') FROM workorder.explain_dedup(:border_a)),
          '甲''s dispatcher reads the explanation of its report without the id, ticket, status or category of 乙''s candidate, with its score');
SELECT is((rt.run_as('wo_rt_dispatcher_d', format('SELECT string_agg(candidate_id::text, '','') FROM workorder.explain_dedup(%s)', :border_a))).result,
          :border_b::text, 'the district''s dispatcher, who sees both, reads the candidate');
SELECT is((rt.run_as('wo_rt_dispatcher_a', format('SELECT workorder.unmerge(%s, ''C-990801001'', ''不是一件事'')', :border_a))).state,
          'WO951', '甲''s dispatcher may not unmerge its report from 乙''s master: the master changes too, as merge() asks');
SELECT is((SELECT report_count || ' ' || (SELECT master_id FROM workorder.orders WHERE id = :border_a) FROM workorder.orders WHERE id = :border_b),
          '2 ' || :border_b, '... both orders are as they were');
SELECT is((rt.run_as('wo_rt_dispatcher_d', format('SELECT (workorder.unmerge(%s, ''C-990801'', ''不是一件事'')).status::text', :border_a))).result,
          'new', 'the district''s dispatcher may');

-- == What waits for review: a dispatcher's own suspected duplicates, the master shown
-- when it may read it.  A report in 甲 suspected to duplicate one in 乙.
UPDATE workorder.settings SET value = 'on' WHERE name = 'dedup_enabled';
INSERT INTO workorder.settings VALUES ('dedup_merge_threshold', '0.99', 'roles_test'), ('dedup_review_threshold', '0.05', 'roles_test');
SELECT (workorder.submit('hotline', 'RT-S1', '0301', '桥头有人卖菜', lon => 116.1002, lat => 25.12)).id AS suspect_master \gset
SELECT (workorder.submit('hotline', 'RT-S2', '0301', '桥头有人在卖菜', lon => 116.0999, lat => 25.12)).id AS suspect_a \gset
UPDATE workorder.settings SET value = 'off' WHERE name = 'dedup_enabled';
DELETE FROM workorder.settings WHERE name IN ('dedup_merge_threshold', 'dedup_review_threshold');
SELECT is((SELECT string_agg(order_id || '/' || master_id, ',') FROM workorder.suspected_duplicates WHERE order_id = :suspect_a),
          :suspect_a || '/' || :suspect_master, 'the fixture: 甲''s report waits for review as a duplicate of 乙''s');
SELECT is((rt.run_as('wo_rt_dispatcher_a', 'SELECT string_agg(order_id || ''/'' || coalesce(master_ticket::text, ''-''), '','') FROM workorder.suspected_duplicates')).result,
          :suspect_a || '/-', '甲''s dispatcher reads what waits for its review, without 乙''s master');
SELECT is((rt.run_as('wo_rt_dispatcher_d', format('SELECT string_agg(order_id || ''/'' || master_id, '','') FROM workorder.suspected_duplicates WHERE order_id = %s', :suspect_a))).result,
          :suspect_a || '/' || :suspect_master, 'the district''s dispatcher reads it with its master');
SELECT is((rt.run_as('wo_rt_dispatcher_a', format('SELECT (workorder.review_duplicate(%s, ''C-990801001'', ''reject'')).status::text', :suspect_a))).result,
          'new', '... and 甲''s dispatcher answers it');
SELECT is((rt.run_as('wo_rt_handler_a', 'SELECT count(*) FROM workorder.suspected_duplicates')).state, '42501',
          'a handler does not read what waits for a dispatcher''s review');

-- == Open311, hotspots and detections
SELECT ok(has_function_privilege('workorder_intake', 'workorder.open311_post_request(jsonb)', 'EXECUTE')
          AND has_function_privilege('workorder_intake', 'workorder.open311_requests(text, text, text, text, text, integer, text)', 'EXECUTE'),
          'a connector may serve Open311 (a POST is a submit on its own channel)');
SELECT ok(has_function_privilege('workorder_dispatcher', 'workorder.open311_post_request(jsonb)', 'EXECUTE')
          AND NOT has_function_privilege('workorder_handler', 'workorder.open311_post_request(jsonb)', 'EXECUTE')
          AND NOT has_function_privilege('workorder_supervisor', 'workorder.open311_post_request(jsonb)', 'EXECUTE')
          AND has_function_privilege('workorder_handler', 'workorder.open311_requests(text, text, text, text, text, integer, text)', 'EXECUTE'),
          'an Open311 POST makes an order: those who may submit may post (dispatchers, connectors), handlers and supervisors only read');
SELECT is((rt.run_as('wo_rt_handler_a', $$SELECT workorder.open311_post_request('{"service_code": "CITY_VENDOR", "lat": 25.05, "long": 116.05}')$$)).state,
          '42501', 'a handler''s Open311 POST is refused, as its submit() is');
-- A dispatcher's retry of a POST is answered only with an order the dispatcher may
-- read, as its submit() retry is: town 甲's center retrying a request filed in 乙.
SELECT workorder.load_channels('[{"code": "open311", "name": "Open311", "kind": "open311"}]') IS NOT NULL AS open311_loaded \gset
SELECT workorder.open311_post_request('{"service_code": "CITY_VENDOR", "lat": 25.05, "long": 116.15, "idempotency_key": "rt-o311-b"}')
       IS NOT NULL AS posted_b \gset
SELECT is((rt.run_as('wo_rt_dispatcher_a', $$SELECT workorder.open311_post_request('{"service_code": "CITY_VENDOR", "lat": 25.05, "long": 116.15, "idempotency_key": "rt-o311-b"}')$$)).state,
          'WO951', 'a dispatcher''s retry of a POST whose order it may not read is refused (it was answered with that order)');
SELECT ok(has_column_privilege('workorder_intake', 'workorder.detection_inbox', 'kind', 'INSERT')
          AND NOT has_table_privilege('workorder_intake', 'workorder.detections', 'SELECT'),
          'a camera connector may COPY into the detection inbox, and reads no detections');
SELECT ok(has_table_privilege('workorder_handler', 'workorder.hotspots', 'SELECT')
          AND NOT has_table_privilege('workorder_analyst', 'workorder.detections', 'SELECT')
          AND NOT has_function_privilege('workorder_handler', 'workorder.detect_hotspots(timestamptz, boolean)', 'EXECUTE'),
          'staff read hotspots; analysts read no base table; only admins run the hotspot search');
SELECT ok(NOT has_table_privilege('workorder_intake', 'workorder.order_events', 'SELECT')
          AND has_table_privilege('workorder_intake', 'workorder.orders', 'SELECT'),
          'a connector reads its channel''s orders, not their log (comments and supervise notes are internal to the center)');
SELECT is((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
            WHERE c.relnamespace = 'workorder'::regnamespace AND c.relkind = 'r' AND c.relname ~ '_(policies|rules)$'
              AND NOT (has_table_privilege('workorder_admin', c.oid, 'INSERT') AND has_table_privilege('workorder_admin', c.oid, 'UPDATE')
                       AND has_table_privilege('workorder_admin', c.oid, 'DELETE') AND has_table_privilege('workorder_handler', c.oid, 'SELECT'))),
          NULL, 'admins write every policy and rule table, and the staff read them (callback_redo_policies was the superuser''s only)');
SELECT is((SELECT trusted FROM pg_available_extension_versions WHERE name = 'workorder' AND version = '0.2'),
          false, 'the extension is not trusted');

-- A merged report's callback goes to its master, which the town's dispatcher may not
-- read (the master lies in the other town): the call gives back the report it named,
-- not the master's row, which carried another citizen's name and phone.
SELECT (workorder.submit('rt_app', 'RT-CB-M', 'V', '占道经营 乙 回访', lon => 116.15, lat => 25.051,
                         reporter_name => '陈女士', reporter_phone => '13812345678')).id AS cb_master \gset
SELECT (workorder.submit('hotline', 'RT-CB-R', '0301', '占道经营 甲 回访', lon => 116.05, lat => 25.051,
                         reporter_name => '王先生', reporter_phone => '13900001111')).id AS cb_report \gset
\o /dev/null
SELECT workorder.merge(:cb_report, :cb_master, 'C-990801', '同一事件');
SELECT workorder.accept(:cb_master, main_unit) FROM workorder.orders WHERE id = :cb_master;
SELECT workorder.resolve(:cb_master, main_unit, '已处理') FROM workorder.orders WHERE id = :cb_master;
\o
SELECT is((rt.run_as('wo_rt_dispatcher_a', format('SELECT id || '' '' || reporter_name FROM workorder.callback(%s, ''甲街道回访'', ''satisfied'')', :cb_report))).result,
          :cb_report || ' 王先生', 'a callback on a merged report gives back the report to a dispatcher who may not read the master');
SELECT is((SELECT satisfaction FROM workorder.orders WHERE id = :cb_master), 'satisfied', '... and the verdict is the master''s');

-- A merged order leaves its unit: it is the master's to handle, and its former
-- handler kept reading its reporter's name and phone, and commenting on it.
SELECT (workorder.submit('hotline', 'RT-HM-O', '0301', '占道经营 甲 并单', lon => 116.05, lat => 25.053,
                         reporter_phone => '13700000000')).id AS hm_order \gset
SELECT (workorder.submit('rt_app', 'RT-HM-M', 'V', '占道经营 乙 并单', lon => 116.15, lat => 25.053)).id AS hm_master \gset
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT count(*)::text FROM workorder.orders WHERE id = %s', :hm_order))).result,
          '1', 'the fixture: the handler reads the order its squadron was sent');
SELECT workorder.merge(:hm_order, :hm_master, 'C-990801', '同一事件') IS NOT NULL AS hm_merged \gset
SELECT is((rt.run_as('wo_rt_handler_a', format('SELECT count(*)::text FROM workorder.orders WHERE id = %s', :hm_order))).result,
          '0', 'merged, the order leaves its unit: its former handler reads it no more');
SELECT is((SELECT COALESCE(unit_code, '-') || ' ' || old_unit FROM workorder.order_events WHERE order_id = :hm_order AND action = 'merge'),
          '- B-um-990801001', '... and the merge event names the unit it left');


-- == An area given a new code (a GB/T 2260 code re-issued): the chains of its orders
-- follow it, as their area_code does, and its own dispatchers still see them.
CREATE ROLE wo_rt_dispatcher_v LOGIN IN ROLE workorder_dispatcher; -- 甲一村工作站
\o /dev/null
SELECT workorder.map_login('wo_rt_dispatcher_v', 'C-990801001001');
\o
SELECT rt.run_as('wo_rt_dispatcher_v', :'mine') AS village_saw_before \gset
SELECT is(:'village_saw_before', (rt.run_as('wo_rt_dispatcher_a', :'mine'))::text,
          'a village dispatcher sees the orders of its village (here, all of its town''s)');
UPDATE workorder.areas SET code = '990801001009' WHERE code = '990801001001';
SELECT is((SELECT array_agg(DISTINCT area_chain::text) FROM workorder.orders WHERE id IN (:vendor_a, :water_a, :helped_a)),
          ARRAY['{990801,990801001,990801001009}'],
          'a re-coded village''s orders have the new code in their chain, not the old one');
SELECT is((rt.run_as('wo_rt_dispatcher_v', :'mine'))::text, :'village_saw_before',
          '... and its dispatchers see them as before');
SELECT is((SELECT village_name FROM workorder.bi_open_orders WHERE order_id = :vendor_a), '甲一村',
          '... and the BI views still name the village');

SELECT * FROM finish();
ROLLBACK;
