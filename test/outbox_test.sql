-- The outbox: exactly one message per relevant event and report, none for a
-- rolled-back action or a channel without replies; claims never overlap; the
-- backoff grows and caps; dead after the maximum attempts; expired leases come
-- back; every bad input raises its SQLSTATE and writes nothing.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(118);
\o /dev/null
\i test/fixtures/intake_map.sql
SELECT workorder.load_channels('[{"code": "mailbox", "name": "区长信箱", "kind": "mailbox"}]');
\o

CREATE FUNCTION pg_temp.id_of(ref text) RETURNS bigint LANGUAGE sql AS $$
    SELECT o.id FROM workorder.orders o WHERE o.channel_ref = ref
$$;

-- A random lifecycle for 60 reports on three channels (camera has no replies), with
-- some merged into the first hotline report, which is then resolved, fails its
-- verification, is resolved again and closed.
DO $$
DECLARE
    ch text;
    oid_ bigint;
    master bigint;
BEGIN
    PERFORM setseed(0.42);
    FOR i IN 1..60 LOOP
        ch := (ARRAY['hotline', 'mailbox', 'camera'])[1 + i % 3];
        oid_ := (workorder.submit(ch, 'P-' || i, CASE ch WHEN 'camera' THEN 'vendor' ELSE '0301' END, '摊贩 ' || i,
                                lon => 121.0001 + i * 0.0001, lat => 31.0002)).id;
        IF i = 3 THEN
            master := oid_;
            CONTINUE;
        END IF;
        IF i % 5 = 0 THEN
            PERFORM workorder.merge(oid_, master, 'C-990401');
            CONTINUE;
        END IF;
        IF (SELECT o.status FROM workorder.orders o WHERE o.id = oid_) = 'new' THEN
            PERFORM workorder.dispatch(oid_, 'C-990401', 'C-990401001');
        END IF;
        PERFORM workorder.accept(oid_, 'x');
        IF random() < 0.3 THEN
            PERFORM workorder.return_order(oid_, 'x', '不归我管');
            CONTINUE;
        END IF;
        PERFORM workorder.suspend(oid_, 'x', '等待');
        PERFORM workorder.resume(oid_, 'x');
        PERFORM workorder.resolve(oid_, 'x', '已处理');
        IF random() < 0.3 THEN
            PERFORM workorder.verify(oid_, 'C-990401', false, '没有处理好');
        ELSE
            PERFORM workorder.close(oid_, 'C-990401');
        END IF;
    END LOOP;
    PERFORM workorder.accept(master, 'x');
    PERFORM workorder.resolve(master, 'x', '主单已处理');
    PERFORM workorder.verify(master, 'C-990401', false, '主单没有处理好');
    PERFORM workorder.resolve(master, 'x', '主单已处理');
    PERFORM workorder.close(master, 'C-990401');
END
$$;

-- expected_messages: one per relevant event of a replying report, and one per
-- resolve/close/reopen/cancel/failed verify of a master for each replying report
-- merged into it.
CREATE TEMP VIEW expected_messages AS
SELECT e.id AS event_id, o.id AS order_id
  FROM workorder.order_events e JOIN workorder.orders o ON o.id = e.order_id
  JOIN workorder.channels c ON c.code = o.channel_code AND c.replies
 WHERE e.action IN ('dispatch', 'reassign', 'accept', 'return', 'resolve', 'close', 'reopen', 'cancel', 'merge', 'unmerge')
    OR (e.action = 'verify' AND e.new_status <> e.old_status)
UNION ALL
SELECT e.id, d.id
  FROM workorder.order_events e JOIN workorder.orders d ON d.master_id = e.order_id
  JOIN workorder.channels c ON c.code = d.channel_code AND c.replies
 WHERE e.action IN ('resolve', 'close', 'reopen', 'cancel')
    OR (e.action = 'verify' AND e.new_status <> e.old_status);

SELECT set_eq('SELECT event_id, order_id FROM workorder.outbox', 'SELECT * FROM expected_messages',
              'exactly one message per relevant event and report');
SELECT ok((SELECT count(*) FROM workorder.outbox) > 100, 'the lifecycle made many messages');
SELECT is((SELECT count(*) FROM workorder.outbox WHERE channel_code = 'camera'), 0::bigint,
          'a channel without replies gets no message');
SELECT is((SELECT count(*) FROM workorder.outbox m JOIN workorder.orders o ON o.id = m.order_id
            WHERE m.channel_code <> o.channel_code OR m.channel_ref <> o.channel_ref
               OR m.payload ->> 'ticket' <> o.ticket::text), 0::bigint,
          'every message is addressed to its report''s channel, reference and ticket');
SELECT is((SELECT count(*) FROM workorder.outbox m JOIN workorder.orders o ON o.id = m.order_id
            WHERE o.master_id IS NOT NULL AND m.kind IN ('resolve', 'close')
              AND m.payload ->> 'result' = '主单已处理'),
          (SELECT 3 * count(*) FROM workorder.orders o JOIN workorder.channels c ON c.code = o.channel_code
            WHERE o.master_id IS NOT NULL AND c.replies),
          'each replying merged report hears its master''s resolves and close, with the result');
SELECT is((SELECT count(*) FROM workorder.outbox m JOIN workorder.orders o ON o.id = m.order_id
            WHERE o.master_id IS NOT NULL AND m.kind = 'verify' AND m.payload ->> 'status' = 'accepted'
              AND m.payload ->> 'reason' = '主单没有处理好' AND m.payload ->> 'master_ticket' IS NOT NULL),
          (SELECT count(*) FROM workorder.orders o JOIN workorder.channels c ON c.code = o.channel_code
            WHERE o.master_id IS NOT NULL AND c.replies),
          '... and its failed verification, with the reason (the result it was sent is withdrawn)');
SELECT is((SELECT count(*) FROM workorder.outbox WHERE state <> 'pending' OR attempts <> 0), 0::bigint,
          'new messages are pending, never attempted');

