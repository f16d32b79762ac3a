-- workorder install script, part 94: unit scores (assessment), from the event log.
--
-- workorder.unit_scores has one row per unit, period kind (day, week, month) and
-- period start.  Periods are local days, ISO weeks (Monday to Sunday) and months in
-- the district's time zone, the setting district_time_zone (default
-- 'Asia/Shanghai').  Every count is a count of facts taken from
-- workorder.order_events alone; README.md ("Scores") defines each one.  In short,
-- a fact is counted for the unit and on the local day of the event that carries it:
--   orders_assigned      dispatch, reassign and reopen events naming the unit,
--                        less the assignments a merge, a cancel or a reassign
--                        ended (below)
--   accepts_on_time      accept events with details.deadline = 'on_time'
--   accepts_judged       those + accept events 'late' + accept_overdue events
--   resolves_on_time     resolve events with details.deadline = 'on_time'
--   resolves_judged      those + resolve events 'late' + overdue events (an order
--                        that is open and past its deadline is late from the
--                        moment it is marked, and counts once: a resolve after the
--                        mark is 'overdue' and counts no more, unless the mark
--                        named no unit, made while the order waited unassigned:
--                        then the resolve is judged, late)
--   resolves             resolve events
--   callbacks, callbacks_satisfied   callback events; satisfied or basically satisfied
--                        (one per report and resolve: a later verdict of the same
--                        citizen on the same handling takes the earlier one's back,
--                        at it)
--   extensions           approve_extension events
--   overdue              overdue events, but for those an approved extension
--                        withdrew
-- except the cohort facts, counted for the unit and on the day of an earlier event
-- of the same order:
--   cohort_resolved      the first resolve after an assignment counts at that
--                        assignment (so resolution_rate <= 1)
--   cohort_returned      a return counts at the assignment it ends
--   redone               a reopen counts at the resolve it undoes
--   (withdrawn marks)    an approve_extension, or a deadline_recomputed, that
--                        withdrew an overdue mark takes back the mark's
--                        resolves_judged and overdue, at it; so does a merge, a
--                        cancel or a reassign that takes back the assignment the
--                        mark was made in (below), and the order is judged at the
--                        resolve of the unit it went to
--   (ended assignments)  a merge, a cancel or a reassign that ends an assignment
--                        no resolve or return ended takes back its
--                        orders_assigned, at it (a dispatcher's misroute is not
--                        the unit's to resolve: it stayed in orders_assigned, never
--                        resolved, and enough of them put the unit on the black
--                        list)
--
-- Incremental and full computation are one function, workorder.score_facts(): the
-- task score_update adds the facts of new events to the rows they touch, and
-- workorder.recompute_scores() rebuilds rows from every event.  Both read only the
-- events with id <= score_progress.processed_through, so they agree exactly
-- (test/scenario/scores.t proves it on a randomised history with concurrent
-- writers).  A fact depends only on its event and earlier events of the same order,
-- which are final by then (an order's events are written under its row lock, in
-- seq and id order).
--
-- The watermark.  Event ids are drawn in one order and committed in another: a
-- transaction may hold id 100 uncommitted while id 101 commits.  So score_update
-- never takes an event because it is visible; it takes the ids up to a mark that is
-- final.  Each pass records a mark: the event sequence's last value S (read first),
-- then the transactions of this database running at that moment (running_xids:
-- the xids of pg_stat_activity and pg_prepared_xacts, read fresh after S).  Every
-- transaction that drew an id <= S already had its xid (every writer of events
-- writes the order row first, so its xid exists before it draws an event id), and
-- had either ended or was among them.  A later pass whose snapshot sees all of
-- them as ended (pg_visible_in_snapshot: not running when it was taken) sees every
-- event with id <= S that will ever exist, and the watermark moves to S.  The
-- snapshot, not whether they run now: under REPEATABLE READ (run_due_work() in a
-- caller's transaction) one that ended after the snapshot was taken was not running
-- any more, its events were not visible, and the watermark passed them for good.
-- Only this database's transactions count: events are written here, and a
-- transaction left open in another database of the cluster (which holds every
-- snapshot's xmin back) must not stop the scores.  (A snapshot's
-- xmax would not do either: it is the latest completed xid + 1, and a running
-- transaction may hold an xid above it.)  A long-running writing transaction in
-- this database holds the marks back (and scores wait); the event id sequence must
-- keep CACHE 1 (its default).
--
-- Derived columns (rates, composite, rank, list) are computed from the counts and
-- the settings below for every period a pass or a recompute touches.  After changing
-- a weight, a threshold or the time zone, run workorder.recompute_scores().
--
-- Settings (workorder.settings rows):
--   district_time_zone   the zone of the periods (default 'Asia/Shanghai')
--   score_weights        the composite's weights, a JSON object of rate names (the
--                        rate columns below) and non-negative numbers (default
--                        {"on_time_accept_rate": 1, "resolution_rate": 1,
--                        "satisfaction_rate": 1}: the "three rates", response,
--                        resolution, satisfaction); return_rate and redo_rate enter
--                        as 1 - rate
--   score_red_at_least   composite at or above this: the red list, 红榜 (default 0.95)
--   score_black_below    composite below this: the black list, 黑榜 (default 0.80);
--                        at most score_red_at_least (settings_score_lists, below)
--   score_list_min_orders  a unit is listed only with at least this many
--                        orders_assigned in the period (default 10)
--   score_batch_events   events one pass of score_update takes at most (default 100000)
--
-- SQLSTATEs: WO811 an invalid score setting (weights, thresholds, time zone);
-- WO812 an invalid recompute_scores() range.

CREATE TABLE workorder.unit_scores (
    unit_code               text NOT NULL REFERENCES workorder.units (code) ON UPDATE CASCADE,
    unit_kind               workorder.unit_kind NOT NULL,
    period_kind             text NOT NULL,
    period_start            date NOT NULL,
    orders_assigned         integer NOT NULL DEFAULT 0,
    accepts_on_time         integer NOT NULL DEFAULT 0,
    accepts_judged          integer NOT NULL DEFAULT 0,
    resolves_on_time        integer NOT NULL DEFAULT 0,
    resolves_judged         integer NOT NULL DEFAULT 0,
    resolves                integer NOT NULL DEFAULT 0,
    cohort_resolved         integer NOT NULL DEFAULT 0,
    cohort_returned         integer NOT NULL DEFAULT 0,
    redone                  integer NOT NULL DEFAULT 0,
    callbacks               integer NOT NULL DEFAULT 0,
    callbacks_satisfied     integer NOT NULL DEFAULT 0,
    extensions              integer NOT NULL DEFAULT 0,
    overdue                 integer NOT NULL DEFAULT 0,
    on_time_accept_rate     numeric,
    on_time_completion_rate numeric,
    resolution_rate         numeric,
    satisfaction_rate       numeric,
    return_rate             numeric,
    redo_rate               numeric,
    composite               numeric,
    rank                    integer,
    list                    text,
    PRIMARY KEY (period_kind, period_start, unit_code),
    CONSTRAINT unit_scores_period_kind CHECK (period_kind IN ('day', 'week', 'month')),
    CONSTRAINT unit_scores_list CHECK (list IN ('red', 'black'))
);
CREATE INDEX unit_scores_unit_idx ON workorder.unit_scores (unit_code, period_kind, period_start);
SELECT pg_catalog.pg_extension_config_dump('workorder.unit_scores', '');
REVOKE ALL ON workorder.unit_scores FROM PUBLIC;
COMMENT ON TABLE workorder.unit_scores IS
    'One row per unit and local day, week or month: counts of facts from the event log, rates, composite, rank among units of its kind, red/black list. See README "Scores".';
