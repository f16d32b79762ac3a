#!/usr/bin/env bash
# worker_databases.t: the background launcher serves every database that has the
# extension, and only those, and never stands in the way of DROP DATABASE.
#
#   (a) Two databases with the extension each get a worker of their own, named
#       "workorder worker <database>" in pg_stat_activity, and each worker drains a
#       pending inbox row of its own database, on its own (no call, no wake).
#   (b) CREATE EXTENSION in a database that had none is picked up within a few
#       seconds (the install script wakes the launcher at commit); DROP EXTENSION
#       makes the worker exit, and no worker serves the database afterwards; a
#       DROP EXTENSION while the worker is inside a task waits for it, and succeeds.
#   (c) DROP DATABASE of a served database succeeds, promptly; ALTER DATABASE ...
#       RENAME of a served database succeeds, and the worker comes back under the
#       new name; a worker ended by pg_terminate_backend() is started again.
#   (c2) Two RENAMEs left open in transaction blocks keep their databases held
#       until they end: no worker of theirs waits on the renames' locks, another
#       database gets its worker meanwhile (two such waiting workers took both of
#       the launcher's turns to start one), and theirs come back after.
#
# The delays measured are printed as TAP comments.  Needs PGHOST/PGPORT/PGUSER of a
# running cluster with workorder in shared_preload_libraries (scripts/test.sh sets
# them).  Prints TAP.  The scratch databases are dropped however the script ends.
set -uo pipefail

dba="worker_test_a_$$"
dbb="worker_test_b_$$"
dbc="worker_test_c_$$"
dbd="worker_test_d_$$"
dbe="worker_test_e_$$"
dbf="worker_test_f_$$"
dbg="worker_test_g_$$"
renamed="worker_test_renamed_$$"

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }

cleanup() {
  psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                             WHERE query LIKE '%worker_databases open rename%' AND pid <> pg_backend_pid()" >/dev/null 2>&1
  for db in "$dba" "$dbb" "$dbc" "$dbd" "$renamed" "$dbe" "$dbf" "$dbg" "${dbe}_r" "${dbf}_r"; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  done
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

# wait_until SECONDS DATABASE QUERY: polls QUERY every 50 ms until it returns t, and
# prints the milliseconds that took, or "timeout".
wait_until() {
  local start deadline
  start=$(ms)
  deadline=$((start + $1 * 1000))
  while :; do
    if [ "$(psql -X -q -At -d "$2" -c "$3" 2>/dev/null)" = t ]; then
      echo $(( $(ms) - start ))
      return 0
    fi
    if [ "$(ms)" -ge "$deadline" ]; then
      echo timeout
      return 1
    fi
    sleep 0.05
  done
}
within() { # within LIMIT_MS MEASURED: "ok" when MEASURED is a number under LIMIT_MS
  if [ "$2" != timeout ] && [ "$2" -lt "$1" ]; then echo ok; else echo "$2"; fi
}

# The query that is true when DATABASE has its worker in pg_stat_activity.
served() {
  echo "SELECT count(*) = 1 FROM pg_stat_activity
         WHERE backend_type = 'workorder worker' AND datname = '$1'
           AND application_name = 'workorder worker $1'"
}
worker_pid() {
  q postgres "SELECT pid FROM pg_stat_activity
               WHERE backend_type = 'workorder worker' AND application_name = 'workorder worker $1'"
}

# A small map of our own, with one channel whose reports are accepted.
fixture() {
  psql -X -q -v ON_ERROR_STOP=1 -d "$1" >/dev/null <<'SQL'
SELECT workorder.load_area('990501', '收件区', 'district', NULL, ST_MakeEnvelope(122.0, 30.0, 122.2, 30.2, 4326));
SELECT workorder.load_area('990501001', '中街道', 'town', '990501', ST_MakeEnvelope(122.0, 30.0, 122.2, 30.2, 4326));
SELECT workorder.load_department_kinds('[{"code": "urban_management", "name": "城市管理"}]');
SELECT workorder.load_units('[
  {"code": "C-990501", "name": "收件区指挥中心", "kind": "center", "level": "district", "area_code": "990501"},
  {"code": "C-990501001", "name": "中街道指挥中心", "kind": "center", "level": "town", "area_code": "990501001", "parent_code": "C-990501"}]');
SELECT workorder.load_categories('[{"code": "CITY", "name": "城市管理", "handling_level": "town", "department_kind": "urban_management"}]');
SELECT workorder.load_channels('[{"code": "hotline", "name": "12345热线", "kind": "hotline",
                                  "categories": [{"code": "0301", "category": "CITY"}]}]');
SQL
}
inbox_row() { # inbox_row DATABASE REFERENCE
  q "$1" "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
          VALUES ('hotline', '$2', '0301', '路口有流动摊贩', '122.05', '30.05')"
}
inbox_state() { # inbox_state DATABASE REFERENCE
  q "$1" "SELECT state FROM workorder.inbox WHERE channel_ref = '$2'"
}

