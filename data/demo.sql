-- demo.sql loads the Nanhai demo: the five Foshan districts, Nanhai's 7 towns and
-- 307 villages, the departments and every center, a category catalogue and six
-- channels.  Run it from the repository root, in a database where
-- CREATE EXTENSION workorder CASCADE has been done:
--
--     psql -v ON_ERROR_STOP=1 -f data/demo.sql
--
-- (`make demo` does all of this on a private cluster.)  Everything is loaded
-- through the extension's own loaders, so this file is also an example of them.
--
-- What is real and what is made up:
--   * foshan-districts.geojson: the real (published, broken) district polygons.
--     The loader repairs every ring and says so in a NOTICE; that is expected.
--   * nanhai-divisions.csv: the real codes and names of the towns and villages.
--     No polygons are published for them, so they are synthesised here, inside
--     the repaired Nanhai boundary:
--       - towns: a power diagram (a Voronoi diagram with weights) of the
--         approximate town seats in demo-towns.csv, clipped to the district; the
--         weights are fitted so that each town gets about its published area
--         (area_km2, approximate, used only as a target).  The cut lines are
--         densified to 100 m so that they stay straight on the ellipsoid too.
--       - villages: in each town, as many seeded random points as it has
--         villages, two rounds of Lloyd relaxation, a Voronoi diagram clipped to
--         the town; a piece of a cell cut off by the town's outline goes to the
--         neighbour it shares the most border with.  Cells are given to codes in
--         code order, seeds taken in geohash order.
--     Every step is deterministic (fixed seeds, fixed orders): same data, same map.
--   * demo-departments.csv, demo-categories.csv, demo-channels.json: a plausible
--     set of department kinds, units, categories and channels for the demo.
--
-- The script leaves its staging tables and the two synthesis functions
-- (pg_temp.demo_town_cells, pg_temp.demo_village_cells) in the session's
-- temporary schema; they go away when the session ends.

\set ON_ERROR_STOP on
\set demo_saved_quiet :QUIET
\set QUIET on

-- Start clean when run twice in one session, without a NOTICE for what is not there.
SELECT current_setting('client_min_messages') AS demo_saved_min_messages \gset
SET client_min_messages = warning;
DROP TABLE IF EXISTS pg_temp.demo_divisions, pg_temp.demo_town_seeds,
                     pg_temp.demo_departments, pg_temp.demo_categories;
DROP FUNCTION IF EXISTS pg_temp.demo_halfplane(float8, float8, float8, float8, float8, float8);
DROP FUNCTION IF EXISTS pg_temp.demo_town_cells(text);
DROP FUNCTION IF EXISTS pg_temp.demo_village_cells();
SET client_min_messages = :'demo_saved_min_messages';

\qecho '== Nanhai demo: loading'

------------------------------------------------------------------------------
-- 1. Districts: Nanhai in jurisdiction, its four Foshan neighbours outside it.
------------------------------------------------------------------------------
\set demo_geojson `cat data/foshan-districts.geojson`
SELECT count(*) FILTER (WHERE repaired) AS demo_repaired, count(*) AS demo_districts
  FROM workorder.load_areas_geojson(
         jsonb_build_object('type', 'FeatureCollection', 'features',
           jsonb_path_query_array(:'demo_geojson'::jsonb, '$.features[*] ? (@.properties.code == "440605")')),
         'district', in_jurisdiction => true) \gset
SELECT count(*) FILTER (WHERE repaired) + :demo_repaired AS demo_repaired,
       count(*) + :demo_districts AS demo_districts
  FROM workorder.load_areas_geojson(
         jsonb_build_object('type', 'FeatureCollection', 'features',
           jsonb_path_query_array(:'demo_geojson'::jsonb, '$.features[*] ? (@.properties.code != "440605")')),
         'district', in_jurisdiction => false) \gset
\unset demo_geojson
\qecho districts: :demo_districts loaded (:demo_repaired repaired), Nanhai 440605 in jurisdiction

------------------------------------------------------------------------------
-- 2. Towns and villages: real codes and names, synthesised polygons.
------------------------------------------------------------------------------
CREATE TEMP TABLE demo_divisions (code text PRIMARY KEY, parent_code text, level text, name text);
\copy demo_divisions FROM 'data/nanhai-divisions.csv' WITH (FORMAT csv, HEADER true)
CREATE TEMP TABLE demo_town_seeds (code text PRIMARY KEY, name text, seat_lon float8, seat_lat float8,
                                   area_km2 float8);
