-- workorder install script, part 62: dedup, one event, one order, however many
-- reports.
--
-- When a report comes in, submit() calls workorder.dedup_decide() once the report
-- is located and categorised.  It finds the candidates (orders of the same category
-- family within the category's radius, received within dedup_open_window, that are
-- still open or were resolved within closed_window), scores each, and decides:
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
-- submit() carries the decision out (src/intake.c: the master is locked before the
-- order is made, and the decision settled on what it is then) and records the
-- candidates and their scores in workorder.dedup_checks, which
-- workorder.explain_dedup() shows.
--
-- Only a candidate of the same category as the report (or of an ancestor or a
-- descendant of it) is merged automatically: a report of a sibling category at the
-- same spot (a broken lamp beside a missing cover) is at most suspected.
--
-- Scoring: each candidate gets components in [0, 1]
--   distance  1 - metres / radius
--   time      1 - |gap| / time window, the gap between the two receipts: 0 for an
--             order still open from before the window (a second call about a lamp
--             still broken after a week is the same event, which the rest tells)
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
-- At most.  Place, time and address alone could carry a candidate past the
-- thresholds (2 + 1 + 1 of 8 is 0.50 at one door and one instant), and the address
-- similarity hardly tells No. 12 from No. 15: a road collapse was merged into a
-- missing cover at the same door, and two covers of one street into one order.
-- So whatever its score, a candidate (dedup_candidate.at_most, with at_most_reason)
--   makes the report nothing (at_most 'new')
--       when the two name their spots by different numbers of one kind: the place
--       numbers of each one's description and address (place_numbers(), C,
--       src/placenumbers.c: 12号, 3号楼, 2单元, 西三巷, 3号线, ...) name numbers
--       of one marker and none in common: "another place";
--       when they are of two categories and their text score is 0: nothing alike
--       in what they say happened, once the addresses are left out;
--   holds it for review at most (at_most 'review')
--       when they are of one category and their text score is 0;
--       when one of the two is of the family's root category and the other of a
--       category below it (a report of ROAD, as the mayor's mailbox files
--       traffic letters, beside an order of ROAD_MANHOLE): the root says only
--       which family, not which problem.
-- The decision takes the best candidate that may merge (same category, no at_most)
-- for a merge, else the best that may hold the report for review.  Measured on
-- data/dedup_eval.csv and the held-out set (README, "Quality and cost").
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
--                               takes reports (the reopen window), however
--                               long it was open before
--   open orders                 a setting only, dedup_open_window ('30 days'): how
--                               long after its receipt an order takes reports,
--                               open or resolved recently, past the time window
--                               (a category's longer window counts instead; '0':
--                               the time window only, as until 0.5).  Without a
--                               bound an order left open for good (returned to
--                               the dispatchers, never settled) took every report
--                               at its place, and every search there read it
--   late-report policy          dedup_rules.late_policy; setting dedup_late_policy ('link')
--   dedup_enabled               a setting only ('on'): 'off' turns dedup off (every report
--                               becomes an order of its own), e.g. for a test of routing
-- No rows are shipped: the defaults are the functions' own, so that pg_dump keeps
-- only what a district changed.  When inherited thresholds cross (review above
-- merge), review is taken to be merge: there is no review band.
--
-- Concurrency: reports of one event that arrive together must make one master.
-- dedup_decide() first takes transaction-level locks (the extension's own, part 03)
-- on the grid cells
-- (of the category family, cell side twice the family's largest radius, a category
-- without a radius counting the district's setting dedup_radius_m: the same grid
-- whoever asks) that its search circle touches, in key order, and only then
-- searches.  Two reports that
-- could find each other share a cell (each locks its own point's cell and every
-- cell its circle reaches), so the second waits until the first commits and then,
-- under READ COMMITTED (the search is a new statement with a new snapshot), finds
-- it.  Under REPEATABLE READ or SERIALIZABLE the search would use a snapshot taken
-- before the wait, and one event got two masters: submit() and drain_inbox() refuse
-- those levels (WO307, src/intake.c).
--
-- Finding candidates uses orders_location_idx (50_orders.sql), a GiST index on
-- (location, received_at, COALESCE(settled_at, 'infinity')): one index scan bounds
-- the place, the receipt (within dedup_open_window before the report, no later than
-- the window after it) and the end of each order's span (open, or settled within
-- closed_window before the report), so its cost follows the open and recently
-- settled orders of the last dedup_open_window in the searched box, not the history
-- (bench/dedup).

