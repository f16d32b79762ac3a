#!/usr/bin/env bash
# report_cron.t: pg_cron really runs a report.  In the cluster's cron database
# (cron.database_name, workorder_cron in the test cluster; made here if missing,
# with the pg_cron extension), cron.schedule_in_database() schedules
# workorder.report_daily_briefing() every minute into a scratch database with
# workorder; within 75 s (pg_cron's granularity is one minute) the snapshot row is
# there and cron.job_run_details says the run succeeded.  The job is unscheduled
# and the scratch database dropped however the script ends.
#
# Needs PGHOST/PGPORT/PGUSER of a running cluster with pg_cron preloaded.
set -uo pipefail

db="report_cron_test_$$"
job="workorder_report_test_$$"
export PGOPTIONS="-c client_min_messages=warning"

cron_db=$(psql -X -At -d postgres -c "SHOW cron.database_name" 2>/dev/null)
cron_db=${cron_db:-postgres}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
cleanup() {
  psql -X -q -At -d "$cron_db" -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = '$job'" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

echo "1..4"
if [ "$(q postgres "SELECT count(*) FROM pg_database WHERE datname = '$cron_db'")" = 0 ]; then
  q postgres "CREATE DATABASE $cron_db" >/dev/null
fi
q "$cron_db" "CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null
q postgres "CREATE DATABASE $db" >/dev/null
q "$db" "CREATE EXTENSION workorder CASCADE" >/dev/null

jobid=$(q "$cron_db" "SELECT cron.schedule_in_database('$job', '* * * * *',
                        \$\$SELECT workorder.report_daily_briefing('2026-11-20')\$\$, '$db')")
check "the report is scheduled into the scratch database" "$db" \
  "$(q "$cron_db" "SELECT database FROM cron.job WHERE jobid = $jobid")"

found=no
for i in $(seq 1 150); do
  if [ "$(q "$db" "SELECT count(*) FROM workorder.daily_briefings WHERE day = '2026-11-20'")" = 1 ]; then
    found=yes
    break
  fi
  sleep 0.5
done
check "pg_cron wrote the day's snapshot within 75 s" yes "$found"
# The run's status is written after its command commits: wait for it too (10 s).
status=none
for i in $(seq 1 20); do
  status=$(q "$cron_db" "SELECT coalesce(bool_or(status = 'succeeded'), false) FROM cron.job_run_details WHERE jobid = $jobid")
  [ "$status" = t ] && break
  sleep 0.5
done
check "the job's run succeeded" t "$status"
q "$cron_db" "SELECT cron.unschedule($jobid)" >/dev/null
check "the job is unscheduled" 0 "$(q "$cron_db" "SELECT count(*) FROM cron.job WHERE jobname = '$job'")"

exit $(( failed > 0 ))
