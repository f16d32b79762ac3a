-- Video-AI detections: properties of ingest on a random batch of good and bad rows
-- (every inbox row ends either ingested or rejected, exactly once; the aggregates
-- count exactly the confident detections; one order per aggregate over its
-- threshold), bad rules (WO852) and batch sizes (WO853), a time without a UTC
-- offset is Beijing time whatever the session's TimeZone, and permissions.
\set QUIET 1
SET client_min_messages = warning;
-- Another session, for the isolation check below (a dblink connection).
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT format('dbname=%s port=%s host=%s user=%s', current_database(), current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1), current_user) AS other \gset
BEGIN;
SELECT plan(60);

\o /dev/null
\i test/fixtures/issue6_map.sql
\o

-- Bad rules.
SELECT throws_ok($$INSERT INTO workorder.detection_rules (kind, min_count) VALUES ('no_helmet', 0)$$,
                 'WO852', NULL, 'a min_count of 0 is refused with WO852');
SELECT throws_ok($$INSERT INTO workorder.detection_rules (kind, "window") VALUES ('no_helmet', '10 seconds')$$,
                 'WO852', NULL, 'a window under a minute is refused');
SELECT throws_ok($$INSERT INTO workorder.detection_rules (kind, cell_m) VALUES ('no_helmet', 55.5)$$,
                 'WO852', NULL, 'a cell size that is not whole metres is refused');
SELECT throws_ok($$INSERT INTO workorder.detection_rules (kind, min_confidence) VALUES ('no_helmet', 2)$$,
                 'WO852', NULL, 'a min_confidence over 1 is refused');
SELECT throws_ok($$INSERT INTO workorder.detection_rules (kind) VALUES ('')$$,
                 'WO852', NULL, 'an empty kind is refused');

-- Bad batch sizes.
SELECT throws_ok($$SELECT * FROM workorder.ingest_detections(0)$$, 'WO853', NULL, 'max_rows 0 is refused with WO853');
SELECT throws_ok($$SELECT * FROM workorder.ingest_detections(NULL)$$, 'WO853', NULL, 'a NULL max_rows is refused');
SELECT throws_ok($$SELECT * FROM workorder.ingest_detections(1000001)$$, 'WO853', NULL, 'max_rows over 1000000 is refused');

-- A random batch of 2000 rows: riders at 20 crossings over two hours, one row in
-- about 25 bad in one of several ways, confidences from 0.3 to 1.
INSERT INTO workorder.detection_rules (kind, min_count, "window", cell_m, min_confidence)
VALUES ('no_helmet', 8, '30 minutes', 100, 0.6);
SELECT setseed(0.25);
-- (Inside this transaction only: what the database already holds is set aside.)
DELETE FROM workorder.detection_inbox;
DELETE FROM workorder.detections;
DELETE FROM workorder.detection_rejects;
DELETE FROM workorder.detection_aggregates;
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, attributes)
SELECT 'cam-' || (g % 20),
       CASE WHEN g % 97 = 0 THEN '' WHEN g % 3 = 0 THEN 'wrong_way' ELSE 'no_helmet' END,
       CASE WHEN g % 89 = 0 THEN 'soon' ELSE to_char(timestamp '2026-10-16 08:00' + random() * interval '2 hours', 'YYYY-MM-DD HH24:MI:SS') END,
       CASE WHEN g % 83 = 0 THEN '113,05' ELSE (115.01 + (g % 20) * 0.008 + random() * 0.0003)::text END,
       CASE WHEN g % 79 = 0 THEN '-91' ELSE (24.01 + (g % 20) * 0.008 + random() * 0.0003)::text END,
       CASE WHEN g % 73 = 0 THEN 'high' ELSE round((0.3 + random() * 0.7)::numeric, 2)::text END,
       CASE WHEN g % 71 = 0 THEN '"text"' WHEN g % 2 = 0 THEN '{"speed": 25}' END
  FROM generate_series(1, 2000) g;
