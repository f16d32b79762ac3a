-- workorder install script, part 62: dedup, one event, one order, however many
-- reports.
--
-- When a report comes in, submit() calls workorder.dedup_decide() once the report
-- is located and categorised.  It finds the candidates (earlier orders of the same
-- category family within the category's radius and time window, open or resolved
-- recently), scores each, and decides:
--   merge   the best score reaches merge_threshold and the candidate is open: the
--           new order is merged into it (status merged, master_id, the master's
--           report_count goes up);
--   reopen  ... the candidate was resolved or closed within closed_window and the
--           late-report policy is reopen: the master is reopened, then the new
--           order is merged into it;
--   link    ... the same with late-report policy link: the new order is merged
--           into the resolved master, which stays as it is, and the reporter
--           hears the result (the outbox's merge message carries it);
--   review  the best score reaches review_threshold only: the new order stays new,
--           unrouted, as a suspected duplicate for a dispatcher to confirm or
--           reject with workorder.review_duplicate();
--   new     otherwise (also with no candidates): a new order, routed as usual.
-- After the INSERT, workorder.dedup_apply() carries the decision out and records
-- the candidates and their scores in workorder.dedup_checks, which
-- workorder.explain_dedup() shows.
--
-- Only a candidate of the same category as the report (or of an ancestor or a
-- descendant of it) is merged automatically: a report of a sibling category at the
-- same spot (a broken lamp beside a missing cover) is at most suspected.
--
-- Scoring: each candidate gets components in [0, 1]
--   distance  1 - metres / radius
--   time      1 - |gap| / time window
--   text      the square root of text_similarity(a, b, ignore) of the descriptions
--             (C, src/similarity.c), ignoring the words of both addresses: two
--             reports of different problems at one door name the door alike, and
--             it is what happened that tells them apart.  Paraphrases of one event
--             share few words once the place is left out (mostly 0.1 to 0.5); the
--             root spreads that range.  Measured on data/dedup_eval.csv.
--   address   address_similarity() of the addresses, when both have one
--   reporter  1 when both reports carry the same phone number (digits only)
-- and its score is the weighted mean of the components it has: an address only
-- counts when both reports give one, and the reporter only when it is the same
-- person (three different citizens reporting one manhole is the normal case, not
-- evidence against a duplicate; one person calling twice is evidence for it).
--
-- Configuration, per category and inherited down the catalogue (a category's own
-- value, else its nearest ancestor's, else the district-wide setting, else the
-- built-in default):
--   radius and time window      categories.dedup_radius_m / dedup_window (part 40);
--                               settings dedup_radius_m (100) / dedup_window ('3 days')
--   weights                     dedup_rules.weight_*; settings dedup_weight_distance (2),
--                               dedup_weight_time (1), dedup_weight_text (4),
--                               dedup_weight_address (1), dedup_weight_reporter (1)
--   thresholds                  dedup_rules.merge_threshold / review_threshold; settings
--                               dedup_merge_threshold (0.50), dedup_review_threshold (0.40)
--   recently closed             dedup_rules.closed_window; setting dedup_closed_window ('3 days'):
--                               how long after its resolution an order still
--                               takes reports (the reopen window)
--   late-report policy          dedup_rules.late_policy; setting dedup_late_policy ('link')
--   dedup_enabled               a setting only ('on'): 'off' turns dedup off (every report
--                               becomes an order of its own), e.g. for a test of routing
-- No rows are shipped: the defaults are the functions' own, so that pg_dump keeps
-- only what a district changed.  When inherited thresholds cross (review above
-- merge), review is taken to be merge: there is no review band.
--
-- Concurrency: reports of one event that arrive together must make one master.
-- dedup_decide() first takes transaction-level advisory locks on the grid cells
-- (of the category family, cell side twice the family's largest radius) that its
-- search circle touches, in key order, and only then searches.  Two reports that
-- could find each other share a cell (each locks its own point's cell and every
-- cell its circle reaches), so the second waits until the first commits and then,
-- under READ COMMITTED (the search is a new statement with a new snapshot), finds
-- it.  Under REPEATABLE READ or SERIALIZABLE the search would use a snapshot taken
-- before the wait: submit() is meant to run under READ COMMITTED, as the inbox
-- does.
--
-- Finding candidates uses orders_dedup_idx, an n-dimensional GiST index on
-- (lon, lat, time of receipt): one index scan bounds space and time, so its cost
-- follows the reports in the searched box, not the history (bench/dedup).

-- dedup_time_axis (C, src/dedup.c) is the time axis of orders_dedup_idx: days
-- since 2000 scaled so that a day weighs about 100 m (see src/dedup.c for why).
CREATE FUNCTION workorder.dedup_time_axis(timestamptz)
RETURNS double precision
AS 'MODULE_PATHNAME', 'workorder_dedup_time_axis'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.dedup_time_axis(timestamptz) IS
    'The time axis of the dedup index: days since 2000-01-01 00:00 UTC times 0.001 (a day weighs about 100 m).';

CREATE INDEX orders_dedup_idx ON workorder.orders
    USING gist ((ST_MakePoint(ST_X(location), ST_Y(location), workorder.dedup_time_axis(received_at))) gist_geometry_ops_nd);

-- The text similarity functions (C, src/similarity.c).
CREATE FUNCTION workorder.text_similarity(a text, b text)
RETURNS double precision
AS 'MODULE_PATHNAME', 'workorder_text_similarity'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.text_similarity(text, text) IS
    'How alike two report descriptions are, in [0, 1]: character and bigram Dice after normalisation (width, case, punctuation, digit runs, fillers).';

CREATE FUNCTION workorder.text_similarity(a text, b text, ignore text)
RETURNS double precision
AS 'MODULE_PATHNAME', 'workorder_text_similarity_ignoring'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.text_similarity(text, text, text) IS
    'text_similarity(a, b) with the characters and bigrams of ignore (e.g. the addresses) left out of both: what happened, not where.';

CREATE FUNCTION workorder.address_similarity(a text, b text)
RETURNS double precision
AS 'MODULE_PATHNAME', 'workorder_address_similarity'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.address_similarity(text, text) IS
    'How alike two addresses are, in [0, 1]: text similarity with house numbers kept, averaged with bigram containment.';

CREATE FUNCTION workorder.similarity_normalize(t text, for_address boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'workorder_similarity_normalize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.similarity_normalize(text, boolean) IS
    'The normalised form that text_similarity (or, for_address, address_similarity) compares.';

-- dedup_rules holds a category's dedup settings besides its radius and window
-- (which are columns of categories).  NULL inherits.
CREATE TABLE workorder.dedup_rules (
    category_code    text PRIMARY KEY REFERENCES workorder.categories (code) ON UPDATE CASCADE ON DELETE CASCADE,
    weight_distance  double precision,
    weight_time      double precision,
    weight_text      double precision,
    weight_address   double precision,
    weight_reporter  double precision,
    merge_threshold  double precision,
    review_threshold double precision,
    closed_window    interval,
    late_policy      text,
    CONSTRAINT dedup_rules_weights CHECK (
        weight_distance OPERATOR(pg_catalog.>=) 0 AND weight_distance OPERATOR(pg_catalog.<=) 100
        AND weight_time OPERATOR(pg_catalog.>=) 0 AND weight_time OPERATOR(pg_catalog.<=) 100
        AND weight_text OPERATOR(pg_catalog.>=) 0 AND weight_text OPERATOR(pg_catalog.<=) 100
        AND weight_address OPERATOR(pg_catalog.>=) 0 AND weight_address OPERATOR(pg_catalog.<=) 100
        AND weight_reporter OPERATOR(pg_catalog.>=) 0 AND weight_reporter OPERATOR(pg_catalog.<=) 100),
    CONSTRAINT dedup_rules_thresholds CHECK (
        merge_threshold OPERATOR(pg_catalog.>) 0 AND merge_threshold OPERATOR(pg_catalog.<=) 1
        AND review_threshold OPERATOR(pg_catalog.>) 0 AND review_threshold OPERATOR(pg_catalog.<=) 1
        AND (merge_threshold IS NULL OR review_threshold IS NULL
             OR review_threshold OPERATOR(pg_catalog.<=) merge_threshold)),
    CONSTRAINT dedup_rules_closed_window CHECK (
        closed_window OPERATOR(pg_catalog.>=) '0'::interval AND closed_window OPERATOR(pg_catalog.<=) '90 days'::interval),
    CONSTRAINT dedup_rules_late_policy CHECK (late_policy IN ('reopen', 'link'))
);
SELECT pg_catalog.pg_extension_config_dump('workorder.dedup_rules', '');
COMMENT ON TABLE workorder.dedup_rules IS
    'Dedup weights, thresholds, recently-closed window and late-report policy per category; NULL inherits (see workorder.dedup_policies).';

-- dedup_policy is the dedup configuration in force for a category.
CREATE TYPE workorder.dedup_policy AS (
    category_code    text,
    family           text,
    path             text[],
    radius_m         double precision,
    time_window      interval,
    closed_window    interval,
    weight_distance  double precision,
    weight_time      double precision,
    weight_text      double precision,
    weight_address   double precision,
    weight_reporter  double precision,
    merge_threshold  double precision,
    review_threshold double precision,
    late_policy      text,
    enabled          boolean
);

-- dedup_setting reads one district-wide dedup setting from the settings given as
-- jsonb (all dedup_* rows, read once), or its default, and checks it: WO701 for a
-- value that is not a number in [low, high] (or not an interval in [low, high]
-- days, or not one of the allowed words).
CREATE FUNCTION workorder.dedup_setting(settings jsonb, name text, default_value text, kind text,
                                        low double precision, high double precision)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    value text := COALESCE(settings OPERATOR(pg_catalog.->>) name, default_value);
    number double precision;
    span interval;
BEGIN
    BEGIN
        IF kind OPERATOR(pg_catalog.=) 'number' THEN
            number := value::double precision;
        ELSIF kind OPERATOR(pg_catalog.=) 'interval' THEN
            span := value::interval;
            number := EXTRACT(epoch FROM span) OPERATOR(pg_catalog./) 86400.0;
        ELSIF kind OPERATOR(pg_catalog.=) 'switch' THEN
            IF NOT value OPERATOR(pg_catalog.=) ANY ('{on,off}'::text[]) THEN
                number := 'NaN';
            END IF;
        ELSIF NOT value OPERATOR(pg_catalog.=) ANY ('{reopen,link}'::text[]) THEN
            number := 'NaN';
        END IF;
    EXCEPTION WHEN data_exception THEN
        number := 'NaN';
    END;
    IF number OPERATOR(pg_catalog.=) 'NaN'::double precision
       OR number OPERATOR(pg_catalog.<) low OR number OPERATOR(pg_catalog.>) high THEN
        PERFORM workorder.raise_error('WO701',
            pg_catalog.format('invalid dedup setting %s', name),
            pg_catalog.format('The value is %s.', pg_catalog.quote_literal(value)),
            CASE kind WHEN 'number' THEN pg_catalog.format('Set a number from %s to %s.', low, high)
                      WHEN 'interval' THEN pg_catalog.format('Set an interval from %s to %s days.', low, high)
                      WHEN 'switch' THEN 'Set on or off.'
                      ELSE 'Set reopen or link.' END);
    END IF;
    RETURN value;
END
$$;

-- dedup_policy returns the dedup configuration in force for a category (see the
-- header for the order of inheritance).  A NULL or unknown category gets the
-- district-wide values, with no family.
CREATE FUNCTION workorder.dedup_policy(category text)
RETURNS workorder.dedup_policy
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    p workorder.dedup_policy;
    own record;
    s jsonb;
BEGIN
    SELECT COALESCE(pg_catalog.jsonb_object_agg(x.name, x.value), '{}') INTO s
      FROM workorder.settings x WHERE x.name OPERATOR(pg_catalog.~~) 'dedup\_%';
    SELECT e.code, e.family, e.path, e.dedup_radius_m, e.dedup_window
      INTO p.category_code, p.family, p.path, p.radius_m, p.time_window
      FROM workorder.category_effective e WHERE e.code OPERATOR(pg_catalog.=) category;
    -- The deepest rule that sets each column.
    SELECT (pg_catalog.array_agg(r.weight_distance ORDER BY d.depth DESC) FILTER (WHERE r.weight_distance IS NOT NULL))[1] AS weight_distance,
           (pg_catalog.array_agg(r.weight_time ORDER BY d.depth DESC) FILTER (WHERE r.weight_time IS NOT NULL))[1] AS weight_time,
           (pg_catalog.array_agg(r.weight_text ORDER BY d.depth DESC) FILTER (WHERE r.weight_text IS NOT NULL))[1] AS weight_text,
           (pg_catalog.array_agg(r.weight_address ORDER BY d.depth DESC) FILTER (WHERE r.weight_address IS NOT NULL))[1] AS weight_address,
           (pg_catalog.array_agg(r.weight_reporter ORDER BY d.depth DESC) FILTER (WHERE r.weight_reporter IS NOT NULL))[1] AS weight_reporter,
           (pg_catalog.array_agg(r.merge_threshold ORDER BY d.depth DESC) FILTER (WHERE r.merge_threshold IS NOT NULL))[1] AS merge_threshold,
           (pg_catalog.array_agg(r.review_threshold ORDER BY d.depth DESC) FILTER (WHERE r.review_threshold IS NOT NULL))[1] AS review_threshold,
           (pg_catalog.array_agg(r.closed_window ORDER BY d.depth DESC) FILTER (WHERE r.closed_window IS NOT NULL))[1] AS closed_window,
           (pg_catalog.array_agg(r.late_policy ORDER BY d.depth DESC) FILTER (WHERE r.late_policy IS NOT NULL))[1] AS late_policy
      INTO own
      FROM workorder.dedup_rules r
     CROSS JOIN LATERAL (SELECT pg_catalog.array_position(p.path, r.category_code) AS depth) d
     WHERE r.category_code OPERATOR(pg_catalog.=) ANY (COALESCE(p.path, '{}'));
    p.radius_m := COALESCE(p.radius_m, workorder.dedup_setting(s, 'dedup_radius_m', '100', 'number', 1, 5000)::double precision);
    p.time_window := COALESCE(p.time_window, workorder.dedup_setting(s, 'dedup_window', '3 days', 'interval', 0.0007, 90)::interval);
    p.closed_window := COALESCE(own.closed_window, workorder.dedup_setting(s, 'dedup_closed_window', '3 days', 'interval', 0, 90)::interval);
    p.weight_distance := COALESCE(own.weight_distance, workorder.dedup_setting(s, 'dedup_weight_distance', '2', 'number', 0, 100)::double precision);
    p.weight_time := COALESCE(own.weight_time, workorder.dedup_setting(s, 'dedup_weight_time', '1', 'number', 0, 100)::double precision);
    p.weight_text := COALESCE(own.weight_text, workorder.dedup_setting(s, 'dedup_weight_text', '4', 'number', 0, 100)::double precision);
    p.weight_address := COALESCE(own.weight_address, workorder.dedup_setting(s, 'dedup_weight_address', '1', 'number', 0, 100)::double precision);
    p.weight_reporter := COALESCE(own.weight_reporter, workorder.dedup_setting(s, 'dedup_weight_reporter', '1', 'number', 0, 100)::double precision);
    p.merge_threshold := COALESCE(own.merge_threshold, workorder.dedup_setting(s, 'dedup_merge_threshold', '0.50', 'number', 0.01, 1)::double precision);
    p.review_threshold := LEAST(COALESCE(own.review_threshold, workorder.dedup_setting(s, 'dedup_review_threshold', '0.40', 'number', 0.01, 1)::double precision),
                                p.merge_threshold);
    p.late_policy := COALESCE(own.late_policy, workorder.dedup_setting(s, 'dedup_late_policy', 'link', 'word', 0, 0));
    p.enabled := workorder.dedup_setting(s, 'dedup_enabled', 'on', 'switch', 0, 0)::boolean;
    RETURN p;
END
$$;

-- dedup_policies shows the dedup configuration in force for every category.
CREATE VIEW workorder.dedup_policies AS
SELECT p.*
  FROM workorder.categories c
 CROSS JOIN LATERAL workorder.dedup_policy(c.code) p;
COMMENT ON VIEW workorder.dedup_policies IS
    'The dedup configuration in force for every category, after inheritance and the district-wide defaults.';

-- dedup_phone reduces a phone number to its digits (the last 11: a leading +86 or
-- 0086 is the same phone); NULL when it has fewer than 5.
CREATE FUNCTION workorder.dedup_phone(phone text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    digits text := pg_catalog.regexp_replace(phone, '[^0-9]', '', 'g');
BEGIN
    IF pg_catalog.length(digits) OPERATOR(pg_catalog.<) 5 THEN
        RETURN NULL;
    END IF;
    RETURN pg_catalog.right(digits, 11);
END
$$;

-- dedup_lock takes the advisory locks that serialise dedup in a neighbourhood (see
-- the header): one per grid cell of the family that the circle of radius_m around
-- point touches, in key order.  A circle that touches more than 16 cells (far from
-- the equator) locks the whole family instead.
CREATE FUNCTION workorder.dedup_lock(family text, point geometry, radius_m double precision)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    family_radius double precision;
    cell double precision;
    dlat double precision := radius_m OPERATOR(pg_catalog./) 110000.0;
    dlon double precision;
    x0 bigint; x1 bigint; y0 bigint; y1 bigint;
    lock_key integer;
BEGIN
    IF ST_GeometryType(point) OPERATOR(pg_catalog.<>) 'ST_Point' OR ST_IsEmpty(point) THEN
        PERFORM workorder.raise_error('WO101', 'dedup_lock needs a point',
            pg_catalog.format('The geometry is %s.', pg_catalog.left(ST_AsText(point), 60)),
            'Pass the report''s location as checked by workorder.location_point().');
    END IF;
    SELECT pg_catalog.max(COALESCE(e.dedup_radius_m, radius_m)) INTO family_radius
      FROM workorder.category_effective e WHERE e.family OPERATOR(pg_catalog.=) dedup_lock.family;
    cell := 2.0 OPERATOR(pg_catalog.*) GREATEST(family_radius, radius_m) OPERATOR(pg_catalog./) 110000.0;
    dlon := dlat OPERATOR(pg_catalog./) GREATEST(pg_catalog.cosd(LEAST(pg_catalog.abs(ST_Y(point)) OPERATOR(pg_catalog.+) dlat, 89.0)), 0.01);
    x0 := pg_catalog.floor((ST_X(point) OPERATOR(pg_catalog.-) dlon) OPERATOR(pg_catalog./) cell)::bigint;
    x1 := pg_catalog.floor((ST_X(point) OPERATOR(pg_catalog.+) dlon) OPERATOR(pg_catalog./) cell)::bigint;
    y0 := pg_catalog.floor((ST_Y(point) OPERATOR(pg_catalog.-) dlat) OPERATOR(pg_catalog./) cell)::bigint;
    y1 := pg_catalog.floor((ST_Y(point) OPERATOR(pg_catalog.+) dlat) OPERATOR(pg_catalog./) cell)::bigint;
    IF ((x1 OPERATOR(pg_catalog.-) x0 OPERATOR(pg_catalog.+) 1) OPERATOR(pg_catalog.*) (y1 OPERATOR(pg_catalog.-) y0 OPERATOR(pg_catalog.+) 1))
       OPERATOR(pg_catalog.>) 16 THEN
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('workorder.dedup'), pg_catalog.hashtext(family));
        RETURN;
    END IF;
    FOR lock_key IN
        SELECT DISTINCT pg_catalog.hashtext(pg_catalog.concat_ws('/', family, x, y)) AS k
          FROM pg_catalog.generate_series(x0, x1) x, pg_catalog.generate_series(y0, y1) y
         ORDER BY k
    LOOP
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('workorder.dedup'), lock_key);
    END LOOP;
END
$$;

-- dedup_candidate is one candidate with its score components (NULL: not counted).
CREATE TYPE workorder.dedup_candidate AS (
    order_id        bigint,
    ticket          workorder.ticket,
    status          workorder.order_status,
    category_code   text,
    same_category   boolean,        -- the same category, or one an ancestor of the other
    resolved_at     timestamptz,
    distance_m      double precision,
    time_gap        interval,
    distance_score  double precision,
    time_score      double precision,
    text_score      double precision,
    address_score   double precision,
    reporter_score  double precision,
    score           double precision
);

-- dedup_candidates returns the candidates of a report under a policy, best first
-- (ties: the earlier order): orders of the policy's family within radius_m and
-- time_window of the report (either side: a report that waited for a lock may be
-- older than the one it waited for), neither merged nor cancelled, open, or
-- resolved or closed no longer than closed_window before the report.  At most 50.
CREATE FUNCTION workorder.dedup_candidates(p workorder.dedup_policy, point geometry, received timestamptz,
                                           description text, address text, reporter_phone text,
                                           exclude_order bigint DEFAULT NULL)
RETURNS SETOF workorder.dedup_candidate
LANGUAGE plpgsql
AS $$
DECLARE
    family_codes text[];
    dlat double precision := p.radius_m OPERATOR(pg_catalog./) 110000.0;
    dlon double precision;
    window_s double precision := EXTRACT(epoch FROM p.time_window)::double precision;
    day double precision := workorder.dedup_time_axis(received);
    -- The window on the time axis: the axis of received plus the window, minus it.
    days double precision := workorder.dedup_time_axis(received OPERATOR(pg_catalog.+) p.time_window) OPERATOR(pg_catalog.-) day;
    search_box geometry;
    new_phone text := workorder.dedup_phone(reporter_phone);
    in_box bigint[];
BEGIN
    IF ST_GeometryType(point) OPERATOR(pg_catalog.<>) 'ST_Point' OR ST_IsEmpty(point) THEN
        PERFORM workorder.raise_error('WO101', 'dedup_candidates needs a point',
            pg_catalog.format('The geometry is %s.', pg_catalog.left(ST_AsText(point), 60)),
            'Pass the report''s location as checked by workorder.location_point().');
    END IF;
    IF p.family IS NULL THEN
        RETURN;
    END IF;
    dlon := dlat OPERATOR(pg_catalog./) GREATEST(pg_catalog.cosd(LEAST(pg_catalog.abs(ST_Y(point)) OPERATOR(pg_catalog.+) dlat, 89.0)), 0.01);
    family_codes := ARRAY(SELECT e.code FROM workorder.category_effective e
                           WHERE e.family OPERATOR(pg_catalog.=) p.family);
    search_box := ST_MakeLine(
        ST_MakePoint(ST_X(point) OPERATOR(pg_catalog.-) dlon, ST_Y(point) OPERATOR(pg_catalog.-) dlat, day OPERATOR(pg_catalog.-) days),
        ST_MakePoint(ST_X(point) OPERATOR(pg_catalog.+) dlon, ST_Y(point) OPERATOR(pg_catalog.+) dlat, day OPERATOR(pg_catalog.+) days));
    -- The orders in the search box, by orders_dedup_idx.  A cached generic plan
    -- cannot see the box and may choose a scan whose cost grows with the history,
    -- so this short query is planned for each box (EXECUTE); the scoring query
    -- below then reads these orders by primary key.
    EXECUTE 'SELECT pg_catalog.array_agg(o.id) FROM workorder.orders o
              WHERE ST_MakePoint(ST_X(o.location), ST_Y(o.location), workorder.dedup_time_axis(o.received_at)) &&& $1
                AND o.received_at OPERATOR(pg_catalog.>=) $2 AND o.received_at OPERATOR(pg_catalog.<=) $3
                AND o.category_code OPERATOR(pg_catalog.=) ANY ($4)'
       INTO in_box
      USING search_box, received OPERATOR(pg_catalog.-) p.time_window, received OPERATOR(pg_catalog.+) p.time_window, family_codes;
    IF in_box IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH near AS (
        SELECT o.id, o.ticket, o.status, o.category_code AS c_category,
               (o.category_code OPERATOR(pg_catalog.=) ANY (p.path)
                OR p.category_code OPERATOR(pg_catalog.=) ANY (COALESCE(
                       (SELECT ce.path FROM workorder.category_effective ce
                         WHERE ce.code OPERATOR(pg_catalog.=) o.category_code), '{}'))) AS c_related,
               o.description AS c_text, o.address AS c_address, o.reporter_phone AS c_phone,
               ST_Distance(o.location::geography, point::geography) AS metres,
               received OPERATOR(pg_catalog.-) o.received_at AS gap,
               EXTRACT(epoch FROM o.received_at OPERATOR(pg_catalog.-) received)::double precision AS gap_s,
               CASE WHEN o.status IN ('resolved', 'closed') THEN
                    (SELECT pg_catalog.max(e.at) FROM workorder.order_events e
                      WHERE e.order_id OPERATOR(pg_catalog.=) o.id AND e.action OPERATOR(pg_catalog.=) 'resolve') END AS resolved
          FROM workorder.orders o
         WHERE o.id OPERATOR(pg_catalog.=) ANY (in_box)
           AND o.status NOT IN ('merged', 'cancelled')
           AND o.id IS DISTINCT FROM exclude_order
           -- A suspected duplicate waiting for review is not a master.
           AND NOT EXISTS (SELECT 1 FROM workorder.dedup_checks k
                            WHERE k.order_id OPERATOR(pg_catalog.=) o.id
                              AND k.decision OPERATOR(pg_catalog.=) 'review' AND k.review IS NULL)
    ), scored AS (
        SELECT n.*,
               GREATEST(0.0, 1.0 OPERATOR(pg_catalog.-) (n.metres OPERATOR(pg_catalog./) p.radius_m)) AS s_distance,
               GREATEST(0.0, 1.0 OPERATOR(pg_catalog.-) (pg_catalog.abs(n.gap_s) OPERATOR(pg_catalog./) window_s)) AS s_time,
               pg_catalog.sqrt(workorder.text_similarity(description, n.c_text,
                                                         pg_catalog.concat_ws(' ', address, n.c_address))) AS s_text,
               workorder.address_similarity(address, n.c_address) AS s_address,
               CASE WHEN new_phone OPERATOR(pg_catalog.=) workorder.dedup_phone(n.c_phone) THEN 1.0::double precision END AS s_reporter
          FROM near n
         WHERE n.metres OPERATOR(pg_catalog.<=) p.radius_m
           AND pg_catalog.abs(n.gap_s) OPERATOR(pg_catalog.<=) window_s
           AND (n.resolved IS NULL AND n.status NOT IN ('resolved', 'closed')
                OR n.resolved OPERATOR(pg_catalog.>=) (received OPERATOR(pg_catalog.-) p.closed_window))
    )
    SELECT s.id, s.ticket, s.status, s.c_category, s.c_related, s.resolved, s.metres, s.gap, s.s_distance, s.s_time, s.s_text, s.s_address, s.s_reporter,
           ((p.weight_distance OPERATOR(pg_catalog.*) s.s_distance)
            OPERATOR(pg_catalog.+) (p.weight_time OPERATOR(pg_catalog.*) s.s_time)
            OPERATOR(pg_catalog.+) (p.weight_text OPERATOR(pg_catalog.*) s.s_text)
            OPERATOR(pg_catalog.+) COALESCE(p.weight_address OPERATOR(pg_catalog.*) s.s_address, 0.0)
            OPERATOR(pg_catalog.+) COALESCE(p.weight_reporter OPERATOR(pg_catalog.*) s.s_reporter, 0.0))
           OPERATOR(pg_catalog./)
           NULLIF(p.weight_distance OPERATOR(pg_catalog.+) p.weight_time OPERATOR(pg_catalog.+) p.weight_text
                  OPERATOR(pg_catalog.+) CASE WHEN s.s_address IS NULL THEN 0.0 ELSE p.weight_address END
                  OPERATOR(pg_catalog.+) CASE WHEN s.s_reporter IS NULL THEN 0.0 ELSE p.weight_reporter END, 0.0) AS score
      FROM scored s
     ORDER BY score DESC NULLS LAST, s.id
     LIMIT 50;
END
$$;

-- dedup_decision is what dedup_decide() decided for a report.
CREATE TYPE workorder.dedup_decision AS (
    decision    text,           -- new, merge, reopen, link, review
    master_id   bigint,         -- the chosen candidate (merge, reopen, link, review)
    score       double precision,
    holds       boolean,        -- true: submit() must not route the order
    reason      text,           -- the order's status_reason while it is not routed
    policy      jsonb,
    candidates  jsonb           -- every candidate with its components, best first
);

-- dedup_decide takes the neighbourhood's locks, finds and scores the candidates of
-- a report, and decides (see the header).  submit() calls it once the report is
-- located and categorised; a report with no catalogue category is not deduplicated.
CREATE FUNCTION workorder.dedup_decide(category text, point geometry, received timestamptz,
                                       description text, address text, reporter_phone text)
RETURNS workorder.dedup_decision
LANGUAGE plpgsql
AS $$
DECLARE
    p workorder.dedup_policy;
    d workorder.dedup_decision;
    found workorder.dedup_candidate[];
    best workorder.dedup_candidate;
    best_related workorder.dedup_candidate;
BEGIN
    d.decision := 'new';
    d.holds := false;
    IF category IS NULL THEN
        RETURN d;
    END IF;
    p := workorder.dedup_policy(category);
    IF p.family IS NULL OR NOT p.enabled THEN
        RETURN d;
    END IF;
    PERFORM workorder.dedup_lock(p.family, point, p.radius_m);
    -- A new statement after the locks: under READ COMMITTED it sees what the
    -- reports we waited for committed.
    found := ARRAY(SELECT c FROM workorder.dedup_candidates(p, point, received, description, address, reporter_phone) c
                    ORDER BY c.score DESC, c.order_id);
    IF pg_catalog.cardinality(found) OPERATOR(pg_catalog.=) 0 THEN
        RETURN d;
    END IF;
    best := found[1];
    -- Only a candidate of the same category (or of an ancestor or descendant) is
    -- merged automatically; another category's is at most suspected.
    SELECT * INTO best_related FROM pg_catalog.unnest(found) c WHERE c.same_category
     ORDER BY c.score DESC, c.order_id LIMIT 1;
    d.candidates := pg_catalog.to_jsonb(found);
    d.policy := pg_catalog.to_jsonb(p);
    d.score := best.score;
    IF best_related.score OPERATOR(pg_catalog.>=) p.merge_threshold THEN
        best := best_related;
        d.score := best.score;
        d.master_id := best.order_id;
        d.decision := CASE WHEN best.status NOT IN ('resolved', 'closed') THEN 'merge'
                           ELSE p.late_policy END;
        d.holds := true;
        d.reason := pg_catalog.format('duplicate of %s (score %s)', best.ticket, pg_catalog.round(best.score::numeric, 3));
    ELSIF best.score OPERATOR(pg_catalog.>=) p.review_threshold THEN
        d.master_id := best.order_id;
        d.decision := 'review';
        d.holds := true;
        d.reason := pg_catalog.format('suspected duplicate of %s (score %s): confirm or reject it with workorder.review_duplicate()',
                                      best.ticket, pg_catalog.round(best.score::numeric, 3));
    END IF;
    RETURN d;
END
$$;

-- dedup_checks records, for every order whose intake found candidates, what dedup
-- saw and decided, and the review of a suspected duplicate.
CREATE TABLE workorder.dedup_checks (
    order_id     bigint PRIMARY KEY REFERENCES workorder.orders (id),
    checked_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    decision     text NOT NULL,
    master_id    bigint REFERENCES workorder.orders (id),
    score        double precision,
    policy       jsonb NOT NULL,
    candidates   jsonb NOT NULL,
    reviewed_at  timestamptz,
    reviewed_by  text,
    review       text,
    CONSTRAINT dedup_checks_decision CHECK (decision IN ('new', 'merge', 'reopen', 'link', 'review')),
    CONSTRAINT dedup_checks_review CHECK (review IN ('confirm', 'reject')),
    CONSTRAINT dedup_checks_reviewed CHECK ((review IS NULL) OPERATOR(pg_catalog.=) (reviewed_at IS NULL))
);
CREATE INDEX dedup_checks_pending_idx ON workorder.dedup_checks (checked_at)
    WHERE decision OPERATOR(pg_catalog.=) 'review' AND review IS NULL;
SELECT pg_catalog.pg_extension_config_dump('workorder.dedup_checks', '');
REVOKE ALL ON workorder.dedup_checks FROM PUBLIC;
COMMENT ON TABLE workorder.dedup_checks IS
    'What dedup saw at intake (the candidates and their score components, the policy) and decided, for orders that had candidates; and reviews.';

-- dedup_apply carries out a decision on the order submit() has just made, records
-- the check, and returns the order as it leaves intake.
CREATE FUNCTION workorder.dedup_apply(o workorder.orders, d workorder.dedup_decision)
RETURNS workorder.orders
LANGUAGE plpgsql
AS $$
DECLARE
    master workorder.orders;
BEGIN
    IF d.candidates IS NULL THEN
        RETURN o;
    END IF;
    IF d.decision IN ('merge', 'reopen', 'link') THEN
        -- The neighbourhood's locks keep other reports out, not a dispatcher: the
        -- master may have been resolved, reopened, merged or cancelled since the
        -- search.  Lock it and decide on what it is now; intake never fails for it.
        SELECT * INTO master FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) d.master_id FOR UPDATE;
        IF master.status IN ('merged', 'cancelled') THEN
            d.reason := pg_catalog.format('duplicate of %s, which became %s before the merge: a dispatcher must dispatch it',
                                          master.ticket, master.status);
            UPDATE workorder.orders x SET status_reason = d.reason WHERE x.id OPERATOR(pg_catalog.=) o.id;
            d.decision := 'new';
        ELSIF master.status IN ('resolved', 'closed') THEN
            d.decision := d.policy OPERATOR(pg_catalog.->>) 'late_policy';
        ELSE
            d.decision := 'merge';
        END IF;
    END IF;
    INSERT INTO workorder.dedup_checks (order_id, checked_at, decision, master_id, score, policy, candidates)
    VALUES (o.id, o.received_at, d.decision, d.master_id, d.score, d.policy, d.candidates);
    IF d.decision OPERATOR(pg_catalog.=) 'review' THEN
        SELECT * INTO master FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) d.master_id;
        PERFORM workorder.log_event(o, 'suspect_duplicate', 'system', o.status, d.reason,
            pg_catalog.jsonb_build_object('master_id', master.id, 'master_ticket', master.ticket::text,
                                          'score', pg_catalog.round(d.score::numeric, 3)));
    ELSIF d.decision OPERATOR(pg_catalog.=) 'reopen' THEN
        PERFORM workorder.reopen(d.master_id, 'system',
            pg_catalog.format('a new report after resolution: %s (score %s)', o.ticket, pg_catalog.round(d.score::numeric, 3)));
        PERFORM workorder.merge(o.id, d.master_id, 'system', d.reason);
    ELSIF d.decision IN ('merge', 'link') THEN
        PERFORM workorder.merge(o.id, d.master_id, 'system', d.reason);
    END IF;
    SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) o.id;
    RETURN o;
