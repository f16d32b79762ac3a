#!/usr/bin/env bash
# cluster.sh starts and stops a private PostgreSQL 15 cluster for workorder: its own
# data directory, its own Unix socket directory and port, no TCP listener, and the
# extension and pg_cron preloaded.  It never touches the system cluster.
#
#   cluster.sh start DATADIR PORT [DBNAME_FOR_PG_CRON]
#   cluster.sh stop  DATADIR
#
# The socket lives in DATADIR/socket, so connect with
#   PGHOST=DATADIR/socket PGPORT=PORT PGUSER=postgres psql
# PostgreSQL refuses to run as root, so as root the server runs as 'postgres'.
set -euo pipefail

bindir=$(pg_config --bindir)
cmd=${1:?usage: cluster.sh start|stop DATADIR [PORT]}
datadir=${2:?usage: cluster.sh start|stop DATADIR [PORT]}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
start)
  port=${3:?usage: cluster.sh start DATADIR PORT}
  cron_db=${4:-postgres}
  mkdir -p "$datadir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$datadir"
  fi
  chmod 700 "$datadir"
  if [ ! -f "$datadir/pg/PG_VERSION" ]; then
    as_owner "$bindir/initdb" -D "$datadir/pg" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$datadir/initdb.log" 2>&1 || {
      cat "$datadir/initdb.log"; exit 1; }
    as_owner mkdir -p "$datadir/socket"
    as_owner tee -a "$datadir/pg/postgresql.conf" >/dev/null <<CONF
# workorder private cluster
port = $port
listen_addresses = ''
unix_socket_directories = '$datadir/socket'
shared_preload_libraries = 'workorder,pg_cron'
cron.database_name = '$cron_db'
cron.use_background_workers = on
max_worker_processes = 32
# The tests' databases with the extension come and go by the dozen; one test
# (launcher_cap.t) lowers this in a cluster of its own.
workorder.max_workers = 24
max_connections = 100
# scores.t prepares a transaction (PREPARE TRANSACTION): its events must wait.
max_prepared_transactions = 10
fsync = on
timezone = 'Asia/Shanghai'
log_line_prefix = '%m [%p] %q%a '
logging_collector = off
CONF
  fi
  as_owner "$bindir/pg_ctl" -D "$datadir/pg" -l "$datadir/server.log" -w -t 60 start >/dev/null || {
    tail -n 30 "$datadir/server.log"; exit 1; }
  ;;
stop)
  if [ -f "$datadir/pg/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" -D "$datadir/pg" -m fast -w -t 60 stop >/dev/null ||
      as_owner "$bindir/pg_ctl" -D "$datadir/pg" -m immediate stop >/dev/null || true
  fi
  ;;
*)
  echo "cluster.sh: unknown command $cmd" >&2
  exit 2
  ;;
esac
