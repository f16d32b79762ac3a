#!/usr/bin/env bash
# qualified_sql.t: the install and upgrade parts write every operator with its
# schema.
#
# A mechanical reading of sql/install/*.sql and sql/upgrade/*/*.sql (comments and string literals left
# out): every operator symbol must be inside OPERATOR(schema.op), or be one of the
# few places where the symbol is syntax and not an operator: plpgsql's := and =>
# (named arguments), UPDATE's SET column = value, GET DIAGNOSTICS x = ..., option
# lists (CREATE TYPE/OPERATOR, RAISE ... USING, SET search_path = ...), * in
# count(*) and SELECT *, a minus sign on a number; and PostGIS's <-> and &&&, whose
# schema is only known at install time (the pinned search_path finds it).  Each offending line is
# printed.  The implicit = of IN lists, IS DISTINCT FROM, CASE x WHEN and NULLIF
# relies on the pinned search_path, which is safe where pg_catalog has the operator
# for the exact types (text, numbers); test/scenario/hostile_search_path.t proves it.
# It is not safe on the extension's enums: pg_catalog's = is anyenum's, and a =
# planted in public (where PostGIS lives) on order_status matched better, in the
# functions of the owner, a superuser.  So the second check: in a function body, no
# IN list, CASE x WHEN or IS DISTINCT FROM on a status, level or priority (as a
# view's or a constraint's, bound when it was created, they are safe).
#
# Needs no cluster.  Prints TAP.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/tap.sh"

offending=$(perl -ne '
  BEGIN { $ops = qr{(?:<>|!=|<=|>=|\|\||->>|->|#>>|#>|\?\||\?&|~~\*?|!~~\*?|!~\*?|~\*|&&|@>|<@|[=<>+\-*/~?%^])}; }
  my $line = $_;
  s/--.*$//;                                   # comments
  s/E?\x27(?:[^\x27]|\x27\x27)*\x27/\x27\x27/g;  # string literals
  s/OPERATOR\s*\(\s*\w+\.[^)\s]+\s*\)/ OP /g;  # qualified operators
  s/\bworkorder\.[=<>]+/ OP /g;                # the ticket type'"'"'s own, named with its schema
  s/:=|=>/ /g;                                 # plpgsql assignment, named arguments
  s/\b\d+(?:\.\d+)?e[+-]\d+\b/0/gi;            # 1e-9
  s/(^|[(,\s]|OP\s)-\s*\d/$1 0/g;              # a negative number
  s/\(\s*\*\s*\)|\bSELECT\s+\*|\.\*|RETURNING\s+\*/ /gi;  # count(*), SELECT *, x.*
  s/^\s*(?:SET\s+)?[\w.]+\s*=(?!=)/ /i;        # SET column = (UPDATE, options), column = on a continued line
  s/(,\s*)[\w.]+\s*=(?!=)/$1 /g;               # , column = (UPDATE)
  s/\bSET\s*\([\w\s,]+\)\s*=/ /gi;             # SET (a, b) =
  s/\bSET\s+[\w.]+\s*=/ /gi;                   # SET search_path = / UPDATE ... SET x =
  s/\bDIAGNOSTICS\s+\w+\s*=/ /gi;              # GET DIAGNOSTICS x = ROW_COUNT
  s/\bUSING\s+(?:ERRCODE|MESSAGE|DETAIL|HINT)\s*=/ /gi;  # RAISE ... USING ERRCODE = / MESSAGE = / DETAIL = / HINT =
  s/<->|&&&/ /g;                               # PostGIS distance and n-D overlap: their schema is known only at install
  if (/(?<![\w\x27])$ops/) { print "$ARGV:$.: $line"; }
  close ARGV if eof;
' "$repo"/sql/install/*.sql "$repo"/sql/upgrade/*/*.sql)
check "every operator in sql/install and sql/upgrade is written OPERATOR(schema.op) (lines that are not)" 0 \
  "$(printf '%s' "$offending" | grep -c .)"
[ -z "$offending" ] || echo "$offending" | head -n 40 | sed 's/^/#   /'

enum_compared=$(perl -ne '
  my $line = $_;
  s/--.*$//;                                   # comments
  s/E?\x27(?:[^\x27]|\x27\x27)*\x27/\x27\x27/g;  # string literals
  if (/^\s*CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\b/i) { $function = 1; }
  if ($function && !$body && /\$\$/) { $body = 1; $function = 0; s/^.*?\$\$//; }
  if ($body) {
    if (/\b(?:status|level|priority)\)?\s+(?:NOT\s+)?IN\s*\(/i
        || /\bCASE\s+[\w.]*(?:status|level|priority)\s*(?:$|WHEN\b)/i
        || /\b(?:status|level|priority)\s+IS\s+(?:NOT\s+)?DISTINCT\b/i
        || /\bIS\s+(?:NOT\s+)?DISTINCT\s+FROM\s+[\w.]*(?:status|level|priority)\b/i) { print "$ARGV:$.: $line"; }
    $body = 0 if /\$\$/;
  }
  close ARGV if eof;
' "$repo"/sql/install/*.sql "$repo"/sql/upgrade/*/*.sql)
check "no function compares a status, level or priority with an implicit = (IN, CASE x WHEN, IS DISTINCT FROM): write OPERATOR(pg_catalog.=) ANY ('{...}'::type[])" 0 \
  "$(printf '%s' "$enum_compared" | grep -c .)"
[ -z "$enum_compared" ] || echo "$enum_compared" | head -n 40 | sed 's/^/#   /'
echo "1..$n"
[ "$failed" -eq 0 ]
