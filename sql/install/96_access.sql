-- workorder install script, part 96: who may see and do what.
--
-- The extension creates six NOLOGIN group roles, cluster-wide, if they do not
-- exist yet (a second database finds them there; DROP EXTENSION leaves them):
--   workorder_admin       everything: reference data, every order, every action
--   workorder_dispatcher  a command center: the orders of its center's area; every action on them
--   workorder_handler     a handling unit: the orders where its unit or a unit below it is the
--                         main or an assisting unit; the handler's actions on them
--   workorder_supervisor  a leader: what its unit's handlers and dispatchers see (the area
--                         of its unit only when that is a center); supervise, comment,
--                         approve or reject extensions
--   workorder_analyst     the masked views (workorder.bi_*) only
--   workorder_intake      a channel connector: submit and the outbox of its own channel only
-- The installer makes login roles members of these groups and maps each login to
-- its unit or channel in workorder.logins.  A superuser is not restricted.
--
-- Reading is enforced by row-level security on orders, order_events and outbox;
-- acting by one check, check_order_access(), which order_for_action() (the gate of
-- every action) calls, and by check_channel_access() at the top of submit(), in the
-- outbox API and on inbox inserts.  The privileges themselves are granted in part 98.

DO $roles$
DECLARE
    group_role text;
BEGIN
    FOREACH group_role IN ARRAY ARRAY['workorder_admin', 'workorder_dispatcher', 'workorder_handler',
                                      'workorder_supervisor', 'workorder_analyst', 'workorder_intake'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) group_role) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', group_role);
        END IF;
    END LOOP;
END
$roles$;

-- calling_role is the role on whose behalf the current statement runs: the session
-- user, or the role it took with SET ROLE, whatever SECURITY DEFINER functions it
-- has passed through (src/access.c).
CREATE FUNCTION workorder.calling_role()
RETURNS name
AS 'MODULE_PATHNAME', 'workorder_calling_role'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

-- The event log records the role whose rights an action was checked against: under
-- SET ROLE (a pool's login taking a handler's role) the session user is the pool's
-- login, or a superuser's, and the role that passed the check was recorded nowhere.
ALTER TABLE workorder.order_events ALTER COLUMN db_user SET DEFAULT workorder.calling_role();
COMMENT ON COLUMN workorder.order_events.db_user IS
    'The database role that took the action: workorder.calling_role(), the role taken with SET ROLE or else the session user.';

-- logins maps each database login to what it works for: a unit (handlers,
-- dispatchers, supervisors) or a channel (intake connectors).  A configuration
-- table: its rows survive pg_dump.  Written through map_login().
--
-- A mapping is bound to the role it was made for: role_oid, set from the name as
-- the row is written (logins_bind_role; a restore binds each row to the role of
-- that name in the cluster it is restored into), and a mapping counts only while
-- its name is still that role's.  Keyed by the name alone, a role dropped and
-- created again under the same name (the next person at a desk), or created under
-- a renamed role's old name, silently took over the old mapping: its unit's every
-- order, reporters' names and phones included.  check_logins() names such rows.
CREATE TABLE workorder.logins (
    role_name    name PRIMARY KEY,
    unit_code    text REFERENCES workorder.units (code) ON UPDATE CASCADE,
    channel_code text REFERENCES workorder.channels (code) ON UPDATE CASCADE,
    note         text,
    mapped_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    role_oid     oid,
    CONSTRAINT logins_maps_something CHECK (unit_code IS NOT NULL OR channel_code IS NOT NULL)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.logins', '');
COMMENT ON TABLE workorder.logins IS
    'Which unit (handlers, dispatchers, supervisors) or channel (intake connectors) each database login works for. Write with workorder.map_login().';
COMMENT ON COLUMN workorder.logins.role_oid IS
    'The role the mapping was made for (set from role_name as the row is written): the mapping counts only while role_name is still that role''s.';

-- logins_bind_role binds a mapping written (or renamed) to the role that has its
-- name now; NULL, which matches no role, when none has.
CREATE FUNCTION workorder.logins_bind_role()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.role_oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) NEW.role_name);
    RETURN NEW;
END
$$;
CREATE TRIGGER logins_bind_role
    BEFORE INSERT OR UPDATE OF role_name ON workorder.logins
    FOR EACH ROW EXECUTE FUNCTION workorder.logins_bind_role();

