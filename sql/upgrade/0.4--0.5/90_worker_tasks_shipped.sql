-- workorder 0.4 -> 0.5, part 90: the tasks the extension's scripts make are marked
-- shipped, and pg_dump keeps the others (install part 90 says why).  Before any part
-- that adds a task.  Every task of the 0.4 database counts as shipped: a change an
-- admin made before the update is not known, and is not dumped, as before; change
-- it again after the update to have it dumped.
ALTER TABLE workorder.worker_tasks ADD COLUMN shipped boolean NOT NULL DEFAULT false;
UPDATE workorder.worker_tasks SET shipped = true;
SELECT pg_catalog.pg_extension_config_dump('workorder.worker_tasks', 'WHERE NOT shipped');
COMMENT ON COLUMN workorder.worker_tasks.shipped IS
    'True while the task is exactly as the extension''s scripts made it; pg_dump leaves such a task out.';