COMMENT ON COLUMN workorder.unit_scores.orders_assigned IS 'dispatch, reassign and reopen events naming the unit (an order assigned twice counts twice)';
COMMENT ON COLUMN workorder.unit_scores.on_time_accept_rate IS 'accepts_on_time / accepts_judged (response rate); NULL when nothing was judged';
COMMENT ON COLUMN workorder.unit_scores.on_time_completion_rate IS 'resolves_on_time / resolves_judged, where orders marked overdue while open count as late';
COMMENT ON COLUMN workorder.unit_scores.resolution_rate IS 'cohort_resolved / orders_assigned: assignments of the period that the unit resolved (so far)';
COMMENT ON COLUMN workorder.unit_scores.satisfaction_rate IS 'callbacks_satisfied / callbacks (satisfied or basically satisfied)';
COMMENT ON COLUMN workorder.unit_scores.return_rate IS 'cohort_returned / orders_assigned';
COMMENT ON COLUMN workorder.unit_scores.redo_rate IS 'redone / resolves: resolutions of the period reopened (so far)';
COMMENT ON COLUMN workorder.unit_scores.composite IS 'weighted mean of the rates named in the setting score_weights, over those not NULL';
COMMENT ON COLUMN workorder.unit_scores.rank IS 'rank by composite among units of the same kind in the same period (1 = best); NULL without a composite';
COMMENT ON COLUMN workorder.unit_scores.list IS 'red (红榜) or black (黑榜) by the thresholds score_red_at_least and score_black_below';

-- score_progress is the watermark: unit_scores holds exactly the facts of the
-- events with id <= processed_through.  One row.
CREATE TABLE workorder.score_progress (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    processed_through bigint NOT NULL DEFAULT 0,
    updated_at        timestamptz
);
SELECT pg_catalog.pg_extension_config_dump('workorder.score_progress', '');
REVOKE ALL ON workorder.score_progress FROM PUBLIC;
COMMENT ON TABLE workorder.score_progress IS
    'The scores'' watermark: unit_scores counts exactly the events with id <= processed_through.';

-- score_marks are the marks of the passes (see the top): every event with id <=
-- last_event_id is final for a snapshot that sees every one of running_xids ended.
CREATE TABLE workorder.score_marks (
    last_event_id bigint NOT NULL,
    running_xids  xid8[] NOT NULL,
    taken_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
-- Not dumped: transaction ids mean nothing in another cluster, and after a restore
-- every event is committed, so the first passes take fresh marks.
REVOKE ALL ON workorder.score_marks FROM PUBLIC;
COMMENT ON TABLE workorder.score_marks IS
    'Marks of score_update passes: events up to last_event_id are final for a snapshot that sees every one of running_xids (this database''s transactions when the mark was taken) ended.';

-- score_running_xids returns the transactions of this database running now, its
-- prepared ones included: the xids of pg_stat_activity (every caller may read
-- them) and of pg_prepared_xacts.  The statistics snapshot is cleared first: a
-- transaction reads pg_stat_activity once and keeps what it read, and a mark must
-- see every transaction that had its xid when it read the sequence.  Backends come
-- before prepared transactions: one that prepares meanwhile is in the second list
-- before it leaves the first.  Both give 32-bit xids; each is made whole (xid8)
-- with the epoch that puts it nearest the current snapshot's xmax (a running xid
-- is within 2^31 of it, which wraparound protection guarantees).
CREATE FUNCTION workorder.score_running_xids()
RETURNS xid8[]
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    here oid := (SELECT d.oid FROM pg_catalog.pg_database d
                  WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database());
    near bigint := pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text::bigint;
    backends xid[];
    running xid[];
BEGIN
    PERFORM pg_catalog.pg_stat_clear_snapshot();
    backends := ARRAY(SELECT a.backend_xid FROM pg_catalog.pg_stat_activity a
                       WHERE a.datid OPERATOR(pg_catalog.=) here AND a.backend_xid IS NOT NULL);
    running := backends OPERATOR(pg_catalog.||)
               ARRAY(SELECT p.transaction FROM pg_catalog.pg_prepared_xacts p
                      WHERE p.database OPERATOR(pg_catalog.=) pg_catalog.current_database());
    RETURN ARRAY(SELECT (near OPERATOR(pg_catalog.+)
                         ((x::text::bigint OPERATOR(pg_catalog.-) near OPERATOR(pg_catalog.%) 4294967296
                           OPERATOR(pg_catalog.+) 6442450944) OPERATOR(pg_catalog.%) 4294967296)
                         OPERATOR(pg_catalog.-) 2147483648)::text::xid8
                   FROM pg_catalog.unnest(running) x);
END
$$;
REVOKE ALL ON FUNCTION workorder.score_running_xids() FROM PUBLIC;

-- score_zone returns the district's time zone (the setting district_time_zone), or
-- raises WO811 when it is not a zone PostgreSQL knows.  As the owner: analysts call
-- it through the bi_* views (part 95) and may read no table, and setting() may have
-- to load the reference cache, with the caller's rights, to answer.
CREATE FUNCTION workorder.score_zone()
RETURNS text
LANGUAGE plpgsql STABLE
SECURITY DEFINER
AS $$
DECLARE
    zone text := workorder.setting('district_time_zone', 'Asia/Shanghai');
BEGIN
    -- (Converting an instant checks the name cheaply; reading pg_timezone_names
    -- would read the whole time zone database, hundreds of milliseconds.)
    BEGIN
        PERFORM pg_catalog.timezone(zone, pg_catalog.now());
    EXCEPTION WHEN invalid_parameter_value THEN
        PERFORM workorder.raise_error('WO811', 'invalid setting district_time_zone',
            pg_catalog.format('district_time_zone is %s.', pg_catalog.quote_literal(zone)),
            'Set a zone name from pg_timezone_names, e.g. Asia/Shanghai.');
    END;
    RETURN zone;
