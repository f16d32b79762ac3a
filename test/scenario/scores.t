#!/usr/bin/env bash
# scores.t: the incremental scores equal a full recompute from the event log.
#
#   (a) Out-of-order commits: a transaction holds event ids uncommitted while a later
#       one commits; score_update passes meanwhile never move the watermark past the
#       uncommitted ids, and after the commit the scores count both batches.
#   (c) An older transaction with an xid and a younger one holding events are both
#       open when a pass takes its mark, and the older commits first: the mark is
#       not final until the younger has ended (a snapshot's xmax would say it is).
#   (e) A pass under REPEATABLE READ does not take a mark as final while its
#       snapshot cannot see the events below it.
#   (d) A transaction with an xid left open in another database of the cluster does
#       not hold the scores back (it held every snapshot's xmin, and the watermark,
#       until it ended); one prepared in this database does.
#   (b) A randomised history: 4 sessions write random batches of orders (random paths
#       through the lifecycle, over 4 months, several units) concurrently, while a
#       fifth runs score_update in a loop and the worker runs it too.  Once every
#       event is processed, unit_scores equals recompute_scores() exactly (every
#       row and column, day, week and month), and the counts add up to the log.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder preloaded.  The
# scratch database is dropped however the script ends.
set -uo pipefail

db="scores_test_$$"
repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
history="$repo/test/fixtures/score_history.sql"
work=$(mktemp -d /tmp/workorder-scores.XXXXXX)
export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
cleanup() {
  jobs -p | xargs -r kill 2>/dev/null
  wait 2>/dev/null
  psql -X -q -d "$db" -c "ROLLBACK PREPARED 'scores_t_$$'" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

# batch FIRST ORDERS FIRST_DAY DAYS SEED: one generated batch, in one transaction.
batch() {
  psql -X -q -1 -v ON_ERROR_STOP=1 -d "$db" -v first="$1" -v orders="$2" -v first_day="$3" \
       -v days="$4" -v seed="$5" -f "$history" >/dev/null
}
# hold NAME [psql args...]: in the background, a session named NAME runs its args
# inside BEGIN and then waits, transaction open, until a session named release_NAME
# appears; then commits.  wait_held NAME returns once it waits.  The session is in
# the test's database, or in $hold_db when that is set.
hold() {
  local name=$1
  shift
  ( PGAPPNAME="$name" psql -X -q -v ON_ERROR_STOP=1 -d "${hold_db:-$db}" -c "BEGIN" "$@" \
      -c "DO \$\$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'release_$name')
                   LOOP PERFORM pg_sleep(0.05); PERFORM pg_stat_clear_snapshot(); END LOOP; END \$\$" \
      -c "COMMIT" >/dev/null ) &
}
wait_held() {
  local i
  for i in $(seq 1 600); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$1' AND query LIKE 'DO%'")" = 1 ] && return 0
    sleep 0.1
  done
  return 1
}
release() { PGAPPNAME="release_$1" psql -X -q -d "$db" -c "SELECT pg_sleep(1)" >/dev/null & }
# catch_up: runs score_update until the watermark reaches the newest event (30 s at most).
catch_up() {
  local i
  for i in $(seq 1 300); do
    q "SELECT workorder.run_task('score_update')" >/dev/null
    [ "$(q "SELECT (SELECT processed_through FROM workorder.score_progress)
                   >= (SELECT coalesce(max(id), 0) FROM workorder.order_events)")" = t ] && return 0
    sleep 0.1
  done
  return 1
}
# differences: rows of unit_scores and of a full recompute that the other lacks.
differences() {
  q "CREATE TABLE incremental AS SELECT * FROM workorder.unit_scores;
     SELECT workorder.recompute_scores();
     SELECT (SELECT count(*) FROM (SELECT * FROM incremental EXCEPT SELECT * FROM workorder.unit_scores) a)
          + (SELECT count(*) FROM (SELECT * FROM workorder.unit_scores EXCEPT SELECT * FROM incremental) b);
     DROP TABLE incremental;" | tail -n 1
}

echo "1..19"
psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null
q "CREATE EXTENSION workorder CASCADE" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$repo/test/fixtures/lifecycle_map.sql" >/dev/null
q "SELECT workorder.load_channels('[{\"code\": \"gen\", \"name\": \"generated\", \"kind\": \"hotline\", \"replies\": false}]')" >/dev/null
# (a) and (c) control every transaction: no worker passes in between.
q "INSERT INTO workorder.settings VALUES ('worker_enabled', 'off', 'scores.t: (a) and (c) without the worker')" >/dev/null

# (a) A holds its events uncommitted until released; B commits later ids meanwhile.
hold "holder_$$" -v first=1 -v orders=200 -v first_day=2026-08-01 -v days=30 -v seed=0.1 -f "$history"
holder=$!
wait_held "holder_$$"
batch 1001 200 2026-08-01 30 0.2
seen=0
for i in 1 2 3 4 5 6; do
  q "SELECT workorder.run_task('score_update')" >/dev/null
  seen=$(q "SELECT greatest($seen, processed_through) FROM workorder.score_progress")
done
open=$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'holder_$$' AND xact_start IS NOT NULL")
release "holder_$$"
wait "$holder"
check "(a) the holder was still open after the passes" 1 "$open"
check "(a) while ids were held uncommitted, the watermark stayed below them" t \
  "$(q "SELECT $seen < (SELECT min(e.id) FROM workorder.order_events e JOIN workorder.orders o ON o.id = e.order_id
                        WHERE o.channel_ref = 'gen-1')")"
check "(a) the later batch was committed before the held one" t \
  "$(q "SELECT (SELECT min(id) FROM workorder.order_events) < (SELECT min(e.id) FROM workorder.order_events e
           JOIN workorder.orders o ON o.id = e.order_id WHERE o.channel_ref = 'gen-1001')")"
catch_up
check "(a) after the commit, the watermark reaches the newest event" 0 "$?"
# (An assignment that a reassign, a merge or a cancel ended before anything else
# happened to the order is taken back.)
check "(a) the scores count the assignments of both batches" \
  "$(q "SELECT count(*) FROM workorder.order_events a
         WHERE a.action IN ('dispatch', 'reassign', 'reopen') AND a.unit_code IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM workorder.order_events q
                            WHERE q.order_id = a.order_id AND q.seq > a.seq AND q.action IN ('reassign', 'merge', 'cancel')
                              AND NOT EXISTS (SELECT 1 FROM workorder.order_events r
                                               WHERE r.order_id = a.order_id AND r.seq > a.seq AND r.seq < q.seq
                                                 AND r.action IN ('resolve', 'return', 'merge', 'cancel', 'dispatch', 'reassign', 'reopen')))")" \
  "$(q "SELECT sum(orders_assigned) FROM workorder.unit_scores WHERE period_kind = 'day'")"
check "(a) incremental rows equal a full recompute" 0 "$(differences)"

# (c) An older transaction T1 (an xid, no events) and a younger T2 (events) are both
# open when a pass takes its mark; T1 commits first.  The snapshot xmin then passes
# T1 while T2 still runs (its xid above any snapshot xmax taken before it ended):
# the mark must still not count as final.
hold "t1_$$" -c "SELECT pg_current_xact_id()"
t1=$!
wait_held "t1_$$"
hold "t2_$$" -v first=2001 -v orders=100 -v first_day=2026-08-01 -v days=30 -v seed=0.3 -f "$history"
t2=$!
wait_held "t2_$$"
q "SELECT workorder.run_task('score_update')" >/dev/null
release "t1_$$"
wait "$t1"
seen=0
for i in 1 2 3 4; do
  q "SELECT workorder.run_task('score_update')" >/dev/null
  seen=$(q "SELECT greatest($seen, processed_through) FROM workorder.score_progress")
done
release "t2_$$"
wait "$t2"
check "(c) the watermark stayed below the events of the younger open transaction" t \
  "$(q "SELECT $seen < (SELECT min(e.id) FROM workorder.order_events e JOIN workorder.orders o ON o.id = e.order_id
                        WHERE o.channel_ref = 'gen-2001')")"
catch_up
check "(c) after its commit, incremental rows equal a full recompute" 0 "$(differences)"

# (d) Another database's open transaction (an xid, as a connector or an ETL job
# left idle in transaction there) does not stop the scores of this one.
hold_db=postgres hold "other_db_$$" -c "SELECT pg_current_xact_id()"
other=$!
wait_held "other_db_$$"
batch 3001 50 2026-08-01 30 0.4
catch_up
caught=$?
open=$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'other_db_$$' AND backend_xid IS NOT NULL")
release "other_db_$$"
wait "$other"
check "(d) the other database's transaction held an xid all along" 1 "$open"
check "(d) the watermark reached the newest event while it was open" 0 "$caught"
# A prepared transaction of this database runs, with no backend, until COMMIT
# PREPARED: its events are not final while later ones commit.
check "(d) the cluster allows prepared transactions (scripts/cluster.sh)" t \
  "$(q "SELECT current_setting('max_prepared_transactions')::integer > 0")"
# (The generated batches use temporary tables, which a prepared transaction may not.)
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "BEGIN" \
     -c "SELECT workorder.submit('hotline', 'prepared-' || g, '9999', 'prepared report ' || g,
                                 lon => 116.0 + g * 0.01, lat => 25.05) FROM generate_series(1, 5) g" \
     -c "PREPARE TRANSACTION 'scores_t_$$'" >/dev/null
