#!/usr/bin/env bash
# dedup_plan.t: dedup's candidate search is a scan of orders_location_idx, the GiST
# index on (location, received_at, COALESCE(settled_at, 'infinity')), bounded by all
# three, in every plan the plan cache makes of it, so that its cost follows the
# open and recently settled orders in the searched box and not the history.
#
# The search (src/dedup.c) is one query prepared once per backend, whose only
# indexable quals are the index's; the family and the statuses that can be
# candidates are filters of that scan, so that a row of another family in the box
# is dropped where it is read (checked below too).  In a fresh session, auto_explain (at NOTICE, nested statements)
# shows the plan of each of its executions: eight dedup_decide() calls, first with
# plan_cache_mode auto (the plan cache turns to a generic plan after five), then
# forced generic, then forced custom; on a table with a handful of orders and on
# one with 20000.  Every plan of the search must read orders through
# orders_location_idx, and none by another index or a sequential scan; and the
# index condition must hold both ends of the time of receipt (dedup_open_window
# before the report, the window after it) and the end of the order's span as well
# as the location (a filter on the times would read every report ever made at
# the place).
#
# The search also tells whether each candidate waits for review as a suspected
# duplicate; in every plan that check reads dedup_checks by its primary key, never
# by the partial index of pending reviews (a plan made while that index was small
# read every pending review for every candidate).
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder installed.  Prints
# TAP.  Its database is dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="dedup_plan_$$"
export PGOPTIONS="-c client_min_messages=warning"

cleanup() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; }
trap cleanup EXIT

. "$here/tap.sh"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" >/dev/null &&
  q -c "CREATE EXTENSION workorder CASCADE" >/dev/null &&
  (cd "$repo" && q -f test/fixtures/dedup_map.sql >/dev/null)
check "a database with the extension and the dedup map" 0 $?

# orders N: N orders of ROAD_MANHOLE within about 100 m and 2 days of a spot,
# inserted as rows (their intake is not what this test is about).
orders() {
  q >/dev/null <<SQL
INSERT INTO workorder.orders (ticket, channel_code, channel_ref, category_code, description, location,
                              location_match, in_jurisdiction, received_at, status, event_count)
SELECT workorder.make_ticket(current_date - 1, i::integer), 'hotline', 'plan-' || i, 'ROAD_MANHOLE', '文华路3号门口井盖缺失',
       ST_SetSRID(ST_MakePoint(117.05 + (i % 100) * 0.00001, 26.05 + (i / 100 % 100) * 0.00001), 4326),
       'contained', true, now() - make_interval(secs => (i % 170000)::double precision), 'dispatched', 0
  FROM generate_series((SELECT count(*) FROM workorder.orders) + 1, $1) i;
ANALYZE workorder.orders;
SQL
}

# plans MODE [TABLE [COND]]: the plans of the search in eight dedup_decide() calls
# of a fresh session with plan_cache_mode MODE, one line per plan: the scans of
# TABLE (orders unless given) in it, or with COND "cond" their index conditions, with
# COND "filter" their filters.
plans() {
  q 2>&1 >/dev/null <<SQL | awk -v table="${2:-orders}" -v cond="${3:-}" '
    /Query Text:/ { if (inplan) print line; inplan = ($0 ~ /Query Text: SELECT o\.id, o\.ticket/); line = ""; scan = 0; next }
    inplan && /Scan/ { scan = index($0, " on " table) > 0 }
    inplan && /Scan/ && index($0, " on " table) && cond == "" { sub(/^[ ->]*/, ""); sub(/ *\(cost.*/, ""); line = line (line == "" ? "" : "; ") $0 }
    inplan && scan && /Index Cond:/ && cond == "cond" { sub(/^ *Index Cond: */, ""); line = line (line == "" ? "" : "; ") $0 }
    inplan && scan && /Filter:/ && cond == "filter" { sub(/^ *Filter: */, ""); line = line (line == "" ? "" : "; ") $0 }
    END { if (inplan) print line }'
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
SET plan_cache_mode = $1;
SELECT count(workorder.dedup_decide('ROAD_MANHOLE', ST_SetSRID(ST_MakePoint(117.0502, 26.0502), 4326), now(),
                                    '井盖缺失', NULL, NULL)) FROM generate_series(1, 8);
SQL
}

for size in 5 20000; do
  orders "$size"
  check "$size orders in the table" "$size" "$(q -c "SELECT count(*) FROM workorder.orders")"
  for mode in auto force_generic_plan force_custom_plan; do
    found=$(plans "$mode")
    check "$size orders, plan_cache_mode $mode: eight plans of the search" 8 "$(printf '%s\n' "$found" | grep -c .)"
    check "$size orders, plan_cache_mode $mode: every one reads orders through orders_location_idx, and only through it" 0 \
      "$(printf '%s\n' "$found" | grep -vE '^(Index Scan using orders_location_idx on orders o|Bitmap Heap Scan on orders o; Bitmap Index Scan on orders_location_idx)$' | grep -c .)"
    conditions=$(plans "$mode" orders cond)
    check "$size orders, plan_cache_mode $mode: every index condition bounds the location, both ends of the receipt and the settling" 8 \
      "$(printf '%s\n' "$conditions" | grep -F 'location &&' | grep -F 'received_at >=' | grep -F 'received_at <=' \
           | grep -c -F "COALESCE(settled_at, 'infinity'::timestamp with time zone) >=")"
    filters=$(plans "$mode" orders filter)
    check "$size orders, plan_cache_mode $mode: every scan drops the rows of other families and the merged and cancelled where it reads them" 8 \
      "$(printf '%s\n' "$filters" | grep -F 'category_code = ANY' | grep -c -F 'status <> ALL')"
    review=$(plans "$mode" dedup_checks)
    check "$size orders, plan_cache_mode $mode: the review check reads dedup_checks by its key in every plan" 0 \
      "$(printf '%s\n' "$review" | grep -vE '^(Index Scan using dedup_checks_pkey on dedup_checks k)$' | grep -c .)"
    [ "$mode" = auto ] && echo "#   $size orders, auto: $(printf '%s\n' "$found" | sort | uniq -c | sed 's/^ *//' | paste -sd '|' | sed 's/|/ | /g')"
  done
done
echo "1..$n"
[ "$failed" -eq 0 ]
