-- workorder install script, part 86: the escalation chain (issue 4, escalation).
--
-- A policy's escalation chain is a list of steps, each done once, in step order,
-- when its instant has come:  resolve_due_at + after, measured with
-- workorder.sla_extend on the resolve clock and calendar of the terms the order's
-- deadline is held to (its policy's in force when its clock started,
-- sla_order_terms in part 85; a policy changed since counts for new orders):
--   calendar_hours  after is plain elapsed time ('2 hours' = 2 hours later);
--   working_hours,
--   working_days    after's days part counts working days (add_working_days) and
--                   its time part working time (add_working_time) on the
--                   calendar; '0' is the resolve deadline itself.
-- Actions:
--   remind           an event only;
--   supervise        sets orders.supervised = true (督办);
--   escalate_parent  sets orders.escalated_to to the parent unit of the main unit,
--                    the first active one up the tree (main_unit is not changed; a
--                    parent out of use got escalations nobody read); with no active
--                    unit up the tree (a district department), to the center that
--                    dispatched the order, which supervises its departments (the
--                    step reached nobody, and was done); with neither (the
--                    district's center holds the order): NULL in the event, whose
--                    note says so, and escalated_to unchanged;
--   escalate_leader  sets orders.escalated_to to the setting district_leader (a
--                    name), or 'district leader' without it.
-- Each step done is a row of workorder.order_escalations, whose primary key
-- (order_id, step) makes it happen at most once, also across a crash and with
-- run_due_work() beside the worker, and an event 'escalate' (actor 'system',
-- details {step, action, to}).  orders.escalation_step is the last step done;
-- orders.next_escalation_at (kept by the trigger orders_escalation_next, partial
-- index orders_next_escalation_idx) is the instant of the next step while the order
-- is new, dispatched or accepted, NULL otherwise (a suspended order waits; resume
-- moves resolve_due_at and with it the remaining steps).  The task escalate (part
-- 93) reads only the rows whose next_escalation_at has come.
--
-- A new deadline does not undo steps done: resume and approved extensions move the
-- instants of the steps not yet done.  reopen starts a new chain: when an order
-- leaves resolved/closed for an open status its order_escalations rows are deleted
-- (the 'escalate' events stay in the event log), escalation_step goes back to 0 and
-- escalated_to to NULL; the new chain counts from the fresh resolve deadline.
--
-- Shipped chains (kept out of pg_dump while unchanged, as the shipped policies are):
--   standard, complex  0 remind, 1 day supervise, 2 days escalate_parent,
--                      3 days escalate_leader (working days after the deadline)
--   urgent             0 remind, 2 hours supervise, 4 hours escalate_parent,
--                      8 hours escalate_leader (elapsed time)
-- Changing a shipped step clears its shipped flag; inserting a step over a
-- still-shipped one replaces it.  Deleting a shipped step (or moving it to another
-- key) leaves a row in sla_escalation_steps_removed, which pg_dump keeps and whose
-- restore deletes the step again: CREATE EXTENSION puts the shipped steps back, and
-- a district that had dropped "escalate to the district leader" got it back on
-- every open order.  A change of a chain recomputes next_escalation_at of the open
-- orders of that policy.
--
-- SQLSTATE: WO521 invalid escalation step.

CREATE TABLE workorder.sla_escalation_steps (
    policy  text NOT NULL REFERENCES workorder.sla_policies (name) ON UPDATE CASCADE ON DELETE CASCADE,
    step    integer NOT NULL,
    after   interval NOT NULL,
    action  text NOT NULL,
    shipped boolean NOT NULL DEFAULT false,
    PRIMARY KEY (policy, step),
    CONSTRAINT sla_escalation_steps_action
        CHECK (action IN ('remind', 'supervise', 'escalate_parent', 'escalate_leader'))
);
SELECT pg_catalog.pg_extension_config_dump('workorder.sla_escalation_steps', 'WHERE NOT shipped');
COMMENT ON TABLE workorder.sla_escalation_steps IS
    'Escalation chain of an SLA policy: step n is done once, in order, at resolve_due_at + after on the policy''s resolve clock.';
COMMENT ON COLUMN workorder.sla_escalation_steps.after IS
    'Time after the resolve deadline: elapsed time on calendar_hours; working days (days part) and working time (time part) on the working clocks.';

CREATE TABLE workorder.order_escalations (
    order_id bigint NOT NULL REFERENCES workorder.orders (id),
    step     integer NOT NULL,
    done_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    action   text NOT NULL,
    PRIMARY KEY (order_id, step)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.order_escalations', '');
REVOKE ALL ON workorder.order_escalations FROM PUBLIC;
COMMENT ON TABLE workorder.order_escalations IS
    'Escalation steps done, one row per order and step (at most once); reopen deletes the rows of the order.';

ALTER TABLE workorder.orders
    ADD COLUMN escalation_step    integer NOT NULL DEFAULT 0,
    ADD COLUMN escalated_to       text,
    ADD COLUMN next_escalation_at timestamptz;
CREATE INDEX orders_next_escalation_idx ON workorder.orders (next_escalation_at)
    WHERE next_escalation_at IS NOT NULL;
COMMENT ON COLUMN workorder.orders.escalation_step IS 'the last escalation step done for the current deadline (0: none)';
COMMENT ON COLUMN workorder.orders.escalated_to IS 'the parent unit or district leader the order was last escalated to; a parent follows the main unit (reassign, dispatch), or the dispatching center while there is none (return)';
COMMENT ON COLUMN workorder.orders.next_escalation_at IS 'when the escalate task must next look at the order; NULL: never';

-- escalation_parent is the unit an escalate_parent step of an order of main_unit
-- goes to: the first active unit up the tree from its parent, or NULL.  An order
-- without a main unit (returned to its center, or never routed) is its
-- dispatching unit's: the step goes to that center's parent (part 93).
CREATE FUNCTION workorder.escalation_parent(main_unit text)
RETURNS text
LANGUAGE sql STABLE
AS $$
    WITH RECURSIVE up (code, parent_code, active, depth) AS (
        SELECT p.code, p.parent_code, p.active, 1
          FROM workorder.units u JOIN workorder.units p ON p.code OPERATOR(pg_catalog.=) u.parent_code
         WHERE u.code OPERATOR(pg_catalog.=) main_unit
        UNION ALL
        SELECT p.code, p.parent_code, p.active, up.depth OPERATOR(pg_catalog.+) 1
          FROM up JOIN workorder.units p ON p.code OPERATOR(pg_catalog.=) up.parent_code
         WHERE NOT up.active AND up.depth OPERATOR(pg_catalog.<) 32
    )
    SELECT up.code FROM up WHERE up.active ORDER BY up.depth LIMIT 1
$$;

-- escalation_recipient is the unit an escalate_parent step of an order held by
-- holder (its main unit, or its dispatching center without one), dispatched by
-- dispatching_unit, goes to: the first active unit up the tree from the holder's
-- parent, else the dispatching center when it is another unit and active, else
-- NULL.
CREATE FUNCTION workorder.escalation_recipient(holder text, dispatching_unit text)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT COALESCE(workorder.escalation_parent(holder),
                    (SELECT u.code FROM workorder.units u
                      WHERE u.code OPERATOR(pg_catalog.=) dispatching_unit AND u.active
                        AND u.code OPERATOR(pg_catalog.<>) holder))
$$;

-- escalation_after_move is escalated_to of an order whose main unit becomes
-- main_unit, dispatched by dispatching_unit (reassign, a dispatch after a return;
-- a return, or a failed verification whose unit is out of use, passes the
-- dispatching center, which holds the order then).  Once an escalate_parent step is
-- done, the order is escalated to its holder's parent: the new unit's
-- (escalation_recipient; its dispatching center without an active parent, NULL
-- without either), not the old one's (a water bureau's order read as escalated to
-- the urban management bureau; cleared, the new unit's parent never heard of it, as
-- the step is done once).  The dispatching center is the one after the move, as the
-- escalate task reads it (a reassign by another center recorded the one before).
-- The district leader stays; an order not escalated to a parent keeps what it has.
CREATE FUNCTION workorder.escalation_after_move(o workorder.orders, main_unit text, dispatching_unit text)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT CASE
        WHEN NOT EXISTS (SELECT 1 FROM workorder.order_escalations e
                          WHERE e.order_id OPERATOR(pg_catalog.=) o.id
                            AND e.action OPERATOR(pg_catalog.=) 'escalate_parent') THEN o.escalated_to
        WHEN o.escalated_to IS NULL
          OR EXISTS (SELECT 1 FROM workorder.units u WHERE u.code OPERATOR(pg_catalog.=) o.escalated_to)
            THEN workorder.escalation_recipient(main_unit, dispatching_unit)
        ELSE o.escalated_to END
$$;

-- sla_step_misfit says why a step after after the deadline cannot be counted on
-- calendar_code with resolve_clock (its instant past the 100 years a count walks,
-- WO503), or returns NULL: also for a calendar with no hours yet.  Counted from now,
-- as the escalation counts it from the deadline (escalation_at).
CREATE FUNCTION workorder.sla_step_misfit(calendar_code text, resolve_clock text, step integer, after interval)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF after IS NULL OR resolve_clock IS NULL
       OR NOT EXISTS (SELECT 1 FROM workorder.calendar_hours h WHERE h.calendar_code OPERATOR(pg_catalog.=) sla_step_misfit.calendar_code) THEN
        RETURN NULL;
    END IF;
    BEGIN
        PERFORM workorder.sla_extend(pg_catalog.now(), resolve_clock, after, calendar_code);
    EXCEPTION WHEN SQLSTATE 'WO503' THEN
        RETURN pg_catalog.format('Step %s, %s after the deadline on %s, does not end within 100 years on calendar %s.',
                                 step, after, resolve_clock, calendar_code);
    END;
    RETURN NULL;
END
$$;

-- sla_terms_misfit says why terms of policy_name (a policy as it is, or an earlier
-- version of it), or a step of its chain counted on them, cannot be counted on
-- their calendar as it is now, or returns NULL.  A calendar's hours cut after a
-- policy was accepted (part 85) made every submit() of the policy fail (WO503), and
-- every recompute of the orders held to an earlier version on it.
CREATE FUNCTION workorder.sla_terms_misfit(policy_name text, calendar_code text, accept_clock text,
                                           accept_amount interval, resolve_clock text, resolve_amount interval)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    s record;
    why text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM workorder.calendar_hours h WHERE h.calendar_code OPERATOR(pg_catalog.=) sla_terms_misfit.calendar_code) THEN
        RETURN NULL;
    END IF;
    BEGIN
        PERFORM workorder.deadline_after(pg_catalog.now(), accept_clock, accept_amount, calendar_code),
                workorder.deadline_after(pg_catalog.now(), resolve_clock, resolve_amount, calendar_code);
    EXCEPTION WHEN SQLSTATE 'WO503' THEN
        RETURN pg_catalog.format('Accept %s %s or resolve %s %s does not end within 100 years on calendar %s.',
                                 accept_clock, accept_amount, resolve_clock, resolve_amount, calendar_code);
    END;
    FOR s IN SELECT x.step, x.after FROM workorder.sla_escalation_steps x
              WHERE x.policy OPERATOR(pg_catalog.=) policy_name ORDER BY x.step LOOP
        why := workorder.sla_step_misfit(calendar_code, resolve_clock, s.step, s.after);
        IF why IS NOT NULL THEN
            RETURN why;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- sla_escalation_steps_before_write checks a step (WO521) and keeps the shipped flag.
