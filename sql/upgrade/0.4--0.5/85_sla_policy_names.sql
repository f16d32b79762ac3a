-- workorder 0.4 -> 0.5, parts 85 and 86: a priority's and an escalation step's policy
-- must exist (WO512, not 23503; see parts 85 and 86).  After @functions, which makes
-- the trigger's function.
CREATE TRIGGER sla_priority_policies_policy
    BEFORE INSERT OR UPDATE OF policy ON workorder.sla_priority_policies
    FOR EACH ROW WHEN (NEW.policy IS NOT NULL AND NOT workorder.loaded_by_copy('workorder.sla_priority_policies'))
    EXECUTE FUNCTION workorder.sla_policy_must_exist('priority', 'priority', 'policy');
CREATE TRIGGER sla_escalation_steps_policy
    BEFORE INSERT OR UPDATE OF policy ON workorder.sla_escalation_steps
    FOR EACH ROW WHEN (NEW.policy IS NOT NULL AND NOT workorder.loaded_by_copy('workorder.sla_escalation_steps'))
    EXECUTE FUNCTION workorder.sla_policy_must_exist('escalation step', 'step', 'policy');
