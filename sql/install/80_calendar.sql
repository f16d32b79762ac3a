-- workorder install script, part 80: working calendars.
--
-- A calendar says when people work, in one time zone:
--   calendars       code, name, time zone (a name of pg_timezone_names) and
--                   makeup_isodow: the weekday whose hours a make-up workday has
--                   (default 1, Monday)
--   calendar_hours  the weekly working hours: spans [starts, ends) of local
--                   wall-clock time per ISO weekday (1 Monday .. 7 Sunday), several
--                   a day if need be (09:00-12:00 and 14:00-18:00); ends may be 24:00
--   calendar_days   the exceptions: a 'holiday' has no working hours at all; a
--                   'workday' (调休, a weekend day people work) has the hours of
--                   the calendar's makeup_isodow (none if that weekday has no hours).
--                   Any day not listed follows the week.
-- The default calendar cn (Mainland China) is in part 81, generated from
-- data/cn-calendar.csv by scripts/calendar-sql.
--
-- The arithmetic is in C (src/calendar.c):
--   add_working_time(start, duration, calendar)   the instant when duration of working
--                                                 time has elapsed after start
--   working_time_between(a, b, calendar)          the working time in [a, b)
--   add_working_days(start, days, calendar)       the end of working hours of the
--                                                 days-th working day after start's day
-- Spans are wall-clock times, counted as the instants they cover in the calendar's
-- time zone, so daylight-saving switches are right.  Each backend keeps every calendar
-- it has used in memory; a statement trigger on the three tables invalidates the
-- copies in every backend when the tables change (the changing session sees the
-- change at its next statement, the others from their next transaction on).
--
-- Next year's holiday plan is one call, no code change:
--   SELECT * FROM workorder.load_calendar_csv('cn', :'csv');
--   SELECT * FROM workorder.load_calendar_days('cn', '[{"day": "2027-01-01", "kind": "holiday", "name": "元旦"}]');
--
-- Every change to a calendar's data is written to workorder.calendar_changes: the
-- hook where deadlines of open orders will be recomputed (issue 4, second part).
--
-- Dump and restore.  The three tables are configuration: pg_dump keeps their rows,
-- except those of a calendar still exactly as the extension shipped it (shipped =
-- true; CREATE EXTENSION makes it again).  The first change to a shipped calendar
-- (its row, hours or days) clears the flag, and from then on the whole calendar is
-- dumped; restoring it replaces the shipped copy, because inserting a calendar whose
-- code belongs to a still-shipped calendar replaces that calendar.
--
-- SQLSTATEs: WO501 unknown calendar; WO502 invalid calendar definition (a row of the
-- three tables, or a calendar without working hours); WO503 invalid argument of a
-- calendar function (a duration with days or months, an infinite time, a negative
-- number of days, no end within 100 years); WO504 calendar data that cannot be loaded
-- (the message names the line or element).

