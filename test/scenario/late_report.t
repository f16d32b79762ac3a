#!/usr/bin/env bash
# late_report.t: a report of a resolved master is late only when it came after the
# master's last resolve.
#
# A late report, under late_policy reopen, reopens its resolved master: the unit's
# fix did not hold.  A report received before the resolve (it waited in the inbox
# while the unit resolved the master, or was flagged for review while the master was
# open and confirmed after) is answered by that resolve: it is linked, and the master
# stays resolved.  Both reopened it, a redo for the problem the unit had just fixed.
# Each step is a transaction of its own (a report cannot come after a resolve in
# the same transaction, so sql/dedup.sql and test/dedup_test.sql see only the
# early kind).
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# test/fixtures/dedup_map.sql.  Prints TAP.  The scratch database is dropped however
# it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_late_report_$$"

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  [ -n "${RESOLVER_PID:-}" ] && kill "$RESOLVER_PID" 2>/dev/null
  jobs -p | xargs -r kill 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..10"

fixture_database "$db" dedup_map.sql 2>/dev/null &&
  q "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'late_report.t: the test drains')" >/dev/null &&
  q "INSERT INTO workorder.dedup_rules (category_code, late_policy) VALUES ('ROAD_MANHOLE', 'reopen')" >/dev/null
check "setup: extension and the dedup map, late_policy reopen for manholes" 0 "$?"

# resolved_master REF: a manhole report, accepted and resolved, each its own transaction.
resolved_master() {
  local id
  id=$(q "SELECT id FROM workorder.submit('hotline', '$1', '0401', '文华路3号门口的井盖不见了，晚上很危险',
                                           lon => 117.05, lat => 26.05, address => '文华路3号')")
  q "SELECT workorder.accept($id, 'B-roads-990901001')" >/dev/null
  q "SELECT workorder.resolve($id, 'B-roads-990901001', '已更换新井盖')" >/dev/null
  echo "$id"
}

# 1. A report after the resolve reopens the master.
m1=$(resolved_master L-M1)
r1=$(q "SELECT status FROM workorder.submit('hotline', 'L-R1', '0401', '文华路3号的井盖又没了', lon => 117.05, lat => 26.0501,
                                           address => '文华路3号')")
check "a report after the resolve is late: it reopens the master (a redo) and is merged into it" "merged dispatched 1" \
  "$r1 $(q "SELECT status || ' ' || redo_count FROM workorder.orders WHERE id = $m1")"
check "... and the reopen's reason, which every merged report hears, names no other report" \
  "a new report after resolution" \
  "$(q "SELECT note FROM workorder.order_events WHERE order_id = $m1 AND action = 'reopen'")"

# 2. An inbox row received before the resolve, drained after it, is linked.
m2=$(q "SELECT id FROM workorder.submit('hotline', 'L-M2', '0401', '人民路8号门口的井盖不见了，晚上很危险',
                                        lon => 117.06, lat => 26.06, address => '人民路8号')")
q "SELECT workorder.accept($m2, 'B-roads-990901001')" >/dev/null
q "INSERT INTO workorder.inbox (channel, channel_ref, category, description, address, lon, lat)
   VALUES ('hotline', 'L-R2', '0401', '人民路8号的井盖没了', '人民路8号', '117.06', '26.0601')" >/dev/null
q "SELECT workorder.resolve($m2, 'B-roads-990901001', '已更换新井盖')" >/dev/null
q "SELECT * FROM workorder.drain_inbox(10)" >/dev/null
check "a report received before the resolve and drained after it is linked: the master stays resolved, no redo" \
  "merged resolved 0 link" \
  "$(q "SELECT r.status || ' ' || m.status || ' ' || m.redo_count || ' ' || c.decision
          FROM workorder.orders r JOIN workorder.orders m ON m.id = r.master_id
          JOIN workorder.dedup_checks c ON c.order_id = r.id WHERE r.channel_ref = 'L-R2'")"
