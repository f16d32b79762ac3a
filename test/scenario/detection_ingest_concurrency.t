#!/usr/bin/env bash
# detection_ingest_concurrency.t: ingests running at once, each batch holding bad
# rows, neither deadlock nor lose a row.
#
# A batch with a bad row is written by several statements (ingest_detection_rows
# splits it around the bad rows), each upserting its own aggregates; two of them
# running at once took the same aggregates in opposite orders and deadlocked (a
# review saw 8 of 40 calls fail with two sessions).  ingest_detections() now runs one
# at a time: a second waits for the first's transaction.  Three sessions each COPY
# 300 detections into 40 cells (one row in seven with a confidence that does not
# convert) and ingest them, 12 times over.  No call fails, every row ends stored or
# rejected, and the aggregates count exactly the stored detections.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder installed.  Prints
# TAP.  Its database is dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="detection_ingest_concurrency_$$"
export PGOPTIONS="-c client_min_messages=warning"
work=$(mktemp -d /tmp/detection_ingest_concurrency.XXXXXX)

cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$here/tap.sh"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

fixture_database "$db" intake_map.sql &&
  q "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'the sessions ingest')" &&
  q "INSERT INTO workorder.detection_rules (kind, min_count, \"window\", cell_m) VALUES ('vendor', 1000000, '1 hour', 100)"
check "a database with the extension and the intake map, its worker off, no orders raised" 0 $?

for s in 1 2 3; do
  (
    for round in $(seq 1 12); do
      psql -X -q -At -d "$db" -c "
        INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence)
        SELECT 'cam-$s', 'vendor', (now() - interval '10 minutes')::text,
               (121.01 + (g * 7 + $round) % 40 * 0.002)::text, '31.05',
               CASE WHEN g % 7 = 0 THEN 'bad' ELSE '0.9' END
          FROM generate_series(1, 300) g" -c "SELECT workorder.ingest_detections(300)" 2>&1
    done >"$work/session-$s.out"
  ) &
done
wait

check "no ingest failed (no deadlock)" "0" "$(cat "$work"/session-*.out | grep -c 'ERROR')"
check "every row copied ended stored or rejected, and the inbox is empty" "10800 0" \
  "$(q "SELECT ((SELECT count(*) FROM workorder.detections) + (SELECT count(*) FROM workorder.detection_rejects)) || ' ' ||
               (SELECT count(*) FROM workorder.detection_inbox)")"
check "the bad rows were rejected, the others stored" "1512 9288" \
  "$(q "SELECT (SELECT count(*) FROM workorder.detection_rejects) || ' ' || (SELECT count(*) FROM workorder.detections)")"
check "the aggregates count exactly the stored detections" "9288" \
  "$(q "SELECT sum(detections) FROM workorder.detection_aggregates")"

echo "1..$n"
[ "$failed" -eq 0 ]