END
$$;

-- score_number returns a numeric score setting, or raises WO811.  It reads every
-- number the settings check lets through (part 02: a sign, '.95', '1.', '9.5e-1'):
-- it took digits and one point only, and a value written without complaint then
-- failed every score_update pass, and the scores stopped.  NaN, infinities and
-- negative numbers, which only a row written past that check can hold, are WO811.
CREATE FUNCTION workorder.score_number(setting_name text, default_value text)
RETURNS numeric
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    raw text := workorder.setting(setting_name, default_value);
    number numeric;
BEGIN
    BEGIN
        number := raw::numeric;
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        number := NULL;
    END;
    IF number IS NULL OR number OPERATOR(pg_catalog.<) 0 OR number OPERATOR(pg_catalog.=) 'NaN'::numeric
       OR number OPERATOR(pg_catalog.=) 'Infinity'::numeric THEN
        PERFORM workorder.raise_error('WO811', pg_catalog.format('invalid setting %s', setting_name),
            pg_catalog.format('%s is %s.', setting_name, COALESCE(pg_catalog.quote_literal(raw), 'NULL')),
            'Set a non-negative number, e.g. 0.8.');
    END IF;
    RETURN number;
END
$$;

-- score_weights_problem says what is wrong with raw as a value of the setting
-- score_weights (a JSON object of rate names and non-negative weights, one of them
-- positive), or returns NULL when nothing is.  score_weights() and the check of a
-- settings row (part 02) both ask it.
CREATE FUNCTION workorder.score_weights_problem(raw text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    weights jsonb;
    bad text;
BEGIN
    -- Any JSON that does not parse (a \u0000, nesting past the stack) is not weights.
    BEGIN
        weights := raw::jsonb;
    EXCEPTION WHEN data_exception OR program_limit_exceeded THEN
        weights := NULL;
    END;
    IF weights IS NULL OR pg_catalog.jsonb_typeof(weights) OPERATOR(pg_catalog.<>) 'object' THEN
        RETURN 'it is not a JSON object';
    END IF;
    -- The weight's sign is read only for a number (jsonb numbers are numeric: a
    -- huge exponent parses, and compares).
    SELECT pg_catalog.format('%s: %s', w.key, w.value) INTO bad
      FROM pg_catalog.jsonb_each(weights) w
     WHERE w.key NOT IN ('on_time_accept_rate', 'on_time_completion_rate', 'resolution_rate',
                         'satisfaction_rate', 'return_rate', 'redo_rate')
        OR pg_catalog.jsonb_typeof(w.value) OPERATOR(pg_catalog.<>) 'number'
        OR CASE WHEN pg_catalog.jsonb_typeof(w.value) OPERATOR(pg_catalog.=) 'number'
                THEN (w.value)::text::numeric OPERATOR(pg_catalog.<) 0 END
     LIMIT 1;
    IF bad IS NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(weights) w
                                    WHERE (w.value)::text::numeric OPERATOR(pg_catalog.>) 0) THEN
        bad := 'no weight is positive';
    END IF;
    RETURN bad;
END
$$;

-- score_weights returns the setting score_weights as a jsonb object of rate names
-- and weights, or raises WO811 when a name is not a rate or a weight is not a
-- non-negative number, or no weight is positive.
CREATE FUNCTION workorder.score_weights()
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    raw text := workorder.setting('score_weights',
                                  '{"on_time_accept_rate": 1, "resolution_rate": 1, "satisfaction_rate": 1}');
    bad text := workorder.score_weights_problem(raw);
BEGIN
    IF bad IS NOT NULL THEN
        PERFORM workorder.raise_error('WO811', 'invalid setting score_weights',
            pg_catalog.format('score_weights is %s (%s).', pg_catalog.quote_literal(raw), bad),
            'Give a JSON object of rate names (on_time_accept_rate, on_time_completion_rate, resolution_rate, satisfaction_rate, return_rate, redo_rate) and non-negative weights, e.g. {"on_time_accept_rate": 1, "resolution_rate": 1, "satisfaction_rate": 1}.');
    END IF;
    RETURN raw::jsonb;
END
$$;

-- score_mark_voided says whether order_id's overdue mark at mark_seq was taken back,
-- before before_seq, with the assignment it was made in: a merge, a cancel or a
-- reassign ended that assignment (nothing ended it first: a resolve, a return, a
-- merge or a cancel; and no other assignment began between the mark and it).  Such
-- an assignment is not the unit's to resolve (score_facts takes it back), and so
-- its mark is not the unit's either: it is taken back with it, and the order is
-- judged at the resolve of the unit it went to.
CREATE FUNCTION workorder.score_mark_voided(order_id bigint, mark_seq integer, before_seq integer)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (
        SELECT 1 FROM workorder.order_events t
         WHERE t.order_id OPERATOR(pg_catalog.=) score_mark_voided.order_id
           AND t.seq OPERATOR(pg_catalog.>) mark_seq AND t.seq OPERATOR(pg_catalog.<) before_seq
           AND t.action IN ('merge', 'cancel', 'reassign')
           AND NOT EXISTS (
               SELECT 1 FROM workorder.order_events q
                WHERE q.order_id OPERATOR(pg_catalog.=) score_mark_voided.order_id
                  AND q.seq OPERATOR(pg_catalog.<) t.seq
                  AND ((q.action IN ('dispatch', 'reassign', 'reopen') AND q.seq OPERATOR(pg_catalog.>) mark_seq)
                       OR (q.action IN ('resolve', 'return', 'merge', 'cancel')
                           AND q.seq OPERATOR(pg_catalog.>) COALESCE(
                               (SELECT pg_catalog.max(a.seq) FROM workorder.order_events a
                                 WHERE a.order_id OPERATOR(pg_catalog.=) score_mark_voided.order_id
                                   AND a.seq OPERATOR(pg_catalog.<) mark_seq
                                   AND a.action IN ('dispatch', 'reassign', 'reopen')), 0)))))
$$;

-- score_facts returns the facts of the events with after_id < id <= through_id and
-- at >= since (an instant), summed per unit and period, for the periods that start
-- on or after since_day.  Every fact lands on a day no later than its event's, so
-- the events before since cannot add to those periods.
CREATE FUNCTION workorder.score_facts(after_id bigint, through_id bigint, since_day date, zone text)
RETURNS TABLE (unit_code text, period_kind text, period_start date,
               orders_assigned integer, accepts_on_time integer, accepts_judged integer,
               resolves_on_time integer, resolves_judged integer, resolves integer,
               cohort_resolved integer, cohort_returned integer, redone integer,
               callbacks integer, callbacks_satisfied integer, extensions integer, overdue integer)