-- A report merged into a master whose resolve failed verification is not told the
-- rejected result (the order keeps it, but it is being redone); one merged after the
-- master is resolved again hears the new result.  (In a savepoint: the counts
-- below are of the lifecycle above.)
SAVEPOINT redo;
SELECT o.id AS redone FROM workorder.orders o JOIN workorder.order_events e ON e.order_id = o.id
 WHERE e.action = 'verify' AND e.new_status = 'accepted' AND o.status = 'accepted' AND o.result IS NOT NULL
 ORDER BY o.id LIMIT 1 \gset
SELECT workorder.merge((workorder.submit('hotline', 'P-redo-1', '0301', '摊贩又来了', lon => 121.0001, lat => 31.0002)).id,
                       :redone, 'C-990401') IS NOT NULL AS merged \gset
SELECT is((SELECT m.payload ->> 'result' FROM workorder.outbox m WHERE m.order_id = pg_temp.id_of('P-redo-1') AND m.kind = 'merge'),
          NULL, 'a report merged into a master back in work after a failed verification is not sent the rejected result');
SELECT workorder.resolve(:redone, 'x', '重新处理完毕') IS NOT NULL AS resolved \gset
SELECT workorder.merge((workorder.submit('hotline', 'P-redo-2', '0301', '摊贩还在吗', lon => 121.0001, lat => 31.0002)).id,
                       :redone, 'C-990401') IS NOT NULL AS merged \gset
SELECT is((SELECT m.payload ->> 'result' FROM workorder.outbox m WHERE m.order_id = pg_temp.id_of('P-redo-2') AND m.kind = 'merge'),
          '重新处理完毕', '... one merged after it is resolved again hears the new result');
ROLLBACK TO SAVEPOINT redo;

-- A merged report's citizen hears the master's result and reasons masked as Open311
-- shows them: they are written about the master, and quoted its caller's phone
-- number to every other citizen who reported the event.  The master's own caller
-- hears them as written.
SAVEPOINT masked;
SELECT (workorder.submit('hotline', 'P-mask-M', '0301', '文华路口有人占道经营卖水果', lon => 121.05, lat => 31.15)).id AS mask_master \gset
SELECT (workorder.submit('hotline', 'P-mask-R', '0301', '北门桥下卖菜', lon => 121.15, lat => 31.05)).id AS mask_report \gset
\o /dev/null
SELECT workorder.merge(:mask_report, :mask_master, 'C-990401');
SELECT workorder.accept(:mask_master, 'x');
SELECT workorder.resolve(:mask_master, 'x', '已清理摊位，已电话回复来电人陈女士13812345678');
SELECT workorder.reopen(:mask_master, 'C-990401', '陈女士来电13812345678称仍有摊贩');
\o
SELECT is((SELECT string_agg(m.payload ->> 'result', ' | ' ORDER BY m.order_id) FROM workorder.outbox m
            WHERE m.order_id IN (:mask_master, :mask_report) AND m.kind = 'resolve'),
          '已清理摊位，已电话回复来电人陈女士13812345678 | 已清理摊位，已电话回复来电人陈女士138****5678',
          'the master''s caller hears the result as written, a merged report''s citizen masked');
SELECT is((SELECT m.payload ->> 'reason' FROM workorder.outbox m WHERE m.order_id = :mask_report AND m.kind = 'reopen'),
          '陈女士来电138****5678称仍有摊贩', '... and a reopen''s reason masked too');
SELECT workorder.resolve((workorder.accept(:mask_master, 'x')).id, 'x', '再次清理，电话13812345678') IS NOT NULL AS resolved_again \gset
SELECT (workorder.submit('hotline', 'P-mask-L', '0301', '西门卖水果', lon => 121.0, lat => 31.0)).id AS mask_late \gset
SELECT workorder.merge(:mask_late, :mask_master, 'C-990401') IS NOT NULL AS merged_late \gset
SELECT is((SELECT m.payload ->> 'result' FROM workorder.outbox m WHERE m.order_id = :mask_late AND m.kind = 'merge'),
          '再次清理，电话138****5678', '... and a report merged into the resolved master hears its result masked');
ROLLBACK TO SAVEPOINT masked;

-- Never for a rolled-back action.
SAVEPOINT s;
SELECT workorder.reopen(pg_temp.id_of('P-3'), 'C-990401', '复发') IS NOT NULL AS reopened \gset
ROLLBACK TO SAVEPOINT s;
SELECT set_eq('SELECT event_id, order_id FROM workorder.outbox', 'SELECT * FROM expected_messages',
              'a rolled-back action leaves no message');
SELECT is((SELECT count(*) FROM workorder.outbox WHERE kind = 'reopen'), 0::bigint, '... no reopen message');

-- Claims: sequential claims by two claimers, with leases, never overlap, and cover
-- the first message of every report of the channel, in id order; a report's later
-- messages wait for its first.
CREATE TEMP TABLE claims AS
SELECT 'a'::text AS who, c.id FROM workorder.claim_outbox('hotline', 7, '10 minutes', 'a') c;
INSERT INTO claims SELECT 'b', c.id FROM workorder.claim_outbox('hotline', 7, '10 minutes', 'b') c;
INSERT INTO claims SELECT 'a', c.id FROM workorder.claim_outbox('hotline', 10000, '10 minutes', 'a') c;
SELECT is((SELECT count(DISTINCT id) FROM claims), (SELECT count(*) FROM claims), 'no message is claimed twice');
SELECT set_eq('SELECT id FROM claims', $$SELECT min(id) FROM workorder.outbox WHERE channel_code = 'hotline' GROUP BY order_id$$,
              'the claims cover the first message of every report of the channel, and no other');
SELECT ok((SELECT max(id) FROM claims WHERE who = 'a' AND id < (SELECT min(id) FROM claims WHERE who = 'b'))
          < (SELECT min(id) FROM claims WHERE who = 'b'), 'claims take messages in id order');
SELECT is((SELECT count(*) FROM workorder.claim_outbox('hotline', 10000, '10 minutes', 'c')), 0::bigint,
          'a claim while the leases hold gets nothing');