CREATE TEMP TABLE batch AS SELECT * FROM workorder.detection_inbox;
-- In batches of 300, as the task would take them.
CREATE TEMP TABLE runs AS SELECT * FROM workorder.ingest_detections(300);
INSERT INTO runs SELECT * FROM workorder.ingest_detections(300) UNION ALL SELECT * FROM workorder.ingest_detections(300)
                 UNION ALL SELECT * FROM workorder.ingest_detections(300) UNION ALL SELECT * FROM workorder.ingest_detections(300)
                 UNION ALL SELECT * FROM workorder.ingest_detections(300) UNION ALL SELECT * FROM workorder.ingest_detections(300);

SELECT is_empty($$SELECT 1 FROM workorder.detection_inbox$$, 'every inbox row has left the inbox');
SELECT is((SELECT count(*) FROM batch),
          (SELECT count(*) FROM workorder.detections) + (SELECT count(*) FROM workorder.detection_rejects),
          'every row is either ingested or rejected ...');
SELECT is_empty($$SELECT id FROM workorder.detections INTERSECT SELECT id FROM workorder.detection_rejects$$, '... never both');
SELECT is((SELECT sum(ingested + rejected)::bigint FROM runs), (SELECT count(*) FROM batch), '... and the returned counts say so');
SELECT set_eq($$SELECT id FROM workorder.detection_rejects$$,
              $$SELECT id FROM batch WHERE ((id - (SELECT min(id) FROM batch) + 1) % 97 = 0 OR (id - (SELECT min(id) FROM batch) + 1) % 89 = 0
                       OR (id - (SELECT min(id) FROM batch) + 1) % 83 = 0 OR (id - (SELECT min(id) FROM batch) + 1) % 79 = 0
                       OR (id - (SELECT min(id) FROM batch) + 1) % 73 = 0 OR (id - (SELECT min(id) FROM batch) + 1) % 71 = 0)$$,
              'exactly the bad rows are rejected');
SELECT is_empty($$SELECT 1 FROM workorder.detection_rejects WHERE error_code IS NULL OR error_message NOT LIKE 'detection column %'$$,
                'every rejection names the column');
SELECT is((SELECT sum(detections)::bigint FROM workorder.detection_aggregates),
          (SELECT count(*) FROM workorder.detections d
             LEFT JOIN workorder.detection_rules r ON r.kind = d.kind
            WHERE d.confidence >= COALESCE(r.min_confidence, 0.5)),
          'the aggregates count exactly the confident detections');
SELECT is_empty($$SELECT 1 FROM workorder.detections d JOIN workorder.detection_aggregates a ON a.id = d.aggregate_id
                   WHERE a.kind <> d.kind OR d.detected_at < a.bucket_start OR d.detected_at >= a.bucket_start + a."window"$$,
                'each counted detection is in its aggregate''s kind and bucket');
SELECT results_eq($$SELECT count(*) FILTER (WHERE detections >= threshold), count(order_id) FROM workorder.detection_aggregates$$,
                  $$SELECT count(*), count(DISTINCT o.id) FROM workorder.orders o WHERE o.channel_code = 'video_ai' AND o.received_at = now()$$,
                  'one order for each aggregate over its threshold, and no other');

-- A time without a UTC offset is Beijing time, whatever the session's TimeZone.
SET LOCAL TimeZone = 'America/New_York';
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence)
VALUES ('cam-tz', 'no_helmet', '2026-10-16 08:00:00', '115.05', '24.05', '0.9');
\o /dev/null
SELECT * FROM workorder.ingest_detections();
\o
SELECT is((SELECT detected_at FROM workorder.detections WHERE camera_id = 'cam-tz'), timestamptz '2026-10-16 08:00:00+08',
          'a detection time without an offset is read as Beijing time');
RESET TimeZone;

-- A value too deep to convert (attributes nested 30000 levels, within 64 kB: the
-- stack depth) is that row's fault: it is rejected and the rows around it are
-- ingested.  It used to fail every batch that held it, for good (54001).
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, attributes)
SELECT 'cam-deep', 'no_helmet', '2026-10-16 09:00:00', '115.05', '24.05', '0.9',
       CASE WHEN g = 3 THEN '{"a": ' || repeat('[', 30000) || repeat(']', 30000) || '}' END
  FROM generate_series(1, 5) g;
