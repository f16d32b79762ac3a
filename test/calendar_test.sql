-- pgTAP tests of the working calendars: the promises of add_working_time,
-- working_time_between and add_working_days as properties over random starts and
-- durations, checked against a second reading of the calendar in SQL
-- (calendar_spans), on cn and on calendars across daylight-saving switches; the
-- cache seeing changes; the loaders' bad input, with nothing written.
-- The other session of the cache test below (a dblink connection).
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT format('dbname=%s port=%s host=%s user=%s', current_database(), current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1), current_user) AS other \gset
BEGIN;
SELECT plan(72);

SET LOCAL search_path = workorder, public;
-- The results must not depend on the session's time zone: run in another one.
SET LOCAL TimeZone = 'America/Los_Angeles';

-- The fixture's output stays out of the TAP stream.
\o /dev/null
-- Calendars besides cn: offices in Berlin and New York (09:00-17:00, DST), and a
-- Berlin calendar that works around the clock, on which working time is real time.
INSERT INTO workorder.calendars (code, name, time_zone) VALUES
    ('t-berlin', 'Berlin office', 'Europe/Berlin'),
    ('t-ny', 'New York office', 'America/New_York'),
    ('t-always', 'around the clock', 'Europe/Berlin');
INSERT INTO workorder.calendar_hours (calendar_code, isodow, starts, ends)
SELECT c, d, time '09:00', time '17:00' FROM unnest(ARRAY['t-berlin', 't-ny']) c, generate_series(1, 5) d
UNION ALL SELECT 't-always', d, '00:00', '24:00' FROM generate_series(1, 7) d;
SELECT workorder.load_calendar_days('t-berlin', '[{"day": "2026-04-03", "kind": "holiday", "name": "Karfreitag"},
    {"day": "2026-04-06", "kind": "holiday", "name": "Ostermontag"}, {"day": "2026-10-24", "kind": "workday"}]');

-- A fixed sample: setseed makes random() repeatable.  A quarter of the starts fall
-- exactly on a span boundary of cn; durations run up to 300 working hours, some
-- whole hours, some down to the microsecond.
SELECT setseed(0.2026);
CREATE TEMP TABLE sample ON COMMIT DROP AS
SELECT i, c AS calendar, t, d
  FROM (SELECT i,
               (ARRAY['cn', 'cn', 'cn', 't-berlin', 't-ny'])[1 + i % 5] AS c,
               CASE WHEN i % 4 = 0
                    THEN (date '2024-01-01' + floor(random() * 1000)::integer
                          + (ARRAY[time '09:00', '12:00', '14:00', '18:00'])[1 + floor(random() * 4)::integer])
                         AT TIME ZONE 'Asia/Shanghai'
                    ELSE timestamptz '2024-01-01 00:00+08' + floor(random() * 1000 * 86400e6) * interval '1 microsecond'
               END AS t,
               CASE WHEN i % 3 = 0 THEN make_interval(hours => 1 + floor(random() * 60)::integer)
                    ELSE floor(1 + random() * 300 * 3600e6) * interval '1 microsecond'
               END AS d
          FROM generate_series(1, 1500) i) s;
CREATE TEMP TABLE results ON COMMIT DROP AS
SELECT s.*, workorder.add_working_time(t, d, calendar) AS r, workorder.add_working_time(t, -d, calendar) AS back
  FROM sample s;

