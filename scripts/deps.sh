#!/usr/bin/env bash
# deps.sh installs what building and testing workorder needs, and nothing that is
# already there: PostgreSQL 15 with its server headers, PostGIS 3, pgTAP, pg_prove,
# pg_cron, and gcc's AddressSanitizer and UBSan runtimes.  It is idempotent and
# uses sudo only where the user is not root.
set -euo pipefail

packages=(
  postgresql-15                            # with its contrib: btree_gist (required), dblink, auto_explain (tests)
  postgresql-server-dev-15
  postgresql-15-postgis-3
  postgresql-15-pgtap
  postgresql-15-cron
  libtap-parser-sourcehandler-pgtap-perl   # pg_prove
  make gcc
  libasan8 libubsan1                       # the sanitizer job (test/scenario/sanitizer.t)
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  as_root=(sudo)
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
# The Debian package would create and start a system cluster on port 5432; we never
# use it, so keep postgresql-common from creating one on a fresh machine.
if [ ! -f /etc/postgresql-common/createcluster.conf ]; then
  "${as_root[@]}" mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | "${as_root[@]}" tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
