-- Jurisdictions: properties of the loader, the area check and locate(), every bad
-- input with its SQLSTATE, and the repair of the real (broken) Foshan boundaries.
\set QUIET 1
SET client_min_messages = warning;
\set fs `cat data/foshan-districts.geojson`
BEGIN;
SELECT plan(83);

-- The real Foshan file: every ring crosses itself, and all five load repaired.
CREATE TEMP TABLE loaded AS
SELECT * FROM workorder.load_areas_geojson(:'fs'::jsonb, 'district', in_jurisdiction => false);
SELECT is((SELECT count(*) FROM loaded WHERE repaired), 5::bigint,
          'all five Foshan districts are repaired on load');
SELECT is((SELECT count(*) FROM workorder.area_repairs WHERE area_code IN (SELECT code FROM loaded)), 5::bigint,
          'each repair leaves a row in area_repairs');
SELECT ok((SELECT bool_and(ST_IsValid(geom, 0)) FROM workorder.areas), 'every stored polygon is valid');
SELECT ok((SELECT abs(ST_Area(geom::geography) / 1e6 - 1073) < 11 FROM workorder.areas WHERE code = '440605'),
          'Nanhai keeps its published area of about 1073 km² (within 1%)');

-- Nothing with area is dropped: the repaired polygon covers what either GEOS
-- repair keeps, and only spike vertices (no area) lie outside it, within 150 m.
WITH f AS (
    SELECT e->'properties'->>'code' AS code, ST_SetSRID(ST_GeomFromGeoJSON(e->'geometry'), 4326) AS drawn
      FROM jsonb_array_elements((:'fs'::jsonb)->'features') e)
SELECT ok(bool_and(ST_Area(ST_Difference(
              ST_Union(ST_CollectionExtract(ST_MakeValid(f.drawn, 'method=linework'), 3),
                       ST_CollectionExtract(ST_MakeValid(f.drawn, 'method=structure'), 3)),
              a.geom)) < 1e-12),
          'the repair keeps every area that either GEOS repair keeps')
  FROM f JOIN workorder.areas a USING (code);
SELECT ok((SELECT bool_and(spike_reach_m < 150) FROM workorder.area_repairs),
          'only spike vertices are dropped, none farther than 150 m');

-- The subdivided copy is in step with the areas.
SELECT ok((SELECT bool_and(ST_Area(ST_SymDifference(a.geom, p.geom)) < 1e-12)
             FROM workorder.areas a
             JOIN (SELECT area_code, ST_Union(geom) AS geom FROM workorder.area_pieces GROUP BY area_code) p
               ON p.area_code = a.code),
          'the union of an area''s pieces equals its polygon');
SELECT ok((SELECT max(ST_NPoints(geom)) <= 128 FROM workorder.area_pieces),
          'no piece has more vertices than area_piece_vertices');

UPDATE workorder.areas SET geom = ST_Multi(ST_Buffer(ST_Centroid(geom), 0.01)) WHERE code = '440604';
SELECT ok((SELECT ST_Area(ST_SymDifference(a.geom, (SELECT ST_Union(p.geom) FROM workorder.area_pieces p
                                                       WHERE p.area_code = a.code))) < 1e-12
             FROM workorder.areas a WHERE a.code = '440604'),
          'changing a polygon rebuilds its pieces');
DELETE FROM workorder.areas WHERE code = '440604';
SELECT is((SELECT count(*) FROM workorder.area_pieces WHERE area_code = '440604'), 0::bigint,
          'deleting an area deletes its pieces');

-- locate() agrees with the naive answer (the deepest containing polygon) for
-- random points strictly inside the real districts.
SELECT setseed(0.42);
CREATE TEMP TABLE pts AS
SELECT ST_SetSRID(ST_MakePoint(112.6 + random() * 0.8, 22.6 + random() * 0.8), 4326) AS p
  FROM generate_series(1, 300);
