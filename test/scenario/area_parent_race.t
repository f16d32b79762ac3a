#!/usr/bin/env bash
# area_parent_race.t: an area loaded while its parent is being changed takes the
# parent as it ends up.
#
# areas_before_write derives a new area's path names and jurisdiction from its
# parent's row.  It read the parent without a lock: a town loaded while another
# session renamed its district and took it out of jurisdiction did not wait, kept
# the old name in its path and stayed in jurisdiction under a district that was
# not (the district's trigger, which mends its children, could not see the new
# town), and locate() answered so for good.  The parent is now read FOR SHARE.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# test/fixtures/intake_map.sql.  Prints TAP.  The scratch database is dropped however
# it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_area_race_$$"
work=$(mktemp -d /tmp/workorder-area-race.XXXXXX)

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  [ -n "${CHANGER_PID:-}" ] && kill "$CHANGER_PID" 2>/dev/null
  jobs -p | xargs -r kill 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..4"

fixture_database "$db" intake_map.sql 2>/dev/null
check "setup: extension and the intake map" 0 "$?"

# The district renamed and taken out of jurisdiction, its transaction left open.
coproc CHANGER { psql -X -q -At -d "$db" 2>&1; }
changer() { session_run "${CHANGER[0]}" "${CHANGER[1]}" "$1"; }
changer "BEGIN; UPDATE workorder.areas SET name = '新试点区', in_jurisdiction = false WHERE code = '990401';" >/dev/null

# Meanwhile a new town is loaded under it.
psql -X -q -At -d "$db" >"$work/load.out" 2>&1 <<'SQL' &
SELECT workorder.load_area('990401009', '新镇', 'town', '990401', ST_MakeEnvelope(121.0, 31.0, 121.05, 31.05, 4326)) IS NOT NULL;
SQL
loader=$!
check "the load waits for the change of its parent" yes "$(lock_waiters "$db" 1)"

changer "COMMIT;" >/dev/null
wait "$loader"
check "the load succeeds once the change has committed" t "$(head -n 1 "$work/load.out")"
check "the new town has the district as it ended up: its new name in the path, out of jurisdiction" \
  "{新试点区,新镇} false" \
  "$(q "SELECT path_names::text || ' ' || in_jurisdiction FROM workorder.areas WHERE code = '990401009'")"
[ "$failed" -eq 0 ]
