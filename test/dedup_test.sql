-- Dedup: properties of the similarity functions (in [0, 1], symmetric, 1 for texts
-- equal after normalisation, NULL in NULL out, empty and huge inputs), the checks
-- on dedup rules and settings, and bad arguments and illegal states of
-- review_duplicate() and explain_dedup(), which write nothing when they fail.
-- Run from the repository root.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;

\o /dev/null
\i test/fixtures/dedup_map.sql
\o

SELECT plan(119);

-- Random texts: Chinese, ASCII, full-width forms, digits, punctuation, spaces.
SELECT setseed(0.25);
CREATE TEMP TABLE texts AS
SELECT n, (SELECT string_agg(substr('井盖缺失破损路灯不亮门口对面文华路号桂城街道社区垃圾噪音ABCabc０１２３ＡＢＣ0123456789，。！？ 　、:-()',
                                    1 + floor(random() * 70)::int, 1 + floor(random() * 3)::int), '')
             FROM generate_series(1, 1 + (n % 40)) g WHERE n > 0) AS t
  FROM generate_series(1, 200) n;
CREATE TEMP TABLE pairs AS
SELECT a.n AS i, b.n AS j, a.t AS a, b.t AS b FROM texts a JOIN texts b ON b.n = (a.n * 37) % 200 + 1;

SELECT is((SELECT count(*) FROM pairs WHERE workorder.text_similarity(a, b) NOT BETWEEN 0 AND 1), 0::bigint,
          'text_similarity is in [0, 1] for 200 random pairs');
SELECT is((SELECT count(*) FROM pairs WHERE workorder.address_similarity(a, b) NOT BETWEEN 0 AND 1), 0::bigint,
          'address_similarity is in [0, 1] for 200 random pairs');
SELECT is((SELECT count(*) FROM pairs WHERE workorder.text_similarity(a, b, 'ABC文华路') NOT BETWEEN 0 AND 1), 0::bigint,
          'text_similarity ignoring words is in [0, 1] for 200 random pairs');
SELECT is((SELECT count(*) FROM pairs WHERE workorder.text_similarity(a, b) <> workorder.text_similarity(b, a)), 0::bigint,
          'text_similarity is symmetric');
SELECT is((SELECT count(*) FROM pairs WHERE workorder.address_similarity(a, b) <> workorder.address_similarity(b, a)), 0::bigint,
          'address_similarity is symmetric');
SELECT is((SELECT count(*) FROM pairs WHERE workorder.text_similarity(a, b, '门口') <> workorder.text_similarity(b, a, '门口')), 0::bigint,
          'text_similarity ignoring words is symmetric');
SELECT is((SELECT count(*) FROM texts WHERE workorder.text_similarity(t, t) <> 1), 0::bigint,
          'a text is 1 to itself');
SELECT is((SELECT count(*) FROM texts WHERE workorder.address_similarity(t, t) <> 1), 0::bigint,
          'an address is 1 to itself');
SELECT is((SELECT count(*) FROM pairs
            WHERE workorder.text_similarity(a, b) = 1
              AND workorder.similarity_normalize(a) <> workorder.similarity_normalize(b)), 0::bigint,
          'a score of 1 means the same text after normalisation');
SELECT is((SELECT count(*) FROM texts
            WHERE workorder.text_similarity(t, translate(t, '０１２３ＡＢＣ　，。！？', '0123abc ,.!?') || ' ！') <> 1), 0::bigint,
          'full-width forms, case, punctuation and spaces do not count');
SELECT is(workorder.text_similarity('您好，我要反映井盖缺失，谢谢', '井盖缺失'), 1::float8,
          'fillers do not count');
SELECT is(workorder.text_similarity('12号井盖', '345号井盖'), 1::float8,
          'in a description, every run of digits is alike');
SELECT cmp_ok(workorder.address_similarity('文华路12号', '文华路345号'), '<', 1::float8,
          'in an address, runs of digits keep their value');
SELECT is(workorder.similarity_normalize('碧桂园①栋⑵单元', true), '碧桂园#1栋#2单元',
          'an enclosed numeral is the digits of its number');
SELECT cmp_ok(workorder.address_similarity('碧桂园①栋', '碧桂园②栋'), '<', 1::float8,
          '... so ①栋 and ②栋 are two addresses (they were one, the numerals dropped)');
SELECT cmp_ok(workorder.address_similarity('幸福路一〇一号', '幸福路一一号'), '<', 1::float8,
          '〇 is a character, not punctuation: 一〇一号 is not 一一号');
SELECT is(workorder.text_similarity(E'井盖\uFE0F缺失\U0001F6A7', '井盖缺失'), 1::float8,
          'a variation selector and an emoji do not count');
SELECT is(workorder.address_similarity('文华路012号', '文华路12号'), 1::float8,
          'leading zeros do not count');
SELECT cmp_ok(workorder.address_similarity('桂城东二社区13800138000号', '桂城东二社区586269号'), '<', 1::float8,
              'a number too long to keep its value (a phone number) is never equal to a door number');
SELECT cmp_ok(workorder.address_similarity('99999999999999999999999999号', '88795号'), '<', 1::float8,
              '... however long it is');
SELECT is(workorder.address_similarity('桂城13800138000号', '桂城013800138000号'), 1::float8,
          'leading zeros do not count in a long number either');
SELECT cmp_ok(workorder.address_similarity('桂城13800138000号', '桂城13800138001号'), '<', 1::float8,
              'two long numbers that differ in a digit differ');
SELECT is(workorder.text_similarity('井盖缺失', '井盖缺失', ''), workorder.text_similarity('井盖缺失', '井盖缺失'),
          'ignoring nothing is text_similarity');
SELECT is(workorder.text_similarity('文华路', '文华路', '文华路'), 1::float8,
          'two texts of only ignored words are equal');

-- NULL, empty and huge inputs.
SELECT ok(workorder.text_similarity(NULL, 'a') IS NULL AND workorder.text_similarity('a', NULL) IS NULL
          AND workorder.address_similarity(NULL, 'a') IS NULL AND workorder.text_similarity('a', 'b', NULL) IS NULL
          AND workorder.similarity_normalize(NULL) IS NULL,
          'NULL in, NULL out');
SELECT is(workorder.text_similarity('', ''), 1::float8, 'two empty texts are equal');
SELECT is(workorder.text_similarity('，。！', '  '), 1::float8, 'two texts of punctuation only are equal (both empty)');
SELECT is(workorder.text_similarity('', '井盖'), 0::float8, 'an empty text is 0 to a non-empty one');
SELECT is(workorder.address_similarity('', '文华路'), 0::float8, 'an empty address is 0 to a non-empty one');
SELECT is(workorder.text_similarity(repeat('井盖缺失很危险', 150000), repeat('井盖缺失很危险', 150000)), 1::float8,
          'a text of a million characters is 1 to itself');