\copy demo_town_seeds FROM 'data/demo-towns.csv' WITH (FORMAT csv, HEADER true)

DO $check$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(coalesce(d.code, s.code), ', ') INTO missing
      FROM (SELECT * FROM demo_divisions WHERE level = 'town') d
      FULL JOIN demo_town_seeds s ON s.code = d.code
     WHERE d.code IS NULL OR s.code IS NULL;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'data/demo-towns.csv and data/nanhai-divisions.csv disagree on the towns: %', missing;
    END IF;
END
$check$;

-- demo_halfplane is the half of the plane (as a 2000 km square) where seed i is
-- at least as near as seed j in power distance: |P - Si|^2 - wi <= |P - Sj|^2 - wj,
-- i.e. n.P <= c with n = 2 (Sj - Si), c = |Sj|^2 - |Si|^2 + wi - wj.  In km.
CREATE FUNCTION pg_temp.demo_halfplane(xi float8, yi float8, wi float8, xj float8, yj float8, wj float8)
RETURNS geometry
LANGUAGE sql IMMUTABLE
AS $$
    SELECT ST_MakePolygon(ST_MakeLine(ARRAY[
               ST_MakePoint(px + l * tx,             py + l * ty),
               ST_MakePoint(px + l * tx - 2 * l * ux, py + l * ty - 2 * l * uy),
               ST_MakePoint(px - l * tx - 2 * l * ux, py - l * ty - 2 * l * uy),
               ST_MakePoint(px - l * tx,             py - l * ty),
               ST_MakePoint(px + l * tx,             py + l * ty)]))
      FROM (SELECT nx / nn AS ux, ny / nn AS uy, -ny / nn AS tx, nx / nn AS ty,
                   nx * c / (nn * nn) AS px, ny * c / (nn * nn) AS py, 1000.0::float8 AS l
              FROM (SELECT 2 * (xj - xi) AS nx, 2 * (yj - yi) AS ny,
                           (xj * xj + yj * yj) - (xi * xi + yi * yi) + wi - wj AS c,
                           2 * sqrt((xj - xi) ^ 2 + (yj - yi) ^ 2) AS nn) n) v
$$;

-- demo_town_cells returns a polygon for every town in demo_town_seeds: the power
-- diagram of the town seats, clipped to the district.  The weights start at zero
-- (a plain Voronoi diagram) and are moved until every town's area is within 2%
-- of its share of the district (by area_km2).  The diagram is computed in a
-- local plane in kilometres around (113.05, 23.05) and mapped back to lon/lat.
CREATE FUNCTION pg_temp.demo_town_cells(district_code text)
RETURNS TABLE (code text, geom geometry)
LANGUAGE plpgsql
AS $$
DECLARE
    lon0 CONSTANT float8 := 113.05;
    lat0 CONSTANT float8 := 23.05;
    ka CONSTANT float8 := 111.320 * cos(radians(23.05));   -- km per degree of longitude
    kb CONSTANT float8 := 110.574;                          -- km per degree of latitude
    district geometry := (SELECT a.geom FROM workorder.areas a WHERE a.code = district_code);
    total float8 := ST_Area(district::geography) / 1e6;
    frame geometry;
    codes text[]; x float8[]; y float8[]; w float8[]; target float8[]; km2 float8[];
    plane geometry[]; cells geometry[];
    n integer; i integer; j integer; rounds integer := 0; h geometry; worst float8;
