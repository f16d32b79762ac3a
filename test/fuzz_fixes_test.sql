-- pgTAP tests of the defects that fuzzing found (test/scenario/fuzz.t), one group
-- per fix: each input here once gave a crash-like failure, an internal error, a
-- standard SQLSTATE where a project one belongs, or an error message of a megabyte.
BEGIN;
SELECT plan(46);

-- error_of runs a statement and returns its SQLSTATE and message length, or 'ok'.
CREATE FUNCTION pg_temp.error_of(statement text, OUT state text, OUT message_length integer)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    state := 'ok';
EXCEPTION WHEN OTHERS THEN
    state := SQLSTATE;
    message_length := length(SQLERRM);
END
$$;

-- Ticket input of a megabyte: WO001, and the message shows only its beginning.
SELECT is((pg_temp.error_of($$SELECT repeat('7', 1048576)::workorder.ticket$$)).state, 'WO001',
          'a ticket of a million digits is WO001');
SELECT cmp_ok((pg_temp.error_of($$SELECT repeat('7', 1048576)::workorder.ticket$$)).message_length, '<', 120,
              '... and its message shows the first 80 bytes, not the megabyte');
SELECT is((pg_temp.error_of($$SELECT (repeat(' ', 1048576) || '20210928-000132-7')::workorder.ticket$$)).message_length < 120,
          true, 'a mistyped ticket padded with a megabyte of spaces: a short message too');
SELECT throws_like($$SELECT repeat('长', 100)::workorder.ticket$$, 'invalid ticket number "长长%..."',
                   'the input is cut on a character boundary, with "..."');
SELECT is((pg_temp.error_of($$SELECT workorder.ticket_check_digit(repeat('9', 1048576))$$)).state, 'WO001',
          'ticket_check_digit of a million digits is WO001');
SELECT cmp_ok((pg_temp.error_of($$SELECT workorder.ticket_check_digit(repeat('9', 1048576))$$)).message_length, '<', 120,
              '... with a short message');
SELECT throws_ok($$SELECT '２０２１０９２８０００１２３７'::workorder.ticket$$, 'WO001',
                 'invalid ticket number "２０２１０９２８０００１２３７"',
                 'a full-width ticket (45 bytes) is still shown whole');

-- csv_fields: NULL is NULL (it looped until it ran out of memory); a line without
-- quotes splits in one pass, as before.
SELECT is(workorder.csv_fields(NULL), NULL, 'csv_fields(NULL) is NULL');
SELECT is(workorder.csv_fields(''), ARRAY[''], 'an empty line is one empty field');
SELECT is(workorder.csv_fields('a,,b, c ,'), ARRAY['a', '', 'b', ' c ', ''], 'fields are split, kept untrimmed, trailing empty');
SELECT is(workorder.csv_fields('"a,b",c'), ARRAY['a,b', 'c'], 'a quoted comma stays in its field');
SELECT is(cardinality(workorder.csv_fields(repeat('2027-01-01,', 100000))), 100001,
          'a line of 100000 fields splits (it took minutes, quadratic)');

-- wgs84: geometry types GEOS cannot check are WO101, not XX000.
SELECT throws_ok($$SELECT workorder.wgs84('SRID=4326;POLYHEDRALSURFACE(((116 25 0, 116.1 25 0, 116.1 25.1 0, 116 25 0)))', 'the place')$$,
                 'WO101', 'the place is a POLYHEDRALSURFACE', 'a polyhedral surface is WO101');
SELECT throws_ok($$SELECT workorder.wgs84('SRID=4326;TIN(((116 25 0, 116.1 25 0, 116 25.1 0, 116 25 0)))', 'the place')$$,
                 'WO101', NULL, 'a TIN is WO101');
SELECT throws_ok($$SELECT workorder.wgs84('SRID=4326;TRIANGLE((116 25, 116.1 25, 116 25.1, 116 25))', 'the place')$$,
                 'WO101', NULL, 'a triangle is WO101');

