#!/usr/bin/env bash
# replica_cache.t: on a logical replication subscriber, a backend already connected
# sees the reference data and the calendar days that replication brings, as soon as
# they are applied.
#
# The caches (src/refcache.c, src/calendar.c) are told of a change by a relcache
# invalidation that a trigger on each table sends.  Those were statement triggers,
# and the apply worker of a subscription fires no statement trigger: a backend that
# had read a setting or a calendar kept its copy for good, and only new sessions
# saw a replicated setting or holiday.  Each table has a row trigger too now,
# enabled REPLICA, which the apply worker fires.
#
# A cluster of its own (wal_level = logical; the suite's cluster is not changed),
# two databases with the extension: pub publishes workorder.settings and
# workorder.calendar_days, sub subscribes.  A session on sub reads the setting
# district_leader and a deadline on the calendar cn and stays open; pub writes the
# setting and a holiday on the deadline's day; once both rows are on sub, the same
# session reads them again.  The cluster is stopped and removed however the script
# ends.
#
# Needs the extension installed and the rights to start a cluster (as root, it runs
# as postgres: scripts/cluster.sh).  Prints TAP.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d /tmp/workorder-replica.XXXXXX)
chmod 755 "$work"
port=$((50000 + $$ % 10000))
slot="replica_cache_$$"

export PGOPTIONS="-c client_min_messages=warning"

cleanup() {
  [ -n "${SUB_PID:-}" ] && kill "$SUB_PID" 2>/dev/null
  jobs -p | xargs -r kill 2>/dev/null
  bash "$repo/scripts/cluster.sh" stop "$work/cluster" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..5"

export PGHOST="$work/cluster/socket" PGPORT="$port" PGUSER=postgres
{ bash "$repo/scripts/cluster.sh" start "$work/cluster" "$port" &&
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "ALTER SYSTEM SET wal_level = logical" &&
  bash "$repo/scripts/cluster.sh" stop "$work/cluster" &&
  bash "$repo/scripts/cluster.sh" start "$work/cluster" "$port" &&
  for db in pub sub; do
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" &&
      psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION workorder CASCADE" \
        -c "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'replica_cache.t')" || exit 1
  done &&
  psql -X -q -v ON_ERROR_STOP=1 -d pub \
    -c "CREATE PUBLICATION reference FOR TABLE workorder.settings, workorder.calendar_days" \
    -c "SELECT pg_create_logical_replication_slot('$slot', 'pgoutput')" &&
  psql -X -q -v ON_ERROR_STOP=1 -d sub \
    -c "CREATE SUBSCRIPTION reference CONNECTION 'host=$work/cluster/socket port=$port dbname=pub user=postgres'
        PUBLICATION reference WITH (create_slot = false, slot_name = '$slot', copy_data = false)"
} >"$work/setup.log" 2>&1
rc=$?
check "setup: a cluster with wal_level logical, pub publishing settings and calendar days, sub subscribing" 0 "$rc"
if [ "$rc" -ne 0 ]; then
  tail -n 5 "$work/setup.log" | sed 's/^/# /'
  exit 1
fi

coproc SUB { psql -X -q -At -d sub 2>&1; }
SUB_PID=$SUB_PID
sub() { session_run "${SUB[0]}" "${SUB[1]}" "$1"; }
check "an open session on sub reads the setting's default and Tuesday's deadline" \
  "none|2026-03-17" \
  "$(sub "SELECT workorder.setting('district_leader', 'none') || '|' ||
                 (workorder.add_working_days('2026-03-16 10:00+08', 1) AT TIME ZONE 'Asia/Shanghai')::date;")"

psql -X -q -v ON_ERROR_STOP=1 -d pub \
  -c "INSERT INTO workorder.settings (name, value, description) VALUES ('district_leader', '王区长', 'replicated')" \
  -c "INSERT INTO workorder.calendar_days (calendar_code, day, kind, name) VALUES ('cn', '2026-03-17', 'holiday', 'replicated')" \
  >/dev/null 2>"$work/pub.err"
arrived=$(wait_until 30 sub "SELECT count(*) = 2 FROM (SELECT 1 FROM workorder.settings WHERE name = 'district_leader'
                                                      UNION ALL
                                                      SELECT 1 FROM workorder.calendar_days WHERE calendar_code = 'cn' AND day = '2026-03-17'
                                                       AND kind = 'holiday') x")
check "both rows are replicated to sub" t "$([ "$arrived" != timeout ] && echo t || echo f)"
check "the open session sees the replicated setting" "王区长" \
  "$(sub "SELECT workorder.setting('district_leader', 'none');")"
check "... and the replicated holiday: the deadline is Wednesday" "2026-03-18" \
  "$(sub "SELECT (workorder.add_working_days('2026-03-16 10:00+08', 1) AT TIME ZONE 'Asia/Shanghai')::date;")"
sub "\\q" >/dev/null 2>&1
psql -X -q -d sub -c "DROP SUBSCRIPTION reference" >/dev/null 2>&1
[ "$failed" -eq 0 ]
