#!/usr/bin/env bash
# dump_restore.t: pg_dump -Fc of a filled database, pg_restore into a fresh one,
# and the restored database is the same and works.
#
# The source has everything a district configures and everything it records:
# the map, units, catalogue, channels and their mappings (a district and its
# center written again after their children), settings, routing
# rules, the shipped cn calendar changed by a loaded holiday plus a calendar of
# its own, a changed shipped SLA policy and a new one with its escalation chain
# and a priority mapping, a shipped escalation step deleted, a shipped policy
# deleted and made again, a background task deleted and one moved, orders in every status (one merged into a newer
# master, one whose master was written after it) with their events, outbox
# messages claimed, acknowledged and failed, and inbox rows accepted and
# rejected.  After pg_restore --single-transaction into a fresh database:
#   - every table of the extension has the same rows (an md5 of each table's
#     sorted rows), the shipped rows and the derived tables (area_pieces,
#     category_effective) included, and nothing was added by the triggers that
#     fire while the data loads (outbox messages, events, hashes);
#   - the event log's hash chain verifies;
#   - the sequences continue: a new submit gets a new id and a new ticket;
#   - the worker serves the restored database (drains an inbox row on its own).
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder preloaded
# (scripts/test.sh sets them).  Prints TAP.  Its databases are dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
source_db="dump_source_$$"
restored_db="dump_restored_$$"
work=$(mktemp -d /tmp/workorder-dump.XXXXXX)
export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
cleanup() {
  for db in "$source_db" "$restored_db" "dump_plain_$$" "dump_script_$$" "dump_inserts_$$"; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT

. "$here/tap.sh"

# -- the source ------------------------------------------------------------------
q postgres "CREATE DATABASE $source_db" >/dev/null
q "$source_db" "CREATE EXTENSION postgis; CREATE EXTENSION btree_gist; CREATE EXTENSION workorder" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$source_db" -f "$repo/test/fixtures/intake_map.sql" >/dev/null ||
  echo "# the fixture did not load"
psql -X -q -v ON_ERROR_STOP=1 -d "$source_db" >/dev/null <<'SQL' || echo "# the source did not fill"
INSERT INTO workorder.settings VALUES ('fallback_unit', 'C-990401', 'the district center takes reports from across the line');
-- The shipped cn calendar gets a holiday of its own; a calendar of our own.
SELECT * FROM workorder.load_calendar_days('cn', '[{"day": "2030-01-07", "kind": "holiday", "name": "恢复测试假日"}]');
INSERT INTO workorder.calendars (code, name, time_zone) VALUES ('night', '夜班', 'Asia/Shanghai');
INSERT INTO workorder.calendar_hours (calendar_code, isodow, starts, ends)
SELECT 'night', d, '20:00', '23:59' FROM generate_series(1, 7) d;
-- A shipped policy changed, a new policy with its chain, a priority mapping.
UPDATE workorder.sla_policies SET warn_fraction = 0.75 WHERE name = 'standard';
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('fast', 'calendar_hours', '1 hour', 'calendar_hours', '8 hours');
INSERT INTO workorder.sla_escalation_steps (policy, step, after, action)
VALUES ('fast', 1, '0 hours', 'remind'), ('fast', 2, '2 hours', 'supervise');
INSERT INTO workorder.sla_priority_policies (priority, policy) VALUES ('high', 'fast');
-- A shipped step deleted: the district does not escalate standard orders to the
-- leader.  (CREATE EXTENSION put it back on a restore, and nothing took it away.)
DELETE FROM workorder.sla_escalation_steps WHERE policy = 'standard' AND step = 4;
-- Background work changed: the district keeps its history (purge_history deleted),
-- and hotspot detection runs in the purge's place, last but one.  (Neither was
-- dumped: the purge came back on a restore.)
-- A task of its own runs first, at -990: where the restore once moved the shipped
-- purge aside when hotspot detection took its place, and the COPY failed.
DELETE FROM workorder.worker_tasks WHERE task = 'purge_history';
INSERT INTO workorder.worker_tasks (task, position, function, description)
VALUES ('early_trim', -990, 'workorder.task_trim_run_log', 'trim the run log first too');
UPDATE workorder.worker_tasks SET position = 990 WHERE task = 'detect_hotspots';
-- A shipped policy deleted, its chain with it, and made again with terms of the
-- district's own and no chain.  (CREATE EXTENSION put it back on a restore: the
-- district's terms replaced it, but the shipped chain stayed under them.)  The
-- record of a deletion is tested on its own in test/sla_test.sql.  (One transaction:
-- a category names complex.)
BEGIN;
DELETE FROM workorder.sla_policies WHERE name = 'complex';
INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
VALUES ('complex', 'calendar_hours', '2 hours', 'calendar_hours', '48 hours');
COMMIT;
-- Parents written again after their children (the district's polygon loaded again,
-- the district center's phone changed): their rows now lie after their children's
-- in the heap, and the dump must still bring them back first (it did not: WO201).
SELECT workorder.load_area(a.code, a.name, a.level, a.parent_code, a.geom) FROM workorder.areas a WHERE a.parent_code IS NULL;
SELECT workorder.load_unit('{"code": "C-990401", "phone": "0757-86000000"}');

-- Orders in every status.
CREATE FUNCTION pg_temp.report(ref text, category text DEFAULT '0301', lon float8 DEFAULT 121.03,
                               priority workorder.order_priority DEFAULT 'normal') RETURNS bigint
LANGUAGE sql AS $$
    SELECT (workorder.submit('hotline', ref, category, '恢复测试 ' || ref, lon => lon, lat => 31.05,
                             priority => priority)).id
$$;
SELECT pg_temp.report('NEW', 'unknown');                                       -- new
SELECT pg_temp.report('DISPATCHED', priority => 'high');                       -- dispatched
SELECT workorder.accept(pg_temp.report('ACCEPTED'), 'x');                      -- accepted
SELECT workorder.suspend((workorder.accept(pg_temp.report('SUSPENDED'), 'x')).id, 'x', '等待');
SELECT workorder.resolve((workorder.accept(pg_temp.report('RESOLVED'), 'x')).id, 'x', '已处理');
SELECT workorder.close((workorder.resolve((workorder.accept(pg_temp.report('CLOSED'), 'x')).id, 'x', '已处理')).id, 'x');
SELECT workorder.cancel(pg_temp.report('CANCELLED'), 'C-990401', '重复来电');
SELECT pg_temp.report('OUTSIDE', lon => 121.3);                                -- across the line
-- A report merged into a master made after it, and a master written after its duplicate.
SELECT pg_temp.report('DUP-OLD');
SELECT workorder.merge(pg_temp.report('DUP-OLD'), pg_temp.report('MASTER-NEW'), 'C-990401');
SELECT workorder.merge(pg_temp.report('DUP-2'), pg_temp.report('MASTER-NEW'), 'C-990401');
SELECT workorder.accept(pg_temp.report('MASTER-NEW'), 'x');
-- The outbox: one message acknowledged, one failed, one claimed for long.
SELECT workorder.ack_outbox(m.id, 'conn') FROM workorder.claim_outbox('hotline', 1, '1 hour', 'conn') m;
SELECT workorder.fail_outbox(m.id, 'HTTP 503', 'conn') FROM workorder.claim_outbox('hotline', 1, '1 hour', 'conn') m;
SELECT count(*) FROM workorder.claim_outbox('hotline', 1, '1 hour', 'conn');
-- The inbox: one row accepted, one rejected.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
VALUES ('hotline', 'INBOX-OK', '0301', '收件箱', '121.03', '31.05'),
       ('hotline', 'INBOX-BAD', '0301', '收件箱', 'east', '31.05');
SELECT * FROM workorder.drain_inbox(10);
SQL

# The scores are brought up to date before the dump, by the worker's own task (a
# pass takes a mark, a later one counts the events below it), so that the restored
# database's worker finds nothing left to count.
for _ in $(seq 1 100); do
  q "$source_db" "SELECT workorder.run_task('score_update')" >/dev/null
  [ "$(q "$source_db" "SELECT (SELECT processed_through FROM workorder.score_progress)
                              = (SELECT max(id) FROM workorder.order_events)")" = t ] && break
  sleep 0.1
done

# Every table of the extension, as one md5 per table of its sorted rows (the run
# log, the calendar work queue, the scores' marks, which hold transaction ids, and
# the restoring session are not data).
tables=$(q "$source_db" "
  SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_class c
    JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'workorder'
   WHERE c.relkind = 'r' AND c.relname NOT IN ('worker_runs', 'calendar_changes', 'score_marks', 'restore_sessions')")
digest() { # digest DB: "table md5" lines
  for t in $tables; do
    echo "$t $(q "$1" "SELECT count(*) || ' ' || md5(coalesce(string_agg(r::text, E'\n' ORDER BY r::text), ''))
                        FROM workorder.$t r")"
  done
}
sequences() { # sequences DB: each sequence pg_dump keeps, and its last value
  q "$1" "SELECT string_agg(sequencename || '=' || coalesce(last_value, 0), ' ' ORDER BY sequencename)
            FROM pg_sequences WHERE schemaname = 'workorder'
             AND sequencename NOT IN ('worker_runs_id_seq', 'calendar_changes_id_seq')"
}

check "the source has orders in every status" "accepted cancelled closed dispatched merged new resolved suspended" \
  "$(q "$source_db" "SELECT string_agg(DISTINCT status::text, ' ' ORDER BY status::text) FROM workorder.orders")"
check "the source's log verifies" "0" "$(q "$source_db" "SELECT count(*) FROM workorder.verify_log()")"
# pg_dump copies a table's rows in their physical order: a merged report stored
# before its master makes the restore load a row before the row it refers to.
check "the source stores a merged report before its master" "t" \
  "$(q "$source_db" "SELECT EXISTS (SELECT FROM workorder.orders d JOIN workorder.orders m ON m.id = d.master_id
                                    WHERE d.ctid < m.ctid)")"

# -- dump and restore -------------------------------------------------------------
# pg_dump warns of the self-referencing foreign keys (areas, units, categories
# and orders refer to rows of their own table); that matters to a --data-only
# dump only.  A full dump creates the extension, and with it the constraints,
# before it loads the rows, and its COPY checks them at the end of each table.
pg_dump -Fc -f "$work/source.dump" "$source_db" 2>"$work/dump.err"
check "pg_dump -Fc succeeds, with no warning but of self-referencing foreign keys" "0 " \
  "$? $(grep -v -e 'circular foreign-key constraints' -e '^pg_dump: detail: [a-z_]*$' -e '^pg_dump: hint: ' "$work/dump.err")"
before=$(digest "$source_db")
before_sequences=$(sequences "$source_db")

q postgres "CREATE DATABASE $restored_db" >/dev/null
pg_restore --single-transaction --exit-on-error -d "$restored_db" "$work/source.dump" 2>"$work/restore.err"
check "pg_restore --single-transaction into a fresh database succeeds without an error" "0 " \
  "$? $(cat "$work/restore.err")"

# A restore that is not one transaction creates the extension, which starts the
# worker, before it loads the data: while pg_restore is connected, no task runs.
plain_db="dump_plain_$$"
q postgres "CREATE DATABASE $plain_db" >/dev/null
pg_restore --exit-on-error -d "$plain_db" "$work/source.dump" 2>"$work/plain.err"
check "a plain pg_restore (one transaction per object) succeeds without an error" "0 " "$? $(cat "$work/plain.err")"
check "... and restores every table's rows the same" "" \
  "$(diff <(echo "$before") <(digest "$plain_db") | grep '^[<>]' | tr '\n' ';')"
check "... and its log verifies" "0" "$(q "$plain_db" "SELECT count(*) FROM workorder.verify_log()")"
PGAPPNAME=pg_restore psql -X -q -d "$plain_db" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
sleeper=$!
for _ in $(seq 1 100); do
  [ "$(q "$plain_db" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                        AND application_name = 'pg_restore'")" = 1 ] && break
  sleep 0.1
done
check "while pg_restore is connected to a database, its worker has no task to run" "0 $(q "$plain_db" "SELECT count(*) FROM workorder.worker_tasks")" \
  "$(q "$plain_db" "SELECT count(*) FROM workorder.due_tasks()") $(q "$plain_db" "SELECT count(*) FROM workorder.worker_tasks")"
q "$plain_db" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND application_name = 'pg_restore'" >/dev/null
wait "$sleeper" 2>/dev/null
check "... and has them again once it is gone" "$(q "$plain_db" "SELECT count(*) FROM workorder.worker_tasks")" \
  "$(q "$plain_db" "SELECT count(*) FROM workorder.due_tasks()")"
q postgres "DROP DATABASE $plain_db WITH (FORCE)" >/dev/null

# Into a database that has the extension already (README: without --exit-on-error).
# Its worker's first pass made today's row of ticket_days before pg_restore
# connected (prepare_ticket_day(), the task ticket_day, stands in for it here); the
# dump's rows then failed whole on it, and with the restored sequence beyond the
# row's numbers every submit() of the day failed (or issued tickets already given).
existing_db="dump_existing_$$"
q postgres "CREATE DATABASE $existing_db" >/dev/null
q "$existing_db" "CREATE EXTENSION workorder CASCADE" >/dev/null
# (Its numbers far from the source's: a fresh database's would be the same.  The
# table locked: the database's worker may be making the same row at that moment.)
# And a row of tomorrow, starting below the dump's numbers (one below the source's
# today): a day the dump does not have, as a dump of yesterday restored after
# midnight lacks today, whose numbers the restored sequence has passed (past 999,999
# of them, every ticket of that day failed).
check "the database with the extension has today's ticket row before the restore" "700002" \
  "$(q "$existing_db" "BEGIN; LOCK TABLE workorder.ticket_days IN EXCLUSIVE MODE;
                        DELETE FROM workorder.ticket_days; SELECT setval('workorder.ticket_number_seq', 700000);
                        SELECT workorder.prepare_ticket_day(); COMMIT;
                        SELECT first_number FROM workorder.ticket_days" | tail -n 1)"
q "$existing_db" "INSERT INTO workorder.ticket_days VALUES ((now() AT TIME ZONE 'Asia/Shanghai')::date + 1,
                    $(q "$source_db" "SELECT max(first_number) - 1 FROM workorder.ticket_days"))"
pg_restore -d "$existing_db" "$work/source.dump" 2>"$work/existing.err"
check "pg_restore into it fails only on the schema that is there already" \
  'pg_restore: error: could not execute query: ERROR:  schema "workorder" already exists' \
  "$(grep 'ERROR' "$work/existing.err")"
check "... and restores every table's rows the same (ticket_days included)" "" \
  "$(diff <(echo "$before") <(digest "$existing_db") | grep '^[<>]' | tr '\n' ';')"
check "... without the row of the later day it had made below the restored numbers" 0 \
  "$(q "$existing_db" "SELECT count(*) FROM workorder.ticket_days WHERE day > (now() AT TIME ZONE 'Asia/Shanghai')::date")"
check "... and the next ticket of today follows the restored ones" "t" \
  "$(q "$existing_db" "SELECT workorder.ticket_seq(workorder.next_ticket()) > (SELECT max(workorder.ticket_seq(ticket)) FROM workorder.orders
                        WHERE workorder.ticket_day(ticket) = (now() AT TIME ZONE 'Asia/Shanghai')::date)")"
q postgres "DROP DATABASE $existing_db WITH (FORCE)" >/dev/null

# A pg_dump script run by psql: the session that creates the extension (row_security
# off, as the script sets it) holds the worker's tasks back until it ends.  The
# script here waits, right after its CREATE EXTENSION, until the new database's
# worker is connected and has had time for passes: before, its first pass made
# today's row of ticket_days, the restored rows' COPY then failed whole on it, and
# intake stopped for the day (the restored sequence was beyond the made row's numbers).
script_db="dump_script_$$"
pg_dump -f "$work/source.sql" "$source_db" 2>/dev/null
awk '{print} /^CREATE EXTENSION IF NOT EXISTS workorder /{
       print "DO $wait$ BEGIN FOR i IN 1..300 LOOP EXIT WHEN EXISTS (SELECT FROM pg_catalog.pg_stat_activity " \
             "WHERE datname = current_database() AND backend_type = '"'"'workorder worker'"'"'); " \
             "PERFORM pg_sleep(0.1); END LOOP; PERFORM pg_sleep(3); END $wait$;"}' \
  "$work/source.sql" >"$work/source_wait.sql"
