-- workorder install script, part 30: handling units.
--
-- A unit is an organisation that receives orders:
--   center      the district, town or village command center of one area
--   department  a district department of one department kind (urban management,
--               water affairs, ...), serving the whole district
--   branch      a department's branch in one town (e.g. a town's urban-management
--               squadron), under its department
-- Every unit serves one area.  Routing resolves "the unit of kind K that serves
-- this area at level L" from this table.

CREATE TYPE workorder.unit_kind AS ENUM ('center', 'department', 'branch');

-- department_kinds lists the lines of work departments are organised by.
CREATE TABLE workorder.department_kinds (
    code text PRIMARY KEY,
    name text NOT NULL,
    CONSTRAINT department_kinds_code_format CHECK (code OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,39}$')
);
SELECT pg_catalog.pg_extension_config_dump('workorder.department_kinds', '');

CREATE TABLE workorder.units (
    code            text PRIMARY KEY,
    name            text NOT NULL,
    kind            workorder.unit_kind NOT NULL,
    level           workorder.area_level NOT NULL,
    department_kind text REFERENCES workorder.department_kinds (code),
    -- A renamed unit's children follow it (they made the COMMIT fail with a bare
    -- 23503, as orders, rules and logins followed).
    parent_code     text REFERENCES workorder.units (code) ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED,
    area_code       text NOT NULL REFERENCES workorder.areas (code) ON UPDATE CASCADE,
    phone           text,
    active          boolean NOT NULL DEFAULT true,
    CONSTRAINT units_code_format CHECK (code OPERATOR(pg_catalog.~) '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    CONSTRAINT units_name_length CHECK (pg_catalog.length(name) OPERATOR(pg_catalog.>=) 1
                                        AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 100),
    CONSTRAINT units_level_not_grid CHECK (level OPERATOR(pg_catalog.<>) 'grid'),
    CONSTRAINT units_department_kind CHECK ((kind OPERATOR(pg_catalog.=) 'center') OPERATOR(pg_catalog.=) (department_kind IS NULL)),
    CONSTRAINT units_department_is_district CHECK (kind OPERATOR(pg_catalog.<>) 'department' OR level OPERATOR(pg_catalog.=) 'district'),
    CONSTRAINT units_branch_is_town CHECK (kind OPERATOR(pg_catalog.<>) 'branch' OR level OPERATOR(pg_catalog.=) 'town')
);
CREATE UNIQUE INDEX units_one_center_per_area ON workorder.units (area_code)
    WHERE kind OPERATOR(pg_catalog.=) 'center' AND active;
CREATE UNIQUE INDEX units_one_per_kind_and_area ON workorder.units (department_kind, area_code)
    WHERE kind OPERATOR(pg_catalog.<>) 'center' AND active;
CREATE INDEX units_parent_idx ON workorder.units (parent_code);

-- unit_depth is how many parents a unit has above it (0 for a unit without one; at
-- most 100 are followed).  pg_dump copies the units in its order, parents first:
-- units_before_write needs a unit's parent in place, and a parent written again
-- after its children (a new phone number) lies after them in the heap, so a dump in
-- heap order did not restore (WO211, unknown parent).
CREATE FUNCTION workorder.unit_depth(unit text)
RETURNS integer
LANGUAGE sql STABLE
AS $$
    WITH RECURSIVE up (code, parent_code, depth) AS (
        SELECT u.code, u.parent_code, 0 FROM workorder.units u WHERE u.code OPERATOR(pg_catalog.=) unit
        UNION ALL
        SELECT u.code, u.parent_code, up.depth OPERATOR(pg_catalog.+) 1
          FROM workorder.units u JOIN up ON u.code OPERATOR(pg_catalog.=) up.parent_code
         WHERE up.depth OPERATOR(pg_catalog.<) 100)
    SELECT pg_catalog.max(up.depth) FROM up
$$;
SELECT pg_catalog.pg_extension_config_dump('workorder.units', 'ORDER BY workorder.unit_depth(code), code');
COMMENT ON TABLE workorder.units IS
    'Handling units: centers (district, town, village), district departments and their town branches. Load with workorder.load_units().';