SELECT is((SELECT count(*) FROM pts
            WHERE (workorder.locate(p)).area_code IS DISTINCT FROM
                  (SELECT a.code FROM workorder.areas a WHERE ST_Contains(a.geom, p)
                    ORDER BY a.level DESC, a.code LIMIT 1)
              AND (workorder.locate(p)).match = 'contained'),
          0::bigint, 'locate() matches the deepest polygon that contains the point');
SELECT ok((SELECT bool_and(CASE (workorder.locate(p)).match
                               WHEN 'contained' THEN (workorder.locate(p)).distance_m = 0
                               WHEN 'nearest' THEN (workorder.locate(p)).distance_m <= 200
                               ELSE (workorder.locate(p)).area_code IS NULL END)
             FROM pts),
          'contained answers are at distance 0, nearest ones within the tolerance, outside ones name no area');

-- A synthetic map with shared boundaries, a gap and an overlap.
SELECT lives_ok($$SELECT workorder.load_area('990301', '属性区', 'district', NULL, ST_MakeEnvelope(120, 30, 120.2, 30.2, 4326))$$,
                'a district loads');
SELECT lives_ok($$SELECT workorder.load_area('990301001', '甲', 'town', '990301', ST_MakeEnvelope(120, 30, 120.1, 30.2, 4326))$$,
                'a town loads');
SELECT lives_ok($$SELECT workorder.load_area('990301002', '乙', 'town', '990301', ST_MakeEnvelope(120.1, 30, 120.2, 30.15, 4326))$$,
                'a neighbouring town loads');
SELECT lives_ok($$SELECT workorder.load_area('990301003', '丙', 'town', '990301', ST_MakeEnvelope(120.15, 30.1, 120.2, 30.2, 4326))$$,
                'an overlapping town loads');

-- Boundaries are deterministic: every point on the shared edge x = 120.1 goes to the smaller code.
SELECT is((SELECT count(*) FROM generate_series(1, 50) i
            WHERE (workorder.locate(120.1, 30.0 + i * 0.0029)).area_code <> '990301001'),
          0::bigint, 'a point on a shared boundary goes to the area with the smaller code');
SELECT is((SELECT count(DISTINCT (workorder.locate(120.1, 30.1)).area_code) FROM generate_series(1, 20)),
          1::bigint, 'the same boundary point always gets the same answer');

-- locate() answers from a per-backend copy of the map (src/areamap.c) and, with
-- the setting workorder.locate_map off, from a query on area_pieces.  The answers
-- are the same: on random points, and exactly on boundaries, where only the same
-- arithmetic gives the same answer: on vertices of the pieces and on the
-- midpoints of their edges (a sample of each, and every vertex of the small map).
SELECT lives_ok($$SELECT workorder.load_area('990302', '有洞区', 'district', NULL,
                    ST_Difference(ST_MakeEnvelope(120.3, 30, 120.5, 30.2, 4326), ST_MakeEnvelope(120.35, 30.05, 120.45, 30.15, 4326)))$$,
                'a district with a hole loads');
CREATE TEMP TABLE piece_vertices AS
SELECT row_number() OVER () AS n, d.geom, lead(d.geom) OVER (PARTITION BY x.id, d.path[1] ORDER BY d.path[2]) AS next
  FROM (SELECT row_number() OVER () AS id, geom FROM workorder.area_pieces) x, ST_DumpPoints(x.geom) d;
CREATE TEMP TABLE map_points AS
SELECT p FROM pts
UNION ALL SELECT geom FROM piece_vertices WHERE n % 13 = 0 OR ST_X(geom) >= 120
UNION ALL SELECT ST_SetSRID(ST_MakePoint((ST_X(geom) + ST_X(next)) / 2, (ST_Y(geom) + ST_Y(next)) / 2), 4326)
            FROM piece_vertices WHERE next IS NOT NULL AND (n % 13 = 5 OR ST_X(geom) >= 120)
UNION ALL SELECT ST_SetSRID(ST_MakePoint(119.99 + i * 0.0123, 29.99 + j * 0.0117), 4326)
            FROM generate_series(0, 18) i, generate_series(0, 18) j
UNION ALL SELECT ST_SetSRID(ST_MakePoint(120.29 + i * 0.0125, 29.99 + j * 0.0125), 4326)
            FROM generate_series(0, 18) i, generate_series(0, 18) j;