CREATE TABLE workorder.calendars (
    code          text PRIMARY KEY,
    name          text NOT NULL,
    time_zone     text NOT NULL,
    makeup_isodow smallint NOT NULL DEFAULT 1,
    description   text,
    shipped       boolean NOT NULL DEFAULT false,
    CONSTRAINT calendars_code_format CHECK (code OPERATOR(pg_catalog.~) '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    CONSTRAINT calendars_makeup_isodow CHECK (makeup_isodow OPERATOR(pg_catalog.>=) 1
                                              AND makeup_isodow OPERATOR(pg_catalog.<=) 7)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.calendars', 'WHERE NOT shipped');
COMMENT ON TABLE workorder.calendars IS
    'Working calendars: a time zone, weekly hours (calendar_hours) and exception days (calendar_days).';
COMMENT ON COLUMN workorder.calendars.makeup_isodow IS
    'ISO weekday (1 Monday .. 7 Sunday) whose working hours a make-up workday (calendar_days.kind = workday) has.';
COMMENT ON COLUMN workorder.calendars.shipped IS
    'True while the calendar is exactly as the extension shipped it; pg_dump leaves such a calendar out.';

CREATE TABLE workorder.calendar_hours (
    calendar_code text NOT NULL REFERENCES workorder.calendars (code) ON UPDATE CASCADE ON DELETE CASCADE,
    isodow        smallint NOT NULL,
    starts        time NOT NULL,
    ends          time NOT NULL,
    PRIMARY KEY (calendar_code, isodow, starts),
    CONSTRAINT calendar_hours_isodow CHECK (isodow OPERATOR(pg_catalog.>=) 1 AND isodow OPERATOR(pg_catalog.<=) 7),
    CONSTRAINT calendar_hours_span CHECK (starts OPERATOR(pg_catalog.<) ends)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.calendar_hours',
    'WHERE calendar_code NOT IN (SELECT c.code FROM workorder.calendars c WHERE c.shipped)');
COMMENT ON TABLE workorder.calendar_hours IS
    'Weekly working hours: spans [starts, ends) of local time per ISO weekday; spans of one day must not overlap.';

CREATE TABLE workorder.calendar_days (
    calendar_code text NOT NULL REFERENCES workorder.calendars (code) ON UPDATE CASCADE ON DELETE CASCADE,
    day           date NOT NULL,
    kind          text NOT NULL,
    name          text,
    name_en       text,
    PRIMARY KEY (calendar_code, day),
    CONSTRAINT calendar_days_kind CHECK (kind IN ('holiday', 'workday'))
);
SELECT pg_catalog.pg_extension_config_dump('workorder.calendar_days',
    'WHERE calendar_code NOT IN (SELECT c.code FROM workorder.calendars c WHERE c.shipped)');
COMMENT ON TABLE workorder.calendar_days IS
    'Exception days: holiday (no working hours) or workday (a make-up workday, with the hours of calendars.makeup_isodow).';

-- calendar_changes is the hook for recomputing deadlines: every statement that
-- changes a calendar's hours, days, time zone or make-up weekday appends one row per
-- calendar, with the range of days it touched (NULL: unbounded, as for a change of
-- hours).  The deadline job (issue 4, second part) reads the rows, recomputes the
-- deadlines of the open orders on that calendar, and deletes the rows it handled.
-- It is a work queue, not configuration: pg_dump leaves it out.
CREATE TABLE workorder.calendar_changes (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    calendar_code text NOT NULL,
    first_day     date,
    last_day      date,
    what          text NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    awaited       text[],
    CONSTRAINT calendar_changes_what CHECK (what IN ('days', 'hours', 'calendar'))
);
COMMENT ON TABLE workorder.calendar_changes IS
    'Calendar data changed since the deadlines were last recomputed: calendar, range of days (NULL: unbounded), what.';
COMMENT ON COLUMN workorder.calendar_changes.awaited IS
    'The transactions (virtual ids) that were counting deadlines when the recompute first saw the change; it waits for them to end (NULL: not seen yet).';

-- calendar_must_exist raises WO501 unless calendar is the code of a calendar, with
-- the message the C functions give.
CREATE FUNCTION workorder.calendar_must_exist(calendar text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF calendar IS NULL THEN
        PERFORM workorder.raise_error('WO501', 'calendar is NULL', 'The calendar argument is NULL.',
            'Pass a code of workorder.calendars, such as cn.');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM workorder.calendars c WHERE c.code OPERATOR(pg_catalog.=) calendar) THEN
        PERFORM workorder.raise_error('WO501',
            pg_catalog.format('unknown calendar "%s"', calendar),
            pg_catalog.format('No row of workorder.calendars has the code "%s".', calendar),
            'Use a code of workorder.calendars, such as cn, or create the calendar first.');
    END IF;
END
$$;

-- calendars_before_write checks a calendar row (WO502), and keeps the shipped flag:
-- any change to a shipped calendar clears it, and a calendar inserted over a still
-- shipped calendar of the same code replaces it.
CREATE FUNCTION workorder.calendars_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    canonical text;
BEGIN
    IF NEW.code IS NULL OR NEW.code OPERATOR(pg_catalog.!~) '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' THEN
        PERFORM workorder.raise_error('WO502', 'invalid calendar code',
            pg_catalog.format('The code is %s.', COALESCE(pg_catalog.quote_literal(NEW.code), 'NULL')),
            'A calendar code is 1 to 64 letters, digits, dots, dashes and underscores, beginning with a letter or digit, e.g. cn or cn-gd.');
    END IF;
    IF NEW.name IS NULL OR pg_catalog.btrim(NEW.name) OPERATOR(pg_catalog.=) ''
       OR pg_catalog.length(NEW.name) OPERATOR(pg_catalog.>) 100 THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('calendar %s has a missing or oversized name', NEW.code),
            pg_catalog.format('The name is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(NEW.name, 120)), 'NULL')),
            'Give the calendar a name of 1 to 100 characters.');
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' OR NEW.time_zone IS DISTINCT FROM OLD.time_zone THEN
        IF NEW.time_zone IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z
                                                 WHERE z.name OPERATOR(pg_catalog.=) NEW.time_zone) THEN
            SELECT z.name INTO canonical FROM pg_catalog.pg_timezone_names z
             WHERE pg_catalog.lower(z.name) OPERATOR(pg_catalog.=) pg_catalog.lower(NEW.time_zone)
             ORDER BY z.name LIMIT 1;
            PERFORM workorder.raise_error('WO502',
                pg_catalog.format('calendar %s has an unknown time zone', NEW.code),
                pg_catalog.format('The time zone is %s; it is not a name in pg_timezone_names.',
                                  COALESCE(pg_catalog.quote_literal(NEW.time_zone), 'NULL')),
                CASE WHEN canonical IS NOT NULL THEN pg_catalog.format('Did you mean %s?', canonical)
                     ELSE 'Use a time zone name such as Asia/Shanghai or Europe/Berlin (SELECT name FROM pg_timezone_names).' END);
        END IF;
    END IF;
    IF NEW.makeup_isodow IS NULL OR NEW.makeup_isodow OPERATOR(pg_catalog.<) 1
       OR NEW.makeup_isodow OPERATOR(pg_catalog.>) 7 THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('calendar %s has an invalid make-up weekday', NEW.code),
            pg_catalog.format('makeup_isodow is %s.', COALESCE(NEW.makeup_isodow::text, 'NULL')),
            'makeup_isodow is the ISO weekday (1 Monday .. 7 Sunday) whose hours a make-up workday has; usually 1.');
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        -- Any change but to the flag itself makes the calendar no longer as shipped.
        IF (NEW.code, NEW.name, NEW.time_zone, NEW.makeup_isodow, NEW.description)
           IS DISTINCT FROM (OLD.code, OLD.name, OLD.time_zone, OLD.makeup_isodow, OLD.description) THEN
            NEW.shipped := false;
        END IF;
    ELSIF workorder.loaded_by_restore('workorder.calendars') THEN
        -- A calendar restored over one that is still as shipped replaces it: this
        -- is how pg_restore brings back a changed copy of a shipped calendar.  The
        -- transaction remembers it (calendars_replaced): its hours come later.
        -- Only a restore (loaded_by_restore, part 51): an INSERT of cn by hand
        -- deleted the shipped calendar, its hours and every holiday, and committed;
        -- every deadline on it failed from then on (an upsert of cn did too).
        DELETE FROM workorder.calendars c
         WHERE c.code OPERATOR(pg_catalog.=) NEW.code AND c.shipped;
        IF FOUND THEN
            PERFORM pg_catalog.set_config('workorder_calendar.replaced',
                pg_catalog.array_append(workorder.calendars_replaced(), NEW.code)::text, true);
        END IF;
    END IF;
    -- Otherwise a calendar there is stays: the primary key refuses the row, or an
    -- ON CONFLICT clause does what it says (a BEFORE trigger runs before conflicts
    -- are arbitrated, so it must not refuse the row itself).
    RETURN NEW;
END
$$;

