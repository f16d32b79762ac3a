-- The outbox: the messages a lifecycle makes for the channels, merged reports
-- hearing their master's result, a channel without replies, claim / ack / fail /
-- dead letter, the expiry task, and bad input.  Everything runs in one transaction
-- that is rolled back, on the intake tests' small map.
\set ON_ERROR_ROLLBACK on
BEGIN;
SET client_min_messages = warning;
\o /dev/null
\i test/fixtures/intake_map.sql
\o
-- A second channel that replies, for merged reports from elsewhere.
SELECT workorder.load_channels('[{"code": "mailbox", "name": "区长信箱", "kind": "mailbox"}]');
DELETE FROM workorder.outbox;

-- id_of finds an order by its channel reference.
CREATE FUNCTION pg_temp.id_of(ref text) RETURNS bigint LANGUAGE sql AS $$
    SELECT o.id FROM workorder.orders o WHERE o.channel_ref = ref
$$;
-- messages shows the outbox without ids, tickets and timestamps.
CREATE VIEW pg_temp.messages AS
SELECT m.channel_code AS channel, m.channel_ref AS ref, m.kind, m.state, m.attempts,
       m.payload - 'ticket' - 'occurred_at' - 'master_ticket' AS payload,
       (m.payload ? 'master_ticket') AS via_master,
       m.payload ->> 'ticket' = o.ticket::text AS own_ticket
  FROM workorder.outbox m JOIN workorder.orders o ON o.id = m.order_id
 ORDER BY m.id;

-- A routed report: its intake dispatches it, and the channel hears 'dispatch'.
SELECT status FROM workorder.submit('hotline', 'OB-1', '0301', '西南村路口有流动摊贩占道', lon => 121.02, lat => 31.05);
SELECT * FROM pg_temp.messages;
-- Accept, return (with the reason), dispatch again, accept, resolve (with the
-- result), verify passed (no message), close.  Suspend, resume and comments are
-- internal: no message.
SELECT status FROM workorder.accept(pg_temp.id_of('OB-1'), 'C-990401001001');
SELECT status FROM workorder.return_order(pg_temp.id_of('OB-1'), 'C-990401001001', '不属于本村');
SELECT status FROM workorder.dispatch(pg_temp.id_of('OB-1'), 'C-990401', 'C-990401001');
SELECT status FROM workorder.accept(pg_temp.id_of('OB-1'), 'C-990401001');
SELECT status FROM workorder.suspend(pg_temp.id_of('OB-1'), 'C-990401001', '等待摊主到场');
SELECT status FROM workorder.resume(pg_temp.id_of('OB-1'), 'C-990401001');
SELECT status FROM workorder.comment(pg_temp.id_of('OB-1'), 'C-990401001', '已联系');
SELECT status FROM workorder.resolve(pg_temp.id_of('OB-1'), 'C-990401001', '摊贩已劝离');
SELECT status FROM workorder.verify(pg_temp.id_of('OB-1'), 'C-990401', true);
SELECT status FROM workorder.close(pg_temp.id_of('OB-1'), 'C-990401');
SELECT * FROM pg_temp.messages WHERE ref = 'OB-1';

-- A failed verification and a reopen are heard; so is a cancel.
SELECT status FROM workorder.submit('hotline', 'OB-2', '0301', '摊贩又来了', lon => 121.02, lat => 31.05);
SELECT status FROM workorder.accept(pg_temp.id_of('OB-2'), 'C-990401001001');
SELECT status FROM workorder.resolve(pg_temp.id_of('OB-2'), 'C-990401001001', '已处理');
SELECT status FROM workorder.verify(pg_temp.id_of('OB-2'), 'C-990401', false, '现场仍有摊贩');
SELECT status FROM workorder.resolve(pg_temp.id_of('OB-2'), 'C-990401001001', '已彻底清理');
SELECT status FROM workorder.reopen(pg_temp.id_of('OB-2'), 'C-990401', '群众反映复发');
SELECT status FROM workorder.submit('hotline', 'OB-3', '0301', '测试来电', lon => 121.02, lat => 31.05);
SELECT status FROM workorder.cancel(pg_temp.id_of('OB-3'), 'C-990401', '测试电话');
SELECT * FROM pg_temp.messages WHERE ref IN ('OB-2', 'OB-3');

