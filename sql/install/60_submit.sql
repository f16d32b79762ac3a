-- workorder install script, part 60: intake.
--
-- submit() is the one entry.  Every channel calls it (or fills the inbox, which
-- calls it): the report becomes one standardized order, located, mapped onto the
-- catalogue, routed and logged.  Submitting the same (channel, channel_ref) again
-- returns the order already made, and never makes a second one.

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
-- when it is required and missing, or longer than its limit.  C (src/intake.c):
-- submit() calls it five times.
CREATE FUNCTION workorder.check_text(value text, what text, max_length integer, required boolean)
RETURNS text
AS 'MODULE_PATHNAME', 'intake_check_text'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- submit takes one report and returns its order.  See README.md for the rules.
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
    dup workorder.dedup_decision;
    deadlines record;
BEGIN
    PERFORM workorder.check_channel_access(channel, 'submit');   -- an intake login: its own channel only (part 96)
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
    -- Dedup (part 62): a duplicate is merged after the INSERT, a suspected one
    -- waits for review; neither is routed.
    dup := workorder.dedup_decide(category_code, point, received, description, address, reporter_phone);

    IF category_code IS NULL THEN
        reason := pg_catalog.format('unknown category %s of channel %s: a dispatcher must classify it',
                                    COALESCE(category, '(none)'), channel);
    ELSIF dup.holds THEN
        reason := dup.reason;
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
        RETURN o;
    END IF;
    RETURN workorder.dedup_apply(o, dup);
END
$$;

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
BEGIN
    SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) order_id;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO402',
            pg_catalog.format('order %s does not exist', COALESCE(order_id::text, 'NULL')),
            'explain_route needs an existing order.', 'Check the order id.');
    END IF;
    PERFORM workorder.check_order_access(o, NULL);   -- only an order the caller may read (part 96)
    IF o.category_code IS NULL THEN
        RETURN QUERY SELECT 0, NULL::bigint, 'intake'::text, false, false,
            pg_catalog.format('category %s of channel %s is not mapped onto the catalogue: no rule is considered',
                              COALESCE(o.channel_category, '(none)'), o.channel_code),
            NULL::workorder.area_level, NULL::text;
        RETURN;
    END IF;
    IF NOT o.in_jurisdiction THEN
        RETURN QUERY SELECT 0, NULL::bigint, 'intake'::text, true, o.main_unit IS NOT NULL,
            pg_catalog.format('out of jurisdiction (%s): sent to the fallback unit, no rule is considered',
                              COALESCE(o.area_code, 'in no known area')),
            NULL::workorder.area_level, o.main_unit;
        RETURN;
    END IF;
    RETURN QUERY SELECT s.step, s.rule_id, s.rule_name, s.matched, s.chosen, s.reason, s.handling_level, s.unit_code
                   FROM workorder.route_steps(o.category_code, o.channel_code, o.area_chain, o.priority, o.description) s;
END
$$;
