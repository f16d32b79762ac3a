#!/usr/bin/env bash
# deadline_poison.t: one order whose deadline events cannot be logged neither stops
# the worker from marking the others nor makes it spin on the failing order.
#
# In a scratch database (dropped however the script ends) on test/fixtures/
# deadline_map.sql (the policy 'instant': accept 1 s, resolve 3 s, calendar clock,
# warning at 50 %, for priority high); a trigger outside the extension
# (public.poison_note, standing in for a broken row or a lock timeout) fails every
# notification of one order, and counts each attempt in a sequence (which a
# rollback does not undo).  Three orders are submitted, one of
# them poisoned; the worker alone runs the tasks.  Asserted: the two others are
# marked overdue; the poisoned one is not, and the worker tried it a bounded number
# of times in the ten seconds watched.  (The first error rolled back the whole pass,
# so the others were never marked; and the wake that the failed order's rolled-back
# UPDATE asked for was sent anyway, so the worker ran the task again at once, about
# ninety times a second, while that order's next deadline was within a naptime.)
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder in
# shared_preload_libraries (scripts/test.sh sets them).  Prints TAP.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="deadline_poison_$$"
work=$(mktemp -d /tmp/workorder-deadline-poison.XXXXXX)
export PGOPTIONS="-c client_min_messages=warning"
# The most attempts on the poisoned order in the ten seconds watched: a pass at each
# of the others' deadlines, at the worker's own wakes and at its naptime make a
# dozen or so; spinning made hundreds.
max_attempts=40

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }

cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$here/tap.sh"

echo "1..5"

fixture_database "$db" deadline_map.sql 2>"$work/setup.err" &&
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>>"$work/setup.err" <<'SQL'
CREATE TABLE public.poisoned (id bigint PRIMARY KEY);
CREATE SEQUENCE public.poison_attempts;
CREATE FUNCTION public.poison_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM public.poisoned p WHERE p.id = NEW.order_id) THEN
        PERFORM nextval('public.poison_attempts');
        RAISE EXCEPTION 'a broken order (deadline_poison.t)';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER poison_note BEFORE INSERT ON workorder.notifications
    FOR EACH ROW EXECUTE FUNCTION public.poison_note();
SQL
rc=$?
check "scratch database with a map, the policy 'instant' and the poison trigger is set up" 0 "$rc"
if [ "$rc" -ne 0 ]; then
  sed 's/^/# /' "$work/setup.err"
  exit 1
fi
took=$(wait_until 20 "$db" "SELECT EXISTS (SELECT FROM workorder.worker_status
                                            WHERE datname = current_database() AND state = 'running')")
check "the database's worker runs" t "$([ "$took" != timeout ] && echo t || echo f)"

# Three orders in one transaction, the first poisoned before any deadline comes.
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>"$work/submit.err" <<'SQL'
BEGIN;
CREATE TABLE watched AS
SELECT (workorder.submit('hotline', 'P-' || i, '0301', '时限测试' || i, lon => 123.1, lat => 30.1, priority => 'high')).id
  FROM generate_series(1, 3) i;
INSERT INTO public.poisoned SELECT min(id) FROM watched;
COMMIT;
SQL
started=$(ms)
took=$(wait_until 20 "$db" "SELECT count(*) FILTER (WHERE o.overdue) = 2
                              FROM watched w JOIN workorder.orders o USING (id)
                             WHERE o.id NOT IN (SELECT id FROM public.poisoned)")
echo "# the two others were marked overdue ${took} ms after they were submitted (deadline 3000 ms after)"
check "the two other orders are marked overdue, the poisoned one notwithstanding" t \
  "$([ "$took" != timeout ] && echo t || echo f)"
# Watch for ten seconds from the submit: through every deadline, and then a while.
rest=$(( 10000 - ($(ms) - started) ))
[ "$rest" -gt 0 ] && sleep "$(awk -v r="$rest" 'BEGIN {printf "%.3f", r / 1000}')"
check "the poisoned order stays unmarked" f \
  "$(q "$db" "SELECT o.overdue FROM workorder.orders o JOIN public.poisoned p USING (id)")"
attempts=$(q "$db" "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.poison_attempts")
echo "# attempts on the poisoned order in 10 s: $attempts"
check "the worker tried the poisoned order at most $max_attempts times in 10 s (it spun, about 90 a second)" t \
  "$([ "$attempts" -le "$max_attempts" ] && echo t || echo f)"