-- dedup_time_axis (C, src/dedup.c) was the time axis of 0.3's dedup index, an
-- n-dimensional index on (lon, lat, time).  No index uses it since 0.4; it stays
-- because a server that preloads the library runs 0.3's search (which calls it)
-- until it restarts, and an update to 0.4 before that restart must not break
-- intake.  A later version drops it.
CREATE FUNCTION workorder.dedup_time_axis(timestamptz)
RETURNS double precision
AS 'MODULE_PATHNAME', 'workorder_dedup_time_axis'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.dedup_time_axis(timestamptz) IS
    'The time axis of 0.3''s dedup index: days since 2000-01-01 00:00 UTC times 0.001. Unused since 0.4.';

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

CREATE FUNCTION workorder.place_numbers(t text)
RETURNS text[]
AS 'MODULE_PATHNAME', 'workorder_place_numbers'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.place_numbers(text) IS
    'The place numbers a text names (12号, 3号楼, 2单元, 3巷, 3号线, ...): two reports naming different numbers of one kind are at two places.';

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

-- dedup_policy returns the dedup configuration in force for a category (see the
-- header for the order of inheritance).  A NULL or unknown category gets the
-- district-wide values, with no family.  Each district-wide setting it needs is
-- checked: WO701 for a value that is not a number in its range (or not an interval
-- in its range of days, or not one of the allowed words).  C (src/dedup.c): from
-- the reference cache (settings, category_effective, dedup_rules: src/refcache.c),
-- resolved once per category until one of those tables changes.
CREATE FUNCTION workorder.dedup_policy(category text)
RETURNS workorder.dedup_policy
AS 'MODULE_PATHNAME', 'workorder_dedup_policy'
LANGUAGE C STABLE;

-- dedup_policies shows the dedup configuration in force for every category.
CREATE VIEW workorder.dedup_policies AS
SELECT p.*
  FROM workorder.categories c
 CROSS JOIN LATERAL workorder.dedup_policy(c.code) p;
COMMENT ON VIEW workorder.dedup_policies IS
    'The dedup configuration in force for every category, after inheritance and the district-wide defaults.';

-- dedup_phone reduces a phone number to its digits (the last 11: a leading +86 or
-- 0086 is the same phone); NULL when it has fewer than 5.  C (src/dedup.c), which
-- compares the reporters' phones with it.
CREATE FUNCTION workorder.dedup_phone(phone text)
RETURNS text
AS 'MODULE_PATHNAME', 'workorder_dedup_phone'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- dedup_lock takes the advisory locks that serialise dedup in a neighbourhood (see
-- the header): one per grid cell of the family that the circle of radius_m around
-- point touches, in key order.  A circle that touches more than 16 cells (far from
-- the equator) locks the whole family instead.  They are the extension's own locks
-- (part 03) named ('workorder.dedup', concat_ws('/', family, x, y)) for a cell and
-- ('workorder.dedup', family) for the family.  WO101 for a
-- geometry that is not a point.  C (src/dedup.c).
CREATE FUNCTION workorder.dedup_lock(family text, point geometry, radius_m double precision)
RETURNS void
AS 'MODULE_PATHNAME', 'workorder_dedup_lock'
LANGUAGE C;

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
    score           double precision,
    at_most         text,           -- 'review' or 'new': the most it may make of the report (NULL: merge)
    at_most_reason  text            -- why
);

