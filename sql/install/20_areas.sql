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
-- pg_dump copies the rows parents first (the condition is appended to its COPY's
-- SELECT): areas_before_write needs an area's parent in place, and a parent written
-- again after its children (a mended polygon) lies after them in the heap, so a
-- dump in heap order did not restore (WO201, unknown parent).
SELECT pg_catalog.pg_extension_config_dump('workorder.areas', 'ORDER BY pg_catalog.cardinality(path), code');

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

    -- FOR SHARE: a parent being changed (renamed, taken out of jurisdiction) is
    -- waited for and read as it ends up.  Read as it was, a town loaded meanwhile
    -- kept the old name in its path and stayed in jurisdiction under a district
    -- that was not, for good: the parent's own trigger cannot see it to mend it.
    SELECT * INTO parent FROM workorder.areas a
     WHERE a.code OPERATOR(pg_catalog.=) NEW.parent_code FOR SHARE;
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
-- paths and jurisdiction of the descendants in step with a moved, renamed or
-- re-flagged area.
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
    -- Touching each child makes its before-trigger recompute its path (and leave
    -- jurisdiction under a parent out of it), and so on down.  On INSERT too: the
    -- parent's foreign key is deferred, so a transaction may delete an area and
    -- load it again, renamed or out of jurisdiction, under the children it had;
    -- they kept the old name in their paths and stayed in jurisdiction under a
    -- district that was not.  (A new area has no children: one index probe.)
    IF TG_OP OPERATOR(pg_catalog.=) 'INSERT'
       OR NEW.path OPERATOR(pg_catalog.<>) OLD.path OR NEW.path_names OPERATOR(pg_catalog.<>) OLD.path_names THEN
        UPDATE workorder.areas c SET parent_code = c.parent_code
         WHERE c.parent_code OPERATOR(pg_catalog.=) NEW.code;
    END IF;
    -- An area's jurisdiction is its subtree's: a district set in (or out of)
    -- jurisdiction after its towns were loaded left them as they were, and a report
    -- in a town was out of jurisdiction in a district that was in it.
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' AND NEW.in_jurisdiction OPERATOR(pg_catalog.<>) OLD.in_jurisdiction THEN
        UPDATE workorder.areas c SET in_jurisdiction = NEW.in_jurisdiction
         WHERE c.parent_code OPERATOR(pg_catalog.=) NEW.code
           AND c.in_jurisdiction OPERATOR(pg_catalog.<>) NEW.in_jurisdiction;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER areas_after_write
    AFTER INSERT OR UPDATE ON workorder.areas
    FOR EACH ROW EXECUTE FUNCTION workorder.areas_after_write();

-- areas_before_delete keeps an area that units serve or orders lie in (WO201), with
-- what to do: the delete failed with a bare foreign-key error (23503).
CREATE FUNCTION workorder.areas_before_delete()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    served_by text;
BEGIN
    SELECT pg_catalog.string_agg(u.code, ', ' ORDER BY u.code) INTO served_by
      FROM workorder.units u WHERE u.area_code OPERATOR(pg_catalog.=) OLD.code;
    IF served_by IS NOT NULL THEN
        PERFORM workorder.raise_error('WO201',
            pg_catalog.format('area %s (%s) is served by units and stays', OLD.code, OLD.name),
            pg_catalog.format('The units are %s.', served_by),
            'Load those units with another area_code (or delete them) first.');
    END IF;
    IF EXISTS (SELECT 1 FROM workorder.orders o WHERE o.area_code OPERATOR(pg_catalog.=) OLD.code) THEN
        PERFORM workorder.raise_error('WO201',
            pg_catalog.format('area %s (%s) has orders and stays', OLD.code, OLD.name),
            'Orders located in it name it, and keep naming it.',
            'Load the area again with a mended polygon, or take it out of jurisdiction (in_jurisdiction = false).');
    END IF;
    RETURN OLD;
END
$$;

CREATE TRIGGER areas_before_delete
    BEFORE DELETE ON workorder.areas
    FOR EACH ROW EXECUTE FUNCTION workorder.areas_before_delete();