BEGIN
    frame := ST_Expand(ST_Affine(ST_SetSRID(ST_Envelope(district), 0), ka, 0, 0, kb, -ka * lon0, -kb * lat0), 2);
    SELECT array_agg(s.code ORDER BY s.code),
           array_agg(ka * (s.seat_lon - lon0) ORDER BY s.code),
           array_agg(kb * (s.seat_lat - lat0) ORDER BY s.code),
           array_agg(0::float8 ORDER BY s.code),
           array_agg(total * s.area_km2 / (SELECT sum(t.area_km2) FROM demo_town_seeds t) ORDER BY s.code)
      INTO codes, x, y, w, target
      FROM demo_town_seeds s;
    n := cardinality(codes);
    LOOP
        rounds := rounds + 1;
        -- Each pair's cut is computed once: i keeps the half-plane, j the rest, so
        -- the two sides of a border are the same line.
        plane := array_fill(ST_MakeEnvelope(-1000, -1000, 1000, 1000), ARRAY[n]);
        FOR i IN 1..n LOOP
            FOR j IN i + 1..n LOOP
                h := pg_temp.demo_halfplane(x[i], y[i], w[i], x[j], y[j], w[j]);
                plane[i] := ST_Intersection(plane[i], h);
                plane[j] := ST_Difference(plane[j], h);
            END LOOP;
        END LOOP;
        cells := '{}';
        km2 := '{}';
        FOR i IN 1..n LOOP
            -- 100 m between vertices on the cut lines, so that a straight border in
            -- lon/lat and the same border on the ellipsoid stay within millimetres.
            cells[i] := ST_Multi(ST_CollectionExtract(ST_Intersection(district,
                            ST_SetSRID(ST_Affine(ST_Segmentize(ST_Intersection(plane[i], frame), 0.1),
                                                 1 / ka, 0, 0, 1 / kb, lon0, lat0), 4326)), 3));
            km2[i] := ST_Area(cells[i]::geography) / 1e6;
        END LOOP;
        SELECT max(abs(km2[k] - target[k]) / target[k]) INTO worst FROM generate_series(1, n) k;
        EXIT WHEN worst < 0.02 OR rounds >= 100;
        -- Growing a weight by dw grows the cell by roughly pi/2 dw km^2.
        FOR i IN 1..n LOOP
            w[i] := w[i] + 2 * (target[i] - km2[i]) / pi();
        END LOOP;
    END LOOP;
    RAISE NOTICE 'towns: power diagram fitted in % rounds; largest area error %',
        rounds, round((100 * worst)::numeric, 1) || '%';
    FOR i IN 1..n LOOP
        code := codes[i];
        geom := cells[i];
        RETURN NEXT;
    END LOOP;
END
$$;

-- demo_village_cells returns a polygon for every village in demo_divisions, made
-- inside its town as loaded in workorder.areas.
CREATE FUNCTION pg_temp.demo_village_cells()
RETURNS TABLE (code text, geom geometry)
LANGUAGE plpgsql
AS $$
DECLARE
    t record;
    pts geometry;
    round_number integer;
BEGIN
    FOR t IN SELECT a.code AS town, a.geom AS town_geom, array_agg(v.code ORDER BY v.code) AS codes
               FROM workorder.areas a
               JOIN demo_divisions v ON v.parent_code = a.code AND v.level = 'village'
              WHERE a.level = 'town'
              GROUP BY a.code, a.geom
              ORDER BY a.code
    LOOP
        -- The seed of the random points is the town's own number (011, 121, ...).
        pts := ST_GeneratePoints(t.town_geom, cardinality(t.codes), substr(t.town, 7)::integer);
        FOR round_number IN 1..2 LOOP
            -- Lloyd relaxation: move every point to the middle of its cell.
            SELECT ST_Collect(p ORDER BY ST_GeoHash(p, 12), ST_X(p), ST_Y(p)) INTO pts
              FROM (SELECT CASE WHEN ST_Intersects(ST_Centroid(c), t.town_geom) THEN ST_Centroid(c)
                                ELSE ST_PointOnSurface(c) END AS p
                      FROM (SELECT ST_Intersection(d.geom, t.town_geom) AS c
                              FROM ST_Dump(ST_VoronoiPolygons(pts, 0, ST_Expand(t.town_geom, 0.1))) d) cell) moved;
        END LOOP;
        RETURN QUERY
        WITH seeds AS (
            SELECT d.geom AS p, row_number() OVER (ORDER BY ST_GeoHash(d.geom, 12), ST_X(d.geom), ST_Y(d.geom))::integer AS k
              FROM ST_Dump(pts) d
        ), cells AS (
            SELECT t.codes[s.k] AS code, ST_CollectionExtract(ST_Intersection(d.geom, t.town_geom), 3) AS g
              FROM ST_Dump(ST_VoronoiPolygons(pts, 0, ST_Expand(t.town_geom, 0.1))) d
              JOIN seeds s ON ST_Intersects(d.geom, s.p)
        ), parts AS (
            SELECT c.code, d.geom AS g,
                   row_number() OVER (PARTITION BY c.code ORDER BY ST_Area(d.geom) DESC, ST_AsBinary(d.geom)) AS rank
              FROM cells c, ST_Dump(c.g) d
        ), placed AS (
            SELECT p.code, p.g FROM parts p WHERE p.rank = 1
            UNION ALL
            -- A piece of a cell that the town's outline cut off from the rest goes
            -- to the neighbour it shares the longest border with (an island of the
            -- district stays where it is).
            SELECT COALESCE((SELECT m.code
                               FROM parts m,
                                    LATERAL ST_Length(ST_CollectionExtract(ST_Intersection(m.g, p.g), 2)) AS border
                              WHERE m.rank = 1 AND m.code <> p.code AND ST_Intersects(m.g, p.g) AND border > 0
                              ORDER BY border DESC, m.code
                              LIMIT 1), p.code),
                   p.g
              FROM parts p WHERE p.rank > 1
        )
        SELECT placed.code, ST_Multi(ST_Union(placed.g)) FROM placed GROUP BY placed.code;
    END LOOP;