-- dedup_candidates returns the candidates of a report under a policy, best first
-- (NULL scores last, ties: the earlier order): orders of the policy's family within
-- radius_m of the report, received within dedup_open_window (or time_window, if
-- longer) before it and no later than time_window after it (a report that waited
-- for a lock, or in the inbox, may be older than an order), neither
-- merged nor cancelled nor a suspected duplicate waiting for review (new, flagged
-- review and not reviewed, as in suspected_duplicates), and open, or resolved or
-- closed no longer than closed_window before the report (settled_at, when it was
-- resolved: src/settled.c).  At most 50.
-- Each gets the components of the header:
--   distance_score  GREATEST(0, 1 - distance_m / radius_m), distance_m the geodesic
--                   distance on WGS 84 that ST_Distance(geography) measures (in C,
--                   src/geodesic.c, within 10 micrometres of it)
--   time_score      GREATEST(0, 1 - |gap| / time_window), in seconds
--   text_score      sqrt(text_similarity(description, its description,
--                   concat_ws(' ', address, its address)))
--   address_score   address_similarity(address, its address)
--   reporter_score  1 when dedup_phone() of both is the same, else NULL
--   score           (the sum of weight * component, a NULL address or reporter
--                   counting 0) / NULLIF(the sum of the weights of the components
--                   that are not NULL, 0)
-- and same_category: its category is on the report's category path, or the
-- report's category on its path; and at_most, at_most_reason (the header's "At
-- most": 'new' for another place or nothing alike of another category, 'review'
-- for nothing alike of one category or a root beside a category below it).  WO101 for a geometry that is not a point, WO102
-- for a point of a SRID other than 4326 (0 is taken for 4326, as geography does;
-- until 0.5 such a point was searched as if it were of 4326, then refused by
-- PostGIS when the box held a candidate).
--
-- C (src/dedup.c).  One scan of orders_location_idx finds the orders in the search
-- box (the circle's bounding box, received from dedup_open_window before the report
-- to the window after it, open or settled no earlier than closed_window before it):
-- a query prepared once per backend whose only quals are the index's, so that no
-- plan of it can read more than the box; the rest is filtered and scored in C, with
-- the functions the SQL used.
CREATE FUNCTION workorder.dedup_candidates(p workorder.dedup_policy, point geometry, received timestamptz,
                                           description text, address text, reporter_phone text,
                                           exclude_order bigint DEFAULT NULL)
RETURNS SETOF workorder.dedup_candidate
AS 'MODULE_PATHNAME', 'workorder_dedup_candidates'
LANGUAGE C;

-- dedup_decision is what dedup_decide() decided for a report.
CREATE TYPE workorder.dedup_decision AS (
    decision    text,           -- new, merge, reopen, link, review
    master_id   bigint,         -- the chosen candidate (merge, reopen, link, review)
    score       double precision,
    holds       boolean,        -- true: submit() must not route the order
    reason      text,           -- the order's status_reason while it is not routed
    policy      workorder.dedup_policy,
    candidates  workorder.dedup_candidate[] -- every candidate with its components, best first
);

-- dedup_decide takes the neighbourhood's locks (dedup_lock), finds and scores the
-- candidates of a report (dedup_candidates under dedup_policy(category)), and
-- decides (see the header).  submit() calls it once the report is located and
-- categorised; a report with no catalogue category, or with dedup_enabled off, is
-- not deduplicated (decision new, no candidates).  The candidates are looked at
-- best first with NULL scores first (ORDER BY score DESC, order_id); the best of
-- the same category (or an ancestor or descendant) at merge_threshold or above is
-- merged into (reopen or link, per late_policy, when it was resolved or closed);
-- else the best of all at review_threshold or above is suspected.  policy and
-- candidates are the policy and the candidates as rows of their types
-- (dedup_apply() stores them, explain_dedup() reads them back; until 0.4 they were
-- to_jsonb() of them, whose making cost more than the scoring).  C (src/dedup.c):
-- the search is a new snapshot after the locks, so under READ COMMITTED it sees
-- what the reports it waited for committed.
CREATE FUNCTION workorder.dedup_decide(category text, point geometry, received timestamptz,
                                       description text, address text, reporter_phone text)
RETURNS workorder.dedup_decision
AS 'MODULE_PATHNAME', 'workorder_dedup_decide_0_5'
LANGUAGE C;

-- dedup_checks records, for every order whose intake found candidates, what dedup
-- saw and decided, and the review of a suspected duplicate.
CREATE TABLE workorder.dedup_checks (
    order_id     bigint PRIMARY KEY REFERENCES workorder.orders (id),
    checked_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    decision     text NOT NULL,
    master_id    bigint REFERENCES workorder.orders (id),
    score        double precision,
    policy       workorder.dedup_policy NOT NULL,
    candidates   workorder.dedup_candidate[] NOT NULL,
    reviewed_at  timestamptz,
    reviewed_by  text,
    review       text,
    CONSTRAINT dedup_checks_decision CHECK (decision IN ('new', 'merge', 'reopen', 'link', 'review')),
    -- confirm or reject by review_duplicate(); or the action that took the order
    -- out of new without a review (action_done, part 65)
    CONSTRAINT dedup_checks_review CHECK (review IN ('confirm', 'reject', 'dispatch', 'merge', 'cancel')),
    CONSTRAINT dedup_checks_reviewed CHECK ((review IS NULL) OPERATOR(pg_catalog.=) (reviewed_at IS NULL))
);
CREATE INDEX dedup_checks_pending_idx ON workorder.dedup_checks (checked_at)
    WHERE decision OPERATOR(pg_catalog.=) 'review' AND review IS NULL;