echo "1..23"

# -- (a) two databases, each served by a worker of its own -----------------------
setup_ok=0
for db in "$dba" "$dbb"; do
  { q postgres "CREATE DATABASE $db" && q "$db" "CREATE EXTENSION workorder CASCADE" && fixture "$db"; } \
    >/dev/null 2>/tmp/worker_databases_$$.err || setup_ok=1
done
check "(a) two scratch databases with the extension and a map are set up" 0 "$setup_ok"
if [ "$setup_ok" -ne 0 ]; then
  sed 's/^/# /' /tmp/worker_databases_$$.err
  rm -f /tmp/worker_databases_$$.err
  exit 1
fi
rm -f /tmp/worker_databases_$$.err

took_a=$(wait_until 10 postgres "$(served "$dba")")
check "(a) database A has its worker in pg_stat_activity within 10 s" ok "$(within 10000 "$took_a")"
took_b=$(wait_until 10 postgres "$(served "$dbb")")
check "(a) database B has its worker in pg_stat_activity within 10 s" ok "$(within 10000 "$took_b")"
echo "# workers seen ${took_a} ms and ${took_b} ms after the databases' CREATE EXTENSION"
pid_a=$(worker_pid "$dba")
pid_b=$(worker_pid "$dbb")
check "(a) the two workers are two processes" 1 "$([ -n "$pid_a" ] && [ -n "$pid_b" ] && [ "$pid_a" != "$pid_b" ] && echo 1 || echo "'$pid_a' '$pid_b'")"

# A pending row in each inbox: each worker drains its own within its naptime (10 s).
inbox_row "$dba" "WA-1"
inbox_row "$dbb" "WB-1"
start=$(ms)
took_a=$(wait_until 15 "$dba" "SELECT state <> 'pending' FROM workorder.inbox WHERE channel_ref = 'WA-1'")
took_b=$(wait_until 15 "$dbb" "SELECT state <> 'pending' FROM workorder.inbox WHERE channel_ref = 'WB-1'")
echo "# inbox rows drained ${took_a} ms (A) and $(( $(ms) - start )) ms (B) after they were inserted"
check "(a) database A's inbox row is accepted by the worker" accepted "$(inbox_state "$dba" WA-1)"
check "(a) database B's inbox row is accepted by the worker" accepted "$(inbox_state "$dbb" WB-1)"
check "(a) ... by A's own worker" "$pid_a" \
  "$(q "$dba" "SELECT string_agg(DISTINCT backend_pid::text, ',') FROM workorder.worker_runs WHERE task = 'drain_inbox' AND ok")"
check "(a) ... and B's by B's own worker" "$pid_b" \
  "$(q "$dbb" "SELECT string_agg(DISTINCT backend_pid::text, ',') FROM workorder.worker_runs WHERE task = 'drain_inbox' AND ok")"
check "(a) workorder.worker_status shows both workers running" "running running" \
  "$(q "$dba" "SELECT string_agg(state, ' ' ORDER BY datname) FROM workorder.worker_status
                WHERE datname IN ('$dba', '$dbb') AND pid IS NOT NULL")"