SELECT is((SELECT count(*) FROM workorder.outbox WHERE channel_code = 'mailbox' AND state <> 'pending'), 0::bigint,
          'a claim takes only its own channel''s messages');

-- Backoff: 30 s, 1 min, 2 min, ... capped at outbox_backoff_max; dead after
-- outbox_max_attempts claims.
INSERT INTO workorder.settings VALUES ('outbox_backoff_max', '5 minutes', 'test'), ('outbox_max_attempts', '6', 'test');
CREATE TEMP TABLE backoffs (attempts integer, state text, wait interval);
DO $$
DECLARE
    target bigint := (SELECT min(id) FROM claims WHERE who = 'b');
    m workorder.outbox;
    failed_at timestamptz := clock_timestamp();
BEGIN
    -- Counted from the moment of the failure: whole seconds from just before it.
    m := workorder.fail_outbox(target, 'timeout', 'b');
    INSERT INTO backoffs VALUES (m.attempts, m.state, date_trunc('second', m.next_attempt_at - failed_at));
    FOR i IN 2..8 LOOP
        UPDATE workorder.outbox x SET next_attempt_at = now() WHERE x.id = target AND x.state = 'pending';
        PERFORM 1 FROM workorder.claim_outbox('hotline', 10000, '10 minutes', 'b') c WHERE c.id = target;
        EXIT WHEN NOT FOUND;
        failed_at := clock_timestamp();
        m := workorder.fail_outbox(target, 'timeout ' || i, 'b');
        INSERT INTO backoffs VALUES (m.attempts, m.state,
                                     CASE WHEN m.state = 'pending' THEN date_trunc('second', m.next_attempt_at - failed_at) END);
    END LOOP;
END
$$;
SELECT results_eq('SELECT attempts, state, wait FROM backoffs ORDER BY attempts',
    $$VALUES (1, 'pending', '30 seconds'::interval), (2, 'pending', '1 minute'), (3, 'pending', '2 minutes'),
             (4, 'pending', '4 minutes'), (5, 'pending', '5 minutes'), (6, 'dead', NULL)$$,
    'the backoff doubles up to its cap, and the message is dead after the maximum attempts');
SELECT is((SELECT last_error FROM workorder.outbox WHERE state = 'dead'), 'timeout 6', 'a dead message keeps its last error');
SELECT is((SELECT count(*) FROM workorder.claim_outbox('hotline', 10000, '10 minutes', 'b') c WHERE c.state = 'dead'),
          0::bigint, 'a dead message is never claimed');

-- A long base and many attempts: the doublings stop at the cap, before an interval
-- would overflow (3 hours doubled 30 times did: 22008).
UPDATE workorder.settings SET value = '1 day' WHERE name = 'outbox_backoff_max';
INSERT INTO workorder.settings VALUES ('outbox_backoff_base', '3 hours', 'test');
SELECT is(workorder.outbox_backoff(31), '1 day'::interval, 'a base of 3 hours after 30 failures waits the cap, 1 day');
SELECT is(workorder.outbox_backoff(2), '6 hours'::interval, '... and after one failure, twice the base');
DELETE FROM workorder.settings WHERE name = 'outbox_backoff_base';
UPDATE workorder.settings SET value = '5 minutes' WHERE name = 'outbox_backoff_max';

-- A channel's code renamed: its messages follow it, as its orders do.
UPDATE workorder.channels SET code = 'mailbox_renamed' WHERE code = 'mailbox';
SELECT is((SELECT count(*) FROM workorder.outbox WHERE channel_code = 'mailbox'), 0::bigint,
          'no message is left under a renamed channel''s old code');
SELECT cmp_ok((SELECT count(*) FROM workorder.claim_outbox('mailbox_renamed', 10000, '1 minute', 'r')), '>', 0::bigint,
              'a claim under the new code takes its messages');
UPDATE workorder.channels SET code = 'mailbox' WHERE code = 'mailbox_renamed';
UPDATE workorder.outbox SET state = 'pending', attempts = attempts - 1, claimed_by = NULL, claimed_until = NULL,
       next_attempt_at = now()
 WHERE claimed_by = 'r';

-- Expired leases: the task gives them back, and a claim takes them again.
UPDATE workorder.outbox SET claimed_until = now() - interval '1 second', next_attempt_at = now() - interval '1 second'
 WHERE id IN (SELECT id FROM claims WHERE who = 'a');
SELECT is((SELECT rows FROM workorder.run_task('outbox_expire')), (SELECT count(*)::integer FROM claims WHERE who = 'a'),
          'outbox_expire gives back every expired claim');
SELECT is((SELECT count(*) FROM workorder.outbox WHERE id IN (SELECT id FROM claims WHERE who = 'a') AND state = 'pending'),
          (SELECT count(*) FROM claims WHERE who = 'a'), '... as pending');
SELECT set_eq($$SELECT c.id FROM workorder.claim_outbox('hotline', 10000, '10 minutes', 'c') c$$,
              $$SELECT id FROM claims WHERE who = 'a'$$, 'expired claims are claimable again');
-- Expired without the task: a claim takes them directly.
UPDATE workorder.outbox SET claimed_until = now() - interval '1 second', next_attempt_at = now() - interval '1 second'
 WHERE claimed_by = 'c';
SELECT is((SELECT count(*) FROM workorder.claim_outbox('hotline', 10000, '10 minutes', 'd')),
          (SELECT count(*) FROM claims WHERE who = 'a'), 'an expired lease is claimable before the task runs');
-- Expired after its last attempt, and no task to run (no worker, no pg_cron job):
-- the next claim of its channel makes it dead, instead of leaving it claimed.
SELECT min(id) AS last_try FROM workorder.outbox WHERE claimed_by = 'd' \gset
UPDATE workorder.outbox SET attempts = 6, claimed_until = now() - interval '1 second', next_attempt_at = now() - interval '1 second'
 WHERE id = :last_try;