SELECT pg_catalog.pg_extension_config_dump('workorder.dedup_checks', '');
REVOKE ALL ON workorder.dedup_checks FROM PUBLIC;
COMMENT ON TABLE workorder.dedup_checks IS
    'What dedup saw at intake (the candidates and their score components, the policy) and decided, for orders that had candidates; and reviews.';

-- awaits_review says whether order o is a suspected duplicate waiting for a
-- dispatcher's review (workorder.suspected_duplicates lists them): it is new, and
-- its dedup check at intake flagged it and has no review yet.
CREATE FUNCTION workorder.awaits_review(o workorder.orders)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
SELECT o.status OPERATOR(pg_catalog.=) 'new'
   AND EXISTS (SELECT FROM workorder.dedup_checks c
                WHERE c.order_id OPERATOR(pg_catalog.=) o.id
                  AND c.decision OPERATOR(pg_catalog.=) 'review' AND c.review IS NULL)
$$;

-- dedup_apply carries out a decision on the order submit() has just made, records
-- the check, and returns the order as it leaves intake.  submit() no longer calls
-- it: it does the same in C (src/intake.c), without the action merge(), whose
-- access check refused an intake login's duplicate of another channel's order.
-- Kept because the library that 0.5 first shipped with calls it, and a server
-- runs the library it preloaded until it restarts; to be dropped in 0.6.
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
        SELECT * INTO master FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) d.master_id FOR NO KEY UPDATE;
        IF master.status OPERATOR(pg_catalog.=) ANY ('{merged,cancelled}'::workorder.order_status[]) THEN
            d.reason := pg_catalog.format('duplicate of %s, which became %s before the merge: a dispatcher must dispatch it',
                                          master.ticket, master.status);
            UPDATE workorder.orders x SET status_reason = d.reason WHERE x.id OPERATOR(pg_catalog.=) o.id;
            d.decision := 'new';
        ELSIF master.status OPERATOR(pg_catalog.=) ANY ('{resolved,closed}'::workorder.order_status[]) THEN
            -- Late only when received after the last resolve, as intake.c decides.
            d.decision := CASE WHEN o.received_at OPERATOR(pg_catalog.<)
                                    (SELECT pg_catalog.max(e.at) FROM workorder.order_events e
                                      WHERE e.order_id OPERATOR(pg_catalog.=) master.id
                                        AND e.action OPERATOR(pg_catalog.=) 'resolve')
                               THEN 'link' ELSE (d.policy).late_policy END;
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
        -- The reason names neither the report nor its score: it goes out to every
        -- merged report's channel, other citizens' (merged_in and dedup_checks keep them).
        PERFORM workorder.reopen(d.master_id, 'system', 'a new report after resolution');
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
-- unknown order.  A candidate the caller may not read is shown without its id,
-- ticket, status and category.
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
                 -- No check is recorded either when dedup is off: say so, rather than
                 -- that nothing was near (the report may have sat on another).
                 WHEN workorder.setting('dedup_enabled', 'on') OPERATOR(pg_catalog.=) 'off'
                 THEN 'dedup is off (setting dedup_enabled): no report is checked'
                 ELSE pg_catalog.format('no order of family %s within %s m, received within %s, that is open or was resolved within %s',
                                        p.family, p.radius_m,
                                        GREATEST(p.time_window, workorder.setting('dedup_open_window', '30 days')::interval),
                                        p.closed_window) END;
        RETURN;
    END IF;
    -- A candidate the caller may not read (another town's, another unit's) keeps
    -- its scores, which explain the decision, but not its id, ticket, status or
    -- category.
    RETURN QUERY
    SELECT c.n::integer,
           CASE WHEN v.readable THEN c.order_id END, CASE WHEN v.readable THEN c.ticket END,
           CASE WHEN v.readable THEN c.status END, CASE WHEN v.readable THEN c.category_code END,
           c.same_category,
           pg_catalog.round(c.distance_m::numeric, 1), c.time_gap,
           pg_catalog.round(c.distance_score::numeric, 3), pg_catalog.round(c.time_score::numeric, 3),
           pg_catalog.round(c.text_score::numeric, 3), pg_catalog.round(c.address_score::numeric, 3),
           pg_catalog.round(c.reporter_score::numeric, 3), pg_catalog.round(c.score::numeric, 3),
           c.order_id IS NOT DISTINCT FROM chk.master_id,
           chk.decision,
           -- A candidate that may make nothing of the report says why, whatever its rank.
           CASE WHEN c.at_most OPERATOR(pg_catalog.=) 'new' THEN c.at_most_reason
                WHEN c.order_id IS DISTINCT FROM chk.master_id AND chk.master_id IS NOT NULL THEN
                     CASE WHEN c.at_most OPERATOR(pg_catalog.=) 'review' AND c.score OPERATOR(pg_catalog.>) chk.score
                          THEN c.at_most_reason
                          WHEN NOT c.same_category AND c.score OPERATOR(pg_catalog.>) chk.score
                          THEN 'another category: not merged automatically' ELSE 'lower score' END
                -- (The chosen master may rank below a candidate of another
                -- category, which may not be merged into: it is explained below.)
                WHEN c.n OPERATOR(pg_catalog.<>) 1 AND c.order_id IS DISTINCT FROM chk.master_id THEN 'lower score'
                -- Released: more urgent than the order it would have joined (or
                -- been held for review against), and routed on its own.  It read
                -- as a master merged or cancelled, as both keep the master.
                WHEN chk.decision OPERATOR(pg_catalog.=) 'new' AND chk.master_id IS NOT NULL
                     AND o.priority OPERATOR(pg_catalog.>) m.priority THEN
                     pg_catalog.format('score %s, but the report (%s) is more urgent than that order (%s): routed on its own, not %s',
                                       pg_catalog.round(c.score::numeric, 3), o.priority, m.priority,
                                       CASE WHEN c.same_category AND c.score OPERATOR(pg_catalog.>=) (chk.policy).merge_threshold
                                            THEN 'merged' ELSE 'held for review' END)
                WHEN chk.decision OPERATOR(pg_catalog.=) 'new' AND chk.master_id IS NOT NULL THEN
                     'score at least merge_threshold, but the master was merged or cancelled before the merge: not merged'
                -- A NULL score is none: the policy weighs none of the components the
                -- candidate has (all its weights 0), not a score below the threshold.
                WHEN chk.decision OPERATOR(pg_catalog.=) 'new' AND c.score IS NULL THEN
                     'no score: the policy weighs none of the components this candidate has (see its weights)'
                WHEN chk.decision OPERATOR(pg_catalog.=) 'new' THEN
                     pg_catalog.format('score below review_threshold %s', (chk.policy).review_threshold)
                WHEN chk.decision OPERATOR(pg_catalog.=) 'review' THEN
                     pg_catalog.format('score at least review_threshold %s, %s%s',
                                       (chk.policy).review_threshold,
                                       CASE WHEN c.at_most OPERATOR(pg_catalog.=) 'review' THEN c.at_most_reason
                                            WHEN c.same_category
                                            THEN 'below merge_threshold ' OPERATOR(pg_catalog.||) (chk.policy).merge_threshold
                                            ELSE 'another category: suspected only' END,
                                       CASE WHEN chk.review OPERATOR(pg_catalog.=) 'confirm'
                                                 AND o.master_id IS DISTINCT FROM chk.master_id
                                                 AND o.master_id IS NOT NULL
                                            -- The reviewer named another master.
                                            THEN pg_catalog.format('; confirm by %s, as a duplicate of %s', chk.reviewed_by,
                                                                   COALESCE((SELECT x.ticket::text FROM workorder.orders x
                                                                              WHERE x.id OPERATOR(pg_catalog.=) o.master_id
                                                                                AND workorder.caller_may_read(x)),
                                                                            'another order'))
                                            WHEN chk.review OPERATOR(pg_catalog.=) ANY ('{confirm,reject}'::text[])
                                            THEN pg_catalog.format('; %s by %s', chk.review, chk.reviewed_by)
                                            WHEN chk.review IS NOT NULL
                                            THEN pg_catalog.format('; no review: %s by %s', chk.review, chk.reviewed_by)
                                            ELSE '' END)
                ELSE pg_catalog.format('score at least merge_threshold %s%s', (chk.policy).merge_threshold,
                                       CASE WHEN chk.decision OPERATOR(pg_catalog.=) 'reopen'
                                            THEN '; the master was resolved: reopened (late_policy reopen)'
                                            -- Under reopen, a link is a report received before the
                                            -- master's last resolve, which answers it.
                                            WHEN chk.decision OPERATOR(pg_catalog.=) 'link'
                                                 AND (chk.policy).late_policy OPERATOR(pg_catalog.=) 'reopen'
                                            THEN '; the master was resolved after this report was received: linked, answered by that resolve'
                                            WHEN chk.decision OPERATOR(pg_catalog.=) 'link'
                                            THEN '; the master was resolved: linked (late_policy link)'
                                            ELSE '' END) END
      FROM pg_catalog.unnest(chk.candidates)
           WITH ORDINALITY AS c(order_id, ticket, status, category_code, same_category, resolved_at, distance_m, time_gap, distance_score, time_score,
                                text_score, address_score, reporter_score, score, at_most, at_most_reason, n)
      LEFT JOIN LATERAL (SELECT workorder.caller_may_read(x) AS readable FROM workorder.orders x
                          WHERE x.id OPERATOR(pg_catalog.=) c.order_id) v ON true
      -- the master dedup chose, for its priority
      LEFT JOIN workorder.orders m ON m.id OPERATOR(pg_catalog.=) chk.master_id
     ORDER BY c.n;