LANGUAGE plpgsql STABLE
-- A generic plan would not know that (after_id, through_id] is a few thousand ids
-- of millions, and could scan the whole log.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    since timestamptz := COALESCE(since_day::timestamp AT TIME ZONE zone, '-infinity');
BEGIN
    RETURN QUERY
    WITH ev AS MATERIALIZED (
        SELECT e.id, e.order_id, e.seq, e.at, e.action, e.unit_code, e.old_unit,
               e.details OPERATOR(pg_catalog.->>) 'deadline' AS deadline,
               e.details OPERATOR(pg_catalog.->>) 'satisfaction' AS satisfaction,
               e.details OPERATOR(pg_catalog.->>) 'overdue_withdrawn' AS overdue_withdrawn,
               e.details OPERATOR(pg_catalog.->>) 'report_order_id' AS report_order_id
          FROM workorder.order_events e
         WHERE e.id OPERATOR(pg_catalog.>) after_id AND e.id OPERATOR(pg_catalog.<=) through_id
           AND e.at OPERATOR(pg_catalog.>=) since
           AND e.action IN ('dispatch', 'reassign', 'reopen', 'accept', 'accept_overdue', 'resolve',
                            'overdue', 'return', 'approve_extension', 'callback', 'merge', 'cancel',
                            'deadline_recomputed')
    ), fact AS (
        -- The facts of an event itself: its unit, its day.
        SELECT ev.unit_code AS unit, ev.at,
               (ev.action IN ('dispatch', 'reassign', 'reopen'))::integer AS assigned,
               (ev.action OPERATOR(pg_catalog.=) 'accept' AND ev.deadline OPERATOR(pg_catalog.=) 'on_time')::integer AS acc_ok,
               (ev.action OPERATOR(pg_catalog.=) 'accept_overdue'
                OR (ev.action OPERATOR(pg_catalog.=) 'accept' AND ev.deadline IN ('on_time', 'late')))::integer AS acc_judged,
               (ev.action OPERATOR(pg_catalog.=) 'resolve' AND ev.deadline OPERATOR(pg_catalog.=) 'on_time')::integer AS res_ok,
               (ev.action OPERATOR(pg_catalog.=) 'overdue'
                OR (ev.action OPERATOR(pg_catalog.=) 'resolve' AND ev.deadline IN ('on_time', 'late'))
                -- A resolve after a mark that counts for no unit (made while the
                -- order waited unassigned: before its first dispatch, or returned;
                -- or taken back with a misrouted assignment, score_mark_voided) is
                -- judged, late: neither the mark nor the resolve was, and the late
                -- order was in nobody's rate.
                OR (ev.action OPERATOR(pg_catalog.=) 'resolve' AND ev.deadline OPERATOR(pg_catalog.=) 'overdue'
                    AND COALESCE((SELECT p.unit_code IS NULL OR workorder.score_mark_voided(ev.order_id, p.seq, ev.seq)
                                    FROM workorder.order_events p
                                   WHERE p.order_id OPERATOR(pg_catalog.=) ev.order_id AND p.seq OPERATOR(pg_catalog.<) ev.seq
                                     AND p.action OPERATOR(pg_catalog.=) 'overdue'
                                   ORDER BY p.seq DESC LIMIT 1), false)))::integer AS res_judged,
               (ev.action OPERATOR(pg_catalog.=) 'resolve')::integer AS res,
               0 AS c_resolved, 0 AS c_returned, 0 AS c_redone,
               (ev.action OPERATOR(pg_catalog.=) 'callback')::integer AS cb,
               (ev.action OPERATOR(pg_catalog.=) 'callback'
                AND ev.satisfaction IN ('satisfied', 'basically_satisfied'))::integer AS cb_ok,
               (ev.action OPERATOR(pg_catalog.=) 'approve_extension')::integer AS ext,
               (ev.action OPERATOR(pg_catalog.=) 'overdue')::integer AS late
          FROM ev
         WHERE ev.action NOT IN ('return', 'merge', 'cancel', 'deadline_recomputed') AND ev.unit_code IS NOT NULL
        UNION ALL
        -- At the assignment they end: a return; the first resolve after it; and a
        -- merge, a cancel or a reassign that nothing came before to end it (a
        -- resolve, a return, or a merge or cancel before an unmerge), which takes
        -- the assignment back (a merged report is resolved with its master, a
        -- cancelled order by nobody, a reassigned one by the unit it went to: none
        -- is the unit's to resolve).
        SELECT e.unit_code, e.at,
               CASE WHEN e.action IN ('merge', 'cancel', 'reassign') THEN -1 ELSE 0 END, 0, 0, 0, 0, 0,
               (e.action OPERATOR(pg_catalog.=) 'resolve')::integer,
               (e.action OPERATOR(pg_catalog.=) 'return')::integer,
               0, 0, 0, 0, 0
          FROM (SELECT ev.action, a.unit_code, a.at,
                       (SELECT pg_catalog.array_agg(DISTINCT q.action) FROM workorder.order_events q
                         WHERE q.order_id OPERATOR(pg_catalog.=) ev.order_id
                           AND q.seq OPERATOR(pg_catalog.>) a.seq AND q.seq OPERATOR(pg_catalog.<) ev.seq
                           AND q.action IN ('resolve', 'return', 'merge', 'cancel')) AS ended_by
                  FROM ev
                 CROSS JOIN LATERAL (
                       SELECT p.unit_code, p.at, p.seq FROM workorder.order_events p
                        WHERE p.order_id OPERATOR(pg_catalog.=) ev.order_id AND p.seq OPERATOR(pg_catalog.<) ev.seq
                          AND p.action IN ('dispatch', 'reassign', 'reopen')
                        ORDER BY p.seq DESC LIMIT 1) a
                 WHERE ev.action IN ('resolve', 'return', 'merge', 'cancel', 'reassign') AND a.unit_code IS NOT NULL) e
         WHERE e.action OPERATOR(pg_catalog.=) 'return'
            OR (e.action OPERATOR(pg_catalog.=) 'resolve' AND NOT 'resolve' OPERATOR(pg_catalog.=) ANY (COALESCE(e.ended_by, '{}')))
            OR (e.action IN ('merge', 'cancel', 'reassign') AND e.ended_by IS NULL)
        UNION ALL
        -- A reopen counts at the resolve it undoes.
        SELECT r.unit_code, r.at, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0
          FROM ev
         CROSS JOIN LATERAL (
               SELECT p.unit_code, p.at FROM workorder.order_events p
                WHERE p.order_id OPERATOR(pg_catalog.=) ev.order_id AND p.seq OPERATOR(pg_catalog.<) ev.seq
                  AND p.action OPERATOR(pg_catalog.=) 'resolve'
                ORDER BY p.seq DESC LIMIT 1) r
         WHERE ev.action OPERATOR(pg_catalog.=) 'reopen' AND r.unit_code IS NOT NULL
        UNION ALL
        -- An overdue mark taken back, at the mark, once, unless its assignment took
        -- it back already: by an approved extension or a recomputed deadline that
        -- withdrew it (the order is judged once, by its next mark or resolve); or
        -- by the merge, cancel or reassign that takes back the assignment it was
        -- made in, unless it was withdrawn before (the assignment was not the
        -- unit's to resolve, and the order is judged at the resolve of the unit it
        -- went to: the unit kept a late order it no longer had, and the unit that
        -- resolved it late was never judged).
        SELECT m.unit_code, m.at, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, -1
          FROM ev
         CROSS JOIN LATERAL (
               SELECT p.unit_code, p.at, p.seq FROM workorder.order_events p
                WHERE p.order_id OPERATOR(pg_catalog.=) ev.order_id AND p.seq OPERATOR(pg_catalog.<) ev.seq
                  AND p.action OPERATOR(pg_catalog.=) 'overdue'
                ORDER BY p.seq DESC LIMIT 1) m
         WHERE ev.action IN ('approve_extension', 'deadline_recomputed', 'merge', 'cancel', 'reassign')
           AND m.unit_code IS NOT NULL
           AND NOT workorder.score_mark_voided(ev.order_id, m.seq, ev.seq)
           AND CASE WHEN ev.action IN ('approve_extension', 'deadline_recomputed')
                    THEN ev.overdue_withdrawn OPERATOR(pg_catalog.=) 'true'
                         -- An extension is the holder's: a mark made in an
                         -- assignment a return ended before it stays (the unit
                         -- handed the order back late, and the next unit's extension
                         -- wiped it).  A recomputed deadline says the deadline itself
                         -- was wrong, whoever held the order.
                         AND (ev.action OPERATOR(pg_catalog.=) 'deadline_recomputed'
                              OR NOT EXISTS (SELECT 1 FROM workorder.order_events w
                                              WHERE w.order_id OPERATOR(pg_catalog.=) ev.order_id
                                                AND w.seq OPERATOR(pg_catalog.>) m.seq AND w.seq OPERATOR(pg_catalog.<) ev.seq
                                                AND w.action IN ('return', 'dispatch', 'reopen', 'resolve')))
                    -- voided by this event itself
                    ELSE workorder.score_mark_voided(ev.order_id, m.seq, ev.seq OPERATOR(pg_catalog.+) 1)
                         AND NOT EXISTS (SELECT 1 FROM workorder.order_events w
                                          WHERE w.order_id OPERATOR(pg_catalog.=) ev.order_id
                                            AND w.seq OPERATOR(pg_catalog.>) m.seq AND w.seq OPERATOR(pg_catalog.<) ev.seq
                                            AND w.action IN ('approve_extension', 'deadline_recomputed')
                                            AND (w.details OPERATOR(pg_catalog.->>) 'overdue_withdrawn') OPERATOR(pg_catalog.=) 'true')
               END
        UNION ALL
        -- A citizen's later verdict on the same handling (a retried form, the
        -- channel's verdict and then the center's) replaces the earlier one: its
        -- facts are taken back, at it, so that one verdict counts per report (a
        -- merged report's citizen has one of its own) and resolve.  Every verdict
        -- counted, and one order's four outweighed the rest.
        SELECT c.unit_code, c.at, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1,
               CASE WHEN c.satisfaction IN ('satisfied', 'basically_satisfied') THEN -1 ELSE 0 END, 0, 0
          FROM ev
         CROSS JOIN LATERAL (
               SELECT p.unit_code, p.at, p.details OPERATOR(pg_catalog.->>) 'satisfaction' AS satisfaction
                 FROM workorder.order_events p
                WHERE p.order_id OPERATOR(pg_catalog.=) ev.order_id AND p.seq OPERATOR(pg_catalog.<) ev.seq
                  AND p.action OPERATOR(pg_catalog.=) 'callback'
                  AND (p.details OPERATOR(pg_catalog.->>) 'report_order_id') IS NOT DISTINCT FROM ev.report_order_id
                  AND NOT EXISTS (SELECT 1 FROM workorder.order_events r
                                   WHERE r.order_id OPERATOR(pg_catalog.=) ev.order_id
                                     AND r.seq OPERATOR(pg_catalog.>) p.seq AND r.seq OPERATOR(pg_catalog.<) ev.seq
                                     AND r.action IN ('resolve', 'reopen'))
                ORDER BY p.seq DESC LIMIT 1) c
         WHERE ev.action OPERATOR(pg_catalog.=) 'callback' AND c.unit_code IS NOT NULL
    ), daily AS (
        SELECT fact.unit, (fact.at AT TIME ZONE zone)::date AS day,
               pg_catalog.sum(fact.assigned) AS assigned, pg_catalog.sum(fact.acc_ok) AS acc_ok,
               pg_catalog.sum(fact.acc_judged) AS acc_judged, pg_catalog.sum(fact.res_ok) AS res_ok,
               pg_catalog.sum(fact.res_judged) AS res_judged, pg_catalog.sum(fact.res) AS res,
               pg_catalog.sum(fact.c_resolved) AS c_resolved, pg_catalog.sum(fact.c_returned) AS c_returned,
               pg_catalog.sum(fact.c_redone) AS c_redone, pg_catalog.sum(fact.cb) AS cb,
               pg_catalog.sum(fact.cb_ok) AS cb_ok, pg_catalog.sum(fact.ext) AS ext,
               pg_catalog.sum(fact.late) AS late
          FROM fact
         GROUP BY 1, 2
    )
    SELECT d.unit, k.kind, k.start,
           pg_catalog.sum(d.assigned)::integer, pg_catalog.sum(d.acc_ok)::integer, pg_catalog.sum(d.acc_judged)::integer,
           pg_catalog.sum(d.res_ok)::integer, pg_catalog.sum(d.res_judged)::integer, pg_catalog.sum(d.res)::integer,
           pg_catalog.sum(d.c_resolved)::integer, pg_catalog.sum(d.c_returned)::integer, pg_catalog.sum(d.c_redone)::integer,
           pg_catalog.sum(d.cb)::integer, pg_catalog.sum(d.cb_ok)::integer, pg_catalog.sum(d.ext)::integer,
           pg_catalog.sum(d.late)::integer
      FROM daily d
     CROSS JOIN LATERAL (VALUES ('day', d.day),
                                ('week', pg_catalog.date_trunc('week', d.day::timestamp)::date),
                                ('month', pg_catalog.date_trunc('month', d.day::timestamp)::date)) AS k(kind, start)
     WHERE since_day IS NULL OR k.start OPERATOR(pg_catalog.>=) since_day
     GROUP BY 1, 2, 3;
END
$$;

-- score_rate returns numerator / denominator rounded to 4 places, NULL when the
-- denominator is 0.
CREATE FUNCTION workorder.score_rate(numerator integer, denominator integer)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF denominator IS NULL OR denominator OPERATOR(pg_catalog.=) 0 THEN
        RETURN NULL;
    END IF;
    RETURN pg_catalog.round(numerator::numeric OPERATOR(pg_catalog./) denominator::numeric, 4);
END
$$;

-- settings_score_lists refuses a red list threshold below the black list's
-- (WO010): with score_red_at_least 0.5 and score_black_below 0.8 a unit at 0.75
-- was put on the red list, and each row alone passed its own range.  A deferred
-- constraint trigger on the settings table, checked when the transaction commits:
-- both may be moved in one transaction, and a restore that loads the rows one by
-- one sees the pair whole.
CREATE FUNCTION workorder.settings_score_lists()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    -- Read from the table, not through workorder.setting(): the reference cache
    -- is made stale by the statement's own trigger, which fires after this one.
    red numeric := COALESCE((SELECT s.value FROM workorder.settings s
                              WHERE s.name OPERATOR(pg_catalog.=) 'score_red_at_least'), '0.95')::numeric;
    black numeric := COALESCE((SELECT s.value FROM workorder.settings s
                                WHERE s.name OPERATOR(pg_catalog.=) 'score_black_below'), '0.80')::numeric;
BEGIN
    IF red OPERATOR(pg_catalog.<) black THEN
        PERFORM workorder.raise_error('WO010',
            'invalid values of settings score_red_at_least and score_black_below',
            pg_catalog.format('score_red_at_least is %s, below score_black_below %s: a unit between them would be on the red list and under the black one.',
                              red, black),
            'Keep score_red_at_least at or above score_black_below; to move both across each other, change them in one transaction.');
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER settings_score_lists
    AFTER INSERT OR UPDATE ON workorder.settings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.name OPERATOR(pg_catalog.=) ANY ('{score_red_at_least,score_black_below}'::text[]))
    EXECUTE FUNCTION workorder.settings_score_lists();
