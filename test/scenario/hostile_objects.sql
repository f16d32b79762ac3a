-- hostile_objects.sql: what test/scenario/hostile_search_path.t plants in schema
-- public (where PostGIS lives) to hijack the extension.  Every planted function
-- and operator, when called, raises a WARNING and then an ERROR whose text begins
-- with HIJACKED and names it, so that a call shows in the client's output (or the
-- server log, for the worker) even when some EXCEPTION clause swallows the error.
--
-- Planted, with psql variables naming what the install script calls:
--   :'functions'  the names the install parts call unqualified (PostGIS) and the
--                 pg_catalog functions they call qualified.  For each overload of
--                 each name: a copy with the same signature in public (which wins
--                 wherever public comes before pg_catalog), and copies with one
--                 argument type swapped for a near one (numeric for double
--                 precision, varchar for text, text for geometry, ...), which win
--                 over the original wherever an argument needs an implicit cast.
--   :'operators'  the operators the install parts use, and = and <> (which IN,
--                 CASE and IS DISTINCT FROM look up): the same, per overload.
--   Then :'phase' = 'after' plants the comparison operators on the extension's
--   own types (enums, the ticket), which no pg_catalog operator matches exactly,
--   so that a body comparing them through the search path would pick them.
\set QUIET 1
SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION public.hostile_swaps(t regtype) RETURNS regtype[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE t
        WHEN 'text'::regtype THEN ARRAY['character varying', 'name']::regtype[]
        WHEN 'character varying'::regtype THEN ARRAY['text']::regtype[]
        WHEN 'integer'::regtype THEN ARRAY['bigint', 'numeric', 'smallint']::regtype[]
        WHEN 'bigint'::regtype THEN ARRAY['integer', 'numeric']::regtype[]
        WHEN 'double precision'::regtype THEN ARRAY['numeric', 'integer', 'real']::regtype[]
        WHEN 'numeric'::regtype THEN ARRAY['double precision', 'integer']::regtype[]
        WHEN 'timestamp with time zone'::regtype THEN ARRAY['timestamp without time zone', 'date']::regtype[]
        WHEN 'geometry'::regtype THEN ARRAY['text', 'geography']::regtype[]
        -- ST_XMin(box3d) and its kin, called with a geometry, took the implicit
        -- cast, and a planted st_xmin(geometry) matched better.
        WHEN 'box3d'::regtype THEN ARRAY['geometry']::regtype[]
        WHEN 'box2d'::regtype THEN ARRAY['geometry']::regtype[]
        WHEN 'jsonb'::regtype THEN ARRAY['json', 'text']::regtype[]
        WHEN 'boolean'::regtype THEN ARRAY['integer']::regtype[]
        ELSE '{}'::regtype[] END
$$;

-- hostile_body is the body of every planted function: say it, then fail.
CREATE OR REPLACE FUNCTION public.hostile_body(what text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format($b$BEGIN RAISE WARNING 'HIJACKED %%', %1$L; RAISE EXCEPTION 'HIJACKED %%', %1$L; END$b$, what)
$$;

-- plant_function creates public.name(args) returning ret (setof when set), unless
-- a function of that signature exists in public or pg_catalog already.  Types
-- that a plpgsql function cannot take are skipped.
CREATE OR REPLACE FUNCTION public.plant_function(fname name, args regtype[], ret regtype, set_returning boolean)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    sig text := format('%I(%s)', fname, array_to_string(args::text[], ', '));
BEGIN
    IF to_regprocedure('public.' || sig) IS NOT NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format('CREATE FUNCTION public.%s RETURNS %s%s LANGUAGE plpgsql AS %L',
                   sig, CASE WHEN set_returning THEN 'SETOF ' ELSE '' END, ret, hostile_body('function ' || sig));
    RETURN 1;
EXCEPTION WHEN OTHERS THEN
    RETURN 0;
END
$$;

-- plant_operator creates public.op(left, right) returning ret, unless public has it.
CREATE OR REPLACE FUNCTION public.plant_operator(op text, l regtype, r regtype, ret regtype)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    fname text := 'hostile_op_' || md5(op || l::text || r::text);
    sig text := format('public.%s(%s %s %s)', 'OPERATOR', l, op, r);
BEGIN
    IF EXISTS (SELECT 1 FROM pg_operator o WHERE o.oprnamespace = 'public'::regnamespace
                  AND o.oprname = op AND o.oprleft = l AND o.oprright = r) THEN
        RETURN 0;
    END IF;
    EXECUTE format('CREATE FUNCTION public.%I(%s, %s) RETURNS %s LANGUAGE plpgsql AS %L',
                   fname, l, r, ret, hostile_body(sig));
    EXECUTE format('CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.%I)', op, l, r, fname);
    RETURN 1;
EXCEPTION WHEN OTHERS THEN
    RETURN 0;
END
$$;

CREATE TEMP TABLE planted (kind text, n integer);

SELECT :'phase' = 'before' AS before \gset
\if :before
-- Functions: each overload of each name, as it is and with one argument swapped.
-- (proargtypes is an oidvector, whose array counts from 0: indexed from 1, the
-- first argument was never swapped and the last was NULL, so that no copy took a
-- near type in the last place, e.g. st_dwithin(geometry, geometry, numeric).)
INSERT INTO planted
SELECT 'function', sum(plant_function(p.proname, variant.args, p.prorettype::regtype, p.proretset))
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname IN ('pg_catalog', 'public')
  CROSS JOIN LATERAL (SELECT ARRAY(SELECT unnest(p.proargtypes::regtype[])) AS args) declared
  CROSS JOIN LATERAL (
      SELECT declared.args
      UNION ALL
      SELECT declared.args[:i - 1] || swap || declared.args[i + 1:]
        FROM generate_series(1, p.pronargs) i
        CROSS JOIN LATERAL unnest(hostile_swaps(declared.args[i])) swap
  ) variant
 WHERE p.proname = ANY (string_to_array(:'functions', ' '))
   AND p.prokind = 'f' AND p.proallargtypes IS NULL
   -- no pseudo-types (internal, any*, record, ...), which plpgsql cannot take
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proargtypes::oid[]) a JOIN pg_type t ON t.oid = a WHERE t.typtype = 'p')
   AND (p.prorettype = 'void'::regtype
        OR (SELECT t.typtype FROM pg_type t WHERE t.oid = p.prorettype) <> 'p');

