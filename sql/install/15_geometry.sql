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
    back geometry;
    tolerance double precision;
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
    IF NOT (ST_XMin(given::box3d) OPERATOR(pg_catalog.>) '-Infinity'::float8 AND ST_XMax(given::box3d) OPERATOR(pg_catalog.<) 'Infinity'::float8
        AND ST_YMin(given::box3d) OPERATOR(pg_catalog.>) '-Infinity'::float8 AND ST_YMax(given::box3d) OPERATOR(pg_catalog.<) 'Infinity'::float8
        AND ST_XMin(given::box3d) OPERATOR(pg_catalog.<) 'Infinity'::float8 AND ST_YMin(given::box3d) OPERATOR(pg_catalog.<) 'Infinity'::float8
        AND ST_XMax(given::box3d) OPERATOR(pg_catalog.>) '-Infinity'::float8 AND ST_YMax(given::box3d) OPERATOR(pg_catalog.>) '-Infinity'::float8)
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
        -- A place far outside its projection's area can come out clamped to a
        -- pole (3857's POINT(1e20 1e20) did, as longitude 121 latitude 90; a
        -- polygon there became a sliver along latitude 89.99998): it must come
        -- back to where it was, its extent within a millionth of its size.
        BEGIN
            back := ST_Transform(result, ST_SRID(given));
        EXCEPTION WHEN others THEN
            back := NULL;   -- what cannot go back is not on the earth either
        END;
        tolerance := 1e-6 OPERATOR(pg_catalog.*)
                     GREATEST(1, pg_catalog.abs(ST_XMin(given::box3d)), pg_catalog.abs(ST_XMax(given::box3d)),
                              pg_catalog.abs(ST_YMin(given::box3d)), pg_catalog.abs(ST_YMax(given::box3d)));
        IF back IS NULL
           OR NOT (pg_catalog.abs(ST_XMin(back::box3d) OPERATOR(pg_catalog.-) ST_XMin(given::box3d)) OPERATOR(pg_catalog.<=) tolerance
                   AND pg_catalog.abs(ST_XMax(back::box3d) OPERATOR(pg_catalog.-) ST_XMax(given::box3d)) OPERATOR(pg_catalog.<=) tolerance
                   AND pg_catalog.abs(ST_YMin(back::box3d) OPERATOR(pg_catalog.-) ST_YMin(given::box3d)) OPERATOR(pg_catalog.<=) tolerance
                   AND pg_catalog.abs(ST_YMax(back::box3d) OPERATOR(pg_catalog.-) ST_YMax(given::box3d)) OPERATOR(pg_catalog.<=) tolerance) THEN
            PERFORM workorder.raise_error('WO101',
                pg_catalog.format('%s is not on the earth', subject),
                pg_catalog.format('In SRID %s it is %s, which longitude/latitude cannot hold (it becomes %s).',
                                  ST_SRID(given), pg_catalog.left(ST_AsText(given), 100), pg_catalog.left(ST_AsText(result), 100)),
                'Check the SRID and the order of the axes.');
        END IF;
    END IF;
    IF ST_XMin(result::box3d) OPERATOR(pg_catalog.<) -180 OR ST_XMax(result::box3d) OPERATOR(pg_catalog.>) 180
       OR ST_YMin(result::box3d) OPERATOR(pg_catalog.<) -90 OR ST_YMax(result::box3d) OPERATOR(pg_catalog.>) 90
       OR NOT (ST_XMax(result::box3d) OPERATOR(pg_catalog.<=) 180 AND ST_YMax(result::box3d) OPERATOR(pg_catalog.<=) 90) THEN
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
    -- ST_GeometryType, not GeometryType, whose name of a point with a measure is
    -- 'POINTM': such a fix was refused as not a point.
    IF location IS NOT NULL AND ST_GeometryType(location) OPERATOR(pg_catalog.<>) 'ST_Point' THEN
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
      FROM (SELECT pg_catalog.radians((ST_YMin(polygon::box3d) OPERATOR(pg_catalog.+) ST_YMax(polygon::box3d)) OPERATOR(pg_catalog./) 2) AS phi) c
$$;