-- A row deleted puts its default back, which may cross the other's value: deleting
-- score_red_at_least 0.99 beside score_black_below 0.97 put a unit at 0.96 on the
-- red list.
CREATE CONSTRAINT TRIGGER settings_score_lists_delete
    AFTER DELETE ON workorder.settings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.name OPERATOR(pg_catalog.=) ANY ('{score_red_at_least,score_black_below}'::text[]))
    EXECUTE FUNCTION workorder.settings_score_lists();

-- score_rank ranks the units of each kind in the periods (kinds[i], starts[i]) by
-- composite, and puts them on the red or black list; score_derive calls it after
-- the rates and composites, units_kind_scores alone (a unit's move to another kind
-- changes ranks, not rates).  A row whose rank and list stay is not written: a
-- move of one unit rewrote every row of every period it had scores in.  A unit
-- with no order assigned in the period is not ranked: one with a satisfied callback
-- on an older order had a composite of that alone, 1.0, and ranked first, above the
-- units that did the period's work.
CREATE FUNCTION workorder.score_rank(kinds text[], starts date[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    red numeric := workorder.score_number('score_red_at_least', '0.95');
    black numeric := workorder.score_number('score_black_below', '0.80');
    min_orders numeric := workorder.score_number('score_list_min_orders', '10');
BEGIN
    UPDATE workorder.unit_scores s
       SET rank = r.rank, list = r.list
      FROM (SELECT x.period_kind, x.period_start, x.unit_code,
                   CASE WHEN x.composite IS NOT NULL AND x.orders_assigned OPERATOR(pg_catalog.>) 0 THEN
                        pg_catalog.rank() OVER (PARTITION BY x.period_kind, x.period_start, x.unit_kind,
                                                             x.composite IS NOT NULL AND x.orders_assigned OPERATOR(pg_catalog.>) 0
                                                ORDER BY x.composite DESC)::integer END AS rank,
                   CASE WHEN x.composite IS NULL OR x.orders_assigned OPERATOR(pg_catalog.<) min_orders THEN NULL
                        WHEN x.composite OPERATOR(pg_catalog.>=) red THEN 'red'
                        WHEN x.composite OPERATOR(pg_catalog.<) black THEN 'black' END AS list
              FROM workorder.unit_scores x
              JOIN ROWS FROM (pg_catalog.unnest(kinds), pg_catalog.unnest(starts)) AS p(kind, start)
                ON x.period_kind OPERATOR(pg_catalog.=) p.kind AND x.period_start OPERATOR(pg_catalog.=) p.start) r
     WHERE s.period_kind OPERATOR(pg_catalog.=) r.period_kind AND s.period_start OPERATOR(pg_catalog.=) r.period_start
       AND s.unit_code OPERATOR(pg_catalog.=) r.unit_code
       AND (s.rank IS DISTINCT FROM r.rank OR s.list IS DISTINCT FROM r.list);
END
$$;

-- score_derive computes the rates, composite, rank and list of every row in the
-- given periods (pairs of period kind and start).
CREATE FUNCTION workorder.score_derive(kinds text[], starts date[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    weights jsonb := workorder.score_weights();
BEGIN
    UPDATE workorder.unit_scores s
       SET on_time_accept_rate = workorder.score_rate(s.accepts_on_time, s.accepts_judged),
           on_time_completion_rate = workorder.score_rate(s.resolves_on_time, s.resolves_judged),
           resolution_rate = workorder.score_rate(s.cohort_resolved, s.orders_assigned),
           satisfaction_rate = workorder.score_rate(s.callbacks_satisfied, s.callbacks),
           return_rate = workorder.score_rate(s.cohort_returned, s.orders_assigned),
           redo_rate = workorder.score_rate(s.redone, s.resolves)
      FROM ROWS FROM (pg_catalog.unnest(kinds), pg_catalog.unnest(starts)) AS p(kind, start)
     WHERE s.period_kind OPERATOR(pg_catalog.=) p.kind AND s.period_start OPERATOR(pg_catalog.=) p.start;
    UPDATE workorder.unit_scores s
       SET composite = (SELECT pg_catalog.round(pg_catalog.sum(w.weight OPERATOR(pg_catalog.*) r.rate)
                                                OPERATOR(pg_catalog./) pg_catalog.sum(w.weight), 4)
                          FROM (VALUES ('on_time_accept_rate', s.on_time_accept_rate),
                                       ('on_time_completion_rate', s.on_time_completion_rate),
                                       ('resolution_rate', s.resolution_rate),
                                       ('satisfaction_rate', s.satisfaction_rate),
                                       ('return_rate', 1 OPERATOR(pg_catalog.-) s.return_rate),
                                       ('redo_rate', 1 OPERATOR(pg_catalog.-) s.redo_rate)) AS r(name, rate)
                         CROSS JOIN LATERAL (SELECT (weights OPERATOR(pg_catalog.->>) r.name)::numeric AS weight) w
                         WHERE r.rate IS NOT NULL AND w.weight OPERATOR(pg_catalog.>) 0)
      FROM ROWS FROM (pg_catalog.unnest(kinds), pg_catalog.unnest(starts)) AS p(kind, start)
     WHERE s.period_kind OPERATOR(pg_catalog.=) p.kind AND s.period_start OPERATOR(pg_catalog.=) p.start;
    PERFORM workorder.score_rank(kinds, starts);
END
$$;

-- score_apply adds the facts of the events with after_id < id <= through_id to
-- unit_scores and derives the periods they touched; returns the rows touched.
CREATE FUNCTION workorder.score_apply(after_id bigint, through_id bigint)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    kinds text[];
    starts date[];
BEGIN
    WITH added AS (
        INSERT INTO workorder.unit_scores AS s
            (unit_code, unit_kind, period_kind, period_start, orders_assigned, accepts_on_time, accepts_judged,
             resolves_on_time, resolves_judged, resolves, cohort_resolved, cohort_returned, redone,
             callbacks, callbacks_satisfied, extensions, overdue)
        SELECT f.unit_code, u.kind, f.period_kind, f.period_start, f.orders_assigned, f.accepts_on_time,
               f.accepts_judged, f.resolves_on_time, f.resolves_judged, f.resolves, f.cohort_resolved,
               f.cohort_returned, f.redone, f.callbacks, f.callbacks_satisfied, f.extensions, f.overdue
          FROM workorder.score_facts(after_id, through_id, NULL, workorder.score_zone()) f
          JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) f.unit_code
        ON CONFLICT (period_kind, period_start, unit_code) DO UPDATE
           SET orders_assigned = s.orders_assigned OPERATOR(pg_catalog.+) EXCLUDED.orders_assigned,
               accepts_on_time = s.accepts_on_time OPERATOR(pg_catalog.+) EXCLUDED.accepts_on_time,
               accepts_judged = s.accepts_judged OPERATOR(pg_catalog.+) EXCLUDED.accepts_judged,
               resolves_on_time = s.resolves_on_time OPERATOR(pg_catalog.+) EXCLUDED.resolves_on_time,
               resolves_judged = s.resolves_judged OPERATOR(pg_catalog.+) EXCLUDED.resolves_judged,
               resolves = s.resolves OPERATOR(pg_catalog.+) EXCLUDED.resolves,
               cohort_resolved = s.cohort_resolved OPERATOR(pg_catalog.+) EXCLUDED.cohort_resolved,
               cohort_returned = s.cohort_returned OPERATOR(pg_catalog.+) EXCLUDED.cohort_returned,
               redone = s.redone OPERATOR(pg_catalog.+) EXCLUDED.redone,
               callbacks = s.callbacks OPERATOR(pg_catalog.+) EXCLUDED.callbacks,
               callbacks_satisfied = s.callbacks_satisfied OPERATOR(pg_catalog.+) EXCLUDED.callbacks_satisfied,
               extensions = s.extensions OPERATOR(pg_catalog.+) EXCLUDED.extensions,
               overdue = s.overdue OPERATOR(pg_catalog.+) EXCLUDED.overdue,
               unit_kind = EXCLUDED.unit_kind
        RETURNING s.period_kind, s.period_start
    )
    SELECT pg_catalog.array_agg(t.period_kind), pg_catalog.array_agg(t.period_start) INTO kinds, starts
      FROM (SELECT DISTINCT a.period_kind, a.period_start FROM added a) t;
    IF kinds IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM workorder.score_derive(kinds, starts);
    RETURN pg_catalog.cardinality(kinds);
END
$$;

-- units_kind_scores keeps the score rows of units whose kind an UPDATE changed
-- under the kind they have now, in every period, and ranks those periods again
-- (a rank is among the units of one kind).  score_apply writes the current kind
-- too, and recompute_scores always did: the incremental scores kept the kind a row
-- was first written with, and a unit that changed kind (a reorganisation) was
-- ranked with its old peers until a recompute moved it, past periods included.
-- Once per statement, the periods of every unit it moved ranked once; and after
-- the watermark's lock, which score_update takes first: a score_update already
-- running ends before the rows move (its rows written with the old kind are
-- moved too), and one that starts after waits, and sees the new kind.
CREATE FUNCTION workorder.units_kind_scores()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    kinds text[];
    starts date[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_units n JOIN old_units o ON o.code OPERATOR(pg_catalog.=) n.code
                    WHERE o.kind OPERATOR(pg_catalog.<>) n.kind) THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM workorder.score_progress p FOR UPDATE;
    WITH moved AS (
        UPDATE workorder.unit_scores s SET unit_kind = n.kind
          FROM new_units n JOIN old_units o ON o.code OPERATOR(pg_catalog.=) n.code
         WHERE o.kind OPERATOR(pg_catalog.<>) n.kind AND s.unit_code OPERATOR(pg_catalog.=) n.code
        RETURNING s.period_kind, s.period_start
    )
    SELECT pg_catalog.array_agg(t.period_kind), pg_catalog.array_agg(t.period_start) INTO kinds, starts
      FROM (SELECT DISTINCT m.period_kind, m.period_start FROM moved m) t;
    IF kinds IS NOT NULL THEN
        PERFORM workorder.score_rank(kinds, starts);
    END IF;
    RETURN NULL;
END
$$;
-- (Transition tables cannot go with a column list: every UPDATE of units fires it,
-- and it returns at once unless a kind changed.)
CREATE TRIGGER units_kind_scores
    AFTER UPDATE ON workorder.units
    REFERENCING OLD TABLE AS old_units NEW TABLE AS new_units
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.units_kind_scores();

-- task_score_update is the background task score_update: it moves the watermark to
-- the newest final mark (see the top), at most score_batch_events ids at a time,
-- adds the facts of those events, and records a new mark.  Due again at once after
-- a full batch, else at the worker's next pass.
CREATE FUNCTION workorder.task_score_update()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    batch bigint := GREATEST(workorder.score_number('score_batch_events', '100000')::bigint, 1);
    seen pg_snapshot := pg_catalog.pg_current_snapshot();
    done bigint;
    target bigint;
    newest bigint;
    touched integer := 0;
    outcome workorder.task_outcome;
BEGIN
    -- Nothing new and no mark waiting: done without locking (or writing) anything.
    newest := (SELECT s.last_value FROM workorder.order_events_id_seq s WHERE s.is_called);
    IF NOT EXISTS (SELECT 1 FROM workorder.score_marks)
       AND COALESCE(newest, 0) OPERATOR(pg_catalog.<=)
           COALESCE((SELECT p.processed_through FROM workorder.score_progress p), 0) THEN
        outcome.rows := 0;
        RETURN outcome;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM workorder.score_progress) THEN
        INSERT INTO workorder.score_progress DEFAULT VALUES ON CONFLICT DO NOTHING;
    END IF;
    -- Skipped while another transaction holds the progress row (recompute_scores(),
    -- a unit's change of kind, an admin's open transaction): waiting for it held up
    -- every task of the database behind this one.
    SELECT p.processed_through INTO done FROM workorder.score_progress p FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        outcome.rows := 0;
        outcome.detail := 'skipped: another transaction holds workorder.score_progress (recompute_scores(), a unit''s change of kind)';
        outcome.next_due := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) '1 second'::interval;
        RETURN outcome;
    END IF;
    SELECT pg_catalog.max(m.last_event_id) INTO target FROM workorder.score_marks m
     WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(m.running_xids) x
                        WHERE NOT pg_catalog.pg_visible_in_snapshot(x, seen));
    -- (LEAST ignores a NULL: no final mark must mean no target.)
    IF target IS NOT NULL THEN
        target := LEAST(target, done OPERATOR(pg_catalog.+) batch);
    END IF;
    IF target OPERATOR(pg_catalog.>) done THEN
        touched := workorder.score_apply(done, target);
        UPDATE workorder.score_progress p SET processed_through = target, updated_at = pg_catalog.clock_timestamp();
        DELETE FROM workorder.score_marks m WHERE m.last_event_id OPERATOR(pg_catalog.<=) target;
        outcome.detail := pg_catalog.format('events %s to %s: %s periods updated',
                                            done OPERATOR(pg_catalog.+) 1, target, touched);
        done := target;
    END IF;
    -- A new mark: the sequence's last value first, then the transactions running.
    newest := (SELECT s.last_value FROM workorder.order_events_id_seq s WHERE s.is_called);
    IF newest OPERATOR(pg_catalog.>) done
       AND NOT EXISTS (SELECT 1 FROM workorder.score_marks m WHERE m.last_event_id OPERATOR(pg_catalog.>=) newest) THEN
        INSERT INTO workorder.score_marks (last_event_id, running_xids)
        VALUES (newest, workorder.score_running_xids());
    END IF;
    outcome.rows := touched;
    -- Due again at once when a batch was cut short; a mark that is not final yet
    -- waits for the worker's next pass (at most worker_naptime).
    IF EXISTS (SELECT 1 FROM workorder.score_marks m
                WHERE m.last_event_id OPERATOR(pg_catalog.>) done
                  AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(m.running_xids) x
                                   WHERE NOT pg_catalog.pg_visible_in_snapshot(x, seen))) THEN
        outcome.next_due := pg_catalog.now();
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_score_update() FROM PUBLIC;

