-- workorder 0.4 -> 0.5, part 86: escalate_parent goes to the first active unit up the
-- tree, and an order that leaves its main unit (reassign, return) is escalated to
-- that unit's parent no more (escalation_parent, escalation_after_move: part 86,
-- made by @functions).  The column says so.
COMMENT ON COLUMN workorder.orders.escalated_to IS 'the parent unit or district leader the order was last escalated to; a unit is cleared when the order leaves its main unit (reassign, return)';
