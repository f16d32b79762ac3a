-- The Nanhai demo (data/demo.sql): it loads whole, with the real codes and names,
-- polygons that nest and tile, every center and branch, a usable catalogue and
-- channels, and the same map every time.  Run from the repository root.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(33);

\set demo_no_summary 1
\o /dev/null
\i data/demo.sql
\o

-- What the real division list says, read here independently of the demo.
CREATE TEMP TABLE expected_divisions (code text, parent_code text, level text, name text);
\copy expected_divisions FROM 'data/nanhai-divisions.csv' WITH (FORMAT csv, HEADER true)

-- Districts.
SELECT is((SELECT count(*) FROM workorder.areas WHERE level = 'district'), 5::bigint,
          'the five Foshan districts are loaded');
SELECT is((SELECT array_agg(code) FROM workorder.areas WHERE level = 'district' AND in_jurisdiction),
          ARRAY['440605'], 'only Nanhai (440605) is in jurisdiction');

-- Towns and villages: exactly the real codes, names and parents.
SELECT is((SELECT count(*) FROM workorder.areas WHERE level = 'town'), 7::bigint, '7 towns/streets');
SELECT set_eq($$SELECT code, name, parent_code FROM workorder.areas WHERE level = 'town'$$,
              $$SELECT code, name, parent_code FROM expected_divisions WHERE level = 'town'$$,
              'the towns are the real ones: codes, names and parent as in nanhai-divisions.csv');
SELECT is((SELECT count(*) FROM workorder.areas WHERE level = 'village'), 307::bigint, '307 villages/communities');
SELECT set_eq($$SELECT code, name, parent_code FROM workorder.areas WHERE level = 'village'$$,
              $$SELECT code, name, parent_code FROM expected_divisions WHERE level = 'village'$$,
              'the villages are the real ones: codes, names and parents as in nanhai-divisions.csv');
SELECT ok((SELECT bool_and(in_jurisdiction) FROM workorder.areas WHERE code LIKE '440605%'),
          'every area of Nanhai is in jurisdiction');

-- Polygons: valid, of a sensible size, nested and tiling.
SELECT ok((SELECT bool_and(ST_IsValid(geom, 0) AND NOT ST_IsEmpty(geom)
                           AND GeometryType(geom) = 'MULTIPOLYGON')
             FROM workorder.areas WHERE level IN ('town', 'village')),
          'every town and village polygon is a valid, non-empty MultiPolygon');
SELECT ok((SELECT min(ST_Area(geom::geography)) > 2e5 FROM workorder.areas WHERE level = 'village'),
          'every village is bigger than 0.2 km²');
SELECT ok((SELECT bool_and(abs(ST_Area(a.geom::geography) / 1e6 - s.area_km2) / s.area_km2 < 0.05)
             FROM workorder.areas a JOIN demo_town_seeds s ON s.code = a.code),
          'every town is within 5% of its target area (demo-towns.csv)');
SELECT ok((SELECT abs(sum(ST_Area(geom::geography)) - (SELECT ST_Area(geom::geography) FROM workorder.areas
                                                        WHERE code = '440605')) < 1e5
             FROM workorder.areas WHERE level = 'town'),
          'the towns add up to the district');

-- check_areas, inside Nanhai.  A part is measured here in the plane of lon/lat, scaled
-- to m² at its latitude: that is the plane the polygons are cut in.  Measured on the
-- ellipsoid instead, a sliver of ~1e-7 m² along a long straight edge of the
-- published district outline comes out at 1-3 m² (the edge bows on the ellipsoid).
CREATE TEMP TABLE demo_check AS
SELECT c.kind, c.parent_code, c.area_a, c.area_b, c.area_m2,
       ST_Area(c.geom) * 111320 * cos(radians(ST_Y(ST_Centroid(c.geom)))) * 110574 AS plane_m2
  FROM workorder.check_areas(0) c
 WHERE c.parent_code LIKE '440605%' OR c.area_a LIKE '440605%';
SELECT is((SELECT count(*) FROM demo_check WHERE kind = 'outside_parent' AND plane_m2 >= 1), 0::bigint,
          'no town or village reaches 1 m² outside its parent');
SELECT is((SELECT count(*) FROM demo_check WHERE kind = 'overlap' AND plane_m2 >= 1), 0::bigint,
          'no two towns or villages overlap by 1 m² or more');
SELECT is((SELECT count(*) FROM demo_check WHERE kind = 'gap' AND plane_m2 >= 1), 0::bigint,
          'the towns tile Nanhai and the villages tile their town: no gap of 1 m² or more');
SELECT is((SELECT count(*)
             FROM workorder.areas v, LATERAL ST_Dump(v.geom) p
            WHERE v.level = 'village' AND ST_NumGeometries(v.geom) > 1
              AND ST_Area(p.geom) < (SELECT max(ST_Area(q.geom)) FROM ST_Dump(v.geom) q)
              AND EXISTS (SELECT 1 FROM workorder.areas o
                           WHERE o.parent_code = v.parent_code AND o.code <> v.code
                             AND ST_Intersects(o.geom, p.geom)
                             AND ST_Length(ST_CollectionExtract(ST_Intersection(o.geom, p.geom), 2)) > 0)),
          0::bigint, 'a village is in one piece, apart from islands of the district');

