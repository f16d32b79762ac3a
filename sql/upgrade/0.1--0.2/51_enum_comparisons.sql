-- workorder 0.1 -> 0.2: comparisons of the extension's enums that named no
-- schema (IN lists, IS DISTINCT FROM) now say OPERATOR(pg_catalog.=) or compare
-- text, so that an operator planted in public for the enum type cannot be picked
-- (test/scenario/hostile_search_path.t).  Copies of the install parts' definitions,
-- made by scripts/upgrade-function-copies; they must stay identical.

CREATE OR REPLACE FUNCTION workorder.areas_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    parent workorder.areas;
BEGIN
    IF NEW.parent_code IS NULL THEN
        IF NEW.level OPERATOR(pg_catalog.<>) 'district' THEN
            PERFORM workorder.raise_error('WO201',
                pg_catalog.format('area %s (%s) has no parent', NEW.code, NEW.name),
                pg_catalog.format('Level is %s; only a district may be a root area.', NEW.level),
                'Give the area the code of the area that contains it as parent_code.');
        END IF;
        NEW.path := ARRAY[NEW.code];
        NEW.path_names := ARRAY[NEW.name];
        RETURN NEW;
    END IF;

    SELECT * INTO parent FROM workorder.areas a
     WHERE a.code OPERATOR(pg_catalog.=) NEW.parent_code;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO201',
            pg_catalog.format('area %s (%s) has an unknown parent', NEW.code, NEW.name),
            pg_catalog.format('parent_code is %s, which is not a loaded area.', NEW.parent_code),
            'Load the parent area first.');
    END IF;
    IF NEW.level::pg_catalog.text IS DISTINCT FROM ((pg_catalog.enum_range(parent.level, NULL))[2])::pg_catalog.text THEN
        PERFORM workorder.raise_error('WO201',
            pg_catalog.format('area %s (%s) is not one level below its parent %s', NEW.code, NEW.name, parent.code),
            pg_catalog.format('The area''s level is %s and its parent''s is %s.', NEW.level, parent.level),
            'Levels go district > town > village > grid, one step at a time.');
    END IF;
    IF pg_catalog.left(NEW.code, pg_catalog.length(parent.code)) OPERATOR(pg_catalog.<>) parent.code THEN
        PERFORM workorder.raise_error('WO201',
            pg_catalog.format('area code %s does not extend its parent''s code %s', NEW.code, parent.code),
            pg_catalog.format('Area %s (%s) has parent %s (%s).', NEW.code, NEW.name, parent.code, parent.name),
            'Under GB/T 2260 a child''s code begins with its parent''s code; check the code or the parent.');
    END IF;
    IF NEW.in_jurisdiction AND NOT parent.in_jurisdiction THEN
        NEW.in_jurisdiction := false;
    END IF;
    NEW.path := parent.path OPERATOR(pg_catalog.||) NEW.code;
    NEW.path_names := parent.path_names OPERATOR(pg_catalog.||) NEW.name;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION workorder.route_steps(category text, channel text, area_chain text[],
                                      priority workorder.order_priority, description text)