SELECT is((SELECT count(*) FROM workorder.claim_outbox('hotline', 10000, '10 minutes', 'e') c WHERE c.id = :last_try), 0::bigint,
          'a message whose lease ran out after its last attempt is not claimed again');
SELECT is((SELECT state || ': ' || last_error FROM workorder.outbox WHERE id = :last_try), 'dead: lease of d expired after 6 attempts',
          '... the claim of its channel made it dead, with why, as outbox_expire would have');

-- Bad input: its SQLSTATE, and nothing written.
CREATE FUNCTION pg_temp.refused(call text, sqlstate text, description text)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    before text := (SELECT md5(string_agg(x::text, ',' ORDER BY x.id)) FROM workorder.outbox x);
BEGIN
    RETURN NEXT throws_ok(call, sqlstate, NULL, description);
    RETURN NEXT is((SELECT md5(string_agg(x::text, ',' ORDER BY x.id)) FROM workorder.outbox x), before,
                   description || ': nothing written');
END
$$;
SELECT * FROM pg_temp.refused($$SELECT workorder.claim_outbox('fax')$$, 'WO603', 'an unknown channel');
SELECT * FROM pg_temp.refused($$SELECT workorder.claim_outbox('hotline', 0)$$, 'WO603', 'max_messages 0');
SELECT * FROM pg_temp.refused($$SELECT workorder.claim_outbox('hotline', 10001)$$, 'WO603', 'max_messages 10001');
SELECT * FROM pg_temp.refused($$SELECT workorder.claim_outbox('hotline', 10, NULL)$$, 'WO603', 'a NULL lease');
-- A lease holds what it says from now: months are calendar months there, not the
-- 30 days an interval comparison takes ('-1 mon 31 days' compared as 1 day and was
-- 0 seconds on 2026-11-27, 3 days in March: a message claimed again at once, or held
-- for days).  Each lease is refused, or its claim holds 1 second to 1 day.
CREATE FUNCTION pg_temp.lease_refused_or_sound(lease interval) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    sound boolean;
BEGIN
    BEGIN
        PERFORM workorder.claim_outbox('hotline', 1, lease, 'lease-check');
        sound := (now() + lease) - now() BETWEEN interval '1 second' AND interval '1 day';
        RAISE SQLSTATE 'P0001';     -- undo the claim
    EXCEPTION
        WHEN SQLSTATE 'WO603' THEN RETURN true;
        WHEN SQLSTATE 'P0001' THEN RETURN sound;
    END;
END
$$;
SELECT is((SELECT array_agg(l) FROM unnest(ARRAY['-1 mon 31 days', '-1 mon 30 days 00:00:10', '1 mon -29 days',
                                                 '1 mon -30 days 00:00:01', '-1 mon 32 days', '1 mon -31 days 12:00',
                                                 '1 day -23:59:59', '-1 day 24:00:01', '23:59:59']::interval[]) l
            WHERE NOT pg_temp.lease_refused_or_sound(l)), NULL,
          'a lease with months, or with a part below zero, is refused unless it holds 1 second to 1 day from now');
SELECT * FROM pg_temp.refused($$SELECT workorder.claim_outbox('hotline', 10, '1 minute', E'a\x01')$$, 'WO603',
                              'a claimer with a control character');
SELECT * FROM pg_temp.refused($$SELECT workorder.claim_outbox('hotline', 10, '178000000 years')$$, 'WO603',
                              'a lease of 178 million years (a timestamp out of range from now, 22008, to the fuzzer)');
SELECT * FROM pg_temp.refused($$SELECT workorder.ack_outbox(NULL)$$, 'WO603', 'a NULL message id');
SELECT * FROM pg_temp.refused($$SELECT workorder.ack_outbox(-1)$$, 'WO601', 'an unknown message');
SELECT * FROM pg_temp.refused($$SELECT workorder.fail_outbox((SELECT min(id) FROM workorder.outbox WHERE claimed_by = 'd'), repeat('e', 2001), 'd')$$,
                              'WO603', 'an oversized error');
SELECT * FROM pg_temp.refused($$SELECT workorder.ack_outbox((SELECT min(id) FROM workorder.outbox WHERE claimed_by = 'd' AND state = 'claimed'), 'other')$$,
                              'WO602', 'an ack by another claimer');
SELECT * FROM pg_temp.refused($$SELECT workorder.ack_outbox((SELECT min(id) FROM workorder.outbox WHERE state = 'pending'))$$,
                              'WO602', 'an ack of a message not claimed');
SELECT * FROM pg_temp.refused($$SELECT workorder.fail_outbox((SELECT min(id) FROM workorder.outbox WHERE state = 'dead'), 'x')$$,
                              'WO602', 'a fail of a dead message');
SELECT * FROM pg_temp.refused($$SELECT workorder.fail_outbox((SELECT min(id) FROM workorder.outbox WHERE claimed_by = 'd' AND state = 'claimed'), E'\n\t', 'd')$$,
                              'WO603', 'an error of a line break and a tab (blank, as submit() has it)');
-- A message claimed by name is settled by its claimer only: an anonymous call gave
-- back another connector's message while it delivered it (sent twice), or
-- acknowledged it while it failed (never sent).
SELECT * FROM pg_temp.refused($$SELECT workorder.fail_outbox((SELECT min(id) FROM workorder.outbox WHERE claimed_by = 'd' AND state = 'claimed'), 'x')$$,
                              'WO602', 'an anonymous fail of a message claimed by name');
SELECT * FROM pg_temp.refused($$SELECT workorder.ack_outbox((SELECT min(id) FROM workorder.outbox WHERE claimed_by = 'd' AND state = 'claimed'))$$,
                              'WO602', 'an anonymous ack of a message claimed by name');
SELECT min(id) AS held_by_d FROM workorder.outbox WHERE claimed_by = 'd' AND state = 'claimed' \gset
SELECT throws_ok(format('SELECT workorder.ack_outbox(%s)', :held_by_d), 'WO602',
                 format('outbox message %s is not claimed by an anonymous claimer: ack is not allowed', :held_by_d),
                 '... and the message says who the caller is not');

