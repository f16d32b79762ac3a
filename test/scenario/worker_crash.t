#!/usr/bin/env bash
# worker_crash.t: a worker killed with SIGKILL comes back and catches up, and does
# nothing twice; and SIGHUP (ALTER SYSTEM + pg_reload_conf) changes its settings.
#
# A process that dies by SIGKILL makes the postmaster reset the whole cluster (crash
# recovery: every session is cut off), so this test never does it to the shared test
# cluster: it starts a private cluster of its own (scripts/cluster.sh, its own port
# and directory) and stops it however the test ends.
#
# There, with workorder.worker_naptime at one hour (so the worker makes a pass only
# when it starts or is woken), a first inbox row is drained by a woken worker, then
# a second row is left pending, and the worker is killed with SIGKILL.  After crash
# recovery the launcher starts a new worker within seconds, whose first pass drains
# the pending row: each row made one order, and moved out of 'pending' once (a
# trigger logs each move), the first by the old worker and the second by the new.
# Then workorder.worker_enabled is switched off and on, and worker_naptime cut to
# 1 s, each by a reload alone, and the worker is seen to follow.
#
# Before the kill, the hour of naptime also shows that a wake is not lost: a wake
# that comes while the worker waits inside its pass (in a task that sleeps; a wait
# for a lock, such as DROP EXTENSION's, resets the latch the same way) still makes
# it pass again as soon as the pass ends (the slot counts the wakes).
#
# Needs scripts/cluster.sh and a PostgreSQL 15 with workorder installed.  Prints TAP.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="worker_test_crash"
work=$(mktemp -d /tmp/workorder-worker-crash.XXXXXX)
chmod 755 "$work"
cluster="$work/cluster"
port=$((55000 + $$ % 1000))

export PGHOST="$cluster/socket" PGPORT="$port" PGUSER=postgres
export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }

cleanup() {
  bash "$repo/scripts/cluster.sh" stop "$cluster" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

# wait_until SECONDS QUERY: polls QUERY every 50 ms until it returns t (connection
# errors included, as during crash recovery), and prints the milliseconds that took,
# or "timeout".
wait_until() {
  local start deadline
  start=$(ms)
  deadline=$((start + $1 * 1000))
  while :; do
    if [ "$(psql -X -q -At -d "$db" -c "$2" 2>/dev/null)" = t ]; then
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
worker_pid() {
  psql -X -q -At -d "$db" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'workorder worker $db'" 2>/dev/null
}

echo "1..18"

{ bash "$repo/scripts/cluster.sh" start "$cluster" "$port" &&
  psql -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c "ALTER SYSTEM SET workorder.worker_naptime = '1h'" -c "SELECT pg_reload_conf()" \
    -c "CREATE DATABASE $db" &&
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION workorder CASCADE;
SELECT workorder.load_area('990501', '收件区', 'district', NULL, ST_MakeEnvelope(122.0, 30.0, 122.2, 30.2, 4326));
SELECT workorder.load_area('990501001', '中街道', 'town', '990501', ST_MakeEnvelope(122.0, 30.0, 122.2, 30.2, 4326));
SELECT workorder.load_department_kinds('[{"code": "urban_management", "name": "城市管理"}]');
SELECT workorder.load_units('[
  {"code": "C-990501", "name": "收件区指挥中心", "kind": "center", "level": "district", "area_code": "990501"},
  {"code": "C-990501001", "name": "中街道指挥中心", "kind": "center", "level": "town", "area_code": "990501001", "parent_code": "C-990501"}]');
SELECT workorder.load_categories('[{"code": "CITY", "name": "城市管理", "handling_level": "town", "department_kind": "urban_management"}]');
SELECT workorder.load_channels('[{"code": "hotline", "name": "12345热线", "kind": "hotline",
                                  "categories": [{"code": "0301", "category": "CITY"}]}]');
CREATE TABLE processed_log (inbox_id bigint NOT NULL, pid integer NOT NULL, state text NOT NULL);
CREATE FUNCTION log_processed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO processed_log VALUES (NEW.id, pg_backend_pid(), NEW.state);
    RETURN NULL;
END $$;
CREATE TRIGGER inbox_log_processed AFTER UPDATE ON workorder.inbox
    FOR EACH ROW WHEN (OLD.state = 'pending' AND NEW.state <> 'pending') EXECUTE FUNCTION log_processed();
SQL
} >"$work/setup.log" 2>&1
rc=$?
check "a private cluster with the extension and a map is up" 0 "$rc"
if [ "$rc" -ne 0 ]; then
  sed 's/^/# /' "$work/setup.log" | tail -n 20
  exit 1
fi

took=$(wait_until 10 "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'workorder worker $db'")
old_pid=$(worker_pid)
check "the database has its worker within 10 s" ok "$(within 10000 "$took")"

# The first row: the worker, woken, drains it.
q "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
   VALUES ('hotline', 'K-1', '0301', '路口有流动摊贩', '122.05', '30.05')" >/dev/null
q "SELECT workorder.wake_worker()" >/dev/null
took=$(wait_until 10 "SELECT state = 'accepted' FROM workorder.inbox WHERE channel_ref = 'K-1'")
check "a woken worker drains a first row" ok "$(within 10000 "$took")"

# A wake is not lost to a wait inside the pass.  A task added for the test (a
# member of the extension, as a task must be) sleeps once, 3 s, in pg_sleep(),
# whose wait resets the latch, as any wait inside a pass may.  While the worker
# sleeps in it, a row is inserted and the worker woken: the latch is reset
# under it.  When the pass ends, the worker must make another one at once for
# that wake, not sleep its hour.
# settle waits until the worker sleeps, with nothing due soon: the scores have
# caught up with the events so far (score_update, run here until it has nothing
# left and schedules no follow-up, as it does after a batch), and the worker has
# made no pass for 2 s.  After 20 rounds it gives up: it says why in a "# settle:"
# line and returns 1, and the caller's check fails.
settle() {
  local before after="" score=""
  worker_pass_state() {
    q "SELECT passes || ' ' || wait_event_type FROM workorder.worker_status s
         JOIN pg_stat_activity a ON a.pid = s.pid WHERE s.datname = current_database()"
  }
  for _ in $(seq 1 20); do
    score=$(q "SELECT rows = 0 AND next_due IS NULL FROM workorder.run_task('score_update')")
    [ "$score" = t ] || { sleep 0.5; continue; }
    before=$(worker_pass_state)
    sleep 2
    after=$(worker_pass_state)
    [ "${before#* }" = Extension ] && [ "$before" = "$after" ] && return 0
  done
  echo "# settle: the worker did not settle in 20 rounds: score_update caught up: ${score:-?};" \
    "passes and wait before the last 2 s: ${before:-never asked}, after: ${after:-never asked}"
  return 1
}
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
CREATE TABLE nap_once (armed boolean NOT NULL);
INSERT INTO nap_once VALUES (false);
CREATE FUNCTION workorder.task_test_nap() RETURNS workorder.task_outcome LANGUAGE plpgsql AS $$
BEGIN
    UPDATE public.nap_once SET armed = false WHERE armed;
    IF FOUND THEN
        PERFORM pg_sleep(3);
    END IF;
    RETURN NULL;
END $$;
ALTER EXTENSION workorder ADD FUNCTION workorder.task_test_nap();
INSERT INTO workorder.worker_tasks VALUES ('test_nap', 2000, 'workorder.task_test_nap', 'sleeps once, for worker_crash.t');
SQL
# The nap is armed only once the worker has settled: a pass the worker makes on
# its own while the test waits (a deadline or a score follow-up falling due) must
# not spend the nap before the test's wake.  A pass of its own after the arming
# sleeps in it just the same.
settle
check "the worker settles before the nap is armed: asleep, nothing due, no pass for 2 s" 0 "$?"
q "UPDATE nap_once SET armed = true" >/dev/null
q "SELECT workorder.wake_worker()" >/dev/null
took=$(wait_until 10 "SELECT count(*) = 1 FROM pg_stat_activity
                       WHERE application_name = 'workorder worker $db' AND wait_event = 'PgSleep'")
check "a woken worker sleeps in its pass, in the test's task" ok "$(within 10000 "$took")"
q "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
   VALUES ('hotline', 'W-1', '0301', '任务等待期间的报告', '122.05', '30.06')" >/dev/null
q "SELECT workorder.wake_worker()" >/dev/null
start=$(ms)
check "... and, woken again while it sleeps there, sleeps on, the row pending" "pending PgSleep" \
  "$(q "SELECT (SELECT state FROM workorder.inbox WHERE channel_ref = 'W-1') || ' ' ||
               (SELECT wait_event FROM pg_stat_activity WHERE application_name = 'workorder worker $db')")"
took=$(wait_until 15 "SELECT state = 'accepted' FROM workorder.inbox WHERE channel_ref = 'W-1'")
took=$(( $(ms) - start ))
echo "# the row woken for during the task's sleep was drained ${took} ms after the wake"
check "the wake it got in its pass makes the worker drain the row as soon as the pass ends, not in an hour" ok \
  "$(within 8000 "$took")"
q "DELETE FROM workorder.worker_tasks WHERE task = 'test_nap'" >/dev/null
# The order W-1 made wakes the worker again (a deadline within the hour, the
# score's follow-up): let those passes end before the next row comes.
settle
check "the worker settles again before the second row: asleep, nothing due, no pass for 2 s" 0 "$?"

# The second row stays pending: the worker sleeps for an hour.
q "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
   VALUES ('hotline', 'K-2', '0301', '井盖松动', '122.06', '30.06')" >/dev/null
sleep 0.5
check "a second row waits, pending" pending "$(q "SELECT state FROM workorder.inbox WHERE channel_ref = 'K-2'")"

# SIGKILL: the postmaster resets the cluster; a new worker must come and catch up.
kill -9 "$old_pid"
start=$(ms)
took=$(wait_until 20 "SELECT count(*) = 1 FROM pg_stat_activity
                       WHERE application_name = 'workorder worker $db' AND pid <> $old_pid")
echo "# a new worker was running $(( $(ms) - start )) ms after SIGKILL (crash recovery included)"
check "after SIGKILL a new worker runs within 15 s" ok "$(within 15000 "$took")"
grep -q "terminated by signal 9" "$cluster/server.log"
check "... the postmaster did reset the cluster (server.log)" 0 "$?"
new_pid=$(worker_pid)

took=$(wait_until 10 "SELECT state = 'accepted' FROM workorder.inbox WHERE channel_ref = 'K-2'")
echo "# the pending row was drained $(( $(ms) - start )) ms after SIGKILL"
check "the new worker catches up: the pending row is accepted, by the new worker" "ok $new_pid" \
  "$(within 10000 "$took") $(q "SELECT string_agg(l.pid::text, ',') FROM processed_log l JOIN workorder.inbox i ON i.id = l.inbox_id
                                 WHERE i.channel_ref = 'K-2'")"
check "nothing was done twice: each row left 'pending' once, those before the kill by the old worker" \
  "K-1:$old_pid K-2:$new_pid W-1:$old_pid" \
  "$(q "SELECT string_agg(i.channel_ref || ':' || l.pid, ' ' ORDER BY i.channel_ref)
          FROM processed_log l JOIN workorder.inbox i ON i.id = l.inbox_id")"
check "... and made one order each" "3 3 3" \
  "$(q "SELECT count(*) || ' ' || count(DISTINCT order_id) || ' ' || (SELECT count(*) FROM workorder.orders)
          FROM workorder.inbox WHERE state = 'accepted'")"

# SIGHUP reloads the worker's settings: switched off, it leaves a woken row alone;
# switched on again, it drains it; a shorter naptime replaces the hour it slept.
q "ALTER SYSTEM SET workorder.worker_enabled = off" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
took=$(wait_until 10 "SELECT state = 'disabled' FROM workorder.worker_status WHERE datname = current_database()")
check "after ALTER SYSTEM ... worker_enabled = off and a reload, the worker says it is disabled" ok "$(within 10000 "$took")"
q "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
   VALUES ('hotline', 'K-3', '0301', '停用期间的报告', '122.07', '30.07')" >/dev/null
q "SELECT workorder.wake_worker()" >/dev/null
sleep 1
check "... and a woken, disabled worker leaves a row pending" pending "$(q "SELECT state FROM workorder.inbox WHERE channel_ref = 'K-3'")"
q "ALTER SYSTEM SET workorder.worker_enabled = on" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "SELECT workorder.wake_worker()" >/dev/null
took=$(wait_until 10 "SELECT state = 'accepted' FROM workorder.inbox WHERE channel_ref = 'K-3'")
check "switched on again by a reload, it drains the row" ok "$(within 10000 "$took")"
q "ALTER SYSTEM SET workorder.worker_naptime = '1s'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "SELECT workorder.wake_worker()" >/dev/null
sleep 0.5
q "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
   VALUES ('hotline', 'K-4', '0301', '无人唤醒的报告', '122.08', '30.08')" >/dev/null
took=$(wait_until 10 "SELECT state = 'accepted' FROM workorder.inbox WHERE channel_ref = 'K-4'")
check "a naptime of 1 s set by a reload replaces the hour: an unwoken row is drained within 5 s" ok "$(within 5000 "$took")"

# K-1 and K-2 were reported before the SIGKILL: each must be accepted, one order each.
lost=$(q "SELECT 2 - count(DISTINCT order_id) FROM workorder.inbox WHERE channel_ref IN ('K-1', 'K-2') AND state = 'accepted'")
echo "# summary: worker crash: faults injected 1 (SIGKILL of the worker), reports 2, drained twice 0, lost ${lost:-unknown}"
[ "$failed" -eq 0 ]