-- logins_in_force are the mappings that count: those whose name is still the role's
-- they were made for.  Every lookup of a caller's mapping reads it (the functions
-- below, and src/access.c).
CREATE VIEW workorder.logins_in_force AS
SELECT l.*
  FROM workorder.logins l
  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) l.role_oid AND r.rolname OPERATOR(pg_catalog.=) l.role_name;
COMMENT ON VIEW workorder.logins_in_force IS
    'The rows of workorder.logins that count: those whose role_name is still the name of the role they were made for (role_oid).';

-- role_actions says which actions each group role may take on the orders it sees;
-- '*' is every action, including actions added later.  Admins and superusers take
-- every action on every order.
CREATE TABLE workorder.role_actions (
    group_role name NOT NULL,
    action     text NOT NULL,
    PRIMARY KEY (group_role, action)
);
INSERT INTO workorder.role_actions (group_role, action) VALUES
    ('workorder_dispatcher', '*'),
    ('workorder_handler', 'accept'),
    ('workorder_handler', 'return'),
    ('workorder_handler', 'suspend'),
    ('workorder_handler', 'resume'),
    ('workorder_handler', 'request_extension'),
    ('workorder_handler', 'resolve'),
    ('workorder_handler', 'comment'),
    ('workorder_supervisor', 'supervise'),
    ('workorder_supervisor', 'comment'),
    ('workorder_supervisor', 'approve_extension'),
    ('workorder_supervisor', 'reject_extension'),
    -- a connector records the citizen's verdict (回访) on its channel's orders
    ('workorder_intake', 'callback');
COMMENT ON TABLE workorder.role_actions IS
    'The actions each workorder group role may take on the orders it sees (''*'': all).';

-- map_login maps a login to its unit or its channel (replacing an earlier mapping)
-- and returns the row.  WO954: an unknown role, unit or channel, an inactive unit,
-- or neither a unit nor a channel.
CREATE FUNCTION workorder.map_login(role_name name, unit_code text DEFAULT NULL,
                                    channel_code text DEFAULT NULL, note text DEFAULT NULL)
RETURNS workorder.logins
LANGUAGE plpgsql
AS $$
DECLARE
    mapped workorder.logins;
BEGIN
    IF role_name IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                                         WHERE r.rolname OPERATOR(pg_catalog.=) map_login.role_name) THEN
        PERFORM workorder.raise_error('WO954',
            pg_catalog.format('cannot map login %s: there is no such role', COALESCE(pg_catalog.quote_ident(role_name), 'NULL')),
            pg_catalog.format('role_name is %s.', COALESCE(pg_catalog.quote_literal(role_name), 'NULL')),
            'Create the login first (CREATE ROLE ... LOGIN), then grant it a workorder group role and map it.');
    END IF;
    IF unit_code IS NULL AND channel_code IS NULL THEN
        PERFORM workorder.raise_error('WO954',
            pg_catalog.format('cannot map login %s to nothing', role_name),
            'Both unit_code and channel_code are NULL.',
            'Pass the unit the login works for (handlers, dispatchers, supervisors) or its channel (intake connectors).');
    END IF;
    IF unit_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM workorder.units u
                                              WHERE u.code OPERATOR(pg_catalog.=) map_login.unit_code AND u.active) THEN
        PERFORM workorder.raise_error('WO954',
            pg_catalog.format('cannot map login %s to unit %s: no active unit has this code', role_name, unit_code),
            pg_catalog.format('unit_code is %s.', pg_catalog.quote_literal(unit_code)),
            'Pass the code of an active unit in workorder.units.');
    END IF;
    IF channel_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM workorder.channels c
                                                 WHERE c.code OPERATOR(pg_catalog.=) map_login.channel_code) THEN
        PERFORM workorder.raise_error('WO954',
            pg_catalog.format('cannot map login %s to channel %s: there is no such channel', role_name, channel_code),
            pg_catalog.format('channel_code is %s.', pg_catalog.quote_literal(channel_code)),
            'Pass the code of a channel in workorder.channels.');
    END IF;
    INSERT INTO workorder.logins AS l (role_name, unit_code, channel_code, note)
    VALUES (map_login.role_name, map_login.unit_code, map_login.channel_code, map_login.note)
    ON CONFLICT ON CONSTRAINT logins_pkey DO UPDATE
       SET unit_code = EXCLUDED.unit_code, channel_code = EXCLUDED.channel_code,
           note = EXCLUDED.note, mapped_at = pg_catalog.now(),
           -- mapping a login again binds it to the role of that name now
           role_oid = EXCLUDED.role_oid
    RETURNING l.* INTO mapped;
    RETURN mapped;
