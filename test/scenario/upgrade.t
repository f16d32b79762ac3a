#!/usr/bin/env bash
# upgrade.t: ALTER EXTENSION workorder UPDATE takes a database of the previous
# version, with its data, to the current one, and the result is the same as a
# fresh install.
#
#   (a) A database made with the previous version (its install script is kept in
#       git as it shipped) and filled through that version's API: the small intake
#       map, orders submitted (reports of one event among them, which dedup
#       merged) and acted on.  After the update its version is the current one,
#       every order and event row that was there is unchanged, explain_dedup()
#       shows what dedup saw and decided for each of them exactly as before (0.5
#       converted the record from jsonb to rows), old orders can still be acted on,
#       new ones submitted, and the worker serves it (it drains a new inbox row on
#       its own).  A connector's session that submitted before the update and
#       stays connected across it is served as the new version wants after it:
#       its duplicate of another channel's order is merged by intake, not through
#       the old schema's dedup_apply() and merge() (which a connector may not
#       call: WO951).
#   (c) A database of the last version that did not require btree_gist (0.3,
#       its secondary control file): without btree_gist the update stops and says
#       so, leaving that version in place; with it, one ALTER EXTENSION ... UPDATE
#       walks every version to the current one.
#   (b) An empty database updated from the previous version and an empty fresh
#       install have the same schema, line for line of schema_fingerprint.sql:
#       tables, columns, constraints, indexes, triggers, policies, functions with
#       their bodies, settings and privileges, enums, configuration tables, and
#       the rows each table ships with.  Any difference is printed.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder preloaded
# (scripts/test.sh sets them).  Prints TAP.  Its databases are dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
filled="upgrade_filled_$$"
updated="upgrade_updated_$$"
fresh="upgrade_fresh_$$"
chain="upgrade_chain_$$"
export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
connector="upgrade_camera_$$"
cleanup() {
  [ -n "${CAMERA_PID:-}" ] && kill "$CAMERA_PID" 2>/dev/null
  for db in "$filled" "$updated" "$fresh" "$chain"; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  done
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS $connector" >/dev/null 2>&1
}
trap cleanup EXIT

. "$here/tap.sh"

current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$repo/workorder.control")
previous=$(sed -n 's/^PREVIOUS_VERSION = //p' "$repo/Makefile")
echo "# from $previous to $current"

for db in "$filled" "$updated" "$fresh" "$chain"; do
  q postgres "CREATE DATABASE $db" >/dev/null
  q "$db" "CREATE EXTENSION postgis" >/dev/null
done
# requires_of VERSION: what a version required (its secondary control file, else
# workorder.control).
requires_of() {
  local control="$repo/workorder--$1.control"
  [ -f "$control" ] || control="$repo/workorder.control"
  sed -n "s/^requires = '\(.*\)'/\1/p" "$control"
}

# -- (a) a filled database -----------------------------------------------------
case "$(requires_of "$previous")" in *btree_gist*) q "$filled" "CREATE EXTENSION btree_gist" >/dev/null ;; esac
q "$filled" "CREATE EXTENSION workorder VERSION '$previous'" >/dev/null
check "the previous version installs" "$previous" \
  "$(q "$filled" "SELECT extversion FROM pg_extension WHERE extname = 'workorder'")"
psql -X -q -v ON_ERROR_STOP=1 -d "$filled" -f "$repo/test/fixtures/intake_map.sql" >/dev/null
q "$filled" "
  SELECT (workorder.submit('hotline', 'UP-' || g, '0301', '升级前的占道经营 ' || g,
                           lon => 121.03, lat => 31.05)).id FROM generate_series(1, 5) g;
  SELECT workorder.accept(id, main_unit, '升级前受理') FROM workorder.orders
   WHERE channel_ref IN ('UP-1', 'UP-2');" >/dev/null
# Three reports of one event, with dedup on (the map turns it off): one master, two
# merged into it, each with the check dedup recorded.
q "$filled" "
  DELETE FROM workorder.settings WHERE name = 'dedup_enabled';
  SELECT workorder.submit('hotline', 'UP-D' || g, '0301', '文华路3号门口有人占道摆摊卖水果',
                          lon => 121.031 + g * 0.00001, lat => 31.051, address => '文华路3号')
    FROM generate_series(1, 3) g;" >/dev/null