\o /dev/null
SELECT * FROM workorder.ingest_detections();
\o
SELECT is((SELECT count(*)::integer FROM workorder.detections WHERE camera_id = 'cam-deep'), 4,
          'a row nested too deep to convert is set aside, and the four good rows around it are ingested');
SELECT is((SELECT error_code FROM workorder.detection_rejects WHERE raw->>'camera_id' = 'cam-deep'), '54001',
          '... and the deep row is rejected with its SQLSTATE');

-- A value longer than any column takes is rejected by its length, before it is
-- read: a camera id of 140 million characters failed the batch with an error no
-- reject handled (XX000, out of memory in the check for control characters), and
-- every later ingest claimed it first again, so nothing after it was ingested.
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence)
SELECT CASE WHEN g = 2 THEN repeat('c', 140000000) ELSE 'cam-long-' || g END, 'no_helmet', '2026-10-16 09:00:00',
       '115.05', '24.05', '0.9'
  FROM generate_series(1, 3) g;
SELECT results_eq($$SELECT ingested, rejected FROM workorder.ingest_detections()$$, $$VALUES (2, 1)$$,
                  'a row with a camera id of 140 million characters is rejected, and the rows around it are ingested');
SELECT results_eq($$SELECT error_code, error_message, length(raw->>'camera_id') FROM workorder.detection_rejects
                     WHERE raw->>'camera_id' LIKE 'ccc%'$$,
                  $$VALUES ('WO851'::text, 'detection column camera_id is too long: 140000000 bytes, of at most 1024. Fix the row at its source and COPY it again.'::text, 200)$$,
                  '... as too long, keeping the beginning of the value');

-- Times a camera reports after its clock was reset (2000-01-01 00:00, all of them in
-- one bucket: they raised a dispatched order dated 2000) and words PostgreSQL reads
-- as times ('now' was the time of the ingest) are refused; with detection_max_age
-- set, so is a detection older than that.  A confidence too small for real is 0
-- (1e-50 was a value out of range), and blanks submit() trims are not part of a
-- reference (a retry with a no-break space after it was counted again).
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, detection_ref)
VALUES ('cam-reset', 'no_helmet', '2000-01-01 00:00:00', '115.05', '24.05', '0.9', NULL),
       ('cam-words', 'no_helmet', 'now', '115.05', '24.05', '0.9', NULL),
       ('cam-words', 'no_helmet', ' Yesterday ', '115.05', '24.05', '0.9', NULL),
       ('cam-words', 'no_helmet', 'today 00:30', '115.05', '24.05', '0.9', NULL),
       ('cam-words', 'no_helmet', 'J2461372', '115.05', '24.05', '0.9', NULL),
       ('cam-old', 'no_helmet', (now() - interval '3 days')::text, '115.05', '24.05', '0.9', NULL),
       ('cam-tiny', 'no_helmet', '2026-10-16 09:00:00', '115.05', '24.05', '1e-50', NULL),
       ('cam-nbsp', 'no_helmet', '2026-10-16 09:00:00', '115.05', '24.05', '0.9', 'evt-9'),
       (E'cam-nbsp\u00a0', 'no_helmet', '2026-10-16 09:00:00', '115.05', '24.05', '0.9', E'evt-9\u3000');
SELECT results_eq($$SELECT ingested, rejected FROM workorder.ingest_detections()$$, $$VALUES (4, 5)$$,
                  'a clock-reset time and time words are rejected; an old one, a tiny confidence and a padded retry are taken in');
SELECT results_eq($$SELECT raw->>'camera_id', raw->>'detected_at', error_code FROM workorder.detection_rejects
                     WHERE raw->>'camera_id' IN ('cam-reset', 'cam-words') ORDER BY id$$,
                  $$VALUES ('cam-reset'::text, '2000-01-01 00:00:00'::text, 'WO851'::text), ('cam-words', 'now', '22007'),
                           ('cam-words', ' Yesterday ', '22007'), ('cam-words', 'today 00:30', '22007'),
                           ('cam-words', 'J2461372', '22007')$$,
                  '... the reset time as not valid (WO851), the words and the Julian day as not converting (22007)');
