-- workorder 0.4 -> 0.5, part 86: an order's escalation steps run on the terms its
-- deadline is held to.  escalation_at(policy, resolve_due, after) counted on the
-- policy as it is now; its successor escalation_at(o, after), made by @functions
-- from install/86_escalation.sql, counts on sla_order_terms(o).
DROP FUNCTION workorder.escalation_at(text, timestamptz, interval);
