#!/usr/bin/env bash
# worker_cancel.t: pg_cancel_backend() of the launcher or of an idle worker leaves
# it running.  A cancel that reached either while it slept used to raise its error
# outside any task's error handling, so the process exited and was started again
# (the launcher 5 s later, the worker at the launcher's next pass).  (A cancel during
# a task still cancels that task, whose error the worker catches and logs like any
# task's failure; that is not exercised here.)
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder preloaded.  Prints
# TAP.  Its database is dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
db="worker_cancel_$$"
export PGOPTIONS="-c client_min_messages=warning"

cleanup() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; }
trap cleanup EXIT

. "$here/tap.sh"

q() { psql -X -q -At -d "$db" -c "$1" 2>/dev/null; }

# pid_of TYPE: the pid of the launcher, or of this database's worker, waiting up to 20 s.
pid_of() {
  local pid="" i
  for i in $(seq 1 200); do
    pid=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = '$1'
             AND ('$1' = 'workorder launcher' OR datname = current_database())")
    [ -n "$pid" ] && break
    sleep 0.1
  done
  printf '%s' "$pid"
}

psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null &&
  q "CREATE EXTENSION workorder CASCADE" >/dev/null
check "a database with the extension" "1" "$(q "SELECT count(*) FROM pg_extension WHERE extname = 'workorder'")"

# cancel_asleep PID: cancels the worker PID once it sleeps between passes (its first
# pass done, waiting on its latch), waiting up to 30 s for that; the check and the
# cancel are one statement.  Prints the worker's failures before the cancel and
# pg_cancel_backend()'s result, or nothing if the worker was never seen asleep.  A
# cancel that came during a pass would cancel a task, a failure the worker counts:
# not what this test is about.
cancel_asleep() {
  local out="" i
  for i in $(seq 1 300); do
    out=$(q "SELECT s.failures || ' ' || pg_cancel_backend(s.pid)
               FROM workorder.worker_status s JOIN pg_stat_activity a ON a.pid = s.pid
              WHERE s.datname = current_database() AND s.pid = $1 AND s.passes >= 1
                AND a.wait_event_type = 'Extension' AND a.wait_event = 'Extension'")
    [ -n "$out" ] && break
    sleep 0.1
  done
  printf '%s' "$out"
}

failures_before=
for type in "workorder launcher" "workorder worker"; do
  pid=$(pid_of "$type")
  check "the $type runs" "t" "$([ -n "$pid" ] && echo t || echo f)"
  if [ "$type" = "workorder worker" ]; then
    out=$(cancel_asleep "${pid:-0}")
    failures_before=${out% *}
    echo "# the worker's failures before the cancel: ${failures_before:-unknown}"
    check "pg_cancel_backend() reaches the $type, asleep after its first pass" "true" "${out#* }"
  else
    check "pg_cancel_backend() reaches the $type" "t" "$(q "SELECT pg_cancel_backend($pid)")"
  fi
  # The cancel wakes it at once; a second is ample for it to have exited, had it.
  sleep 1
  check "the $type is still the same process a second later" "$pid" \
    "$(q "SELECT pid FROM pg_stat_activity WHERE pid = $pid AND backend_type = '$type'")"
done
passes=$(q "SELECT passes FROM workorder.worker_status WHERE datname = current_database()")
q "SELECT workorder.wake_worker()" >/dev/null
check "the worker still works: woken, it runs another pass, and the cancel failed nothing" "t" \
  "$(for i in $(seq 1 100); do
       [ "$(q "SELECT passes > $passes AND failures = ${failures_before:--1} FROM workorder.worker_status WHERE datname = current_database()")" = t ] &&
         { echo t; break; }
       sleep 0.1
     done)"

echo "1..$n"
[ "$failed" -eq 0 ]
