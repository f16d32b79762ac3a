-- 0.4: dedup's candidate search reads orders_location_idx, now a GiST index on
-- (location, received_at) (btree_gist, which 0.4 requires: CREATE EXTENSION
-- btree_gist before ALTER EXTENSION workorder UPDATE), instead of
-- orders_dedup_idx, an n-dimensional PostGIS index on (lon, lat, a time axis).
-- The new index answers the same search about five times faster (on bench/dedup's
-- database of a million orders, 19 us a search against 92 us) and replaces two
-- indexes with one, so every order writes one GiST entry less.  The update rebuilds the index: it holds a lock that blocks
-- writes to workorder.orders while it builds.
DROP INDEX workorder.orders_dedup_idx;
-- dedup_time_axis() stays (see 62_dedup.sql): a backend still running 0.3's
-- library calls it until the server restarts.
DROP INDEX workorder.orders_location_idx;
CREATE INDEX orders_location_idx ON workorder.orders USING gist (location, received_at);
-- Every function of the install parts the previous version had, as it is now.

CREATE OR REPLACE FUNCTION workorder.setting(setting_name text, default_value text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_setting'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.raise_error(sqlstate text, message text, detail text, hint text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = message,
                          DETAIL = detail, HINT = hint;
END
$$;

CREATE OR REPLACE FUNCTION workorder.ticket_in(cstring)
RETURNS workorder.ticket
AS 'MODULE_PATHNAME', 'ticket_in'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.ticket_out(workorder.ticket)
RETURNS cstring
AS 'MODULE_PATHNAME', 'ticket_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.ticket_recv(internal)
RETURNS workorder.ticket
AS 'MODULE_PATHNAME', 'ticket_recv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.ticket_send(workorder.ticket)
RETURNS bytea
AS 'MODULE_PATHNAME', 'ticket_send'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.ticket_eq(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_eq'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OR REPLACE FUNCTION workorder.ticket_ne(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_ne'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OR REPLACE FUNCTION workorder.ticket_lt(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_lt'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OR REPLACE FUNCTION workorder.ticket_le(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_le'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OR REPLACE FUNCTION workorder.ticket_gt(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_gt'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OR REPLACE FUNCTION workorder.ticket_ge(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_ge'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OR REPLACE FUNCTION workorder.ticket_cmp(workorder.ticket, workorder.ticket)
RETURNS integer
AS 'MODULE_PATHNAME', 'ticket_cmp'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OR REPLACE FUNCTION workorder.ticket_sortsupport(internal)
RETURNS void
AS 'MODULE_PATHNAME', 'ticket_sortsupport'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.ticket_hash(workorder.ticket)
RETURNS integer
AS 'MODULE_PATHNAME', 'ticket_hash'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OR REPLACE FUNCTION workorder.ticket_hash_extended(workorder.ticket, bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ticket_hash_extended'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OR REPLACE FUNCTION workorder.make_ticket(day date, seq integer)
RETURNS workorder.ticket
AS 'MODULE_PATHNAME', 'ticket_make'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.make_ticket(date, integer) IS
    'the ticket with this issue day (2000-01-01 .. 2099-12-31) and sequence number (1 .. 999999)';

CREATE OR REPLACE FUNCTION workorder.ticket_day(workorder.ticket)
RETURNS date
AS 'MODULE_PATHNAME', 'ticket_day'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION workorder.ticket_day(workorder.ticket) IS
    'the day a ticket was issued for';

CREATE OR REPLACE FUNCTION workorder.ticket_seq(workorder.ticket)
RETURNS integer
AS 'MODULE_PATHNAME', 'ticket_seq'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION workorder.ticket_seq(workorder.ticket) IS
    'the sequence number of a ticket within its day';

CREATE OR REPLACE FUNCTION workorder.ticket_check_digit(digits text)
RETURNS integer
AS 'MODULE_PATHNAME', 'ticket_check_digit'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.ticket_check_digit(text) IS
    'the Damm check digit of 14 digits YYYYMMDDNNNNNN (or YYYYMMDD-NNNNNN)';

CREATE OR REPLACE FUNCTION workorder.next_ticket(
    day date DEFAULT (pg_catalog.now() AT TIME ZONE 'Asia/Shanghai')::date)
RETURNS workorder.ticket
AS 'MODULE_PATHNAME', 'ticket_next'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION workorder.next_ticket(date) IS
    'issue the next ticket of a day (default: today in Asia/Shanghai); unique, safe under concurrency';

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

CREATE OR REPLACE FUNCTION workorder.location_point(location geometry, subject text DEFAULT 'location')
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

CREATE OR REPLACE FUNCTION workorder.area_m2(polygon geometry)
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

CREATE OR REPLACE FUNCTION workorder.areas_before_write()
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

CREATE OR REPLACE FUNCTION workorder.areas_after_write()
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

CREATE OR REPLACE FUNCTION workorder.area_polygon(area_code text, polygon geometry)
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

CREATE OR REPLACE FUNCTION workorder.load_areas_geojson(
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

CREATE OR REPLACE FUNCTION workorder.area_summary(area_code text,
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

CREATE OR REPLACE FUNCTION workorder.locate(location geometry, tolerance_m double precision DEFAULT NULL)
RETURNS workorder.location
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN workorder.locate_point(workorder.location_point(location), tolerance_m);
END
$$;

CREATE OR REPLACE FUNCTION workorder.locate_point(point geometry, tolerance_m double precision DEFAULT NULL)
RETURNS workorder.location
AS 'MODULE_PATHNAME', 'locate_locate_point'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.locate(lon double precision, lat double precision,
                                 tolerance_m double precision DEFAULT NULL)
RETURNS workorder.location
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT workorder.locate(ST_SetSRID(ST_MakePoint(lon, lat), 4326), tolerance_m)
$$;

CREATE OR REPLACE FUNCTION workorder.check_areas(min_area_m2 double precision DEFAULT 1.0)
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

CREATE OR REPLACE FUNCTION workorder.units_before_write()
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

CREATE OR REPLACE FUNCTION workorder.categories_before_write()
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

CREATE OR REPLACE FUNCTION workorder.categories_after_change()
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

CREATE OR REPLACE FUNCTION workorder.map_category(channel text, category text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_map_category'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.channel_is_active(channel text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'reference_channel_is_active'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.batch_depths(batch jsonb, parent_key text)
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

CREATE OR REPLACE FUNCTION workorder.batch_in_order(batch jsonb, what text, parent_key text)
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

CREATE OR REPLACE FUNCTION workorder.load_batch(batch jsonb, what text, parent_key text, load_one regprocedure)
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

CREATE OR REPLACE FUNCTION workorder.load_department_kind_row(item jsonb)
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO workorder.department_kinds AS d (code, name)
    VALUES (item OPERATOR(pg_catalog.->>) 'code', item OPERATOR(pg_catalog.->>) 'name')
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name
$$;

CREATE OR REPLACE FUNCTION workorder.load_department_kinds(kinds jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(kinds, 'department kind', 'no parent',
                                'workorder.load_department_kind_row(jsonb)'::regprocedure)
$$;

CREATE OR REPLACE FUNCTION workorder.load_unit_row(item jsonb)
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

CREATE OR REPLACE FUNCTION workorder.load_units(units jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(units, 'unit', 'parent_code', 'workorder.load_unit_row(jsonb)'::regprocedure)
$$;

CREATE OR REPLACE FUNCTION workorder.load_category_row(item jsonb)
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

CREATE OR REPLACE FUNCTION workorder.load_categories(categories jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT workorder.load_batch(categories, 'category', 'parent_code',
                                'workorder.load_category_row(jsonb)'::regprocedure)
$$;

CREATE OR REPLACE FUNCTION workorder.load_channel_row(item jsonb)
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

CREATE OR REPLACE FUNCTION workorder.refuse_direct_change()
RETURNS trigger
AS 'MODULE_PATHNAME', 'eventlog_refuse_direct_change'
LANGUAGE C;

CREATE OR REPLACE FUNCTION workorder.allowed_actions(status workorder.order_status)
RETURNS text[]
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN ARRAY(SELECT a.action FROM workorder.order_actions a
                  WHERE a.from_status OPERATOR(pg_catalog.=) status ORDER BY a.action);
END
$$;

CREATE OR REPLACE FUNCTION workorder.order_for_action(order_id bigint, action text)
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

CREATE OR REPLACE FUNCTION workorder.log_event(o workorder.orders, action text, actor text,
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

CREATE OR REPLACE FUNCTION workorder.check_actor(actor text)
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

CREATE OR REPLACE FUNCTION workorder.event_hash(prev bytea, e workorder.order_events)
RETURNS bytea
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'eventlog_event_hash';
COMMENT ON FUNCTION workorder.event_hash(bytea, workorder.order_events) IS
    'SHA-256 of prev (the hash of the order''s event before, or 32 zero bytes) and the event''s content: the hash chain of the event log.';

CREATE OR REPLACE FUNCTION workorder.loaded_by_copy(target regclass)
RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'eventlog_loaded_by_copy';
COMMENT ON FUNCTION workorder.loaded_by_copy(regclass) IS
    'True while the top-level statement is a COPY FROM into the table (a restore): statement triggers skip what only actions should cause.';

CREATE OR REPLACE FUNCTION workorder.order_events_chain()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'order_events_chain';

CREATE OR REPLACE FUNCTION workorder.verify_log(of_order bigint DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.category_settings(category text,
    OUT code text, OUT family text, OUT path text[], OUT handling_level workorder.area_level,
    OUT department_kind text, OUT sla_policy text, OUT dedup_radius_m double precision,
    OUT dedup_window interval)
AS 'MODULE_PATHNAME', 'reference_category_settings'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.resolve_unit(target workorder.route_target, department_kind text,
                                       level workorder.area_level, area_chain text[], fixed_unit text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_resolve_unit'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.route_steps(category text, channel text, area_chain text[],
                                      priority workorder.order_priority, description text)
RETURNS TABLE (step integer, rule_id bigint, rule_name text, matched boolean, chosen boolean,
               reason text, handling_level workorder.area_level, unit_code text,
               assisting_units text[], sla_policy text)
AS 'MODULE_PATHNAME', 'routing_route_steps'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.dispatch_center()
RETURNS text
AS 'MODULE_PATHNAME', 'reference_dispatch_center'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.check_text(value text, what text, max_length integer, required boolean)
RETURNS text
AS 'MODULE_PATHNAME', 'intake_check_text'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

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
AS 'MODULE_PATHNAME', 'intake_submit'
LANGUAGE C VOLATILE
SECURITY DEFINER;

CREATE OR REPLACE FUNCTION workorder.explain_route(order_id bigint)
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

CREATE OR REPLACE FUNCTION workorder.dedup_time_axis(timestamptz)
RETURNS double precision
AS 'MODULE_PATHNAME', 'workorder_dedup_time_axis'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.dedup_time_axis(timestamptz) IS
    'The time axis of 0.3''s dedup index: days since 2000-01-01 00:00 UTC times 0.001. Unused since 0.4.';

CREATE OR REPLACE FUNCTION workorder.text_similarity(a text, b text)
RETURNS double precision
AS 'MODULE_PATHNAME', 'workorder_text_similarity'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.text_similarity(text, text) IS
    'How alike two report descriptions are, in [0, 1]: character and bigram Dice after normalisation (width, case, punctuation, digit runs, fillers).';

CREATE OR REPLACE FUNCTION workorder.text_similarity(a text, b text, ignore text)
RETURNS double precision
AS 'MODULE_PATHNAME', 'workorder_text_similarity_ignoring'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.text_similarity(text, text, text) IS
    'text_similarity(a, b) with the characters and bigrams of ignore (e.g. the addresses) left out of both: what happened, not where.';

CREATE OR REPLACE FUNCTION workorder.address_similarity(a text, b text)
RETURNS double precision
AS 'MODULE_PATHNAME', 'workorder_address_similarity'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.address_similarity(text, text) IS
    'How alike two addresses are, in [0, 1]: text similarity with house numbers kept, averaged with bigram containment.';

CREATE OR REPLACE FUNCTION workorder.similarity_normalize(t text, for_address boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'workorder_similarity_normalize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.similarity_normalize(text, boolean) IS
    'The normalised form that text_similarity (or, for_address, address_similarity) compares.';

CREATE OR REPLACE FUNCTION workorder.dedup_policy(category text)
RETURNS workorder.dedup_policy
AS 'MODULE_PATHNAME', 'workorder_dedup_policy'
LANGUAGE C STABLE;

CREATE OR REPLACE FUNCTION workorder.dedup_phone(phone text)
RETURNS text
AS 'MODULE_PATHNAME', 'workorder_dedup_phone'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.dedup_lock(family text, point geometry, radius_m double precision)
RETURNS void
AS 'MODULE_PATHNAME', 'workorder_dedup_lock'
LANGUAGE C;

CREATE OR REPLACE FUNCTION workorder.dedup_candidates(p workorder.dedup_policy, point geometry, received timestamptz,
                                           description text, address text, reporter_phone text,
                                           exclude_order bigint DEFAULT NULL)
RETURNS SETOF workorder.dedup_candidate
AS 'MODULE_PATHNAME', 'workorder_dedup_candidates'
LANGUAGE C;

CREATE OR REPLACE FUNCTION workorder.dedup_decide(category text, point geometry, received timestamptz,
                                       description text, address text, reporter_phone text)
RETURNS workorder.dedup_decision
AS 'MODULE_PATHNAME', 'workorder_dedup_decide'
LANGUAGE C;

CREATE OR REPLACE FUNCTION workorder.dedup_apply(o workorder.orders, d workorder.dedup_decision)
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

CREATE OR REPLACE FUNCTION workorder.explain_dedup(order_id bigint)
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

CREATE OR REPLACE FUNCTION workorder.review_duplicate(order_id bigint, actor text, decision text,
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

CREATE OR REPLACE FUNCTION workorder.action_error(o workorder.orders, action text, sqlstate text,
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

CREATE OR REPLACE FUNCTION workorder.action_text(o workorder.orders, action text, what text,
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

CREATE OR REPLACE FUNCTION workorder.action_unit(o workorder.orders, action text, what text, code text)
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

CREATE OR REPLACE FUNCTION workorder.action_status(action text, from_status workorder.order_status)
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

CREATE OR REPLACE FUNCTION workorder.interval_iso(i interval)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET IntervalStyle = 'iso_8601'
AS $$
BEGIN
    RETURN i::text;
END
$$;

CREATE OR REPLACE FUNCTION workorder.dropped_extension(o workorder.orders)
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

CREATE OR REPLACE FUNCTION workorder.dispatcher(actor text, current_unit text)
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

CREATE OR REPLACE FUNCTION workorder.action_done(after workorder.orders, action text, actor text,
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

CREATE OR REPLACE FUNCTION workorder.dispatch(order_id bigint, actor text, unit text, note text DEFAULT NULL,
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

CREATE OR REPLACE FUNCTION workorder.deadline_standing(due_at timestamptz, marked_overdue boolean)
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

CREATE OR REPLACE FUNCTION workorder.plain_action(order_id bigint, actor text, note text, action text)
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

CREATE OR REPLACE FUNCTION workorder.accept(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
    RETURN workorder.plain_action(order_id, actor, note, 'accept');
END
$$;

CREATE OR REPLACE FUNCTION workorder.return_order(order_id bigint, actor text, reason text)
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

CREATE OR REPLACE FUNCTION workorder.reassign(order_id bigint, actor text, unit text, note text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.suspend(order_id bigint, actor text, reason text)
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

CREATE OR REPLACE FUNCTION workorder.resume(order_id bigint, actor text, note text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.request_extension(order_id bigint, actor text, extension interval, reason text)
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

CREATE OR REPLACE FUNCTION workorder.approve_extension(order_id bigint, actor text, note text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.reject_extension(order_id bigint, actor text, reason text)
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

CREATE OR REPLACE FUNCTION workorder.resolve(order_id bigint, actor text, result text)
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

CREATE OR REPLACE FUNCTION workorder.verify(order_id bigint, actor text, passed boolean, note text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.close(order_id bigint, actor text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
    RETURN workorder.plain_action(order_id, actor, note, 'close');
END
$$;

CREATE OR REPLACE FUNCTION workorder.reopen(order_id bigint, actor text, reason text)
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

CREATE OR REPLACE FUNCTION workorder.merge(order_id bigint, master_id bigint, actor text, note text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.unmerge(order_id bigint, actor text, note text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.cancel(order_id bigint, actor text, reason text)
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

CREATE OR REPLACE FUNCTION workorder.supervise(order_id bigint, actor text, note text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.comment(order_id bigint, actor text, note text)
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

CREATE OR REPLACE FUNCTION workorder.order_history(order_id bigint)
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

CREATE OR REPLACE FUNCTION workorder.callback_redo(category text)
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

CREATE OR REPLACE FUNCTION workorder.callback_verdict(o workorder.orders, who text, verdict text, said text,
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

CREATE OR REPLACE FUNCTION workorder.callback(order_id bigint, channel text, callback_ref text, verdict text,
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

CREATE OR REPLACE FUNCTION workorder.inbox_timestamptz(value text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET TimeZone = 'Asia/Shanghai'
SET DateStyle = 'ISO, YMD'
AS $$
BEGIN
    RETURN value::timestamptz;
END
$$;

CREATE OR REPLACE FUNCTION workorder.drain_inbox(max_rows integer DEFAULT 1000)
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
COMMENT ON FUNCTION workorder.drain_inbox(integer) IS
    'Makes orders of up to max_rows pending workorder.inbox rows through submit(); returns how many were accepted and rejected.';

CREATE OR REPLACE FUNCTION workorder.outbox_from_events()
RETURNS trigger
AS 'MODULE_PATHNAME', 'outbox_from_events'
LANGUAGE C;

CREATE OR REPLACE FUNCTION workorder.outbox_bad_argument(what text, detail text, hint text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.raise_error('WO603', pg_catalog.format('invalid %s for the outbox', what), detail, hint);
END
$$;

CREATE OR REPLACE FUNCTION workorder.outbox_claimer(claimer text)
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

CREATE OR REPLACE FUNCTION workorder.claim_outbox(channel text, max_messages integer DEFAULT 100,
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

CREATE OR REPLACE FUNCTION workorder.outbox_claimed(message_id bigint, claimer text, action text)
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

CREATE OR REPLACE FUNCTION workorder.ack_outbox(message_id bigint, claimer text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.outbox_backoff(attempts integer)
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

CREATE OR REPLACE FUNCTION workorder.fail_outbox(message_id bigint, error text, claimer text DEFAULT NULL)
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
COMMENT ON FUNCTION workorder.claim_outbox(text, integer, interval, text) IS
    'Claims due outbox messages of a channel for a lease (at least once; two claims never share a message).';
COMMENT ON FUNCTION workorder.ack_outbox(bigint, text) IS 'Marks a claimed outbox message delivered (idempotent).';
COMMENT ON FUNCTION workorder.fail_outbox(bigint, text, text) IS
    'Gives a claimed outbox message back after a failed delivery: pending after a backoff, or dead after outbox_max_attempts.';

CREATE OR REPLACE FUNCTION workorder.calendar_must_exist(calendar text)
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

CREATE OR REPLACE FUNCTION workorder.calendars_before_write()
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

CREATE OR REPLACE FUNCTION workorder.calendar_hours_before_write()
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

CREATE OR REPLACE FUNCTION workorder.calendar_hours_after_write()
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

CREATE OR REPLACE FUNCTION workorder.calendar_days_before_write()
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

CREATE OR REPLACE FUNCTION workorder.calendar_data_changed()
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

CREATE OR REPLACE FUNCTION workorder.calendar_cache_invalidate()
RETURNS trigger
AS 'MODULE_PATHNAME', 'calendar_cache_invalidate'
LANGUAGE C;

CREATE OR REPLACE FUNCTION workorder.add_working_time(start timestamptz, duration interval, calendar text DEFAULT 'cn')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'calendar_add_working_time'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.working_time_between(a timestamptz, b timestamptz, calendar text DEFAULT 'cn')
RETURNS interval
AS 'MODULE_PATHNAME', 'calendar_working_time_between'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.add_working_days(start timestamptz, days integer, calendar text DEFAULT 'cn')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'calendar_add_working_days'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION workorder.calendar_spans(calendar text, first_day date, last_day date)
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

CREATE OR REPLACE FUNCTION workorder.load_calendar_rows(calendar text, items jsonb, source text,
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

CREATE OR REPLACE FUNCTION workorder.load_calendar_days(calendar text, days jsonb,
    OUT inserted integer, OUT updated integer, OUT unchanged integer, OUT first_day date, OUT last_day date)
LANGUAGE sql
AS $$
    SELECT * FROM workorder.load_calendar_rows(calendar, days, 'json')
$$;

CREATE OR REPLACE FUNCTION workorder.load_calendar_csv(calendar text, csv text,
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

CREATE OR REPLACE FUNCTION workorder.sla_amount_error(clock text, amount interval)
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

CREATE OR REPLACE FUNCTION workorder.sla_policies_before_write()
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

CREATE OR REPLACE FUNCTION workorder.sla_policy(policy text)
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

CREATE OR REPLACE FUNCTION workorder.choose_sla_policy(rule_id bigint, priority workorder.order_priority, category text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_choose_sla_policy'
LANGUAGE C STABLE;

CREATE OR REPLACE FUNCTION workorder.deadline_after(start timestamptz, clock text, amount interval, calendar text DEFAULT 'cn')
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

CREATE OR REPLACE FUNCTION workorder.sla_warn_at(start timestamptz, due timestamptz, clock text, fraction numeric,
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

CREATE OR REPLACE FUNCTION workorder.sla_shift(due timestamptz, clock text, paused_from timestamptz, paused_to timestamptz,
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

CREATE OR REPLACE FUNCTION workorder.sla_extend(due timestamptz, clock text, extension interval, calendar text DEFAULT 'cn')
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

CREATE OR REPLACE FUNCTION workorder.sla_dispatched(o workorder.orders, at timestamptz, fresh boolean DEFAULT false)
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

CREATE OR REPLACE FUNCTION workorder.sla_intake(rule_id bigint, priority workorder.order_priority, category text,
                                     received timestamptz,
                                     OUT policy text, OUT accept_due_at timestamptz,
                                     OUT resolve_due_at timestamptz, OUT warn_at timestamptz)
AS 'MODULE_PATHNAME', 'deadlines_sla_intake'
LANGUAGE C STABLE;

CREATE OR REPLACE FUNCTION workorder.sla_resumed(o workorder.orders, suspended_at timestamptz, resumed_at timestamptz)
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

CREATE OR REPLACE FUNCTION workorder.sla_extended(o workorder.orders, extension interval,
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

CREATE OR REPLACE FUNCTION workorder.sla_next_check(o workorder.orders)
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

CREATE OR REPLACE FUNCTION workorder.orders_sla_next_check()
RETURNS trigger
AS 'MODULE_PATHNAME', 'deadlines_orders_sla_next_check'
LANGUAGE C;

CREATE OR REPLACE FUNCTION workorder.sla_escalation_steps_before_write()
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

CREATE OR REPLACE FUNCTION workorder.escalation_at(policy text, resolve_due timestamptz, after interval)
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

CREATE OR REPLACE FUNCTION workorder.escalation_next(o workorder.orders)
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

CREATE OR REPLACE FUNCTION workorder.orders_escalation_next()
RETURNS trigger
AS 'MODULE_PATHNAME', 'deadlines_orders_escalation_next'
LANGUAGE C;

CREATE OR REPLACE FUNCTION workorder.sla_escalation_steps_after_write()
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

CREATE OR REPLACE FUNCTION workorder.hotspot_policies_before_write()
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

CREATE OR REPLACE FUNCTION workorder.detect_hotspots(as_of timestamptz DEFAULT pg_catalog.now())
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
COMMENT ON FUNCTION workorder.detect_hotspots(timestamptz) IS
    'Finds the places where a category''s orders cluster beyond their baseline in the window ending at as_of; records, updates and ends workorder.hotspots; raises proactive orders.';

CREATE OR REPLACE FUNCTION workorder.reference_cache_invalidate()
RETURNS trigger
AS 'MODULE_PATHNAME', 'reference_cache_invalidate'
LANGUAGE C;

CREATE OR REPLACE FUNCTION workorder.detection_rules_before_write()
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

CREATE OR REPLACE FUNCTION workorder.detection_refuse(column_name text, value text, why text)
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

CREATE OR REPLACE FUNCTION workorder.detection_unconvertible(inbox_id bigint)
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

CREATE OR REPLACE FUNCTION workorder.ingest_detection_rows(ids bigint[], default_count integer,
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

CREATE OR REPLACE FUNCTION workorder.raise_detection_orders(max_orders integer DEFAULT 100)
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

CREATE OR REPLACE FUNCTION workorder.ingest_detections(max_rows integer DEFAULT 10000,
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
COMMENT ON FUNCTION workorder.ingest_detections(integer) IS
    'Moves up to max_rows rows of workorder.detection_inbox into workorder.detections (bad rows to detection_rejects), counts them, and raises the orders of aggregates over their threshold.';

CREATE OR REPLACE FUNCTION workorder.open311_time(t timestamptz)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN pg_catalog.to_char(t AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS') OPERATOR(pg_catalog.||) '+08:00';
END
$$;

CREATE OR REPLACE FUNCTION workorder.open311_public_text(value text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    value := pg_catalog.regexp_replace(value, '(?<![0-9])[1-9][0-9]{5}(19|20)[0-9]{9}[0-9Xx](?![0-9])', '******************', 'g');
    RETURN pg_catalog.regexp_replace(value, '(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])', '\1****\2', 'g');
END
$$;

CREATE OR REPLACE FUNCTION workorder.open311_jurisdiction(jurisdiction_id text)
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

CREATE OR REPLACE FUNCTION workorder.open311_service_category(service_code text)
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

CREATE OR REPLACE FUNCTION workorder.open311_services(jurisdiction_id text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.open311_service_definition(service_code text, jurisdiction_id text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.open311_request_json(o workorder.orders)
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

CREATE OR REPLACE FUNCTION workorder.open311_requests(service_request_id text DEFAULT NULL, service_code text DEFAULT NULL,
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

CREATE OR REPLACE FUNCTION workorder.open311_request(service_request_id text, jurisdiction_id text DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.open311_post_request(request jsonb)
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

CREATE OR REPLACE FUNCTION workorder.open311_error(sqlstate text, message text)
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

CREATE OR REPLACE FUNCTION workorder.task_drain_inbox()
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

CREATE OR REPLACE FUNCTION workorder.task_trim_run_log()
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

CREATE OR REPLACE FUNCTION workorder.due_tasks()
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

CREATE OR REPLACE FUNCTION workorder.run_task(task text,
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
COMMENT ON FUNCTION workorder.run_task(text) IS
    'Runs one background task (see workorder.worker_tasks); returns whether it went well, its rows and detail, and when it is next due.';

CREATE OR REPLACE FUNCTION workorder.run_due_work()
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
COMMENT ON FUNCTION workorder.run_due_work() IS
    'Runs every background task of this database now; safe beside a running worker; returns the next due instant, or NULL.';

CREATE OR REPLACE FUNCTION workorder.wake_launcher()
RETURNS boolean
AS 'MODULE_PATHNAME', 'workorder_wake_launcher'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION workorder.wake_worker()
RETURNS boolean
AS 'MODULE_PATHNAME', 'workorder_wake_worker'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION workorder.worker_slots(
    OUT datid oid, OUT datname name, OUT pid integer, OUT state text,
    OUT started_at timestamptz, OUT last_pass_at timestamptz,
    OUT passes bigint, OUT failures bigint,
    OUT last_error text, OUT last_error_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'workorder_worker_slots'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION workorder.task_outbox_expire()
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

CREATE OR REPLACE FUNCTION workorder.deadline_event(o workorder.orders, kind text, due_at timestamptz)
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

CREATE OR REPLACE FUNCTION workorder.task_deadline_check()
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

CREATE OR REPLACE FUNCTION workorder.task_escalate(now timestamptz DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION workorder.sla_recomputed(o workorder.orders,
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

CREATE OR REPLACE FUNCTION workorder.recompute_keep(stored timestamptz, fresh timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN stored IS NULL OR fresh IS NULL THEN COALESCE(fresh, stored)
                WHEN pg_catalog.abs(pg_catalog.date_part('epoch', fresh OPERATOR(pg_catalog.-) stored))
                     OPERATOR(pg_catalog.<) 1 THEN stored
                ELSE fresh END
$$;

CREATE OR REPLACE FUNCTION workorder.task_calendar_recompute()
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

CREATE OR REPLACE FUNCTION workorder.task_ingest_detections()
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

CREATE OR REPLACE FUNCTION workorder.task_detect_hotspots()
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

CREATE OR REPLACE FUNCTION workorder.score_zone()
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

CREATE OR REPLACE FUNCTION workorder.score_number(setting_name text, default_value text)
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

CREATE OR REPLACE FUNCTION workorder.score_weights()
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

CREATE OR REPLACE FUNCTION workorder.score_facts(after_id bigint, through_id bigint, since_day date, zone text)
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

CREATE OR REPLACE FUNCTION workorder.score_rate(numerator integer, denominator integer)
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

CREATE OR REPLACE FUNCTION workorder.score_derive(kinds text[], starts date[])
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

CREATE OR REPLACE FUNCTION workorder.score_apply(after_id bigint, through_id bigint)
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

CREATE OR REPLACE FUNCTION workorder.task_score_update()
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

CREATE OR REPLACE FUNCTION workorder.recompute_scores(from_day date DEFAULT NULL, to_day date DEFAULT NULL)
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
COMMENT ON FUNCTION workorder.recompute_scores(date, date) IS
    'Rebuilds unit_scores of the periods from the one containing from_day to those starting by to_day (NULL: all) from the event log, up to the watermark.';

CREATE OR REPLACE FUNCTION workorder.calling_role()
RETURNS name
AS 'MODULE_PATHNAME', 'workorder_calling_role'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

CREATE OR REPLACE FUNCTION workorder.map_login(role_name name, unit_code text DEFAULT NULL,
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

CREATE OR REPLACE FUNCTION workorder.check_logins()
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

CREATE OR REPLACE FUNCTION workorder.caller()
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

CREATE OR REPLACE FUNCTION workorder.caller_unrestricted()
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

CREATE OR REPLACE FUNCTION workorder.caller_unit()
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
BEGIN
    RETURN (SELECT l.unit_code FROM workorder.logins l
             WHERE l.role_name OPERATOR(pg_catalog.=) workorder.calling_role());
END
$$;

CREATE OR REPLACE FUNCTION workorder.caller_channel()
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
BEGIN
    RETURN (SELECT l.channel_code FROM workorder.logins l
             WHERE l.role_name OPERATOR(pg_catalog.=) workorder.calling_role());
END
$$;

CREATE OR REPLACE FUNCTION workorder.caller_units()
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

CREATE OR REPLACE FUNCTION workorder.caller_area()
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
BEGIN
    RETURN (SELECT u.area_code FROM workorder.logins l
              JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) l.unit_code
             WHERE l.role_name OPERATOR(pg_catalog.=) workorder.calling_role());
END
$$;

CREATE OR REPLACE FUNCTION workorder.order_in_scope(o workorder.orders, group_role name, who workorder.caller_context)
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

CREATE OR REPLACE FUNCTION workorder.check_order_access(o workorder.orders, action text)
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

CREATE OR REPLACE FUNCTION workorder.check_channel_access(channel text, what text)
RETURNS void
AS 'MODULE_PATHNAME', 'access_check_channel_access'
LANGUAGE C STABLE
SECURITY DEFINER;

CREATE OR REPLACE FUNCTION workorder.inbox_check_channels()
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

CREATE OR REPLACE FUNCTION workorder.mask_phone(phone text)
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

CREATE OR REPLACE FUNCTION workorder.mask_name(name text)
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

CREATE OR REPLACE FUNCTION workorder.coarsen_location(location geometry)
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

CREATE OR REPLACE FUNCTION workorder.report_period_check(what text, day date, zone text)
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

CREATE OR REPLACE FUNCTION workorder.report_daily_briefing(day date DEFAULT NULL)
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
COMMENT ON FUNCTION workorder.report_daily_briefing(date) IS
    'Writes (replaces) the daily briefing of a local day, default yesterday in the district''s zone; for pg_cron.';

CREATE OR REPLACE FUNCTION workorder.report_monthly_assessment(month date DEFAULT NULL)
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
