-- Tamper evidence: every event is hash-chained to the one before it in its order,
-- exactly as README.md defines the hash; an untouched log verifies clean whatever
-- the session's DateStyle and TimeZone; and when a superuser sets the append-only
-- guard aside and edits a note, deletes an event, forges one, rewrites one with a
-- matching hash, or reorders times or numbers, verify_log() names each tampered
-- row.  Rows loaded by COPY keep their hash and make no outbox messages.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(44);
\o /dev/null
\i test/fixtures/intake_map.sql
\o

CREATE FUNCTION pg_temp.id_of(ref text) RETURNS bigint LANGUAGE sql AS $$
    SELECT o.id FROM workorder.orders o WHERE o.channel_ref = ref
$$;
CREATE FUNCTION pg_temp.event_id(ref text, n integer) RETURNS bigint LANGUAGE sql AS $$
    SELECT e.id FROM workorder.order_events e WHERE e.order_id = pg_temp.id_of(ref) AND e.seq = n
$$;
-- problems(ref): what verify_log() says of one order, as 'kind seq event' lines.
CREATE FUNCTION pg_temp.problems(ref text) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT v.kind || ' ' || v.seq || ' ' || COALESCE(v.event_id::text, '-')
      FROM workorder.verify_log(pg_temp.id_of(ref)) v
$$;
-- field(t): one field of the documented serialisation, computed in SQL.
CREATE FUNCTION pg_temp.field(t text) RETURNS bytea LANGUAGE sql AS $$
    SELECT CASE WHEN t IS NULL THEN '\x00'::bytea
                ELSE '\x01'::bytea || int4send(octet_length(convert_to(t, 'UTF8'))) || convert_to(t, 'UTF8') END
$$;

-- Eleven orders with a lifecycle of six events each (submit, dispatch, accept,
-- suspend, resume, resolve), and one merged into another.
DO $$
DECLARE
    id_ bigint;
BEGIN
    FOR i IN 1..11 LOOP
        id_ := (workorder.submit('hotline', 'H-' || i, '0301', '占道经营 ' || i,
                                 lon => 121.0001 + i * 0.0001, lat => 31.0002)).id;
        PERFORM workorder.accept(id_, 'x');
        PERFORM workorder.suspend(id_, 'x', '等待');
        PERFORM workorder.resume(id_, 'x');
        PERFORM workorder.resolve(id_, 'x', '已处理');
    END LOOP;
    id_ := (workorder.submit('hotline', 'H-dup', '0301', '重复', lon => 121.0002, lat => 31.0002)).id;
    PERFORM workorder.merge(id_, pg_temp.id_of('H-1'), 'C-990401');
END
$$;

-- The chain as written.
SELECT is((SELECT count(*) FROM workorder.order_events
            WHERE octet_length(hash) <> 32 OR octet_length(prev_hash) <> 32), 0::bigint,
          'every event carries a 32-byte hash and the 32-byte hash it is chained to');
SELECT is((SELECT count(*) FROM workorder.order_events e
            WHERE e.seq = 1 AND e.prev_hash <> decode(repeat('00', 32), 'hex')), 0::bigint,
          'the first event of each order is chained to 32 zero bytes');
SELECT is((SELECT count(*) FROM workorder.order_events e
             JOIN workorder.order_events p ON p.order_id = e.order_id AND p.seq = e.seq - 1
            WHERE e.prev_hash <> p.hash), 0::bigint,
          'every later event is chained to the hash of the event before it in its order');
SELECT is((SELECT count(*) FROM workorder.order_events e
            WHERE e.hash <> workorder.event_hash(e.prev_hash, e)), 0::bigint,
          'the hash written at insert is the hash event_hash() computes from the row');
SELECT is((SELECT count(DISTINCT hash) FROM workorder.order_events),
          (SELECT count(*) FROM workorder.order_events),
          'no two events share a hash');

