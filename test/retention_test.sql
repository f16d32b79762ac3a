-- Retention: the task purge_history deletes, from the tables that only pass things
-- through, what is past its setting's retention, and nothing else: settled inbox
-- rows, delivered and dead outbox messages, notifications, detections counted into
-- no aggregate, aggregates that can make no order (under their threshold, bucket
-- ended) with their detections, and detection rejects; never a pending inbox row, a
-- pending message, a detection an order counted or may still count, an order or an
-- event.  It works in batches
-- and asks to run again at once while a batch was full.  Everything is rolled back.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(26);
\o /dev/null
\i test/fixtures/intake_map.sql
\o

SELECT (workorder.submit('hotline', 'RET-1', '0301', '占道经营', lon => 121.03, lat => 31.05)).id AS first_order \gset
SELECT (workorder.submit('hotline', 'RET-2', '0301', '乱摆卖', lon => 121.04, lat => 31.06)).id AS second_order \gset
SELECT count(*) AS orders_before FROM workorder.orders \gset
SELECT count(*) AS events_before FROM workorder.order_events \gset
SELECT count(*) AS intake_messages FROM workorder.outbox \gset

-- The inbox: settled 40 days ago (accepted, rejected), settled yesterday, and one
-- received 40 days ago that is still pending.
INSERT INTO workorder.inbox (channel, channel_ref, description, state, order_id, error_code, error_message, received_at, processed_at)
VALUES ('hotline', 'IN-old-accepted', 'x', 'accepted', :first_order, NULL, NULL, now() - interval '41 days', now() - interval '40 days'),
       ('hotline', 'IN-old-rejected', 'x', 'rejected', NULL, 'WO303', 'blank', now() - interval '41 days', now() - interval '40 days'),
       ('hotline', 'IN-recent', 'x', 'accepted', :second_order, NULL, NULL, now() - interval '1 day', now() - interval '1 day'),
       ('hotline', 'IN-old-pending', 'x', 'pending', NULL, NULL, NULL, now() - interval '40 days', NULL);
-- The outbox: delivered and dead 40 days ago, pending since then, delivered 2 days
-- ago, and made 40 days ago but dead only since this morning (a connector that was
-- down for a month: its dead letters are for someone to read now).
INSERT INTO workorder.outbox (order_id, event_id, channel_code, channel_ref, kind, payload, state, attempts, created_at,
                              next_attempt_at, delivered_at, settled_at)
VALUES (:first_order, -1, 'hotline', 'RET-1', 'dispatch', '{}', 'delivered', 1, now() - interval '40 days', now() - interval '40 days', now() - interval '40 days', now() - interval '40 days'),
       (:first_order, -2, 'hotline', 'RET-1', 'accept', '{}', 'dead', 8, now() - interval '40 days', now() - interval '39 days', NULL, now() - interval '39 days'),
       (:first_order, -3, 'hotline', 'RET-1', 'resolve', '{}', 'pending', 0, now() - interval '40 days', now() + interval '1 hour', NULL, NULL),
       (:first_order, -4, 'hotline', 'RET-1', 'close', '{}', 'delivered', 1, now() - interval '2 days', now() - interval '2 days', now() - interval '2 days', now() - interval '2 days'),
       (:first_order, -5, 'hotline', 'RET-1', 'cancel', '{}', 'dead', 8, now() - interval '40 days', now() - interval '20 hours', NULL, now() - interval '20 hours');
