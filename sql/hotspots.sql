-- Hotspots: a market with repeated noise complaints this week against a quiet
-- baseline becomes one hotspot and raises one proactive order; a place that is
-- always busy does not; an ongoing hotspot is updated, not duplicated, and ends
-- when the surge is over; a road section that floods on a rainy day is found along
-- its length; a missing hotspot channel is recorded and retried.  Everything runs in
-- one transaction that is rolled back.  The history is of October 2026: the looks
-- pass raise_orders => true, as a look that far back raises no proactive order by
-- default (test/hotspots_test.sql).
\set ON_ERROR_ROLLBACK on
BEGIN;
SET client_min_messages = warning;
\o /dev/null
\i test/fixtures/issue6_map.sql
\o

-- Policies: the city family is one group (raising orders); water is another, with
-- one-day windows over two weeks; noise, under city, inherits everything.
INSERT INTO workorder.hotspot_policies (category_code, raise_order) VALUES ('CITY', true);
INSERT INTO workorder.hotspot_policies (category_code, "window", baseline_windows, min_count, radius_m)
VALUES ('WATER', '1 day', 14, 4, 150);
SELECT code, group_code, enabled, radius_m, "window", baseline_windows, k, min_count, min_ratio, raise_order
  FROM workorder.hotspot_settings ORDER BY code;

-- report files one hotline report at an event time.
CREATE FUNCTION pg_temp.report(ref text, code text, what text, lon float8, lat float8, at timestamptz)
RETURNS integer LANGUAGE sql AS $$
    SELECT 1 FROM workorder.submit('hotline', ref, code, what, lon => lon, lat => lat, occurred_at => at)
$$;

-- The history, in weeks ending 2026-10-16 12:00+08 (as_of, a Friday):
--   the market (115.15, 24.15): one noise complaint a week for 8 weeks, then 6 this week;
--   a busy street (115.05, 24.05): 10 or 11 vendor reports every week, this week too;
--   a lane (115.08, 24.08): 3 noise complaints this week, nothing before (too few).
SELECT count(pg_temp.report('N-' || w || '-' || i, '0305', '市场夜间噪音', 115.15 + i * 0.0002, 24.15,
                            timestamptz '2026-10-16 12:00+08' - w * interval '7 days' - interval '2 days' + i * interval '1 hour'))
  FROM generate_series(0, 8) w, generate_series(1, CASE WHEN w = 0 THEN 6 ELSE 1 END) i;
SELECT count(pg_temp.report('V-' || w || '-' || i, '0301', '路边摊贩占道', 115.05 + i * 0.0002, 24.05,
                            timestamptz '2026-10-16 12:00+08' - w * interval '7 days' - interval '3 days' + i * interval '1 hour'))
  FROM generate_series(0, 8) w, generate_series(1, 10 + w % 2) i;
SELECT count(pg_temp.report('L-' || i, '0305', '小巷噪音', 115.08 + i * 0.0002, 24.08,
                            timestamptz '2026-10-16 12:00+08' - interval '1 day' + i * interval '1 hour'))
  FROM generate_series(1, 3) i;

-- One hotspot: the market, 6 against a baseline of 1 a week.
SELECT category_code, status, order_count, baseline_mean, baseline_sd, ratio, cardinality(order_ids) AS orders,
       window_start, window_end, ST_Contains(geom, ST_SetSRID(ST_MakePoint(115.1505, 24.15), 4326)) AS covers_market,
       order_id IS NOT NULL AS order_raised, order_error
  FROM workorder.detect_hotspots('2026-10-16 12:00+08', raise_orders => true);
-- The busy street is not a hotspot: its 10 this week are its usual rate.
SELECT count(*) AS hotspots_on_busy_street FROM workorder.hotspots
 WHERE ST_Intersects(geom, ST_Buffer(ST_SetSRID(ST_MakePoint(115.051, 24.05), 4326), 0.002));
-- The proactive order: one, to the city department, on the hotspot channel.
SELECT o.category_code, o.status, o.main_unit, o.description, o.attributes->'order_count' AS order_count,
       o.attributes->'hotspot_id' = to_jsonb(h.id) AS names_its_hotspot, o.channel_ref = 'hotspot-' || h.id AS ref
  FROM workorder.orders o JOIN workorder.hotspots h ON h.order_id = o.id
 WHERE o.channel_code = 'hotspot';