CREATE FUNCTION workorder.sla_escalation_steps_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    months double precision;
    why text;
BEGIN
    months := (pg_catalog.date_part('year', NEW.after) OPERATOR(pg_catalog.*) 12)
              OPERATOR(pg_catalog.+) pg_catalog.date_part('month', NEW.after);
    IF NEW.step IS NULL OR NEW.step OPERATOR(pg_catalog.<) 1 OR NEW.after IS NULL
       OR months OPERATOR(pg_catalog.<>) 0 OR NEW.after OPERATOR(pg_catalog.<) '0'::interval
       OR workorder.interval_has_negative_part(NEW.after)   -- '1 day -20 hours' counted as 1 day
       -- (Longer steps passed here and failed every dispatch of the policy later.)
       OR NEW.after OPERATOR(pg_catalog.>) '1000 days'::interval THEN
        PERFORM workorder.raise_error('WO521',
            pg_catalog.format('invalid escalation step %s of policy %s', NEW.step, NEW.policy),
            pg_catalog.format('step is %s, after is %s.', COALESCE(NEW.step::text, 'NULL'),
                              COALESCE(NEW.after::text, 'NULL')),
            'Steps are numbered from 1; after is 0 to 1000 days, hours, minutes and seconds (no months), e.g. interval ''1 day''.');
    END IF;
    -- Counted on its policy's calendar too, as the policy's own amounts are (part
    -- 85): 9000 hours passed the cap above, and on a calendar open an hour a week
    -- every submit() of the policy then failed (WO503).  Not while the calendar
    -- has no hours yet, nor while rows are restored.
    IF NOT workorder.loaded_by_restore('workorder.sla_escalation_steps') THEN
        why := (SELECT workorder.sla_step_misfit(p.calendar_code, p.resolve_clock, NEW.step, NEW.after)
                  FROM workorder.sla_policies p WHERE p.name OPERATOR(pg_catalog.=) NEW.policy);
        IF why IS NOT NULL THEN
            PERFORM workorder.raise_error('WO521',
                pg_catalog.format('escalation step %s of policy %s cannot be reached on its calendar', NEW.step, NEW.policy),
                why,
                'Give the step a shorter after, or the policy''s calendar more working hours.');
        END IF;
    END IF;
    IF NEW.action IS NULL OR NEW.action NOT IN ('remind', 'supervise', 'escalate_parent', 'escalate_leader') THEN
        PERFORM workorder.raise_error('WO521',
            pg_catalog.format('invalid action of escalation step %s of policy %s', NEW.step, NEW.policy),
            pg_catalog.format('The action is %s.', COALESCE(pg_catalog.quote_literal(NEW.action), 'NULL')),
            'The action is remind, supervise, escalate_parent or escalate_leader.');
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        IF (NEW.policy, NEW.step, NEW.after, NEW.action) IS DISTINCT FROM (OLD.policy, OLD.step, OLD.after, OLD.action) THEN
            NEW.shipped := false;
        END IF;
    ELSIF EXISTS (SELECT 1 FROM workorder.sla_escalation_steps s
                   WHERE s.policy OPERATOR(pg_catalog.=) NEW.policy AND s.step OPERATOR(pg_catalog.=) NEW.step
                     AND s.shipped) THEN
        UPDATE workorder.sla_escalation_steps s
           SET after = NEW.after, action = NEW.action, shipped = NEW.shipped
         WHERE s.policy OPERATOR(pg_catalog.=) NEW.policy AND s.step OPERATOR(pg_catalog.=) NEW.step;
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER sla_escalation_steps_before_write
    BEFORE INSERT OR UPDATE ON workorder.sla_escalation_steps
    FOR EACH ROW EXECUTE FUNCTION workorder.sla_escalation_steps_before_write();
