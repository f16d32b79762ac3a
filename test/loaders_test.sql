-- The loaders reload reference data: an update changes the keys an object has and
-- keeps the others (a key given as null clears its column), so that loading the
-- same staged list again does not undo what was changed since: a unit, a category
-- or a channel taken out of use stays out of use, and what the list does not carry
-- (a phone, a handling level, an SLA policy) stays.  A new row takes the defaults.
-- A channel's own category code may be 64 Chinese characters: the reference cache
-- keeps it, and everything else, working.
-- Run from the repository root.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(36);

\o /dev/null
\i test/fixtures/lifecycle_map.sql
\i test/fixtures/error_of.sql
\o

-- Categories: CITY_VENDOR gets an SLA policy and is taken out of use; the catalogue's
-- list, which has neither, is loaded again.
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('loaders_test', 'calendar_hours', '1 hour', 'calendar_hours', '24 hours');
UPDATE workorder.categories SET active = false, sla_policy = 'loaders_test' WHERE code = 'CITY_VENDOR';
SELECT workorder.load_categories('[{"code": "CITY", "name": "城市管理", "handling_level": "town", "department_kind": "urban_management"},
                                   {"code": "CITY_VENDOR", "name": "占道经营（摊贩）", "parent_code": "CITY"}]') AS loaded \gset
SELECT is((SELECT ROW(name, active, sla_policy)::text FROM workorder.categories WHERE code = 'CITY_VENDOR'),
          ROW('占道经营（摊贩）', false, 'loaders_test')::text,
          'a category reloaded without active or sla_policy keeps them, and takes the new name');
SELECT workorder.load_categories('[{"code": "CITY_VENDOR", "sla_policy": null, "active": true}]') AS loaded \gset
SELECT is((SELECT ROW(name, active, sla_policy)::text FROM workorder.categories WHERE code = 'CITY_VENDOR'),
          ROW('占道经营（摊贩）', true, NULL::text)::text,
          'a key given as null clears its column; given, active is set');
SELECT workorder.load_categories('[{"code": "CITY_NEW", "name": "新类", "parent_code": "CITY"}]') AS loaded \gset
SELECT is((SELECT active FROM workorder.categories WHERE code = 'CITY_NEW'), true, 'a new category is active');

-- Units: D-env is out of use (the fixture), and B-um-990801001 gets a phone; the
-- staged list, which has neither active nor the phone, is loaded again.
UPDATE workorder.units SET phone = '0757-86280001' WHERE code = 'B-um-990801001';
SELECT workorder.load_units('[
  {"code": "D-env", "name": "环保局", "kind": "department", "level": "district", "department_kind": "environment", "area_code": "990801"},
  {"code": "B-um-990801001", "name": "甲街道城管中队", "kind": "branch", "level": "town", "department_kind": "urban_management",
   "parent_code": "D-um", "area_code": "990801001"}]') AS loaded \gset
SELECT is((SELECT active FROM workorder.units WHERE code = 'D-env'), false,
          'a unit taken out of use stays out of use when the list is loaded again');
SELECT is((SELECT phone FROM workorder.units WHERE code = 'B-um-990801001'), '0757-86280001',
          'a unit keeps the phone the list does not carry');
SELECT workorder.load_units('[{"code": "D-env", "active": true}]') AS loaded \gset
SELECT is((SELECT ROW(active, name, area_code)::text FROM workorder.units WHERE code = 'D-env'),
          ROW(true, '环保局', '990801')::text, 'an update may give only the keys it changes');

-- Channels: hotline taken out of use and set not to reply; loaded again without them.
UPDATE workorder.channels SET active = false, replies = false WHERE code = 'hotline';
SELECT workorder.load_channels('[{"code": "hotline", "name": "12345政务服务便民热线", "kind": "hotline"}]') AS loaded \gset
SELECT is((SELECT ROW(name, active, replies)::text FROM workorder.channels WHERE code = 'hotline'),
          ROW('12345政务服务便民热线', false, false)::text,
          'a channel reloaded without active or replies keeps them');
SELECT is((SELECT count(*)::integer FROM workorder.channel_categories WHERE channel_code = 'hotline'), 2,
          '... and its mappings, which the object does not give');
SELECT workorder.load_channels('[{"code": "sms", "name": "短信", "kind": "platform"}]') AS loaded \gset
SELECT is((SELECT ROW(active, replies)::text FROM workorder.channels WHERE code = 'sms'), ROW(true, true)::text,
          'a new channel is active and replies');

