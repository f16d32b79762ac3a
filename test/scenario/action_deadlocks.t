#!/usr/bin/env bash
# action_deadlocks.t: actions that race on related orders wait for each other and
# never deadlock, and the worker's calendar task skips an order a dispatcher holds.
#
# 1. A master and a report merged into it.  One session resolves, reopens and
#    accepts the master, over and over (each action its own transaction: each
#    resolve and reopen writes an outbox message to the merged report); another
#    comments on the report, as fast.  The actions locked their order FOR UPDATE,
#    which also waits for the FOR KEY SHARE that foreign-key checks take on the
#    row: the master's messages check the report's row, the report's event and
#    update check its master's, and the two deadlocked (a review: 160 in 300).
# 2. Forty suspected duplicates of one master: one session confirms each
#    (review_duplicate), another merges each by hand, in the same order.  The
#    review locked the report, then merge() the master (of smaller id) and the
#    report, against merge()'s own id order (a review: 25 deadlocks in 86 pairs).
#    Each pair ends with one merge, and the other refused with WO401.
# 3. A session holds an order; a working day within its deadline becomes a holiday.  calendar_recompute
#    used to wait for that transaction, holding up every task of the worker; it
#    skips the order, keeps the change queued, and recomputes it once it is free.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder installed.  Prints
# TAP.  Its database is dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="action_deadlocks_$$"
work=$(mktemp -d /tmp/action_deadlocks.XXXXXX)
export PGOPTIONS="-c client_min_messages=warning"