-- A channel with replies = false gets nothing, whatever happens to its reports.
SELECT status FROM workorder.submit('camera', 'OB-CAM', 'vendor', '识别到占道经营', lon => 121.02, lat => 31.05);
SELECT status FROM workorder.accept(pg_temp.id_of('OB-CAM'), 'B-um-990401001');
SELECT count(*) AS camera_messages FROM workorder.outbox WHERE channel_code = 'camera';

-- Merging: the duplicate's channel hears 'merge' (with the master's ticket); the
-- master's merged_in makes nothing.  When the master is resolved and closed, each
-- merged report's channel hears it too, with the result, under its own reference
-- and ticket: the master's hotline, the mailbox report, and a camera report (no
-- replies: nothing).
DELETE FROM workorder.outbox;
SELECT status FROM workorder.submit('hotline', 'OB-M', '0301', '路口摊贩', lon => 121.02, lat => 31.05);
SELECT status FROM workorder.submit('mailbox', 'OB-D1', '0301', '信箱: 路口摊贩', lon => 121.02, lat => 31.05);
SELECT status FROM workorder.submit('hotline', 'OB-D2', '0301', '又一个电话: 路口摊贩', lon => 121.02, lat => 31.05);
SELECT status FROM workorder.submit('camera', 'OB-D3', 'vendor', '识别到占道经营', lon => 121.02, lat => 31.05);
DELETE FROM workorder.outbox;
SELECT status FROM workorder.merge(pg_temp.id_of('OB-D1'), pg_temp.id_of('OB-M'), 'C-990401');
SELECT status FROM workorder.merge(pg_temp.id_of('OB-D2'), pg_temp.id_of('OB-M'), 'C-990401');
SELECT status FROM workorder.merge(pg_temp.id_of('OB-D3'), pg_temp.id_of('OB-M'), 'C-990401');
SELECT status FROM workorder.accept(pg_temp.id_of('OB-M'), 'C-990401001001');
SELECT status FROM workorder.resolve(pg_temp.id_of('OB-M'), 'C-990401001001', '摊贩已劝离');
SELECT status FROM workorder.close(pg_temp.id_of('OB-M'), 'C-990401');
SELECT * FROM pg_temp.messages;
SELECT count(*) AS master_ticket_is_masters FROM workorder.outbox m
  JOIN workorder.orders o ON o.id = m.order_id JOIN workorder.orders master ON master.id = o.master_id
 WHERE m.payload ->> 'master_ticket' = master.ticket::text;

-- Nothing is made for a rolled-back action.
SAVEPOINT before_reopen;
SELECT status FROM workorder.reopen(pg_temp.id_of('OB-M'), 'C-990401', '复发');
SELECT count(*) AS with_reopen FROM workorder.outbox;
ROLLBACK TO SAVEPOINT before_reopen;
SELECT count(*) AS after_rollback FROM workorder.outbox;

-- Claiming: in id order, at most max_messages, each claimed once.  A report's
-- messages go out one at a time, in order: while one is claimed, the report's next
-- one waits, so a second claim now gets nothing.  The lease runs from the moment of
-- the claim, not from the start of the connector's transaction: between the
-- statement's start and now, plus the lease.
SELECT kind, ref, state, attempts, claimed_by, lease_from_claim
  FROM (SELECT c.kind, c.channel_ref AS ref, c.state, c.attempts, c.claimed_by,
               c.claimed_until - interval '1 minute' BETWEEN statement_timestamp() AND clock_timestamp()
               AND c.next_attempt_at = c.claimed_until AS lease_from_claim
          FROM workorder.claim_outbox('hotline', 2, '1 minute', 'conn-a') c) x;
SELECT count(*) AS second_claim FROM workorder.claim_outbox('hotline', 100, '1 minute', 'conn-b');

-- Ack: delivered; again: no change.
CREATE TEMP TABLE ids AS SELECT id, claimed_by FROM workorder.outbox WHERE state = 'claimed' ORDER BY id;
SELECT state, delivered_at BETWEEN statement_timestamp() AND clock_timestamp() AS delivered_now
  FROM workorder.ack_outbox((SELECT min(id) FROM ids), 'conn-a');
