-- Dedup: the similarity functions on fixed inputs, the configuration in force, the
-- three decisions at intake (merge, review, new) with explain_dedup(), review by a
-- dispatcher, merge and unmerge by hand with their event log, the outbox when the
-- master is resolved, and late reports (link, reopen).  Everything runs in one
-- transaction that is rolled back, so no other test sees this map or these orders.
\set ON_ERROR_ROLLBACK on
BEGIN;
SET client_min_messages = warning;
\i test/fixtures/dedup_map.sql
\i test/fixtures/error_of.sql

-- Similarity.  Normalisation: full-width to ASCII, lower case, punctuation and
-- spaces out, digit runs one symbol (descriptions) or their value (addresses),
-- fillers out (descriptions).
SELECT workorder.similarity_normalize('您好！ＡＢＣ路　１２３号，井盖缺失了。谢谢') AS description,
       workorder.similarity_normalize('ＡＢＣ路　００１２３号', true) AS address,
       workorder.similarity_normalize('市民来电反映：那个，检测到井盖缺失') AS fillers;
SELECT round(workorder.text_similarity('井盖缺失！', '井盖 缺失')::numeric, 3) AS same_after_normalising,
       round(workorder.text_similarity('ＡＢＣ路１２号井盖', 'abc路99号井盖')::numeric, 3) AS numbers_alike,
       round(workorder.text_similarity('文华路3号门口井盖缺失', '巡查发现文华路3号门口井盖缺失')::numeric, 3) AS inspector,
       round(workorder.text_similarity('井盖缺失', '缺了井盖')::numeric, 3) AS reordered,
       round(workorder.text_similarity('井盖缺失', '路灯不亮')::numeric, 3) AS unrelated,
       round(workorder.text_similarity('', '。。。')::numeric, 3) AS both_empty,
       round(workorder.text_similarity('', '井盖')::numeric, 3) AS one_empty,
       workorder.text_similarity(NULL, '井盖') AS with_null;
-- Leaving the place out: two problems at one door are alike only for the door.
SELECT round(workorder.text_similarity('文华路3号门口井盖缺失', '文华路3号门口路灯不亮')::numeric, 3) AS with_place,
       round(workorder.text_similarity('文华路3号门口井盖缺失', '文华路3号门口路灯不亮', '文华路3号')::numeric, 3) AS without_place,
       round(workorder.text_similarity('文华路3号门口井盖缺失', '文华路3号门口的井盖不见了', '文华路3号')::numeric, 3) AS same_problem;
SELECT round(workorder.address_similarity('南海区桂城街道东二社区', '桂城东二社区')::numeric, 3) AS shorter_form,
       round(workorder.address_similarity('文华路12号', '文华路15号')::numeric, 3) AS other_door,
       round(workorder.address_similarity('文华路12号', '文华路０１２号')::numeric, 3) AS same_door;

-- Characters and bigrams are multisets: a repeated one matches as often as both
-- texts have it, and every occurrence of an ignored one leaves both texts.  The
-- scores are exact fractions (2|A∩B| / (|A| + |B|), averaged), so shown in full.
SELECT workorder.text_similarity('井盖井盖井盖', '井盖') AS repeats_count_once_each,
       workorder.text_similarity('井盖缺失井盖', '井盖井盖缺失') AS same_multiset_other_order,
       workorder.text_similarity('井盖井盖缺失', '井盖缺失缺失', '井盖') AS ignored_every_time,
       workorder.text_similarity('井', '井盖') AS one_symbol,
       workorder.text_similarity('a', 'a') AS one_symbol_equal,
       workorder.address_similarity('桂城东二社区', '南海区桂城街道东二社区东二社区') AS overlap_with_repeats;