-- Operators: each overload of each name, as it is and with one side swapped.
INSERT INTO planted
SELECT 'operator', sum(plant_operator(o.oprname, variant.l, variant.r, o.oprresult::regtype))
  FROM pg_operator o
  CROSS JOIN LATERAL (
      SELECT o.oprleft::regtype AS l, o.oprright::regtype AS r
      UNION ALL SELECT s, o.oprright::regtype FROM unnest(hostile_swaps(o.oprleft::regtype)) s
      UNION ALL SELECT o.oprleft::regtype, s FROM unnest(hostile_swaps(o.oprright::regtype)) s
  ) variant
 WHERE o.oprname = ANY (string_to_array(:'operators', ' ') || ARRAY['=', '<>'])
   AND o.oprkind = 'b' AND o.oprnamespace IN ('pg_catalog'::regnamespace, 'public'::regnamespace)
   AND (SELECT t.typtype FROM pg_type t WHERE t.oid = o.oprleft) <> 'p'
   AND (SELECT t.typtype FROM pg_type t WHERE t.oid = o.oprright) <> 'p';
\else
-- The extension's own types: = <> < <= > >= between two of them, and with text.
INSERT INTO planted
SELECT 'operator', sum(plant_operator(op, l, r, 'boolean'))
  FROM (SELECT t.oid::regtype AS t FROM pg_type t
         WHERE t.typnamespace = 'workorder'::regnamespace AND t.typtype IN ('e', 'b', 'd') AND t.typcategory <> 'A') types
  CROSS JOIN unnest(ARRAY['=', '<>', '<', '<=', '>', '>=']) op
  CROSS JOIN LATERAL (VALUES (types.t, types.t), (types.t, 'text'::regtype), ('text'::regtype, types.t)) pair (l, r);
\endif
SELECT kind || ' ' || n FROM planted;
