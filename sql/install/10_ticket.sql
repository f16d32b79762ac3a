-- workorder install script, part 10: the ticket type and the issuing of tickets.
--
-- A ticket is the order number a citizen reads out over the phone, written
-- YYYYMMDD-NNNNNN-C: the issue day (2000-01-01 .. 2099-12-31), a sequence number
-- within the day (000001 .. 999999) and a Damm check digit over the 14 digits
-- before it.  Input also takes the 15 digits without dashes.  The type is
-- implemented in src/ticket.c; it is 8 bytes, passed by value, and sorts by
-- (day, seq).
--
-- SQLSTATEs: WO001 the text (or value) is not a ticket; WO002 the check digit does
-- not match, so the number was probably mistyped; WO003 a day has run out of
-- sequence numbers.

-- The type, first as a shell so that its I/O functions can name it.
CREATE TYPE workorder.ticket;

CREATE FUNCTION workorder.ticket_in(cstring)
RETURNS workorder.ticket
AS 'MODULE_PATHNAME', 'ticket_in'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION workorder.ticket_out(workorder.ticket)
RETURNS cstring
AS 'MODULE_PATHNAME', 'ticket_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION workorder.ticket_recv(internal)
RETURNS workorder.ticket
AS 'MODULE_PATHNAME', 'ticket_recv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION workorder.ticket_send(workorder.ticket)
RETURNS bytea
AS 'MODULE_PATHNAME', 'ticket_send'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE workorder.ticket (
    INPUT          = workorder.ticket_in,
    OUTPUT         = workorder.ticket_out,
    RECEIVE        = workorder.ticket_recv,
    SEND           = workorder.ticket_send,
    INTERNALLENGTH = 8,
    PASSEDBYVALUE,
    ALIGNMENT      = double,
    STORAGE        = plain
);
COMMENT ON TYPE workorder.ticket IS
    'work-order number YYYYMMDD-NNNNNN-C: issue day, sequence number within the day, Damm check digit';