-- The definition in README.md, computed in SQL, gives the same hash.
SELECT is((SELECT count(*) FROM workorder.order_events e
            WHERE e.hash <> sha256(e.prev_hash
                     || pg_temp.field(e.id::text) || pg_temp.field(e.order_id::text) || pg_temp.field(e.seq::text)
                     || pg_temp.field((((extract(epoch FROM e.at) - 946684800) * 1000000)::bigint)::text)
                     || pg_temp.field(e.action) || pg_temp.field(e.actor) || pg_temp.field(e.db_user)
                     || pg_temp.field(e.old_status::text) || pg_temp.field(e.new_status::text)
                     || pg_temp.field(e.unit_code) || pg_temp.field(e.old_unit) || pg_temp.field(e.note)
                     || pg_temp.field(e.details::text))), 0::bigint,
          'each hash is SHA-256(prev_hash || the fields as README.md defines them)');

SELECT is_empty('SELECT * FROM workorder.verify_log()', 'an untouched log verifies clean');
SELECT is_empty($$SELECT * FROM workorder.verify_log(pg_temp.id_of('H-1'))$$,
                'an untouched order verifies clean');
SET LOCAL TimeZone = 'America/St_Johns';
SET LOCAL DateStyle = 'SQL, DMY';
SET LOCAL extra_float_digits = -3;
SELECT is_empty('SELECT * FROM workorder.verify_log()',
                'the hashes do not depend on the session''s TimeZone, DateStyle or float output');
RESET TimeZone;
RESET DateStyle;
RESET extra_float_digits;

-- The guard still holds for everyone, in replica mode too.
SET LOCAL session_replication_role = replica;
SELECT throws_ok($$UPDATE workorder.order_events SET note = 'x' WHERE order_id = pg_temp.id_of('H-1')$$,
                 'WO405', NULL, 'in replica mode an UPDATE of the log is still refused');
RESET session_replication_role;

-- Now the superuser sets the guard aside, as an attacker with full rights would.
ALTER TABLE workorder.order_events DISABLE TRIGGER order_events_refuse_change;

-- H-1: a note edited.
UPDATE workorder.order_events SET note = '没有等待' WHERE order_id = pg_temp.id_of('H-1') AND seq = 4;
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-1')$$,
                  ARRAY['edited 4 ' || pg_temp.event_id('H-1', 4)],
                  'an edited note: verify_log names the event as edited');

-- H-2: an event in the middle deleted.
DELETE FROM workorder.order_events WHERE order_id = pg_temp.id_of('H-2') AND seq = 3;
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-2')$$, ARRAY['missing 3 -'],
                  'a deleted middle event: verify_log names its number as missing');

-- H-3: the last event deleted (the chain alone cannot see it; the order's count can).
DELETE FROM workorder.order_events WHERE order_id = pg_temp.id_of('H-3') AND seq = 6;
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-3')$$,
                  ARRAY['disagrees 5 ' || pg_temp.event_id('H-3', 5), 'missing 6 -'],
                  'a deleted last event: verify_log names its number as missing, and the order as not in the state its last event left');

-- H-4: a forged event appended with a made-up hash.
INSERT INTO workorder.order_events (order_id, seq, action, actor, old_status, new_status, note, prev_hash, hash)
SELECT e.order_id, 7, 'close', 'mallory', 'resolved', 'closed', '伪造', e.hash, sha256('forged')
  FROM workorder.order_events e WHERE e.order_id = pg_temp.id_of('H-4') AND e.seq = 6;
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-4')$$,
                  ARRAY['disagrees 7 ' || pg_temp.event_id('H-4', 7), 'edited 7 ' || pg_temp.event_id('H-4', 7),
                        'inserted 7 ' || pg_temp.event_id('H-4', 7)],
                  'a forged event with a made-up hash: verify_log names it as edited and inserted, and as closing an order that is not closed');

