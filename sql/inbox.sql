-- Bulk intake: reports COPYed into workorder.inbox become orders through
-- drain_inbox().  A bad row is rejected with its SQLSTATE and the reason, and never
-- stops the batch; a retry is accepted with the order already made; no row is lost
-- or left pending.  Everything runs in one transaction that is rolled back, so no
-- other test sees this map or these orders.
\set ON_ERROR_ROLLBACK on
BEGIN;
SET client_min_messages = warning;
-- Reports here are orders of their own: dedup is sql/dedup.sql's.
INSERT INTO workorder.settings VALUES ('dedup_enabled', 'off', 'reports in these tests are orders of their own');

-- The map, far from the other tests' maps: district 990501 (ours) 122.0..122.2 x
-- 30.0..30.2 with one town and two villages; district 990502 (a neighbour) east of it.
SELECT count(*) AS areas FROM (
    SELECT workorder.load_area('990501', '收件区', 'district', NULL, ST_MakeEnvelope(122.0, 30.0, 122.2, 30.2, 4326))
    UNION ALL SELECT workorder.load_area('990501001', '中街道', 'town', '990501', ST_MakeEnvelope(122.0, 30.0, 122.2, 30.2, 4326))
    UNION ALL SELECT workorder.load_area('990501001001', '南村', 'village', '990501001', ST_MakeEnvelope(122.0, 30.0, 122.2, 30.1, 4326))
    UNION ALL SELECT workorder.load_area('990501001002', '北村', 'village', '990501001', ST_MakeEnvelope(122.0, 30.1, 122.2, 30.2, 4326))
    UNION ALL SELECT workorder.load_area('990502', '邻区', 'district', NULL, ST_MakeEnvelope(122.2, 30.0, 122.4, 30.2, 4326), false)) loaded;
SELECT workorder.load_department_kinds('[{"code": "urban_management", "name": "城市管理"}]');
SELECT workorder.load_units('[
  {"code": "C-990501", "name": "收件区指挥中心", "kind": "center", "level": "district", "area_code": "990501"},
  {"code": "C-990501001", "name": "中街道指挥中心", "kind": "center", "level": "town", "area_code": "990501001", "parent_code": "C-990501"},
  {"code": "C-990501001001", "name": "南村工作站", "kind": "center", "level": "village", "area_code": "990501001001", "parent_code": "C-990501001"},
  {"code": "C-990501001002", "name": "北村工作站", "kind": "center", "level": "village", "area_code": "990501001002", "parent_code": "C-990501001"},
  {"code": "D-um", "name": "城管局", "kind": "department", "level": "district", "department_kind": "urban_management", "area_code": "990501"}]');
SELECT workorder.load_categories('[
  {"code": "CITY", "name": "城市管理", "handling_level": "town", "department_kind": "urban_management"},
  {"code": "CITY_VENDOR", "name": "占道经营", "parent_code": "CITY", "handling_level": "village"},
  {"code": "CITY_BUILDING", "name": "违法建设", "parent_code": "CITY", "handling_level": "district"}]');
SELECT workorder.load_channels('[
  {"code": "hotline", "name": "12345热线", "kind": "hotline", "categories": [
     {"code": "0301", "category": "CITY_VENDOR"}, {"code": "0310", "category": "CITY_BUILDING"}]},
  {"code": "grid", "name": "网格巡查", "kind": "inspection", "categories": [
     {"code": "vendor", "category": "CITY_VENDOR"}]}]');
DELETE FROM workorder.routing_rules;

-- One report submitted directly, before the inbox: its retry through the inbox
-- must come back with this order.
SELECT channel_ref, status FROM workorder.submit('hotline', 'IB-00', '0301', '桥下有摊贩', lon => 122.05, lat => 30.05);

