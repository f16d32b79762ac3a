#!/usr/bin/env bash
# intake_copy.t: a channel connector fills the inbox with COPY, for its own
# channel only.
#
# A login of workorder_intake mapped to channel hotline: \copy of its own rows
# works; a \copy batch with one row of another channel is refused whole (WO952)
# and writes nothing; a row whose channel is NULL, blank, or its own code with
# blanks or a byte order mark around it is its own channel's (the trigger writes
# the code), not a batch refused; it reads its rows back through
# workorder.inbox_mine, which shows no other channel's rows; it cannot read the
# inbox table or set a row's outcome.  (Row-level security would make PostgreSQL refuse COPY FROM; this is
# why the inbox is guarded by a trigger instead, and why this needs a live psql.)
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them).
# Prints TAP.  Its database and role are dropped at the end.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="intake_copy_$$"
role="wo_copy_intake_$$"
export PGOPTIONS="-c client_min_messages=warning"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
}
trap cleanup EXIT
. "$here/tap.sh"

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" >/dev/null
q "CREATE EXTENSION workorder CASCADE" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$repo/test/fixtures/lifecycle_map.sql" >/dev/null
# The database's worker idles (the test drains by hand): its naptime pass would
# otherwise drain the rows that must still be pending when they are looked at.  Wait
# (10 s at most) until it has seen the setting: no pass begun before it is left.
q "INSERT INTO workorder.settings VALUES ('worker_enabled', 'off', 'intake_copy.t drains by hand');
   SELECT workorder.wake_worker()" >/dev/null
for i in $(seq 1 100); do
  [ "$(q "SELECT count(*) FROM workorder.worker_status
           WHERE datname = current_database() AND pid IS NOT NULL AND state <> 'disabled'")" = 0 ] && break
  sleep 0.1
done
q "SELECT workorder.load_channels('[{\"code\": \"app\", \"name\": \"随手拍\", \"kind\": \"platform\"}]')" >/dev/null
q "INSERT INTO workorder.inbox (channel, channel_ref, description) VALUES ('app', 'APP-1', '别的渠道')"
q "CREATE ROLE $role IN ROLE workorder_intake" >/dev/null
q "SELECT workorder.map_login('$role', channel_code => 'hotline')" >/dev/null

# as_intake runs psql as the connector, the SQL on stdin; prints output and errors.
as_intake() { PGOPTIONS="-c client_min_messages=warning -c role=$role" psql -X -q -At -d "$db" 2>&1; }

out=$(printf '%s\n' "\\copy workorder.inbox (channel, channel_ref, category, description, lon, lat) FROM STDIN WITH (FORMAT csv)" \
  'hotline,C-1,0301,占道一,116.05,25.05' 'hotline,C-2,0301,占道二,116.05,25.05' '\.' | as_intake)
check "a connector COPYs its own channel's rows into the inbox" "" "$out"
check "both rows are there, pending" "C-1 pending|C-2 pending" \
  "$(q "SELECT string_agg(channel_ref || ' ' || state, '|' ORDER BY id) FROM workorder.inbox WHERE channel_ref LIKE 'C-%'")"

out=$(printf '%s\n' "\\set VERBOSITY verbose" "\\copy workorder.inbox (channel, channel_ref, description) FROM STDIN WITH (FORMAT csv)" \
  'hotline,C-3,自己的' 'app,C-4,别人的' '\.' | as_intake)
check "a COPY batch with a row of another channel is refused: WO952" 1 "$(echo "$out" | grep -c 'ERROR:  WO952: intake role')"
check "and writes nothing" 0 "$(q "SELECT count(*) FROM workorder.inbox WHERE channel_ref IN ('C-3', 'C-4')")"

# A CSV saved by a spreadsheet: a byte order mark before the first field, a row
# without its channel, one with blanks around it.
out=$({ echo "\\copy workorder.inbox (channel, channel_ref, category, description, lon, lat) FROM STDIN WITH (FORMAT csv)"
       printf '\xef\xbb\xbfhotline,C-6,0301,一,116.05,25.05\n,C-7,0301,二,116.05,25.05\n" hotline\t",C-8,0301,三,116.05 ,25.05\xc2\xa0\n'
       echo '\.'; } | as_intake)
check "a batch whose rows have a byte order mark, no channel or blanks around it is not refused" "" "$out"
check "those rows are the connector's own channel's" "C-6 hotline|C-7 hotline|C-8 hotline" \
  "$(q "SELECT string_agg(channel_ref || ' ' || channel, '|' ORDER BY id) FROM workorder.inbox WHERE channel_ref IN ('C-6', 'C-7', 'C-8')")"
check "and drained, they become its orders" "C-6 accepted hotline|C-7 accepted hotline|C-8 accepted hotline" \
  "$(q "SELECT count(*) FROM workorder.drain_inbox()" >/dev/null
     q "SELECT string_agg(i.channel_ref || ' ' || i.state || ' ' || o.channel_code, '|' ORDER BY i.id) FROM workorder.inbox i LEFT JOIN workorder.orders o ON o.id = i.order_id WHERE i.channel_ref IN ('C-6', 'C-7', 'C-8')")"
out=$(printf '%s\n' "\\set VERBOSITY verbose" "\\copy workorder.inbox (channel, channel_ref, description) FROM STDIN WITH (FORMAT csv)" \
  ',C-9,没有渠道' ' app ,C-10,别人的' '\.' | as_intake)
check "another channel's code with blanks around it is still another channel: WO952" 1 "$(echo "$out" | grep -c "ERROR:  WO952: intake role $role may not fill the inbox for channel ' app '")"
check "and nothing of that batch is written" 0 "$(q "SELECT count(*) FROM workorder.inbox WHERE channel_ref IN ('C-9', 'C-10')")"

check "the connector reads back its own rows through inbox_mine, and no other channel's" "C-1|C-2|C-6|C-7|C-8" \
  "$(echo "SELECT string_agg(channel_ref, '|' ORDER BY id) FROM workorder.inbox_mine" | as_intake)"
check "it cannot read the inbox table" 1 \
  "$(echo "SELECT count(*) FROM workorder.inbox" | as_intake | grep -c 'permission denied')"
check "nor write a row's outcome" 1 \
  "$(echo "INSERT INTO workorder.inbox (channel, channel_ref, description, state) VALUES ('hotline', 'C-5', 'x', 'rejected')" | as_intake | grep -c 'permission denied')"

echo "1..$n"
[ "$failed" -eq 0 ]
