#!/usr/bin/env bash
# outbox_crash.t: the outbox loses nothing across a crash, and two connectors in
# parallel deliver every message exactly once.
#
# A SIGKILL makes the postmaster reset the whole cluster, so, like worker_crash.t,
# this test runs on a private cluster of its own (its own port and directory) and
# stops it however the test ends.
#
# 1. 40 reports are submitted (each dispatched at intake: one message each) and
#    accepted (a second message each): 80 messages.  A connector claims 30 with a
#    60-second lease and never acknowledges them.  The postmaster is killed with
#    SIGKILL, its children are let die, and the cluster restarted: every message is
#    still there, the 30 still claimed; once the lease runs out (the test moves the
#    claims a minute into the past rather than wait) outbox_expire gives them back.
# 2. Two connectors (two psql loops in the background, each claiming batches of 7
#    and acknowledging them one by one) run until the outbox is drained: every
#    message ends delivered, and each was acknowledged by exactly one connector
#    (a trigger logs every move to 'delivered').
#
# Needs scripts/cluster.sh and a PostgreSQL 15 with workorder installed.  Prints TAP.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="outbox_test_crash"
prefix="workorder-outbox-crash"
port=$((56000 + $$ % 1000))

. "$(dirname "$0")/private_cluster.sh"
. "$(dirname "$0")/tap.sh"

echo "1..9"

{ bash "$repo/scripts/cluster.sh" start "$cluster" "$port" &&
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" &&
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION workorder CASCADE;
SELECT workorder.load_area('990501', '收件区', 'district', NULL, ST_MakeEnvelope(122.0, 30.0, 122.2, 30.2, 4326));
SELECT workorder.load_area('990501001', '中街道', 'town', '990501', ST_MakeEnvelope(122.0, 30.0, 122.2, 30.2, 4326));
SELECT workorder.load_department_kinds('[{"code": "urban_management", "name": "城市管理"}]');
SELECT workorder.load_units('[
  {"code": "C-990501", "name": "收件区指挥中心", "kind": "center", "level": "district", "area_code": "990501"},
  {"code": "C-990501001", "name": "中街道指挥中心", "kind": "center", "level": "town", "area_code": "990501001", "parent_code": "C-990501"}]');
SELECT workorder.load_categories('[{"code": "CITY", "name": "城市管理", "handling_level": "town", "department_kind": "urban_management"}]');
SELECT workorder.load_channels('[{"code": "hotline", "name": "12345热线", "kind": "hotline",
                                  "categories": [{"code": "0301", "category": "CITY"}]}]');
INSERT INTO workorder.settings VALUES ('dispatch_unit', 'C-990501', 'outbox crash test');
-- Each report here is an order of its own (dedup would merge them: same place, same words).
INSERT INTO workorder.settings VALUES ('dedup_enabled', 'off', 'outbox crash test: every report is an order of its own');
SELECT workorder.accept((workorder.submit('hotline', 'K-' || i, '0301', '路口摊贩 ' || i,
                                          lon => 122.05 + i * 0.0001, lat => 30.05)).id, 'C-990501001')
  FROM generate_series(1, 40) i;
CREATE TABLE delivered_log (message_id bigint NOT NULL, claimed_by text);
CREATE FUNCTION log_delivered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivered_log VALUES (NEW.id, NEW.claimed_by);
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_log_delivered AFTER UPDATE ON workorder.outbox
    FOR EACH ROW WHEN (OLD.state <> 'delivered' AND NEW.state = 'delivered') EXECUTE FUNCTION log_delivered();
SQL
} >"$work/setup.log" 2>&1
rc=$?
check "a private cluster with the extension, a map and 40 accepted reports is up" 0 "$rc"
if [ "$rc" -ne 0 ]; then
  sed 's/^/# /' "$work/setup.log" | tail -n 20
  exit 1
fi
made=$(q "SELECT count(*) FROM workorder.outbox")
check "the 40 reports made 80 messages (dispatch and accept)" 80 "$made"

# The lease outlasts the crash and the restart by far even on a loaded machine (a
# restart has taken over 2 s in CI, and the wait for the old processes up to 10 s),
# so that the check after the restart sees the claims.
claimed=$(q "SELECT count(*) FROM workorder.claim_outbox('hotline', 30, '60 seconds', 'doomed')")
check "a connector claims 30 with a 60-second lease" 30 "$claimed"

crash_postmaster
rc=$?
check "the postmaster killed with SIGKILL restarts" 0 "$rc"
[ "$rc" -ne 0 ] && sed 's/^/# /' "$work/restart.log" | tail -n 20

check "after the crash every message is still there, 30 of them claimed" "80 30" \
  "$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE state = 'claimed' AND claimed_until > clock_timestamp()) FROM workorder.outbox")"

# The lease runs out: the claims are moved 61 s into the past (the two times the
# claim set from its clock, the lease's end and the next attempt), as if a minute
# had gone by.  The worker may run the task itself; run it here too until all are
# back (a run_task that finds the worker running it skips).
q "UPDATE workorder.outbox SET claimed_until = claimed_until - interval '61 seconds',
                               next_attempt_at = next_attempt_at - interval '61 seconds'
    WHERE state = 'claimed' AND claimed_by = 'doomed'" >/dev/null
for _ in $(seq 1 50); do
  q "SELECT * FROM workorder.run_task('outbox_expire')" >/dev/null 2>&1
  [ "$(q "SELECT count(*) FROM workorder.outbox WHERE state = 'pending'")" = 80 ] && break
  sleep 0.1
done
check "once the lease ran out, outbox_expire gives the 30 back: all 80 pending" "80" \
  "$(q "SELECT count(*) FROM workorder.outbox WHERE state = 'pending'")"

# Two connectors in parallel: claim a batch, acknowledge each message, until a claim
# comes back empty.
connector() {
  local name=$1 ids
  while :; do
    ids=$(q "SELECT id FROM workorder.claim_outbox('hotline', 7, '1 minute', '$name')") || return 1
    [ -z "$ids" ] && return 0
    for id in $ids; do
      q "SELECT workorder.ack_outbox($id, '$name')" >/dev/null || return 1
    done
  done
}
connector one >"$work/one.log" 2>&1 &
p1=$!
connector two >"$work/two.log" 2>&1 &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
check "both connectors ran without an error" "0 0" "$r1 $r2"
check "every message is delivered: delivered = made" "$made" \
  "$(q "SELECT count(*) FROM workorder.outbox WHERE state = 'delivered'")"
check "each was delivered exactly once, and both connectors took part" "$made $made 2" \
  "$(q "SELECT count(*) || ' ' || count(DISTINCT message_id) || ' ' || count(DISTINCT claimed_by) FROM delivered_log")"

lost=$(q "SELECT $made - count(DISTINCT message_id) FROM delivered_log")
twice=$(q "SELECT count(*) - count(DISTINCT message_id) FROM delivered_log")
echo "# summary: outbox crash: faults injected 1 (SIGKILL of the postmaster with 30 messages claimed), messages $made, delivered twice ${twice:-unknown}, lost ${lost:-unknown}"
[ "$failed" -eq 0 ]
