#!/usr/bin/env bash
# calendar_change_race.t: a calendar change that commits while an order is being
# made still reaches that order's deadlines.
#
# The recompute (task calendar_recompute, part 93) chooses the orders whose
# deadlines a change touches among those it can see.  An order whose transaction
# was still open when the change committed had its deadlines counted on the
# calendar as it was, and was not yet visible: the change was consumed without it,
# and the order kept its old deadline for good (a submit() open while next year's
# holiday plan was loaded kept a deadline on New Year's Day).  Now every deadline
# computation holds the calendars' lock in share mode (src/calendar.c), and the
# recompute leaves a change queued until the transactions that held it when the
# change was first seen have ended.
#
# Here one session makes an order and keeps its transaction open; another marks
# every day of the next three weeks a holiday (which moves any deadline) and runs
# the recompute, which must wait; the first commits; the next run recomputes it.
# Then the same with the order's transaction prepared (PREPARE TRANSACTION).
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# test/fixtures/intake_map.sql.  Prints TAP.  The scratch database is dropped however
# it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_calendar_race_$$"

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  [ -n "${MAKER_PID:-}" ] && kill "$MAKER_PID" 2>/dev/null
  psql -X -q -d "$db" -c "ROLLBACK PREPARED 'calendar_race_$$'" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..9"

fixture_database "$db" intake_map.sql 2>/dev/null &&
  q "INSERT INTO workorder.settings (name, value, description)
     VALUES ('worker_enabled', 'off', 'calendar_change_race.t: the test runs the recompute')" >/dev/null
check "setup: extension and the intake map, the worker off" 0 "$?"

coproc MAKER { psql -X -q -At -d "$db" 2>&1; }
maker() { session_run "${MAKER[0]}" "${MAKER[1]}" "$1"; }

# The order, its transaction left open.
maker "BEGIN;" >/dev/null
old_due=$(maker "SELECT resolve_due_at FROM workorder.submit('hotline', 'CAL-RACE', '0301', '路口井盖缺失',
                                                             lon => 121.02, lat => 31.05);")
check "the order is made, with a deadline, in a transaction still open" t \
  "$(q "SELECT '$old_due'::timestamptz > now()")"

# Meanwhile: the next three weeks become holidays, committed, and the recompute runs.
q "INSERT INTO workorder.calendar_days (calendar_code, day, kind, name)
   SELECT 'cn', d::date, 'holiday', '测试假期' FROM generate_series(current_date, current_date + 21, interval '1 day') d
   ON CONFLICT (calendar_code, day) DO UPDATE SET kind = 'holiday'" >/dev/null
detail=$(q "SELECT detail FROM workorder.task_calendar_recompute()")
check "the recompute, while that transaction is open, waits for it: the change stays queued" \
  "1 waiting" "$(q "SELECT count(*) FROM workorder.calendar_changes") $(case "$detail" in *"wait for 1 transactions"*) echo waiting ;; *) echo "$detail" ;; esac)"

maker "COMMIT;" >/dev/null
q "SELECT detail FROM workorder.task_calendar_recompute()" >/dev/null
check "once it has committed, the next run recomputes its order on the new calendar" t \
  "$(q "SELECT o.resolve_due_at = r.resolve_due_at AND o.resolve_due_at > '$old_due'::timestamptz
          FROM workorder.orders o, workorder.sla_recomputed(o) r WHERE o.channel_ref = 'CAL-RACE'")"
check "... with a deadline_recomputed event" 1 \
  "$(q "SELECT count(*) FROM workorder.order_events v JOIN workorder.orders o ON o.id = v.order_id
        WHERE o.channel_ref = 'CAL-RACE' AND v.action = 'deadline_recomputed'")"
check "... and the change is consumed" 0 "$(q "SELECT count(*) FROM workorder.calendar_changes")"

# The same with the order's transaction prepared (a two-phase connector): a prepared
# transaction keeps the calendars' lock, with no backend and no virtualxid lock of
# its own, and the recompute did not wait for it.
maker "BEGIN;" >/dev/null
old_due=$(maker "SELECT resolve_due_at FROM workorder.submit('hotline', 'CAL-PREPARED', '0301', '路口路灯不亮',
                                                             lon => 121.03, lat => 31.05);")
maker "PREPARE TRANSACTION 'calendar_race_$$';" >/dev/null
q "INSERT INTO workorder.calendar_days (calendar_code, day, kind, name)
   SELECT 'cn', d::date, 'holiday', '测试假期' FROM generate_series(current_date + 22, current_date + 60, interval '1 day') d
   ON CONFLICT (calendar_code, day) DO UPDATE SET kind = 'holiday'" >/dev/null
detail=$(q "SELECT detail FROM workorder.task_calendar_recompute()")
check "the recompute waits for a prepared transaction that counted deadlines: the change stays queued" \
  "1 waiting" "$(q "SELECT count(*) FROM workorder.calendar_changes") $(case "$detail" in *"wait for 1 transactions"*) echo waiting ;; *) echo "$detail" ;; esac)"
q "COMMIT PREPARED 'calendar_race_$$'" >/dev/null
q "SELECT detail FROM workorder.task_calendar_recompute()" >/dev/null
check "once committed, the next run recomputes its order on the new calendar" t \
  "$(q "SELECT o.resolve_due_at = r.resolve_due_at AND o.resolve_due_at > '$old_due'::timestamptz
          FROM workorder.orders o, workorder.sla_recomputed(o) r WHERE o.channel_ref = 'CAL-PREPARED'")"
check "... and the change is consumed" 0 "$(q "SELECT count(*) FROM workorder.calendar_changes")"
[ "$failed" -eq 0 ]