SELECT cmp_ok(workorder.text_similarity(repeat('井盖缺失很危险', 150000), '井盖缺失'), '<', 1::float8,
          'a huge text against a short one');
SELECT is(length(workorder.similarity_normalize(repeat('路', 50000))), 10000,
          'at most 10000 normalised characters are compared');

-- Dedup rules: checked by constraints; a rule names an existing category.
SELECT throws_ok($$INSERT INTO workorder.dedup_rules (category_code, weight_text) VALUES ('ROAD', -1)$$,
                 '23514', NULL, 'a negative weight is refused');
SELECT throws_ok($$INSERT INTO workorder.dedup_rules (category_code, merge_threshold, review_threshold) VALUES ('ROAD', 0.5, 0.6)$$,
                 '23514', NULL, 'a review threshold above the merge threshold is refused');
SELECT throws_ok($$INSERT INTO workorder.dedup_rules (category_code, merge_threshold) VALUES ('ROAD', 1.5)$$,
                 '23514', NULL, 'a threshold above 1 is refused');
SELECT throws_ok($$INSERT INTO workorder.dedup_rules (category_code, late_policy) VALUES ('ROAD', 'ignore')$$,
                 '23514', NULL, 'a late policy other than reopen or link is refused');
SELECT throws_ok($$INSERT INTO workorder.dedup_rules (category_code, closed_window) VALUES ('ROAD', '100 days')$$,
                 '23514', NULL, 'a closed window over 90 days is refused');
SELECT throws_ok($$INSERT INTO workorder.dedup_rules (category_code, weight_text) VALUES ('NOWHERE', 1)$$,
                 '23503', NULL, 'a rule for an unknown category is refused');
-- Inherited thresholds that cross leave no review band.
INSERT INTO workorder.dedup_rules (category_code, review_threshold) VALUES ('ROAD', 0.7);
INSERT INTO workorder.dedup_rules (category_code, merge_threshold) VALUES ('ROAD_MANHOLE', 0.6);
SELECT is((SELECT review_threshold FROM workorder.dedup_policy('ROAD_MANHOLE')), 0.6::float8,
          'an inherited review threshold above the merge threshold is taken to be the merge threshold');
DELETE FROM workorder.dedup_rules;

-- Settings: a bad value is refused when it is written (WO010, settings_test.sql);
-- one that is there all the same (written before that check, or with triggers off)
-- fails intake with WO701 naming the setting, and intake writes nothing.
ALTER TABLE workorder.settings DISABLE TRIGGER settings_before_write;
INSERT INTO workorder.settings VALUES ('dedup_enabled', 'maybe', 'test');
SELECT throws_ok($$SELECT workorder.submit('hotline', 'TAP-S1', '0401', '井盖缺失', lon => 117.05, lat => 26.05)$$,
                 'WO701', 'invalid dedup setting dedup_enabled', 'dedup_enabled must be on or off');
UPDATE workorder.settings SET name = 'dedup_window', value = '-1 day' WHERE name = 'dedup_enabled';
SELECT throws_ok($$SELECT workorder.dedup_policy('CITY')$$, 'WO701', 'invalid dedup setting dedup_window',
                 'a negative window is refused');
UPDATE workorder.settings SET name = 'dedup_weight_text', value = 'lots' WHERE name = 'dedup_window';
SELECT throws_ok($$SELECT workorder.dedup_policy('CITY')$$, 'WO701', 'invalid dedup setting dedup_weight_text',
                 'a weight that is not a number is refused');
DELETE FROM workorder.settings WHERE name = 'dedup_weight_text';
ALTER TABLE workorder.settings ENABLE TRIGGER settings_before_write;
SELECT is((SELECT count(*) FROM workorder.orders WHERE channel_ref = 'TAP-S1'), 0::bigint, 'the failed intake wrote nothing');

-- review_duplicate: bad arguments and illegal states; nothing written on failure.
\o /dev/null
SELECT workorder.submit('hotline', 'TAP-M', '0401', '文华路3号门口井盖缺失', lon => 117.05, lat => 26.05, address => '文华路3号');
SELECT workorder.submit('hotline', 'TAP-S', '0401', '文华路3号对面人行道的井盖破损下陷', lon => 117.0504, lat => 26.0502, address => '文华路3号对面');
SELECT workorder.submit('hotline', 'TAP-N', '0401', '井盖缺失', lon => 117.15, lat => 26.15);
\o
SELECT id AS m FROM workorder.orders WHERE channel_ref = 'TAP-M' \gset
SELECT id AS s FROM workorder.orders WHERE channel_ref = 'TAP-S' \gset
SELECT id AS n FROM workorder.orders WHERE channel_ref = 'TAP-N' \gset
SELECT is((SELECT status::text || ' ' || (SELECT count(*) FROM workorder.suspected_duplicates WHERE order_id = :s)
             FROM workorder.orders WHERE id = :s), 'new 1', 'the fixture: TAP-S is a suspected duplicate of TAP-M');
SELECT is((SELECT string_agg(rule_name || ': ' || reason || ' ' || chosen, '; ') FROM workorder.explain_route(:s)),
          'intake: a suspected duplicate waiting for review (review_duplicate): not routed yet, no rule is considered false',
          'explain_route says a suspected duplicate was not routed (it showed a rule chosen)');
-- ... and, once the review is settled (rejected here), that intake routed it not: the
-- rules are shown as routing would apply them now, none chosen.  (Once settled, one
-- was shown chosen, with its unit, as if intake had sent the order there.)
\o /dev/null
SELECT workorder.submit('hotline', 'TAP-RM', '0401', '文华路3号门口井盖缺失', lon => 117.09, lat => 26.09, address => '文华路3号');
SELECT workorder.submit('hotline', 'TAP-R', '0401', '文华路3号对面人行道的井盖破损下陷', lon => 117.0904, lat => 26.0902, address => '文华路3号对面');
\o
SELECT id AS r FROM workorder.orders WHERE channel_ref = 'TAP-R' \gset
SELECT is((SELECT count(*)::integer FROM workorder.suspected_duplicates WHERE order_id = :r), 1, 'the fixture: TAP-R is a suspected duplicate too');
SELECT is((SELECT status::text FROM workorder.review_duplicate(:r, 'C-990901', 'reject')), 'new', '... rejected, it stays new');
SELECT is((SELECT ROW(count(*) FILTER (WHERE chosen), min(reason) FILTER (WHERE step = 0) ~ 'held for review and settled since',
                      count(*) FILTER (WHERE reason = 'matched: routing would choose it now'))::text
             FROM workorder.explain_route(:r)),
          ROW(0, true, 1)::text,
          'explain_route of a settled suspect says intake routed it not, and which rule routing would choose now');

