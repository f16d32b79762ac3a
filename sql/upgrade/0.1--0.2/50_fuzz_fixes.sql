-- workorder 0.1 -> 0.2: fixes that fuzzing found (test/scenario/fuzz.t), covered by
-- test/fuzz_fixes_test.sql.  Each function is as in the install part named; see
-- there for why.
--   install/15_geometry.sql  wgs84: TRIANGLE, TIN and POLYHEDRALSURFACE are WO101,
--                            not GEOS's internal error (XX000)
--   install/20_areas.sql     load_area: a code of the wrong length for its level is
--                            WO201, not 23514
--   install/25_locate.sql    nearest_area: checks its point (WO101) and tolerance
--                            (WO103); a tolerance under a millimetre no longer
--                            underflows (22003)
--   install/45_loaders.sql   the single-row loaders load a batch of one (WO210 for a
--                            bad object, not 22023/22P02/23502); the row functions
--                            are load_*_row
--   install/80_calendar.sql  csv_fields: NULL gives NULL (it looped until out of
--                            memory); a line without quotes splits in one pass


CREATE OR REPLACE FUNCTION workorder.wgs84(given geometry, subject text)
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

CREATE OR REPLACE FUNCTION workorder.load_area(
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
    IF pg_catalog.length(code) OPERATOR(pg_catalog.<>) (CASE level WHEN 'district' THEN 6 WHEN 'town' THEN 9
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

CREATE OR REPLACE FUNCTION workorder.nearest_area(point geometry, parent text, tolerance_m double precision,
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

CREATE OR REPLACE FUNCTION workorder.csv_fields(line text)
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

CREATE FUNCTION workorder.load_department_kind_row(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO workorder.department_kinds AS d (code, name)
    VALUES (item OPERATOR(pg_catalog.->>) 'code', item OPERATOR(pg_catalog.->>) 'name')
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name
$$;

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

CREATE OR REPLACE FUNCTION workorder.load_department_kinds(kinds jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(kinds, 'department kind', 'no parent',
                                'workorder.load_department_kind_row(jsonb)'::regprocedure)
$$;

CREATE OR REPLACE FUNCTION workorder.load_units(units jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(units, 'unit', 'parent_code', 'workorder.load_unit_row(jsonb)'::regprocedure)
$$;

CREATE OR REPLACE FUNCTION workorder.load_categories(categories jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(categories, 'category', 'parent_code',
                                'workorder.load_category_row(jsonb)'::regprocedure)
$$;

CREATE OR REPLACE FUNCTION workorder.load_channels(channels jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(channels, 'channel', 'no parent', 'workorder.load_channel_row(jsonb)'::regprocedure)
$$;

CREATE OR REPLACE FUNCTION workorder.load_department_kind(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(pg_catalog.jsonb_build_array(item), 'department kind', 'no parent',
                                'workorder.load_department_kind_row(jsonb)'::regprocedure)
$$;

CREATE OR REPLACE FUNCTION workorder.load_unit(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(pg_catalog.jsonb_build_array(item), 'unit', 'parent_code',
                                'workorder.load_unit_row(jsonb)'::regprocedure)
$$;

CREATE OR REPLACE FUNCTION workorder.load_category(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(pg_catalog.jsonb_build_array(item), 'category', 'parent_code',
                                'workorder.load_category_row(jsonb)'::regprocedure)
$$;

CREATE OR REPLACE FUNCTION workorder.load_channel(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(pg_catalog.jsonb_build_array(item), 'channel', 'no parent',
                                'workorder.load_channel_row(jsonb)'::regprocedure)
$$;