-- H-5: a forged event appended with a correct hash (the chain trigger computes it).
INSERT INTO workorder.order_events (order_id, seq, action, actor, old_status, new_status, note)
VALUES (pg_temp.id_of('H-5'), 7, 'close', 'mallory', 'resolved', 'closed', '伪造');
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-5')$$,
                  ARRAY['disagrees 7 ' || pg_temp.event_id('H-5', 7), 'inserted 7 ' || pg_temp.event_id('H-5', 7)],
                  'a forged event with a matching hash: verify_log names it as inserted (the order never counted it)');

-- H-6: an event rewritten, and its hash recomputed to match.
UPDATE workorder.order_events SET actor = 'mallory' WHERE order_id = pg_temp.id_of('H-6') AND seq = 3;
UPDATE workorder.order_events e SET hash = workorder.event_hash(e.prev_hash, e)
 WHERE order_id = pg_temp.id_of('H-6') AND seq = 3;
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-6')$$,
                  ARRAY['chain broken 3 ' || pg_temp.event_id('H-6', 3)],
                  'an event rewritten with a matching hash: verify_log names it, its successor was chained to the old hash');

-- H-7: an event's time moved before the event before it.
UPDATE workorder.order_events e SET at = p.at - interval '1 minute'
  FROM workorder.order_events p
 WHERE e.order_id = pg_temp.id_of('H-7') AND e.seq = 5 AND p.order_id = e.order_id AND p.seq = 4;
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-7')$$,
                  ARRAY['edited 5 ' || pg_temp.event_id('H-7', 5), 'out of order 5 ' || pg_temp.event_id('H-7', 5)],
                  'a time moved back: verify_log names the event as edited and out of order');

-- H-8: two events' numbers swapped.
UPDATE workorder.order_events SET seq = -seq WHERE order_id = pg_temp.id_of('H-8') AND seq IN (4, 5);
UPDATE workorder.order_events SET seq = 9 + seq WHERE order_id = pg_temp.id_of('H-8') AND seq IN (-4, -5);
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-8')$$,
                  ARRAY['edited 4 ' || pg_temp.event_id('H-8', 4), 'chain broken 5 ' || pg_temp.event_id('H-8', 5),
                        'edited 5 ' || pg_temp.event_id('H-8', 5), 'out of order 5 ' || pg_temp.event_id('H-8', 5)],
                  'two events'' numbers swapped: verify_log names both as edited, the second also as out of order and off the chain');

-- H-9: a whole event replaced by another with the same number and a fresh hash.
DELETE FROM workorder.order_events WHERE order_id = pg_temp.id_of('H-9') AND seq = 2;
INSERT INTO workorder.order_events (order_id, seq, at, action, actor, old_status, new_status, unit_code)
SELECT e.order_id, 2, e.at, 'dispatch', 'system', 'new', 'dispatched', 'D-um'
  FROM workorder.order_events e WHERE e.order_id = pg_temp.id_of('H-9') AND e.seq = 1;
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-9')$$,
                  ARRAY['chain broken 2 ' || pg_temp.event_id('H-9', 2), 'out of order 3 ' || pg_temp.event_id('H-9', 3)],
                  'an event replaced: verify_log names the replacement (chain broken) and its successor (an older id after a newer one)');

-- H-10: a previous hash cut to one byte.  The check of the whole log must go on past
-- it (a verifier survives the tampering it looks for): the event is edited.
UPDATE workorder.order_events SET prev_hash = '\x00' WHERE order_id = pg_temp.id_of('H-10') AND seq = 2;
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-10')$$,
                  ARRAY['edited 2 ' || pg_temp.event_id('H-10', 2)],
                  'a previous hash that is not 32 bytes: verify_log names the event as edited');
SELECT is((SELECT v.detail FROM workorder.verify_log(pg_temp.id_of('H-10')) v WHERE v.kind = 'edited'),
          'its previous hash has 1 bytes, not 32: it was written past the chain',
          'and says what is wrong with the hash');

