-- workorder install script, part 82: how far ahead the calendars' holidays are known.
--
-- calendar_coverage says how far ahead each calendar's exception days are known.
-- The holidays and make-up workdays of a year come from the State Council's plan
-- for it, published late in the year before; a day of a year without its plan
-- follows the weekly hours alone (no holiday, no 调休), so a deadline that falls
-- in it may be days early.  covered_until is the last day of the last year with
-- any exception day listed (NULL: none listed), days_ahead how many days from
-- today (in the calendar's zone) that is, negative once it is past: a dashboard
-- or a check can warn when it falls under a month or two, and
-- load_calendar_csv() or load_calendar_days() loads the next plan.
CREATE VIEW workorder.calendar_coverage AS
SELECT c.code AS calendar, c.time_zone,
       d.first_listed_day, d.last_listed_day,
       pg_catalog.make_date(pg_catalog.date_part('year', d.last_listed_day)::integer, 12, 31) AS covered_until,
       pg_catalog.make_date(pg_catalog.date_part('year', d.last_listed_day)::integer, 12, 31)
           OPERATOR(pg_catalog.-) (pg_catalog.now() AT TIME ZONE c.time_zone)::date AS days_ahead
  FROM workorder.calendars c
  LEFT JOIN LATERAL (SELECT pg_catalog.min(x.day) AS first_listed_day, pg_catalog.max(x.day) AS last_listed_day
                       FROM workorder.calendar_days x
                      WHERE x.calendar_code OPERATOR(pg_catalog.=) c.code) d ON true;
COMMENT ON VIEW workorder.calendar_coverage IS
    'How far ahead each calendar''s holidays and make-up workdays are listed: covered_until (the end of the last year listed) and days_ahead from today.';
