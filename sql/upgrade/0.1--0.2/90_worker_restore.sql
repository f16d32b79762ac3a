-- workorder 0.1 -> 0.2: the worker does nothing while pg_restore is connected.
-- due_tasks lists the tasks a pass runs, in order; none while pg_restore is
-- connected to this database.  A restore that is not one transaction creates the
-- extension (which starts the worker) before it loads the data: no task may act on
-- a half-restored database (drain restored inbox rows before the orders and the
-- sequences are back, log events that the restore then brings again).
CREATE OR REPLACE FUNCTION workorder.due_tasks()
RETURNS SETOF text
LANGUAGE sql STABLE
SECURITY DEFINER
AS $$
    SELECT t.task FROM workorder.worker_tasks t
     WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                        WHERE a.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()
                          AND a.application_name OPERATOR(pg_catalog.=) 'pg_restore')
     ORDER BY t.position
$$;
