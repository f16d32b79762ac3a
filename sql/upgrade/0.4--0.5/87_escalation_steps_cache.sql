-- workorder 0.4 -> 0.5, part 87: the escalation chains join the reference cache
-- (the trigger orders_escalation_next reads the next step from it, not with a
-- query), so a change of sla_escalation_steps must reach every backend's copy, as
-- a change of the other cached tables does (install part 87).  The triggers that
-- recompute the orders of a changed chain must fire after the cache has been told:
-- triggers of one event fire in the order of their names, so they are renamed to
-- sort after sla_escalation_steps_reference_cache (install part 86).
CREATE TRIGGER sla_escalation_steps_reference_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.sla_escalation_steps
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.reference_cache_invalidate();
ALTER TABLE workorder.sla_escalation_steps ENABLE ALWAYS TRIGGER sla_escalation_steps_reference_cache;
ALTER TRIGGER sla_escalation_steps_after_insert ON workorder.sla_escalation_steps
    RENAME TO sla_escalation_steps_to_orders_insert;
ALTER TRIGGER sla_escalation_steps_after_update ON workorder.sla_escalation_steps
    RENAME TO sla_escalation_steps_to_orders_update;
ALTER TRIGGER sla_escalation_steps_after_delete ON workorder.sla_escalation_steps
    RENAME TO sla_escalation_steps_to_orders_delete;
