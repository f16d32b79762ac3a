-- workorder 0.4 -> 0.5: the shipped escalation steps a district deletes are
-- recorded, so that a restore deletes them again (install part 86); after
-- @functions, which makes the triggers' functions.  A shipped step deleted before
-- the update is not known, and comes back on a restore as before: delete it again
-- after the update to record it.
CREATE TABLE workorder.sla_escalation_steps_removed (
    policy     text NOT NULL,
    step       integer NOT NULL,
    removed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (policy, step)
);
SELECT pg_catalog.pg_extension_config_dump('workorder.sla_escalation_steps_removed', '');
COMMENT ON TABLE workorder.sla_escalation_steps_removed IS
    'Shipped escalation steps deleted by the district: kept by pg_dump, so that a restore deletes them again.';
CREATE TRIGGER sla_escalation_steps_removed
    AFTER DELETE OR UPDATE OF policy, step ON workorder.sla_escalation_steps
    FOR EACH ROW WHEN (OLD.shipped)
    EXECUTE FUNCTION workorder.sla_escalation_step_removed();
CREATE TRIGGER sla_escalation_steps_removed_after_insert
    AFTER INSERT ON workorder.sla_escalation_steps_removed
    FOR EACH ROW EXECUTE FUNCTION workorder.sla_escalation_steps_removed_after_insert();
ALTER TABLE workorder.sla_escalation_steps_removed ENABLE ALWAYS TRIGGER sla_escalation_steps_removed_after_insert;
CREATE TRIGGER sla_escalation_steps_truncated
    BEFORE TRUNCATE ON workorder.sla_escalation_steps
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.sla_escalation_steps_truncated();
