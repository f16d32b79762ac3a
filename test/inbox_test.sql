-- Bulk intake: properties of drain_inbox() on a random batch of good, bad and
-- retried rows (every row ends accepted or rejected, none is lost, every accepted
-- row has its order, every rejection has a reason), the batch limit, rows that
-- fail for a transient reason, and who may drain.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(107);
-- Reports here are orders of their own: dedup is sql/dedup.sql's.
INSERT INTO workorder.settings VALUES ('dedup_enabled', 'off', 'reports in these tests are orders of their own');

\o /dev/null
-- A small map of our own: district 990601 (122.0..122.2 x 30.0..30.2), one town,
-- two villages; a neighbour district east of it.
SELECT count(*) FROM (
    SELECT workorder.load_area('990601', '收件区', 'district', NULL, ST_MakeEnvelope(122.0, 30.0, 122.2, 30.2, 4326))
    UNION ALL SELECT workorder.load_area('990601001', '中街道', 'town', '990601', ST_MakeEnvelope(122.0, 30.0, 122.2, 30.2, 4326))
    UNION ALL SELECT workorder.load_area('990601001001', '南村', 'village', '990601001', ST_MakeEnvelope(122.0, 30.0, 122.2, 30.1, 4326))
    UNION ALL SELECT workorder.load_area('990601001002', '北村', 'village', '990601001', ST_MakeEnvelope(122.0, 30.1, 122.2, 30.2, 4326))
    UNION ALL SELECT workorder.load_area('990602', '邻区', 'district', NULL, ST_MakeEnvelope(122.2, 30.0, 122.4, 30.2, 4326), false)) loaded;
SELECT workorder.load_department_kinds('[{"code": "urban_management", "name": "城市管理"}]');
SELECT workorder.load_units('[
  {"code": "C-990601", "name": "收件区指挥中心", "kind": "center", "level": "district", "area_code": "990601"},
  {"code": "C-990601001", "name": "中街道指挥中心", "kind": "center", "level": "town", "area_code": "990601001", "parent_code": "C-990601"},
  {"code": "C-990601001001", "name": "南村工作站", "kind": "center", "level": "village", "area_code": "990601001001", "parent_code": "C-990601001"},
  {"code": "C-990601001002", "name": "北村工作站", "kind": "center", "level": "village", "area_code": "990601001002", "parent_code": "C-990601001"}]');
SELECT workorder.load_categories('[
  {"code": "CITY", "name": "城市管理", "handling_level": "town", "department_kind": "urban_management"},
  {"code": "CITY_VENDOR", "name": "占道经营", "parent_code": "CITY", "handling_level": "village"}]');
SELECT workorder.load_channels('[
  {"code": "hotline", "name": "12345热线", "kind": "hotline", "categories": [{"code": "0301", "category": "CITY_VENDOR"}]},
  {"code": "grid", "name": "网格巡查", "kind": "inspection", "categories": [{"code": "vendor", "category": "CITY_VENDOR"}]}]');
DELETE FROM workorder.routing_rules;
DELETE FROM workorder.inbox;
\o

-- Two orders exist before the batch: rows retrying them must come back with them.
CREATE TEMP TABLE direct AS
SELECT o.id, o.channel_code, o.channel_ref
  FROM (VALUES ('hotline', 'P-1'), ('grid', 'P-2')) v(channel, ref),
       workorder.submit(v.channel, v.ref, CASE v.channel WHEN 'grid' THEN 'vendor' ELSE '0301' END,
                        '已经直接提交', lon => 122.05, lat => 30.05) o;
CREATE TEMP TABLE orders_before AS SELECT id FROM workorder.orders;

-- The batch: 600 rows over 400 references (so many are retries).  Every field is
-- drawn from good values (some of them odd but acceptable: out of jurisdiction,
-- an unknown category, blanks around a number, a priority in capitals); about half
-- of the rows then get one field spoilt, in one of 17 ways.
SELECT setseed(0.27);
CREATE TEMP TABLE batch AS
SELECT i,
       CASE WHEN bad = 1 THEN 'fax' ELSE channel END AS channel,
       CASE WHEN bad = 2 THEN NULL ELSE channel_ref END AS channel_ref,
       CASE channel WHEN 'grid' THEN 'vendor' ELSE category END AS category,
       CASE bad WHEN 3 THEN '  ' WHEN 4 THEN NULL WHEN 5 THEN repeat('长', 4001) ELSE description END AS description,
       CASE bad WHEN 6 THEN 'NaN' WHEN 7 THEN 'abc' WHEN 8 THEN '' WHEN 9 THEN 'Infinity' WHEN 10 THEN '1e400' ELSE lon END AS lon,
       CASE WHEN bad = 11 THEN 'x' ELSE lat END AS lat,
       CASE bad WHEN 12 THEN 'yesterday noon' WHEN 13 THEN '2024-13-45 08:00' WHEN 14 THEN '2999-01-01' ELSE occurred_at END AS occurred_at,
       CASE bad WHEN 15 THEN '[1]' WHEN 16 THEN '{"a":' ELSE attributes END AS attributes,
       CASE WHEN bad = 17 THEN 'top' ELSE priority END AS priority
  FROM (SELECT i,
               CASE WHEN random() < 0.5 THEN 1 + floor(random() * 17)::int ELSE 0 END AS bad,
               (ARRAY['hotline', 'hotline', 'grid'])[1 + floor(random() * 3)::int] AS channel,
               'P-' || (1 + floor(random() * 400)::int) AS channel_ref,
               (ARRAY['0301', '0301', 'CITY_VENDOR', '0999', NULL])[1 + floor(random() * 5)::int] AS category,
               (ARRAY['路口有流动摊贩', '店外经营占道', '夜市摊档', ' 桥下卖水果 '])[1 + floor(random() * 4)::int] AS description,
               (ARRAY['122.05', '122.15', '122.1', ' 122.11 ', '122.3', '130'])[1 + floor(random() * 6)::int] AS lon,
               (ARRAY['30.05', '30.15', '30.12', '30.1'])[1 + floor(random() * 4)::int] AS lat,
               (ARRAY[NULL, NULL, '', '2024-05-01 08:30', '2024-05-01T08:30:00+08:00'])[1 + floor(random() * 5)::int] AS occurred_at,
               (ARRAY[NULL, NULL, '', '{"photos": 1}', '{"plate": "粤E12345"}'])[1 + floor(random() * 5)::int] AS attributes,
               (ARRAY[NULL, NULL, '', 'normal', 'HIGH', ' urgent', 'low'])[1 + floor(random() * 7)::int] AS priority
          FROM generate_series(1, 600) i) g;
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat, occurred_at, attributes, priority)
SELECT channel, channel_ref, category, description, lon, lat, occurred_at, attributes, priority FROM batch ORDER BY i;

