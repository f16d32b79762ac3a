#!/usr/bin/env bash
# detection_ref_race.t: one detection sent twice at once, through two connections
# (a connector that retried its COPY while the first was still being ingested), is
# stored and counted once, and neither copy is rejected.
#
# Session A copies the detection into the inbox and ingests it, and keeps its
# transaction open.  Session B copies the same detection (same camera_id and
# detection_ref) and ingests it: it waits for A.  (Its insert waited on A's row in
# the unique index, then failed with a unique violation, which the ingest took for
# the row's fault: the retry was rejected, 23505.  Since ingests run one at a time,
# it waits for A's transaction before it claims a row.)  A commits.  B's copy is a
# retry of a detection stored meanwhile, and is taken in as one.  Then again with
# another detection under the same reference: B's row is rejected (WO851).
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder installed.  Prints
# TAP.  Its database is dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="detection_ref_race_$$"
export PGOPTIONS="-c client_min_messages=warning"

cleanup() {
  [ -n "${A_PID:-}" ] && kill "$A_PID" 2>/dev/null
  [ -n "${b_pid:-}" ] && kill "$b_pid" 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -f "${b_out_file:-}"
}
trap cleanup EXIT

. "$here/tap.sh"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

fixture_database "$db" intake_map.sql &&
  q "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'detection_ref_race.t: the sessions ingest')"
check "a database with the extension and the intake map, its worker off" 0 $?

b_out_file=$(mktemp /tmp/detection_ref_race.XXXXXX)
# The same row twice, as a retried COPY sends it: its time written out once.
detected_at=$(q "SELECT (now() - interval '5 minutes')::text")
row="INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, detection_ref)
     VALUES ('CAM-7', 'vendor', '$detected_at', '121.02', '31.05', '0.9', 'evt-1');"

# b_ingests ROW: session B copies ROW into the inbox and ingests it, in the
# background (its output in $b_out_file, its pid in $b_pid); $waiting is "yes" once
# it waits for a lock (A's), "no" when it never did.
b_ingests() {
  psql -X -q -At -d "$db" -c "$1" -c "SELECT workorder.ingest_detections()" >"$b_out_file" 2>&1 &
  b_pid=$!
  waiting=$(lock_waiters "$db" 1)
}

coproc A { psql -X -q -At -d "$db" 2>&1; }
a() { session_run "${A[0]}" "${A[1]}" "$1"; }
check "session A ingests the detection and keeps its transaction open" "(1,0,0)" \
  "$(a "BEGIN; $row SELECT workorder.ingest_detections();")"

b_ingests "$row"
check "session B, ingesting the same detection, waits for A" "yes" "$waiting"

a "COMMIT;" >/dev/null
wait "$b_pid"
b_status=$?
b_out=$(cat "$b_out_file")
check "B's copy is taken in, not rejected" "0 (1,0,0)" "$b_status $b_out"
check "the detection is stored once, and no copy is rejected" "1 0" \
  "$(q "SELECT (SELECT count(*) FROM workorder.detections WHERE detection_ref = 'evt-1') || ' ' ||
               (SELECT count(*) FROM workorder.detection_rejects)")"
check "it is counted once in its aggregate" "1" \
  "$(q "SELECT sum(detections) FROM workorder.detection_aggregates WHERE kind = 'vendor'")"
check "the inbox is empty" "0" "$(q "SELECT count(*) FROM workorder.detection_inbox")"

# Again, but B sends another detection under A's reference (a camera whose counter
# restarted): once A commits, B's row is refused as the reference's reuse (WO851),
# as it is when A's detection was stored before, not taken in as a retry.
row_a="INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, detection_ref)
       VALUES ('CAM-7', 'vendor', '$detected_at', '121.02', '31.05', '0.9', 'evt-2');"
row_b="INSERT INTO workorder.detection_inbox (camera_id, kind, detected_at, lon, lat, confidence, detection_ref)
       VALUES ('CAM-7', 'vendor', '$detected_at', '121.03', '31.05', '0.9', 'evt-2');"
check "session A ingests a second detection and keeps its transaction open" "(1,0,0)" \
  "$(a "BEGIN; $row_a SELECT workorder.ingest_detections();")"
b_ingests "$row_b"
check "session B, ingesting another detection under that reference, waits for A" "yes" "$waiting"
a "COMMIT;" >/dev/null
wait "$b_pid"
b_status=$?
check "B's row is rejected, not taken in as a retry" "0 (0,1,0)" "$b_status $(cat "$b_out_file")"
check "... as WO851, the reference's reuse, and A's detection is stored as it was" "WO851 true 121.02" \
  "$(q "SELECT (SELECT error_code || ' ' || (error_message LIKE 'detection column detection_ref is not valid: ''evt-2''. The camera''s reference names another detection%')
                  FROM workorder.detection_rejects) || ' ' ||
               (SELECT ST_X(location) FROM workorder.detections WHERE detection_ref = 'evt-2')")"

echo "1..$n"
[ "$failed" -eq 0 ]
