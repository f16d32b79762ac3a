# tap.sh: what the scenario tests share for speaking TAP.  Source it; then
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
