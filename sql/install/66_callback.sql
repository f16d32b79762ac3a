-- workorder install script, part 66: the satisfaction callback (回访) through a channel.
--
-- After an order is resolved, someone asks the citizen how it went (a hotline
-- agent, an SMS survey, the app).  The verdict is satisfied (满意), basically
-- satisfied (基本满意) or unsatisfied (不满意), with a note.  It is taken while the
-- order is resolved or closed (order_actions: callback), and is logged as a
-- 'callback' event whose details carry the verdict; orders.satisfaction keeps the
-- latest one.  Both entry points share one body (workorder.callback_verdict):
--   workorder.callback(order_id, channel, callback_ref, verdict, note, actor)
--       a callback that arrives through a channel, idempotent on (channel,
--       callback_ref): a retry returns the workorder.callbacks row of the first
--       call and writes nothing; the same reference with another order or verdict
--       is WO802.  Concurrent retries are serialised by an advisory lock on the
--       reference, so there is never a second event.
--   workorder.callback(order_id, actor, satisfaction, note)
--       the center records a verdict itself (no reference; not idempotent).
--
-- A report merged into a master: its citizen heard the master's result through the
-- report's channel, and the verdict is the master's (callback_order): logged on the
-- master with the report in its details, counted for the master's unit; the
-- callbacks row names the report.
--
-- Redo (重办): an unsatisfied verdict reopens the order (workorder.reopen(): back
-- to its main unit, redo_count + 1, fresh deadlines, a 'reopen' event right after
-- the 'callback' event) when the policy says so.  The policy of a category is the
-- row of workorder.callback_redo_policies for it or its nearest ancestor, else the
-- setting callback_redo_on_unsatisfied ('on' or 'off', default 'off').
--
-- SQLSTATEs: WO801 an unknown or inactive channel, or a missing or oversized
-- callback reference (128 characters); WO802 a callback reference already used for
-- another order or verdict.  A verdict that is not one of the three is WO404 (an
-- invalid argument of an action), an unknown order WO402, an order that is neither
-- resolved nor closed WO401.

