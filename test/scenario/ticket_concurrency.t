#!/usr/bin/env bash
# ticket_concurrency.t: workorder.next_ticket under real parallel sessions.
#
# pgbench runs 8 clients that each issue tickets into one table, first all for
# today, then spread over many days so that the first tickets of a day race each
# other.  Every ticket must be unique, none may be lost, and each day must have
# exactly one ticket 000001 (the one of the session that created the day's row).
# A last check shows that an open transaction holding a ticket does not make
# other sessions wait.  (Only the first ticket of a day waits, for the commit of
# the session creating the day's row; that is not tested here.)
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them).
# Prints TAP.  The scratch database is dropped however the script ends.
set -uo pipefail

db="workorder_ticket_conc_$$"
clients=8
per_client=500
rollover_per_client=250
bindir=$(pg_config --bindir)
pgbench="$bindir/pgbench"
work=$(mktemp -d /tmp/workorder-ticket-conc.XXXXXX)

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..13"

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" >/dev/null 2>"$work/setup.err" &&
  q "CREATE EXTENSION workorder CASCADE" >/dev/null 2>>"$work/setup.err" &&
  q "CREATE TABLE issued (t workorder.ticket NOT NULL, phase text NOT NULL)" 2>>"$work/setup.err"
setup_rc=$?
check "scratch database with the extension is set up" 0 "$setup_rc"
if [ "$setup_rc" -ne 0 ]; then
  sed 's/^/# /' "$work/setup.err"
  exit 1
fi

# Phase 1: everybody issues today's tickets.
cat >"$work/today.sql" <<'SQL'
INSERT INTO issued VALUES (workorder.next_ticket(), 'today');
SQL
"$pgbench" -n -c "$clients" -j "$clients" -t "$per_client" -f "$work/today.sql" "$db" \
  >"$work/today.log" 2>&1
rc=$?
check "pgbench: $clients clients x $per_client next_ticket() calls all succeed" 0 "$rc"
[ "$rc" -ne 0 ] && sed 's/^/# /' "$work/today.log" | tail -n 20

total=$((clients * per_client))
check "every transaction left its ticket" "$total" "$(q "SELECT count(*) FROM issued WHERE phase = 'today'")"
check "no ticket was issued twice" "$total" "$(q "SELECT count(DISTINCT t) FROM issued WHERE phase = 'today'")"
check "every ticket is of today (in Beijing) or, across midnight, of the day before" 0 \
  "$(q "SELECT count(*) FROM issued WHERE phase = 'today'
          AND workorder.ticket_day(t) NOT IN ((now() AT TIME ZONE 'Asia/Shanghai')::date,
                                             (now() AT TIME ZONE 'Asia/Shanghai')::date - 1)")"
check "sequence numbers are 1 up to at most the numbers drawn" 0 \
  "$(q "SELECT count(*) FROM issued WHERE phase = 'today'
          AND workorder.ticket_seq(t) NOT BETWEEN 1 AND (SELECT last_value FROM workorder.ticket_number_seq)")"

# Phase 2: a clock shared by the clients moves on to a fresh day every 40 tickets, so
# that all clients roll over together and the first tickets of each day race.
q "CREATE SEQUENCE rollover_clock"
cat >"$work/rollover.sql" <<'SQL'
INSERT INTO issued
VALUES (workorder.next_ticket(date '2097-01-01' + (nextval('rollover_clock') / 40)::integer), 'rollover');
SQL
before=$(q "SELECT last_value FROM workorder.ticket_number_seq")
"$pgbench" -n -c "$clients" -j "$clients" -t "$rollover_per_client" -f "$work/rollover.sql" "$db" \
  >"$work/rollover.log" 2>&1
rc=$?
check "pgbench: $clients clients x $rollover_per_client tickets over 50 rolling days all succeed" 0 "$rc"
[ "$rc" -ne 0 ] && sed 's/^/# /' "$work/rollover.log" | tail -n 20

