--
-- workorder.ticket: the order number YYYYMMDD-NNNNNN-C with a Damm check digit.
--
SET client_min_messages = warning;
-- The operators live in schema workorder, like the type; a session that compares
-- tickets with plain = and < needs workorder on its search_path.
SET search_path = workorder, public;

-- The type is 8 bytes, by value, double-aligned.
SELECT typlen, typbyval, typalign, typstorage
  FROM pg_type WHERE oid = 'workorder.ticket'::regtype;

-- Text round trips: the dashed form, the 15 digits of a phone keypad, whitespace.
SELECT t, t::text = '20210928-000123-7' AS same
  FROM (VALUES ('20210928-000123-7'::workorder.ticket),
               ('202109280001237'::workorder.ticket),
               (E'  20210928-000123-7\n'::workorder.ticket),
               (E'\t202109280001237 '::workorder.ticket)) v(t);

-- Example values and their check digits, at the edges of the range.
SELECT workorder.make_ticket(d, s) AS ticket,
       workorder.ticket_check_digit(to_char(d, 'YYYYMMDD') || lpad(s::text, 6, '0')) AS check_digit,
       workorder.ticket_day(workorder.make_ticket(d, s)) = d AS day_ok,
       workorder.ticket_seq(workorder.make_ticket(d, s)) = s AS seq_ok,
       workorder.make_ticket(d, s)::text::workorder.ticket = workorder.make_ticket(d, s) AS round_trip
  FROM (VALUES (date '2000-01-01', 1),
               (date '2000-02-29', 1),
               (date '2021-09-28', 123),
               (date '2021-09-28', 124),
               (date '2024-02-29', 1),
               (date '2099-12-31', 999999)) v(d, s);

-- The textbook Damm example: 572 has check digit 4; the digit can be checked on
-- the dashed prefix too.
SELECT workorder.ticket_check_digit('00000000000572') AS textbook,
       workorder.ticket_check_digit('20210928-000123') AS dashed;

-- error_of (test/fixtures/error_of.sql) runs a statement and returns the error it raises.
\i test/fixtures/error_of.sql

-- Every bad input, with its error.
\x on
SELECT input, e.*
  FROM (VALUES (''),
               ('   '),
               ('hello'),
               ('20210928-000123'),            -- check digit left out
               ('202109280001237 8'),          -- a stray digit
               ('20210928-000123-77'),         -- one digit too many
               ('2021-0928-000123-7'),         -- dashes in the wrong places
               ('20210928 000123 7'),          -- spaces instead of dashes
               ('20210928-00012a-7'),          -- a letter
               ('２０２１０９２８０００１２３７'), -- full-width digits
               ('20210928-+00123-7'),
               ('20210928-000123-5'),          -- wrong check digit
               ('20210928-000132-7'),          -- transposed sequence digits
               ('20210298-000123-7'),          -- transposed date digits
               ('202109280001273'),            -- transposition into the check digit
               ('20210230-000001-1'),          -- 30 February, right check digit
               ('20230229-000001-5'),          -- 29 February in a common year
               ('20211301-000001-9'),          -- month 13
               ('20210900-000001-7'),          -- day 0
               ('19991231-000001-6'),          -- before 2000
               ('21000101-000001-3'),          -- after 2099
               ('20210928-000000-5')           -- sequence number 0
       ) v(input),
       pg_temp.error_of(format('SELECT %L::workorder.ticket', input)) e;

-- make_ticket and ticket_check_digit reject what cannot be a ticket.
SELECT stmt, e.*
  FROM (VALUES ($$SELECT workorder.make_ticket('1999-12-31', 1)$$),
               ($$SELECT workorder.make_ticket('2100-01-01', 1)$$),
               ($$SELECT workorder.make_ticket('infinity', 1)$$),
               ($$SELECT workorder.make_ticket('2021-09-28', 0)$$),
               ($$SELECT workorder.make_ticket('2021-09-28', 1000000)$$),
               ($$SELECT workorder.ticket_check_digit('2021092800012')$$),
               ($$SELECT workorder.ticket_check_digit('202109280001237')$$),
               ($$SELECT workorder.ticket_check_digit('2021-0928-00012')$$)) v(stmt),
       pg_temp.error_of(stmt) e;
\x off

