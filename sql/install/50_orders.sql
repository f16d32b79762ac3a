-- workorder install script, part 50: the order, its event log, and the rules of
-- its lifecycle.
--
-- An order is the standardized work order that one report becomes.  It changes
-- only through the extension's functions (submit and the action functions), each
-- of which appends one row to the event log.  A direct UPDATE or DELETE by any role
-- other than the tables' owner is refused, even if someone grants the privilege.

CREATE TYPE workorder.order_status AS ENUM
    ('new', 'dispatched', 'accepted', 'suspended', 'resolved', 'closed', 'merged', 'cancelled');
CREATE TYPE workorder.order_priority AS ENUM ('low', 'normal', 'high', 'urgent');

CREATE TABLE workorder.orders (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket              workorder.ticket NOT NULL UNIQUE,
    -- Where it came from: the channel and the channel's own reference, which
    -- together make a submission idempotent.
    channel_code        text NOT NULL REFERENCES workorder.channels (code) ON UPDATE CASCADE,
    channel_ref         text NOT NULL,
    channel_category    text,
    category_code       text REFERENCES workorder.categories (code) ON UPDATE CASCADE,
    priority            workorder.order_priority NOT NULL DEFAULT 'normal',
    description         text NOT NULL,
    address             text,
    location            geometry(Point, 4326) NOT NULL,
    -- Where it is: the answer of locate() at intake.
    area_code           text REFERENCES workorder.areas (code) ON UPDATE CASCADE,
    area_chain          text[] NOT NULL DEFAULT '{}',
    location_match      text NOT NULL,
    in_jurisdiction     boolean NOT NULL,
    -- Who reported it (personal data: masked in analysts' views).
    reporter_name       text,
    reporter_phone      text,
    occurred_at         timestamptz,
    received_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    attributes          jsonb NOT NULL DEFAULT '{}',
    -- Where it is in its lifecycle.
    status              workorder.order_status NOT NULL DEFAULT 'new',
    status_reason       text,
    handling_level      workorder.area_level,
    dispatching_unit    text REFERENCES workorder.units (code) ON UPDATE CASCADE,
    main_unit           text REFERENCES workorder.units (code) ON UPDATE CASCADE,
    assisting_units     text[] NOT NULL DEFAULT '{}',
    route_rule_id       bigint,
    sla_policy          text,
    accept_due_at       timestamptz,
    resolve_due_at      timestamptz,
    master_id           bigint REFERENCES workorder.orders (id),
    report_count        integer NOT NULL DEFAULT 1,
    return_count        integer NOT NULL DEFAULT 0,
    redo_count          integer NOT NULL DEFAULT 0,
    supervised          boolean NOT NULL DEFAULT false,
    pending_extension   interval,
    result              text,
    satisfaction        text,
    event_count         integer NOT NULL DEFAULT 0,
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- When it last went from open (new, dispatched, accepted, suspended) to
    -- resolved, closed, merged or cancelled; NULL while open.  Kept by the trigger
    -- orders_settled_at below.
    settled_at          timestamptz,
    CONSTRAINT orders_channel_ref_unique UNIQUE (channel_code, channel_ref),
    CONSTRAINT orders_master_not_self CHECK (master_id OPERATOR(pg_catalog.<>) id),
    CONSTRAINT orders_merged_has_master CHECK ((status OPERATOR(pg_catalog.=) 'merged') OPERATOR(pg_catalog.=) (master_id IS NOT NULL)),
    CONSTRAINT orders_location_match CHECK (location_match IN ('contained', 'nearest', 'outside'))
);
CREATE INDEX orders_status_idx ON workorder.orders (status);
CREATE INDEX orders_main_unit_idx ON workorder.orders (main_unit, status);
CREATE INDEX orders_area_idx ON workorder.orders (area_code);
CREATE INDEX orders_category_received_idx ON workorder.orders (category_code, received_at);
CREATE INDEX orders_master_idx ON workorder.orders (master_id) WHERE master_id IS NOT NULL;
-- Where and while: a GiST index on (location, received_at, the end of the order's
-- span: settled_at, 'infinity' while it is open; the times by btree_gist).  It
-- serves queries by place, and dedup's candidate search (src/dedup.c), which bounds
-- all three in one scan: the orders near a new report, received from
-- dedup_open_window before it to its window after it, that are still open or were
-- settled within the category's closed_window, whatever the years of history at
-- that place (the times are checked in the index, before any row is read).  Its
-- pages are split by location, as a location-only index's would be.
CREATE INDEX orders_location_idx ON workorder.orders
    USING gist (location, received_at, (COALESCE(settled_at, 'infinity'::timestamptz)));
SELECT pg_catalog.pg_extension_config_dump('workorder.orders', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.orders_id_seq', '');
COMMENT ON TABLE workorder.orders IS
    'Work orders. Written only by workorder.submit() and the action functions; every change is in workorder.order_events.';

-- order_events is the append-only log of every action on every order.  seq numbers
-- the events of one order from 1.
CREATE TABLE workorder.order_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     bigint NOT NULL REFERENCES workorder.orders (id),
    seq          integer NOT NULL,
    at           timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    action       text NOT NULL,
    actor        text NOT NULL,
    db_user      text NOT NULL DEFAULT SESSION_USER,
    old_status   workorder.order_status,
    new_status   workorder.order_status NOT NULL,
    unit_code    text,
    old_unit     text,
    note         text,
    details      jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT order_events_seq_unique UNIQUE (order_id, seq)
);
CREATE INDEX order_events_at_idx ON workorder.order_events (at);
SELECT pg_catalog.pg_extension_config_dump('workorder.order_events', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.order_events_id_seq', '');
COMMENT ON TABLE workorder.order_events IS
    'Append-only log: one row per action on an order (who, when, what changed, why).';

-- refuse_direct_change stops any change to orders or events that does not come
-- through the extension's functions.  Those run as the tables' owner (SECURITY
-- DEFINER); anyone else is refused, whatever privileges they were granted.  The
-- event log is append-only even for the owner.  WO405.  C (src/eventlog.c): it
-- fires on every action's UPDATE of an order.
CREATE FUNCTION workorder.refuse_direct_change()
RETURNS trigger
AS 'MODULE_PATHNAME', 'eventlog_refuse_direct_change'
LANGUAGE C;

-- orders_settled_at keeps settled_at: set when an action settles the order (its
-- transaction's time), kept from resolved to closed, cleared when the order is open
-- again.  An order inserted settled keeps the settled_at it is given, else its
-- received_at.  C (src/settled.c).  Not ALWAYS: a subscriber of logical
-- replication keeps the publisher's value.
CREATE FUNCTION workorder.orders_settled_at()
RETURNS trigger
AS 'MODULE_PATHNAME', 'workorder_orders_settled_at'
LANGUAGE C;

CREATE TRIGGER orders_settled_at
    BEFORE INSERT OR UPDATE OF status ON workorder.orders
    FOR EACH ROW EXECUTE FUNCTION workorder.orders_settled_at();

CREATE TRIGGER orders_refuse_direct_change
    BEFORE UPDATE OR DELETE ON workorder.orders
    FOR EACH ROW EXECUTE FUNCTION workorder.refuse_direct_change();
CREATE TRIGGER order_events_refuse_change
    BEFORE UPDATE OR DELETE ON workorder.order_events
    FOR EACH ROW EXECUTE FUNCTION workorder.refuse_direct_change();
CREATE TRIGGER order_events_refuse_truncate
    BEFORE TRUNCATE ON workorder.order_events
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.refuse_direct_change();

-- ALWAYS: the triggers fire under session_replication_role = replica too, which a
-- superuser could otherwise set to slip past them.
ALTER TABLE workorder.orders ENABLE ALWAYS TRIGGER orders_refuse_direct_change;
ALTER TABLE workorder.order_events ENABLE ALWAYS TRIGGER order_events_refuse_change;
ALTER TABLE workorder.order_events ENABLE ALWAYS TRIGGER order_events_refuse_truncate;

REVOKE ALL ON workorder.orders, workorder.order_events FROM PUBLIC;

-- orders_follow_area_code keeps an order's area_chain in step with an area given a
-- new code (a GB/T 2260 code re-issued), as ON UPDATE CASCADE keeps its area_code:
-- the chain is what the area's dispatchers see the order by (part 96) and what the
-- BI views name its town and village from.  It kept the old code, and a re-coded
-- village's own dispatchers saw none of its orders.  (The event log keeps the code
-- the order was filed under: it is never rewritten.)  SECURITY DEFINER: orders
-- change only as their owner (refuse_direct_change), whoever re-codes the area.
CREATE FUNCTION workorder.orders_follow_area_code()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
    UPDATE workorder.orders x
       SET area_chain = pg_catalog.array_replace(x.area_chain, OLD.code, NEW.code)
     WHERE x.area_chain OPERATOR(pg_catalog.@>) ARRAY[OLD.code];
    RETURN NULL;
END
$$;
CREATE TRIGGER areas_orders_follow_code
    AFTER UPDATE OF code ON workorder.areas
    FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION workorder.orders_follow_area_code();

-- order_actions is the lifecycle: for each action, the statuses it may be taken in
-- and the status it leaves the order in (NULL: unchanged).
CREATE TABLE workorder.order_actions (
    action      text NOT NULL,
    from_status workorder.order_status NOT NULL,
    to_status   workorder.order_status,
    PRIMARY KEY (action, from_status)
);
INSERT INTO workorder.order_actions (action, from_status, to_status) VALUES
    ('dispatch', 'new', 'dispatched'),
    ('accept', 'dispatched', 'accepted'),
    ('return', 'dispatched', 'new'),
    ('return', 'accepted', 'new'),
    ('reassign', 'dispatched', 'dispatched'),
    ('reassign', 'accepted', 'dispatched'),
    ('suspend', 'accepted', 'suspended'),
    ('resume', 'suspended', 'accepted'),
    ('request_extension', 'accepted', NULL),
    ('request_extension', 'suspended', NULL),
    ('approve_extension', 'accepted', NULL),
    ('approve_extension', 'suspended', NULL),
    ('reject_extension', 'accepted', NULL),
    ('reject_extension', 'suspended', NULL),
    ('resolve', 'accepted', 'resolved'),
    ('verify', 'resolved', NULL),
    ('callback', 'resolved', NULL),
    ('callback', 'closed', NULL),
    ('close', 'resolved', 'closed'),
    ('reopen', 'resolved', 'dispatched'),
    ('reopen', 'closed', 'dispatched'),
    ('merge', 'new', 'merged'),
    ('merge', 'dispatched', 'merged'),
    ('merge', 'accepted', 'merged'),
    ('merge', 'suspended', 'merged'),
    ('unmerge', 'merged', 'new'),
    ('cancel', 'new', 'cancelled'),
    ('cancel', 'dispatched', 'cancelled'),
    ('supervise', 'new', NULL),
    ('supervise', 'dispatched', NULL),
    ('supervise', 'accepted', NULL),
    ('supervise', 'suspended', NULL),
    ('supervise', 'resolved', NULL);
INSERT INTO workorder.order_actions (action, from_status, to_status)
SELECT 'comment', s, NULL FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::workorder.order_status)) AS s;
COMMENT ON TABLE workorder.order_actions IS
    'The lifecycle: which action may be taken in which status, and the status it leads to (NULL: unchanged).';

