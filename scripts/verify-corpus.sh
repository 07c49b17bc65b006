#!/usr/bin/env bash
# Measures `runner verify` against pg_dump on a real corpus of PostgreSQL migrations with
# rollbacks (a runner migrations folder; convert a diesel project with
# scripts/corpus-from-diesel.sh). Fetches nothing.
#
#   scripts/verify-corpus.sh DIR
#
# Starts a throwaway PostgreSQL cluster (initdb + pg_ctl, as the postgres user when root) on a
# free port, runs `runner verify` on DIR, then the oracle: for each migration, `pg_dump -s`
# before it and after its rollback, compared. Prints runner's counts, the wall time, and every
# migration where the two disagree (none is the goal).
set -euo pipefail
dir=$(cd "${1:?usage: verify-corpus.sh DIR}" && pwd)
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin runner
runner=$PWD/target/release/runner
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
work=$(mktemp -d)
chmod 755 "$work"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$bin/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >/dev/null
as_pg "$bin/pg_ctl" -D "$work/data" -l "$work/log" -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=off" -w start >/dev/null
trap 'as_pg "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
url="postgres://postgres@127.0.0.1:$port/postgres"

start=$(date +%s.%N)
# From the scratch folder, so that no runner.toml of this checkout is picked up.
(cd "$work" && "$runner" verify --migrations-dir "$dir" --database-url "$url" --format json > "$work/runner.json") || true
cp "$work/runner.json" target/bench/verify-runner.json
end=$(date +%s.%N)
echo "runner verify: $(echo "$end - $start" | bc) s"

python3 scripts/bench/verify_oracle.py "$dir" "$bin" "$port" "$work/runner.json"