SELECT is((SELECT count(*) FROM workorder.inbox WHERE state = 'pending'), 600::bigint,
          'the 600 rows arrive pending');

CREATE TEMP TABLE drained AS SELECT * FROM workorder.drain_inbox(100000);
SELECT is((SELECT accepted + rejected FROM drained), 600, 'drain_inbox(): accepted + rejected = the rows inserted');
SELECT is((SELECT count(*) FROM workorder.inbox), 600::bigint, 'no row is lost');
SELECT is((SELECT count(*) FROM workorder.inbox WHERE state = 'pending'), 0::bigint, 'no row is left pending');
SELECT is((SELECT count(*) FROM workorder.inbox WHERE state = 'accepted'), (SELECT accepted::bigint FROM drained),
          'the accepted count is the number of accepted rows');
SELECT is((SELECT count(*) FROM workorder.inbox WHERE state = 'rejected'), (SELECT rejected::bigint FROM drained),
          'the rejected count is the number of rejected rows');
SELECT cmp_ok((SELECT accepted FROM drained), '>=', 200, 'a fair share of the random rows is accepted');
SELECT cmp_ok((SELECT rejected FROM drained), '>=', 200, 'a fair share of the random rows is rejected');
SELECT is((SELECT count(*) FROM workorder.inbox WHERE processed_at IS NULL), 0::bigint,
          'every row has its processed_at');

-- Accepted rows.
SELECT is((SELECT count(*) FROM workorder.inbox i
            WHERE i.state = 'accepted'
              AND NOT EXISTS (SELECT 1 FROM workorder.orders o
                               WHERE o.id = i.order_id AND o.channel_code = i.channel
                                 AND o.channel_ref = btrim(i.channel_ref))),
          0::bigint, 'every accepted row''s order exists, with the row''s channel and channel_ref');
SELECT is((SELECT count(*) FROM workorder.inbox WHERE state = 'accepted' AND (error_code IS NOT NULL OR error_message IS NOT NULL)),
          0::bigint, 'accepted rows carry no error');
SELECT is((SELECT count(*) FROM (SELECT channel, channel_ref FROM workorder.inbox WHERE state = 'accepted'
                                  GROUP BY 1, 2 HAVING count(DISTINCT order_id) > 1) x),
          0::bigint, 'all accepted rows of one (channel, channel_ref) have the same order');
SELECT is((SELECT count(*) FROM workorder.orders WHERE id NOT IN (SELECT id FROM orders_before)),
          (SELECT count(*) FROM (SELECT DISTINCT i.channel, i.channel_ref FROM workorder.inbox i
                                   WHERE i.state = 'accepted'
                                     AND NOT EXISTS (SELECT 1 FROM direct d
                                                      WHERE d.channel_code = i.channel AND d.channel_ref = i.channel_ref)) x),
          'one new order per distinct accepted (channel, channel_ref), none for retries of existing orders');
SELECT is((SELECT count(*) FROM workorder.inbox i JOIN direct d ON d.channel_code = i.channel AND d.channel_ref = i.channel_ref
            WHERE i.state = 'accepted' AND i.order_id <> d.id),
          0::bigint, 'a row retrying an existing order is accepted with that order''s id');
SELECT is((SELECT count(*) FROM workorder.inbox i JOIN workorder.orders o ON o.id = i.order_id
            WHERE o.id NOT IN (SELECT id FROM orders_before)
              AND i.id = (SELECT min(j.id) FROM workorder.inbox j
                           WHERE j.channel = i.channel AND j.channel_ref = i.channel_ref AND j.state = 'accepted')
              AND o.description IS DISTINCT FROM btrim(i.description)),
          0::bigint, 'a new order has the content of the earliest accepted row of its reference');
SELECT is((SELECT count(*) FROM workorder.orders o
            WHERE o.id NOT IN (SELECT id FROM orders_before)
              AND (SELECT count(*) FROM workorder.order_events e WHERE e.order_id = o.id)
                  <> CASE o.status WHEN 'new' THEN 1 WHEN 'dispatched' THEN 2 END),
          0::bigint, 'every new order has the events its status implies (1 for new, 2 for dispatched)');

-- Rejected rows.
SELECT is((SELECT count(*) FROM workorder.inbox
            WHERE state = 'rejected' AND NOT (error_code ~ '^(WO|22)[0-9A-Z]{3}$')),
          0::bigint, 'every rejected row has a WO-class or 22xxx error_code');
SELECT is((SELECT count(*) FROM workorder.inbox
            WHERE state = 'rejected' AND (error_message IS NULL OR length(error_message) < 10 OR order_id IS NOT NULL)),
          0::bigint, 'every rejected row has a message, and no order');
SELECT is((SELECT count(*) FROM workorder.inbox
            WHERE state = 'rejected' AND error_code LIKE '22%'
              AND error_message !~ '^inbox column (lon|lat|occurred_at|attributes|priority) is not '),
          0::bigint, 'a conversion error names the column');
SELECT ok((SELECT bool_and(position(quote_literal(left(lon, 60)) IN error_message) > 0)
             FROM workorder.inbox WHERE error_message LIKE 'inbox column lon %'),
          '... and its value');
