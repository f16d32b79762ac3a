-- Dedup's policies come from the per-backend reference cache (src/refcache.c,
-- src/dedup.c): a change to dedup_rules, to a dedup setting or to a category's
-- radius, committed by another session, is seen by this session's next
-- dedup_policy() and dedup_decide(), also inside one open transaction (as the
-- plpgsql they replace saw it at its next statement); this session's own
-- changes are seen at once and undone by a rollback.  The other session is a
-- dblink connection, whose changes commit at once; it removes them at the end.
-- Run from the repository root.
\set QUIET 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT format('dbname=%s port=%s host=%s user=%s', current_database(), current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1), current_user) AS other \gset
SELECT dblink_connect('other', :'other') \gset
-- The other session's category family, committed: CACHE_T with CACHE_T_A under it.
SELECT dblink_exec('other', $$
    DELETE FROM workorder.dedup_rules WHERE category_code LIKE 'CACHE\_T%';
    DELETE FROM workorder.settings WHERE name = 'dedup_weight_time' AND description = 'dedup_cache_test';
    DELETE FROM workorder.categories WHERE code LIKE 'CACHE\_T%';
    DO $d$ BEGIN PERFORM workorder.load_categories('[{"code": "CACHE_T", "name": "缓存测试"},
                                         {"code": "CACHE_T_A", "name": "缓存测试子类", "parent_code": "CACHE_T"}]'); END $d$ $$) \gset
BEGIN;
SELECT plan(11);

-- An order of the family, 10 m from the report below: its candidate.
INSERT INTO workorder.channels (code, name, kind) VALUES ('cache_test', '缓存测试', 'hotline');
INSERT INTO workorder.orders (ticket, channel_code, channel_ref, category_code, description, location,
                              location_match, in_jurisdiction, received_at, status, event_count)
VALUES (workorder.make_ticket(current_date, 990001), 'cache_test', 'cache-test', 'CACHE_T_A', '井盖缺失',
        ST_SetSRID(ST_MakePoint(117.5, 26.5), 4326), 'contained', true, now() - interval '1 hour', 'dispatched', 0);
CREATE TEMP TABLE seen (step text, policy workorder.dedup_policy, decision workorder.dedup_decision);
CREATE FUNCTION pg_temp.look(step text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO seen SELECT step, workorder.dedup_policy('CACHE_T_A'),
                            workorder.dedup_decide('CACHE_T_A', ST_SetSRID(ST_MakePoint(117.50009, 26.5), 4326), now(),
                                                   '井盖缺失', NULL, NULL)
$$;

SELECT pg_temp.look('before');
SELECT is((SELECT (policy).merge_threshold FROM seen WHERE step = 'before'), 0.5::float8,
          'the built-in merge threshold before any rule');
SELECT is((SELECT (decision).decision FROM seen WHERE step = 'before'), 'merge',
          'the candidate 10 m away is merged into');

-- The other session adds a rule on the parent: seen by the next call here.
SELECT dblink_exec('other', $$INSERT INTO workorder.dedup_rules (category_code, merge_threshold, review_threshold)
                              VALUES ('CACHE_T', 1, 1)$$) \gset
SELECT pg_temp.look('parent rule');
SELECT is((SELECT (policy).merge_threshold FROM seen WHERE step = 'parent rule'), 1::float8,
          'a rule another session committed on the parent is seen by the next dedup_policy()');
SELECT is((SELECT (decision).decision FROM seen WHERE step = 'parent rule'), 'new',
          '... and by the next dedup_decide(): no merge at a threshold of 1');
SELECT is((SELECT ((decision).policy).merge_threshold FROM seen WHERE step = 'parent rule'), 1::float8,
          '... whose recorded policy carries the new threshold');

-- The other session changes the rule and adds a district-wide setting.
SELECT dblink_exec('other', $$UPDATE workorder.dedup_rules SET merge_threshold = 0.3, review_threshold = 0.2
                               WHERE category_code = 'CACHE_T';
                              INSERT INTO workorder.settings VALUES ('dedup_weight_time', '7', 'dedup_cache_test')$$) \gset
SELECT pg_temp.look('changed');
SELECT is((SELECT ((policy).merge_threshold, (policy).weight_time)::text FROM seen WHERE step = 'changed'), '(0.3,7)',
          'an updated rule and a new setting from another session are seen');

-- The other session sets the category's own radius: the candidate is out of reach.
SELECT dblink_exec('other', $$UPDATE workorder.categories SET dedup_radius_m = 5 WHERE code = 'CACHE_T_A'$$) \gset
SELECT pg_temp.look('radius');
SELECT is((SELECT ((policy).radius_m, (decision).decision)::text FROM seen WHERE step = 'radius'), '(5,new)',
          'a category''s radius set by another session is seen: the candidate 10 m away is out of reach');

-- The other session deletes its rule: the defaults are back.
SELECT dblink_exec('other', $$DELETE FROM workorder.dedup_rules WHERE category_code = 'CACHE_T';
                              UPDATE workorder.categories SET dedup_radius_m = NULL WHERE code = 'CACHE_T_A'$$) \gset
SELECT pg_temp.look('deleted');
SELECT is((SELECT ((policy).merge_threshold, (policy).radius_m, (decision).decision)::text FROM seen WHERE step = 'deleted'),
          '(0.5,100,merge)', 'a deleted rule is forgotten: the built-in threshold and radius again');

-- This session's own change is seen at once, and a rollback undoes it.
SAVEPOINT own;
INSERT INTO workorder.dedup_rules (category_code, weight_text) VALUES ('CACHE_T_A', 9);
SELECT is((SELECT weight_text FROM workorder.dedup_policy('CACHE_T_A')), 9::float8,
          'this session''s own rule is seen by its next call');
ROLLBACK TO SAVEPOINT own;
SELECT is((SELECT weight_text FROM workorder.dedup_policy('CACHE_T_A')), 4::float8,
          '... and forgotten when it is rolled back');

-- An invalid setting committed by another session fails the next call (WO701).
-- The check at write time refuses such a value (settings_test.sql); it comes here
-- the way a row can still come, with triggers off (replica mode, as a restore with
-- --disable-triggers).  A statement that changes no row then fires the table's
-- cache invalidation, which replica mode skipped.
SELECT dblink_exec('other', $$
    SET session_replication_role = replica;
    UPDATE workorder.settings SET value = 'lots' WHERE name = 'dedup_weight_time';
    RESET session_replication_role;
    UPDATE workorder.settings SET value = value WHERE false$$) \gset
SELECT throws_ok($$SELECT workorder.dedup_policy('CACHE_T_A')$$, 'WO701', 'invalid dedup setting dedup_weight_time',
                 'an invalid setting another session committed is refused at the next call');

SELECT * FROM finish();
ROLLBACK;
SELECT dblink_exec('other', $$
    DELETE FROM workorder.dedup_rules WHERE category_code LIKE 'CACHE\_T%';
    DELETE FROM workorder.settings WHERE name = 'dedup_weight_time' AND description = 'dedup_cache_test';
    DELETE FROM workorder.categories WHERE code LIKE 'CACHE\_T%'$$) \gset
SELECT dblink_disconnect('other') \gset
DROP EXTENSION dblink;
