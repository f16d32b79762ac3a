-- workorder install script, part 88: video-AI detections (issue 6).
--
-- Cameras report detections ("e-bike rider without helmet", "wrong-way riding")
-- in bulk and at high volume.  A detection is not an order: detections are stored
-- and counted by kind, place (a cell of a grid of cell_m x cell_m metres on the
-- earth, below) and time bucket; only when one place's count in one bucket
-- crosses its kind's threshold does ONE order go to the responsible unit, and that
-- order refers back to its detections.
--
-- Ingest.  A connector COPYs detections into workorder.detection_inbox, whose
-- columns are all text and which has no index but its primary key and no row
-- trigger (one statement trigger checks who COPYs: the detection channel's
-- connector, part 96): COPY never fails on a bad value (a bad value would otherwise abort the whole COPY
-- and lose the batch) and costs about what a COPY into a bare table costs (see
-- bench/detections).  ingest_detections() (the worker task ingest_detections) then
-- moves the rows, in batches, into workorder.detections with one set-based INSERT
-- per batch that converts and checks every column and counts the batch into
-- workorder.detection_aggregates.  When a batch holds a bad row, the INSERT fails
-- and the batch is split in halves, recursively, until the bad rows are alone: they
-- go to workorder.detection_rejects with the SQLSTATE and the reason, everything
-- else is ingested.  A clean batch costs one statement; each bad row costs about
-- log2(batch) small statements.  Moved and rejected rows leave the inbox.
--
-- What a row must be (otherwise it is rejected):
--   camera_id    1..128 characters without control characters
--   kind         1..64 characters: the camera's detection kind, mapped onto the
--                catalogue by workorder.channel_categories of the detection channel
--                (setting detection_channel, default 'video_ai')
--   detected_at  a timestamp after 2000-01-01 and at most an hour from now; without
--                a UTC offset it is Beijing time, and CST is China Standard Time
--   lon, lat     WGS84 degrees, -180..180 and -90..90, decimal (PostgreSQL's cast
--                also reads C's hexadecimal '0x71', which no platform means)
--   confidence   0..1, decimal
--   attributes   empty, or a JSON object of at most 64 kB (as submit() takes)
--   detection_ref  empty, or the platform's own id of the detection, 1..128
--                characters without control characters
--
-- Retries.  A connector whose COPY's acknowledgement was lost cannot read the
-- inbox or the detections, so it sends the batch again.  A row whose
-- (camera_id, detection_ref) is already in workorder.detections is taken in
-- without being stored or counted again (it counted twice, and three real
-- detections raised an order meant for six); detection_ref is what makes a retry
-- safe, and a row without one is a detection of its own.  Of two rows with one
-- reference in one batch the first is stored and the later is its retry.  A retry
-- is the same detection: a row whose reference names a stored (or earlier) one of
-- another kind, time, place or confidence is refused (WO851, detection_is_retry),
-- not taken in (a camera whose counter restarted lost its new detections without
-- a trace).  A copy sent while the first was still being ingested by
-- another session waits for that session on the unique index, and is taken in too
-- once it committed (test/scenario/detection_ref_race.t).
--
-- Thresholds per kind: workorder.detection_rules (NULL columns, and kinds without a
-- row, take the settings detection_min_count (10), detection_window ('1 hour'),
-- detection_cell_m (200) and detection_min_confidence (0.5)).  Only detections with
-- confidence >= min_confidence are counted (all are stored).  Buckets are
-- consecutive windows of the kind's length from the epoch; a cluster that straddles
-- a bucket border is counted in two buckets.
--
-- The grid: rows of cell_m metres of latitude (111195 m a degree), each row cut
-- into cells of cell_m metres of longitude at the row's middle latitude:
--     cell_y = floor(lat * 111195 / cell_m)
--     cell_x = floor(lon * 111195 * cos(middle latitude of row cell_y) / cell_m)
-- Plain arithmetic, so that a million detections are placed without a projection
-- call each; cells are squares of cell_m to within a fraction of a percent.
--
-- Orders.  An aggregate whose count reaches its threshold gets ONE order through
-- submit(): channel detection_channel (the operator creates that channel, kind
-- video_ai; without it the error is kept on the aggregate and retried), channel_ref
-- derived from the aggregate's key (kind, cell, bucket, window), so that a retry or a
-- restart can never make a second one; category = the kind (mapped by the channel's
-- categories); location = the mean position of the counted detections; occurred_at
-- = the first of them; attributes name the aggregate, the count and the first 100
-- detection ids.  Detections that arrive after the order count on the aggregate
-- but make no second order.  workorder.order_detections lists an order's detections.
--
-- SQLSTATEs: WO851 a detection row that is not valid (the reason of a reject);
-- WO852 an invalid detection rule; WO853 an invalid ingest_detections() argument.

CREATE TABLE workorder.detection_inbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    camera_id   text,
    kind        text,
    detected_at text,
    lon         text,
    lat         text,
    confidence  text,
    attributes  text,
    detection_ref text
);
SELECT pg_catalog.pg_extension_config_dump('workorder.detection_inbox', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.detection_inbox_id_seq', '');
REVOKE ALL ON workorder.detection_inbox FROM PUBLIC;
COMMENT ON TABLE workorder.detection_inbox IS
    'Video-AI detections as COPYed by connectors (text columns); workorder.ingest_detections() moves them into workorder.detections.';

CREATE TABLE workorder.detection_rules (
    kind           text PRIMARY KEY,
    min_count      integer,
    "window"       interval,
    cell_m         double precision,
    min_confidence real,
    description    text
);
SELECT pg_catalog.pg_extension_config_dump('workorder.detection_rules', '');
REVOKE ALL ON workorder.detection_rules FROM PUBLIC;
COMMENT ON TABLE workorder.detection_rules IS
    'Per detection kind: how many confident detections in one cell and one window make an order. NULL columns take the detection_* settings.';

-- detection_rules_before_write checks a rule (WO852).
CREATE FUNCTION workorder.detection_rules_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    why text;
BEGIN
    why := CASE
        -- Ingest trims the kind of a detection: a rule's kind with blanks at its
        -- ends never matched one.
        WHEN NEW.kind IS NULL OR pg_catalog.length(NEW.kind) OPERATOR(pg_catalog.<) 1 OR pg_catalog.length(NEW.kind) OPERATOR(pg_catalog.>) 64
             OR NEW.kind OPERATOR(pg_catalog.~) '[[:cntrl:]]' OR NEW.kind OPERATOR(pg_catalog.<>) workorder.trim_blanks(NEW.kind)
            THEN pg_catalog.format('the kind %s is not 1 to 64 characters without control characters and blanks at its ends',
                                   COALESCE(pg_catalog.quote_literal(NEW.kind), 'NULL'))
        WHEN NEW.min_count IS NOT NULL AND NOT (NEW.min_count OPERATOR(pg_catalog.>=) 1 AND NEW.min_count OPERATOR(pg_catalog.<=) 1000000)
            THEN pg_catalog.format('min_count is %s; it must be from 1 to 1000000', NEW.min_count)
        WHEN NEW."window" IS NOT NULL AND (pg_catalog.date_part('month', NEW."window") OPERATOR(pg_catalog.<>) 0
                                           OR pg_catalog.date_part('year', NEW."window") OPERATOR(pg_catalog.<>) 0
                                           OR NEW."window" OPERATOR(pg_catalog.<) '1 minute'::interval
                                           OR NEW."window" OPERATOR(pg_catalog.>) '31 days'::interval)
            THEN pg_catalog.format('window is %s; it must be from 1 minute to 31 days, without months', NEW."window")
        WHEN NEW.cell_m IS NOT NULL AND NOT (NEW.cell_m OPERATOR(pg_catalog.>=) 10 AND NEW.cell_m OPERATOR(pg_catalog.<=) 10000
                                             AND NEW.cell_m OPERATOR(pg_catalog.=) pg_catalog.round(NEW.cell_m))
            THEN pg_catalog.format('cell_m is %s; it must be a whole number of metres from 10 to 10000', NEW.cell_m)
        WHEN NEW.min_confidence IS NOT NULL AND NOT (NEW.min_confidence OPERATOR(pg_catalog.>=) 0
                                                     AND NEW.min_confidence OPERATOR(pg_catalog.<=) 1)
            THEN pg_catalog.format('min_confidence is %s; it must be from 0 to 1', NEW.min_confidence)
    END;
    IF why IS NOT NULL THEN
        PERFORM workorder.raise_error('WO852',
            pg_catalog.format('invalid detection rule for kind %s', COALESCE(NEW.kind, 'NULL')),
            why OPERATOR(pg_catalog.||) '.',
            'Leave a column NULL to use the detection_* setting.');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER detection_rules_before_write
    BEFORE INSERT OR UPDATE ON workorder.detection_rules
    FOR EACH ROW EXECUTE FUNCTION workorder.detection_rules_before_write();

-- detection_aggregates counts the confident detections of one kind in one cell and
-- one time bucket.
CREATE TABLE workorder.detection_aggregates (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL,
    cell_m       double precision NOT NULL,
    cell_x       bigint NOT NULL,
    cell_y       bigint NOT NULL,
    bucket_start timestamptz NOT NULL,
    "window"     interval NOT NULL,
    threshold    integer NOT NULL,
    detections   integer NOT NULL,
    sum_lon      double precision NOT NULL,
    sum_lat      double precision NOT NULL,
    first_at     timestamptz NOT NULL,
    last_at      timestamptz NOT NULL,
    order_id     bigint REFERENCES workorder.orders (id),
    order_error  text,
    -- The window too: after a rule's window changes, a bucket of the new length that
    -- starts where one of the old did is an aggregate of its own (it used to count
    -- into the old one, outside that one's bucket).
    CONSTRAINT detection_aggregates_key UNIQUE (kind, cell_m, cell_x, cell_y, bucket_start, "window")
);
-- The aggregates that have crossed their threshold and still wait for their order.
CREATE INDEX detection_aggregates_due_idx ON workorder.detection_aggregates (id)
    WHERE order_id IS NULL AND detections OPERATOR(pg_catalog.>=) threshold;
CREATE INDEX detection_aggregates_order_idx ON workorder.detection_aggregates (order_id) WHERE order_id IS NOT NULL;
-- purge_history (part 97) finds the aggregates without an order whose bucket ended
-- before the retention.
CREATE INDEX detection_aggregates_unordered_idx ON workorder.detection_aggregates (bucket_start) WHERE order_id IS NULL;
SELECT pg_catalog.pg_extension_config_dump('workorder.detection_aggregates', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.detection_aggregates_id_seq', '');
REVOKE ALL ON workorder.detection_aggregates FROM PUBLIC;
COMMENT ON TABLE workorder.detection_aggregates IS
    'Confident detections counted by kind, grid cell and time bucket; order_id is the one order an aggregate over its threshold made.';

-- detections: the ingested detections.  Written only by ingest_detections(), in
-- batches; id is the inbox row's id.  BRIN on the time (rows arrive roughly in time
-- order), a btree on the aggregate (an order's detections).
CREATE TABLE workorder.detections (
    id           bigint PRIMARY KEY,
    camera_id    text NOT NULL,
    kind         text NOT NULL,
    detected_at  timestamptz NOT NULL,
    location     geometry(Point, 4326) NOT NULL,
    confidence   real NOT NULL,
    attributes   jsonb NOT NULL,
    received_at  timestamptz NOT NULL,
    aggregate_id bigint,
    detection_ref text
);
CREATE INDEX detections_detected_at_idx ON workorder.detections USING brin (detected_at);
-- A retried row (a camera's detection_ref already stored) is found here and not
-- stored or counted again.
CREATE UNIQUE INDEX detections_ref_idx ON workorder.detections (camera_id, detection_ref)
    WHERE detection_ref IS NOT NULL;
CREATE INDEX detections_aggregate_idx ON workorder.detections (aggregate_id);
-- purge_history (part 97) finds the old detections counted into no aggregate (below
-- their kind's confidence) here: the BRIN would make it read, at every pass, the old
-- detections that are kept as orders' evidence.
CREATE INDEX detections_unaggregated_idx ON workorder.detections (detected_at) WHERE aggregate_id IS NULL;
SELECT pg_catalog.pg_extension_config_dump('workorder.detections', '');
REVOKE ALL ON workorder.detections FROM PUBLIC;
COMMENT ON TABLE workorder.detections IS
    'Video-AI detections (not orders), moved from workorder.detection_inbox; aggregate_id is NULL below the kind''s min_confidence.';

-- detection_rejects keeps the inbox rows that could not be ingested, as they came.
CREATE TABLE workorder.detection_rejects (
    id            bigint PRIMARY KEY,
    received_at   timestamptz NOT NULL,
    rejected_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    raw           jsonb NOT NULL,
    error_code    text NOT NULL,
    error_message text NOT NULL
);
-- purge_history (part 97) deletes by rejected_at; rows arrive in its order.
CREATE INDEX detection_rejects_rejected_at_idx ON workorder.detection_rejects USING brin (rejected_at);
SELECT pg_catalog.pg_extension_config_dump('workorder.detection_rejects', '');
REVOKE ALL ON workorder.detection_rejects FROM PUBLIC;
COMMENT ON TABLE workorder.detection_rejects IS
    'Detection inbox rows that could not be ingested: the row as text (raw), the SQLSTATE and the reason.';

-- order_detections lists the detections behind each order made from detections.
CREATE VIEW workorder.order_detections AS
SELECT a.order_id, a.id AS aggregate_id, d.id AS detection_id, d.camera_id, d.kind, d.detected_at,
       d.location, d.confidence
  FROM workorder.detection_aggregates a
  JOIN workorder.detections d ON d.aggregate_id OPERATOR(pg_catalog.=) a.id
 WHERE a.order_id IS NOT NULL;
REVOKE ALL ON workorder.order_detections FROM PUBLIC;
COMMENT ON VIEW workorder.order_detections IS 'The detections counted into each order made from video-AI detections.';

-- detection_refuse raises WO851 for a column of a detection inbox row.  It is called
-- only for a bad value (inside a CASE), so a good row never pays for it.
CREATE FUNCTION workorder.detection_refuse(column_name text, value text, why text)
RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.raise_error('WO851',
        pg_catalog.format('detection column %s is not valid: %s', column_name,
                          COALESCE(pg_catalog.quote_literal(pg_catalog.left(value, 60)), 'NULL')),
        why,
        'Fix the row at its source and COPY it again; rejected rows are kept in workorder.detection_rejects.');
    RETURN NULL;
END
$$;

-- detection_is_retry says whether a row whose camera and detection_ref are those of
-- an earlier detection (stored, or earlier in the batch) is a retry of it: the same
-- kind, time, place and confidence.  A reference reused for another detection (a
-- camera whose counter restarted after a reboot) is refused, WO851: taken in as a
-- retry, the new detection was dropped without a trace, neither stored nor
-- rejected, and counted as ingested.
CREATE FUNCTION workorder.detection_is_retry(detection_ref text,
                                             earlier_kind text, earlier_at timestamptz, earlier_lon double precision,
                                             earlier_lat double precision, earlier_confidence real,
                                             kind text, detected_at timestamptz, lon double precision,
                                             lat double precision, confidence real)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    IF (earlier_kind, earlier_at, earlier_lon, earlier_lat, earlier_confidence)
       IS NOT DISTINCT FROM (kind, detected_at, lon, lat, confidence) THEN
        RETURN true;
    END IF;
    PERFORM workorder.detection_refuse('detection_ref', detection_ref,
        pg_catalog.format('The camera''s reference names another detection: %s at %s (%s, %s), confidence %s; this row is %s at %s (%s, %s), confidence %s. A retry repeats a detection as it was sent; a new one needs a reference of its own.',
                          earlier_kind, earlier_at, earlier_lon, earlier_lat, earlier_confidence,
                          kind, detected_at, lon, lat, confidence));
    RETURN false;
END
$$;

-- detection_unconvertible names the first column of an inbox row whose text does
-- not convert to its type, with the value and the reason, or returns NULL.  It is
-- called only for a row already known to be bad.
CREATE FUNCTION workorder.detection_unconvertible(inbox_id bigint)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    i workorder.detection_inbox;
    col text;
    val text;
    dummy text;
BEGIN
    SELECT * INTO i FROM workorder.detection_inbox x WHERE x.id OPERATOR(pg_catalog.=) inbox_id;
    FOREACH col IN ARRAY ARRAY['detected_at', 'lon', 'lat', 'confidence', 'attributes'] LOOP
        val := NULLIF(workorder.trim_blanks(CASE col WHEN 'detected_at' THEN i.detected_at WHEN 'lon' THEN i.lon
                                                WHEN 'lat' THEN i.lat WHEN 'confidence' THEN i.confidence
                                                ELSE i.attributes END), '');
        BEGIN
            dummy := CASE col WHEN 'detected_at' THEN workorder.time_text_offsets(val)::timestamptz::text
                              WHEN 'lon' THEN val::double precision::text
                              WHEN 'lat' THEN val::double precision::text
                              WHEN 'confidence' THEN val::double precision::text
                              ELSE val::jsonb::text END;
        EXCEPTION WHEN data_exception OR program_limit_exceeded THEN
            RETURN pg_catalog.format('detection column %s does not convert: %s. %s', col,
                                     pg_catalog.quote_literal(pg_catalog.left(val, 60)), SQLERRM);
        END;
    END LOOP;
    RETURN NULL;
END
$$;

-- ingest_detection_rows moves the given inbox rows into detections and counts them
-- into their aggregates, in one statement.  It returns the number of rows taken
-- in: stored, or retries of rows stored before.  (Called by ingest_detections.)
-- When the statement fails on a bad row, by mode:
--   batch  the bad rows are found by probes (detection_sift), each rejected alone,
--          and the others taken in with one statement again;
--   probe  nothing is kept: it returns n when the rows would go in (what they
--          wrote is rolled back) and -1 when they would not;
--   halve  the rows are split in halves, each tried so, down to single rows,
--          which are rejected.
-- (Each half was taken in by a statement of its own, and every one of them
-- counted into the same aggregate: with bad rows mixed into a busy cell, each
-- upsert walked the row versions of all those before it in the transaction:
-- 10,000 rows in one cell, half of them bad, took 39.5 s, 350 times a clean
-- batch, growing with the square of the batch; 14.5 s with probes, which leave
-- no versions behind, and twice that for twice the rows.)
CREATE FUNCTION workorder.ingest_detection_rows(ids bigint[], default_count integer,
                                                default_window interval, default_cell double precision,
                                                default_confidence real, mode text DEFAULT 'batch')
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    n integer := pg_catalog.cardinality(ids);
    half integer;
    sifted record;
    err_code text;
    err_message text;
    err_detail text;
BEGIN
    IF n OPERATOR(pg_catalog.=) 0 THEN
        RETURN 0;
    END IF;
    BEGIN
        WITH raw AS MATERIALIZED (
            -- Each text converted once; the checks below read the converted values.
            SELECT i.id, i.received_at, i.camera_id AS camera_text, i.kind AS kind_text, i.detected_at AS detected_at_text,
                   i.lon AS lon_text, i.lat AS lat_text, i.confidence AS confidence_text, i.attributes AS attributes_text,
                   -- Trimmed of the blanks submit() trims (no-break and ideographic
                   -- spaces too): 'a' and 'a' with a no-break space after it were
                   -- two references, and a retry was counted twice.
                   NULLIF(workorder.trim_blanks(i.camera_id), '') AS camera_id,
                   NULLIF(workorder.trim_blanks(i.kind), '') AS kind,
                   -- CST and GMT+8 are Beijing time, as in the inbox
                   -- (time_text_offsets, part 70): PostgreSQL reads them 14 and
                   -- 16 hours off.
                   workorder.time_text_offsets(NULLIF(workorder.trim_blanks(i.detected_at), ''))::timestamptz AS detected_at,
                   NULLIF(workorder.trim_blanks(i.lon), '')::double precision AS lon,
                   NULLIF(workorder.trim_blanks(i.lat), '')::double precision AS lat,
                   -- As double precision, then real: a confidence of 1e-50 is 0, and
                   -- not a value out of range for real.
                   NULLIF(workorder.trim_blanks(i.confidence), '')::double precision AS confidence,
                   NULLIF(workorder.trim_blanks(i.attributes), '')::jsonb AS attributes,
                   i.detection_ref AS detection_ref_text,
                   NULLIF(workorder.trim_blanks(i.detection_ref), '') AS detection_ref
              FROM pg_catalog.unnest(ids) AS claimed(id)
              -- ids is sorted: the range lets the primary key find the rows in a
              -- large inbox instead of hashing all of it.
              JOIN workorder.detection_inbox i ON i.id OPERATOR(pg_catalog.=) claimed.id
                                              AND i.id OPERATOR(pg_catalog.>=) ids[1]
                                              AND i.id OPERATOR(pg_catalog.<=) ids[n]
        ), conv AS MATERIALIZED (
            SELECT v.id, v.received_at,
                   CASE WHEN v.camera_id IS NULL OR pg_catalog.length(v.camera_id) OPERATOR(pg_catalog.>) 128
                             OR v.camera_id OPERATOR(pg_catalog.~) '[[:cntrl:]]'
                        THEN workorder.detection_refuse('camera_id', v.camera_text,
                                 'A camera id is 1 to 128 characters, without control characters.')
                        ELSE v.camera_id END AS camera_id,
                   CASE WHEN v.kind IS NULL OR pg_catalog.length(v.kind) OPERATOR(pg_catalog.>) 64
                             OR v.kind OPERATOR(pg_catalog.~) '[[:cntrl:]]'
                        THEN workorder.detection_refuse('kind', v.kind_text,
                                 'A detection kind is 1 to 64 characters, without control characters.')
                        ELSE v.kind END AS kind,
                   -- After 2000-01-01 00:00, where a camera whose clock was reset
                   -- starts (every such camera in one bucket: they raised a
                   -- dispatched order dated 2000), and at most detection_max_age
                   -- old when it is set (which refuses the times such a clock counts
                   -- on from there).  (A word PostgreSQL reads as a time, 'now', does
                   -- not convert: time_text_offsets.)  The age is not held against a
                   -- retry of a stored detection (its camera, reference and time),
                   -- which is taken in as a retry below: it was refused as too old,
                   -- a bad row that was not, once the retry came after the limit.
                   CASE WHEN v.detected_at IS NULL OR v.detected_at OPERATOR(pg_catalog.<=) '2000-01-01'::timestamptz
                             OR v.detected_at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.+) '1 hour'::interval)
                             OR (v.detected_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-)
                                     (SELECT workorder.setting('detection_max_age', NULL)::interval))
                                 AND NOT EXISTS (SELECT 1 FROM workorder.detections d
                                                  WHERE d.camera_id OPERATOR(pg_catalog.=) v.camera_id
                                                    AND d.detection_ref OPERATOR(pg_catalog.=) v.detection_ref
                                                    AND d.detected_at OPERATOR(pg_catalog.=) v.detected_at))
                        THEN workorder.detection_refuse('detected_at', v.detected_at_text,
                                 'The detection time is required: a date and time after 2000-01-01 00:00, at most an hour ahead (and at most detection_max_age old, when set).')::timestamptz
                        ELSE v.detected_at END AS detected_at,
                   CASE WHEN v.lon IS NULL OR NOT (v.lon OPERATOR(pg_catalog.>=) -180 AND v.lon OPERATOR(pg_catalog.<=) 180)
                             OR pg_catalog.strpos(v.lon_text, 'x') OPERATOR(pg_catalog.>) 0 OR pg_catalog.strpos(v.lon_text, 'X') OPERATOR(pg_catalog.>) 0
                        THEN workorder.detection_refuse('lon', v.lon_text, 'The longitude is required, in degrees from -180 to 180.')::double precision
                        ELSE v.lon END AS lon,
                   CASE WHEN v.lat IS NULL OR NOT (v.lat OPERATOR(pg_catalog.>=) -90 AND v.lat OPERATOR(pg_catalog.<=) 90)
                             OR pg_catalog.strpos(v.lat_text, 'x') OPERATOR(pg_catalog.>) 0 OR pg_catalog.strpos(v.lat_text, 'X') OPERATOR(pg_catalog.>) 0
                        THEN workorder.detection_refuse('lat', v.lat_text, 'The latitude is required, in degrees from -90 to 90.')::double precision
                        ELSE v.lat END AS lat,
                   CASE WHEN v.confidence IS NULL OR NOT (v.confidence OPERATOR(pg_catalog.>=) 0 AND v.confidence OPERATOR(pg_catalog.<=) 1)
                             OR pg_catalog.strpos(v.confidence_text, 'x') OPERATOR(pg_catalog.>) 0 OR pg_catalog.strpos(v.confidence_text, 'X') OPERATOR(pg_catalog.>) 0
                        THEN workorder.detection_refuse('confidence', v.confidence_text, 'The confidence is required, from 0 to 1.')::real
                        WHEN v.confidence OPERATOR(pg_catalog.<) 1e-37 THEN 0::real
                        ELSE v.confidence::real END AS confidence,
                   CASE WHEN v.attributes IS NOT NULL AND (pg_catalog.jsonb_typeof(v.attributes) OPERATOR(pg_catalog.<>) 'object'
                                                          OR pg_catalog.octet_length(v.attributes_text) OPERATOR(pg_catalog.>) 65536)
                        THEN workorder.detection_refuse('attributes', v.attributes_text,
                                 'Attributes are empty or a JSON object of at most 64 kB.')::jsonb
                        ELSE COALESCE(v.attributes, '{}'::jsonb) END AS attributes,
                   CASE WHEN pg_catalog.length(v.detection_ref) OPERATOR(pg_catalog.>) 128
                             OR v.detection_ref OPERATOR(pg_catalog.~) '[[:cntrl:]]'
                        THEN workorder.detection_refuse('detection_ref', v.detection_ref_text,
                                 'A detection reference is empty, or 1 to 128 characters without control characters.')
                        ELSE v.detection_ref END AS detection_ref
              FROM raw v
        ), fresh AS MATERIALIZED (
            -- Not a retry of a detection already stored, nor of one earlier in this
            -- batch (the first to arrive is the one stored, as across batches): a
            -- retry within the batch failed its INSERT on the unique key, and the
            -- batch was halved until each copy stood alone, at every level again
            -- (10,000 rows each followed by its retry took 60 times a clean batch,
            -- and a batch large enough ran past the task's timeout at every pass,
            -- holding up the inbox behind it).
            -- A row whose reference names another detection is refused
            -- (detection_is_retry).
            SELECT c.* FROM conv c
             WHERE c.detection_ref IS NULL
                OR (NOT EXISTS (SELECT 1 FROM workorder.detections d
                                 WHERE d.camera_id OPERATOR(pg_catalog.=) c.camera_id
                                   AND d.detection_ref OPERATOR(pg_catalog.=) c.detection_ref
                                   AND workorder.detection_is_retry(c.detection_ref, d.kind, d.detected_at,
                                           ST_X(d.location), ST_Y(d.location), d.confidence,
                                           c.kind, c.detected_at, c.lon, c.lat, c.confidence))
                    AND NOT EXISTS (SELECT 1 FROM conv e
                                     WHERE e.camera_id OPERATOR(pg_catalog.=) c.camera_id
                                       AND e.detection_ref OPERATOR(pg_catalog.=) c.detection_ref
                                       AND e.id OPERATOR(pg_catalog.<) c.id
                                       AND workorder.detection_is_retry(c.detection_ref, e.kind, e.detected_at,
                                               e.lon, e.lat, e.confidence,
                                               c.kind, c.detected_at, c.lon, c.lat, c.confidence)))
        ), placed AS MATERIALIZED (
            SELECT c.*, ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326) AS location,
                   COALESCE(r.min_count, default_count) AS threshold,
                   COALESCE(r."window", default_window) AS "window",
                   COALESCE(r.cell_m, default_cell) AS cell_m,
                   c.confidence OPERATOR(pg_catalog.>=) COALESCE(r.min_confidence, default_confidence) AS counted
              FROM fresh c
              LEFT JOIN workorder.detection_rules r ON r.kind OPERATOR(pg_catalog.=) c.kind
        ), keyed AS MATERIALIZED (
            SELECT p.*,
                   pg_catalog.floor((p.lon OPERATOR(pg_catalog.*) 111195
                                     OPERATOR(pg_catalog.*) pg_catalog.cosd(((pg_catalog.floor((p.lat OPERATOR(pg_catalog.*) 111195) OPERATOR(pg_catalog./) p.cell_m)
                                                                           OPERATOR(pg_catalog.+) 0.5) OPERATOR(pg_catalog.*) p.cell_m) OPERATOR(pg_catalog./) 111195))
                                    OPERATOR(pg_catalog./) p.cell_m)::bigint AS cell_x,
                   pg_catalog.floor((p.lat OPERATOR(pg_catalog.*) 111195) OPERATOR(pg_catalog./) p.cell_m)::bigint AS cell_y,
                   -- Windows counted from a midnight in Beijing time: from the epoch
                   -- (08:00 in Beijing), a day's window ran from 08:00 to 08:00 and cut
                   -- the morning's rush in two.  A window holds no months (part 88's
                   -- rule check), so date_bin takes every one.
                   pg_catalog.date_bin(p."window", p.detected_at, '2000-01-01 00:00:00+08'::timestamptz) AS bucket_start
              FROM placed p
        ), counted AS (
            INSERT INTO workorder.detection_aggregates AS a
                (kind, cell_m, cell_x, cell_y, bucket_start, "window", threshold,
                 detections, sum_lon, sum_lat, first_at, last_at)
            SELECT k.kind, k.cell_m, k.cell_x, k.cell_y, k.bucket_start, k."window", k.threshold,
                   pg_catalog.count(*), pg_catalog.sum(k.lon), pg_catalog.sum(k.lat),
                   pg_catalog.min(k.detected_at), pg_catalog.max(k.detected_at)
              FROM keyed k
             WHERE k.counted
             GROUP BY k.kind, k.cell_m, k.cell_x, k.cell_y, k.bucket_start, k."window", k.threshold
            ON CONFLICT ON CONSTRAINT detection_aggregates_key DO UPDATE
               -- The rule's min_count as it is now: a bucket opened under an older
               -- one kept it (lowered, it raised no order; raised, it did not hold one).
               SET threshold = EXCLUDED.threshold,
                   detections = a.detections OPERATOR(pg_catalog.+) EXCLUDED.detections,
                   sum_lon = a.sum_lon OPERATOR(pg_catalog.+) EXCLUDED.sum_lon,
                   sum_lat = a.sum_lat OPERATOR(pg_catalog.+) EXCLUDED.sum_lat,
                   first_at = LEAST(a.first_at, EXCLUDED.first_at),
                   last_at = GREATEST(a.last_at, EXCLUDED.last_at)
            RETURNING a.id, a.kind, a.cell_m, a.cell_x, a.cell_y, a.bucket_start, a."window"
        )
        INSERT INTO workorder.detections
            (id, camera_id, kind, detected_at, location, confidence, attributes, received_at, aggregate_id, detection_ref)
        SELECT k.id, k.camera_id, k.kind, k.detected_at, k.location, k.confidence, k.attributes, k.received_at, c.id,
               k.detection_ref
          FROM keyed k
          LEFT JOIN counted c ON k.counted AND c.kind OPERATOR(pg_catalog.=) k.kind
                             AND c.cell_m OPERATOR(pg_catalog.=) k.cell_m AND c.cell_x OPERATOR(pg_catalog.=) k.cell_x
                             AND c.cell_y OPERATOR(pg_catalog.=) k.cell_y AND c.bucket_start OPERATOR(pg_catalog.=) k.bucket_start
                             AND c."window" OPERATOR(pg_catalog.=) k."window";
        IF mode OPERATOR(pg_catalog.=) 'probe' THEN
            RAISE SQLSTATE 'WO8P0' USING MESSAGE = 'detection probe passed';   -- rolls back what it wrote
        END IF;
        -- Every row of the batch is taken in: stored, or a retry of one stored.
        RETURN n;
    -- program_limit_exceeded: a value too deep to convert (JSON nested a hundred
    -- thousand levels exceeds the stack depth), which is the row's fault like any
    -- other bad value; uncaught, it failed every batch that held the row, for good.
    EXCEPTION
    WHEN SQLSTATE 'WO8P0' THEN
        RETURN n;
    WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded OR SQLSTATE 'WO851' THEN
        IF mode OPERATOR(pg_catalog.=) 'probe' THEN
            RETURN -1;
        END IF;
        IF n OPERATOR(pg_catalog.>) 1 AND mode OPERATOR(pg_catalog.=) 'batch' THEN
            sifted := workorder.detection_sift(ids, default_count, default_window, default_cell, default_confidence);
            RETURN sifted.taken OPERATOR(pg_catalog.+)
                   workorder.ingest_detection_rows(sifted.good, default_count, default_window, default_cell,
                                                   default_confidence, 'halve');
        END IF;
        IF n OPERATOR(pg_catalog.>) 1 THEN
            half := n OPERATOR(pg_catalog./) 2;
            RETURN workorder.ingest_detection_rows(ids[1:half], default_count, default_window, default_cell,
                                                   default_confidence, 'halve')
                   OPERATOR(pg_catalog.+)
                   workorder.ingest_detection_rows(ids[half OPERATOR(pg_catalog.+) 1:n], default_count, default_window,
                                                   default_cell, default_confidence, 'halve');
        END IF;
        GET STACKED DIAGNOSTICS err_code = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT, err_detail = PG_EXCEPTION_DETAIL;
        -- A unique violation of a single row: another ingest stored the same
        -- detection (camera and reference) meanwhile, and the insert waited for it
        -- to commit.  The row is a retry of a stored detection, as the check above
        -- would have found had that ingest committed first: taken in; or, when the
        -- reference names another detection, refused as the check refuses it.
        IF err_code OPERATOR(pg_catalog.=) '23505' THEN
            BEGIN
                IF EXISTS (SELECT 1 FROM workorder.detection_inbox i
                             JOIN workorder.detections d
                               ON d.camera_id OPERATOR(pg_catalog.=) workorder.trim_blanks(i.camera_id)
                              AND d.detection_ref OPERATOR(pg_catalog.=) workorder.trim_blanks(i.detection_ref)
                            CROSS JOIN LATERAL (SELECT NULLIF(workorder.trim_blanks(i.confidence), '')::double precision AS confidence) x
                            WHERE i.id OPERATOR(pg_catalog.=) ids[1]
                              AND workorder.detection_is_retry(d.detection_ref, d.kind, d.detected_at,
                                      ST_X(d.location), ST_Y(d.location), d.confidence,
                                      NULLIF(workorder.trim_blanks(i.kind), ''),
                                      workorder.time_text_offsets(NULLIF(workorder.trim_blanks(i.detected_at), ''))::timestamptz,
                                      NULLIF(workorder.trim_blanks(i.lon), '')::double precision,
                                      NULLIF(workorder.trim_blanks(i.lat), '')::double precision,
                                      CASE WHEN x.confidence OPERATOR(pg_catalog.<) 1e-37 THEN 0::real
                                           ELSE x.confidence::real END)) THEN
                    RETURN 1;
                END IF;
            EXCEPTION WHEN SQLSTATE 'WO851' THEN
                GET STACKED DIAGNOSTICS err_code = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                                        err_detail = PG_EXCEPTION_DETAIL;
            END;
        END IF;
        IF err_code OPERATOR(pg_catalog.<>) 'WO851' THEN
            -- A value that does not convert: name its column.
            err_message := COALESCE(workorder.detection_unconvertible(ids[1]), err_message);
        END IF;
        INSERT INTO workorder.detection_rejects (id, received_at, raw, error_code, error_message)
        SELECT i.id, i.received_at, pg_catalog.to_jsonb(i) OPERATOR(pg_catalog.-) 'id' OPERATOR(pg_catalog.-) 'received_at',
               err_code, err_message OPERATOR(pg_catalog.||) COALESCE('. ' OPERATOR(pg_catalog.||) NULLIF(err_detail, ''), '')
          FROM workorder.detection_inbox i
         WHERE i.id OPERATOR(pg_catalog.=) ids[1];
        RETURN 0;
    END;