CREATE TABLE workorder.callbacks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_code text NOT NULL REFERENCES workorder.channels (code) ON UPDATE CASCADE,
    callback_ref text NOT NULL,
    order_id     bigint NOT NULL REFERENCES workorder.orders (id),
    verdict      text NOT NULL,
    note         text,
    actor        text NOT NULL,
    event_seq    integer NOT NULL,
    redo         boolean NOT NULL,
    at           timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    CONSTRAINT callbacks_ref_unique UNIQUE (channel_code, callback_ref),
    CONSTRAINT callbacks_verdict CHECK (verdict IN ('satisfied', 'basically_satisfied', 'unsatisfied'))
);
CREATE INDEX callbacks_order_idx ON workorder.callbacks (order_id);
SELECT pg_catalog.pg_extension_config_dump('workorder.callbacks', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.callbacks_id_seq', '');
REVOKE ALL ON workorder.callbacks FROM PUBLIC;
COMMENT ON TABLE workorder.callbacks IS
    'Callbacks (回访) received through a channel, one per (channel, callback_ref): what a retry returns.';
COMMENT ON COLUMN workorder.callbacks.event_seq IS 'the seq of the callback event in the order''s log (its master''s, for a merged report)';
COMMENT ON COLUMN workorder.callbacks.redo IS 'the unsatisfied verdict reopened the order (重办)';

-- callback_redo_policies says, per category subtree, whether an unsatisfied verdict
-- reopens the order; a category without a row inherits its nearest ancestor's.
CREATE TABLE workorder.callback_redo_policies (
    category_code       text PRIMARY KEY REFERENCES workorder.categories (code) ON UPDATE CASCADE ON DELETE CASCADE,
    redo_on_unsatisfied boolean NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('workorder.callback_redo_policies', '');
COMMENT ON TABLE workorder.callback_redo_policies IS
    'Whether an unsatisfied callback reopens an order of this category subtree; else the setting callback_redo_on_unsatisfied.';

-- callback_redo returns whether an unsatisfied verdict on an order of the category
-- reopens it: the nearest row of callback_redo_policies on the category's path,
-- else the setting callback_redo_on_unsatisfied (default off).
CREATE FUNCTION workorder.callback_redo(category text)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    redo boolean;
BEGIN
    SELECT p.redo_on_unsatisfied INTO redo
      FROM workorder.category_effective e
     CROSS JOIN LATERAL pg_catalog.unnest(e.path) WITH ORDINALITY AS c(code, depth)
      JOIN workorder.callback_redo_policies p ON p.category_code OPERATOR(pg_catalog.=) c.code
     WHERE e.code OPERATOR(pg_catalog.=) category
     ORDER BY c.depth DESC LIMIT 1;
    RETURN COALESCE(redo, workorder.setting('callback_redo_on_unsatisfied', 'off')::boolean);
END
$$;

-- callback_order locks and returns the order a verdict on order_id is recorded on:
-- the order itself (order_for_action: resolved or closed), or, for a report merged
-- into a master, the master.  Its citizen heard the master's result through the
-- report's channel, and judges that handling: the verdict counts for the master's
-- unit, and an unsatisfied one may send the master back.  (A merged report's
-- verdict was refused, WO401, on the report and on the master alike.)  The caller's
-- right is to the report (check_order_access); the master must be resolved or
-- closed.  Both are locked in id order, as merge() locks them.  report is the
-- merged report, NULL when the verdict is on order_id itself.
CREATE FUNCTION workorder.callback_order(order_id bigint, OUT o workorder.orders, OUT report workorder.orders)
LANGUAGE plpgsql
AS $$
DECLARE
    seen_master bigint;
BEGIN
    SELECT x.master_id INTO seen_master FROM workorder.orders x
     WHERE x.id OPERATOR(pg_catalog.=) callback_order.order_id
       AND x.status OPERATOR(pg_catalog.=) 'merged'::workorder.order_status;
    IF seen_master IS NOT NULL THEN
        PERFORM 1 FROM workorder.orders x
         WHERE x.id OPERATOR(pg_catalog.=) ANY (ARRAY[callback_order.order_id, seen_master])
         ORDER BY x.id FOR NO KEY UPDATE;
        SELECT * INTO report FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) callback_order.order_id;
    END IF;
    -- Not merged (or unmerged, or merged into another master, while this waited for the locks).
    IF report.id IS NULL OR NOT report.status OPERATOR(pg_catalog.=) 'merged'::workorder.order_status
       OR report.master_id IS DISTINCT FROM seen_master THEN
        report := NULL;
        o := workorder.order_for_action(order_id, 'callback');
        RETURN;
    END IF;
    PERFORM workorder.check_order_access(report, 'callback');
    SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) report.master_id;
    IF NOT o.status OPERATOR(pg_catalog.=) ANY ('{resolved,closed}'::workorder.order_status[]) THEN
        -- The master is named to a caller who may read it only.
        PERFORM workorder.raise_error('WO401',
            CASE WHEN workorder.caller_may_read(o)
                 THEN pg_catalog.format('order %s (id %s) is merged into order %s (id %s), which is %s: callback is not allowed',
                                        report.ticket, report.id, o.ticket, o.id, o.status)
                 ELSE pg_catalog.format('order %s (id %s) is merged into an order that is %s: callback is not allowed',
                                        report.ticket, report.id, o.status) END,
            'A merged report''s callback judges its master''s handling: it is taken once the master is resolved or closed.',
            'Ask the citizen once the master is resolved: its channel hears of it through the outbox.');
    END IF;
END
$$;

-- callback_report_details is what a callback event says of the merged report whose
-- citizen gave the verdict: {"report_order_id", "report_ticket"}, or {} for none.
CREATE FUNCTION workorder.callback_report_details(report workorder.orders)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$
SELECT CASE WHEN report.id IS NULL THEN '{}'::jsonb
            ELSE pg_catalog.jsonb_build_object('report_order_id', report.id, 'report_ticket', report.ticket::text) END
$$;

