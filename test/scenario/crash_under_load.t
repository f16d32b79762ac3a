#!/usr/bin/env bash
# crash_under_load.t: the postmaster is killed with SIGKILL while 8 clients submit
# reports, and after the restart nothing acknowledged is lost, nothing is made
# twice, no order is half-written, and the worker catches up.
#
# A SIGKILL makes the postmaster reset the whole cluster, so, like outbox_crash.t,
# this test runs on a private cluster of its own and stops it however it ends.
#
# Seven clients call submit(), one connection per report, each with its own
# references; the eighth is a connector that puts its reports into the inbox, for
# the worker to drain.  A client retries a report that failed (the server gone,
# in recovery, ...) with the same channel_ref until it is acknowledged, and writes
# down each acknowledgement (the reference and the order id, or for the inbox the
# row id) only when the statement came back committed.  The category's SLA policy
# gives an order one second to be accepted, so the worker always has
# accept-overdue marks to make.  When about a quarter of the reports are
# acknowledged, the postmaster is killed; the cluster is restarted; the clients
# carry on.  Then:
#   - every acknowledged report is there, with the id it was acknowledged with,
#     exactly once (lost: 0);
#   - every order is whole: its submit event (and its dispatch event when it was
#     routed), event_count equal to its events, a ticket, an area, a unit and
#     deadlines when dispatched, a reason when not, its outbox message, and a
#     hash chain that verifies;
#   - the worker catches up: every inbox row becomes an order, and every order
#     past its accept deadline gets exactly one accept_overdue mark.
# It prints "# summary: ..." with the faults injected and the counts.
#
# Needs scripts/cluster.sh and a PostgreSQL 15 with workorder installed.  Prints TAP.
# WORKORDER_CRASH_PORT chooses the private cluster's port.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="crash_under_load"
prefix="workorder-crash-load"
port=${WORKORDER_CRASH_PORT:-$((57000 + $$ % 1000))}
per_client=40
clients=8

. "$(dirname "$0")/private_cluster.sh"
. "$(dirname "$0")/tap.sh"

echo "1..10"

{ bash "$repo/scripts/cluster.sh" start "$cluster" "$port" &&
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" &&
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION workorder CASCADE;
SELECT workorder.load_area('990601', '压测区', 'district', NULL, ST_MakeEnvelope(123.0, 30.0, 123.2, 30.2, 4326));
SELECT workorder.load_area('990601001', '北街道', 'town', '990601', ST_MakeEnvelope(123.0, 30.1, 123.2, 30.2, 4326));
SELECT workorder.load_area('990601002', '南街道', 'town', '990601', ST_MakeEnvelope(123.0, 30.0, 123.2, 30.1, 4326));
SELECT workorder.load_department_kinds('[{"code": "urban_management", "name": "城市管理"}]');
SELECT workorder.load_units('[
  {"code": "C-990601", "name": "压测区指挥中心", "kind": "center", "level": "district", "area_code": "990601"},
  {"code": "C-990601001", "name": "北街道指挥中心", "kind": "center", "level": "town", "area_code": "990601001", "parent_code": "C-990601"},
  {"code": "C-990601002", "name": "南街道指挥中心", "kind": "center", "level": "town", "area_code": "990601002", "parent_code": "C-990601"}]');
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('instant', 'calendar_hours', '1 second', 'calendar_hours', '1 hour');
SELECT workorder.load_categories('[{"code": "CITY", "name": "城市管理", "handling_level": "town",
                                    "department_kind": "urban_management", "sla_policy": "instant"}]');
SELECT workorder.load_channels('[{"code": "hotline", "name": "12345热线", "kind": "hotline",
                                  "categories": [{"code": "0301", "category": "CITY"}]}]');
INSERT INTO workorder.settings VALUES ('dispatch_unit', 'C-990601', 'crash under load test');
INSERT INTO workorder.settings VALUES ('dedup_enabled', 'off', 'every report of this test is an event of its own');
SQL
} >"$work/setup.log" 2>&1
rc=$?
check "a private cluster with the extension and a map is up" 0 "$rc"
if [ "$rc" -ne 0 ]; then
  sed 's/^/# /' "$work/setup.log" | tail -n 20
  exit 1
fi

# client N: submits its reports L<N>-1 .. L<N>-per_client (every fifth with a
# category no one maps, so it stays new), each until acknowledged, and writes
# "reference id" to ack.N.  Client 8 puts its reports into the inbox instead.
client() {
  local c=$1 k ref sql out tries
  for k in $(seq 1 "$per_client"); do
    ref="L$c-$k"
    if [ "$c" -eq "$clients" ]; then
      sql="INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
           VALUES ('hotline', '$ref', '0301', '收件箱 $ref', '123.1', '30.05') RETURNING id"
    else
      sql="SELECT id FROM workorder.submit('hotline', '$ref', CASE WHEN $k % 5 = 0 THEN '9999' ELSE '0301' END,
                                           '压测 $ref', lon => 123.0$c$((k % 10)), lat => 30.$((k % 2))$((k % 9 + 1)))"
    fi
    tries=0
    while :; do
      tries=$((tries + 1))
      if out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$sql" 2>>"$work/client.$c.err") && [ -n "$out" ]; then
        echo "$ref $out" >>"$work/ack.$c"
        break
      fi
      # The inbox has no idempotence of its own: a retried INSERT that was in fact
      # committed would be a second row.  The connector asks before it retries.
      if [ "$c" -eq "$clients" ]; then
        out=$(psql -X -q -At -d "$db" -c "SELECT id FROM workorder.inbox WHERE channel_ref = '$ref'" 2>/dev/null)
        if [ -n "$out" ]; then
          echo "$ref $out" >>"$work/ack.$c"
          break
        fi
      fi
      [ "$tries" -ge 600 ] && return 1
      sleep 0.2
    done
    [ "$tries" -gt 1 ] && echo "$ref" >>"$work/retried.$c"
  done
  return 0
}
acknowledged() { cat "$work"/ack.* 2>/dev/null | wc -l; }