-- allowed_actions lists the actions an order in a status may take, in name order.
CREATE FUNCTION workorder.allowed_actions(status workorder.order_status)
RETURNS text[]
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN ARRAY(SELECT a.action FROM workorder.order_actions a
                  WHERE a.from_status OPERATOR(pg_catalog.=) status ORDER BY a.action);
END
$$;

-- order_for_action locks an order for an action and returns it, or raises WO402
-- when there is no such order, WO951 when the calling role may not take the action
-- on it (check_order_access, part 96), and WO401 when its status does not allow
-- the action.  The message names the order by ticket and id, its status, and what
-- is allowed.  Every action goes through here, so every action is checked.
--
-- The lock is FOR NO KEY UPDATE, as every lock the actions and tasks take on orders:
-- an action changes no key of the order, and FOR UPDATE also waits for the
-- foreign-key checks' FOR KEY SHARE.  Those come from other orders' writes (an
-- event or a message of a merged report checks its master; the master's result
-- makes messages for its reports, each checking its report), so an action on a
-- master and one on its merged report, each holding its own row, deadlocked.
CREATE FUNCTION workorder.order_for_action(order_id bigint, action text)
RETURNS workorder.orders
LANGUAGE plpgsql
AS $$
DECLARE
    o workorder.orders;