END
$$;
REVOKE ALL ON FUNCTION workorder.ingest_detection_rows(bigint[], integer, interval, double precision, real, text) FROM PUBLIC;

-- detection_sift splits rows that failed to go in together until each part goes
-- in by a probe (ingest_detection_rows, mode probe: nothing kept) or is a single
-- row; each such row is tried alone, for good (rejected, or taken in when it is a
-- retry of a detection another ingest has stored meanwhile).  It returns the rows
-- that go in (good), to be taken in together, and how many of the single rows were
-- taken in (taken).
CREATE FUNCTION workorder.detection_sift(ids bigint[], default_count integer, default_window interval,
                                         default_cell double precision, default_confidence real,
                                         OUT good bigint[], OUT taken integer)
LANGUAGE plpgsql
AS $$
DECLARE
    n integer := COALESCE(pg_catalog.cardinality(ids), 0);
    half integer;
    first_part record;
    second_part record;
BEGIN
    good := '{}';
    taken := 0;
    IF n OPERATOR(pg_catalog.=) 0 THEN
        RETURN;
    END IF;
    IF workorder.ingest_detection_rows(ids, default_count, default_window, default_cell, default_confidence, 'probe')
       OPERATOR(pg_catalog.=) n THEN
        good := ids;
        RETURN;
    END IF;
    IF n OPERATOR(pg_catalog.=) 1 THEN
        taken := workorder.ingest_detection_rows(ids, default_count, default_window, default_cell, default_confidence, 'halve');
        RETURN;
    END IF;
    half := n OPERATOR(pg_catalog./) 2;
    first_part := workorder.detection_sift(ids[1:half], default_count, default_window, default_cell, default_confidence);
    second_part := workorder.detection_sift(ids[half OPERATOR(pg_catalog.+) 1:n], default_count, default_window,
                                            default_cell, default_confidence);
    good := first_part.good OPERATOR(pg_catalog.||) second_part.good;
    taken := first_part.taken OPERATOR(pg_catalog.+) second_part.taken;
