-- workorder 0.4 -> 0.5, part 85: the names of SLA policies stay true (see part 85):
-- a rule or category naming no policy is refused, a policy is not renamed, and one in
-- use is not deleted.  After @functions, which makes the triggers' functions.  Rows
-- written before are not checked again.
CREATE TRIGGER routing_rules_sla_policy
    BEFORE INSERT OR UPDATE OF sla_policy ON workorder.routing_rules
    FOR EACH ROW WHEN (NEW.sla_policy IS NOT NULL AND NOT workorder.loaded_by_copy('workorder.routing_rules'))
    EXECUTE FUNCTION workorder.sla_policy_must_exist('routing rule', 'name');
CREATE TRIGGER categories_sla_policy
    BEFORE INSERT OR UPDATE OF sla_policy ON workorder.categories
    FOR EACH ROW WHEN (NEW.sla_policy IS NOT NULL AND NOT workorder.loaded_by_copy('workorder.categories'))
    EXECUTE FUNCTION workorder.sla_policy_must_exist('category', 'code');
CREATE TRIGGER sla_policies_rename
    AFTER UPDATE OF name ON workorder.sla_policies
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION workorder.sla_policies_keep_users();
CREATE CONSTRAINT TRIGGER sla_policies_delete
    AFTER DELETE ON workorder.sla_policies
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION workorder.sla_policies_keep_users();