SELECT throws_ok('SELECT workorder.review_duplicate(-1, ''C-990901'', ''confirm'')', 'WO402', NULL,
                 'an unknown order is WO402');
SELECT throws_ok(format('SELECT workorder.review_duplicate(%s, NULL, ''confirm'')', :s), 'WO404', NULL,
                 'a review needs an actor');
SELECT throws_ok(format('SELECT workorder.review_duplicate(%s, ''C-990901'', NULL)', :s), 'WO712', NULL,
                 'a NULL decision is WO712');
SELECT throws_ok(format('SELECT workorder.review_duplicate(%s, ''C-990901'', ''yes'')', :s), 'WO712', NULL,
                 'a decision other than confirm or reject is WO712');
SELECT throws_ok(format('SELECT workorder.review_duplicate(%s, ''C-990901'', ''confirm'', -5)', :s), 'WO404', NULL,
                 'confirming with a master that does not exist is the merge''s WO404');
SELECT throws_ok(format('SELECT workorder.review_duplicate(%s, ''C-990901'', ''confirm'')', :m), 'WO401', NULL,
                 'reviewing a dispatched order is WO401');
SELECT throws_ok(format('SELECT workorder.review_duplicate(%s, ''C-990901'', ''reject'')', :n), 'WO401', NULL,
                 'reviewing an order that dedup did not suspect (dispatched) is WO401');
SELECT is((SELECT (status, event_count, report_count)::text FROM workorder.orders WHERE id = :s)
          || (SELECT (review IS NULL)::text FROM workorder.dedup_checks WHERE order_id = :s),
          '(new,2,1)true', 'failed reviews wrote nothing');
-- A suspected duplicate waiting for review is no master yet: reports merged into it
-- kept its own review from merging it (WO404, an order with reports merged into it).
SELECT throws_like(format('SELECT workorder.merge(%s, %s, ''C-990901'')', :n, :s),
                   '%is a suspected duplicate waiting for review',
                   'merging into a suspected duplicate waiting for review is refused');
SELECT throws_ok(format('SELECT workorder.merge(%s, %s, ''C-990901'')', :n, :s), 'WO404', NULL,
                 '... as WO404, the merge''s code for an unusable master');
SELECT is((SELECT (status, master_id IS NULL, event_count)::text FROM workorder.orders WHERE id = :n)
          || (SELECT report_count::text FROM workorder.orders WHERE id = :s),
          '(dispatched,t,2)1', '... and writes nothing');
-- A confirm may name another master than the suspected one; explain_dedup then
-- names it too (it told only of the suspected master, as chosen and confirmed).
SELECT is((SELECT status || ' ' || master_id FROM workorder.review_duplicate(:s, 'C-990901', 'confirm', :n)),
          'merged ' || :n, 'a confirm that names another master merges into that one');
SELECT alike((SELECT reason FROM workorder.explain_dedup(:s) WHERE chosen),
             (SELECT '%; confirm by C-990901, as a duplicate of ' || ticket FROM workorder.orders WHERE id = :n),
             '... and explain_dedup says so');
SELECT throws_ok('SELECT * FROM workorder.explain_dedup(-1)', 'WO402', NULL, 'explaining an unknown order is WO402');

