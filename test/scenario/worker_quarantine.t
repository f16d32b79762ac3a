#!/usr/bin/env bash
# worker_quarantine.t: a task the worker keeps dying in is set aside, and the
# cluster stops restarting.
#
# A backend that dies by a signal makes the postmaster reset the whole cluster.  A
# task that crashes its worker would do it again each time the launcher starts the
# worker anew: the cluster restarting every few seconds, for ever.  The worker marks
# the task it runs in a file, and a worker that finds the mark counts the death; after
# two deaths in a row the task is not run for ten minutes (src/quarantine.c).
#
#   (a) A client backend that crashes while the worker is in the middle of a task does
#       not count against the task: the worker was stopped, it did not die.
#   (b) A task that kills its own backend with SIGSEGV (COPY TO PROGRAM 'kill -SEGV')
#       crashes the cluster twice, then is quarantined: a WARNING in the server log, a
#       failed run in workorder.worker_runs, and no third crash while the worker goes
#       on with its passes.
#   (c) A task whose parallel worker crashes is counted as if it had crashed itself
#       (the postmaster's SIGQUIT to the worker then says nothing of another process).
#   (d) DROP DATABASE removes the database's files.
#
# Crashes reset every database, so the test runs a private cluster of its own,
# stopped however the test ends.  Needs scripts/cluster.sh and a PostgreSQL 15 with
# workorder installed.  Prints TAP.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="worker_quarantine"
prefix="workorder-quarantine"
port=${WORKORDER_QUARANTINE_PORT:-$((58000 + $$ % 1000))}

. "$(dirname "$0")/private_cluster.sh"
. "$(dirname "$0")/tap.sh"

echo "1..10"

