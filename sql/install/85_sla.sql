-- workorder install script, part 85: SLA policies and deadlines (issue 4, SLA part).
--
-- A policy says how long a unit has to accept (sign for) an order and to resolve
-- it, each on one of three clocks:
--   calendar_hours  plain elapsed time: deadline = start + amount (any positive
--                   amount of hours, minutes and seconds, even '1 second')
--   working_hours   working time on the policy's calendar: add_working_time
--   working_days    "n working days, counted from the next working day":
--                   add_working_days; the amount is a whole number of days ('5 days',
--                   '0 days' = by the end of the working day)
-- Amounts are intervals: hours/minutes/seconds (no days, no months) on the two hours
-- clocks, whole days (no months, no time) on working_days.  warn_fraction (0 < x < 1)
-- places the warning: start + warn_fraction x the resolve span, measured on the
-- policy's clock (working time for the working clocks).
--
-- Shipped policies (kept out of pg_dump while unchanged, as calendars are):
--   standard  accept 2 working hours,     resolve 5 working days,   warn at 80 %
--   urgent    accept 30 calendar minutes, resolve 24 calendar hours, warn at 80 %
--   complex   accept 1 working day,       resolve 15 working days,  warn at 80 %
-- Changing a shipped policy clears its shipped flag, and from then on it is dumped;
-- inserting a policy whose name is that of a still-shipped one replaces it (this is
-- how pg_restore brings back a changed copy).  Deleting a policy leaves a row in
-- sla_policies_removed, which pg_dump keeps and whose restore deletes the shipped
-- policy again (see there).  The calendar is checked by a trigger
-- (WO501), not a foreign key: restoring a changed copy of a shipped calendar
-- replaces (deletes) the shipped one, which a foreign key would refuse.
--
-- Which policy an order gets, first that names an existing policy: the routing
-- rule's sla_policy > the priority's (workorder.sla_priority_policies; without a
-- row for the priority, 'urgent' priority maps to the policy 'urgent'; a row with a
-- NULL policy means no override) > the category's (category_settings) > 'standard'.
--
-- Deadlines:
--   * When an order is dispatched (at intake, by dispatch(), by reassign()),
--     accept_due_at counts from that instant; resolve_due_at counts from
--     received_at and is computed once: a later dispatch or reassign keeps it (and
--     the shifts and extensions it got).  reopen() starts both afresh from the
--     reopen instant, and clears the warned/accept_overdue/overdue marks.
--   * accept clears nothing: accept_due_at stays, for on-time rates.
--   * suspend pauses the resolve clock; resume moves resolve_due_at (and warn_at,
--     if the warning has not been given) by the paused time: the working time of
--     the suspension re-added with add_working_time on the working clocks, the
--     elapsed time on calendar_hours.
--   * approve_extension moves resolve_due_at (and an unreached warn_at) by the
--     extension on the policy's clock: calendar_hours adds it as is; the working
--     clocks count its days part as working days (add_working_days) and its time
--     part as working time (add_working_time).  request_extension refuses months.
--   * next_check_at (kept by the trigger orders_sla_next_check) is the earliest of
--     warn_at (not yet warned), accept_due_at (while dispatched, not yet marked) and
--     resolve_due_at (not yet overdue), while the order is new, dispatched or
--     accepted; NULL otherwise (a suspended order's clock is paused).  The task
--     deadline_check (part 92) reads only the rows whose next_check_at has come.
--
-- SQLSTATEs: WO511 invalid SLA policy (a row of sla_policies or
-- sla_priority_policies); WO512 unknown SLA policy; WO513 invalid argument of a
-- deadline function (unknown clock, an amount of the wrong shape).

CREATE TABLE workorder.sla_policies (
    name           text PRIMARY KEY,
    calendar_code  text NOT NULL DEFAULT 'cn',
    accept_clock   text NOT NULL,
    accept_amount  interval NOT NULL,
    resolve_clock  text NOT NULL,
    resolve_amount interval NOT NULL,
    warn_fraction  numeric NOT NULL DEFAULT 0.8,
    description    text,
    shipped        boolean NOT NULL DEFAULT false,
    CONSTRAINT sla_policies_warn_fraction CHECK (warn_fraction OPERATOR(pg_catalog.>) 0
                                                 AND warn_fraction OPERATOR(pg_catalog.<) 1),
    CONSTRAINT sla_policies_accept_clock CHECK (accept_clock IN ('calendar_hours', 'working_hours', 'working_days')),
    CONSTRAINT sla_policies_resolve_clock CHECK (resolve_clock IN ('calendar_hours', 'working_hours', 'working_days'))
);
SELECT pg_catalog.pg_extension_config_dump('workorder.sla_policies', 'WHERE NOT shipped');
COMMENT ON TABLE workorder.sla_policies IS
    'SLA policies: accept and resolve durations on a clock (calendar_hours, working_hours, working_days) and the warning fraction.';
COMMENT ON COLUMN workorder.sla_policies.shipped IS
    'True while the policy is exactly as the extension shipped it; pg_dump leaves such a policy out.';

CREATE TABLE workorder.sla_priority_policies (
    priority workorder.order_priority PRIMARY KEY,
    policy   text REFERENCES workorder.sla_policies (name) ON UPDATE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('workorder.sla_priority_policies', '');
COMMENT ON TABLE workorder.sla_priority_policies IS
    'A priority''s SLA policy, over the category''s.  Without a row, urgent maps to the policy urgent; a NULL policy means no override.';

-- sla_amount_error returns why an amount does not fit a clock, or NULL when it does.
-- At most 1000 working days, or 10000 hours: longer amounts passed here and failed
-- every dispatch of the policy later (a deadline beyond the calendar's 100-year walk,
-- WO503, or beyond the range of timestamps, 22008), far from the row that caused it.
CREATE FUNCTION workorder.sla_amount_error(clock text, amount interval)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    months double precision := (pg_catalog.date_part('year', amount) OPERATOR(pg_catalog.*) 12)
                               OPERATOR(pg_catalog.+) pg_catalog.date_part('month', amount);
    days double precision := pg_catalog.date_part('day', amount);
    secs double precision := pg_catalog.date_part('epoch', amount)
                             OPERATOR(pg_catalog.-) (months OPERATOR(pg_catalog.*) 2592000)
                             OPERATOR(pg_catalog.-) (days OPERATOR(pg_catalog.*) 86400);
BEGIN
    IF clock IS NULL OR clock NOT IN ('calendar_hours', 'working_hours', 'working_days') THEN
        RETURN pg_catalog.format('the clock %s is not calendar_hours, working_hours or working_days',
                                 COALESCE(pg_catalog.quote_literal(clock), 'NULL'));
    END IF;
    IF amount IS NULL THEN
        RETURN 'the amount is NULL';
    END IF;
    IF months OPERATOR(pg_catalog.<>) 0 THEN
        RETURN pg_catalog.format('the amount %s has a months part', amount);
    END IF;
    IF clock OPERATOR(pg_catalog.=) 'working_days' THEN
        IF secs OPERATOR(pg_catalog.<>) 0 OR days OPERATOR(pg_catalog.<) 0 THEN
            RETURN pg_catalog.format('the amount %s is not a whole number (0 or more) of days', amount);
        END IF;
        IF days OPERATOR(pg_catalog.>) 1000 THEN
            RETURN pg_catalog.format('the amount %s is more than 1000 working days', amount);
        END IF;
    ELSIF days OPERATOR(pg_catalog.<>) 0 OR secs OPERATOR(pg_catalog.<=) 0 THEN
        RETURN pg_catalog.format('the amount %s is not a positive time of hours, minutes and seconds', amount);
    ELSIF secs OPERATOR(pg_catalog.>) 36000000 THEN
        RETURN pg_catalog.format('the amount %s is more than 10000 hours', amount);
    END IF;
    RETURN NULL;
END
$$;

-- sla_policies_before_write checks a policy (WO511, WO501) and keeps the shipped flag.
CREATE FUNCTION workorder.sla_policies_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    why text;
BEGIN
    IF NEW.name IS NULL OR NEW.name OPERATOR(pg_catalog.!~) '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' THEN
        PERFORM workorder.raise_error('WO511', 'invalid SLA policy name',
            pg_catalog.format('The name is %s.', COALESCE(pg_catalog.quote_literal(NEW.name), 'NULL')),
            'A policy name is 1 to 64 letters, digits, dots, dashes and underscores, e.g. standard.');
    END IF;
    PERFORM workorder.calendar_must_exist(NEW.calendar_code);
    why := COALESCE(workorder.sla_amount_error(NEW.accept_clock, NEW.accept_amount),
                    workorder.sla_amount_error(NEW.resolve_clock, NEW.resolve_amount));
    IF why IS NOT NULL THEN
        PERFORM workorder.raise_error('WO511',
            pg_catalog.format('SLA policy %s is invalid', NEW.name),
            pg_catalog.format('In accept (%s %s) or resolve (%s %s): %s.', NEW.accept_clock, NEW.accept_amount,
                              NEW.resolve_clock, NEW.resolve_amount, why),
            'Hours clocks take hours, minutes and seconds, e.g. interval ''2 hours''; working_days takes whole days, e.g. interval ''5 days''.');
    END IF;
    -- The caps above count hours and days, not the calendar they are counted on: a
    -- calendar with little working time (an office open an hour a week) took a
    -- policy whose deadline never ends within the calendar's 100-year walk, and then
    -- every report of its categories was refused at intake (WO503), far from this
    -- row.  So each amount is counted once, from now, on the policy's calendar.  A
    -- calendar with no working hours yet (being set up, or restored before its
    -- hours) is not asked: every policy on it would fail; nor are the shipped
    -- policies as the install script writes them, before deadline_after exists.
    IF (TG_OP OPERATOR(pg_catalog.=) 'UPDATE' OR NOT NEW.shipped)
       AND EXISTS (SELECT 1 FROM workorder.calendar_hours h WHERE h.calendar_code OPERATOR(pg_catalog.=) NEW.calendar_code) THEN
        BEGIN
            PERFORM workorder.deadline_after(pg_catalog.now(), NEW.accept_clock, NEW.accept_amount, NEW.calendar_code),
                    workorder.deadline_after(pg_catalog.now(), NEW.resolve_clock, NEW.resolve_amount, NEW.calendar_code);
        EXCEPTION WHEN SQLSTATE 'WO503' THEN
            PERFORM workorder.raise_error('WO511',
                pg_catalog.format('SLA policy %s cannot be met on calendar %s', NEW.name, NEW.calendar_code),
                pg_catalog.format('Accept %s %s or resolve %s %s does not end within 100 years on it: %s',
                                  NEW.accept_clock, NEW.accept_amount, NEW.resolve_clock, NEW.resolve_amount, SQLERRM),
                'Give the calendar more working hours, or the policy a shorter amount or the calendar_hours clock.');
        END;
    END IF;
    -- Its escalation steps are counted on its resolve clock and calendar (part 86):
    -- a policy moved to a sparser calendar, or to another clock, left a step that
    -- never ends there, and every submit() of the policy failed (WO503).
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE'
       AND (NEW.calendar_code, NEW.resolve_clock) IS DISTINCT FROM (OLD.calendar_code, OLD.resolve_clock) THEN
        -- (MATERIALIZED: each step counted once, not again for the filter.)
        why := (WITH m AS MATERIALIZED (
                    SELECT x.step, workorder.sla_step_misfit(NEW.calendar_code, NEW.resolve_clock, x.step, x.after) AS why
                      FROM workorder.sla_escalation_steps x
                     WHERE x.policy OPERATOR(pg_catalog.=) NEW.name)
                SELECT m.why FROM m WHERE m.why IS NOT NULL ORDER BY m.step LIMIT 1);
        IF why IS NOT NULL THEN
            PERFORM workorder.raise_error('WO511',
                pg_catalog.format('SLA policy %s cannot be met on calendar %s', NEW.name, NEW.calendar_code),
                why,
                'Shorten the step (workorder.sla_escalation_steps), or keep the policy on a calendar with more working hours.');
        END IF;
    END IF;
    IF NEW.warn_fraction IS NULL OR NEW.warn_fraction OPERATOR(pg_catalog.<=) 0
       OR NEW.warn_fraction OPERATOR(pg_catalog.>=) 1 THEN
        PERFORM workorder.raise_error('WO511',
            pg_catalog.format('SLA policy %s has an invalid warn_fraction', NEW.name),
            pg_catalog.format('warn_fraction is %s.', COALESCE(NEW.warn_fraction::text, 'NULL')),
            'warn_fraction is strictly between 0 and 1, e.g. 0.8.');
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        IF (NEW.name, NEW.calendar_code, NEW.accept_clock, NEW.accept_amount, NEW.resolve_clock,
            NEW.resolve_amount, NEW.warn_fraction, NEW.description)
           IS DISTINCT FROM (OLD.name, OLD.calendar_code, OLD.accept_clock, OLD.accept_amount, OLD.resolve_clock,
                             OLD.resolve_amount, OLD.warn_fraction, OLD.description) THEN
            NEW.shipped := false;
        END IF;
    ELSIF EXISTS (SELECT 1 FROM workorder.sla_policies p
                   WHERE p.name OPERATOR(pg_catalog.=) NEW.name AND p.shipped) THEN
        -- A policy inserted over a still-shipped one replaces it, in place, so that
        -- the priority mappings that name it stay valid.
        UPDATE workorder.sla_policies p
           SET calendar_code = NEW.calendar_code, accept_clock = NEW.accept_clock,
               accept_amount = NEW.accept_amount, resolve_clock = NEW.resolve_clock,
               resolve_amount = NEW.resolve_amount, warn_fraction = NEW.warn_fraction,
               description = NEW.description, shipped = NEW.shipped
         WHERE p.name OPERATOR(pg_catalog.=) NEW.name;
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER sla_policies_before_write
    BEFORE INSERT OR UPDATE ON workorder.sla_policies
    FOR EACH ROW EXECUTE FUNCTION workorder.sla_policies_before_write();

-- sla_policy_versions keeps the terms of every policy as they were from each change
-- on: an order is held to the terms in force when its clock started, also when its
-- deadlines are computed again later (calendar_recompute, part 93).  Recomputed
-- with the policy as it is now, a calendar change applied a longer resolve time
-- meant for new orders to every open one (and a shorter one pulled deadlines into
-- the past), blamed on the calendar.  The row of a change is written by the
-- policy's trigger; the upgrade from 0.4 gave each policy one row from -infinity.
CREATE TABLE workorder.sla_policy_versions (
    name           text NOT NULL REFERENCES workorder.sla_policies (name) ON UPDATE CASCADE ON DELETE CASCADE,
    valid_from     timestamptz NOT NULL,
    calendar_code  text NOT NULL,
    accept_clock   text NOT NULL,
    accept_amount  interval NOT NULL,
    resolve_clock  text NOT NULL,
    resolve_amount interval NOT NULL,
    warn_fraction  numeric NOT NULL,
    -- The version of a policy as the extension shipped it, made again by CREATE
    -- EXTENSION: pg_dump leaves it out, as it leaves out the shipped policies.
    shipped        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (name, valid_from)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.sla_policy_versions', 'WHERE NOT shipped');
REVOKE ALL ON workorder.sla_policy_versions FROM PUBLIC;
COMMENT ON TABLE workorder.sla_policy_versions IS
    'The terms of each SLA policy from each change on; an order is held to those in force when its clock started.';

-- sla_policies_keep_version writes the row of sla_policy_versions of a policy whose
-- terms are new or changed, valid from the transaction's start; a shipped policy's
-- terms, as the install makes them, from -infinity (the same in every database, so
-- that a restore finds them as they were).
CREATE FUNCTION workorder.sla_policies_keep_version()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE'
       AND (NEW.calendar_code, NEW.accept_clock, NEW.accept_amount, NEW.resolve_clock, NEW.resolve_amount,
            NEW.warn_fraction)
           IS NOT DISTINCT FROM (OLD.calendar_code, OLD.accept_clock, OLD.accept_amount, OLD.resolve_clock,
                                 OLD.resolve_amount, OLD.warn_fraction) THEN
        RETURN NULL;
    END IF;
    INSERT INTO workorder.sla_policy_versions AS v
        (name, valid_from, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount, warn_fraction,
         shipped)
    VALUES (NEW.name, CASE WHEN NEW.shipped THEN '-infinity'::timestamptz ELSE pg_catalog.now() END,
            NEW.calendar_code, NEW.accept_clock, NEW.accept_amount, NEW.resolve_clock,
            NEW.resolve_amount, NEW.warn_fraction, NEW.shipped)
    ON CONFLICT (name, valid_from) DO UPDATE
       SET calendar_code = EXCLUDED.calendar_code, accept_clock = EXCLUDED.accept_clock,
           accept_amount = EXCLUDED.accept_amount, resolve_clock = EXCLUDED.resolve_clock,
           resolve_amount = EXCLUDED.resolve_amount, warn_fraction = EXCLUDED.warn_fraction,
           shipped = EXCLUDED.shipped;
    RETURN NULL;
END
$$;
-- Not while rows are restored (loaded_by_restore): sla_policy_versions is restored with its
-- history, which a version dated the restore would have made longer.
CREATE TRIGGER sla_policies_keep_version
    AFTER INSERT OR UPDATE ON workorder.sla_policies
    FOR EACH ROW WHEN (NOT workorder.loaded_by_restore('workorder.sla_policies'))
    EXECUTE FUNCTION workorder.sla_policies_keep_version();

-- sla_policy_versions_dated dates a version written by a change at the change's
-- commit (as near as a trigger can: the deferred triggers run just before it), not
-- at its transaction's start: intake reads the policy without a lock, and an order
-- received while an admin's change was still open got the old terms; dated at the
-- transaction's start, the version said the new ones were in force for it, and the
-- next calendar change (or a resume, an extension, the escalation clock) counted
-- it on terms it never had (a deadline a week earlier, blamed on the calendar).
CREATE FUNCTION workorder.sla_policy_versions_dated()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE workorder.sla_policy_versions v SET valid_from = pg_catalog.clock_timestamp()
     WHERE v.name OPERATOR(pg_catalog.=) NEW.name AND v.valid_from OPERATOR(pg_catalog.=) pg_catalog.now();
    RETURN NULL;
END
$$;
-- Only the versions a change writes, dated now() by sla_policies_keep_version: not
-- the shipped ones (from -infinity) nor restored ones (their own instants).
CREATE CONSTRAINT TRIGGER sla_policy_versions_dated
    AFTER INSERT ON workorder.sla_policy_versions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NOT NEW.shipped AND NEW.valid_from OPERATOR(pg_catalog.=) pg_catalog.now())
    EXECUTE FUNCTION workorder.sla_policy_versions_dated();

-- sla_terms returns the terms of policy as they were at instant at: its version in
-- force then, or its first one for an instant before any, or the policy as it is
-- for one with no version (policies COPYed in); a calendar deleted since (the
-- policy had moved to another) is the policy's calendar now.  NULL for no such
-- policy.
CREATE FUNCTION workorder.sla_terms(policy text, at timestamptz)
RETURNS workorder.sla_policy_versions
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    terms workorder.sla_policy_versions;
BEGIN
    SELECT * INTO terms FROM workorder.sla_policy_versions v
     WHERE v.name OPERATOR(pg_catalog.=) policy AND v.valid_from OPERATOR(pg_catalog.<=) at
     ORDER BY v.valid_from DESC LIMIT 1;
    IF NOT FOUND THEN
        SELECT * INTO terms FROM workorder.sla_policy_versions v
         WHERE v.name OPERATOR(pg_catalog.=) policy
         ORDER BY v.valid_from LIMIT 1;
    END IF;
    IF NOT FOUND THEN
        SELECT p.name, '-infinity'::timestamptz, p.calendar_code, p.accept_clock, p.accept_amount,
               p.resolve_clock, p.resolve_amount, p.warn_fraction, p.shipped
          INTO terms
          FROM workorder.sla_policies p WHERE p.name OPERATOR(pg_catalog.=) policy;
    END IF;
    IF terms.name IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM workorder.calendars c WHERE c.code OPERATOR(pg_catalog.=) terms.calendar_code) THEN
        terms.calendar_code := (SELECT p.calendar_code FROM workorder.sla_policies p WHERE p.name OPERATOR(pg_catalog.=) policy);
    END IF;
    RETURN terms;
END
$$;

-- sla_clock_start says when an order's resolve clock started: at its last reopen or
-- unmerge (a redo's clock starts again, and so does an unmerged order's; seq is
-- that event's), else at received_at (seq 0).  The actions (sla_order_terms) and
-- the calendar recompute (sla_recomputed, part 93) count from it.
CREATE FUNCTION workorder.sla_clock_start(o workorder.orders, OUT at timestamptz, OUT seq integer)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    SELECT v.at, v.seq INTO at, seq FROM workorder.order_events v
     WHERE v.order_id OPERATOR(pg_catalog.=) o.id AND v.action IN ('reopen', 'unmerge')
     ORDER BY v.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        at := o.received_at;
        seq := 0;
    END IF;
END
$$;

-- sla_order_terms returns the terms an order's clock runs on: its policy's version in
-- force when the clock started (sla_clock_start).  Resume and extension move a
-- deadline on them, as the calendar recompute (part 93) computes it: with the policy
-- as it is now, a policy changed since (meant for new orders) moved an open order's
-- deadline one way, and the next calendar change moved it back.
CREATE FUNCTION workorder.sla_order_terms(o workorder.orders)
RETURNS workorder.sla_policy_versions
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN workorder.sla_terms(o.sla_policy, (workorder.sla_clock_start(o)).at);
END
$$;

-- calendars_keep_policies keeps the policies on their calendar: a renamed calendar
-- takes its policies with it (as its hours and days follow by their keys), and a
-- calendar that a policy uses is not deleted (WO502, at commit).  Without it every submit()
-- of an order under such a policy failed with "unknown calendar".  (A trigger, not
-- a foreign key: the policy's own check, WO501, already names an unknown calendar.)
CREATE FUNCTION workorder.calendars_keep_policies()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    users text;
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        UPDATE workorder.sla_policy_versions v SET calendar_code = NEW.code
         WHERE v.calendar_code OPERATOR(pg_catalog.=) OLD.code;
        UPDATE workorder.sla_policies p SET calendar_code = NEW.code
         WHERE p.calendar_code OPERATOR(pg_catalog.=) OLD.code;
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM workorder.calendars c WHERE c.code OPERATOR(pg_catalog.=) OLD.code) THEN
        RETURN NULL;   -- deleted and made again in the transaction
    END IF;
    -- A policy on it now, or one whose earlier terms were on it: orders are held to
    -- the terms in force when their clock started (sla_terms), and with the calendar
    -- gone they were counted again on the policy's calendar of now, silently.
    SELECT pg_catalog.string_agg(u.name, ', ' ORDER BY u.name) INTO users
      FROM (SELECT p.name FROM workorder.sla_policies p WHERE p.calendar_code OPERATOR(pg_catalog.=) OLD.code
            UNION
            SELECT v.name FROM workorder.sla_policy_versions v WHERE v.calendar_code OPERATOR(pg_catalog.=) OLD.code) u;
    IF users IS NOT NULL THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('calendar %s is used by SLA policies and cannot be deleted', OLD.code),
            pg_catalog.format('The policies on it (or whose earlier terms were on it) are %s.', users),
            'Move those policies to another calendar (UPDATE workorder.sla_policies SET calendar_code = ...) first; a calendar that earlier terms of a policy were on stays, for the orders held to them.');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER calendars_rename_policies
    AFTER UPDATE OF code ON workorder.calendars
    FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION workorder.calendars_keep_policies();
-- Checked at commit, as a deferred key would be: restoring a changed copy of a
-- shipped calendar deletes the shipped one and inserts the copy (part 80).
CREATE CONSTRAINT TRIGGER calendars_delete_policies
    AFTER DELETE ON workorder.calendars
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION workorder.calendars_keep_policies();

-- calendar_hours_keep_policies refuses, at commit, a calendar that SLA policies use
-- left without working hours, or with too few for a policy on it (WO502), as a
-- calendar in use is not deleted.  With no
-- hours no deadline can be counted on it: every submit and dispatch under those
-- policies failed, and so did the escalation and recompute tasks, for every order.
-- Deleted and written again in one transaction (a reload) is fine.
CREATE FUNCTION workorder.calendar_hours_keep_policies()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    -- The calendar whose hours a row left (a delete, an update) or joined (an
    -- insert: hours given to a calendar being set up, to which its policies were
    -- not counted yet).
    cal text := CASE TG_OP WHEN 'INSERT' THEN NEW.calendar_code ELSE OLD.calendar_code END;
    users text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM workorder.calendars c WHERE c.code OPERATOR(pg_catalog.=) cal)
       OR cal OPERATOR(pg_catalog.=) ANY (workorder.calendars_replaced()) THEN
        -- The calendar is gone (calendars_delete_policies speaks), or a copy
        -- replaced the shipped one in this transaction: pg_restore, one transaction
        -- per table, brings the copy's hours in the next one.
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM workorder.calendar_hours h WHERE h.calendar_code OPERATOR(pg_catalog.=) cal) THEN
        -- Hours left: the policies on it, and the earlier versions of policies that
        -- were on it (orders are held to them), must still fit them (part 86,
        -- sla_terms_misfit): hours cut after a policy was accepted made every
        -- submit() of the policy fail (WO503), or every recompute of the orders
        -- held to the version.
        -- (MATERIALIZED: each policy and version counted once, not again for the filter.)
        WITH t AS MATERIALIZED (
            SELECT p.name, workorder.sla_terms_misfit(p.name, p.calendar_code, p.accept_clock, p.accept_amount,
                                                      p.resolve_clock, p.resolve_amount) AS why
              FROM workorder.sla_policies p WHERE p.calendar_code OPERATOR(pg_catalog.=) cal
            UNION ALL
            SELECT v.name, workorder.sla_terms_misfit(v.name, v.calendar_code, v.accept_clock, v.accept_amount,
                                                      v.resolve_clock, v.resolve_amount)
              FROM workorder.sla_policy_versions v WHERE v.calendar_code OPERATOR(pg_catalog.=) cal)
        SELECT pg_catalog.format('%s: %s', t.name, t.why) INTO users
          FROM t WHERE t.why IS NOT NULL ORDER BY t.name LIMIT 1;
        IF users IS NOT NULL THEN
            PERFORM workorder.raise_error('WO502',
                pg_catalog.format('the working hours of calendar %s are too few for an SLA policy on it', cal),
                pg_catalog.format('Policy %s', users),
                'Keep more working hours, or give the policy shorter amounts (or steps), or another calendar, first.');
        END IF;
        RETURN NULL;
    END IF;
    SELECT pg_catalog.string_agg(DISTINCT u.name, ', ') INTO users FROM (
        SELECT p.name FROM workorder.sla_policies p WHERE p.calendar_code OPERATOR(pg_catalog.=) cal
        UNION ALL
        SELECT v.name FROM workorder.sla_policy_versions v WHERE v.calendar_code OPERATOR(pg_catalog.=) cal) u;
    IF users IS NOT NULL THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('calendar %s would have no working hours, and SLA policies use it', cal),
            pg_catalog.format('The policies on it (or whose earlier terms were on it) are %s.', users),
            'Give the calendar its weekly hours again in the same transaction, or move those policies to another calendar first.');
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER calendar_hours_keep_policies
    AFTER INSERT OR DELETE OR UPDATE ON workorder.calendar_hours
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION workorder.calendar_hours_keep_policies();

