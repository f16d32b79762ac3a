#!/usr/bin/env bash
# sla_policy_race.t: a policy that an order being made names is not deleted.
#
# submit() takes an order's SLA policy from the reference cache and locks nothing.
# An admin who points the rule elsewhere and deletes the policy in one transaction
# (what WO511's hint says to do) saw no order naming it while a submit of that rule
# was still open: the delete went through, and the order named a policy that no
# longer existed, with no escalation chain.  The delete now waits for the orders
# being made (a SHARE lock of orders at its commit) and then sees the order: WO511.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# test/fixtures/intake_map.sql.  Prints TAP.  The scratch database is dropped however
# it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_sla_race_$$"
work=$(mktemp -d /tmp/workorder-sla-race.XXXXXX)

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  jobs -p | xargs -r kill 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..4"

fixture_database "$db" intake_map.sql 2>"$work/setup.err"
check "setup: extension and the intake map" 0 "$?"
q "INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
   VALUES ('racy', 'calendar_hours', '1 hour', 'calendar_hours', '48 hours');
   UPDATE workorder.routing_rules SET sla_policy = 'racy' WHERE position = 30" >/dev/null

# The order, made in a transaction that stays open until the admin below waits on a
# lock (at most 30 s): then the admin's transaction surely ran while the order was
# being made.  (pg_stat_clear_snapshot: pg_stat_activity is read once per
# transaction otherwise.)
PGAPPNAME=sla_race_submitter psql -X -q -At -d "$db" >"$work/submit.out" 2>&1 <<'SQL' &
BEGIN;
SELECT sla_policy FROM workorder.submit('camera', 'RACE-1', 'vendor', '路口摊贩占道', lon => 121.02, lat => 31.05);
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        PERFORM pg_stat_clear_snapshot();
        EXIT WHEN EXISTS (SELECT FROM pg_stat_activity
                           WHERE application_name = 'sla_race_admin' AND wait_event_type = 'Lock');
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
COMMIT;
SQL
submitter=$!
# The admin starts once the order is made and its transaction still open: the
# submitter waits in the DO block (the first submit of a session builds its caches,
# which can take more than a second on a loaded machine).
for i in $(seq 1 300); do
  [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sla_race_submitter'
            AND state = 'active' AND query LIKE 'DO %'")" = 1 ] && break
  sleep 0.1
done
# The admin, meanwhile: the rule elsewhere, the policy deleted, in one transaction.
deleted=$(PGAPPNAME=sla_race_admin psql -X -q -At -d "$db" -v VERBOSITY=verbose 2>&1 <<'SQL' | sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\):.*/\1/p' | head -n 1
BEGIN;
UPDATE workorder.routing_rules SET sla_policy = NULL WHERE sla_policy = 'racy';
DELETE FROM workorder.sla_policies WHERE name = 'racy';
COMMIT;
SQL
)
wait "$submitter"
check "the order made meanwhile names the policy" racy "$(head -n 1 "$work/submit.out")"
check "the delete beside it waits for it and is refused (WO511)" WO511 "${deleted:-none}"
check "... and the policy the order names is still there" 1 \
  "$(q "SELECT count(*) FROM workorder.sla_policies p JOIN workorder.orders o ON o.sla_policy = p.name
        WHERE o.channel_ref = 'RACE-1'")"
[ "$failed" -eq 0 ]
