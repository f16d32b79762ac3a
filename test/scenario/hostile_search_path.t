#!/usr/bin/env bash
# hostile_search_path.t: the extension installs and works under a hostile
# search_path, and nothing it does is hijacked.
#
# In a fresh database, schema public (where PostGIS lives, and where anyone with
# CREATE on it could plant objects) gets test/scenario/hostile_objects.sql: for
# every function the install script calls (PostGIS unqualified, pg_catalog
# qualified) and every operator it uses, copies with the same signature and with
# one argument swapped for a near type; each raises an error beginning HIJACKED
# when called.  Then, with search_path = public, pg_catalog (public first) in
# every session, the extension is installed, more copies are planted on its own
# types, and it is used: reference data loaded, orders submitted and taken
# through every action, routes explained, the inbox drained, the outbox claimed,
# acknowledged and failed, the due work run, a handler's reads under row-level
# security, the masked view.  Nothing may say HIJACKED (client output, the
# worker's run log, the inbox's error column, the server log), and the results
# must be right.  Two controls prove the planted objects are live: plain
# queries of the test's own that do call them.  Last, a database of the previous
# version is updated (ALTER EXTENSION UPDATE) under the same conditions.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with workorder preloaded
# (scripts/test.sh sets them).  Prints TAP.  Its database is dropped at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
db="hostile_$$"
updated="hostile_updated_$$"
work=$(mktemp -d /tmp/workorder-hostile.XXXXXX)
export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $updated WITH (FORCE)" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS wo_hostile_handler_$$" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$here/tap.sh"

