-- workorder 0.4 -> 0.5, part 85: the trigger that writes a policy's new terms to
-- sla_policy_versions (its function is made with the others, @functions).
CREATE TRIGGER sla_policies_keep_version
    AFTER INSERT OR UPDATE ON workorder.sla_policies
    FOR EACH ROW WHEN (NOT workorder.loaded_by_copy('workorder.sla_policies'))
    EXECUTE FUNCTION workorder.sla_policies_keep_version();
