-- workorder install script, part 55: routing.
--
-- Routing rules are checked in order (position, then id).  A rule matches on any of
-- a category subtree, a channel, an area subtree, a priority and keywords in the
-- description (a NULL condition matches anything).  A matching rule sets the
-- handling level, the unit (a unit kind resolved to the unit that serves the
-- order's area at that level, or one fixed unit), assisting units and optionally
-- an SLA policy.  The first matching rule whose unit can be resolved wins.  When no
-- rule does, the category's default level and department kind apply: small matters
-- stay in the village, medium ones go to the town, big ones to the district.  When
-- nothing can be resolved, the order stays 'new' for a dispatcher.

-- route_target says how a rule names its unit:
--   center      the command center of the order's area at the handling level
--   department  the department (or its town branch) of the rule's department kind,
--               or else the category's, serving the order's area at that level
--   unit        one fixed unit
CREATE TYPE workorder.route_target AS ENUM ('center', 'department', 'unit');

CREATE TABLE workorder.routing_rules (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position        integer NOT NULL DEFAULT 100,
    name            text NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    category_code   text REFERENCES workorder.categories (code) ON UPDATE CASCADE,
    channel_code    text REFERENCES workorder.channels (code) ON UPDATE CASCADE,
    area_code       text REFERENCES workorder.areas (code) ON UPDATE CASCADE,
    priority        workorder.order_priority,
    keywords        text[],
    handling_level  workorder.area_level,
    target          workorder.route_target NOT NULL DEFAULT 'department',
    department_kind text REFERENCES workorder.department_kinds (code),
    unit_code       text REFERENCES workorder.units (code) ON UPDATE CASCADE,
    assisting_units text[] NOT NULL DEFAULT '{}',
    sla_policy      text,
    CONSTRAINT routing_rules_name_length CHECK (pg_catalog.length(name) OPERATOR(pg_catalog.>=) 1
                                                AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 100),
    CONSTRAINT routing_rules_unit_target CHECK ((target OPERATOR(pg_catalog.=) 'unit') OPERATOR(pg_catalog.=) (unit_code IS NOT NULL)),
    CONSTRAINT routing_rules_level CHECK (handling_level OPERATOR(pg_catalog.<>) 'grid'),
    -- An empty keyword would match every description, and a NULL one nothing.
    CONSTRAINT routing_rules_keywords CHECK (keywords IS NULL OR (pg_catalog.cardinality(keywords) OPERATOR(pg_catalog.>) 0
        AND pg_catalog.array_position(keywords, NULL) IS NULL
        AND pg_catalog.array_position(keywords, '') IS NULL))
);
CREATE INDEX routing_rules_order_idx ON workorder.routing_rules (position, id) WHERE active;
SELECT pg_catalog.pg_extension_config_dump('workorder.routing_rules', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.routing_rules_id_seq', '');
COMMENT ON TABLE workorder.routing_rules IS
    'Routing rules, checked in (position, id) order; NULL conditions match anything. See workorder.explain_route().';

-- routing_rules_check keeps a rule's keywords and assisting units what they are
-- meant to be, as the rule is written (WO231, naming the rule):
--   - each keyword is trimmed of the blanks people type and paste (trim_blanks), and
--     a keyword that is blank is refused: ' ' matched every description with a space
--     in it, and ' 井盖' only those with a space before 井盖;
--   - each assisting unit is trimmed too, and must be a unit of workorder.units: one
--     misspelt (or ' D-um') was dropped from every order the rule routed, silently.
-- (An assisting unit made inactive later is left out of the orders routed while it
-- is; a unit a rule names is not deleted, WO211.)  Not for COPY (a restore loads
-- the rules before it may have loaded the units), as routing_rules_sla_policy.
CREATE FUNCTION workorder.routing_rules_check()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    unknown text;
BEGIN
    IF NEW.keywords IS NOT NULL THEN
        NEW.keywords := ARRAY(SELECT workorder.trim_blanks(k.keyword)
                                FROM pg_catalog.unnest(NEW.keywords) WITH ORDINALITY AS k(keyword, n) ORDER BY k.n);
        IF pg_catalog.cardinality(NEW.keywords) OPERATOR(pg_catalog.=) 0 THEN
            PERFORM workorder.raise_error('WO231',
                pg_catalog.format('routing rule %s has an empty list of keywords', pg_catalog.quote_literal(NEW.name)),
                'keywords is ''{}''.',
                'List the keywords, or set keywords NULL to match every description.');
        END IF;
        IF EXISTS (SELECT 1 FROM pg_catalog.unnest(NEW.keywords) AS k(keyword)
                    WHERE k.keyword IS NULL OR k.keyword OPERATOR(pg_catalog.=) '') THEN
            PERFORM workorder.raise_error('WO231',
                pg_catalog.format('routing rule %s has a blank keyword', pg_catalog.quote_literal(NEW.name)),
                pg_catalog.format('keywords is %s.', pg_catalog.quote_literal(NEW.keywords::text)),
                'Remove the blank keywords; keywords NULL matches every description.');
        END IF;
    END IF;
    IF NEW.assisting_units IS NULL THEN
        RETURN NEW;   -- its NOT NULL says so
    END IF;
    NEW.assisting_units := ARRAY(SELECT workorder.trim_blanks(a.unit_code)
                                   FROM pg_catalog.unnest(NEW.assisting_units) WITH ORDINALITY AS a(unit_code, n) ORDER BY a.n);
    -- The units are locked as a foreign key would lock them (FOR KEY SHARE): a
    -- delete of one, or a new code for it, running beside this waits, and then
    -- sees the rule (unit_not_assisting, part 30).
    PERFORM 1 FROM workorder.units u
     WHERE u.code OPERATOR(pg_catalog.=) ANY (NEW.assisting_units)
     ORDER BY u.code
       FOR KEY SHARE;
    SELECT COALESCE(pg_catalog.quote_literal(a.unit_code), 'NULL') INTO unknown
      FROM pg_catalog.unnest(NEW.assisting_units) AS a(unit_code)
     WHERE NOT EXISTS (SELECT 1 FROM workorder.units u WHERE u.code OPERATOR(pg_catalog.=) a.unit_code)
     LIMIT 1;
    IF FOUND THEN
        PERFORM workorder.raise_error('WO231',
            pg_catalog.format('routing rule %s names an unknown assisting unit %s', pg_catalog.quote_literal(NEW.name), unknown),
            pg_catalog.format('assisting_units is %s.', pg_catalog.quote_literal(NEW.assisting_units::text)),
            'Name units of workorder.units by their codes; load a new unit with workorder.load_units() first.');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER routing_rules_check
    BEFORE INSERT OR UPDATE OF keywords, assisting_units ON workorder.routing_rules
    FOR EACH ROW WHEN (NOT workorder.loaded_by_restore('workorder.routing_rules'))
    EXECUTE FUNCTION workorder.routing_rules_check();

-- category_settings returns a category's family (root), its path from the root,
-- and the defaults in force for it: its own or its nearest ancestor's (the row of
-- category_effective).  NULL columns when the category does not exist.  C, from
-- the per-backend reference cache (src/refcache.c).
CREATE FUNCTION workorder.category_settings(category text,
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
CREATE FUNCTION workorder.resolve_unit(target workorder.route_target, department_kind text,
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
CREATE FUNCTION workorder.route_steps(category text, channel text, area_chain text[],
                                      priority workorder.order_priority, description text)
RETURNS TABLE (step integer, rule_id bigint, rule_name text, matched boolean, chosen boolean,
               reason text, handling_level workorder.area_level, unit_code text,
               assisting_units text[], sla_policy text)
AS 'MODULE_PATHNAME', 'routing_route_steps'
LANGUAGE C STABLE PARALLEL SAFE;
