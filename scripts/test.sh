#!/usr/bin/env bash
# test.sh is `make test`: it installs what is missing, builds and installs the
# extension, starts a throwaway private cluster and runs every test:
#   1. pg_regress   sql/*.sql against expected/*.out       (deterministic output)
#   2. pg_prove     test/*.sql, pgTAP                       (properties, bad input, permissions)
#   3. prove        test/scenario/*.t, TAP from shell       (live cluster: workers, concurrency, crashes)
# The cluster is stopped however the run ends.  Before the last line comes a summary,
# one line per area, collected from the "# summary: <area>: ..." lines that the tests
# print.  The last line is "N passed, N failed" and the exit code is non-zero when
# anything failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

as_root=()
[ "$(id -u)" -ne 0 ] && as_root=(sudo)

bash scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
make -s >/dev/null || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
"${as_root[@]}" make -s install >/dev/null || { echo "install failed"; echo "0 passed, 1 failed"; exit 1; }

work=$(mktemp -d /tmp/workorder-test.XXXXXX)
chmod 755 "$work"
port=${WORKORDER_TEST_PORT:-54329}
stop_cluster() {
  bash "$repo/scripts/cluster.sh" stop "$work/cluster" || true
  if [ -n "${WORKORDER_KEEP_TEST_DIR:-}" ]; then
    echo "test cluster kept in $work"
  else
    rm -rf "$work"
  fi
}
trap stop_cluster EXIT
trap 'exit 130' INT TERM

bash scripts/cluster.sh start "$work/cluster" "$port" workorder_cron ||
  { echo "0 passed, 1 failed"; exit 1; }

export PGHOST="$work/cluster/socket" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
export WORKORDER_CLUSTER="$work/cluster" WORKORDER_REPO="$repo"
# Every client session in the cluster's zone (Asia/Shanghai, cluster.sh), whatever
# the caller's environment says: the tests' "today" is Beijing's.  (pg_regress sets a
# PGTZ of its own.)  Exported after the start, so the server does not inherit it.
export PGTZ=Asia/Shanghai

# pg_cron's database (cron.database_name above), made now: without it pg_cron's
# launcher fails to connect and is started again every second for the whole run,
# load on the machine whose timing the tests measure.  (report_cron.t makes it if
# missing, and takes it as it is.)
PGOPTIONS="-c client_min_messages=warning" psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE workorder_cron" >/dev/null &&
PGOPTIONS="-c client_min_messages=warning" psql -qX -v ON_ERROR_STOP=1 -d workorder_cron -c "CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null ||
  echo "(the cron database workorder_cron could not be made; report_cron.t makes it)"

passed=0
failed=0

# 1. pg_regress
echo "== pg_regress"
make -s installcheck >"$work/regress.log" 2>&1
regress_rc=$?
cat "$work/regress.log" | grep -E '^(test|ok|not ok| +[0-9]+ |[[:space:]]*[a-z_0-9]+ +\.\.\.)' || true
r_ok=$(grep -cE '\.\.\. ok' "$work/regress.log")
r_bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$work/regress.log")
if [ "$regress_rc" -ne 0 ] && [ "$r_bad" -eq 0 ]; then
  r_bad=1
  tail -n 20 "$work/regress.log"
fi
if [ -f regression.diffs ] && [ "$r_bad" -gt 0 ]; then
  head -n 200 regression.diffs
fi
passed=$((passed + r_ok)); failed=$((failed + r_bad))

# 2. pgTAP, in a database of its own with the extension installed.  Its worker is
# made idle (the settings row worker_enabled, as sql/worker.sql does), and waited
# for: the tests run the tasks themselves, and a task the worker happened to be
# running at that moment made the test's run_task() skip it.
echo "== pgTAP"
PGOPTIONS="-c client_min_messages=warning" psql -qX -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS workorder_tap" \
  -c "CREATE DATABASE workorder_tap" >/dev/null &&
PGOPTIONS="-c client_min_messages=warning" psql -qX -v ON_ERROR_STOP=1 -d workorder_tap \
  -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION workorder CASCADE" \
  -c "INSERT INTO workorder.settings (name, value, description) VALUES ('worker_enabled', 'off', 'pgTAP runs the tasks itself')" \
  -c "SELECT workorder.wake_worker()" >/dev/null &&
for _ in $(seq 1 200); do
  [ "$(psql -qXAt -d workorder_tap -c "SELECT count(*) FROM workorder.worker_status
                                        WHERE datname = current_database() AND pid IS NOT NULL AND state <> 'disabled'" 2>/dev/null)" = 0 ] && break
  sleep 0.1
done
tap_files=$(ls test/*.sql 2>/dev/null)
if [ -n "$tap_files" ]; then
  pg_prove --verbose -d workorder_tap $tap_files >"$work/pgtap.log" 2>&1
  tap_rc=$?
  grep -vE '^ok [0-9]+' "$work/pgtap.log" | grep -vE '^\s*$' | head -n 300
  t_ok=$(grep -cE '^\s*ok [0-9]+' "$work/pgtap.log")
  t_bad=$(grep -cE '^\s*not ok [0-9]+' "$work/pgtap.log")
  # A file that died or ran a different number of tests than it planned fails once.
  t_died=$(grep -E '^\S.*\(Wstat: [0-9]+ Tests: [0-9]+ Failed: 0\)' "$work/pgtap.log" | wc -l)
  if [ "$tap_rc" -ne 0 ] && [ $((t_bad + t_died)) -eq 0 ]; then t_died=1; fi
  passed=$((passed + t_ok)); failed=$((failed + t_bad + t_died))
fi

# 3. Scenario tests: executables that speak TAP and use the cluster above.
echo "== scenarios"
scenario_files=$(ls test/scenario/*.t 2>/dev/null)
if [ -n "$scenario_files" ]; then
  prove --verbose $scenario_files >"$work/scenario.log" 2>&1
  s_rc=$?
  grep -vE '^ok [0-9]+' "$work/scenario.log" | grep -vE '^\s*$' | head -n 3000
  s_ok=$(grep -cE '^\s*ok [0-9]+' "$work/scenario.log")
  s_bad=$(grep -cE '^\s*not ok [0-9]+' "$work/scenario.log")
  s_died=$(grep -E '^\S.*\(Wstat: [0-9]+ Tests: [0-9]+ Failed: 0\)' "$work/scenario.log" | wc -l)
  if [ "$s_rc" -ne 0 ] && [ $((s_bad + s_died)) -eq 0 ]; then s_died=1; fi
  passed=$((passed + s_ok)); failed=$((failed + s_bad + s_died))
fi

# The summary: every "# summary: <area>: ..." line that a test printed (the rules it
# proved, the faults it injected, the inputs it fuzzed, what was lost), whatever test
# printed it, in the order the tests ran.
echo "== summary"
echo "rules proved: pg_regress ${r_ok:-0} files, pgTAP ${t_ok:-0} assertions, scenarios ${s_ok:-0} checks; failed ${failed}"
cat "$work/pgtap.log" "$work/scenario.log" 2>/dev/null | grep -E '^\s*# summary: ' | sed -E 's/^\s*# summary: //' ||
  echo "(no test printed a summary line)"

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