RETURNS TABLE (step integer, rule_id bigint, rule_name text, matched boolean, chosen boolean,
               reason text, handling_level workorder.area_level, unit_code text,
               assisting_units text[], sla_policy text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    cat record := workorder.category_settings(category);
    r workorder.routing_rules;
    decided boolean := false;
    level workorder.area_level;
    kind text;
BEGIN
    step := 0;
    FOR r IN SELECT * FROM workorder.routing_rules x WHERE x.active ORDER BY x.position, x.id LOOP
        step := step OPERATOR(pg_catalog.+) 1;
        rule_id := r.id;
        rule_name := r.name;
        matched := false;
        chosen := false;
        unit_code := NULL;
        assisting_units := NULL;
        sla_policy := NULL;
        handling_level := NULL;
        IF r.category_code IS NOT NULL AND NOT (r.category_code OPERATOR(pg_catalog.=) ANY (COALESCE(cat.path, '{}'))) THEN
            reason := pg_catalog.format('category %s is not under %s', COALESCE(category, 'NULL'), r.category_code);
        ELSIF r.channel_code IS NOT NULL AND r.channel_code IS DISTINCT FROM channel THEN
            reason := pg_catalog.format('channel %s is not %s', channel, r.channel_code);
        ELSIF r.area_code IS NOT NULL AND NOT (r.area_code OPERATOR(pg_catalog.=) ANY (COALESCE(area_chain, '{}'))) THEN
            reason := pg_catalog.format('area %s is not within %s',
                                        COALESCE(area_chain[pg_catalog.cardinality(area_chain)], 'NULL'), r.area_code);
        ELSIF r.priority IS NOT NULL AND r.priority::pg_catalog.text IS DISTINCT FROM route_steps.priority::pg_catalog.text THEN
            reason := pg_catalog.format('priority %s is not %s', priority, r.priority);
        ELSIF r.keywords IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM pg_catalog.unnest(r.keywords) k
                 WHERE pg_catalog.strpos(pg_catalog.lower(description), pg_catalog.lower(k)) OPERATOR(pg_catalog.>) 0) THEN
            reason := pg_catalog.format('the description contains none of %s', pg_catalog.array_to_string(r.keywords, ', '));
        ELSE
            matched := true;
            level := COALESCE(r.handling_level, cat.handling_level);
            kind := COALESCE(r.department_kind, cat.department_kind);
            handling_level := level;
            sla_policy := COALESCE(r.sla_policy, cat.sla_policy);
            assisting_units := r.assisting_units;
            IF r.target OPERATOR(pg_catalog.<>) 'unit' AND level IS NULL THEN
                reason := 'matched, but neither the rule nor the category sets a handling level';
            ELSE
                unit_code := workorder.resolve_unit(r.target, kind, level, area_chain, r.unit_code);
                IF unit_code IS NULL THEN
                    reason := pg_catalog.format('matched, but no active %s%s serves area %s at %s level',
                                                r.target, CASE WHEN r.target OPERATOR(pg_catalog.=) 'department'
                                                               THEN ' of kind ' OPERATOR(pg_catalog.||) COALESCE(kind, 'NULL') ELSE '' END,
                                                COALESCE(area_chain[pg_catalog.cardinality(area_chain)], 'NULL'), level);
                ELSE
                    chosen := NOT decided;
                    decided := true;
                    reason := CASE WHEN chosen THEN 'matched' ELSE 'matched, but an earlier rule was chosen' END;
                END IF;
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;

    -- The category's default: its level, and at that level the department of its
    -- kind (none at village level) or else the center.
    step := step OPERATOR(pg_catalog.+) 1;
    kind := NULL;
    rule_id := NULL;
    rule_name := 'category default';
    matched := cat.code IS NOT NULL;
    chosen := false;
    assisting_units := '{}';
    handling_level := cat.handling_level;
    sla_policy := cat.sla_policy;
    unit_code := NULL;
    IF cat.code IS NULL THEN
        reason := pg_catalog.format('category %s is not in the catalogue', COALESCE(category, 'NULL'));
    ELSIF cat.handling_level IS NULL THEN
        reason := pg_catalog.format('category %s has no handling level', category);
    ELSE
        IF cat.handling_level OPERATOR(pg_catalog.<>) 'village' AND cat.department_kind IS NOT NULL THEN
            unit_code := workorder.resolve_unit('department', cat.department_kind, cat.handling_level, area_chain, NULL);
            kind := CASE WHEN unit_code IS NULL
                         THEN pg_catalog.format('center (no %s unit serves it)', cat.department_kind)
                         ELSE 'department kind ' OPERATOR(pg_catalog.||) cat.department_kind END;
        END IF;
        IF unit_code IS NULL THEN
            unit_code := workorder.resolve_unit('center', NULL, cat.handling_level, area_chain, NULL);
            kind := COALESCE(kind, 'center');
        END IF;
        IF unit_code IS NULL THEN
            reason := pg_catalog.format('no active unit serves area %s at %s level',
                                        COALESCE(area_chain[pg_catalog.cardinality(area_chain)], 'NULL'), cat.handling_level);
        ELSE
            chosen := NOT decided;
            decided := true;
            reason := CASE WHEN chosen THEN pg_catalog.format('%s level, %s', cat.handling_level, kind)
                           ELSE 'not needed: a rule was chosen' END;
        END IF;
    END IF;
    RETURN NEXT;
END
$$;

CREATE OR REPLACE FUNCTION workorder.sla_next_check(o workorder.orders)
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

CREATE OR REPLACE FUNCTION workorder.escalation_next(o workorder.orders)
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
    RETURN workorder.escalation_at(o.sla_policy, o.resolve_due_at, next_after);
END
$$;

