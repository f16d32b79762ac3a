-- workorder 0.4 -> 0.5, part 85: a policy change's version is dated at its commit,
-- not at its transaction's start (install part 85 says why); after @functions and
-- the part that makes sla_policy_versions.
CREATE CONSTRAINT TRIGGER sla_policy_versions_dated
    AFTER INSERT ON workorder.sla_policy_versions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NOT NEW.shipped AND NEW.valid_from OPERATOR(pg_catalog.=) pg_catalog.now())
    EXECUTE FUNCTION workorder.sla_policy_versions_dated();
