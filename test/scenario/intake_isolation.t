#!/usr/bin/env bash
# intake_isolation.t: intake runs under READ COMMITTED, and refuses the other levels.
#
# dedup_decide() waits for a concurrent report of the same place to commit and then
# searches; under REPEATABLE READ or SERIALIZABLE its search used the snapshot taken
# before the wait, missed that report, and one event got two masters: two drains of
# one event's reports, each in a REPEATABLE READ transaction, made two orders.  Now
# submit() and drain_inbox() refuse such a transaction (WO307) before they write or
# claim anything; under READ COMMITTED the same two drains (the second's report
# tried again once the first committed) make one master and one
# merged report.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# data/demo.sql.  Prints TAP.  The scratch database is dropped however it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_isolation_$$"
work=$(mktemp -d /tmp/workorder-isolation.XXXXXX)

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
# state SQL: the SQLSTATE SQL ends with ('00000' when it succeeds), in a fresh session.
state() {
  local out
  out=$(psql -X -q -At -d "$db" -v VERBOSITY=verbose -c "$1" 2>&1 | sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\):.*/\1/p' | head -n 1)
  echo "${out:-00000}"
}

cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..8"

demo_database "$db" "$work/setup.err"
check "setup: extension and demo map" "0" "$?"
# The worker must not drain the rows the test drains itself.
q "INSERT INTO workorder.settings VALUES ('worker_enabled', 'off', 'intake_isolation.t drains by hand')
     ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value" >/dev/null

report="'0401', '桂城街道南海大道北 路边井盖缺失，车辆经过很危险'"
check "submit() in a REPEATABLE READ transaction is refused with WO307" WO307 \
  "$(state "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT workorder.submit('hotline_12345', 'ISO-RR', $report, lon => 113.15, lat => 23.03); COMMIT;")"
check "... and in a SERIALIZABLE one" WO307 \
  "$(state "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT workorder.submit('hotline_12345', 'ISO-SER', $report, lon => 113.15, lat => 23.03); COMMIT;")"
check "... and nothing was written" 0 "$(q "SELECT count(*) FROM workorder.orders WHERE channel_ref LIKE 'ISO-%'")"

q "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
   VALUES ('hotline_12345', 'ISO-INBOX-1', '0401', '桂城街道南海大道北 路边井盖缺失，车辆经过很危险', '113.15', '23.03')" >/dev/null
check "drain_inbox() in a REPEATABLE READ transaction is refused with WO307" WO307 \
  "$(state "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT * FROM workorder.drain_inbox(); COMMIT;")"
check "... before it claims a row: the row is pending, never tried" "pending 0" \
  "$(q "SELECT state || ' ' || attempts FROM workorder.inbox WHERE channel_ref = 'ISO-INBOX-1'")"
check "under READ COMMITTED the same drain makes the order" "1 0" \
  "$(q "SELECT accepted || ' ' || rejected FROM workorder.drain_inbox()")"

# Two drains of one event's reports at once, the second's report in the first's
# cells: one master and one merged report (with REPEATABLE READ they were two
# masters).  The first holds its transaction open for 2 s; the second's row waits
# for its lock a tenth of drain_time_budget, stays pending (55P03), and the next
# drain, once the first committed, finds its order and merges into it.
q "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
   VALUES ('hotline_12345', 'ISO-A', '0401', '南海大道北88号门口井盖缺失', '113.2', '23.05')" >/dev/null
psql -X -q -At -d "$db" -c "BEGIN; SELECT * FROM workorder.drain_inbox(); SELECT pg_sleep(2); COMMIT;" >"$work/a.out" 2>&1 &
first=$!
sleep 0.5
q "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
   VALUES ('hotline_12345', 'ISO-B', '0401', '南海大道北88号门口井盖缺失', '113.20001', '23.05')" >/dev/null
q "SELECT * FROM workorder.drain_inbox()" >"$work/b.out" 2>&1
wait "$first"
q "UPDATE workorder.inbox SET retry_at = clock_timestamp() WHERE channel_ref = 'ISO-B' AND state = 'pending'" >/dev/null
q "SELECT * FROM workorder.drain_inbox()" >>"$work/b.out" 2>&1
check "two drains of one event at once, under READ COMMITTED: one master and one merged report" "1 1" \
  "$(q "SELECT count(*) FILTER (WHERE o.status <> 'merged') || ' ' || count(*) FILTER (WHERE o.status = 'merged')
          FROM workorder.orders o WHERE o.channel_ref IN ('ISO-A', 'ISO-B')")"
[ "$failed" -eq 0 ]