SET LOCAL workorder.locate_map = on;
CREATE TEMP TABLE located_by_map AS SELECT p, (workorder.locate(p)).* FROM map_points;
SET LOCAL workorder.locate_map = off;
CREATE TEMP TABLE located_by_query AS SELECT p, (workorder.locate(p)).* FROM map_points;
SET LOCAL workorder.locate_map = on;
SELECT cmp_ok((SELECT count(*) FROM map_points), '>', 1000::bigint, 'the comparison has more than a thousand points');
SELECT is((SELECT count(*) FROM located_by_map m JOIN located_by_query q USING (p)
            WHERE (m.area_code, m.level, m.chain, m.chain_names, m.in_jurisdiction, m.approximate, m.distance_m, m.match)
                  IS DISTINCT FROM
                  (q.area_code, q.level, q.chain, q.chain_names, q.in_jurisdiction, q.approximate, q.distance_m, q.match)),
          0::bigint, 'locate() gives the same answers from the map as from the query, boundaries included');
SELECT cmp_ok((SELECT count(*) FROM located_by_map WHERE match = 'contained'), '>', 500::bigint,
              '... most of them inside an area');
SELECT is((SELECT string_agg(coalesce(area_code, '-') || ' ' || match, ', ' ORDER BY x)
             FROM (SELECT x, (workorder.locate(x, 30.1, 0)).* FROM unnest(ARRAY[120.32, 120.35, 120.4, 120.45]) x) l),
          '990302 contained, 990302 contained, - outside, 990302 contained',
          'a point in the hole is in no area, one on the hole''s edge is in the district');

-- The map follows the areas: an area loaded in this transaction is found at once.
SELECT lives_ok($$SELECT workorder.load_area('990301001001', '甲一', 'village', '990301001', ST_MakeEnvelope(120.01, 30.01, 120.02, 30.02, 4326))$$,
                'a village loads');
SELECT is((workorder.locate(120.015, 30.015)).area_code, '990301001001', 'locate() finds the new village from the map');

-- Proof that the map answered: with pieces deleted behind the areas' back (no
-- change to areas, and the pieces' own cache trigger off, so no reload), the map
-- still knows them and the query does not.  (With the trigger on, a change of
-- area_pieces reloads the map: the last test below.)
ALTER TABLE workorder.area_pieces DISABLE TRIGGER area_pieces_reference_cache;
SELECT workorder.locate(120.015, 30.015) IS NOT NULL AS reloaded_after_alter \gset
DELETE FROM workorder.area_pieces WHERE area_code = '990301001001';
SELECT is((workorder.locate(120.015, 30.015)).area_code, '990301001001', 'with the map on, the answer comes from the map');
SET LOCAL workorder.locate_map = off;
SELECT is((workorder.locate(120.015, 30.015)).area_code, '990301001', 'with it off, from area_pieces');
SET LOCAL workorder.locate_map = on;
UPDATE workorder.areas SET name = name WHERE code = '990301001001';
SELECT is((workorder.locate(120.015, 30.015)).area_code, '990301001', 'a change to areas reloads the map');
DELETE FROM workorder.areas WHERE code = '990301001001';