END
$$;
REVOKE ALL ON FUNCTION workorder.detection_sift(bigint[], integer, interval, double precision, real) FROM PUBLIC;

-- raise_detection_orders makes the one order of each aggregate that has crossed its
-- threshold and has none yet (at most max_orders), and returns how many it made.
-- A failure (no detection channel, ...) is kept on the aggregate, to be retried.
CREATE FUNCTION workorder.raise_detection_orders(max_orders integer DEFAULT 100)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    own_channel text := workorder.setting('detection_channel', 'video_ai');
    a workorder.detection_aggregates;
    o workorder.orders;
    ref text;
    made integer := 0;
BEGIN
    -- Those whose order failed before (order_error) come last: a hundred that fail
    -- for good would otherwise take every batch, and a new aggregate would never
    -- get its order.
    FOR a IN SELECT * FROM workorder.detection_aggregates x
              WHERE x.order_id IS NULL AND x.detections OPERATOR(pg_catalog.>=) x.threshold
              ORDER BY x.order_error IS NOT NULL, x.id LIMIT max_orders
                FOR UPDATE SKIP LOCKED
    LOOP
        BEGIN
            ref := pg_catalog.format('%s:%s:%s:%s:%s:%s', a.kind, a.cell_m, a.cell_x, a.cell_y,
                                     pg_catalog.date_part('epoch', a.bucket_start)::bigint,
                                     pg_catalog.date_part('epoch', a."window")::bigint);
            -- An aggregate whose link to its order was lost has its order by the
            -- reference: taken as it is, not submitted again (its count and centre
            -- have moved since, and submit() refuses another report under a
            -- reference it used, WO308).
            SELECT x.* INTO o FROM workorder.orders x
             WHERE x.channel_code OPERATOR(pg_catalog.=) workorder.trim_blanks(own_channel)
               AND x.channel_ref OPERATOR(pg_catalog.=) ref;
            IF FOUND THEN
                UPDATE workorder.detection_aggregates x SET order_id = o.id, order_error = NULL
                 WHERE x.id OPERATOR(pg_catalog.=) a.id;
                made := made OPERATOR(pg_catalog.+) 1;
                CONTINUE;
            END IF;
            o := workorder.submit(
                channel => own_channel,
                channel_ref => ref,
                category => a.kind,
                description => pg_catalog.format('视频AI: %s 在 %s 分钟内识别 %s 次 (%s 起)',
                    COALESCE((SELECT c.name FROM workorder.categories c
                               WHERE c.code OPERATOR(pg_catalog.=) workorder.map_category(own_channel, a.kind)), a.kind),
                    pg_catalog.round(pg_catalog.date_part('epoch', a."window")::numeric OPERATOR(pg_catalog./) 60),
                    a.detections,
                    pg_catalog.to_char(a.bucket_start AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')),
                lon => a.sum_lon OPERATOR(pg_catalog./) a.detections,
                lat => a.sum_lat OPERATOR(pg_catalog./) a.detections,
                occurred_at => a.first_at,
                attributes => pg_catalog.jsonb_build_object(
                    'detection_aggregate_id', a.id, 'kind', a.kind, 'detections', a.detections,
                    'bucket_start', a.bucket_start, 'window', a."window", 'first_at', a.first_at, 'last_at', a.last_at,
                    'detection_ids', (SELECT pg_catalog.jsonb_agg(d.id ORDER BY d.id) FROM (
                                          SELECT y.id FROM workorder.detections y
                                           WHERE y.aggregate_id OPERATOR(pg_catalog.=) a.id ORDER BY y.id LIMIT 100) d)));
            UPDATE workorder.detection_aggregates x SET order_id = o.id, order_error = NULL
             WHERE x.id OPERATOR(pg_catalog.=) a.id;
            made := made OPERATOR(pg_catalog.+) 1;
        EXCEPTION WHEN OTHERS THEN
            UPDATE workorder.detection_aggregates x
               SET order_error = pg_catalog.format('%s (SQLSTATE %s)', SQLERRM, SQLSTATE)
             WHERE x.id OPERATOR(pg_catalog.=) a.id;
        END;
    END LOOP;
    RETURN made;
END
$$;
REVOKE ALL ON FUNCTION workorder.raise_detection_orders(integer) FROM PUBLIC;

-- ingest_detections moves up to max_rows inbox rows (oldest first) into
-- detections, rejecting the bad ones, and then raises the orders of the aggregates
-- that crossed their thresholds.  Returns how many rows it ingested and rejected
-- and how many orders it made.  A detection time without a UTC offset is Beijing
-- time, whatever the session's TimeZone.
--
-- Two ingests do not run at once: the second waits for the first's transaction (a
-- transaction-level advisory lock), then takes the rows after it.  A batch that
-- holds a bad row is written by several statements (ingest_detection_rows splits
-- it), each upserting its own aggregates, and two such batches running at once
-- deadlocked on them (8 calls in 40, two sessions, a bad row in seven).
--
-- A row with a value longer than any column takes (over 1 kB; attributes over
-- 64 kB) is rejected first, by its length alone, with the beginning of each value:
-- read whole, a camera id of 140 million characters failed the batch statement with
-- an error no reject handles (XX000, out of memory), and since every ingest claims
-- the oldest rows first, no detection after it was ever ingested.
CREATE FUNCTION workorder.ingest_detections(max_rows integer DEFAULT 10000,
                                            OUT ingested integer, OUT rejected integer, OUT orders integer)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
SET TimeZone = 'Asia/Shanghai'
SET DateStyle = 'ISO, YMD'
-- PostGIS's costs make the batch look expensive enough to JIT-compile, which costs
-- more than the batch.  A generic plan, blind to the claimed id range, would hash
-- the whole inbox for every batch: each batch is planned for its own ids.
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    ids bigint[];
    too_long bigint[];
    sound bigint[];
    -- The longest value a row may have, in bytes: any column, and attributes.
    value_most constant integer := 1024;
    attributes_most constant integer := 65536;
BEGIN
    IF max_rows IS NULL OR max_rows OPERATOR(pg_catalog.<) 1 OR max_rows OPERATOR(pg_catalog.>) 1000000 THEN
        PERFORM workorder.raise_error('WO853',
            'invalid batch size for ingest_detections',
            pg_catalog.format('max_rows is %s.', COALESCE(max_rows::text, 'NULL')),
            'Pass max_rows from 1 to 1000000; call ingest_detections() again for the rest.');
    END IF;
    -- READ COMMITTED, as intake: under REPEATABLE READ an ingest that waited for
    -- another's lock kept its snapshot from before it, and failed on the other's
    -- rows with a serialization error (40001) instead of seeing them.
    PERFORM workorder.require_read_committed('ingest_detections()');
    PERFORM workorder.lock_xact('workorder.ingest_detections');
    -- The rows with a value over its column's length are found as the rows are
    -- claimed: octet_length() reads a stored value's length, not the value.
    SELECT pg_catalog.array_agg(c.id ORDER BY c.id), pg_catalog.array_agg(c.id ORDER BY c.id) FILTER (WHERE c.oversized)
      INTO ids, too_long
      FROM (SELECT i.id,
                   GREATEST(pg_catalog.octet_length(i.camera_id), pg_catalog.octet_length(i.kind),
                            pg_catalog.octet_length(i.detected_at), pg_catalog.octet_length(i.lon),
                            pg_catalog.octet_length(i.lat), pg_catalog.octet_length(i.confidence),
                            pg_catalog.octet_length(i.detection_ref)) OPERATOR(pg_catalog.>) value_most
                   OR pg_catalog.octet_length(i.attributes) OPERATOR(pg_catalog.>) attributes_most AS oversized
              FROM workorder.detection_inbox i ORDER BY i.id LIMIT max_rows FOR UPDATE SKIP LOCKED) c;
    sound := ids;
    IF too_long IS NOT NULL THEN
        -- Rejected with the beginning of each value (substr() reads only that).
        INSERT INTO workorder.detection_rejects (id, received_at, raw, error_code, error_message)
        SELECT i.id, i.received_at,
               pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                   'camera_id', pg_catalog.substr(i.camera_id, 1, 200), 'kind', pg_catalog.substr(i.kind, 1, 200),
                   'detected_at', pg_catalog.substr(i.detected_at, 1, 200), 'lon', pg_catalog.substr(i.lon, 1, 200),
                   'lat', pg_catalog.substr(i.lat, 1, 200), 'confidence', pg_catalog.substr(i.confidence, 1, 200),
                   'attributes', pg_catalog.substr(i.attributes, 1, 200),
                   'detection_ref', pg_catalog.substr(i.detection_ref, 1, 200))),
               'WO851',
               pg_catalog.format('detection column %s is too long: %s bytes, of at most %s. Fix the row at its source and COPY it again.',
                                 l.name, l.bytes, l.most)
          FROM workorder.detection_inbox i
          CROSS JOIN LATERAL (
              SELECT c.name, c.bytes, c.most
                FROM (VALUES (1, 'camera_id', pg_catalog.octet_length(i.camera_id), value_most),
                             (2, 'kind', pg_catalog.octet_length(i.kind), value_most),
                             (3, 'detected_at', pg_catalog.octet_length(i.detected_at), value_most),
                             (4, 'lon', pg_catalog.octet_length(i.lon), value_most),
                             (5, 'lat', pg_catalog.octet_length(i.lat), value_most),
                             (6, 'confidence', pg_catalog.octet_length(i.confidence), value_most),
                             (7, 'attributes', pg_catalog.octet_length(i.attributes), attributes_most),
                             (8, 'detection_ref', pg_catalog.octet_length(i.detection_ref), value_most)) c(n, name, bytes, most)
               WHERE c.bytes OPERATOR(pg_catalog.>) c.most
               ORDER BY c.n LIMIT 1) l
         WHERE i.id OPERATOR(pg_catalog.=) ANY (too_long);
        sound := ARRAY(SELECT k.id FROM pg_catalog.unnest(ids) AS k(id)
                        WHERE k.id OPERATOR(pg_catalog.<>) ALL (too_long) ORDER BY k.id);
    END IF;
    ingested := workorder.ingest_detection_rows(COALESCE(sound, '{}'),
        workorder.setting('detection_min_count', '10')::integer,
        workorder.setting('detection_window', '1 hour')::interval,
        workorder.setting('detection_cell_m', '200')::double precision,
        workorder.setting('detection_min_confidence', '0.5')::real);
    rejected := COALESCE(pg_catalog.cardinality(ids), 0) OPERATOR(pg_catalog.-) ingested;
    DELETE FROM workorder.detection_inbox i USING pg_catalog.unnest(ids) AS claimed(id)
     WHERE i.id OPERATOR(pg_catalog.=) claimed.id
       AND i.id OPERATOR(pg_catalog.>=) ids[1] AND i.id OPERATOR(pg_catalog.<=) ids[pg_catalog.cardinality(ids)];
    orders := workorder.raise_detection_orders(100);
END
$$;
REVOKE ALL ON FUNCTION workorder.ingest_detections(integer) FROM PUBLIC;
COMMENT ON FUNCTION workorder.ingest_detections(integer) IS
    'Moves up to max_rows rows of workorder.detection_inbox into workorder.detections (bad rows to detection_rejects), counts them, and raises the orders of aggregates over their threshold.';