-- A routing rule or a category names an SLA policy by name (a text column: the
-- categories and rules are made before the policies, part 40 and 55), and an order
-- names the policy it was given.  Three triggers keep those names true:
--   - sla_policy_must_exist: a rule or category naming no policy is refused (WO512);
--     a misspelt policy was taken, and its orders silently got another one.  It
--     locks the policy's row (FOR KEY SHARE, as a foreign key would), so a delete
--     running beside it waits, and then sees the rule or category;
--   - sla_policies_rename: a policy's name is not changed (WO511).  An order keeps
--     the policy it was given for good (a reopen or unmerge brings a closed one
--     back), and the escalation chain, which followed a rename, left the orders on
--     the old name without one; a submit running beside a rename could not be seen;
--   - sla_policies_delete: a policy that a rule, a category or any order names is not
--     deleted (WO511, at commit, so that a restore may delete and insert again; it
--     waits for the orders being made, which name their policy without a lock).
-- The delete reads orders without an index on sla_policy: deleting a policy is rare.
CREATE FUNCTION workorder.sla_policy_must_exist()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    policy_name text;
BEGIN
    -- TG_ARGV: what the row is ('routing rule', 'category', ...), its naming column,
    -- and the column that names the policy (sla_policy when not given).
    policy_name := pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.->>) COALESCE(TG_ARGV[2], 'sla_policy');
    PERFORM 1 FROM workorder.sla_policies p WHERE p.name OPERATOR(pg_catalog.=) policy_name FOR KEY SHARE;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO512',
            pg_catalog.format('unknown SLA policy %s for %s %s', pg_catalog.quote_literal(policy_name), TG_ARGV[0],
                              pg_catalog.quote_literal(pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.->>) TG_ARGV[1])),
            pg_catalog.format('The policies are %s.',
                COALESCE((SELECT pg_catalog.string_agg(p.name, ', ' ORDER BY p.name) FROM workorder.sla_policies p), 'none')),
            'Name one of them, create the policy first (INSERT INTO workorder.sla_policies), or leave sla_policy NULL to inherit.');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER routing_rules_sla_policy
    BEFORE INSERT OR UPDATE OF sla_policy ON workorder.routing_rules
    FOR EACH ROW WHEN (NEW.sla_policy IS NOT NULL AND NOT workorder.loaded_by_restore('workorder.routing_rules'))
    EXECUTE FUNCTION workorder.sla_policy_must_exist('routing rule', 'name');