SELECT state FROM workorder.ack_outbox((SELECT min(id) FROM ids), 'conn-a');
SELECT state FROM workorder.ack_outbox((SELECT min(id) FROM ids));
-- OB-D2's merge is delivered: its resolve comes out next; OB-M's accept is still
-- claimed, and its resolve and close wait.  A third claim gets nothing.
INSERT INTO ids
SELECT c.id, c.claimed_by FROM workorder.claim_outbox('hotline', 100, '1 minute', 'conn-b') c;
SELECT m.kind, m.channel_ref AS ref, m.state, m.claimed_by FROM workorder.outbox m
 WHERE m.id IN (SELECT id FROM ids WHERE claimed_by = 'conn-b');
SELECT count(*) AS third_claim FROM workorder.claim_outbox('hotline', 100, '1 minute', 'conn-c');

-- Fail: pending after the backoff (30 s after the first attempt), with the error.
SELECT state, attempts, date_trunc('second', next_attempt_at - statement_timestamp()) AS backoff, last_error, claimed_by
  FROM workorder.fail_outbox((SELECT max(id) FROM ids WHERE claimed_by = 'conn-a'), 'HTTP 503', 'conn-a');

-- Retries: the backoff doubles (30 s, 1 min, 2 min, ...) up to outbox_backoff_max, and
-- the message is dead after outbox_max_attempts claims.  (now() does not move in a
-- transaction, so next_attempt_at is set back to let each claim find it.)
INSERT INTO workorder.settings VALUES ('outbox_backoff_max', '3 minutes', 'outbox test'),
                                      ('outbox_max_attempts', '5', 'outbox test');
CREATE TEMP TABLE retries (attempt integer, state text, backoff interval);
DO $$
DECLARE
    m workorder.outbox;
    target bigint := (SELECT max(id) FROM ids WHERE claimed_by = 'conn-a');
    failed_at timestamptz;
BEGIN
    FOR i IN 2..6 LOOP
        UPDATE workorder.outbox SET next_attempt_at = now() WHERE id = target AND state = 'pending';
        PERFORM 1 FROM workorder.claim_outbox('hotline', 100, '1 minute', 'conn-a') c WHERE c.id = target;
        IF NOT FOUND THEN
            INSERT INTO retries VALUES (i, 'not claimable', NULL);
            CONTINUE;
        END IF;
        failed_at := clock_timestamp();
        m := workorder.fail_outbox(target, 'HTTP 503 again', 'conn-a');
        INSERT INTO retries VALUES (m.attempts, m.state,
                                    CASE WHEN m.state = 'pending' THEN date_trunc('second', m.next_attempt_at - failed_at) END);
    END LOOP;
END
$$;
SELECT * FROM retries ORDER BY attempt;

-- The expiry task: leases that ran out are given back (the claims above hold leases
-- for 1 minute; set one back into the past), naming their last claimer
-- (whose late ack is still taken).
UPDATE workorder.outbox SET claimed_until = now() - interval '1 second', next_attempt_at = now() - interval '1 second'
 WHERE id = (SELECT max(id) FROM ids WHERE claimed_by = 'conn-b');
CREATE TEMP TABLE expire_run AS SELECT * FROM workorder.run_task('outbox_expire');
SELECT ok, rows, detail,
       next_due = (SELECT min(x.claimed_until) FROM workorder.outbox x WHERE x.state = 'claimed') AS next_due_is_earliest_lease
  FROM expire_run;
SELECT state, claimed_by, attempts FROM workorder.outbox WHERE id = (SELECT max(id) FROM ids WHERE claimed_by = 'conn-b');
-- ... and a claim takes it again: at least once.
SELECT channel_ref, attempts, claimed_by FROM workorder.claim_outbox('hotline', 100, '1 minute', 'conn-c');
-- With no claim held, nothing is scheduled: the worker does not spin on pending
-- messages that wait for a connector.
UPDATE workorder.outbox SET state = 'pending', claimed_by = NULL, claimed_until = NULL WHERE state = 'claimed';
SELECT ok, rows, next_due FROM workorder.run_task('outbox_expire');