SELECT set_eq($$SELECT DISTINCT error_code FROM workorder.inbox WHERE state = 'rejected'$$,
              $$VALUES ('WO101'), ('WO301'), ('WO302'), ('WO303'), ('WO304'), ('WO308'), ('22P02'), ('22003'), ('22007'), ('22008')$$,
              'the batch met every kind of rejection it was built with (WO308: its references are reused for other reports)');
SELECT is((SELECT count(*) FROM workorder.inbox i
            WHERE i.state = 'rejected' AND i.error_code = 'WO308'
              AND NOT EXISTS (SELECT 1 FROM workorder.orders o
                               WHERE o.channel_code = i.channel AND o.channel_ref = btrim(i.channel_ref)
                                 AND (o.description IS DISTINCT FROM btrim(i.description)
                                      OR o.channel_category IS DISTINCT FROM i.category
                                      OR NOT ST_Equals(o.location, ST_SetSRID(ST_MakePoint(btrim(i.lon)::float8, btrim(i.lat)::float8), 4326))))),
          0::bigint, 'a row refused as another report under a used reference (WO308) differs from that reference''s order');
SELECT cmp_ok((SELECT count(*) FROM workorder.inbox i JOIN workorder.orders o ON o.id = i.order_id
                WHERE i.state = 'accepted' AND i.id > (SELECT min(j.id) FROM workorder.inbox j
                                                        WHERE j.channel = i.channel AND j.channel_ref = i.channel_ref)),
              '>', 0::bigint, 'and the batch''s true retries, later rows of a reference with its order''s report, are accepted');

-- A second drain changes nothing.
CREATE TEMP TABLE snapshot AS SELECT * FROM workorder.inbox;
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (0, 0)$$,
                  'a second drain finds nothing to do');
SELECT set_eq($$SELECT * FROM workorder.inbox$$, $$SELECT * FROM snapshot$$, '... and changes no row');

-- max_rows: the oldest pending rows, no more.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
SELECT 'hotline', 'M-' || i, '0301', '摊贩', '122.05', '30.05' FROM generate_series(1, 5) i;
SELECT results_eq($$SELECT accepted + rejected FROM workorder.drain_inbox(3)$$, $$VALUES (3)$$,
                  'drain_inbox(3) processes 3 rows');
SELECT results_eq($$SELECT channel_ref FROM workorder.inbox WHERE state = 'pending' ORDER BY id$$,
                  $$VALUES ('M-4'), ('M-5')$$, '... the oldest three: the two newest are still pending');
SELECT throws_ok($$SELECT * FROM workorder.drain_inbox(0)$$, 'WO306', NULL, 'max_rows 0 is refused with WO306');
SELECT throws_ok($$SELECT * FROM workorder.drain_inbox(-5)$$, 'WO306', NULL, 'a negative max_rows is refused with WO306');
SELECT throws_ok($$SELECT * FROM workorder.drain_inbox(100001)$$, 'WO306', NULL, 'max_rows over 100000 is refused with WO306');
SELECT throws_ok($$SELECT * FROM workorder.drain_inbox(NULL)$$, 'WO306', NULL, 'a NULL max_rows is refused with WO306');

-- A transient failure (here a serialization failure, raised by a trigger) is not
-- the row's fault: the row stays pending with the error, the batch goes on, and
-- the next drain accepts it.
CREATE FUNCTION pg_temp.fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.channel_ref = 'M-4' THEN
        RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER inbox_test_fail_once BEFORE INSERT ON workorder.orders
    FOR EACH ROW EXECUTE FUNCTION pg_temp.fail_once();
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (1, 0)$$,
                  'a row that fails with a serialization failure is neither accepted nor rejected; the next row is accepted');
SELECT results_eq($$SELECT state, error_code, error_message LIKE 'not processed, to be retried: could not serialize%'
                      FROM workorder.inbox WHERE channel_ref = 'M-4'$$,
                  $$VALUES ('pending', '40001', true)$$, '... it stays pending, with the error recorded');
SELECT results_eq($$SELECT attempts, retry_at - clock_timestamp() BETWEEN interval '9 seconds' AND interval '10 seconds'
                      FROM workorder.inbox WHERE channel_ref = 'M-4'$$,
                  $$VALUES (1, true)$$, '... with one attempt counted, to be tried again in inbox_retry_base (10 seconds)');
DROP TRIGGER inbox_test_fail_once ON workorder.orders;
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (0, 0)$$,
                  '... a drain before then leaves it alone');
UPDATE workorder.inbox SET retry_at = clock_timestamp() - interval '1 second' WHERE channel_ref = 'M-4';
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (1, 0)$$,
                  '... and the first drain after it accepts it');
SELECT results_eq($$SELECT state, attempts, retry_at, error_code FROM workorder.inbox WHERE channel_ref = 'M-4'$$,
                  $$VALUES ('accepted', 1, NULL::timestamptz, NULL::text)$$,
                  '... keeping its count of failed attempts, with no retry time and no error left');

-- A row of a channel switched off for a while (maintenance, a mistake) is not the
-- row's fault either: it stays pending (WO305), and is accepted once the channel is
-- active again.  It was rejected for good, and the report lost.
UPDATE workorder.channels SET active = false WHERE code = 'hotline';
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'OFF-1', '0301', '渠道停用时来的报告', '122.05', '30.05');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (0, 0)$$,
                  'a row of a channel that is not active is neither accepted nor rejected');
SELECT results_eq($$SELECT state, error_code, attempts, retry_at IS NOT NULL FROM workorder.inbox WHERE channel_ref = 'OFF-1'$$,
                  $$VALUES ('pending', 'WO305', 1, true)$$, '... it stays pending with WO305, to be tried again');
UPDATE workorder.channels SET active = true WHERE code = 'hotline';
UPDATE workorder.inbox SET retry_at = clock_timestamp() - interval '1 second' WHERE channel_ref = 'OFF-1';
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (1, 0)$$,
                  '... and once the channel is active again, the next drain due accepts it');
