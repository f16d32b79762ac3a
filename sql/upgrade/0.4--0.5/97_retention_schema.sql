-- workorder 0.4 -> 0.5, part 97: what the retention of install part 97 needs of the
-- tables of parts 70, 75 and 88, which make it in a fresh install: the indexes
-- purge_history reads, and the inbox's comment, which says its rows now go.
CREATE INDEX inbox_settled_idx ON workorder.inbox (processed_at) WHERE state IN ('accepted', 'rejected');
CREATE INDEX outbox_settled_idx ON workorder.outbox (settled_at) WHERE state IN ('delivered', 'dead');
CREATE INDEX detection_rejects_rejected_at_idx ON workorder.detection_rejects USING brin (rejected_at);
CREATE INDEX detection_aggregates_unordered_idx ON workorder.detection_aggregates (bucket_start) WHERE order_id IS NULL;
CREATE INDEX detections_unaggregated_idx ON workorder.detections (detected_at) WHERE aggregate_id IS NULL;
COMMENT ON TABLE workorder.inbox IS
    'Bulk intake: connectors COPY reports in (text columns), workorder.drain_inbox() makes them orders; rows are kept with their outcome for retention_inbox (purge_history).';
