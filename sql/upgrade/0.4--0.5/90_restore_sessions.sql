-- upgrade 0.4 -> 0.5, part 90: restore_sessions, which due_tasks() (made by
-- @functions) reads.  An update is no restore: the table starts empty.
CREATE TABLE workorder.restore_sessions (
    pid integer NOT NULL,
    backend_start timestamptz NOT NULL,
    PRIMARY KEY (pid, backend_start)
);
COMMENT ON TABLE workorder.restore_sessions IS
    'The session that created the extension in a restore (row_security off): the worker runs no task while it is connected.';
