# private_cluster.sh: what the crash tests share for running a private cluster of
# their own (a SIGKILL of the postmaster resets every database of a cluster, so
# such a test never uses the shared one).  Source it after setting
#   repo    the repository (scripts/cluster.sh)
#   db      the test's database
#   prefix  the name of the test's temporary directory, e.g. workorder-crash-load
#   port    the private cluster's port
# It makes $work (a temporary directory) and $cluster, points PGHOST/PGPORT/PGUSER
# at the cluster, defines q (one statement in $db, unaligned output) and stops the
# cluster and removes $work however the test ends.  crash_postmaster kills the
# postmaster with SIGKILL, waits for its orphaned children to leave, and starts the
# cluster again (crash recovery); it returns the start's exit status.
work=$(mktemp -d "/tmp/$prefix.XXXXXX")
chmod 755 "$work"
cluster="$work/cluster"

export PGHOST="$cluster/socket" PGPORT="$port" PGUSER=postgres
export PGOPTIONS="-c client_min_messages=warning"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

private_cluster_cleanup() {
  jobs -p | xargs -r kill 2>/dev/null
  bash "$repo/scripts/cluster.sh" stop "$cluster" >/dev/null 2>&1
  rm -rf "$work"
}
trap private_cluster_cleanup EXIT

crash_postmaster() {
  local pm children alive
  pm=$(head -n 1 "$cluster/pg/postmaster.pid")
  children=$(ps -o pid= --ppid "$pm" | tr -d ' ' | tr '\n' ' ')
  kill -9 "$pm"
  for _ in $(seq 1 200); do
    alive=0
    for c in $pm $children; do kill -0 "$c" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.05
  done
  rm -f "$cluster/pg/postmaster.pid"
  bash "$repo/scripts/cluster.sh" start "$cluster" "$port" >>"$work/restart.log" 2>&1
}
