-- The calendar loaders take replace_years and return how many days they deleted
-- (sql/install/80_calendar.sql): a new argument and a new result column, which
-- CREATE OR REPLACE cannot give; @functions creates them again.
DROP FUNCTION workorder.load_calendar_days(text, jsonb);
DROP FUNCTION workorder.load_calendar_csv(text, text);
DROP FUNCTION workorder.load_calendar_rows(text, jsonb, text);
