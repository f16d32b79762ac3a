-- fuzz.sql: the fuzzer that test/scenario/fuzz.t drives.  It lives in schema fuzz of
-- a database of its own, beside the extension and the lifecycle map
-- (test/fixtures/lifecycle_map.sql).
--
-- How a call is made.  Every argument value is an SQL expression from fuzz.pool, one
-- list per type (NULLs, empty and 1 MB strings, Unicode edge cases, NaN, infinities,
-- extreme numbers, broken and exotic geometries, odd JSON, unknown codes, real order
-- ids ...).  fuzz.check_pool() evaluates every expression once, in the caller, before
-- any function is called: an expression that does not evaluate (a bad literal) is the
-- caller's error, is dropped from the pool and counted, and never blamed on the
-- function.  fuzz.fuzz_function() then calls the function many times with
-- arguments drawn at random (seeded: the same seed makes the same calls), each call
-- in a subtransaction, and classifies the outcome:
--   ok        the call returned (its result is converted to text, so that output
--             functions run too);
--   project   an error with a project SQLSTATE (class WO);
--   standard  an error with a standard SQLSTATE that fuzz.accepted_error() lists and
--             explains;
--   helper    an internal helper (a function README does not document: callers
--             check its arguments before they call it) called with values no caller
--             passes, failing with a standard SQLSTATE of PostgreSQL or PostGIS
--             other than class XX;
--   defect    anything else: an internal error (class XX), a standard SQLSTATE not
--             listed, or a broken invariant afterwards (fuzz.invariants()).
-- A documented function (the API) must give a result, a WO error or a listed one.
-- A crash (the backend dies) ends the psql session that runs the batch; fuzz.t sees
-- the connection drop and counts it as a defect.
--
-- NUL cannot occur in text, jsonb or cstring values in PostgreSQL (the input routines
-- refuse it), so there is no NUL case; chr(0) is itself an error of the caller.
-- A jsonb value is well-formed by construction: "malformed" here means the wrong
-- shape (an array for an object, a string for a number, missing keys, deep nesting).
-- A geometry has one SRID, so a collection cannot mix SRIDs; mixed SRIDs come from
-- calls whose arguments carry different SRIDs.

CREATE SCHEMA fuzz;

-- pool: the candidate values of each argument type, as expressions.
CREATE TABLE fuzz.pool (
    typ   regtype NOT NULL,
    label text    NOT NULL,
    expr  text    NOT NULL,
    PRIMARY KEY (typ, label)
);

-- hints: for an argument of this name, a value that gets past the first check half
-- of the time (a real calendar, channel, unit ...), so that the code behind the
-- check is fuzzed too, not only the check.
CREATE TABLE fuzz.hints (arg text PRIMARY KEY, expr text NOT NULL);
INSERT INTO fuzz.hints VALUES
    ('calendar', $q$'cn'$q$), ('channel', $q$'hotline'$q$), ('category', $q$'0301'$q$),
    ('actor', $q$'C-990801001'$q$), ('unit', $q$'B-um-990801001'$q$), ('unit_code', $q$'C-990801001'$q$),
    ('policy', $q$'standard'$q$), ('policy_name', $q$'standard'$q$), ('clock', $q$'working_days'$q$),
    ('what', $q$'unit'$q$), ('parent_key', $q$'parent_code'$q$), ('claimer', $q$'fuzz'$q$),
    ('task', $q$'drain_inbox'$q$), ('name', $q$'drain_inbox'$q$), ('area_code', $q$'990801001'$q$),
    ('parent_code', $q$'990801'$q$), ('level', $q$'town'$q$);

-- caller_errors: pool expressions that did not evaluate (dropped before any call).
CREATE TABLE fuzz.caller_errors (typ regtype, label text, sqlstate text, message text);

-- outcomes: one row per function and outcome class and SQLSTATE.
CREATE TABLE fuzz.outcomes (
    fn       text NOT NULL,
    outcome  text NOT NULL,          -- ok, project, standard, defect
    sqlstate text NOT NULL DEFAULT '',
    calls    integer NOT NULL,
    PRIMARY KEY (fn, outcome, sqlstate)
);

-- defects: what a defect looked like, to reproduce it.
CREATE TABLE fuzz.defects (
    fn       text,
    sqlstate text,
    message  text,
    call     text
);

