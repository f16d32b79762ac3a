-- Intake: every bad input refused with its SQLSTATE and nothing written; retries
-- idempotent; routing properties on random reports; the out-of-jurisdiction path.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(67);
\o /dev/null
\i test/fixtures/intake_map.sql
\o

-- nothing_written_after runs a call that must fail with a SQLSTATE, and checks that
-- it wrote no order and no event.
CREATE FUNCTION pg_temp.refused(call text, sqlstate text, description text)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    orders_before bigint := (SELECT count(*) FROM workorder.orders);
    events_before bigint := (SELECT count(*) FROM workorder.order_events);
BEGIN
    RETURN NEXT throws_ok(call, sqlstate, NULL, description);
    RETURN NEXT ok((SELECT count(*) FROM workorder.orders) = orders_before
                   AND (SELECT count(*) FROM workorder.order_events) = events_before,
                   description || ': nothing written');
END
$$;

SELECT * FROM pg_temp.refused($$SELECT workorder.submit('fax', 'F-1', '0301', '传真', lon => 121.02, lat => 31.05)$$,
                              'WO301', 'an unknown channel is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit(NULL, 'F-1', '0301', '无渠道', lon => 121.02, lat => 31.05)$$,
                              'WO301', 'a NULL channel is refused');
SELECT throws_ok($$SELECT workorder.submit(repeat('h', 1048576), 'F-1', '0301', '长渠道', lon => 121.02, lat => 31.05)$$,
                 'WO301', 'unknown channel ''' || repeat('h', 40) || '''...',
                 'an unknown channel of a megabyte is named by its first 40 characters, not echoed whole');
SAVEPOINT inactive;
UPDATE workorder.channels SET active = false WHERE code = 'hotline';
SELECT throws_ok($$SELECT workorder.submit('hotline', 'F-1', '0301', '停用渠道', lon => 121.02, lat => 31.05)$$,
                 'WO305', 'channel ''hotline'' is not active',
                 'a channel that exists but is not active is refused as such, not as unknown');
ROLLBACK TO SAVEPOINT inactive;
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', NULL, '0301', '无引用', lon => 121.02, lat => 31.05)$$,
                              'WO302', 'a NULL channel reference is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', repeat('r', 129), '0301', '长引用', lon => 121.02, lat => 31.05)$$,
                              'WO302', 'an oversized channel reference is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', 'B-1', '0301', NULL, lon => 121.02, lat => 31.05)$$,
                              'WO303', 'a NULL description is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', 'B-2', '0301', repeat('长', 4001), lon => 121.02, lat => 31.05)$$,
                              'WO303', 'an oversized description is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', 'B-3', '0301', '地址', lon => 121.02, lat => 31.05, address => repeat('址', 501))$$,
                              'WO303', 'an oversized address is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', 'B-4', '0301', '电话', lon => 121.02, lat => 31.05, reporter_phone => repeat('1', 41))$$,
                              'WO303', 'an oversized phone number is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', 'B-5', '0301', '无位置')$$,
                              'WO101', 'a report without a location is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', 'B-6', '0301', '空点', 'SRID=4326;POINT EMPTY'::geometry)$$,
                              'WO101', 'an empty point is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', 'B-7', '0301', 'NaN', lon => 121.02, lat => 'NaN')$$,
                              'WO101', 'a NaN latitude is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', 'B-8', '0301', '线', 'SRID=4326;LINESTRING(121 31, 121.1 31.1)'::geometry)$$,
                              'WO101', 'a line is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', 'B-9', '0301', '无SRID', ST_MakePoint(121.02, 31.05))$$,
                              'WO102', 'a point without SRID is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', 'B-10', '0301', '两个位置', ST_SetSRID(ST_MakePoint(121.02, 31.05), 4326), lon => 121.02)$$,
                              'WO304', 'a location given twice is refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', 'B-11', '0301', '数组', lon => 121.02, lat => 31.05, attributes => '"text"')$$,
                              'WO304', 'attributes that are not an object are refused');
SELECT * FROM pg_temp.refused($$SELECT workorder.submit('hotline', 'B-12', '0301', '过去', lon => 121.02, lat => 31.05, occurred_at => '1999-12-31')$$,
                              'WO304', 'an implausible event time is refused');

-- A point in another SRID is transformed and routed like any other.
SELECT is((SELECT ST_SRID(location) || ' ' || area_code
             FROM workorder.submit('hotline', 'S-1', '0301', '投影坐标',
                  ST_Transform(ST_SetSRID(ST_MakePoint(121.02, 31.05), 4326), 3857))),
          '4326 990401001001', 'a point in EPSG:3857 is stored in 4326 and located');
SELECT throws_ok($$SELECT workorder.submit('hotline', 'S-2', '0301', '投影坐标', 'SRID=3857;POINT(1e20 1e20)'::geometry)$$,
                 'WO101', NULL, 'a projected point far off the earth is refused (it was taken as a point on the pole)');
-- A GPS fix may carry a height or a measure: the place is its x and y.
SELECT is((SELECT ST_AsText(location) FROM workorder.submit('hotline', 'S-3', '0301', '带高度', 'SRID=4326;POINT Z (121.02 31.05 12)'::geometry)),
          'POINT(121.02 31.05)', 'a point with a height (POINT Z) is stored as its place');
SELECT is((SELECT ST_AsText(location) FROM workorder.submit('hotline', 'S-4', '0301', '带量度', 'SRID=4326;POINT M (121.02 31.05 7)'::geometry)),
          'POINT(121.02 31.05)', 'so is a point with a measure (POINT M): it was refused as not a point');

-- Idempotency: the same (channel, channel_ref) always returns the same order.
CREATE TEMP TABLE first_try AS
SELECT * FROM workorder.submit('hotline', 'I-1', '0301', '第一次', lon => 121.02, lat => 31.05);
SELECT is((SELECT id FROM workorder.submit('hotline', 'I-1', '0301', '第一次', lon => 121.02, lat => 31.05)),
          (SELECT id FROM first_try), 'a retry returns the same order');
SELECT is((SELECT id FROM workorder.submit('hotline', ' I-1 ', '0301', E'第一次\r\n', location => 'SRID=4326;POINT(121.02 31.05)')),
          (SELECT id FROM first_try), 'so does one trimmed to the same, with the point as a geometry');
-- A reference reused for another report (a connector whose counter started again)
-- is refused: taken for a retry, the new report came back as the old order and was
-- lost.  The message names what differs.
SELECT throws_ok($$SELECT workorder.submit('hotline', 'I-1', '0301', '另一件事', lon => 121.02, lat => 31.05)$$,
                 'WO308', 'reference ''I-1'' of channel hotline was already used for another report',
                 'a reference reused with another description is refused (WO308)');
SELECT throws_like($$SELECT workorder.submit('hotline', 'I-1', '0701', '第一次', lon => 121.02, lat => 31.05)$$,
                   '%already used for another report%', 'so is one with another category');
SELECT throws_like($$SELECT workorder.submit('hotline', 'I-1', '0301', '第一次', lon => 121.15, lat => 31.15)$$,
                   '%already used for another report%', 'and one at another place');
SELECT is((SELECT description FROM workorder.orders WHERE channel_code = 'hotline' AND channel_ref = 'I-1'),
          '第一次', 'the order stays as the first report made it');
-- A true retry is never refused for how the place is written: a point that carries
-- a bounding box (a geography cast), or a first attempt in another SRID retried as
-- lon/lat, is the same place (within 1e-7 degrees).
SELECT is((SELECT id FROM workorder.submit('hotline', 'I-1', '0301', '第一次',
                                            location => 'SRID=4326;POINT(121.02 31.05)'::geography::geometry)),
          (SELECT id FROM first_try), 'a retry whose point carries a bounding box is the same report');
SELECT workorder.submit('hotline', 'I-2', '0301', '墨卡托坐标',
                        location => ST_Transform('SRID=4326;POINT(121.03 31.06)'::geometry, 3857)) IS NOT NULL AS made_3857 \gset
SELECT is((SELECT id FROM workorder.submit('hotline', 'I-2', '0301', '墨卡托坐标', lon => 121.03, lat => 31.06)),
          (SELECT id FROM workorder.orders WHERE channel_code = 'hotline' AND channel_ref = 'I-2'),
          'a first attempt in EPSG:3857 retried as lon/lat is the same report');
-- Nor for rules that came after the order: a retry of an order whose stored text
-- ends in a blank intake now trims, or holds a control character intake now refuses,
-- is the same report.
UPDATE workorder.orders SET description = E'旧规则\u200B\u0007' WHERE channel_code = 'hotline' AND channel_ref = 'I-2';
SELECT is((SELECT id FROM workorder.submit('hotline', 'I-2', '0301', E'旧规则\u200B\u0007', lon => 121.03, lat => 31.06)),
          (SELECT id FROM workorder.orders WHERE channel_code = 'hotline' AND channel_ref = 'I-2'),
          'a retry of an order made under older text rules is the same report');
-- A camera's template text at a fixed place: the time of the event tells a new
-- detection under a restarted counter from a retry.
SELECT workorder.submit('hotline', 'I-3', '0301', '检测到占道经营', lon => 121.02, lat => 31.05,
                        occurred_at => now() - interval '2 hours') IS NOT NULL AS made_camera \gset
SELECT throws_like($$SELECT workorder.submit('hotline', 'I-3', '0301', '检测到占道经营', lon => 121.02, lat => 31.05,
                                              occurred_at => now() - interval '1 hour')$$,
                   '%already used for another report%', 'the same words at the same place at another event time is another report');
SELECT is((SELECT id FROM workorder.submit('hotline', 'I-3', '0301', '检测到占道经营', lon => 121.02, lat => 31.05)),
          (SELECT id FROM workorder.orders WHERE channel_code = 'hotline' AND channel_ref = 'I-3'),
          'a retry without the event time is still the same report');
SELECT is((SELECT count(*) FROM workorder.orders WHERE channel_code = 'hotline' AND channel_ref = 'I-1'), 1::bigint,
          'retries never make a second order');
SELECT is((SELECT count(*) FROM workorder.order_events WHERE order_id = (SELECT id FROM first_try)), 2::bigint,
          'retries log no events');
SELECT isnt((SELECT id FROM workorder.submit('camera', 'I-1', 'vendor', '另一渠道同号', lon => 121.02, lat => 31.05)),
            (SELECT id FROM first_try), 'the same reference from another channel is another report');

-- Properties of routing on 300 random reports over the whole map and beyond.
INSERT INTO workorder.settings VALUES ('fallback_unit', 'C-990401', 'out-of-jurisdiction reports');
SELECT setseed(0.7);
CREATE TEMP TABLE random_facts AS
SELECT i, (ARRAY['0301','0302','0701','0901','9999'])[1 + floor(random() * 5)::int] AS code,
       121.0 + random() * 0.5 AS lon, 31.0 + random() * 0.2 AS lat,
       (ARRAY['normal','urgent'])[1 + floor(random() * 2)::int]::workorder.order_priority AS priority
  FROM generate_series(1, 300) i;
CREATE TEMP TABLE random_reports AS
SELECT o.*
  FROM random_facts r,
       LATERAL workorder.submit('hotline', 'R-' || r.i, r.code, '随机报告 ' || r.i, lon => r.lon, lat => r.lat,
                                priority => r.priority) o;
SELECT ok((SELECT count(DISTINCT code) = 5 AND count(*) FILTER (WHERE lon > 121.2) > 50 FROM random_facts),
          'the random reports cover every category code and both sides of the border');
SELECT is((SELECT count(*) FROM random_reports), 300::bigint, '300 random reports make 300 orders');
SELECT is((SELECT count(*) FROM random_reports WHERE area_code IS DISTINCT FROM (workorder.locate(location)).area_code),
          0::bigint, 'every order is filed under the area locate() gives');
SELECT ok((SELECT bool_and(CASE WHEN status = 'dispatched' THEN main_unit IS NOT NULL AND event_count = 2
                                ELSE main_unit IS NULL AND event_count = 1 AND status_reason IS NOT NULL END)
             FROM random_reports),
          'a dispatched order has a unit and two events; a new one has neither unit nor second event, and says why');
SELECT is((SELECT count(*) FROM random_reports WHERE in_jurisdiction AND category_code IS NOT NULL AND status <> 'dispatched'),
          0::bigint, 'every in-jurisdiction report of a known category is dispatched on this map');
SELECT ok((SELECT bool_and(status = 'dispatched' AND main_unit = 'C-990401')
             FROM random_reports WHERE NOT in_jurisdiction AND category_code IS NOT NULL),
          'every out-of-jurisdiction report goes to the fallback unit once one is set');
SELECT ok((SELECT bool_and(status = 'new' AND status_reason LIKE 'unknown category 9999%')
             FROM random_reports WHERE category_code IS NULL),
          'every unknown category waits for a dispatcher, with the reason');
SELECT is((SELECT count(*) FROM random_reports r
            WHERE r.status = 'dispatched' AND r.in_jurisdiction AND r.main_unit IS DISTINCT FROM
                  (SELECT s.unit_code FROM workorder.explain_route(r.id) s WHERE s.chosen)),
          0::bigint, 'explain_route names the unit routing chose, for every routed order');
SELECT is((SELECT count(DISTINCT ticket) FROM random_reports), 300::bigint, 'every order has its own ticket');

-- A fallback_unit that names no active unit: the order waits for a dispatcher, and its
-- reason says so (it said that no fallback_unit was configured).
UPDATE workorder.units SET active = false WHERE code = 'C-990401';
SELECT is((SELECT ROW(status, main_unit, status_reason)::text
             FROM workorder.submit('hotline', 'FB-1', '0301', '界外', lon => 121.45, lat => 31.15)),
          ROW('new', NULL, 'out of jurisdiction (in no known area), and fallback_unit C-990401 is not an active unit')::text,
          'an out-of-jurisdiction report whose fallback_unit is inactive stays new, and the reason names the unit');
-- explain_route tells what intake did, also after a dispatcher sent the order on by
-- hand (it said "sent to the fallback unit", naming the dispatcher's choice).
SELECT workorder.dispatch((SELECT id FROM workorder.orders WHERE channel_ref = 'FB-1'), 'dispatcher', 'C-990401001')
       IS NOT NULL AS dispatched \gset
SELECT is((SELECT ROW(s.chosen, s.unit_code, s.reason LIKE '%no active fallback_unit, so it stayed new%')::text
             FROM workorder.explain_route((SELECT id FROM workorder.orders WHERE channel_ref = 'FB-1')) s),
          ROW(false, NULL, true)::text,
          'explain_route of an order dispatched by hand after intake left it new says that intake left it new');

-- A category taken out of use (here its parent) is classified again by a dispatcher,
-- as an unknown one is: the report was routed and dispatched as if it were in use.
UPDATE workorder.categories SET active = false WHERE code = 'CITY';
SELECT is((SELECT ROW(status, category_code, main_unit, status_reason)::text
             FROM workorder.submit('hotline', 'CAT-OFF', '0301', '占道', lon => 121.02, lat => 31.05)),
          ROW('new', NULL, NULL, 'category CITY_VENDOR (channel hotline''s 0301) is not in use: a dispatcher must classify it')::text,
          'a report of a category not in use waits for a dispatcher, and its reason says why');
SELECT is((SELECT s.reason FROM workorder.explain_route((SELECT id FROM workorder.orders WHERE channel_ref = 'CAT-OFF')) s),
          'category CITY_VENDOR (channel hotline''s 0301) is not in use: no rule is considered, a dispatcher must classify it',
          '... and explain_route says the same (it said the category was not mapped onto the catalogue)');
UPDATE workorder.categories SET active = true WHERE code = 'CITY';
SELECT is((workorder.submit('hotline', 'CAT-ON', '0301', '占道', lon => 121.02, lat => 31.05)).status::text, 'dispatched',
          '... and once it is in use again, is routed');

-- A rule naming a fixed unit that is out of use says so: it said no active unit
-- served the order's area at the rule's level, of a rule that names no area.
UPDATE workorder.units SET active = false WHERE code = 'D-market';
SELECT is((SELECT reason FROM workorder.route_steps('MARKET_FOOD', 'hotline', '{990401,990401001,990401001001}', 'normal', '腹泻')
            WHERE rule_name LIKE '食物中毒%'),
          'matched, but its unit D-market is not an active unit',
          'a matching rule whose fixed unit is out of use names that unit in its reason');
UPDATE workorder.units SET active = true WHERE code = 'D-market';

SELECT * FROM finish();
ROLLBACK;