CREATE TRIGGER categories_sla_policy
    BEFORE INSERT OR UPDATE OF sla_policy ON workorder.categories
    FOR EACH ROW WHEN (NEW.sla_policy IS NOT NULL AND NOT workorder.loaded_by_restore('workorder.categories'))
    EXECUTE FUNCTION workorder.sla_policy_must_exist('category', 'code');
-- A priority's policy too (it was a bare foreign key error, 23503).  The escalation
-- steps' trigger is in part 86, with the steps.
CREATE TRIGGER sla_priority_policies_policy
    BEFORE INSERT OR UPDATE OF policy ON workorder.sla_priority_policies
    FOR EACH ROW WHEN (NEW.policy IS NOT NULL AND NOT workorder.loaded_by_restore('workorder.sla_priority_policies'))
    EXECUTE FUNCTION workorder.sla_policy_must_exist('priority', 'priority', 'policy');

-- (SECURITY DEFINER for the lock of orders, which an admin may not take itself.)
CREATE FUNCTION workorder.sla_policies_keep_users()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    users text;
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        PERFORM workorder.raise_error('WO511',
            pg_catalog.format('SLA policy %s cannot be renamed', OLD.name),
            pg_catalog.format('The new name is %s; orders keep the name of the policy they were given.',
                              pg_catalog.quote_literal(NEW.name)),
            'Make a policy of the new name (INSERT INTO workorder.sla_policies) and point rules and categories at it.');
    END IF;
    IF EXISTS (SELECT 1 FROM workorder.sla_policies p WHERE p.name OPERATOR(pg_catalog.=) OLD.name) THEN
        RETURN NULL;   -- deleted and made again in the transaction
    END IF;
    -- An order being made takes its policy from the reference cache and locks
    -- nothing: wait for those in flight (a submit of a rule this transaction has just
    -- pointed elsewhere), and keep new ones out until commit, so that the count sees
    -- them.  Deleting a policy is rare.
    LOCK TABLE workorder.orders IN SHARE MODE;
    SELECT pg_catalog.concat_ws('; ',
               (SELECT pg_catalog.format('%s orders', pg_catalog.count(*))
                  FROM workorder.orders o WHERE o.sla_policy OPERATOR(pg_catalog.=) OLD.name
                HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0),
               (SELECT 'routing rules ' OPERATOR(pg_catalog.||) pg_catalog.string_agg(r.id::text, ', ' ORDER BY r.id)
                  FROM workorder.routing_rules r WHERE r.sla_policy OPERATOR(pg_catalog.=) OLD.name),
               (SELECT 'categories ' OPERATOR(pg_catalog.||) pg_catalog.string_agg(c.code, ', ' ORDER BY c.code)
                  FROM workorder.categories c WHERE c.sla_policy OPERATOR(pg_catalog.=) OLD.name))
      INTO users;
    IF users OPERATOR(pg_catalog.<>) '' THEN
        PERFORM workorder.raise_error('WO511',
            pg_catalog.format('SLA policy %s is in use and cannot be deleted', OLD.name),
            pg_catalog.format('It is named by %s.', users),
            'An order keeps the policy it was given for good (reopen and unmerge bring closed ones back): leave the policy, and point rules and categories at another.');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sla_policies_rename
    AFTER UPDATE OF name ON workorder.sla_policies
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION workorder.sla_policies_keep_users();
-- At commit, as a deferred key would be checked.
CREATE CONSTRAINT TRIGGER sla_policies_delete
    AFTER DELETE ON workorder.sla_policies
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION workorder.sla_policies_keep_users();