-- The configuration in force: the built-in defaults, the catalogue's radius and
-- window (ROAD_MANHOLE its own 50 m, ROAD_LIGHT its parent's 100 m).
SELECT category_code, family, path, radius_m, time_window, closed_window, weight_distance, weight_time,
       weight_text, weight_address, weight_reporter, merge_threshold, review_threshold, late_policy, enabled
  FROM workorder.dedup_policies ORDER BY category_code;
-- A rule on a parent is inherited; a child's own value wins; a district-wide
-- setting replaces a built-in default.
INSERT INTO workorder.dedup_rules (category_code, merge_threshold, late_policy) VALUES ('ROAD', 0.8, 'reopen');
INSERT INTO workorder.dedup_rules (category_code, merge_threshold) VALUES ('ROAD_LIGHT', 0.7);
INSERT INTO workorder.settings VALUES ('dedup_weight_text', '5', 'test');
SELECT category_code, merge_threshold, review_threshold, late_policy, weight_text
  FROM workorder.dedup_policies ORDER BY category_code;
DELETE FROM workorder.dedup_rules;
DELETE FROM workorder.settings WHERE name = 'dedup_weight_text';

-- Helpers: show orders by channel_ref, never by id or ticket (they depend on the day
-- and on other tests).
CREATE FUNCTION pg_temp.refs(t text) RETURNS text LANGUAGE sql AS $$
    SELECT COALESCE((SELECT string_agg(x, '') FROM (
        SELECT COALESCE((SELECT o.channel_ref FROM workorder.orders o WHERE o.ticket::text = m[1]), m[1]) AS x
          FROM regexp_matches(t, '(\d{8}-\d{6}-\d|[^0-9]+|\d+)', 'g') m) p), t)
$$;
-- masked names the orders in an error by ref, without their ids.
CREATE FUNCTION pg_temp.masked(t text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(pg_temp.refs(t), ' \(id \d+\)', '', 'g')
$$;
CREATE FUNCTION pg_temp.report(channel text, ref text, category text, description text, lon float8, lat float8,
                               address text DEFAULT NULL, phone text DEFAULT NULL)
RETURNS TABLE (ref text, status workorder.order_status, master text, main_unit text, status_reason text)
LANGUAGE sql AS $$
    SELECT o.channel_ref, o.status, (SELECT m.channel_ref FROM workorder.orders m WHERE m.id = o.master_id),
           o.main_unit, pg_temp.refs(o.status_reason)
      FROM workorder.submit(channel, ref, category, description, lon => lon, lat => lat, address => address,
                            reporter_phone => phone) o
$$;
CREATE FUNCTION pg_temp.explain(ref text)
RETURNS TABLE (rank integer, candidate text, status workorder.order_status, category text, same_category boolean,
               distance_m numeric, distance numeric, "time" numeric, "text" numeric, address numeric, reporter numeric,
               score numeric, chosen boolean, decision text, reason text)
LANGUAGE sql AS $$
    SELECT e.rank, c.channel_ref, e.candidate_status, e.candidate_category, e.same_category, e.distance_m,
           e.distance_score, e.time_score, e.text_score, e.address_score, e.reporter_score, e.score, e.chosen,
           e.decision, e.reason
      FROM workorder.orders o
     CROSS JOIN LATERAL workorder.explain_dedup(o.id) e
      LEFT JOIN workorder.orders c ON c.id = e.candidate_id
     WHERE o.channel_ref = ref
     ORDER BY e.rank
$$;
CREATE FUNCTION pg_temp.events(ref text)
RETURNS TABLE (seq integer, action text, actor text, old_status workorder.order_status,
               new_status workorder.order_status, note text)
LANGUAGE sql AS $$
    SELECT e.seq, e.action, e.actor, e.old_status, e.new_status, pg_temp.refs(e.note)
      FROM workorder.orders o JOIN workorder.order_events e ON e.order_id = o.id
     WHERE o.channel_ref = ref ORDER BY e.seq
$$;

-- A bad setting is refused when it is written (WO010, test/settings_test.sql), and
-- one that is there all the same (written before that check existed) is refused
-- when it is read, naming it (WO701).
SELECT pg_temp.try('INSERT INTO workorder.settings VALUES (''dedup_merge_threshold'', ''1.5'', ''test'')');
ALTER TABLE workorder.settings DISABLE TRIGGER settings_before_write;
INSERT INTO workorder.settings VALUES ('dedup_merge_threshold', '1.5', 'test');
SELECT pg_temp.try('SELECT workorder.dedup_policy(''ROAD'')');
DELETE FROM workorder.settings WHERE name = 'dedup_merge_threshold';
INSERT INTO workorder.settings VALUES ('dedup_late_policy', 'ignore', 'test');
SELECT pg_temp.try('SELECT workorder.dedup_policy(''ROAD'')');
DELETE FROM workorder.settings WHERE name = 'dedup_late_policy';
ALTER TABLE workorder.settings ENABLE TRIGGER settings_before_write;

-- A citizen reports a missing manhole cover: no candidates, a new order, routed.
SELECT * FROM pg_temp.report('hotline', 'H-1', '0401', '您好，丙街道文华路3号门口的井盖不见了，晚上很危险，麻烦尽快处理',
                             117.05, 26.05, '去重区丙街道文华路3号', '13800000001');
SELECT * FROM pg_temp.explain('H-1');
-- A grid inspector reports it 15 m away: merged into H-1.
SELECT * FROM pg_temp.report('grid', 'G-1', 'B01', '巡查发现文华路3号门口井盖缺失，已设置警示', 117.0501, 26.0501, '文华路3号');
SELECT * FROM pg_temp.explain('G-1');
-- A camera's alert, without an address: the address does not count, merged.
SELECT * FROM pg_temp.report('camera', 'V-1', 'manhole', '检测到井盖缺失', 117.0502, 26.05);
SELECT * FROM pg_temp.explain('V-1');
-- The same citizen calls again (the phone written otherwise): the same reporter counts.
SELECT * FROM pg_temp.report('hotline', 'H-5', '0401', '我又打来了，文华路3号的井盖还没有人来弄',
                             117.0501, 26.0501, NULL, '+86 138-0000-0001');
SELECT * FROM pg_temp.explain('H-5');
-- Another cover across the road, 37 m away: suspected, new and not routed.
SELECT * FROM pg_temp.report('hotline', 'H-2', '0401', '文华路3号对面人行道的井盖破损下陷', 117.0503, 26.0502, '文华路3号对面');
SELECT * FROM pg_temp.explain('H-2');
-- A broken street lamp at the same door, another category of the family: however
-- high its score, suspected only.
SELECT * FROM pg_temp.report('hotline', 'H-3', '0402', '文华路3号门口的路灯不亮', 117.0501, 26.05, '文华路3号');
SELECT * FROM pg_temp.explain('H-3');
-- A cover 1 km away: no candidates, a new order.
SELECT * FROM pg_temp.report('hotline', 'H-4', '0401', '井盖缺失', 117.06, 26.05);
SELECT * FROM pg_temp.explain('H-4');
-- Another family at the same door is never a candidate.
SELECT * FROM pg_temp.report('hotline', 'C-1', '0301', '文华路3号门口井盖缺失', 117.05, 26.05, '文华路3号');
SELECT * FROM pg_temp.explain('C-1');

-- The master counts its reports; each merge logged on both orders.
SELECT channel_ref, status, report_count FROM workorder.orders WHERE channel_ref IN ('H-1', 'H-4') ORDER BY channel_ref;
SELECT * FROM pg_temp.events('H-1');
SELECT * FROM pg_temp.events('G-1');
SELECT * FROM pg_temp.events('H-2');
SELECT ref, master_ref, score FROM (
    SELECT (SELECT o.channel_ref FROM workorder.orders o WHERE o.id = s.order_id) AS ref,
           (SELECT o.channel_ref FROM workorder.orders o WHERE o.id = s.master_id) AS master_ref, s.score
      FROM workorder.suspected_duplicates s) x ORDER BY ref;

-- Review.  A decision must be confirm or reject, and a rejection names no master (WO712).
SELECT pg_temp.try(format('SELECT workorder.review_duplicate(%s, %L, %L)',
                          (SELECT id FROM workorder.orders WHERE channel_ref = 'H-2'), 'C-990901', 'maybe'));
SELECT pg_temp.try(format('SELECT workorder.review_duplicate(%s, %L, %L, %s)',
                          (SELECT id FROM workorder.orders WHERE channel_ref = 'H-2'), 'C-990901', 'reject',
                          (SELECT id FROM workorder.orders WHERE channel_ref = 'H-4')));
-- H-2 is confirmed (merged into H-1), H-3 rejected (stays new, for dispatch).
SELECT channel_ref, status, report_count FROM workorder.review_duplicate(
    (SELECT id FROM workorder.orders WHERE channel_ref = 'H-2'), 'C-990901', 'confirm', note => '同一井盖');
SELECT channel_ref, status, pg_temp.refs(status_reason) FROM workorder.review_duplicate(
    (SELECT id FROM workorder.orders WHERE channel_ref = 'H-3'), 'C-990901', 'reject', note => '是路灯，不是井盖');
SELECT * FROM pg_temp.events('H-2');
SELECT * FROM pg_temp.events('H-3');
SELECT count(*) AS still_suspected FROM workorder.suspected_duplicates;
SELECT * FROM pg_temp.explain('H-3');
-- A second review of H-3 is refused (WO711), and so is a review of an order that is
-- not new (WO401: merged, dispatched).
SELECT pg_temp.try(format('SELECT workorder.review_duplicate(%s, %L, %L)',
                          (SELECT id FROM workorder.orders WHERE channel_ref = 'H-3'), 'C-990901', 'confirm'));
SELECT pg_temp.try(format('SELECT workorder.review_duplicate(%s, %L, %L)',
                          (SELECT id FROM workorder.orders WHERE channel_ref = 'G-1'), 'C-990901', 'reject'));
SELECT pg_temp.try(format('SELECT workorder.review_duplicate(%s, %L, %L)',
                          (SELECT id FROM workorder.orders WHERE channel_ref = 'H-4'), 'C-990901', 'confirm'));

-- By hand: G-1 is unmerged (new again, H-1 counts one report fewer) and merged back.
SELECT channel_ref, status, master_id IS NULL AS no_master FROM workorder.unmerge(
    (SELECT id FROM workorder.orders WHERE channel_ref = 'G-1'), 'C-990901', '核实为另一处');
SELECT report_count FROM workorder.orders WHERE channel_ref = 'H-1';
-- New again, but dedup merged it rather than suspecting it: nothing to review (WO711).
SELECT pg_temp.try(format('SELECT workorder.review_duplicate(%s, %L, %L)',
                          (SELECT id FROM workorder.orders WHERE channel_ref = 'G-1'), 'C-990901', 'confirm'));
SELECT channel_ref, status FROM workorder.merge(
    (SELECT id FROM workorder.orders WHERE channel_ref = 'G-1'),
    (SELECT id FROM workorder.orders WHERE channel_ref = 'H-1'), 'C-990901', '复核：同一井盖');
SELECT * FROM pg_temp.events('G-1');
SELECT report_count FROM workorder.orders WHERE channel_ref = 'H-1';

-- The master is resolved: every merged report whose channel replies hears the
-- result, on its own reference (the camera's channel does not reply).
SELECT status FROM workorder.accept((SELECT id FROM workorder.orders WHERE channel_ref = 'H-1'), 'B-roads-990901001');
SELECT status FROM workorder.resolve((SELECT id FROM workorder.orders WHERE channel_ref = 'H-1'), 'B-roads-990901001', '已更换新井盖');
SELECT m.channel_code, m.channel_ref, m.kind, m.payload ->> 'status' AS status, m.payload ->> 'result' AS result,
       pg_temp.refs(m.payload ->> 'master_ticket') AS master
  FROM workorder.outbox m JOIN workorder.orders o ON o.id = m.order_id
 WHERE m.kind = 'resolve' AND o.channel_ref IN ('H-1', 'G-1', 'V-1', 'H-2', 'H-5')
 ORDER BY m.channel_ref;

-- A late report, after the master was resolved, within closed_window: with the
-- default late_policy link it is merged into the resolved master, which stays
-- resolved, and its reporter hears the result.
SELECT * FROM pg_temp.report('hotline', 'H-6', '0401', '文华路3号门口井盖缺失，有人管吗', 117.05, 26.0501, '文华路3号');
SELECT * FROM pg_temp.explain('H-6');
SELECT status, report_count FROM workorder.orders WHERE channel_ref = 'H-1';
SELECT m.kind, m.payload ->> 'status' AS status, m.payload ->> 'result' AS result, pg_temp.refs(m.payload ->> 'master_ticket') AS master
  FROM workorder.outbox m WHERE m.channel_ref = 'H-6' ORDER BY m.id;
-- With late_policy reopen, the next late report reopens the master, then merges.
INSERT INTO workorder.dedup_rules (category_code, late_policy) VALUES ('ROAD_MANHOLE', 'reopen');
SELECT * FROM pg_temp.report('hotline', 'H-7', '0401', '文华路3号的井盖又没了', 117.05, 26.0501, '文华路3号');
SELECT * FROM pg_temp.explain('H-7');
SELECT status, report_count, pg_temp.refs(status_reason) AS status_reason FROM workorder.orders WHERE channel_ref = 'H-1';
SELECT * FROM pg_temp.events('H-1') WHERE seq > 7;
-- The late report's channel hears of its merge, not of the reopen it caused (as
-- the report was already merged when the reopen was logged, that message would
-- have said the report had been resolved).
SELECT m.kind, m.payload ->> 'status' AS status, pg_temp.refs(m.payload ->> 'master_ticket') AS master
  FROM workorder.outbox m WHERE m.channel_ref = 'H-7' ORDER BY m.id;
-- Resolved again and closed.
SELECT status FROM workorder.accept((SELECT id FROM workorder.orders WHERE channel_ref = 'H-1'), 'B-roads-990901001');
SELECT status FROM workorder.resolve((SELECT id FROM workorder.orders WHERE channel_ref = 'H-1'), 'B-roads-990901001', '再次更换');
SELECT status FROM workorder.close((SELECT id FROM workorder.orders WHERE channel_ref = 'H-1'), 'C-990901');
-- Time, seen from a report that would come later (the candidates as intake would find
-- them): a day later H-1 is still a candidate; with closed_window 12 hours it is
-- not (resolved more than 12 hours before).
CREATE FUNCTION pg_temp.candidates_at(later interval) RETURNS TABLE (candidate text, status workorder.order_status)
LANGUAGE sql AS $$
    SELECT o.channel_ref, c.status
      FROM workorder.dedup_candidates(workorder.dedup_policy('ROAD_MANHOLE'), ST_SetSRID(ST_MakePoint(117.05, 26.0501), 4326),
                                      now() + later, '文华路3号门口井盖缺失', '文华路3号', NULL) c
      JOIN workorder.orders o ON o.id = c.order_id
     WHERE o.channel_ref = 'H-1'
$$;
SELECT * FROM pg_temp.candidates_at('1 day');
UPDATE workorder.dedup_rules SET closed_window = '12 hours' WHERE category_code = 'ROAD_MANHOLE';
SELECT * FROM pg_temp.candidates_at('1 day');
-- The window counts from the last resolve, not from the last event: a comment
-- logged 20 hours on does not bring H-1 back.
INSERT INTO workorder.order_events (order_id, seq, at, action, actor, old_status, new_status, note)
SELECT o.id, o.event_count + 1, now() + interval '20 hours', 'comment', 'C-990901', 'closed', 'closed', '回访记录'
  FROM workorder.orders o WHERE o.channel_ref = 'H-1';
SELECT * FROM pg_temp.candidates_at('1 day');
-- closed_window counts from the resolution, not from the receipt: with 30 days, H-1
-- is a candidate 20 days later, past its 3-day window, and no longer 31 days later.
UPDATE workorder.dedup_rules SET closed_window = '30 days' WHERE category_code = 'ROAD_MANHOLE';
SELECT * FROM pg_temp.candidates_at('20 days');
SELECT * FROM pg_temp.candidates_at('31 days');
-- An order still open takes reports past the window, for dedup_open_window (30 days)
-- after its receipt: a call about the cover 1 km away 20 days on finds H-4, still
-- dispatched, with a time score of 0, and is merged into it on its place and words;
-- 31 days on it does not (an order left open for good would take every report at its
-- place, and every search there would read it).  A report older than an order by
-- more than the window (one that waited 4 days in the inbox) does not find it.
-- With dedup_open_window 0 the window bounds open orders too, as until 0.5.
CREATE FUNCTION pg_temp.decide_at(later interval)
RETURNS TABLE (decision text, master text, candidate text, time_gap interval, time_score numeric, score numeric)
LANGUAGE sql AS $$
    SELECT d.decision, (SELECT m.channel_ref FROM workorder.orders m WHERE m.id = d.master_id), o.channel_ref,
           c.time_gap, round(c.time_score::numeric, 3), round(c.score::numeric, 3)
      FROM workorder.dedup_decide('ROAD_MANHOLE', ST_SetSRID(ST_MakePoint(117.06, 26.0501), 4326), now() + later,
                                  '井盖缺失了没人管', NULL, NULL) d
      LEFT JOIN LATERAL unnest(d.candidates) c ON true
      LEFT JOIN workorder.orders o ON o.id = c.order_id
$$;
SELECT status FROM workorder.orders WHERE channel_ref = 'H-4';
SELECT * FROM pg_temp.decide_at('20 days');
SELECT * FROM pg_temp.decide_at('31 days');
SELECT * FROM pg_temp.decide_at('-4 days');
INSERT INTO workorder.settings VALUES ('dedup_open_window', '0', 'test: the window only');
SELECT * FROM pg_temp.decide_at('20 days');
SELECT * FROM pg_temp.decide_at('2 days');
DELETE FROM workorder.settings WHERE name = 'dedup_open_window';

-- A merge hides no report: every one counts for its channel.
SELECT channel_code, reports, merged, masters, resolved FROM workorder.channel_reports
 WHERE channel_code IN ('hotline', 'grid', 'camera') ORDER BY channel_code;

-- With dedup_enabled off every report is an order of its own.
INSERT INTO workorder.settings VALUES ('dedup_enabled', 'off', 'test');
SELECT * FROM pg_temp.report('hotline', 'H-9', '0401', '文华路3号门口井盖缺失', 117.05, 26.0501, '文华路3号');
-- explain_dedup says dedup is off, not that nothing was near (H-1 is).
SELECT rank, decision, reason FROM workorder.explain_dedup((SELECT id FROM workorder.orders WHERE channel_ref = 'H-9'));
ROLLBACK;
