#!/usr/bin/env bash
# inbox_open_transaction.t: a transaction left open at one place does not hold the
# bulk inbox's reports at other places.
#
# Another session submits a report at a crossing and leaves its transaction open
# (a dispatcher's client, a connector, an admin's psql): it holds the dedup lock of
# that place.  Reports of that crossing in the inbox must wait for it; the others
# must not.  A row waited for the lock the caller's lock_timeout (the worker's 10 s;
# in a session with none, for ever), the drain then stopped at its budget, and the
# next drain met the next report of the crossing first: every report of the inbox
# waited as long as the transaction stayed open.  Now a row waits a tenth of
# drain_time_budget, fails with 55P03, is tried again later, and the drain goes on.
#   (a) drain_inbox() in a session without lock_timeout: it returns, the other
#       places' reports are orders, the crossing's are pending with 55P03;
#   (b) the worker: reports at other places become orders within seconds while the
#       transaction is still open.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them), with
# the extension preloaded (the worker), and data/demo.sql.  Prints TAP.  The
# scratch database is dropped however it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_inbox_open_$$"
work=$(mktemp -d /tmp/workorder-inbox-open.XXXXXX)
export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  [ -n "${holder:-}" ] && kill "$holder" 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..6"

demo_database "$db" "$work/setup.err"
check "setup: extension and demo map" "0" "$?"
q "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'inbox_open_transaction.t: (a) drains by hand')" >/dev/null
q "SELECT workorder.wake_worker()" >/dev/null

# The crossing, and the transaction left open there for two minutes.
psql -X -q -At -d "$db" >"$work/holder.out" 2>&1 <<'SQL' &
BEGIN;
SELECT id FROM workorder.submit('hotline_12345', 'open-1', '0401', '路口井盖缺失', lon => 113.150, lat => 23.030);
SELECT pg_sleep(120);
COMMIT;
SQL
holder=$!
wait_until 30 "$db" "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep')" >/dev/null

# inbox ROUND: three reports at the crossing, three at places a kilometre or more
# apart (the crossing's are first in the drain's order: channel_ref A- before B-).
inbox() {
  q "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
     SELECT 'hotline_12345', 'A-$1-' || g, '0401', '路口井盖缺失' || g, '113.150', '23.030' FROM generate_series(1, 3) g
     UNION ALL
     SELECT 'hotline_12345', 'B-$1-' || g, '0401', '人行道井盖破损' || g, (113.160 + g * 0.01)::text, '23.040'
       FROM generate_series(1, 3) g" >/dev/null
}

# (a)
inbox a
out=$(psql -X -q -At -d "$db" -c "SET lock_timeout = 0" -c "SET statement_timeout = '20s'" \
        -c "SELECT accepted || '|' || rejected FROM workorder.drain_inbox()" 2>&1)
check "(a) a drain in a session without lock_timeout returns while the transaction is open" "3|0" "$out"
check "... the reports at other places are orders" "3" \
  "$(q "SELECT count(*) FROM workorder.inbox WHERE channel_ref LIKE 'B-a-%' AND state = 'accepted' AND order_id IS NOT NULL")"
check "... those at the crossing wait, to be tried again, with 55P03" "3|3" \
  "$(q "SELECT count(*), count(*) FILTER (WHERE error_code = '55P03' AND retry_at IS NOT NULL)
          FROM workorder.inbox WHERE channel_ref LIKE 'A-a-%' AND state = 'pending'")"

# (b)
inbox b
q "UPDATE workorder.settings SET value = 'on' WHERE name = 'worker_enabled'" >/dev/null
q "SELECT workorder.wake_worker()" >/dev/null
check "(b) the worker makes orders of the other places' reports while the transaction is open" "ok" \
  "$(wait_until 8 "$db" "SELECT count(*) = 3 FROM workorder.inbox WHERE channel_ref LIKE 'B-b-%' AND state = 'accepted'" >/dev/null && echo ok || echo timeout)"
check "... the transaction is still open" "t" \
  "$(q "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep')")"

[ "$failed" -eq 0 ]