SELECT isnt((SELECT order_id FROM workorder.inbox WHERE channel_ref = 'OFF-1'), NULL, '... with its order');
-- ... but a row that has waited longer than retention_inbox for a channel still not
-- active is rejected (WO305): the channel is retired, and the row's reporter data
-- was kept for ever, retried every inbox_retry_max.  Not when the channel has been
-- off for less than that: an old row (a worker stopped for a month) whose channel was
-- switched off a minute ago was rejected as of a channel "not active all that time".
UPDATE workorder.channels SET active = false WHERE code = 'hotline';
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat, received_at)
VALUES ('hotline', 'OFF-OLD-BRIEF', '0301', '渠道刚停用', '122.05', '30.05', now() - interval '31 days');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (0, 0)$$,
                  'an old row of a channel switched off just now waits');
SELECT is((SELECT state FROM workorder.inbox WHERE channel_ref = 'OFF-OLD-BRIEF'), 'pending', '... pending, to be tried again');
DELETE FROM workorder.inbox WHERE channel_ref = 'OFF-OLD-BRIEF';
UPDATE workorder.channels SET inactive_since = now() - interval '31 days' WHERE code = 'hotline';
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat, received_at)
VALUES ('hotline', 'OFF-OLD', '0301', '渠道停用很久', '122.05', '30.05', now() - interval '31 days'),
       ('hotline', 'OFF-NEW', '0301', '渠道停用不久', '122.05', '30.05', now() - interval '29 days');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (0, 1)$$,
                  'a row of a channel not active for longer than retention_inbox is rejected, a younger one waits');
SELECT is((SELECT ROW(active, inactive_since IS NULL)::text FROM workorder.channels WHERE code = 'hotline'),
          ROW(false, false)::text, 'a channel out of use knows since when');
SELECT results_eq($$SELECT channel_ref, state, error_code, left(error_message, 60) FROM workorder.inbox
                     WHERE channel_ref IN ('OFF-OLD', 'OFF-NEW') ORDER BY channel_ref$$,
                  $$VALUES ('OFF-NEW', 'pending', 'WO305', 'not processed, to be retried: channel ''hotline'' is not activ'),
                           ('OFF-OLD', 'rejected', 'WO305', 'not processed for more than 30 days, the channel not active ')$$,
                  '... with WO305 and the time it waited');
UPDATE workorder.channels SET active = true WHERE code = 'hotline';
DELETE FROM workorder.inbox WHERE channel_ref IN ('OFF-OLD', 'OFF-NEW');

-- A channel's code renamed: its inbox rows follow it, as its orders and outbox do.
-- The pending ones were rejected as of an unknown channel (WO301), a retry of a
-- report whose order had followed the new code too.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES (' hotline ', 'REN-1', '0301', '改名前来的报告', '122.05', '30.05'),
       ('hotline', 'OFF-1', '0301', '渠道停用时来的报告', '122.05', '30.05');
UPDATE workorder.channels SET code = 'hotline_renamed' WHERE code = 'hotline';
SELECT is((SELECT count(*) FROM workorder.inbox WHERE channel = 'hotline' OR channel = ' hotline '), 0::bigint,
          'no inbox row is left under a renamed channel''s old code, blanks and all');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (2, 0)$$,
                  '... and its pending rows are accepted under the new one');
SELECT is((SELECT order_id FROM workorder.inbox WHERE channel_ref = 'OFF-1' AND id = (SELECT max(id) FROM workorder.inbox WHERE channel_ref = 'OFF-1')),
          (SELECT id FROM workorder.orders WHERE channel_ref = 'OFF-1'),
          '... a retry of a report made before the rename with the order it made');
UPDATE workorder.channels SET code = 'hotline' WHERE code = 'hotline_renamed';

-- A deferred constraint trigger (a site's own rule) fires in the row's subtransaction,
-- not at COMMIT: the row that breaks it is not accepted, and the batch goes on.
-- Before, it fired at the drain's COMMIT and aborted every drain, with no row marked.
CREATE FUNCTION pg_temp.no_test_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.description LIKE '%TESTPOISON%' THEN
        RAISE EXCEPTION 'site rule: no test orders';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER inbox_test_site_rule AFTER INSERT ON workorder.orders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_temp.no_test_orders();
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'DF-1', '0301', '好的报告一', '122.05', '30.05'),
       ('hotline', 'DF-2', '0301', 'TESTPOISON 报告', '122.05', '30.05'),
       ('hotline', 'DF-3', '0301', '好的报告三', '122.05', '30.05');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (2, 0)$$,
                  'a row that breaks a deferred constraint trigger fails alone: the rows around it are accepted');
SELECT results_eq($$SELECT channel_ref, state, error_message LIKE '%site rule: no test orders%' FROM workorder.inbox
                     WHERE channel_ref LIKE 'DF-%' ORDER BY channel_ref$$,
                  $$VALUES ('DF-1', 'accepted', NULL::boolean), ('DF-2', 'pending', true), ('DF-3', 'accepted', NULL)$$,
                  '... and it stays pending with the error, to be tried again');
DROP TRIGGER inbox_test_site_rule ON workorder.orders;
DELETE FROM workorder.inbox WHERE channel_ref = 'DF-2';

-- Rows that keep failing for a reason not their own (a unit broken until an admin
-- mends it) never stand in front of the rows behind them: a drain of max_rows
-- claims the rows due again, then the rows never tried.  Before, the failing rows
-- were the oldest pending ones, claimed first by every drain: max_rows of them
-- stopped the drain for good.
CREATE FUNCTION pg_temp.fail_broken() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.channel_ref LIKE 'BROKEN-%' THEN
        RAISE EXCEPTION 'unit of the route is broken' USING ERRCODE = 'XX000';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER inbox_test_fail_broken BEFORE INSERT ON workorder.orders
    FOR EACH ROW EXECUTE FUNCTION pg_temp.fail_broken();