-- A map whose grid would list too many pieces is not kept: 6000 pieces whose boxes
-- cover the whole extent would put every one of them in every cell (18 million
-- entries; 65,000 of them overflowed the grid's offsets and crashed the backend).
-- locate() then answers from the query.  Proof: a village's pieces deleted behind
-- the areas' back are gone for locate() at once, as they are for the query.
SELECT lives_ok($$SELECT workorder.load_area('990301001002', '甲二', 'village', '990301001', ST_MakeEnvelope(120.03, 30.03, 120.04, 30.04, 4326))$$,
                'another village loads');
INSERT INTO workorder.area_pieces (area_code, depth, geom)
SELECT '990301', 1, ST_MakeEnvelope(100, 10, 130, 40, 4326) FROM generate_series(1, 6000);
UPDATE workorder.areas SET name = name WHERE code = '990301';
SELECT is((workorder.locate(120.035, 30.035)).area_code, '990301001002', 'with 6000 pieces over the whole map, locate() still finds the village');
DELETE FROM workorder.area_pieces WHERE area_code = '990301001002';
SELECT isnt((workorder.locate(120.035, 30.035)).area_code, '990301001002',
            'that map is not kept in memory: the village whose pieces were deleted behind its back is gone for locate() too');
SET LOCAL workorder.locate_map = off;
SELECT is((workorder.locate(120.035, 30.035)).area_code, '990301001', 'the query finds the town there');
SET LOCAL workorder.locate_map = on;
DELETE FROM workorder.area_pieces WHERE area_code = '990301' AND ST_Equals(geom, ST_MakeEnvelope(100, 10, 130, 40, 4326));
DELETE FROM workorder.areas WHERE code = '990301001002';
ALTER TABLE workorder.area_pieces ENABLE ALWAYS TRIGGER area_pieces_reference_cache;

-- locate_point() trusts its caller to have checked the point; called directly with
-- one that is not finite, it fails as before the map (the map leaves it to the
-- query), and does not crash the backend (fuzz.t found that it did).
SELECT throws_ok($$SELECT workorder.locate_point(ST_SetSRID(ST_MakePoint(120.05, 'NaN'), 4326), 10)$$, 'WO101',
                 'nearest_area needs a longitude/latitude point', 'locate_point() of a NaN latitude fails cleanly');
SELECT throws_ok($$SELECT workorder.locate_point(ST_SetSRID(ST_MakePoint('Infinity', 30.05), 4326), 10)$$, 'WO101',
                 'nearest_area needs a longitude/latitude point', 'locate_point() of an infinite longitude fails cleanly');

SELECT results_eq($$SELECT kind, area_a, area_b, round(area_m2 / 1e6)::integer FROM workorder.check_areas()
                     WHERE parent_code = '990301' ORDER BY kind$$,
                  $$VALUES ('gap'::text, NULL::text, NULL::text, 27::integer), ('overlap', '990301002', '990301003', 27)$$,
                  'check_areas reports the overlap of two towns and the corner no town covers, with their sizes');
SELECT ok((SELECT area_m2 BETWEEN 26.5e6 AND 27.5e6 FROM workorder.check_areas()
            WHERE kind = 'overlap' AND area_a = '990301002'),
          'the overlap is measured in m² on the spheroid');

-- Bad locations: each refused with its own SQLSTATE.
SELECT throws_ok($$SELECT workorder.locate(NULL::geometry)$$, 'WO101', 'location is missing', 'a NULL location is refused');
SELECT throws_ok($$SELECT workorder.locate('SRID=4326;POINT EMPTY'::geometry)$$, 'WO101', 'location is empty', 'an empty point is refused');
SELECT throws_ok($$SELECT workorder.locate('NaN'::float8, 23)$$, 'WO101', 'location has non-finite coordinates', 'a NaN longitude is refused');
SELECT throws_ok($$SELECT workorder.locate(113, 'Infinity'::float8)$$, 'WO101', 'location has non-finite coordinates', 'an infinite latitude is refused');
SELECT throws_ok($$SELECT workorder.locate(ST_MakePoint(113, 23))$$, 'WO102', 'location has no SRID', 'a point without SRID is refused');
SELECT throws_ok($$SELECT workorder.locate(ST_SetSRID(ST_MakePoint(113, 23), 123456))$$, 'WO102', 'location has an unknown SRID', 'an unknown SRID is refused');
SELECT throws_ok($$SELECT workorder.locate('SRID=4326;MULTIPOINT((113 23),(113.1 23))'::geometry)$$, 'WO101', 'location is not a point', 'a multipoint is refused');
SELECT throws_ok($$SELECT workorder.locate('SRID=4326;POLYGON((113 23,113.1 23,113.1 23.1,113 23))'::geometry)$$, 'WO101', 'location is not a point', 'a polygon is refused');
SELECT throws_ok($$SELECT workorder.locate(113, 95)$$, 'WO101', 'location is not on the earth', 'a latitude beyond 90 is refused');
SELECT throws_ok($$SELECT workorder.locate(113, 23, -1)$$, 'WO103', 'invalid tolerance for locate', 'a negative tolerance is refused');
SELECT is((workorder.locate(ST_Transform(ST_SetSRID(ST_MakePoint(120.05, 30.05), 4326), 4547))).area_code, '990301001',
          'a point in CGCS2000 / Gauss-Kruger is transformed and located');

-- Bad areas.
SELECT throws_ok($$SELECT workorder.load_area('990302', '线', 'district', NULL, 'SRID=4326;LINESTRING(1 1,2 2)'::geometry)$$,
                 'WO202', 'area 990302 is not a polygon', 'a line is not an area');
SELECT throws_ok($$SELECT workorder.load_area('990302', '空', 'district', NULL, NULL)$$,
                 'WO101', 'polygon of area 990302 is missing', 'an area needs a polygon');
SELECT throws_ok($$SELECT workorder.load_area('990302', '空', 'district', NULL, 'SRID=4326;POLYGON EMPTY'::geometry)$$,
                 'WO101', 'polygon of area 990302 is empty', 'an empty polygon is refused');
SELECT throws_ok($$SELECT workorder.load_area('990302', '无', 'district', NULL, ST_MakeEnvelope(1, 1, 2, 2))$$,
                 'WO102', 'polygon of area 990302 has no SRID', 'a polygon without SRID is refused');
SELECT throws_ok($$SELECT workorder.load_area('990302', '平', 'district', NULL, 'SRID=4326;POLYGON((1 1,2 2,3 3,1 1))'::geometry)$$,
                 'WO202', 'polygon of area 990302 cannot be repaired', 'a polygon with no area is refused');
-- A repair never adds land: a hole drawn outside its shell, or across its edge,
-- came back as land (GEOS's linework takes every ring for an outline).
SAVEPOINT holes;
SELECT is((SELECT round(ST_Area(geom)::numeric, 6)::text FROM workorder.load_area('990303', '洞外', 'district', NULL,
              'SRID=4326;POLYGON((100 10,100.1 10,100.1 10.1,100 10.1,100 10),(100.2 10,100.3 10,100.3 10.1,100.2 10.1,100.2 10))')),
          '0.010000', 'a hole drawn outside its shell is dropped, not made land');
SELECT isnt((workorder.locate(100.25, 10.05)).match, 'contained', '... and a report where it was drawn is in no area');
SELECT is((SELECT round(ST_Area(geom)::numeric, 6)::text FROM workorder.load_area('990304', '洞跨', 'district', NULL,
              'SRID=4326;POLYGON((101 10,101.1 10,101.1 10.1,101 10.1,101 10),(101.05 10.02,101.2 10.02,101.2 10.08,101.05 10.08,101.05 10.02))')),
          '0.007000', 'a hole across its shell''s edge cuts the shell, and adds nothing outside it');
ROLLBACK TO SAVEPOINT holes;
-- A polygon far outside its projection's area came out clamped to a pole and was
-- loaded: a sliver along latitude 89.99998 (a point there was refused already).
SELECT throws_ok($$SELECT workorder.load_area('990302', '极', 'district', NULL,
                     'SRID=3857;POLYGON((1e8 1e8,1.1e8 1e8,1.1e8 1.1e8,1e8 1.1e8,1e8 1e8))'::geometry)$$,
                 'WO101', 'polygon of area 990302 is not on the earth',
                 'a polygon outside its projection''s area is not on the earth');
SELECT throws_ok($$SELECT workorder.load_area('9903', '短', 'district', NULL, ST_MakeEnvelope(1, 1, 2, 2, 4326))$$,
                 'WO201', 'invalid area code', 'a code of the wrong length is refused');
SELECT throws_ok($$SELECT workorder.load_area('990302', NULL, 'district', NULL, ST_MakeEnvelope(1, 1, 2, 2, 4326))$$,
                 'WO201', 'invalid name for area 990302', 'an area needs a name');
SELECT throws_ok($$SELECT workorder.load_area('990302', repeat('长', 101), 'district', NULL, ST_MakeEnvelope(1, 1, 2, 2, 4326))$$,
                 'WO201', 'invalid name for area 990302', 'an oversized name is refused');
SELECT throws_ok($$SELECT workorder.load_area('990302001', '孤', 'town', NULL, ST_MakeEnvelope(1, 1, 2, 2, 4326))$$,
                 'WO201', 'area 990302001 (孤) has no parent', 'only a district may be a root');
SELECT throws_ok($$SELECT workorder.load_area('990301004', '错层', 'district', '990301', ST_MakeEnvelope(1, 1, 2, 2, 4326))$$,
                 'WO201', NULL, 'a code that does not match its level is refused');
SELECT throws_ok($$SELECT workorder.load_area('990301001001', '越级', 'village', '990301', ST_MakeEnvelope(1, 1, 2, 2, 4326))$$,
                 'WO201', 'area 990301001001 (越级) is not one level below its parent 990301', 'a village cannot skip its town');
SELECT throws_ok($$SELECT workorder.load_area('990399001', '外', 'town', '990301', ST_MakeEnvelope(1, 1, 2, 2, 4326))$$,
                 'WO201', 'area code 990399001 does not extend its parent''s code 990301', 'a child''s code extends its parent''s');
SELECT throws_ok($$SELECT * FROM workorder.load_areas_geojson('{"type": "Feature"}', 'district')$$,
                 'WO203', 'area file is not a GeoJSON FeatureCollection', 'a single feature is not a collection');
SELECT throws_ok($$SELECT * FROM workorder.load_areas_geojson('{"type": "FeatureCollection", "features": [{"properties": {"name": "x"}, "geometry": null}]}', 'district')$$,
                 'WO203', 'feature 1 of the area file has no code or no name', 'a feature needs its code');

-- A batch with one bad feature loads nothing.
SELECT throws_ok($$SELECT * FROM workorder.load_areas_geojson('{"type": "FeatureCollection", "features": [
      {"properties": {"code": "990303", "name": "好"}, "geometry": {"type": "Polygon", "coordinates": [[[1,1],[2,1],[2,2],[1,1]]]}},
      {"properties": {"code": "990304", "name": "坏"}, "geometry": {"type": "Point", "coordinates": [1,1]}}]}', 'district')$$,
                 'WO202', NULL, 'a bad feature fails the batch');
SELECT is((SELECT count(*) FROM workorder.areas WHERE code IN ('990303', '990304')), 0::bigint,
          'and nothing of the batch is left behind');

-- A name with a control character is refused, as a report's text is.
SELECT throws_ok($$SELECT workorder.load_area('990302', E'狮山\x01镇', 'district', NULL, ST_MakeEnvelope(1, 1, 2, 2, 4326))$$,
                 'WO201', 'invalid name for area 990302', 'a name with a control character is refused');
-- A code twice in one file is refused before anything loads (the second replaced the first).
SELECT throws_ok($$SELECT * FROM workorder.load_areas_geojson('{"type": "FeatureCollection", "features": [
      {"properties": {"code": "990305", "name": "甲"}, "geometry": {"type": "Polygon", "coordinates": [[[1,1],[2,1],[2,2],[1,1]]]}},
      {"properties": {"code": "990305", "name": "乙"}, "geometry": {"type": "Polygon", "coordinates": [[[3,3],[4,3],[4,4],[3,3]]]}}]}', 'district')$$,
                 'WO203', 'feature 2 of the area file repeats the code 990305 of an earlier feature', 'a code twice in one file is refused');