END
$$;

-- check_logins lists what is wrong with the logins of the workorder group roles
-- (those with a group's privileges, also through another role): a
-- handler, dispatcher or supervisor without a unit, a dispatcher whose unit is not
-- a center, an intake login without a channel, a mapping whose role is gone, and
-- one whose name now belongs to another role (dropped and created again, or
-- renamed and its name taken), which does not count.
CREATE FUNCTION workorder.check_logins()
RETURNS TABLE (role_name name, problem text)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    -- A login that has a group's privileges, directly or through other roles, as
    -- caller() counts it (pg_has_role USAGE): a member through a squad's group role
    -- was missed, and the NOLOGIN group in between was named instead, whose
    -- mapping does not reach the login (its own name is looked up).  Superusers,
    -- who have every role's privileges, are not the groups' members.
    RETURN QUERY
    SELECT r.rolname, pg_catalog.format('member of %s but mapped to no unit', g.rolname)::text
      FROM pg_catalog.pg_roles r
      JOIN pg_catalog.pg_roles g ON g.rolname IN ('workorder_dispatcher', 'workorder_handler', 'workorder_supervisor')
      LEFT JOIN workorder.logins_in_force l ON l.role_name OPERATOR(pg_catalog.=) r.rolname
     WHERE r.rolcanlogin AND NOT r.rolsuper AND r.oid OPERATOR(pg_catalog.<>) g.oid
       AND pg_catalog.pg_has_role(r.oid, g.oid, 'USAGE')
       AND l.unit_code IS NULL
    UNION ALL
    SELECT r.rolname, 'member of workorder_intake but mapped to no channel'::text
      FROM pg_catalog.pg_roles r
      JOIN pg_catalog.pg_roles g ON g.rolname OPERATOR(pg_catalog.=) 'workorder_intake'
      LEFT JOIN workorder.logins_in_force l ON l.role_name OPERATOR(pg_catalog.=) r.rolname
     WHERE r.rolcanlogin AND NOT r.rolsuper AND r.oid OPERATOR(pg_catalog.<>) g.oid
       AND pg_catalog.pg_has_role(r.oid, g.oid, 'USAGE')
       AND l.channel_code IS NULL
    UNION ALL
    SELECT l.role_name, pg_catalog.format('a dispatcher mapped to %s, which is a %s, not a center', u.code, u.kind)::text
      FROM workorder.logins l
      JOIN pg_catalog.pg_roles r ON r.rolname OPERATOR(pg_catalog.=) l.role_name
      JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) l.unit_code
     WHERE u.kind OPERATOR(pg_catalog.<>) 'center'
       AND pg_catalog.pg_has_role(r.oid, 'workorder_dispatcher', 'USAGE')
    UNION ALL
    SELECT l.role_name, pg_catalog.format('mapped to inactive unit %s', l.unit_code)::text
      FROM workorder.logins l
      JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) l.unit_code
     WHERE NOT u.active
    UNION ALL
    SELECT l.role_name, 'mapped, but the role no longer exists'::text
      FROM workorder.logins l
     WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) l.role_name)
    UNION ALL
    SELECT l.role_name, CASE WHEN rn.rolname IS NOT NULL
                             THEN pg_catalog.format('mapped for a role since renamed to %s; the mapping does not count (map %s, or the new name, again)',
                                                    rn.rolname, pg_catalog.quote_ident(l.role_name))
                             ELSE pg_catalog.format('mapped for a role that was dropped; role %s is another role, and the mapping does not count for it (map it again if it is meant to)',
                                                    pg_catalog.quote_ident(l.role_name)) END
      FROM workorder.logins l
      JOIN pg_catalog.pg_roles r ON r.rolname OPERATOR(pg_catalog.=) l.role_name
      LEFT JOIN pg_catalog.pg_roles rn ON rn.oid OPERATOR(pg_catalog.=) l.role_oid
     WHERE l.role_oid IS DISTINCT FROM r.oid
     ORDER BY 1, 2;