pids=()
for c in $(seq 1 "$clients"); do
  client "$c" &
  pids+=($!)
done

total=$((clients * per_client))
for _ in $(seq 1 600); do
  [ "$(acknowledged)" -ge $((total / 4)) ] && break
  sleep 0.1
done
at_crash=$(acknowledged)
crash_postmaster
restarted=$?
check "the postmaster killed with SIGKILL mid-load ($at_crash of $total acknowledged) restarts" 0 "$restarted"

client_rc=0
for p in "${pids[@]}"; do
  wait "$p" || client_rc=$((client_rc + 1))
done
check "every client got every one of its reports acknowledged" "0 $total" "$client_rc $(acknowledged)"

# Acknowledged submissions: each one there, with the id it was acknowledged with.
cat "$work"/ack.[1-7] 2>/dev/null | awk '{ print $1 "\t" $2 }' >"$work/orders.tsv"
cat "$work/ack.$clients" 2>/dev/null | awk '{ print $1 "\t" $2 }' >"$work/inbox.tsv"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<SQL
CREATE TABLE acked_orders (channel_ref text, order_id bigint);
CREATE TABLE acked_inbox (channel_ref text, inbox_id bigint);
\copy acked_orders FROM '$work/orders.tsv'
\copy acked_inbox FROM '$work/inbox.tsv'
SQL
lost=$(q "SELECT (SELECT count(*) FROM acked_orders a
                   WHERE NOT EXISTS (SELECT FROM workorder.orders o WHERE o.id = a.order_id AND o.channel_ref = a.channel_ref))
               + (SELECT count(*) FROM acked_inbox a
                   WHERE NOT EXISTS (SELECT FROM workorder.inbox i WHERE i.id = a.inbox_id AND i.channel_ref = a.channel_ref))")
duplicated=$(q "SELECT (SELECT count(*) - count(DISTINCT channel_ref) FROM workorder.inbox)
                     + (SELECT count(*) - count(DISTINCT (channel_code, channel_ref)) FROM workorder.orders)")
check "every acknowledged report is there with its acknowledged id (lost: $lost)" 0 "$lost"
check "no report was made twice, by a retry or otherwise" "0 $((total - per_client))" \
  "$duplicated $(q "SELECT count(*) FROM workorder.orders WHERE channel_ref NOT LIKE 'L$clients-%'")"

# The worker catches up: every inbox row becomes an order, every order past its
# accept deadline (one second) gets its accept_overdue mark.
caught_up=no
for _ in $(seq 1 300); do
  if [ "$(q "SELECT count(*) FROM workorder.inbox WHERE state = 'accepted'")" = "$per_client" ] &&
     [ "$(q "SELECT count(*) FROM workorder.orders WHERE status = 'dispatched' AND NOT accept_overdue")" = 0 ]; then
    caught_up=yes
    break
  fi
  sleep 0.1
done
check "the worker catches up: every inbox row is an order, every late order is marked" "yes" "$caught_up"
check "each late order has exactly one accept_overdue event" "0" \
  "$(q "SELECT count(*) FROM workorder.orders o
         WHERE o.status = 'dispatched'
           AND (SELECT count(*) FROM workorder.order_events e WHERE e.order_id = o.id AND e.action = 'accept_overdue') <> 1")"

# No order is half-written.
half=$(q "SELECT count(*) || ' ' || coalesce(string_agg(o.channel_ref, ',' ORDER BY o.id), '') FROM workorder.orders o
          WHERE o.event_count <> (SELECT count(*) FROM workorder.order_events e WHERE e.order_id = o.id)
             OR o.event_count <> (SELECT max(e.seq) FROM workorder.order_events e WHERE e.order_id = o.id)
             OR NOT EXISTS (SELECT FROM workorder.order_events e
                             WHERE e.order_id = o.id AND e.seq = 1 AND e.action = 'submit')
             OR o.ticket IS NULL OR o.area_code IS NULL
             OR (o.status = 'dispatched'
                 AND (o.main_unit IS NULL OR o.accept_due_at IS NULL OR o.resolve_due_at IS NULL
                      OR NOT EXISTS (SELECT FROM workorder.order_events e
                                      WHERE e.order_id = o.id AND e.seq = 2 AND e.action = 'dispatch')
                      OR NOT EXISTS (SELECT FROM workorder.outbox m
                                      WHERE m.order_id = o.id AND m.kind = 'dispatch')))
             OR (o.status = 'new' AND (o.status_reason IS NULL OR o.main_unit IS NOT NULL))
             OR o.status NOT IN ('new', 'dispatched')")
check "no order is half-written (events, counts, ticket, area, unit, deadlines, outbox)" "0 " "$half"
check "every order's hash chain verifies" "0" "$(q "SELECT count(*) FROM workorder.verify_log()")"
check "no inbox row is left pending or rejected" "0" \
  "$(q "SELECT count(*) FROM workorder.inbox WHERE state <> 'accepted'")"

retried=$(cat "$work"/retried.* 2>/dev/null | wc -l)
echo "# summary: faults injected: 1 (kill -9 of the postmaster under $clients clients, $at_crash of $total acknowledged at the crash), acknowledged: $(acknowledged), retried: $retried, lost: $lost, duplicated: $duplicated"

[ "$failed" -eq 0 ]
