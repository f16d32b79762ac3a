-- workorder install script, part 02: what each setting is, and the check of a
-- settings row.
--
-- workorder.settings (part 00) holds the district's tunables as text, and each part
-- reads its own with workorder.setting(name, default) and casts it where it uses
-- it.  A mistyped value therefore used to fail far from where it was written, and
-- often everywhere at once: locate_tolerance_m = 'abc' failed every submit() with
-- 22P02, worker_enabled = 'maybe' stopped the database's worker, and
-- outbox_max_attempts = 'eight' every claim.  A mistyped name did nothing at all.
-- So every setting is declared here, with its kind and range, and a trigger checks
-- each row as it is written (INSERT, UPDATE and COPY, pg_restore's included): an
-- unknown name, or a value not of the setting's kind or out of its range, is WO010.
-- The parts keep their own checks where they read a value, for rows written before
-- this check existed.
--
-- Kinds:
--   integer    a whole number from min_value to max_value
--   number     a finite number from min_value to max_value
--   interval   an interval from min_value to max_value seconds, without months or
--              years (whose length in seconds is not fixed)
--   age        the same, with months and years (a retention: '6 months'), a month
--              counted as 30 days against the range
--   switch     on or off
--   choice     one of choices
--   time zone  a name in pg_timezone_names
--   srid       an SRID in spatial_ref_sys whose unit is the metre
--   code       the code of a unit or channel: 1 to 64 characters, no blanks at the
--              ends (whether it exists is checked where it is used, since a restore
--              may load settings before units and channels)
--   text       1 to 200 characters
--   weights    a JSON object of score rate names and non-negative weights, one of
--              them positive (score_weights_problem(), part 94, which score_weights()
--              asks too)

-- setting_definitions lists every setting: its kind, range or choices, its default
-- (what the reading part uses when there is no row; NULL: none) and what it does.
-- Every name a part reads is here (test/scenario/settings_registry.t compares the
-- names the sources read with this list).
CREATE VIEW workorder.setting_definitions AS
SELECT d.name, d.kind, d.min_value, d.max_value, d.choices, d.default_value, d.meaning
  FROM (VALUES
    ('locate_tolerance_m', 'number', 0, 100000, NULL::text[], '200',
     'how far (metres) locate() looks for the nearest area from a gap or sliver'),
    ('area_piece_vertices', 'integer', 5, 100000, NULL, '128',
     'vertex limit of each piece in area_pieces (ST_Subdivide)'),
    ('dispatch_unit', 'code', NULL, NULL, NULL, NULL,
     'the center that receives orders no rule routes (default: the center of the in-jurisdiction district)'),
    ('fallback_unit', 'code', NULL, NULL, NULL, NULL,
     'the unit that receives out-of-jurisdiction orders (default: none, they stay new)'),
    ('dedup_enabled', 'switch', NULL, NULL, NULL, 'on', 'whether submit() looks for duplicates'),
    ('dedup_radius_m', 'number', 1, 5000, NULL, '100', 'dedup: search radius in metres'),
    ('dedup_window', 'interval', 60.48, 7776000, NULL, '3 days',
     'dedup: the time gap at which the time score falls to 0 (an order still open is a candidate past it, within dedup_open_window)'),
    ('dedup_open_window', 'interval', 0, 31536000, NULL, '30 days',
     'dedup: how long after its receipt an order is a candidate, open or resolved recently (a category''s longer window counts instead)'),
    ('dedup_closed_window', 'interval', 0, 7776000, NULL, '3 days',
     'dedup: how long after it was resolved an order is still a candidate (the reopen window)'),
    ('dedup_weight_distance', 'number', 0, 100, NULL, '2', 'dedup: weight of the distance'),
    ('dedup_weight_time', 'number', 0, 100, NULL, '1', 'dedup: weight of the time gap'),
    ('dedup_weight_text', 'number', 0, 100, NULL, '4', 'dedup: weight of the text similarity'),
    ('dedup_weight_address', 'number', 0, 100, NULL, '1', 'dedup: weight of the address similarity'),
    ('dedup_weight_reporter', 'number', 0, 100, NULL, '1', 'dedup: weight of the same reporter'),
    ('dedup_merge_threshold', 'number', 0.01, 1, NULL, '0.50', 'dedup: score from which a report is merged'),
    ('dedup_review_threshold', 'number', 0.01, 1, NULL, '0.40', 'dedup: score from which a report is a suspected duplicate'),
    ('dedup_late_policy', 'choice', NULL, NULL, ARRAY['link', 'reopen'], 'link',
     'dedup: a report of a resolved master within the window links to it, or reopens it'),
    ('callback_redo_on_unsatisfied', 'switch', NULL, NULL, NULL, 'off', 'an unsatisfied callback reopens the order'),
    ('outbox_backoff_base', 'interval', 0, 86400, NULL, '30 seconds', 'outbox: the wait after a first failed delivery'),
    ('outbox_backoff_max', 'interval', 1, 604800, NULL, '1 hour', 'outbox: the longest wait between deliveries'),
    ('outbox_max_attempts', 'integer', 1, 1000, NULL, '8', 'outbox: claims after which a message is dead'),
    ('district_time_zone', 'time zone', NULL, NULL, NULL, 'Asia/Shanghai',
     'the zone of score periods, BI days and months, and reports'),
    ('district_leader', 'text', NULL, NULL, NULL, 'district leader', 'who the last escalation step reaches'),
    ('score_weights', 'weights', NULL, NULL, NULL,
     '{"on_time_accept_rate": 1, "resolution_rate": 1, "satisfaction_rate": 1}', 'the composite score''s weights'),
    ('score_red_at_least', 'number', 0, 1, NULL, '0.95', 'composite score from which a unit is on the red list'),
    ('score_black_below', 'number', 0, 1, NULL, '0.80', 'composite score under which a unit is on the black list'),
    ('score_list_min_orders', 'integer', 0, 1000000, NULL, '10', 'assignments a unit needs in a period to be listed'),
    ('score_batch_events', 'integer', 1, 1000000000, NULL, '100000', 'events one score_update pass takes at most'),
    ('drain_batch_rows', 'integer', 1, 100000, NULL, '1000', 'inbox rows one drain_inbox task takes'),
    ('drain_time_budget', 'interval', 1, 3600, NULL, '1 second',
     'inbox: how long one drain_inbox works through its rows (and holds the locks of those it took); those it has not reached by then stay pending, for the next'),
    ('inbox_retry_base', 'interval', 1, 86400, NULL, '10 seconds',
     'inbox: the wait before a row that failed for a reason not its own is tried again'),
    ('inbox_retry_max', 'interval', 1, 604800, NULL, '15 minutes', 'inbox: the longest wait between tries of a row'),
    ('deadline_batch_rows', 'integer', 1, 1000000, NULL, '1000', 'orders one deadline_check pass takes'),
    ('escalation_batch_rows', 'integer', 1, 1000000, NULL, '1000', 'orders one escalate pass takes'),
    ('detection_batch_rows', 'integer', 1, 1000000, NULL, '10000', 'detection inbox rows one ingest_detections task takes'),
    ('detection_channel', 'code', NULL, NULL, NULL, 'video_ai', 'the channel of the orders detections raise'),
    ('detection_min_count', 'integer', 1, 1000000, NULL, '10', 'confident detections in one cell and window that make an order'),
    ('detection_window', 'interval', 60, 2678400, NULL, '1 hour', 'the time bucket of detections'),
    ('detection_cell_m', 'integer', 10, 10000, NULL, '200', 'the grid cell of detections, in metres'),
    ('detection_min_confidence', 'number', 0, 1, NULL, '0.5', 'the confidence from which a detection counts'),
    ('detection_max_age', 'interval', 3600, 3153600000, NULL, NULL, 'how old a detection may be when it is ingested; an older one is rejected (default: no limit)'),
    ('grid_srid', 'srid', NULL, NULL, NULL, '4547', 'the metric projection of hotspot grids'),
    ('hotspot_channel', 'code', NULL, NULL, NULL, 'hotspot', 'the channel of the orders hotspots raise'),
    ('hotspot_interval', 'interval', 60, 2678400, NULL, '1 hour', 'how often the worker looks for hotspots'),
    ('open311_channel', 'code', NULL, NULL, NULL, 'open311', 'the channel of Open311 POSTs'),
    ('open311_jurisdiction', 'text', NULL, NULL, NULL, NULL, 'the jurisdiction_id Open311 serves (default: any)'),
    ('run_log_retention', 'age', 0, 315360000, NULL, '7 days', 'how long the worker keeps its run log'),
    ('run_log_max_rows', 'integer', 1, 100000000, NULL, '10000', 'the most rows the worker keeps in its run log'),
    ('worker_enabled', 'switch', NULL, NULL, NULL, 'on', 'off makes this database''s background worker idle'),
    ('retention_inbox', 'age', 86400, 3153600000, NULL, '30 days',
     'how long accepted and rejected inbox rows are kept (purge_history)'),
    ('retention_outbox', 'age', 86400, 3153600000, NULL, '30 days',
     'how long delivered and dead outbox messages are kept (purge_history)'),
    ('retention_notifications', 'age', 86400, 3153600000, NULL, '90 days',
     'how long deadline notifications are kept (purge_history)'),
    ('retention_detections', 'age', 86400, 3153600000, NULL, '90 days',
     'how long detections not counted into an order, and detection rejects, are kept (purge_history)'),
    ('retention_batch_rows', 'integer', 100, 1000000, NULL, '10000', 'rows of each table one purge_history pass deletes at most')
  ) AS d (name, kind, min_value, max_value, choices, default_value, meaning);
COMMENT ON VIEW workorder.setting_definitions IS
    'Every workorder setting: kind, range or choices, default and meaning. A settings row is checked against it (WO010).';

-- check_setting raises WO010 unless setting_value is a valid value of the setting
-- setting_name (see the kinds above); the settings trigger calls it for every row
-- written, and an operator may call it to try a value first.
CREATE FUNCTION workorder.check_setting(setting_name text, setting_value text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    d record;
    number numeric;
    span interval;
    why text;
    hint text;
BEGIN
    SELECT * INTO d FROM workorder.setting_definitions s WHERE s.name OPERATOR(pg_catalog.=) setting_name;
    IF NOT FOUND THEN
        PERFORM workorder.raise_error('WO010',
            pg_catalog.format('unknown setting %s', COALESCE(pg_catalog.quote_literal(setting_name), 'NULL')),
            pg_catalog.format('No part of workorder reads a setting of that name%s.',
                COALESCE('; of its family there are ' OPERATOR(pg_catalog.||)
                         (SELECT pg_catalog.string_agg(s.name, ', ' ORDER BY s.name) FROM workorder.setting_definitions s
                           WHERE pg_catalog.split_part(s.name, '_', 1) OPERATOR(pg_catalog.=) pg_catalog.split_part(setting_name, '_', 1)),
                         '')),
            'SELECT name, kind, meaning FROM workorder.setting_definitions lists the settings.');
    END IF;
    IF d.kind IN ('integer', 'number') THEN
        IF setting_value OPERATOR(pg_catalog.!~) (CASE d.kind WHEN 'integer' THEN '^\s*[+-]?[0-9]{1,18}\s*$'
                                                  ELSE '^\s*[+-]?([0-9]{1,18}(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,2})?\s*$' END) THEN
            why := CASE d.kind WHEN 'integer' THEN 'not a whole number' ELSE 'not a number' END;
        ELSE
            number := setting_value::numeric;
            IF number OPERATOR(pg_catalog.<) d.min_value OR number OPERATOR(pg_catalog.>) d.max_value THEN
                why := 'out of range';
            END IF;
        END IF;
        hint := pg_catalog.format('Set %s from %s to %s.', CASE d.kind WHEN 'integer' THEN 'a whole number' ELSE 'a number' END,
                                  d.min_value, d.max_value);
    ELSIF d.kind IN ('interval', 'age') THEN
        BEGIN
            span := setting_value::interval;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow
                       OR invalid_parameter_value OR numeric_value_out_of_range THEN
            why := 'not an interval';
        END;
        IF why IS NULL AND d.kind OPERATOR(pg_catalog.=) 'interval'
           AND (pg_catalog.date_part('month', span) OPERATOR(pg_catalog.<>) 0
                OR pg_catalog.date_part('year', span) OPERATOR(pg_catalog.<>) 0) THEN
            why := 'an interval of months or years, whose length varies';
        ELSIF why IS NULL AND (pg_catalog.date_part('epoch', span) OPERATOR(pg_catalog.<) d.min_value
                               OR pg_catalog.date_part('epoch', span) OPERATOR(pg_catalog.>) d.max_value) THEN
            why := 'out of range';
        -- Within the range, a part below zero is refused whatever the sum: the range
        -- counts a month as 30 days and a year as 365.25, so '1 year -364 days -6
        -- hours' passed as a day and kept rows 18 hours, and on 1 March '1 mon
        -- -29 days' is a day ahead.  (interval_has_negative_part is part 65's; it
        -- is called at run time.)
        ELSIF why IS NULL AND workorder.interval_has_negative_part(span) THEN
            why := 'an interval with a part below zero';
        END IF;
        hint := pg_catalog.format(CASE d.kind WHEN 'interval' THEN 'Set an interval from %s to %s, in days, hours, minutes or seconds.'
                                              ELSE 'Set an interval from %s to %s.' END,
                                  pg_catalog.justify_hours(pg_catalog.make_interval(secs => d.min_value::double precision)),
                                  pg_catalog.justify_hours(pg_catalog.make_interval(secs => d.max_value::double precision)));
    ELSIF d.kind OPERATOR(pg_catalog.=) 'switch' THEN
        IF setting_value NOT IN ('on', 'off') THEN
            why := 'neither on nor off';
        END IF;
        hint := 'Set on or off.';
    ELSIF d.kind OPERATOR(pg_catalog.=) 'choice' THEN
        IF NOT setting_value OPERATOR(pg_catalog.=) ANY (d.choices) THEN
            why := 'not one of the choices';
        END IF;
        hint := pg_catalog.format('Set one of %s.', pg_catalog.array_to_string(d.choices, ', '));
    ELSIF d.kind OPERATOR(pg_catalog.=) 'time zone' THEN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name OPERATOR(pg_catalog.=) setting_value) THEN
            why := 'not a time zone name';
        END IF;
        hint := 'Set a zone name from pg_timezone_names, e.g. Asia/Shanghai.';
    ELSIF d.kind OPERATOR(pg_catalog.=) 'srid' THEN
        -- In metres: the hotspot search takes its radius_m in the SRID's units.
        IF setting_value OPERATOR(pg_catalog.!~) '^[0-9]{1,9}$'
           OR NOT EXISTS (SELECT 1 FROM spatial_ref_sys r WHERE r.srid OPERATOR(pg_catalog.=) setting_value::integer
                                                             AND r.proj4text OPERATOR(pg_catalog.~) '\+units=m( |$)') THEN
            why := 'not the SRID of a projection in metres in spatial_ref_sys';
        END IF;
        hint := 'Set the SRID of a metric projection that covers the district, e.g. 4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E).';
    ELSIF d.kind OPERATOR(pg_catalog.=) 'code' THEN
        -- Blanks as submit() trims them (a no-break space pasted after a unit's code
        -- named no unit, and orders fell back to the district center).
        IF pg_catalog.length(setting_value) OPERATOR(pg_catalog.<) 1 OR pg_catalog.length(setting_value) OPERATOR(pg_catalog.>) 64
           OR setting_value OPERATOR(pg_catalog.<>) workorder.trim_blanks(setting_value)
           OR workorder.control_character_at(setting_value) IS NOT NULL THEN
            why := 'not a code of 1 to 64 characters without blanks at its ends or control characters';
        END IF;
        hint := 'Set the code of a unit or channel, as it is in workorder.units or workorder.channels.';
    ELSIF d.kind OPERATOR(pg_catalog.=) 'text' THEN
        IF pg_catalog.length(workorder.trim_blanks(setting_value)) OPERATOR(pg_catalog.<) 1
           OR pg_catalog.length(setting_value) OPERATOR(pg_catalog.>) 200 THEN
            why := pg_catalog.format('blank or longer than 200 characters (%s)', pg_catalog.length(setting_value));
        ELSIF workorder.control_character_at(setting_value) IS NOT NULL THEN
            why := pg_catalog.format('a control character at position %s', workorder.control_character_at(setting_value));
        END IF;
        hint := 'Set a text of 1 to 200 characters, none of them a control character.';
    ELSIF d.kind OPERATOR(pg_catalog.=) 'weights' THEN
        why := 'not score weights: ' OPERATOR(pg_catalog.||) workorder.score_weights_problem(setting_value);
        hint := 'Set a JSON object of rate names (on_time_accept_rate, on_time_completion_rate, resolution_rate, satisfaction_rate, return_rate, redo_rate) and non-negative weights, one of them positive.';
    END IF;
    -- Each kind above has made its hint; a NULL value fails whatever its checks said.
    IF setting_value IS NULL THEN
        why := 'no value';
    END IF;
    IF why IS NOT NULL THEN
        PERFORM workorder.raise_error('WO010',
            pg_catalog.format('invalid value of setting %s', setting_name),
            pg_catalog.format('The value is %s: %s.',
                              COALESCE(pg_catalog.quote_literal(pg_catalog.left(setting_value, 100)), 'NULL'), why),
            hint);
    END IF;
END
$$;

-- settings_before_write checks the row with check_setting (WO010).
CREATE FUNCTION workorder.settings_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.check_setting(NEW.name, NEW.value);
    RETURN NEW;
END
$$;
CREATE TRIGGER settings_before_write
    BEFORE INSERT OR UPDATE ON workorder.settings
    FOR EACH ROW EXECUTE FUNCTION workorder.settings_before_write();