END
$$;

SELECT count(workorder.load_area(c.code, d.name, 'town', '440605', c.geom)) AS demo_towns
  FROM pg_temp.demo_town_cells('440605') c
  JOIN demo_divisions d ON d.code = c.code \gset
SELECT count(workorder.load_area(c.code, d.name, 'village', d.parent_code, c.geom)) AS demo_villages
  FROM pg_temp.demo_village_cells() c
  JOIN demo_divisions d ON d.code = c.code \gset
\qecho towns: :demo_towns, villages: :demo_villages (synthesised polygons)

------------------------------------------------------------------------------
-- 3. Department kinds and units.
------------------------------------------------------------------------------
CREATE TEMP TABLE demo_departments (n serial, kind text PRIMARY KEY, kind_name text NOT NULL,
                                    department text NOT NULL, branch text);
\copy demo_departments (kind, kind_name, department, branch) FROM 'data/demo-departments.csv' WITH (FORMAT csv, HEADER true)

SELECT workorder.load_department_kinds(
           jsonb_agg(jsonb_build_object('code', kind, 'name', kind_name) ORDER BY n)) AS demo_kinds
  FROM demo_departments \gset

-- Unit codes: C-<area code> for a center, D-<kind> for a district department,
-- B-<kind>-<town code> for a department's branch in a town.  In a branch name,
-- {town} is the town's name (桂城街道) and {short} the name without 街道/镇 (桂城).
WITH towns AS (
    SELECT code, name, regexp_replace(name, '(街道|镇)$', '') AS short
      FROM demo_divisions WHERE level = 'town'
), units AS (
    SELECT 1 AS o, 'C-440605' AS code, '南海区社会治理指挥中心' AS name, 'center' AS kind, 'district' AS level,
           NULL AS department_kind, NULL AS parent_code, '440605' AS area_code
    UNION ALL
    SELECT 2, 'C-' || t.code, t.name || '指挥中心', 'center', 'town', NULL, 'C-440605', t.code
      FROM towns t
    UNION ALL
    -- 桂一社区居委会 -> 桂一社区工作站, 新龙村委会 -> 新龙村工作站
    SELECT 3, 'C-' || v.code, regexp_replace(v.name, '(居委会|委会)$', '') || '工作站', 'center', 'village',
           NULL, 'C-' || v.parent_code, v.code
      FROM demo_divisions v WHERE v.level = 'village'
    UNION ALL
    SELECT 4, 'D-' || d.kind, d.department, 'department', 'district', d.kind, NULL, '440605'
      FROM demo_departments d
    UNION ALL
    SELECT 5, 'B-' || d.kind || '-' || t.code,
           replace(replace(d.branch, '{town}', t.name), '{short}', t.short),
           'branch', 'town', d.kind, 'D-' || d.kind, t.code
      FROM demo_departments d CROSS JOIN towns t
     WHERE coalesce(d.branch, '') <> ''
)
SELECT workorder.load_units(jsonb_agg(jsonb_strip_nulls(to_jsonb(u) - 'o') ORDER BY u.o, u.code)) AS demo_units
  FROM units u \gset
\qecho department kinds: :demo_kinds, units: :demo_units

