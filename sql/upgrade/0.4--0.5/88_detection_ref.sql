-- workorder 0.4 -> 0.5, part 88: a detection's own reference (detection_ref), which
-- makes a retried COPY safe (ingest_detection_rows takes a row whose camera and
-- reference are stored already in without counting it again).  The columns go last,
-- as a fresh install has them; the grant of the column to the connectors is part 98's.
ALTER TABLE workorder.detection_inbox ADD COLUMN detection_ref text;
ALTER TABLE workorder.detections ADD COLUMN detection_ref text;
CREATE UNIQUE INDEX detections_ref_idx ON workorder.detections (camera_id, detection_ref)
    WHERE detection_ref IS NOT NULL;
