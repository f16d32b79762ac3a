-- workorder install script, part 95 (before 95_bi_views, which lists it): the BI
-- view of the escalation steps done.
--
-- It has a part of its own so that the update from 0.4 runs it as it is: 0.4 had
-- the view, so it is CREATE OR REPLACE, with the columns in 0.4's order.
--
-- The steps are read from the event log (one 'escalate' event per step, its
-- details giving the step and the action), not from workorder.order_escalations:
-- a reopen (redo) deletes the order's rows there, so that the new chain can run,
-- and the steps done before it vanished from this view and from the daily
-- briefing.  The partial index keeps the view from reading the whole log.
CREATE INDEX order_events_escalate_idx ON workorder.order_events (at)
    WHERE action OPERATOR(pg_catalog.=) 'escalate';

-- bi_escalations: every escalation step done, with the unit it was done to (the
-- event's: the order's main unit then, not now; a step of a unit the order was
-- reassigned from was counted against the new unit, and returned orders had none)
-- and the order's place.
CREATE OR REPLACE VIEW workorder.bi_escalations AS
SELECT o.id AS order_id, o.ticket::text AS ticket,
       (e.details OPERATOR(pg_catalog.->>) 'step')::integer AS step,
       e.details OPERATOR(pg_catalog.->>) 'action' AS action, e.at AS done_at,
       (e.at AT TIME ZONE (SELECT workorder.score_zone()))::date AS done_day,
       e.unit_code, u.name AS unit_name, o.escalated_to, up.name AS escalated_to_name,
       o.category_code, c.name AS category_name, c.family AS category_family,
       o.area_chain[2] AS town_code, town.name AS town_name,
       o.status::text AS status_now,
       -- Open and past its deadline: the flag stays on an order resolved late.
       (o.overdue AND o.status IN ('new', 'dispatched', 'accepted', 'suspended')) AS overdue_now,
       o.resolve_due_at
  FROM workorder.order_events e
  JOIN workorder.orders o ON o.id OPERATOR(pg_catalog.=) e.order_id
  LEFT JOIN workorder.units u ON u.code OPERATOR(pg_catalog.=) e.unit_code
  LEFT JOIN workorder.units up ON up.code OPERATOR(pg_catalog.=) o.escalated_to
  LEFT JOIN workorder.category_effective c ON c.code OPERATOR(pg_catalog.=) o.category_code
  LEFT JOIN workorder.areas town ON town.code OPERATOR(pg_catalog.=) o.area_chain[2]
 WHERE e.action OPERATOR(pg_catalog.=) 'escalate';
COMMENT ON VIEW workorder.bi_escalations IS
    'Escalation steps done (remind, supervise, escalate_parent, escalate_leader), one row per step done, also of a chain a reopen ended, with the unit, the category and the town.';
COMMENT ON COLUMN workorder.bi_escalations.unit_code IS 'the unit the step was done to: the order''s main unit when it was done';
COMMENT ON COLUMN workorder.bi_escalations.escalated_to IS 'whom the order is escalated to now (the main unit''s parent, or the district leader)';
COMMENT ON COLUMN workorder.bi_escalations.overdue_now IS 'the order is open and past its deadline now';
REVOKE ALL ON workorder.bi_escalations FROM PUBLIC;
