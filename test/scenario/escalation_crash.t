#!/usr/bin/env bash
# escalation_crash.t: the escalation chain survives a crash of the whole cluster:
# every step of every order is done exactly once, in step order.
#
# It kills the postmaster with SIGKILL, so it runs on a private cluster of its own
# (scripts/cluster.sh, its own port and directory), stopped however the test ends.
#
# There, 40 orders get a policy 'crash' (resolve 1 second after intake, on
# calendar_hours) whose chain has six steps one second apart (0 .. 5 s after the
# deadline).  Beside the worker a session calls run_due_work() in a loop.  Once
# the second steps are being done, mid-chain, the postmaster is killed with
# SIGKILL; its children are let die, the cluster is started again (crash recovery),
# and the new worker does the steps that fell due meanwhile, several at once.  Then
# every order must have six rows in order_escalations and six 'escalate' events,
# steps 1..6 in event order.
#
# Needs scripts/cluster.sh and a PostgreSQL 15 with workorder installed.  Prints TAP.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="escalation_test_crash"
prefix="workorder-escalation-crash"
port=$((56000 + $$ % 1000))
orders=40

# (private_cluster.sh stops the cluster, and the run_due_work() loop below, however
# the test ends.)
. "$(dirname "$0")/private_cluster.sh"
. "$(dirname "$0")/tap.sh"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
side_pid=

wait_until() { # wait_until SECONDS QUERY: ms until QUERY returns t, or "timeout"
  local start deadline
  start=$(ms)
  deadline=$((start + $1 * 1000))
  while :; do
    if [ "$(psql -X -q -At -d "$db" -c "$2" 2>/dev/null)" = t ]; then
      echo $(( $(ms) - start ))
      return 0
    fi
    if [ "$(ms)" -ge "$deadline" ]; then
      echo timeout
      return 1
    fi
    sleep 0.05
  done
}

echo "1..7"

{ bash "$repo/scripts/cluster.sh" start "$cluster" "$port" &&
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" &&
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION workorder CASCADE" &&
  (cd "$repo" && psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f test/fixtures/intake_map.sql) &&
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('crash', 'calendar_hours', '1 second', 'calendar_hours', '1 second');
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action) VALUES
    ('crash', 1, '0', 'remind'), ('crash', 2, '1 second', 'supervise'),
    ('crash', 3, '2 seconds', 'escalate_parent'), ('crash', 4, '3 seconds', 'remind'),
    ('crash', 5, '4 seconds', 'escalate_leader'), ('crash', 6, '5 seconds', 'remind');
INSERT INTO workorder.sla_priority_policies VALUES ('low', 'crash');
SQL
} >"$work/setup.log" 2>&1
rc=$?
check "a private cluster with the extension, a map and a six-step chain is up" 0 "$rc"
if [ "$rc" -ne 0 ]; then
  sed 's/^/# /' "$work/setup.log" | tail -n 20
  exit 1
fi

# run_due_work() beside the worker, all along (errors during the crash are ignored).
( while :; do psql -X -q -At -d "$db" -c "SELECT workorder.run_due_work()" >/dev/null 2>&1; sleep 0.1; done ) &
side_pid=$!

q "SELECT count(*) FROM generate_series(1, $orders) g,
          LATERAL workorder.submit('hotline', 'X-' || g, '0301', '西南村路口有流动摊贩占道',
                                   lon => 121.02, lat => 31.05, priority => 'low') o" >/dev/null
# Steps fall due 1 to 6 s after intake: kill once the second steps are being done
# (every first one done, and a second; 20 s at most), which leaves the last steps
# seconds to spare.
took=$(wait_until 20 "SELECT count(*) > $orders FROM workorder.order_escalations")
echo "# a second step done ${took} ms after the submits returned"

done_before=$(q "SELECT count(*) FROM workorder.order_escalations")
echo "# SIGKILL to the postmaster with $done_before of $((orders * 6)) steps done"
check "the crash came mid-chain" ok \
  "$( [ "$done_before" -gt 0 ] && [ "$done_before" -lt $((orders * 6)) ] && echo ok || echo "$done_before steps done")"

# The orphaned children leave on postmaster death; then the cluster starts again.
crash_postmaster
rc=$?
check "the cluster starts again after SIGKILL (crash recovery)" 0 "$rc"
[ "$rc" -ne 0 ] && sed 's/^/# /' "$work/restart.log" | tail -n 20

took=$(wait_until 30 "SELECT count(*) = $orders FROM workorder.orders WHERE escalation_step = 6")
echo "# the chains were done $took ms after restart"
check "the new worker finishes every chain" ok "$( [ "$took" != timeout ] && echo ok || echo timeout)"
kill "$side_pid" 2>/dev/null; wait "$side_pid" 2>/dev/null; side_pid=

check "every order has one order_escalations row per step" "$orders" \
  "$(q "SELECT count(*) FROM (SELECT order_id FROM workorder.order_escalations GROUP BY order_id
                              HAVING count(*) = 6 AND array_agg(step ORDER BY step) = '{1,2,3,4,5,6}') x")"
check "every order has exactly six escalate events, steps 1..6 in event order" "$orders" \
  "$(q "SELECT count(*) FROM (SELECT order_id FROM workorder.order_events WHERE action = 'escalate' GROUP BY order_id
                              HAVING array_agg((details->>'step')::int ORDER BY seq) = '{1,2,3,4,5,6}') x")"
check "each step's action was done: supervised, escalated to the district leader" "$orders" \
  "$(q "SELECT count(*) FROM workorder.orders WHERE supervised AND escalated_to = 'district leader'
          AND next_escalation_at IS NULL")"

lost=$(q "SELECT $orders * 6 - count(*) FROM workorder.order_escalations")
repeated=$(q "SELECT count(*) - count(DISTINCT (order_id, details->>'step')) FROM workorder.order_events WHERE action = 'escalate'")
echo "# summary: escalation crash: faults injected 1 (SIGKILL of the postmaster mid-chain), steps $((orders * 6)), repeated ${repeated:-unknown}, lost ${lost:-unknown}"
[ "$failed" -eq 0 ]