-- sla_policies_removed lists the policies a district deleted, so that a restore
-- deletes them again: CREATE EXTENSION makes the shipped policies, pg_dump leaves
-- them out while they are as shipped, and a district that had deleted urgent got it
-- back, with its 30-minute accept deadline for every urgent report (the priority's
-- default), and its chain.  Every deleted name is recorded (a changed copy of a
-- shipped policy is no longer shipped, and deleting it left the shipped one to come
-- back too); the record stays when a policy of that name is made again.  Dumped
-- whole.
CREATE TABLE workorder.sla_policies_removed (
    name       text PRIMARY KEY,
    removed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('workorder.sla_policies_removed', '');
COMMENT ON TABLE workorder.sla_policies_removed IS
    'SLA policies deleted by the district: kept by pg_dump, so that a restore deletes the shipped ones again.';

-- record_removal is the trigger that records a deleted row of a table of shipped
-- rows by its key, in the table of removals that pg_dump keeps: TG_ARGV[0] names
-- that table, TG_ARGV[1] the key column the two share.  For each row a DELETE
-- removes, and for every row a TRUNCATE is about to remove (a statement trigger
-- BEFORE it, which still reads them).  The SLA policies' removals, and the
-- background tasks' (part 90).
CREATE FUNCTION workorder.record_removal()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
        EXECUTE pg_catalog.format('INSERT INTO %s (%I) SELECT t.%I FROM %I.%I t ON CONFLICT DO NOTHING',
                                  TG_ARGV[0]::regclass, TG_ARGV[1], TG_ARGV[1], TG_TABLE_SCHEMA, TG_TABLE_NAME);
    ELSE
        EXECUTE pg_catalog.format('INSERT INTO %s (%I) VALUES ($1) ON CONFLICT DO NOTHING', TG_ARGV[0]::regclass, TG_ARGV[1])
          USING pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.->>) TG_ARGV[1];
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER sla_policies_removed
    AFTER DELETE ON workorder.sla_policies
    FOR EACH ROW EXECUTE FUNCTION workorder.record_removal('workorder.sla_policies_removed', 'name');