CREATE OR REPLACE FUNCTION workorder.orders_escalation_next()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' AND OLD.status OPERATOR(pg_catalog.=) ANY ('{resolved,closed}'::workorder.order_status[])
       AND NEW.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted}'::workorder.order_status[]) THEN
        DELETE FROM workorder.order_escalations e WHERE e.order_id OPERATOR(pg_catalog.=) NEW.id;
        NEW.escalation_step := 0;
        NEW.escalated_to := NULL;
    END IF;
    IF NEW.resolve_due_at IS NULL OR NOT (NEW.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted}'::workorder.order_status[])) THEN
        NEW.next_escalation_at := NULL;
    ELSE
        NEW.next_escalation_at := workorder.escalation_next(NEW);
    END IF;
    IF NEW.next_escalation_at IS NOT NULL
       AND (TG_OP OPERATOR(pg_catalog.=) 'INSERT' OR NEW.next_escalation_at IS DISTINCT FROM OLD.next_escalation_at)
       AND NEW.next_escalation_at OPERATOR(pg_catalog.<) (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+)
            COALESCE(pg_catalog.current_setting('workorder.worker_naptime', true), '10s')::interval)
    THEN
        PERFORM workorder.wake_worker();
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION workorder.sla_escalation_steps_after_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE workorder.orders o SET escalation_step = o.escalation_step
     WHERE o.sla_policy IN (SELECT c.policy FROM changed c)
       AND o.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted}'::workorder.order_status[]) AND o.resolve_due_at IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION workorder.task_deadline_check()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    batch integer := GREATEST(workorder.setting('deadline_batch_rows', '1000')::integer, 1);
    o workorder.orders;
    t timestamptz;
    open boolean;
    warn boolean;
    late_accept boolean;
    late boolean;
    checked_until timestamptz;
    seen integer := 0;
    warnings integer := 0;
    late_accepts integer := 0;
    lates integer := 0;
    outcome workorder.task_outcome;
BEGIN
    -- The instant is taken once, into a variable: a comparison with clock_timestamp()
    -- (volatile) would be a filter over every row of the index, not an index bound.
    checked_until := pg_catalog.clock_timestamp();
    FOR o IN SELECT * FROM workorder.orders x
              WHERE x.next_check_at OPERATOR(pg_catalog.<=) checked_until
              ORDER BY x.next_check_at
              LIMIT batch
                FOR UPDATE SKIP LOCKED LOOP
        seen := seen OPERATOR(pg_catalog.+) 1;
        t := pg_catalog.clock_timestamp();
        open := o.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted}'::workorder.order_status[]);
        late := open AND NOT o.overdue AND o.resolve_due_at OPERATOR(pg_catalog.<=) t;
        warn := open AND NOT o.warned AND NOT o.overdue AND o.warn_at OPERATOR(pg_catalog.<=) t;
        late_accept := o.status OPERATOR(pg_catalog.=) 'dispatched' AND NOT o.accept_overdue
                       AND o.accept_due_at OPERATOR(pg_catalog.<=) t;
        UPDATE workorder.orders x
           SET warned = x.warned OR warn OR late,
               accept_overdue = x.accept_overdue OR late_accept,
               overdue = x.overdue OR late,
               next_check_at = NULL   -- recomputed by the trigger orders_sla_next_check
         WHERE x.id OPERATOR(pg_catalog.=) o.id
        RETURNING * INTO o;
        IF warn AND NOT late THEN
            PERFORM workorder.deadline_event(o, 'deadline_warning', o.warn_at);
            warnings := warnings OPERATOR(pg_catalog.+) 1;
        END IF;
        IF late_accept THEN
            PERFORM workorder.deadline_event(o, 'accept_overdue', o.accept_due_at);
            late_accepts := late_accepts OPERATOR(pg_catalog.+) 1;
        END IF;
        IF late THEN
            PERFORM workorder.deadline_event(o, 'overdue', o.resolve_due_at);
            lates := lates OPERATOR(pg_catalog.+) 1;
        END IF;
    END LOOP;
    outcome.rows := warnings OPERATOR(pg_catalog.+) late_accepts OPERATOR(pg_catalog.+) lates;
    outcome.detail := pg_catalog.format('%s orders checked: %s warnings, %s accept overdue, %s overdue',
                                        seen, warnings, late_accepts, lates);
    IF seen OPERATOR(pg_catalog.>=) batch THEN
        outcome.next_due := pg_catalog.now();
    ELSE
        SELECT x.next_check_at INTO outcome.next_due FROM workorder.orders x
         WHERE x.next_check_at IS NOT NULL ORDER BY x.next_check_at LIMIT 1;
    END IF;
    RETURN outcome;
END
$$;

