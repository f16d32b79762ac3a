#!/usr/bin/env bash
# dedup_master_race.t: a duplicate's master changes between dedup's search and
# the merge, and intake settles on what the master is when it gets it.
#
# dedup_decide() searches without locking the candidates: the neighbourhood's
# locks keep other reports out, not a dispatcher.  submit() then locks the
# master before it makes the order.  Here a second session holds the master's
# row while a duplicate is submitted; the submit waits for it; the session
# cancels (or resolves) the master and commits; the submit goes on.
#   - master cancelled meanwhile: the report is not merged.  It stays new, for a
#     dispatcher, with the reason; the dedup check records decision new and the
#     master it could not merge into; its one event is the submit.
#   - master resolved meanwhile: the late-report policy applies (link, the
#     default): the report is merged into the resolved master, which stays
#     resolved, and the check records link.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# data/demo.sql.  Prints TAP.  The scratch database is dropped however it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_dedup_race_$$"
work=$(mktemp -d /tmp/workorder-dedup-race.XXXXXX)

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  exec 3>&- 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..13"

demo_database "$db" "$work/setup.err"
check "setup: extension and demo map" "0" "$?"

report() { # report REF LON: a missing manhole cover on Nanhai Avenue, by the hotline
  q "SELECT id FROM workorder.submit('hotline_12345', '$1', '0401', '桂城街道南海大道北 路边井盖缺失，车辆经过很危险',
                                     lon => $2, lat => 23.03, address => '南海区桂城街道南海大道北88号')"
}

# race CASE LON ACTION: the master is reported (the duplicate a metre east); a session locks its row; a
# duplicate is submitted in the background and waits; the session runs ACTION
# (SQL on :m, the master's id) and commits.  Sets master and dup.
race() {
  local case=$1 lon=$2 action=$3
  master=$(report "race-$case-master" "$lon")
  # The holding session: psql reading a pipe, so that the test decides when it commits.
  mkfifo "$work/hold.$case"
  psql -X -q -At -v ON_ERROR_STOP=1 -v m="$master" -d "$db" <"$work/hold.$case" >"$work/hold.$case.out" 2>&1 &
  local hold_pid=$!
  exec 3>"$work/hold.$case"
  echo "BEGIN; SELECT id FROM workorder.orders WHERE id = :m FOR UPDATE;" >&3
  # The duplicate, once the row is held.
  for _ in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
               AND state = 'idle in transaction' AND query LIKE '%FOR UPDATE%'")" -ge 1 ] && break
    sleep 0.1
  done
  (report "race-$case-dup" "${lon}01" >"$work/dup.$case.out" 2>&1; echo $? >"$work/dup.$case.rc") &
  local dup_pid=$!
  # It waits for the row (a transaction lock it does not get).
  waited=0
  for _ in $(seq 1 100); do
    if [ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted")" -ge 1 ]; then
      waited=1
      break
    fi
    sleep 0.1
  done
  echo "$action" >&3
  echo "COMMIT;" >&3
  exec 3>&-
  wait "$hold_pid"
  wait "$dup_pid"
  dup=$(q "SELECT id FROM workorder.orders WHERE channel_ref = 'race-$case-dup'")
}

# 1. Cancelled meanwhile.
race cancel 113.1500 "SELECT workorder.cancel(:m, 'system', '测试：重复受理');"
check "cancel: the duplicate's submit waited for the master's row" "1" "$waited"
check "cancel: the submit did not fail" "0" "$(cat "$work/dup.cancel.rc")"
check "cancel: the holding session cancelled the master" "cancelled" \
  "$(q "SELECT status FROM workorder.orders WHERE id = $master")"
check "cancel: the report stays new, with the reason" \
  "new|duplicate of $(q "SELECT ticket FROM workorder.orders WHERE id = $master"), which became cancelled before the merge: a dispatcher must dispatch it" \
  "$(q "SELECT status || '|' || status_reason FROM workorder.orders WHERE id = ${dup:-0} AND master_id IS NULL")"
check "cancel: the check records decision new, and the master it could not merge into" "new|$master" \
  "$(q "SELECT decision || '|' || master_id FROM workorder.dedup_checks WHERE order_id = ${dup:-0}")"
check "cancel: its one event is the submit, with the reason" "1|submit|true|1" \
  "$(q "SELECT count(*) || '|' || min(e.action) || '|' || bool_and(e.note = o.status_reason) || '|' || min(o.event_count)
          FROM workorder.order_events e JOIN workorder.orders o ON o.id = e.order_id WHERE o.id = ${dup:-0}")"
check "cancel: the master counts no report more" "1" \
  "$(q "SELECT report_count FROM workorder.orders WHERE id = $master")"

# 2. Resolved meanwhile: the default late policy links the report to it.
race resolve 113.1600 "SELECT workorder.accept(:m, 'system'); SELECT workorder.resolve(:m, 'system', '已更换井盖');"
check "resolve: the duplicate's submit waited for the master's row" "1" "$waited"
check "resolve: the submit did not fail" "0" "$(cat "$work/dup.resolve.rc")"
check "resolve: the report is merged into the resolved master" "merged|$master" \
  "$(q "SELECT status || '|' || master_id FROM workorder.orders WHERE id = ${dup:-0}")"
check "resolve: the check records link" "link" \
  "$(q "SELECT decision FROM workorder.dedup_checks WHERE order_id = ${dup:-0}")"
check "resolve: the master stays resolved and counts two reports, with its merged_in event" "resolved|2|merged_in" \
  "$(q "SELECT o.status || '|' || o.report_count || '|' || e.action FROM workorder.orders o
          JOIN workorder.order_events e ON e.order_id = o.id AND e.seq = o.event_count WHERE o.id = $master")"

[ "$failed" -eq 0 ] || {
  echo "# setup: $(head -c 2000 "$work/setup.err")"
  for f in "$work"/*.out; do echo "# $f:"; sed 's/^/#   /' "$f" | head -n 5; done
}
exit 0
