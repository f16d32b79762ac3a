#!/usr/bin/env bash
# demo.sh is `make demo` and `make demo-stop`.
#
#   demo.sh start   installs what is missing, builds and installs the extension,
#                   starts (or reuses) a private cluster, loads the Nanhai demo into
#                   a fresh database workorder_demo and says how to connect
#   demo.sh stop    stops that cluster
#
# The cluster lives in .demo/cluster under the repository (git ignores /.demo/) and
# listens on port 54321 (WORKORDER_DEMO_PORT to change it) on a Unix socket only.
# As root the server runs as 'postgres', which must be able to reach the data
# directory; when it cannot (a repository under /root, say), or when the socket
# path would be too long for a Unix socket, the cluster goes to /tmp/workorder-demo.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

cmd=${1:-start}
port=${WORKORDER_DEMO_PORT:-54321}
db=workorder_demo
bindir=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)

say() { echo "demo: $*"; }

# cluster_dir picks the data directory and prints why when it is not the usual one.
cluster_dir() {
  local dir="$repo/.demo/cluster" why=""
  if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$repo/.demo"
    chmod 755 "$repo/.demo"
    if ! runuser -u postgres -- test -x "$repo/.demo" 2>/dev/null; then
      why="the 'postgres' user cannot reach $repo"
    fi
  fi
  # A Unix socket path is limited to about 107 bytes.
  if [ -z "$why" ] && [ $(( ${#dir} + ${#port} + 20 )) -gt 100 ]; then
    why="the socket path under $repo would be too long"
  fi
  if [ -n "$why" ]; then
    dir=/tmp/workorder-demo
    [ "${1:-}" = say ] && say "$why; using $dir for the cluster instead" >&2
  fi
  echo "$dir"
}

# pg_ctl refuses to run as root; the server's files belong to 'postgres' then.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# cluster runs scripts/cluster.sh from / so that 'postgres' is never left in a
# working directory it cannot enter.
cluster() {
  (cd / && bash "$repo/scripts/cluster.sh" "$@")
}

running() {
  [ -f "$1/pg/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$1/pg" status >/dev/null 2>&1
}

as_root=()
[ "$(id -u)" -ne 0 ] && as_root=(sudo)

case "$cmd" in
start)
  bash scripts/deps.sh
  say "building and installing the extension"
  make -s >/dev/null
  "${as_root[@]}" make -s install >/dev/null

  dir=$(cluster_dir say)
  # A cluster made earlier keeps the port it was made with.
  if [ -f "$dir/pg/postgresql.conf" ]; then
    made_port=$(sed -n 's/^port = \([0-9][0-9]*\).*/\1/p' "$dir/pg/postgresql.conf" | tail -n 1)
    if [ -n "$made_port" ] && [ "$made_port" != "$port" ]; then
      say "the cluster in $dir was made for port $made_port; using that port"
      port=$made_port
    fi
  fi
  sock="$dir/socket"

  # The library is preloaded: a running server keeps the one it started with, so
  # a reused cluster is restarted when the installed library has changed since.
  so="$(pg_config --pkglibdir)/workorder.so"
  stamp="$dir/workorder.so.md5"
  if running "$dir"; then
    if [ "$(md5sum <"$so")" != "$(cat "$stamp" 2>/dev/null)" ]; then
      say "restarting the cluster in $dir to load the newly built library"
      cluster stop "$dir"
      cluster start "$dir" "$port"
    else
      say "reusing the cluster already running in $dir (port $port)"
    fi
  else
    say "starting a private cluster in $dir (port $port)"
    cluster start "$dir" "$port"
  fi
  md5sum <"$so" >"$stamp"

  export PGHOST="$sock" PGPORT="$port" PGUSER=postgres
  say "creating database $db"
  psql -qX -v ON_ERROR_STOP=1 -d postgres \
    -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
    -c "CREATE DATABASE $db"
  psql -qX -v ON_ERROR_STOP=1 -d "$db" -c "SET client_min_messages = warning" \
    -c "CREATE EXTENSION workorder CASCADE"

  say "loading the Nanhai demo (data/demo.sql)"
  started=$(date +%s)
  psql -X -v ON_ERROR_STOP=1 -d "$db" -f data/demo.sql
  say "loaded in $(( $(date +%s) - started )) s"

  cat <<EOF

The Nanhai demo is running.
  connect:  psql -h $sock -p $port -U postgres $db
  stop:     make demo-stop
EOF
  ;;
stop)
  dir=$(cluster_dir)
  if running "$dir"; then
    cluster stop "$dir"
    say "stopped the cluster in $dir"
  else
    say "no demo cluster is running in $dir"
  fi
  ;;
*)
  echo "usage: demo.sh start|stop" >&2
  exit 2
  ;;
esac