------------------------------------------------------------------------------
-- 4. The category catalogue and the channels.
------------------------------------------------------------------------------
CREATE TEMP TABLE demo_categories (n serial, code text PRIMARY KEY, name text, parent_code text,
                                   handling_level text, department_kind text, sla_policy text,
                                   dedup_radius_m text, dedup_window text, description text);
\copy demo_categories (code, name, parent_code, handling_level, department_kind, sla_policy, dedup_radius_m, dedup_window, description) FROM 'data/demo-categories.csv' WITH (FORMAT csv, HEADER true)
SELECT workorder.load_categories(jsonb_agg(jsonb_strip_nulls(to_jsonb(c) - 'n') ORDER BY c.n)) AS demo_categories
  FROM demo_categories c \gset

\set demo_channels `cat data/demo-channels.json`
SELECT workorder.load_channels(:'demo_channels'::jsonb) AS demo_channels \gset
\qecho categories: :demo_categories, channels: :demo_channels

------------------------------------------------------------------------------
-- 5. What was loaded (skipped when the variable demo_no_summary is set).
------------------------------------------------------------------------------
\if :{?demo_no_summary}
\else
\qecho
\qecho '== Areas'
SELECT level, in_jurisdiction, count(*) AS areas,
       round((sum(ST_Area(geom::geography)) / 1e6)::numeric, 1) AS km2,
       string_agg(name, ' ' ORDER BY code) FILTER (WHERE level <= 'town') AS names
  FROM workorder.areas
 GROUP BY level, in_jurisdiction
 ORDER BY level, in_jurisdiction DESC;

\qecho '== Area check (check_areas, parts of 1 m² or more)'
SELECT c.kind,
       CASE WHEN c.parent_code IS NULL THEN 'between the Foshan districts (as published)'
            ELSE 'in ' || p.name || ' ' || p.code END AS place,
       count(*) AS parts, round(sum(c.area_m2)::numeric, 1) AS total_m2,
       round(max(c.area_m2)::numeric, 1) AS largest_m2
  FROM workorder.check_areas() c
  LEFT JOIN workorder.areas p ON p.code = c.parent_code
 GROUP BY 1, 2
 ORDER BY 1, 2;

\qecho '== Units'
SELECT u.kind, u.level, count(*) AS units, min(u.name) AS e_g
  FROM workorder.units u
 GROUP BY u.kind, u.level
 ORDER BY u.kind, u.level;

\qecho '== Categories'
SELECT f.code AS family, f.name, f.handling_level AS level, f.department_kind,
       count(c.code) AS leaves, string_agg(c.name, '、' ORDER BY c.code) AS examples
  FROM workorder.categories f
  LEFT JOIN workorder.categories c ON c.parent_code = f.code
 WHERE f.parent_code IS NULL
 GROUP BY f.code, f.name, f.handling_level, f.department_kind
 ORDER BY f.code;

\qecho '== Channels'
SELECT ch.code, ch.name, ch.kind, ch.replies, count(m.*) AS own_codes,
       string_agg(m.channel_category_code || '→' || m.category_code, ' '
                  ORDER BY m.channel_category_code) FILTER (WHERE m.category_code LIKE 'ROAD%') AS e_g_roads
  FROM workorder.channels ch
  LEFT JOIN workorder.channel_categories m ON m.channel_code = ch.code
 GROUP BY ch.code, ch.name, ch.kind, ch.replies
 ORDER BY ch.code;

\qecho '== locate() samples'
SELECT s.place, s.lon, s.lat, l.area_code, l.area_name, l.level, l.in_jurisdiction, l.match,
       array_to_string(l.chain_names, ' > ') AS chain
  FROM (VALUES ('桂城 Guicheng', 113.1500::float8, 23.0300::float8),
               ('狮山 Shishan', 113.0000, 23.1500),
               ('禅城 Chancheng', 113.1100, 23.0300),
               ('顺德 Shunde', 113.2500, 22.8500),
               ('广州 Guangzhou', 113.2700, 23.1300)) s(place, lon, lat),
       LATERAL workorder.locate(s.lon, s.lat) l;
\endif

-- Fresh tables have no statistics; give the planner some before the first reports.
ANALYZE workorder.areas, workorder.area_pieces, workorder.units, workorder.categories,
        workorder.category_effective, workorder.channels, workorder.channel_categories;

\set QUIET :demo_saved_quiet