-- A channel's own category code of 64 Chinese characters (192 bytes, more than the
-- reference cache's keys hold) maps as any other, and breaks nothing.  (Every load
-- of the cache failed: submit() on any channel, every action and setting() in every
-- session, until the row was deleted.)
SELECT workorder.load_channels(jsonb_build_array(jsonb_build_object('code', 'wechat', 'name', '微信公众号', 'kind', 'platform',
         'categories', jsonb_build_array(jsonb_build_object('code', repeat('占道经营', 16), 'category', 'CITY_VENDOR'))))) AS loaded \gset
SELECT is((SELECT category_code FROM workorder.submit('wechat', 'LONG-1', repeat('占道经营', 16), '路口流动摊贩占道',
                                                      lon => 116.05, lat => 25.05)),
          'CITY_VENDOR', 'a channel category code of 64 Chinese characters maps to its category');
SELECT is((SELECT category_code FROM workorder.submit('sms', 'LONG-2', 'WATER', '路面积水', lon => 116.05, lat => 25.05)),
          'WATER', '... and the other channels'' reports are taken as before');

-- category_effective, which the reference cache reads categories from, is rebuilt
-- under session_replication_role = replica too (a data load; a logical replication
-- subscriber's apply worker fires the row trigger enabled REPLICA): it was not, and
-- intake kept routing a category taken out of use.
SET LOCAL session_replication_role = replica;
UPDATE workorder.categories SET active = false, sla_policy = 'loaders_test' WHERE code = 'CITY_VENDOR';
RESET session_replication_role;
SELECT is((SELECT ROW(active, sla_policy)::text FROM workorder.category_effective WHERE code = 'CITY_VENDOR'),
          ROW(false, 'loaders_test')::text,
          'a category changed under session_replication_role = replica is changed in category_effective too');
SELECT is((workorder.category_settings('CITY_VENDOR')).sla_policy, 'loaders_test', '... and in the reference cache');

-- A unit given another area is checked against the units under it, as a unit is
-- against its parent (WO211, naming the child): the town center of 甲 moved to a new
-- town 丙 would have kept 甲一村's center under it, and 丙's staff its orders.  At
-- the end of the transaction (a reorganisation moves parents and children in any
-- order); here at the end of the statement.
\o /dev/null
SELECT workorder.load_area('990801003', '丙镇', 'town', '990801', ST_MakeEnvelope(116.0, 25.2, 116.1, 25.3, 4326));
\o
SET CONSTRAINTS ALL IMMEDIATE;
SELECT throws_ok($$SELECT workorder.load_units('[{"code": "C-990801001", "area_code": "990801003"}]')$$,
                 'WO211', 'unit C-990801001 (element 1 of the batch) was not loaded: unit C-990801001001 (甲一村工作站) has a parent that serves another place',
                 'a center moved to another town while a village center of its old town is under it is WO211, naming the child');
SET CONSTRAINTS ALL DEFERRED;

-- What an integrator's file may carry that a row cannot hold is refused before
-- anything is loaded (WO210, naming the element): a JSON object or array as a value
-- (stored as its JSON text: a name in two languages, a list of phones), a blank name
-- (an ideographic space too), a category mapping with a misspelt key (loaded without
-- its name).  An area's name in a GeoJSON file likewise (WO203), and load_area()
-- takes ideographic spaces for blank (WO201).
SELECT throws_ok($$SELECT workorder.load_units('[{"code": "U-JSON", "name": {"zh": "测试", "en": "Test"}, "kind": "department",
                                                 "department_kind": "water", "level": "district", "area_code": "990801"}]')$$,
                 'WO210', 'unit U-JSON (element 1 of the batch) was not loaded: it has a JSON object as ''name'', where a unit takes a plain value',
                 'a unit''s name given as a JSON object is WO210');
SELECT throws_ok($$SELECT workorder.load_units('[{"code": "D-water", "phone": ["0757-1", "0757-2"]}]')$$,
                 'WO210', 'unit D-water (element 1 of the batch) was not loaded: it has a JSON array as ''phone'', where a unit takes a plain value',
                 '... and phones given as a list');
SELECT throws_ok($$SELECT workorder.load_categories(jsonb_build_array(jsonb_build_object('code', 'CITY_BLANK', 'name', E'\u3000', 'parent_code', 'CITY')))$$,
                 'WO210', 'category CITY_BLANK (element 1 of the batch) was not loaded: it has a blank name',
                 'a category named with an ideographic space is WO210, blank');
