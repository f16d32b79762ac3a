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
SELECT plan(13);

\o /dev/null
\i test/fixtures/lifecycle_map.sql
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

SELECT * FROM finish();
ROLLBACK;