END
$$;

-- explain_dedup shows what dedup saw and decided when an order came in: one row
-- per candidate, best first, with its score components (NULL: not counted), and
-- the decision; one row without a candidate when there were none.  WO402 for an
-- unknown order.
CREATE FUNCTION workorder.explain_dedup(order_id bigint)
RETURNS TABLE (rank integer, candidate_id bigint, candidate_ticket workorder.ticket,
               candidate_status workorder.order_status, candidate_category text, same_category boolean,
               distance_m numeric, time_gap interval,
               distance_score numeric, time_score numeric, text_score numeric, address_score numeric,
               reporter_score numeric, score numeric, chosen boolean, decision text, reason text)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders;
    chk workorder.dedup_checks;
    p workorder.dedup_policy;
BEGIN
    SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) explain_dedup.order_id;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO402',
            pg_catalog.format('order %s does not exist', COALESCE(explain_dedup.order_id::text, 'NULL')),
            'explain_dedup needs an existing order.', 'Check the order id.');
    END IF;
    PERFORM workorder.check_order_access(o, NULL);   -- only an order the caller may read (part 96)
    SELECT * INTO chk FROM workorder.dedup_checks c WHERE c.order_id OPERATOR(pg_catalog.=) o.id;
    IF NOT FOUND THEN
        p := workorder.dedup_policy(o.category_code);
        RETURN QUERY SELECT 0, NULL::bigint, NULL::workorder.ticket, NULL::workorder.order_status,
            NULL::text, NULL::boolean, NULL::numeric, NULL::interval, NULL::numeric, NULL::numeric, NULL::numeric, NULL::numeric,
            NULL::numeric, NULL::numeric, false, 'new'::text,
            CASE WHEN o.category_code IS NULL THEN 'no catalogue category: not deduplicated'
                 ELSE pg_catalog.format('no open or recently resolved order of family %s within %s m and %s',
                                        p.family, p.radius_m, p.time_window) END;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT c.n::integer, c.order_id, c.ticket, c.status, c.category_code, c.same_category,
           pg_catalog.round(c.distance_m::numeric, 1), c.time_gap,
           pg_catalog.round(c.distance_score::numeric, 3), pg_catalog.round(c.time_score::numeric, 3),
           pg_catalog.round(c.text_score::numeric, 3), pg_catalog.round(c.address_score::numeric, 3),
           pg_catalog.round(c.reporter_score::numeric, 3), pg_catalog.round(c.score::numeric, 3),
           c.order_id IS NOT DISTINCT FROM chk.master_id,
           chk.decision,
           CASE WHEN c.order_id IS DISTINCT FROM chk.master_id AND chk.master_id IS NOT NULL THEN
                     CASE WHEN NOT c.same_category AND c.score OPERATOR(pg_catalog.>) chk.score
                          THEN 'another category: not merged automatically' ELSE 'lower score' END
                WHEN c.n OPERATOR(pg_catalog.<>) 1 THEN 'lower score'
                WHEN chk.decision OPERATOR(pg_catalog.=) 'new' AND chk.master_id IS NOT NULL THEN
                     'score at least merge_threshold, but the master was merged or cancelled before the merge: not merged'
                WHEN chk.decision OPERATOR(pg_catalog.=) 'new' THEN
                     pg_catalog.format('score below review_threshold %s', chk.policy OPERATOR(pg_catalog.->>) 'review_threshold')
                WHEN chk.decision OPERATOR(pg_catalog.=) 'review' THEN
                     pg_catalog.format('score at least review_threshold %s, %s%s',
                                       chk.policy OPERATOR(pg_catalog.->>) 'review_threshold',
                                       CASE WHEN c.same_category
                                            THEN 'below merge_threshold ' OPERATOR(pg_catalog.||) (chk.policy OPERATOR(pg_catalog.->>) 'merge_threshold')
                                            ELSE 'another category: suspected only' END,
                                       CASE WHEN chk.review IS NOT NULL
                                            THEN pg_catalog.format('; %s by %s', chk.review, chk.reviewed_by) ELSE '' END)
                ELSE pg_catalog.format('score at least merge_threshold %s%s', chk.policy OPERATOR(pg_catalog.->>) 'merge_threshold',
                                       CASE chk.decision WHEN 'reopen' THEN '; the master was resolved: reopened (late_policy reopen)'
                                                         WHEN 'link' THEN '; the master was resolved: linked (late_policy link)'
                                                         ELSE '' END) END
      FROM pg_catalog.jsonb_populate_recordset(NULL::workorder.dedup_candidate, chk.candidates)
           WITH ORDINALITY AS c(order_id, ticket, status, category_code, same_category, resolved_at, distance_m, time_gap, distance_score, time_score,
                                text_score, address_score, reporter_score, score, n)
     ORDER BY c.n;