-- unit_not_assisting raises WO211 when a routing rule names unit among its
-- assisting_units: the unit's code is not changed, nor the unit deleted (what says
-- which), while a rule would go on naming the old code.
CREATE FUNCTION workorder.unit_not_assisting(unit workorder.units, what text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    rules text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s (%s)', r.id, r.name), ', ' ORDER BY r.id) INTO rules
      FROM workorder.routing_rules r
     WHERE unit.code OPERATOR(pg_catalog.=) ANY (r.assisting_units);
    IF rules IS NOT NULL THEN
        PERFORM workorder.raise_error('WO211',
            pg_catalog.format('unit %s (%s) is an assisting unit of routing rules and %s', unit.code, unit.name, what),
            pg_catalog.format('The rules are %s.', rules),
            'Take the unit out of those rules'' assisting_units first.');
    END IF;
END
$$;

-- units_before_write checks that a unit fits its area and its parent, and that a
-- unit the event log names keeps its code: orders, logins and scores follow a new
-- code (ON UPDATE CASCADE), but the log is never rewritten, so the scores recomputed
-- from it, and the monthly assessments, lost the unit under its new code.  Its name
-- and phone have no control character (a line break neither), as an area's name,
-- and its name is not blank (as submit() trims): the name goes into every dispatch
-- message to the channels, which refuse control characters in a report, and both
-- into the dashboards.
CREATE FUNCTION workorder.units_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    area workorder.areas;
    parent workorder.units;
BEGIN
    -- (Only a name or phone written now: one 0.4 accepted stays, restored or carried
    -- along by another change, such as a parent's new code.)
    IF ((TG_OP OPERATOR(pg_catalog.=) 'INSERT' OR NEW.name IS DISTINCT FROM OLD.name)
        AND (workorder.trim_blanks(NEW.name) OPERATOR(pg_catalog.=) '' OR NEW.name OPERATOR(pg_catalog.~) '[[:cntrl:]]')
        OR (TG_OP OPERATOR(pg_catalog.=) 'INSERT' OR NEW.phone IS DISTINCT FROM OLD.phone)
           AND NEW.phone OPERATOR(pg_catalog.~) '[[:cntrl:]]')
       AND NOT workorder.loaded_by_restore('workorder.units') THEN
        PERFORM workorder.raise_error('WO211',
            pg_catalog.format('unit %s has a blank name, or a control character in its name or phone', NEW.code),
            pg_catalog.format('The name is %s; the phone is %s (control characters shown as ?).',
                              COALESCE(pg_catalog.quote_literal(pg_catalog.left(pg_catalog.regexp_replace(NEW.name, '[[:cntrl:]]', '?', 'g'), 120)), 'NULL'),
                              COALESCE(pg_catalog.quote_literal(pg_catalog.left(pg_catalog.regexp_replace(NEW.phone, '[[:cntrl:]]', '?', 'g'), 60)), 'NULL')),
            'Give the unit its official name, and a phone number, in printable characters.');
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' AND NEW.code IS DISTINCT FROM OLD.code
       AND EXISTS (SELECT 1 FROM workorder.order_events e WHERE e.unit_code OPERATOR(pg_catalog.=) OLD.code) THEN
        PERFORM workorder.raise_error('WO211',
            pg_catalog.format('unit %s (%s) is named in the event log and keeps its code', OLD.code, OLD.name),
            pg_catalog.format('The new code would be %s; the log, which the scores and assessments are computed from, is never rewritten.',
                              COALESCE(NEW.code, 'NULL')),
            'Load a unit with the new code, reassign the open orders to it, and deactivate this one (active = false).');
    END IF;
    -- A rule's unit_code follows a new code (ON UPDATE CASCADE); its assisting_units,
    -- an array, cannot, and a code gone from the units is dropped from the orders it
    -- routes: the rules are mended first.
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' AND NEW.code IS DISTINCT FROM OLD.code THEN
        PERFORM workorder.unit_not_assisting(OLD, 'keeps its code');
    END IF;
    -- The area and the parent unit FOR SHARE, as areas_before_write reads a parent:
    -- one being changed is waited for and checked as it ends up.
    SELECT * INTO area FROM workorder.areas a WHERE a.code OPERATOR(pg_catalog.=) NEW.area_code FOR SHARE;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO211',
            pg_catalog.format('unit %s (%s) serves an unknown area', NEW.code, NEW.name),
            pg_catalog.format('area_code is %s.', COALESCE(NEW.area_code, 'NULL')),
            'Load the area first, or correct area_code.');
    END IF;
    IF area.level OPERATOR(pg_catalog.<>) NEW.level THEN
        PERFORM workorder.raise_error('WO211',
            pg_catalog.format('unit %s (%s) is at a different level from its area', NEW.code, NEW.name),
            pg_catalog.format('The unit''s level is %s; area %s (%s) is a %s.', NEW.level, area.code, area.name, area.level),
            'A unit serves an area of its own level: a town center serves a town.');
    END IF;
    IF NEW.parent_code IS NOT NULL THEN
        SELECT * INTO parent FROM workorder.units u WHERE u.code OPERATOR(pg_catalog.=) NEW.parent_code FOR SHARE;
        IF NOT FOUND THEN
            PERFORM workorder.raise_error('WO211',
                pg_catalog.format('unit %s (%s) has an unknown parent', NEW.code, NEW.name),
                pg_catalog.format('parent_code is %s.', NEW.parent_code),
                'Load the parent unit first, or correct parent_code.');
        END IF;
        -- A parent serves the unit's area or one above it: a parent elsewhere (a
        -- village center under another town's center) gave that unit's staff the
        -- orders of this one (caller_units follows parent_code).
        IF NOT parent.area_code OPERATOR(pg_catalog.=) ANY (area.path) THEN
            PERFORM workorder.raise_error('WO211',
                pg_catalog.format('unit %s (%s) has a parent that serves another place', NEW.code, NEW.name),
                pg_catalog.format('The unit serves area %s (%s); its parent %s serves area %s, which is not on that area''s path %s.',
                                  area.code, area.name, parent.code, parent.area_code, area.path),
                'Give the unit the center or department of its own area or of an area above it as parent_code.');
        END IF;
        -- Nor is a unit its own ancestor.
        IF EXISTS (WITH RECURSIVE up (code, depth) AS (
                       SELECT parent.code, 1
                       UNION ALL
                       SELECT u.parent_code, up.depth OPERATOR(pg_catalog.+) 1
                         FROM up JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) up.code
                        WHERE u.parent_code IS NOT NULL AND up.depth OPERATOR(pg_catalog.<) 1000)
                   SELECT 1 FROM up WHERE up.code OPERATOR(pg_catalog.=) NEW.code) THEN
            PERFORM workorder.raise_error('WO211',
                pg_catalog.format('unit %s (%s) would be its own ancestor', NEW.code, NEW.name),
                pg_catalog.format('parent_code is %s, which is below %s.', NEW.parent_code, NEW.code),
                'Give the unit a parent above it, not one of the units under it.');
        END IF;
        IF NEW.kind OPERATOR(pg_catalog.=) 'branch'
           AND (parent.kind OPERATOR(pg_catalog.<>) 'department'
                OR parent.department_kind IS DISTINCT FROM NEW.department_kind) THEN
            PERFORM workorder.raise_error('WO211',
                pg_catalog.format('branch %s (%s) is not under a department of its kind', NEW.code, NEW.name),
                pg_catalog.format('The branch is of kind %s; its parent %s is a %s of kind %s.',
                                  NEW.department_kind, parent.code, parent.kind, COALESCE(parent.department_kind, 'none')),
                'A town branch belongs to the district department of the same department kind.');
        END IF;
    ELSIF NEW.kind OPERATOR(pg_catalog.=) 'branch' THEN
        PERFORM workorder.raise_error('WO211',
            pg_catalog.format('branch %s (%s) has no department', NEW.code, NEW.name),
            'parent_code is NULL.',
            'Give the branch its district department as parent_code.');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER units_before_write
    BEFORE INSERT OR UPDATE ON workorder.units
    FOR EACH ROW EXECUTE FUNCTION workorder.units_before_write();

