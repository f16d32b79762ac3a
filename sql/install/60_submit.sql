-- workorder install script, part 60: intake.
--
-- submit() is the one entry.  Every channel calls it (or fills the inbox, which
-- calls it): the report becomes one standardized order, located, mapped onto the
-- catalogue, routed and logged.  Submitting the same (channel, channel_ref) again
-- returns the order already made, and never makes a second one; a reference that
-- made an order of another report (another description, category as the channel
-- gave it, place, or event time when both give one) is refused, WO308 (a connector
-- whose counter started again lost every later report, each answered with an old
-- order).

-- dispatch_center returns the unit that receives what cannot be routed: the
-- setting dispatch_unit, else the first (by code) active center of an
-- in-jurisdiction root area.  C, from the per-backend reference cache
-- (src/refcache.c).
CREATE FUNCTION workorder.dispatch_center()
RETURNS text
AS 'MODULE_PATHNAME', 'reference_dispatch_center'
LANGUAGE C STABLE PARALLEL SAFE;

-- check_text returns a text argument of a report, trimmed (of spaces, tabs, line
-- breaks, no-break and ideographic spaces, as action texts are), or raises WO303
-- when it is required and missing, longer than its limit, or has a control
-- character (control_character_at, below).  C (src/intake.c):
-- submit() makes the same check of each of a report's five texts.
CREATE FUNCTION workorder.check_text(value text, what text, max_length integer, required boolean)
RETURNS text
AS 'MODULE_PATHNAME', 'intake_check_text'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- trim_blanks is value without the blanks around it that people type and paste:
-- spaces, tabs, line breaks, no-break and ideographic (U+3000) spaces, the byte
-- order mark U+FEFF (which a CSV saved by a spreadsheet puts before its first
-- field), and the zero-width space, non-joiner, joiner and word joiner (U+200B,
-- U+200C, U+200D, U+2060: text pasted from web pages and chat apps carries them;
-- a description of nothing else was not blank), the set check_text trims.  Every
-- text an action, a callback, the inbox or the detection inbox takes in is trimmed
-- by it.  (Written out in each, the set once held E'\v', which is the letter v in
-- PostgreSQL.)  C (src/intake.c): as SQL it had the pinned search_path of every SQL
-- function, and was called, not inlined.
-- In a database not in UTF-8 only the ASCII blanks are trimmed.
CREATE FUNCTION workorder.trim_blanks(value text)
RETURNS text
AS 'MODULE_PATHNAME', 'intake_trim_blanks'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- control_character_at returns the position (in characters, from 1) of the first
-- control character of value other than tab, line feed, vertical tab, form feed and
-- carriage return (a C0 control, DEL, or a C1 control U+0080..U+009F), or NULL when
-- it has none.  check_text refuses such a text (WO303), action_text too (WO404):
-- they would go out again to channels that cannot carry them.  C (src/intake.c).
CREATE FUNCTION workorder.control_character_at(value text)
RETURNS integer
AS 'MODULE_PATHNAME', 'intake_control_character_at'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- intake_received_at sets when the next submit() of the calling (sub)transaction
-- was received (NULL: clears it); a time after the transaction's start is taken as
-- that start.  drain_inbox() (part 70) gives each row its inbox received_at.  C
-- (src/intake.c).  Admins only (part 98): a connector must not date its reports.
CREATE FUNCTION workorder.intake_received_at(at timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'intake_received_at'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- submit takes one report and returns its order.  See README.md for the rules.
-- C (src/intake.c): it runs once for every report, and as plpgsql its own
-- statements cost several plain INSERTs (bench/submit).
CREATE FUNCTION workorder.submit(
    channel        text,
    channel_ref    text,
    category       text,
    description    text,
    location       geometry DEFAULT NULL,
    lon            double precision DEFAULT NULL,
    lat            double precision DEFAULT NULL,
    address        text DEFAULT NULL,
    reporter_name  text DEFAULT NULL,
    reporter_phone text DEFAULT NULL,
    occurred_at    timestamptz DEFAULT NULL,
    attributes     jsonb DEFAULT NULL,
    priority       workorder.order_priority DEFAULT 'normal')
RETURNS workorder.orders
AS 'MODULE_PATHNAME', 'intake_submit'
LANGUAGE C VOLATILE
SECURITY DEFINER;

-- explain_route shows how an order was (or would now be) routed: every rule
-- considered, whether it matched and why, and which step was chosen.  It evaluates
-- the rules as they are now, on the order's facts as they were at intake.
CREATE FUNCTION workorder.explain_route(order_id bigint)
RETURNS TABLE (step integer, rule_id bigint, rule_name text, matched boolean, chosen boolean,
               reason text, handling_level workorder.area_level, unit_code text)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders;
    fallback text;   -- the unit intake sent an out-of-jurisdiction order to
    not_in_use text; -- the catalogue category intake found out of use
BEGIN
    SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) order_id;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO402',
            pg_catalog.format('order %s does not exist', COALESCE(order_id::text, 'NULL')),
            'explain_route needs an existing order.', 'Check the order id.');
    END IF;
    PERFORM workorder.check_order_access(o, NULL);   -- only an order the caller may read (part 96)
    -- Dedup decided before routing: a merged report, or a suspected duplicate that
    -- waits for review, was not routed (the rules would show one chosen).
    IF o.status OPERATOR(pg_catalog.=) 'merged' THEN
        RETURN QUERY SELECT 0, NULL::bigint, 'intake'::text, false, false,
            'merged into another order (dedup; explain_dedup shows why): not routed, no rule is considered'::text,
            NULL::workorder.area_level, NULL::text;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM workorder.dedup_checks c
                WHERE c.order_id OPERATOR(pg_catalog.=) o.id AND c.decision OPERATOR(pg_catalog.=) 'review'
                  AND c.review IS NULL)
       AND o.status OPERATOR(pg_catalog.=) 'new' THEN
        RETURN QUERY SELECT 0, NULL::bigint, 'intake'::text, false, false,
            'a suspected duplicate waiting for review (review_duplicate): not routed yet, no rule is considered'::text,
            NULL::workorder.area_level, NULL::text;
        RETURN;
    END IF;
    -- One held for review and settled since (rejected, or dispatched by hand): intake
    -- routed it not.  The rules are shown as routing would apply them now, none as
    -- chosen (one was, with its unit, as if intake had sent the order there).
    IF EXISTS (SELECT 1 FROM workorder.dedup_checks c
                WHERE c.order_id OPERATOR(pg_catalog.=) o.id AND c.decision OPERATOR(pg_catalog.=) 'review') THEN
        RETURN QUERY SELECT 0, NULL::bigint, 'intake'::text, false, false,
            'a suspected duplicate at intake, held for review and settled since (explain_dedup): intake routed it not; the steps below are what routing would do now'::text,
            NULL::workorder.area_level, NULL::text;
        RETURN QUERY SELECT s.step, s.rule_id, s.rule_name, s.matched, false,
                            CASE WHEN s.chosen THEN 'matched: routing would choose it now' ELSE s.reason END,
                            s.handling_level, s.unit_code
                       FROM workorder.route_steps(o.category_code, o.channel_code, o.area_chain, o.priority, o.description) s;
        RETURN;
    END IF;
    -- A category taken out of use (it or a category above it inactive): intake left
    -- it for a dispatcher, as it does an unmapped one, and said why.
    SELECT e.code INTO not_in_use FROM workorder.category_effective e
     WHERE o.category_code IS NULL AND NOT e.active
       AND e.code OPERATOR(pg_catalog.=) workorder.map_category(o.channel_code, o.channel_category);
    IF not_in_use IS NOT NULL THEN
        RETURN QUERY SELECT 0, NULL::bigint, 'intake'::text, false, false,
            pg_catalog.format('category %s (channel %s''s %s) is not in use: no rule is considered, a dispatcher must classify it',
                              not_in_use, o.channel_code, o.channel_category),
            NULL::workorder.area_level, NULL::text;
        RETURN;
    END IF;
    IF o.category_code IS NULL THEN
        RETURN QUERY SELECT 0, NULL::bigint, 'intake'::text, false, false,
            pg_catalog.format('category %s of channel %s is not mapped onto the catalogue: no rule is considered',
                              COALESCE(o.channel_category, '(none)'), o.channel_code),
            NULL::workorder.area_level, NULL::text;
        RETURN;
    END IF;
    IF NOT o.in_jurisdiction THEN
        -- What intake did, from its own dispatch event (the system's, logged with
        -- the submit): the order's main unit now may be a dispatcher's choice, and
        -- was reported as the fallback unit.
        SELECT e.unit_code INTO fallback FROM workorder.order_events e
         WHERE e.order_id OPERATOR(pg_catalog.=) o.id AND e.seq OPERATOR(pg_catalog.<=) 2
           AND e.action OPERATOR(pg_catalog.=) 'dispatch' AND e.actor OPERATOR(pg_catalog.=) 'system';
        RETURN QUERY SELECT 0, NULL::bigint, 'intake'::text, true, fallback IS NOT NULL,
            pg_catalog.format(CASE WHEN fallback IS NULL
                                   THEN 'out of jurisdiction (%s): no active fallback_unit, so it stayed new for a dispatcher; no rule is considered'
                                   ELSE 'out of jurisdiction (%s): sent to the fallback unit, no rule is considered' END,
                              COALESCE(o.area_code, 'in no known area')),
            NULL::workorder.area_level, fallback;
        RETURN;
    END IF;
    RETURN QUERY SELECT s.step, s.rule_id, s.rule_name, s.matched, s.chosen, s.reason, s.handling_level, s.unit_code
                   FROM workorder.route_steps(o.category_code, o.channel_code, o.area_chain, o.priority, o.description) s;
END
$$;