-- A master cancelled between the search and the merge (by a dispatcher, whom the
-- neighbourhood's locks do not stop): intake does not fail, the report stays new.
-- This is dedup_apply(), the plpgsql that the library 0.5 first shipped with calls;
-- submit()'s own C path is raced for real in test/scenario/dedup_master_race.t.
\o /dev/null
SELECT workorder.submit('hotline', 'TAP-C', '0401', '文华路8号井盖缺失', lon => 117.07, lat => 26.07);
\o
SELECT id AS c FROM workorder.orders WHERE channel_ref = 'TAP-C' \gset
CREATE TEMP TABLE late AS SELECT workorder.dedup_decide('ROAD_MANHOLE', ST_SetSRID(ST_MakePoint(117.07, 26.07), 4326), now(),
                                                        '文华路8号井盖缺失', NULL, NULL) AS d;
SELECT is((SELECT (d).decision FROM late), 'merge', 'the fixture: a merge is decided');
\o /dev/null
SELECT workorder.cancel(:c, 'C-990901', '测试');
SELECT workorder.submit('camera', 'TAP-C2', 'manhole', '文华路8号井盖缺失', lon => 117.18, lat => 26.18);
\o
SELECT lives_ok(format('SELECT workorder.dedup_apply(o, (SELECT d FROM late)) FROM workorder.orders o WHERE o.channel_ref = %L', 'TAP-C2'),
                'applying a merge into a master cancelled meanwhile does not fail');
SELECT is((SELECT status::text || ' ' || (SELECT decision FROM workorder.dedup_checks k WHERE k.order_id = o.id)
             FROM workorder.orders o WHERE o.channel_ref = 'TAP-C2'), 'dispatched new',
          '... the report is not merged, and the check says so');

-- What dedup_decide() records of its candidates are the rows of dedup_candidates(),
-- in the order of the decision, and of its policy the row of dedup_policy(): values
-- of their own types since 0.5, compared here in their text form, which shows every
-- double to the last digit.
INSERT INTO workorder.orders (ticket, channel_code, channel_ref, category_code, description, address, location,
                              location_match, in_jurisdiction, reporter_phone, received_at, status, event_count)
SELECT workorder.make_ticket(current_date - 3, 990000 + i), 'hotline', 'TAP-J' || i, 'ROAD_MANHOLE',
       (ARRAY['文华路9号井盖缺失', '井盖破损了，很危险', '路灯不亮', '文华路井盖松动有响声'])[1 + i % 4],
       CASE WHEN i % 3 <> 0 THEN '文华路' || i || '号' END,
       ST_SetSRID(ST_MakePoint(118.07 + i * 0.0000137, 27.07 + i * 0.0000071), 4326), 'contained', true,
       '1380000' || lpad(i::text, 4, '0'), now() - make_interval(secs => i * 137.3), 'dispatched', 0
  FROM generate_series(1, 30) i;
CREATE TEMP TABLE record_case AS
SELECT ST_SetSRID(ST_MakePoint(118.0701, 27.0701), 4326) AS point, '文华路9号井盖不见了'::text AS description,
       '文华路12号'::text AS address, '13800000012'::text AS phone;
SELECT is((SELECT CASE WHEN d.candidates IS NULL THEN 'no candidates'
                       WHEN d.candidates::text = (SELECT pg_catalog.array_agg(c ORDER BY c.score DESC NULLS FIRST, c.order_id)::text
                                                    FROM workorder.dedup_candidates((SELECT p FROM workorder.dedup_policy('ROAD_MANHOLE') p),
                                                                                    j.point, now(), j.description, j.address, j.phone, NULL) c)
                       THEN 'same, ' || pg_catalog.cardinality(d.candidates) || ' candidates'
                       ELSE 'differs: ' || d.candidates::text END
             FROM record_case j,
                  LATERAL workorder.dedup_decide('ROAD_MANHOLE', j.point, now(), j.description, j.address, j.phone) d),
          'same, 30 candidates',
          'dedup_decide records its candidates as the rows of dedup_candidates(), best first with NULL scores first');
SELECT is((SELECT d.policy::text FROM record_case j,
                  LATERAL workorder.dedup_decide('ROAD_MANHOLE', j.point, now(), j.description, j.address, j.phone) d),
          (SELECT p::text FROM workorder.dedup_policy('ROAD_MANHOLE') p),
          '... and its policy as the row of dedup_policy()');

-- The library still serves the dedup_decide() of 0.2 to 0.4 (a database not yet
-- updated calls it), which records the policy and the candidates as jsonb: what
-- to_jsonb() makes of those rows, byte for byte.  Its numbers are built from the
-- doubles without a round trip through text, and must come out with the same value
-- and the same scale, at any extra_float_digits.
CREATE TYPE pg_temp.dedup_decision_0_4 AS (decision text, master_id bigint, score double precision, holds boolean,
                                           reason text, policy jsonb, candidates jsonb);
CREATE FUNCTION pg_temp.dedup_decide_0_4(category text, point geometry, received timestamptz,
                                         description text, address text, reporter_phone text)
RETURNS pg_temp.dedup_decision_0_4 AS '$libdir/workorder', 'workorder_dedup_decide' LANGUAGE C;
CREATE FUNCTION pg_temp.recorded_equals_to_jsonb() RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN d.candidates IS NULL THEN 'no candidates'
                WHEN d.candidates::text = (SELECT pg_catalog.to_jsonb(pg_catalog.array_agg(c ORDER BY c.score DESC NULLS FIRST, c.order_id))::text
                                             FROM workorder.dedup_candidates((SELECT p FROM workorder.dedup_policy('ROAD_MANHOLE') p),
                                                                             j.point, now(), j.description, j.address, j.phone, NULL) c)
                 AND d.policy::text = (SELECT pg_catalog.to_jsonb(p)::text FROM workorder.dedup_policy('ROAD_MANHOLE') p)
                THEN 'same, ' || pg_catalog.jsonb_array_length(d.candidates) || ' candidates'
                ELSE 'differs: ' || d.policy::text || ' ' || d.candidates::text END
      FROM record_case j,
           LATERAL pg_temp.dedup_decide_0_4('ROAD_MANHOLE', j.point, now(), j.description, j.address, j.phone) d
$$;
SET LOCAL extra_float_digits = 1;
SELECT is(pg_temp.recorded_equals_to_jsonb(), 'same, 30 candidates',
          'the dedup_decide of 0.4 records its policy and candidates as to_jsonb() of them (extra_float_digits 1, the default)');
SET LOCAL extra_float_digits = 3;
SELECT is(pg_temp.recorded_equals_to_jsonb(), 'same, 30 candidates', '... and with extra_float_digits 3 (pg_dump''s)');
SET LOCAL extra_float_digits = 0;
SELECT is(pg_temp.recorded_equals_to_jsonb(), 'same, 30 candidates', '... and with extra_float_digits 0 (fewer digits)');
RESET extra_float_digits;
SELECT ok((SELECT bool_and(pg_catalog.jsonb_typeof(c->'distance_m') = 'number' AND pg_catalog.jsonb_typeof(c->'score') = 'number'
                           AND pg_catalog.jsonb_typeof(c->'order_id') = 'number')
             FROM record_case j, LATERAL pg_temp.dedup_decide_0_4('ROAD_MANHOLE', j.point, now(), j.description, j.address, j.phone) d,
                  LATERAL pg_catalog.jsonb_array_elements(d.candidates) c),
          '... where distances, scores and ids are JSON numbers');
-- A library newer than the SQL does not put rows where the SQL declared jsonb.
CREATE FUNCTION pg_temp.dedup_decide_mismatched(category text, point geometry, received timestamptz,
                                                description text, address text, reporter_phone text)
RETURNS pg_temp.dedup_decision_0_4 AS '$libdir/workorder', 'workorder_dedup_decide_0_5' LANGUAGE C;
SELECT throws_ok($$SELECT pg_temp.dedup_decide_mismatched('ROAD_MANHOLE', point, now(), description, address, phone)
                     FROM record_case$$, '42804', 'workorder.dedup_decision does not match the library',
                 'the dedup_decide of 0.5 refuses a decision type whose candidates are jsonb');

-- A suspected duplicate waits for review while it is new (as suspected_duplicates
-- and review_duplicate() have it): no candidate then, so that reports pile onto its
-- master, not onto it.  Once a dispatcher has dispatched it by hand it is an order
-- being handled, and a candidate like any other.
\o /dev/null
SELECT workorder.submit('hotline', 'TAP-WM', '0401', '文华路3号门口井盖缺失', lon => 117.06, lat => 26.06, address => '文华路3号');
SELECT workorder.submit('hotline', 'TAP-WS', '0401', '文华路3号对面人行道的井盖破损下陷', lon => 117.0604, lat => 26.0602, address => '文华路3号对面');
\o
SELECT id AS ws FROM workorder.orders WHERE channel_ref = 'TAP-WS' \gset
CREATE TEMP VIEW ws_seen AS
SELECT pg_catalog.count(*) FILTER (WHERE c.order_id = o.id) AS as_candidate
  FROM workorder.orders o,
       LATERAL workorder.dedup_candidates(workorder.dedup_policy('ROAD_MANHOLE'), o.location, now(), '井盖破损', NULL, NULL) c
 WHERE o.channel_ref = 'TAP-WS';
SELECT is((SELECT (o.status::text, (SELECT count(*) FROM workorder.suspected_duplicates s WHERE s.order_id = o.id),
                   (SELECT as_candidate FROM ws_seen))::text FROM workorder.orders o WHERE o.id = :ws),
          '(new,1,0)', 'a suspected duplicate waiting for review is no candidate');
\o /dev/null
SELECT workorder.dispatch(:ws, 'C-990901', 'B-roads-990901001', '不是重复，先派');
\o
SELECT is((SELECT (o.status::text, (SELECT count(*) FROM workorder.suspected_duplicates s WHERE s.order_id = o.id),
                   (SELECT as_candidate FROM ws_seen))::text FROM workorder.orders o WHERE o.id = :ws),
          '(dispatched,0,1)', '... once dispatched by hand, unreviewed, it is a candidate again');
-- ... and stays one when it comes back to new (returned by its unit): the dispatch
-- settled the suspicion.  It was a suspect waiting for review again: listed for a
-- review that could no longer be done, and passed over as a candidate.
SELECT is((SELECT (review, reviewed_by) FROM workorder.dedup_checks WHERE order_id = :ws)::text,
          '(dispatch,C-990901)', 'the dispatch settled the suspicion: the check records it as the review');
\o /dev/null
SELECT workorder.return_order(:ws, 'B-roads-990901001', '不归我们管');
\o
SELECT is((SELECT (o.status::text, (SELECT count(*) FROM workorder.suspected_duplicates s WHERE s.order_id = o.id),
                   (SELECT as_candidate FROM ws_seen))::text FROM workorder.orders o WHERE o.id = :ws),
          '(new,0,1)', 'returned to new, it is not listed for review, and is a candidate still');
SELECT throws_ok(format('SELECT workorder.review_duplicate(%s, ''C-990901'', ''confirm'')', :ws), 'WO711', NULL,
                 'review_duplicate refuses it: it was settled without a review');

-- A confirmed duplicate of a resolved master received after its last resolve is a
-- late report: the late_policy decides, as at intake (test/scenario/late_report.t:
-- under reopen the confirm reopens the master).  One received before the resolve, as
-- every report of this one transaction is, is answered by it: linked, even under
-- reopen (it reopened the master, a redo for the problem the unit had just fixed).
SAVEPOINT late_review;
INSERT INTO workorder.dedup_rules (category_code, late_policy) VALUES ('ROAD_MANHOLE', 'reopen');
SELECT (workorder.submit('hotline', 'TAP-L1', '0401', '您好，丙街道文华路3号门口的井盖不见了，晚上很危险，麻烦尽快处理',
                         lon => 117.08, lat => 26.08, address => '去重区丙街道文华路3号')).id AS l1 \gset
SELECT (workorder.resolve((workorder.accept(:l1, 'B-roads-990901001')).id, 'B-roads-990901001', '已更换新井盖')).status AS l1_status \gset
SELECT (workorder.submit('hotline', 'TAP-L2', '0401', '文华路3号对面人行道的井盖破损下陷',
                         lon => 117.0803, lat => 26.0802, address => '文华路3号对面')).id AS l2 \gset
SELECT is((SELECT decision || ' ' || master_id FROM workorder.dedup_checks WHERE order_id = :l2), 'review ' || :l1,
          'the fixture: a late report of a resolved master, suspected (between the thresholds)');
SELECT is((SELECT status || ' ' || master_id FROM workorder.review_duplicate(:l2, 'C-990901', 'confirm')), 'merged ' || :l1,
          'confirmed, it is merged');
SELECT is((SELECT o.status || ' ' || o.redo_count || ' ' || (SELECT count(*) FROM workorder.order_events e
                                                             WHERE e.order_id = o.id AND e.action = 'reopen')
             FROM workorder.orders o WHERE o.id = :l1),
          'resolved 0 0', 'a report from before the resolve, confirmed after it under late_policy reopen, leaves the master resolved');
-- So is one merged at intake, dated by its connector (or the inbox) before the
-- resolve: linked, and explain_dedup says why (it named the policy, link, when the
-- policy in force was reopen).
SELECT workorder.intake_received_at(now()) IS NULL AS dated \gset
SELECT (workorder.submit('hotline', 'TAP-L3', '0401', '您好，丙街道文华路3号门口的井盖不见了，晚上很危险，麻烦尽快处理',
                         lon => 117.08, lat => 26.08, address => '去重区丙街道文华路3号')).id AS l3 \gset
SELECT is((SELECT decision FROM workorder.dedup_checks WHERE order_id = :l3), 'link',
          'a report dated before the master''s resolve (this transaction''s start) is linked under late_policy reopen');
SELECT alike((SELECT reason FROM workorder.explain_dedup(:l3) WHERE chosen),
              '%; the master was resolved after this report was received: linked, answered by that resolve',
              '... and explain_dedup says why, not "late_policy link"');
ROLLBACK TO SAVEPOINT late_review;

-- A report more urgent than the order it duplicates is routed as an order of its
-- own, its status_reason naming the master: merged, it took the master's deadlines
-- and unit (an urgent report of cars trapped in a flood, merged into an earlier
-- normal one, kept five working days and the town's unit).
SAVEPOINT more_urgent;
SELECT (workorder.submit('hotline', 'TAP-U1', '0401', '您好，丁街道人民路9号门口的井盖不见了，晚上很危险，麻烦尽快处理',
                         lon => 117.09, lat => 26.09, address => '去重区丁街道人民路9号')).id AS u1 \gset
SELECT (workorder.submit('hotline', 'TAP-U2', '0401', '您好，丁街道人民路9号门口的井盖不见了，晚上很危险，麻烦尽快处理',
                         lon => 117.09, lat => 26.09, address => '去重区丁街道人民路9号', priority => 'urgent')).id AS u2 \gset
SELECT is((SELECT o.status || ' ' || c.decision || ' ' || (o.status_reason LIKE '%more urgent than %, which it duplicates: routed on its own%')
                    || ' ' || (o.sla_policy = 'urgent') FROM workorder.orders o
             JOIN workorder.dedup_checks c ON c.order_id = o.id WHERE o.id = :u2),
          'dispatched new true true', 'an urgent duplicate of a normal order is routed on its own, under its urgent policy, and says which order it duplicates');
SELECT alike((SELECT reason FROM workorder.explain_dedup(:u2) WHERE chosen),
              'score %, but the report (urgent) is more urgent than that order (normal): routed on its own, not merged',
              '... and explain_dedup says why (it said the master was merged or cancelled)');
SELECT is((SELECT status FROM workorder.submit('hotline', 'TAP-U3', '0401', '您好，丁街道人民路9号门口的井盖不见了，晚上很危险，麻烦尽快处理',
                                              lon => 117.09, lat => 26.09, address => '去重区丁街道人民路9号', priority => 'low')),
          'merged', '... while a less urgent one is merged');
-- So is an urgent report that is only suspected of duplicating a normal order (it
-- waited for the review queue, unrouted and with no deadline).
SELECT (workorder.submit('hotline', 'TAP-UR1', '0401', '文华路3号门口井盖缺失', lon => 117.12, lat => 26.12,
                         address => '文华路3号')).id AS ur1 \gset
SELECT (workorder.submit('hotline', 'TAP-UR2', '0401', '文华路3号对面人行道的井盖破损下陷', lon => 117.1204, lat => 26.1202,
                         address => '文华路3号对面', priority => 'urgent')).id AS ur2 \gset
SELECT is((SELECT o.status || ' ' || (o.status_reason LIKE 'more urgent than %, which it may duplicate: routed on its own, not held for review%')
                    || ' ' || (o.resolve_due_at IS NOT NULL) FROM workorder.orders o WHERE o.id = :ur2),
          'dispatched true true', 'an urgent report suspected of duplicating a normal order is routed on its own, with its deadlines, not held for review');
SELECT alike((SELECT reason FROM workorder.explain_dedup(:ur2) WHERE chosen),
              'score %, but the report (urgent) is more urgent than that order (normal): routed on its own, not held for review',
              '... and explain_dedup says why');
ROLLBACK TO SAVEPOINT more_urgent;

-- A candidate with no score (its category weighs only what it lacks: here only the
-- address and the reporter count, and it has neither) is no evidence: the decision
-- looks at the scored ones first.  It stood first, and a candidate scoring 1 behind
-- it was neither merged nor suspected.
SAVEPOINT null_scores;
INSERT INTO workorder.dedup_rules (category_code, weight_distance, weight_time, weight_text, weight_address, weight_reporter)
VALUES ('ROAD_MANHOLE', 0, 0, 0, 1, 1);
SELECT (workorder.submit('hotline', 'TAP-W1', '0401', '路面井盖松动', lon => 117.14, lat => 26.14, address => '海八路9号')).id AS w1 \gset
SELECT (workorder.submit('hotline', 'TAP-W2', '0401', '井盖有响声', lon => 117.14, lat => 26.14)).id AS w2 \gset
SELECT is((SELECT status || ' ' || (SELECT score IS NULL FROM workorder.explain_dedup(:w2) WHERE candidate_id = :w1)
             FROM workorder.orders WHERE id = :w2),
          'dispatched true', 'the fixture: a report without an address has no score against one with');
SELECT is((SELECT status || ' ' || (master_id = :w1)
             FROM workorder.submit('hotline', 'TAP-W3', '0401', '路面井盖松动', lon => 117.14, lat => 26.14, address => '海八路9号')),
          'merged true', 'a report matching one candidate fully and another not at all (no score) is merged into the one it matches');
ROLLBACK TO SAVEPOINT null_scores;

-- The distance of each candidate is the geodesic on WGS 84 that ST_Distance(geography)
-- measures, computed in C (src/geodesic.c): within 10 micrometres of PostGIS's, from a
-- metre to 50 km, anywhere on the earth (the poles' caps and the antimeridian's
-- edge, where the search box does not wrap, left out).  PostGIS rounds its distance
-- to 1e-8 m; the C's is not rounded, which shows which of the two measured.
SELECT setseed(0.7);
CREATE TEMP TABLE geodesic_centres AS
SELECT g AS k, -175 + random() * 350 AS lon, -80 + random() * 160 AS lat FROM generate_series(1, 12) g
UNION ALL SELECT 13, 100, 0;        -- on the equator
INSERT INTO workorder.orders (ticket, channel_code, channel_ref, category_code, description, location,
                              location_match, in_jurisdiction, received_at, status, event_count)
SELECT workorder.make_ticket(current_date - 1, 980000 + c.k * 100 + i), 'hotline', 'TAP-GEO-' || c.k || '-' || i, 'ROAD_MANHOLE',
       '测距', CASE WHEN c.k = 13 AND i = 1 THEN ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)     -- the same point
                    WHEN c.k = 13 THEN ST_SetSRID(ST_MakePoint(c.lon + i * 0.0003, c.lat), 4326)  -- along the equator
                    ELSE ST_Project(ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)::geography,
                                    exp(random() * ln(50000)), random() * 2 * pi())::geometry END,
       'contained', true, now() - interval '1 hour', 'dispatched', 0
  FROM geodesic_centres c, generate_series(1, 40) i;
