#!/usr/bin/env bash
# worker_tasks.t: the background tasks, run by the worker and by run_due_work().
#
#   (e) The run log stays bounded: with run_log_max_rows 5 and run_log_retention
#       '1 hour', after many runs it holds at most 5 rows, none past the retention.
#   (g) One failing task does not stop the others: a task that raises an error is
#       rolled back and logged with ok = false while the next task still runs, both
#       from run_due_work() and in the worker; a task whose error escapes run_task()
#       (query_canceled, which no EXCEPTION WHEN OTHERS catches) is caught by the
#       worker, logged, and the worker lives on and runs the next task.
#   (f) run_due_work() from 4 parallel sessions for 4 s while the worker runs: no errors,
#       and every inbox row is processed exactly once (a trigger logs each row's
#       move out of 'pending'), the run log's drained rows add up to the rows.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder in
# shared_preload_libraries (scripts/test.sh sets them).  Prints TAP.  The scratch
# databases are dropped however the script ends.
set -uo pipefail

dbe="worker_test_e_$$"
dbf="worker_test_f_$$"
rows_f=1000
bindir=$(pg_config --bindir)
pgbench="$bindir/pgbench"
work=$(mktemp -d /tmp/workorder-worker-tasks.XXXXXX)

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }

cleanup() {
  for db in "$dbe" "$dbf"; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  done
  rm -rf "$work"
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

echo "1..16"

# -- (e) the run log stays bounded ------------------------------------------------
{ q postgres "CREATE DATABASE $dbe" && q "$dbe" "CREATE EXTENSION workorder CASCADE" && fixture "$dbe" &&
  psql -X -q -v ON_ERROR_STOP=1 -d "$dbe" <<'SQL'
-- The worker stays out of the way while the calls are counted.
INSERT INTO workorder.settings (name, value, description) VALUES
    ('worker_enabled', 'off', 'test: calls only'),
    ('run_log_max_rows', '5', 'test: a small log'),
    ('run_log_retention', '1 hour', 'test: a short retention');
SELECT workorder.wake_worker();
-- Rows from the past: 20 past the retention, 20 within it.
INSERT INTO workorder.worker_runs (started_at, finished_at, task, ok, detail, rows)
SELECT now() - make_interval(hours => 2, mins => i), now() - make_interval(hours => 2, mins => i),
       'old', true, 'past the retention', 1
  FROM generate_series(1, 20) i;
INSERT INTO workorder.worker_runs (started_at, finished_at, task, ok, detail, rows)
SELECT now() - make_interval(mins => i), now() - make_interval(mins => i), 'recent', true, 'within it', 1
  FROM generate_series(1, 20) i;
SQL
} >/dev/null 2>"$work/setup.err"
rc=$?
check "(e) scratch database with the extension, a map and a small run log is set up" 0 "$rc"
if [ "$rc" -ne 0 ]; then
  sed 's/^/# /' "$work/setup.err"
  exit 1
fi

# 30 calls, each with an inbox row to drain, so that each call logs at least a line.
for i in $(seq 1 30); do
  q "$dbe" "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
            VALUES ('hotline', 'E-$i', '0301', '垃圾堆放', '122.05', '30.05')" &&
    q "$dbe" "SELECT workorder.run_due_work()" >/dev/null || echo "# call $i failed"
done
check "(e) the 30 inbox rows were all accepted by the calls" 30 \
  "$(q "$dbe" "SELECT count(*) FROM workorder.inbox WHERE state = 'accepted'")"
check "(e) the run log holds at most run_log_max_rows (5) rows" t \
  "$(q "$dbe" "SELECT count(*) <= 5 FROM workorder.worker_runs")"
check "(e) ... none of them past the retention, nor from before the calls" 0 \
  "$(q "$dbe" "SELECT count(*) FROM workorder.worker_runs WHERE task IN ('old', 'recent')")"
# (score_update, which counts the events the drains logged, may log a line between them.)
check "(e) ... and the newest are the last call's drain and trim" "drain_inbox,trim_run_log" \
  "$(q "$dbe" "SELECT string_agg(task, ',' ORDER BY id) FROM (SELECT * FROM workorder.worker_runs
                                                              WHERE task <> 'score_update' ORDER BY id DESC LIMIT 2) r")"

# -- (g) a failing task does not stop the others ----------------------------------
q "$dbe" "DELETE FROM workorder.settings WHERE name = 'run_log_max_rows'" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$dbe" >/dev/null 2>"$work/g.err" <<'SQL'
CREATE FUNCTION public.broken_task() RETURNS workorder.task_outcome LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO workorder.settings VALUES ('district_leader', 'broken_task_was_here', 'must be rolled back');
    RETURN (1 / 0, 'never', NULL)::workorder.task_outcome;
END $$;
ALTER EXTENSION workorder ADD FUNCTION public.broken_task();
INSERT INTO workorder.worker_tasks VALUES ('broken', 50, 'public.broken_task', 'test: always fails');
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'G-1', '0301', '井盖松动', '122.05', '30.05');
SQL
q "$dbe" "SELECT workorder.run_due_work()" >/dev/null 2>"$work/g.err"
check "(g) run_due_work() with a failing task returns, with a WARNING" "0 1" \
  "$? $(grep -c 'WARNING:  background task broken failed: division by zero (SQLSTATE 22012)' "$work/g.err")"