-- load_area: a code that does not fit the level is WO201 (was 23514 from the check
-- constraint), also when the area names itself as its parent.
\o /dev/null
SELECT workorder.load_area('990701', '模糊区', 'district', NULL, ST_MakeEnvelope(117, 26, 117.1, 26.1, 4326));
\o
SELECT throws_ok($$SELECT workorder.load_area('990701', '模糊区', 'town', '990701', ST_MakeEnvelope(117, 26, 117.1, 26.1, 4326))$$,
                 'WO201', 'area code 990701 does not fit level town', 'a 6-digit town is WO201');
SELECT throws_ok($$SELECT workorder.load_area('990701001', 'x', 'grid', '990701', ST_MakeEnvelope(117, 26, 117.1, 26.1, 4326))$$,
                 'WO201', NULL, 'a 9-digit grid cell is WO201');

-- locate: a positive tolerance too small to divide no longer underflows (22003);
-- nearest_area checks what it is given.
SELECT is((workorder.locate(ST_SetSRID(ST_MakePoint(113.15, 23.03), 4326), 5e-324)).match, 'outside',
          'locate with a tolerance of 5e-324 m answers');
SELECT is((workorder.locate(1e-9, 5e-324)).match, 'outside',
          'locate at latitude 5e-324 answers (radians() underflowed)');
SELECT throws_ok($$SELECT workorder.nearest_area(ST_MakeEnvelope(116, 25, 116.1, 25.1, 4326), NULL, 10)$$,
                 'WO101', NULL, 'nearest_area of a polygon is WO101 (was XX000 from ST_Y)');
SELECT throws_ok($$SELECT workorder.nearest_area(ST_MakePoint(116, 25), NULL, 10)$$,
                 'WO101', NULL, 'nearest_area of a point without SRID is WO101');
SELECT throws_ok($$SELECT workorder.nearest_area(ST_SetSRID(ST_MakePoint(116, 25), 4326), NULL, -1)$$,
                 'WO103', NULL, 'nearest_area with a negative tolerance is WO103 (was XX000 from ST_DWithin)');

-- The single-row loaders refuse a bad object as a batch does: WO210, naming it.
SELECT throws_ok($$SELECT workorder.load_unit('[{"code": "C-X"}]')$$, 'WO210', NULL,
                 'load_unit of an array is WO210 (was 22023)');
SELECT throws_ok($$SELECT workorder.load_category('"CITY"')$$, 'WO210', NULL,
                 'load_category of a string is WO210 (was 22023)');
SELECT throws_ok($$SELECT workorder.load_channel(NULL)$$, 'WO210', NULL,
                 'load_channel(NULL) is WO210 (was 23502)');
-- A key a row does not have, or a code twice in one batch, is WO210 before anything
-- is loaded (a misspelt parent_code loaded the unit without its parent; the last of
-- two elements with one code won).
SELECT throws_ok($$SELECT workorder.load_department_kinds('[{"code": "dk-ok", "name": "好"}, {"code": "dk-typo", "nmae": "错"}]')$$,
                 'WO210', 'department kind dk-typo (element 2 of the batch) was not loaded: it has the key ''nmae'', which a department kind does not have',
                 'a misspelt key is WO210, naming the element and the key');
SELECT throws_ok($$SELECT workorder.load_categories('[{"code": "CAT-T", "name": "一"}, {"code": "CAT-T", "name": "二"}]')$$,
                 'WO210', 'category CAT-T (element 2 of the batch) was not loaded: it repeats the code of an earlier element',
                 'a code twice in one batch is WO210');
SELECT is((SELECT count(*)::integer FROM workorder.department_kinds WHERE code IN ('dk-ok', 'dk-typo'))
          + (SELECT count(*)::integer FROM workorder.categories WHERE code = 'CAT-T'), 0, '... and nothing of either batch is loaded');
SELECT throws_ok($$SELECT workorder.load_department_kind('{"code": "x"}')$$, 'WO210', NULL,
                 'load_department_kind without a name is WO210 (was 23502)');
SELECT lives_ok($$SELECT workorder.load_department_kind('{"code": "fuzz_kind", "name": "模糊"}')$$,
                'a good object still loads');

