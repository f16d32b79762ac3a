-- Edge cases found in review: the event log under replica mode, cancelling a master,
-- 3D points, blanks and control characters in references, empty routing keywords,
-- an infinite locate tolerance, and inbox rows that fail for reasons not their own.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(42);
\o /dev/null
\i test/fixtures/intake_map.sql
\o

CREATE TEMP TABLE o AS
SELECT * FROM workorder.submit('hotline', 'E-1', '0301', '摊贩', lon => 121.02, lat => 31.05);

-- The append-only log holds even when a superuser turns triggers off for replication.
SET LOCAL session_replication_role = replica;
SELECT throws_ok($$UPDATE workorder.order_events SET note = 'edited' WHERE order_id = (SELECT id FROM o)$$,
                 'WO405', NULL, 'the event log refuses UPDATE under session_replication_role = replica');
SELECT throws_ok($$DELETE FROM workorder.order_events WHERE order_id = (SELECT id FROM o)$$,
                 'WO405', NULL, 'and DELETE');
SET LOCAL session_replication_role = origin;

-- A master cannot be cancelled while reports are merged into it.
CREATE TEMP TABLE dup AS
SELECT * FROM workorder.submit('hotline', 'E-2', '0301', '同一个摊贩', lon => 121.02, lat => 31.05);
SELECT lives_ok($$SELECT workorder.merge((SELECT id FROM dup), (SELECT id FROM o), 'C-990401', '重复')$$,
                'a duplicate is merged into its master');
SELECT throws_ok($$SELECT workorder.cancel((SELECT id FROM o), 'C-990401', '无效')$$,
                 'WO404', NULL, 'its master cannot then be cancelled');

-- A GPS fix with a height is a place like any other.
SELECT is((SELECT ST_AsText(location) FROM workorder.submit('hotline', 'E-3', '0301', '带高程',
              'SRID=4326;POINT Z(121.02 31.05 12.5)'::geometry)),
          'POINT(121.02 31.05)', 'a POINT Z is accepted, and stored without its height');

-- A retry whose reference carries a trailing CR or an ideographic space is the same report.
SELECT is((SELECT id FROM workorder.submit('hotline', E'E-1\r', '0301', '摊贩', lon => 121.02, lat => 31.05)),
          (SELECT id FROM o), 'a reference with a trailing CR is the same report');
SELECT is((SELECT id FROM workorder.submit('hotline', E'\u3000E-1', '0301', '摊贩', lon => 121.02, lat => 31.05)),
          (SELECT id FROM o), 'a reference with an ideographic space is the same report');
SELECT throws_ok($$SELECT workorder.submit('hotline', E'E-\u0001-4', '0301', '控制符', lon => 121.02, lat => 31.05)$$,
                 'WO302', NULL, 'a reference with a control character is refused');
SELECT throws_ok($$SELECT workorder.submit('hotline', 'E-5', '0301', E'\t\u3000\n', lon => 121.02, lat => 31.05)$$,
                 'WO303', NULL, 'a description of blanks only is refused');
-- Text pasted from a web page or a chat app carries zero-width characters: a
-- description of nothing else is blank too, and they are trimmed from the ends.
SELECT throws_ok($$SELECT workorder.submit('hotline', 'E-ZW-1', '0301', E'\u200B\u200D \u2060\u200C', lon => 121.02, lat => 31.05)$$,
                 'WO303', NULL, 'a description of zero-width characters only is refused');
SELECT is((workorder.submit('hotline', 'E-ZW-2', '0301', E'\u200B井盖缺失\u200B\u200D', lon => 121.02, lat => 31.05)).description,
          '井盖缺失', 'zero-width characters around a description are trimmed');
SELECT is(workorder.trim_blanks(E'\u200B井\u200B盖\u2060'), E'井\u200B盖',
          'trim_blanks trims them from the ends only, as every blank');

-- A control character that is not white space is no text: it would go out again in
-- the outbox to channels that cannot carry it.  Tabs and line breaks are text.
SELECT throws_ok($$SELECT workorder.submit('hotline', 'E-C1', '0301', E'井盖\u0007缺失', lon => 121.02, lat => 31.05)$$,
                 'WO303', 'the report''s description has a control character',
                 'a description with a control character (BEL) is refused, naming the text');
