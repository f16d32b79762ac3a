-- Intake and routing: submit() on a small map, each routing case, explain_route(),
-- idempotent retries, and bad input.  Everything runs in one transaction that is
-- rolled back, so no other test sees this map or these rules.
\set ON_ERROR_ROLLBACK on
BEGIN;
SET client_min_messages = warning;
\i test/fixtures/intake_map.sql
\i test/fixtures/error_of.sql

-- submit_case shows what routing decided for one report, without the ticket and id
-- (they depend on the day and on other tests).
CREATE FUNCTION pg_temp.submit_case(channel text, ref text, category text, description text,
                                    lon float8, lat float8, priority workorder.order_priority DEFAULT 'normal')
RETURNS TABLE (ref text, status workorder.order_status, category_code text, area_code text, match text,
               handling_level workorder.area_level, main_unit text, assisting_units text[], sla_policy text,
               status_reason text, events integer)
LANGUAGE sql AS $$
    SELECT o.channel_ref, o.status, o.category_code, o.area_code, o.location_match, o.handling_level,
           o.main_unit, o.assisting_units, o.sla_policy, o.status_reason, o.event_count
      FROM workorder.submit(channel, ref, category, description, lon => lon, lat => lat, priority => priority) o
$$;

-- The category default: a vendor is a village matter, for the village center.
SELECT * FROM pg_temp.submit_case('hotline', 'H-01', '0301', '西南村路口有流动摊贩占道', 121.02, 31.05);
-- A building is a district matter: the department of the category's kind.
SELECT * FROM pg_temp.submit_case('hotline', 'H-02', '0302', '西街道有人加建铁皮房', 121.02, 31.15);
-- ... unless it is in the east town, where rule 40 gives it to the town center.
SELECT * FROM pg_temp.submit_case('hotline', 'H-03', '0302', '东镇有人加建铁皮房', 121.15, 31.15);
-- A flood is a town matter for water, but no town has a water branch: the town center.
SELECT * FROM pg_temp.submit_case('hotline', 'H-04', '0701', '西街道路面积水', 121.02, 31.05);
-- An urgent flood goes to the district water department (rule 10), with its SLA.
SELECT * FROM pg_temp.submit_case('hotline', 'H-05', '0701', '地下通道积水很深', 121.02, 31.05, 'urgent');
-- Keywords: food poisoning goes to a fixed unit with an assisting unit (rule 20).
SELECT * FROM pg_temp.submit_case('hotline', 'H-06', '0901', '饭店吃完后全家腹泻', 121.15, 31.05);
SELECT * FROM pg_temp.submit_case('hotline', 'H-07', '0901', '过期食品', 121.15, 31.05);
-- A channel: camera vendors go to the town's urban-management branch (rule 30) ...
SELECT * FROM pg_temp.submit_case('camera', 'V-01', 'vendor', '识别到占道经营', 121.02, 31.05);
-- ... but the east town has no branch: rule 30 matches and cannot be resolved, so
-- the category default applies.
SELECT * FROM pg_temp.submit_case('camera', 'V-02', 'vendor', '识别到占道经营', 121.15, 31.05);
-- A catalogue code is accepted as well as the channel's own code.
SELECT * FROM pg_temp.submit_case('hotline', 'H-08', 'CITY_VENDOR', '摊贩', 121.02, 31.05);
-- In the gap between two villages: the nearest village, flagged.
SELECT * FROM pg_temp.submit_case('hotline', 'H-09', '0301', '两村交界处摊贩', 121.0502, 31.05);
-- An unknown category goes to the dispatch center as 'new', with the reason.
SELECT * FROM pg_temp.submit_case('hotline', 'H-10', '9999', '不知道归谁管', 121.02, 31.05);
SELECT dispatching_unit FROM workorder.orders WHERE channel_ref = 'H-10';
-- Out of jurisdiction, with no fallback unit configured: 'new', with the reason.
SELECT * FROM pg_temp.submit_case('hotline', 'H-11', '0301', '邻区的摊贩', 121.3, 31.1);
-- With a fallback unit, out-of-jurisdiction reports are dispatched to it; so are
-- reports from no known area at all.
INSERT INTO workorder.settings VALUES ('fallback_unit', 'C-990401', 'out-of-jurisdiction reports');
SELECT * FROM pg_temp.submit_case('hotline', 'H-12', '0301', '邻区的摊贩', 121.3, 31.1);
SELECT * FROM pg_temp.submit_case('hotline', 'H-13', '0301', '海上', 125.0, 31.1);