# A suspected duplicate (the merge threshold raised for it), dispatched by hand without
# a review and returned to new by its unit: the update settles its suspicion, so it is
# no longer listed for a review that was passed over.
q "$filled" "
  INSERT INTO workorder.settings VALUES ('dedup_merge_threshold', '0.99', 'upgrade.t: a suspect');
  SELECT workorder.submit('hotline', 'UP-R', '0301', '文华路3号门口有人占道摆摊', lon => 121.03101, lat => 31.051, address => '文华路3号');
  DELETE FROM workorder.settings WHERE name = 'dedup_merge_threshold';
  SELECT workorder.dispatch(id, 'C-990401', 'C-990401001') FROM workorder.orders WHERE channel_ref = 'UP-R';
  SELECT workorder.return_order(id, 'C-990401001', '不归我们管') FROM workorder.orders WHERE channel_ref = 'UP-R';" >/dev/null

# The library serves the previous version's schema until the update: there a change
# of an escalation chain does not reach the reference cache (no cache trigger on
# sla_escalation_steps before 0.5), so the orders' trigger reads the chain from the
# table, and a changed step counts at once.
check "before the update, a changed escalation step counts at once for an open order" "00:00:30" \
  "$(q "$filled" "
     INSERT INTO workorder.sla_policies (name, accept_clock, accept_amount, resolve_clock, resolve_amount)
     VALUES ('tiny', 'calendar_hours', '1 hour', 'calendar_hours', '2 hours');
     INSERT INTO workorder.sla_escalation_steps (policy, step, after, action)
     VALUES ('tiny', 1, '0', 'remind'), ('tiny', 2, '1 hour', 'supervise');
     INSERT INTO workorder.sla_priority_policies VALUES ('low', 'tiny')
         ON CONFLICT (priority) DO UPDATE SET policy = excluded.policy;
     SELECT workorder.submit('hotline', 'UP-ESC', '0301', '西南村路口有流动摊贩占道', lon => 121.02, lat => 31.05, priority => 'low');
     UPDATE workorder.sla_escalation_steps SET after = '30 seconds' WHERE policy = 'tiny' AND step = 1;
     SELECT next_escalation_at - resolve_due_at FROM workorder.orders WHERE channel_ref = 'UP-ESC';" | tail -n 1)"

# A camera connector's login, connected before the update and kept connected: its
# first report (no duplicate) prepares intake in its backend under the previous
# version.  camera SQL: runs SQL in that session and prints what it printed.
q postgres "CREATE ROLE $connector LOGIN IN ROLE workorder_intake" >/dev/null
q "$filled" "SELECT workorder.map_login('$connector', channel_code => 'camera')" >/dev/null
coproc CAMERA { psql -X -q -At -U "$connector" -d "$filled" 2>&1; }
camera() { session_run "${CAMERA[0]}" "${CAMERA[1]}" "$1"; }
check "a connector's session submits before the update" "dispatched" \
  "$(camera "SELECT (workorder.submit('camera', 'UP-CAM-1', 'vendor', '检测到占道经营', lon => 121.035, lat => 31.055)).status;")"

# The rows are compared on the columns the previous version had.
columns_of() { # columns_of DB TABLE
  q "$1" "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
           WHERE attrelid = 'workorder.$2'::regclass AND attnum > 0 AND NOT attisdropped"
}
order_columns=$(columns_of "$filled" orders)
event_columns=$(columns_of "$filled" order_events)
# The rows that were there before the update (the worker serves the database all
# along: a row it adds is not one that changed).
last_order=$(q "$filled" "SELECT max(id) FROM workorder.orders")
last_event=$(q "$filled" "SELECT max(id) FROM workorder.order_events")
digest() { # digest DB: one md5 over those order and event rows, on the old columns
  q "$1" "SELECT md5(string_agg(r, E'\n' ORDER BY r)) FROM (
            SELECT format('o %s', row($order_columns)) AS r FROM workorder.orders WHERE id <= $last_order
            UNION ALL SELECT format('e %s', row($event_columns)) FROM workorder.order_events
                       WHERE id <= $last_event) rows"
}
before=$(digest "$filled")
order_count=$(q "$filled" "SELECT count(*) FROM workorder.orders")
# explained DB: explain_dedup() of every order made before the update, one md5.  The
# row of an order that had no candidate (rank 0) counts without its reason, which
# 0.5 words otherwise (the window no longer bounds an open order).
explained() {
  q "$1" "SELECT md5(string_agg(format('%s %s', o.id, CASE WHEN e.rank = 0 THEN e.decision ELSE e::text END),
                                E'\n' ORDER BY o.id, e.rank))
            FROM workorder.orders o, LATERAL workorder.explain_dedup(o.id) e
           WHERE o.id <= $last_order AND o.channel_ref <> 'UP-R'"
}
explained_before=$(explained "$filled")
checked=$(q "$filled" "SELECT count(*) FROM workorder.dedup_checks")
check "the previous version recorded dedup checks to convert" "t" "$([ "$checked" -gt 0 ] && echo t || echo f)"

