# tap.sh: what the scenario tests share for speaking TAP (and waiting for a state, a
# demo database, a fixture database, and a psql session kept open).  Source it; then
#   check DESCRIPTION EXPECTED ACTUAL
# prints "ok N - DESCRIPTION" when EXPECTED equals ACTUAL, else "not ok N" with both,
# and counts the tests in $n and the failures in $failed.
n=0
failed=0
check() { # check DESCRIPTION EXPECTED ACTUAL
  n=$((n + 1))
  if [ "$2" = "$3" ]; then
    echo "ok $n - $1"
  else
    echo "not ok $n - $1"
    echo "#   expected: $2"
    echo "#        got: $3"
    failed=$((failed + 1))
  fi
}

# lock_waiters DB N: polls every 50 ms, for at most 20 s, until N sessions of database
# DB wait for a lock, and prints "yes" (or "no" when they never did): how a test
# knows that the session it started is blocked where it means it to be.
lock_waiters() {
  local i
  for i in $(seq 1 400); do
    [ "$(psql -X -q -At -d "$1" -c "SELECT count(*) FROM pg_stat_activity
                                     WHERE datname = current_database() AND wait_event_type = 'Lock'" 2>/dev/null)" = "$2" ] &&
      { echo yes; return; }
    sleep 0.05
  done
  echo no
}

# wait_until SECONDS DATABASE QUERY: polls QUERY in DATABASE every 50 ms until it
# returns t, and prints how many milliseconds that took, or "timeout" after SECONDS
# (its status then 1).
wait_until() {
  local start deadline
  start=$(( $(date +%s%N) / 1000000 ))
  deadline=$((start + $1 * 1000))
  while :; do
    if [ "$(psql -X -q -At -d "$2" -c "$3" 2>/dev/null)" = t ]; then
      echo $(( $(date +%s%N) / 1000000 - start ))
      return 0
    fi
    if [ "$(( $(date +%s%N) / 1000000 ))" -ge "$deadline" ]; then
      echo timeout
      return 1
    fi
    sleep 0.05
  done
}

# demo_database DB ERRORS: creates database DB with the extension and the demo map
# (data/demo.sql of $repo); psql's errors go to the file ERRORS.  Its status is psql's.
demo_database() {
  (cd "$repo" &&
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $1" &&
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "CREATE EXTENSION workorder CASCADE" &&
    psql -X -q -v ON_ERROR_STOP=1 -v demo_no_summary=1 -d "$1" -f data/demo.sql) >/dev/null 2>"$2"
}

# fixture_database DB FIXTURE: creates database DB with the extension and loads
# test/fixtures/FIXTURE of $repo (e.g. intake_map.sql).  Its status is psql's.
fixture_database() {
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $1" >/dev/null &&
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "CREATE EXTENSION workorder CASCADE" >/dev/null &&
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$repo/test/fixtures/$2" >/dev/null
}

# session_run READ_FD WRITE_FD SQL: runs SQL in a psql session that a test keeps open
# as a coprocess (coproc NAME { psql -X -q -At -d DB 2>&1; }, then pass ${NAME[0]}
# and ${NAME[1]}) and prints what the session printed, its lines joined.  Waits at
# most a minute for each line.
session_run() {
  local line out=""
  printf '%s\n\\echo __done__\n' "$3" >&"$2"
  while IFS= read -r -t 60 line <&"$1"; do
    [ "$line" = "__done__" ] && break
    out="$out$line"
  done
  printf '%s' "$out"
}