check "... and its channel hears the master's result with its merge" "已更换新井盖" \
  "$(q "SELECT m.payload ->> 'result' FROM workorder.outbox m WHERE m.channel_ref = 'L-R2' AND m.kind = 'merge'")"

# 3. Review: a report flagged while the master was open and confirmed after its
# resolve is linked; one flagged after the resolve reopens it.
m3=$(q "SELECT id FROM workorder.submit('hotline', 'L-M3', '0401', '您好，和平路5号门口的井盖不见了，晚上很危险，麻烦尽快处理',
                                        lon => 117.07, lat => 26.07, address => '和平路5号')")
q "SELECT workorder.accept($m3, 'B-roads-990901001')" >/dev/null
early=$(q "SELECT id FROM workorder.submit('hotline', 'L-R3', '0401', '和平路5号对面人行道的井盖破损下陷',
                                           lon => 117.0703, lat => 26.0702, address => '和平路5号对面')")
q "SELECT workorder.resolve($m3, 'B-roads-990901001', '已更换新井盖')" >/dev/null
late=$(q "SELECT id FROM workorder.submit('hotline', 'L-R4', '0401', '和平路5号对面人行道的井盖又破损下陷了',
                                          lon => 117.0703, lat => 26.0702, address => '和平路5号对面')")
check "the fixture: both reports are held for review" "new new" \
  "$(q "SELECT string_agg(status::text, ' ' ORDER BY id) FROM workorder.orders WHERE id IN ($early, $late)")"
q "SELECT workorder.review_duplicate($early, 'C-990901', 'confirm', $m3)" >/dev/null
check "confirmed after the resolve, the report from before it is linked: the master stays resolved, no redo" \
  "resolved 0" "$(q "SELECT status || ' ' || redo_count FROM workorder.orders WHERE id = $m3")"
q "SELECT workorder.review_duplicate($late, 'C-990901', 'confirm', $m3)" >/dev/null
check "... and the report from after it reopens the master" \
  "dispatched 1" "$(q "SELECT status || ' ' || redo_count FROM workorder.orders WHERE id = $m3")"
# 4. The resolve commits while intake waits for the master's row: the report, from
# before it, is still linked.  (The last resolve was read in the locking statement,
# whose snapshot did not see that resolve, and the report reopened the master.)
m4=$(q "SELECT id FROM workorder.submit('hotline', 'L-M4', '0401', '建设路2号门口的井盖不见了，晚上很危险',
                                        lon => 117.08, lat => 26.08, address => '建设路2号')")
q "SELECT workorder.accept($m4, 'B-roads-990901001')" >/dev/null
q "INSERT INTO workorder.inbox (channel, channel_ref, category, description, address, lon, lat)
   VALUES ('hotline', 'L-R5', '0401', '建设路2号的井盖没了', '建设路2号', '117.08', '26.0801')" >/dev/null
coproc RESOLVER { psql -X -q -At -d "$db" 2>&1; }
resolver() { session_run "${RESOLVER[0]}" "${RESOLVER[1]}" "$1"; }
resolver "BEGIN; SELECT (workorder.resolve($m4, 'B-roads-990901001', '已更换新井盖')).status;" >/dev/null
psql -X -q -At -d "$db" -c "SELECT * FROM workorder.drain_inbox(10)" >/dev/null 2>&1 &
drainer=$!
check "the fixture: the drain waits for the master's row while its resolve is open" yes "$(lock_waiters "$db" 1)"
resolver "COMMIT;" >/dev/null
wait "$drainer"
check "a report from before a resolve that committed while intake waited is linked: the master stays resolved" \
  "merged resolved 0 link" \
  "$(q "SELECT r.status || ' ' || m.status || ' ' || m.redo_count || ' ' || c.decision
          FROM workorder.orders r JOIN workorder.orders m ON m.id = r.master_id
          JOIN workorder.dedup_checks c ON c.order_id = r.id WHERE r.channel_ref = 'L-R5'")"
[ "$failed" -eq 0 ]