-- Ack is idempotent.
SELECT min(id) AS acked_twice FROM workorder.outbox WHERE claimed_by = 'd' AND state = 'claimed' \gset
SELECT is((workorder.ack_outbox(:acked_twice, 'd')).state, 'delivered', 'an ack makes a claimed message delivered');
SELECT results_eq(format('SELECT (m).state, (m).delivered_at FROM workorder.ack_outbox(%s, %L) m', :acked_twice, 'd'),
                  format('SELECT state, delivered_at FROM workorder.outbox WHERE id = %s', :acked_twice),
                  '... and acking it again is a no-op: still delivered, at the first ack''s time');

-- A report's messages go out in order.  Three reports on a channel of their own,
-- each with three messages (dispatch, accept, resolve).
-- three_reports files three reports on a new channel of replies, prefix || 1..3,
-- each dispatched and accepted, and resolved when asked.
CREATE FUNCTION pg_temp.three_reports(channel text, prefix text, lat float8, resolved boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    oid_ bigint;
BEGIN
    PERFORM workorder.load_channels(pg_catalog.format('[{"code": %s, "name": %s, "kind": "platform",
                                              "categories": [{"code": "0301", "category": "CITY_VENDOR"}]}]',
                                           to_jsonb(channel), to_jsonb(channel || ' 测试'))::jsonb);
    FOR i IN 1..3 LOOP
        oid_ := (workorder.submit(channel, prefix || i, '0301', '第' || i || '个路口占道经营',
                                  lon => 121.01 + i * 0.02, lat => lat)).id;
        IF (SELECT o.status FROM workorder.orders o WHERE o.id = oid_) = 'new' THEN
            PERFORM workorder.dispatch(oid_, 'C-990401', 'C-990401001');
        END IF;
        PERFORM workorder.accept(oid_, 'x');
        IF resolved THEN
            PERFORM workorder.resolve(oid_, 'x', '已劝离');
        END IF;
    END LOOP;
END
$$;
SELECT pg_temp.three_reports('app', 'Q-', 31.15, true) IS NOT NULL AS made \gset
CREATE TEMP VIEW app_messages AS
SELECT m.id, o.channel_ref AS ref, m.kind, row_number() OVER (PARTITION BY m.order_id ORDER BY m.id) AS nth
  FROM workorder.outbox m JOIN workorder.orders o ON o.id = m.order_id
 WHERE m.channel_code = 'app';
SELECT id AS q1_dispatch FROM app_messages WHERE ref = 'Q-1' AND nth = 1 \gset
SELECT id AS q1_accept FROM app_messages WHERE ref = 'Q-1' AND nth = 2 \gset
SELECT id AS q2_dispatch FROM app_messages WHERE ref = 'Q-2' AND nth = 1 \gset
SELECT id AS q3_resolve FROM app_messages WHERE ref = 'Q-3' AND nth = 3 \gset
SELECT results_eq($$SELECT a.ref, a.kind FROM workorder.claim_outbox('app', 100, '10 minutes', 'p') c
                     JOIN app_messages a ON a.id = c.id ORDER BY c.id$$,
                  $$VALUES ('Q-1', 'dispatch'), ('Q-2', 'dispatch'), ('Q-3', 'dispatch')$$,
                  'a claim takes the first message of each report, not the ones behind it');
SELECT is((workorder.fail_outbox(:q1_dispatch, 'HTTP 503', 'p')).state, 'pending', 'Q-1''s first message fails');
SELECT is((SELECT count(*) FROM (SELECT workorder.ack_outbox(a.id, 'p') FROM app_messages a
                                  WHERE a.nth = 1 AND a.ref <> 'Q-1') x), 2::bigint, '... the other two are delivered');
SELECT results_eq($$SELECT a.ref, a.kind FROM workorder.claim_outbox('app', 100, '10 minutes', 'p') c
                     JOIN app_messages a ON a.id = c.id ORDER BY c.id$$,
                  $$VALUES ('Q-2', 'accept'), ('Q-3', 'accept')$$,
                  'Q-1''s later messages wait behind its failed one, the other reports'' go on');
UPDATE workorder.outbox SET next_attempt_at = now() WHERE id = :q1_dispatch;
SELECT results_eq($$SELECT c.id FROM workorder.claim_outbox('app', 100, '10 minutes', 'p') c$$,
                  ARRAY[:q1_dispatch::bigint], 'when it is due again, the failed message is claimed, and still nothing behind it');
SELECT is((workorder.ack_outbox(:q1_dispatch, 'p')).state, 'delivered', '... and delivered');
SELECT results_eq($$SELECT c.id FROM workorder.claim_outbox('app', 100, '10 minutes', 'p') c$$,
                  ARRAY[:q1_accept::bigint], '... then the next message of Q-1 comes out');
UPDATE workorder.outbox SET state = 'dead', claimed_until = NULL, last_error = 'test', settled_at = now() WHERE id = :q1_accept;
SELECT results_eq($$SELECT a.ref, a.kind FROM workorder.claim_outbox('app', 100, '10 minutes', 'p') c
                     JOIN app_messages a ON a.id = c.id ORDER BY c.id$$,
                  $$VALUES ('Q-1', 'resolve')$$,
                  'a dead message holds up nothing behind it (Q-2''s and Q-3''s accepts are still claimed)');

-- An ack that comes after the lease ran out: taken while nobody claimed the message
-- since, also once outbox_expire gave it back, or made it dead after its last attempt.
SELECT id AS q2_accept FROM app_messages WHERE ref = 'Q-2' AND nth = 2 \gset
SELECT id AS q3_accept FROM app_messages WHERE ref = 'Q-3' AND nth = 2 \gset
UPDATE workorder.outbox SET claimed_until = now() - interval '1 second', next_attempt_at = now() - interval '1 second'
 WHERE id IN (:q2_accept, :q3_accept);
