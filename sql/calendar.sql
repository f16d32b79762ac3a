--
-- Working calendars: the shipped calendar cn, add_working_time, working_time_between
-- and add_working_days on it, a calendar across daylight-saving switches, errors, and
-- loading next year's holiday plan with one call.  Everything runs in one transaction
-- that is rolled back, so no other test sees these calendars.
--
BEGIN;
SET client_min_messages = warning;
SET TimeZone = 'Asia/Shanghai';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = postgres;  -- pg_regress sets postgres_verbose; this reads better

-- error_of (test/fixtures/error_of.sql) runs a statement and returns the error it raises.
\i test/fixtures/error_of.sql

-- ts shows an instant in Beijing time with its weekday.
CREATE FUNCTION pg_temp.ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'Asia/Shanghai',
                   CASE WHEN date_trunc('second', t) = t THEN 'YYYY-MM-DD Dy HH24:MI:SS' ELSE 'YYYY-MM-DD Dy HH24:MI:SS.US' END)
$$;

--
-- The shipped calendar cn.
--
SELECT code, name, time_zone, makeup_isodow, shipped FROM workorder.calendars ORDER BY code;
SELECT isodow, starts, ends FROM workorder.calendar_hours WHERE calendar_code = 'cn' ORDER BY isodow, starts;
SELECT extract(year FROM day)::integer AS year,
       count(*) FILTER (WHERE kind = 'holiday') AS holidays,
       count(*) FILTER (WHERE kind = 'workday') AS workdays
  FROM workorder.calendar_days WHERE calendar_code = 'cn' AND day >= '2024-01-01'
 GROUP BY 1 ORDER BY 1;
-- Spring Festival 2026: a make-up Saturday before it, nine days off, a make-up Saturday after.
SELECT day, to_char(day, 'Dy') AS dow, kind, name, name_en
  FROM workorder.calendar_days
 WHERE calendar_code = 'cn' AND day BETWEEN '2026-02-10' AND '2026-03-01' ORDER BY day;

-- The generated install part holds exactly data/cn-calendar.csv: loading the file
-- with load_calendar_csv into another calendar gives the same days.
\set cn_csv `cat data/cn-calendar.csv`
INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('cn-copy', 'copy of cn', 'Asia/Shanghai');
SELECT * FROM workorder.load_calendar_csv('cn-copy', :'cn_csv');
SELECT count(*) AS differences FROM (
    (SELECT day, kind, name, name_en FROM workorder.calendar_days WHERE calendar_code = 'cn'
     EXCEPT SELECT day, kind, name, name_en FROM workorder.calendar_days WHERE calendar_code = 'cn-copy')
    UNION ALL
    (SELECT day, kind, name, name_en FROM workorder.calendar_days WHERE calendar_code = 'cn-copy'
     EXCEPT SELECT day, kind, name, name_en FROM workorder.calendar_days WHERE calendar_code = 'cn')) d;

--
-- add_working_time on cn: 09:00-12:00 and 14:00-18:00 Monday to Friday.
-- 2026-11-27 is a Friday, 2026-11-30 a Monday.
--
SELECT label, pg_temp.ts(start) AS start, duration, pg_temp.ts(workorder.add_working_time(start, duration)) AS result,
       workorder.working_time_between(start, workorder.add_working_time(start, duration)) AS counted
  FROM (VALUES
    ('inside a morning span',          timestamptz '2026-11-30 10:00+08', interval '1 hour'),
    ('across lunch',                   '2026-11-30 11:30+08', '1 hour'),
    ('across the night',               '2026-11-30 17:30+08', '1 hour'),
    ('before work: counts from 09:00', '2026-11-30 07:00+08', '1 hour'),
    ('at lunch: counts from 14:00',    '2026-11-30 12:30+08', '30 minutes'),
    ('on a Saturday: from Monday',     '2026-11-28 10:00+08', '1 hour'),
    ('ends exactly at a span end',     '2026-11-30 09:00+08', '3 hours'),
    ('ends exactly at 18:00',          '2026-11-30 14:00+08', '4 hours'),
    ('a full working day',             '2026-11-30 09:00+08', '7 hours'),
    ('Friday afternoon to Monday',     '2026-11-27 16:00+08', '3 hours'),
    ('seconds and microseconds',       '2026-11-30 11:59:59.5+08', '1.25 seconds'),
    ('a working week',                 '2026-11-30 09:00+08', '35 hours'),
    ('200 working hours',              '2026-11-27 16:00+08', '200 hours')) v(label, start, duration);