-- zone_of gives a calendar's time zone; spans_near lists its spans around an instant.
CREATE FUNCTION pg_temp.zone_of(calendar text) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT time_zone FROM workorder.calendars WHERE code = calendar $$;
CREATE FUNCTION pg_temp.spans_near(calendar text, at timestamptz)
RETURNS TABLE (day date, starts timestamptz, ends timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT s.day, s.starts, s.ends
      FROM workorder.calendar_spans(calendar, (at AT TIME ZONE pg_temp.zone_of(calendar))::date - 1,
                                    (at AT TIME ZONE pg_temp.zone_of(calendar))::date + 1) s
$$;
-- reference_between counts working time in [a, b) from calendar_spans, in SQL.
CREATE FUNCTION pg_temp.reference_between(calendar text, a timestamptz, b timestamptz) RETURNS interval
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(sum(least(s.ends, b) - greatest(s.starts, a)), interval '0')
      FROM workorder.calendar_spans(calendar, (a AT TIME ZONE pg_temp.zone_of(calendar))::date - 1,
                                    (b AT TIME ZONE pg_temp.zone_of(calendar))::date + 1) s
     WHERE s.ends > a AND s.starts < b
$$;
-- reference_add finds the end of d of working time after t from calendar_spans, in SQL.
CREATE FUNCTION pg_temp.reference_add(calendar text, t timestamptz, d interval) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    WITH spans AS (
        SELECT greatest(s.starts, t) AS starts, s.ends
          FROM workorder.calendar_spans(calendar, (t AT TIME ZONE pg_temp.zone_of(calendar))::date - 1,
                                        (t AT TIME ZONE pg_temp.zone_of(calendar))::date + 120) s
         WHERE s.ends > t),
    running AS (
        SELECT starts, ends, sum(ends - starts) OVER (ORDER BY starts) AS upto FROM spans)
    SELECT ends - (upto - d) FROM running WHERE upto >= d ORDER BY starts LIMIT 1
$$;
\o

SELECT is((SELECT count(*) FROM sample WHERE d > '0'), 1500::bigint, 'the sample has 1500 positive durations');

-- The inverse: the working time from t to add_working_time(t, d) is d.
SELECT is((SELECT count(*) FROM results WHERE workorder.working_time_between(t, r, calendar) <> d), 0::bigint,
          'working_time_between(t, add_working_time(t, d)) = d');
SELECT is((SELECT count(*) FROM results WHERE workorder.working_time_between(back, t, calendar) <> d), 0::bigint,
          'working_time_between(add_working_time(t, -d), t) = d');
SELECT is((SELECT count(*) FROM results WHERE workorder.working_time_between(r, t, calendar)
                                               <> -workorder.working_time_between(t, r, calendar)), 0::bigint,
          'working_time_between(b, a) = -working_time_between(a, b)');
SELECT is((SELECT count(*) FROM results WHERE r <= t OR back >= t), 0::bigint,
          'a positive duration ends after the start, a negative one before');
SELECT is((SELECT count(*) FROM results WHERE workorder.add_working_time(t, interval '0', calendar) <> t), 0::bigint,
          'a zero duration returns the start unmoved');

-- Monotonic in the duration and in the start.
SELECT is((SELECT count(*) FROM results
            WHERE workorder.add_working_time(t, d + interval '1 microsecond', calendar) <= r
               OR workorder.add_working_time(t, d / 2, calendar) >= r), 0::bigint,
          'd1 < d2 gives add_working_time(t, d1) < add_working_time(t, d2)');
SELECT is((SELECT count(*) FROM results
            WHERE workorder.add_working_time(t + interval '1 second', d, calendar) < r
               OR workorder.add_working_time(t + interval '7 hours 1 second', d, calendar) < r
               OR workorder.add_working_time(t - interval '3 days', d, calendar) > r), 0::bigint,
          't1 < t2 gives add_working_time(t1, d) <= add_working_time(t2, d)');
SELECT is((SELECT count(*) FROM (SELECT calendar, t, r, lead(t) OVER w AS t2, lead(r) OVER w AS r2
                                   FROM results WHERE d = interval '8 hours' WINDOW w AS (PARTITION BY calendar ORDER BY t)) x
            WHERE r2 < r), 0::bigint,
          'over the whole sample, a later start never ends earlier for the same duration');

-- Where the result lies, by the SQL reading of the calendar.
SELECT is((SELECT count(*) FROM results
            WHERE NOT EXISTS (SELECT 1 FROM pg_temp.spans_near(calendar, r) s WHERE s.starts < r AND r <= s.ends)),
          0::bigint, 'add_working_time(t, d > 0) is inside a working span or at its end');
SELECT is((SELECT count(*) FROM results
            WHERE NOT EXISTS (SELECT 1 FROM pg_temp.spans_near(calendar, back) s WHERE s.starts <= back AND back < s.ends)),
          0::bigint, 'add_working_time(t, d < 0) is inside a working span or at its start');
SELECT is((SELECT count(*) FROM results WHERE r <> pg_temp.reference_add(calendar, t, d) AND i % 5 = 0), 0::bigint,
          'add_working_time agrees with the SQL reference on a fifth of the sample');
SELECT is((SELECT count(*) FROM results
            WHERE workorder.working_time_between(t, t + (i % 97) * interval '37 hours 11 minutes', calendar)
                  <> pg_temp.reference_between(calendar, t, t + (i % 97) * interval '37 hours 11 minutes')
              AND i % 3 = 0), 0::bigint,
          'working_time_between agrees with the SQL reference');
SELECT is((SELECT count(*) FROM results
            WHERE workorder.working_time_between(t, r, calendar) + workorder.working_time_between(r, back, calendar)
                  <> workorder.working_time_between(t, back, calendar)), 0::bigint,
          'working_time_between is additive: (a, b) + (b, c) = (a, c)');

-- The session's time zone does not matter.
SET LOCAL TimeZone = 'Asia/Kathmandu';
SELECT is((SELECT count(*) FROM results WHERE workorder.add_working_time(t, d, calendar) <> r), 0::bigint,
          'the same results in another session time zone');
SET LOCAL TimeZone = 'America/Los_Angeles';

-- add_working_days: at the end of the last span of a working day, the N-th after
-- the day of the start.
CREATE TEMP TABLE due ON COMMIT DROP AS
SELECT i, calendar, t, n, workorder.add_working_days(t, n, calendar) AS r,
       (t AT TIME ZONE pg_temp.zone_of(calendar))::date AS start_day
  FROM (SELECT i, calendar, t, i % 12 AS n FROM sample) s;
SELECT is((SELECT count(*) FROM due
            WHERE r <> (SELECT max(s.ends) FROM pg_temp.spans_near(calendar, r - interval '1 microsecond') s
                         WHERE s.day = (r AT TIME ZONE pg_temp.zone_of(calendar) - interval '1 microsecond')::date)),
          0::bigint, 'add_working_days ends at the end of the last span of a working day');
SELECT is((SELECT count(*) FROM due
            WHERE n > 0 AND (SELECT count(DISTINCT s.day)
                               FROM workorder.calendar_spans(calendar, start_day + 1,
                                        (r AT TIME ZONE pg_temp.zone_of(calendar) - interval '1 microsecond')::date) s) <> n),
          0::bigint, 'add_working_days(t, n > 0) is the n-th working day after the day of t');
SELECT is((SELECT count(*) FROM due WHERE r <= t), 0::bigint, 'add_working_days ends after the start');
SELECT is((SELECT count(*) FROM due
            WHERE workorder.add_working_days(t, 0, calendar) > workorder.add_working_days(t, 1, calendar)), 0::bigint,
          '0 working days never ends after 1');
SELECT is((SELECT count(*) FROM due
            WHERE n > 0 AND workorder.add_working_days(t, n, calendar) >= workorder.add_working_days(t, n + 1, calendar)),
          0::bigint, 'add_working_days is increasing in the number of days');

-- Around the clock in a DST zone, working time is real time, across the switches.
SELECT is((SELECT count(*) FROM sample
            WHERE workorder.working_time_between(t, t + d * 7, 't-always') <> d * 7
               OR workorder.add_working_time(t, d * 7, 't-always') <> t + d * 7), 0::bigint,
          'on a 24/7 calendar in Europe/Berlin, working time is elapsed time');
SELECT is(workorder.working_time_between('2026-03-28 23:00Z', '2026-03-29 23:00Z', 't-always'), interval '24 hours',
          'the day of the spring switch is 24 hours of instants');
-- Hours that end at 24:00: a deadline there is the end of its day, and an extension
-- counts its working days from that day (from the next midnight's day, one more
-- working day was added); a report received at midnight counts from the day that
-- begins.
SELECT is(workorder.add_working_days('2026-11-27 10:00+01', 5, 't-always'), '2026-12-03 00:00+01'::timestamptz,
          'on a 24/7 calendar, 5 working days after Friday 10:00 end at the end of Wednesday, 24:00');
SELECT is(workorder.sla_extend('2026-12-03 00:00+01', 'working_days', '1 day', 't-always'), '2026-12-04 00:00+01'::timestamptz,
          '... and an extension of 1 working day from that deadline ends 24 hours later, not 48');
SELECT is(workorder.add_working_days('2026-12-02 00:00+01', 1, 't-always'), '2026-12-04 00:00+01'::timestamptz,
          '... while 1 working day from a receipt at midnight counts from the day that begins');
-- A Berlin working week of the switch is 40 hours, and its days keep 09:00-17:00.
SELECT is(workorder.working_time_between('2026-03-23 00:00+01', '2026-03-30 00:00+02', 't-berlin'), interval '40 hours',
          'the week before the spring switch has 40 working hours in Berlin');
SELECT is(workorder.add_working_time('2026-03-27 16:00+01', '2 hours', 't-berlin'), timestamptz '2026-03-30 10:00+02',
          'Friday 16:00 CET + 2 working hours is Monday 10:00 CEST');
SELECT is(workorder.add_working_time('2026-10-23 16:00+02', '2 hours', 't-berlin'), timestamptz '2026-10-24 10:00+02',
          'a make-up Saturday before the autumn switch counts (Monday hours)');
SELECT is(workorder.add_working_days('2026-04-02 12:00+02', 1, 't-berlin'), timestamptz '2026-04-07 17:00+02',
          'holidays of another calendar: Good Friday and Easter Monday are skipped');

-- The cache sees changes at once, and forgets them on rollback.
SELECT is(workorder.add_working_time('2026-12-01 17:00+08', '2 hours'), timestamptz '2026-12-02 10:00+08',
          'cn before a change: Tuesday 17:00 + 2 h is Wednesday 10:00');
SAVEPOINT change;
UPDATE workorder.calendar_hours SET ends = '20:00' WHERE calendar_code = 'cn' AND isodow = 2 AND starts = '14:00';
SELECT is(workorder.add_working_time('2026-12-01 17:00+08', '2 hours'), timestamptz '2026-12-01 19:00+08',
          'a longer Tuesday is seen by the next statement');
INSERT INTO workorder.calendar_days (calendar_code, day, kind, name) VALUES ('cn', '2026-12-02', 'holiday', 'test');
SELECT is(workorder.add_working_time('2026-12-01 19:00+08', '2 hours'), timestamptz '2026-12-03 10:00+08',
          'a new holiday is seen by the next statement');
UPDATE workorder.calendars SET time_zone = 'UTC' WHERE code = 'cn';
SELECT is(workorder.add_working_time('2026-12-03 10:00Z', '1 hour'), timestamptz '2026-12-03 11:00Z',
          'a new time zone is seen by the next statement');
SELECT is((SELECT array_agg(what ORDER BY id) FROM workorder.calendar_changes WHERE calendar_code = 'cn'),
          ARRAY['hours', 'days', 'calendar'], 'each change left its hook row in calendar_changes');
SELECT is((SELECT shipped FROM workorder.calendars WHERE code = 'cn'), false, 'a changed cn is no longer as shipped');
ROLLBACK TO SAVEPOINT change;
SELECT is(workorder.add_working_time('2026-12-01 17:00+08', '2 hours'), timestamptz '2026-12-02 10:00+08',
          'after a rollback the old calendar is back');
SELECT is((SELECT shipped FROM workorder.calendars WHERE code = 'cn'), true, 'and cn is as shipped again');

-- Restoring a dump of a changed cn (an INSERT with check_function_bodies off, as
-- pg_dump's scripts and pg_restore load rows): a calendar restored over a still
-- shipped one replaces it, hours and days too.
SAVEPOINT restore;
SET LOCAL check_function_bodies = off;
INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('cn', '中国大陆 (restored)', 'Asia/Shanghai');
RESET check_function_bodies;
SELECT is((SELECT count(*) FROM workorder.calendar_hours WHERE calendar_code = 'cn')
          + (SELECT count(*) FROM workorder.calendar_days WHERE calendar_code = 'cn'), 0::bigint,
          'a calendar restored over the shipped cn replaces it');
ROLLBACK TO SAVEPOINT restore;
-- By hand, an INSERT of a calendar there is meets the primary key, and the calendar
-- stays (over the shipped cn it deleted it, its hours and every holiday, and every
-- deadline failed); an upsert does what its ON CONFLICT says.
SELECT throws_ok($$INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('t-berlin', 'again', 'UTC')$$,
                 '23505', NULL, 'a calendar that is not shipped is not replaced');
SELECT throws_ok($$INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('cn', '中国大陆', 'Asia/Shanghai')$$,
                 '23505', NULL, 'an INSERT of cn by hand is refused, not taken for a restore');
SELECT lives_ok($$INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('cn', '中国大陆', 'Asia/Shanghai')
                  ON CONFLICT (code) DO NOTHING$$, '... an upsert of cn does nothing');
SELECT is((SELECT count(*) FROM workorder.calendar_hours WHERE calendar_code = 'cn') > 0
          AND (SELECT count(*) FROM workorder.calendar_days WHERE calendar_code = 'cn') > 0
          AND (SELECT shipped FROM workorder.calendars WHERE code = 'cn'), true,
          '... and cn keeps its hours and days, as shipped');

-- Definitions that are refused.
SELECT throws_ok($$INSERT INTO workorder.calendar_hours VALUES ('t-berlin', 1, '16:00', '18:00')$$,
                 'WO502', 'working hours of calendar t-berlin overlap on weekday 1', 'overlapping spans are refused');
SELECT throws_ok($$UPDATE workorder.calendars SET time_zone = 'Europe/Berlín' WHERE code = 't-berlin'$$,
                 'WO502', 'calendar t-berlin has an unknown time zone', 'an unknown time zone is refused');
-- A make-up workday on a day of the week that has working hours is a swapped kind
-- (National Day typed as a workday); on a Sunday it is what 调休 means.
SELECT throws_ok($$INSERT INTO workorder.calendar_days (calendar_code, day, kind, name) VALUES ('cn', '2027-10-01', 'workday', '国庆节')$$,
                 'WO502', 'day 2027-10-01 of calendar cn is a make-up workday on a Friday, which has working hours already',
                 'a make-up workday on a weekday is refused');
SELECT throws_ok($$SELECT workorder.load_calendar_days('cn', '[{"day": "2027-10-02", "kind": "holiday"}, {"day": "2027-10-01", "kind": "workday", "name": "国庆节"}]')$$,
                 'WO504', 'element 2 of the days for calendar cn: the day 2027-10-01 is a make-up workday on a Friday, which has working hours already (is its kind holiday?)',
                 '... also by the loader, naming the element');
SAVEPOINT sunday;
SELECT lives_ok($$INSERT INTO workorder.calendar_days (calendar_code, day, kind, name) VALUES ('cn', '2027-09-26', 'workday', '国庆节调休')$$,
                'a make-up workday on a Sunday is taken');
INSERT INTO workorder.calendar_hours VALUES ('cn', 6, '09:00', '12:00');
SELECT lives_ok($$INSERT INTO workorder.calendar_days (calendar_code, day, kind, name) VALUES ('cn', '2027-10-09', 'workday', '国庆节调休')$$,
                '... and on a Saturday that has hours of its own (a service hall open on Saturday mornings)');
ROLLBACK TO SAVEPOINT sunday;
-- Coverage is the unbroken run of listed years from this one: a day typed decades
-- ahead (2072 for 2027) said the holidays were known for 45 years, and a check on
-- days_ahead stayed quiet.
SAVEPOINT stray;
SELECT covered_until AS covered_before FROM workorder.calendar_coverage WHERE calendar = 'cn' \gset
INSERT INTO workorder.calendar_days (calendar_code, day, kind, name)
VALUES ('cn', make_date(date_part('year', now() AT TIME ZONE 'Asia/Shanghai')::integer + 46, 2, 8), 'holiday', '春节');
SELECT is((SELECT covered_until FROM workorder.calendar_coverage WHERE calendar = 'cn'), :'covered_before'::date,
          'a day listed decades ahead, past years with none, does not extend the coverage');
ROLLBACK TO SAVEPOINT stray;
SAVEPOINT move;
SELECT lives_ok($$UPDATE workorder.calendar_hours SET starts = starts + interval '3 hours', ends = ends + interval '3 hours'
                   WHERE calendar_code = 'cn' AND isodow = 1$$,
                'moving every span of a day at once is judged on where they end up (12-15 and 17-21)');
ROLLBACK TO SAVEPOINT move;

-- The loaders: bad input names the line or element, and nothing is written.
CREATE TEMP TABLE before_load ON COMMIT DROP AS SELECT * FROM workorder.calendar_days;
SELECT throws_ok($$SELECT workorder.load_calendar_csv('cn', E'day,kind,name_en,name_zh\n2027-01-01,holiday,New Year''s Day,元旦\n2027-01-02,holiday,New Year''s Day,元旦\n2027-02-29,holiday,Spring Festival,春节')$$,
                 'WO504', 'line 4 of the days for calendar cn: the day ''2027-02-29'' is not a date written YYYY-MM-DD',
                 'a CSV with a bad last line is refused, naming the line');
SELECT throws_ok($$SELECT workorder.load_calendar_csv('cn', E'\n\nday,kind,name_en,name_zh\n\n2027-01-01,holiday,x,y\n2027-01-02,off,x,y\n')$$,
                 'WO504', 'line 6 of the days for calendar cn: the kind ''off'' is neither holiday nor workday',
                 'line numbers count blank lines');
SELECT throws_ok($$SELECT workorder.load_calendar_days('cn', '[{"day": "2027-05-01", "kind": "holiday", "name": {"zh": "劳动节"}}]')$$,
                 'WO504', 'element 1 of the days for calendar cn: its name is a JSON object, not a string',
                 'a name that is a JSON object is refused (it was stored as its JSON text)');
SAVEPOINT blank_name;
SELECT workorder.load_calendar_days('cn', '[{"day": "2027-05-02", "kind": "holiday", "name": " ", "name_zh": "劳动节"}]') IS NOT NULL AS loaded \gset
SELECT is((SELECT name FROM workorder.calendar_days WHERE calendar_code = 'cn' AND day = '2027-05-02'), '劳动节',
          'a blank name gives way to name_zh (it was dropped)');
ROLLBACK TO SAVEPOINT blank_name;
SELECT throws_ok($$SELECT workorder.load_calendar_days('cn', '[{"day": "2027-01-01", "kind": "holiday"}, {"day": "2027-01-02", "kind": "holiday", "name": 5}, {"day": "2027-01-01", "kind": "workday"}]')$$,
                 'WO504', 'element 3 of the days for calendar cn: the day 2027-01-01 is listed again (first at element 1)',
                 'a day listed twice in JSON is refused');
SELECT throws_ok($$SELECT workorder.load_calendar_days('cn', '[{"day": "2027-01-01", "kind": "holiday", "nme": "元旦"}]')$$,
                 'WO504', 'element 1 of the days for calendar cn: it has the key ''nme'', which a day does not have (day, kind, name, name_zh, name_en)',
                 'a misspelt key is refused (the day loaded without its name)');
SELECT throws_ok($$SELECT workorder.load_calendar_days('nowhere', '[]')$$,
                 'WO501', 'unknown calendar "nowhere"', 'loading into an unknown calendar is refused');
SELECT throws_ok($$SELECT workorder.load_calendar_csv('cn', NULL)$$,
                 'WO504', 'the CSV for calendar cn is empty', 'a NULL CSV is refused');
SELECT is((SELECT count(*) FROM ((TABLE before_load EXCEPT TABLE workorder.calendar_days)
                                 UNION ALL (TABLE workorder.calendar_days EXCEPT TABLE before_load)) x),
          0::bigint, 'refused loads wrote nothing');
SELECT is((SELECT count(*) FROM workorder.calendar_changes c WHERE c.calendar_code = 'cn'), 0::bigint,
          'and left no hook rows');

-- A good load is one call and returns the range that changed.
SELECT is((SELECT row(inserted, updated, unchanged, deleted, first_day, last_day)::text
             FROM workorder.load_calendar_csv('cn', E'day,kind,name_en,name_zh\n2027-01-01,holiday,New Year''s Day,元旦\n2026-10-10,workday,National Day,国庆节\n')),
          '(1,0,1,0,2027-01-01,2027-01-01)', 'a load returns inserted, updated, unchanged, deleted and the changed range');
SELECT is((SELECT row(calendar_code, first_day, last_day, what)::text FROM workorder.calendar_changes ORDER BY id DESC LIMIT 1),
          '(cn,2027-01-01,2027-01-01,days)', 'and records the changed range for the deadline job');

-- With replace_years, the load is the whole plan of the years it names: a day of
-- those years that it does not list (a mistyped make-up day, a holiday the State
-- Council moved) is deleted, and the changed range covers it.  (A loader could only
-- add and update: a wrong day stayed until someone deleted the row by hand.)  A day
-- of another year in the plan (the New Year holiday from 31 December) is loaded, and
-- its year left alone: taken as a year of the plan, it lost every other day.
SELECT workorder.load_calendar_days('cn', '[{"day": "2027-10-01", "kind": "holiday", "name": "国庆节"},
                                            {"day": "2027-10-09", "kind": "workday", "name": "国庆节"},
                                            {"day": "2028-01-01", "kind": "holiday", "name": "元旦"}]') IS NOT NULL AS loaded \gset
SELECT count(*) AS days_2026 FROM workorder.calendar_days WHERE calendar_code = 'cn' AND day BETWEEN '2026-01-01' AND '2026-12-31' \gset
SELECT is((SELECT row(inserted, updated, unchanged, deleted, first_day, last_day)::text
             FROM workorder.load_calendar_days('cn', '[{"day": "2026-12-31", "kind": "holiday", "name": "元旦"},
                                                       {"day": "2027-01-01", "kind": "holiday", "name": "元旦", "name_en": "New Year''s Day"},
                                                       {"day": "2027-10-01", "kind": "holiday", "name": "国庆节"},
                                                       {"day": "2027-10-10", "kind": "workday", "name": "国庆节"}]',
                                               replace_years => '{2027}')),
          '(2,0,2,1,2026-12-31,2027-10-10)',
          'replace_years deletes the named year''s day the load leaves out, and the changed range covers it');
SELECT is((SELECT array_agg(day ORDER BY day)::text FROM workorder.calendar_days
            WHERE calendar_code = 'cn' AND day >= '2027-01-01'),
          '{2027-01-01,2027-10-01,2027-10-10,2028-01-01}',
          'the named year holds exactly its days; a year it does not name (2028) is left alone');
SELECT is((SELECT count(*) FROM workorder.calendar_days WHERE calendar_code = 'cn' AND day BETWEEN '2026-01-01' AND '2026-12-31'),
          (:days_2026 + 1)::bigint, '... also the year of a day the plan lists, which keeps its days and gains that one');
SELECT is((SELECT row(calendar_code, first_day, last_day, what)::text FROM workorder.calendar_changes
            WHERE first_day = '2027-10-09' ORDER BY id DESC LIMIT 1),
          '(cn,2027-10-09,2027-10-09,days)', 'the deleted day is recorded for the deadline job');
SELECT is(workorder.add_working_days('2027-10-08 10:00+08', 1), '2027-10-10 18:00+08'::timestamptz,
          'and the deadlines count without it: the working day after Friday 8 October is the make-up Sunday 10, not Saturday 9');
SELECT throws_ok($$SELECT workorder.load_calendar_days('cn', '[]', replace_years => '{2027, NULL}')$$,
                 'WO504', 'replace_years of the days for calendar cn names a year that is not one',
                 'a NULL or impossible year to replace is refused');
CREATE TEMP TABLE before_replace ON COMMIT DROP AS SELECT * FROM workorder.calendar_days;
SELECT throws_ok($$SELECT workorder.load_calendar_days('cn', '[{"day": "2027-01-01", "kind": "holiday"}, {"day": "2027-13-01", "kind": "holiday"}]', replace_years => '{2027}')$$,
                 'WO504', 'element 2 of the days for calendar cn: the day ''2027-13-01'' is not a date written YYYY-MM-DD',
                 'a bad element stops a replacing load too ...');
SELECT is((SELECT count(*) FROM ((TABLE before_replace EXCEPT TABLE workorder.calendar_days)
                                 UNION ALL (TABLE workorder.calendar_days EXCEPT TABLE before_replace)) x),
          0::bigint, '... before it deletes anything');

-- Where the clock goes back across midnight (America/Havana, 01:00 to 00:00), an
-- instant in the first 00:00 to 00:59 lies on its own day while the day before ends
-- at the second midnight: add_working_days(start, 0) finds the working time left
-- then.  (It skipped to Monday's end.)
INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('t-havana', 'Havana', 'America/Havana');
INSERT INTO workorder.calendar_hours (calendar_code, isodow, starts, ends)
VALUES ('t-havana', 6, '20:00', '24:00'), ('t-havana', 1, '09:00', '17:00');
SELECT is(workorder.add_working_days('2023-11-05 04:30+00', 0, 't-havana'), '2023-11-05 05:00+00'::timestamptz,
          'add_working_days(start, 0) on the night the clock goes back at midnight ends the day before''s hours');

-- A holiday another session commits is seen by the rest of this transaction at
-- once, as the reference cache sees its changes.  (The calendars' changes were read
-- when the transaction first took their lock: a deadline computed later in it was
-- counted on the old calendar, and two statements of it disagreed.)
SELECT dblink_connect('cal_other', :'other') AS connected \gset
SELECT dblink_exec('cal_other', $$INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('t-inval', 'inval', 'Asia/Shanghai');
                                  INSERT INTO workorder.calendar_hours (calendar_code, isodow, starts, ends)
                                  SELECT 't-inval', d, '09:00', '17:00' FROM generate_series(1, 5) d$$) AS made \gset
-- (In one function, so that nothing between the two computations reads the
-- catalogs, which would take the changes in by the way.)
CREATE FUNCTION pg_temp.across_a_commit() RETURNS timestamptz[] LANGUAGE plpgsql AS $f$
DECLARE
    before timestamptz := workorder.add_working_days('2026-03-16 10:00+08', 1, 't-inval');
BEGIN
    PERFORM dblink_exec('cal_other', $$INSERT INTO workorder.calendar_days (calendar_code, day, kind, name)
                                       VALUES ('t-inval', '2026-03-17', 'holiday', 'committed meanwhile')$$);
    RETURN ARRAY[before, workorder.add_working_days('2026-03-16 10:00+08', 1, 't-inval')];
END
$f$;
SELECT is(pg_temp.across_a_commit(), ARRAY['2026-03-17 17:00+08', '2026-03-18 17:00+08']::timestamptz[],
          'a working day after Monday is Tuesday, and Wednesday in the same transaction once another session has made Tuesday a holiday');
SELECT dblink_exec('cal_other', $$DELETE FROM workorder.calendars WHERE code = 't-inval'$$) AS removed \gset
SELECT dblink_disconnect('cal_other') AS disconnected \gset

SELECT * FROM finish();
ROLLBACK;
