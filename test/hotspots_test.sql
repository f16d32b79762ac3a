-- Hotspots: the policy table refuses bad values (WO861) and inherits down the
-- catalogue; detect_hotspots() refuses a bad as_of (WO862); properties of the rule
-- (a place with no baseline needs min_count; k and min_ratio both hold back a busy
-- place; only enabled groups are looked at; a child with its own row is its own
-- group); the worker task runs once per interval; permissions.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(71);

\o /dev/null
\i test/fixtures/issue6_map.sql
\o

-- Bad policies.
SELECT throws_ok($$INSERT INTO workorder.hotspot_policies (category_code, radius_m) VALUES ('CITY', 1)$$,
                 'WO861', NULL, 'a radius under 5 m is refused with WO861');
SELECT throws_ok($$INSERT INTO workorder.hotspot_policies (category_code, "window") VALUES ('CITY', '1 month')$$,
                 'WO861', NULL, 'a window with months is refused');
SELECT throws_ok($$INSERT INTO workorder.hotspot_policies (category_code, "window") VALUES ('CITY', '10 minutes')$$,
                 'WO861', NULL, 'a window under an hour is refused');
SELECT throws_ok($$INSERT INTO workorder.hotspot_policies (category_code, baseline_windows) VALUES ('CITY', 0)$$,
                 'WO861', NULL, 'no baseline window is refused');
SELECT throws_ok($$INSERT INTO workorder.hotspot_policies (category_code, k) VALUES ('CITY', -1)$$,
                 'WO861', NULL, 'a negative k is refused');
SELECT throws_ok($$INSERT INTO workorder.hotspot_policies (category_code, min_count) VALUES ('CITY', 1)$$,
                 'WO861', NULL, 'a min_count of 1 is refused (one order is no cluster)');
SELECT throws_ok($$INSERT INTO workorder.hotspot_policies (category_code, min_ratio) VALUES ('CITY', 0.5)$$,
                 'WO861', NULL, 'a min_ratio under 1 is refused');
SELECT throws_ok($$INSERT INTO workorder.hotspot_policies (category_code) VALUES ('NO_SUCH')$$,
                 '23503', NULL, 'a policy for an unknown category is refused');

-- Inheritance: CITY sets the window, CITY_NOISE its own k; CITY_VENDOR inherits all
-- of CITY's and belongs to CITY's group; CITY_NOISE is a group of its own.
INSERT INTO workorder.hotspot_policies (category_code, "window", min_count) VALUES ('CITY', '3 days', 3);
INSERT INTO workorder.hotspot_policies (category_code, k) VALUES ('CITY_NOISE', 3);
SELECT results_eq($$SELECT code, group_code, "window", k, min_count FROM workorder.hotspot_settings ORDER BY code$$,
                  $$VALUES ('CITY', 'CITY', interval '3 days', 2::float8, 3), ('CITY_NOISE', 'CITY_NOISE', interval '3 days', 3::float8, 3),
                           ('CITY_VENDOR', 'CITY', interval '3 days', 2::float8, 3)$$,
                  'NULL columns inherit from the nearest ancestor row; a row makes its category a group');
SELECT is_empty($$SELECT 1 FROM workorder.hotspot_settings WHERE code LIKE 'WATER%'$$,
                'categories under no policy row are not looked at');

-- Bad as_of.
SELECT throws_ok($$SELECT * FROM workorder.detect_hotspots(NULL)$$, 'WO862', NULL, 'a NULL as_of is refused with WO862');
SELECT throws_ok($$SELECT * FROM workorder.detect_hotspots('infinity')$$, 'WO862', NULL, 'an infinite as_of is refused');
SELECT throws_ok($$SELECT * FROM workorder.detect_hotspots('4713-01-01 BC')$$, 'WO862', NULL,
                 'an as_of before 2000 is refused (its windows ran out of the range of timestamps, 22008)');
SELECT throws_ok($$SELECT * FROM workorder.detect_hotspots(now() + interval '2 days')$$, 'WO862', NULL,
                 'an as_of in the future is refused');
SELECT throws_ok($$SELECT * FROM workorder.detect_hotspots(now() + interval '30 minutes')$$, 'WO862', NULL,
                 '... also within the hour (it was taken, and put the next run of the task off by that much)');