-- Holidays and make-up workdays.
SELECT label, pg_temp.ts(start) AS start, duration, pg_temp.ts(workorder.add_working_time(start, duration)) AS result
  FROM (VALUES
    ('on National Day: from 10-08',        timestamptz '2026-10-01 10:00+08', interval '1 hour'),
    ('National Day, 8 h',                  '2026-10-01 10:00+08', '8 hours'),
    ('into the make-up Saturday 10-10',    '2026-10-01 10:00+08', '15 hours'),
    ('Friday before Spring Festival',      '2026-02-13 16:00+08', '2 hours'),
    ('onto make-up Saturday 02-14',        '2026-02-13 16:00+08', '3 hours'),
    ('over the whole Spring Festival',     '2026-02-13 16:00+08', '10 hours'),
    ('40 h across Spring Festival',        '2026-02-12 09:00+08', '40 hours'),
    ('into make-up Saturday 02-28',        '2026-02-27 17:00+08', '2 hours'),
    ('make-up Sunday 09-20',               '2026-09-18 17:00+08', '2 hours'),
    ('Mid-autumn Friday to Monday',        '2026-09-24 17:00+08', '2 hours')) v(label, start, duration);

-- Zero and negative durations.  Zero returns the start unmoved, even on a Saturday;
-- a negative duration counts back to a span start or into a span.
SELECT label, pg_temp.ts(start) AS start, duration, pg_temp.ts(workorder.add_working_time(start, duration)) AS result,
       workorder.working_time_between(workorder.add_working_time(start, duration), start) AS counted_back
  FROM (VALUES
    ('zero, in hours',             timestamptz '2026-11-30 10:00+08', interval '0'),
    ('zero, on a Saturday',        '2026-11-28 10:00+08', '0 hours'),
    ('back within a span',         '2026-11-30 11:00+08', '-1 hour'),
    ('back over the weekend',      '2026-11-30 10:00+08', '-2 hours'),
    ('back from 09:00 Monday',     '2026-11-30 09:00+08', '-1 hour'),
    ('back over lunch',            '2026-12-01 14:00+08', '-2 hours'),
    ('back from a Saturday',       '2026-11-28 10:00+08', '-30 minutes'),
    ('back exactly to 14:00',      '2026-11-30 18:00+08', '-4 hours'),
    ('back across Spring Festival', '2026-02-24 10:00+08', '-2 hours')) v(label, start, duration);

--
-- working_time_between: the working time in [a, b); negative when b < a.
--
SELECT label, pg_temp.ts(a) AS a, pg_temp.ts(b) AS b, workorder.working_time_between(a, b) AS working_time
  FROM (VALUES
    ('a Monday, midnight to midnight', timestamptz '2026-11-30 00:00+08', timestamptz '2026-12-01 00:00+08'),
    ('a week',                         '2026-11-30 00:00+08', '2026-12-07 00:00+08'),
    ('a Saturday',                     '2026-11-28 00:00+08', '2026-11-29 00:00+08'),
    ('the same instant',               '2026-11-30 10:00+08', '2026-11-30 10:00+08'),
    ('reversed: negative',             '2026-12-01 00:00+08', '2026-11-30 00:00+08'),
    ('lunch break only',               '2026-11-30 12:00+08', '2026-11-30 14:00+08'),
    ('Spring Festival fortnight',      '2026-02-09 00:00+08', '2026-02-23 00:00+08'),
    ('National Day week',              '2026-10-01 00:00+08', '2026-10-08 00:00+08'),
    ('the year 2025',                  '2025-01-01 00:00+08', '2026-01-01 00:00+08')) v(label, a, b);