total=$((clients * rollover_per_client))
check "every transaction left its ticket" "$total" "$(q "SELECT count(*) FROM issued WHERE phase = 'rollover'")"
check "no ticket was issued twice" "$total" "$(q "SELECT count(DISTINCT t) FROM issued WHERE phase = 'rollover'")"
check "each day has exactly one ticket 000001" 0 \
  "$(q "SELECT count(*) FROM (SELECT workorder.ticket_day(t) AS day,
                                     count(*) FILTER (WHERE workorder.ticket_seq(t) = 1) AS firsts
                                FROM issued WHERE phase = 'rollover' GROUP BY 1) x
         WHERE firsts <> 1")"
after=$(q "SELECT last_value FROM workorder.ticket_number_seq")
echo "# numbers drawn: $((after - before)) for $total tickets; second draws at day rollover: $((after - before - total))"

# Phase 3: an open transaction that has issued a ticket does not block others.  The
# holder draws ticket 2 and sleeps in its open transaction (up to 30 s); the other
# session starts once the holder is seen asleep, and the holder is cancelled when the
# checks are done.
q "SELECT workorder.next_ticket('2097-12-31')" >/dev/null
PGAPPNAME=ticket_holder_$$ psql -X -q -d "$db" -c "BEGIN" -c "SELECT workorder.next_ticket('2097-12-31')" \
  -c "SELECT pg_sleep(30)" -c "COMMIT" >/dev/null 2>&1 &
holder=$!
holder_asleep() {
  [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ticket_holder_$$' AND wait_event = 'PgSleep'")" = 1 ]
}
for i in $(seq 1 300); do holder_asleep && break; sleep 0.1; done
# The time is the statement's own (from its start to its result), not psql's.
other=$(psql -X -q -At -F ' ' -d "$db" -c "SET statement_timeout = '1s'" \
  -c "SELECT workorder.ticket_seq(t), round(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)
        FROM workorder.next_ticket('2097-12-31') t" 2>&1 | tr '\n' ' ' | sed 's/ *$//')
still_open=$(holder_asleep && echo yes || echo no)
echo "# the second session's ticket took ${other#* } ms; the holder was still in its transaction then: $still_open"
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'ticket_holder_$$'" >/dev/null
wait "$holder"
check "a second session issues a ticket while the first still holds one open" 3 "${other%% *}"
check "without waiting for the first to commit (within 1 s, the first still open after)" "1 yes" \
  "$(awk -v t="${other#* }" 'BEGIN { print (t ~ /^[0-9]+$/ && t + 0 < 1000) ? 1 : "0 (" t ")" }') $still_open"

# Phase 4: a sequence that caches values (an owner tuning it) makes a session's
# numbers lag behind another's.  Session A draws for a day (and caches a block);
# session B then opens the next day with a number from a later block; A's next
# ticket of that day draws until it passes the day's first number.  It drew once
# more, and failed: "cannot make a ticket number with sequence number -47", with a
# hint to pass a number from 1 to 999999.
q "ALTER SEQUENCE workorder.ticket_number_seq CACHE 50" >/dev/null
PGAPPNAME=ticket_cached_$$ psql -X -q -At -d "$db" -c "SELECT workorder.next_ticket('2096-06-10')" \
  -c "SELECT pg_sleep(30)" -c "SELECT workorder.ticket_seq(workorder.next_ticket('2096-06-11'))" \
  >"$work/cached.out" 2>&1 &
cached=$!
for i in $(seq 1 300); do
  [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ticket_cached_$$' AND wait_event = 'PgSleep'")" = 1 ] && break
  sleep 0.1
done
opened=$(q "SELECT workorder.ticket_seq(workorder.next_ticket('2096-06-11'))")
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'ticket_cached_$$'" >/dev/null
wait "$cached"
q "ALTER SEQUENCE workorder.ticket_number_seq CACHE 1" >/dev/null
check "with a cached sequence, a session whose numbers lag behind the day's first still issues that day's tickets" \
  "1 ok" "$opened $(tail -n 1 "$work/cached.out" | grep -Eq '^[0-9]+$' && echo ok || tail -n 2 "$work/cached.out" | tr '\n' ' ')"

[ "$failed" -eq 0 ]