-- A step's policy must exist (it was a bare foreign key error, 23503): WO512, as for
-- rules, categories and priorities (part 85).
CREATE TRIGGER sla_escalation_steps_policy
    BEFORE INSERT OR UPDATE OF policy ON workorder.sla_escalation_steps
    FOR EACH ROW WHEN (NEW.policy IS NOT NULL AND NOT workorder.loaded_by_restore('workorder.sla_escalation_steps'))
    EXECUTE FUNCTION workorder.sla_policy_must_exist('escalation step', 'step', 'policy');

-- sla_escalation_steps_removed lists the shipped steps a district deleted (see the
-- header).  Dumped whole.
CREATE TABLE workorder.sla_escalation_steps_removed (
    policy     text NOT NULL,
    step       integer NOT NULL,
    removed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (policy, step)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.sla_escalation_steps_removed', '');
COMMENT ON TABLE workorder.sla_escalation_steps_removed IS
    'Shipped escalation steps deleted by the district: kept by pg_dump, so that a restore deletes them again.';

-- sla_escalation_step_removed records a shipped step that is deleted, or moved to
-- another policy or step number.  Not a step of a deleted policy (its deletion took
-- the step along, or its record deletes the step on a restore): the policy's own
-- record (sla_policies_removed, part 85) deletes every shipped step of it on a
-- restore, and a step's record made then, beside the dump's own, differed from the
-- source, or made their COPY fail on the duplicate key.
CREATE FUNCTION workorder.sla_escalation_step_removed()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM workorder.sla_policies p WHERE p.name OPERATOR(pg_catalog.=) OLD.policy)
       OR EXISTS (SELECT 1 FROM workorder.sla_policies_removed r WHERE r.name OPERATOR(pg_catalog.=) OLD.policy) THEN
        RETURN NULL;
    END IF;
    INSERT INTO workorder.sla_escalation_steps_removed (policy, step)
    VALUES (OLD.policy, OLD.step)
    ON CONFLICT ON CONSTRAINT sla_escalation_steps_removed_pkey DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER sla_escalation_steps_removed
    AFTER DELETE OR UPDATE OF policy, step ON workorder.sla_escalation_steps
    FOR EACH ROW WHEN (OLD.shipped)
    EXECUTE FUNCTION workorder.sla_escalation_step_removed();