SELECT results_eq($$SELECT camera_id, confidence FROM workorder.detections WHERE camera_id IN ('cam-tiny', 'cam-nbsp') ORDER BY id$$,
                  $$VALUES ('cam-tiny'::text, 0::real), ('cam-nbsp', 0.9::real)$$,
                  '... the tiny confidence is stored as 0, and the padded retry is the detection already stored');
INSERT INTO workorder.settings VALUES ('detection_max_age', '2 days', 'detections_test');
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence)
VALUES ('cam-old', 'no_helmet', (now() - interval '3 days')::text, '115.05', '24.05', '0.9');
SELECT results_eq($$SELECT ingested, rejected FROM workorder.ingest_detections()$$, $$VALUES (0, 1)$$,
                  'with detection_max_age 2 days, a detection three days old is rejected');
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, detection_ref)
VALUES ('cam-nbsp', 'no_helmet', '2026-10-16 09:00:00', '115.05', '24.05', '0.9', 'evt-9');
SELECT results_eq($$SELECT ingested, rejected FROM workorder.ingest_detections()$$, $$VALUES (1, 0)$$,
                  '... but a retry of a stored detection older than that is taken in as a retry (it was rejected as too old)');
SELECT is((SELECT count(*)::integer FROM workorder.detections WHERE camera_id = 'cam-nbsp'), 1, '... and not stored again');
DELETE FROM workorder.settings WHERE name = 'detection_max_age';

-- A time written with CST is China Standard Time, as Java platforms write it
-- (PostgreSQL reads US Central, 14 hours off); hexadecimal coordinates and
-- confidences (the cast reads '0x73' as 115) are refused.
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence)
VALUES ('cam-cst', 'no_helmet', 'Fri Oct 16 09:00:00 CST 2026', '115.05', '24.05', '0.9'),
       ('cam-hex', 'no_helmet', '2026-10-16 09:00:00', '0x73', '24.05', '0.9'),
       ('cam-hexc', 'no_helmet', '2026-10-16 09:00:00', '115.05', '24.05', '0x1p-1');
\o /dev/null
SELECT * FROM workorder.ingest_detections();
\o
SELECT is((SELECT detected_at FROM workorder.detections WHERE camera_id = 'cam-cst'), timestamptz '2026-10-16 09:00:00+08',
          'a detection time written with CST is Beijing time');
-- ... as are GMT+8 and UTC+08:00 (PostgreSQL reads them the POSIX way, eight hours
-- west: 16 hours off) and a CST glued to the time, as cameras write it.
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence)
VALUES ('cam-gmt8', 'no_helmet', '2026-10-16 09:00:00 GMT+8', '115.05', '24.05', '0.9'),
       ('cam-utc0800', 'no_helmet', '2026-10-16 09:00:00 UTC+08:00', '115.05', '24.05', '0.9'),
       ('cam-utc800', 'no_helmet', '2026-10-16T09:00:00UTC+0800', '115.05', '24.05', '0.9'),
       ('cam-gluedcst', 'no_helmet', '2026-10-16 09:00:00CST', '115.05', '24.05', '0.9');
\o /dev/null
SELECT * FROM workorder.ingest_detections();
\o
SELECT is((SELECT string_agg(camera_id || ' ' || (detected_at = timestamptz '2026-10-16 09:00:00+08'), ', ' ORDER BY camera_id)
             FROM workorder.detections WHERE camera_id IN ('cam-gmt8', 'cam-utc0800', 'cam-utc800', 'cam-gluedcst')),
          'cam-gluedcst true, cam-gmt8 true, cam-utc0800 true, cam-utc800 true',
          'GMT+8, UTC+08:00, UTC+0800 and a glued CST are Beijing time too');