-- T is text, shortened for a pool expression.
CREATE FUNCTION fuzz.q(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT quote_literal(v) $$;

-- add adds pool expressions for one type.
CREATE FUNCTION fuzz.add(t regtype, labelled text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. array_length(labelled, 1) / 2 LOOP
        INSERT INTO fuzz.pool VALUES (t, labelled[2 * i - 1], labelled[2 * i]) ON CONFLICT DO NOTHING;
    END LOOP;
END $$;

-- fill_pool fills fuzz.pool for the types the fuzzer knows, and for every enum and
-- table row type that an argument of the extension's functions has.
CREATE FUNCTION fuzz.fill_pool() RETURNS void LANGUAGE plpgsql AS $fill$
DECLARE
    t regtype;
BEGIN
    PERFORM fuzz.add('text', ARRAY[
        'empty', $q$''$q$,
        'blank', $q$'   '$q$,
        'channel', $q$'hotline'$q$,
        'channel code', $q$'0301'$q$,
        'category', $q$'CITY'$q$,
        'category leaf', $q$'CITY_VENDOR'$q$,
        'district center', $q$'C-990801'$q$,
        'town center', $q$'C-990801001'$q$,
        'branch', $q$'B-um-990801001'$q$,
        'inactive unit', $q$'D-env'$q$,
        'calendar', $q$'cn'$q$,
        'policy', $q$'standard'$q$,
        'area district', $q$'990801'$q$,
        'area town', $q$'990801001'$q$,
        'new area code', $q$'990801003'$q$,
        'task', $q$'drain_inbox'$q$,
        'setting', $q$'dispatch_unit'$q$,
        'level word', $q$'district'$q$,
        'action word', $q$'accept'$q$,
        'unknown code', $q$'NO_SUCH_CODE_42'$q$,
        'ticket text', $q$'20210928-000123-7'$q$,
        'ticket mistyped', $q$'20210928-000132-7'$q$,
        'ticket digits', $q$'202109280001237'$q$,
        'ticket 14 digits', $q$'20210928000123'$q$,
        'ticket far future', $q$'99991231-999999-0'$q$,
        'digits 40', $q$repeat('9', 40)$q$,
        'huge 1MB ascii', $q$repeat('x', 1048576)$q$,
        'huge 1MB digits', $q$repeat('7', 1048576)$q$,
        'huge 600kB CJK', $q$repeat('长', 200000)$q$,
        'over 4000 chars', $q$repeat('井', 4001)$q$,
        'full-width', $q$'ＨＯＴＬＩＮＥ　１２３４５'$q$,
        'full-width digits', $q$'２０２１０９２８－０００１２３－７'$q$,
        'combining marks', $q$'e' || repeat(chr(769), 64)$q$,
        'zero-width and bidi', $q$'C-990801' || chr(8203) || chr(8238) || 'x'$q$,
        'astral emoji', $q$repeat(chr(128512), 10)$q$,
        'max code point', $q$chr(1114111)$q$,
        'controls', $q$E'\t\n\r' || chr(1) || chr(27) || chr(127)$q$,
        'quotes and escapes', $q$$$'; DROP TABLE workorder.orders; -- %s %I \ "$$$q$,
        'NaN word', $q$'NaN'$q$,
        'minus zero', $q$'-0'$q$,
        'exponent', $q$'1e308'$q$,
        'infinity word', $q$'infinity'$q$,
        'bad date', $q$'2026-13-45'$q$,
        'time zone', $q$'Asia/Shanghai'$q$,
        'bad time zone', $q$'Mars/Olympus_Mons'$q$,
        'json text', $q$'{"a": [1, 2'$q$,
        'csv plan', $q$E'date,kind,name\n2027-01-01,holiday,元旦\n2027-01-04,workday,调休'$q$,
        'csv broken', $q$E'date,kind\n"2027-01-01,holiday\n,,,,\n'$q$,
        'csv huge line', $q$'date,kind' || chr(10) || repeat('2027-01-01,', 100000)$q$]);

    PERFORM fuzz.add('cstring', ARRAY[
        'ticket', $q$'20210928-000123-7'::cstring$q$,
        'spaces', $q$' 2021 0928 0001 23 7 '::cstring$q$,
        'empty', $q$''::cstring$q$,
        'dash only', $q$'-'::cstring$q$,
        'mistyped', $q$'20210928-000132-7'::cstring$q$,
        'zero day', $q$'00000000-000000-0'::cstring$q$,
        'feb 30', $q$'20210230-000001-0'::cstring$q$,
        'year 2100', $q$'21000101-000001-0'::cstring$q$,
        'huge', $q$repeat('1', 1048576)::cstring$q$,
        'full-width', $q$'２０２１０９２８－０００１２３－７'::cstring$q$,
        'letters', $q$'2021O928-OOO123-7'::cstring$q$,
        'negative', $q$'-20210928-000123-7'::cstring$q$,
        'overflow digits', $q$'99999999999999999999999'::cstring$q$]);

    PERFORM fuzz.add('integer', ARRAY[
        'zero', '0', 'one', '1', 'minus one', '-1', 'seven', '7', 'thousand', '1000',
        'hundred thousand', '100000', 'hundred thousand one', '100001', 'seq max', '999999',
        'seq max plus one', '1000000', 'int max', '2147483647', 'int min', '(-2147483648)']);

    PERFORM fuzz.add('bigint', ARRAY[
        'zero', '0', 'minus one', '-1', 'bigint max', '9223372036854775807',
        'bigint min', '(-9223372036854775808)',
        'first order', '(SELECT id FROM workorder.orders ORDER BY id LIMIT 1)',
        'second order', '(SELECT id FROM workorder.orders ORDER BY id LIMIT 1 OFFSET 1)',
        'last order', '(SELECT max(id) FROM workorder.orders)',
        'a merged order', $q$(SELECT min(id) FROM workorder.orders WHERE status = 'merged')$q$,
        'a resolved order', $q$(SELECT min(id) FROM workorder.orders WHERE status = 'resolved')$q$,
        'no such order', '(SELECT max(id) + 1000 FROM workorder.orders)',
        'first message', '(SELECT min(id) FROM workorder.outbox)',
        'a claimed message', $q$(SELECT min(id) FROM workorder.outbox WHERE state = 'claimed')$q$]);

    PERFORM fuzz.add('double precision', ARRAY[
        'NaN', $q$'NaN'::float8$q$, 'Infinity', $q$'Infinity'::float8$q$,
        'minus Infinity', $q$'-Infinity'::float8$q$, '1e308', '1e308', 'minus 1e308', '(-1e308)',
        'minus zero', $q$'-0'::float8$q$, 'zero', '0', 'denormal', '5e-324', 'minus one', '(-1)',
        'lon in map', '116.05', 'lat in map', '25.05', 'lon out of map', '113.15',
        'lat out of map', '23.03', 'lat 91', '91', 'lon 181', '181', 'tolerance', '200',
        'half', '0.5', 'tiny', '1e-9']);

    PERFORM fuzz.add('numeric', ARRAY[
        'NaN', $q$'NaN'::numeric$q$, 'Infinity', $q$'Infinity'::numeric$q$,
        'minus Infinity', $q$'-Infinity'::numeric$q$, 'zero', '0', 'minus one', '(-1)',
        'warn fraction', '0.8', 'one', '1', 'huge', '1e100', 'tiny', '1e-100']);

    PERFORM fuzz.add('boolean', ARRAY['true', 'true', 'false', 'false']);

    PERFORM fuzz.add('date', ARRAY[
        'infinity', $q$'infinity'::date$q$, 'minus infinity', $q$'-infinity'::date$q$,
        'first ticket day', $q$'2000-01-01'::date$q$, 'before tickets', $q$'1999-12-31'::date$q$,
        'last ticket day', $q$'2099-12-31'::date$q$, 'after tickets', $q$'2100-01-01'::date$q$,
        'earliest', $q$'4713-01-01 BC'::date$q$, 'latest', $q$'5874897-12-31'::date$q$,
        'a day', $q$'2026-11-25'::date$q$, 'leap day', $q$'2024-02-29'::date$q$]);

    PERFORM fuzz.add('timestamp with time zone', ARRAY[
        'infinity', $q$'infinity'::timestamptz$q$, 'minus infinity', $q$'-infinity'::timestamptz$q$,
        'working hour', $q$'2026-11-25 10:00+08'::timestamptz$q$,
        'spring festival', $q$'2026-02-13 17:00+08'::timestamptz$q$,
        'y2k', $q$'2000-01-01 00:00+00'::timestamptz$q$, 'before 2000', $q$'1999-12-31 23:59+00'::timestamptz$q$,
        'latest', $q$'294276-12-31 23:59:59+00'::timestamptz$q$,
        'earliest', $q$'4713-11-24 00:00:00+00 BC'::timestamptz$q$,
        'far future', $q$'2200-01-01 00:00+00'::timestamptz$q$,
        'midnight', $q$'2026-11-26 00:00+08'::timestamptz$q$]);

    PERFORM fuzz.add('interval', ARRAY[
        'zero', $q$'0'::interval$q$, 'hour', $q$'1 hour'::interval$q$, 'minus hour', $q$'-1 hour'::interval$q$,
        'day', $q$'1 day'::interval$q$, 'month', $q$'1 month'::interval$q$,
        '24 hours', $q$'24 hours'::interval$q$, 'microsecond', $q$'1 microsecond'::interval$q$,
        'huge hours', $q$'2562047788 hours'::interval$q$, 'minus huge hours', $q$'-2562047788 hours'::interval$q$,
        'huge years', $q$'178000000 years'::interval$q$, 'huge days', $q$'2147483647 days'::interval$q$,
        'mixed signs', $q$'1 day -25 hours'::interval$q$, 'five minutes', $q$'5 minutes'::interval$q$]);

    PERFORM fuzz.add('jsonb', ARRAY[
        'empty object', $q$'{}'::jsonb$q$, 'empty array', $q$'[]'::jsonb$q$, 'json null', $q$'null'::jsonb$q$,
        'string', $q$'"text"'::jsonb$q$, 'number', $q$'1'::jsonb$q$, 'array of null', $q$'[null]'::jsonb$q$,
        'array of empty', $q$'[{}]'::jsonb$q$, 'array of numbers', $q$'[1, 2, 3]'::jsonb$q$,
        'code null', $q$'[{"code": null, "name": null}]'::jsonb$q$,
        'code number', $q$'[{"code": 5, "name": ["x"]}]'::jsonb$q$,
        'object for array', $q$'{"code": "X1", "name": "x"}'::jsonb$q$,
        'department kind', $q$'[{"code": "fz_kind", "name": "模糊"}]'::jsonb$q$,
        'unit bad level', $q$'[{"code": "C-FZ", "name": "x", "kind": "center", "level": "galaxy", "area_code": "990801"}]'::jsonb$q$,
        'unit bad kind', $q$'[{"code": "C-FZ", "name": "x", "kind": "moon", "level": "town", "area_code": "990801001"}]'::jsonb$q$,
        'unit good', $q$'[{"code": "C-FZ", "name": "模糊站", "kind": "center", "level": "village", "area_code": "990801002001", "parent_code": "C-990801002"}]'::jsonb$q$,
        'unit cycle', $q$'[{"code": "C-A", "name": "a", "kind": "center", "level": "district", "area_code": "990801", "parent_code": "C-B"}, {"code": "C-B", "name": "b", "kind": "center", "level": "district", "area_code": "990801", "parent_code": "C-A"}]'::jsonb$q$,
        'category self parent', $q$'[{"code": "FZ_SELF", "name": "x", "parent_code": "FZ_SELF"}]'::jsonb$q$,
        'category bad numbers', $q$'[{"code": "FZ_NUM", "name": "x", "dedup_radius_m": "NaN", "dedup_window": "forever", "handling_level": "village"}]'::jsonb$q$,
        'category good', $q$'[{"code": "FZ_CAT", "name": "模糊", "parent_code": "CITY", "dedup_radius_m": 1e308}]'::jsonb$q$,
        'channel categories not array', $q$'[{"code": "fz_ch", "name": "x", "kind": "hotline", "categories": "0301"}]'::jsonb$q$,
        'channel good', $q$'[{"code": "fz_ch", "name": "模糊", "kind": "app", "categories": [{"code": "１", "category": "CITY"}]}]'::jsonb$q$,
        'calendar days', $q$'[{"date": "2027-01-01", "kind": "holiday"}, {"date": "2027-01-02", "kind": "workday"}]'::jsonb$q$,
        'calendar days bad', $q$'[{"date": "infinity", "kind": "holiday"}, {"date": "2027-02-30", "kind": "nap"}]'::jsonb$q$,
        'attributes', $q$'{"photos": 2}'::jsonb$q$,
        'attributes over 64kB', $q$jsonb_build_object('blob', repeat('x', 70000))$q$,
        'deep nesting', $q$(repeat('[', 2000) || repeat(']', 2000))::jsonb$q$,
        'wide array', $q$(SELECT jsonb_agg(i) FROM generate_series(1, 100000) i)$q$,
        'geojson point feature', $q$'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "990801003", "name": "x"}, "geometry": {"type": "Point", "coordinates": [116.05, 25.05]}}]}'::jsonb$q$,
        'geojson polygon', $q$'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "990802", "name": "邻区"}, "geometry": {"type": "Polygon", "coordinates": [[[116.2, 25.0], [116.3, 25.0], [116.3, 25.2], [116.2, 25.2], [116.2, 25.0]]]}}]}'::jsonb$q$,
        'geojson bowtie', $q$'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "990803", "name": "x"}, "geometry": {"type": "Polygon", "coordinates": [[[116.2, 25.0], [116.3, 25.2], [116.3, 25.0], [116.2, 25.2], [116.2, 25.0]]]}}]}'::jsonb$q$,
        'geojson bad coordinates', $q$'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "990804"}, "geometry": {"type": "Polygon", "coordinates": [[["a", null]]]}}]}'::jsonb$q$,
        'geojson no geometry', $q$'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": null, "geometry": null}]}'::jsonb$q$,
        'geojson features string', $q$'{"type": "FeatureCollection", "features": "none"}'::jsonb$q$,
        'geojson crs', $q$'{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:999999"}}, "features": []}'::jsonb$q$]);

    PERFORM fuzz.add('geometry', ARRAY[
        'point in map', $q$ST_SetSRID(ST_MakePoint(116.05, 25.05), 4326)$q$,
        'point on a boundary', $q$ST_SetSRID(ST_MakePoint(116.1, 25.1), 4326)$q$,
        'point out of map', $q$ST_SetSRID(ST_MakePoint(113.15, 23.03), 4326)$q$,
        'point no SRID', $q$ST_MakePoint(116.05, 25.05)$q$,
        'point unknown SRID', $q$ST_SetSRID(ST_MakePoint(116.05, 25.05), 999999)$q$,
        'point CGCS2000', $q$ST_SetSRID(ST_MakePoint(116.05, 25.05), 4490)$q$,
        'point web mercator', $q$ST_Transform(ST_SetSRID(ST_MakePoint(116.05, 25.05), 4326), 3857)$q$,
        'point UTM far', $q$ST_SetSRID(ST_MakePoint(1e9, 1e9), 32650)$q$,
        'point empty', $q$'SRID=4326;POINT EMPTY'::geometry$q$,
        'point NaN', $q$ST_SetSRID(ST_MakePoint('NaN', 'NaN'), 4326)$q$,
        'point infinite', $q$ST_SetSRID(ST_MakePoint('Infinity', 25), 4326)$q$,
        'point off the earth', $q$ST_SetSRID(ST_MakePoint(200, 100), 4326)$q$,
        'point huge', $q$ST_SetSRID(ST_MakePoint(1e308, -1e308), 4326)$q$,
        'point Z', $q$'SRID=4326;POINT Z (116.05 25.05 10)'::geometry$q$,
        'point M', $q$'SRID=4326;POINT M (116.05 25.05 3)'::geometry$q$,
        'point ZM', $q$'SRID=4326;POINT ZM (116.05 25.05 10 3)'::geometry$q$,
        'multipoint', $q$'SRID=4326;MULTIPOINT((116.05 25.05), (116.15 25.15))'::geometry$q$,
        'multipoint of one', $q$'SRID=4326;MULTIPOINT((116.05 25.05))'::geometry$q$,
        'line', $q$'SRID=4326;LINESTRING(116.0 25.0, 116.2 25.2)'::geometry$q$,
        'polygon', $q$ST_MakeEnvelope(116.0, 25.0, 116.1, 25.1, 4326)$q$,
        'polygon in a new town', $q$ST_MakeEnvelope(116.2, 25.0, 116.3, 25.2, 4326)$q$,
        'polygon empty', $q$'SRID=4326;POLYGON EMPTY'::geometry$q$,
        'polygon bowtie', $q$'SRID=4326;POLYGON((116 25, 116.2 25.2, 116.2 25, 116 25.2, 116 25))'::geometry$q$,
        'polygon spike', $q$'SRID=4326;POLYGON((116 25, 116.1 25, 116.1 25.1, 116.3 25.1, 116.1 25.1, 116 25.1, 116 25))'::geometry$q$,
        'polygon collapsed', $q$'SRID=4326;POLYGON((116 25, 116.1 25, 116 25, 116 25))'::geometry$q$,
        'polygon Z', $q$'SRID=4326;POLYGON Z ((116 25 1, 116.1 25 1, 116.1 25.1 1, 116 25 1))'::geometry$q$,
        'polygon no SRID', $q$'POLYGON((116 25, 116.1 25, 116.1 25.1, 116 25))'::geometry$q$,
        'polygon 3857', $q$ST_Transform(ST_MakeEnvelope(116.0, 25.0, 116.1, 25.1, 4326), 3857)$q$,
        'polygon many vertices', $q$ST_Buffer(ST_SetSRID(ST_MakePoint(116.05, 25.05), 4326), 0.01, 20000)$q$,
        'polygon the world', $q$ST_MakeEnvelope(-180, -90, 180, 90, 4326)$q$,
        'polygon NaN', $q$ST_SetSRID(ST_MakePolygon(ST_MakeLine(ARRAY[ST_MakePoint(116, 25), ST_MakePoint('NaN', 25), ST_MakePoint(116, 'NaN'), ST_MakePoint(116, 25)])), 4326)$q$,
        'multipolygon overlapping', $q$ST_SetSRID(ST_Collect(ST_MakeEnvelope(116.0, 25.0, 116.1, 25.1), ST_MakeEnvelope(116.05, 25.05, 116.15, 25.15)), 4326)$q$,
        'collection', $q$'SRID=4326;GEOMETRYCOLLECTION(POINT(116.05 25.05), POLYGON((116 25, 116.1 25, 116.1 25.1, 116 25)))'::geometry$q$,
        'collection empty', $q$'SRID=4326;GEOMETRYCOLLECTION EMPTY'::geometry$q$,
        'collection of empties', $q$'SRID=4326;GEOMETRYCOLLECTION(POINT EMPTY, POLYGON EMPTY)'::geometry$q$,
        'curve polygon', $q$'SRID=4326;CURVEPOLYGON(CIRCULARSTRING(116 25, 116.1 25.1, 116 25))'::geometry$q$,
        'triangle', $q$'SRID=4326;TRIANGLE((116 25, 116.1 25, 116 25.1, 116 25))'::geometry$q$,
        'tin', $q$'SRID=4326;TIN(((116 25 0, 116.1 25 0, 116 25.1 0, 116 25 0)))'::geometry$q$,
        'polyhedral surface', $q$'SRID=4326;POLYHEDRALSURFACE(((116 25 0, 116.1 25 0, 116.1 25.1 0, 116 25 0)))'::geometry$q$]);

    PERFORM fuzz.add('text[]', ARRAY[
        'empty array', $q$'{}'::text[]$q$, 'array of null', $q$'{NULL}'::text[]$q$,
        'one unit', $q$ARRAY['C-990801001']$q$, 'twice the same', $q$ARRAY['C-990801001', 'C-990801001']$q$,
        'unknown unit', $q$ARRAY['NO_SUCH_UNIT']$q$, 'empty string', $q$ARRAY['']$q$,
        'inactive', $q$ARRAY['D-env', 'D-water']$q$, 'ten thousand', $q$array_fill('C-990801'::text, ARRAY[10000])$q$,
        'two dimensions', $q$'{{a,b},{c,d}}'::text[]$q$]);

    PERFORM fuzz.add('regprocedure', ARRAY[
        'load_unit', $q$'workorder.load_unit(jsonb)'::regprocedure$q$,
        'load_category', $q$'workorder.load_category(jsonb)'::regprocedure$q$,
        'now', $q$'pg_catalog.now()'::regprocedure$q$,
        'length', $q$'pg_catalog.length(text)'::regprocedure$q$]);

    PERFORM fuzz.add('workorder.ticket', ARRAY[
        'a ticket', $q$'20210928-000123-7'::workorder.ticket$q$,
        'first', $q$workorder.make_ticket('2000-01-01', 1)$q$,
        'last', $q$workorder.make_ticket('2099-12-31', 999999)$q$]);

    -- Every enum that an argument has: each of its labels, and nothing else (an enum
    -- value outside its labels cannot be built).
    FOR t IN SELECT DISTINCT a::regtype FROM pg_proc p, unnest(p.proargtypes::oid[]) a
              WHERE p.pronamespace = 'workorder'::regnamespace
                AND (SELECT typtype FROM pg_type WHERE oid = a) = 'e' LOOP
        INSERT INTO fuzz.pool
        SELECT t, e.enumlabel, format('%L::%s', e.enumlabel, t) FROM pg_enum e WHERE e.enumtypid = t
        ON CONFLICT DO NOTHING;
    END LOOP;

    -- Every table row type that an argument has: its first and last rows, and a row
    -- of its first row with the key cleared.  (A composite type of its own, such as
    -- dedup_policy, has no rows: its arguments get NULL.)
    FOR t IN SELECT DISTINCT a::regtype FROM pg_proc p, unnest(p.proargtypes::oid[]) a
              WHERE p.pronamespace = 'workorder'::regnamespace
                AND (SELECT c.relkind FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid
                      WHERE t.oid = a) IN ('r', 'p', 'v', 'm') LOOP
        INSERT INTO fuzz.pool VALUES
            (t, 'first row', format('(SELECT r FROM %s r ORDER BY 1 LIMIT 1)', t)),
            (t, 'last row', format('(SELECT r FROM %s r ORDER BY 1 DESC LIMIT 1)', t))
        ON CONFLICT DO NOTHING;
    END LOOP;
END $fill$;

-- check_pool evaluates every pool expression once and drops those that fail: a value
-- that cannot be built is the caller's error, never the function's.
CREATE FUNCTION fuzz.check_pool() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    p record;
    state text;
    msg text;
    dropped integer := 0;
BEGIN
    FOR p IN SELECT * FROM fuzz.pool ORDER BY typ::text, label LOOP
        BEGIN
            EXECUTE format('SELECT length((%s)::%s::text)', p.expr, p.typ);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            INSERT INTO fuzz.caller_errors VALUES (p.typ, p.label, state, left(msg, 200));
            DELETE FROM fuzz.pool WHERE typ = p.typ AND label = p.label;
            dropped := dropped + 1;
        END;
    END LOOP;
    RETURN dropped;
END $$;

-- accepted_error says whether a standard (non-WO) SQLSTATE is a clean answer, and
-- why; NULL means it is not.
--   42501  insufficient_privilege: a function the caller may not run refuses it.
--   55P03, 40P01, 40001: a lock or serialization conflict is a transient answer the
--          caller retries (none is expected: the fuzzer runs alone).
CREATE FUNCTION fuzz.accepted_error(state text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE state
        WHEN '42501' THEN 'permission denied: a function the caller may not run'
        WHEN '55P03' THEN 'lock not available: transient, retried by the caller'
        WHEN '40P01' THEN 'deadlock: transient, retried by the caller'
        WHEN '40001' THEN 'serialization failure: transient, retried by the caller'
    END
$$;

-- invariants returns NULL when the data is whole, else what is broken: every order has
-- its submit event first, its event_count is its number of events and they are
-- numbered 1..n, a merged order's master is not merged, and no inbox row was lost
-- (rows are never deleted: the count only grows).
CREATE FUNCTION fuzz.invariants(inbox_before bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    broken text;
BEGIN
    SELECT format('order %s: %s events counted, %s logged, seq up to %s, first %s', o.id, o.event_count,
                  e.n, e.last_seq, e.first_action)
      INTO broken
      FROM workorder.orders o
      LEFT JOIN LATERAL (SELECT count(*) AS n, max(seq) AS last_seq,
                                min(action) FILTER (WHERE seq = 1) AS first_action
                           FROM workorder.order_events WHERE order_id = o.id) e ON true
     WHERE e.n IS DISTINCT FROM o.event_count::bigint OR e.last_seq IS DISTINCT FROM o.event_count
        OR e.first_action IS DISTINCT FROM 'submit'
     LIMIT 1;
    IF broken IS NOT NULL THEN RETURN broken; END IF;
    SELECT format('order %s is merged into %s, itself merged', o.id, o.master_id) INTO broken
      FROM workorder.orders o JOIN workorder.orders m ON m.id = o.master_id
     WHERE m.status = 'merged' LIMIT 1;
    IF broken IS NOT NULL THEN RETURN broken; END IF;
    IF (SELECT count(*) FROM workorder.inbox) < inbox_before THEN
        RETURN format('inbox rows lost: %s before, %s after', inbox_before, (SELECT count(*) FROM workorder.inbox));
    END IF;
    RETURN NULL;
END $$;

-- documented: the names README.md documents (filled by fuzz.t), the API.
CREATE TABLE fuzz.documented (name text PRIMARY KEY);

-- fuzzable lists the functions the fuzzer calls directly, and excluded those it does
-- not, with the reason.
CREATE VIEW fuzz.functions AS
SELECT p.oid::regprocedure AS fn, p.proname::text AS name, l.lanname::text AS language,
       CASE
         WHEN p.prorettype = 'trigger'::regtype
           THEN 'a trigger function: PostgreSQL refuses a direct call; the writes of the other functions fire it'
         WHEN 'internal'::regtype = ANY (p.proargtypes::regtype[])
           THEN 'takes internal: not callable from SQL; ticket_recv is fuzzed through binary COPY, ticket_sortsupport through ORDER BY'
         WHEN p.proname = 'raise_error'
           THEN 'raises the SQLSTATE it is given, by design (every caller passes a WO code)'
       END AS excluded,
       EXISTS (SELECT FROM fuzz.documented d WHERE d.name = p.proname) AS api
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'workorder'::regnamespace AND p.prokind = 'f';

-- record_outcome counts one outcome.
CREATE FUNCTION fuzz.record_outcome(fn text, outcome text, state text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO fuzz.outcomes AS o VALUES (fn, outcome, coalesce(state, ''), 1)
    ON CONFLICT (fn, outcome, sqlstate) DO UPDATE SET calls = o.calls + 1
$$;

-- classify_error records the outcome of a call that failed with STATE.
CREATE FUNCTION fuzz.classify_error(fn text, api boolean, state text, msg text, call text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF state LIKE 'WO%' THEN
        PERFORM fuzz.record_outcome(fn, 'project', state);
    ELSIF fuzz.accepted_error(state) IS NOT NULL THEN
        PERFORM fuzz.record_outcome(fn, 'standard', state);
    ELSIF NOT api AND state NOT LIKE 'XX%' THEN
        PERFORM fuzz.record_outcome(fn, 'helper', state);
    ELSE
        PERFORM fuzz.record_outcome(fn, 'defect', state);
        INSERT INTO fuzz.defects VALUES (fn, state, left(msg, 300), left(call, 600));
    END IF;
END $$;

-- call_once makes one call in a subtransaction and records its outcome.  After a
-- call that returned, the invariants are checked; a call that failed was rolled back
-- to the savepoint.  Unless KEEP, a call that returned is rolled back too (by the
-- marker error FZ000), so that every call starts from the same data and the data
-- does not grow with the calls (a world-sized area would slow every later call).
CREATE FUNCTION fuzz.call_once(fn text, api boolean, call text, labels text, trace boolean, keep boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    state text;
    msg text;
    inbox_before bigint := (SELECT count(*) FROM workorder.inbox);
    broken text;
BEGIN
    IF trace THEN
        RAISE NOTICE 'fuzz call: % (%)', left(call, 300), labels;
    END IF;
    BEGIN
        EXECUTE format('SELECT count(length(r::text)) FROM (SELECT %s AS r) s', call);
        broken := fuzz.invariants(inbox_before);
        IF NOT keep THEN
            RAISE EXCEPTION USING ERRCODE = 'FZ000';
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        IF state <> 'FZ000' THEN
            PERFORM fuzz.classify_error(fn, api, state, msg, call || ' -- ' || labels);
        END IF;
    END;
    IF state IS NULL OR state = 'FZ000' THEN
        PERFORM fuzz.record_outcome(fn, 'ok', NULL);
    END IF;
    IF broken IS NOT NULL THEN
        PERFORM fuzz.record_outcome(fn, 'defect', 'invariant');
        INSERT INTO fuzz.defects VALUES (fn, 'invariant', broken, left(call || ' -- ' || labels, 600));
    END IF;
END $$;

-- pick returns a random pool expression of type T (NULL one time in six), and its label.
CREATE FUNCTION fuzz.pick(t regtype, OUT expr text, OUT label text) LANGUAGE plpgsql AS $$
BEGIN
    IF random() < 1.0 / 6 THEN
        expr := format('NULL::%s', t);
        label := 'NULL';
        RETURN;
    END IF;
    SELECT format('(%s)::%s', p.expr, t), p.label INTO expr, label
      FROM fuzz.pool p WHERE p.typ = t
     ORDER BY p.label OFFSET floor(random() * (SELECT count(*) FROM fuzz.pool q WHERE q.typ = t)) LIMIT 1;
    IF expr IS NULL THEN
        expr := format('NULL::%s', t);
        label := 'NULL (no pool for ' || t || ')';
    END IF;
END $$;

-- arg_types is FN's argument types as an array from 1 (proargtypes counts from 0).
CREATE FUNCTION fuzz.arg_types(fn regprocedure) RETURNS regtype[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(t::regtype ORDER BY i), '{}')
      FROM pg_proc p, unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, i) WHERE p.oid = fn
$$;

-- fuzz_function calls FN CALLS times with random arguments of its declared types,
-- seeded by SEED and the function's signature, or as many as BUDGET allows.
CREATE FUNCTION fuzz.fuzz_function(fn regprocedure, calls integer, seed integer, trace boolean DEFAULT false,
                                   budget interval DEFAULT '20 seconds')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    types regtype[] := fuzz.arg_types(fn);
    names text[] := (SELECT proargnames FROM pg_proc WHERE oid = fn);
    hint text;
    target text := (SELECT format('%I.%I', n.nspname, p.proname) FROM pg_proc p
                      JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = fn);
    api boolean := (SELECT f.api FROM fuzz.functions f WHERE f.fn = fuzz_function.fn);
    args text[];
    labels text[];
    picked record;
BEGIN
    PERFORM setseed(((hashtext(fn::text || ':' || seed) & 2147483647) % 1000000)::float8 / 1000000);
    FOR i IN 1 .. calls LOOP
        -- A slow function (check_areas takes seconds a call) gets fewer calls, so
        -- that the run stays within CI time; the calls made are reported.
        EXIT WHEN clock_timestamp() - now() > budget;
        args := '{}';
        labels := '{}';
        FOR a IN 1 .. coalesce(array_length(types, 1), 0) LOOP
            hint := (SELECT h.expr FROM fuzz.hints h WHERE h.arg = names[a]);
            IF hint IS NOT NULL AND random() < 0.5 THEN
                args := args || format('(%s)::%s', hint, types[a]);
                labels := labels || ('hint ' || names[a]);
            ELSE
                picked := fuzz.pick(types[a]);
                args := args || picked.expr;
                labels := labels || picked.label;
            END IF;
        END LOOP;
        PERFORM fuzz.call_once(fn::text, api, format('%s(%s)', target, array_to_string(args, ', ')),
                               array_to_string(labels, ' | '), trace);
    END LOOP;
END $$;

-- action_sequences submits ORDERS reports and runs STEPS random actions on each: an
-- action function (any function of the extension whose first argument is order_id
-- and that returns an order) with random actors, notes, units and intervals, in
-- random order.  A merge's master is another order of the run.
CREATE FUNCTION fuzz.action_sequences(orders integer, steps integer, seed integer, trace boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    actions regprocedure[] := ARRAY(
        SELECT p.oid::regprocedure FROM pg_proc p
         WHERE p.pronamespace = 'workorder'::regnamespace AND p.prorettype = 'workorder.orders'::regtype
           AND p.proargnames[1] = 'order_id' AND p.proargtypes[0] = 'bigint'::regtype
         ORDER BY p.oid::regprocedure::text);
    actors text[] := ARRAY['C-990801', 'C-990801001', 'C-990801002', 'B-um-990801001', 'D-water',
                           'D-env', 'citizen 张三', '', 'NO_SUCH_UNIT', NULL];
    order_id bigint;
    fn regprocedure;
    types regtype[];
    names text[];
    args text[];
    labels text[];
    picked record;
BEGIN
    PERFORM setseed(((hashtext('actions:' || seed) & 2147483647) % 1000000)::float8 / 1000000);
    FOR k IN 1 .. orders LOOP
        order_id := (workorder.submit('hotline', format('FZ-%s-%s', seed, k),
                                      (ARRAY['0301', '0701', 'CITY', 'NO_SUCH'])[1 + floor(random() * 4)::int],
                                      '模糊测试 ' || k, lon => 116.0 + random() * 0.2, lat => 25.0 + random() * 0.2)).id;
        FOR s IN 1 .. steps LOOP
            fn := actions[1 + floor(random() * array_length(actions, 1))::int];
            SELECT fuzz.arg_types(fn), proargnames INTO types, names FROM pg_proc WHERE oid = fn;
            args := ARRAY[order_id || '::bigint'];
            labels := ARRAY['the order'];
            FOR a IN 2 .. array_length(types, 1) LOOP
                IF names[a] = 'actor' THEN
                    args := args || format('%L::text', actors[1 + floor(random() * array_length(actors, 1))::int]);
                    labels := labels || 'actor'::text;
                ELSIF names[a] = 'master_id' THEN
                    args := args || format('%s::bigint', order_id - 1 - floor(random() * 3)::int);
                    labels := labels || 'an earlier order'::text;
                ELSIF types[a] = 'text'::regtype AND random() < 0.7 THEN
                    args := args || format('%L::text', (ARRAY['C-990801001', 'B-um-990801002', 'D-water', '原因',
                                                              'satisfied', 'unsatisfied', ''])[1 + floor(random() * 7)::int]);
                    labels := labels || names[a];
                ELSE
                    picked := fuzz.pick(types[a]);
                    args := args || picked.expr;
                    labels := labels || picked.label;
                END IF;
            END LOOP;
            PERFORM fuzz.call_once('action sequence: ' || fn::text, true,
                                   format('%s(%s)', fn::regproc::text, array_to_string(args, ', ')),
                                   array_to_string(labels, ' | '), trace, true);
        END LOOP;
    END LOOP;
END $$;