INSERT INTO workorder.settings (name, value, description)
VALUES ('inbox_retry_base', '1 minute', 'test'), ('inbox_retry_max', '3 minutes', 'test');
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
SELECT 'hotline', 'BROKEN-' || i, '0301', '摊贩', '122.05', '30.05' FROM generate_series(1, 3) i;
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox(3)$$, $$VALUES (0, 0)$$,
                  'three rows that fail for a reason not their own are neither accepted nor rejected');
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
SELECT 'hotline', 'AFTER-' || i, '0301', '摊贩', '122.05', '30.05' FROM generate_series(1, 3) i;
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox(3)$$, $$VALUES (3, 0)$$,
                  '... and the next drain of three takes the three rows behind them');
SELECT results_eq($$SELECT count(*)::integer FROM workorder.inbox WHERE channel_ref LIKE 'AFTER-%' AND state = 'accepted'$$,
                  $$VALUES (3)$$, '... which are accepted');
-- Each further failure doubles the wait, up to inbox_retry_max.
UPDATE workorder.inbox SET retry_at = clock_timestamp() - interval '1 second' WHERE channel_ref LIKE 'BROKEN-%';
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox(3)$$, $$VALUES (0, 0)$$,
                  'rows due again are tried again, and fail again');
SELECT results_eq($$SELECT DISTINCT attempts, retry_at - clock_timestamp() BETWEEN interval '119 seconds' AND interval '120 seconds'
                      FROM workorder.inbox WHERE channel_ref LIKE 'BROKEN-%'$$,
                  $$VALUES (2, true)$$, '... each now with two attempts and twice inbox_retry_base to wait');
UPDATE workorder.inbox SET retry_at = clock_timestamp() - interval '1 second' WHERE channel_ref LIKE 'BROKEN-%';
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox(3)$$, $$VALUES (0, 0)$$,
                  '... and a third time');
SELECT results_eq($$SELECT DISTINCT attempts, retry_at - clock_timestamp() BETWEEN interval '179 seconds' AND interval '180 seconds'
                      FROM workorder.inbox WHERE channel_ref LIKE 'BROKEN-%'$$,
                  $$VALUES (3, true)$$, '... then waiting inbox_retry_max, not four times the base');
-- The rows due again take at most half a batch, the longest due first; the rows
-- never tried take the rest (the rows due again came first, and max_rows of them
-- starved the rows behind them again, each retried at once with a base of 0).
UPDATE workorder.inbox SET retry_at = clock_timestamp() - interval '1 second' WHERE channel_ref = 'BROKEN-2';
UPDATE workorder.inbox SET retry_at = clock_timestamp() - interval '1 minute' WHERE channel_ref = 'BROKEN-3';
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'FRESH-1', '0301', '摊贩', '122.05', '30.05'), ('hotline', 'FRESH-2', '0301', '摊贩', '122.05', '30.05');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox(2)$$, $$VALUES (1, 0)$$,
                  'a drain of two takes one row due again and one never tried');
SELECT results_eq($$SELECT channel_ref, attempts, state FROM workorder.inbox
                     WHERE channel_ref LIKE 'BROKEN-%' OR channel_ref LIKE 'FRESH-%' ORDER BY channel_ref$$,
                  $$VALUES ('BROKEN-1', 3, 'pending'), ('BROKEN-2', 3, 'pending'), ('BROKEN-3', 4, 'pending'),
                           ('FRESH-1', 0, 'accepted'), ('FRESH-2', 0, 'pending')$$,
                  '... the row due the longest, and the first row never tried');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox(1)$$, $$VALUES (1, 0)$$,
                  'a drain of one takes the row never tried, though a row is due again');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox(3)$$, $$VALUES (0, 0)$$,
                  'with no row never tried left, the rows due again fill the batch');
SELECT is((SELECT attempts FROM workorder.inbox WHERE channel_ref = 'BROKEN-2'), 4, '... and are tried');
SELECT throws_ok($$INSERT INTO workorder.settings VALUES ('inbox_retry_base', '0', 'no wait')$$, 'WO010', NULL,
                 'an inbox_retry_base under a second is refused (failing rows were due again at once)');
-- The worker's task is due again when the first retry is, not every second.
SELECT results_eq($$SELECT (t).rows, (t).next_due = (SELECT min(retry_at) FROM workorder.inbox WHERE state = 'pending')
                      FROM (SELECT workorder.task_drain_inbox() t) x$$,
                  $$VALUES (0, true)$$,
                  'with only rows waiting for a retry, the drain task is next due when the first of them is');
-- A batch in which a row failed for a reason not its own is full all the same: with
-- rows never tried behind it, the task is due again at once.  (Counted by its rows
-- accepted and rejected, it was a partial batch, and the drain waited a second
-- between batches: transient failures of 1 % of the rows cut its rate to a third.)
INSERT INTO workorder.settings VALUES ('drain_batch_rows', '2', 'inbox_test');
UPDATE workorder.inbox SET retry_at = clock_timestamp() - interval '1 second' WHERE channel_ref = 'BROKEN-1';
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
SELECT 'hotline', 'BEHIND-' || i, '0301', '摊贩', '122.05', '30.05' FROM generate_series(1, 3) i;
SELECT results_eq($$SELECT (t).rows, (t).next_due = now() FROM (SELECT workorder.task_drain_inbox() t) x$$,
                  $$VALUES (1, true)$$,
                  'a batch of two whose row due again failed once more took one row behind it, and is due again at once');
SELECT accepted AS behind_drained FROM workorder.drain_inbox(10) \gset
DELETE FROM workorder.settings WHERE name = 'drain_batch_rows';
-- A drain works through its rows for drain_time_budget: the rows it has not reached
-- by then stay pending, untouched, for the next one.  (A batch of rows each waiting
-- for a lock held the worker, and every task behind the drain, until the task's
-- timeout cancelled it with its rows' retry bookkeeping.)  Here the first row takes
-- a second and a tenth, and the budget is its default, a second: until it commits, a
-- drain holds what its rows locked (the dedup cell of each place), and a direct
-- submit() at the same place waited out the old default, 30 seconds.
CREATE FUNCTION pg_temp.slow_first() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.channel_ref = 'SLOW-1' THEN
        PERFORM pg_sleep(1.1);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER inbox_test_slow_first BEFORE INSERT ON workorder.orders
    FOR EACH ROW EXECUTE FUNCTION pg_temp.slow_first();
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
SELECT 'hotline', 'SLOW-' || i, '0301', '摊贩', '122.05', '30.05' FROM generate_series(1, 3) i;
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox(10)$$, $$VALUES (1, 0)$$,
                  'a drain whose first row outlasts the default drain_time_budget stops after it');