-- calendars_replaced lists the shipped calendars that a copy replaced in this
-- transaction (a transaction-local setting, workorder_calendar.replaced: the prefix
-- workorder. is reserved for the extension's GUCs).
CREATE FUNCTION workorder.calendars_replaced()
RETURNS text[]
LANGUAGE sql STABLE
AS $$
    SELECT COALESCE(NULLIF(pg_catalog.current_setting('workorder_calendar.replaced', true), ''), '{}')::text[]
$$;

CREATE TRIGGER calendars_before_write
    BEFORE INSERT OR UPDATE ON workorder.calendars
    FOR EACH ROW EXECUTE FUNCTION workorder.calendars_before_write();

-- calendar_hours_before_write checks one span of weekly hours.
CREATE FUNCTION workorder.calendar_hours_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.calendar_must_exist(NEW.calendar_code);
    IF NEW.isodow IS NULL OR NEW.isodow OPERATOR(pg_catalog.<) 1 OR NEW.isodow OPERATOR(pg_catalog.>) 7 THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('working hours of calendar %s on an invalid weekday', NEW.calendar_code),
            pg_catalog.format('isodow is %s.', COALESCE(NEW.isodow::text, 'NULL')),
            'isodow is the ISO weekday: 1 Monday .. 7 Sunday.');
    END IF;
    IF NEW.starts IS NULL OR NEW.ends IS NULL OR NEW.starts OPERATOR(pg_catalog.>=) NEW.ends THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('working hours of calendar %s on weekday %s do not form a span', NEW.calendar_code, NEW.isodow),
            pg_catalog.format('starts is %s and ends is %s.', COALESCE(NEW.starts::text, 'NULL'), COALESCE(NEW.ends::text, 'NULL')),
            'A span runs from starts to a later ends on the same day (ends may be 24:00); split a night shift at midnight.');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER calendar_hours_before_write
    BEFORE INSERT OR UPDATE ON workorder.calendar_hours
    FOR EACH ROW EXECUTE FUNCTION workorder.calendar_hours_before_write();

-- calendar_hours_after_write refuses a span that overlaps another span of the same
-- weekday.  It runs after the statement's rows are all in place, so a statement that
-- moves several spans at once is judged on where they end up.
CREATE FUNCTION workorder.calendar_hours_after_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    other workorder.calendar_hours;
BEGIN
    SELECT * INTO other FROM workorder.calendar_hours h
     WHERE h.calendar_code OPERATOR(pg_catalog.=) NEW.calendar_code
       AND h.isodow OPERATOR(pg_catalog.=) NEW.isodow
       AND h.starts OPERATOR(pg_catalog.<>) NEW.starts
       AND h.starts OPERATOR(pg_catalog.<) NEW.ends AND NEW.starts OPERATOR(pg_catalog.<) h.ends
     ORDER BY h.starts LIMIT 1;
    IF FOUND THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('working hours of calendar %s overlap on weekday %s', NEW.calendar_code, NEW.isodow),
            pg_catalog.format('The span %s-%s overlaps the span %s-%s.', NEW.starts, NEW.ends, other.starts, other.ends),
            'Spans of one day must not overlap; merge them into one span, or move one.');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER calendar_hours_after_write
    AFTER INSERT OR UPDATE ON workorder.calendar_hours
    FOR EACH ROW EXECUTE FUNCTION workorder.calendar_hours_after_write();

-- calendar_makeup_on_weekday says whether a make-up workday (调休) on day would
-- fall on a weekday, Monday to Friday, that has working hours in calendar.  A
-- make-up workday is a day that would be off; one on such a weekday is almost
-- always a swapped kind (国庆节 typed as a workday): it loaded silently, the holiday
-- was never one, and every deadline across it came a day early.  (A Saturday or
-- Sunday with hours of its own, a service hall's, may still be made a full
-- working day.)
CREATE FUNCTION workorder.calendar_makeup_on_weekday(calendar text, day date)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.date_part('isodow', day) OPERATOR(pg_catalog.<=) 5
           AND EXISTS (SELECT 1 FROM workorder.calendar_hours h
                        WHERE h.calendar_code OPERATOR(pg_catalog.=) calendar
                          AND h.isodow OPERATOR(pg_catalog.=) pg_catalog.date_part('isodow', day)::integer)
$$;

-- calendar_days_before_write checks one exception day.
CREATE FUNCTION workorder.calendar_days_before_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM workorder.calendar_must_exist(NEW.calendar_code);
    IF NEW.kind IS NULL OR NEW.kind NOT IN ('holiday', 'workday') THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('day %s of calendar %s has an invalid kind', NEW.day, NEW.calendar_code),
            pg_catalog.format('The kind is %s.', COALESCE(pg_catalog.quote_literal(NEW.kind), 'NULL')),
            'The kind is holiday (a day off) or workday (a make-up workday on a weekend day).');
    END IF;
    IF NEW.kind OPERATOR(pg_catalog.=) 'workday' AND workorder.calendar_makeup_on_weekday(NEW.calendar_code, NEW.day) THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('day %s of calendar %s is a make-up workday on a %s, which has working hours already',
                              NEW.day, NEW.calendar_code, pg_catalog.to_char(NEW.day, 'FMDay')),
            pg_catalog.format('The kind is workday; the name is %s.', COALESCE(pg_catalog.quote_literal(COALESCE(NEW.name, NEW.name_en)), 'NULL')),
            'A make-up workday (调休) is a day of the week without working hours; a public holiday is of kind holiday.');
    END IF;
    IF NEW.day IS NULL OR NEW.day OPERATOR(pg_catalog.<) '1900-01-01'::date
       OR NEW.day OPERATOR(pg_catalog.>) '2199-12-31'::date THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('an exception day of calendar %s is out of range', NEW.calendar_code),
            pg_catalog.format('The day is %s.', COALESCE(NEW.day::text, 'NULL')),
            'Exception days lie between 1900-01-01 and 2199-12-31.');
    END IF;
    IF pg_catalog.length(NEW.name) OPERATOR(pg_catalog.>) 100 OR pg_catalog.length(NEW.name_en) OPERATOR(pg_catalog.>) 100 THEN
        PERFORM workorder.raise_error('WO502',
            pg_catalog.format('day %s of calendar %s has an oversized name', NEW.day, NEW.calendar_code),
            pg_catalog.format('The name is %s.', pg_catalog.left(COALESCE(NEW.name, NEW.name_en), 120)),
            'Names of days are at most 100 characters, e.g. 春节 and Spring Festival.');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER calendar_days_before_write
    BEFORE INSERT OR UPDATE ON workorder.calendar_days
    FOR EACH ROW EXECUTE FUNCTION workorder.calendar_days_before_write();