-- H-11: the whole order deleted past its actions (in replica mode no foreign key is
-- checked); its events stay in the log, and verify_log names each as orphaned.
CREATE TEMP TABLE deleted_order AS SELECT pg_temp.id_of('H-11') AS id;
SET LOCAL session_replication_role = replica;
DELETE FROM workorder.orders WHERE id = (SELECT id FROM deleted_order);
RESET session_replication_role;
SELECT results_eq($$SELECT v.kind || ' ' || v.seq || ' ' || (v.ticket IS NULL) FROM workorder.verify_log((SELECT id FROM deleted_order)) v$$,
                  ARRAY['orphaned 1 true', 'orphaned 2 true', 'orphaned 3 true', 'orphaned 4 true', 'orphaned 5 true', 'orphaned 6 true'],
                  'the events of a deleted order: verify_log(its id) names each as orphaned, with no ticket');

-- H-6 again: the owner makes the order closed past its actions (no trigger set aside:
-- the owner may write orders).
UPDATE workorder.orders SET status = 'closed' WHERE id = pg_temp.id_of('H-6');
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-6')$$,
                  ARRAY['chain broken 3 ' || pg_temp.event_id('H-6', 3),
                        'disagrees ' || (SELECT event_count FROM workorder.orders WHERE id = pg_temp.id_of('H-6')) || ' '
                        || pg_temp.event_id('H-6', (SELECT event_count FROM workorder.orders WHERE id = pg_temp.id_of('H-6')))],
                  'an order whose status was changed past its actions: verify_log names it as disagreeing with its last event');

-- The merged report and the orders not touched are still clean, and the whole-log
-- check reports exactly the sum of the per-order checks.
SELECT is_empty($$SELECT * FROM pg_temp.problems('H-dup')$$, 'an order not tampered with stays clean');
SELECT is((SELECT count(*) FROM workorder.verify_log()), 26::bigint,
          'verify_log() over the whole log reports every problem of every order, and nothing else');
SELECT is((SELECT count(DISTINCT v.ticket) FROM workorder.verify_log() v
             JOIN workorder.orders o ON o.id = v.order_id AND o.ticket OPERATOR(workorder.=) v.ticket), 10::bigint,
          'each problem names its order by id and ticket');

-- Numbers the order never had are not missing: a forged event far beyond the
-- order's count is inserted (it made every number up to it "missing": 997 rows for
-- one event at 1000), and one numbered 2147483647 made verify_log() run for hours,
-- reporting nothing else.  (The timeout only turns such a regression into a failure.)
SET LOCAL statement_timeout = '60s';
SELECT (workorder.submit('hotline', 'H-far', '0301', '占道经营 远', lon => 121.0031, lat => 31.0002)).id AS far_id \gset
INSERT INTO workorder.order_events (order_id, seq, action, actor, new_status, prev_hash, hash)
VALUES (:far_id, 1000, 'comment', 'mallory', 'dispatched', sha256('a'), sha256('b')),
       (:far_id, 2147483647, 'comment', 'mallory', 'dispatched', sha256('a'), sha256('c'));
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-far')$$,
                  ARRAY['edited 1000 ' || pg_temp.event_id('H-far', 1000), 'inserted 1000 ' || pg_temp.event_id('H-far', 1000),
                        'edited 2147483647 ' || pg_temp.event_id('H-far', 2147483647),
                        'inserted 2147483647 ' || pg_temp.event_id('H-far', 2147483647)],
                  'forged events far beyond the order''s count: verify_log names them, and no number between as missing');