--
-- add_working_days: the end of working hours of the N-th working day after the day
-- of receipt; 0 is the end of the current working day.
--
SELECT label, pg_temp.ts(start) AS start, days, pg_temp.ts(workorder.add_working_days(start, days)) AS due
  FROM (VALUES
    ('Friday afternoon, 1 day',         timestamptz '2026-11-27 16:00+08', 1),
    ('Friday afternoon, 5 days',        '2026-11-27 16:00+08', 5),
    ('Saturday, 1 day',                 '2026-11-28 10:00+08', 1),
    ('Monday 08:00, 0 days',            '2026-11-30 08:00+08', 0),
    ('Monday 17:59, 0 days',            '2026-11-30 17:59+08', 0),
    ('Monday 18:00, 0 days',            '2026-11-30 18:00+08', 0),
    ('Saturday, 0 days',                '2026-11-28 10:00+08', 0),
    ('before National Day, 1 day',      '2026-09-30 10:00+08', 1),
    ('before National Day, 3 days',     '2026-09-30 10:00+08', 3),
    ('onto make-up Sunday 09-20',       '2026-09-18 10:00+08', 1),
    ('over Mid-autumn',                 '2026-09-24 10:00+08', 1),
    ('over Spring Festival, 5 days',    '2026-02-12 10:00+08', 5),
    ('late evening counts as its day',  '2026-11-30 23:59+08', 1)) v(label, start, days);

-- NULL start, duration or days give NULL, as date arithmetic does.
SELECT workorder.add_working_time(NULL, '1 hour') AS no_start,
       workorder.add_working_time('2026-11-30 10:00+08', NULL) AS no_duration,
       workorder.working_time_between(NULL, '2026-11-30 10:00+08') AS no_a,
       workorder.add_working_days('2026-11-30 10:00+08', NULL) AS no_days;

--
-- Daylight saving time.  Europe/Berlin switched on 2026-03-29 (02:00 -> 03:00) and
-- 2026-10-25 (03:00 -> 02:00); America/New_York on 2026-03-08 and 2026-11-01.  The
-- working hours are wall-clock hours, so the UTC instants move by an hour.
--
INSERT INTO workorder.calendars (code, name, time_zone) VALUES
    ('de-berlin', 'Berlin office', 'Europe/Berlin'),
    ('us-ny', 'New York office', 'America/New_York'),
    ('night', 'Sunday night shift, Berlin', 'Europe/Berlin');
INSERT INTO workorder.calendar_hours (calendar_code, isodow, starts, ends)
SELECT c, d, time '09:00', time '17:00' FROM unnest(ARRAY['de-berlin', 'us-ny']) c, generate_series(1, 5) d
UNION ALL SELECT 'night', 7, '00:00', '06:00';

SELECT calendar, start AT TIME ZONE 'UTC' AS start_utc, duration,
       workorder.add_working_time(start, duration, calendar) AT TIME ZONE 'UTC' AS result_utc,
       to_char(workorder.add_working_time(start, duration, calendar) AT TIME ZONE z, 'YYYY-MM-DD Dy HH24:MI') AS result_local,
       workorder.working_time_between(start, workorder.add_working_time(start, duration, calendar), calendar) AS counted
  FROM (VALUES
    ('de-berlin', 'Europe/Berlin', timestamptz '2026-03-27 14:00Z', interval '4 hours'),   -- Fri 15:00 CET
    ('de-berlin', 'Europe/Berlin', '2026-03-27 14:00Z', '-8 hours'),
    ('de-berlin', 'Europe/Berlin', '2026-10-23 13:00Z', '4 hours'),                         -- Fri 15:00 CEST
    ('de-berlin', 'Europe/Berlin', '2026-03-25 08:00Z', '24 hours'),                        -- Wed 09:00 CET
    ('us-ny', 'America/New_York', '2026-03-06 20:00Z', '3 hours'),                          -- Fri 15:00 EST
    ('us-ny', 'America/New_York', '2026-10-30 19:00Z', '3 hours'),                          -- Fri 15:00 EDT
    ('us-ny', 'America/New_York', '2026-11-02 15:00Z', '-3 hours')) v(calendar, z, start, duration);
