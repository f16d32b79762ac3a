-- workorder install script, part 51: the event log's hash chain and its check.
--
-- Each event of an order carries prev_hash, the hash of the order's event before
-- it (32 zero bytes for the first), and hash = SHA-256(prev_hash || the event's
-- content, serialised unambiguously).  The definition is in src/eventlog.c and in
-- README.md ("Tamper evidence").  An event edited, deleted or inserted afterwards,
-- even by a superuser with the append-only triggers disabled, no longer fits its
-- order's chain, and workorder.verify_log() names it.
--
-- This part is also the upgrade from 0.1, whose databases have events: the
-- columns are added, the existing events chained in order, and only then made
-- NOT NULL.  On a fresh install the log is empty and the backfill does nothing.

-- event_hash returns the hash of event e chained to prev (32 bytes).
CREATE FUNCTION workorder.event_hash(prev bytea, e workorder.order_events)
RETURNS bytea
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'eventlog_event_hash';
COMMENT ON FUNCTION workorder.event_hash(bytea, workorder.order_events) IS
    'SHA-256 of prev (the hash of the order''s event before, or 32 zero bytes) and the event''s content: the hash chain of the event log.';

-- loaded_by_restore is true when the statement running at top level is a COPY FROM
-- or an INSERT into the table in a session with check_function_bodies off, as
-- pg_dump's scripts and pg_restore run (with COPY, or INSERT under --inserts), and
-- a migration loading history should: rows being restored, not actions being
-- taken (src/eventlog.c).
CREATE FUNCTION workorder.loaded_by_restore(target regclass)
RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'eventlog_loaded_by_restore';
COMMENT ON FUNCTION workorder.loaded_by_restore(regclass) IS
    'True while the top-level statement is a COPY FROM or INSERT into the table with check_function_bodies off (a restore): triggers skip what only actions should cause.';

ALTER TABLE workorder.order_events
    ADD COLUMN prev_hash bytea,
    ADD COLUMN hash bytea;

-- The events already there (an upgrade) are chained one seq at a time, so that
-- each event's predecessor has its hash when the event gets its own.  The log is
-- append-only even for its owner: its guard is set aside for this one UPDATE.
DO $backfill$
DECLARE
    last_seq integer := (SELECT pg_catalog.max(e.seq) FROM workorder.order_events e);
    genesis bytea := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');
BEGIN
    IF last_seq IS NULL THEN
        RETURN;
    END IF;
    ALTER TABLE workorder.order_events DISABLE TRIGGER order_events_refuse_change;
    FOR s IN 1 .. last_seq LOOP
        UPDATE workorder.order_events e
           SET prev_hash = x.prev, hash = workorder.event_hash(x.prev, e)
          FROM (SELECT c.id, COALESCE(p.hash, genesis) AS prev
                  FROM workorder.order_events c
                  LEFT JOIN workorder.order_events p
                         ON p.order_id OPERATOR(pg_catalog.=) c.order_id
                        AND p.seq OPERATOR(pg_catalog.=) (c.seq OPERATOR(pg_catalog.-) 1)
                 WHERE c.seq OPERATOR(pg_catalog.=) s) x
         WHERE e.id OPERATOR(pg_catalog.=) x.id;
    END LOOP;
    ALTER TABLE workorder.order_events ENABLE ALWAYS TRIGGER order_events_refuse_change;
END
$backfill$;

ALTER TABLE workorder.order_events
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL;
COMMENT ON COLUMN workorder.order_events.prev_hash IS
    'The hash of the order''s event before this one (32 zero bytes for its first event).';
COMMENT ON COLUMN workorder.order_events.hash IS
    'SHA-256 of prev_hash and this event''s content (workorder.event_hash): the hash chain that workorder.verify_log() checks.';

