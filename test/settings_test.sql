-- Settings: every settings row is checked as it is written, against
-- workorder.setting_definitions.  An unknown name, or a value not of the setting's
-- kind or out of its range, is WO010 with the name in the message, the value in the
-- detail and what to set in the hint, and leaves the table as it was; a valid value
-- of every kind is taken.  Everything is rolled back.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(64);

-- refused(name, value) inserts a row and returns the error's SQLSTATE, message,
-- detail and hint as one text ('taken' when the row was written, then removed).
CREATE FUNCTION pg_temp.refused(setting_name text, setting_value text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; message text; detail text; hint text;
BEGIN
    INSERT INTO workorder.settings VALUES (setting_name, setting_value, 'settings_test');
    DELETE FROM workorder.settings WHERE name = setting_name AND description = 'settings_test';
    RETURN 'taken';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN concat_ws(' | ', state, message, detail, hint);
END
$$;

-- == Unknown names: a typo is caught, not ignored
SELECT is(pg_temp.refused('outbox_max_attempt', '8'),
          'WO010 | unknown setting ''outbox_max_attempt'' | No part of workorder reads a setting of that name; of its family there are outbox_backoff_base, outbox_backoff_max, outbox_max_attempts. | SELECT name, kind, meaning FROM workorder.setting_definitions lists the settings.',
          'a mistyped name is WO010, and the detail names the settings of its family');
SELECT is(pg_temp.refused('colour', 'blue'),
          'WO010 | unknown setting ''colour'' | No part of workorder reads a setting of that name. | SELECT name, kind, meaning FROM workorder.setting_definitions lists the settings.',
          'a name of no family is WO010 too');
SELECT is(pg_temp.refused(NULL, '8'),
          'WO010 | unknown setting NULL | No part of workorder reads a setting of that name. | SELECT name, kind, meaning FROM workorder.setting_definitions lists the settings.',
          'a NULL name is an unknown setting');

-- == Each kind: a good value is taken, a bad one is WO010 with what to set
SELECT is(pg_temp.refused(t.name, t.value), 'taken', format('%s = %s is taken (%s)', t.name, t.value, t.kind))
  FROM (VALUES ('outbox_max_attempts', '12', 'integer'), ('outbox_max_attempts', ' 3 ', 'integer, blanks around'),
               ('locate_tolerance_m', '12.5', 'number'), ('dedup_merge_threshold', '.6', 'number without a leading 0'),
               ('dedup_window', '2 days 3 hours', 'interval'), ('outbox_backoff_base', '0', 'interval of nothing'),
               ('dedup_enabled', 'off', 'switch'), ('dedup_late_policy', 'reopen', 'choice'),
               ('district_time_zone', 'Asia/Urumqi', 'time zone'), ('grid_srid', '4547', 'srid'),
               ('fallback_unit', 'C-NOPE', 'code: whether the unit exists is checked where it is used'),
               ('district_leader', '王区长', 'text'), ('retention_outbox', '1 year', 'age: months and years allowed'),
               ('score_weights', '{"resolution_rate": 2, "satisfaction_rate": 0}', 'weights')) t(name, value, kind);

SELECT is(pg_temp.refused('outbox_max_attempts', 'eight'),
          'WO010 | invalid value of setting outbox_max_attempts | The value is ''eight'': not a whole number. | Set a whole number from 1 to 1000.',
          'an integer setting refuses words (claim_outbox failed with 22P02 on it)');
SELECT is(pg_temp.refused('outbox_max_attempts', '2.5'),
          'WO010 | invalid value of setting outbox_max_attempts | The value is ''2.5'': not a whole number. | Set a whole number from 1 to 1000.',
          '... and fractions');
SELECT is(pg_temp.refused('outbox_max_attempts', '0'),
          'WO010 | invalid value of setting outbox_max_attempts | The value is ''0'': out of range. | Set a whole number from 1 to 1000.',
          '... and values out of its range');
SELECT is(pg_temp.refused('locate_tolerance_m', t.value),
          format('WO010 | invalid value of setting locate_tolerance_m | The value is %s: %s. | Set a number from 0 to 100000.', quote_literal(t.value), t.why),
          format('a number setting refuses %s (every submit() failed on it)', t.value))
  FROM (VALUES ('abc', 'not a number'), ('NaN', 'not a number'), ('Infinity', 'not a number'), ('1e-400', 'not a number'),
               ('-1', 'out of range'), ('1e6', 'out of range')) t(value, why);
SELECT is(pg_temp.refused('dedup_window', t.value),
          format('WO010 | invalid value of setting dedup_window | The value is %s: %s. | Set an interval from 00:01:00.48 to 90 days, in days, hours, minutes or seconds.',
                 quote_literal(t.value), t.why),
          format('an interval setting refuses %s', t.value))
  FROM (VALUES ('soon', 'not an interval'), ('1 month', 'an interval of months or years, whose length varies'),
               ('200 days', 'out of range'), ('-1 day', 'out of range'), ('30 seconds', 'out of range')) t(value, why);
SELECT is(pg_temp.refused('worker_enabled', 'maybe'),
          'WO010 | invalid value of setting worker_enabled | The value is ''maybe'': neither on nor off. | Set on or off.',
          'a switch refuses what is neither on nor off (the worker of the database stopped on it)');
SELECT is(pg_temp.refused('dedup_enabled', 'true'),
          'WO010 | invalid value of setting dedup_enabled | The value is ''true'': neither on nor off. | Set on or off.',
          '... true too: dedup reads only on and off');
SELECT is(pg_temp.refused('dedup_late_policy', 'ignore'),
          'WO010 | invalid value of setting dedup_late_policy | The value is ''ignore'': not one of the choices. | Set one of link, reopen.',
          'a choice lists the choices');
SELECT is(pg_temp.refused('district_time_zone', 'Mars/Olympus'),
          'WO010 | invalid value of setting district_time_zone | The value is ''Mars/Olympus'': not a time zone name. | Set a zone name from pg_timezone_names, e.g. Asia/Shanghai.',
          'a time zone must be one of pg_timezone_names');
SELECT is(pg_temp.refused('grid_srid', t.value),
          format('WO010 | invalid value of setting grid_srid | The value is %s: not the SRID of a projection in metres in spatial_ref_sys. | Set the SRID of a metric projection that covers the district, e.g. 4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E).',
                 quote_literal(t.value)),
          format('an SRID must be in spatial_ref_sys, in metres: %s is not', t.value))
  FROM (VALUES ('99999'), ('EPSG:4547'), ('99999999999'), ('4326')) t(value);
SELECT is(pg_temp.refused('fallback_unit', t.value),
          format('WO010 | invalid value of setting fallback_unit | The value is %s: not a code of 1 to 64 characters without blanks at its ends or control characters. | Set the code of a unit or channel, as it is in workorder.units or workorder.channels.',
                 quote_literal(left(t.value, 100))),
          t.what)
  FROM (VALUES ('', 'a code is not empty'), (' C-990401', 'a code has no blank at its ends'),
               (repeat('C', 65), 'a code has at most 64 characters'),
               (E'C-990401\u00a0', 'nor a no-break space at its end, as submit() trims (it named no unit)'),
               (E'C-99\u00070401', 'nor a control character')) t(value, what);
SELECT is(pg_temp.refused('district_leader', E'区长\u0007'),
          format('WO010 | invalid value of setting district_leader | The value is %s: a control character at position 3. | Set a text of 1 to 200 characters, none of them a control character.',
                 quote_literal(E'区长\u0007')),
          'a text has no control character (it went out in escalation messages)');
SELECT is(pg_temp.refused('district_leader', repeat('长', 201)),
          format('WO010 | invalid value of setting district_leader | The value is %s: blank or longer than 200 characters (201). | Set a text of 1 to 200 characters, none of them a control character.',
                 quote_literal(repeat('长', 100))),
          'a text has at most 200 characters, and the detail quotes no more than 100 of them');
SELECT is(pg_temp.refused('score_weights', '{"satisfaction": 1}'),
          'WO010 | invalid value of setting score_weights | The value is ''{"satisfaction": 1}'': not score weights: satisfaction: 1. | Set a JSON object of rate names (on_time_accept_rate, on_time_completion_rate, resolution_rate, satisfaction_rate, return_rate, redo_rate) and non-negative weights, one of them positive.',
          'score weights are checked as score_weights() checks them: an unknown rate');
SELECT is(split_part(pg_temp.refused('score_weights', t.value), ' | ', 1), 'WO010', t.what)
  FROM (VALUES ('{"resolution_rate": "\u0000"}', 'JSON with a NUL escape is WO010 (it was 22P05)'),
               ('{"resolution_rate": 1, "x": 1e999999}', 'JSON with a number past numeric is WO010 (it was 22003)')) t(value, what);
SELECT is(split_part(pg_temp.refused('score_weights', '{"resolution_rate": 0}'), ' | ', 3),
          'The value is ''{"resolution_rate": 0}'': not score weights: no weight is positive.',
          '... no positive weight');
SELECT is(pg_temp.refused('outbox_max_attempts', NULL),
          'WO010 | invalid value of setting outbox_max_attempts | The value is NULL: no value. | Set a whole number from 1 to 1000.',
          'a NULL value is refused by the check, before the table''s not-null constraint');

-- == UPDATE is checked as INSERT is, and a refused statement writes nothing
INSERT INTO workorder.settings VALUES ('outbox_max_attempts', '6', 'settings_test');
SELECT throws_ok($$UPDATE workorder.settings SET value = 'many' WHERE name = 'outbox_max_attempts'$$, 'WO010', NULL,
                 'an UPDATE to a bad value is refused');
SELECT throws_ok($$UPDATE workorder.settings SET name = 'outbox_max_attempt' WHERE name = 'outbox_max_attempts'$$, 'WO010', NULL,
                 'a rename to an unknown name is refused');
SELECT throws_ok($$INSERT INTO workorder.settings VALUES ('dedup_radius_m', '50', 'ok'), ('dedup_radius_m_typo', '50', 'typo')$$, 'WO010', NULL,
                 'a statement with one bad row is refused');
SELECT is((SELECT string_agg(name || '=' || value, ',' ORDER BY name) FROM workorder.settings
            WHERE name LIKE 'outbox%' OR name LIKE 'dedup_radius%'),
          'outbox_max_attempts=6', '... and none of its rows, nor of the refused updates, was written');
SELECT is(workorder.setting('outbox_max_attempts', '8'), '6', 'the value in force is the last one taken');

-- == check_setting can be asked before writing
SELECT lives_ok($$SELECT workorder.check_setting('dedup_radius_m', '80')$$, 'check_setting takes a good value');
SELECT throws_ok($$SELECT workorder.check_setting('dedup_radius_m', '0')$$, 'WO010', NULL, '... and refuses a bad one, writing nothing');

-- == The definitions: each default is a valid value of its own setting
DELETE FROM workorder.settings;
SELECT is((SELECT string_agg(d.name, ', ') FROM workorder.setting_definitions d
            WHERE d.default_value IS NOT NULL
              AND NOT EXISTS (SELECT 1 WHERE pg_temp.refused(d.name, d.default_value) = 'taken')),
          NULL, 'every default of setting_definitions passes the check of its own setting');
SELECT is((SELECT count(*)::integer FROM workorder.setting_definitions d
            WHERE d.kind NOT IN ('integer', 'number', 'interval', 'age', 'switch', 'choice', 'time zone', 'srid', 'code', 'text', 'weights')
               OR (d.kind IN ('integer', 'number', 'interval', 'age') AND (d.min_value IS NULL OR d.max_value IS NULL OR d.min_value > d.max_value))
               OR (d.kind = 'choice' AND cardinality(d.choices) IS NULL)
               OR d.meaning IS NULL),
          0, 'every definition has a known kind, a range or choices where its kind needs them, and a meaning');

-- The red list's threshold may not be below the black list's, checked when the
-- transaction commits (here, when the constraint is made immediate): one row alone
-- passed its range, and a unit at 0.75 was put on the red list.
SET CONSTRAINTS workorder.settings_score_lists IMMEDIATE;
SELECT throws_ok($$INSERT INTO workorder.settings VALUES ('score_red_at_least', '0.5', 'settings_test')$$, 'WO010',
                 'invalid values of settings score_red_at_least and score_black_below',
                 'a red list threshold below the black list''s is refused');
SET CONSTRAINTS workorder.settings_score_lists DEFERRED;
INSERT INTO workorder.settings VALUES ('score_black_below', '0.4', 'settings_test'), ('score_red_at_least', '0.5', 'settings_test');
SELECT lives_ok($$SET CONSTRAINTS workorder.settings_score_lists IMMEDIATE$$,
                'both moved in one transaction, black first or not, are taken');
SELECT throws_ok($$UPDATE workorder.settings SET value = '0.3' WHERE name = 'score_red_at_least'$$, 'WO010', NULL,
                 'and the check holds against a value written earlier');
-- Deleting one puts its default back, which is checked too: with black at 0.97,
-- red's default 0.95 is below it.  (The delete was taken, and a unit at 0.96 was put
-- on the red list.)
UPDATE workorder.settings SET value = '0.99' WHERE name = 'score_red_at_least';
UPDATE workorder.settings SET value = '0.97' WHERE name = 'score_black_below';
SET CONSTRAINTS workorder.settings_score_lists_delete IMMEDIATE;
SELECT throws_ok($$DELETE FROM workorder.settings WHERE name = 'score_red_at_least'$$, 'WO010',
                 'invalid values of settings score_red_at_least and score_black_below',
                 'deleting a threshold whose default crosses the other''s is refused');

SELECT * FROM finish();
ROLLBACK;