-- After the deadline and escalation tasks (200, 210), whose events it counts.
INSERT INTO workorder.worker_tasks (task, position, function, description, shipped) VALUES
    ('score_update', 400, 'workorder.task_score_update',
     'add the facts of new order events to workorder.unit_scores (watermark in score_progress)', true);

-- recompute_scores rebuilds the rows of every period that starts on or after the
-- period containing from_day (its month and its week) and on or before to_day,
-- from the event log up to the watermark; NULL bounds mean all of history.  It
-- returns the rows written.  It holds the watermark row, so score_update waits.
CREATE FUNCTION workorder.recompute_scores(from_day date DEFAULT NULL, to_day date DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    done bigint;
    lo date;
    written integer;
    kinds text[];
    starts date[];
BEGIN
    -- The periods are computed as timestamps, whose range is narrower than a
    -- date's: a day whose month starts before 4714-11-24 BC or after 294276 has none.
    IF from_day OPERATOR(pg_catalog.>) to_day
       OR from_day OPERATOR(pg_catalog.<) '4714-12-01 BC'::date OR from_day OPERATOR(pg_catalog.>) '294276-12-31'::date
       OR to_day OPERATOR(pg_catalog.<) '4714-12-01 BC'::date OR to_day OPERATOR(pg_catalog.>) '294276-12-31'::date THEN
        PERFORM workorder.raise_error('WO812', 'invalid recompute_scores() range',
            pg_catalog.format('from_day is %s, to_day is %s.', from_day, to_day),
            'Pass days from 4714-12-01 BC to 294276-12-31 with from_day <= to_day, or NULL for all of history.');
    END IF;
    INSERT INTO workorder.score_progress DEFAULT VALUES ON CONFLICT DO NOTHING;
    SELECT p.processed_through INTO done FROM workorder.score_progress p FOR UPDATE;
    lo := LEAST(pg_catalog.date_trunc('month', from_day::timestamp)::date,
                pg_catalog.date_trunc('week', from_day::timestamp)::date);
    DELETE FROM workorder.unit_scores s
     WHERE (lo IS NULL OR s.period_start OPERATOR(pg_catalog.>=) lo)
       AND (to_day IS NULL OR s.period_start OPERATOR(pg_catalog.<=) to_day);
    INSERT INTO workorder.unit_scores
        (unit_code, unit_kind, period_kind, period_start, orders_assigned, accepts_on_time, accepts_judged,
         resolves_on_time, resolves_judged, resolves, cohort_resolved, cohort_returned, redone,
         callbacks, callbacks_satisfied, extensions, overdue)
    SELECT f.unit_code, u.kind, f.period_kind, f.period_start, f.orders_assigned, f.accepts_on_time,
           f.accepts_judged, f.resolves_on_time, f.resolves_judged, f.resolves, f.cohort_resolved,
           f.cohort_returned, f.redone, f.callbacks, f.callbacks_satisfied, f.extensions, f.overdue
      FROM workorder.score_facts(0, done, lo, workorder.score_zone()) f
      JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) f.unit_code
     WHERE to_day IS NULL OR f.period_start OPERATOR(pg_catalog.<=) to_day;
    GET DIAGNOSTICS written = ROW_COUNT;
    SELECT pg_catalog.array_agg(g.period_kind), pg_catalog.array_agg(g.period_start) INTO kinds, starts
      FROM (SELECT DISTINCT s.period_kind, s.period_start FROM workorder.unit_scores s
             WHERE (lo IS NULL OR s.period_start OPERATOR(pg_catalog.>=) lo)
               AND (to_day IS NULL OR s.period_start OPERATOR(pg_catalog.<=) to_day)) g;
    IF kinds IS NOT NULL THEN
        PERFORM workorder.score_derive(kinds, starts);
    END IF;
    RETURN written;
END
$$;
REVOKE ALL ON FUNCTION workorder.recompute_scores(date, date) FROM PUBLIC;
COMMENT ON FUNCTION workorder.recompute_scores(date, date) IS
    'Rebuilds unit_scores of the periods from the one containing from_day to those starting by to_day (NULL: all) from the event log, up to the watermark.';