-- A new place (no baseline): min_count decides.  3 vendor reports in 3 days, 100 m
-- apart, none before: a hotspot at min_count 3; not at min_count 4.
CREATE FUNCTION pg_temp.report(ref text, code text, lon float8, lat float8, at timestamptz)
RETURNS integer LANGUAGE sql AS $$
    SELECT 1 FROM workorder.submit('hotline', ref, code, '测试', lon => lon, lat => lat, occurred_at => at)
$$;
SELECT pg_temp.report('A-' || i, '0301', 115.03 + i * 0.0005, 24.03, '2026-10-15 10:00+08') FROM generate_series(1, 3) i;
SELECT results_eq($$SELECT category_code, order_count, baseline_mean, ratio FROM workorder.detect_hotspots('2026-10-16 12:00+08')$$,
                  $$VALUES ('CITY', 3, 0::float8, NULL::float8)$$, 'a new place with min_count orders is a hotspot; ratio NULL');
UPDATE workorder.hotspot_policies SET min_count = 4 WHERE category_code = 'CITY';
SELECT is_empty($$SELECT * FROM workorder.detect_hotspots('2026-10-16 12:05+08')$$, '... with one order too few it is not');
SELECT is((SELECT status FROM workorder.hotspots), 'ended', '... and the hotspot of the previous run is ended');
-- Too far apart for the radius (100 m): no cluster at all.
UPDATE workorder.hotspot_policies SET min_count = 3, radius_m = 20 WHERE category_code = 'CITY';
SELECT is_empty($$SELECT * FROM workorder.detect_hotspots('2026-10-16 12:10+08')$$,
                'orders farther apart than radius_m do not cluster');