-- Comparison.  Tickets compare as (day, seq).  None of these can fail, so they are
-- leakproof and usable in security-barrier views and under row-level security.
CREATE FUNCTION workorder.ticket_eq(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_eq'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_ne(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_ne'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_lt(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_lt'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_le(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_le'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_gt(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_gt'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_ge(workorder.ticket, workorder.ticket)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ticket_ge'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_cmp(workorder.ticket, workorder.ticket)
RETURNS integer
AS 'MODULE_PATHNAME', 'ticket_cmp'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_sortsupport(internal)
RETURNS void
AS 'MODULE_PATHNAME', 'ticket_sortsupport'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION workorder.ticket_hash(workorder.ticket)
RETURNS integer
AS 'MODULE_PATHNAME', 'ticket_hash'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION workorder.ticket_hash_extended(workorder.ticket, bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ticket_hash_extended'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR workorder.= (
    LEFTARG    = workorder.ticket,
    RIGHTARG   = workorder.ticket,
    FUNCTION   = workorder.ticket_eq,
    COMMUTATOR = OPERATOR(workorder.=),
    NEGATOR    = OPERATOR(workorder.<>),
    RESTRICT   = pg_catalog.eqsel,
    JOIN       = pg_catalog.eqjoinsel,
    HASHES,
    MERGES
);

CREATE OPERATOR workorder.<> (
    LEFTARG    = workorder.ticket,
    RIGHTARG   = workorder.ticket,
    FUNCTION   = workorder.ticket_ne,
    COMMUTATOR = OPERATOR(workorder.<>),
    NEGATOR    = OPERATOR(workorder.=),
    RESTRICT   = pg_catalog.neqsel,
    JOIN       = pg_catalog.neqjoinsel
);

CREATE OPERATOR workorder.< (
    LEFTARG    = workorder.ticket,
    RIGHTARG   = workorder.ticket,
    FUNCTION   = workorder.ticket_lt,
    COMMUTATOR = OPERATOR(workorder.>),
    NEGATOR    = OPERATOR(workorder.>=),
    RESTRICT   = pg_catalog.scalarltsel,
    JOIN       = pg_catalog.scalarltjoinsel
);

CREATE OPERATOR workorder.<= (
    LEFTARG    = workorder.ticket,
    RIGHTARG   = workorder.ticket,
    FUNCTION   = workorder.ticket_le,
    COMMUTATOR = OPERATOR(workorder.>=),
    NEGATOR    = OPERATOR(workorder.>),
    RESTRICT   = pg_catalog.scalarlesel,
    JOIN       = pg_catalog.scalarlejoinsel
);

CREATE OPERATOR workorder.> (
    LEFTARG    = workorder.ticket,
    RIGHTARG   = workorder.ticket,
    FUNCTION   = workorder.ticket_gt,
    COMMUTATOR = OPERATOR(workorder.<),
    NEGATOR    = OPERATOR(workorder.<=),
    RESTRICT   = pg_catalog.scalargtsel,
    JOIN       = pg_catalog.scalargtjoinsel
);

CREATE OPERATOR workorder.>= (
    LEFTARG    = workorder.ticket,
    RIGHTARG   = workorder.ticket,
    FUNCTION   = workorder.ticket_ge,
    COMMUTATOR = OPERATOR(workorder.<=),
    NEGATOR    = OPERATOR(workorder.<),
    RESTRICT   = pg_catalog.scalargesel,
    JOIN       = pg_catalog.scalargejoinsel
);

-- btree: support 1 compares, 2 gives the fast sort comparator, 4 (btequalimage)
-- says equal tickets are bitwise equal, which lets the index deduplicate.
CREATE OPERATOR CLASS workorder.ticket_ops
    DEFAULT FOR TYPE workorder.ticket USING btree AS
        OPERATOR 1 workorder.<,
        OPERATOR 2 workorder.<=,
        OPERATOR 3 workorder.=,
        OPERATOR 4 workorder.>=,
        OPERATOR 5 workorder.>,
        FUNCTION 1 workorder.ticket_cmp(workorder.ticket, workorder.ticket),
        FUNCTION 2 workorder.ticket_sortsupport(internal),
        FUNCTION 4 pg_catalog.btequalimage(oid);

CREATE OPERATOR CLASS workorder.ticket_hash_ops
    DEFAULT FOR TYPE workorder.ticket USING hash AS
        OPERATOR 1 workorder.=,
        FUNCTION 1 workorder.ticket_hash(workorder.ticket),
        FUNCTION 2 workorder.ticket_hash_extended(workorder.ticket, bigint);

-- Casts: text <-> ticket use the automatic I/O conversion casts (ticket to text
-- in assignments, text to ticket explicitly).  There is deliberately no cast to or
-- from bigint: arithmetic on order numbers means nothing, and a bigint cast would
-- let numbers in without their check digit.

-- Helpers.
CREATE FUNCTION workorder.make_ticket(day date, seq integer)
RETURNS workorder.ticket
AS 'MODULE_PATHNAME', 'ticket_make'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.make_ticket(date, integer) IS
    'the ticket with this issue day (2000-01-01 .. 2099-12-31) and sequence number (1 .. 999999)';

CREATE FUNCTION workorder.ticket_day(workorder.ticket)
RETURNS date
AS 'MODULE_PATHNAME', 'ticket_day'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION workorder.ticket_day(workorder.ticket) IS
    'the day a ticket was issued for';

CREATE FUNCTION workorder.ticket_seq(workorder.ticket)
RETURNS integer
AS 'MODULE_PATHNAME', 'ticket_seq'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION workorder.ticket_seq(workorder.ticket) IS
    'the sequence number of a ticket within its day';

CREATE FUNCTION workorder.ticket_check_digit(digits text)
RETURNS integer
AS 'MODULE_PATHNAME', 'ticket_check_digit'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION workorder.ticket_check_digit(text) IS
    'the Damm check digit of 14 digits YYYYMMDDNNNNNN (or YYYYMMDD-NNNNNN)';

-- Issuing tickets.
--
-- Every ticket draws a number n from one global sequence.  A day's first ticket
-- records its n in ticket_days as that day's first_number, and a ticket's sequence
-- number is n - first_number + 1.  Numbers drawn are unique, so tickets are unique;
-- after the first ticket of a day, issuing takes no lock beyond nextval's, so
-- concurrent submitters do not wait for each other's commits.  Rolled-back
-- transactions leave gaps, which is fine: uniqueness is the point.
--
-- The sequence must keep CACHE 1: the rollover rule below relies on numbers being
-- handed out in increasing order across all sessions.
CREATE SEQUENCE workorder.ticket_number_seq AS bigint CACHE 1 NO CYCLE;
COMMENT ON SEQUENCE workorder.ticket_number_seq IS
    'numbers behind ticket sequence numbers; keep CACHE 1 (see workorder.next_ticket)';

CREATE TABLE workorder.ticket_days (
    day          date PRIMARY KEY,
    first_number bigint NOT NULL
);
COMMENT ON TABLE workorder.ticket_days IS
    'for each day with tickets, the ticket_number_seq value of its first ticket';

-- Both are data rather than configuration, but as extension members pg_dump would
-- otherwise skip them, and a restored database would issue the same tickets again.
SELECT pg_catalog.pg_extension_config_dump('workorder.ticket_days', '');
SELECT pg_catalog.pg_extension_config_dump('workorder.ticket_number_seq', '');

-- ticket_days_restored_over lets a restored row take the place of the row of its day
-- that the database already has: restored into a database that has the extension
-- (README, Backup and restore), whose worker's first pass made today's row before
-- pg_restore connected, the dump's rows failed whole on that one, and with the
-- restored sequence beyond its numbers every submit() of the day failed (or gave
-- tickets issued already).  A row of a later day that starts below the restored one
-- goes too: days start at increasing numbers, so the database made it itself (a dump
-- of yesterday restored today), and the day's first ticket makes it again from the
-- restored sequence.  Only while rows are restored (loaded_by_restore, part 51): an
-- ordinary insert of a day that has its row is the primary key's error.
CREATE FUNCTION workorder.ticket_days_restored_over()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF workorder.loaded_by_restore('workorder.ticket_days') THEN
        DELETE FROM workorder.ticket_days d
         WHERE d.day OPERATOR(pg_catalog.>) NEW.day AND d.first_number OPERATOR(pg_catalog.<) NEW.first_number;
        UPDATE workorder.ticket_days d SET first_number = NEW.first_number
         WHERE d.day OPERATOR(pg_catalog.=) NEW.day;
        IF FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER ticket_days_restored_over
    BEFORE INSERT ON workorder.ticket_days
    FOR EACH ROW EXECUTE FUNCTION workorder.ticket_days_restored_over();

-- next_ticket issues the next ticket of a day (by default today in Beijing time).
-- C (src/ticket.c): submit() issues one for every report.
--
-- It runs as the extension owner so that callers need no rights on ticket_days or
-- the sequence, and cannot tamper with either.  The day's row is created by the
-- first caller of the day with INSERT ... ON CONFLICT DO NOTHING; callers that race
-- it wait for that one insert to commit, once a day.  A caller may have drawn its
-- number before the row's creator drew the first_number; its sequence number would
-- then be below 1, and it draws again: the sequence is increasing, so the second
-- number is above first_number.
--
-- Under REPEATABLE READ or SERIALIZABLE, a caller racing the creation of the day's
-- row gets a serialization failure (40001) and should retry, as usual at those
-- levels.  If the transaction that created a day's row rolls back, the row goes
-- with it, and the ticket that transaction was given may be issued again; tickets
-- are unique among committed transactions.
CREATE FUNCTION workorder.next_ticket(
    day date DEFAULT (pg_catalog.now() AT TIME ZONE 'Asia/Shanghai')::date)
RETURNS workorder.ticket
AS 'MODULE_PATHNAME', 'ticket_next'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
-- Issuing numbers is intake's business: a role that could call this freely could
-- use up a day's 999999 numbers and stop all intake.  submit() calls it as the owner.
REVOKE ALL ON FUNCTION workorder.next_ticket(date) FROM PUBLIC;
COMMENT ON FUNCTION workorder.next_ticket(date) IS
    'issue the next ticket of a day (default: today in Asia/Shanghai); unique, safe under concurrency';

-- prepare_ticket_day makes the row of a day in ticket_days when there is none, with
-- the next number to be drawn as its first_number (so the day's first ticket is
-- number 1), and says whether it made it.  The task ticket_day (part 90) runs it for
-- today just after midnight in Beijing, in a transaction of its own, before the inbox
-- is drained: otherwise the day's first submit() inserts the row, and every other
-- submit() of the day waits for its transaction to commit (a drain of 15,000 rows
-- held a hotline report for 6 s).
CREATE FUNCTION workorder.prepare_ticket_day(
    day date DEFAULT (pg_catalog.now() AT TIME ZONE 'Asia/Shanghai')::date)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    -- A day tickets can have (make_ticket: WO001 outside 2000..2099), and not ahead of
    -- today: numbers drawn for today until then would be below the later day's first,
    -- which would not start at 1.
    IF day IS NULL OR day OPERATOR(pg_catalog.>) (pg_catalog.now() AT TIME ZONE 'Asia/Shanghai')::date THEN
        PERFORM workorder.raise_error('WO001', 'invalid ticket day for prepare_ticket_day',
            pg_catalog.format('The day is %s; today in Beijing is %s.', COALESCE(day::text, 'NULL'),
                              (pg_catalog.now() AT TIME ZONE 'Asia/Shanghai')::date),
            'Pass today (the default) or a past day.');
    END IF;
    PERFORM workorder.make_ticket(day, 1);
    IF EXISTS (SELECT 1 FROM workorder.ticket_days d WHERE d.day OPERATOR(pg_catalog.=) prepare_ticket_day.day) THEN
        RETURN false;
    END IF;
    INSERT INTO workorder.ticket_days AS d (day, first_number)
    VALUES (prepare_ticket_day.day,
            pg_catalog.nextval('workorder.ticket_number_seq'::pg_catalog.regclass) OPERATOR(pg_catalog.+) 1)
    ON CONFLICT ON CONSTRAINT ticket_days_pkey DO NOTHING;
    RETURN FOUND;
END
$$;
REVOKE ALL ON FUNCTION workorder.prepare_ticket_day(date) FROM PUBLIC;
COMMENT ON FUNCTION workorder.prepare_ticket_day(date) IS
    'make the row of a day in ticket_days ahead of its first ticket (the task ticket_day does it for today); true when it made it';