SELECT is((SELECT count(*) FROM workorder.areas WHERE code = '990305'), 0::bigint, '... and nothing of the file is loaded');

-- An area's jurisdiction is its subtree's: a district set in jurisdiction after its
-- towns were loaded (out of it, as their parent was) takes them with it, and out again.
SELECT workorder.load_area('990311', '邻区', 'district', NULL, ST_MakeEnvelope(5, 5, 6, 6, 4326), in_jurisdiction => false) IS NOT NULL AS d \gset
SELECT workorder.load_area('990311001', '邻镇', 'town', '990311', ST_MakeEnvelope(5, 5, 5.5, 6, 4326)) IS NOT NULL AS t \gset
SELECT workorder.load_area('990311001001', '邻村', 'village', '990311001', ST_MakeEnvelope(5, 5, 5.5, 5.5, 4326)) IS NOT NULL AS v \gset
UPDATE workorder.areas SET in_jurisdiction = true WHERE code = '990311';
SELECT is((SELECT string_agg(code || ' ' || in_jurisdiction, ', ' ORDER BY code) FROM workorder.areas WHERE code LIKE '990311%'),
          '990311 true, 990311001 true, 990311001001 true', 'a district set in jurisdiction takes its town and village with it');
SELECT is((workorder.locate(5.2, 5.2)).in_jurisdiction, true, '... and a report there is in jurisdiction');
UPDATE workorder.areas SET in_jurisdiction = false WHERE code = '990311';
SELECT is((SELECT string_agg(code || ' ' || in_jurisdiction, ', ' ORDER BY code) FROM workorder.areas WHERE code LIKE '990311%'),
          '990311 false, 990311001 false, 990311001001 false', '... and out of it again');
