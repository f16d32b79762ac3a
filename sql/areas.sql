-- Jurisdictions: loading, repair, the area check and locate().
--
-- The fixture is a small made-up map near Foshan, with rectangles chosen so that
-- every rule of locate() has a case:
--   district 990101 (in jurisdiction)     113.00..113.20 x 23.00..23.20
--     town 990101001  west half           113.00..113.10
--       village 990101001001 south half   23.00..23.10
--       village 990101001002 north half   23.10..23.20 (shares a boundary with 001)
--     town 990101002  east half, leaving a 0.0005° (~51 m) gap at 113.10..113.1005
--       village 990101002001 its south half, village 990101002002 its north half
--       but reaching 0.01° too far south: an overlap with 002001
--   district 990102 (neighbour, out of jurisdiction)  113.2005..113.40: a sliver
--     of ~51 m between the two districts.
SET client_min_messages = notice;
SELECT code, name, level, in_jurisdiction, path
  FROM workorder.load_area('990101', '测试区', 'district', NULL,
         ST_MakeEnvelope(113.00, 23.00, 113.20, 23.20, 4326));
SELECT code, path FROM workorder.load_area('990101001', '西街道', 'town', '990101',
         ST_MakeEnvelope(113.00, 23.00, 113.10, 23.20, 4326));
SELECT code, path FROM workorder.load_area('990101002', '东镇', 'town', '990101',
         ST_MakeEnvelope(113.1005, 23.00, 113.20, 23.20, 4326));
SELECT code, path FROM workorder.load_area('990101001001', '南村', 'village', '990101001',
         ST_MakeEnvelope(113.00, 23.00, 113.10, 23.10, 4326));
SELECT code, path FROM workorder.load_area('990101001002', '北村', 'village', '990101001',
         ST_MakeEnvelope(113.00, 23.10, 113.10, 23.20, 4326));
SELECT code, path FROM workorder.load_area('990101002001', '东南社区', 'village', '990101002',
         ST_MakeEnvelope(113.1005, 23.00, 113.20, 23.10, 4326));
SELECT code, path FROM workorder.load_area('990101002002', '东北社区', 'village', '990101002',
         ST_MakeEnvelope(113.1005, 23.09, 113.20, 23.20, 4326));
SELECT code, in_jurisdiction, path FROM workorder.load_area('990102', '邻区', 'district', NULL,
         ST_MakeEnvelope(113.2005, 23.00, 113.40, 23.20, 4326), in_jurisdiction => false);

-- A polygon in another SRID is stored in 4326 (EPSG:3857 metres here).
SELECT code, ST_SRID(geom), ST_AsText(geom, 4)
  FROM workorder.load_area('990103', '米制区', 'district', NULL,
         ST_Transform(ST_MakeEnvelope(113.5, 23.0, 113.6, 23.1, 4326), 3857), false);

-- A bow-tie ring crosses itself: it is repaired, both lobes are kept, and the repair
-- is reported by a NOTICE and a row.
SELECT code, ST_NumGeometries(geom) AS parts, round(ST_Area(geom)::numeric, 6) AS area_deg2
  FROM workorder.load_area('990104', '蝴蝶区', 'district', NULL,
         ST_GeomFromText('POLYGON((114 23, 114.1 23.1, 114.1 23, 114 23.1, 114 23))', 4326), false);
-- A ring with a spike: the spike encloses no area and is the only thing dropped.
SELECT code, ST_NumGeometries(geom) AS parts, round(ST_Area(geom)::numeric, 6) AS area_deg2
  FROM workorder.load_area('990105', '尖刺区', 'district', NULL,
         ST_GeomFromText('POLYGON((115 23, 115.1 23, 115.1 23.05, 115.2 23.05, 115.1 23.05, 115.1 23.1, 115 23.1, 115 23))', 4326), false);