SELECT is((SELECT array_agg(workorder.time_text_offsets(v) ORDER BY n)
             FROM unnest(ARRAY['Thu Nov 26 23:21:26 cst 2026', '09:00 UTC-5', '09:00 GMT +8', '09:00 UTC+800',
                               '09:00 UTC', '09:00Z', '09:00 CSTX', 'xCST', '09:00 UTC+123', '中国CST时间', '09:00 CST6CDT']) WITH ORDINALITY u(v, n)),
          ARRAY['Thu Nov 26 23:21:26 +08 2026', '09:00 -5', '09:00 +8', '09:00 +8:00',
                '09:00 UTC', '09:00Z', '09:00 CSTX', 'xCST', '09:00 +1:23', '中国+08时间', '09:00 CST6CDT'],
          'time_text_offsets mends CST in any case and GMT/UTC with a sign, and leaves UTC, Z, other words and zone names (CST6CDT) alone');
SELECT is((SELECT string_agg(raw->>'camera_id' || ' ' || error_code, ', ' ORDER BY raw->>'camera_id') FROM workorder.detection_rejects
            WHERE raw->>'camera_id' IN ('cam-hex', 'cam-hexc')), 'cam-hex WO851, cam-hexc WO851',
          'hexadecimal coordinates and confidences are rejected');

-- A kind with a control character would make an order no channel_ref can name: it
-- is refused, in a rule and at ingest.
SELECT throws_ok($$INSERT INTO workorder.detection_rules (kind) VALUES (E'lane\tblock')$$,
                 'WO852', NULL, 'a rule''s kind with a control character is refused');
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence)
VALUES ('cam-ctl', E'lane\tblock', '2026-10-16 09:00:00', '115.05', '24.05', '0.9');
\o /dev/null
SELECT * FROM workorder.ingest_detections();
\o
SELECT is((SELECT error_code FROM workorder.detection_rejects WHERE raw->>'camera_id' = 'cam-ctl'), 'WO851',
          '... and so is a detection of such a kind');
-- So is a camera id with a control character (it was stored, and counted into an order).
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence)
VALUES (E'cam\u0001x', 'no_helmet', '2026-10-16 09:00:00', '115.05', '24.05', '0.9');
\o /dev/null
SELECT * FROM workorder.ingest_detections();
\o
SELECT results_eq($$SELECT error_code, (SELECT count(*) FROM workorder.detections WHERE camera_id = E'cam\u0001x')
                      FROM workorder.detection_rejects WHERE raw->>'camera_id' = E'cam\u0001x'$$,
                  $$VALUES ('WO851', 0::bigint)$$, 'a camera id with a control character is rejected (WO851), not stored');

-- Aggregates whose order failed wait behind new ones: a hundred that fail for good
-- (here an aggregate of a kind no channel_ref can hold, written before the check)
-- used to take every batch of raise_detection_orders, and a new one never got its
-- order.
INSERT INTO workorder.detection_aggregates (kind, cell_m, cell_x, cell_y, bucket_start, "window", threshold, detections,
                                            sum_lon, sum_lat, first_at, last_at, order_error)
SELECT E'lane\tblock', 100, g, g, '2026-10-16 08:00+08', '1 hour', 1, 1, 115.05, 24.05,
       '2026-10-16 08:00+08', '2026-10-16 08:00+08', 'failed before'
  FROM generate_series(1, 100) g;
INSERT INTO workorder.detection_aggregates (kind, cell_m, cell_x, cell_y, bucket_start, "window", threshold, detections,
                                            sum_lon, sum_lat, first_at, last_at)
VALUES ('no_helmet', 100, -7, -7, '2026-10-16 08:00+08', '30 minutes', 1, 1, 115.05, 24.05,
        '2026-10-16 08:00+08', '2026-10-16 08:00+08');
SELECT is(workorder.raise_detection_orders(100), 1,
          'with a hundred failed aggregates ahead of it, a new aggregate over its threshold gets its order');
SELECT isnt((SELECT order_id FROM workorder.detection_aggregates WHERE cell_x = -7), NULL, '... the new one');

