#!/usr/bin/env bash
# sanitizer.t: the C code of the extension runs under AddressSanitizer and
# UndefinedBehaviorSanitizer, and they report nothing.
#
# 1. workorder.so is built again with -fsanitize=address,undefined
#    -fno-omit-frame-pointer --param asan-stack=0, in a copy of the sources (the
#    normal build and install are not touched).
# 2. A private copy of the PostgreSQL tree is made in a temporary directory: bin/
#    copied (PostgreSQL finds $libdir and its share directory relative to the real
#    path of its binary), lib/ and share/ as symbolic links to the installed files,
#    except workorder.so, which is the sanitized build.  So
#    shared_preload_libraries = 'workorder' and '$libdir/workorder' load the
#    sanitized library there, and only there.
# 3. A private cluster of that copy starts; the ASan runtime comes in with
#    workorder.so (shared_preload_libraries), ASAN_OPTIONS with detect_leaks=0
#    (PostgreSQL frees memory by context, at exit) and a log_path, UBSAN_OPTIONS with
#    a log_path.
# 4. The tests that run the C code run against it: every pg_regress test (the ticket
#    type, calendar arithmetic, deadlines, locate, the worker), the ticket and
#    calendar pgTAP tests, the fuzzer on every LANGUAGE c function (read from pg_proc,
#    so new C functions are covered; test/scenario/fuzz.t with
#    WORKORDER_FUZZ_ONLY_C=1), and worker start and stop in several databases
#    (test/scenario/worker_databases.t: CREATE/DROP EXTENSION, DROP and RENAME
#    DATABASE, a terminated worker).
# 5. The cluster is stopped (so that every process exits), and the test fails if a
#    sanitizer wrote any report.
#
# What it sees.  UBSan: everything it checks (signed overflow, shifts, array bounds
# it knows, NULL, invalid values) in our code.  ASan: every access of our code to
# our globals (the Damm table, GUC variables) and to shadow-poisoned memory.  Not
# heap overruns: those need libasan preloaded before libc, so that its allocator
# replaces malloc, and with gcc 12 / glibc 2.36 a preloaded runtime deadlocks in
# PostgreSQL's bindtextdomain() at startup (google/sanitizers#1270); and palloc'd
# chunks share a block anyway.  Nor the stack (asan-stack=0): PostgreSQL's errors
# longjmp out of our frames through an uninstrumented siglongjmp, which leaves
# their red zones poisoned and gives false reports.
#
# Needs gcc with libasan (Debian 12: libasan8, which gcc depends on) and a PostgreSQL
# 15 with workorder installed.  Uses the port WORKORDER_SANITIZER_PORT (default: PGPORT
# + 3, else 54332).  Prints TAP and the comment
#   # summary: sanitizer: ...
set -uo pipefail