END
$$;

-- suspected_duplicates lists the orders waiting for a dispatcher's review, oldest
-- first, with the suspected master.
CREATE VIEW workorder.suspected_duplicates AS
SELECT c.order_id, o.ticket, o.received_at, o.channel_code, o.description,
       c.master_id, m.ticket AS master_ticket, m.status AS master_status, m.description AS master_description,
       pg_catalog.round(c.score::numeric, 3) AS score
  FROM workorder.dedup_checks c
  JOIN workorder.orders o ON o.id OPERATOR(pg_catalog.=) c.order_id
  JOIN workorder.orders m ON m.id OPERATOR(pg_catalog.=) c.master_id
 WHERE c.decision OPERATOR(pg_catalog.=) 'review' AND c.review IS NULL
   AND o.status OPERATOR(pg_catalog.=) 'new'
 ORDER BY c.checked_at, c.order_id;
COMMENT ON VIEW workorder.suspected_duplicates IS
    'Orders flagged as suspected duplicates at intake and not reviewed yet (confirm or reject with workorder.review_duplicate()).';

-- review_duplicate (a dispatcher's answer to a suspected duplicate): confirm
-- merges the order into its master (the suspected one unless master_id names
-- another); reject keeps it new, for dispatch, and clears its status_reason.
-- Either way the order gets a review_duplicate event (confirm then also a merge
-- event, and the master a merged_in event).  WO401 when the order is not new,
-- WO711 when it is not a suspected duplicate waiting for review, WO712 for a
-- decision other than confirm or reject.
CREATE FUNCTION workorder.review_duplicate(order_id bigint, actor text, decision text,
                                           master_id bigint DEFAULT NULL, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders;
    who text;
    said text;
    chk workorder.dedup_checks;
    target bigint;
    after workorder.orders;
BEGIN
    -- Not in workorder.order_actions: a review is no transition of its own (a
    -- rejection leaves the order new, a confirmation is a merge, which is), so the
    -- order is locked and its status checked here, with the same errors.
    SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) review_duplicate.order_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO402',
            pg_catalog.format('order %s does not exist', COALESCE(review_duplicate.order_id::text, 'NULL')),
            'The action was review_duplicate.',
            'Check the order id; the orders waiting for review are in workorder.suspected_duplicates.');
    END IF;
    PERFORM workorder.check_order_access(o, 'review_duplicate');   -- the caller's scope and role (part 96)
    IF o.status OPERATOR(pg_catalog.<>) 'new' THEN
        PERFORM workorder.raise_error('WO401',
            pg_catalog.format('order %s (id %s) is %s: review_duplicate is not allowed', o.ticket, o.id, o.status),
            'A suspected duplicate is reviewed while it is new.',
            'Only orders in workorder.suspected_duplicates are reviewed; merge or unmerge others by hand.');
    END IF;
    who := workorder.check_actor(actor);
    said := workorder.action_text(o, 'review_duplicate', 'note', note, false);
    SELECT * INTO chk FROM workorder.dedup_checks c
     WHERE c.order_id OPERATOR(pg_catalog.=) o.id FOR UPDATE;
    IF NOT FOUND OR chk.decision OPERATOR(pg_catalog.<>) 'review' OR chk.review IS NOT NULL THEN
        PERFORM workorder.action_error(o, 'review_duplicate', 'WO711',
            'the order is not a suspected duplicate waiting for review',
            CASE WHEN NOT FOUND THEN 'Dedup found no candidate for it at intake.'
                 WHEN chk.review IS NOT NULL THEN pg_catalog.format('It was reviewed already: %s by %s.',
                                                                    chk.review, chk.reviewed_by)
                 ELSE pg_catalog.format('Dedup decided %s at intake.', chk.decision) END,
            'Merge it by hand with workorder.merge() if it duplicates another order; see workorder.suspected_duplicates.');
    END IF;
    IF decision IS NULL OR NOT decision OPERATOR(pg_catalog.=) ANY ('{confirm,reject}'::text[]) THEN
        PERFORM workorder.action_error(o, 'review_duplicate', 'WO712',
            'the decision must be confirm or reject',
            pg_catalog.format('The decision is %s.', COALESCE(pg_catalog.quote_literal(decision), 'NULL')),
            'Pass confirm (it is a duplicate: merge it) or reject (it is a report of its own).');
    END IF;
    IF decision OPERATOR(pg_catalog.=) 'reject' AND review_duplicate.master_id IS NOT NULL THEN
        PERFORM workorder.action_error(o, 'review_duplicate', 'WO712',
            'a rejection names no master',
            pg_catalog.format('master_id is %s.', review_duplicate.master_id),
            'Leave master_id NULL when rejecting; to merge into another order, confirm with that master_id.');
    END IF;
    target := COALESCE(review_duplicate.master_id, chk.master_id);
    UPDATE workorder.dedup_checks c
       SET review = review_duplicate.decision, reviewed_by = who, reviewed_at = pg_catalog.now()
     WHERE c.order_id OPERATOR(pg_catalog.=) o.id;
    UPDATE workorder.orders x
       SET status_reason = CASE WHEN review_duplicate.decision OPERATOR(pg_catalog.=) 'reject'
                                THEN pg_catalog.format('not a duplicate of %s (reviewed by %s): to be dispatched',
                                                       (SELECT m.ticket FROM workorder.orders m WHERE m.id OPERATOR(pg_catalog.=) chk.master_id), who)
                                ELSE x.status_reason END,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    after := workorder.action_done(after, 'review_duplicate', who, o.status, said,
        pg_catalog.jsonb_build_object('decision', decision, 'suspected_master_id', chk.master_id,
                                      'master_id', CASE WHEN decision OPERATOR(pg_catalog.=) 'confirm' THEN target END,
                                      'score', pg_catalog.round(chk.score::numeric, 3)));
    IF decision OPERATOR(pg_catalog.=) 'confirm' THEN
        after := workorder.merge(o.id, target, who, said);
    END IF;
    RETURN after;
END
$$;

-- channel_reports counts each channel's reports: every report, merged ones
-- included (a merge never hides a report), how many were merged into another
-- channel's or the same channel's order, and how many are masters of others.
CREATE VIEW workorder.channel_reports AS
SELECT o.channel_code,
       pg_catalog.count(*) AS reports,
       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'merged') AS merged,
       pg_catalog.count(*) FILTER (WHERE o.report_count OPERATOR(pg_catalog.>) 1) AS masters,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('resolved', 'closed')) AS resolved
  FROM workorder.orders o
 GROUP BY o.channel_code;
COMMENT ON VIEW workorder.channel_reports IS
    'Reports per channel, merged duplicates included: merged (followed another order), masters (have duplicates), resolved.';
