#!/usr/bin/env bash
# settings_registry.t: every setting a part reads is declared in
# workorder.setting_definitions (sql/install/02_settings.sql), and every setting
# declared there is read somewhere.
#
# The settings trigger refuses a name that is not declared (WO010), so a setting
# read by code but missing from the list could never be set; and a declared name
# that nothing reads would be taken and do nothing.  A mechanical reading of the
# sources: the names passed as literals to workorder.setting() and score_number()
# (not to pg_catalog.current_setting(), which reads a server setting)
# in SQL (and in the SQL strings of the C files), and to workorder_setting(),
# dedup_setting() and ref_setting() in C; against the names of the view's VALUES
# list.  Each name on one side only is printed.
#
# Needs no cluster.  Prints TAP.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/tap.sh"

read_names=$(
  { grep -ohE "(^|[^_a-z])(setting|score_number)\('[a-z0-9_]+'" "$repo"/sql/install/*.sql "$repo"/src/*.c | sed -E "s/.*\('//; s/'$//"
    grep -ohE "\b(workorder_setting|dedup_setting|ref_setting)\(\"[a-z0-9_]+\"" "$repo"/src/*.c | sed -E 's/.*\("//; s/"$//'
  } | sort -u)
declared_names=$(sed -n '/^CREATE VIEW workorder.setting_definitions/,/^  ) AS d/p' "$repo/sql/install/02_settings.sql" |
  grep -oE "^    \('[a-z0-9_]+'" | sed -E "s/^    \('//; s/'$//" | sort -u)

check "the sources read settings (the reading of them works)" t \
  "$([ "$(printf '%s\n' "$read_names" | grep -c .)" -ge 30 ] && echo t || echo f)"
check "setting_definitions declares settings (the reading of it works)" t \
  "$([ "$(printf '%s\n' "$declared_names" | grep -c .)" -ge 30 ] && echo t || echo f)"
undeclared=$(comm -23 <(printf '%s\n' "$read_names") <(printf '%s\n' "$declared_names"))
check "every setting the sources read is declared in setting_definitions (names that are not)" "" "$(echo $undeclared)"
unread=$(comm -13 <(printf '%s\n' "$read_names") <(printf '%s\n' "$declared_names"))
check "every setting declared in setting_definitions is read by a source (names that are not)" "" "$(echo $unread)"
echo "1..$n"
[ "$failed" -eq 0 ]