CREATE FUNCTION pg_temp.wide_policy() RETURNS workorder.dedup_policy LANGUAGE sql AS $$
    SELECT ROW(x.category_code, x.family, x.path, 60000::float8, x.time_window, x.closed_window,
               x.weight_distance, x.weight_time, x.weight_text, x.weight_address, x.weight_reporter,
               x.merge_threshold, x.review_threshold, x.late_policy, x.enabled)::workorder.dedup_policy
      FROM workorder.dedup_policy('ROAD_MANHOLE') x
$$;
CREATE TEMP TABLE geodesic_seen AS
SELECT ce.k, c.distance_m, ST_Distance(o.location::geography, ST_SetSRID(ST_MakePoint(ce.lon, ce.lat), 4326)::geography) AS postgis
  FROM geodesic_centres ce,
       LATERAL workorder.dedup_candidates(pg_temp.wide_policy(), ST_SetSRID(ST_MakePoint(ce.lon, ce.lat), 4326), now(), '测距', NULL, NULL) c
  JOIN workorder.orders o ON o.id = c.order_id;
SELECT is((SELECT (count(*), min(distance_m) < 2, max(distance_m) > 20000) FROM geodesic_seen WHERE k < 13)::text, '(480,t,t)',
          'the fixture: 480 candidates, from under 2 m to over 20 km away');