-- callback_verdict records a verdict on a locked order (resolved or closed): it
-- checks the verdict (WO404), stores it, logs the callback event with details, and
-- reopens the order when the verdict is unsatisfied and the policy says so.  It
-- returns the order as it left it and the seq of the callback event.
CREATE FUNCTION workorder.callback_verdict(o workorder.orders, who text, verdict text, said text,
                                           details jsonb, OUT after workorder.orders, OUT event_seq integer,
                                           OUT redo boolean)
LANGUAGE plpgsql
AS $$
BEGIN
    IF verdict IS NULL
       OR NOT verdict OPERATOR(pg_catalog.=) ANY ('{satisfied,basically_satisfied,unsatisfied}'::text[]) THEN
        PERFORM workorder.action_error(o, 'callback', 'WO404',
            'satisfaction is not one of satisfied, basically_satisfied, unsatisfied',
            pg_catalog.format('satisfaction is %s.', COALESCE(pg_catalog.quote_literal(verdict), 'NULL')),
            'Record what the citizen said: satisfied (满意), basically_satisfied (基本满意) or unsatisfied (不满意).');
    END IF;
    UPDATE workorder.orders x
       SET satisfaction = verdict, updated_at = pg_catalog.now()
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    after := workorder.action_done(after, 'callback', who, o.status, said,
        pg_catalog.jsonb_build_object('satisfaction', verdict) OPERATOR(pg_catalog.||) COALESCE(details, '{}'));
    event_seq := after.event_count;
    redo := verdict OPERATOR(pg_catalog.=) 'unsatisfied' AND workorder.callback_redo(o.category_code);
    IF redo THEN
        -- The callback's consequence, not an action of the caller's own: a connector
        -- records callbacks but may not reopen orders (reopen_locked, part 65).  The
        -- reason does not quote the note: a reopen's reason goes out to the channel
        -- of the order and of every report merged into it, and the note is one
        -- citizen's words (it carried a name and a phone number to the others).  The
        -- note stays in the callback's event, which staff read.
        after := workorder.reopen_locked(after, who, 'unsatisfied callback (回访不满意)');
    END IF;
END
$$;

-- callback (回访) by the center itself: the citizen's satisfaction, asked after the
-- order is resolved; returns the order as it left it (reopened when the verdict
-- is unsatisfied and the policy says so).
CREATE OR REPLACE FUNCTION workorder.callback(order_id bigint, actor text, satisfaction text, note text DEFAULT NULL)
RETURNS workorder.orders
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    target record;
    o workorder.orders;
    who text;
    said text;
BEGIN
    -- A connector records the callbacks that come through its channel, each with
    -- its reference (the form below): this form has none, so a retry logged the
    -- verdict twice, with an actor the connector chose.
    IF workorder.caller_channel() IS NOT NULL AND NOT workorder.caller_unrestricted() THEN
        PERFORM workorder.raise_error('WO951',
            pg_catalog.format('intake role %s may not record a callback without its channel and reference', workorder.calling_role()),
            pg_catalog.format('The order id is %s.', COALESCE(order_id::text, 'NULL')),
            'Call workorder.callback(order_id, channel, callback_ref, verdict, note, actor): it is idempotent on the reference.');
    END IF;
    SELECT * INTO target FROM workorder.callback_order(order_id);
    o := target.o;
    who := workorder.check_actor(actor);
    said := workorder.action_text(o, 'callback', 'note', note, false);
    o := (workorder.callback_verdict(o, who, satisfaction, said, workorder.callback_report_details(target.report))).after;
    -- A merged report's verdict goes to its master, which the caller may not read
    -- (intake merges across town lines): it then gets back the report it named.
    -- (It got the master's row, another citizen's name and phone among it.)
    IF (target.report).id IS NOT NULL AND NOT workorder.caller_may_read(o) THEN
        SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) (target.report).id;
    END IF;
    RETURN o;
END
$$;

-- callback through a channel, idempotent on (channel, callback_ref): see the top.
CREATE FUNCTION workorder.callback(order_id bigint, channel text, callback_ref text, verdict text,
                                   note text, actor text)