SELECT throws_ok($$SELECT workorder.load_channels('[{"code": "hotline", "categories": [{"code": "0301", "nmae": "占道", "category": "CITY_VENDOR"}]}]')$$,
                 'WO210', 'channel hotline (element 1 of the batch) was not loaded: it has a category mapping with the key ''nmae'', which a mapping (code, name, category) does not have',
                 'a channel''s mapping with a misspelt key is WO210');
-- A mapping's code is trimmed as submit() trims the code it is given: '0301 ' from a
-- spreadsheet was stored as it was and never matched.  A blank one, or one with a
-- control character, is refused.
SAVEPOINT mapping_blanks;
SELECT workorder.load_channels(jsonb_build_array(jsonb_build_object('code', 'sheet', 'name', '表格导入', 'kind', 'platform',
           'categories', jsonb_build_array(jsonb_build_object('code', E'0301 \u3000', 'name', E'占道\u00a0', 'category', 'CITY_VENDOR'))))) AS loaded \gset
SELECT is((SELECT ROW(channel_category_code, channel_category_name)::text FROM workorder.channel_categories WHERE channel_code = 'sheet')
              || ' ' || workorder.map_category('sheet', '0301'),
          '(0301,占道) CITY_VENDOR', 'a mapping''s code and name are stored trimmed, and the code maps');
ROLLBACK TO SAVEPOINT mapping_blanks;
SELECT throws_ok($$SELECT workorder.load_channels('[{"code": "sheet", "name": "表格导入", "kind": "platform", "categories": [{"code": " ", "category": "CITY_VENDOR"}]}]')$$,
                 'WO210', 'channel sheet (element 1 of the batch) was not loaded: a category mapping of channel sheet has a blank code or a control character',
                 'a blank mapping code is WO210');
-- A category's parent must be there when it is loaded (the batch loads parents
-- first): the deferred key said so only at COMMIT, with a bare 23503.
SELECT throws_ok($$SELECT workorder.load_categories('[{"code": "WATER_NEW", "name": "新积水", "parent_code": "WATERR"}]')$$,
                 'WO210', 'category WATER_NEW (element 1 of the batch) was not loaded: its parent_code ''WATERR'' names no category',
                 'a category under a parent that does not exist is WO210');
-- A renamed category's children follow it; a rename that closes a cycle is refused.
SAVEPOINT category_rename;
SELECT workorder.load_categories('[{"code": "AAA", "name": "甲"}, {"code": "BBB", "name": "乙", "parent_code": "AAA"},
                                   {"code": "CCC", "name": "丙", "parent_code": "BBB"}]') AS loaded \gset
UPDATE workorder.categories SET code = 'BBB2' WHERE code = 'BBB';
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is((SELECT parent_code FROM workorder.categories WHERE code = 'CCC'), 'BBB2',
          'a renamed category''s children follow it (the COMMIT failed on them)');
SET CONSTRAINTS ALL DEFERRED;
UPDATE workorder.categories SET parent_code = 'ZZZ' WHERE code = 'AAA';
SELECT throws_ok($$UPDATE workorder.categories SET code = 'ZZZ' WHERE code = 'CCC'$$,
                 'WO221', 'category ZZZ cannot be placed under BBB2',
                 'a rename that makes a category its ancestor''s parent is refused (both left intake)');
ROLLBACK TO SAVEPOINT category_rename;
SELECT throws_ok($$SELECT * FROM workorder.load_areas_geojson('{"type": "FeatureCollection", "features": [{"type": "Feature",
                       "properties": {"code": "990801001002", "name": {"zh": "测试村", "en": "Test"}},
                       "geometry": {"type": "Polygon", "coordinates": [[[116.0, 25.0], [116.01, 25.0], [116.01, 25.01], [116.0, 25.0]]]}}]}',
                     'village', '990801001')$$,
                 'WO203', NULL, 'an area''s name given as a JSON object in a GeoJSON file is WO203');
SELECT throws_ok($$SELECT workorder.load_area('990801001003', E'\u3000\u00a0', 'village', '990801001',
                                                ST_MakeEnvelope(116.0, 25.0, 116.01, 25.01, 4326))$$,
                 'WO201', 'invalid name for area 990801001003', 'load_area() takes a name of ideographic and no-break spaces for blank');
