-- workorder 0.4 -> 0.5, part 90: the task ticket_day makes today's row of ticket_days
-- ahead of the day's first report (task_ticket_day and prepare_ticket_day: parts 90
-- and 10, made by @functions), so that no submit() waits for another's commit at
-- midnight.
-- At position 10 as a fresh install has it, or, if an admin put a task there, just
-- before the first task.
INSERT INTO workorder.worker_tasks (task, position, function, description, shipped)
SELECT 'ticket_day',
       CASE WHEN EXISTS (SELECT 1 FROM workorder.worker_tasks t WHERE t.position OPERATOR(pg_catalog.=) 10)
            THEN (SELECT pg_catalog.min(t.position) OPERATOR(pg_catalog.-) 1 FROM workorder.worker_tasks t)
            ELSE 10 END,
       'workorder.task_ticket_day',
       'make today''s row of ticket_days before the day''s first report, so that no report waits for another''s commit',
       true
ON CONFLICT (task) DO NOTHING;
