#!/usr/bin/env bash
# worker_update.t: ALTER EXTENSION workorder UPDATE waits for the task the worker
# is running, on the extension's lock, as DROP EXTENSION does, and then updates.
#
# The worker holds the extension's lock in share mode for each task.  PostgreSQL's
# own lock of an update does not conflict with it, so the update ran beside the
# task, its script locking the extension's tables one by one while the task held
# some of them.  Now the update takes the extension's lock in exclusive mode first.
#
# A scratch database at 0.4, with a task of its own that sleeps four seconds (a
# function made a member of the extension, as a task must be); once the worker is
# in it, a session updates the extension.  Asserted: the update waits on the
# extension's lock while the task runs, then reaches 0.5 without an error.  And a
# role that does not own the extension is told so at once, while the task runs: it
# queued for the lock first (behind the task, the worker's next step behind it), and
# heard "must be owner" only once it had it.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder preloaded
# (scripts/test.sh sets them).  Prints TAP.  The database is dropped however it ends.
set -uo pipefail

db="workorder_worker_update_$$"
stranger="workorder_update_stranger_$$"
work=$(mktemp -d /tmp/workorder-worker-update.XXXXXX)

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  jobs -p | xargs -r kill 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS $stranger" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..5"

{ psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" -c "CREATE ROLE $stranger LOGIN" &&
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION workorder VERSION '0.4' CASCADE;
CREATE FUNCTION public.worker_update_slow() RETURNS workorder.task_outcome LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(4);
    RETURN (1, 'slept', now() + interval '1 hour')::workorder.task_outcome;
END
$$;
ALTER EXTENSION workorder ADD FUNCTION public.worker_update_slow();
INSERT INTO workorder.worker_tasks (task, position, function, description)
VALUES ('worker_update_slow', 1, 'public.worker_update_slow', 'worker_update.t: sleeps four seconds');
SELECT workorder.wake_worker();
SQL
} >/dev/null 2>"$work/setup.err"
check "setup: a database at 0.4 with a task that sleeps" 0 "$?"
took=$(wait_until 30 "$db" "SELECT EXISTS (SELECT FROM pg_stat_activity
                                            WHERE datname = current_database() AND backend_type <> 'client backend'
                                              AND wait_event = 'PgSleep')")
check "the worker is in the sleeping task" t "$([ "$took" != timeout ] && echo t || echo f)"

check "a role that does not own the extension is refused at once, not after a wait for the lock" \
  "must be owner of extension workorder" \
  "$(PGOPTIONS="-c lock_timeout=1s" psql -X -q -At -d "$db" -U "$stranger" -c "ALTER EXTENSION workorder UPDATE" 2>&1 |
     grep -o -e 'must be owner of extension workorder' -e 'lock timeout' | head -1)"

psql -X -q -At -d "$db" -c "ALTER EXTENSION workorder UPDATE" >"$work/update.out" 2>&1 &
updater=$!
waited=no
for i in $(seq 1 80); do
  if [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE NOT l.granted AND l.locktype = 'object'
                AND l.classid = 'pg_catalog.pg_extension'::regclass
                AND a.query LIKE 'ALTER EXTENSION%'")" = 1 ]; then
    waited=yes
    break
  fi
  sleep 0.05
done
check "the update waits on the extension's lock while the task runs" yes "$waited"
wait "$updater"
check "then it updates to 0.5, without an error" "0.5|" \
  "$(q "SELECT extversion FROM pg_extension WHERE extname = 'workorder'")|$(head -c 300 "$work/update.out")"
[ "$failed" -eq 0 ]