-- A connector's batch, as COPY text.  Every field is text, so every row loads,
-- whatever it holds; an empty field is an empty string and \N is NULL.  IB-01
-- comes three times: the report, its retry (the same description, category and
-- place), and another report under the same reference (rejected, WO308); IB-00 is
-- the retry of the report submitted above.
COPY workorder.inbox (channel, channel_ref, category, description, lon, lat, address,
                      reporter_name, reporter_phone, occurred_at, attributes, priority) FROM STDIN;
hotline	IB-01	0301	南村菜市场门口流动摊贩占道	122.05	30.05	南村菜市场	张先生	13800000001	2024-05-01 08:30	{"photos": 2}	 HIGH 
hotline	IB-02	0999	不知道归谁管的事	122.05	30.15	\N	\N	\N	\N	\N	\N
hotline	IB-03	0301	邻区路口有摊贩	122.30	30.10	\N	\N	\N	\N	\N	
hotline	IB-04	0301	海上	130.0	30.10	\N	\N	\N	\N	\N	\N
hotline	IB-05	0301	经度是NaN	NaN	30.05	\N	\N	\N	\N	\N	\N
hotline	IB-06	0301	经度写错了	abc	30.05	\N	\N	\N	\N	\N	\N
hotline	IB-07	0301		122.05	30.05	\N	\N	\N	\N	\N	\N
hotline	IB-09	0301	属性不是JSON	122.05	30.05	\N	\N	\N	\N	{"plate": 	\N
hotline	IB-10	0301	属性是数组	122.05	30.05	\N	\N	\N	\N	[1, 2]	\N
fax	FX-01	0301	传真来的	122.05	30.05	\N	\N	\N	\N	\N	\N
hotline	IB-11	0301	时间写错了	122.05	30.05	\N	\N	\N	五月一日	\N	\N
hotline	IB-12	0301	优先级写错了	122.05	30.05	\N	\N	\N	\N	\N	top
hotline	IB-13	0301	只有经度	122.05		\N	\N	\N	\N	\N	\N
hotline	\N	0301	没有编号	122.05	30.05	\N	\N	\N	\N	\N	\N
hotline	IB-01	0301	南村菜市场门口流动摊贩占道 	122.05	30.05	\N	\N	\N	\N	\N	\N
hotline	IB-00	0301	桥下有摊贩	122.050	30.05	\N	\N	\N	\N	\N	\N
hotline	IB-01	0301	同一个编号，另一件事	122.06	30.06	\N	\N	\N	\N	\N	\N
hotline	IB-06	0301	经度改好了，重新推送	122.05	30.05	\N	\N	\N	\N	\N	\N
grid	IB-01	vendor	另一个渠道的同一编号	122.05	30.15	\N	\N	\N	\N	\N	low
\.
-- A description too long for a report (at most 4000 characters).
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'IB-08', '0301', repeat('长', 5000), '122.05', '30.05');

SELECT state, count(*) FROM workorder.inbox GROUP BY state ORDER BY state;

SELECT * FROM workorder.drain_inbox();

-- Each row: its outcome and the reason.  A row is named by its place in the
-- inbox, its order by its place among the orders made (ids and tickets depend on
-- other tests and the day).
CREATE TEMP VIEW outcome AS
SELECT row_number() OVER (ORDER BY i.id) AS n, i.channel, i.channel_ref AS ref, i.state,
       CASE WHEN i.order_id IS NOT NULL
            THEN (SELECT count(*) FROM workorder.orders o
                   WHERE o.id <= i.order_id AND o.channel_code IN ('hotline', 'grid')) END AS order_no,
       i.error_code, regexp_replace(i.error_message, '\d{8}-\d{6}-\d', '<ticket>') AS error_message,
       i.error_hint, i.processed_at IS NOT NULL AS processed
  FROM workorder.inbox i;
\x on
SELECT * FROM outcome ORDER BY n;
\x off