-- calendar_data_changed runs once per statement that changed calendar data.  It
-- appends the hook rows to calendar_changes, one per calendar: for days, the range
-- of days whose kind changed (a new name moves no deadline); for hours, and for a
-- new time zone or make-up weekday, the unbounded range.  Changed hours or days also
-- mark their calendar as no longer shipped.  Transition tables allow one event per
-- trigger, so each table has one trigger per event, all calling this function.
CREATE FUNCTION workorder.calendar_data_changed()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
        INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
        SELECT c.code, NULL, NULL, pg_catalog.replace(TG_TABLE_NAME, 'calendar_', '')
          FROM workorder.calendars c;
        UPDATE workorder.calendars c SET shipped = false WHERE c.shipped;
        RETURN NULL;
    END IF;

    IF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'calendars' THEN
        IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
            INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
            SELECT n.code, NULL, NULL, 'calendar'
              FROM (SELECT x.code, x.time_zone, x.makeup_isodow FROM new_rows x
                    EXCEPT SELECT y.code, y.time_zone, y.makeup_isodow FROM old_rows y) n;
        ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
            INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
            SELECT o.code, NULL, NULL, 'calendar' FROM old_rows o;
        END IF;
        RETURN NULL;
    END IF;

    IF TG_TABLE_NAME OPERATOR(pg_catalog.=) 'calendar_hours' THEN
        IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
            INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
            SELECT DISTINCT n.calendar_code, NULL::date, NULL::date, 'hours' FROM new_rows n;
        ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
            INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
            SELECT DISTINCT o.calendar_code, NULL::date, NULL::date, 'hours' FROM old_rows o;
        ELSE
            INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
            SELECT t.calendar_code, NULL, NULL, 'hours'
              FROM (SELECT n.calendar_code FROM new_rows n UNION SELECT o.calendar_code FROM old_rows o) t;
        END IF;
    ELSIF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
        INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
        SELECT n.calendar_code, pg_catalog.min(n.day), pg_catalog.max(n.day), 'days'
          FROM new_rows n GROUP BY n.calendar_code;
    ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
        SELECT o.calendar_code, pg_catalog.min(o.day), pg_catalog.max(o.day), 'days'
          FROM old_rows o GROUP BY o.calendar_code;
    ELSE
        INSERT INTO workorder.calendar_changes (calendar_code, first_day, last_day, what)
        SELECT d.calendar_code, pg_catalog.min(d.day), pg_catalog.max(d.day), 'days'
          FROM ((SELECT o.calendar_code, o.day, o.kind FROM old_rows o
                 EXCEPT SELECT n.calendar_code, n.day, n.kind FROM new_rows n)
                UNION ALL
                (SELECT n.calendar_code, n.day, n.kind FROM new_rows n
                 EXCEPT SELECT o.calendar_code, o.day, o.kind FROM old_rows o)) d
         GROUP BY d.calendar_code;
    END IF;

    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        UPDATE workorder.calendars c SET shipped = false
         WHERE c.shipped AND c.code IN (SELECT o.calendar_code FROM old_rows o);
    ELSE
        UPDATE workorder.calendars c SET shipped = false
         WHERE c.shipped AND c.code IN (SELECT n.calendar_code FROM new_rows n);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER calendars_after_update
    AFTER UPDATE ON workorder.calendars REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendars_after_delete
    AFTER DELETE ON workorder.calendars REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_hours_after_insert
    AFTER INSERT ON workorder.calendar_hours REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_hours_after_update
    AFTER UPDATE ON workorder.calendar_hours REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_hours_after_delete
    AFTER DELETE ON workorder.calendar_hours REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_hours_after_truncate
    AFTER TRUNCATE ON workorder.calendar_hours
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_days_after_insert
    AFTER INSERT ON workorder.calendar_days REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_days_after_update
    AFTER UPDATE ON workorder.calendar_days REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_days_after_delete
    AFTER DELETE ON workorder.calendar_days REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();
CREATE TRIGGER calendar_days_after_truncate
    AFTER TRUNCATE ON workorder.calendar_days
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_data_changed();

-- calendar_cache_invalidate tells every backend that its in-memory copy of the
-- calendars is out of date (src/calendar.c: a relcache invalidation of the changed
-- table, sent at commit; the backend that made the change sees it at once).  The
-- statement triggers fire in every session_replication_role, so that a restore
-- cannot leave stale copies behind; the row triggers below, enabled REPLICA, are
-- for a logical replication subscriber, whose apply worker fires no statement
-- trigger.
CREATE FUNCTION workorder.calendar_cache_invalidate()
RETURNS trigger
AS 'MODULE_PATHNAME', 'calendar_cache_invalidate'
LANGUAGE C;

CREATE TRIGGER calendars_cache_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.calendars
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_cache_invalidate();
CREATE TRIGGER calendar_hours_cache_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.calendar_hours
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_cache_invalidate();
CREATE TRIGGER calendar_days_cache_invalidate
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.calendar_days
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.calendar_cache_invalidate();
ALTER TABLE workorder.calendars ENABLE ALWAYS TRIGGER calendars_cache_invalidate;
ALTER TABLE workorder.calendar_hours ENABLE ALWAYS TRIGGER calendar_hours_cache_invalidate;
ALTER TABLE workorder.calendar_days ENABLE ALWAYS TRIGGER calendar_days_cache_invalidate;
-- ... and a row trigger on each, enabled for replicas: a logical replication
-- subscriber's apply worker fires no statement trigger (part 87 says more).
CREATE TRIGGER calendars_cache_invalidate_replica
    AFTER INSERT OR UPDATE OR DELETE ON workorder.calendars
    FOR EACH ROW EXECUTE FUNCTION workorder.calendar_cache_invalidate();
CREATE TRIGGER calendar_hours_cache_invalidate_replica
    AFTER INSERT OR UPDATE OR DELETE ON workorder.calendar_hours
    FOR EACH ROW EXECUTE FUNCTION workorder.calendar_cache_invalidate();