-- Found by fuzzing the merged 0.2 (the masking, dedup, intake and report code):
SELECT throws_ok($$SELECT workorder.coarsen_location(ST_MakeEnvelope(116.2, 25.0, 116.3, 25.2, 4326))$$,
                 'WO101', NULL, 'coarsen_location refuses a polygon (was PostGIS''s XX000 from ST_X)');
SELECT throws_ok($$SELECT workorder.locate_point(ST_MakePoint(116.05, 25.05))$$,
                 'WO102', NULL, 'locate_point refuses a point without SRID 4326 (was XX000, mixed SRIDs)');
SELECT throws_ok($$SELECT workorder.sla_intake(NULL, 'urgent', NULL, 'infinity')$$,
                 'WO503', NULL, 'sla_intake refuses an infinite time of receipt (was 22008)');
SELECT throws_ok($$SELECT workorder.report_monthly_assessment('5874897-12-31')$$,
                 'WO821', NULL, 'a month beyond the range of timestamps is a future month (was 22008)');
SELECT throws_ok($$SELECT workorder.dedup_lock('CITY', 'SRID=4326;MULTIPOINT((116.05 25.05), (116.15 25.15))'::geometry, 50)$$,
                 'WO101', NULL, 'dedup_lock refuses a geometry that is not a point (was XX000)');
SELECT throws_ok($$SELECT * FROM workorder.dedup_candidates(NULL, 'SRID=4326;LINESTRING(116 25, 116.2 25.2)'::geometry, now(), 'x', NULL, NULL)$$,
                 'WO101', NULL, 'dedup_candidates refuses a geometry that is not a point (was XX000)');

-- Found by fuzzing 0.4 with other seeds:
SELECT throws_ok($$SELECT workorder.locate_point('SRID=4326;POLYHEDRALSURFACE(((116 25 0, 116.1 25 0, 116.1 25.1 0, 116 25 0)))'::geometry)$$,
                 'WO101', 'locate_point needs a point', 'locate_point refuses a polyhedral surface (was PostGIS''s XX000)');
SELECT throws_ok($$SELECT workorder.locate_point('SRID=4326;POINT EMPTY'::geometry)$$,
                 'WO101', 'locate_point needs a point', '... and an empty point');
SELECT throws_ok($$SELECT workorder.sla_intake(NULL, 'urgent', NULL, '294276-12-31 23:59:59+00')$$,
                 'WO513', 'invalid deadline arguments', 'sla_intake refuses a time of receipt whose deadline is past the end of time (was 22008)');
SELECT throws_ok($$SELECT workorder.deadline_after('294276-12-31 23:00:00+00', 'calendar_hours', '2 hours')$$,
                 'WO513', 'invalid deadline arguments', 'deadline_after refuses a deadline past the end of time (was 22008)');
SELECT is(workorder.deadline_after('294276-12-31 20:00:00+00', 'calendar_hours', '2 hours'),
          '294276-12-31 22:00:00+00'::timestamptz, '... and still gives one that fits');
SELECT throws_ok($$SELECT * FROM workorder.calendar_spans('cn', '0001-01-01', '9999-12-31')$$,
                 'WO503', NULL, 'calendar_spans refuses days more than 100 years apart (a fuzzed range of millennia held a backend for minutes)');

SELECT lives_ok($$SELECT workorder.load_area('990899', 'Z区', 'district', NULL,
                    'SRID=4326;POLYGON Z ((116 25 1, 116.1 25 1, 116.1 25.1 1, 116 25 1))'::geometry)$$,
                'load_area takes a polygon with heights (was 22023: the column is 2D)');
SELECT is((SELECT ST_NDims(geom)::integer FROM workorder.areas WHERE code = '990899'), 2, '... and stores its outline without them');
SELECT lives_ok($$SELECT workorder.load_area('990898', 'M区', 'district', NULL,
                    'SRID=4326;POLYGON M ((116 25 1, 116.1 25 1, 116.1 25.1 1, 116 25 1))'::geometry)$$,
                '... and one with measures');
SELECT throws_ok($$SELECT * FROM workorder.calendar_spans('cn', '2024-01-01', 'infinity')$$,
                 'WO503', NULL, 'calendar_spans refuses an infinite day (was 22008)');
SELECT * FROM finish();
ROLLBACK;