-- sla_escalation_steps_truncated records every shipped step a TRUNCATE removes,
-- as sla_escalation_step_removed does for a DELETE: the chains truncated and loaded
-- anew came back as shipped on a restore, beside the new ones.
CREATE FUNCTION workorder.sla_escalation_steps_truncated()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO workorder.sla_escalation_steps_removed (policy, step)
    SELECT s.policy, s.step FROM workorder.sla_escalation_steps s WHERE s.shipped
    ON CONFLICT ON CONSTRAINT sla_escalation_steps_removed_pkey DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER sla_escalation_steps_truncated
    BEFORE TRUNCATE ON workorder.sla_escalation_steps
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.sla_escalation_steps_truncated();

-- sla_escalation_steps_removed_after_insert deletes the step a removal names while
-- it is still as shipped: on a restore, the one CREATE EXTENSION put back (a step
-- the district defined again at that place is its own, and stays).
CREATE FUNCTION workorder.sla_escalation_steps_removed_after_insert()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM workorder.sla_escalation_steps s
     WHERE s.policy OPERATOR(pg_catalog.=) NEW.policy AND s.step OPERATOR(pg_catalog.=) NEW.step AND s.shipped;
    RETURN NULL;
END
$$;
CREATE TRIGGER sla_escalation_steps_removed_after_insert
    AFTER INSERT ON workorder.sla_escalation_steps_removed
    FOR EACH ROW EXECUTE FUNCTION workorder.sla_escalation_steps_removed_after_insert();