check "the script waits for the worker after creating the extension" "1" \
  "$(grep -c 'backend_type = .workorder worker' "$work/source_wait.sql")"
q postgres "CREATE DATABASE $script_db" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$script_db" -f "$work/source_wait.sql" >/dev/null 2>"$work/script.err"
check "a pg_dump script run by psql, with the worker connected, succeeds without an error" "0 " "$? $(cat "$work/script.err")"
check "... and restores every table's rows the same (ticket_days included)" "" \
  "$(diff <(echo "$before") <(digest "$script_db") | grep '^[<>]' | tr '\n' ';')"
check "... and its sequences" "$before_sequences" "$(sequences "$script_db")"
check "... having named its session in restore_sessions, and the worker serves it once the session is gone" "1 t" \
  "$(q "$script_db" "SELECT count(*) FROM workorder.restore_sessions") $(q "$script_db" "SELECT count(*) = (SELECT count(*) FROM workorder.worker_tasks) FROM workorder.due_tasks()")"
q postgres "DROP DATABASE $script_db WITH (FORCE)" >/dev/null

# pg_dump --inserts: the events come back by INSERT, which the outbox trigger took for
# actions: each made a message, whose id the restored messages then collided with,
# and delivered messages came back pending, to be sent to citizens again.  (In rows
# of a thousand per INSERT: one row per INSERT cannot restore a merged report stored
# before its master, whose foreign key a COPY checks at the end of the table.)
inserts_db="dump_inserts_$$"
pg_dump --rows-per-insert=1000 -f "$work/source_inserts.sql" "$source_db" 2>/dev/null
q postgres "CREATE DATABASE $inserts_db" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$inserts_db" -f "$work/source_inserts.sql" >/dev/null 2>"$work/inserts.err"
check "a pg_dump --inserts script run by psql succeeds without an error" "0 " "$? $(cat "$work/inserts.err")"
check "... and restores every table's rows the same (the outbox as it was)" "" \
  "$(diff <(echo "$before") <(digest "$inserts_db") | grep '^[<>]' | tr '\n' ';')"