-- Loaded again (a mended polygon) without saying where it stands, an area keeps its
-- flag: the district out of jurisdiction came back in it, its reports routed as ours.
SELECT is((workorder.load_area('990311', '邻区', 'district', NULL, ST_MakeEnvelope(5, 5, 6.01, 6, 4326))).in_jurisdiction, false,
          'an area loaded again without in_jurisdiction keeps its flag');
SELECT is((workorder.load_area('990311', '邻区', 'district', NULL, ST_MakeEnvelope(5, 5, 6, 6, 4326), in_jurisdiction => true)).in_jurisdiction,
          true, '... and one loaded with it takes it');

-- A GeoJSON geometry that names its crs is read in it and transformed (its crs was
-- overwritten with 4326, and a CGCS2000 Gauss-Krüger export was "not on the earth").
SELECT code AS gauss_code FROM workorder.load_areas_geojson(jsonb_build_object('type', 'FeatureCollection', 'features', jsonb_build_array(
           jsonb_build_object('type', 'Feature', 'properties', '{"code": "990312", "name": "高斯区"}'::jsonb,
                              'geometry', ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(113.15, 23.1, 113.2, 23.2, 4326), 4547), 9, 2)::jsonb))),
       'district') \gset
SELECT is((SELECT ST_Equals(ST_SnapToGrid(a.geom, 0.000001),
                            ST_SnapToGrid(ST_Multi(ST_MakeEnvelope(113.15, 23.1, 113.2, 23.2, 4326)), 0.000001))
             FROM workorder.areas a WHERE a.code = :'gauss_code'),
          true, 'a GeoJSON feature in EPSG:4547 (its crs named) loads where it lies');