check "(g) the failing task is logged with ok = false and its error" "false division by zero (SQLSTATE 22012)" \
  "$(q "$dbe" "SELECT ok || ' ' || detail FROM workorder.worker_runs WHERE task = 'broken' ORDER BY id DESC LIMIT 1")"
check "(g) ... its work is rolled back, and the task after it ran" "0 accepted" \
  "$(q "$dbe" "SELECT count(*) FROM workorder.settings WHERE value = 'broken_task_was_here'") $(q "$dbe" "SELECT state FROM workorder.inbox WHERE channel_ref = 'G-1'")"

# Now in the worker, with a second task whose error escapes run_task().
psql -X -q -v ON_ERROR_STOP=1 -d "$dbe" >/dev/null 2>>"$work/g.err" <<'SQL'
CREATE FUNCTION public.escaping_task() RETURNS workorder.task_outcome LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pretend the statement was cancelled' USING ERRCODE = 'query_canceled';
END $$;
ALTER EXTENSION workorder ADD FUNCTION public.escaping_task();
INSERT INTO workorder.worker_tasks VALUES ('escaping', 60, 'public.escaping_task', 'test: error escapes run_task');
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'G-2', '0301', '路灯不亮', '122.05', '30.05');
DELETE FROM workorder.settings WHERE name = 'worker_enabled';
SELECT workorder.wake_worker();
SQL
took=$(wait_until 10 "$dbe" "SELECT state = 'accepted' FROM workorder.inbox WHERE channel_ref = 'G-2'")
pid=$(q postgres "SELECT pid FROM pg_stat_activity WHERE application_name = 'workorder worker $dbe'")
echo "# the worker made its pass ${took} ms after it was enabled and woken"
check "(g) in the worker, the task after the two failing ones still ran" accepted \
  "$(q "$dbe" "SELECT state FROM workorder.inbox WHERE channel_ref = 'G-2'")"
check "(g) both failures are logged by the worker" "broken false 22012 $pid|escaping false 57014 $pid" \
  "$(q "$dbe" "SELECT string_agg(task || ' ' || ok || ' ' || substring(detail from 'SQLSTATE (\w+)') || ' ' || backend_pid, '|' ORDER BY task)
                 FROM (SELECT DISTINCT ON (task) * FROM workorder.worker_runs
                        WHERE task IN ('broken', 'escaping') AND backend_pid <> pg_backend_pid()
                        ORDER BY task, id DESC) r")"
# Another pass, woken: counted from what the worker's slot said before the wake, once
# the worker sleeps (its pass above may still be running the tasks after the drain).
# A pass counts itself only when it ends, after its commits: poll for it (15 s).
wait_until 15 "$dbe" "SELECT EXISTS (SELECT FROM workorder.worker_status s JOIN pg_stat_activity a ON a.pid = s.pid
                                     WHERE s.datname = current_database() AND a.wait_event_type = 'Extension')" >/dev/null ||
  echo "# the worker was not seen asleep within 15 s; counting from a pass that may still run"