END
$$;

-- center_area is the area a unit's dispatchers and supervisors see every order of:
-- its own, when it is a center; none otherwise.  A department or a branch serves an
-- area too (the whole district, a town) but handles only what it is given: its
-- leader sees its unit's orders, as its handlers do, not every order of the place
-- (a water bureau's supervisor read the district's every order, reporters' phones
-- included, and approved extensions of other units' orders).
CREATE FUNCTION workorder.center_area(u workorder.units)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN u.kind OPERATOR(pg_catalog.=) 'center'::workorder.unit_kind THEN u.area_code END
$$;

-- caller_context is who is calling, as the checks need it: the role; whether it is
-- unrestricted (a superuser or an admin); its unit, that unit's area and its
-- channel (from logins); and the workorder group roles it has the privileges of.
CREATE TYPE workorder.caller_context AS (
    role_name    name,
    unrestricted boolean,
    unit_code    text,
    area_code    text,
    channel_code text,
    groups       name[]
);

-- caller returns the caller_context of the calling role, in one call: the checks
-- run on every submit and every action, and each call of a function with a pinned
-- search_path has a cost of its own.
CREATE FUNCTION workorder.caller()
RETURNS workorder.caller_context
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
DECLARE
    c workorder.caller_context;
BEGIN
    c.role_name := workorder.calling_role();
    c.unrestricted := (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) c.role_name)
                      OR pg_catalog.pg_has_role(c.role_name, 'workorder_admin', 'USAGE');
    IF c.unrestricted THEN
        RETURN c;
    END IF;
    SELECT l.unit_code, workorder.center_area(u), l.channel_code INTO c.unit_code, c.area_code, c.channel_code
      FROM workorder.logins_in_force l
      LEFT JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) l.unit_code
     WHERE l.role_name OPERATOR(pg_catalog.=) c.role_name;
    c.groups := ARRAY(SELECT g.name FROM pg_catalog.unnest(ARRAY['workorder_dispatcher', 'workorder_handler',
                                                                 'workorder_supervisor', 'workorder_intake']::name[]) AS g(name)
                       WHERE pg_catalog.pg_has_role(c.role_name, g.name, 'USAGE'));
    RETURN c;
END
$$;

-- caller_unrestricted is true when the calling role is a superuser or an admin.
CREATE FUNCTION workorder.caller_unrestricted()
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
DECLARE
    who name := workorder.calling_role();
BEGIN
    RETURN (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) who)
           OR pg_catalog.pg_has_role(who, 'workorder_admin', 'USAGE');
END
$$;

-- caller_unit is the unit the calling role is mapped to, or NULL.
CREATE FUNCTION workorder.caller_unit()
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
BEGIN
    RETURN (SELECT l.unit_code FROM workorder.logins_in_force l
             WHERE l.role_name OPERATOR(pg_catalog.=) workorder.calling_role());
END
$$;

-- caller_channel is the channel the calling role is mapped to, or NULL.
CREATE FUNCTION workorder.caller_channel()
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
BEGIN
    RETURN (SELECT l.channel_code FROM workorder.logins_in_force l
             WHERE l.role_name OPERATOR(pg_catalog.=) workorder.calling_role());
END
$$;

-- caller_units is the calling role's unit and every unit below it (by parent_code),
-- or an empty array when the role is mapped to no unit.
CREATE FUNCTION workorder.caller_units()
RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
BEGIN
    RETURN ARRAY(
        WITH RECURSIVE below (code) AS (
            SELECT l.unit_code FROM workorder.logins_in_force l
             WHERE l.role_name OPERATOR(pg_catalog.=) workorder.calling_role() AND l.unit_code IS NOT NULL
            UNION
            SELECT u.code FROM workorder.units u JOIN below b ON u.parent_code OPERATOR(pg_catalog.=) b.code
        )
        SELECT b.code FROM below b ORDER BY b.code);
END
$$;