-- A rule's window changed: the buckets of the new length are aggregates of their
-- own, even where one starts at the same instant as a bucket of the old length
-- (they used to count into the old aggregate, outside its bucket, and could raise
-- its order, which then named the wrong window).
INSERT INTO workorder.detection_rules (kind, min_count, "window", cell_m) VALUES ('wrong_way', 5, '10 minutes', 100);
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence)
VALUES ('cam-win', 'wrong_way', '2026-10-17 10:01:00', '116.5', '24.5', '0.9');
\o /dev/null
SELECT * FROM workorder.ingest_detections();
\o
UPDATE workorder.detection_rules SET "window" = '1 hour' WHERE kind = 'wrong_way';
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence)
SELECT 'cam-win', 'wrong_way', '2026-10-17 10:' || m || ':00', '116.5', '24.5', '0.9' FROM unnest(ARRAY[15, 25, 35, 45]) m;
\o /dev/null
SELECT * FROM workorder.ingest_detections();
\o
SELECT results_eq($$SELECT a."window", a.detections, a.order_id IS NULL FROM workorder.detection_aggregates a
                     WHERE a.id IN (SELECT d.aggregate_id FROM workorder.detections d WHERE d.camera_id = 'cam-win')
                     ORDER BY a."window"$$,
                  $$VALUES (interval '10 minutes', 1, true), (interval '1 hour', 4, true)$$,
                  'after a window changes, the new buckets count apart from the old one, and neither reaches its threshold');
SELECT is_empty($$SELECT 1 FROM workorder.detections d JOIN workorder.detection_aggregates a ON a.id = d.aggregate_id
                   WHERE d.camera_id = 'cam-win' AND (d.detected_at < a.bucket_start OR d.detected_at >= a.bucket_start + a."window")$$,
                '... and every detection lies in its aggregate''s bucket');

-- A rule's min_count changed: the next detection of an open bucket is judged by the
-- new one (the bucket kept the count it was opened under: lowered, no order came).
INSERT INTO workorder.detection_rules (kind, min_count, "window", cell_m) VALUES ('smoke', 10, '1 hour', 100);
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence)
SELECT 'cam-th', 'smoke', '2026-10-18 10:0' || m || ':00', '116.6', '24.6', '0.9' FROM generate_series(1, 5) m;
\o /dev/null
SELECT * FROM workorder.ingest_detections();
\o
UPDATE workorder.detection_rules SET min_count = 3 WHERE kind = 'smoke';
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence)
VALUES ('cam-th', 'smoke', '2026-10-18 10:07:00', '116.6', '24.6', '0.9');
\o /dev/null
SELECT * FROM workorder.ingest_detections();
\o
SELECT results_eq($$SELECT a.detections, a.threshold, a.order_id IS NOT NULL FROM workorder.detection_aggregates a
                     WHERE a.kind = 'smoke'$$,
                  $$VALUES (6, 3, true)$$,
                  'a min_count lowered under an open bucket''s count raises its order at the bucket''s next detection');

-- A retried COPY (its acknowledgement lost) is taken in, not counted again: with a
-- detection_ref, three real detections are three however often they are sent (they
-- counted twice, and raised an order meant for six).
INSERT INTO workorder.detection_rules (kind, min_count, "window", cell_m) VALUES ('helmet_missing', 6, '10 minutes', 100);
CREATE TEMP TABLE resent AS
SELECT 'cam-r'::text AS camera_id, 'helmet_missing'::text AS kind, '2026-10-19 10:0' || g || ':00' AS detected_at,
       '116.7'::text AS lon, '24.7'::text AS lat, '0.9'::text AS confidence, 'evt-' || g AS detection_ref
  FROM generate_series(1, 3) g;
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, detection_ref)
SELECT * FROM resent;
SELECT results_eq($$SELECT ingested, rejected, orders FROM workorder.ingest_detections()$$, $$VALUES (3, 0, 0)$$,
                  'three detections with references are ingested');
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, detection_ref)
SELECT * FROM resent;
SELECT results_eq($$SELECT ingested, rejected, orders FROM workorder.ingest_detections()$$, $$VALUES (3, 0, 0)$$,
                  'sent again, they are taken in, and raise no order');
