-- workorder 0.1 -> 0.2: events loaded by COPY (pg_restore) make no outbox messages.
-- loaded_by_copy() is defined by install/51_eventlog.sql, listed before this part.
DROP TRIGGER order_events_outbox ON workorder.order_events;
-- Events loaded by COPY (pg_restore, a migration) are history, not actions: they
-- make no messages (a restore brings back the outbox as it was, from the dump).
CREATE TRIGGER order_events_outbox
    AFTER INSERT ON workorder.order_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT
    WHEN (NOT workorder.loaded_by_copy('workorder.order_events'))
    EXECUTE FUNCTION workorder.outbox_from_events();