check "... and its log verifies" "0" "$(q "$inserts_db" "SELECT count(*) FROM workorder.verify_log()")"
q postgres "DROP DATABASE $inserts_db WITH (FORCE)" >/dev/null

after=$(digest "$restored_db")
differing=$(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | tr '\n' ';')
check "every table has the same rows after the restore ($(echo "$tables" | wc -w) tables)" "" "$differing"
check "the sequences are where they were" "$before_sequences" "$(sequences "$restored_db")"
check "the restore made no outbox message, event or notification of its own" \
  "$(q "$source_db" "SELECT (SELECT count(*) FROM workorder.outbox) || ' ' || (SELECT count(*) FROM workorder.order_events)
                              || ' ' || (SELECT count(*) FROM workorder.notifications)")" \
  "$(q "$restored_db" "SELECT (SELECT count(*) FROM workorder.outbox) || ' ' || (SELECT count(*) FROM workorder.order_events)
                               || ' ' || (SELECT count(*) FROM workorder.notifications)")"
check "the restored log verifies" "0" "$(q "$restored_db" "SELECT count(*) FROM workorder.verify_log()")"
check "the changed cn calendar is restored, not the shipped one" "false 1" \
  "$(q "$restored_db" "SELECT c.shipped || ' ' || count(d.*) FROM workorder.calendars c
                         LEFT JOIN workorder.calendar_days d ON d.calendar_code = c.code AND d.day = '2030-01-07'
                        WHERE c.code = 'cn' GROUP BY c.shipped")"
