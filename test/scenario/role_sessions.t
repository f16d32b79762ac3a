#!/usr/bin/env bash
# role_sessions.t: what a group role may read through the views that filter by
# their reader, each in a session of its own.  test/roles_test.sql runs every
# role in one transaction, where plpgsql keeps a simple expression's state, and
# with it the EXECUTE check made for whoever evaluated it first, across SET ROLE:
# suspected_duplicates passed there for a dispatcher, while a dispatcher's own
# session was refused (permission denied for function order_in_scope).
#
# A report in town 甲 waits for review as a suspected duplicate of one in town 乙.
# 甲's dispatcher reads it (without 乙's master), the district's dispatcher reads
# it with the master, a handler reads nothing (42501).
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder installed.  Prints
# TAP.  Its database and roles are dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="role_sessions_$$"
export PGOPTIONS="-c client_min_messages=warning"
roles="rs_disp_a_$$ rs_disp_d_$$ rs_hand_a_$$"

cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  for r in $roles; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1; done
}
trap cleanup EXIT

. "$here/tap.sh"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
# as ROLE SQL: SQL in a session of its own, as ROLE; prints its output, or the
# error's SQLSTATE.
as() { psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$db" -c "SET ROLE $1" -c "$2" 2>&1 | sed 's/^ERROR: *//'; }

fixture_database "$db" lifecycle_map.sql &&
  q "CREATE ROLE rs_disp_a_$$ IN ROLE workorder_dispatcher; CREATE ROLE rs_disp_d_$$ IN ROLE workorder_dispatcher;
     CREATE ROLE rs_hand_a_$$ IN ROLE workorder_handler;
     SELECT workorder.map_login('rs_disp_a_$$', 'C-990801001'); SELECT workorder.map_login('rs_disp_d_$$', 'C-990801');
     SELECT workorder.map_login('rs_hand_a_$$', 'B-um-990801001');
     UPDATE workorder.settings SET value = 'on' WHERE name = 'dedup_enabled';
     INSERT INTO workorder.settings VALUES ('dedup_merge_threshold', '0.99', 'role_sessions.t'),
                                           ('dedup_review_threshold', '0.05', 'role_sessions.t')" >/dev/null
check "a database with the lifecycle map, a dispatcher of town 甲, one of the district, a handler" 0 $?
master=$(q "SELECT (workorder.submit('hotline', 'RS-1', '0301', '桥头有人卖菜', lon => 116.1002, lat => 25.12)).id")
suspect=$(q "SELECT (workorder.submit('hotline', 'RS-2', '0301', '桥头有人在卖菜', lon => 116.0999, lat => 25.12)).id")
check "the fixture: 甲's report waits for review as a duplicate of 乙's" "$suspect/$master" \
  "$(q "SELECT order_id || '/' || master_id FROM workorder.suspected_duplicates")"
check "甲's dispatcher, in a session of its own, reads what waits for its review, without 乙's master" "$suspect/-" \
  "$(as "rs_disp_a_$$" "SELECT order_id || '/' || coalesce(master_ticket::text, '-') FROM workorder.suspected_duplicates")"
check "the district's dispatcher reads it with its master" "$suspect/$master" \
  "$(as "rs_disp_d_$$" "SELECT order_id || '/' || master_id FROM workorder.suspected_duplicates")"
check "a handler reads nothing of it" "42501" \
  "$(as "rs_hand_a_$$" "SELECT count(*) FROM workorder.suspected_duplicates")"
check "甲's dispatcher reads the dedup explanation of its report without 乙's candidate's id" "-" \
  "$(as "rs_disp_a_$$" "SELECT coalesce(candidate_id::text, '-') FROM workorder.explain_dedup($suspect)")"

echo "1..$n"
[ "$failed" -eq 0 ]