SELECT throws_ok($$SELECT workorder.submit('hotline', 'E-C2', '0301', '井盖缺失', address => E'文华路\u007f3号',
                                           lon => 121.02, lat => 31.05)$$,
                 'WO303', 'the report''s address has a control character', 'an address with DEL is refused');
SELECT throws_ok($$SELECT workorder.submit('hotline', 'E-C3', '0301', '井盖缺失', reporter_name => E'王\u0085先生',
                                           lon => 121.02, lat => 31.05)$$,
                 'WO303', 'the report''s reporter name has a control character',
                 'a reporter name with a C1 control (U+0085) is refused');
SELECT is((SELECT count(*)::int FROM workorder.orders WHERE channel_ref LIKE 'E-C_'), 0,
          '... and none of them left an order behind');
SELECT is((workorder.submit('hotline', 'E-C4', '0301', E'井盖缺失\r\n位置：\t文华路\u000b3号\f', lon => 121.02, lat => 31.05)).description,
          E'井盖缺失\r\n位置：\t文华路\u000b3号', 'tabs and line breaks inside a description are kept (the trailing form feed is trimmed)');
SELECT is(ARRAY[workorder.control_character_at(E'ab\u0001'), workorder.control_character_at(E'中文\u001b[31m'),
                workorder.control_character_at(E'\u0080'), workorder.control_character_at(E'井\u009f'),
                workorder.control_character_at(E'a\tb\nc\rd\u000be\ff\u00a0\u3000g'), workorder.control_character_at('')],
          ARRAY[3, 3, 1, 2, NULL, NULL]::integer[],
          'control_character_at counts characters, finds C0, C1 and DEL, and passes white space and no-break spaces');
SELECT throws_ok($$SELECT workorder.comment((SELECT id FROM o), 'C-990401', E'已处理\u001b')$$,
                 'WO404', NULL, 'an action''s note with a control character is refused');
SELECT is((SELECT count(*)::int FROM workorder.order_events WHERE order_id = (SELECT id FROM o) AND action = 'comment'), 0,
          '... and logged nothing');

-- A rule's assisting units that are unknown or inactive are left out: an order is
-- never given to them to assist (they were copied onto it as the rule had them).
-- An unknown one is refused as a rule is written (below); a rule written before
-- 0.5, or restored by COPY, may still have one, as this one written in replica mode.
SET LOCAL session_replication_role = replica;
INSERT INTO workorder.routing_rules (position, name, category_code, target, unit_code, assisting_units)
VALUES (1, '协办测试', NULL, 'unit', 'C-990401', '{NOPE-UNIT,C-990401001,C-990401002}');
SET LOCAL session_replication_role = origin;
UPDATE workorder.units SET active = false WHERE code = 'C-990401002';
SELECT is((workorder.submit('hotline', 'E-A1', '0301', '协办', lon => 121.02, lat => 31.05)).assisting_units,
          '{C-990401001}'::text[], 'an unknown and an inactive assisting unit of a rule are left out; the active one stays');
UPDATE workorder.units SET active = true WHERE code = 'C-990401002';
-- Nor to its own main unit, nor to one unit twice (dispatch() refuses both).
UPDATE workorder.routing_rules SET assisting_units = '{C-990401002,C-990401,C-990401002,C-990401001}'
 WHERE name = '协办测试';
SELECT is((workorder.submit('hotline', 'E-A2', '0301', '协办', lon => 121.02, lat => 31.05)).assisting_units,
          '{C-990401002,C-990401001}'::text[], 'a rule''s assisting units lose the main unit and a repeated unit');
DELETE FROM workorder.routing_rules WHERE name = '协办测试';

