#!/usr/bin/env bash
# worker_drop_cancel.t: a DROP DATABASE that is cancelled (here: a statement
# timeout) while it waits for the database's worker to stop leaves the database
# with a worker again once that worker is gone, while the session that tried goes
# on.  The session used to keep the database's slot held until it disconnected,
# and the database had no background work for as long (a pooled connection: for
# good).
#
# The worker is made slow to stop by suspending it (SIGSTOP) before the DROP, and
# resumed after the DROP has timed out; it then ends on the SIGTERM the DROP sent.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder preloaded, and the
# right to signal its processes (the test runs as root or as their owner).  Prints
# TAP.  Its database is dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
db="worker_drop_cancel_$$"
export PGOPTIONS="-c client_min_messages=warning"

stopped=""
cleanup() {
  [ -n "$stopped" ] && kill -CONT "$stopped" 2>/dev/null
  [ -n "${DROPPER_PID:-}" ] && kill "$DROPPER_PID" 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT

. "$here/tap.sh"

p() { psql -X -q -At -d postgres -c "$1" 2>&1; }
# worker_pid [OTHER_THAN]: the pid of the database's worker (another than
# OTHER_THAN), waiting up to 30 s; empty if none came.
worker_pid() {
  local i pid=""
  for i in $(seq 1 300); do
    pid=$(p "SELECT pid FROM pg_stat_activity WHERE backend_type = 'workorder worker' AND datname = '$db'
             AND pid <> ${1:-0}")
    [ -n "$pid" ] && break
    sleep 0.1
  done
  printf '%s' "$pid"
}

p "CREATE DATABASE $db" >/dev/null
psql -X -q -d "$db" -c "CREATE EXTENSION workorder CASCADE" >/dev/null 2>&1
first=$(worker_pid)
check "the database has its worker" "t" "$([ -n "$first" ] && echo t || echo f)"

kill -STOP "$first" && stopped=$first
coproc DROPPER { psql -X -q -At -d postgres 2>&1; }
dropper() { session_run "${DROPPER[0]}" "${DROPPER[1]}" "$1"; }
check "a DROP DATABASE that times out while the worker does not stop fails" \
  "ERROR:  canceling statement due to statement timeout" \
  "$(dropper "SET statement_timeout = '1s'; DROP DATABASE $db;")"
kill -CONT "$first" && stopped=""

second=$(worker_pid "$first")
check "once that worker is gone, the database gets a new one, while the session that tried is still connected" \
  "t $(dropper "SELECT pg_backend_pid();")" \
  "$([ -n "$second" ] && echo t || echo f) $(p "SELECT pid FROM pg_stat_activity WHERE pid = $(dropper "SELECT pg_backend_pid();")")"
check "the database is still there" "1" "$(p "SELECT count(*) FROM pg_database WHERE datname = '$db'")"

echo "1..$n"
[ "$failed" -eq 0 ]
