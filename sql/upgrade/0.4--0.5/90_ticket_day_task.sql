-- workorder 0.4 -> 0.5, part 90: the task ticket_day makes today's row of ticket_days
-- ahead of the day's first report (task_ticket_day and prepare_ticket_day: parts 90
-- and 10, made by @functions), so that no submit() waits for another's commit at
-- midnight.
INSERT INTO workorder.worker_tasks (task, position, function, description) VALUES
    ('ticket_day', 10, 'workorder.task_ticket_day',
     'make today''s row of ticket_days before the day''s first report, so that no report waits for another''s commit')
ON CONFLICT (task) DO NOTHING;