check "the background tasks are the district's: no purge, hotspot detection in its place, its own task first" \
  "false 990 -990 true" \
  "$(q "$restored_db" "SELECT (SELECT count(*) > 0 FROM workorder.worker_tasks WHERE task = 'purge_history') || ' '
                              || (SELECT position FROM workorder.worker_tasks WHERE task = 'detect_hotspots') || ' '
                              || (SELECT position FROM workorder.worker_tasks WHERE task = 'early_trim') || ' '
                              || (SELECT bool_and(position > 0) FROM workorder.worker_tasks WHERE task <> 'early_trim')")"
check "the shipped policy deleted and made again is the district's, without the shipped chain" \
  "complex:02:00:00:0 steps fast standard urgent" \
  "$(q "$restored_db" "SELECT string_agg(p.name || CASE WHEN p.name = 'complex' THEN ':' || p.accept_amount || ':'
                                                         || (SELECT count(*) FROM workorder.sla_escalation_steps s
                                                              WHERE s.policy = p.name) || ' steps' ELSE '' END,
                                         ' ' ORDER BY p.name)
                         FROM workorder.sla_policies p")"
check "the derived area pieces locate as before" \
  "$(q "$source_db" "SELECT (workorder.locate(121.0502, 31.1)).area_code")" \
  "$(q "$restored_db" "SELECT (workorder.locate(121.0502, 31.1)).area_code")"

