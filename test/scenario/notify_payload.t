#!/usr/bin/env bash
# notify_payload.t: NOTIFY workorder tells a listener which notice to read, and
# nothing more.  LISTEN needs no privilege in PostgreSQL: a role with no grant on the
# extension hears the channel, and it used to hear each notice's ticket, escalation
# target and a connector's last error (a reporter's phone number in it).  Here a
# login with no workorder grant listens while an order is marked overdue (the
# deadline task's deadline_event) and one of its outbox messages dies (a failure at
# its last attempt); it must hear two notices whose payload is {"kind",
# "notification_id"} alone, each naming a row of workorder.notifications of that
# kind, with the details in the row, which that login may not read.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder preloaded.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="notify_payload_$$"
listener="notify_listener_$$"
export PGOPTIONS="-c client_min_messages=warning"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS $listener" >/dev/null 2>&1
}
trap cleanup EXIT

. "$here/tap.sh"

psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null
psql -X -q -d postgres -c "CREATE ROLE $listener LOGIN" >/dev/null
q "CREATE EXTENSION workorder CASCADE" >/dev/null
q "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'notify_payload.t'),
                                                                  ('outbox_max_attempts', '1', 'notify_payload.t')" >/dev/null
(echo "BEGIN;"; cat "$repo/test/fixtures/intake_map.sql"; echo "COMMIT;") |
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>&1 || echo "# the map did not load"
order_id=$(q "SELECT (workorder.submit('hotline', 'N-1', '0301', '占道经营', lon => 121.03, lat => 31.05,
                                       reporter_phone => '13812341234')).id")

# The listener's session: LISTEN, then a sleep while the notices are sent, then one
# more statement, after each of which psql prints what has arrived.
out=$(mktemp /tmp/notify_payload.XXXXXX)
psql -X -q -At -d "$db" -U "$listener" >"$out" 2>&1 <<SQL &
LISTEN workorder;
SELECT pg_sleep(8);
SELECT 'done';
SQL
listening=$!
for _ in $(seq 1 200); do
  [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = '$listener' AND query LIKE 'SELECT pg_sleep(8)%'")" = 1 ] && break
  sleep 0.05
done
q "SELECT workorder.deadline_event(o, 'overdue', o.received_at + interval '1 hour') FROM workorder.orders o WHERE o.id = $order_id" >/dev/null
message=$(q "SELECT id FROM workorder.claim_outbox('hotline', 1)")
q "SELECT state FROM workorder.fail_outbox($message, 'SMS to 13812341234 rejected by the gateway')" >/dev/null
wait "$listening"
received=$(sed -n 's/^Asynchronous notification "workorder" with payload "\(.*\)" received from server process with PID [0-9]*\.$/\1/p' "$out")
rm -f "$out"

check "a login with no workorder grant hears two notices" "2" "$(echo "$received" | grep -c .)"
check "each payload is its kind and its notification's id, nothing more" "kind,notification_id kind,notification_id" \
  "$(echo "$received" | while read -r p; do q "SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys('$p'::jsonb) k"; done | tr '\n' ' ' | sed 's/ $//')"
check "no payload carries the ticket, the phone number or the error" "0" \
  "$(echo "$received" | grep -c -e 13812341234 -e "$(q "SELECT ticket FROM workorder.orders WHERE id = $order_id")" -e gateway)"
check "each names a row of workorder.notifications of its kind: overdue, then outbox_dead" "overdue outbox_dead" \
  "$(echo "$received" | while read -r p; do q "SELECT n.kind FROM workorder.notifications n
                                                 WHERE n.id = ('$p'::jsonb ->> 'notification_id')::bigint
                                                   AND n.kind = '$p'::jsonb ->> 'kind'"; done | tr '\n' ' ' | sed 's/ $//')"
check "the row keeps the details, for those who may read it" "13812341234 rejected by the gateway" \
  "$(q "SELECT substr(payload ->> 'last_error', 8) FROM workorder.notifications WHERE kind = 'outbox_dead'")"
check "which the listener may not" "permission denied" \
  "$(psql -X -q -At -d "$db" -U "$listener" -c "SELECT count(*) FROM workorder.notifications" 2>&1 | grep -o 'permission denied' | head -1)"

echo "1..$n"
[ "$failed" -eq 0 ]
