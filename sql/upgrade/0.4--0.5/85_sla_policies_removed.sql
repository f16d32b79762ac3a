-- workorder 0.4 -> 0.5: the SLA policies a district deletes are recorded, so that a
-- restore deletes the shipped ones again (install part 85); after @functions, which
-- makes the triggers' functions.  A shipped policy deleted before the update is not
-- known, and comes back on a restore as before: make it and delete it again after
-- the update to record it.
CREATE TABLE workorder.sla_policies_removed (
    name       text PRIMARY KEY,
    removed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('workorder.sla_policies_removed', '');
COMMENT ON TABLE workorder.sla_policies_removed IS
    'SLA policies deleted by the district: kept by pg_dump, so that a restore deletes the shipped ones again.';
CREATE TRIGGER sla_policies_removed
    AFTER DELETE ON workorder.sla_policies
    FOR EACH ROW EXECUTE FUNCTION workorder.record_removal('workorder.sla_policies_removed', 'name');
CREATE TRIGGER sla_policies_truncated
    BEFORE TRUNCATE ON workorder.sla_policies
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.record_removal('workorder.sla_policies_removed', 'name');
CREATE TRIGGER sla_policies_removed_after_insert
    AFTER INSERT ON workorder.sla_policies_removed
    FOR EACH ROW EXECUTE FUNCTION workorder.sla_policies_removed_after_insert();
ALTER TABLE workorder.sla_policies_removed ENABLE ALWAYS TRIGGER sla_policies_removed_after_insert;
