#!/usr/bin/env bash
# launcher_backoff.t: the launcher looks at a database without the extension less and
# less often, and still serves it at once when the extension is created.
#
# Each look is a short-lived process that connects to the database, finds no
# extension, logs so (at DEBUG1) and ends.  They used to come every
# workorder.launcher_naptime, forever, for each such database.  Now the waits double
# from launcher_naptime, up to ten minutes; CREATE EXTENSION (which wakes the
# launcher) is served at once whatever the wait, and a database whose worker ran
# and stopped (DROP EXTENSION) starts the waits afresh.
#
# With launcher_naptime at 1 s, a new database is looked at when it appears and then
# after 1, 2, 4, 8 s (about 5 looks in 20 s; without the backoff 20).  The looks are
# counted in the server log, so the test runs a private cluster of its own
# (log_min_messages = debug1 there), stopped however the test ends.
#
# Needs scripts/cluster.sh and a PostgreSQL 15 with workorder installed.  Prints TAP.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="launcher_backoff"
prefix="workorder-launcher-backoff"
port=${WORKORDER_BACKOFF_PORT:-$((56000 + $$ % 1000))}

. "$(dirname "$0")/private_cluster.sh"
. "$(dirname "$0")/tap.sh"

echo "1..4"

# looks: how many times a worker found no extension in $db, per the server log.
looks() {
  grep -c "workorder worker for database \"$db\" is exiting: the extension is not installed" "$cluster/server.log"
}
# wait_for_looks COUNT SECONDS: waits until looks reaches COUNT; true if it did.
wait_for_looks() {
  local i
  for i in $(seq 1 $(($2 * 10))); do
    [ "$(looks)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
served() {
  [ "$(psql -X -q -At -d postgres -c "SELECT count(*) FROM pg_stat_activity
                                        WHERE backend_type = 'workorder worker' AND datname = '$db'")" = 1 ]
}

if ! { bash "$repo/scripts/cluster.sh" start "$cluster" "$port" >"$work/start.log" 2>&1 &&
       psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<'SQL'
ALTER SYSTEM SET workorder.launcher_naptime = 1;
ALTER SYSTEM SET log_min_messages = debug1;
SELECT pg_reload_conf();
SQL
     }; then
  echo "# the private cluster did not start:"
  sed 's/^/#   /' "$work/start.log" | tail -n 20
  for i in 1 2 3 4; do check "private cluster" started failed; done
  exit 1
fi
sleep 1
[ -f "$cluster/server.log" ] || { echo "# no server log at $cluster/server.log"; exit 1; }

psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null
sleep 20
first=$(looks)
echo "# looks at a database without the extension in its first 20 s: $first (launcher_naptime 1 s)"
ok=no; [ "$first" -ge 3 ] && [ "$first" -le 7 ] && ok=yes
check "a new database without the extension is looked at when it appears, then after 1, 2, 4, 8 s: 3 to 7 looks in 20 s, not 20" yes "$ok"

psql -X -q -d "$db" -c "CREATE EXTENSION workorder CASCADE" >/dev/null
ok=no
for i in $(seq 1 50); do served && { ok=yes; break; }; sleep 0.1; done
check "CREATE EXTENSION is served within 5 s, however long the launcher was to wait" yes "$ok"

before=$(looks)
psql -X -q -d "$db" -c "DROP EXTENSION workorder CASCADE" >/dev/null
ok=no
wait_for_looks $((before + 3)) 10 && ok=yes
echo "# looks in the 10 s after DROP EXTENSION: $(( $(looks) - before ))"
check "after DROP EXTENSION the waits start afresh: the stop and two more looks within 10 s" yes "$ok"

crashes=$(grep -cE 'was terminated by signal|terminating any other active server processes' "$cluster/server.log")
check "no process crashed" 0 "$crashes"
[ "$failed" -eq 0 ]