-- A forged count: the numbers beyond the last event are missing, but a run of more
-- than 1000 is one row that names it.
UPDATE workorder.orders SET event_count = 2000000000 WHERE channel_ref = 'H-far';
SELECT results_eq($$SELECT v.seq || ' ' || v.detail FROM workorder.verify_log(pg_temp.id_of('H-far')) v WHERE v.kind = 'missing'$$,
                  ARRAY['3 event 3 of the order is missing: event 1000 (id ' || pg_temp.event_id('H-far', 1000) || ') comes after event 2 (id '
                        || pg_temp.event_id('H-far', 2) || ')']
                  || (SELECT array_agg(n || ' event ' || n || ' of the order is missing: event 1000 (id ' || pg_temp.event_id('H-far', 1000)
                                       || ') comes after event 2 (id ' || pg_temp.event_id('H-far', 2) || ')' ORDER BY n)
                        FROM generate_series(4, 999) n)
                  || '1001 events 1001 to 2000000000 of the order (1999999000) are missing: the order counts 2000000000 events, the last one there is 1000'::text,
                  'a forged event count: the numbers up to it are missing, a run of more than 1000 in one row');
RESET statement_timeout;

-- An action taken in replica mode is chained too (the trigger is ALWAYS).
SET LOCAL session_replication_role = replica;
SELECT lives_ok($$SELECT workorder.comment(pg_temp.id_of('H-dup'), 'x', '复制模式')$$,
                'an action can be taken in replica mode');
RESET session_replication_role;
SELECT is_empty($$SELECT * FROM pg_temp.problems('H-dup')$$, 'and its event is chained');

ALTER TABLE workorder.order_events ENABLE ALWAYS TRIGGER order_events_refuse_change;

-- Writing an event whose predecessor is missing is refused.
SELECT throws_ok($$INSERT INTO workorder.order_events (order_id, seq, action, actor, old_status, new_status)
                   VALUES (pg_temp.id_of('H-dup'), 9, 'comment', 'x', 'merged', 'merged')$$,
                 'WO971', NULL, 'an event with no predecessor is refused (WO971)');
SELECT throws_ok($$INSERT INTO workorder.order_events (order_id, seq, action, actor, old_status, new_status)
                   VALUES (pg_temp.id_of('H-dup'), 0, 'comment', 'x', 'merged', 'merged')$$,
                 'WO971', NULL, 'an event numbered 0 is refused (WO971)');