CREATE TRIGGER calendar_days_cache_invalidate_replica
    AFTER INSERT OR UPDATE OR DELETE ON workorder.calendar_days
    FOR EACH ROW EXECUTE FUNCTION workorder.calendar_cache_invalidate();
ALTER TABLE workorder.calendars ENABLE REPLICA TRIGGER calendars_cache_invalidate_replica;
ALTER TABLE workorder.calendar_hours ENABLE REPLICA TRIGGER calendar_hours_cache_invalidate_replica;
ALTER TABLE workorder.calendar_days ENABLE REPLICA TRIGGER calendar_days_cache_invalidate_replica;

-- add_working_time returns the instant when duration of working time has elapsed
-- after start, counting only the calendar's working hours in its time zone.
--   * A start outside working hours counts from the next working instant; the
--     result is inside a span or exactly at its end (never at the start of the next).
--   * A duration of zero returns start itself, unmoved, even outside working hours.
--   * A negative duration counts backwards: the latest instant r <= start with
--     working_time_between(r, start) = -duration; r is inside a span or exactly at
--     its start (useful for "warn 2 working hours before the deadline").
--   * The duration is hours, minutes and seconds; a days or months part is refused
--     (WO503): '1 day' could mean 24 working hours or one working day, which is
--     add_working_days.  Write '24 hours' for the former.
--   * NULL start or duration gives NULL; a NULL or unknown calendar is an error
--     (WO501); an infinite start, or no end within 100 years, is WO503.
CREATE FUNCTION workorder.add_working_time(start timestamptz, duration interval, calendar text DEFAULT 'cn')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'calendar_add_working_time'
LANGUAGE C STABLE PARALLEL SAFE;

-- working_time_between returns the working time in [a, b) as an interval of hours,
-- minutes and seconds (never days).  When b < a it is negative: minus the working
-- time in [b, a).  NULL a or b gives NULL; a span of more than 100 years is WO503.
CREATE FUNCTION workorder.working_time_between(a timestamptz, b timestamptz, calendar text DEFAULT 'cn')
RETURNS interval
AS 'MODULE_PATHNAME', 'calendar_working_time_between'
LANGUAGE C STABLE PARALLEL SAFE;

-- add_working_days is "days working days, counted from the next working day after
-- receipt": the end of the working hours (the end of the last span) of the days-th
-- working day after the local day of start.  A working day is a day with working
-- hours: not a holiday, and a weekday with hours or a make-up workday.  days = 0
-- means "by the end of the working day": the end of the first working day whose
-- working hours end after start.  A negative days is WO503.
CREATE FUNCTION workorder.add_working_days(start timestamptz, days integer, calendar text DEFAULT 'cn')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'calendar_add_working_days'
LANGUAGE C STABLE PARALLEL SAFE;

-- calendar_spans lists a calendar's working spans from first_day to last_day (local
-- days), as instants: what the C functions count.  It is written in SQL on purpose,
-- as a second, independent reading of the three tables.  makeup is true on a
-- make-up workday.  Days more than 100 years apart are WO503, as for the C
-- functions: the list is made in memory, and a range of millennia held a backend
-- for minutes.
CREATE FUNCTION workorder.calendar_spans(calendar text, first_day date, last_day date)
RETURNS TABLE (day date, starts timestamptz, ends timestamptz, makeup boolean)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    PERFORM workorder.calendar_must_exist(calendar);
    IF NOT pg_catalog.isfinite(first_day) OR NOT pg_catalog.isfinite(last_day)
       OR last_day OPERATOR(pg_catalog.-) first_day OPERATOR(pg_catalog.>) 36525 THEN
        PERFORM workorder.raise_error('WO503',
            pg_catalog.format('working spans of calendar "%s" from %s to %s are not listed', calendar, first_day, last_day),
            'The days are infinite or more than 100 years apart.',
            'List at most 100 years at a time.');
    END IF;
    RETURN QUERY
    SELECT g.day, (g.day OPERATOR(pg_catalog.+) h.starts) AT TIME ZONE c.time_zone,
           (g.day OPERATOR(pg_catalog.+) h.ends) AT TIME ZONE c.time_zone,
           d.kind IS NOT NULL
      FROM workorder.calendars c
     CROSS JOIN LATERAL (SELECT s::date AS day
                           FROM pg_catalog.generate_series(first_day::timestamp, last_day::timestamp,
                                                           '1 day'::interval) s) g
      LEFT JOIN workorder.calendar_days d
             ON d.calendar_code OPERATOR(pg_catalog.=) c.code AND d.day OPERATOR(pg_catalog.=) g.day
      JOIN workorder.calendar_hours h
             ON h.calendar_code OPERATOR(pg_catalog.=) c.code
            AND h.isodow OPERATOR(pg_catalog.=)
                CASE WHEN d.kind OPERATOR(pg_catalog.=) 'workday' THEN c.makeup_isodow
                     ELSE pg_catalog.date_part('isodow', g.day)::smallint END
     WHERE c.code OPERATOR(pg_catalog.=) calendar
       AND d.kind IS DISTINCT FROM 'holiday'
     ORDER BY 1, 2;
END
$$;