-- An hour later, with a seventh complaint: the same hotspot is updated, and no
-- second order is raised.
SELECT pg_temp.report('N-0-7', '0305', '市场夜间噪音', 115.1514, 24.15, '2026-10-16 12:30+08');
SELECT count(*) AS active, max(order_count) AS order_count, max(last_seen_at) AS last_seen_at, min(first_seen_at) AS first_seen_at
  FROM workorder.detect_hotspots('2026-10-16 13:00+08', raise_orders => true);
SELECT count(*) AS hotspots, count(*) FILTER (WHERE status = 'active') AS active FROM workorder.hotspots;
SELECT count(*) AS proactive_orders FROM workorder.orders WHERE channel_code = 'hotspot';
-- The order's reference names the hotspot: had the link to it been lost, the next
-- run takes that order back, as it is (its count has moved: submitted again, it
-- would be another report under a used reference, WO308).
UPDATE workorder.hotspots SET order_id = NULL;
SELECT count(*) AS active FROM workorder.detect_hotspots('2026-10-16 13:30+08', raise_orders => true);
SELECT count(*) AS proactive_orders, count(*) FILTER (WHERE h.order_id = o.id) AS linked,
       max(h.order_error) AS order_error
  FROM workorder.orders o LEFT JOIN workorder.hotspots h ON h.order_id = o.id
 WHERE o.channel_code = 'hotspot';

-- Two weeks on, the market is quiet again: the hotspot ends.
SELECT count(*) AS active FROM workorder.detect_hotspots('2026-10-30 12:00+08', raise_orders => true);
SELECT status, ended_at FROM workorder.hotspots;

-- Duplicates and cancelled reports do not count: with 4 of this week's 7
-- complaints cancelled, the market is not hot.
SELECT count(workorder.cancel(o.id, 'C-990801', '重复投诉')) AS cancelled
  FROM workorder.orders o WHERE o.channel_ref IN ('N-0-1', 'N-0-2', 'N-0-3', 'N-0-4');
SELECT count(*) AS active FROM workorder.detect_hotspots('2026-10-16 13:00+08', raise_orders => true);

-- The water group, with one-day windows: a road section 300 m long floods on a
-- rainy day (5 reports 60 m apart), where one report came every other day before;
-- the day after the latest run (a look before it records an ended hotspot, and
-- raises no order).
-- Its hotspot covers the whole section.  The hotspot channel is misconfigured:
-- the hotspot is recorded with the error, and the order follows once it is fixed.
INSERT INTO workorder.settings VALUES ('hotspot_channel', 'no_such_channel', 'misconfigured on purpose');
UPDATE workorder.hotspot_policies SET raise_order = true WHERE category_code = 'WATER';
SELECT count(pg_temp.report('F-' || d || '-' || i, '0701', '路面积水', 115.12 + i * 0.0006, 24.12,
                            timestamptz '2026-10-31 12:00+08' - d * interval '1 day' - interval '5 hours'))
  FROM generate_series(0, 14) d, generate_series(1, CASE WHEN d = 0 THEN 5 WHEN d % 2 = 0 THEN 1 ELSE 0 END) i;
SELECT category_code, order_count, round(baseline_mean::numeric, 3) AS baseline_mean, round(ratio::numeric, 2) AS ratio,
       ST_Covers(geom, ST_MakeLine(ST_SetSRID(ST_MakePoint(115.1206, 24.12), 4326), ST_SetSRID(ST_MakePoint(115.123, 24.12), 4326))) AS covers_section,
       order_id IS NOT NULL AS order_raised, order_error
  FROM workorder.detect_hotspots('2026-10-31 12:05+08', raise_orders => true) WHERE category_code = 'WATER';
DELETE FROM workorder.settings WHERE name = 'hotspot_channel';
SELECT category_code, order_id IS NOT NULL AS order_raised, order_error
  FROM workorder.detect_hotspots('2026-10-31 12:10+08', raise_orders => true) WHERE category_code = 'WATER';
SELECT o.category_code, o.main_unit FROM workorder.orders o
  JOIN workorder.hotspots h ON h.order_id = o.id WHERE h.category_code = 'WATER';

-- Every run is recorded.
SELECT as_of, hot, started, ended, orders FROM workorder.hotspot_runs
 WHERE as_of < '2026-11-01' ORDER BY as_of;

ROLLBACK;