-- area_polygon turns a polygon given to the loader into a valid MultiPolygon in
-- SRID 4326, repairing it when it is invalid.  It refuses what cannot be an area.
--
-- The repair must never drop part of an area.  GEOS offers two repairs that
-- disagree where rings cross or overlap: "linework" keeps areas by the even-odd
-- rule (an overlapped lobe becomes a hole), "structure" keeps what the outer rings
-- enclose but may drop a polygon of a MultiPolygon that another one overlaps.  The
-- union of the two keeps every area either keeps.  But it must never add any:
-- "linework" takes every ring for an outline, so a hole drawn outside its shell,
-- or across the shell's edge, came back as land the drawing had cut out, and
-- reports there were routed to the area.  A polygon with holes has the union cut
-- to what its outer rings alone keep, repaired the same way.  What no polygon can keep are spikes and collapsed
-- rings, which enclose no area: their vertices are counted in the repair row, with
-- how far they reach, and a NOTICE says so.
CREATE FUNCTION workorder.area_polygon(area_code text, polygon geometry)
RETURNS geometry
LANGUAGE plpgsql
AS $$
DECLARE
    repaired geometry;
    shells geometry;
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
    -- Empty parts beside real ones (MULTIPOLYGON(EMPTY, ((...)))) are dropped: stored
    -- as given, they came out of ST_AsGeoJSON as empty coordinates, which GeoJSON
    -- clients refuse.  (Wholly empty is refused by wgs84.)
    IF GeometryType(polygon) OPERATOR(pg_catalog.=) 'MULTIPOLYGON'
       AND EXISTS (SELECT 1 FROM ST_Dump(polygon) d WHERE ST_IsEmpty(d.geom)) THEN
        polygon := ST_Multi(ST_Collect(ARRAY(SELECT d.geom FROM ST_Dump(polygon) d
                                              WHERE NOT ST_IsEmpty(d.geom) ORDER BY d.path)));
    END IF;

    IF ST_IsValid(polygon, 0) THEN
        RETURN ST_Multi(polygon);
    END IF;

    problem := (ST_IsValidDetail(polygon)).reason;
    repaired := ST_Multi(ST_CollectionExtract(ST_Union(
                    ST_CollectionExtract(ST_MakeValid(polygon, 'method=structure'), 3),
                    ST_CollectionExtract(ST_MakeValid(polygon, 'method=linework'), 3)), 3));
    -- With holes: cut to what the outer rings alone keep, repaired the same way
    -- (all of them together, as the rings of several parts may enclose land
    -- between them).
    IF EXISTS (SELECT 1 FROM ST_Dump(polygon) d WHERE ST_NumInteriorRings(d.geom) OPERATOR(pg_catalog.>) 0) THEN
        shells := ST_Collect(ARRAY(SELECT ST_MakePolygon(ST_ExteriorRing(d.geom)) FROM ST_Dump(polygon) d ORDER BY d.path));
        repaired := ST_Multi(ST_CollectionExtract(ST_Intersection(repaired,
                        ST_Union(ST_CollectionExtract(ST_MakeValid(shells, 'method=structure'), 3),
                                 ST_CollectionExtract(ST_MakeValid(shells, 'method=linework'), 3))), 3));
    END IF;
    IF repaired IS NULL OR ST_IsEmpty(repaired) THEN
        PERFORM workorder.raise_error('WO202',
            pg_catalog.format('polygon of area %s cannot be repaired', area_code),
            pg_catalog.format('It is invalid (%s) and encloses no area.', problem),
            'Check the polygon: it may be a line or a point drawn as a polygon.');
    END IF;

    SELECT pg_catalog.count(*)::integer,
           COALESCE(pg_catalog.max(ST_Distance(repaired::geography, d.geom::geography, true)), 0)
      INTO spikes, reach
      FROM ST_DumpPoints(polygon) AS d
     WHERE NOT ST_DWithin(repaired, d.geom, 1e-9::pg_catalog.float8);

    INSERT INTO workorder.area_repairs
        (area_code, problem, action, parts_before, parts_after, area_m2, spike_vertices, spike_reach_m)
    VALUES (area_code, problem, 'ST_MakeValid structure UNION linework',
            ST_NumGeometries(ST_Multi(polygon)), ST_NumGeometries(repaired),
            ST_Area(repaired::geography, true), spikes, reach);

    RAISE NOTICE 'area %: repaired invalid polygon (%): % part(s), % m²; % spike vertices reaching up to % m dropped',
        area_code, problem, ST_NumGeometries(repaired),
        pg_catalog.round(ST_Area(repaired::geography, true)::numeric), spikes, pg_catalog.round(reach::numeric, 1);
    RETURN repaired;
END
$$;

