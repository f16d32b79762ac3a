#!/usr/bin/env bash
# locked_due.t: an order that is due for the deadline check or an escalation step
# but locked by a transaction still open is skipped (SKIP LOCKED), and the task
# asks to run again in a second, not at once.  It used to report the skipped
# order's past due time as its next run, and the worker, which sleeps until the
# earliest next run (at least 10 ms), ran a pass of every task a hundred times a
# second for as long as the lock was held (a review measured 341 passes in 5 s).
#
# A session holds an overdue order's row (as a dispatcher's open transaction
# would); task_deadline_check() and task_escalate() then skip it and name a next
# run at least half a second ahead; once the row is free, one pass marks it.  The
# same for task_outbox_expire() and an outbox message whose lease ran out, which
# it also used to wait for; for task_score_update() and the scores' progress row,
# and task_detect_hotspots() and detect_hotspots()'s lock.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder installed.  Prints
# TAP.  Its database is dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="locked_due_$$"
export PGOPTIONS="-c client_min_messages=warning"

cleanup() {
  [ -n "${HOLDER_PID:-}" ] && kill "$HOLDER_PID" 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT

. "$here/tap.sh"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

fixture_database "$db" intake_map.sql
check "a database with the extension and the intake map" 0 $?

# An order whose deadlines pass within two seconds (the worker is kept off it:
# worker_enabled is off here, the test runs the tasks).
order=$(q "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'locked_due.t');
           INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
           VALUES ('gone', 'calendar_hours', '1 second', 'calendar_hours', '2 seconds');
           INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES ('gone', 1, '0', 'remind');
           INSERT INTO workorder.sla_priority_policies VALUES ('high', 'gone');
           SELECT (workorder.submit('hotline', 'LD-1', '0301', '摊贩', lon => 121.02, lat => 31.05, priority => 'high')).id;")
q "SELECT pg_sleep(2.2)" >/dev/null
check "the order is due for the deadline check" "t" \
  "$(q "SELECT next_check_at <= clock_timestamp() FROM workorder.orders WHERE id = $order")"

coproc HOLDER { psql -X -q -At -d "$db" 2>&1; }
holder() { session_run "${HOLDER[0]}" "${HOLDER[1]}" "$1"; }
check "another session holds the order's row" "$order" \
  "$(holder "BEGIN; SELECT id FROM workorder.orders WHERE id = $order FOR UPDATE;")"

check "the deadline check skips the locked order and asks to run again later, not at once" "0 true" \
  "$(q "SELECT rows || ' ' || (next_due >= clock_timestamp() + interval '0.5 seconds') FROM workorder.task_deadline_check()")"
check "so does the escalation task, for an order due for a step" "0 true" \
  "$(q "SELECT rows || ' ' || (next_due >= clock_timestamp() + interval '0.5 seconds')
          FROM workorder.task_escalate((SELECT next_escalation_at FROM workorder.orders WHERE id = $order) + interval '1 day')")"

holder "ROLLBACK;" >/dev/null
check "once the row is free, one pass marks the order accept overdue and overdue" "2" \
  "$(q "SELECT rows FROM workorder.task_deadline_check()")"

# The outbox: a message whose lease ran out, locked by a transaction still open (a
# connector's).  Giving leases back used to wait for that transaction, and held up
# the worker's every task meanwhile.
message=$(q "SELECT id FROM workorder.claim_outbox('hotline', 1, '1 second', 'A')")
q "SELECT pg_sleep(1.2)" >/dev/null
check "another session holds the message whose lease ran out" "$message" \
  "$(holder "BEGIN; SELECT id FROM workorder.outbox WHERE id = $message FOR UPDATE;")"
check "giving back run-out leases skips it at once, and asks to run again later, not at once" "0 true" \
  "$(psql -X -q -At -d "$db" -c "SET statement_timeout = '5s'" \
       -c "SELECT rows || ' ' || (next_due >= clock_timestamp() + interval '0.5 seconds') FROM workorder.task_outbox_expire()" 2>&1)"
holder "ROLLBACK;" >/dev/null
check "once the message is free, it is given back" "1 pending" \
  "$(q "SELECT rows FROM workorder.task_outbox_expire()") $(q "SELECT state FROM workorder.outbox WHERE id = $message")"

# The scores and the hotspots: a task whose lock another transaction holds (an
# admin's recompute_scores() or detect_hotspots() left open) used to wait for it,
# and every task after it in the pass waited too.  Now it is skipped, and due again
# later.
q "INSERT INTO workorder.score_progress DEFAULT VALUES ON CONFLICT DO NOTHING" >/dev/null
check "another session holds the scores' progress row" "t" \
  "$(holder "BEGIN; SELECT singleton FROM workorder.score_progress FOR UPDATE;")"
check "score_update skips at once, and asks to run again later, not at once" "0 true" \
  "$(psql -X -q -At -d "$db" -c "SET statement_timeout = '5s'" \
       -c "SELECT rows || ' ' || (next_due >= clock_timestamp() + interval '0.5 seconds') FROM workorder.task_score_update()" 2>&1)"
holder "ROLLBACK;" >/dev/null
q "SELECT workorder.task_score_update()" >/dev/null   # (its first pass takes a mark: see part 94)
# The mark is final only once no transaction of the cluster (any database's: a
# worker's, an autovacuum's) older than it is still running: ask again until it
# counts the events (30 s at most).
counted=f
for i in $(seq 1 300); do
  counted=$(q "SELECT rows > 0 FROM workorder.task_score_update()")
  [ "$counted" = t ] && break
  sleep 0.1
done
[ "$i" -gt 1 ] && echo "# score_update asked $i times after the mark; it counted the events: $counted"
check "once the row is free, it counts the events" "t" "$counted"
q "INSERT INTO workorder.hotspot_policies (category_code, min_count) VALUES ('CITY', 3)" >/dev/null
check "another session runs detect_hotspots()" "1" \
  "$(holder "BEGIN; SELECT count(*) FROM (SELECT workorder.lock_xact('workorder.detect_hotspots')) x;")"
check "the hotspot task skips at once, records no run, and asks to run again later" "true 0" \
  "$(psql -X -q -At -d "$db" -c "SET statement_timeout = '5s'" \
       -c "SELECT (next_due >= clock_timestamp() + interval '30 seconds') || ' ' || (SELECT count(*) FROM workorder.hotspot_runs)
             FROM workorder.task_detect_hotspots()" 2>&1)"
holder "ROLLBACK;" >/dev/null
q "SELECT workorder.task_detect_hotspots()" >/dev/null
check "once the lock is free, it runs" "1" "$(q "SELECT count(*) FROM workorder.hotspot_runs")"

# The same for the detection ingest: a run by hand left open held the task on its
# lock timeout, which it then failed, on every pass.
check "another session runs ingest_detections()" "1" \
  "$(holder "BEGIN; SELECT count(*) FROM workorder.ingest_detections(10);")"
check "the ingest task skips at once and asks to run again later" "true skipped: ingest_detections() is running in another transaction" \
  "$(psql -X -q -At -d "$db" -c "SET statement_timeout = '5s'" \
       -c "SELECT (next_due >= clock_timestamp() + interval '30 seconds') || ' ' || detail
             FROM workorder.task_ingest_detections()" 2>&1)"
holder "ROLLBACK;" >/dev/null
check "once the lock is free, it runs" "0 detections ingested, 0 rejected, 0 orders raised" \
  "$(q "SELECT detail FROM workorder.task_ingest_detections()")"

echo "1..$n"
[ "$failed" -eq 0 ]