ALTER TABLE workorder.sla_escalation_steps_removed ENABLE ALWAYS TRIGGER sla_escalation_steps_removed_after_insert;

INSERT INTO workorder.sla_escalation_steps (policy, step, after, action, shipped) VALUES
    ('standard', 1, '0', 'remind', true),
    ('standard', 2, '1 day', 'supervise', true),
    ('standard', 3, '2 days', 'escalate_parent', true),
    ('standard', 4, '3 days', 'escalate_leader', true),
    ('complex', 1, '0', 'remind', true),
    ('complex', 2, '1 day', 'supervise', true),
    ('complex', 3, '2 days', 'escalate_parent', true),
    ('complex', 4, '3 days', 'escalate_leader', true),
    ('urgent', 1, '0', 'remind', true),
    ('urgent', 2, '2 hours', 'supervise', true),
    ('urgent', 3, '4 hours', 'escalate_parent', true),
    ('urgent', 4, '8 hours', 'escalate_leader', true);

-- escalation_at returns the instant of an order's step after its resolve deadline,
-- on the resolve clock and calendar of the terms the order is held to: its
-- policy's in force when its clock started (sla_order_terms, part 85), as its
-- deadline is; calendar_hours on cn when the policy is gone (see the top of this
-- part).  Until 0.5 it took the policy as it is now: a policy moved from working
-- days to elapsed hours escalated its open orders on a Saturday and a Sunday,
-- while their deadlines counted working days.
CREATE FUNCTION workorder.escalation_at(o workorder.orders, after interval)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    terms workorder.sla_policy_versions := workorder.sla_order_terms(o);
BEGIN
    IF terms.name IS NULL THEN
        terms.resolve_clock := 'calendar_hours';
        terms.calendar_code := 'cn';
    END IF;
    RETURN workorder.sla_extend(o.resolve_due_at, terms.resolve_clock, after, terms.calendar_code);
