#!/usr/bin/env bash
# worker_unservable.t: a database that stops taking a worker (ALTER DATABASE ...
# ALLOW_CONNECTIONS false, or IS_TEMPLATE true) loses the worker it has, within a
# few launcher passes, and gets one again when it takes one.  The launcher only
# checked this before starting a worker, so a worker stayed connected to a database
# closed to connections, and to a template, where it made CREATE DATABASE ...
# TEMPLATE fail for anyone but the owner (whose statement stops the worker itself).
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder preloaded (launcher
# naptime 5 s).  Prints TAP.  Its databases and role are dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
db="worker_unservable_$$"
copy="worker_unservable_copy_$$"
creator="worker_unservable_creator_$$"
export PGOPTIONS="-c client_min_messages=warning"

cleanup() {
  psql -X -q -d postgres -c "ALTER DATABASE $db IS_TEMPLATE false" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $copy WITH (FORCE)" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS $creator" >/dev/null 2>&1
}
trap cleanup EXIT

. "$here/tap.sh"

p() { psql -X -q -At -d postgres -c "$1" 2>&1; }

# workers: how many workorder workers are connected to the database.
workers() { p "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'workorder worker' AND datname = '$db'"; }
# until_workers N: waits up to 30 s for N workers, and prints the count it ends with.
until_workers() {
  local i count
  for i in $(seq 1 300); do
    count=$(workers)
    [ "$count" = "$1" ] && break
    sleep 0.1
  done
  printf '%s' "$count"
}

p "CREATE DATABASE $db" >/dev/null
psql -X -q -d "$db" -c "CREATE EXTENSION workorder CASCADE" >/dev/null 2>&1
check "a database with the extension has its worker" "1" "$(until_workers 1)"

p "ALTER DATABASE $db ALLOW_CONNECTIONS false" >/dev/null
check "closed to connections, it loses its worker" "0" "$(until_workers 0)"
p "ALTER DATABASE $db ALLOW_CONNECTIONS true" >/dev/null
check "open again, it gets one again" "1" "$(until_workers 1)"

p "ALTER DATABASE $db IS_TEMPLATE true" >/dev/null
check "made a template, it loses its worker" "0" "$(until_workers 0)"
p "CREATE ROLE $creator LOGIN CREATEDB" >/dev/null
check "so a role that does not own it can copy it" "" \
  "$(psql -X -q -At -U "$creator" -d postgres -c "CREATE DATABASE $copy TEMPLATE $db" 2>&1)"

echo "1..$n"
[ "$failed" -eq 0 ]