-- Each working day is 8 hours, the switch days' neighbours too.
SELECT calendar, day, starts AT TIME ZONE 'UTC' AS starts_utc, ends AT TIME ZONE 'UTC' AS ends_utc
  FROM (SELECT 'de-berlin' AS calendar, s.* FROM workorder.calendar_spans('de-berlin', '2026-03-27', '2026-03-30') s
        UNION ALL
        SELECT 'de-berlin', s.* FROM workorder.calendar_spans('de-berlin', '2026-10-23', '2026-10-26') s) x
 ORDER BY starts;
SELECT workorder.working_time_between('2026-03-23 00:00+01', '2026-03-30 00:00+02', 'de-berlin') AS week_of_march_switch,
       workorder.working_time_between('2026-10-19 00:00+02', '2026-10-26 00:00+01', 'de-berlin') AS week_of_october_switch;
-- Counted on instants: the Sunday night shift 00:00-06:00 is 5 hours on the night
-- the clocks go forward and 7 hours on the night they go back.
SELECT workorder.working_time_between('2026-03-28 12:00Z', '2026-03-29 12:00Z', 'night') AS march_night,
       workorder.working_time_between('2026-10-24 12:00Z', '2026-10-25 12:00Z', 'night') AS october_night,
       workorder.working_time_between('2026-06-20 12:00Z', '2026-06-21 12:00Z', 'night') AS june_night;

--
-- Errors.
--
\x on
SELECT stmt, e.*
  FROM (VALUES
    ($$SELECT workorder.add_working_time('2026-11-30 10:00+08', '1 hour', 'nowhere')$$),
    ($$SELECT workorder.add_working_time('2026-11-30 10:00+08', '1 hour', NULL)$$),
    ($$SELECT workorder.working_time_between('2026-11-30', '2026-12-01', '')$$),
    ($$SELECT workorder.add_working_days('2026-11-30', 1, repeat('x', 100))$$),
    ($$SELECT workorder.add_working_time('2026-11-30 10:00+08', '1 day')$$),
    ($$SELECT workorder.add_working_time('2026-11-30 10:00+08', '1 mon 2 hours')$$),
    ($$SELECT workorder.add_working_time('infinity', '1 hour')$$),
    ($$SELECT workorder.working_time_between('2026-11-30', '-infinity')$$),
    ($$SELECT workorder.add_working_days('2026-11-30', -1)$$),
    ($$SELECT workorder.add_working_time('2026-11-30 10:00+08', '1000000 hours')$$),
    ($$SELECT workorder.working_time_between('1920-01-01', '2026-01-01')$$),
    ($$SELECT workorder.calendar_spans('nowhere', '2026-01-01', '2026-01-02')$$),
    ($$SELECT workorder.calendar_spans('cn', '0001-01-01', '9999-12-31')$$)) s(stmt),
       LATERAL pg_temp.error_of(stmt) e;

-- A calendar without working hours cannot be used.
INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('empty', 'no hours yet', 'UTC');
SELECT * FROM pg_temp.error_of($$SELECT workorder.add_working_time('2026-11-30 10:00+08', '1 hour', 'empty')$$);

-- Bad definitions are refused by the tables' triggers.
SELECT stmt, e.*
  FROM (VALUES
    ($$INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('x', 'x', 'asia/shanghai')$$),
    ($$INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('x', 'x', 'Mars/Olympus')$$),
    ($$INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('no spaces', 'x', 'UTC')$$),
    ($$INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('x', ' ', 'UTC')$$),
    ($$INSERT INTO workorder.calendars (code, name, time_zone, makeup_isodow) VALUES ('x', 'x', 'UTC', 8)$$),
    ($$INSERT INTO workorder.calendar_hours VALUES ('empty', 8, '09:00', '12:00')$$),
    ($$INSERT INTO workorder.calendar_hours VALUES ('empty', 1, '12:00', '09:00')$$),
    ($$INSERT INTO workorder.calendar_hours VALUES ('empty', 1, '09:00', '12:00'), ('empty', 1, '11:00', '13:00')$$),
    ($$INSERT INTO workorder.calendar_hours VALUES ('nowhere', 1, '09:00', '12:00')$$),
    ($$INSERT INTO workorder.calendar_days VALUES ('empty', '2027-01-01', 'vacation')$$),
    ($$INSERT INTO workorder.calendar_days VALUES ('empty', 'infinity', 'holiday')$$)) s(stmt),
       LATERAL pg_temp.error_of(stmt) e;