SELECT results_eq($$SELECT channel_ref, state, attempts, retry_at FROM workorder.inbox WHERE channel_ref LIKE 'SLOW-%' ORDER BY 1$$,
                  $$VALUES ('SLOW-1', 'accepted', 0, NULL::timestamptz), ('SLOW-2', 'pending', 0, NULL), ('SLOW-3', 'pending', 0, NULL)$$,
                  '... the rows it did not reach stay pending, untouched');
DROP TRIGGER inbox_test_slow_first ON workorder.orders;
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox(10)$$, $$VALUES (2, 0)$$,
                  '... and the next drain takes them');
DROP TRIGGER inbox_test_fail_broken ON workorder.orders;
UPDATE workorder.inbox SET retry_at = clock_timestamp() - interval '1 second' WHERE channel_ref LIKE 'BROKEN-%';
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (3, 0)$$,
                  'once the cause is mended, the rows are accepted when they are next due');
SELECT is((SELECT (workorder.task_drain_inbox()).next_due), NULL,
          'with nothing pending, the drain task has nothing scheduled');
DELETE FROM workorder.settings WHERE name IN ('inbox_retry_base', 'inbox_retry_max');

-- A huge bad value: the row is rejected with a reason of at most 2000 characters
-- (PostgreSQL's message quotes the value whole: it was megabytes long).
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'M-HUGE', '0301', '摊贩', repeat('9', 1000000) || 'x', '30.05');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (0, 1)$$,
                  'a row with a megabyte of bad longitude is rejected');
SELECT is((SELECT length(error_message) <= 2000 AND error_message LIKE 'inbox column lon is not %'
             FROM workorder.inbox WHERE channel_ref = 'M-HUGE'), true,
          '... with a reason of at most 2000 characters that names the column');

-- A coordinate in C's hexadecimal form is no number of degrees (PostgreSQL's cast
-- read '0x10' as 16, and the row became an order at longitude 16).
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'M-HEX', '0301', '摊贩', '0x10', '30.05'), ('hotline', 'M-HEXF', '0301', '摊贩', '122.05', '0x1Ep0'),
       ('hotline', 'M-EXP', '0301', '摊贩', ' 1.2205e2 ', '+30.05');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (1, 2)$$,
                  'coordinates in hexadecimal are rejected; one with an exponent and a sign is accepted');
SELECT results_eq($$SELECT channel_ref, state, error_code, error_message FROM workorder.inbox
                     WHERE channel_ref IN ('M-HEX', 'M-HEXF') ORDER BY channel_ref$$,
                  $$VALUES ('M-HEX', 'rejected', '22P02',
                            'inbox column lon is not a number (degrees of longitude): ''0x10''. The value does not convert: invalid input syntax for a decimal number: "0x10".'),
                           ('M-HEXF', 'rejected', '22P02',
                            'inbox column lat is not a number (degrees of latitude): ''0x1Ep0''. The value does not convert: invalid input syntax for a decimal number: "0x1Ep0".')$$,
                  '... each with the column and the value');

-- What a Chinese server writes: CST is China Standard Time (PostgreSQL reads it as
-- US Central, 14 hours off), and priorities padded with any blank submit() trims.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat, occurred_at, priority)
VALUES ('hotline', 'M-CST', '0301', '摊贩', '121.05', '30.05', 'Thu Oct 15 23:21:26 CST 2026', E'urgent\u3000'),
       ('hotline', 'M-TAB', '0301', '摊贩', '121.05', '30.05', NULL, E'\tHigh\r');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (2, 0)$$,
                  'a CST time and priorities with a tab, a CR or an ideographic space are accepted');
SELECT results_eq($$SELECT o.occurred_at, o.priority::text FROM workorder.inbox i JOIN workorder.orders o ON o.id = i.order_id
                     WHERE i.channel_ref IN ('M-CST', 'M-TAB') ORDER BY i.channel_ref$$,
                  $$VALUES (timestamptz '2026-10-15 23:21:26+08', 'urgent'), (NULL, 'high')$$,
                  '... as Beijing time and as the priority they name');

-- A row is received when it came into the inbox, not when it is drained: a row
-- that waited (a worker down, a retry, a drain after midnight) keeps its deadlines.
-- Its ticket is of the day it is made (a day long past may have no numbers left).
-- A received_at ahead of the drain is taken as the drain's.
INSERT INTO workorder.inbox (received_at, channel, channel_ref, category, description, lon, lat)
VALUES (now() - interval '26 hours', 'hotline', 'M-WAITED', '0301', '渡口旁有流动摊贩', '122.05', '30.15'),
       (now() + interval '1 hour', 'hotline', 'M-AHEAD', '0301', '桥下有人卖菜', '122.15', '30.05');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (2, 0)$$, 'two rows, one that waited');
SELECT results_eq($$SELECT o.received_at = i.received_at, e.at = i.received_at,
                           o.ticket::text LIKE to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-%'
                      FROM workorder.inbox i JOIN workorder.orders o ON o.id = i.order_id
                      JOIN workorder.order_events e ON e.order_id = o.id AND e.seq = 1
                     WHERE i.channel_ref = 'M-WAITED'$$,
                  $$VALUES (true, true, true)$$,
                  'the order that waited is received when its row came in (its row, its submit event), its ticket is of today');
SELECT results_eq($$SELECT o.status::text, o.resolve_due_at = workorder.deadline_after(i.received_at, p.resolve_clock, p.resolve_amount, p.calendar_code)
                      FROM workorder.inbox i JOIN workorder.orders o ON o.id = i.order_id
                      JOIN workorder.sla_policies p ON p.name = o.sla_policy WHERE i.channel_ref = 'M-WAITED'$$,
                  $$VALUES ('dispatched', true)$$,
          '... and its resolve deadline counts from then');