case "$(requires_of "$previous")" in *btree_gist*) ;; *) q "$filled" "CREATE EXTENSION btree_gist" >/dev/null ;; esac
# A settings row the check of the new version would refuse, written before it.
q "$filled" "INSERT INTO workorder.settings VALUES ('outbox_max_attempts', 'eight', 'a typo from before the check')" >/dev/null
update_messages=$(psql -X -q -v ON_ERROR_STOP=1 -d "$filled" -c "ALTER EXTENSION workorder UPDATE" 2>&1 >/dev/null)
check "the update names each settings row the new check would refuse, and keeps it" "1 eight" \
  "$(grep -c "WARNING:  settings row outbox_max_attempts = 'eight' would now be refused: invalid value of setting outbox_max_attempts" <<<"$update_messages") $(q "$filled" "SELECT value FROM workorder.settings WHERE name = 'outbox_max_attempts'")"
check "... and from then on refuses such a row (WO010)" "WO010" \
  "$(psql -X -q -d "$filled" -c "\\set VERBOSITY verbose" -c "UPDATE workorder.settings SET value = 'nine' WHERE name = 'outbox_max_attempts'" 2>&1 | grep -oE 'WO010' | head -1)"
q "$filled" "DELETE FROM workorder.settings WHERE name = 'outbox_max_attempts'" >/dev/null
check "the filled database is at the current version after ALTER EXTENSION ... UPDATE" "$current" \
  "$(q "$filled" "SELECT extversion FROM pg_extension WHERE extname = 'workorder'")"
check "every order and event row is unchanged ($order_count orders)" "$before" "$(digest "$filled")"
check "explain_dedup shows the same for every order ($checked dedup checks converted)" "$explained_before" \
  "$(explained "$filled")"
check "settled_at of the orders made before the update: a merged one's is its merge event's, an open one has none" \
  "true 0" \
  "$(q "$filled" "SELECT (count(*) > 0 AND bool_and(o.settled_at = (SELECT e.at FROM workorder.order_events e
                                                                   WHERE e.order_id = o.id AND e.new_status = 'merged')))::text
                        || ' ' || (SELECT count(*) FROM workorder.orders x
                                    WHERE x.id <= $last_order AND x.settled_at IS NOT NULL
                                      AND x.status IN ('new', 'dispatched', 'accepted', 'suspended'))
                   FROM workorder.orders o WHERE o.id <= $last_order AND o.status = 'merged'")"
check "a suspect dispatched and returned before the update is settled by the dispatch, and not listed for review" \
  "review dispatch 0" \
  "$(q "$filled" "SELECT c.decision || ' ' || c.review || ' ' || (SELECT count(*) FROM workorder.suspected_duplicates s WHERE s.order_id = c.order_id)
                   FROM workorder.dedup_checks c JOIN workorder.orders o ON o.id = c.order_id WHERE o.channel_ref = 'UP-R'")"
check "the events made before the update are hash-chained, and the chain verifies" "0 0" \
  "$(q "$filled" "SELECT (SELECT count(*) FROM workorder.order_events WHERE hash IS NULL OR prev_hash IS NULL)
                         || ' ' || (SELECT count(*) FROM workorder.verify_log())")"
check "an order accepted before the update can be resolved after it" "resolved" \
  "$(q "$filled" "SELECT (workorder.resolve(id, main_unit, '升级后办结')).status FROM workorder.orders
                   WHERE channel_ref = 'UP-1'")"
check "an order submitted again before the update is still found, not made twice" "t" \
  "$(q "$filled" "SELECT (workorder.submit('hotline', 'UP-3', '0301', '升级前的占道经营 3', lon => 121.03, lat => 31.05)).id
                         = (SELECT id FROM workorder.orders WHERE channel_ref = 'UP-3')")"
