#!/usr/bin/env bash
# submit_concurrency.t: workorder.submit() and workorder.drain_inbox() under real
# parallel sessions, on the Nanhai demo map.
#
#   (a) Retries racing each other: 8 pgbench clients submit the same (channel,
#       channel_ref) over and over.  Exactly one order is made, and every call
#       returns that order.
#   (a2) A reference reused for other reports: 8 clients each send a report of
#       its own under one reference, 10 times.  One order, the first client's;
#       its calls return it, every other call is refused with WO308.
#   (a3) Two Open311 POSTs of one idempotency_key in flight (two clients' keys
#       "1"): the second waits for the first's order, and is refused as the same
#       key after the first's commit is (WO876, naming the ticket), not with
#       submit()'s WO308, whose detail quoted the first client's description.
#   (b) Distinct reports racing each other: 8 clients x 200 reports, each with its
#       own reference, a random channel, one of that channel's category codes and a
#       random point around Nanhai.  Exactly one order per reference, every ticket
#       unique, every call returned the order of its reference, and every order has
#       exactly the events its status implies (1 for new, 2 for dispatched).
#   (c) Two drains racing each other: 2 pgbench clients call drain_inbox(50) over
#       2000 pending inbox rows (about a fifth of them bad, a tenth retries of an
#       earlier row's reference).  Every row is processed exactly once (a trigger
#       logs each row's move out of 'pending'), both sessions did part of the work,
#       the counts they return add up, and each distinct accepted reference has one
#       order of its own.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster (scripts/test.sh sets them) and
# data/demo.sql.  Prints TAP.  The scratch database is dropped however it ends.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
db="workorder_submit_conc_$$"
clients=8
same_per_client=50
distinct_per_client=200
inbox_rows=2000
bindir=$(pg_config --bindir)
pgbench="$bindir/pgbench"
work=$(mktemp -d /tmp/workorder-submit-conc.XXXXXX)

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..27"

# -- setup: the extension, the demo map, the helpers -------------------------
demo_database "$db" "$work/setup.err" &&
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>>"$work/setup.err" <<'SQL'
-- The database's background worker would drain the inbox too: here the drains are
-- the test's own, so the worker idles (it reads the setting at its next pass, which
-- wake_worker() makes happen at once).
INSERT INTO workorder.settings (name, value, description)
VALUES ('worker_enabled', 'off', 'submit_concurrency: the drains are the test''s own');
-- Random reports near each other would be merged now and then: this test is about
-- intake's idempotence and counts, dedup's is dedup_concurrency.t.
INSERT INTO workorder.settings (name, value, description)
VALUES ('dedup_enabled', 'off', 'submit_concurrency: every report is an order of its own');
SELECT workorder.wake_worker();
-- Each channel with its own category codes, numbered for a random pick.
CREATE TABLE channel_codes AS
SELECT row_number() OVER (ORDER BY channel_code, channel_category_code) AS n, channel_code, channel_category_code AS code
  FROM workorder.channel_categories;