END
$$;

-- suspected_duplicates, the orders waiting for a dispatcher's review: part 96,
-- which filters it by who reads it.

-- review_duplicate (a dispatcher's answer to a suspected duplicate): confirm
-- merges the order into its master (the suspected one unless master_id names
-- another); reject keeps it new, for dispatch, and clears its status_reason.
-- Either way the order gets a review_duplicate event (confirm then also a merge
-- event, and the master a merged_in event).  A confirmed duplicate of a master
-- that is resolved or closed is a late report, and the late_policy intake
-- recorded decides, as it does at intake: reopen, by the reviewer, and then the
-- merge; or link (the merge alone).  WO401 when the order is not new,
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
    -- order is locked and its status checked here, with the same errors.  A
    -- confirmation merges: the order and the master it goes to are locked first, in
    -- id order, as merge() locks them (the order alone first, then merge() taking
    -- the master of smaller id, deadlocked with a merge() of the same pair).
    IF decision OPERATOR(pg_catalog.=) 'confirm' THEN
        PERFORM 1 FROM workorder.orders x
         WHERE x.id OPERATOR(pg_catalog.=) ANY (ARRAY[review_duplicate.order_id,
                   COALESCE(review_duplicate.master_id,
                            (SELECT c.master_id FROM workorder.dedup_checks c
                              WHERE c.order_id OPERATOR(pg_catalog.=) review_duplicate.order_id))])
         ORDER BY x.id FOR NO KEY UPDATE;
    END IF;
    SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) review_duplicate.order_id FOR NO KEY UPDATE;
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
                 WHEN chk.review OPERATOR(pg_catalog.=) ANY ('{confirm,reject}'::text[])
                      THEN pg_catalog.format('It was reviewed already: %s by %s.', chk.review, chk.reviewed_by)
                 WHEN chk.review IS NOT NULL
                      THEN pg_catalog.format('It was settled without a review: %s by %s.', chk.review, chk.reviewed_by)
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
        -- A late report only: one received after the master's last resolve.  (One
        -- flagged while the master was open and confirmed after the unit resolved
        -- it reopened it, a redo for the problem the unit had just fixed.)
        IF (chk.policy).late_policy OPERATOR(pg_catalog.=) 'reopen'
           AND (SELECT m.status FROM workorder.orders m WHERE m.id OPERATOR(pg_catalog.=) target)
               OPERATOR(pg_catalog.=) ANY ('{resolved,closed}'::workorder.order_status[])
           AND o.received_at OPERATOR(pg_catalog.>)
               COALESCE((SELECT pg_catalog.max(e.at) FROM workorder.order_events e
                          WHERE e.order_id OPERATOR(pg_catalog.=) target AND e.action OPERATOR(pg_catalog.=) 'resolve'),
                        '-infinity') THEN
            -- (Without the report's ticket: the reason goes out to other citizens' channels.)
            PERFORM workorder.reopen(target, who, 'a report confirmed as the same event after resolution');
        END IF;
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