SELECT results_eq($$SELECT (SELECT count(*)::integer FROM workorder.detections WHERE camera_id = 'cam-r'),
                           (SELECT detections FROM workorder.detection_aggregates WHERE kind = 'helmet_missing')$$,
                  $$VALUES (3, 3)$$, '... stored and counted once');
-- One reference on four rows of one batch: the first is stored and its copy is its
-- retry; the two other detections sent under it are refused (taken in as retries,
-- they were lost without a trace).
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, detection_ref)
SELECT camera_id, kind, detected_at, lon, lat, confidence, 'evt-4' FROM resent
UNION ALL SELECT camera_id, kind, detected_at, lon, lat, confidence, 'evt-4' FROM resent WHERE detection_ref = 'evt-1';
SELECT results_eq($$SELECT ingested, rejected FROM workorder.ingest_detections()$$, $$VALUES (2, 2)$$,
                  'one reference on four rows of one batch: the first and its copy are taken in, two other detections rejected');
SELECT is((SELECT count(*)::integer FROM workorder.detections WHERE camera_id = 'cam-r'), 4, '... the first stored once');
SELECT results_eq($$SELECT raw->>'detected_at', error_code, error_message LIKE 'detection column detection_ref is not valid: ''evt-4''%'
                     FROM workorder.detection_rejects WHERE raw->>'camera_id' = 'cam-r' ORDER BY id$$,
                  $$VALUES ('2026-10-19 10:02:00'::text, 'WO851'::text, true), ('2026-10-19 10:03:00', 'WO851', true)$$,
                  '... the others rejected as WO851, naming the reference');
-- A camera whose counter restarted (a reboot) sends a new detection under a reference
-- already stored: it is rejected, with both detections in the message, and the
-- stored one stays as it was.
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, detection_ref)
VALUES ('cam-r', 'wrong_way', '2026-10-19 11:00:00', '116.8', '24.8', '0.95', 'evt-1');
SELECT results_eq($$SELECT ingested, rejected FROM workorder.ingest_detections()$$, $$VALUES (0, 1)$$,
                  'a new detection under a stored reference is rejected, not taken in as a retry');
SELECT is((SELECT error_message FROM workorder.detection_rejects WHERE raw->>'kind' = 'wrong_way' AND raw->>'camera_id' = 'cam-r'),
          'detection column detection_ref is not valid: ''evt-1''. The camera''s reference names another detection: helmet_missing at 2026-10-19 10:01:00+08 (116.7, 24.7), confidence 0.9; this row is wrong_way at 2026-10-19 11:00:00+08 (116.8, 24.8), confidence 0.95. A retry repeats a detection as it was sent; a new one needs a reference of its own.',
          '... naming both detections');
SELECT results_eq($$SELECT kind, detected_at FROM workorder.detections WHERE camera_id = 'cam-r' AND detection_ref = 'evt-1'$$,
                  $$VALUES ('helmet_missing'::text, '2026-10-19 10:01:00+08'::timestamptz)$$,
                  '... and the stored detection stays as it was');
-- The same reference from another camera is another detection; a reference with a
-- control character is rejected.
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, detection_ref)
VALUES ('cam-s', 'helmet_missing', '2026-10-19 10:05:00', '116.7', '24.7', '0.9', 'evt-1'),
       ('cam-s', 'helmet_missing', '2026-10-19 10:05:00', '116.7', '24.7', '0.9', E'evt\u0001');
SELECT results_eq($$SELECT ingested, rejected FROM workorder.ingest_detections()$$, $$VALUES (1, 1)$$,
                  'another camera''s reference is its own; a control character in one is rejected');
SELECT is((SELECT error_message LIKE 'detection column detection_ref %' FROM workorder.detection_rejects
            WHERE raw ->> 'camera_id' = 'cam-s'), true, '... naming the column');

-- Attributes over 64 kB are rejected, as submit() refuses them; a rule's kind with
-- blanks at its ends is refused (ingest trims a detection's kind: it never matched).
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, attributes)
VALUES ('cam-big', 'smoke', '2026-10-19 11:00:00', '116.8', '24.8', '0.9',
        json_build_object('blob', repeat('x', 70000))::text);
