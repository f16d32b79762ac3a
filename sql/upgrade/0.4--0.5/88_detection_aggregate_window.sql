-- workorder 0.4 -> 0.5, part 88: an aggregate's key includes its window (install
-- part 88), so that a bucket of a rule's new window length is not counted into one
-- of the old length that starts at the same instant.
ALTER TABLE workorder.detection_aggregates
    DROP CONSTRAINT detection_aggregates_key,
    ADD CONSTRAINT detection_aggregates_key UNIQUE (kind, cell_m, cell_x, cell_y, bucket_start, "window");
