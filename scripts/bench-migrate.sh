#!/usr/bin/env bash
# Benchmark: runner migrate against psql applying the same migrations, each file in its own
# transaction, on the same throwaway PostgreSQL cluster in one run. Prints both wall times
# (median of N runs, each on a fresh database) and the ratio.
#
#   scripts/bench-migrate.sh [MIGRATIONS] [RUNS]      (defaults: 500 migrations, 3 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-500}
runs=${2:-3}
cargo build --release --quiet
runner=$PWD/target/release/runner
source scripts/bench/pg-cluster.sh
psql="$BIN/psql -X -q -v ON_ERROR_STOP=1"

work=$(mktemp -d)
mkdir -p "$work/migrations"
for i in $(seq 1 "$count"); do
    v=$(printf '%04d' "$i")
    printf 'CREATE TABLE t%s (id bigint PRIMARY KEY, name text NOT NULL);\nINSERT INTO t%s VALUES (1, %s);\n' "$i" "$i" "'row $i'" \
        > "$work/migrations/V${v}__table_$i.sql"
    printf 'DROP TABLE t%s;\n' "$i" > "$work/migrations/V${v}__table_$i.down.sql"
done
# psql: one session, each file in its own transaction.
for f in $(ls "$work"/migrations/V*.sql | grep -v '\.down\.sql$'); do
    printf 'BEGIN;\n\\i %s\nCOMMIT;\n' "$f"
done > "$work/psql-script.sql"

elapsed() { local s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | awk '{split($0,a," - "); printf "%.3f\n", a[1]-a[2]}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

psql_times=() runner_times=()
for r in $(seq 1 "$runs"); do
    $psql -d postgres -c "CREATE DATABASE psql_$r" -c "CREATE DATABASE runner_$r"
    psql_times+=("$(elapsed $psql -d "psql_$r" -f "$work/psql-script.sql")")
    cat > "$work/runner.toml" <<TOML
[migrations]
dialect = "postgres"
[environments.bench]
database_url = "postgres://bench@127.0.0.1:$PGPORT/runner_$r"
TOML
    runner_times+=("$(cd "$work" && elapsed "$runner" migrate --env bench)")
    applied=$($psql -d "runner_$r" -Atc "SELECT count(*) FROM runner_migrations WHERE state = 'applied'")
    [ "$applied" = "$count" ] || { echo "runner applied $applied of $count" >&2; exit 1; }
done
p=$(printf '%s\n' "${psql_times[@]}" | median)
m=$(printf '%s\n' "${runner_times[@]}" | median)
echo "migrations: $count small files (CREATE TABLE + INSERT), each in its own transaction; median of $runs runs"
echo "psql runs:   ${psql_times[*]}"
echo "runner runs: ${runner_times[*]}"
awk -v p="$p" -v m="$m" 'BEGIN { printf "psql %.3f s, runner %.3f s, ratio runner/psql %.2f (goal <= 1.30)\n", p, m, m / p }'
rm -rf "$work"
