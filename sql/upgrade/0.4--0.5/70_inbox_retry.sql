-- workorder 0.4 -> 0.5, part 70: inbox rows that fail for a reason not their own
-- are tried again after a backoff (drain_inbox), instead of first by every drain.
-- The columns that say when, the two indexes drain_inbox claims through (the
-- pending index now holds only the rows never tried), and inbox_mine, whose i.*
-- was expanded when it was made, with the new columns as a fresh install has them.
-- Rows pending from 0.4 with an error are tried again as rows never tried.
ALTER TABLE workorder.inbox
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN retry_at timestamptz;
COMMENT ON COLUMN workorder.inbox.error_code IS
    'the SQLSTATE of the rejection: WO1xx/WO3xx from submit(), 22xxx for a column that does not convert; on a row still pending, the error of its last attempt (a deadlock, a lock timeout, a broken setting or unit: not the row''s fault)';
COMMENT ON COLUMN workorder.inbox.attempts IS
    'attempts that failed for a reason not the row''s own; the row stayed pending after each';
COMMENT ON COLUMN workorder.inbox.retry_at IS
    'on a pending row that failed: when drain_inbox() may try it again (inbox_retry_base, doubled for each further failure, at most inbox_retry_max); NULL on a row never tried';
DROP INDEX workorder.inbox_pending_idx;
CREATE INDEX inbox_pending_idx ON workorder.inbox (id)
    WHERE state OPERATOR(pg_catalog.=) 'pending' AND retry_at IS NULL;
CREATE INDEX inbox_retry_idx ON workorder.inbox (retry_at, id)
    WHERE state OPERATOR(pg_catalog.=) 'pending' AND retry_at IS NOT NULL;
CREATE OR REPLACE VIEW workorder.inbox_mine WITH (security_barrier) AS
SELECT i.* FROM workorder.inbox i
 WHERE (SELECT workorder.caller_unrestricted())
    OR i.channel OPERATOR(pg_catalog.=) (SELECT workorder.caller_channel());