-- csv_fields splits one line of CSV into its fields: separated by commas, a field
-- may be quoted with double quotes ("" inside is one quote).  It returns NULL when
-- a quote is not closed, and for NULL.  Fields are not trimmed.
CREATE FUNCTION workorder.csv_fields(line text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    fields text[] := '{}';
    field text;
    n integer := pg_catalog.length(line);
    i integer := 1;
    j integer;
BEGIN
    IF line IS NULL THEN
        RETURN NULL;
    END IF;
    -- A line without quotes splits in one pass.  (The loop below copies the rest of
    -- the line for every field: quadratic in a long line of many fields.)  An empty
    -- line is one empty field, where string_to_array would give none.
    IF pg_catalog.strpos(line, '"') OPERATOR(pg_catalog.=) 0 AND line OPERATOR(pg_catalog.<>) '' THEN
        RETURN pg_catalog.string_to_array(line, ',');
    END IF;
    LOOP
        IF pg_catalog.substr(line, i, 1) OPERATOR(pg_catalog.=) '"' THEN
            field := '';
            i := i OPERATOR(pg_catalog.+) 1;
            LOOP
                IF i OPERATOR(pg_catalog.>) n THEN
                    RETURN NULL;
                END IF;
                IF pg_catalog.substr(line, i, 1) OPERATOR(pg_catalog.<>) '"' THEN
                    field := field OPERATOR(pg_catalog.||) pg_catalog.substr(line, i, 1);
                    i := i OPERATOR(pg_catalog.+) 1;
                ELSIF pg_catalog.substr(line, i OPERATOR(pg_catalog.+) 1, 1) OPERATOR(pg_catalog.=) '"' THEN
                    field := field OPERATOR(pg_catalog.||) '"';
                    i := i OPERATOR(pg_catalog.+) 2;
                ELSE
                    i := i OPERATOR(pg_catalog.+) 1;
                    EXIT;
                END IF;
            END LOOP;
            -- After the closing quote, up to the next comma.
            j := pg_catalog.strpos(pg_catalog.substr(line, i), ',');
            IF j OPERATOR(pg_catalog.=) 0 THEN
                field := field OPERATOR(pg_catalog.||) pg_catalog.substr(line, i);
                i := n OPERATOR(pg_catalog.+) 1;
            ELSE
                field := field OPERATOR(pg_catalog.||) pg_catalog.substr(line, i, j OPERATOR(pg_catalog.-) 1);
                i := i OPERATOR(pg_catalog.+) j OPERATOR(pg_catalog.-) 1;
            END IF;
        ELSE
            j := pg_catalog.strpos(pg_catalog.substr(line, i), ',');
            IF j OPERATOR(pg_catalog.=) 0 THEN
                field := pg_catalog.substr(line, i);
                i := n OPERATOR(pg_catalog.+) 1;
            ELSE
                field := pg_catalog.substr(line, i, j OPERATOR(pg_catalog.-) 1);
                i := i OPERATOR(pg_catalog.+) j OPERATOR(pg_catalog.-) 1;
            END IF;
        END IF;
        fields := pg_catalog.array_append(fields, field);
        -- i is at a comma, or past the end.
        IF i OPERATOR(pg_catalog.>) n THEN
            RETURN fields;
        END IF;
        i := i OPERATOR(pg_catalog.+) 1;
        IF i OPERATOR(pg_catalog.>) n THEN
            RETURN pg_catalog.array_append(fields, ''::text);
        END IF;
    END LOOP;
END
$$;

-- load_calendar_rows is the loaders' common part.  items is a JSON array of objects
-- {"day": "YYYY-MM-DD", "kind": "holiday" | "workday", "name", "name_en"} (name_zh
-- is taken for name when name is missing); from a CSV, each also has "line" and
-- "text", so that an error can name the line.  Every item is checked before
-- anything is written.  Then each day is inserted, or updated when it differs;
-- the calendar's days of the years replace_years names that the items do not list
-- are deleted first.
CREATE FUNCTION workorder.load_calendar_rows(calendar text, items jsonb, source text, replace_years integer[],
    OUT inserted integer, OUT updated integer, OUT unchanged integer, OUT deleted integer,
    OUT first_day date, OUT last_day date)
LANGUAGE plpgsql
AS $$
DECLARE
    item jsonb;
    element_number integer := 0;
    label text;
    shown text;
    problem text;
    day_text text;
    kind_text text;
    the_day date;
    the_name text;
    the_name_en text;
    days date[] := '{}';
    kinds text[] := '{}';
    names text[] := '{}';
    names_en text[] := '{}';
    labels text[] := '{}';
    earlier integer;
    deleted_first date;
    deleted_last date;
BEGIN
    PERFORM workorder.calendar_must_exist(calendar);
    IF EXISTS (SELECT 1 FROM pg_catalog.unnest(replace_years) y
                WHERE y IS NULL OR y OPERATOR(pg_catalog.<) 1900 OR y OPERATOR(pg_catalog.>) 2199) THEN
        PERFORM workorder.raise_error('WO504',
            pg_catalog.format('replace_years of the days for calendar %s names a year that is not one', calendar),
            pg_catalog.format('replace_years is %s.', replace_years),
            'Name the years whose plan the load is, from 1900 to 2199, e.g. replace_years => ''{2027}''; or leave it NULL to add and update days only.');
    END IF;
    -- One loader at a time per calendar, so that the counts are right.
    PERFORM 1 FROM workorder.calendars c WHERE c.code OPERATOR(pg_catalog.=) calendar FOR NO KEY UPDATE;
    IF items IS NULL OR pg_catalog.jsonb_typeof(items) OPERATOR(pg_catalog.<>) 'array' THEN
        PERFORM workorder.raise_error('WO504',
            pg_catalog.format('the days for calendar %s are not a JSON array', calendar),
            pg_catalog.format('They begin %s.', pg_catalog.left(COALESCE(items::text, 'NULL'), 80)),
            'Pass a JSON array with one object per day: [{"day": "2027-01-01", "kind": "holiday", "name": "元旦"}, ...].');
    END IF;

    FOR item IN SELECT e.value FROM pg_catalog.jsonb_array_elements(items) e LOOP
        element_number := element_number OPERATOR(pg_catalog.+) 1;
        IF source OPERATOR(pg_catalog.=) 'csv' THEN
            label := pg_catalog.format('line %s', item OPERATOR(pg_catalog.->>) 'line');
            shown := pg_catalog.format('The line is: %s', item OPERATOR(pg_catalog.->>) 'text');
        ELSE
            label := pg_catalog.format('element %s', element_number);
            shown := pg_catalog.format('The element is %s.', pg_catalog.left(item::text, 300));
        END IF;
        problem := NULL;
        IF pg_catalog.jsonb_typeof(item) OPERATOR(pg_catalog.<>) 'object' THEN
            problem := 'it is not a JSON object';
        ELSIF source OPERATOR(pg_catalog.=) 'json'
              AND EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(item) k
                           WHERE NOT k OPERATOR(pg_catalog.=) ANY ('{day,kind,name,name_zh,name_en}'::text[])) THEN
            -- A misspelt key ("nme") loaded the day without its name, as the
            -- other loaders refuse one (WO210).
            problem := pg_catalog.format('it has the key %s, which a day does not have (day, kind, name, name_zh, name_en)',
                (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(k), ', ' ORDER BY k)
                   FROM pg_catalog.jsonb_object_keys(item) k
                  WHERE NOT k OPERATOR(pg_catalog.=) ANY ('{day,kind,name,name_zh,name_en}'::text[])));
        ELSIF source OPERATOR(pg_catalog.=) 'json'
              AND EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(item) e
                           WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) ALL ('{string,number,"null"}'::text[])) THEN
            -- An object or an array was stored as its JSON text ({"zh": "劳动节"}
            -- the day's name).
            problem := (SELECT pg_catalog.format('its %s is a JSON %s, not a string', e.key, pg_catalog.jsonb_typeof(e.value))
                          FROM pg_catalog.jsonb_each(item) e
                         WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) ALL ('{string,number,"null"}'::text[])
                         ORDER BY e.key LIMIT 1);
        ELSE
            day_text := item OPERATOR(pg_catalog.->>) 'day';
            kind_text := item OPERATOR(pg_catalog.->>) 'kind';
            -- A blank name is none: name_zh is taken then (it was dropped for "").
            the_name := COALESCE(NULLIF(workorder.trim_blanks(item OPERATOR(pg_catalog.->>) 'name'), ''),
                                 NULLIF(workorder.trim_blanks(item OPERATOR(pg_catalog.->>) 'name_zh'), ''));
            the_name_en := NULLIF(workorder.trim_blanks(item OPERATOR(pg_catalog.->>) 'name_en'), '');
            the_day := NULL;
            IF day_text IS NULL THEN
                problem := 'it has no day';
            ELSIF day_text OPERATOR(pg_catalog.~) '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
                BEGIN
                    the_day := day_text::date;
                EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
                    the_day := NULL;
                END;
            END IF;
            IF problem IS NOT NULL THEN
                NULL;
            ELSIF the_day IS NULL THEN
                problem := pg_catalog.format('the day %s is not a date written YYYY-MM-DD', pg_catalog.quote_literal(day_text));
            ELSIF the_day OPERATOR(pg_catalog.<) '1900-01-01'::date OR the_day OPERATOR(pg_catalog.>) '2199-12-31'::date THEN
                problem := pg_catalog.format('the day %s is not between 1900-01-01 and 2199-12-31', the_day);
            ELSIF kind_text IS NULL OR kind_text NOT IN ('holiday', 'workday') THEN
                problem := pg_catalog.format('the kind %s is neither holiday nor workday',
                                             COALESCE(pg_catalog.quote_literal(kind_text), 'NULL'));
            ELSIF pg_catalog.length(the_name) OPERATOR(pg_catalog.>) 100
                  OR pg_catalog.length(the_name_en) OPERATOR(pg_catalog.>) 100 THEN
                problem := 'a name is longer than 100 characters';
            ELSE
                earlier := pg_catalog.array_position(days, the_day);
                IF earlier IS NOT NULL THEN
                    problem := pg_catalog.format('the day %s is listed again (first at %s)', the_day, labels[earlier]);
                ELSIF kind_text OPERATOR(pg_catalog.=) 'workday' AND workorder.calendar_makeup_on_weekday(calendar, the_day) THEN
                    problem := pg_catalog.format('the day %s is a make-up workday on a %s, which has working hours already (is its kind holiday?)',
                                                 the_day, pg_catalog.to_char(the_day, 'FMDay'));
                END IF;
            END IF;
        END IF;
        IF problem IS NOT NULL THEN
            PERFORM workorder.raise_error('WO504',
                pg_catalog.format('%s of the days for calendar %s: %s', label, calendar, problem),
                shown,
                CASE source
                    WHEN 'csv' THEN 'Correct the line and load again: nothing was loaded.  A line is YYYY-MM-DD,holiday or workday,English name,Chinese name.'
                    ELSE 'Correct the element and load again: nothing was loaded.  A day is {"day": "YYYY-MM-DD", "kind": "holiday" or "workday", "name": ...}.' END);
        END IF;
        days := pg_catalog.array_append(days, the_day);
        kinds := pg_catalog.array_append(kinds, kind_text);
        names := pg_catalog.array_append(names, the_name);
        names_en := pg_catalog.array_append(names_en, the_name_en);
        labels := pg_catalog.array_append(labels, label);
    END LOOP;

    deleted := 0;
    IF replace_years IS NOT NULL THEN
        WITH gone AS (
            DELETE FROM workorder.calendar_days d
             WHERE d.calendar_code OPERATOR(pg_catalog.=) calendar
               AND pg_catalog.date_part('year', d.day)::integer OPERATOR(pg_catalog.=) ANY (replace_years)
               AND NOT d.day OPERATOR(pg_catalog.=) ANY (days)
            RETURNING d.day)
        SELECT pg_catalog.count(*), pg_catalog.min(g.day), pg_catalog.max(g.day)
          INTO deleted, deleted_first, deleted_last
          FROM gone g;
    END IF;

    SELECT pg_catalog.count(*) FILTER (WHERE d.day IS NULL),
           pg_catalog.count(*) FILTER (WHERE d.day IS NOT NULL
                                         AND (d.kind, d.name, d.name_en) IS DISTINCT FROM (b.kind, b.name, b.name_en)),
           pg_catalog.count(*) FILTER (WHERE d.day IS NOT NULL
                                         AND (d.kind, d.name, d.name_en) IS NOT DISTINCT FROM (b.kind, b.name, b.name_en)),
           pg_catalog.min(b.day) FILTER (WHERE (d.kind, d.name, d.name_en) IS DISTINCT FROM (b.kind, b.name, b.name_en)),
           pg_catalog.max(b.day) FILTER (WHERE (d.kind, d.name, d.name_en) IS DISTINCT FROM (b.kind, b.name, b.name_en))
      INTO inserted, updated, unchanged, first_day, last_day
      FROM ROWS FROM (pg_catalog.unnest(days), pg_catalog.unnest(kinds), pg_catalog.unnest(names),
                      pg_catalog.unnest(names_en)) AS b(day, kind, name, name_en)
      LEFT JOIN workorder.calendar_days d
             ON d.calendar_code OPERATOR(pg_catalog.=) calendar AND d.day OPERATOR(pg_catalog.=) b.day;

    INSERT INTO workorder.calendar_days AS d (calendar_code, day, kind, name, name_en)
    SELECT calendar, b.day, b.kind, b.name, b.name_en
      FROM ROWS FROM (pg_catalog.unnest(days), pg_catalog.unnest(kinds), pg_catalog.unnest(names),
                      pg_catalog.unnest(names_en)) AS b(day, kind, name, name_en)
    ON CONFLICT (calendar_code, day) DO UPDATE
       SET kind = EXCLUDED.kind, name = EXCLUDED.name, name_en = EXCLUDED.name_en
     WHERE (d.kind, d.name, d.name_en) IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.name, EXCLUDED.name_en);
    first_day := LEAST(first_day, deleted_first);
    last_day := GREATEST(last_day, deleted_last);
