-- submit() keeps prepared statements and looked-up functions for the life of a
-- backend (src/intake.c).  What one session does to the extension must not leave
-- them pointing at objects that are gone or changed: a dropped and re-created
-- extension, and a function replaced by another of the same signature.
\set QUIET 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(7);
\o /dev/null
\i test/fixtures/intake_map.sql
\o

SELECT is((workorder.submit('hotline', 'SESS-1', '0301', '占道经营', lon => 121.03, lat => 31.05)).status,
          'dispatched'::workorder.order_status,
          'a first report, made with the statements this session prepares');

-- The extension dropped and created again in the same session: new tables, new
-- types, a new submit(); the old statements must not be used.
SET CONSTRAINTS ALL IMMEDIATE;   -- the map's deferred checks, before its tables go
DROP EXTENSION workorder CASCADE;
CREATE EXTENSION workorder;
\o /dev/null
\i test/fixtures/intake_map.sql
\o
SELECT is((workorder.submit('hotline', 'SESS-1', '0301', '占道经营', lon => 121.03, lat => 31.05)).status,
          'dispatched'::workorder.order_status,
          'after DROP and CREATE EXTENSION in the same session, the same report is a new order again');
SELECT is((SELECT count(*) FROM workorder.orders), 1::bigint, 'and the new tables hold exactly it');
SELECT is((SELECT count(*) FROM workorder.order_events WHERE order_id = (SELECT id FROM workorder.orders)),
          2::bigint, 'with its submit and dispatch events');

-- A function submit() calls, replaced (as an update does with CREATE OR REPLACE)
-- by one in another language: the next call runs the new definition through its
-- own language's handler, not through the one looked up before.
SELECT lives_ok($$SELECT workorder.submit('hotline', 'SESS-2', '0301', '占道经营', lon => 121.03, lat => 31.05)$$,
                'dedup_decide (plpgsql) is called once as shipped');
CREATE OR REPLACE FUNCTION workorder.dedup_decide(category text, point geometry, received timestamptz,
                                                  description text, address text, reporter_phone text)
RETURNS workorder.dedup_decision LANGUAGE sql AS $$
    SELECT ROW('review', NULL, NULL, true, 'held by the replaced dedup_decide', NULL, NULL)::workorder.dedup_decision
$$;
SELECT is((workorder.submit('hotline', 'SESS-3', '0301', '占道经营', lon => 121.03, lat => 31.05)).status_reason,
          'held by the replaced dedup_decide',
          'after CREATE OR REPLACE of dedup_decide in another language, submit() calls the new one');
SELECT is((SELECT status FROM workorder.orders WHERE channel_ref = 'SESS-3'), 'new'::workorder.order_status,
          'and the order it held stays new, unrouted');

SELECT * FROM finish();
ROLLBACK;
