-- Reference data: department kinds, units, the catalogue and channels, each
-- loaded from a JSON batch that loads whole or not at all.
SET client_min_messages = warning;
SELECT code FROM workorder.load_area('990201', '参考区', 'district', NULL, ST_MakeEnvelope(113, 23, 113.2, 23.2, 4326));
SELECT code FROM workorder.load_area('990201001', '甲镇', 'town', '990201', ST_MakeEnvelope(113, 23, 113.1, 23.2, 4326));
SELECT code FROM workorder.load_area('990201001001', '子村', 'village', '990201001', ST_MakeEnvelope(113, 23, 113.1, 23.1, 4326));

SELECT workorder.load_department_kinds('[
  {"code": "urban_management", "name": "城市管理"},
  {"code": "water", "name": "水务"}]');

-- Parents may come after their children in a batch.
SELECT workorder.load_units('[
  {"code": "B-um-990201001", "name": "甲镇城管中队", "kind": "branch", "level": "town",
   "department_kind": "urban_management", "parent_code": "D-um", "area_code": "990201001"},
  {"code": "D-um", "name": "参考区城管局", "kind": "department", "level": "district",
   "department_kind": "urban_management", "area_code": "990201"},
  {"code": "C-990201", "name": "参考区指挥中心", "kind": "center", "level": "district", "area_code": "990201"},
  {"code": "C-990201001", "name": "甲镇指挥中心", "kind": "center", "level": "town",
   "parent_code": "C-990201", "area_code": "990201001"},
  {"code": "C-990201001001", "name": "子村工作站", "kind": "center", "level": "village",
   "parent_code": "C-990201001", "area_code": "990201001001", "phone": "0757-00000000"}]');
SELECT code, name, kind, level, department_kind, parent_code, area_code, active
  FROM workorder.units ORDER BY code;

-- Loading again updates in place the keys it gives; the phone it does not give stays.
SELECT workorder.load_units('[{"code": "C-990201001001", "name": "子村党群服务中心", "kind": "center",
   "level": "village", "parent_code": "C-990201001", "area_code": "990201001001"}]');
SELECT code, name, phone FROM workorder.units WHERE code = 'C-990201001001';

-- The catalogue: children inherit what they leave NULL.
SELECT workorder.load_categories('[
  {"code": "CITY", "name": "城市管理", "handling_level": "town", "department_kind": "urban_management",
   "sla_policy": "standard", "dedup_radius_m": 100, "dedup_window": "3 days"},
  {"code": "CITY_VENDOR", "name": "占道经营", "parent_code": "CITY", "handling_level": "village", "dedup_radius_m": 50},
  {"code": "CITY_VENDOR_NIGHT", "name": "夜市占道", "parent_code": "CITY_VENDOR", "dedup_window": "1 day"},
  {"code": "WATER", "name": "水务", "handling_level": "district", "department_kind": "water",
   "sla_policy": "urgent", "dedup_radius_m": 300, "dedup_window": "2 days"}]');
SELECT code, family, path, handling_level, department_kind, sla_policy, dedup_radius_m, dedup_window
  FROM workorder.category_defaults ORDER BY code;

SELECT workorder.load_channels('[
  {"code": "hotline_12345", "name": "12345热线", "kind": "hotline",
   "categories": [{"code": "0301", "name": "市容-占道经营", "category": "CITY_VENDOR"},
                  {"code": "0701", "name": "供排水", "category": "WATER"}]},
  {"code": "video_ai", "name": "视频AI识别", "kind": "video_ai", "replies": false,
   "categories": [{"code": "street_vendor", "category": "CITY_VENDOR"}]}]');
SELECT code, name, kind, replies, active FROM workorder.channels ORDER BY code;
-- A channel's own code maps onto the catalogue; a catalogue code is accepted as is;
-- an unknown code maps to NULL, which intake sends to a dispatcher.
SELECT workorder.map_category('hotline_12345', '0301') AS mapped,
       workorder.map_category('hotline_12345', 'WATER') AS catalogue_code,
       workorder.map_category('hotline_12345', '9999') AS unknown,
       workorder.map_category('video_ai', '0301') AS other_channels_code;

-- Bad batches: the error names the element, and nothing of the batch is loaded.
\set SHOW_CONTEXT never
SELECT workorder.load_units('{"code": "x"}');
SELECT workorder.load_units('[{"code": "C-new", "name": "新中心", "kind": "center", "level": "town", "area_code": "990201001001"}]');
SELECT workorder.load_units('[
  {"code": "C-ok", "name": "好", "kind": "center", "level": "village", "area_code": "990201001001", "active": false},
  {"code": "C-bad", "name": "坏", "kind": "centre", "level": "village", "area_code": "990201001001"}]');
SELECT workorder.load_units('[{"code": "B-water-990201001", "name": "甲镇水务所", "kind": "branch", "level": "town",
   "department_kind": "water", "parent_code": "D-um", "area_code": "990201001"}]');
SELECT workorder.load_units('[{"code": "C-nowhere", "name": "无区", "kind": "center", "level": "village", "area_code": "990299"}]');
SELECT workorder.load_categories('[{"code": "LOOP_A", "name": "甲", "parent_code": "LOOP_B"},
                                   {"code": "LOOP_B", "name": "乙", "parent_code": "LOOP_A"}]');
SELECT workorder.load_categories('[{"code": "CITY", "name": "城市管理", "parent_code": "CITY_VENDOR_NIGHT"}]');
SELECT workorder.load_categories('[{"code": "bad code", "name": "坏"}]');
SELECT workorder.load_categories('[{"code": "WIDE", "name": "太宽", "dedup_radius_m": 99999}]');
SELECT workorder.load_channels('[{"code": "mailbox", "name": "信箱", "kind": "mailbox",
   "categories": [{"code": "01", "category": "NO_SUCH"}]}]');
\set SHOW_CONTEXT errors
SELECT (SELECT count(*) FROM workorder.units) AS units,
       (SELECT count(*) FROM workorder.categories) AS categories,
       (SELECT count(*) FROM workorder.channels) AS channels;