-- order_events_chain sets prev_hash and hash of each new event (see src/eventlog.c).
-- A row that comes with its hash (pg_restore's COPY) keeps it.
CREATE FUNCTION workorder.order_events_chain()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'order_events_chain';

CREATE TRIGGER order_events_chain
    BEFORE INSERT ON workorder.order_events
    FOR EACH ROW EXECUTE FUNCTION workorder.order_events_chain();
-- ALWAYS: an event inserted under session_replication_role = replica is chained too.
ALTER TABLE workorder.order_events ENABLE ALWAYS TRIGGER order_events_chain;

-- verify_log checks the hash chain of one order's events, or of every order's,
-- and returns one row per problem found; an intact log returns no rows.  kind is
--   edited        the event's content (or hash) is not what its hash was made of
--   chain broken  the event after it was chained to another hash: the event was
--                 rewritten, or replaced, together with its hash
--   missing       an event of the order is not there (deleted): seq names it (a
--                 run of more than 1000 missing numbers: one row, seq its first)
--   inserted      an event the order never counted (its seq is beyond the
--                 order's event_count)
--   out of order  an event older, or with a smaller id, than the event before it
--   disagrees     the order's status is not the status its last event left it in:
--                 the order was changed past its actions
--   orphaned      the event's order is not in workorder.orders: the order was
--                 deleted past its actions (its ticket is NULL)
-- A malformed hash (a previous hash that is not 32 bytes) is reported as edited,
-- and does not stop the check of the other events: a verifier must survive the
-- tampering it looks for.
-- It reads with the caller's privileges: run it as the owner or an auditor who
-- may read the log.
CREATE FUNCTION workorder.verify_log(of_order bigint DEFAULT NULL)
RETURNS TABLE (order_id bigint, ticket workorder.ticket, event_id bigint, seq integer,
               kind text, detail text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    genesis bytea := pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex');
BEGIN
    IF verify_log.of_order IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM workorder.orders o WHERE o.id OPERATOR(pg_catalog.=) verify_log.of_order)
       AND NOT EXISTS (SELECT 1 FROM workorder.order_events e WHERE e.order_id OPERATOR(pg_catalog.=) verify_log.of_order) THEN
        PERFORM workorder.raise_error('WO402',
            pg_catalog.format('order %s does not exist', verify_log.of_order),
            'verify_log was asked to check the events of this order.',
            'Check the order id, or call workorder.verify_log() without one to check every order.');
    END IF;
    RETURN QUERY
    WITH events AS (
        SELECT e.id, e.order_id, e.seq, e.at, e.prev_hash, e.hash,
               CASE WHEN pg_catalog.octet_length(e.prev_hash) OPERATOR(pg_catalog.=) 32
                    THEN workorder.event_hash(e.prev_hash, e) END AS computed,
               pg_catalog.lag(e.id) OVER w AS before_id,
               pg_catalog.lag(e.seq) OVER w AS before_seq,
               pg_catalog.lag(e.at) OVER w AS before_at,
               pg_catalog.lag(e.hash) OVER w AS before_hash,
               pg_catalog.lead(e.id) OVER w AS after_id,
               pg_catalog.lead(e.seq) OVER w AS after_seq,
               pg_catalog.lead(e.prev_hash) OVER w AS after_prev_hash,
               pg_catalog.lead(e.hash) OVER w AS after_hash
          FROM workorder.order_events e
         WHERE verify_log.of_order IS NULL OR e.order_id OPERATOR(pg_catalog.=) verify_log.of_order
        WINDOW w AS (PARTITION BY e.order_id ORDER BY e.seq, e.id)
    ), checked AS (
        SELECT v.*, pg_catalog.lead(v.computed) OVER w AS after_computed
          FROM events v
        WINDOW w AS (PARTITION BY v.order_id ORDER BY v.seq, v.id)
    ), counted AS (
        SELECT o.id, o.event_count, o.status, pg_catalog.max(e.seq) AS last_seq,
               pg_catalog.max(e.seq) FILTER (WHERE e.seq OPERATOR(pg_catalog.<=) o.event_count) AS last_counted_seq,
               (pg_catalog.array_agg(e.id ORDER BY e.seq DESC))[1] AS last_id,
               (pg_catalog.array_agg(e.new_status ORDER BY e.seq DESC))[1] AS last_status
          FROM workorder.orders o
          LEFT JOIN workorder.order_events e ON e.order_id OPERATOR(pg_catalog.=) o.id
         WHERE verify_log.of_order IS NULL OR o.id OPERATOR(pg_catalog.=) verify_log.of_order
         GROUP BY o.id, o.event_count, o.status
    ), gaps AS (
        -- The numbers missing before an event, from 1: only before an event the order
        -- counts (one numbered beyond event_count is inserted, not the end of a gap
        -- of numbers the order never had), or of an order that is gone.
        SELECT v.order_id,
               GREATEST(COALESCE(v.before_seq, 0)::bigint OPERATOR(pg_catalog.+) 1, 1) AS first_missing,
               v.seq::bigint OPERATOR(pg_catalog.-) 1 AS last_missing,
               pg_catalog.format('event %s (id %s) comes after %s', v.seq, v.id,
                                 COALESCE(pg_catalog.format('event %s (id %s)', v.before_seq, v.before_id), 'nothing')) AS context
          FROM events v
          LEFT JOIN counted c ON c.id OPERATOR(pg_catalog.=) v.order_id
         WHERE c.id IS NULL OR v.seq OPERATOR(pg_catalog.<=) c.event_count
        UNION ALL
        -- And after the last event the order counts, up to event_count.
        SELECT c.id, COALESCE(c.last_counted_seq, 0)::bigint OPERATOR(pg_catalog.+) 1, c.event_count,
               pg_catalog.format('the order counts %s events, the last one there is %s',
                                 c.event_count, COALESCE(c.last_counted_seq::text, 'none'))
          FROM counted c
    ), problems AS (
        SELECT v.order_id, v.id AS event_id, v.seq, 'edited' AS kind,
               CASE WHEN v.prev_hash IS NOT NULL AND v.hash IS NOT NULL AND v.computed IS NULL
                    THEN pg_catalog.format('its previous hash has %s bytes, not 32: it was written past the chain',
                                           pg_catalog.octet_length(v.prev_hash))
                    WHEN v.computed IS NULL
                    THEN 'it has no hash, or no previous hash: it was written past the chain'
                    ELSE pg_catalog.format('its content gives hash %s, but it carries %s',
                                           pg_catalog.encode(v.computed, 'hex'), pg_catalog.encode(v.hash, 'hex')) END AS detail
          FROM events v
         WHERE v.computed IS NULL OR v.computed OPERATOR(pg_catalog.<>) v.hash
        UNION ALL
        -- A link broken under an intact event: the event before it was rewritten
        -- (with a hash to match) or replaced; it is named.  When the event after
        -- is itself edited, that edit is the problem reported.
        SELECT v.order_id, v.id, v.seq, 'chain broken',
               pg_catalog.format('event %s (id %s) was chained to hash %s, but this event''s hash is %s: this event was rewritten or replaced after event %s was written',
                                 v.after_seq, v.after_id, pg_catalog.encode(v.after_prev_hash, 'hex'),
                                 pg_catalog.encode(v.hash, 'hex'), v.after_seq)
          FROM checked v
         WHERE v.after_seq OPERATOR(pg_catalog.=) (v.seq OPERATOR(pg_catalog.+) 1)
           AND v.after_prev_hash IS DISTINCT FROM v.hash
           AND v.after_computed OPERATOR(pg_catalog.=) v.after_hash
        UNION ALL
        -- The first event of an order is chained to zeros.
        SELECT v.order_id, v.id, v.seq, 'chain broken',
               pg_catalog.format('the first event of the order is chained to %s, not to 32 zero bytes: events before it were removed, or it was forged',
                                 pg_catalog.encode(v.prev_hash, 'hex'))
          FROM events v
         WHERE v.seq OPERATOR(pg_catalog.=) 1 AND v.prev_hash IS DISTINCT FROM genesis
        UNION ALL
        -- One row per missing number; a run of more than 1000 is one row naming it,
        -- so that a forged event numbered 2147483647 (or a forged event_count) is
        -- reported in a row, not in two billion.
        SELECT g.order_id, NULL::bigint, m::integer, 'missing',
               CASE WHEN g.last_missing OPERATOR(pg_catalog.-) g.first_missing OPERATOR(pg_catalog.<) 1000
                    THEN pg_catalog.format('event %s of the order is missing: %s', m, g.context)
                    ELSE pg_catalog.format('events %s to %s of the order (%s) are missing: %s', g.first_missing,
                                           g.last_missing, g.last_missing OPERATOR(pg_catalog.-) g.first_missing
                                                           OPERATOR(pg_catalog.+) 1, g.context) END
          FROM gaps g,
               pg_catalog.generate_series(g.first_missing,
                                          CASE WHEN g.last_missing OPERATOR(pg_catalog.-) g.first_missing OPERATOR(pg_catalog.<) 1000
                                               THEN g.last_missing ELSE g.first_missing END) AS m
         WHERE g.last_missing OPERATOR(pg_catalog.>=) g.first_missing
        UNION ALL
        SELECT v.order_id, v.id, v.seq, 'inserted',
               pg_catalog.format('the order counts %s events, but this is event %s', c.event_count, v.seq)
          FROM events v
          JOIN counted c ON c.id OPERATOR(pg_catalog.=) v.order_id
         WHERE v.seq OPERATOR(pg_catalog.>) c.event_count OR v.seq OPERATOR(pg_catalog.<) 1
        UNION ALL
        -- Every action logs the status it leaves, so the last event's is the order's.
        SELECT c.id, c.last_id, c.last_seq, 'disagrees',
               pg_catalog.format('the order is %s, but its last event (%s, id %s) left it %s: the order was changed past its actions',
                                 c.status, c.last_seq, c.last_id, c.last_status)
          FROM counted c
         WHERE c.last_id IS NOT NULL AND (c.last_status OPERATOR(pg_catalog.=) c.status) IS NOT TRUE
        UNION ALL
        SELECT v.order_id, v.id, v.seq, 'out of order',
               pg_catalog.format('event %s (id %s, at %s) comes after event %s (id %s, at %s)',
                                 v.seq, v.id, v.at, v.before_seq, v.before_id, v.before_at)
          FROM events v
         WHERE v.before_at OPERATOR(pg_catalog.>) v.at OR v.before_id OPERATOR(pg_catalog.>) v.id
        UNION ALL
        SELECT v.order_id, v.id, v.seq, 'orphaned',
               pg_catalog.format('order %s, which this event belongs to, is not in workorder.orders: the order was deleted past its actions',
                                 v.order_id)
          FROM events v
         WHERE NOT EXISTS (SELECT 1 FROM workorder.orders o WHERE o.id OPERATOR(pg_catalog.=) v.order_id)
    )
    SELECT p.order_id, o.ticket, p.event_id, p.seq, p.kind, p.detail
      FROM problems p
      LEFT JOIN workorder.orders o ON o.id OPERATOR(pg_catalog.=) p.order_id
     ORDER BY p.order_id, p.seq, p.kind;
END
$$;
COMMENT ON FUNCTION workorder.verify_log(bigint) IS
    'Checks the hash chain of the event log (one order, or all): one row per edited, missing, inserted, out-of-order event, broken link or order that disagrees with its last event; none when intact.';