SELECT results_eq($$SELECT e.at = now(), o.accept_due_at = workorder.deadline_after(now(), p.accept_clock, p.accept_amount, p.calendar_code),
                           o.accept_due_at > now()
                      FROM workorder.inbox i JOIN workorder.orders o ON o.id = i.order_id
                      JOIN workorder.order_events e ON e.order_id = o.id AND e.action = 'dispatch'
                      JOIN workorder.sla_policies p ON p.name = o.sla_policy WHERE i.channel_ref = 'M-WAITED'$$,
                  $$VALUES (true, true, true)$$,
          '... while it is dispatched when it is made (its dispatch event), and its accept deadline counts from then: it was overdue for acceptance before the order existed');
SELECT is((SELECT o.received_at FROM workorder.inbox i JOIN workorder.orders o ON o.id = i.order_id
            WHERE i.channel_ref = 'M-AHEAD'), now(), 'a received_at ahead of the drain is taken as the drain''s start');
-- The time set for a submit() reaches only a submit() of the same subtransaction.
SELECT workorder.intake_received_at(now() - interval '5 hours') IS NULL AS set_aside \gset
SAVEPOINT other;
SELECT is((workorder.submit('hotline', 'M-OTHER', '0301', '路边摆摊', lon => 121.05, lat => 30.06)).received_at, now(),
          'a time set in another subtransaction does not reach submit()');
RELEASE SAVEPOINT other;
SELECT ok(NOT has_function_privilege('workorder_intake', 'workorder.intake_received_at(timestamptz)', 'EXECUTE')
          AND NOT has_function_privilege('workorder_dispatcher', 'workorder.intake_received_at(timestamptz)', 'EXECUTE'),
          'connectors and dispatchers may not date a report: only admins set a receipt time');

-- The earliest row of a reference makes its order, also when a later row spells
-- the reference with blanks that submit() trims (sorted untrimmed, the later
-- ' M-TRIM' came first and made the order; the earlier row became its retry).
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'M-TRIM', '0301', '第一份：桥头有人摆摊', '122.05', '30.05'),
       ('hotline', ' M-TRIM', '0301', '第二份：另一处', '122.06', '30.06');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (1, 1)$$,
                  'two rows of one reference, the later with a leading blank and another report');
SELECT results_eq($$SELECT description, state, error_code FROM workorder.inbox
                     WHERE channel_ref IN ('M-TRIM', ' M-TRIM') ORDER BY id$$,
                  $$VALUES ('第一份：桥头有人摆摊'::text, 'accepted'::text, NULL::text),
                           ('第二份：另一处', 'rejected', 'WO308')$$,
                  '... the earlier makes the order, and the later is refused as another report under its reference');
SELECT results_eq($$SELECT o.description, count(DISTINCT i.order_id) FROM workorder.inbox i
                      JOIN workorder.orders o ON o.id = i.order_id
                     WHERE i.channel_ref IN ('M-TRIM', ' M-TRIM') GROUP BY o.description$$,
                  $$VALUES ('第一份：桥头有人摆摊'::text, 1::bigint)$$,
                  '... make one order, of the earlier row''s report');

-- A retry a column of which does not convert is still a retry when what can be
-- compared is its order's: the description and category (trimmed, as submit()
-- compares them), and the place when lon and lat convert.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'P-1 ', ' 0301', '已经直接提交 ', '122,05', '30,05'),
       ('hotline', 'M-NOTRETRY', '0301', '坐标写错', '122,05', '30,05');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (1, 1)$$,
                  'a retry with a bad coordinate, and a new report with one');
SELECT results_eq($$SELECT i.state, i.order_id = d.id, i.error_code FROM workorder.inbox i, direct d
                     WHERE i.channel_ref = 'P-1 ' AND d.channel_ref = 'P-1'$$,
                  $$VALUES ('accepted'::text, true, NULL::text)$$,
                  '... the retry is accepted with its order, no error');
SELECT results_eq($$SELECT state, error_code FROM workorder.inbox WHERE channel_ref = 'M-NOTRETRY'$$,
                  $$VALUES ('rejected'::text, '22P02'::text)$$,
                  '... the new report is rejected for its coordinate');
-- Another report under a used reference (the connector's counter started again)
-- with a column that does not convert is not taken for the retry: it was accepted
-- with the order of the reference's first report, and lost.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat, occurred_at, priority)
VALUES ('hotline', 'P-1', '0301', '小区门口积水严重', 'east', '30.05', NULL, NULL),
       ('hotline', 'P-1', '0999', '已经直接提交', '122.05', '30.05', NULL, 'bogus'),
       ('hotline', 'P-1', '0301', '已经直接提交', '122.15', '30.05', 'garbage', NULL);
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (0, 3)$$,
                  'another description, another category, or another place under a used reference, each with a column that does not convert');
SELECT results_eq($$SELECT state, order_id, substring(error_message FROM '^inbox column \w+') FROM workorder.inbox
                     WHERE channel_ref = 'P-1' AND (lon = 'east' OR priority = 'bogus' OR occurred_at = 'garbage')
                     ORDER BY id$$,
                  $$VALUES ('rejected'::text, NULL::bigint, 'inbox column lon'::text),
                           ('rejected', NULL, 'inbox column priority'),
                           ('rejected', NULL, 'inbox column occurred_at')$$,
                  '... are rejected for that column, with no order');

-- Only blanks are trimmed from the reference: E'\v' is the letter v in PostgreSQL,
-- and a trim set written with it took the v off 'M-inv', whose retry became the
-- retry of 'M-in'.
SELECT (workorder.submit('hotline', 'M-in', '0301', '桥头摆摊', lon => 122.05, lat => 30.05)).id AS m_in \gset
SELECT (workorder.submit('hotline', 'M-inv', '0301', '桥尾摆摊', lon => 122.05, lat => 30.06)).id AS m_inv \gset
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'M-inv', '0301', '桥尾摆摊', '122,05', '30,06');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (1, 0)$$,
                  'a retry of M-inv with a bad coordinate');
