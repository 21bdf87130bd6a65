#!/usr/bin/env bash
# Makes sure PostgreSQL server and client binaries are installed (Debian packages).
# Idempotent and silent when they are present; installs `postgresql postgresql-client`
# with apt-get otherwise (needs root, as on the project's machines and CI).
# The packaged server is NOT started: tests and the demo run their own clusters (pgcluster/).
set -euo pipefail

have_server_bins() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -d $dir ]] || continue
        if [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres \
              && -x $dir/pg_dump && -x $dir/pg_restore ]]; then
            return 0
        fi
    done
    return 1
}

if have_server_bins; then
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "ensure-postgres: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin;" \
        "install them with: sudo apt-get install -y postgresql postgresql-client" >&2
    exit 1
fi

echo "ensure-postgres: installing PostgreSQL from Debian packages..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends postgresql postgresql-client >&2

if ! have_server_bins; then
    echo "ensure-postgres: apt-get finished but initdb/pg_ctl/postgres/pg_dump/pg_restore" \
        "are still missing under /usr/lib/postgresql/*/bin" >&2
    exit 1
fi
echo "ensure-postgres: installed $(ls -d /usr/lib/postgresql/*/bin | tail -n1)" >&2