BEGIN
    SELECT * INTO o FROM workorder.orders WHERE id OPERATOR(pg_catalog.=) order_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO402',
            pg_catalog.format('order %s does not exist', COALESCE(order_id::text, 'NULL')),
            pg_catalog.format('The action was %s.', action),
            'Check the order id; find an order by its ticket with SELECT id FROM workorder.orders WHERE ticket = ''...''.');
    END IF;
    PERFORM workorder.check_order_access(o, action);
    IF NOT EXISTS (SELECT 1 FROM workorder.order_actions a
                    WHERE a.action OPERATOR(pg_catalog.=) order_for_action.action
                      AND a.from_status OPERATOR(pg_catalog.=) o.status) THEN
        PERFORM workorder.raise_error('WO401',
            pg_catalog.format('order %s (id %s) is %s: %s is not allowed', o.ticket, o.id, o.status, action),
            pg_catalog.format('Actions allowed while %s: %s.', o.status,
                              pg_catalog.array_to_string(workorder.allowed_actions(o.status), ', ')),
            'Take one of the allowed actions, or check that the order is the one you meant.');
    END IF;
    RETURN o;
END
$$;

-- log_event appends the event of an action to the log.  o is the order as the
-- action left it; the event is numbered by the order's event_count, which it bumps.
CREATE FUNCTION workorder.log_event(o workorder.orders, action text, actor text,
                                    old_status workorder.order_status, note text,
                                    details jsonb DEFAULT '{}', old_unit text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    next_seq integer;
BEGIN
    UPDATE workorder.orders SET event_count = event_count OPERATOR(pg_catalog.+) 1
     WHERE id OPERATOR(pg_catalog.=) o.id
    RETURNING event_count INTO next_seq;
    INSERT INTO workorder.order_events
        (order_id, seq, action, actor, old_status, new_status, unit_code, old_unit, note, details)
    VALUES (o.id, next_seq, action, actor, old_status, o.status,
            o.main_unit, old_unit, note, COALESCE(details, '{}'));
END
$$;

-- check_actor returns the actor of an action, or raises WO404 when there is none:
-- every event must say who acted.  'system' names what the center's own machinery
-- does (intake, the worker's tasks, a reopen dedup decided), and explain_route and
-- the reports read it so: a caller who is not the system may not pass it (a handler
-- signed for an order as the system).
CREATE FUNCTION workorder.check_actor(actor text)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    trimmed text;
    control_at integer;
BEGIN
    -- The same blanks as action texts: spaces, tabs, line breaks, no-break and
    -- ideographic (U+3000) spaces.
    trimmed := workorder.trim_blanks(actor);
    IF trimmed IS NULL OR trimmed OPERATOR(pg_catalog.=) '' THEN
        PERFORM workorder.raise_error('WO404',
            'an action needs an actor',
            pg_catalog.format('The actor is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(actor, 50)), 'NULL')),
            'Pass the acting unit''s code or the user''s name, 1 to 200 characters.');
    END IF;
    -- (An actor too long was reported as missing.)
    IF pg_catalog.length(trimmed) OPERATOR(pg_catalog.>) 200 THEN
        PERFORM workorder.raise_error('WO404',
            'the actor is longer than 200 characters',
            pg_catalog.format('The actor has %s characters: %s...', pg_catalog.length(trimmed),
                              pg_catalog.quote_literal(pg_catalog.left(pg_catalog.regexp_replace(trimmed, '[[:cntrl:]]', '?', 'g'), 50))),
            'Pass the acting unit''s code or the user''s name, 1 to 200 characters.');
    END IF;
    -- As in the action's texts (action_text, part 65): the actor is logged and goes
    -- out in messages, to channels that cannot carry control characters; a name has
    -- no line break or tab either (they were let through, as in a note).
    control_at := NULLIF(pg_catalog.regexp_instr(trimmed, '[[:cntrl:]]'), 0);
    IF control_at IS NOT NULL THEN
        PERFORM workorder.raise_error('WO404',
            'the actor has a control character',
            pg_catalog.format('Character %s of the actor %s is U+%s.', control_at,
                              pg_catalog.quote_literal(pg_catalog.left(pg_catalog.regexp_replace(trimmed, '[[:cntrl:]]', '?', 'g'), 50)),
                              pg_catalog.upper(pg_catalog.lpad(pg_catalog.to_hex(pg_catalog.ascii(
                                  pg_catalog.substr(trimmed, control_at, 1))), 4, '0'))),
            'Pass the acting unit''s code or the user''s name without control characters.');
    END IF;
    -- The system is the extension's owner: calling_role() (part 96) answers it
    -- while intake acts as the system, and for the owner's own sessions.
    IF pg_catalog.lower(trimmed) OPERATOR(pg_catalog.=) 'system'
       AND workorder.calling_role() OPERATOR(pg_catalog.<>)
           (SELECT r.rolname FROM pg_catalog.pg_extension x JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) x.extowner
             WHERE x.extname OPERATOR(pg_catalog.=) 'workorder') THEN
        PERFORM workorder.raise_error('WO404',
            'the actor system is reserved',
            pg_catalog.format('The actor is %s, and the caller is %s.', pg_catalog.quote_literal(trimmed), workorder.calling_role()),
            'Pass the acting unit''s code or the user''s name; system names what the center''s own machinery does.');
    END IF;
    RETURN trimmed;
END
$$;