-- A disabled group is not looked at.
UPDATE workorder.hotspot_policies SET radius_m = NULL, enabled = false WHERE category_code = 'CITY';
SELECT is_empty($$SELECT * FROM workorder.detect_hotspots('2026-10-16 12:15+08')$$, 'a disabled group is not looked at');
UPDATE workorder.hotspot_policies SET enabled = NULL WHERE category_code = 'CITY';
-- min_count 2: two reports at one spot, none before, are a hotspot; a lone report
-- is not.  (DBSCAN's minpoints was 3, so a pair was noise and min_count 2 acted as 3.)
UPDATE workorder.hotspot_policies SET min_count = 2 WHERE category_code = 'CITY';
SELECT pg_temp.report('P-' || i, '0301', 115.05 + i * 0.0003, 24.05, '2026-10-15 10:00+08') FROM generate_series(1, 2) i;
SELECT pg_temp.report('L-1', '0301', 115.09, 24.09, '2026-10-15 10:00+08');
SELECT results_eq($$SELECT order_count, ST_DWithin(center, ST_SetSRID(ST_MakePoint(115.05045, 24.05), 4326), 0.001)
                      FROM workorder.detect_hotspots('2026-10-16 12:16+08') h
                     WHERE NOT ST_DWithin(h.center, ST_SetSRID(ST_MakePoint(115.031, 24.03), 4326), 0.002)$$,
                  $$VALUES (2, true)$$,
                  'with min_count 2, two reports at a new place are a hotspot; a lone report is not');
UPDATE workorder.hotspot_policies SET min_count = 3 WHERE category_code = 'CITY';
SELECT is_empty($$SELECT * FROM workorder.detect_hotspots('2026-10-16 12:17+08') h
                   WHERE ST_DWithin(h.center, ST_SetSRID(ST_MakePoint(115.05045, 24.05), 4326), 0.001)$$,
                '... and with min_count 3 the pair is not');

-- A busy place: 6 a window, every window.  k holds it back (6 is not above
-- 6 + 2 * 0); with a surge to 9 (ratio 1.5) min_ratio 2 still does; min_ratio 1.5 lets it through.
SELECT count(pg_temp.report('B-' || w || '-' || i, '0301', 115.07 + i * 0.0001, 24.07,
                            timestamptz '2026-10-16 12:00+08' - w * interval '3 days' - interval '1 day'))
  FROM generate_series(0, 8) w, generate_series(1, 6) i;
SELECT is((SELECT count(*) FROM workorder.detect_hotspots('2026-10-16 12:20+08') h
            WHERE ST_DWithin(h.center, ST_SetSRID(ST_MakePoint(115.0703, 24.07), 4326), 0.001))::integer, 0,
          'a place as busy as always is not a hotspot');
SELECT pg_temp.report('B-0-' || i, '0301', 115.07 + i * 0.0001, 24.07, '2026-10-15 12:00+08') FROM generate_series(7, 9) i;
SELECT is((SELECT count(*) FROM workorder.detect_hotspots('2026-10-16 12:25+08') h
            WHERE ST_DWithin(h.center, ST_SetSRID(ST_MakePoint(115.0703, 24.07), 4326), 0.001))::integer, 0,
          '... nor at 1.5 times its rate, under min_ratio 2');
UPDATE workorder.hotspot_policies SET min_ratio = 1.5 WHERE category_code = 'CITY';
SELECT is((SELECT order_count FROM workorder.detect_hotspots('2026-10-16 12:30+08') h
            WHERE ST_DWithin(h.center, ST_SetSRID(ST_MakePoint(115.0703, 24.07), 4326), 0.001)), 9,
          '... but is with min_ratio 1.5');

-- A look at the past leaves the live hotspot alone: not ended, not rewritten, and
-- the next run finds it again (no second hotspot, so no second order).
SELECT id AS busy_spot, order_count AS busy_count FROM workorder.hotspots WHERE status = 'active'
   AND ST_DWithin(center, ST_SetSRID(ST_MakePoint(115.0703, 24.07), 4326), 0.001) \gset
SELECT is((SELECT count(*)::integer FROM workorder.detect_hotspots('2026-10-01 12:00+08') h WHERE h.id = :busy_spot), 1,
          'a run ten days back still returns the live hotspot as active');
SELECT is((SELECT ROW(status, order_count, window_end)::text FROM workorder.hotspots WHERE id = :busy_spot),
          ROW('active', :busy_count, timestamptz '2026-10-16 12:30+08')::text, '... as the latest run left it');
SELECT is((SELECT string_agg(h.id::text, ',') FROM workorder.detect_hotspots('2026-10-16 12:35+08') h
            WHERE ST_DWithin(h.center, ST_SetSRID(ST_MakePoint(115.0703, 24.07), 4326), 0.001)), :'busy_spot',
          '... and the next run finds the same hotspot, not a new one');

-- The baseline windows are [as_of - (w + 1) window, as_of - w window): reports on
-- the lower edge of one belong to it.  Water, one-day windows, two of them: 5
-- reports in the day before as_of; 4 the day before that, two of them exactly at
-- its start.  The baseline is 4 and 0 (mean 2, sd 2): 5 is not above 2 + 2 * 2.
-- (Counted as 2 and 2, the two on the edge in a third window, sd was 0 and it was.)
INSERT INTO workorder.hotspot_policies (category_code, "window", baseline_windows, k, min_count, min_ratio)
VALUES ('WATER', '1 day', 2, 2, 5, 2);
SELECT count(pg_temp.report('W-' || i, '0701', 115.09 + i * 0.0002, 24.09, t))
  FROM (VALUES (1, timestamptz '2026-10-19 10:00+08'), (2, '2026-10-19 11:00+08'), (3, '2026-10-19 12:00+08'),
               (4, '2026-10-19 13:00+08'), (5, '2026-10-19 14:00+08'),
               (6, '2026-10-18 00:00+08'), (7, '2026-10-18 00:00+08'), (8, '2026-10-18 10:00+08'), (9, '2026-10-18 11:00+08')) r(i, t);
SELECT is((SELECT count(*)::integer FROM workorder.detect_hotspots('2026-10-20 00:00+08') h WHERE h.category_code = 'WATER'), 0,
          'reports on the lower edge of a baseline window count in that window');

-- A look at the past where a hotspot was, and has ended since, finds that hotspot:
-- no second hotspot for the place (and, with raise_order, no second order).
UPDATE workorder.hotspot_policies SET baseline_windows = 1, k = 0, min_count = 3, min_ratio = 1
 WHERE category_code = 'WATER';
SELECT count(pg_temp.report('WP-' || i, '0701', 115.11 + i * 0.0002, 24.11, '2026-10-21 10:00+08')) FROM generate_series(1, 3) i;
SELECT h.id AS first_spot FROM workorder.detect_hotspots('2026-10-21 12:00+08') h
 WHERE ST_DWithin(h.center, ST_SetSRID(ST_MakePoint(115.1104, 24.11), 4326), 0.001) \gset
SELECT is((SELECT status FROM workorder.detect_hotspots('2026-10-23 12:00+08') h WHERE h.id = :first_spot), NULL,
          'a hotspot not found again is not returned ...');
SELECT is((SELECT status FROM workorder.hotspots WHERE id = :first_spot), 'ended', '... and is ended');
SELECT is((SELECT count(*)::integer FROM workorder.detect_hotspots('2026-10-21 13:00+08') h
            WHERE ST_DWithin(h.center, ST_SetSRID(ST_MakePoint(115.1104, 24.11), 4326), 0.001)), 0,
          'a look at the past, while it was active, starts no hotspot there ...');
SELECT is((SELECT array_agg(ROW(id, status)::text) FROM workorder.hotspots
            WHERE ST_DWithin(center, ST_SetSRID(ST_MakePoint(115.1104, 24.11), 4326), 0.001)),
          ARRAY[ROW(:first_spot, 'ended')::text],
          '... the place has its one hotspot, ended as it was');
SELECT is((SELECT count(*)::integer FROM workorder.detect_hotspots('2026-10-21 10:30+08') h
            WHERE ST_DWithin(h.center, ST_SetSRID(ST_MakePoint(115.1104, 24.11), 4326), 0.001)), 0,
          'nor does a look at the past before it was first seen (it made a second hotspot, active)');
SELECT is((SELECT count(*)::integer FROM workorder.hotspots
            WHERE ST_DWithin(center, ST_SetSRID(ST_MakePoint(115.1104, 24.11), 4326), 0.001)), 1,
          '... the place still has its one hotspot');

-- A bigger cluster beside a hotspot's place, whose area reaches the hotspot's, does
-- not take the hotspot over: the place keeps its hotspot and its one proactive order,
-- and the new place gets its own.  (The bigger cluster, looked at first, took the
-- hotspot; the old place got a second hotspot and a second order.)
SAVEPOINT neighbours;
DELETE FROM workorder.hotspot_policies;
INSERT INTO workorder.hotspot_policies (category_code, raise_order, min_count) VALUES ('CITY_NOISE', true, 3);
SELECT count(pg_temp.report('HA-' || i, '0305', 115.15 + i * 0.0001, 24.15, '2026-10-26 09:00+08')) FROM generate_series(0, 2) i;
SELECT h.id AS place_a, h.order_id AS order_a FROM workorder.detect_hotspots('2026-10-26 10:00+08', raise_orders => true) h \gset
SELECT count(pg_temp.report('HB-' || i, '0305', 115.1517 + i * 0.0001, 24.15, '2026-10-26 11:00+08')) FROM generate_series(0, 3) i;
SELECT count(*) AS spots FROM workorder.detect_hotspots('2026-10-26 12:00+08', raise_orders => true) \gset
SELECT is((SELECT ROW(x.order_count, x.order_id)::text FROM workorder.hotspots x WHERE x.id = :place_a),
          ROW(3, :order_a)::text, 'a hotspot stays with its place, and its order, beside a bigger new cluster');
SELECT is((SELECT array_agg(x.order_count ORDER BY x.id) FROM workorder.hotspots x WHERE x.status = 'active'),
          '{3,4}'::integer[], '... which gets a hotspot of its own');
SELECT is((SELECT count(*)::integer FROM workorder.orders WHERE channel_code = 'hotspot'), 2,
          '... one proactive order each');
ROLLBACK TO SAVEPOINT neighbours;

-- Reports a dispatcher merges into a hotspot's own order still count for it: the
-- hotspot stays, with the same orders.  (They counted nowhere, and it ended.)
SAVEPOINT gathered;
DELETE FROM workorder.hotspot_policies;
INSERT INTO workorder.hotspot_policies (category_code, raise_order, min_count) VALUES ('CITY_NOISE', true, 3);
SELECT count(pg_temp.report('HG-' || i, '0305', 115.15 + i * 0.0001, 24.15, '2026-10-26 09:00+08')) FROM generate_series(0, 3) i;
SELECT h.id AS gathered_spot, h.order_id AS gathered_order FROM workorder.detect_hotspots('2026-10-26 10:00+08', raise_orders => true) h \gset
SELECT count(workorder.merge(o.id, :gathered_order, 'C-990801', '并入热点工单'))
  FROM workorder.orders o WHERE o.channel_ref IN ('HG-1', 'HG-2');
SELECT results_eq(format($$SELECT id, status, order_count, order_id FROM workorder.detect_hotspots('2026-10-26 11:00+08')$$),
                  format($$VALUES (%s::bigint, 'active'::text, 4, %s::bigint)$$, :gathered_spot, :gathered_order),
                  'a hotspot whose reports were merged into its own order stays, counting them');
ROLLBACK TO SAVEPOINT gathered;

-- The same with a window no longer than the runs' interval, when the place's new
-- cluster shares no order with its hotspot: the nearer cluster keeps the hotspot.
-- (The bigger neighbour took it, and the place got a second hotspot and order.)
SAVEPOINT near;
DELETE FROM workorder.hotspot_policies;
DELETE FROM workorder.hotspot_runs;
INSERT INTO workorder.hotspot_policies (category_code, "window", raise_order, min_count) VALUES ('CITY_NOISE', '1 hour', true, 3);
SELECT count(pg_temp.report('NA1-' || i, '0305', 115.15 + i * 0.0001, 24.15, '2026-10-26 09:30+08')) FROM generate_series(0, 2) i;
SELECT h.id AS near_a, h.order_id AS near_order FROM workorder.detect_hotspots('2026-10-26 10:00+08', raise_orders => true) h \gset
SELECT count(pg_temp.report('NA2-' || i, '0305', 115.15 + i * 0.0001, 24.15, '2026-10-26 10:30+08')) FROM generate_series(0, 2) i;
SELECT count(pg_temp.report('NB-' || i, '0305', 115.1517 + i * 0.0001, 24.15, '2026-10-26 10:30+08')) FROM generate_series(0, 3) i;
SELECT count(*) AS spots FROM workorder.detect_hotspots('2026-10-26 11:00+08', raise_orders => true) \gset
SELECT is((SELECT ROW(x.order_count, x.order_id, round(ST_X(x.center)::numeric, 4))::text FROM workorder.hotspots x WHERE x.id = :near_a),
          ROW(3, :near_order, 115.1501)::text,
          'with no order shared, a hotspot stays with the nearer cluster, its place, beside a bigger new one');
SELECT is((SELECT count(*)::integer FROM workorder.hotspots WHERE status = 'active'), 2, '... which gets a hotspot of its own');
ROLLBACK TO SAVEPOINT near;

-- A place whose chain of reports breaks in two (a report in the middle leaves the
-- window) keeps its one hotspot, now of both parts, and its one proactive order.
-- (The second part got a hotspot and a proactive order of its own.)
SAVEPOINT split;
DELETE FROM workorder.hotspot_policies;
DELETE FROM workorder.hotspot_runs;
INSERT INTO workorder.hotspot_policies (category_code, "window", raise_order, min_count) VALUES ('WATER', '1 day', true, 3);
SELECT pg_temp.report('F-mid', '0701', 115.15 + 3 * 0.0008, 24.15, '2026-10-25 10:00+08') AS middle \gset
SELECT count(pg_temp.report('F-' || i, '0701', 115.15 + i * 0.0008, 24.15, '2026-10-26 08:00+08'))
  FROM (VALUES (0), (1), (2), (4), (5), (6)) v(i);
SELECT h.id AS road, h.order_id AS road_order, h.order_count AS road_count
  FROM workorder.detect_hotspots('2026-10-26 09:00+08', raise_orders => true) h \gset
SELECT count(*) AS spots FROM workorder.detect_hotspots('2026-10-26 11:00+08', raise_orders => true) \gset
SELECT is((SELECT array_agg(ROW(x.id, x.order_count, x.order_id)::text) FROM workorder.hotspots x WHERE x.status = 'active'),
          ARRAY[ROW(:road, 6, :road_order)::text],
          'a place whose chain of reports broke in two keeps one hotspot, of both parts (7 orders before, 6 now)');
SELECT is((SELECT count(*)::integer FROM workorder.orders WHERE channel_code = 'hotspot'), 1, '... and one proactive order');
ROLLBACK TO SAVEPOINT split;

-- A look back before the latest run changes no hotspot that run judged: one it had
-- ended stays ended.  (It came back active, until the next run ended it again.)
SAVEPOINT look_back;
DELETE FROM workorder.hotspot_policies;
DELETE FROM workorder.hotspot_runs;
INSERT INTO workorder.hotspot_policies (category_code, "window", min_count) VALUES ('CITY_NOISE', '1 hour', 3);
SELECT count(pg_temp.report('LB1-' || i, '0305', 115.16 + i * 0.0001, 24.16, '2026-10-20 00:10+08')) FROM generate_series(0, 2) i;
SELECT count(pg_temp.report('LB2-' || i, '0305', 115.16 + i * 0.0001, 24.16, '2026-10-20 02:30+08')) FROM generate_series(0, 2) i;
SELECT h.id AS looked FROM workorder.detect_hotspots('2026-10-20 01:00+08') h \gset
SELECT count(*) AS spots FROM workorder.detect_hotspots('2026-10-20 02:00+08') \gset
SELECT count(*) AS spots FROM workorder.detect_hotspots('2026-10-20 04:00+08') \gset
SELECT is((SELECT status FROM workorder.hotspots WHERE id = :looked), 'ended', 'the runs ended the hotspot');
SELECT count(*) AS spots FROM workorder.detect_hotspots('2026-10-20 03:00+08') \gset
SELECT is((SELECT hot FROM workorder.hotspot_runs WHERE as_of = '2026-10-20 03:00+08'), 1,
          'a look back between them finds the place hot');
SELECT is((SELECT ROW(status, last_seen_at)::text FROM workorder.hotspots WHERE id = :looked),
          ROW('ended', '2026-10-20 01:00+08'::timestamptz)::text,
          '... and leaves the hotspot as the latest run left it, ended');
-- A place a look back finds hot, which the latest run did not, is recorded as
-- ended by that run, and nobody is sent there (it was made active, and raised its
-- proactive order: a unit sent to a place found not hot since).
SELECT count(pg_temp.report('LB3-' || i, '0305', 115.26 + i * 0.0001, 24.26, '2026-10-20 03:40+08')) FROM generate_series(0, 2) i;
SELECT count(*) AS spots FROM workorder.detect_hotspots('2026-10-20 06:00+08') \gset
SELECT count(*) AS spots FROM workorder.detect_hotspots('2026-10-20 04:00+08') \gset
SELECT is((SELECT hot FROM workorder.hotspot_runs WHERE as_of = '2026-10-20 04:00+08'), 1,
          'a look back before the latest run finds a place hot that the latest run did not');
SELECT is((SELECT string_agg(ROW(status, ended_at, order_id IS NULL)::text, ' ') FROM workorder.hotspots
            WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(115.2601, 24.26), 4326))),
          ROW('ended', timestamptz '2026-10-20 06:00+08', true)::text,
          '... and records it, ended by the latest run, with no proactive order');
