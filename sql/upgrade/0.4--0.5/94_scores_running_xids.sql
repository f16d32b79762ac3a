-- workorder 0.4 -> 0.5, part 94: a mark of score_update records the transactions
-- of this database running when it was taken (running_xids), not an xid to compare
-- with a snapshot's xmin, which a transaction left open in any other database of
-- the cluster held back (install part 94 says why).  Marks are only the passes'
-- bookmarks: the table is made again empty, and the next pass takes a fresh one.
DROP TABLE workorder.score_marks;
CREATE TABLE workorder.score_marks (
    last_event_id bigint NOT NULL,
    running_xids  xid8[] NOT NULL,
    taken_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
REVOKE ALL ON workorder.score_marks FROM PUBLIC;
COMMENT ON TABLE workorder.score_marks IS
    'Marks of score_update passes: events up to last_event_id are final for a snapshot that sees every one of running_xids (this database''s transactions when the mark was taken) ended.';
