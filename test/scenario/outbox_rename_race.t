#!/usr/bin/env bash
# outbox_rename_race.t: a channel renamed while a master's resolve is still open
# does not strand the message to a report merged into it under the old code.
#
# A merged report hears its master's result through its own channel; the message
# takes the channel from the report's row.  A rename cascades the new code to the
# reports and re-addresses the messages it sees.  The master's action read the
# report's row without waiting for a rename in flight: its INSERT read the old code,
# then its foreign-key check waited for the rename, which committed without seeing
# the message; the message stayed under the old code, where no claim ever found
# it, and the report's later messages queued behind it for good.  Now the action
# locks the merged reports (FOR KEY SHARE) before it addresses their messages: it
# waits for the rename, and then reads the new code.
#
# Session 1 renames the report's channel and keeps its transaction open; session 2
# resolves the master (it waits for the report's row); session 1 commits.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# test/fixtures/issue6_map.sql.  Prints TAP.  The scratch database is dropped
# however it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_outbox_rename_$$"
work=$(mktemp -d /tmp/workorder-outbox-rename.XXXXXX)

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

echo "1..4"

fixture_database "$db" issue6_map.sql 2>/dev/null &&
  q "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'outbox_rename_race.t')" >/dev/null
check "setup: extension and the issue 6 map, the worker off" 0 "$?"
# The master on the hotline, a report of the same event through Open311, merged by
# hand (this map turns dedup off); the master accepted, ready to be resolved.
master=$(q "SELECT id FROM workorder.submit('hotline', 'RN-M', '0305', '楼下噪音', lon => 115.05, lat => 24.05)")
report=$(q "SELECT id FROM workorder.submit('open311', 'RN-R', 'CITY_NOISE', '噪音扰民', lon => 115.05, lat => 24.05)")
unit=$(q "SELECT main_unit FROM workorder.orders WHERE id = $master")
q "SELECT (workorder.merge($report, $master, 'C-990801', '同一事件')).status" >/dev/null
q "SELECT (workorder.accept($master, '$unit')).status" >/dev/null

coproc FIRST { psql -X -q -At -d "$db" 2>&1; }
first() { session_run "${FIRST[0]}" "${FIRST[1]}" "$1"; }
first "BEGIN; UPDATE workorder.channels SET code = 'open311b' WHERE code = 'open311';" >/dev/null

psql -X -q -At -d "$db" -c "SELECT (workorder.resolve($master, '$unit', '已处理')).status" >"$work/resolve.out" 2>&1 &
resolver=$!
check "the master's resolve waits for the rename, which holds the merged report" yes "$(lock_waiters "$db" 1)"
first "COMMIT;" >/dev/null
wait "$resolver"
check "the resolve is done" resolved "$(head -n 1 "$work/resolve.out")"
check "the report's message of the resolve is under the new code, where a claim finds it" "open311b" \
  "$(q "SELECT string_agg(m.channel_code, ',') FROM workorder.outbox m
         WHERE m.order_id = $report AND m.kind = 'resolve'")"
[ "$failed" -eq 0 ]