-- load_area inserts or replaces one area.  Its polygon is repaired when invalid
-- (a NOTICE and a row in area_repairs say so), transformed to SRID 4326 and
-- subdivided for lookups.  in_jurisdiction NULL (the default) makes a new area in
-- jurisdiction and keeps a loaded one's flag: a mended polygon loaded again put a
-- neighbouring district, loaded out of jurisdiction, back in it, and its reports
-- were routed as the district's own.
CREATE FUNCTION workorder.load_area(
    code text,
    name text,
    level workorder.area_level,
    parent_code text,
    polygon geometry,
    in_jurisdiction boolean DEFAULT NULL)
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
    -- No control character: the name goes into every order's area chain, the
    -- reports and the messages to channels, which refuse them in a report.
    -- Blank as submit() trims (an ideographic or no-break space is blank too).
    IF name IS NULL OR pg_catalog.length(workorder.trim_blanks(name)) OPERATOR(pg_catalog.=) 0
       OR pg_catalog.length(name) OPERATOR(pg_catalog.>) 100 OR name OPERATOR(pg_catalog.~) '[[:cntrl:]]' THEN
        PERFORM workorder.raise_error('WO201',
            pg_catalog.format('invalid name for area %s', code),
            pg_catalog.format('The name is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(name, 120)), 'NULL')),
            'Give the area its official name, 1 to 100 characters, without control characters.');
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
           in_jurisdiction = COALESCE(load_area.in_jurisdiction, a.in_jurisdiction), geom = EXCLUDED.geom,
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
    in_jurisdiction boolean DEFAULT NULL,
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

    -- A code twice in one file: the second feature replaced the first, and both
    -- said they loaded.  (Refused before anything is loaded, as the other loaders'
    -- WO210 refuses a repeated code.)
    SELECT x.n, x.code INTO feature_number, feature_code
      FROM (SELECT e.n, e.f OPERATOR(pg_catalog.->) 'properties' OPERATOR(pg_catalog.->>) code_property AS code,
                   pg_catalog.row_number() OVER (PARTITION BY e.f OPERATOR(pg_catalog.->) 'properties' OPERATOR(pg_catalog.->>) code_property
                                                 ORDER BY e.n) AS nth
              FROM pg_catalog.jsonb_array_elements(collection OPERATOR(pg_catalog.->) 'features') WITH ORDINALITY AS e(f, n)) x
     WHERE x.code IS NOT NULL AND x.nth OPERATOR(pg_catalog.>) 1
     ORDER BY x.n LIMIT 1;
    IF FOUND THEN
        PERFORM workorder.raise_error('WO203',
            pg_catalog.format('feature %s of the area file repeats the code %s of an earlier feature', feature_number, feature_code),
            'A code names one area: the later feature would replace the earlier one.',
            'Correct the code, or remove the feature that is there twice; nothing of the file was loaded.');
    END IF;
    feature_number := 0;

    FOR feature IN SELECT f FROM pg_catalog.jsonb_array_elements(collection OPERATOR(pg_catalog.->) 'features') AS f
    LOOP
        feature_number := feature_number OPERATOR(pg_catalog.+) 1;
        feature_code := feature OPERATOR(pg_catalog.->) 'properties' OPERATOR(pg_catalog.->>) code_property;
        feature_name := feature OPERATOR(pg_catalog.->) 'properties' OPERATOR(pg_catalog.->>) name_property;
        -- A code and a name are plain values: a JSON object or array (a name given in
        -- several languages) was stored as its JSON text.
        IF feature_code IS NULL OR feature_name IS NULL
           OR pg_catalog.jsonb_typeof(feature OPERATOR(pg_catalog.->) 'properties' OPERATOR(pg_catalog.->) code_property)
              NOT IN ('string', 'number')
           OR pg_catalog.jsonb_typeof(feature OPERATOR(pg_catalog.->) 'properties' OPERATOR(pg_catalog.->) name_property)
              NOT IN ('string', 'number') THEN
            PERFORM workorder.raise_error('WO203',
                pg_catalog.format('feature %s of the area file has no %s or no %s', feature_number, code_property, name_property),
                pg_catalog.format('Its properties are %s.', feature OPERATOR(pg_catalog.->) 'properties'),
                'Name the properties that hold the code and the name with code_property and name_property.');
        END IF;
        BEGIN
            -- A geometry that names its crs keeps it (load_area transforms it); one
            -- without takes the collection's, where ogr2ogr and QGIS write it (it was
            -- read as longitude/latitude, and their CGCS2000 Gauss-Krüger exports were
            -- "not on the earth"); with neither it is in longitude/latitude, as RFC
            -- 7946 has it.  (Its crs was overwritten too, once.)
            polygon := ST_GeomFromGeoJSON(
                CASE WHEN pg_catalog.jsonb_typeof(feature OPERATOR(pg_catalog.->) 'geometry') OPERATOR(pg_catalog.=) 'object'
                          AND NOT (feature OPERATOR(pg_catalog.->) 'geometry') OPERATOR(pg_catalog.?) 'crs'
                          AND pg_catalog.jsonb_typeof(collection OPERATOR(pg_catalog.->) 'crs') OPERATOR(pg_catalog.=) 'object'
                     THEN (feature OPERATOR(pg_catalog.->) 'geometry')
                          OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('crs', collection OPERATOR(pg_catalog.->) 'crs')
                     ELSE feature OPERATOR(pg_catalog.->) 'geometry' END);
            IF ST_SRID(polygon) OPERATOR(pg_catalog.=) 0 THEN
                polygon := ST_SetSRID(polygon, 4326);
            END IF;
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
