-- workorder install script, part 75: the outbox, the one way out to the channels.
--
-- Every status change a channel should hear about becomes one message in
-- workorder.outbox, addressed to the channel of the report (channel_code and the
-- channel's own channel_ref).  A statement trigger on workorder.order_events makes
-- the messages, so they are written in the transaction of the action itself: a
-- committed action always has its messages, even across a crash, and a rolled-back
-- action has none.  Connectors take them with workorder.claim_outbox(), and confirm
-- each with workorder.ack_outbox() or give it back with workorder.fail_outbox().
-- Delivery is at least once: a claim is a lease, and a message whose lease runs out
-- (a connector that crashed) is claimable again, so a connector must treat a
-- message it has seen before (same id) as a duplicate.  The messages of one report
-- are delivered in order: a message is not claimed while an earlier one of the same
-- report is pending or claimed (a "closed" overtaking a failed "resolved" would
-- leave the channel's own system showing the wrong status).  A connector's ack that
-- comes after its lease ran out is still taken while nobody claimed the message
-- since: it was delivered, and it must not be sent again, nor end dead.
--
-- What makes a message (kind is the action of the event):
--   dispatch, reassign   the order went to a unit (at intake too, when routed)
--   accept               the unit signed for it
--   return               the unit handed it back (the reason is in the payload)
--   resolve              the result
--   verify               only a failed verification: the result is not accepted
--                        and the order is handled again
--   close                closed, with the result
--   reopen               sent back to be redone (the reason)
--   cancel               invalid or spam (the reason)
--   merge, unmerge       the report follows a master (its ticket), or no longer;
--                        merged into a resolved master, it carries the result
-- Not: submit (the connector has the answer of submit() already), suspend and
-- resume, extensions, callback, supervise and comment (internal to the center), and
-- the master's merged_in / unmerged_out (the merged report's own message says it).
-- Only channels with replies = true get messages.
--
-- A merged report follows its master: when the master is resolved, closed, reopened,
-- cancelled or fails its verification (the result the reports were sent is not
-- accepted), every report merged into it gets a message of its own, on its own
-- channel and with its own channel_ref and ticket, carrying master_ticket.  The
-- master's progress before that (dispatch, accept, ...) is not copied to them.
--
-- Settings (workorder.settings rows; the defaults apply when there is no row):
--   outbox_backoff_base  the wait after the first failure (default '30 seconds'); it
--                        doubles with each further failure ...
--   outbox_backoff_max   ... up to this (default '1 hour')
--   outbox_max_attempts  after this many claims the message is dead (default 8)
--
-- Privileges (part 98): intake connectors (workorder_intake) run claim/ack/fail, for
-- their own channel only (check_channel_access, part 96), and read their channel's
-- rows; nothing for PUBLIC.

CREATE TABLE workorder.outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The report the message is addressed to (for a merged report reached through
    -- its master, the merged report, not the master).
    order_id        bigint NOT NULL REFERENCES workorder.orders (id),
    -- The event it came from.  No foreign key: the log is append-only, the trigger
    -- takes the id from the row it sees inserted, and a key would cost a check per
    -- message on the intake path (and turn TRUNCATE of the log into a key error
    -- instead of its own WO405).
    event_id        bigint NOT NULL,
    channel_code    text NOT NULL,
    channel_ref     text NOT NULL,
    kind            text NOT NULL,
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    -- When a pending message may be claimed; for a claimed one, when its lease ends
    -- (equal to claimed_until), so that one index finds every claimable message.
    next_attempt_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    claimed_by      text,
    claimed_until   timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    delivered_at    timestamptz,
    -- When the lease of the last claim ran out and the message was given back (pending
    -- again, or dead after its last attempt); claimed_by then still names that
    -- claimer, whose late ack is taken.  NULL once it is claimed again or failed.
    lease_expired_at timestamptz,
    -- When the message settled: it was delivered, or it died after its last
    -- attempt.  Retention (part 97) counts from it, not from created_at: a message
    -- that was retried for a month and died today is a dead letter someone has yet
    -- to read.  Set by the functions that settle a message (ack_outbox, fail_outbox,
    -- claim_outbox, outbox_expire), with no CHECK: a CHECK is prepared anew at the
    -- executor start of every INSERT, and intake writes a message with every
    -- report (bench/submit: 26,000 instructions, 1.5 % of a submit()).
    -- test/outbox_test.sql holds the functions to it.
    settled_at      timestamptz,
    -- One event makes at most one message per report.  (Per report rather than per
    -- channel: a master's result goes to each merged report, and two of those may
    -- have come through the same channel.)  Its index, order first, is also the one
    -- that finds a report's messages.
    CONSTRAINT outbox_order_event_unique UNIQUE (order_id, event_id),
    CONSTRAINT outbox_state CHECK (state IN ('pending', 'claimed', 'delivered', 'dead')),
    CONSTRAINT outbox_claimed_has_lease CHECK ((state OPERATOR(pg_catalog.=) 'claimed') OPERATOR(pg_catalog.=) (claimed_until IS NOT NULL)),
    CONSTRAINT outbox_delivered_at CHECK ((state OPERATOR(pg_catalog.=) 'delivered') OPERATOR(pg_catalog.=) (delivered_at IS NOT NULL))
);
-- A claim reads only the claimable messages of its channel, due first: the index
-- stays as small as the backlog however long the history grows.
CREATE INDEX outbox_due_idx ON workorder.outbox (channel_code, next_attempt_at)
    WHERE state IN ('pending', 'claimed');
