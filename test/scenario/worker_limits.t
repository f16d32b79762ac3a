#!/usr/bin/env bash
# worker_limits.t: the worker's session is what its tasks are written for, and a
# task can neither run nor wait for ever.
#
#   (a) Whatever the database's defaults (ALTER DATABASE ... SET reaches the
#       worker too), a task runs READ COMMITTED, with triggers firing
#       (session_replication_role origin) and lock_timeout set to
#       workorder.task_lock_timeout.  Under a REPEATABLE READ default the inbox's
#       dedup searched with a snapshot from before its lock wait, and one event got
#       two masters; under replica the outbox trigger would not fire.
#   (b) A task that runs longer than workorder.task_timeout is cancelled, logged as
#       failed with the statement timeout, and the pass goes on: the tasks after it
#       still run.  statement_timeout never applied to the worker (it is armed for
#       a client's statements only), and a hung task stopped every task of its
#       database.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder in
# shared_preload_libraries (scripts/test.sh sets them), as a superuser: it sets
# workorder.task_timeout with ALTER SYSTEM, and resets it however the script ends.
# Prints TAP.  Its database is dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="worker_limits_$$"
export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
cleanup() {
  psql -X -q -d postgres -c "ALTER SYSTEM RESET workorder.task_timeout" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT

. "$here/tap.sh"

# wait_for SECONDS QUERY: polls QUERY every 100 ms until it returns t; prints t or
# timeout.
wait_for() {
  local deadline=$(( $(date +%s) + $1 ))
  while [ "$(date +%s)" -le "$deadline" ]; do
    [ "$(psql -X -q -At -d "$db" -c "$2" 2>/dev/null)" = t ] && { echo t; return 0; }
    sleep 0.1
  done
  echo timeout
  return 1
}

# The database's defaults are against the worker before it ever starts: the
# extension, and so the worker, comes after them.
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d postgres \
  -c "ALTER DATABASE $db SET default_transaction_isolation = 'repeatable read'" \
  -c "ALTER DATABASE $db SET session_replication_role = 'replica'" \
  -c "ALTER DATABASE $db SET lock_timeout = 0" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "SET session_replication_role = 'origin'" -c "CREATE EXTENSION workorder CASCADE" >/dev/null &&
  PGOPTIONS="$PGOPTIONS -c session_replication_role=origin" \
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$repo/test/fixtures/intake_map.sql" >/dev/null
check "a database whose defaults are REPEATABLE READ, replica and no lock timeout, with the extension" 0 $?

# A task that reports the session it runs in, first of every pass.
PGOPTIONS="$PGOPTIONS -c session_replication_role=origin" psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
CREATE FUNCTION public.probe_task() RETURNS workorder.task_outcome LANGUAGE sql AS $$
    SELECT (1, concat_ws(' ', current_setting('transaction_isolation'), current_setting('session_replication_role'),
                         current_setting('lock_timeout')), NULL)::workorder.task_outcome
$$;
ALTER EXTENSION workorder ADD FUNCTION public.probe_task();
INSERT INTO workorder.worker_tasks VALUES ('probe', 5, 'public.probe_task', 'test: the worker''s session');
SQL
q "SELECT workorder.wake_worker()" >/dev/null
check "(a) the worker runs the probe" t \
  "$(wait_for 30 "SELECT EXISTS (SELECT 1 FROM workorder.worker_runs WHERE task = 'probe')")"
check "(a) its task runs READ COMMITTED, triggers firing, with the worker's lock timeout" "read committed origin 10s" \
  "$(q "SELECT detail FROM workorder.worker_runs WHERE task = 'probe' ORDER BY id DESC LIMIT 1")"

# (b) A task that sleeps 3 s under a task_timeout of 1 s, before the inbox's drain.
# A reload reaches the worker some time after pg_reload_conf() (through the
# postmaster), and the worker takes it in only between passes: the probe, which now
# also reports the task timeout, shows when it has.  Only then is the slow task added.
psql -X -q -d postgres -c "ALTER SYSTEM SET workorder.task_timeout = '1s'" -c "SELECT pg_reload_conf()" >/dev/null
PGOPTIONS="$PGOPTIONS -c session_replication_role=origin" psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
CREATE OR REPLACE FUNCTION public.probe_task() RETURNS workorder.task_outcome LANGUAGE sql AS $$
    SELECT (1, concat_ws(' ', current_setting('transaction_isolation'), current_setting('session_replication_role'),
                         current_setting('lock_timeout'), 'task_timeout=' || current_setting('workorder.task_timeout')),
            NULL)::workorder.task_outcome
$$;
SQL
q "SELECT workorder.wake_worker()" >/dev/null
check "(b) the worker has taken the task timeout of 1 s in (a pass's probe says so)" t \
  "$(wait_for 30 "SELECT detail LIKE '% task_timeout=1s' FROM workorder.worker_runs
                   WHERE task = 'probe' ORDER BY id DESC LIMIT 1")"
PGOPTIONS="$PGOPTIONS -c session_replication_role=origin" psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
CREATE FUNCTION public.slow_task() RETURNS workorder.task_outcome LANGUAGE sql AS $$
    SELECT pg_sleep(3);
    SELECT (1, 'slept', NULL)::workorder.task_outcome
$$;
ALTER EXTENSION workorder ADD FUNCTION public.slow_task();
INSERT INTO workorder.worker_tasks VALUES ('slow', 6, 'public.slow_task', 'test: runs too long');
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'WL-1', '0301', '占道经营', '121.02', '31.05');
SQL
q "SELECT workorder.wake_worker()" >/dev/null
check "(b) the slow task is cancelled at the task timeout and logged as failed" t \
  "$(wait_for 30 "SELECT EXISTS (SELECT 1 FROM workorder.worker_runs WHERE task = 'slow' AND NOT ok
                                    AND detail = 'canceling statement due to statement timeout (SQLSTATE 57014)')")"
check "(b) it never finished" 0 "$(q "SELECT count(*) FROM workorder.worker_runs WHERE task = 'slow' AND ok")"
check "(b) and the pass went on: the inbox is drained" t \
  "$(wait_for 30 "SELECT state = 'accepted' FROM workorder.inbox WHERE channel_ref = 'WL-1'")"
check "(b) the worker lives on" t \
  "$(wait_for 10 "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'workorder worker' AND datname = current_database()")"

echo "1..$n"
[ "$failed" -eq 0 ]