-- A backfill that asks for the orders of the past (raise_orders => true) gets them:
-- the place it finds is recorded active, and its order raised.
SAVEPOINT backfill;
UPDATE workorder.hotspot_policies SET raise_order = true WHERE category_code = 'CITY_NOISE';
DELETE FROM workorder.hotspots WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(115.2601, 24.26), 4326));
DELETE FROM workorder.hotspot_runs WHERE as_of = '2026-10-20 04:00+08';
SELECT count(*) AS spots FROM workorder.detect_hotspots('2026-10-20 04:00+08', raise_orders => true) \gset
SELECT is((SELECT string_agg(ROW(status, order_id IS NOT NULL OR order_error IS NOT NULL)::text, ' ') FROM workorder.hotspots
            WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(115.2601, 24.26), 4326))),
          ROW('active', true)::text,
          '... unless the look asks for the orders of the past: then it is active, and its order is raised');
ROLLBACK TO SAVEPOINT backfill;
ROLLBACK TO SAVEPOINT look_back;

-- With dedup on (the default; this file's map turns it off), a hotspot's own order is
-- not merged into one of the reports it sums up (their place, their time): dedup does
-- not look at orders of the hotspot channel.  (It was merged, and nobody dispatched
-- the alert.)
SAVEPOINT dedup_on;
DELETE FROM workorder.hotspot_policies;
DELETE FROM workorder.settings WHERE name = 'dedup_enabled';
INSERT INTO workorder.hotspot_policies (category_code, raise_order, min_count) VALUES ('CITY_NOISE', true, 3);
-- (90 m apart: three different noises, which dedup does not take for one.)
SELECT count(workorder.submit('hotline', 'HD-' || i, '0305', d, lon => 115.17 + i * 0.0009, lat => 24.17,
                              occurred_at => '2026-10-27 09:00+08'))
  FROM (VALUES (1, '噪音扰民'), (2, '凌晨装卸货物吵闹'), (3, '商户大声播放音乐')) r(i, d);
SELECT h.order_id AS alert FROM workorder.detect_hotspots('2026-10-27 12:00+08', raise_orders => true) h \gset
SELECT is((SELECT ROW(status, master_id IS NULL, (SELECT count(*) FROM workorder.dedup_checks c WHERE c.order_id = o.id))::text
             FROM workorder.orders o WHERE o.id = :alert),
          ROW('dispatched', true, 0)::text, 'a hotspot''s order is dispatched, never merged into a report it sums up');
ROLLBACK TO SAVEPOINT dedup_on;

-- A count that hovers around min_count: 5 reports make the place hot, one leaves the
-- window (4: it ends), the next comes (5 again).  The place goes on with its one
-- hotspot and its one proactive order.  (An ended hotspot was never matched again:
-- each rise made a second hotspot and a second dispatched order.)
SAVEPOINT hovering;
DELETE FROM workorder.hotspot_policies;
INSERT INTO workorder.hotspot_policies (category_code, "window", baseline_windows, min_count, radius_m, raise_order)
VALUES ('CITY_NOISE', '1 hour', 2, 5, 100, true);
SELECT count(pg_temp.report('HF-' || m, '0305', 115.19 + m * 0.00001, 24.19, timestamptz '2026-10-28 12:00+08' - make_interval(mins => m)))
  FROM unnest(ARRAY[180, 170, 160, 150, 140, 115, 100]) m;
SELECT h.id AS hovering_spot, h.order_id AS hovering_order FROM workorder.detect_hotspots('2026-10-28 09:50+08', raise_orders => true) h \gset
SELECT is((SELECT count(*)::integer FROM workorder.detect_hotspots('2026-10-28 10:02+08', raise_orders => true)), 0,
          'a place whose count dips under min_count is no longer hot ...');
SELECT is((SELECT status FROM workorder.hotspots WHERE id = :hovering_spot), 'ended', '... and its hotspot ends');
SELECT results_eq($$SELECT id, status, order_id, ended_at IS NULL FROM workorder.detect_hotspots('2026-10-28 10:08+08', raise_orders => true)$$,
                  format($$VALUES (%s::bigint, 'active', %s::bigint, true)$$, :hovering_spot, :hovering_order),
                  'when it rises again within a window, the same hotspot goes on, active, with its proactive order');
SELECT is((SELECT ROW(count(*), count(order_id))::text FROM workorder.hotspots WHERE category_code = 'CITY_NOISE'), ROW(1, 1)::text,
          '... one hotspot, one proactive order');
ROLLBACK TO SAVEPOINT hovering;

-- Suspected duplicates waiting for review are not counted: seven reports of one
-- noise at one door, six flagged for review, are one order until a dispatcher
-- decides.  (They were seven orders, and made a hotspot and an alert about one event.)
SAVEPOINT suspects;
DELETE FROM workorder.hotspot_policies;
DELETE FROM workorder.settings WHERE name = 'dedup_enabled';
INSERT INTO workorder.settings VALUES ('dedup_merge_threshold', '0.99', 'hotspots_test'),
                                      ('dedup_review_threshold', '0.05', 'hotspots_test');
INSERT INTO workorder.hotspot_policies (category_code, min_count, raise_order) VALUES ('CITY_NOISE', 5, true);
SELECT count(workorder.submit('hotline', 'HS-' || i, '0305', '幸福路12号楼下KTV噪音很大', lon => 115.21 + i * 0.00005, lat => 24.21,
                              occurred_at => '2026-10-29 22:00+08'))
  FROM generate_series(1, 7) i;
SELECT is((SELECT count(*)::integer FROM workorder.orders o WHERE o.channel_ref LIKE 'HS-%' AND workorder.awaits_review(o)), 6,
          'six of the seven reports wait for review as suspected duplicates');
SELECT is_empty($$SELECT 1 FROM workorder.detect_hotspots('2026-10-30 09:00+08', raise_orders => true)$$,
                '... and count as none: the one event is not a hotspot, and raises no alert');
SELECT is((SELECT count(*)::integer FROM workorder.orders WHERE channel_code = 'hotspot'), 0, '... no proactive order');
ROLLBACK TO SAVEPOINT suspects;

-- A look at the past records what was hot then and raises no proactive order: it
-- would send a unit out to a place that was hot a month ago.  The look at now raises
-- the order of a place hot now; raise_orders => true raises one for the past too.
-- (Every look raised its hotspots' orders, however old the window.)
SAVEPOINT past_look;
DELETE FROM workorder.hotspot_policies;
INSERT INTO workorder.hotspot_policies (category_code, raise_order, min_count) VALUES ('CITY_NOISE', true, 3);
SELECT count(pg_temp.report('HP-' || i, '0305', 115.245 + i * 0.0001, 24.245, '2026-10-31 09:00+08')) FROM generate_series(0, 2) i;
SELECT is((SELECT ROW(count(*), count(h.order_id))::text FROM workorder.detect_hotspots('2026-10-31 12:00+08') h), ROW(1, 0)::text,
          'a look at a window a month back finds its hotspot and raises no order for it');
SELECT is((SELECT count(*)::integer FROM workorder.orders WHERE channel_code = 'hotspot'), 0, '... none is made');
SELECT is((SELECT count(h.order_id)::integer FROM workorder.detect_hotspots('2026-10-31 12:00+08', raise_orders => true) h), 1,
          'raise_orders => true raises the order of a past window''s hotspot');
SELECT count(pg_temp.report('HN-' || i, '0305', 115.26 + i * 0.0001, 24.26, now() - interval '2 hours')) FROM generate_series(0, 2) i;
SELECT is((SELECT ROW(count(*), count(h.order_id))::text FROM workorder.detect_hotspots(raise_orders => false) h), ROW(1, 0)::text,
          'the look at now with raise_orders => false finds the place hot now and raises no order');
SELECT is((SELECT ROW(count(*), count(h.order_id))::text FROM workorder.detect_hotspots() h), ROW(1, 1)::text,
          'the look at now raises it by default');
SELECT is((SELECT count(*)::integer FROM workorder.orders WHERE channel_code = 'hotspot'), 2, '... two orders in all');
ROLLBACK TO SAVEPOINT past_look;

-- A hotspot whose policy is disabled is ended by the next run of the task, though no
-- policy is left to detect with.  (The task had nothing to do without a policy,
-- and the hotspot stayed active for good.)
SAVEPOINT disabled;
DELETE FROM workorder.hotspot_policies;
DELETE FROM workorder.hotspot_runs;
INSERT INTO workorder.hotspot_policies (category_code, min_count) VALUES ('CITY_NOISE', 3);
SELECT count(pg_temp.report('HX-' || i, '0305', 115.23 + i * 0.0001, 24.23, now() - interval '2 hours')) FROM generate_series(0, 2) i;
SELECT ok((SELECT ok FROM workorder.run_task('detect_hotspots')), 'the task finds the place ...');
SELECT id AS disabled_spot FROM workorder.hotspots WHERE status = 'active' \gset
SELECT is((SELECT category_code FROM workorder.hotspots WHERE id = :disabled_spot), 'CITY_NOISE', '... a hotspot');
UPDATE workorder.hotspot_policies SET enabled = false;
DELETE FROM workorder.hotspot_runs;
SELECT results_eq($$SELECT ok, rows FROM workorder.run_task('detect_hotspots')$$, $$VALUES (true, 1)$$,
                  'with the policy disabled the task still runs, to end it');
SELECT is((SELECT status FROM workorder.hotspots WHERE id = :disabled_spot), 'ended', '... and the hotspot is ended');
ROLLBACK TO SAVEPOINT disabled;

-- The task: runs detect_hotspots once per hotspot_interval (the runs of this
-- database's worker, if it made any, are forgotten first).
DELETE FROM workorder.hotspot_runs;
SELECT ok((SELECT ok FROM workorder.run_task('detect_hotspots')), 'the task detect_hotspots runs');
SELECT ok((SELECT next_due = now() + interval '1 hour' AND rows = 0 FROM workorder.run_task('detect_hotspots')),
          '... and a second run within the hour does nothing and says when it is next due');
-- A run ahead of now is a clock that was set back since: the task does not wait for
-- it (it waited for as long as the clock went back).
DELETE FROM workorder.hotspot_runs;
INSERT INTO workorder.hotspot_runs (as_of, hot, started, ended, orders) VALUES (now() + interval '1 hour', 0, 0, 0, 0);
SELECT is((SELECT next_due FROM workorder.run_task('detect_hotspots')), now() + interval '1 hour',
          'a run recorded an hour ahead of the clock does not hold detection back: the task runs now, due again in an hour');

-- Only the owner runs detection or reads hotspots.
CREATE ROLE hotspots_test_nobody;
SET LOCAL ROLE hotspots_test_nobody;
SELECT throws_ok($$SELECT * FROM workorder.detect_hotspots()$$, '42501', NULL, 'a role without a grant may not run detection');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