# -- (b) CREATE EXTENSION is picked up, DROP EXTENSION lets the worker go --------
q postgres "CREATE DATABASE $dbc" >/dev/null
q "$dbc" "CREATE EXTENSION postgis" >/dev/null && q "$dbc" "CREATE EXTENSION btree_gist" >/dev/null
sleep 0.5
check "(b) a database without the extension has no worker" f \
  "$(q postgres "$(served "$dbc")")"
# Counted from the statement's end (its commit wakes the launcher): the install
# script itself can take seconds on a loaded machine, and is no part of the wait.
start=$(ms)
q "$dbc" "CREATE EXTENSION workorder" >/dev/null
statement=$(( $(ms) - start ))
took=$(wait_until 15 postgres "$(served "$dbc")")
echo "# CREATE EXTENSION took ${statement} ms; its worker was seen ${took} ms after it returned"
check "(b) CREATE EXTENSION is picked up within 5 s of its commit" ok "$(within 5000 "$took")"

# drop_extension DATABASE: DROP EXTENSION workorder there, printing its error, if
# any, as TAP comments; then waits up to 10 s for the database's worker to go.
# Sets drop_rc (psql's status) and drop_took (the wait_until of the worker's exit).
drop_extension() {
  local out
  out=$(q "$1" "DROP EXTENSION workorder" 2>&1)
  drop_rc=$?
  [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
  drop_took=$(wait_until 10 postgres "SELECT NOT ($(served "$1"))")
}

drop_extension "$dbc"
echo "# worker gone ${drop_took} ms after DROP EXTENSION"
check "(b) DROP EXTENSION, right after the worker started, succeeds and makes the worker exit within 5 s" \
  "0 ok" "$drop_rc $(within 5000 "$drop_took")"

# DROP EXTENSION while the worker is inside a task.  The drop locks the
# extension's objects one by one; had it locked some before it came to one the task
# holds, the task, going on to those, would wait on the drop as the drop waits on
# it: a deadlock, and the drop, which waited first, the one to fail.  The task here
# holds the extension's newest table, waits until the drop waits, then reads every
# table of the extension.
q "$dbc" "CREATE EXTENSION workorder" >/dev/null
wait_until 10 postgres "$(served "$dbc")" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$dbc" >/dev/null <<'SQL'
CREATE TABLE public.held_once (held boolean NOT NULL);
INSERT INTO public.held_once VALUES (false);
CREATE FUNCTION workorder.task_test_hold() RETURNS workorder.task_outcome LANGUAGE plpgsql AS $$
DECLARE
    member regclass;
    polls integer := 0;
BEGIN
    UPDATE public.held_once SET held = true WHERE NOT held;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    FOR member IN
        SELECT c.oid FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
         WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'e'
           AND d.refclassid = 'pg_catalog.pg_extension'::regclass
           AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'workorder')
           AND c.relkind = 'r'
         ORDER BY c.oid DESC
    LOOP
        EXECUTE format('SELECT count(*) FROM %s', member);
        IF polls = 0 THEN
            WHILE polls < 400 AND NOT EXISTS (
                    SELECT FROM pg_catalog.pg_locks
                     WHERE NOT granted
                       AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())) LOOP
                PERFORM pg_sleep(0.05);
                polls := polls + 1;
            END LOOP;
            polls := polls + 1;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
