-- workorder install script, part 82: how far ahead the calendars' holidays are known.
--
-- calendar_coverage says how far ahead each calendar's exception days are known.
-- The holidays and make-up workdays of a year come from the State Council's plan
-- for it, published late in the year before; a day of a year without its plan
-- follows the weekly hours alone (no holiday, no 调休), so a deadline that falls
-- in it may be days early.  covered_until is the last day of the last year of the
-- unbroken run of listed years that holds this year (each year from this one to it
-- has a day listed); when this year has none, the last day of the last year before
-- it that has one (NULL: none listed, or only years ahead).  days_ahead is how many
-- days from today (in the calendar's zone) that is, negative once it is past: a
-- dashboard or a check can warn when it falls under a month or two, and
-- load_calendar_csv() or load_calendar_days() loads the next plan.  (It was the end
-- of the year of the last day listed: one day typed 2072 for 2027 covered 45 years,
-- and the check stayed quiet while 2027 had no Spring Festival.)
CREATE VIEW workorder.calendar_coverage AS
SELECT c.code AS calendar, c.time_zone,
       d.first_listed_day, d.last_listed_day,
       pg_catalog.make_date(r.covered_year, 12, 31) AS covered_until,
       pg_catalog.make_date(r.covered_year, 12, 31) OPERATOR(pg_catalog.-) t.today AS days_ahead
  FROM workorder.calendars c
  CROSS JOIN LATERAL (SELECT (pg_catalog.now() AT TIME ZONE c.time_zone)::date AS today) t
  LEFT JOIN LATERAL (SELECT pg_catalog.min(x.day) AS first_listed_day, pg_catalog.max(x.day) AS last_listed_day
                       FROM workorder.calendar_days x
                      WHERE x.calendar_code OPERATOR(pg_catalog.=) c.code) d ON true
  LEFT JOIN LATERAL (
      WITH listed AS (
          SELECT DISTINCT pg_catalog.date_part('year', x.day)::integer AS year
            FROM workorder.calendar_days x
           WHERE x.calendar_code OPERATOR(pg_catalog.=) c.code
      ), this AS (
          SELECT pg_catalog.date_part('year', t.today)::integer AS year
      )
      SELECT CASE WHEN EXISTS (SELECT 1 FROM listed l, this WHERE l.year OPERATOR(pg_catalog.=) this.year)
                  THEN (SELECT pg_catalog.min(l.year) FROM listed l, this
                         WHERE l.year OPERATOR(pg_catalog.>=) this.year
                           AND NOT EXISTS (SELECT 1 FROM listed n
                                            WHERE n.year OPERATOR(pg_catalog.=) (l.year OPERATOR(pg_catalog.+) 1)))
                  ELSE (SELECT pg_catalog.max(l.year) FROM listed l, this WHERE l.year OPERATOR(pg_catalog.<) this.year) END
             AS covered_year) r ON true;
COMMENT ON VIEW workorder.calendar_coverage IS
    'How far ahead each calendar''s holidays and make-up workdays are listed: covered_until (the end of the unbroken run of listed years from this one) and days_ahead from today.';