SELECT cmp_ok((SELECT max(abs(distance_m - postgis)) FROM geodesic_seen), '<', 1e-5::float8,
              '... each within 10 micrometres of ST_Distance(geography), and 40 along the equator too');
SELECT is((SELECT count(*) FILTER (WHERE distance_m <> round(distance_m * 1e8) / 1e8) > 450 FROM geodesic_seen), true,
          '... measured in C, not by PostGIS (whose distances are multiples of 1e-8 m)');
SELECT is((SELECT distance_m FROM geodesic_seen WHERE k = 13 ORDER BY distance_m LIMIT 1), 0::float8,
          '... and 0 for the same point');
-- Off the earth (a longitude past 180, which geography coerces into range) the
-- distance is PostGIS's.
SELECT is((SELECT c.distance_m = ST_Distance(o.location::geography, ST_SetSRID(ST_MakePoint(180.00005, 10), 4326)::geography)
             FROM workorder.dedup_candidates(pg_temp.wide_policy(), ST_SetSRID(ST_MakePoint(180.00005, 10), 4326), now(), '测距', NULL, NULL) c
             JOIN workorder.orders o ON o.id = c.order_id),
          NULL::boolean, 'the fixture: no order near longitude 180');
INSERT INTO workorder.orders (ticket, channel_code, channel_ref, category_code, description, location,
                              location_match, in_jurisdiction, received_at, status, event_count)
