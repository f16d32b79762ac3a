#!/usr/bin/env bash
# loader_lost_update.t: two loads of one unit, category or channel at once each keep
# what the other changed.
#
# A row loader changes the keys its object has and keeps the others, by reading the
# object over the row there.  It read that row with its statement's snapshot: a load
# that set a unit's phone while another session was taking the unit out of use
# waited for the other's row lock, then wrote "active" back as it had read it, and
# the unit was in use again, routed orders.  Categories and channels the same.  The
# row is now read FOR NO KEY UPDATE, as it is after the other load.  A row the other
# load has just created cannot be read so until it commits: two loads of a new
# code both read nothing, and the second wrote over all the first had set; loads of
# one code now take turns.  And the catalogue's derived table: two transactions
# changing two different categories made the second fail (a bare 23505).
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# test/fixtures/intake_map.sql.  Prints TAP.  The scratch database is dropped however
# it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_loader_race_$$"
work=$(mktemp -d /tmp/workorder-loader-race.XXXXXX)

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  [ -n "${FIRST_PID:-}" ] && kill "$FIRST_PID" 2>/dev/null
  jobs -p | xargs -r kill 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..8"

fixture_database "$db" intake_map.sql 2>/dev/null
check "setup: extension and the intake map" 0 "$?"

coproc FIRST { psql -X -q -At -d "$db" 2>&1; }
first() { session_run "${FIRST[0]}" "${FIRST[1]}" "$1"; }

# race FIRST_CALL SECOND_CALL: FIRST_CALL in an open transaction, SECOND_CALL beside
# it (it waits for the row), then the first commits and the second ends.
race() {
  local second
  first "BEGIN; SELECT $1 IS NULL;" >/dev/null
  psql -X -q -At -d "$db" -c "SELECT $2 IS NULL" >"$work/second.out" 2>&1 &
  second=$!
  lock_waiters "$db" 1 >/dev/null
  first "COMMIT;" >/dev/null
  wait "$second"
}

race "workorder.load_unit('{\"code\": \"D-water\", \"active\": false}')" \
     "workorder.load_unit('{\"code\": \"D-water\", \"phone\": \"0757-86001234\"}')"
check "a unit taken out of use by one load keeps out of use, and gets the phone the other load set" \
  "false 0757-86001234" "$(q "SELECT active || ' ' || phone FROM workorder.units WHERE code = 'D-water'")"

race "workorder.load_categories('[{\"code\": \"WATER\", \"active\": false}]')" \
     "workorder.load_categories('[{\"code\": \"WATER\", \"description\": \"供水与排水\"}]')"
check "a category: the same" "false 供水与排水" \
  "$(q "SELECT active || ' ' || description FROM workorder.categories WHERE code = 'WATER'")"

race "workorder.load_channels('[{\"code\": \"camera\", \"active\": false}]')" \
     "workorder.load_channels('[{\"code\": \"camera\", \"name\": \"视频AI巡查\"}]')"
check "a channel: the same" "false 视频AI巡查" \
  "$(q "SELECT active || ' ' || name FROM workorder.channels WHERE code = 'camera'")"
race "workorder.load_unit('{\"code\": \"D-new\", \"name\": \"新局\", \"kind\": \"department\", \"level\": \"district\", \"department_kind\": \"water\", \"area_code\": \"990401\", \"phone\": \"0757-86009999\", \"active\": false}')" \
     "workorder.load_unit('{\"code\": \"D-new\", \"name\": \"新局\", \"kind\": \"department\", \"level\": \"district\", \"department_kind\": \"water\", \"area_code\": \"990401\"}')"
check "a unit that one load creates out of use, with a phone, keeps both through a load of it beside" \
  "false 0757-86009999" "$(q "SELECT active || ' ' || phone FROM workorder.units WHERE code = 'D-new'")"

race "workorder.load_categories('[{\"code\": \"NEWCAT\", \"name\": \"新类\", \"handling_level\": \"town\", \"active\": false}]')" \
     "workorder.load_categories('[{\"code\": \"NEWCAT\", \"name\": \"新类\"}]')"
check "a new category: the same" "false town" \
  "$(q "SELECT active || ' ' || handling_level FROM workorder.categories WHERE code = 'NEWCAT'")"

race "workorder.load_channels('[{\"code\": \"wx\", \"name\": \"微信\", \"kind\": \"platform\", \"replies\": false, \"active\": false}]')" \
     "workorder.load_channels('[{\"code\": \"wx\", \"name\": \"微信\", \"kind\": \"platform\"}]')"
check "a new channel: the same" "false false" \
  "$(q "SELECT active || ' ' || replies FROM workorder.channels WHERE code = 'wx'")"

race "workorder.load_categories('[{\"code\": \"WATER\", \"description\": \"水务\"}]')" \
     "workorder.load_categories('[{\"code\": \"MARKET\", \"description\": \"市场监管\"}]')"
check "two loads of two different categories at once both land, and the derived table has both" \
  "f|水务 市场监管|0" \
  "$(cat "$work/second.out")|$(q "SELECT string_agg(description, ' ' ORDER BY code DESC) FROM workorder.categories WHERE code IN ('WATER', 'MARKET')")|$(q "SELECT count(*) FROM (TABLE workorder.category_effective EXCEPT SELECT * FROM workorder.category_defaults) x")"
[ "$failed" -eq 0 ]