# What the install parts call: names followed by "(" that are not qualified
# (PostGIS, by design) and names qualified with pg_catalog; the operators they
# write as OPERATOR(pg_catalog.x).
parts="$repo"/sql/install/*.sql
unqualified=$(sed 's/--.*$//' $parts | grep -oP "(?<![\w.\"'])[A-Za-z_][A-Za-z0-9_]*(?=\()" | tr 'A-Z' 'a-z' | sort -u)
qualified=$(sed 's/--.*$//' $parts | grep -oP "pg_catalog\.\K[a-z_0-9]+(?=\()" | sort -u)
functions=$(echo $unqualified $qualified now clock_timestamp lower upper length format)
operators=$(sed 's/--.*$//' $parts | grep -oP "OPERATOR\(pg_catalog\.\K[^)]+(?=\))" | sort -u | tr '\n' ' ')

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" >/dev/null
q "CREATE EXTENSION postgis" >/dev/null && q "CREATE EXTENSION btree_gist" >/dev/null
planted=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -v phase=before -v functions="$functions" \
  -v operators="$operators" -f "$here/hostile_objects.sql" 2>&1)
echo "# planted before the install: $(echo $planted)"
n_functions=$(echo "$planted" | sed -n 's/^function //p')
n_operators=$(echo "$planted" | sed -n 's/^operator //p')
check "hostile functions are planted in public (at least 300)" yes "$([ "${n_functions:-0}" -ge 300 ] && echo yes || echo "${n_functions:-none}")"
check "hostile operators are planted in public (at least 500)" yes "$([ "${n_operators:-0}" -ge 500 ] && echo yes || echo "${n_operators:-none}")"

# hostile runs SQL in a session whose search_path puts public first, and keeps
# everything it printed.
hostile() {
  PGOPTIONS="-c client_min_messages=warning -c search_path=public,pg_catalog" \
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@" >>"$work/out" 2>&1
}

check "control: under this search_path a plain lower() of the test's own is hijacked" 1 \
  "$(PGOPTIONS="-c search_path=public,pg_catalog" psql -X -q -At -d "$db" -c "SELECT lower('X'::text)" 2>&1 | grep -c 'ERROR:  HIJACKED function lower(text)')"

hostile -c "CREATE EXTENSION workorder"
check "CREATE EXTENSION workorder under search_path = public, pg_catalog" "$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$repo/workorder.control")" \
  "$(q "SELECT extversion FROM pg_extension WHERE extname = 'workorder'")"
planted_after=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -v phase=after -f "$here/hostile_objects.sql" 2>&1)
echo "# planted on the extension's types: $(echo $planted_after)"
check "control: a comparison of two order statuses of the test's own is hijacked" 1 \
  "$(PGOPTIONS="-c search_path=public,pg_catalog" psql -X -q -At -d "$db" \
       -c "SELECT 'new'::workorder.order_status = 'new'::workorder.order_status" 2>&1 | grep -c 'ERROR:  HIJACKED')"

# Stored expressions (constraints, defaults, indexes, views, policies, triggers)
# were bound at install time: none of them may depend on a planted object.
check "no stored expression of the extension depends on a planted function or operator" "" \
  "$(q "SELECT string_agg(DISTINCT pg_describe_object(d.refclassid, d.refobjid, 0), ', ')
          FROM pg_depend d
          LEFT JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND p.oid = d.refobjid
          LEFT JOIN pg_operator o ON d.refclassid = 'pg_operator'::regclass AND o.oid = d.refobjid
         WHERE d.classid IN ('pg_constraint'::regclass, 'pg_attrdef'::regclass, 'pg_rewrite'::regclass,
                             'pg_policy'::regclass, 'pg_trigger'::regclass, 'pg_class'::regclass)
           AND (p.prosrc LIKE '%HIJACKED%' OR o.oprcode::regproc::text LIKE '%hostile_op_%')")"

# The workload, in the hostile session.  Its own SQL must not call what was
# planted either: ids travel in psql variables, and its few comparisons name
# pg_catalog's operator.
unit_sql="$repo/test/fixtures/lifecycle_map.sql"
hostile -f "$unit_sql" >/dev/null
hostile <<SQL
SELECT workorder.load_channels('[{"code": "app", "name": "随手拍", "kind": "platform", "categories": [{"code": "V", "category": "CITY_VENDOR"}]}]');
SELECT (workorder.submit('hotline', 'H-1', '0301', '占道经营', lon => 116.05, lat => 25.05,
    reporter_name => '张三', reporter_phone => '13812341234', occurred_at => pg_catalog.now(), attributes => '{"k": "v"}')).id AS vendor \gset
SELECT (workorder.submit('hotline', 'H-1', '0301', '占道经营', lon => 116.05, lat => 25.05)).id AS again \gset
SELECT (workorder.submit('app', 'A-1', 'V', '积水', location => ST_SetSRID(ST_MakePoint(116.15::float8, 25.05::float8), 4326),
    priority => 'urgent')).id AS water \gset
SELECT (workorder.submit('hotline', 'H-2', '9999', '未分类', lon => 116.05, lat => 25.06)).id AS loose \gset
SELECT (workorder.submit('hotline', 'H-3', '0301', '占道经营 重复', lon => 116.05, lat => 25.05)).id AS dup \gset
SELECT (workorder.submit('app', 'A-2', 'V', '域外', lon => 100.0, lat => 10.0)).id AS away \gset
SELECT count(*) FROM workorder.explain_route(:vendor);
SELECT count(*) FROM workorder.explain_route(:loose);
SELECT workorder.accept(:vendor, 'B-um-990801001', '签收');
SELECT workorder.suspend(:vendor, 'B-um-990801001', '等待');
SELECT workorder.resume(:vendor, 'B-um-990801001');
SELECT workorder.request_extension(:vendor, 'B-um-990801001', '2 days', '需要时间');
SELECT workorder.approve_extension(:vendor, 'C-990801');
SELECT workorder.request_extension(:vendor, 'B-um-990801001', '8 hours', '再要');
SELECT workorder.reject_extension(:vendor, 'C-990801', '不批');
SELECT workorder.supervise(:vendor, '区领导', '督办');
SELECT workorder.comment(:vendor, '区领导', '加快');
SELECT workorder.resolve(:vendor, 'B-um-990801001', '已处理');
SELECT workorder.verify(:vendor, 'C-990801', false, '未完成');
SELECT workorder.resolve(:vendor, 'B-um-990801001', '已处理完毕');
SELECT workorder.verify(:vendor, 'C-990801', true);
SELECT workorder.callback(:vendor, 'C-990801', 'satisfied');
SELECT workorder.close(:vendor, 'C-990801');
SELECT workorder.reopen(:vendor, 'C-990801', '重办');
SELECT workorder.dispatch(:loose, 'C-990801', 'D-water', '派单', ARRAY['B-um-990801001']);
SELECT workorder.reassign(:loose, 'C-990801', 'B-um-990801002', '改派');
SELECT workorder.return_order(:loose, 'B-um-990801002', '不归我管');
SELECT workorder.cancel(:loose, 'C-990801', '无效');
SELECT workorder.merge(:dup, :vendor, 'C-990801', '重复');
SELECT workorder.unmerge(:dup, 'C-990801', '不是重复');
SELECT workorder.merge(:dup, :vendor, 'C-990801', '确是重复');
SELECT count(*) FROM workorder.order_history(:vendor);
SELECT (workorder.locate(116.05, 25.05)).area_code;
SELECT count(*) FROM workorder.check_areas();
SELECT workorder.add_working_time('2026-02-13 17:00+08', '8 hours'), workorder.add_working_days(pg_catalog.now(), 5),
       workorder.working_time_between('2026-09-30 10:00+08', '2026-10-10 10:00+08');
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat, occurred_at, priority)
VALUES ('hotline', 'IN-1', '0301', '批量一', '116.05', '25.05', '2026-11-20 10:00', ' High '),
       ('app', 'IN-2', 'V', '批量二', '116.15', '25.05', NULL, NULL),
       ('hotline', 'IN-3', '0301', '', '116.05', '25.05', NULL, NULL);
SELECT workorder.drain_inbox();
SELECT count(*) FROM workorder.claim_outbox('hotline', 100, '5 minutes', 'c1');
SELECT workorder.ack_outbox(min(id), 'c1') FROM workorder.outbox WHERE channel_code OPERATOR(pg_catalog.=) 'hotline' AND state OPERATOR(pg_catalog.=) 'claimed';
SELECT workorder.fail_outbox(max(id), 'HTTP 503', 'c1') FROM workorder.outbox WHERE channel_code OPERATOR(pg_catalog.=) 'hotline' AND state OPERATOR(pg_catalog.=) 'claimed';
SELECT workorder.run_due_work();
SELECT workorder.mask_phone(reporter_phone), workorder.mask_name(reporter_name) FROM workorder.bi_orders;
SQL
# A handler, through row-level security, in the same hostile session settings.
q "CREATE ROLE wo_hostile_handler_$$ IN ROLE workorder_handler" >/dev/null
q "SELECT workorder.map_login('wo_hostile_handler_$$', 'B-um-990801002')" >/dev/null
hostile <<SQL
SET ROLE wo_hostile_handler_$$;
SELECT 'handler sees ' || count(*) FROM workorder.orders;
SELECT 'handler events ' || count(DISTINCT order_id) FROM workorder.order_events;
SELECT workorder.accept(id, 'B-um-990801002') FROM workorder.orders WHERE channel_ref OPERATOR(pg_catalog.=) 'A-1';
RESET ROLE;
SQL
hostile <<SQL
-- What runs past the actions, and compares the extension's own types or calls
-- PostGIS with an argument that needs a cast (each was hijacked: a review found
-- them, none of the above reached them): a polygon that needs repair, a place in
-- another SRID, Open311, hotspots, the daily briefing, the log's verification.
SELECT workorder.load_area('990801001009', '丙村', 'village', '990801001',
    ST_GeomFromText('POLYGON((116.01 25.01, 116.02 25.02, 116.02 25.01, 116.01 25.02, 116.01 25.01))', 4326));
SELECT (workorder.submit('hotline', 'S-1', '0301', '占道', location => ST_SetSRID(ST_MakePoint(116.17::float8, 25.17::float8), 4490))).id;
SELECT workorder.load_channels('[{"code": "open311", "name": "Open311", "kind": "platform"}]');
SELECT workorder.open311_post_request('{"service_code": "CITY_VENDOR", "lat": 25.16, "long": 116.16, "description": "摆摊", "idempotency_key": "S-2"}');
SELECT pg_catalog.jsonb_array_length(workorder.open311_requests());
SELECT pg_catalog.jsonb_array_length(workorder.open311_request(ticket::text)) FROM workorder.orders WHERE channel_ref OPERATOR(pg_catalog.=) 'H-1';
INSERT INTO workorder.hotspot_policies (category_code, min_count) VALUES ('CITY', 2);
SELECT count(*) FROM workorder.detect_hotspots();
SELECT workorder.report_daily_briefing();
SELECT count(*) FROM workorder.verify_log();
SQL

hijacks=$(grep -c 'HIJACKED' "$work/out")
check "nothing the extension ran was hijacked (client output)" 0 "$hijacks"
[ "$hijacks" -eq 0 ] || grep -m 20 'HIJACKED' "$work/out" | sed 's/^/#   /'
check "and no statement of the workload failed" "" "$(grep -m 5 -E '^(psql:.*)?(ERROR|FATAL)' "$work/out")"
check "nothing in the worker's run log says HIJACKED" 0 \
  "$(q "SELECT count(*) FROM workorder.worker_runs WHERE detail LIKE '%HIJACKED%'")"
check "nor in the inbox's error messages" 0 \
  "$(q "SELECT count(*) FROM workorder.inbox WHERE error_message LIKE '%HIJACKED%'")"

# The results are right.
check "orders: statuses and units as the actions left them" \
  "H-1 dispatched B-um-990801001|A-1 accepted B-um-990801002|H-2 cancelled -|H-3 merged -|A-2 new -" \
  "$(q "SELECT string_agg(channel_ref || ' ' || status || ' ' || coalesce(main_unit, '-'), '|' ORDER BY id)
          FROM workorder.orders WHERE channel_ref !~ '^(IN|S)-'")"
check "the report given in SRID 4490 was located" "S-1 990801002001" \
  "$(q "SELECT channel_ref || ' ' || area_code FROM workorder.orders WHERE channel_ref = 'S-1'")"
check "the Open311 POST made an order" 1 "$(q "SELECT count(*) FROM workorder.orders WHERE channel_code = 'open311'")"
check "the polygon that needed repair was loaded" 990801001009 "$(q "SELECT code FROM workorder.areas WHERE code = '990801001009'")"
check "a resubmission returned the same order" 1 \
  "$(psql -X -q -At -d "$db" -c "SELECT count(*) FROM workorder.orders WHERE channel_ref = 'H-1'")"
check "the vendor order's events are numbered without gaps" t \
  "$(q "SELECT bool_and(seq = rn) FROM (SELECT seq, row_number() OVER (ORDER BY seq) rn FROM workorder.order_events e
          JOIN workorder.orders o ON o.id = e.order_id WHERE o.channel_ref = 'H-1') x")"
check "the inbox: two rows accepted, the blank one rejected with WO303" "IN-1 accepted |IN-2 accepted |IN-3 rejected WO303" \
  "$(q "SELECT string_agg(channel_ref || ' ' || state || ' ' || coalesce(error_code, ''), '|' ORDER BY id) FROM workorder.inbox")"
check "the inbox's ' High ' became high priority" high \
  "$(q "SELECT o.priority FROM workorder.inbox i JOIN workorder.orders o ON o.id = i.order_id WHERE i.channel_ref = 'IN-1'")"
check "the outbox: one message acknowledged, one failed back to pending" "delivered 1|pending 1" \
  "$(q "SELECT string_agg(state || ' ' || n, '|' ORDER BY state) FROM (SELECT state, count(*) n FROM workorder.outbox
          WHERE state IN ('delivered') OR last_error = 'HTTP 503' GROUP BY state) x")"
check "the handler saw only its unit's orders and acted on one" "handler sees 2|handler events 2" \
  "$(grep -E '^handler (sees|events)' "$work/out" | paste -sd '|')"
check "the masked view masks" "138****1234 张*" \
  "$(q "SELECT reporter_phone || ' ' || reporter_name FROM workorder.bi_orders WHERE reporter_phone IS NOT NULL")"

# The upgrade script, too: a database of the previous version (installed before
# anything is planted: that script is frozen as it shipped) is updated under the
# hostile search_path, with the same objects planted.
previous=$(sed -n 's/^PREVIOUS_VERSION = //p' "$repo/Makefile")
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $updated" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$updated" -c "CREATE EXTENSION postgis" -c "CREATE EXTENSION btree_gist" -c "CREATE EXTENSION workorder VERSION '$previous'" >/dev/null
psql -X -q -At -v ON_ERROR_STOP=1 -d "$updated" -v phase=before -v functions="$functions" \
  -v operators="$operators" -f "$here/hostile_objects.sql" >/dev/null 2>&1
update_out=$(PGOPTIONS="-c client_min_messages=warning -c search_path=public,pg_catalog" \
  psql -X -q -At -d "$updated" -c "ALTER EXTENSION workorder UPDATE" 2>&1)
check "ALTER EXTENSION workorder UPDATE from $previous under the hostile search_path: nothing hijacked, no error" "" "$update_out"
check "and the database is at the current version" \
  "$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$repo/workorder.control")" \
  "$(psql -X -q -At -d "$updated" -c "SELECT extversion FROM pg_extension WHERE extname = 'workorder'")"

echo "1..$n"
[ "$failed" -eq 0 ]