-- Keywords match whatever the width of their letters and digits: a description typed
-- in full width on a Chinese keyboard ('ＡＴＭ', '５ｇ') meets the keywords 'ATM' and
-- '5G' (it missed them), and a keyword typed in full width meets a description in ASCII.
INSERT INTO workorder.routing_rules (position, name, keywords, target, unit_code)
VALUES (1, '宽度测试', '{ATM,5G,ＷＩＦＩ}', 'unit', 'C-990401001');
SELECT is(array_agg((workorder.submit('hotline', 'E-W' || i, '0301', d, lon => 121.02, lat => 31.05)).main_unit ORDER BY i),
          '{C-990401001,C-990401001,C-990401001,C-990401001}'::text[],
          'keywords match in full and half width, either way round, in any case')
  FROM unnest(ARRAY['银行ＡＴＭ机被撬', '５ｇ基站冒烟', '银行atm机', '公园wifi坏了']) WITH ORDINALITY v(d, i);
DELETE FROM workorder.routing_rules WHERE name = '宽度测试';

-- An empty keyword would match everything, and a blank one every description with
-- a space; blanks around a keyword would make it ask for them.
SELECT throws_ok($$INSERT INTO workorder.routing_rules (name, keywords) VALUES ('空', '{""}')$$,
                 'WO231', 'routing rule ''空'' has a blank keyword', 'a routing rule with an empty keyword is refused');
SELECT throws_ok($$INSERT INTO workorder.routing_rules (name, keywords) VALUES ('空白', E'{井盖,"\u3000 "}')$$,
                 'WO231', 'routing rule ''空白'' has a blank keyword', '... and one with a blank keyword');
SELECT throws_ok($$INSERT INTO workorder.routing_rules (name, keywords) VALUES ('空表', '{}')$$,
                 'WO231', 'routing rule ''空表'' has an empty list of keywords', '... and one with an empty list of keywords');