SELECT area_code, problem, action, parts_before, parts_after, spike_vertices,
       round(spike_reach_m) AS spike_reach_m
  FROM workorder.area_repairs ORDER BY area_code;

-- Reloading an area replaces it, and its subdivided pieces follow.
SELECT count(*) AS pieces_before FROM workorder.area_pieces WHERE area_code = '990103';
SELECT code FROM workorder.load_area('990103', '米制区', 'district', NULL,
         ST_MakeEnvelope(113.5, 23.0, 113.55, 23.1, 4326), false);
SELECT count(*) AS pieces, round(sum(ST_Area(geom))::numeric, 4) AS pieces_area
  FROM workorder.area_pieces WHERE area_code = '990103';

-- Every overlap and gap between siblings, with its size.
SELECT kind, parent_code, area_a, area_b, round(area_m2 / 1000) AS area_1000m2
  FROM workorder.check_areas();

-- locate(): the deepest area that contains the point.
SELECT * FROM workorder.locate(113.05, 23.05);
-- On the boundary shared by 990101001001 and 990101001002: the smaller code.
SELECT area_code, match FROM workorder.locate(113.05, 23.10);
-- In the overlap of 990101002001 and 990101002002: the smaller code.
SELECT area_code, match FROM workorder.locate(113.15, 23.095);
-- In the 51 m gap between the two towns: the nearest town, then its nearest village.
SELECT area_code, chain, approximate, round(distance_m) AS distance_m, match
  FROM workorder.locate(113.1001, 23.05);
-- The same point with no tolerance stays at the district, exactly.
SELECT area_code, approximate, match FROM workorder.locate(113.1001, 23.05, 0);
-- In the sliver between the district and its neighbour.
SELECT area_code, in_jurisdiction, approximate, round(distance_m) AS distance_m, match
  FROM workorder.locate(113.2001, 23.05);
-- Inside the neighbour: named, but out of jurisdiction.
SELECT area_code, area_name, in_jurisdiction, approximate, match FROM workorder.locate(113.3, 23.1);
-- Far from everything.
SELECT * FROM workorder.locate(100.0, 30.0);
-- A point in another SRID is transformed first.
SELECT area_code, match
  FROM workorder.locate(ST_Transform(ST_SetSRID(ST_MakePoint(113.05, 23.15), 4326), 3857));
-- The tolerance comes from the settings table when not given.
INSERT INTO workorder.settings VALUES ('locate_tolerance_m', '10', 'test');
SELECT area_code, approximate, match FROM workorder.locate(113.1001, 23.05);
DELETE FROM workorder.settings WHERE name = 'locate_tolerance_m';

-- Bad input is refused with a project SQLSTATE, and nothing is written.
\set SHOW_CONTEXT never
SELECT workorder.locate(NULL::geometry);
SELECT workorder.locate('POINT EMPTY'::geometry);
SELECT workorder.locate(ST_MakePoint('NaN', 23));
SELECT workorder.locate(ST_MakePoint(113.05, 23.05));
SELECT workorder.locate(ST_SetSRID(ST_MakePoint(113.05, 23.05), 999999));
SELECT workorder.locate('SRID=4326;LINESTRING(113 23, 113.1 23.1)'::geometry);
SELECT workorder.locate(500, 23);
SELECT workorder.load_area('990106', '线区', 'district', NULL, 'SRID=4326;LINESTRING(113 23, 113.1 23.1)'::geometry);
SELECT workorder.load_area('99010', '短码区', 'district', NULL, ST_MakeEnvelope(1, 1, 2, 2, 4326));
SELECT workorder.load_area('990101003', '孤儿镇', 'town', '990199', ST_MakeEnvelope(1, 1, 2, 2, 4326));
SELECT workorder.load_area('990102001', '越界镇', 'town', '990101', ST_MakeEnvelope(1, 1, 2, 2, 4326));
\set SHOW_CONTEXT errors
SELECT count(*) AS areas FROM workorder.areas;