SELECT is((SELECT order_id FROM workorder.inbox WHERE channel_ref = 'M-inv'), :m_inv::bigint,
          '... is accepted with the order of M-inv, not of M-in');

-- A rejection keeps its error's hint, what to do, for the connector to read back.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'M-HINT', '0301', '   ', '122.05', '30.05');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (0, 1)$$, 'a report without a description');
SELECT results_eq($$SELECT error_code, error_hint FROM workorder.inbox_mine WHERE channel_ref IN ('M-HINT', 'M-NOTRETRY', 'P-1 ')
                     ORDER BY channel_ref$$,
                  $$VALUES ('WO303'::text, 'Every report needs a description.'::text),
                           ('22P02', 'Correct lon and insert the report again, with the same channel_ref.'),
                           (NULL, NULL)$$,
                  '... keeps submit()''s hint, a coordinate that does not convert says which column to correct, an accepted row has none');

-- Only the owner drains; PUBLIC gets nothing.
CREATE ROLE inbox_test_nobody;
SET LOCAL ROLE inbox_test_nobody;
SELECT throws_ok($$SELECT * FROM workorder.drain_inbox()$$, '42501', NULL, 'a role without a grant may not drain the inbox');
SELECT throws_ok($$INSERT INTO workorder.inbox (channel) VALUES ('hotline')$$, '42501', NULL,
                 '... nor write to it (connectors get INSERT through the intake role)');
RESET ROLE;

-- An event time more than an hour after the row was received is implausible (the
-- event cannot follow its report), and the message says so: it said "no later than
-- an hour from now", of a time already past.
INSERT INTO workorder.inbox (received_at, channel, channel_ref, category, description, lon, lat, occurred_at)
VALUES (now() - interval '5 hours', 'hotline', 'M-LATE-EVENT', '0301', '渡口旁有流动摊贩', '122.05', '30.15',
        (now() - interval '1 hour')::text);
SELECT count(*) FROM workorder.drain_inbox() \gset
SELECT is((SELECT ROW(state, error_code, error_message ~ 'no later than an hour after the report was received')::text
             FROM workorder.inbox WHERE channel_ref = 'M-LATE-EVENT'),
          ROW('rejected', 'WO304', true)::text,
          'an event time over an hour after the row was received is rejected, and the message says after what');

-- Blanks around a channel code, or the byte order mark a spreadsheet's CSV begins
-- with, are not part of the code, as they are not of the reference: the row is its
-- channel's, and a retry of it is the same report.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES (E'\ufeffhotline', 'M-BOM', '0301', '渡口旁有流动摊贩', E'122.05\u00a0', E'\t30.15'),
       (' hotline ', ' M-BOM', '0301', '渡口旁有流动摊贩', '122.05', '30.15');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (2, 0)$$,
                  'a channel with a byte order mark or blanks around it is the channel, and a no-break space after a longitude is no part of it');
SELECT is((SELECT pg_catalog.count(DISTINCT i.order_id)::integer FROM workorder.inbox i WHERE i.channel_ref IN ('M-BOM', ' M-BOM')), 1,
          '... and the second row, the same report, is the first''s order');
SELECT is((SELECT o.channel_code FROM workorder.orders o WHERE o.channel_ref = 'M-BOM'), 'hotline',
          '... which is an order of channel hotline');

-- An event time written as a word PostgreSQL reads as a time is no event time: 'now'
-- was the time of the drain.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat, occurred_at)
VALUES ('hotline', 'M-NOW', '0301', '渡口旁有流动摊贩', '122.05', '30.15', ' now '),
       ('hotline', 'M-TODAY', '0301', '渡口旁有流动摊贩', '122.05', '30.15', 'Today 08:30'),
       ('hotline', 'M-JULIAN', '0301', '渡口旁有流动摊贩', '122.05', '30.15', 'J2461372'),
       ('hotline', 'M-JULIAN-2', '0301', '渡口旁有流动摊贩', '122.05', '30.15', 'julian 2461372'),
       ('hotline', 'M-JULIAN-3', '0301', '渡口旁有流动摊贩', '122.05', '30.15', 'JD 2461372'),
       ('hotline', 'M-MONTHS', '0301', '渡口旁有流动摊贩', '122.05', '30.15', 'Tue Jun 2 08:30:00 CST 2026');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (1, 5)$$,
                  'an occurred_at of now, of today 08:30 or a Julian day is rejected; one with the names of a day and a month is taken');
SELECT is((SELECT string_agg(error_code, ',') FROM workorder.inbox
            WHERE channel_ref IN ('M-NOW', 'M-TODAY', 'M-JULIAN', 'M-JULIAN-2', 'M-JULIAN-3')), '22007,22007,22007,22007,22007',
          '... as a column that does not convert');

-- A reference of 4 kB that does not compress (a connector's bug) is stored with the
-- good rows of its batch and rejected by the drain (WO302): the btree index on the
-- reference refused it with a bare 54000, and the whole batch was lost.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
SELECT 'hotline', ref, '0301', '渡口旁有流动摊贩', '122.05', '30.15'
  FROM (VALUES ('M-BEFORE-LONG'),
               ((SELECT string_agg(md5(g::text), '') FROM generate_series(1, 128) g)),
               ('M-AFTER-LONG')) v(ref);
SELECT is((SELECT count(*)::integer FROM workorder.inbox WHERE channel_ref IN ('M-BEFORE-LONG', 'M-AFTER-LONG')
                                                        OR length(channel_ref) = 4096), 3,
          'a batch holding a 4 kB reference is stored whole');
SELECT results_eq($$SELECT accepted, rejected FROM workorder.drain_inbox()$$, $$VALUES (2, 1)$$,
                  '... and drained: the good rows accepted');
SELECT is((SELECT error_code FROM workorder.inbox WHERE length(channel_ref) = 4096), 'WO302',
          '... the long reference rejected as an invalid reference');

SELECT * FROM finish();
ROLLBACK;