-- outbox_expire finds the earliest lease to run out.
CREATE INDEX outbox_lease_idx ON workorder.outbox (claimed_until) WHERE state OPERATOR(pg_catalog.=) 'claimed';
-- purge_history (part 97) finds the settled messages past their retention, oldest
-- first.  A message enters this index when it is acknowledged or dies, not when
-- intake writes it.
CREATE INDEX outbox_settled_idx ON workorder.outbox (settled_at) WHERE state IN ('delivered', 'dead');
SELECT pg_catalog.pg_extension_config_dump('workorder.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.outbox_id_seq', '');
REVOKE ALL ON workorder.outbox FROM PUBLIC;
COMMENT ON TABLE workorder.outbox IS
    'Messages to the channels (status changes, results), made by a trigger on order_events; connectors use claim_outbox/ack_outbox/fail_outbox.';
COMMENT ON COLUMN workorder.outbox.state IS
    'pending (waits for next_attempt_at), claimed (leased until claimed_until), delivered (acknowledged), dead (max attempts reached)';
COMMENT ON COLUMN workorder.outbox.claimed_by IS
    'the claimer of the current claim, or of the last one when its lease ran out (lease_expired_at); NULL for an anonymous claimer and after a fail';
COMMENT ON COLUMN workorder.outbox.lease_expired_at IS
    'when the last claim''s lease ran out and the message was given back (pending again, or dead); a late ack of claimed_by is still taken until it is claimed again';
COMMENT ON COLUMN workorder.outbox.payload IS
    'ticket, kind, status, previous_status, unit, unit_name, result (resolve, close), reason, master_ticket (merged reports), occurred_at';

-- outbox_from_events makes the messages of the events one statement inserted.  It
-- is a statement trigger with a transition table: submit() writes the events of an
-- intake (submit, dispatch) in one statement, which then costs one call of this
-- function, not one per event.  The orders it reads are as the statement left them.
-- It is C (src/outbox.c): events that make no message cost no query, a message
-- to the event's own order is one lookup of the order and one INSERT ... VALUES
-- (none when its channel does not reply), and only resolve, close, reopen and
-- cancel, whose messages also go to the reports merged into the order, run the
-- join over the order's merged reports.
CREATE FUNCTION workorder.outbox_from_events()
RETURNS trigger
AS 'MODULE_PATHNAME', 'outbox_from_events'
LANGUAGE C;

