-- workorder install script, part 93 (second file): the background tasks of
-- hotspots (part 87) and video-AI detections (part 88).  They come after part 90,
-- which defines worker_tasks and task_outcome.

-- task_ingest_detections moves one batch of the detection inbox (the setting
-- detection_batch_rows, default 10000) and raises the orders it makes due.  A full
-- batch means there may be more: it is due again at once.  Skipped while a run of
-- ingest_detections() by hand holds its lock, as task_detect_hotspots is: it
-- waited for it, failed on the task's lock timeout, and held up every task of the
-- database behind it for that long, on every pass.
CREATE FUNCTION workorder.task_ingest_detections()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    batch integer := workorder.setting('detection_batch_rows', '10000')::integer;
    r record;
    outcome workorder.task_outcome;
BEGIN
    IF NOT workorder.try_lock_xact('workorder.ingest_detections') THEN
        outcome.rows := 0;
        outcome.detail := 'skipped: ingest_detections() is running in another transaction';
        outcome.next_due := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) '1 minute'::interval;
        RETURN outcome;
    END IF;
    SELECT * INTO r FROM workorder.ingest_detections(batch);
    outcome.rows := r.ingested OPERATOR(pg_catalog.+) r.rejected OPERATOR(pg_catalog.+) r.orders;
    outcome.detail := pg_catalog.format('%s detections ingested, %s rejected, %s orders raised',
                                        r.ingested, r.rejected, r.orders);
    IF r.ingested OPERATOR(pg_catalog.+) r.rejected OPERATOR(pg_catalog.>=) batch THEN
        outcome.next_due := pg_catalog.now();
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_ingest_detections() FROM PUBLIC;

-- task_detect_hotspots runs detect_hotspots(now()) once every hotspot_interval,
-- when there is a policy, or an active hotspot to end (its policy was disabled or
-- deleted: left alone it stayed active for good).
CREATE FUNCTION workorder.task_detect_hotspots()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    every interval := workorder.setting('hotspot_interval', '1 hour')::interval;
    last_run timestamptz;
    r workorder.hotspot_runs;
    outcome workorder.task_outcome;
BEGIN
    outcome.rows := 0;
    -- Without a policy there is nothing to detect, and no run to record, unless a
    -- hotspot is still active: the run ends it.
    IF NOT EXISTS (SELECT FROM workorder.hotspot_policies p WHERE p.enabled IS DISTINCT FROM false)
       AND NOT EXISTS (SELECT FROM workorder.hotspots x WHERE x.status OPERATOR(pg_catalog.=) 'active') THEN
        RETURN outcome;
    END IF;
    -- The last run up to now: one ahead of now is a clock that was set back since,
    -- and waiting for it would stop detection for as long as the clock went back.
    SELECT pg_catalog.max(x.as_of) INTO last_run FROM workorder.hotspot_runs x
     WHERE x.as_of OPERATOR(pg_catalog.<=) pg_catalog.now();
    IF last_run IS NOT NULL AND pg_catalog.now() OPERATOR(pg_catalog.<) (last_run OPERATOR(pg_catalog.+) every) THEN
        outcome.next_due := last_run OPERATOR(pg_catalog.+) every;
        RETURN outcome;
    END IF;
    -- Skipped while a run of detect_hotspots() by hand holds its lock: waiting held
    -- up every task of the database behind this one.
    IF NOT workorder.try_lock_xact('workorder.detect_hotspots') THEN
        outcome.detail := 'skipped: detect_hotspots() is running in another transaction';
        outcome.next_due := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) '1 minute'::interval;
        RETURN outcome;
    END IF;
    PERFORM workorder.detect_hotspots(pg_catalog.now());
    SELECT * INTO r FROM workorder.hotspot_runs x WHERE x.as_of OPERATOR(pg_catalog.=) pg_catalog.now();
    outcome.rows := r.started OPERATOR(pg_catalog.+) r.ended OPERATOR(pg_catalog.+) r.orders;
    outcome.detail := pg_catalog.format('%s hot places: %s new, %s ended, %s orders raised', r.hot, r.started, r.ended, r.orders);
    outcome.next_due := pg_catalog.now() OPERATOR(pg_catalog.+) every;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_detect_hotspots() FROM PUBLIC;

INSERT INTO workorder.worker_tasks (task, position, function, description, shipped) VALUES
    ('ingest_detections', 120, 'workorder.task_ingest_detections',
     'move video-AI detections out of their inbox, count them by place and time, raise orders', true),
    ('detect_hotspots', 600, 'workorder.task_detect_hotspots',
     'record places where a category''s orders cluster beyond their baseline', true);