CREATE SEQUENCE refs;
CREATE TABLE returned (phase text NOT NULL, ref text NOT NULL, order_id bigint NOT NULL);
-- report: one random realistic report, submitted, and what it returned kept.  A
-- point outside Nanhai (no fallback unit is set) or an unknown category code (1 in
-- 20) leaves the order 'new'; the rest are dispatched.
CREATE FUNCTION report(ref text, phase text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO returned
    SELECT phase, ref, (workorder.submit(c.channel_code, ref, CASE WHEN random() < 0.05 THEN 'X-UNKNOWN' ELSE c.code END,
                                         (ARRAY['路口有流动摊贩占道经营', '小区门口垃圾堆放多日无人清理', '路灯不亮，晚上很危险',
                                                '井盖松动，车辆经过有响声', '楼下餐馆油烟太大', '下雨后路面积水严重'])
                                         [1 + floor(random() * 6)::int],
                                         lon => 112.84 + random() * 0.42, lat => 22.80 + random() * 0.52)).id
      FROM channel_codes c
     WHERE c.n = (SELECT 1 + floor(random() * count(*))::int FROM channel_codes)
$$;
SQL
setup_rc=$?
check "scratch database with the extension and the demo map is set up" 0 "$setup_rc"
if [ "$setup_rc" -ne 0 ]; then
  sed 's/^/# /' "$work/setup.err" | tail -n 20
  exit 1
fi

# -- (a) one reference, 8 clients retrying it ---------------------------------
cat >"$work/same.sql" <<'SQL'
INSERT INTO returned
SELECT 'same', 'SAME-1', (workorder.submit('hotline_12345', 'SAME-1', '0301', '同一个报告，重复推送',
                                           lon => 113.15, lat => 23.03)).id;
SQL
"$pgbench" -n -c "$clients" -j "$clients" -t "$same_per_client" -f "$work/same.sql" "$db" >"$work/same.log" 2>&1
rc=$?
check "(a) pgbench: $clients clients x $same_per_client submits of one reference all succeed" 0 "$rc"
[ "$rc" -ne 0 ] && sed 's/^/# /' "$work/same.log" | tail -n 20
check "(a) exactly one order for the reference" 1 \
  "$(q "SELECT count(*) FROM workorder.orders WHERE channel_code = 'hotline_12345' AND channel_ref = 'SAME-1'")"
check "(a) every call returned" $((clients * same_per_client)) "$(q "SELECT count(*) FROM returned WHERE phase = 'same'")"
check "(a) ... that same order" "1 true" \
  "$(q "SELECT count(DISTINCT r.order_id) || ' ' || bool_and(r.order_id = o.id)
          FROM returned r, workorder.orders o
         WHERE r.phase = 'same' AND o.channel_code = 'hotline_12345' AND o.channel_ref = 'SAME-1'" | tr '|' ' ')"
check "(a) the order has its intake events once: submit and dispatch" "submit,dispatch" \
  "$(q "SELECT string_agg(e.action, ',' ORDER BY e.seq) FROM workorder.order_events e
          JOIN workorder.orders o ON o.id = e.order_id WHERE o.channel_ref = 'SAME-1'")"

# -- (a2) one reference, 8 clients each sending its own report under it ---------
# A reference reused for other reports (a counter that started again): the first
# to commit makes the order, its own retries return it, and every other client's
# report is refused (WO308), also when the two meet in flight (the INSERT's ON
# CONFLICT path), never answered with the other client's order.
q "CREATE TABLE reused (client integer, outcome text);
   CREATE FUNCTION submit_own(client integer) RETURNS text LANGUAGE plpgsql AS \$\$
   BEGIN
       RETURN (workorder.submit('hotline_12345', 'SAME-2', '0301', '第' || client || '个客户端自己的报告',
                                lon => 113.15, lat => 23.03)).description;
   EXCEPTION WHEN SQLSTATE 'WO308' THEN
       RETURN 'WO308';
   END
   \$\$;" >/dev/null
cat >"$work/reused.sql" <<'SQL'
INSERT INTO reused SELECT :client_id, submit_own(:client_id);
SQL
"$pgbench" -n -c "$clients" -j "$clients" -t 10 -f "$work/reused.sql" "$db" >"$work/reused.log" 2>&1
rc=$?
check "(a2) pgbench: $clients clients x 10 reports under one reference all end (an order or WO308)" 0 "$rc"
[ "$rc" -ne 0 ] && sed 's/^/# /' "$work/reused.log" | tail -n 20
check "(a2) exactly one order for the reference" 1 \
  "$(q "SELECT count(*) FROM workorder.orders WHERE channel_code = 'hotline_12345' AND channel_ref = 'SAME-2'")"
check "(a2) its client's calls all returned its report, every other client's were refused" "10 $(( (clients - 1) * 10 )) 0" \
  "$(q "SELECT count(*) FILTER (WHERE r.outcome = o.description) || ' ' || count(*) FILTER (WHERE r.outcome = 'WO308')
               || ' ' || count(*) FILTER (WHERE r.outcome <> o.description AND r.outcome <> 'WO308')
          FROM reused r, workorder.orders o
         WHERE o.channel_code = 'hotline_12345' AND o.channel_ref = 'SAME-2'")"

# -- (a3) two Open311 POSTs of one key in flight --------------------------------
# The first POST's session stays open, its order not committed, until the second
# waits for it; then it commits.
service=$(q "SELECT code FROM workorder.category_effective WHERE active ORDER BY code LIMIT 1")
q "SELECT workorder.load_channels('[{\"code\": \"open311\", \"name\": \"Open311\", \"kind\": \"platform\"}]');
   CREATE FUNCTION post_outcome(request jsonb) RETURNS text LANGUAGE plpgsql AS \$\$
   DECLARE
       state text;
       detail text;
   BEGIN
       RETURN (workorder.open311_post_request(request)) -> 0 ->> 'service_request_id';
   EXCEPTION WHEN OTHERS THEN
       GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
       RETURN state || ' ' || detail;
   END
   \$\$;" >/dev/null
coproc FIRST { psql -X -q -At -d "$db" 2>&1; }
first_ticket=$(session_run "${FIRST[0]}" "${FIRST[1]}" "BEGIN;
SELECT post_outcome('{\"service_code\": \"$service\", \"lat\": 23.03, \"long\": 113.15,
                      \"description\": \"张三 13812345678 家门口噪音\", \"idempotency_key\": \"1\"}');")
post_outcome_second() {
  q "SELECT post_outcome('{\"service_code\": \"$service\", \"lat\": 23.05, \"long\": 113.17,
                           \"description\": \"另一个客户端的报告\", \"idempotency_key\": \"1\"}')" >"$work/second.out" 2>&1
}
post_outcome_second &
second=$!
check "(a3) the second POST waits for the first's uncommitted order" yes "$(lock_waiters "$db" 1)"
session_run "${FIRST[0]}" "${FIRST[1]}" "COMMIT;" >/dev/null
wait "$second"
exec {FIRST[1]}>&-
check "(a3) the first POST made its request" 1 \
  "$(q "SELECT count(*) FROM workorder.orders WHERE channel_code = 'open311' AND channel_ref = '1' AND ticket::text = '$first_ticket'")"
check "(a3) the second is refused as a key used for another request, naming the ticket, not the first client's words" \
  "WO876 It made request $first_ticket, whose POST differs from this one." "$(cat "$work/second.out")"

# -- (b) distinct references, 8 clients -----------------------------------------
cat >"$work/distinct.sql" <<'SQL'
SELECT report('D-' || nextval('refs'), 'distinct');
SQL
"$pgbench" -n -c "$clients" -j "$clients" -t "$distinct_per_client" -f "$work/distinct.sql" "$db" \
  >"$work/distinct.log" 2>&1
rc=$?
total=$((clients * distinct_per_client))
check "(b) pgbench: $clients clients x $distinct_per_client reports with distinct references all succeed" 0 "$rc"
[ "$rc" -ne 0 ] && sed 's/^/# /' "$work/distinct.log" | tail -n 20
check "(b) exactly one order per reference" "$total $total" \
  "$(q "SELECT count(*) || ' ' || count(DISTINCT channel_ref) FROM workorder.orders WHERE channel_ref LIKE 'D-%'")"
check "(b) every call returned the order of its reference" "$total" \
  "$(q "SELECT count(*) FROM returned r JOIN workorder.orders o ON o.id = r.order_id AND o.channel_ref = r.ref
         WHERE r.phase = 'distinct'")"
check "(b) every ticket is unique" 0 \
  "$(q "SELECT count(*) - count(DISTINCT ticket) FROM workorder.orders")"
check "(b) every order has exactly the events its status implies, numbered 1..n" 0 \
  "$(q "SELECT count(*) FROM workorder.orders o
          LEFT JOIN LATERAL (SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi,
                                    string_agg(action, ',' ORDER BY seq) AS actions
                               FROM workorder.order_events e WHERE e.order_id = o.id) e ON true
         WHERE e.n <> o.event_count OR e.lo <> 1 OR e.hi <> e.n
            OR e.actions <> CASE o.status WHEN 'new' THEN 'submit' WHEN 'dispatched' THEN 'submit,dispatch' END")"
check "(b) no order is without events" 0 \
  "$(q "SELECT count(*) FROM workorder.orders o
         WHERE NOT EXISTS (SELECT 1 FROM workorder.order_events e WHERE e.order_id = o.id)")"
echo "# (b) $(q "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM
               (SELECT status, count(*) AS n FROM workorder.orders WHERE channel_ref LIKE 'D-%' GROUP BY status) x")"

# -- (c) two drains over 2000 pending inbox rows --------------------------------
# The worker has gone idle (it did at its pass after the setup; wait for it anyway).
for _ in $(seq 1 100); do
  [ "$(q "SELECT count(*) FROM workorder.worker_status
           WHERE datname = current_database() AND pid IS NOT NULL AND state <> 'disabled'")" = 0 ] && break
  sleep 0.1
done
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>"$work/inbox.err" <<SQL
SELECT setseed(0.5);
-- Rows: a random channel and one of its codes, a point around Nanhai; about a
-- fifth spoilt in one of 8 ways, about a tenth reusing an earlier row's reference.
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat, occurred_at, attributes, priority)
SELECT CASE WHEN bad = 1 THEN 'fax' ELSE c.channel_code END,
       CASE WHEN bad = 2 THEN NULL
            WHEN i > 10 AND random() < 0.1 THEN 'I-' || (1 + floor(random() * (i - 1)))::int
            ELSE 'I-' || i END,
       c.code,
       CASE bad WHEN 3 THEN '' WHEN 4 THEN repeat('长', 4001) ELSE '收件箱来的报告 ' || i END,
       CASE bad WHEN 5 THEN 'abc' WHEN 6 THEN 'NaN' ELSE (112.84 + random() * 0.42)::text END,
       (22.80 + random() * 0.52)::text,
       CASE WHEN bad = 7 THEN '五月一日' ELSE '2024-05-01 08:30' END,
       CASE WHEN bad = 8 THEN '{"a":' ELSE '{"source": "inbox"}' END,
       (ARRAY['low', 'normal', 'high', 'urgent', ''])[1 + floor(random() * 5)::int]
  FROM (SELECT i, CASE WHEN random() < 0.2 THEN 1 + floor(random() * 8)::int ELSE 0 END AS bad,
               1 + floor(random() * (SELECT count(*) FROM channel_codes))::int AS pick
          FROM generate_series(1, $inbox_rows) i) g
  JOIN channel_codes c ON c.n = g.pick
 ORDER BY i;
-- Every move of a row out of 'pending', by which session.
CREATE TABLE processed_log (inbox_id bigint NOT NULL, pid integer NOT NULL, state text NOT NULL);
CREATE FUNCTION log_processed() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO public.processed_log VALUES (NEW.id, pg_backend_pid(), NEW.state);
    RETURN NEW;
END
\$\$;
CREATE TRIGGER inbox_log_processed AFTER UPDATE ON workorder.inbox
    FOR EACH ROW WHEN (OLD.state = 'pending' AND NEW.state <> 'pending') EXECUTE FUNCTION log_processed();
CREATE TABLE drains (client integer NOT NULL, accepted integer NOT NULL, rejected integer NOT NULL);
CREATE TABLE orders_before AS SELECT id FROM workorder.orders;
SQL
rc=$?
check "(c) $inbox_rows inbox rows are pending" "0 $inbox_rows" \
  "$rc $(q "SELECT count(*) FROM workorder.inbox WHERE state = 'pending'")"
[ "$rc" -ne 0 ] && sed 's/^/# /' "$work/inbox.err" | tail -n 20

cat >"$work/drain.sql" <<'SQL'
INSERT INTO drains SELECT :client_id, accepted, rejected FROM workorder.drain_inbox(50);
SQL
"$pgbench" -n -c 2 -j 2 -t 30 -f "$work/drain.sql" "$db" >"$work/drain.log" 2>&1
rc=$?
check "(c) pgbench: 2 sessions x 30 drain_inbox(50) calls all succeed" 0 "$rc"
[ "$rc" -ne 0 ] && sed 's/^/# /' "$work/drain.log" | tail -n 20
check "(c) no row is left pending" 0 "$(q "SELECT count(*) FROM workorder.inbox WHERE state = 'pending'")"
check "(c) every row was processed exactly once" "$inbox_rows $inbox_rows" \
  "$(q "SELECT count(*) || ' ' || count(DISTINCT inbox_id) FROM processed_log")"
check "(c) both sessions did part of the work" 2 "$(q "SELECT count(DISTINCT pid) FROM processed_log")"
check "(c) the drains' counts add up to the rows, and to the rows' states" "$inbox_rows true" \
  "$(q "SELECT sum(accepted + rejected) || ' ' ||
               (sum(accepted) = (SELECT count(*) FROM workorder.inbox WHERE state = 'accepted')
                AND sum(rejected) = (SELECT count(*) FROM workorder.inbox WHERE state = 'rejected'))
          FROM drains")"
check "(c) every accepted row's order has its channel and reference; each distinct reference has its own order" 0 \
  "$(q "SELECT (SELECT count(*) FROM workorder.inbox i LEFT JOIN workorder.orders o ON o.id = i.order_id
                 WHERE i.state = 'accepted' AND (o.channel_code IS DISTINCT FROM i.channel
                                                 OR o.channel_ref IS DISTINCT FROM i.channel_ref))
             + (SELECT count(DISTINCT (channel, channel_ref)) - count(DISTINCT order_id)
                  FROM workorder.inbox WHERE state = 'accepted')")"
check "(c) no order was made twice: new orders = distinct accepted references" 0 \
  "$(q "SELECT (SELECT count(*) FROM workorder.orders WHERE id NOT IN (SELECT id FROM orders_before))
             - (SELECT count(DISTINCT (channel, channel_ref)) FROM workorder.inbox WHERE state = 'accepted')")"
check "(c) every rejected row has a WO-class or 22xxx code and a message" 0 \
  "$(q "SELECT count(*) FROM workorder.inbox WHERE state = 'rejected'
          AND (error_code !~ '^(WO|22)' OR coalesce(error_message, '') = '')")"
echo "# (c) $(q "SELECT string_agg(s, ', ') FROM (SELECT state || coalesce(' ' || error_code, '') || ' ' || count(*) AS s
               FROM workorder.inbox GROUP BY state, error_code ORDER BY state, error_code) x");" \
     "per session: $(q "SELECT string_agg(n::text, '/') FROM (SELECT count(*) AS n FROM processed_log GROUP BY pid) x")"

[ "$failed" -eq 0 ]