-- How psql shows two of them.
SELECT '20210928-000123-5'::workorder.ticket;
SELECT '20210230-000001-1'::workorder.ticket;
SELECT workorder.make_ticket(NULL, 1) IS NULL AS strict;

-- Comparison operators order tickets by (day, seq).
SELECT a, b, a = b AS eq, a <> b AS ne, a < b AS lt, a <= b AS le, a > b AS gt, a >= b AS ge
  FROM (VALUES ('20210928-000123-7'::workorder.ticket, '20210928-000123-7'::workorder.ticket),
               ('20210928-000123-7', '20210928-000124-5'),
               ('20210928-000124-5', '20210928-000123-7'),
               ('20210927-999999-9', '20210928-000001-8'),      -- across midnight
               ('20991231-999999-4', '20000101-000001-1')) v(a, b);

CREATE TABLE ticket_sample (t workorder.ticket, d date, s integer);
INSERT INTO ticket_sample
SELECT workorder.make_ticket(date '2021-01-01' + (i * 37) % 400, 1 + (i * 7919) % 999999),
       date '2021-01-01' + (i * 37) % 400, 1 + (i * 7919) % 999999
  FROM generate_series(1, 5000) i;
SELECT (SELECT array_agg(t ORDER BY t) FROM ticket_sample)
     = (SELECT array_agg(t ORDER BY d, s) FROM ticket_sample) AS ticket_order_is_day_seq_order;
SELECT count(DISTINCT t) FROM ticket_sample;

-- A btree index serves equality, ranges and ORDER BY.
CREATE INDEX ticket_sample_t ON ticket_sample (t);
ANALYZE ticket_sample;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM ticket_sample WHERE t = '20210928-000123-7';
EXPLAIN (COSTS OFF) SELECT t FROM ticket_sample
 WHERE t >= '20210301-000001-8' AND t < '20210302-000001-5';
EXPLAIN (COSTS OFF) SELECT t FROM ticket_sample ORDER BY t LIMIT 3;
SELECT t FROM ticket_sample ORDER BY t LIMIT 3;
SELECT count(*) FROM ticket_sample
 WHERE t BETWEEN workorder.make_ticket('2021-03-01', 1) AND workorder.make_ticket('2021-03-01', 999999);
SELECT count(*) FROM ticket_sample WHERE d = '2021-03-01';
RESET enable_seqscan;
RESET enable_bitmapscan;

-- A unique btree index rejects a second equal ticket.
CREATE UNIQUE INDEX ticket_sample_unique ON ticket_sample (t);
INSERT INTO ticket_sample VALUES ('20210928-000123-7', '2021-09-28', 123);
INSERT INTO ticket_sample VALUES ('202109280001237', '2021-09-28', 123);
DELETE FROM ticket_sample WHERE t = '20210928-000123-7';
DROP INDEX ticket_sample_unique;

-- Hash: a hash index, a hash join and hashed grouping.
CREATE INDEX ticket_sample_hash ON ticket_sample USING hash (t);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
DROP INDEX ticket_sample_t;
EXPLAIN (COSTS OFF) SELECT * FROM ticket_sample WHERE t = '20210928-000123-7';
SELECT count(*) FROM ticket_sample WHERE t = (SELECT t FROM ticket_sample ORDER BY t LIMIT 1);
RESET enable_seqscan;
RESET enable_bitmapscan;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ticket_sample a JOIN ticket_sample b USING (t);
SELECT count(*) FROM ticket_sample a JOIN ticket_sample b USING (t);
RESET enable_mergejoin;
RESET enable_nestloop;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT t, count(*) FROM ticket_sample GROUP BY t;
RESET enable_sort;
-- The two hash functions agree (support 2 with seed 0 extends support 1), and a
-- ticket hashes like its internal int8 value.
SELECT bool_and(workorder.ticket_hash(t)::bigint & 4294967295
                = workorder.ticket_hash_extended(t, 0) & 4294967295) AS hashes_agree,
       bool_and(workorder.ticket_hash(t)
                = hashint8(to_char(workorder.ticket_day(t), 'YYYYMMDD')::bigint * 1000000
                           + workorder.ticket_seq(t))) AS like_int8,
       count(DISTINCT workorder.ticket_hash_extended(t, 42)) AS distinct_seeded
  FROM ticket_sample;

-- Binary output is the internal value as an int8: yyyymmdd * 1000000 + seq.
SELECT workorder.ticket_send('20210928-000123-7') AS send,
       workorder.ticket_send('20210928-000123-7') = int8send(20210928000123) AS is_int8;

