# Sourced by the benchmark scripts: starts a throwaway PostgreSQL cluster on a free port of
# 127.0.0.1 (as the postgres user when run as root), exports PGHOST/PGPORT/PGUSER/BIN, and
# stops and deletes it on exit. Default server settings: the benchmarks measure real commits.
bin=${RUNNER_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$bin/initdb" ] || bin=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")
if [ ! -x "$bin/initdb" ]; then
    echo "PostgreSQL server binaries not found: run scripts/setup-tests as root" >&2
    exit 1
fi
export BIN=$bin
PGDIR=$(mktemp -d /tmp/runner-bench-pg-XXXXXX)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$PGDIR"
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$bin/initdb" -D "$PGDIR/data" -U bench --auth=trust -E UTF8 --locale=C >/dev/null
as_pg "$bin/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null
stop_cluster() { as_pg "$bin/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1; rm -rf "$PGDIR"; }
trap stop_cluster EXIT
export PGHOST=127.0.0.1 PGPORT PGUSER=bench
