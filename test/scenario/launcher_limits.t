#!/usr/bin/env bash
# launcher_limits.t: the launcher keeps within the cluster's background worker
# processes and within a clock that is set back.
#
# 1. At its start the launcher has every database of the cluster to look at.  It
#    registered a worker for each in one pass, so a cluster of more databases than
#    free background worker processes ran out of them ("could not start a worker
#    ... No background worker process is free"), and parallel queries and pg_cron's
#    jobs found none either until the checks ended.  Now at most two workers start
#    or check their database at once, and the rest follow.  The private cluster has
#    max_worker_processes = 8 (the launcher and pg_cron's take two) and 20 databases
#    without the extension and one with it.  (A worker that found no extension
#    frees its slot before its process is gone: those count until they are, and a
#    pass stops at the first start that fails.)
# 2. A worker that ended is started again launcher_naptime after its previous start.
#    The launcher kept that start as a wall-clock time: after the clock was set back
#    an hour, a worker that ended was started again an hour later.  A preload
#    library (clock_shift.c, built here) sets the cluster's clock back, as NTP or an
#    administrator would; the worker, terminated, is back within seconds.
#
# Runs a private cluster of its own, stopped however the test ends.  Needs a C
# compiler, scripts/cluster.sh and a PostgreSQL 15 with workorder installed.  Prints TAP.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="launcher_limits"
prefix="workorder-launcher-limits"
port=${WORKORDER_LIMITS_PORT:-$((57000 + $$ % 1000))}

. "$(dirname "$0")/private_cluster.sh"
. "$(dirname "$0")/tap.sh"

echo "1..6"

shift_file="$work/clock_shift"
echo 0 >"$shift_file"
chmod 644 "$shift_file"
if ! cc -shared -fPIC -o "$work/clock_shift.so" "$repo/test/scenario/clock_shift.c" -ldl 2>"$work/cc.log"; then
  echo "# the clock shim did not build:"; sed 's/^/#   /' "$work/cc.log"
  for i in 1 2 3 4 5 6; do check "clock shim" built failed; done
  exit 1
fi
# start_cluster: starts the private cluster with the clock shim preloaded (only the
# server's processes: the test's own clock is left alone).
start_cluster() {
  LD_PRELOAD="$work/clock_shift.so" WORKORDER_CLOCK_SHIFT_FILE="$shift_file" \
    bash "$repo/scripts/cluster.sh" start "$cluster" "$port" >"$work/start.log" 2>&1
}

# workers DB: how many workorder workers serve database DB.
workers() {
  psql -X -q -At -d postgres -c "SELECT count(*) FROM pg_stat_activity
                                  WHERE backend_type = 'workorder worker' AND datname = '$1'"
}
# looks: how many times a worker found no extension, per the server log.
looks() {
  grep -c "is exiting: the extension is not installed" "$cluster/server.log"
}
short_of_workers() {
  grep -cE "could not start a worker for database|no free worker slot for database" "$cluster/server.log"
}

if ! { start_cluster &&
       psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<SQL
ALTER SYSTEM SET workorder.launcher_naptime = 1;
ALTER SYSTEM SET log_min_messages = debug1;
ALTER SYSTEM SET max_worker_processes = 8;
CREATE DATABASE $db;
SQL
     }; then
  echo "# the private cluster did not start:"
  sed 's/^/#   /' "$work/start.log" | tail -n 20
  for i in 1 2 3 4 5 6; do check "private cluster" started failed; done
  exit 1
fi
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION workorder CASCADE" >/dev/null
for i in $(seq 1 20); do psql -X -q -d postgres -c "CREATE DATABASE ${db}_without_$i" >/dev/null; done

# The restart takes max_worker_processes = 8, and the launcher starts with all 22
# databases (postgres too) to look at.
bash "$repo/scripts/cluster.sh" stop "$cluster" >/dev/null 2>&1
: >"$cluster/server.log"
start_cluster
check "the cluster restarted with max_worker_processes = 8" 8 \
  "$(psql -X -q -At -d postgres -c 'SHOW max_worker_processes')"
ok=no
for i in $(seq 1 300); do [ "$(looks)" -ge 21 ] && [ "$(workers $db)" = 1 ] && { ok=yes; break; }; sleep 0.1; done
echo "# looks at databases without the extension: $(looks); workers serving $db: $(workers $db)"
check "within 30 s of its start the launcher has looked at the 21 databases without the extension and serves the one with it" yes "$ok"
check "and never ran short of background worker processes doing so" 0 "$(short_of_workers)"

# The clock goes back an hour; the worker is terminated; it must be back within
# seconds (launcher_naptime is 1 s), not in an hour.
echo -3600 >"$shift_file"
sleep 1
pid=$(psql -X -q -At -d postgres -c "SELECT pid FROM pg_stat_activity
                                      WHERE backend_type = 'workorder worker' AND datname = '$db'")
psql -X -q -At -d postgres -c "SELECT pg_terminate_backend($pid)" >/dev/null
ok=no
for i in $(seq 1 200); do
  now_pid=$(psql -X -q -At -d postgres -c "SELECT pid FROM pg_stat_activity
                                            WHERE backend_type = 'workorder worker' AND datname = '$db'")
  [ -n "$now_pid" ] && [ "$now_pid" != "$pid" ] && { ok=yes; break; }
  sleep 0.1
done
check "with the clock set back an hour, a terminated worker is started again within 20 s" yes "$ok"
check "the server's clock was set back (now() is about an hour behind)" yes \
  "$(psql -X -q -At -d postgres -c "SELECT CASE WHEN extract(epoch FROM now()) < $(date +%s) - 3000 THEN 'yes' ELSE 'no' END")"

crashes=$(grep -cE 'was terminated by signal|terminating any other active server processes' "$cluster/server.log")
check "no process crashed" 0 "$crashes"
[ "$failed" -eq 0 ]