-- A COPY in an ordinary session is checked as an INSERT is: only a restore (a
-- session with check_function_bodies off, as pg_dump's scripts run) loads rules as
-- they were dumped.  A blank keyword COPYed in sent every description with a space
-- to the rule's unit.  (At top level: a COPY run inside a function was checked.)
COPY workorder.routing_rules (name, keywords) FROM PROGRAM 'printf "复制修剪\t{\" 井盖 \"}\n"';
SELECT is((SELECT keywords FROM workorder.routing_rules WHERE name = '复制修剪'), '{井盖}'::text[],
          'a rule COPYed in an ordinary session goes through the rule checks: its keywords are trimmed');
DELETE FROM workorder.routing_rules WHERE name = '复制修剪';
SET LOCAL check_function_bodies = off;
COPY workorder.routing_rules (name, keywords) FROM PROGRAM 'printf "恢复修剪\t{\" 井盖 \"}\n"';
RESET check_function_bodies;
SELECT is((SELECT keywords FROM workorder.routing_rules WHERE name = '恢复修剪'), '{" 井盖 "}'::text[],
          '... while one restored (check_function_bodies off) is loaded as it was dumped');
DELETE FROM workorder.routing_rules WHERE name = '恢复修剪';
SELECT throws_ok($$INSERT INTO workorder.routing_rules (name, assisting_units) VALUES ('无协办', NULL)$$,
                 '23502', NULL, 'NULL assisting units are refused by their NOT NULL, not made an empty list');
INSERT INTO workorder.routing_rules (name, keywords, target, unit_code, assisting_units)
VALUES ('修剪', '{" 井盖 ",ATM}', 'unit', 'C-990401', '{" D-market"}');
SELECT is((SELECT keywords FROM workorder.routing_rules WHERE name = '修剪'), '{井盖,ATM}'::text[],
          'a rule''s keywords are trimmed of blanks as it is written');
SELECT is((SELECT assisting_units FROM workorder.routing_rules WHERE name = '修剪'), '{D-market}'::text[],
          '... and so are its assisting units');
SELECT throws_ok($$UPDATE workorder.routing_rules SET assisting_units = '{D-market,C-NOPE}' WHERE name = '修剪'$$,
                 'WO231', 'routing rule ''修剪'' names an unknown assisting unit ''C-NOPE''',
                 'an assisting unit that is no unit is refused (it was left out of every order the rule routed)');
SELECT throws_ok($$DELETE FROM workorder.units WHERE code = 'D-market'$$,
                 'WO211', 'unit D-market (' || (SELECT name FROM workorder.units WHERE code = 'D-market')
                          || ') is an assisting unit of routing rules and stays',
                 'a unit a rule names among its assisting units is not deleted');
SELECT throws_ok($$UPDATE workorder.units SET code = 'D-market-X' WHERE code = 'D-market'$$,
                 'WO211', 'unit D-market (' || (SELECT name FROM workorder.units WHERE code = 'D-market')
                          || ') is an assisting unit of routing rules and keeps its code', '... nor given a new code, which the rule would not follow');
DELETE FROM workorder.routing_rules WHERE name = '修剪';

SELECT throws_ok($$SELECT workorder.locate(121.02, 31.05, 'Infinity')$$,
                 'WO103', NULL, 'an infinite locate tolerance is refused');

-- A dispatch_unit setting that names no active unit is not used: the district's own
-- center takes what cannot be routed, as without the setting.  (A mistyped code
-- failed every submit() on the dispatching unit's foreign key.)
UPDATE workorder.settings SET value = 'C-NOPE' WHERE name = 'dispatch_unit';
SELECT is((workorder.submit('hotline', 'E-7', '0301', '好报告', lon => 121.02, lat => 31.05)).dispatching_unit,
          workorder.dispatch_center(), 'a dispatch_unit that does not exist is passed over: intake goes on');
SELECT isnt(workorder.dispatch_center(), 'C-NOPE', '... dispatch_center() names the district''s center instead');
UPDATE workorder.settings SET value = (SELECT code FROM workorder.units WHERE kind = 'center' AND code <> workorder.dispatch_center()
                                        ORDER BY code LIMIT 1) WHERE name = 'dispatch_unit';
SELECT value AS other_center FROM workorder.settings WHERE name = 'dispatch_unit' \gset
SELECT is(workorder.dispatch_center(), :'other_center', 'an active unit named by dispatch_unit is the dispatch center');
UPDATE workorder.units SET active = false WHERE code = :'other_center';
SELECT isnt(workorder.dispatch_center(), :'other_center', '... but not once it is inactive');
UPDATE workorder.units SET active = true WHERE code = :'other_center';

-- A row that fails for a reason not its own (here, a trigger of the test's that
-- refuses every order, as maintenance would) is not rejected: it stays pending, with
-- the error, for the next drain.
CREATE FUNCTION pg_temp.closed_for_maintenance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'closed for maintenance' USING ERRCODE = '55000';
END $$;
CREATE TRIGGER closed_for_maintenance BEFORE INSERT ON workorder.orders
    FOR EACH ROW EXECUTE FUNCTION pg_temp.closed_for_maintenance();
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'E-6', '0301', '好报告', '121.02', '31.05');
SELECT workorder.drain_inbox(10);
SELECT ok((SELECT state = 'pending' AND error_code = '55000' FROM workorder.inbox WHERE channel_ref = 'E-6'),
          'a good report that meets a failure not its own stays pending, with the error');
DROP TRIGGER closed_for_maintenance ON workorder.orders;

-- An area that units serve or orders lie in stays, with what to do (a bare
-- foreign-key error, 23503, before).
SELECT throws_ok($$DELETE FROM workorder.areas WHERE code = '990401001'$$, 'WO201',
                 'area 990401001 (西街道) is served by units and stays', 'an area a unit serves is not deleted (WO201)');
SAVEPOINT unserved;
SELECT workorder.load_area('990402', '无人区', 'district', NULL, ST_MakeEnvelope(125.0, 35.0, 125.1, 35.1, 4326)) IS NULL AS loaded \gset
SELECT (workorder.submit('hotline', 'AREA-DEL', '0301', '路口积水', lon => 125.05, lat => 35.05)).area_code AS unserved_area \gset
SELECT throws_like(format($$DELETE FROM workorder.areas WHERE code = %L$$, :'unserved_area'),
                   'area 990402 (无人区) has orders and stays', '... nor one that orders lie in');
RELEASE SAVEPOINT unserved;

SELECT * FROM finish();
ROLLBACK;