-- Events restored (pg_restore, a pg_dump script with COPY or --inserts, a migration
-- loading history with check_function_bodies off) are history, not actions: they
-- make no messages (a restore brings back the outbox as it was, from the dump).
CREATE TRIGGER order_events_outbox
    AFTER INSERT ON workorder.order_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT
    WHEN (NOT workorder.loaded_by_restore('workorder.order_events'))
    EXECUTE FUNCTION workorder.outbox_from_events();

-- channel_rows_follow_code keeps what a channel has in the outbox and the inbox
-- with it when its code is renamed.  Neither has a foreign key to channels (a check
-- per message or row on the intake path), and the orders, logins and mappings follow
-- a rename by ON UPDATE CASCADE, so:
--   - the messages followed nothing: claim_outbox() under the new code found none of
--     them, and under the old one the channel was unknown (WO603);
--   - the inbox's rows pending under the old code were rejected as of an unknown
--     channel (WO301), a retry of a report whose order follows the new code too, and
--     the connector's inbox_mine, which reads its login's channel, showed none of its
--     rows.  An inbox row's channel is matched as drain_inbox() matches it, its
--     blanks trimmed.
CREATE FUNCTION workorder.channel_rows_follow_code()
RETURNS trigger
LANGUAGE plpgsql
-- As the owner: an admin renames channels, but only the owner writes the outbox and
-- updates the inbox (the foreign keys' cascades, too, run as the owner).
SECURITY DEFINER
AS $$
BEGIN
    UPDATE workorder.outbox x SET channel_code = NEW.code
     WHERE x.channel_code OPERATOR(pg_catalog.=) OLD.code;
    UPDATE workorder.inbox i SET channel = NEW.code
     WHERE workorder.trim_blanks(i.channel) OPERATOR(pg_catalog.=) OLD.code;
    RETURN NULL;
END
$$;
CREATE TRIGGER channels_rows_follow
    AFTER UPDATE OF code ON workorder.channels
    FOR EACH ROW
    WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION workorder.channel_rows_follow_code();

-- outbox_bad_argument raises WO603, a bad argument of a connector function.
CREATE FUNCTION workorder.outbox_bad_argument(what text, detail text, hint text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.raise_error('WO603', pg_catalog.format('invalid %s for the outbox', what), detail, hint);
END
$$;

-- outbox_batch_size checks the batch size a claim or a redrive asks for: 1 to
-- most, else WO603 with the caller's hint.
CREATE FUNCTION workorder.outbox_batch_size(max_messages integer, most integer, hint text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF max_messages IS NULL OR max_messages OPERATOR(pg_catalog.<) 1 OR max_messages OPERATOR(pg_catalog.>) most THEN
        PERFORM workorder.outbox_bad_argument('batch size',
            pg_catalog.format('max_messages is %s.', COALESCE(max_messages::text, 'NULL')), hint);
    END IF;
END
$$;

-- outbox_channel checks the channel a claim or a redrive names: one of
-- workorder.channels, else WO603.
CREATE FUNCTION workorder.outbox_channel(channel text)
RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM workorder.channels c WHERE c.code OPERATOR(pg_catalog.=) outbox_channel.channel) THEN
        PERFORM workorder.outbox_bad_argument('channel',
            pg_catalog.format('There is no channel %s.', COALESCE(pg_catalog.quote_literal(channel), 'NULL')),
            'Pass the code of a channel in workorder.channels.');
    END IF;
    RETURN channel;
END
$$;

-- outbox_claimer checks a claimer's name: NULL (anonymous) or 1 to 200 characters.
CREATE FUNCTION workorder.outbox_claimer(claimer text)
RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
    IF claimer IS NOT NULL AND (pg_catalog.btrim(claimer) OPERATOR(pg_catalog.=) ''
                                OR pg_catalog.length(claimer) OPERATOR(pg_catalog.>) 200
                                OR claimer OPERATOR(pg_catalog.~) '[[:cntrl:]]') THEN
        PERFORM workorder.outbox_bad_argument('claimer',
            pg_catalog.format('claimer is %s (%s characters).', pg_catalog.quote_literal(pg_catalog.left(claimer, 40)),
                              pg_catalog.length(claimer)),
            'Name the connector instance in 1 to 200 characters, without control characters, or pass NULL.');
    END IF;
    RETURN claimer;
END
$$;

-- claim_outbox claims up to max_messages due messages of a channel, in id order,
-- for lease: each becomes 'claimed' for lease from the claim, and its attempts
-- count the claim.  (From the moment of the claim, clock_timestamp(), not from the
-- start of the connector's transaction, now(), nor of its statement: claimed in a
-- transaction older than the lease, or by a procedure that loops for as long, a
-- message came back with its lease already over, and a second connector claimed it
-- at once and sent it again.  ack and fail date what they do so too.)  Due means pending and past next_attempt_at, or claimed with a lease
-- that ran out (the connector that had it is presumed dead), and no earlier
-- message of the same report pending or claimed: a report's messages go out one
-- at a time, in order (a dead one holds nothing up).  Rows another claim
-- holds locked are skipped, so two connectors never get the same message.  A
-- message claimed outbox_max_attempts times is not claimed again: once its lease
-- has run out, the claim (or outbox_expire, whichever comes first) makes it dead;
-- so does the claim with a pending message that has had that many attempts (the
-- setting was lowered since it failed).
-- WO603: an unknown channel, max_messages outside 1..10000, a lease outside
-- 1 second..1 day, a bad claimer.
CREATE FUNCTION workorder.claim_outbox(channel text, max_messages integer DEFAULT 100,
                                       lease interval DEFAULT '5 minutes', claimer text DEFAULT NULL)
RETURNS SETOF workorder.outbox
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    max_attempts integer := workorder.setting('outbox_max_attempts', '8')::integer;
    -- In a variable: compared with clock_timestamp() (volatile), next_attempt_at
    -- would be a filter of every row, not a bound of outbox_due_idx.  Read once the
    -- redrive's lock is held (below): a claim that waited for a redrive dated its
    -- lease from before the wait, came back with it over, and the next connector
    -- got the same message.
    claimed_at timestamptz;
BEGIN
    PERFORM workorder.check_channel_access(channel, 'claim the outbox');   -- an intake login: its own channel only (part 96)
    PERFORM workorder.outbox_channel(channel);
    PERFORM workorder.outbox_batch_size(max_messages, 10000, 'Claim 1 to 10000 messages at a time.');
    -- No part of the lease below zero: an interval comparison counts a month as 30
    -- days and a day as 24 hours, so '-1 mon 31 days' passed as 1 day where it was a
    -- lease of 0 seconds (a message claimed again at once), or of days.  With every
    -- part at zero or above, 1 day at most leaves no month.
    IF lease IS NULL OR workorder.interval_has_negative_part(lease)
       OR lease OPERATOR(pg_catalog.<) '1 second'::interval
       OR lease OPERATOR(pg_catalog.>) '1 day'::interval THEN
        PERFORM workorder.outbox_bad_argument('lease',
            pg_catalog.format('lease is %s.', COALESCE(lease::text, 'NULL')),
            'Pass how long the connector needs to deliver the batch, from 1 second to 1 day, with no part below zero.');
    END IF;
    claimer := workorder.outbox_claimer(claimer);
    -- Claims of a channel run side by side, but not beside its redrive_outbox():
    -- a claim that did not see a dead message made pending again took the report's
    -- later message beside it, and one that the redrive did not see let the dead
    -- one go out after the later one, in flight (both out of order at the channel).
    -- The statements below take their snapshots once the lock is held: not under
    -- REPEATABLE READ or SERIALIZABLE, whose snapshot is older than the wait (WO307).
    PERFORM workorder.require_read_committed('claim_outbox()',
        'Claim and redrive under READ COMMITTED (BEGIN ISOLATION LEVEL READ COMMITTED, or default_transaction_isolation of the connector''s role): with an older snapshot, a report''s messages can go out of order.');
    PERFORM workorder.lock_xact_shared('workorder.outbox_redrive', channel);
    claimed_at := pg_catalog.clock_timestamp();
    -- A message whose lease ran out after its last attempt is dead: the task
    -- outbox_expire says so too, but without a worker or a pg_cron job nothing
    -- else would, and it would stay claimed, neither claimable nor dead.  At most
    -- 1000 a claim, the oldest first: outbox_max_attempts lowered under a backlog
    -- made one claim of one message kill every message of its channel at once
    -- (50,000 took 4.4 s, each with its notice), and under a connector's statement
    -- timeout the claim failed, and rolled back, every time.
    UPDATE workorder.outbox x
       SET state = 'dead',
           last_error = CASE WHEN x.state OPERATOR(pg_catalog.=) 'claimed'
                             THEN workorder.outbox_lease_expired(x.claimed_by, x.attempts) ELSE x.last_error END,
           claimed_until = NULL,
           -- A pending one keeps when its lease ran out: its claimer's late ack is
           -- still taken.
           lease_expired_at = CASE WHEN x.state OPERATOR(pg_catalog.=) 'claimed' THEN claimed_at ELSE x.lease_expired_at END,
           settled_at = claimed_at
     WHERE x.id IN (SELECT y.id FROM workorder.outbox y
                     WHERE y.channel_code OPERATOR(pg_catalog.=) claim_outbox.channel
                       AND y.state IN ('pending', 'claimed')
                       AND y.next_attempt_at OPERATOR(pg_catalog.<=) claimed_at
                       AND y.attempts OPERATOR(pg_catalog.>=) max_attempts
                     ORDER BY y.id
                     LIMIT 1000
                       FOR UPDATE SKIP LOCKED);
    RETURN QUERY
    WITH due AS (
        SELECT m.id FROM workorder.outbox m
         WHERE m.channel_code OPERATOR(pg_catalog.=) claim_outbox.channel
           AND m.state IN ('pending', 'claimed')
           AND m.next_attempt_at OPERATOR(pg_catalog.<=) claimed_at
           AND m.attempts OPERATOR(pg_catalog.<) max_attempts
           -- A report's messages in order: none while an earlier one waits.
           AND NOT EXISTS (SELECT 1 FROM workorder.outbox e
                            WHERE e.order_id OPERATOR(pg_catalog.=) m.order_id
                              AND e.id OPERATOR(pg_catalog.<) m.id
                              AND e.state IN ('pending', 'claimed'))
         ORDER BY m.id
         LIMIT max_messages
           FOR UPDATE SKIP LOCKED
    )
    UPDATE workorder.outbox m
       SET state = 'claimed', claimed_by = claim_outbox.claimer,
           claimed_until = claimed_at OPERATOR(pg_catalog.+) lease,
           next_attempt_at = claimed_at OPERATOR(pg_catalog.+) lease,
           attempts = m.attempts OPERATOR(pg_catalog.+) 1, lease_expired_at = NULL
      FROM due
     WHERE m.id OPERATOR(pg_catalog.=) due.id
    RETURNING m.*;
END
$$;

-- outbox_lease_expired is the last error of a message whose lease ran out after its
-- last attempt (claim_outbox and the task outbox_expire write it).
CREATE FUNCTION workorder.outbox_lease_expired(claimer text, attempts integer)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    RETURN pg_catalog.format('lease of %s expired after %s attempts', COALESCE(claimer, 'an anonymous claimer'), attempts);
END
$$;

-- outbox_claimed returns a message that ack or fail may settle, locked: WO603 for a
-- NULL id, WO601 for an unknown message, WO602 for a message that is not claimed or
-- is claimed by another claimer.  A NULL claimer settles only an anonymous claim:
-- it settled anyone's, so a connector that never claimed a message could give it
-- back while its holder delivered it (sent twice), or acknowledge it while its
-- holder failed (never sent).  A
-- delivered message is returned as it is, for ack to be idempotent.  For ack, a
-- message whose lease ran out and that nobody claimed since (lease_expired_at) is
-- as good as claimed by its last claimer: the connector was slow, not dead, and
-- delivered it.
CREATE FUNCTION workorder.outbox_claimed(message_id bigint, claimer text, action text)
RETURNS workorder.outbox
LANGUAGE plpgsql
AS $$
DECLARE
    m workorder.outbox;
BEGIN
    IF message_id IS NULL THEN
        PERFORM workorder.outbox_bad_argument('message id', 'message_id is NULL.',
            'Pass the id of a message that claim_outbox() returned.');
    END IF;
    claimer := workorder.outbox_claimer(claimer);
    -- A connector login mapped to no channel is refused before the message is read:
    -- refused by the message's channel, it learnt which ids exist and whose they are.
    PERFORM workorder.check_channel_access(workorder.caller_channel(), pg_catalog.format('%s outbox messages', action));
    SELECT * INTO m FROM workorder.outbox x WHERE x.id OPERATOR(pg_catalog.=) message_id FOR UPDATE;
    -- Another channel's message is, to a connector, as if it did not exist: trying
    -- ids told which exist and whose they are.
    IF NOT FOUND OR (workorder.caller_channel() IS NOT NULL AND NOT workorder.caller_unrestricted()
                     AND m.channel_code IS DISTINCT FROM workorder.caller_channel()) THEN
        PERFORM workorder.raise_error('WO601',
            pg_catalog.format('outbox message %s does not exist', message_id),
            pg_catalog.format('The action was %s.', action),
            'Pass the id of a message that claim_outbox() returned.');
    END IF;
    PERFORM workorder.check_channel_access(m.channel_code, pg_catalog.format('%s outbox messages', action));   -- its own channel only (part 96)
    IF m.state OPERATOR(pg_catalog.=) 'delivered' THEN
        RETURN m;
    END IF;
    IF m.state OPERATOR(pg_catalog.<>) 'claimed'
       AND NOT (action OPERATOR(pg_catalog.=) 'ack' AND m.lease_expired_at IS NOT NULL) THEN
        PERFORM workorder.raise_error('WO602',
            pg_catalog.format('outbox message %s is not claimed: %s is not allowed', m.id, action),
            pg_catalog.format('It is %s after %s attempts.', m.state, m.attempts),
            CASE WHEN m.state OPERATOR(pg_catalog.=) 'dead' THEN 'A dead message is not delivered any more; look at its last_error.'
                 WHEN m.lease_expired_at IS NULL AND m.last_error IS NOT NULL
                 THEN 'It was given back with fail_outbox(): claim it again with claim_outbox().'
                 WHEN m.attempts OPERATOR(pg_catalog.=) 0 THEN 'It was never claimed: claim it with claim_outbox().'
                 ELSE 'Its lease ran out and it was given back: claim it again with claim_outbox().' END);
    END IF;
    -- A claim, or a late ack, is its claimer's: an anonymous one's only after an
    -- anonymous claim.
    IF m.claimed_by IS DISTINCT FROM claimer THEN
        PERFORM workorder.raise_error('WO602',
            pg_catalog.format('outbox message %s is not claimed by %s: %s is not allowed', m.id,
                              COALESCE(claimer, 'an anonymous claimer'), action),
            CASE WHEN m.state OPERATOR(pg_catalog.=) 'claimed'
                 THEN pg_catalog.format('It is claimed by %s until %s.', COALESCE(m.claimed_by, 'an anonymous claimer'), m.claimed_until)
                 ELSE pg_catalog.format('Its last claim was by %s, whose lease ran out at %s.',
                                        COALESCE(m.claimed_by, 'an anonymous claimer'), m.lease_expired_at) END,
            'Settle only the messages your own claim returned; your lease may have run out and another connector taken it.');
    END IF;
    RETURN m;
END
$$;

-- ack_outbox marks a claimed message delivered and returns it.  Acknowledging a
-- delivered message again changes nothing (a connector may retry its ack).  An ack
-- after the lease ran out is still accepted while nobody else claimed the message:
-- also once outbox_expire gave it back (it is not sent again) or made it dead after
-- its last attempt (it was delivered after all).
CREATE FUNCTION workorder.ack_outbox(message_id bigint, claimer text DEFAULT NULL)
RETURNS workorder.outbox
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    m workorder.outbox := workorder.outbox_claimed(message_id, claimer, 'ack');
    acked_at timestamptz := pg_catalog.clock_timestamp();
BEGIN
    IF m.state OPERATOR(pg_catalog.=) 'delivered' THEN
        RETURN m;
    END IF;
    UPDATE workorder.outbox x
       SET state = 'delivered', delivered_at = acked_at, settled_at = acked_at, claimed_until = NULL
     WHERE x.id OPERATOR(pg_catalog.=) m.id
    RETURNING * INTO m;
    RETURN m;
END
$$;

-- outbox_backoff is the wait before the next attempt after attempts failed ones:
-- outbox_backoff_base doubled for each failure after the first, at most
-- outbox_backoff_max (retry_backoff, part 70, which the inbox uses too).
CREATE FUNCTION workorder.outbox_backoff(attempts integer)
RETURNS interval
LANGUAGE sql STABLE
AS $$
SELECT workorder.retry_backoff(attempts,
                               workorder.setting('outbox_backoff_base', '30 seconds')::interval,
                               workorder.setting('outbox_backoff_max', '1 hour')::interval)
$$;

-- fail_outbox gives a claimed message back after a failed delivery, with the error:
-- pending again after the backoff, or dead once it was claimed outbox_max_attempts
-- times.  WO603 for a NULL or blank error or one over 2000 characters.
CREATE FUNCTION workorder.fail_outbox(message_id bigint, error text, claimer text DEFAULT NULL)
RETURNS workorder.outbox
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    m workorder.outbox;
    max_attempts integer := workorder.setting('outbox_max_attempts', '8')::integer;
BEGIN
    -- Blank as submit() has it: a line break and a tab say nothing either.
    IF error IS NULL OR workorder.trim_blanks(error) OPERATOR(pg_catalog.=) ''
       OR pg_catalog.length(error) OPERATOR(pg_catalog.>) 2000 THEN
        PERFORM workorder.outbox_bad_argument('error',
            pg_catalog.format('error is %s (%s characters).',
                              COALESCE(pg_catalog.quote_literal(pg_catalog.left(error, 40)), 'NULL'),
                              COALESCE(pg_catalog.length(error), 0)),
            'Say why the delivery failed, in 1 to 2000 characters.');
    END IF;
    m := workorder.outbox_claimed(message_id, claimer, 'fail');
    IF m.state OPERATOR(pg_catalog.=) 'delivered' THEN
        PERFORM workorder.raise_error('WO602',
            pg_catalog.format('outbox message %s is delivered: fail is not allowed', m.id),
            pg_catalog.format('It was acknowledged at %s.', m.delivered_at),
            'A delivered message stays delivered; a connector must not fail a message it acknowledged.');
    END IF;
    UPDATE workorder.outbox x
       SET state = CASE WHEN x.attempts OPERATOR(pg_catalog.>=) max_attempts THEN 'dead' ELSE 'pending' END,
           settled_at = CASE WHEN x.attempts OPERATOR(pg_catalog.>=) max_attempts THEN pg_catalog.clock_timestamp() END,
           -- From the failure, not from the start of the connector's transaction.
           next_attempt_at = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) workorder.outbox_backoff(x.attempts),
           claimed_by = NULL, claimed_until = NULL, lease_expired_at = NULL, last_error = error
     WHERE x.id OPERATOR(pg_catalog.=) m.id
    RETURNING * INTO m;
    RETURN m;
END
$$;

REVOKE ALL ON FUNCTION workorder.claim_outbox(text, integer, interval, text),
                       workorder.ack_outbox(bigint, text),
                       workorder.fail_outbox(bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION workorder.claim_outbox(text, integer, interval, text) IS
    'Claims due outbox messages of a channel for a lease (at least once; two claims never share a message).';
COMMENT ON FUNCTION workorder.ack_outbox(bigint, text) IS 'Marks a claimed outbox message delivered (idempotent).';
COMMENT ON FUNCTION workorder.fail_outbox(bigint, text, text) IS
    'Gives a claimed outbox message back after a failed delivery: pending after a backoff, or dead after outbox_max_attempts.';

-- redrive_outbox sends a channel's dead messages again, once the channel's system is
-- back (its endpoint was down for longer than outbox_max_attempts allowed): each
-- becomes pending, due now, its attempts counted from 0, and claim_outbox takes a
-- report's messages in order as ever.  Not a message after which a later message of
-- the same report was delivered, or is being delivered (claimed): the channel knows
-- a later state, or is hearing it, which the older one would overwrite there (a
-- 'dispatch' arriving after its 'resolve'; claim_outbox holds back only a message
-- behind an earlier one, so a redriven one went out beside the later one in
-- flight), or may have heard it (its lease ran out, and its claimer's late ack is
-- still taken); it stays dead, counted as superseded.  died_since, when given, takes only the messages
-- that died since then (settled_at); at most max_messages, the oldest first (rows
-- another session holds are skipped).  Returns how many were sent again and how
-- many were left as superseded.  Until 0.5 a dead message could only wait for
-- retention_outbox to delete it.  WO603 for an unknown channel or max_messages
-- outside 1..100000.  The center's to decide, not a connector's: admins only (part
-- 98).
CREATE FUNCTION workorder.redrive_outbox(channel text, died_since timestamptz DEFAULT NULL,
                                         max_messages integer DEFAULT 10000)
RETURNS TABLE (redriven bigint, superseded bigint)
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    redriven_at timestamptz := pg_catalog.clock_timestamp();
BEGIN
    PERFORM workorder.outbox_channel(channel);
    PERFORM workorder.outbox_batch_size(max_messages, 100000, 'Send 1 to 100000 dead messages again at a time.');
    -- Alone, against the channel's claims (see claim_outbox), and so on a snapshot
    -- taken after every claim in flight has ended.
    PERFORM workorder.require_read_committed('redrive_outbox()',
        'Claim and redrive under READ COMMITTED (BEGIN ISOLATION LEVEL READ COMMITTED, or default_transaction_isolation of the connector''s role): with an older snapshot, a report''s messages can go out of order.');
    PERFORM workorder.lock_xact('workorder.outbox_redrive', channel);
    WITH dead AS (
        -- Overtaken: a later message of the report was delivered or is claimed, or
        -- its lease ran out (given back, or dead so): its claimer may have delivered
        -- it, and its late ack is still taken.
        SELECT m.id,
               EXISTS (SELECT 1 FROM workorder.outbox l
                        WHERE l.order_id OPERATOR(pg_catalog.=) m.order_id
                          AND l.id OPERATOR(pg_catalog.>) m.id
                          AND (l.state OPERATOR(pg_catalog.=) ANY ('{delivered,claimed}'::text[])
                               OR l.lease_expired_at IS NOT NULL)) AS overtaken
          FROM workorder.outbox m
         WHERE m.channel_code OPERATOR(pg_catalog.=) redrive_outbox.channel
           AND m.state OPERATOR(pg_catalog.=) 'dead'
           AND (died_since IS NULL OR m.settled_at OPERATOR(pg_catalog.>=) died_since)
         ORDER BY m.id
         LIMIT max_messages
           FOR UPDATE OF m SKIP LOCKED
    ), sent AS (
        UPDATE workorder.outbox x
           SET state = 'pending', attempts = 0, next_attempt_at = redriven_at, settled_at = NULL,
               claimed_by = NULL, claimed_until = NULL, lease_expired_at = NULL
          FROM dead d
         WHERE x.id OPERATOR(pg_catalog.=) d.id AND NOT d.overtaken
        RETURNING x.id
    )
    SELECT (SELECT pg_catalog.count(*) FROM sent), (SELECT pg_catalog.count(*) FROM dead WHERE dead.overtaken)
      INTO redriven, superseded;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION workorder.redrive_outbox(text, timestamptz, integer) FROM PUBLIC;
COMMENT ON FUNCTION workorder.redrive_outbox(text, timestamptz, integer) IS
    'Sends a channel''s dead outbox messages again (pending, attempts from 0), except those a later message of the same report, delivered or being delivered, overtook; returns (redriven, superseded).';