END
$$;

-- load_calendar_days loads exception days from a JSON array, e.g. next year's State
-- Council plan: [{"day": "2027-01-01", "kind": "holiday", "name": "元旦",
-- "name_en": "New Year's Day"}, ...].  Days already there are updated when they
-- differ.  replace_years names the years whose whole plan the array is: a day of
-- those years that it does not list is deleted (a corrected plan, or a mistyped
-- day loaded before, is taken back in the same call); other years are left alone,
-- also one whose day the plan lists (a year's plan begins with the New Year
-- holiday, which may start on 31 December: taken as a year of the plan, the year
-- before lost every other day).  All or nothing: a bad element stops the load (WO504, naming the
-- element) before anything is written.  It returns how many days were inserted,
-- updated, left unchanged and deleted, and the first and last day that changed
-- (NULL when none did): the range whose deadlines may move.
CREATE FUNCTION workorder.load_calendar_days(calendar text, days jsonb, replace_years integer[] DEFAULT NULL,
    OUT inserted integer, OUT updated integer, OUT unchanged integer, OUT deleted integer,
    OUT first_day date, OUT last_day date)
LANGUAGE sql
AS $$
    SELECT * FROM workorder.load_calendar_rows(calendar, days, 'json', replace_years)
$$;

-- load_calendar_csv does the same from CSV text in the format of
-- data/cn-calendar.csv: the header day,kind,name_en,name_zh, then one line per day.
-- Blank lines, a byte-order mark and CRLF line ends are accepted; fields may be
-- quoted.  An error names the line.  From psql:
--   \set csv `cat cn-2027.csv`
--   SELECT * FROM workorder.load_calendar_csv('cn', :'csv');
CREATE FUNCTION workorder.load_calendar_csv(calendar text, csv text, replace_years integer[] DEFAULT NULL,
    OUT inserted integer, OUT updated integer, OUT unchanged integer, OUT deleted integer,
    OUT first_day date, OUT last_day date)
