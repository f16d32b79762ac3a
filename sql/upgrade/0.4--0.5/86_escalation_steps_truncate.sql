-- workorder 0.4 -> 0.5: a TRUNCATE of the chains recomputes the open orders' next
-- steps, as a DELETE does (install part 86: the chains' trigger function, which @functions re-creates,
-- does that for a TRUNCATE).
CREATE TRIGGER sla_escalation_steps_to_orders_truncate AFTER TRUNCATE ON workorder.sla_escalation_steps
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.sla_escalation_steps_after_write();