CREATE TRIGGER sla_policies_truncated
    BEFORE TRUNCATE ON workorder.sla_policies
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.record_removal('workorder.sla_policies_removed', 'name');

-- sla_policies_removed_after_insert deletes what CREATE EXTENSION made of a policy
-- the record names, as far as it is still as shipped: the policy, its shipped
-- version and its shipped escalation steps (part 86).  A policy the district made
-- again under that name is its own and stays, but not the shipped steps and
-- version that came back under it: the deleted policy had taken them along.  A
-- record written by the triggers above is left alone: its policy is deleted
-- already, or about to be truncated, and deleting it then queued the deferred check
-- of sla_policies_delete for a row the TRUNCATE took away (it failed at commit,
-- reading a block of the old file).
CREATE FUNCTION workorder.sla_policies_removed_after_insert()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF pg_catalog.pg_trigger_depth() OPERATOR(pg_catalog.>) 1 THEN
        RETURN NULL;
    END IF;
    DELETE FROM workorder.sla_escalation_steps s
     WHERE s.policy OPERATOR(pg_catalog.=) NEW.name AND s.shipped;
    DELETE FROM workorder.sla_policy_versions v
     WHERE v.name OPERATOR(pg_catalog.=) NEW.name AND v.shipped;
    DELETE FROM workorder.sla_policies p
     WHERE p.name OPERATOR(pg_catalog.=) NEW.name AND p.shipped;
    RETURN NULL;
