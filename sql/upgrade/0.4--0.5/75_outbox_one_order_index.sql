-- workorder 0.4 -> 0.5, part 75: the uniqueness of (event, report) and the lookup of
-- a report's messages share one index, order first.  0.4 kept two, (event_id,
-- order_id) and (order_id), so every message intake writes paid for an index entry
-- that nothing needed.  The new index is built before the old ones are dropped.
ALTER TABLE workorder.outbox ADD CONSTRAINT outbox_order_event_unique UNIQUE (order_id, event_id);
ALTER TABLE workorder.outbox DROP CONSTRAINT outbox_event_order_unique;
DROP INDEX workorder.outbox_order_idx;