\x off

-- Hours that touch are one span; the spans of a day may also end at 24:00.
INSERT INTO workorder.calendar_hours VALUES ('empty', 1, '00:00', '12:00'), ('empty', 1, '12:00', '24:00'),
                                            ('empty', 2, '00:00', '08:00');
SELECT pg_temp.ts(workorder.add_working_time('2026-11-30 00:00Z', '30 hours', 'empty')) AS through_midnight,
       workorder.working_time_between('2026-11-29 00:00Z', '2026-12-06 00:00Z', 'empty') AS per_week;

--
-- Changes show at once: the backend's cached copy of a calendar is invalidated by
-- the statement that changes it, and a rollback brings the old copy back.
--
SELECT pg_temp.ts(workorder.add_working_time('2026-11-30 17:00+08', '2 hours')) AS before_change;
SAVEPOINT longer_day;
UPDATE workorder.calendar_hours SET ends = '19:00' WHERE calendar_code = 'cn' AND isodow = 1 AND starts = '14:00';
SELECT pg_temp.ts(workorder.add_working_time('2026-11-30 17:00+08', '2 hours')) AS monday_until_19;
ROLLBACK TO SAVEPOINT longer_day;
SELECT pg_temp.ts(workorder.add_working_time('2026-11-30 17:00+08', '2 hours')) AS after_rollback;

--
-- Next year's plan: one call with the CSV as the State Council's plan is published
-- (a made-up 2027 plan in the format of data/cn-calendar.csv).
--
-- Until then the holidays are known to the end of 2026 (the shipped data), and a
-- day of 2027 follows the week alone.  days_ahead counts from today.
SELECT calendar, first_listed_day, last_listed_day, covered_until,
       days_ahead = covered_until - (now() AT TIME ZONE time_zone)::date AS days_ahead_from_today
  FROM workorder.calendar_coverage WHERE calendar IN ('cn', 'cn-copy') ORDER BY calendar;
SELECT pg_temp.ts(workorder.add_working_time('2026-12-31 17:00+08', '2 hours')) AS new_year_before,
       pg_temp.ts(workorder.add_working_time('2026-11-27 16:00+08', '200 hours')) AS two_hundred_hours_before,
       pg_temp.ts(workorder.add_working_days('2027-02-04 10:00+08', 1)) AS spring_festival_before;
DELETE FROM workorder.calendar_changes;
\set plan_2027 'day,kind,name_en,name_zh\n2027-01-01,holiday,New Year''s Day,元旦\n2027-01-02,holiday,New Year''s Day,元旦\n2027-01-03,holiday,New Year''s Day,元旦\n2027-01-31,workday,Spring Festival,春节\n2027-02-05,holiday,Spring Festival,春节\n2027-02-06,holiday,Spring Festival,春节\n2027-02-07,holiday,Spring Festival,春节\n2027-02-08,holiday,Spring Festival,春节\n2027-02-09,holiday,Spring Festival,春节\n2027-02-10,holiday,Spring Festival,春节\n2027-02-11,holiday,Spring Festival,春节\n2027-02-20,workday,Spring Festival,春节\n'
SELECT * FROM workorder.load_calendar_csv('cn', :'plan_2027');
SELECT pg_temp.ts(workorder.add_working_time('2026-12-31 17:00+08', '2 hours')) AS new_year_after,
       pg_temp.ts(workorder.add_working_time('2026-11-27 16:00+08', '200 hours')) AS two_hundred_hours_after,
       pg_temp.ts(workorder.add_working_days('2027-02-04 10:00+08', 1)) AS spring_festival_after;