END
$$;
CREATE TRIGGER sla_policies_removed_after_insert
    AFTER INSERT ON workorder.sla_policies_removed
    FOR EACH ROW EXECUTE FUNCTION workorder.sla_policies_removed_after_insert();
ALTER TABLE workorder.sla_policies_removed ENABLE ALWAYS TRIGGER sla_policies_removed_after_insert;

INSERT INTO workorder.sla_policies
    (name, calendar_code, accept_clock, accept_amount, resolve_clock, resolve_amount, warn_fraction, description, shipped)
VALUES
    ('standard', 'cn', 'working_hours', '2 hours', 'working_days', '5 days', 0.8,
     'accept within 2 working hours, resolve within 5 working days', true),
    ('urgent', 'cn', 'calendar_hours', '30 minutes', 'calendar_hours', '24 hours', 0.8,
     'accept within 30 minutes, resolve within 24 hours, day and night', true),
    ('complex', 'cn', 'working_days', '1 day', 'working_days', '15 days', 0.8,
     'accept by the end of the next working day, resolve within 15 working days', true);

-- The order's SLA state, besides sla_policy, accept_due_at and resolve_due_at of part 50.
ALTER TABLE workorder.orders
    ADD COLUMN warn_at        timestamptz,
    ADD COLUMN warned         boolean NOT NULL DEFAULT false,
    ADD COLUMN accept_overdue boolean NOT NULL DEFAULT false,
    ADD COLUMN overdue        boolean NOT NULL DEFAULT false,
    ADD COLUMN next_check_at  timestamptz;
CREATE INDEX orders_next_check_idx ON workorder.orders (next_check_at) WHERE next_check_at IS NOT NULL;
COMMENT ON COLUMN workorder.orders.warn_at IS 'when the resolve deadline warning is due (start + warn_fraction of the span)';
COMMENT ON COLUMN workorder.orders.warned IS 'the deadline_warning event has been logged for the current deadline';
COMMENT ON COLUMN workorder.orders.accept_overdue IS 'the accept_overdue event has been logged for the current accept deadline';
COMMENT ON COLUMN workorder.orders.overdue IS 'the resolve deadline passed while the order was open';
COMMENT ON COLUMN workorder.orders.next_check_at IS 'when the deadline_check task must next look at the order; NULL: never';

-- policy_for returns the policy row of a name, or raises WO512.
CREATE FUNCTION workorder.sla_policy(policy text)
RETURNS workorder.sla_policies
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    p workorder.sla_policies;
BEGIN
    SELECT * INTO p FROM workorder.sla_policies x WHERE x.name OPERATOR(pg_catalog.=) policy;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO512',
            pg_catalog.format('unknown SLA policy %s', COALESCE(pg_catalog.quote_literal(policy), 'NULL')),
            'No row of workorder.sla_policies has this name.',
            'Use the name of a policy in workorder.sla_policies (standard, urgent, complex, or your own).');
    END IF;
    RETURN p;
END
$$;

-- choose_sla_policy returns the policy an order gets (see the top of this part).
-- C, from the per-backend reference cache (src/refcache.c): it runs at every
-- intake and dispatch.
CREATE FUNCTION workorder.choose_sla_policy(rule_id bigint, priority workorder.order_priority, category text)
RETURNS text
AS 'MODULE_PATHNAME', 'reference_choose_sla_policy'
LANGUAGE C STABLE;

-- deadline_after returns the instant amount after start on a clock (see the top of
-- this part).  NULL start gives NULL; a bad clock or amount is WO513.
CREATE FUNCTION workorder.deadline_after(start timestamptz, clock text, amount interval, calendar text DEFAULT 'cn')
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    why text := workorder.sla_amount_error(clock, amount);
BEGIN
    IF why IS NOT NULL THEN
        PERFORM workorder.raise_error('WO513', 'invalid deadline arguments',
            why OPERATOR(pg_catalog.||) '.',
            'Hours clocks take hours, minutes and seconds, e.g. interval ''2 hours''; working_days takes whole days, e.g. interval ''5 days''.');
    END IF;
    IF start IS NULL THEN
        RETURN NULL;
    END IF;
    -- The last instant a timestamptz holds is 294276-12-31 23:59:59.999999 UTC.
    IF clock OPERATOR(pg_catalog.=) 'calendar_hours' AND pg_catalog.isfinite(start)
       AND start OPERATOR(pg_catalog.>) ('294276-12-31 23:59:59.999999+00'::timestamptz OPERATOR(pg_catalog.-) amount) THEN
        PERFORM workorder.raise_error('WO513', 'invalid deadline arguments',
            pg_catalog.format('%s plus %s is past the last time a timestamptz holds.', start, amount),
            'Check the start time.');
    END IF;
    RETURN CASE clock
        WHEN 'calendar_hours' THEN start OPERATOR(pg_catalog.+) amount
        WHEN 'working_hours' THEN workorder.add_working_time(start, amount, calendar)
        ELSE workorder.add_working_days(start, pg_catalog.date_part('day', amount)::integer, calendar) END;