VALUES (workorder.make_ticket(current_date - 1, 989999), 'hotline', 'TAP-GEO-180', 'ROAD_MANHOLE', '测距',
        ST_SetSRID(ST_MakePoint(179.99995, 10), 4326), 'contained', true, now() - interval '1 hour', 'dispatched', 0);
SELECT is((SELECT c.distance_m = ST_Distance(o.location::geography, ST_SetSRID(ST_MakePoint(180.00005, 10), 4326)::geography)
             FROM workorder.dedup_candidates(pg_temp.wide_policy(), ST_SetSRID(ST_MakePoint(180.00005, 10), 4326), now(), '测距', NULL, NULL) c
             JOIN workorder.orders o ON o.id = c.order_id),
          true, 'a report off the earth is measured by PostGIS');
-- A point of another SRID was searched as if it were of 4326 and then refused by
-- PostGIS, with an internal error, when the box held a candidate.
SELECT throws_ok($$SELECT * FROM workorder.dedup_candidates(pg_temp.wide_policy(), ST_SetSRID(ST_MakePoint(100, 0), 4490), now(), '测距', NULL, NULL)$$,
                 'WO102', 'dedup_candidates needs a point of SRID 4326',
                 'a report point of another SRID (CGCS2000) is WO102');
SELECT throws_ok($$SELECT workorder.dedup_decide('ROAD_MANHOLE', ST_SetSRID(ST_MakePoint(100, 0), 3857), now(), '测距', NULL, NULL)$$,
                 'WO102', 'dedup_candidates needs a point of SRID 4326',
                 '... in dedup_decide too');
SELECT is((SELECT count(*) FROM workorder.dedup_candidates(pg_temp.wide_policy(), ST_SetSRID(ST_MakePoint(100.0001, 0), 0), now(), '测距', NULL, NULL)),
          40::bigint, 'a point of SRID 0 is taken for 4326, as geography takes it');

-- The dedup_decide of 0.4 refuses the decision type of 0.5 rather than put jsonb in its columns.
CREATE FUNCTION pg_temp.dedup_decide_reversed(category text, point geometry, received timestamptz,
                                              description text, address text, reporter_phone text)
RETURNS workorder.dedup_decision AS '$libdir/workorder', 'workorder_dedup_decide' LANGUAGE C;
SELECT throws_ok($$SELECT pg_temp.dedup_decide_reversed('ROAD_MANHOLE', point, now(), description, address, phone)
                     FROM record_case$$, '42804', 'workorder.dedup_decision does not match the library',
                 'the dedup_decide of 0.4 refuses a decision type whose candidates are rows');

-- explain_route of a merged report: not routed.
SELECT (workorder.submit('hotline', 'TAP-X1', '0401', '井盖缺失甲', lon => 117.25, lat => 26.25)).id AS x1 \gset
SELECT (workorder.submit('hotline', 'TAP-X2', '0401', '井盖缺失乙', lon => 117.35, lat => 26.35)).id AS x2 \gset
SELECT (workorder.merge(:x2, :x1, 'C-990901')).status AS merged_by_hand \gset
SELECT is((SELECT string_agg(rule_name || ': ' || reason || ' ' || chosen, '; ')
             FROM workorder.explain_route(:x2)),
          'intake: merged into another order (dedup; explain_dedup shows why): not routed, no rule is considered false',
          'explain_route says a merged report was not routed');

-- Place numbers: a number and the marker of its kind (door, building, entrance,
-- lane, metro line); not a day of the month, not a measure word, not a floor.
SELECT is(workorder.place_numbers('中山路12号门口井盖缺失，11月3号就报过'), '{12号}'::text[],
          'place_numbers: a door number, not the day of the month before 号');
SELECT is(workorder.place_numbers('３号楼到5号楼之间，2单元门口'), '{3号楼,5号楼,2单元}'::text[],
          'place_numbers: buildings and an entrance, full-width digits too, longest marker first');
SELECT is(workorder.place_numbers('钟边大街西三巷口，一〇一号，二十三号院'), '{3巷,101号,23号院}'::text[],
          'place_numbers: Chinese numerals, with units or digit by digit');
SELECT is(workorder.place_numbers('一栋五层出租屋，18楼302室，一座桥'), '{}'::text[],
          'place_numbers: no measure word (一栋, 一座), no floor, no room');
SELECT is(workorder.place_numbers('文华路井盖缺失，我3号就打过电话，5号晚上又打，三号那天也反映过，12号以来没人管，文华路12号门口'),
          '{12号}'::text[],
          'place_numbers: a 号 of 1 to 31 that a word of time or of calling follows is a day, not a door (12号以来 too), and a door is one');
SELECT is(workorder.place_numbers('南五路12-1号门口，15－1号，8之2号，12-18号，2-3栋'), '{12-1号,15-1号,8-2号,12-18号,2-3栋}'::text[],
          'place_numbers: two runs of digits joined by a hyphen (full-width too) or 之 are one number (both were door 1)');

-- At most.  Two covers of one street, at No. 12 and No. 15, 35 m apart: the
-- second was merged into the first (place, time and the alike addresses); the
-- numbers name two places.
SELECT (workorder.submit('hotline', 'TAP-AM1', '0401', '中山路12号门口井盖缺失', lon => 117.18, lat => 26.11,
                         address => '丁镇中山路12号')).id AS am1 \gset
SELECT (workorder.submit('grid', 'TAP-AM2', 'B01', '中山路15号门口井盖缺失', lon => 117.18035, lat => 26.11,
                         address => '丁镇中山路15号')).status::text AS am2_status \gset
SELECT is(:'am2_status'::text, 'dispatched', 'a report naming door 15 is not merged into an order at door 12 of the street');
SELECT is((SELECT reason FROM workorder.explain_dedup((SELECT id FROM workorder.orders WHERE channel_ref = 'TAP-AM2'))
            WHERE rank = 1),
          'another place: the report names 15号, this order 12号', '... explain_dedup says it names another place');
SELECT is((SELECT (c).at_most FROM (SELECT unnest(candidates) AS c FROM workorder.dedup_checks
                                     WHERE order_id = (SELECT id FROM workorder.orders WHERE channel_ref = 'TAP-AM2')) x),
          'new', '... and the check keeps at_most new for that candidate');
-- A repeat caller's "I called on the 3rd" names no door: the report is merged
-- into the order at door 12 (3号 was a door, another place, and one event had two
-- orders).  Doors 12-1 and 15-1 are two places (both read as door 1, they were one).
SELECT is((workorder.dedup_decide('ROAD_MANHOLE', ST_SetSRID(ST_MakePoint(117.18, 26.11), 4326),
                                  (SELECT received_at FROM workorder.orders WHERE id = :am1),
                                  '中山路井盖缺失好几天了，我3号就打过电话，到现在还没处理', '丁镇中山路', NULL)).decision,
          'merge', 'a report that names the day it first called is merged into the order at door 12');
