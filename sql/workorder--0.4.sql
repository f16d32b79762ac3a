-- workorder install script, part 00: the schema's settings table.
--
-- The install script is assembled from sql/install/*.sql in name order.  Every
-- object is schema-qualified and every operator is written OPERATOR(pg_catalog.x),
-- so that installing under a hostile search_path cannot be hijacked.

\echo Use "CREATE EXTENSION workorder" to load this file. \quit

COMMENT ON SCHEMA workorder IS 'workorder: a city work-order center';

-- settings holds the district's tunable values, one row per name.  It is a
-- configuration table: pg_dump keeps its rows.
CREATE TABLE workorder.settings (
    name        text PRIMARY KEY,
    value       text NOT NULL,
    description text NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('workorder.settings', '');

-- setting returns the value of a workorder setting, or the given default when the
-- setting has no row.  It is C, answering from the per-backend reference cache
-- (src/refcache.c; the cache's invalidation triggers are in part 87): it sits on
-- the hot path of locate() and submit().
CREATE FUNCTION workorder.setting(setting_name text, default_value text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_setting'
LANGUAGE C STABLE PARALLEL SAFE;
-- workorder install script, part 01: how the SQL parts raise errors.
--
-- Every error on bad input carries a project SQLSTATE of class WO (listed in
-- README.md and src/workorder.h), an errmsg that names the object, an errdetail
-- with the offending value and an errhint that says what to do.

-- raise_error raises one such error.  It exists so that the many checks in the SQL
-- parts read as one line each and cannot forget the detail or the hint.
CREATE FUNCTION workorder.raise_error(sqlstate text, message text, detail text, hint text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message,
                          DETAIL = detail, HINT = hint;
END
$$;
-- workorder install script, part 10: the ticket type and the issuing of tickets.
--
-- A ticket is the order number a citizen reads out over the phone, written
-- YYYYMMDD-NNNNNN-C: the issue day (2000-01-01 .. 2099-12-31), a sequence number
-- within the day (000001 .. 999999) and a Damm check digit over the 14 digits
-- before it.  Input also takes the 15 digits without dashes.  The type is
-- implemented in src/ticket.c; it is 8 bytes, passed by value, and sorts by
-- (day, seq).
--
-- SQLSTATEs: WO001 the text (or value) is not a ticket; WO002 the check digit does
-- not match, so the number was probably mistyped; WO003 a day has run out of
-- sequence numbers.

-- The type, first as a shell so that its I/O functions can name it.
CREATE TYPE workorder.ticket;

CREATE FUNCTION workorder.ticket_in(cstring)
RETURNS workorder.ticket
AS 'MODULE_PATHNAME', 'ticket_in'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION workorder.ticket_out(workorder.ticket)
RETURNS cstring
AS 'MODULE_PATHNAME', 'ticket_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION workorder.ticket_recv(internal)
RETURNS workorder.ticket
AS 'MODULE_PATHNAME', 'ticket_recv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION workorder.ticket_send(workorder.ticket)
RETURNS bytea
AS 'MODULE_PATHNAME', 'ticket_send'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE workorder.ticket (
    INPUT          = workorder.ticket_in,
    OUTPUT         = workorder.ticket_out,
    RECEIVE        = workorder.ticket_recv,
    SEND           = workorder.ticket_send,
    INTERNALLENGTH = 8,
    PASSEDBYVALUE,
    ALIGNMENT      = double,
    STORAGE        = plain
);
COMMENT ON TYPE workorder.ticket IS
    'work-order number YYYYMMDD-NNNNNN-C: issue day, sequence number within the day, Damm check digit';

-- Comparison.  Tickets compare as (day, seq).  None of these can fail, so they are
-- leakproof and usable in security-barrier views and under row-level security.
CREATE FUNCTION workorder.ticket_eq(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_eq'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_ne(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_ne'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_lt(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_lt'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_le(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_le'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_gt(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_gt'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_ge(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_ge'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_cmp(workorder.ticket, workorder.ticket)
RETURNS integer
AS 'MODULE_PATHNAME', 'ticket_cmp'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_sortsupport(internal)
RETURNS void
AS 'MODULE_PATHNAME', 'ticket_sortsupport'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION workorder.ticket_hash(workorder.ticket)
RETURNS integer
AS 'MODULE_PATHNAME', 'ticket_hash'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_hash_extended(workorder.ticket, bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ticket_hash_extended'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR workorder.= (
    LEFTARG    = workorder.ticket,
    RIGHTARG   = workorder.ticket,
    FUNCTION   = workorder.ticket_eq,
    COMMUTATOR = OPERATOR(workorder.=),
    NEGATOR    = OPERATOR(workorder.<>),
    RESTRICT   = pg_catalog.eqsel,
    JOIN       = pg_catalog.eqjoinsel,
    HASHES,
    MERGES
);

CREATE OPERATOR workorder.<> (
    LEFTARG    = workorder.ticket,
    RIGHTARG   = workorder.ticket,
    FUNCTION   = workorder.ticket_ne,
    COMMUTATOR = OPERATOR(workorder.<>),
    NEGATOR    = OPERATOR(workorder.=),
    RESTRICT   = pg_catalog.neqsel,
    JOIN       = pg_catalog.neqjoinsel
);

CREATE OPERATOR workorder.< (
    LEFTARG    = workorder.ticket,
    RIGHTARG   = workorder.ticket,
    FUNCTION   = workorder.ticket_lt,
    COMMUTATOR = OPERATOR(workorder.>),
    NEGATOR    = OPERATOR(workorder.>=),
    RESTRICT   = pg_catalog.scalarltsel,
    JOIN       = pg_catalog.scalarltjoinsel
);

CREATE OPERATOR workorder.<= (
    LEFTARG    = workorder.ticket,
    RIGHTARG   = workorder.ticket,
    FUNCTION   = workorder.ticket_le,
    COMMUTATOR = OPERATOR(workorder.>=),
    NEGATOR    = OPERATOR(workorder.>),
    RESTRICT   = pg_catalog.scalarlesel,
    JOIN       = pg_catalog.scalarlejoinsel
);

CREATE OPERATOR workorder.> (
    LEFTARG    = workorder.ticket,
    RIGHTARG   = workorder.ticket,
    FUNCTION   = workorder.ticket_gt,
    COMMUTATOR = OPERATOR(workorder.<),
    NEGATOR    = OPERATOR(workorder.<=),
    RESTRICT   = pg_catalog.scalargtsel,
    JOIN       = pg_catalog.scalargtjoinsel
);

CREATE OPERATOR workorder.>= (
    LEFTARG    = workorder.ticket,
    RIGHTARG   = workorder.ticket,
    FUNCTION   = workorder.ticket_ge,
    COMMUTATOR = OPERATOR(workorder.<=),
    NEGATOR    = OPERATOR(workorder.<),
    RESTRICT   = pg_catalog.scalargesel,
    JOIN       = pg_catalog.scalargejoinsel
);

-- btree: support 1 compares, 2 gives the fast sort comparator, 4 (btequalimage)
-- says equal tickets are bitwise equal, which lets the index deduplicate.
CREATE OPERATOR CLASS workorder.ticket_ops
    DEFAULT FOR TYPE workorder.ticket USING btree AS
        OPERATOR 1 workorder.<,
        OPERATOR 2 workorder.<=,
        OPERATOR 3 workorder.=,
        OPERATOR 4 workorder.>=,
        OPERATOR 5 workorder.>,
        FUNCTION 1 workorder.ticket_cmp(workorder.ticket, workorder.ticket),
        FUNCTION 2 workorder.ticket_sortsupport(internal),
        FUNCTION 4 pg_catalog.btequalimage(oid);

CREATE OPERATOR CLASS workorder.ticket_hash_ops
    DEFAULT FOR TYPE workorder.ticket USING hash AS
        OPERATOR 1 workorder.=,
        FUNCTION 1 workorder.ticket_hash(workorder.ticket),
        FUNCTION 2 workorder.ticket_hash_extended(workorder.ticket, bigint);

-- Casts: text <-> ticket use the automatic I/O conversion casts (ticket to text
-- in assignments, text to ticket explicitly).  There is deliberately no cast to or
-- from bigint: arithmetic on order numbers means nothing, and a bigint cast would
-- let numbers in without their check digit.

-- Helpers.
CREATE FUNCTION workorder.make_ticket(day date, seq integer)
RETURNS workorder.ticket
AS 'MODULE_PATHNAME', 'ticket_make'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.make_ticket(date, integer) IS
    'the ticket with this issue day (2000-01-01 .. 2099-12-31) and sequence number (1 .. 999999)';

CREATE FUNCTION workorder.ticket_day(workorder.ticket)
RETURNS date
AS 'MODULE_PATHNAME', 'ticket_day'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION workorder.ticket_day(workorder.ticket) IS
    'the day a ticket was issued for';

CREATE FUNCTION workorder.ticket_seq(workorder.ticket)
RETURNS integer
AS 'MODULE_PATHNAME', 'ticket_seq'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION workorder.ticket_seq(workorder.ticket) IS
    'the sequence number of a ticket within its day';

CREATE FUNCTION workorder.ticket_check_digit(digits text)
RETURNS integer
AS 'MODULE_PATHNAME', 'ticket_check_digit'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.ticket_check_digit(text) IS
    'the Damm check digit of 14 digits YYYYMMDDNNNNNN (or YYYYMMDD-NNNNNN)';

-- Issuing tickets.
--
-- Every ticket draws a number n from one global sequence.  A day's first ticket
-- records its n in ticket_days as that day's first_number, and a ticket's sequence
-- number is n - first_number + 1.  Numbers drawn are unique, so tickets are unique;
-- after the first ticket of a day, issuing takes no lock beyond nextval's, so
-- concurrent submitters do not wait for each other's commits.  Rolled-back
-- transactions leave gaps, which is fine: uniqueness is the point.
--
-- The sequence must keep CACHE 1: the rollover rule below relies on numbers being
-- handed out in increasing order across all sessions.
CREATE SEQUENCE workorder.ticket_number_seq AS bigint CACHE 1 NO CYCLE;
COMMENT ON SEQUENCE workorder.ticket_number_seq IS
    'numbers behind ticket sequence numbers; keep CACHE 1 (see workorder.next_ticket)';

CREATE TABLE workorder.ticket_days (
    day          date PRIMARY KEY,
    first_number bigint NOT NULL
);
COMMENT ON TABLE workorder.ticket_days IS
    'for each day with tickets, the ticket_number_seq value of its first ticket';

-- Both are data rather than configuration, but as extension members pg_dump would
-- otherwise skip them, and a restored database would issue the same tickets again.
SELECT pg_catalog.pg_extension_config_dump('workorder.ticket_days', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.ticket_number_seq', '');

-- next_ticket issues the next ticket of a day (by default today in Beijing time).
-- C (src/ticket.c): submit() issues one for every report.
--
-- It runs as the extension owner so that callers need no rights on ticket_days or
-- the sequence, and cannot tamper with either.  The day's row is created by the
-- first caller of the day with INSERT ... ON CONFLICT DO NOTHING; callers that race
-- it wait for that one insert to commit, once a day.  A caller may have drawn its
-- number before the row's creator drew the first_number; its sequence number would
-- then be below 1, and it draws again: the sequence is increasing, so the second
-- number is above first_number.
--
-- Under REPEATABLE READ or SERIALIZABLE, a caller racing the creation of the day's
-- row gets a serialization failure (40001) and should retry, as usual at those
-- levels.  If the transaction that created a day's row rolls back, the row goes
-- with it, and the ticket that transaction was given may be issued again; tickets
-- are unique among committed transactions.
CREATE FUNCTION workorder.next_ticket(
    day date DEFAULT (pg_catalog.now() AT TIME ZONE 'Asia/Shanghai')::date)
RETURNS workorder.ticket
AS 'MODULE_PATHNAME', 'ticket_next'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
-- Issuing numbers is intake's business: a role that could call this freely could
-- use up a day's 999999 numbers and stop all intake.  submit() calls it as the owner.
REVOKE ALL ON FUNCTION workorder.next_ticket(date) FROM PUBLIC;
COMMENT ON FUNCTION workorder.next_ticket(date) IS
    'issue the next ticket of a day (default: today in Asia/Shanghai); unique, safe under concurrency';
-- workorder install script, part 15: geometry input checks shared by every entry
-- point that takes a place (area loaders, locate, submit).

-- wgs84 returns a geometry given by a caller in SRID 4326, or raises a clear error
-- when it cannot be one: NULL, empty, no SRID, unknown SRID, NaN or infinite
-- coordinates, or coordinates that are not on the earth once transformed.
-- subject names the thing being checked in the error, e.g. 'location of report X'.
CREATE FUNCTION workorder.wgs84(given geometry, subject text)
RETURNS geometry
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    result geometry;
BEGIN
    IF given IS NULL THEN
        PERFORM workorder.raise_error('WO101',
            pg_catalog.format('%s is missing', subject), 'The geometry is NULL.',
            'Pass a geometry with its SRID, e.g. ST_SetSRID(ST_MakePoint(lon, lat), 4326).');
    END IF;
    -- GEOS, which the validity check below calls, cannot handle these types.
    IF GeometryType(given) IN ('TRIANGLE', 'TIN', 'POLYHEDRALSURFACE') THEN
        PERFORM workorder.raise_error('WO101',
            pg_catalog.format('%s is a %s', subject, GeometryType(given)),
            pg_catalog.format('The geometry is %s.', pg_catalog.left(ST_AsText(given), 200)),
            'Pass a point for a place, or a polygon or multipolygon for an area.');
    END IF;
    IF ST_IsEmpty(given) THEN
        PERFORM workorder.raise_error('WO101',
            pg_catalog.format('%s is empty', subject),
            pg_catalog.format('The geometry is %s.', ST_AsText(given)),
            'Pass a geometry with coordinates.');
    END IF;
    IF NOT (ST_XMin(given) OPERATOR(pg_catalog.>) '-Infinity'::float8 AND ST_XMax(given) OPERATOR(pg_catalog.<) 'Infinity'::float8
        AND ST_YMin(given) OPERATOR(pg_catalog.>) '-Infinity'::float8 AND ST_YMax(given) OPERATOR(pg_catalog.<) 'Infinity'::float8
        AND ST_XMin(given) OPERATOR(pg_catalog.<) 'Infinity'::float8 AND ST_YMin(given) OPERATOR(pg_catalog.<) 'Infinity'::float8
        AND ST_XMax(given) OPERATOR(pg_catalog.>) '-Infinity'::float8 AND ST_YMax(given) OPERATOR(pg_catalog.>) '-Infinity'::float8)
       OR (GeometryType(given) OPERATOR(pg_catalog.<>) 'POINT'
           AND (ST_IsValidDetail(given)).reason OPERATOR(pg_catalog.~~) 'Invalid Coordinate%') THEN
        PERFORM workorder.raise_error('WO101',
            pg_catalog.format('%s has non-finite coordinates', subject),
            pg_catalog.format('The geometry is %s.', pg_catalog.left(ST_AsText(given), 200)),
            'Coordinates must be finite numbers; a connector that sends NaN has lost the position.');
    END IF;
    IF ST_SRID(given) OPERATOR(pg_catalog.=) 0 THEN
        PERFORM workorder.raise_error('WO102',
            pg_catalog.format('%s has no SRID', subject),
            pg_catalog.format('The geometry is %s with SRID 0 (unknown).', pg_catalog.left(ST_AsText(given), 200)),
            'Set the SRID the coordinates are in, e.g. ST_SetSRID(geom, 4326) for longitude/latitude.');
    END IF;
    IF ST_SRID(given) OPERATOR(pg_catalog.=) 4326 THEN
        result := given;
    ELSE
        IF NOT EXISTS (SELECT 1 FROM spatial_ref_sys s WHERE s.srid OPERATOR(pg_catalog.=) ST_SRID(given)) THEN
            PERFORM workorder.raise_error('WO102',
                pg_catalog.format('%s has an unknown SRID', subject),
                pg_catalog.format('The SRID is %s, which is not in spatial_ref_sys.', ST_SRID(given)),
                'Use a known SRID, e.g. 4326 for longitude/latitude or 4547 for CGCS2000 / 3-degree Gauss-Kruger CM 114E.');
        END IF;
        BEGIN
            result := ST_Transform(given, 4326);
        EXCEPTION WHEN others THEN
            PERFORM workorder.raise_error('WO102',
                pg_catalog.format('%s cannot be transformed to longitude/latitude', subject),
                pg_catalog.format('SRID %s: %s', ST_SRID(given), SQLERRM),
                'Check that the coordinates are in the SRID they claim.');
        END;
    END IF;
    IF ST_XMin(result) OPERATOR(pg_catalog.<) -180 OR ST_XMax(result) OPERATOR(pg_catalog.>) 180
       OR ST_YMin(result) OPERATOR(pg_catalog.<) -90 OR ST_YMax(result) OPERATOR(pg_catalog.>) 90
       OR NOT (ST_XMax(result) OPERATOR(pg_catalog.<=) 180 AND ST_YMax(result) OPERATOR(pg_catalog.<=) 90) THEN
        PERFORM workorder.raise_error('WO101',
            pg_catalog.format('%s is not on the earth', subject),
            pg_catalog.format('In longitude/latitude its extent is %s.', Box2D(result)::text),
            'Longitude must be within -180..180 and latitude within -90..90; check the SRID and the order of the axes.');
    END IF;
    RETURN result;
END
$$;

-- location_point returns a report's location as a point in SRID 4326, or raises a
-- clear error when it is not a usable point (see wgs84 for the common checks).
CREATE FUNCTION workorder.location_point(location geometry, subject text DEFAULT 'location')
RETURNS geometry
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    IF location IS NOT NULL AND GeometryType(location) OPERATOR(pg_catalog.<>) 'POINT' THEN
        PERFORM workorder.raise_error('WO101',
            pg_catalog.format('%s is not a point', subject),
            pg_catalog.format('The geometry is a %s: %s.', GeometryType(location), pg_catalog.left(ST_AsText(location), 200)),
            'Pass the point where the event is; for an area or a line use ST_PointOnSurface(geom).');
    END IF;
    -- A GPS fix may carry a height (POINT Z) or a measure: the place is its x and y.
    RETURN workorder.wgs84(ST_Force2D(location), subject);
END
$$;

-- area_m2 returns the area of a polygon in SRID 4326, in m², measured in the same
-- longitude/latitude plane the polygons are cut in, scaled by the length of a degree
-- at the polygon's latitude.  ST_Area(geography) would follow geodesic edges
-- instead, and so give a sliver that is zero in the plane, between two edges cut
-- along the same straight line, an area of square metres per kilometre of edge.
CREATE FUNCTION workorder.area_m2(polygon geometry)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    -- All OPERATOR() forms share one precedence, so every product is parenthesised.
    SELECT (ST_Area(polygon)
            OPERATOR(pg_catalog.*) ((111412.84 OPERATOR(pg_catalog.*) pg_catalog.cos(c.phi))
                                    OPERATOR(pg_catalog.-) (93.5 OPERATOR(pg_catalog.*) pg_catalog.cos(3 OPERATOR(pg_catalog.*) c.phi))))
           OPERATOR(pg_catalog.*) ((111132.954 OPERATOR(pg_catalog.-) (559.822 OPERATOR(pg_catalog.*) pg_catalog.cos(2 OPERATOR(pg_catalog.*) c.phi)))
                                   OPERATOR(pg_catalog.+) (1.175 OPERATOR(pg_catalog.*) pg_catalog.cos(4 OPERATOR(pg_catalog.*) c.phi)))
      FROM (SELECT pg_catalog.radians((ST_YMin(polygon) OPERATOR(pg_catalog.+) ST_YMax(polygon)) OPERATOR(pg_catalog./) 2) AS phi) c
$$;
-- workorder install script, part 20: jurisdictions.
--
-- An area is a jurisdiction polygon in a tree: district, town or street, village or
-- community, grid cell.  Codes follow GB/T 2260 (6 digits for a district) and its
-- 9- and 12-digit extensions for towns and villages; grid cells extend their
-- village's code.  A child's code always begins with its parent's code.
--
-- Areas outside the district's own jurisdiction (its neighbours) are loaded too,
-- with in_jurisdiction = false, so that a report from just across the line is
-- recognised as "out of jurisdiction" rather than lost.

CREATE TYPE workorder.area_level AS ENUM ('district', 'town', 'village', 'grid');

CREATE TABLE workorder.areas (
    code            text PRIMARY KEY,
    name            text NOT NULL,
    level           workorder.area_level NOT NULL,
    parent_code     text REFERENCES workorder.areas (code) DEFERRABLE INITIALLY DEFERRED,
    in_jurisdiction boolean NOT NULL DEFAULT true,
    geom            geometry(MultiPolygon, 4326) NOT NULL,
    -- path and path_names list the codes and names from the root down to this
    -- area; the trigger keeps them.
    path            text[] NOT NULL,
    path_names      text[] NOT NULL,
    loaded_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT areas_code_format CHECK (
        code OPERATOR(pg_catalog.~) '^[0-9]{6}([0-9]{3}([0-9]{3}([0-9]{3,6})?)?)?$'),
    CONSTRAINT areas_code_matches_level CHECK (
        CASE level
            WHEN 'district' THEN pg_catalog.length(code) OPERATOR(pg_catalog.=) 6
            WHEN 'town'     THEN pg_catalog.length(code) OPERATOR(pg_catalog.=) 9
            WHEN 'village'  THEN pg_catalog.length(code) OPERATOR(pg_catalog.=) 12
            ELSE pg_catalog.length(code) OPERATOR(pg_catalog.>) 12
        END),
    CONSTRAINT areas_name_length CHECK (
        pg_catalog.length(name) OPERATOR(pg_catalog.>=) 1
        AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 100),
    CONSTRAINT areas_parent_not_self CHECK (parent_code OPERATOR(pg_catalog.<>) code),
    CONSTRAINT areas_geom_valid CHECK (ST_IsValid(geom, 0) AND NOT ST_IsEmpty(geom))
);
CREATE INDEX areas_parent_idx ON workorder.areas (parent_code);
CREATE INDEX areas_path_idx ON workorder.areas USING gin (path);
SELECT pg_catalog.pg_extension_config_dump('workorder.areas', '');

COMMENT ON TABLE workorder.areas IS
    'Jurisdictions: district, town/street, village/community and grid cell, in SRID 4326. Load with workorder.load_area() or load_areas_geojson().';
COMMENT ON COLUMN workorder.areas.path IS 'Codes from the root area down to this one (kept by trigger).';
COMMENT ON COLUMN workorder.areas.path_names IS 'Names from the root area down to this one (kept by trigger).';

-- area_pieces is the subdivided copy of every area's polygon, with a GiST index:
-- point lookups test a few small pieces instead of one polygon of thousands of
-- vertices.  Triggers on areas keep it in step; it is derived, so pg_dump leaves it
-- out and a restore rebuilds it from areas.
CREATE TABLE workorder.area_pieces (
    area_code text NOT NULL REFERENCES workorder.areas (code)
                   ON DELETE CASCADE ON UPDATE CASCADE,
    depth     integer NOT NULL,
    geom      geometry(Polygon, 4326) NOT NULL
);
CREATE INDEX area_pieces_geom_idx ON workorder.area_pieces USING gist (geom);
CREATE INDEX area_pieces_area_idx ON workorder.area_pieces (area_code);
COMMENT ON TABLE workorder.area_pieces IS
    'ST_Subdivide of each area''s polygon (derived from workorder.areas, kept by trigger).';

-- area_repairs has a row for every area whose polygon the loader had to repair.
CREATE TABLE workorder.area_repairs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    area_code        text NOT NULL,
    repaired_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    problem          text NOT NULL,
    action           text NOT NULL,
    parts_before     integer NOT NULL,
    parts_after      integer NOT NULL,
    area_m2          double precision NOT NULL,
    spike_vertices   integer NOT NULL,
    spike_reach_m    double precision NOT NULL
);
CREATE INDEX area_repairs_area_idx ON workorder.area_repairs (area_code);
SELECT pg_catalog.pg_extension_config_dump('workorder.area_repairs', '');
COMMENT ON TABLE workorder.area_repairs IS
    'One row per repaired polygon: what was wrong (ST_IsValidReason), what was done, and what of the drawing could not be kept.';
COMMENT ON COLUMN workorder.area_repairs.spike_vertices IS
    'Vertices of the polygon as drawn that the repaired polygon does not cover: they lie on spikes or collapsed rings, which enclose no area.';
COMMENT ON COLUMN workorder.area_repairs.spike_reach_m IS
    'How far, in metres, the farthest of those vertices lies from the repaired polygon.';

-- areas_before_write validates a row's place in the tree and computes its path.
CREATE FUNCTION workorder.areas_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    parent workorder.areas;
BEGIN
    IF NEW.parent_code IS NULL THEN
        IF NEW.level OPERATOR(pg_catalog.<>) 'district' THEN
            PERFORM workorder.raise_error('WO201',
                pg_catalog.format('area %s (%s) has no parent', NEW.code, NEW.name),
                pg_catalog.format('Level is %s; only a district may be a root area.', NEW.level),
                'Give the area the code of the area that contains it as parent_code.');
        END IF;
        NEW.path := ARRAY[NEW.code];
        NEW.path_names := ARRAY[NEW.name];
        RETURN NEW;
    END IF;

    SELECT * INTO parent FROM workorder.areas a
     WHERE a.code OPERATOR(pg_catalog.=) NEW.parent_code;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO201',
            pg_catalog.format('area %s (%s) has an unknown parent', NEW.code, NEW.name),
            pg_catalog.format('parent_code is %s, which is not a loaded area.', NEW.parent_code),
            'Load the parent area first.');
    END IF;
    IF NEW.level::pg_catalog.text IS DISTINCT FROM ((pg_catalog.enum_range(parent.level, NULL))[2])::pg_catalog.text THEN
        PERFORM workorder.raise_error('WO201',
            pg_catalog.format('area %s (%s) is not one level below its parent %s', NEW.code, NEW.name, parent.code),
            pg_catalog.format('The area''s level is %s and its parent''s is %s.', NEW.level, parent.level),
            'Levels go district > town > village > grid, one step at a time.');
    END IF;
    IF pg_catalog.left(NEW.code, pg_catalog.length(parent.code)) OPERATOR(pg_catalog.<>) parent.code THEN
        PERFORM workorder.raise_error('WO201',
            pg_catalog.format('area code %s does not extend its parent''s code %s', NEW.code, parent.code),
            pg_catalog.format('Area %s (%s) has parent %s (%s).', NEW.code, NEW.name, parent.code, parent.name),
            'Under GB/T 2260 a child''s code begins with its parent''s code; check the code or the parent.');
    END IF;
    IF NEW.in_jurisdiction AND NOT parent.in_jurisdiction THEN
        NEW.in_jurisdiction := false;
    END IF;
    NEW.path := parent.path OPERATOR(pg_catalog.||) NEW.code;
    NEW.path_names := parent.path_names OPERATOR(pg_catalog.||) NEW.name;
    RETURN NEW;
END
$$;

CREATE TRIGGER areas_before_write
    BEFORE INSERT OR UPDATE ON workorder.areas
    FOR EACH ROW EXECUTE FUNCTION workorder.areas_before_write();

-- areas_after_write keeps area_pieces in step with a changed polygon, and the
-- paths of the descendants in step with a moved or renamed area.
CREATE FUNCTION workorder.areas_after_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'INSERT'
       OR NOT ST_Equals(NEW.geom, OLD.geom)
       OR NEW.path OPERATOR(pg_catalog.<>) OLD.path THEN
        DELETE FROM workorder.area_pieces p WHERE p.area_code OPERATOR(pg_catalog.=) NEW.code;
        INSERT INTO workorder.area_pieces (area_code, depth, geom)
        SELECT NEW.code, pg_catalog.cardinality(NEW.path), piece
          FROM ST_Subdivide(NEW.geom, workorder.setting('area_piece_vertices', '128')::integer) AS piece;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE'
       AND (NEW.path OPERATOR(pg_catalog.<>) OLD.path OR NEW.path_names OPERATOR(pg_catalog.<>) OLD.path_names) THEN
        -- Touching each child makes its before-trigger recompute its path, and so on down.
        UPDATE workorder.areas c SET parent_code = c.parent_code
         WHERE c.parent_code OPERATOR(pg_catalog.=) NEW.code;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER areas_after_write
    AFTER INSERT OR UPDATE ON workorder.areas
    FOR EACH ROW EXECUTE FUNCTION workorder.areas_after_write();

-- area_polygon turns a polygon given to the loader into a valid MultiPolygon in
-- SRID 4326, repairing it when it is invalid.  It refuses what cannot be an area.
--
-- The repair must never drop part of an area.  GEOS offers two repairs that
-- disagree where rings cross or overlap: "linework" keeps areas by the even-odd
-- rule (an overlapped lobe becomes a hole), "structure" keeps what the outer rings
-- enclose but may drop a polygon of a MultiPolygon that another one overlaps.  The
-- union of the two keeps every area either keeps.  What no polygon can keep are
-- spikes and collapsed rings, which enclose no area: their vertices are counted in
-- the repair row, with how far they reach, and a NOTICE says so.
CREATE FUNCTION workorder.area_polygon(area_code text, polygon geometry)
RETURNS geometry
LANGUAGE plpgsql
AS $$
DECLARE
    repaired geometry;
    problem text;
    spikes integer;
    reach double precision;
BEGIN
    -- An area is an outline on the ground: heights and measures (GeoJSON from a GIS
    -- often carries a Z of 0) say nothing about where it is, and the column is 2D.
    polygon := ST_Force2D(polygon);
    IF polygon IS NOT NULL AND GeometryType(polygon) NOT IN ('POLYGON', 'MULTIPOLYGON') THEN
        PERFORM workorder.raise_error('WO202',
            pg_catalog.format('area %s is not a polygon', area_code),
            pg_catalog.format('The geometry is a %s.', GeometryType(polygon)),
            'An area needs a Polygon or MultiPolygon that outlines it.');
    END IF;
    polygon := workorder.wgs84(polygon, pg_catalog.format('polygon of area %s', area_code));

    IF ST_IsValid(polygon, 0) THEN
        RETURN ST_Multi(polygon);
    END IF;

    problem := (ST_IsValidDetail(polygon)).reason;
    repaired := ST_Multi(ST_CollectionExtract(ST_Union(
                    ST_CollectionExtract(ST_MakeValid(polygon, 'method=structure'), 3),
                    ST_CollectionExtract(ST_MakeValid(polygon, 'method=linework'), 3)), 3));
    IF repaired IS NULL OR ST_IsEmpty(repaired) THEN
        PERFORM workorder.raise_error('WO202',
            pg_catalog.format('polygon of area %s cannot be repaired', area_code),
            pg_catalog.format('It is invalid (%s) and encloses no area.', problem),
            'Check the polygon: it may be a line or a point drawn as a polygon.');
    END IF;

    SELECT pg_catalog.count(*)::integer,
           COALESCE(pg_catalog.max(ST_Distance(repaired::geography, d.geom::geography)), 0)
      INTO spikes, reach
      FROM ST_DumpPoints(polygon) AS d
     WHERE NOT ST_DWithin(repaired, d.geom, 1e-9);

    INSERT INTO workorder.area_repairs
        (area_code, problem, action, parts_before, parts_after, area_m2, spike_vertices, spike_reach_m)
    VALUES (area_code, problem, 'ST_MakeValid structure UNION linework',
            ST_NumGeometries(ST_Multi(polygon)), ST_NumGeometries(repaired),
            ST_Area(repaired::geography), spikes, reach);

    RAISE NOTICE 'area %: repaired invalid polygon (%): % part(s), % m²; % spike vertices reaching up to % m dropped',
        area_code, problem, ST_NumGeometries(repaired),
        pg_catalog.round(ST_Area(repaired::geography)::numeric), spikes, pg_catalog.round(reach::numeric, 1);
    RETURN repaired;
END
$$;

-- load_area inserts or replaces one area.  Its polygon is repaired when invalid
-- (a NOTICE and a row in area_repairs say so), transformed to SRID 4326 and
-- subdivided for lookups.
CREATE FUNCTION workorder.load_area(
    code text,
    name text,
    level workorder.area_level,
    parent_code text,
    polygon geometry,
    in_jurisdiction boolean DEFAULT true)
RETURNS workorder.areas
LANGUAGE plpgsql
AS $$
DECLARE
    loaded workorder.areas;
BEGIN
    IF code IS NULL OR code OPERATOR(pg_catalog.!~) '^[0-9]{6}([0-9]{3}([0-9]{3}([0-9]{3,6})?)?)?$' THEN
        PERFORM workorder.raise_error('WO201',
            'invalid area code',
            pg_catalog.format('The code is %s.', COALESCE(pg_catalog.quote_literal(code), 'NULL')),
            'Use a GB/T 2260 code: 6 digits for a district, 9 for a town, 12 for a village, 15 to 18 for a grid cell.');
    END IF;
    IF name IS NULL OR pg_catalog.length(pg_catalog.btrim(name)) OPERATOR(pg_catalog.=) 0
       OR pg_catalog.length(name) OPERATOR(pg_catalog.>) 100 THEN
        PERFORM workorder.raise_error('WO201',
            pg_catalog.format('invalid name for area %s', code),
            pg_catalog.format('The name is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(name, 120)), 'NULL')),
            'Give the area its official name, 1 to 100 characters.');
    END IF;
    IF level IS NULL THEN
        PERFORM workorder.raise_error('WO201',
            pg_catalog.format('area %s has no level', code), 'The level is NULL.',
            'Use one of district, town, village, grid.');
    END IF;
    -- The same rule as the check constraint areas_code_matches_level, so that a
    -- code of the wrong length is WO201, not 23514.
    IF pg_catalog.length(code) OPERATOR(pg_catalog.<>) (CASE level::pg_catalog.text WHEN 'district' THEN 6 WHEN 'town' THEN 9
                                                                  WHEN 'village' THEN 12 ELSE pg_catalog.length(code) END)
       OR (level OPERATOR(pg_catalog.=) 'grid' AND pg_catalog.length(code) OPERATOR(pg_catalog.<=) 12) THEN
        PERFORM workorder.raise_error('WO201',
            pg_catalog.format('area code %s does not fit level %s', code, level),
            pg_catalog.format('The code has %s digits.', pg_catalog.length(code)),
            'Use a GB/T 2260 code: 6 digits for a district, 9 for a town, 12 for a village, 15 to 18 for a grid cell.');
    END IF;

    INSERT INTO workorder.areas AS a (code, name, level, parent_code, in_jurisdiction, geom, path, path_names)
    VALUES (code, pg_catalog.btrim(name), level, parent_code, COALESCE(in_jurisdiction, true),
            workorder.area_polygon(code, polygon), '{}', '{}')
    ON CONFLICT ON CONSTRAINT areas_pkey DO UPDATE
       SET name = EXCLUDED.name, level = EXCLUDED.level, parent_code = EXCLUDED.parent_code,
           in_jurisdiction = EXCLUDED.in_jurisdiction, geom = EXCLUDED.geom,
           loaded_at = pg_catalog.now()
    RETURNING * INTO loaded;
    RETURN loaded;
END
$$;

-- load_areas_geojson loads every feature of a GeoJSON FeatureCollection as an
-- area at one level.  All features load or none do.
CREATE FUNCTION workorder.load_areas_geojson(
    collection jsonb,
    level workorder.area_level,
    parent_code text DEFAULT NULL,
    in_jurisdiction boolean DEFAULT true,
    code_property text DEFAULT 'code',
    name_property text DEFAULT 'name')
RETURNS TABLE (code text, name text, repaired boolean)
LANGUAGE plpgsql
AS $$
DECLARE
    feature jsonb;
    feature_number integer := 0;
    feature_code text;
    feature_name text;
    polygon geometry;
    repairs_before bigint;
BEGIN
    IF collection IS NULL
       OR pg_catalog.jsonb_typeof(collection) OPERATOR(pg_catalog.<>) 'object'
       OR collection OPERATOR(pg_catalog.->>) 'type' IS DISTINCT FROM 'FeatureCollection'
       OR pg_catalog.jsonb_typeof(collection OPERATOR(pg_catalog.->) 'features') IS DISTINCT FROM 'array' THEN
        PERFORM workorder.raise_error('WO203',
            'area file is not a GeoJSON FeatureCollection',
            pg_catalog.format('It begins %s.', pg_catalog.left(COALESCE(collection::text, 'NULL'), 80)),
            'Pass a FeatureCollection: {"type": "FeatureCollection", "features": [...]}.');
    END IF;

    FOR feature IN SELECT f FROM pg_catalog.jsonb_array_elements(collection OPERATOR(pg_catalog.->) 'features') AS f
    LOOP
        feature_number := feature_number OPERATOR(pg_catalog.+) 1;
        feature_code := feature OPERATOR(pg_catalog.->) 'properties' OPERATOR(pg_catalog.->>) code_property;
        feature_name := feature OPERATOR(pg_catalog.->) 'properties' OPERATOR(pg_catalog.->>) name_property;
        IF feature_code IS NULL OR feature_name IS NULL THEN
            PERFORM workorder.raise_error('WO203',
                pg_catalog.format('feature %s of the area file has no %s or no %s', feature_number, code_property, name_property),
                pg_catalog.format('Its properties are %s.', feature OPERATOR(pg_catalog.->) 'properties'),
                'Name the properties that hold the code and the name with code_property and name_property.');
        END IF;
        BEGIN
            polygon := ST_SetSRID(ST_GeomFromGeoJSON(feature OPERATOR(pg_catalog.->) 'geometry'), 4326);
        EXCEPTION WHEN others THEN
            PERFORM workorder.raise_error('WO203',
                pg_catalog.format('feature %s (%s) of the area file has no readable geometry', feature_number, feature_code),
                SQLERRM,
                'Each feature needs a GeoJSON Polygon or MultiPolygon geometry in longitude/latitude.');
        END;
        SELECT pg_catalog.count(*) INTO repairs_before FROM workorder.area_repairs r
         WHERE r.area_code OPERATOR(pg_catalog.=) feature_code;
        PERFORM workorder.load_area(feature_code, feature_name, level, parent_code, polygon, in_jurisdiction);
        code := feature_code;
        name := feature_name;
        repaired := (SELECT pg_catalog.count(*) FROM workorder.area_repairs r
                      WHERE r.area_code OPERATOR(pg_catalog.=) feature_code) OPERATOR(pg_catalog.>) repairs_before;
        RETURN NEXT;
    END LOOP;
END
$$;
-- workorder install script, part 25: jurisdiction lookup and the area check.

-- location is what locate() answers for a point.
--   area_code ... level   the area the point belongs to (NULL when none is near)
--   chain, chain_names    the codes and names from the root area down to it
--   in_jurisdiction       false for a neighbouring district or no area at all
--   approximate           true when the point is in no area at the answered
--                         depth and the nearest area within the tolerance was taken
--   distance_m            metres from the point to the answered area (0 inside)
--   match                 'contained', 'nearest' or 'outside'
CREATE TYPE workorder.location AS (
    area_code       text,
    area_name       text,
    level           workorder.area_level,
    chain           text[],
    chain_names     text[],
    in_jurisdiction boolean,
    approximate     boolean,
    distance_m      double precision,
    match           text
);

-- nearest_area returns the area nearest to a point among the children of parent
-- (or among all areas, when parent is NULL), if one lies within tolerance_m metres.
-- A planar ST_DWithin bounds the search first (a degree is at least 100 km of
-- latitude, and at least 100 km times cos(latitude) of longitude, so the bound
-- never excludes a piece within the tolerance; a tolerance under a millimetre bounds
-- it as a millimetre, since a tinier one underflows in the division, and the exact
-- tolerance filters the pieces found; cosd, since radians() of a latitude such as
-- 5e-324 underflows); then the GiST index orders the
-- few close pieces by planar distance and they are measured on the spheroid.
-- Ties go to the deeper area, then the smaller code.  It is plpgsql, not SQL, so
-- that its plan is cached across calls from locate().
CREATE FUNCTION workorder.nearest_area(point geometry, parent text, tolerance_m double precision,
                                       OUT area_code text, OUT distance_m double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    -- locate() passes a checked point and tolerance; a direct call may not.
    IF (CASE WHEN GeometryType(point) IS DISTINCT FROM 'POINT' OR ST_SRID(point) OPERATOR(pg_catalog.<>) 4326 THEN true
             ELSE NOT (ST_X(point) OPERATOR(pg_catalog.>=) -180 AND ST_X(point) OPERATOR(pg_catalog.<=) 180
                       AND ST_Y(point) OPERATOR(pg_catalog.>=) -90 AND ST_Y(point) OPERATOR(pg_catalog.<=) 90) END) THEN
        PERFORM workorder.raise_error('WO101', 'nearest_area needs a longitude/latitude point',
            pg_catalog.format('The geometry is %s.', COALESCE(pg_catalog.left(ST_AsEWKT(point), 200), 'NULL')),
            'Call workorder.locate(), which checks and transforms the location.');
    END IF;
    IF NOT (tolerance_m OPERATOR(pg_catalog.>=) 0 AND tolerance_m OPERATOR(pg_catalog.<) 'Infinity'::float8) THEN
        PERFORM workorder.raise_error('WO103', 'invalid tolerance for nearest_area',
            pg_catalog.format('tolerance_m is %s.', COALESCE(tolerance_m::text, 'NULL')),
            'Give a finite tolerance of zero or more metres.');
    END IF;
    SELECT c.area_code, c.distance_m INTO area_code, distance_m
      FROM (SELECT p.area_code, p.depth,
                   ST_Distance(p.geom::geography, point::geography) AS distance_m
              FROM workorder.area_pieces p
              JOIN workorder.areas a ON a.code OPERATOR(pg_catalog.=) p.area_code
             WHERE ST_DWithin(p.geom, point,
                              (GREATEST(tolerance_m, 0.001) OPERATOR(pg_catalog./) 100000)
                              OPERATOR(pg_catalog./) GREATEST(pg_catalog.cosd(ST_Y(point)), 0.01))
               AND (parent IS NULL OR a.parent_code OPERATOR(pg_catalog.=) parent)
             ORDER BY p.geom <-> point
             LIMIT 8) c
     WHERE c.distance_m OPERATOR(pg_catalog.<=) tolerance_m
     ORDER BY c.distance_m, c.depth DESC, c.area_code
     LIMIT 1;
END
$$;

-- area_summary returns what locate() needs to know of one area.
CREATE FUNCTION workorder.area_summary(area_code text,
    OUT code text, OUT name text, OUT level workorder.area_level, OUT in_jurisdiction boolean,
    OUT path text[], OUT path_names text[], OUT has_children boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    SELECT a.code, a.name, a.level, a.in_jurisdiction, a.path, a.path_names,
           EXISTS (SELECT 1 FROM workorder.areas c WHERE c.parent_code OPERATOR(pg_catalog.=) a.code)
      INTO code, name, level, in_jurisdiction, path, path_names, has_children
      FROM workorder.areas a WHERE a.code OPERATOR(pg_catalog.=) area_code;
END
$$;

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
CREATE FUNCTION workorder.locate(location geometry, tolerance_m double precision DEFAULT NULL)
RETURNS workorder.location
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN workorder.locate_point(workorder.location_point(location), tolerance_m);
END
$$;

-- locate_point is locate() for a point that location_point() has checked
-- already: submit() checks a report's location once, with its own wording, and
-- locates the point it got.  C (src/locate.c): the same queries, the common case
-- (a point inside a leaf area) one query prepared once per backend.
CREATE FUNCTION workorder.locate_point(point geometry, tolerance_m double precision DEFAULT NULL)
RETURNS workorder.location
AS 'MODULE_PATHNAME', 'locate_locate_point'
LANGUAGE C STABLE PARALLEL SAFE;

-- locate(lon, lat) is locate() for a longitude and latitude in WGS84.
CREATE FUNCTION workorder.locate(lon double precision, lat double precision,
                                 tolerance_m double precision DEFAULT NULL)
RETURNS workorder.location
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT workorder.locate(ST_SetSRID(ST_MakePoint(lon, lat), 4326), tolerance_m)
$$;

-- check_areas lists every overlap and gap between sibling areas, and every part
-- of a child that lies outside its parent, with the size of each in m².
--   kind 'overlap'        area_a and area_b, siblings, share this part
--   kind 'gap'            a part of parent covered by none of its children
--                         (for root areas: a hole enclosed by their union)
--   kind 'outside_parent' a part of area_a that is not inside its parent
-- Parts smaller than min_area_m2 (default 1 m²) are floating-point noise from
-- clipping and are left out unless asked for.
CREATE FUNCTION workorder.check_areas(min_area_m2 double precision DEFAULT 1.0)
RETURNS TABLE (kind text, parent_code text, area_a text, area_b text,
               area_m2 double precision, geom geometry)
LANGUAGE sql STABLE
AS $$
    WITH sibling_overlaps AS (
        SELECT 'overlap'::text AS kind, a.parent_code, a.code AS area_a, b.code AS area_b,
               (ST_Dump(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3))).geom AS geom
          FROM workorder.areas a
          JOIN workorder.areas b
            ON a.parent_code IS NOT DISTINCT FROM b.parent_code
           AND a.level OPERATOR(pg_catalog.=) b.level
           AND a.code OPERATOR(pg_catalog.<) b.code
           AND ST_Intersects(a.geom, b.geom)
    ), child_gaps AS (
        SELECT 'gap'::text AS kind, p.code AS parent_code, NULL::text AS area_a, NULL::text AS area_b,
               (ST_Dump(ST_CollectionExtract(ST_Difference(p.geom, c.covered), 3))).geom AS geom
          FROM workorder.areas p
          JOIN LATERAL (SELECT ST_Union(c.geom) AS covered FROM workorder.areas c
                         WHERE c.parent_code OPERATOR(pg_catalog.=) p.code) c ON c.covered IS NOT NULL
    ), root_gaps AS (
        SELECT 'gap'::text AS kind, NULL::text AS parent_code, NULL::text AS area_a, NULL::text AS area_b,
               r.geom AS geom
          FROM (SELECT (ST_DumpRings((ST_Dump(ST_Union(a.geom))).geom)).*
                  FROM workorder.areas a WHERE a.parent_code IS NULL) r
         WHERE r.path[1] OPERATOR(pg_catalog.>) 0
    ), outside AS (
        SELECT 'outside_parent'::text AS kind, c.parent_code, c.code AS area_a, NULL::text AS area_b,
               (ST_Dump(ST_CollectionExtract(ST_Difference(c.geom, p.geom), 3))).geom AS geom
          FROM workorder.areas c
          JOIN workorder.areas p ON p.code OPERATOR(pg_catalog.=) c.parent_code
         WHERE NOT ST_CoveredBy(c.geom, p.geom)
    ), found AS (
        SELECT * FROM sibling_overlaps UNION ALL SELECT * FROM child_gaps
        UNION ALL SELECT * FROM root_gaps UNION ALL SELECT * FROM outside
    )
    SELECT f.kind, f.parent_code, f.area_a, f.area_b, workorder.area_m2(f.geom) AS area_m2, f.geom
      FROM found f
     WHERE workorder.area_m2(f.geom) OPERATOR(pg_catalog.>=) min_area_m2
     ORDER BY f.kind, f.parent_code NULLS FIRST, f.area_a NULLS FIRST, f.area_b NULLS FIRST,
              workorder.area_m2(f.geom) DESC
$$;
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
    parent_code     text REFERENCES workorder.units (code) DEFERRABLE INITIALLY DEFERRED,
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
SELECT pg_catalog.pg_extension_config_dump('workorder.units', '');
COMMENT ON TABLE workorder.units IS
    'Handling units: centers (district, town, village), district departments and their town branches. Load with workorder.load_units().';

-- units_before_write checks that a unit fits its area and its parent.
CREATE FUNCTION workorder.units_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    area workorder.areas;
    parent workorder.units;
BEGIN
    SELECT * INTO area FROM workorder.areas a WHERE a.code OPERATOR(pg_catalog.=) NEW.area_code;
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
        SELECT * INTO parent FROM workorder.units u WHERE u.code OPERATOR(pg_catalog.=) NEW.parent_code;
        IF NOT FOUND THEN
            PERFORM workorder.raise_error('WO211',
                pg_catalog.format('unit %s (%s) has an unknown parent', NEW.code, NEW.name),
                pg_catalog.format('parent_code is %s.', NEW.parent_code),
                'Load the parent unit first, or correct parent_code.');
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
-- workorder install script, part 40: the event catalogue and the channels.
--
-- A category is a node in the hierarchical event catalogue.  Its defaults (the
-- handling level, the department kind, the SLA policy, the dedup radius and time
-- window) may be left NULL, in which case the nearest ancestor's value applies;
-- workorder.category_defaults shows the values in force.
--
-- A channel is where reports come from and where results go back to.  Each channel
-- has its own category codes, mapped onto the catalogue by channel_categories.

CREATE TABLE workorder.categories (
    code            text PRIMARY KEY,
    name            text NOT NULL,
    parent_code     text REFERENCES workorder.categories (code) DEFERRABLE INITIALLY DEFERRED,
    handling_level  workorder.area_level,
    department_kind text REFERENCES workorder.department_kinds (code),
    sla_policy      text,
    dedup_radius_m  double precision,
    dedup_window    interval,
    description     text,
    active          boolean NOT NULL DEFAULT true,
    CONSTRAINT categories_code_format CHECK (code OPERATOR(pg_catalog.~) '^[A-Z][A-Z0-9_]{0,31}$'),
    CONSTRAINT categories_name_length CHECK (pg_catalog.length(name) OPERATOR(pg_catalog.>=) 1
                                             AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 100),
    CONSTRAINT categories_parent_not_self CHECK (parent_code OPERATOR(pg_catalog.<>) code),
    CONSTRAINT categories_level CHECK (handling_level OPERATOR(pg_catalog.<>) 'grid'),
    CONSTRAINT categories_dedup_radius CHECK (dedup_radius_m OPERATOR(pg_catalog.>) 0
                                              AND dedup_radius_m OPERATOR(pg_catalog.<=) 5000),
    CONSTRAINT categories_dedup_window CHECK (dedup_window OPERATOR(pg_catalog.>) '0'::interval
                                              AND dedup_window OPERATOR(pg_catalog.<=) '90 days'::interval)
);
CREATE INDEX categories_parent_idx ON workorder.categories (parent_code);
SELECT pg_catalog.pg_extension_config_dump('workorder.categories', '');
COMMENT ON TABLE workorder.categories IS
    'The event catalogue. NULL defaults inherit from the parent; see workorder.category_defaults. Load with workorder.load_categories().';

-- categories_before_write refuses a parent that would make the catalogue a cycle.
CREATE FUNCTION workorder.categories_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.parent_code IS NOT NULL AND EXISTS (
        WITH RECURSIVE up AS (
            SELECT c.code, c.parent_code FROM workorder.categories c
             WHERE c.code OPERATOR(pg_catalog.=) NEW.parent_code
            UNION
            SELECT c.code, c.parent_code FROM workorder.categories c
              JOIN up ON c.code OPERATOR(pg_catalog.=) up.parent_code)
        SELECT 1 FROM up WHERE up.code OPERATOR(pg_catalog.=) NEW.code) THEN
        PERFORM workorder.raise_error('WO221',
            pg_catalog.format('category %s cannot be placed under %s', NEW.code, NEW.parent_code),
            pg_catalog.format('%s is %s itself or one of its descendants.', NEW.parent_code, NEW.code),
            'Choose a parent outside the category''s own subtree.');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER categories_before_write
    BEFORE INSERT OR UPDATE OF parent_code ON workorder.categories
    FOR EACH ROW EXECUTE FUNCTION workorder.categories_before_write();

-- category_defaults shows, for every category, its root family, its path and the
-- defaults in force: its own value or else its nearest ancestor's.
CREATE VIEW workorder.category_defaults AS
WITH RECURSIVE tree AS (
    SELECT c.code, c.name, c.code AS family, ARRAY[c.code] AS path,
           c.handling_level, c.department_kind, c.sla_policy, c.dedup_radius_m, c.dedup_window, c.active
      FROM workorder.categories c
     WHERE c.parent_code IS NULL
    UNION ALL
    SELECT c.code, c.name, t.family, t.path OPERATOR(pg_catalog.||) c.code,
           COALESCE(c.handling_level, t.handling_level),
           COALESCE(c.department_kind, t.department_kind),
           COALESCE(c.sla_policy, t.sla_policy),
           COALESCE(c.dedup_radius_m, t.dedup_radius_m),
           COALESCE(c.dedup_window, t.dedup_window),
           c.active AND t.active
      FROM workorder.categories c
      JOIN tree t ON c.parent_code OPERATOR(pg_catalog.=) t.code
)
SELECT code, name, family, path, handling_level, department_kind, sla_policy,
       dedup_radius_m, dedup_window, active
  FROM tree;
COMMENT ON VIEW workorder.category_defaults IS
    'Every category with its family (root), path and the defaults in force after inheritance.';

-- category_effective holds category_defaults as a table, so that intake reads a
-- category's defaults with one primary-key lookup instead of walking the tree.  A
-- statement trigger on categories rebuilds it; it is derived, so pg_dump leaves it
-- out and a restore rebuilds it.
CREATE TABLE workorder.category_effective (
    code            text PRIMARY KEY,
    name            text NOT NULL,
    family          text NOT NULL,
    path            text[] NOT NULL,
    handling_level  workorder.area_level,
    department_kind text,
    sla_policy      text,
    dedup_radius_m  double precision,
    dedup_window    interval,
    active          boolean NOT NULL
);
COMMENT ON TABLE workorder.category_effective IS
    'workorder.category_defaults kept as a table for intake (derived from categories, kept by trigger).';

-- categories_after_change rebuilds category_effective.  The catalogue has tens of
-- nodes and changes rarely, so a full rebuild is simplest and cheap.
CREATE FUNCTION workorder.categories_after_change()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM workorder.category_effective;
    INSERT INTO workorder.category_effective
    SELECT d.code, d.name, d.family, d.path, d.handling_level, d.department_kind, d.sla_policy,
           d.dedup_radius_m, d.dedup_window, d.active
      FROM workorder.category_defaults d;
    RETURN NULL;
END
$$;

CREATE TRIGGER categories_after_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.categories
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.categories_after_change();

CREATE TYPE workorder.channel_kind AS ENUM
    ('hotline', 'mailbox', 'inspection', 'platform', 'opinion', 'video_ai', 'department', 'open311', 'other');

CREATE TABLE workorder.channels (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    kind        workorder.channel_kind NOT NULL,
    -- replies: whether results go back to the reporter through this channel.
    replies     boolean NOT NULL DEFAULT true,
    active      boolean NOT NULL DEFAULT true,
    CONSTRAINT channels_code_format CHECK (code OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,31}$'),
    CONSTRAINT channels_name_length CHECK (pg_catalog.length(name) OPERATOR(pg_catalog.>=) 1
                                           AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 100)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.channels', '');
COMMENT ON TABLE workorder.channels IS 'Where reports come from and results go back to. Load with workorder.load_channels().';

CREATE TABLE workorder.channel_categories (
    channel_code          text NOT NULL REFERENCES workorder.channels (code) ON DELETE CASCADE ON UPDATE CASCADE,
    channel_category_code text NOT NULL,
    channel_category_name text,
    category_code         text NOT NULL REFERENCES workorder.categories (code) ON UPDATE CASCADE,
    PRIMARY KEY (channel_code, channel_category_code),
    CONSTRAINT channel_categories_code_length CHECK (
        pg_catalog.length(channel_category_code) OPERATOR(pg_catalog.>=) 1
        AND pg_catalog.length(channel_category_code) OPERATOR(pg_catalog.<=) 64)
);
CREATE INDEX channel_categories_category_idx ON workorder.channel_categories (category_code);
SELECT pg_catalog.pg_extension_config_dump('workorder.channel_categories', '');
COMMENT ON TABLE workorder.channel_categories IS 'Each channel''s own category codes, mapped onto the catalogue.';

-- map_category returns the catalogue code for a channel's category code: the
-- channel's own mapping first, then the code itself if it is a catalogue code.
-- NULL means the code is unknown; intake sends such a report to a dispatcher.
-- (C, from the per-backend reference cache of src/refcache.c: it runs on every
-- submit.)
CREATE FUNCTION workorder.map_category(channel text, category text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_map_category'
LANGUAGE C STABLE PARALLEL SAFE;

-- channel_is_active says whether an active channel has this code (from the
-- reference cache: submit() asks it first on every report).
CREATE FUNCTION workorder.channel_is_active(channel text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'reference_channel_is_active'
LANGUAGE C STABLE PARALLEL SAFE;
-- workorder install script, part 45: loaders for the reference data.
--
-- Each loader takes a JSON array of objects, one per row, inserts new rows and
-- updates existing ones (by code), and returns how many it loaded.  A batch
-- loads whole or not at all, and an error names the element that failed.  From a
-- CSV file, the usual path is \copy into a temporary table, then
--     SELECT workorder.load_units(jsonb_agg(t)) FROM staged_units t;

-- batch_depths numbers the elements of a batch and gives each its depth below the
-- elements whose parent is not in the batch.  Elements on a cycle of parents are
-- never reached from such a root, so they are missing from the answer.
CREATE FUNCTION workorder.batch_depths(batch jsonb, parent_key text)
RETURNS TABLE (element_number integer, item jsonb, depth integer)
LANGUAGE sql IMMUTABLE
AS $$
    WITH RECURSIVE elements AS (
        SELECT e.ordinality::integer AS element_number, e.value AS item
          FROM pg_catalog.jsonb_array_elements(batch) WITH ORDINALITY AS e
    ), tree AS (
        SELECT el.element_number, el.item, 0 AS depth
          FROM elements el
         WHERE NOT EXISTS (SELECT 1 FROM elements p
                            WHERE (p.item OPERATOR(pg_catalog.->>) 'code')
                                  OPERATOR(pg_catalog.=) (el.item OPERATOR(pg_catalog.->>) parent_key))
        UNION ALL
        SELECT el.element_number, el.item, tree.depth OPERATOR(pg_catalog.+) 1
          FROM elements el
          JOIN tree ON (el.item OPERATOR(pg_catalog.->>) parent_key)
                       OPERATOR(pg_catalog.=) (tree.item OPERATOR(pg_catalog.->>) 'code')
         WHERE tree.depth OPERATOR(pg_catalog.<) 100
    )
    SELECT t.element_number, t.item, pg_catalog.max(t.depth)::integer
      FROM tree t
     GROUP BY t.element_number, t.item
$$;

-- batch_in_order returns the elements of a batch so that an element whose parent
-- is in the same batch comes after that parent.  A cycle inside the batch is an
-- error, since no order could load it.
CREATE FUNCTION workorder.batch_in_order(batch jsonb, what text, parent_key text)
RETURNS TABLE (element_number integer, item jsonb)
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    reached integer;
    total integer;
BEGIN
    IF batch IS NULL OR pg_catalog.jsonb_typeof(batch) OPERATOR(pg_catalog.<>) 'array' THEN
        PERFORM workorder.raise_error('WO210',
            pg_catalog.format('%s batch is not a JSON array', what),
            pg_catalog.format('It begins %s.', pg_catalog.left(COALESCE(batch::text, 'NULL'), 80)),
            'Pass a JSON array with one object per row, e.g. SELECT jsonb_agg(t) FROM staged t.');
    END IF;
    total := pg_catalog.jsonb_array_length(batch);
    SELECT pg_catalog.count(*) INTO reached FROM workorder.batch_depths(batch, parent_key) d
     WHERE d.depth OPERATOR(pg_catalog.<) 100;
    IF reached OPERATOR(pg_catalog.<>) total THEN
        PERFORM workorder.raise_error('WO210',
            pg_catalog.format('%s batch has a cycle of parents', what),
            pg_catalog.format('%s of its %s elements are not below an element without a parent in the batch.',
                              total OPERATOR(pg_catalog.-) reached, total),
            pg_catalog.format('Check %s: following it upwards must end.', parent_key));
    END IF;
    RETURN QUERY SELECT d.element_number, d.item FROM workorder.batch_depths(batch, parent_key) d
                  ORDER BY d.depth, d.element_number;
END
$$;

-- load_batch loads every element of a batch with load_one, a function that loads
-- one element (a JSON object) and is called parents first.  An error met on one
-- element is raised again naming that element: a workorder SQLSTATE is kept, any
-- other becomes WO210.  The batch runs in the caller's transaction, so an error
-- leaves nothing of it behind.
CREATE FUNCTION workorder.load_batch(batch jsonb, what text, parent_key text, load_one regprocedure)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    element record;
    loaded integer := 0;
    err_state text; err_message text; err_detail text; err_hint text;
BEGIN
    FOR element IN SELECT * FROM workorder.batch_in_order(batch, what, parent_key) LOOP
        BEGIN
            EXECUTE pg_catalog.format('SELECT %s($1)', load_one::regproc) USING element.item;
        EXCEPTION WHEN others THEN
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                                    err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
            PERFORM workorder.raise_error(
                CASE WHEN err_state OPERATOR(pg_catalog.~~) 'WO%' THEN err_state ELSE 'WO210' END,
                pg_catalog.format('%s %s (element %s of the batch) was not loaded: %s', what,
                                  COALESCE(element.item OPERATOR(pg_catalog.->>) 'code', '(no code)'),
                                  element.element_number, err_message),
                COALESCE(NULLIF(err_detail, ''),
                         pg_catalog.format('The element is %s.', pg_catalog.left(element.item::text, 300))),
                COALESCE(NULLIF(err_hint, ''), 'Correct the element and load the batch again; nothing of it was loaded.'));
        END;
        loaded := loaded OPERATOR(pg_catalog.+) 1;
    END LOOP;
    RETURN loaded;
END
$$;

-- load_department_kind_row inserts or updates one department kind: {"code", "name"}.
CREATE FUNCTION workorder.load_department_kind_row(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO workorder.department_kinds AS d (code, name)
    VALUES (item OPERATOR(pg_catalog.->>) 'code', item OPERATOR(pg_catalog.->>) 'name')
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name
$$;

-- load_department_kinds loads [{"code": "urban_management", "name": "城市管理"}, ...].
CREATE FUNCTION workorder.load_department_kinds(kinds jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(kinds, 'department kind', 'no parent',
                                'workorder.load_department_kind_row(jsonb)'::regprocedure)
$$;

-- load_unit_row inserts or updates one unit: {"code", "name", "kind": center|department|
-- branch, "level": district|town|village, "department_kind", "parent_code",
-- "area_code", "phone", "active"}.  The trigger on units checks that it fits.
CREATE FUNCTION workorder.load_unit_row(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO workorder.units AS t
    SELECT u.code, u.name, u.kind, u.level, u.department_kind, u.parent_code, u.area_code,
           u.phone, COALESCE(u.active, true)
      FROM pg_catalog.jsonb_populate_record(NULL::workorder.units, item) u
    ON CONFLICT (code) DO UPDATE
       SET name = EXCLUDED.name, kind = EXCLUDED.kind, level = EXCLUDED.level,
           department_kind = EXCLUDED.department_kind, parent_code = EXCLUDED.parent_code,
           area_code = EXCLUDED.area_code, phone = EXCLUDED.phone, active = EXCLUDED.active
$$;

-- load_units loads a batch of units; parents in the same batch may come in any order.
CREATE FUNCTION workorder.load_units(units jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(units, 'unit', 'parent_code', 'workorder.load_unit_row(jsonb)'::regprocedure)
$$;

-- load_category_row inserts or updates one catalogue node: {"code", "name",
-- "parent_code", "handling_level", "department_kind", "sla_policy",
-- "dedup_radius_m", "dedup_window", "description", "active"}.
CREATE FUNCTION workorder.load_category_row(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO workorder.categories AS t
    SELECT c.code, c.name, c.parent_code, c.handling_level, c.department_kind, c.sla_policy,
           c.dedup_radius_m, c.dedup_window, c.description, COALESCE(c.active, true)
      FROM pg_catalog.jsonb_populate_record(NULL::workorder.categories, item) c
    ON CONFLICT (code) DO UPDATE
       SET name = EXCLUDED.name, parent_code = EXCLUDED.parent_code,
           handling_level = EXCLUDED.handling_level, department_kind = EXCLUDED.department_kind,
           sla_policy = EXCLUDED.sla_policy, dedup_radius_m = EXCLUDED.dedup_radius_m,
           dedup_window = EXCLUDED.dedup_window, description = EXCLUDED.description,
           active = EXCLUDED.active
$$;

-- load_categories loads a batch of catalogue nodes, parents in any order.
CREATE FUNCTION workorder.load_categories(categories jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(categories, 'category', 'parent_code',
                                'workorder.load_category_row(jsonb)'::regprocedure)
$$;

-- load_channel_row inserts or updates one channel: {"code", "name", "kind", "replies",
-- "active", "categories": [{"code": its own code, "name": its own name,
-- "category": catalogue code}, ...]}.  When "categories" is given, it replaces the
-- channel's mappings.
CREATE FUNCTION workorder.load_channel_row(item jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    ch workorder.channels := pg_catalog.jsonb_populate_record(NULL::workorder.channels, item);
BEGIN
    INSERT INTO workorder.channels AS t (code, name, kind, replies, active)
    VALUES (ch.code, ch.name, ch.kind, COALESCE(ch.replies, true), COALESCE(ch.active, true))
    ON CONFLICT (code) DO UPDATE
       SET name = EXCLUDED.name, kind = EXCLUDED.kind, replies = EXCLUDED.replies,
           active = EXCLUDED.active;
    IF item OPERATOR(pg_catalog.?) 'categories' THEN
        DELETE FROM workorder.channel_categories m WHERE m.channel_code OPERATOR(pg_catalog.=) ch.code;
        INSERT INTO workorder.channel_categories (channel_code, channel_category_code, channel_category_name, category_code)
        SELECT ch.code, m OPERATOR(pg_catalog.->>) 'code', m OPERATOR(pg_catalog.->>) 'name',
               m OPERATOR(pg_catalog.->>) 'category'
          FROM pg_catalog.jsonb_array_elements(item OPERATOR(pg_catalog.->) 'categories') AS m;
    END IF;
END
$$;

-- load_channels loads a batch of channels with their category mappings.
CREATE FUNCTION workorder.load_channels(channels jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(channels, 'channel', 'no parent', 'workorder.load_channel_row(jsonb)'::regprocedure)
$$;

-- The single-row loaders load one object as a batch of one, so that whatever is
-- wrong with it (not an object, a missing code, a value of the wrong type) is
-- refused as in a batch: WO210 naming the object, or the SQLSTATE of the check that
-- refused it.  (Before 0.2 they ran the row function directly, and a bad object met
-- PostgreSQL's own errors: 22023, 22P02, 23502.)
CREATE FUNCTION workorder.load_department_kind(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(pg_catalog.jsonb_build_array(item), 'department kind', 'no parent',
                                'workorder.load_department_kind_row(jsonb)'::regprocedure)
$$;

CREATE FUNCTION workorder.load_unit(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(pg_catalog.jsonb_build_array(item), 'unit', 'parent_code',
                                'workorder.load_unit_row(jsonb)'::regprocedure)
$$;

CREATE FUNCTION workorder.load_category(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(pg_catalog.jsonb_build_array(item), 'category', 'parent_code',
                                'workorder.load_category_row(jsonb)'::regprocedure)
$$;

CREATE FUNCTION workorder.load_channel(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(pg_catalog.jsonb_build_array(item), 'channel', 'no parent',
                                'workorder.load_channel_row(jsonb)'::regprocedure)
$$;
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
-- Where and when: a GiST index on (location, received_at) (the time by
-- btree_gist).  It serves queries by place, and dedup's candidate search
-- (src/dedup.c), which bounds both in one scan: the reports near a new one within
-- its category's window, whatever the years of history at that place (the time is
-- checked in the index, before any row is read).  Its pages are split by
-- location, as a location-only index's would be.
CREATE INDEX orders_location_idx ON workorder.orders USING gist (location, received_at);
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
CREATE FUNCTION workorder.order_for_action(order_id bigint, action text)
RETURNS workorder.orders
LANGUAGE plpgsql
AS $$
DECLARE
    o workorder.orders;
BEGIN
    SELECT * INTO o FROM workorder.orders WHERE id OPERATOR(pg_catalog.=) order_id FOR UPDATE;
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
-- every event must say who acted.
CREATE FUNCTION workorder.check_actor(actor text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    trimmed text;
BEGIN
    -- The same blanks as action texts: spaces, tabs, line breaks, no-break and
    -- ideographic (U+3000) spaces.
    trimmed := pg_catalog.btrim(actor, E' \t\n\r\f\x0b\u00a0\u3000');
    IF trimmed IS NULL OR trimmed OPERATOR(pg_catalog.=) ''
       OR pg_catalog.length(trimmed) OPERATOR(pg_catalog.>) 200 THEN
        PERFORM workorder.raise_error('WO404',
            'an action needs an actor',
            pg_catalog.format('The actor is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(actor, 50)), 'NULL')),
            'Pass the acting unit''s code or the user''s name, 1 to 200 characters.');
    END IF;
    RETURN trimmed;
END
$$;
-- workorder install script, part 51: the event log's hash chain and its check.
--
-- Each event of an order carries prev_hash, the hash of the order's event before
-- it (32 zero bytes for the first), and hash = SHA-256(prev_hash || the event's
-- content, serialised unambiguously).  The definition is in src/eventlog.c and in
-- README.md ("Tamper evidence").  An event edited, deleted or inserted afterwards,
-- even by a superuser with the append-only triggers disabled, no longer fits its
-- order's chain, and workorder.verify_log() names it.
--
-- This part is also the upgrade from 0.1, whose databases have events: the
-- columns are added, the existing events chained in order, and only then made
-- NOT NULL.  On a fresh install the log is empty and the backfill does nothing.

-- event_hash returns the hash of event e chained to prev (32 bytes).
CREATE FUNCTION workorder.event_hash(prev bytea, e workorder.order_events)
RETURNS bytea
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'eventlog_event_hash';
COMMENT ON FUNCTION workorder.event_hash(bytea, workorder.order_events) IS
    'SHA-256 of prev (the hash of the order''s event before, or 32 zero bytes) and the event''s content: the hash chain of the event log.';

-- loaded_by_copy is true when the statement running is a COPY FROM into the
-- table: rows being loaded (pg_restore, a migration), not actions being taken.
CREATE FUNCTION workorder.loaded_by_copy(target regclass)
RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'eventlog_loaded_by_copy';
COMMENT ON FUNCTION workorder.loaded_by_copy(regclass) IS
    'True while the top-level statement is a COPY FROM into the table (a restore): statement triggers skip what only actions should cause.';

ALTER TABLE workorder.order_events
    ADD COLUMN prev_hash bytea,
    ADD COLUMN hash bytea;

-- The events already there (an upgrade) are chained one seq at a time, so that
-- each event's predecessor has its hash when the event gets its own.  The log is
-- append-only even for its owner: its guard is set aside for this one UPDATE.
DO $backfill$
DECLARE
    last_seq integer := (SELECT pg_catalog.max(e.seq) FROM workorder.order_events e);
    genesis bytea := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');
BEGIN
    IF last_seq IS NULL THEN
        RETURN;
    END IF;
    ALTER TABLE workorder.order_events DISABLE TRIGGER order_events_refuse_change;
    FOR s IN 1 .. last_seq LOOP
        UPDATE workorder.order_events e
           SET prev_hash = x.prev, hash = workorder.event_hash(x.prev, e)
          FROM (SELECT c.id, COALESCE(p.hash, genesis) AS prev
                  FROM workorder.order_events c
                  LEFT JOIN workorder.order_events p
                         ON p.order_id OPERATOR(pg_catalog.=) c.order_id
                        AND p.seq OPERATOR(pg_catalog.=) (c.seq OPERATOR(pg_catalog.-) 1)
                 WHERE c.seq OPERATOR(pg_catalog.=) s) x
         WHERE e.id OPERATOR(pg_catalog.=) x.id;
    END LOOP;
    ALTER TABLE workorder.order_events ENABLE ALWAYS TRIGGER order_events_refuse_change;
END
$backfill$;

ALTER TABLE workorder.order_events
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL;
COMMENT ON COLUMN workorder.order_events.prev_hash IS
    'The hash of the order''s event before this one (32 zero bytes for its first event).';
COMMENT ON COLUMN workorder.order_events.hash IS
    'SHA-256 of prev_hash and this event''s content (workorder.event_hash): the hash chain that workorder.verify_log() checks.';

-- order_events_chain sets prev_hash and hash of each new event (see src/eventlog.c).
-- A row that comes with its hash (pg_restore's COPY) keeps it.
CREATE FUNCTION workorder.order_events_chain()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'order_events_chain';

CREATE TRIGGER order_events_chain
    BEFORE INSERT ON workorder.order_events
    FOR EACH ROW EXECUTE FUNCTION workorder.order_events_chain();
-- ALWAYS: an event inserted under session_replication_role = replica is chained too.
ALTER TABLE workorder.order_events ENABLE ALWAYS TRIGGER order_events_chain;

-- verify_log checks the hash chain of one order's events, or of every order's,
-- and returns one row per problem found; an intact log returns no rows.  kind is
--   edited        the event's content (or hash) is not what its hash was made of
--   chain broken  the event after it was chained to another hash: the event was
--                 rewritten, or replaced, together with its hash
--   missing       an event of the order is not there (deleted): seq names it
--   inserted      an event the order never counted (its seq is beyond the
--                 order's event_count)
--   out of order  an event older, or with a smaller id, than the event before it
-- It reads with the caller's privileges: run it as the owner or an auditor who
-- may read the log.
CREATE FUNCTION workorder.verify_log(of_order bigint DEFAULT NULL)
RETURNS TABLE (order_id bigint, ticket workorder.ticket, event_id bigint, seq integer,
               kind text, detail text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    genesis bytea := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');
BEGIN
    IF verify_log.of_order IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM workorder.orders o WHERE o.id OPERATOR(pg_catalog.=) verify_log.of_order) THEN
        PERFORM workorder.raise_error('WO402',
            pg_catalog.format('order %s does not exist', verify_log.of_order),
            'verify_log was asked to check the events of this order.',
            'Check the order id, or call workorder.verify_log() without one to check every order.');
    END IF;
    RETURN QUERY
    WITH events AS (
        SELECT e.id, e.order_id, e.seq, e.at, e.prev_hash, e.hash,
               workorder.event_hash(e.prev_hash, e) AS computed,
               pg_catalog.lag(e.id) OVER w AS before_id,
               pg_catalog.lag(e.seq) OVER w AS before_seq,
               pg_catalog.lag(e.at) OVER w AS before_at,
               pg_catalog.lag(e.hash) OVER w AS before_hash,
               pg_catalog.lead(e.id) OVER w AS after_id,
               pg_catalog.lead(e.seq) OVER w AS after_seq,
               pg_catalog.lead(e.prev_hash) OVER w AS after_prev_hash,
               pg_catalog.lead(e.hash) OVER w AS after_hash
          FROM workorder.order_events e
         WHERE verify_log.of_order IS NULL OR e.order_id OPERATOR(pg_catalog.=) verify_log.of_order
        WINDOW w AS (PARTITION BY e.order_id ORDER BY e.seq, e.id)
    ), checked AS (
        SELECT v.*, pg_catalog.lead(v.computed) OVER w AS after_computed
          FROM events v
        WINDOW w AS (PARTITION BY v.order_id ORDER BY v.seq, v.id)
    ), counted AS (
        SELECT o.id, o.event_count, pg_catalog.max(e.seq) AS last_seq,
               (pg_catalog.array_agg(e.id ORDER BY e.seq DESC))[1] AS last_id
          FROM workorder.orders o
          LEFT JOIN workorder.order_events e ON e.order_id OPERATOR(pg_catalog.=) o.id
         WHERE verify_log.of_order IS NULL OR o.id OPERATOR(pg_catalog.=) verify_log.of_order
         GROUP BY o.id, o.event_count
    ), problems AS (
        SELECT v.order_id, v.id AS event_id, v.seq, 'edited' AS kind,
               CASE WHEN v.computed IS NULL
                    THEN 'it has no hash, or no previous hash: it was written past the chain'
                    ELSE pg_catalog.format('its content gives hash %s, but it carries %s',
                                           pg_catalog.encode(v.computed, 'hex'), pg_catalog.encode(v.hash, 'hex')) END AS detail
          FROM events v
         WHERE v.computed IS NULL OR v.computed OPERATOR(pg_catalog.<>) v.hash
        UNION ALL
        -- A link broken under an intact event: the event before it was rewritten
        -- (with a hash to match) or replaced; it is named.  When the event after
        -- is itself edited, that edit is the problem reported.
        SELECT v.order_id, v.id, v.seq, 'chain broken',
               pg_catalog.format('event %s (id %s) was chained to hash %s, but this event''s hash is %s: this event was rewritten or replaced after event %s was written',
                                 v.after_seq, v.after_id, pg_catalog.encode(v.after_prev_hash, 'hex'),
                                 pg_catalog.encode(v.hash, 'hex'), v.after_seq)
          FROM checked v
         WHERE v.after_seq OPERATOR(pg_catalog.=) (v.seq OPERATOR(pg_catalog.+) 1)
           AND v.after_prev_hash IS DISTINCT FROM v.hash
           AND v.after_computed OPERATOR(pg_catalog.=) v.after_hash
        UNION ALL
        -- The first event of an order is chained to zeros.
        SELECT v.order_id, v.id, v.seq, 'chain broken',
               pg_catalog.format('the first event of the order is chained to %s, not to 32 zero bytes: events before it were removed, or it was forged',
                                 pg_catalog.encode(v.prev_hash, 'hex'))
          FROM events v
         WHERE v.seq OPERATOR(pg_catalog.=) 1 AND v.prev_hash IS DISTINCT FROM genesis
        UNION ALL
        SELECT v.order_id, NULL::bigint, m, 'missing',
               pg_catalog.format('event %s of the order is missing: event %s (id %s) comes after %s',
                                 m, v.seq, v.id,
                                 COALESCE(pg_catalog.format('event %s (id %s)', v.before_seq, v.before_id), 'nothing'))
          FROM events v,
               pg_catalog.generate_series(COALESCE(v.before_seq, 0) OPERATOR(pg_catalog.+) 1,
                                          v.seq OPERATOR(pg_catalog.-) 1) AS m
         WHERE v.seq OPERATOR(pg_catalog.>) (COALESCE(v.before_seq, 0) OPERATOR(pg_catalog.+) 1)
        UNION ALL
        SELECT c.id, NULL::bigint, m, 'missing',
               pg_catalog.format('event %s of the order is missing: the order counts %s events, the last one there is %s',
                                 m, c.event_count, COALESCE(c.last_seq::text, 'none'))
          FROM counted c,
               pg_catalog.generate_series(COALESCE(c.last_seq, 0) OPERATOR(pg_catalog.+) 1, c.event_count) AS m
        UNION ALL
        SELECT v.order_id, v.id, v.seq, 'inserted',
               pg_catalog.format('the order counts %s events, but this is event %s', c.event_count, v.seq)
          FROM events v
          JOIN counted c ON c.id OPERATOR(pg_catalog.=) v.order_id
         WHERE v.seq OPERATOR(pg_catalog.>) c.event_count OR v.seq OPERATOR(pg_catalog.<) 1
        UNION ALL
        SELECT v.order_id, v.id, v.seq, 'out of order',
               pg_catalog.format('event %s (id %s, at %s) comes after event %s (id %s, at %s)',
                                 v.seq, v.id, v.at, v.before_seq, v.before_id, v.before_at)
          FROM events v
         WHERE v.before_at OPERATOR(pg_catalog.>) v.at OR v.before_id OPERATOR(pg_catalog.>) v.id
    )
    SELECT p.order_id, o.ticket, p.event_id, p.seq, p.kind, p.detail
      FROM problems p
      JOIN workorder.orders o ON o.id OPERATOR(pg_catalog.=) p.order_id
     ORDER BY p.order_id, p.seq, p.kind;
END
$$;
COMMENT ON FUNCTION workorder.verify_log(bigint) IS
    'Checks the hash chain of the event log (one order, or all): one row per edited, missing, inserted, out-of-order event or broken link; none when intact.';
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
-- submit() makes the same check of each of a report's five texts.
CREATE FUNCTION workorder.check_text(value text, what text, max_length integer, required boolean)
RETURNS text
AS 'MODULE_PATHNAME', 'intake_check_text'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

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
-- Finding candidates uses orders_location_idx (50_orders.sql), a GiST index on
-- (location, received_at): one index scan bounds space and time, so its cost
-- follows the reports in the searched box, not the history (bench/dedup).

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
-- the equator) locks the whole family instead.  The keys are
-- (hashtext('workorder.dedup'), hashtext(concat_ws('/', family, x, y))) for a cell
-- and (hashtext('workorder.dedup'), hashtext(family)) for the family.  WO101 for a
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
    score           double precision
);

-- dedup_candidates returns the candidates of a report under a policy, best first
-- (NULL scores last, ties: the earlier order): orders of the policy's family within
-- radius_m and time_window of the report (either side: a report that waited for a
-- lock may be older than the one it waited for), neither merged nor cancelled nor a
-- suspected duplicate waiting for review, open, or resolved or closed no longer
-- than closed_window before the report (its last resolve event).  At most 50.
-- Each gets the components of the header:
--   distance_score  GREATEST(0, 1 - distance_m / radius_m), distance_m by
--                   ST_Distance(geography), on the spheroid
--   time_score      GREATEST(0, 1 - |gap| / time_window), in seconds
--   text_score      sqrt(text_similarity(description, its description,
--                   concat_ws(' ', address, its address)))
--   address_score   address_similarity(address, its address)
--   reporter_score  1 when dedup_phone() of both is the same, else NULL
--   score           (the sum of weight * component, a NULL address or reporter
--                   counting 0) / NULLIF(the sum of the weights of the components
--                   that are not NULL, 0)
-- and same_category: its category is on the report's category path, or the
-- report's category on its path.  WO101 for a geometry that is not a point.
--
-- C (src/dedup.c).  One scan of orders_location_idx finds the orders in the search
-- box (the circle's bounding box, the window either side in time): a query
-- prepared once per backend whose only quals are the index's, so that no plan of
-- it can read more than the box; the rest is filtered and scored in C, with the
-- functions the SQL used.
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
    policy      jsonb,
    candidates  jsonb           -- every candidate with its components, best first
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
-- candidates are to_jsonb() of the policy and of the candidates (dedup_apply()
-- stores them, explain_dedup() reads them back).  C (src/dedup.c): the search is a
-- new snapshot after the locks, so under READ COMMITTED it sees what the reports
-- it waited for committed.
CREATE FUNCTION workorder.dedup_decide(category text, point geometry, received timestamptz,
                                       description text, address text, reporter_phone text)
RETURNS workorder.dedup_decision
AS 'MODULE_PATHNAME', 'workorder_dedup_decide'
LANGUAGE C;

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
-- workorder install script, part 65: the lifecycle actions.
--
-- One function per action of the lifecycle (DESIGN.md, "Order lifecycle").  Each
-- one locks the order (workorder.order_for_action: WO402 for an unknown order, WO401
-- when its status does not allow the action), checks its arguments, changes the
-- order, appends exactly one event to workorder.order_events (merge and unmerge
-- append one to each of the two orders), and returns the order as it left it.
-- workorder.order_actions decides which statuses allow an action and which status
-- it leads to.  The actions run as the tables' owner (SECURITY DEFINER): they are
-- the only way, besides submit(), that an order changes.
--
-- The arguments every action takes:
--   order_id  the order's id
--   actor     who acts: the acting unit's code or a user's name (1 to 200 characters)
--   note / reason / result
--             free text, at most 2000 characters; a reason (and a comment's note,
--             and a resolve's result) is required.  It becomes the event's note.
--
-- status_reason says why an order is in its status when the status alone does not
-- say it: an action that changes the status sets it to its reason (returned,
-- suspended, cancelled, reopened, failed verification, unmerged) or clears it.
--
-- An extension request is pending only while the order is accepted or suspended:
-- an action that leaves those statuses drops it, and its event records the dropped
-- extension.  Intervals in event details are ISO 8601 text ("P5D"), whatever the
-- session's IntervalStyle.

-- action_error raises an error about an action on an order: the message names the
-- order by ticket and id, and the action.
CREATE FUNCTION workorder.action_error(o workorder.orders, action text, sqlstate text,
                                       problem text, detail text, hint text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.raise_error(sqlstate,
        pg_catalog.format('order %s (id %s): %s: %s', o.ticket, o.id, action, problem),
        detail, hint);
END
$$;

-- action_text checks the free text of an action (a note, a reason, a result) and
-- returns it without surrounding blanks (spaces, tabs, line breaks, and the
-- ideographic space U+3000 that Chinese input methods type); blank is NULL.  A
-- required text that is missing, and any text over 2000 characters, is WO404.
CREATE FUNCTION workorder.action_text(o workorder.orders, action text, what text,
                                      value text, required boolean)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    trimmed text := pg_catalog.btrim(value, E' \t\n\r\f\x0b\u00a0\u3000');
BEGIN
    IF trimmed OPERATOR(pg_catalog.=) '' THEN
        trimmed := NULL;
    END IF;
    IF trimmed IS NULL AND required THEN
        PERFORM workorder.action_error(o, action, 'WO404',
            pg_catalog.format('a %s is required', what),
            pg_catalog.format('The %s is %s.', what, COALESCE(pg_catalog.quote_literal(pg_catalog.left(value, 40)), 'NULL')),
            pg_catalog.format('Write the %s: 1 to 2000 characters.', what));
    END IF;
    IF pg_catalog.length(trimmed) OPERATOR(pg_catalog.>) 2000 THEN
        PERFORM workorder.action_error(o, action, 'WO404',
            pg_catalog.format('the %s is too long', what),
            pg_catalog.format('The %s has %s characters; it begins %s.', what, pg_catalog.length(trimmed),
                              pg_catalog.quote_literal(pg_catalog.left(trimmed, 40))),
            pg_catalog.format('Keep the %s to 2000 characters; put longer material in an attachment.', what));
    END IF;
    RETURN trimmed;
END
$$;

-- action_unit returns the unit an action names, or raises WO404 when none is named
-- and WO403 when it does not exist or is inactive.  what says which unit it is in
-- the action ("unit", "assisting unit").
CREATE FUNCTION workorder.action_unit(o workorder.orders, action text, what text, code text)
RETURNS workorder.units
LANGUAGE plpgsql
AS $$
DECLARE
    u workorder.units;
BEGIN
    IF code IS NULL OR pg_catalog.btrim(code) OPERATOR(pg_catalog.=) '' THEN
        PERFORM workorder.action_error(o, action, 'WO404',
            pg_catalog.format('no %s given', what),
            pg_catalog.format('The %s is %s.', what, COALESCE(pg_catalog.quote_literal(code), 'NULL')),
            'Pass the code of an active unit from workorder.units.');
    END IF;
    SELECT * INTO u FROM workorder.units x WHERE x.code OPERATOR(pg_catalog.=) action_unit.code;
    IF NOT FOUND THEN
        PERFORM workorder.action_error(o, action, 'WO403',
            pg_catalog.format('%s %s does not exist', what, code),
            pg_catalog.format('There is no unit with code %s.', pg_catalog.quote_literal(code)),
            'Check the code against workorder.units (codes are case-sensitive).');
    END IF;
    IF NOT u.active THEN
        PERFORM workorder.action_error(o, action, 'WO403',
            pg_catalog.format('%s %s (%s) is inactive', what, u.code, u.name),
            pg_catalog.format('Unit %s has active = false.', u.code),
            'Choose an active unit; a unit that was merged or dissolved has a successor.');
    END IF;
    RETURN u;
END
$$;

-- action_status returns the status an action leads to from a status: the matrix's
-- to_status, or the same status when that is NULL.
CREATE FUNCTION workorder.action_status(action text, from_status workorder.order_status)
RETURNS workorder.order_status
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    to_status workorder.order_status;
BEGIN
    SELECT COALESCE(a.to_status, a.from_status) INTO to_status FROM workorder.order_actions a
     WHERE a.action OPERATOR(pg_catalog.=) action_status.action
       AND a.from_status OPERATOR(pg_catalog.=) action_status.from_status;
    RETURN to_status;
END
$$;

-- interval_iso writes an interval in ISO 8601 ("P5DT2H"), which reads back with
-- ::interval under any IntervalStyle: the event log must not depend on a session.
CREATE FUNCTION workorder.interval_iso(i interval)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET IntervalStyle = 'iso_8601'
AS $$
BEGIN
    RETURN i::text;
END
$$;

-- dropped_extension is the event detail of a pending extension request that an
-- action drops by leaving accepted/suspended: {"dropped_extension": "P5D"}, or {}.
CREATE FUNCTION workorder.dropped_extension(o workorder.orders)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    IF o.pending_extension IS NULL THEN
        RETURN '{}';
    END IF;
    RETURN pg_catalog.jsonb_build_object('dropped_extension', workorder.interval_iso(o.pending_extension));
END
$$;

-- dispatcher returns the unit that becomes the order's dispatching unit when actor
-- dispatches it: the actor when it is an active center's code, else the current one.
CREATE FUNCTION workorder.dispatcher(actor text, current_unit text)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM workorder.units u
                WHERE u.code OPERATOR(pg_catalog.=) actor
                  AND u.kind OPERATOR(pg_catalog.=) 'center' AND u.active) THEN
        RETURN actor;
    END IF;
    RETURN current_unit;
END
$$;

-- action_done logs the event of an action (after is the order as the action left
-- it) and returns the order read again, so that event_count counts the event.
CREATE FUNCTION workorder.action_done(after workorder.orders, action text, actor text,
                                      old_status workorder.order_status, note text,
                                      details jsonb DEFAULT '{}', old_unit text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql
AS $$
DECLARE
    o workorder.orders;
BEGIN
    PERFORM workorder.log_event(after, action, actor, old_status, note, details, old_unit);
    SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) after.id;
    RETURN o;
END
$$;

-- dispatch sends a new order to its main unit, with optional assisting units (each
-- active, listed once, not the main unit).  An actor that is a center's code
-- becomes the dispatching unit, to which a return goes back.
CREATE FUNCTION workorder.dispatch(order_id bigint, actor text, unit text, note text DEFAULT NULL,
                                   assisting_units text[] DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'dispatch');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'dispatch', 'note', note, false);
    main workorder.units := workorder.action_unit(o, 'dispatch', 'unit', unit);
    helpers text[] := '{}';
    helper text;
    after workorder.orders;
BEGIN
    FOREACH helper IN ARRAY COALESCE(dispatch.assisting_units, '{}') LOOP
        PERFORM workorder.action_unit(o, 'dispatch', 'assisting unit', helper);
        IF helper OPERATOR(pg_catalog.=) main.code THEN
            PERFORM workorder.action_error(o, 'dispatch', 'WO403',
                pg_catalog.format('assisting unit %s is the main unit', helper),
                pg_catalog.format('assisting_units is %s.', dispatch.assisting_units),
                'Leave the main unit out of the assisting units.');
        END IF;
        IF helper OPERATOR(pg_catalog.=) ANY (helpers) THEN
            PERFORM workorder.action_error(o, 'dispatch', 'WO403',
                pg_catalog.format('assisting unit %s is listed twice', helper),
                pg_catalog.format('assisting_units is %s.', dispatch.assisting_units),
                'List each assisting unit once.');
        END IF;
        helpers := helpers OPERATOR(pg_catalog.||) helper;
    END LOOP;
    UPDATE workorder.orders x
       SET status = workorder.action_status('dispatch', o.status), status_reason = NULL,
           main_unit = main.code, assisting_units = helpers,
           dispatching_unit = workorder.dispatcher(who, o.dispatching_unit),
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    after := workorder.sla_dispatched(after, pg_catalog.now());   -- deadlines: part 85
    RETURN workorder.action_done(after, 'dispatch', who, o.status, said,
        pg_catalog.jsonb_build_object('assisting_units', helpers,
                                      'dispatching_unit', after.dispatching_unit),
        o.main_unit);
END
$$;

-- deadline_standing says how an action stands against a deadline, for the event's
-- details and the scores (part 94): 'none' (no deadline), 'overdue' (already
-- marked overdue by the deadline task, which logged that event), 'late' (past the
-- deadline, not yet marked) or 'on_time'.
CREATE FUNCTION workorder.deadline_standing(due_at timestamptz, marked_overdue boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN CASE WHEN due_at IS NULL THEN 'none'
                WHEN marked_overdue THEN 'overdue'
                WHEN pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>) due_at THEN 'late'
                ELSE 'on_time' END;
END
$$;

-- plain_action takes an action that only moves the order to the status the matrix
-- gives, with an optional note: accept and close.  An accept's event says how it
-- stood against the accept deadline ({"deadline": "on_time"}, see deadline_standing).
CREATE FUNCTION workorder.plain_action(order_id bigint, actor text, note text, action text)
RETURNS workorder.orders
LANGUAGE plpgsql
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, action);
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, action, 'note', note, false);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status(action, o.status), status_reason = NULL,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    -- An accept says how it stood against its deadline, for the scores (part 94).
    RETURN workorder.action_done(after, action, who, o.status, said,
        CASE WHEN action OPERATOR(pg_catalog.=) 'accept'
             THEN pg_catalog.jsonb_build_object('deadline',
                      workorder.deadline_standing(o.accept_due_at, o.accept_overdue))
             ELSE '{}' END);
END
$$;

-- accept: the main unit signs for a dispatched order.
CREATE FUNCTION workorder.accept(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
    RETURN workorder.plain_action(order_id, actor, note, 'accept');
END
$$;

-- return_order (退单): the main unit hands the order back, with a reason, to the
-- dispatching center; it is new again, with no unit, and return_count counts it.
-- The event's old_unit is the unit that returned it.
CREATE FUNCTION workorder.return_order(order_id bigint, actor text, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'return');
    who text := workorder.check_actor(actor);
    why text := workorder.action_text(o, 'return', 'reason', reason, true);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status('return', o.status),
           status_reason = pg_catalog.format('returned by %s: %s', COALESCE(o.main_unit, who), why),
           main_unit = NULL, assisting_units = '{}', pending_extension = NULL,
           return_count = x.return_count OPERATOR(pg_catalog.+) 1,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'return', who, o.status, why,
        pg_catalog.jsonb_build_object('return_count', after.return_count,
                                      'assisting_units', o.assisting_units)
            OPERATOR(pg_catalog.||) workorder.dropped_extension(o),
        o.main_unit);
END
$$;

-- reassign: a dispatched or accepted order goes to another main unit and waits for
-- it to sign.  The event has the old unit and the new one.  The new unit leaves the
-- assisting units if it was one; an actor that is a center's code becomes the
-- dispatching unit, as in dispatch.
CREATE FUNCTION workorder.reassign(order_id bigint, actor text, unit text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'reassign');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'reassign', 'note', note, false);
    main workorder.units := workorder.action_unit(o, 'reassign', 'unit', unit);
    after workorder.orders;
BEGIN
    IF main.code OPERATOR(pg_catalog.=) o.main_unit THEN
        PERFORM workorder.action_error(o, 'reassign', 'WO403',
            pg_catalog.format('unit %s is already the main unit', main.code),
            pg_catalog.format('The order is %s with %s.', o.status, o.main_unit),
            'Reassign to a different unit.');
    END IF;
    UPDATE workorder.orders x
       SET status = workorder.action_status('reassign', o.status), status_reason = NULL,
           main_unit = main.code,
           assisting_units = pg_catalog.array_remove(x.assisting_units, main.code),
           dispatching_unit = workorder.dispatcher(who, o.dispatching_unit),
           pending_extension = NULL,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    after := workorder.sla_dispatched(after, pg_catalog.now());   -- a fresh accept deadline: part 85
    RETURN workorder.action_done(after, 'reassign', who, o.status, said,
        workorder.dropped_extension(o), o.main_unit);
END
$$;

-- suspend: the clock stops while the order waits on something outside the unit's
-- hands.  The reason is the event's note and the order's status_reason.
CREATE FUNCTION workorder.suspend(order_id bigint, actor text, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'suspend');
    who text := workorder.check_actor(actor);
    why text := workorder.action_text(o, 'suspend', 'reason', reason, true);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status('suspend', o.status), status_reason = why,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'suspend', who, o.status, why);
END
$$;

-- resume: the clock runs again.  The event records the suspension it ends (when it
-- began, its event's seq, and how long it lasted), so that deadlines can be moved
-- by it.
CREATE FUNCTION workorder.resume(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'resume');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'resume', 'note', note, false);
    began workorder.order_events;
    after workorder.orders;
BEGIN
    SELECT * INTO began FROM workorder.order_events e
     WHERE e.order_id OPERATOR(pg_catalog.=) o.id AND e.action OPERATOR(pg_catalog.=) 'suspend'
     ORDER BY e.seq DESC LIMIT 1;
    UPDATE workorder.orders x
       SET status = workorder.action_status('resume', o.status), status_reason = NULL,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    after := workorder.sla_resumed(after, began.at, pg_catalog.clock_timestamp());   -- part 85
    RETURN workorder.action_done(after, 'resume', who, o.status, said,
        pg_catalog.jsonb_build_object(
            'suspended_seq', began.seq,
            'suspended_at', began.at,
            'suspended_for', workorder.interval_iso(pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) began.at)));
END
$$;

-- request_extension asks for more time to resolve: more than 0 and at most 90 days,
-- one request at a time.
CREATE FUNCTION workorder.request_extension(order_id bigint, actor text, extension interval, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'request_extension');
    who text := workorder.check_actor(actor);
    why text := workorder.action_text(o, 'request_extension', 'reason', reason, true);
    after workorder.orders;
BEGIN
    -- A month has no fixed number of working days: refused (the days of an
    -- extension are working days on a working-time policy, part 85).
    IF pg_catalog.date_part('month', extension) OPERATOR(pg_catalog.<>) 0
       OR pg_catalog.date_part('year', extension) OPERATOR(pg_catalog.<>) 0 THEN
        PERFORM workorder.action_error(o, 'request_extension', 'WO404',
            'the extension has a months part',
            pg_catalog.format('The extension is %s.', extension),
            'Ask in days and hours, e.g. interval ''30 days''; on a working-time policy the days are working days.');
    END IF;
    IF extension IS NULL
       OR extension OPERATOR(pg_catalog.<=) '0'::interval
       OR extension OPERATOR(pg_catalog.>) '90 days'::interval THEN
        PERFORM workorder.action_error(o, 'request_extension', 'WO404',
            'the extension must be more than 0 and at most 90 days',
            pg_catalog.format('The extension is %s.', COALESCE(extension::text, 'NULL')),
            'Ask for a positive interval of at most 90 days, e.g. interval ''5 days''.');
    END IF;
    IF o.pending_extension IS NOT NULL THEN
        PERFORM workorder.action_error(o, 'request_extension', 'WO404',
            'an extension request is already pending',
            pg_catalog.format('The pending request is for %s.', o.pending_extension),
            'Approve or reject the pending request first.');
    END IF;
    UPDATE workorder.orders x
       SET pending_extension = extension, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'request_extension', who, o.status, why,
        pg_catalog.jsonb_build_object('extension', workorder.interval_iso(extension)));
END
$$;

-- approve_extension grants the pending request: the resolve deadline, when there is
-- one, moves by the extension.  The event has the extension and both deadlines.
CREATE FUNCTION workorder.approve_extension(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'approve_extension');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'approve_extension', 'note', note, false);
    after workorder.orders;
BEGIN
    IF o.pending_extension IS NULL THEN
        PERFORM workorder.action_error(o, 'approve_extension', 'WO404',
            'no extension request is pending', 'pending_extension is NULL.',
            'The unit asks first, with workorder.request_extension().');
    END IF;
    -- On the policy's clock (part 85).
    UPDATE workorder.orders x
       SET (resolve_due_at, warn_at) = (SELECT e.resolve_due_at, e.warn_at
                                          FROM workorder.sla_extended(o, o.pending_extension) e),
           pending_extension = NULL, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'approve_extension', who, o.status, said,
        pg_catalog.jsonb_build_object('extension', workorder.interval_iso(o.pending_extension),
                                      'old_resolve_due_at', o.resolve_due_at,
                                      'new_resolve_due_at', after.resolve_due_at));
END
$$;

-- reject_extension refuses the pending request; the deadline stays.
CREATE FUNCTION workorder.reject_extension(order_id bigint, actor text, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'reject_extension');
    who text := workorder.check_actor(actor);
    why text := workorder.action_text(o, 'reject_extension', 'reason', reason, true);
    after workorder.orders;
BEGIN
    IF o.pending_extension IS NULL THEN
        PERFORM workorder.action_error(o, 'reject_extension', 'WO404',
            'no extension request is pending', 'pending_extension is NULL.',
            'There is nothing to reject.');
    END IF;
    UPDATE workorder.orders x
       SET pending_extension = NULL, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'reject_extension', who, o.status, why,
        pg_catalog.jsonb_build_object('extension', workorder.interval_iso(o.pending_extension)));
END
$$;

-- resolve: the unit reports the order handled.  The result (what was done) is kept
-- in orders.result and is the event's note; the event says how it stood against the
-- resolve deadline ({"deadline": "late"}, see deadline_standing).
CREATE FUNCTION workorder.resolve(order_id bigint, actor text, result text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'resolve');
    who text := workorder.check_actor(actor);
    outcome text := workorder.action_text(o, 'resolve', 'result', result, true);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status('resolve', o.status), status_reason = NULL,
           result = outcome, pending_extension = NULL, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'resolve', who, o.status, outcome,
        pg_catalog.jsonb_build_object('deadline', workorder.deadline_standing(o.resolve_due_at, o.overdue))
            OPERATOR(pg_catalog.||) workorder.dropped_extension(o));
END
$$;

-- verify: the center checks the result.  Passed, the order stays resolved; failed,
-- it goes back to the unit (accepted) with the failure as its status_reason.
CREATE FUNCTION workorder.verify(order_id bigint, actor text, passed boolean, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'verify');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'verify', 'note', note, false);
    after workorder.orders;
BEGIN
    IF passed IS NULL THEN
        PERFORM workorder.action_error(o, 'verify', 'WO404',
            'passed must be true or false', 'passed is NULL.',
            'Pass true when the result holds, false to send the order back to the unit.');
    END IF;
    UPDATE workorder.orders x
       SET status = CASE WHEN passed THEN workorder.action_status('verify', o.status)
                         ELSE 'accepted'::workorder.order_status END,
           status_reason = CASE WHEN passed THEN x.status_reason
                                ELSE 'verification failed' OPERATOR(pg_catalog.||)
                                     COALESCE(': ' OPERATOR(pg_catalog.||) said, '') END,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'verify', who, o.status, said,
        pg_catalog.jsonb_build_object('passed', passed));
END
$$;

-- callback (回访): part 66.

-- close: the order is done.
CREATE FUNCTION workorder.close(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
    RETURN workorder.plain_action(order_id, actor, note, 'close');
END
$$;

-- reopen (重办): a resolved or closed order is sent back to the same main unit to be
-- done again.  redo_count counts it; the result and the satisfaction are cleared
-- and kept in the event.
CREATE FUNCTION workorder.reopen(order_id bigint, actor text, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'reopen');
    who text := workorder.check_actor(actor);
    why text := workorder.action_text(o, 'reopen', 'reason', reason, true);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status('reopen', o.status),
           status_reason = 'reopened: ' OPERATOR(pg_catalog.||) why,
           redo_count = x.redo_count OPERATOR(pg_catalog.+) 1,
           result = NULL, satisfaction = NULL, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    after := workorder.sla_dispatched(after, pg_catalog.now(), true);   -- fresh deadlines: part 85
    RETURN workorder.action_done(after, 'reopen', who, o.status, why,
        pg_catalog.jsonb_build_object('redo_count', after.redo_count,
                                      'result', o.result, 'satisfaction', o.satisfaction));
END
$$;

-- merge: a duplicate follows its master, which counts its reports.  The master must
-- exist, differ, and be neither merged (no chains) nor cancelled; an order that
-- has duplicates merged into it cannot itself be merged.  Both rows are locked in
-- id order, so two merges of the same pair cannot deadlock.  The master gets a
-- 'merged_in' event.
CREATE FUNCTION workorder.merge(order_id bigint, master_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders;
    m workorder.orders;
    who text;
    said text;
    after workorder.orders;
    master_after workorder.orders;
BEGIN
    PERFORM 1 FROM workorder.orders x
     WHERE x.id OPERATOR(pg_catalog.=) ANY (ARRAY[merge.order_id, merge.master_id])
     ORDER BY x.id FOR UPDATE;
    o := workorder.order_for_action(order_id, 'merge');
    who := workorder.check_actor(actor);
    said := workorder.action_text(o, 'merge', 'note', note, false);
    IF merge.master_id IS NULL THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404', 'a master order is required',
            'master_id is NULL.', 'Pass the id of the order this one duplicates.');
    END IF;
    IF merge.master_id OPERATOR(pg_catalog.=) o.id THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404', 'an order cannot be merged into itself',
            pg_catalog.format('master_id is %s.', merge.master_id),
            'Pass the id of the order this one duplicates.');
    END IF;
    SELECT * INTO m FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) merge.master_id;
    IF NOT FOUND THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404',
            pg_catalog.format('master order %s does not exist', merge.master_id),
            pg_catalog.format('master_id is %s.', merge.master_id),
            'Check the master''s id; find it by ticket in workorder.orders.');
    END IF;
    IF m.status OPERATOR(pg_catalog.=) 'merged' THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404',
            pg_catalog.format('master order %s (id %s) is itself merged', m.ticket, m.id),
            pg_catalog.format('It is merged into order %s (id %s).',
                              (SELECT x.ticket FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) m.master_id),
                              m.master_id),
            'Merge into the master''s master instead: duplicates of one event share one master.');
    END IF;
    IF m.status OPERATOR(pg_catalog.=) 'cancelled' THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404',
            pg_catalog.format('master order %s (id %s) is cancelled', m.ticket, m.id),
            pg_catalog.format('Its status_reason is %s.', COALESCE(pg_catalog.quote_literal(m.status_reason), 'NULL')),
            'Merge into an order that is being handled, or cancel this one too.');
    END IF;
    IF EXISTS (SELECT 1 FROM workorder.orders x WHERE x.master_id OPERATOR(pg_catalog.=) o.id) THEN
        PERFORM workorder.action_error(o, 'merge', 'WO404',
            'other orders are merged into this one',
            pg_catalog.format('Merged into it: %s.',
                              (SELECT pg_catalog.string_agg(x.ticket::text, ', ' ORDER BY x.id) FROM workorder.orders x
                                WHERE x.master_id OPERATOR(pg_catalog.=) o.id)),
            'Unmerge them first, or merge them and this one into the same master one by one.');
    END IF;
    UPDATE workorder.orders x
       SET status = workorder.action_status('merge', o.status), status_reason = NULL,
           master_id = m.id, pending_extension = NULL, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    UPDATE workorder.orders x
       SET report_count = x.report_count OPERATOR(pg_catalog.+) o.report_count,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) m.id
    RETURNING * INTO master_after;
    after := workorder.action_done(after, 'merge', who, o.status, said,
        pg_catalog.jsonb_build_object('master_id', m.id, 'master_ticket', m.ticket::text,
                                      'report_count', o.report_count)
            OPERATOR(pg_catalog.||) workorder.dropped_extension(o));
    PERFORM workorder.log_event(master_after, 'merged_in', who, m.status, said,
        pg_catalog.jsonb_build_object('order_id', o.id, 'ticket', o.ticket::text,
                                      'report_count', o.report_count));
    RETURN after;
END
$$;

-- unmerge: a merged order was not a duplicate after all.  It leaves its master
-- (which stops counting its reports) and is new again, with no unit, for a
-- dispatcher.  The master gets an 'unmerged_out' event.
CREATE FUNCTION workorder.unmerge(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    seen_master bigint;
    o workorder.orders;
    m workorder.orders;
    who text;
    said text;
    after workorder.orders;
    master_after workorder.orders;
BEGIN
    -- Lock both rows in id order; the master is read before the lock, so it is
    -- locked again below in case a concurrent unmerge and merge moved the order.
    SELECT x.master_id INTO seen_master FROM workorder.orders x
     WHERE x.id OPERATOR(pg_catalog.=) unmerge.order_id;
    PERFORM 1 FROM workorder.orders x
     WHERE x.id OPERATOR(pg_catalog.=) ANY (ARRAY[unmerge.order_id, seen_master])
     ORDER BY x.id FOR UPDATE;
    o := workorder.order_for_action(order_id, 'unmerge');
    who := workorder.check_actor(actor);
    said := workorder.action_text(o, 'unmerge', 'note', note, false);
    SELECT * INTO m FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) o.master_id FOR UPDATE;
    UPDATE workorder.orders x
       SET status = workorder.action_status('unmerge', o.status),
           status_reason = pg_catalog.format('unmerged from %s', m.ticket),
           master_id = NULL, main_unit = NULL, assisting_units = '{}',
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    UPDATE workorder.orders x
       SET report_count = x.report_count OPERATOR(pg_catalog.-) o.report_count,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) m.id
    RETURNING * INTO master_after;
    after := workorder.action_done(after, 'unmerge', who, o.status, said,
        pg_catalog.jsonb_build_object('master_id', m.id, 'master_ticket', m.ticket::text,
                                      'report_count', o.report_count),
        o.main_unit);
    PERFORM workorder.log_event(master_after, 'unmerged_out', who, m.status, said,
        pg_catalog.jsonb_build_object('order_id', o.id, 'ticket', o.ticket::text,
                                      'report_count', o.report_count));
    RETURN after;
END
$$;

-- cancel: the order is invalid (spam, a test call, not a matter for the center).
CREATE FUNCTION workorder.cancel(order_id bigint, actor text, reason text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'cancel');
    who text := workorder.check_actor(actor);
    why text := workorder.action_text(o, 'cancel', 'reason', reason, true);
    after workorder.orders;
BEGIN
    -- A master cannot be cancelled under its duplicates: they are real reports of a
    -- real event, and would be left merged into an order nobody handles.
    IF EXISTS (SELECT 1 FROM workorder.orders x WHERE x.master_id OPERATOR(pg_catalog.=) o.id) THEN
        PERFORM workorder.action_error(o, 'cancel', 'WO404',
            'other orders are merged into this one',
            pg_catalog.format('Merged into it: %s.',
                              (SELECT pg_catalog.string_agg(x.ticket::text, ', ' ORDER BY x.id) FROM workorder.orders x
                                WHERE x.master_id OPERATOR(pg_catalog.=) o.id)),
            'Unmerge them first (each may then be cancelled or handled on its own).');
    END IF;
    UPDATE workorder.orders x
       SET status = workorder.action_status('cancel', o.status), status_reason = why,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'cancel', who, o.status, why);
END
$$;

-- supervise (督办): a leader flags the order for attention.  The status stays.
CREATE FUNCTION workorder.supervise(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'supervise');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'supervise', 'note', note, false);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status('supervise', o.status), supervised = true,
           updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'supervise', who, o.status, said,
        pg_catalog.jsonb_build_object('already_supervised', o.supervised));
END
$$;

-- comment: a note on the order, in any status.
CREATE FUNCTION workorder.comment(order_id bigint, actor text, note text)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'comment');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'comment', 'note', note, true);
    after workorder.orders;
BEGIN
    UPDATE workorder.orders x
       SET status = workorder.action_status('comment', o.status), updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN workorder.action_done(after, 'comment', who, o.status, said);
END
$$;

-- order_history returns the events of an order, in order (seq 1, 2, ...); WO402 when
-- there is no such order.  It reads with the caller's privileges.
CREATE FUNCTION workorder.order_history(order_id bigint)
RETURNS SETOF workorder.order_events
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) order_history.order_id) THEN
        PERFORM workorder.raise_error('WO402',
            pg_catalog.format('order %s does not exist', COALESCE(order_history.order_id::text, 'NULL')),
            'There is no order with that id.',
            'Check the order id; find an order by its ticket with SELECT id FROM workorder.orders WHERE ticket = ''...''.');
    END IF;
    RETURN QUERY SELECT * FROM workorder.order_events e
                  WHERE e.order_id OPERATOR(pg_catalog.=) order_history.order_id
                  ORDER BY e.seq;
END
$$;
-- workorder install script, part 66: the satisfaction callback (回访) through a channel.
--
-- After an order is resolved, someone asks the citizen how it went (a hotline
-- agent, an SMS survey, the app).  The verdict is satisfied (满意), basically
-- satisfied (基本满意) or unsatisfied (不满意), with a note.  It is taken while the
-- order is resolved or closed (order_actions: callback), and is logged as a
-- 'callback' event whose details carry the verdict; orders.satisfaction keeps the
-- latest one.  Both entry points share one body (workorder.callback_verdict):
--   workorder.callback(order_id, channel, callback_ref, verdict, note, actor)
--       a callback that arrives through a channel, idempotent on (channel,
--       callback_ref): a retry returns the workorder.callbacks row of the first
--       call and writes nothing; the same reference with another order or verdict
--       is WO802.  Concurrent retries are serialised by an advisory lock on the
--       reference, so there is never a second event.
--   workorder.callback(order_id, actor, satisfaction, note)
--       the center records a verdict itself (no reference; not idempotent).
--
-- Redo (重办): an unsatisfied verdict reopens the order (workorder.reopen(): back
-- to its main unit, redo_count + 1, fresh deadlines, a 'reopen' event right after
-- the 'callback' event) when the policy says so.  The policy of a category is the
-- row of workorder.callback_redo_policies for it or its nearest ancestor, else the
-- setting callback_redo_on_unsatisfied ('on' or 'off', default 'off').
--
-- SQLSTATEs: WO801 an unknown or inactive channel, or a missing or oversized
-- callback reference (128 characters); WO802 a callback reference already used for
-- another order or verdict.  A verdict that is not one of the three is WO404 (an
-- invalid argument of an action), an unknown order WO402, an order that is neither
-- resolved nor closed WO401.

CREATE TABLE workorder.callbacks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_code text NOT NULL REFERENCES workorder.channels (code) ON UPDATE CASCADE,
    callback_ref text NOT NULL,
    order_id     bigint NOT NULL REFERENCES workorder.orders (id),
    verdict      text NOT NULL,
    note         text,
    actor        text NOT NULL,
    event_seq    integer NOT NULL,
    redo         boolean NOT NULL,
    at           timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    CONSTRAINT callbacks_ref_unique UNIQUE (channel_code, callback_ref),
    CONSTRAINT callbacks_verdict CHECK (verdict IN ('satisfied', 'basically_satisfied', 'unsatisfied'))
);
CREATE INDEX callbacks_order_idx ON workorder.callbacks (order_id);
SELECT pg_catalog.pg_extension_config_dump('workorder.callbacks', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.callbacks_id_seq', '');
REVOKE ALL ON workorder.callbacks FROM PUBLIC;
COMMENT ON TABLE workorder.callbacks IS
    'Callbacks (回访) received through a channel, one per (channel, callback_ref): what a retry returns.';
COMMENT ON COLUMN workorder.callbacks.event_seq IS 'the seq of the callback event in the order''s log';
COMMENT ON COLUMN workorder.callbacks.redo IS 'the unsatisfied verdict reopened the order (重办)';

-- callback_redo_policies says, per category subtree, whether an unsatisfied verdict
-- reopens the order; a category without a row inherits its nearest ancestor's.
CREATE TABLE workorder.callback_redo_policies (
    category_code       text PRIMARY KEY REFERENCES workorder.categories (code) ON UPDATE CASCADE ON DELETE CASCADE,
    redo_on_unsatisfied boolean NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('workorder.callback_redo_policies', '');
COMMENT ON TABLE workorder.callback_redo_policies IS
    'Whether an unsatisfied callback reopens an order of this category subtree; else the setting callback_redo_on_unsatisfied.';

-- callback_redo returns whether an unsatisfied verdict on an order of the category
-- reopens it: the nearest row of callback_redo_policies on the category's path,
-- else the setting callback_redo_on_unsatisfied (default off).
CREATE FUNCTION workorder.callback_redo(category text)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    redo boolean;
BEGIN
    SELECT p.redo_on_unsatisfied INTO redo
      FROM workorder.category_effective e
     CROSS JOIN LATERAL pg_catalog.unnest(e.path) WITH ORDINALITY AS c(code, depth)
      JOIN workorder.callback_redo_policies p ON p.category_code OPERATOR(pg_catalog.=) c.code
     WHERE e.code OPERATOR(pg_catalog.=) category
     ORDER BY c.depth DESC LIMIT 1;
    RETURN COALESCE(redo, workorder.setting('callback_redo_on_unsatisfied', 'off')::boolean);
END
$$;

-- callback_verdict records a verdict on a locked order (resolved or closed): it
-- checks the verdict (WO404), stores it, logs the callback event with details, and
-- reopens the order when the verdict is unsatisfied and the policy says so.  It
-- returns the order as it left it and the seq of the callback event.
CREATE FUNCTION workorder.callback_verdict(o workorder.orders, who text, verdict text, said text,
                                           details jsonb, OUT after workorder.orders, OUT event_seq integer,
                                           OUT redo boolean)
LANGUAGE plpgsql
AS $$
BEGIN
    IF verdict IS NULL
       OR NOT verdict OPERATOR(pg_catalog.=) ANY ('{satisfied,basically_satisfied,unsatisfied}'::text[]) THEN
        PERFORM workorder.action_error(o, 'callback', 'WO404',
            'satisfaction is not one of satisfied, basically_satisfied, unsatisfied',
            pg_catalog.format('satisfaction is %s.', COALESCE(pg_catalog.quote_literal(verdict), 'NULL')),
            'Record what the citizen said: satisfied (满意), basically_satisfied (基本满意) or unsatisfied (不满意).');
    END IF;
    UPDATE workorder.orders x
       SET satisfaction = verdict, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    after := workorder.action_done(after, 'callback', who, o.status, said,
        pg_catalog.jsonb_build_object('satisfaction', verdict) OPERATOR(pg_catalog.||) COALESCE(details, '{}'));
    event_seq := after.event_count;
    redo := verdict OPERATOR(pg_catalog.=) 'unsatisfied' AND workorder.callback_redo(o.category_code);
    IF redo THEN
        after := workorder.reopen(o.id, who,
            pg_catalog.format('unsatisfied callback (回访不满意)%s', COALESCE(': ' OPERATOR(pg_catalog.||) said, '')));
    END IF;
END
$$;

-- callback (回访) by the center itself: the citizen's satisfaction, asked after the
-- order is resolved; returns the order as it left it (reopened when the verdict
-- is unsatisfied and the policy says so).
CREATE OR REPLACE FUNCTION workorder.callback(order_id bigint, actor text, satisfaction text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    o workorder.orders := workorder.order_for_action(order_id, 'callback');
    who text := workorder.check_actor(actor);
    said text := workorder.action_text(o, 'callback', 'note', note, false);
BEGIN
    RETURN (workorder.callback_verdict(o, who, satisfaction, said, '{}')).after;
END
$$;

-- callback through a channel, idempotent on (channel, callback_ref): see the top.
CREATE FUNCTION workorder.callback(order_id bigint, channel text, callback_ref text, verdict text,
                                   note text, actor text)
RETURNS workorder.callbacks
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    ref text := pg_catalog.btrim(callback_ref, E' \t\n\r\f\x0b\u00a0\u3000');
    seen workorder.callbacks;
    o workorder.orders;
    who text;
    said text;
    done record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM workorder.channels c
                    WHERE c.code OPERATOR(pg_catalog.=) channel AND c.active) THEN
        PERFORM workorder.raise_error('WO801',
            pg_catalog.format('callback: unknown or inactive channel %s', COALESCE(pg_catalog.quote_literal(channel), 'NULL')),
            pg_catalog.format('The channel is %s; the order is %s.', COALESCE(pg_catalog.quote_literal(channel), 'NULL'),
                              COALESCE(order_id::text, 'NULL')),
            'Pass the code of an active channel in workorder.channels: the one the callback came through.');
    END IF;
    PERFORM workorder.check_channel_access(channel, 'record a callback');   -- a connector: its own channel (part 96)
    IF ref IS NULL OR ref OPERATOR(pg_catalog.=) '' OR pg_catalog.length(ref) OPERATOR(pg_catalog.>) 128 THEN
        PERFORM workorder.raise_error('WO801',
            'callback: a callback reference of 1 to 128 characters is required',
            pg_catalog.format('The callback_ref is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(callback_ref, 40)), 'NULL')),
            'Pass the channel''s own reference of this callback: it makes a retry safe.');
    END IF;
    -- One callback reference at a time: a concurrent retry waits here, then finds
    -- the first call's row.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('workorder.callbacks'),
                                             pg_catalog.hashtext(channel OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) ref));
    SELECT * INTO seen FROM workorder.callbacks c
     WHERE c.channel_code OPERATOR(pg_catalog.=) channel AND c.callback_ref OPERATOR(pg_catalog.=) ref;
    IF FOUND THEN
        IF seen.order_id IS DISTINCT FROM callback.order_id OR seen.verdict IS DISTINCT FROM callback.verdict THEN
            PERFORM workorder.raise_error('WO802',
                pg_catalog.format('callback %s of channel %s was already recorded with another order or verdict', ref, channel),
                pg_catalog.format('Recorded: order %s, %s. Now: order %s, %s.', seen.order_id, seen.verdict,
                                  COALESCE(order_id::text, 'NULL'), COALESCE(verdict, 'NULL')),
                'A callback reference names one callback; give a new callback a new reference.');
        END IF;
        RETURN seen;
    END IF;
    o := workorder.order_for_action(order_id, 'callback');
    who := workorder.check_actor(actor);
    said := workorder.action_text(o, 'callback', 'note', note, false);
    done := workorder.callback_verdict(o, who, verdict, said,
        pg_catalog.jsonb_build_object('channel', channel, 'callback_ref', ref));
    INSERT INTO workorder.callbacks AS c (channel_code, callback_ref, order_id, verdict, note, actor, event_seq, redo)
    VALUES (channel, ref, o.id, verdict, said, who, done.event_seq, done.redo)
    RETURNING * INTO seen;
    RETURN seen;
END
$$;
COMMENT ON FUNCTION workorder.callback(bigint, text, text, text, text, text) IS
    'Records a citizen''s verdict (satisfied, basically_satisfied, unsatisfied) received through a channel; idempotent on (channel, callback_ref).';
-- workorder install script, part 70: the bulk inbox.
--
-- A connector that has many reports at once COPYs them into workorder.inbox, and
-- workorder.drain_inbox() turns each pending row into an order through submit().
-- The report columns are text, so that COPY itself never rejects a row for its
-- type: a longitude 'abc' becomes a rejected row with a reason, not a failed COPY
-- that loses the whole batch.  Every row ends 'accepted' (with its order's id) or
-- 'rejected' (with the SQLSTATE and the reason); no row is ever deleted.
--
-- Privileges (part 98): nothing for PUBLIC.  Intake connectors (workorder_intake)
-- INSERT the report columns, for their own channel only (a trigger, part 96), and
-- read their rows back through workorder.inbox_mine; drain_inbox() is the worker's
-- and the admins'.

CREATE TABLE workorder.inbox (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- The report, as the connector has it: the arguments of submit(), as text.
    channel        text,
    channel_ref    text,
    category       text,
    description    text,
    lon            text,
    lat            text,
    address        text,
    reporter_name  text,
    reporter_phone text,
    occurred_at    text,
    attributes     text,
    priority       text,
    -- What became of it.
    state          text NOT NULL DEFAULT 'pending',
    order_id       bigint,
    error_code     text,
    error_message  text,
    processed_at   timestamptz,
    CONSTRAINT inbox_state CHECK (state IN ('pending', 'accepted', 'rejected')),
    CONSTRAINT inbox_accepted_has_order CHECK ((state OPERATOR(pg_catalog.=) 'accepted') OPERATOR(pg_catalog.=) (order_id IS NOT NULL)),
    CONSTRAINT inbox_rejected_has_reason CHECK (state OPERATOR(pg_catalog.<>) 'rejected'
                                                OR (error_code IS NOT NULL AND error_message IS NOT NULL))
);
-- drain_inbox() claims the pending rows in id order through this index, which
-- stays as small as the backlog however long the history grows.
CREATE INDEX inbox_pending_idx ON workorder.inbox (id) WHERE state OPERATOR(pg_catalog.=) 'pending';
-- A connector reads its results back by its own reference.
CREATE INDEX inbox_channel_ref_idx ON workorder.inbox (channel, channel_ref);
SELECT pg_catalog.pg_extension_config_dump('workorder.inbox', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.inbox_id_seq', '');
REVOKE ALL ON workorder.inbox FROM PUBLIC;
COMMENT ON TABLE workorder.inbox IS
    'Bulk intake: connectors COPY reports in (text columns), workorder.drain_inbox() makes them orders; rows are kept with their outcome.';
COMMENT ON COLUMN workorder.inbox.lon IS 'WGS84 longitude in degrees, as text; converted to double precision by drain_inbox()';
COMMENT ON COLUMN workorder.inbox.lat IS 'WGS84 latitude in degrees, as text; converted to double precision by drain_inbox()';
COMMENT ON COLUMN workorder.inbox.occurred_at IS
    'when the event happened, as text; converted to timestamptz by drain_inbox(), Beijing time (Asia/Shanghai) when it has no UTC offset';
COMMENT ON COLUMN workorder.inbox.attributes IS 'free attributes, a JSON object as text';
COMMENT ON COLUMN workorder.inbox.priority IS 'low, normal, high or urgent (case and surrounding blanks ignored); empty means normal';
COMMENT ON COLUMN workorder.inbox.state IS 'pending until drained, then accepted (order_id is set) or rejected (error_code and error_message say why)';
COMMENT ON COLUMN workorder.inbox.error_code IS
    'the SQLSTATE of the rejection: WO1xx/WO3xx from submit(), 22xxx for a column that does not convert; on a row still pending, the transient error (40xxx, 55P03) of its last attempt';

-- inbox_timestamptz converts the text of an event time.  A time without a UTC
-- offset is Beijing time, as the ticket's day is, whatever the session's TimeZone
-- (a connector's session and the background worker's may differ); dates are read
-- year first.  The settings are the function's own and end with the call.
CREATE FUNCTION workorder.inbox_timestamptz(value text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET TimeZone = 'Asia/Shanghai'
SET DateStyle = 'ISO, YMD'
AS $$
BEGIN
    RETURN value::timestamptz;
END
$$;

-- drain_inbox makes orders of up to max_rows pending inbox rows and returns how
-- many it accepted and rejected.
--
-- It claims the rows in id order with FOR UPDATE SKIP LOCKED, so several sessions
-- (and the background worker) may drain at once: each row is claimed by one.  Each
-- row is converted and submitted in a subtransaction of its own, so one bad row
-- never aborts the batch: it is rejected, with the SQLSTATE and the message and
-- detail of the error.  A conversion error names the column and the value.  A
-- retry of a report (same channel and channel_ref as an order that exists, or as
-- an earlier row) is accepted with the existing order's id, because submit() is
-- idempotent.
--
-- The claimed rows are submitted in (channel, channel_ref, id) order, not in id
-- order.  Two drains that meet on the same reference (one waits for the other's
-- uncommitted order) then always wait in the same direction and never deadlock,
-- and the earliest row of a reference is the one that makes its order.
--
-- A row whose submit fails for a reason that is not the row's (a deadlock or a
-- serialization failure with another transaction, class 40, or a lock timeout,
-- 55P03) is not rejected: it stays pending, with the error recorded, and the next
-- drain tries it again.
CREATE FUNCTION workorder.drain_inbox(max_rows integer DEFAULT 1000)
RETURNS TABLE (accepted integer, rejected integer)
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    claimed bigint[];
    r workorder.inbox;
    o workorder.orders;
    v_lon double precision;
    v_lat double precision;
    v_occurred_at timestamptz;
    v_attributes jsonb;
    v_priority workorder.order_priority;
    converting text;    -- the column being converted, NULL once they all are
    converted_to text;  -- what it is converted to, for the message
    value text;         -- its value
    err_code text;
    err_message text;
    err_detail text;
BEGIN
    IF max_rows IS NULL OR max_rows OPERATOR(pg_catalog.<) 1 OR max_rows OPERATOR(pg_catalog.>) 100000 THEN
        PERFORM workorder.raise_error('WO306',
            'invalid batch size for drain_inbox',
            pg_catalog.format('max_rows is %s.', COALESCE(max_rows::text, 'NULL')),
            'Pass max_rows from 1 to 100000; call drain_inbox() again for the rest of the backlog.');
    END IF;
    accepted := 0;
    rejected := 0;

    SELECT pg_catalog.array_agg(c.id) INTO claimed
      FROM (SELECT i.id FROM workorder.inbox i
             WHERE i.state OPERATOR(pg_catalog.=) 'pending'
             ORDER BY i.id
             LIMIT max_rows
               FOR UPDATE SKIP LOCKED) c;
    IF claimed IS NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    FOR r IN SELECT * FROM workorder.inbox i
              WHERE i.id OPERATOR(pg_catalog.=) ANY (claimed)
              ORDER BY i.channel COLLATE pg_catalog."C", i.channel_ref COLLATE pg_catalog."C", i.id
    LOOP
        BEGIN
            converting := 'lon';
            converted_to := 'a number (degrees of longitude)';
            value := r.lon;
            v_lon := NULLIF(pg_catalog.btrim(r.lon), '')::double precision;
            converting := 'lat';
            converted_to := 'a number (degrees of latitude)';
            value := r.lat;
            v_lat := NULLIF(pg_catalog.btrim(r.lat), '')::double precision;
            converting := 'occurred_at';
            converted_to := 'a timestamp';
            value := r.occurred_at;
            v_occurred_at := workorder.inbox_timestamptz(NULLIF(pg_catalog.btrim(r.occurred_at), ''));
            converting := 'attributes';
            converted_to := 'JSON';
            value := r.attributes;
            v_attributes := NULLIF(pg_catalog.btrim(r.attributes), '')::jsonb;
            converting := 'priority';
            converted_to := 'a priority (low, normal, high, urgent)';
            value := r.priority;
            v_priority := NULLIF(pg_catalog.lower(pg_catalog.btrim(r.priority)), '')::workorder.order_priority;
            converting := NULL;

            o := workorder.submit(
                channel => r.channel, channel_ref => r.channel_ref, category => r.category,
                description => r.description, lon => v_lon, lat => v_lat, address => r.address,
                reporter_name => r.reporter_name, reporter_phone => r.reporter_phone,
                occurred_at => v_occurred_at, attributes => v_attributes, priority => v_priority);

            UPDATE workorder.inbox i
               SET state = 'accepted', order_id = o.id, error_code = NULL, error_message = NULL,
                   processed_at = pg_catalog.clock_timestamp()
             WHERE i.id OPERATOR(pg_catalog.=) r.id;
            accepted := accepted OPERATOR(pg_catalog.+) 1;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS err_code = RETURNED_SQLSTATE,
                                    err_message = MESSAGE_TEXT,
                                    err_detail = PG_EXCEPTION_DETAIL;
            IF converting IS NOT NULL THEN
                err_detail := pg_catalog.format('The value does not convert: %s%s.', err_message,
                                                COALESCE(' (' OPERATOR(pg_catalog.||)
                                                         pg_catalog.rtrim(NULLIF(err_detail, ''), '.')
                                                         OPERATOR(pg_catalog.||) ')', ''));
                err_message := pg_catalog.format('inbox column %s is not %s: %s', converting, converted_to,
                                                 pg_catalog.quote_literal(pg_catalog.left(value, 60)));
            END IF;
            err_message := err_message OPERATOR(pg_catalog.||)
                           COALESCE('. ' OPERATOR(pg_catalog.||) NULLIF(err_detail, ''), '');
            IF converting IS NULL
               AND pg_catalog.left(err_code, 3) NOT IN ('WO1', 'WO3') THEN
                -- Not the row's fault (a deadlock, a lock timeout, a broken setting or
                -- unit, ...): rejecting it would lose a good report, so it stays
                -- pending, with the error, for the next drain.
                UPDATE workorder.inbox i
                   SET error_code = err_code,
                       error_message = 'not processed, to be retried: ' OPERATOR(pg_catalog.||) err_message
                 WHERE i.id OPERATOR(pg_catalog.=) r.id;
            ELSE
                UPDATE workorder.inbox i
                   SET state = 'rejected', order_id = NULL, error_code = err_code, error_message = err_message,
                       processed_at = pg_catalog.clock_timestamp()
                 WHERE i.id OPERATOR(pg_catalog.=) r.id;
                rejected := rejected OPERATOR(pg_catalog.+) 1;
            END IF;
        END;
    END LOOP;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION workorder.drain_inbox(integer) FROM PUBLIC;
COMMENT ON FUNCTION workorder.drain_inbox(integer) IS
    'Makes orders of up to max_rows pending workorder.inbox rows through submit(); returns how many were accepted and rejected.';
-- workorder install script, part 75: the outbox, the one way out to the channels.
--
-- Every status change a channel should hear about becomes one message in
-- workorder.outbox, addressed to the channel of the report (channel_code and the
-- channel's own channel_ref).  A statement trigger on workorder.order_events makes
-- the messages, so they are written in the transaction of the action itself: a
-- committed action always has its messages, even across a crash, and a rolled-back
-- action has none.  Connectors take them with workorder.claim_outbox(), and confirm
-- each with workorder.ack_outbox() or give it back with workorder.fail_outbox().
-- Delivery is at least once: a claim is a lease, and a message whose lease runs out
-- (a connector that crashed) is claimable again, so a connector must treat a
-- message it has seen before (same id) as a duplicate.
--
-- What makes a message (kind is the action of the event):
--   dispatch, reassign   the order went to a unit (at intake too, when routed)
--   accept               the unit signed for it
--   return               the unit handed it back (the reason is in the payload)
--   resolve              the result
--   verify               only a failed verification: the result is not accepted
--                        and the order is handled again
--   close                closed, with the result
--   reopen               sent back to be redone (the reason)
--   cancel               invalid or spam (the reason)
--   merge, unmerge       the report follows a master (its ticket), or no longer;
--                        merged into a resolved master, it carries the result
-- Not: submit (the connector has the answer of submit() already), suspend and
-- resume, extensions, callback, supervise and comment (internal to the center), and
-- the master's merged_in / unmerged_out (the merged report's own message says it).
-- Only channels with replies = true get messages.
--
-- A merged report follows its master: when the master is resolved, closed, reopened
-- or cancelled, every report merged into it gets a message of its own, on its own
-- channel and with its own channel_ref and ticket, carrying master_ticket.  The
-- master's progress before that (dispatch, accept, ...) is not copied to them.
--
-- Settings (workorder.settings rows; the defaults apply when there is no row):
--   outbox_backoff_base  the wait after the first failure (default '30 seconds'); it
--                        doubles with each further failure ...
--   outbox_backoff_max   ... up to this (default '1 hour')
--   outbox_max_attempts  after this many claims the message is dead (default 8)
--
-- Privileges (part 98): intake connectors (workorder_intake) run claim/ack/fail, for
-- their own channel only (check_channel_access, part 96), and read their channel's
-- rows; nothing for PUBLIC.

CREATE TABLE workorder.outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The report the message is addressed to (for a merged report reached through
    -- its master, the merged report, not the master).
    order_id        bigint NOT NULL REFERENCES workorder.orders (id),
    -- The event it came from.  No foreign key: the log is append-only, the trigger
    -- takes the id from the row it sees inserted, and a key would cost a check per
    -- message on the intake path (and turn TRUNCATE of the log into a key error
    -- instead of its own WO405).
    event_id        bigint NOT NULL,
    channel_code    text NOT NULL,
    channel_ref     text NOT NULL,
    kind            text NOT NULL,
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    -- When a pending message may be claimed; for a claimed one, when its lease ends
    -- (equal to claimed_until), so that one index finds every claimable message.
    next_attempt_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    claimed_by      text,
    claimed_until   timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    delivered_at    timestamptz,
    -- One event makes at most one message per report.  (Per report rather than per
    -- channel: a master's result goes to each merged report, and two of those may
    -- have come through the same channel.)
    CONSTRAINT outbox_event_order_unique UNIQUE (event_id, order_id),
    CONSTRAINT outbox_state CHECK (state IN ('pending', 'claimed', 'delivered', 'dead')),
    CONSTRAINT outbox_claimed_has_lease CHECK ((state OPERATOR(pg_catalog.=) 'claimed') OPERATOR(pg_catalog.=) (claimed_until IS NOT NULL)),
    CONSTRAINT outbox_delivered_at CHECK ((state OPERATOR(pg_catalog.=) 'delivered') OPERATOR(pg_catalog.=) (delivered_at IS NOT NULL))
);
-- A claim reads only the claimable messages of its channel, due first: the index
-- stays as small as the backlog however long the history grows.
CREATE INDEX outbox_due_idx ON workorder.outbox (channel_code, next_attempt_at)
    WHERE state IN ('pending', 'claimed');
-- outbox_expire finds the earliest lease to run out.
CREATE INDEX outbox_lease_idx ON workorder.outbox (claimed_until) WHERE state OPERATOR(pg_catalog.=) 'claimed';
CREATE INDEX outbox_order_idx ON workorder.outbox (order_id);
SELECT pg_catalog.pg_extension_config_dump('workorder.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.outbox_id_seq', '');
REVOKE ALL ON workorder.outbox FROM PUBLIC;
COMMENT ON TABLE workorder.outbox IS
    'Messages to the channels (status changes, results), made by a trigger on order_events; connectors use claim_outbox/ack_outbox/fail_outbox.';
COMMENT ON COLUMN workorder.outbox.state IS
    'pending (waits for next_attempt_at), claimed (leased until claimed_until), delivered (acknowledged), dead (max attempts reached)';
COMMENT ON COLUMN workorder.outbox.payload IS
    'ticket, kind, status, previous_status, unit, unit_name, result (resolve, close), reason, master_ticket (merged reports), occurred_at';

-- outbox_from_events makes the messages of the events one statement inserted.  It
-- is a statement trigger with a transition table: submit() writes the events of an
-- intake (submit, dispatch) in one statement, which then costs one call of this
-- function, not one per event.  The orders it reads are as the statement left them.
-- It is C (src/outbox.c): events that make no message cost no query, a message
-- to the event's own order is one lookup of the order and one INSERT ... VALUES
-- (none when its channel does not reply), and only resolve, close, reopen and
-- cancel, whose messages also go to the reports merged into the order, run the
-- join over the order's merged reports.
CREATE FUNCTION workorder.outbox_from_events()
RETURNS trigger
AS 'MODULE_PATHNAME', 'outbox_from_events'
LANGUAGE C;

-- Events loaded by COPY (pg_restore, a migration) are history, not actions: they
-- make no messages (a restore brings back the outbox as it was, from the dump).
CREATE TRIGGER order_events_outbox
    AFTER INSERT ON workorder.order_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT
    WHEN (NOT workorder.loaded_by_copy('workorder.order_events'))
    EXECUTE FUNCTION workorder.outbox_from_events();

-- outbox_bad_argument raises WO603, a bad argument of a connector function.
CREATE FUNCTION workorder.outbox_bad_argument(what text, detail text, hint text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.raise_error('WO603', pg_catalog.format('invalid %s for the outbox', what), detail, hint);
END
$$;

-- outbox_claimer checks a claimer's name: NULL (anonymous) or 1 to 200 characters.
CREATE FUNCTION workorder.outbox_claimer(claimer text)
RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
    IF claimer IS NOT NULL AND (pg_catalog.btrim(claimer) OPERATOR(pg_catalog.=) ''
                                OR pg_catalog.length(claimer) OPERATOR(pg_catalog.>) 200) THEN
        PERFORM workorder.outbox_bad_argument('claimer',
            pg_catalog.format('claimer is %s (%s characters).', pg_catalog.quote_literal(pg_catalog.left(claimer, 40)),
                              pg_catalog.length(claimer)),
            'Name the connector instance in 1 to 200 characters, or pass NULL.');
    END IF;
    RETURN claimer;
END
$$;

-- claim_outbox claims up to max_messages due messages of a channel, in id order,
-- for lease: each becomes 'claimed' until now() + lease, and its attempts count
-- the claim.  Due means pending and past next_attempt_at, or claimed with a lease
-- that ran out (the connector that had it is presumed dead).  Rows another claim
-- holds locked are skipped, so two connectors never get the same message.  A
-- message claimed outbox_max_attempts times is left to outbox_expire, which makes it
-- dead.  WO603: an unknown channel, max_messages outside 1..10000, a lease outside
-- 1 second..1 day, a bad claimer.
CREATE FUNCTION workorder.claim_outbox(channel text, max_messages integer DEFAULT 100,
                                       lease interval DEFAULT '5 minutes', claimer text DEFAULT NULL)
RETURNS SETOF workorder.outbox
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    max_attempts integer := workorder.setting('outbox_max_attempts', '8')::integer;
BEGIN
    PERFORM workorder.check_channel_access(channel, 'claim the outbox');   -- an intake login: its own channel only (part 96)
    IF NOT EXISTS (SELECT 1 FROM workorder.channels c WHERE c.code OPERATOR(pg_catalog.=) claim_outbox.channel) THEN
        PERFORM workorder.outbox_bad_argument('channel',
            pg_catalog.format('There is no channel %s.', COALESCE(pg_catalog.quote_literal(channel), 'NULL')),
            'Pass the code of a channel in workorder.channels.');
    END IF;
    IF max_messages IS NULL OR max_messages OPERATOR(pg_catalog.<) 1
       OR max_messages OPERATOR(pg_catalog.>) 10000 THEN
        PERFORM workorder.outbox_bad_argument('batch size',
            pg_catalog.format('max_messages is %s.', COALESCE(max_messages::text, 'NULL')),
            'Claim 1 to 10000 messages at a time.');
    END IF;
    IF lease IS NULL OR lease OPERATOR(pg_catalog.<) '1 second'::interval
       OR lease OPERATOR(pg_catalog.>) '1 day'::interval THEN
        PERFORM workorder.outbox_bad_argument('lease',
            pg_catalog.format('lease is %s.', COALESCE(lease::text, 'NULL')),
            'Pass how long the connector needs to deliver the batch, from 1 second to 1 day.');
    END IF;
    claimer := workorder.outbox_claimer(claimer);
    RETURN QUERY
    WITH due AS (
        SELECT m.id FROM workorder.outbox m
         WHERE m.channel_code OPERATOR(pg_catalog.=) claim_outbox.channel
           AND m.state IN ('pending', 'claimed')
           AND m.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()
           AND (m.state OPERATOR(pg_catalog.=) 'pending' OR m.attempts OPERATOR(pg_catalog.<) max_attempts)
         ORDER BY m.id
         LIMIT max_messages
           FOR UPDATE SKIP LOCKED
    )
    UPDATE workorder.outbox m
       SET state = 'claimed', claimed_by = claim_outbox.claimer,
           claimed_until = pg_catalog.now() OPERATOR(pg_catalog.+) lease,
           next_attempt_at = pg_catalog.now() OPERATOR(pg_catalog.+) lease,
           attempts = m.attempts OPERATOR(pg_catalog.+) 1
      FROM due
     WHERE m.id OPERATOR(pg_catalog.=) due.id
    RETURNING m.*;
END
$$;

-- outbox_claimed returns a message that ack or fail may settle, locked: WO603 for a
-- NULL id, WO601 for an unknown message, WO602 for a message that is not claimed or
-- is claimed by another claimer (a NULL claimer does not check who claimed it).  A
-- delivered message is returned as it is, for ack to be idempotent.
CREATE FUNCTION workorder.outbox_claimed(message_id bigint, claimer text, action text)
RETURNS workorder.outbox
LANGUAGE plpgsql
AS $$
DECLARE
    m workorder.outbox;
BEGIN
    IF message_id IS NULL THEN
        PERFORM workorder.outbox_bad_argument('message id', 'message_id is NULL.',
            'Pass the id of a message that claim_outbox() returned.');
    END IF;
    claimer := workorder.outbox_claimer(claimer);
    SELECT * INTO m FROM workorder.outbox x WHERE x.id OPERATOR(pg_catalog.=) message_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO601',
            pg_catalog.format('outbox message %s does not exist', message_id),
            pg_catalog.format('The action was %s.', action),
            'Pass the id of a message that claim_outbox() returned.');
    END IF;
    PERFORM workorder.check_channel_access(m.channel_code, pg_catalog.format('%s outbox messages', action));   -- its own channel only (part 96)
    IF m.state OPERATOR(pg_catalog.=) 'delivered' THEN
        RETURN m;
    END IF;
    IF m.state OPERATOR(pg_catalog.<>) 'claimed' THEN
        PERFORM workorder.raise_error('WO602',
            pg_catalog.format('outbox message %s is not claimed: %s is not allowed', m.id, action),
            pg_catalog.format('It is %s after %s attempts.', m.state, m.attempts),
            CASE m.state WHEN 'dead' THEN 'A dead message is not delivered any more; look at its last_error.'
                         ELSE 'Its lease ran out and it was given back: claim it again with claim_outbox().' END);
    END IF;
    IF claimer IS NOT NULL AND m.claimed_by IS DISTINCT FROM claimer THEN
        PERFORM workorder.raise_error('WO602',
            pg_catalog.format('outbox message %s is not claimed by %s: %s is not allowed', m.id, claimer, action),
            pg_catalog.format('It is claimed by %s until %s.', COALESCE(m.claimed_by, 'an anonymous claimer'), m.claimed_until),
            'Settle only the messages your own claim returned; your lease may have run out and another connector taken it.');
    END IF;
    RETURN m;
END
$$;

-- ack_outbox marks a claimed message delivered and returns it.  Acknowledging a
-- delivered message again changes nothing (a connector may retry its ack).  An ack
-- after the lease ran out is still accepted while nobody else claimed the message.
CREATE FUNCTION workorder.ack_outbox(message_id bigint, claimer text DEFAULT NULL)
RETURNS workorder.outbox
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    m workorder.outbox := workorder.outbox_claimed(message_id, claimer, 'ack');
BEGIN
    IF m.state OPERATOR(pg_catalog.=) 'delivered' THEN
        RETURN m;
    END IF;
    UPDATE workorder.outbox x
       SET state = 'delivered', delivered_at = pg_catalog.now(), claimed_until = NULL
     WHERE x.id OPERATOR(pg_catalog.=) m.id
    RETURNING * INTO m;
    RETURN m;
END
$$;

-- outbox_backoff is the wait before the next attempt after attempts failed ones:
-- outbox_backoff_base doubled for each failure after the first, at most
-- outbox_backoff_max.
CREATE FUNCTION workorder.outbox_backoff(attempts integer)
RETURNS interval
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    base interval := workorder.setting('outbox_backoff_base', '30 seconds')::interval;
    cap interval := workorder.setting('outbox_backoff_max', '1 hour')::interval;
BEGIN
    -- Capping the exponent first keeps 2^n finite for any attempts.
    RETURN LEAST(base OPERATOR(pg_catalog.*)
                 pg_catalog.power(2::double precision, LEAST(GREATEST(attempts OPERATOR(pg_catalog.-) 1, 0), 30)::double precision),
                 cap);
END
$$;

-- fail_outbox gives a claimed message back after a failed delivery, with the error:
-- pending again after the backoff, or dead once it was claimed outbox_max_attempts
-- times.  WO603 for a NULL or blank error or one over 2000 characters.
CREATE FUNCTION workorder.fail_outbox(message_id bigint, error text, claimer text DEFAULT NULL)
RETURNS workorder.outbox
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    m workorder.outbox;
    max_attempts integer := workorder.setting('outbox_max_attempts', '8')::integer;
BEGIN
    IF error IS NULL OR pg_catalog.btrim(error) OPERATOR(pg_catalog.=) ''
       OR pg_catalog.length(error) OPERATOR(pg_catalog.>) 2000 THEN
        PERFORM workorder.outbox_bad_argument('error',
            pg_catalog.format('error is %s (%s characters).',
                              COALESCE(pg_catalog.quote_literal(pg_catalog.left(error, 40)), 'NULL'),
                              COALESCE(pg_catalog.length(error), 0)),
            'Say why the delivery failed, in 1 to 2000 characters.');
    END IF;
    m := workorder.outbox_claimed(message_id, claimer, 'fail');
    IF m.state OPERATOR(pg_catalog.=) 'delivered' THEN
        PERFORM workorder.raise_error('WO602',
            pg_catalog.format('outbox message %s is delivered: fail is not allowed', m.id),
            pg_catalog.format('It was acknowledged at %s.', m.delivered_at),
            'A delivered message stays delivered; a connector must not fail a message it acknowledged.');
    END IF;
    UPDATE workorder.outbox x
       SET state = CASE WHEN x.attempts OPERATOR(pg_catalog.>=) max_attempts THEN 'dead' ELSE 'pending' END,
           next_attempt_at = pg_catalog.now() OPERATOR(pg_catalog.+) workorder.outbox_backoff(x.attempts),
           claimed_by = NULL, claimed_until = NULL, last_error = error
     WHERE x.id OPERATOR(pg_catalog.=) m.id
    RETURNING * INTO m;
    RETURN m;
END
$$;

REVOKE ALL ON FUNCTION workorder.claim_outbox(text, integer, interval, text),
                       workorder.ack_outbox(bigint, text),
                       workorder.fail_outbox(bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION workorder.claim_outbox(text, integer, interval, text) IS
    'Claims due outbox messages of a channel for a lease (at least once; two claims never share a message).';
COMMENT ON FUNCTION workorder.ack_outbox(bigint, text) IS 'Marks a claimed outbox message delivered (idempotent).';
COMMENT ON FUNCTION workorder.fail_outbox(bigint, text, text) IS
    'Gives a claimed outbox message back after a failed delivery: pending after a backoff, or dead after outbox_max_attempts.';
-- workorder install script, part 80: working calendars.
--
-- A calendar says when people work, in one time zone:
--   calendars       code, name, time zone (a name of pg_timezone_names) and
--                   makeup_isodow: the weekday whose hours a make-up workday has
--                   (default 1, Monday)
--   calendar_hours  the weekly working hours: spans [starts, ends) of local
--                   wall-clock time per ISO weekday (1 Monday .. 7 Sunday), several
--                   a day if need be (09:00-12:00 and 14:00-18:00); ends may be 24:00
--   calendar_days   the exceptions: a 'holiday' has no working hours at all; a
--                   'workday' (调休, a weekend day people work) has the hours of
--                   the calendar's makeup_isodow (none if that weekday has no hours).
--                   Any day not listed follows the week.
-- The default calendar cn (Mainland China) is in part 81, generated from
-- data/cn-calendar.csv by scripts/calendar-sql.
--
-- The arithmetic is in C (src/calendar.c):
--   add_working_time(start, duration, calendar)   the instant when duration of working
--                                                 time has elapsed after start
--   working_time_between(a, b, calendar)          the working time in [a, b)
--   add_working_days(start, days, calendar)       the end of working hours of the
--                                                 days-th working day after start's day
-- Spans are wall-clock times, counted as the instants they cover in the calendar's
-- time zone, so daylight-saving switches are right.  Each backend keeps every calendar
-- it has used in memory; a statement trigger on the three tables invalidates the
-- copies in every backend when the tables change (the changing session sees the
-- change at its next statement, the others from their next transaction on).
--
-- Next year's holiday plan is one call, no code change:
--   SELECT * FROM workorder.load_calendar_csv('cn', :'csv');
--   SELECT * FROM workorder.load_calendar_days('cn', '[{"day": "2027-01-01", "kind": "holiday", "name": "元旦"}]');
--
-- Every change to a calendar's data is written to workorder.calendar_changes: the
-- hook where deadlines of open orders will be recomputed (issue 4, second part).
--
-- Dump and restore.  The three tables are configuration: pg_dump keeps their rows,
-- except those of a calendar still exactly as the extension shipped it (shipped =
-- true; CREATE EXTENSION makes it again).  The first change to a shipped calendar
-- (its row, hours or days) clears the flag, and from then on the whole calendar is
-- dumped; restoring it replaces the shipped copy, because inserting a calendar whose
-- code belongs to a still-shipped calendar replaces that calendar.
--
-- SQLSTATEs: WO501 unknown calendar; WO502 invalid calendar definition (a row of the
-- three tables, or a calendar without working hours); WO503 invalid argument of a
-- calendar function (a duration with days or months, an infinite time, a negative
-- number of days, no end within 100 years); WO504 calendar data that cannot be loaded
-- (the message names the line or element).

CREATE TABLE workorder.calendars (
    code          text PRIMARY KEY,
    name          text NOT NULL,
    time_zone     text NOT NULL,
    makeup_isodow smallint NOT NULL DEFAULT 1,
    description   text,
    shipped       boolean NOT NULL DEFAULT false,
    CONSTRAINT calendars_code_format CHECK (code OPERATOR(pg_catalog.~) '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    CONSTRAINT calendars_makeup_isodow CHECK (makeup_isodow OPERATOR(pg_catalog.>=) 1
                                              AND makeup_isodow OPERATOR(pg_catalog.<=) 7)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.calendars', 'WHERE NOT shipped');
COMMENT ON TABLE workorder.calendars IS
    'Working calendars: a time zone, weekly hours (calendar_hours) and exception days (calendar_days).';
COMMENT ON COLUMN workorder.calendars.makeup_isodow IS
    'ISO weekday (1 Monday .. 7 Sunday) whose working hours a make-up workday (calendar_days.kind = workday) has.';
COMMENT ON COLUMN workorder.calendars.shipped IS
    'True while the calendar is exactly as the extension shipped it; pg_dump leaves such a calendar out.';

CREATE TABLE workorder.calendar_hours (
    calendar_code text NOT NULL REFERENCES workorder.calendars (code) ON UPDATE CASCADE ON DELETE CASCADE,
    isodow        smallint NOT NULL,
    starts        time NOT NULL,
    ends          time NOT NULL,
    PRIMARY KEY (calendar_code, isodow, starts),
    CONSTRAINT calendar_hours_isodow CHECK (isodow OPERATOR(pg_catalog.>=) 1 AND isodow OPERATOR(pg_catalog.<=) 7),
    CONSTRAINT calendar_hours_span CHECK (starts OPERATOR(pg_catalog.<) ends)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.calendar_hours',
    'WHERE calendar_code NOT IN (SELECT c.code FROM workorder.calendars c WHERE c.shipped)');
COMMENT ON TABLE workorder.calendar_hours IS
    'Weekly working hours: spans [starts, ends) of local time per ISO weekday; spans of one day must not overlap.';

CREATE TABLE workorder.calendar_days (
    calendar_code text NOT NULL REFERENCES workorder.calendars (code) ON UPDATE CASCADE ON DELETE CASCADE,
    day           date NOT NULL,
    kind          text NOT NULL,
    name          text,
    name_en       text,
    PRIMARY KEY (calendar_code, day),
    CONSTRAINT calendar_days_kind CHECK (kind IN ('holiday', 'workday'))
);
SELECT pg_catalog.pg_extension_config_dump('workorder.calendar_days',
    'WHERE calendar_code NOT IN (SELECT c.code FROM workorder.calendars c WHERE c.shipped)');
COMMENT ON TABLE workorder.calendar_days IS
    'Exception days: holiday (no working hours) or workday (a make-up workday, with the hours of calendars.makeup_isodow).';

-- calendar_changes is the hook for recomputing deadlines: every statement that
-- changes a calendar's hours, days, time zone or make-up weekday appends one row per
-- calendar, with the range of days it touched (NULL: unbounded, as for a change of
-- hours).  The deadline job (issue 4, second part) reads the rows, recomputes the
-- deadlines of the open orders on that calendar, and deletes the rows it handled.
-- It is a work queue, not configuration: pg_dump leaves it out.
CREATE TABLE workorder.calendar_changes (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    calendar_code text NOT NULL,
    first_day     date,
    last_day      date,
    what          text NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT calendar_changes_what CHECK (what IN ('days', 'hours', 'calendar'))
);
COMMENT ON TABLE workorder.calendar_changes IS
    'Calendar data changed since the deadlines were last recomputed: calendar, range of days (NULL: unbounded), what.';

-- calendar_must_exist raises WO501 unless calendar is the code of a calendar, with
-- the message the C functions give.
CREATE FUNCTION workorder.calendar_must_exist(calendar text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF calendar IS NULL THEN
        PERFORM workorder.raise_error('WO501', 'calendar is NULL', 'The calendar argument is NULL.',
            'Pass a code of workorder.calendars, such as cn.');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM workorder.calendars c WHERE c.code OPERATOR(pg_catalog.=) calendar) THEN
        PERFORM workorder.raise_error('WO501',
            pg_catalog.format('unknown calendar "%s"', calendar),
            pg_catalog.format('No row of workorder.calendars has the code "%s".', calendar),
            'Use a code of workorder.calendars, such as cn, or create the calendar first.');
    END IF;
END
$$;

-- calendars_before_write checks a calendar row (WO502), and keeps the shipped flag:
-- any change to a shipped calendar clears it, and a calendar inserted over a still
-- shipped calendar of the same code replaces it.
CREATE FUNCTION workorder.calendars_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    canonical text;
BEGIN
    IF NEW.code IS NULL OR NEW.code OPERATOR(pg_catalog.!~) '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' THEN
        PERFORM workorder.raise_error('WO502', 'invalid calendar code',
            pg_catalog.format('The code is %s.', COALESCE(pg_catalog.quote_literal(NEW.code), 'NULL')),
            'A calendar code is 1 to 64 letters, digits, dots, dashes and underscores, beginning with a letter or digit, e.g. cn or cn-gd.');
    END IF;
    IF NEW.name IS NULL OR pg_catalog.btrim(NEW.name) OPERATOR(pg_catalog.=) ''
       OR pg_catalog.length(NEW.name) OPERATOR(pg_catalog.>) 100 THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('calendar %s has a missing or oversized name', NEW.code),
            pg_catalog.format('The name is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(NEW.name, 120)), 'NULL')),
            'Give the calendar a name of 1 to 100 characters.');
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' OR NEW.time_zone IS DISTINCT FROM OLD.time_zone THEN
        IF NEW.time_zone IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z
                                                 WHERE z.name OPERATOR(pg_catalog.=) NEW.time_zone) THEN
            SELECT z.name INTO canonical FROM pg_catalog.pg_timezone_names z
             WHERE pg_catalog.lower(z.name) OPERATOR(pg_catalog.=) pg_catalog.lower(NEW.time_zone)
             ORDER BY z.name LIMIT 1;
            PERFORM workorder.raise_error('WO502',
                pg_catalog.format('calendar %s has an unknown time zone', NEW.code),
                pg_catalog.format('The time zone is %s; it is not a name in pg_timezone_names.',
                                  COALESCE(pg_catalog.quote_literal(NEW.time_zone), 'NULL')),
                CASE WHEN canonical IS NOT NULL THEN pg_catalog.format('Did you mean %s?', canonical)
                     ELSE 'Use a time zone name such as Asia/Shanghai or Europe/Berlin (SELECT name FROM pg_timezone_names).' END);
        END IF;
    END IF;
    IF NEW.makeup_isodow IS NULL OR NEW.makeup_isodow OPERATOR(pg_catalog.<) 1
       OR NEW.makeup_isodow OPERATOR(pg_catalog.>) 7 THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('calendar %s has an invalid make-up weekday', NEW.code),
            pg_catalog.format('makeup_isodow is %s.', COALESCE(NEW.makeup_isodow::text, 'NULL')),
            'makeup_isodow is the ISO weekday (1 Monday .. 7 Sunday) whose hours a make-up workday has; usually 1.');
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        -- Any change but to the flag itself makes the calendar no longer as shipped.
        IF (NEW.code, NEW.name, NEW.time_zone, NEW.makeup_isodow, NEW.description)
           IS DISTINCT FROM (OLD.code, OLD.name, OLD.time_zone, OLD.makeup_isodow, OLD.description) THEN
            NEW.shipped := false;
        END IF;
    ELSE
        -- A calendar inserted over one that is still as shipped replaces it: this
        -- is how pg_restore brings back a changed copy of a shipped calendar.
        DELETE FROM workorder.calendars c
         WHERE c.code OPERATOR(pg_catalog.=) NEW.code AND c.shipped;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER calendars_before_write
    BEFORE INSERT OR UPDATE ON workorder.calendars
    FOR EACH ROW EXECUTE FUNCTION workorder.calendars_before_write();

-- calendar_hours_before_write checks one span of weekly hours.
CREATE FUNCTION workorder.calendar_hours_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.calendar_must_exist(NEW.calendar_code);
    IF NEW.isodow IS NULL OR NEW.isodow OPERATOR(pg_catalog.<) 1 OR NEW.isodow OPERATOR(pg_catalog.>) 7 THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('working hours of calendar %s on an invalid weekday', NEW.calendar_code),
            pg_catalog.format('isodow is %s.', COALESCE(NEW.isodow::text, 'NULL')),
            'isodow is the ISO weekday: 1 Monday .. 7 Sunday.');
    END IF;
    IF NEW.starts IS NULL OR NEW.ends IS NULL OR NEW.starts OPERATOR(pg_catalog.>=) NEW.ends THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('working hours of calendar %s on weekday %s do not form a span', NEW.calendar_code, NEW.isodow),
            pg_catalog.format('starts is %s and ends is %s.', COALESCE(NEW.starts::text, 'NULL'), COALESCE(NEW.ends::text, 'NULL')),
            'A span runs from starts to a later ends on the same day (ends may be 24:00); split a night shift at midnight.');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER calendar_hours_before_write
    BEFORE INSERT OR UPDATE ON workorder.calendar_hours
    FOR EACH ROW EXECUTE FUNCTION workorder.calendar_hours_before_write();

-- calendar_hours_after_write refuses a span that overlaps another span of the same
-- weekday.  It runs after the statement's rows are all in place, so a statement that
-- moves several spans at once is judged on where they end up.
CREATE FUNCTION workorder.calendar_hours_after_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    other workorder.calendar_hours;
BEGIN
    SELECT * INTO other FROM workorder.calendar_hours h
     WHERE h.calendar_code OPERATOR(pg_catalog.=) NEW.calendar_code
       AND h.isodow OPERATOR(pg_catalog.=) NEW.isodow
       AND h.starts OPERATOR(pg_catalog.<>) NEW.starts
       AND h.starts OPERATOR(pg_catalog.<) NEW.ends AND NEW.starts OPERATOR(pg_catalog.<) h.ends
     ORDER BY h.starts LIMIT 1;
    IF FOUND THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('working hours of calendar %s overlap on weekday %s', NEW.calendar_code, NEW.isodow),
            pg_catalog.format('The span %s-%s overlaps the span %s-%s.', NEW.starts, NEW.ends, other.starts, other.ends),
            'Spans of one day must not overlap; merge them into one span, or move one.');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER calendar_hours_after_write
    AFTER INSERT OR UPDATE ON workorder.calendar_hours
    FOR EACH ROW EXECUTE FUNCTION workorder.calendar_hours_after_write();

-- calendar_days_before_write checks one exception day.
CREATE FUNCTION workorder.calendar_days_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.calendar_must_exist(NEW.calendar_code);
    IF NEW.kind IS NULL OR NEW.kind NOT IN ('holiday', 'workday') THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('day %s of calendar %s has an invalid kind', NEW.day, NEW.calendar_code),
            pg_catalog.format('The kind is %s.', COALESCE(pg_catalog.quote_literal(NEW.kind), 'NULL')),
            'The kind is holiday (a day off) or workday (a make-up workday on a weekend day).');
    END IF;
    IF NEW.day IS NULL OR NEW.day OPERATOR(pg_catalog.<) '1900-01-01'::date
       OR NEW.day OPERATOR(pg_catalog.>) '2199-12-31'::date THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('an exception day of calendar %s is out of range', NEW.calendar_code),
            pg_catalog.format('The day is %s.', COALESCE(NEW.day::text, 'NULL')),
            'Exception days lie between 1900-01-01 and 2199-12-31.');
    END IF;
    IF pg_catalog.length(NEW.name) OPERATOR(pg_catalog.>) 100 OR pg_catalog.length(NEW.name_en) OPERATOR(pg_catalog.>) 100 THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('day %s of calendar %s has an oversized name', NEW.day, NEW.calendar_code),
            pg_catalog.format('The name is %s.', pg_catalog.left(COALESCE(NEW.name, NEW.name_en), 120)),
            'Names of days are at most 100 characters, e.g. 春节 and Spring Festival.');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER calendar_days_before_write
    BEFORE INSERT OR UPDATE ON workorder.calendar_days
    FOR EACH ROW EXECUTE FUNCTION workorder.calendar_days_before_write();


-- calendar_data_changed runs once per statement that changed calendar data.  It
-- appends the hook rows to calendar_changes, one per calendar: for days, the range
-- of days whose kind changed (a new name moves no deadline); for hours, and for a
-- new time zone or make-up weekday, the unbounded range.  Changed hours or days also
-- mark their calendar as no longer shipped.  Transition tables allow one event per
-- trigger, so each table has one trigger per event, all calling this function.
CREATE FUNCTION workorder.calendar_data_changed()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
        INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
        SELECT c.code, NULL, NULL, pg_catalog.replace(TG_TABLE_NAME, 'calendar_', '')
          FROM workorder.calendars c;
        UPDATE workorder.calendars c SET shipped = false WHERE c.shipped;
        RETURN NULL;
    END IF;

    IF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'calendars' THEN
        IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
            INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
            SELECT n.code, NULL, NULL, 'calendar'
              FROM (SELECT x.code, x.time_zone, x.makeup_isodow FROM new_rows x
                    EXCEPT SELECT y.code, y.time_zone, y.makeup_isodow FROM old_rows y) n;
        ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
            INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
            SELECT o.code, NULL, NULL, 'calendar' FROM old_rows o;
        END IF;
        RETURN NULL;
    END IF;

    IF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'calendar_hours' THEN
        IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
            INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
            SELECT DISTINCT n.calendar_code, NULL::date, NULL::date, 'hours' FROM new_rows n;
        ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
            INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
            SELECT DISTINCT o.calendar_code, NULL::date, NULL::date, 'hours' FROM old_rows o;
        ELSE
            INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
            SELECT t.calendar_code, NULL, NULL, 'hours'
              FROM (SELECT n.calendar_code FROM new_rows n UNION SELECT o.calendar_code FROM old_rows o) t;
        END IF;
    ELSIF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
        INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
        SELECT n.calendar_code, pg_catalog.min(n.day), pg_catalog.max(n.day), 'days'
          FROM new_rows n GROUP BY n.calendar_code;
    ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
        SELECT o.calendar_code, pg_catalog.min(o.day), pg_catalog.max(o.day), 'days'
          FROM old_rows o GROUP BY o.calendar_code;
    ELSE
        INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
        SELECT d.calendar_code, pg_catalog.min(d.day), pg_catalog.max(d.day), 'days'
          FROM ((SELECT o.calendar_code, o.day, o.kind FROM old_rows o
                 EXCEPT SELECT n.calendar_code, n.day, n.kind FROM new_rows n)
                UNION ALL
                (SELECT n.calendar_code, n.day, n.kind FROM new_rows n
                 EXCEPT SELECT o.calendar_code, o.day, o.kind FROM old_rows o)) d
         GROUP BY d.calendar_code;
    END IF;

    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        UPDATE workorder.calendars c SET shipped = false
         WHERE c.shipped AND c.code IN (SELECT o.calendar_code FROM old_rows o);
    ELSE
        UPDATE workorder.calendars c SET shipped = false
         WHERE c.shipped AND c.code IN (SELECT n.calendar_code FROM new_rows n);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER calendars_after_update
    AFTER UPDATE ON workorder.calendars REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendars_after_delete
    AFTER DELETE ON workorder.calendars REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_hours_after_insert
    AFTER INSERT ON workorder.calendar_hours REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_hours_after_update
    AFTER UPDATE ON workorder.calendar_hours REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_hours_after_delete
    AFTER DELETE ON workorder.calendar_hours REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_hours_after_truncate
    AFTER TRUNCATE ON workorder.calendar_hours
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_days_after_insert
    AFTER INSERT ON workorder.calendar_days REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_days_after_update
    AFTER UPDATE ON workorder.calendar_days REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_days_after_delete
    AFTER DELETE ON workorder.calendar_days REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_days_after_truncate
    AFTER TRUNCATE ON workorder.calendar_days
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();

-- calendar_cache_invalidate tells every backend that its in-memory copy of the
-- calendars is out of date (src/calendar.c: a relcache invalidation of the changed
-- table, sent at commit; the backend that made the change sees it at once).  The
-- triggers fire in every session_replication_role, so that a replica applying
-- calendar changes, or a restore, cannot leave stale copies behind.
CREATE FUNCTION workorder.calendar_cache_invalidate()
RETURNS trigger
AS 'MODULE_PATHNAME', 'calendar_cache_invalidate'
LANGUAGE C;

CREATE TRIGGER calendars_cache_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.calendars
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_cache_invalidate();
CREATE TRIGGER calendar_hours_cache_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.calendar_hours
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_cache_invalidate();
CREATE TRIGGER calendar_days_cache_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.calendar_days
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_cache_invalidate();
ALTER TABLE workorder.calendars ENABLE ALWAYS TRIGGER calendars_cache_invalidate;
ALTER TABLE workorder.calendar_hours ENABLE ALWAYS TRIGGER calendar_hours_cache_invalidate;
ALTER TABLE workorder.calendar_days ENABLE ALWAYS TRIGGER calendar_days_cache_invalidate;

-- add_working_time returns the instant when duration of working time has elapsed
-- after start, counting only the calendar's working hours in its time zone.
--   * A start outside working hours counts from the next working instant; the
--     result is inside a span or exactly at its end (never at the start of the next).
--   * A duration of zero returns start itself, unmoved, even outside working hours.
--   * A negative duration counts backwards: the latest instant r <= start with
--     working_time_between(r, start) = -duration; r is inside a span or exactly at
--     its start (useful for "warn 2 working hours before the deadline").
--   * The duration is hours, minutes and seconds; a days or months part is refused
--     (WO503): '1 day' could mean 24 working hours or one working day, which is
--     add_working_days.  Write '24 hours' for the former.
--   * NULL start or duration gives NULL; a NULL or unknown calendar is an error
--     (WO501); an infinite start, or no end within 100 years, is WO503.
CREATE FUNCTION workorder.add_working_time(start timestamptz, duration interval, calendar text DEFAULT 'cn')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'calendar_add_working_time'
LANGUAGE C STABLE PARALLEL SAFE;

-- working_time_between returns the working time in [a, b) as an interval of hours,
-- minutes and seconds (never days).  When b < a it is negative: minus the working
-- time in [b, a).  NULL a or b gives NULL; a span of more than 100 years is WO503.
CREATE FUNCTION workorder.working_time_between(a timestamptz, b timestamptz, calendar text DEFAULT 'cn')
RETURNS interval
AS 'MODULE_PATHNAME', 'calendar_working_time_between'
LANGUAGE C STABLE PARALLEL SAFE;

-- add_working_days is "days working days, counted from the next working day after
-- receipt": the end of the working hours (the end of the last span) of the days-th
-- working day after the local day of start.  A working day is a day with working
-- hours: not a holiday, and a weekday with hours or a make-up workday.  days = 0
-- means "by the end of the working day": the end of the first working day whose
-- working hours end after start.  A negative days is WO503.
CREATE FUNCTION workorder.add_working_days(start timestamptz, days integer, calendar text DEFAULT 'cn')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'calendar_add_working_days'
LANGUAGE C STABLE PARALLEL SAFE;

-- calendar_spans lists a calendar's working spans from first_day to last_day (local
-- days), as instants: what the C functions count.  It is written in SQL on purpose,
-- as a second, independent reading of the three tables.  makeup is true on a
-- make-up workday.  Days more than 100 years apart are WO503, as for the C
-- functions: the list is made in memory, and a range of millennia held a backend
-- for minutes.
CREATE FUNCTION workorder.calendar_spans(calendar text, first_day date, last_day date)
RETURNS TABLE (day date, starts timestamptz, ends timestamptz, makeup boolean)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    PERFORM workorder.calendar_must_exist(calendar);
    IF NOT pg_catalog.isfinite(first_day) OR NOT pg_catalog.isfinite(last_day)
       OR last_day OPERATOR(pg_catalog.-) first_day OPERATOR(pg_catalog.>) 36525 THEN
        PERFORM workorder.raise_error('WO503',
            pg_catalog.format('working spans of calendar "%s" from %s to %s are not listed', calendar, first_day, last_day),
            'The days are infinite or more than 100 years apart.',
            'List at most 100 years at a time.');
    END IF;
    RETURN QUERY
    SELECT g.day, (g.day OPERATOR(pg_catalog.+) h.starts) AT TIME ZONE c.time_zone,
           (g.day OPERATOR(pg_catalog.+) h.ends) AT TIME ZONE c.time_zone,
           d.kind IS NOT NULL
      FROM workorder.calendars c
     CROSS JOIN LATERAL (SELECT s::date AS day
                           FROM pg_catalog.generate_series(first_day::timestamp, last_day::timestamp,
                                                           '1 day'::interval) s) g
      LEFT JOIN workorder.calendar_days d
             ON d.calendar_code OPERATOR(pg_catalog.=) c.code AND d.day OPERATOR(pg_catalog.=) g.day
      JOIN workorder.calendar_hours h
             ON h.calendar_code OPERATOR(pg_catalog.=) c.code
            AND h.isodow OPERATOR(pg_catalog.=)
                CASE WHEN d.kind OPERATOR(pg_catalog.=) 'workday' THEN c.makeup_isodow
                     ELSE pg_catalog.date_part('isodow', g.day)::smallint END
     WHERE c.code OPERATOR(pg_catalog.=) calendar
       AND d.kind IS DISTINCT FROM 'holiday'
     ORDER BY 1, 2;
END
$$;

-- csv_fields splits one line of CSV into its fields: separated by commas, a field
-- may be quoted with double quotes ("" inside is one quote).  It returns NULL when
-- a quote is not closed, and for NULL.  Fields are not trimmed.
CREATE FUNCTION workorder.csv_fields(line text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    fields text[] := '{}';
    field text;
    n integer := pg_catalog.length(line);
    i integer := 1;
    j integer;
BEGIN
    IF line IS NULL THEN
        RETURN NULL;
    END IF;
    -- A line without quotes splits in one pass.  (The loop below copies the rest of
    -- the line for every field: quadratic in a long line of many fields.)  An empty
    -- line is one empty field, where string_to_array would give none.
    IF pg_catalog.strpos(line, '"') OPERATOR(pg_catalog.=) 0 AND line OPERATOR(pg_catalog.<>) '' THEN
        RETURN pg_catalog.string_to_array(line, ',');
    END IF;
    LOOP
        IF pg_catalog.substr(line, i, 1) OPERATOR(pg_catalog.=) '"' THEN
            field := '';
            i := i OPERATOR(pg_catalog.+) 1;
            LOOP
                IF i OPERATOR(pg_catalog.>) n THEN
                    RETURN NULL;
                END IF;
                IF pg_catalog.substr(line, i, 1) OPERATOR(pg_catalog.<>) '"' THEN
                    field := field OPERATOR(pg_catalog.||) pg_catalog.substr(line, i, 1);
                    i := i OPERATOR(pg_catalog.+) 1;
                ELSIF pg_catalog.substr(line, i OPERATOR(pg_catalog.+) 1, 1) OPERATOR(pg_catalog.=) '"' THEN
                    field := field OPERATOR(pg_catalog.||) '"';
                    i := i OPERATOR(pg_catalog.+) 2;
                ELSE
                    i := i OPERATOR(pg_catalog.+) 1;
                    EXIT;
                END IF;
            END LOOP;
            -- After the closing quote, up to the next comma.
            j := pg_catalog.strpos(pg_catalog.substr(line, i), ',');
            IF j OPERATOR(pg_catalog.=) 0 THEN
                field := field OPERATOR(pg_catalog.||) pg_catalog.substr(line, i);
                i := n OPERATOR(pg_catalog.+) 1;
            ELSE
                field := field OPERATOR(pg_catalog.||) pg_catalog.substr(line, i, j OPERATOR(pg_catalog.-) 1);
                i := i OPERATOR(pg_catalog.+) j OPERATOR(pg_catalog.-) 1;
            END IF;
        ELSE
            j := pg_catalog.strpos(pg_catalog.substr(line, i), ',');
            IF j OPERATOR(pg_catalog.=) 0 THEN
                field := pg_catalog.substr(line, i);
                i := n OPERATOR(pg_catalog.+) 1;
            ELSE
                field := pg_catalog.substr(line, i, j OPERATOR(pg_catalog.-) 1);
                i := i OPERATOR(pg_catalog.+) j OPERATOR(pg_catalog.-) 1;
            END IF;
        END IF;
        fields := pg_catalog.array_append(fields, field);
        -- i is at a comma, or past the end.
        IF i OPERATOR(pg_catalog.>) n THEN
            RETURN fields;
        END IF;
        i := i OPERATOR(pg_catalog.+) 1;
        IF i OPERATOR(pg_catalog.>) n THEN
            RETURN pg_catalog.array_append(fields, ''::text);
        END IF;
    END LOOP;
END
$$;

-- load_calendar_rows is the loaders' common part.  items is a JSON array of objects
-- {"day": "YYYY-MM-DD", "kind": "holiday" | "workday", "name", "name_en"} (name_zh
-- is taken for name when name is missing); from a CSV, each also has "line" and
-- "text", so that an error can name the line.  Every item is checked before
-- anything is written.  Then each day is inserted, or updated when it differs.
CREATE FUNCTION workorder.load_calendar_rows(calendar text, items jsonb, source text,
    OUT inserted integer, OUT updated integer, OUT unchanged integer, OUT first_day date, OUT last_day date)
LANGUAGE plpgsql
AS $$
DECLARE
    item jsonb;
    element_number integer := 0;
    label text;
    shown text;
    problem text;
    day_text text;
    kind_text text;
    the_day date;
    the_name text;
    the_name_en text;
    days date[] := '{}';
    kinds text[] := '{}';
    names text[] := '{}';
    names_en text[] := '{}';
    labels text[] := '{}';
    earlier integer;
BEGIN
    PERFORM workorder.calendar_must_exist(calendar);
    -- One loader at a time per calendar, so that the counts are right.
    PERFORM 1 FROM workorder.calendars c WHERE c.code OPERATOR(pg_catalog.=) calendar FOR NO KEY UPDATE;
    IF items IS NULL OR pg_catalog.jsonb_typeof(items) OPERATOR(pg_catalog.<>) 'array' THEN
        PERFORM workorder.raise_error('WO504',
            pg_catalog.format('the days for calendar %s are not a JSON array', calendar),
            pg_catalog.format('They begin %s.', pg_catalog.left(COALESCE(items::text, 'NULL'), 80)),
            'Pass a JSON array with one object per day: [{"day": "2027-01-01", "kind": "holiday", "name": "元旦"}, ...].');
    END IF;

    FOR item IN SELECT e.value FROM pg_catalog.jsonb_array_elements(items) e LOOP
        element_number := element_number OPERATOR(pg_catalog.+) 1;
        IF source OPERATOR(pg_catalog.=) 'csv' THEN
            label := pg_catalog.format('line %s', item OPERATOR(pg_catalog.->>) 'line');
            shown := pg_catalog.format('The line is: %s', item OPERATOR(pg_catalog.->>) 'text');
        ELSE
            label := pg_catalog.format('element %s', element_number);
            shown := pg_catalog.format('The element is %s.', pg_catalog.left(item::text, 300));
        END IF;
        problem := NULL;
        IF pg_catalog.jsonb_typeof(item) OPERATOR(pg_catalog.<>) 'object' THEN
            problem := 'it is not a JSON object';
        ELSE
            day_text := item OPERATOR(pg_catalog.->>) 'day';
            kind_text := item OPERATOR(pg_catalog.->>) 'kind';
            the_name := NULLIF(pg_catalog.btrim(COALESCE(item OPERATOR(pg_catalog.->>) 'name',
                                                         item OPERATOR(pg_catalog.->>) 'name_zh')), '');
            the_name_en := NULLIF(pg_catalog.btrim(item OPERATOR(pg_catalog.->>) 'name_en'), '');
            the_day := NULL;
            IF day_text IS NULL THEN
                problem := 'it has no day';
            ELSIF day_text OPERATOR(pg_catalog.~) '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
                BEGIN
                    the_day := day_text::date;
                EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
                    the_day := NULL;
                END;
            END IF;
            IF problem IS NOT NULL THEN
                NULL;
            ELSIF the_day IS NULL THEN
                problem := pg_catalog.format('the day %s is not a date written YYYY-MM-DD', pg_catalog.quote_literal(day_text));
            ELSIF the_day OPERATOR(pg_catalog.<) '1900-01-01'::date OR the_day OPERATOR(pg_catalog.>) '2199-12-31'::date THEN
                problem := pg_catalog.format('the day %s is not between 1900-01-01 and 2199-12-31', the_day);
            ELSIF kind_text IS NULL OR kind_text NOT IN ('holiday', 'workday') THEN
                problem := pg_catalog.format('the kind %s is neither holiday nor workday',
                                             COALESCE(pg_catalog.quote_literal(kind_text), 'NULL'));
            ELSIF pg_catalog.length(the_name) OPERATOR(pg_catalog.>) 100
                  OR pg_catalog.length(the_name_en) OPERATOR(pg_catalog.>) 100 THEN
                problem := 'a name is longer than 100 characters';
            ELSE
                earlier := pg_catalog.array_position(days, the_day);
                IF earlier IS NOT NULL THEN
                    problem := pg_catalog.format('the day %s is listed again (first at %s)', the_day, labels[earlier]);
                END IF;
            END IF;
        END IF;
        IF problem IS NOT NULL THEN
            PERFORM workorder.raise_error('WO504',
                pg_catalog.format('%s of the days for calendar %s: %s', label, calendar, problem),
                shown,
                CASE source
                    WHEN 'csv' THEN 'Correct the line and load again: nothing was loaded.  A line is YYYY-MM-DD,holiday or workday,English name,Chinese name.'
                    ELSE 'Correct the element and load again: nothing was loaded.  A day is {"day": "YYYY-MM-DD", "kind": "holiday" or "workday", "name": ...}.' END);
        END IF;
        days := pg_catalog.array_append(days, the_day);
        kinds := pg_catalog.array_append(kinds, kind_text);
        names := pg_catalog.array_append(names, the_name);
        names_en := pg_catalog.array_append(names_en, the_name_en);
        labels := pg_catalog.array_append(labels, label);
    END LOOP;

    SELECT pg_catalog.count(*) FILTER (WHERE d.day IS NULL),
           pg_catalog.count(*) FILTER (WHERE d.day IS NOT NULL
                                         AND (d.kind, d.name, d.name_en) IS DISTINCT FROM (b.kind, b.name, b.name_en)),
           pg_catalog.count(*) FILTER (WHERE d.day IS NOT NULL
                                         AND (d.kind, d.name, d.name_en) IS NOT DISTINCT FROM (b.kind, b.name, b.name_en)),
           pg_catalog.min(b.day) FILTER (WHERE (d.kind, d.name, d.name_en) IS DISTINCT FROM (b.kind, b.name, b.name_en)),
           pg_catalog.max(b.day) FILTER (WHERE (d.kind, d.name, d.name_en) IS DISTINCT FROM (b.kind, b.name, b.name_en))
      INTO inserted, updated, unchanged, first_day, last_day
      FROM ROWS FROM (pg_catalog.unnest(days), pg_catalog.unnest(kinds), pg_catalog.unnest(names),
                      pg_catalog.unnest(names_en)) AS b(day, kind, name, name_en)
      LEFT JOIN workorder.calendar_days d
             ON d.calendar_code OPERATOR(pg_catalog.=) calendar AND d.day OPERATOR(pg_catalog.=) b.day;

    INSERT INTO workorder.calendar_days AS d (calendar_code, day, kind, name, name_en)
    SELECT calendar, b.day, b.kind, b.name, b.name_en
      FROM ROWS FROM (pg_catalog.unnest(days), pg_catalog.unnest(kinds), pg_catalog.unnest(names),
                      pg_catalog.unnest(names_en)) AS b(day, kind, name, name_en)
    ON CONFLICT (calendar_code, day) DO UPDATE
       SET kind = EXCLUDED.kind, name = EXCLUDED.name, name_en = EXCLUDED.name_en
     WHERE (d.kind, d.name, d.name_en) IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.name, EXCLUDED.name_en);
END
$$;

-- load_calendar_days loads exception days from a JSON array, e.g. next year's State
-- Council plan: [{"day": "2027-01-01", "kind": "holiday", "name": "元旦",
-- "name_en": "New Year's Day"}, ...].  Days already there are updated when they
-- differ.  All or nothing: a bad element stops the load (WO504, naming the element)
-- before anything is written.  It returns how many days were inserted, updated and
-- left unchanged, and the first and last day that changed (NULL when none did):
-- the range whose deadlines may move.
CREATE FUNCTION workorder.load_calendar_days(calendar text, days jsonb,
    OUT inserted integer, OUT updated integer, OUT unchanged integer, OUT first_day date, OUT last_day date)
LANGUAGE sql
AS $$
    SELECT * FROM workorder.load_calendar_rows(calendar, days, 'json')
$$;

-- load_calendar_csv does the same from CSV text in the format of
-- data/cn-calendar.csv: the header day,kind,name_en,name_zh, then one line per day.
-- Blank lines, a byte-order mark and CRLF line ends are accepted; fields may be
-- quoted.  An error names the line.  From psql:
--   \set csv `cat cn-2027.csv`
--   SELECT * FROM workorder.load_calendar_csv('cn', :'csv');
CREATE FUNCTION workorder.load_calendar_csv(calendar text, csv text,
    OUT inserted integer, OUT updated integer, OUT unchanged integer, OUT first_day date, OUT last_day date)
LANGUAGE plpgsql
AS $$
DECLARE
    line record;
    line_text text;
    fields text[];
    items jsonb[] := '{}';
    header_seen boolean := false;
BEGIN
    PERFORM workorder.calendar_must_exist(calendar);
    FOR line IN
        SELECT l.content, l.number
          FROM pg_catalog.regexp_split_to_table(COALESCE(csv, ''), E'\n') WITH ORDINALITY AS l(content, number)
    LOOP
        line_text := pg_catalog.rtrim(line.content, E'\r');
        IF line.number OPERATOR(pg_catalog.=) 1 THEN
            line_text := pg_catalog.ltrim(line_text, pg_catalog.chr(65279));
        END IF;
        CONTINUE WHEN pg_catalog.btrim(line_text) OPERATOR(pg_catalog.=) '';
        IF NOT header_seen THEN
            IF pg_catalog.lower(pg_catalog.regexp_replace(line_text, '\s', '', 'g'))
               OPERATOR(pg_catalog.<>) 'day,kind,name_en,name_zh' THEN
                PERFORM workorder.raise_error('WO504',
                    pg_catalog.format('line %s of the days for calendar %s: the header is not day,kind,name_en,name_zh',
                                      line.number, calendar),
                    pg_catalog.format('The line is: %s', pg_catalog.left(line_text, 200)),
                    'The CSV begins with the header line day,kind,name_en,name_zh, as data/cn-calendar.csv does; nothing was loaded.');
            END IF;
            header_seen := true;
            CONTINUE;
        END IF;
        fields := workorder.csv_fields(line_text);
        IF fields IS NULL OR pg_catalog.cardinality(fields) OPERATOR(pg_catalog.<>) 4 THEN
            PERFORM workorder.raise_error('WO504',
                pg_catalog.format('line %s of the days for calendar %s: %s', line.number, calendar,
                                  CASE WHEN fields IS NULL THEN 'a quoted field is not closed'
                                       ELSE pg_catalog.format('it has %s fields, not 4', pg_catalog.cardinality(fields)) END),
                pg_catalog.format('The line is: %s', pg_catalog.left(line_text, 200)),
                'Each line is day,kind,name_en,name_zh, e.g. 2027-01-01,holiday,New Year''s Day,元旦; nothing was loaded.');
        END IF;
        items := pg_catalog.array_append(items, pg_catalog.jsonb_build_object(
            'line', line.number, 'text', pg_catalog.left(line_text, 200),
            'day', pg_catalog.btrim(fields[1]), 'kind', pg_catalog.btrim(fields[2]),
            'name_en', fields[3], 'name', fields[4]));
    END LOOP;
    IF NOT header_seen THEN
        PERFORM workorder.raise_error('WO504',
            pg_catalog.format('the CSV for calendar %s is empty', calendar),
            pg_catalog.format('It is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(csv, 80)), 'NULL')),
            'Pass the text of a file like data/cn-calendar.csv: the header day,kind,name_en,name_zh, then one line per day.');
    END IF;
    SELECT * INTO inserted, updated, unchanged, first_day, last_day
      FROM workorder.load_calendar_rows(calendar, pg_catalog.to_jsonb(items), 'csv');
END
$$;
-- workorder install script, part 81: the default calendar cn.
--
-- GENERATED by scripts/calendar-sql from data/cn-calendar.csv: do not edit this file;
-- change the CSV and run scripts/calendar-sql again.
--
-- Mainland China, in Asia/Shanghai: working hours 09:00-12:00 and 14:00-18:00
-- Monday to Friday, and the State Council's holidays and make-up workdays (调休)
-- from 2004-01-01 to 2026-10-10: 619 holidays and 150 make-up workdays.
-- A make-up workday has the hours of Monday (makeup_isodow 1).  Next year's
-- plan loads with workorder.load_calendar_csv('cn', csv) or
-- workorder.load_calendar_days('cn', json), without a code change.

INSERT INTO workorder.calendars (code, name, time_zone, makeup_isodow, description)
VALUES ('cn', '中国大陆', 'Asia/Shanghai', 1,
        'Mainland China: 09:00-12:00 and 14:00-18:00 Monday to Friday, with the State Council''s public holidays and make-up workdays');

INSERT INTO workorder.calendar_hours (calendar_code, isodow, starts, ends) VALUES
    ('cn', 1, '09:00', '12:00'), ('cn', 1, '14:00', '18:00'),
    ('cn', 2, '09:00', '12:00'), ('cn', 2, '14:00', '18:00'),
    ('cn', 3, '09:00', '12:00'), ('cn', 3, '14:00', '18:00'),
    ('cn', 4, '09:00', '12:00'), ('cn', 4, '14:00', '18:00'),
    ('cn', 5, '09:00', '12:00'), ('cn', 5, '14:00', '18:00');

INSERT INTO workorder.calendar_days (calendar_code, day, kind, name, name_en) VALUES
    ('cn', '2004-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2004-01-17', 'workday', '春节', 'Spring Festival'),
    ('cn', '2004-01-18', 'workday', '春节', 'Spring Festival'),
    ('cn', '2004-01-22', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2004-01-23', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2004-01-24', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2004-01-25', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2004-01-26', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2004-01-27', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2004-01-28', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2004-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2004-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2004-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2004-05-04', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2004-05-05', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2004-05-06', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2004-05-07', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2004-05-08', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2004-05-09', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2004-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2004-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2004-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2004-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2004-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2004-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2004-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2004-10-09', 'workday', '国庆节', 'National Day'),
    ('cn', '2004-10-10', 'workday', '国庆节', 'National Day'),
    ('cn', '2005-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2005-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2005-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2005-02-05', 'workday', '春节', 'Spring Festival'),
    ('cn', '2005-02-06', 'workday', '春节', 'Spring Festival'),
    ('cn', '2005-02-09', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2005-02-10', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2005-02-11', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2005-02-12', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2005-02-13', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2005-02-14', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2005-02-15', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2005-04-30', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2005-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2005-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2005-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2005-05-04', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2005-05-05', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2005-05-06', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2005-05-07', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2005-05-08', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2005-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2005-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2005-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2005-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2005-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2005-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2005-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2005-10-08', 'workday', '国庆节', 'National Day'),
    ('cn', '2005-10-09', 'workday', '国庆节', 'National Day'),
    ('cn', '2006-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2006-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2006-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2006-01-28', 'workday', '春节', 'Spring Festival'),
    ('cn', '2006-01-29', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2006-01-30', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2006-01-31', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2006-02-01', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2006-02-02', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2006-02-03', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2006-02-04', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2006-02-05', 'workday', '春节', 'Spring Festival'),
    ('cn', '2006-04-29', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2006-04-30', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2006-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2006-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2006-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2006-05-04', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2006-05-05', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2006-05-06', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2006-05-07', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2006-09-30', 'workday', '国庆节', 'National Day'),
    ('cn', '2006-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2006-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2006-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2006-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2006-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2006-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2006-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2006-10-08', 'workday', '国庆节', 'National Day'),
    ('cn', '2006-12-30', 'workday', '元旦', 'New Year''s Day'),
    ('cn', '2006-12-31', 'workday', '元旦', 'New Year''s Day'),
    ('cn', '2007-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2007-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2007-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2007-02-17', 'workday', '春节', 'Spring Festival'),
    ('cn', '2007-02-18', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2007-02-19', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2007-02-20', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2007-02-21', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2007-02-22', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2007-02-23', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2007-02-24', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2007-02-25', 'workday', '春节', 'Spring Festival'),
    ('cn', '2007-04-28', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2007-04-29', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2007-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2007-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2007-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2007-05-04', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2007-05-05', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2007-05-06', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2007-05-07', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2007-09-29', 'workday', '国庆节', 'National Day'),
    ('cn', '2007-09-30', 'workday', '国庆节', 'National Day'),
    ('cn', '2007-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2007-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2007-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2007-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2007-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2007-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2007-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2007-12-29', 'workday', '元旦', 'New Year''s Day'),
    ('cn', '2007-12-30', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2007-12-31', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2008-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2008-02-02', 'workday', '春节', 'Spring Festival'),
    ('cn', '2008-02-03', 'workday', '春节', 'Spring Festival'),
    ('cn', '2008-02-06', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2008-02-07', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2008-02-08', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2008-02-09', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2008-02-10', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2008-02-11', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2008-02-12', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2008-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2008-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2008-04-06', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2008-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2008-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2008-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2008-05-04', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2008-06-07', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2008-06-08', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2008-06-09', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2008-09-13', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2008-09-14', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2008-09-15', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2008-09-27', 'workday', '国庆节', 'National Day'),
    ('cn', '2008-09-28', 'workday', '国庆节', 'National Day'),
    ('cn', '2008-09-29', 'holiday', '国庆节', 'National Day'),
    ('cn', '2008-09-30', 'holiday', '国庆节', 'National Day'),
    ('cn', '2008-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2008-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2008-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2008-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2008-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2009-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2009-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2009-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2009-01-04', 'workday', '元旦', 'New Year''s Day'),
    ('cn', '2009-01-24', 'workday', '春节', 'Spring Festival'),
    ('cn', '2009-01-25', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2009-01-26', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2009-01-27', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2009-01-28', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2009-01-29', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2009-01-30', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2009-01-31', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2009-02-01', 'workday', '春节', 'Spring Festival'),
    ('cn', '2009-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2009-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2009-04-06', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2009-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2009-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2009-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2009-05-28', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2009-05-29', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2009-05-30', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2009-05-31', 'workday', '端午', 'Dragon Boat Festival'),
    ('cn', '2009-09-27', 'workday', '国庆节', 'National Day'),
    ('cn', '2009-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2009-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2009-10-03', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2009-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2009-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2009-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2009-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2009-10-08', 'holiday', '国庆节', 'National Day'),
    ('cn', '2009-10-10', 'workday', '国庆节', 'National Day'),
    ('cn', '2010-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2010-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2010-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2010-02-13', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2010-02-14', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2010-02-15', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2010-02-16', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2010-02-17', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2010-02-18', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2010-02-19', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2010-02-20', 'workday', '春节', 'Spring Festival'),
    ('cn', '2010-02-21', 'workday', '春节', 'Spring Festival'),
    ('cn', '2010-04-03', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2010-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2010-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2010-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2010-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2010-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2010-06-12', 'workday', '端午', 'Dragon Boat Festival'),
    ('cn', '2010-06-13', 'workday', '端午', 'Dragon Boat Festival'),
    ('cn', '2010-06-14', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2010-06-15', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2010-06-16', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2010-09-19', 'workday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2010-09-22', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2010-09-23', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2010-09-24', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2010-09-25', 'workday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2010-09-26', 'workday', '国庆节', 'National Day'),
    ('cn', '2010-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2010-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2010-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2010-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2010-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2010-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2010-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2010-10-09', 'workday', '国庆节', 'National Day'),
    ('cn', '2011-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2011-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2011-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2011-01-30', 'workday', '春节', 'Spring Festival'),
    ('cn', '2011-02-02', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2011-02-03', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2011-02-04', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2011-02-05', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2011-02-06', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2011-02-07', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2011-02-08', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2011-02-12', 'workday', '春节', 'Spring Festival'),
    ('cn', '2011-04-02', 'workday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2011-04-03', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2011-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2011-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2011-04-30', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2011-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2011-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2011-06-04', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2011-06-06', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2011-09-10', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2011-09-11', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2011-09-12', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2011-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2011-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2011-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2011-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2011-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2011-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2011-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2011-10-08', 'workday', '国庆节', 'National Day'),
    ('cn', '2011-10-09', 'workday', '国庆节', 'National Day'),
    ('cn', '2011-12-31', 'workday', '元旦', 'New Year''s Day'),
    ('cn', '2012-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2012-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2012-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2012-01-21', 'workday', '春节', 'Spring Festival'),
    ('cn', '2012-01-22', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2012-01-23', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2012-01-24', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2012-01-25', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2012-01-26', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2012-01-27', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2012-01-28', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2012-01-29', 'workday', '春节', 'Spring Festival'),
    ('cn', '2012-03-31', 'workday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2012-04-01', 'workday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2012-04-02', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2012-04-03', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2012-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2012-04-28', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2012-04-29', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2012-04-30', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2012-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2012-06-22', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2012-06-24', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2012-09-29', 'workday', '国庆节', 'National Day'),
    ('cn', '2012-09-30', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2012-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2012-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2012-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2012-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2012-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2012-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2012-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2013-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2013-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2013-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2013-01-05', 'workday', '元旦', 'New Year''s Day'),
    ('cn', '2013-01-06', 'workday', '元旦', 'New Year''s Day'),
    ('cn', '2013-02-09', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2013-02-10', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2013-02-11', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2013-02-12', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2013-02-13', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2013-02-14', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2013-02-15', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2013-02-16', 'workday', '春节', 'Spring Festival'),
    ('cn', '2013-02-17', 'workday', '春节', 'Spring Festival'),
    ('cn', '2013-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2013-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2013-04-06', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2013-04-07', 'workday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2013-04-27', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2013-04-28', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2013-04-29', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2013-04-30', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2013-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2013-06-08', 'workday', '端午', 'Dragon Boat Festival'),
    ('cn', '2013-06-09', 'workday', '端午', 'Dragon Boat Festival'),
    ('cn', '2013-06-10', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2013-06-11', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2013-06-12', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2013-09-19', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2013-09-20', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2013-09-21', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2013-09-22', 'workday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2013-09-29', 'workday', '国庆节', 'National Day'),
    ('cn', '2013-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2013-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2013-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2013-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2013-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2013-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2013-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2013-10-12', 'workday', '国庆节', 'National Day'),
    ('cn', '2014-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2014-01-26', 'workday', '春节', 'Spring Festival'),
    ('cn', '2014-01-31', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2014-02-01', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2014-02-02', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2014-02-03', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2014-02-04', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2014-02-05', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2014-02-06', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2014-02-08', 'workday', '春节', 'Spring Festival'),
    ('cn', '2014-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2014-04-06', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2014-04-07', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2014-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2014-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2014-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2014-05-04', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2014-06-02', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2014-09-08', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2014-09-28', 'workday', '国庆节', 'National Day'),
    ('cn', '2014-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2014-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2014-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2014-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2014-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2014-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2014-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2014-10-11', 'workday', '国庆节', 'National Day'),
    ('cn', '2015-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2015-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2015-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2015-01-04', 'workday', '元旦', 'New Year''s Day'),
    ('cn', '2015-02-15', 'workday', '春节', 'Spring Festival'),
    ('cn', '2015-02-18', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2015-02-19', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2015-02-20', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2015-02-21', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2015-02-22', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2015-02-23', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2015-02-24', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2015-02-28', 'workday', '春节', 'Spring Festival'),
    ('cn', '2015-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2015-04-06', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2015-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2015-06-20', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2015-06-22', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2015-09-03', 'holiday', '中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日', 'Anti-Fascist 70th Day'),
    ('cn', '2015-09-04', 'holiday', '中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日', 'Anti-Fascist 70th Day'),
    ('cn', '2015-09-06', 'workday', '中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日', 'Anti-Fascist 70th Day'),
    ('cn', '2015-09-27', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2015-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2015-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2015-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2015-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2015-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2015-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2015-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2015-10-10', 'workday', '国庆节', 'National Day'),
    ('cn', '2016-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2016-02-06', 'workday', '春节', 'Spring Festival'),
    ('cn', '2016-02-07', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2016-02-08', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2016-02-09', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2016-02-10', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2016-02-11', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2016-02-12', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2016-02-13', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2016-02-14', 'workday', '春节', 'Spring Festival'),
    ('cn', '2016-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2016-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2016-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2016-06-09', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2016-06-10', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2016-06-11', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2016-06-12', 'workday', '端午', 'Dragon Boat Festival'),
    ('cn', '2016-09-15', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2016-09-16', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2016-09-17', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2016-09-18', 'workday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2016-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2016-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2016-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2016-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2016-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2016-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2016-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2016-10-08', 'workday', '国庆节', 'National Day'),
    ('cn', '2016-10-09', 'workday', '国庆节', 'National Day'),
    ('cn', '2017-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2017-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2017-01-22', 'workday', '春节', 'Spring Festival'),
    ('cn', '2017-01-27', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2017-01-28', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2017-01-29', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2017-01-30', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2017-01-31', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2017-02-01', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2017-02-02', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2017-02-04', 'workday', '春节', 'Spring Festival'),
    ('cn', '2017-04-01', 'workday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2017-04-02', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2017-04-03', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2017-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2017-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2017-05-27', 'workday', '端午', 'Dragon Boat Festival'),
    ('cn', '2017-05-28', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2017-05-29', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2017-05-30', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2017-09-30', 'workday', '国庆节', 'National Day'),
    ('cn', '2017-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2017-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2017-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2017-10-04', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2017-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2017-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2017-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2017-10-08', 'holiday', '国庆节', 'National Day'),
    ('cn', '2018-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2018-02-11', 'workday', '春节', 'Spring Festival'),
    ('cn', '2018-02-15', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2018-02-16', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2018-02-17', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2018-02-18', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2018-02-19', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2018-02-20', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2018-02-21', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2018-02-24', 'workday', '春节', 'Spring Festival'),
    ('cn', '2018-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2018-04-06', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2018-04-07', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2018-04-08', 'workday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2018-04-28', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2018-04-29', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2018-04-30', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2018-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2018-06-18', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2018-09-24', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2018-09-29', 'workday', '国庆节', 'National Day'),
    ('cn', '2018-09-30', 'workday', '国庆节', 'National Day'),
    ('cn', '2018-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2018-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2018-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2018-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2018-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2018-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2018-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2018-12-29', 'workday', '元旦', 'New Year''s Day'),
    ('cn', '2018-12-30', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2018-12-31', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2019-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2019-02-02', 'workday', '春节', 'Spring Festival'),
    ('cn', '2019-02-03', 'workday', '春节', 'Spring Festival'),
    ('cn', '2019-02-04', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2019-02-05', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2019-02-06', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2019-02-07', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2019-02-08', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2019-02-09', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2019-02-10', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2019-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2019-04-06', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2019-04-07', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2019-04-28', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2019-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2019-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2019-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2019-05-04', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2019-05-05', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2019-06-07', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2019-06-08', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2019-06-09', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2019-09-13', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2019-09-14', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2019-09-15', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2019-09-29', 'workday', '国庆节', 'National Day'),
    ('cn', '2019-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2019-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2019-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2019-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2019-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2019-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2019-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2019-10-12', 'workday', '国庆节', 'National Day'),
    ('cn', '2020-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2020-01-19', 'workday', '春节', 'Spring Festival'),
    ('cn', '2020-01-24', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2020-01-25', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2020-01-26', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2020-01-27', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2020-01-28', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2020-01-29', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2020-01-30', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2020-01-31', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2020-02-01', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2020-02-02', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2020-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2020-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2020-04-06', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2020-04-26', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2020-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2020-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2020-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2020-05-04', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2020-05-05', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2020-05-09', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2020-06-25', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2020-06-26', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2020-06-27', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2020-06-28', 'workday', '端午', 'Dragon Boat Festival'),
    ('cn', '2020-09-27', 'workday', '国庆节', 'National Day'),
    ('cn', '2020-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2020-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2020-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2020-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2020-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2020-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2020-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2020-10-08', 'holiday', '国庆节', 'National Day'),
    ('cn', '2020-10-10', 'workday', '国庆节', 'National Day'),
    ('cn', '2021-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2021-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2021-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2021-02-07', 'workday', '春节', 'Spring Festival'),
    ('cn', '2021-02-11', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2021-02-12', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2021-02-13', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2021-02-14', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2021-02-15', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2021-02-16', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2021-02-17', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2021-02-20', 'workday', '春节', 'Spring Festival'),
    ('cn', '2021-04-03', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2021-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2021-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2021-04-25', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2021-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2021-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2021-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2021-05-04', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2021-05-05', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2021-05-08', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2021-06-12', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2021-06-13', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2021-06-14', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2021-09-18', 'workday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2021-09-19', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2021-09-20', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2021-09-21', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2021-09-26', 'workday', '国庆节', 'National Day'),
    ('cn', '2021-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2021-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2021-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2021-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2021-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2021-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2021-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2021-10-09', 'workday', '国庆节', 'National Day'),
    ('cn', '2022-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2022-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2022-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2022-01-29', 'workday', '春节', 'Spring Festival'),
    ('cn', '2022-01-30', 'workday', '春节', 'Spring Festival'),
    ('cn', '2022-01-31', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2022-02-01', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2022-02-02', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2022-02-03', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2022-02-04', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2022-02-05', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2022-02-06', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2022-04-02', 'workday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2022-04-03', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2022-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2022-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2022-04-24', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2022-04-30', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2022-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2022-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2022-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2022-05-04', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2022-05-07', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2022-06-03', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2022-06-04', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2022-06-05', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2022-09-10', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2022-09-11', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2022-09-12', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2022-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2022-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2022-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2022-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2022-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2022-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2022-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2022-10-08', 'workday', '国庆节', 'National Day'),
    ('cn', '2022-10-09', 'workday', '国庆节', 'National Day'),
    ('cn', '2022-12-31', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2023-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2023-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2023-01-21', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2023-01-22', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2023-01-23', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2023-01-24', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2023-01-25', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2023-01-26', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2023-01-27', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2023-01-28', 'workday', '春节', 'Spring Festival'),
    ('cn', '2023-01-29', 'workday', '春节', 'Spring Festival'),
    ('cn', '2023-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2023-04-23', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2023-04-29', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2023-04-30', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2023-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2023-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2023-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2023-05-06', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2023-06-22', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2023-06-23', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2023-06-24', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2023-06-25', 'workday', '端午', 'Dragon Boat Festival'),
    ('cn', '2023-09-29', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2023-09-30', 'holiday', '国庆节', 'National Day'),
    ('cn', '2023-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2023-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2023-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2023-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2023-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2023-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2023-10-07', 'workday', '国庆节', 'National Day'),
    ('cn', '2023-10-08', 'workday', '国庆节', 'National Day'),
    ('cn', '2024-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2024-02-04', 'workday', '春节', 'Spring Festival'),
    ('cn', '2024-02-10', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2024-02-11', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2024-02-12', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2024-02-13', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2024-02-14', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2024-02-15', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2024-02-16', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2024-02-17', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2024-02-18', 'workday', '春节', 'Spring Festival'),
    ('cn', '2024-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2024-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2024-04-06', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2024-04-07', 'workday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2024-04-28', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2024-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2024-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2024-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2024-05-04', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2024-05-05', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2024-05-11', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2024-06-10', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2024-09-14', 'workday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2024-09-15', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2024-09-16', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2024-09-17', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2024-09-29', 'workday', '国庆节', 'National Day'),
    ('cn', '2024-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2024-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2024-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2024-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2024-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2024-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2024-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2024-10-12', 'workday', '国庆节', 'National Day'),
    ('cn', '2025-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2025-01-26', 'workday', '春节', 'Spring Festival'),
    ('cn', '2025-01-28', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2025-01-29', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2025-01-30', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2025-01-31', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2025-02-01', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2025-02-02', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2025-02-03', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2025-02-04', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2025-02-08', 'workday', '春节', 'Spring Festival'),
    ('cn', '2025-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2025-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2025-04-06', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2025-04-27', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2025-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2025-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2025-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2025-05-04', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2025-05-05', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2025-05-31', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2025-06-01', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2025-06-02', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2025-09-28', 'workday', '国庆节', 'National Day'),
    ('cn', '2025-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2025-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2025-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2025-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2025-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2025-10-06', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2025-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2025-10-08', 'holiday', '国庆节', 'National Day'),
    ('cn', '2025-10-11', 'workday', '国庆节', 'National Day'),
    ('cn', '2026-01-01', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2026-01-02', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2026-01-03', 'holiday', '元旦', 'New Year''s Day'),
    ('cn', '2026-01-04', 'workday', '元旦', 'New Year''s Day'),
    ('cn', '2026-02-14', 'workday', '春节', 'Spring Festival'),
    ('cn', '2026-02-15', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2026-02-16', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2026-02-17', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2026-02-18', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2026-02-19', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2026-02-20', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2026-02-21', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2026-02-22', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2026-02-23', 'holiday', '春节', 'Spring Festival'),
    ('cn', '2026-02-28', 'workday', '春节', 'Spring Festival'),
    ('cn', '2026-04-04', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2026-04-05', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2026-04-06', 'holiday', '清明', 'Tomb-sweeping Day'),
    ('cn', '2026-05-01', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2026-05-02', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2026-05-03', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2026-05-04', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2026-05-05', 'holiday', '劳动节', 'Labour Day'),
    ('cn', '2026-05-09', 'workday', '劳动节', 'Labour Day'),
    ('cn', '2026-06-19', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2026-06-20', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2026-06-21', 'holiday', '端午', 'Dragon Boat Festival'),
    ('cn', '2026-09-20', 'workday', '国庆节', 'National Day'),
    ('cn', '2026-09-25', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2026-09-26', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2026-09-27', 'holiday', '中秋', 'Mid-autumn Festival'),
    ('cn', '2026-10-01', 'holiday', '国庆节', 'National Day'),
    ('cn', '2026-10-02', 'holiday', '国庆节', 'National Day'),
    ('cn', '2026-10-03', 'holiday', '国庆节', 'National Day'),
    ('cn', '2026-10-04', 'holiday', '国庆节', 'National Day'),
    ('cn', '2026-10-05', 'holiday', '国庆节', 'National Day'),
    ('cn', '2026-10-06', 'holiday', '国庆节', 'National Day'),
    ('cn', '2026-10-07', 'holiday', '国庆节', 'National Day'),
    ('cn', '2026-10-10', 'workday', '国庆节', 'National Day');

-- The rows above are the calendar as shipped: until someone changes it, pg_dump
-- leaves it out (CREATE EXTENSION makes it again), and the change log starts empty.
UPDATE workorder.calendars SET shipped = true WHERE code OPERATOR(pg_catalog.=) 'cn';
DELETE FROM workorder.calendar_changes;
-- workorder install script, part 85: SLA policies and deadlines (issue 4, SLA part).
--
-- A policy says how long a unit has to accept (sign for) an order and to resolve
-- it, each on one of three clocks:
--   calendar_hours  plain elapsed time: deadline = start + amount (any positive
--                   amount of hours, minutes and seconds, even '1 second')
--   working_hours   working time on the policy's calendar: add_working_time
--   working_days    "n working days, counted from the next working day":
--                   add_working_days; the amount is a whole number of days ('5 days',
--                   '0 days' = by the end of the working day)
-- Amounts are intervals: hours/minutes/seconds (no days, no months) on the two hours
-- clocks, whole days (no months, no time) on working_days.  warn_fraction (0 < x < 1)
-- places the warning: start + warn_fraction x the resolve span, measured on the
-- policy's clock (working time for the working clocks).
--
-- Shipped policies (kept out of pg_dump while unchanged, as calendars are):
--   standard  accept 2 working hours,     resolve 5 working days,   warn at 80 %
--   urgent    accept 30 calendar minutes, resolve 24 calendar hours, warn at 80 %
--   complex   accept 1 working day,       resolve 15 working days,  warn at 80 %
-- Changing a shipped policy clears its shipped flag, and from then on it is dumped;
-- inserting a policy whose name is that of a still-shipped one replaces it (this is
-- how pg_restore brings back a changed copy).  The calendar is checked by a trigger
-- (WO501), not a foreign key: restoring a changed copy of a shipped calendar
-- replaces (deletes) the shipped one, which a foreign key would refuse.
--
-- Which policy an order gets, first that names an existing policy: the routing
-- rule's sla_policy > the priority's (workorder.sla_priority_policies; without a
-- row for the priority, 'urgent' priority maps to the policy 'urgent'; a row with a
-- NULL policy means no override) > the category's (category_settings) > 'standard'.
--
-- Deadlines:
--   * When an order is dispatched (at intake, by dispatch(), by reassign()),
--     accept_due_at counts from that instant; resolve_due_at counts from
--     received_at and is computed once: a later dispatch or reassign keeps it (and
--     the shifts and extensions it got).  reopen() starts both afresh from the
--     reopen instant, and clears the warned/accept_overdue/overdue marks.
--   * accept clears nothing: accept_due_at stays, for on-time rates.
--   * suspend pauses the resolve clock; resume moves resolve_due_at (and warn_at,
--     if the warning has not been given) by the paused time: the working time of
--     the suspension re-added with add_working_time on the working clocks, the
--     elapsed time on calendar_hours.
--   * approve_extension moves resolve_due_at (and an unreached warn_at) by the
--     extension on the policy's clock: calendar_hours adds it as is; the working
--     clocks count its days part as working days (add_working_days) and its time
--     part as working time (add_working_time).  request_extension refuses months.
--   * next_check_at (kept by the trigger orders_sla_next_check) is the earliest of
--     warn_at (not yet warned), accept_due_at (while dispatched, not yet marked) and
--     resolve_due_at (not yet overdue), while the order is new, dispatched or
--     accepted; NULL otherwise (a suspended order's clock is paused).  The task
--     deadline_check (part 92) reads only the rows whose next_check_at has come.
--
-- SQLSTATEs: WO511 invalid SLA policy (a row of sla_policies or
-- sla_priority_policies); WO512 unknown SLA policy; WO513 invalid argument of a
-- deadline function (unknown clock, an amount of the wrong shape).

CREATE TABLE workorder.sla_policies (
    name           text PRIMARY KEY,
    calendar_code  text NOT NULL DEFAULT 'cn',
    accept_clock   text NOT NULL,
    accept_amount  interval NOT NULL,
    resolve_clock  text NOT NULL,
    resolve_amount interval NOT NULL,
    warn_fraction  numeric NOT NULL DEFAULT 0.8,
    description    text,
    shipped        boolean NOT NULL DEFAULT false,
    CONSTRAINT sla_policies_warn_fraction CHECK (warn_fraction OPERATOR(pg_catalog.>) 0
                                                 AND warn_fraction OPERATOR(pg_catalog.<) 1),
    CONSTRAINT sla_policies_accept_clock CHECK (accept_clock IN ('calendar_hours', 'working_hours', 'working_days')),
    CONSTRAINT sla_policies_resolve_clock CHECK (resolve_clock IN ('calendar_hours', 'working_hours', 'working_days'))
);
SELECT pg_catalog.pg_extension_config_dump('workorder.sla_policies', 'WHERE NOT shipped');
COMMENT ON TABLE workorder.sla_policies IS
    'SLA policies: accept and resolve durations on a clock (calendar_hours, working_hours, working_days) and the warning fraction.';
COMMENT ON COLUMN workorder.sla_policies.shipped IS
    'True while the policy is exactly as the extension shipped it; pg_dump leaves such a policy out.';

CREATE TABLE workorder.sla_priority_policies (
    priority workorder.order_priority PRIMARY KEY,
    policy   text REFERENCES workorder.sla_policies (name) ON UPDATE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('workorder.sla_priority_policies', '');
COMMENT ON TABLE workorder.sla_priority_policies IS
    'A priority''s SLA policy, over the category''s.  Without a row, urgent maps to the policy urgent; a NULL policy means no override.';

-- sla_amount_error returns why an amount does not fit a clock, or NULL when it does.
CREATE FUNCTION workorder.sla_amount_error(clock text, amount interval)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    months double precision := (pg_catalog.date_part('year', amount) OPERATOR(pg_catalog.*) 12)
                               OPERATOR(pg_catalog.+) pg_catalog.date_part('month', amount);
    days double precision := pg_catalog.date_part('day', amount);
    secs double precision := pg_catalog.date_part('epoch', amount)
                             OPERATOR(pg_catalog.-) (months OPERATOR(pg_catalog.*) 2592000)
                             OPERATOR(pg_catalog.-) (days OPERATOR(pg_catalog.*) 86400);
BEGIN
    IF clock IS NULL OR clock NOT IN ('calendar_hours', 'working_hours', 'working_days') THEN
        RETURN pg_catalog.format('the clock %s is not calendar_hours, working_hours or working_days',
                                 COALESCE(pg_catalog.quote_literal(clock), 'NULL'));
    END IF;
    IF amount IS NULL THEN
        RETURN 'the amount is NULL';
    END IF;
    IF months OPERATOR(pg_catalog.<>) 0 THEN
        RETURN pg_catalog.format('the amount %s has a months part', amount);
    END IF;
    IF clock OPERATOR(pg_catalog.=) 'working_days' THEN
        IF secs OPERATOR(pg_catalog.<>) 0 OR days OPERATOR(pg_catalog.<) 0 THEN
            RETURN pg_catalog.format('the amount %s is not a whole number (0 or more) of days', amount);
        END IF;
    ELSIF days OPERATOR(pg_catalog.<>) 0 OR secs OPERATOR(pg_catalog.<=) 0 THEN
        RETURN pg_catalog.format('the amount %s is not a positive time of hours, minutes and seconds', amount);
    END IF;
    RETURN NULL;
END
$$;

-- sla_policies_before_write checks a policy (WO511, WO501) and keeps the shipped flag.
CREATE FUNCTION workorder.sla_policies_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    why text;
BEGIN
    IF NEW.name IS NULL OR NEW.name OPERATOR(pg_catalog.!~) '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' THEN
        PERFORM workorder.raise_error('WO511', 'invalid SLA policy name',
            pg_catalog.format('The name is %s.', COALESCE(pg_catalog.quote_literal(NEW.name), 'NULL')),
            'A policy name is 1 to 64 letters, digits, dots, dashes and underscores, e.g. standard.');
    END IF;
    PERFORM workorder.calendar_must_exist(NEW.calendar_code);
    why := COALESCE(workorder.sla_amount_error(NEW.accept_clock, NEW.accept_amount),
                    workorder.sla_amount_error(NEW.resolve_clock, NEW.resolve_amount));
    IF why IS NOT NULL THEN
        PERFORM workorder.raise_error('WO511',
            pg_catalog.format('SLA policy %s is invalid', NEW.name),
            pg_catalog.format('In accept (%s %s) or resolve (%s %s): %s.', NEW.accept_clock, NEW.accept_amount,
                              NEW.resolve_clock, NEW.resolve_amount, why),
            'Hours clocks take hours, minutes and seconds, e.g. interval ''2 hours''; working_days takes whole days, e.g. interval ''5 days''.');
    END IF;
    IF NEW.warn_fraction IS NULL OR NEW.warn_fraction OPERATOR(pg_catalog.<=) 0
       OR NEW.warn_fraction OPERATOR(pg_catalog.>=) 1 THEN
        PERFORM workorder.raise_error('WO511',
            pg_catalog.format('SLA policy %s has an invalid warn_fraction', NEW.name),
            pg_catalog.format('warn_fraction is %s.', COALESCE(NEW.warn_fraction::text, 'NULL')),
            'warn_fraction is strictly between 0 and 1, e.g. 0.8.');
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        IF (NEW.name, NEW.calendar_code, NEW.accept_clock, NEW.accept_amount, NEW.resolve_clock,
            NEW.resolve_amount, NEW.warn_fraction, NEW.description)
           IS DISTINCT FROM (OLD.name, OLD.calendar_code, OLD.accept_clock, OLD.accept_amount, OLD.resolve_clock,
                             OLD.resolve_amount, OLD.warn_fraction, OLD.description) THEN
            NEW.shipped := false;
        END IF;
    ELSIF EXISTS (SELECT 1 FROM workorder.sla_policies p
                   WHERE p.name OPERATOR(pg_catalog.=) NEW.name AND p.shipped) THEN
        -- A policy inserted over a still-shipped one replaces it, in place, so that
        -- the priority mappings that name it stay valid.
        UPDATE workorder.sla_policies p
           SET calendar_code = NEW.calendar_code, accept_clock = NEW.accept_clock,
               accept_amount = NEW.accept_amount, resolve_clock = NEW.resolve_clock,
               resolve_amount = NEW.resolve_amount, warn_fraction = NEW.warn_fraction,
               description = NEW.description, shipped = NEW.shipped
         WHERE p.name OPERATOR(pg_catalog.=) NEW.name;
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER sla_policies_before_write
    BEFORE INSERT OR UPDATE ON workorder.sla_policies
    FOR EACH ROW EXECUTE FUNCTION workorder.sla_policies_before_write();

INSERT INTO workorder.sla_policies
    (name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount, warn_fraction, description, shipped)
VALUES
    ('standard', 'cn', 'working_hours', '2 hours', 'working_days', '5 days', 0.8,
     'accept within 2 working hours, resolve within 5 working days', true),
    ('urgent', 'cn', 'calendar_hours', '30 minutes', 'calendar_hours', '24 hours', 0.8,
     'accept within 30 minutes, resolve within 24 hours, day and night', true),
    ('complex', 'cn', 'working_days', '1 day', 'working_days', '15 days', 0.8,
     'accept by the end of the next working day, resolve within 15 working days', true);

-- The order's SLA state, besides sla_policy, accept_due_at and resolve_due_at of part 50.
ALTER TABLE workorder.orders
    ADD COLUMN warn_at        timestamptz,
    ADD COLUMN warned         boolean NOT NULL DEFAULT false,
    ADD COLUMN accept_overdue boolean NOT NULL DEFAULT false,
    ADD COLUMN overdue        boolean NOT NULL DEFAULT false,
    ADD COLUMN next_check_at  timestamptz;
CREATE INDEX orders_next_check_idx ON workorder.orders (next_check_at) WHERE next_check_at IS NOT NULL;
COMMENT ON COLUMN workorder.orders.warn_at IS 'when the resolve deadline warning is due (start + warn_fraction of the span)';
COMMENT ON COLUMN workorder.orders.warned IS 'the deadline_warning event has been logged for the current deadline';
COMMENT ON COLUMN workorder.orders.accept_overdue IS 'the accept_overdue event has been logged for the current accept deadline';
COMMENT ON COLUMN workorder.orders.overdue IS 'the resolve deadline passed while the order was open';
COMMENT ON COLUMN workorder.orders.next_check_at IS 'when the deadline_check task must next look at the order; NULL: never';

-- policy_for returns the policy row of a name, or raises WO512.
CREATE FUNCTION workorder.sla_policy(policy text)
RETURNS workorder.sla_policies
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    p workorder.sla_policies;
BEGIN
    SELECT * INTO p FROM workorder.sla_policies x WHERE x.name OPERATOR(pg_catalog.=) policy;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO512',
            pg_catalog.format('unknown SLA policy %s', COALESCE(pg_catalog.quote_literal(policy), 'NULL')),
            'No row of workorder.sla_policies has this name.',
            'Use the name of a policy in workorder.sla_policies (standard, urgent, complex, or your own).');
    END IF;
    RETURN p;
END
$$;

-- choose_sla_policy returns the policy an order gets (see the top of this part).
-- C, from the per-backend reference cache (src/refcache.c): it runs at every
-- intake and dispatch.
CREATE FUNCTION workorder.choose_sla_policy(rule_id bigint, priority workorder.order_priority, category text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_choose_sla_policy'
LANGUAGE C STABLE;

-- deadline_after returns the instant amount after start on a clock (see the top of
-- this part).  NULL start gives NULL; a bad clock or amount is WO513.
CREATE FUNCTION workorder.deadline_after(start timestamptz, clock text, amount interval, calendar text DEFAULT 'cn')
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    why text := workorder.sla_amount_error(clock, amount);
BEGIN
    IF why IS NOT NULL THEN
        PERFORM workorder.raise_error('WO513', 'invalid deadline arguments',
            why OPERATOR(pg_catalog.||) '.',
            'Hours clocks take hours, minutes and seconds, e.g. interval ''2 hours''; working_days takes whole days, e.g. interval ''5 days''.');
    END IF;
    IF start IS NULL THEN
        RETURN NULL;
    END IF;
    -- The last instant a timestamptz holds is 294276-12-31 23:59:59.999999 UTC.
    IF clock OPERATOR(pg_catalog.=) 'calendar_hours' AND pg_catalog.isfinite(start)
       AND start OPERATOR(pg_catalog.>) ('294276-12-31 23:59:59.999999+00'::timestamptz OPERATOR(pg_catalog.-) amount) THEN
        PERFORM workorder.raise_error('WO513', 'invalid deadline arguments',
            pg_catalog.format('%s plus %s is past the last time a timestamptz holds.', start, amount),
            'Check the start time.');
    END IF;
    RETURN CASE clock
        WHEN 'calendar_hours' THEN start OPERATOR(pg_catalog.+) amount
        WHEN 'working_hours' THEN workorder.add_working_time(start, amount, calendar)
        ELSE workorder.add_working_days(start, pg_catalog.date_part('day', amount)::integer, calendar) END;
END
$$;

-- sla_warn_at returns start + fraction of the span [start, due) on the clock: elapsed
-- time on calendar_hours, working time on the working clocks.
CREATE FUNCTION workorder.sla_warn_at(start timestamptz, due timestamptz, clock text, fraction numeric,
                                      calendar text DEFAULT 'cn')
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    span interval;
BEGIN
    IF start IS NULL OR due IS NULL THEN
        RETURN NULL;
    END IF;
    IF clock OPERATOR(pg_catalog.=) 'calendar_hours' THEN
        RETURN start OPERATOR(pg_catalog.+) ((due OPERATOR(pg_catalog.-) start) OPERATOR(pg_catalog.*) fraction::double precision);
    END IF;
    span := workorder.working_time_between(start, due, calendar);
    IF span OPERATOR(pg_catalog.<=) '0'::interval THEN
        RETURN due;
    END IF;
    RETURN LEAST(due, workorder.add_working_time(start, span OPERATOR(pg_catalog.*) fraction::double precision, calendar));
END
$$;

-- sla_shift returns due moved by the time paused in [paused_from, paused_to): the
-- working time of the pause re-added on the working clocks, the elapsed time on
-- calendar_hours.
CREATE FUNCTION workorder.sla_shift(due timestamptz, clock text, paused_from timestamptz, paused_to timestamptz,
                                    calendar text DEFAULT 'cn')
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    paused interval;
BEGIN
    IF due IS NULL OR paused_from IS NULL OR paused_to IS NULL OR paused_to OPERATOR(pg_catalog.<=) paused_from THEN
        RETURN due;
    END IF;
    IF clock OPERATOR(pg_catalog.=) 'calendar_hours' THEN
        RETURN due OPERATOR(pg_catalog.+) (paused_to OPERATOR(pg_catalog.-) paused_from);
    END IF;
    paused := workorder.working_time_between(paused_from, paused_to, calendar);
    IF paused OPERATOR(pg_catalog.<=) '0'::interval THEN
        RETURN due;
    END IF;
    RETURN workorder.add_working_time(due, paused, calendar);
END
$$;

-- sla_extend returns due moved by an extension on the clock: as is on calendar_hours;
-- on the working clocks its days as working days, then its time as working time.
CREATE FUNCTION workorder.sla_extend(due timestamptz, clock text, extension interval, calendar text DEFAULT 'cn')
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    days integer := pg_catalog.date_part('day', extension)::integer;
    rest interval := extension OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => days);
BEGIN
    IF due IS NULL OR extension IS NULL THEN
        RETURN due;
    END IF;
    IF clock OPERATOR(pg_catalog.=) 'calendar_hours' THEN
        RETURN due OPERATOR(pg_catalog.+) extension;
    END IF;
    IF days OPERATOR(pg_catalog.>) 0 THEN
        due := workorder.add_working_days(due, days, calendar);
    END IF;
    IF rest OPERATOR(pg_catalog.>) '0'::interval THEN
        due := workorder.add_working_time(due, rest, calendar);
    END IF;
    RETURN due;
END
$$;

-- sla_dispatched sets an order's deadlines when it is dispatched at the instant at:
-- accept_due_at from at; resolve_due_at from received_at when it has none, or, when
-- fresh (reopen), from at, with the marks cleared.  It returns the order as it left it.
CREATE FUNCTION workorder.sla_dispatched(o workorder.orders, at timestamptz, fresh boolean DEFAULT false)
RETURNS workorder.orders
LANGUAGE plpgsql
AS $$
DECLARE
    policy_name text := COALESCE(o.sla_policy, workorder.choose_sla_policy(o.route_rule_id, o.priority, o.category_code));
    p workorder.sla_policies;
    resolve_start timestamptz;
    resolve_due timestamptz := o.resolve_due_at;
    warn timestamptz := o.warn_at;
    after workorder.orders;
BEGIN
    SELECT * INTO p FROM workorder.sla_policies x WHERE x.name OPERATOR(pg_catalog.=) policy_name;
    IF NOT FOUND THEN
        RETURN o;   -- no policy (even 'standard' was dropped): no deadlines
    END IF;
    IF fresh OR resolve_due IS NULL THEN
        resolve_start := CASE WHEN fresh THEN at ELSE o.received_at END;
        resolve_due := workorder.deadline_after(resolve_start, p.resolve_clock, p.resolve_amount, p.calendar_code);
        warn := workorder.sla_warn_at(resolve_start, resolve_due, p.resolve_clock, p.warn_fraction, p.calendar_code);
    END IF;
    UPDATE workorder.orders x
       SET sla_policy = policy_name,
           accept_due_at = workorder.deadline_after(at, p.accept_clock, p.accept_amount, p.calendar_code),
           resolve_due_at = resolve_due, warn_at = warn, accept_overdue = false,
           warned = CASE WHEN fresh THEN false ELSE x.warned END,
           overdue = CASE WHEN fresh THEN false ELSE x.overdue END
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN after;
END
$$;

-- sla_intake returns the policy and deadlines of an order dispatched at intake:
-- choose_sla_policy(), then, when the policy exists, accept_due_at and
-- resolve_due_at are deadline_after(received, ...) on its clocks and warn_at is
-- sla_warn_at(received, resolve_due_at, ...).  C (src/deadlines.c), with the same
-- arithmetic as those plpgsql functions: it runs on every intake.
CREATE FUNCTION workorder.sla_intake(rule_id bigint, priority workorder.order_priority, category text,
                                     received timestamptz,
                                     OUT policy text, OUT accept_due_at timestamptz,
                                     OUT resolve_due_at timestamptz, OUT warn_at timestamptz)
AS 'MODULE_PATHNAME', 'deadlines_sla_intake'
LANGUAGE C STABLE;

-- sla_resumed moves the resolve deadline (and an unreached warning) of an order
-- resumed at resumed_at by the suspension that began at suspended_at.
CREATE FUNCTION workorder.sla_resumed(o workorder.orders, suspended_at timestamptz, resumed_at timestamptz)
RETURNS workorder.orders
LANGUAGE plpgsql
AS $$
DECLARE
    p workorder.sla_policies;
    after workorder.orders;
BEGIN
    SELECT * INTO p FROM workorder.sla_policies x WHERE x.name OPERATOR(pg_catalog.=) o.sla_policy;
    IF NOT FOUND OR o.resolve_due_at IS NULL THEN
        RETURN o;
    END IF;
    UPDATE workorder.orders x
       SET resolve_due_at = workorder.sla_shift(x.resolve_due_at, p.resolve_clock, suspended_at, resumed_at, p.calendar_code),
           warn_at = CASE WHEN x.warned THEN x.warn_at
                          ELSE workorder.sla_shift(x.warn_at, p.resolve_clock, suspended_at, resumed_at, p.calendar_code) END
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN after;
END
$$;

-- sla_extended returns the order's resolve deadline and warning instant moved by an
-- approved extension, on its policy's clock (calendar time when it has no policy).
CREATE FUNCTION workorder.sla_extended(o workorder.orders, extension interval,
                                       OUT resolve_due_at timestamptz, OUT warn_at timestamptz)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    p workorder.sla_policies;
BEGIN
    SELECT * INTO p FROM workorder.sla_policies x WHERE x.name OPERATOR(pg_catalog.=) o.sla_policy;
    IF NOT FOUND THEN
        p.resolve_clock := 'calendar_hours';
        p.calendar_code := 'cn';
    END IF;
    resolve_due_at := workorder.sla_extend(o.resolve_due_at, p.resolve_clock, extension, p.calendar_code);
    warn_at := CASE WHEN o.warned THEN o.warn_at
                    ELSE workorder.sla_extend(o.warn_at, p.resolve_clock, extension, p.calendar_code) END;
END
$$;

-- sla_next_check is when the deadline task must next look at an order.  (plpgsql,
-- not SQL: a SQL function with a pinned search_path is planned again on every call.)
-- The trigger below computes the same in C; this is its statement in SQL.
CREATE FUNCTION workorder.sla_next_check(o workorder.orders)
RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF NOT (o.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted}'::workorder.order_status[])) THEN
        RETURN NULL;
    END IF;
    RETURN LEAST(CASE WHEN NOT o.warned AND NOT o.overdue THEN o.warn_at END,
                 CASE WHEN o.status OPERATOR(pg_catalog.=) 'dispatched' AND NOT o.accept_overdue THEN o.accept_due_at END,
                 CASE WHEN NOT o.overdue THEN o.resolve_due_at END);
END
$$;

-- orders_sla_next_check keeps next_check_at (= sla_next_check(NEW)), and wakes the
-- worker (at commit) when a new value falls within the worker's naptime, so that
-- no deadline waits for a long sleep.  C (src/deadlines.c): it runs on every write
-- of an order.
CREATE FUNCTION workorder.orders_sla_next_check()
RETURNS trigger
AS 'MODULE_PATHNAME', 'deadlines_orders_sla_next_check'
LANGUAGE C;

CREATE TRIGGER orders_sla_next_check
    BEFORE INSERT OR UPDATE OF status, accept_due_at, resolve_due_at, warn_at, warned, accept_overdue, overdue
    ON workorder.orders
    FOR EACH ROW EXECUTE FUNCTION workorder.orders_sla_next_check();
ALTER TABLE workorder.orders ENABLE ALWAYS TRIGGER orders_sla_next_check;
-- workorder install script, part 86: the escalation chain (issue 4, escalation).
--
-- A policy's escalation chain is a list of steps, each done once, in step order,
-- when its instant has come:  resolve_due_at + after, measured on the policy's
-- resolve clock with workorder.sla_extend:
--   calendar_hours  after is plain elapsed time ('2 hours' = 2 hours later);
--   working_hours,
--   working_days    after's days part counts working days (add_working_days) and
--                   its time part working time (add_working_time) on the
--                   policy's calendar; '0' is the resolve deadline itself.
-- Actions:
--   remind           an event only;
--   supervise        sets orders.supervised = true (督办);
--   escalate_parent  sets orders.escalated_to to the parent unit of the main unit
--                    (main_unit is not changed); no parent: NULL in the event and
--                    escalated_to unchanged;
--   escalate_leader  sets orders.escalated_to to the setting district_leader (a
--                    name), or 'district leader' without it.
-- Each step done is a row of workorder.order_escalations, whose primary key
-- (order_id, step) makes it happen at most once, also across a crash and with
-- run_due_work() beside the worker, and an event 'escalate' (actor 'system',
-- details {step, action, to}).  orders.escalation_step is the last step done;
-- orders.next_escalation_at (kept by the trigger orders_escalation_next, partial
-- index orders_next_escalation_idx) is the instant of the next step while the order
-- is new, dispatched or accepted, NULL otherwise (a suspended order waits; resume
-- moves resolve_due_at and with it the remaining steps).  The task escalate (part
-- 93) reads only the rows whose next_escalation_at has come.
--
-- A new deadline does not undo steps done: resume and approved extensions move the
-- instants of the steps not yet done.  reopen starts a new chain: when an order
-- leaves resolved/closed for an open status its order_escalations rows are deleted
-- (the 'escalate' events stay in the event log), escalation_step goes back to 0 and
-- escalated_to to NULL; the new chain counts from the fresh resolve deadline.
--
-- Shipped chains (kept out of pg_dump while unchanged, as the shipped policies are):
--   standard, complex  0 remind, 1 day supervise, 2 days escalate_parent,
--                      3 days escalate_leader (working days after the deadline)
--   urgent             0 remind, 2 hours supervise, 4 hours escalate_parent,
--                      8 hours escalate_leader (elapsed time)
-- Changing a shipped step clears its shipped flag; inserting a step over a
-- still-shipped one replaces it.  A change of a chain recomputes next_escalation_at
-- of the open orders of that policy.
--
-- SQLSTATE: WO521 invalid escalation step.

CREATE TABLE workorder.sla_escalation_steps (
    policy  text NOT NULL REFERENCES workorder.sla_policies (name) ON UPDATE CASCADE ON DELETE CASCADE,
    step    integer NOT NULL,
    after   interval NOT NULL,
    action  text NOT NULL,
    shipped boolean NOT NULL DEFAULT false,
    PRIMARY KEY (policy, step),
    CONSTRAINT sla_escalation_steps_action
        CHECK (action IN ('remind', 'supervise', 'escalate_parent', 'escalate_leader'))
);
SELECT pg_catalog.pg_extension_config_dump('workorder.sla_escalation_steps', 'WHERE NOT shipped');
COMMENT ON TABLE workorder.sla_escalation_steps IS
    'Escalation chain of an SLA policy: step n is done once, in order, at resolve_due_at + after on the policy''s resolve clock.';
COMMENT ON COLUMN workorder.sla_escalation_steps.after IS
    'Time after the resolve deadline: elapsed time on calendar_hours; working days (days part) and working time (time part) on the working clocks.';

CREATE TABLE workorder.order_escalations (
    order_id bigint NOT NULL REFERENCES workorder.orders (id),
    step     integer NOT NULL,
    done_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    action   text NOT NULL,
    PRIMARY KEY (order_id, step)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.order_escalations', '');
REVOKE ALL ON workorder.order_escalations FROM PUBLIC;
COMMENT ON TABLE workorder.order_escalations IS
    'Escalation steps done, one row per order and step (at most once); reopen deletes the rows of the order.';

ALTER TABLE workorder.orders
    ADD COLUMN escalation_step    integer NOT NULL DEFAULT 0,
    ADD COLUMN escalated_to       text,
    ADD COLUMN next_escalation_at timestamptz;
CREATE INDEX orders_next_escalation_idx ON workorder.orders (next_escalation_at)
    WHERE next_escalation_at IS NOT NULL;
COMMENT ON COLUMN workorder.orders.escalation_step IS 'the last escalation step done for the current deadline (0: none)';
COMMENT ON COLUMN workorder.orders.escalated_to IS 'the parent unit or district leader the order was last escalated to';
COMMENT ON COLUMN workorder.orders.next_escalation_at IS 'when the escalate task must next look at the order; NULL: never';

-- sla_escalation_steps_before_write checks a step (WO521) and keeps the shipped flag.
CREATE FUNCTION workorder.sla_escalation_steps_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    months double precision;
BEGIN
    months := (pg_catalog.date_part('year', NEW.after) OPERATOR(pg_catalog.*) 12)
              OPERATOR(pg_catalog.+) pg_catalog.date_part('month', NEW.after);
    IF NEW.step IS NULL OR NEW.step OPERATOR(pg_catalog.<) 1 OR NEW.after IS NULL
       OR months OPERATOR(pg_catalog.<>) 0 OR NEW.after OPERATOR(pg_catalog.<) '0'::interval
       OR pg_catalog.date_part('day', NEW.after) OPERATOR(pg_catalog.<) 0 THEN
        PERFORM workorder.raise_error('WO521',
            pg_catalog.format('invalid escalation step %s of policy %s', NEW.step, NEW.policy),
            pg_catalog.format('step is %s, after is %s.', COALESCE(NEW.step::text, 'NULL'),
                              COALESCE(NEW.after::text, 'NULL')),
            'Steps are numbered from 1; after is 0 or more days, hours, minutes and seconds (no months), e.g. interval ''1 day''.');
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        IF (NEW.policy, NEW.step, NEW.after, NEW.action) IS DISTINCT FROM (OLD.policy, OLD.step, OLD.after, OLD.action) THEN
            NEW.shipped := false;
        END IF;
    ELSIF EXISTS (SELECT 1 FROM workorder.sla_escalation_steps s
                   WHERE s.policy OPERATOR(pg_catalog.=) NEW.policy AND s.step OPERATOR(pg_catalog.=) NEW.step
                     AND s.shipped) THEN
        UPDATE workorder.sla_escalation_steps s
           SET after = NEW.after, action = NEW.action, shipped = NEW.shipped
         WHERE s.policy OPERATOR(pg_catalog.=) NEW.policy AND s.step OPERATOR(pg_catalog.=) NEW.step;
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER sla_escalation_steps_before_write
    BEFORE INSERT OR UPDATE ON workorder.sla_escalation_steps
    FOR EACH ROW EXECUTE FUNCTION workorder.sla_escalation_steps_before_write();

INSERT INTO workorder.sla_escalation_steps (policy, step, after, action, shipped) VALUES
    ('standard', 1, '0', 'remind', true),
    ('standard', 2, '1 day', 'supervise', true),
    ('standard', 3, '2 days', 'escalate_parent', true),
    ('standard', 4, '3 days', 'escalate_leader', true),
    ('complex', 1, '0', 'remind', true),
    ('complex', 2, '1 day', 'supervise', true),
    ('complex', 3, '2 days', 'escalate_parent', true),
    ('complex', 4, '3 days', 'escalate_leader', true),
    ('urgent', 1, '0', 'remind', true),
    ('urgent', 2, '2 hours', 'supervise', true),
    ('urgent', 3, '4 hours', 'escalate_parent', true),
    ('urgent', 4, '8 hours', 'escalate_leader', true);

-- escalation_at returns the instant of a step after a resolve deadline, on the
-- policy's resolve clock (see the top of this part).
CREATE FUNCTION workorder.escalation_at(policy text, resolve_due timestamptz, after interval)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    p workorder.sla_policies;
BEGIN
    SELECT * INTO p FROM workorder.sla_policies x WHERE x.name OPERATOR(pg_catalog.=) policy;
    IF NOT FOUND THEN
        p.resolve_clock := 'calendar_hours';
        p.calendar_code := 'cn';
    END IF;
    RETURN workorder.sla_extend(resolve_due, p.resolve_clock, after, p.calendar_code);
END
$$;

-- escalation_next returns the instant of an order's next escalation step, or NULL.
-- The trigger below computes the same in C; this is its statement in SQL.
CREATE FUNCTION workorder.escalation_next(o workorder.orders)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    next_after interval;
BEGIN
    IF NOT (o.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted}'::workorder.order_status[])) OR o.resolve_due_at IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT s.after INTO next_after
      FROM workorder.sla_escalation_steps s
     WHERE s.policy OPERATOR(pg_catalog.=) o.sla_policy AND s.step OPERATOR(pg_catalog.>) o.escalation_step
     ORDER BY s.step LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN workorder.escalation_at(o.sla_policy, o.resolve_due_at, next_after);
END
$$;

-- orders_escalation_next keeps next_escalation_at (= escalation_next(NEW)), starts
-- a new chain on reopen (from resolved or closed to an open status: the order's
-- order_escalations rows go, escalation_step 0, escalated_to NULL) and wakes the
-- worker when the next step is within the worker's naptime.  C (src/deadlines.c):
-- it runs on every write of an order.
CREATE FUNCTION workorder.orders_escalation_next()
RETURNS trigger
AS 'MODULE_PATHNAME', 'deadlines_orders_escalation_next'
LANGUAGE C;

CREATE TRIGGER orders_escalation_next
    BEFORE INSERT OR UPDATE OF status, sla_policy, resolve_due_at, escalation_step
    ON workorder.orders
    FOR EACH ROW EXECUTE FUNCTION workorder.orders_escalation_next();
ALTER TABLE workorder.orders ENABLE ALWAYS TRIGGER orders_escalation_next;

-- A change of a chain recomputes next_escalation_at of the open orders of the policy.
CREATE FUNCTION workorder.sla_escalation_steps_after_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE workorder.orders o SET escalation_step = o.escalation_step
     WHERE o.sla_policy IN (SELECT c.policy FROM changed c)
       AND o.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted}'::workorder.order_status[]) AND o.resolve_due_at IS NOT NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER sla_escalation_steps_after_insert AFTER INSERT ON workorder.sla_escalation_steps
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.sla_escalation_steps_after_write();
CREATE TRIGGER sla_escalation_steps_after_update AFTER UPDATE ON workorder.sla_escalation_steps
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.sla_escalation_steps_after_write();
CREATE TRIGGER sla_escalation_steps_after_delete AFTER DELETE ON workorder.sla_escalation_steps
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.sla_escalation_steps_after_write();
-- workorder install script, part 87: hotspots (issue 6).
--
-- A hotspot is a place where the orders of one category cluster, in the most
-- recent window of time, well beyond that same place's usual rate: the road
-- section that floods every time it rains, the market with repeated noise
-- complaints this week.  A place that is always busy is not a hotspot.
--
-- How a place is found: the orders of a group (below) in the window
-- [as_of - window, as_of) are projected into the metric SRID of the setting
-- grid_srid (default 4547, CGCS2000 / 3-degree Gauss-Kruger CM 114E, which suits
-- Foshan; choose your district's zone) and clustered with ST_ClusterDBSCAN (eps =
-- radius_m, minpoints 3): orders chained by hops of at most radius_m, each link
-- between points that have 2 others that close.  The place of a cluster is its
-- convex hull grown by radius_m.  DBSCAN rather than fixed grid cells, so that a
-- cluster on a cell border is not cut in two; the place is still comparable over
-- time, because its baseline counts the orders that fell inside that same area.
--
-- The rule: with n the cluster's orders and c_1..c_N the orders of the group inside
-- its area in each of the N preceding windows of the same length
-- (baseline_windows; a window without orders counts 0), mean = sum(c_i)/N and sd
-- the population standard deviation, the cluster is a hotspot when
--     n >= min_count  and  n > mean + k * sd  and  n >= min_ratio * mean.
-- The last condition keeps a place that is always busy (a steady 10 a week, sd
-- near 0) from becoming a hotspot on its 11th order.
--
-- Orders counted: their event time is COALESCE(occurred_at, received_at); merged
-- orders (duplicates of one event) and cancelled ones do not count, nor do orders
-- that hotspots raised themselves (the channel of the setting hotspot_channel).
--
-- Policies: workorder.hotspot_policies, one row per category that is a hotspot
-- group.  A group counts the orders of its category's subtree, except the subtrees
-- of descendants that have rows of their own (they are groups of their own).  A
-- column left NULL inherits the nearest ancestor row's value, else the default:
--     enabled true, radius_m 100, window '7 days', baseline_windows 8, k 2,
--     min_count 5, min_ratio 2, raise_order false.
-- workorder.hotspot_settings shows the values in force for every category.
--
-- Records: workorder.hotspots.  A hotspot found where an active hotspot of the same
-- group lies (their areas intersect) updates it: its area, count, baseline, ratio,
-- window and last_seen_at.  Otherwise a new active hotspot is made.  An active
-- hotspot not found again is ended.  So an ongoing hotspot is one row, not one per
-- run.
--
-- Proactive orders: when the group's raise_order is true, each hotspot raises ONE
-- order through submit(), on the channel of the setting hotspot_channel (default
-- 'hotspot'), with channel_ref 'hotspot-<id>', the group's category, the centroid of
-- the window's orders as its location, and attributes naming the hotspot and the
-- orders.  The extension does not make that channel (channels is a configuration
-- table, and its rows are the operator's): create it, e.g.
--     SELECT workorder.load_channel('{"code": "hotspot", "name": "热点预警", "kind": "other", "replies": false}');
-- Without it, the hotspot is still recorded, with the error in order_error, and the
-- order is tried again on the next run.
--
-- The task detect_hotspots (part 93) runs detect_hotspots(now()) every
-- hotspot_interval (setting, default '1 hour').
--
-- SQLSTATEs: WO861 an invalid hotspot policy; WO862 an invalid detect_hotspots()
-- argument.

CREATE TABLE workorder.hotspot_policies (
    category_code    text PRIMARY KEY REFERENCES workorder.categories (code) ON UPDATE CASCADE ON DELETE CASCADE,
    enabled          boolean,
    radius_m         double precision,
    "window"         interval,
    baseline_windows integer,
    k                double precision,
    min_count        integer,
    min_ratio        double precision,
    raise_order      boolean
);
SELECT pg_catalog.pg_extension_config_dump('workorder.hotspot_policies', '');
REVOKE ALL ON workorder.hotspot_policies FROM PUBLIC;
COMMENT ON TABLE workorder.hotspot_policies IS
    'Hotspot detection per category group; NULL columns inherit from the nearest ancestor row, else the defaults. See workorder.hotspot_settings.';

-- hotspot_policies_before_write checks a policy row (WO861).
CREATE FUNCTION workorder.hotspot_policies_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    why text;
BEGIN
    why := CASE
        WHEN NEW.radius_m IS NOT NULL AND NOT (NEW.radius_m OPERATOR(pg_catalog.>=) 5 AND NEW.radius_m OPERATOR(pg_catalog.<=) 5000)
            THEN pg_catalog.format('radius_m is %s; it must be from 5 to 5000 metres', NEW.radius_m)
        WHEN NEW."window" IS NOT NULL AND (pg_catalog.date_part('month', NEW."window") OPERATOR(pg_catalog.<>) 0
                                           OR pg_catalog.date_part('year', NEW."window") OPERATOR(pg_catalog.<>) 0
                                           OR NEW."window" OPERATOR(pg_catalog.<) '1 hour'::interval
                                           OR NEW."window" OPERATOR(pg_catalog.>) '90 days'::interval)
            THEN pg_catalog.format('window is %s; it must be from 1 hour to 90 days, without months', NEW."window")
        WHEN NEW.baseline_windows IS NOT NULL AND NOT (NEW.baseline_windows OPERATOR(pg_catalog.>=) 1
                                                       AND NEW.baseline_windows OPERATOR(pg_catalog.<=) 52)
            THEN pg_catalog.format('baseline_windows is %s; it must be from 1 to 52', NEW.baseline_windows)
        WHEN NEW.k IS NOT NULL AND NOT (NEW.k OPERATOR(pg_catalog.>=) 0 AND NEW.k OPERATOR(pg_catalog.<=) 10)
            THEN pg_catalog.format('k is %s; it must be from 0 to 10', NEW.k)
        WHEN NEW.min_count IS NOT NULL AND NOT (NEW.min_count OPERATOR(pg_catalog.>=) 2
                                                AND NEW.min_count OPERATOR(pg_catalog.<=) 100000)
            THEN pg_catalog.format('min_count is %s; it must be from 2 to 100000', NEW.min_count)
        WHEN NEW.min_ratio IS NOT NULL AND NOT (NEW.min_ratio OPERATOR(pg_catalog.>=) 1
                                                AND NEW.min_ratio OPERATOR(pg_catalog.<=) 100)
            THEN pg_catalog.format('min_ratio is %s; it must be from 1 to 100', NEW.min_ratio)
    END;
    IF why IS NOT NULL THEN
        PERFORM workorder.raise_error('WO861',
            pg_catalog.format('invalid hotspot policy for category %s', NEW.category_code),
            why OPERATOR(pg_catalog.||) '.',
            'Leave a column NULL to inherit it from the parent category''s policy or the default.');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER hotspot_policies_before_write
    BEFORE INSERT OR UPDATE ON workorder.hotspot_policies
    FOR EACH ROW EXECUTE FUNCTION workorder.hotspot_policies_before_write();

-- hotspot_settings shows, for every category under a policy row, its group (the
-- nearest category on its path with a row) and the values in force.
CREATE VIEW workorder.hotspot_settings AS
SELECT e.code, s.group_code,
       COALESCE(s.enabled, true) AS enabled,
       COALESCE(s.radius_m, 100) AS radius_m,
       COALESCE(s."window", '7 days'::interval) AS "window",
       COALESCE(s.baseline_windows, 8) AS baseline_windows,
       COALESCE(s.k, 2) AS k,
       COALESCE(s.min_count, 5) AS min_count,
       COALESCE(s.min_ratio, 2) AS min_ratio,
       COALESCE(s.raise_order, false) AS raise_order
  FROM workorder.category_effective e
  CROSS JOIN LATERAL (
        SELECT (pg_catalog.array_agg(p.category_code ORDER BY u.depth DESC))[1] AS group_code,
               (pg_catalog.array_agg(p.enabled ORDER BY u.depth DESC) FILTER (WHERE p.enabled IS NOT NULL))[1] AS enabled,
               (pg_catalog.array_agg(p.radius_m ORDER BY u.depth DESC) FILTER (WHERE p.radius_m IS NOT NULL))[1] AS radius_m,
               (pg_catalog.array_agg(p."window" ORDER BY u.depth DESC) FILTER (WHERE p."window" IS NOT NULL))[1] AS "window",
               (pg_catalog.array_agg(p.baseline_windows ORDER BY u.depth DESC) FILTER (WHERE p.baseline_windows IS NOT NULL))[1] AS baseline_windows,
               (pg_catalog.array_agg(p.k ORDER BY u.depth DESC) FILTER (WHERE p.k IS NOT NULL))[1] AS k,
               (pg_catalog.array_agg(p.min_count ORDER BY u.depth DESC) FILTER (WHERE p.min_count IS NOT NULL))[1] AS min_count,
               (pg_catalog.array_agg(p.min_ratio ORDER BY u.depth DESC) FILTER (WHERE p.min_ratio IS NOT NULL))[1] AS min_ratio,
               (pg_catalog.array_agg(p.raise_order ORDER BY u.depth DESC) FILTER (WHERE p.raise_order IS NOT NULL))[1] AS raise_order
          FROM pg_catalog.unnest(e.path) WITH ORDINALITY AS u(code, depth)
          JOIN workorder.hotspot_policies p ON p.category_code OPERATOR(pg_catalog.=) u.code) s
 WHERE s.group_code IS NOT NULL;
REVOKE ALL ON workorder.hotspot_settings FROM PUBLIC;
COMMENT ON VIEW workorder.hotspot_settings IS
    'Every category under a hotspot policy: its group and the policy values in force after inheritance.';

CREATE TABLE workorder.hotspots (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category_code  text NOT NULL REFERENCES workorder.categories (code) ON UPDATE CASCADE,
    status         text NOT NULL DEFAULT 'active',
    -- The place: the cluster's convex hull grown by radius_m, and its orders' centroid.
    geom           geometry(Polygon, 4326) NOT NULL,
    center         geometry(Point, 4326) NOT NULL,
    radius_m       double precision NOT NULL,
    -- The latest window in which it was hot, and how hot.
    window_start   timestamptz NOT NULL,
    window_end     timestamptz NOT NULL,
    order_count    integer NOT NULL,
    baseline_mean  double precision NOT NULL,
    baseline_sd    double precision NOT NULL,
    ratio          double precision,
    order_ids      bigint[] NOT NULL,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    ended_at       timestamptz,
    -- The proactive order, if the policy raises one.
    order_id       bigint REFERENCES workorder.orders (id),
    order_error    text,
    CONSTRAINT hotspots_status CHECK (status IN ('active', 'ended')),
    CONSTRAINT hotspots_ended CHECK ((status OPERATOR(pg_catalog.=) 'ended') OPERATOR(pg_catalog.=) (ended_at IS NOT NULL))
);
CREATE INDEX hotspots_active_idx ON workorder.hotspots (category_code) WHERE status OPERATOR(pg_catalog.=) 'active';
CREATE INDEX hotspots_geom_idx ON workorder.hotspots USING gist (geom);
SELECT pg_catalog.pg_extension_config_dump('workorder.hotspots', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.hotspots_id_seq', '');
REVOKE ALL ON workorder.hotspots FROM PUBLIC;
COMMENT ON TABLE workorder.hotspots IS
    'Places where one category''s orders cluster beyond their baseline; one row per ongoing hotspot, updated by detect_hotspots().';
COMMENT ON COLUMN workorder.hotspots.ratio IS 'order_count / baseline_mean; NULL when the place had no orders in the baseline';
COMMENT ON COLUMN workorder.hotspots.order_ids IS 'the orders of the latest hot window (at most 100)';
COMMENT ON COLUMN workorder.hotspots.order_error IS 'why the proactive order could not be raised (retried on the next run)';

-- hotspot_runs records each run of detect_hotspots(); the task reads the last one
-- to know when it is next due.
CREATE TABLE workorder.hotspot_runs (
    as_of     timestamptz PRIMARY KEY,
    ran_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    hot       integer NOT NULL,
    started   integer NOT NULL,
    ended     integer NOT NULL,
    orders    integer NOT NULL
);
REVOKE ALL ON workorder.hotspot_runs FROM PUBLIC;
COMMENT ON TABLE workorder.hotspot_runs IS 'One row per run of workorder.detect_hotspots(): hot places, new, ended, orders raised.';

-- detect_hotspots finds the hot places of every enabled group in the window ending
-- at as_of, records them in workorder.hotspots (updating ongoing ones, ending those
-- not found again) and raises the proactive orders the policies ask for.  It
-- returns the hotspots that are active after the run.  Two runs never overlap: the
-- second waits for the first (a transaction-level advisory lock).
CREATE FUNCTION workorder.detect_hotspots(as_of timestamptz DEFAULT pg_catalog.now())
RETURNS SETOF workorder.hotspots
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    srid integer := workorder.setting('grid_srid', '4547')::integer;
    own_channel text := workorder.setting('hotspot_channel', 'hotspot');
    earliest timestamptz;
    found_place record;
    place geometry;
    match bigint;
    seen bigint[] := '{}';
    n_hot integer := 0;
    n_started integer := 0;
    n_ended integer;
    n_orders integer := 0;
    spot workorder.hotspots;
    made workorder.orders;
BEGIN
    IF as_of IS NULL OR NOT pg_catalog.isfinite(as_of)
       OR as_of OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.+) '1 hour'::interval) THEN
        PERFORM workorder.raise_error('WO862', 'invalid as_of for detect_hotspots',
            pg_catalog.format('as_of is %s.', COALESCE(as_of::text, 'NULL')),
            'Pass the end of the window to examine: now() or an instant in the past.');
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('workorder.detect_hotspots'));
    SELECT pg_catalog.min(as_of OPERATOR(pg_catalog.-) s."window")
      INTO earliest
      FROM workorder.hotspot_settings s WHERE s.enabled;

    -- Without an enabled policy there is nothing to look at (earliest is NULL).
    FOR found_place IN
        WITH counted AS MATERIALIZED (
            -- The orders of the current window, projected.
            SELECT s.group_code, s.radius_m, o.id, o.location, ST_Transform(o.location, srid) AS p
              FROM workorder.hotspot_settings s
              JOIN workorder.orders o ON o.category_code OPERATOR(pg_catalog.=) s.code
             WHERE s.enabled
               -- occurred_at is at most an hour after receipt (submit() checks it).
               AND earliest IS NOT NULL
               AND o.received_at OPERATOR(pg_catalog.>=) (earliest OPERATOR(pg_catalog.-) '1 hour'::interval)
               AND COALESCE(o.occurred_at, o.received_at) OPERATOR(pg_catalog.<) as_of
               AND COALESCE(o.occurred_at, o.received_at) OPERATOR(pg_catalog.>=) (as_of OPERATOR(pg_catalog.-) s."window")
               AND o.status NOT IN ('merged', 'cancelled')
               AND o.channel_code OPERATOR(pg_catalog.<>) own_channel
        ), clustered AS (
            SELECT c.*, ST_ClusterDBSCAN(c.p, c.radius_m, 3) OVER (PARTITION BY c.group_code) AS cluster
              FROM counted c
        ), clusters AS MATERIALIZED (
            SELECT k.group_code, k.cluster, pg_catalog.count(*)::integer AS n,
                   pg_catalog.array_agg(k.id ORDER BY k.id) AS ids,
                   ST_Buffer(ST_ConvexHull(ST_Collect(k.p)), pg_catalog.max(k.radius_m)) AS area,
                   ST_Transform(ST_Buffer(ST_ConvexHull(ST_Collect(k.p)), pg_catalog.max(k.radius_m)), 4326) AS area_wgs,
                   ST_Centroid(ST_Collect(k.location)) AS center
              FROM clustered k
             WHERE k.cluster IS NOT NULL
             GROUP BY k.group_code, k.cluster
        ), baseline AS (
            -- The group's orders inside each cluster's place in each preceding window
            -- (w = 1 .. baseline_windows), found through the GiST index on location.
            SELECT k.group_code, k.cluster,
                   pg_catalog.floor(pg_catalog.date_part('epoch', as_of OPERATOR(pg_catalog.-) COALESCE(o.occurred_at, o.received_at))
                                    OPERATOR(pg_catalog./) pg_catalog.date_part('epoch', g."window"))::integer AS w,
                   pg_catalog.count(*)::double precision AS c
              FROM clusters k
              JOIN workorder.hotspot_settings g ON g.code OPERATOR(pg_catalog.=) k.group_code
              JOIN workorder.orders o ON ST_Intersects(o.location, k.area_wgs)
              JOIN workorder.hotspot_settings s ON s.code OPERATOR(pg_catalog.=) o.category_code
                                               AND s.group_code OPERATOR(pg_catalog.=) k.group_code
             WHERE o.received_at OPERATOR(pg_catalog.>=)
                   (as_of OPERATOR(pg_catalog.-) (g."window" OPERATOR(pg_catalog.*) (g.baseline_windows OPERATOR(pg_catalog.+) 1))
                    OPERATOR(pg_catalog.-) '1 hour'::interval)
               AND COALESCE(o.occurred_at, o.received_at) OPERATOR(pg_catalog.<) (as_of OPERATOR(pg_catalog.-) g."window")
               AND COALESCE(o.occurred_at, o.received_at) OPERATOR(pg_catalog.>=)
                   (as_of OPERATOR(pg_catalog.-) (g."window" OPERATOR(pg_catalog.*) (g.baseline_windows OPERATOR(pg_catalog.+) 1)))
               AND o.status NOT IN ('merged', 'cancelled')
               AND o.channel_code OPERATOR(pg_catalog.<>) own_channel
             GROUP BY k.group_code, k.cluster, 3
        ), judged AS (
            SELECT k.group_code, k.n, k.ids, k.area, k.center, g."window", g.k, g.min_count, g.min_ratio, g.radius_m,
                   COALESCE(b.s1, 0) OPERATOR(pg_catalog./) g.baseline_windows AS mean,
                   pg_catalog.sqrt(GREATEST(COALESCE(b.s2, 0) OPERATOR(pg_catalog./) g.baseline_windows
                                            OPERATOR(pg_catalog.-) ((COALESCE(b.s1, 0) OPERATOR(pg_catalog./) g.baseline_windows) OPERATOR(pg_catalog.^) 2), 0)) AS sd
              FROM clusters k
              JOIN workorder.hotspot_settings g ON g.code OPERATOR(pg_catalog.=) k.group_code
              LEFT JOIN (SELECT x.group_code, x.cluster, pg_catalog.sum(x.c) AS s1, pg_catalog.sum(x.c OPERATOR(pg_catalog.*) x.c) AS s2
                           FROM baseline x GROUP BY x.group_code, x.cluster) b
                     ON b.group_code OPERATOR(pg_catalog.=) k.group_code AND b.cluster OPERATOR(pg_catalog.=) k.cluster
        )
        SELECT j.* FROM judged j
         WHERE j.n OPERATOR(pg_catalog.>=) j.min_count
           AND j.n::double precision OPERATOR(pg_catalog.>) (j.mean OPERATOR(pg_catalog.+) (j.k OPERATOR(pg_catalog.*) j.sd))
           AND j.n::double precision OPERATOR(pg_catalog.>=) (j.min_ratio OPERATOR(pg_catalog.*) j.mean)
         ORDER BY j.group_code, j.n DESC, j.ids[1]
    LOOP
        n_hot := n_hot OPERATOR(pg_catalog.+) 1;
        place := ST_Transform(found_place.area, 4326);
        -- The active hotspot of the group that lies there (the oldest, if several),
        -- unless a bigger cluster of this run has taken it already.
        SELECT x.id INTO match FROM workorder.hotspots x
         WHERE x.status OPERATOR(pg_catalog.=) 'active' AND x.category_code OPERATOR(pg_catalog.=) found_place.group_code
           AND ST_Intersects(x.geom, place) AND NOT (x.id OPERATOR(pg_catalog.=) ANY (seen))
         ORDER BY x.id LIMIT 1;
        IF match IS NOT NULL THEN
            UPDATE workorder.hotspots x
               SET geom = place, center = found_place.center, radius_m = found_place.radius_m,
                   window_start = as_of OPERATOR(pg_catalog.-) found_place."window", window_end = as_of,
                   order_count = found_place.n, baseline_mean = found_place.mean, baseline_sd = found_place.sd,
                   ratio = found_place.n OPERATOR(pg_catalog./) NULLIF(found_place.mean, 0),
                   order_ids = found_place.ids[1:100], last_seen_at = GREATEST(x.last_seen_at, as_of)
             WHERE x.id OPERATOR(pg_catalog.=) match;
        ELSE
            INSERT INTO workorder.hotspots
                (category_code, geom, center, radius_m, window_start, window_end, order_count, baseline_mean,
                 baseline_sd, ratio, order_ids, first_seen_at, last_seen_at)
            VALUES (found_place.group_code, place, found_place.center, found_place.radius_m,
                    as_of OPERATOR(pg_catalog.-) found_place."window", as_of, found_place.n, found_place.mean,
                    found_place.sd, found_place.n OPERATOR(pg_catalog./) NULLIF(found_place.mean, 0),
                    found_place.ids[1:100], as_of, as_of)
            RETURNING id INTO match;
            n_started := n_started OPERATOR(pg_catalog.+) 1;
        END IF;
        seen := seen OPERATOR(pg_catalog.||) match;
    END LOOP;

    -- End the active hotspots not found again.
    UPDATE workorder.hotspots x
       SET status = 'ended', ended_at = as_of
     WHERE x.status OPERATOR(pg_catalog.=) 'active' AND NOT (x.id OPERATOR(pg_catalog.=) ANY (seen));
    GET DIAGNOSTICS n_ended = ROW_COUNT;

    -- One proactive order per hotspot whose policy asks for it; a failure (no such
    -- channel, ...) is kept on the hotspot and tried again next run.
    FOR spot IN SELECT x.* FROM workorder.hotspots x
                  JOIN workorder.hotspot_settings g ON g.code OPERATOR(pg_catalog.=) x.category_code
                 WHERE x.id OPERATOR(pg_catalog.=) ANY (seen) AND x.order_id IS NULL AND g.raise_order
                 ORDER BY x.id
    LOOP
        BEGIN
            made := workorder.submit(
                channel => own_channel,
                channel_ref => 'hotspot-' OPERATOR(pg_catalog.||) spot.id,
                category => spot.category_code,
                description => pg_catalog.format('热点预警: %s %s 单 (%s 至 %s), 平常每期 %s 单',
                    (SELECT c.name FROM workorder.categories c WHERE c.code OPERATOR(pg_catalog.=) spot.category_code),
                    spot.order_count,
                    pg_catalog.to_char(spot.window_start AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'),
                    pg_catalog.to_char(spot.window_end AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'),
                    pg_catalog.round(spot.baseline_mean::numeric, 1)),
                location => spot.center,
                attributes => pg_catalog.jsonb_build_object('hotspot_id', spot.id, 'order_count', spot.order_count,
                    'baseline_mean', spot.baseline_mean, 'ratio', spot.ratio, 'window_start', spot.window_start,
                    'window_end', spot.window_end, 'order_ids', pg_catalog.to_jsonb(spot.order_ids)));
            UPDATE workorder.hotspots x SET order_id = made.id, order_error = NULL WHERE x.id OPERATOR(pg_catalog.=) spot.id;
            n_orders := n_orders OPERATOR(pg_catalog.+) 1;
        EXCEPTION WHEN OTHERS THEN
            UPDATE workorder.hotspots x
               SET order_error = pg_catalog.format('%s (SQLSTATE %s)', SQLERRM, SQLSTATE)
             WHERE x.id OPERATOR(pg_catalog.=) spot.id;
        END;
    END LOOP;

    INSERT INTO workorder.hotspot_runs (as_of, hot, started, ended, orders)
    VALUES (as_of, n_hot, n_started, n_ended, n_orders)
    ON CONFLICT ON CONSTRAINT hotspot_runs_pkey DO UPDATE
       SET ran_at = EXCLUDED.ran_at, hot = EXCLUDED.hot, started = EXCLUDED.started,
           ended = EXCLUDED.ended, orders = EXCLUDED.orders;

    RETURN QUERY SELECT x.* FROM workorder.hotspots x WHERE x.status OPERATOR(pg_catalog.=) 'active' ORDER BY x.id;
END
$$;
REVOKE ALL ON FUNCTION workorder.detect_hotspots(timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION workorder.detect_hotspots(timestamptz) IS
    'Finds the places where a category''s orders cluster beyond their baseline in the window ending at as_of; records, updates and ends workorder.hotspots; raises proactive orders.';
-- workorder install script, part 87: invalidation of the reference cache.
--
-- setting(), channel_is_active(), map_category(), category_settings(),
-- resolve_unit(), dispatch_center(), choose_sla_policy(), sla_intake(), the dedup
-- functions (dedup_policy(), dedup_lock(), dedup_candidates(), dedup_decide()) and
-- the C triggers of the order's deadlines and of the outbox answer from a
-- per-backend cache of the tables below (src/refcache.c).  A statement trigger on
-- each of them tells every backend that its copy is out of date: a relcache
-- invalidation of the changed table, sent at commit (the backend that made the
-- change sees it at its next command, and a rollback undoes it).  The triggers
-- fire in every session_replication_role, so that a replica applying changes, or
-- a restore, cannot leave stale copies behind.

CREATE FUNCTION workorder.reference_cache_invalidate()
RETURNS trigger
AS 'MODULE_PATHNAME', 'reference_cache_invalidate'
LANGUAGE C;

DO $cache$
DECLARE
    cached text;
BEGIN
    FOREACH cached IN ARRAY ARRAY['settings', 'channels', 'channel_categories', 'category_effective', 'units',
                                  'areas', 'routing_rules', 'sla_policies', 'sla_priority_policies',
                                  'dedup_rules'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.%I '
            'FOR EACH STATEMENT EXECUTE FUNCTION workorder.reference_cache_invalidate()',
            cached OPERATOR(pg_catalog.||) '_reference_cache', cached);
        EXECUTE pg_catalog.format('ALTER TABLE workorder.%I ENABLE ALWAYS TRIGGER %I',
                                  cached, cached OPERATOR(pg_catalog.||) '_reference_cache');
    END LOOP;
END
$cache$;
-- workorder install script, part 88: video-AI detections (issue 6).
--
-- Cameras report detections ("e-bike rider without helmet", "wrong-way riding")
-- in bulk and at high volume.  A detection is not an order: detections are stored
-- and counted by kind, place (a cell of a grid of cell_m x cell_m metres on the
-- earth, below) and time bucket; only when one place's count in one bucket
-- crosses its kind's threshold does ONE order go to the responsible unit, and that
-- order refers back to its detections.
--
-- Ingest.  A connector COPYs detections into workorder.detection_inbox, whose
-- columns are all text and which has no index but its primary key and no trigger:
-- COPY never fails on a bad value (a bad value would otherwise abort the whole COPY
-- and lose the batch) and costs about what a COPY into a bare table costs (see
-- bench/detections).  ingest_detections() (the worker task ingest_detections) then
-- moves the rows, in batches, into workorder.detections with one set-based INSERT
-- per batch that converts and checks every column and counts the batch into
-- workorder.detection_aggregates.  When a batch holds a bad row, the INSERT fails
-- and the batch is split in halves, recursively, until the bad rows are alone: they
-- go to workorder.detection_rejects with the SQLSTATE and the reason, everything
-- else is ingested.  A clean batch costs one statement; each bad row costs about
-- log2(batch) small statements.  Moved and rejected rows leave the inbox.
--
-- What a row must be (otherwise it is rejected):
--   camera_id    1..128 characters
--   kind         1..64 characters: the camera's detection kind, mapped onto the
--                catalogue by workorder.channel_categories of the detection channel
--                (setting detection_channel, default 'video_ai')
--   detected_at  a timestamp after 2000-01-01 and at most an hour from now; without
--                a UTC offset it is Beijing time
--   lon, lat     WGS84 degrees, -180..180 and -90..90
--   confidence   0..1
--   attributes   empty, or a JSON object
--
-- Thresholds per kind: workorder.detection_rules (NULL columns, and kinds without a
-- row, take the settings detection_min_count (10), detection_window ('1 hour'),
-- detection_cell_m (200) and detection_min_confidence (0.5)).  Only detections with
-- confidence >= min_confidence are counted (all are stored).  Buckets are
-- consecutive windows of the kind's length from the epoch; a cluster that straddles
-- a bucket border is counted in two buckets.
--
-- The grid: rows of cell_m metres of latitude (111195 m a degree), each row cut
-- into cells of cell_m metres of longitude at the row's middle latitude:
--     cell_y = floor(lat * 111195 / cell_m)
--     cell_x = floor(lon * 111195 * cos(middle latitude of row cell_y) / cell_m)
-- Plain arithmetic, so that a million detections are placed without a projection
-- call each; cells are squares of cell_m to within a fraction of a percent.
--
-- Orders.  An aggregate whose count reaches its threshold gets ONE order through
-- submit(): channel detection_channel (the operator creates that channel, kind
-- video_ai; without it the error is kept on the aggregate and retried), channel_ref
-- derived from the aggregate's key (kind, cell, bucket), so that a retry or a restart
-- can never make a second one; category = the kind (mapped by the channel's
-- categories); location = the mean position of the counted detections; occurred_at
-- = the first of them; attributes name the aggregate, the count and the first 100
-- detection ids.  Detections that arrive after the order count on the aggregate
-- but make no second order.  workorder.order_detections lists an order's detections.
--
-- SQLSTATEs: WO851 a detection row that is not valid (the reason of a reject);
-- WO852 an invalid detection rule; WO853 an invalid ingest_detections() argument.

CREATE TABLE workorder.detection_inbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    camera_id   text,
    kind        text,
    detected_at text,
    lon         text,
    lat         text,
    confidence  text,
    attributes  text
);
SELECT pg_catalog.pg_extension_config_dump('workorder.detection_inbox', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.detection_inbox_id_seq', '');
REVOKE ALL ON workorder.detection_inbox FROM PUBLIC;
COMMENT ON TABLE workorder.detection_inbox IS
    'Video-AI detections as COPYed by connectors (text columns); workorder.ingest_detections() moves them into workorder.detections.';

CREATE TABLE workorder.detection_rules (
    kind           text PRIMARY KEY,
    min_count      integer,
    "window"       interval,
    cell_m         double precision,
    min_confidence real,
    description    text
);
SELECT pg_catalog.pg_extension_config_dump('workorder.detection_rules', '');
REVOKE ALL ON workorder.detection_rules FROM PUBLIC;
COMMENT ON TABLE workorder.detection_rules IS
    'Per detection kind: how many confident detections in one cell and one window make an order. NULL columns take the detection_* settings.';

-- detection_rules_before_write checks a rule (WO852).
CREATE FUNCTION workorder.detection_rules_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    why text;
BEGIN
    why := CASE
        WHEN NEW.kind IS NULL OR pg_catalog.length(NEW.kind) OPERATOR(pg_catalog.<) 1 OR pg_catalog.length(NEW.kind) OPERATOR(pg_catalog.>) 64
            THEN pg_catalog.format('the kind %s is not 1 to 64 characters', COALESCE(pg_catalog.quote_literal(NEW.kind), 'NULL'))
        WHEN NEW.min_count IS NOT NULL AND NOT (NEW.min_count OPERATOR(pg_catalog.>=) 1 AND NEW.min_count OPERATOR(pg_catalog.<=) 1000000)
            THEN pg_catalog.format('min_count is %s; it must be from 1 to 1000000', NEW.min_count)
        WHEN NEW."window" IS NOT NULL AND (pg_catalog.date_part('month', NEW."window") OPERATOR(pg_catalog.<>) 0
                                           OR pg_catalog.date_part('year', NEW."window") OPERATOR(pg_catalog.<>) 0
                                           OR NEW."window" OPERATOR(pg_catalog.<) '1 minute'::interval
                                           OR NEW."window" OPERATOR(pg_catalog.>) '31 days'::interval)
            THEN pg_catalog.format('window is %s; it must be from 1 minute to 31 days, without months', NEW."window")
        WHEN NEW.cell_m IS NOT NULL AND NOT (NEW.cell_m OPERATOR(pg_catalog.>=) 10 AND NEW.cell_m OPERATOR(pg_catalog.<=) 10000
                                             AND NEW.cell_m OPERATOR(pg_catalog.=) pg_catalog.round(NEW.cell_m))
            THEN pg_catalog.format('cell_m is %s; it must be a whole number of metres from 10 to 10000', NEW.cell_m)
        WHEN NEW.min_confidence IS NOT NULL AND NOT (NEW.min_confidence OPERATOR(pg_catalog.>=) 0
                                                     AND NEW.min_confidence OPERATOR(pg_catalog.<=) 1)
            THEN pg_catalog.format('min_confidence is %s; it must be from 0 to 1', NEW.min_confidence)
    END;
    IF why IS NOT NULL THEN
        PERFORM workorder.raise_error('WO852',
            pg_catalog.format('invalid detection rule for kind %s', COALESCE(NEW.kind, 'NULL')),
            why OPERATOR(pg_catalog.||) '.',
            'Leave a column NULL to use the detection_* setting.');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER detection_rules_before_write
    BEFORE INSERT OR UPDATE ON workorder.detection_rules
    FOR EACH ROW EXECUTE FUNCTION workorder.detection_rules_before_write();

-- detection_aggregates counts the confident detections of one kind in one cell and
-- one time bucket.
CREATE TABLE workorder.detection_aggregates (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL,
    cell_m       double precision NOT NULL,
    cell_x       bigint NOT NULL,
    cell_y       bigint NOT NULL,
    bucket_start timestamptz NOT NULL,
    "window"     interval NOT NULL,
    threshold    integer NOT NULL,
    detections   integer NOT NULL,
    sum_lon      double precision NOT NULL,
    sum_lat      double precision NOT NULL,
    first_at     timestamptz NOT NULL,
    last_at      timestamptz NOT NULL,
    order_id     bigint REFERENCES workorder.orders (id),
    order_error  text,
    CONSTRAINT detection_aggregates_key UNIQUE (kind, cell_m, cell_x, cell_y, bucket_start)
);
-- The aggregates that have crossed their threshold and still wait for their order.
CREATE INDEX detection_aggregates_due_idx ON workorder.detection_aggregates (id)
    WHERE order_id IS NULL AND detections OPERATOR(pg_catalog.>=) threshold;
CREATE INDEX detection_aggregates_order_idx ON workorder.detection_aggregates (order_id) WHERE order_id IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('workorder.detection_aggregates', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.detection_aggregates_id_seq', '');
REVOKE ALL ON workorder.detection_aggregates FROM PUBLIC;
COMMENT ON TABLE workorder.detection_aggregates IS
    'Confident detections counted by kind, grid cell and time bucket; order_id is the one order an aggregate over its threshold made.';

-- detections: the ingested detections.  Written only by ingest_detections(), in
-- batches; id is the inbox row's id.  BRIN on the time (rows arrive roughly in time
-- order), a btree on the aggregate (an order's detections).
CREATE TABLE workorder.detections (
    id           bigint PRIMARY KEY,
    camera_id    text NOT NULL,
    kind         text NOT NULL,
    detected_at  timestamptz NOT NULL,
    location     geometry(Point, 4326) NOT NULL,
    confidence   real NOT NULL,
    attributes   jsonb NOT NULL,
    received_at  timestamptz NOT NULL,
    aggregate_id bigint
);
CREATE INDEX detections_detected_at_idx ON workorder.detections USING brin (detected_at);
CREATE INDEX detections_aggregate_idx ON workorder.detections (aggregate_id);
SELECT pg_catalog.pg_extension_config_dump('workorder.detections', '');
REVOKE ALL ON workorder.detections FROM PUBLIC;
COMMENT ON TABLE workorder.detections IS
    'Video-AI detections (not orders), moved from workorder.detection_inbox; aggregate_id is NULL below the kind''s min_confidence.';

-- detection_rejects keeps the inbox rows that could not be ingested, as they came.
CREATE TABLE workorder.detection_rejects (
    id            bigint PRIMARY KEY,
    received_at   timestamptz NOT NULL,
    rejected_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    raw           jsonb NOT NULL,
    error_code    text NOT NULL,
    error_message text NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('workorder.detection_rejects', '');
REVOKE ALL ON workorder.detection_rejects FROM PUBLIC;
COMMENT ON TABLE workorder.detection_rejects IS
    'Detection inbox rows that could not be ingested: the row as text (raw), the SQLSTATE and the reason.';

-- order_detections lists the detections behind each order made from detections.
CREATE VIEW workorder.order_detections AS
SELECT a.order_id, a.id AS aggregate_id, d.id AS detection_id, d.camera_id, d.kind, d.detected_at,
       d.location, d.confidence
  FROM workorder.detection_aggregates a
  JOIN workorder.detections d ON d.aggregate_id OPERATOR(pg_catalog.=) a.id
 WHERE a.order_id IS NOT NULL;
REVOKE ALL ON workorder.order_detections FROM PUBLIC;
COMMENT ON VIEW workorder.order_detections IS 'The detections counted into each order made from video-AI detections.';

-- detection_refuse raises WO851 for a column of a detection inbox row.  It is called
-- only for a bad value (inside a CASE), so a good row never pays for it.
CREATE FUNCTION workorder.detection_refuse(column_name text, value text, why text)
RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.raise_error('WO851',
        pg_catalog.format('detection column %s is not valid: %s', column_name,
                          COALESCE(pg_catalog.quote_literal(pg_catalog.left(value, 60)), 'NULL')),
        why,
        'Fix the row at its source and COPY it again; rejected rows are kept in workorder.detection_rejects.');
    RETURN NULL;
END
$$;

-- detection_unconvertible names the first column of an inbox row whose text does
-- not convert to its type, with the value and the reason, or returns NULL.  It is
-- called only for a row already known to be bad.
CREATE FUNCTION workorder.detection_unconvertible(inbox_id bigint)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    i workorder.detection_inbox;
    col text;
    val text;
    dummy text;
BEGIN
    SELECT * INTO i FROM workorder.detection_inbox x WHERE x.id OPERATOR(pg_catalog.=) inbox_id;
    FOREACH col IN ARRAY ARRAY['detected_at', 'lon', 'lat', 'confidence', 'attributes'] LOOP
        val := NULLIF(pg_catalog.btrim(CASE col WHEN 'detected_at' THEN i.detected_at WHEN 'lon' THEN i.lon
                                                WHEN 'lat' THEN i.lat WHEN 'confidence' THEN i.confidence
                                                ELSE i.attributes END), '');
        BEGIN
            dummy := CASE col WHEN 'detected_at' THEN val::timestamptz::text
                              WHEN 'lon' THEN val::double precision::text
                              WHEN 'lat' THEN val::double precision::text
                              WHEN 'confidence' THEN val::real::text
                              ELSE val::jsonb::text END;
        EXCEPTION WHEN data_exception THEN
            RETURN pg_catalog.format('detection column %s does not convert: %s. %s', col,
                                     pg_catalog.quote_literal(pg_catalog.left(val, 60)), SQLERRM);
        END;
    END LOOP;
    RETURN NULL;
END
$$;

-- ingest_detection_rows moves the given inbox rows into detections and counts them
-- into their aggregates, in one statement; when that fails on a bad row, it splits
-- the rows in halves and tries each, down to single rows, which are rejected.  It
-- returns the number of rows ingested.  (Called by ingest_detections.)
CREATE FUNCTION workorder.ingest_detection_rows(ids bigint[], default_count integer,
                                                default_window interval, default_cell double precision,
                                                default_confidence real)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    n integer := pg_catalog.cardinality(ids);
    half integer;
    moved integer;
    err_code text;
    err_message text;
    err_detail text;
BEGIN
    IF n OPERATOR(pg_catalog.=) 0 THEN
        RETURN 0;
    END IF;
    BEGIN
        WITH raw AS MATERIALIZED (
            -- Each text converted once; the checks below read the converted values.
            SELECT i.id, i.received_at, i.camera_id AS camera_text, i.kind AS kind_text, i.detected_at AS detected_at_text,
                   i.lon AS lon_text, i.lat AS lat_text, i.confidence AS confidence_text, i.attributes AS attributes_text,
                   NULLIF(pg_catalog.btrim(i.camera_id), '') AS camera_id,
                   NULLIF(pg_catalog.btrim(i.kind), '') AS kind,
                   NULLIF(pg_catalog.btrim(i.detected_at), '')::timestamptz AS detected_at,
                   NULLIF(pg_catalog.btrim(i.lon), '')::double precision AS lon,
                   NULLIF(pg_catalog.btrim(i.lat), '')::double precision AS lat,
                   NULLIF(pg_catalog.btrim(i.confidence), '')::real AS confidence,
                   NULLIF(pg_catalog.btrim(i.attributes), '')::jsonb AS attributes
              FROM pg_catalog.unnest(ids) AS claimed(id)
              -- ids is sorted: the range lets the primary key find the rows in a
              -- large inbox instead of hashing all of it.
              JOIN workorder.detection_inbox i ON i.id OPERATOR(pg_catalog.=) claimed.id
                                              AND i.id OPERATOR(pg_catalog.>=) ids[1]
                                              AND i.id OPERATOR(pg_catalog.<=) ids[n]
        ), conv AS MATERIALIZED (
            SELECT v.id, v.received_at,
                   CASE WHEN v.camera_id IS NULL OR pg_catalog.length(v.camera_id) OPERATOR(pg_catalog.>) 128
                        THEN workorder.detection_refuse('camera_id', v.camera_text, 'A camera id is 1 to 128 characters.')
                        ELSE v.camera_id END AS camera_id,
                   CASE WHEN v.kind IS NULL OR pg_catalog.length(v.kind) OPERATOR(pg_catalog.>) 64
                        THEN workorder.detection_refuse('kind', v.kind_text, 'A detection kind is 1 to 64 characters.')
                        ELSE v.kind END AS kind,
                   CASE WHEN v.detected_at IS NULL OR v.detected_at OPERATOR(pg_catalog.<) '2000-01-01'::timestamptz
                             OR v.detected_at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.+) '1 hour'::interval)
                        THEN workorder.detection_refuse('detected_at', v.detected_at_text,
                                 'The detection time is required, after 2000-01-01 and at most an hour from now.')::timestamptz
                        ELSE v.detected_at END AS detected_at,
                   CASE WHEN v.lon IS NULL OR NOT (v.lon OPERATOR(pg_catalog.>=) -180 AND v.lon OPERATOR(pg_catalog.<=) 180)
                        THEN workorder.detection_refuse('lon', v.lon_text, 'The longitude is required, in degrees from -180 to 180.')::double precision
                        ELSE v.lon END AS lon,
                   CASE WHEN v.lat IS NULL OR NOT (v.lat OPERATOR(pg_catalog.>=) -90 AND v.lat OPERATOR(pg_catalog.<=) 90)
                        THEN workorder.detection_refuse('lat', v.lat_text, 'The latitude is required, in degrees from -90 to 90.')::double precision
                        ELSE v.lat END AS lat,
                   CASE WHEN v.confidence IS NULL OR NOT (v.confidence OPERATOR(pg_catalog.>=) 0 AND v.confidence OPERATOR(pg_catalog.<=) 1)
                        THEN workorder.detection_refuse('confidence', v.confidence_text, 'The confidence is required, from 0 to 1.')::real
                        ELSE v.confidence END AS confidence,
                   CASE WHEN v.attributes IS NOT NULL AND pg_catalog.jsonb_typeof(v.attributes) OPERATOR(pg_catalog.<>) 'object'
                        THEN workorder.detection_refuse('attributes', v.attributes_text, 'Attributes are empty or a JSON object.')::jsonb
                        ELSE COALESCE(v.attributes, '{}'::jsonb) END AS attributes
              FROM raw v
        ), placed AS MATERIALIZED (
            SELECT c.*, ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326) AS location,
                   COALESCE(r.min_count, default_count) AS threshold,
                   COALESCE(r."window", default_window) AS "window",
                   COALESCE(r.cell_m, default_cell) AS cell_m,
                   c.confidence OPERATOR(pg_catalog.>=) COALESCE(r.min_confidence, default_confidence) AS counted
              FROM conv c
              LEFT JOIN workorder.detection_rules r ON r.kind OPERATOR(pg_catalog.=) c.kind
        ), keyed AS MATERIALIZED (
            SELECT p.*,
                   pg_catalog.floor((p.lon OPERATOR(pg_catalog.*) 111195
                                     OPERATOR(pg_catalog.*) pg_catalog.cosd(((pg_catalog.floor((p.lat OPERATOR(pg_catalog.*) 111195) OPERATOR(pg_catalog./) p.cell_m)
                                                                           OPERATOR(pg_catalog.+) 0.5) OPERATOR(pg_catalog.*) p.cell_m) OPERATOR(pg_catalog./) 111195))
                                    OPERATOR(pg_catalog./) p.cell_m)::bigint AS cell_x,
                   pg_catalog.floor((p.lat OPERATOR(pg_catalog.*) 111195) OPERATOR(pg_catalog./) p.cell_m)::bigint AS cell_y,
                   pg_catalog.to_timestamp(pg_catalog.floor(pg_catalog.date_part('epoch', p.detected_at)
                                                             OPERATOR(pg_catalog./) pg_catalog.date_part('epoch', p."window"))
                                           OPERATOR(pg_catalog.*) pg_catalog.date_part('epoch', p."window")) AS bucket_start
              FROM placed p
        ), counted AS (
            INSERT INTO workorder.detection_aggregates AS a
                (kind, cell_m, cell_x, cell_y, bucket_start, "window", threshold,
                 detections, sum_lon, sum_lat, first_at, last_at)
            SELECT k.kind, k.cell_m, k.cell_x, k.cell_y, k.bucket_start, k."window", k.threshold,
                   pg_catalog.count(*), pg_catalog.sum(k.lon), pg_catalog.sum(k.lat),
                   pg_catalog.min(k.detected_at), pg_catalog.max(k.detected_at)
              FROM keyed k
             WHERE k.counted
             GROUP BY k.kind, k.cell_m, k.cell_x, k.cell_y, k.bucket_start, k."window", k.threshold
            ON CONFLICT ON CONSTRAINT detection_aggregates_key DO UPDATE
               SET detections = a.detections OPERATOR(pg_catalog.+) EXCLUDED.detections,
                   sum_lon = a.sum_lon OPERATOR(pg_catalog.+) EXCLUDED.sum_lon,
                   sum_lat = a.sum_lat OPERATOR(pg_catalog.+) EXCLUDED.sum_lat,
                   first_at = LEAST(a.first_at, EXCLUDED.first_at),
                   last_at = GREATEST(a.last_at, EXCLUDED.last_at)
            RETURNING a.id, a.kind, a.cell_m, a.cell_x, a.cell_y, a.bucket_start
        )
        INSERT INTO workorder.detections
            (id, camera_id, kind, detected_at, location, confidence, attributes, received_at, aggregate_id)
        SELECT k.id, k.camera_id, k.kind, k.detected_at, k.location, k.confidence, k.attributes, k.received_at, c.id
          FROM keyed k
          LEFT JOIN counted c ON k.counted AND c.kind OPERATOR(pg_catalog.=) k.kind
                             AND c.cell_m OPERATOR(pg_catalog.=) k.cell_m AND c.cell_x OPERATOR(pg_catalog.=) k.cell_x
                             AND c.cell_y OPERATOR(pg_catalog.=) k.cell_y AND c.bucket_start OPERATOR(pg_catalog.=) k.bucket_start;
        GET DIAGNOSTICS moved = ROW_COUNT;
        RETURN moved;
    EXCEPTION WHEN data_exception OR integrity_constraint_violation OR SQLSTATE 'WO851' THEN
        IF n OPERATOR(pg_catalog.>) 1 THEN
            half := n OPERATOR(pg_catalog./) 2;
            RETURN workorder.ingest_detection_rows(ids[1:half], default_count, default_window, default_cell, default_confidence)
                   OPERATOR(pg_catalog.+)
                   workorder.ingest_detection_rows(ids[half OPERATOR(pg_catalog.+) 1:n], default_count, default_window,
                                                   default_cell, default_confidence);
        END IF;
        GET STACKED DIAGNOSTICS err_code = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT, err_detail = PG_EXCEPTION_DETAIL;
        IF err_code OPERATOR(pg_catalog.<>) 'WO851' THEN
            -- A value that does not convert: name its column.
            err_message := COALESCE(workorder.detection_unconvertible(ids[1]), err_message);
        END IF;
        INSERT INTO workorder.detection_rejects (id, received_at, raw, error_code, error_message)
        SELECT i.id, i.received_at, pg_catalog.to_jsonb(i) OPERATOR(pg_catalog.-) 'id' OPERATOR(pg_catalog.-) 'received_at',
               err_code, err_message OPERATOR(pg_catalog.||) COALESCE('. ' OPERATOR(pg_catalog.||) NULLIF(err_detail, ''), '')
          FROM workorder.detection_inbox i
         WHERE i.id OPERATOR(pg_catalog.=) ids[1];
        RETURN 0;
    END;
END
$$;
REVOKE ALL ON FUNCTION workorder.ingest_detection_rows(bigint[], integer, interval, double precision, real) FROM PUBLIC;

-- raise_detection_orders makes the one order of each aggregate that has crossed its
-- threshold and has none yet (at most max_orders), and returns how many it made.
-- A failure (no detection channel, ...) is kept on the aggregate, to be retried.
CREATE FUNCTION workorder.raise_detection_orders(max_orders integer DEFAULT 100)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    own_channel text := workorder.setting('detection_channel', 'video_ai');
    a workorder.detection_aggregates;
    o workorder.orders;
    made integer := 0;
BEGIN
    FOR a IN SELECT * FROM workorder.detection_aggregates x
              WHERE x.order_id IS NULL AND x.detections OPERATOR(pg_catalog.>=) x.threshold
              ORDER BY x.id LIMIT max_orders
                FOR UPDATE SKIP LOCKED
    LOOP
        BEGIN
            o := workorder.submit(
                channel => own_channel,
                channel_ref => pg_catalog.format('%s:%s:%s:%s:%s', a.kind, a.cell_m, a.cell_x, a.cell_y,
                                                 pg_catalog.date_part('epoch', a.bucket_start)::bigint),
                category => a.kind,
                description => pg_catalog.format('视频AI: %s 在 %s 分钟内识别 %s 次 (%s 起)',
                    COALESCE((SELECT c.name FROM workorder.categories c
                               WHERE c.code OPERATOR(pg_catalog.=) workorder.map_category(own_channel, a.kind)), a.kind),
                    pg_catalog.round(pg_catalog.date_part('epoch', a."window")::numeric OPERATOR(pg_catalog./) 60),
                    a.detections,
                    pg_catalog.to_char(a.bucket_start AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')),
                lon => a.sum_lon OPERATOR(pg_catalog./) a.detections,
                lat => a.sum_lat OPERATOR(pg_catalog./) a.detections,
                occurred_at => a.first_at,
                attributes => pg_catalog.jsonb_build_object(
                    'detection_aggregate_id', a.id, 'kind', a.kind, 'detections', a.detections,
                    'bucket_start', a.bucket_start, 'window', a."window", 'first_at', a.first_at, 'last_at', a.last_at,
                    'detection_ids', (SELECT pg_catalog.jsonb_agg(d.id ORDER BY d.id) FROM (
                                          SELECT y.id FROM workorder.detections y
                                           WHERE y.aggregate_id OPERATOR(pg_catalog.=) a.id ORDER BY y.id LIMIT 100) d)));
            UPDATE workorder.detection_aggregates x SET order_id = o.id, order_error = NULL
             WHERE x.id OPERATOR(pg_catalog.=) a.id;
            made := made OPERATOR(pg_catalog.+) 1;
        EXCEPTION WHEN OTHERS THEN
            UPDATE workorder.detection_aggregates x
               SET order_error = pg_catalog.format('%s (SQLSTATE %s)', SQLERRM, SQLSTATE)
             WHERE x.id OPERATOR(pg_catalog.=) a.id;
        END;
    END LOOP;
    RETURN made;
END
$$;
REVOKE ALL ON FUNCTION workorder.raise_detection_orders(integer) FROM PUBLIC;

-- ingest_detections moves up to max_rows inbox rows (oldest first, skipping rows
-- another ingest holds) into detections, rejecting the bad ones, and then raises
-- the orders of the aggregates that crossed their thresholds.  Returns how many
-- rows it ingested and rejected and how many orders it made.  A detection time
-- without a UTC offset is Beijing time, whatever the session's TimeZone.
CREATE FUNCTION workorder.ingest_detections(max_rows integer DEFAULT 10000,
                                            OUT ingested integer, OUT rejected integer, OUT orders integer)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
SET TimeZone = 'Asia/Shanghai'
SET DateStyle = 'ISO, YMD'
-- PostGIS's costs make the batch look expensive enough to JIT-compile, which costs
-- more than the batch.  A generic plan, blind to the claimed id range, would hash
-- the whole inbox for every batch: each batch is planned for its own ids.
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    ids bigint[];
BEGIN
    IF max_rows IS NULL OR max_rows OPERATOR(pg_catalog.<) 1 OR max_rows OPERATOR(pg_catalog.>) 1000000 THEN
        PERFORM workorder.raise_error('WO853',
            'invalid batch size for ingest_detections',
            pg_catalog.format('max_rows is %s.', COALESCE(max_rows::text, 'NULL')),
            'Pass max_rows from 1 to 1000000; call ingest_detections() again for the rest.');
    END IF;
    SELECT pg_catalog.array_agg(c.id ORDER BY c.id) INTO ids
      FROM (SELECT i.id FROM workorder.detection_inbox i ORDER BY i.id LIMIT max_rows FOR UPDATE SKIP LOCKED) c;
    ingested := workorder.ingest_detection_rows(COALESCE(ids, '{}'),
        workorder.setting('detection_min_count', '10')::integer,
        workorder.setting('detection_window', '1 hour')::interval,
        workorder.setting('detection_cell_m', '200')::double precision,
        workorder.setting('detection_min_confidence', '0.5')::real);
    rejected := COALESCE(pg_catalog.cardinality(ids), 0) OPERATOR(pg_catalog.-) ingested;
    DELETE FROM workorder.detection_inbox i USING pg_catalog.unnest(ids) AS claimed(id)
     WHERE i.id OPERATOR(pg_catalog.=) claimed.id
       AND i.id OPERATOR(pg_catalog.>=) ids[1] AND i.id OPERATOR(pg_catalog.<=) ids[pg_catalog.cardinality(ids)];
    orders := workorder.raise_detection_orders(100);
END
$$;
REVOKE ALL ON FUNCTION workorder.ingest_detections(integer) FROM PUBLIC;
COMMENT ON FUNCTION workorder.ingest_detections(integer) IS
    'Moves up to max_rows rows of workorder.detection_inbox into workorder.detections (bad rows to detection_rejects), counts them, and raises the orders of aggregates over their threshold.';
-- workorder install script, part 89: Open311 GeoReport v2 (issue 6).
--
-- SQL functions that return the JSON of GeoReport v2, so that a thin HTTP layer
-- (GET /services.json, GET /services/{code}.json, GET /requests.json,
-- GET /requests/{id}.json, POST /requests.json) can put an existing Open311 client
-- in front of the center.  They take the request's parameters as text, as a query
-- string carries them, and check them: bad input raises a project SQLSTATE
-- (WO871..WO875), which open311_error() turns into GeoReport's error shape
-- [{"code": <HTTP status>, "description": "..."}] for the HTTP layer to send.
--
--   services       every active category of the catalogue: service_code = the
--                  category code, group = the name of its family (root); metadata
--                  is false (categories define no extra attributes) and type is
--                  realtime
--   requests       service_request_id is the ticket (the number a citizen reads out);
--                  status is open (new, dispatched, accepted, suspended) or closed
--                  (resolved, closed, cancelled), a merged report shows its master's;
--                  status_notes says what happened in words; agency_responsible is
--                  the main unit's name; expected_datetime the resolve deadline (SLA)
--   POST           maps onto submit() on the channel of the setting open311_channel
--                  (default 'open311', kind open311: the operator creates it)
--
-- Requests are public.  Their output never carries the reporter's name, phone,
-- e-mail or device, nor the order's attributes, and mobile-phone and ID-card numbers
-- written into a description are masked.  Times are W3C (ISO 8601) in Beijing time.
-- A jurisdiction_id is accepted everywhere; when the setting open311_jurisdiction
-- is set, another value is refused (WO875).

-- open311_time formats an instant as GeoReport does: W3C, here in Beijing time.
CREATE FUNCTION workorder.open311_time(t timestamptz)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN pg_catalog.to_char(t AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS') OPERATOR(pg_catalog.||) '+08:00';
END
$$;

-- open311_public_text masks what looks like a mobile phone number (11 digits from
-- 1[3-9]) or a resident ID number (17 digits and a digit or X) in a public text.
CREATE FUNCTION workorder.open311_public_text(value text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    value := pg_catalog.regexp_replace(value, '(?<![0-9])[1-9][0-9]{5}(19|20)[0-9]{9}[0-9Xx](?![0-9])', '******************', 'g');
    RETURN pg_catalog.regexp_replace(value, '(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])', '\1****\2', 'g');
END
$$;

-- open311_jurisdiction checks a jurisdiction_id against the setting
-- open311_jurisdiction (WO875).  NULL is always accepted.
CREATE FUNCTION workorder.open311_jurisdiction(jurisdiction_id text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    ours text := workorder.setting('open311_jurisdiction', NULL);
BEGIN
    IF jurisdiction_id IS NOT NULL AND ours IS NOT NULL AND jurisdiction_id OPERATOR(pg_catalog.<>) ours THEN
        PERFORM workorder.raise_error('WO875', 'unknown jurisdiction',
            pg_catalog.format('jurisdiction_id is %s.', pg_catalog.quote_literal(pg_catalog.left(jurisdiction_id, 60))),
            pg_catalog.format('This endpoint serves jurisdiction %s; omit jurisdiction_id or pass that.', ours));
    END IF;
END
$$;

-- open311_service_category returns the active category of a service_code, or
-- raises WO871.
CREATE FUNCTION workorder.open311_service_category(service_code text)
RETURNS workorder.category_effective
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    e workorder.category_effective;
BEGIN
    SELECT * INTO e FROM workorder.category_effective x
     WHERE x.code OPERATOR(pg_catalog.=) service_code AND x.active;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO871', 'unknown service_code',
            pg_catalog.format('service_code is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(service_code, 60)), 'NULL')),
            'GET services lists the service codes.');
    END IF;
    RETURN e;
END
$$;

-- open311_services returns the services list (GET services).
CREATE FUNCTION workorder.open311_services(jurisdiction_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER
AS $$
DECLARE
    result jsonb;
BEGIN
    PERFORM workorder.open311_jurisdiction(jurisdiction_id);
    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'service_code', e.code,
               'service_name', e.name,
               'description', c.description,
               'metadata', false,
               'type', 'realtime',
               'keywords', '',
               'group', f.name) ORDER BY e.path), '[]')
      INTO result
      FROM workorder.category_effective e
      JOIN workorder.categories c ON c.code OPERATOR(pg_catalog.=) e.code
      JOIN workorder.categories f ON f.code OPERATOR(pg_catalog.=) e.family
     WHERE e.active;
    RETURN result;
END
$$;
COMMENT ON FUNCTION workorder.open311_services(text) IS 'GeoReport v2 GET services: the active categories of the catalogue.';

-- open311_service_definition returns a service definition (GET services/{code}).
CREATE FUNCTION workorder.open311_service_definition(service_code text, jurisdiction_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER
AS $$
DECLARE
    e workorder.category_effective;
BEGIN
    PERFORM workorder.open311_jurisdiction(jurisdiction_id);
    e := workorder.open311_service_category(service_code);
    RETURN pg_catalog.jsonb_build_object('service_code', e.code, 'attributes', '[]'::jsonb);
END
$$;
COMMENT ON FUNCTION workorder.open311_service_definition(text, text) IS
    'GeoReport v2 GET services/{service_code}: the definition (categories define no extra attributes).';

-- open311_request_json is the public GeoReport shape of one order.
CREATE FUNCTION workorder.open311_request_json(o workorder.orders)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    m workorder.orders;
    shown workorder.orders;
    unit_name text;
    notes text;
    media text := o.attributes OPERATOR(pg_catalog.->>) 'media_url';
BEGIN
    shown := o;
    IF o.master_id IS NOT NULL THEN
        SELECT * INTO m FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) o.master_id;
        shown := m;
    END IF;
    SELECT u.name INTO unit_name FROM workorder.units u WHERE u.code OPERATOR(pg_catalog.=) shown.main_unit;
    notes := CASE shown.status
        WHEN 'new' THEN 'Received; waiting to be dispatched.'
        WHEN 'dispatched' THEN pg_catalog.format('Dispatched to %s.', unit_name)
        WHEN 'accepted' THEN pg_catalog.format('Being handled by %s.', unit_name)
        WHEN 'suspended' THEN pg_catalog.format('Handling by %s is suspended for now.', unit_name)
        WHEN 'resolved' THEN pg_catalog.format('Resolved by %s: %s', unit_name, workorder.open311_public_text(shown.result))
        WHEN 'closed' THEN pg_catalog.format('Closed: %s', workorder.open311_public_text(COALESCE(shown.result, 'done.')))
        WHEN 'cancelled' THEN 'Cancelled.'
        ELSE shown.status::text END;
    IF o.master_id IS NOT NULL THEN
        notes := pg_catalog.format('Merged into request %s, which reports the same event. %s', m.ticket, notes);
    END IF;
    IF media OPERATOR(pg_catalog.!~) '^https?://[^[:space:]]+$' THEN
        media := NULL;
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'service_request_id', o.ticket::text,
        'status', CASE WHEN shown.status IN ('resolved', 'closed', 'cancelled') THEN 'closed' ELSE 'open' END,
        'status_notes', notes,
        'service_name', (SELECT c.name FROM workorder.categories c WHERE c.code OPERATOR(pg_catalog.=) o.category_code),
        'service_code', o.category_code,
        'description', workorder.open311_public_text(o.description),
        'agency_responsible', unit_name,
        'service_notice', NULL,
        'requested_datetime', workorder.open311_time(o.received_at),
        'updated_datetime', workorder.open311_time(GREATEST(o.updated_at, shown.updated_at)),
        'expected_datetime', workorder.open311_time(shown.resolve_due_at),
        'address', o.address,
        'address_id', NULL,
        'zipcode', NULL,
        'lat', ST_Y(o.location),
        'long', ST_X(o.location),
        'media_url', media);
END
$$;

-- open311_requests returns requests (GET requests).  service_request_id is a comma
-- separated list of tickets and overrides every other filter.  Otherwise:
-- service_code (a category: its whole subtree), status ('open', 'closed' or both,
-- comma separated), start_date and end_date (W3C) bound requested_datetime; the
-- range is at most 90 days and defaults to the 90 days up to now (or from
-- start_date, or up to end_date).  At most max_results (1..1000) requests, newest
-- first.
CREATE FUNCTION workorder.open311_requests(service_request_id text DEFAULT NULL, service_code text DEFAULT NULL,
                                           start_date text DEFAULT NULL, end_date text DEFAULT NULL,
                                           status text DEFAULT NULL, max_results integer DEFAULT 100,
                                           jurisdiction_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET TimeZone = 'Asia/Shanghai'
SET DateStyle = 'ISO, YMD'
AS $$
DECLARE
    tickets workorder.ticket[];
    item text;
    statuses text[];
    want_open boolean := true;
    want_closed boolean := true;
    t0 timestamptz;
    t1 timestamptz;
    category workorder.category_effective;
    result jsonb;
BEGIN
    PERFORM workorder.open311_jurisdiction(jurisdiction_id);
    IF max_results IS NULL OR max_results OPERATOR(pg_catalog.<) 1 OR max_results OPERATOR(pg_catalog.>) 1000 THEN
        PERFORM workorder.raise_error('WO873', 'invalid max_results for requests',
            pg_catalog.format('max_results is %s.', COALESCE(max_results::text, 'NULL')),
            'Ask for 1 to 1000 requests; narrow the date range to page through more.');
    END IF;

    IF NULLIF(pg_catalog.btrim(service_request_id), '') IS NOT NULL THEN
        FOREACH item IN ARRAY pg_catalog.string_to_array(service_request_id, ',') LOOP
            BEGIN
                tickets := tickets OPERATOR(pg_catalog.||) pg_catalog.btrim(item)::workorder.ticket;
            EXCEPTION WHEN SQLSTATE 'WO001' OR SQLSTATE 'WO002' THEN
                PERFORM workorder.raise_error('WO872', 'unknown service_request_id',
                    pg_catalog.format('%s is not a request number: %s', pg_catalog.quote_literal(pg_catalog.left(pg_catalog.btrim(item), 40)), SQLERRM),
                    'A service_request_id is a ticket such as 20261125-000123-4.');
            END;
        END LOOP;
        IF pg_catalog.cardinality(tickets) OPERATOR(pg_catalog.>) max_results THEN
            PERFORM workorder.raise_error('WO873', 'too many service_request_id values',
                pg_catalog.format('%s were given; max_results is %s.', pg_catalog.cardinality(tickets), max_results),
                'Ask for fewer requests at once.');
        END IF;
        SELECT COALESCE(pg_catalog.jsonb_agg(workorder.open311_request_json(o) ORDER BY o.received_at DESC, o.id DESC), '[]')
          INTO result
          FROM workorder.orders o
         WHERE o.ticket OPERATOR(workorder.=) ANY (tickets);
        RETURN result;
    END IF;

    IF NULLIF(pg_catalog.btrim(status), '') IS NOT NULL THEN
        statuses := pg_catalog.string_to_array(pg_catalog.lower(pg_catalog.regexp_replace(status, '[[:space:]]', '', 'g')), ',');
        IF NOT statuses OPERATOR(pg_catalog.<@) ARRAY['open', 'closed'] THEN
            PERFORM workorder.raise_error('WO873', 'invalid status filter for requests',
                pg_catalog.format('status is %s.', pg_catalog.quote_literal(pg_catalog.left(status, 60))),
                'Pass open, closed, or open,closed.');
        END IF;
        want_open := 'open' OPERATOR(pg_catalog.=) ANY (statuses);
        want_closed := 'closed' OPERATOR(pg_catalog.=) ANY (statuses);
    END IF;
    IF NULLIF(pg_catalog.btrim(service_code), '') IS NOT NULL THEN
        category := workorder.open311_service_category(pg_catalog.btrim(service_code));
    END IF;
    BEGIN
        item := 'start_date';
        t0 := NULLIF(pg_catalog.btrim(start_date), '')::timestamptz;
        item := 'end_date';
        t1 := NULLIF(pg_catalog.btrim(end_date), '')::timestamptz;
    EXCEPTION WHEN data_exception THEN
        PERFORM workorder.raise_error('WO873', pg_catalog.format('invalid %s for requests', item),
            pg_catalog.format('%s is %s: %s', item,
                              pg_catalog.quote_literal(pg_catalog.left(CASE item WHEN 'start_date' THEN start_date ELSE end_date END, 60)),
                              SQLERRM),
            'Pass a W3C date-time, e.g. 2026-11-25T08:00:00+08:00.');
    END;
    IF NOT pg_catalog.isfinite(t0) OR NOT pg_catalog.isfinite(t1) THEN
        PERFORM workorder.raise_error('WO873', 'invalid date range for requests',
            pg_catalog.format('start_date is %s and end_date is %s.', start_date, end_date),
            'Pass finite W3C date-times.');
    END IF;
    IF t0 IS NULL AND t1 IS NULL THEN
        t1 := pg_catalog.now();
    END IF;
    t0 := COALESCE(t0, t1 OPERATOR(pg_catalog.-) '90 days'::interval);
    t1 := COALESCE(t1, t0 OPERATOR(pg_catalog.+) '90 days'::interval);
    IF t1 OPERATOR(pg_catalog.<) t0 OR (t1 OPERATOR(pg_catalog.-) t0) OPERATOR(pg_catalog.>) '90 days'::interval THEN
        PERFORM workorder.raise_error('WO873', 'invalid date range for requests',
            pg_catalog.format('start_date is %s and end_date is %s.', workorder.open311_time(t0), workorder.open311_time(t1)),
            'end_date must not be before start_date, and the range may span at most 90 days.');
    END IF;

    SELECT COALESCE(pg_catalog.jsonb_agg(r.j ORDER BY r.received_at DESC, r.id DESC), '[]')
      INTO result
      FROM (SELECT o.id, o.received_at, workorder.open311_request_json(o) AS j
              FROM workorder.orders o
              LEFT JOIN workorder.orders m ON m.id OPERATOR(pg_catalog.=) o.master_id
             WHERE o.received_at OPERATOR(pg_catalog.>=) t0 AND o.received_at OPERATOR(pg_catalog.<=) t1
               AND (category.code IS NULL OR o.category_code IN (
                        SELECT e.code FROM workorder.category_effective e
                         WHERE category.code OPERATOR(pg_catalog.=) ANY (e.path)))
               AND (CASE WHEN COALESCE(m.status, o.status) IN ('resolved', 'closed', 'cancelled') THEN want_closed ELSE want_open END)
             ORDER BY o.received_at DESC, o.id DESC
             LIMIT max_results) r;
    RETURN result;
END
$$;
COMMENT ON FUNCTION workorder.open311_requests(text, text, text, text, text, integer, text) IS
    'GeoReport v2 GET requests: by ids, or by service_code, status and date range (at most 90 days, max_results 1..1000); no personal data.';

-- open311_request returns one request (GET requests/{id}): an array of one.
CREATE FUNCTION workorder.open311_request(service_request_id text, jurisdiction_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER
AS $$
DECLARE
    result jsonb;
BEGIN
    IF pg_catalog.strpos(COALESCE(service_request_id, ''), ',') OPERATOR(pg_catalog.>) 0
       OR NULLIF(pg_catalog.btrim(service_request_id), '') IS NULL THEN
        PERFORM workorder.raise_error('WO872', 'unknown service_request_id',
            pg_catalog.format('service_request_id is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(service_request_id, 60)), 'NULL')),
            'Pass one ticket, such as 20261125-000123-4.');
    END IF;
    result := workorder.open311_requests(service_request_id => service_request_id, jurisdiction_id => jurisdiction_id);
    IF pg_catalog.jsonb_array_length(result) OPERATOR(pg_catalog.=) 0 THEN
        PERFORM workorder.raise_error('WO872', 'unknown service_request_id',
            pg_catalog.format('No request has the number %s.', pg_catalog.btrim(service_request_id)),
            'Check the number; it is the ticket given when the request was made.');
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION workorder.open311_request(text, text) IS 'GeoReport v2 GET requests/{id}: one request, as an array of one.';

-- open311_post_request makes an order of a GeoReport POST (its parameters as a JSON
-- object, values as strings or numbers) through submit(), and returns
-- [{"service_request_id", "service_notice", "account_id"}].  lat and long are
-- required (there is no geocoder for address_string or address_id).  A missing
-- description becomes the service's name.  first_name/last_name and phone become the
-- reporter; email, device_id, account_id, address_id and attribute go into the
-- order's attributes (never shown in requests).  The idempotency_key, when the HTTP
-- layer passes one (e.g. from an Idempotency-Key header), is the channel_ref, so a
-- retried POST returns the same request; without it every POST is a new request.
CREATE FUNCTION workorder.open311_post_request(request jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    e workorder.category_effective;
    v_lat double precision;
    v_lon double precision;
    field text;
    o workorder.orders;
    extra jsonb;
BEGIN
    IF request IS NULL OR pg_catalog.jsonb_typeof(request) OPERATOR(pg_catalog.<>) 'object' THEN
        PERFORM workorder.raise_error('WO874', 'invalid Open311 request',
            pg_catalog.format('The request is %s.', COALESCE(pg_catalog.left(request::text, 60), 'NULL')),
            'Pass the POST parameters as a JSON object, e.g. {"service_code": "...", "lat": 23.03, "long": 113.15}.');
    END IF;
    PERFORM workorder.open311_jurisdiction(request OPERATOR(pg_catalog.->>) 'jurisdiction_id');
    e := workorder.open311_service_category(request OPERATOR(pg_catalog.->>) 'service_code');
    BEGIN
        field := 'lat';
        v_lat := NULLIF(pg_catalog.btrim(request OPERATOR(pg_catalog.->>) 'lat'), '')::double precision;
        field := 'long';
        v_lon := NULLIF(pg_catalog.btrim(request OPERATOR(pg_catalog.->>) 'long'), '')::double precision;
    EXCEPTION WHEN data_exception THEN
        PERFORM workorder.raise_error('WO874', pg_catalog.format('invalid %s in the Open311 request', field),
            pg_catalog.format('%s is %s.', field, pg_catalog.quote_literal(pg_catalog.left(request OPERATOR(pg_catalog.->>) field, 40))),
            'Pass lat and long as WGS84 decimal degrees.');
    END;
    IF v_lat IS NULL OR v_lon IS NULL THEN
        PERFORM workorder.raise_error('WO874', 'the Open311 request has no location',
            pg_catalog.format('lat is %s and long is %s.', COALESCE(v_lat::text, 'missing'), COALESCE(v_lon::text, 'missing')),
            'Pass lat and long; requests located only by address_string or address_id are not accepted (no geocoder).');
    END IF;
    IF (request OPERATOR(pg_catalog.->) 'attribute') IS NOT NULL
       AND pg_catalog.jsonb_typeof(request OPERATOR(pg_catalog.->) 'attribute') OPERATOR(pg_catalog.<>) 'object' THEN
        PERFORM workorder.raise_error('WO874', 'invalid attribute in the Open311 request',
            pg_catalog.format('attribute is %s.', pg_catalog.left((request OPERATOR(pg_catalog.->) 'attribute')::text, 60)),
            'Pass attribute as an object of code: value.');
    END IF;
    extra := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'email', request OPERATOR(pg_catalog.->>) 'email',
        'device_id', request OPERATOR(pg_catalog.->>) 'device_id',
        'account_id', request OPERATOR(pg_catalog.->>) 'account_id',
        'address_id', request OPERATOR(pg_catalog.->>) 'address_id',
        'attribute', request OPERATOR(pg_catalog.->) 'attribute'));
    o := workorder.submit(
        channel => workorder.setting('open311_channel', 'open311'),
        channel_ref => COALESCE(NULLIF(pg_catalog.btrim(request OPERATOR(pg_catalog.->>) 'idempotency_key'), ''),
                                'open311-' OPERATOR(pg_catalog.||) pg_catalog.gen_random_uuid()::text),
        category => e.code,
        description => COALESCE(NULLIF(pg_catalog.btrim(request OPERATOR(pg_catalog.->>) 'description'), ''), e.name),
        lon => v_lon, lat => v_lat,
        address => request OPERATOR(pg_catalog.->>) 'address_string',
        reporter_name => NULLIF(pg_catalog.concat_ws(' ', NULLIF(pg_catalog.btrim(request OPERATOR(pg_catalog.->>) 'first_name'), ''),
                                                          NULLIF(pg_catalog.btrim(request OPERATOR(pg_catalog.->>) 'last_name'), '')), ''),
        reporter_phone => request OPERATOR(pg_catalog.->>) 'phone',
        attributes => pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                          'open311', NULLIF(extra, '{}'::jsonb),
                          'media_url', request OPERATOR(pg_catalog.->>) 'media_url')));
    RETURN pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'service_request_id', o.ticket::text,
        'service_notice', CASE WHEN o.resolve_due_at IS NOT NULL
                               THEN 'Expected by ' OPERATOR(pg_catalog.||) workorder.open311_time(o.resolve_due_at) END,
        'account_id', request OPERATOR(pg_catalog.->>) 'account_id'));
END
$$;
COMMENT ON FUNCTION workorder.open311_post_request(jsonb) IS
    'GeoReport v2 POST requests: makes an order through submit() on the open311 channel; returns [{service_request_id, service_notice, account_id}].';

-- open311_error turns an error (its SQLSTATE and message) into GeoReport's error
-- shape, [{"code": <HTTP status>, "description": message}]: 404 for an unknown
-- service, request or jurisdiction, 400 for other bad input (WO1xx, WO3xx, WO87x),
-- 500 for anything else.
CREATE FUNCTION workorder.open311_error(sqlstate text, message text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'code', CASE WHEN sqlstate IN ('WO871', 'WO872', 'WO875') THEN 404
                     WHEN sqlstate OPERATOR(pg_catalog.~) '^(WO1|WO3|WO87|22)' THEN 400
                     ELSE 500 END,
        'description', message));
END
$$;
COMMENT ON FUNCTION workorder.open311_error(text, text) IS
    'GeoReport v2 error shape for an error raised by the open311_* functions: [{code: HTTP status, description}].';
-- workorder install script, part 90: the background work.
--
-- The periodic work of a database is a list of tasks, workorder.worker_tasks, run
-- in order.  Each task is a function returning a workorder.task_outcome: how many
-- rows it handled, a line for the run log, and the instant it is next due (NULL
-- when it has nothing scheduled).  workorder.run_task(task) runs one task; the
-- background worker of the database (src/worker.c, started by the launcher when the
-- module is in shared_preload_libraries) calls it once per task, each in its own
-- transaction, and sleeps until the earliest instant returned, at most
-- workorder.worker_naptime.  Without preloading, workorder.run_due_work() runs all
-- the tasks in the caller's transaction (a pg_cron job can call it every minute);
-- it is safe to run while a worker runs.
--
-- Either way, a task runs in a subtransaction of its own inside run_task(): one task
-- that fails is rolled back, written to the run log with ok = false and the error,
-- and the others still run.  Each task takes a transaction-level advisory lock
-- first, with pg_try_advisory_xact_lock: two sessions never run the same task at
-- once, and neither waits for the other (the one that does not get the lock skips
-- the task).
--
-- Later issues plug their tasks in by adding a row to workorder.worker_tasks
-- (deadline warnings, overdue marking, escalation, outbox retries, ...).
--
-- Settings (workorder.settings rows, per database):
--   worker_enabled     'off' makes this database's worker idle (default 'on'); the
--                      setting workorder.worker_enabled (postgresql.conf) does the
--                      same for every database
--   drain_batch_rows   inbox rows one drain takes (default 1000)
--   run_log_retention  run log rows older than this are deleted (default '7 days')
--   run_log_max_rows   the run log keeps at most this many rows (default 10000)
--
-- Notifications: a later issue will NOTIFY the channel 'workorder' with a JSON
-- payload when background work changes an order (a deadline warning, an order
-- overdue), for connectors that LISTEN.  Waking a worker is not done by NOTIFY,
-- which a background worker cannot receive, but by workorder.wake_worker().

-- worker_runs is the run log: one row per task run that handled rows or failed.
CREATE TABLE workorder.worker_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    task        text NOT NULL,
    ok          boolean NOT NULL,
    detail      text,
    rows        integer NOT NULL DEFAULT 0,
    backend_pid integer NOT NULL DEFAULT pg_catalog.pg_backend_pid()
);
REVOKE ALL ON workorder.worker_runs FROM PUBLIC;
COMMENT ON TABLE workorder.worker_runs IS
    'Run log of the background tasks: one row per run that handled rows or failed; trimmed by the task trim_run_log.';
COMMENT ON COLUMN workorder.worker_runs.detail IS 'what the task did, or the error (message and SQLSTATE) when ok is false';
COMMENT ON COLUMN workorder.worker_runs.rows IS 'rows the task handled';
COMMENT ON COLUMN workorder.worker_runs.backend_pid IS 'the process that ran the task: a worker, or a session calling run_due_work()';

-- task_outcome is what a task function returns.
CREATE TYPE workorder.task_outcome AS (
    rows     integer,      -- rows handled; a run with 0 rows that did not fail is not logged
    detail   text,         -- a line for the run log
    next_due timestamptz   -- when the task wants to run again; NULL: nothing scheduled
);

-- worker_tasks lists the tasks, in the order a pass runs them.  Its rows belong to
-- the extension's scripts: they are not kept by pg_dump, CREATE EXTENSION makes them.
CREATE TABLE workorder.worker_tasks (
    task        text PRIMARY KEY,
    position    integer NOT NULL UNIQUE,
    function    regproc NOT NULL,
    description text NOT NULL
);
REVOKE ALL ON workorder.worker_tasks FROM PUBLIC;
COMMENT ON TABLE workorder.worker_tasks IS
    'The background tasks, run in position order by the worker and by run_due_work(); function returns workorder.task_outcome.';

-- task_drain_inbox makes orders of pending inbox rows, one batch per run.  A full
-- batch means there may be more: it is due again at once.  Rows still pending after
-- a partial batch are held by another drain or wait for a retry: due in a second.
CREATE FUNCTION workorder.task_drain_inbox()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    batch integer := workorder.setting('drain_batch_rows', '1000')::integer;
    drained record;
    outcome workorder.task_outcome;
BEGIN
    outcome.rows := 0;
    IF pg_catalog.to_regprocedure('workorder.drain_inbox(integer)') IS NULL THEN
        RETURN outcome;
    END IF;
    SELECT d.accepted, d.rejected INTO drained FROM workorder.drain_inbox(batch) d;
    outcome.rows := drained.accepted OPERATOR(pg_catalog.+) drained.rejected;
    outcome.detail := pg_catalog.format('%s accepted, %s rejected', drained.accepted, drained.rejected);
    IF outcome.rows OPERATOR(pg_catalog.>=) batch THEN
        outcome.next_due := pg_catalog.now();
    ELSIF EXISTS (SELECT FROM workorder.inbox i WHERE i.state OPERATOR(pg_catalog.=) 'pending') THEN
        outcome.next_due := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) interval '1 second';
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_drain_inbox() FROM PUBLIC;

-- task_trim_run_log deletes run log rows older than run_log_retention and keeps at
-- most run_log_max_rows - 1 of the rest, the newest, leaving the last place to its
-- own line.  It is the last task of a pass, so after a pass the log never holds more
-- than run_log_max_rows rows.
CREATE FUNCTION workorder.task_trim_run_log()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    retention_text text := workorder.setting('run_log_retention', '7 days');
    retention interval := retention_text::interval;
    max_rows integer := GREATEST(workorder.setting('run_log_max_rows', '10000')::integer, 1);
    expired bigint;
    surplus bigint := 0;
    last_dropped bigint;
    outcome workorder.task_outcome;
BEGIN
    DELETE FROM workorder.worker_runs r
     WHERE r.started_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) retention);
    GET DIAGNOSTICS expired = ROW_COUNT;
    SELECT r.id INTO last_dropped FROM workorder.worker_runs r
     ORDER BY r.id DESC OFFSET (max_rows OPERATOR(pg_catalog.-) 1) LIMIT 1;
    IF last_dropped IS NOT NULL THEN
        DELETE FROM workorder.worker_runs r WHERE r.id OPERATOR(pg_catalog.<=) last_dropped;
        GET DIAGNOSTICS surplus = ROW_COUNT;
    END IF;
    outcome.rows := expired OPERATOR(pg_catalog.+) surplus;
    outcome.detail := pg_catalog.format('%s rows older than %s and %s rows over %s deleted',
                                        expired, retention_text, surplus, max_rows);
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_trim_run_log() FROM PUBLIC;

INSERT INTO workorder.worker_tasks (task, position, function, description) VALUES
    ('drain_inbox', 100, 'workorder.task_drain_inbox', 'make orders of pending workorder.inbox rows'),
    ('trim_run_log', 1000, 'workorder.task_trim_run_log', 'keep workorder.worker_runs within its retention and size');

-- due_tasks lists the tasks a pass runs, in order; none while pg_restore is
-- connected to this database.  A restore that is not one transaction creates the
-- extension (which starts the worker) before it loads the data: no task may act on
-- a half-restored database (drain restored inbox rows before the orders and the
-- sequences are back, log events that the restore then brings again).
CREATE FUNCTION workorder.due_tasks()
RETURNS SETOF text
LANGUAGE sql STABLE
SECURITY DEFINER
AS $$
    SELECT t.task FROM workorder.worker_tasks t
     WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                        WHERE a.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()
                          AND a.application_name OPERATOR(pg_catalog.=) 'pg_restore')
     ORDER BY t.position
$$;
REVOKE ALL ON FUNCTION workorder.due_tasks() FROM PUBLIC;

-- run_task runs one task and returns how it went: ok, the rows it handled, the line
-- it wrote to the run log (or the error) and the instant it is next due (NULL: nothing
-- scheduled).  When another session is running the task it returns at once, with ok
-- NULL, due again in a second.  An error of the task rolls back the task alone, is logged with ok = false,
-- and is returned with ok = false, after a WARNING.  An unknown task is an error
-- (WO901).
CREATE FUNCTION workorder.run_task(task text,
                                   OUT ok boolean, OUT rows integer, OUT detail text,
                                   OUT next_due timestamptz)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    task_function regproc;
    started timestamptz := pg_catalog.clock_timestamp();
    outcome workorder.task_outcome;
    err_code text;
    err_message text;
    err_detail text;
BEGIN
    SELECT t.function INTO task_function FROM workorder.worker_tasks t
     WHERE t.task OPERATOR(pg_catalog.=) run_task.task;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO901', 'unknown background task',
            pg_catalog.format('The task is %s.', COALESCE(pg_catalog.quote_literal(task), 'NULL')),
            'workorder.due_tasks() lists the tasks.');
    END IF;
    rows := 0;
    IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('workorder.worker_tasks'),
                                                pg_catalog.hashtext(task)) THEN
        detail := 'skipped: another session is running it';
        next_due := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) interval '1 second';
        RETURN;
    END IF;
    BEGIN
        EXECUTE pg_catalog.format('SELECT * FROM %s()', task_function) INTO outcome;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS err_code = RETURNED_SQLSTATE,
                                err_message = MESSAGE_TEXT,
                                err_detail = PG_EXCEPTION_DETAIL;
        ok := false;
        detail := pg_catalog.format('%s%s (SQLSTATE %s)', err_message,
                                    COALESCE('. ' OPERATOR(pg_catalog.||) NULLIF(err_detail, ''), ''), err_code);
        INSERT INTO workorder.worker_runs (started_at, finished_at, task, ok, detail)
        VALUES (started, pg_catalog.clock_timestamp(), task, false, run_task.detail);
        RAISE WARNING USING MESSAGE = pg_catalog.format('background task %s failed: %s', task, detail);
        RETURN;
    END;
    ok := true;
    rows := COALESCE(outcome.rows, 0);
    detail := outcome.detail;
    next_due := outcome.next_due;
    IF rows OPERATOR(pg_catalog.>) 0 THEN
        INSERT INTO workorder.worker_runs (started_at, finished_at, task, ok, detail, rows)
        VALUES (started, pg_catalog.clock_timestamp(), task, true, run_task.detail, run_task.rows);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION workorder.run_task(text) FROM PUBLIC;
COMMENT ON FUNCTION workorder.run_task(text) IS
    'Runs one background task (see workorder.worker_tasks); returns whether it went well, its rows and detail, and when it is next due.';

-- run_due_work runs every task, in order, and returns the earliest instant one of
-- them is next due, or NULL.  It is what a pg_cron job calls when the module is not
-- preloaded, e.g. SELECT cron.schedule('workorder', '* * * * *',
-- 'SELECT workorder.run_due_work()').
CREATE FUNCTION workorder.run_due_work()
RETURNS timestamptz
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    t text;
    next_due timestamptz;
BEGIN
    FOR t IN SELECT d.task FROM workorder.due_tasks() d(task) LOOP
        next_due := LEAST(next_due, (SELECT r.next_due FROM workorder.run_task(t) r));
    END LOOP;
    RETURN next_due;
END
$$;
REVOKE ALL ON FUNCTION workorder.run_due_work() FROM PUBLIC;
COMMENT ON FUNCTION workorder.run_due_work() IS
    'Runs every background task of this database now; safe beside a running worker; returns the next due instant, or NULL.';

-- wake_launcher makes the launcher look at every database when the transaction
-- commits; wake_worker makes this database's worker make a pass when it commits.
-- Each returns whether there is a launcher (a worker) to wake; without the module in
-- shared_preload_libraries there is none, and they do nothing.
CREATE FUNCTION workorder.wake_launcher()
RETURNS boolean
AS 'MODULE_PATHNAME', 'workorder_wake_launcher'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION workorder.wake_launcher() FROM PUBLIC;

CREATE FUNCTION workorder.wake_worker()
RETURNS boolean
AS 'MODULE_PATHNAME', 'workorder_wake_worker'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION workorder.wake_worker() FROM PUBLIC;

-- worker_slots reads the launcher's table of worker slots in shared memory: one row
-- per database that has a worker, or is held by a DROP DATABASE.
CREATE FUNCTION workorder.worker_slots(
    OUT datid oid, OUT datname name, OUT pid integer, OUT state text,
    OUT started_at timestamptz, OUT last_pass_at timestamptz,
    OUT passes bigint, OUT failures bigint,
    OUT last_error text, OUT last_error_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'workorder_worker_slots'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION workorder.worker_slots() FROM PUBLIC;

-- worker_status shows the workers of every database of the cluster.
CREATE VIEW workorder.worker_status AS
SELECT s.datid, s.datname, s.pid, s.state, s.started_at, s.last_pass_at,
       s.passes, s.failures, s.last_error, s.last_error_at
  FROM workorder.worker_slots() s;
REVOKE ALL ON workorder.worker_status FROM PUBLIC;
COMMENT ON VIEW workorder.worker_status IS
    'The background workers of the cluster: state (starting, checking, running, disabled, no extension, exited, held), passes and last error.';

-- The launcher starts this database's worker as soon as this CREATE EXTENSION commits.
SELECT workorder.wake_launcher();
-- workorder install script, part 91: the outbox's background task.
--
-- It comes after part 90, which makes workorder.task_outcome and worker_tasks.

-- task_outbox_expire (a background task, registered below) gives back the
-- messages whose lease ran out, so that a crashed connector's messages come back
-- even before a claim finds them; one claimed outbox_max_attempts times is dead.
-- It is next due when the earliest lease runs out, and never for pending messages:
-- the task does nothing for them, and a backlog that no connector claims would
-- otherwise keep the worker busy.
CREATE FUNCTION workorder.task_outbox_expire()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    max_attempts integer := workorder.setting('outbox_max_attempts', '8')::integer;
    outcome workorder.task_outcome;
    dead integer;
BEGIN
    WITH expired AS (
        UPDATE workorder.outbox x
           SET state = CASE WHEN x.attempts OPERATOR(pg_catalog.>=) max_attempts THEN 'dead' ELSE 'pending' END,
               last_error = CASE WHEN x.attempts OPERATOR(pg_catalog.>=) max_attempts
                                 THEN pg_catalog.format('lease of %s expired after %s attempts',
                                                        COALESCE(x.claimed_by, 'an anonymous claimer'), x.attempts)
                                 ELSE x.last_error END,
               claimed_by = NULL, claimed_until = NULL
         WHERE x.state OPERATOR(pg_catalog.=) 'claimed'
           AND x.claimed_until OPERATOR(pg_catalog.<=) pg_catalog.now()
        RETURNING x.state
    )
    SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE expired.state OPERATOR(pg_catalog.=) 'dead')
      INTO outcome.rows, dead
      FROM expired;
    outcome.detail := pg_catalog.format('%s expired claims given back, %s of them dead', outcome.rows, dead);
    SELECT pg_catalog.min(x.claimed_until) INTO outcome.next_due
      FROM workorder.outbox x WHERE x.state OPERATOR(pg_catalog.=) 'claimed';
    RETURN outcome;
END
$$;

REVOKE ALL ON FUNCTION workorder.task_outbox_expire() FROM PUBLIC;

-- Between the inbox drain (100) and the run log trim (1000, which must stay last).
INSERT INTO workorder.worker_tasks (task, position, function, description) VALUES
    ('outbox_expire', 500, 'workorder.task_outbox_expire',
     'give back outbox messages whose lease ran out (dead after outbox_max_attempts)');
-- workorder install script, part 92: the deadline task (issue 4, SLA part).
--
-- It comes after part 90 (worker_tasks) and part 85 (the SLA columns of orders).
--
-- deadline_check reads the orders whose next_check_at has come (the partial index
-- orders_next_check_idx: its cost does not grow with the number of open orders),
-- oldest first, at most deadline_batch_rows (a workorder.settings row; default
-- 1000) per run, skipping rows locked by an action, and for each:
--   * warn_at passed (not yet warned): event 'deadline_warning', warned = true;
--     when the resolve deadline has passed too, no warning is logged (the order is
--     overdue instead), but warned is set;
--   * accept_due_at passed while still dispatched: event 'accept_overdue',
--     accept_overdue = true;
--   * resolve_due_at passed while new, dispatched or accepted: overdue = true and
--     event 'overdue'.
-- Each is logged once (the marks are on the row, which the task locks), through
-- workorder.log_event with actor 'system', so the event log and the outbox trigger
-- see it.  Each is also written to workorder.notifications and sent with
--   NOTIFY workorder, '{"kind": "overdue", "order_id": 42, "ticket": "...",
--                      "due_at": "...", "at": "..."}'
-- (kind is deadline_warning, accept_overdue or overdue; due_at the instant crossed:
-- warn_at, accept_due_at or resolve_due_at), delivered when the task commits.
-- The task is next due at the earliest next_check_at (one row of the index), or at
-- once after a full batch.  The orders trigger orders_sla_next_check wakes the
-- worker when an action sets a next_check_at within the worker's naptime, so an
-- order is marked within about the length of one pass after its deadline.

-- notifications keeps what the deadline task announced, for clients that were not
-- listening.  Trimming is left to a later task; the index on at serves it.
CREATE TABLE workorder.notifications (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES workorder.orders (id),
    kind     text NOT NULL,
    at       timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    payload  jsonb NOT NULL
);
CREATE INDEX notifications_at_idx ON workorder.notifications (at);
SELECT pg_catalog.pg_extension_config_dump('workorder.notifications', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.notifications_id_seq', '');
REVOKE ALL ON workorder.notifications FROM PUBLIC;
COMMENT ON TABLE workorder.notifications IS
    'Deadline warnings and overdue marks, as sent on NOTIFY channel workorder (payload: kind, order_id, ticket, due_at, at).';

-- deadline_event logs one deadline event of an order and announces it.
CREATE FUNCTION workorder.deadline_event(o workorder.orders, kind text, due_at timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    payload jsonb := pg_catalog.jsonb_build_object('kind', kind, 'order_id', o.id, 'ticket', o.ticket::text,
                                                   'due_at', due_at, 'at', pg_catalog.clock_timestamp());
BEGIN
    PERFORM workorder.log_event(o, kind, 'system', o.status,
        pg_catalog.format('%s: due at %s', kind, due_at),
        pg_catalog.jsonb_build_object('due_at', due_at, 'sla_policy', o.sla_policy));
    INSERT INTO workorder.notifications (order_id, kind, payload) VALUES (o.id, kind, payload);
    PERFORM pg_catalog.pg_notify('workorder', payload::text);
END
$$;
REVOKE ALL ON FUNCTION workorder.deadline_event(workorder.orders, text, timestamptz) FROM PUBLIC;

CREATE FUNCTION workorder.task_deadline_check()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    batch integer := GREATEST(workorder.setting('deadline_batch_rows', '1000')::integer, 1);
    o workorder.orders;
    t timestamptz;
    open boolean;
    warn boolean;
    late_accept boolean;
    late boolean;
    checked_until timestamptz;
    seen integer := 0;
    warnings integer := 0;
    late_accepts integer := 0;
    lates integer := 0;
    outcome workorder.task_outcome;
BEGIN
    -- The instant is taken once, into a variable: a comparison with clock_timestamp()
    -- (volatile) would be a filter over every row of the index, not an index bound.
    checked_until := pg_catalog.clock_timestamp();
    FOR o IN SELECT * FROM workorder.orders x
              WHERE x.next_check_at OPERATOR(pg_catalog.<=) checked_until
              ORDER BY x.next_check_at
              LIMIT batch
                FOR UPDATE SKIP LOCKED LOOP
        seen := seen OPERATOR(pg_catalog.+) 1;
        t := pg_catalog.clock_timestamp();
        open := o.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted}'::workorder.order_status[]);
        late := open AND NOT o.overdue AND o.resolve_due_at OPERATOR(pg_catalog.<=) t;
        warn := open AND NOT o.warned AND NOT o.overdue AND o.warn_at OPERATOR(pg_catalog.<=) t;
        late_accept := o.status OPERATOR(pg_catalog.=) 'dispatched' AND NOT o.accept_overdue
                       AND o.accept_due_at OPERATOR(pg_catalog.<=) t;
        UPDATE workorder.orders x
           SET warned = x.warned OR warn OR late,
               accept_overdue = x.accept_overdue OR late_accept,
               overdue = x.overdue OR late,
               next_check_at = NULL   -- recomputed by the trigger orders_sla_next_check
         WHERE x.id OPERATOR(pg_catalog.=) o.id
        RETURNING * INTO o;
        IF warn AND NOT late THEN
            PERFORM workorder.deadline_event(o, 'deadline_warning', o.warn_at);
            warnings := warnings OPERATOR(pg_catalog.+) 1;
        END IF;
        IF late_accept THEN
            PERFORM workorder.deadline_event(o, 'accept_overdue', o.accept_due_at);
            late_accepts := late_accepts OPERATOR(pg_catalog.+) 1;
        END IF;
        IF late THEN
            PERFORM workorder.deadline_event(o, 'overdue', o.resolve_due_at);
            lates := lates OPERATOR(pg_catalog.+) 1;
        END IF;
    END LOOP;
    outcome.rows := warnings OPERATOR(pg_catalog.+) late_accepts OPERATOR(pg_catalog.+) lates;
    outcome.detail := pg_catalog.format('%s orders checked: %s warnings, %s accept overdue, %s overdue',
                                        seen, warnings, late_accepts, lates);
    IF seen OPERATOR(pg_catalog.>=) batch THEN
        outcome.next_due := pg_catalog.now();
    ELSE
        SELECT x.next_check_at INTO outcome.next_due FROM workorder.orders x
         WHERE x.next_check_at IS NOT NULL ORDER BY x.next_check_at LIMIT 1;
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_deadline_check() FROM PUBLIC;

-- After the inbox drain (100), so that orders it made are checked in the same pass;
-- before outbox_expire (500) and the run log trim (1000, which must stay last).
INSERT INTO workorder.worker_tasks (task, position, function, description) VALUES
    ('deadline_check', 200, 'workorder.task_deadline_check',
     'log deadline warnings, accept overdue and overdue marks of orders whose next_check_at has come');
-- workorder install script, part 93: the escalation task (issue 4, escalation).
--
-- It comes after part 90 (worker_tasks), part 86 (the chain) and part 92.
--
-- escalate reads the orders whose next_escalation_at has come (the partial index
-- orders_next_escalation_idx), oldest first, at most escalation_batch_rows (a
-- workorder.settings row; default 1000) per run, skipping rows locked by an action,
-- and does every step whose instant has come, in step order, each once: a worker
-- that was down for a day does all the steps that fell due, in order.  A step is
-- done when its row of workorder.order_escalations is inserted; the row, the action
-- (supervised, escalated_to), the event 'escalate' and orders.escalation_step are
-- written in the same transaction, so a crash loses all of them or none, and a
-- second session (run_due_work() beside the worker) that reaches the order waits
-- for the row lock, sees the step done and goes on from there (the primary key is
-- the last guard).  Each step is also written to workorder.notifications and sent
-- with NOTIFY workorder (kind 'escalate', due_at the step's instant).
--
-- task_escalate takes an optional instant now (default clock_timestamp()) so that
-- tests can travel in time: SELECT * FROM workorder.task_escalate('2026-02-01').

CREATE FUNCTION workorder.task_escalate(now timestamptz DEFAULT NULL)
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    batch integer := GREATEST(workorder.setting('escalation_batch_rows', '1000')::integer, 1);
    t timestamptz := COALESCE(now, pg_catalog.clock_timestamp());
    leader text := workorder.setting('district_leader', 'district leader');
    o workorder.orders;
    s record;
    due timestamptz;
    target text;
    last_step integer;
    done_step integer;
    seen integer := 0;
    steps integer := 0;
    payload jsonb;
    outcome workorder.task_outcome;
BEGIN
    FOR o IN SELECT * FROM workorder.orders x
              WHERE x.next_escalation_at OPERATOR(pg_catalog.<=) t
              ORDER BY x.next_escalation_at
              LIMIT batch
                FOR UPDATE SKIP LOCKED LOOP
        seen := seen OPERATOR(pg_catalog.+) 1;
        -- The row as it is now (another session may have moved it on before we locked it).
        SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) o.id;
        IF o.next_escalation_at IS NULL OR o.next_escalation_at OPERATOR(pg_catalog.>) t THEN
            CONTINUE;
        END IF;
        last_step := o.escalation_step;
        FOR s IN SELECT e.step, e.after, e.action FROM workorder.sla_escalation_steps e
                  WHERE e.policy OPERATOR(pg_catalog.=) o.sla_policy AND e.step OPERATOR(pg_catalog.>) o.escalation_step
                  ORDER BY e.step LOOP
            due := workorder.escalation_at(o.sla_policy, o.resolve_due_at, s.after);
            EXIT WHEN due OPERATOR(pg_catalog.>) t;
            INSERT INTO workorder.order_escalations (order_id, step, action)
            VALUES (o.id, s.step, s.action)
            ON CONFLICT DO NOTHING
            RETURNING step INTO done_step;
            last_step := s.step;
            CONTINUE WHEN done_step IS NULL;   -- done already: never twice
            done_step := NULL;
            target := NULL;
            IF s.action OPERATOR(pg_catalog.=) 'escalate_parent' THEN
                SELECT u.parent_code INTO target FROM workorder.units u
                 WHERE u.code OPERATOR(pg_catalog.=) o.main_unit;
            ELSIF s.action OPERATOR(pg_catalog.=) 'escalate_leader' THEN
                target := leader;
            END IF;
            UPDATE workorder.orders x
               SET supervised = x.supervised OR (s.action OPERATOR(pg_catalog.=) 'supervise'),
                   escalated_to = COALESCE(target, x.escalated_to)
             WHERE x.id OPERATOR(pg_catalog.=) o.id
            RETURNING * INTO o;
            PERFORM workorder.log_event(o, 'escalate', 'system', o.status,
                pg_catalog.format('escalation step %s: %s%s', s.step, s.action,
                                  COALESCE(' to ' OPERATOR(pg_catalog.||) target, '')),
                pg_catalog.jsonb_build_object('step', s.step, 'action', s.action, 'to', target,
                                              'due_at', due, 'sla_policy', o.sla_policy));
            payload := pg_catalog.jsonb_build_object('kind', 'escalate', 'order_id', o.id, 'ticket', o.ticket::text,
                                                     'step', s.step, 'action', s.action, 'to', target,
                                                     'due_at', due, 'at', pg_catalog.clock_timestamp());
            INSERT INTO workorder.notifications (order_id, kind, payload) VALUES (o.id, 'escalate', payload);
            PERFORM pg_catalog.pg_notify('workorder', payload::text);
            steps := steps OPERATOR(pg_catalog.+) 1;
        END LOOP;
        -- escalation_step moves on; the trigger orders_escalation_next sets next_escalation_at.
        UPDATE workorder.orders x SET escalation_step = last_step WHERE x.id OPERATOR(pg_catalog.=) o.id;
    END LOOP;
    outcome.rows := steps;
    outcome.detail := pg_catalog.format('%s orders checked: %s escalation steps done', seen, steps);
    IF seen OPERATOR(pg_catalog.>=) batch THEN
        outcome.next_due := pg_catalog.now();
    ELSE
        SELECT x.next_escalation_at INTO outcome.next_due FROM workorder.orders x
         WHERE x.next_escalation_at IS NOT NULL ORDER BY x.next_escalation_at LIMIT 1;
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_escalate(timestamptz) FROM PUBLIC;

-- After deadline_check (200), so that an order is marked overdue before it is escalated.
INSERT INTO workorder.worker_tasks (task, position, function, description) VALUES
    ('escalate', 210, 'workorder.task_escalate',
     'do the due escalation steps of orders whose next_escalation_at has come');

-- calendar_recompute (issue 4, second part) consumes workorder.calendar_changes:
-- it takes the pending rows (at most 1000 a run, SKIP LOCKED), and for each finds
-- the open orders (new, dispatched, accepted, suspended) whose policy uses that
-- calendar and whose deadline window touches the changed days: from received_at to
-- the latest of resolve_due_at, accept_due_at and next_escalation_at (a day of margin
-- on each side, in the calendar's time zone; a suspended order's window has no end,
-- since resume will move its deadline; a change with NULL days touches every order
-- on the calendar).  For each such order the deadlines are computed again from the
-- order's facts (workorder.sla_recomputed):
--   resolve_due_at  deadline_after(start) where start is received_at, or the instant
--                   of the last 'reopen' event; then, in event order after start,
--                   every 'resume' (the pause suspended_at .. + suspended_for, as
--                   sla_shift) and every 'approve_extension' (its extension, as
--                   sla_extend) is applied again on the new calendar;
--   warn_at         sla_warn_at(start, the first deadline) moved the same way; kept
--                   as it is once the warning has been given;
--   accept_due_at   from the instant of the last dispatch/reassign/reopen event, only
--                   while the order is dispatched and not yet marked accept_overdue.
-- The events' instants differ from the instants the actions used by a few
-- microseconds, so a recomputed instant within one second of the stored one counts
-- as unchanged and the stored one is kept.  An order whose deadlines changed gets an
-- event 'deadline_recomputed' (actor 'system', details {old: {...}, new: {...},
-- calendar}); an unchanged one gets nothing.  The marks (warned, accept_overdue,
-- overdue) stay: what was announced stands; next_check_at and next_escalation_at
-- follow the new instants (their triggers).  The change rows are deleted in the same
-- transaction.

-- sla_recomputed returns an order's deadlines computed again from its facts.
CREATE FUNCTION workorder.sla_recomputed(o workorder.orders,
                                         OUT resolve_due_at timestamptz, OUT warn_at timestamptz,
                                         OUT accept_due_at timestamptz)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    p workorder.sla_policies;
    start timestamptz := o.received_at;
    start_seq integer := 0;
    dispatched_at timestamptz;
    e record;
    paused_from timestamptz;
BEGIN
    resolve_due_at := o.resolve_due_at;
    warn_at := o.warn_at;
    accept_due_at := o.accept_due_at;
    SELECT * INTO p FROM workorder.sla_policies x WHERE x.name OPERATOR(pg_catalog.=) o.sla_policy;
    IF NOT FOUND OR o.resolve_due_at IS NULL THEN
        RETURN;
    END IF;
    SELECT v.at, v.seq INTO start, start_seq FROM workorder.order_events v
     WHERE v.order_id OPERATOR(pg_catalog.=) o.id AND v.action OPERATOR(pg_catalog.=) 'reopen'
     ORDER BY v.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        start := o.received_at;
        start_seq := 0;
    END IF;
    resolve_due_at := workorder.deadline_after(start, p.resolve_clock, p.resolve_amount, p.calendar_code);
    IF NOT o.warned THEN
        warn_at := workorder.sla_warn_at(start, resolve_due_at, p.resolve_clock, p.warn_fraction, p.calendar_code);
    END IF;
    FOR e IN SELECT v.action, v.details FROM workorder.order_events v
              WHERE v.order_id OPERATOR(pg_catalog.=) o.id AND v.seq OPERATOR(pg_catalog.>) start_seq
                AND v.action IN ('resume', 'approve_extension')
              ORDER BY v.seq LOOP
        IF e.action OPERATOR(pg_catalog.=) 'resume' THEN
            paused_from := (e.details OPERATOR(pg_catalog.->>) 'suspended_at')::timestamptz;
            resolve_due_at := workorder.sla_shift(resolve_due_at, p.resolve_clock, paused_from,
                paused_from OPERATOR(pg_catalog.+) (e.details OPERATOR(pg_catalog.->>) 'suspended_for')::interval,
                p.calendar_code);
            IF NOT o.warned THEN
                warn_at := workorder.sla_shift(warn_at, p.resolve_clock, paused_from,
                    paused_from OPERATOR(pg_catalog.+) (e.details OPERATOR(pg_catalog.->>) 'suspended_for')::interval,
                    p.calendar_code);
            END IF;
        ELSIF e.details OPERATOR(pg_catalog.?) 'extension' THEN
            resolve_due_at := workorder.sla_extend(resolve_due_at, p.resolve_clock,
                (e.details OPERATOR(pg_catalog.->>) 'extension')::interval, p.calendar_code);
            IF NOT o.warned THEN
                warn_at := workorder.sla_extend(warn_at, p.resolve_clock,
                    (e.details OPERATOR(pg_catalog.->>) 'extension')::interval, p.calendar_code);
            END IF;
        END IF;
    END LOOP;
    IF o.status OPERATOR(pg_catalog.=) 'dispatched' AND NOT o.accept_overdue THEN
        SELECT v.at INTO dispatched_at FROM workorder.order_events v
         WHERE v.order_id OPERATOR(pg_catalog.=) o.id AND v.action IN ('dispatch', 'reassign', 'reopen')
         ORDER BY v.seq DESC LIMIT 1;
        IF dispatched_at IS NOT NULL THEN
            accept_due_at := workorder.deadline_after(dispatched_at, p.accept_clock, p.accept_amount, p.calendar_code);
        END IF;
    END IF;
END
$$;

-- recompute_keep returns fresh unless it is within a second of stored (or NULL).
CREATE FUNCTION workorder.recompute_keep(stored timestamptz, fresh timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN stored IS NULL OR fresh IS NULL THEN COALESCE(fresh, stored)
                WHEN pg_catalog.abs(pg_catalog.date_part('epoch', fresh OPERATOR(pg_catalog.-) stored))
                     OPERATOR(pg_catalog.<) 1 THEN stored
                ELSE fresh END
$$;

CREATE FUNCTION workorder.task_calendar_recompute()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    changes bigint[];
    o workorder.orders;
    fresh record;
    new_resolve timestamptz;
    new_warn timestamptz;
    new_accept timestamptz;
    old_deadlines jsonb;
    seen integer := 0;
    changed integer := 0;
    outcome workorder.task_outcome;
BEGIN
    SELECT pg_catalog.array_agg(c.id) INTO changes FROM
        (SELECT x.id FROM workorder.calendar_changes x ORDER BY x.id LIMIT 1000 FOR UPDATE SKIP LOCKED) c;
    outcome.rows := 0;
    IF changes IS NULL THEN
        RETURN outcome;
    END IF;
    FOR o IN
        SELECT x.* FROM workorder.orders x
          JOIN workorder.sla_policies p ON p.name OPERATOR(pg_catalog.=) x.sla_policy
          JOIN workorder.calendars k ON k.code OPERATOR(pg_catalog.=) p.calendar_code
         WHERE x.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted,suspended}'::workorder.order_status[]) AND x.resolve_due_at IS NOT NULL
           AND EXISTS (
               SELECT 1 FROM workorder.calendar_changes c
                WHERE c.id OPERATOR(pg_catalog.=) ANY (changes)
                  AND c.calendar_code OPERATOR(pg_catalog.=) p.calendar_code
                  AND (c.last_day IS NULL
                       OR c.last_day OPERATOR(pg_catalog.>=)
                          ((x.received_at AT TIME ZONE k.time_zone)::date OPERATOR(pg_catalog.-) 1))
                  AND (c.first_day IS NULL OR x.status OPERATOR(pg_catalog.=) 'suspended'
                       OR c.first_day OPERATOR(pg_catalog.<=)
                          ((GREATEST(x.resolve_due_at, x.accept_due_at, x.next_escalation_at)
                            AT TIME ZONE k.time_zone)::date OPERATOR(pg_catalog.+) 1)))
         ORDER BY x.id
           FOR UPDATE OF x LOOP
        seen := seen OPERATOR(pg_catalog.+) 1;
        SELECT * INTO fresh FROM workorder.sla_recomputed(o);
        new_resolve := workorder.recompute_keep(o.resolve_due_at, fresh.resolve_due_at);
        new_warn := workorder.recompute_keep(o.warn_at, fresh.warn_at);
        new_accept := workorder.recompute_keep(o.accept_due_at, fresh.accept_due_at);
        IF (new_resolve, new_warn, new_accept) IS NOT DISTINCT FROM (o.resolve_due_at, o.warn_at, o.accept_due_at) THEN
            -- The deadlines stay; the escalation instants after them may have moved.
            UPDATE workorder.orders x SET escalation_step = x.escalation_step WHERE x.id OPERATOR(pg_catalog.=) o.id;
            CONTINUE;
        END IF;
        old_deadlines := pg_catalog.jsonb_build_object('resolve_due_at', o.resolve_due_at,
                                                       'warn_at', o.warn_at, 'accept_due_at', o.accept_due_at);
        UPDATE workorder.orders x
           SET resolve_due_at = new_resolve, warn_at = new_warn, accept_due_at = new_accept
         WHERE x.id OPERATOR(pg_catalog.=) o.id
        RETURNING * INTO o;
        PERFORM workorder.log_event(o, 'deadline_recomputed', 'system', o.status,
            pg_catalog.format('deadlines recomputed after a change of calendar %s',
                              (SELECT p.calendar_code FROM workorder.sla_policies p
                                WHERE p.name OPERATOR(pg_catalog.=) o.sla_policy)),
            pg_catalog.jsonb_build_object(
                'old', old_deadlines,
                'new', pg_catalog.jsonb_build_object('resolve_due_at', o.resolve_due_at,
                                                     'warn_at', o.warn_at, 'accept_due_at', o.accept_due_at)));
        changed := changed OPERATOR(pg_catalog.+) 1;
    END LOOP;
    DELETE FROM workorder.calendar_changes c WHERE c.id OPERATOR(pg_catalog.=) ANY (changes);
    outcome.rows := changed;
    outcome.detail := pg_catalog.format('%s calendar changes: %s orders looked at, %s with new deadlines',
                                        pg_catalog.cardinality(changes), seen, changed);
    IF pg_catalog.cardinality(changes) OPERATOR(pg_catalog.>=) 1000 THEN
        outcome.next_due := pg_catalog.now();
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_calendar_recompute() FROM PUBLIC;

-- Before deadline_check (200), so that a pass checks the recomputed deadlines (150 is
-- left free: the worker regression test registers a task there).
INSERT INTO workorder.worker_tasks (task, position, function, description) VALUES
    ('calendar_recompute', 180, 'workorder.task_calendar_recompute',
     'recompute the deadlines of open orders after a change of their calendar');
-- workorder install script, part 93 (second file): the background tasks of
-- hotspots (part 87) and video-AI detections (part 88).  They come after part 90,
-- which defines worker_tasks and task_outcome.

-- task_ingest_detections moves one batch of the detection inbox (the setting
-- detection_batch_rows, default 10000) and raises the orders it makes due.  A full
-- batch means there may be more: it is due again at once.
CREATE FUNCTION workorder.task_ingest_detections()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    batch integer := workorder.setting('detection_batch_rows', '10000')::integer;
    r record;
    outcome workorder.task_outcome;
BEGIN
    SELECT * INTO r FROM workorder.ingest_detections(batch);
    outcome.rows := r.ingested OPERATOR(pg_catalog.+) r.rejected OPERATOR(pg_catalog.+) r.orders;
    outcome.detail := pg_catalog.format('%s detections ingested, %s rejected, %s orders raised',
                                        r.ingested, r.rejected, r.orders);
    IF r.ingested OPERATOR(pg_catalog.+) r.rejected OPERATOR(pg_catalog.>=) batch THEN
        outcome.next_due := pg_catalog.now();
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_ingest_detections() FROM PUBLIC;

-- task_detect_hotspots runs detect_hotspots(now()) once every hotspot_interval,
-- when there is a policy.
CREATE FUNCTION workorder.task_detect_hotspots()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    every interval := workorder.setting('hotspot_interval', '1 hour')::interval;
    last_run timestamptz;
    r workorder.hotspot_runs;
    outcome workorder.task_outcome;
BEGIN
    outcome.rows := 0;
    -- Without a policy there is nothing to detect, and no run to record.
    IF NOT EXISTS (SELECT FROM workorder.hotspot_policies p WHERE p.enabled IS DISTINCT FROM false) THEN
        RETURN outcome;
    END IF;
    SELECT pg_catalog.max(x.as_of) INTO last_run FROM workorder.hotspot_runs x;
    IF last_run IS NOT NULL AND pg_catalog.now() OPERATOR(pg_catalog.<) (last_run OPERATOR(pg_catalog.+) every) THEN
        outcome.next_due := last_run OPERATOR(pg_catalog.+) every;
        RETURN outcome;
    END IF;
    PERFORM workorder.detect_hotspots(pg_catalog.now());
    SELECT * INTO r FROM workorder.hotspot_runs x WHERE x.as_of OPERATOR(pg_catalog.=) pg_catalog.now();
    outcome.rows := r.started OPERATOR(pg_catalog.+) r.ended OPERATOR(pg_catalog.+) r.orders;
    outcome.detail := pg_catalog.format('%s hot places: %s new, %s ended, %s orders raised', r.hot, r.started, r.ended, r.orders);
    outcome.next_due := pg_catalog.now() OPERATOR(pg_catalog.+) every;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_detect_hotspots() FROM PUBLIC;

INSERT INTO workorder.worker_tasks (task, position, function, description) VALUES
    ('ingest_detections', 120, 'workorder.task_ingest_detections',
     'move video-AI detections out of their inbox, count them by place and time, raise orders'),
    ('detect_hotspots', 600, 'workorder.task_detect_hotspots',
     'record places where a category''s orders cluster beyond their baseline');
-- workorder install script, part 94: unit scores (assessment), from the event log.
--
-- workorder.unit_scores has one row per unit, period kind (day, week, month) and
-- period start.  Periods are local days, ISO weeks (Monday to Sunday) and months in
-- the district's time zone, the setting district_time_zone (default
-- 'Asia/Shanghai').  Every count is a count of facts taken from
-- workorder.order_events alone; README.md ("Scores") defines each one.  In short,
-- a fact is counted for the unit and on the local day of the event that carries it:
--   orders_assigned      dispatch, reassign and reopen events naming the unit
--   accepts_on_time      accept events with details.deadline = 'on_time'
--   accepts_judged       those + accept events 'late' + accept_overdue events
--   resolves_on_time     resolve events with details.deadline = 'on_time'
--   resolves_judged      those + resolve events 'late' + overdue events (an order
--                        that is open and past its deadline is late from the
--                        moment it is marked, and counts once: a resolve after the
--                        mark is 'overdue' and counts no more)
--   resolves             resolve events
--   callbacks, callbacks_satisfied   callback events; satisfied or basically satisfied
--   extensions           approve_extension events
--   overdue              overdue events
-- except the cohort facts, counted for the unit and on the day of an earlier event
-- of the same order:
--   cohort_resolved      the first resolve after an assignment counts at that
--                        assignment (so resolution_rate <= 1)
--   cohort_returned      a return counts at the assignment it ends
--   redone               a reopen counts at the resolve it undoes
--
-- Incremental and full computation are one function, workorder.score_facts(): the
-- task score_update adds the facts of new events to the rows they touch, and
-- workorder.recompute_scores() rebuilds rows from every event.  Both read only the
-- events with id <= score_progress.processed_through, so they agree exactly
-- (test/scenario/scores.t proves it on a randomised history with concurrent
-- writers).  A fact depends only on its event and earlier events of the same order,
-- which are final by then (an order's events are written under its row lock, in
-- seq and id order).
--
-- The watermark.  Event ids are drawn in one order and committed in another: a
-- transaction may hold id 100 uncommitted while id 101 commits.  So score_update
-- never takes an event because it is visible; it takes the ids up to a mark that is
-- final.  Each pass records a mark: the event sequence's last value S (read first),
-- then a transaction id assigned after that read (after_xid: the xid of a
-- subtransaction that writes the mark, so it is fresh even when the calling
-- transaction already has one).  Every transaction that drew an id <= S already had
-- its xid (every writer of events writes the order row first, so its xid exists
-- before it draws an event id), and so an xid below after_xid.  A later pass whose
-- snapshot xmin is above after_xid knows all of them have finished: every event
-- with id <= S that will ever exist is visible, and the watermark moves to S.  (A
-- snapshot's xmax would not do: it is the latest completed xid + 1, and a running
-- transaction may hold an xid above it.)  A long-running writing transaction
-- anywhere in the cluster holds the marks back (and scores wait); the event id
-- sequence must keep CACHE 1 (its default).
--
-- Derived columns (rates, composite, rank, list) are computed from the counts and
-- the settings below for every period a pass or a recompute touches.  After changing
-- a weight, a threshold or the time zone, run workorder.recompute_scores().
--
-- Settings (workorder.settings rows):
--   district_time_zone   the zone of the periods (default 'Asia/Shanghai')
--   score_weights        the composite's weights, a JSON object of rate names (the
--                        rate columns below) and non-negative numbers (default
--                        {"on_time_accept_rate": 1, "resolution_rate": 1,
--                        "satisfaction_rate": 1}: the "three rates", response,
--                        resolution, satisfaction); return_rate and redo_rate enter
--                        as 1 - rate
--   score_red_at_least   composite at or above this: the red list, 红榜 (default 0.95)
--   score_black_below    composite below this: the black list, 黑榜 (default 0.80)
--   score_list_min_orders  a unit is listed only with at least this many
--                        orders_assigned in the period (default 10)
--   score_batch_events   events one pass of score_update takes at most (default 100000)
--
-- SQLSTATEs: WO811 an invalid score setting (weights, thresholds, time zone);
-- WO812 an invalid recompute_scores() range.

CREATE TABLE workorder.unit_scores (
    unit_code               text NOT NULL REFERENCES workorder.units (code) ON UPDATE CASCADE,
    unit_kind               workorder.unit_kind NOT NULL,
    period_kind             text NOT NULL,
    period_start            date NOT NULL,
    orders_assigned         integer NOT NULL DEFAULT 0,
    accepts_on_time         integer NOT NULL DEFAULT 0,
    accepts_judged          integer NOT NULL DEFAULT 0,
    resolves_on_time        integer NOT NULL DEFAULT 0,
    resolves_judged         integer NOT NULL DEFAULT 0,
    resolves                integer NOT NULL DEFAULT 0,
    cohort_resolved         integer NOT NULL DEFAULT 0,
    cohort_returned         integer NOT NULL DEFAULT 0,
    redone                  integer NOT NULL DEFAULT 0,
    callbacks               integer NOT NULL DEFAULT 0,
    callbacks_satisfied     integer NOT NULL DEFAULT 0,
    extensions              integer NOT NULL DEFAULT 0,
    overdue                 integer NOT NULL DEFAULT 0,
    on_time_accept_rate     numeric,
    on_time_completion_rate numeric,
    resolution_rate         numeric,
    satisfaction_rate       numeric,
    return_rate             numeric,
    redo_rate               numeric,
    composite               numeric,
    rank                    integer,
    list                    text,
    PRIMARY KEY (period_kind, period_start, unit_code),
    CONSTRAINT unit_scores_period_kind CHECK (period_kind IN ('day', 'week', 'month')),
    CONSTRAINT unit_scores_list CHECK (list IN ('red', 'black'))
);
CREATE INDEX unit_scores_unit_idx ON workorder.unit_scores (unit_code, period_kind, period_start);
SELECT pg_catalog.pg_extension_config_dump('workorder.unit_scores', '');
REVOKE ALL ON workorder.unit_scores FROM PUBLIC;
COMMENT ON TABLE workorder.unit_scores IS
    'One row per unit and local day, week or month: counts of facts from the event log, rates, composite, rank among units of its kind, red/black list. See README "Scores".';
COMMENT ON COLUMN workorder.unit_scores.orders_assigned IS 'dispatch, reassign and reopen events naming the unit (an order assigned twice counts twice)';
COMMENT ON COLUMN workorder.unit_scores.on_time_accept_rate IS 'accepts_on_time / accepts_judged (response rate); NULL when nothing was judged';
COMMENT ON COLUMN workorder.unit_scores.on_time_completion_rate IS 'resolves_on_time / resolves_judged, where orders marked overdue while open count as late';
COMMENT ON COLUMN workorder.unit_scores.resolution_rate IS 'cohort_resolved / orders_assigned: assignments of the period that the unit resolved (so far)';
COMMENT ON COLUMN workorder.unit_scores.satisfaction_rate IS 'callbacks_satisfied / callbacks (satisfied or basically satisfied)';
COMMENT ON COLUMN workorder.unit_scores.return_rate IS 'cohort_returned / orders_assigned';
COMMENT ON COLUMN workorder.unit_scores.redo_rate IS 'redone / resolves: resolutions of the period reopened (so far)';
COMMENT ON COLUMN workorder.unit_scores.composite IS 'weighted mean of the rates named in the setting score_weights, over those not NULL';
COMMENT ON COLUMN workorder.unit_scores.rank IS 'rank by composite among units of the same kind in the same period (1 = best); NULL without a composite';
COMMENT ON COLUMN workorder.unit_scores.list IS 'red (红榜) or black (黑榜) by the thresholds score_red_at_least and score_black_below';

-- score_progress is the watermark: unit_scores holds exactly the facts of the
-- events with id <= processed_through.  One row.
CREATE TABLE workorder.score_progress (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    processed_through bigint NOT NULL DEFAULT 0,
    updated_at        timestamptz
);
SELECT pg_catalog.pg_extension_config_dump('workorder.score_progress', '');
REVOKE ALL ON workorder.score_progress FROM PUBLIC;
COMMENT ON TABLE workorder.score_progress IS
    'The scores'' watermark: unit_scores counts exactly the events with id <= processed_through.';

-- score_marks are the marks of the passes (see the top): every event with id <=
-- last_event_id is final once no transaction below after_xid is running.
CREATE TABLE workorder.score_marks (
    last_event_id bigint NOT NULL,
    after_xid     xid8,
    taken_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
-- Not dumped: transaction ids mean nothing in another cluster, and after a restore
-- every event is committed, so the first passes take fresh marks.
REVOKE ALL ON workorder.score_marks FROM PUBLIC;
COMMENT ON TABLE workorder.score_marks IS
    'Marks of score_update passes: events up to last_event_id are final once a snapshot''s xmin is above after_xid.';

-- score_zone returns the district's time zone (the setting district_time_zone), or
-- raises WO811 when it is not a zone PostgreSQL knows.
CREATE FUNCTION workorder.score_zone()
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    zone text := workorder.setting('district_time_zone', 'Asia/Shanghai');
BEGIN
    -- (Converting an instant checks the name cheaply; reading pg_timezone_names
    -- would read the whole time zone database, hundreds of milliseconds.)
    BEGIN
        PERFORM pg_catalog.timezone(zone, pg_catalog.now());
    EXCEPTION WHEN invalid_parameter_value THEN
        PERFORM workorder.raise_error('WO811', 'invalid setting district_time_zone',
            pg_catalog.format('district_time_zone is %s.', pg_catalog.quote_literal(zone)),
            'Set a zone name from pg_timezone_names, e.g. Asia/Shanghai.');
    END;
    RETURN zone;
END
$$;

-- score_number returns a numeric score setting, or raises WO811.
CREATE FUNCTION workorder.score_number(setting_name text, default_value text)
RETURNS numeric
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    raw text := workorder.setting(setting_name, default_value);
BEGIN
    IF raw OPERATOR(pg_catalog.!~) '^\s*[0-9]+(\.[0-9]+)?\s*$' THEN
        PERFORM workorder.raise_error('WO811', pg_catalog.format('invalid setting %s', setting_name),
            pg_catalog.format('%s is %s.', setting_name, pg_catalog.quote_literal(raw)),
            'Set a non-negative number, e.g. 0.8.');
    END IF;
    RETURN raw::numeric;
END
$$;

-- score_weights returns the setting score_weights as a jsonb object of rate names
-- and weights, or raises WO811 when a name is not a rate or a weight is not a
-- non-negative number, or no weight is positive.
CREATE FUNCTION workorder.score_weights()
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    raw text := workorder.setting('score_weights',
                                  '{"on_time_accept_rate": 1, "resolution_rate": 1, "satisfaction_rate": 1}');
    weights jsonb;
    bad text;
BEGIN
    BEGIN
        weights := raw::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        weights := NULL;
    END;
    IF weights IS NULL OR pg_catalog.jsonb_typeof(weights) OPERATOR(pg_catalog.<>) 'object' THEN
        bad := 'it is not a JSON object';
    ELSE
        SELECT pg_catalog.format('%s: %s', w.key, w.value) INTO bad
          FROM pg_catalog.jsonb_each(weights) w
         WHERE w.key NOT IN ('on_time_accept_rate', 'on_time_completion_rate', 'resolution_rate',
                             'satisfaction_rate', 'return_rate', 'redo_rate')
            OR pg_catalog.jsonb_typeof(w.value) OPERATOR(pg_catalog.<>) 'number'
            OR (w.value)::text::numeric OPERATOR(pg_catalog.<) 0
         LIMIT 1;
        IF bad IS NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(weights) w
                                        WHERE (w.value)::text::numeric OPERATOR(pg_catalog.>) 0) THEN
            bad := 'no weight is positive';
        END IF;
    END IF;
    IF bad IS NOT NULL THEN
        PERFORM workorder.raise_error('WO811', 'invalid setting score_weights',
            pg_catalog.format('score_weights is %s (%s).', pg_catalog.quote_literal(raw), bad),
            'Give a JSON object of rate names (on_time_accept_rate, on_time_completion_rate, resolution_rate, satisfaction_rate, return_rate, redo_rate) and non-negative weights, e.g. {"on_time_accept_rate": 1, "resolution_rate": 1, "satisfaction_rate": 1}.');
    END IF;
    RETURN weights;
END
$$;

-- score_facts returns the facts of the events with after_id < id <= through_id and
-- at >= since (an instant), summed per unit and period, for the periods that start
-- on or after since_day.  Every fact lands on a day no later than its event's, so
-- the events before since cannot add to those periods.
CREATE FUNCTION workorder.score_facts(after_id bigint, through_id bigint, since_day date, zone text)
RETURNS TABLE (unit_code text, period_kind text, period_start date,
               orders_assigned integer, accepts_on_time integer, accepts_judged integer,
               resolves_on_time integer, resolves_judged integer, resolves integer,
               cohort_resolved integer, cohort_returned integer, redone integer,
               callbacks integer, callbacks_satisfied integer, extensions integer, overdue integer)
LANGUAGE plpgsql STABLE
-- A generic plan would not know that (after_id, through_id] is a few thousand ids
-- of millions, and could scan the whole log.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    since timestamptz := COALESCE(since_day::timestamp AT TIME ZONE zone, '-infinity');
BEGIN
    RETURN QUERY
    WITH ev AS MATERIALIZED (
        SELECT e.id, e.order_id, e.seq, e.at, e.action, e.unit_code, e.old_unit,
               e.details OPERATOR(pg_catalog.->>) 'deadline' AS deadline,
               e.details OPERATOR(pg_catalog.->>) 'satisfaction' AS satisfaction
          FROM workorder.order_events e
         WHERE e.id OPERATOR(pg_catalog.>) after_id AND e.id OPERATOR(pg_catalog.<=) through_id
           AND e.at OPERATOR(pg_catalog.>=) since
           AND e.action IN ('dispatch', 'reassign', 'reopen', 'accept', 'accept_overdue', 'resolve',
                            'overdue', 'return', 'approve_extension', 'callback')
    ), fact AS (
        -- The facts of an event itself: its unit, its day.
        SELECT ev.unit_code AS unit, ev.at,
               (ev.action IN ('dispatch', 'reassign', 'reopen'))::integer AS assigned,
               (ev.action OPERATOR(pg_catalog.=) 'accept' AND ev.deadline OPERATOR(pg_catalog.=) 'on_time')::integer AS acc_ok,
               (ev.action OPERATOR(pg_catalog.=) 'accept_overdue'
                OR (ev.action OPERATOR(pg_catalog.=) 'accept' AND ev.deadline IN ('on_time', 'late')))::integer AS acc_judged,
               (ev.action OPERATOR(pg_catalog.=) 'resolve' AND ev.deadline OPERATOR(pg_catalog.=) 'on_time')::integer AS res_ok,
               (ev.action OPERATOR(pg_catalog.=) 'overdue'
                OR (ev.action OPERATOR(pg_catalog.=) 'resolve' AND ev.deadline IN ('on_time', 'late')))::integer AS res_judged,
               (ev.action OPERATOR(pg_catalog.=) 'resolve')::integer AS res,
               0 AS c_resolved, 0 AS c_returned, 0 AS c_redone,
               (ev.action OPERATOR(pg_catalog.=) 'callback')::integer AS cb,
               (ev.action OPERATOR(pg_catalog.=) 'callback'
                AND ev.satisfaction IN ('satisfied', 'basically_satisfied'))::integer AS cb_ok,
               (ev.action OPERATOR(pg_catalog.=) 'approve_extension')::integer AS ext,
               (ev.action OPERATOR(pg_catalog.=) 'overdue')::integer AS late
          FROM ev
         WHERE ev.action OPERATOR(pg_catalog.<>) 'return' AND ev.unit_code IS NOT NULL
        UNION ALL
        -- A return, and the first resolve after an assignment, count at the assignment.
        SELECT a.unit_code, a.at, 0, 0, 0, 0, 0, 0,
               (ev.action OPERATOR(pg_catalog.=) 'resolve')::integer,
               (ev.action OPERATOR(pg_catalog.=) 'return')::integer,
               0, 0, 0, 0, 0
          FROM ev
         CROSS JOIN LATERAL (
               SELECT p.unit_code, p.at, p.seq FROM workorder.order_events p
                WHERE p.order_id OPERATOR(pg_catalog.=) ev.order_id AND p.seq OPERATOR(pg_catalog.<) ev.seq
                  AND p.action IN ('dispatch', 'reassign', 'reopen')
                ORDER BY p.seq DESC LIMIT 1) a
         WHERE ev.action IN ('resolve', 'return') AND a.unit_code IS NOT NULL
           AND (ev.action OPERATOR(pg_catalog.=) 'return'
                OR NOT EXISTS (SELECT 1 FROM workorder.order_events q
                                WHERE q.order_id OPERATOR(pg_catalog.=) ev.order_id
                                  AND q.seq OPERATOR(pg_catalog.>) a.seq AND q.seq OPERATOR(pg_catalog.<) ev.seq
                                  AND q.action OPERATOR(pg_catalog.=) 'resolve'))
        UNION ALL
        -- A reopen counts at the resolve it undoes.
        SELECT r.unit_code, r.at, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0
          FROM ev
         CROSS JOIN LATERAL (
               SELECT p.unit_code, p.at FROM workorder.order_events p
                WHERE p.order_id OPERATOR(pg_catalog.=) ev.order_id AND p.seq OPERATOR(pg_catalog.<) ev.seq
                  AND p.action OPERATOR(pg_catalog.=) 'resolve'
                ORDER BY p.seq DESC LIMIT 1) r
         WHERE ev.action OPERATOR(pg_catalog.=) 'reopen' AND r.unit_code IS NOT NULL
    ), daily AS (
        SELECT fact.unit, (fact.at AT TIME ZONE zone)::date AS day,
               pg_catalog.sum(fact.assigned) AS assigned, pg_catalog.sum(fact.acc_ok) AS acc_ok,
               pg_catalog.sum(fact.acc_judged) AS acc_judged, pg_catalog.sum(fact.res_ok) AS res_ok,
               pg_catalog.sum(fact.res_judged) AS res_judged, pg_catalog.sum(fact.res) AS res,
               pg_catalog.sum(fact.c_resolved) AS c_resolved, pg_catalog.sum(fact.c_returned) AS c_returned,
               pg_catalog.sum(fact.c_redone) AS c_redone, pg_catalog.sum(fact.cb) AS cb,
               pg_catalog.sum(fact.cb_ok) AS cb_ok, pg_catalog.sum(fact.ext) AS ext,
               pg_catalog.sum(fact.late) AS late
          FROM fact
         GROUP BY 1, 2
    )
    SELECT d.unit, k.kind, k.start,
           pg_catalog.sum(d.assigned)::integer, pg_catalog.sum(d.acc_ok)::integer, pg_catalog.sum(d.acc_judged)::integer,
           pg_catalog.sum(d.res_ok)::integer, pg_catalog.sum(d.res_judged)::integer, pg_catalog.sum(d.res)::integer,
           pg_catalog.sum(d.c_resolved)::integer, pg_catalog.sum(d.c_returned)::integer, pg_catalog.sum(d.c_redone)::integer,
           pg_catalog.sum(d.cb)::integer, pg_catalog.sum(d.cb_ok)::integer, pg_catalog.sum(d.ext)::integer,
           pg_catalog.sum(d.late)::integer
      FROM daily d
     CROSS JOIN LATERAL (VALUES ('day', d.day),
                                ('week', pg_catalog.date_trunc('week', d.day::timestamp)::date),
                                ('month', pg_catalog.date_trunc('month', d.day::timestamp)::date)) AS k(kind, start)
     WHERE since_day IS NULL OR k.start OPERATOR(pg_catalog.>=) since_day
     GROUP BY 1, 2, 3;
END
$$;

-- score_rate returns numerator / denominator rounded to 4 places, NULL when the
-- denominator is 0.
CREATE FUNCTION workorder.score_rate(numerator integer, denominator integer)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF denominator IS NULL OR denominator OPERATOR(pg_catalog.=) 0 THEN
        RETURN NULL;
    END IF;
    RETURN pg_catalog.round(numerator::numeric OPERATOR(pg_catalog./) denominator::numeric, 4);
END
$$;

-- score_derive computes the rates, composite, rank and list of every row in the
-- given periods (pairs of period kind and start).
CREATE FUNCTION workorder.score_derive(kinds text[], starts date[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    weights jsonb := workorder.score_weights();
    red numeric := workorder.score_number('score_red_at_least', '0.95');
    black numeric := workorder.score_number('score_black_below', '0.80');
    min_orders numeric := workorder.score_number('score_list_min_orders', '10');
BEGIN
    UPDATE workorder.unit_scores s
       SET on_time_accept_rate = workorder.score_rate(s.accepts_on_time, s.accepts_judged),
           on_time_completion_rate = workorder.score_rate(s.resolves_on_time, s.resolves_judged),
           resolution_rate = workorder.score_rate(s.cohort_resolved, s.orders_assigned),
           satisfaction_rate = workorder.score_rate(s.callbacks_satisfied, s.callbacks),
           return_rate = workorder.score_rate(s.cohort_returned, s.orders_assigned),
           redo_rate = workorder.score_rate(s.redone, s.resolves)
      FROM ROWS FROM (pg_catalog.unnest(kinds), pg_catalog.unnest(starts)) AS p(kind, start)
     WHERE s.period_kind OPERATOR(pg_catalog.=) p.kind AND s.period_start OPERATOR(pg_catalog.=) p.start;
    UPDATE workorder.unit_scores s
       SET composite = (SELECT pg_catalog.round(pg_catalog.sum(w.weight OPERATOR(pg_catalog.*) r.rate)
                                                OPERATOR(pg_catalog./) pg_catalog.sum(w.weight), 4)
                          FROM (VALUES ('on_time_accept_rate', s.on_time_accept_rate),
                                       ('on_time_completion_rate', s.on_time_completion_rate),
                                       ('resolution_rate', s.resolution_rate),
                                       ('satisfaction_rate', s.satisfaction_rate),
                                       ('return_rate', 1 OPERATOR(pg_catalog.-) s.return_rate),
                                       ('redo_rate', 1 OPERATOR(pg_catalog.-) s.redo_rate)) AS r(name, rate)
                         CROSS JOIN LATERAL (SELECT (weights OPERATOR(pg_catalog.->>) r.name)::numeric AS weight) w
                         WHERE r.rate IS NOT NULL AND w.weight OPERATOR(pg_catalog.>) 0)
      FROM ROWS FROM (pg_catalog.unnest(kinds), pg_catalog.unnest(starts)) AS p(kind, start)
     WHERE s.period_kind OPERATOR(pg_catalog.=) p.kind AND s.period_start OPERATOR(pg_catalog.=) p.start;
    UPDATE workorder.unit_scores s
       SET rank = r.rank,
           list = CASE WHEN s.composite IS NULL OR s.orders_assigned OPERATOR(pg_catalog.<) min_orders THEN NULL
                       WHEN s.composite OPERATOR(pg_catalog.>=) red THEN 'red'
                       WHEN s.composite OPERATOR(pg_catalog.<) black THEN 'black' END
      FROM (SELECT x.period_kind, x.period_start, x.unit_code,
                   CASE WHEN x.composite IS NOT NULL THEN
                        pg_catalog.rank() OVER (PARTITION BY x.period_kind, x.period_start, x.unit_kind, x.composite IS NULL
                                                ORDER BY x.composite DESC)::integer END AS rank
              FROM workorder.unit_scores x
              JOIN ROWS FROM (pg_catalog.unnest(kinds), pg_catalog.unnest(starts)) AS p(kind, start)
                ON x.period_kind OPERATOR(pg_catalog.=) p.kind AND x.period_start OPERATOR(pg_catalog.=) p.start) r
     WHERE s.period_kind OPERATOR(pg_catalog.=) r.period_kind AND s.period_start OPERATOR(pg_catalog.=) r.period_start
       AND s.unit_code OPERATOR(pg_catalog.=) r.unit_code;
END
$$;

-- score_apply adds the facts of the events with after_id < id <= through_id to
-- unit_scores and derives the periods they touched; returns the rows touched.
CREATE FUNCTION workorder.score_apply(after_id bigint, through_id bigint)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    kinds text[];
    starts date[];
BEGIN
    WITH added AS (
        INSERT INTO workorder.unit_scores AS s
            (unit_code, unit_kind, period_kind, period_start, orders_assigned, accepts_on_time, accepts_judged,
             resolves_on_time, resolves_judged, resolves, cohort_resolved, cohort_returned, redone,
             callbacks, callbacks_satisfied, extensions, overdue)
        SELECT f.unit_code, u.kind, f.period_kind, f.period_start, f.orders_assigned, f.accepts_on_time,
               f.accepts_judged, f.resolves_on_time, f.resolves_judged, f.resolves, f.cohort_resolved,
               f.cohort_returned, f.redone, f.callbacks, f.callbacks_satisfied, f.extensions, f.overdue
          FROM workorder.score_facts(after_id, through_id, NULL, workorder.score_zone()) f
          JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) f.unit_code
        ON CONFLICT (period_kind, period_start, unit_code) DO UPDATE
           SET orders_assigned = s.orders_assigned OPERATOR(pg_catalog.+) EXCLUDED.orders_assigned,
               accepts_on_time = s.accepts_on_time OPERATOR(pg_catalog.+) EXCLUDED.accepts_on_time,
               accepts_judged = s.accepts_judged OPERATOR(pg_catalog.+) EXCLUDED.accepts_judged,
               resolves_on_time = s.resolves_on_time OPERATOR(pg_catalog.+) EXCLUDED.resolves_on_time,
               resolves_judged = s.resolves_judged OPERATOR(pg_catalog.+) EXCLUDED.resolves_judged,
               resolves = s.resolves OPERATOR(pg_catalog.+) EXCLUDED.resolves,
               cohort_resolved = s.cohort_resolved OPERATOR(pg_catalog.+) EXCLUDED.cohort_resolved,
               cohort_returned = s.cohort_returned OPERATOR(pg_catalog.+) EXCLUDED.cohort_returned,
               redone = s.redone OPERATOR(pg_catalog.+) EXCLUDED.redone,
               callbacks = s.callbacks OPERATOR(pg_catalog.+) EXCLUDED.callbacks,
               callbacks_satisfied = s.callbacks_satisfied OPERATOR(pg_catalog.+) EXCLUDED.callbacks_satisfied,
               extensions = s.extensions OPERATOR(pg_catalog.+) EXCLUDED.extensions,
               overdue = s.overdue OPERATOR(pg_catalog.+) EXCLUDED.overdue
        RETURNING s.period_kind, s.period_start
    )
    SELECT pg_catalog.array_agg(t.period_kind), pg_catalog.array_agg(t.period_start) INTO kinds, starts
      FROM (SELECT DISTINCT a.period_kind, a.period_start FROM added a) t;
    IF kinds IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM workorder.score_derive(kinds, starts);
    RETURN pg_catalog.cardinality(kinds);
END
$$;

-- task_score_update is the background task score_update: it moves the watermark to
-- the newest final mark (see the top), at most score_batch_events ids at a time,
-- adds the facts of those events, and records a new mark.  Due again at once after
-- a full batch, else at the worker's next pass.
CREATE FUNCTION workorder.task_score_update()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    batch bigint := GREATEST(workorder.score_number('score_batch_events', '100000')::bigint, 1);
    horizon xid8 := pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot());
    done bigint;
    target bigint;
    newest bigint;
    mark_xid bigint;
    top_xid bigint;
    touched integer := 0;
    outcome workorder.task_outcome;
BEGIN
    -- Nothing new and no mark waiting: done without locking (or writing) anything.
    newest := (SELECT s.last_value FROM workorder.order_events_id_seq s WHERE s.is_called);
    IF NOT EXISTS (SELECT 1 FROM workorder.score_marks)
       AND COALESCE(newest, 0) OPERATOR(pg_catalog.<=)
           COALESCE((SELECT p.processed_through FROM workorder.score_progress p), 0) THEN
        outcome.rows := 0;
        RETURN outcome;
    END IF;
    SELECT p.processed_through INTO done FROM workorder.score_progress p FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO workorder.score_progress DEFAULT VALUES ON CONFLICT DO NOTHING;
        SELECT p.processed_through INTO done FROM workorder.score_progress p FOR UPDATE;
    END IF;
    SELECT pg_catalog.max(m.last_event_id) INTO target FROM workorder.score_marks m
     WHERE m.after_xid OPERATOR(pg_catalog.<) horizon;
    -- (LEAST ignores a NULL: no final mark must mean no target.)
    IF target IS NOT NULL THEN
        target := LEAST(target, done OPERATOR(pg_catalog.+) batch);
    END IF;
    IF target OPERATOR(pg_catalog.>) done THEN
        touched := workorder.score_apply(done, target);
        UPDATE workorder.score_progress p SET processed_through = target, updated_at = pg_catalog.clock_timestamp();
        DELETE FROM workorder.score_marks m WHERE m.last_event_id OPERATOR(pg_catalog.<=) target;
        outcome.detail := pg_catalog.format('events %s to %s: %s periods updated',
                                            done OPERATOR(pg_catalog.+) 1, target, touched);
        done := target;
    END IF;
    -- A new mark: the sequence's last value first, then a fresh xid: a
    -- subtransaction's, which is assigned when it writes the mark row (its xmin).
    newest := (SELECT s.last_value FROM workorder.order_events_id_seq s WHERE s.is_called);
    IF newest OPERATOR(pg_catalog.>) done
       AND NOT EXISTS (SELECT 1 FROM workorder.score_marks m WHERE m.last_event_id OPERATOR(pg_catalog.>=) newest) THEN
        BEGIN
            INSERT INTO workorder.score_marks (last_event_id) VALUES (newest)
            RETURNING xmin::text::bigint INTO mark_xid;
        EXCEPTION WHEN OTHERS THEN
            RAISE;   -- (the handler only makes the block a subtransaction)
        END;
        -- The 32-bit xmin made whole with the epoch of the (older) top-level xid.
        top_xid := pg_catalog.pg_current_xact_id()::text::bigint;
        UPDATE workorder.score_marks m
           SET after_xid = (top_xid OPERATOR(pg_catalog.+)
                            ((mark_xid OPERATOR(pg_catalog.-) (top_xid OPERATOR(pg_catalog.%) 4294967296)
                              OPERATOR(pg_catalog.+) 4294967296) OPERATOR(pg_catalog.%) 4294967296))::text::xid8
         WHERE m.last_event_id OPERATOR(pg_catalog.=) newest AND m.after_xid IS NULL;
    END IF;
    outcome.rows := touched;
    -- Due again at once when a batch was cut short; a mark that is not final yet
    -- waits for the worker's next pass (at most worker_naptime).
    IF EXISTS (SELECT 1 FROM workorder.score_marks m
                WHERE m.last_event_id OPERATOR(pg_catalog.>) done
                  AND m.after_xid OPERATOR(pg_catalog.<) horizon) THEN
        outcome.next_due := pg_catalog.now();
    END IF;
    RETURN outcome;
END
$$;
REVOKE ALL ON FUNCTION workorder.task_score_update() FROM PUBLIC;

-- After the deadline and escalation tasks (200, 210), whose events it counts.
INSERT INTO workorder.worker_tasks (task, position, function, description) VALUES
    ('score_update', 400, 'workorder.task_score_update',
     'add the facts of new order events to workorder.unit_scores (watermark in score_progress)');

-- recompute_scores rebuilds the rows of every period that starts on or after the
-- period containing from_day (its month and its week) and on or before to_day,
-- from the event log up to the watermark; NULL bounds mean all of history.  It
-- returns the rows written.  It holds the watermark row, so score_update waits.
CREATE FUNCTION workorder.recompute_scores(from_day date DEFAULT NULL, to_day date DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    done bigint;
    lo date;
    written integer;
    kinds text[];
    starts date[];
BEGIN
    IF from_day OPERATOR(pg_catalog.>) to_day OR from_day OPERATOR(pg_catalog.=) '-infinity'::date
       OR to_day OPERATOR(pg_catalog.=) 'infinity'::date THEN
        PERFORM workorder.raise_error('WO812', 'invalid recompute_scores() range',
            pg_catalog.format('from_day is %s, to_day is %s.', from_day, to_day),
            'Pass finite days with from_day <= to_day, or NULL for all of history.');
    END IF;
    INSERT INTO workorder.score_progress DEFAULT VALUES ON CONFLICT DO NOTHING;
    SELECT p.processed_through INTO done FROM workorder.score_progress p FOR UPDATE;
    lo := LEAST(pg_catalog.date_trunc('month', from_day::timestamp)::date,
                pg_catalog.date_trunc('week', from_day::timestamp)::date);
    DELETE FROM workorder.unit_scores s
     WHERE (lo IS NULL OR s.period_start OPERATOR(pg_catalog.>=) lo)
       AND (to_day IS NULL OR s.period_start OPERATOR(pg_catalog.<=) to_day);
    INSERT INTO workorder.unit_scores
        (unit_code, unit_kind, period_kind, period_start, orders_assigned, accepts_on_time, accepts_judged,
         resolves_on_time, resolves_judged, resolves, cohort_resolved, cohort_returned, redone,
         callbacks, callbacks_satisfied, extensions, overdue)
    SELECT f.unit_code, u.kind, f.period_kind, f.period_start, f.orders_assigned, f.accepts_on_time,
           f.accepts_judged, f.resolves_on_time, f.resolves_judged, f.resolves, f.cohort_resolved,
           f.cohort_returned, f.redone, f.callbacks, f.callbacks_satisfied, f.extensions, f.overdue
      FROM workorder.score_facts(0, done, lo, workorder.score_zone()) f
      JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) f.unit_code
     WHERE to_day IS NULL OR f.period_start OPERATOR(pg_catalog.<=) to_day;
    GET DIAGNOSTICS written = ROW_COUNT;
    SELECT pg_catalog.array_agg(g.period_kind), pg_catalog.array_agg(g.period_start) INTO kinds, starts
      FROM (SELECT DISTINCT s.period_kind, s.period_start FROM workorder.unit_scores s
             WHERE (lo IS NULL OR s.period_start OPERATOR(pg_catalog.>=) lo)
               AND (to_day IS NULL OR s.period_start OPERATOR(pg_catalog.<=) to_day)) g;
    IF kinds IS NOT NULL THEN
        PERFORM workorder.score_derive(kinds, starts);
    END IF;
    RETURN written;
END
$$;
REVOKE ALL ON FUNCTION workorder.recompute_scores(date, date) FROM PUBLIC;
COMMENT ON FUNCTION workorder.recompute_scores(date, date) IS
    'Rebuilds unit_scores of the periods from the one containing from_day to those starting by to_day (NULL: all) from the event log, up to the watermark.';
-- workorder install script, part 95: stable views for BI tools (workorder.bi_*).
--
-- Each view answers a common question without joins: names next to codes, local
-- days and months (the district's zone, the setting district_time_zone) next to
-- instants.  None of them shows personal data: no reporter name or phone, no
-- description or address (free text a citizen may have put a name or number in),
-- no coordinates; places are the administrative areas (town, village) the order
-- was located in.  Columns are only ever added, never renamed or dropped, so
-- dashboards keep working across versions.  The roles issue grants SELECT on them
-- to the analyst role, and adds workorder.bi_orders, the order list with personal
-- data masked.

-- bi_open_orders: every open order (new, dispatched, accepted, suspended).
CREATE VIEW workorder.bi_open_orders AS
SELECT o.id AS order_id, o.ticket::text AS ticket, o.status::text AS status, o.priority::text AS priority,
       o.category_code, c.name AS category_name, c.family AS category_family,
       o.channel_code, ch.name AS channel_name,
       o.area_chain[2] AS town_code, town.name AS town_name,
       o.area_chain[3] AS village_code, village.name AS village_name,
       o.main_unit AS unit_code, u.name AS unit_name, u.kind::text AS unit_kind,
       o.handling_level::text AS handling_level,
       o.received_at, (o.received_at AT TIME ZONE z.zone)::date AS received_day,
       o.accept_due_at, o.resolve_due_at,
       o.overdue, o.accept_overdue, o.warned, o.supervised,
       o.escalation_step, o.escalated_to,
       o.report_count, o.return_count, o.redo_count,
       pg_catalog.now() OPERATOR(pg_catalog.-) o.received_at AS open_for
  FROM workorder.orders o
 CROSS JOIN (SELECT workorder.score_zone() AS zone) z
  LEFT JOIN workorder.category_effective c ON c.code OPERATOR(pg_catalog.=) o.category_code
  LEFT JOIN workorder.channels ch ON ch.code OPERATOR(pg_catalog.=) o.channel_code
  LEFT JOIN workorder.areas town ON town.code OPERATOR(pg_catalog.=) o.area_chain[2]
  LEFT JOIN workorder.areas village ON village.code OPERATOR(pg_catalog.=) o.area_chain[3]
  LEFT JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) o.main_unit
 WHERE o.status IN ('new', 'dispatched', 'accepted', 'suspended');
COMMENT ON VIEW workorder.bi_open_orders IS
    'Open orders (new, dispatched, accepted, suspended), one row each, with names, local receipt day, deadlines and marks; no personal data.';
COMMENT ON COLUMN workorder.bi_open_orders.town_code IS 'the town (street) the order was located in (area_chain[2])';
COMMENT ON COLUMN workorder.bi_open_orders.village_code IS 'the village (community) the order was located in (area_chain[3]), when located that deep';
COMMENT ON COLUMN workorder.bi_open_orders.received_day IS 'the local day of receipt in the district''s zone (setting district_time_zone)';
COMMENT ON COLUMN workorder.bi_open_orders.overdue IS 'the resolve deadline passed while the order was open (marked by the deadline task)';
COMMENT ON COLUMN workorder.bi_open_orders.open_for IS 'how long since receipt, at query time';

-- bi_overdue_orders: the open orders past their resolve deadline, latest first.
CREATE VIEW workorder.bi_overdue_orders AS
SELECT b.order_id, b.ticket, b.status, b.priority, b.category_code, b.category_name, b.category_family,
       b.channel_code, b.channel_name, b.town_code, b.town_name, b.village_code, b.village_name,
       b.unit_code, b.unit_name, b.unit_kind, b.received_at, b.received_day, b.resolve_due_at,
       pg_catalog.now() OPERATOR(pg_catalog.-) b.resolve_due_at AS overdue_for,
       b.supervised, b.escalation_step, b.escalated_to
  FROM workorder.bi_open_orders b
 WHERE b.overdue;
COMMENT ON VIEW workorder.bi_overdue_orders IS
    'Open orders marked overdue, with how long past the deadline; no personal data.';
COMMENT ON COLUMN workorder.bi_overdue_orders.overdue_for IS 'time past the resolve deadline, at query time';

-- bi_backlog: open and overdue orders counted by unit and town.
CREATE VIEW workorder.bi_backlog AS
SELECT b.unit_code, b.unit_name, b.unit_kind, b.town_code, b.town_name,
       pg_catalog.count(*) AS open_orders,
       pg_catalog.count(*) FILTER (WHERE b.status OPERATOR(pg_catalog.=) 'new') AS new_orders,
       pg_catalog.count(*) FILTER (WHERE b.status OPERATOR(pg_catalog.=) 'dispatched') AS awaiting_acceptance,
       pg_catalog.count(*) FILTER (WHERE b.status OPERATOR(pg_catalog.=) 'accepted') AS in_hand,
       pg_catalog.count(*) FILTER (WHERE b.status OPERATOR(pg_catalog.=) 'suspended') AS suspended,
       pg_catalog.count(*) FILTER (WHERE b.overdue) AS overdue_orders,
       pg_catalog.count(*) FILTER (WHERE b.accept_overdue) AS accept_overdue_orders,
       pg_catalog.count(*) FILTER (WHERE b.supervised) AS supervised_orders,
       pg_catalog.count(*) FILTER (WHERE b.escalation_step OPERATOR(pg_catalog.>) 0) AS escalated_orders,
       pg_catalog.min(b.received_at) AS oldest_received_at,
       pg_catalog.min(b.resolve_due_at) AS earliest_resolve_due_at
  FROM workorder.bi_open_orders b
 GROUP BY b.unit_code, b.unit_name, b.unit_kind, b.town_code, b.town_name;
COMMENT ON VIEW workorder.bi_backlog IS
    'Open and overdue orders by main unit and town: counts per status, overdue, supervised, escalated; NULL unit: not yet dispatched.';

-- bi_escalations: every escalation step done, with the order's unit and place.
CREATE VIEW workorder.bi_escalations AS
SELECT o.id AS order_id, o.ticket::text AS ticket, s.step, s.action, s.done_at,
       (s.done_at AT TIME ZONE z.zone)::date AS done_day,
       o.main_unit AS unit_code, u.name AS unit_name, o.escalated_to, up.name AS escalated_to_name,
       o.category_code, c.name AS category_name, c.family AS category_family,
       o.area_chain[2] AS town_code, town.name AS town_name,
       o.status::text AS status_now, o.overdue AS overdue_now, o.resolve_due_at
  FROM workorder.order_escalations s
  JOIN workorder.orders o ON o.id OPERATOR(pg_catalog.=) s.order_id
 CROSS JOIN (SELECT workorder.score_zone() AS zone) z
  LEFT JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) o.main_unit
  LEFT JOIN workorder.units up ON up.code OPERATOR(pg_catalog.=) o.escalated_to
  LEFT JOIN workorder.category_effective c ON c.code OPERATOR(pg_catalog.=) o.category_code
  LEFT JOIN workorder.areas town ON town.code OPERATOR(pg_catalog.=) o.area_chain[2];
COMMENT ON VIEW workorder.bi_escalations IS
    'Escalation steps done (remind, supervise, escalate_parent, escalate_leader), one row per order and step, with the unit, the category and the town.';
COMMENT ON COLUMN workorder.bi_escalations.escalated_to IS 'whom the order is escalated to now (the main unit''s parent, or the district leader)';

-- bi_unit_scores: the scores with the unit's name, level and parent.
CREATE VIEW workorder.bi_unit_scores AS
SELECT s.period_kind, s.period_start, s.unit_code, u.name AS unit_name, s.unit_kind::text AS unit_kind,
       u.level::text AS unit_level, u.parent_code AS parent_unit_code,
       s.orders_assigned, s.on_time_accept_rate, s.on_time_completion_rate, s.resolution_rate,
       s.satisfaction_rate, s.return_rate, s.redo_rate, s.extensions, s.overdue AS overdue_orders,
       s.composite, s.rank, s.list,
       s.accepts_on_time, s.accepts_judged, s.resolves_on_time, s.resolves_judged, s.resolves,
       s.cohort_resolved, s.cohort_returned, s.redone, s.callbacks, s.callbacks_satisfied
  FROM workorder.unit_scores s
  LEFT JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) s.unit_code;
COMMENT ON VIEW workorder.bi_unit_scores IS
    'Unit scores per local day, week and month (README "Scores" defines every rate and its denominator), with the unit''s name; rank among units of the same kind; list red (红榜) or black (黑榜).';

-- bi_unit_rankings: the ranked rows only, best first within each period and kind.
CREATE VIEW workorder.bi_unit_rankings AS
SELECT s.period_kind, s.period_start, s.unit_kind, s.rank, s.unit_code, s.unit_name,
       s.composite, s.list, s.orders_assigned,
       s.on_time_accept_rate, s.resolution_rate, s.satisfaction_rate
  FROM workorder.bi_unit_scores s
 WHERE s.rank IS NOT NULL;
COMMENT ON VIEW workorder.bi_unit_rankings IS
    'Rankings: units with a composite, by period and unit kind; order by period_start, unit_kind, rank.';

-- bi_channel_volumes: orders received per local day and channel, and where they are now.
CREATE VIEW workorder.bi_channel_volumes AS
SELECT (o.received_at AT TIME ZONE z.zone)::date AS day, o.channel_code, ch.name AS channel_name,
       ch.kind AS channel_kind,
       pg_catalog.count(*) AS orders_received,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('new', 'dispatched', 'accepted', 'suspended')) AS still_open,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('resolved', 'closed')) AS resolved_or_closed,
       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'merged') AS merged_duplicates,
       pg_catalog.count(*) FILTER (WHERE o.status OPERATOR(pg_catalog.=) 'cancelled') AS cancelled,
       pg_catalog.count(*) FILTER (WHERE NOT o.in_jurisdiction) AS out_of_jurisdiction
  FROM workorder.orders o
 CROSS JOIN (SELECT workorder.score_zone() AS zone) z
  LEFT JOIN workorder.channels ch ON ch.code OPERATOR(pg_catalog.=) o.channel_code
 GROUP BY 1, o.channel_code, ch.name, ch.kind;
COMMENT ON VIEW workorder.bi_channel_volumes IS
    'Orders received per local day and channel, with how many are open, resolved or closed, merged, cancelled, out of jurisdiction now.';

-- bi_category_trends: orders received per local month and category, with outcomes.
CREATE VIEW workorder.bi_category_trends AS
SELECT pg_catalog.date_trunc('month', o.received_at AT TIME ZONE z.zone)::date AS month,
       c.family AS category_family, o.category_code, c.name AS category_name,
       pg_catalog.count(*) AS orders_received,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('new', 'dispatched', 'accepted', 'suspended')) AS still_open,
       pg_catalog.count(*) FILTER (WHERE o.overdue) AS overdue_now,
       pg_catalog.count(*) FILTER (WHERE o.status IN ('resolved', 'closed')) AS resolved_or_closed,
       pg_catalog.count(*) FILTER (WHERE o.redo_count OPERATOR(pg_catalog.>) 0) AS redone,
       pg_catalog.count(*) FILTER (WHERE o.satisfaction IS NOT NULL) AS with_verdict,
       pg_catalog.count(*) FILTER (WHERE o.satisfaction IN ('satisfied', 'basically_satisfied')) AS satisfied,
       pg_catalog.sum(o.report_count) AS reports
  FROM workorder.orders o
 CROSS JOIN (SELECT workorder.score_zone() AS zone) z
  LEFT JOIN workorder.category_effective c ON c.code OPERATOR(pg_catalog.=) o.category_code
 WHERE o.status OPERATOR(pg_catalog.<>) 'merged'
 GROUP BY 1, c.family, o.category_code, c.name;
COMMENT ON VIEW workorder.bi_category_trends IS
    'Orders per local month and category (merged duplicates left out; reports counts them), with open, overdue, resolved, redone and satisfied counts; NULL category: not mapped.';

REVOKE ALL ON workorder.bi_open_orders, workorder.bi_overdue_orders, workorder.bi_backlog,
              workorder.bi_escalations, workorder.bi_unit_scores, workorder.bi_unit_rankings,
              workorder.bi_channel_volumes, workorder.bi_category_trends FROM PUBLIC;
-- workorder install script, part 96: who may see and do what.
--
-- The extension creates six NOLOGIN group roles, cluster-wide, if they do not
-- exist yet (a second database finds them there; DROP EXTENSION leaves them):
--   workorder_admin       everything: reference data, every order, every action
--   workorder_dispatcher  a command center: the orders of its center's area; every action on them
--   workorder_handler     a handling unit: the orders where its unit or a unit below it is the
--                         main or an assisting unit; the handler's actions on them
--   workorder_supervisor  a leader: what its unit's handlers and dispatchers see; supervise,
--                         comment, approve or reject extensions
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

-- logins maps each database login to what it works for: a unit (handlers,
-- dispatchers, supervisors) or a channel (intake connectors).  A configuration
-- table: its rows survive pg_dump.  Written through map_login().
CREATE TABLE workorder.logins (
    role_name    name PRIMARY KEY,
    unit_code    text REFERENCES workorder.units (code) ON UPDATE CASCADE,
    channel_code text REFERENCES workorder.channels (code) ON UPDATE CASCADE,
    note         text,
    mapped_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT logins_maps_something CHECK (unit_code IS NOT NULL OR channel_code IS NOT NULL)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.logins', '');
COMMENT ON TABLE workorder.logins IS
    'Which unit (handlers, dispatchers, supervisors) or channel (intake connectors) each database login works for. Write with workorder.map_login().';

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
           note = EXCLUDED.note, mapped_at = pg_catalog.now()
    RETURNING l.* INTO mapped;
    RETURN mapped;
END
$$;

-- check_logins lists what is wrong with the logins of the workorder group roles: a
-- handler, dispatcher or supervisor without a unit, a dispatcher whose unit is not
-- a center, an intake login without a channel, a mapping whose role is gone.
CREATE FUNCTION workorder.check_logins()
RETURNS TABLE (role_name name, problem text)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN QUERY
    SELECT r.rolname, pg_catalog.format('member of %s but mapped to no unit', g.rolname)::text
      FROM pg_catalog.pg_roles r
      JOIN pg_catalog.pg_auth_members m ON m.member OPERATOR(pg_catalog.=) r.oid
      JOIN pg_catalog.pg_roles g ON g.oid OPERATOR(pg_catalog.=) m.roleid
      LEFT JOIN workorder.logins l ON l.role_name OPERATOR(pg_catalog.=) r.rolname
     WHERE g.rolname IN ('workorder_dispatcher', 'workorder_handler', 'workorder_supervisor')
       AND l.unit_code IS NULL
    UNION ALL
    SELECT r.rolname, 'member of workorder_intake but mapped to no channel'::text
      FROM pg_catalog.pg_roles r
      JOIN pg_catalog.pg_auth_members m ON m.member OPERATOR(pg_catalog.=) r.oid
      JOIN pg_catalog.pg_roles g ON g.oid OPERATOR(pg_catalog.=) m.roleid
      LEFT JOIN workorder.logins l ON l.role_name OPERATOR(pg_catalog.=) r.rolname
     WHERE g.rolname OPERATOR(pg_catalog.=) 'workorder_intake' AND l.channel_code IS NULL
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
     ORDER BY 1, 2;
END
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
    SELECT l.unit_code, u.area_code, l.channel_code INTO c.unit_code, c.area_code, c.channel_code
      FROM workorder.logins l LEFT JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) l.unit_code
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
    RETURN (SELECT l.unit_code FROM workorder.logins l
             WHERE l.role_name OPERATOR(pg_catalog.=) workorder.calling_role());
END
$$;

-- caller_channel is the channel the calling role is mapped to, or NULL.
CREATE FUNCTION workorder.caller_channel()
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
BEGIN
    RETURN (SELECT l.channel_code FROM workorder.logins l
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
            SELECT l.unit_code FROM workorder.logins l
             WHERE l.role_name OPERATOR(pg_catalog.=) workorder.calling_role() AND l.unit_code IS NOT NULL
            UNION
            SELECT u.code FROM workorder.units u JOIN below b ON u.parent_code OPERATOR(pg_catalog.=) b.code
        )
        SELECT b.code FROM below b ORDER BY b.code);
END
$$;

-- caller_area is the area the calling role's unit serves (for a dispatcher, its
-- center's area), or NULL.
CREATE FUNCTION workorder.caller_area()
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
BEGIN
    RETURN (SELECT u.area_code FROM workorder.logins l
              JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) l.unit_code
             WHERE l.role_name OPERATOR(pg_catalog.=) workorder.calling_role());
END
$$;

-- order_in_scope says whether an order is among those a group role sees, for the
-- calling role: the same rules as the row-level security policies below.
--   handler     its unit or one below it is the main or an assisting unit
--   dispatcher  the order lies in its center's area, or its center dispatched it
--               or holds it
--   supervisor  either of the two, for its unit
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

-- check_order_access lets the calling role take action on order o (NULL action:
-- read it), or raises WO951 naming the order, the role and its unit.  A superuser
-- or admin may do anything; another role needs a group role that both sees the
-- order and may take the action (role_actions).  Every action reaches it through
-- order_for_action().
CREATE FUNCTION workorder.check_order_access(o workorder.orders, action text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    who workorder.caller_context := workorder.caller();
    grp name;
BEGIN
    IF who.unrestricted THEN
        RETURN;
    END IF;
    FOREACH grp IN ARRAY who.groups LOOP
        IF (action IS NULL
            OR EXISTS (SELECT 1 FROM workorder.role_actions ra
                        WHERE ra.group_role OPERATOR(pg_catalog.=) grp
                          AND ra.action IN (check_order_access.action, '*')))
           AND workorder.order_in_scope(o, grp, who) THEN
            RETURN;
        END IF;
    END LOOP;
    PERFORM workorder.raise_error('WO951',
        pg_catalog.format('role %s (unit %s) may not %s order %s (id %s)', who.role_name,
                          COALESCE(who.unit_code, 'none'), COALESCE(action, 'read'), o.ticket, o.id),
        pg_catalog.format('The role''s workorder groups are %s; the order''s main unit is %s, its assisting units %s, its area %s.',
                          CASE WHEN who.groups OPERATOR(pg_catalog.=) '{}' THEN 'none'
                               ELSE pg_catalog.array_to_string(who.groups, ', ') END,
                          COALESCE(o.main_unit, 'none'), o.assisting_units, COALESCE(o.area_code, 'none')),
        'Act only on the orders of your own unit or area, and only with the actions of your role (workorder.role_actions); ask a dispatcher or an admin otherwise.');
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
-- policies).
ALTER TABLE workorder.order_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY order_events_with_order ON workorder.order_events FOR SELECT
    TO workorder_admin, workorder_dispatcher, workorder_handler, workorder_supervisor, workorder_intake
    USING (order_id IN (SELECT o.id FROM workorder.orders o));

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
CREATE FUNCTION workorder.inbox_check_channels()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    who workorder.caller_context := workorder.caller();
    stray text;
BEGIN
    IF who.unrestricted OR NOT 'workorder_intake' OPERATOR(pg_catalog.=) ANY (who.groups) THEN
        RETURN NULL;
    END IF;
    SELECT n.channel INTO stray FROM inserted n
     WHERE n.channel IS DISTINCT FROM who.channel_code LIMIT 1;
    IF FOUND THEN
        PERFORM workorder.check_channel_access(stray, 'fill the inbox');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER inbox_check_channels
    AFTER INSERT ON workorder.inbox REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.inbox_check_channels();

-- inbox_mine is the inbox as the caller may read it: a connector's own channel's
-- rows (an admin's or superuser's: all).
CREATE VIEW workorder.inbox_mine WITH (security_barrier) AS
SELECT i.* FROM workorder.inbox i
 WHERE (SELECT workorder.caller_unrestricted())
    OR i.channel OPERATOR(pg_catalog.=) (SELECT workorder.caller_channel());
COMMENT ON VIEW workorder.inbox_mine IS
    'The inbox rows of the caller''s channel (all of them for an admin): how a connector reads its results back.';

-- Masking, for analysts.  mask_phone keeps the first three and the last four digits
-- of a number (a mobile 13812341234 reads 138****1234; a leading +86 or 86 of a
-- 13-digit number is dropped first) and stars the rest; a number of under 8 digits
-- keeps only its last two.  Other characters are dropped.
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
    IF n OPERATOR(pg_catalog.>=) 8 THEN
        RETURN pg_catalog.left(digits, 3) OPERATOR(pg_catalog.||) pg_catalog.repeat('*', n OPERATOR(pg_catalog.-) 7)
               OPERATOR(pg_catalog.||) pg_catalog.right(digits, 4);
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
    trimmed text := pg_catalog.btrim(name, E' \t\n\r\f\x0b\u00a0\u3000');
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
-- workorder install script, part 96: scheduled reports, written as snapshot tables.
--
--   workorder.report_daily_briefing(day)      one row of workorder.daily_briefings
--   workorder.report_monthly_assessment(month) one row per unit of workorder.monthly_assessments
--
-- Each replaces its own snapshot (the day's row, the month's rows) in one
-- transaction, so rerunning a report is safe and a reader never sees half of one.
-- Days and months are local to the district's zone (setting district_time_zone).
-- The day's activity is counted from the event log; "open" and "overdue open" are
-- the state when the report ran (generated_at).  pg_cron runs them, e.g.
--   SELECT cron.schedule_in_database('workorder daily briefing', '0 23 * * *',
--          'SELECT workorder.report_daily_briefing()', 'nanhai');
-- (pg_cron 1.4 reads schedules in UTC: 23:00 UTC is 07:00 in Asia/Shanghai.)
--
-- SQLSTATE WO821: a report day or month that is infinite or in the future.

CREATE TABLE workorder.daily_briefings (
    day                  date PRIMARY KEY,
    generated_at         timestamptz NOT NULL,
    time_zone            text NOT NULL,
    orders_received      integer NOT NULL,
    orders_dispatched    integer NOT NULL,
    orders_accepted      integer NOT NULL,
    orders_resolved      integer NOT NULL,
    orders_closed        integer NOT NULL,
    orders_returned      integer NOT NULL,
    orders_reopened      integer NOT NULL,
    overdue_marked       integer NOT NULL,
    escalation_steps     integer NOT NULL,
    callbacks            integer NOT NULL,
    callbacks_satisfied  integer NOT NULL,
    satisfaction_rate    numeric,
    open_orders          integer NOT NULL,
    overdue_open_orders  integer NOT NULL,
    received_by_channel  jsonb NOT NULL,
    most_overdue_units   jsonb NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('workorder.daily_briefings', '');
REVOKE ALL ON workorder.daily_briefings FROM PUBLIC;
COMMENT ON TABLE workorder.daily_briefings IS
    'Daily briefing snapshots (workorder.report_daily_briefing): the local day''s activity from the event log, and the open backlog when generated.';
COMMENT ON COLUMN workorder.daily_briefings.received_by_channel IS 'orders received that day per channel: {"hotline_12345": 120, ...}';
COMMENT ON COLUMN workorder.daily_briefings.most_overdue_units IS 'the ten units with the most overdue open orders when generated: [{"unit": ..., "name": ..., "overdue": n}, ...]';

CREATE TABLE workorder.monthly_assessments (
    month                   date NOT NULL,
    unit_code               text NOT NULL,
    unit_name               text NOT NULL,
    unit_kind               text NOT NULL,
    generated_at            timestamptz NOT NULL,
    orders_assigned         integer NOT NULL,
    on_time_accept_rate     numeric,
    on_time_completion_rate numeric,
    resolution_rate         numeric,
    satisfaction_rate       numeric,
    return_rate             numeric,
    redo_rate               numeric,
    extensions              integer NOT NULL,
    overdue_orders          integer NOT NULL,
    composite               numeric,
    rank                    integer,
    list                    text,
    PRIMARY KEY (month, unit_code)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.monthly_assessments', '');
REVOKE ALL ON workorder.monthly_assessments FROM PUBLIC;
COMMENT ON TABLE workorder.monthly_assessments IS
    'Monthly assessment snapshots (workorder.report_monthly_assessment): each unit''s month scores, rank and list as published.';

-- report_period_check raises WO821 for a day that is infinite or after today (in the zone).
CREATE FUNCTION workorder.report_period_check(what text, day date, zone text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF day IS NULL OR NOT pg_catalog.isfinite(day)
       OR day OPERATOR(pg_catalog.>) (pg_catalog.now() AT TIME ZONE zone)::date THEN
        PERFORM workorder.raise_error('WO821', pg_catalog.format('invalid report %s', what),
            pg_catalog.format('The %s is %s; today in %s is %s.', what, COALESCE(day::text, 'NULL'), zone,
                              (pg_catalog.now() AT TIME ZONE zone)::date),
            pg_catalog.format('Pass a past or current %s, or nothing for the last complete one.', what));
    END IF;
END
$$;

-- report_daily_briefing writes the briefing of a local day (default: yesterday in
-- the district's zone), replacing that day's row, and returns it.
CREATE FUNCTION workorder.report_daily_briefing(day date DEFAULT NULL)
RETURNS workorder.daily_briefings
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    zone text := workorder.score_zone();
    the_day date := COALESCE(day, (pg_catalog.now() AT TIME ZONE zone)::date OPERATOR(pg_catalog.-) 1);
    day_start timestamptz;
    day_end timestamptz;
    b workorder.daily_briefings;
BEGIN
    PERFORM workorder.report_period_check('day', the_day, zone);
    day_start := the_day::timestamp AT TIME ZONE zone;
    day_end := (the_day OPERATOR(pg_catalog.+) 1)::timestamp AT TIME ZONE zone;
    b.day := the_day;
    b.generated_at := pg_catalog.clock_timestamp();
    b.time_zone := zone;
    SELECT pg_catalog.count(*) FILTER (WHERE e.action OPERATOR(pg_catalog.=) 'submit'),
           pg_catalog.count(*) FILTER (WHERE e.action IN ('dispatch', 'reassign')),
           pg_catalog.count(*) FILTER (WHERE e.action OPERATOR(pg_catalog.=) 'accept'),
           pg_catalog.count(*) FILTER (WHERE e.action OPERATOR(pg_catalog.=) 'resolve'),
           pg_catalog.count(*) FILTER (WHERE e.action OPERATOR(pg_catalog.=) 'close'),
           pg_catalog.count(*) FILTER (WHERE e.action OPERATOR(pg_catalog.=) 'return'),
           pg_catalog.count(*) FILTER (WHERE e.action OPERATOR(pg_catalog.=) 'reopen'),
           pg_catalog.count(*) FILTER (WHERE e.action OPERATOR(pg_catalog.=) 'overdue'),
           pg_catalog.count(*) FILTER (WHERE e.action OPERATOR(pg_catalog.=) 'callback'),
           pg_catalog.count(*) FILTER (WHERE e.action OPERATOR(pg_catalog.=) 'callback'
                                         AND (e.details OPERATOR(pg_catalog.->>) 'satisfaction')
                                             IN ('satisfied', 'basically_satisfied'))
      INTO b.orders_received, b.orders_dispatched, b.orders_accepted, b.orders_resolved, b.orders_closed,
           b.orders_returned, b.orders_reopened, b.overdue_marked, b.callbacks, b.callbacks_satisfied
      FROM workorder.order_events e
     WHERE e.at OPERATOR(pg_catalog.>=) day_start AND e.at OPERATOR(pg_catalog.<) day_end;
    b.satisfaction_rate := workorder.score_rate(b.callbacks_satisfied, b.callbacks);
    SELECT pg_catalog.count(*) INTO b.escalation_steps FROM workorder.order_escalations s
     WHERE s.done_at OPERATOR(pg_catalog.>=) day_start AND s.done_at OPERATOR(pg_catalog.<) day_end;
    SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE o.overdue)
      INTO b.open_orders, b.overdue_open_orders
      FROM workorder.orders o WHERE o.status IN ('new', 'dispatched', 'accepted', 'suspended');
    SELECT COALESCE(pg_catalog.jsonb_object_agg(x.channel_code, x.n), '{}') INTO b.received_by_channel
      FROM (SELECT o.channel_code, pg_catalog.count(*) AS n
              FROM workorder.order_events e JOIN workorder.orders o ON o.id OPERATOR(pg_catalog.=) e.order_id
             WHERE e.at OPERATOR(pg_catalog.>=) day_start AND e.at OPERATOR(pg_catalog.<) day_end
               AND e.action OPERATOR(pg_catalog.=) 'submit'
             GROUP BY 1) x;
    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('unit', x.unit_code, 'name', x.unit_name,
                                                                       'overdue', x.n) ORDER BY x.n DESC, x.unit_code), '[]')
      INTO b.most_overdue_units
      FROM (SELECT o.main_unit AS unit_code, u.name AS unit_name, pg_catalog.count(*) AS n
              FROM workorder.orders o JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) o.main_unit
             WHERE o.status IN ('new', 'dispatched', 'accepted', 'suspended') AND o.overdue
             GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10) x;
    DELETE FROM workorder.daily_briefings d WHERE d.day OPERATOR(pg_catalog.=) the_day;
    INSERT INTO workorder.daily_briefings SELECT b.*;
    RETURN b;
END
$$;
REVOKE ALL ON FUNCTION workorder.report_daily_briefing(date) FROM PUBLIC;
COMMENT ON FUNCTION workorder.report_daily_briefing(date) IS
    'Writes (replaces) the daily briefing of a local day, default yesterday in the district''s zone; for pg_cron.';

-- report_monthly_assessment recomputes the month's scores from the event log (up to
-- the watermark) and writes them, one row per unit, replacing the month's snapshot;
-- returns the rows written.  month is any day of the month; default: last month.
CREATE FUNCTION workorder.report_monthly_assessment(month date DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    zone text := workorder.score_zone();
    first_day date;
    written integer;
BEGIN
    -- Checked before any arithmetic: a date beyond timestamps' range is refused
    -- as a future month, not with a date/time error.
    month := COALESCE(month, ((pg_catalog.now() AT TIME ZONE zone) OPERATOR(pg_catalog.-) interval '1 month')::date);
    PERFORM workorder.report_period_check('month', month, zone);
    first_day := pg_catalog.date_trunc('month', month::timestamp)::date;
    PERFORM workorder.recompute_scores(first_day,
        (first_day OPERATOR(pg_catalog.+) interval '1 month' OPERATOR(pg_catalog.-) interval '1 day')::date);
    DELETE FROM workorder.monthly_assessments a WHERE a.month OPERATOR(pg_catalog.=) first_day;
    INSERT INTO workorder.monthly_assessments
        (month, unit_code, unit_name, unit_kind, generated_at, orders_assigned, on_time_accept_rate,
         on_time_completion_rate, resolution_rate, satisfaction_rate, return_rate, redo_rate, extensions,
         overdue_orders, composite, rank, list)
    SELECT first_day, s.unit_code, u.name, s.unit_kind::text, pg_catalog.clock_timestamp(), s.orders_assigned,
           s.on_time_accept_rate, s.on_time_completion_rate, s.resolution_rate, s.satisfaction_rate,
           s.return_rate, s.redo_rate, s.extensions, s.overdue, s.composite, s.rank, s.list
      FROM workorder.unit_scores s JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) s.unit_code
     WHERE s.period_kind OPERATOR(pg_catalog.=) 'month' AND s.period_start OPERATOR(pg_catalog.=) first_day;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$$;
REVOKE ALL ON FUNCTION workorder.report_monthly_assessment(date) FROM PUBLIC;
COMMENT ON FUNCTION workorder.report_monthly_assessment(date) IS
    'Recomputes a local month''s scores from the event log and writes (replaces) its snapshot in monthly_assessments; default last month; for pg_cron.';
-- workorder install script, part 98: privileges, granted per group role.
--
-- Nothing is PUBLIC but the ticket type's own functions (its operators and casts
-- check EXECUTE on them, and a ticket is no secret) and raise_error (the triggers
-- that refuse a change call it as whoever made the change, so that anyone refused
-- gets the project's SQLSTATE, not a permission error).  Every other function and
-- every table is revoked from PUBLIC and granted to the group roles of part 96
-- explicitly.  The part is re-runnable, and the upgrade script runs it again
-- (just before part 99), so that a function added by a later part or version is
-- never PUBLIC by accident: it is the admins' until this part grants it on.
--
-- The action functions are recognised by their shape: SECURITY DEFINER functions
-- whose first argument is order_id and that return workorder.orders.  Each locks
-- its order through workorder.order_for_action(), whose access check decides who
-- may act on which order, so a new action is granted with them safely.

DO $grants$
DECLARE
    fn regprocedure;
    grantees text;
    rel regclass;
    everyone constant text := 'workorder_admin, workorder_dispatcher, workorder_handler, workorder_supervisor, workorder_analyst, workorder_intake';
    staff constant text := 'workorder_dispatcher, workorder_handler, workorder_supervisor';
BEGIN
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA workorder TO %s', everyone);

    -- Functions: every function of the schema is the extension's.  None for PUBLIC;
    -- admins run everything.
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'workorder'::regnamespace
         ORDER BY p.oid
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO workorder_admin', fn);
    END LOOP;

    -- Then, by function name, to whom else:
    --   the ticket type's I/O, operator and support functions and helpers, and
    --     raise_error, which triggers call as whoever fires them: PUBLIC;
    --   who is calling (the row-level security policies call these as the reader),
    --     and what the functions below call with the caller's privileges: everyone;
    --   what the staff read with;
    --   submit: dispatchers (who take reports by phone) and connectors, who also
    --     settle their channel's outbox (check_channel_access holds them to it);
    --   the masking functions the bi_* views call (a view checks EXECUTE on its
    --     functions as the reader): analysts.
    FOR fn, grantees IN
        SELECT p.oid::regprocedure, g.grantees
          FROM pg_catalog.pg_proc p
          JOIN (VALUES ('^(ticket_.*|make_ticket|raise_error)$', 'PUBLIC'),
                       ('^(calling_role|caller|caller_(unrestricted|unit|channel|units|area)|check_channel_access|setting'
                        '|wgs84|location_point|nearest_area|area_summary)$', everyone),
                       ('^(explain_route|order_history|allowed_actions|locate'
                        '|add_working_time|working_time_between|add_working_days'
                        '|explain_dedup|text_similarity|address_similarity|similarity_normalize|locate_point)$', staff),
                       ('^submit$', 'workorder_dispatcher, workorder_intake'),
                       ('^(claim_outbox|ack_outbox|fail_outbox|locate|locate_point)$', 'workorder_intake'),
                       -- callbacks (回访) come through a channel's connector, or the staff
                       ('^callback$', pg_catalog.concat('workorder_intake, ', staff)),
                       -- Open311: what a GeoReport front end calls, as a connector
                       -- (a POST is a submit on the connector's own channel).
                       ('^open311_(services|service_definition|requests|request|post_request|error)$',
                        pg_catalog.concat('workorder_intake, ', staff)),
                       ('^(mask_phone|mask_name|coarsen_location)$', 'workorder_analyst'))
               AS g (pattern, grantees) ON p.proname OPERATOR(pg_catalog.~) g.pattern
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'workorder'::regnamespace
         ORDER BY p.oid, g.pattern
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', fn, grantees);
    END LOOP;

    -- The actions, for the staff: the check in order_for_action decides which order
    -- and which action.
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'workorder'::regnamespace
           AND p.prosecdef AND p.prorettype OPERATOR(pg_catalog.=) 'workorder.orders'::pg_catalog.regtype
           AND p.proargnames[1] OPERATOR(pg_catalog.=) 'order_id'
         ORDER BY p.oid
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', fn, staff);
    END LOOP;

    -- Tables and views: none for PUBLIC; admins read everything.
    FOR rel IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'workorder'::regnamespace
           AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
         ORDER BY c.oid
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM PUBLIC', rel);
        EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %s TO workorder_admin', rel);
    END LOOP;

    -- Reference data (no personal data): the staff and connectors read it; admins
    -- write it (the loaders run with the caller's privileges, and the triggers they
    -- set off write the derived tables).
    FOR rel IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'workorder'::regnamespace
           AND c.relname IN ('settings', 'areas', 'area_pieces', 'area_repairs', 'department_kinds', 'units',
                             'categories', 'category_effective', 'category_defaults', 'channels', 'channel_categories',
                             'routing_rules', 'order_actions', 'role_actions', 'calendars', 'calendar_hours',
                             'calendar_days', 'calendar_changes', 'sla_policies', 'sla_priority_policies',
                             'sla_escalation_steps', 'dedup_rules', 'dedup_policies', 'hotspot_policies', 'hotspot_settings', 'detection_rules')
         ORDER BY c.oid
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %s TO %s, workorder_intake', rel, staff);
        IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel) OPERATOR(pg_catalog.=) 'r'
           AND rel OPERATOR(pg_catalog.<>) 'workorder.role_actions'::pg_catalog.regclass THEN
            EXECUTE pg_catalog.format('GRANT INSERT, UPDATE, DELETE ON TABLE %s TO workorder_admin', rel);
        END IF;
    END LOOP;
    GRANT INSERT, UPDATE, DELETE ON TABLE workorder.logins, workorder.worker_tasks TO workorder_admin;

    -- Orders and their log: read under row-level security (part 96), changed only
    -- through the functions.  The outbox and the inbox: the connectors' own rows.
    EXECUTE pg_catalog.format('GRANT SELECT ON TABLE workorder.orders, workorder.order_events TO %s, workorder_intake', staff);
    GRANT SELECT ON TABLE workorder.outbox, workorder.inbox_mine TO workorder_intake;
    -- What the worker finds and the scores and reports (no personal data): the
    -- staff read them.  Cameras' connectors
    -- COPY their detections into the detection inbox.
    EXECUTE pg_catalog.format('GRANT SELECT ON TABLE workorder.hotspots, workorder.hotspot_runs, '
                              'workorder.detections, workorder.detection_aggregates, workorder.detection_rejects, '
                              'workorder.order_detections, workorder.unit_scores, workorder.daily_briefings, '
                              'workorder.monthly_assessments TO %s', staff);
    GRANT INSERT (camera_id, kind, detected_at, lon, lat, confidence, attributes)
       ON TABLE workorder.detection_inbox TO workorder_intake, workorder_admin;
    GRANT INSERT (channel, channel_ref, category, description, lon, lat, address, reporter_name, reporter_phone,
                  occurred_at, attributes, priority)
       ON TABLE workorder.inbox TO workorder_intake, workorder_admin;

    -- Analysts: every masked view, including those other parts add.
    FOR rel IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'workorder'::regnamespace
           AND c.relkind IN ('v', 'm')
           AND c.relname OPERATOR(pg_catalog.~~) 'bi\_%'
         ORDER BY c.oid
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %s TO workorder_analyst', rel);
    END LOOP;
END
$grants$;
-- workorder install script, part 99: pin the search_path of every function.
--
-- Function bodies call PostGIS by its unqualified names, because PostGIS is
-- relocatable and its schema is only known at install time.  Pinning each
-- function's search_path to pg_catalog, the PostGIS schema and pg_temp (last)
-- means a caller's search_path, however hostile, cannot change what a body calls.
-- C functions name what they call themselves and are left alone, except those
-- that run as the owner (SECURITY DEFINER), which are pinned all the same.

DO $harden$
DECLARE
    postgis_schema text := (SELECT n.nspname FROM pg_catalog.pg_extension e
                              JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
                             WHERE e.extname OPERATOR(pg_catalog.=) 'postgis');
    fn regprocedure;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_depend d ON d.objid OPERATOR(pg_catalog.=) p.oid
           AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::regclass
           AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::regclass
           AND d.deptype OPERATOR(pg_catalog.=) 'e'
          JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
         WHERE e.extname OPERATOR(pg_catalog.=) 'workorder'
           AND p.prokind OPERATOR(pg_catalog.=) 'f'
           AND (p.prolang OPERATOR(pg_catalog.<>) (SELECT l.oid FROM pg_catalog.pg_language l
                                                    WHERE l.lanname OPERATOR(pg_catalog.=) 'c')
                OR p.prosecdef)
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
                                  fn, postgis_schema);
    END LOOP;
END
$harden$;
