#!/usr/bin/env bash
# encoding.t: CREATE EXTENSION workorder refuses a database that is not UTF8, with
# WO004 and nothing left behind.  Reports are Chinese text read as UTF-8: in a
# SQL_ASCII database a connector could store GBK bytes, and every later report near
# one of them then failed in dedup on the bytes it could not convert.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them).
# Prints TAP.  The scratch database is dropped however it ends.
set -uo pipefail

db="workorder_encoding_$$"
cleanup() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; }
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..4"
psql -X -q -d postgres -c "CREATE DATABASE $db TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'" >/dev/null 2>&1
check "a SQL_ASCII database is made" "SQL_ASCII" \
  "$(psql -X -q -At -d "$db" -c "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()")"
out=$(psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
        -c "SET client_min_messages = warning" -c "CREATE EXTENSION workorder CASCADE" 2>&1)
check "CREATE EXTENSION is refused with WO004" "yes" "$(grep -q 'ERROR:  WO004' <<<"$out" && echo yes || echo "no: $out")"
check "... saying what to do" "yes" \
  "$(grep -q "HINT:  Create the database with ENCODING 'UTF8'" <<<"$out" && echo yes || echo "no: $out")"
check "... and nothing is left behind" "0" \
  "$(psql -X -q -At -d "$db" -c "SELECT count(*) FROM pg_extension WHERE extname IN ('workorder', 'postgis', 'btree_gist')")"
exit 0