END
$$;

-- escalation_next returns the instant of an order's next escalation step, or NULL.
-- The trigger below computes the same in C; this is its statement in SQL.
CREATE FUNCTION workorder.escalation_next(o workorder.orders)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    next_after interval;
BEGIN
    IF NOT (o.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted}'::workorder.order_status[])) OR o.resolve_due_at IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT s.after INTO next_after
      FROM workorder.sla_escalation_steps s
     WHERE s.policy OPERATOR(pg_catalog.=) o.sla_policy AND s.step OPERATOR(pg_catalog.>) o.escalation_step
     ORDER BY s.step LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN workorder.escalation_at(o, next_after);
END
$$;

-- orders_escalation_next keeps next_escalation_at (= escalation_next(NEW)), starts
-- a new chain on reopen (from resolved or closed to an open status, counting the
-- redo: the order's order_escalations rows go, escalation_step 0, escalated_to
-- NULL; not for a failed verification, which keeps its deadline) and wakes the
-- worker when the next step is within the worker's naptime.  C (src/deadlines.c):
-- it runs on every write of an order.
CREATE FUNCTION workorder.orders_escalation_next()
RETURNS trigger
AS 'MODULE_PATHNAME', 'deadlines_orders_escalation_next'
LANGUAGE C;

CREATE TRIGGER orders_escalation_next
    BEFORE INSERT OR UPDATE OF status, sla_policy, resolve_due_at, escalation_step
    ON workorder.orders
    FOR EACH ROW EXECUTE FUNCTION workorder.orders_escalation_next();
ALTER TABLE workorder.orders ENABLE ALWAYS TRIGGER orders_escalation_next;

-- A change of a chain recomputes next_escalation_at of the open orders of the policy.
-- The trigger orders_escalation_next reads the chains from the reference cache, so
-- these triggers must fire after the cache's own (sla_escalation_steps_reference_cache,
-- part 87), which tells the cache of the change: triggers of one event fire in the
-- order of their names, hence "to_orders".  As the extension's owner: orders change
-- only through the extension's functions (refuse_direct_change), and an admin, who
-- may change the chains, was refused the update of the orders (42501).
-- A TRUNCATE takes every chain away, as a DELETE of all rows does: every order
-- with a next step re-reads its chain (they kept their steps, for chains no longer
-- there, and a TRUNCATE and COPY of new chains left the orders of the policies not
-- copied back on the old delays); the COPY's INSERT then counts for its policies.
CREATE FUNCTION workorder.sla_escalation_steps_after_write()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
        UPDATE workorder.orders o SET escalation_step = o.escalation_step
         WHERE o.next_escalation_at IS NOT NULL;
        RETURN NULL;
    END IF;
    UPDATE workorder.orders o SET escalation_step = o.escalation_step
     WHERE o.sla_policy IN (SELECT c.policy FROM changed c)
       AND o.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted}'::workorder.order_status[]) AND o.resolve_due_at IS NOT NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER sla_escalation_steps_to_orders_insert AFTER INSERT ON workorder.sla_escalation_steps
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.sla_escalation_steps_after_write();
CREATE TRIGGER sla_escalation_steps_to_orders_update AFTER UPDATE ON workorder.sla_escalation_steps
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.sla_escalation_steps_after_write();
CREATE TRIGGER sla_escalation_steps_to_orders_delete AFTER DELETE ON workorder.sla_escalation_steps
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.sla_escalation_steps_after_write();
CREATE TRIGGER sla_escalation_steps_to_orders_truncate AFTER TRUNCATE ON workorder.sla_escalation_steps
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.sla_escalation_steps_after_write();
