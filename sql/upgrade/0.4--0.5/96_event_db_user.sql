-- upgrade 0.4 -> 0.5, part 96: the event log records the role that took an action
-- (calling_role(), the role taken with SET ROLE), not the session user.
ALTER TABLE workorder.order_events ALTER COLUMN db_user SET DEFAULT workorder.calling_role();
COMMENT ON COLUMN workorder.order_events.db_user IS
    'The database role that took the action: workorder.calling_role(), the role taken with SET ROLE or else the session user.';
