#!/usr/bin/env bash
# fuzz.t: thousands of random and malformed calls to every function of the extension
# end in a clean answer: a result, or an error with a project SQLSTATE (class WO), or
# one of the few standard SQLSTATEs that fuzz.accepted_error() lists and explains.
# Never a crash, an internal error (XX...), another standard error, or a partial
# write (invariants checked after every call).
#
# The functions are read from pg_proc (schema workorder), so a function added later
# is fuzzed without a change here.  Functions that cannot be called directly are
# excluded with the reason (fuzz.functions): trigger functions (the other calls'
# writes fire them), functions taking `internal` (ticket_recv is fuzzed here through
# binary COPY, ticket_sortsupport through ORDER BY), and raise_error (it raises the
# SQLSTATE it is given).  The values, the classification and the invariants are in
# test/scenario/fuzz.sql; each function's batch runs in its own psql session, so that
# a crash names the function, and the seed reproduces it:
#
#   WORKORDER_FUZZ_SEED     the seed (default: 20261126; printed)
#   WORKORDER_FUZZ_CALLS    calls per function (default 30)
#   WORKORDER_FUZZ_ONLY_C   1: only functions in LANGUAGE c, no action sequences
#                           (the sanitizer job, test/scenario/sanitizer.t)
#   WORKORDER_FUZZ_TRACE    1: a NOTICE before every call (to find a crashing call)
#
# After the functions one by one, random action sequences run on real orders: each
# of 60 reports is submitted and then gets 12 actions drawn at random from every
# action function (first argument order_id, returns an order), with random actors,
# notes, units and intervals.
#
# Prints the calls per function and their outcomes, and the TAP comment
#   # summary: fuzzing: N inputs over M functions, K defects, lost 0
# (lost: partial writes or lost rows that an invariant caught).  Needs PGHOST/PGPORT/
# PGUSER of a running cluster with workorder installed.  Prints TAP.
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
seed=${WORKORDER_FUZZ_SEED:-20261126}
calls=${WORKORDER_FUZZ_CALLS:-30}
only_c=${WORKORDER_FUZZ_ONLY_C:-0}
trace=false
[ "${WORKORDER_FUZZ_TRACE:-0}" = 1 ] && trace=true
db="fuzz_test_$$"
work=$(mktemp -d /tmp/workorder-fuzz.XXXXXX)

export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

