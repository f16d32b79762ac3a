-- workorder install script, part 97: retention of what is only history.
--
-- Orders, their events, callbacks, escalations and dedup checks are the record, and
-- stay.  Five tables only pass things through or announce them, and grew without
-- end: the bulk inbox (a row is kept with its outcome, for the connector to read
-- back), the outbox (a message stays once delivered, or dead), the notifications
-- of the deadline task, the video-AI detections (a city's cameras send millions a
-- day) and the detection rows that could not be ingested.  The task purge_history
-- deletes from them what is older than its setting (setting_definitions, part 02):
--   retention_inbox          accepted and rejected inbox rows, by processed_at
--                            (default 30 days); pending rows stay
--   retention_outbox         delivered and dead outbox messages, by settled_at (when
--                            they were delivered or died)
--                            (default 30 days); pending and claimed ones stay
--   retention_notifications  notifications, by at (default 90 days)
--   retention_detections     detections below their kind's confidence (counted into
--                            no aggregate), by detected_at; aggregates that made no
--                            order and can make none (under their threshold), with
--                            their detections, once their bucket ended that long ago;
--                            and detection_rejects, by rejected_at (default 90 days).
--                            An aggregate that made an order keeps its detections
--                            (the order's evidence, workorder.order_detections), and
--                            so does one over its threshold whose order failed (it is
--                            retried) or one whose bucket is still open: an order
--                            always has all the detections it counted.  A detection
--                            that arrives for a bucket already purged starts a new
--                            aggregate.
-- Each table's rows go in batches of retention_batch_rows (default 10000), oldest
-- first, through an index on the time they are judged by, skipping rows another
-- session has locked; a full batch makes the task due again at once.  A pass with
-- nothing to delete costs one short index probe per table.

-- task_purge_history deletes one batch of each table's expired rows.
CREATE FUNCTION workorder.task_purge_history()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    batch integer := workorder.setting('retention_batch_rows', '10000')::integer;
    inbox_before timestamptz := pg_catalog.now() OPERATOR(pg_catalog.-)
                                workorder.setting('retention_inbox', '30 days')::interval;
    outbox_before timestamptz := pg_catalog.now() OPERATOR(pg_catalog.-)
                                 workorder.setting('retention_outbox', '30 days')::interval;
    notifications_before timestamptz := pg_catalog.now() OPERATOR(pg_catalog.-)
                                        workorder.setting('retention_notifications', '90 days')::interval;
    detections_before timestamptz := pg_catalog.now() OPERATOR(pg_catalog.-)
                                     workorder.setting('retention_detections', '90 days')::interval;
    inbox_rows bigint;
    outbox_rows bigint;
    notification_rows bigint;
    detection_rows bigint;
    aggregate_rows bigint;
    reject_rows bigint;
    doomed bigint[];  -- the aggregates that go, locked
    outcome workorder.task_outcome;
BEGIN
    DELETE FROM workorder.inbox i
     WHERE i.id IN (SELECT x.id FROM workorder.inbox x
                     WHERE x.state IN ('accepted', 'rejected')
                       AND x.processed_at OPERATOR(pg_catalog.<) inbox_before
                     ORDER BY x.processed_at LIMIT batch
                       FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS inbox_rows = ROW_COUNT;
    DELETE FROM workorder.outbox m
     WHERE m.id IN (SELECT x.id FROM workorder.outbox x
                     WHERE x.state IN ('delivered', 'dead')
                       AND x.settled_at OPERATOR(pg_catalog.<) outbox_before
                     ORDER BY x.settled_at LIMIT batch
                       FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS outbox_rows = ROW_COUNT;
    DELETE FROM workorder.notifications n
     WHERE n.id IN (SELECT x.id FROM workorder.notifications x
                     WHERE x.at OPERATOR(pg_catalog.<) notifications_before
                     ORDER BY x.at LIMIT batch
                       FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS notification_rows = ROW_COUNT;
    DELETE FROM workorder.detections d
     WHERE d.id IN (SELECT x.id FROM workorder.detections x
                     WHERE x.aggregate_id IS NULL
                       AND x.detected_at OPERATOR(pg_catalog.<) detections_before
                     ORDER BY x.detected_at LIMIT batch
                       FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS detection_rows = ROW_COUNT;
    -- The aggregates are locked first, and their detections deleted by the next
    -- statement: an ingest that would count into one waits for the lock, and then
    -- starts a new one; one that counted into it just before the lock committed its
    -- detection, which the lock's recheck lets through (one more is still under
    -- the threshold) and the next statement's snapshot sees.  (They were one
    -- statement, whose snapshot predated that detection: it was left behind,
    -- naming an aggregate that was gone, for good.)
    SELECT COALESCE(pg_catalog.array_agg(x.id), '{}') INTO doomed
      FROM (SELECT a.id FROM workorder.detection_aggregates a
             WHERE a.order_id IS NULL
               AND a.bucket_start OPERATOR(pg_catalog.<) detections_before
               AND a.bucket_start OPERATOR(pg_catalog.+) a."window" OPERATOR(pg_catalog.<=) detections_before
               AND a.detections OPERATOR(pg_catalog.<) a.threshold
             ORDER BY a.bucket_start LIMIT batch
               FOR UPDATE SKIP LOCKED) x;
    DELETE FROM workorder.detections d WHERE d.aggregate_id OPERATOR(pg_catalog.=) ANY (doomed);
    DELETE FROM workorder.detection_aggregates a WHERE a.id OPERATOR(pg_catalog.=) ANY (doomed);
    GET DIAGNOSTICS aggregate_rows = ROW_COUNT;
    DELETE FROM workorder.detection_rejects r
     WHERE r.id IN (SELECT x.id FROM workorder.detection_rejects x
                     WHERE x.rejected_at OPERATOR(pg_catalog.<) detections_before
                     LIMIT batch
                       FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS reject_rows = ROW_COUNT;
    outcome.rows := inbox_rows OPERATOR(pg_catalog.+) outbox_rows OPERATOR(pg_catalog.+) notification_rows
                    OPERATOR(pg_catalog.+) detection_rows OPERATOR(pg_catalog.+) aggregate_rows
                    OPERATOR(pg_catalog.+) reject_rows;
    outcome.detail := pg_catalog.format(
        '%s inbox rows, %s outbox messages, %s notifications, %s uncounted detections, %s aggregates without an order (with their detections) and %s detection rejects past their retention deleted',
        inbox_rows, outbox_rows, notification_rows, detection_rows, aggregate_rows, reject_rows);
    IF GREATEST(inbox_rows, outbox_rows, notification_rows, detection_rows, aggregate_rows, reject_rows)
       OPERATOR(pg_catalog.>=) batch THEN
        outcome.next_due := pg_catalog.now();
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_purge_history() FROM PUBLIC;

-- Before trim_run_log, which stays the last task of a pass.
INSERT INTO workorder.worker_tasks (task, position, function, description, shipped) VALUES
    ('purge_history', 990, 'workorder.task_purge_history',
     'delete inbox rows, outbox messages, notifications and detections past their retention (settings retention_*)', true);
