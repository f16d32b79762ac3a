-- workorder 0.4 -> 0.5: the reference cache keeps when each SLA policy's terms last
-- changed (intake counts a report received before that on the terms of then), and
-- is told of a change of sla_policy_versions as of its other tables (part 87).
CREATE TRIGGER sla_policy_versions_reference_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workorder.sla_policy_versions
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.reference_cache_invalidate();
ALTER TABLE workorder.sla_policy_versions ENABLE ALWAYS TRIGGER sla_policy_versions_reference_cache;
CREATE TRIGGER sla_policy_versions_reference_cache_replica
    AFTER INSERT OR UPDATE OR DELETE ON workorder.sla_policy_versions
    FOR EACH ROW EXECUTE FUNCTION workorder.reference_cache_invalidate();
ALTER TABLE workorder.sla_policy_versions ENABLE REPLICA TRIGGER sla_policy_versions_reference_cache_replica;
