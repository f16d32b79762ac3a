#!/usr/bin/env bash
# foreign_advisory_locks.t: a login with no right on the extension cannot stall
# intake or keep the worker's tasks from running by holding advisory locks.
#
# The extension's sessions took turns by pg_advisory_xact_lock() with keys anyone
# can compute (hashtext of a fixed name, the calendars' 1464812364, 0), and every
# role that can connect may take those.  A stranger holding the calendars' key kept
# every submit() (and every action that counts a deadline) waiting without end; one
# holding a task's key made run_task() skip that task for ever, with nothing in the
# run log.  The extension's locks now live where no pg_advisory_* call reaches
# (src/locks.c, objsubid 22351), and the functions that take them are the admins'.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# test/fixtures/intake_map.sql.  Prints TAP.  The scratch database and role are
# dropped however it ends.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="foreign_locks_$$"
stranger="wo_stranger_$$"
export PGOPTIONS="-c client_min_messages=warning"

cleanup() {
  [ -n "${STRANGER_PID:-}" ] && kill "$STRANGER_PID" 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS $stranger" >/dev/null 2>&1
}
trap cleanup EXIT

. "$here/tap.sh"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

echo "1..7"

fixture_database "$db" intake_map.sql
check "a database with the extension and the intake map" 0 $?
q "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'foreign_advisory_locks.t');
   CREATE ROLE $stranger LOGIN; GRANT CONNECT ON DATABASE $db TO $stranger;" >/dev/null

# The stranger takes, for its session, the keys the extension used: the calendars',
# the deadline and hotspot tasks', the hotspot detection's, a callback's.
coproc STRANGER { psql -X -q -At -U "$stranger" -d "$db" 2>&1; }
stranger() { session_run "${STRANGER[0]}" "${STRANGER[1]}" "$1"; }
check "a login with no workorder role holds the advisory keys the extension used" "5" \
  "$(stranger "SELECT count(*) FROM (SELECT pg_advisory_lock(1464812364, 0)
                                     UNION ALL SELECT pg_advisory_lock(hashtext('workorder.worker_tasks'), hashtext('deadline_check'))
                                     UNION ALL SELECT pg_advisory_lock(hashtext('workorder.worker_tasks'), hashtext('detect_hotspots'))
                                     UNION ALL SELECT pg_advisory_lock(hashtext('workorder.detect_hotspots'))
                                     UNION ALL SELECT pg_advisory_lock(hashtext('workorder.callbacks'), hashtext('hotline FL-1'))) x;")"

# (The timeouts only keep a failure from hanging the run.)
check "submit() does not wait for the stranger's calendar key" "dispatched" \
  "$(psql -X -q -At -d "$db" -c "SET lock_timeout = '10s'" \
       -c "SELECT status FROM workorder.submit('hotline', 'FL-1', '0301', '桥头有人摆摊', lon => 121.02, lat => 31.05)" 2>&1)"
check "run_task('deadline_check') runs: it is not skipped for the stranger's task key" "t" \
  "$(psql -X -q -At -d "$db" -c "SET lock_timeout = '10s'" \
       -c "SELECT ok AND detail IS DISTINCT FROM 'skipped: another session is running it' FROM workorder.run_task('deadline_check')" 2>&1)"
q "INSERT INTO workorder.hotspot_policies (category_code, min_count) VALUES ('CITY', 3)" >/dev/null
check "the hotspot task runs and records its run: it is not skipped for the stranger's key" "t 1" \
  "$(psql -X -q -At -d "$db" -c "SET lock_timeout = '10s'" \
       -c "SELECT detail LIKE '% hot places: %' FROM workorder.task_detect_hotspots()" \
       -c "SELECT count(*) FROM workorder.hotspot_runs" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check "the stranger may not take the extension's own locks" "42501" \
  "$(psql -X -q -At -U "$stranger" -d "$db" -v VERBOSITY=sqlstate \
       -c "\\set VERBOSITY sqlstate" -c "SELECT workorder.lock_xact('workorder.worker_tasks', 'deadline_check')" 2>&1 | tr -d '\n' | sed 's/^ERROR: *//')"
check "nor may a connector: the functions that take them are the admins'" "false false false" \
  "$(q "SELECT has_function_privilege('workorder_intake', 'workorder.lock_xact(text, text)', 'EXECUTE') || ' ' ||
              has_function_privilege('workorder_handler', 'workorder.try_lock_xact(text, text)', 'EXECUTE') || ' ' ||
              has_function_privilege('workorder_intake', 'workorder.lock_xact_shared(text, text)', 'EXECUTE')")"
stranger "SELECT pg_advisory_unlock_all();" >/dev/null
[ "$failed" -eq 0 ]