crashes() { grep -c 'was terminated by signal 11' "$cluster/server.log"; }
# wait_for SECONDS COMMAND...: runs COMMAND every 200 ms until it succeeds.
wait_for() {
  local seconds=$1 i
  shift
  for i in $(seq 1 $((seconds * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}
worker_in() { # worker_in TASK: the worker is running TASK now
  [ "$(psql -X -q -At -d "$db" -c "SELECT count(*) FROM pg_stat_activity
                                     WHERE backend_type = 'workorder worker' AND state = 'active'
                                       AND query LIKE '%run_task(''$1'')%'")" = 1 ]
}
passes() { psql -X -q -At -d "$db" -c "SELECT COALESCE(sum(passes), 0) FROM workorder.worker_status" 2>/dev/null; }
more_passes_than() { [ "$(passes)" -gt "$1" ]; }
crashes_at_least() { [ "$(crashes)" -ge "$1" ]; }

if ! { bash "$repo/scripts/cluster.sh" start "$cluster" "$port" >"$work/start.log" 2>&1 &&
       psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" >/dev/null &&
       psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>"$work/setup.err" <<'SQL'
CREATE EXTENSION workorder CASCADE;
-- A task that is busy for two seconds, and due again at once.
CREATE FUNCTION workorder.task_test_slow() RETURNS workorder.task_outcome LANGUAGE plpgsql AS $$
DECLARE
    outcome workorder.task_outcome;
BEGIN
    PERFORM pg_catalog.pg_sleep(2);
    outcome.rows := 0;
    outcome.next_due := pg_catalog.clock_timestamp();
    RETURN outcome;
END
$$;
ALTER EXTENSION workorder ADD FUNCTION workorder.task_test_slow();
INSERT INTO workorder.worker_tasks (task, position, function, description)
VALUES ('test_slow', 40, 'workorder.task_test_slow', 'busy for two seconds');
SELECT workorder.wake_worker();
SQL
     }; then
  echo "# setup failed:"
  cat "$work/start.log" "$work/setup.err" 2>/dev/null | sed 's/^/#   /' | tail -n 20
  for i in 1 2 3 4 5 6 7 8 9 10; do check "setup" ok failed; done
  exit 1
fi

# (a) Two client backends crash while the worker is in test_slow.
crash_client_backend() {
  wait_for 30 worker_in test_slow || return 1
  psql -X -q -d "$db" >/dev/null 2>&1 <<'SQL'
DO $$ BEGIN EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'kill -SEGV ' || pg_backend_pid()); END $$;
SQL
  return 0
}
before=$(crashes)
ok=yes
for round in 1 2; do
  crash_client_backend || ok="no worker in test_slow before crash $round"
  wait_for 30 crashes_at_least $((before + round)) || ok="crash $round did not happen"
done
check "two client backends crashed, each while the worker was in a task" yes "$ok"
wait_for 40 worker_in test_slow; sleep 1
mentions=$(grep -c 'died while task "test_slow" ran\|task "test_slow" is not run' "$cluster/server.log")
check "the worker that was stopped for them did not die in its task: nothing counted" 0 "$mentions"

# (b) A task that kills its own backend.  The crashes are counted from before it is
# armed: the worker may run it (and crash) before this script's psql has even exited.
before=$(crashes)
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>"$work/crash.err" <<'SQL'
DELETE FROM workorder.worker_tasks WHERE task = 'test_slow';
CREATE FUNCTION workorder.task_test_crash() RETURNS workorder.task_outcome LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE pg_catalog.format('COPY (SELECT 1) TO PROGRAM %L', 'kill -SEGV ' || pg_catalog.pg_backend_pid());
    RETURN NULL;
END
$$;
ALTER EXTENSION workorder ADD FUNCTION workorder.task_test_crash();
INSERT INTO workorder.worker_tasks (task, position, function, description)
VALUES ('test_crash', 50, 'workorder.task_test_crash', 'kills its backend');
SELECT workorder.wake_worker();
SQL
ok=no
wait_for 60 grep -q 'task "test_crash" is not run until' "$cluster/server.log" && ok=yes
check "after two deaths in test_crash the worker logs that the task is quarantined" yes "$ok"
check "... having crashed the cluster twice" $((before + 2)) "$(crashes)"
wait_for 30 psql -X -q -At -d "$db" -c "SELECT 1" || true
p0=$(passes)
ok=no
# Three more passes: nothing falls due here, so they come a naptime (10 s) apart;
# 60 s leaves room for a slow machine.
wait_for 60 more_passes_than "$((p0 + 2))" && ok=yes
sleep 5
check "the worker goes on with its passes, without test_crash" yes "$ok"
check "... and the cluster crashes no more" $((before + 2)) "$(crashes)"
check "the run log says why the task was not run" 1 \
  "$(psql -X -q -At -d "$db" -c "SELECT count(*) FROM workorder.worker_runs
                                  WHERE task = 'test_crash' AND NOT ok AND detail LIKE 'not run until %the worker died in this task 2 times in a row%'")"

# (c) A task whose parallel worker crashes, twice.
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>"$work/par.err" <<'SQL'
CREATE FUNCTION public.slow_par() RETURNS integer LANGUAGE sql PARALLEL SAFE AS 'SELECT 1 FROM pg_catalog.pg_sleep(3)';
CREATE FUNCTION workorder.task_test_par() RETURNS workorder.task_outcome LANGUAGE plpgsql
SET force_parallel_mode = on SET parallel_setup_cost = 0 SET parallel_tuple_cost = 0 AS $$
DECLARE
    outcome workorder.task_outcome;
BEGIN
    PERFORM public.slow_par();   -- (a SELECT ... INTO runs with a row limit: never in parallel)
    outcome.rows := 0;
    outcome.next_due := pg_catalog.clock_timestamp();
    RETURN outcome;
END
$$;
ALTER EXTENSION workorder ADD FUNCTION workorder.task_test_par();
INSERT INTO workorder.worker_tasks (task, position, function, description)
VALUES ('test_par', 60, 'workorder.task_test_par', 'a parallel query');
SELECT workorder.wake_worker();
SQL
parallel_worker() {
  psql -X -q -At -d "$db" -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'parallel worker' AND datname = '$db' LIMIT 1" 2>/dev/null |
    grep -E '^[0-9]+$'
}
before=$(crashes)
ok=yes
for round in 1 2; do
  if wait_for 40 parallel_worker; then
    kill -SEGV "$(parallel_worker)" 2>/dev/null
    wait_for 30 crashes_at_least $((before + round)) || ok="crash $round did not happen"
  else
    ok="no parallel worker of test_par before crash $round ($(cat "$work/par.err"))"
  fi
done
wait_for 30 grep -q 'task "test_par" is not run until' "$cluster/server.log" || ok="$ok; test_par not quarantined"
check "a task whose parallel worker crashed twice is quarantined" yes "$ok"
wait_for 30 psql -X -q -At -d "$db" -c "SELECT 1" || true
sleep 5
check "... and the cluster crashes no more" $((before + 2)) "$(crashes)"

# (d) DROP DATABASE removes its files.
dboid=$(psql -X -q -At -d postgres -c "SELECT oid FROM pg_database WHERE datname = '$db'")
had=$(ls "$cluster/pg/workorder_worker_${dboid}.deaths" 2>/dev/null | wc -l)
psql -X -q -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null 2>&1
left=$(ls "$cluster/pg/" | grep -c "^workorder_worker_${dboid}\.")
check "DROP DATABASE removes the database's quarantine file (there was $had)" "1 0" "$had $left"
[ "$failed" -eq 0 ]
