#!/usr/bin/env bash
# reference_refresh.t: what the per-backend caches answer (the reference cache of
# src/refcache.c, the map in memory of src/areamap.c) follows a change another
# session commits, within a transaction that is already open, as the queries they
# replace do: under READ COMMITTED each statement of such a query takes a new
# snapshot and sees the change.
#
# A session opens a transaction and asks locate() where a point is (a village) and
# whether the camera channel is active (it is).  A second session moves the village
# away and deactivates the channel, and commits.  The first session, in the same
# transaction, then gets the town for the point and an inactive channel; the query
# behind locate() (workorder.locate_map off) agrees; and a camera report is refused.
# Before refcache.c took in other sessions' invalidations at each lookup, the first
# session kept the village and the active channel until it happened to lock a
# relation it had not locked before in that transaction.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder installed.  Prints
# TAP.  Its database is dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="reference_refresh_$$"
export PGOPTIONS="-c client_min_messages=warning"

cleanup() {
  [ -n "${SESSION_PID:-}" ] && kill "$SESSION_PID" 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT

. "$here/tap.sh"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

fixture_database "$db" intake_map.sql
check "a database with the extension and the intake map" 0 $?

# The first session, kept open; inside SQL runs SQL in it and prints what it printed.
coproc SESSION { psql -X -q -At -d "$db" 2>&1; }
inside() { session_run "${SESSION[0]}" "${SESSION[1]}" "$1"; }

village=$(q "SELECT (workorder.locate(121.03, 31.05)).area_code")
town=$(q "SELECT parent_code FROM workorder.areas WHERE code = '$village'")
check "the point lies in a village ($village) of a town ($town)" "t" \
  "$([ -n "$village" ] && [ -n "$town" ] && [ "$village" != "$town" ] && echo t || echo f)"

inside "BEGIN;" >/dev/null
check "in an open transaction, locate() finds the village" "$village" \
  "$(inside "SELECT (workorder.locate(121.03, 31.05)).area_code;")"
check "... and the camera channel is active" "t" "$(inside "SELECT workorder.channel_is_active('camera');")"

q "UPDATE workorder.areas SET geom = ST_Multi(ST_Translate(geom, 5, 5)) WHERE code = '$village';
   UPDATE workorder.channels SET active = false WHERE code = 'camera';" >/dev/null
check "another session moved the village away and deactivated the channel, and committed" \
  "$town false" "$(q "SELECT (workorder.locate(121.03, 31.05)).area_code || ' ' || workorder.channel_is_active('camera')")"

check "the open transaction's next lookup sees the channel inactive (the reference cache)" "f" \
  "$(inside "SELECT workorder.channel_is_active('camera');")"
check "its next locate() sees the village moved (the map in memory)" "$town" \
  "$(inside "SELECT (workorder.locate(121.03, 31.05)).area_code;")"
check "... and a report of that channel is refused as from an inactive channel (WO305)" "ERROR:  WO305" \
  "$(inside "\\set VERBOSITY sqlstate
SAVEPOINT s; SELECT workorder.submit('camera', 'RR-1', 'vendor', '占道', lon => 121.03, lat => 31.05); ROLLBACK TO SAVEPOINT s;")"
check "the query behind locate() agrees (it takes new locks: asked last)" "$town" \
  "$(inside "SET LOCAL workorder.locate_map = off; SELECT (workorder.locate(121.03, 31.05)).area_code; SET LOCAL workorder.locate_map = on;")"
inside "ROLLBACK;" >/dev/null

echo "1..$n"
[ "$failed" -eq 0 ]