cleanup() {
  jobs -p | xargs -r kill 2>/dev/null
  [ -n "${HOLDER_PID:-}" ] && kill "$HOLDER_PID" 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$here/tap.sh"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
# script FILE: runs FILE, one transaction per statement, going on after errors;
# its errors go to FILE.err.
script() { psql -X -q -At -d "$db" -f "$1" >/dev/null 2>"$1.err"; }
deadlocks() { grep -c "deadlock detected" "$@" | awk -F: '{n += $NF} END {print n + 0}'; }

fixture_database "$db" intake_map.sql &&
  q "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'action_deadlocks.t: the tasks are run by the test')"
check "a database with the extension and the intake map, its worker off" 0 $?

# 1. A master, accepted, and a report merged into it.
master=$(q "SELECT (workorder.accept((workorder.submit('hotline', 'AD-M', '0301', '北门路口摊贩占道', lon => 121.02, lat => 31.05)).id, 'x')).id")
report=$(q "SELECT (workorder.submit('hotline', 'AD-R', '0301', '北门路口有人摆摊', lon => 121.0201, lat => 31.05)).id")
q "SELECT workorder.merge($report, $master, 'C-990401')" >/dev/null
check "the fixture: a master accepted and a report merged into it" "accepted merged" \
  "$(q "SELECT string_agg(status::text, ' ' ORDER BY id) FROM workorder.orders WHERE id IN ($master, $report)")"
for _ in $(seq 1 60); do
  echo "SELECT workorder.resolve($master, 'x', '已处理');"
  echo "SELECT workorder.reopen($master, 'C-990401', '复发');"
  echo "SELECT workorder.accept($master, 'x');"
done >"$work/master.sql"
for _ in $(seq 1 180); do echo "SELECT workorder.comment($report, 'x', '协查');"; done >"$work/report.sql"
script "$work/master.sql" & a=$!
script "$work/report.sql" & b=$!
wait "$a" "$b"
check "acting on a master and on its merged report at once: no deadlock" "0" \
  "$(deadlocks "$work/master.sql.err" "$work/report.sql.err")"
check "... and no other error" "0 0" "$(grep -c ERROR "$work/master.sql.err") $(grep -c ERROR "$work/report.sql.err")"
check "... every action logged: 180 on the master beyond its first, 180 comments on the report" "180 180" \
  "$(q "SELECT count(*) FILTER (WHERE order_id = $master AND action IN ('resolve', 'reopen', 'accept') AND seq > 3) || ' ' ||
               count(*) FILTER (WHERE order_id = $report AND action = 'comment')
          FROM workorder.order_events WHERE order_id IN ($master, $report)")"
check "... and the log verifies" "0" "$(q "SELECT count(*) FROM workorder.verify_log()")"

# 2. Forty suspected duplicates of one master (every score at least the review
# threshold and below the merge threshold).
q "UPDATE workorder.settings SET value = 'on' WHERE name = 'dedup_enabled';
   INSERT INTO workorder.settings (name, value, description) VALUES ('dedup_merge_threshold', '0.99', 'action_deadlocks.t'),
          ('dedup_review_threshold', '0.05', 'action_deadlocks.t')" >/dev/null
suspected_master=$(q "SELECT (workorder.submit('hotline', 'AD-SM', '0301', '东门路口井盖缺失', lon => 121.06, lat => 31.06)).id")
q "SELECT count(workorder.submit('hotline', 'AD-S' || i, '0301', '东门路口井盖没了 ' || i, lon => 121.06, lat => 31.06)) FROM generate_series(1, 40) i" >/dev/null
suspects=$(q "SELECT string_agg(c.order_id::text, ' ' ORDER BY c.order_id) FROM workorder.dedup_checks c
               WHERE c.decision = 'review' AND c.master_id = $suspected_master")
check "the fixture: 40 reports wait for review as duplicates of one master" "40" "$(echo "$suspects" | wc -w)"
# Each pair starts together: two connections, each waiting for the other at a
# barrier (an advisory lock the test holds), then acting.
: >"$work/review.sql.err"; : >"$work/merge.sql.err"
coproc BARRIER { psql -X -q -At -d "$db" 2>&1; }
for s in $suspects; do
  session_run "${BARRIER[0]}" "${BARRIER[1]}" "SELECT pg_advisory_lock(4711);" >/dev/null
  psql -X -q -At -d "$db" -c "SELECT pg_advisory_lock_shared(4711)" \
       -c "SELECT workorder.review_duplicate($s, 'C-990401', 'confirm')" >/dev/null 2>>"$work/review.sql.err" & a=$!
  psql -X -q -At -d "$db" -c "SELECT pg_advisory_lock_shared(4711)" \
       -c "SELECT workorder.merge($s, $suspected_master, 'C-990401')" >/dev/null 2>>"$work/merge.sql.err" & b=$!
  for _ in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4711 AND NOT granted")" = 2 ] && break
    sleep 0.02
  done
  session_run "${BARRIER[0]}" "${BARRIER[1]}" "SELECT pg_advisory_unlock(4711);" >/dev/null
  wait "$a" "$b"
done
barrier_pid=$BARRIER_PID
exec {BARRIER[1]}>&-
wait "$barrier_pid" 2>/dev/null
check "confirming suspected duplicates while a dispatcher merges them by hand: no deadlock" "0" \
  "$(deadlocks "$work/review.sql.err" "$work/merge.sql.err")"
check "... every report merged once into the master, which counts them all" "40 41" \
  "$(q "SELECT count(*) FILTER (WHERE status = 'merged' AND master_id = $suspected_master) || ' ' ||
               (SELECT report_count FROM workorder.orders WHERE id = $suspected_master)
          FROM workorder.orders WHERE id IN ($(echo "$suspects" | tr ' ' ','))")"
check "... each pair's loser refused as no longer new or already merged (WO401), no other error" "40 40" \
  "$(cat "$work/review.sql.err" "$work/merge.sql.err" | grep ERROR | grep -c "is merged: \(review_duplicate\|merge\) is not allowed") $(q "SELECT count(*) FROM workorder.order_events WHERE order_id IN ($(echo "$suspects" | tr ' ' ',')) AND action = 'merge'")"

# 3. calendar_recompute and an order held by a dispatcher's open transaction.
held=$(q "SELECT (workorder.submit('hotline', 'AD-H', '0301', '西门路口乱堆物', lon => 121.03, lat => 31.12)).id")
coproc HOLDER { psql -X -q -At -d "$db" 2>&1; }
holder() { session_run "${HOLDER[0]}" "${HOLDER[1]}" "$1"; }
check "another session holds an open order" "$held" \
  "$(holder "BEGIN; SELECT id FROM workorder.comment($held, 'x', '正在核实');")"
q "DELETE FROM workorder.calendar_changes;
   SELECT workorder.load_calendar_days('cn', jsonb_build_array(jsonb_build_object('day', min(d)::date, 'kind', 'holiday', 'name', 'test')))
     FROM generate_series((now() AT TIME ZONE 'Asia/Shanghai')::date + 1, (now() AT TIME ZONE 'Asia/Shanghai')::date + 10, interval '1 day') d
    WHERE extract(isodow FROM d) < 6
      AND NOT EXISTS (SELECT FROM workorder.calendar_days c WHERE c.calendar_code = 'cn' AND c.day = d::date)" >/dev/null
check "calendar_recompute skips the held order at once, keeps the change queued, and asks to run again in a second" "true true 1" \
  "$(psql -X -q -At -d "$db" -c "SET statement_timeout = '5s'" \
       -c "SELECT (r.next_due <= clock_timestamp() + interval '2 seconds') || ' ' || (r.detail LIKE '%stay queued%') || ' '
                  || (SELECT count(*) FROM workorder.calendar_changes)
             FROM workorder.task_calendar_recompute() r" 2>&1)"
holder "COMMIT;" >/dev/null
q "SELECT * FROM workorder.task_calendar_recompute()" >/dev/null
check "once the order is free, the change is applied and dequeued" "0 1" \
  "$(q "SELECT count(*) FROM workorder.calendar_changes") $(q "SELECT count(*) FROM workorder.order_events WHERE order_id = $held AND action = 'deadline_recomputed'")"

echo "1..$n"
[ "$failed" -eq 0 ]
