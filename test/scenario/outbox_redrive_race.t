#!/usr/bin/env bash
# outbox_redrive_race.t: redrive_outbox() and a connector's claim_outbox() on the
# same channel at once never send a report's messages out of order.
#
# A report's dispatch message died (its channel was down) and its accept message is
# pending.  redrive_outbox() sends a dead message again unless a later message of
# the report is delivered or being delivered; claim_outbox() holds a message back
# while an earlier one of its report waits.  Each decided on its own snapshot:
#   (1) a claim of the accept, not yet committed, was invisible to the redrive,
#       which made the dispatch pending beside the accept in flight;
#   (2) a redrive not yet committed was invisible to a claim, which took the
#       accept while the dispatch became pending behind it.
# Either way the channel could hear "dispatched" after "accepted".  Now the claims
# of a channel share a lock that the redrive takes alone: each waits for the other.
#
# Session 1 holds a claim (1) or a redrive (2) open; session 2 runs the other and
# waits for it; session 1 commits.  (3) Both refuse a REPEATABLE READ transaction.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# test/fixtures/intake_map.sql.  Prints TAP.  The scratch database is dropped
# however it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_outbox_redrive_$$"
work=$(mktemp -d /tmp/workorder-outbox-redrive.XXXXXX)

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

echo "1..12"

fixture_database "$db" intake_map.sql 2>/dev/null &&
  q "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'outbox_redrive_race.t')" >/dev/null
check "setup: extension and the intake map, the worker off" 0 "$?"

# dead_dispatch REF LON: a hotline report, dispatched and accepted; its dispatch
# message dead after one failed attempt, its accept message pending.
dead_dispatch() {
  local id
  id=$(q "SELECT id FROM workorder.submit('hotline', '$1', '0301', '路口摊贩占道 $1', lon => $2, lat => 31.0102)")
  q "SELECT (workorder.accept($id, 'x')).status" >/dev/null
  q "INSERT INTO workorder.settings VALUES ('outbox_max_attempts', '1', 'outbox_redrive_race.t')" >/dev/null
  q "SELECT workorder.fail_outbox(c.id, 'HTTP 503', 'setup') FROM workorder.claim_outbox('hotline', 10, '1 minute', 'setup') c" >/dev/null
  q "DELETE FROM workorder.settings WHERE name = 'outbox_max_attempts'" >/dev/null
  echo "$id"
}
# states ID: the report's messages, in order, as kind:state.
states() {
  q "SELECT string_agg(kind || ':' || state, ' ' ORDER BY id) FROM workorder.outbox WHERE order_id = $1"
}

coproc FIRST { psql -X -q -At -d "$db" 2>&1; }
first() { session_run "${FIRST[0]}" "${FIRST[1]}" "$1"; }

# (1) The claim of the accept first, open; then the redrive.
one=$(dead_dispatch RR-1 121.0101)
check "(1) setup: the dispatch is dead, the accept pending" "dispatch:dead accept:pending" "$(states "$one")"
check "(1) a connector claims the accept (transaction open)" accept \
  "$(first "BEGIN; SELECT kind FROM workorder.claim_outbox('hotline', 10, '1 minute', 'cA');")"
psql -X -q -At -d "$db" -c "SELECT redriven || ' ' || superseded FROM workorder.redrive_outbox('hotline')" \
  >"$work/redrive.out" 2>&1 &
redriver=$!
check "(1) the redrive waits for the claim in flight" yes "$(lock_waiters "$db" 1)"
first "COMMIT;" >/dev/null
wait "$redriver"
check "(1) then finds the accept claimed: the dispatch is superseded, not sent again" "0 1" "$(cat "$work/redrive.out")"
check "(1) ... and stays dead" "dispatch:dead accept:claimed" "$(states "$one")"

# (2) The redrive first, open; then a claim, whose lease of 5 seconds counts from
# when it got the lock: the redrive is held 6 seconds (a lease counted from before
# the wait was over when the claim returned, and the next connector got the message).
two=$(dead_dispatch RR-2 121.0301)
first "BEGIN; SELECT * FROM workorder.redrive_outbox('hotline');" >/dev/null
psql -X -q -At -d "$db" -c "SELECT string_agg(kind, ' ' ORDER BY id) || ' ' || bool_and(claimed_until > clock_timestamp())
                              FROM workorder.claim_outbox('hotline', 10, '5 seconds', 'cB')" \
  >"$work/claim.out" 2>&1 &
claimer=$!
check "(2) a claim waits for the redrive in flight" yes "$(lock_waiters "$db" 1)"
sleep 6
first "COMMIT;" >/dev/null
wait "$claimer"
check "(2) then takes the dispatch sent again, its lease still running, and holds the accept back behind it" "dispatch true" \
  "$(cat "$work/claim.out")"
check "(2) ... in the report's order" "dispatch:claimed accept:pending" "$(states "$two")"

# (3) Under REPEATABLE READ a statement's snapshot is the transaction's, taken
# before any wait: claims and redrives are refused there, as intake is.
check "(3) READ UNCOMMITTED, which runs as READ COMMITTED, is not refused" 0 \
  "$(psql -X -q -At -d "$db" -c "BEGIN ISOLATION LEVEL READ UNCOMMITTED" \
       -c "SELECT count(*) FROM workorder.claim_outbox('hotline', 10, '1 minute', 'cU')" -c "ROLLBACK" 2>&1)"
for call in "claim_outbox('hotline', 10, '1 minute', 'cC')" "redrive_outbox('hotline')"; do
  check "(3) ${call%%(*}() in a REPEATABLE READ transaction is WO307" WO307 \
    "$(psql -X -q -At -d "$db" -v VERBOSITY=sqlstate -c "\\set VERBOSITY sqlstate" \
         -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT count(*) FROM workorder.$call" 2>&1 | grep -o 'WO[0-9]*' | head -n 1)"
done
[ "$failed" -eq 0 ]