-- Now 2027 is covered.  A calendar with no exception days listed covers nothing.
INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('weekly', 'the week alone', 'UTC');
SELECT calendar, last_listed_day, covered_until, days_ahead IS NULL AS days_ahead_null
  FROM workorder.calendar_coverage WHERE calendar IN ('cn', 'weekly') ORDER BY calendar;
-- The hook for deadlines: the changed range; and cn is no longer as shipped, so
-- pg_dump now keeps it.
SELECT calendar_code, first_day, last_day, what FROM workorder.calendar_changes ORDER BY id;
SELECT code, shipped FROM workorder.calendars WHERE code = 'cn';
-- Loading the same plan again changes nothing; a corrected line updates one day.
SELECT * FROM workorder.load_calendar_csv('cn', :'plan_2027');
SELECT * FROM workorder.load_calendar_csv('cn', E'day,kind,name_en,name_zh\r\n2027-01-31,workday,Spring Festival,"春节 (调休)"\r\n');
-- The same from JSON.
SELECT * FROM workorder.load_calendar_days('cn', '[{"day": "2027-04-05", "kind": "holiday", "name": "清明", "name_en": "Tomb-sweeping Day"},
                                                   {"day": "2027-01-01", "kind": "holiday", "name": "元旦", "name_en": "New Year''s Day"}]');
SELECT day, kind, name, name_en FROM workorder.calendar_days WHERE calendar_code = 'cn' AND day >= '2027-01-01' ORDER BY day;

-- Bad input is refused with the line or element named, and nothing is written.
SELECT count(*) AS cn_days_before FROM workorder.calendar_days WHERE calendar_code = 'cn';
\x on
SELECT e.*
  FROM (VALUES
    ($$SELECT workorder.load_calendar_csv('nowhere', 'day,kind,name_en,name_zh')$$),
    ($$SELECT workorder.load_calendar_csv('cn', '')$$),
    ($$SELECT workorder.load_calendar_csv('cn', E'date,type,name\n2027-10-01,holiday,x')$$),
    ($$SELECT workorder.load_calendar_csv('cn', E'day,kind,name_en,name_zh\n2027-10-01,holiday,National Day,国庆节\n2027-10-02,holiday,National Day\n')$$),
    ($$SELECT workorder.load_calendar_csv('cn', E'day,kind,name_en,name_zh\n2027-10-01,holiday,National Day,国庆节\n2027-02-30,holiday,x,y\n')$$),
    ($$SELECT workorder.load_calendar_csv('cn', E'day,kind,name_en,name_zh\n2027-10-01,holiday,National Day,国庆节\n10/02/2027,holiday,x,y\n')$$),
    ($$SELECT workorder.load_calendar_csv('cn', E'day,kind,name_en,name_zh\n2027-10-01,holiday,National Day,国庆节\n2027-10-09,Workday,x,y\n')$$),
    ($$SELECT workorder.load_calendar_csv('cn', E'day,kind,name_en,name_zh\n2027-10-01,holiday,National Day,国庆节\n2027-10-01,workday,National Day,国庆节\n')$$),
    ($$SELECT workorder.load_calendar_csv('cn', E'day,kind,name_en,name_zh\n2027-10-01,holiday,"National Day,国庆节\n')$$),
    ($$SELECT workorder.load_calendar_days('cn', '{"day": "2027-10-01"}')$$),
    ($$SELECT workorder.load_calendar_days('cn', '[{"day": "2027-10-01", "kind": "holiday"}, "2027-10-02"]')$$),
    ($$SELECT workorder.load_calendar_days('cn', '[{"day": "2027-10-01", "kind": "holiday"}, {"kind": "holiday"}]')$$),
    ($$SELECT workorder.load_calendar_days('cn', '[{"day": "1899-12-31", "kind": "holiday"}]')$$),
    ($$SELECT workorder.load_calendar_days(NULL, '[]')$$)) s(stmt),
       LATERAL pg_temp.error_of(stmt) e;
\x off
SELECT count(*) AS cn_days_after FROM workorder.calendar_days WHERE calendar_code = 'cn';

ROLLBACK;
