#!/usr/bin/env bash
# unmerge_race.t: unmerge() and merge() of the same order at once wait for each
# other and do not deadlock.
#
# unmerge() reads the order's master, then locks the order and that master in id
# order.  When a merge committed in between, the order had a master it had not
# locked, and it locked that master after the order, out of id order: a merge of
# the same pair waiting behind it held the master and wanted the order, and one of
# them died of a deadlock (40P01).  Now unmerge() gives the locks back and takes
# them again in order.
#
# The interleaving is made, not waited for: session 1 merges the order into its
# master and keeps its transaction open; session 2 unmerges the order (it waits for
# the order's row); session 3 merges it again (it waits for the master's row);
# session 1 commits.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# test/fixtures/intake_map.sql.  Prints TAP.  The scratch database is dropped however
# it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_unmerge_race_$$"
work=$(mktemp -d /tmp/workorder-unmerge-race.XXXXXX)

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  [ -n "${FIRST_PID:-}" ] && kill "$FIRST_PID" 2>/dev/null
  jobs -p | xargs -r kill 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..5"

fixture_database "$db" intake_map.sql 2>/dev/null &&
  q "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'unmerge_race.t')" >/dev/null
check "setup: extension and the intake map, the worker off" 0 "$?"
master=$(q "SELECT id FROM workorder.submit('hotline', 'UM-M', '0301', '北门有人卖菜', lon => 121.15, lat => 31.15)")
order=$(q "SELECT id FROM workorder.submit('hotline', 'UM-O', '0301', '文华路口有人占道经营', lon => 121.01, lat => 31.01)")

coproc FIRST { psql -X -q -At -d "$db" 2>&1; }
first() { session_run "${FIRST[0]}" "${FIRST[1]}" "$1"; }
first "BEGIN; SELECT (workorder.merge($order, $master, 'C-990401', '同一事件')).status;" >/dev/null

psql -X -q -At -d "$db" -v VERBOSITY=verbose -c "SELECT (workorder.unmerge($order, 'C-990401', '不是同一事件')).status" >"$work/unmerge.out" 2>&1 &
unmerger=$!
w1=$(lock_waiters "$db" 1)
psql -X -q -At -d "$db" -v VERBOSITY=verbose -c "SELECT (workorder.merge($order, $master, 'C-990401', '再并')).status" >"$work/merge.out" 2>&1 &
merger=$!
w2=$(lock_waiters "$db" 2)
check "the unmerge and the second merge both wait for the first merge" "yes yes" "$w1 $w2"
first "COMMIT;" >/dev/null
wait "$unmerger"
wait "$merger"
head -n 2 "$work/unmerge.out" | sed 's/^/# unmerge: /'
head -n 2 "$work/merge.out" | sed 's/^/# merge: /'
check "neither dies of a deadlock" 0 "$(cat "$work/unmerge.out" "$work/merge.out" | grep -c '40P01')"
check "the unmerge, which came first, is done: the order is new again" new "$(head -n 1 "$work/unmerge.out")"
check "the master counts what is merged into it" \
  "$(q "SELECT 1 + count(*) FROM workorder.orders WHERE master_id = $master")" \
  "$(q "SELECT report_count FROM workorder.orders WHERE id = $master")"
[ "$failed" -eq 0 ]