-- 150 notifications 100 days old, two from today.
INSERT INTO workorder.notifications (order_id, kind, at, payload)
SELECT :first_order, 'overdue', now() - interval '100 days' - g * interval '1 minute', '{}'::jsonb FROM generate_series(1, 150) g
UNION ALL
SELECT :second_order, 'warning', now() - g * interval '1 minute', '{}'::jsonb FROM generate_series(1, 2) g;
-- Detections 100 days old, in aggregates (cells) of buckets 100 days old:
--   -1 in cell 1, whose aggregate made an order (its evidence);
--   -2 in cell 2, one of five needed, its hour long over: it can make no order;
--   -5 in cell 3, five of five, whose order failed (it is retried);
--   -6 in cell 4, one of five, in a bucket of 31 days that ended 69 days ago;
--   -3 below the confidence (in no aggregate);
-- and -4, of today, in no aggregate.
INSERT INTO workorder.detection_aggregates (kind, cell_m, cell_x, cell_y, bucket_start, "window", threshold, detections,
                                            sum_lon, sum_lat, first_at, last_at, order_id, order_error)
SELECT 'no_helmet', 200, v.cell, v.cell, now() - interval '100 days', v.span, 5, v.counted, 121, 31,
       now() - interval '100 days', now() - interval '100 days', v.made, v.error
  FROM (VALUES (1, interval '1 hour', 5, :second_order, NULL), (2, interval '1 hour', 1, NULL, NULL),
               (3, interval '1 hour', 5, NULL, 'no channel video_ai'), (4, interval '31 days', 1, NULL, NULL))
       v(cell, span, counted, made, error);
INSERT INTO workorder.detections (id, camera_id, kind, detected_at, location, confidence, attributes, received_at, aggregate_id)
SELECT v.id, 'cam', 'no_helmet', now() - v.age, ST_SetSRID(ST_MakePoint(121.03, 31.05), 4326), 0.9, '{}'::jsonb, now() - v.age,
       (SELECT a.id FROM workorder.detection_aggregates a WHERE a.cell_x = v.cell)
  FROM (VALUES (-1, interval '100 days', 1), (-2, interval '100 days', 2), (-5, interval '100 days', 3),
               (-6, interval '100 days', 4), (-3, interval '100 days', NULL), (-4, interval '1 hour', NULL)) v(id, age, cell);
INSERT INTO workorder.detection_rejects (id, received_at, rejected_at, raw, error_code, error_message)
VALUES (-1, now() - interval '100 days', now() - interval '100 days', '{}', 'WO851', 'bad'),
       (-2, now(), now(), '{}', 'WO851', 'bad');

INSERT INTO workorder.settings VALUES ('retention_batch_rows', '100', 'retention_test: small batches');

-- == The first pass: a batch of each table
SELECT results_eq($$SELECT ok, rows, detail, next_due IS NOT NULL FROM workorder.run_task('purge_history')$$,
    $$VALUES (true, 107, '2 inbox rows, 2 outbox messages, 100 notifications, 1 uncounted detections, 1 aggregates without an order (with their detections) and 1 detection rejects past their retention deleted', true)$$,
    'a pass deletes one batch of each table; the notifications filled theirs, so the task is due again at once');
SELECT is((SELECT string_agg(channel_ref, ',' ORDER BY channel_ref) FROM workorder.inbox), 'IN-old-pending,IN-recent',
          'the inbox keeps a row settled within the retention and a pending row, however old');
SELECT is((SELECT string_agg(kind || ':' || state, ',' ORDER BY event_id) FROM workorder.outbox WHERE event_id < 0),
          'cancel:dead,close:delivered,resolve:pending',
          'the outbox keeps a message delivered within the retention, one made long ago that died within it (counted from its death, not its making), and a pending one, however old');
SELECT is((SELECT count(*)::integer FROM workorder.notifications), 52, 'a hundred of the 150 old notifications went');
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM workorder.detections), '-6,-5,-4,-1',
          'detections: the old one in no aggregate went, and the one whose aggregate can make no order; an order''s evidence, one awaiting its order''s retry, one in a bucket still within the retention, and today''s remain');
SELECT is((SELECT string_agg(cell_x::text, ',' ORDER BY cell_x) FROM workorder.detection_aggregates), '1,3,4',
          'the aggregate that can make no order went with its detections; the others stay');