UPDATE workorder.outbox SET attempts = 6 WHERE id = :q3_accept;
SELECT is((SELECT rows FROM workorder.run_task('outbox_expire')), 2, 'outbox_expire gives back two expired claims');
SELECT results_eq(format('SELECT state, claimed_by, lease_expired_at IS NOT NULL FROM workorder.outbox
                            WHERE id IN (%s, %s) ORDER BY id', :q2_accept, :q3_accept),
                  $$VALUES ('pending', 'p', true), ('dead', 'p', true)$$,
                  '... one pending, one dead after its last attempt, each still naming its last claimer');
SELECT * FROM pg_temp.refused($$SELECT workorder.ack_outbox($$ || :q2_accept || $$, 'another')$$,
                              'WO602', 'a late ack by another claimer');
SELECT * FROM pg_temp.refused($$SELECT workorder.ack_outbox($$ || :q2_accept || $$)$$,
                              'WO602', 'a late ack without a claimer, after a named claim');
SELECT * FROM pg_temp.refused($$SELECT workorder.fail_outbox($$ || :q2_accept || $$, 'timeout', 'p')$$,
                              'WO602', 'a late fail (the message was given back already)');
SELECT results_eq($$SELECT (m).state, (m).lease_expired_at IS NOT NULL FROM workorder.ack_outbox($$ || :q2_accept || $$, 'p') m$$,
                  $$VALUES ('delivered', true)$$, 'a late ack by its last claimer of a message given back: delivered');
SELECT is((workorder.ack_outbox(:q3_accept, 'p')).state, 'delivered',
          'a late ack of a message that died of its expired lease: delivered after all');
SELECT results_eq($$SELECT a.ref, a.kind FROM workorder.claim_outbox('app', 100, '10 minutes', 'p') c
                     JOIN app_messages a ON a.id = c.id ORDER BY c.id$$,
                  $$VALUES ('Q-2', 'resolve'), ('Q-3', 'resolve')$$,
                  '... neither is claimed again; the messages behind them come out');
-- Claimed again by another connector: the first one's late ack is refused.
UPDATE workorder.outbox SET claimed_until = now() - interval '1 second', next_attempt_at = now() - interval '1 second'
 WHERE id = :q3_resolve;
SELECT is((SELECT rows FROM workorder.run_task('outbox_expire')), 1, 'Q-3''s last message expires');
SELECT results_eq($$SELECT c.id FROM workorder.claim_outbox('app', 100, '10 minutes', 'r') c$$,
                  ARRAY[:q3_resolve::bigint], '... and another connector claims it');
SELECT * FROM pg_temp.refused($$SELECT workorder.ack_outbox($$ || :q3_resolve || $$, 'p')$$,
                              'WO602', 'a late ack after another connector claimed the message');
-- Failed by its connector: an ack afterwards is refused (the connector gave it back),
-- and the hint says so (it said the lease ran out).
SELECT is((workorder.fail_outbox(:q3_resolve, 'HTTP 500', 'r')).lease_expired_at, NULL, 'a fail clears lease_expired_at');
SELECT * FROM pg_temp.refused($$SELECT workorder.ack_outbox($$ || :q3_resolve || $$, 'r')$$,
                              'WO602', 'an ack after the connector failed the message');
CREATE FUNCTION pg_temp.hint_of(call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    hint text;
BEGIN
    EXECUTE call;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RETURN hint;
END
$$;
SELECT is(pg_temp.hint_of(format('SELECT workorder.ack_outbox(%s, %L)', :q3_resolve, 'r')),
          'It was given back with fail_outbox(): claim it again with claim_outbox().',
          '... and its hint says it was given back with fail_outbox() (it said the lease ran out)');

-- A lease runs from the claim, not from the start of the connector's transaction:
-- claimed in a transaction older than the lease, a message came back with its lease
-- over, and the next claim, another connector's, sent it again.
SELECT workorder.submit('hotline', 'LEASE-1', '0301', '租约测试', lon => 121.05, lat => 31.15) IS NOT NULL AS submitted \gset
-- (Late in the statement too, as in a procedure that loops: the statement's start
-- is no better than the transaction's.)
SELECT pg_sleep(1.1);
SELECT is((SELECT count(*)::integer FROM (SELECT pg_sleep(1.1), 1 AS one) s
             CROSS JOIN LATERAL (SELECT x.* FROM workorder.claim_outbox('hotline', 10000, '2 seconds', 'late') x
                                  WHERE s.one = 1) c
            WHERE c.claimed_until < clock_timestamp() + interval '1 second'), 0,
          'a claim made late in a transaction and in its statement gets the whole lease, from the claim');
SELECT is((SELECT count(*)::integer FROM workorder.claim_outbox('hotline', 10000, '1 minute', 'next')), 0,
          '... so the next claim, at once, does not take its messages');

-- A pending message that has had outbox_max_attempts attempts (the setting was
-- lowered after it failed) is not claimed again: the claim makes it dead, keeping
-- its last error.
-- Another, whose lease ran out and which outbox_expire gave back, stays its last
-- claimer's to acknowledge late once it is dead so.
SELECT min(id) AS worn, max(id) AS slow FROM workorder.outbox WHERE claimed_by = 'late' AND state = 'claimed' \gset
SELECT state FROM workorder.fail_outbox(:worn, 'HTTP 502', 'late') \gset
UPDATE workorder.outbox SET next_attempt_at = now() - interval '1 second' WHERE id = :worn;
UPDATE workorder.outbox SET claimed_until = now() - interval '1 second', next_attempt_at = now() - interval '1 second'
 WHERE id = :slow;
SELECT ok AS expired FROM workorder.run_task('outbox_expire') \gset
UPDATE workorder.settings SET value = (SELECT min(attempts) FROM workorder.outbox WHERE id IN (:worn, :slow))::text
 WHERE name = 'outbox_max_attempts';
SELECT is((SELECT count(*)::integer FROM workorder.claim_outbox('hotline', 10000, '1 minute', 'after') c WHERE c.id = :worn), 0,
          'a pending message at the lowered outbox_max_attempts is not claimed');
SELECT results_eq(format('SELECT state, last_error, settled_at IS NOT NULL FROM workorder.outbox WHERE id = %s', :worn),
                  $$VALUES ('dead'::text, 'HTTP 502'::text, true)$$,
                  '... the claim made it dead, with its last error');
SELECT is((workorder.ack_outbox(:slow, 'late')).state, 'delivered',
          'a message given back after its lease ran out, then made dead so, is still its last claimer''s to acknowledge late');
-- A claim makes dead at most 1000 such messages, the oldest first: the setting
-- lowered under a backlog made one claim of one message kill every one of its
-- channel's at once (50,000 took 4.4 s), and under a connector's statement timeout
-- the claim failed every time.
INSERT INTO workorder.outbox (order_id, event_id, channel_code, channel_ref, kind, payload, attempts, next_attempt_at)
SELECT pg_temp.id_of('P-3'), -i, 'hotline', 'worn-' || i, 'resolve', '{}', 50, now() - interval '1 minute'
  FROM generate_series(1, 1200) i;
SELECT count(*) AS claimed FROM workorder.claim_outbox('hotline', 1, '1 minute', 'after') \gset
SELECT is((SELECT count(*)::integer FROM workorder.outbox WHERE channel_ref LIKE 'worn-%' AND state = 'dead'), 1000,
          'a claim makes 1000 worn-out messages dead, not all 1200');
SELECT count(*) AS claimed FROM workorder.claim_outbox('hotline', 1, '1 minute', 'after') \gset
SELECT is((SELECT count(*)::integer FROM workorder.outbox WHERE channel_ref LIKE 'worn-%' AND state = 'dead'), 1200,
          '... and the next claim the rest');

-- An unsatisfied callback that reopens a master: the reopen goes out to the master's
-- channel and to every report merged into it, and its reason is not the citizen's
-- note (it carried one reporter's name and phone number to the others).
INSERT INTO workorder.settings VALUES ('callback_redo_on_unsatisfied', 'on', 'outbox_test');
SELECT status FROM workorder.callback(pg_temp.id_of('P-3'), 'C-990401', 'unsatisfied', '我是张三 13812345678，根本没人来处理') \gset
SELECT results_eq($$SELECT count(*) > 1, count(*) FILTER (WHERE x.payload::text LIKE '%13812345678%'),
                           min(x.payload ->> 'reason'), max(x.payload ->> 'reason')
                      FROM workorder.outbox x JOIN workorder.order_events e ON e.id = x.event_id
                     WHERE e.order_id = pg_temp.id_of('P-3') AND e.action = 'reopen'$$,
                  $$VALUES (true, 0::bigint, 'unsatisfied callback (回访不满意)'::text, 'unsatisfied callback (回访不满意)'::text)$$,
                  'a reopen after an unsatisfied callback reaches every merged report, with a reason that does not quote the note');
SELECT is((SELECT e.note FROM workorder.order_events e WHERE e.order_id = pg_temp.id_of('P-3') AND e.action = 'callback'),
          '我是张三 13812345678，根本没人来处理', '... the note stays in the callback event, for staff');

-- Every message that died above (by fail_outbox, by a claim, by outbox_expire, or
-- set dead by hand) was announced to the center: a notification of kind outbox_dead
-- naming it; and no message that never died (one acknowledged late after it died
-- did die).
SELECT is_empty($$SELECT id FROM workorder.outbox WHERE state = 'dead'
                  EXCEPT SELECT (payload->>'message_id')::bigint FROM workorder.notifications WHERE kind = 'outbox_dead'$$,
                'each dead message has its outbox_dead notification');
SELECT is_empty($$SELECT (payload->>'message_id')::bigint FROM workorder.notifications WHERE kind = 'outbox_dead'
                  EXCEPT SELECT id FROM workorder.outbox WHERE state = 'dead' OR (state = 'delivered' AND lease_expired_at IS NOT NULL)$$,
                '... and no message that did not die has one');
SELECT is((SELECT count(*)::integer FROM workorder.notifications n JOIN workorder.outbox x ON x.id = (n.payload->>'message_id')::bigint
            WHERE n.kind = 'outbox_dead' AND n.order_id = x.order_id AND n.payload->>'channel' = x.channel_code
              AND n.payload->>'ticket' IS NOT NULL),
          (SELECT count(*)::integer FROM workorder.notifications WHERE kind = 'outbox_dead'),
          '... each with its order, ticket and channel');
-- A dead message that its claimer's late ack delivered after all is announced too,
-- so that the center does not call back a citizen who was told.  (The dead notice
-- stood alone.)
SELECT is_empty($$SELECT id FROM workorder.outbox WHERE state = 'delivered' AND lease_expired_at IS NOT NULL
                    AND id IN (SELECT (payload->>'message_id')::bigint FROM workorder.notifications WHERE kind = 'outbox_dead')
                  EXCEPT SELECT (payload->>'message_id')::bigint FROM workorder.notifications
                          WHERE kind = 'outbox_delivered_after_dead'$$,
                'each message delivered after it died has its outbox_delivered_after_dead notification');
SELECT ok((SELECT count(*) > 0 FROM workorder.notifications WHERE kind = 'outbox_delivered_after_dead'),
          '... and there is such a message here');

-- A channel that was down longer than its attempts allowed: redrive_outbox sends
-- its dead messages again, in each report's order, except one that a later
-- delivered message of its report overtook (the channel knows a later state).
SELECT pg_temp.three_reports('rd', 'RD-', 31.17, false) IS NOT NULL AS made \gset
CREATE TEMP VIEW rd_messages AS
SELECT m.id, o.channel_ref AS ref, m.kind, m.state, m.attempts
  FROM workorder.outbox m JOIN workorder.orders o ON o.id = m.order_id
 WHERE m.channel_code = 'rd';
-- RD-1: its dispatch died, its accept was delivered.  RD-2: both died.  RD-3: both
-- died two days ago.
UPDATE workorder.outbox m SET state = 'dead', attempts = 8, last_error = 'HTTP 503', settled_at = now() - interval '1 hour'
  FROM rd_messages r WHERE m.id = r.id AND (r.ref = 'RD-2' OR (r.ref = 'RD-1' AND r.kind = 'dispatch'));
UPDATE workorder.outbox m SET state = 'delivered', attempts = 1, delivered_at = now(), settled_at = now()
  FROM rd_messages r WHERE m.id = r.id AND r.ref = 'RD-1' AND r.kind = 'accept';
UPDATE workorder.outbox m SET state = 'dead', attempts = 8, last_error = 'HTTP 503', settled_at = now() - interval '2 days'
  FROM rd_messages r WHERE m.id = r.id AND r.ref = 'RD-3';
SELECT results_eq($$SELECT * FROM workorder.redrive_outbox('rd', died_since => now() - interval '1 day')$$,
                  $$VALUES (2::bigint, 1::bigint)$$,
                  'redrive_outbox: RD-2''s two dead messages are sent again, RD-1''s overtaken dispatch is not');
SELECT results_eq($$SELECT ref, kind, state, attempts FROM rd_messages ORDER BY id$$,
                  $$VALUES ('RD-1', 'dispatch', 'dead', 8), ('RD-1', 'accept', 'delivered', 1),
                           ('RD-2', 'dispatch', 'pending', 0), ('RD-2', 'accept', 'pending', 0),
                           ('RD-3', 'dispatch', 'dead', 8), ('RD-3', 'accept', 'dead', 8)$$,
                  '... pending with their attempts from 0; RD-3''s, dead before died_since, stay dead');
SELECT results_eq($$SELECT r.ref, r.kind FROM workorder.claim_outbox('rd', 100, '10 minutes', 'p') c
                     JOIN rd_messages r ON r.id = c.id ORDER BY c.id$$,
                  $$VALUES ('RD-2', 'dispatch')$$,
                  '... and go out in their report''s order: the dispatch first');
SELECT results_eq($$SELECT * FROM workorder.redrive_outbox('rd')$$, $$VALUES (2::bigint, 1::bigint)$$,
                  'without died_since, every dead message is taken: RD-3''s are sent again');
-- A later message of the report in flight (claimed) overtakes it too: sent again,
-- the dispatch went out beside the accept a connector was delivering, and the
-- channel could hear them in either order.
SELECT pg_temp.three_reports('rf', 'RF-', 31.19, false) IS NOT NULL AS made \gset
UPDATE workorder.outbox m SET state = 'dead', attempts = 8, last_error = 'HTTP 503', settled_at = now()
  FROM workorder.orders o WHERE o.id = m.order_id AND o.channel_ref = 'RF-1' AND m.kind = 'dispatch';
UPDATE workorder.outbox m SET state = 'claimed', claimed_by = 'q', claimed_until = now() + interval '10 minutes'
  FROM workorder.orders o WHERE o.id = m.order_id AND o.channel_ref = 'RF-1' AND m.kind = 'accept';
SELECT results_eq($$SELECT * FROM workorder.redrive_outbox('rf')$$, $$VALUES (0::bigint, 1::bigint)$$,
                  'redrive_outbox: a dead dispatch whose accept is being delivered is superseded, not sent again');
SELECT is((SELECT m.state FROM workorder.outbox m JOIN workorder.orders o ON o.id = m.order_id
            WHERE o.channel_ref = 'RF-1' AND m.kind = 'dispatch'), 'dead', '... and stays dead');
-- So does one whose lease ran out and that was given back: its claimer may have
-- delivered it, and its late ack is still taken (the dispatch was sent again, the
-- accept's late ack came, and the dispatch went out after it).
UPDATE workorder.outbox m SET state = 'dead', attempts = 8, last_error = 'HTTP 503', settled_at = now()
  FROM workorder.orders o WHERE o.id = m.order_id AND o.channel_ref = 'RF-2' AND m.kind = 'dispatch';
UPDATE workorder.outbox m SET state = 'pending', attempts = 1, claimed_by = 'q', claimed_until = NULL,
                              lease_expired_at = now() - interval '1 minute', next_attempt_at = now()
  FROM workorder.orders o WHERE o.id = m.order_id AND o.channel_ref = 'RF-2' AND m.kind = 'accept';
SELECT results_eq($$SELECT * FROM workorder.redrive_outbox('rf')$$, $$VALUES (0::bigint, 2::bigint)$$,
                  'redrive_outbox: a dead dispatch whose accept was given back after its lease ran out is superseded too');
SELECT throws_ok($$SELECT * FROM workorder.redrive_outbox('no_such_channel')$$, 'WO603',
                 'invalid channel for the outbox', 'an unknown channel is WO603');
SELECT throws_ok($$SELECT * FROM workorder.redrive_outbox('rd', NULL, 0)$$, 'WO603',
                 'invalid batch size for the outbox', 'a batch size of 0 is WO603');
SELECT ok(has_function_privilege('workorder_admin', 'workorder.redrive_outbox(text, timestamptz, integer)', 'EXECUTE')
          AND NOT has_function_privilege('workorder_intake', 'workorder.redrive_outbox(text, timestamptz, integer)', 'EXECUTE')
          AND NOT has_function_privilege('workorder_dispatcher', 'workorder.redrive_outbox(text, timestamptz, integer)', 'EXECUTE'),
          'the center''s admins send dead messages again, not a connector or a dispatcher');

-- Every message the functions above settled (acknowledged, failed for the last time,
-- given back dead by a claim or by outbox_expire) says when it settled, and no other
-- message does: retention counts from it (there is no CHECK: see part 75).
SELECT results_eq($$SELECT count(*) FILTER (WHERE state = 'delivered') > 0, count(*) FILTER (WHERE state = 'dead') > 0,
                           count(*) FILTER (WHERE (state IN ('delivered', 'dead')) <> (settled_at IS NOT NULL))
                      FROM workorder.outbox$$,
                  $$VALUES (true, true, 0::bigint)$$,
                  'delivered and dead messages, each with the time it settled, and no pending or claimed one with one');

SELECT * FROM finish();
ROLLBACK;