before=$(q "$dbe" "SELECT passes || ' ' || failures FROM workorder.worker_status WHERE datname = current_database()")
passes_before=${before% *}
failures_before=${before#* }
q "$dbe" "SELECT workorder.wake_worker()" >/dev/null
took=$(wait_until 15 "$dbe" "SELECT pid = ${pid:-0} AND passes > ${passes_before:-0} AND failures >= ${failures_before:-0} + 2
                               FROM workorder.worker_status WHERE datname = current_database()")
echo "# passes and failures before the wake: ${before:-none}; the woken pass was seen ended after (ms): ${took}"
check "(g) the worker lives on after another pass, and counts the failures" "$pid true true" \
  "$(q "$dbe" "SELECT pid || ' ' || (passes >= 2 AND passes > ${passes_before:-0}) || ' ' ||
                      (failures >= 4 AND failures >= ${failures_before:-0} + 2 AND last_error LIKE '%: %')
                 FROM workorder.worker_status WHERE datname = current_database()")"
q "$dbe" "DELETE FROM workorder.worker_tasks WHERE task IN ('broken', 'escaping')" >/dev/null

# -- (f) run_due_work() from 4 sessions while the worker runs ----------------------
{ q postgres "CREATE DATABASE $dbf" && q "$dbf" "CREATE EXTENSION workorder CASCADE" && fixture "$dbf" &&
  psql -X -q -v ON_ERROR_STOP=1 -d "$dbf" <<SQL
-- Small batches, so that the worker and the sessions take turns on a backlog.
INSERT INTO workorder.settings (name, value, description) VALUES ('drain_batch_rows', '20', 'test: small batches');
CREATE TABLE processed_log (inbox_id bigint NOT NULL, pid integer NOT NULL, state text NOT NULL);
CREATE FUNCTION log_processed() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO processed_log VALUES (NEW.id, pg_backend_pid(), NEW.state);
    RETURN NULL;
END \$\$;
CREATE TRIGGER inbox_log_processed AFTER UPDATE ON workorder.inbox
    FOR EACH ROW WHEN (OLD.state = 'pending' AND NEW.state <> 'pending') EXECUTE FUNCTION log_processed();
-- Every tenth report is bad (no description) and is rejected: processed all the same.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
SELECT 'hotline', 'F-' || i, '0301', CASE WHEN i % 10 = 0 THEN '' ELSE '占道经营 ' || i END,
       (122.01 + (i % 17) * 0.01)::text, (30.01 + (i % 13) * 0.01)::text
  FROM generate_series(1, $rows_f) i;
SQL
} >/dev/null 2>"$work/f.err"
rc=$?
check "(f) scratch database with $rows_f pending inbox rows is set up" 0 "$rc"
[ "$rc" -ne 0 ] && sed 's/^/# /' "$work/f.err" | tail -n 20

echo 'SELECT workorder.run_due_work();' >"$work/run.sql"
q "$dbf" "SELECT workorder.wake_worker()" >/dev/null
start=$(ms)
"$pgbench" -n -c 4 -j 4 -T 4 -f "$work/run.sql" "$dbf" >"$work/f.log" 2>&1
rc=$?
check "(f) pgbench: 4 sessions calling run_due_work() for 4 s beside the worker all succeed" 0 "$rc"
[ "$rc" -ne 0 ] && sed 's/^/# /' "$work/f.log" | tail -n 20
took=$(wait_until 30 "$dbf" "SELECT NOT EXISTS (SELECT FROM workorder.inbox WHERE state = 'pending')")
echo "# the backlog of $rows_f rows was drained after $(( $(ms) - start )) ms"
check "(f) every row was processed exactly once" "$rows_f $rows_f" \
  "$(q "$dbf" "SELECT count(*) || ' ' || count(DISTINCT inbox_id) FROM processed_log")"
check "(f) no task failed, and the drains logged add up to the rows" "0 $rows_f" \
  "$(q "$dbf" "SELECT count(*) FILTER (WHERE NOT ok) || ' ' || coalesce(sum(rows) FILTER (WHERE task = 'drain_inbox'), 0)
                 FROM workorder.worker_runs")"
check "(f) no order was made twice: one order per accepted row" "$((rows_f - rows_f / 10)) $((rows_f - rows_f / 10))" \
  "$(q "$dbf" "SELECT count(*) || ' ' || count(DISTINCT order_id) FROM workorder.inbox WHERE state = 'accepted'")"
worker=$(q postgres "SELECT pid FROM pg_stat_activity WHERE application_name = 'workorder worker $dbf'")
echo "# rows processed by the worker: $(q "$dbf" "SELECT count(*) FROM processed_log WHERE pid = ${worker:-0}")," \
  "by the sessions: $(q "$dbf" "SELECT count(*) FROM processed_log WHERE pid <> ${worker:-0}")" \
  "in $(q "$dbf" "SELECT count(DISTINCT pid) FROM processed_log") processes"

[ "$failed" -eq 0 ]
