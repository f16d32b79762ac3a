-- Video-AI detections: COPYed in bulk into the text inbox, ingested in batches
-- (bad rows rejected with the reason, never stopping the batch), counted by kind,
-- place and time bucket, and made into ONE order when a place crosses its
-- threshold; the order refers back to its detections; repeated runs, late
-- detections and a lost link never make a second order.  Everything runs in one
-- transaction that is rolled back.
\set ON_ERROR_ROLLBACK on
BEGIN;
SET client_min_messages = warning;
\o /dev/null
\i test/fixtures/issue6_map.sql
\o

-- No helmet: 5 confident detections within 10 minutes in one 100 m cell make an
-- order.  Wrong way: the settings' defaults, with a minimum count of 3.
INSERT INTO workorder.detection_rules (kind, min_count, "window", cell_m, min_confidence)
VALUES ('no_helmet', 5, '10 minutes', 100, 0.6);
INSERT INTO workorder.settings VALUES ('detection_min_count', '3', 'wrong-way riding: 3 an hour');

-- The first batch, as a camera platform COPYs it: 4 riders without helmet at the
-- crossing (115.0495, 24.05), two unsure detections there, and rows that are bad.
COPY workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, attributes) FROM stdin WITH (FORMAT csv);
cam-1,no_helmet,2026-10-16 08:01:00,115.0494,24.0500,0.91,"{""plate"": ""粤E12345""}"
cam-1,no_helmet,2026-10-16 08:02:00,115.0495,24.0500,0.88,
cam-2,no_helmet,2026-10-16 08:03:30+08,115.0496,24.0501,0.95,
cam-2,no_helmet,2026-10-16T00:04:00Z,115.0494,24.0501,0.80,
cam-1,no_helmet,2026-10-16 08:05:00,115.0495,24.0501,0.40,
cam-2,no_helmet,2026-10-16 08:05:10,115.0495,24.0501,0.55,
cam-3,no_helmet,2026-10-16 08:06:00,east,24.0500,0.9,
cam-3,no_helmet,2026-10-16 08:06:00,115.05,95,0.9,
cam-3,no_helmet,yesterday morning,115.05,24.05,0.9,
cam-3,no_helmet,2099-01-01 08:00:00,115.05,24.05,0.9,
cam-3,,2026-10-16 08:06:00,115.05,24.05,0.9,
,no_helmet,2026-10-16 08:06:00,115.05,24.05,0.9,
cam-3,no_helmet,2026-10-16 08:06:00,115.05,24.05,1.5,
cam-3,no_helmet,2026-10-16 08:06:00,115.05,24.05,0.9,[1]
cam-3,no_helmet,2026-10-16 08:06:00,115.05,24.05,0.9,{not json
\.
SELECT * FROM workorder.ingest_detections();
-- Every bad row is kept, as it came, with the reason; the inbox is empty.
SELECT raw->>'camera_id' AS camera_id, raw->>'kind' AS kind, error_code, error_message
  FROM workorder.detection_rejects ORDER BY id;
SELECT count(*) AS left_in_inbox FROM workorder.detection_inbox;
-- Below the threshold: 4 confident detections counted (the unsure ones are stored,
-- not counted), no order.
SELECT kind, cell_m, bucket_start, "window", threshold, detections, first_at, last_at, order_id
  FROM workorder.detection_aggregates;
SELECT count(*) AS stored, count(aggregate_id) AS counted FROM workorder.detections;

-- A fifth rider crosses the threshold: one order, to the traffic department,
-- located at the detections' mean position, when the first was seen.
COPY workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence) FROM stdin WITH (FORMAT csv);
cam-1,no_helmet,2026-10-16 08:07:00,115.0496,24.0501,0.99
\.
SELECT * FROM workorder.ingest_detections();
SELECT o.channel_code, o.category_code, o.status, o.main_unit, o.description, o.occurred_at,
       round(ST_X(o.location)::numeric, 5) AS lon, round(ST_Y(o.location)::numeric, 5) AS lat,
       o.attributes->'detections' AS detections, jsonb_array_length(o.attributes->'detection_ids') AS ids,
       o.attributes->'detection_aggregate_id' = to_jsonb(a.id) AS names_its_aggregate
  FROM workorder.orders o JOIN workorder.detection_aggregates a ON a.order_id = o.id;
-- The order's detections, back from the order.
SELECT camera_id, detected_at, confidence FROM workorder.order_detections ORDER BY detected_at;

-- Late detections of the same place and bucket count, but make no second order;
-- running the task again with nothing new makes nothing.
COPY workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence) FROM stdin WITH (FORMAT csv);
cam-1,no_helmet,2026-10-16 08:08:00,115.0496,24.0501,0.99
cam-2,no_helmet,2026-10-16 08:09:59,115.0495,24.0501,0.97
\.
SELECT * FROM workorder.ingest_detections();
SELECT * FROM workorder.ingest_detections();
SELECT detections, order_id IS NOT NULL AS has_order FROM workorder.detection_aggregates;
SELECT count(*) AS video_orders FROM workorder.orders WHERE channel_code = 'video_ai';

-- The order's reference is derived from the aggregate's key: even if the link to
-- the order were lost, raising again finds the same order instead of a second.
UPDATE workorder.detection_aggregates SET order_id = NULL;
SELECT workorder.raise_detection_orders();
SELECT count(*) AS video_orders, count(DISTINCT a.order_id) AS linked
  FROM workorder.orders o JOIN workorder.detection_aggregates a ON a.order_id = o.id
 WHERE o.channel_code = 'video_ai';

-- The next 10-minute bucket is another aggregate; so is the next cell, 300 m east.
-- Wrong-way riding, 3 in the hour with the default rule: an order.  With the
-- detection channel misconfigured, the error is kept and the order follows once
-- it is fixed.
INSERT INTO workorder.settings VALUES ('detection_channel', 'no_such_channel', 'misconfigured on purpose');
COPY workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence) FROM stdin WITH (FORMAT csv);
cam-1,no_helmet,2026-10-16 08:10:00,115.0496,24.0501,0.99
cam-4,no_helmet,2026-10-16 08:03:00,115.0530,24.0500,0.99
cam-5,wrong_way,2026-10-16 08:10:00,115.1500,24.1500,0.70
cam-5,wrong_way,2026-10-16 08:20:00,115.1501,24.1500,0.70
cam-5,wrong_way,2026-10-16 08:59:59,115.1502,24.1500,0.70
\.
SELECT * FROM workorder.ingest_detections();
SELECT kind, bucket_start, detections, threshold, order_id IS NOT NULL AS has_order, order_error
  FROM workorder.detection_aggregates ORDER BY kind, bucket_start, cell_x;
DELETE FROM workorder.settings WHERE name = 'detection_channel';
SELECT * FROM workorder.ingest_detections();
SELECT o.category_code, o.main_unit, o.attributes->'detections' AS detections
  FROM workorder.orders o WHERE o.channel_code = 'video_ai' ORDER BY o.category_code;

-- The worker task does the same, one batch per run.
COPY workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence) FROM stdin WITH (FORMAT csv);
cam-1,no_helmet,2026-10-16 09:00:00,115.0496,24.0501,0.99
\.
SELECT ok, rows, detail FROM workorder.run_task('ingest_detections');

ROLLBACK;