check "a new order can be submitted after the update" "1" \
  "$(q "$filled" "SELECT count(*) FROM (SELECT workorder.submit('hotline', 'UP-AFTER', '0301', '升级后提交',
                                                                lon => 121.03, lat => 31.05)) s")"
check "the connector's session, connected across the update, has its duplicate of a hotline order merged by intake" \
  "merged $(q "$filled" "SELECT id FROM workorder.orders WHERE channel_ref = 'UP-D1'")" \
  "$(camera "SELECT s.status || ' ' || s.master_id FROM workorder.submit('camera', 'UP-CAM-2', 'vendor', '文华路3号门口有人占道摆摊卖水果', lon => 121.03101, lat => 31.051, address => '文华路3号') s;")"
check "events written after the update continue the backfilled chains" "0" \
  "$(q "$filled" "SELECT count(*) FROM workorder.verify_log()")"

# The worker picks an inbox row written after the update up on its own, within 20 s.
q "$filled" "INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat)
             VALUES ('hotline', 'UP-INBOX-1', '0301', '升级后收件箱', '121.03', '31.05')" >/dev/null
drained=timeout
for _ in $(seq 1 200); do
  state=$(q "$filled" "SELECT state FROM workorder.inbox WHERE channel_ref = 'UP-INBOX-1'")
  if [ "$state" = accepted ]; then drained=accepted; break; fi
  sleep 0.1
done
check "the worker serves the updated database (drains its inbox row)" "accepted" "$drained"

# -- (c) from before btree_gist, through every version ----------------------------
without_btree_gist=$(for control in "$repo"/workorder--*.control; do
                       version=${control##*/workorder--}; version=${version%.control}
                       case "$(requires_of "$version")" in *btree_gist*) ;; *) echo "$version" ;; esac
                     done | sort -V | tail -n 1)
q "$chain" "CREATE EXTENSION workorder VERSION '$without_btree_gist'" >/dev/null
without=$(psql -X -q -At -d "$chain" -c "ALTER EXTENSION workorder UPDATE" 2>&1)
check "the update of $without_btree_gist without btree_gist stops, naming it" \
  'ERROR:  required extension "btree_gist" is not installed' "$without"
check "... and leaves $without_btree_gist in place" "$without_btree_gist" \
  "$(q "$chain" "SELECT extversion FROM pg_extension WHERE extname = 'workorder'")"
q "$chain" "CREATE EXTENSION btree_gist" >/dev/null
q "$chain" "ALTER EXTENSION workorder UPDATE" >/dev/null
check "with btree_gist one update takes $without_btree_gist to the current version" "$current" \
  "$(q "$chain" "SELECT extversion FROM pg_extension WHERE extname = 'workorder'")"

# -- (b) updated schema = fresh schema -------------------------------------------
q "$updated" "CREATE EXTENSION btree_gist" >/dev/null
q "$updated" "CREATE EXTENSION workorder VERSION '$previous'" >/dev/null
q "$updated" "ALTER EXTENSION workorder UPDATE" >/dev/null
q "$fresh" "CREATE EXTENSION workorder CASCADE" >/dev/null
fingerprint() { psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$here/schema_fingerprint.sql" || echo "fingerprint of $1 failed"; }
fingerprint "$updated" >"${TMPDIR:-/tmp}/upgrade_updated_$$.txt"
fingerprint "$fresh" >"${TMPDIR:-/tmp}/upgrade_fresh_$$.txt"
lines=$(wc -l <"${TMPDIR:-/tmp}/upgrade_fresh_$$.txt")
difference=$(diff "${TMPDIR:-/tmp}/upgrade_updated_$$.txt" "${TMPDIR:-/tmp}/upgrade_fresh_$$.txt")
check "an updated database and a fresh install have the same schema ($lines lines compared)" "" "$difference"
[ -n "$difference" ] && echo "$difference" | head -n 60 | sed 's/^/# /'
check "the fingerprint is not empty (it sees the extension's objects)" "t" "$([ "$lines" -gt 500 ] && echo t || echo f)"
rm -f "${TMPDIR:-/tmp}/upgrade_updated_$$.txt" "${TMPDIR:-/tmp}/upgrade_fresh_$$.txt"

echo "1..$n"
[ "$failed" -eq 0 ]
