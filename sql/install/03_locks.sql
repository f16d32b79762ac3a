-- workorder install script, part 03: the extension's own locks.
--
-- The extension's sessions take turns by transaction-level advisory locks: a
-- worker task, a dedup neighbourhood, a callback reference, a day's briefing,
-- the hotspot detection and the detection ingest, a loader's code, and the
-- calendars (src/locks.c).  Not pg_advisory_xact_lock(): any role that can
-- connect may take those, with any keys, and ours are no secret, so a login with
-- no right on the extension at all kept every submit() waiting on the calendars'
-- key, or the worker skipping a task for ever.  These are advisory locks whose
-- fourth field (objsubid in pg_locks) is 22351, which no pg_advisory_* call
-- makes; the keys (classid, objid) are hashtext(what) and hashtext(detail).
-- Like every function of the schema, they are the admins' (part 98); the
-- SECURITY DEFINER functions that take them run as the owner.

-- lock_xact takes the lock named (what, detail), exclusive, until the transaction
-- ends, waiting for the session that holds it.  A NULL detail is ''; a NULL what is
-- WO005.
CREATE FUNCTION workorder.lock_xact(what text, detail text DEFAULT '')
RETURNS void
AS 'MODULE_PATHNAME', 'workorder_lock_xact'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- lock_xact_shared takes the same lock in share mode: sessions that hold it share
-- it, and lock_xact waits for them all (and they for it).
CREATE FUNCTION workorder.lock_xact_shared(what text, detail text DEFAULT '')
RETURNS void
AS 'MODULE_PATHNAME', 'workorder_lock_xact_shared'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- try_lock_xact is lock_xact without waiting: false when another session holds it.
CREATE FUNCTION workorder.try_lock_xact(what text, detail text DEFAULT '')
RETURNS boolean
AS 'MODULE_PATHNAME', 'workorder_try_lock_xact'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
