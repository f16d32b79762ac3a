#!/usr/bin/env bash
# launcher_cap.t: workorder.max_workers bounds the workers the launcher runs, one
# per database.  Each database with the extension kept a worker for good, and the
# launcher took every background worker process freed, so parallel queries and
# pg_cron's jobs (the fallback that runs a database's tasks) found none.
#
# A private cluster with workorder.max_workers = 1 and two databases with the
# extension: the first gets the worker, the second none, and the launcher says so
# once in the server log; its tasks still run through CALL workorder.run_due_tasks()
# (what pg_cron would call); once the setting is raised to 2 and reloaded, the
# second gets its worker.
#
# Runs a private cluster of its own, stopped however the test ends.  Prints TAP.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="launcher_cap_a"
other="launcher_cap_b"
prefix="workorder-launcher-cap"
port=${WORKORDER_CAP_PORT:-$((58000 + $$ % 1000))}

. "$(dirname "$0")/private_cluster.sh"
. "$(dirname "$0")/tap.sh"

echo "1..6"

# workers DB: how many workorder workers serve database DB.
workers() {
  psql -X -q -At -d postgres -c "SELECT count(*) FROM pg_stat_activity
                                  WHERE backend_type = 'workorder worker' AND datname = '$1'"
}

if ! { bash "$repo/scripts/cluster.sh" start "$cluster" "$port" >"$work/start.log" 2>&1 &&
       psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<SQL
ALTER SYSTEM SET workorder.max_workers = 1;
ALTER SYSTEM SET workorder.launcher_naptime = 1;
SELECT pg_reload_conf();
CREATE DATABASE $db;
CREATE DATABASE $other;
SQL
     }; then
  echo "# the private cluster did not start:"
  sed 's/^/#   /' "$work/start.log" | tail -n 20
  for i in 1 2 3 4 5 6; do check "private cluster" started failed; done
  exit 1
fi

psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION workorder CASCADE" >/dev/null
ok=no
for i in $(seq 1 200); do [ "$(workers $db)" = 1 ] && { ok=yes; break; }; sleep 0.1; done
check "with workorder.max_workers = 1, the first database with the extension gets its worker" yes "$ok"

psql -X -q -v ON_ERROR_STOP=1 -d "$other" -c "CREATE EXTENSION workorder CASCADE" >/dev/null
logged=no
for i in $(seq 1 200); do
  grep -q "database \"$other\" gets no worker: workorder.max_workers (1) workers run" "$cluster/server.log" && { logged=yes; break; }
  sleep 0.1
done
sleep 2
check "the second gets none while the first runs, and the launcher says why in the server log" "yes 0 1" \
  "$logged $(workers $other) $(workers $db)"
check "... once" 1 "$(grep -c "database \"$other\" gets no worker" "$cluster/server.log")"
check "its tasks run through CALL workorder.run_due_tasks(), as pg_cron would call it (today's ticket day is made)" 1 \
  "$(psql -X -q -At -d "$other" -c "CALL workorder.run_due_tasks()" \
       -c "SELECT count(*) FROM workorder.ticket_days WHERE day = (now() AT TIME ZONE 'Asia/Shanghai')::date" 2>&1 | tail -n 1)"

psql -X -q -d postgres -c "ALTER SYSTEM SET workorder.max_workers = 2" -c "SELECT pg_reload_conf()" >/dev/null
ok=no
for i in $(seq 1 200); do [ "$(workers $other)" = 1 ] && { ok=yes; break; }; sleep 0.1; done
check "raised to 2 and reloaded, the second database gets its worker" yes "$ok"
check "and the first keeps its own" 1 "$(workers $db)"
[ "$failed" -eq 0 ]
