-- workorder 0.4 -> 0.5, part 90: a task restored over the shipped one, and the tasks
-- a district deletes recorded, so that a restore deletes them again (install part
-- 90); after @functions, which makes the triggers' functions.  A task deleted before
-- the update is not known, and comes back on a restore as before.
CREATE TRIGGER worker_tasks_before_write
    BEFORE INSERT OR UPDATE ON workorder.worker_tasks
    FOR EACH ROW EXECUTE FUNCTION workorder.worker_tasks_before_write();
CREATE TABLE workorder.worker_tasks_removed (
    task       text PRIMARY KEY,
    removed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('workorder.worker_tasks_removed', '');
REVOKE ALL ON workorder.worker_tasks_removed FROM PUBLIC;
COMMENT ON TABLE workorder.worker_tasks_removed IS
    'Background tasks deleted by the district: kept by pg_dump, so that a restore deletes the shipped ones again.';
CREATE TRIGGER worker_tasks_removed
    AFTER DELETE ON workorder.worker_tasks
    FOR EACH ROW EXECUTE FUNCTION workorder.record_removal('workorder.worker_tasks_removed', 'task');
CREATE TRIGGER worker_tasks_truncated
    BEFORE TRUNCATE ON workorder.worker_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION workorder.record_removal('workorder.worker_tasks_removed', 'task');
CREATE TRIGGER worker_tasks_removed_after_insert
    AFTER INSERT ON workorder.worker_tasks_removed
    FOR EACH ROW EXECUTE FUNCTION workorder.worker_tasks_removed_after_insert();
ALTER TABLE workorder.worker_tasks_removed ENABLE ALWAYS TRIGGER worker_tasks_removed_after_insert;