SELECT (workorder.submit('hotline', 'TAP-AM3', '0401', '南五路12-1号门口井盖缺失', lon => 117.28, lat => 26.28,
                         address => '丁镇南五路12-1号')).id AS am3 \gset
SELECT is((SELECT ROW(d.decision, (d.candidates[1]).at_most)::text
             FROM workorder.dedup_decide('ROAD_MANHOLE', ST_SetSRID(ST_MakePoint(117.2803, 26.28), 4326),
                                         (SELECT received_at FROM workorder.orders WHERE id = :am3),
                                         '南五路15-1号门口井盖缺失', '丁镇南五路15-1号', NULL) d),
          ROW('new', 'new')::text, 'a report at door 15-1 is not merged into the order at door 12-1');
-- Numbers in common are no conflict: between buildings 3 and 5 is at building 5.
SELECT is((workorder.dedup_decide('ROAD_MANHOLE', ST_SetSRID(ST_MakePoint(117.18, 26.11), 4326),
                                  (SELECT received_at FROM workorder.orders WHERE id = :am1),
                                  '中山路12号和14号之间井盖缺失', '丁镇中山路', NULL)).decision,
          'merge', 'a report naming doors 12 and 14 is merged into the order at door 12');

-- A report filed under the family's root (the mayor's mailbox files letters as
-- ROAD) beside an order of ROAD_MANHOLE: the root says no kind of problem.  It was
-- merged (a lamp report into a manhole order); now it waits for review.
SELECT (workorder.submit('hotline', 'TAP-AR1', '0401', '中山路20号门口井盖缺失', lon => 117.185, lat => 26.115,
                         address => '丁镇中山路20号')).id AS ar1 \gset
SELECT (workorder.submit('hotline', 'TAP-AR2', 'ROAD', '中山路20号门口路灯不亮，晚上很黑', lon => 117.18501, lat => 26.115,
                         address => '丁镇中山路20号')).status::text AS ar2_status \gset
SELECT is(:'ar2_status'::text, 'new', 'a report of the family''s root beside an order of a kind of it is held for review, not merged');
SELECT is((SELECT reason FROM workorder.explain_dedup((SELECT id FROM workorder.orders WHERE channel_ref = 'TAP-AR2'))
            WHERE rank = 1),
          'score at least review_threshold 0.4, the report''s category is the whole family, not the kind of problem: suspected at most',
          '... and explain_dedup says why');

-- Nothing alike in what happened, at one door and one instant: place, time and
-- address alone scored 0.50, the merge threshold, and a road collapse was merged
-- into a missing cover.  Of one category it is held for review at most; of two,
-- it is no duplicate.
SELECT (workorder.submit('hotline', 'TAP-AT1', '0401', '井盖缺失', lon => 117.19, lat => 26.12,
                         address => '丁镇人民路8号')).id AS at1 \gset
SELECT is((SELECT ROW(d.decision, (d.candidates[1]).at_most, d.score)::text
             FROM workorder.dedup_decide('ROAD_MANHOLE', ST_SetSRID(ST_MakePoint(117.19, 26.12), 4326),
                                         (SELECT received_at FROM workorder.orders WHERE id = :at1),
                                         '路面塌陷出现大坑', '丁镇人民路8号', NULL) d),
          '(review,review,0.5)', 'nothing alike in what happened, one category: held for review, not merged at 0.50');
SELECT is((SELECT ROW(d.decision, (d.candidates[1]).at_most, (d.candidates[1]).at_most_reason)::text
             FROM workorder.dedup_decide('ROAD_LIGHT', ST_SetSRID(ST_MakePoint(117.19, 26.12), 4326),
                                         (SELECT received_at FROM workorder.orders WHERE id = :at1),
                                         '路面塌陷出现大坑', '丁镇人民路8号', NULL) d),
          '(new,new,"another category, and nothing alike in what the two say happened (their addresses left out)")',
          '... of another category: no duplicate (it was held for review)');

-- A category whose weights are all 0 scores nothing: explain_dedup says so, not
-- that the score was below the review threshold.
INSERT INTO workorder.dedup_rules (category_code, weight_distance, weight_time, weight_text, weight_address, weight_reporter)
VALUES ('ROAD_LIGHT', 0, 0, 0, 0, 0);
SELECT workorder.submit('hotline', 'TAP-ZW1', '0402', '人民路口路灯不亮', lon => 117.195, lat => 26.125) IS NOT NULL AS zw1 \gset
SELECT (workorder.submit('hotline', 'TAP-ZW2', '0402', '人民路口路灯不亮', lon => 117.195, lat => 26.125)).id AS zw2 \gset
SELECT is((SELECT ROW(score, decision, reason)::text FROM workorder.explain_dedup(:zw2) WHERE rank = 1),
          '(,new,"no score: the policy weighs none of the components this candidate has (see its weights)")',
          'explain_dedup says a candidate the policy weighs nothing of has no score');

-- The chosen master need not rank first: a candidate of another category may score
-- higher and not be merged into.  explain_dedup gives the chosen one its reason
-- (it said "lower score" of the order the report was merged into).
SELECT (workorder.submit('hotline', 'TAP-CM1', '0402', '井盖缺失，车辆经过很危险', lon => 117.29, lat => 26.29)).id AS cm1 \gset
SELECT (workorder.submit('hotline', 'TAP-CM2', '0401', '井盖缺失，车辆经过很危险', lon => 117.2901, lat => 26.29)).id AS cm2 \gset
SELECT (workorder.review_duplicate(:cm2, 'C-990901', 'reject')).status AS cm2_status \gset
SELECT (workorder.submit('hotline', 'TAP-CM3', '0401', '井盖缺失，车辆经过很危险', lon => 117.29, lat => 26.29)).master_id AS cm3_master \gset
SELECT is(:cm3_master::bigint, :cm2::bigint, 'the fixture: a report merged into the order of its category, not the higher-scoring one of another');
SELECT is((SELECT string_agg(ROW(e.candidate_id = :cm2, e.chosen, e.reason)::text, ' ' ORDER BY e.rank)
             FROM workorder.explain_dedup((SELECT id FROM workorder.orders WHERE channel_ref = 'TAP-CM3')) e),
          '(f,f,"another category: not merged automatically") (t,t,"score at least merge_threshold 0.5")',
          'explain_dedup gives the chosen master, ranked second, its reason, not "lower score"');

SELECT * FROM finish();
ROLLBACK;