SELECT results_eq($$SELECT ingested, rejected FROM workorder.ingest_detections()$$, $$VALUES (0, 1)$$,
                  'a detection with attributes over 64 kB is rejected');
SELECT throws_ok($$INSERT INTO workorder.detection_rules (kind) VALUES (' smoke_2 ')$$, 'WO852', NULL,
                 'a rule''s kind with blanks at its ends is WO852');

-- Only the owner ingests; PUBLIC may neither COPY into the inbox nor read detections.
CREATE ROLE detections_test_nobody;
-- A day's window is the calendar day in Beijing time: four detections from 07:55 to
-- 08:02 yesterday count in one bucket, from midnight.  (Counted from the epoch, 08:00
-- in Beijing, they were two buckets of two, and a rush-hour burst raised no order.)
INSERT INTO workorder.detection_rules (kind, min_count, "window", cell_m) VALUES ('day_kind', 5, '1 day', 100);
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, detection_ref)
SELECT 'cam-day', 'day_kind', (((now() AT TIME ZONE 'Asia/Shanghai')::date - 1 + t) AT TIME ZONE 'Asia/Shanghai')::text,
       '115.05', '24.05', '0.9', 'day-' || t
  FROM unnest('{07:55,07:58,08:01,08:02}'::time[]) t;
\o /dev/null
SELECT * FROM workorder.ingest_detections();
\o
SELECT results_eq($$SELECT a.detections::integer, a.bucket_start = (((now() AT TIME ZONE 'Asia/Shanghai')::date - 1)::timestamp AT TIME ZONE 'Asia/Shanghai')
                     FROM workorder.detection_aggregates a WHERE a.kind = 'day_kind'$$,
                  $$VALUES (4, true)$$,
                  'a day''s window runs from midnight in Beijing time: 07:55 to 08:02 is one bucket (from the epoch it was two)');

-- A detection and its retry in one batch: the first is stored and the retry taken
-- in, and the batch stays one statement (the retry failed the unique key, and the
-- batch was halved down to single rows: 60 times a clean batch's time).
SET LOCAL track_functions = 'pl';
INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, detection_ref)
SELECT 'cam-rt', 'day_kind', (now() - interval '10 minutes' + i * interval '1 second')::text, '115.06', '24.06', '0.9', 'rt-' || i
  FROM generate_series(1, 20) i, generate_series(1, 2) k ORDER BY i, k;
SELECT results_eq($$SELECT ingested, rejected FROM workorder.ingest_detections()$$, $$VALUES (40, 0)$$,
                  'a batch of detections each followed by its retry is taken in whole');
SELECT is((SELECT count(*)::integer FROM workorder.detections WHERE camera_id = 'cam-rt'), 20, '... each detection stored once');
SELECT is((SELECT calls FROM pg_stat_xact_user_functions WHERE funcname = 'ingest_detection_rows'), 1::bigint,
          '... by one call of ingest_detection_rows: the batch was not split');

-- Ingest runs READ COMMITTED, as intake: under REPEATABLE READ it is WO307.  (An
-- ingest that waited for another's lock kept its snapshot from before, and failed
-- on the other's rows with a serialization error instead of seeing them.)
-- (A lock timeout in the other session: this transaction holds the ingests' lock.)
SELECT throws_ok(format($$SELECT * FROM dblink(%L, 'SET lock_timeout = ''2s''; BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT ingested FROM workorder.ingest_detections()') AS t(ingested integer)$$,
                        :'other'),
                 'WO307', NULL, 'ingest_detections() in a REPEATABLE READ transaction is WO307');

SET LOCAL ROLE detections_test_nobody;
SELECT throws_ok($$INSERT INTO workorder.detection_inbox (camera_id) VALUES ('x')$$, '42501', NULL,
                 'a role without a grant may not write to the detection inbox');
SELECT throws_ok($$SELECT * FROM workorder.ingest_detections()$$, '42501', NULL, '... nor ingest');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
