#!/usr/bin/env bash
# launcher_turns.t: a worker that has connected to its database no longer takes one
# of the launcher's turns to start workers (two at a time), however long its first
# step waits.
#
# Two databases, a and b, each with an ALTER EXTENSION workorder UPDATE left open in
# a transaction (it holds the extension's lock); their workers, terminated, come
# back, connect, and wait for that lock in their first step (and fail it after their
# lock_timeout, and wait again).  They were counted as starting for all that time:
# no other database got a worker, and the launcher read pg_database ten times a
# second.  Now a third database, c, that gets the extension while they wait has its
# worker running within seconds.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder preloaded
# (scripts/test.sh sets them).  Prints TAP.  Its databases are dropped however it ends.
set -uo pipefail

a="launcher_turns_a_$$"
b="launcher_turns_b_$$"
c="launcher_turns_c_$$"
export PGOPTIONS="-c client_min_messages=warning"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
cleanup() {
  jobs -p | xargs -r kill 2>/dev/null
  for d in "$a" "$b" "$c"; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1
  done
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..5"
for d in "$a" "$b"; do
  q postgres "CREATE DATABASE $d" >/dev/null
  q "$d" "CREATE EXTENSION workorder CASCADE" >/dev/null
done
q postgres "CREATE DATABASE $c" >/dev/null
took=$(wait_until 30 "$a" "SELECT count(*) = 2 FROM workorder.worker_status
                            WHERE datname IN ('$a', '$b') AND state = 'running'")
check "the workers of a and b run" t "$([ "$took" != timeout ] && echo t || echo f)"

# The updates, left open.
for d in "$a" "$b"; do
  psql -X -q -d "$d" >/dev/null 2>&1 <<'SQL' &
BEGIN;
ALTER EXTENSION workorder UPDATE;
SELECT pg_sleep(40);
COMMIT;
SQL
done
took=$(wait_until 30 postgres "SELECT count(*) = 2 FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
                                WHERE l.granted AND l.locktype = 'object' AND l.mode = 'AccessExclusiveLock'
                                  AND l.classid = 'pg_catalog.pg_extension'::regclass
                                  AND s.datname IN ('$a', '$b') AND s.query LIKE '%pg_sleep(40)%'")
check "an update holds the extension's lock in a and in b" t "$([ "$took" != timeout ] && echo t || echo f)"

# Their workers, ended, come back and wait for that lock in their first step.
q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE backend_type = 'workorder worker' AND datname IN ('$a', '$b')" >/dev/null
took=$(wait_until 30 postgres "SELECT count(*) = 2 FROM pg_stat_activity
                                WHERE backend_type = 'workorder worker' AND datname IN ('$a', '$b')
                                  AND wait_event_type = 'Lock'")
check "the workers of a and b are back, connected, and wait for the extension's lock" t \
  "$([ "$took" != timeout ] && echo t || echo f)"

q "$c" "CREATE EXTENSION workorder CASCADE" >/dev/null
took=$(wait_until 20 "$c" "SELECT EXISTS (SELECT FROM workorder.worker_status WHERE datname = '$c' AND state = 'running')")
check "c's worker runs meanwhile (it waited for the updates of a and b to end)" t \
  "$([ "$took" != timeout ] && echo t || echo f)"
check "... while a's and b's are still checking" "checking checking" \
  "$(q "$c" "SELECT string_agg(state, ' ') FROM workorder.worker_status WHERE datname IN ('$a', '$b')")"

[ "$failed" -eq 0 ]