-- The orders made: the direct one (order 1) and one per distinct accepted
-- (channel, reference), each with the content of its earliest row.
SELECT row_number() OVER (ORDER BY o.id) AS order_no, o.channel_code, o.channel_ref, o.status,
       o.category_code, o.area_code, o.location_match, o.main_unit, o.priority, o.event_count
  FROM workorder.orders o WHERE o.channel_code IN ('hotline', 'grid') ORDER BY o.id;
SELECT o.channel_ref, o.status_reason
  FROM workorder.orders o WHERE o.channel_code IN ('hotline', 'grid') AND o.status = 'new' ORDER BY o.id;
-- The text columns converted: priority ' HIGH ' is high, the attributes are JSON,
-- and an event time without a UTC offset is Beijing time.
SELECT o.channel_ref, o.description, o.address, o.reporter_name, o.reporter_phone, o.priority,
       o.attributes, o.occurred_at AT TIME ZONE 'Asia/Shanghai' AS occurred_beijing,
       o.occurred_at AT TIME ZONE 'UTC' AS occurred_utc
  FROM workorder.orders o WHERE o.channel_code = 'hotline' AND o.channel_ref = 'IB-01';
-- Every accepted row's order carries its channel and reference; every order has
-- the events its status implies.
SELECT count(*) AS accepted_rows,
       count(*) FILTER (WHERE o.channel_code = i.channel AND o.channel_ref = i.channel_ref) AS matching_order
  FROM workorder.inbox i LEFT JOIN workorder.orders o ON o.id = i.order_id
 WHERE i.state = 'accepted';
SELECT o.status, o.event_count, count(*) AS orders, sum(e.events) AS events
  FROM workorder.orders o,
       LATERAL (SELECT count(*) AS events FROM workorder.order_events e WHERE e.order_id = o.id) e
 WHERE o.channel_code IN ('hotline', 'grid')
 GROUP BY o.status, o.event_count ORDER BY o.status;

-- A second drain finds nothing to do.
SELECT * FROM workorder.drain_inbox();
SELECT state, count(*) FROM workorder.inbox GROUP BY state ORDER BY state;

-- max_rows limits a batch; the rest stays pending for the next drain, in id order.
COPY workorder.inbox (channel, channel_ref, category, description, lon, lat) FROM STDIN;
hotline	IB-20	0301	第一	122.05	30.05
hotline	IB-21	0301	第二	122.05	30.05
hotline	IB-22	0301	第三	122.05	30.05
\.
SELECT * FROM workorder.drain_inbox(2);
SELECT channel_ref, state FROM workorder.inbox WHERE channel_ref LIKE 'IB-2_' ORDER BY id;
SELECT * FROM workorder.drain_inbox(max_rows => 100000);
SELECT channel_ref, state FROM workorder.inbox WHERE channel_ref LIKE 'IB-2_' ORDER BY id;

-- A batch size out of range is refused, and nothing is drained.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'IB-30', '0301', '等着', '122.05', '30.05');
\set SHOW_CONTEXT never
SELECT * FROM workorder.drain_inbox(0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM workorder.drain_inbox(100001);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM workorder.drain_inbox(NULL);
\echo :LAST_ERROR_SQLSTATE
\set SHOW_CONTEXT errors
SELECT channel_ref, state FROM workorder.inbox WHERE channel_ref = 'IB-30';

-- The inbox is kept by pg_dump, and granted to no one.
SELECT c.relname, c.oid = ANY (e.extconfig) AS dumped
  FROM pg_extension e, pg_class c
 WHERE e.extname = 'workorder' AND c.relname IN ('inbox', 'inbox_id_seq') AND c.relnamespace = 'workorder'::regnamespace
 ORDER BY c.relname;
SELECT has_table_privilege('public', 'workorder.inbox', 'SELECT, INSERT, UPDATE, DELETE') AS public_may_use_inbox,
       has_function_privilege('public', 'workorder.drain_inbox(integer)', 'EXECUTE') AS public_may_drain;
ROLLBACK;