-- caller_area is the area of the calling role's unit when that unit is a center,
-- or NULL: what a dispatcher or a supervisor sees by place (center_area).
CREATE FUNCTION workorder.caller_area()
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
BEGIN
    RETURN (SELECT workorder.center_area(u) FROM workorder.logins_in_force l
              JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) l.unit_code
             WHERE l.role_name OPERATOR(pg_catalog.=) workorder.calling_role());
END
$$;

-- order_in_scope says whether an order is among those a group role sees, for the
-- calling role: the same rules as the row-level security policies below.
--   handler     its unit or one below it is the main or an assisting unit
--   dispatcher  the order lies in its center's area, or its center dispatched it
--               or holds it
--   supervisor  either of the two, for its unit (the area only for a center's)
--   intake      the order came through its channel
CREATE FUNCTION workorder.order_in_scope(o workorder.orders, group_role name, who workorder.caller_context)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    units text[];
BEGIN
    IF group_role OPERATOR(pg_catalog.=) 'workorder_intake' THEN
        RETURN COALESCE(o.channel_code OPERATOR(pg_catalog.=) who.channel_code, false);
    END IF;
    IF group_role IN ('workorder_handler', 'workorder_supervisor') THEN
        units := workorder.caller_units();
        IF o.main_unit OPERATOR(pg_catalog.=) ANY (units)
           OR o.assisting_units OPERATOR(pg_catalog.&&) units THEN
            RETURN true;
        END IF;
    END IF;
    IF group_role IN ('workorder_dispatcher', 'workorder_supervisor') THEN
        RETURN COALESCE(who.area_code OPERATOR(pg_catalog.=) ANY (o.area_chain)
                        OR o.dispatching_unit OPERATOR(pg_catalog.=) who.unit_code
                        OR o.main_unit OPERATOR(pg_catalog.=) who.unit_code, false);
    END IF;
    RETURN false;
END
$$;

-- caller_may_read says whether the calling role may read order o, as
-- check_order_access(o, NULL) lets it, without raising: for what shows other
-- orders beside the one asked for (explain_dedup's candidates).
CREATE FUNCTION workorder.caller_may_read(o workorder.orders)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    who workorder.caller_context := workorder.caller();
    grp name;
BEGIN
    IF who.unrestricted THEN
        RETURN true;
    END IF;
    FOREACH grp IN ARRAY who.groups LOOP
        IF workorder.order_in_scope(o, grp, who) THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END
$$;

-- check_order_access lets the calling role take action on order o (NULL action:
-- read it), or raises WO951 naming the role, its unit and the action.  A superuser
-- or admin may do anything; another role needs a group role that both sees the
-- order and may take the action (role_actions); a handler takes the main unit's
-- actions (accept, return, suspend, resume, request_extension, resolve) only on
-- the orders whose main unit is its unit or one below it.  Every action reaches it through
-- order_for_action().  What the refusal tells of the order depends on whether the
-- caller may read it: the ticket, units and area of an order it sees (it may not
-- take this action), and nothing but the id it passed of one it does not see, so
-- that trying ids cannot read the orders of other units, towns or channels.
CREATE FUNCTION workorder.check_order_access(o workorder.orders, action text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    who workorder.caller_context := workorder.caller();
    grp name;
    sees boolean := false;
    groups_named text;
BEGIN
    IF who.unrestricted THEN
        RETURN;
    END IF;
    FOREACH grp IN ARRAY who.groups LOOP
        IF workorder.order_in_scope(o, grp, who) THEN
            sees := true;
            -- Signing for, handing back, pausing, asking for more time and reporting
            -- the result are the main unit's: a handler whose units only assist
            -- the order sees it and comments on it, and no more.
            IF grp OPERATOR(pg_catalog.=) 'workorder_handler'
               AND action IN ('accept', 'return', 'suspend', 'resume', 'request_extension', 'resolve')
               AND NOT COALESCE(o.main_unit OPERATOR(pg_catalog.=) ANY (workorder.caller_units()), false) THEN
                CONTINUE;
            END IF;
            IF action IS NULL
               OR EXISTS (SELECT 1 FROM workorder.role_actions ra
                           WHERE ra.group_role OPERATOR(pg_catalog.=) grp
                             AND ra.action IN (check_order_access.action, '*')) THEN
                RETURN;
            END IF;
        END IF;
    END LOOP;
    groups_named := CASE WHEN who.groups OPERATOR(pg_catalog.=) '{}' THEN 'none'
                         ELSE pg_catalog.array_to_string(who.groups, ', ') END;
    IF sees THEN
        PERFORM workorder.raise_error('WO951',
            pg_catalog.format('role %s (unit %s) may not %s order %s (id %s)', who.role_name,
                              COALESCE(who.unit_code, 'none'), COALESCE(action, 'read'), o.ticket, o.id),
            pg_catalog.format('The role''s workorder groups are %s, none of which may %s; the order''s main unit is %s, its assisting units %s, its area %s.',
                              groups_named, COALESCE(action, 'read'),
                              COALESCE(o.main_unit, 'none'), o.assisting_units, COALESCE(o.area_code, 'none')),
            'Take only the actions of your role (workorder.role_actions); ask a dispatcher or an admin otherwise.');
    END IF;
    PERFORM workorder.raise_error('WO951',
        pg_catalog.format('role %s (unit %s) may not %s order id %s', who.role_name,
                          COALESCE(who.unit_code, 'none'), COALESCE(action, 'read'), o.id),
        pg_catalog.format('The order is not among those the role''s workorder groups (%s) see.', groups_named),
        'Act only on the orders of your own unit, area or channel; ask a dispatcher or an admin otherwise.');
END
$$;

-- check_channel_access lets the calling role submit to, or use the outbox of,
-- channel (what names the operation for the message), or raises WO952.  An intake
-- login is held to the channel it is mapped to; superusers, admins and dispatchers
-- (who take reports by phone) are not.  C (src/access.c): submit() makes the
-- check for every report.  It reads workorder.logins, which the intake roles
-- cannot, so it runs as the owner (the inbox's statement trigger calls it as
-- the connector).
CREATE FUNCTION workorder.check_channel_access(channel text, what text)
RETURNS void
AS 'MODULE_PATHNAME', 'access_check_channel_access'
LANGUAGE C STABLE
SECURITY DEFINER;

-- Row-level security: what each group role reads.  The extension's functions run
-- as the tables' owner, to whom the policies do not apply; so do superusers.  The
-- caller_* calls are wrapped in scalar subqueries so that each runs once per
-- statement (an initplan), not once per row.
ALTER TABLE workorder.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY orders_admin ON workorder.orders FOR SELECT TO workorder_admin USING (true);
CREATE POLICY orders_handler ON workorder.orders FOR SELECT TO workorder_handler, workorder_supervisor
    USING (main_unit OPERATOR(pg_catalog.=) ANY ((SELECT workorder.caller_units())::text[])
           OR assisting_units OPERATOR(pg_catalog.&&) (SELECT workorder.caller_units()));
CREATE POLICY orders_dispatcher ON workorder.orders FOR SELECT TO workorder_dispatcher, workorder_supervisor
    USING ((SELECT workorder.caller_area()) OPERATOR(pg_catalog.=) ANY (area_chain)
           OR dispatching_unit OPERATOR(pg_catalog.=) (SELECT workorder.caller_unit())
           OR main_unit OPERATOR(pg_catalog.=) (SELECT workorder.caller_unit()));
CREATE POLICY orders_intake ON workorder.orders FOR SELECT TO workorder_intake
    USING (channel_code OPERATOR(pg_catalog.=) (SELECT workorder.caller_channel()));

-- An event is visible with its order (the subquery reads orders under the same
-- policies).  A correlated EXISTS, probed by the order's key: as order_id IN (SELECT
-- o.id ...) it was a hashed sub-plan, every order the role sees read by a scan of
-- orders, for every read of one order's log (order_history: 250 ms at 200,000
-- orders, against 3 ms).  OFFSET 0 keeps the planner from hashing it all the same:
-- an EXISTS with an OFFSET has no hashed form, and on tables as small as a test's
-- the planner chose that form (test/roles_test.sql, run on a new database).
ALTER TABLE workorder.order_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY order_events_with_order ON workorder.order_events FOR SELECT
    TO workorder_admin, workorder_dispatcher, workorder_handler, workorder_supervisor, workorder_intake
    USING (EXISTS (SELECT 1 FROM workorder.orders o WHERE o.id OPERATOR(pg_catalog.=) order_events.order_id OFFSET 0));

-- The outbox: a connector sees only the messages of its channel.
ALTER TABLE workorder.outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY outbox_admin ON workorder.outbox FOR SELECT TO workorder_admin USING (true);
CREATE POLICY outbox_intake ON workorder.outbox FOR SELECT TO workorder_intake
    USING (channel_code OPERATOR(pg_catalog.=) (SELECT workorder.caller_channel()));

-- The inbox has no row-level security, because PostgreSQL refuses COPY FROM into a
-- table with it, and COPY is what the inbox is for.  Instead a connector inserts
-- only the report columns (part 98), a statement trigger refuses a batch with a row
-- of another channel (WO952: the whole batch, nothing is written), and it reads its
-- rows back through the view inbox_mine.
--
-- A connector's login is mapped to one channel, so a row of its batch whose channel
-- is NULL or blank, or its own code with blanks around it (a CSV saved with a byte
-- order mark puts U+FEFF before the first row's first field), is its own channel's:
-- the trigger writes the code there.  Before, such a row was "another channel" and
-- refused the whole batch with a WO952 that named a channel the connector never
-- meant; and a row it let through would not have been in inbox_mine, where the
-- connector reads its results.  It runs as the owner to write the code (a connector
-- may not UPDATE the inbox); the caller is still the connector (calling_role()).
CREATE FUNCTION workorder.inbox_check_channels()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    who workorder.caller_context := workorder.caller();
    stray text;
BEGIN
    IF who.unrestricted OR NOT 'workorder_intake' OPERATOR(pg_catalog.=) ANY (who.groups) THEN
        RETURN NULL;
    END IF;
    SELECT n.channel INTO stray FROM inserted n
     WHERE who.channel_code IS NULL
        OR NULLIF(workorder.trim_blanks(n.channel), '') OPERATOR(pg_catalog.<>) who.channel_code
     LIMIT 1;
    IF FOUND THEN
        PERFORM workorder.check_channel_access(stray, 'fill the inbox');
    END IF;
    UPDATE workorder.inbox i SET channel = who.channel_code
      FROM inserted n
     WHERE n.channel IS DISTINCT FROM who.channel_code
       AND i.id OPERATOR(pg_catalog.=) n.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER inbox_check_channels
    AFTER INSERT ON workorder.inbox REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.inbox_check_channels();

-- The detection inbox is a camera connector's: an intake login fills it only when
-- it is mapped to the detection channel (setting detection_channel), whose orders
-- the detections raise.  Without this any connector (the hotline's, a mailbox's)
-- could COPY detections and so make video-AI orders.  A statement trigger, not a
-- row trigger: the check is of the caller, not of the rows, and COPY keeps its
-- multi-row inserts (bench/detections).
CREATE FUNCTION workorder.detection_inbox_check_channel()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.check_channel_access(workorder.setting('detection_channel', 'video_ai'),
                                           'fill the detection inbox');
    RETURN NULL;
END
$$;
CREATE TRIGGER detection_inbox_check_channel
    BEFORE INSERT ON workorder.detection_inbox
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.detection_inbox_check_channel();

-- inbox_mine is the inbox as the caller may read it: a connector's own channel's
-- rows (an admin's or superuser's: all).
CREATE VIEW workorder.inbox_mine WITH (security_barrier) AS
SELECT i.* FROM workorder.inbox i
 WHERE (SELECT workorder.caller_unrestricted())
    OR i.channel OPERATOR(pg_catalog.=) (SELECT workorder.caller_channel());
COMMENT ON VIEW workorder.inbox_mine IS
    'The inbox rows of the caller''s channel (all of them for an admin): how a connector reads its results back.';

-- Masking, for analysts.  mask_phone keeps the first three and the last four digits
-- of a number of 11 digits or more (a mobile 13812341234 reads 138****1234; a
-- leading +86 or 86 of a 13-digit number is dropped first), the last four of one of
-- 8 to 10 (a local landline 86281234 reads ****1234: first three and last four
-- showed seven of its eight digits), the last two of a shorter one, and stars the
-- rest.  Other characters are dropped.
CREATE FUNCTION workorder.mask_phone(phone text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    digits text := pg_catalog.regexp_replace(phone, '[^0-9]', '', 'g');
    n integer;
BEGIN
    IF pg_catalog.length(digits) OPERATOR(pg_catalog.=) 13 AND pg_catalog.left(digits, 2) OPERATOR(pg_catalog.=) '86' THEN
        digits := pg_catalog.substr(digits, 3);
    END IF;
    n := pg_catalog.length(digits);
    IF n OPERATOR(pg_catalog.>=) 11 THEN
        RETURN pg_catalog.left(digits, 3) OPERATOR(pg_catalog.||) pg_catalog.repeat('*', n OPERATOR(pg_catalog.-) 7)
               OPERATOR(pg_catalog.||) pg_catalog.right(digits, 4);
    END IF;
    IF n OPERATOR(pg_catalog.>=) 8 THEN
        RETURN pg_catalog.repeat('*', n OPERATOR(pg_catalog.-) 4) OPERATOR(pg_catalog.||) pg_catalog.right(digits, 4);
    END IF;
    RETURN pg_catalog.repeat('*', GREATEST(n OPERATOR(pg_catalog.-) 2, 0))
           OPERATOR(pg_catalog.||) pg_catalog.right(digits, LEAST(n, 2));
END
$$;

-- mask_name keeps a name's first character (the family name, in Chinese) and stars
-- every other one: 张三 reads 张*, 欧阳娜娜 欧***.  A one-character name is a star.
CREATE FUNCTION workorder.mask_name(name text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    trimmed text := workorder.trim_blanks(name);
    n integer := pg_catalog.length(trimmed);
BEGIN
    IF n OPERATOR(pg_catalog.<=) 1 THEN
        RETURN pg_catalog.repeat('*', n);
    END IF;
    RETURN pg_catalog.left(trimmed, 1) OPERATOR(pg_catalog.||) pg_catalog.repeat('*', n OPERATOR(pg_catalog.-) 1);
END
$$;

-- coarsen_location moves a point to the centre of its cell in a grid of 0.005
-- degrees of WGS84 (about 555 m north-south, and 510 m east-west at Nanhai's
-- latitude): enough for a heat map of a district, too coarse to find a doorstep.
CREATE FUNCTION workorder.coarsen_location(location geometry)
RETURNS geometry
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    cell constant double precision := 0.005;
    p geometry := workorder.location_point(location, 'the location to coarsen');   -- WO101/WO102 for a non-point
BEGIN
    -- (All OPERATOR() forms share one precedence: the parentheses are needed.)
    RETURN ST_SetSRID(ST_MakePoint(
        (pg_catalog.floor(ST_X(p) OPERATOR(pg_catalog./) cell) OPERATOR(pg_catalog.*) cell)
            OPERATOR(pg_catalog.+) (cell OPERATOR(pg_catalog./) 2),
        (pg_catalog.floor(ST_Y(p) OPERATOR(pg_catalog./) cell) OPERATOR(pg_catalog.*) cell)
            OPERATOR(pg_catalog.+) (cell OPERATOR(pg_catalog./) 2)), 4326);
END
$$;

-- bi_orders is every order as an analyst may see it: reporters' names and phones
-- masked, the location coarsened, and no free text (description, address, result,
-- reasons, the channel's reference, the attributes), since any of it may hold a
-- name, a phone number or a doorstep.
CREATE VIEW workorder.bi_orders AS
SELECT o.id, o.ticket, o.channel_code, o.channel_category, o.category_code, o.priority,
       workorder.coarsen_location(o.location) AS location,
       o.area_code, o.area_chain, o.location_match, o.in_jurisdiction,
       workorder.mask_name(o.reporter_name) AS reporter_name,
       workorder.mask_phone(o.reporter_phone) AS reporter_phone,
       o.occurred_at, o.received_at, o.status, o.handling_level, o.dispatching_unit, o.main_unit,
       o.assisting_units, o.route_rule_id, o.sla_policy, o.accept_due_at, o.resolve_due_at,
       o.master_id, o.report_count, o.return_count, o.redo_count, o.supervised,
       o.satisfaction, o.warned, o.accept_overdue, o.overdue, o.escalation_step, o.escalated_to,
       o.event_count, o.updated_at
  FROM workorder.orders o;
COMMENT ON VIEW workorder.bi_orders IS
    'Orders for analysts: reporter name and phone masked, location coarsened to a 0.005 degree grid, no free text.';
