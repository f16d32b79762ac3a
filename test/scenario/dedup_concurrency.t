#!/usr/bin/env bash
# dedup_concurrency.t: one event reported by 16 clients at the same moment makes
# exactly one master, never two.
#
# Each round, 16 psql sessions (hotline calls, grid inspectors, a mailbox letter, a
# platform post) report the same missing manhole cover at the same spot (a metre or
# two apart) with the same words.  They are started together and held at a
# barrier: each waits for a shared advisory lock that the test holds exclusively
# until all 16 are waiting, then releases, so that all 16 submit() calls run at
# once.  Afterwards exactly one of the 16 orders is a master (not merged), the 15
# others are merged into it, its report_count is 16, and nobody failed.  Each round
# is a new event at a new spot; the round is repeated 5 times.  In the last round
# the reports are of two categories of one family: its root, which has no radius of
# its own (the district's 100 m), and a child with 30 m.  Their locks' grid was the
# caller's radius's, so the two kinds never waited for each other, and one event
# became two masters.  A root and its child are suspected duplicates of each other
# at most (the root names no kind of problem), so there the master's category's
# reports are merged and the others held for review against that one master.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# data/demo.sql.  Prints TAP.  The scratch database is dropped however it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_dedup_conc_$$"
clients=16
rounds=5
barrier=727001
work=$(mktemp -d /tmp/workorder-dedup-conc.XXXXXX)

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..$((rounds * 5 + 1))"

demo_database "$db" "$work/setup.err"
check "setup: extension and demo map" "0" "$?"
q "INSERT INTO workorder.categories (code, name, handling_level) VALUES ('T_PIPES', '管道', 'town');
   INSERT INTO workorder.categories (code, name, parent_code, dedup_radius_m) VALUES ('T_PIPES_LEAK', '管道漏水', 'T_PIPES', 30)" \
  >/dev/null 2>>"$work/setup.err"

# The channels that report a missing manhole cover, with their own codes.
channels=(hotline_12345:0401 grid_inspection:B01 hotline_12345:0401 mayor_mailbox:ROAD_MANHOLE
          minsheng_platform:ROAD_MANHOLE)

for round in $(seq 1 $rounds); do
  # A spot in Guicheng, a new one each round (about 1 km apart).
  lon=$(echo "113.140 + $round * 0.01" | bc -l)
  lat=23.030
  # The test holds the barrier until every client waits for it.
  psql -X -q -At -d "$db" >"$work/barrier.$round" 2>&1 <<SQL &
SELECT pg_advisory_lock($barrier);
DO \$\$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN (SELECT count(*) FROM pg_locks
                    WHERE locktype = 'advisory' AND objid = $barrier AND NOT granted) >= $clients;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
\$\$;
SELECT pg_advisory_unlock($barrier);
SQL
  barrier_pid=$!
  for c in $(seq 1 $clients); do
    pick=${channels[$((c % ${#channels[@]}))]}
    channel=${pick%%:*}
    code=${pick#*:}
    if [ "$round" = "$rounds" ]; then
      channel=hotline_12345
      code=$([ $((c % 2)) = 0 ] && echo T_PIPES || echo T_PIPES_LEAK)
    fi
    # A metre or two apart: the reporters stand at the same cover.
    clon=$(echo "$lon + ($c % 3) * 0.00001" | bc -l)
    clat=$(echo "$lat + ($c % 2) * 0.00001" | bc -l)
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" >"$work/client.$round.$c" 2>&1 <<SQL &
SELECT pg_advisory_lock_shared($barrier);
SELECT pg_advisory_unlock_shared($barrier);
SELECT id FROM workorder.submit('$channel', 'dedup-conc-$round-$c', '$code',
                                '桂城街道南海大道北 路边井盖缺失，车辆经过很危险',
                                lon => $clon, lat => $clat, address => '南海区桂城街道南海大道北88号');
SQL
    echo $! >>"$work/pids.$round"
  done
  client_failures=0
  while read -r pid; do
    wait "$pid" || client_failures=$((client_failures + 1))
  done <"$work/pids.$round"
  wait "$barrier_pid"
  check "round $round: all $clients clients submitted without error" "0" "$client_failures"
  refs="channel_ref LIKE 'dedup-conc-$round-%'"
  check "round $round: $clients orders" "$clients" "$(q "SELECT count(*) FROM workorder.orders WHERE $refs")"
  if [ "$round" != "$rounds" ]; then
    check "round $round: exactly one master" "1" \
      "$(q "SELECT count(*) FROM workorder.orders WHERE $refs AND status <> 'merged'")"
    check "round $round: the others are merged into it" "$((clients - 1))" \
      "$(q "SELECT count(*) FROM workorder.orders d JOIN workorder.orders m ON m.id = d.master_id
             WHERE d.$refs AND m.$refs AND d.status = 'merged' AND m.status <> 'merged'")"
    check "round $round: the master counts $clients reports" "$clients" \
      "$(q "SELECT report_count FROM workorder.orders WHERE $refs AND status <> 'merged'")"
  else
    # A report of the root and an order of the child (or the other way round)
    # may only be suspected duplicates of each other (the root names no kind of
    # problem): the reports of the master's category are merged into it, the
    # others held for review against it.  Still one master: with the two kinds
    # locking grids of their own, some found none and became masters.
    suspected="EXISTS (SELECT 1 FROM workorder.dedup_checks c WHERE c.order_id = o.id AND c.decision = 'review')"
    check "round $round: exactly one master, neither merged nor held for review" "1" \
      "$(q "SELECT count(*) FROM workorder.orders o WHERE $refs AND status <> 'merged' AND NOT $suspected")"
    check "round $round: the others are merged into it or suspected duplicates of it" "$((clients - 1))" \
      "$(q "SELECT count(*) FROM workorder.orders o
              JOIN workorder.dedup_checks c ON c.order_id = o.id
              JOIN workorder.orders m ON m.id = c.master_id
             WHERE o.$refs AND m.$refs AND m.status <> 'merged' AND NOT EXISTS
                   (SELECT 1 FROM workorder.dedup_checks mc WHERE mc.order_id = m.id AND mc.decision = 'review')
               AND ((o.status = 'merged' AND o.master_id = m.id) OR (o.status = 'new' AND c.decision = 'review'))")"
    check "round $round: the master counts its category's $((clients / 2)) reports" "$((clients / 2))" \
      "$(q "SELECT report_count FROM workorder.orders o WHERE $refs AND status <> 'merged' AND NOT $suspected")"
  fi
done

[ "$failed" -eq 0 ] || { echo "# setup: $(head -c 2000 "$work/setup.err")"; for f in "$work"/client.*; do grep -l ERROR "$f" >/dev/null 2>&1 && { echo "# $f:"; sed 's/^/#   /' "$f" | head -n 5; }; done; }
exit 0
