# tap.sh: what the scenario tests share for speaking TAP (and a demo database).  Source it; then
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

# demo_database DB ERRORS: creates database DB with the extension and the demo map
# (data/demo.sql of $repo); psql's errors go to the file ERRORS.  Its status is psql's.
demo_database() {
  (cd "$repo" &&
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $1" &&
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "CREATE EXTENSION workorder CASCADE" &&
    psql -X -q -v ON_ERROR_STOP=1 -v demo_no_summary=1 -d "$1" -f data/demo.sql) >/dev/null 2>"$2"
}
