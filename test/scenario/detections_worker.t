#!/usr/bin/env bash
# detections_worker.t: the background worker ingests video-AI detections on its own.
#
#   (a) Detections COPYed (committed) into the inbox are moved by the worker, the bad
#       row is rejected, and the place that crosses its threshold gets one order.
#   (b) Two more batches of the same place and bucket, COPYed while run_due_work()
#       runs in 3 parallel sessions beside the worker: every row is ingested exactly
#       once, the aggregate counts them all, and there is still one order.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder in
# shared_preload_libraries (scripts/test.sh sets them).  Prints TAP.  Its database
# is dropped however the script ends.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="detections_worker_$$"
export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
cleanup() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; }
trap cleanup EXIT

. "$here/tap.sh"

# wait_until SECONDS QUERY: polls QUERY until it returns t; prints ok or timeout.
wait_until() {
  local deadline=$(( $(ms) + $1 * 1000 ))
  while :; do
    [ "$(psql -X -q -At -d "$db" -c "$2" 2>/dev/null)" = t ] && { echo ok; return 0; }
    [ "$(ms)" -ge "$deadline" ] && { echo timeout; return 1; }
    sleep 0.1
  done
}

# rows N SECOND: N detections of no_helmet at one crossing, at 08:SECOND..
rows() {
  for i in $(seq 1 "$1"); do
    printf 'cam-%s,no_helmet,2026-10-16 08:03:%02d,115.0495,24.0500,0.9\n' "$i" "$(( ($2 + i) % 60 ))"
  done
}

echo "1..6"

psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null
q "CREATE EXTENSION workorder CASCADE" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$repo/test/fixtures/issue6_map.sql" >/dev/null
q "INSERT INTO workorder.detection_rules (kind, min_count, \"window\", cell_m) VALUES ('no_helmet', 5, '10 minutes', 100)" >/dev/null

# (a)
{ rows 6 0; echo 'cam-x,no_helmet,2026-10-16 08:03:00,115.0495,north,0.9'; } |
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" \
    -c "\\copy workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence) FROM stdin WITH (FORMAT csv)"
q "SELECT workorder.wake_worker()" >/dev/null
check "the worker empties the inbox on its own" ok \
  "$(wait_until 30 "SELECT NOT EXISTS (SELECT FROM workorder.detection_inbox) AND EXISTS (SELECT FROM workorder.orders)")"
check "... 6 detections ingested, the bad row rejected" "6|1" \
  "$(q "SELECT (SELECT count(*) FROM workorder.detections), (SELECT count(*) FROM workorder.detection_rejects)" | tr -d ' ')"
check "... and one order for the crossing, to the traffic department" "1|D-traffic" \
  "$(q "SELECT count(*), max(main_unit) FROM workorder.orders WHERE channel_code = 'video_ai'")"

# (b)
pids=()
: > "/tmp/detections_worker_$$.err"
for s in 1 2 3; do
  ( end=$(( $(ms) + 3000 )); while [ "$(ms)" -lt "$end" ]; do
      psql -X -q -At -d "$db" -c "SELECT workorder.run_due_work()" >/dev/null 2>>"/tmp/detections_worker_$$.err"; done ) &
  pids+=($!)
done
for b in 1 2; do
  rows 200 "$b" | psql -X -q -v ON_ERROR_STOP=1 -d "$db" \
    -c "\\copy workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence) FROM stdin WITH (FORMAT csv)"
  sleep 0.5
done
wait "${pids[@]}"
q "SELECT workorder.wake_worker()" >/dev/null
check "with run_due_work() in 3 sessions beside the worker, the inbox is emptied without errors" "ok|0" \
  "$(wait_until 30 "SELECT NOT EXISTS (SELECT FROM workorder.detection_inbox)")|$(grep -c ERROR "/tmp/detections_worker_$$.err")"
rm -f "/tmp/detections_worker_$$.err"
check "every row ingested exactly once, and counted on the one aggregate" "406|406|1" \
  "$(q "SELECT (SELECT count(*) FROM workorder.detections), (SELECT sum(detections) FROM workorder.detection_aggregates),
               (SELECT count(*) FROM workorder.detection_aggregates)" | tr -d ' ')"
check "... which still has one order" "1" "$(q "SELECT count(*) FROM workorder.orders WHERE channel_code = 'video_ai'")"

[ "$failed" -eq 0 ]