-- Restored rows (COPY, or INSERT under pg_dump --inserts, in a session with
-- check_function_bodies off, as pg_dump's scripts and pg_restore run) keep the hash
-- they come with and make no outbox messages; an action's event makes one, also
-- in such a session, and so does a COPY in an ordinary session.
CREATE TEMP TABLE outbox_before AS SELECT count(*) AS n FROM workorder.outbox;
\o /dev/null
SELECT workorder.reopen(pg_temp.id_of('H-2'), 'x', '未解决');
\o
SELECT is((SELECT count(*) FROM workorder.outbox) - (SELECT n FROM outbox_before), 1::bigint,
          'an action makes its outbox message');
CREATE TEMP TABLE copied AS
SELECT e.* FROM workorder.order_events e WHERE e.order_id = pg_temp.id_of('H-dup') AND e.seq = 1;
SET LOCAL check_function_bodies = off;
SELECT is(workorder.loaded_by_restore('workorder.order_events'), false, 'a SELECT is no restore');
RESET check_function_bodies;
DO $$ BEGIN
    -- Free the event's slot so that its copy can be loaded back.
    ALTER TABLE workorder.order_events DISABLE TRIGGER order_events_refuse_change;
    DELETE FROM workorder.order_events e WHERE e.order_id = pg_temp.id_of('H-dup') AND e.seq = 1;
    ALTER TABLE workorder.order_events ENABLE ALWAYS TRIGGER order_events_refuse_change;
END $$;
UPDATE pg_temp.copied SET action = 'accept', new_status = 'accepted', hash = sha256('made up');
-- Through a server-side file named after this backend, removed as it is read.
SELECT format('/tmp/workorder_eventlog_test_%s.copy', pg_backend_pid()) AS copy_file \gset
COPY pg_temp.copied (id, order_id, seq, at, action, actor, db_user, old_status, new_status,
                     unit_code, old_unit, note, details, prev_hash, hash) TO :'copy_file';
SELECT format('cat %s && rm -f %s', :'copy_file', :'copy_file') AS copy_program \gset
SET LOCAL check_function_bodies = off;
COPY workorder.order_events (id, order_id, seq, at, action, actor, db_user, old_status, new_status,
                             unit_code, old_unit, note, details, prev_hash, hash) FROM PROGRAM :'copy_program';
RESET check_function_bodies;
SELECT is((SELECT encode(hash, 'hex') FROM workorder.order_events
            WHERE order_id = pg_temp.id_of('H-dup') AND seq = 1), encode(sha256('made up'), 'hex'),
          'a row restored by COPY keeps the hash it comes with');
SELECT is((SELECT count(*) FROM workorder.outbox) - (SELECT n FROM outbox_before), 1::bigint,
          'an accept event restored by COPY makes no outbox message');
SELECT results_eq($$SELECT * FROM pg_temp.problems('H-dup')$$,
                  ARRAY['chain broken 1 ' || pg_temp.event_id('H-dup', 1), 'edited 1 ' || pg_temp.event_id('H-dup', 1)],
                  'and verify_log checks it like any other row');

-- An order of its own for the next events (H-load: submitted and dispatched).
\o /dev/null
SELECT workorder.submit('hotline', 'H-load', '0301', '装载测试', lon => 121.0101, lat => 31.0102);
\o
SELECT is((SELECT event_count FROM workorder.orders WHERE id = pg_temp.id_of('H-load')), 2, 'H-load has two events');
TRUNCATE outbox_before;
INSERT INTO outbox_before SELECT count(*) FROM workorder.outbox;
SET LOCAL check_function_bodies = off;
INSERT INTO workorder.order_events (order_id, seq, action, actor, old_status, new_status)
VALUES (pg_temp.id_of('H-load'), 3, 'accept', 'x', 'dispatched', 'accepted');
-- (the order restored with it, as its own row would be)
UPDATE workorder.orders SET event_count = 3, status = 'accepted' WHERE id = pg_temp.id_of('H-load');
SELECT is((SELECT count(*) FROM workorder.outbox) - (SELECT n FROM outbox_before), 0::bigint,
          'an accept event restored by INSERT (pg_dump --inserts) makes no outbox message');
SELECT workorder.comment(pg_temp.id_of('H-load'), 'x', '恢复会话中的动作') IS NOT NULL AS commented \gset
\o /dev/null
SELECT workorder.resolve(pg_temp.id_of('H-load'), 'x', '已处理');
\o
SELECT is((SELECT count(*) FROM workorder.outbox) - (SELECT n FROM outbox_before), 1::bigint,
          'an action taken in a session with check_function_bodies off makes its message all the same');
RESET check_function_bodies;
SELECT format('echo %s,6,close,x,resolved,closed', pg_temp.id_of('H-load')) AS copy_program \gset
COPY workorder.order_events (order_id, seq, action, actor, old_status, new_status)
     FROM PROGRAM :'copy_program' WITH (FORMAT csv);
SELECT is((SELECT count(*) FROM workorder.outbox) - (SELECT n FROM outbox_before), 2::bigint,
          'a COPY in an ordinary session is no restore: its close event makes its message');

-- Bad arguments.
SELECT throws_ok('SELECT * FROM workorder.verify_log(-1)', 'WO402', NULL,
                 'verify_log of an order that does not exist raises WO402');
SELECT throws_ok($$SELECT workorder.event_hash('\x00'::bytea, e) FROM workorder.order_events e LIMIT 1$$,
                 '22023', NULL, 'event_hash refuses a previous hash that is not 32 bytes');
SELECT is((SELECT workorder.event_hash(NULL, e) FROM workorder.order_events e LIMIT 1), NULL,
          'event_hash of a NULL previous hash is NULL');

SELECT * FROM finish();
ROLLBACK;