-- Binary input, through binary COPY: an int8 column written in binary reads back
-- as a ticket, and ticket_recv checks the value like text input does.
CREATE TABLE ticket_binary (t workorder.ticket);
\copy (SELECT 20210928000123::bigint UNION ALL SELECT 20991231999999) TO 'results/ticket_binary.bin' (FORMAT binary)
\copy ticket_binary FROM 'results/ticket_binary.bin' (FORMAT binary)
SELECT t FROM ticket_binary ORDER BY t;
\copy ticket_binary TO 'results/ticket_binary.bin' (FORMAT binary)
TRUNCATE ticket_binary;
\copy ticket_binary FROM 'results/ticket_binary.bin' (FORMAT binary)
SELECT t FROM ticket_binary ORDER BY t;
\copy (SELECT 20210230000001::bigint) TO 'results/ticket_binary.bin' (FORMAT binary)
\copy ticket_binary FROM 'results/ticket_binary.bin' (FORMAT binary)
\copy (SELECT 20210928000000::bigint) TO 'results/ticket_binary.bin' (FORMAT binary)
\copy ticket_binary FROM 'results/ticket_binary.bin' (FORMAT binary)
\copy (SELECT -1::bigint) TO 'results/ticket_binary.bin' (FORMAT binary)
\copy ticket_binary FROM 'results/ticket_binary.bin' (FORMAT binary)
SELECT count(*) FROM ticket_binary;

-- Casts: text both ways; no cast from or to bigint.
SELECT '20210928-000123-7'::text::workorder.ticket AS from_text,
       pg_typeof(workorder.make_ticket('2021-09-28', 123)::text) AS to_text;
CREATE TEMP TABLE ticket_text (x text);
INSERT INTO ticket_text VALUES (workorder.make_ticket('2021-09-28', 123));
SELECT x FROM ticket_text;
SELECT 20210928000123::bigint::workorder.ticket;
SELECT '20210928-000123-7'::workorder.ticket::bigint;

-- next_ticket: the first ticket of a day is 000001, then 000002, ...; the day
-- gets its row in ticket_days.
SELECT workorder.next_ticket('2001-01-01') AS first,
       workorder.next_ticket('2001-01-01') AS second,
       workorder.next_ticket('2001-01-01') AS third;
SELECT workorder.next_ticket('2001-01-02') AS other_day;
SELECT count(*) FROM workorder.ticket_days WHERE day IN ('2001-01-01', '2001-01-02');
SELECT workorder.ticket_day(workorder.next_ticket())
       = (now() AT TIME ZONE 'Asia/Shanghai')::date AS default_is_today_in_beijing;
\x on
SELECT stmt, e.*
  FROM (VALUES ($$SELECT workorder.next_ticket('1999-12-31')$$),
               ($$SELECT workorder.next_ticket(NULL)$$)) v(stmt),
       pg_temp.error_of(stmt) e;
\x off
-- A day that has run out of sequence numbers.
BEGIN;
UPDATE workorder.ticket_days SET first_number = first_number - 999999 WHERE day = '2001-01-02';
\x on
SELECT * FROM pg_temp.error_of($$SELECT workorder.next_ticket('2001-01-02')$$);
\x off
ROLLBACK;

-- Without workorder on the search_path, the operators are spelled out.
SET search_path = public;
SELECT workorder.make_ticket('2021-09-28', 123) OPERATOR(workorder.=) '20210928-000123-7' AS eq;
SELECT workorder.make_ticket('2021-09-28', 123) = '20210928-000123-7' AS eq;
SET search_path = workorder, public;

-- Both the table and the sequence behind next_ticket are kept by pg_dump.
SELECT c.relname
  FROM pg_extension e, unnest(e.extconfig) cfg(oid), pg_class c
 WHERE e.extname = 'workorder' AND c.oid = cfg.oid
   AND c.relname IN ('ticket_days', 'ticket_number_seq')
 ORDER BY 1;

-- The operator classes validate.
SELECT opcname, amname, opcdefault, amvalidate(opc.oid)
  FROM pg_opclass opc JOIN pg_am am ON am.oid = opc.opcmethod
 WHERE opcintype = 'workorder.ticket'::regtype
 ORDER BY 1;

DROP TABLE ticket_sample, ticket_binary;