repo=${WORKORDER_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
port=${WORKORDER_SANITIZER_PORT:-$(( ${PGPORT:-54329} + 3 ))}
work=$(mktemp -d /tmp/workorder-sanitizer.XXXXXX)
chmod 755 "$work"
cluster="$work/cluster"

cleanup() {
  PATH="$work/tree/bin:$PATH" bash "$repo/scripts/cluster.sh" stop "$cluster" >/dev/null 2>&1
  if [ -n "${WORKORDER_KEEP_TEST_DIR:-}" ]; then
    echo "# sanitizer directory kept in $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

. "$(dirname "$0")/tap.sh"

# 1. The sanitized build, in a copy of the sources.
build="$work/build"
mkdir -p "$build/test"
cp -r "$repo/Makefile" "$repo/workorder.control" "$repo/README.md" "$repo/src" "$repo/sql" "$repo/expected" "$repo/data" "$repo/scripts" "$build/"
cp -r "$repo/test/fixtures" "$repo/test/scenario" "$build/test/"
cp "$repo"/test/ticket_test.sql "$repo"/test/calendar_test.sql "$build/test/"
rm -f "$build"/src/*.o "$build"/*.so "$build"/*.bc
sanitize="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize=alignment --param asan-stack=0"
make -s -C "$build" PG_CFLAGS="-Wall -Wextra -Werror $sanitize" >"$work/build.log" 2>&1
rc=$?
check "workorder.so builds with -fsanitize=address,undefined" 0 "$rc"
[ "$rc" -ne 0 ] && { sed 's/^/# /' "$work/build.log" | tail -n 20; exit 1; }
# (grep without -q reads all of ldd's output: with -q it could leave first, and
# under pipefail ldd's SIGPIPE made the answer "no" now and then.)
check "the sanitized library links the ASan runtime" yes \
  "$(ldd "$build/workorder.so" | grep libasan >/dev/null && echo yes || echo no)"

# 2. A private copy of the PostgreSQL tree.  Its layout below a common prefix is the
# installed one, so the relative paths PostgreSQL computes stay right.
bindir=$(pg_config --bindir)
pkglibdir=$(pg_config --pkglibdir)
sharedir=$(pg_config --sharedir)
prefix=$bindir
while [ "${pkglibdir#"$prefix"/}" = "$pkglibdir" ] || [ "${sharedir#"$prefix"/}" = "$sharedir" ]; do
  prefix=$(dirname "$prefix")
done
[ "$prefix" = / ] && prefix=""
tree="$work/tree"
mkdir -p "$tree$(dirname "${bindir#"$prefix"}")" "$tree$(dirname "${pkglibdir#"$prefix"}")" \
         "$tree$(dirname "${sharedir#"$prefix"}")"
cp -a "$bindir" "$tree${bindir#"$prefix"}" &&
  cp -rs "$pkglibdir" "$tree${pkglibdir#"$prefix"}" &&
  cp -rs "$sharedir" "$tree${sharedir#"$prefix"}" &&
  rm -f "$tree${pkglibdir#"$prefix"}/workorder.so" &&
  cp "$build/workorder.so" "$tree${pkglibdir#"$prefix"}/workorder.so"
rc=$?
ln -s "$tree${bindir#"$prefix"}" "$tree/bin"
check "a private PostgreSQL tree with the sanitized workorder.so" 0 "$rc"
check "its pg_config points into the private tree" "$tree${pkglibdir#"$prefix"}" \
  "$("$tree/bin/pg_config" --pkglibdir)"

# 3. The cluster.  The ASan runtime comes in with workorder.so, which needs it, when
# shared_preload_libraries loads it into the postmaster (verify_asan_link_order=0
# allows that).  See the header for why it is not preloaded.
mkdir -p "$work/reports"
chmod 777 "$work/reports"
export ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:log_path=$work/reports/asan:abort_on_error=0:disable_coredump=1"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$work/reports/ubsan"
PATH="$tree/bin:$PATH" bash "$repo/scripts/cluster.sh" start "$cluster" "$port" postgres >"$work/cluster.log" 2>&1
rc=$?
check "a private cluster of that tree starts" 0 "$rc"
[ "$rc" -ne 0 ] && { sed 's/^/# /' "$work/cluster.log" | tail -n 20; exit 1; }
postmaster=$(head -n 1 "$cluster/pg/postmaster.pid")
check "the postmaster has the ASan runtime and the sanitized library mapped" "yes yes" \
  "$(grep -q libasan "/proc/$postmaster/maps" && echo yes || echo no) $(grep -q "$tree.*workorder.so" "/proc/$postmaster/maps" && echo yes || echo no)"

export PGHOST="$cluster/socket" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
export PATH="$tree/bin:$PATH"
unset LD_PRELOAD

# 4. The tests that run C code.
make -s -C "$build" installcheck >"$work/regress.log" 2>&1
rc=$?
check "pg_regress, every test, against the sanitized library ($(grep -cE '\.\.\. ok' "$work/regress.log") ok)" 0 "$rc"
[ "$rc" -ne 0 ] && grep -E '\.\.\. FAILED|\.\.\. failed' "$work/regress.log" | sed 's/^/# /'

PGOPTIONS="-c client_min_messages=warning" psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE sanitizer_tap" >/dev/null &&
  PGOPTIONS="-c client_min_messages=warning" psql -qX -v ON_ERROR_STOP=1 -d sanitizer_tap \
    -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION workorder CASCADE" >/dev/null &&
  (cd "$build" && pg_prove -d sanitizer_tap test/ticket_test.sql test/calendar_test.sql) >"$work/pgtap.log" 2>&1
rc=$?
check "pgTAP ticket and calendar tests against the sanitized library" 0 "$rc"
[ "$rc" -ne 0 ] && sed 's/^/# /' "$work/pgtap.log" | tail -n 20

WORKORDER_FUZZ_ONLY_C=1 WORKORDER_REPO="$build" bash "$build/test/scenario/fuzz.t" >"$work/fuzz.log" 2>&1
rc=$?
fuzz_summary=$(grep -m1 '^# summary: fuzzing:' "$work/fuzz.log" | sed 's/^# summary: fuzzing: //')
check "the fuzzer on every C function against the sanitized library (${fuzz_summary:-no summary})" 0 "$rc"
[ "$rc" -ne 0 ] && grep -E '^not ok|^#' "$work/fuzz.log" | sed 's/^/# /' | tail -n 30

bash "$build/test/scenario/worker_databases.t" >"$work/worker.log" 2>&1
rc=$?
check "worker start and stop in several databases against the sanitized library" 0 "$rc"
[ "$rc" -ne 0 ] && grep -E '^not ok|^#' "$work/worker.log" | sed 's/^/# /' | tail -n 30

# 5. Stop the cluster, so that every process has exited, then read the reports.
bash "$repo/scripts/cluster.sh" stop "$cluster" >/dev/null 2>&1
# A report goes to its log_path file, or, when the runtime writes before it has
# read its options, to the server's stderr: count both.
pattern='ERROR: AddressSanitizer|runtime error:'
reports=$(cat "$cluster/server.log" $(find "$work/reports" -type f) /dev/null | grep -cE "$pattern")
check "AddressSanitizer and UndefinedBehaviorSanitizer reported nothing" 0 "$reports"
if [ "$reports" -ne 0 ]; then
  for f in "$cluster/server.log" $(find "$work/reports" -type f -size +0 | head -n 3); do
    grep -qE "$pattern" "$f" || continue
    echo "# $f:"
    grep -A 12 -E "$pattern" "$f" | head -n 25 | sed 's/^/#   /'
  done
fi
# A backend that ASan aborts exits with code 1, which makes the postmaster reset
# the cluster as after a crash.
crashes=$(grep -cE 'was terminated by signal|terminating any other active server processes' "$cluster/server.log")
check "no server process died of a signal" 0 "$crashes"

c_functions=$(grep -oE 'over [0-9]+ functions' <<<"$fuzz_summary" | grep -oE '[0-9]+')
echo "# summary: sanitizer: AddressSanitizer and UBSan over ${c_functions:-0} C functions and $(grep -cE '\.\.\. ok' "$work/regress.log") regress tests, reports $reports, crashes $crashes"
echo "1..$n"
[ "$failed" -eq 0 ]