# server_up waits up to 60 s for the server to accept connections again (after a
# crash the postmaster resets every backend and recovers).
server_up() {
  for _ in $(seq 1 600); do
    psql -X -q -At -d postgres -c "SELECT 1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

echo "# fuzz seed $seed (WORKORDER_FUZZ_SEED), $calls calls per function (WORKORDER_FUZZ_CALLS)"

{ psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" &&
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" \
    -c "CREATE EXTENSION workorder CASCADE" \
    -f "$repo/test/fixtures/lifecycle_map.sql" \
    -f "$repo/test/scenario/fuzz.sql" \
    -c "SELECT fuzz.fill_pool()" &&
  # A few orders in every state the pool's order ids point at: dispatched,
  # accepted, resolved, merged; and claimed outbox messages.
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
SELECT workorder.submit('hotline', 'seed-' || i, '0301', '种子工单 ' || i, lon => 116.01 + i * 0.001, lat => 25.05)
  FROM generate_series(1, 6) i;
SELECT workorder.accept(id, 'C-990801001') FROM workorder.orders WHERE id IN (SELECT id FROM workorder.orders ORDER BY id LIMIT 4);
SELECT workorder.resolve(id, 'C-990801001', '已处理') FROM workorder.orders WHERE id IN (SELECT id FROM workorder.orders ORDER BY id LIMIT 2);
SELECT workorder.merge(max(id), min(id) + 2, 'C-990801', '重复') FROM workorder.orders;
SELECT count(*) FROM workorder.claim_outbox('hotline', 3, '1 hour', 'fuzz');
-- Inbox rows for drain_inbox, good and bad (every call starts from these).
INSERT INTO workorder.inbox (channel, channel_ref, category, description, lon, lat, occurred_at, attributes, priority)
VALUES ('hotline', 'inbox-1', '0301', '好的报告', '116.05', '25.05', NULL, NULL, NULL),
       ('hotline', 'inbox-2', '0301', '坏的经度', 'NaN', '25.05', NULL, NULL, NULL),
       ('hotline', 'inbox-3', '0301', '坏的时间', '116.05', '25.05', 'infinity', '[]', 'urgent!'),
       ('nowhere', 'inbox-4', 'x', '', '1e400', '-0', '2026-13-45', '{"a":', 'low'),
       ('hotline', 'inbox-1', '0301', '重复', '116.05', '25.05', NULL, NULL, NULL);
SQL
} >"$work/setup.log" 2>&1
rc=$?
check "a database with the extension, the lifecycle map, seed orders and the fuzzer" 0 "$rc"
if [ "$rc" -ne 0 ]; then
  sed 's/^/# /' "$work/setup.log" | tail -n 20
  exit 1
fi

# The API is what README documents: every name written as name( there.
grep -oE '[a-z_][a-z_0-9]*\(' "$repo/README.md" | tr -d '(' | sort -u |
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "\copy fuzz.documented FROM STDIN" >>"$work/setup.log" 2>&1
dropped=$(q "SELECT fuzz.check_pool()")
q "SELECT format('#   pool: %s values of %s types', count(*), count(DISTINCT typ)) FROM fuzz.pool"
if [ "$dropped" != 0 ]; then
  echo "# pool values that do not evaluate (the caller's error, dropped before any call):"
  q "SELECT format('#   %s %s: %s %s', typ, label, sqlstate, message) FROM fuzz.caller_errors ORDER BY 1"
fi
check "every pool value evaluates in the caller" 0 "$dropped"

language_filter="true"
[ "$only_c" = 1 ] && language_filter="language = 'c'"

echo "# excluded, with the reason:"
q "SELECT format('#   %s: %s', fn, excluded) FROM fuzz.functions WHERE excluded IS NOT NULL AND $language_filter ORDER BY fn::text"

mapfile -t functions < <(q "SELECT fn::text FROM fuzz.functions WHERE excluded IS NULL AND $language_filter ORDER BY fn::text")
crashes=0
: >"$work/times"
for fn in "${functions[@]}"; do
  started=$(date +%s%N)
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" \
    -c "SELECT fuzz.fuzz_function('$fn'::regprocedure, $calls, $seed, $trace)" >"$work/call.log" 2>&1
  rc=$?
  echo "$(( ($(date +%s%N) - started) / 1000000 )) $fn" >>"$work/times"
  if [ "$rc" -ne 0 ]; then
    # psql ends with 2 when the connection is lost: the backend died.
    crashes=$((crashes + 1))
    echo "# $fn: the batch ended with psql status $rc (a crash if 2); rerun with WORKORDER_FUZZ_TRACE=1:"
    sed 's/^/#   /' "$work/call.log" | tail -n 5
    server_up || { check "the server comes back after a crash" up down; exit 1; }
    psql -X -q -d "$db" -c "INSERT INTO fuzz.outcomes VALUES ('$fn', 'defect', 'crash', 1)
                            ON CONFLICT (fn, outcome, sqlstate) DO UPDATE SET calls = fuzz.outcomes.calls + 1" >/dev/null 2>&1
  fi
done

# ticket_recv through binary COPY: random byte strings of 0 to 12 bytes, and random
# 8-byte values (mostly not tickets), each a one-row binary COPY file.  Only
# PostgreSQL's own framing errors (08P01 a field shorter than the type reads,
# 22P03 a field longer) or WO001 may come back.
recv_inputs=0
recv_defects=0
if q "SELECT count(*) FROM fuzz.functions WHERE fn = 'workorder.ticket_recv(internal)'::regprocedure" | grep -qx 1; then
  q "CREATE TABLE fuzz.received (t workorder.ticket)"
  perl -e '
    my ($dir, $seed) = @ARGV;
    srand($seed);
    for my $i (1 .. 200) {
      my $len = $i <= 100 ? int(rand(13)) : 8;
      my $data = $i <= 100 ? join("", map { chr(int(rand(256))) } 1 .. $len)
               : $i <= 150 ? pack("q>", int(rand(2 ** 52)) * (rand() < 0.5 ? -1 : 1))
               : pack("q>", (20000101 + int(rand(1000000)) ) * 1000000 + int(rand(1000000)));
      open(my $f, ">:raw", "$dir/recv-$i.bin") or die;
      print $f "PGCOPY\n\377\r\n\0", pack("N", 0), pack("N", 0), pack("n", 1), pack("N", $len), $data, pack("n", 0xFFFF);
      close($f);
      print "\\copy fuzz.received FROM $dir/recv-$i.bin WITH (FORMAT binary)\n";
    }' "$work" "$seed" >"$work/recv.sql"
  recv_inputs=200
  psql -X -q -d "$db" -v VERBOSITY=verbose -c "\\set VERBOSITY verbose" -f "$work/recv.sql" >"$work/recv.log" 2>&1
  rc=$?
  recv_ok=$(q "SELECT count(*) FROM fuzz.received")
  recv_errors=$(grep -oE 'ERROR:  [0-9A-Z]{5}' "$work/recv.log" | awk '{print $2}' | sort | uniq -c | awk '{printf "%s %s, ", $2, $1}')
  recv_defects=$(grep -oE 'ERROR:  [0-9A-Z]{5}' "$work/recv.log" | awk '{print $2}' | grep -vcE '^(08P01|22P03|WO001)$')
  [ "$rc" -eq 2 ] && recv_defects=$((recv_defects + 1))
  echo "#   workorder.ticket_recv(internal) via binary COPY: $recv_inputs inputs: ok $recv_ok, ${recv_errors%, }"
  check "ticket_recv: 200 random binary inputs end in a ticket, WO001 or a framing error" 0 "$recv_defects"
  # ticket_sortsupport and the comparison functions: sort what was received and
  # random valid tickets.
  q "INSERT INTO fuzz.received SELECT workorder.make_ticket('2000-01-01'::date + (random() * 36000)::int, 1 + (random() * 999998)::int)
       FROM generate_series(1, 2000)" >/dev/null
  sorted=$(q "SELECT count(*) FROM (SELECT t FROM fuzz.received ORDER BY t) s")
  check "ticket_sortsupport: the received and 2000 random tickets sort" "$((recv_ok + 2000))" "$sorted"
fi

if [ "$only_c" != 1 ]; then
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" \
    -c "SELECT fuzz.action_sequences(60, 12, $seed, $trace)" >"$work/actions.log" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ]; then
    crashes=$((crashes + 1))
    echo "# the action sequences ended with psql status $rc:"
    sed 's/^/#   /' "$work/actions.log" | tail -n 5
    server_up || { check "the server comes back after a crash" up down; exit 1; }
  fi
  check "the action sequences ran to the end (no crash)" 0 "$rc"
fi

# The report: calls per function, and the outcomes.
echo "# calls per function (API: documented in README; ok / project WO / accepted standard / helper's standard / defect):"
q "SELECT format('#   %s%s: %s calls: ok %s, project %s%s, standard %s, helper %s%s, defect %s', o.fn,
                 CASE WHEN f.api THEN ' (API)' ELSE '' END, sum(calls),
                 coalesce(sum(calls) FILTER (WHERE outcome = 'ok'), 0),
                 coalesce(sum(calls) FILTER (WHERE outcome = 'project'), 0),
                 coalesce(' (' || string_agg(sqlstate || ' ' || calls, ', ' ORDER BY sqlstate) FILTER (WHERE outcome = 'project') || ')', ''),
                 coalesce(sum(calls) FILTER (WHERE outcome = 'standard'), 0),
                 coalesce(sum(calls) FILTER (WHERE outcome = 'helper'), 0),
                 coalesce(' (' || string_agg(sqlstate || ' ' || calls, ', ' ORDER BY sqlstate) FILTER (WHERE outcome = 'helper') || ')', ''),
                 coalesce(sum(calls) FILTER (WHERE outcome = 'defect'), 0))
     FROM fuzz.outcomes o LEFT JOIN fuzz.functions f ON f.fn::text = o.fn
    GROUP BY o.fn, f.api ORDER BY o.fn"