END
$$;

-- sla_hours returns a span as hours alone, without a days part: '4 days 2 hours'
-- becomes '98:00:00'.  calendar_hours is elapsed time, and an interval with days,
-- added to an instant, moves it by calendar days in the session's TimeZone: 95 or
-- 97 hours across a change of daylight saving time, so that a client in New York
-- got other deadlines than one in Beijing.  (A difference of two timestamptz has
-- days: 96 hours come out as '4 days'.)  Exact: no rounding through seconds.
-- WO513 for more than a million days, which no deadline has (and whose hours
-- overflow).
CREATE FUNCTION workorder.sla_hours(span interval)
RETURNS interval
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    days integer := pg_catalog.date_part('day', span)::integer;
BEGIN
    IF pg_catalog.abs(days) OPERATOR(pg_catalog.>) 1000000 THEN
        PERFORM workorder.raise_error('WO513', 'invalid deadline arguments',
            pg_catalog.format('The interval %s has more than a million days.', span),
            'Deadlines, pauses and extensions are at most 1000 days.');
    END IF;
    RETURN pg_catalog.make_interval(hours => days OPERATOR(pg_catalog.*) 24)
           OPERATOR(pg_catalog.+) (span OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => days));
END
$$;

-- sla_warn_at returns start + fraction of the span [start, due) on the clock: elapsed
-- time on calendar_hours, working time on the working clocks.
CREATE FUNCTION workorder.sla_warn_at(start timestamptz, due timestamptz, clock text, fraction numeric,
                                      calendar text DEFAULT 'cn')
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    span interval;
BEGIN
    IF start IS NULL OR due IS NULL THEN
        RETURN NULL;
    END IF;
    IF clock OPERATOR(pg_catalog.=) 'calendar_hours' THEN
        RETURN start OPERATOR(pg_catalog.+) (workorder.sla_hours(due OPERATOR(pg_catalog.-) start) OPERATOR(pg_catalog.*) fraction::double precision);
    END IF;
    span := workorder.working_time_between(start, due, calendar);
    IF span OPERATOR(pg_catalog.<=) '0'::interval THEN
        RETURN due;
    END IF;
    RETURN LEAST(due, workorder.add_working_time(start, span OPERATOR(pg_catalog.*) fraction::double precision, calendar));
END
$$;

-- sla_shift returns due moved by the time paused in [paused_from, paused_to): the
-- working time of the pause re-added on the working clocks, the elapsed time on
-- calendar_hours.
CREATE FUNCTION workorder.sla_shift(due timestamptz, clock text, paused_from timestamptz, paused_to timestamptz,
                                    calendar text DEFAULT 'cn')
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    paused interval;
BEGIN
    IF due IS NULL OR paused_from IS NULL OR paused_to IS NULL OR paused_to OPERATOR(pg_catalog.<=) paused_from THEN
        RETURN due;
    END IF;
    IF clock OPERATOR(pg_catalog.=) 'calendar_hours' THEN
        RETURN due OPERATOR(pg_catalog.+) workorder.sla_hours(paused_to OPERATOR(pg_catalog.-) paused_from);
    END IF;
    paused := workorder.working_time_between(paused_from, paused_to, calendar);
    IF paused OPERATOR(pg_catalog.<=) '0'::interval THEN
        RETURN due;
    END IF;
    RETURN workorder.add_working_time(due, paused, calendar);
END
$$;

-- sla_extend returns due moved by an extension on the clock: as elapsed time on
-- calendar_hours (a day is 24 hours); on the working clocks its days as working
-- days counted from the deadline's own day, then its time as working time.  An
-- extension with a negative part or with months is WO513 (the working clocks
-- ignored them, and calendar_hours moved the deadline back).
CREATE FUNCTION workorder.sla_extend(due timestamptz, clock text, extension interval, calendar text DEFAULT 'cn')
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    days integer := pg_catalog.date_part('day', extension)::integer;
    rest interval := extension OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => days);
BEGIN
    IF due IS NULL OR extension IS NULL THEN
        RETURN due;
    END IF;
    IF workorder.interval_has_negative_part(extension)
       OR pg_catalog.date_part('month', extension) OPERATOR(pg_catalog.<>) 0
       OR pg_catalog.date_part('year', extension) OPERATOR(pg_catalog.<>) 0 THEN
        PERFORM workorder.raise_error('WO513',
            'invalid extension for sla_extend',
            pg_catalog.format('The extension is %s.', extension),
            'An extension is days, hours, minutes and seconds, none of them negative, e.g. interval ''2 days''.');
    END IF;
    IF clock OPERATOR(pg_catalog.=) 'calendar_hours' THEN
        RETURN due OPERATOR(pg_catalog.+) workorder.sla_hours(extension);
    END IF;
    IF days OPERATOR(pg_catalog.>) 0 THEN
        -- From the instant just before the deadline: a deadline at 24:00 is the end
        -- of its day, though the instant is 00:00 of the next (counted from there,
        -- one working day more was added on calendars whose hours end at 24:00).
        due := workorder.add_working_days(due OPERATOR(pg_catalog.-) interval '1 microsecond', days, calendar);
    END IF;
    IF rest OPERATOR(pg_catalog.>) '0'::interval THEN
        due := workorder.add_working_time(due, rest, calendar);
    END IF;
    RETURN due;
END
$$;

-- sla_dispatched sets an order's deadlines when it is dispatched at the instant at:
-- accept_due_at from at; resolve_due_at from received_at when it has none, or, when
-- fresh (reopen), from at, with the marks cleared.  It returns the order as it left it.
-- The actions pass clock_timestamp(), the instant their event is logged at, from
-- which calendar_recompute (part 93) counts again: with now(), the start of the
-- transaction, a long transaction's deadlines were that much earlier, and the
-- recompute moved them, with a deadline_recomputed event.
CREATE FUNCTION workorder.sla_dispatched(o workorder.orders, at timestamptz, fresh boolean DEFAULT false)
RETURNS workorder.orders
LANGUAGE plpgsql
AS $$
DECLARE
    -- An order intake held (a suspected duplicate, an unresolved route) has no rule:
    -- the one routing would choose for it now gives its policy, as at intake.  (The
    -- rule's urgent went unheeded: a food poisoning report dispatched by hand after
    -- its review got five working days.)
    policy_name text := COALESCE(o.sla_policy, workorder.choose_sla_policy(
        COALESCE(o.route_rule_id,
                 (SELECT s.rule_id FROM workorder.route_steps(o.category_code, o.channel_code, o.area_chain,
                                                              o.priority, o.description) s
                   WHERE s.chosen)),
        o.priority, o.category_code));
    -- The accept clock starts now, under the terms in force now; the resolve clock
    -- started at receipt (or starts now, fresh), under the terms in force then, as
    -- the calendar recompute (part 93) counts them.
    p workorder.sla_policy_versions := workorder.sla_terms(policy_name, at);
    r workorder.sla_policy_versions;
    resolve_start timestamptz;
    resolve_due timestamptz := o.resolve_due_at;
    warn timestamptz := o.warn_at;
    after workorder.orders;