-- Bad input: a WO6xx SQLSTATE, a message naming the object, and nothing written.
\set SHOW_CONTEXT never
\set VERBOSITY default
SELECT workorder.claim_outbox('fax');
SELECT workorder.claim_outbox(NULL);
SELECT workorder.claim_outbox('hotline', 0);
SELECT workorder.claim_outbox('hotline', 10001);
SELECT workorder.claim_outbox('hotline', 10, '0 seconds');
SELECT workorder.claim_outbox('hotline', 10, '1 minute', '');
SELECT workorder.ack_outbox(NULL);
-- (The errors that name a message are shown through pg_temp.refused, which masks
-- the message's id and the instants, and shows the SQLSTATE.)
\i test/fixtures/error_of.sql
CREATE FUNCTION pg_temp.refused(call text)
RETURNS TABLE (code text, message text, detail text, hint text)
LANGUAGE sql AS $$
    SELECT e.code, regexp_replace(e.message, 'message -?[0-9]+', 'message N'),
           regexp_replace(e.detail, ' (at|until) .*\.$', ' \1 T.'), e.hint
      FROM pg_temp.error_of(call) e
$$;
\x on
SELECT * FROM pg_temp.refused('SELECT workorder.ack_outbox(-1)');
SELECT * FROM pg_temp.refused('SELECT workorder.fail_outbox(-1, ''x'')');
SELECT * FROM pg_temp.refused('SELECT workorder.fail_outbox((SELECT min(id) FROM ids), NULL)');
SELECT * FROM pg_temp.refused('SELECT workorder.fail_outbox((SELECT min(id) FROM ids), repeat(''e'', 2001))');
-- Not claimed: a pending message, a dead one; a delivered one cannot fail.
SELECT * FROM pg_temp.refused('SELECT workorder.ack_outbox((SELECT min(id) FROM workorder.outbox WHERE state = ''pending''))');
SELECT * FROM pg_temp.refused('SELECT workorder.ack_outbox((SELECT min(id) FROM workorder.outbox WHERE state = ''dead''))');
SELECT * FROM pg_temp.refused('SELECT workorder.fail_outbox((SELECT min(id) FROM ids), ''late failure'')');
-- Claimed by another connector.
\x off
SELECT count(*) FROM workorder.claim_outbox('mailbox', 1, '1 minute', 'conn-m');
\x on
SELECT * FROM pg_temp.refused('SELECT workorder.ack_outbox((SELECT id FROM workorder.outbox WHERE claimed_by = ''conn-m''), ''conn-x'')');
\x off
SELECT state, claimed_by FROM workorder.outbox WHERE claimed_by = 'conn-m';

-- A COPY into another table named order_events (a temporary one here) is not the
-- event log being restored: an action that a trigger of that table takes makes its
-- messages as any action does (such a COPY used to silence them).
SELECT status FROM workorder.submit('hotline', 'OB-COPY', '0301', '北门路口摊贩占道', lon => 121.02, lat => 31.05);
CREATE TEMP TABLE order_events (order_id bigint);
CREATE FUNCTION pg_temp.accept_ob_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM workorder.accept(o.id, o.main_unit) FROM workorder.orders o WHERE o.channel_ref = 'OB-COPY';
    RETURN NULL;
END
$$;
CREATE TRIGGER accept_ob_copy BEFORE INSERT ON order_events FOR EACH ROW EXECUTE FUNCTION pg_temp.accept_ob_copy();
COPY order_events FROM stdin;
0
\.
SELECT o.status, string_agg(m.kind, ', ' ORDER BY m.id) AS messages
  FROM workorder.orders o JOIN workorder.outbox m ON m.order_id = o.id
 WHERE o.channel_ref = 'OB-COPY' GROUP BY o.status;
DROP TABLE order_events;

-- Privileges: the table and the connector functions are the owner's alone.
SELECT has_table_privilege('public', 'workorder.outbox', 'SELECT') AS public_reads,
       has_function_privilege('public', 'workorder.claim_outbox(text, integer, interval, text)', 'EXECUTE') AS public_claims;
SELECT count(*) AS config_dumped FROM pg_extension e, unnest(e.extconfig) cfg(oid)
 WHERE e.extname = 'workorder' AND cfg.oid IN ('workorder.outbox'::regclass, 'workorder.outbox_id_seq'::regclass);
ROLLBACK;
