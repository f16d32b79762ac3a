-- workorder 0.1 -> 0.2: intake throughput (bench/submit).  The functions below
-- are those of the install parts (sql/install/*.sql), replaced in place; see there
-- for what each does.  Generated from the install parts, function by function.

-- setting returns the value of a workorder setting, or the given default when the
-- setting has no row.  It is C, answering from the per-backend reference cache
-- (src/refcache.c; the cache's invalidation triggers are in part 87): it sits on
-- the hot path of locate() and submit().
CREATE OR REPLACE FUNCTION workorder.setting(setting_name text, default_value text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_setting'
LANGUAGE C STABLE PARALLEL SAFE;

-- map_category returns the catalogue code for a channel's category code: the
-- channel's own mapping first, then the code itself if it is a catalogue code.
-- NULL means the code is unknown; intake sends such a report to a dispatcher.
-- (C, from the per-backend reference cache of src/refcache.c: it runs on every
-- submit.)
CREATE OR REPLACE FUNCTION workorder.map_category(channel text, category text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_map_category'
LANGUAGE C STABLE PARALLEL SAFE;

-- channel_is_active says whether an active channel has this code (from the
-- reference cache: submit() asks it first on every report).
CREATE OR REPLACE FUNCTION workorder.channel_is_active(channel text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'reference_channel_is_active'
LANGUAGE C STABLE PARALLEL SAFE;

-- category_settings returns a category's family (root), its path from the root,
-- and the defaults in force for it: its own or its nearest ancestor's (the row of
-- category_effective).  NULL columns when the category does not exist.  C, from
-- the per-backend reference cache (src/refcache.c).
CREATE OR REPLACE FUNCTION workorder.category_settings(category text,
    OUT code text, OUT family text, OUT path text[], OUT handling_level workorder.area_level,
    OUT department_kind text, OUT sla_policy text, OUT dedup_radius_m double precision,
    OUT dedup_window interval)
AS 'MODULE_PATHNAME', 'reference_category_settings'
LANGUAGE C STABLE PARALLEL SAFE;

-- resolve_unit returns the active unit that serves an area chain at a level, for a
-- route target, or NULL when there is none.  The area at the level is the chain's
-- element at that depth (district 1, town 2, village 3); a chain that stops above
-- the level is served at its deepest area.  A department target at town level is
-- the department kind's branch in that town; at district level, the district
-- department itself; villages have none.  A unit target is the fixed unit, if
-- active.  C, from the per-backend reference cache (src/refcache.c).
CREATE OR REPLACE FUNCTION workorder.resolve_unit(target workorder.route_target, department_kind text,
                                       level workorder.area_level, area_chain text[], fixed_unit text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_resolve_unit'
LANGUAGE C STABLE PARALLEL SAFE;

-- route_steps evaluates every routing rule, in order, for an order's facts, and then
-- the category's default.  Each row says whether the step matched, which unit it
-- resolved to, and why; the first row with chosen = true is the decision.  It is
-- the one implementation behind both routing at intake and explain_route().  C
-- (src/routing.c), on the rules, catalogue and units of the per-backend reference
-- cache: it runs on every submit.
CREATE OR REPLACE FUNCTION workorder.route_steps(category text, channel text, area_chain text[],
                                      priority workorder.order_priority, description text)
RETURNS TABLE (step integer, rule_id bigint, rule_name text, matched boolean, chosen boolean,
               reason text, handling_level workorder.area_level, unit_code text,
               assisting_units text[], sla_policy text)
AS 'MODULE_PATHNAME', 'routing_route_steps'
LANGUAGE C STABLE PARALLEL SAFE;

-- dispatch_center returns the unit that receives what cannot be routed: the
-- setting dispatch_unit, else the first (by code) active center of an
-- in-jurisdiction root area.  C, from the per-backend reference cache
-- (src/refcache.c).
CREATE OR REPLACE FUNCTION workorder.dispatch_center()
RETURNS text
AS 'MODULE_PATHNAME', 'reference_dispatch_center'
LANGUAGE C STABLE PARALLEL SAFE;

-- choose_sla_policy returns the policy an order gets (see the top of this part).
-- C, from the per-backend reference cache (src/refcache.c): it runs at every
-- intake and dispatch.
CREATE OR REPLACE FUNCTION workorder.choose_sla_policy(rule_id bigint, priority workorder.order_priority, category text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_choose_sla_policy'
LANGUAGE C STABLE;

-- check_text returns a text argument of a report, trimmed (of spaces, tabs, line
-- breaks, no-break and ideographic spaces, as action texts are), or raises WO303
-- when it is required and missing, or longer than its limit.  C (src/intake.c):
-- submit() calls it five times.
CREATE OR REPLACE FUNCTION workorder.check_text(value text, what text, max_length integer, required boolean)
RETURNS text
AS 'MODULE_PATHNAME', 'intake_check_text'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- locate returns the deepest area that contains a point, and the chain of its
-- ancestors.  The rules, in order:
--   1. A point on the boundary shared by two areas of the same depth belongs to
--      the one with the smaller code (boundaries count as inside).
--   2. A point inside an area but in a gap between its children, or in a sliver
--      between top-level areas, goes to the nearest area within tolerance_m
--      metres (default: setting locate_tolerance_m, 200), and the answer is
--      flagged approximate.  This repeats down the tree.
--   3. A point in or near no area is 'outside', out of jurisdiction; a point in a
--      neighbouring district is out of jurisdiction too, with that district named.
-- A location that is not a usable point raises WO101 or WO102; any SRID that
-- PostGIS knows is transformed to 4326 first.
CREATE OR REPLACE FUNCTION workorder.locate(location geometry, tolerance_m double precision DEFAULT NULL)
RETURNS workorder.location
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN workorder.locate_point(workorder.location_point(location), tolerance_m);
END
$$;

-- locate(lon, lat) is locate() for a longitude and latitude in WGS84.
CREATE OR REPLACE FUNCTION workorder.locate(lon double precision, lat double precision,
                                 tolerance_m double precision DEFAULT NULL)
RETURNS workorder.location
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT workorder.locate(ST_SetSRID(ST_MakePoint(lon, lat), 4326), tolerance_m)
$$;

-- locate_point is locate() for a point that location_point() has checked
-- already: submit() checks a report's location once, with its own wording, and
-- locates the point it got.  C (src/locate.c): the same queries, the common case
-- (a point inside a leaf area) one query prepared once per backend.
CREATE OR REPLACE FUNCTION workorder.locate_point(point geometry, tolerance_m double precision DEFAULT NULL)
RETURNS workorder.location
AS 'MODULE_PATHNAME', 'locate_locate_point'
LANGUAGE C STABLE PARALLEL SAFE;

-- submit takes one report and returns its order.  See README.md for the rules.
CREATE OR REPLACE FUNCTION workorder.submit(
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
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders;
    point geometry;
    place workorder.location;
    category_code text;
    route record;
    route_unit text;
    route_rule_id bigint;
    route_rule_name text;
    route_level workorder.area_level;
    route_assisting text[] := '{}';
    route_sla text;
    reason text;
    status workorder.order_status := 'new';
    received timestamptz := pg_catalog.now();
    sla_accept timestamptz;
    sla_resolve timestamptz;
    sla_warn timestamptz;
    deadlines record;
BEGIN
    IF NOT workorder.channel_is_active(channel) THEN
        PERFORM workorder.raise_error('WO301',
            pg_catalog.format('unknown channel %s', COALESCE(pg_catalog.quote_literal(channel), 'NULL')),
            'No active channel has this code.',
            'Use the code of a channel in workorder.channels; a new channel is loaded with workorder.load_channels().');
    END IF;
    -- Trimmed of every blank, so that a retry with a trailing CR is the same report;
    -- control characters inside are refused.
    channel_ref := pg_catalog.btrim(channel_ref, E' \t\n\r\f\x0b\u00a0\u3000');
    IF channel_ref IS NULL OR channel_ref OPERATOR(pg_catalog.=) '' OR pg_catalog.length(channel_ref) OPERATOR(pg_catalog.>) 128
       OR channel_ref OPERATOR(pg_catalog.~) '[[:cntrl:]]' THEN
        PERFORM workorder.raise_error('WO302',
            pg_catalog.format('invalid reference for a report from channel %s', channel),
            pg_catalog.format('channel_ref is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(channel_ref, 40)), 'NULL')),
            'Pass the channel''s own reference of the report, 1 to 128 characters; it makes retries safe.');
    END IF;

    -- A retry returns the order the first attempt made.
    SELECT * INTO o FROM workorder.orders x
     WHERE x.channel_code OPERATOR(pg_catalog.=) submit.channel
       AND x.channel_ref OPERATOR(pg_catalog.=) submit.channel_ref;
    IF FOUND THEN
        RETURN o;
    END IF;

    description := workorder.check_text(description, 'description', 4000, true);
    address := workorder.check_text(address, 'address', 500, false);
    reporter_name := workorder.check_text(reporter_name, 'reporter name', 100, false);
    reporter_phone := workorder.check_text(reporter_phone, 'reporter phone', 40, false);
    category := workorder.check_text(category, 'category', 64, false);
    IF attributes IS NOT NULL AND pg_catalog.jsonb_typeof(attributes) OPERATOR(pg_catalog.<>) 'object' THEN
        PERFORM workorder.raise_error('WO304',
            'the report''s attributes are not a JSON object',
            pg_catalog.format('They are %s.', pg_catalog.left(attributes::text, 80)),
            'Pass free attributes as a JSON object, e.g. {"plate": "粤E12345"}.');
    END IF;
    IF pg_catalog.octet_length(attributes::text) OPERATOR(pg_catalog.>) 65536 THEN
        PERFORM workorder.raise_error('WO304',
            'the report''s attributes are too large',
            pg_catalog.format('They take %s bytes; at most 65536 are accepted.', pg_catalog.octet_length(attributes::text)),
            'Keep large content (photos, recordings) outside the database and pass references to it.');
    END IF;
    IF occurred_at OPERATOR(pg_catalog.>) (received OPERATOR(pg_catalog.+) '1 hour'::interval)
       OR occurred_at OPERATOR(pg_catalog.<) '2000-01-01'::timestamptz THEN
        PERFORM workorder.raise_error('WO304',
            'the report''s event time is not plausible',
            pg_catalog.format('occurred_at is %s; it must be after 2000-01-01 and no later than an hour from now.', occurred_at),
            'Pass when the event happened, in the past; leave it NULL when unknown.');
    END IF;
    IF priority IS NULL THEN
        priority := 'normal';
    END IF;

    IF location IS NOT NULL AND (lon IS NOT NULL OR lat IS NOT NULL) THEN
        PERFORM workorder.raise_error('WO304',
            'the report gives its location twice',
            pg_catalog.format('location is %s and lon/lat are %s/%s.', pg_catalog.left(ST_AsText(location), 60), lon, lat),
            'Pass either a point geometry or lon and lat, not both.');
    END IF;
    IF location IS NULL AND (lon IS NOT NULL OR lat IS NOT NULL) THEN
        IF lon IS NULL OR lat IS NULL THEN
            PERFORM workorder.raise_error('WO101',
                'the report''s location is incomplete',
                pg_catalog.format('lon is %s and lat is %s.', COALESCE(lon::text, 'NULL'), COALESCE(lat::text, 'NULL')),
                'Pass both lon and lat, in WGS84 degrees.');
        END IF;
        location := ST_SetSRID(ST_MakePoint(lon, lat), 4326);
    END IF;
    point := workorder.location_point(location, 'the report''s location');
    place := workorder.locate_point(point);
    category_code := workorder.map_category(channel, category);

    IF category_code IS NULL THEN
        reason := pg_catalog.format('unknown category %s of channel %s: a dispatcher must classify it',
                                    COALESCE(category, '(none)'), channel);
    ELSIF NOT place.in_jurisdiction THEN
        SELECT u.code INTO route_unit FROM workorder.units u
         WHERE u.code OPERATOR(pg_catalog.=) workorder.setting('fallback_unit', NULL) AND u.active;
        route_rule_name := 'fallback unit';
        reason := pg_catalog.format('out of jurisdiction (%s)',
                                    COALESCE(place.area_name OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) place.area_code, 'in no known area'));
        IF route_unit IS NOT NULL THEN
            status := 'dispatched';
        ELSE
            reason := reason OPERATOR(pg_catalog.||) ', and no fallback_unit is configured';
        END IF;
    ELSE
        SELECT s.* INTO route FROM workorder.route_steps(category_code, channel, place.chain, priority, description) s
         WHERE s.chosen;
        IF FOUND THEN
            status := 'dispatched';
            route_unit := route.unit_code;
            route_rule_id := route.rule_id;
            route_rule_name := route.rule_name;
            route_level := route.handling_level;
            route_assisting := route.assisting_units;
            route_sla := route.sla_policy;
        ELSE
            reason := 'no routing rule or category default resolved to a unit: a dispatcher must dispatch it';
        END IF;
    END IF;

    -- An order dispatched at intake gets its SLA policy and deadlines (part 85).
    -- (An assignment, not SELECT ... FROM: plpgsql evaluates it without starting
    -- an executor.)
    IF status OPERATOR(pg_catalog.=) 'dispatched' THEN
        deadlines := workorder.sla_intake(route_rule_id, priority, category_code, received);
        route_sla := deadlines.policy;
        sla_accept := deadlines.accept_due_at;
        sla_resolve := deadlines.resolve_due_at;
        sla_warn := deadlines.warn_at;
    END IF;

    -- The order and the events of its intake (the report arrives; it is dispatched
    -- if it was routed) in one statement.
    WITH made AS (
        INSERT INTO workorder.orders AS x
            (ticket, channel_code, channel_ref, channel_category, category_code, priority, description, address,
             location, area_code, area_chain, location_match, in_jurisdiction, reporter_name, reporter_phone,
             occurred_at, received_at, attributes, status, status_reason, handling_level, dispatching_unit,
             main_unit, assisting_units, route_rule_id, sla_policy, accept_due_at, resolve_due_at, warn_at,
             event_count, updated_at)
        VALUES (workorder.next_ticket((received AT TIME ZONE 'Asia/Shanghai')::date), channel, channel_ref, category,
                category_code, priority, description, address, point, place.area_code, COALESCE(place.chain, '{}'),
                place.match, place.in_jurisdiction, reporter_name, reporter_phone, occurred_at, received,
                COALESCE(attributes, '{}'), status, reason, route_level, workorder.dispatch_center(),
                route_unit, COALESCE(route_assisting, '{}'), route_rule_id, route_sla,
                sla_accept, sla_resolve, sla_warn,
                CASE WHEN status OPERATOR(pg_catalog.=) 'new' THEN 1 ELSE 2 END, received)
        ON CONFLICT ON CONSTRAINT orders_channel_ref_unique DO NOTHING
        RETURNING *
    ), logged AS (
        INSERT INTO workorder.order_events
            (order_id, seq, at, action, actor, old_status, new_status, unit_code, note, details)
        SELECT made.id, e.seq, received, e.action, e.actor, e.old_status, e.new_status, e.unit_code, e.note, e.details
          FROM made,
               (VALUES (1, 'submit', channel, NULL::workorder.order_status, 'new'::workorder.order_status, NULL::text,
                        CASE WHEN status OPERATOR(pg_catalog.=) 'new' THEN reason END,
                        pg_catalog.jsonb_build_object('channel_category', category, 'category', category_code,
                                                      'area', place.area_code, 'location_match', place.match)),
                       (2, 'dispatch', 'system', 'new', 'dispatched', route_unit, reason,
                        pg_catalog.jsonb_build_object('rule_id', route_rule_id, 'rule', route_rule_name,
                                                      'handling_level', route_level))) AS
               e(seq, action, actor, old_status, new_status, unit_code, note, details)
         WHERE e.seq OPERATOR(pg_catalog.<=) made.event_count
    )
    SELECT * INTO o FROM made;
    IF NOT FOUND THEN
        -- A concurrent retry of the same report committed first: return its order.
        SELECT * INTO STRICT o FROM workorder.orders x
         WHERE x.channel_code OPERATOR(pg_catalog.=) submit.channel
           AND x.channel_ref OPERATOR(pg_catalog.=) submit.channel_ref;
    END IF;
    RETURN o;
END
$$;

-- outbox_from_events makes the messages of the events one statement inserted.  It
-- is a statement trigger with a transition table: submit() writes the events of an
-- intake (submit, dispatch) in one statement, which then costs one call of this
-- function, not one per event.  The orders it reads are as the statement left them.
-- It is C (src/outbox.c): events that make no message cost no query, a message
-- to the event's own order is one lookup of the order and one INSERT ... VALUES
-- (none when its channel does not reply), and only resolve, close, reopen and
-- cancel, whose messages also go to the reports merged into the order, run the
-- join over the order's merged reports.
CREATE OR REPLACE FUNCTION workorder.outbox_from_events()
RETURNS trigger
AS 'MODULE_PATHNAME', 'outbox_from_events'
LANGUAGE C;

-- sla_intake returns the policy and deadlines of an order dispatched at intake:
-- choose_sla_policy(), then, when the policy exists, accept_due_at and
-- resolve_due_at are deadline_after(received, ...) on its clocks and warn_at is
-- sla_warn_at(received, resolve_due_at, ...).  C (src/deadlines.c), with the same
-- arithmetic as those plpgsql functions: it runs on every intake.
CREATE OR REPLACE FUNCTION workorder.sla_intake(rule_id bigint, priority workorder.order_priority, category text,
                                     received timestamptz,
                                     OUT policy text, OUT accept_due_at timestamptz,
                                     OUT resolve_due_at timestamptz, OUT warn_at timestamptz)
AS 'MODULE_PATHNAME', 'deadlines_sla_intake'
LANGUAGE C STABLE;

-- orders_sla_next_check keeps next_check_at (= sla_next_check(NEW)), and wakes the
-- worker (at commit) when a new value falls within the worker's naptime, so that
-- no deadline waits for a long sleep.  C (src/deadlines.c): it runs on every write
-- of an order.
CREATE OR REPLACE FUNCTION workorder.orders_sla_next_check()
RETURNS trigger
AS 'MODULE_PATHNAME', 'deadlines_orders_sla_next_check'
LANGUAGE C;

-- orders_escalation_next keeps next_escalation_at (= escalation_next(NEW)), starts
-- a new chain on reopen (from resolved or closed to an open status: the order's
-- order_escalations rows go, escalation_step 0, escalated_to NULL) and wakes the
-- worker when the next step is within the worker's naptime.  C (src/deadlines.c):
-- it runs on every write of an order.
CREATE OR REPLACE FUNCTION workorder.orders_escalation_next()
RETURNS trigger
AS 'MODULE_PATHNAME', 'deadlines_orders_escalation_next'
LANGUAGE C;