BEGIN
    IF p.name IS NULL THEN
        RETURN o;   -- no policy (even 'standard' was dropped): no deadlines
    END IF;
    IF fresh OR resolve_due IS NULL THEN
        resolve_start := CASE WHEN fresh THEN at ELSE o.received_at END;
        r := workorder.sla_terms(policy_name, resolve_start);
        resolve_due := workorder.deadline_after(resolve_start, r.resolve_clock, r.resolve_amount, r.calendar_code);
        warn := workorder.sla_warn_at(resolve_start, resolve_due, r.resolve_clock, r.warn_fraction, r.calendar_code);
    END IF;
    UPDATE workorder.orders x
       SET sla_policy = policy_name,
           accept_due_at = workorder.deadline_after(at, p.accept_clock, p.accept_amount, p.calendar_code),
           resolve_due_at = resolve_due, warn_at = warn, accept_overdue = false,
           warned = CASE WHEN fresh THEN false ELSE x.warned END,
           overdue = CASE WHEN fresh THEN false ELSE x.overdue END
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN after;
END
$$;

-- sla_intake returns the policy and deadlines of an order dispatched at intake:
-- choose_sla_policy(), then, when the policy exists, accept_due_at and
-- resolve_due_at are deadline_after(received, ...) on its clocks and warn_at is
-- sla_warn_at(received, resolve_due_at, ...).  C (src/deadlines.c), with the same
-- arithmetic as those plpgsql functions: it runs on every intake.
CREATE FUNCTION workorder.sla_intake(rule_id bigint, priority workorder.order_priority, category text,
                                     received timestamptz,
                                     OUT policy text, OUT accept_due_at timestamptz,
                                     OUT resolve_due_at timestamptz, OUT warn_at timestamptz)
AS 'MODULE_PATHNAME', 'deadlines_sla_intake'
LANGUAGE C STABLE;

-- sla_resumed moves the resolve deadline (and an unreached warning) of an order
-- resumed at resumed_at by the suspension that began at suspended_at.
CREATE FUNCTION workorder.sla_resumed(o workorder.orders, suspended_at timestamptz, resumed_at timestamptz)
RETURNS workorder.orders
LANGUAGE plpgsql
AS $$
DECLARE
    p workorder.sla_policy_versions;
    after workorder.orders;
BEGIN
    IF o.sla_policy IS NULL OR o.resolve_due_at IS NULL THEN
        RETURN o;
    END IF;
    p := workorder.sla_order_terms(o);
    IF p.name IS NULL THEN
        RETURN o;
    END IF;
    UPDATE workorder.orders x
       SET resolve_due_at = workorder.sla_shift(x.resolve_due_at, p.resolve_clock, suspended_at, resumed_at, p.calendar_code),
           warn_at = CASE WHEN x.warned THEN x.warn_at
                          ELSE workorder.sla_shift(x.warn_at, p.resolve_clock, suspended_at, resumed_at, p.calendar_code) END
     WHERE x.id OPERATOR(pg_catalog.=) o.id
    RETURNING * INTO after;
    RETURN after;
END
$$;

-- sla_warn_moved returns a warning instant for a deadline moved from old_due to
-- new_due by an extension: as far before new_due, on the clock, as warn was before
-- old_due.  Moving the warning by the extension itself put it at the deadline
-- whenever the working days snapped both to the end of the same day, and a
-- warning that falls due with the deadline is never given.
CREATE FUNCTION workorder.sla_warn_moved(warn timestamptz, old_due timestamptz, new_due timestamptz,
                                         clock text, calendar text DEFAULT 'cn')
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF warn IS NULL OR old_due IS NULL OR new_due IS NULL OR warn OPERATOR(pg_catalog.>=) old_due THEN
        RETURN warn;
    END IF;
    IF clock OPERATOR(pg_catalog.=) 'calendar_hours' THEN
        RETURN new_due OPERATOR(pg_catalog.-) workorder.sla_hours(old_due OPERATOR(pg_catalog.-) warn);
    END IF;
    RETURN workorder.add_working_time(new_due,
        OPERATOR(pg_catalog.-) workorder.working_time_between(warn, old_due, calendar), calendar);
END
$$;

-- sla_extended returns the order's resolve deadline and warning instant moved by an
-- approved extension, on its policy's clock as its terms have it (sla_order_terms;
-- calendar time when it has no policy):
-- the warning as far before the new deadline as it was before the old one.
CREATE FUNCTION workorder.sla_extended(o workorder.orders, extension interval,
                                       OUT resolve_due_at timestamptz, OUT warn_at timestamptz)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    p workorder.sla_policy_versions := workorder.sla_order_terms(o);
BEGIN
    IF p.name IS NULL THEN
        p.resolve_clock := 'calendar_hours';
        p.calendar_code := 'cn';
    END IF;
    resolve_due_at := workorder.sla_extend(o.resolve_due_at, p.resolve_clock, extension, p.calendar_code);
    warn_at := CASE WHEN o.warned THEN o.warn_at
                    ELSE workorder.sla_warn_moved(o.warn_at, o.resolve_due_at, resolve_due_at, p.resolve_clock,
                                                  p.calendar_code) END;
END
$$;

-- sla_next_check is when the deadline task must next look at an order.  (plpgsql,
-- not SQL: a SQL function with a pinned search_path is planned again on every call.)
-- The trigger below computes the same in C; this is its statement in SQL.
CREATE FUNCTION workorder.sla_next_check(o workorder.orders)
RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF NOT (o.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted}'::workorder.order_status[])) THEN
        RETURN NULL;
    END IF;
    RETURN LEAST(CASE WHEN NOT o.warned AND NOT o.overdue THEN o.warn_at END,
                 CASE WHEN o.status OPERATOR(pg_catalog.=) 'dispatched' AND NOT o.accept_overdue THEN o.accept_due_at END,
                 CASE WHEN NOT o.overdue THEN o.resolve_due_at END);
END
$$;

-- orders_sla_next_check keeps next_check_at (= sla_next_check(NEW)), and wakes the
-- worker (at commit) when a new value falls within the worker's naptime, so that
-- no deadline waits for a long sleep.  C (src/deadlines.c): it runs on every write
-- of an order.
CREATE FUNCTION workorder.orders_sla_next_check()
RETURNS trigger
AS 'MODULE_PATHNAME', 'deadlines_orders_sla_next_check'
LANGUAGE C;

CREATE TRIGGER orders_sla_next_check
    BEFORE INSERT OR UPDATE OF status, accept_due_at, resolve_due_at, warn_at, warned, accept_overdue, overdue
    ON workorder.orders
    FOR EACH ROW EXECUTE FUNCTION workorder.orders_sla_next_check();
ALTER TABLE workorder.orders ENABLE ALWAYS TRIGGER orders_sla_next_check;