-- ... and so does one whose collection names the crs, where ogr2ogr and QGIS write it.
SELECT code AS gauss_collection_code FROM workorder.load_areas_geojson(jsonb_build_object('type', 'FeatureCollection',
           'crs', '{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}'::jsonb,
           'features', jsonb_build_array(
           jsonb_build_object('type', 'Feature', 'properties', '{"code": "990314", "name": "高斯集区"}'::jsonb,
                              'geometry', ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(113.25, 23.1, 113.3, 23.2, 4326), 4547), 9, 0)::jsonb))),
       'district') \gset
SELECT is((SELECT ST_Equals(ST_SnapToGrid(a.geom, 0.000001),
                            ST_SnapToGrid(ST_Multi(ST_MakeEnvelope(113.25, 23.1, 113.3, 23.2, 4326)), 0.000001))
             FROM workorder.areas a WHERE a.code = :'gauss_collection_code'),
          true, 'a GeoJSON feature of a collection whose crs is EPSG:4547 loads where it lies');

-- An empty part beside a real one is dropped (stored as given, it came out of
-- ST_AsGeoJSON as empty coordinates, which GeoJSON clients refuse).
SELECT is((SELECT ST_AsText(geom) FROM workorder.load_area('990313', '空洞区', 'district', NULL,
               'SRID=4326;MULTIPOLYGON(EMPTY,((8 8,9 8,9 9,8 9,8 8)))'::geometry)),
          'MULTIPOLYGON(((8 8,9 8,9 9,8 9,8 8)))', 'an empty part of a MultiPolygon is dropped');