LANGUAGE plpgsql
AS $$
DECLARE
    line record;
    line_text text;
    fields text[];
    items jsonb[] := '{}';
    header_seen boolean := false;
BEGIN
    PERFORM workorder.calendar_must_exist(calendar);
    FOR line IN
        SELECT l.content, l.number
          FROM pg_catalog.regexp_split_to_table(COALESCE(csv, ''), E'\n') WITH ORDINALITY AS l(content, number)
    LOOP
        line_text := pg_catalog.rtrim(line.content, E'\r');
        IF line.number OPERATOR(pg_catalog.=) 1 THEN
            line_text := pg_catalog.ltrim(line_text, pg_catalog.chr(65279));
        END IF;
        CONTINUE WHEN pg_catalog.btrim(line_text) OPERATOR(pg_catalog.=) '';
        IF NOT header_seen THEN
            IF pg_catalog.lower(pg_catalog.regexp_replace(line_text, '\s', '', 'g'))
               OPERATOR(pg_catalog.<>) 'day,kind,name_en,name_zh' THEN
                PERFORM workorder.raise_error('WO504',
                    pg_catalog.format('line %s of the days for calendar %s: the header is not day,kind,name_en,name_zh',
                                      line.number, calendar),
                    pg_catalog.format('The line is: %s', pg_catalog.left(line_text, 200)),
                    'The CSV begins with the header line day,kind,name_en,name_zh, as data/cn-calendar.csv does; nothing was loaded.');
            END IF;
            header_seen := true;
            CONTINUE;
        END IF;
        fields := workorder.csv_fields(line_text);
        IF fields IS NULL OR pg_catalog.cardinality(fields) OPERATOR(pg_catalog.<>) 4 THEN
            PERFORM workorder.raise_error('WO504',
                pg_catalog.format('line %s of the days for calendar %s: %s', line.number, calendar,
                                  CASE WHEN fields IS NULL THEN 'a quoted field is not closed'
                                       ELSE pg_catalog.format('it has %s fields, not 4', pg_catalog.cardinality(fields)) END),
                pg_catalog.format('The line is: %s', pg_catalog.left(line_text, 200)),
                'Each line is day,kind,name_en,name_zh, e.g. 2027-01-01,holiday,New Year''s Day,元旦; nothing was loaded.');
        END IF;
        items := pg_catalog.array_append(items, pg_catalog.jsonb_build_object(
            'line', line.number, 'text', pg_catalog.left(line_text, 200),
            'day', pg_catalog.btrim(fields[1]), 'kind', pg_catalog.btrim(fields[2]),
            'name_en', fields[3], 'name', fields[4]));
    END LOOP;
    IF NOT header_seen THEN
        PERFORM workorder.raise_error('WO504',
            pg_catalog.format('the CSV for calendar %s is empty', calendar),
            pg_catalog.format('It is %s.', COALESCE(pg_catalog.quote_literal(pg_catalog.left(csv, 80)), 'NULL')),
            'Pass the text of a file like data/cn-calendar.csv: the header day,kind,name_en,name_zh, then one line per day.');
    END IF;
    SELECT * INTO inserted, updated, unchanged, deleted, first_day, last_day
      FROM workorder.load_calendar_rows(calendar, pg_catalog.to_jsonb(items), 'csv', replace_years);
END
$$;