# -- the restored database works -----------------------------------------------------
check "a new submit gets a new id and a new ticket" "true true" \
  "$(q "$restored_db" "WITH made AS (SELECT * FROM workorder.submit('hotline', 'AFTER-RESTORE', '0301', '恢复后',
                                                                    lon => 121.03, lat => 31.05))
                       SELECT (made.id > (SELECT max(id) FROM workorder.orders WHERE channel_ref <> 'AFTER-RESTORE'))
                              || ' ' || NOT EXISTS (SELECT FROM workorder.orders o
                                                     WHERE o.ticket OPERATOR(workorder.=) made.ticket AND o.id <> made.id)
                         FROM made")"
check "a restored order can be acted on, and its chain continues" "resolved 0" \
  "$(q "$restored_db" "SELECT (workorder.resolve(id, 'x', '恢复后办结')).status FROM workorder.orders
                        WHERE channel_ref = 'ACCEPTED'") $(q "$restored_db" "SELECT count(*) FROM workorder.verify_log()")"
check "a resubmitted report is found, not made again" "t" \
  "$(q "$restored_db" "SELECT (workorder.submit('hotline', 'CLOSED', '0301', '恢复测试 CLOSED', lon => 121.03, lat => 31.05)).id
                              = (SELECT id FROM workorder.orders WHERE channel_ref = 'CLOSED')")"

q "$restored_db" "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
                  VALUES ('hotline', 'INBOX-AFTER', '0301', '恢复后收件箱', '121.03', '31.05')" >/dev/null
drained=timeout
for _ in $(seq 1 200); do
  state=$(q "$restored_db" "SELECT state FROM workorder.inbox WHERE channel_ref = 'INBOX-AFTER'")
  if [ "$state" = accepted ]; then drained=accepted; break; fi
  sleep 0.1
done
check "the worker serves the restored database (drains an inbox row on its own)" "accepted" "$drained"

# Loading the calendars queues their recompute (calendar_changes is a work queue
# that pg_dump leaves out); applied to deadlines computed on the same calendars, it
# moves none.
applied=timeout
for _ in $(seq 1 300); do
  if [ "$(q "$restored_db" "SELECT count(*) FROM workorder.calendar_changes")" = 0 ]; then applied=done; break; fi
  sleep 0.1
done
check "the worker applies the calendar changes the restore queued, and no deadline moves" "done 0" \
  "$applied $(q "$restored_db" "SELECT count(*) FROM workorder.order_events WHERE action = 'deadline_recomputed'")"

echo "1..$n"
[ "$failed" -eq 0 ]