echo "# the slowest batches (ms for $calls calls):"
sort -rn "$work/times" | head -n 5 | sed 's/^/#   /'
echo "# accepted standard SQLSTATEs seen:"
q "SELECT format('#   %s x%s: %s', sqlstate, sum(calls), fuzz.accepted_error(sqlstate)) FROM fuzz.outcomes
    WHERE outcome = 'standard' GROUP BY sqlstate ORDER BY sqlstate"

for fn in "${functions[@]}"; do
  defects=$(q "SELECT coalesce(sum(calls), 0) FROM fuzz.outcomes WHERE fn = '$fn' AND outcome = 'defect'")
  fn_calls=$(q "SELECT coalesce(sum(calls), 0) FROM fuzz.outcomes WHERE fn = '$fn'")
  check "$fn: $fn_calls fuzzed calls, no crash, internal error, unlisted SQLSTATE or broken invariant" 0 "$defects"
  if [ "$defects" != 0 ]; then
    q "SELECT format('#   %s: %s: %s', sqlstate, message, call) FROM fuzz.defects WHERE fn = '$fn' LIMIT 5"
  fi
done
if [ "$only_c" != 1 ]; then
  defects=$(q "SELECT coalesce(sum(calls), 0) FROM fuzz.outcomes WHERE fn LIKE 'action sequence:%' AND outcome = 'defect'")
  check "the random action sequences: no internal error, unlisted SQLSTATE or broken invariant" 0 "$defects"
  [ "$defects" != 0 ] && q "SELECT format('#   %s: %s: %s', sqlstate, message, call) FROM fuzz.defects WHERE fn LIKE 'action sequence:%' LIMIT 5"
fi

inputs=$(q "SELECT coalesce(sum(calls), 0) + $recv_inputs FROM fuzz.outcomes")
nfuncs=$(q "SELECT count(DISTINCT regexp_replace(fn, '^action sequence: ', '')) FROM fuzz.outcomes")
# ticket_recv (binary COPY) and ticket_sortsupport (ORDER BY) were reached indirectly.
[ "$recv_inputs" -gt 0 ] && nfuncs=$((nfuncs + 2))
defects=$(q "SELECT coalesce(sum(calls), 0) + $recv_defects FROM fuzz.outcomes WHERE outcome = 'defect'")
lost=$(q "SELECT coalesce(sum(calls), 0) FROM fuzz.outcomes WHERE outcome = 'defect' AND sqlstate = 'invariant'")
check "no crash" 0 "$crashes"
echo "# summary: fuzzing: $inputs inputs over $nfuncs functions, $defects defects, lost $lost"
echo "1..$n"
[ "$failed" -eq 0 ]