-- units_children_fit checks, when a unit's area, level, kind or department kind has
-- changed, that the units under it still fit it, as units_before_write checks a unit
-- against its parent when the unit is written (WO211, naming the child): touching
-- each child runs that check against the unit as it is now.  Only the child was
-- checked: a center given another town's area (load_units) kept its village
-- centers, whose staff's orders then went up to that town (caller_units follows
-- parent_code), while the same pair written from the child was refused.  Deferred
-- to the end of the transaction, so that a reorganisation may move the parent and
-- its children in any order.
CREATE FUNCTION workorder.units_children_fit()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE workorder.units c SET parent_code = c.parent_code
     WHERE c.parent_code OPERATOR(pg_catalog.=) NEW.code;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER units_children_fit
    AFTER UPDATE OF area_code, level, kind, department_kind ON workorder.units
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN ((OLD.area_code, OLD.level, OLD.kind, OLD.department_kind)
          IS DISTINCT FROM (NEW.area_code, NEW.level, NEW.kind, NEW.department_kind))
    EXECUTE FUNCTION workorder.units_children_fit();

-- units_before_delete keeps a unit that the event log or an order names (WO211),
-- as units_before_write keeps its code: deleted, the log named a unit that did not
-- exist, and the scores and assessments computed from it dropped the unit's facts
-- (loaded again, its incremental scores and a full recompute differed); an order's
-- reference failed with a bare foreign-key error.
CREATE FUNCTION workorder.units_before_delete()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM workorder.order_events e
                WHERE e.unit_code OPERATOR(pg_catalog.=) OLD.code OR e.old_unit OPERATOR(pg_catalog.=) OLD.code)
       OR EXISTS (SELECT 1 FROM workorder.orders o
                   WHERE o.main_unit OPERATOR(pg_catalog.=) OLD.code OR o.dispatching_unit OPERATOR(pg_catalog.=) OLD.code
                      OR OLD.code OPERATOR(pg_catalog.=) ANY (o.assisting_units)) THEN
        PERFORM workorder.raise_error('WO211',
            pg_catalog.format('unit %s (%s) is named by orders or the event log and stays', OLD.code, OLD.name),
            'The log, which the scores and assessments are computed from, is never rewritten, and would name a unit that does not exist.',
            'Reassign its open orders to another unit, and deactivate it (active = false).');
    END IF;
    PERFORM workorder.unit_not_assisting(OLD, 'stays');
    RETURN OLD;
END
$$;
CREATE TRIGGER units_before_delete
    BEFORE DELETE ON workorder.units
    FOR EACH ROW EXECUTE FUNCTION workorder.units_before_delete();