-- == The second pass finishes, and asks for nothing more
SELECT results_eq($$SELECT ok, rows, next_due IS NULL FROM workorder.run_task('purge_history')$$,
    $$VALUES (true, 50, true)$$, 'the next pass deletes the rest, and asks to run again only at the next pass');
SELECT is((SELECT string_agg(kind, ',') FROM workorder.notifications), 'warning,warning', 'only today''s notifications remain');
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM workorder.detections), '-6,-5,-4,-1', 'and the detections stay as they were');
SELECT is((SELECT string_agg(d.detection_id::text, ',') FROM workorder.order_detections d WHERE d.order_id = :second_order), '-1',
          '... so the order''s detections are still listed');
SELECT is((SELECT string_agg(id::text, ',') FROM workorder.detection_rejects), '-2', 'only today''s detection reject remains');
SELECT is((SELECT count(*) FROM workorder.detection_aggregates), 3::bigint, 'and so do the aggregates');
SELECT results_eq($$SELECT ok, rows, next_due IS NULL FROM workorder.run_task('purge_history')$$,
    $$VALUES (true, 0, true)$$, 'a pass with nothing to delete deletes nothing');
SELECT is((SELECT string_agg(rows::text, ',' ORDER BY id) FROM workorder.worker_runs WHERE task = 'purge_history'), '107,50',
          'the run log has the two passes that deleted rows, and not the one that did not');

-- == The record stays
SELECT is((SELECT count(*) FROM workorder.orders), :orders_before::bigint, 'no order was deleted');
SELECT is((SELECT count(*) FROM workorder.order_events), :events_before::bigint, 'no event was deleted');
SELECT is((SELECT count(*) FROM workorder.outbox WHERE event_id > 0), :intake_messages::bigint,
          'the messages intake made (pending, today''s) are untouched');

-- == The settings decide
INSERT INTO workorder.settings VALUES ('retention_outbox', '1 day', 'retention_test');
SELECT is((SELECT rows FROM workorder.run_task('purge_history')), 1, 'a shorter retention of the outbox ...');
SELECT is((SELECT string_agg(kind, ',' ORDER BY event_id) FROM workorder.outbox WHERE event_id < 0), 'cancel,resolve',
          '... takes the message delivered two days ago, and still not the one dead since this morning, nor the pending one');
SELECT results_eq($$SELECT state, settled_at IS NOT NULL, delivered_at IS NOT NULL FROM workorder.outbox WHERE event_id = -5$$,
    $$VALUES ('dead', true, false)$$, 'a dead message says when it settled');
SELECT lives_ok($$UPDATE workorder.settings SET value = '6 months' WHERE name = 'retention_outbox'$$,
                'a retention may be given in months');
SELECT throws_ok($$UPDATE workorder.settings SET value = '1 hour' WHERE name = 'retention_outbox'$$, 'WO010', NULL,
                 'but not under a day');
SELECT throws_ok($$UPDATE workorder.settings SET value = '1 year -364 days -6 hours' WHERE name = 'retention_outbox'$$,
                 'WO010', 'invalid value of setting retention_outbox',
                 'nor with a part below zero, which counted as a year less 364.25 days passed the floor and kept rows 18 hours');
SELECT throws_ok($$UPDATE workorder.settings SET value = '1 mon -29 days' WHERE name = 'retention_outbox'$$,
                 'WO010', 'invalid value of setting retention_outbox',
                 '... and on 1 March 1 month less 29 days is a day ahead, which would purge everything settled');
SELECT throws_ok($$UPDATE workorder.settings SET value = '10' WHERE name = 'retention_batch_rows'$$, 'WO010', NULL,
                 'and a batch is at least 100 rows');
SELECT is((SELECT position < (SELECT position FROM workorder.worker_tasks WHERE task = 'trim_run_log')
             FROM workorder.worker_tasks WHERE task = 'purge_history'), true,
          'purge_history runs before trim_run_log, which stays the last task of a pass');

SELECT * FROM finish();
ROLLBACK;