-- A retry of the same report (its description, category as the channel gave it,
-- and place) returns the same order and changes nothing.
SELECT o.id = first.id AS same_order, o.description
  FROM workorder.orders first,
       workorder.submit('hotline', 'H-01', '0301', '西南村路口有流动摊贩占道', lon => 121.02, lat => 31.05,
                        reporter_name => '另一位', priority => 'high') o
 WHERE first.channel_ref = 'H-01' AND first.channel_code = 'hotline';
SELECT count(*) AS orders_for_h01 FROM workorder.orders WHERE channel_code = 'hotline' AND channel_ref = 'H-01';

-- Every intake logs 'submit', and 'dispatch' when routed.
SELECT o.channel_ref, e.seq, e.action, e.actor, e.old_status, e.new_status, e.unit_code
  FROM workorder.order_events e JOIN workorder.orders o ON o.id = e.order_id
 WHERE o.channel_ref IN ('H-01', 'H-10', 'H-12')
 ORDER BY o.channel_ref, e.seq;

-- explain_route shows each rule considered and why.
SELECT step, rule_name, matched, chosen, reason, handling_level, unit_code
  FROM workorder.explain_route((SELECT id FROM workorder.orders WHERE channel_ref = 'V-02'));
SELECT step, rule_name, matched, chosen, reason, unit_code
  FROM workorder.explain_route((SELECT id FROM workorder.orders WHERE channel_ref = 'H-03'));
SELECT step, rule_name, matched, chosen, reason, unit_code
  FROM workorder.explain_route((SELECT id FROM workorder.orders WHERE channel_ref = 'H-10'));
SELECT step, rule_name, matched, chosen, reason, unit_code
  FROM workorder.explain_route((SELECT id FROM workorder.orders WHERE channel_ref = 'H-12'));

-- Bad input: a project SQLSTATE, a message naming the object, and nothing written.
\set SHOW_CONTEXT never
\set VERBOSITY default
SELECT workorder.submit('fax', 'F-1', '0301', '传真', lon => 121.02, lat => 31.05);
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.submit('hotline', '  ', '0301', '空引用', lon => 121.02, lat => 31.05);
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.submit('hotline', 'B-1', '0301', '   ', lon => 121.02, lat => 31.05);
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.submit('hotline', 'B-2', '0301', repeat('长', 4001), lon => 121.02, lat => 31.05);
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.submit('hotline', 'B-3', '0301', '没有位置');
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.submit('hotline', 'B-4', '0301', 'NaN', lon => 'NaN', lat => 31.05);
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.submit('hotline', 'B-5', '0301', '只有经度', lon => 121.02);
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.submit('hotline', 'B-6', '0301', '两个位置', ST_SetSRID(ST_MakePoint(121.02, 31.05), 4326), 121.02, 31.05);
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.submit('hotline', 'B-7', '0301', '无坐标系', ST_MakePoint(121.02, 31.05));
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.submit('hotline', 'B-8', '0301', '属性', lon => 121.02, lat => 31.05, attributes => '[1,2]');
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.submit('hotline', 'B-9', '0301', '未来', lon => 121.02, lat => 31.05, occurred_at => '2099-01-01 08:00+08');
\echo :LAST_ERROR_SQLSTATE
-- A control character (here ESC, of a colour code a terminal pasted) in a text.
SELECT workorder.submit('hotline', 'B-10', '0301', E'井盖\u001b[31m缺失', lon => 121.02, lat => 31.05);
\echo :LAST_ERROR_SQLSTATE
SELECT workorder.submit('hotline', 'B-11', '0301', '井盖缺失', address => E'文华路\u00853号', lon => 121.02, lat => 31.05);
\echo :LAST_ERROR_SQLSTATE
-- A reference already used for another report (WO308), whichever of the three
-- differs first: the description, the category, the place.  (The order's ticket,
-- which changes with the day, is shown as <ticket>.)
CREATE FUNCTION pg_temp.masked(t text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(t, '\d{8}-\d{6}-\d', '<ticket>', 'g')
$$;
SELECT * FROM pg_temp.try($$SELECT workorder.submit('hotline', 'H-01', '0302', '重试', lon => 121.15, lat => 31.15)$$);
SELECT * FROM pg_temp.try($$SELECT workorder.submit('hotline', 'H-01', '0302', '西南村路口有流动摊贩占道', lon => 121.02, lat => 31.05)$$);
SELECT * FROM pg_temp.try($$SELECT workorder.submit('hotline', 'H-01', '0301', '西南村路口有流动摊贩占道', lon => 121.021, lat => 31.05)$$);
SELECT count(*) AS bad_reports_written FROM workorder.orders WHERE channel_ref LIKE 'B-%' OR channel_ref = 'F-1';
SELECT count(*) AS orders_for_h01, min(description) AS description FROM workorder.orders
 WHERE channel_code = 'hotline' AND channel_ref = 'H-01';
ROLLBACK;
