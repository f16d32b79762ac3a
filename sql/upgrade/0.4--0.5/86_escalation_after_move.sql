-- workorder 0.4 -> 0.5, part 86: escalate_parent goes to the first active unit up the
-- tree, and a parent escalated to follows the main unit (reassign, dispatch), or
-- the dispatching center while there is none (return: escalation_parent,
-- escalation_after_move, part 86, made by @functions).  The column says so.
COMMENT ON COLUMN workorder.orders.escalated_to IS 'the parent unit or district leader the order was last escalated to; a parent follows the main unit (reassign, dispatch), or the dispatching center while there is none (return)';
