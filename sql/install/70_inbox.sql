-- workorder install script, part 70: the bulk inbox.
--
-- A connector that has many reports at once COPYs them into workorder.inbox, and
-- workorder.drain_inbox() turns each pending row into an order through submit().
-- The report columns are text, so that COPY itself never rejects a row for its
-- type: a longitude 'abc' becomes a rejected row with a reason, not a failed COPY
-- that loses the whole batch.  Every row ends 'accepted' (with its order's id) or
-- 'rejected' (with the SQLSTATE and the reason); no row is ever deleted.
--
-- Privileges (part 98): nothing for PUBLIC.  Intake connectors (workorder_intake)
-- INSERT the report columns, for their own channel only (a trigger, part 96), and
-- read their rows back through workorder.inbox_mine; drain_inbox() is the worker's
-- and the admins'.

CREATE TABLE workorder.inbox (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- The report, as the connector has it: the arguments of submit(), as text.
    channel        text,
    channel_ref    text,
    category       text,
    description    text,
    lon            text,
    lat            text,
    address        text,
    reporter_name  text,
    reporter_phone text,
    occurred_at    text,
    attributes     text,
    priority       text,
    -- What became of it.
    state          text NOT NULL DEFAULT 'pending',
    order_id       bigint,
    error_code     text,
    error_message  text,
    processed_at   timestamptz,
    -- Attempts that failed for a reason not the row's (see drain_inbox), and when
    -- a row still pending after one may be tried again.
    attempts       integer NOT NULL DEFAULT 0,
    retry_at       timestamptz,
    -- What to do about the error (its hint), beside error_code and error_message.
    error_hint     text,
    CONSTRAINT inbox_state CHECK (state IN ('pending', 'accepted', 'rejected')),
    CONSTRAINT inbox_accepted_has_order CHECK ((state OPERATOR(pg_catalog.=) 'accepted') OPERATOR(pg_catalog.=) (order_id IS NOT NULL)),
    CONSTRAINT inbox_rejected_has_reason CHECK (state OPERATOR(pg_catalog.<>) 'rejected'
                                                OR (error_code IS NOT NULL AND error_message IS NOT NULL))
);
-- drain_inbox() claims the pending rows through these two indexes, which stay as
-- small as the backlog however long the history grows: the rows to try again, by
-- when they are due, and the rows never tried, in id order.
CREATE INDEX inbox_pending_idx ON workorder.inbox (id)
    WHERE state OPERATOR(pg_catalog.=) 'pending' AND retry_at IS NULL;
CREATE INDEX inbox_retry_idx ON workorder.inbox (retry_at, id)
    WHERE state OPERATOR(pg_catalog.=) 'pending' AND retry_at IS NOT NULL;
-- A connector reads its results back by its own reference.  A hash index, which
-- keeps a hash of each value: a btree entry is at most about 2.7 kB, and one
-- reference over that (a connector's bug) failed the whole COPY with a bare 54000,
-- good rows and all, where the row should be stored and rejected (WO302).
CREATE INDEX inbox_channel_ref_idx ON workorder.inbox USING hash (channel_ref);
-- purge_history (part 97) finds the settled rows past their retention, oldest first.
CREATE INDEX inbox_settled_idx ON workorder.inbox (processed_at) WHERE state IN ('accepted', 'rejected');
SELECT pg_catalog.pg_extension_config_dump('workorder.inbox', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.inbox_id_seq', '');
REVOKE ALL ON workorder.inbox FROM PUBLIC;
COMMENT ON TABLE workorder.inbox IS
    'Bulk intake: connectors COPY reports in (text columns), workorder.drain_inbox() makes them orders; rows are kept with their outcome for retention_inbox (purge_history).';
COMMENT ON COLUMN workorder.inbox.lon IS 'WGS84 longitude in degrees, as text; converted to double precision by drain_inbox()';
COMMENT ON COLUMN workorder.inbox.lat IS 'WGS84 latitude in degrees, as text; converted to double precision by drain_inbox()';
COMMENT ON COLUMN workorder.inbox.occurred_at IS
    'when the event happened, as text; converted to timestamptz by drain_inbox(), Beijing time (Asia/Shanghai) when it has no UTC offset';
COMMENT ON COLUMN workorder.inbox.attributes IS 'free attributes, a JSON object as text';
COMMENT ON COLUMN workorder.inbox.priority IS 'low, normal, high or urgent (case and surrounding blanks ignored); empty means normal';
COMMENT ON COLUMN workorder.inbox.state IS 'pending until drained, then accepted (order_id is set) or rejected (error_code and error_message say why)';
COMMENT ON COLUMN workorder.inbox.error_code IS
    'the SQLSTATE of the rejection: WO1xx/WO3xx from submit(), 22xxx for a column that does not convert; on a row still pending, the error of its last attempt (a deadlock, a lock timeout, a broken setting or unit: not the row''s fault)';
COMMENT ON COLUMN workorder.inbox.error_hint IS
    'what to do about the error of error_code and error_message: the hint of submit()''s error (for a column that does not convert, which column to correct); NULL when the error has none';
COMMENT ON COLUMN workorder.inbox.attempts IS
    'attempts that failed for a reason not the row''s own; the row stayed pending after each';
COMMENT ON COLUMN workorder.inbox.retry_at IS
    'on a pending row that failed: when drain_inbox() may try it again (inbox_retry_base, doubled for each further failure, at most inbox_retry_max); NULL on a row never tried';

-- time_text_offsets returns the text of a time with the UTC offsets that Chinese
-- servers and cameras write, and PostgreSQL misreads, made ISO offsets:
--   - CST is China Standard Time (+08), as a Chinese server writes it (Java's
--     Date.toString(): Thu Nov 26 23:21:26 CST 2026; a camera: 10:00:00CST), not
--     PostgreSQL's US Central Time, 14 hours off;
--   - GMT+8, UTC+8, UTC+08:00, UTC+0800 are eight hours east, not the POSIX
--     reading PostgreSQL gives them (eight hours west: 16 hours off).
-- A text with a word PostgreSQL reads as a time of its own (now, today, tomorrow,
-- yesterday, epoch, allballs) or a Julian day (J2461372) is refused (22007): it is
-- no time of an event.  Any other text comes back as it is.  C (src/intake.c):
-- ingest_detections() runs it on every row.
CREATE FUNCTION workorder.time_text_offsets(value text)
RETURNS text
AS 'MODULE_PATHNAME', 'intake_time_text_offsets'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- inbox_timestamptz converts the text of an event time.  A time without a UTC
-- offset is Beijing time, as the ticket's day is, whatever the session's TimeZone
-- (a connector's session and the background worker's may differ); dates are read
-- year first; the offsets PostgreSQL misreads (CST, GMT+8) are rewritten first
-- (time_text_offsets, which also refuses the words PostgreSQL reads as times of
-- their own: an event time of 'now' was the time of the drain).  The settings are
-- the function's own and end with the call.
CREATE FUNCTION workorder.inbox_timestamptz(value text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET TimeZone = 'Asia/Shanghai'
SET DateStyle = 'ISO, YMD'
AS $$
BEGIN
    RETURN workorder.time_text_offsets(value)::timestamptz;
END
$$;

-- inbox_degrees converts the text of a coordinate: a decimal number, with an
-- exponent or without (or NaN or Infinity, which submit() refuses with its own
-- error), blanks around it ignored.  PostgreSQL's own cast reads C's hexadecimal
-- forms too ('0x10' is 16, '0x1p4' 16), which no connector means: such a row was
-- made an order at longitude 16.
CREATE FUNCTION workorder.inbox_degrees(value text)
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    IF NOT (value OPERATOR(pg_catalog.~*) '^\s*[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?|nan|inf|infinity)\s*$') THEN
        RAISE EXCEPTION 'invalid input syntax for a decimal number: "%"', value
              USING ERRCODE = 'invalid_text_representation';
    END IF;
    RETURN value::double precision;
END
$$;

-- retry_backoff is the wait before the next attempt after attempts failed ones:
-- base, doubled for each failure after the first, at most cap.  The inbox and the
-- outbox (outbox_backoff, part 75) back off this way, each with its own settings.
CREATE FUNCTION workorder.retry_backoff(attempts integer, base interval, cap interval)
RETURNS interval
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    base_s double precision := pg_catalog.date_part('epoch', base);
    cap_s double precision := pg_catalog.date_part('epoch', cap);
    -- The doublings that reach the cap: more would only be capped, and a long base
    -- doubled 30 times is past the range of an interval (22008).
    doublings integer := CASE WHEN base_s OPERATOR(pg_catalog.>) 0 AND cap_s OPERATOR(pg_catalog.>) base_s
                              THEN LEAST(pg_catalog.ceil(pg_catalog.log(2::numeric, (cap_s OPERATOR(pg_catalog./) base_s)::numeric)), 30)::integer
                              ELSE 0 END;
BEGIN
    RETURN LEAST(base OPERATOR(pg_catalog.*)
                 pg_catalog.power(2::double precision,
                                  LEAST(GREATEST(attempts OPERATOR(pg_catalog.-) 1, 0), doublings)::double precision),
                 cap);
END
$$;

-- drain_inbox makes orders of up to max_rows pending inbox rows and returns how
-- many it accepted and rejected.
--
-- It claims the rows with FOR UPDATE SKIP LOCKED, so several sessions
-- (and the background worker) may drain at once: each row is claimed by one.  Each
-- row is converted and submitted in a subtransaction of its own, so one bad row
-- never aborts the batch: it is rejected, with the SQLSTATE and the message and
-- detail of the error.  A conversion error names the column and the value.  A
-- retry of a report (same channel and channel_ref as an order that exists, or as
-- an earlier row) is accepted with the existing order's id, because submit() is
-- idempotent; so is a retry a column of which does not convert, when its
-- description, category and (if lon and lat convert) place are the order's.  A
-- row whose reference made an order of another report (another description,
-- category, place or event time) is rejected by submit() (WO308), not taken for
-- its retry; one a column of which does not convert, for that column.
--
-- The claimed rows are submitted in (channel, channel_ref, id) order, not in id
-- order, the channel and the reference trimmed of the blanks submit() trims (' M5'
-- is 'M5'); the other columns are trimmed of them too before they are converted
-- (a longitude pasted with a no-break space after it is a longitude).
-- Two drains that meet on the same reference (one waits for the other's
-- uncommitted order) then mostly wait in the same direction, and the earliest row
-- of a reference is the one that makes its order (sorted untrimmed, a later
-- ' M5' made the order of an earlier 'M5', and the earlier row became its
-- retry).  dedup's locks of its search cells are taken in the order of the
-- reports, so two drains can still deadlock; the row that loses stays pending
-- and is retried (see below).
--
-- A row whose submit fails for a reason that is not the row's (a deadlock or a
-- serialization failure with another transaction, class 40, a lock timeout, 55P03,
-- or a broken setting or unit: any error but a conversion's or submit()'s WO1xx and
-- WO3xx) is not rejected: that would lose a good report.  It stays pending, with
-- the error and its count of attempts, and is tried again once retry_at comes:
-- inbox_retry_base (default '10 seconds') after the first failure, doubled for each
-- further one, at most inbox_retry_max (default '15 minutes').  A drain claims at
-- most half of max_rows among the rows due again (the longest due first), then rows
-- never tried (in id order), then, when there is room left, more rows due again.
-- So rows that keep failing (a unit broken until an admin mends it) are tried a few
-- times an hour, and never stand in front of the rows behind them: before, they were
-- claimed first by every drain, and max_rows of them stopped the drain for good.
--
-- A drain works through its rows for drain_time_budget (default '1 second'); the
-- rows it has not reached by then stay pending, untouched, for the next drain, and
-- what it did commits.  Until then it holds what each row's submit() locked (the
-- dedup cell of its place, the master it merged into): a direct submit() at the
-- same place waits for the drain's commit, which took up to 30 seconds (the
-- default once) while the worker worked through a backlog.  The worker runs the
-- drain again at once while rows wait, so a short budget costs a commit a second.
-- A row waits for a lock at most a tenth of the budget (100 ms by default; less if
-- the caller's lock_timeout is shorter): a report at a place where another session
-- left a transaction open (a dispatcher's client, a connector, an admin's psql)
-- fails with 55P03 and is tried again later, and the drain goes on to the next row.
-- It waited the caller's lock_timeout (the worker's 10 s; none at all, for ever, in
-- a session's run_due_work()), then stopped at the budget, and the next drain met
-- the next report of that place first: one open transaction held every report of
-- the inbox, wherever it was, for as long as it stayed open.
-- require_read_committed refuses intake (operation names it) in a REPEATABLE READ
-- or SERIALIZABLE transaction (WO307), as submit() does: dedup's search must see
-- the reports committed while it waited for them (src/intake.c).  With a hint of
-- its own, the outbox's claims and redrives too (part 75).
CREATE FUNCTION workorder.require_read_committed(operation text, hint text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'intake_require_read_committed_sql'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION workorder.require_read_committed(text, text) IS
    'Raises WO307 in a REPEATABLE READ or SERIALIZABLE transaction: intake, claims and redrives run under READ COMMITTED.';

CREATE FUNCTION workorder.drain_inbox(max_rows integer DEFAULT 1000)
RETURNS TABLE (accepted integer, rejected integer)
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    claimed bigint[];
    r workorder.inbox;
    o workorder.orders;
    v_lon double precision;
    v_lat double precision;
    v_occurred_at timestamptz;
    v_attributes jsonb;
    v_priority workorder.order_priority;
    retried bigint;     -- the order of a retry whose columns do not convert
    converting text;    -- the column being converted, NULL once they all are
    converted_to text;  -- what it is converted to, for the message
    value text;         -- its value
    err_code text;
    err_message text;
    err_detail text;
    err_hint text;
    -- At least a second: a base of 0 made failing rows due again at once.
    retry_base interval := GREATEST(workorder.setting('inbox_retry_base', '10 seconds')::interval, interval '1 second');
    retry_max interval := workorder.setting('inbox_retry_max', '15 minutes')::interval;
    -- The instant in a variable: compared with clock_timestamp() (volatile), the
    -- retry_at of every waiting row was a filter, not a bound of inbox_retry_idx.
    claimed_at timestamptz := pg_catalog.clock_timestamp();
    -- How long the rows are worked through; those not reached by then stay pending
    -- for the next drain.  A row whose submit() waits for a lock (another session's
    -- open transaction at the same place) waits up to the worker's lock_timeout, and
    -- a batch of such rows held the worker, every task behind the drain, until the
    -- task's timeout cancelled it, its rows' retry bookkeeping with it.
    budget interval := workorder.setting('drain_time_budget', '1 second')::interval;
    reached integer := 0;
    -- A row of a channel not active since before this is given up (WO305).
    retired_before timestamptz := pg_catalog.now() OPERATOR(pg_catalog.-)
                                  workorder.setting('retention_inbox', '30 days')::interval;
    retired boolean;
    -- The caller's lock_timeout, set again when the drain is done.
    caller_lock_timeout text := pg_catalog.current_setting('lock_timeout');
    caller_lock_ms integer;
    row_lock_wait integer;
BEGIN
    IF max_rows IS NULL OR max_rows OPERATOR(pg_catalog.<) 1 OR max_rows OPERATOR(pg_catalog.>) 100000 THEN
        PERFORM workorder.raise_error('WO306',
            'invalid batch size for drain_inbox',
            pg_catalog.format('max_rows is %s.', COALESCE(max_rows::text, 'NULL')),
            'Pass max_rows from 1 to 100000; call drain_inbox() again for the rest of the backlog.');
    END IF;
    -- Before a row is claimed: submit() would refuse every row, and each would
    -- count as the row's own fault.
    PERFORM workorder.require_read_committed('drain_inbox()');
    -- A deferred constraint or constraint trigger (a site's own, on orders or the
    -- log) would fire at COMMIT, past each row's error handling: one bad row aborted
    -- the whole drain, every drain after it met the same rows first, and none was
    -- marked.  Immediate, it fails the row's own subtransaction.  (For the rest of
    -- the transaction: the worker's task, or the caller's.)
    SET CONSTRAINTS ALL IMMEDIATE;
    accepted := 0;
    rejected := 0;

    -- Half the batch at most for the rows due again, then the rows never tried,
    -- then the rest for more rows due again (rows this drain holds are left out: a
    -- row locked by this transaction is not skipped by SKIP LOCKED).
    SELECT COALESCE(pg_catalog.array_agg(c.id), '{}') INTO claimed
      FROM (SELECT i.id FROM workorder.inbox i
             WHERE i.state OPERATOR(pg_catalog.=) 'pending' AND i.retry_at OPERATOR(pg_catalog.<=) claimed_at
             ORDER BY i.retry_at, i.id
             LIMIT max_rows OPERATOR(pg_catalog./) 2
               FOR UPDATE SKIP LOCKED) c;
    claimed := claimed OPERATOR(pg_catalog.||)
               (SELECT pg_catalog.array_agg(c.id)
                  FROM (SELECT i.id FROM workorder.inbox i
                         WHERE i.state OPERATOR(pg_catalog.=) 'pending' AND i.retry_at IS NULL
                         ORDER BY i.id
                         LIMIT max_rows OPERATOR(pg_catalog.-) pg_catalog.cardinality(claimed)
                           FOR UPDATE SKIP LOCKED) c);
    IF pg_catalog.cardinality(claimed) OPERATOR(pg_catalog.<) max_rows THEN
        claimed := claimed OPERATOR(pg_catalog.||)
                   (SELECT pg_catalog.array_agg(c.id)
                      FROM (SELECT i.id FROM workorder.inbox i
                             WHERE i.state OPERATOR(pg_catalog.=) 'pending' AND i.retry_at OPERATOR(pg_catalog.<=) claimed_at
                               AND i.id OPERATOR(pg_catalog.<>) ALL (claimed)
                             ORDER BY i.retry_at, i.id
                             LIMIT max_rows OPERATOR(pg_catalog.-) pg_catalog.cardinality(claimed)
                               FOR UPDATE SKIP LOCKED) c);
    END IF;
    IF pg_catalog.cardinality(claimed) OPERATOR(pg_catalog.=) 0 THEN
        RETURN NEXT;
        RETURN;
    END IF;

    -- A tenth of the budget in milliseconds, at least 1, and no more than the
    -- caller's own bound (0: none).
    row_lock_wait := GREATEST((pg_catalog.date_part('epoch', budget) OPERATOR(pg_catalog.*) 100)::integer, 1);
    caller_lock_ms := (SELECT s.setting::integer FROM pg_catalog.pg_settings s
                        WHERE s.name OPERATOR(pg_catalog.=) 'lock_timeout');
    IF caller_lock_ms OPERATOR(pg_catalog.>) 0 THEN
        row_lock_wait := LEAST(row_lock_wait, caller_lock_ms);
    END IF;
    PERFORM pg_catalog.set_config('lock_timeout', row_lock_wait::text, true);

    FOR r IN SELECT * FROM workorder.inbox i
              WHERE i.id OPERATOR(pg_catalog.=) ANY (claimed)
              ORDER BY workorder.trim_blanks(i.channel) COLLATE pg_catalog."C",
                       workorder.trim_blanks(i.channel_ref) COLLATE pg_catalog."C", i.id
    LOOP
        EXIT WHEN reached OPERATOR(pg_catalog.>) 0
                  AND pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) claimed_at OPERATOR(pg_catalog.>=) budget;
        reached := reached OPERATOR(pg_catalog.+) 1;
        BEGIN
            converting := 'lon';
            converted_to := 'a number (degrees of longitude)';
            value := r.lon;
            v_lon := workorder.inbox_degrees(NULLIF(workorder.trim_blanks(r.lon), ''));
            converting := 'lat';
            converted_to := 'a number (degrees of latitude)';
            value := r.lat;
            v_lat := workorder.inbox_degrees(NULLIF(workorder.trim_blanks(r.lat), ''));
            converting := 'occurred_at';
            converted_to := 'a timestamp';
            value := r.occurred_at;
            v_occurred_at := workorder.inbox_timestamptz(NULLIF(workorder.trim_blanks(r.occurred_at), ''));
            converting := 'attributes';
            converted_to := 'JSON';
            value := r.attributes;
            v_attributes := NULLIF(workorder.trim_blanks(r.attributes), '')::jsonb;
            converting := 'priority';
            converted_to := 'a priority (low, normal, high, urgent)';
            value := r.priority;
            -- The blanks submit() trims from its texts (tab, CR, no-break and
            -- ideographic spaces too), as the column's comment promises.
            v_priority := NULLIF(pg_catalog.lower(workorder.trim_blanks(r.priority)), '')::workorder.order_priority;
            converting := NULL;

            -- Received when it came into the inbox, not when it was drained.
            PERFORM workorder.intake_received_at(r.received_at);
            o := workorder.submit(
                channel => r.channel, channel_ref => r.channel_ref, category => r.category,
                description => r.description, lon => v_lon, lat => v_lat, address => r.address,
                reporter_name => r.reporter_name, reporter_phone => r.reporter_phone,
                occurred_at => v_occurred_at, attributes => v_attributes, priority => v_priority);

            UPDATE workorder.inbox i
               SET state = 'accepted', order_id = o.id, error_code = NULL, error_message = NULL, error_hint = NULL,
                   processed_at = pg_catalog.clock_timestamp(), retry_at = NULL
             WHERE i.id OPERATOR(pg_catalog.=) r.id;
            accepted := accepted OPERATOR(pg_catalog.+) 1;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS err_code = RETURNED_SQLSTATE,
                                    err_message = MESSAGE_TEXT,
                                    err_detail = PG_EXCEPTION_DETAIL,
                                    err_hint = PG_EXCEPTION_HINT;
            IF converting IS NOT NULL THEN
                -- A row whose reference has its order is taken as that order's
                -- retry when a column does not convert, if what can be compared
                -- is the order's: its description and category, as submit()
                -- compares a retry's (trimmed), and its place when lon and lat
                -- both converted (they convert first).  Another report under a
                -- used reference, whose column does not convert either, was taken
                -- for the retry and lost; it is rejected for that column, and once
                -- corrected submit() refuses it (WO308).
                retried := (SELECT x.id FROM workorder.orders x
                             WHERE x.channel_code OPERATOR(pg_catalog.=) workorder.trim_blanks(r.channel)
                               AND x.channel_ref OPERATOR(pg_catalog.=)
                                   workorder.trim_blanks(r.channel_ref)
                               AND workorder.channel_is_active(workorder.trim_blanks(r.channel))
                               AND x.description OPERATOR(pg_catalog.=) workorder.trim_blanks(r.description)
                               AND x.channel_category IS NOT DISTINCT FROM
                                   NULLIF(workorder.trim_blanks(r.category), '')
                               AND (converting OPERATOR(pg_catalog.=) ANY ('{lon,lat}'::text[])
                                    OR (pg_catalog.abs(ST_X(x.location) OPERATOR(pg_catalog.-) v_lon)
                                            OPERATOR(pg_catalog.<=) 1e-7
                                        AND pg_catalog.abs(ST_Y(x.location) OPERATOR(pg_catalog.-) v_lat)
                                            OPERATOR(pg_catalog.<=) 1e-7)));
                IF retried IS NOT NULL THEN
                    UPDATE workorder.inbox i
                       SET state = 'accepted', order_id = retried, error_code = NULL, error_message = NULL, error_hint = NULL,
                           processed_at = pg_catalog.clock_timestamp(), retry_at = NULL
                     WHERE i.id OPERATOR(pg_catalog.=) r.id;
                    accepted := accepted OPERATOR(pg_catalog.+) 1;
                    CONTINUE;
                END IF;
                err_detail := pg_catalog.format('The value does not convert: %s%s.', err_message,
                                                COALESCE(' (' OPERATOR(pg_catalog.||)
                                                         pg_catalog.rtrim(NULLIF(err_detail, ''), '.')
                                                         OPERATOR(pg_catalog.||) ')', ''));
                err_message := pg_catalog.format('inbox column %s is not %s: %s', converting, converted_to,
                                                 pg_catalog.quote_literal(pg_catalog.left(value, 60)));
                err_hint := pg_catalog.format('Correct %s and insert the report again, with the same channel_ref.',
                                              converting);
            END IF;
            err_hint := pg_catalog.left(NULLIF(err_hint, ''), 2000);
            err_message := err_message OPERATOR(pg_catalog.||)
                           COALESCE('. ' OPERATOR(pg_catalog.||) NULLIF(err_detail, ''), '');
            -- PostgreSQL's own message quotes the whole bad value (a lon of megabytes):
            -- the reason is kept readable, and the row keeps the value itself.
            IF pg_catalog.length(err_message) OPERATOR(pg_catalog.>) 2000 THEN
                err_message := pg_catalog.left(err_message, 1997) OPERATOR(pg_catalog.||) '...';
            END IF;
            -- A channel switched off for longer than retention_inbox is retired, not
            -- paused: its row is rejected, and retention deletes it in its turn.  It
            -- was tried every inbox_retry_max for ever, keeping the reporter's name
            -- and phone with no end.  How long the channel has been off, not how old
            -- the row is (inactive_since, part 40): an old row of a channel off for a
            -- minute was rejected.
            retired := err_code OPERATOR(pg_catalog.=) 'WO305'
                       AND r.received_at OPERATOR(pg_catalog.<) retired_before
                       AND EXISTS (SELECT 1 FROM workorder.channels c
                                    WHERE c.code OPERATOR(pg_catalog.=) workorder.trim_blanks(r.channel)
                                      AND c.inactive_since OPERATOR(pg_catalog.<) retired_before);
            IF retired THEN
                err_message := pg_catalog.format('not processed for more than %s, the channel not active all that time: ',
                                                 workorder.setting('retention_inbox', '30 days'))
                               OPERATOR(pg_catalog.||) err_message;
                err_hint := 'Set the channel active again and insert the report again, with the same channel_ref.';
            END IF;
            IF converting IS NULL
               AND (pg_catalog.left(err_code, 3) NOT IN ('WO1', 'WO3')
                    OR (err_code OPERATOR(pg_catalog.=) 'WO305' AND NOT retired)) THEN
                -- Not the row's fault (a deadlock, a lock timeout, a broken setting or
                -- unit, its channel switched off for a while (WO305), ...): rejecting it
                -- would lose a good report, so it stays pending, with the error, until
                -- its retry is due.
                UPDATE workorder.inbox i
                   SET error_code = err_code,
                       error_message = 'not processed, to be retried: ' OPERATOR(pg_catalog.||) err_message,
                       error_hint = err_hint,
                       attempts = i.attempts OPERATOR(pg_catalog.+) 1,
                       retry_at = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+)
                                  workorder.retry_backoff(i.attempts OPERATOR(pg_catalog.+) 1, retry_base, retry_max)
                 WHERE i.id OPERATOR(pg_catalog.=) r.id;
            ELSE
                UPDATE workorder.inbox i
                   SET state = 'rejected', order_id = NULL, error_code = err_code, error_message = err_message,
                       error_hint = err_hint,
                       processed_at = pg_catalog.clock_timestamp(), retry_at = NULL
                 WHERE i.id OPERATOR(pg_catalog.=) r.id;
                rejected := rejected OPERATOR(pg_catalog.+) 1;
            END IF;
        END;
    END LOOP;
    PERFORM pg_catalog.set_config('lock_timeout', caller_lock_timeout, true);
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION workorder.drain_inbox(integer) FROM PUBLIC;
COMMENT ON FUNCTION workorder.drain_inbox(integer) IS
    'Makes orders of up to max_rows pending workorder.inbox rows through submit(); returns how many were accepted and rejected.';
