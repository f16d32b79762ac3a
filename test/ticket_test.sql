-- pgTAP tests of workorder.ticket: the check digit's promises as properties over
-- random tickets, bad input with its SQLSTATEs, and issuing with next_ticket.
BEGIN;
SELECT plan(56);

SET LOCAL search_path = workorder, public;

-- A fixed sample of tickets: setseed makes random() repeatable.
SELECT setseed(0.2021);
CREATE TEMP TABLE sample ON COMMIT DROP AS
SELECT i, d, s, workorder.make_ticket(d, s) AS t,
       replace(workorder.make_ticket(d, s)::text, '-', '') AS digits
  FROM (SELECT i,
               date '2000-01-01' + floor(random() * (date '2100-01-01' - date '2000-01-01'))::integer AS d,
               1 + floor(random() * 999999)::integer AS s
          FROM generate_series(1, 2000) i) r;

-- rejection_of feeds a string to the input function and says how it went:
-- 'WO001' or 'WO002' when rejected as it should be, 'accepted' when not,
-- anything else is an unexpected SQLSTATE.
CREATE FUNCTION pg_temp.rejection_of(input text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM input::workorder.ticket;
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- with_dashes writes 15 digits as YYYYMMDD-NNNNNN-C.
CREATE FUNCTION pg_temp.with_dashes(digits text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT substr(digits, 1, 8) || '-' || substr(digits, 9, 6) || '-' || substr(digits, 15, 1)
$$;

SELECT has_type('workorder', 'ticket', 'type workorder.ticket exists');
SELECT is((SELECT count(*) FROM sample), 2000::bigint, 'the sample has 2000 random tickets');

-- Round trips.
SELECT is((SELECT count(*) FROM sample WHERE t::text::workorder.ticket <> t), 0::bigint,
          'every ticket survives a round trip through its text form');
SELECT is((SELECT count(*) FROM sample WHERE digits::workorder.ticket <> t), 0::bigint,
          'the 15 digits without dashes read back as the same ticket');
SELECT is((SELECT count(*) FROM sample WHERE (E' \t' || t::text || E'\n ')::workorder.ticket <> t), 0::bigint,
          'surrounding whitespace is ignored');
SELECT is((SELECT count(*) FROM sample
            WHERE workorder.ticket_day(t) <> d OR workorder.ticket_seq(t) <> s), 0::bigint,
          'ticket_day and ticket_seq give back the day and the sequence number');
SELECT is((SELECT count(*) FROM sample
            WHERE workorder.ticket_check_digit(left(digits, 14))::text <> right(digits, 1)), 0::bigint,
          'ticket_check_digit computes the printed check digit');
SELECT is((SELECT count(*) FROM sample WHERE t::text !~ '^2[0-9]{7}-[0-9]{6}-[0-9]$'), 0::bigint,
          'the text form is YYYYMMDD-NNNNNN-C');

-- Order.
SELECT ok((SELECT array_agg(t ORDER BY t) = array_agg(t ORDER BY d, s) FROM sample),
          'tickets sort as (day, seq)');
SELECT ok((SELECT bool_and((a.t < b.t) = ((a.d, a.s) < (b.d, b.s))
                       AND (a.t <= b.t) = ((a.d, a.s) <= (b.d, b.s))
                       AND (a.t = b.t) = ((a.d, a.s) = (b.d, b.s))
                       AND (a.t <> b.t) = ((a.d, a.s) <> (b.d, b.s))
                       AND (a.t >= b.t) = ((a.d, a.s) >= (b.d, b.s))
                       AND (a.t > b.t) = ((a.d, a.s) > (b.d, b.s))
                       AND workorder.ticket_cmp(a.t, b.t)
                           = CASE WHEN (a.d, a.s) < (b.d, b.s) THEN -1
                                  WHEN (a.d, a.s) = (b.d, b.s) THEN 0 ELSE 1 END)
             FROM sample a JOIN sample b ON b.i IN (a.i, a.i % 2000 + 1, (a.i * 7) % 2000 + 1)),
          'the operators and ticket_cmp agree with (day, seq)');

-- Every single-digit substitution and every adjacent transposition is caught.
CREATE TEMP TABLE substitution ON COMMIT DROP AS
SELECT pg_temp.rejection_of(overlay(digits PLACING c::text FROM p FOR 1)) AS outcome
  FROM sample, generate_series(1, 15) p, generate_series(0, 9) c
 WHERE substr(digits, p, 1) <> c::text;
SELECT is((SELECT count(*) FROM substitution), 2000 * 15 * 9::bigint,
          'every single-digit substitution of 2000 tickets was tried');
SELECT is((SELECT count(*) FROM substitution WHERE outcome = 'accepted'), 0::bigint,
          'no single-digit substitution is accepted');
SELECT is((SELECT count(*) FROM substitution WHERE outcome NOT IN ('WO001', 'WO002', 'accepted')), 0::bigint,
          'every substitution is rejected with WO001 or WO002');
SELECT is((SELECT count(*) FROM substitution WHERE outcome <> 'WO002'), 0::bigint,
          'the check digit is verified first, so every substitution is reported as a likely typo (WO002)');

CREATE TEMP TABLE transposition ON COMMIT DROP AS
SELECT pg_temp.rejection_of(swapped) AS outcome,
       pg_temp.rejection_of(pg_temp.with_dashes(swapped)) AS dashed_outcome
  FROM (SELECT overlay(digits PLACING substr(digits, p + 1, 1) || substr(digits, p, 1) FROM p FOR 2) AS swapped
          FROM sample, generate_series(1, 14) p
         WHERE substr(digits, p, 1) <> substr(digits, p + 1, 1)) x;
SELECT cmp_ok((SELECT count(*) FROM transposition), '>', 20000::bigint,
              'adjacent transpositions of 2000 tickets were tried');
SELECT is((SELECT count(*) FROM transposition WHERE outcome = 'accepted' OR dashed_outcome = 'accepted'), 0::bigint,
          'no adjacent transposition is accepted, with or without dashes');
SELECT is((SELECT count(*) FROM transposition
            WHERE outcome NOT IN ('WO001', 'WO002') OR dashed_outcome NOT IN ('WO001', 'WO002')), 0::bigint,
          'every transposition is rejected with WO001 or WO002');
SELECT is((SELECT count(*) FROM transposition WHERE outcome <> 'WO002' OR dashed_outcome <> 'WO002'), 0::bigint,
          'and every one of them as a likely typo (WO002)');

-- Bad input, with its SQLSTATE.
SELECT throws_ok($$SELECT '20210928-000123-5'::workorder.ticket$$, 'WO002',
                 'invalid ticket number "20210928-000123-5"', 'a wrong check digit is WO002');
SELECT throws_ok($$SELECT '202109280001327'::workorder.ticket$$, 'WO002',
                 'invalid ticket number "202109280001327"', 'a transposition is WO002');
SELECT throws_ok($$SELECT ''::workorder.ticket$$, 'WO001',
                 'invalid ticket number ""', 'an empty string is WO001');
SELECT throws_ok($$SELECT '20210928-000123'::workorder.ticket$$, 'WO001',
                 'invalid ticket number "20210928-000123"', 'a missing check digit is WO001');
SELECT throws_ok($$SELECT '20210928-00012x-7'::workorder.ticket$$, 'WO001',
                 'invalid ticket number "20210928-00012x-7"', 'a letter is WO001');
SELECT throws_ok($$SELECT '2021-09-28-000123-7'::workorder.ticket$$, 'WO001',
                 'invalid ticket number "2021-09-28-000123-7"', 'an ISO date part is WO001');
SELECT throws_ok($$SELECT '20210230-000001-1'::workorder.ticket$$, 'WO001',
                 'invalid ticket number "20210230-000001-1"', '30 February is WO001');
SELECT throws_ok($$SELECT '19991231-000001-6'::workorder.ticket$$, 'WO001',
                 'invalid ticket number "19991231-000001-6"', 'a day before 2000 is WO001');
SELECT throws_ok($$SELECT '20210928-000000-5'::workorder.ticket$$, 'WO001',
                 'invalid ticket number "20210928-000000-5"', 'sequence number 0 is WO001');
SELECT throws_ok($$SELECT workorder.make_ticket('2021-09-28', 1000000)$$, 'WO001',
                 NULL, 'make_ticket rejects sequence numbers over 999999 with WO001');
SELECT throws_ok($$SELECT workorder.make_ticket('2100-01-01', 1)$$, 'WO001',
                 NULL, 'make_ticket rejects days after 2099 with WO001');

-- Binary input checks the value like text input: a binary COPY of int8 values
-- into a ticket column goes through ticket_recv.
CREATE TEMP TABLE binary_in (t workorder.ticket) ON COMMIT DROP;
SELECT lives_ok(format($$COPY (SELECT 20210928000123::bigint) TO %L (FORMAT binary)$$,
                       current_setting('data_directory') || '/workorder_ticket_tap_' || pg_backend_pid() || '.bin'),
                'a good binary value is written');
SELECT lives_ok(format($$COPY binary_in FROM %L (FORMAT binary)$$,
                       current_setting('data_directory') || '/workorder_ticket_tap_' || pg_backend_pid() || '.bin'),
                'and read back through ticket_recv');
SELECT is((SELECT t::text FROM binary_in), '20210928-000123-7', 'binary input gives the right ticket');
SELECT lives_ok(format($$COPY (SELECT 20210931000001::bigint) TO %L (FORMAT binary)$$,
                       current_setting('data_directory') || '/workorder_ticket_tap_' || pg_backend_pid() || '.bin'),
                'a bad binary value is written');
SELECT throws_ok(format($$COPY binary_in FROM %L (FORMAT binary)$$,
                        current_setting('data_directory') || '/workorder_ticket_tap_' || pg_backend_pid() || '.bin'),
                 'WO001', 'invalid ticket number in binary input',
                 'ticket_recv rejects 31 September with WO001');

-- Issuing.  Days far in the future keep these tests apart from real issuing.
SELECT ok((SELECT bool_and(a < b) FROM (
              SELECT t AS a, lead(t) OVER (ORDER BY i) AS b
                FROM (SELECT i, workorder.next_ticket('2098-06-01') AS t
                        FROM generate_series(1, 50) i) x) y
            WHERE b IS NOT NULL),
          'next_ticket returns increasing tickets in one session');
SELECT is((SELECT count(DISTINCT t) FROM (SELECT workorder.next_ticket('2098-06-02') AS t
                                            FROM generate_series(1, 50)) x),
          50::bigint, 'next_ticket returns distinct tickets');
SELECT is(workorder.next_ticket('2098-06-03')::text, '20980603-000001-' || workorder.ticket_check_digit('20980603000001'),
          'a new day starts at sequence number 1');
SELECT is(workorder.ticket_seq(workorder.next_ticket('2098-06-03')), 2, 'and goes on with 2');
SELECT is((SELECT count(*) FROM workorder.ticket_days
            WHERE day IN ('2098-06-01', '2098-06-02', '2098-06-03')), 3::bigint,
          'every day issued gets its row in ticket_days');
SELECT is(workorder.ticket_day(workorder.next_ticket()), (now() AT TIME ZONE 'Asia/Shanghai')::date,
          'by default next_ticket issues for today in Beijing time');

-- A caller that drew its number just before the day's first caller drew the day's
-- first_number gets a sequence number below 1, and must draw again.
INSERT INTO workorder.ticket_days
VALUES ('2098-06-04', pg_catalog.nextval('workorder.ticket_number_seq') + 2);
SELECT is(workorder.ticket_seq(workorder.next_ticket('2098-06-04')), 1,
          'a number drawn before the day began is replaced by a fresh one');

SELECT throws_ok($$SELECT workorder.next_ticket('2100-01-01')$$, 'WO001', NULL,
                 'next_ticket rejects a day after 2099');
SELECT throws_ok($$SELECT workorder.next_ticket(NULL)$$, 'WO001', NULL,
                 'next_ticket rejects a null day');
UPDATE workorder.ticket_days SET first_number = first_number - 999999 WHERE day = '2098-06-03';
SELECT throws_ok($$SELECT workorder.next_ticket('2098-06-03')$$, 'WO003', NULL,
                 'a day that has used up 999999 numbers raises WO003');

-- Issuing tickets needs EXECUTE on next_ticket, which PUBLIC does not have; with it,
-- callers need no rights on ticket_days: next_ticket runs as the extension owner.
CREATE ROLE workorder_ticket_tap_clerk;
GRANT USAGE ON SCHEMA workorder TO workorder_ticket_tap_clerk;
SET LOCAL ROLE workorder_ticket_tap_clerk;
SELECT throws_ok($$SELECT workorder.next_ticket('2098-06-05')$$, '42501', NULL,
                 'a role without EXECUTE on next_ticket cannot issue tickets');
RESET ROLE;
GRANT EXECUTE ON FUNCTION workorder.next_ticket(date) TO workorder_ticket_tap_clerk;
SET LOCAL ROLE workorder_ticket_tap_clerk;
SELECT lives_ok($$SELECT workorder.next_ticket('2098-06-05')$$,
                'a role granted EXECUTE, without rights on ticket_days, can issue tickets');
SELECT throws_ok($$UPDATE workorder.ticket_days SET first_number = 1$$, '42501', NULL,
                 'but cannot tamper with ticket_days');
RESET ROLE;

SELECT ok((SELECT 'workorder.ticket_days'::regclass = ANY (extconfig)
              AND 'workorder.ticket_number_seq'::regclass = ANY (extconfig)
             FROM pg_extension WHERE extname = 'workorder'),
          'ticket_days and ticket_number_seq are dumped by pg_dump');

-- A day's row of ticket_days is made ahead of the day's first report, by the task
-- ticket_day just after midnight, in a transaction of its own and before the inbox
-- is drained: the day's first submit() made it, and every other submit() of the day
-- waited for that transaction to commit (a whole inbox batch at midnight).
SAVEPOINT ticket_day;
DELETE FROM workorder.ticket_days WHERE day = (now() AT TIME ZONE 'Asia/Shanghai')::date;
SELECT is((SELECT rows FROM workorder.task_ticket_day()), 1,
          'the task ticket_day makes today''s row of ticket_days');
SELECT is((SELECT first_number FROM workorder.ticket_days WHERE day = (now() AT TIME ZONE 'Asia/Shanghai')::date),
          (SELECT last_value + 1 FROM workorder.ticket_number_seq),
          '... with the next number to be drawn as the day''s first');
SELECT is(workorder.ticket_seq(workorder.next_ticket()), 1, '... so the day''s first ticket is number 1');
SELECT is((SELECT ROW(rows, next_due = ((now() AT TIME ZONE 'Asia/Shanghai')::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')::text
             FROM workorder.task_ticket_day()),
          ROW(0, true)::text, 'run again, it finds the row there, and is due at the next midnight in Beijing');
RELEASE SAVEPOINT ticket_day;
SELECT throws_ok($$SELECT workorder.prepare_ticket_day(NULL)$$, 'WO001', 'invalid ticket day for prepare_ticket_day',
                 'prepare_ticket_day refuses a NULL day (WO001)');
SELECT throws_ok($$SELECT workorder.prepare_ticket_day((now() AT TIME ZONE 'Asia/Shanghai')::date + 1)$$, 'WO001', NULL,
                 '... and a day ahead of today (its first ticket would not be number 1)');
SELECT throws_ok($$SELECT workorder.prepare_ticket_day('1999-12-31')$$, 'WO001', NULL,
                 '... and a day tickets cannot have');
SELECT cmp_ok((SELECT position FROM workorder.worker_tasks WHERE task = 'ticket_day'), '<',
              (SELECT position FROM workorder.worker_tasks WHERE task = 'drain_inbox'),
              'ticket_day runs before the inbox is drained');

SELECT * FROM finish();
ROLLBACK;