SELECT is(ROW((SELECT count(*) FROM workorder.units WHERE code = 'U-JSON'),
               (SELECT count(*) FROM workorder.categories WHERE code = 'CITY_BLANK'),
               (SELECT count(*) FROM workorder.channel_categories WHERE channel_code = 'hotline' AND category_code = 'CITY_VENDOR'))::text,
          ROW(0, 0, 1)::text,
          '... and none of them left anything behind: the channel keeps its mapping');

-- A unit's name and phone are printable (the name goes out in every dispatch
-- message); a renamed unit's children follow it (the COMMIT failed on them).
SELECT throws_ok($$SELECT workorder.load_unit('{"code": "C-990801", "name": "区中心\u0007\u001b[2J"}')$$,
                 'WO211', 'unit C-990801 (element 1 of the batch) was not loaded: unit C-990801 has a blank name, or a control character in its name or phone',
                 'a unit name with control characters is refused (it went out to the channels in the dispatch message)');
SELECT throws_ok($$UPDATE workorder.units SET phone = E'0757-1234\n5678' WHERE code = 'C-990801'$$,
                 'WO211', 'unit C-990801 has a blank name, or a control character in its name or phone',
                 'so is a phone with a line break, written directly');
SELECT throws_ok($$UPDATE workorder.units SET name = E'\u3000' WHERE code = 'C-990801'$$,
                 'WO211', 'unit C-990801 has a blank name, or a control character in its name or phone',
                 'and a name of an ideographic space, blank as submit() trims');
SAVEPOINT unit_rename;
-- A phone 0.4 accepted with a line break is carried along by a change that does
-- not write it (a parent's new code), not refused: that failed the rename, and a
-- restore of the dump.
SET LOCAL session_replication_role = replica;
UPDATE workorder.units SET phone = E'0757-1234\n5678' WHERE code = 'C-990801001001';
SET LOCAL session_replication_role = origin;
UPDATE workorder.units SET name = '甲一村工作站（新）' WHERE code = 'C-990801001001';
UPDATE workorder.units SET code = 'C-990801001-new' WHERE code = 'C-990801001';
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is((SELECT parent_code FROM workorder.units WHERE code = 'C-990801001001'), 'C-990801001-new',
          'a renamed unit''s children follow it (the COMMIT failed with a bare 23503)');
SET CONSTRAINTS ALL DEFERRED;
ROLLBACK TO SAVEPOINT unit_rename;

-- A category in use, or with children, stays, with a WO221 that names what uses
-- it (a bare foreign-key error, or at COMMIT for a child; until then intake took
-- the child for unknown).  A parent and its children deleted in one statement go.
SELECT throws_ok($$DELETE FROM workorder.categories WHERE code = 'WATER'$$,
                 'WO221', 'category WATER (水务) is in use and stays',
                 'a category a channel mapping names is not deleted');
SELECT is((SELECT detail FROM pg_temp.error_of($$DELETE FROM workorder.categories WHERE code = 'WATER'$$)),
          'It is named by orders; the mappings hotline/0701.', '... and the error names what uses it');
SELECT workorder.load_categories('[{"code": "ZORD", "name": "有单"}, {"code": "ZP", "name": "父"},
                                   {"code": "ZQ", "name": "子", "parent_code": "ZP"}]') AS loaded \gset
UPDATE workorder.channels SET active = true WHERE code = 'hotline';
SELECT workorder.submit('hotline', 'loaders-zord', 'ZORD', '测试删除类别', lon => 116.05, lat => 25.05) IS NOT NULL AS submitted \gset
SELECT throws_ok($$DELETE FROM workorder.categories WHERE code = 'ZORD'$$,
                 'WO221', 'category ZORD (有单) is in use and stays',
                 'a category that orders name is not deleted (a bare 23503)');
SELECT throws_ok($$DELETE FROM workorder.categories WHERE code = 'ZP'$$,
                 'WO221', 'a category with child categories cannot be deleted without them',
                 'a parent whose child stays is not deleted (the deferred key failed only at COMMIT)');
SELECT is((SELECT count(*) FROM workorder.category_effective WHERE code IN ('ZP', 'ZQ')), 2::bigint,
          '... and both stay where intake reads them');
DELETE FROM workorder.categories WHERE code IN ('ZQ', 'ZP');
SELECT is((SELECT count(*) FROM workorder.categories WHERE code IN ('ZP', 'ZQ')), 0::bigint,
          'a parent and its child deleted in one statement go together');

SELECT * FROM finish();
ROLLBACK;
