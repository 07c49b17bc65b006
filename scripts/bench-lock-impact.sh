#!/usr/bin/env bash
# Benchmark: what a migration waiting for a lock does to live traffic.
#
# A blocker transaction holds ACCESS SHARE on a hot table for 10 s; a migration needs ACCESS
# EXCLUSIVE on it (ALTER TABLE ... ADD COLUMN). A fixed-rate reader (pgbench -R 200, so a stall
# counts as all the late requests it causes) runs simple SELECTs on the table throughout.
# Run 1 applies the migration with psql (it queues for the lock, and every reader queues
# behind it); run 2 with runner and runner.toml at its defaults (lock_timeout 100ms, a wait
# for a gap before each attempt, retries); run 3 with runner, the gap wait off
# (gap_wait = "0s"), so every attempt queues for up to lock_timeout. Prints each run's reader
# p50/p99/max latency and whether the migration applied.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
runner=$PWD/target/release/runner
source scripts/bench/pg-cluster.sh
psql="$BIN/psql -X -q -v ON_ERROR_STOP=1"
work=$(mktemp -d)
echo 'SELECT v FROM hot WHERE id = 1 + (random() * 999)::int;' > "$work/read.sql"

run() { # mode: naive | runner | nogap
    local mode=$1 db="lock_$1"
    $psql -d postgres -c "CREATE DATABASE $db"
    $psql -d "$db" -c "CREATE TABLE hot (id int PRIMARY KEY, v text); INSERT INTO hot SELECT g, 'v' || g FROM generate_series(1, 1000) g;"
    rm -f "$work"/reader.*
    (cd "$work" && "$BIN/pgbench" -n -d "$db" -R 200 -T 14 -c 4 -j 2 -f read.sql -l --log-prefix=reader >/dev/null 2>&1) &
    local reader=$!
    sleep 1
    $psql -d "$db" -c "BEGIN; LOCK TABLE hot IN ACCESS SHARE MODE; SELECT pg_sleep(10); COMMIT;" >/dev/null &
    local blocker=$!
    sleep 1
    local start=$(date +%s.%N)
    if [ "$mode" = naive ]; then
        $psql -d "$db" -c "ALTER TABLE hot ADD COLUMN note text;" || true
    else
        mkdir -p "$work/project/migrations"
        printf 'ALTER TABLE hot ADD COLUMN note text;\n' > "$work/project/migrations/V1__add_note.sql"
        printf 'ALTER TABLE hot DROP COLUMN note;\n' > "$work/project/migrations/V1__add_note.down.sql"
        cat > "$work/project/runner.toml" <<TOML
[migrations]
dialect = "postgres"
[environments.bench]
database_url = "postgres://bench@127.0.0.1:$PGPORT/$db"
TOML
        if [ "$mode" = nogap ]; then
            printf 'gap_wait = "0s"\nlock_retries = 100\n' >> "$work/project/runner.toml"
        fi
        (cd "$work/project" && "$runner" migrate --env bench >/dev/null 2>"$work/runner.err") || true
    fi
    local took=$(echo "$(date +%s.%N) $start" | awk '{printf "%.1f", $1 - $2}')
    wait "$blocker" || true
    wait "$reader" || true
    local applied=$($psql -d "$db" -Atc "SELECT count(*) FROM information_schema.columns WHERE table_name = 'hot' AND column_name = 'note'")
    local retries=0
    [ "$mode" != naive ] && retries=$(grep -c 'lock timeout' "$work/runner.err" || true)
    # pgbench log: client tx time_us script epoch epoch_us [schedule_lag_us]; latency as the
    # client sees it at a fixed rate = time + schedule lag.
    cat "$work"/reader.* | awk '{print ($3 + $7) / 1000}' | sort -n | awk -v mode="$mode" -v applied="$applied" -v took="$took" -v retries="$retries" '
        { a[NR] = $1 }
        END {
            p50 = a[int(NR * 0.50)]; p99 = a[int(NR * 0.99)]; max = a[NR]
            printf "%-7s reads %5d  p50 %8.1f ms  p99 %8.1f ms  max %8.1f ms  migration applied: %s (after %s s, %d lock-timeout retries)\n",
                mode, NR, p50, p99, max, (applied == 1 ? "yes" : "NO"), took, retries
        }'
}

echo "blocker holds ACCESS SHARE for 10 s; reader: pgbench -R 200 on the table throughout"
run naive
run runner
run nogap
rm -rf "$work"
