#!/usr/bin/env bash
# A throw-away PostgreSQL server for the backend tests, on 127.0.0.1 only, trusting local
# connections, in a temporary folder. Prints the export line the tests read:
#   eval "$(scripts/pg_test_server.sh)"     ->  KPI_XL_TEST_PG_URL=postgresql://...
# Stop it with: pg_ctl -D "$KPI_XL_TEST_PG_DIR/data" stop   (as the server's user)
# Needs Debian's postgresql package (initdb, pg_ctl). As root, the server runs as the
# 'postgres' user (PostgreSQL refuses to run as root).
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "no PostgreSQL server installed (apt-get install postgresql)" >&2; exit 1; }
port=${KPI_XL_TEST_PG_PORT:-54329}
# the first free port from there (another server, or an earlier run's, may hold it)
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
dir=$(mktemp -d /tmp/kpi-xl-pg.XXXXXX)
run() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
run "'$bin/initdb' -D '$dir/data' -A trust -U kpi_xl -E UTF8 >'$dir/initdb.log' 2>&1"
run "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=off\" start >/dev/null"
echo "export KPI_XL_TEST_PG_URL=postgresql://kpi_xl@127.0.0.1:$port/postgres KPI_XL_TEST_PG_DIR=$dir"