CREATE OR REPLACE FUNCTION workorder.task_calendar_recompute()
RETURNS workorder.task_outcome
LANGUAGE plpgsql
AS $$
DECLARE
    changes bigint[];
    o workorder.orders;
    fresh record;
    new_resolve timestamptz;
    new_warn timestamptz;
    new_accept timestamptz;
    old_deadlines jsonb;
    seen integer := 0;
    changed integer := 0;
    outcome workorder.task_outcome;
BEGIN
    SELECT pg_catalog.array_agg(c.id) INTO changes FROM
        (SELECT x.id FROM workorder.calendar_changes x ORDER BY x.id LIMIT 1000 FOR UPDATE SKIP LOCKED) c;
    outcome.rows := 0;
    IF changes IS NULL THEN
        RETURN outcome;
    END IF;
    FOR o IN
        SELECT x.* FROM workorder.orders x
          JOIN workorder.sla_policies p ON p.name OPERATOR(pg_catalog.=) x.sla_policy
          JOIN workorder.calendars k ON k.code OPERATOR(pg_catalog.=) p.calendar_code
         WHERE x.status OPERATOR(pg_catalog.=) ANY ('{new,dispatched,accepted,suspended}'::workorder.order_status[]) AND x.resolve_due_at IS NOT NULL
           AND EXISTS (
               SELECT 1 FROM workorder.calendar_changes c
                WHERE c.id OPERATOR(pg_catalog.=) ANY (changes)
                  AND c.calendar_code OPERATOR(pg_catalog.=) p.calendar_code
                  AND (c.last_day IS NULL
                       OR c.last_day OPERATOR(pg_catalog.>=)
                          ((x.received_at AT TIME ZONE k.time_zone)::date OPERATOR(pg_catalog.-) 1))
                  AND (c.first_day IS NULL OR x.status OPERATOR(pg_catalog.=) 'suspended'
                       OR c.first_day OPERATOR(pg_catalog.<=)
                          ((GREATEST(x.resolve_due_at, x.accept_due_at, x.next_escalation_at)
                            AT TIME ZONE k.time_zone)::date OPERATOR(pg_catalog.+) 1)))
         ORDER BY x.id
           FOR UPDATE OF x LOOP
        seen := seen OPERATOR(pg_catalog.+) 1;
        SELECT * INTO fresh FROM workorder.sla_recomputed(o);
        new_resolve := workorder.recompute_keep(o.resolve_due_at, fresh.resolve_due_at);
        new_warn := workorder.recompute_keep(o.warn_at, fresh.warn_at);
        new_accept := workorder.recompute_keep(o.accept_due_at, fresh.accept_due_at);
        IF (new_resolve, new_warn, new_accept) IS NOT DISTINCT FROM (o.resolve_due_at, o.warn_at, o.accept_due_at) THEN
            -- The deadlines stay; the escalation instants after them may have moved.
            UPDATE workorder.orders x SET escalation_step = x.escalation_step WHERE x.id OPERATOR(pg_catalog.=) o.id;
            CONTINUE;
        END IF;
        old_deadlines := pg_catalog.jsonb_build_object('resolve_due_at', o.resolve_due_at,
                                                       'warn_at', o.warn_at, 'accept_due_at', o.accept_due_at);
        UPDATE workorder.orders x
           SET resolve_due_at = new_resolve, warn_at = new_warn, accept_due_at = new_accept
         WHERE x.id OPERATOR(pg_catalog.=) o.id
        RETURNING * INTO o;
        PERFORM workorder.log_event(o, 'deadline_recomputed', 'system', o.status,
            pg_catalog.format('deadlines recomputed after a change of calendar %s',
                              (SELECT p.calendar_code FROM workorder.sla_policies p
                                WHERE p.name OPERATOR(pg_catalog.=) o.sla_policy)),
            pg_catalog.jsonb_build_object(
                'old', old_deadlines,
                'new', pg_catalog.jsonb_build_object('resolve_due_at', o.resolve_due_at,
                                                     'warn_at', o.warn_at, 'accept_due_at', o.accept_due_at)));
        changed := changed OPERATOR(pg_catalog.+) 1;
    END LOOP;
    DELETE FROM workorder.calendar_changes c WHERE c.id OPERATOR(pg_catalog.=) ANY (changes);
    outcome.rows := changed;
    outcome.detail := pg_catalog.format('%s calendar changes: %s orders looked at, %s with new deadlines',
                                        pg_catalog.cardinality(changes), seen, changed);
    IF pg_catalog.cardinality(changes) OPERATOR(pg_catalog.>=) 1000 THEN
        outcome.next_due := pg_catalog.now();
    END IF;
    RETURN outcome;
END
$$;