ALTER EXTENSION workorder ADD FUNCTION workorder.task_test_hold();
INSERT INTO workorder.worker_tasks (task, position, function, description) VALUES ('test_hold', 2000, 'workorder.task_test_hold', 'holds a table until a drop waits, for worker_databases.t');
SELECT workorder.wake_worker();
SQL
took=$(wait_until 10 postgres "SELECT count(*) = 1 FROM pg_stat_activity
                               WHERE application_name = 'workorder worker $dbc' AND wait_event = 'PgSleep'")
check "(b) the worker waits inside the test's task" ok "$(within 10000 "$took")"
drop_extension "$dbc"
echo "# worker gone ${drop_took} ms after a DROP EXTENSION that waited for its task"
check "(b) DROP EXTENSION while the worker is inside a task succeeds, and the worker exits within 5 s" \
  "0 ok" "$drop_rc $(within 5000 "$drop_took")"

# -- (c) DROP DATABASE, RENAME, pg_terminate_backend ------------------------------
start=$(ms)
q postgres "DROP DATABASE $dbb"
rc=$?
took=$(( $(ms) - start ))
echo "# DROP DATABASE of a served database took ${took} ms"
check "(c) DROP DATABASE of a served database succeeds" 0 "$rc"
check "(c) ... within 15 s" ok "$(within 15000 "$took")"
check "(c) ... and its worker is gone" 0 \
  "$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE pid = ${pid_b:-0}")"

q postgres "CREATE DATABASE $dbd" >/dev/null && q "$dbd" "CREATE EXTENSION workorder CASCADE" >/dev/null
wait_until 10 postgres "$(served "$dbd")" >/dev/null
start=$(ms)
q postgres "ALTER DATABASE $dbd RENAME TO $renamed"
rc=$?
took=$(wait_until 10 postgres "$(served "$renamed")")
echo "# RENAME of a served database: worker back under the new name after ${took} ms"
check "(c) ALTER DATABASE RENAME of a served database succeeds, and the worker comes back renamed" "0 ok" \
  "$rc $(within 10000 "$took")"

# (c2) Renames left open in transaction blocks (each session sleeps inside its
# block until the test ends it).
for db in "$dbe" "$dbf"; do
  q postgres "CREATE DATABASE $db" >/dev/null && q "$db" "CREATE EXTENSION workorder CASCADE" >/dev/null
  wait_until 15 postgres "$(served "$db")" >/dev/null
done
for db in "$dbe" "$dbf"; do
  psql -X -q -d postgres -c "BEGIN" -c "ALTER DATABASE $db RENAME TO ${db}_r" \
       -c "SELECT pg_sleep(300) /* worker_databases open rename */" >/dev/null 2>&1 &
done
took=$(wait_until 15 postgres "SELECT count(*) = 2 FROM pg_stat_activity WHERE query LIKE '%worker_databases open rename%'
                                 AND wait_event = 'PgSleep'")
check "(c2) two sessions hold a RENAME open in a transaction block" ok "$(within 15000 "$took")"
q postgres "CREATE DATABASE $dbg" >/dev/null && q "$dbg" "CREATE EXTENSION workorder CASCADE" >/dev/null
took=$(wait_until 20 postgres "$(served "$dbg")")
echo "# with two renames open, a new database got its worker after ${took} ms"
check "(c2) meanwhile another database gets its worker, and no worker waits on the renames' locks" "ok 0" \
  "$(within 20000 "$took") $(q postgres "SELECT count(*) FROM pg_stat_activity
                                          WHERE backend_type = 'workorder worker' AND wait_event_type = 'Lock'")"
q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE query LIKE '%worker_databases open rename%' AND pid <> pg_backend_pid()" >/dev/null
wait
took=$(wait_until 20 postgres "SELECT ($(served "$dbe")) AND ($(served "$dbf"))")
check "(c2) once the renames end (rolled back), their databases get their workers again" ok "$(within 20000 "$took")"

pid=$(worker_pid "$dba")
q postgres "SELECT pg_terminate_backend($pid)" >/dev/null
took=$(wait_until 15 postgres "SELECT count(*) = 1 FROM pg_stat_activity
                                WHERE application_name = 'workorder worker $dba' AND pid <> $pid")
echo "# a terminated worker was back after ${took} ms (the launcher waits launcher_naptime after a start)"
check "(c) a worker ended by pg_terminate_backend() is started again" ok "$(within 15000 "$took")"

# Since (b), the launcher has looked at database C again (launcher_naptime is 5 s).
check "(b) no worker serves the database whose extension was dropped" f \
  "$(q postgres "$(served "$dbc")")"

[ "$failed" -eq 0 ]