-- Determinism: a second synthesis gives the same polygons, bit for bit.
SELECT is((SELECT md5(string_agg(c.code || ':' || encode(ST_AsBinary(c.geom), 'hex'), ',' ORDER BY c.code))
             FROM pg_temp.demo_town_cells('440605') c),
          (SELECT md5(string_agg(a.code || ':' || encode(ST_AsBinary(a.geom), 'hex'), ',' ORDER BY a.code))
             FROM workorder.areas a WHERE a.level = 'town'),
          'the town polygons are the same when synthesised again');
SELECT is((SELECT md5(string_agg(c.code || ':' || encode(ST_AsBinary(c.geom), 'hex'), ',' ORDER BY c.code))
             FROM pg_temp.demo_village_cells() c),
          (SELECT md5(string_agg(a.code || ':' || encode(ST_AsBinary(a.geom), 'hex'), ',' ORDER BY a.code))
             FROM workorder.areas a WHERE a.level = 'village'),
          'the village polygons are the same when synthesised again');

-- locate(): a point inside each town lands in that town or one of its villages.
SELECT is((SELECT count(*)
             FROM workorder.areas t, LATERAL workorder.locate(ST_PointOnSurface(t.geom)) l
            WHERE t.level = 'town'
              AND NOT (l.in_jurisdiction AND l.chain[2] = t.code AND l.match = 'contained')),
          0::bigint, 'a point in each town is located in that town (or one of its villages), in jurisdiction');
SELECT is((SELECT count(*)
             FROM workorder.areas v, LATERAL workorder.locate(ST_PointOnSurface(v.geom)) l
            WHERE v.level = 'village' AND l.area_code IS DISTINCT FROM v.code),
          0::bigint, 'a point in each village is located in that village');
SELECT is((SELECT (l.area_code, l.in_jurisdiction)::text FROM workorder.locate(113.11, 23.03) l),
          '(440604,f)', 'a point in Chancheng is out of jurisdiction, in 禅城区');

-- Units.
SELECT is((SELECT count(*) FROM workorder.units
            WHERE kind = 'center' AND level = 'district' AND area_code = '440605' AND active),
          1::bigint, 'the district has its command center');
SELECT is((SELECT count(*) FROM workorder.areas a
            WHERE a.level IN ('town', 'village')
              AND NOT EXISTS (SELECT 1 FROM workorder.units u
                               WHERE u.area_code = a.code AND u.kind = 'center' AND u.level = a.level AND u.active)),
          0::bigint, 'every town and every village has its own center');
SELECT is((SELECT count(*) FROM workorder.units u
             JOIN workorder.units p ON p.code = u.parent_code
             JOIN workorder.areas a ON a.code = u.area_code
            WHERE u.kind = 'center' AND u.level = 'village'
              AND NOT (p.kind = 'center' AND p.area_code = a.parent_code)),
          0::bigint, 'every village center reports to its town''s center');
SELECT is((SELECT count(*) FROM workorder.department_kinds k
            WHERE NOT EXISTS (SELECT 1 FROM workorder.units u
                               WHERE u.kind = 'department' AND u.department_kind = k.code AND u.active)),
          0::bigint, 'every department kind has its district department');
SELECT is((SELECT count(*)
             FROM workorder.areas t
            CROSS JOIN (VALUES ('urban_management'), ('market'), ('public_security'), ('environment')) k(kind)
            WHERE t.level = 'town'
              AND NOT EXISTS (SELECT 1 FROM workorder.units u
                               WHERE u.kind = 'branch' AND u.area_code = t.code
                                 AND u.department_kind = k.kind AND u.active)),
          0::bigint, 'every town has an urban-management, market, police and environment branch');
SELECT is((SELECT name FROM workorder.units WHERE code = 'B-public_security-440605011'), '桂城派出所',
          'branch names read naturally (桂城派出所)');

-- Catalogue.
SELECT ok((SELECT count(*) BETWEEN 20 AND 40 FROM workorder.categories), 'the catalogue has 20 to 40 categories');
SELECT is((SELECT count(*) FROM workorder.category_defaults d
            WHERE NOT EXISTS (SELECT 1 FROM workorder.categories c WHERE c.parent_code = d.code)
              AND (d.handling_level IS NULL OR d.department_kind IS NULL OR d.sla_policy IS NULL
                   OR d.dedup_radius_m IS NULL OR d.dedup_window IS NULL)),
          0::bigint, 'every leaf has a handling level, department kind, SLA policy and dedup radius and window in force');
SELECT is((SELECT handling_level::text || '/' || department_kind FROM workorder.category_defaults
            WHERE code = 'CITY_STREET_VENDOR'),
          'village/urban_management', 'a street vendor stays in the village, with urban management');

-- Channels.
SELECT is((SELECT count(*) FROM workorder.channels), 6::bigint, 'six channels');
SELECT is((SELECT count(*) FROM workorder.channel_categories m
            WHERE NOT EXISTS (SELECT 1 FROM workorder.categories c WHERE c.code = m.category_code)),
          0::bigint, 'every channel category maps onto a catalogue category');
SELECT is((SELECT array_agg(code ORDER BY code) FROM workorder.channels c
            WHERE NOT EXISTS (SELECT 1 FROM workorder.channel_categories m WHERE m.channel_code = c.code)
               OR (NOT c.replies) <> (c.kind IN ('opinion', 'video_ai'))),
          NULL, 'every channel has its own codes; only opinion and video AI do not reply');
SELECT is(workorder.map_category('video_ai', 'helmet_missing'), 'ROAD_HELMET',
          'video AI''s helmet_missing maps to ROAD_HELMET');

SELECT * FROM finish();
ROLLBACK;