RETURNS workorder.callbacks
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
    ref text := workorder.trim_blanks(callback_ref);
    seen workorder.callbacks;
    target record;
    o workorder.orders;
    who text;
    said text;
    done record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM workorder.channels c
                    WHERE c.code OPERATOR(pg_catalog.=) channel AND c.active) THEN
        PERFORM workorder.raise_error('WO801',
            pg_catalog.format('callback: unknown or inactive channel %s',
                              COALESCE(pg_catalog.quote_literal(pg_catalog.left(channel, 40)), 'NULL')),
            pg_catalog.format('The channel is %s (%s characters); the order is %s.',
                              COALESCE(pg_catalog.quote_literal(pg_catalog.left(channel, 40)), 'NULL'),
                              COALESCE(pg_catalog.length(channel)::text, 'no'), COALESCE(order_id::text, 'NULL')),
            'Pass the code of an active channel in workorder.channels: the one the callback came through.');
    END IF;
    PERFORM workorder.check_channel_access(channel, 'record a callback');   -- a connector: its own channel (part 96)
    -- No control character, as submit() refuses in a report's reference (WO302).
    IF ref IS NULL OR ref OPERATOR(pg_catalog.=) '' OR pg_catalog.length(ref) OPERATOR(pg_catalog.>) 128
       OR ref OPERATOR(pg_catalog.~) '[[:cntrl:]]' THEN
        PERFORM workorder.raise_error('WO801',
            'callback: a callback reference of 1 to 128 characters, without control characters, is required',
            pg_catalog.format('The callback_ref is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(callback_ref, 40)), 'NULL')),
            'Pass the channel''s own reference of this callback: it makes a retry safe.');
    END IF;
    -- One callback reference at a time: a concurrent retry waits here, then finds
    -- the first call's row.
    PERFORM workorder.lock_xact('workorder.callbacks', channel OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) ref);
    SELECT * INTO seen FROM workorder.callbacks c
     WHERE c.channel_code OPERATOR(pg_catalog.=) channel AND c.callback_ref OPERATOR(pg_catalog.=) ref;
    IF FOUND THEN
        -- A retry tells the recorded callback only to one who may record it on its
        -- order; to another, no more than that the reference is taken.
        SELECT * INTO o FROM workorder.orders x WHERE x.id OPERATOR(pg_catalog.=) seen.order_id;
        BEGIN
            PERFORM workorder.check_order_access(o, 'callback');
        EXCEPTION WHEN SQLSTATE 'WO951' THEN
            PERFORM workorder.raise_error('WO802',
                pg_catalog.format('callback %s of channel %s was already recorded', ref, channel),
                'The reference names the callback of an order you may not record callbacks on.',
                'A callback reference names one callback; give a new callback a new reference.');
        END;
        IF seen.order_id IS DISTINCT FROM callback.order_id OR seen.verdict IS DISTINCT FROM callback.verdict THEN
            PERFORM workorder.raise_error('WO802',
                pg_catalog.format('callback %s of channel %s was already recorded with another order or verdict', ref, channel),
                pg_catalog.format('Recorded: order %s, %s. Now: order %s, %s.', seen.order_id, seen.verdict,
                                  COALESCE(order_id::text, 'NULL'), COALESCE(verdict, 'NULL')),
                'A callback reference names one callback; give a new callback a new reference.');
        END IF;
        RETURN seen;
    END IF;
    SELECT * INTO target FROM workorder.callback_order(order_id);
    o := target.o;
    who := workorder.check_actor(actor);
    said := workorder.action_text(o, 'callback', 'note', note, false);
    done := workorder.callback_verdict(o, who, verdict, said,
        pg_catalog.jsonb_build_object('channel', channel, 'callback_ref', ref)
            OPERATOR(pg_catalog.||) workorder.callback_report_details(target.report));
    INSERT INTO workorder.callbacks AS c (channel_code, callback_ref, order_id, verdict, note, actor, event_seq, redo)
    VALUES (channel, ref, COALESCE((target.report).id, o.id), verdict, said, who, done.event_seq, done.redo)
    RETURNING * INTO seen;
    RETURN seen;
END
$$;
COMMENT ON FUNCTION workorder.callback(bigint, text, text, text, text, text) IS
    'Records a citizen''s verdict (satisfied, basically_satisfied, unsatisfied) received through a channel; idempotent on (channel, callback_ref).';