-- The map reloads when area_pieces changes, as for any reference table: admins may
-- write the pieces, and a piece deleted that way stayed in every backend's map.
SELECT workorder.locate(8.5, 8.5) IS NOT NULL AS map_loaded \gset
DELETE FROM workorder.area_pieces WHERE area_code = '990313';
SET LOCAL workorder.locate_map = off;
SELECT (workorder.locate(8.5, 8.5)).area_code IS NOT DISTINCT FROM NULL AS queried_nothing,
       COALESCE((workorder.locate(8.5, 8.5)).area_code, 'none') AS queried \gset
SET LOCAL workorder.locate_map = on;
SELECT is(COALESCE((workorder.locate(8.5, 8.5)).area_code, 'none'), :'queried',
          'a piece deleted from area_pieces is gone from the map too: it answers as the query does');

-- An area deleted and loaded again in one transaction (the parent's foreign key is
-- deferred), renamed and out of jurisdiction, under the children it had: they take
-- its name into their paths and go out of jurisdiction with it.  (They kept the old
-- name and stayed in jurisdiction: reports from the neighbour's town were routed as
-- the district's own.)
SELECT code AS del_district FROM workorder.load_area('990331', '删区', 'district', NULL, ST_MakeEnvelope(20, 20, 20.1, 20.1, 4326)) \gset
SELECT code AS del_town FROM workorder.load_area('990331001', '删街道', 'town', '990331', ST_MakeEnvelope(20, 20, 20.05, 20.05, 4326)) \gset
DELETE FROM workorder.areas WHERE code = '990331';
SELECT code AS del_district FROM workorder.load_area('990331', '删区(改)', 'district', NULL, ST_MakeEnvelope(20, 20, 20.1, 20.1, 4326),
                                                     in_jurisdiction => false) \gset
SELECT is((SELECT ROW(in_jurisdiction, path_names)::text FROM workorder.areas WHERE code = '990331001'),
          ROW(false, '{删区(改),删街道}'::text[])::text,
          'a child of an area deleted and loaded again out of jurisdiction goes out with it, and takes its new name');
SELECT is((SELECT ROW(area_code, in_jurisdiction)::text FROM workorder.locate(20.01, 20.01)),
          ROW('990331001', false)::text, '... and locate() says so');

-- The nearest area is the nearest in metres, not in degrees: at 60 degrees north a
-- degree of longitude is half a degree of latitude.  Eight small districts lie
-- 106 m north of the point and one 81 m east of it, farther in degrees than all
-- eight (it was outside the 8 pieces nearest in degrees, and a north one was taken).
INSERT INTO workorder.areas (code, name, level, geom)
SELECT (990400 + k)::text, '北' || k, 'district',
       ST_Multi(ST_MakeEnvelope(9.99965 + k * 0.0001, 60.00095, 9.99965 + k * 0.0001 + 0.00005, 60.00105, 4326))
  FROM generate_series(0, 7) k;
INSERT INTO workorder.areas (code, name, level, geom)
VALUES ('990410', '东', 'district', ST_Multi(ST_MakeEnvelope(10.00145, 59.99995, 10.00155, 60.00005, 4326)));
SELECT is((SELECT ROW(area_code, round(distance_m))::text FROM workorder.locate(10, 60, 200)),
          ROW('990410', 81)::text,
          'a gap goes to the area nearest in metres, though eight others are nearer in degrees');
SELECT is((SELECT ROW(area_code, round(distance_m))::text FROM workorder.nearest_area(ST_SetSRID(ST_MakePoint(10, 60), 4326), NULL, 100)),
          ROW('990410', 81)::text,
          'nearest_area() measures every piece within the nearest distance found, not only the 8 nearest in degrees');

SELECT * FROM finish();
ROLLBACK;
