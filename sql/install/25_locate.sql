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
-- A planar ST_DWithin bounds the search (a degree is at least 100 km of latitude,
-- and at least 100 km times cos(latitude) of longitude, so the bound never
-- excludes a piece within the distance; a distance under a millimetre bounds it as
-- a millimetre, since a tinier one underflows in the division; cosd, since
-- radians() of a latitude such as 5e-324 underflows).  Two passes, since planar
-- distance in degrees does not rank pieces as metres do (a degree of longitude is
-- cos(latitude) of one of latitude: at 23 degrees north, 8 % shorter): the GiST
-- index gives the 8 pieces nearest in degrees, and the nearest of them on the
-- spheroid bounds the answer's distance; then every piece within that bound is
-- measured on the spheroid, so a piece nearer in metres but farther in degrees
-- than those 8 is not missed, and the work stays with the pieces near the point.
-- Ties go to the deeper area, then the smaller code.  It is plpgsql, not SQL, so
-- that its plans are cached across calls from locate().
CREATE FUNCTION workorder.nearest_area(point geometry, parent text, tolerance_m double precision,
                                       OUT area_code text, OUT distance_m double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    bound_m double precision;
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
    SELECT pg_catalog.min(ST_Distance(c.geom::geography, point::geography, true)) INTO bound_m
      FROM (SELECT p.geom
              FROM workorder.area_pieces p
              JOIN workorder.areas a ON a.code OPERATOR(pg_catalog.=) p.area_code
             WHERE ST_DWithin(p.geom, point,
                              (GREATEST(tolerance_m, 0.001) OPERATOR(pg_catalog./) 100000)
                              OPERATOR(pg_catalog./) GREATEST(pg_catalog.cosd(ST_Y(point)), 0.01))
               AND (parent IS NULL OR a.parent_code OPERATOR(pg_catalog.=) parent)
             ORDER BY p.geom <-> point
             LIMIT 8) c;
    IF bound_m IS NULL THEN
        RETURN;
    END IF;
    bound_m := LEAST(bound_m, tolerance_m);
    SELECT c.area_code, c.distance_m INTO area_code, distance_m
      FROM (SELECT p.area_code, p.depth,
                   ST_Distance(p.geom::geography, point::geography, true) AS distance_m
              FROM workorder.area_pieces p
              JOIN workorder.areas a ON a.code OPERATOR(pg_catalog.=) p.area_code
             WHERE ST_DWithin(p.geom, point,
                              (GREATEST(bound_m, 0.001) OPERATOR(pg_catalog./) 100000)
                              OPERATOR(pg_catalog./) GREATEST(pg_catalog.cosd(ST_Y(point)), 0.01))
               AND (parent IS NULL OR a.parent_code OPERATOR(pg_catalog.=) parent)) c
     WHERE c.distance_m OPERATOR(pg_catalog.<=) bound_m
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