batch 5001 50 2026-08-01 30 0.6
seen=0
for i in 1 2 3 4; do
  q "SELECT workorder.run_task('score_update')" >/dev/null
  seen=$(q "SELECT greatest($seen, processed_through) FROM workorder.score_progress")
done
q "COMMIT PREPARED 'scores_t_$$'" >/dev/null
check "(d) the watermark stayed below the events of the prepared transaction" t \
  "$(q "SELECT $seen < (SELECT min(e.id) FROM workorder.order_events e JOIN workorder.orders o ON o.id = e.order_id
                        WHERE o.channel_ref = 'prepared-1')")"
catch_up
check "(d) after COMMIT PREPARED, incremental rows equal a full recompute" 0 "$(differences)"

# (e) A pass in a REPEATABLE READ transaction (run_due_work() in a caller's
# transaction) whose snapshot is older than the commit of events below a mark: the
# mark is not final for it.  (The mark's transactions had ended when it looked, and
# the watermark passed events its snapshot could not see: never counted.)
hold "rr_writer_$$" -v first=6001 -v orders=50 -v first_day=2026-08-01 -v days=30 -v seed=0.7 -f "$history"
rr_writer=$!
wait_held "rr_writer_$$"
q "SELECT workorder.run_task('score_update')" >/dev/null   # the mark, with the writer running
( PGAPPNAME="rr_pass_$$" psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "BEGIN ISOLATION LEVEL REPEATABLE READ" \
    -c "SELECT count(*) FROM workorder.order_events" \
    -c "DO \$\$ BEGIN WHILE EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'rr_writer_$$')
                 LOOP PERFORM pg_sleep(0.05); PERFORM pg_stat_clear_snapshot(); END LOOP; END \$\$" \
    -c "SELECT workorder.run_task('score_update')" -c "SELECT workorder.run_task('score_update')" \
    -c "SELECT processed_through FROM workorder.score_progress" -c "COMMIT" >"$work/rr_pass.out" 2>&1 ) &
rr_pass=$!
wait_held "rr_pass_$$"
release "rr_writer_$$"
wait "$rr_writer"
wait "$rr_pass"
check "(e) the REPEATABLE READ passes kept the watermark below the events their snapshot could not see" t \
  "$(q "SELECT $(tail -n 1 "$work/rr_pass.out" | grep -E '^[0-9]+$' || echo -1) BETWEEN 0 AND (SELECT min(e.id) - 1 FROM workorder.order_events e
           JOIN workorder.orders o ON o.id = e.order_id WHERE o.channel_ref = 'gen-6001')")"
catch_up
check "(e) and once counted, incremental rows equal a full recompute" 0 "$(differences)"

# (b) 4 writers x 6 random batches, a score_update loop, and the worker.
q "DELETE FROM workorder.settings WHERE name = 'worker_enabled'; SELECT workorder.wake_worker()" >/dev/null
for w in 1 2 3 4; do
  (
    for b in 1 2 3 4 5 6; do
      first=$(( 10000 + w * 100000 + b * 1000 ))
      size=$(( (RANDOM % 250) + 50 ))
      day=$(date -d "2026-06-01 + $(( RANDOM % 100 )) days" +%F)
      batch "$first" "$size" "$day" $(( (RANDOM % 40) + 1 )) "0.$RANDOM" || echo "writer $w batch $b failed" >>"$work/errors"
      sleep "0.$(( RANDOM % 5 ))"
    done
  ) &
done
( while [ ! -e "$work/stop" ]; do q "SELECT workorder.run_task('score_update')" >/dev/null || echo "update failed" >>"$work/errors"; sleep 0.05; done ) &
looper=$!
wait $(jobs -p | grep -v "^$looper$")
touch "$work/stop"
wait "$looper"
check "(b) the writers and the update loop ran without errors" "" "$(cat "$work/errors" 2>/dev/null)"
catch_up
check "(b) the watermark reaches the newest event" 0 "$?"
check "(b) the counts add up to the event log (callbacks, overdue marks, resolves)" \
  "$(q "SELECT count(*) FILTER (WHERE action = 'callback') || ' ' || count(*) FILTER (WHERE action = 'overdue')
               || ' ' || count(*) FILTER (WHERE action = 'resolve') FROM workorder.order_events")" \
  "$(q "SELECT sum(callbacks) || ' ' || sum(overdue) || ' ' || sum(resolves) FROM workorder.unit_scores WHERE period_kind = 'month'")"
check "(b) incremental rows equal a full recompute, over $(q "SELECT count(*) FROM workorder.orders") orders" 0 "$(differences)"

exit $(( failed > 0 ))
